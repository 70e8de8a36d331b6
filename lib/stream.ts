/**
 * SSEStream: message objects in, `text/event-stream` bytes out, and the
 * lifecycle of one client connection (headers, keep-alive, disconnect, slow
 * clients, shutdown).
 *
 * The writable side bypasses Writable's per-chunk machinery: `write()` validates
 * and serializes synchronously (so bad input throws at the call that made it),
 * appends the frame to a pending string, and hands the pending events on as ONE
 * chunk at the end of the tick (process.nextTick), or at once when they reach
 * `highWaterMark` bytes. One `push` per batch instead of one per event (or five,
 * as ssestream does) is what makes this several times faster than a `res.write`
 * per event; a lone event still leaves in the same turn of the event loop.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { ErrorCode, SSEError } from './errors.js';
import { HEARTBEAT, PREAMBLE, serialize } from './format.js';
import { checkCors, corsHeaders, lastEventIdOf, writeStreamHead, type ResponseLike } from './http.js';
import type { CorsOptions, RequestLike, SSEInput, SSEStreamOptions } from './types.js';
import { checkInt, optionsObject } from './validate.js';

type WriteCallback = (error?: Error | null) => void;

interface Destination {
  write(chunk: string): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  once(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  writableLength?: number;
  writableEnded?: boolean;
  writeHead?: unknown;
  destroy?(error?: Error): unknown;
  end?(): unknown;
  stream?: { writableLength?: number };
}

const DEFAULT_HEARTBEAT = 15_000;
const DEFAULT_MAX_BUFFERED = 4 * 1024 * 1024;
// 64 KiB: per-batch costs (push, Buffer, chunk header, writev) spread over 4x the
// events of 16 KiB; measured 1.70M -> 2.03M events/s on the throughput bench.
const DEFAULT_HWM = 64 * 1024;
const OPTION_NAMES = ['heartbeat', 'maxBufferedBytes', 'highWaterMark', 'cors', 'retry'];

// Lifecycle states. OPEN -> ENDING (server called end) | GONE (client left) | CLOSED (destroyed).
const OPEN = 0;
const ENDING = 1;
const GONE = 2;
const CLOSED = 3;

/** Internal entry for pre-serialized frames (see `SSEStream[kWriteFrame]`). */
export const kWriteFrame: unique symbol = Symbol('ssepipe.writeFrame');

/** Every stream that is piped and not yet finished, for `endAll()` at shutdown. */
const openStreams = new Set<SSEStream>();

export class SSEStream extends Transform {
  /**
   * The request's `Last-Event-ID` header: the id of the last event this client
   * saw before it reconnected, or undefined (absent, empty, or not a valid id).
   */
  readonly lastEventId: string | undefined;
  private readonly _req: RequestLike | undefined;
  private readonly _hwm: number;
  private readonly _heartbeatMs: number;
  private readonly _maxBuffered: number;
  private readonly _cors: CorsOptions | undefined;
  private readonly _preamble: string;
  // Made on first use of `signal`: an AbortController per idle connection is
  // memory most servers never use (bench/memory: heap per connection).
  private _controller: AbortController | null = null;
  private _state = OPEN;
  private _pending = '';
  private _pendingSize = 0;
  private _scheduled = false;
  private _corked = 0;
  private _needDrain = false;
  private _callbacks: WriteCallback[] | null = null;
  private _dest: Destination | null = null;
  private _timer: NodeJS.Timeout | null = null;
  private _lastFlush = 0;
  private _closedError: SSEError | null = null;
  private _reason: SSEError | null = null;

  constructor(req?: RequestLike | null, options?: SSEStreamOptions) {
    const opts = checkOptions(options);
    const hwm = opts.highWaterMark ?? DEFAULT_HWM;
    super({ writableObjectMode: true, readableHighWaterMark: hwm });
    this._hwm = hwm;
    this._heartbeatMs = opts.heartbeat ?? DEFAULT_HEARTBEAT;
    this._maxBuffered = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED;
    this._cors = opts.cors;
    this._preamble = opts.retry === undefined ? PREAMBLE : `${PREAMBLE}retry: ${opts.retry}\n\n`;
    this._req = req ?? undefined;
    this.lastEventId = lastEventIdOf(this._req);
    if (this._req) tuneSocket(this._req);
  }

  /** Aborts, with the disconnect reason, when the client goes away. */
  get signal(): AbortSignal {
    if (this._controller === null) {
      this._controller = new AbortController();
      if (this._reason !== null) this._controller.abort(this._reason);
    }
    return this._controller.signal;
  }

  /** This stream's `maxBufferedBytes` limit (0 = off); a channel bounds its replay queue with it. */
  get maxBufferedBytes(): number {
    return this._maxBuffered;
  }

