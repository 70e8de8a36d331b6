import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { Channel } from '../lib/channel.ts';
import { MemoryHistory } from '../lib/history.ts';
import type { EventStreamLike, HistoryResult, HistoryStore, PreparedEvent, StoredEvent } from '../lib/types.ts';
import { SSEStream } from '../lib/stream.ts';
import { ErrorCode, SSEError, SSERangeError, SSETypeError } from '../lib/errors.ts';
import { parse } from '../lib/parser.ts';
import { EventClient, serve } from './support/sse.ts';

/** A stream piped into a Writable that records the text it gets, like a client that reads everything. */
function subscriber(lastEventId?: string) {
  let text = '';
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  const req = { headers: lastEventId === undefined ? {} : { 'last-event-id': lastEventId } };
  const stream = new SSEStream(req, { heartbeat: 0 });
  stream.pipe(dest);
  return {
    stream,
    dest,
    text: () => text,
    /** The `data` of every event received after the preamble. */
    data: () => parse(text).events.map((e) => e.data),
    ids: () => parse(text).events.map((e) => e.lastEventId),
  };
}

/** Let queued frames reach the destinations (SSEStream flushes on nextTick; pipe resumes on one). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A history whose since() answers only when the test says so: a broker's round trip. */
class DeferredStore implements HistoryStore {
  readonly inner = new MemoryHistory({ limit: 100 });
  readonly pending: Array<{ id: string; resolve(): void }> = [];
  /** 'call': the replay is what was kept when since() was called; 'resolve': when it answers. */
  constructor(private readonly snapshotAt: 'call' | 'resolve') {}
  nextId(): string {
    return this.inner.nextId();
  }
  append(event: StoredEvent): void {
    this.inner.append(event);
  }
  since(lastEventId: string): Promise<HistoryResult> {
    const early = this.inner.since(lastEventId);
    return new Promise((resolve) => {
      this.pending.push({
        id: lastEventId,
        resolve: () => resolve(this.snapshotAt === 'call' ? early : this.inner.since(lastEventId)),
      });
    });
  }
}

