/**
 * Memory: server RSS (and JS heap) per idle connection, from the server's own
 * measurements after a forced GC before and after 1k clients connected.
 */
import { Child, RUNS, fmtCount, medianOf, type Report } from './common.ts';
import type { Contender } from './server.ts';

const CONNECTIONS = 1000;
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

export async function memoryBench(report: Report, client: Child, options: { lib?: string } = {}): Promise<void> {
  const suite = report.suite('memory', [
    `Server RSS and JS heap growth per idle connection, ${fmtCount(CONNECTIONS)} connections, after a forced GC (node --expose-gc).`,
    'RSS includes the kernel-independent per-socket costs of Node (libuv handles, HTTP parser); heap is the JS objects only.',
  ]);
  for (const c of CONTENDERS) {
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await perConnection(client, c, options.lib));
    const f = medianOf(runs);
    const ok = runs.every((x) => x.clients === CONNECTIONS);
    report.row(suite, {
      case: `${fmtCount(CONNECTIONS)} idle connections: ${c === 'plain' ? 'plain res.write' : c}`,
      cells: { 'RSS KB/conn': (f.rss / 1024).toFixed(1), 'heap KB/conn': (f.heap / 1024).toFixed(1) },
      ok,
      note: ok ? undefined : `${f.clients} of ${CONNECTIONS} connections registered`,
    });
  }
}
