/**
 * `ssepipe/web` on Node 18, 20, 22, 24 and 26 (each installed from npm by the
 * test: spec/support/runtimes.ts): the room of examples/web/room.mjs served by
 * examples/web/node.mjs (a route handler behind a fetch adapter, as Next.js
 * serves one), and as a Hono app on @hono/node-server (Node 20 and later); every
 * host runs the same scenarios (spec/support/web-scenarios.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
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
  // @hono/node-server 2 needs Node 20 or later.
  if (major < 20) continue;
  roomScenarios(`Node ${major}: the room as a Hono app on @hono/node-server (hono-node.mjs)`, requireRuntime(runtime), () =>
    startHost((runtime as { bin: string }).bin, [path.join(scratch.examples, 'hono-node.mjs')], scratch.dir),
  );
}

describe("the README's first ssepipe/web example (examples/web/hello.mjs), on the Node running the tests", () => {
  test('GET answers with the event stream: the CORS origin, the preamble, retry, the hello event', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `
      const { GET } = await import('./examples/web/hello.mjs');
      const res = GET(new Request('http://localhost/events', { headers: { origin: 'https://app.example' } }));
      const reader = res.body.getReader();
      let text = '';
      while (!text.includes('event: hello')) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      console.log(JSON.stringify({ status: res.status, origin: res.headers.get('access-control-allow-origin'), text }));
    `], { cwd: scratch.dir, encoding: 'utf8' });
    const r = JSON.parse(out) as { status: number; origin: string; text: string };
    assert.equal(r.status, 200);
    assert.equal(r.origin, 'https://app.example');
    assert.match(r.text, /^:ok\n\nretry: 1000\n\nevent: hello\ndata: \{"at":\d+\}\n\n$/);
  });
});
