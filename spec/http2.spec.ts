import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { SSEStream, ErrorCode, type SSEError } from '../lib/index.ts';
import { createParser } from '../lib/parser.ts';
import type { ServerSentEvent } from '../lib/types.ts';

async function h2server(handler: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void) {
  const server = http2.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const client = http2.connect(`http://127.0.0.1:${port}`);
  return {
    client,
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Open a stream over the session; collect its headers, raw text and events. */
async function open(client: http2.ClientHttp2Session, headers: Record<string, string> = {}) {
  const req = client.request({ ':path': '/sse', ...headers });
  const [head] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
  const events: ServerSentEvent[] = [];
  let raw = '';
  let firstEvent!: () => void;
  const first = new Promise<void>((r) => (firstEvent = r));
  const parser = createParser({
    onEvent: (e) => {
      events.push(e);
      firstEvent();
    },
  });
  req.setEncoding('utf8');
  req.on('data', (c: string) => {
    raw += c;
    parser.feed(c);
  });
  const ended = once(req, 'end');
  return { req, head, events, first, get raw() { return raw; }, ended };
}

test('HTTP/2 (h2c): headers without connection-specific fields, no warning, events, end()', async () => {
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);
  process.on('warning', onWarning);
  const h = await h2server((req, res) => {
    res.setHeader('access-control-allow-origin', '*');
    const stream = new SSEStream(req, { heartbeat: 0 });
    stream.pipe(res);
    stream.write({ id: 'a', event: 'event1', data: 'one' });
    stream.write({ data: { two: 2 } });
    stream.end();
  });
  try {
    const s = await open(h.client);
    await s.ended;
    assert.equal(s.head[':status'], 200);
    assert.equal(s.head['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(s.head['cache-control'], 'no-cache, no-transform');
    assert.equal(s.head['x-accel-buffering'], 'no');
    assert.equal(s.head['access-control-allow-origin'], '*');
    for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']) {
      assert.equal(s.head[name], undefined, name);
    }
    assert.equal(s.raw, ':ok\n\nevent: event1\nid: a\ndata: one\n\ndata: {"two":2}\n\n');
    assert.deepEqual(s.events, [
      { type: 'event1', data: 'one', lastEventId: 'a' },
      { type: 'message', data: '{"two":2}', lastEventId: 'a' },
    ]);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.map((w) => w.message), []);
  } finally {
    process.off('warning', onWarning);
    await h.close();
  }
});

test('HTTP/2: many streams on one session; a closed stream is a disconnect, Last-Event-ID is read', { timeout: 10_000 }, async () => {
  const seen: Array<{ lastEventId: string | undefined; reason?: string }> = [];
  let resolveGone!: () => void;
  const gone = new Promise<void>((r) => (resolveGone = r));
  const h = await h2server((req, res) => {
    const stream = new SSEStream(req, { heartbeat: 0 });
    const entry: { lastEventId: string | undefined; reason?: string } = { lastEventId: stream.lastEventId };
    seen.push(entry);
    stream.on('disconnect', (r: SSEError) => {
      entry.reason = r.code;
      resolveGone();
    });
    stream.pipe(res);
    stream.write({ id: seen.length, data: 'hi' });
  });
  try {
    const streams = [];
    for (let i = 0; i < 8; i++) streams.push(await open(h.client, i === 0 ? { 'last-event-id': '99' } : {}));
    await Promise.all(streams.map((s) => s.first));
    for (const s of streams) assert.equal(s.events.length, 1);
    streams[0].req.close();
    await gone;
    assert.equal(seen.length, 8);
    assert.equal(seen[0].lastEventId, '99');
    assert.equal(seen[0].reason, ErrorCode.CLIENT_CLOSED);
    assert.equal(seen.filter((e) => e.reason !== undefined).length, 1);
  } finally {
    await h.close();
  }
});
