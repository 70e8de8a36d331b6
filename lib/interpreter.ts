/**
 * Complete lines -> events: the WHATWG steps for each line of an event stream
 * (comments, fields, blank lines), the spec's buffers and "dispatch the event",
 * and the bounds on a line and an event. `reader.ts` hands it text made of whole
 * lines; decoding and lines cut across chunks are its business. No `node:` import.
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import { ErrorCode, stateError, type SSEError } from './errors.js';
import type { ServerSentEvent } from './parser.js';
import type { ReaderConfig } from './reader.js';

const LF = 10;
const SPACE = 32;
const COLON = 58;
const DIGITS = /^[0-9]+$/;

// Whether the line at `i` starts with `data:` / `event:` / `id:`, by char codes: no slice
// of the field name and no switch for nearly every line of a stream. A charCodeAt
// is not free (~25 instructions: V8 checks the string's representation each time),
// so the hot loop reads as few as it can. No bounds checks: a complete line is
// always followed by its CR or LF, which matches none.
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

/** The reader's second half: feed it complete lines with {@link Interpreter.lines}. */
export class Interpreter {
  // TS `private`, not `#`: an exported class (see parser-stream.ts).
  private readonly onEvent: (event: ServerSentEvent) => void;
  private readonly onRetry: ((ms: number) => void) | undefined;
  private readonly onComment: ((text: string) => void) | undefined;
  private readonly onError: ((error: SSEError) => void) | undefined;
  private readonly maxLineLength: number;
  private readonly maxEventSize: number;
  // Infinity for "no limit" keeps each check one comparison, no branch.
  private readonly maxLen: number;
  private readonly maxEvent: number;
  // maxEvent, or -1 while the rest of an event that broke a bound is skipped, up
  // to its blank line: every size check then fails into skip(), so that no hot
  // path tests a flag of its own. (hasData is then true, which keeps one-line
  // events off the fast path and sends the blank line to dispatch().)
  private eventLimit: number;
  // Without onError: the first limit error since takeError().
  private error: SSEError | undefined = undefined;
  // The spec's buffers. `hasData` stands for "data buffer is not empty": every
  // `data` field appends at least an LF, so it is non-empty iff one was seen;
  // lines are joined with LF instead of appending LF and stripping the last one.
  private data = '';
  private hasData = false;
  private eventType = '';
  private idBuffer = '';
  private lastId = '';
  // See otherLine(): the text last searched for a colon, and the first colon at or
  // after the line that searched (the text's length if none).
  private colonIn = '';
  private colonAt = 0;
  // See idAt(): no U+0000 from the last `id` that looked up to here (-1: none looked).
  private nulFreeTo = -1;
  // What joinData() returns besides the joined value: the LF ending the last line
  // it took, and whether the line after that is incomplete (no more lines in the text).
  private joinedTo = 0;
  private joinedAll = false;

  constructor(config: ReaderConfig) {
    this.onEvent = config.onEvent;
    this.onRetry = config.onRetry;
    this.onComment = config.onComment;
    this.onError = config.onError;
    this.maxLineLength = config.maxLineLength;
    this.maxEventSize = config.maxEventSize;
    this.maxLen = config.maxLineLength === 0 ? Infinity : config.maxLineLength;
    this.maxEvent = this.eventLimit = config.maxEventSize === 0 ? Infinity : config.maxEventSize;
  }

  /** The `id` of the last dispatched event, persisting. */
  get lastEventId(): string {
    return this.lastId;
  }

  /** Without `onError`: the first limit error since the last call, to be thrown. */
  takeError(): SSEError | undefined {
    const error = this.error;
    this.error = undefined;
    return error;
  }

  /**
   * The stream ended (`reset`: and is forgotten). "If the file ends in the middle of
   * an event, before the final empty line, the incomplete event is not dispatched."
   * Its `id` too: a reconnection starts from the last dispatched id, as browsers do.
   */
  endStream(reset: boolean): void {
    if (reset) this.lastId = '';
    this.clearEvent();
    this.colonIn = '';
  }

  // The buffers as at an event's start, where the id buffer is the last dispatched id.
  private clearEvent(): void {
    this.idBuffer = this.lastId;
    this.data = '';
    this.hasData = false;
    this.eventType = '';
    this.eventLimit = this.maxEvent;
  }

