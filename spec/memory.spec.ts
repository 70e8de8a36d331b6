/**
 * Memory faults of issue 11, measured in a child process of their own (peak RSS
 * and heap are per process): text with many line breaks serialized at 79x its
 * size, and a module-level memo that kept the last (possibly huge) message alive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const format = path.join(__dirname, '../lib/format.ts');

function child(code: string): Record<string, number> {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(out) as Record<string, number>;
}

test("serializing 10 MB of line breaks peaks within 3x the frame's size (it peaked at 791 MB)", () => {
  const r = child(`
    const m = await import(${JSON.stringify(format)}); const { serialize } = m.serialize ? m : m.default;
    const text = '\\n'.repeat(10 * 1024 * 1024);
    globalThis.gc();
    const before = process.memoryUsage().rss;
    const frame = serialize({ data: text });
    const peak = process.resourceUsage().maxRSS * 1024;
    console.log(JSON.stringify({ growth: peak - before, frame: frame.length }));
  `);
  assert.equal(r.frame, 7 * (10 * 1024 * 1024 + 1) + 1);
  assert.ok(r.growth < 3 * r.frame, `peak RSS grew by ${(r.growth / 1e6).toFixed(0)} MB for a ${(r.frame / 1e6).toFixed(0)} MB frame`);
});

test('nothing keeps the last message alive: a 50 MB event is collected once the caller lets go', () => {
  const r = child(`
    const m = await import(${JSON.stringify(format)}); const { serialize, prepare } = m.serialize ? m : m.default;
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    (() => {
      const data = 'x'.repeat(50 * 1024 * 1024);
      serialize({ data });
      prepare({ data });
      serialize({ event: 'e', data });
    })();
    globalThis.gc();
    console.log(JSON.stringify({ retained: process.memoryUsage().heapUsed - before }));
  `);
  assert.ok(r.retained < 5 * 1024 * 1024, `${(r.retained / 1e6).toFixed(1)} MB stayed on the heap`);
});
