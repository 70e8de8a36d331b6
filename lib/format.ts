/**
 * The wire format: message -> `text/event-stream` text. The only module that
 * knows the field syntax. Everything is validated here, once, before a byte is
 * produced, so no input can put a line break where the client would read a new
 * field or the end of an event (field injection). Neutral: no `node:` import.
 */
import { MAX_TIMER_MS, caused, rangeError, typeError } from './errors.js';
import type { EventMap, MessageOf, PreparedEvent, SSEInput, SSEMessage } from './types.js';

// Prefixes hoisted: V8 keeps them as constants and `+` builds a rope, flattened
// once when the batch is turned into bytes.
const DATA = 'data: ';
const EVENT = 'event: ';
const ID = 'id: ';
const RETRY = 'retry: ';
const COMMENT = ': ';
const LF = '\n';
const DIGITS = /^[0-9]+$/;
// Up to this many UTF-16 units a multi-line value is split by one loop of `+=`;
// longer ones in blocks of lines joined with Array#join (see splitLines).
const SHORT_TEXT = 4096;
const LINES_PER_BLOCK = 2048;

/** The `:ok` comment ssestream writes before the first event (some clients fire `open` only on the first bytes). */
export const PREAMBLE = ':ok\n\n';

/** A comment with nothing in it: the cheapest keep-alive a client ignores. */
export const HEARTBEAT = ':\n\n';

/** What a stream sends first: the preamble, then a `retry:` hint when one is configured. */
export function preamble(retry: number | undefined): string {
  return retry === undefined ? PREAMBLE : `${PREAMBLE}${RETRY}${retry}${LF}${LF}`;
}

/**
 * Serialize one message to the exact text of its event on the wire, ending with
 * the blank line that dispatches it. Throws `SSETypeError`/`SSERangeError` (with
 * a `code`) for input that cannot be sent faithfully. A prepared event gives its frame.
 */
export function serialize<E extends object = EventMap>(message: NoInfer<MessageOf<E> | PreparedEvent<E>>): string {
  if (typeof message === 'string') return dataLines(message) + LF;
  // Plain objects first: an instanceof walk on every write is measurable (bench/serializer).
  if (isLiteral(message)) return build(message, null);
  if (message instanceof Prepared) return message.frame;
  if (!isPlainObject(message)) throw typeError('ERR_SSE_INVALID_MESSAGE', message);
  return build(message, null);
}

/**
 * Validate and serialize `message` once: the result is immutable, and `write()`
 * of any stream (and `Channel.write()`) sends its frame as is. With an event map,
 * `prepare<Events>({ event: 'chat', data })` checks `data` against `chat`, and
 * the event is accepted by streams and channels of that map (the map is never
 * inferred from the message: untyped unless given).
 */
export function prepare<E extends object = EventMap>(message: NoInfer<MessageOf<E> | PreparedEvent<E>>): PreparedEvent<E> {
  if (message instanceof Prepared) return message as unknown as PreparedEvent<E>;
  if (typeof message === 'string') return new Prepared(undefined, 'message', message, dataLines(message) + LF, 0, 0, true) as unknown as PreparedEvent<E>;
  if (!isPlainObject(message)) throw typeError('ERR_SSE_INVALID_MESSAGE', message);
  const meta: Meta = { type: 'message', id: undefined, idStart: 0, idEnd: 0, hasData: false };
  const frame = build(message, meta);
  return new Prepared(meta.id, meta.type, message as SSEMessage, frame, meta.idStart, meta.idEnd, meta.hasData) as unknown as PreparedEvent<E>;
}

/** Whether `value` was made by `prepare()` (of this copy of the library). */
export function isPrepared(value: unknown): value is PreparedEvent {
  return value instanceof Prepared;
}

/**
 * The same event with `id` as its id (replacing any id it had): how a history
 * or a broker gives an id to an event written without one. `id` must be valid.
 */
export function withId(event: PreparedEvent, id: string): PreparedEvent {
  const e = event as Prepared;
  const frame = e.frame.slice(0, e.idStart) + ID + id + LF + e.frame.slice(e.idEnd);
  const idEnd = e.idStart + ID.length + id.length + 1;
  return new Prepared(id, e.type, e.message, frame, e.idStart, idEnd, e.hasData);
}

