/**
 * The demo: the seed article's scenarios on one raw node:http server, around ONE
 * clock shared by every open page.
 *
 *   npm start                      # http://localhost:8080 (binds 127.0.0.1:8080)
 *   PORT=3000 HOST=0.0.0.0 npm start
 *   ALLOWED_ORIGINS=http://localhost:5173,http://127.0.0.1:5173 npm start
 *
 * Routes:
 *   GET  /                the page (examples/index.html): an EventSource, live
 *   GET  /sse             §1 and §3, as the article writes them: `data: Date.now()` every
 *                         100 ms, untyped (so `es.onmessage` gets it), with ids 1, 2, 3...
 *                         counted by the server, so id n is the same tick on every page.
 *                         A reconnect with Last-Event-ID gets exactly the ticks it missed
 *                         (the last 600, one minute, are kept); an id not kept gets a
 *                         `reset` event, then the kept ticks. `presence` events say how
 *                         many pages are connected.
 *       ?typed            §4: the same ticks, typed event1 (odd ids) / event2 (even ids),
 *                         for `es.addEventListener('event1', ...)`
 *       &client=ID        §6: names the stream, so that POST /close?client=ID can end it
 *   OPTIONS /sse          CORS preflight (a cross-origin reconnect may send one)
 *   POST /close?client=ID §6: the server ends that client's stream and answers its next
 *                         reconnect with 204, so the browser stops (readyState CLOSED)
 *
 * CORS (§1, §2): the allowed origins (the server's own, or ALLOWED_ORIGINS) get their
 * exact origin and `Access-Control-Allow-Credentials: true`, so `withCredentials` works;
 * any other origin gets the article's `Access-Control-Allow-Origin: *`: it can read the
 * clock, never with cookies. Every answer that ends a stream (the 204) carries them too.
 *
 * Importable: `createDemoServer()` returns a server that is not listening;
 * `shutdown(server)` is what SIGTERM/SIGINT do; `clockOf(server)` is its clock.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  Channel,
  SSEStream,
  corsHeaders,
  endAll,
  noContent,
  preflight,
  type CorsOptions,
  type SSEMessage,
} from '../lib/index.ts';

export interface DemoOptions {
  /** Milliseconds between two ticks of the shared clock. @defaultValue 100 */
  intervalMs?: number;
  /**
   * Ticks kept for pages that reconnect (600 at 100 ms: the last minute). A page
   * away for longer gets a `reset` event, then the kept ticks. `0` turns replay off.
   * @defaultValue 600
   */
  history?: number;
  /** Heartbeat comment interval (ms) of each stream; `0` turns it off. @defaultValue 15000 */
  heartbeat?: number;
  /** Reconnection delay (ms) sent to browsers after the preamble. @defaultValue 1000 */
  retry?: number;
  /**
   * Origins allowed to read `/sse` cross-origin with cookies. Default: `ALLOWED_ORIGINS`
   * (comma-separated) if set, else the server's own origins
   * (`http://localhost:<port>` and `http://127.0.0.1:<port>`).
   */
  allowedOrigins?: readonly string[];
  /** How long (ms) a "server closes" mark waits for the client's reconnect. @defaultValue 30000 */
  closeMarkTtl?: number;
}

/**
 * The event for clock tick `n` (1, 2, 3, ...): `{ id, data }` as the article's §3
 * writes it, or typed (§4) `event1` for odd and `event2` for even `n`. The id is
 * the tick, so a reconnect resumes after it.
 */
export function tick(n: number, typed = false, data = String(Date.now())): SSEMessage {
  return typed ? { id: n, event: n % 2 === 1 ? 'event1' : 'event2', data } : { id: n, data };
}

/** What `clockOf(server)` shows of a demo server's shared clock. */
export interface DemoClock {
  /** Untyped ticks (`GET /sse`), with their history. */
  readonly plain: Channel;
  /** The same ticks typed event1/event2 (`GET /sse?typed`), with their history. */
  readonly typed: Channel;
  /** Every page's stream, for the page count (`presence` events). */
  readonly pages: Channel;
  /** The last tick written: 0 before the first. */
  readonly tick: number;
  /** Whether the timer runs: only while at least one page is connected. */
  readonly running: boolean;
}

const PAGE = readFileSync(join(__dirname, 'index.html'), 'utf8');
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_CLOSE_MARKS = 10_000;

/**
 * One timer writes each tick once to each variant's channel, which serializes
 * it once and sends the same bytes to every page of that variant. The timer
 * runs only while a page is connected: an idle demo does no work, and since ids
 * count ticks (not time) a pause leaves no hole: the tick after n is n + 1
 * whenever it comes.
 */
class Clock implements DemoClock {
  readonly plain: Channel;
  readonly typed: Channel;
  /**
   * `presence` goes through a channel of its own, without history: on a tick
   * channel every event with data is kept and replayed (a stale count), and gets
   * an id from the history when it has none, which would break the 1, 2, 3... ids.
   */
  readonly pages = new Channel();
  private timer: NodeJS.Timeout | null = null;
  private n = 0;

