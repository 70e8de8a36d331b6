/**
 * `npm run bench [-- --quick] [-- --only=throughput,parser,web] [-- --lib=/path/to/lib-copy]`
 *
 * Installs the peers (bench/peers) if needed, runs every suite, prints one line
 * per case, writes bench/RESULTS.md, and exits non-zero if any case delivered or
 * parsed the wrong number of events. Target misses are reported, not fatal.
 */
import path from 'node:path';
import { BENCH_DIR, Child, QUICK, Report, ensurePeers } from './common.ts';
import { compressBench } from './compress.bench.ts';
import { fanoutBench } from './fanout.bench.ts';
import { intervalsBench } from './intervals.bench.ts';
import { memoryBench } from './memory.bench.ts';
import { parserBench } from './parser.bench.ts';
import { redisBench } from './redis.bench.ts';
import { serializerBench } from './serializer.bench.ts';
import { throughputBench } from './throughput.bench.ts';
import { webBench } from './web.bench.ts';

function option(name: string): string | undefined {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  return arg?.slice(name.length + 3);
}

async function main(): Promise<number> {
  const t0 = performance.now();
  ensurePeers();
  const only = option('only')?.split(',');
  const lib = option('lib');
  const wanted = (name: string): boolean => only === undefined || only.includes(name);
  const report = new Report();
  console.log(`ssepipe benchmarks (${QUICK ? 'quick' : 'full'})${lib ? `, ours from ${lib}` : ''}`);

  // In-process suites first, before any child process competes for the CPU.
  if (wanted('serializer')) await serializerBench(report, { lib });
  if (wanted('parser')) await parserBench(report, { lib });
  if (wanted('web')) await webBench(report, { lib });

  const client = await Child.start('client.ts', {});
  try {
    if (wanted('throughput')) await throughputBench(report, client, { lib });
    if (wanted('intervals')) await intervalsBench(report, client, { lib });
    if (wanted('memory')) await memoryBench(report, client, { lib });
    if (wanted('fanout')) await fanoutBench(report, client, { lib });
    if (wanted('compress')) await compressBench(report, client, { lib });
  } finally {
    await client.close();
  }
  if (wanted('redis')) await redisBench(report);

  const elapsed = (performance.now() - t0) / 1000;
  report.printTargets();
  report.writeMarkdown(path.join(BENCH_DIR, 'RESULTS.md'), elapsed);
  console.log(`\n${elapsed.toFixed(0)} s; results written to bench/RESULTS.md`);
  const failed = report.failed;
  if (failed.length > 0) {
    console.error(`\nFAILED: ${failed.length} case(s) delivered the wrong number of events:`);
    for (const r of failed) console.error(`  ${r.case}${r.note ? ` (${r.note})` : ''}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
