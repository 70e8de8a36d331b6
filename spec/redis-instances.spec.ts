/**
 * Exactly once across instances: real HTTP clients that reconnect to another
 * instance (with Last-Event-ID) at random points while events are published at
 * full speed, first with two instances in this process, then with three
 * instance processes, one of which is SIGKILLed mid-stream. Every client must
 * end up with every event exactly once, in order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Channel } from '../lib/channel.ts';
import { RedisBroker } from '../lib/redis.ts';
import { SSEStream } from '../lib/stream.ts';
import { mulberry32 as seeded } from './support/random.ts';
import { openEventStream, within } from './support/realworld.ts';
import { CLIENTS, requireRedis, startRedis, type RedisServer, type TestClient } from './support/redis.ts';
import { serve, type TestServer } from './support/sse.ts';

const skip = requireRedis();
let redis: RedisServer;

interface Follower {
  /** The `data` of every tick received, over all its connections. */
  readonly seen: number[];
  /** How many connections it used. */
  connections: number;
  /** True once its first connection got any event (its instance reads the stream). */
  started: boolean;
  readonly done: Promise<void>;
}

/**
 * A client that reads `total` ticks, hopping to the next instance after each
 * number of ticks in `hops` (and whenever its connection breaks), resuming with
 * the id of the last event it took. Events it did not take before closing are
 * not counted: the next instance must replay them.
 */
function follow(urls: () => string[], first: number, total: number, hops: readonly number[]): Follower {
  const f: Follower = { seen: [], connections: 0, started: false, done: Promise.resolve() };
  (f as { done: Promise<void> }).done = (async () => {
    let last: string | undefined;
    let at = first;
    for (let attempt = 0; attempt < 200 && f.seen.length < total; attempt++) {
      const list = urls();
      const url = list[at++ % list.length];
      let client;
      try {
        client = await openEventStream(url, last === undefined ? {} : { 'Last-Event-ID': last });
      } catch {
        continue; // an instance that was just killed
      }
      f.connections++;
      const goal = f.seen.length + (f.connections <= hops.length ? hops[f.connections - 1] : total);
      try {
        while (f.seen.length < Math.min(goal, total)) {
          const event = await client.next(15_000);
          f.started = true;
          last = event.lastEventId;
          if (event.type === 'tick') f.seen.push(Number(event.data));
        }
      } catch (err) {
        if (!client.ended) throw err; // no event for 15 s: a stall, not a killed instance
      } finally {
        client.close();
      }
    }
  })();
  return f;
}

/** Publish `total` ticks as fast as Redis confirms them, `window` at a time, through `channels` in turn. */
async function publish(channels: readonly Channel[], total: number, onProgress: (n: number) => void = () => undefined): Promise<void> {
  const inflight = new Set<Promise<unknown>>();
  for (let i = 0; i < total; i++) {
    const p = channels[i % channels.length].publish({ event: 'tick', data: i });
    inflight.add(p);
    void p.finally(() => inflight.delete(p)).catch(() => undefined);
    if (inflight.size >= 64) await Promise.race(inflight);
    onProgress(i);
  }
  await Promise.all(inflight);
}

/** Until every follower's first connection got an event: each instance reads the stream. */
async function warmUp(channel: Channel, followers: readonly Follower[]): Promise<void> {
  for (let i = 0; i < 500 && followers.some((f) => !f.started); i++) {
    await channel.publish({ event: 'sync', data: '' });
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(followers.every((f) => f.started), 'every first connection got the warm-up');
}

/**
 * Every follower saw exactly the ticks of the stream, in the stream's order
 * (read back from Redis: with several publishers, Redis's order is the order).
 */
async function checkAll(followers: readonly Follower[], total: number, key: string): Promise<void> {
  const admin = await CLIENTS['node-redis 6 (RESP3)'](redis.socket);
  let order: number[];
  try {
    const entries = (await admin.send('XRANGE', key, '-', '+')) as Array<[string, string[]]>;
    order = entries.map(([, fields]) => fields[fields.indexOf('f') + 1]).filter((f) => f.startsWith('event: tick\n')).map((f) => Number(/data: (\d+)/.exec(f)![1]));
  } finally {
    await admin.close();
  }
  assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i), 'the stream holds every tick once');
  const bad = followers.filter((f) => f.seen.length !== total || f.seen.some((v, i) => v !== order[i]));
  assert.deepEqual(bad.map((f) => f.seen.length), [], 'clients with missing, repeated or reordered events');
}

