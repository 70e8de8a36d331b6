/**
 * Every error this library creates: one table of codes, each with the message
 * it is thrown with, and the three classes that carry them. Validation errors
 * are `TypeError`s (wrong type, forbidden characters) or `RangeError`s (a number
 * out of range), so `instanceof` checks written for Node's own argument errors
 * keep working; runtime conditions (disconnects, closed streams, limits) are
 * `SSEError`s. Neutral: no `node:` import.
 */

/** A short, safe rendering of a rejected value for error messages (never the whole value). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return typeof name === 'string' && name !== 'Object' && name !== '' ? `a ${name}` : 'an object';
  }
  return String(value);
}

/**
 * The codes and their messages. A message says what was wrong and what is
 * allowed; the arguments are the context the call site knows.
 */
const MESSAGES = {
  ERR_SSE_INVALID_MESSAGE: (got: unknown) =>
    `a message must be a plain object like { data, event, id, retry, comment }, a string, or an event made by prepare(); got ${describe(got)}`,
  ERR_SSE_INVALID_EVENT: (got: unknown) =>
    typeof got === 'string'
      ? `event must not contain CR or LF (a line break would forge fields); got ${describe(got)}`
      : `event must be a string; got ${describe(got)}`,
  ERR_SSE_INVALID_ID: (got: unknown) =>
    typeof got === 'string'
      ? `id must not contain CR, LF or U+0000 (a line break would forge fields, U+0000 makes clients ignore the id); got ${describe(got)}`
      : `id must be a string or a finite number; got ${describe(got)}`,
  ERR_SSE_INVALID_RETRY: (got: unknown) =>
    `retry must be an integer number of milliseconds from 0 to ${MAX_TIMER_MS}, or a string of such digits (clients ignore anything else); got ${describe(got)}`,
  ERR_SSE_INVALID_COMMENT: (got: unknown) => `comment must be a string; got ${describe(got)}`,
  ERR_SSE_INVALID_DATA: (got: unknown, why: string) =>
    `data must be a string or a JSON-serializable value; JSON.stringify ${why} for ${describe(got)}`,
  ERR_SSE_INVALID_OPTION: (where: string, what: string, ...got: unknown[]) =>
    `${where}: ${what}${got.length > 0 ? `; got ${describe(got[0])}` : ''}`,
  ERR_SSE_INVALID_STREAM: (where: string, got: unknown) =>
    `${where}: expected an event stream (an SSEStream, or a stream made by sseResponse()); got ${describe(got)}`,
  ERR_SSE_INVALID_ARGUMENT: (where: string, what: string, got: unknown) => `${where}: ${what}; got ${describe(got)}`,
  ERR_SSE_ALREADY_PIPED: () => 'pipe(): the stream is already piped to a destination; an event stream has one client',
  ERR_SSE_LINE_TOO_LONG: (limit: number) =>
    `event stream line longer than maxLineLength (${limit} characters): the event was skipped, up to its blank line; raise maxLineLength, or set it to 0 for no limit`,
  ERR_SSE_EVENT_TOO_LARGE: (limit: number) =>
    limit !== 0
      ? `event larger than maxEventSize (${limit} characters of data and type): the event was skipped, up to its blank line; raise maxEventSize, or set it to 0 for no limit`
      : 'event larger than the longest string this JavaScript engine can hold: the event was skipped, up to its blank line',
  ERR_SSE_STREAM_CLOSED: (what: string) => `${what} after the stream was ended or destroyed: the message was not sent`,
  ERR_SSE_CLIENT_CLOSED: (detail?: string) =>
    detail === undefined ? 'the client closed the connection' : `the connection to the client failed: ${detail}`,
  ERR_SSE_CLIENT_TOO_SLOW: (queued: number, limit: number, where: string) =>
    `the client read too slowly: ${queued} bytes were queued for it${where}, more than maxBufferedBytes (${limit})`,
  ERR_SSE_HISTORY_GAP: (lastEventId: string, why: string, kept: number) =>
    `Last-Event-ID ${JSON.stringify(lastEventId)} ${why}: events may have been missed; replaying the ${kept} kept`,
  ERR_SSE_REPLAY_FAILED: (lastEventId: string, why: string) =>
    `the replay after Last-Event-ID ${JSON.stringify(lastEventId)} failed: ${why}; the stream was ended so that the client reconnects and tries again`,
  ERR_SSE_SUBSCRIBER_FAILED: (what: string) => `${what} threw; that subscriber was removed and its stream ended`,
  ERR_SSE_PUBLISH_FAILED: (channel: string, why: string) =>
    `publishing to channel ${JSON.stringify(channel)} failed: ${why}; the outcome is unknown: the event may still be stored (then every instance delivers it)`,
  ERR_SSE_BROKER_ID: (channel: string) =>
    `channel ${JSON.stringify(channel)}: its broker assigns every event's id (the same on every instance); write the message without an id`,
  ERR_SSE_BROKER_GAP: (channel: string, why: string) =>
    `channel ${JSON.stringify(channel)} lost events: ${why}; the stream was ended so that its client reconnects and learns what it missed`,
} as const;

type Messages = typeof MESSAGES;
type Code = keyof Messages;