/** Whether the event has data, so clients dispatch it (a history keeps those, not bare comments or retries). */
export function dispatches(event: PreparedEvent): boolean {
  return (event as Prepared).hasData;
}

/**
 * An event whose frame was made by `prepare()` in another process and kept by
 * a broker: checked to be exactly one well-formed event (lines of known fields,
 * one blank line at the end), so stored bytes cannot forge anything.
 * Returns undefined when it is not.
 */
export function fromFrame(frame: string, id: string, type: string, message: SSEInput): PreparedEvent | undefined {
  if (!wellFormed(frame)) return undefined;
  // The id line goes after the comment and event lines (the field order of build()).
  let idStart = 0;
  while (frame.startsWith(COMMENT.charAt(0), idStart) || frame.startsWith(EVENT, idStart)) idStart = frame.indexOf(LF, idStart) + 1;
  const idEnd = frame.startsWith(ID, idStart) ? frame.indexOf(LF, idStart) + 1 : idStart;
  return new Prepared(id, type, message, frame, idStart, idEnd, frame.startsWith('data:') || frame.includes(LF + 'data:'));
}

/** Whether `text` can be an event id: no CR or LF (they would forge fields) and no U+0000 (clients ignore such an id). */
export function isValidId(text: string): boolean {
  return text.indexOf('\n') === -1 && text.indexOf('\r') === -1 && text.indexOf('\0') === -1;
}

/** `data: line\n` for every line of `text`, split on CRLF, CR and LF. */
export function dataLines(text: string): string {
  // Two indexOf scans beat RegExp#test on the short strings most events carry
  // (bench/profile.ts: the RegExp was 2.6% of the server's time).
  if (text.indexOf('\n') === -1 && text.indexOf('\r') === -1) return DATA + text + LF;
  return splitLines(DATA, text);
}

// The one class of prepared events: `instanceof` is how write() knows a frame
// needs no validation. Not exported: only this module makes frames.
class Prepared implements PreparedEvent {
  constructor(
    readonly id: string | undefined,
    readonly type: string,
    readonly message: SSEInput,
    readonly frame: string,
    /** Where an `id:` line goes in `frame` (after comment and event), and where it ends. */
    readonly idStart: number,
    readonly idEnd: number,
    readonly hasData: boolean,
  ) {
    Object.freeze(this);
  }
}

/** What prepare() keeps besides the frame: filled by build() when asked. */
interface Meta {
  type: string;
  id: string | undefined;
  idStart: number;
  idEnd: number;
  hasData: boolean;
}

/**
 * Validate the fields of a message object (each read once) and build its frame.
 * `meta` only for prepare(): a plain write() allocates nothing but the frame.
 */
function build(message: unknown, meta: Meta | null): string {
  const { comment, event, id, retry, data } = message as SSEMessage;
  let out = '';
  if (comment !== undefined && comment !== null) out = commentLines(comment);
  let type = 'message';
  if (event !== undefined && event !== null && event !== '') {
    type = checkEvent(event);
    out += EVENT + type + LF;
  }
  const idStart = out.length;
  let idValue: string | undefined;
  if (id !== undefined && id !== null) {
    idValue = idText(id);
    out += ID + idValue + LF;
  }
  const idEnd = out.length;
  if (retry !== undefined && retry !== null) out += RETRY + retryText(retry) + LF;
  if (data !== undefined) {
    // JSON.stringify escapes CR and LF inside strings, so its output is always one line.
    out += typeof data === 'string' ? dataLines(data) : DATA + jsonText(data) + LF;
  }
  if (meta !== null) {
    meta.type = type;
    meta.id = idValue;
    meta.idStart = idStart;
    meta.idEnd = idEnd;
    meta.hasData = data !== undefined;
  }
  return out + LF;
}

/** An object literal of this realm: the message nearly every write() gets. */
function isLiteral(value: unknown): boolean {
  return value !== null && typeof value === 'object' && (value as { constructor?: unknown }).constructor === Object;
}

