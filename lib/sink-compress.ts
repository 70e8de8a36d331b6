/**
 * A compressing sink: sits between a session and the sink that carries its
 * bytes (a Node response; the web stream's sink too, wherever `node:zlib`
 * exists), and sends every batch through one compressor per connection,
 * flushed as it is written, so the client can read each event at once.
 *
 * Why this shape: Node has no synchronous API for a compressor that keeps its
 * state between calls (`zlib.gzipSync` and friends close the engine after one
 * call), so compression is asynchronous, on libuv's thread pool, and the
 * session's synchronous `Sink` contract is kept as follows.
 *
 * - Ordering and flushing: a batch goes to the compressor at once when it is
 *   idle, compressed with the flush kind the stream was made with (`Z_SYNC_FLUSH`,
 *   `BROTLI_OPERATION_FLUSH`, `ZSTD_e_flush`); its output goes to the inner sink
 *   as soon as it comes out. The batches written while the compressor works wait
 *   here, joined, and go to it as one chunk, one flush, the moment it is done:
 *   a writer faster than the thread pool's round trip (~10 µs a chunk here) got
 *   one flush per batch and a backlog growing until maxBufferedBytes dropped a
 *   client that read everything (the bench's 1-client loop, ~300 B JSON: 1,879 of
 *   ~20k events delivered). Heartbeats are batches like any other. `end()` ends
 *   the compressor (the format's trailer) and ends the inner sink only after its
 *   last byte went out: nothing ever waits in a compressor for the next event.
 * - `write()`'s boolean: false when what waits for the compressor reaches
 *   `highWaterMark` or the inner sink said it was full. The inner sink's verdict
 *   on a batch arrives after the compressor is done with it, so it is seen one
 *   batch late. False tells the writer to wait for `'drain'`; the session still
 *   hands batches on (it does to every sink), so a slow client's backlog waits
 *   compressed, in the inner sink, rather than as text in the session.
 * - `sinkDrained` when both the compressor's input and the inner sink have room.
 * - `bufferedBytes`: what the compressor has not processed yet (uncompressed:
 *   the chunk it works on and the batches waiting) plus what the inner sink holds
 *   (compressed): the bytes a slow client costs the server. The session checks
 *   it against `maxBufferedBytes` on every batch while the sink is full, so the
 *   bound counts compressed bytes where they wait.
 * - The compressor is freed (its memory given back) when the stream ends, the
 *   client leaves, the session is destroyed, or compression fails.
 *
 * No cap on concurrent compressions: one on the thread pool spread a broadcast
 * to 1,000 clients over more time and cost more CPU per event (README, "Compression").
 */
import type { Transform } from 'node:stream';
import { ENCODINGS, type Encoding } from './encoding.js';
import type { CompressSettings } from './options.js';
import type { Sink, SinkListener } from './session.js';

/** A sink that takes bytes as well as text: what a compressor writes to. */
export interface ByteSink extends Sink {
  write(chunk: string | Uint8Array): boolean;
}

/**
 * The part of `node:zlib` a compressor needs. Passed in, never imported here, so
 * that this module loads where `node:zlib` does not exist (Workers): the Node
 * entry passes its import, the web entry what `process.getBuiltinModule()` gives.
 */
export interface ZlibLike {
  readonly constants: Record<string, number>;
  createGzip(options: object): Transform;
  createDeflate(options: object): Transform;
  createBrotliCompress(options: object): Transform;
  // zstd came to node:zlib in 22.15 and 23.8 (experimental); older runtimes never offer it.
  createZstdCompress?(options: object): Transform;
}

/** The encodings `zlib` can produce, in the default order of preference. */
export function encodingsOf(zlib: ZlibLike): readonly Encoding[] {
  return ENCODINGS.filter((e) => e !== 'zstd' || typeof zlib.createZstdCompress === 'function');
}

/** Of the `offered` encodings, those `zlib` can produce (same order). */
export function producible(zlib: ZlibLike, offered: readonly Encoding[]): readonly Encoding[] {
  const available = encodingsOf(zlib);
  return offered.every((e) => available.includes(e)) ? offered : offered.filter((e) => available.includes(e));
}