describe('Channel: broadcast', () => {
  test('every subscriber gets the exact same bytes, serialized once', async () => {
    const channel = new Channel();
    const subs = [subscriber(), subscriber(), subscriber()];
    const frames: PreparedEvent[][] = subs.map(() => []);
    subs.forEach((s, i) => {
      const original = s.stream.write.bind(s.stream) as (m: unknown) => boolean;
      s.stream.write = ((event: PreparedEvent) => {
        frames[i].push(event);
        return original(event);
      }) as typeof s.stream.write;
      assert.equal(channel.add(s.stream), true);
    });
    assert.equal(channel.size, 3);
    assert.equal(channel.write({ comment: 'c', event: 'chat', id: 'm1', retry: 5, data: 'a\r\nb\rc\nd\n' }), true);
    assert.equal(channel.write('héllo 🌍'), true);
    assert.equal(channel.write({ data: '' }), true);
    assert.equal(channel.write({ data: { n: 0, s: 'x\ny' } }), true);
    await settle();
    const expected =
      ':ok\n\n' +
      ': c\nevent: chat\nid: m1\nretry: 5\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \n\n' +
      'data: héllo 🌍\n\n' +
      'data: \n\n' +
      'data: {"n":0,"s":"x\\ny"}\n\n';
    for (const s of subs) assert.equal(s.text(), expected);
    // The same prepared event (one object, one string) went to every subscriber.
    for (const f of frames) f.forEach((event, j) => assert.equal(event, frames[0][j]));
    assert.equal(frames[0].length, 4);
  });

  test('invalid messages throw synchronously, like SSEStream.write, and nothing is sent', async () => {
    const channel = new Channel({ history: 10 });
    const s = subscriber();
    channel.add(s.stream);
    assert.throws(() => channel.write({ event: 'a\nb', data: 'x' }), { code: ErrorCode.INVALID_EVENT, name: 'SSETypeError' });
    assert.throws(() => channel.write({ id: 'a\0', data: 'x' }), { code: ErrorCode.INVALID_ID });
    assert.throws(() => channel.write({ retry: -1 }), SSERangeError);
    assert.throws(() => channel.write({ data: 1n }), { code: ErrorCode.INVALID_DATA });
    assert.throws(() => channel.write(42 as never), { code: ErrorCode.INVALID_MESSAGE });
    channel.write('ok');
    await settle();
    assert.deepEqual(s.data(), ['ok']);
    assert.equal((channel.store as MemoryHistory).size, 1);
  });

  test('an event source can be piped in; its end ends every subscriber', async () => {
    const channel = new Channel();
    const a = subscriber();
    const b = subscriber();
    channel.add(a.stream);
    channel.add(b.stream);
    Readable.from([{ data: 1 }, 'two', { event: 'x', data: 3 }]).pipe(channel);
    await Promise.all([once(a.dest, 'finish'), once(b.dest, 'finish'), once(channel, 'finish')]);
    assert.equal(a.text(), ':ok\n\ndata: 1\n\ndata: two\n\nevent: x\ndata: 3\n\n');
    assert.equal(b.text(), a.text());
    assert.equal(channel.size, 0);
  });

  test('write() after end() returns false and reports ERR_SSE_STREAM_CLOSED', async () => {
    const channel = new Channel();
    channel.end();
    let error: unknown;
    assert.equal(channel.write('late', (err) => void (error = err)), false);
    await settle();
    assert.ok(error instanceof SSEError);
    assert.equal(error.code, ErrorCode.STREAM_CLOSED);
  });

  test('end(message) sends it, ends every subscriber, emits leave; add() afterwards ends the stream', async () => {
    const channel = new Channel();
    const a = subscriber();
    const b = subscriber();
    channel.add(a.stream);
    channel.add(b.stream);
    const left: unknown[] = [];
    channel.on('leave', (stream, reason) => left.push([stream, reason]));
    channel.end({ event: 'bye', data: '' });
    await Promise.all([once(a.dest, 'finish'), once(b.dest, 'finish')]);
    assert.equal(a.text(), ':ok\n\nevent: bye\ndata: \n\n');
    assert.deepEqual(left, [[a.stream, undefined], [b.stream, undefined]]);
    assert.equal(a.stream.listenerCount('disconnect'), 0);
    const c = subscriber();
    assert.equal(channel.add(c.stream), false);
    await once(c.dest, 'finish');
    assert.equal(channel.size, 0);
  });
});

describe('Channel: membership', () => {
  test('join/leave, has, delete, and automatic removal on disconnect, end and destroy', async () => {
    const channel = new Channel();
    const joined: EventStreamLike[] = [];
    const left: Array<[EventStreamLike, SSEError | undefined]> = [];
    channel.on('join', (s) => joined.push(s));
    channel.on('leave', (s, reason) => left.push([s, reason]));
    const [a, b, c, d] = [subscriber(), subscriber(), subscriber(), subscriber()];
    const names = ['disconnect', 'close'] as const;
    const counts = (s: SSEStream) => names.map((n) => s.listenerCount(n));
    const before = counts(a.stream);
    for (const s of [a, b, c, d]) channel.add(s.stream);
    assert.deepEqual(counts(a.stream), before.map((n) => n + 1));
    assert.deepEqual(joined, [a.stream, b.stream, c.stream, d.stream]);
    assert.equal(channel.add(a.stream), false, 'already subscribed');
    assert.deepEqual([...channel.streams()], [a.stream, b.stream, c.stream, d.stream]);

    a.dest.destroy(); // the client goes away
    await once(a.stream, 'disconnect');
    assert.equal(channel.has(a.stream), false);
    assert.equal(left[0][0], a.stream);
    assert.equal(left[0][1]?.code, ErrorCode.CLIENT_CLOSED);

    b.stream.end(); // the server ends one stream
    await once(b.stream, 'finish');
    assert.equal(channel.has(b.stream), false);

    c.stream.destroy();
    await once(c.stream, 'close');
    assert.equal(channel.has(c.stream), false);

    assert.equal(channel.delete(d.stream), true);
    assert.equal(channel.delete(d.stream), false);
    assert.equal(channel.size, 0);
    assert.deepEqual(left.map((l) => l[0]), [a.stream, b.stream, c.stream, d.stream]);
    assert.deepEqual(counts(d.stream), before, 'no listener left behind');
    assert.equal(a.stream.listenerCount('disconnect'), 0);
    channel.write('after');
    await settle();
    assert.equal(d.text(), ':ok\n\n', 'a deleted stream gets nothing more');
    assert.equal(d.stream.destroyed, false, 'delete() does not end the stream');
    d.stream.end();
  });

  test('add() refuses ended or destroyed streams, and anything that is not an SSEStream', () => {
    const channel = new Channel();
    const ended = new SSEStream(undefined, { heartbeat: 0 });
    ended.end();
    const destroyed = new SSEStream(undefined, { heartbeat: 0 });
    destroyed.destroy();
    assert.equal(channel.add(ended), false);
    assert.equal(channel.add(destroyed), false);
    assert.equal(channel.size, 0);
    assert.throws(() => channel.add({} as SSEStream), { code: ErrorCode.INVALID_STREAM, name: 'SSETypeError' });
    assert.throws(() => channel.add(new SSEStream(), { Filter: () => true } as never), /did you mean "filter"/);
    assert.throws(() => channel.add(new SSEStream(), { lastEventId: 'a\nb' }), SSETypeError);
  });

  test('options are validated', () => {
    assert.throws(() => new Channel({ history: -1 }), SSERangeError);
    assert.throws(() => new Channel({ history: 1.5 }), SSERangeError);
    assert.throws(() => new Channel({ history: '5' as never }), SSETypeError);
    assert.throws(() => new Channel({ History: 5 } as never), /did you mean "history"/);
    assert.throws(() => new Channel({ store: {} as never }), { code: ErrorCode.INVALID_OPTION });
    assert.throws(() => new Channel({ store: new MemoryHistory({ limit: 1 }), history: 5 }), /not both/);
    assert.throws(() => new MemoryHistory({ limit: 0 }), SSERangeError);
    assert.equal(new Channel().store, undefined);
    assert.equal(new Channel({ history: 0 }).store, undefined);
  });
});

