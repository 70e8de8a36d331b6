/**
 * Crashes of issue 11, each reproduced: an invalid message in a piped source
 * (it threw from inside pipe and the process exited), and async replay failures
 * (unhandled rejections). Every case asserts what the user sees instead, and
 * that no error escaped as an uncaught exception or unhandled rejection.
 */
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream';
import { Channel } from '../lib/channel.ts';
import { ErrorCode, type SSEError } from '../lib/errors.ts';
import { MemoryHistory } from '../lib/history.ts';
import { parse } from '../lib/parser.ts';
import { SSEStream } from '../lib/stream.ts';
import type { EventStreamLike, HistoryResult, HistoryStore, StoredEvent } from '../lib/types.ts';
import { deferred, within } from './support/realworld.ts';

// Anything that escapes is recorded here and fails the test that caused it.
let escaped: unknown[] = [];
const onEscape = (err: unknown): void => void escaped.push(err);
beforeEach(() => {
  escaped = [];
  process.on('unhandledRejection', onEscape);
  process.on('uncaughtException', onEscape);
});
afterEach(() => {
  process.removeListener('unhandledRejection', onEscape);
  process.removeListener('uncaughtException', onEscape);
  assert.deepEqual(escaped, [], 'nothing escaped as an unhandled rejection or uncaught exception');
});

/** Let microtasks, nextTicks and one macrotask run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function reader(stream: SSEStream): () => string {
  let text = '';
  stream.pipe(
    new Writable({
      write(chunk: Buffer, _e, cb) {
        text += chunk.toString();
        cb();
      },
    }),
  );
  return () => text;
}

const messages = () => [{ data: 'a' }, { event: 'bad\nevent', data: 'forged?' }, { data: 'c' }];

describe('an invalid message from a piped source is an error event, not a crash', () => {
  test('Readable.from(msgs).pipe(stream): the stream errors with the code, the event before it was sent, nothing forged', async () => {
    const stream = new SSEStream(undefined, { heartbeat: 0 });
    const text = reader(stream);
    const errored = once(stream, 'error');
    Readable.from(messages()).pipe(stream);
    const [err] = (await within(errored, 2000, "the stream's error")) as [SSEError];
    assert.equal(err.code, ErrorCode.INVALID_EVENT);
    await settle();
    assert.deepEqual(parse(text()).events.map((e) => e.data), ['a']);
    assert.equal(stream.destroyed, true);
  });

  test('pipeline(src, stream, cb): the callback gets the error', async () => {
    const stream = new SSEStream(undefined, { heartbeat: 0 });
    reader(stream);
    const done = deferred<NodeJS.ErrnoException | null>();
    pipeline(Readable.from(messages()), stream, (err) => done.resolve(err));
    const err = (await within(done.promise, 2000, "pipeline's callback")) as SSEError | null;
    assert.equal(err?.code, ErrorCode.INVALID_EVENT);
  });

  test('src.pipe(channel): the channel emits the error and the source is unpiped; the channel lives on', async () => {
    const channel = new Channel();
    const stream = new SSEStream(undefined, { heartbeat: 0 });
    const text = reader(stream);
    channel.add(stream);
    const errored = once(channel, 'error');
    const src = Readable.from(messages());
    src.pipe(channel);
    const [err] = (await within(errored, 2000, "the channel's error")) as [SSEError];
    assert.equal(err.code, ErrorCode.INVALID_EVENT);
    assert.equal(channel.write({ data: 'direct' }), true, 'still usable');
    await settle();
    assert.deepEqual(parse(text()).events.map((e) => e.data), ['a', 'direct']);
  });

  test('pipeline(src, channel, cb): the callback gets the error; a valid source ends the channel and its subscribers', async () => {
    const bad = deferred<NodeJS.ErrnoException | null>();
    pipeline(Readable.from(messages()), new Channel(), (err) => bad.resolve(err));
    assert.equal(((await within(bad.promise, 2000, "pipeline's callback")) as SSEError | null)?.code, ErrorCode.INVALID_EVENT);

    const channel = new Channel();
    const dest = new PassThrough();
    let body = '';
    dest.on('data', (c: Buffer) => (body += c));
    const stream = new SSEStream(undefined, { heartbeat: 0 });
    stream.pipe(dest);
    channel.add(stream);
    const good = deferred<NodeJS.ErrnoException | null>();
    const ended = once(dest, 'end');
    pipeline(Readable.from([{ data: 'a' }, 'b']), channel, (err) => good.resolve(err));
    assert.equal(await within(good.promise, 2000, "pipeline's callback"), undefined);
    await within(ended, 2000, 'the subscriber to end');
    assert.equal(body, ':ok\n\ndata: a\n\ndata: b\n\n');
  });

  test('a direct write() of an invalid message still throws at the call', () => {
    const stream = new SSEStream(undefined, { heartbeat: 0 });
    assert.throws(() => stream.write({ event: 'a\nb', data: 'x' }), { code: ErrorCode.INVALID_EVENT });
    assert.throws(() => new Channel().write({ id: 'a\nb' }), { code: ErrorCode.INVALID_ID });
    stream.destroy();
  });
});

/** A store whose since() is whatever the test says (async), over a real history. */
function storeWith(since: (id: string, inner: MemoryHistory) => PromiseLike<unknown>): HistoryStore {
  const inner = new MemoryHistory({ limit: 100 });
  return {
    nextId: () => inner.nextId(),
    append: (event: StoredEvent) => inner.append(event),
    since: (id: string) => since(id, inner) as PromiseLike<HistoryResult>,
  };
}

