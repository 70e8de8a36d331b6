/**
 * HTTP glue: the response headers of an event stream on HTTP/1.x and HTTP/2,
 * CORS, the preflight answer, and the 204 that stops a browser reconnecting.
 * Works on anything shaped like node:http's ServerResponse or node:http2's
 * compat Http2ServerResponse (so Express, Fastify's reply.raw, Koa's ctx.res).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { ErrorCode, SSETypeError, SSERangeError, describe } from './errors.js';
import { isValidId } from './format.js';
import type { CorsOptions, RequestLike } from './types.js';

/** The part of a response the glue needs. */
export interface ResponseLike {
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  setHeader?(name: string, value: number | string | readonly string[]): unknown;
  getHeader?(name: string): unknown;
  hasHeader?(name: string): boolean;
  removeHeader?(name: string): unknown;
  flushHeaders?(): void;
  end(cb?: () => void): unknown;
  headersSent?: boolean;
  req?: RequestLike;
  stream?: unknown;
}

// Connection-specific headers: HTTP/2 forbids them (RFC 9113 §8.2.2).
const HTTP2_FORBIDDEN = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];
const EVENT_STREAM = 'text/event-stream; charset=utf-8';
// `no-transform` makes compression middleware (Express's `compression`) skip the
// response: without it events sit in zlib's buffer until it fills.
const NO_CACHE = 'no-cache, no-transform';

/** True when `res` is node:http2's compat response (or its request was HTTP/2). */
export function isHttp2(res: ResponseLike, req?: RequestLike): boolean {
  const major = req?.httpVersionMajor ?? res.req?.httpVersionMajor;
  if (major !== undefined) return major >= 2;
  const stream = res.stream as { respond?: unknown } | undefined;
  return typeof stream?.respond === 'function';
}

/** Validate a `cors` option once, at the call that passed it. */
export function checkCors(cors: unknown, where: string): CorsOptions | undefined {
  if (cors === undefined) return undefined;
  if (cors === null || typeof cors !== 'object') {
    throw new SSETypeError(ErrorCode.INVALID_OPTION, `${where}: cors must be an object { origin, credentials? }; got ${describe(cors)}`);
  }
  const { origin, credentials, maxAge } = cors as CorsOptions;
  const okOrigin =
    typeof origin === 'string' ||
    typeof origin === 'function' ||
    origin instanceof RegExp ||
    (Array.isArray(origin) && origin.every((o) => typeof o === 'string'));
  if (!okOrigin) {
    throw new SSETypeError(
      ErrorCode.INVALID_OPTION,
      `${where}: cors.origin must be a string, an array of strings, a RegExp or a function (origin) => boolean; got ${describe(origin)}`,
    );
  }
  if (credentials !== undefined && typeof credentials !== 'boolean') {
    throw new SSETypeError(ErrorCode.INVALID_OPTION, `${where}: cors.credentials must be a boolean; got ${describe(credentials)}`);
  }
  if (maxAge !== undefined && (!Number.isSafeInteger(maxAge) || maxAge < 0)) {
    throw new SSERangeError(ErrorCode.INVALID_OPTION, `${where}: cors.maxAge must be a non-negative integer (seconds); got ${describe(maxAge)}`);
  }
  return cors as CorsOptions;
}

/** Whether `origin` (the request's `Origin` header) is allowed by `cors.origin`. */
export function originAllowed(cors: CorsOptions, origin: string): boolean {
  const allow = cors.origin;
  if (typeof allow === 'string') return allow === '*' || allow === origin;
  if (typeof allow === 'function') return allow(origin) === true;
  if (allow instanceof RegExp) {
    allow.lastIndex = 0; // a /g or /y RegExp keeps state between tests
    return allow.test(origin);
  }
  return (allow as readonly string[]).includes(origin);
}

/**
 * The CORS response headers for a request, or none when the request has no
 * `Origin` or it is not allowed. An allowed origin is echoed exactly (with
 * `Vary: Origin` so caches keep one answer per origin); `*` is only sent for a
 * wildcard without credentials.
 */
