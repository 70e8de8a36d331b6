import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { SSEStream, endAll, openStreamCount } from '../lib/stream.ts';
import { ErrorCode, SSEError, SSERangeError, SSETypeError } from '../lib/errors.ts';

/** A Writable that records every chunk it receives, as text. */
function sink(options: { stall?: boolean } = {}) {
  const chunks: string[] = [];
  const w = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      if (!options.stall) cb();
    },
  });
  return { w, chunks, text: () => chunks.join('') };
}

describe('SSEStream: piping into a plain Writable', () => {
  test('preamble goes first, then events, exact bytes', async () => {
    const { w, text } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(w);
    s.write({ data: 'a' });
    s.write({ event: 'e', id: 1, data: { x: 1 } });
    s.end();
    await once(w, 'finish');
    assert.equal(text(), ':ok\n\ndata: a\n\nevent: e\nid: 1\ndata: {"x":1}\n\n');
  });

  test('events written before pipe() are delivered after the preamble', async () => {
    const { w, text } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.write('early');
    s.pipe(w);
    s.end();
    await once(w, 'finish');
    assert.equal(text(), ':ok\n\ndata: early\n\n');
  });

  test('events written in the same tick leave as one chunk', async () => {
    const { w, chunks } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(w);
    for (let i = 0; i < 3; i++) s.write({ id: i, data: 'x' });
    s.end();
    await once(w, 'finish');
    assert.deepEqual(chunks, [':ok\n\n', 'id: 0\ndata: x\n\nid: 1\ndata: x\n\nid: 2\ndata: x\n\n']);
  });

  test('a lone event reaches the destination before setImmediate callbacks run', async () => {
    const { w, text } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(w);
    await new Promise((r) => setImmediate(r));
    s.write('now');
    const seen = await new Promise<string>((resolve) => setImmediate(() => resolve(text())));
    assert.equal(seen, ':ok\n\ndata: now\n\n');
    s.end();
  });

  test('the batch is bounded: highWaterMark bytes flush at once, one chunk each', async () => {
    const { w, chunks } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0, highWaterMark: 64 });
    s.pipe(w);
    const frame = 'data: 0123456789012345678901234\n\n'; // 33 bytes
    for (let i = 0; i < 4; i++) s.write('0123456789012345678901234');
    s.end();
    await once(w, 'finish');
    assert.deepEqual(chunks, [':ok\n\n', frame + frame, frame + frame]);
  });

  test('invalid input throws at write(), writes nothing, and the stream stays usable', async () => {
    const { w, text } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(w);
    assert.throws(() => s.write({ event: 'x\ndata: forged', data: 'y' }), { code: ErrorCode.INVALID_EVENT, name: 'SSETypeError' });
    assert.throws(() => s.write({ id: 'a\rb', data: 'y' }), SSETypeError);
    assert.throws(() => s.write({ retry: -5 }), SSERangeError);
    const circular: Record<string, unknown> = {};
    circular.me = circular;
    assert.throws(() => s.write({ data: circular }), { code: ErrorCode.INVALID_DATA });
    assert.throws(() => s.write({ data: 1n }), { code: ErrorCode.INVALID_DATA });
    assert.throws(() => s.write(5 as never), { code: ErrorCode.INVALID_MESSAGE });
    s.write({ data: 'after' });
    s.end();
    await once(w, 'finish');
    assert.equal(text(), ':ok\n\ndata: after\n\n');
  });

  test('end(message) sends it last; write callbacks run after the event left', async () => {
    const { w, text } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(w);
    const order: string[] = [];
    s.write('one', () => order.push('cb1'));
    s.write('two', (err) => order.push(`cb2:${err ?? 'ok'}`));
    s.end({ event: 'bye', data: '' }, () => order.push('end'));
    await once(w, 'finish');
    assert.equal(text(), ':ok\n\ndata: one\n\ndata: two\n\nevent: bye\ndata: \n\n');
    assert.deepEqual(order.slice(0, 2), ['cb1', 'cb2:ok']);
  });

  test('write after end is a no-op that returns false and tells the callback why', async () => {
    const { w, text } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(w);
    const finished = once(w, 'finish');
    s.end();
    let errorEvents = 0;
    s.on('error', () => errorEvents++);
    const cbErr = await new Promise<Error | null | undefined>((resolve) => {
      assert.equal(s.write('late', resolve), false);
    });
    assert.ok(cbErr instanceof SSEError);
    assert.equal((cbErr as SSEError).code, ErrorCode.STREAM_CLOSED);
    await finished;
    assert.equal(text(), ':ok\n\n');
    assert.equal(errorEvents, 0);
  });

  test('cork/uncork holds events until uncork', async () => {
    const { w, chunks } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(w);
    s.cork();
    s.write('a');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(chunks, [':ok\n\n']);
    s.uncork();
    s.end();
    await once(w, 'finish');
    assert.deepEqual(chunks, [':ok\n\n', 'data: a\n\n']);
  });

  test('retry option is sent after the preamble', async () => {
    const { w, text } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0, retry: 250 });
    s.pipe(w);
    s.end();
    await once(w, 'finish');
    assert.equal(text(), ':ok\n\nretry: 250\n\n');
  });

  test('also readable without pipe (on data)', async () => {
    const s = new SSEStream();
    let out = '';
    s.on('data', (c: Buffer) => (out += c));
    s.write('x');
    s.end();
    await once(s, 'end');
    assert.equal(out, 'data: x\n\n');
  });

  test('writeMessage is write', async () => {
    const { w, text } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(w);
    assert.equal(s.writeMessage({ data: 1 }), true);
    s.end();
    await once(w, 'finish');
    assert.equal(text(), ':ok\n\ndata: 1\n\n');
  });
});

