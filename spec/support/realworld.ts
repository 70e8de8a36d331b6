/**
 * Helpers for the tests that cross a real network boundary: a Node event-stream
 * client (over lib/parser.ts), where the browsers and proxies are, nginx run as
 * the test's own child process, the demo as `npm start` runs it, free ports, and
 * bounded waits.
 *
 * A missing browser or proxy skips its tests with a one-line reason, except
 * under `CI=true`, where it fails them: a missing binary must not pass CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { createParser } from '../../lib/parser.ts';
import type { ServerSentEvent } from '../../lib/types.ts';

// ---------------------------------------------------------------------------
// Bounded waits

/** Resolve with `promise`, or reject with "timed out: <what>" after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A promise with its resolve/reject exposed (Node 20 has no Promise.withResolvers). */
export function deferred<T = void>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Wait for `ms`. Only for tests whose subject IS elapsed time (timeouts, heartbeats). */
export function elapse(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// Servers and ports

/** Listen on 127.0.0.1, port 0; resolves with the port. */
export function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Close a server and every connection it still holds (open streams included). */
export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  const port = await listen(probe);
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port (bounded attempts). */
export async function waitForPort(port: number, attempts = 100, gapMs = 50, alive: () => boolean = () => true): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (!alive()) throw new Error(`the process meant to listen on port ${port} exited`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await elapse(gapMs);
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} after ${attempts} attempts`);
}

// ---------------------------------------------------------------------------
// A Node event-stream client

export interface EventStreamClient {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly events: ServerSentEvent[];
  /** Comment lines seen (text after `:` and one space); the heartbeat is `''`, the preamble `'ok'`. */
  readonly comments: string[];
  readonly retries: number[];
  /** The whole body as received so far. */
  readonly raw: string;
  /** True once the response ended or the connection broke. */
  readonly ended: boolean;
  /** The next event not yet taken by `next()` (waits up to `ms`). */
  next(ms?: number): Promise<ServerSentEvent>;
  /** Resolves when the response ends or the connection breaks (how: 'end' | 'aborted' | 'error'). */
  readonly closed: Promise<string>;
  close(): void;
}

/**
 * GET `url` and read its body as an event stream. Resolves once the response head arrived.
 * Without `agent`, a connection of its own (closed after the response); with a
 * keep-alive agent, what a browser does: the socket may be reused afterwards.
 */
export function openEventStream(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 5000,
  agent: http.Agent | false = false,
): Promise<EventStreamClient> {
  return within(
    new Promise<EventStreamClient>((resolve, reject) => {
      const events: ServerSentEvent[] = [];
      const comments: string[] = [];
      const retries: number[] = [];
      let taken = 0;
      let raw = '';
      let ended = false;
      const closed = deferred<string>();
      let waiter: { resolve(e: ServerSentEvent): void; reject(e: unknown): void } | null = null;
      const parser = createParser({
        onEvent(event) {
          events.push(event);
          if (waiter !== null) {
            const w = waiter;
            waiter = null;
            w.resolve(events[taken++]);
          }
        },
        onComment: (text) => void comments.push(text),
        onRetry: (ms) => void retries.push(ms),
      });
      const finish = (how: string): void => {
        if (ended) return;
        ended = true;
        closed.resolve(how);
        if (waiter !== null) waiter.reject(new Error(`the stream ended (${how}) while an event was awaited`));
        waiter = null;
      };
      const req = http.get(url, { headers, agent }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          raw += chunk;
          parser.feed(chunk);
        });
        res.on('end', () => finish('end'));
        res.on('aborted', () => finish('aborted'));
        res.on('error', () => finish('error'));
        res.on('close', () => finish(res.complete ? 'end' : 'aborted'));
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          events,
          comments,
          retries,
          get raw() {
            return raw;
          },
          get ended() {
            return ended;
          },
          next(ms = 5000) {
            if (taken < events.length) return Promise.resolve(events[taken++]);
            if (ended) return Promise.reject(new Error('the stream already ended'));
            const d = deferred<ServerSentEvent>();
            waiter = d;
            return within(d.promise, ms, `the next event from ${url}`);
          },
          closed: closed.promise,
          close() {
            req.destroy();
          },
        });
      });
      req.on('error', (err) => {
        finish('error');
        reject(err);
      });
    }),
    timeoutMs,
    `the response head of ${url}`,
  );
}

/** The next event of one of `types`, skipping others (at most `limit` of them). */
export async function nextOfType(
  client: EventStreamClient,
  types: readonly string[],
  ms = 5000,
  limit = 1000,
): Promise<ServerSentEvent> {
  for (let i = 0; i < limit; i++) {
    const event = await client.next(ms);
    if (types.includes(event.type)) return event;
  }
  throw new Error(`no ${types.join('/')} event among the next ${limit}`);
}

/** Plain request helper: status, headers and body text. */
export function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; agent?: http.Agent } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return within(
    new Promise((resolve, reject) => {
      const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(options.body);
    }),
    5000,
    `${options.method ?? 'GET'} ${url}`,
  );
}

// ---------------------------------------------------------------------------
// Binaries and the skip rule

function which(names: readonly string[], extraDirs: readonly string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...extraDirs];
  for (const name of names) {
    if (name.includes('/')) {
      if (existsSync(name)) return name;
      continue;
    }
    for (const dir of dirs) {
      const full = join(dir, name);
      if (existsSync(full)) return full;
    }
  }
  return undefined;
}

/**
 * The `skip` option for a test that needs `binary`: false when found; a one-line
 * reason when missing; and under `CI=true` a missing binary throws (fails the file)
 * so that it can never pass CI silently.
 */
export function requireBinary(label: string, path: string | undefined, hint: string): { skip: string | false } {
  if (path !== undefined) return { skip: false };
  const reason = `${label} not found (${hint})`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI=true, so this is a failure, not a skip`);
  return { skip: reason };
}