// Plain objects only: a Buffer, Date, Map or Promise is not a message (it would
// send a bare blank line). A null prototype, or an Object.prototype of another realm, is fine.
function isPlainObject(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

function idText(id: unknown): string {
  if (typeof id === 'number') {
    if (!Number.isFinite(id)) throw rangeError('ERR_SSE_INVALID_ID', id);
    return String(id);
  }
  if (typeof id !== 'string') throw typeError('ERR_SSE_INVALID_ID', id);
  if (!isValidId(id)) throw typeError('ERR_SSE_INVALID_ID', id);
  return id;
}

function checkEvent(event: unknown): string {
  if (typeof event !== 'string' || event.indexOf('\n') !== -1 || event.indexOf('\r') !== -1) {
    throw typeError('ERR_SSE_INVALID_EVENT', event);
  }
  return event;
}

function retryText(retry: unknown): string {
  if (typeof retry === 'number') {
    if (Number.isInteger(retry) && retry >= 0 && retry <= MAX_TIMER_MS) return String(retry);
    throw rangeError('ERR_SSE_INVALID_RETRY', retry);
  }
  // Digits only, and no more than a timer can hold (400 digits would read as Infinity).
  if (typeof retry === 'string' && DIGITS.test(retry) && retry.length <= 64 && Number(retry) <= MAX_TIMER_MS) {
    return retry;
  }
  throw typeof retry === 'string' && DIGITS.test(retry)
    ? rangeError('ERR_SSE_INVALID_RETRY', retry)
    : typeError('ERR_SSE_INVALID_RETRY', retry);
}

function commentLines(comment: unknown): string {
  if (typeof comment !== 'string') throw typeError('ERR_SSE_INVALID_COMMENT', comment);
  if (comment.indexOf('\n') === -1 && comment.indexOf('\r') === -1) return COMMENT + comment + LF;
  return splitLines(COMMENT, comment);
}

function jsonText(data: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw caused(typeError('ERR_SSE_INVALID_DATA', data, `threw (${(err as Error).message})`), err);
  }
  if (text === undefined) throw typeError('ERR_SSE_INVALID_DATA', data, 'gave nothing');
  return text;
}

/**
 * Split on CRLF, CR or LF (one line end each) and prefix every line. Short text:
 * one loop of `+=`. Long text: lines joined in blocks, because a rope of one
 * cons string per line (`'\n'.repeat(10e6)`) peaked at 791 MB; blocks keep the
 * peak near twice the result.
 */
function splitLines(prefix: string, text: string): string {
  const n = text.length;
  if (n <= SHORT_TEXT) {
    // LF only (nearly every multi-line value): one native replaceAll, ~20% faster
    // than the loop below on 5-line events (bench/serializer).
    if (text.indexOf('\r') === -1) return prefix + text.replaceAll(LF, LF + prefix) + LF;
    let out = '';
    let start = 0;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || c === 13) {
        out += prefix + text.slice(start, i) + LF;
        if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
        start = i + 1;
      }
    }
    return out + prefix + text.slice(start) + LF;
  }
  const separator = LF + prefix;
  const blocks: string[] = [];
  let lines: string[] = [];
  let start = 0;
  let lf = text.indexOf('\n');
  let cr = text.indexOf('\r');
  for (;;) {
    const end = cr === -1 ? lf : lf !== -1 && lf < cr ? lf : cr;
    if (end === -1) break;
    lines.push(text.slice(start, end));
    if (end === cr) {
      start = cr + 1;
      if (lf === start) {
        start++;
        lf = text.indexOf('\n', start);
      }
      cr = text.indexOf('\r', start);
    } else {
      start = lf + 1;
      lf = text.indexOf('\n', start);
    }
    if (lines.length === LINES_PER_BLOCK) {
      blocks.push(lines.join(separator));
      lines = [];
    }
  }
  lines.push(text.slice(start));
  blocks.push(lines.join(separator));
  return prefix + blocks.join(separator) + LF;
}

// One event, as prepare() writes them: field lines (`name: value` or a comment),
// no CR, and exactly one blank line, at the end.
const FIELD_LINE = /^(?:data|event|id|retry)?:[^\r\n]*$/;

function wellFormed(frame: string): boolean {
  if (!frame.endsWith(LF + LF) || frame.indexOf('\r') !== -1) return false;
  const body = frame.slice(0, -2);
  if (body.indexOf(LF + LF) !== -1) return false;
  let start = 0;
  while (start <= body.length) {
    let end = body.indexOf(LF, start);
    if (end === -1) end = body.length;
    if (!FIELD_LINE.test(body.slice(start, end))) return false;
    start = end + 1;
  }
  return true;
}
