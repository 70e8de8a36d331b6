/**
 * The reader against the WHATWG "event stream interpretation" rules, event-exact.
 * Every wire fixture in spec/fixtures/parser-*.txt (expected results in the
 * sibling .json) is fed whole, byte by byte, split at every single point and at
 * seeded-random points, as bytes and as text, with and without a leading BOM:
 * the result must not depend on how the network cut the stream.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createParser, parse, type ParserOptions, type ServerSentEvent } from '../lib/parser.js';
import { ErrorCode, SSEError, SSERangeError, SSETypeError } from '../lib/errors.js';
import { mulberry32 } from './support/random.js';
import { serialize } from '../lib/format.js';

interface Result {
  events: ServerSentEvent[];
  comments: string[];
  retries: number[];
  lastEventId: string;
  /** The `code` of every error given to onError. */
  errors: string[];
}

/** Feed `chunks` in order, then end(); everything the callbacks saw. */
function run(chunks: readonly (string | Uint8Array)[], options: Partial<ParserOptions> = {}): Result {
  const result: Result = { events: [], comments: [], retries: [], lastEventId: '', errors: [] };
  const parser = createParser({
    onEvent: (event) => result.events.push(event),
    onComment: (text) => result.comments.push(text),
    onRetry: (ms) => result.retries.push(ms),
    onError: (err) => result.errors.push(err.code),
    ...options,
  });
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  result.lastEventId = parser.lastEventId;
  return result;
}

const events = (...chunks: (string | Uint8Array)[]) => run(chunks).events;
const ev = (data: string, type = 'message', lastEventId = ''): ServerSentEvent => ({ type, data, lastEventId });
const utf8 = (text: string) => new TextEncoder().encode(text);
const BOM_BYTES = Uint8Array.of(0xef, 0xbb, 0xbf);

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function splitAt<T extends string | Uint8Array>(input: T, points: number[]): T[] {
  const out: T[] = [];
  let start = 0;
  for (const p of [...points, input.length]) {
    out.push(input.slice(start, p) as T);
    start = p;
  }
  return out;
}

function randomPoints(length: number, rng: () => number): number[] {
  const count = 1 + Math.floor(rng() * Math.min(length, 12));
  const points = new Set<number>();
  for (let i = 0; i < count; i++) points.add(Math.floor(rng() * (length + 1)));
  return [...points].sort((a, b) => a - b);
}

/**
 * `text` cut every way the fixtures are: whole (bytes and text), byte by byte,
 * char by char, once at every byte, and at seeded random points.
 */
function* cuts(text: string): Generator<[string, (string | Uint8Array)[]]> {
  const bytes = utf8(text);
  yield ['whole text', [text]];
  yield ['whole bytes', [bytes]];
  yield ['byte by byte', Array.from(bytes, (b) => Uint8Array.of(b))];
  yield ['char by char', text.split('')];
  for (let i = 0; i <= bytes.length; i++) yield [`split at byte ${i}`, splitAt(bytes, [i])];
  for (let seed = 1; seed <= 30; seed++) {
    const rng = mulberry32(seed);
    yield [`random byte splits, seed ${seed}`, splitAt(bytes, randomPoints(bytes.length, rng))];
    yield [`random text splits, seed ${seed}`, splitAt(text, randomPoints(text.length, rng))];
  }
}

/** The same result, errors included, however `text` is cut. */
function sameHoweverCut(text: string, options: Partial<ParserOptions>, expected: Partial<Result>): void {
  const full: Result = { events: [], comments: [], retries: [], lastEventId: '', errors: [], ...expected };
  for (const [how, chunks] of cuts(text)) assert.deepEqual(run(chunks, options), full, how);
}

const FIXTURES = join(__dirname, 'fixtures');
const fixtureNames = readdirSync(FIXTURES)
  .filter((name) => name.startsWith('parser-') && name.endsWith('.txt'))
  .map((name) => name.slice(0, -4))
  .sort();

describe('fixtures: identical results however the stream is cut', () => {
  test('the fixtures are there', () => assert.ok(fixtureNames.length >= 14, `found ${fixtureNames.join(', ')}`));

  for (const name of fixtureNames) {
    const raw = readFileSync(join(FIXTURES, `${name}.txt`));
    const spec = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Partial<Result> & {
      events: ServerSentEvent[];
      options?: Pick<ParserOptions, 'maxLineLength' | 'maxEventSize'>;
    };
    const expected: Result = {
      events: spec.events,
      comments: spec.comments ?? [],
      retries: spec.retries ?? [],
      lastEventId: spec.lastEventId ?? '',
      errors: spec.errors ?? [],
    };
    const options = spec.options ?? {};
    const feed = (chunks: readonly (string | Uint8Array)[]) => run(chunks, options);

    describe(name, () => {
      for (const bom of [false, true]) {
        const bytes = bom ? concat(BOM_BYTES, raw) : new Uint8Array(raw);
        const text = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true }).decode(bytes);
        const label = bom ? ' (leading BOM)' : '';

        test(`whole, as bytes and as text${label}`, () => {
          assert.deepEqual(feed([bytes]), expected);
          assert.deepEqual(feed([text]), expected);
          assert.deepEqual(parse(bytes, { ...options, onError() {} }).events, expected.events);
        });

        test(`byte by byte, and char by char${label}`, () => {
          assert.deepEqual(feed(Array.from(bytes, (b) => Uint8Array.of(b))), expected);
          assert.deepEqual(feed(text.split('')), expected);
        });

        test(`split once at every byte${label}`, () => {
          for (let i = 0; i <= bytes.length; i++) assert.deepEqual(feed(splitAt(bytes, [i])), expected, `split at ${i}`);
        });

        test(`seeded random splits, bytes and text${label}`, () => {
          for (let seed = 1; seed <= 50; seed++) {
            const rng = mulberry32(seed);
            const points = randomPoints(bytes.length, rng);
            assert.deepEqual(feed(splitAt(bytes, points)), expected, `bytes, seed ${seed}: ${points}`);
            const textPoints = randomPoints(text.length, rng);
            assert.deepEqual(feed(splitAt(text, textPoints)), expected, `text, seed ${seed}: ${textPoints}`);
          }
        });
      }
    });
  }
});

