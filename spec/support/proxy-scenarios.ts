/**
 * Seed §7 and what any reverse proxy in front of an event stream must get
 * right, shared by spec/nginx.spec.ts, spec/haproxy.spec.ts and spec/caddy.spec.ts:
 * events pass one by one (not buffered), a heartbeat keeps an idle stream
 * inside the proxy's idle timeout (with a control: no heartbeat, cut), `end()`
 * and the 204 that stops a browser reach the client with their headers, and
 * the demo works behind it. The proxy runs as the test's own child process
 * (./proxies.ts); the upstream is this test's server, on port 0.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { SSEStream, corsHeaders, lastEventIdOf, noContent, type CorsOptions } from '../../lib/index.ts';
import { createDemoServer } from '../../examples/server.ts';
import type { ProxyRoutes, RunningProxy } from './proxies.ts';
import {
  closeServer,
  deferred,
  elapse,
  listen,
  nextOfType,
  openEventStream,
  request,
  requireBinary,
  within,
  type EventStreamClient,
} from './realworld.ts';

/** The idle timeout each proxy is given for `/short/`, and the heartbeat that must beat it. */
export const IDLE_MS = 1000;
const HEARTBEAT_MS = 300;
const APP_ORIGIN = 'http://app.example';

export interface ProxyKind {
  name: string;
  binary: string | undefined;
  /** How to get it, for the skip reason. */
  hint: string;
  start(binary: string, routes: ProxyRoutes): Promise<RunningProxy>;
  /** What its log says once it cut an idle stream (proof that the proxy, not something else, did). */
  idleCut: RegExp;
  /**
   * How the client sees that cut: `'aborted'` (the connection closes mid-body) or
   * `'end'` (the proxy ends the chunked body properly, as if the upstream had).
   */
  idleCutAs: 'aborted' | 'end';
  /** nginx consumes `X-Accel-Buffering`; the others pass it on to the client. */
  consumesAccelBuffering: boolean;
}

/** What a proxy's own tests (beyond the shared ones) get to work with. */
export interface ProxyHarness {
  /** `http://127.0.0.1:<proxy port>` */
  base(): string;
  proxy(): RunningProxy;
  /** The next SSEStream the upstream serves at `upstreamPath` (to be requested by the caller). */
  expect(upstreamPath: string): Promise<SSEStream>;
  /** Open `path` through the proxy and get the upstream's SSEStream for it (served at `upstreamPath`). */
  open(path: string, upstreamPath: string, headers?: Record<string, string>): Promise<{ client: EventStreamClient; stream: SSEStream }>;
  /** Write one event, await it at the client, then the next, 5 rounds: a buffering proxy hangs here. */
  lockstep(path: string): Promise<void>;
}

/**
 * The shared scenarios through `kind`, in one describe (skipped with a reason
 * when the binary is missing, failed under CI=true). `more` adds the proxy's own tests.
 */
