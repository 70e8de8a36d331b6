/**
 * The lifecycle faults of issue 11, each reproduced on real servers: the end
 * that was lost under backpressure (HTTP/1.1, HTTP/2, Channel.end, endAll), the
 * zombie left by a client gone before pipe(), and write callbacks that never ran.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Channel } from '../lib/channel.ts';
import { ErrorCode, type SSEError } from '../lib/errors.ts';
import { parse } from '../lib/parser.ts';
import { SSEStream, endAll, openStreamCount } from '../lib/stream.ts';
import { deferred, within } from './support/realworld.ts';
import { EventClient, serve } from './support/sse.ts';

const BIG = 'x'.repeat(70_000);

/** A GET over a raw socket that reads nothing until `read()` is called: a client that stalls. */
async function stalledClient(port: number, path = '/'): Promise<{ socket: net.Socket; read(): Promise<string> }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  return {
    socket,
    async read() {
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.resume();
      await within(once(socket, 'end'), 10_000, 'the server to end the response');
      return Buffer.concat(chunks).toString('latin1');
    },
  };
}

/** The body of a chunked HTTP/1.1 response, and whether it had its terminating chunk. */
function dechunk(raw: string): { body: string; complete: boolean } {
  let rest = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  let body = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol === -1) return { body, complete: false };
    const size = parseInt(rest.slice(0, eol), 16);
    if (size === 0) return { body, complete: true };
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

