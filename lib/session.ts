/**
 * The session: what one event-stream connection is, whatever carries it. It
 * owns the pending batch and its bounds, `write()`'s honest boolean and
 * `'drain'`, cork/uncork, write callbacks, the lifecycle (open, ending, client
 * gone, closed) with a coded reason and an AbortSignal, the slow-client bound
 * and heartbeat bookkeeping. It writes to a `Sink` (a Node response, a web
 * ReadableStream, a compressor in front of either) and tells its `SessionHost`
 * (the facade users hold) what happened. Neutral: no `node:` import.
 *
 * Events written in the same tick are joined and handed to the sink as ONE
 * chunk (one microtask flushes every session with pending events), or at once
 * when they reach `highWaterMark`: one sink write per batch instead of one per
 * event is what makes this several times faster than a `res.write` per event.
 */
import { SSEError, caused, stateError } from './errors.js';
import { HEARTBEAT } from './format.js';
import { heartbeats, SWEEPS_PER_INTERVAL, type Beating, type HeartbeatScheduler } from './heartbeat.js';

/** Where a session's bytes go. */
export interface Sink {
  /**
   * Hand `chunk` on; false when the transport's buffer is full (wait for
   * `sinkDrained`). `done`, when given, runs once the chunk was sent (or with the
   * error that kept it from the client).
   */
  write(chunk: string, done?: (error?: Error | null) => void): boolean;
  /** Bytes handed on that the client has not taken yet. */
  readonly bufferedBytes: number;
  /** End the response once what was written is out; then `sinkFinished`. */
  end(): void;
  /** Abort the response now. */
  destroy(error?: Error): void;
}

/** What a sink reports to its session. */
export interface SinkListener {
  /** The transport's buffer has room again. */
  sinkDrained(): void;
  /** The response ended (after `end()`) with everything written handed over. */
  sinkFinished(): void;
  /**
   * The transport closed before `end()` finished: the client left (or the
   * network failed: `error`), or, with `byServer`, the application ended the
   * response itself (e.g. `res.end()`), which is not a client leaving.
   */
  sinkClosed(error: Error | undefined, byServer: boolean): void;
}

/** What a session reports to the facade that owns it. */
export interface SessionHost {
  /** `write()` returned false and the backlog fell below `highWaterMark`. */
  sessionDrained(): void;
  /** The client went away (or was dropped as too slow): emitted once, never for the server's own end. */
  sessionDisconnected(reason: SSEError): void;
  /** The session is over, for whatever reason: no write will be accepted again. */
  sessionClosed(): void;
}

export interface SessionLimits {
  readonly highWaterMark: number;
  /** 0 = off. */
  readonly maxBufferedBytes: number;
  /** ms; 0 = off. */
  readonly heartbeat: number;
}

export type WriteCallback = (error?: Error | null) => void;

// Lifecycle: OPEN -> ENDING (the server ended it) -> CLOSED; OPEN/ENDING -> GONE
// (the client left); OPEN/ENDING -> CLOSED (destroyed, or the app ended the response).
export const OPEN = 0;
export const ENDING = 1;
export const GONE = 2;
export const CLOSED = 3;

export class Session implements SinkListener, Beating {
  state: number = OPEN;
  /** Why the client went away (GONE), or why the session closed. */
  reason: SSEError | undefined = undefined;
  private readonly host: SessionHost;
  private readonly limits: SessionLimits;
  private sink: Sink | null = null;
  private pending = '';
  private pendingSize = 0;
  private scheduled = false;
  private corked = 0;
  private needDrain = false;
  /** The sink's last write returned false and it has not drained since. */
  private sinkFull = false;
  private callbacks: WriteCallback[] | null = null;
  /** Callbacks of batches handed to the sink and not yet confirmed: a transport may never confirm a write to a dead socket. */
  private inflight: Set<WriteCallback[]> | null = null;
  // Made on first use of `signal`: an AbortController per idle connection is
  // memory most servers never use (bench/memory: heap per connection).
  private controller: AbortController | null = null;
  /** Heartbeat bookkeeping without a clock read per flush: written since the last sweep, and silent sweeps since. */
  private active = false;
  private silentSweeps = 0;
  private readonly beats: HeartbeatScheduler;

  /** `beats`: the scheduler whose timers drive the heartbeat (the process's shared one unless the platform needs another). */
  constructor(host: SessionHost, limits: SessionLimits, beats: HeartbeatScheduler = heartbeats) {
    this.host = host;
    this.limits = limits;
    this.beats = beats;
  }

