/**
 * The server process of the network benchmarks: one contender, one mode, driven
 * by the parent over IPC (see `Child` in common.ts). Measures itself: CPU time
 * (process.cpuUsage) and peak RSS; delivery is measured by the client process.
 *
 *   throughput  on the (single) request, send `count` events as fast as the contender allows
 *   fleet       hold every request open; `tick` sends one event to all of them on a timer
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import path from 'node:path';
import { childArgs, frame, loadPeer, message, nowMs, payload, serveParent, tokenDelta, type PayloadKind } from './common.ts';

export type Contender = 'plain' | 'limit' | 'ours' | 'web' | 'better-sse' | 'ssestream' | 'channel';

export interface ServerArgs {
  mode: 'throughput' | 'fleet';
  contender: Contender;
  kind?: PayloadKind;
  count?: number;
  /** Wait for 'drain' when a write returns false (false: write everything at once, as naive code does). */
  backpressure?: boolean;
  /** Load lib/ from here instead of ../lib (to try a patched copy). */
  lib?: string;
  /** ours, fleet: the `compress` option of every stream (the compression bench). */
  compress?: unknown;
  /**
   * fleet: a heartbeat every this many ms (the idle-at-scale case): ours through
   * its option (one shared timer), plain res.write with a setInterval per
   * connection, as hand-written code does. Absent: ours' default, plain none.
   */
  heartbeat?: number;
}

interface OursModule {
  SSEStream: new (req?: IncomingMessage, options?: Record<string, unknown>) => SSEWritable;
  /** Validate and serialize once, for every stream (absent in a lib copy from before it existed). */
  prepare?(message: unknown): unknown;
}
interface WebModule {
  sseResponse(request: Request, handler: (stream: SSEWritable) => void, options?: Record<string, unknown>): Response;
}
type NodeListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
interface ChannelLike {
  add(stream: SSEWritable): boolean;
  write(message: unknown): boolean;
}
interface ChannelModule {
  Channel: new () => ChannelLike;
}
interface SSEWritable {
  write(message: unknown): boolean;
  once(event: 'drain', listener: () => void): unknown;
  pipe(res: ServerResponse): unknown;
  readableLength: number;
}
interface BetterSession {
  push(data: unknown, eventName?: string, eventId?: string): unknown;
}
interface BetterSse {
  createSession(req: IncomingMessage, res: ServerResponse): Promise<BetterSession>;
}
type SseStreamCtor = new (req?: IncomingMessage) => SSEWritable;

