/**
 * The WHATWG "event stream interpretation" algorithm: text in, callbacks out.
 * Its one entry point, {@link createReader}, takes options already checked by
 * `parser.ts` (`createParser`); nothing here validates or allocates per line
 * more than the spec's steps need. No `node:` import: it runs on any runtime.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import { ErrorCode, SSEError } from './errors.js';
import type { EventStreamParser, ServerSentEvent } from './parser.js';

const LF = 10;
const SPACE = 32;
const COLON = 58;
const BOM = 0xfeff;
const DIGITS = /^[0-9]+$/;
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

/** The bounds of a reader and what it does past them: `ParseOptions`, checked, defaults applied. */
export interface ReaderLimits {
  /** Undefined: `feed()` throws the chunk's first limit error once it has parsed the chunk. */
  onError: ((error: SSEError) => void) | undefined;
  /** 0: no limit. */
  maxLineLength: number;
  /** 0: no limit. */
  maxEventSize: number;
}

/** What a reader runs with: `createParser`'s options, checked, defaults applied. */
export interface ReaderConfig extends ReaderLimits {
  onEvent(event: ServerSentEvent): void;
  onRetry: ((ms: number) => void) | undefined;
  onComment: ((text: string) => void) | undefined;
}

/** A reader over `config`: the engine behind `createParser`. */
export function createReader(config: ReaderConfig): EventStreamParser {
  return new Reader(config);
}

// A class, not closures: its methods are the same functions for every parser, so
// V8 keeps them inlined when a process parses many streams (with per-parser
// closures the hot loop deoptimized on "wrong call target", ~10% slower).
class Reader implements EventStreamParser {
  readonly #onEvent: (event: ServerSentEvent) => void;
  readonly #onRetry: ((ms: number) => void) | undefined;
  readonly #onComment: ((text: string) => void) | undefined;
  readonly #onError: ((error: SSEError) => void) | undefined;
  readonly #maxLineLength: number;
  readonly #maxEventSize: number;
  // Infinity for "no limit" keeps each check one comparison, no branch.
  readonly #maxLen: number;
  readonly #maxEvent: number;
  // #maxEvent, or -1 while the rest of an event that broke a bound is skipped, up
  // to its blank line: every size check then fails into #skip(), so that no hot
  // path tests a flag of its own. (#hasData is then true, which keeps one-line
  // events off the fast path and sends the blank line to #dispatch().)
  #eventLimit: number;
  // The rest of a too-long line is being dropped as it arrives.
  #skipLine = false;
  // Without onError: the chunk's first limit error, thrown once feed() is done.
  #error: SSEError | undefined = undefined;
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

  constructor(config: ReaderConfig) {
    this.#onEvent = config.onEvent;
    this.#onRetry = config.onRetry;
    this.#onComment = config.onComment;
    this.#onError = config.onError;
    this.#maxLineLength = config.maxLineLength;
    this.#maxEventSize = config.maxEventSize;
    this.#maxLen = config.maxLineLength === 0 ? Infinity : config.maxLineLength;
    this.#maxEvent = this.#eventLimit = config.maxEventSize === 0 ? Infinity : config.maxEventSize;
  }

  get lastEventId(): string {
    return this.#lastEventId;
  }

  feed(chunk: string | Uint8Array): void {
    // Left by a chunk a callback threw out of: not this chunk's.
    this.#error = undefined;
    if (typeof chunk === 'string') {
      // Bytes left in the decoder from a byte chunk cannot continue a string: flush them.
      if (this.#decoderUsed) {
        this.#decoderUsed = false;
        const rest = this.#decoder.decode();
        if (rest.length !== 0) this.#text(rest);
      }
      this.#text(chunk);
    } else {
      this.#decoderUsed = true;
      // `stream: true` keeps a multi-byte character split across chunks for the next call.
      this.#text(this.#decoder.decode(chunk, STREAM));
    }
    // Thrown only now, so that the events after a skipped one in this chunk are
    // dispatched and the state is ready for the next chunk.
    const error = this.#error;
    if (error !== undefined) {
      this.#error = undefined;
      throw error;
    }
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
    this.#colonIn = '';
    this.#head = '';
    this.#more = [];
    this.#pendingLength = 0;
    this.#atStreamStart = true;
    this.#skipLF = false;
    this.#data = '';
    this.#hasData = false;
    this.#eventType = '';
    this.#eventLimit = this.#maxEvent;
    this.#skipLine = false;
  }

