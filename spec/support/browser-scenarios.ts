/**
 * The seed article's scenarios in a real browser, shared by the engines:
 * spec/chromium.spec.ts and spec/firefox.spec.ts each call `browserScenarios()`.
 * One headless browser per file (spec/support/browsers.ts), with one tab on a
 * blank "runner" page of the test's own server; each node:test subtest runs
 * browser code there (`inBrowser`) and checks both what the browser reported and
 * what the servers saw. Where the engines differ, `ENGINES` says how, as measured.
 *
 * Origins: the runner page is PAGE (127.0.0.1:p1); API (127.0.0.1:p2) is a second
 * server for cross-origin scenarios. Same host, so a cookie set on the page is
 * sent to API by a credentialed request (cookies are per host, not per port).
 * The demo runs in-process behind PAGE's /demo/ (same origin as the runner, so a
 * test can read its page in an iframe), and as `npm start` runs it (a child
 * process, opened in a tab of its own) for the article's client code and restarts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Browser, Page } from 'puppeteer-core';
import { Channel, SSEStream, noContent, preflight, type ContentEncoding, type CorsOptions, type SSEError } from '../../lib/index.ts';
import { AVAILABLE } from '../../lib/zlib-node.ts';
import { clockOf, createDemoServer } from '../../examples/server.ts';
import { launchBrowser, type Engine } from './browsers.ts';
import { ARTICLE_URL, articleClient } from './readme.ts';
import {
  closeServer,
  deferred,
  listen,
  nextOfType,
  openEventStream,
  requireBinary,
  startDemoProcess,
  within,
} from './realworld.ts';

const SCENARIO_MS = 10_000;
const LAUNCH_MS = 30_000;

/** What differs between the engines, as measured here (Chromium 156, Firefox ESR 153). */
const ENGINES: Record<Engine, { label: string; hint: string; preflightOnReconnect: boolean; consoleShowsCorsErrors: boolean }> = {
  chromium: {
    label: 'Chromium',
    hint: 'set CHROMIUM_BIN or apt-get install chromium',
    // Its EventSource exempts Last-Event-ID from the CORS-unsafe header check.
    preflightOnReconnect: false,
    // CORS failures reach the page's console (DevTools Log domain).
    consoleShowsCorsErrors: true,
  },
  firefox: {
    label: 'Firefox ESR',
    hint: 'set FIREFOX_BIN or apt-get install firefox-esr',
    preflightOnReconnect: false,
    // WebDriver BiDi's log entries carry the page's console calls and script errors, not network errors.
    consoleShowsCorsErrors: false,
  },
};

// ---------------------------------------------------------------------------
// Servers that record what they saw

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  status?: number;
  /** The headers passed to writeHead (lower-cased names), i.e. what went on the wire. */
  responseHeaders: Record<string, string>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void;

interface RecordingServer {
  server: http.Server;
  origin: string;
  log: Seen[];
  routes: Map<string, Handler>;
  /** Requests to `path`, in arrival order. */
  seen(path: string): Seen[];
}

function recordingServer(fallback?: Handler): RecordingServer {
  const log: Seen[] = [];
  const routes = new Map<string, Handler>();
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const seen: Seen = { method: req.method ?? '', path, headers: req.headers, responseHeaders: {} };
    log.push(seen);
    const writeHead = res.writeHead;
    res.writeHead = function (this: http.ServerResponse, status: number, ...rest: unknown[]) {
      seen.status = status;
      const headers = rest.find((h) => h !== null && typeof h === 'object' && !Array.isArray(h)) as
        | Record<string, string>
        | undefined;
      for (const [k, v] of Object.entries(headers ?? {})) seen.responseHeaders[k.toLowerCase()] = String(v);
      return (writeHead as (...a: unknown[]) => http.ServerResponse).call(this, status, ...rest);
    } as typeof res.writeHead;
    const route = routes.get(path) ?? fallback;
    if (route) return route(req, res, seen);
    res.writeHead(404).end();
  });
  const rs: RecordingServer = {
    server,
    origin: '',
    log,
    routes,
    seen: (path) => log.filter((s) => s.path === path),
  };
  return rs;
}

// ---------------------------------------------------------------------------
// Browser code runs as the body of an async function with `ctx` (helpers) and `args`.

const CTX = `{
  timeout(promise, ms, what) {
    let t;
    return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error('browser timed out: ' + what)), ms); })])
      .finally(() => clearTimeout(t));
  },
  // Bounded polling, for DOM state of a page that has no hooks for us.
  async until(fn, ms, what) {
    const end = Date.now() + ms;
    for (;;) {
      const v = fn();
      if (v) return v;
      if (Date.now() > end) throw new Error('browser gave up waiting for: ' + what);
      await new Promise((r) => setTimeout(r, 25));
    }
  },
}`;

const RUNNER = '<!doctype html><meta charset="utf-8"><title>runner</title><body></body>';

/** Every scenario of the article, and the demo's, in `engine` (found at `binary`, or skipped). */
export function browserScenarios(engine: Engine, binary: string | undefined): void {
  const { label, hint } = ENGINES[engine];
  describe(`EventSource in headless ${label}`, requireBinary(engine, binary, hint), () => {
    defineScenarios(engine, binary!);
  });
}

