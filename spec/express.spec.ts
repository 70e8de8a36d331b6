/**
 * The seed article's Express code with only the import changed, behind the
 * `compression` middleware (which holds output in zlib until it fills unless the
 * response says `no-transform`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import SSEStream from '../lib/index.ts';
import { EventClient } from './support/sse.ts';
import { openDecompressing } from './support/compressed.ts';

// express and compression ship no types of their own; they are only exercised here.
const load = createRequire(__filename);
const express = load('express') as any;
const compression = load('compression') as any;

async function listen(app: any): Promise<{ url: string; close(): Promise<void> }> {
  const server: http.Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

test('the seed\'s Express handler, behind compression(): every event arrives, uncompressed, as written', { timeout: 10_000 }, async () => {
  const app = express();
  app.use(compression());
  let stream!: SSEStream;
  let opened!: () => void;
  const ready = new Promise<void>((r) => (opened = r));
  app.get('/sse', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    stream = new SSEStream(req);
    stream.pipe(res);
    opened();
  });
  const srv = await listen(app);
  try {
    const client = await EventClient.open(`${srv.url}/sse`, { 'Accept-Encoding': 'gzip, deflate, br' });
    await ready;
    assert.equal(client.res.headers['content-encoding'], undefined);
    assert.equal(client.res.headers['access-control-allow-origin'], '*');
    assert.equal(client.res.headers['content-type'], 'text/event-stream; charset=utf-8');
    // One at a time: the next event is written only once the previous one arrived,
    // so an event held in a zlib buffer would stall the test (and time it out).
    for (let i = 1; i <= 5; i++) {
      stream.write({ data: `tick ${i}` });
      const events = await client.waitFor(i);
      assert.deepEqual(events[i - 1], { type: 'message', data: `tick ${i}`, lastEventId: '' });
    }
    stream.end();
    await client.waitEnd();
    assert.equal(client.raw.startsWith(':ok\n\ndata: tick 1\n\n'), true);
  } finally {
    await srv.close();
  }
});

test('control: without no-transform, compression() does gzip the stream (so the header is what protects it)', async () => {
  const app = express();
  app.use(compression());
  app.get('/sse', (req: http.IncomingMessage, res: http.ServerResponse) => {
    res.setHeader('Cache-Control', 'no-cache'); // the user's header wins over ours
    const stream = new SSEStream(req, { heartbeat: 0 });
    stream.pipe(res);
    stream.end({ data: 'x' });
  });
  const srv = await listen(app);
  try {
    const client = await EventClient.open(`${srv.url}/sse`, { 'Accept-Encoding': 'gzip' });
    await client.waitEnd();
    assert.equal(client.res.headers['content-encoding'], 'gzip');
  } finally {
    await srv.close();
  }
});

test('compress: true behind compression(): left to the middleware, which passes it through (no-transform), uncompressed and event by event', { timeout: 10_000 }, async () => {
  const app = express();
  app.use(compression());
  let stream!: SSEStream;
  let opened!: () => void;
  const ready = new Promise<void>((r) => (opened = r));
  app.get('/sse', (req: http.IncomingMessage, res: http.ServerResponse) => {
    stream = new SSEStream(req, { compress: true, heartbeat: 0 });
    stream.pipe(res);
    opened();
  });
  const srv = await listen(app);
  try {
    const client = await EventClient.open(`${srv.url}/sse`, { 'Accept-Encoding': 'gzip, deflate, br' });
    await ready;
    assert.equal(stream.contentEncoding, undefined, 'compression() is in front: ours stays off');
    assert.equal(client.res.headers['content-encoding'], undefined);
    assert.equal(client.res.headers['cache-control'], 'no-cache, no-transform');
    for (let i = 1; i <= 3; i++) {
      stream.write({ data: `tick ${i}` });
      assert.deepEqual((await client.waitFor(i))[i - 1], { type: 'message', data: `tick ${i}`, lastEventId: '' });
    }
    stream.end();
    await client.waitEnd();
    assert.equal(client.raw, ':ok\n\ndata: tick 1\n\ndata: tick 2\n\ndata: tick 3\n\n');
  } finally {
    await srv.close();
  }
});

test('compress: true in Express without compression(): ours, gzip, event by event', { timeout: 10_000 }, async () => {
  const app = express();
  let stream!: SSEStream;
  let opened!: () => void;
  const ready = new Promise<void>((r) => (opened = r));
  app.get('/sse', (req: http.IncomingMessage, res: http.ServerResponse) => {
    stream = new SSEStream(req, { compress: true, heartbeat: 0 });
    stream.pipe(res);
    opened();
  });
  const srv = await listen(app);
  try {
    const client = await openDecompressing(`${srv.url}/sse`, { 'Accept-Encoding': 'gzip' });
    await ready;
    assert.equal(client.encoding, 'gzip');
    assert.equal(stream.contentEncoding, 'gzip');
    for (let i = 1; i <= 3; i++) {
      stream.write({ data: `tick ${i}` });
      await client.until(`data: tick ${i}\n\n`);
    }
    stream.end();
    assert.equal(await client.closed, 'end');
    assert.equal(client.text, ':ok\n\ndata: tick 1\n\ndata: tick 2\n\ndata: tick 3\n\n');
  } finally {
    await srv.close();
  }
});