  /**
   * Runs the complete lines of `s` from `pos`, given the first CR and LF at or
   * after it (-1: none). Returns where the incomplete rest starts (`s.length` if
   * none); a CR that ends `s` was taken as a line end.
   */
  lines(s: string, pos: number, cr: number, lf: number): number {
    const maxLen = this.maxLen;
    const n = s.length;
    this.nulFreeTo = -1;
    if (cr === -1) {
      // LF-only streams (nearly all servers): one indexOf per line, and line()
      // written out here: V8 does not inline it into this loop.
      while (lf !== -1) {
        if (lf === pos) {
          this.dispatch();
          pos = lf + 1;
        } else {
          if (lf - pos > maxLen) this.skip(ErrorCode.LINE_TOO_LONG);
          else if (isData(s, pos)) {
            let value = valueAt(s, pos + 4, lf);
            // The next line's first char, read in bounds only: one read past the end of
            // `s` deoptimizes this loop into a slower charCodeAt for good (~8% of the
            // instructions on 5-line events in 64-char chunks, measured with cachegrind).
            let next = lf + 1 < n ? s.charCodeAt(lf + 1) : -1;
            // An event's first `data` line with more after it (a multi-line value):
            // joined in joinData()'s tighter loop (~9% of the instructions on 5-line events).
            if (next === 100 && !this.hasData) {
              value = this.joinData(s, value, lf);
              lf = this.joinedTo;
              if (this.joinedAll) {
                // The line after is incomplete (searched already): no more to run in `s`.
                this.appendData(value);
                pos = lf + 1;
                break;
              }
              next = lf + 1 < n ? s.charCodeAt(lf + 1) : -1;
            }
            // The blank line that ends an event is taken here, after its last `data`
            // line (where servers put it), not on a pass of its own: one indexOf less
            // per event (~20% on `data: x\n\n` streams). Not looked for after other
            // lines: that char read cost more than the rare indexOf it saves (~3% of
            // the instructions on `event`/`id`/`data` events).
            if (next === LF) {
              // A one-line event (`data: x` then a blank line), the most common, goes
              // straight out without passing through the data buffer; one too large
              // goes to appendData(), which skips it.
              if (!this.hasData && value.length + this.eventType.length <= this.eventLimit) {
                this.lastId = this.idBuffer; // dispatch step 1
                this.emit(value);
              } else {
                this.appendData(value);
                this.dispatch();
              }
              pos = lf + 2;
              lf = s.indexOf('\n', pos);
              continue;
            }
            this.appendData(value);
          } else if (isEvent(s, pos)) {
            this.setType(valueAt(s, pos + 5, lf));
          } else if (isId(s, pos)) {
            this.idAt(s, pos + 2, lf);
          } else this.otherLine(s, pos, lf);
          pos = lf + 1;
        }
        lf = s.indexOf('\n', pos);
      }
    } else {
      // CR, LF and CRLF all end a line. Both next positions are cached and each is
      // searched again only once passed, so a lone CR far ahead is not rescanned per line.
      for (;;) {
        const end = cr !== -1 && (lf === -1 || cr < lf) ? cr : lf;
        if (end === -1) break;
        if (end - pos > maxLen) this.skip(ErrorCode.LINE_TOO_LONG);
        else if (end === pos) this.dispatch();
        else this.line(s, pos, end);
        pos = end + 1;
        if (end === lf) lf = s.indexOf('\n', pos);
        else {
          if (lf === pos) {
            pos++;
            lf = s.indexOf('\n', pos);
          }
          cr = s.indexOf('\r', pos);
        }
      }
    }
    // Drop the reference so the chunk can be collected.
    this.colonIn = '';
    return pos;
  }

  // One complete, non-empty line [start, end): the spec's per-line steps.
  private line(s: string, start: number, end: number): void {
    if (isData(s, start)) this.appendData(valueAt(s, start + 4, end));
    else if (isEvent(s, start)) this.setType(valueAt(s, start + 5, end));
    else if (isId(s, start)) this.idAt(s, start + 2, end);
    else this.otherLine(s, start, end);
  }

  // Comments, `retry`, and fields written unusually (`data` without colon, ...).
  private otherLine(s: string, start: number, end: number): void {
    // In an event being skipped, these are skipped too.
    if (this.eventLimit < 0) return;
    // "If the line starts with a U+003A COLON character (:)": a comment.
    if (s.charCodeAt(start) === COLON) {
      const onComment = this.onComment;
      if (onComment !== undefined) onComment(valueAt(s, start, end));
      return;
    }
    // "If the line contains a U+003A COLON character", field is before the first
    // one, value after it; "otherwise" the whole line is the field, value empty.
    // The next colon is cached: searched from each line, a run of colon-free lines
    // would rescan to the end of the chunk every time (quadratic).
    if (this.colonIn !== s || this.colonAt < start) {
      this.colonIn = s;
      const at = s.indexOf(':', start);
      this.colonAt = at === -1 ? s.length : at;
    }
    const colon = this.colonAt < end ? this.colonAt : end;
    // "If value starts with a U+0020 SPACE character, remove it from value": one only.
    const value = colon === end ? '' : valueAt(s, colon, end);
    // "Process the field": names are compared literally, with no case folding.
    switch (s.slice(start, colon)) {
      case 'event':
        this.setType(value);
        break;
      case 'data':
        this.appendData(value);
        break;
      case 'id':
        this.idAt(s, colon, end);
        break;
      case 'retry': {
        // "If the field value consists of only ASCII digits": else ignored. So is
        // a value past 2^53 - 1: parseInt would round it, or give Infinity.
        const onRetry = this.onRetry;
        if (onRetry === undefined || !DIGITS.test(value)) break;
        const ms = parseInt(value, 10);
        if (ms <= Number.MAX_SAFE_INTEGER) onRetry(ms);
        break;
      }
      default:
      // "Otherwise, the field is ignored", so that the format can grow new fields.
    }
  }

