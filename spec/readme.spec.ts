/**
 * Every code block of the README is run or checked by a test, as printed
 * (./support/readme.ts reads them):
 * - a block that names a file (`// examples/chat.mjs`) is that file, byte for
 *   byte (or, marked `(excerpt)`, a part of it), and a spec runs that file;
 * - `<!-- fragment: node -->` blocks are type-checked against the package built
 *   into a scratch project (./support/build.ts) and @types/node, and
 *   `<!-- fragment: browser -->` blocks against the DOM, with TypeScript 7;
 *   a fragment with no import or export is the body of a function, in which
 *   `req`, `res` (a request handler's arguments), `stream` (an SSEStream) and
 *   `es` (an EventSource) are given, and the library's names are imported;
 * - `<!-- run -->` blocks run with Node in that project, and the ```text block
 *   after one is exactly what it prints;
 * - ```shell blocks are commands: their npm scripts and paths exist.
 * The tutorial's client block also runs in Chromium and Firefox against
 * `npm start` (./support/browser-scenarios.ts).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { scratchProject, ROOT, type Scratch } from './support/build.ts';
import { ARTICLE_URL, articleClient, readmeBlocks, README_PATH, type ReadmeBlock } from './support/readme.ts';

const README = readFileSync(README_PATH, 'utf8');
const blocks = readmeBlocks(README);
const where = (b: ReadmeBlock): string => `README.md:${b.line}`;

let scratch: Scratch;
before(() => {
  scratch = scratchProject(['redis', '@types/node']);
});
after(() => scratch?.remove());

function run(file: string, args: string[], cwd: string): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

test('the README starts with the two commands a newcomer types: the demo and every test', () => {
  const [first] = blocks;
  assert.equal(first.lang, 'shell');
  assert.equal(README.indexOf('```'), README.indexOf('\n') + 2, 'the first thing after the title is that block');
  assert.match(first.body, /^npm install && npm start +# .*\nnpm test +# /);
});

test('every block is a named file, a fragment, a run block and its output, or shell commands', () => {
  assert.ok(blocks.length >= 40, `${blocks.length} blocks`);
  const unchecked = blocks.filter((b, i) => {
    if (b.file !== undefined) return b.marker !== undefined;
    if (b.marker !== undefined) return !['js', 'ts'].includes(b.lang);
    if (b.lang === 'shell') return false;
    if (b.lang === 'text') return blocks[i - 1]?.marker !== 'run';
    return true;
  });
  assert.deepEqual(unchecked.map(where), []);
});

test('a block that names a file is that file (or, marked as an excerpt, a part of it), and a spec runs the file', () => {
  const named = blocks.filter((b) => b.file !== undefined);
  assert.ok(named.length >= 15, `${named.length} named blocks`);
  const specs = readdirSync(path.join(ROOT, 'spec'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && f !== 'readme.spec.ts')
    .map((f) => readFileSync(path.join(ROOT, 'spec', f), 'utf8'))
    .join('\n');
  for (const b of named) {
    const file = path.join(ROOT, b.file!);
    assert.ok(existsSync(file), `${where(b)}: ${b.file} exists`);
    const text = readFileSync(file, 'utf8');
    if (b.excerpt) assert.ok(text.includes(b.content), `${where(b)}: the excerpt is a part of ${b.file}`);
    else assert.equal(b.content, text, `${where(b)} shows ${b.file} as it is`);
    assert.ok(specs.includes(path.basename(b.file!)), `${where(b)}: no spec names ${path.basename(b.file!)}`);
  }
});

test('every web example the tests run is shown or linked', () => {
  const shown = new Set(blocks.filter((b) => b.file !== undefined && !b.excerpt).map((b) => b.file));
  const examples = readdirSync(path.join(ROOT, 'examples', 'web')).map((f) => `examples/web/${f}`);
  assert.deepEqual(examples.filter((f) => !shown.has(f) && !README.includes(`](${f})`)), []);
});

test('shell blocks: every npm script they name exists, and so does every path', () => {
  const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const shell = blocks.filter((b) => b.lang === 'shell');
  assert.ok(shell.length >= 4);
  for (const b of shell) {
    for (const line of b.body.split('\n').map((l) => l.replace(/ +#.*$/, '').trim()).filter(Boolean)) {
      for (const m of line.matchAll(/\bnpm (?:run (\S+)|(start|test))\b/g)) assert.ok(scripts[m[1] ?? m[2]] !== undefined, `${where(b)}: npm script ${m[1] ?? m[2]}`);
      for (const m of line.matchAll(/\b((?:examples|spec|bench|lib)\/[\w./-]+)/g)) assert.ok(existsSync(path.join(ROOT, m[1])), `${where(b)}: ${m[1]}`);
      assert.match(line, /^(?:[A-Z_]+=\S+ )*(?:npm|curl|node) /, `${where(b)}: a command`);
    }
  }
});

test('the words are about the package: nothing about how it was made', () => {
  assert.deepEqual(README.match(/\b(?:seed|issues?|session of|the article the project)\b/gi) ?? [], []);
  assert.equal(README.split('<!-- bench:start -->').length, 2);
  assert.ok(README.indexOf('<!-- bench:start -->') < README.indexOf('<!-- bench:end -->'));
});

test("the tutorial's client is in the README unchanged (and runs in the browsers against npm start)", () => {
  assert.equal(articleClient(), `const es = ${ARTICLE_URL};\nes.onmessage = (event) => {\n  console.log(event);\n};\n`);
});

/** The library's value names, imported into fragments that import nothing. */
const NAMES = 'SSEStream, { Channel, MemoryHistory, endAll, openStreamCount, serialize, prepare, createParser, parse, SSEParser, corsHeaders, preflight, noContent, lastEventIdOf, ErrorCode, SSEError, isSSEError }';