function compressor(zlib: ZlibLike, encoding: Encoding, s: CompressSettings, highWaterMark: number): Transform {
  const C = zlib.constants;
  const writableHighWaterMark = highWaterMark;
  switch (encoding) {
    case 'gzip':
    case 'deflate': {
      const options = { flush: C.Z_SYNC_FLUSH, level: s.level, windowBits: s.windowBits, memLevel: s.memLevel, writableHighWaterMark };
      return encoding === 'gzip' ? zlib.createGzip(options) : zlib.createDeflate(options);
    }
    case 'br':
      return zlib.createBrotliCompress({
        flush: C.BROTLI_OPERATION_FLUSH,
        // Passed on to the Transform, as for every zlib stream (not in @types/node's BrotliOptions).
        ...({ writableHighWaterMark } as object),
        params: {
          [C.BROTLI_PARAM_MODE]: C.BROTLI_MODE_TEXT,
          [C.BROTLI_PARAM_QUALITY]: s.brotliQuality,
          [C.BROTLI_PARAM_LGWIN]: s.windowBits,
        },
      });
    case 'zstd': {
      const k = C as unknown as Record<string, number>;
      // zstd's default tables (hashLog, chainLog) take ~800 KiB per stream; sized to the window, ~150 KiB.
      return zlib.createZstdCompress!({
        flush: k.ZSTD_e_flush,
        writableHighWaterMark,
        params: {
          [k.ZSTD_c_compressionLevel]: s.zstdLevel,
          [k.ZSTD_c_windowLog]: s.windowBits,
          [k.ZSTD_c_hashLog]: s.windowBits,
          [k.ZSTD_c_chainLog]: s.windowBits,
        },
      });
    }
  }
}

let live = 0;

/** How many compressors of this process are open now (each holds its window and tables). */
export function liveCompressors(): number {
  return live;
}

function ignore(): void {}

type Done = (error?: Error | null) => void;

function closedError(): Error {
  return new Error('the compressed stream was closed before the event was written');
}

export class CompressSink implements Sink, SinkListener {
  /** The encoding, for `Content-Encoding`. */
  readonly encoding: Encoding;
  private readonly listener: SinkListener;
  private readonly inner: ByteSink;
  private readonly highWaterMark: number;
  private z: Transform | null;
  /** A chunk is in the compressor (from `z.write()` until its callback). */
  private busy = false;
  /** Bytes of the chunk in the compressor. */
  private busyBytes = 0;
  /** The batches written while it was busy, joined; their callbacks. */
  private waiting = '';
  private waitingBytes = 0;
  private waitingDone: Done[] | null = null;
  /** The callbacks of the chunk in the compressor. */
  private busyDone: Done[] | null = null;
  private zFull = false;
  private innerFull = false;
  // A compressor holds 100+ KiB of tables: four closures per connection next to
  // it are noise (NodeSink shares its listeners for idle plain connections).
  private readonly onData = (bytes: Uint8Array): void => {
    if (!this.inner.write(bytes)) this.innerFull = true;
  };
  /** The compressor is done with its chunk (its output went to the inner sink). */
  private readonly onCompressed = (error?: Error | null): void => {
    const done = this.busyDone;
    this.busyDone = null;
    this.busy = false;
    this.busyBytes = 0;
    if (done !== null) for (const f of done) f(error);
    if (this.z === null) return;
    if (this.waitingBytes > 0) this.feed();
    if (this.zFull && this.waitingBytes + this.busyBytes < this.highWaterMark) {
      this.zFull = false;
      if (!this.innerFull) this.listener.sinkDrained();
    }
  };
  private readonly onEnd = (): void => {
    this.release();
    this.inner.end();
  };
  private readonly onError = (error: Error): void => {
    // The compressor failed (it does not, short of memory): abort the response
    // rather than send a corrupt stream; the session sees the connection fail.
    this.release();
    this.inner.destroy(error);
    this.listener.sinkClosed(error, false);
  };

