/**
 * `ssepipe/web` on Deno (installed from npm by the test): the room of
 * examples/web/room.mjs on `Deno.serve` (examples/web/deno.mjs), importing the
 * package from node_modules as a Deno project with a package.json does.
 */
import { after, before } from 'node:test';
import path from 'node:path';
import { scratchProject, type Scratch } from './support/build.ts';
import { DENO, installRuntime, requireRuntime } from './support/runtimes.ts';
import { startHost } from './support/web-hosts.ts';
import { roomScenarios } from './support/web-scenarios.ts';

const deno = installRuntime(DENO);
let scratch: Scratch;
before(() => {
  scratch = scratchProject();
});
after(() => scratch?.remove());

roomScenarios('Deno: the room on Deno.serve (deno.mjs)', requireRuntime(deno), () =>
  startHost((deno as { bin: string }).bin, ['run', '--allow-net', '--allow-env', '--allow-read', path.join(scratch.examples, 'deno.mjs')], scratch.dir, {
    DENO_NO_UPDATE_CHECK: '1',
    DENO_DIR: path.join(scratch.dir, '.deno'),
  }),
);
