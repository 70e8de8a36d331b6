/**
 * The `compress` option over real HTTP/1.1 (and HTTP/2): what goes on the wire
 * decompresses to exactly the events written, each event can be read by the
 * client before the next one is written (for every encoding this Node has), the
 * headers, negotiation, the compressor's life, broadcasts, and the default (off)
 * leaving the bytes on the wire exactly as they were before compression existed.
 * zstd, which Node 20 lacks, runs the same checks on a newer Node: spec/zstd.spec.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { Channel, SSEStream, prepare, serialize, type SSEError, type SSEStreamOptions } from '../lib/index.ts';
import { liveCompressors } from '../lib/sink-compress.ts';
import { AVAILABLE } from '../lib/zlib-node.ts';
import { openDecompressing, type DecompressingClient } from './support/compressed.ts';
import { closeServer, deferred, listen, within } from './support/realworld.ts';

/** What one test's server does with each request. */
type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

let route: Route = (_req, res) => void res.writeHead(404).end();
const server = http.createServer((req, res) => route(req, res));
let base = '';

before(async () => {
  base = `http://127.0.0.1:${await listen(server)}`;
});
after(() => closeServer(server));

/** Serve the next request with a stream made with `options`; resolves with it once piped. */
function serveStream(options: SSEStreamOptions, prepareRes?: (res: http.ServerResponse) => void): Promise<SSEStream> {
  const got = deferred<SSEStream>();
  route = (req, res) => {
    prepareRes?.(res);
    const stream = new SSEStream(req, options);
    stream.pipe(res);
    got.resolve(stream);
  };
  return within(got.promise, 3000, 'the stream to be piped');
}

async function open(options: SSEStreamOptions, acceptEncoding: string | undefined, headers: Record<string, string> = {}) {
  const streamP = serveStream(options);
  const client = await openDecompressing(`${base}/`, acceptEncoding === undefined ? headers : { 'Accept-Encoding': acceptEncoding, ...headers });
  return { client, stream: await streamP };
}

const JSON_EVENT = (n: number) => ({
  event: 'order',
  id: n,
  data: { n, type: 'order.updated', user: { id: 'u_8f14e45fceea167a', name: 'Ada Lovelace', roles: ['admin', 'billing'] }, note: 'Lorem ipsum dolor sit amet, consectetur adipiscing elit' },
});

const bytesOf = (client: DecompressingClient): number => client.received.reduce((n, b) => n + b.length, 0);

// ---------------------------------------------------------------------------

