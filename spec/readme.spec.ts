/**
 * README code blocks that name a file (a first line `// examples/...` or
 * `# examples/...`) are that file, byte for byte, so that what the README shows
 * is what the tests run; `(excerpt)` blocks are a part of it. Every example of
 * the web entry is shown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const NAMED = /^(?:\/\/|#) ((?:examples|spec)\/[\w./-]+)( \(excerpt\))?$/;

const blocks = [...README.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].flatMap((m) => {
  const [first, ...rest] = m[1].split('\n');
  const named = NAMED.exec(first);
  return named === null ? [] : [{ file: named[1], excerpt: named[2] !== undefined, body: rest.join('\n') }];
});

test('every README block that names a file is that file (or, marked as an excerpt, a part of it)', () => {
  assert.ok(blocks.length >= 10, `${blocks.length} named blocks`);
  for (const { file, excerpt, body } of blocks) {
    assert.ok(existsSync(path.join(ROOT, file)), `${file} exists`);
    const text = readFileSync(path.join(ROOT, file), 'utf8');
    if (excerpt) assert.ok(text.includes(body.replace(/\n$/, '')), `the README's excerpt of ${file} is in it`);
    else assert.equal(body, text, `the README shows ${file} as it is`);
  }
});

test('the README shows every web example the tests run', () => {
  const shown = new Set(blocks.filter((b) => !b.excerpt).map((b) => b.file));
  const examples = readdirSync(path.join(ROOT, 'examples', 'web')).filter((f) => /\.(mjs|capnp)$/.test(f)).map((f) => `examples/web/${f}`);
  assert.deepEqual(examples.filter((f) => !shown.has(f)), []);
});
