/**
 * `sseResponse()` and the stream it hands over (lib/web.ts, lib/web-stream.ts,
 * lib/sink-web.ts), in process: the Response's head and bytes, backpressure
 * through the body's pull, the client leaving through cancel() and the
 * request's signal, the slow-client bound, maxDuration, options and errors,
 * and a Channel holding Node and web streams at once. The real runtimes run
 * the room scenarios in spec/web-*.spec.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { sseResponse, WebSSEStream, Channel, prepare } from '../lib/web.ts';
import { SSEStream } from '../lib/stream.ts';
import { ErrorCode, SSEError } from '../lib/errors.ts';
import { parse } from '../lib/parser.ts';
import type { WebStreamOptions } from '../lib/types.ts';

const decoder = new TextDecoder();

/** What a runtime does with the Response: read its body, chunk by chunk. */
class Body {
  readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly chunks: Uint8Array[] = [];
  text = '';
  done = false;

  constructor(res: Response) {
    this.reader = (res.body as ReadableStream<Uint8Array>).getReader();
  }

  /** One read: the chunk's text, or null at the end. */
  async read(): Promise<string | null> {
    const { done, value } = await this.reader.read();
    if (done) {
      this.done = true;
      return null;
    }
    this.chunks.push(value);
    const text = decoder.decode(value);
    this.text += text;
    return text;
  }

  /** Read until the text so far ends with `tail` (bounded). */
  async until(tail: string): Promise<string> {
    for (let i = 0; i < 1000 && !this.text.endsWith(tail); i++) if ((await this.read()) === null) break;
    assert.ok(this.text.endsWith(tail), `the body so far: ${JSON.stringify(this.text)}`);
    return this.text;
  }

  /** Read to the end (bounded). */
  async all(): Promise<string> {
    for (let i = 0; i < 100_000 && !this.done; i++) await this.read();
    return this.text;
  }
}

/** sseResponse with the stream handed out (heartbeat off unless given). */
function open(
  options: WebStreamOptions = {},
  init: RequestInit = {},
  url = 'http://127.0.0.1/events',
): { stream: WebSSEStream; res: Response; body: Body } {
  let stream!: WebSSEStream;
  const res = sseResponse(new Request(url, init), (s) => void (stream = s), { heartbeat: 0, ...options });
  return { stream, res, body: new Body(res) };
}

