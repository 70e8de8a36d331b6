/**
 * Typed events at compile time: spec/fixtures/typed-events.ts is compiled as
 * it is (every line compiles, every `@ts-expect-error` is used), then as a copy
 * without its directives, where exactly the lines they marked must be errors.
 * The shipped .d.ts (ESM and CommonJS) are checked by spec/package.spec.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const FIXTURE = path.join(__dirname, 'fixtures', 'typed-events.ts');
const DIRECTIVE = /^\s*\/\/ @ts-expect-error\b.*$/;

/** Type-check one file as the project does; the `file(line,col): error TSxxxx` lines. */
function check(file: string): { status: number | null; errors: string[] } {
  const r = spawnSync(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--ignoreConfig',
      '--noEmit',
      '--strict',
      '--target', 'es2022',
      '--module', 'nodenext',
      '--moduleResolution', 'nodenext',
      '--allowImportingTsExtensions',
      '--types', 'node',
      '--skipLibCheck',
      '--pretty', 'false',
      file,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  return { status: r.status, errors: r.stdout.split('\n').filter((l) => /\(\d+,\d+\): error TS\d+/.test(l)) };
}

const source = readFileSync(FIXTURE, 'utf8');
const lines = source.split('\n');
/** 1-based numbers of the lines each directive covers. */
const marked = lines.flatMap((line, i) => (DIRECTIVE.test(line) ? [i + 2] : []));

test('the fixture compiles as marked: every line compiles, and every @ts-expect-error is used', () => {
  assert.ok(marked.length >= 12, `the fixture marks ${marked.length} lines`);
  const { status, errors } = check(FIXTURE);
  assert.deepEqual(errors, []);
  assert.equal(status, 0);
});

test('without its directives, exactly the marked lines are refused', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ssepipe-types-'));
  try {
    // Same line numbers: each directive becomes an empty comment; imports point at lib/ from here.
    const copy = lines
      .map((line) => (DIRECTIVE.test(line) ? '//' : line))
      .join('\n')
      .replaceAll("'../../lib/", `'${path.join(ROOT, 'lib')}/`);
    const file = path.join(dir, 'typed-events.ts');
    writeFileSync(file, copy);
    const { errors } = check(file);
    const failing = [...new Set(errors.map((e) => Number(/\((\d+),\d+\)/.exec(e)![1])))].sort((a, b) => a - b);
    assert.deepEqual(failing, marked);
    // Refused as a type mismatch, not for some other reason (a typo in the fixture).
    for (const e of errors) assert.match(e, /error TS(2322|2345|2353|2769):/, e);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
