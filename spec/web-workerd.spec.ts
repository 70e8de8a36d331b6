/**
 * `ssepipe/web` on Cloudflare's workerd (installed from npm by the test),
 * bundled by esbuild for a platform without Node (no `node:` import can
 * resolve) and run without a Node compatibility flag: the room of
 * examples/web/room.mjs in the worker itself (worker.mjs) and in a Durable
 * Object (worker-room.mjs), each through the shared scenarios; and heartbeats
 * across requests, which workerd ties to the request that set their timer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSync, type Metafile } from 'esbuild';
import { scratchProject, type Scratch } from './support/build.ts';
import { elapse, openEventStream, within } from './support/realworld.ts';
import { installRuntime, requireRuntime, WORKERD } from './support/runtimes.ts';
import { startWorkerd } from './support/web-hosts.ts';
import { roomScenarios } from './support/web-scenarios.ts';

const workerd = installRuntime(WORKERD);
const skip = requireRuntime(workerd);
const bin = (workerd as { bin: string }).bin;
let scratch: Scratch;
let metafile: Metafile;

before(() => {
  scratch = scratchProject();
  cpSync(path.join(__dirname, 'fixtures', 'web', 'heartbeat-worker.mjs'), path.join(scratch.examples, 'heartbeat-worker.mjs'));
  // As wrangler bundles a Worker: esbuild, ESM out, and here a platform with no
  // Node built-ins at all, so that any `node:` import anywhere fails the build.
  const result = buildSync({
    absWorkingDir: scratch.dir,
    entryPoints: ['examples/web/worker.mjs', 'examples/web/worker-room.mjs', 'examples/web/heartbeat-worker.mjs'],
    outdir: 'examples/web/dist-workerd',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    metafile: true,
    logLevel: 'silent',
  });
  metafile = result.metafile;
});
after(() => scratch?.remove());

describe('the Workers bundle', skip, () => {
  test('builds for a platform without Node: nothing in ssepipe/web imports node: (or any built-in)', () => {
    const inputs = Object.keys(metafile.inputs);
    assert.ok(inputs.some((f) => f.endsWith('node_modules/ssepipe/dist/web.mjs')), 'the package entry is in the bundle');
    const imports = Object.values(metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
    assert.deepEqual(imports.filter((p) => p.startsWith('node:') || !p.includes('/')), []);
    assert.deepEqual(Object.values(metafile.inputs).flatMap((i) => i.imports.filter((x) => x.external === true)), []);
  });
});

roomScenarios('workerd: the room in the worker itself (worker.mjs, no compatibility flags)', skip, async () => {
  const w = await startWorkerd(bin, 'workerd.capnp', scratch.examples, ['feed', 'room']);
  return { url: w.urls.feed, stop: w.stop };
});

roomScenarios('workerd: the room in a Durable Object (worker-room.mjs)', skip, async () => {
  const w = await startWorkerd(bin, 'workerd.capnp', scratch.examples, ['feed', 'room']);
  return { url: w.urls.room, stop: w.stop };
});

describe('workerd: heartbeats across requests', skip, () => {
  let url = '';
  let stop = async (): Promise<void> => {};
  before(async () => {
    const config = readFileSync(path.join(scratch.examples, 'workerd.capnp'), 'utf8').replace(
      /const feed :Workerd.Worker = \(\n  modules = \[\(name = "worker.mjs", esModule = embed "dist-workerd\/worker.mjs"\)\],/,
      'const feed :Workerd.Worker = (\n  modules = [(name = "heartbeat-worker.mjs", esModule = embed "dist-workerd/heartbeat-worker.mjs")],',
    );
    assert.match(config, /heartbeat-worker/);
    writeFileSync(path.join(scratch.examples, 'heartbeat.capnp'), config);
    const w = await startWorkerd(bin, 'heartbeat.capnp', scratch.examples, ['feed']);
    url = w.urls.feed;
    stop = w.stop;
  });
  after(() => stop());

  test("a stream keeps its heartbeat after the request that started the interval's first stream ended", async () => {
    // The first stream's request sets up the heartbeat; it ends after 300 ms. A
    // timer shared by both would die with it, and workerd would cut the second
    // stream's request as hung (measured: "canceled this request because it
    // detected that your Worker's code had hung").
    const first = await openEventStream(`${url}/?maxDuration=300`, {}, 10_000);
    const second = await openEventStream(`${url}/`, {}, 10_000);
    try {
      assert.equal(await within(first.closed, 10_000, 'the first stream to end'), 'end');
      const seen = second.comments.length;
      // Subject: time. Bounded: 40 x 50 ms.
      for (let i = 0; i < 40 && second.comments.length < seen + 3; i++) await elapse(50);
      assert.ok(second.comments.length >= seen + 3, `heartbeats after the first stream ended: ${second.comments.length - seen}`);
      assert.equal(second.ended, false);
      assert.deepEqual(second.comments.slice(1).filter((c) => c !== ''), [], 'only heartbeats (after the :ok preamble)');
    } finally {
      first.close();
      second.close();
    }
  });
});