describe('RedisBroker: clients hopping between instances', skip, () => {
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.close();
  });

  test('two instances in one process over HTTP, 10 clients hopping 4 times each while 2,000 events are published: each gets every event once, in order', async () => {
    const make = CLIENTS['node-redis 6 (RESP3)'];
    const instances: Array<{ client: TestClient; broker: RedisBroker; channel: Channel; server: TestServer }> = [];
    try {
      for (let i = 0; i < 2; i++) {
        const client = await make(redis.socket);
        const broker = new RedisBroker(client.client);
        const channel = new Channel({ name: 'hop', broker });
        const server = await serve((req, res) => {
          const stream = new SSEStream(req, { heartbeat: 0 });
          stream.pipe(res);
          channel.add(stream);
        });
        instances.push({ client, broker, channel, server });
      }
      const urls = instances.map((i) => i.server.url);
      const random = seeded(13);
      const TOTAL = 2000;
      const followers = Array.from({ length: 10 }, (_, k) =>
        follow(() => urls, k, TOTAL, Array.from({ length: 4 }, () => 1 + Math.floor(random() * 400))),
      );
      await warmUp(instances[0].channel, followers);
      // Published through both instances: each also reads what it published.
      await publish(instances.map((i) => i.channel), TOTAL);
      await within(Promise.all(followers.map((f) => f.done)), 30_000, 'every client to get every event');
      await checkAll(followers, TOTAL, 'sse:hop');
      assert.ok(followers.every((f) => f.connections === 5));
      const replays = instances.map((i) => i.broker.replays);
      assert.equal(replays.reduce((n, r) => n + r.tail + r.redis, 0), 40, 'one replay per reconnect');
    } finally {
      for (const i of instances) {
        i.channel.destroy();
        await i.server.close();
        await i.broker.close();
        await i.client.close();
      }
    }
  });

  test('three instance processes, 12 clients hopping on every reconnect, one instance SIGKILLed mid-stream: each gets every event once, in order', async () => {
    const children: ChildProcess[] = [];
    const alive: string[] = [];
    const client = await CLIENTS['node-redis 6 (RESP3)'](redis.socket);
    const broker = new RedisBroker(client.client);
    const channel = new Channel({ name: 'procs', broker });
    try {
      for (let i = 0; i < 3; i++) {
        const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'support', 'redis-instance.ts'), redis.socket, 'procs'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        const port = await within(
          new Promise<number>((resolve, reject) => {
            let out = '';
            child.stdout!.setEncoding('utf8').on('data', (c: string) => {
              out += c;
              const m = /port (\d+)/.exec(out);
              if (m) resolve(Number(m[1]));
            });
            child.once('exit', (code) => reject(new Error(`instance exited (${code})`)));
          }),
          20_000,
          'an instance to listen',
        );
        alive.push(`http://127.0.0.1:${port}`);
      }
      const urls = alive.slice();
      const random = seeded(29);
      const TOTAL = 1500;
      const followers = Array.from({ length: 12 }, (_, k) =>
        follow(() => alive, k, TOTAL, Array.from({ length: 4 }, () => 1 + Math.floor(random() * 300))),
      );
      await warmUp(channel, followers);
      const killed = children[2];
      await publish([channel], TOTAL, (n) => {
        if (n === TOTAL / 2) {
          killed.kill('SIGKILL');
          alive.splice(alive.indexOf(urls[2]), 1);
        }
      });
      await within(Promise.all(followers.map((f) => f.done)), 40_000, 'every client to get every event');
      await checkAll(followers, TOTAL, 'sse:procs');
      assert.equal(killed.signalCode ?? (await new Promise((r) => killed.once('exit', (_c, s) => r(s)))), 'SIGKILL');
    } finally {
      channel.destroy();
      await broker.close();
      await client.close();
      for (const child of children) {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await exited;
        }
      }
    }
  });
});