describe('line ends: CRLF, LF and CR', () => {
  test('each ends a line', () => {
    assert.deepEqual(events('data: a\ndata: b\n\n'), [ev('a\nb')]);
    assert.deepEqual(events('data: a\r\ndata: b\r\n\r\n'), [ev('a\nb')]);
    assert.deepEqual(events('data: a\rdata: b\r\r'), [ev('a\nb')]);
  });
  test('LF then CR is two line ends, CR then LF is one', () => {
    assert.deepEqual(events('data: a\n\rdata: b\n\n'), [ev('a'), ev('b')]);
    assert.deepEqual(events('data: a\r\ndata: b\n\n'), [ev('a\nb')]);
  });
  test('a CR at the end of a chunk and an LF at the start of the next are one line end', () => {
    assert.deepEqual(events('data: a\r', '\ndata: b\r', '\n\r', '\n'), [ev('a\nb')]);
    assert.deepEqual(events(utf8('data: a\r'), utf8('\ndata: b\r\n'), utf8('\r'), utf8('\n')), [ev('a\nb')]);
  });
  test('that CR still ends the line at once: the event is dispatched before more bytes arrive', () => {
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e) });
    parser.feed('data: a\r\r');
    assert.deepEqual(seen, [ev('a')]);
    parser.feed('\n');
    parser.feed('data: b\r');
    parser.feed('');
    parser.feed(new Uint8Array(0));
    parser.feed('\n\n');
    assert.deepEqual(seen, [ev('a'), ev('b')]);
  });
  test('a CR followed by a chunk that is not an LF: the next line starts there', () => {
    assert.deepEqual(events('data: a\r', 'data: b\r', '\r'), [ev('a\nb')]);
  });
});

describe('BOM: exactly one, and only at the very start of the stream', () => {
  test('one leading BOM is dropped, in text and in bytes', () => {
    assert.deepEqual(events('\uFEFFdata: a\n\n'), [ev('a')]);
    assert.deepEqual(events(concat(BOM_BYTES, utf8('data: a\n\n'))), [ev('a')]);
  });
  test('a BOM split across byte chunks, or alone in a chunk', () => {
    assert.deepEqual(events(Uint8Array.of(0xef), Uint8Array.of(0xbb), Uint8Array.of(0xbf), utf8('data: a\n\n')), [ev('a')]);
    assert.deepEqual(events('\uFEFF', 'data: a\n\n'), [ev('a')]);
    assert.deepEqual(events('', '\uFEFF', 'data: a\n\n'), [ev('a')]);
  });
  test('a second BOM is part of the first field name (an unknown field)', () => {
    assert.deepEqual(events('\uFEFF\uFEFFdata: a\n\n'), []);
    assert.deepEqual(events('\uFEFF', '\uFEFFdata: a\n\n'), []);
    assert.deepEqual(events(concat(BOM_BYTES, concat(BOM_BYTES, utf8('data: a\n\n')))), []);
  });
  test('a BOM after the start is not dropped', () => {
    assert.deepEqual(events('data: a\n\n\uFEFFdata: b\n\ndata: c\n\n'), [ev('a'), ev('c')]);
    assert.deepEqual(events('data: a\n\n', '\uFEFFdata: b\n\n'), [ev('a')]);
    assert.deepEqual(events('data: \uFEFFx\n\n'), [ev('\uFEFFx')]);
  });
  test('after end() or reset() a new stream may start with a BOM again', () => {
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e) });
    parser.feed('\uFEFFdata: a\n\n');
    parser.end();
    parser.feed('\uFEFFdata: b\n\n');
    parser.reset();
    parser.feed(concat(BOM_BYTES, utf8('data: c\n\n')));
    assert.deepEqual(seen, [ev('a'), ev('b'), ev('c')]);
  });
});

describe('UTF-8 decoding', () => {
  const text = 'data: é€😀中\n\n';
  const bytes = utf8(text);
  test('a multi-byte character split across chunks, at every point', () => {
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        assert.deepEqual(events(...splitAt(bytes, [i, j])), [ev('é€😀中')], `split at ${i}, ${j}`);
      }
    }
  });
  test('invalid bytes become U+FFFD; a truncated character at the end is discarded with its event', () => {
    assert.deepEqual(events(Uint8Array.of(0x64, 0x61, 0x74, 0x61, 0x3a, 0xff, 0x0a, 0x0a)), [ev('\uFFFD')]);
    assert.deepEqual(run([utf8('data: a\n\ndata: '), Uint8Array.of(0xf0, 0x9f)]).events, [ev('a')]);
  });
  test('end() drops a truncated character: it does not spoil the first line of the next stream', () => {
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e) });
    parser.feed(Uint8Array.of(0xf0, 0x9f));
    parser.end();
    parser.feed(utf8('data: a\n\n'));
    assert.deepEqual(seen, [ev('a')]);
  });
  test('bytes and strings may be mixed; bytes left over before a string are flushed as U+FFFD', () => {
    assert.deepEqual(events(utf8('data: a'), 'b', utf8('c\n\n')), [ev('abc')]);
    assert.deepEqual(events(Uint8Array.of(0x64, 0x61, 0x74, 0x61, 0x3a, 0xe2, 0x82), '\n\n'), [ev('\uFFFD')]);
  });
});