  constructor(
    private readonly intervalMs: number,
    history: number,
  ) {
    this.plain = new Channel({ history });
    this.typed = new Channel({ history });
    for (const channel of [this.plain, this.typed]) {
      channel.on('join', () => this.start());
      channel.on('leave', () => {
        if (this.plain.size + this.typed.size === 0) this.stop();
      });
      // Only to that page, before its replay: "what follows is not right after your last tick".
      channel.on('gap', (stream) => stream.write(reset(stream.lastEventId ?? '', history)));
    }
    const announce = (): void => void this.pages.write({ event: 'presence', data: String(this.pages.size) });
    this.pages.on('join', announce);
    this.pages.on('leave', announce);
  }

  get tick(): number {
    return this.n;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Replay (if it reconnected) and live ticks, then the page count. */
  add(stream: SSEStream, typed: boolean): void {
    (typed ? this.typed : this.plain).add(stream);
    this.pages.add(stream);
  }

  /** Stop the timer and end every page's stream (after end(), add() ends the stream at once). */
  end(): void {
    this.stop();
    this.plain.end();
    this.typed.end();
    this.pages.end();
  }

  private start(): void {
    this.timer ??= setInterval(() => {
      const n = ++this.n;
      const data = String(Date.now());
      this.plain.write(tick(n, false, data));
      this.typed.write(tick(n, true, data));
    }, this.intervalMs);
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

/** The event a page gets instead of a seamless resume. No id: the page's last id stays its own. */
function reset(lastEventId: string, history: number): SSEMessage {
  return {
    event: 'reset',
    data: `Last-Event-ID ${lastEventId} is not among the ticks kept (the last ${history}): too old, or from an earlier run, so ticks were missed; the kept ones follow`,
  };
}

interface DemoState {
  clock: Clock;
  closing: boolean;
}

/** Per server, for shutdown() and clockOf(). */
const states = new WeakMap<http.Server, DemoState>();

/** The shared clock of a server made by `createDemoServer()` (e.g. to watch it in tests). */
export function clockOf(server: http.Server): DemoClock | undefined {
  return states.get(server)?.clock;
}

export function createDemoServer(options: DemoOptions = {}): http.Server {
  const intervalMs = options.intervalMs ?? 100;
  const history = options.history ?? 600;
  const heartbeat = options.heartbeat ?? 15_000;
  const retry = options.retry ?? 1000;
  const closeMarkTtl = options.closeMarkTtl ?? 30_000;
  const fromEnv = process.env.ALLOWED_ORIGINS?.split(',').map((o) => o.trim()).filter(Boolean);
  const configured = options.allowedOrigins ?? (fromEnv?.length ? fromEnv : undefined);

  const state: DemoState = { clock: new Clock(intervalMs, history), closing: false };
  /** Open streams by client id (a page opened twice with the same ?client= has two). */
  const clients = new Map<string, Set<SSEStream>>();
  // Clients the server closed on purpose: that many of their next reconnects get a 204.
  const closeMarks = new Map<string, { remaining: number; timer: NodeJS.Timeout }>();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo.invalid');
    // During a shutdown, no connection outlives its response: a kept-alive socket
    // would hold server.close() for keepAliveTimeout, and a browser reconnecting on
    // it would reach a server that is going away. destroySoon(), not end(): after
    // end() the socket waits for the client's FIN, and Chromium sends it only when
    // it next looks at the idle socket (its reconnect, ~1 s later: measured 1.1 s).
    res.once('finish', () => {
      if (state.closing) req.socket.destroySoon();
    });
    if (state.closing) {
      // A browser's EventSource gives up for good on any non-200 answer; a closed
      // connection makes it retry, and find the next instance.
      if (url.pathname === '/sse') return void req.socket.destroy();
      res.setHeader('connection', 'close');
      return text(res, 503, 'shutting down\n');
    }

    if (url.pathname === '/' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(PAGE);
      return;
    }
    if (url.pathname === '/sse') {
      const cors = corsFor(req);
      if (preflight(req, res, cors)) return;
      const id = url.searchParams.get('client');
      if (req.method !== 'GET') return text(res, 405, 'GET /sse\n', { allow: 'GET, OPTIONS' });
      if (id !== null && !CLIENT_ID.test(id)) {
        return text(res, 400, `client must be 1-64 of A-Z a-z 0-9 _ - (or absent); got ${JSON.stringify(id)}\n`);
      }
      // The answer depends on the request's Origin (exact origin, or *).
      res.setHeader('vary', 'Origin');
      const mark = id === null ? undefined : closeMarks.get(id);
      if (id !== null && mark !== undefined) {
        // §6: the reconnect after the server ended the stream: 204 stops it for good.
        if (--mark.remaining === 0) {
          clearTimeout(mark.timer);
          closeMarks.delete(id);
        }
        noContent(res, corsHeaders(cors, req.headers));
        return;
      }
      const stream = new SSEStream(req, { heartbeat, retry, cors });
      if (id !== null) {
        const group = clients.get(id) ?? new Set<SSEStream>();
        clients.set(id, group.add(stream));
        const forget = (): void => {
          group.delete(stream);
          if (group.size === 0 && clients.get(id) === group) clients.delete(id);
        };
        // §5: the client left (es.close(), tab closed). Not emitted when the server ends the stream.
        // The channels let go of the stream by themselves, on this and on its end.
        stream.on('disconnect', forget);
        stream.on('close', forget);
      }
      stream.pipe(res);
      state.clock.add(stream, url.searchParams.has('typed'));
      return;
    }
    if (url.pathname === '/close' && req.method === 'POST') {
      // A cross-origin page (see ?server= in index.html) must be able to read the answer.
      const allow = corsHeaders({ origin: allowedOrigins(), credentials: true }, req.headers);
      const id = url.searchParams.get('client') ?? '';
      const group = clients.get(id);
      if (group === undefined) return text(res, 404, `no open stream for client ${JSON.stringify(id)}\n`, allow);
      if (closeMarks.size >= MAX_CLOSE_MARKS) return text(res, 503, 'too many pending closes\n', allow);
      const previous = closeMarks.get(id);
      if (previous !== undefined) clearTimeout(previous.timer);
      closeMarks.set(id, {
        remaining: (previous?.remaining ?? 0) + group.size,
        timer: setTimeout(() => closeMarks.delete(id), closeMarkTtl).unref(),
      });
      clients.delete(id);
      // The browser sees the end and reconnects after `retry` ms (the stream leaves the channels).
      for (const stream of group) stream.end();
      text(res, 202, 'closing\n', allow);
      return;
    }
    text(res, 404, 'not found\n');
  });

  function allowedOrigins(): readonly string[] {
    if (configured !== undefined) return configured;
    const address = server.address() as AddressInfo | null;
    const port = address?.port ?? 0;
    return [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
  }

  /** §2 for the allowed origins (exact origin, cookies); §1's `*` for any other. */
  function corsFor(req: http.IncomingMessage): CorsOptions {
    const origins = allowedOrigins();
    const origin = req.headers.origin;
    return typeof origin === 'string' && origins.includes(origin) ? { origin: origins, credentials: true } : { origin: '*' };
  }

  states.set(server, state);
  return server;
}

function text(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}

/**
 * Graceful shutdown, as on SIGTERM: stop accepting connections, stop the clock,
 * end every open event stream (browsers then reconnect, and find the next
 * instance or nothing, and try again), close each connection as soon as its
 * response is done, and resolve once every connection is closed; after
 * `graceMs` the rest are cut. `endAll()` ends every SSEStream of the process,
 * not only this server's.
 */
export function shutdown(server: http.Server, graceMs = 5000): Promise<void> {
  const state = states.get(server);
  return new Promise((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs).unref();
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    if (state !== undefined) state.closing = true;
    // Stops the timer and ends every page's stream (channel.end()); each stream's
    // connection closes once its response finished (the 'finish' hook above).
    state?.clock.end();
    // Any other stream. (It only shuts down streams still open: the ones the
    // channels just ended are the hook's business.)
    endAll();
    server.closeIdleConnections();
  });
}

/** The one line `npm start` prints when it cannot listen, with what to do instead. */
export async function listenError(err: NodeJS.ErrnoException, port: number, host: string): Promise<string> {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} is in use: try PORT=${await nextFreePort(port, host)} npm start`;
    case 'EACCES':
      return `port ${port} needs privileges this user lacks: try PORT=8080 npm start`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `HOST=${host} is not an address of this machine: try HOST=127.0.0.1 npm start`;
    default:
      return `cannot listen on ${host}:${port}: ${err.message}`;
  }
}

/** The first of the next 20 ports above `port` that accepts a listener now, else 0 (any free port). */
async function nextFreePort(port: number, host: string): Promise<number> {
  for (let p = port + 1; p <= Math.min(port + 20, 65535); p++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = net.createServer();
      probe.once('error', () => resolve(false));
      probe.listen(p, host, () => probe.close(() => resolve(true)));
    });
    if (free) return p;
  }
  return 0;
}

if (require.main === module) {
  const portText = process.env.PORT ?? '8080';
  const port = Number(portText);
  const host = process.env.HOST ?? '127.0.0.1';
  if (!/^[0-9]+$/.test(portText) || port > 65535) {
    console.error(`PORT must be a port number (0-65535; 0 picks a free one); got ${JSON.stringify(portText)}`);
    process.exit(1);
  }
  const server = createDemoServer();
  server.once('error', (err: NodeJS.ErrnoException) => {
    void listenError(err, port, host).then((line) => {
      console.error(line);
      process.exit(1);
    });
  });
  server.listen(port, host, () => {
    const { port: actual } = server.address() as AddressInfo;
    const shown = host === '127.0.0.1' || host === '::1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    console.log(`ssepipe demo: http://${shown}:${actual}/  (listening on ${host}:${actual})`);
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1); // a second Ctrl-C: stop now
    stopping = true;
    console.log(`${signal}: ending open streams, closing the server`);
    shutdown(server).then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
