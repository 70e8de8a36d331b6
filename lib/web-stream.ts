/**
 * The stream `sseResponse()` hands to its handler: the same methods, events,
 * validation and errors as `SSEStream` (minus `pipe`), over the same `Session`,
 * writing to a `WebSink` (the Response's body). Neutral: no `node:` import, so
 * it runs on Bun, Deno, Cloudflare's workerd and Node alike.
 *
 * The client leaving is seen from the body's `cancel()` and from the request's
 * `signal`, whichever comes first (runtimes and adapters differ in which they
 * deliver), and reported once.
 */
import { Emitter } from './emitter.js';
import { stateError, type SSEError } from './errors.js';
import { isPrepared, serialize } from './format.js';
import { HeartbeatScheduler } from './heartbeat.js';
import { endArguments } from './options.js';
import { GONE, OPEN, ENDING, Session, type SessionLimits, type WriteCallback } from './session.js';
import { WebSink } from './sink-web.js';
import { CompressSink, type ZlibLike } from './sink-compress.js';
import type { Encoding } from './encoding.js';
import type { CompressSettings } from './options.js';
import type { EventMap, EventStreamLike, MessageOf, PreparedEvent, SSEInput } from './types.js';

/**
 * Cloudflare's workerd runs a timer in the context of the request that set it,
 * and cancels a request whose own context has nothing pending: a stream whose
 * heartbeat came from another request's timer was cut as hung, and that timer
 * died with its request (measured on workerd 2026-11-17). There each stream
 * gets a heartbeat timer of its own, set while its request is handled; every
 * other runtime shares one timer per interval among all streams.
 */
const TIMERS_PER_REQUEST =
  typeof navigator !== 'undefined' && (navigator as { userAgent?: string }).userAgent === 'Cloudflare-Workers';

/** What the web stream reads of a request: a fetch `Request`, or anything with its headers and signal. */
export interface WebRequestLike {
  readonly headers: { get(name: string): string | null };
  readonly signal?: AbortSignal;
}

/** The resolved options the stream needs (see `WebStreamOptions`). */
export interface WebStreamLimits extends SessionLimits {
  readonly maxDuration: number;
}

type Done = () => void;

/**
 * An event stream on a fetch-style runtime: made by `sseResponse()`, which
 * hands it to your handler and returns its `Response`. `E`: an optional event
 * map (see `EventMap`) that every `write()` is checked against.
 *
 * Events: `'drain'`, `'disconnect'` (reason), `'finish'` (after `end()`),
 * `'close'` (always last), and `'error'` (only from `destroy(error)`, and only
 * when listened to).
 */
export class WebSSEStream<E extends object = EventMap> extends Emitter implements EventStreamLike<E> {
  /**
   * The request's `Last-Event-ID` header: the id of the last event this client
   * saw before it reconnected (decoded as UTF-8), or undefined (absent, empty,
   * or not a valid id).
   */
  readonly lastEventId: string | undefined;
  /** @internal */ private readonly session: Session;
  /** @internal The body's sink (behind a compressor when the response is compressed). */
  private web: WebSink | undefined = undefined;
  /** @internal */ private encoding: Encoding | undefined = undefined;
  /** @internal */ private readonly limits: WebStreamLimits;
  /** @internal */ private readonly requestSignal: AbortSignal | undefined;
  /** @internal The maxDuration timer (a number on Deno and workerd, an object on Node and Bun). */
  private deadline: unknown = undefined;
  /** @internal */ private ended = false;
  /** @internal */ private finished = false;
  /** @internal */ private closed = false;
  /** @internal */ private finishCallback: Done | undefined = undefined;
  /** @internal */ private error: Error | undefined = undefined;

  /** Made by `sseResponse()`, which also opens it; not meant to be called directly. */
  constructor(request: WebRequestLike, limits: WebStreamLimits, lastEventId: string | undefined) {
    super();
    this.limits = limits;
    this.lastEventId = lastEventId;
    this.session = new Session(this, limits, TIMERS_PER_REQUEST ? new HeartbeatScheduler() : undefined);
    const signal = request.signal;
    this.requestSignal = signal;
    if (signal !== undefined && !signal.aborted) signal.addEventListener('abort', this);
  }

  /**
   * @internal Start sending: `head` first; the deadline starts now. With
   * `compression` (negotiated by `sseResponse()`), the body is written through
   * a compressor, flushed per batch as on Node.
   */
  open(head: string, compression?: { zlib: ZlibLike; encoding: Encoding; settings: CompressSettings }): void {
    const hwm = this.limits.highWaterMark;
    let sink: WebSink | CompressSink;
    if (compression === undefined) sink = this.web = new WebSink(this.session, hwm);
    else {
      this.encoding = compression.encoding;
      sink = new CompressSink(this.session, compression.zlib, compression.encoding, compression.settings, hwm, (listener) => (this.web = new WebSink(listener, hwm)));
    }
    this.session.attach(sink, head);
    const ms = this.limits.maxDuration;
    if (ms > 0 && this.session.state === OPEN) {
      this.deadline = setTimeout(expire, ms, this);
      // Never keep a process alive for it (Node, Bun; Deno's timers are numbers).
      (this.deadline as { unref?(): void }).unref?.();
    }
    // The client left while the handler awaited something, before this stream existed.
    if (this.requestSignal?.aborted === true) queueMicrotask(() => this.clientLeft());
  }

  /** The response body (what `sseResponse()` returns inside its Response). */
  get body(): ReadableStream<Uint8Array> {
    return (this.web as WebSink).body;
  }

