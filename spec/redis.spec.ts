/**
 * RedisBroker against a real redis-server (started here on a Unix socket in a
 * temp dir): every client library and protocol, two instances in one process,
 * replay from the hot tail and from Redis, gaps (trimmed, fell behind, lost in
 * a restart), restarts with and without AOF, CLIENT KILL, Redis unreachable,
 * and close() leaving nothing behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Channel } from '../lib/channel.ts';
import { ErrorCode, type SSEError } from '../lib/errors.ts';
import { RedisBroker } from '../lib/redis.ts';
import { SCRIPT, SCRIPT_SHA } from '../lib/redis-script.ts';
import { compareIds, streamsOf } from '../lib/redis-client.ts';
import type { EventStreamLike } from '../lib/types.ts';
import type { RedisBrokerOptions } from '../lib/redis.ts';
import { sub, type Sub } from './support/channel-sub.ts';
import { within } from './support/realworld.ts';
import { CLIENTS, requireRedis, startRedis, type RedisServer, type TestClient } from './support/redis.ts';

const skip = requireRedis();
let redis: RedisServer;
let admin: TestClient;
let counter = 0;
/** A channel name of its own for each test: they share one server. */
const fresh = (what: string): string => `${what}-${++counter}`;

interface Instance {
  client: TestClient;
  broker: RedisBroker;
  channel(name: string): Channel;
  close(): Promise<void>;
}

async function instance(make: (socket: string) => Promise<TestClient> = CLIENTS['node-redis 6 (RESP3)'], options?: RedisBrokerOptions): Promise<Instance> {
  const client = await make(redis.socket);
  const broker = new RedisBroker(client.client, options);
  const channels: Channel[] = [];
  return {
    client,
    broker,
    channel(name) {
      const channel = new Channel({ name, broker });
      channels.push(channel);
      return channel;
    },
    async close() {
      for (const c of channels) c.destroy();
      await broker.close();
      await client.close();
    },
  };
}

/** Connections Redis has open, without the admin's. */
async function connections(): Promise<number> {
  const list = String(await admin.send('CLIENT', 'LIST'));
  return list.split('\n').filter((l) => l.includes('id=') && !l.includes('name=admin')).length;
}

const ids = (events: Array<{ lastEventId: string }>) => events.map((e) => e.lastEventId);

function increasing(list: string[]): boolean {
  for (let i = 1; i < list.length; i++) if (compareIds(list[i - 1], list[i]) >= 0) return false;
  return true;
}