describe('Channel: filter', () => {
  test('a per-subscriber predicate selects live and replayed events', async () => {
    const channel = new Channel({ history: 10 });
    const all = subscriber();
    const chat = subscriber();
    channel.add(all.stream);
    channel.add(chat.stream, { filter: (e) => e.type === 'chat' });
    channel.write({ event: 'chat', data: 'hi' });
    channel.write({ event: 'presence', data: 'bob' });
    channel.write({ event: 'chat', data: 'yo' });
    channel.write({ data: 'plain' });
    await settle();
    assert.deepEqual(all.data(), ['hi', 'bob', 'yo', 'plain']);
    assert.deepEqual(chat.data(), ['hi', 'yo']);

    const late = subscriber(all.ids()[0]);
    const seen: string[] = [];
    channel.add(late.stream, {
      filter: (e) => {
        seen.push(e.id!);
        return typeof e.message === 'object' && e.message.data === 'yo';
      },
    });
    await settle();
    assert.deepEqual(late.data(), ['yo']);
    assert.equal(seen.length, 3, 'the filter saw the three replayed events');
  });

  test('events written during a broadcast follow it for every subscriber; a stream added meanwhile gets each once', async () => {
    const channel = new Channel({ history: 10 });
    const [a, b, c, d] = [subscriber(), subscriber(), subscriber(), subscriber()];
    channel.write('zero');
    const zeroId = (channel.store as MemoryHistory).since('none').events[0].id;
    let calls = 0;
    channel.add(a.stream);
    channel.add(b.stream, {
      filter: () => {
        // In the middle of the fan-out of 'outer': as a 'leave' listener of a dropped client might.
        if (calls++ === 0) {
          channel.write('nested');
          channel.add(d.stream, { lastEventId: zeroId });
        }
        return true;
      },
    });
    channel.add(c.stream);
    channel.write('outer');
    await settle();
    for (const s of [a, b, c]) assert.deepEqual(s.data(), ['outer', 'nested']);
    assert.deepEqual(d.data(), ['outer', 'nested']);
  });

  test('a filter that throws removes its subscriber (ERR_SSE_SUBSCRIBER_FAILED) and ends its stream; the others still get the event', async () => {
    const channel = new Channel();
    const a = subscriber();
    const bad = subscriber();
    const c = subscriber();
    const left: Array<[EventStreamLike, SSEError | undefined]> = [];
    channel.on('leave', (stream, reason) => left.push([stream, reason]));
    channel.add(a.stream);
    channel.add(bad.stream, {
      filter: () => {
        throw new Error('boom');
      },
    });
    channel.add(c.stream);
    assert.equal(channel.write('x'), true);
    channel.write('y');
    await once(bad.dest, 'finish');
    await settle();
    assert.deepEqual(a.data(), ['x', 'y']);
    assert.deepEqual(bad.data(), []);
    assert.deepEqual(c.data(), ['x', 'y']);
    assert.equal(left.length, 1);
    assert.equal(left[0][0], bad.stream);
    assert.equal(left[0][1]?.code, ErrorCode.SUBSCRIBER_FAILED);
    assert.equal((left[0][1]?.cause as Error).message, 'boom');
    assert.equal(channel.has(bad.stream), false);
  });
});