/** The timers of every runtime take at most a signed 32-bit number of ms; longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Every code, by name: `ErrorCode.INVALID_ID === 'ERR_SSE_INVALID_ID'`. */
export const ErrorCode = {
  /** `write()` got something that is not a plain object, a string or a prepared event. */
  INVALID_MESSAGE: 'ERR_SSE_INVALID_MESSAGE',
  /** `event` is not a string, or contains CR or LF. */
  INVALID_EVENT: 'ERR_SSE_INVALID_EVENT',
  /** `id` is not a string or finite number, or contains CR, LF or U+0000. */
  INVALID_ID: 'ERR_SSE_INVALID_ID',
  /** `retry` is not an integer from 0 to 2147483647 (or a string of such digits). */
  INVALID_RETRY: 'ERR_SSE_INVALID_RETRY',
  /** `comment` is not a string. */
  INVALID_COMMENT: 'ERR_SSE_INVALID_COMMENT',
  /** `data` cannot be turned into text: JSON.stringify threw or returned nothing. */
  INVALID_DATA: 'ERR_SSE_INVALID_DATA',
  /** An option is unknown, of the wrong type, or out of range. */
  INVALID_OPTION: 'ERR_SSE_INVALID_OPTION',
  /** `Channel.add()` got something that is not an event stream. */
  INVALID_STREAM: 'ERR_SSE_INVALID_STREAM',
  /** A function got an argument of the wrong kind (e.g. `sseResponse()` without a Request or a handler). */
  INVALID_ARGUMENT: 'ERR_SSE_INVALID_ARGUMENT',
  /** `pipe()` called a second time: an event stream has one destination. */
  ALREADY_PIPED: 'ERR_SSE_ALREADY_PIPED',
  /** The parser met a line longer than `maxLineLength`; it skipped the event that line was in. */
  LINE_TOO_LONG: 'ERR_SSE_LINE_TOO_LONG',
  /** The parser met an event larger than `maxEventSize`; it skipped that event. */
  EVENT_TOO_LARGE: 'ERR_SSE_EVENT_TOO_LARGE',
  /** `write()` after `end()` or `destroy()`: the message was not sent. */
  STREAM_CLOSED: 'ERR_SSE_STREAM_CLOSED',
  /** Disconnect reason: the client closed the connection (or it broke). */
  CLIENT_CLOSED: 'ERR_SSE_CLIENT_CLOSED',
  /** Disconnect reason: the client read too slowly and `maxBufferedBytes` was exceeded. */
  CLIENT_TOO_SLOW: 'ERR_SSE_CLIENT_TOO_SLOW',
  /** Channel: the replay could not start right after the client's `Last-Event-ID`. */
  HISTORY_GAP: 'ERR_SSE_HISTORY_GAP',
  /** Channel with a broker: the broker did not answer a replay within `replayTimeout`; the stream was ended. */
  REPLAY_FAILED: 'ERR_SSE_REPLAY_FAILED',
  /** Channel: a subscriber's `filter` (or a `'gap'` listener) threw. */
  SUBSCRIBER_FAILED: 'ERR_SSE_SUBSCRIBER_FAILED',
  /** Channel with a broker: `publish()` (or `write()`) got no confirmation in time or an error; the event may or may not be stored. */
  PUBLISH_FAILED: 'ERR_SSE_PUBLISH_FAILED',
  /** Channel with a broker: a message had its own `id`; the broker assigns ids. */
  BROKER_ID: 'ERR_SSE_BROKER_ID',
  /** Channel with a broker: this instance missed events the broker no longer has (fell behind, or the broker lost data). */
  BROKER_GAP: 'ERR_SSE_BROKER_GAP',
} as const satisfies Record<string, Code>;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A runtime condition (disconnect, closed stream, parser limit, failed replay). */
export class SSEError extends Error {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SSEError';
    this.code = code;
  }
}

/** A value of the wrong type or with forbidden characters, thrown at the call that passed it. */
export class SSETypeError extends TypeError {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SSETypeError';
    this.code = code;
  }
}

/** A number outside its allowed range, thrown at the call that passed it. */
export class SSERangeError extends RangeError {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SSERangeError';
    this.code = code;
  }
}

/** True for any error created by this library. */
export function isSSEError(err: unknown): err is SSEError | SSETypeError | SSERangeError {
  return err instanceof SSEError || err instanceof SSETypeError || err instanceof SSERangeError;
}

/** A runtime `SSEError` with the table's message for `code`. */
export function stateError<C extends Code>(code: C, ...args: Parameters<Messages[C]>): SSEError {
  return new SSEError(code, (MESSAGES[code] as (...a: unknown[]) => string)(...args));
}

/** `error`, with the error that caused it as its `cause`. */
export function caused<E extends Error>(error: E, cause: unknown): E {
  Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true });
  return error;
}

/** A `SSETypeError` with the table's message for `code`. */
export function typeError<C extends Code>(code: C, ...args: Parameters<Messages[C]>): SSETypeError {
  return new SSETypeError(code, (MESSAGES[code] as (...a: unknown[]) => string)(...args));
}

/** A `SSERangeError` with the table's message for `code`. */
export function rangeError<C extends Code>(code: C, ...args: Parameters<Messages[C]>): SSERangeError {
  return new SSERangeError(code, (MESSAGES[code] as (...a: unknown[]) => string)(...args));
}