export function proxyScenarios(kind: ProxyKind, more?: (h: ProxyHarness) => void): void {
  describe(`through ${kind.name} (a child process, 127.0.0.1)`, requireBinary(kind.name, kind.binary, kind.hint), () => {
    let proxy: RunningProxy | undefined;
    let base = '';
    const cors: CorsOptions = { origin: APP_ORIGIN, credentials: true };
    // The upstream hands each new stream to the test that asked for it.
    const waiting = new Map<string, (s: SSEStream) => void>();
    const upstream = http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      let stream: SSEStream;
      if (path === '/events') stream = new SSEStream(req, { heartbeat: 0 });
      else if (path === '/events-buffered') {
        res.setHeader('X-Accel-Buffering', 'yes'); // headers set before pipe() win: buffering back on
        stream = new SSEStream(req, { heartbeat: 0 });
      } else if (path === '/idle-heartbeat') stream = new SSEStream(req, { heartbeat: HEARTBEAT_MS });
      else if (path === '/idle-silent') stream = new SSEStream(req, { heartbeat: 0 });
      else if (path === '/events-compressed') stream = new SSEStream(req, { heartbeat: 0, compress: true });
      else if (path === '/end') {
        // §6: the stream ends; the reconnect (it has a Last-Event-ID) gets the 204.
        if (lastEventIdOf(req) !== undefined) return noContent(res, corsHeaders(cors, req.headers));
        stream = new SSEStream(req, { heartbeat: 0, cors });
        stream.pipe(res);
        stream.end({ id: 7, data: 'last' });
        return;
      } else return void res.writeHead(404).end();
      stream.pipe(res);
      waiting.get(path)?.(stream);
      waiting.delete(path);
    });
    const demo = createDemoServer({ intervalMs: 20, heartbeat: 0 });

    const harness: ProxyHarness = {
      base: () => base,
      proxy: () => proxy!,
      expect(upstreamPath) {
        const got = deferred<SSEStream>();
        waiting.set(upstreamPath, got.resolve);
        return within(got.promise, 3000, `the upstream stream for ${upstreamPath}`);
      },
      async open(path, upstreamPath, headers = {}) {
        const stream = harness.expect(upstreamPath);
        const client = await openEventStream(`${base}${path}`, headers);
        return { client, stream: await stream };
      },
      async lockstep(path) {
        const { client, stream } = await harness.open(path, '/events');
        try {
          assert.equal(client.status, 200);
          assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
          assert.equal(client.headers['x-proxied-by'], kind.name, `the answer came through ${kind.name}`);
          assert.equal(client.headers['x-accel-buffering'], kind.consumesAccelBuffering ? undefined : 'no');
          for (let round = 1; round <= 5; round++) {
            stream.write({ id: round, data: `round ${round}` });
            const event = await client.next(2000);
            assert.deepEqual(event, { type: 'message', data: `round ${round}`, lastEventId: String(round) });
          }
        } finally {
          client.close();
        }
      },
    };

    before(async () => {
      const up = await listen(upstream);
      const demoPort = await listen(demo);
      proxy = await kind.start(kind.binary!, { upstream: up, demo: demoPort, idleMs: IDLE_MS });
      base = `http://127.0.0.1:${proxy.port}`;
    });

    after(async () => {
      await proxy?.close();
      await Promise.all([closeServer(upstream), closeServer(demo)]);
    });

    test('each event arrives as it is written, 5 rounds', () => harness.lockstep('/events'));

    test(`a heartbeat every ${HEARTBEAT_MS} ms keeps an idle stream open past the ${IDLE_MS} ms idle timeout (2.5 timeouts)`, async (t) => {
      const { client, stream } = await harness.open('/short/idle-heartbeat', '/idle-heartbeat');
      t.after(() => client.close());
      await elapse(2.5 * IDLE_MS); // time is the subject: 2.5 idle timeouts of silence but for heartbeats
      assert.equal(client.ended, false, `${kind.name} must not have cut the stream`);
      assert.equal(stream.disconnected, false);
      const heartbeats = client.comments.filter((c) => c === '').length;
      assert.ok(heartbeats >= 5, `expected >= 5 heartbeats in 2.5 s at ${HEARTBEAT_MS} ms, got ${heartbeats}`);
      assert.deepEqual(client.comments.slice(0, 2), ['ok', '']);
      // And the stream still carries events.
      stream.write({ data: 'still here' });
      assert.equal((await client.next(2000)).data, 'still here');
    });

    test(`control: without heartbeat ${kind.name} cuts the idle stream after the ${IDLE_MS} ms idle timeout`, async (t) => {
      const started = Date.now();
      const { client } = await harness.open('/short/idle-silent', '/idle-silent');
      t.after(() => client.close());
      const how = await within(client.closed, 5 * IDLE_MS, `${kind.name} to cut the silent stream`);
      const elapsed = Date.now() - started;
      assert.equal(how, kind.idleCutAs);
      assert.equal(client.raw, ':ok\n\n', 'nothing but the preamble');
      assert.ok(elapsed >= 0.9 * IDLE_MS, `cut after ${elapsed} ms, expected about ${IDLE_MS}`);
      // Its log says it timed out (it may write the line just after closing: bounded wait).
      for (let i = 0; i < 40 && !kind.idleCut.test(proxy!.log()); i++) await elapse(50);
      assert.match(proxy!.log(), kind.idleCut);
    });

    test('end() and the 204 that follows reach the client, with their CORS headers', async () => {
      const first = await openEventStream(`${base}/end`, { Origin: APP_ORIGIN });
      assert.equal(first.status, 200);
      assert.equal(first.headers['access-control-allow-origin'], APP_ORIGIN);
      assert.equal(await within(first.closed, 3000, 'the ended stream to end at the client'), 'end', 'a complete response, not a cut');
      assert.equal(first.raw, ':ok\n\nid: 7\ndata: last\n\n');
      assert.deepEqual(first.events, [{ type: 'message', data: 'last', lastEventId: '7' }]);
      // What a browser does next: reconnect with the last id; the 204 stops it for good.
      const again = await request(`${base}/end`, { headers: { 'Last-Event-ID': '7', Origin: APP_ORIGIN } });
      assert.equal(again.status, 204);
      assert.equal(again.body, '');
      assert.equal(again.headers['x-proxied-by'], kind.name);
      assert.equal(again.headers['access-control-allow-origin'], APP_ORIGIN);
      assert.equal(again.headers['access-control-allow-credentials'], 'true');
    });

    test("the demo behind it: page, the article's untyped ticks, typed ticks with ids, resume", async (t) => {
      const pageRes = await request(`${base}/demo/`);
      assert.equal(pageRes.status, 200);
      assert.match(pageRes.body, /new EventSource\(/);
      const plain = await openEventStream(`${base}/demo/sse`);
      t.after(() => plain.close());
      assert.equal((await nextOfType(plain, ['message', 'event1', 'event2'], 2000)).type, 'message');
      plain.close();
      const ticks = ['event1', 'event2'];
      const es = await openEventStream(`${base}/demo/sse?typed&client=${kind.name}`);
      t.after(() => es.close());
      const first = [await nextOfType(es, ticks, 2000), await nextOfType(es, ticks, 2000), await nextOfType(es, ticks, 2000)];
      const n = Number(first[0].lastEventId);
      assert.deepEqual(
        first.map((e) => [e.type, e.lastEventId]),
        [0, 1, 2].map((i) => [(n + i) % 2 === 1 ? 'event1' : 'event2', String(n + i)]),
      );
      // Another page that saw up to n+2 comes back after n+3..n+5 were written (the clock
      // kept going for the first page): the channel's history replays them, through the
      // proxy, the very events the first page got.
      const missed = [await nextOfType(es, ticks, 2000), await nextOfType(es, ticks, 2000), await nextOfType(es, ticks, 2000)];
      assert.deepEqual(missed.map((e) => e.lastEventId), [String(n + 3), String(n + 4), String(n + 5)]);
      const resumed = await openEventStream(`${base}/demo/sse?typed&client=${kind.name}-2`, { 'Last-Event-ID': String(n + 2) });
      t.after(() => resumed.close());
      const next = [await nextOfType(resumed, ticks, 2000), await nextOfType(resumed, ticks, 2000), await nextOfType(resumed, ticks, 2000)];
      assert.deepEqual(next, missed);
      assert.equal(resumed.events.filter((e) => e.type === 'reset').length, 0);
    });

    more?.(harness);
  });
}
