/**
 * The reader: `text/event-stream` bytes -> events, following the WHATWG HTML
 * "event stream interpretation" algorithm. The same format `format.ts` writes,
 * read backwards, for Node clients (Node 20 has no `EventSource`).
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import { Transform, type TransformCallback } from 'node:stream';
import { ErrorCode, SSEError, SSERangeError, SSETypeError, describe } from './errors.js';
import type { ServerSentEvent } from './types.js';

const LF = 10;
const SPACE = 32;
const COLON = 58;
const BOM = 0xfeff;
const DIGITS = /^[0-9]+$/;
const DEFAULT_MAX_LINE_LENGTH = 1_048_576;
// Hoisted: one options object for every decode() call instead of one per chunk.
const STREAM = { stream: true };

// Whether the line at `i` starts with `data:` / `event:` / `id:`, by char codes: no slice
// of the field name and no switch for nearly every line of a stream. No bounds
// checks: a complete line is always followed by its CR or LF, which matches none.
function isData(s: string, i: number): boolean {
  return (
    s.charCodeAt(i) === 100 && s.charCodeAt(i + 4) === COLON && s.charCodeAt(i + 1) === 97 &&
    s.charCodeAt(i + 2) === 116 && s.charCodeAt(i + 3) === 97
  );
}

function isEvent(s: string, i: number): boolean {
  return (
    s.charCodeAt(i) === 101 && s.charCodeAt(i + 5) === COLON && s.charCodeAt(i + 1) === 118 &&
    s.charCodeAt(i + 2) === 101 && s.charCodeAt(i + 3) === 110 && s.charCodeAt(i + 4) === 116
  );
}

function isId(s: string, i: number): boolean {
  return s.charCodeAt(i) === 105 && s.charCodeAt(i + 1) === 100 && s.charCodeAt(i + 2) === COLON;
}

// The value of a field whose colon is at `colon`: one leading space, if any, is syntax.
function valueAt(s: string, colon: number, end: number): string {
  return s.slice(s.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1, end);
}

export interface ParserOptions {
  /** Called for every dispatched event, in stream order. Required. */
  onEvent(event: ServerSentEvent): void;
  /** Called with the reconnection time (ms) of every valid `retry:` field. */
  onRetry?(ms: number): void;
  /** Called with the text of every comment line, after the `:` and one leading space. */
  onComment?(text: string): void;
  /**
   * Longest line accepted, in UTF-16 code units, line end excluded. A longer line
   * throws `ERR_SSE_LINE_TOO_LONG` as soon as it is seen (also while incomplete),
   * so that one endless line cannot grow the parser's memory. `0` turns it off.
   * @defaultValue 1048576 (1 Mi)
   */
  maxLineLength?: number;
}

export interface EventStreamParser {
  /**
   * Parse the next piece of the stream: UTF-8 bytes (split anywhere) or decoded
   * text. Callbacks run inside this call; if one throws, the error propagates
   * and the rest of this chunk is not parsed.
   */
  feed(chunk: string | Uint8Array): void;
  /**
   * The stream ended: an event not terminated by a blank line is discarded (per
   * spec). `lastEventId` is kept, and the parser is ready for the next stream
   * (a reconnection): a BOM is again allowed at its start.
   */
  end(): void;
  /** Forget everything, `lastEventId` included: the parser is as new. */
  reset(): void;
  /** The last event ID string of the stream: the `id` of the last dispatched event, persisting. */
  readonly lastEventId: string;
}

// Options are validated once, at the boundary, so that `feed()` never checks them.
function checkOptions(options: unknown, where: string, shape: string): void {
  if (options === null || typeof options !== 'object') {
    const hint = typeof options === 'function' && where === 'createParser' ? ' Did you mean createParser({ onEvent: fn })?' : '';
    const message = `${where}: options must be an object like ${shape}; got ${describe(options)}.${hint}`;
    throw new SSETypeError(ErrorCode.INVALID_OPTION, message);
  }
}

