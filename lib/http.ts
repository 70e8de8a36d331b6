/**
 * Node HTTP glue: the head of an event stream on node:http and node:http2's
 * compat API (so Express, Fastify's reply.raw, Koa's ctx.res), the preflight
 * answer, the 204 that stops a browser reconnecting, and what a request says.
 */
import { negotiate, type Encoding } from './encoding.js';
import { CONNECTION_HEADERS, corsFor, lastEventIdFrom, mergeVary, streamHeaders } from './headers.js';
import { cors as corsRule, type CompressSettings, type Cors } from './options.js';
import { producible } from './sink-compress.js';
import { nodeZlib } from './zlib-node.js';
import type { CorsOptions, HeaderMap, RequestLike } from './types.js';

/** The part of a response the glue needs. */
export interface ResponseLike {
  writeHead(status: number, headers?: Record<string, string>): unknown;
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

/** Every value of request header `name` (lower case), in order: repeated headers are not joined. */
function headerValues(req: RequestLike | undefined, name: string): string[] {
  const raw = req?.rawHeaders;
  if (Array.isArray(raw)) {
    const out: string[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i].length === name.length && raw[i].toLowerCase() === name) out.push(raw[i + 1]);
    return out;
  }
  const value = req?.headers[name];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/**
 * The request's `Last-Event-ID`: its first copy, decoded as UTF-8, or undefined
 * when absent, empty, or not a valid id.
 */
export function lastEventIdOf(req: RequestLike | undefined): string | undefined {
  return lastEventIdFrom(headerValues(req, 'last-event-id'));
}

/** True when `res` is node:http2's compat response (or its request was HTTP/2). */
function isHttp2(res: ResponseLike, req?: RequestLike): boolean {
  const major = req?.httpVersionMajor ?? res.req?.httpVersionMajor;
  if (major !== undefined) return major >= 2;
  const stream = res.stream as { respond?: unknown } | undefined;
  return typeof stream?.respond === 'function';
}

/**
 * The CORS response headers for a request (see `CorsOptions`): none when it has
 * no single, allowed `Origin`, plus `Vary: Origin` for any policy but `'*'`.
 */
export function corsHeaders(cors: CorsOptions, headers: HeaderMap): Record<string, string> {
  const resolved = corsRule(cors, 'corsHeaders()', 'cors');
  const origin = headers.origin;
  return corsFor(resolved, origin === undefined ? [] : Array.isArray(origin) ? origin : [origin]);
}

/**
 * With the `compress` option: how to encode this response. An encoding, or null
 * for identity when the request accepts none of them (the answer still depends
 * on `Accept-Encoding`: `Vary` says so); undefined when compression is not ours
 * to decide: the head is sent already, the response already has a
 * `Content-Encoding`, or a compression middleware wraps it (Express's
 * `compression` adds `res.flush()`, which Node's responses do not have: it then
 * passes the stream through, as `no-transform` asks).
 */
export function responseEncoding(res: ResponseLike, req: RequestLike | undefined, settings: CompressSettings): Encoding | null | undefined {
  if (res.headersSent) return undefined;
  const existing = res.getHeader?.('content-encoding');
  if (existing !== undefined && existing !== null) return undefined;
  if (typeof (res as { flush?: unknown }).flush === 'function') return undefined;
  return negotiate(headerValues(req ?? res.req, 'accept-encoding'), producible(nodeZlib, settings.encodings)) ?? null;
}

/**
 * Send the status line and headers of an event stream. Headers set earlier with
 * `res.setHeader()` are kept and win, except `Content-Type` (an event stream is
 * `text/event-stream` or clients refuse it) and a `Transfer-Encoding: identity`
 * (obsolete, and it leaves the body without an end marker). `Vary` is merged.
 * `encoding` (from `responseEncoding`): `Content-Encoding`, and `Vary: Accept-Encoding`
 * whenever it was negotiated (null: identity, negotiated).
 */
export function writeStreamHead(res: ResponseLike, req: RequestLike | undefined, cors: Cors | undefined, encoding?: Encoding | null): void {
  if (res.headersSent) return;
  const r = req ?? res.req;
  const http2 = isHttp2(res, r);
  // A client that asked to close (or HTTP/1.0) must not be promised keep-alive:
  // the header would keep its connection open until the server's keep-alive timeout.
  const closing = (r?.httpVersionMajor === 1 && r.httpVersionMinor === 0) || /\bclose\b/i.test(headerValues(r, 'connection').join(','));
  const defaults = streamHeaders(http2, closing);
  const headers: Record<string, string> = {};
  for (const name in defaults) {
    if (name === 'content-type' || !res.hasHeader?.(name)) headers[name] = defaults[name];
  }
  const allow = corsFor(cors, headerValues(r, 'origin'));
  for (const name in allow) headers[name] = allow[name];
  let vary = allow.vary;
  if (encoding !== undefined) {
    vary = vary === undefined ? 'Accept-Encoding' : `${vary}, Accept-Encoding`;
    if (encoding !== null) headers['content-encoding'] = encoding;
  }
  if (vary !== undefined) headers.vary = mergeVary(existingVary(res), vary);
  if (http2) {
    for (const name of CONNECTION_HEADERS) if (res.hasHeader?.(name)) res.removeHeader?.(name);
  } else if (res.hasHeader?.('transfer-encoding')) {
    // Removing the header would make Node delimit the body by closing the
    // connection; asking for chunked keeps the end marker and keep-alive.
    headers['transfer-encoding'] = 'chunked';
  }
  res.writeHead(200, headers);
  res.flushHeaders?.();
}

function existingVary(res: ResponseLike): string | undefined {
  const v = res.getHeader?.('vary');
  if (v === undefined || v === null) return undefined;
  return Array.isArray(v) ? v.join(', ') : String(v);
}

/**
 * Answer a CORS preflight (`OPTIONS`) for the event stream. Chromium 156 was
 * measured sending none, not even for a cross-origin reconnect that carries
 * `Last-Event-ID` (spec/browser.spec.ts); other clients and proxies may, since
 * that header is not CORS-safelisted, so answering is cheap insurance.
 * Returns true when it answered (the request was a preflight), false otherwise.
 */
export function preflight(req: RequestLike & { method?: string }, res: ResponseLike, cors: CorsOptions): boolean {
  const checked = corsRule(cors, 'preflight()', 'cors') as Cors;
  if (req.method !== 'OPTIONS') return false;
  const allowed = corsFor(checked, headerValues(req, 'origin'));
  if (allowed['access-control-allow-origin'] !== undefined) {
    allowed['access-control-allow-methods'] = 'GET';
    const asked = headerValues(req, 'access-control-request-headers')[0];
    allowed['access-control-allow-headers'] = asked !== undefined && asked !== '' ? asked : 'last-event-id';
    allowed['access-control-max-age'] = String(checked.maxAge);
  }
  if (allowed.vary !== undefined) allowed.vary = mergeVary(existingVary(res), 'Origin, Access-Control-Request-Headers');
  res.writeHead(204, allowed);
  res.end();
  return true;
}

/**
 * Answer with `204 No Content`: per the spec a browser's EventSource does not
 * reconnect after it and ends in `readyState === CLOSED`. Use it for the
 * reconnect attempt that follows a server-side `end()` you meant as final. A
 * cross-origin page needs the CORS headers here too: pass `corsHeaders(...)`.
 */
export function noContent(res: ResponseLike, headers?: Record<string, string>): void {
  res.writeHead(204, headers);
  res.end();
}

/** Whether the client of `req` already left (its connection or HTTP/2 stream is closed). */
export function requestGone(req: RequestLike): boolean {
  const stream = (req as { stream?: { destroyed?: boolean; closed?: boolean } }).stream;
  if ((req.httpVersionMajor ?? 1) >= 2 && stream !== undefined) return stream.destroyed === true || stream.closed === true;
  const socket = req.socket as { destroyed?: boolean } | null | undefined;
  return socket?.destroyed === true;
}

/** HTTP/1 sockets of event streams: no Nagle delay, TCP keep-alive to find dead peers, no idle timeout. */
export function tuneSocket(req: RequestLike): void {
  // HTTP/1 only: node:http2's request socket is a proxy that forbids manipulation.
  if ((req.httpVersionMajor ?? 1) >= 2) return;
  const socket = req.socket as
    | { setNoDelay?(v: boolean): unknown; setKeepAlive?(v: boolean): unknown; setTimeout?(ms: number): unknown }
    | undefined;
  socket?.setNoDelay?.(true);
  socket?.setKeepAlive?.(true);
  socket?.setTimeout?.(0);
}
