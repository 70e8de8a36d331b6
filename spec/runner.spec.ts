/**
 * `npm test`'s own output (spec/run.ts + spec/support/reporter.ts), run exactly as
 * package.json's `test` script runs it, on small test files written to a temp dir,
 * with stdout a pipe (as in CI): no TAP, failures in full, skips with their
 * reason, no ExperimentalWarning, node:test's own count lines (`# pass N`, for CI), and
 * the counts for people on the last line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { within } from './support/realworld.ts';

const root = join(__dirname, '..');
const script = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { test: string } }).scripts.test;
/** The runner part of `npm test` (after the type check). */
const runner = script.split(' && ').at(-1)!;

function runTests(files: string[]): Promise<{ code: number | null; out: string }> {
  // Without NODE_TEST_CONTEXT, which tells run() it is inside a test file (and so to run nothing).
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const child = spawn(`${runner} ${files.join(' ')}`, {
    cwd: root,
    shell: true,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  return within(
    new Promise<{ code: number | null; out: string }>((resolve) => child.on('close', (code) => resolve({ code, out }))),
    30_000,
    'the test runner to finish',
  ).finally(() => child.exitCode === null && child.kill('SIGKILL'));
}

describe('npm test output', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ssepipe-runner-'));
    writeFileSync(
      join(dir, 'mixed.test.mjs'),
      `import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
describe('suite', () => {
  test('passes', () => assert.equal(1, 1));
  test('fails', () => assert.deepEqual({ a: [1, 2] }, { a: [1, 3] }));
  test('needs a binary', { skip: 'firefox not found (apt-get install firefox-esr)' }, () => {});
  test('uses mock timers', (t) => { t.mock.timers.enable({ apis: ['Date'] }); console.error('a line on stderr'); });
});
describe('browser', { skip: 'chromium not found' }, () => { test('never runs', () => {}); });
`,
    );
    writeFileSync(join(dir, 'broken.test.mjs'), `throw new Error('does not load');\n`);
    writeFileSync(
      join(dir, 'green.test.mjs'),
      `import { test } from 'node:test';\ntest('one', () => {});\ntest('two', async () => {});\n`,
    );
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('off a terminal: failures in full, skips with reasons, stray output prefixed, no TAP, counts last', async () => {
    const file = join(dir, 'mixed.test.mjs');
    const { code, out } = await runTests([file]);
    assert.equal(code, 1);
    assert.doesNotMatch(out, /^(not )?ok \d+ /m, 'no TAP test lines');
    assert.doesNotMatch(out, /# Subtest|^TAP version/m, 'no TAP');
    assert.doesNotMatch(out, /ExperimentalWarning|--trace-warnings/);
    assert.match(out, new RegExp(`^FAIL  ${escape(file)} › suite › fails \\(\\d+ ms\\)\\n      AssertionError \\[ERR_ASSERTION\\]: Expected values to be strictly deep-equal:\\n      \\+ actual - expected\\n`, 'm'));
    assert.match(out, /^ {6}\+ {5}2\n {6}- {5}3\n/m, 'the diff');
    assert.match(out, new RegExp(`^ {10}at .*${escape(file)}:5:`, 'm'), 'the stack points into the test file');
    assert.match(out, new RegExp(`^skip  ${escape(file)} › suite › needs a binary: firefox not found \\(apt-get install firefox-esr\\)$`, 'm'));
    assert.match(out, new RegExp(`^skip  ${escape(file)} › browser: chromium not found$`, 'm'));
    assert.match(out, new RegExp(`^${escape(file)} stderr\\| a line on stderr$`, 'm'));
    assert.match(out, /^# tests 5\n# pass 2\n# fail 1\n# skipped 2\n# duration_ms \d+\n$/m, "node:test's counts, for CI");
    const lines = out.trimEnd().split('\n');
    assert.match(lines.at(-2)!, /^1 file in \d+\.\d s$/);
    assert.equal(lines.at(-1), 'tests: 2 passed, 1 failed, 2 skipped');
  });

  test('a file that does not load is one failure, with its own output', async () => {
    const file = join(dir, 'broken.test.mjs');
    const { code, out } = await runTests([file, join(dir, 'green.test.mjs')]);
    assert.equal(code, 1);
    assert.match(out, new RegExp(`^${escape(file)} stderr\\| Error: does not load$`, 'm'));
    assert.match(out, new RegExp(`^FAIL  ${escape(file)} \\(\\d+ ms\\)\\n      test failed: the file's output above says why\\n`, 'm'));
    assert.equal(out.trimEnd().split('\n').at(-1), 'tests: 2 passed, 1 failed, 0 skipped');
  });

  test('all green: the summary alone, exit code 0', async () => {
    const { code, out } = await runTests([join(dir, 'green.test.mjs')]);
    assert.equal(code, 0);
    assert.match(out, /^\n# tests 2\n# pass 2\n# fail 0\n# skipped 0\n# duration_ms \d+\n\n1 file in \d+\.\d s\ntests: 2 passed, 0 failed, 0 skipped\n$/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
