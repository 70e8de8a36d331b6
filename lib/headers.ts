/**
 * What an event stream answers and reads in HTTP headers, for any transport:
 * the stream's headers, CORS, `Vary`, and the request's `Last-Event-ID`.
 * Neutral: no `node:` import (the Node and web entries both use it).
 */
import { isValidId } from './format.js';
import type { Cors } from './options.js';

const EVENT_STREAM = 'text/event-stream; charset=utf-8';
// `no-transform` makes compression middleware (Express's `compression`) skip the
// response: without it events sit in zlib's buffer until it fills.
const NO_CACHE = 'no-cache, no-transform';

/** Connection-specific headers: HTTP/2 forbids them (RFC 9113 §8.2.2), and a fetch `Response` must not carry them. */
export const CONNECTION_HEADERS: readonly string[] = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];

/**
 * The headers of an event stream. `connection: keep-alive` only on HTTP/1.1
 * responses Node writes itself: HTTP/2 forbids it, and an HTTP/1.0 body (nginx's
 * default to its upstream) can only end with the connection.
 */
export function streamHeaders(http2: boolean, http10 = false): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': EVENT_STREAM,
    'cache-control': NO_CACHE,
    'x-accel-buffering': 'no',
  };
  if (!http2 && !http10) h['connection'] = 'keep-alive';
  return h;
}

// A serialized origin: scheme "://" host [":" port], or the opaque "null". A
// comma or space means several were joined into one header: never matched.
const ORIGIN = /^(?:null|[a-z][a-z0-9+.-]*:\/\/[^\s,/?#]+)$/i;

/**
 * The CORS headers for a request's `Origin` (`origins`: every value the request
 * carried; anything but exactly one well-formed origin gets no CORS headers).
 * Every answer of a policy that is not `'*'` says `Vary: Origin`, allowed or
 * not, so that no cache serves one origin's answer to another.
 */
export function corsFor(cors: Cors | undefined, origins: readonly string[]): Record<string, string> {
  if (cors === undefined) return {};
  const single = origins.length === 1 && ORIGIN.test(origins[0]) ? origins[0] : undefined;
  if (cors.wildcard) {
    return single !== undefined && cors.allows(single) ? { 'access-control-allow-origin': '*' } : {};
  }
  const out: Record<string, string> = { vary: 'Origin' };
  if (single === undefined || !cors.allows(single)) return out;
  out['access-control-allow-origin'] = single;
  if (cors.credentials) out['access-control-allow-credentials'] = 'true';
  return out;
}

/** `existing` (a `Vary` already set, or undefined) with `add`'s tokens appended when missing. */
export function mergeVary(existing: string | undefined, add: string): string {
  if (existing === undefined || existing.trim() === '') return add;
  const have = existing.split(',').map((t) => t.trim().toLowerCase());
  if (have.includes('*')) return existing;
  const missing = add.split(',').map((t) => t.trim()).filter((t) => !have.includes(t.toLowerCase()));
  return missing.length === 0 ? existing : `${existing}, ${missing.join(', ')}`;
}

/**
 * The `Last-Event-ID` a client sent, from every value it carried: the first one
 * (a browser sends one; a repeated header is taken at its first copy), decoded as
 * UTF-8 (browsers send UTF-8; servers read header bytes as Latin-1). Undefined
 * when absent, empty, or not a valid id (CR, LF or U+0000: such an id could
 * never have been sent).
 */
export function lastEventIdFrom(values: readonly string[]): string | undefined {
  const raw = values[0];
  if (raw === undefined || raw === '') return undefined;
  const value = utf8(raw);
  return isValidId(value) ? value : undefined;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Header text read as Latin-1, decoded as the UTF-8 bytes it is; as is when it is not valid UTF-8. */
function utf8(latin1: string): string {
  let ascii = true;
  for (let i = 0; i < latin1.length; i++) {
    const c = latin1.charCodeAt(i);
    if (c > 0xff) return latin1; // already decoded text, not bytes
    if (c > 0x7f) ascii = false;
  }
  if (ascii) return latin1;
  const bytes = new Uint8Array(latin1.length);
  for (let i = 0; i < latin1.length; i++) bytes[i] = latin1.charCodeAt(i);
  try {
    return decoder.decode(bytes);
  } catch {
    return latin1;
  }
}