describe('fields', () => {
  test('a line without a colon is a field name with an empty value', () => {
    assert.deepEqual(events('data\n\n'), [ev('')]);
    assert.deepEqual(events('data\ndata\n\n'), [ev('\n')]);
    assert.deepEqual(events('event: x\nevent\ndata: a\n\n'), [ev('a')]);
  });
  test('exactly one leading space is removed from the value', () => {
    assert.deepEqual(events('data:a\n\n'), [ev('a')]);
    assert.deepEqual(events('data: a\n\n'), [ev('a')]);
    assert.deepEqual(events('data:  a\n\n'), [ev(' a')]);
    assert.deepEqual(events('data:\ta\n\n'), [ev('\ta')]);
    assert.deepEqual(events('data: a \n\n'), [ev('a ')]);
    assert.deepEqual(events('event:  t\ndata: a\n\n'), [ev('a', ' t')]);
  });
  test('the value runs from the first colon to the end of the line', () => {
    assert.deepEqual(events('data: a: b:c\n\n'), [ev('a: b:c')]);
    assert.deepEqual(events('data::\n\n'), [ev(':')]);
  });
  test('field names are case-sensitive and exact; unknown fields are ignored', () => {
    assert.deepEqual(events('Data: a\nDATA: b\n data: c\ndata : d\ndatum: e\n\n'), []);
    assert.deepEqual(events('foo: bar\ndata: a\nbaz\nqux:\n\n'), [ev('a')]);
  });
  test('data lines are joined with LF; data: alone dispatches the empty string', () => {
    assert.deepEqual(events('data: a\ndata:\ndata: b\n\n'), [ev('a\n\nb')]);
    assert.deepEqual(events('data:\n\n'), [ev('')]);
    assert.deepEqual(events('data: \n\n'), [ev('')]);
    assert.deepEqual(events('data:\ndata:\n\n'), [ev('\n')]);
  });
  test('NUL and other characters in data are kept', () => {
    assert.deepEqual(events('data: a\0b\u2028c\u0085\n\n'), [ev('a\0b\u2028c\u0085')]);
  });
});

describe('multi-line data: a run of data lines, however it is cut', () => {
  test('joined with LF; a field or comment inside the run, or a line without colon, is read in order', () => {
    sameHoweverCut('data: a\ndata: b\ndata: c\n\n', {}, { events: [ev('a\nb\nc')] });
    sameHoweverCut('data: a\ndata: b\nid: 7\ndata: c\n\n', {}, { events: [ev('a\nb\nc', 'message', '7')], lastEventId: '7' });
    sameHoweverCut('data: a\ndata: b\n: note\ndata\ndata:c\n\n', {}, { events: [ev('a\nb\n\nc')], comments: ['note'] });
    sameHoweverCut('event: t\ndata: a\ndata: b\nevent: u\n\n', {}, { events: [ev('a\nb', 'u')] });
    sameHoweverCut('data: a\ndata: b\r\ndata: c\rdata: d\n\n', {}, { events: [ev('a\nb\nc\nd')] });
  });
  test('a line of the run too long, or the run too large: the event is skipped whole, once', () => {
    const wire = 'data: a\ndata: b\ndata: 0123456789X\ndata: c\n\ndata: ok\n\n';
    sameHoweverCut(wire, { maxLineLength: 16 }, { events: [ev('ok')], errors: [LINE] });
    sameHoweverCut('data: abc\ndata: def\ndata: ghi\n\ndata: ok\n\n', { maxEventSize: 9 }, { events: [ev('ok')], errors: [EVENT] });
    sameHoweverCut('data: abc\ndata: def\ndata: gh\n\n', { maxEventSize: 10 }, { events: [ev('abc\ndef\ngh')] });
    sameHoweverCut('event: tt\ndata: abc\ndata: def\n\n', { maxEventSize: 9 }, { events: [ev('abc\ndef', 'tt')] });
    sameHoweverCut('event: ttt\ndata: abc\ndata: def\n\ndata: ok\n\n', { maxEventSize: 9 }, { events: [ev('ok')], errors: [EVENT] });
  });
});

describe('event type', () => {
  test('defaults to message, is set by event, and is reset after each dispatch', () => {
    assert.deepEqual(events('data: a\n\nevent: t\ndata: b\n\ndata: c\n\n'), [ev('a'), ev('b', 't'), ev('c')]);
  });
  test('an empty event value means message; the last event field wins', () => {
    assert.deepEqual(events('event:\ndata: a\n\n'), [ev('a')]);
    assert.deepEqual(events('event: x\nevent: y\ndata: a\n\n'), [ev('a', 'y')]);
  });
  test('a type without data is reset with the empty event, not carried to the next', () => {
    assert.deepEqual(events('event: lost\n\ndata: a\n\n'), [ev('a')]);
  });
});

describe('comments', () => {
  test('text after the colon, one leading space removed', () => {
    assert.deepEqual(run([': a\n:b\n:  c\n:\n: \n: d: e\n']).comments, ['a', 'b', ' c', '', '', 'd: e']);
  });
  test('comments never dispatch, and do not break an event in progress', () => {
    const result = run([': x\n\ndata: a\n: y\ndata: b\n\n']);
    assert.deepEqual(result.events, [ev('a\nb')]);
    assert.deepEqual(result.comments, ['x', 'y']);
  });
  test('without onComment they are skipped', () => {
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e) });
    parser.feed(':ok\n\ndata: a\n\n');
    assert.deepEqual(seen, [ev('a')]);
  });
});