const args = childArgs<ServerArgs>();
const HEADERS = { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' };
/** Frames per `res.write` for the limit: enough that per-write costs vanish, small enough to stream. */
const LIMIT_BATCH = 256;

async function loadContender(): Promise<{
  ours?: OursModule;
  web?: WebModule;
  toNodeListener?: (handler: (request: Request) => Response) => NodeListener;
  better?: BetterSse;
  SseStream?: SseStreamCtor;
  channel?: ChannelLike;
}> {
  const lib = path.resolve(args.lib ?? path.join(__dirname, '../lib'));
  switch (args.contender) {
    case 'ours':
      return { ours: (await import(path.join(lib, 'index.ts'))) as OursModule };
    case 'web': {
      // The fetch adapter the tests serve route handlers with on Node (as Next.js's server does).
      const adapter = (await import(path.join(__dirname, '../examples/web/node-adapter.mjs'))) as {
        toNodeListener: (handler: (request: Request) => Response) => NodeListener;
      };
      return { web: (await import(path.join(lib, 'web.ts'))) as WebModule, toNodeListener: adapter.toNodeListener };
    }
    case 'channel': {
      const { Channel } = (await import(path.join(lib, 'channel.ts'))) as ChannelModule;
      return { ours: (await import(path.join(lib, 'index.ts'))) as OursModule, channel: new Channel() };
    }
    case 'better-sse':
      return { better: loadPeer<BetterSse>('better-sse') };
    case 'ssestream':
      return { SseStream: loadPeer<{ default: SseStreamCtor }>('ssestream').default };
    default:
      return {};
  }
}

/**
 * Call `write(n)` for n = 0..count-1. With backpressure, stop when it returns
 * false and go on once `waitDrain` calls back; without, write everything now.
 */
function pump(count: number, backpressure: boolean, write: (n: number) => boolean, waitDrain: (go: () => void) => void): void {
  let n = 0;
  if (!backpressure) {
    while (n < count) write(n++);
    return;
  }
  const go = (): void => {
    while (n < count) {
      if (!write(n++)) {
        waitDrain(go);
        return;
      }
    }
  };
  go();
}

async function main(): Promise<void> {
  const lib = await loadContender();
  const baseRss = process.memoryUsage().rss;
  let cpu0 = process.cpuUsage();
  const open = new Set<ServerResponse>();

  // ---------------------------------------------------------- throughput
  function sendAll(req: IncomingMessage, res: ServerResponse): void {
    const kind = args.kind!;
    const count = args.count!;
    const bp = args.backpressure !== false;
    const resDrain = (go: () => void): void => void res.once('drain', go);
    switch (args.contender) {
      case 'plain':
        res.writeHead(200, HEADERS);
        res.write(':ok\n\n');
        pump(count, bp, (n) => res.write(frame(kind, n)), resDrain);
        return;
      case 'limit': {
        res.writeHead(200, HEADERS);
        res.write(':ok\n\n');
        const batches = Math.ceil(count / LIMIT_BATCH);
        pump(batches, bp, (b) => {
          let chunk = '';
          const end = Math.min(count, (b + 1) * LIMIT_BATCH);
          for (let n = b * LIMIT_BATCH; n < end; n++) chunk += frame(kind, n);
          return res.write(chunk);
        }, resDrain);
        return;
      }
      case 'ours': {
        // Ignoring backpressure would trip the slow-client guard (the point of it): off here, as the case name says.
        const stream = new lib.ours!.SSEStream(req, bp ? undefined : { maxBufferedBytes: 0 });
        stream.pipe(res);
        pump(count, bp, (n) => stream.write(message(kind, n)), (go) => void stream.once('drain', go));
        return;
      }
      case 'web': {
        const listener = lib.toNodeListener!((request) =>
          lib.web!.sseResponse(request, (stream) => {
            pump(count, bp, (n) => stream.write(message(kind, n)), (go) => void stream.once('drain', go));
          }, bp ? undefined : { maxBufferedBytes: 0 }),
        );
        void listener(req, res);
        return;
      }
      case 'ssestream': {
        const stream = new lib.SseStream!(req);
        stream.pipe(res);
        pump(count, bp, (n) => stream.write(message(kind, n)), (go) => void stream.once('drain', go));
        return;
      }
      case 'better-sse':
        void lib.better!.createSession(req, res).then((session) => {
          // push() drops res.write()'s verdict; honouring backpressure means asking the response.
          pump(count, bp, (n) => {
            const m = message(kind, n);
            session.push(m.data, m.event, String(m.id));
            return !res.writableNeedDrain;
          }, resDrain);
        });
        return;
    }
  }

  // ---------------------------------------------------------- fleet
  const fleet: { res: ServerResponse; send(n: number, payload: unknown, text: string): void; queued(): number }[] = [];
  let sendToAll = (n: number, m: unknown, text: string): void => {
    for (let i = 0; i < fleet.length; i++) fleet[i]!.send(n, m, text);
  };
  const channel = lib.channel;
  // The channel serializes once and hands the same frame to every subscriber.
  if (channel !== undefined) sendToAll = (_n, m) => void channel.write(m);
  else if (args.contender === 'ours' && lib.ours?.prepare !== undefined) {
    // One event to many streams: prepare() it once (validated and serialized once), as the README says.
    const prepare = lib.ours.prepare;
    const each = sendToAll;
    sendToAll = (n, m, text) => each(n, prepare(m), text);
  }

  function join(req: IncomingMessage, res: ServerResponse): void {
    switch (args.contender) {
      case 'plain':
      case 'limit':
        res.writeHead(200, HEADERS);
        res.write(':ok\n\n');
        if (args.heartbeat !== undefined) {
          const timer = setInterval(() => res.write(':\n\n'), args.heartbeat);
          res.on('close', () => clearInterval(timer));
        }
        fleet.push({ res, send: (_n, _p, text) => res.write(text), queued: () => res.writableLength });
        return;
      case 'ours':
      case 'channel':
      case 'ssestream': {
        const compressed = args.compress !== undefined;
        const options = { ...(compressed ? { compress: args.compress } : {}), ...(args.heartbeat !== undefined ? { heartbeat: args.heartbeat } : {}) };
        const stream = args.contender === 'ssestream' ? new lib.SseStream!(req) : new lib.ours!.SSEStream(req, options);
        stream.pipe(res);
        channel?.add(stream);
        fleet.push({
          res,
          send: (_n, m) => stream.write(m),
          // Compressed: the session's backlog, which counts what is still in the compressor.
          queued: compressed ? () => (stream as unknown as { writableLength: number }).writableLength : () => stream.readableLength + res.writableLength,
        });
        return;
      }
      case 'better-sse':
        void lib.better!.createSession(req, res).then((session) => {
          fleet.push({
            res,
            send: (n, m) => session.push((m as { data: unknown }).data, 'message', String(n)),
            queued: () => res.writableLength,
          });
        });
        return;
    }
  }

  const server = http.createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    if (args.mode === 'throughput') {
      cpu0 = process.cpuUsage();
      sendAll(req, res);
    } else {
      join(req, res);
    }
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;

  const cpuUs = (): number => {
    const d = process.cpuUsage(cpu0);
    return d.user + d.system;
  };

  /** One event to every client per timer tick, for `durationMs`; then wait until every queue drained. */
  async function tick({ intervalMs, durationMs, kind }: { intervalMs: number; durationMs: number; kind?: 'json' | 'token' }) {
    if (fleet.length === 0) throw new Error('no clients');
    cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let ticks = 0;
    const busy: number[] = [];
    const one = (): void => {
      const start = performance.now();
      // Runs once this tick's writes left the process (nextTicks done, socket writes issued).
      setImmediate(() => busy.push(performance.now() - start));
      const ts = nowMs().toFixed(3);
      // Built once per tick and handed to every client, as an app would.
      const data = kind === undefined ? ts : kind === 'json' ? payload('json', ticks) : tokenDelta(ticks);
      const m = { id: ticks, data };
      const text = `id: ${ticks}\ndata: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
      sendToAll(ticks, m, text);
      ticks++;
    };
    await new Promise<void>((resolve) => {
      const end = t0 + durationMs;
      if (intervalMs > 0) {
        const timer = setInterval(() => {
          if (performance.now() >= end) {
            clearInterval(timer);
            resolve();
          } else one();
        }, intervalMs);
      } else {
        const loop = (): void => {
          if (performance.now() >= end) resolve();
          else {
            one();
            setImmediate(loop);
          }
        };
        setImmediate(loop);
      }
    });
    const elapsedMs = performance.now() - t0;
    // Count the CPU spent flushing what the ticks queued; bounded wait.
    for (let i = 0; i < 5000 && fleet.some((c) => c.queued() > 0); i++) await new Promise((r) => setTimeout(r, 2));
    busy.sort((a, b) => a - b);
    return { ticks, cpuUs: cpuUs(), elapsedMs, clients: fleet.length, busyMs: busy[busy.length >> 1] ?? NaN };
  }

  serveParent(
    {
      port: () => port,
      stats: () => ({ cpuUs: cpuUs(), peakRss: process.resourceUsage().maxRSS * 1024, baseRss }),
      clients: () => fleet.length,
      tick,
      /** One event to every client; the client times its arrival. */
      broadcast: async () => {
        cpu0 = process.cpuUsage();
        const ts = nowMs().toFixed(3);
        sendToAll(0, { id: 0, data: ts }, `id: 0\ndata: ${ts}\n\n`);
        // Ours batches until the end of the tick: let its flushes run before looking at the queues.
        await new Promise((r) => setImmediate(r));
        for (let i = 0; i < 5000 && fleet.some((c) => c.queued() > 0); i++) await new Promise((r) => setTimeout(r, 1));
        return { cpuUs: cpuUs() };
      },
      /** Server CPU (µs) spent over `ms` of idleness: the heartbeats' cost. */
      idle: async ({ ms }: { ms: number }) => {
        const start = process.cpuUsage();
        await new Promise((r) => setTimeout(r, ms));
        const d = process.cpuUsage(start);
        return { cpuUs: d.user + d.system };
      },
      memory: () => {
        (globalThis as { gc?: () => void }).gc?.();
        const m = process.memoryUsage();
        return { rss: m.rss, heapUsed: m.heapUsed, clients: fleet.length };
      },
    },
    () => {
      server.close();
      for (const res of open) res.destroy();
    },
  );
}

void main();