describe('Channel: history and replay', () => {
  test('ids: assigned ones grow by one, the caller\'s are kept, comments are neither kept nor numbered', async () => {
    const channel = new Channel({ history: 10 });
    const s = subscriber();
    channel.add(s.stream);
    channel.write('a');
    channel.write({ event: 'e', data: 'b' });
    channel.write({ id: 'mine', data: 'c' });
    channel.write({ comment: 'just a comment' });
    channel.write({ retry: 1000 });
    channel.write({ data: 'd' });
    await settle();
    const events = parse(s.text()).events;
    const [a, b, , d] = events.map((e) => e.lastEventId);
    assert.match(a, /^\d+$/);
    assert.equal(Number(b), Number(a) + 1);
    assert.equal(events[2].lastEventId, 'mine');
    assert.equal(Number(d), Number(a) + 2);
    assert.ok(Number(a) >= Date.now() * 1000 - 10_000_000, 'ids start from the clock');
    assert.equal((channel.store as MemoryHistory).size, 4);
    assert.equal(s.text().includes(`event: e\nid: ${b}\ndata: b\n\n`), true, 'field order as SSEStream writes it');
    assert.equal(s.text().includes(': just a comment\n\nretry: 1000\n\n'), true);
  });

  test('a client that reconnects gets exactly the events after its Last-Event-ID, then live ones', async () => {
    const channel = new Channel({ history: 100 });
    const first = subscriber();
    channel.add(first.stream);
    for (let i = 0; i < 10; i++) channel.write(`e${i}`);
    await settle();
    const ids = first.ids();
    const again = subscriber(ids[3]);
    channel.add(again.stream);
    channel.write('e10');
    await settle();
    assert.deepEqual(again.data(), ['e4', 'e5', 'e6', 'e7', 'e8', 'e9', 'e10']);
    const upToDate = subscriber(first.ids()[10]); // the newest event
    channel.add(upToDate.stream);
    channel.write('e11');
    await settle();
    assert.deepEqual(upToDate.data(), ['e11']);
    const fresh = subscriber();
    channel.add(fresh.stream);
    channel.write('e12');
    await settle();
    assert.deepEqual(fresh.data(), ['e12'], 'no Last-Event-ID: no replay');
    const fromUrl = subscriber();
    channel.add(fromUrl.stream, { lastEventId: ids[8] });
    await settle();
    assert.deepEqual(fromUrl.data(), ['e9', 'e10', 'e11', 'e12'], 'options.lastEventId instead of the header');
  });

  test('an unknown or too old id replays everything kept and emits gap (ERR_SSE_HISTORY_GAP); what the listener writes goes first', async (t) => {
    t.plan(6);
    const channel = new Channel({ history: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(channel.store!.nextId());
      channel.write({ id: ids[i], data: `e${i}` });
    }
    const plan: typeof t.assert = t.assert; // an explicit type, so that ok() may narrow
    channel.on('gap', (stream, error) => {
      plan.ok(error instanceof SSEError);
      t.assert.equal(error.code, ErrorCode.HISTORY_GAP);
      t.assert.match(error.message, new RegExp(`"${ids[0]}"`));
      stream.write({ event: 'reset', data: '' });
      channel.write('live during gap');
    });
    const old = subscriber(ids[0]); // pushed out of the 3 kept
    channel.add(old.stream);
    await settle();
    const events = parse(old.text()).events;
    t.assert.deepEqual(events.map((e) => e.type), ['reset', 'message', 'message', 'message', 'message']);
    t.assert.deepEqual(events.map((e) => e.data), ['', 'e2', 'e3', 'e4', 'live during gap']);
    t.assert.equal(channel.size, 1);
  });

  test('what a join listener broadcasts (e.g. presence) follows the replay', async () => {
    const channel = new Channel({ history: 10 });
    const first = subscriber();
    channel.add(first.stream);
    channel.write('a');
    channel.write('b');
    await settle();
    channel.on('join', () => channel.write({ event: 'presence', data: 'joined' }));
    const again = subscriber(first.ids()[0]);
    channel.add(again.stream);
    await settle();
    assert.deepEqual(again.data(), ['b', 'joined']);
    assert.deepEqual(first.data(), ['a', 'b', 'joined']);
  });

  test('the ring buffer keeps the last `limit` events across wrap-around', () => {
    const h = new MemoryHistory({ limit: 4 });
    const ev = (id: string): StoredEvent => ({ id, type: 'message', message: id, frame: `id: ${id}\ndata: ${id}\n\n` });
    for (let i = 1; i <= 11; i++) h.append(ev(String(i)));
    assert.equal(h.size, 4);
    assert.deepEqual(h.since('9'), { events: [ev('10'), ev('11')], found: true });
    assert.deepEqual(h.since('11'), { events: [], found: true });
    assert.deepEqual(h.since('8').events.map((e) => e.id), ['9', '10', '11']);
    assert.deepEqual(h.since('7'), { events: [ev('8'), ev('9'), ev('10'), ev('11')], found: false });
    h.clear();
    assert.deepEqual(h.since('11'), { events: [], found: false });
  });

  test('historyMaxAge drops old events (no timer): an id older than that is a gap', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const channel = new Channel({ history: 100, historyMaxAge: 60_000 });
    const gaps: SSEError[] = [];
    channel.on('gap', (_s, e) => gaps.push(e));
    const first = subscriber();
    channel.add(first.stream);
    channel.write('old');
    t.mock.timers.tick(30_000);
    channel.write('mid');
    t.mock.timers.tick(40_000); // 'old' is now 70 s old
    channel.write('new');
    await settle();
    const [oldId, midId] = first.ids();
    assert.equal((channel.store as MemoryHistory).size, 2);
    const a = subscriber(midId);
    channel.add(a.stream);
    const b = subscriber(oldId);
    channel.add(b.stream);
    await settle();
    assert.deepEqual(a.data(), ['new']);
    assert.deepEqual(b.data(), ['mid', 'new'], 'everything kept');
    assert.equal(gaps.length, 1);
  });
});

