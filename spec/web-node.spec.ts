/**
 * `ssepipe/web` on Node 18, 20, 22, 24 and 26 (each installed from npm by the
 * test: spec/support/runtimes.ts): the room of examples/web/room.mjs served by
 * examples/web/node.mjs (a route handler behind a fetch adapter, as Next.js
 * serves one), and as a Hono app on @hono/node-server; every host runs the same
 * scenarios (spec/support/web-scenarios.ts).
 */
import { after, before } from 'node:test';
import path from 'node:path';
import { scratchProject, type Scratch } from './support/build.ts';
import { installRuntime, nodeRuntime, NODE_MAJORS, requireRuntime } from './support/runtimes.ts';
import { startHost } from './support/web-hosts.ts';
import { roomScenarios } from './support/web-scenarios.ts';

let scratch: Scratch;
before(() => {
  scratch = scratchProject(['hono', '@hono/node-server']);
});
after(() => scratch?.remove());

for (const major of NODE_MAJORS) {
  const runtime = installRuntime(nodeRuntime(major));
  roomScenarios(`Node ${major}: a route handler (room.mjs) behind a fetch adapter (node.mjs)`, requireRuntime(runtime), () =>
    startHost((runtime as { bin: string }).bin, [path.join(scratch.examples, 'node.mjs')], scratch.dir),
  );
}

roomScenarios(`Hono on @hono/node-server (Node ${process.versions.node})`, { skip: false }, () =>
  startHost(process.execPath, [path.join(scratch.examples, 'hono-node.mjs')], scratch.dir),
);
