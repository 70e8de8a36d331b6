/**
 * Round trip: for any message, parsing what `serialize()` writes gives back
 * exactly that message's event. A seeded generator covers unicode (astral
 * characters, no lone surrogates), CR/LF/CRLF inside values, leading spaces,
 * colons, empty strings, JSON values and ids; the wire is fed whole, byte by
 * byte and at random split points. And nothing a caller puts in `data` or
 * `comment` can make the client see an event the caller did not write.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createParser } from '../lib/parser.js';
import { mulberry32 } from './support/random.js';
import { serialize } from '../lib/format.js';
import { ErrorCode, SSERangeError, SSETypeError } from '../lib/errors.js';
import type { SSEInput, SSEMessage, ServerSentEvent } from '../lib/types.js';


type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, items.length)]!;

// Pieces strings are built from: field syntax, spaces, line breaks, BMP and
// astral characters (always whole surrogate pairs), and characters that look
// like line breaks but are not in SSE (U+2028, U+2029, U+0085, VT, FF).
const PLAIN = ['a', 'Z', '0', '9', 'hello', ' ', '  ', ':', ': ', 'data', 'data:', 'event: x', 'id: 1', 'retry: 5', '\t', '"', '{', '}'];
const UNICODE = ['é', 'ß', '€', '中文', '\u2028', '\u2029', '\u0085', '\u000b', '\u000c', '\uFEFF', '\uFFFD', '😀', '𝄞', '👨‍👩‍👧', '🇫🇷', '\u{10FFFF}', '\u{10000}'];
const BREAKS = ['\n', '\r', '\r\n', '\n\n', '\r\r', '\r\n\r\n', '\n\r'];

function randomText(rng: Rng, { breaks, nul }: { breaks: boolean; nul: boolean }): string {
  const length = int(rng, 8);
  let out = '';
  for (let i = 0; i < length; i++) {
    const r = rng();
    if (breaks && r < 0.2) out += pick(rng, BREAKS);
    else if (nul && r < 0.25) out += '\0';
    else if (r < 0.6) out += pick(rng, PLAIN);
    else out += pick(rng, UNICODE);
  }
  return out;
}

function randomJson(rng: Rng, depth = 0): unknown {
  const r = int(rng, depth > 2 ? 6 : 8);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rng() < 0.5;
    case 2:
      return pick(rng, [0, -0, 1, -1, 42, 3.14, -2.5e-7, 1e21, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE]);
    case 3:
    case 4:
    case 5:
      return randomText(rng, { breaks: true, nul: true });
    case 6:
      return Array.from({ length: int(rng, 4) }, () => randomJson(rng, depth + 1));
    default: {
      const obj: Record<string, unknown> = {};
      for (let i = int(rng, 4); i > 0; i--) obj[randomText(rng, { breaks: true, nul: false })] = randomJson(rng, depth + 1);
      return obj;
    }
  }
}

function randomMessage(rng: Rng): SSEInput {
  if (rng() < 0.08) return randomText(rng, { breaks: true, nul: true });
  const m: SSEMessage = {};
  const d = rng();
  if (d < 0.1) m.data = '';
  else if (d < 0.5) m.data = randomText(rng, { breaks: true, nul: true });
  else if (d < 0.85) m.data = randomJson(rng);
  // else: no data, so no event (a bare id, retry or comment)
  const e = rng();
  if (e < 0.1) m.event = '';
  else if (e < 0.4) m.event = randomText(rng, { breaks: false, nul: true });
  const i = rng();
  if (i < 0.05) m.id = '';
  else if (i < 0.25) m.id = randomText(rng, { breaks: false, nul: false });
  else if (i < 0.35) m.id = pick(rng, [0, 7, -1, 1.5, 1e21, 2 ** 53, -0]);
  const r = rng();
  if (r < 0.05) m.retry = int(rng, 100_000);
  else if (r < 0.08) m.retry = pick(rng, ['0', '007', '1500']);
  if (rng() < 0.15) m.comment = randomText(rng, { breaks: true, nul: true });
  return m;
}

interface Expected {
  events: ServerSentEvent[];
  comments: string[];
  retries: number[];
  lastEventId: string;
}

/**
 * What a client must see, computed from the messages alone (not from the wire).
 * CR and CRLF in data and comments come back as LF: SSE has one line break, and
 * a value can only be split on it.
 */
