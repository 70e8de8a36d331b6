/**
 * Memory: server RSS (and JS heap) per idle connection, from the server's own
 * measurements after a forced GC before and after 1k clients connected.
 */
import { readFileSync } from 'node:fs';
import { Child, QUICK, RUNS, fmtCount, fmtRatio, medianOf, type Report } from './common.ts';
import type { Contender } from './server.ts';

// 5k, not 1k: RSS per connection of 1k moved by ±3 KB between runs (page-sized steps).
const CONNECTIONS = 5000;
const CONTENDERS: readonly Contender[] = ['plain', 'better-sse', 'ssestream', 'ours'];

interface Memory {
  rss: number;
  heapUsed: number;
  clients: number;
}

/** A fresh server: connect, measure, disconnect. Returns bytes per connection. */
async function perConnection(client: Child, contender: Contender, lib: string | undefined) {
  const server = await Child.start('server.ts', { mode: 'fleet', contender, lib }, { nodeArgs: ['--expose-gc'] });
  try {
    const port = await server.call<number>('port', {});
    const before = await server.call<Memory>('memory', {});
    await client.call('open', { port, connections: CONNECTIONS, latency: false }, 60_000);
    let after = await server.call<Memory>('memory', {});
    // better-sse registers a session one setImmediate after the request.
    for (let i = 0; i < 200 && after.clients < CONNECTIONS; i++) {
      await new Promise((r) => setTimeout(r, 10));
      after = await server.call<Memory>('memory', {});
    }
    await client.call('close', {});
    return {
      rss: (after.rss - before.rss) / CONNECTIONS,
      heap: (after.heapUsed - before.heapUsed) / CONNECTIONS,
      clients: after.clients,
    };
  } finally {
    await server.close();
  }
}

/** The soft limit on open files of this process (children inherit it): Linux /proc, else a guess. */
function openFileLimit(): number {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : 1024;
  } catch {
    return 1024;
  }
}

const AT_SCALE = 50_000;
/** Source addresses per case, a fresh set per case: bind-before-connect gets about half the ephemeral ports of an address. */
const SOURCES = 8;
const SCALE_HEARTBEAT_MS = QUICK ? 1000 : 2000;
const SCALE_IDLE_MS = QUICK ? 3000 : 10_000;

/** Many idle connections with heartbeats on: memory per connection and the heartbeats' CPU per second. */
async function atScale(contender: Contender, n: number, lib: string | undefined, sourceBase: number) {
  // A client process of its own: it holds as many sockets as the server.
  const client = await Child.start('client.ts', {});
  const server = await Child.start('server.ts', { mode: 'fleet', contender, lib, heartbeat: SCALE_HEARTBEAT_MS }, { nodeArgs: ['--expose-gc'] });
  try {
    const port = await server.call<number>('port', {});
    const before = await server.call<Memory>('memory', {});
    await client.call('open', { port, connections: n, latency: false, sources: SOURCES, sourceBase }, 600_000);
    let after = await server.call<Memory>('memory', {});
    for (let i = 0; i < 500 && after.clients < n; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await server.call<Memory>('memory', {});
    }
    const bytes0 = await client.call<number>('bytes', {});
    const { cpuUs } = await server.call<{ cpuUs: number }>('idle', { ms: SCALE_IDLE_MS }, SCALE_IDLE_MS + 30_000);
    const bytes = (await client.call<number>('bytes', {})) - bytes0;
    return {
      rss: (after.rss - before.rss) / n,
      heap: (after.heapUsed - before.heapUsed) / n,
      clients: after.clients,
      cpuMsPerS: cpuUs / 1000 / (SCALE_IDLE_MS / 1000),
      // `:\n\n` (3 bytes) per heartbeat: how many reached the clients per second.
      heartbeatsPerS: bytes / 3 / (SCALE_IDLE_MS / 1000),
    };
  } finally {
    await client.call('close', {}).catch(() => undefined);
    await client.close();
    await server.close();
  }
}