for (const encoding of AVAILABLE) {
  describe(`compress, ${encoding}`, () => {
    test('each event is readable by the client before the next is written; the dictionary is kept across flushes', async () => {
      const { client, stream } = await open({ compress: { encodings: [encoding] }, heartbeat: 0 }, 'gzip, deflate, br, zstd');
      try {
        assert.equal(client.encoding, encoding);
        assert.equal(stream.contentEncoding, encoding);
        assert.equal(client.headers['vary'], 'Accept-Encoding');
        assert.equal(client.headers['cache-control'], 'no-cache, no-transform');
        await client.until(':ok\n\n');
        let expected = ':ok\n\n';
        const sizes: number[] = [];
        for (let n = 1; n <= 5; n++) {
          const before = bytesOf(client);
          const frame = serialize(JSON_EVENT(n));
          stream.write(JSON_EVENT(n));
          expected += frame;
          // Nothing else is written until this event came out of the client's decompressor.
          await client.until(frame, 3000, expected.length - frame.length);
          assert.equal(client.text, expected);
          sizes.push((bytesOf(client) - before) / Buffer.byteLength(frame));
        }
        // A flush that reset the dictionary (Z_FULL_FLUSH: what compression()'s res.flush() does)
        // would send each of these at ~80% of its size; kept, later events cost a few bytes.
        for (const ratio of sizes.slice(1)) assert.ok(ratio < 0.25, `compressed/raw per event: ${sizes.map((r) => r.toFixed(2)).join(', ')}`);
        assert.deepEqual(client.events.map((e) => e.lastEventId), ['1', '2', '3', '4', '5']);
        stream.end({ data: 'bye' });
        assert.equal(await within(client.closed, 3000, 'the end'), 'end', 'the compressed format ends properly');
        assert.equal(client.text, `${expected}data: bye\n\n`);
      } finally {
        client.close();
      }
    });

    test('a heartbeat is flushed too: it reaches the client alone', async () => {
      const { client, stream } = await open({ compress: { encodings: [encoding] }, heartbeat: 60 }, encoding);
      try {
        stream.write({ data: 'first' });
        await client.until(':ok\n\ndata: first\n\n:\n\n');
        stream.end();
        assert.equal(await within(client.closed, 3000, 'the end'), 'end');
        assert.match(client.text, /^:ok\n\ndata: first\n\n(:\n\n)+$/);
      } finally {
        client.close();
      }
    });

    test('what is sent decompresses to exactly what was written: unicode, line breaks, an event larger than a batch', async () => {
      const { client, stream } = await open({ compress: { encodings: [encoding] }, heartbeat: 0, retry: 500 }, encoding);
      try {
        let seed = 7;
        const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
        // 300 KB of text that compresses poorly: more than highWaterMark and than zlib's output chunk.
        const big = Array.from({ length: 20_000 }, () => Math.floor(random() * 36 ** 3).toString(36)).join(' ');
        const messages = [
          { data: 'héllo ✓ 𝄞 \u2028 end' },
          { event: 'multi', data: 'a\nb\r\nc\rd' },
          { comment: 'note', id: 'x1', data: '' },
          { data: big },
          'a bare string',
          { data: { nested: [1, 'two', null] } },
        ];
        let expected = ':ok\n\nretry: 500\n\n';
        for (const m of messages) {
          stream.write(m);
          expected += serialize(m);
        }
        stream.end();
        assert.equal(await within(client.closed, 5000, 'the end'), 'end');
        assert.equal(client.text, expected);
        assert.equal(client.events.length, 6);
        assert.equal(client.events[3].data, big);
      } finally {
        client.close();
      }
    });
  });
}

describe('compress: negotiation and headers', () => {
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined], // no Accept-Encoding: identity
    ['', undefined],
    ['identity', undefined],
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['deflate', 'deflate'],
    ['br;q=0, gzip;q=0', undefined],
    ['*', 'br'],
  ];
  for (const [accept, want] of cases) {
    test(`Accept-Encoding ${accept === undefined ? 'absent' : JSON.stringify(accept)}: ${want ?? 'identity'}, with Vary`, async () => {
      const { client, stream } = await open({ compress: true, heartbeat: 0 }, accept);
      try {
        assert.equal(client.headers['content-encoding'], want);
        assert.equal(stream.contentEncoding, want);
        assert.equal(client.headers['vary'], 'Accept-Encoding');
        stream.end({ data: 'x' });
        assert.equal(await within(client.closed, 3000, 'the end'), 'end');
        assert.equal(client.text, ':ok\n\ndata: x\n\n');
      } finally {
        client.close();
      }
    });
  }

  test("Vary merges the application's own and CORS's Origin", async () => {
    const streamP = serveStream({ compress: true, heartbeat: 0, cors: { origin: 'http://app.example' } }, (res) => res.setHeader('Vary', 'Cookie'));
    const client = await openDecompressing(`${base}/`, { 'Accept-Encoding': 'gzip', Origin: 'http://app.example' });
    const stream = await streamP;
    try {
      assert.equal(client.headers['vary'], 'Cookie, Origin, Accept-Encoding');
      assert.equal(client.headers['access-control-allow-origin'], 'http://app.example');
      assert.equal(client.encoding, 'gzip');
      stream.end({ data: 'x' });
      await within(client.closed, 3000, 'the end');
      assert.equal(client.text, ':ok\n\ndata: x\n\n');
    } finally {
      client.close();
    }
  });

  test('a response that already has a Content-Encoding is left alone (no second encoding, no Vary added)', async () => {
    const streamP = serveStream({ compress: true, heartbeat: 0 }, (res) => res.setHeader('Content-Encoding', 'identity'));
    const client = await openDecompressing(`${base}/`, { 'Accept-Encoding': 'gzip' });
    const stream = await streamP;
    try {
      assert.equal(client.headers['content-encoding'], 'identity');
      assert.equal(client.headers['vary'], undefined);
      assert.equal(stream.contentEncoding, undefined);
      stream.end({ data: 'x' });
      await within(client.closed, 3000, 'the end');
      assert.equal(client.text, ':ok\n\ndata: x\n\n');
    } finally {
      client.close();
    }
  });

  test('the encodings option: only those listed, its order breaking ties', async () => {
    const one = await open({ compress: { encodings: ['gzip', 'br'] }, heartbeat: 0 }, 'br, gzip');
    const two = await open({ compress: { encodings: ['deflate'] }, heartbeat: 0 }, 'br, gzip');
    try {
      assert.equal(one.client.encoding, 'gzip');
      assert.equal(two.client.encoding, 'identity');
      assert.equal(two.client.headers['vary'], 'Accept-Encoding');
    } finally {
      one.stream.end();
      two.stream.end();
      one.client.close();
      two.client.close();
    }
  });
});

