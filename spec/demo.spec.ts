/**
 * The demo server (examples/server.ts), in-process on 127.0.0.1 port 0, read
 * with a real HTTP client: the page, the shared clock (one timer, channels with
 * history), the article's untyped stream and the typed variant, resume, CORS,
 * the "server closes" flow, graceful shutdown; and as `npm start` runs it (a
 * child process): defaults, restart, a busy port.
 *
 * Tests that assert exact tick ids get a fresh server: its clock starts at 1.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { ServerSentEvent } from '../lib/index.ts';
import { clockOf, createDemoServer, shutdown, tick, type DemoClock, type DemoOptions } from '../examples/server.ts';
import {
  closeServer,
  elapse,
  listen,
  nextOfType,
  openEventStream,
  request,
  spawnDemo,
  startDemoProcess,
  within,
  type EventStreamClient,
} from './support/realworld.ts';

const INTERVAL = 10;
const TYPED = ['event1', 'event2'];
const ALL_TICKS = ['message', ...TYPED];

const nextTick = (es: EventStreamClient): Promise<ServerSentEvent> => nextOfType(es, ALL_TICKS);
const nextPresence = (es: EventStreamClient): Promise<ServerSentEvent> => nextOfType(es, ['presence']);
const isTick = (e: ServerSentEvent): boolean => ALL_TICKS.includes(e.type);

/** Ticks read from `es` until one with id >= `id` (bounded by nextOfType's wait). */
async function ticksUntil(es: EventStreamClient, id: number, max = 2000): Promise<ServerSentEvent[]> {
  const got: ServerSentEvent[] = [];
  for (let i = 0; i < max; i++) {
    const e = await nextTick(es);
    got.push(e);
    if (Number(e.lastEventId) >= id) return got;
  }
  throw new Error(`no tick with id >= ${id} among ${max}`);
}

/** Presence events read from `es` until one says `pages` (bounded). */
async function untilPresence(es: EventStreamClient, pages: number, max = 10): Promise<void> {
  for (let i = 0; i < max; i++) if ((await nextPresence(es)).data === String(pages)) return;
  throw new Error(`no presence ${pages} among the next ${max}`);
}

/** Ids n, n+1, n+2...: no gap, no duplicate; untyped (`message`), or event1/event2 by parity. */
function assertContiguous(ticks: readonly ServerSentEvent[], what: string, typed = false): void {
  const ids = ticks.map((e) => Number(e.lastEventId));
  for (let i = 1; i < ids.length; i++) assert.equal(ids[i], ids[i - 1] + 1, `${what}: ids ${ids.join(',')}`);
  for (const e of ticks) {
    const type = typed ? (Number(e.lastEventId) % 2 === 1 ? 'event1' : 'event2') : 'message';
    assert.equal(e.type, type, `${what}: type of ${e.lastEventId}`);
  }
}

/** Resolve once nobody is subscribed to the clock (the server saw every client leave). */
async function untilEmpty(clock: DemoClock): Promise<void> {
  for (let i = 0; i < 100 && clock.pages.size > 0; i++) {
    await within(once(clock.pages, 'leave'), 2000, 'a stream to leave the clock');
  }
  assert.equal(clock.pages.size, 0);
}

/** A demo server of its own, closed after the test. */
async function fresh(t: TestContext, options: DemoOptions = {}): Promise<{ base: string; clock: DemoClock; server: http.Server }> {
  const server = createDemoServer({ intervalMs: INTERVAL, heartbeat: 0, retry: 100, ...options });
  const port = await listen(server);
  t.after(() => closeServer(server));
  return { base: `http://127.0.0.1:${port}`, clock: clockOf(server)!, server };
}

/** GET over `agent` and report how it went: a status, or the error (never throws). */
function attempt(url: string, agent: http.Agent): Promise<string> {
  return request(url, { agent }).then(
    (res) => `HTTP ${res.status}`,
    (err: NodeJS.ErrnoException) => `error ${err.code ?? err.message}`,
  );
}