  /** The `Content-Encoding` the body is sent with (`'br'`, `'gzip'`, `'deflate'`, `'zstd'`), or undefined when uncompressed. */
  get contentEncoding(): Encoding | undefined {
    return this.encoding;
  }

  /** Aborts, with the disconnect reason, when the client goes away. Hand it to `fetch`, timers, database cursors. */
  get signal(): AbortSignal {
    return this.session.signal;
  }

  /** This stream's `maxBufferedBytes` limit (0 = off); a channel bounds its replay queue with it. */
  get maxBufferedBytes(): number {
    return this.limits.maxBufferedBytes;
  }

  /** True once the client went away (`'disconnect'` was emitted). */
  get disconnected(): boolean {
    return this.session.state === GONE;
  }

  /** Why the client went away: an SSEError with code ERR_SSE_CLIENT_CLOSED or ERR_SSE_CLIENT_TOO_SLOW. */
  get disconnectReason(): SSEError | undefined {
    return this.session.state === GONE ? this.session.reason : undefined;
  }

  /** Whether `write()` still sends: false once ended, destroyed or disconnected. */
  get writable(): boolean {
    return this.session.state === OPEN;
  }

  /** True once `end()` was called. */
  get writableEnded(): boolean {
    return this.ended;
  }

  /** True once everything was handed to the body and it was closed after `end()`. */
  get writableFinished(): boolean {
    return this.finished;
  }

  /** True once the stream closed, for whatever reason. */
  get destroyed(): boolean {
    return this.closed;
  }

  /** True when `write()` returned false and `'drain'` has not been emitted yet. */
  get writableNeedDrain(): boolean {
    return this.session.needsDrain;
  }

  /** Bytes written and not yet taken by the runtime. */
  get writableLength(): number {
    return this.session.backlog;
  }

  /**
   * Send `message` (validated and serialized now; throws on invalid input and
   * sends nothing). Returns false when the buffered bytes reached
   * `highWaterMark`: wait for `'drain'` before writing more. After the client
   * left or the stream ended, a write is a no-op that returns false (and `cb`
   * gets `ERR_SSE_STREAM_CLOSED` or the disconnect reason).
   */
  write(message: MessageOf<E> | PreparedEvent<E>, cb?: WriteCallback): boolean {
    const session = this.session;
    if (session.state !== OPEN) return this.refuse(cb);
    const frame = isPrepared(message) ? message.frame : serialize(message as SSEInput);
    return session.write(frame, cb);
  }

  /** Alias of `write()`, as on `SSEStream`. */
  writeMessage(message: MessageOf<E> | PreparedEvent<E>, cb?: WriteCallback): boolean {
    return this.write(message, cb);
  }

  /**
   * Send what is pending (plus `message`, if given) and end the response, so the
   * client sees the end of the stream at once. Browsers then reconnect after the
   * retry time (answer with a 204 to stop them). `cb` runs on `'finish'`.
   */
  end(cb?: Done): this;
  end(message: MessageOf<E> | PreparedEvent<E>, cb?: Done): this;
  end(message?: unknown, cb?: unknown): this {
    const [last, done] = endArguments(message, cb, undefined);
    if (this.session.state !== OPEN) {
      if (done !== undefined) queueMicrotask(done);
      return this;
    }
    if (last !== undefined && last !== null) {
      this.write(last as MessageOf<E>);
      if (this.session.state !== OPEN) return this;
    }
    this.ended = true;
    this.finishCallback = done;
    this.session.end();
    return this;
  }

  /** Abort the response now: pending events are dropped; with `error`, it is emitted as `'error'` when listened to. */
  destroy(error?: Error): this {
    const state = this.session.state;
    if (state !== OPEN && state !== ENDING) return this;
    this.error = error;
    this.session.destroy(error);
    return this;
  }

  cork(): void {
    this.session.cork();
  }

  uncork(): void {
    this.session.uncork();
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
    if (this.deadline !== undefined) clearTimeout(this.deadline as number);
    this.deadline = undefined;
    this.requestSignal?.removeEventListener('abort', this);
    // 'finish' (a clean end) and 'close' a microtask later, after the caller's code ran, as a Writable does.
    queueMicrotask(() => this.close());
  }

  /** @internal The request's signal aborted: the client left. */
  handleEvent(): void {
    this.clientLeft();
  }

  /** @internal */
  clientLeft(): void {
    this.session.disconnect(stateError('ERR_SSE_CLIENT_CLOSED'));
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ended && this.session.state !== GONE && this.error === undefined) {
      this.finished = true;
      this.emit('finish');
      this.finishCallback?.();
    }
    if (this.error !== undefined && this.listenerCount('error') > 0) this.emit('error', this.error);
    this.emit('close');
  }

  private refuse(cb: WriteCallback | undefined): false {
    if (cb !== undefined) {
      const s = this.session;
      const error = s.state === GONE && s.reason !== undefined ? s.reason : stateError('ERR_SSE_STREAM_CLOSED', 'write()');
      queueMicrotask(() => cb(error));
    }
    return false;
  }
}

export interface WebSSEStream<E extends object = EventMap> {
  on(event: 'disconnect', listener: (reason: SSEError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'disconnect', listener: (reason: SSEError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** `maxDuration` passed: end cleanly, so the client reconnects (with `Last-Event-ID`) before the platform cuts the response. */
function expire(stream: WebSSEStream<any>): void {
  stream.end();
}