  // A line longer than maxLineLength: skipped with its event. If it is still
  // incomplete, its rest is dropped as it arrives (#skipRest), never held.
  #tooLong(incomplete: boolean): void {
    if (incomplete) {
      this.#head = '';
      this.#more = [];
      this.#pendingLength = 0;
      this.#skipLine = true;
    }
    this.#skip(ErrorCode.LINE_TOO_LONG);
  }

  // Skips the event being read, up to its blank line (see #eventLimit), with
  // everything it set: data, type, and its `id` (the buffer is back to the last
  // dispatched id, which it always equals when an event starts). One error per event.
  #skip(code: typeof ErrorCode.LINE_TOO_LONG | typeof ErrorCode.EVENT_TOO_LARGE): void {
    const first = this.#eventLimit >= 0;
    this.#eventLimit = -1;
    this.#data = '';
    this.#hasData = true;
    this.#eventType = '';
    this.#idBuffer = this.#lastEventId;
    if (!first) return;
    const skipped = 'the event was skipped, up to its blank line';
    const error = new SSEError(
      code,
      code === ErrorCode.LINE_TOO_LONG
        ? `event stream line longer than maxLineLength (${this.#maxLineLength} characters): ${skipped}; raise maxLineLength, or set it to 0 for no limit`
        : this.#maxEventSize !== 0
          ? `event larger than maxEventSize (${this.#maxEventSize} characters of data and type): ${skipped}; raise maxEventSize, or set it to 0 for no limit`
          : `event larger than the longest string this JavaScript engine can hold: ${skipped}`,
    );
    const onError = this.#onError;
    if (onError !== undefined) onError(error);
    else if (this.#error === undefined) this.#error = error;
  }

  // Drops the rest of a too-long line from `s`: where the next line starts, or -1.
  #skipRest(s: string, pos: number): number {
    const cr = s.indexOf('\r', pos);
    const lf = s.indexOf('\n', pos);
    if (cr === -1 && lf === -1) return -1;
    this.#skipLine = false;
    if (cr === -1 || (lf !== -1 && lf < cr)) return lf + 1;
    if (cr + 1 === s.length) {
      this.#skipLF = true;
      return -1;
    }
    return s.charCodeAt(cr + 1) === LF ? cr + 2 : cr + 1;
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
      if (this.#skipLine && (pos = this.#skipRest(s, pos)) === -1) return;
      this.#lines(s, pos, s.indexOf('\r', pos), s.indexOf('\n', pos));
      return;
    }
    // A line is pending (so pos is 0: no BOM, no skipped LF). Still no line end:
    // add a fragment, do not concatenate (see #head).
    const lf = s.indexOf('\n');
    const cr = s.indexOf('\r');
    const more = this.#more;
    if (lf === -1 && cr === -1) {
      if (held + s.length > this.#maxLen) return this.#tooLong(true);
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
          if (lf - pos > maxLen) this.#tooLong(false);
          else if (isData(s, pos)) {
            const value = valueAt(s, pos + 4, lf);
            // A one-line event (`data: x` then a blank line), the most common, goes
            // straight out without passing through the data buffer; one too large
            // goes on to #appendData(), which skips it.
            if (!this.#hasData && s.charCodeAt(lf + 1) === LF && value.length + this.#eventType.length <= this.#eventLimit) {
              this.#lastEventId = this.#idBuffer; // dispatch step 1
              this.#emit(value);
              pos = lf + 2;
              lf = s.indexOf('\n', pos);
              continue;
            }
            this.#appendData(value);
          } else if (isEvent(s, pos)) {
            this.#setType(valueAt(s, pos + 5, lf));
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
        if (end - pos > maxLen) this.#tooLong(false);
        else if (end === pos) this.#dispatch();
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
      if (n - pos > maxLen) return this.#tooLong(true);
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
      this.#setType(valueAt(s, start + 5, end));
    } else if (isId(s, start)) {
      this.#setId(valueAt(s, start + 2, end));
    } else this.#otherLine(s, start, end);
  }

  // Comments, `retry`, and fields written unusually (`data` without colon, ...).
  #otherLine(s: string, start: number, end: number): void {
    // In an event being skipped, these are skipped too.
    if (this.#eventLimit < 0) return;
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
        this.#setType(value);
        break;
      case 'data':
        this.#appendData(value);
        break;
      case 'id':
        this.#setId(value);
        break;
      case 'retry': {
        // "If the field value consists of only ASCII digits": else ignored. So is
        // a value past 2^53 - 1: parseInt would round it, or give Infinity.
        const onRetry = this.#onRetry;
        if (onRetry === undefined || !DIGITS.test(value)) break;
        const ms = parseInt(value, 10);
        if (ms <= Number.MAX_SAFE_INTEGER) onRetry(ms);
        break;
      }
      default:
      // "Otherwise, the field is ignored", so that the format can grow new fields.
    }
  }

  // `data`: "append the field value to the data buffer, then append a single LF".
  // The event's size is checked here, where the buffer grows, not per line.
  #appendData(value: string): void {
    const type = this.#eventType.length;
    if (!this.#hasData) {
      if (value.length + type > this.#eventLimit) return this.#skip(ErrorCode.EVENT_TOO_LARGE);
      this.#data = value;
      this.#hasData = true;
      return;
    }
    const data = this.#data;
    if (data.length + 1 + value.length + type > this.#eventLimit) return this.#skip(ErrorCode.EVENT_TOO_LARGE);
    try {
      this.#data = data + '\n' + value;
    } catch {
      // Without maxEventSize: past the engine's longest string (V8: 2^29 - 24),
      // a RangeError that would leave a corrupted event behind.
      this.#skip(ErrorCode.EVENT_TOO_LARGE);
    }
  }

  // `event`: "set the event type buffer to field value", counted in the event's size.
  #setType(value: string): void {
    if (value.length + this.#data.length > this.#eventLimit) this.#skip(ErrorCode.EVENT_TOO_LARGE);
    else this.#eventType = value;
  }

  // `id`: "if the field value does not contain U+0000 NULL"; else the field is ignored.
  #setId(value: string): void {
    if (value.indexOf('\0') === -1) this.#idBuffer = value;
  }

  // "Dispatch the event", steps 1-7 (step 8, queueing a task, is the caller's).
  #dispatch(): void {
    // The blank line that ends a skipped event: nothing of it is dispatched or kept.
    if (this.#eventLimit < 0) {
      this.#eventLimit = this.#maxEvent;
      this.#data = '';
      this.#hasData = false;
      this.#eventType = '';
      this.#idBuffer = this.#lastEventId;
      return;
    }
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