describe('end() under backpressure delivers the final message and the end', () => {
  test('HTTP/1.1, a client reading as it can: 70 kB then end({ event: bye })', async () => {
    const srv = await serve((req, res) => {
      const s = new SSEStream(req, { heartbeat: 0 });
      s.pipe(res);
      assert.equal(s.write({ data: BIG }), false, 'the write backs up');
      s.end({ event: 'bye', data: 'last' });
    });
    try {
      const c = await EventClient.open(srv.url);
      await within(c.waitEnd(), 5000, 'the end of the response');
      assert.deepEqual(c.events.map((e) => [e.type, e.data.length]), [['message', 70_000], ['bye', 4]]);
      assert.equal(c.res.complete, true);
    } finally {
      await srv.close();
    }
  });

  test('HTTP/1.1, a client that reads nothing until after end(): it gets everything, and the stream counts as open until then', async () => {
    const ended = deferred<SSEStream>();
    const srv = await serve((req, res) => {
      // 8.4 MB: more than loopback's socket buffers take from a client that reads nothing.
      const s = new SSEStream(req, { heartbeat: 0, maxBufferedBytes: 64 * 1024 * 1024 });
      s.pipe(res);
      for (let i = 0; i < 120; i++) s.write({ id: i, data: BIG });
      s.end({ event: 'bye', data: 'last' });
      ended.resolve(s);
    });
    try {
      const base = openStreamCount();
      const client = await stalledClient(srv.port);
      const s = await ended.promise;
      assert.equal(openStreamCount(), base + 1, 'an ending stream is still open: endAll() and server.close() must see it');
      const finished = once(s, 'finish');
      const { body, complete } = dechunk(await client.read());
      await within(finished, 5000, "the stream's finish");
      assert.equal(complete, true, 'the terminating chunk arrived');
      const events = parse(body).events;
      assert.equal(events.length, 121);
      assert.deepEqual(events.at(-1), { type: 'bye', data: 'last', lastEventId: '119' });
      assert.equal(openStreamCount(), base);
    } finally {
      await srv.close();
    }
  });

  test('HTTP/2, a client reading as it can', async () => {
    const server = http2.createServer((req, res) => {
      const s = new SSEStream(req, { heartbeat: 0 });
      s.pipe(res);
      s.write({ data: BIG });
      s.end({ event: 'bye', data: 'last' });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    try {
      const req = client.request({ ':path': '/' });
      req.setEncoding('utf8');
      let body = '';
      req.on('data', (c: string) => (body += c));
      await within(once(req, 'end'), 5000, 'the end of the HTTP/2 stream');
      assert.deepEqual(parse(body).events.map((e) => [e.type, e.data.length]), [['message', 70_000], ['bye', 4]]);
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  for (const how of ['Channel.end()', 'endAll()'] as const) {
    test(`${how} right after a burst: every client gets the burst, the last message and the end`, async () => {
      const CLIENTS = 40;
      const channel = new Channel();
      const srv = await serve((req, res) => {
        const s = new SSEStream(req, { heartbeat: 0 });
        s.pipe(res);
        channel.add(s);
      });
      try {
        const clients = await Promise.all(Array.from({ length: CLIENTS }, () => EventClient.open(srv.url)));
        for (let i = 0; channel.size < CLIENTS && i < 100; i++) await once(channel, 'join');
        for (let i = 0; i < 20; i++) channel.write({ id: i, data: 'y'.repeat(8000) });
        if (how === 'Channel.end()') channel.end({ event: 'bye', data: 'last' });
        else endAll({ event: 'bye', data: 'last' });
        await within(Promise.all(clients.map((c) => c.waitEnd())), 10_000, 'every response to end');
        for (const c of clients) {
          assert.equal(c.events.length, 21);
          assert.deepEqual(c.events.at(-1), { type: 'bye', data: 'last', lastEventId: '19' });
          assert.equal(c.res.complete, true);
        }
      } finally {
        channel.end();
        await srv.close();
      }
    });
  }
});

describe('a client that leaves before pipe() (the handler awaited something)', () => {
  for (const when of ['before the stream is made', 'after the stream is made'] as const) {
    test(`${when}: 'disconnect' within a second, no channel or registry keeps it`, async () => {
      const channel = new Channel({ history: 10 });
      const gate = deferred();
      const reasons: SSEError[] = [];
      const done = deferred<{ stream: SSEStream; added: boolean }>();
      const arrived = deferred<net.Socket>();
      const srv = await serve(async (req, res) => {
        arrived.resolve(req.socket);
        let stream = when === 'after the stream is made' ? new SSEStream(req, { heartbeat: 50 }) : undefined;
        stream?.on('disconnect', (r: SSEError) => reasons.push(r));
        await gate.promise; // e.g. an auth check
        stream ??= new SSEStream(req, { heartbeat: 50 });
        if (reasons.length === 0) stream.on('disconnect', (r: SSEError) => reasons.push(r));
        stream.pipe(res);
        const added = channel.add(stream);
        done.resolve({ stream, added });
      });
      try {
        const base = openStreamCount();
        const socket = net.connect(srv.port, '127.0.0.1');
        await once(socket, 'connect');
        socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        const serverSide = await within(arrived.promise, 2000, 'the request to reach the handler');
        socket.destroy();
        await once(serverSide, 'close');
        gate.resolve();
        const { stream } = await done.promise;
        if (reasons.length === 0) await within(once(stream, 'disconnect'), 1000, "'disconnect' of a client gone before pipe()");
        assert.equal(reasons.length, 1);
        assert.equal(reasons[0].code, ErrorCode.CLIENT_CLOSED);
        assert.equal(stream.disconnected, true);
        assert.equal(stream.signal.aborted, true);
        await new Promise((r) => setImmediate(r));
        assert.equal(channel.size, 0, 'the channel does not keep it');
        assert.equal(openStreamCount(), base, 'the registry does not keep it');
        assert.equal(stream.write('x'), false, 'writes are refused, not queued for a dead socket');
      } finally {
        await srv.close();
      }
    });
  }
});

describe('write callbacks always run', () => {
  test('write(msg, cb) then destroy(): cb gets ERR_SSE_STREAM_CLOSED (the message was not sent)', async () => {
    const s = new SSEStream(undefined, { heartbeat: 0 });
    const got = deferred<Error | null | undefined>();
    s.write('x', (err) => got.resolve(err));
    s.destroy();
    const err = await within(got.promise, 1000, 'the write callback');
    assert.equal((err as SSEError | undefined)?.code, ErrorCode.STREAM_CLOSED);
  });

  test('write(msg, cb) then the client leaves: cb gets the disconnect reason', async () => {
    const srv = await serve((req, res) => {
      const s = new SSEStream(req, { heartbeat: 0 });
      s.pipe(res);
      s.once('disconnect', () => undefined);
      req.socket.destroy();
      s.write('x', (err) => res.emit('cb', err));
      res.once('cb', (err: SSEError) => srv.server.emit('cb', err));
    });
    try {
      const cb = once(srv.server, 'cb');
      http.get(srv.url, { agent: false }).on('error', () => undefined);
      const [err] = (await within(cb, 2000, 'the write callback')) as [SSEError];
      assert.equal(err.code, ErrorCode.CLIENT_CLOSED);
    } finally {
      await srv.close();
    }
  });
});