describe('demo server', () => {
  let server: http.Server;
  let base = '';
  let origin = '';

  before(async () => {
    server = createDemoServer({ intervalMs: INTERVAL, heartbeat: 0, retry: 100 });
    const port = await listen(server);
    origin = `http://127.0.0.1:${port}`;
    base = origin;
  });
  after(() => closeServer(server));

  test('tick(n): id n and the data; typed, event1 for odd n and event2 for even n', () => {
    assert.deepEqual(tick(1, false, '1700000000000'), { id: 1, data: '1700000000000' });
    assert.deepEqual(tick(1, true, '1700000000000'), { id: 1, event: 'event1', data: '1700000000000' });
    assert.deepEqual(tick(2, true, '1700000000100'), { id: 2, event: 'event2', data: '1700000000100' });
    const before = Date.now();
    const m = tick(3);
    assert.match(String(m.data), /^[0-9]{13}$/);
    assert.ok(Number(m.data) >= before && Number(m.data) <= Date.now());
  });

  test('GET / is the page: 200 text/html with an EventSource, both variants, the buttons, presence and reset', async () => {
    const res = await request(`${base}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(res.body, /new EventSource\(/);
    assert.match(res.body, /es\.onmessage = /);
    assert.match(res.body, /addEventListener\('event1'/);
    assert.match(res.body, /href="\?typed"/);
    assert.match(res.body, /Close \(es\.close\(\)\)/);
    assert.match(res.body, /Server closes/);
    assert.match(res.body, /addEventListener\('presence'/);
    assert.match(res.body, /addEventListener\('reset'/);
    assert.doesNotMatch(res.body, /<(script|link|img)[^>]+(src|href)=/, 'no external assets');
  });

  test("§1 as written: GET /sse with no parameter streams untyped ticks (es.onmessage), ids 1, 2, 3...", async (t) => {
    const { base } = await fresh(t);
    const es = await openEventStream(`${base}/sse`);
    t.after(() => es.close());
    assert.equal(es.status, 200);
    assert.equal(es.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(es.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(es.headers['x-accel-buffering'], 'no');
    assert.equal(es.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers');
    const ticks = [await nextTick(es), await nextTick(es), await nextTick(es), await nextTick(es)];
    assert.deepEqual(ticks.map((e) => [e.type, e.lastEventId]), [['message', '1'], ['message', '2'], ['message', '3'], ['message', '4']]);
    for (const e of ticks) {
      assert.match(e.data, /^[0-9]{13}$/);
      assert.ok(es.raw.includes(`\n\nid: ${e.lastEventId}\ndata: ${e.data}\n\n`), `the frame of tick ${e.lastEventId}`);
    }
    assert.deepEqual(es.retries, [100]);
    // The page count comes first (the clock's first tick is one interval after the first page joins).
    const head = ':ok\n\nretry: 100\n\nevent: presence\ndata: 1\n\nid: 1\ndata: ';
    assert.ok(es.raw.startsWith(head), JSON.stringify(es.raw.slice(0, 80)));
  });

  test("§1's header: any other origin may read /sse without cookies (Access-Control-Allow-Origin: *)", async (t) => {
    const es = await openEventStream(`${base}/sse`, { Origin: 'http://elsewhere.example' });
    t.after(() => es.close());
    assert.equal(es.status, 200);
    assert.equal(es.headers['access-control-allow-origin'], '*');
    assert.equal(es.headers['access-control-allow-credentials'], undefined);
    assert.equal(es.headers['vary'], 'Origin', 'the answer depends on the Origin');
    assert.equal((await nextTick(es)).type, 'message');
  });

  test('§4: GET /sse?typed: the same clock as event1/event2 alternating', async (t) => {
    const { base } = await fresh(t);
    const es = await openEventStream(`${base}/sse?typed`);
    t.after(() => es.close());
    for (let n = 1; n <= 4; n++) {
      const event = await nextTick(es);
      assert.equal(event.lastEventId, String(n));
      assert.equal(event.type, n % 2 === 1 ? 'event1' : 'event2');
      assert.match(event.data, /^[0-9]{13}$/);
    }
    assert.ok(es.raw.startsWith(':ok\n\nretry: 100\n\nevent: presence\ndata: 1\n\nevent: event1\nid: 1\ndata: '), JSON.stringify(es.raw.slice(0, 80)));
  });

  test('one clock for all pages: untyped and typed clients get the same ticks (same ids, same data, same bytes per variant)', async (t) => {
    const { base, clock } = await fresh(t);
    const a = await openEventStream(`${base}/sse?typed&client=a`);
    t.after(() => a.close());
    assert.deepEqual([(await a.next()).type, a.events[0].data], ['presence', '1']);
    await nextTick(a);

    const b = await openEventStream(`${base}/sse?typed&client=b`);
    t.after(() => b.close());
    // No Last-Event-ID: no replay, the count first, then live ticks.
    assert.deepEqual([(await b.next()).type, b.events[0].data], ['presence', '2']);
    const plain = await openEventStream(`${base}/sse`);
    t.after(() => plain.close());
    assert.deepEqual([(await plain.next()).type, plain.events[0].data], ['presence', '3']);

    const bTicks = [await nextTick(b), await nextTick(b), await nextTick(b), await nextTick(b), await nextTick(b)];
    assertContiguous(bTicks, 'b', true);
    const last = Number(bTicks.at(-1)!.lastEventId);
    await ticksUntil(a, last);
    await ticksUntil(plain, last);

    const aTicks = a.events.filter(isTick);
    assertContiguous(aTicks, 'a', true);
    assertContiguous(plain.events.filter(isTick), 'plain');
    const byId = new Map(aTicks.map((e) => [e.lastEventId, e]));
    const plainById = new Map(plain.events.filter(isTick).map((e) => [e.lastEventId, e]));
    for (const e of bTicks) {
      assert.deepEqual(byId.get(e.lastEventId), e, `tick ${e.lastEventId} is the same event on both typed clients`);
      const p = plainById.get(e.lastEventId);
      if (p !== undefined) assert.equal(p.data, e.data, `tick ${e.lastEventId} has the same data untyped`);
    }
    // The very same frames on the wire: serialized once, written to both.
    const frame = (e: ServerSentEvent): string => `event: ${e.type}\nid: ${e.lastEventId}\ndata: ${e.data}\n\n`;
    for (const e of bTicks) {
      assert.ok(a.raw.includes(frame(e)) && b.raw.includes(frame(e)), frame(e));
    }
    assert.equal(a.events.filter((e) => e.type === 'presence').map((e) => e.data).join(','), '1,2,3');
    assert.ok(clock.tick >= last);

    b.close();
    assert.equal((await nextPresence(a)).data, '2', 'a is told that b left');
  });

  test('the timer runs only while a page is connected; ticks go on from where they stopped', async (t) => {
    const { base, clock } = await fresh(t);
    assert.equal(clock.running, false, 'no page yet, no timer');
    const a = await openEventStream(`${base}/sse`);
    t.after(() => a.close());
    assert.equal(clock.running, true);
    assert.equal((await nextTick(a)).lastEventId, '1');
    a.close();
    await untilEmpty(clock);
    assert.equal(clock.running, false);
    const stopped = clock.tick;
    await elapse(5 * INTERVAL); // time is the subject: nothing ticks while nobody listens
    assert.equal(clock.tick, stopped);

    const b = await openEventStream(`${base}/sse?typed`);
    t.after(() => b.close());
    assert.equal((await nextTick(b)).lastEventId, String(stopped + 1));
  });

  test('resume: a Last-Event-ID within the history gets exactly the missed ticks, then live ones (no gap, no duplicate)', async (t) => {
    const { base } = await fresh(t);
    // Keeps the clock running while the other page is away.
    const keeper = await openEventStream(`${base}/sse`);
    t.after(() => keeper.close());
    const away = await openEventStream(`${base}/sse`);
    t.after(() => away.close());
    const seen = [await nextTick(away), await nextTick(away), await nextTick(away)];
    const last = Number(seen[2].lastEventId);
    away.close();
    await ticksUntil(keeper, last + 5);

    const back = await openEventStream(`${base}/sse`, { 'Last-Event-ID': String(last) });
    t.after(() => back.close());
    const resumed = await ticksUntil(back, last + 10);
    assert.equal(resumed[0].lastEventId, String(last + 1), 'the first tick after the last one seen');
    assertContiguous(resumed, 'resumed');
    assert.equal(back.events.filter((e) => e.type === 'reset').length, 0, 'no reset');
    // The replayed ticks are the ones the others got, not new ones.
    await ticksUntil(keeper, last + 10);
    const kept = new Map(keeper.events.filter(isTick).map((e) => [e.lastEventId, e.data]));
    for (const e of resumed) assert.equal(e.data, kept.get(e.lastEventId), `data of tick ${e.lastEventId}`);
  });

  test('an unknown Last-Event-ID gets a reset event, then every tick kept, then live ones', async (t) => {
    const { base } = await fresh(t);
    const keeper = await openEventStream(`${base}/sse?typed`);
    t.after(() => keeper.close());
    await ticksUntil(keeper, 5);

    const es = await openEventStream(`${base}/sse?typed`, { 'Last-Event-ID': 'abc' });
    t.after(() => es.close());
    const reset = await es.next();
    assert.equal(reset.type, 'reset');
    assert.match(reset.data, /^Last-Event-ID abc is not among the ticks kept \(the last 600\)/);
    assert.ok(es.raw.startsWith(':ok\n\nretry: 100\n\nevent: reset\ndata: Last-Event-ID abc '), 'no id: a browser keeps its own last id');
    const ticks = await ticksUntil(es, 10);
    assert.equal(ticks[0].lastEventId, '1', 'all 600 kept: from the first tick');
    assertContiguous(ticks, 'replay + live', true);
    assert.equal(es.events.filter((e) => e.type === 'reset').length, 1);
  });

  test('a Last-Event-ID older than the history (history: 5) gets a reset, then the 5 kept ticks, then live ones', async (t) => {
    const { base } = await fresh(t, { history: 5 });
    const keeper = await openEventStream(`${base}/sse`);
    t.after(() => keeper.close());
    await ticksUntil(keeper, 12);

    const es = await openEventStream(`${base}/sse`, { 'Last-Event-ID': '2' });
    t.after(() => es.close());
    await nextPresence(es);
    await nextTick(es);
    // Sent in this order when the stream joins: reset, the replay, the page count; then live ticks.
    const types = es.events.map((e) => e.type);
    assert.equal(types[0], 'reset');
    assert.match(es.events[0].data, /^Last-Event-ID 2 is not among the ticks kept \(the last 5\)/);
    const count = types.indexOf('presence');
    const replay = es.events.slice(1, count);
    assert.equal(replay.length, 5, `the replay: ${replay.map((e) => e.lastEventId).join(',')}`);
    assert.ok(Number(replay[0].lastEventId) >= 8, 'the 5 newest when it joined (>= 12 had been written)');
    assertContiguous([...replay, ...es.events.slice(count + 1)], 'replay + live');
  });

  test('§2 CORS: its own origins get the exact origin and credentials; others get * without credentials', async (t) => {
    const allowed = await openEventStream(`${base}/sse?client=cors1`, { Origin: origin });
    t.after(() => allowed.close());
    assert.equal(allowed.headers['access-control-allow-origin'], origin);
    assert.equal(allowed.headers['access-control-allow-credentials'], 'true');
    assert.equal(allowed.headers['vary'], 'Origin');

    const other = await openEventStream(`${base}/sse?client=cors2`, { Origin: 'http://evil.example' });
    t.after(() => other.close());
    assert.equal(other.headers['access-control-allow-origin'], '*', 'readable, but never with cookies');
    assert.equal(other.headers['access-control-allow-credentials'], undefined);

    const pre = await request(`${base}/sse`, {
      method: 'OPTIONS',
      headers: { Origin: origin, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'last-event-id' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers['access-control-allow-origin'], origin);
    assert.equal(pre.headers['access-control-allow-headers'], 'last-event-id');
    assert.equal(pre.headers['access-control-allow-credentials'], 'true');

    const close = await request(`${base}/close?client=nobody`, { method: 'POST', headers: { Origin: 'http://evil.example' } });
    assert.equal(close.status, 404);
    assert.equal(close.headers['access-control-allow-origin'], undefined, 'POST /close: only the allowed origins may read the answer');
  });

  test('ALLOWED_ORIGINS-style allowlist replaces the default origins', async () => {
    const custom = createDemoServer({ intervalMs: INTERVAL, heartbeat: 0, allowedOrigins: ['http://app.example'] });
    const port = await listen(custom);
    try {
      const app = await openEventStream(`http://127.0.0.1:${port}/sse?client=a`, { Origin: 'http://app.example' });
      app.close();
      assert.equal(app.headers['access-control-allow-origin'], 'http://app.example');
      assert.equal(app.headers['access-control-allow-credentials'], 'true');
      const self = await openEventStream(`http://127.0.0.1:${port}/sse?client=b`, { Origin: `http://127.0.0.1:${port}` });
      self.close();
      assert.equal(self.headers['access-control-allow-origin'], '*');
      assert.equal(self.headers['access-control-allow-credentials'], undefined);
    } finally {
      await closeServer(custom);
    }
  });

  test('?client= is optional, but a malformed one is a 400; unknown paths are 404', async () => {
    const bad = await request(`${base}/sse?client=a%0Ab`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body, 'client must be 1-64 of A-Z a-z 0-9 _ - (or absent); got "a\\nb"\n');
    assert.equal((await request(`${base}/nope`)).status, 404);
    assert.equal((await request(`${base}/close?client=nobody`, { method: 'POST' })).status, 404);
    assert.equal((await request(`${base}/close`, { method: 'POST' })).status, 404);
  });

  test('§6 server closes: POST /close ends that stream only, the reconnect gets 204 (with its CORS headers), the next one resumes', async (t) => {
    const { base } = await fresh(t);
    const origin = base;
    const stay = await openEventStream(`${base}/sse?client=stay`);
    t.after(() => stay.close());
    const es = await openEventStream(`${base}/sse?typed&client=bye`, { Origin: origin });
    t.after(() => es.close());
    const seen = await nextTick(es);
    const answer = await request(`${base}/close?client=bye`, { method: 'POST', headers: { Origin: origin } });
    assert.equal(answer.status, 202);
    assert.equal(answer.headers['access-control-allow-origin'], origin);
    assert.equal(await within(es.closed, 2000, 'the stream to end'), 'end');
    const last = es.events.at(-1)!.lastEventId;
    assert.ok(Number(last) >= Number(seen.lastEventId));

    // The other page keeps the clock, and is told that one page left.
    await untilPresence(stay, 2);
    await untilPresence(stay, 1);
    const later = await ticksUntil(stay, Number(last) + 3);
    assertContiguous(stay.events.filter(isTick), 'the page that stayed');
    assert.ok(Number(later.at(-1)!.lastEventId) >= Number(last) + 3);

    // What the browser does next: reconnect with Last-Event-ID. The demo says 204, with
    // the CORS headers a cross-origin page needs to read it (else the browser logs a CORS error).
    const again = await request(`${base}/sse?typed&client=bye`, { headers: { 'Last-Event-ID': last, Origin: origin } });
    assert.equal(again.status, 204);
    assert.equal(again.body, '');
    assert.equal(again.headers['access-control-allow-origin'], origin);
    assert.equal(again.headers['access-control-allow-credentials'], 'true');
    assert.equal(again.headers['vary'], 'Origin');

    // The mark is used up: a later connection with that id is a normal stream, and
    // resumes right after the last tick it saw (the ones since come from the history).
    const back = await openEventStream(`${base}/sse?typed&client=bye`, { 'Last-Event-ID': last });
    t.after(() => back.close());
    assert.equal(back.status, 200);
    assert.equal((await nextTick(back)).lastEventId, String(Number(last) + 1));
  });

  test('server closes a client id open twice (two tabs): both streams end, both reconnects get 204', async (t) => {
    const one = await openEventStream(`${base}/sse?client=twice`);
    const two = await openEventStream(`${base}/sse?typed&client=twice`);
    t.after(() => (one.close(), two.close()));
    await nextTick(one);
    await nextTick(two);
    assert.equal((await request(`${base}/close?client=twice`, { method: 'POST' })).status, 202);
    assert.equal(await within(one.closed, 2000, 'stream one to end'), 'end');
    assert.equal(await within(two.closed, 2000, 'stream two to end'), 'end');
    assert.equal((await request(`${base}/sse?client=twice`)).status, 204);
    assert.equal((await request(`${base}/sse?client=twice`)).status, 204);
    const third = await openEventStream(`${base}/sse?client=twice`);
    third.close();
    assert.equal(third.status, 200);
  });

  test('shutdown() (what SIGTERM does) ends open streams and closes their keep-alive connections at once', async (t) => {
    const own = createDemoServer({ intervalMs: INTERVAL, heartbeat: 0 });
    const clock = clockOf(own)!;
    const port = await listen(own);
    t.after(() => closeServer(own));
    // What browsers do: keep-alive connections, reused for the next request.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const a = await openEventStream(`http://127.0.0.1:${port}/sse`, {}, 5000, agent);
    const b = await openEventStream(`http://127.0.0.1:${port}/sse?typed`);
    await nextTick(a);
    await nextTick(b);
    const started = Date.now();
    // Well under keepAliveTimeout (5 s): no keep-alive socket is left to time out.
    await within(shutdown(own), 1000, 'shutdown() to resolve');
    assert.equal(own.listening, false);
    assert.equal(clock.running, false);
    assert.equal(clock.pages.size, 0);
    assert.equal(clock.plain.writableEnded, true);
    assert.equal(clock.typed.writableEnded, true);
    assert.equal(await within(a.closed, 1000, 'stream a to end'), 'end');
    assert.equal(await within(b.closed, 1000, 'stream b to end'), 'end');
    assert.ok(Date.now() - started < 1000);
    // The browser's reconnect finds nothing: never a status (a non-200 would stop EventSource for good).
    assert.match(await attempt(`http://127.0.0.1:${port}/sse`, agent), /^error (ECONNREFUSED|ECONNRESET|socket hang up)$/);
  });

  test('shutdown() while a request arrives on a kept-alive socket: a stream request gets no status, the connection is closed', async (t) => {
    const own = createDemoServer({ intervalMs: INTERVAL, heartbeat: 0 });
    const port = await listen(own);
    t.after(() => closeServer(own));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    // A page loaded over the agent's one socket, which stays open (idle, kept alive).
    assert.equal((await request(`http://127.0.0.1:${port}/`, { agent })).status, 200);
    // A request already on its way when the shutdown starts.
    const pending = new Promise<string>((resolve) => {
      const req = http.get(`http://127.0.0.1:${port}/sse`, { agent }, (res) => resolve(`HTTP ${res.statusCode}`));
      req.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
      req.on('socket', () => void shutdown(own));
    });
    assert.match(await within(pending, 2000, 'the request to settle'), /^(HTTP 200|error (ECONNRESET|ECONNREFUSED|socket hang up))$/);
  });
});

