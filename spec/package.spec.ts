/**
 * The package as users install it: `npm pack`, unpacked into a scratch project,
 * then imported from ESM, required from CommonJS, and type-checked.
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
let scratch: string;
let files: string[];

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: scratch, encoding: 'utf8' });
}

before(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'ssepipe-pack-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [info] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  files = info.files.map((f) => f.path).sort();
  mkdirSync(path.join(scratch, 'node_modules'));
  execFileSync('tar', ['-xzf', path.join(scratch, info.filename), '-C', path.join(scratch, 'node_modules')]);
  renameSync(path.join(scratch, 'node_modules', 'package'), path.join(scratch, 'node_modules', 'ssepipe'));
});

after(() => rmSync(scratch, { recursive: true, force: true }));

test('the tarball holds the builds, types, README and LICENSE, and no sources, tests or benchmarks', () => {
  for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/index.cjs', 'dist/index.mjs', 'dist/index.js', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/index.d.mts', 'dist/web.mjs', 'dist/web.js', 'dist/web.d.ts', 'dist/web.d.mts']) {
    assert.ok(files.includes(f), `${f} is missing from the tarball`);
  }
  assert.deepEqual(files.filter((f) => /^(lib|spec|bench|examples|\.ci)\//.test(f) || f.endsWith('.ts') && !f.endsWith('.d.ts')), []);
  // One copy of the code: a single build, no second tree for ESM.
  assert.deepEqual(files.filter((f) => /^dist\/(esm|cjs)\//.test(f)), []);
});

test('one copy in a process: import and require give the same classes, registry and instanceof', () => {
  const out = node(['--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    import * as esm from 'ssepipe';
    import { PassThrough } from 'node:stream';
    const cjs = createRequire(import.meta.url)('ssepipe');
    const names = (o) => Object.keys(o).filter((k) => k !== 'default').sort();
    const a = new esm.SSEStream(undefined, { heartbeat: 0 });
    const b = new cjs.SSEStream(undefined, { heartbeat: 0 });
    a.pipe(new PassThrough().resume());
    b.pipe(new PassThrough().resume());
    const channel = new cjs.Channel();
    let err;
    try { esm.serialize({ event: 'a\\nb' }); } catch (e) { err = e; }
    console.log(JSON.stringify({
      sameNames: JSON.stringify(names(esm)) === JSON.stringify(names(cjs)),
      sameClass: esm.SSEStream === cjs && esm.default === cjs && esm.Channel === cjs.Channel,
      instanceofAcross: a instanceof cjs.SSEStream && b instanceof esm.SSEStream,
      addAcross: channel.add(a),
      isSSEErrorAcross: cjs.isSSEError(err) && err instanceof cjs.SSETypeError,
      endAllSeesBoth: esm.openStreamCount() === 2 && cjs.endAll() === 2,
    }));
  `]);
  assert.deepEqual(JSON.parse(out), {
    sameNames: true,
    sameClass: true,
    instanceofAcross: true,
    addAcross: true,
    isSSEErrorAcross: true,
    endAllSeesBoth: true,
  });
});

test("LICENSE is the MIT license that package.json's license field names", () => {
  const pkg = JSON.parse(readFileSync(path.join(scratch, 'node_modules/ssepipe/package.json'), 'utf8')) as { license: string };
  assert.equal(pkg.license, 'MIT');
  const text = readFileSync(path.join(scratch, 'node_modules/ssepipe/LICENSE'), 'utf8');
  assert.match(text, /^MIT License\n\nCopyright \(c\) \d{4} .+\n\nPermission is hereby granted, free of charge,/);
  assert.match(text, /THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND/);
});

test('CommonJS: require() is the class itself, with .default and every named export on it', () => {
  const out = node(['-e', `
    const SSEStream = require('ssepipe');
    const { SSEStream: Named, Channel, serialize, noContent, ErrorCode } = require('ssepipe');
    console.log(JSON.stringify({
      isClass: typeof SSEStream === 'function' && SSEStream.name === 'SSEStream',
      dflt: require('ssepipe').default === SSEStream,
      named: Named === SSEStream,
      channel: typeof Channel,
      noContent: typeof noContent,
      code: ErrorCode.INVALID_ID,
      bytes: serialize({ event: 'e', data: 'x' }),
      instance: new SSEStream() instanceof require('node:stream').Transform,
    }));
  `]);
  assert.deepEqual(JSON.parse(out), {
    isClass: true,
    dflt: true,
    named: true,
    channel: 'function',
    noContent: 'function',
    code: 'ERR_SSE_INVALID_ID',
    bytes: 'event: e\ndata: x\n\n',
    instance: true,
  });
});

test('ESM: default and named imports', () => {
  const out = node(['--input-type=module', '-e', `
    import SSEStream, { SSEStream as Named, Channel, createParser } from 'ssepipe';
    console.log(JSON.stringify([SSEStream === Named, typeof Channel, typeof createParser]));
  `]);
  assert.deepEqual(JSON.parse(out), [true, 'function', 'function']);
});

test('ssepipe/redis: import and require give the same RedisBroker, and its channels are the main entry\'s', () => {
  for (const f of ['dist/redis.js', 'dist/redis.mjs', 'dist/redis.d.ts', 'dist/redis.d.mts']) assert.ok(files.includes(f), `${f} is missing from the tarball`);
  const out = node(['--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    import { RedisBroker } from 'ssepipe/redis';
    import { Channel } from 'ssepipe';
    const require = createRequire(import.meta.url);
    const cjs = require('ssepipe/redis');
    // A client of the node-redis shape that never connects: enough to build a broker and a channel.
    const client = { duplicate() { return client; }, on() {}, connect: async () => {}, sendCommand: async () => { throw new Error('offline'); } };
    const broker = new cjs.RedisBroker(client, { prefix: 'app:', timeout: 50 });
    const room = new Channel({ name: 'room:42', broker });
    let code;
    try { room.write({ id: 'x', data: 1 }); } catch (e) { code = e.code; }
    const rejected = await room.publish({ data: 1 }).then(() => 'resolved', (e) => e.code);
    await broker.close();
    console.log(JSON.stringify({
      same: RedisBroker === cjs.RedisBroker,
      names: Object.keys(cjs).filter((k) => !/^SCRIPT/.test(k)),
      code,
      rejected,
      broker: room.broker === broker,
    }));
  `]);
  assert.deepEqual(JSON.parse(out), { same: true, names: ['RedisBroker'], code: 'ERR_SSE_BROKER_ID', rejected: 'ERR_SSE_PUBLISH_FAILED', broker: true });
});

test('types: a TypeScript consumer type-checks against the shipped .d.ts', () => {
  writeFileSync(path.join(scratch, 'consumer.mts'), `
    import SSEStream, { Channel, type SSEMessage, type SSEStreamOptions } from 'ssepipe';
    const options: SSEStreamOptions = { heartbeat: 0, cors: { origin: ['https://a.example'], credentials: true } };
    const stream = new SSEStream(undefined, options);
    const message: SSEMessage = { id: 1, event: 'tick', data: { n: 1 } };
    const ok: boolean = stream.write(message);
    stream.on('disconnect', (reason) => reason.code);
    new Channel().add(stream);
    void ok;
  `);
  writeFileSync(path.join(scratch, 'redis-consumer.mts'), `
    import { Channel, type Broker } from 'ssepipe';
    import { RedisBroker, type RedisBrokerOptions } from 'ssepipe/redis';
    declare const client: unknown;
    const options: RedisBrokerOptions = { prefix: 'sse:', maxLen: 10_000, tail: 100 };
    const broker: Broker = new RedisBroker(client, options);
    const room = new Channel({ name: 'room:42', broker });
    const id: Promise<string | undefined> = room.publish({ event: 'chat', data: 'hi' });
    room.write({ data: 1 }, (err) => void err);
    void id;
  `);
  writeFileSync(path.join(scratch, 'redis-consumer.cts'), `
    import redis = require('ssepipe/redis');
    const broker: redis.RedisBroker = new redis.RedisBroker({} as unknown, { maxAge: 60_000 });
    void broker.close();
  `);
  writeFileSync(path.join(scratch, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')] },
    files: ['consumer.mts', 'redis-consumer.mts', 'redis-consumer.cts'],
  }));
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', scratch], { encoding: 'utf8' });
});

test('ssepipe/web: import and require give the same names and the same classes as ssepipe; one Channel holds both streams', () => {
  const out = node(['--input-type=module', '-e', `
    import { createRequire } from 'node:module';
    import { PassThrough } from 'node:stream';
    import * as web from 'ssepipe/web';
    import { SSEStream, Channel, SSEError, prepare } from 'ssepipe';
    const require = createRequire(import.meta.url);
    const cjs = require('ssepipe/web');
    const names = (o) => Object.keys(o).filter((k) => k !== 'default').sort();
    const room = new Channel({ history: 10 });
    const node = new SSEStream(undefined, { heartbeat: 0 });
    let nodeText = '';
    const sink = new PassThrough();
    sink.on('data', (c) => (nodeText += c));
    node.pipe(sink);
    const res = web.sseResponse(new Request('http://h/'), (stream) => room.add(stream), { heartbeat: 0 });
    room.add(node);
    room.write(prepare({ event: 'tick', data: 1 }));
    room.end();
    const webText = await new Response(res.body).text();
    console.log(JSON.stringify({
      sameNames: JSON.stringify(names(web)) === JSON.stringify(names(cjs)),
      names: names(web),
      sameClasses: web.Channel === Channel && cjs.Channel === Channel && web.SSEError === SSEError && web.prepare === prepare,
      webText,
      nodeText,
      contentType: res.headers.get('content-type'),
    }));
  `]);
  const r = JSON.parse(out) as { webText: string; nodeText: string };
  assert.match(r.webText, /^:ok\n\nevent: tick\nid: \d+\ndata: 1\n\n$/);
  assert.deepEqual(r, {
    sameNames: true,
    names: ['Channel', 'ErrorCode', 'MemoryHistory', 'SSEError', 'SSERangeError', 'SSETypeError', 'WebSSEStream', 'isSSEError', 'prepare', 'serialize', 'sseResponse'],
    sameClasses: true,
    webText: r.webText,
    nodeText: r.webText,
    contentType: 'text/event-stream; charset=utf-8',
  });
});

test('types: typed events through the shipped .d.ts, from ESM (ssepipe and ssepipe/web) and CommonJS (import = require, and checked JS)', () => {
  writeFileSync(path.join(scratch, 'typed.mts'), `
    import SSEStream, { Channel, prepare } from 'ssepipe';
    import { sseResponse, type WebSSEStream } from 'ssepipe/web';
    type Events = { tick: number; chat: { user: string; text: string } };
    const stream = new SSEStream<Events>();
    stream.write({ event: 'chat', data: { user: 'ada', text: 'hi' } });
    // @ts-expect-error -- wrong data for tick
    stream.write({ event: 'tick', data: 'one' });
    const room = new Channel<Events>();
    room.add(stream);
    room.write(prepare<Events>({ event: 'tick', data: 1 }));
    export function GET(request: Request): Response {
      return sseResponse<Events>(request, (web: WebSSEStream<Events>) => {
        // @ts-expect-error -- unknown event
        web.write({ event: 'typo', data: 1 });
        room.add(web);
      }, { maxDuration: 25_000 });
    }
  `);
  writeFileSync(path.join(scratch, 'typed.cts'), `
    import SSEStream = require('ssepipe');
    import type { IncomingMessage } from 'node:http';
    declare const req: IncomingMessage;
    type Events = { tick: number };
    const stream = new SSEStream<Events>(req);
    stream.write({ event: 'tick', data: 1 });
    // @ts-expect-error -- wrong data for tick
    stream.write({ event: 'tick', data: '1' });
    const room: SSEStream.Channel<Events> = new SSEStream.Channel<Events>();
    room.add(stream);
    const event: SSEStream.PreparedEvent<Events> = SSEStream.prepare<Events>({ event: 'tick', data: 2 });
    stream.write(event);
    const web: typeof import('ssepipe/web') = require('ssepipe/web');
    void web.sseResponse;
  `);
  writeFileSync(path.join(scratch, 'checked.cjs'), `
    // @ts-check
    const SSEStream = require('ssepipe');
    const stream = new SSEStream();
    stream.write({ event: 'anything', data: 1 });
    /** @type {SSEStream.Channel<{ tick: number }>} */
    const room = new SSEStream.Channel();
    room.add(stream);
    // @ts-expect-error -- wrong data for tick
    room.write({ event: 'tick', data: 'one' });
  `);
  writeFileSync(path.join(scratch, 'tsconfig.typed.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, allowJs: true, checkJs: true, types: ['node'], typeRoots: [path.join(root, 'node_modules/@types')] },
    files: ['typed.mts', 'typed.cts', 'checked.cjs'],
  }));
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(scratch, 'tsconfig.typed.json')], { encoding: 'utf8' });
});

test('types: ssepipe/web type-checks without @types/node (a Workers or Deno project), library files included', () => {
  writeFileSync(path.join(scratch, 'worker.mts'), `
    import { sseResponse, Channel, type WebSSEStream } from 'ssepipe/web';
    type Events = { tick: number };
    const room = new Channel<Events>({ history: 10 });
    export default {
      fetch(request: Request): Response {
        return sseResponse<Events>(request, (stream: WebSSEStream<Events>) => {
          stream.write({ event: 'tick', data: 1 });
          room.add(stream);
        }, { heartbeat: 5000, maxDuration: 25_000 });
      },
    };
  `);
  writeFileSync(path.join(scratch, 'tsconfig.web.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, lib: ['es2022', 'dom'], types: [], skipLibCheck: false },
    files: ['worker.mts'],
  }));
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(scratch, 'tsconfig.web.json')], { encoding: 'utf8' });
});
