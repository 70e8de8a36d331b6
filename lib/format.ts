/**
 * The wire format: message -> `text/event-stream` text. The only module that
 * knows the field syntax. Everything is validated here, once, before a byte is
 * produced, so no input can put a line break where the client would read a new
 * field or the end of an event (field injection).
 */
import { ErrorCode, SSERangeError, SSETypeError, describe } from './errors.js';
import type { SSEInput, SSEMessage } from './types.js';

// Prefixes hoisted: V8 keeps them as constants and `+` builds a rope, flattened
// once when the batch is turned into bytes.
const DATA = 'data: ';
const EVENT = 'event: ';
const ID = 'id: ';
const RETRY = 'retry: ';
const COMMENT = ': ';
const LF = '\n';
const LINE_BREAK = /[\r\n]/;
const ID_FORBIDDEN = /[\r\n\0]/;
const DIGITS = /^[0-9]+$/;

/** The `:ok` comment ssestream writes before the first event (some clients fire `open` only on the first bytes). */
export const PREAMBLE = ':ok\n\n';

/** A comment with nothing in it: the cheapest keep-alive a client ignores. */
export const HEARTBEAT = ':\n\n';

/**
 * Serialize one message to the exact text of its event on the wire, ending with
 * the blank line that dispatches it. Throws `SSETypeError`/`SSERangeError` (with
 * a `code` from `ErrorCode`) for input that cannot be sent faithfully.
 */
export function serialize(message: SSEInput): string {
  if (typeof message === 'string') return dataLines(message) + LF;
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    throw new SSETypeError(
      ErrorCode.INVALID_MESSAGE,
      `message must be an object like { data, event, id, retry, comment } or a string; got ${describe(message)}`,
    );
  }
  const m = message as SSEMessage;
  const comment = m.comment;
  const event = m.event;
  const id = m.id;
  const retry = m.retry;
  const data = m.data;
  // The same event written to many streams in a loop is serialized once. Only
  // messages whose fields are all primitives are remembered: primitives cannot
  // change behind our back, so equal fields always mean equal bytes.
  if (data === last.data && event === last.event && id === last.id && retry === last.retry && comment === last.comment) {
    return last.frame;
  }
  let out = '';
  if (comment !== undefined && comment !== null) out = commentLines(comment);
  if (event !== undefined && event !== null && event !== '') out += EVENT + checkEvent(event) + LF;
  if (id !== undefined && id !== null) out += ID + idText(id) + LF;
  if (retry !== undefined && retry !== null) out += RETRY + retryText(retry) + LF;
  if (data !== undefined) {
    // JSON.stringify escapes CR and LF inside strings, so its output is always one line.
    out += typeof data === 'string' ? dataLines(data) : DATA + jsonText(data) + LF;
  }
  out += LF;
  if (typeof data !== 'object' || data === null) {
    last.data = data;
    last.event = event;
    last.id = id;
    last.retry = retry;
    last.comment = comment;
    last.frame = out;
  }
  return out;
}

// The last message serialized with primitive fields only, and its bytes. Starts
// with a value no message can hold, so the first comparison always misses.
const NEVER = Symbol('never');
const last: { data: unknown; event: unknown; id: unknown; retry: unknown; comment: unknown; frame: string } = {
  data: NEVER,
  event: NEVER,
  id: NEVER,
  retry: NEVER,
  comment: NEVER,
  frame: '',
};

/** `data: line\n` for every line of `text`, split on CRLF, CR and LF. */
export function dataLines(text: string): string {
  // Two indexOf scans beat RegExp#test on the short strings most events carry
  // (bench/profile.ts: the RegExp was 2.6% of the server's time).
  if (text.indexOf('\n') === -1 && text.indexOf('\r') === -1) return DATA + text + LF;
  return prefixLines(DATA, text);
}

/**
 * Whether `text` can be an event id: no CR or LF (they would forge fields) and
 * no U+0000 (clients ignore such an id). The one place this rule is written.
 */
export function isValidId(text: string): boolean {
  return !ID_FORBIDDEN.test(text);
}

/** The field value for `id`, validated. */
function idText(id: unknown): string {
  if (typeof id === 'number') {
    if (!Number.isFinite(id)) {
      throw new SSERangeError(ErrorCode.INVALID_ID, `id must be a finite number or a string; got ${describe(id)}`);
    }
    return String(id);
  }
  if (typeof id !== 'string') {
    throw new SSETypeError(ErrorCode.INVALID_ID, `id must be a string or a finite number; got ${describe(id)}`);
  }
  if (!isValidId(id)) {
    throw new SSETypeError(
      ErrorCode.INVALID_ID,
      `id must not contain CR, LF or U+0000 (a line break would forge fields, U+0000 makes clients ignore the id); got ${describe(id)}`,
    );
  }
  return id;
}

// Most streams use a handful of event names: the last one that passed is not
// scanned again (strings are immutable, so equal means equally valid).
let lastEvent = 'message';

function checkEvent(event: unknown): string {
  if (event === lastEvent) return lastEvent;
  if (typeof event !== 'string') {
    throw new SSETypeError(ErrorCode.INVALID_EVENT, `event must be a string; got ${describe(event)}`);
  }
  if (LINE_BREAK.test(event)) {
    throw new SSETypeError(
      ErrorCode.INVALID_EVENT,
      `event must not contain CR or LF (a line break would forge fields); got ${describe(event)}`,
    );
  }
  lastEvent = event;
  return event;
}

function retryText(retry: unknown): string {
  if (typeof retry === 'number') {
    if (!Number.isSafeInteger(retry) || retry < 0) {
      throw new SSERangeError(
        ErrorCode.INVALID_RETRY,
        `retry must be a non-negative integer number of milliseconds; got ${describe(retry)}`,
      );
    }
    return String(retry);
  }
  if (typeof retry === 'string' && DIGITS.test(retry)) return retry;
  throw new SSETypeError(
    ErrorCode.INVALID_RETRY,
    `retry must be a non-negative integer or a string of ASCII digits (clients ignore anything else); got ${describe(retry)}`,
  );
}

function commentLines(comment: unknown): string {
  if (typeof comment !== 'string') {
    throw new SSETypeError(ErrorCode.INVALID_COMMENT, `comment must be a string; got ${describe(comment)}`);
  }
  if (!LINE_BREAK.test(comment)) return COMMENT + comment + LF;
  return prefixLines(COMMENT, comment);
}

function jsonText(data: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw new SSETypeError(
      ErrorCode.INVALID_DATA,
      `data must be a string or a JSON-serializable value; JSON.stringify failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (text === undefined) {
    throw new SSETypeError(
      ErrorCode.INVALID_DATA,
      `data must be a string or a JSON-serializable value; JSON.stringify gave nothing for ${describe(data)}`,
    );
  }
  return text;
}

/** Split on CRLF, CR or LF (one line end each) and prefix every line. */
function prefixLines(prefix: string, text: string): string {
  let out = '';
  let start = 0;
  const n = text.length;
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