function checkMaxLineLength(value: unknown, where: string): number {
  if (value === undefined) return DEFAULT_MAX_LINE_LENGTH;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const message = `${where}: maxLineLength must be a non-negative integer (0 = no limit); got ${describe(value)}`;
  throw typeof value === 'number'
    ? new SSERangeError(ErrorCode.INVALID_OPTION, message)
    : new SSETypeError(ErrorCode.INVALID_OPTION, message);
}

function checkCallback(value: unknown, name: string, required: boolean): void {
  if (typeof value === 'function' || (value === undefined && !required)) return;
  const allowed = required ? 'a function' : 'a function or undefined';
  throw new SSETypeError(ErrorCode.INVALID_OPTION, `createParser: ${name} must be ${allowed}; got ${describe(value)}`);
}

/** Create an incremental event stream parser. A bad option throws `ERR_SSE_INVALID_OPTION`. */
export function createParser(options: ParserOptions): EventStreamParser {
  checkOptions(options, 'createParser', '{ onEvent, onRetry, onComment, maxLineLength }');
  checkCallback(options.onEvent, 'onEvent', true);
  checkCallback(options.onRetry, 'onRetry', false);
  checkCallback(options.onComment, 'onComment', false);
  return new Reader(options, checkMaxLineLength(options.maxLineLength, 'createParser'));
}

// A class, not closures: its methods are the same functions for every parser, so
// V8 keeps them inlined when a process parses many streams (with per-parser
// closures the hot loop deoptimized on "wrong call target", ~10% slower).
class Reader implements EventStreamParser {
  readonly #onEvent: (event: ServerSentEvent) => void;
  readonly #onRetry: ((ms: number) => void) | undefined;
  readonly #onComment: ((text: string) => void) | undefined;
  readonly #limit: number;
  // Infinity for "no limit" keeps the per-line check one comparison, no branch.
  readonly #maxLen: number;
  // `ignoreBOM: true` keeps a BOM in the text so that one rule (in #text) drops
  // it for bytes and strings alike, and only at the very start of the stream.
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  #decoderUsed = false;
  // The incomplete last line, as fragments joined once when its line end arrives:
  // `pending += chunk` per feed is quadratic when one long `data:` line comes in
  // many small chunks. `#head` is the first fragment, `#more` (when there are
  // more) all of them. Joined with Array#join, never `+`: a ConsString read char
  // by char afterwards cost ~15% with 64-byte chunks (measured, like the rest).
  #head = '';
  readonly #pair: [string, string] = ['', ''];
  #more: string[] = [];
  #pendingLength = 0;
  #atStreamStart = true;
  // The last chunk ended with CR, already taken as a line end (so its event is
  // dispatched now, not when more bytes arrive); an LF opening the next chunk is
  // the second half of that CRLF and must not be read as an empty line.
  #skipLF = false;
  // The spec's buffers. `#hasData` stands for "data buffer is not empty": every
  // `data` field appends at least an LF, so it is non-empty iff one was seen;
  // lines are joined with LF instead of appending LF and stripping the last one.
  #data = '';
  #hasData = false;
  #eventType = '';
  #idBuffer = '';
  #lastEventId = '';
  // See #line(): the text last searched for a colon, and the first colon at or
  // after the line that searched (the text's length if none).
  #colonIn = '';
  #colonAt = 0;
  // Set by a too-long line: the rest of that line would be read as new lines, so
  // nothing more is parsed until end() or reset().
  #failed = false;

  constructor(options: ParserOptions, limit: number) {
    this.#onEvent = options.onEvent;
    this.#onRetry = options.onRetry;
    this.#onComment = options.onComment;
    this.#limit = limit;
    this.#maxLen = limit === 0 ? Infinity : limit;
  }

  get lastEventId(): string {
    return this.#lastEventId;
  }

  feed(chunk: string | Uint8Array): void {
    if (this.#failed) {
      throw new SSEError(
        ErrorCode.LINE_TOO_LONG,
        'the parser stopped at a line longer than maxLineLength; call end() or reset() before feeding a new stream',
      );
    }
    if (typeof chunk === 'string') {
      // Bytes left in the decoder from a byte chunk cannot continue a string: flush them.
      if (this.#decoderUsed) {
        this.#decoderUsed = false;
        const rest = this.#decoder.decode();
        if (rest.length !== 0) this.#text(rest);
      }
      this.#text(chunk);
      return;
    }
    this.#decoderUsed = true;
    // `stream: true` keeps a multi-byte character split across chunks for the next call.
    this.#text(this.#decoder.decode(chunk, STREAM));
  }

