import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { SSEStream, preflight, noContent, ErrorCode, type SSEError } from '../lib/index.ts';
import { serve, EventClient } from './support/sse.ts';

/** The raw bytes of one HTTP/1.1 exchange, read until the chunked body's end marker. */
async function rawExchange(port: number, request: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(request);
  let text = '';
  socket.setEncoding('latin1');
  for await (const chunk of socket) {
    text += chunk;
    if (text.endsWith('\r\n0\r\n\r\n')) break;
  }
  socket.destroy();
  return text;
}

describe('HTTP/1.1', () => {
  test('exact response: headers merged with the user\'s, chunked, preamble, events, end marker', async () => {
    const srv = await serve((req, res) => {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Transfer-Encoding', 'identity'); // what ssestream sent; must not survive
      const stream = new SSEStream(req, { heartbeat: 0 });
      stream.pipe(res);
      stream.write({ id: 1, event: 'event1', data: 'Hello, World!' });
      stream.end();
    });
    try {
      const text = await rawExchange(srv.port, 'GET /sse HTTP/1.1\r\nHost: x\r\n\r\n');
      const [head, body] = text.split('\r\n\r\n', 2).length === 2 ? [text.slice(0, text.indexOf('\r\n\r\n')), text.slice(text.indexOf('\r\n\r\n') + 4)] : ['', ''];
      const lines = head.split('\r\n').filter((l) => !l.startsWith('Date:'));
      assert.deepEqual(lines, [
        'HTTP/1.1 200 OK',
        'Access-Control-Allow-Origin: *',
        'transfer-encoding: chunked',
        'content-type: text/event-stream; charset=utf-8',
        'cache-control: no-cache, no-transform',
        'x-accel-buffering: no',
        'connection: keep-alive',
      ]);
      assert.equal(body, '5\r\n:ok\n\n\r\n29\r\nevent: event1\nid: 1\ndata: Hello, World!\n\n\r\n0\r\n\r\n');
    } finally {
      await srv.close();
    }
  });

  test('headers the user set win, except Content-Type', async () => {
    const srv = await serve((req, res) => {
      res.setHeader('Cache-Control', 'private, no-cache, no-transform');
      res.setHeader('Content-Type', 'text/plain');
      new SSEStream(req, { heartbeat: 0 }).pipe(res).end();
    });
    try {
      const client = await EventClient.open(srv.url);
      assert.equal(client.res.headers['cache-control'], 'private, no-cache, no-transform');
      assert.equal(client.res.headers['content-type'], 'text/event-stream; charset=utf-8');
      await client.waitEnd();
    } finally {
      await srv.close();
    }
  });

  test('the seed\'s scenario: a client reads every event, with ids and types', async () => {
    const srv = await serve((req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0 });
      stream.pipe(res);
      for (let i = 0; i < 5; i++) stream.write({ id: i, event: i % 2 ? 'event2' : 'event1', data: { n: i } });
      stream.write({ data: 'two\nlines' });
    });
    try {
      const client = await EventClient.open(srv.url);
      const events = await client.waitFor(6);
      assert.deepEqual(events, [
        { type: 'event1', data: '{"n":0}', lastEventId: '0' },
        { type: 'event2', data: '{"n":1}', lastEventId: '1' },
        { type: 'event1', data: '{"n":2}', lastEventId: '2' },
        { type: 'event2', data: '{"n":3}', lastEventId: '3' },
        { type: 'event1', data: '{"n":4}', lastEventId: '4' },
        { type: 'message', data: 'two\nlines', lastEventId: '4' },
      ]);
      client.close();
    } finally {
      await srv.close();
    }
  });

  test('end() ends the response at once, even with a long keep-alive timeout', { timeout: 5000 }, async () => {
    const srv = await serve((req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0 });
      stream.pipe(res);
      stream.write('last');
      stream.end();
    });
    srv.server.keepAliveTimeout = 120_000;
    try {
      const client = await EventClient.open(srv.url);
      await client.waitEnd();
      assert.equal(client.raw, ':ok\n\ndata: last\n\n');
      assert.equal(client.res.complete, true);
    } finally {
      await srv.close();
    }
  });

  test('a client that leaves is told apart from the server closing', async () => {
    const seen: Array<{ path: string; disconnect: string | null }> = [];
    const done: Array<() => void> = [];
    const finished = new Promise<void>((resolve) => {
      let n = 0;
      done.push(() => ++n === 3 && resolve());
    });
    const srv = await serve((req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0 });
      stream.pipe(res);
      const entry = { path: req.url!, disconnect: null as string | null };
      seen.push(entry);
      stream.on('disconnect', (reason: SSEError) => (entry.disconnect = reason.code));
      stream.on('close', () => setImmediate(done[0]));
      stream.write('hello');
      if (req.url === '/server-ends') stream.end();
      if (req.url === '/res-end') res.end();
    });
    try {
      const leaving = await EventClient.open(`${srv.url}/client-leaves`);
      await leaving.waitFor(1);
      leaving.close();
      const ended = await EventClient.open(`${srv.url}/server-ends`);
      await ended.waitEnd();
      const resEnded = await EventClient.open(`${srv.url}/res-end`);
      await resEnded.waitEnd();
      await finished;
      seen.sort((a, b) => a.path.localeCompare(b.path));
      assert.deepEqual(seen, [
        { path: '/client-leaves', disconnect: ErrorCode.CLIENT_CLOSED },
        { path: '/res-end', disconnect: null },
        { path: '/server-ends', disconnect: null },
      ]);
    } finally {
      await srv.close();
    }
  });

  test('a client that stops reading is dropped past maxBufferedBytes', { timeout: 20_000 }, async () => {
    let reason: SSEError | undefined;
    let writes = 0;
    let resolveDrop!: () => void;
    const dropped = new Promise<void>((resolve) => (resolveDrop = resolve));
    const srv = await serve(async (req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0, maxBufferedBytes: 256 * 1024 });
      stream.pipe(res);
      stream.on('disconnect', (r) => {
        reason = r;
        resolveDrop();
      });
      const chunk = 'x'.repeat(1024);
      // Ignores backpressure like naive code; bounded at 64 MiB.
      for (let i = 0; i < 65_536 && !stream.disconnected; i++) {
        stream.write(chunk);
        writes++;
        if (i % 64 === 0) await new Promise((r) => setImmediate(r));
      }
    });
    try {
      const socket = net.connect(srv.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.on('error', () => undefined); // the server resets it
      socket.pause(); // never reads
      await dropped;
      assert.equal(reason?.code, ErrorCode.CLIENT_TOO_SLOW);
      assert.ok(writes < 65_536, `dropped after ${writes} writes`);
      socket.destroy();
    } finally {
      await srv.close();
    }
  });

  test('signal aborts when the client leaves', async () => {
    let aborted!: (reason: unknown) => void;
    const abortedReason = new Promise((r) => (aborted = r));
    const srv = await serve((req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0 });
      stream.pipe(res);
      stream.signal.addEventListener('abort', () => aborted(stream.signal.reason));
      stream.write('x');
    });
    try {
      const client = await EventClient.open(srv.url);
      await client.waitFor(1);
      client.close();
      const reason = (await abortedReason) as SSEError;
      assert.equal(reason.code, ErrorCode.CLIENT_CLOSED);
    } finally {
      await srv.close();
    }
  });

  test('Last-Event-ID reaches stream.lastEventId', async () => {
    const ids: Array<string | undefined> = [];
    const srv = await serve((req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0 });
      ids.push(stream.lastEventId);
      stream.pipe(res);
      stream.end();
    });
    try {
      for (const headers of [{ 'Last-Event-ID': '17' }, {}] as Array<Record<string, string>>) {
        const c = await EventClient.open(srv.url, headers);
        await c.waitEnd();
      }
      assert.deepEqual(ids, ['17', undefined]);
    } finally {
      await srv.close();
    }
  });

  /** Send raw request bytes; resolve with the raw response once the server ends it. */
  async function rawRequest(port: number, head: Buffer): Promise<string> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.end(head);
    const chunks: Buffer[] = [];
    for await (const c of socket) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  test('Last-Event-ID is read as the UTF-8 browsers send (it was read as Latin-1: café-2 became cafÃ©-2); a repeated header counts at its first copy', async () => {
    const ids: Array<string | undefined> = [];
    const srv = await serve((req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0 });
      ids.push(stream.lastEventId);
      stream.pipe(res);
      stream.end();
    });
    try {
      const head = (...lines: string[]) => Buffer.from(['GET / HTTP/1.1', 'Host: x', 'Connection: close', ...lines, '', ''].join('\r\n'), 'utf8');
      await rawRequest(srv.port, head('Last-Event-ID: café-2'));
      await rawRequest(srv.port, head('Last-Event-ID: 🌍'));
      await rawRequest(srv.port, head('Last-Event-ID: 3', 'Last-Event-ID: 5'));
      // Not UTF-8 (a Latin-1 byte on its own): kept as the bytes read.
      await rawRequest(srv.port, Buffer.concat([head().subarray(0, -2), Buffer.from('Last-Event-ID: caf'), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')]));
      assert.deepEqual(ids, ['café-2', '🌍', '3', 'caf\u00e9']);
    } finally {
      await srv.close();
    }
  });

  test('a client that asks to close gets no keep-alive promise: the connection ends with the stream', async () => {
    const srv = await serve((req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0 });
      stream.pipe(res);
      stream.end({ data: 'bye' });
    });
    srv.server.keepAliveTimeout = 60_000;
    try {
      const raw = await rawRequest(srv.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      assert.match(raw, /\r\nconnection: close\r\n/i);
      assert.doesNotMatch(raw, /keep-alive/i);
      assert.match(raw, /data: bye\n\n\r\n0\r\n\r\n$/);
    } finally {
      await srv.close();
    }
  });
});

