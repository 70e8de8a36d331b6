/**
 * Channel history: what a reconnecting client missed. `HistoryStore` is the
 * seam where a broker (Redis Streams, the user's own client) can replace the
 * in-memory ring buffer; its `since()` may be async.
 */
import { ErrorCode, SSETypeError, describe } from './errors.js';
import type { SSEInput } from './types.js';
import { checkInt } from './validate.js';

/** One broadcast event: what was written, and the exact text sent for it. */
export interface ChannelEvent {
  /** The id on the wire: the caller's, or the one the history assigned; undefined without either. */
  readonly id: string | undefined;
  /** The type clients dispatch it as: the message's `event`, or `'message'`. */
  readonly type: string;
  /** The message as written (for a `HistoryStore` that is not in memory, as it gives it back). */
  readonly message: SSEInput;
  /** The serialized event, sent as is to every subscriber. */
  readonly frame: string;
}

/** An event kept in history: it always has an id. */
export interface StoredEvent extends ChannelEvent {
  readonly id: string;
}

/** What `HistoryStore.since()` answers. */
export interface HistoryResult {
  /** The events to replay, oldest first. */
  readonly events: readonly StoredEvent[];
  /**
   * True when the id was found, so `events` are exactly the ones after it.
   * False when it is unknown or already dropped: `events` is then everything kept.
   */
  readonly found: boolean;
}

/**
 * Where a channel keeps its history. The channel calls `nextId()` and `append()`
 * synchronously, once per kept event; `since()` may return a Promise.
 */
export interface HistoryStore {
  /** A fresh id for an event written without one: unique, and never one a client of an earlier run may hold. */
  nextId(): string;
  /** Keep `event` (its `frame` carries `id: <event.id>`). Called in broadcast order. */
  append(event: StoredEvent): void;
  /** The events after the one with id `lastEventId` (see `HistoryResult`). */
  since(lastEventId: string): HistoryResult | PromiseLike<HistoryResult>;
}

export interface MemoryHistoryOptions {
  /** How many events are kept; the oldest is dropped first. Must be at least 1. */
  limit: number;
  /**
   * Events older than this many ms are dropped too (checked on append and on
   * replay; no timer). `0` keeps events until `limit` pushes them out.
   * @defaultValue 0
   */
  maxAge?: number;
}

/**
 * The default history: a ring buffer of the last `limit` events. O(1) append; a
 * lookup scans back from the newest event, which is where reconnecting clients are.
 *
 * Assigned ids are decimal integers that grow by one per event, starting from
 * the clock (ms x 1000): an id held by a client of an earlier run of the process
 * is never taken for an event of this one (it is reported as a gap instead).
 */
export class MemoryHistory implements HistoryStore {
  readonly limit: number;
  readonly maxAge: number;
  private readonly _events: (StoredEvent | undefined)[];
  private readonly _times: number[];
  private _first = 0; // slot of the oldest event
  private _count = 0;
  private _next = Date.now() * 1000;

  constructor(options: MemoryHistoryOptions) {
    if (options === null || typeof options !== 'object') {
      throw new SSETypeError(ErrorCode.INVALID_OPTION, `MemoryHistory: options must be an object { limit, maxAge? }; got ${describe(options)}`);
    }
    this.limit = checkInt(options.limit, 'MemoryHistory', 'limit', 1, undefined);
    this.maxAge = checkInt(options.maxAge, 'MemoryHistory', 'maxAge', 0, 0);
    this._events = new Array<StoredEvent | undefined>(this.limit).fill(undefined);
    this._times = this.maxAge > 0 ? new Array<number>(this.limit).fill(0) : [];
  }

  /** How many events are kept right now. */
  get size(): number {
    if (this.maxAge > 0) this._expire(Date.now());
    return this._count;
  }

  nextId(): string {
    return String(this._next++);
  }

  append(event: StoredEvent): void {
    const limit = this.limit;
    let slot = this._first + this._count;
    if (slot >= limit) slot -= limit;
    if (this._count === limit) {
      this._first = slot + 1 === limit ? 0 : slot + 1;
    } else {
      this._count++;
    }
    this._events[slot] = event;
    if (this.maxAge > 0) {
      const now = Date.now();
      this._times[slot] = now;
      this._expire(now);
    }
  }

  since(lastEventId: string): HistoryResult {
    if (this.maxAge > 0) this._expire(Date.now());
    const count = this._count;
    let after = count; // index (from the oldest) of the first event to replay
    let found = false;
    for (let i = count - 1; i >= 0; i--) {
      if (this._at(i).id === lastEventId) {
        after = i + 1;
        found = true;
        break;
      }
    }
    if (!found) after = 0;
    const events = new Array<StoredEvent>(count - after);
    for (let i = after; i < count; i++) events[i - after] = this._at(i);
    return { events, found };
  }

  /** Forget every event (ids keep growing). */
  clear(): void {
    this._events.fill(undefined);
    this._first = 0;
    this._count = 0;
  }

  private _at(index: number): StoredEvent {
    let slot = this._first + index;
    if (slot >= this.limit) slot -= this.limit;
    return this._events[slot] as StoredEvent;
  }

  private _expire(now: number): void {
    const oldest = now - this.maxAge;
    while (this._count > 0 && this._times[this._first] < oldest) {
      this._events[this._first] = undefined;
      this._first = this._first + 1 === this.limit ? 0 : this._first + 1;
      this._count--;
    }
  }
}
