/**
 * Seed §7: behind a real nginx (run by the test, foreground, everything in a
 * temp dir) with the DEFAULT `proxy_buffering on`. `X-Accel-Buffering: no`, sent
 * by `pipe()`, must make nginx pass each event through as it is written, and
 * heartbeat comments must keep an idle stream inside `proxy_read_timeout`.
 * Each property has a control that shows the test could fail.
 *
 * Measured with nginx 1.22: the buffering that holds events back shows with the
 * seed article's bare `proxy_pass` (nginx talks HTTP/1.0 to the upstream, whose
 * body then ends with the connection); with `proxy_http_version 1.1` (chunked
 * upstream body) nginx forwarded each chunk even with buffering on. Both
 * configurations are tested; the control uses the first.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { SSEStream } from '../lib/index.ts';
import { createDemoServer } from '../examples/server.ts';
import {
  closeServer,
  deferred,
  elapse,
  findNginx,
  listen,
  nextOfType,
  openEventStream,
  request,
  requireBinary,
  startNginx,
  within,
  type Nginx,
} from './support/realworld.ts';

const NGINX = findNginx();

// The seed article's location block: proxy_pass, everything else nginx's defaults.
const seedProxy = (upstream: string): string => `
      proxy_pass ${upstream};
      proxy_buffering on; # nginx's default, spelled out: X-Accel-Buffering: no must override it
`;

// The recommended block: HTTP/1.1 to the upstream without `Connection: close`.
const proxy = (upstream: string, extra = ''): string => `
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection '';
      proxy_buffering on;
${extra}`;

describe('through nginx (proxy_pass, proxy_buffering on)', requireBinary('nginx', NGINX, 'set NGINX_BIN or apt-get install nginx-light'), () => {
  let nginx: Nginx | undefined;
  let base = '';
  // The upstream hands each new stream to the test that asked for it.
  const waiting = new Map<string, (s: SSEStream) => void>();
  const upstream = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let stream: SSEStream;
    if (path === '/events') stream = new SSEStream(req, { heartbeat: 0 });
    else if (path === '/events-buffered') {
      res.setHeader('X-Accel-Buffering', 'yes'); // headers set before pipe() win: buffering back on
      stream = new SSEStream(req, { heartbeat: 0 });
    } else if (path === '/idle-heartbeat') stream = new SSEStream(req, { heartbeat: 300 });
    else if (path === '/idle-silent') stream = new SSEStream(req, { heartbeat: 0 });
    else return void res.writeHead(404).end();
    stream.pipe(res);
    waiting.get(path)?.(stream);
    waiting.delete(path);
  });
  const demo = createDemoServer({ intervalMs: 20, heartbeat: 0 });

  /** Open `path` through nginx and get the upstream's SSEStream for it. */
  async function open(path: string, upstreamPath: string, headers: Record<string, string> = {}) {
    const got = deferred<SSEStream>();
    waiting.set(upstreamPath, got.resolve);
    const client = await openEventStream(`${base}${path}`, headers);
    const stream = await within(got.promise, 3000, `the upstream stream for ${path}`);
    return { client, stream };
  }

  before(async () => {
    const up = await listen(upstream);
    const demoPort = await listen(demo);
    nginx = await startNginx(
      NGINX!,
      `
    location / {${seedProxy(`http://127.0.0.1:${up}`)}    }
    location /v11/ {${proxy(`http://127.0.0.1:${up}/`)}    }
    location /short/ {${proxy(`http://127.0.0.1:${up}/`, '      proxy_read_timeout 1s;\n')}    }
    location /demo/ {${proxy(`http://127.0.0.1:${demoPort}/`)}    }
`,
    );
    base = `http://127.0.0.1:${nginx.port}`;
  });

  after(async () => {
    await nginx?.close();
    await Promise.all([closeServer(upstream), closeServer(demo)]);
  });

  /** Write one event, await it at the client through nginx, then the next: a buffering proxy hangs here. */
  async function lockstep(path: string): Promise<void> {
    const { client, stream } = await open(path, '/events');
    try {
      assert.equal(client.status, 200);
      assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.match(String(client.headers['server']), /^nginx/, 'the answer came through nginx');
      assert.equal(client.headers['x-accel-buffering'], undefined, 'nginx consumed the header');
      for (let round = 1; round <= 5; round++) {
        stream.write({ id: round, data: `round ${round}` });
        const event = await client.next(2000);
        assert.deepEqual(event, { type: 'message', data: `round ${round}`, lastEventId: String(round) });
      }
    } finally {
      client.close();
    }
  }

  test("each event arrives as it is written, 5 rounds (the seed's bare proxy_pass)", () => lockstep('/events'));

  test('each event arrives as it is written, 5 rounds (proxy_http_version 1.1, Connection "")', () => lockstep('/v11/events'));

  test('control: with X-Accel-Buffering: yes nginx holds everything until the stream ends', async () => {
    const got = deferred<SSEStream>();
    waiting.set('/events-buffered', got.resolve);
    let headArrived = false;
    const pending = openEventStream(`${base}/events-buffered`).then((client) => {
      headArrived = true;
      return client;
    });
    const stream = await within(got.promise, 3000, 'the upstream stream');
    stream.write({ id: 1, data: 'held' });
    await elapse(1000); // time is the subject: nothing may come out while the stream is open
    assert.equal(headArrived, false, 'a buffering nginx holds even the response head and the :ok preamble');
    stream.end();
    const client = await pending;
    assert.equal(await within(client.closed, 3000, 'the end of the buffered stream'), 'end');
    assert.deepEqual(client.events, [{ type: 'message', data: 'held', lastEventId: '1' }]);
  });

  test('heartbeat 300 ms keeps an idle stream open past proxy_read_timeout 1s (2.5 s)', async (t) => {
    const { client, stream } = await open('/short/idle-heartbeat', '/idle-heartbeat');
    t.after(() => client.close());
    await elapse(2500); // time is the subject: 2.5 proxy_read_timeouts of silence but for heartbeats
    assert.equal(client.ended, false, 'nginx must not have cut the stream');
    assert.equal(stream.disconnected, false);
    const heartbeats = client.comments.filter((c) => c === '').length;
    assert.ok(heartbeats >= 5, `expected >= 5 heartbeats in 2.5 s at 300 ms, got ${heartbeats}`);
    assert.deepEqual(client.comments.slice(0, 2), ['ok', '']);
    // And the stream still carries events.
    stream.write({ data: 'still here' });
    assert.equal((await client.next(2000)).data, 'still here');
  });

  test('control: without heartbeat nginx cuts the idle stream after proxy_read_timeout 1s', async (t) => {
    const started = Date.now();
    const { client } = await open('/short/idle-silent', '/idle-silent');
    t.after(() => client.close());
    const how = await within(client.closed, 5000, 'nginx to cut the silent stream');
    const elapsed = Date.now() - started;
    // nginx closes the connection without the terminating chunk: an aborted response.
    assert.equal(how, 'aborted');
    assert.ok(elapsed >= 900, `cut after ${elapsed} ms, expected about 1000`);
    assert.match(nginx!.errorLog(), /upstream timed out \(110: Connection timed out\) while reading upstream/);
  });

  test('the demo behind nginx: page, the shared clock\'s typed events with ids, resume through the proxy', async (t) => {
    const pageRes = await request(`${base}/demo/`);
    assert.equal(pageRes.status, 200);
    assert.match(pageRes.body, /new EventSource\(/);
    const ticks = ['event1', 'event2'];
    const es = await openEventStream(`${base}/demo/sse?typed&client=nginx`);
    t.after(() => es.close());
    assert.deepEqual([(await es.next(2000)).type, es.events[0].data], ['presence', '1']);
    const first = [await nextOfType(es, ticks, 2000), await nextOfType(es, ticks, 2000), await nextOfType(es, ticks, 2000)];
    assert.deepEqual(
      first.map((e) => [e.type, e.lastEventId]),
      [
        ['event1', '1'],
        ['event2', '2'],
        ['event1', '3'],
      ],
    );
    // Another page that saw up to 3 comes back after 4-6 were written (the clock kept
    // going for the first page): the channel's history replays them, through nginx,
    // the very events the first page got.
    const missed = [await nextOfType(es, ticks, 2000), await nextOfType(es, ticks, 2000), await nextOfType(es, ticks, 2000)];
    assert.deepEqual(missed.map((e) => e.lastEventId), ['4', '5', '6']);
    const resumed = await openEventStream(`${base}/demo/sse?typed&client=nginx-2`, { 'Last-Event-ID': '3' });
    t.after(() => resumed.close());
    const next = [await nextOfType(resumed, ticks, 2000), await nextOfType(resumed, ticks, 2000), await nextOfType(resumed, ticks, 2000)];
    assert.deepEqual(next, missed);
    assert.equal(resumed.events.filter((e) => e.type === 'reset').length, 0);
  });
});
