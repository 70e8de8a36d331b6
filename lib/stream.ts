/**
 * SSEStream: the ssestream-compatible face of a session on Node. A Transform
 * (message objects in, `text/event-stream` bytes out) whose writes go straight
 * to the session, which batches them and writes to the response it was piped
 * to: `write()` validates synchronously (bad input throws at the call that made
 * it), `pipe(res)` sends the head and attaches the response as the sink, and
 * the Writable side's `end()`/`'finish'`/`'close'` follow the session.
 */
import { Transform } from 'node:stream';
import { typeError, stateError, type SSEError } from './errors.js';
import { preamble, serialize } from './format.js';
import { lastEventIdOf, requestGone, responseEncoding, tuneSocket, writeStreamHead, type ResponseLike } from './http.js';
import { endArguments, readOptions, STREAM_RULES, type CompressSettings } from './options.js';
import { CLOSED, ENDING, GONE, OPEN, Session, type WriteCallback } from './session.js';
import { NodeSink, ReadableSink, type WritableLike } from './sink-node.js';
import { CompressSink } from './sink-compress.js';
import { nodeZlib } from './zlib-node.js';
import type { Encoding } from './encoding.js';
import type { Cors } from './options.js';
import type { EventMap, EventStreamLike, MessageOf, PipedInput, PreparedEvent, RequestLike, SSEInput, SSEStreamOptions } from './types.js';

/** Every stream that is piped and not yet finished, for `endAll()` at shutdown: the process's one registry. */
const openStreams = new Set<SSEStream<any>>();

// Requests watched for a client that leaves before pipe(), and their streams
// (one listener function for all, instead of a closure per stream).
const watched = new WeakMap<object, SSEStream<any>>();

function requestClosed(this: object): void {
  const stream = watched.get(this);
  if (stream !== undefined) stream.clientLeft();
}

type Done = () => void;

/**
 * `E`: an optional event map (see `EventMap`): `new SSEStream<{ tick: number }>(req)`
 * type-checks every `write()` against it.
 */
export class SSEStream<E extends object = EventMap> extends Transform implements EventStreamLike<E> {
  /**
   * The request's `Last-Event-ID` header: the id of the last event this client
   * saw before it reconnected (decoded as UTF-8), or undefined (absent, empty,
   * or not a valid id).
   */
  readonly lastEventId: string | undefined;
  /** @internal */ private readonly session: Session;
  /** @internal */ private readonly req: RequestLike | undefined;
  /** @internal */ private readonly cors: Cors | undefined;
  /** @internal */ private readonly retry: number | undefined;
  /** @internal */ private readonly maxBuffered: number;
  /** @internal */ private readonly compress: CompressSettings | undefined;
  /** @internal */ private readonly highWaterMark: number;
  /** @internal */ private encoding: Encoding | undefined = undefined;
  /** @internal */ private dest: WritableLike | null = null;
  /** @internal */ private finalCallback: ((error?: Error | null) => void) | null = null;
  /** @internal An invalid message from a piped source: the stream ends with it as its error. */
  private failure: Error | null = null;

  constructor(req?: RequestLike | null, options?: SSEStreamOptions) {
    const o = readOptions('SSEStream', options, STREAM_RULES);
    super({ writableObjectMode: true, readableHighWaterMark: o.highWaterMark });
    this.session = new Session(this, o);
    this.cors = o.cors;
    this.retry = o.retry;
    this.maxBuffered = o.maxBufferedBytes;
    this.compress = o.compress;
    this.highWaterMark = o.highWaterMark;
    this.req = req ?? undefined;
    this.lastEventId = lastEventIdOf(this.req);
    if (this.req !== undefined) {
      tuneSocket(this.req);
      this.watch(this.req);
    }
  }

  /** Aborts, with the disconnect reason, when the client goes away. Hand it to `fetch`, timers, database cursors. */
  get signal(): AbortSignal {
    return this.session.signal;
  }

  /** This stream's `maxBufferedBytes` limit (0 = off); a channel bounds its replay queue with it. */
  get maxBufferedBytes(): number {
    return this.maxBuffered;
  }

  /**
   * The `Content-Encoding` the stream is sent with (`'br'`, `'gzip'`, `'deflate'`,
   * `'zstd'`), decided by `pipe()` with the `compress` option; undefined when
   * it is sent uncompressed.
   */
  get contentEncoding(): Encoding | undefined {
    return this.encoding;
  }

  /** True once the client went away (`'disconnect'` was emitted). */
  get disconnected(): boolean {
    return this.session.state === GONE;
  }

  /** Why the client went away: an SSEError with code ERR_SSE_CLIENT_CLOSED or ERR_SSE_CLIENT_TOO_SLOW. */
  get disconnectReason(): SSEError | undefined {
    return this.session.state === GONE ? this.session.reason : undefined;
  }