function expectedOf(messages: readonly SSEInput[]): Expected {
  const out: Expected = { events: [], comments: [], retries: [], lastEventId: '' };
  for (const input of messages) {
    const m: SSEMessage = typeof input === 'string' ? { data: input } : input;
    if (m.comment !== undefined) out.comments.push(...m.comment.split(/\r\n|\r|\n/));
    if (m.retry !== undefined) out.retries.push(Number(m.retry));
    if (m.id !== undefined) out.lastEventId = String(m.id);
    if (m.data === undefined) continue;
    const data = typeof m.data === 'string' ? m.data.replace(/\r\n|\r/g, '\n') : JSON.stringify(m.data);
    out.events.push({ type: m.event || 'message', data, lastEventId: out.lastEventId });
  }
  return out;
}

function parseChunks(chunks: Iterable<string | Uint8Array>): Expected {
  const got: Expected = { events: [], comments: [], retries: [], lastEventId: '' };
  const parser = createParser({
    onEvent: (e) => got.events.push(e),
    onComment: (text) => got.comments.push(text),
    onRetry: (ms) => got.retries.push(ms),
  });
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  got.lastEventId = parser.lastEventId;
  return got;
}

function* randomSplits<T extends string | Uint8Array>(input: T, rng: Rng, maxChunk: number): Generator<T> {
  let pos = 0;
  while (pos < input.length) {
    const size = 1 + int(rng, maxChunk);
    yield input.slice(pos, pos + size) as T;
    pos += size;
  }
}

function* bytewise(bytes: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
}

describe('round trip: parse(serialize(m)) gives back m', () => {
  const rng = mulberry32(0x55e);
  const messages = Array.from({ length: 3000 }, () => randomMessage(rng));
  const wire = messages.map((m) => serialize(m)).join('');
  const bytes = new TextEncoder().encode(wire);
  const expected = expectedOf(messages);

  test('the generator covers what it claims', () => {
    const objects = messages.filter((m): m is SSEMessage => typeof m === 'object');
    assert.ok(expected.events.length > 2000, `${expected.events.length} events`);
    assert.ok(objects.some((m) => m.data === undefined) && objects.some((m) => m.data === ''));
    assert.ok(objects.some((m) => m.data !== null && typeof m.data === 'object') && objects.some((m) => m.data === null));
    assert.ok(objects.some((m) => typeof m.data === 'number') && objects.some((m) => typeof m.data === 'boolean'));
    assert.ok(objects.some((m) => typeof m.id === 'number') && objects.some((m) => m.id === ''));
    const written = objects.map((m) => [m.data, m.comment, m.event, m.id].filter((v) => typeof v === 'string').join('')).join('');
    for (const needle of ['\r\n', '\r', '\n', '😀', '🇫🇷', '\0', '\uFEFF', ': ']) {
      assert.ok(written.includes(needle), JSON.stringify(needle));
    }
    assert.ok(/^data: {2}/m.test(wire) && /^event: {2}/m.test(wire), 'values with a leading space');
  });

  test(`${messages.length} messages, whole, as text and as bytes`, () => {
    assert.deepEqual(parseChunks([wire]), expected);
    assert.deepEqual(parseChunks([bytes]), expected);
  });

  test('byte by byte (first 300 messages)', () => {
    const some = messages.slice(0, 300);
    const someBytes = new TextEncoder().encode(some.map((m) => serialize(m)).join(''));
    assert.deepEqual(parseChunks(bytewise(someBytes)), expectedOf(some));
  });

  test('at seeded-random split points, as UTF-8 bytes', () => {
    for (const [seed, maxChunk] of [[1, 7], [2, 64], [3, 1500], [4, 3]] as const) {
      assert.deepEqual(parseChunks(randomSplits(bytes, mulberry32(seed), maxChunk)), expected, `seed ${seed}`);
    }
  });

  test('at seeded-random split points, as text', () => {
    for (const [seed, maxChunk] of [[5, 5], [6, 200]] as const) {
      assert.deepEqual(parseChunks(randomSplits(wire, mulberry32(seed), maxChunk)), expected, `seed ${seed}`);
    }
  });

  test('each message on its own (after the id the stream had), so a failure names the message', () => {
    let lastEventId = '';
    for (const m of messages) {
      const stream = lastEventId === '' ? [m] : [{ id: lastEventId }, m];
      const want = expectedOf(stream);
      assert.deepEqual(parseChunks([stream.map((x) => serialize(x)).join('')]), want, `message ${JSON.stringify(m)}`);
      lastEventId = want.lastEventId;
    }
  });
});

