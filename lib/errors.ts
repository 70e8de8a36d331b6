/**
 * Every error this library creates carries a stable `code` from this table.
 * Validation errors are `TypeError`s (wrong type or forbidden characters) or
 * `RangeError`s (a number out of its range) so that `instanceof` checks written
 * for Node's own argument errors keep working; everything else is an `SSEError`.
 */
export const ErrorCode = {
  /** `write()` got something that is neither a message object nor a string. */
  INVALID_MESSAGE: 'ERR_SSE_INVALID_MESSAGE',
  /** `event` is not a string, or contains CR or LF. */
  INVALID_EVENT: 'ERR_SSE_INVALID_EVENT',
  /** `id` is not a string or finite number, or contains CR, LF or U+0000. */
  INVALID_ID: 'ERR_SSE_INVALID_ID',
  /** `retry` is not a non-negative safe integer (or a string of ASCII digits). */
  INVALID_RETRY: 'ERR_SSE_INVALID_RETRY',
  /** `comment` is not a string. */
  INVALID_COMMENT: 'ERR_SSE_INVALID_COMMENT',
  /** `data` cannot be turned into text: JSON.stringify threw or returned nothing. */
  INVALID_DATA: 'ERR_SSE_INVALID_DATA',
  /** An option passed to a constructor or helper is out of its allowed set. */
  INVALID_OPTION: 'ERR_SSE_INVALID_OPTION',
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
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

interface Coded {
  readonly code: ErrorCodeValue;
}

/** A runtime condition (disconnect, closed stream, parser limit). */
export class SSEError extends Error implements Coded {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SSEError';
    this.code = code;
  }
}

/** A value of the wrong type or with forbidden characters, thrown at the call that passed it. */
export class SSETypeError extends TypeError implements Coded {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SSETypeError';
    this.code = code;
  }
}

/** A number outside its allowed range, thrown at the call that passed it. */
export class SSERangeError extends RangeError implements Coded {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string) {
    super(message);
    this.name = 'SSERangeError';
    this.code = code;
  }
}

/** True for any error created by this library. */
export function isSSEError(err: unknown): err is (SSEError | SSETypeError | SSERangeError) {
  return err instanceof SSEError || err instanceof SSETypeError || err instanceof SSERangeError;
}

/** A short, safe rendering of a rejected value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