describe('SSEStream: backpressure', () => {
  test('write() returns false once highWaterMark is buffered, and drain comes when it is read', async () => {
    const s = new SSEStream(undefined, { heartbeat: 0, highWaterMark: 100 });
    const results: boolean[] = [];
    // Not piped, nobody reading: the buffer fills.
    for (let i = 0; i < 10; i++) results.push(s.write('0123456789012345678901234567890123456789'));
    assert.equal(results[0], true);
    assert.equal(results.at(-1), false);
    const drained = once(s, 'drain');
    s.resume();
    await drained;
    s.destroy();
  });

  test('a writer honouring false/drain delivers everything in order through a slow destination', async () => {
    const chunks: string[] = [];
    const slow = new Writable({
      highWaterMark: 256,
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk.toString());
        setImmediate(cb);
      },
    });
    const s = new SSEStream(undefined, { heartbeat: 0, highWaterMark: 256 });
    s.pipe(slow);
    let falses = 0;
    for (let i = 0; i < 2000; i++) {
      if (!s.write({ id: i, data: 'payload' })) {
        falses++;
        await once(s, 'drain');
      }
    }
    s.end();
    await once(slow, 'finish');
    const text = chunks.join('');
    let expected = ':ok\n\n';
    for (let i = 0; i < 2000; i++) expected += `id: ${i}\ndata: payload\n\n`;
    assert.equal(text, expected);
    assert.ok(falses > 10, `write() returned false ${falses} times`);
  });
});

describe('SSEStream: disconnect', () => {
  test('destination closing before end: one disconnect, signal aborts, writes become no-ops', async () => {
    const dest = new PassThrough();
    dest.resume();
    const s = new SSEStream(undefined, { heartbeat: 50 });
    s.pipe(dest);
    const reasons: SSEError[] = [];
    s.on('disconnect', (r) => reasons.push(r));
    let errors = 0;
    s.on('error', () => errors++);
    const closed = once(s, 'close');
    dest.destroy();
    await closed;
    assert.equal(reasons.length, 1);
    assert.equal(reasons[0].code, ErrorCode.CLIENT_CLOSED);
    assert.equal(s.disconnected, true);
    assert.equal(s.signal.aborted, true);
    assert.equal(s.signal.reason, reasons[0]);
    assert.equal(s.write('x'), false);
    assert.equal(s.write({ data: 'y' }), false);
    assert.equal(errors, 0);
    assert.equal(reasons.length, 1);
  });

  test('200k writes after the client left do not grow memory', async () => {
    const dest = new PassThrough();
    dest.resume();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(dest);
    dest.destroy();
    await once(s, 'disconnect');
    const message = { event: 'tick', data: 'hello world' };
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 200_000; i++) s.write(message);
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 4 * 1024 * 1024, `heap grew by ${grown} bytes`);
  });

  test('server end() and destroy() never emit disconnect', async () => {
    for (const how of ['end', 'destroy'] as const) {
      const dest = new PassThrough();
      dest.resume();
      const s = new SSEStream(undefined, { heartbeat: 0 });
      s.pipe(dest);
      let disconnects = 0;
      s.on('disconnect', () => disconnects++);
      s.write('x');
      const closed = once(s, 'close');
      if (how === 'end') s.end();
      else s.destroy();
      await closed;
      if (!dest.destroyed) dest.destroy();
      await new Promise((r) => setImmediate(r));
      assert.equal(disconnects, 0, how);
      assert.equal(s.signal.aborted, false, how);
    }
  });

  test('a stalled client past maxBufferedBytes is disconnected as too slow', async () => {
    const { w } = sink({ stall: true });
    const s = new SSEStream(undefined, { heartbeat: 0, maxBufferedBytes: 10_000, highWaterMark: 1000 });
    s.pipe(w);
    const reason = once(s, 'disconnect');
    const big = 'x'.repeat(500);
    let sent = 0;
    while (!s.disconnected && sent < 1000) {
      s.write(big); // ignores backpressure, as naive code does
      sent++;
    }
    const [r] = (await reason) as [SSEError];
    assert.equal(r.code, ErrorCode.CLIENT_TOO_SLOW);
    assert.match(r.message, /more than maxBufferedBytes \(10000\)/);
    assert.ok(sent < 1000);
    assert.equal(w.destroyed, true);
  });
});

