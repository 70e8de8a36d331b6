/**
 * `ssepipe/web` on Bun (installed from npm by the test): the room of
 * examples/web/room.mjs on `Bun.serve` (examples/web/bun.mjs) and as a Hono app
 * (examples/web/hono-bun.mjs), each through the shared scenarios; and Bun's
 * idle timeout against the heartbeat.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { scratchProject, type Scratch } from './support/build.ts';
import { BUN, installRuntime, requireRuntime } from './support/runtimes.ts';
import { openEventStream, within } from './support/realworld.ts';
import { startHost, type Host } from './support/web-hosts.ts';
import { roomScenarios } from './support/web-scenarios.ts';

const bun = installRuntime(BUN);
const bin = (bun as { bin: string }).bin;
let scratch: Scratch;
before(() => {
  scratch = scratchProject(['hono']);
  cpSync(path.join(__dirname, 'fixtures', 'web', 'bun-idle.mjs'), path.join(scratch.examples, 'bun-idle.mjs'));
});
after(() => scratch?.remove());

roomScenarios('Bun: the room on Bun.serve (bun.mjs)', requireRuntime(bun), () =>
  startHost(bin, [path.join(scratch.examples, 'bun.mjs')], scratch.dir),
);

roomScenarios('Bun: the room as a Hono app (hono-bun.mjs)', requireRuntime(bun), () =>
  startHost(bin, [path.join(scratch.examples, 'hono-bun.mjs')], scratch.dir),
);

describe("Bun's idle timeout (10 s) cuts a stream whose heartbeat is longer; the room's 5 s heartbeat keeps it open", requireRuntime(bun), () => {
  let host: Host;
  before(async () => {
    host = await startHost(bin, [path.join(scratch.examples, 'bun-idle.mjs')], scratch.dir);
  });
  after(() => host?.stop());

  test('no heartbeat and the default 15 s are cut (measured: ~12 s, Bun counts in 4 s steps); 5 s is not', async () => {
    const silent = await openEventStream(`${host.url}/events?heartbeat=0`, {}, 10_000);
    const byDefault = await openEventStream(`${host.url}/events?heartbeat=15000`, {}, 10_000);
    const beating = await openEventStream(`${host.url}/events?heartbeat=5000`, {}, 10_000);
    try {
      // Subject: time (Bun's timer). Bounded.
      await within(Promise.all([silent.closed, byDefault.closed]), 30_000, 'Bun to close the streams idle for 10 s');
      assert.equal(silent.raw, ':ok\n\n');
      assert.equal(byDefault.raw, ':ok\n\n');
      assert.equal(beating.ended, false, 'the stream with a 5 s heartbeat outlived the idle timeout');
      assert.ok(beating.comments.filter((c) => c === '').length >= 2, `heartbeats: ${JSON.stringify(beating.comments)}`);
    } finally {
      silent.close();
      byDefault.close();
      beating.close();
    }
  });
});