  end(): void {
    // "If the file ends in the middle of an event, before the final empty line, the
    // incomplete event is not dispatched." Its `id` is dropped too: the next stream
    // (a reconnection) starts from the last dispatched id, as browsers do.
    this.#clearStream();
    this.#idBuffer = this.#lastEventId;
  }

  reset(): void {
    this.#clearStream();
    this.#idBuffer = '';
    this.#lastEventId = '';
  }

  #clearStream(): void {
    // A flush (which also resets the decoder) can only yield U+FFFD for a truncated
    // character, never a line end, so it cannot complete an event: discarded.
    if (this.#decoderUsed) this.#decoder.decode();
    this.#decoderUsed = false;
    this.#failed = false;
    this.#colonIn = '';
    this.#head = '';
    this.#more = [];
    this.#pendingLength = 0;
    this.#atStreamStart = true;
    this.#skipLF = false;
    this.#data = '';
    this.#hasData = false;
    this.#eventType = '';
  }

  #tooLong(): never {
    this.#head = '';
    this.#more = [];
    this.#pendingLength = 0;
    this.#colonIn = '';
    this.#failed = true;
    throw new SSEError(
      ErrorCode.LINE_TOO_LONG,
      `event stream line longer than maxLineLength (${this.#limit} characters); raise the maxLineLength option, or set it to 0 for no limit`,
    );
  }

  #text(s: string): void {
    let pos = 0;
    if (this.#atStreamStart) {
      if (s.length === 0) return;
      this.#atStreamStart = false;
      // "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are
      // present": one only, so a second BOM is part of the first field name.
      if (s.charCodeAt(0) === BOM) pos = 1;
    }
    if (this.#skipLF) {
      if (pos === s.length) return;
      this.#skipLF = false;
      if (s.charCodeAt(pos) === LF) pos++;
    }
    const held = this.#pendingLength;
    if (held === 0) {
      this.#lines(s, pos, s.indexOf('\r', pos), s.indexOf('\n', pos));
      return;
    }
    // A line is pending (so pos is 0: no BOM, no skipped LF). Still no line end:
    // add a fragment, do not concatenate (see #head).
    const lf = s.indexOf('\n');
    const cr = s.indexOf('\r');
    const more = this.#more;
    if (lf === -1 && cr === -1) {
      if (held + s.length > this.#maxLen) this.#tooLong();
      this.#pendingLength = held + s.length;
      if (more.length === 0) more.push(this.#head);
      more.push(s);
      return;
    }
    // Only the one fragment: a reused pair, no array per chunk; many: a fresh array
    // (setting `length = 0` is a runtime call, ~5%).
    let joined: string;
    if (more.length === 0) {
      const pair = this.#pair;
      pair[0] = this.#head;
      pair[1] = s;
      joined = pair.join('');
      pair[0] = pair[1] = '';
    } else {
      more.push(s);
      joined = more.join('');
      this.#more = [];
    }
    this.#head = '';
    this.#pendingLength = 0;
    // Fragments never hold CR or LF, so the chunk's first ones, shifted, are the
    // joined text's: it is not scanned again (~10% with 64-byte chunks).
    this.#lines(joined, 0, cr === -1 ? -1 : cr + held, lf === -1 ? -1 : lf + held);
  }

  // Runs the complete lines of `s` from `pos`, given the first CR and LF at or
  // after it (-1: none); keeps the incomplete rest in #head.
  #lines(s: string, pos: number, cr: number, lf: number): void {
    const n = s.length;
    const maxLen = this.#maxLen;
    if (cr === -1) {
      // LF-only streams (nearly all servers): one indexOf per line, and #line()
      // written out here: V8 does not inline it into this loop.
      while (lf !== -1) {
        if (lf === pos) {
          this.#dispatch();
          pos = lf + 1;
        } else {
          if (lf - pos > maxLen) this.#tooLong();
          if (isData(s, pos)) {
            const value = valueAt(s, pos + 4, lf);
            // A one-line event (`data: x` then a blank line), the most common, goes
            // straight out without passing through the data buffer.
            if (!this.#hasData && s.charCodeAt(lf + 1) === LF) {
              this.#lastEventId = this.#idBuffer; // dispatch step 1
              this.#emit(value);
              pos = lf + 2;
              lf = s.indexOf('\n', pos);
              continue;
            }
            this.#appendData(value);
          } else if (isEvent(s, pos)) {
            this.#eventType = valueAt(s, pos + 5, lf);
          } else if (isId(s, pos)) {
            this.#setId(valueAt(s, pos + 2, lf));
          } else this.#otherLine(s, pos, lf);
          pos = lf + 1;
          // The blank line that ends an event is taken here, not on a pass of its
          // own: one indexOf less per event (~20% on `data: x\n\n` streams).
          if (s.charCodeAt(pos) === LF) {
            this.#dispatch();
            pos++;
          }
        }
        lf = s.indexOf('\n', pos);
      }
    } else {
      // CR, LF and CRLF all end a line. Both next positions are cached and each is
      // searched again only once passed, so a lone CR far ahead is not rescanned per line.
      for (;;) {
        const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
        if (end === -1) break;
        if (end - pos > maxLen) this.#tooLong();
        if (end === pos) this.#dispatch();
        else this.#line(s, pos, end);
        if (end === cr) {
          pos = cr + 1;
          if (pos === n) {
            this.#skipLF = true;
            break;
          }
          if (lf === pos) {
            pos++;
            lf = s.indexOf('\n', pos);
          }
          cr = s.indexOf('\r', pos);
        } else {
          pos = lf + 1;
          lf = s.indexOf('\n', pos);
        }
      }
    }
    // Drop the reference so the chunk can be collected.
    this.#colonIn = '';
    if (pos < n) {
      if (n - pos > maxLen) this.#tooLong();
      this.#head = pos === 0 ? s : s.slice(pos);
      this.#pendingLength = n - pos;
    }
  }

  // One complete, non-empty line [start, end): the spec's per-line steps, with
  // `data:`, `event:` and `id:` (nearly every line) recognised first.
  #line(s: string, start: number, end: number): void {
    if (isData(s, start)) {
      this.#appendData(valueAt(s, start + 4, end));
    } else if (isEvent(s, start)) {
      this.#eventType = valueAt(s, start + 5, end);
    } else if (isId(s, start)) {
      this.#setId(valueAt(s, start + 2, end));
    } else this.#otherLine(s, start, end);
  }

  // Comments, `retry`, and fields written unusually (`data` without colon, ...).
  #otherLine(s: string, start: number, end: number): void {
    // "If the line starts with a U+003A COLON character (:)": a comment.
    if (s.charCodeAt(start) === COLON) {
      const onComment = this.#onComment;
      if (onComment !== undefined) onComment(valueAt(s, start, end));
      return;
    }
    // "If the line contains a U+003A COLON character", field is before the first
    // one, value after it; "otherwise" the whole line is the field, value empty.
    // The next colon is cached: searched from each line, a run of colon-free lines
    // would rescan to the end of the chunk every time (quadratic).
    if (this.#colonIn !== s || this.#colonAt < start) {
      this.#colonIn = s;
      const at = s.indexOf(':', start);
      this.#colonAt = at === -1 ? s.length : at;
    }
    const colon = this.#colonAt < end ? this.#colonAt : end;
    // "If value starts with a U+0020 SPACE character, remove it from value": one only.
    const value = colon === end ? '' : valueAt(s, colon, end);
    // "Process the field": names are compared literally, with no case folding.
    switch (s.slice(start, colon)) {
      case 'event':
        this.#eventType = value;
        break;
      case 'data':
        this.#appendData(value);
        break;
      case 'id':
        this.#setId(value);
        break;
      case 'retry': {
        // "If the field value consists of only ASCII digits": else ignored.
        const onRetry = this.#onRetry;
        if (onRetry !== undefined && DIGITS.test(value)) onRetry(parseInt(value, 10));
        break;
      }
      default:
      // "Otherwise, the field is ignored", so that the format can grow new fields.
    }
  }

  // `data`: "append the field value to the data buffer, then append a single LF".
  #appendData(value: string): void {
    this.#data = this.#hasData ? this.#data + '\n' + value : value;
    this.#hasData = true;
  }

  // `id`: "if the field value does not contain U+0000 NULL"; else the field is ignored.
  #setId(value: string): void {
    if (value.indexOf('\0') === -1) this.#idBuffer = value;
  }

  // "Dispatch the event", steps 1-7 (step 8, queueing a task, is the caller's).
  #dispatch(): void {
    // 1. The buffer is not reset: the id persists until the server sends another.
    this.#lastEventId = this.#idBuffer;
    // 2. An event without data (e.g. only an `id`) updates the id, dispatches nothing.
    if (!this.#hasData) {
      this.#eventType = '';
      return;
    }
    const data = this.#data;
    this.#data = '';
    this.#hasData = false;
    this.#emit(data);
  }

  // Dispatch steps 3-7 for `data` (the data buffer, read and reset by the caller).
  #emit(data: string): void {
    // 3-6. No trailing LF to remove (see #hasData); the type defaults to `message`.
    const type = this.#eventType;
    const event: ServerSentEvent = { type: type === '' ? 'message' : type, data, lastEventId: this.#lastEventId };
    // 7. Reset before calling out, so that a callback that throws leaves a clean state.
    this.#eventType = '';
    const onEvent = this.#onEvent;
    onEvent(event);
  }
}

