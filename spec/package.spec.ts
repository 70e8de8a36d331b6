/**
 * The package as users install it: `npm pack`, unpacked into a scratch project,
 * then imported from ESM, required from CommonJS, and type-checked by
 * TypeScript 5.9 and 7 under every module setting (the consumer files are
 * spec/fixtures/consumer/).
 */
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

test('types: no #private name in any shipped .d.ts (TypeScript before ES2015 targets refuses them)', () => {
  const declarations = files.filter((f) => /\.d\.[cm]?ts$/.test(f));
  assert.ok(declarations.length >= 20, `${declarations.length} declaration files`);
  const offending = declarations.filter((f) => /^\s*(?:(?:static|readonly|declare|private|protected|public)\s+)*#[\p{L}_$]/mu.test(readFileSync(path.join(scratch, 'node_modules/ssepipe', f), 'utf8')));
  assert.deepEqual(offending, []);
});

// ------------------------------------------------------------ the type matrix

const CONSUMER = path.join(__dirname, 'fixtures', 'consumer');
/** ESM (.mts, and the same text as .ts in a "type": "module" project), CommonJS (.cts, checked .cjs), every name. */
const ALL = ['esm.mts', 'esm.ts', 'web.mts', 'redis.mts', 'require.cts', 'named.cts', 'checked.cjs', 'names.mts', 'names.cts'];
/** `import x = require()` needs a module setting that emits CommonJS: not `module: esnext`. */
const ESM_ONLY = ALL.filter((f) => f !== 'require.cts');

interface TypeConfig {
  /** Its directory: errors are reported as `<name>/<file>(line,col)`. */
  name: string;
  options: Record<string, unknown>;
  files: string[];
}

const MODERN: TypeConfig[] = [
  { name: 'node16', options: { module: 'node16', moduleResolution: 'node16' }, files: ALL },
  { name: 'nodenext', options: { module: 'nodenext', moduleResolution: 'nodenext' }, files: ALL },
  { name: 'bundler', options: { module: 'esnext', moduleResolution: 'bundler' }, files: ESM_ONLY },
  { name: 'preserve', options: { module: 'preserve', moduleResolution: 'bundler' }, files: ALL },
  // A Workers or Deno project: ssepipe/web without @types/node, only the DOM's Request and Response.
  { name: 'web-without-node', options: { module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022', 'dom'], types: [] }, files: ['web.mts'] },
];
const COMPILERS: Array<{ title: string; dir: string; configs: TypeConfig[] }> = [
  { title: 'TypeScript 7', dir: 'typescript', configs: MODERN },
  {
    title: 'TypeScript 5.9',
    dir: 'typescript5',
    configs: [
      ...MODERN,
      // Removed from TypeScript 7. Its default target (ES5) and module (commonjs), no
      // esModuleInterop; it ignores `exports`: the subpaths resolve through typesVersions.
      { name: 'node10', options: { moduleResolution: 'node10' }, files: ['named.ts', 'named.cts', 'require.cts', 'checked.cjs', 'names.cts'] },
    ],
  },
];

/**
 * Every value and type name of the main entry, read from the shipped
 * index.d.ts, imported by name: from CommonJS, the hand-written index.d.cts
 * must list each one (values as statics, types in its namespace).
 */
function namesFile(): string {
  const dts = readFileSync(path.join(scratch, 'node_modules/ssepipe/dist/index.d.ts'), 'utf8');
  const values: string[] = [];
  const types: string[] = [];
  for (const m of dts.matchAll(/^export (type )?\{([^}]*)\} from/gm)) {
    const names = m[2].split(',').map((n) => n.trim()).filter((n) => n !== '');
    (m[1] === undefined ? values : types).push(...names);
  }
  assert.ok(values.length >= 15 && types.length >= 25, `${values.length} values, ${types.length} types in index.d.ts`);
  return `import { ${values.join(', ')} } from 'ssepipe';\nimport type { ${types.join(', ')} } from 'ssepipe';\nexport type Values = [${values.map((v) => `typeof ${v}`).join(', ')}];\n`;
}

/** `tsc -b` in `cwd`: errors come as `<setting>/<file>(line,col): error TS...`. */
function tscBuild(compiler: string, cwd: string): Promise<{ status: number; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(root, 'node_modules', compiler, 'bin', 'tsc'), '-b', '.', '--pretty', 'false'], { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, output: stdout + stderr });
    });
  });
}

test('types: every import form type-checks against the packed .d.ts, on TypeScript 5.9 and 7, under every module setting', { concurrency: 2 }, async (t) => {
  assert.equal(JSON.parse(readFileSync(path.join(root, 'node_modules/typescript5/package.json'), 'utf8')).version.slice(0, 4), '5.9.');
  assert.equal(JSON.parse(readFileSync(path.join(root, 'node_modules/typescript/package.json'), 'utf8')).version.split('.')[0], '7');
  assert.deepEqual(readdirSync(CONSUMER).filter((f) => !ALL.includes(f)), []);
  symlinkSync(path.join(root, 'node_modules', '@types'), path.join(scratch, 'node_modules', '@types'), 'dir');
  const names = namesFile();

  await Promise.all(COMPILERS.map(({ title, dir, configs }) =>
    t.test(`${title}: ${configs.map((c) => c.name).join(', ')}`, async () => {
      // One directory per setting, all checked by one `tsc -b`, which parses the
      // shared files (@types/node, the package) once for every setting.
      const base = path.join(scratch, dir);
      for (const config of configs) {
        const at = path.join(base, config.name);
        cpSync(CONSUMER, at, { recursive: true });
        // The same source under a second extension: ESM as .ts of a "type": "module"
        // project, and CommonJS import syntax as the .ts of a node10 project.
        cpSync(path.join(at, 'esm.mts'), path.join(at, 'esm.ts'));
        cpSync(path.join(at, 'named.cts'), path.join(at, 'named.ts'));
        writeFileSync(path.join(at, 'names.mts'), names);
        writeFileSync(path.join(at, 'names.cts'), names);
        writeFileSync(path.join(at, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
        writeFileSync(path.join(at, 'tsconfig.json'), JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            allowJs: true,
            checkJs: true,
            // The shipped .d.ts (and @types/node) are checked; TypeScript's own lib files are not.
            skipLibCheck: false,
            skipDefaultLibCheck: true,
            types: ['node'],
            ...config.options,
          },
          files: config.files,
        }));
      }
      writeFileSync(path.join(base, 'tsconfig.json'), JSON.stringify({ files: [], references: configs.map((c) => ({ path: c.name })) }));
      const { status, output } = await tscBuild(dir, base);
      assert.equal(status, 0, `tsc exited with ${status}:\n${output}`);
      assert.equal(output, '');
    }),
  ));
});
