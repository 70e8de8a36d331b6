/**
 * SSEParser, the reader as a Node Transform: what it maps onto the stream
 * (events, 'retry', 'comment', errors), option checks, and its declarations.
 * How events are read is the reader's, tested in parser.spec.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { SSEParser } from '../lib/parser-stream.ts';
import type { ServerSentEvent } from '../lib/parser.ts';
import { ErrorCode, SSEError, SSERangeError, SSETypeError } from '../lib/errors.ts';
import { serialize } from '../lib/format.ts';

interface Result {
  events: ServerSentEvent[];
  comments: string[];
  retries: number[];
  lastEventId: string;
}

const ev = (data: string, type = 'message', lastEventId = ''): ServerSentEvent => ({ type, data, lastEventId });
const utf8 = (text: string) => new TextEncoder().encode(text);

function splitAt(input: Uint8Array, points: number[]): Uint8Array[] {
  return [0, ...points].map((start, i) => input.subarray(start, [...points, input.length][i]));
}

describe('SSEParser (Transform)', () => {
  async function collect(parser: SSEParser) {
    const got: Result = { events: [], comments: [], retries: [], lastEventId: '' };
    parser.on('data', (e: ServerSentEvent) => got.events.push(e));
    parser.on('comment', (text: string) => got.comments.push(text));
    parser.on('retry', (ms: number) => got.retries.push(ms));
    await once(parser, 'end');
    got.lastEventId = parser.lastEventId;
    return got;
  }

  test('bytes in, ServerSentEvent objects out, with retry and comment events', async () => {
    const wire = utf8(':ok\n\nretry: 3000\nid: 1\nevent: greet\ndata: héllo\r\ndata: 😀\r\n\r\ndata: two\n\ndata: cut');
    const chunks = splitAt(wire, [1, 5, 17, 30, 31, 45, 46, 47]).map((c) => Buffer.from(c));
    const parser = new SSEParser();
    const done = collect(parser);
    Readable.from(chunks).pipe(parser);
    assert.deepEqual(await done, {
      events: [ev('héllo\n😀', 'greet', '1'), ev('two', 'message', '1')],
      comments: ['ok'],
      retries: [3000],
      lastEventId: '1',
    });
  });

  test('strings, in any encoding the writer names', async () => {
    const parser = new SSEParser();
    const done = collect(parser);
    parser.write('data: a\n');
    parser.write(Buffer.from('data: b\n\n').toString('hex'), 'hex');
    parser.end(Buffer.from('data: ü\n\n').toString('base64'), 'base64');
    assert.deepEqual((await done).events, [ev('a\nb'), ev('ü')]);
  });

  test('without onError, a limit error errors the stream, after the events of the same chunk', async () => {
    for (const [options, code] of [[{ maxLineLength: 8 }, ErrorCode.LINE_TOO_LONG], [{ maxEventSize: 8 }, ErrorCode.EVENT_TOO_LARGE]] as const) {
      const parser = new SSEParser(options);
      const seen: ServerSentEvent[] = [];
      parser.on('data', (e: ServerSentEvent) => seen.push(e));
      const failed = once(parser, 'error');
      parser.write('data: a\n\ndata: 123456789\n\ndata: b\n\n');
      const [err] = (await failed) as [SSEError];
      assert.ok(err instanceof SSEError);
      assert.equal(err.code, code);
      assert.deepEqual(seen, [ev('a'), ev('b')]);
    }
  });

  test('with onError, a skipped event is reported there and the stream goes on', async () => {
    const errors: string[] = [];
    const parser = new SSEParser({ maxEventSize: 8, maxLineLength: 16, onError: (err) => errors.push(err.code) });
    const done = collect(parser);
    parser.on('error', (err) => errors.push(`'error' event: ${err.message}`));
    parser.write('id: 1\ndata: a\n\nid: 2\ndata: 123456789\n\ndata: b\n');
    parser.write('\ndata: 0123456789ABC\n\n');
    parser.end(utf8('data: c\n\n'));
    assert.deepEqual(await done, {
      events: [ev('a', 'message', '1'), ev('b', 'message', '1'), ev('c', 'message', '1')],
      comments: [],
      retries: [],
      lastEventId: '1',
    });
    assert.deepEqual(errors, [ErrorCode.EVENT_TOO_LARGE, ErrorCode.LINE_TOO_LONG]);
  });

  test('reads a real HTTP response: res.pipe(new SSEParser())', async () => {
    const messages = [{ comment: 'hi' }, { id: 1, data: { n: 1 } }, { event: 'tick', data: 'line 1\nline 2' }, { id: '', data: '' }];
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const m of messages) {
        const bytes = Buffer.from(serialize(m));
        // Cut inside the event so that the client gets lines across chunks.
        res.write(bytes.subarray(0, 3));
        res.write(bytes.subarray(3));
      }
      res.end();
    });
    server.listen(0);
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const req = get(`http://127.0.0.1:${port}/`);
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      const got = await collect(res.pipe(new SSEParser()));
      assert.deepEqual(got, {
        events: [ev('{"n":1}', 'message', '1'), ev('line 1\nline 2', 'tick', '1'), ev('', 'message', '')],
        comments: ['hi'],
        retries: [],
        lastEventId: '',
      });
    } finally {
      server.close();
    }
  });
});

describe('SSEParser options', () => {
  const invalid = (ctor: typeof SSETypeError | typeof SSERangeError, pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof ctor, `expected ${ctor.name}, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.INVALID_OPTION);
    assert.match(err.message, pattern);
    return true;
  };
  test('validated like createParser, named SSEParser in the message', () => {
    assert.throws(() => new SSEParser({ maxLineLength: -5 }), invalid(SSERangeError, /SSEParser: maxLineLength/));
    assert.throws(() => new SSEParser(null as never), invalid(SSETypeError, /SSEParser: options must be an object/));
    assert.doesNotThrow(() => new SSEParser());
    assert.doesNotThrow(() => new SSEParser({}));
  });
  test('unknown option names are rejected with the nearest allowed name', () => {
    assert.throws(() => new SSEParser({ maxLineLenght: 8 } as never), invalid(SSETypeError, /^SSEParser: unknown option "maxLineLenght" \(did you mean "maxLineLength"\?\); allowed: /));
    assert.throws(() => new SSEParser({ objectMode: true } as never), invalid(SSETypeError, /^SSEParser: unknown option "objectMode"; allowed: /));
    assert.throws(() => new SSEParser({ maxEventsize: 8 } as never), invalid(SSETypeError, /^SSEParser: unknown option "maxEventsize" \(did you mean "maxEventSize"\?\); allowed: onError, maxLineLength, maxEventSize$/));
    assert.throws(() => new SSEParser({ onError: 'log' } as never), invalid(SSETypeError, /^SSEParser: onError must be a function/));
  });
});

test('declarations: no `#private` in what tsc emits for lib/ (TS18028 under an ES5 target, e.g. TypeScript 5.9 defaults)', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'ssepipe-dts-'));
  try {
    const root = path.resolve(__dirname, '..');
    execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'lib'), '--emitDeclarationOnly', '--outDir', out], { encoding: 'utf8' });
    const files = readdirSync(out).filter((name) => name.endsWith('.d.ts'));
    assert.ok(files.includes('parser-stream.d.ts') && files.includes('parser.d.ts'), `emitted ${files.join(', ')}`);
    const offending = files.filter((name) => readFileSync(path.join(out, name), 'utf8').includes('#private'));
    assert.deepEqual(offending, []);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