/** Everything a whole input holds: its events, the last valid `retry`, the last event id and its comments. */
export interface ParseResult {
  events: ServerSentEvent[];
  retry: number | undefined;
  lastEventId: string;
  comments: string[];
}

/** Parse a complete stream at once (an unterminated last event is discarded). */
export function parse(input: string | Uint8Array, options?: { maxLineLength?: number }): ParseResult {
  if (options !== undefined) checkOptions(options, 'parse', '{ maxLineLength }');
  const events: ServerSentEvent[] = [];
  const comments: string[] = [];
  let retry: number | undefined;
  const parser = createParser({
    onEvent: (event) => void events.push(event),
    onRetry: (ms) => void (retry = ms),
    onComment: (text) => void comments.push(text),
    maxLineLength: options?.maxLineLength,
  });
  parser.feed(input);
  parser.end();
  return { events, retry, lastEventId: parser.lastEventId, comments };
}

export interface SSEParserOptions {
  /** See {@link ParserOptions.maxLineLength}. @defaultValue 1048576 */
  maxLineLength?: number;
}

/**
 * A Transform from `text/event-stream` bytes (or strings) to `ServerSentEvent`
 * objects, for Node clients: `res.pipe(new SSEParser()).on('data', (ev) => ...)`.
 * Emits `'retry'` (ms) and `'comment'` (text). A line longer than `maxLineLength`
 * errors the stream with `ERR_SSE_LINE_TOO_LONG`.
 */
export class SSEParser extends Transform {
  readonly #parser: EventStreamParser;

  constructor(options: SSEParserOptions = {}) {
    checkOptions(options, 'SSEParser', '{ maxLineLength }');
    const maxLineLength = checkMaxLineLength(options.maxLineLength, 'SSEParser');
    // Strings are passed through undecoded: the parser takes text as is.
    super({ readableObjectMode: true, decodeStrings: false });
    this.#parser = createParser({
      onEvent: (event) => void this.push(event),
      onRetry: (ms) => void this.emit('retry', ms),
      onComment: (text) => void this.emit('comment', text),
      maxLineLength,
    });
  }

  /** The `id` of the last dispatched event, persisting (what to send as `Last-Event-ID`). */
  get lastEventId(): string {
    return this.#parser.lastEventId;
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      // A string written with another encoding (e.g. 'hex') stands for bytes, not text.
      const encoded = typeof chunk === 'string' && encoding !== 'utf8' && encoding !== 'utf-8';
      this.#parser.feed(encoded ? Buffer.from(chunk, encoding) : (chunk as string | Uint8Array));
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#parser.end();
    callback();
  }
}
