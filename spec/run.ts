/**
 * What `npm test` runs after `tsc`: every `spec/*.spec.ts` (or the files given:
 * `npm test -- spec/demo.spec.ts`), each in its own process, through node:test's
 * `run()`, with the compact report of ./support/reporter.ts instead of ~2,000
 * TAP lines. Exit code 1 when a test failed or none ran.
 *
 * Two files at a time by default (`TEST_CONCURRENCY=1` for one): the slow files
 * wait on browsers, proxies and timers as much as on the CPU. On the 2-core
 * machine CI uses, the suite of 14 files took 31 s one at a time, 15 s two at a
 * time, 14 s three at a time.
 */
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { run } from 'node:test';
import { CompactReporter, type TestEvent } from './support/reporter.ts';

/**
 * The longest files start first, so that two at a time finish together: alone,
 * each took 5-17 s on the 2-core machine (the rest 1-4 s). Alphabetical order
 * put the two browsers in the middle: 46 s for the suite; this order: 35 s.
 */
const SLOW_FIRST = ['web-workerd', 'firefox', 'chromium', 'web-node', 'demo', 'scale-out', 'redis-instances', 'web-bun', 'web-deno', 'caddy', 'haproxy', 'nginx', 'channel-load', 'package', 'redis'];

const root = join(__dirname, '..');
const given = process.argv.slice(2);
const rank = (file: string): number => {
  const i = SLOW_FIRST.indexOf(file.replace(/^spec\/|\.spec\.ts$/g, ''));
  return i === -1 ? SLOW_FIRST.length : i;
};
const files = given.length > 0
  ? given.map((f) => {
      const rel = relative(root, resolve(f));
      return rel.startsWith('..') ? resolve(f) : rel;
    })
  : readdirSync(join(root, 'spec'))
      .filter((f) => f.endsWith('.spec.ts'))
      .map((f) => join('spec', f))
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 2);
if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
  console.error(`TEST_CONCURRENCY must be a positive integer; got ${process.env.TEST_CONCURRENCY}`);
  process.exit(2);
}

const tty = process.stdout.isTTY === true;
let shown = 0;
const reporter = new CompactReporter(
  root,
  (text) => process.stdout.write(text),
  tty
    ? (line) => {
        // One status line, rewritten in place; cleared before any other output.
        const cut = line.slice(0, Math.max(0, (process.stdout.columns ?? 80) - 1));
        if (cut !== '' || shown > 0) process.stdout.write(`\r\x1b[K${cut}`);
        shown = cut.length;
      }
    : null,
);

async function main(): Promise<void> {
  process.chdir(root);
  const started = Date.now();
  for await (const event of run({ files, concurrency })) reporter.handle(event as TestEvent);
  if (tty && shown > 0) process.stdout.write('\r\x1b[K');
  process.stdout.write(reporter.summary(files.length, Date.now() - started));
  const { passed, failed } = reporter.counts;
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
}

void main();