describe('RedisBroker: pieces', () => {
  test('neutral: the broker and the seam import no node: module and no Redis client', () => {
    for (const file of ['channel.ts', 'fanout.ts', 'replay.ts', 'topic.ts', 'redis.ts', 'redis-client.ts', 'redis-topic.ts', 'redis-script.ts', 'deadlines.ts']) {
      const source = readFileSync(join(__dirname, '..', 'lib', file), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      const imports = [...source.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
      assert.deepEqual(imports.filter((i) => !i.startsWith('./')), [], `${file} imports only its siblings`);
      assert.doesNotMatch(source, /\b(?:require|import)\(/, `${file} loads nothing at run time`);
      assert.doesNotMatch(source, /\bBuffer\b|\bprocess\./, `${file} uses no Node global`);
    }
  });

  test('the script runs by the SHA-1 the broker sends with EVALSHA', () => {
    assert.equal(createHash('sha1').update(SCRIPT).digest('hex'), SCRIPT_SHA);
  });

  test("XREAD's reply shapes of every client read the same", () => {
    const entries = [['1-0', ['f', 'a']], ['1-1', ['f', 'b']]];
    const expected = [['k', entries], ['j', [['2-0', ['f', 'c']]]]];
    assert.deepEqual(streamsOf([['k', entries], ['j', [['2-0', ['f', 'c']]]]]), expected); // RESP2, iovalkey
    assert.deepEqual(streamsOf(['k', entries, 'j', [['2-0', ['f', 'c']]]]), expected); // ioredis 6
    assert.deepEqual(streamsOf({ k: entries, j: [['2-0', ['f', 'c']]] }), expected); // node-redis RESP3
    assert.deepEqual(streamsOf(new Map<string, unknown>([['k', entries], ['j', [['2-0', ['f', 'c']]]]])), expected);
    assert.deepEqual(streamsOf(null), []);
  });

  test('entry ids compare as numbers, part by part', () => {
    assert.equal(compareIds('9-0', '10-0'), -1);
    assert.equal(compareIds('10-2', '10-10'), -1);
    assert.equal(compareIds('1796145037210-0', '1796145037210-0'), 0);
    assert.equal(compareIds('18446744073709551615-1', '18446744073709551615-0'), 1);
  });

  test('options and clients are checked at the call', () => {
    assert.throws(() => new RedisBroker({}), { code: ErrorCode.INVALID_OPTION, message: /node-redis client/ });
    const fake = { duplicate() {}, on() {}, sendCommand() {}, connect() {} };
    assert.throws(() => new RedisBroker(fake, { maxLen: 0 }), { code: ErrorCode.INVALID_OPTION, name: 'SSERangeError' });
    assert.throws(() => new RedisBroker(fake, { tail: 20, maxLen: 10 }), /tail \(20\) must not exceed maxLen/);
    assert.throws(() => new RedisBroker(fake, { maxlen: 5 } as never), /did you mean "maxLen"/);
    const broker = new RedisBroker(fake);
    assert.throws(() => new Channel({ broker }), /needs a name/);
    assert.throws(() => new Channel({ broker, name: 'x', history: 5 }), /not both/);
    const channel = new Channel({ broker, name: 'x' });
    assert.throws(() => new Channel({ broker, name: 'x' }), /already uses this broker/);
    assert.throws(() => channel.write({ id: 'mine', data: 1 }), { code: ErrorCode.BROKER_ID, name: 'SSETypeError' });
    assert.throws(() => channel.write({ event: 'a\nb', data: 1 }), { code: ErrorCode.INVALID_EVENT });
    assert.throws(() => channel.publish({ data: 1n }), { code: ErrorCode.INVALID_DATA });
    void broker.close();
  });
});

test('Channel.write() with a broker: false while 1,024 publishes are unconfirmed, then drain; callbacks get the ids stored', async () => {
  let n = 0;
  // EVALSHA sha 1 key maxLen maxAge, then frame and flag per event: an id per event.
  const client = {
    duplicate() {},
    on() {},
    connect: async () => {},
    sendCommand: async (args: string[]) => (args[0] === 'EVALSHA' ? Array.from({ length: (args.length - 6) / 2 }, () => `${++n}-0`) : null),
  };
  const broker = new RedisBroker(client);
  const channel = new Channel({ name: 'drain', broker });
  const results: boolean[] = [];
  let called = 0;
  for (let i = 0; i < 1030; i++) results.push(channel.write({ data: i }, (err) => void (err ? assert.fail(err) : called++)));
  assert.equal(results.indexOf(false), 1023);
  await new Promise((resolve) => channel.once('drain', resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(called, 1030);
  assert.equal(n, 1030);
  await broker.close();
});

describe('RedisBroker against redis-server', skip, () => {
  before(async () => {
    redis = await startRedis();
    admin = await CLIENTS['node-redis 6 (RESP3)'](redis.socket);
    await admin.send('CLIENT', 'SETNAME', 'admin');
  });
  after(async () => {
    await admin?.close();
    await redis?.close();
  });

  for (const [library, make] of Object.entries(CLIENTS)) {
    test(`${library}: two instances deliver the same bytes in the same order, filters see the data, replay on the other, close() leaves nothing`, async () => {
      const baseline = await connections();
      const resources = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
      const a = await instance(make);
      const b = await instance(make);
      const name = fresh('two');
      const onA = a.channel(name);
      const onB = b.channel(name);
      const x = sub();
      const y = sub();
      const seen: unknown[] = [];
      onA.add(x.stream);
      onB.add(y.stream, {
        filter: (e) => {
          const m = e.message as { event?: string; data?: { n?: number } };
          seen.push(m.data);
          return m.data?.n === undefined || m.data.n % 3 !== 0;
        },
      });
      await sync([onA, x], [onB, y]);
      seen.length = 0;
      // Published from both instances at once: Redis's order is everyone's order.
      const published = (await Promise.all(
        Array.from({ length: 12 }, (_, n) => (n % 2 === 0 ? onA : onB).publish({ event: 'tick', data: { n } })),
      )) as string[];
      const lines = (await onA.publish('one\r\ntwo'))!;
      const all = await x.waitFor(13);
      await y.waitFor(9);
      assert.deepEqual(ids(all), [...published, lines].sort(compareIds), 'the ids publish() gave, in Redis order');
      assert.ok(increasing(ids(all)));
      assert.match(published[0], /^\d+-\d+$/);
      assert.deepEqual(
        all.slice(0, 12).map((e) => JSON.parse(e.data).n).sort((p, q) => p - q),
        Array.from({ length: 12 }, (_, n) => n),
      );
      assert.equal(all[12].data, 'one\ntwo');
      // Byte for byte the same stream on both instances, minus what the filter dropped.
      const frames = (text: string) => text.split('\n\n').filter((f) => f !== '');
      const onY = new Set(frames(y.text()));
      assert.deepEqual(frames(x.text()).filter((f) => onY.has(f)), frames(y.text()));
      assert.equal(frames(x.text())[0], `event: tick\nid: ${all[0].lastEventId}\ndata: ${all[0].data}`);
      assert.deepEqual(seen.slice(0, 12).map((d) => (d as { n: number }).n).sort((p, q) => p - q), Array.from({ length: 12 }, (_, n) => n), 'the data as published');
      assert.equal(seen[12], 'one\ntwo');
      // A client that was on A resumes on B.
      const z = sub(all[4].lastEventId);
      onB.add(z.stream);
      assert.deepEqual(ids(await z.waitFor(8)), ids(all.slice(5)));
      // write(message, cb): cb once stored.
      const stored = await new Promise<Error | null | undefined>((resolve) => onB.write({ data: 'cb' }, resolve));
      assert.equal(stored, null);
      assert.equal((await x.waitFor(14))[13].data, 'cb');
      await a.close();
      await b.close();
      assert.equal(await connections(), baseline, 'the brokers closed the connections they opened');
      assert.ok(process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length <= resources, process.getActiveResourcesInfo().join());
    });
  }

  test('a channel added while the loop blocks is read at once; end(message) reaches every subscriber before they end', async () => {
    const a = await instance();
    const b = await instance();
    try {
      const first = a.channel(fresh('first'));
      const f = sub();
      first.add(f.stream);
      await f.waitForId((await first.publish('warm'))!); // the loop now blocks on `first`
      const name = fresh('late');
      const late = a.channel(name);
      const s = sub();
      const unblocks = await calls('client|unblock');
      late.add(s.stream);
      await s.waitForId((await late.publish('mine'))!);
      // The XREAD in flight (blocking up to 2 s, without the new channel) was ended for it.
      assert.ok((await calls('client|unblock')) > unblocks, 'CLIENT UNBLOCK woke the loop');
      const other = b.channel(name);
      await s.waitForId((await other.publish('hello'))!);
      other.end({ event: 'bye', data: '' });
      const t = sub();
      late.add(t.stream);
      await other.publish('x').then(
        () => assert.fail('publish after end'),
        (err: SSEError) => assert.equal(err.code, ErrorCode.STREAM_CLOSED),
      );
      late.end({ data: 'last' });
      await Promise.all([s.ended, t.ended]);
      assert.deepEqual(s.data().slice(-2), ['', 'last']);
      assert.deepEqual(t.data().slice(-1), ['last']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a reconnect storm is served from the hot tail: 500 replays, one command', async () => {
    const a = await instance(undefined, { tail: 100, maxLen: 1000 });
    try {
      const name = fresh('storm');
      const channel = a.channel(name);
      const watcher = sub();
      channel.add(watcher.stream);
      for (let i = 0; i < 50; i++) channel.write({ data: i });
      const events = await watcher.waitFor(50);
      const before = await xrangeCalls();
      const subs = Array.from({ length: 500 }, (_, i) => sub(events[i % 50].lastEventId));
      for (const s of subs) channel.add(s.stream);
      for (let i = 0; i < 500; i++) assert.deepEqual((await subs[i].waitFor(49 - (i % 50))).map((e) => Number(e.data)), range(1 + (i % 50), 50));
      assert.deepEqual(a.broker.replays, { tail: 500, redis: 0 });
      assert.ok((await xrangeCalls()) - before <= 2, 'one XRANGE (the first kept id) for the whole storm');
    } finally {
      await a.close();
    }
  });

  test('an id older than the tail is answered from Redis, exactly', async () => {
    const a = await instance(undefined, { tail: 5 });
    try {
      const channel = a.channel(fresh('old'));
      const watcher = sub();
      channel.add(watcher.stream);
      for (let i = 0; i < 20; i++) channel.write({ data: i });
      const events = await watcher.waitFor(20);
      const old = sub(events[3].lastEventId);
      channel.add(old.stream);
      assert.deepEqual((await old.waitFor(16)).map((e) => Number(e.data)), range(4, 20));
      assert.deepEqual(a.broker.replays, { tail: 0, redis: 1 });
    } finally {
      await a.close();
    }
  });

  test('the tail never answers for an id Redis no longer holds; unknown, malformed and future ids are gaps', async () => {
    const a = await instance(undefined, { tail: 100, maxLen: 100 });
    try {
      const name = fresh('trim');
      const channel = a.channel(name);
      const gaps: Array<[EventStreamLike, SSEError]> = [];
      channel.on('gap', (stream, error) => gaps.push([stream, error]));
      const watcher = sub();
      channel.add(watcher.stream);
      for (let i = 0; i < 10; i++) channel.write({ data: i });
      const events = await watcher.waitFor(10);
      // Trimmed behind the instance's back: entries 0-4 are gone from Redis but still in its tail.
      await admin.send('XTRIM', `sse:${name}`, 'MINID', events[5].lastEventId);
      const trimmed = sub(events[2].lastEventId);
      channel.add(trimmed.stream);
      assert.deepEqual((await trimmed.waitFor(5)).map((e) => e.data), ['5', '6', '7', '8', '9']);
      assert.equal(gaps.at(-1)?.[0], trimmed.stream);
      assert.equal(gaps.at(-1)?.[1].code, ErrorCode.HISTORY_GAP);
      const kept = sub(events[6].lastEventId);
      channel.add(kept.stream);
      assert.deepEqual((await kept.waitFor(3)).map((e) => e.data), ['7', '8', '9']);
      assert.equal(gaps.length, 1);
      for (const id of ['abc', '1-2-3', '01-0', '99999999999999-0', '']) {
        const s = sub();
        channel.add(s.stream, { lastEventId: id });
        assert.deepEqual((await s.waitFor(5)).map((e) => e.data), ['5', '6', '7', '8', '9'], `replay after ${JSON.stringify(id)}`);
        assert.equal(gaps.at(-1)?.[0], s.stream);
      }
      assert.equal(gaps.length, 6);
    } finally {
      await a.close();
    }
  });

  test('an instance that missed entries Redis removed (fell behind) tells its subscribers and ends their streams', async () => {
    const a = await instance();
    try {
      const name = fresh('behind');
      const channel = a.channel(name);
      const gaps: SSEError[] = [];
      channel.on('gap', (_s, error) => gaps.push(error));
      const s = sub();
      channel.add(s.stream);
      await channel.publish('read');
      await s.waitFor(1);
      // An event stored and trimmed before the instance could read it (one transaction).
      const key = `sse:${name}`;
      await admin.send('MULTI');
      await admin.send('EVAL', SCRIPT, '1', key, '10000', '0', 'data: never read\n\n', '');
      await admin.send('XTRIM', key, 'MAXLEN', '0');
      await admin.send('EXEC');
      await channel.publish('after');
      await s.ended;
      assert.deepEqual(s.data(), ['read']);
      assert.equal(gaps.length, 1);
      assert.equal(gaps[0].code, ErrorCode.BROKER_GAP);
      assert.equal(channel.size, 0);
      // New subscribers are served again, from what Redis keeps.
      const again = sub(s.ids()[0]);
      channel.add(again.stream);
      assert.deepEqual((await again.waitFor(1)).map((e) => e.data), ['after']);
    } finally {
      await a.close();
    }
  });

  test('stored bytes cannot forge events: an entry not written by a broker is never sent', async () => {
    const a = await instance();
    try {
      const name = fresh('forge');
      const channel = a.channel(name);
      const s = sub();
      channel.add(s.stream);
      const first = await channel.publish('one');
      await admin.send('XADD', `sse:${name}`, '*', 'p', first!, 'f', 'data: x\n\nevent: forged\ndata: y\n\n');
      await channel.publish('two');
      assert.deepEqual((await s.waitFor(2)).map((e) => [e.type, e.data]), [['message', 'one'], ['message', 'two']]);
    } finally {
      await a.close();
    }
  });

  test('CLIENT KILL of every connection mid-stream: each stored event is delivered once, in order', async () => {
    const a = await instance();
    const b = await instance();
    try {
      const name = fresh('kill');
      const publisher = a.channel(name);
      const reader = b.channel(name);
      const s = sub();
      reader.add(s.stream);
      await sync([reader, s]);
      const stored: string[] = [];
      let failed = 0;
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 600; i++) {
        writes.push(publisher.publish({ data: i }).then((id) => void stored.push(id!), () => void failed++));
        if (i === 200 || i === 400) await admin.send('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
        if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(writes);
      await s.waitForId((await publisher.publish('end'))!);
      const got = s.ids();
      assert.ok(increasing(got), 'no event repeated or reordered');
      const delivered = new Set(got);
      assert.deepEqual(stored.filter((id) => !delivered.has(id)), [], 'every stored event delivered');
      // A kill fails the batch in flight (outcome unknown); the rest is stored once the client reconnected.
      assert.ok(stored.length >= 100, `${stored.length} stored, ${failed} rejected`);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('RedisBroker when Redis goes away', skip, () => {
  for (const aof of [true, false]) {
    test(`Redis restarted ${aof ? 'with AOF: nothing lost, no gap' : 'without persistence: the gap is signalled'}`, async () => {
      const server = await startRedis({ aof });
      const client = await CLIENTS['node-redis 6 (RESP3)'](server.socket);
      const broker = new RedisBroker(client.client, { timeout: 5000 });
      const channel = new Channel({ name: 'restart', broker });
      try {
        const gaps: SSEError[] = [];
        channel.on('gap', (_s, error) => gaps.push(error));
        const s = sub();
        channel.add(s.stream);
        for (let i = 0; i < 5; i++) await channel.publish({ data: i });
        await s.waitFor(5);
        await server.restart();
        for (let i = 5; i < 10; i++) await channel.publish({ data: i });
        if (aof) {
          assert.deepEqual((await s.waitFor(10)).map((e) => Number(e.data)), range(0, 10));
          assert.ok(increasing(s.ids()));
          const again = sub(s.ids()[2]);
          channel.add(again.stream);
          assert.deepEqual((await again.waitFor(7)).map((e) => Number(e.data)), range(3, 10));
          assert.equal(gaps.length, 0);
        } else {
          await s.ended;
          assert.deepEqual(s.data(), ['0', '1', '2', '3', '4']);
          assert.equal(gaps[0]?.code, ErrorCode.BROKER_GAP);
          const again = sub(s.ids()[4]);
          channel.add(again.stream);
          assert.deepEqual((await again.waitFor(5)).map((e) => Number(e.data)), range(5, 10));
          assert.equal(gaps.at(-1)?.code, ErrorCode.HISTORY_GAP);
        }
      } finally {
        channel.destroy();
        await broker.close();
        await client.close();
        await server.close();
      }
    });
  }

  test('publish() while Redis is unreachable rejects with ERR_SSE_PUBLISH_FAILED within the timeout; the broker recovers', async () => {
    const server = await startRedis({ aof: true });
    const client = await CLIENTS['node-redis 6 (RESP3)'](server.socket);
    const broker = new RedisBroker(client.client, { timeout: 400 });
    const channel = new Channel({ name: 'down', broker });
    try {
      const s = sub();
      channel.add(s.stream);
      await channel.publish('up');
      await s.waitFor(1);
      await server.stop();
      // Bounded by the broker's timeout (400 ms here): a hang would fail this wait.
      const err = (await within(
        channel.publish('lost?').then(
          () => assert.fail('resolved while Redis was down'),
          (e: unknown) => e,
        ),
        5000,
        'publish() to reject',
      )) as SSEError;
      assert.equal(err.code, ErrorCode.PUBLISH_FAILED);
      assert.match(err.message, /outcome is unknown/);
      const viaCallback = await new Promise<Error | null | undefined>((resolve) => channel.write('cb', resolve));
      assert.equal((viaCallback as SSEError).code, ErrorCode.PUBLISH_FAILED);
      const emitted = new Promise<SSEError>((resolve) => channel.once('error', resolve));
      channel.write('no callback');
      assert.equal((await emitted).code, ErrorCode.PUBLISH_FAILED);
      // A replay Redis cannot answer ends that stream (its client retries), rather than guess.
      const left = new Promise<SSEError | undefined>((resolve) => channel.once('leave', (_s, reason) => resolve(reason)));
      const resuming = sub(s.ids()[0]);
      channel.add(resuming.stream);
      assert.equal((await left)?.code, ErrorCode.REPLAY_FAILED);
      await resuming.ended;
      assert.deepEqual(resuming.events, []);
      await server.start();
      const id = await within(
        (async () => {
          for (let i = 0; i < 50; i++) {
            try {
              return await channel.publish('back');
            } catch {
              // the client is still reconnecting
            }
          }
          throw new Error('never published');
        })(),
        20_000,
        'a publish after Redis came back',
      );
      const events = await s.waitForId(id!);
      assert.equal(events[0].data, 'up');
      assert.equal(events.at(-1)!.data, 'back');
      assert.ok(increasing(s.ids()));
    } finally {
      channel.destroy();
      await broker.close();
      await client.close();
      await server.close();
    }
  });
});

/**
 * Make sure each channel's instance reads the stream (a subscriber without
 * Last-Event-ID gets what is stored after its instance began reading, and an
 * instance's own publishes come after that), then forget what arrived.
 */
async function sync(...pairs: Array<[Channel, Sub]>): Promise<void> {
  let last = '';
  for (const [channel] of pairs) last = (await channel.publish({ event: 'sync', data: '' }))!;
  for (const [, s] of pairs) await s.waitForId(last);
  for (const [, s] of pairs) s.reset();
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

async function calls(command: string): Promise<number> {
  const info = String(await admin.send('INFO', 'commandstats'));
  return Number(new RegExp(`cmdstat_${command.replace('|', '\\|')}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

const xrangeCalls = (): Promise<number> => calls('xrange');