  /**
   * `open(listener)` makes the inner sink, reporting to this one. Throws if the
   * runtime cannot produce `encoding` (callers pick it from `AVAILABLE`).
   */
  constructor(
    listener: SinkListener,
    zlib: ZlibLike,
    encoding: Encoding,
    settings: CompressSettings,
    highWaterMark: number,
    open: (listener: SinkListener) => ByteSink,
  ) {
    this.listener = listener;
    this.encoding = encoding;
    this.highWaterMark = highWaterMark;
    const z = compressor(zlib, encoding, settings, highWaterMark);
    live++;
    this.z = z;
    z.on('data', this.onData);
    z.on('end', this.onEnd);
    z.on('error', this.onError);
    this.inner = open(this);
  }

  /** Whether this sink still holds its compressor (false once freed). */
  get open(): boolean {
    return this.z !== null;
  }

  write(chunk: string, done?: Done): boolean {
    // Freed: the session learnt (sinkClosed/sinkFinished) and writes no more.
    if (this.z === null) {
      if (done !== undefined) queueMicrotask(() => done(closedError()));
      return false;
    }
    // `done` once the compressor processed the batch: its bytes went on to the inner sink.
    this.waiting += chunk;
    // UTF-16 units, as the session counts its batches (no Buffer here: this module runs on web runtimes too).
    this.waitingBytes += chunk.length;
    if (done !== undefined) (this.waitingDone ??= []).push(done);
    if (!this.busy) this.feed();
    if (this.waitingBytes + this.busyBytes >= this.highWaterMark) this.zFull = true;
    return !this.zFull && !this.innerFull;
  }

  /** What waits goes to the compressor, as one chunk (one flush). */
  private feed(): void {
    const chunk = this.waiting;
    this.busyBytes = this.waitingBytes;
    this.busyDone = this.waitingDone;
    this.waiting = '';
    this.waitingBytes = 0;
    this.waitingDone = null;
    this.busy = true;
    this.z!.write(chunk, this.onCompressed);
  }

  get bufferedBytes(): number {
    const z = this.z;
    return (z === null ? 0 : this.busyBytes + this.waitingBytes + z.readableLength) + this.inner.bufferedBytes;
  }

  end(): void {
    const z = this.z;
    if (z === null) return this.inner.end();
    // The batches still waiting go first (the compressor takes writes in order).
    if (this.waitingBytes > 0) {
      const chunk = this.waiting;
      const done = this.waitingDone;
      this.waiting = '';
      this.waitingBytes = 0;
      this.waitingDone = null;
      z.write(chunk, (error) => {
        if (done !== null) for (const f of done) f(error);
      });
    }
    z.end();
  }

  destroy(error?: Error): void {
    this.release();
    this.inner.destroy(error);
  }

  // ------------------------------------------------- SinkListener (the inner sink)

  sinkDrained(): void {
    this.innerFull = false;
    if (!this.zFull) this.listener.sinkDrained();
  }

  sinkFinished(): void {
    this.release();
    this.listener.sinkFinished();
  }

  sinkClosed(error: Error | undefined, byServer: boolean): void {
    this.release();
    this.listener.sinkClosed(error, byServer);
  }

  /** Free the compressor now: its tables and window, and whatever it had not processed. */
  private release(): void {
    const z = this.z;
    if (z === null) return;
    this.z = null;
    live--;
    z.removeListener('data', this.onData);
    z.removeListener('end', this.onEnd);
    z.removeListener('error', this.onError);
    z.on('error', ignore);
    z.destroy();
    // What the compressor works on and what waits: never sent; their callbacks in order, with an error.
    const lost = [...(this.busyDone ?? []), ...(this.waitingDone ?? [])];
    this.busyDone = this.waitingDone = null;
    this.waiting = '';
    this.waitingBytes = this.busyBytes = 0;
    if (lost.length > 0) queueMicrotask(() => {
      for (const f of lost) f(closedError());
    });
  }
}