describe('id and lastEventId', () => {
  test('persists across events until the server sends another', () => {
    assert.deepEqual(events('id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n'), [ev('a', 'message', '1'), ev('b', 'message', '1'), ev('c', 'message', '2')]);
  });
  test('an id with U+0000 is ignored as a whole', () => {
    const result = run(['id: 1\n\nid: a\0b\ndata: x\n\nid: \0\n\n']);
    assert.deepEqual(result.events, [ev('x', 'message', '1')]);
    assert.equal(result.lastEventId, '1');
  });
  test('an event with only an id updates lastEventId without dispatching', () => {
    const result = run(['id: 7\n\n']);
    assert.deepEqual(result.events, []);
    assert.equal(result.lastEventId, '7');
    assert.deepEqual(events('id: 7\n\ndata: a\n\n'), [ev('a', 'message', '7')]);
  });
  test('an empty id (with or without colon) resets it to empty', () => {
    assert.deepEqual(events('id: 1\ndata: a\n\nid:\ndata: b\n\n'), [ev('a', 'message', '1'), ev('b')]);
    assert.deepEqual(events('id: 1\ndata: a\n\nid\ndata: b\n\n'), [ev('a', 'message', '1'), ev('b')]);
    assert.equal(run(['id: 1\n\nid: \n\n']).lastEventId, '');
  });
  test('the id is taken at the blank line, where it appears in the event does not matter', () => {
    assert.deepEqual(events('data: a\nid: 5\n\n'), [ev('a', 'message', '5')]);
  });
  test('lastEventId on the parser follows dispatches, not the buffer', () => {
    const parser = createParser({ onEvent: () => {} });
    parser.feed('id: 1\n\nid: 2\n');
    assert.equal(parser.lastEventId, '1');
    parser.feed('\n');
    assert.equal(parser.lastEventId, '2');
  });
  test('an unterminated event does not set lastEventId; end() keeps it, reset() clears it', () => {
    const parser = createParser({ onEvent: () => {} });
    parser.feed('id: 1\n\nid: 2\ndata: x\n');
    parser.end();
    assert.equal(parser.lastEventId, '1');
    // The next stream (a reconnection) starts from the last dispatched id.
    const seen: ServerSentEvent[] = [];
    const next = createParser({ onEvent: (e) => seen.push(e) });
    next.feed('id: 1\n\nid: 2\ndata: x\n');
    next.end();
    next.feed('data: y\n\n');
    assert.deepEqual(seen, [ev('y', 'message', '1')]);
    next.reset();
    assert.equal(next.lastEventId, '');
    next.feed('data: z\n\n');
    assert.deepEqual(seen.at(-1), ev('z'));
  });
});

describe('retry', () => {
  test('ASCII digits only, as a base-ten integer', () => {
    assert.deepEqual(run(['retry: 1000\nretry:0\nretry: 007\n']).retries, [1000, 0, 7]);
  });
  test('anything else is ignored', () => {
    const bad = ['1a', 'a1', '-1', '+1', '1.5', ' 5', '5 ', '', '\u0661', '0x10', '1e3', 'Infinity'];
    assert.deepEqual(run(bad.map((v) => `retry: ${v}\n`)).retries, []);
    assert.deepEqual(run(['retry\nretry:\n']).retries, []);
  });
  test('a value beyond Number.MAX_SAFE_INTEGER is ignored, never Infinity or rounded', () => {
    const max = String(Number.MAX_SAFE_INTEGER);
    const tooBig = ['9007199254740992', '9007199254740993', '99999999999999999999', '9'.repeat(400), '1' + '0'.repeat(308)];
    assert.deepEqual(run([...tooBig, max, '0'.repeat(400) + '42'].map((v) => `retry: ${v}\n`)).retries, [Number.MAX_SAFE_INTEGER, 42]);
    assert.equal(parse(`retry: 5\nretry: ${'9'.repeat(400)}\n`).retry, 5);
  });
  test('retry does not dispatch and does not disturb the event', () => {
    const result = run(['data: a\nretry: 5\n\nretry: 6\n\n']);
    assert.deepEqual(result.events, [ev('a')]);
    assert.deepEqual(result.retries, [5, 6]);
  });
});

describe('dispatch', () => {
  test('empty lines without data dispatch nothing', () => {
    assert.deepEqual(events('\n\n\r\n\r\r'), []);
    assert.deepEqual(events('event: x\nid: 1\nretry: 5\n: c\n\n'), []);
  });
  test('exactly one trailing LF is removed from the data', () => {
    assert.deepEqual(events('data: a\ndata:\n\n'), [ev('a\n')]);
  });
  test('an event not terminated by a blank line when the stream ends is discarded', () => {
    assert.deepEqual(events('data: a\n\ndata: b\n'), [ev('a')]);
    assert.deepEqual(events('data: a\n\ndata: b'), [ev('a')]);
    assert.deepEqual(events('data: a\n\ndata: b\r'), [ev('a')]);
    assert.deepEqual(parse('data: a\n\nevent: x\ndata: b\n').events, [ev('a')]);
  });
  test('end() discards the pending event: the next stream does not continue it', () => {
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e) });
    parser.feed('event: x\ndata: a\ndata: b');
    parser.end();
    parser.feed('\n\ndata: c\n\n');
    assert.deepEqual(seen, [ev('c')]);
  });
  test('events are plain objects with exactly type, data, lastEventId', () => {
    const [event] = events('id: 1\nevent: t\ndata: d\n\n');
    assert.deepEqual(Object.keys(event!), ['type', 'data', 'lastEventId']);
  });
  test('a callback that throws: the error reaches the caller, the parser stays usable', () => {
    let n = 0;
    const seen: string[] = [];
    const parser = createParser({
      onEvent: (e) => {
        if (n++ === 0) throw new Error('boom');
        seen.push(e.data);
      },
    });
    assert.throws(() => parser.feed('data: a\n\n'), /boom/);
    parser.feed('data: b\n\n');
    assert.deepEqual(seen, ['b']);
  });
});

