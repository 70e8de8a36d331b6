/**
 * Content negotiation for compressed event streams: which `Content-Encoding`
 * answers a request's `Accept-Encoding` (RFC 9110 §12.5.3). Neutral: no `node:`
 * import; the transports say which encodings their runtime can produce.
 */
import type { ContentEncoding } from './types.js';

/** The encodings a stream may be compressed with. `deflate` is the zlib-wrapped format, as HTTP defines it. */
export type Encoding = ContentEncoding;

/** Every encoding, in the default order of preference when a client gives several the same weight. */
export const ENCODINGS: readonly Encoding[] = ['br', 'gzip', 'deflate', 'zstd'];

// One coding with an optional weight: `gzip`, `br;q=0.8`, `*;q=0`. RFC 9110's
// qvalue is 0 to 1 with at most three decimals; anything else makes the element
// unreadable, and an unreadable element is skipped rather than guessed at.
const ELEMENT = /^([!#$%&'*+.^_`|~0-9a-z-]+)\s*(?:;\s*q\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\s*)?$/i;

/**
 * The encoding to answer with: among `offered` (in order of preference), the
 * one the client weighs highest; on equal weights, the earlier in `offered`.
 * Undefined means identity (send it uncompressed): no `Accept-Encoding` at all
 * (`values` empty), an empty one, none of `offered` acceptable (absent, or
 * `q=0`), or `identity` weighed higher than all of them.
 *
 * `values`: every `Accept-Encoding` header the request carried (a repeated
 * header is one list). `x-gzip` is read as `gzip` (RFC 9110 §8.4.1.3).
 */
export function negotiate(values: readonly string[], offered: readonly Encoding[]): Encoding | undefined {
  if (values.length === 0 || offered.length === 0) return undefined;
  const weights = new Map<string, number>();
  for (const value of values) {
    for (const part of value.split(',')) {
      const m = ELEMENT.exec(part.trim());
      if (m === null) continue;
      let name = m[1].toLowerCase();
      if (name === 'x-gzip') name = 'gzip';
      const q = m[2] === undefined ? 1 : Number(m[2]);
      // Listed twice: the higher weight counts (a client would not mean the lower).
      weights.set(name, Math.max(q, weights.get(name) ?? 0));
    }
  }
  const any = weights.get('*');
  let best: Encoding | undefined;
  let bestQ = 0;
  for (const encoding of offered) {
    const q = weights.get(encoding) ?? any ?? 0;
    if (q > bestQ) {
      best = encoding;
      bestQ = q;
    }
  }
  if (best === undefined) return undefined;
  // identity is acceptable unless excluded, and unlisted it carries no weight of
  // its own: it beats a coding only when the client weighs it higher.
  const identity = weights.get('identity');
  return identity !== undefined && identity > bestQ ? undefined : best;
}