describe('npm start (the demo as a process)', () => {
  test('prints its URL; the article\'s untyped ticks every 100 ms; exits 0 on SIGTERM after ending streams', async (t) => {
    const demo = await startDemoProcess();
    t.after(() => demo.kill());
    assert.match(demo.stdout(), /^ssepipe demo: http:\/\/localhost:\d+\/  \(listening on 127\.0\.0\.1:\d+\)\n/);
    const es = await openEventStream(`${demo.url}/sse`);
    t.after(() => es.close());
    const ticks: ServerSentEvent[] = [];
    for (let i = 0; i < 11; i++) ticks.push(await nextTick(es));
    assertContiguous(ticks, 'npm start');
    assert.equal(ticks[0].lastEventId, '1');
    // The interval is what the demo's defaults promise; the median tolerates a busy machine.
    const gaps = ticks.slice(1).map((e, i) => Number(e.data) - Number(ticks[i].data)).sort((x, y) => x - y);
    const median = gaps[gaps.length >> 1];
    assert.ok(median >= 90 && median <= 150, `median gap between ticks ${median} ms (gaps ${gaps.join(',')})`);
    demo.child.kill('SIGTERM');
    assert.equal(await within(es.closed, 3000, 'the stream to end on SIGTERM'), 'end');
    assert.deepEqual(await within(demo.exited, 3000, 'the demo to exit'), [0, null]);
    assert.match(demo.stdout(), /SIGTERM: ending open streams, closing the server\n$/);
    assert.equal(demo.stderr(), '');
  });

  test('restart: SIGTERM with a kept-alive stream exits within a second; the same port again resumes with a reset', async (t) => {
    const first = await startDemoProcess();
    t.after(() => first.kill());
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    const es = await openEventStream(`${first.url}/sse`, {}, 5000, agent);
    t.after(() => es.close());
    const seen = await nextTick(es);
    const sent = Date.now();
    first.child.kill('SIGTERM');
    assert.equal(await within(es.closed, 2000, 'the stream to end on SIGTERM'), 'end');
    // The client keeps its socket (keep-alive): the demo must close it, not wait for
    // keepAliveTimeout (5 s) to do so. (A reconnect on it: the shutdown() tests above.)
    assert.deepEqual(await within(first.exited, 6000, 'the old demo to exit'), [0, null]);
    const exitMs = Date.now() - sent;
    assert.ok(exitMs < 1000, `the old demo took ${exitMs} ms to exit after SIGTERM`);

    const second = await startDemoProcess({ PORT: String(first.port) });
    t.after(() => second.kill());
    const last = es.events.filter(isTick).at(-1)!.lastEventId;
    assert.ok(Number(last) >= Number(seen.lastEventId));
    const back = await openEventStream(`${second.url}/sse`, { 'Last-Event-ID': last }, 5000, agent);
    t.after(() => back.close());
    assert.equal((await back.next()).type, 'reset');
    assert.deepEqual((await nextTick(back)).lastEventId, '1', 'the new clock');
    second.child.kill('SIGTERM');
    assert.deepEqual(await within(second.exited, 3000, 'the new demo to exit'), [0, null]);
  });

  test('a busy port: one line with the fix, exit code 1, no stack', async (t) => {
    const holder = http.createServer();
    const port = await listen(holder);
    t.after(() => closeServer(holder));
    const child = spawnDemo({ PORT: String(port), HOST: '127.0.0.1' });
    t.after(() => void (child.exitCode === null && child.kill('SIGKILL')));
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    const [code] = (await within(once(child, 'close'), 10_000, 'the demo to give up')) as [number | null];
    assert.equal(code, 1);
    assert.equal(out, '');
    const m = /^port (\d+) is in use: try PORT=(\d+) npm start\n$/.exec(err);
    assert.ok(m, JSON.stringify(err));
    assert.equal(Number(m[1]), port);
    assert.ok(Number(m[2]) > port, 'a port above it, free when it looked');
  });

  test('a PORT that is not a port number: one line, exit code 1', async (t) => {
    const child = spawnDemo({ PORT: 'eighty', HOST: '127.0.0.1' });
    t.after(() => void (child.exitCode === null && child.kill('SIGKILL')));
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
    const [code] = (await within(once(child, 'close'), 10_000, 'the demo to give up')) as [number | null];
    assert.equal(code, 1);
    assert.equal(err, 'PORT must be a port number (0-65535; 0 picks a free one); got "eighty"\n');
  });
});