describe('hostile values', () => {
  const rejects = (message: SSEMessage, code: string) => {
    assert.throws(
      () => serialize(message),
      (err: unknown) => (err instanceof SSETypeError || err instanceof SSERangeError) && err.code === code,
      JSON.stringify(message),
    );
  };

  test('event or id with CR or LF, and id with NUL, throw at serialize()', () => {
    for (const bad of ['a\nb', 'a\rb', 'a\r\nb', '\n', '\r', 'x\n\ndata: forged']) {
      rejects({ event: bad, data: 'x' }, ErrorCode.INVALID_EVENT);
      rejects({ id: bad, data: 'x' }, ErrorCode.INVALID_ID);
    }
    rejects({ id: 'a\0b', data: 'x' }, ErrorCode.INVALID_ID);
    rejects({ id: '\0' }, ErrorCode.INVALID_ID);
    rejects({ id: NaN, data: 'x' }, ErrorCode.INVALID_ID);
    rejects({ id: Infinity, data: 'x' }, ErrorCode.INVALID_ID);
    rejects({ retry: '5\ndata: forged' as never }, ErrorCode.INVALID_RETRY);
  });

  const FORGERIES = [
    'x\n\nevent: forged\ndata: y',
    'x\r\rdata: forged\r\r',
    'x\r\n\r\nid: 666\r\ndata: forged\r\n\r\n',
    '\n\nretry: 1\n\n',
    'x\n\n',
    '\r\n\r\n',
    'data: forged\n\n',
    ':\n\ndata: forged',
    '\n\r\n\r',
    'event: forged\rdata: y\r\r',
  ];

  test('nothing in data yields an event the caller did not write', () => {
    for (const data of FORGERIES) {
      const got = parseChunks([serialize({ data })]);
      assert.deepEqual(got, { events: [{ type: 'message', data: data.replace(/\r\n|\r/g, '\n'), lastEventId: '' }], comments: [], retries: [], lastEventId: '' }, JSON.stringify(data));
      assert.deepEqual(parseChunks([serialize({ event: 'mine', id: 'i', data })]).events, [{ type: 'mine', data: data.replace(/\r\n|\r/g, '\n'), lastEventId: 'i' }]);
    }
  });

  test('nothing in a comment yields an event (or an id, or a retry)', () => {
    for (const comment of FORGERIES) {
      const got = parseChunks([serialize({ comment })]);
      assert.deepEqual(got, { events: [], comments: comment.split(/\r\n|\r|\n/), retries: [], lastEventId: '' }, JSON.stringify(comment));
      assert.deepEqual(parseChunks([serialize({ comment, data: 'mine' })]).events, [{ type: 'message', data: 'mine', lastEventId: '' }]);
    }
  });

  test('random hostile data and comments, 2000 of each, fed at random splits', () => {
    const rng = mulberry32(0xbad);
    const PIECES = ['\n', '\r', '\r\n', 'data:', 'data: ', 'event:', 'id:', 'retry:', ':', ' ', 'forged', '\uFEFF', '\0', '😀', '1'];
    const messages: SSEMessage[] = [];
    for (let i = 0; i < 2000; i++) {
      let text = '';
      for (let n = int(rng, 12); n > 0; n--) text += pick(rng, PIECES);
      messages.push(i % 2 ? { data: text } : { comment: text });
      messages.push({ comment: text, data: text });
    }
    const bytes = new TextEncoder().encode(messages.map((m) => serialize(m)).join(''));
    const got = parseChunks(randomSplits(bytes, mulberry32(9), 40));
    assert.deepEqual(got, expectedOf(messages));
    assert.ok(got.events.every((e) => e.type === 'message' && e.lastEventId === ''));
    assert.deepEqual(got.retries, []);
  });
});
