/**
 * Sinks for Node: any `Writable` (node:http and node:http2 compat responses, a
 * socket, a PassThrough), and the readable side of the stream itself for code
 * that reads it with `'data'` or `for await` instead of piping.
 */
import type { Sink, SinkListener } from './session.js';
import type { ByteSink } from './sink-compress.js';

/** What the Node sink needs of a destination. */
export interface WritableLike {
  write(chunk: string | Uint8Array, cb?: (error?: Error | null) => void): boolean;
  end(): unknown;
  destroy?(error?: Error): unknown;
  on(event: string, listener: (...args: any[]) => void): unknown;
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  writableLength?: number;
  writableEnded?: boolean;
  destroyed?: boolean;
  /** node:http2's compat response keeps its buffer on its stream. */
  stream?: { writableLength?: number };
}

// Listeners are shared by every sink (called with `this` = the destination) and
// find their sink here: four closures per connection are memory an idle server
// pays for nothing (bench/memory).
const sinks = new WeakMap<object, NodeSink>();

function onDrain(this: object): void {
  sinks.get(this)?.listener.sinkDrained();
}

function onFinish(this: object): void {
  sinks.get(this)?.finished();
}

function onClose(this: object): void {
  sinks.get(this)?.closed(undefined);
}

function onError(this: object, err: Error): void {
  // Listening also keeps a reset socket (EPIPE, ECONNRESET) from crashing the process.
  sinks.get(this)?.closed(err);
}

function ignore(): void {}

export class NodeSink implements ByteSink {
  readonly listener: SinkListener;
  private readonly dest: WritableLike;
  private readonly endDest: boolean;
  private ended = false;

  /** `endDest: false` (pipe's `{ end: false }`): the stream's end leaves the destination open. */
  constructor(dest: WritableLike, listener: SinkListener, endDest: boolean) {
    this.dest = dest;
    this.listener = listener;
    this.endDest = endDest;
    sinks.set(dest, this);
    dest.on('drain', onDrain);
    dest.on('finish', onFinish);
    dest.on('close', onClose);
    dest.on('error', onError);
  }

  /** Text from the session, or bytes from a compressor in front of this sink. */
  write(chunk: string | Uint8Array, done?: (error?: Error | null) => void): boolean {
    const dest = this.dest;
    // Ended by the application (`res.end()`) or destroyed (the client left) before
    // this batch went out: it cannot be sent, and the session must hear why now.
    if (dest.writableEnded === true || dest.destroyed === true) {
      this.closed(undefined);
      if (done !== undefined) queueMicrotask(() => done(new Error('the response was closed before the event was written')));
      return false;
    }
    return (done === undefined ? dest.write(chunk) : dest.write(chunk, done)) !== false;
  }

  get bufferedBytes(): number {
    const dest = this.dest;
    return dest.writableLength ?? dest.stream?.writableLength ?? 0;
  }

  end(): void {
    this.ended = true;
    if (this.endDest) {
      this.dest.end();
      return;
    }
    this.release();
    this.listener.sinkFinished();
  }

  destroy(error?: Error): void {
    this.release();
    if (typeof this.dest.destroy === 'function') this.dest.destroy(error);
    else this.dest.end();
  }

  /**
   * The destination finished: after our end(), or the application's own
   * `res.end()`, or (node:http2's compat response) because the client closed
   * its stream, which emits 'finish' without the response being ended.
   */
  finished(): void {
    this.release();
    if (this.ended) this.listener.sinkFinished();
    else this.listener.sinkClosed(undefined, this.dest.writableEnded === true);
  }

  /** The destination closed (or failed) before it finished. */
  closed(error: Error | undefined): void {
    // The application ended the response itself (`res.end()`, not `stream.end()`):
    // not a client leaving.
    const byServer = !this.ended && this.dest.writableEnded === true;
    this.release();
    this.listener.sinkClosed(error, byServer);
  }

  /** Let go of the destination. Its error listener stays: a late socket error must not crash the process. */
  release(): void {
    const dest = this.dest;
    if (sinks.get(dest) !== this) return;
    sinks.delete(dest);
    dest.removeListener('drain', onDrain);
    dest.removeListener('finish', onFinish);
    dest.removeListener('close', onClose);
    dest.removeListener('error', onError);
    dest.on('error', ignore);
  }
}

/** What the readable sink needs of the stream it pushes into. */
export interface ReadableHost {
  push(chunk: string | null): boolean;
  readonly readableLength: number;
}

/** The stream's own readable side, for `stream.on('data')` and `for await (const chunk of stream)`. */
export class ReadableSink implements Sink {
  private readonly host: ReadableHost;
  private readonly listener: SinkListener;

  constructor(host: ReadableHost, listener: SinkListener) {
    this.host = host;
    this.listener = listener;
  }

  write(chunk: string, done?: (error?: Error | null) => void): boolean {
    const ok = this.host.push(chunk);
    if (done !== undefined) queueMicrotask(() => done(null));
    return ok;
  }

  get bufferedBytes(): number {
    return this.host.readableLength;
  }

  end(): void {
    this.host.push(null);
    this.listener.sinkFinished();
  }

  destroy(): void {
    // The stream itself is destroyed by its session closing.
  }
}
