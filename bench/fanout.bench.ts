/**
 * Fan-out: one event to 1k and 10k clients, timed from the server's timestamp
 * until the last client parsed it. Runs only once lib/channel.ts exists (the
 * Channel serializes once for everyone); against a loop of res.write and a loop
 * of stream.write.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Child, QUICK, RUNS, fmtCount, fmtMs, fmtRatio, medianOf, type Report } from './common.ts';
import type { Contender } from './server.ts';

const SIZES = QUICK ? [1000] : [1000, 10_000];
const CONTENDERS: readonly Contender[] = ['plain', 'ours', 'channel'];
const LABEL: Partial<Record<Contender, string>> = {
  plain: 'plain res.write loop',
  ours: 'ours, prepare() once, stream.write loop',
  channel: 'ours, Channel broadcast',
};

export async function fanoutBench(report: Report, client: Child, options: { lib?: string } = {}): Promise<void> {
  const lib = path.resolve(options.lib ?? path.join(__dirname, '../lib'));
  const available = existsSync(path.join(lib, 'channel.ts'));
  const suite = report.suite('fan-out', [
    available
      ? 'One event to every client; time until the last client parsed it, server CPU for the broadcast (median of 3 after a warm-up).'
      : 'Skipped: lib/channel.ts does not exist yet.',
  ]);
  if (!available) return;
  for (const n of SIZES) {
    let base = NaN;
    for (const c of CONTENDERS) {
      const server = await Child.start('server.ts', { mode: 'fleet', contender: c, lib: options.lib });
      try {
        const port = await server.call<number>('port', {});
        await client.call('open', { port, connections: n, latency: true }, 120_000);
        const runs: { allMs: number; cpuMs: number; events: number }[] = [];
        // Run -1 warms up (the first write on each fresh connection costs more); cheap, so >= 3 runs even in --quick.
        for (let r = -1; r < Math.max(RUNS, 3); r++) {
          const { cpuUs } = await server.call<{ cpuUs: number }>('broadcast', {}, 30_000);
          const got = await client.call<{ events: number; max: number }>('collect', { expect: n, timeoutMs: 10_000 }, 20_000);
          if (r >= 0 || got.events !== n) runs.push({ allMs: got.max, cpuMs: cpuUs / 1000, events: got.events });
        }
        await client.call('close', {});
        const f = medianOf(runs);
        if (c === 'plain') base = f.allMs;
        const ok = runs.every((x) => x.events === n);
        if (n === Math.max(...SIZES) && c !== 'plain') {
          report.target(`fan-out, 1 event to ${fmtCount(n)} clients: ${LABEL[c]} no slower than a plain res.write loop`, f.allMs <= base, `${fmtMs(f.allMs)} vs ${fmtMs(base)} (${fmtRatio(base / f.allMs)})`);
          if (c === 'channel') report.summary(`One event to ${fmtCount(n)} clients through a \`Channel\``, `all delivered in ${fmtMs(f.allMs)} (a plain \`res.write\` loop: ${fmtMs(base)})`);
        }
        report.row(suite, {
          case: `1 event to ${fmtCount(n)} clients: ${LABEL[c]}`,
          cells: { 'all delivered in': fmtMs(f.allMs), 'server CPU': fmtMs(f.cpuMs), 'vs plain': fmtRatio(base / f.allMs) },
          ok,
          note: ok ? undefined : `delivered ${f.events} of ${n}`,
        });
      } finally {
        await server.close();
      }
    }
  }
}
