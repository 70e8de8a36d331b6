/**
 * `ssepipe/web` on Bun (installed from npm by the test): the room of
 * examples/web/room.mjs on `Bun.serve` (examples/web/bun.mjs) and as a Hono app
 * (examples/web/hono-bun.mjs), each through the shared scenarios; and Bun's
 * idle timeout against the heartbeat.
 */
import { after, before } from 'node:test';
import path from 'node:path';
import { scratchProject, type Scratch } from './support/build.ts';
import { BUN, installRuntime, requireRuntime } from './support/runtimes.ts';
import { startHost } from './support/web-hosts.ts';
import { roomScenarios } from './support/web-scenarios.ts';

const bun = installRuntime(BUN);
const bin = (bun as { bin: string }).bin;
let scratch: Scratch;
before(() => {
  scratch = scratchProject(['hono']);
});
after(() => scratch?.remove());

roomScenarios('Bun: the room on Bun.serve (bun.mjs)', requireRuntime(bun), () =>
  startHost(bin, [path.join(scratch.examples, 'bun.mjs')], scratch.dir),
);

roomScenarios('Bun: the room as a Hono app (hono-bun.mjs)', requireRuntime(bun), () =>
  startHost(bin, [path.join(scratch.examples, 'hono-bun.mjs')], scratch.dir),
);
