/**
 * The web sink: a session's events as the body of a fetch `Response`, a
 * pull-based `ReadableStream` of UTF-8 bytes. Neutral: no `node:` import.
 *
 * - Backpressure: the body's queue is bounded by a byte-length strategy of
 *   `highWaterMark` bytes. `write()` answers false once `desiredSize` is used
 *   up; the runtime calling `pull()` (it took bytes and wants more) is the
 *   drain. What sits in the queue is the sink's `bufferedBytes`, so the
 *   session's `maxBufferedBytes` drops a client whose runtime stopped pulling.
 * - The client leaving: the runtime cancels the body (`cancel()`).
 * - The sink is the body's underlying source itself (start/pull/cancel are its
 *   methods), and the strategy is shared: no closure per connection.
 *
 * Seam for a compressing sink: it takes the session's strings (`write`), and
 * hands its compressed bytes to `writeBytes()` of the sink it wraps, answering
 * with that call's verdict; `bufferedBytes`, `end` and `destroy` pass through.
 */
import type { Sink, SinkListener } from './session.js';

const encoder = new TextEncoder();

function byteLength(chunk: Uint8Array): number {
  return chunk.byteLength;
}

export class WebSink implements Sink {
  /** The response body. */
  readonly body: ReadableStream<Uint8Array>;
  private readonly listener: SinkListener;
  private readonly highWaterMark: number;
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** A write found the queue full and the session waits for `sinkDrained`. */
  private full = false;
  /** Closed, errored or cancelled: nothing more goes in. */
  private done = false;

  constructor(listener: SinkListener, highWaterMark: number) {
    this.listener = listener;
    this.highWaterMark = highWaterMark;
    this.body = new ReadableStream<Uint8Array>(this, { highWaterMark, size: byteLength });
  }

  /** @internal UnderlyingSource: runs inside the ReadableStream constructor. */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.controller = controller;
  }

  /** @internal UnderlyingSource: the runtime read, and the queue has room. */
  pull(): void {
    if (!this.full) return;
    this.full = false;
    this.listener.sinkDrained();
  }

  /** @internal UnderlyingSource: the runtime gave up the body: the client left. */
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.listener.sinkClosed(undefined, false);
  }

  /** Text from the session, or bytes from a compressor in front of this sink. */
  write(chunk: string | Uint8Array): boolean {
    return this.writeBytes(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
  }

  /** Queue bytes already encoded (a compressing sink's output). False when the queue is full. */
  writeBytes(bytes: Uint8Array): boolean {
    if (this.done) return true;
    const controller = this.controller as ReadableStreamDefaultController<Uint8Array>;
    // Enqueueing may call pull() at once (below the high-water mark): `full` is
    // still false then, so that is not taken as a drain.
    controller.enqueue(bytes);
    if ((controller.desiredSize ?? 0) > 0) return true;
    this.full = true;
    return false;
  }

  get bufferedBytes(): number {
    if (this.done) return 0;
    return this.highWaterMark - ((this.controller as ReadableStreamDefaultController<Uint8Array>).desiredSize ?? 0);
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    (this.controller as ReadableStreamDefaultController<Uint8Array>).close();
    // Nothing tells when the runtime has read the rest: the session is over now,
    // and what is queued is read out before the body ends.
    this.listener.sinkFinished();
  }

  /** Abort the body: the runtime drops what is queued and cuts the response (the client reconnects). */
  destroy(error?: Error): void {
    if (this.done) return;
    this.done = true;
    (this.controller as ReadableStreamDefaultController<Uint8Array>).error(error ?? new Error('the event stream was aborted'));
  }
}