/** A fragment as a module: as printed when it imports or exports, else the body of a function. */
function fragmentModule(b: ReadmeBlock): string {
  if (/^(?:import|export) /m.test(b.body)) return b.body;
  const imports = b.marker === 'node' ? `import ${NAMES} from 'ssepipe';\n` : '';
  return `${imports}export async function fragment() {\n${b.body}}\n`;
}

test('fragments type-check: node ones against the built package and @types/node, browser ones against the DOM', async () => {
  const fragments = blocks.filter((b) => b.marker === 'node' || b.marker === 'browser');
  assert.ok(fragments.filter((b) => b.marker === 'node').length >= 10 && fragments.filter((b) => b.marker === 'browser').length >= 6);
  const base = path.join(scratch.dir, 'readme');
  const files: Record<'node' | 'browser', string[]> = { node: [], browser: [] };
  for (const kind of ['node', 'browser'] as const) {
    mkdirSync(path.join(base, kind), { recursive: true });
    writeFileSync(path.join(base, kind, 'context.d.ts'), kind === 'node'
      ? "import type { IncomingMessage, ServerResponse } from 'node:http';\nimport type { SSEStream } from 'ssepipe';\ndeclare global {\n  var req: IncomingMessage;\n  var res: ServerResponse;\n  var stream: SSEStream;\n}\n"
      : 'declare var es: EventSource;\n');
  }
  for (const b of fragments) {
    const kind = b.marker as 'node' | 'browser';
    const name = `line-${b.line}.${b.lang === 'ts' ? 'mts' : 'mjs'}`;
    writeFileSync(path.join(base, kind, name), fragmentModule(b));
    files[kind].push(name);
  }
  const common = { strict: true, noEmit: true, allowJs: true, checkJs: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true };
  writeFileSync(path.join(base, 'node', 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...common, types: ['node'] }, files: ['context.d.ts', ...files.node] }));
  writeFileSync(path.join(base, 'browser', 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...common, lib: ['es2022', 'dom'], types: [] }, files: ['context.d.ts', ...files.browser] }));
  writeFileSync(path.join(base, 'tsconfig.json'), JSON.stringify({ files: [], references: [{ path: 'node' }, { path: 'browser' }] }));
  const { status, stdout, stderr } = await run(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', '.', '--pretty', 'false'], base);
  // Errors name the fragment's README line: node/line-123.mjs(2,5): error TS...
  assert.equal(stdout + stderr, '');
  assert.equal(status, 0);
});

test('run blocks print exactly the text block that follows them', async () => {
  const runs = blocks.flatMap((b, i) => (b.marker === 'run' ? [[b, blocks[i + 1]] as const] : []));
  assert.ok(runs.length >= 4, `${runs.length} run blocks`);
  for (const [b, output] of runs) {
    assert.equal(output?.lang, 'text', `${where(b)}: a run block is followed by its output`);
    const file = path.join(scratch.dir, `readme-line-${b.line}.mjs`);
    writeFileSync(file, b.body);
    const r = await run(process.execPath, [file], scratch.dir);
    assert.deepEqual({ status: r.status, stderr: r.stderr, stdout: r.stdout }, { status: 0, stderr: '', stdout: output.body }, where(b));
  }
});
