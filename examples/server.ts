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
 *   GET  /sse?client=ID   the shared clock: Date.now() every 100 ms, types event1/event2
 *                         alternating, ids 1, 2, 3... counted by the server, so id n is
 *                         the same tick on every page. A reconnect with Last-Event-ID
 *                         gets exactly the ticks it missed (the last 600, one minute,
 *                         are kept); an id not kept gets a `reset` event, then the kept
 *                         ticks. `presence` events say how many pages are connected.
 *   OPTIONS /sse          CORS preflight (a cross-origin reconnect may send one)
 *   POST /close?client=ID the server ends that client's stream and answers its next
 *                         reconnect with 204, so the browser stops (readyState CLOSED)
 *
 * Importable: `createDemoServer()` returns a server that is not listening;
 * `shutdown(server)` is what SIGTERM/SIGINT do; `clockOf(server)` is its clock.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** The event for clock tick `n` (1, 2, 3, ...). The id is the tick, so a reconnect resumes after it. */
export function tick(n: number): SSEMessage {
  return { id: n, event: n % 2 === 1 ? 'event1' : 'event2', data: String(Date.now()) };
}

/** What `clockOf(server)` shows of a demo server's shared clock. */
export interface DemoClock {
  /** The ticks, with their history: every page's stream is subscribed to it. */
  readonly channel: Channel;
  /** The last tick written: 0 before the first. */
  readonly tick: number;
  /** Whether the timer runs: only while at least one page is connected. */
  readonly running: boolean;
}

const PAGE = readFileSync(join(__dirname, 'index.html'), 'utf8');
const CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_CLOSE_MARKS = 10_000;

/**
 * One timer writes each tick once to `channel`, which serializes it once and
 * sends the same bytes to every page. The timer runs only while a page is
 * connected: an idle demo does no work, and since ids count ticks (not time) a
 * pause leaves no hole: the tick after n is n + 1 whenever it comes.
 */
class Clock implements DemoClock {
  readonly channel: Channel;
  /**
   * `presence` goes through a second channel, without history: on the first one
   * every event with data is kept and replayed (a stale count), and gets an id
   * from the history when it has none, which would break the 1, 2, 3... ids.
   */
  private readonly presence = new Channel();
  private timer: NodeJS.Timeout | null = null;
  private n = 0;

  constructor(
    private readonly intervalMs: number,
    history: number,
  ) {
    this.channel = new Channel({ history });
    this.channel.on('join', () => this.start());
    this.channel.on('leave', () => {
      if (this.channel.size === 0) this.stop();
    });
    // Only to that page, before its replay: "what follows is not right after your last tick".
    this.channel.on('gap', (stream) => stream.write(reset(stream.lastEventId ?? '', history)));
    const announce = (): void => void this.presence.write({ event: 'presence', data: String(this.presence.size) });
    this.presence.on('join', announce);
    this.presence.on('leave', announce);
  }

  get tick(): number {
    return this.n;
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** Replay (if it reconnected) and live ticks, then the page count. */
  add(stream: SSEStream): void {
    this.channel.add(stream);
    this.presence.add(stream);
  }

  /** Stop the timer and end every page's stream (after end(), add() ends the stream at once). */
  end(): void {
    this.stop();
    this.channel.end();
    this.presence.end();
  }

  private start(): void {
    this.timer ??= setInterval(() => this.channel.write(tick(++this.n)), this.intervalMs);
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
  /** Open streams by client id (a page opened twice with the same ?client= has two). */
  clients: Map<string, Set<SSEStream>>;
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

  const state: DemoState = { clock: new Clock(intervalMs, history), clients: new Map(), closing: false };
  const clients = state.clients;
  // Clients the server closed on purpose: that many of their next reconnects get a 204.
  const closeMarks = new Map<string, { remaining: number; timer: NodeJS.Timeout }>();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://demo.invalid');
    const cors: CorsOptions = { origin: allowedOrigins(), credentials: true };
    if (state.closing) {
      res.setHeader('connection', 'close');
      return text(res, 503, 'shutting down\n');
    }

    if (url.pathname === '/' && req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(PAGE);
      return;
    }
    if (url.pathname === '/sse') {
      if (preflight(req, res, cors)) return;
      const id = url.searchParams.get('client') ?? '';
      if (req.method !== 'GET' || !CLIENT_ID.test(id)) return text(res, 400, 'GET /sse?client=<1-64 of A-Z a-z 0-9 _ ->\n');
      const mark = closeMarks.get(id);
      if (mark !== undefined) {
        // §6: the reconnect after the server ended the stream: 204 stops it for good.
        if (--mark.remaining === 0) {
          clearTimeout(mark.timer);
          closeMarks.delete(id);
        }
        noContent(res);
        return;
      }
      const stream = new SSEStream(req, { heartbeat, retry, cors });
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
      stream.pipe(res);
      state.clock.add(stream);
      return;
    }
    if (url.pathname === '/close' && req.method === 'POST') {
      // A cross-origin page (see ?server= in index.html) must be able to read the answer.
      const allow = corsHeaders(cors, req.headers);
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

  states.set(server, state);
  return server;
}

function text(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
  res.end(body);
}

/**
 * Graceful shutdown, as on SIGTERM: stop accepting connections, stop the clock,
 * end every open event stream with `endAll()` (browsers then try to reconnect and
 * find nothing listening), and resolve once every connection is closed; after
 * `graceMs` the rest are cut. `endAll()` ends every SSEStream of the process, not
 * only this server's.
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
    // Stops the timer and ends every page's stream (channel.end()).
    state?.clock.end();
    // Ends any other stream, and closes each HTTP/1 connection once its response
    // finished (also for the streams just ended), or server.close() would wait
    // out keep-alive timeouts.
    endAll();
    server.closeIdleConnections();
  });
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? '127.0.0.1';
  const server = createDemoServer();
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
