/**
 * `ssepipe/web`: event streams as fetch `Response`s, for runtimes and
 * frameworks whose handlers are `(request: Request) => Response` (Bun, Deno,
 * Cloudflare Workers, Hono, Next.js route handlers, Node with a fetch adapter).
 * Nothing this entry imports, directly or not, imports a `node:` module
 * (spec/web-imports.spec.ts walks the compiled graph; the workerd tests bundle
 * it without a Node compatibility flag).
 */
import { typeError } from './errors.js';
import { preamble } from './format.js';
import { corsFor, lastEventIdFrom, mergeVary, streamHeaders } from './headers.js';
import { negotiate, type Encoding } from './encoding.js';
import { producible, type ZlibLike } from './sink-compress.js';
import type { CompressSettings } from './options.js';
import { readOptions, WEB_STREAM_RULES } from './options.js';
import { WebSSEStream, type WebRequestLike } from './web-stream.js';
import type { EventMap, WebStreamOptions } from './types.js';

/** What `sseResponse()` calls with the stream: return nothing, or a promise (a rejection aborts the stream). */
export type WebStreamHandler<E extends object = EventMap> = (stream: WebSSEStream<E>) => unknown;

/**
 * Answer `request` with an event stream: a `Response` (status 200, the event
 * stream's headers, CORS from the request's `Origin` when `options.cors` is
 * set) whose body is the stream `handler` is called with, at once, before this
 * returns. Write to it, add it to a `Channel`; it stays open until you `end()`
 * it, the client leaves, or `maxDuration` passes. A handler that throws makes
 * this throw (nothing was sent); one whose promise rejects aborts the stream
 * (emitted as `'error'` when the stream has a listener, else logged).
 *
 * `E`: an optional event map (see `EventMap`), e.g.
 * `sseResponse<{ tick: number }>(request, (stream) => stream.write({ event: 'tick', data: 1 }))`.
 */
export function sseResponse<E extends object = EventMap>(
  request: WebRequestLike,
  handler: WebStreamHandler<E>,
  options?: WebStreamOptions,
): Response {
  const o = readOptions('sseResponse', options, WEB_STREAM_RULES);
  const headersOf = (request as { headers?: { get?: unknown } } | null)?.headers;
  if (typeof headersOf?.get !== 'function') {
    throw typeError('ERR_SSE_INVALID_ARGUMENT', 'sseResponse', 'the first argument must be the fetch Request (with headers and signal)', request);
  }
  if (typeof handler !== 'function') {
    throw typeError('ERR_SSE_INVALID_ARGUMENT', 'sseResponse', 'the second argument must be a function (stream) => void', handler);
  }
  const lastEventId = lastEventIdFrom(valuesOf(request, 'last-event-id'));
  const stream = new WebSSEStream<E>(request, o, lastEventId);
  // No connection-specific header (HTTP/2 forbids them; a Response must not carry them).
  const headers = streamHeaders(true);
  const allow = corsFor(o.cors, valuesOf(request, 'origin'));
  for (const name in allow) headers[name] = allow[name];
  const compression = o.compress === undefined ? undefined : negotiateCompression(request, o.compress);
  if (compression !== undefined) {
    // The answer depends on Accept-Encoding, whatever was chosen.
    headers.vary = mergeVary(headers.vary, 'Accept-Encoding');
    if (compression.encoding !== undefined) headers['content-encoding'] = compression.encoding;
  }
  stream.open(preamble(o.retry), compression?.encoding === undefined ? undefined : (compression as Compression));
  let result: unknown;
  try {
    result = handler(stream);
  } catch (err) {
    stream.destroy();
    throw err;
  }
  if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
    Promise.resolve(result).then(undefined, (err: unknown) => failed(stream, err));
  }
  return new Response(stream.body, { status: 200, headers });
}

/** An async handler failed: abort its stream, and make sure someone hears of it. */
function failed(stream: WebSSEStream<any>, err: unknown): void {
  const error = err instanceof Error ? err : new Error(`the sseResponse handler rejected with ${String(err)}`);
  if (stream.listenerCount('error') === 0) console.error('ssepipe: the sseResponse handler failed; its stream was aborted:', error);
  stream.destroy(error);
}

type Compression = { zlib: ZlibLike; encoding: Encoding; settings: CompressSettings };

/**
 * The encoding for this response, where the runtime has `node:zlib` (Node 20.16+,
 * Bun, Deno; reached with `process.getBuiltinModule()`, so the entry still imports
 * no `node:` module); undefined where it has none (Workers: their
 * `CompressionStream` cannot flush per event, so the stream goes uncompressed).
 */
function negotiateCompression(request: WebRequestLike, settings: CompressSettings): { zlib: ZlibLike; encoding: Encoding | undefined; settings: CompressSettings } | undefined {
  const zlib = builtinZlib();
  if (zlib === undefined) return undefined;
  return { zlib, settings, encoding: negotiate(valuesOf(request, 'accept-encoding'), producible(zlib, settings.encodings)) };
}

function builtinZlib(): ZlibLike | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
  try {
    return proc?.getBuiltinModule?.('node:zlib') as ZlibLike | undefined;
  } catch {
    return undefined;
  }
}

/** A request header's value as a list: fetch joins repeated headers with ", " (one value). */
function valuesOf(request: WebRequestLike, name: string): string[] {
  const value = request.headers.get(name);
  return value === null ? [] : [value];
}

export { WebSSEStream };
export type { WebRequestLike };
export { Channel } from './channel.js';
export { MemoryHistory } from './history.js';
export { serialize, prepare } from './format.js';
export { ErrorCode, SSEError, SSETypeError, SSERangeError, isSSEError } from './errors.js';
export type { ErrorCodeValue } from './errors.js';
export type {
  SSEMessage,
  SSEInput,
  PreparedEvent,
  PreparedEventOf,
  EventMap,
  EventName,
  MessageOf,
  WebStreamOptions,
  SSEStreamOptions,
  CorsOptions,
  CorsOrigin,
  ChannelOptions,
  AddOptions,
  HistoryStore,
  HistoryResult,
  StoredEvent,
  MemoryHistoryOptions,
  EventStreamLike,
} from './types.js';