describe('compress: the off switch changes nothing on the wire', () => {
  // spec/fixtures/compress-off.txt: these bytes, recorded from the code before the
  // compress option existed (commit 4b5b74b), the Date header blanked.
  const fixture = readFileSync(join(__dirname, 'fixtures', 'compress-off.txt'));
  const options: SSEStreamOptions = { heartbeat: 0, retry: 1000, cors: { origin: 'http://app.example', credentials: true } };

  test('compress absent: the exact bytes of before, though the client accepts gzip, br and zstd', async () => {
    assert.deepEqual(await wireBytes(options), fixture);
  });

  test('compress: false: the same bytes', async () => {
    assert.deepEqual(await wireBytes({ ...options, compress: false }), fixture);
  });

  /** The whole response (status line, headers, chunked body) to one GET, Date blanked. */
  async function wireBytes(opts: SSEStreamOptions): Promise<Buffer> {
    route = (req, res) => {
      res.setHeader('Vary', 'Cookie');
      const stream = new SSEStream(req, opts);
      stream.pipe(res);
      stream.write({ id: 1, event: 'greeting', data: 'héllo, wörld ✓' });
      stream.write({ data: { n: 1, list: [true, null] } });
      stream.write({ comment: 'two\nlines', data: 'a\nb\r\nc' });
      setImmediate(() => stream.end({ id: 'last', data: '' }));
    };
    const socket = net.connect(Number(new URL(base).port), '127.0.0.1');
    try {
      return await within(
        new Promise<Buffer>((resolve, reject) => {
          let got = '';
          socket.setEncoding('latin1');
          socket.on('data', (c: string) => {
            got += c;
            if (got.endsWith('\r\n0\r\n\r\n')) resolve(Buffer.from(got.replace(/\r\nDate: [^\r]*/i, '\r\nDate: (date)'), 'latin1'));
          });
          socket.on('error', reject);
          socket.write('GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://app.example\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n\r\n');
        }),
        3000,
        'the whole response',
      );
    } finally {
      socket.destroy();
    }
  }
});

describe("compress: the compressor's life", () => {
  test('freed when the stream ends', async () => {
    const before = liveCompressors();
    const { client, stream } = await open({ compress: true, heartbeat: 0 }, 'gzip');
    assert.equal(liveCompressors(), before + 1);
    stream.end({ data: 'x' });
    await within(client.closed, 3000, 'the end');
    if (!stream.closed) await within(new Promise<void>((r) => stream.once('close', r)), 3000, "the stream's 'close'");
    assert.equal(liveCompressors(), before);
  });

  test("freed when the client leaves ('disconnect')", async () => {
    const before = liveCompressors();
    const { client, stream } = await open({ compress: true, heartbeat: 0 }, 'br');
    assert.equal(liveCompressors(), before + 1);
    const gone = new Promise<SSEError>((r) => stream.once('disconnect', r));
    stream.write({ data: 'x' });
    await client.until('data: x\n\n');
    client.close();
    assert.equal((await within(gone, 3000, "'disconnect'")).code, 'ERR_SSE_CLIENT_CLOSED');
    assert.equal(liveCompressors(), before);
    assert.equal(stream.write({ data: 'after' }), false);
  });

  test('freed when the stream is destroyed (after the end of the format, which the client gets)', async () => {
    const before = liveCompressors();
    const { client, stream } = await open({ compress: true, heartbeat: 0 }, 'deflate');
    assert.equal(liveCompressors(), before + 1);
    stream.write({ data: 'x' });
    stream.destroy();
    // destroy() without an error ends the response: the compressor writes its end, then goes.
    assert.equal(await within(client.closed, 3000, 'the response to end'), 'end');
    assert.equal(liveCompressors(), before);
    client.close();
  });

  test('never made for identity, nor for a stream read without pipe()', async () => {
    const before = liveCompressors();
    const { client, stream } = await open({ compress: true, heartbeat: 0 }, undefined);
    const readOnly = new SSEStream(undefined, { compress: true, heartbeat: 0 });
    readOnly.write({ data: 'x' });
    const chunk = await new Promise<Buffer | string>((r) => readOnly.once('data', r));
    assert.equal(String(chunk), 'data: x\n\n');
    assert.equal(liveCompressors(), before);
    readOnly.destroy();
    stream.end();
    client.close();
  });
});