describe('parse()', () => {
  test('returns events, the last retry, lastEventId and comments', () => {
    assert.deepEqual(parse(':hi\nretry: 5\nid: 3\ndata: a\n\nretry: 9\ndata: b\n\n'), {
      events: [ev('a', 'message', '3'), ev('b', 'message', '3')],
      retry: 9,
      lastEventId: '3',
      comments: ['hi'],
    });
    assert.deepEqual(parse(''), { events: [], retry: undefined, lastEventId: '', comments: [] });
  });
  test('bytes', () => assert.deepEqual(parse(utf8('data: é\n\n')).events, [ev('é')]));
  test('reads what serialize() writes', () => {
    const wire = serialize({ comment: 'c', event: 'e', id: 9, retry: 100, data: 'x\r\ny' });
    assert.deepEqual(parse(wire), { events: [ev('x\ny', 'e', '9')], retry: 100, lastEventId: '9', comments: ['c'] });
  });
});

const tooLong = (limit: number) => (err: unknown) => {
  assert.ok(err instanceof SSEError, String(err));
  assert.equal(err.code, 'ERR_SSE_LINE_TOO_LONG');
  assert.match(err.message, new RegExp(`maxLineLength \\(${limit} characters\\)`));
  return true;
};
const tooLarge = (limit: number) => (err: unknown) => {
  assert.ok(err instanceof SSEError, String(err));
  assert.equal(err.code, 'ERR_SSE_EVENT_TOO_LARGE');
  assert.match(err.message, new RegExp(`maxEventSize \\(${limit} characters`));
  return true;
};
const LINE = ErrorCode.LINE_TOO_LONG;
const EVENT = ErrorCode.EVENT_TOO_LARGE;

describe('maxLineLength', () => {
  test('a line of exactly the limit is accepted; one more char: ERR_SSE_LINE_TOO_LONG, and its event is skipped', () => {
    sameHoweverCut('data: 1234\n\n', { maxLineLength: 10 }, { events: [ev('1234')] });
    sameHoweverCut('data: 1234\r\n\r\n', { maxLineLength: 10 }, { events: [ev('1234')] });
    sameHoweverCut('data: 12345\n\n', { maxLineLength: 10 }, { errors: [LINE] });
    sameHoweverCut('data: 12345\r\n\r\n', { maxLineLength: 10 }, { errors: [LINE] });
    sameHoweverCut('data: 12345\r\r', { maxLineLength: 10 }, { errors: [LINE] });
  });
  test('the parser recovers after the blank line that ends that event; nothing of it leaks into the next', () => {
    const wire = 'id: 1\ndata: a\n\nid: 2\nevent: t\ndata: b\ndata: 0123456789\ndata: c\nid: 3\n\ndata: d\n\n';
    sameHoweverCut(wire, { maxLineLength: 10 }, { events: [ev('a', 'message', '1'), ev('d', 'message', '1')], lastEventId: '1', errors: [LINE] });
  });
  test('any line counts: comments, unknown fields, id, retry, event', () => {
    for (const line of [': 123456789', 'foo: 123456', 'id: 12345678', 'retry: 12345', 'event: 1234', 'data:1234567']) {
      sameHoweverCut(`${line}\ndata: x\n\ndata: y\n\n`, { maxLineLength: 10 }, { events: [ev('y')], errors: [LINE] });
    }
  });
  test('one error per skipped event, however many of its lines are too long', () => {
    const wire = 'data: 0123456789\ndata: 0123456789\n: 0123456789\n\ndata: 0123456789\n\ndata: ok\n\n';
    sameHoweverCut(wire, { maxLineLength: 10 }, { events: [ev('ok')], errors: [LINE, LINE] });
  });
  test('reported while the line is still incomplete, and its rest is dropped as it arrives: memory stays bounded', () => {
    const errors: string[] = [];
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e), onError: (err) => errors.push(err.code), maxLineLength: 10 });
    parser.feed('data: 1234');
    assert.deepEqual(errors, []);
    parser.feed('5');
    assert.deepEqual(errors, [LINE]);
    for (let i = 0; i < 1000; i++) parser.feed('x'.repeat(1000));
    parser.feed('\n\ndata: ok\n\n');
    assert.deepEqual(errors, [LINE]);
    assert.deepEqual(seen, [ev('ok')]);
  });
  test('the default is 1 MiB characters; 0 means no limit', () => {
    const big = 'x'.repeat(1_048_576 - 6);
    assert.equal(parse(`data: ${big}\n\n`).events[0]!.data.length, big.length);
    assert.throws(() => parse(`data: ${big}x\n\n`), tooLong(1_048_576));
    const huge = 'y'.repeat(3_000_000);
    assert.equal(parse(`data: ${huge}\n\n`, { maxLineLength: 0 }).events[0]!.data, huge);
  });
  // Linear, not quadratic: joined once at its line end. Copying the held text on
  // every feed would move 3.2e11 characters here (hours); the timeout catches that.
  test('a long line in many small chunks is joined once (3.2 M characters in 200k feeds)', { timeout: 30_000 }, () => {
    const events: string[] = [];
    const parser = createParser({ onEvent: (e) => void events.push(e.data), maxLineLength: 0 });
    const chunk = 'z'.repeat(16);
    parser.feed('data: ');
    for (let i = 0; i < 200_000; i++) parser.feed(chunk);
    parser.feed('\n\n');
    assert.equal(events.length, 1);
    assert.equal(events[0].length, 3_200_000);
  });
});