export async function memoryBench(report: Report, client: Child, options: { lib?: string } = {}): Promise<void> {
  const suite = report.suite('memory', [
    `Server RSS and JS heap growth per idle connection, ${fmtCount(CONNECTIONS)} connections, after a forced GC (node --expose-gc).`,
    'RSS includes the kernel-independent per-socket costs of Node (libuv handles, HTTP parser); heap is the JS objects only.',
  ]);
  const per = new Map<Contender, { rss: number; heap: number }>();
  for (const c of CONTENDERS) {
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await perConnection(client, c, options.lib));
    const f = medianOf(runs);
    per.set(c, f);
    const ok = runs.every((x) => x.clients === CONNECTIONS);
    report.row(suite, {
      case: `${fmtCount(CONNECTIONS)} idle connections: ${c === 'plain' ? 'plain res.write' : c}`,
      cells: { 'RSS KB/conn': (f.rss / 1024).toFixed(1), 'heap KB/conn': (f.heap / 1024).toFixed(1) },
      ok,
      note: ok ? undefined : `${f.clients} of ${CONNECTIONS} connections registered`,
    });
  }
  const ours = per.get('ours')!;
  const plain = per.get('plain')!;
  report.target(`${fmtCount(CONNECTIONS)} idle connections: ours' RSS per connection within 1.1x of plain res.write's`, ours.rss <= 1.1 * plain.rss, `${(ours.rss / 1024).toFixed(1)} vs ${(plain.rss / 1024).toFixed(1)} KB (${fmtRatio(ours.rss / plain.rss)})`);
  report.target(`${fmtCount(CONNECTIONS)} idle connections: ours' heap per connection within 1.3x of plain res.write's`, ours.heap <= 1.3 * plain.heap, `${(ours.heap / 1024).toFixed(1)} vs ${(plain.heap / 1024).toFixed(1)} KB (${fmtRatio(ours.heap / plain.heap)})`);

  // At scale: as many as the open-file limit lets one server process hold (each
  // connection is a file descriptor in the server and one in the client).
  const limit = openFileLimit();
  const n = Math.min(AT_SCALE, limit - 1000);
  const scaleNote = n < AT_SCALE ? `the open-file limit here is ${limit}, so ${fmtCount(n)}, not ${fmtCount(AT_SCALE)}` : '';
  const scaled = new Map<Contender, Awaited<ReturnType<typeof atScale>>>();
  let sourceBase = 2;
  for (const c of ['plain', 'ours'] as const) {
    const f = await atScale(c, n, options.lib, sourceBase);
    sourceBase += SOURCES;
    scaled.set(c, f);
    const ok = f.clients === n;
    report.row(suite, {
      case: `${fmtCount(n)} idle connections, heartbeat every ${SCALE_HEARTBEAT_MS} ms: ${c === 'plain' ? 'plain res.write, a setInterval per connection' : 'ours (one shared timer)'}`,
      cells: {
        'RSS KB/conn': (f.rss / 1024).toFixed(1),
        'heap KB/conn': (f.heap / 1024).toFixed(1),
        'heartbeat CPU ms/s': f.cpuMsPerS.toFixed(1),
        'heartbeats/s received': f.heartbeatsPerS.toFixed(0),
      },
      ok,
      note: ok ? scaleNote || undefined : `${f.clients} of ${n} connections registered`,
    });
  }
  const so = scaled.get('ours')!;
  const sp = scaled.get('plain')!;
  report.summary(
    `${fmtCount(n)} idle connections with heartbeats${scaleNote ? ' (open-file limit)' : ''}`,
    `${(so.rss / 1024).toFixed(1)} KB RSS and ${(so.heap / 1024).toFixed(1)} KB heap per connection (plain: ${(sp.rss / 1024).toFixed(1)} / ${(sp.heap / 1024).toFixed(1)}); heartbeats cost ${so.cpuMsPerS.toFixed(1)} ms CPU per second (plain: ${sp.cpuMsPerS.toFixed(1)})`,
  );
  report.summary(
    `${fmtCount(CONNECTIONS)} idle connections`,
    `${(ours.rss / 1024).toFixed(1)} KB RSS (${fmtRatio(ours.rss / plain.rss)} plain \`res.write\`), ${(ours.heap / 1024).toFixed(1)} KB heap (${fmtRatio(ours.heap / plain.heap)}) per connection`,
  );
}