  /**
   * Send `message` (validated and serialized now; throws on invalid input and
   * sends nothing). Returns false when the buffered bytes reached
   * `highWaterMark`: wait for `'drain'` before writing more. After the client
   * left or the stream ended, a write is a no-op that returns false (and `cb`
   * gets `ERR_SSE_STREAM_CLOSED` or the disconnect reason). While a source is
   * piped in, an invalid message errors the stream instead of throwing.
   */
  override write(message: MessageOf<E> | PreparedEvent<E>, cb?: WriteCallback): boolean;
  override write(message: MessageOf<E> | PreparedEvent<E>, encoding: string, cb?: WriteCallback): boolean;
  // Untyped: wide enough for `source.pipe(stream)` and `pipeline(source, stream)`
  // to type-check; the message is validated at run time either way.
  override write(message: PipedInput<E>, encoding?: string | WriteCallback, cb?: WriteCallback): boolean;
  override write(message: unknown, encoding?: string | WriteCallback, cb?: WriteCallback): boolean {
    if (typeof encoding === 'function') cb = encoding;
    const session = this.session;
    if (session.state !== OPEN) return this.refuse(cb);
    let frame: string;
    try {
      frame = serialize(message as SSEInput);
    } catch (err) {
      return this.invalid(err as Error, cb);
    }
    return session.write(frame, cb);
  }

  /** Typed alias of `write()`, as in ssestream. */
  writeMessage(message: MessageOf<E> | PreparedEvent<E>, encoding?: string | WriteCallback, cb?: WriteCallback): boolean {
    return this.write(message as PipedInput<E>, encoding, cb);
  }

  /**
   * Send what is pending (plus `message`, if given) and end the response, so the
   * client sees the end of the stream at once, however much is still queued for
   * it. Browsers then reconnect after the retry time; answer that attempt with
   * `noContent(res)` to stop them. `cb` runs on `'finish'`.
   */
  override end(cb?: Done): this;
  override end(message: MessageOf<E> | PreparedEvent<E>, cb?: Done): this;
  override end(message: MessageOf<E> | PreparedEvent<E>, encoding?: string, cb?: Done): this;
  override end(message: PipedInput<E>, encoding?: string | Done, cb?: Done): this;
  override end(message?: unknown, encoding?: unknown, cb?: unknown): this {
    const [last, done] = endArguments(message, encoding, cb);
    if (this.session.state !== OPEN) {
      if (done !== undefined) process.nextTick(done);
      return this;
    }
    if (last !== undefined && last !== null) {
      this.write(last as PipedInput<E>);
      if (this.session.state !== OPEN) return this;
    }
    this.session.end();
    return super.end(done);
  }

  override cork(): void {
    this.session.cork();
  }

  override uncork(): void {
    this.session.uncork();
  }

