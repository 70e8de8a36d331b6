/**
 * A channel's subscribers and the fan-out to them: one prepared event, the
 * same bytes to every subscribed stream, in the order events were published,
 * through each subscriber's filter, with a bounded queue for a subscriber whose
 * replay is still being fetched. Neutral: no `node:` import.
 */
import type { Emitter } from './emitter.js';
import { caused, stateError, type SSEError } from './errors.js';
import type { EventStreamLike, PreparedEvent } from './types.js';

/** The per-subscriber state: one object per `add()`, nothing per event. */
export interface Subscriber {
  readonly stream: EventStreamLike;
  readonly filter: ((event: PreparedEvent) => boolean) | null;
  /** How many events had been broadcast when it joined: it gets the later ones (or they are in its replay). */
  readonly start: number;
  /** Live events that came while the replay was being fetched; null once it was sent. */
  queue: PreparedEvent[] | null;
  queuedBytes: number;
}

export class Subscribers {
  private readonly subs = new Map<EventStreamLike, Subscriber>();
  /** Where 'join' and 'leave' are emitted (the channel). */
  private readonly events: Emitter;
  /** Told when the first subscriber joins (true) and the last leaves (false): a broker delivers only what is watched. */
  private readonly watched: (watched: boolean) => void;
  /** Events broadcast so far: their sequence numbers, which order them as the history does. */
  private created = 0;
  private fanning = false;
  /** Events broadcast during a fan-out, each followed by its sequence number. */
  private backlog: Array<PreparedEvent | number> | null = null;
  // One listener function per channel, shared by all its subscribers (called
  // with `this` = the stream): no closure per subscriber.
  private readonly onDisconnect: (this: EventStreamLike, reason: SSEError) => void;
  private readonly onClose: (this: EventStreamLike) => void;

  constructor(events: Emitter, watched: (watched: boolean) => void) {
    this.events = events;
    this.watched = watched;
    const subscribers = this;
    this.onDisconnect = function (this: EventStreamLike, reason: SSEError) {
      subscribers.remove(this, reason);
    };
    this.onClose = function (this: EventStreamLike) {
      subscribers.remove(this, this.disconnectReason);
    };
  }

  get size(): number {
    return this.subs.size;
  }

  has(stream: EventStreamLike): boolean {
    return this.subs.has(stream);
  }

  streams(): IterableIterator<EventStreamLike> {
    return this.subs.keys();
  }

  /** Whether `sub` is still the subscription of its stream (it did not leave meanwhile). */
  current(sub: Subscriber): boolean {
    return this.subs.get(sub.stream) === sub;
  }

  /** Subscribe `stream`; with `replaying`, live events queue until the replay is sent. */
  add(stream: EventStreamLike, filter: ((event: PreparedEvent) => boolean) | undefined, replaying: boolean): Subscriber {
    // Queue live events from now on, even for a synchronous store: a 'join' or
    // 'gap' listener may broadcast, and that event must follow the replay.
    const sub: Subscriber = { stream, filter: filter ?? null, start: this.created, queue: replaying ? [] : null, queuedBytes: 0 };
    this.subs.set(stream, sub);
    if (this.subs.size === 1) this.watched(true);
    stream.on('disconnect', this.onDisconnect);
    stream.on('close', this.onClose);
    return sub;
  }

  /** Unsubscribe `stream` (`'leave'` with `reason`). Returns whether it was subscribed. */
  remove(stream: EventStreamLike, reason: SSEError | undefined): boolean {
    if (!this.subs.delete(stream)) return false;
    if (this.subs.size === 0) this.watched(false);
    this.detach(stream);
    this.events.emit('leave', stream, reason);
    return true;
  }

  /** A subscriber's own code threw: it leaves, and its stream ends (its client reconnects). */
  fail(sub: Subscriber, err: unknown, what: string): void {
    this.remove(sub.stream, caused(stateError('ERR_SSE_SUBSCRIBER_FAILED', what), err));
    sub.stream.end();
  }

  /** End every subscriber's stream (the channel ended). */
  endAll(): void {
    const streams = [...this.subs.keys()];
    this.subs.clear();
    if (streams.length > 0) this.watched(false);
    for (const stream of streams) {
      this.detach(stream);
      stream.end();
      this.events.emit('leave', stream, undefined);
    }
  }

  /** A snapshot of the subscriptions (for what may change them while it runs). */
  list(): Subscriber[] {
    return [...this.subs.values()];
  }

  /** `event` to every subscriber that joined before it, in publication order. */
  broadcast(event: PreparedEvent): void {
    const seq = ++this.created;
    if (this.fanning) {
      // Broadcast by a listener ('leave' of a dropped client) in the middle of a
      // fan-out: sent after it, so that every subscriber sees history order.
      (this.backlog ??= []).push(event, seq);
      return;
    }
    this.fanning = true;
    try {
      this.fanOut(event, seq);
      while (this.backlog !== null) {
        const backlog = this.backlog;
        this.backlog = null;
        for (let i = 0; i < backlog.length; i += 2) this.fanOut(backlog[i] as PreparedEvent, backlog[i + 1] as number);
      }
    } finally {
      this.fanning = false;
    }
  }

  /** To one subscriber, through its filter. Returns false when the subscriber is gone. */
  send(sub: Subscriber, event: PreparedEvent): boolean {
    if (sub.filter !== null) {
      let wanted: boolean;
      try {
        wanted = sub.filter(event);
      } catch (err) {
        this.fail(sub, err, 'its filter');
        return false;
      }
      if (!wanted) return true;
    }
    const stream = sub.stream;
    if (stream.write(event) || stream.writable) return true;
    // Ended or destroyed without telling us yet: let go of it now.
    this.remove(stream, stream.disconnectReason);
    return false;
  }

  private fanOut(event: PreparedEvent, seq: number): void {
    // values(), not entries(): no [key, value] pair allocated per subscriber.
    for (const sub of this.subs.values()) {
      if (sub.start >= seq) continue; // joined during this fan-out: its replay has the event
      if (sub.queue !== null) this.enqueue(sub, event);
      else this.send(sub, event);
    }
  }

  private enqueue(sub: Subscriber, event: PreparedEvent): void {
    const queue = sub.queue as PreparedEvent[];
    queue.push(event);
    sub.queuedBytes += event.frame.length;
    // The queue is part of this client's backlog: bound it like the stream's own.
    const max = sub.stream.maxBufferedBytes;
    if (max > 0 && sub.queuedBytes > max) {
      this.remove(sub.stream, stateError('ERR_SSE_CLIENT_TOO_SLOW', sub.queuedBytes, max, ' behind its replay'));
      // Ending (not a client disconnect): the client reconnects and replays again.
      sub.stream.destroy();
    }
  }

  private detach(stream: EventStreamLike): void {
    stream.removeListener('disconnect', this.onDisconnect);
    stream.removeListener('close', this.onClose);
  }
}