function defineScenarios(engine: Engine, binary: string): void {
  const expected = ENGINES[engine];
  const { label } = expected;
  // Paths without a route go to the demo proxy (below).
  const page = recordingServer((req, res) => proxyDemo(req, res));
  const api = recordingServer();
  const demo = createDemoServer({ intervalMs: 50, retry: 100, heartbeat: 0 });
  let demoPort = 0;
  // A second demo that allows the runner's origin: its page at PAGE/demo/?server=<it> streams cross-origin.
  let crossDemo: http.Server | undefined;
  let crossDemoOrigin = '';
  let browser: Browser | undefined;
  let runner: Page | undefined;
  /** The runner tab's console, as the browser reports it: [type, text]. */
  const consoleLog: Array<[string, string]> = [];

  /** Run `code` (an async function body with `ctx` and `args`) in `tab`; its return value comes back. */
  async function inBrowser<T>(code: string, args: unknown = null, ms = SCENARIO_MS, tab: Page = runner!): Promise<T> {
    const expression = `(async (ctx, args) => {\n${code}\n})(${CTX}, ${JSON.stringify(args)})`;
    try {
      return (await within(tab.evaluate(expression), ms, `the ${label} scenario's result`)) as T;
    } catch (err) {
      throw new Error(`scenario failed in ${label}: ${(err as Error).message}`);
    }
  }

  /** A new tab on `url` (closed after the test by the caller). */
  async function openTab(url: string): Promise<Page> {
    const tab = await browser!.newPage();
    await tab.goto(url, { waitUntil: 'load', timeout: SCENARIO_MS });
    return tab;
  }

  page.routes.set('/runner', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(RUNNER);
  });
  // /demo/* is the demo server behind a tiny reverse proxy, so that the demo page
  // is same-origin with the runner and its DOM can be read from an iframe.
  // POST /cut-demo (from a scenario) ends the proxied event streams cleanly, as a
  // server going away would: the page reconnects, to `demoPort` at that time.
  const proxiedStreams = new Set<() => void>();
  /** Each proxied /sse request: its Last-Event-ID, and the demo clock's last tick when it came. */
  const streamRequests: { lastEventId: string | undefined; tick: number }[] = [];
  const proxyDemo = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (!(req.url ?? '').startsWith('/demo/')) return void res.writeHead(404).end();
    const port = demoPort;
    const isStream = (req.url ?? '').startsWith('/demo/sse');
    if (isStream) streamRequests.push({ lastEventId: req.headers['last-event-id'] as string | undefined, tick: clockOf(demo)!.tick });
    const upstream = http.request(
      { host: '127.0.0.1', port, path: (req.url ?? '/').slice('/demo'.length), method: req.method, headers: req.headers, agent: false },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        if (!isStream) return;
        const cut = (): void => {
          up.unpipe(res);
          upstream.destroy();
          res.end();
        };
        proxiedStreams.add(cut);
        res.on('close', () => proxiedStreams.delete(cut));
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };
  page.routes.set('/cut-demo', (_req, res) => {
    const cuts = [...proxiedStreams];
    proxiedStreams.clear();
    for (const cut of cuts) cut();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(String(cuts.length));
  });

  before(async () => {
    const pagePort = await listen(page.server);
    page.origin = `http://127.0.0.1:${pagePort}`;
    const apiPort = await listen(api.server);
    api.origin = `http://127.0.0.1:${apiPort}`;
    demoPort = await listen(demo);
    crossDemo = createDemoServer({ intervalMs: 50, retry: 100, heartbeat: 0, allowedOrigins: [page.origin] });
    crossDemoOrigin = `http://127.0.0.1:${await listen(crossDemo)}`;
    browser = await within(launchBrowser(engine, binary), LAUNCH_MS, `${label} to start`);
    runner = await openTab(`${page.origin}/runner`);
    runner.on('console', (message) => void consoleLog.push([message.type(), message.text()]));
  });

  after(async () => {
    await browser?.close();
    await Promise.all([closeServer(page.server), closeServer(api.server), closeServer(demo), crossDemo ? closeServer(crossDemo) : undefined]);
  });

  // §1 ---------------------------------------------------------------------
  test('§1 onmessage receives data written as a string and as an object (JSON)', async () => {
    page.routes.set('/a', (req, res) => {
      const stream = new SSEStream(req);
      stream.pipe(res);
      stream.write({ data: 'hello, world' });
      stream.write({ data: { n: 1, s: 'x', list: [true, null] } });
      stream.write('bare string\nsecond line');
    });
    const got = await inBrowser<{ type: string; data: string }[]>(`
      const es = new EventSource('/a');
      const out = [];
      try {
        await ctx.timeout(new Promise((resolve) => {
          es.onmessage = (e) => { out.push({ type: e.type, data: e.data }); if (out.length === 3) resolve(); };
        }), 5000, 'three messages');
      } finally { es.close(); }
      return out;
    `);
    assert.deepEqual(got, [
      { type: 'message', data: 'hello, world' },
      { type: 'message', data: '{"n":1,"s":"x","list":[true,null]}' },
      { type: 'message', data: 'bare string\nsecond line' },
    ]);
  });

  // §3 ---------------------------------------------------------------------
  test('§3 event.lastEventId is the id written (string or number) and persists', async () => {
    page.routes.set('/b', (req, res) => {
      const stream = new SSEStream(req);
      stream.pipe(res);
      stream.write({ id: '1700000000000', data: 'Hello, World!' });
      stream.write({ id: 7, data: 'numeric id' });
      stream.write({ data: 'no id: keeps the last one' });
    });
    const got = await inBrowser<string[][]>(`
      const es = new EventSource('/b');
      const out = [];
      try {
        await ctx.timeout(new Promise((resolve) => {
          es.onmessage = (e) => { out.push([e.lastEventId, e.data]); if (out.length === 3) resolve(); };
        }), 5000, 'three messages');
      } finally { es.close(); }
      return out;
    `);
    assert.deepEqual(got, [
      ['1700000000000', 'Hello, World!'],
      ['7', 'numeric id'],
      ['7', 'no id: keeps the last one'],
    ]);
  });

  // §4 ---------------------------------------------------------------------
  test('§4 addEventListener(event1/event2) gets typed events; onmessage only untyped ones', async () => {
    page.routes.set('/c', (req, res) => {
      const stream = new SSEStream(req);
      stream.pipe(res);
      stream.write({ id: '1', event: 'event1', data: 'one' });
      stream.write({ id: '2', event: 'event2', data: 'two' });
      stream.write({ id: '3', data: 'untyped' });
      stream.write({ id: '4', event: 'event1', data: 'done' });
    });
    const got = await inBrowser<string[][]>(`
      const es = new EventSource('/c');
      const out = [];
      try {
        await ctx.timeout(new Promise((resolve) => {
          const on = (e) => { out.push([e.type, e.lastEventId, e.data]); if (e.data === 'done') resolve(); };
          es.addEventListener('event1', on);
          es.addEventListener('event2', on);
          es.onmessage = on;
        }), 5000, 'the event "done"');
      } finally { es.close(); }
      return out;
    `);
    assert.deepEqual(got, [
      ['event1', '1', 'one'],
      ['event2', '2', 'two'],
      ['message', '3', 'untyped'],
      ['event1', '4', 'done'],
    ]);
  });

  // §2 ---------------------------------------------------------------------
  test('§2 withCredentials cross-origin: the cookie is sent; exact origin + Allow-Credentials come back', async () => {
    const cors: CorsOptions = { origin: page.origin, credentials: true };
    api.routes.set('/d', (req, res) => {
      const stream = new SSEStream(req, { cors });
      stream.pipe(res);
      stream.write({ data: `cookie: ${req.headers.cookie ?? '(none)'}` });
    });
    const got = await inBrowser<{ data: string; withCredentials: boolean; plainError: number }>(
      `
      document.cookie = 'session=abc123; path=/';
      const es = new EventSource(args.api + '/d', { withCredentials: true });
      let data;
      try {
        data = await ctx.timeout(new Promise((resolve, reject) => {
          es.onmessage = (e) => resolve(e.data);
          es.onerror = () => reject(new Error('EventSource error, readyState ' + es.readyState));
        }), 5000, 'the credentialed message');
      } finally { es.close(); }
      // Without withCredentials the cookie stays home (and no credentials header is needed).
      const plain = new EventSource(args.api + '/d');
      let plainData;
      try {
        plainData = await ctx.timeout(new Promise((resolve, reject) => {
          plain.onmessage = (e) => resolve(e.data);
          plain.onerror = () => reject(new Error('plain EventSource error, readyState ' + plain.readyState));
        }), 5000, 'the uncredentialed message');
      } finally { plain.close(); }
      return { data, withCredentials: es.withCredentials, plainData };
    `,
      { api: api.origin },
    );
    assert.deepEqual(got, { data: 'cookie: session=abc123', withCredentials: true, plainData: 'cookie: (none)' });
    const [credentialed, plain] = api.seen('/d');
    assert.equal(credentialed.method, 'GET');
    assert.equal(credentialed.headers.cookie, 'session=abc123');
    assert.equal(credentialed.headers.origin, page.origin);
    assert.equal(credentialed.status, 200);
    assert.equal(credentialed.responseHeaders['access-control-allow-origin'], page.origin);
    assert.equal(credentialed.responseHeaders['access-control-allow-credentials'], 'true');
    assert.equal(credentialed.responseHeaders['vary'], 'Origin');
    assert.equal(plain.headers.cookie, undefined);
    assert.equal(plain.headers.origin, page.origin);
    assert.equal(api.log.filter((s) => s.method === 'OPTIONS').length, 0, 'a first EventSource request is never preflighted');
  });

  test('§2 a disallowed origin gets no CORS headers and the EventSource fails (CLOSED, no message)', async () => {
    api.routes.set('/d-deny', (req, res) => {
      const stream = new SSEStream(req, { cors: { origin: 'http://not-the-page.example', credentials: true } });
      stream.pipe(res);
      stream.write({ data: 'must not be readable' });
    });
    const got = await inBrowser<{ readyState: number; messages: number }>(
      `
      const es = new EventSource(args.api + '/d-deny', { withCredentials: true });
      let messages = 0;
      es.onmessage = () => messages++;
      try {
        const readyState = await ctx.timeout(new Promise((resolve) => { es.onerror = () => resolve(es.readyState); }), 5000, 'onerror');
        return { readyState, messages };
      } finally { es.close(); }
    `,
      { api: api.origin },
    );
    assert.deepEqual(got, { readyState: 2, messages: 0 });
    const [seen] = api.seen('/d-deny');
    assert.equal(seen.headers.origin, page.origin);
    assert.equal(seen.status, 200);
    assert.equal(seen.responseHeaders['access-control-allow-origin'], undefined);
    assert.equal(seen.responseHeaders['access-control-allow-credentials'], undefined);
  });

  test('§2+§6 finding: does a cross-origin reconnect with Last-Event-ID send a preflight (OPTIONS)?', async () => {
    const cors: CorsOptions = { origin: page.origin, credentials: true };
    let connections = 0;
    api.routes.set('/d-resume', (req, res) => {
      if (preflight(req, res, cors)) return;
      connections++;
      if (connections === 3) return noContent(res);
      const stream = new SSEStream(req, { cors, retry: 100 });
      stream.pipe(res);
      stream.end(connections === 1 ? { id: '5', data: 'first' } : { id: '6', data: 'second' });
    });
    const got = await inBrowser<{ data: string[]; readyState: number }>(
      `
      const es = new EventSource(args.api + '/d-resume', { withCredentials: true });
      const data = [];
      es.onmessage = (e) => data.push(e.data);
      try {
        await ctx.timeout(new Promise((resolve) => { es.onerror = () => { if (es.readyState === EventSource.CLOSED) resolve(); }; }), 5000, 'CLOSED after the 204');
        return { data, readyState: es.readyState };
      } finally { es.close(); }
    `,
      { api: api.origin },
    );
    assert.deepEqual(got, { data: ['first', 'second'], readyState: 2 });
    const seen = api.seen('/d-resume');
    // Measured in Chromium 156 and Firefox ESR 153 alike: three GETs, the 2nd and 3rd
    // with Last-Event-ID, and no OPTIONS at all (their EventSource exempts
    // Last-Event-ID from the CORS-unsafe header check).
    const options = expected.preflightOnReconnect ? [['OPTIONS', null, page.origin]] : [];
    assert.deepEqual(
      seen.map((s) => [s.method, s.headers['last-event-id'] ?? null, s.headers.origin ?? null]),
      [['GET', null, page.origin], ...options, ['GET', '5', page.origin], ...options, ['GET', '6', page.origin]],
    );
    assert.deepEqual(seen.filter((s) => s.method === 'GET').map((s) => s.status), [200, 200, 204]);
  });

  // §5 ---------------------------------------------------------------------
  test("§5 es.close() in the page is seen by the server as 'disconnect' (ERR_SSE_CLIENT_CLOSED)", async () => {
    const disconnected = deferred<SSEError>();
    let stream: SSEStream | undefined;
    page.routes.set('/e', (req, res) => {
      stream = new SSEStream(req);
      stream.on('disconnect', (reason) => disconnected.resolve(reason));
      stream.pipe(res);
      stream.write({ data: 'hi' });
    });
    const got = await inBrowser<string>(`
      const es = new EventSource('/e');
      const data = await ctx.timeout(new Promise((resolve) => { es.onmessage = (e) => resolve(e.data); }), 5000, 'a message');
      es.close();
      return data;
    `);
    assert.equal(got, 'hi');
    const reason = await within(disconnected.promise, 5000, "the server's 'disconnect' after es.close()");
    assert.equal(reason.code, 'ERR_SSE_CLIENT_CLOSED');
    assert.equal(stream!.disconnected, true);
    assert.equal(stream!.signal.aborted, true);
    assert.equal(stream!.write({ data: 'after' }), false);
  });

  // §6 ---------------------------------------------------------------------
  test('§6 server end() -> reconnect with Last-Event-ID -> 204 via noContent() -> readyState CLOSED', async () => {
    let connections = 0;
    let firstDisconnects = 0;
    page.routes.set('/f', (req, res) => {
      connections++;
      if (connections > 1) return noContent(res);
      const stream = new SSEStream(req, { retry: 100 });
      stream.on('disconnect', () => firstDisconnects++);
      stream.pipe(res);
      stream.write({ id: 'f-1', data: 'one' });
      stream.end({ id: 'f-2', data: 'two' });
    });
    const got = await inBrowser<{ data: string[]; errorStates: number[]; eventPhases: number[]; final: number }>(`
      const es = new EventSource('/f');
      const data = [];
      const errorStates = [];
      const eventPhases = [];
      es.onmessage = (e) => data.push(e.data);
      try {
        await ctx.timeout(new Promise((resolve) => {
          es.onerror = (event) => {
            errorStates.push(es.readyState);
            eventPhases.push(event.eventPhase);
            if (es.readyState === EventSource.CLOSED) resolve();
          };
        }), 5000, 'readyState CLOSED');
        return { data, errorStates, eventPhases, final: es.readyState };
      } finally { es.close(); }
    `);
    // First error: the stream ended, the browser will retry (CONNECTING). Second: the 204 closed it.
    // The seed's check `event.eventPhase === es.CLOSED` is true for BOTH: eventPhase is
    // AT_TARGET (2), which happens to equal CLOSED (2); readyState is what tells them apart.
    assert.deepEqual(got, { data: ['one', 'two'], errorStates: [0, 2], eventPhases: [2, 2], final: 2 });
    const seen = page.seen('/f');
    assert.deepEqual(
      seen.map((s) => [s.status, s.headers['last-event-id'] ?? null]),
      [
        [200, null],
        [204, 'f-2'],
      ],
    );
    assert.equal(firstDisconnects, 0, "end() by the server is not a 'disconnect'");
  });

  test('a non-ASCII id resumes: Last-Event-ID arrives as UTF-8 and a Channel replays exactly the missed event', async () => {
    // Browsers send Last-Event-ID as UTF-8; read as Latin-1 it was `cafÃ©-2`: a gap on
    // every reconnect, and the whole history replayed each time (duplicates on the page).
    const channel = new Channel({ history: 10 });
    const gaps: string[] = [];
    channel.on('gap', (stream) => gaps.push(String(stream.lastEventId)));
    const lastIds: Array<string | undefined> = [];
    page.routes.set('/u', (req, res) => {
      const stream = new SSEStream(req, { retry: 50, heartbeat: 0 });
      lastIds.push(stream.lastEventId);
      if (lastIds.length > 2) return noContent(res);
      stream.pipe(res);
      channel.add(stream);
      if (lastIds.length === 1) {
        channel.write({ id: 'café-1', data: 'one' });
        channel.write({ id: 'café-2', data: 'two' });
        stream.end();
        channel.write({ id: 'café-3', data: 'three' }); // missed: written after the stream ended
      } else {
        stream.end();
      }
    });
    const got = await inBrowser<{ events: string[][] }>(`
      const es = new EventSource('/u');
      const events = [];
      es.onmessage = (e) => events.push([e.data, e.lastEventId]);
      try {
        await ctx.timeout(new Promise((resolve) => {
          es.onerror = () => { if (es.readyState === EventSource.CLOSED) resolve(); };
        }), 5000, 'readyState CLOSED');
        return { events };
      } finally { es.close(); }
    `);
    assert.deepEqual(got.events, [['one', 'café-1'], ['two', 'café-2'], ['three', 'café-3']]);
    assert.deepEqual(lastIds, [undefined, 'café-2', 'café-3']);
    assert.deepEqual(gaps, []);
    channel.end();
  });

  // Compression ------------------------------------------------------------
  test('compress: every encoding this Node makes arrives event by event (the next is written once the page acknowledged the last)', async () => {
    const encodings = [...AVAILABLE, 'identity'];
    const streams = new Map<string, SSEStream>();
    const frame = (n: number) => ({ id: n, data: { n, kind: 'compressed', note: 'the same keys in every event' } });
    page.routes.set('/z', (req, res) => {
      const enc = new URL(req.url ?? '/', 'http://x').searchParams.get('enc') as ContentEncoding | 'identity';
      const stream = new SSEStream(req, { heartbeat: 0, compress: enc === 'identity' ? false : { encodings: [enc] } });
      streams.set(enc, stream);
      stream.pipe(res);
      stream.write(frame(1));
    });
    // The page acknowledges event n of a stream; only then is n + 1 written (or the end after 5).
    page.routes.set('/z-ack', (req, res) => {
      const params = new URL(req.url ?? '/', 'http://x').searchParams;
      const n = Number(params.get('n'));
      const stream = streams.get(params.get('enc') ?? '')!;
      res.writeHead(204).end();
      if (n < 5) stream.write(frame(n + 1));
      else stream.end();
    });
    const got = await inBrowser<Record<string, string[][]>>(
      `
      const out = {};
      for (const enc of args.encodings) {
        const es = new EventSource('/z?enc=' + enc);
        const events = [];
        try {
          await ctx.timeout(new Promise((resolve) => {
            es.onmessage = (e) => {
              events.push([e.lastEventId, e.data]);
              fetch('/z-ack?enc=' + enc + '&n=' + events.length, { method: 'POST' });
              if (events.length === 5) resolve();
            };
          }), 5000, enc + ': five events, one at a time');
        } finally { es.close(); }
        out[enc] = events;
      }
      return out;
    `,
      { encodings },
    );
    const expected = [1, 2, 3, 4, 5].map((n) => [String(n), JSON.stringify(frame(n).data)]);
    for (const enc of encodings) assert.deepEqual(got[enc], expected, enc);
    assert.deepEqual(
      page.seen('/z').map((s) => [s.headers['accept-encoding'], s.responseHeaders['content-encoding'] ?? 'identity']),
      encodings.map((enc) => ['gzip, deflate, br, zstd', enc]),
    );
  });

  // The demo ---------------------------------------------------------------
  test('the demo page shows live typed events with ids, then "closed by server" (readyState CLOSED)', async () => {
    const got = await inBrowser<{ rows: string[][]; state: string; status: string; presence: string; afterClose: { state: string; status: string } }>(`
      const frame = document.createElement('iframe');
      frame.src = '/demo/?typed&client=browser-g';
      document.body.append(frame);
      try {
        const doc = () => frame.contentDocument;
        const rows = () => [...(doc()?.querySelectorAll('#events tr.tick') ?? [])];
        await ctx.until(() => rows().length >= 4, 5000, 'four rows of events');
        const state = doc().getElementById('state').textContent;
        const status = doc().getElementById('status').textContent;
        const presence = doc().getElementById('presence').textContent;
        const firstFour = rows().reverse().slice(0, 4).map((r) => [...r.children].map((c) => c.textContent));
        doc().getElementById('server-close').click();
        await ctx.until(() => doc().getElementById('state').textContent === 'CLOSED', 5000, 'readyState CLOSED');
        return {
          rows: firstFour,
          state,
          status,
          presence,
          afterClose: { state: doc().getElementById('state').textContent, status: doc().getElementById('status').textContent },
        };
      } finally { frame.remove(); }
    `);
    assert.equal(got.state, 'OPEN');
    assert.equal(got.status, 'streaming');
    assert.equal(got.presence, '1 page');
    // The first page of this demo server: its clock started when the page joined.
    assert.deepEqual(
      got.rows.map((r) => [r[0], r[1]]),
      [
        ['event1', '1'],
        ['event2', '2'],
        ['event1', '3'],
        ['event2', '4'],
      ],
    );
    for (const r of got.rows) assert.match(r[2], /^[0-9]{13}$/);
    assert.deepEqual(got.afterClose, { state: 'CLOSED', status: 'closed by server' });
  });

  test('the demo page\'s "Close (es.close())" button closes the stream on the client side', async () => {
    const got = await inBrowser<{ state: string; status: string }>(`
      const frame = document.createElement('iframe');
      frame.src = '/demo/?typed&client=browser-close';
      document.body.append(frame);
      try {
        const doc = () => frame.contentDocument;
        await ctx.until(() => doc()?.querySelectorAll('#events tr.tick').length >= 1, 5000, 'a row of events');
        doc().getElementById('close').click();
        return { state: doc().getElementById('state').textContent, status: doc().getElementById('status').textContent };
      } finally { frame.remove(); }
    `);
    assert.deepEqual(got, { state: 'CLOSED', status: 'closed by client (es.close())' });
  });

  test('the demo page in cross-origin mode (?server=): withCredentials stream, a CORS POST /close, a 204 the page may read', async () => {
    const logged = consoleLog.length;
    const got = await inBrowser<{ url: string; ids: string[]; afterClose: { state: string; status: string } }>(
      `
      const frame = document.createElement('iframe');
      frame.src = '/demo/?typed&client=cross-g&server=' + encodeURIComponent(args.server);
      document.body.append(frame);
      try {
        const doc = () => frame.contentDocument;
        const rows = () => [...(doc()?.querySelectorAll('#events tr.tick') ?? [])];
        await ctx.until(() => rows().length >= 2, 5000, 'two rows of events');
        const ids = rows().reverse().slice(0, 2).map((r) => r.dataset.id);
        doc().getElementById('server-close').click();
        await ctx.until(() => doc().getElementById('state').textContent === 'CLOSED', 5000, 'readyState CLOSED');
        return {
          url: doc().getElementById('url').textContent,
          ids,
          afterClose: { state: doc().getElementById('state').textContent, status: doc().getElementById('status').textContent },
        };
      } finally { frame.remove(); }
    `,
      { server: crossDemoOrigin },
    );
    assert.equal(got.url, `new EventSource('${crossDemoOrigin}/sse?typed&client=cross-g', { withCredentials: true })`);
    assert.deepEqual(got.ids, ['1', '2']);
    assert.deepEqual(got.afterClose, { state: 'CLOSED', status: 'closed by server' });
    // Every answer that ends the stream carries its CORS headers: the browser has nothing to complain about.
    if (expected.consoleShowsCorsErrors) {
      assert.deepEqual(consoleLog.slice(logged).filter(([type, text]) => type === 'error' && /CORS|Access-Control/i.test(text)), []);
    }
  });
  /** Ids n, n+1, n+2... (no gap, no duplicate); typed: event1 for odd and event2 for even ids, else message. */
  function assertContiguous(rows: readonly string[][], what: string, typed = true): void {
    const ids = rows.map((r) => Number(r[1]));
    for (let i = 1; i < ids.length; i++) assert.equal(ids[i], ids[i - 1] + 1, `${what}: ids ${ids.join(',')}`);
    for (const r of rows) {
      const type = typed ? (Number(r[1]) % 2 === 1 ? 'event1' : 'event2') : 'message';
      assert.equal(r[0], type, `${what}: type of ${r[1]}`);
    }
  }

  // Browser code: the demo page in an iframe, and its rows (oldest first) as [type, id, data],
  // a reset note as ['reset', '', text].
  const DEMO_FRAME = `
      const open = (client) => {
        const frame = document.createElement('iframe');
        frame.src = '/demo/?typed&client=' + client;
        document.body.append(frame);
        return frame;
      };
      const rowsOf = (frame) => [...(frame.contentDocument?.querySelectorAll('#events tr') ?? [])]
        .reverse()
        .map((r) => r.dataset.type === 'reset' ? ['reset', '', r.textContent] : [...r.children].map((c) => c.textContent));
      const ticksOf = (frame) => rowsOf(frame).filter((r) => r[0] !== 'reset');
      const text = (frame, id) => frame.contentDocument?.getElementById(id)?.textContent;
  `;

  test('the demo clock is shared: two pages show the same ticks (ids and data) and "2 pages"', async () => {
    const got = await inBrowser<{ one: string[][]; two: string[][]; presence: string[] }>(`
      ${DEMO_FRAME}
      const one = open('browser-p1');
      const two = open('browser-p2');
      try {
        await ctx.until(() => text(one, 'presence') === '2 pages' && text(two, 'presence') === '2 pages', 5000, '"2 pages" on both');
        await ctx.until(() => ticksOf(one).length > 0 && ticksOf(two).length > 0, 5000, 'a tick on both');
        const start = Math.max(...[one, two].map((f) => Number(ticksOf(f).at(-1)?.[1] ?? 0)));
        await ctx.until(() => [one, two].every((f) => Number(ticksOf(f).at(-1)?.[1] ?? 0) >= start + 3), 5000, 'three more ticks on both');
        return { one: ticksOf(one), two: ticksOf(two), presence: [text(one, 'presence'), text(two, 'presence')] };
      } finally { one.remove(); two.remove(); }
    `);
    assert.deepEqual(got.presence, ['2 pages', '2 pages']);
    assertContiguous(got.one, 'page one');
    assertContiguous(got.two, 'page two');
    const byId = new Map(got.one.map((r) => [r[1], r]));
    const common = got.two.filter((r) => byId.has(r[1]));
    assert.ok(common.length >= 3, `ticks seen by both: ${common.map((r) => r[1]).join(',')}`);
    for (const r of common) assert.deepEqual(byId.get(r[1]), r, `tick ${r[1]} is the same on both pages`);
  });

  test('the demo page resumes after its stream is cut: the missed ticks are replayed, no gap and no duplicate', async (t) => {
    // A second listener keeps the clock going while the page is away, so that it does miss ticks.
    const keeper = await openEventStream(`http://127.0.0.1:${demoPort}/sse?typed&client=browser-keeper`);
    t.after(() => keeper.close());
    await nextOfType(keeper, ['event1', 'event2']);
    const requestsBefore = streamRequests.length;
    const got = await inBrowser<{ rows: string[][]; cutAt: string; reconnects: string; resets: string; cut: string }>(`
      ${DEMO_FRAME}
      const frame = open('browser-resume');
      try {
        await ctx.until(() => ticksOf(frame).length >= 3, 5000, 'three ticks');
        const cutAt = ticksOf(frame).at(-1)[1];
        const cut = await (await fetch('/cut-demo', { method: 'POST' })).text();
        await ctx.until(() => text(frame, 'reconnects') === '1', 5000, 'the page to reconnect');
        await ctx.until(() => Number(ticksOf(frame).at(-1)[1]) >= Number(cutAt) + 8, 5000, 'eight ticks after the cut');
        return { rows: rowsOf(frame), cutAt, reconnects: text(frame, 'reconnects'), resets: text(frame, 'resets'), cut };
      } finally { frame.remove(); }
    `);
    assert.equal(got.cut, '1', 'one proxied stream was cut');
    assert.deepEqual([got.reconnects, got.resets], ['1', '0']);
    assertContiguous(got.rows, 'the page across the reconnect');
    // The reconnect: Last-Event-ID = the last tick the page had, and ticks had been written since.
    const [first, again] = streamRequests.slice(requestsBefore);
    assert.equal(first.lastEventId, undefined);
    assert.ok(Number(again.lastEventId) >= Number(got.cutAt), `Last-Event-ID ${again.lastEventId}`);
    assert.ok(again.tick > Number(again.lastEventId), `ticks were missed (clock at ${again.tick}, page at ${again.lastEventId}) and replayed`);
  });

  test('the demo page after a server restart: its id is unknown there, a "gap" note, then the new clock', async (t) => {
    const restarted = createDemoServer({ intervalMs: 50, retry: 100, heartbeat: 0 });
    const restartedPort = await listen(restarted);
    const original = demoPort;
    t.after(async () => {
      demoPort = original;
      await closeServer(restarted);
    });
    page.routes.set('/restart-demo', (_req, res) => {
      demoPort = restartedPort; // the page's reconnect goes to the new server
      res.writeHead(204).end();
    });
    const got = await inBrowser<{ rows: string[][]; resets: string }>(`
      ${DEMO_FRAME}
      const frame = open('browser-restart');
      try {
        await ctx.until(() => ticksOf(frame).length >= 3, 5000, 'three ticks');
        await fetch('/restart-demo', { method: 'POST' });
        await fetch('/cut-demo', { method: 'POST' });
        await ctx.until(() => text(frame, 'resets') === '1', 5000, 'the reset note');
        const after = () => rowsOf(frame).slice(rowsOf(frame).findIndex((r) => r[0] === 'reset') + 1);
        await ctx.until(() => after().length >= 3, 5000, 'three ticks of the new clock');
        return { rows: rowsOf(frame), resets: text(frame, 'resets') };
      } finally { frame.remove(); }
    `);
    assert.equal(got.resets, '1');
    const at = got.rows.findIndex((r) => r[0] === 'reset');
    assert.ok(at > 0, JSON.stringify(got.rows));
    const lastSeen = got.rows[at - 1][1];
    assert.match(got.rows[at][2], new RegExp(`^gap: Last-Event-ID ${lastSeen} is not among the ticks kept \\(the last 600\\)`));
    assertContiguous(got.rows.slice(0, at), 'before the restart');
    assert.deepEqual(
      got.rows.slice(at + 1, at + 4).map((r) => [r[0], r[1]]),
      [
        ['event1', '1'],
        ['event2', '2'],
        ['event1', '3'],
      ],
    );
    assertContiguous(got.rows.slice(at + 1), 'after the restart');
  });

  // The article's client, and npm start -------------------------------------
  test("§1 the README's client code (the tutorial's, unchanged) against npm start: onmessage every 100 ms, ids 1, 2, 3...", async (t) => {
    const demo = await startDemoProcess();
    t.after(() => demo.kill());
    const tab = await openTab(`${page.origin}/runner`);
    t.after(() => tab.close());
    // The harness notes what console.log is given; then the article's two lines run as
    // the page's own script, as written (localhost, another origin than this page's).
    await inBrowser(
      `window.logged = [];
      const log = console.log;
      console.log = (...a) => {
        const e = a[0];
        logged.push(e instanceof MessageEvent ? { type: e.type, data: e.data, lastEventId: e.lastEventId, origin: e.origin } : String(e));
        log.apply(console, a);
      };`,
      null,
      SCENARIO_MS,
      tab,
    );
    // The README's block (./readme.ts), on the port this demo got instead of 8080.
    const article = articleClient().replace(ARTICLE_URL, ARTICLE_URL.replace(':8080/', `:${demo.port}/`));
    assert.ok(article.includes(`localhost:${demo.port}/sse`));
    await tab.addScriptTag({ content: article });
    const logged = await inBrowser<Array<{ type: string; data: string; lastEventId: string; origin: string }>>(
      `await ctx.until(() => window.logged.length >= 6, 5000, 'six messages logged');
      es.close();
      return window.logged.slice(0, 6);`,
      null,
      SCENARIO_MS,
      tab,
    );
    assert.deepEqual(logged.map((e) => [e.type, e.lastEventId, e.origin]), Array.from({ length: 6 }, (_, i) => ['message', String(i + 1), `http://localhost:${demo.port}`]));
    for (const e of logged) assert.match(e.data, /^[0-9]{13}$/);
    const gaps = logged.slice(1).map((e, i) => Number(e.data) - Number(logged[i].data)).sort((a, b) => a - b);
    const median = gaps[gaps.length >> 1];
    assert.ok(median >= 90 && median <= 150, `median gap between messages ${median} ms (gaps ${gaps.join(',')})`);
  });

  test('the demo page survives npm start being restarted: the old process exits at once, the page reconnects by itself and shows the gap', async (t) => {
    const first = await startDemoProcess();
    t.after(() => first.kill());
    const tab = await openTab(`${first.url}/`); // the default page: untyped ticks, es.onmessage
    t.after(() => tab.close());
    const before = await inBrowser<{ rows: number; state: string }>(
      `window.errorStates = [];
      es.addEventListener('error', () => errorStates.push(es.readyState));
      await ctx.until(() => document.querySelectorAll('#events tr.tick').length >= 3, 5000, 'three ticks');
      return { rows: document.querySelectorAll('#events tr.tick').length, state: document.getElementById('state').textContent };`,
      null,
      SCENARIO_MS,
      tab,
    );
    assert.equal(before.state, 'OPEN');
    const sent = Date.now();
    first.child.kill('SIGTERM');
    assert.deepEqual(await within(first.exited, 6000, 'the old demo to exit'), [0, null]);
    const exitMs = Date.now() - sent;
    assert.ok(exitMs < 1000, `the old demo took ${exitMs} ms to exit after SIGTERM`);
    const second = await startDemoProcess({ PORT: String(first.port) });
    t.after(() => second.kill());
    const got = await inBrowser<{ rows: string[][]; state: string; errorStates: number[]; reconnects: string }>(
      `const rowsOf = () => [...document.querySelectorAll('#events tr')].reverse()
        .map((r) => r.dataset.type === 'reset' ? ['reset', '', r.textContent] : [...r.children].map((c) => c.textContent));
      await ctx.until(() => document.getElementById('resets').textContent === '1', 8000, 'the gap note');
      await ctx.until(() => rowsOf().length - rowsOf().findIndex((r) => r[0] === 'reset') > 3, 5000, 'three ticks of the new clock');
      return {
        rows: rowsOf(),
        state: document.getElementById('state').textContent,
        errorStates,
        reconnects: document.getElementById('reconnects').textContent,
      };`,
      null,
      15_000,
      tab,
    );
    assert.equal(got.state, 'OPEN');
    assert.ok(!got.errorStates.includes(2), `readyState went CLOSED: error states ${got.errorStates.join(',')}`);
    assert.ok(Number(got.reconnects) >= 1);
    const at = got.rows.findIndex((r) => r[0] === 'reset');
    assert.ok(at >= 3, JSON.stringify(got.rows));
    assertContiguous(got.rows.slice(0, at), 'before the restart', false);
    assert.equal(got.rows[0][1], '1');
    const lastSeen = got.rows[at - 1][1];
    assert.match(got.rows[at][2], new RegExp(`^gap: Last-Event-ID ${lastSeen} is not among the ticks kept \\(the last 600\\)`));
    assert.deepEqual(
      got.rows.slice(at + 1, at + 4).map((r) => [r[0], r[1]]),
      [
        ['message', '1'],
        ['message', '2'],
        ['message', '3'],
      ],
    );
    assertContiguous(got.rows.slice(at + 1), 'after the restart', false);
  });
}