describe('maxEventSize', () => {
  test('counts the data as dispatched (lines joined with LF) plus the type; exactly the limit passes', () => {
    // One line (dispatched without the data buffer), several lines, with a type, the type set last.
    sameHoweverCut('data: 0123456789\n\n', { maxEventSize: 10 }, { events: [ev('0123456789')] });
    sameHoweverCut('data: 01234567890\n\n', { maxEventSize: 10 }, { errors: [EVENT] });
    sameHoweverCut('data: 0123\ndata: 45678\n\n', { maxEventSize: 10 }, { events: [ev('0123\n45678')] });
    sameHoweverCut('data: 0123\ndata: 456789\n\n', { maxEventSize: 10 }, { errors: [EVENT] });
    sameHoweverCut('event: abc\ndata: 0123456\n\n', { maxEventSize: 10 }, { events: [ev('0123456', 'abc')] });
    sameHoweverCut('event: abc\ndata: 01234567\n\n', { maxEventSize: 10 }, { errors: [EVENT] });
    sameHoweverCut('data: 0123456\nevent: abc\n\n', { maxEventSize: 10 }, { events: [ev('0123456', 'abc')] });
    sameHoweverCut('data: 0123456\nevent: abcd\n\n', { maxEventSize: 10 }, { errors: [EVENT] });
    sameHoweverCut('data\ndata\ndata\n\n', { maxEventSize: 2 }, { events: [ev('\n\n')] });
    sameHoweverCut('data\ndata\ndata\ndata\n\n', { maxEventSize: 2 }, { errors: [EVENT] });
    // Only the last type counts; ids, comments and retry do not count.
    sameHoweverCut('event: 0123456789\nevent: a\nid: 0123456789\n: 0123456789\nretry: 1234567890\ndata: 012345678\n\n', { maxEventSize: 10 }, {
      events: [ev('012345678', 'a', '0123456789')],
      comments: ['0123456789'],
      retries: [1234567890],
      lastEventId: '0123456789',
    });
  });
  test('the event is skipped whole, up to its blank line: its data, type and id never reach a later event', () => {
    const wire = 'id: 1\ndata: a\n\nid: 2\nevent: big\n: before\nretry: 5\ndata: 0123456789\ndata: x\nid: 3\n: after\nretry: 6\nevent: t\n\ndata: b\n\nid: 4\ndata: c\n\n';
    sameHoweverCut(wire, { maxEventSize: 10 }, {
      events: [ev('a', 'message', '1'), ev('b', 'message', '1'), ev('c', 'message', '4')],
      comments: ['before'],
      retries: [5],
      lastEventId: '4',
      errors: [EVENT],
    });
  });
  test('endless short data lines: one error, the buffer stops growing, and the next event is read', () => {
    const errors: string[] = [];
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e), onError: (err) => errors.push(err.code), maxEventSize: 1000 });
    parser.feed('event: flood\n');
    for (let i = 0; i < 10_000; i++) parser.feed('data: 0123456789\n'.repeat(10));
    parser.feed('\ndata: ok\n\n');
    assert.deepEqual(errors, [EVENT]);
    assert.deepEqual(seen, [ev('ok')]);
  });
  test('the default is 16 MiB characters; 0 means no limit', () => {
    // 17 lines of at most 1 MiB each: 16 MiB of data exactly, then one character more.
    const line = 'x'.repeat(1_048_570);
    const exact = `${`data: ${line}\n`.repeat(16)}data: ${'y'.repeat(80)}\n\n`;
    const [event] = parse(exact).events;
    assert.equal(event!.data.length, 16 * 1_048_576);
    assert.throws(() => parse(exact.replace('y', 'yy')), tooLarge(16 * 1_048_576));
    assert.equal(parse(exact.replace('y', 'yy'), { maxEventSize: 0 }).events[0]!.data.length, 16 * 1_048_576 + 1);
  });
  test('with 0, an event past the engine\'s longest string is still skipped with that error, not corrupted', (t) => {
    const line = `data: ${'x'.repeat(2 ** 28)}\n`;
    try {
      void (line + line + line);
      t.skip('this engine holds strings of 3 * 2^28 characters');
      return;
    } catch {
      // V8: at most 2^29 - 24 characters.
    }
    const errors: SSEError[] = [];
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e), onError: (err) => errors.push(err), maxLineLength: 0, maxEventSize: 0 });
    for (let i = 0; i < 3; i++) parser.feed(line);
    parser.feed('\ndata: ok\n\n');
    assert.deepEqual(seen, [ev('ok')]);
    assert.deepEqual(errors.map((e) => e.code), [EVENT]);
    assert.match(errors[0]!.message, /longest string this JavaScript engine can hold/);
  });
  test('with maxLineLength: a line too long for both is reported once, as too long', () => {
    sameHoweverCut('data: 0123456789\ndata: ok\n\ndata: b\n\n', { maxLineLength: 10, maxEventSize: 5 }, { events: [ev('b')], errors: [LINE] });
    sameHoweverCut('data: 0123\ndata: 4567\n\ndata: b\n\n', { maxLineLength: 10, maxEventSize: 5 }, { events: [ev('b')], errors: [EVENT] });
  });
});

