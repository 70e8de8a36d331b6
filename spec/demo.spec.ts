/**
 * The demo server (examples/server.ts), in-process on 127.0.0.1 port 0, read
 * with a real HTTP client: the page, the clock stream, resume, CORS, the
 * "server closes" flow and graceful shutdown.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createDemoServer, shutdown, tick } from '../examples/server.ts';
import { closeServer, listen, openEventStream, request, within } from './support/realworld.ts';

describe('demo server', () => {
  let server: http.Server;
  let base = '';
  let origin = '';

  before(async () => {
    server = createDemoServer({ intervalMs: 10, heartbeat: 0, retry: 100 });
    const port = await listen(server);
    origin = `http://127.0.0.1:${port}`;
    base = origin;
  });
  after(() => closeServer(server));

  test('tick(n): id n, event1 for odd n and event2 for even n, data Date.now()', () => {
    const before = Date.now();
    const m1 = tick(1);
    const m2 = tick(2);
    assert.equal(m1.id, 1);
    assert.equal(m1.event, 'event1');
    assert.equal(m2.id, 2);
    assert.equal(m2.event, 'event2');
    assert.match(String(m1.data), /^[0-9]+$/);
    assert.ok(Number(m1.data) >= before && Number(m2.data) <= Date.now());
  });

  test('GET / is the page: 200 text/html with an EventSource and the two buttons', async () => {
    const res = await request(`${base}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(res.body, /new EventSource\(/);
    assert.match(res.body, /Close \(es\.close\(\)\)/);
    assert.match(res.body, /Server closes/);
    assert.doesNotMatch(res.body, /<(script|link|img)[^>]+(src|href)=/, 'no external assets');
  });

  test('GET /sse: event stream headers, retry, ids 1, 2, 3... with event1/event2 alternating', async (t) => {
    const es = await openEventStream(`${base}/sse?client=ids`);
    t.after(() => es.close());
    assert.equal(es.status, 200);
    assert.equal(es.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(es.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(es.headers['x-accel-buffering'], 'no');
    assert.equal(es.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers');
    for (let n = 1; n <= 4; n++) {
      const event = await es.next();
      assert.equal(event.lastEventId, String(n));
      assert.equal(event.type, n % 2 === 1 ? 'event1' : 'event2');
      assert.match(event.data, /^[0-9]{13}$/);
    }
    assert.deepEqual(es.retries, [100]);
    assert.ok(es.raw.startsWith(':ok\n\nretry: 100\n\nevent: event1\nid: 1\ndata: '), JSON.stringify(es.raw.slice(0, 60)));
  });

  test('a reconnect with Last-Event-ID: 41 resumes at id 42 (event2)', async (t) => {
    const es = await openEventStream(`${base}/sse?client=resume`, { 'Last-Event-ID': '41' });
    t.after(() => es.close());
    const first = await es.next();
    const second = await es.next();
    assert.deepEqual([first.lastEventId, first.type], ['42', 'event2']);
    assert.deepEqual([second.lastEventId, second.type], ['43', 'event1']);
  });

  test('a Last-Event-ID that is not one of ours starts again at 1', async (t) => {
    const es = await openEventStream(`${base}/sse?client=foreign`, { 'Last-Event-ID': 'abc' });
    t.after(() => es.close());
    assert.equal((await es.next()).lastEventId, '1');
  });

  test('CORS: its own origin gets the exact origin and credentials; another gets no CORS headers', async (t) => {
    const allowed = await openEventStream(`${base}/sse?client=cors1`, { Origin: origin });
    t.after(() => allowed.close());
    assert.equal(allowed.headers['access-control-allow-origin'], origin);
    assert.equal(allowed.headers['access-control-allow-credentials'], 'true');
    assert.equal(allowed.headers['vary'], 'Origin');

    const other = await openEventStream(`${base}/sse?client=cors2`, { Origin: 'http://evil.example' });
    t.after(() => other.close());
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    assert.equal(other.headers['access-control-allow-credentials'], undefined);

    const pre = await request(`${base}/sse`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'last-event-id' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], origin);
    assert.equal(pre.headers['access-control-allow-headers'], 'last-event-id');
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  });

  test('ALLOWED_ORIGINS-style allowlist replaces the default origins', async () => {
    const custom = createDemoServer({ intervalMs: 10, heartbeat: 0, allowedOrigins: ['http://app.example'] });
    const port = await listen(custom);
    try {
      const app = await openEventStream(`http://127.0.0.1:${port}/sse?client=a`, { Origin: 'http://app.example' });
      app.close();
      assert.equal(app.headers['access-control-allow-origin'], 'http://app.example');
      const self = await openEventStream(`http://127.0.0.1:${port}/sse?client=b`, { Origin: `http://127.0.0.1:${port}` });
      self.close();
      assert.equal(self.headers['access-control-allow-origin'], undefined);
    } finally {
      await closeServer(custom);
    }
  });

  test('a missing or malformed client id is a 400; unknown paths are 404', async () => {
    assert.equal((await request(`${base}/sse`)).status, 400);
    assert.equal((await request(`${base}/sse?client=a%0Ab`)).status, 400);
    assert.equal((await request(`${base}/nope`)).status, 404);
    assert.equal((await request(`${base}/close?client=nobody`, { method: 'POST' })).status, 404);
  });

  test('server closes: POST /close ends the stream, the reconnect gets 204, the next one streams again', async (t) => {
    const es = await openEventStream(`${base}/sse?client=bye`);
    t.after(() => es.close());
    const seen = await es.next();
    const answer = await request(`${base}/close?client=bye`, { method: 'POST' });
    assert.equal(answer.status, 202);
    assert.equal(await within(es.closed, 2000, 'the stream to end'), 'end');
    const last = es.events.at(-1)!.lastEventId;
    assert.ok(Number(last) >= Number(seen.lastEventId));

    // What the browser does next: reconnect with Last-Event-ID. The demo says 204.
    const again = await request(`${base}/sse?client=bye`, { headers: { 'Last-Event-ID': last } });
    assert.equal(again.status, 204);
    assert.equal(again.body, '');

    // The mark is used up: a later connection with that id is a normal stream.
    const fresh = await openEventStream(`${base}/sse?client=bye`, { 'Last-Event-ID': last });
    t.after(() => fresh.close());
    assert.equal(fresh.status, 200);
    assert.equal((await fresh.next()).lastEventId, String(Number(last) + 1));
  });

  test('server closes a client id open twice (two tabs): both streams end, both reconnects get 204', async (t) => {
    const one = await openEventStream(`${base}/sse?client=twice`);
    const two = await openEventStream(`${base}/sse?client=twice`);
    t.after(() => (one.close(), two.close()));
    await one.next();
    await two.next();
    assert.equal((await request(`${base}/close?client=twice`, { method: 'POST' })).status, 202);
    assert.equal(await within(one.closed, 2000, 'stream one to end'), 'end');
    assert.equal(await within(two.closed, 2000, 'stream two to end'), 'end');
    assert.equal((await request(`${base}/sse?client=twice`)).status, 204);
    assert.equal((await request(`${base}/sse?client=twice`)).status, 204);
    const third = await openEventStream(`${base}/sse?client=twice`);
    third.close();
    assert.equal(third.status, 200);
  });

  test('shutdown() (what SIGTERM does) ends open streams and server.close() completes', async () => {
    const own = createDemoServer({ intervalMs: 10, heartbeat: 0 });
    const port = await listen(own);
    const a = await openEventStream(`http://127.0.0.1:${port}/sse?client=s1`);
    const b = await openEventStream(`http://127.0.0.1:${port}/sse?client=s2`);
    await a.next();
    await b.next();
    const started = Date.now();
    // Well under keepAliveTimeout (5 s): no waiting out of idle keep-alive sockets.
    await within(shutdown(own), 2000, 'shutdown() to resolve');
    assert.equal(own.listening, false);
    assert.equal(await within(a.closed, 1000, 'stream a to end'), 'end');
    assert.equal(await within(b.closed, 1000, 'stream b to end'), 'end');
    assert.ok(Date.now() - started < 2000);
  });

  test('npm start: listens only as the main module, prints its URL, and exits 0 on SIGTERM after ending streams', async (t) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'examples', 'server.ts')], {
      cwd: join(__dirname, '..'),
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => void (child.exitCode === null && child.kill('SIGKILL')));
    let out = '';
    child.stdout!.setEncoding('utf8');
    const url = await within(
      new Promise<string>((resolve) => {
        child.stdout!.on('data', (c: string) => {
          out += c;
          const m = /http:\/\/localhost:(\d+)\//.exec(out);
          if (m) resolve(`http://127.0.0.1:${m[1]}`);
        });
      }),
      10_000,
      'the demo to print its URL',
    );
    assert.match(out, /^ssepipe demo: http:\/\/localhost:\d+\/  \(listening on 127\.0\.0\.1:\d+\)\n/);
    const es = await openEventStream(`${url}/sse?client=main`);
    await es.next();
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    assert.equal(await within(es.closed, 3000, 'the stream to end on SIGTERM'), 'end');
    const [code, signal] = await within(exited, 3000, 'the demo to exit');
    assert.deepEqual([code, signal], [0, null]);
    assert.match(out, /SIGTERM: ending open streams, closing the server\n$/);
  });
});
