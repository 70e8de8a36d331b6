/**
 * `ssepipe/web` imports no `node:` module, anywhere in its graph: the compiled
 * entry (dist/web.mjs and the dist/web.js it wraps) is walked import by
 * import, then loaded in a sandbox that has only the globals every fetch-style
 * runtime has (no `process`, no `Buffer`, and a `require` that refuses anything
 * but the package's own files), where it must still stream. The workerd tests
 * bundle it for a platform without Node on top of this.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { scratchProject, type Scratch } from './support/build.ts';

let scratch: Scratch;
let dist = '';
before(() => {
  scratch = scratchProject();
  dist = path.join(scratch.pkg, 'dist');
});
after(() => scratch?.remove());

const IMPORT = /\bimport\s+(?:[\w*{}\s,]+\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every file reachable from `entry` and every specifier met on the way. */
function walk(entry: string): { files: string[]; specifiers: string[] } {
  const files: string[] = [];
  const specifiers: string[] = [];
  const queue = [entry];
  for (let i = 0; i < queue.length && i < 1000; i++) {
    const file = queue[i];
    if (files.includes(file)) continue;
    files.push(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      specifiers.push(spec);
      if (spec.startsWith('./') || spec.startsWith('../')) queue.push(path.resolve(path.dirname(file), spec));
    }
  }
  return { files: files.map((f) => path.relative(dist, f)).sort(), specifiers };
}

test('the compiled graph of ssepipe/web: the package\'s own files only, no node: module, no built-in', () => {
  const { files, specifiers } = walk(path.join(dist, 'web.mjs'));
  const outside = specifiers.filter((s) => !s.startsWith('./') && !s.startsWith('../'));
  assert.deepEqual(outside, [], 'bare or node: specifiers');
  assert.deepEqual(specifiers.filter((s) => s.startsWith('node:') || builtinModules.includes(s.replace(/^\.\//, ''))), []);
  // Exactly these: a new import (say, of stream.ts) shows up here.
  assert.deepEqual(files, [
    'channel.js',
    'emitter.js',
    'encoding.js',
    'errors.js',
    'fanout.js',
    'format.js',
    'headers.js',
    'heartbeat.js',
    'history.js',
    'options.js',
    'replay.js',
    'session.js',
    'sink-compress.js',
    'sink-web.js',
    'suggest.js',
    'topic.js',
    'web-stream.js',
    'web.js',
    'web.mjs',
  ]);
});

test('it loads and streams in a sandbox with only web globals: no process, no Buffer, no built-in modules', async () => {
  const sandbox = vm.createContext({
    ReadableStream, Response, Request, Headers, TextEncoder, TextDecoder, AbortController, AbortSignal,
    EventTarget, Event, URL, setTimeout, clearTimeout, setInterval, clearInterval, queueMicrotask, console,
  });
  const cache = new Map<string, { exports: unknown }>();
  const load = (file: string): unknown => {
    const cached = cache.get(file);
    if (cached !== undefined) return cached.exports;
    const module = { exports: {} };
    cache.set(file, module);
    const wrapper = vm.runInContext(`(function (exports, require, module) {${readFileSync(file, 'utf8')}\n})`, sandbox, { filename: file }) as (
      e: unknown,
      r: (s: string) => unknown,
      m: { exports: unknown },
    ) => void;
    wrapper(module.exports, (spec) => {
      if (!spec.startsWith('./')) throw new Error(`${path.basename(file)} required ${spec}`);
      return load(path.resolve(path.dirname(file), spec.endsWith('.js') ? spec : `${spec}.js`));
    }, module);
    return module.exports;
  };
  const web = load(path.join(dist, 'web.js')) as typeof import('../lib/web.ts');
  assert.equal(vm.runInContext('typeof process + typeof Buffer + typeof require', sandbox), 'undefinedundefinedundefined');

  const room = new web.Channel({ history: 5 });
  const res = web.sseResponse(new Request('http://h/', { headers: { 'last-event-id': 'x' } }), (stream) => {
    stream.write({ event: 'hello', data: { n: 1 } });
    room.add(stream);
  }, { heartbeat: 1000, maxDuration: 60_000 });
  room.write({ id: 'a', data: 'broadcast' });
  room.end();
  const text = await new Response(res.body).text();
  assert.equal(text, ':ok\n\nevent: hello\ndata: {"n":1}\n\nid: a\ndata: broadcast\n\n');
});