  /** True once the client went away (`'disconnect'` was emitted). */
  get disconnected(): boolean {
    return this._state === GONE;
  }

  /** Why the client went away: an SSEError with code ERR_SSE_CLIENT_CLOSED or ERR_SSE_CLIENT_TOO_SLOW. */
  get disconnectReason(): SSEError | undefined {
    return this._reason ?? undefined;
  }

  /**
   * Send `message` (validated and serialized now; throws on invalid input and
   * sends nothing). Returns false when the buffered bytes reached
   * `highWaterMark`: wait for `'drain'` before writing more. After the client
   * left or the stream ended, a write is a no-op that returns false.
   */
  override write(message: SSEInput, cb?: WriteCallback): boolean;
  override write(message: SSEInput, encoding: BufferEncoding, cb?: WriteCallback): boolean;
  // Wide enough for `source.pipe(stream)` and `pipeline(source, stream)` to
  // type-check; the message is validated at run time either way.
  override write(message: unknown, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean;
  override write(message: unknown, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (this._state !== OPEN) return this._refuse(typeof encoding === 'function' ? encoding : cb);
    if (typeof encoding === 'function') cb = encoding;
    return this[kWriteFrame](serialize(message as SSEInput), cb);
  }

  /**
   * @internal Queue text that is already a complete, valid event (or comment).
   * The channel serializes a broadcast once and hands the same string to every
   * subscriber through this. Not exported from the package: raw text could forge events.
   */
  [kWriteFrame](frame: string, cb?: WriteCallback): boolean {
    if (this._state !== OPEN) return this._refuse(cb);
    this._pending = this._pendingSize === 0 ? frame : this._pending + frame;
    this._pendingSize += frame.length;
    if (cb !== undefined) (this._callbacks ??= []).push(cb);
    if (this._pendingSize >= this._hwm) {
      if (!this._flushPending()) this._needDrain = true;
    } else if (!this._scheduled && this._corked === 0) {
      this._scheduled = true;
      schedule(this);
    }
    if (this._pendingSize + this.readableLength < this._hwm) return true;
    this._needDrain = true;
    return false;
  }

  /** Typed alias of `write()`, as in ssestream. */
  writeMessage(message: SSEInput, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    return this.write(message as unknown, encoding, cb);
  }

  /**
   * Send what is pending (plus `message`, if given) and end the response, so the
   * client sees the end of the stream at once. Browsers then reconnect after
   * the retry time; answer that attempt with `noContent(res)` to stop them.
   */
  override end(cb?: () => void): this;
  override end(message: SSEInput, cb?: () => void): this;
  override end(message: SSEInput, encoding?: BufferEncoding, cb?: () => void): this;
  override end(message: unknown, encoding?: BufferEncoding | (() => void), cb?: () => void): this;
  override end(message?: unknown, encoding?: unknown, cb?: unknown): this {
    const [last, done] = endArguments(message, encoding, cb);
    if (this._state !== OPEN) {
      if (done !== undefined) process.nextTick(done);
      return this;
    }
    if (last !== undefined && last !== null) this.write(last);
    this._state = ENDING;
    this._stopHeartbeat();
    return super.end(done);
  }

  override cork(): void {
    this._corked++;
  }

  override uncork(): void {
    if (this._corked > 0 && --this._corked === 0) this._flushPending();
  }

  /**
   * Pipe into a response (node:http, node:http2 compat, Express, Fastify's
   * `reply.raw`, Koa's `ctx.res`) or any Writable. On a response this sends the
   * event-stream headers first (merged with headers already set), then the `:ok`
   * preamble, and watches the connection for a client that leaves.
   */
  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    const dest = destination as unknown as Destination;
    if (typeof dest.writeHead === 'function') {
      const res = dest as unknown as ResponseLike;
      const req = this._req ?? res.req;
      writeStreamHead(res, req, corsHeaders(this._cors, req?.headers ?? {}));
    }
    dest.write(this._preamble);
    if (this._dest === null && this._state === OPEN) this._attach(dest);
    return super.pipe(destination, options);
  }

