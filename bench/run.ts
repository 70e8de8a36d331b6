/**
 * `npm run bench [-- --quick] [-- --only=throughput,parser,web] [-- --lib=/path/to/lib-copy]`
 *
 * Installs the peers (bench/peers) if needed, runs every suite, prints one line
 * per case, writes bench/RESULTS.md, and exits non-zero if any case delivered or
 * parsed the wrong number of events. Target misses are reported, not fatal.
 */
import { spawnSync } from 'node:child_process';
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

/**
 * The idle-at-scale case holds tens of thousands of sockets: raise the soft
 * open-file limit to the hard one (what `ulimit -n` allows without privileges)
 * by running the bench again under a shell that did. Returns its exit code, or
 * undefined when this process already runs that way (or cannot).
 */
function withOpenFileLimitRaised(): number | undefined {
  if (process.platform === 'win32' || process.env.SSEPIPE_BENCH_NOFILE === '1') return undefined;
  const r = spawnSync('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, SSEPIPE_BENCH_NOFILE: '1' },
  });
  return r.error === undefined ? (r.status ?? 1) : undefined;
}

async function main(): Promise<number> {
  const again = withOpenFileLimitRaised();
  if (again !== undefined) return again;
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
  // README shows one full run's figures: not a --quick run, nor a subset, nor a patched lib.
  if (!QUICK && only === undefined && lib === undefined && report.updateReadme(path.join(BENCH_DIR, '..', 'README.md'))) {
    console.log("README.md's benchmark figures rewritten from this run");
  }
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