describe('CORS', () => {
  async function corsResponse(cors: ConstructorParameters<typeof SSEStream>[1] extends infer O ? O extends { cors?: infer C } ? C : never : never, origin?: string) {
    const srv = await serve((req, res) => {
      new SSEStream(req, { heartbeat: 0, cors }).pipe(res).end();
    });
    try {
      const c = await EventClient.open(srv.url, origin ? { Origin: origin } : {});
      await c.waitEnd();
      const h = c.res.headers;
      return {
        origin: h['access-control-allow-origin'],
        credentials: h['access-control-allow-credentials'],
        vary: h['vary'],
      };
    } finally {
      await srv.close();
    }
  }

  const page = 'http://app.example:3000';
  test('an allowed origin is echoed exactly, with credentials and Vary', async () => {
    assert.deepEqual(await corsResponse({ origin: page, credentials: true }, page), {
      origin: page,
      credentials: 'true',
      vary: 'Origin',
    });
  });
  test('lists, RegExps and predicates', async () => {
    const expect = { origin: page, credentials: undefined, vary: 'Origin' };
    assert.deepEqual(await corsResponse({ origin: ['http://other', page] }, page), expect);
    assert.deepEqual(await corsResponse({ origin: /^http:\/\/app\.example(:\d+)?$/g }, page), expect);
    assert.deepEqual(await corsResponse({ origin: (o) => o.endsWith(':3000') }, page), expect);
  });
  test('a disallowed or missing origin gets no CORS headers, but Vary: Origin (a cache must not reuse the answer)', async () => {
    const refused = { origin: undefined, credentials: undefined, vary: 'Origin' };
    assert.deepEqual(await corsResponse({ origin: page, credentials: true }, 'http://evil.example'), refused);
    assert.deepEqual(await corsResponse({ origin: page, credentials: true }), refused);
  });
  test('"*" is sent only without credentials; "*" with credentials is refused at construction', async () => {
    assert.deepEqual(await corsResponse({ origin: '*' }, page), { origin: '*', credentials: undefined, vary: undefined });
    assert.throws(() => new SSEStream(undefined, { cors: { origin: '*', credentials: true } }), {
      name: 'SSETypeError',
      code: ErrorCode.INVALID_OPTION,
      message: /cors.origin '\*' cannot be combined with credentials/,
    });
    // The explicit way to reflect any origin with credentials: a predicate.
    assert.deepEqual(await corsResponse({ origin: () => true, credentials: true }, page), { origin: page, credentials: 'true', vary: 'Origin' });
  });
  test('a RegExp must match the whole origin', async () => {
    const refused = { origin: undefined, credentials: undefined, vary: 'Origin' };
    assert.deepEqual(await corsResponse({ origin: /app\.example/ }, 'https://evilapp.example'), refused);
    assert.deepEqual(await corsResponse({ origin: /app\.example/ }, 'https://app.example.evil'), refused);
    assert.deepEqual(await corsResponse({ origin: /https:\/\/app\.example/ }, 'https://app.example'), { origin: 'https://app.example', credentials: undefined, vary: 'Origin' });
  });
  test('the opaque origin "null" is allowed only when listed', async () => {
    const refused = { origin: undefined, credentials: undefined, vary: 'Origin' };
    assert.deepEqual(await corsResponse({ origin: () => true, credentials: true }, 'null'), refused);
    assert.deepEqual(await corsResponse({ origin: /.*/ }, 'null'), refused);
    assert.deepEqual(await corsResponse({ origin: '*' }, 'null'), { origin: undefined, credentials: undefined, vary: undefined });
    assert.deepEqual(await corsResponse({ origin: ['null'] }, 'null'), { origin: 'null', credentials: undefined, vary: 'Origin' });
  });
  test('a repeated or joined Origin header gets no CORS headers', async () => {
    const srv = await serve((req, res) => {
      new SSEStream(req, { heartbeat: 0, cors: { origin: () => true, credentials: true } }).pipe(res).end();
    });
    try {
      const host = ['Host', `127.0.0.1:${srv.port}`];
      for (const headers of [[...host, 'Origin', page, 'Origin', 'http://evil.example'], [...host, 'Origin', `${page}, http://evil.example`]]) {
        const res = await new Promise<http.IncomingMessage>((resolve) => {
          http.get(srv.url, { agent: false, headers: headers as never }, (r) => {
            r.resume();
            resolve(r);
          });
        });
        assert.equal(res.headers['access-control-allow-origin'], undefined, JSON.stringify(headers));
        assert.equal(res.headers['vary'], 'Origin');
      }
    } finally {
      await srv.close();
    }
  });
  test("Vary: Origin is merged with the user's own Vary", async () => {
    const srv = await serve((req, res) => {
      res.setHeader('Vary', 'Accept-Language');
      new SSEStream(req, { heartbeat: 0, cors: { origin: page } }).pipe(res).end();
    });
    try {
      const c = await EventClient.open(srv.url, { Origin: page });
      await c.waitEnd();
      assert.equal(c.res.headers['vary'], 'Accept-Language, Origin');
      assert.equal(c.res.headers['access-control-allow-origin'], page);
    } finally {
      await srv.close();
    }
  });

  test('preflight() answers OPTIONS for an allowed origin and passes other methods on', async () => {
    const cors = { origin: page, credentials: true };
    const srv = await serve((req, res) => {
      if (preflight(req, res, cors)) return;
      res.end('not a preflight');
    });
    try {
      const ask = (method: string, origin: string) =>
        new Promise<http.IncomingMessage>((resolve) => {
          http
            .request(srv.url, {
              method,
              agent: false,
              headers: { Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'last-event-id' },
            }, (res) => {
              res.resume();
              resolve(res);
            })
            .end();
        });
      const ok = await ask('OPTIONS', page);
      assert.equal(ok.statusCode, 204);
      assert.equal(ok.headers['access-control-allow-origin'], page);
      assert.equal(ok.headers['access-control-allow-credentials'], 'true');
      assert.equal(ok.headers['access-control-allow-methods'], 'GET');
      assert.equal(ok.headers['access-control-allow-headers'], 'last-event-id');
      assert.equal(ok.headers['access-control-max-age'], '600');
      const denied = await ask('OPTIONS', 'http://evil.example');
      assert.equal(denied.statusCode, 204);
      assert.equal(denied.headers['access-control-allow-origin'], undefined);
      const get = await ask('GET', page);
      assert.equal(get.statusCode, 200);
    } finally {
      await srv.close();
    }
  });
});

test('noContent() answers 204 with no body', async () => {
  const srv = await serve((_req, res) => noContent(res));
  try {
    const res = await new Promise<http.IncomingMessage>((resolve) => http.get(srv.url, { agent: false }, resolve));
    let body = '';
    for await (const c of res) body += c;
    assert.equal(res.statusCode, 204);
    assert.equal(body, '');
  } finally {
    await srv.close();
  }
});