describe('limit errors without onError', () => {
  test('feed() throws the first one, after it has parsed the whole chunk: nothing after the skipped event is lost', () => {
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e), maxEventSize: 4, maxLineLength: 10 });
    const wire = 'data: a\n\ndata: 0123456789\n\ndata: b\n\ndata: 01234\n\ndata: c\n\ndata: pa';
    assert.throws(() => parser.feed(wire), tooLong(10));
    assert.deepEqual(seen, [ev('a'), ev('b'), ev('c')]);
    // The state is consistent: the incomplete line goes on in the next chunk.
    parser.feed('rt\n\n');
    assert.throws(() => parser.feed('data: 567\ndata: 8\n\n'), tooLarge(4));
    parser.feed('data: d\n\n');
    assert.deepEqual(seen, [ev('a'), ev('b'), ev('c'), ev('part'), ev('d')]);
  });
  test('an incomplete too-long line: thrown by the feed() that exceeded the limit; the rest is dropped quietly', () => {
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e), maxLineLength: 10 });
    parser.feed('data: 1234');
    assert.throws(() => parser.feed('5678'), tooLong(10));
    parser.feed('9'.repeat(100));
    parser.feed('\n\ndata: ok\n\n');
    assert.deepEqual(seen, [ev('ok')]);
  });
  test('parse() throws the first one; with onError it returns everything else', () => {
    const wire = 'data: a\n\ndata: 0123456789\n\ndata: b\n\n';
    assert.throws(() => parse(wire, { maxEventSize: 5 }), tooLarge(5));
    const errors: SSEError[] = [];
    assert.deepEqual(parse(wire, { maxEventSize: 5, onError: (err) => errors.push(err) }).events, [ev('a'), ev('b')]);
    assert.deepEqual(errors.map((e) => e.code), [EVENT]);
  });
  test('an onError that throws: the error reaches the caller, the parser stays usable', () => {
    const seen: ServerSentEvent[] = [];
    const parser = createParser({
      onEvent: (e) => seen.push(e),
      onError: (err) => {
        throw err;
      },
      maxEventSize: 3,
    });
    assert.throws(() => parser.feed('data: 1234\n\ndata: lost\n\n'), tooLarge(3));
    // As with onEvent, the rest of that chunk was not parsed (its blank line
    // included): the parser is still in the skipped event.
    parser.feed('data: lost too\n\ndata: ok\n\n');
    assert.deepEqual(seen, [ev('ok')]);
  });
  test('end() and reset() end a skipped event: the next stream starts clean', () => {
    const seen: ServerSentEvent[] = [];
    const parser = createParser({ onEvent: (e) => seen.push(e), onError() {}, maxEventSize: 3, maxLineLength: 10 });
    parser.feed('data: 1234\n');
    parser.end();
    parser.feed('data: a\n\n');
    parser.feed('data: 0123456789');
    parser.reset();
    parser.feed('data: b\n\n');
    assert.deepEqual(seen, [ev('a'), ev('b')]);
  });
});