  override _transform(message: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    // Only reached through Writable's own write path (write() is overridden).
    let frame: string;
    try {
      frame = serialize(message as SSEInput);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback(null, frame);
  }

  override _flush(callback: TransformCallback): void {
    this._flushPending();
    this._release();
    callback();
  }

  override _read(): void {
    // Readable asks for more once its buffer fell below highWaterMark: the
    // moment a writer told to wait may go on.
    if (this._needDrain && this._pendingSize < this._hwm) {
      this._needDrain = false;
      process.nextTick(emitDrain, this);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const dest = this._dest;
    const byServer = this._state === OPEN || this._state === ENDING;
    this._state = this._state === GONE ? GONE : CLOSED;
    this._pending = '';
    this._pendingSize = 0;
    this._release();
    if (byServer && dest !== null) {
      // The server destroyed the stream: don't leave the response hanging open.
      if (error) dest.destroy?.(error);
      else dest.end?.();
    }
    callback(error);
  }

  /**
   * @internal End for a server shutdown: besides ending the response, close an
   * HTTP/1 connection once the response finished. `server.close()` only closes
   * connections idle at the moment it is called, so a keep-alive socket freed a
   * moment later would hold it for the whole keep-alive timeout.
   */
  _shutdown(message?: SSEInput): void {
    const res = this._dest;
    const socket = (res as { socket?: { end?(): unknown } | null } | null)?.socket;
    if (res !== null && typeof res.writeHead === 'function' && typeof socket?.end === 'function') {
      res.once('finish', () => socket.end?.());
    }
    this.end(message as unknown);
  }

  /** Hand the pending events on as one chunk. Returns push()'s verdict. */
  _flushPending(now?: number): boolean {
    this._scheduled = false;
    if (this._pendingSize === 0) return true;
    const chunk = this._pending;
    this._pending = '';
    this._pendingSize = 0;
    if (this._heartbeatMs > 0) this._lastFlush = now ?? Date.now();
    let ok: boolean;
    let backedUp = true;
    const dest = this._dest;
    if (dest !== null && this.readableFlowing === true && this.readableLength === 0 && this.listenerCount('data') === 1) {
      // Piped to one response with nothing queued here: write to it directly.
      // push -> 'data' -> pipe -> write costs about as much as res.write itself
      // at one event per tick (bench/intervals). When the response asks to wait,
      // later batches queue in the paused Readable and pipe delivers them in order.
      if (dest.write(chunk) === false) {
        this.pause();
        dest.once('drain', this._onDestDrain);
      } else {
        // Below the response's own highWaterMark: nothing to measure (the bound is
        // then the larger of maxBufferedBytes and that highWaterMark).
        backedUp = false;
      }
      ok = true;
    } else {
      ok = this.push(chunk);
    }
    const callbacks = this._callbacks;
    if (callbacks !== null) {
      this._callbacks = null;
      process.nextTick(runCallbacks, callbacks);
    }
    if (backedUp && this._maxBuffered > 0 && this._dest !== null) this._checkBacklog(this._dest);
    return ok;
  }

  private _checkBacklog(dest: Destination): void {
    const queued = this.readableLength + (dest.writableLength ?? dest.stream?.writableLength ?? 0);
    if (queued > this._maxBuffered) {
      this._disconnect(
        new SSEError(
          ErrorCode.CLIENT_TOO_SLOW,
          `the client read too slowly: ${queued} bytes were queued for it, more than maxBufferedBytes (${this._maxBuffered})`,
        ),
      );
      dest.destroy?.();
    }
  }

  private _attach(dest: Destination): void {
    this._dest = dest;
    dest.on('close', this._onDestClose);
    dest.on('error', this._onDestError);
    openStreams.add(this);
    if (this._heartbeatMs > 0) {
      this._lastFlush = Date.now();
      this._armHeartbeat(this._heartbeatMs);
    }
  }

  private readonly _onDestClose = (): void => {
    if (this._state !== OPEN || this._serverEndedResponse()) return;
    this._disconnect(new SSEError(ErrorCode.CLIENT_CLOSED, 'the client closed the connection'));
  };

  private readonly _onDestDrain = (): void => {
    if (this._dest !== null) this.resume();
  };

  private readonly _onDestError = (err: Error): void => {
    // Listening also keeps a reset socket (EPIPE, ECONNRESET) from crashing the process.
    if (this._state !== OPEN || this._serverEndedResponse()) return;
    this._disconnect(
      new SSEError(ErrorCode.CLIENT_CLOSED, `the connection to the client failed: ${err.message}`, { cause: err }),
    );
  };

  /**
   * The server ended the response itself (`res.end()`, not `stream.end()`): that
   * is not a client leaving. Let go of it quietly; later writes are refused.
   */
  private _serverEndedResponse(): boolean {
    if (this._dest?.writableEnded !== true) return false;
    this._state = CLOSED;
    this._release();
    this.destroy();
    return true;
  }

  private _disconnect(reason: SSEError): void {
    if (this._state !== OPEN) return;
    this._state = GONE;
    this._reason = reason;
    this._pending = '';
    this._pendingSize = 0;
    const callbacks = this._callbacks;
    this._callbacks = null;
    if (callbacks !== null) for (const cb of callbacks) process.nextTick(cb, reason);
    this._release();
    this._controller?.abort(reason);
    this.emit('disconnect', reason);
    this.destroy();
  }

  /** Stop timers and let go of the response (it keeps no reference to us through pipe). */
  private _release(): void {
    this._stopHeartbeat();
    openStreams.delete(this);
    const dest = this._dest;
    if (dest === null) return;
    this._dest = null;
    dest.removeListener('close', this._onDestClose);
    dest.removeListener('drain', this._onDestDrain);
    if (this._state !== ENDING) this.unpipe(dest as unknown as NodeJS.WritableStream);
    // The error listener stays: a late socket error on a released response must not crash the process.
  }

  private _armHeartbeat(ms: number): void {
    this._timer = setTimeout(beat, ms, this);
    this._timer.unref();
  }

  /** @internal */
  _beat(): void {
    this._timer = null;
    if (this._state !== OPEN) return;
    const idle = Date.now() - this._lastFlush;
    if (idle >= this._heartbeatMs) {
      this._pending += HEARTBEAT;
      this._pendingSize += HEARTBEAT.length;
      this._flushPending();
      this._armHeartbeat(this._heartbeatMs);
    } else {
      this._armHeartbeat(this._heartbeatMs - idle);
    }
  }

  private _stopHeartbeat(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _refuse(cb: WriteCallback | undefined): false {
    if (cb !== undefined) {
      const err = this._reason ?? (this._closedError ??= new SSEError(
        ErrorCode.STREAM_CLOSED,
        'write() after the stream was ended or destroyed: the message was not sent',
      ));
      process.nextTick(cb, err);
    }
    return false;
  }
}

export interface SSEStream {
  on(event: 'disconnect', listener: (reason: SSEError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'disconnect', listener: (reason: SSEError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * @internal `end(cb)`, `end(message, cb)` and `end(message, encoding, cb)` as the
 * message and the callback (shared by SSEStream and Channel).
 */
export function endArguments(message: unknown, encoding: unknown, cb: unknown): [unknown, (() => void) | undefined] {
  if (typeof message === 'function') return [undefined, message as () => void];
  if (typeof encoding === 'function') return [message, encoding as () => void];
  return [message, typeof cb === 'function' ? (cb as () => void) : undefined];
}

/**
 * End every open stream (optionally sending `message` first), e.g. on SIGTERM so
 * that `server.close()` can complete. Returns how many streams were ended.
 */
export function endAll(message?: SSEInput): number {
  const streams = [...openStreams];
  for (const stream of streams) stream._shutdown(message);
  return streams.length;
}

/** How many streams are piped and open right now (process-wide). */
export function openStreamCount(): number {
  return openStreams.size;
}

// Streams with events pending, flushed together by ONE process.nextTick: a tick
// that writes to 1,000 clients schedules one callback, not 1,000.
let dirty: SSEStream[] = [];

function schedule(stream: SSEStream): void {
  if (dirty.length === 0) process.nextTick(flushDirty);
  dirty.push(stream);
}

function flushDirty(): void {
  const streams = dirty;
  dirty = [];
  // One clock read for the whole batch (heartbeat bookkeeping), not one per stream.
  const now = Date.now();
  let i = 0;
  try {
    for (; i < streams.length; i++) streams[i]._flushPending(now);
  } finally {
    // If one flush threw, the others still go out (on the next tick).
    for (let j = i + 1; j < streams.length; j++) schedule(streams[j]);
  }
}

function emitDrain(stream: SSEStream): void {
  stream.emit('drain');
}

function beat(stream: SSEStream): void {
  stream._beat();
}

function runCallbacks(callbacks: WriteCallback[]): void {
  for (const cb of callbacks) cb(null);
}

function tuneSocket(req: RequestLike): void {
  // HTTP/1 only: node:http2's request socket is a proxy that forbids manipulation.
  if ((req.httpVersionMajor ?? 1) >= 2) return;
  const socket = req.socket as
    | { setNoDelay?(v: boolean): unknown; setKeepAlive?(v: boolean): unknown; setTimeout?(ms: number): unknown }
    | undefined;
  socket?.setNoDelay?.(true);
  socket?.setKeepAlive?.(true);
  socket?.setTimeout?.(0);
}

function checkOptions(options: SSEStreamOptions | undefined): SSEStreamOptions {
  options = optionsObject(options, OPTION_NAMES, 'SSEStream');
  checkInt(options.heartbeat, 'SSEStream', 'heartbeat', 0, 0);
  checkInt(options.maxBufferedBytes, 'SSEStream', 'maxBufferedBytes', 0, 0);
  checkInt(options.highWaterMark, 'SSEStream', 'highWaterMark', 1, 1);
  checkInt(options.retry, 'SSEStream', 'retry', 0, 0);
  checkCors(options.cors, 'SSEStream');
  return options;
}
