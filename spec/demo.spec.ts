/**
 * The demo server (examples/server.ts), in-process on 127.0.0.1 port 0, read
 * with a real HTTP client: the page, the shared clock (one timer, one channel
 * with history), resume, CORS, the "server closes" flow and graceful shutdown.
 *
 * Tests that assert exact tick ids get a fresh server: its clock starts at 1.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { ServerSentEvent } from '../lib/index.ts';
import { clockOf, createDemoServer, shutdown, tick, type DemoClock, type DemoOptions } from '../examples/server.ts';
import {
  closeServer,
  elapse,
  listen,
  nextOfType,
  openEventStream,
  request,
  within,
  type EventStreamClient,
} from './support/realworld.ts';

const INTERVAL = 10;
const TICKS = ['event1', 'event2'];

const nextTick = (es: EventStreamClient): Promise<ServerSentEvent> => nextOfType(es, TICKS);
const nextPresence = (es: EventStreamClient): Promise<ServerSentEvent> => nextOfType(es, ['presence']);
const isTick = (e: ServerSentEvent): boolean => TICKS.includes(e.type);

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

/** Ids n, n+1, n+2...: no gap, no duplicate; and event1/event2 by parity. */
function assertContiguous(ticks: readonly ServerSentEvent[], what: string): void {
  const ids = ticks.map((e) => Number(e.lastEventId));
  for (let i = 1; i < ids.length; i++) assert.equal(ids[i], ids[i - 1] + 1, `${what}: ids ${ids.join(',')}`);
  for (const e of ticks) assert.equal(e.type, Number(e.lastEventId) % 2 === 1 ? 'event1' : 'event2', `${what}: type of ${e.lastEventId}`);
}

/** Resolve once nobody is subscribed to the clock (the server saw every client leave). */
async function untilEmpty(clock: DemoClock): Promise<void> {
  for (let i = 0; i < 100 && clock.channel.size > 0; i++) {
    await within(once(clock.channel, 'leave'), 2000, 'a stream to leave the clock');
  }
  assert.equal(clock.channel.size, 0);
}