describe('option validation at createParser', () => {
  const invalid = (ctor: typeof SSETypeError | typeof SSERangeError, pattern: RegExp) => (err: unknown) => {
    assert.ok(err instanceof ctor, `expected ${ctor.name}, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.INVALID_OPTION);
    assert.equal(err.code, 'ERR_SSE_INVALID_OPTION');
    assert.match(err.message, pattern);
    return true;
  };
  const create = (options: unknown) => () => createParser(options as ParserOptions);
  test('options must be an object', () => {
    assert.throws(create(undefined), invalid(SSETypeError, /options must be an object/));
    assert.throws(create(null), invalid(SSETypeError, /options must be an object/));
    assert.throws(create(() => {}), invalid(SSETypeError, /did you mean createParser\(\{ onEvent: fn \}\)/));
  });
  test('onEvent must be a function; onRetry and onComment functions when given', () => {
    assert.throws(create({}), invalid(SSETypeError, /onEvent must be a function/));
    assert.throws(create({ onEvent: 'x' }), invalid(SSETypeError, /onEvent must be a function \(event\) => void; got "x"/));
    assert.throws(create({ onEvent() {}, onRetry: 1 }), invalid(SSETypeError, /onRetry must be a function \(ms\) => void or undefined/));
    assert.throws(create({ onEvent() {}, onComment: {} }), invalid(SSETypeError, /onComment/));
    assert.doesNotThrow(create({ onEvent() {}, onRetry: undefined, onComment: undefined }));
  });
  test('maxLineLength must be a non-negative integer', () => {
    for (const bad of [-1, 1.5, NaN, Infinity, -Infinity, 2 ** 53]) {
      assert.throws(create({ onEvent() {}, maxLineLength: bad }), invalid(SSERangeError, /maxLineLength must be an integer from 0 to 9007199254740991 \(UTF-16 code units; 0 turns it off\)/));
    }
    for (const bad of ['10', null, 10n, {}]) {
      assert.throws(create({ onEvent() {}, maxLineLength: bad }), invalid(SSETypeError, /maxLineLength/));
    }
    assert.doesNotThrow(create({ onEvent() {}, maxLineLength: 0 }));
    assert.doesNotThrow(create({ onEvent() {}, maxLineLength: 1 }));
  });
  test('maxEventSize must be a non-negative integer; onError a function', () => {
    for (const bad of [-1, 1.5, NaN, Infinity, 2 ** 53]) {
      assert.throws(create({ onEvent() {}, maxEventSize: bad }), invalid(SSERangeError, /maxEventSize must be an integer from 0 to 9007199254740991 \(UTF-16 code units of data and type; 0 turns it off\)/));
    }
    assert.throws(create({ onEvent() {}, maxEventSize: '1' }), invalid(SSETypeError, /maxEventSize/));
    assert.throws(create({ onEvent() {}, onError: true }), invalid(SSETypeError, /onError must be a function \(error\) => void or undefined/));
    assert.doesNotThrow(create({ onEvent() {}, maxEventSize: 0, onError: undefined }));
  });
  test('unknown option names are rejected, with the nearest allowed name (typos, not only case)', () => {
    const unknown = (name: string, near: string | undefined) =>
      invalid(SSETypeError, new RegExp(`^createParser: unknown option "${name}"${near ? ` \\(did you mean "${near}"\\?\\)` : ''}; allowed: onEvent, `));
    assert.throws(create({ onEvent() {}, maxLineLenght: 10 }), unknown('maxLineLenght', 'maxLineLength'));
    assert.throws(create({ onEvent() {}, maxlinelength: 10 }), unknown('maxlinelength', 'maxLineLength'));
    assert.throws(create({ onEvent() {}, onComent() {} }), unknown('onComent', 'onComment'));
    assert.throws(create({ onEvent() {}, maxEventsize: 10 }), unknown('maxEventsize', 'maxEventSize'));
    assert.throws(create({ onEvent() {}, maxEventSise: 10 }), unknown('maxEventSise', 'maxEventSize'));
    assert.throws(create({ onEvent() {}, onerror() {} }), unknown('onerror', 'onError'));
    // Named before the missing onEvent is: the typo is the cause.
    assert.throws(create({ onevent() {} }), unknown('onevent', 'onEvent'));
    assert.throws(create({ onEvent() {}, signal: null }), unknown('signal', undefined));
    assert.throws(create({ onEvent() {}, signal: null }), (err: Error) => !/did you mean/.test(err.message));
  });
  test('each option is read exactly once (a getter cannot pass the check, then change)', () => {
    const reads = new Map<string, number>();
    const values: Record<string, unknown[]> = {
      onEvent: [() => {}, 'not a function'],
      onRetry: [undefined, 1],
      onComment: [undefined, 1],
      onError: [undefined, 1],
      maxLineLength: [5, -1],
      maxEventSize: [100, -1],
    };
    const options = {};
    for (const [name, sequence] of Object.entries(values)) {
      Object.defineProperty(options, name, {
        enumerable: true,
        get: () => {
          const n = reads.get(name) ?? 0;
          reads.set(name, n + 1);
          return sequence[Math.min(n, sequence.length - 1)];
        },
      });
    }
    const parser = createParser(options as ParserOptions);
    assert.deepEqual(Object.fromEntries(reads), { onEvent: 1, onRetry: 1, onComment: 1, onError: 1, maxLineLength: 1, maxEventSize: 1 });
    // The limit is the value read once (5), not a later one.
    assert.throws(() => parser.feed('data: 1234567\n\n'));
  });
});

describe('option validation at parse()', () => {
  test('an object with known names, validated like createParser, named parse', () => {
    const check = (pattern: RegExp) => (err: unknown) => err instanceof SSETypeError && err.code === ErrorCode.INVALID_OPTION && pattern.test(err.message);
    assert.throws(() => parse('', { maxLineLenght: 1 } as never), check(/^parse: unknown option "maxLineLenght" \(did you mean "maxLineLength"\?\); allowed: /));
    assert.throws(() => parse('', { onEvent() {} } as never), check(/^parse: unknown option "onEvent"; allowed: /));
    assert.throws(() => parse('', null as never), check(/^parse: options must be an object/));
    assert.throws(() => parse('', { maxLineLength: '1' } as never), check(/^parse: maxLineLength/));
    assert.throws(() => parse('', { maxEventsize: 1 } as never), check(/^parse: unknown option "maxEventsize" \(did you mean "maxEventSize"\?\); allowed: onError, maxLineLength, maxEventSize$/));
    assert.deepEqual(parse('data: a\n\n', undefined).events, [ev('a')]);
    assert.deepEqual(parse('data: a\n\n', {}).events, [ev('a')]);
  });
});

describe('against a line-by-line reference on random streams', () => {
  // The spec's steps written plainly (split into lines, then fields), with none of
  // the reader's shortcuts: any difference is a bug in a shortcut.
  function reference(text: string): Result {
    const out: Result = { events: [], comments: [], retries: [], lastEventId: '', errors: [] };
    const lines = text.split(/\r\n|\r|\n/);
    lines.pop(); // an unterminated last line is not a line
    let data: string[] = [];
    let type = '';
    let idBuffer = '';
    for (const line of lines) {
      if (line === '') {
        out.lastEventId = idBuffer;
        if (data.length > 0) out.events.push({ type: type || 'message', data: data.join('\n'), lastEventId: idBuffer });
        data = [];
        type = '';
        continue;
      }
      const colon = line.indexOf(':');
      const name = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (colon === 0) out.comments.push(value);
      else if (name === 'data') data.push(value);
      else if (name === 'event') type = value;
      else if (name === 'id' && !value.includes('\0')) idBuffer = value;
      else if (name === 'retry' && /^[0-9]+$/.test(value)) out.retries.push(Number(value));
    }
    return out;
  }
  const PIECES = ['data:', 'data: ', 'data', 'dat', 'event: ', 'event:', 'id: ', 'id:', ': c', 'retry: 9', 'x', 'tick', ' ', '\0', 'é', '😀', '\n', '\n', '\n', '\n\n', '\r', '\r\n'];
  test('same events, comments, retries and lastEventId, whole and at random splits', () => {
    for (let seed = 1; seed <= 400; seed++) {
      const rng = mulberry32(seed);
      let text = '';
      const length = 1 + Math.floor(rng() * 60);
      for (let i = 0; i < length; i++) text += PIECES[Math.floor(rng() * PIECES.length)]!;
      const expected = reference(text);
      assert.deepEqual(run([text]), expected, `seed ${seed}, whole: ${JSON.stringify(text)}`);
      assert.deepEqual(run(splitAt(text, randomPoints(text.length, rng))), expected, `seed ${seed}, split: ${JSON.stringify(text)}`);
      assert.deepEqual(run(text.split('')), expected, `seed ${seed}, char by char: ${JSON.stringify(text)}`);
    }
  });
});

describe('portability', () => {
  // Imports are followed from lib/parser.ts; comments are dropped before looking.
  function reachable(file: string, seen = new Map<string, string>()): Map<string, string> {
    if (seen.has(file)) return seen;
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    seen.set(file, code);
    for (const [, spec] of code.matchAll(/\bfrom\s+'(\.[^']+)'/g)) {
      reachable(join(dirname(file), spec!.replace(/\.js$/, '.ts')), seen);
    }
    return seen;
  }
  test('the reader and every module it imports use no node: module and no Node global', () => {
    const modules = reachable(join(__dirname, '../lib/parser.ts'));
    assert.ok(modules.size >= 2, [...modules.keys()].join(', '));
    for (const [file, code] of modules) {
      const imports = [...code.matchAll(/\b(?:from|import|require)\s*\(?\s*'([^'.][^']*)'/g)].map((m) => m[1]);
      assert.deepEqual(imports, [], `${file} imports ${imports.join(', ')}`);
      assert.doesNotMatch(code, /\b(Buffer|process|global|setImmediate|__dirname)\b/, file);
    }
  });
});
