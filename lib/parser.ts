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
const CR = 13;
const SPACE = 32;
const COLON = 58;
const BOM = 0xfeff;
const DIGITS = /^[0-9]+$/;
const DEFAULT_MAX_LINE_LENGTH = 1_048_576;

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
   * so a peer cannot grow the parser's memory without bound. `0` turns it off.
   * @defaultValue 1048576 (1 Mi)
   */
  maxLineLength?: number;
}

export interface EventStreamParser {
  /** Parse the next piece of the stream: UTF-8 bytes (split anywhere) or already-decoded text. */
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

/** Validated once, here, so that `feed()` never checks its configuration. */
function checkMaxLineLength(value: unknown, where: string): number {
  if (value === undefined) return DEFAULT_MAX_LINE_LENGTH;
  if (typeof value !== 'number') {
    throw new SSETypeError(
      ErrorCode.INVALID_OPTION,
      `${where}: maxLineLength must be a non-negative integer (0 = no limit); got ${describe(value)}`,
    );
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new SSERangeError(
      ErrorCode.INVALID_OPTION,
      `${where}: maxLineLength must be a non-negative integer (0 = no limit); got ${describe(value)}`,
    );
  }
  return value;
}

function checkCallback(value: unknown, name: string, required: boolean): void {
  if (value === undefined && !required) return;
  if (typeof value !== 'function') {
    throw new SSETypeError(
      ErrorCode.INVALID_OPTION,
      `createParser: ${name} must be a function${required ? '' : ' or undefined'}; got ${describe(value)}`,
    );
  }
}

/** Create an incremental event stream parser. Options are validated here; a bad one throws `ERR_SSE_INVALID_OPTION`. */
export function createParser(options: ParserOptions): EventStreamParser {
  if (typeof options === 'function') {
    throw new SSETypeError(
      ErrorCode.INVALID_OPTION,
      'createParser: options must be an object; got a function. Did you mean createParser({ onEvent: fn })?',
    );
  }
  if (options === null || typeof options !== 'object') {
    throw new SSETypeError(
      ErrorCode.INVALID_OPTION,
      `createParser: options must be an object like { onEvent, onRetry, onComment, maxLineLength }; got ${describe(options)}`,
    );
  }
  const { onEvent, onRetry, onComment } = options;
  checkCallback(onEvent, 'onEvent', true);
  checkCallback(onRetry, 'onRetry', false);
  checkCallback(onComment, 'onComment', false);
  const limit = checkMaxLineLength(options.maxLineLength, 'createParser');
  // Infinity keeps the per-line check a single comparison with no "is it on" branch.
  const maxLen = limit === 0 ? Infinity : limit;

  // `ignoreBOM: true` keeps a BOM in the text so that one rule (below) drops it
  // for bytes and strings alike, and only at the very start of the stream.
  let decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let decoderUsed = false;

  // The incomplete last line, kept as fragments and joined once when its line end
  // arrives: `pending += chunk` per feed is quadratic when one long `data:` line
  // comes in many small chunks.
  const pending: string[] = [];
  let pendingLength = 0;

  let atStreamStart = true;
  // The last chunk ended with CR, already taken as a line end (so its event is
  // dispatched now, not when more bytes arrive); an LF opening the next chunk is
  // the second half of that CRLF and must not be read as an empty line.
  let skipLF = false;

  // The spec's buffers. `hasData` stands for "data buffer is not empty": every
  // `data` field appends at least an LF, so it is non-empty iff one was seen;
  // lines are joined with LF instead of appending LF and stripping the last one.
  let data = '';
  let hasData = false;
  let eventType = '';
  let idBuffer = '';
  let lastEventId = '';

  function tooLong(): never {
    pending.length = 0;
    pendingLength = 0;
    throw new SSEError(
      ErrorCode.LINE_TOO_LONG,
      `event stream line longer than maxLineLength (${limit} characters); raise the maxLineLength option, or set it to 0 for no limit`,
    );
  }

  // "Dispatch the event", steps 1-7 (step 8, queueing a task, is the caller's).
  function dispatch(): void {
    // 1. The buffer is not reset: the id persists until the server sends another.
    lastEventId = idBuffer;
    // 2. An event without data (e.g. only an `id`) updates the id and is not dispatched.
    if (!hasData) {
      eventType = '';
      return;
    }
    // 3-6. No trailing LF to remove (see `hasData`); type defaults to `message`.
    const event: ServerSentEvent = { type: eventType === '' ? 'message' : eventType, data, lastEventId };
    // 7. Reset before calling out, so a callback that throws leaves a clean state.
    data = '';
    hasData = false;
    eventType = '';
    onEvent(event);
  }

  // "Process the field" for a line that has a colon at `colon` (or none: colon === end).
  function field(s: string, start: number, colon: number, end: number): void {
    const name = s.slice(start, colon);
    let value = '';
    if (colon < end) {
      // Only ONE leading space belongs to the syntax; more are part of the value.
      const vs = s.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1;
      value = s.slice(vs, end);
    }
    // Field names are compared literally, with no case folding.
    switch (name) {
      case 'event':
        eventType = value;
        break;
      case 'data':
        if (hasData) data += '\n' + value;
        else {
          data = value;
          hasData = true;
        }
        break;
      case 'id':
        // U+0000 makes the whole field ignored, not truncated.
        if (value.indexOf('\0') === -1) idBuffer = value;
        break;
      case 'retry':
        if (DIGITS.test(value) && onRetry !== undefined) onRetry(parseInt(value, 10));
        break;
      default:
      // Unknown fields are ignored, so that new fields can be added to the format.
    }
  }

  // One complete line [start, end), never empty (the empty line is handled by callers).
  function line(s: string, start: number, end: number): void {
    const c = s.charCodeAt(start);
    // `data:` is most lines of most streams: recognised by char codes, no slice of the name.
    if (
      c === 100 &&
      s.charCodeAt(start + 4) === COLON &&
      s.charCodeAt(start + 1) === 97 &&
      s.charCodeAt(start + 2) === 116 &&
      s.charCodeAt(start + 3) === 97 &&
      start + 4 < end
    ) {
      const value = s.slice(s.charCodeAt(start + 5) === SPACE && start + 5 < end ? start + 6 : start + 5, end);
      if (hasData) data += '\n' + value;
      else {
        data = value;
        hasData = true;
      }
      return;
    }
    if (c === COLON) {
      // A comment. Sliced only when someone listens.
      if (onComment !== undefined) {
        onComment(s.slice(start + 1 < end && s.charCodeAt(start + 1) === SPACE ? start + 2 : start + 1, end));
      }
      return;
    }
    // A line with a colon splits at the first one; a line without is all name, empty value.
    let colon = s.indexOf(':', start);
    if (colon === -1 || colon > end) colon = end;
    field(s, start, colon, end);
  }

  // Runs the complete lines of `s` from `pos`; keeps the incomplete rest in `pending`.
  function lines(s: string, pos: number): void {
    const n = s.length;
    let cr = s.indexOf('\r', pos);
    let lf = s.indexOf('\n', pos);
    if (cr === -1) {
      // LF-only streams (nearly all servers): one indexOf per line.
      while (lf !== -1) {
        if (lf - pos > maxLen) tooLong();
        if (lf === pos) dispatch();
        else line(s, pos, lf);
        pos = lf + 1;
        lf = s.indexOf('\n', pos);
      }
    } else {
      // CR, LF and CRLF all end a line. Both next positions are cached and each is
      // searched again only once passed, so a lone CR far ahead is not rescanned per line.
      for (;;) {
        const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
        if (end === -1) break;
        if (end - pos > maxLen) tooLong();
        if (end === pos) dispatch();
        else line(s, pos, end);
        if (end === cr) {
          pos = cr + 1;
          if (pos === n) {
            skipLF = true;
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
    if (pos < n) {
      const rest = n - pos;
      if (rest > maxLen) tooLong();
      pending.push(pos === 0 ? s : s.slice(pos));
      pendingLength = rest;
    }
  }

  function text(s: string): void {
    let pos = 0;
    if (atStreamStart) {
      if (s.length === 0) return;
      atStreamStart = false;
      // "One leading U+FEFF BYTE ORDER MARK character must be ignored if any are
      // present": one only, so a second BOM is part of the first field name.
      if (s.charCodeAt(0) === BOM) pos = 1;
    }
    if (skipLF) {
      if (pos === s.length) return;
      skipLF = false;
      if (s.charCodeAt(pos) === LF) pos++;
    }
    if (pendingLength === 0) {
      lines(s, pos);
      return;
    }
    // Still no line end: add a fragment, do not concatenate (see `pending`).
    // (skipLF cannot be set here: a chunk ending in CR leaves nothing pending.)
    if (s.indexOf('\n') === -1 && s.indexOf('\r') === -1) {
      pendingLength += s.length;
      if (pendingLength > maxLen) tooLong();
      pending.push(s);
      return;
    }
    pending.push(s);
    const joined = pending.join('');
    pending.length = 0;
    pendingLength = 0;
    lines(joined, 0);
  }

  function feed(chunk: string | Uint8Array): void {
    if (typeof chunk === 'string') {
      // Bytes left in the decoder from a byte chunk cannot continue a string: flush them.
      if (decoderUsed) {
        decoderUsed = false;
        const rest = decoder.decode();
        if (rest.length !== 0) text(rest);
      }
      text(chunk);
      return;
    }
    decoderUsed = true;
    // `stream: true` keeps a multi-byte character split across chunks for the next call.
    text(decoder.decode(chunk, { stream: true }));
  }

  function clearStream(): void {
    // A flush can only yield U+FFFD for a truncated character, never a line end,
    // so it cannot complete an event: discarding it with the rest is the spec.
    if (decoderUsed) decoder.decode();
    decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    decoderUsed = false;
    pending.length = 0;
    pendingLength = 0;
    atStreamStart = true;
    skipLF = false;
    data = '';
    hasData = false;
    eventType = '';
  }

  return {
    feed,
    end() {
      // "If the file ends in the middle of an event, before the final empty line,
      // the incomplete event is not dispatched." An `id` of that event is dropped
      // too; the next stream (a reconnection) starts from the last dispatched id,
      // as browsers do.
      clearStream();
      idBuffer = lastEventId;
    },
    reset() {
      clearStream();
      idBuffer = '';
      lastEventId = '';
    },
    get lastEventId() {
      return lastEventId;
    },
  };
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
    if (options === null || typeof options !== 'object') {
      throw new SSETypeError(
        ErrorCode.INVALID_OPTION,
        `SSEParser: options must be an object like { maxLineLength }; got ${describe(options)}`,
      );
    }
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
      if (typeof chunk === 'string' && encoding !== 'utf8' && encoding !== 'utf-8') {
        // e.g. write(hex, 'hex'): the string stands for bytes, not text.
        this.#parser.feed(Buffer.from(chunk, encoding));
      } else {
        this.#parser.feed(chunk as string | Uint8Array);
      }
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