  /**
   * Pipe into a response (node:http, node:http2 compat, Express, Fastify's
   * `reply.raw`, Koa's `ctx.res`) or any Writable. On a response this sends the
   * event-stream headers first (merged with headers already set), then the `:ok`
   * preamble, and watches the connection for a client that leaves.
   */
  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    if (this.dest !== null) throw typeError('ERR_SSE_ALREADY_PIPED');
    const dest = destination as unknown as WritableLike;
    this.dest = dest;
    const state = this.session.state;
    if (state === GONE || state === CLOSED) return destination;
    this.unwatch();
    if ((this.req !== undefined && requestGone(this.req)) || dest.destroyed === true) {
      // The client left while the handler awaited something: no head, no sink, just the news.
      this.clientLeft();
      return destination;
    }
    let encoding: Encoding | null | undefined;
    if (typeof (dest as { writeHead?: unknown }).writeHead === 'function') {
      const res = dest as unknown as ResponseLike;
      const req = this.req ?? res.req;
      if (this.compress !== undefined) encoding = responseEncoding(res, req, this.compress);
      writeStreamHead(res, req, this.cors, encoding);
    }
    openStreams.add(this);
    const end = options?.end !== false;
    let sink: NodeSink | CompressSink;
    if (encoding === undefined || encoding === null) sink = new NodeSink(dest, this.session, end);
    else {
      this.encoding = encoding;
      sink = new CompressSink(this.session, nodeZlib, encoding, this.compress!, this.highWaterMark, (listener) => new NodeSink(dest, listener, end));
    }
    this.session.attach(sink, preamble(this.retry));
    (dest as { emit?(event: string, src: unknown): unknown }).emit?.('pipe', this);
    return destination;
  }

  override _read(): void {
    // Someone reads this stream itself ('data', read(), for await) instead of piping it.
    if (this.dest === null && !this.session.attached) this.session.attach(new ReadableSink(this, this.session), '');
    else if (this.dest === null) this.session.sinkDrained();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.session.state === ENDING) this.finalCallback = callback;
    else callback(this.failure);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.unwatch();
    this.session.destroy(error ?? undefined);
    openStreams.delete(this);
    callback(error);
  }

  /** @internal SessionHost */
  sessionDrained(): void {
    this.emit('drain');
  }

  /** @internal SessionHost */
  sessionDisconnected(reason: SSEError): void {
    this.emit('disconnect', reason);
  }

  /** @internal SessionHost */
  sessionClosed(): void {
    openStreams.delete(this);
    this.unwatch();
    const final = this.finalCallback;
    this.finalCallback = null;
    if (final !== null && this.session.state === CLOSED) {
      // 'finish' (or, after an invalid piped message, 'error') first, then 'close'.
      final(this.failure);
      process.nextTick(destroyAfterFinish, this);
    } else if (!this.destroyed) {
      this.destroy();
    }
  }

  /** @internal The request's connection closed before pipe(): the client left. */
  clientLeft(): void {
    this.session.disconnect(stateError('ERR_SSE_CLIENT_CLOSED'));
  }

  /**
   * @internal End for a server shutdown: besides ending the response, close an
   * HTTP/1 connection once the response finished. `server.close()` only closes
   * connections idle at the moment it is called, so a keep-alive socket freed a
   * moment later would hold it for the whole keep-alive timeout.
   */
  shutdown(message?: SSEInput | PreparedEvent): void {
    const dest = this.dest as (WritableLike & { socket?: Closable | null; writeHead?: unknown; writableFinished?: boolean }) | null;
    const socket = dest?.socket;
    if (dest !== null && typeof dest.writeHead === 'function' && socket != null) {
      if (dest.writableFinished === true) closeConnection(socket);
      else dest.on('finish', () => closeConnection(socket));
    }
    if (this.session.state === OPEN) this.end(message as PipedInput<E>);
  }

  private watch(req: RequestLike): void {
    if (requestGone(req)) {
      // Gone already (the handler awaited something first): reported once the
      // caller's listeners are on (or at once by pipe()).
      process.nextTick(() => this.clientLeft());
      return;
    }
    const r = req as { on?(e: string, l: () => void): unknown };
    if (typeof r.on !== 'function') return;
    watched.set(req, this);
    r.on('close', requestClosed);
  }

  private unwatch(): void {
    const req = this.req as { removeListener?(e: string, l: () => void): unknown } | undefined;
    if (req === undefined || watched.get(req) !== this) return;
    watched.delete(req);
    req.removeListener?.('close', requestClosed);
  }

  private refuse(cb: WriteCallback | undefined): false {
    if (cb !== undefined) {
      const s = this.session;
      process.nextTick(cb, s.state === GONE && s.reason !== undefined ? s.reason : stateError('ERR_SSE_STREAM_CLOSED', 'write()'));
    }
    return false;
  }

  /**
   * An invalid message: thrown at the caller, or, from a piped source (which
   * cannot catch), the stream's error: what was valid goes out, the response
   * ends (the client reconnects), and the Writable side errors with it, so an
   * 'error' listener or pipeline()'s callback sees it.
   */
  private invalid(error: Error, cb: WriteCallback | undefined): false {
    // Readable#pipe() listens for 'unpipe' on its destination: that is how a piped write is told apart.
    if (this.listenerCount('unpipe') === 0) throw error;
    if (cb !== undefined) process.nextTick(cb, error);
    this.failure = error;
    this.session.end();
    super.end();
    return false;
  }
}

export interface SSEStream<E extends object = EventMap> {
  on(event: 'disconnect', listener: (reason: SSEError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'disconnect', listener: (reason: SSEError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

// Writable's own counters know nothing of the session's batch: answer from it
// (declared as plain properties in @types/node, so defined here, not in the class).
Object.defineProperties(SSEStream.prototype, {
  writableNeedDrain: {
    get(this: SSEStream<any>): boolean {
      return sessionOf(this).needsDrain;
    },
  },
  writableLength: {
    get(this: SSEStream<any>): number {
      return sessionOf(this).backlog;
    },
  },
});

function sessionOf(stream: SSEStream<any>): Session {
  return (stream as unknown as { session: Session }).session;
}

interface Closable {
  destroySoon?(): void;
  end?(): unknown;
}

// destroySoon, not end: a browser keeps a half-closed idle socket until it next
// uses it, which held server.close() ~1.1 s; destroySoon closed it in 28-45 ms.
function closeConnection(socket: Closable): void {
  if (typeof socket.destroySoon === 'function') socket.destroySoon();
  else socket.end?.();
}

function destroyAfterFinish(stream: SSEStream<any>): void {
  if (!stream.destroyed) stream.destroy();
}

/**
 * End every open stream of the process (optionally sending `message` first),
 * e.g. on SIGTERM, and close each HTTP/1 connection once its response finished,
 * so that `server.close()` can complete. Streams already ending (ended by you or
 * a Channel) get their connection closed too. Returns how many streams it touched.
 */
export function endAll(message?: SSEInput | PreparedEvent): number {
  const streams = [...openStreams];
  for (const stream of streams) stream.shutdown(message);
  return streams.length;
}

/** How many streams are piped and not yet finished right now (process-wide). */
export function openStreamCount(): number {
  return openStreams.size;
}

export type { SSEStreamOptions };