describe('Channel: replay from an asynchronous store', () => {
  for (const snapshotAt of ['call', 'resolve'] as const) {
    test(`live events during the replay are queued and sent after it, none lost or repeated (snapshot at ${snapshotAt})`, async () => {
      const store = new DeferredStore(snapshotAt);
      const channel = new Channel({ store });
      const first = subscriber();
      channel.add(first.stream);
      for (let i = 0; i < 5; i++) channel.write(`e${i}`);
      await settle();
      const ids = first.ids();
      const again = subscriber(ids[1]);
      channel.add(again.stream);
      channel.write('e5');
      channel.write('e6');
      await settle();
      assert.deepEqual(again.data(), [], 'nothing before the replay');
      store.pending[0].resolve();
      channel.write('e7'); // before the promise's reaction runs: queued as well
      await settle();
      channel.write('e8');
      await settle();
      assert.deepEqual(again.data(), ['e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8']);
      assert.deepEqual(first.data(), ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8']);
    });
  }

  test('a store that fails is reported as a gap (with the cause); live events still flow', async () => {
    const failing: HistoryStore = {
      nextId: (() => {
        let n = 0;
        return () => String(++n);
      })(),
      append() {},
      since: () => Promise.reject(new Error('redis down')),
    };
    const channel = new Channel({ store: failing });
    const gaps: SSEError[] = [];
    channel.on('gap', (_s, e) => gaps.push(e));
    const s = subscriber('41');
    channel.add(s.stream);
    channel.write('live');
    await settle();
    await settle();
    assert.deepEqual(s.data(), ['live']);
    assert.equal(gaps.length, 1);
    assert.equal(gaps[0].code, ErrorCode.HISTORY_GAP);
    assert.equal((gaps[0].cause as Error).message, 'redis down');
  });

  test('a subscriber that leaves during the replay gets nothing and is not written to', async () => {
    const store = new DeferredStore('call');
    const channel = new Channel({ store });
    channel.write('a');
    const s = subscriber('nope');
    channel.add(s.stream);
    channel.delete(s.stream);
    store.pending[0].resolve();
    await settle();
    assert.equal(s.text(), ':ok\n\n');
  });

  test('live events queued behind a slow replay are bounded by maxBufferedBytes', async () => {
    const store = new DeferredStore('call');
    const channel = new Channel({ store });
    const stream = new SSEStream({ headers: { 'last-event-id': 'x' } }, { heartbeat: 0, maxBufferedBytes: 1000 });
    stream.pipe(new Writable({ write: (_c, _e, cb) => cb() }));
    const left: Array<SSEError | undefined> = [];
    channel.on('leave', (_s, reason) => left.push(reason));
    channel.add(stream);
    for (let i = 0; i < 20; i++) channel.write('x'.repeat(100));
    assert.equal(channel.size, 0);
    assert.equal(left[0]?.code, ErrorCode.CLIENT_TOO_SLOW);
    store.pending[0].resolve();
    await settle();
    assert.equal(stream.destroyed, true);
  });
});

/**
 * A history that answers a few turns of the event loop later, with what it holds
 * then: the events broadcast meanwhile are both queued live and in the replay.
 */
class SlowStore implements HistoryStore {
  readonly inner = new MemoryHistory({ limit: 1000 });
  appended = 0;
  /** How many replays had events broadcast while they were pending. */
  raced = 0;
  nextId(): string {
    return this.inner.nextId();
  }
  append(event: StoredEvent): void {
    this.appended++;
    this.inner.append(event);
  }
  since(lastEventId: string): Promise<HistoryResult> {
    const at = this.appended;
    return new Promise((resolve) =>
      setImmediate(() =>
        setImmediate(() => {
          if (this.appended > at) this.raced++;
          resolve(this.inner.since(lastEventId));
        }),
      ),
    );
  }
}

describe('Channel: over HTTP', () => {
  const stores = {
    'in-memory history': () => new Channel({ history: 1000 }),
    'an asynchronous store': () => new Channel({ store: new SlowStore() }),
  };
  for (const [name, makeChannel] of Object.entries(stores)) {
    test(`clients reconnecting with Last-Event-ID while broadcasts race the replay: every event once, in order (${name})`, async () => {
      const channel = makeChannel();
      const srv = await serve((req, res) => {
        const stream = new SSEStream(req, { heartbeat: 0 });
        stream.pipe(res);
        channel.add(stream);
      });
      try {
        const TOTAL = 1000;
        const watcher = await EventClient.open(srv.url);
        await new Promise<void>((resolve) => (channel.size === 1 ? resolve() : channel.once('join', () => resolve())));
        let sent = 0;
        // The producer never waits for the clients: a broadcast in every turn of the event loop.
        const produce = () => {
          channel.write({ data: String(sent++) });
          if (sent < TOTAL) setImmediate(produce);
        };
        produce();
        const reconnecting: Array<{ from: number; client: EventClient }> = [];
        for (let k = 0; k < 20; k++) {
          await watcher.waitFor(10 + k * 45);
          const from = 5 + k * 40;
          const seen = watcher.events[from];
          const client = await EventClient.open(srv.url, { 'Last-Event-ID': seen.lastEventId });
          reconnecting.push({ from, client });
        }
        await watcher.waitFor(TOTAL);
        for (const { from, client } of reconnecting) {
          const events = await client.waitFor(TOTAL - from - 1);
          assert.deepEqual(
            events.map((e) => Number(e.data)),
            Array.from({ length: TOTAL - from - 1 }, (_, i) => from + 1 + i),
          );
        }
        channel.end();
        await Promise.all([watcher.waitEnd(), ...reconnecting.map((r) => r.client.waitEnd())]);
        for (const { from, client } of reconnecting) assert.equal(client.events.length, TOTAL - from - 1, 'nothing repeated');
        if (channel.store instanceof SlowStore) assert.ok(channel.store.raced > 0, 'some replays raced live broadcasts');
      } finally {
        await srv.close();
      }
    });
  }
});