/** A demo server of its own, closed after the test. */
async function fresh(t: TestContext, options: DemoOptions = {}): Promise<{ base: string; clock: DemoClock; server: http.Server }> {
  const server = createDemoServer({ intervalMs: INTERVAL, heartbeat: 0, retry: 100, ...options });
  const port = await listen(server);
  t.after(() => closeServer(server));
  return { base: `http://127.0.0.1:${port}`, clock: clockOf(server)!, server };
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

  test('GET / is the page: 200 text/html with an EventSource, the two buttons, presence and reset', async () => {
    const res = await request(`${base}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(res.body, /new EventSource\(/);
    assert.match(res.body, /Close \(es\.close\(\)\)/);
    assert.match(res.body, /Server closes/);
    assert.match(res.body, /addEventListener\('presence'/);
    assert.match(res.body, /addEventListener\('reset'/);
    assert.doesNotMatch(res.body, /<(script|link|img)[^>]+(src|href)=/, 'no external assets');
  });

  test('GET /sse: event stream headers, retry, presence, then ids 1, 2, 3... with event1/event2 alternating', async (t) => {
    const { base } = await fresh(t);
    const es = await openEventStream(`${base}/sse?client=ids`);
    t.after(() => es.close());
    assert.equal(es.status, 200);
    assert.equal(es.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(es.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(es.headers['x-accel-buffering'], 'no');
    assert.equal(es.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers');
    for (let n = 1; n <= 4; n++) {
      const event = await nextTick(es);
      assert.equal(event.lastEventId, String(n));
      assert.equal(event.type, n % 2 === 1 ? 'event1' : 'event2');
      assert.match(event.data, /^[0-9]{13}$/);
    }
    assert.deepEqual(es.retries, [100]);
    // The page count comes first (the clock's first tick is one interval after the first page joins).
    const head = ':ok\n\nretry: 100\n\nevent: presence\ndata: 1\n\nevent: event1\nid: 1\ndata: ';
    assert.ok(es.raw.startsWith(head), JSON.stringify(es.raw.slice(0, 80)));
  });

  test('one clock for all pages: two clients get the same ticks (same ids, same bytes) and the page count', async (t) => {
    const { base, clock } = await fresh(t);
    const a = await openEventStream(`${base}/sse?client=a`);
    t.after(() => a.close());
    assert.deepEqual([(await a.next()).type, a.events[0].data], ['presence', '1']);
    await nextTick(a);

    const b = await openEventStream(`${base}/sse?client=b`);
    t.after(() => b.close());
    // No Last-Event-ID: no replay, the count first, then live ticks.
    assert.deepEqual([(await b.next()).type, b.events[0].data], ['presence', '2']);
    const bTicks = [await nextTick(b), await nextTick(b), await nextTick(b), await nextTick(b), await nextTick(b)];
    assertContiguous(bTicks, 'b');
    const last = Number(bTicks.at(-1)!.lastEventId);
    await ticksUntil(a, last);

    const aTicks = a.events.filter(isTick);
    assertContiguous(aTicks, 'a');
    const byId = new Map(aTicks.map((e) => [e.lastEventId, e]));
    for (const e of bTicks) assert.deepEqual(byId.get(e.lastEventId), e, `tick ${e.lastEventId} is the same event on both`);
    // The very same frames on the wire: serialized once, written to both.
    const frame = (e: ServerSentEvent): string => `event: ${e.type}\nid: ${e.lastEventId}\ndata: ${e.data}\n\n`;
    for (const e of bTicks) {
      assert.ok(a.raw.includes(frame(e)) && b.raw.includes(frame(e)), frame(e));
    }
    assert.equal(a.events.filter((e) => e.type === 'presence').map((e) => e.data).join(','), '1,2');
    assert.ok(clock.tick >= last);

    b.close();
    assert.equal((await nextPresence(a)).data, '1', 'a is told that b left');
  });

  test('the timer runs only while a page is connected; ticks go on from where they stopped', async (t) => {
    const { base, clock } = await fresh(t);
    assert.equal(clock.running, false, 'no page yet, no timer');
    const a = await openEventStream(`${base}/sse?client=first`);
    t.after(() => a.close());
    assert.equal(clock.running, true);
    assert.equal((await nextTick(a)).lastEventId, '1');
    a.close();
    await untilEmpty(clock);
    assert.equal(clock.running, false);
    const stopped = clock.tick;
    await elapse(5 * INTERVAL); // time is the subject: nothing ticks while nobody listens
    assert.equal(clock.tick, stopped);

    const b = await openEventStream(`${base}/sse?client=second`);
    t.after(() => b.close());
    assert.equal((await nextTick(b)).lastEventId, String(stopped + 1));
  });

  test('resume: a Last-Event-ID within the history gets exactly the missed ticks, then live ones (no gap, no duplicate)', async (t) => {
    const { base } = await fresh(t);
    // Keeps the clock running while the other page is away.
    const keeper = await openEventStream(`${base}/sse?client=keeper`);
    t.after(() => keeper.close());
    const away = await openEventStream(`${base}/sse?client=away`);
    t.after(() => away.close());
    const seen = [await nextTick(away), await nextTick(away), await nextTick(away)];
    const last = Number(seen[2].lastEventId);
    away.close();
    await ticksUntil(keeper, last + 5);

    const back = await openEventStream(`${base}/sse?client=away`, { 'Last-Event-ID': String(last) });
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
    const keeper = await openEventStream(`${base}/sse?client=keeper`);
    t.after(() => keeper.close());
    await ticksUntil(keeper, 5);

    const es = await openEventStream(`${base}/sse?client=stranger`, { 'Last-Event-ID': 'abc' });
    t.after(() => es.close());
    const reset = await es.next();
    assert.equal(reset.type, 'reset');
    assert.match(reset.data, /^Last-Event-ID abc is not among the ticks kept \(the last 600\)/);
    assert.ok(es.raw.startsWith(':ok\n\nretry: 100\n\nevent: reset\ndata: Last-Event-ID abc '), 'no id: a browser keeps its own last id');
    const ticks = await ticksUntil(es, 10);
    assert.equal(ticks[0].lastEventId, '1', 'all 600 kept: from the first tick');
    assertContiguous(ticks, 'replay + live');
    assert.equal(es.events.filter((e) => e.type === 'reset').length, 1);
  });

  test('a Last-Event-ID older than the history (history: 5) gets a reset, then the 5 kept ticks, then live ones', async (t) => {
    const { base } = await fresh(t, { history: 5 });
    const keeper = await openEventStream(`${base}/sse?client=keeper`);
    t.after(() => keeper.close());
    await ticksUntil(keeper, 12);

    const es = await openEventStream(`${base}/sse?client=late`, { 'Last-Event-ID': '2' });
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
    const custom = createDemoServer({ intervalMs: INTERVAL, heartbeat: 0, allowedOrigins: ['http://app.example'] });
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

  test('server closes: POST /close ends that stream only, the reconnect gets 204, the next one resumes', async (t) => {
    const { base } = await fresh(t);
    const stay = await openEventStream(`${base}/sse?client=stay`);
    t.after(() => stay.close());
    const es = await openEventStream(`${base}/sse?client=bye`);
    t.after(() => es.close());
    const seen = await nextTick(es);
    const answer = await request(`${base}/close?client=bye`, { method: 'POST' });
    assert.equal(answer.status, 202);
    assert.equal(await within(es.closed, 2000, 'the stream to end'), 'end');
    const last = es.events.at(-1)!.lastEventId;
    assert.ok(Number(last) >= Number(seen.lastEventId));

    // The other page keeps the clock, and is told that one page left.
    await untilPresence(stay, 2);
    await untilPresence(stay, 1);
    const later = await ticksUntil(stay, Number(last) + 3);
    assertContiguous(stay.events.filter(isTick), 'the page that stayed');
    assert.ok(Number(later.at(-1)!.lastEventId) >= Number(last) + 3);

    // What the browser does next: reconnect with Last-Event-ID. The demo says 204.
    const again = await request(`${base}/sse?client=bye`, { headers: { 'Last-Event-ID': last } });
    assert.equal(again.status, 204);
    assert.equal(again.body, '');

    // The mark is used up: a later connection with that id is a normal stream, and
    // resumes right after the last tick it saw (the ones since come from the history).
    const back = await openEventStream(`${base}/sse?client=bye`, { 'Last-Event-ID': last });
    t.after(() => back.close());
    assert.equal(back.status, 200);
    assert.equal((await nextTick(back)).lastEventId, String(Number(last) + 1));
  });

  test('server closes a client id open twice (two tabs): both streams end, both reconnects get 204', async (t) => {
    const one = await openEventStream(`${base}/sse?client=twice`);
    const two = await openEventStream(`${base}/sse?client=twice`);
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

  test('shutdown() (what SIGTERM does) stops the clock, ends open streams and server.close() completes', async () => {
    const own = createDemoServer({ intervalMs: INTERVAL, heartbeat: 0 });
    const clock = clockOf(own)!;
    const port = await listen(own);
    const a = await openEventStream(`http://127.0.0.1:${port}/sse?client=s1`);
    const b = await openEventStream(`http://127.0.0.1:${port}/sse?client=s2`);
    await nextTick(a);
    await nextTick(b);
    const started = Date.now();
    // Well under keepAliveTimeout (5 s): no waiting out of idle keep-alive sockets.
    await within(shutdown(own), 2000, 'shutdown() to resolve');
    assert.equal(own.listening, false);
    assert.equal(clock.running, false);
    assert.equal(clock.channel.size, 0);
    assert.equal(clock.channel.writableEnded, true);
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
    assert.equal((await nextTick(es)).lastEventId, '1');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    assert.equal(await within(es.closed, 3000, 'the stream to end on SIGTERM'), 'end');
    const [code, signal] = await within(exited, 3000, 'the demo to exit');
    assert.deepEqual([code, signal], [0, null]);
    assert.match(out, /SIGTERM: ending open streams, closing the server\n$/);
  });
});