export function corsHeaders(cors: CorsOptions | undefined, headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  if (!cors) return out;
  const origin = headers.origin;
  if (typeof origin !== 'string' || origin === '') return out;
  if (!originAllowed(cors, origin)) return out;
  if (cors.origin === '*' && !cors.credentials) {
    out['access-control-allow-origin'] = '*';
    return out;
  }
  out['access-control-allow-origin'] = origin;
  out['vary'] = 'Origin';
  if (cors.credentials) out['access-control-allow-credentials'] = 'true';
  return out;
}

/** The headers `pipe()` sends, before the ones the user already set win. */
export function streamHeaders(http2: boolean, http10 = false): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': EVENT_STREAM,
    'cache-control': NO_CACHE,
    'x-accel-buffering': 'no',
  };
  // HTTP/2 forbids connection-specific headers; node:http2 warns and drops them.
  // An HTTP/1.0 body (nginx's default to its upstream) can only end with the
  // connection, so promising keep-alive there would be false.
  if (!http2 && !http10) h['connection'] = 'keep-alive';
  return h;
}

/**
 * Send the status line and headers of an event stream. Headers set earlier with
 * `res.setHeader()` are kept and win, except `Content-Type` (an event stream is
 * `text/event-stream` or clients refuse it) and a `Transfer-Encoding: identity`
 * (obsolete, and it leaves the body without an end marker).
 */
export function writeStreamHead(res: ResponseLike, req: RequestLike | undefined, extra: Record<string, string>): void {
  if (res.headersSent) return;
  const http2 = isHttp2(res, req);
  const r = req ?? res.req;
  const defaults = streamHeaders(http2, r?.httpVersionMajor === 1 && r.httpVersionMinor === 0);
  const headers: Record<string, string> = {};
  for (const name in defaults) {
    if (name === 'content-type' || !res.hasHeader?.(name)) headers[name] = defaults[name];
  }
  for (const name in extra) headers[name] = extra[name];
  if (http2) {
    for (const name of HTTP2_FORBIDDEN) if (res.hasHeader?.(name)) res.removeHeader?.(name);
  } else if (res.hasHeader?.('transfer-encoding')) {
    // Removing the header would make Node delimit the body by closing the
    // connection; asking for chunked keeps the end marker and keep-alive.
    headers['transfer-encoding'] = 'chunked';
  }
  res.writeHead(200, headers);
  res.flushHeaders?.();
}

/**
 * Answer a CORS preflight (`OPTIONS`) for the event stream. Chromium 156 was
 * measured sending none, not even for a cross-origin reconnect that carries
 * `Last-Event-ID` (spec/browser.spec.ts); other clients and proxies may, since
 * that header is not CORS-safelisted, so answering is cheap insurance.
 * Returns true when it answered (the request was a preflight), false otherwise.
 */
export function preflight(req: RequestLike & { method?: string }, res: ResponseLike, cors: CorsOptions): boolean {
  const checked = checkCors(cors, 'preflight()') as CorsOptions;
  if (req.method !== 'OPTIONS') return false;
  const allowed = corsHeaders(checked, req.headers);
  if (allowed['access-control-allow-origin'] !== undefined) {
    allowed['access-control-allow-methods'] = 'GET';
    const asked = req.headers['access-control-request-headers'];
    allowed['access-control-allow-headers'] = typeof asked === 'string' && asked !== '' ? asked : 'last-event-id';
    allowed['access-control-max-age'] = String(checked.maxAge ?? 600);
    if (allowed['vary'] !== undefined) allowed['vary'] = 'Origin, Access-Control-Request-Headers';
  }
  res.writeHead(204, allowed);
  res.end();
  return true;
}

/**
 * Answer with `204 No Content`: per the spec a browser's EventSource does not
 * reconnect after it and ends in `readyState === CLOSED`. Use it for the
 * reconnect attempt that follows a server-side `end()` you meant as final.
 */
export function noContent(res: ResponseLike, headers?: Record<string, string>): void {
  res.writeHead(204, headers);
  res.end();
}

/**
 * The request's `Last-Event-ID`, or undefined when absent, empty, or not a valid
 * id (contains CR, LF or U+0000: such an id could never have been sent).
 */
export function lastEventIdOf(req: RequestLike | undefined): string | undefined {
  const value = req?.headers['last-event-id'];
  if (typeof value !== 'string' || value === '' || !isValidId(value)) return undefined;
  return value;
}
