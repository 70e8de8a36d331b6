/**
 * The package as a user's project holds it, built from lib/ into a scratch
 * directory: `<dir>/node_modules/ssepipe` (dist/ from one `tsc -p lib`, the
 * hand-written entries, package.json), plus the web examples under
 * `<dir>/examples/web/`, so that their `import 'ssepipe/web'` resolves to it on
 * every runtime. The project's own dist/ is left alone (spec/package.spec.ts
 * rebuilds it while other files run).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');

export interface Scratch {
  readonly dir: string;
  /** `<dir>/node_modules/ssepipe` */
  readonly pkg: string;
  /** `<dir>/examples/web` */
  readonly examples: string;
  remove(): void;
}

/** Build the package into a new scratch project; `links`: packages of the project's node_modules to make visible there (hono, ...). */
export function scratchProject(links: readonly string[] = []): Scratch {
  const dir = mkdtempSync(path.join(tmpdir(), 'ssepipe-web-'));
  const pkg = path.join(dir, 'node_modules', 'ssepipe');
  mkdirSync(pkg, { recursive: true });
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'lib'), '--outDir', path.join(pkg, 'dist')], {
    stdio: 'pipe',
  });
  for (const file of readdirSync(path.join(ROOT, 'lib', 'entry'))) cpSync(path.join(ROOT, 'lib', 'entry', file), path.join(pkg, 'dist', file));
  cpSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  for (const name of links) {
    const target = path.join(dir, 'node_modules', name);
    mkdirSync(path.dirname(target), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules', name), target, 'dir');
  }
  const examples = path.join(dir, 'examples', 'web');
  cpSync(path.join(ROOT, 'examples', 'web'), examples, { recursive: true });
  // A project of its own (Deno reads node_modules/ only where a package.json says so).
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  return { dir, pkg, examples, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