test('a Channel broadcast: one serialization, a compressor per connection, every client gets the exact events', async () => {
  const channel = new Channel();
  const before = liveCompressors();
  const clients = [];
  for (const accept of ['gzip', 'br', undefined]) {
    const { client, stream } = await open({ compress: true, heartbeat: 0 }, accept);
    channel.add(stream);
    clients.push(client);
  }
  try {
    assert.equal(liveCompressors(), before + 2);
    const events = [prepare({ id: 1, data: 'one' }), prepare({ id: 2, event: 'x', data: { two: 2 } })];
    for (const e of events) channel.write(e);
    const expected = `:ok\n\n${events.map((e) => e.frame).join('')}`;
    for (const c of clients) await c.until(expected);
    assert.deepEqual(clients.map((c) => c.encoding), ['gzip', 'br', 'identity']);
    for (const c of clients) assert.equal(c.text, expected);
    channel.end();
    for (const c of clients) assert.equal(await within(c.closed, 3000, 'the end'), 'end');
    assert.equal(liveCompressors(), before);
  } finally {
    for (const c of clients) c.close();
  }
});

test('HTTP/2: a gzip stream, each event readable before the next', async () => {
  const h2 = http2.createServer();
  let stream: SSEStream | undefined;
  const piped = deferred<void>();
  h2.on('request', (req, res) => {
    stream = new SSEStream(req, { compress: true, heartbeat: 0 });
    stream.pipe(res);
    piped.resolve();
  });
  const port = await listen(h2 as unknown as net.Server);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const req = session.request({ ':path': '/', 'accept-encoding': 'gzip' });
    const head = await within(new Promise<http2.IncomingHttpHeaders>((r) => req.once('response', r)), 3000, 'the response head');
    assert.equal(head['content-encoding'], 'gzip');
    assert.equal(head['connection'], undefined);
    const gunzip = zlib.createGunzip();
    req.pipe(gunzip);
    let text = '';
    const grew: Array<() => void> = [];
    gunzip.on('data', (c: Buffer) => {
      text += c.toString();
      grew.splice(0).forEach((f) => f());
    });
    const until = async (s: string): Promise<void> => {
      while (!text.includes(s)) await within(new Promise<void>((r) => grew.push(r)), 3000, JSON.stringify(s));
    };
    await piped.promise;
    for (let n = 1; n <= 3; n++) {
      stream!.write({ id: n, data: `h2 ${n}` });
      await until(`id: ${n}\ndata: h2 ${n}\n\n`);
    }
    stream!.end();
    await within(new Promise((r) => gunzip.once('end', r)), 3000, 'the end');
    assert.equal(text, ':ok\n\nid: 1\ndata: h2 1\n\nid: 2\ndata: h2 2\n\nid: 3\ndata: h2 3\n\n');
  } finally {
    session.destroy();
    await new Promise<void>((r) => h2.close(() => r()));
  }
});

test("examples/compress.ts: a browser's Accept-Encoding gets br, with the ticks", async () => {
  const { createCompressedServer } = await import('../examples/compress.ts');
  const example = createCompressedServer();
  const port = await listen(example);
  const client = await openDecompressing(`http://127.0.0.1:${port}/`, { 'Accept-Encoding': 'gzip, deflate, br, zstd' });
  try {
    assert.equal(client.encoding, 'br');
    await client.until('event: tick\ndata: {"now":', 3000);
  } finally {
    client.close();
    await closeServer(example);
  }
});