  /** Aborts, with the disconnect reason, when the client goes away (not when the server ends the stream). */
  get signal(): AbortSignal {
    if (this.controller === null) {
      this.controller = new AbortController();
      if (this.state === GONE) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  /** Bytes written and not yet taken by the client: pending here plus buffered in the sink. */
  get backlog(): number {
    return this.pendingSize + (this.sink?.bufferedBytes ?? 0);
  }

  get needsDrain(): boolean {
    return this.needDrain;
  }

  get attached(): boolean {
    return this.sink !== null;
  }

  /** Queue a complete, valid frame. The caller checked `state === OPEN`. Returns false when the writer should wait for drain. */
  write(frame: string, cb?: WriteCallback): boolean {
    this.pending = this.pendingSize === 0 ? frame : this.pending + frame;
    this.pendingSize += frame.length;
    if (cb !== undefined) (this.callbacks ??= []).push(cb);
    if (this.pendingSize >= this.limits.highWaterMark) {
      if (this.corked === 0) this.flush();
    } else if (!this.scheduled && this.corked === 0) {
      this.scheduled = true;
      flushQueue.add(this);
    }
    if (this.pendingSize < this.limits.highWaterMark && !this.sinkFull) return true;
    this.needDrain = true;
    return false;
  }

  cork(): void {
    this.corked++;
  }

  uncork(): void {
    if (this.corked > 0 && --this.corked === 0) this.flush();
  }

  /** Start sending: `head` (the preamble) first, with anything written before. */
  attach(sink: Sink, head: string): void {
    this.sink = sink;
    if (this.state === GONE || this.state === CLOSED) return;
    this.pending = this.pendingSize === 0 ? head : head + this.pending;
    this.pendingSize += head.length;
    if (this.state === ENDING) {
      this.finish();
      return;
    }
    this.flush();
    if (this.limits.heartbeat > 0) this.beats.add(this, this.limits.heartbeat);
  }

  /** Hand the pending batch to the sink. */
  flush(): void {
    this.scheduled = false;
    if (this.pendingSize === 0 || this.state !== OPEN) return;
    const sink = this.sink;
    // A full sink still gets the batch: it holds it as bytes (a Buffer, a queued
    // chunk, compressed), counted in `bufferedBytes` against maxBufferedBytes.
    // Kept here instead, a slow client's backlog was one rope of every event
    // written, whose collection took half the CPU (bench/profile: 49.5% GC).
    if (sink === null) {
      this.checkBacklog();
      return;
    }
    const chunk = this.pending;
    this.pending = '';
    this.pendingSize = 0;
    this.active = true;
    const ok = this.send(sink, chunk);
    // Below the sink's own highWaterMark: nothing to measure (measuring the
    // backlog reads the socket's buffer; bench/profile: ~2% per write).
    if ((!ok || this.sinkFull) && this.state === OPEN) {
      this.sinkFull = true;
      this.checkBacklog();
    }
  }

  /** The server ends the session: what is pending (and written before) goes out, whatever the backlog, then the end. */
  end(): void {
    if (this.state !== OPEN) return;
    this.state = ENDING;
    this.stopHeartbeat();
    if (this.sink !== null) this.finish();
  }

  /** The server destroys the session: pending events are dropped (their callbacks get an error). */
  destroy(error?: Error): void {
    if (this.state !== OPEN && this.state !== ENDING) return;
    this.state = CLOSED;
    this.drop(stateError('ERR_SSE_STREAM_CLOSED', 'the stream was destroyed before it was sent; write()'));
    this.stopHeartbeat();
    const sink = this.sink;
    // Destroyed by the server: don't leave the response hanging open.
    if (sink !== null) {
      if (error) sink.destroy(error);
      else sink.end();
    }
    this.closed();
  }

  /** The client is gone (or too slow): once, with `reason`. */
  disconnect(reason: SSEError): void {
    if (this.state !== OPEN && this.state !== ENDING) return;
    this.state = GONE;
    this.reason = reason;
    this.drop(reason);
    // What was handed to the transport and not confirmed did not reach the client.
    const inflight = this.inflight;
    this.inflight = null;
    if (inflight !== null) queueMicrotask(() => inflight.forEach((callbacks) => callbacks.forEach((cb) => cb(reason))));
    this.stopHeartbeat();
    this.controller?.abort(reason);
    this.host.sessionDisconnected(reason);
    this.closed();
  }

  sinkDrained(): void {
    this.sinkFull = false;
    if (this.pendingSize > 0) this.flush();
    if (this.needDrain && !this.sinkFull && this.pendingSize < this.limits.highWaterMark && this.state === OPEN) {
      this.needDrain = false;
      this.host.sessionDrained();
    }
  }

  sinkFinished(): void {
    if (this.state !== ENDING) return;
    this.state = CLOSED;
    this.closed();
  }

  sinkClosed(error: Error | undefined, byServer: boolean): void {
    if (this.state !== OPEN && this.state !== ENDING) return;
    if (byServer) {
      this.state = CLOSED;
      this.drop(stateError('ERR_SSE_STREAM_CLOSED', 'the response was ended by the application, so a write'));
      this.stopHeartbeat();
      this.closed();
      return;
    }
    const reason = stateError('ERR_SSE_CLIENT_CLOSED', error?.message);
    this.disconnect(error === undefined ? reason : caused(reason, error));
  }

  /** Heartbeat sweep (an eighth of the interval): after seven silent sweeps, a comment goes out. */
  beat(): void {
    if (this.active) {
      this.active = false;
      this.silentSweeps = 0;
      return;
    }
    if (++this.silentSweeps < SWEEPS_PER_INTERVAL - 1 || this.state !== OPEN) return;
    this.silentSweeps = 0;
    this.pending = this.pendingSize === 0 ? HEARTBEAT : this.pending + HEARTBEAT;
    this.pendingSize += HEARTBEAT.length;
    this.flush();
  }

  private finish(): void {
    const sink = this.sink as Sink;
    if (this.pendingSize > 0) {
      const chunk = this.pending;
      this.pending = '';
      this.pendingSize = 0;
      this.send(sink, chunk);
    }
    if (this.state !== ENDING || !this.checkBacklog()) return;
    sink.end();
  }

  /** Drop a client whose backlog passed `maxBufferedBytes`. Returns false when it did. */
  private checkBacklog(): boolean {
    const max = this.limits.maxBufferedBytes;
    if (max === 0) return true;
    const queued = this.backlog;
    if (queued <= max) return true;
    const sink = this.sink;
    this.disconnect(stateError('ERR_SSE_CLIENT_TOO_SLOW', queued, max, sink === null ? ' before the stream was piped' : ''));
    sink?.destroy();
    return false;
  }

  /** A batch to the sink; its write callbacks, if any, run when the sink says it was sent (or not). */
  private send(sink: Sink, chunk: string): boolean {
    const callbacks = this.callbacks;
    if (callbacks === null) return sink.write(chunk);
    this.callbacks = null;
    (this.inflight ??= new Set()).add(callbacks);
    return sink.write(chunk, (error) => {
      if (this.inflight?.delete(callbacks) !== true) return;
      // Not sent: the reason the client is gone, when the session knows it.
      const reason = error == null ? null : this.state === GONE && this.reason !== undefined ? this.reason : caused(stateError('ERR_SSE_CLIENT_CLOSED', error.message), error);
      for (const cb of callbacks) cb(reason);
    });
  }

  /** Forget what is pending; its callbacks get `error` (the messages were not sent). */
  private drop(error: Error): void {
    this.pending = '';
    this.pendingSize = 0;
    const callbacks = this.callbacks;
    if (callbacks === null) return;
    this.callbacks = null;
    queueMicrotask(() => {
      for (const cb of callbacks) cb(error);
    });
  }

  private stopHeartbeat(): void {
    if (this.limits.heartbeat > 0 && this.sink !== null) this.beats.delete(this, this.limits.heartbeat);
  }

  private closed(): void {
    this.host.sessionClosed();
  }
}

/**
 * Sessions with events pending, flushed together by ONE microtask: a tick that
 * writes to 1,000 clients schedules one callback, not 1,000. The process's one
 * queue, shared by every session.
 */
class FlushQueue {
  private dirty: Session[] = [];
  private readonly run = (): void => {
    const sessions = this.dirty;
    this.dirty = [];
    let i = 0;
    try {
      for (; i < sessions.length; i++) sessions[i].flush();
    } finally {
      // If one flush threw (a sink's write), the others still go out, in another microtask.
      for (let j = i + 1; j < sessions.length; j++) this.add(sessions[j]);
    }
  };

  add(session: Session): void {
    if (this.dirty.length === 0) queueMicrotask(this.run);
    this.dirty.push(session);
  }
}

const flushQueue = new FlushQueue();