function subscriber(lastEventId: string) {
  const stream = new SSEStream({ headers: { 'last-event-id': lastEventId } }, { heartbeat: 0 });
  const text = reader(stream);
  return { stream, data: () => parse(text()).events.map((e) => e.data) };
}

describe('async replay failures never escape', () => {
  test('a filter that throws during an async replay: that subscriber leaves with ERR_SSE_SUBSCRIBER_FAILED, its stream ends', async () => {
    const channel = new Channel({ store: storeWith(async (id, inner) => inner.since(id)) });
    channel.write({ id: 'e1', data: '1' });
    channel.write({ id: 'e2', data: '2' });
    const left = once(channel, 'leave');
    const s = subscriber('e1');
    channel.add(s.stream, {
      filter: () => {
        throw new Error('filter bug');
      },
    });
    const [stream, reason] = (await within(left, 2000, "'leave'")) as [EventStreamLike, SSEError];
    assert.equal(stream, s.stream);
    assert.equal(reason.code, ErrorCode.SUBSCRIBER_FAILED);
    assert.equal((reason.cause as Error).message, 'filter bug');
    await within(once(s.stream, 'close'), 2000, 'the stream to end');
    assert.deepEqual(s.data(), []);
  });

  test("a 'gap' listener that throws during an async replay: that subscriber leaves, the others are fine", async () => {
    const channel = new Channel({ store: storeWith(async (id, inner) => inner.since(id)) });
    channel.write({ id: 'e1', data: '1' });
    channel.on('gap', () => {
      throw new Error('listener bug');
    });
    const left = once(channel, 'leave');
    const s = subscriber('unknown');
    channel.add(s.stream);
    const [, reason] = (await within(left, 2000, "'leave'")) as [EventStreamLike, SSEError];
    assert.equal(reason.code, ErrorCode.SUBSCRIBER_FAILED);
    assert.match(reason.message, /a 'gap' listener threw/);
    const ok = subscriber('e1');
    channel.add(ok.stream);
    channel.write({ id: 'e2', data: '2' });
    await settle();
    await settle();
    assert.deepEqual(ok.data(), ['2']);
  });

  const nonsense: Array<[string, (id: string, inner: MemoryHistory) => PromiseLike<unknown>, RegExp]> = [
    ['since() resolves to undefined', async () => undefined, /since\(\) answered undefined/],
    ['since() resolves to an array', async () => [], /since\(\) answered an array/],
    ['since() gives events without frames', async () => ({ found: true, events: [{ id: 'x' }] }), /not \{ events: StoredEvent\[\], found: boolean \}/],
    ['since() gives a frame that would forge an event', async () => ({ found: true, events: [{ id: 'x', frame: 'data: a\n\ndata: forged\n\n' }] }), /not \{ events/],
    ['since() rejects', () => Promise.reject(new Error('redis down')), /redis down/],
    ['since() rejects with undefined', () => Promise.reject(undefined), /since\(\) rejected/],
  ];
  for (const [name, since, cause] of nonsense) {
    test(`${name}: 'gap' with the cause, then live events`, async () => {
      const channel = new Channel({ store: storeWith(since) });
      const gap = once(channel, 'gap');
      const s = subscriber('e1');
      channel.add(s.stream);
      channel.write({ id: 'live', data: 'live' });
      const [, error] = (await within(gap, 2000, "'gap'")) as [EventStreamLike, SSEError];
      assert.equal(error.code, ErrorCode.HISTORY_GAP);
      assert.match(String((error.cause as Error | undefined)?.message), cause);
      await settle();
      assert.deepEqual(s.data(), ['live']);
    });
  }

  test('since() that never answers: after replayTimeout, a gap, then live events', async () => {
    const channel = new Channel({ store: storeWith(() => new Promise(() => undefined)), replayTimeout: 50 });
    const gap = once(channel, 'gap');
    const s = subscriber('e1');
    channel.add(s.stream);
    channel.write({ id: 'live', data: 'live' });
    const [, error] = (await within(gap, 2000, "'gap'")) as [EventStreamLike, SSEError];
    assert.match((error.cause as Error).message, /did not answer within replayTimeout \(50 ms\)/);
    await settle();
    assert.deepEqual(s.data(), ['live']);
  });
});