  // The first `data` line of an event, `value` ending at `lf`, and the `data` lines
  // right after it, joined in a local before the data buffer is touched once. Stops
  // at the first line it cannot take as is (incomplete, too long, too large: the main
  // loop takes it); sets joinedTo and joinedAll.
  private joinData(s: string, value: string, lf: number): string {
    const room = this.eventLimit - this.eventType.length;
    const maxLen = this.maxLen;
    const n = s.length;
    let next = lf + 1;
    // `next + 5 < n`: the `data:` of the next line is there to read, in bounds.
    while (value.length <= room && next + 5 < n && isData(s, next)) {
      const end = s.indexOf('\n', next);
      if (end === -1) {
        this.joinedTo = lf;
        this.joinedAll = true;
        return value;
      }
      if (end - next > maxLen) break;
      const more = valueAt(s, next + 4, end);
      if (value.length + 1 + more.length > room) break;
      // Never a RangeError: every piece comes from `s`, so `value` stays shorter.
      value = value + '\n' + more;
      lf = end;
      next = end + 1;
    }
    this.joinedTo = lf;
    this.joinedAll = false;
    return value;
  }

  // `data`: "append the field value to the data buffer, then append a single LF".
  // The event's size is checked here, where the buffer grows, not per line.
  private appendData(value: string): void {
    const type = this.eventType.length;
    if (!this.hasData) {
      if (value.length + type > this.eventLimit) return this.skip(ErrorCode.EVENT_TOO_LARGE);
      this.data = value;
      this.hasData = true;
      return;
    }
    const data = this.data;
    if (data.length + 1 + value.length + type > this.eventLimit) return this.skip(ErrorCode.EVENT_TOO_LARGE);
    try {
      this.data = data + '\n' + value;
    } catch {
      // Without maxEventSize: past the engine's longest string (V8: 2^29 - 24),
      // a RangeError that would leave a corrupted event behind.
      this.skip(ErrorCode.EVENT_TOO_LARGE);
    }
  }

  // `event`: "set the event type buffer to field value", counted in the event's size.
  private setType(value: string): void {
    if (value.length + this.data.length > this.eventLimit) this.skip(ErrorCode.EVENT_TOO_LARGE);
    else this.eventType = value;
  }

  // `id` with its colon at `colon` (`end`: no value): "if the field value does not
  // contain U+0000 NULL", else the field is ignored. NUL is looked for in the next
  // 4 Ki characters at once: not with one indexOf call per id (~100 instructions,
  // ~4% of an `event`/`id`/`data` event's), nor in the whole text (reading 10 MB
  // once more takes ~0.1 ms, ~5% of a pass over ~300 B events).
  private idAt(s: string, colon: number, end: number): void {
    const start = colon === end ? end : s.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1;
    if (end > this.nulFreeTo) {
      const window = s.slice(start, Math.max(end, start + 4096));
      const at = window.indexOf('\0');
      this.nulFreeTo = start + (at === -1 ? window.length : at);
      if (end > this.nulFreeTo) return;
    }
    this.idBuffer = s.slice(start, end);
  }

  /**
   * Skips the event being read, up to its blank line (see `eventLimit`), with
   * everything it set: data, type, and its `id` (the buffer is back to the last
   * dispatched id, which it always equals when an event starts). One error per event.
   */
  skip(code: typeof ErrorCode.LINE_TOO_LONG | typeof ErrorCode.EVENT_TOO_LARGE): void {
    const first = this.eventLimit >= 0;
    this.eventLimit = -1;
    this.data = '';
    this.hasData = true;
    this.eventType = '';
    this.idBuffer = this.lastId;
    if (!first) return;
    const error =
      code === ErrorCode.LINE_TOO_LONG
        ? stateError('ERR_SSE_LINE_TOO_LONG', this.maxLineLength)
        : stateError('ERR_SSE_EVENT_TOO_LARGE', this.maxEventSize);
    const onError = this.onError;
    if (onError !== undefined) onError(error);
    else if (this.error === undefined) this.error = error;
  }

  // "Dispatch the event", steps 1-7 (step 8, queueing a task, is the caller's).
  private dispatch(): void {
    // The blank line that ends a skipped event: nothing of it is dispatched or kept.
    if (this.eventLimit < 0) return this.clearEvent();
    // 1. The buffer is not reset: the id persists until the server sends another.
    this.lastId = this.idBuffer;
    // 2. An event without data (e.g. only an `id`) updates the id, dispatches nothing.
    if (!this.hasData) {
      this.eventType = '';
      return;
    }
    const data = this.data;
    this.data = '';
    this.hasData = false;
    this.emit(data);
  }

  // Dispatch steps 3-7 for `data` (the data buffer, read and reset by the caller).
  private emit(data: string): void {
    // 3-6. No trailing LF to remove (see hasData); the type defaults to `message`.
    const type = this.eventType;
    const event: ServerSentEvent = { type: type === '' ? 'message' : type, data, lastEventId: this.lastId };
    // 7. Reset before calling out, so that a callback that throws leaves a clean state.
    this.eventType = '';
    const onEvent = this.onEvent;
    onEvent(event);
  }
}