describe('SSEStream: heartbeat', () => {
  test('a comment goes out after 7/8 to 1x `heartbeat` ms of silence (never more), and stops at end', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
    const { w, chunks } = sink();
    const s = new SSEStream(undefined, { heartbeat: 1000 });
    s.pipe(w);
    // One timer for every stream sweeps each eighth of the interval; a stream silent for seven sweeps beats.
    t.mock.timers.tick(874);
    assert.deepEqual(chunks, [':ok\n\n']);
    t.mock.timers.tick(126);
    assert.deepEqual(chunks, [':ok\n\n', ':\n\n'], 'within 1000 ms of silence');
    t.mock.timers.tick(500);
    s.write('x');
    await Promise.resolve();
    t.mock.timers.tick(874); // less than 7/8 of the interval after the event: still quiet
    assert.deepEqual(chunks, [':ok\n\n', ':\n\n', 'data: x\n\n']);
    t.mock.timers.tick(126);
    assert.deepEqual(chunks, [':ok\n\n', ':\n\n', 'data: x\n\n', ':\n\n'], 'within 1000 ms after the event');
    s.end();
    await once(w, 'finish');
    t.mock.timers.tick(5000);
    assert.equal(chunks.length, 4);
  });

  test('heartbeat 0 sends none', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
    const { w, chunks } = sink();
    const s = new SSEStream(undefined, { heartbeat: 0 });
    s.pipe(w);
    t.mock.timers.tick(60_000);
    assert.deepEqual(chunks, [':ok\n\n']);
    s.destroy();
  });
});

describe('SSEStream: options and shutdown', () => {
  test('options are validated with what is allowed', () => {
    assert.throws(() => new SSEStream(undefined, { heartbeat: -1 }), {
      name: 'SSERangeError',
      code: ErrorCode.INVALID_OPTION,
      message: 'SSEStream: heartbeat must be an integer from 0 to 2147483647 (ms; 0 turns it off); got -1',
    });
    assert.throws(() => new SSEStream(undefined, { heartBeat: 5 } as never), {
      name: 'SSETypeError',
      message: 'SSEStream: unknown option "heartBeat" (did you mean "heartbeat"?); allowed: heartbeat, maxBufferedBytes, highWaterMark, cors, retry, compress',
    });
    assert.throws(() => new SSEStream(undefined, { highWaterMark: 0 }), { code: ErrorCode.INVALID_OPTION });
    assert.throws(() => new SSEStream(undefined, { cors: { origin: 5 } } as never), {
      name: 'SSETypeError',
      message: /cors.origin must be a string, an array of strings, a RegExp or a function/,
    });
  });

  test('endAll ends every open stream with a last message', async () => {
    const sinks = [sink(), sink()];
    const streams = sinks.map(({ w }) => {
      const s = new SSEStream(undefined, { heartbeat: 0 });
      s.pipe(w);
      return s;
    });
    assert.equal(openStreamCount(), 2);
    assert.equal(endAll({ event: 'shutdown', data: '' }), 2);
    await Promise.all(sinks.map(({ w }) => once(w, 'finish')));
    for (const { text } of sinks) assert.equal(text(), ':ok\n\nevent: shutdown\ndata: \n\n');
    assert.equal(openStreamCount(), 0);
    assert.equal(streams.every((s) => !s.disconnected), true);
  });

  test('lastEventId comes from the request header, when valid', () => {
    const req = (v?: string) => ({ headers: v === undefined ? {} : { 'last-event-id': v } });
    assert.equal(new SSEStream(req('41')).lastEventId, '41');
    assert.equal(new SSEStream(req()).lastEventId, undefined);
    assert.equal(new SSEStream(req('')).lastEventId, undefined);
    assert.equal(new SSEStream(req('a\0b')).lastEventId, undefined);
    assert.equal(new SSEStream().lastEventId, undefined);
  });
});