/** Let microtasks (the session's flush, deferred events) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('sseResponse: the Response', () => {
  test('status 200 and the event stream headers, never a connection-specific one', () => {
    const { res } = open();
    assert.equal(res.status, 200);
    assert.deepEqual([...res.headers], [
      ['cache-control', 'no-cache, no-transform'],
      ['content-type', 'text/event-stream; charset=utf-8'],
      ['x-accel-buffering', 'no'],
    ]);
    res.headers.set('x-request-id', '7'); // the application's own headers go on the Response
    assert.equal(res.headers.get('x-request-id'), '7');
  });

  test('the preamble (and retry hint) first, then events, byte for byte', async () => {
    let stream!: WebSSEStream;
    const res = sseResponse(new Request('http://h/'), (s) => {
      stream = s;
      s.write({ event: 'hello', id: 1, data: { at: 5 } });
    }, { heartbeat: 0, retry: 1000 });
    const body = new Body(res);
    await body.until('data: {"at":5}\n\n');
    stream.write('two\nlines');
    stream.end({ comment: 'bye' });
    assert.equal(await body.all(), ':ok\n\nretry: 1000\n\nevent: hello\nid: 1\ndata: {"at":5}\n\ndata: two\ndata: lines\n\n: bye\n\n');
  });

  test('events of one tick are one chunk of UTF-8 bytes (a lone surrogate becomes U+FFFD, as on Node)', async () => {
    const { stream, body } = open();
    await body.until(':ok\n\n');
    stream.write({ data: 'é🙂' });
    stream.write({ data: '\uD800' });
    const chunk = await body.read();
    assert.equal(chunk, 'data: é🙂\n\ndata: \uFFFD\n\n');
    assert.ok(body.chunks[1] instanceof Uint8Array);
    assert.deepEqual([...body.chunks[1]], [...Buffer.from('data: é🙂\n\ndata: \uD800\n\n', 'utf8')]);
  });

  test('CORS as on Node: the origin echoed with Vary, credentials, nothing for others, * for a wildcard', () => {
    const cors = { origin: ['https://app.example'], credentials: true };
    const allowed = open({ cors }, { headers: { origin: 'https://app.example' } }).res.headers;
    assert.equal(allowed.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(allowed.get('access-control-allow-credentials'), 'true');
    assert.equal(allowed.get('vary'), 'Origin');
    const other = open({ cors }, { headers: { origin: 'https://evil.example' } }).res.headers;
    assert.equal(other.get('access-control-allow-origin'), null);
    assert.equal(other.get('vary'), 'Origin');
    const wildcard = open({ cors: { origin: '*' } }, { headers: { origin: 'https://any.example' } }).res.headers;
    assert.equal(wildcard.get('access-control-allow-origin'), '*');
    assert.equal(wildcard.get('vary'), null);
    // fetch joins repeated headers with ", ": never one allowed origin.
    const joined = new Headers([['origin', 'https://app.example'], ['origin', 'https://app.example']]);
    assert.equal(open({ cors }, { headers: joined }).res.headers.get('access-control-allow-origin'), null);
  });

  test('Last-Event-ID: the UTF-8 a browser sends, decoded; empty or absent is undefined', () => {
    const latin1 = Buffer.from('é-3 ✓', 'utf8').toString('latin1');
    assert.equal(open({}, { headers: { 'last-event-id': latin1 } }).stream.lastEventId, 'é-3 ✓');
    assert.equal(open({}, { headers: { 'last-event-id': '42' } }).stream.lastEventId, '42');
    assert.equal(open({}, { headers: { 'last-event-id': '' } }).stream.lastEventId, undefined);
    assert.equal(open().stream.lastEventId, undefined);
  });
});

describe('sseResponse: arguments and options', () => {
  test('options are read by one rules table: names with a hint, ranges, the web-only maxDuration', () => {
    const req = new Request('http://h/');
    assert.throws(() => sseResponse(req, () => {}, { maxDurtion: 5 } as never), {
      name: 'SSETypeError',
      code: ErrorCode.INVALID_OPTION,
      message: /^sseResponse: unknown option "maxDurtion" \(did you mean "maxDuration"\?\); allowed: heartbeat, maxBufferedBytes, highWaterMark, cors, retry, compress, maxDuration$/,
    });
    assert.throws(() => sseResponse(req, () => {}, { maxDuration: -1 }), {
      name: 'SSERangeError',
      code: ErrorCode.INVALID_OPTION,
      message: 'sseResponse: maxDuration must be an integer from 0 to 2147483647 (ms; 0 turns it off); got -1',
    });
    assert.throws(() => sseResponse(req, () => {}, { heartbeat: '5' } as never), { code: ErrorCode.INVALID_OPTION });
    assert.throws(() => sseResponse(req, () => {}, { cors: { origin: '*', credentials: true } }), { code: ErrorCode.INVALID_OPTION });
  });

  test('the request and the handler are checked: ERR_SSE_INVALID_ARGUMENT', () => {
    assert.throws(() => sseResponse(undefined as never, () => {}), {
      name: 'SSETypeError',
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'sseResponse: the first argument must be the fetch Request (with headers and signal); got undefined',
    });
    assert.throws(() => sseResponse(new Request('http://h/'), undefined as never), {
      code: ErrorCode.INVALID_ARGUMENT,
      message: 'sseResponse: the second argument must be a function (stream) => void; got undefined',
    });
  });

  test('a handler that throws: sseResponse throws its error and the stream is closed', async () => {
    let stream!: WebSSEStream;
    const boom = new Error('boom');
    assert.throws(() => sseResponse(new Request('http://h/'), (s) => {
      stream = s;
      throw boom;
    }), boom);
    assert.equal(stream.writable, false);
    await settle();
    assert.equal(stream.destroyed, true);
  });

  test("a handler whose promise rejects aborts the stream: 'error' when listened to, else logged", async (t) => {
    const logged = t.mock.method(console, 'error', () => {});
    const errors: unknown[] = [];
    const res = sseResponse(new Request('http://h/'), async (s) => {
      s.on('error', (e) => errors.push(e));
      await Promise.resolve();
      throw new Error('later');
    });
    const body = new Body(res);
    await assert.rejects(body.all(), /later/);
    assert.deepEqual(errors.map((e) => (e as Error).message), ['later']);
    assert.equal(logged.mock.callCount(), 0);

    const quiet = sseResponse(new Request('http://h/'), () => Promise.reject(new Error('unheard')));
    await assert.rejects(new Body(quiet).all(), /unheard/);
    assert.equal(logged.mock.callCount(), 1);
    assert.match(String(logged.mock.calls[0].arguments[0]), /the sseResponse handler failed/);
    assert.equal((logged.mock.calls[0].arguments[1] as Error).message, 'unheard');
  });
});

describe('WebSSEStream: writing', () => {
  test('invalid input throws at write() with the codes SSEStream uses, and sends nothing', async () => {
    const { stream, body } = open();
    assert.throws(() => stream.write({ event: 'x\ndata: forged', data: 'y' }), { name: 'SSETypeError', code: ErrorCode.INVALID_EVENT });
    assert.throws(() => stream.write({ id: 'a\0b', data: 'y' }), { code: ErrorCode.INVALID_ID });
    assert.throws(() => stream.write({ retry: -1 }), { name: 'SSERangeError', code: ErrorCode.INVALID_RETRY });
    assert.throws(() => stream.write({ data: 1n }), { code: ErrorCode.INVALID_DATA });
    assert.throws(() => stream.write(new Date() as never), { code: ErrorCode.INVALID_MESSAGE });
    stream.end('ok');
    assert.equal(await body.all(), ':ok\n\ndata: ok\n\n');
  });

  test('a prepared event is sent as its frame', async () => {
    const { stream, body } = open();
    const event = prepare({ event: 'e', id: 'p', data: [1] });
    stream.write(event);
    stream.end();
    assert.equal(await body.all(), ':ok\n\n' + event.frame);
  });

  test("write() says false at highWaterMark; 'drain' comes when the runtime reads", async () => {
    const { stream, body } = open({ highWaterMark: 64 });
    await body.until(':ok\n\n');
    let n = 0;
    while (stream.write({ data: 'x'.repeat(20) }) && n < 100) n++;
    assert.ok(n < 10, `false after a few writes (${n})`);
    assert.equal(stream.writableNeedDrain, true);
    assert.ok(stream.writableLength >= 64);
    let drained = 0;
    stream.on('drain', () => drained++);
    await settle();
    assert.equal(drained, 0, 'nobody read yet');
    await body.read();
    for (let i = 0; i < 100 && drained === 0; i++) await body.read();
    assert.equal(drained, 1);
    assert.equal(stream.writableNeedDrain, false);
  });

  test("end(message, cb): sends it, closes the body; 'finish', cb, then 'close'; later writes are refused", async () => {
    const { stream, body } = open();
    const seen: string[] = [];
    stream.on('finish', () => seen.push('finish'));
    stream.on('close', () => seen.push('close'));
    stream.on('disconnect', () => seen.push('disconnect'));
    stream.end({ data: 'last' }, () => seen.push('cb'));
    assert.equal(stream.writable, false);
    assert.equal(stream.writableEnded, true);
    assert.equal(await body.all(), ':ok\n\ndata: last\n\n');
    await settle();
    assert.deepEqual(seen, ['finish', 'cb', 'close']);
    assert.equal(stream.writableFinished, true);
    const refused = await new Promise<Error | null | undefined>((resolve) => assert.equal(stream.write('late', resolve), false));
    assert.equal((refused as SSEError).code, ErrorCode.STREAM_CLOSED);
  });

  test('cork() holds events until uncork(): one chunk', async () => {
    const { stream, body } = open();
    await body.until(':ok\n\n');
    stream.cork();
    stream.write('a');
    await settle();
    stream.write('b');
    stream.uncork();
    assert.equal(await body.read(), 'data: a\n\ndata: b\n\n');
  });

  test("destroy(error): the body errors; 'error' then 'close'; no 'disconnect'", async () => {
    const { stream, body } = open();
    const seen: string[] = [];
    stream.on('error', (e: Error) => seen.push(`error ${e.message}`));
    stream.on('close', () => seen.push('close'));
    stream.on('disconnect', () => seen.push('disconnect'));
    stream.destroy(new Error('bad'));
    await assert.rejects(body.all(), /bad/);
    await settle();
    assert.deepEqual(seen, ['error bad', 'close']);
    assert.equal(stream.destroyed, true);
  });
});

describe('WebSSEStream: the client leaving', () => {
  test("the body's cancel(): 'disconnect' once with ERR_SSE_CLIENT_CLOSED, signal aborted, writes refused with the reason", async () => {
    const { stream, body } = open();
    const reasons: SSEError[] = [];
    stream.on('disconnect', (r) => reasons.push(r));
    const signal = stream.signal;
    await body.reader.cancel();
    assert.equal(reasons.length, 1);
    assert.equal(reasons[0].code, ErrorCode.CLIENT_CLOSED);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, reasons[0]);
    assert.equal(stream.disconnected, true);
    assert.equal(stream.disconnectReason, reasons[0]);
    const refused = await new Promise((resolve) => assert.equal(stream.write('x', resolve), false));
    assert.equal(refused, reasons[0]);
    await settle();
    assert.equal(stream.destroyed, true);
  });

  test("the request's signal: the same, once, whichever of the two comes first", async () => {
    for (const first of ['signal', 'cancel'] as const) {
      const left = new AbortController();
      const { stream, body } = open({}, { signal: left.signal });
      const codes: string[] = [];
      stream.on('disconnect', (r) => codes.push(r.code));
      if (first === 'signal') left.abort();
      else await body.reader.cancel();
      assert.deepEqual(codes, [ErrorCode.CLIENT_CLOSED], `seen from the ${first} alone`);
      if (first === 'signal') await body.reader.cancel();
      else left.abort();
      await settle();
      assert.deepEqual(codes, [ErrorCode.CLIENT_CLOSED], 'once');
    }
  });

  test('a request whose signal already aborted is gone at once (after the handler ran); a Channel lets it go', async () => {
    const channel = new Channel();
    const left: unknown[] = [];
    channel.on('leave', (_s, reason) => left.push(reason));
    let stream!: WebSSEStream;
    const codes: string[] = [];
    sseResponse(new Request('http://h/', { signal: AbortSignal.abort() }), (s) => {
      stream = s;
      s.on('disconnect', (r) => codes.push(r.code));
      channel.add(s);
    }, { heartbeat: 0 });
    await Promise.resolve();
    assert.deepEqual(codes, [ErrorCode.CLIENT_CLOSED]);
    assert.equal(stream.writable, false);
    assert.equal(channel.size, 0);
    assert.equal((left[0] as SSEError).code, ErrorCode.CLIENT_CLOSED);
  });

  test("the server's own end() and destroy() are not a disconnect, and the signal stays quiet", async () => {
    const a = open();
    const b = open();
    const seen: string[] = [];
    for (const x of [a, b]) x.stream.on('disconnect', () => seen.push('disconnect'));
    const signals = [a.stream.signal, b.stream.signal];
    a.stream.end();
    b.stream.destroy();
    await a.body.all();
    await b.body.all();
    await settle();
    assert.deepEqual(seen, []);
    assert.deepEqual(signals.map((s) => s.aborted), [false, false]);
  });

  test('maxBufferedBytes: a client whose runtime stopped pulling is dropped with ERR_SSE_CLIENT_TOO_SLOW, the body aborted', async () => {
    const { stream, body } = open({ maxBufferedBytes: 10_000, highWaterMark: 1024 });
    const reasons: SSEError[] = [];
    stream.on('disconnect', (r) => reasons.push(r));
    let sent = 0;
    for (; sent < 1000 && stream.writable; sent++) {
      stream.write({ data: 'x'.repeat(100) });
      if (sent % 10 === 9) await settle();
    }
    assert.ok(sent < 1000, 'dropped');
    assert.equal(reasons.length, 1);
    assert.equal(reasons[0].code, ErrorCode.CLIENT_TOO_SLOW);
    assert.match(reasons[0].message, /more than maxBufferedBytes \(10000\)/);
    await assert.rejects(body.all());
  });

  test('maxDuration ends the response cleanly at its time: finish, no disconnect; the timer goes when the stream does', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { stream, body } = open({ maxDuration: 30_000 });
    const seen: string[] = [];
    stream.on('finish', () => seen.push('finish'));
    stream.on('disconnect', () => seen.push('disconnect'));
    t.mock.timers.tick(29_999);
    assert.equal(stream.writable, true);
    t.mock.timers.tick(1);
    assert.equal(stream.writable, false);
    assert.equal(await body.all(), ':ok\n\n');
    await settle();
    assert.deepEqual(seen, ['finish']);

    const early = open({ maxDuration: 30_000 });
    early.stream.end();
    await early.body.all();
    await settle();
    let ended = 0;
    early.stream.on('finish', () => ended++);
    t.mock.timers.tick(60_000);
    assert.equal(ended, 0);
  });

  test('heartbeat: a comment after silence, from the shared sweeping timer; none after the end', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
    const { stream, body } = open({ heartbeat: 1000 });
    await body.until(':ok\n\n');
    t.mock.timers.tick(1000);
    assert.equal(await body.read(), ':\n\n');
    stream.end();
    await body.all();
    t.mock.timers.tick(5000);
    assert.equal(body.text, ':ok\n\n:\n\n');
  });
});

describe('Channel: Node and web streams at once', () => {
  test('one broadcast reaches an SSEStream and a web stream as the same bytes; both leave on their own', async () => {
    const channel = new Channel({ history: 10 });
    let nodeText = '';
    const dest = new Writable({
      write(chunk: Buffer, _enc, cb) {
        nodeText += chunk.toString();
        cb();
      },
    });
    const node = new SSEStream(undefined, { heartbeat: 0 });
    node.pipe(dest);
    const web = open();
    channel.add(node);
    channel.add(web.stream);
    channel.write({ event: 'chat', data: { text: 'hi' } });
    await web.body.until('}\n\n');
    await settle();
    const webEvents = parse(web.body.text).events;
    assert.deepEqual(parse(nodeText).events, webEvents);
    assert.equal(webEvents.length, 1);
    assert.match(webEvents[0].lastEventId, /^\d+$/);

    // A web stream that reconnects gets what it missed, from the same history.
    await web.body.reader.cancel();
    assert.equal(channel.has(web.stream), false);
    channel.write({ event: 'chat', id: 'm', data: 'missed' });
    const back = open({}, { headers: { 'last-event-id': webEvents[0].lastEventId } });
    channel.add(back.stream);
    await back.body.until('data: missed\n\n');
    assert.equal(channel.size, 2);
    node.destroy();
    await settle();
    assert.equal(channel.size, 1);
    channel.end();
    await back.body.all();
  });
});

describe('sseResponse: compression where the runtime has node:zlib', () => {
  const zlib = require('node:zlib') as typeof import('node:zlib');
  const inflaters: Record<string, () => import('node:stream').Transform> = {
    gzip: () => zlib.createGunzip(),
    br: () => zlib.createBrotliDecompress(),
    deflate: () => zlib.createInflate(),
  };
  for (const encoding of ['gzip', 'br', 'deflate'] as const) {
    test(`${encoding}: Content-Encoding and Vary set, each event readable before the next is written`, async () => {
      let stream!: WebSSEStream;
      const request = new Request('http://x/sse', { headers: { 'accept-encoding': encoding, origin: 'https://app.example' } });
      const res = sseResponse(request, (s) => void (stream = s), {
        heartbeat: 0,
        compress: { encodings: [encoding] },
        cors: { origin: 'https://app.example' },
      });
      assert.equal(res.headers.get('content-encoding'), encoding);
      assert.equal(res.headers.get('vary'), 'Origin, Accept-Encoding');
      assert.equal(stream.contentEncoding, encoding);
      const inflate = inflaters[encoding]();
      let text = '';
      inflate.on('data', (c: Buffer) => (text += c.toString()));
      const reader = res.body!.getReader();
      const readUntil = async (want: string) => {
        for (let i = 0; i < 50 && !text.includes(want); i++) {
          const { value, done } = await reader.read();
          if (done) break;
          await new Promise<void>((resolve) => inflate.write(value, () => setImmediate(resolve)));
        }
        assert.ok(text.includes(want), `${JSON.stringify(want)} readable; got ${JSON.stringify(text)}`);
      };
      stream.write({ id: 1, data: { n: 1, note: 'the same keys every time' } });
      await readUntil('id: 1\n');
      stream.write({ id: 2, data: { n: 2, note: 'the same keys every time' } });
      await readUntil('id: 2\n');
      stream.end();
      for (let i = 0; i < 50; i++) {
        const { value, done } = await reader.read();
        if (done) break;
        inflate.write(value);
      }
      inflate.end();
      await new Promise((r) => inflate.on('end', r));
      assert.deepEqual(parse(text).events.map((e) => [e.lastEventId, JSON.parse(e.data).n]), [['1', 1], ['2', 2]]);
    });
  }

  test('no Accept-Encoding: identity, with Vary: Accept-Encoding (the answer depended on it)', async () => {
    const res = sseResponse(new Request('http://x/sse'), (s) => void s.end({ data: 'x' }), { heartbeat: 0, compress: true });
    assert.equal(res.headers.get('content-encoding'), null);
    assert.equal(res.headers.get('vary'), 'Accept-Encoding');
    assert.equal(await res.text(), ':ok\n\ndata: x\n\n');
  });
});
