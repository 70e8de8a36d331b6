/**
 * Intervals: a timer (or a setImmediate loop) sends one event with a timestamp
 * to every connected client; clients live in the client process. Measures what
 * was delivered against what was sent, server CPU per 1k delivered events, and
 * the delay from the server's timestamp to the client parsing the event.
 * One server process per (contender, clients); its connections serve every interval.
 */
import { Child, QUICK, RUNS, fmtMs, fmtRatio, medianOf, type Report } from './common.ts';
import type { Contender } from './server.ts';

const INTERVALS = QUICK ? [100, 10, 0] : [100, 10, 1, 0];
const CLIENTS = QUICK ? [1, 1000] : [1, 100, 1000];
const DURATION_MS = QUICK ? 600 : 1200;
const CONTENDERS: readonly Contender[] = ['plain', 'ours'];
const LABEL: Partial<Record<Contender, string>> = { plain: 'plain res.write', ours: 'ours' };

interface Figures extends Record<string, number> {
  ticksPerS: number;
  delivered: number;
  expected: number;
  cpuPer1k: number;
  p50: number;
  p99: number;
  busyMs: number;
}

function intervalName(ms: number): string {
  return ms === 0 ? 'setImmediate loop' : `every ${ms} ms`;
}

export async function intervalsBench(report: Report, client: Child, options: { lib?: string } = {}): Promise<void> {
  const suite = report.suite('intervals', [
    `One event per tick to every client for ${DURATION_MS} ms per run; both contenders up at once, their runs alternating. The event's data is the server's`,
    'performance.timeOrigin + performance.now() (ms), latency = client parse time minus that. CPU = server ms per 1k',
    'events delivered, including flushing what the ticks queued. Delivered/expected counts every tick the timer fired.',
    'Plain res.write formats the frame once per tick; ours prepares the message once per tick (prepare()) and writes it to every stream.',
    'Server ms/tick: median time from a tick\'s start until its socket writes were issued (a floor for the latency).',
  ]);
  // results[clients][interval][contender]
  const results = new Map<string, Figures>();
  const key = (n: number, ms: number, c: Contender): string => `${n}/${ms}/${c}`;
  for (const n of CLIENTS) {
    // Both contenders are up at once, each with its own server and client
    // process, and their runs alternate (plain, ours, ours, plain, ...): drift
    // of the shared machine falls on both alike. Run one after the other, the
    // same code measured 0.97x plain's CPU per event at 100 ms in one full run
    // and 1.35x in the next; interleaved in one process, 13.0-13.7 ms of CPU
    // per tick of 1,000 clients for both, within 4%.
    const pair = new Map<Contender, { server: Child; client: Child }>();
    try {
      for (const c of CONTENDERS) {
        const server = await Child.start('server.ts', { mode: 'fleet', contender: c, lib: options.lib });
        const own = { server, client };
        pair.set(c, own);
        if (c !== CONTENDERS[0]) own.client = await Child.start('client.ts', {});
        const port = await server.call<number>('port', {});
        await own.client.call('open', { port, connections: n, latency: true }, 60_000);
        await waitForClients(server, n);
      }
      for (const ms of INTERVALS) {
        const runs = new Map<Contender, Figures[]>(CONTENDERS.map((c) => [c, []]));
        const failed = new Set<Contender>();
        // Run -1 (on fresh servers) warms up and is not counted: the first
        // ticks of a server pay its JIT and heap growth (measured: 3 µs/event
        // more over 3 s of ticks, 1.3 over 10 s), start-up, not the write path.
        for (let r = ms === INTERVALS[0] ? -1 : 0; r < RUNS; r++) {
          const order = r % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse();
          for (const c of order) {
            if (failed.has(c)) continue;
            const { server, client: own } = pair.get(c)!;
            const t = await server.call<{ ticks: number; cpuUs: number; elapsedMs: number; busyMs: number }>(
              'tick',
              { intervalMs: ms, durationMs: DURATION_MS },
              DURATION_MS + 30_000,
            );
            const expected = t.ticks * n;
            const got = await own.call<{ events: number; p50: number; p99: number }>('collect', { expect: expected, timeoutMs: 10_000 }, 20_000);
            if (r < 0 && got.events === expected) continue;
            runs.get(c)!.push({
              ticksPerS: (t.ticks / t.elapsedMs) * 1000,
              delivered: got.events,
              expected,
              cpuPer1k: t.cpuUs / Math.max(1, got.events),
              p50: got.p50,
              p99: got.p99,
              busyMs: t.busyMs,
            });
            if (got.events !== expected) failed.add(c);
          }
        }
        for (const c of CONTENDERS) {
          const all = runs.get(c)!;
          const f = medianOf(all);
          const ok = all.every((x) => x.delivered === x.expected);
          results.set(key(n, ms, c), f);
          const cells: Record<string, string> = {
            'ticks/s': f.ticksPerS.toFixed(0),
            'delivered/expected': ok ? '1.00' : (f.delivered / f.expected).toFixed(4),
            'CPU ms/1k events': f.cpuPer1k.toFixed(2),
            p50: fmtMs(f.p50),
            p99: fmtMs(f.p99),
            'server ms/tick': fmtMs(f.busyMs),
          };
          if (c === 'ours') {
            const base = results.get(key(n, ms, 'plain'))!;
            cells['CPU vs plain'] = fmtRatio(f.cpuPer1k / base.cpuPer1k);
            cells['p99 vs plain'] = fmtRatio(f.p99 / base.p99);
          }
          report.row(suite, {
            case: `${intervalName(ms)}, ${n} client${n === 1 ? '' : 's'}: ${LABEL[c]}`,
            cells,
            ok,
            note: ok ? undefined : `delivered ${f.delivered} of ${f.expected}`,
          });
        }
      }
      for (const { client: own } of pair.values()) await own.call('close', {});
    } finally {
      for (const { server, client: own } of pair.values()) {
        await server.close();
        if (own !== client) await own.close();
      }
    }
  }
  const n = Math.max(...CLIENTS);
  for (const ms of INTERVALS) {
    const ours = results.get(key(n, ms, 'ours'));
    const plain = results.get(key(n, ms, 'plain'));
    if (ours === undefined || plain === undefined) continue;
    report.target(
      `intervals ${intervalName(ms)}, ${n} clients: ours' CPU per delivered event <= plain res.write's`,
      ours.cpuPer1k <= plain.cpuPer1k,
      `${ours.cpuPer1k.toFixed(2)} vs ${plain.cpuPer1k.toFixed(2)} ms/1k events (${fmtRatio(ours.cpuPer1k / plain.cpuPer1k)})`,
    );
    report.target(
      `intervals ${intervalName(ms)}, ${n} clients: ours' p99 latency no worse than plain res.write's`,
      ours.p99 <= plain.p99,
      `${fmtMs(ours.p99)} vs ${fmtMs(plain.p99)} (${fmtRatio(ours.p99 / plain.p99)})`,
    );
    if (ms === 100) {
      report.summary(
        `${n} clients, one event every 100 ms`,
        `server CPU per delivered event ${fmtRatio(ours.cpuPer1k / plain.cpuPer1k)} plain \`res.write\`'s, p99 latency ${fmtMs(ours.p99)} (plain: ${fmtMs(plain.p99)})`,
      );
    }
  }
}

/** The server counts a client once its response started; bounded wait. */
async function waitForClients(server: Child, n: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if ((await server.call<number>('clients', {})) >= n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the server saw fewer than ${n} clients`);
}
