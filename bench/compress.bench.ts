/**
 * Compression (the `compress` option): bytes per event on the wire and server
 * CPU per event, compressed vs not in the same run, for the short tick, the
 * ~300 B JSON object and an OpenAI-style token delta, at 1 client (a tight
 * loop) and at 1,000 clients (one event to each every 20 ms); and server memory
 * per idle compressed connection. The client process decompresses and counts
 * every event (a case that delivers the wrong number fails).
 */
import { Child, QUICK, RUNS, fmtCount, medianOf, type Report } from './common.ts';

type Kind = 'tick' | 'json' | 'token';
type Coding = 'off' | 'gzip' | 'br';

const KINDS: readonly Kind[] = ['tick', 'json', 'token'];
const CODINGS: readonly Coding[] = ['off', 'gzip', 'br'];
const LABEL: Record<Kind, string> = { tick: 'short tick', json: '~300 B JSON', token: 'token delta' };
const FLEET = 1000;
const IDLE = 1000;

interface Figures {
  events: number;
  bytesPerEvent: number;
  cpuUs: number;
}

async function measure(client: Child, coding: Coding, kind: Kind, clients: number, lib: string | undefined): Promise<Figures> {
  const compress = coding === 'off' ? undefined : { encodings: [coding] };
  const server = await Child.start('server.ts', { mode: 'fleet', contender: 'ours', lib, compress });
  try {
    const port = await server.call<number>('port', {});
    await client.call('open', { port, connections: clients, latency: false, acceptEncoding: coding === 'off' ? undefined : coding }, 120_000);
    // Warm-up: the first events on fresh connections cost more; not counted.
    const warm = await server.call<{ ticks: number }>('tick', { intervalMs: 20, durationMs: 200, kind: kind === 'tick' ? undefined : kind }, 60_000);
    await client.call('collect', { expect: warm.ticks * clients, timeoutMs: 10_000 }, 20_000);
    const intervalMs = clients === 1 ? 0 : 20;
    const durationMs = QUICK ? 500 : 1000;
    const r = await server.call<{ ticks: number; cpuUs: number; clients: number }>('tick', { intervalMs, durationMs, kind: kind === 'tick' ? undefined : kind }, 60_000);
    const expect = r.ticks * clients;
    const got = await client.call<{ events: number; bytes: number }>('collect', { expect, timeoutMs: 20_000 }, 40_000);
    await client.call('close', {});
    return { events: got.events === expect ? got.events : -got.events, bytesPerEvent: got.bytes / got.events, cpuUs: r.cpuUs / expect };
  } finally {
    await server.close();
  }
}

async function idleMemory(client: Child, coding: Coding, lib: string | undefined): Promise<{ rss: number; heap: number; clients: number }> {
  const compress = coding === 'off' ? undefined : { encodings: [coding] };
  const server = await Child.start('server.ts', { mode: 'fleet', contender: 'ours', lib, compress }, { nodeArgs: ['--expose-gc'] });
  try {
    const port = await server.call<number>('port', {});
    const before = await server.call<{ rss: number; heapUsed: number }>('memory', {});
    await client.call('open', { port, connections: IDLE, latency: false, acceptEncoding: coding === 'off' ? undefined : coding }, 60_000);
    // Some traffic first, so that each compressor's window and tables are in use, then idle.
    const r = await server.call<{ ticks: number }>('tick', { intervalMs: 10, durationMs: 300, kind: 'json' }, 60_000);
    await client.call('collect', { expect: r.ticks * IDLE, timeoutMs: 10_000 }, 20_000);
    const after = await server.call<{ rss: number; heapUsed: number; clients: number }>('memory', {});
    await client.call('close', {});
    return { rss: (after.rss - before.rss) / IDLE, heap: (after.heapUsed - before.heapUsed) / IDLE, clients: after.clients };
  } finally {
    await server.close();
  }
}

export async function compressBench(report: Report, client: Child, options: { lib?: string } = {}): Promise<void> {
  const suite = report.suite('compression', [
    `Bytes per event on the wire (body, de-chunked) and server CPU per event (process.cpuUsage: every thread, so the thread pool's compression too), compressed vs off in the same run.`,
    `1 client: events written in a setImmediate loop; ${fmtCount(FLEET)} clients: one event to each every 20 ms. Defaults of compress: true; every batch flushed.`,
  ]);
  const gzipJsonFleet: { saved: number; cpu: number } = { saved: NaN, cpu: NaN };
  for (const clients of [1, FLEET]) {
    for (const kind of KINDS) {
      let off: Figures | undefined;
      for (const coding of CODINGS) {
        const runs: Figures[] = [];
        for (let r = 0; r < RUNS; r++) runs.push(await measure(client, coding, kind, clients, options.lib));
        const f = medianOf(runs as unknown as Record<string, number>[]) as unknown as Figures;
        if (coding === 'off') off = f;
        const ok = runs.every((x) => x.events > 0);
        const saved = off === undefined ? NaN : 1 - f.bytesPerEvent / off.bytesPerEvent;
        if (coding === 'gzip' && kind === 'json' && clients === FLEET) {
          gzipJsonFleet.saved = saved;
          gzipJsonFleet.cpu = f.cpuUs;
        }
        report.row(suite, {
          case: `${LABEL[kind]}, ${fmtCount(clients)} client${clients === 1 ? '' : 's'}: ${coding === 'off' ? 'uncompressed' : coding}`,
          cells: {
            'B/event': f.bytesPerEvent.toFixed(1),
            saved: coding === 'off' ? '-' : `${(saved * 100).toFixed(0)}%`,
            'CPU µs/event': f.cpuUs.toFixed(2),
            'CPU vs off': coding === 'off' || off === undefined ? '-' : `${(f.cpuUs / off.cpuUs).toFixed(1)}x`,
          },
          ok,
          note: ok ? undefined : `delivered ${runs.map((x) => Math.abs(x.events)).join('/')} events, not all`,
        });
      }
    }
  }
  for (const coding of CODINGS) {
    const runs = [];
    for (let r = 0; r < RUNS; r++) runs.push(await idleMemory(client, coding, options.lib));
    const f = medianOf(runs);
    const ok = runs.every((x) => x.clients === IDLE);
    report.row(suite, {
      case: `${fmtCount(IDLE)} idle connections after some JSON events: ${coding === 'off' ? 'uncompressed' : coding}`,
      cells: { 'RSS KB/conn': (f.rss / 1024).toFixed(1), 'heap KB/conn': (f.heap / 1024).toFixed(1) },
      ok,
      note: ok ? undefined : `${f.clients} of ${IDLE} connections registered`,
    });
  }
  report.target(
    `JSON events at least 80% smaller, gzip flushed per batch, ${fmtCount(FLEET)} clients`,
    gzipJsonFleet.saved >= 0.8,
    `${(gzipJsonFleet.saved * 100).toFixed(0)}% smaller`,
  );
  report.target(`server CPU per gzip event under 25 µs at ${fmtCount(FLEET)} clients (JSON)`, gzipJsonFleet.cpu < 25, `${gzipJsonFleet.cpu.toFixed(1)} µs`);
  report.summary(
    `Compression, ~300 B JSON events, ${fmtCount(FLEET)} clients, gzip flushed per batch`,
    `${(gzipJsonFleet.saved * 100).toFixed(0)}% fewer bytes, ${gzipJsonFleet.cpu.toFixed(1)} µs server CPU per event`,
  );
}
