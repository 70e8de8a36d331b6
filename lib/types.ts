import type { IncomingHttpHeaders } from 'node:http';

/**
 * One event as the caller writes it. Field order on the wire is fixed:
 * comment, event, id, retry, data (the order ssestream 1.1.0 uses).
 */
export interface SSEMessage {
  /**
   * The payload. A string is sent as is, split into one `data:` line per line
   * (on CRLF, CR and LF). Anything else (object, array, number, boolean, null)
   * is `JSON.stringify`-ed. `undefined` sends no `data:` line, so the client
   * dispatches nothing (useful for a bare `id`, `retry` or `comment`).
   */
  data?: unknown;
  /** Event type; the client's `addEventListener(type)` receives it. Empty means `message`. No CR or LF. */
  event?: string;
  /** Event id, stored by the client and sent back as `Last-Event-ID`. No CR, LF or U+0000; numbers must be finite. */
  id?: string | number;
  /** Reconnection time in ms for the client: a non-negative integer, or a string of ASCII digits. */
  retry?: number | string;
  /** A comment line (`: text`); ignored by clients. Multi-line comments become several comment lines. */
  comment?: string;
}

/** What `write()` accepts: a message object, or a bare string sent as `{ data: string }`. */
export type SSEInput = SSEMessage | string;

/** Which request origins may read the stream cross-origin. */
export type CorsOrigin =
  | string
  | readonly string[]
  | RegExp
  | ((origin: string) => boolean);

export interface CorsOptions {
  /**
   * Allowed origins: an exact origin (`'https://app.example'`), a list of them,
   * a RegExp tested against the request's `Origin`, or a predicate. `'*'` allows
   * every origin; with `credentials` the request's own origin is echoed instead of
   * `*`, since browsers reject `*` on credentialed requests.
   */
  origin: CorsOrigin;
  /**
   * Send `Access-Control-Allow-Credentials: true` so that `new EventSource(url,
   * { withCredentials: true })` may send cookies.
   * @defaultValue false
   */
  credentials?: boolean;
  /**
   * How long (seconds) a browser may cache a preflight answer (`preflight()` only).
   * @defaultValue 600
   */
  maxAge?: number;
}

export interface SSEStreamOptions {
  /**
   * Send a comment line (`:`) when nothing else was written for this many ms, so
   * that proxies with read timeouts (nginx: 60 s) and load balancers keep an idle
   * stream open. The timer never keeps the process alive. `0` turns it off.
   * @defaultValue 15000
   */
  heartbeat?: number;
  /**
   * When more than this many bytes are queued for a client that is not reading
   * (in this stream and in the response), the client is disconnected with reason
   * `ERR_SSE_CLIENT_TOO_SLOW` instead of growing the server's memory. Writers that
   * honour `write()`'s return value and `'drain'` never reach it. `0` turns it off.
   * @defaultValue 4194304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Bytes of events collected before they are handed on as one chunk; also the
   * point where `write()` starts returning `false`. Events written in the same
   * tick are joined, up to this size; a lone event still goes out in the same tick.
   * @defaultValue 65536
   */
  highWaterMark?: number;
  /**
   * CORS for cross-origin `EventSource`s, applied by `pipe()` from the request's
   * `Origin` header. When the origin is not allowed no CORS header is added (the
   * browser then refuses the stream). Off when absent.
   */
  cors?: CorsOptions;
  /**
   * A `retry:` value (ms) sent right after the `:ok` preamble, setting how long
   * browsers wait before reconnecting. Off when absent.
   */
  retry?: number;
}

/** The minimum of a request that SSEStream reads: headers and, for HTTP/1, its socket. */
export interface RequestLike {
  headers: IncomingHttpHeaders;
  httpVersionMajor?: number;
  httpVersionMinor?: number;
  socket?: unknown;
}

// Defined beside the reader, which imports no `node:` module (this file does).
export type { ServerSentEvent } from './parser.js';