export function findChromium(): string | undefined {
  const env = process.env.CHROMIUM_BIN;
  return which(env ? [env] : ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'], ['/usr/bin']);
}

export function findFirefox(): string | undefined {
  const env = process.env.FIREFOX_BIN;
  return which(env ? [env] : ['firefox-esr', 'firefox'], ['/usr/bin']);
}

export function findNginx(): string | undefined {
  const env = process.env.NGINX_BIN;
  return which(env ? [env] : ['nginx'], ['/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin']);
}

export function findHaproxy(): string | undefined {
  const env = process.env.HAPROXY_BIN;
  return which(env ? [env] : ['haproxy'], ['/usr/sbin', '/usr/local/sbin']);
}

export function findCaddy(): string | undefined {
  const env = process.env.CADDY_BIN;
  return which(env ? [env] : ['caddy'], ['/usr/bin', '/usr/local/bin']);
}

/** SIGTERM a child's process group, then SIGKILL after `graceMs` if it is still there. */
export async function killGroup(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, sig); // the group this test spawned (detached: true)
    } catch {
      /* already gone */
    }
  };
  signal('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
  clearTimeout(timer);
  if (child.exitCode === null && child.signalCode === null) {
    signal('SIGKILL');
    await within(exited, 5000, 'the killed process group to exit').catch(() => {});
  }
}

// ---------------------------------------------------------------------------
// The demo as `npm start` runs it: a child process

export interface DemoProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** What it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with [exit code, signal] when it exits. */
  readonly exited: Promise<[number | null, NodeJS.Signals | null]>;
  /** SIGKILL it if it still runs (for t.after). */
  kill(): Promise<void>;
}

const DEMO_MAIN = join(__dirname, '..', '..', 'examples', 'server.ts');

/** Run the demo's main module (what `npm start` runs) with `env`; resolves once it printed its URL. */
export async function startDemoProcess(env: Record<string, string> = {}): Promise<DemoProcess> {
  const child = spawnDemo({ PORT: '0', HOST: '127.0.0.1', ...env });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (code, signal) => resolve([code, signal])));
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await within(exited, 5000, 'the killed demo to exit').catch(() => {});
  };
  try {
    const port = await within(
      new Promise<number>((resolve, reject) => {
        child.stdout!.on('data', (c: string) => {
          out += c;
          const m = /\(listening on [^ ]+:(\d+)\)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', () => reject(new Error(`the demo exited before listening: ${err}`)));
      }),
      15_000,
      'the demo to print its URL',
    );
    return { child, url: `http://127.0.0.1:${port}`, port, stdout: () => out, stderr: () => err, exited, kill };
  } catch (error) {
    await kill();
    throw error;
  }
}

/** Spawn the demo's main module with `env` added (stdout and stderr piped). */
export function spawnDemo(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', DEMO_MAIN], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
