/**
 * Broadcast: one event in, the same bytes out to every subscribed SSEStream,
 * with optional history so a reconnecting client gets exactly what it missed.
 *
 * Two parts, kept apart so that a broker can replace the second later:
 * - fan-out (`Channel`): validate + serialize once, then one `[kWriteFrame]` per
 *   subscriber with that same string. Backpressure is each stream's own
 *   business: SSEStream drops a client whose backlog passes `maxBufferedBytes`
 *   and emits `'disconnect'`, on which the channel lets go of it. A slow client
 *   therefore costs the others nothing.
 * - history (`HistoryStore`): assigns ids, keeps events, answers "what came
 *   after id X". `since()` may be async (a broker); live events that arrive
 *   meanwhile are queued per subscriber and sent after the replay, minus those
 *   the replay already covered (as Mercure does), so nothing is lost, repeated
 *   or reordered. `MemoryHistory` is the default: a ring buffer.
 */
import { Writable } from 'node:stream';
import { ErrorCode, SSEError, SSERangeError, SSETypeError, describe } from './errors.js';
import { idText, serialize } from './format.js';
import { SSEStream, kWriteFrame } from './stream.js';
import type { SSEInput, SSEMessage } from './types.js';

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

export interface ChannelOptions {
  /**
   * Keep the last this many events in memory (a `MemoryHistory`) and replay the
   * ones a client missed when it reconnects with `Last-Event-ID`. Every kept
   * event gets an id: the caller's, or one assigned by the history. `0` turns it off.
   * @defaultValue 0
   */
  history?: number;
  /**
   * With `history`: also drop events older than this many ms. `0` keeps them until pushed out.
   * @defaultValue 0
   */
  historyMaxAge?: number;
  /** Your own history (e.g. backed by a broker) instead of `history`/`historyMaxAge`. */
  store?: HistoryStore;
}

export interface AddOptions {
  /**
   * Send this subscriber only the events for which it returns true (live and
   * replayed alike). Called once per event per filtered subscriber; it must not
   * throw (if it does, the event is skipped for that subscriber and the error is
   * rethrown from `write()` after every other subscriber got the event).
   */
  filter?: (event: ChannelEvent) => boolean;
  /**
   * Replay from this id instead of the request's `Last-Event-ID` header (e.g. one
   * taken from the URL for the first connection of a page that saw events before).
   * @defaultValue stream.lastEventId
   */
  lastEventId?: string;
}

/** The per-subscriber state: one object per `add()`, nothing per event. */
interface Subscriber {
  readonly stream: SSEStream;
  readonly filter: ((event: ChannelEvent) => boolean) | null;
  /** Live events that came while the replay was being fetched; null once it was sent. */
  queue: ChannelEvent[] | null;
  queuedBytes: number;
}

type WriteCallback = (error?: Error | null) => void;

const CHANNEL_OPTIONS = ['history', 'historyMaxAge', 'store'];
const ADD_OPTIONS = ['filter', 'lastEventId'];
const DEFAULT_MAX_BUFFERED = 4 * 1024 * 1024;

/**
 * Broadcast to many SSEStreams. A Writable in object mode: `write(message)`
 * sends to every subscriber (an event source can be piped in); `end()` ends
 * every subscriber. Events: `'join'` (stream), `'leave'` (stream, reason?) and,
 * with history, `'gap'` (stream, error) when a replay could not start right
 * after the client's last event id.
 */
export class Channel extends Writable {
  /** The history, or undefined when it is off. */
  readonly store: HistoryStore | undefined;

  private readonly _subs = new Map<SSEStream, Subscriber>();
  private _ended = false;
  private _closedError: SSEError | null = null;

  // One listener function per channel, shared by all its subscribers (EventEmitter
  // calls a listener with `this` = the stream): no closure per subscriber.
  private readonly _onDisconnect: (this: SSEStream, reason: SSEError) => void;
  private readonly _onGone: (this: SSEStream) => void;

  constructor(options?: ChannelOptions) {
    const opts = checkChannelOptions(options);
    super({ objectMode: true });
    const limit = opts.history ?? 0;
    this.store = opts.store ?? (limit > 0 ? new MemoryHistory({ limit, maxAge: opts.historyMaxAge ?? 0 }) : undefined);
    const channel = this;
    this._onDisconnect = function (this: SSEStream, reason: SSEError) {
      channel._remove(this, reason);
    };
    this._onGone = function (this: SSEStream) {
      channel._remove(this, this.disconnectReason);
    };
  }

  /** How many streams are subscribed. */
  get size(): number {
    return this._subs.size;
  }

  /** Whether `stream` is subscribed. */
  has(stream: SSEStream): boolean {
    return this._subs.has(stream);
  }

  /** The subscribed streams (e.g. for presence lists). */
  streams(): IterableIterator<SSEStream> {
    return this._subs.keys();
  }

  /**
   * Subscribe `stream` (pipe it to its response first). With history on and a
   * last event id (the request's `Last-Event-ID`, or `options.lastEventId`), the
   * events after it are sent first, then live ones, with none lost, repeated or
   * reordered. An id the history does not hold (unknown, or too old) replays
   * everything kept and emits `'gap'`. The stream leaves by itself when its
   * client disconnects or it ends. Returns false (and does nothing) when the
   * stream is already subscribed, ended or destroyed; after `end()`, the
   * stream is ended and false is returned.
   */
  add(stream: SSEStream, options?: AddOptions): boolean {
    if (!(stream instanceof SSEStream)) {
      // Also an SSEStream of another copy of this library (one loaded by require(), one by import).
      throw new SSETypeError(ErrorCode.INVALID_OPTION, `Channel.add: expected an SSEStream of this copy of ssepipe; got ${describe(stream)}`);
    }
    const { filter, lastEventId } = checkAddOptions(options);
    const lastId = lastEventId ?? stream.lastEventId;
    if (this._ended) {
      stream.end();
      return false;
    }
    if (this._subs.has(stream) || stream.destroyed || stream.writableEnded) return false;
    const sub: Subscriber = { stream, filter: filter ?? null, queue: null, queuedBytes: 0 };
    this._subs.set(stream, sub);
    stream.on('disconnect', this._onDisconnect);
    stream.on('finish', this._onGone);
    stream.on('close', this._onGone);
    this.emit('join', stream);
    const store = this.store;
    if (store === undefined || lastId === undefined || this._subs.get(stream) !== sub) return true;
    // Queue from now on, even for a synchronous store: a 'gap' listener may
    // broadcast, and that event must follow the replay.
    sub.queue = [];
    let result: HistoryResult | PromiseLike<HistoryResult>;
    try {
      result = store.since(lastId);
    } catch (err) {
      this._replay(sub, lastId, { events: [], found: false }, err);
      return true;
    }
    if (isThenable(result)) {
      result.then(
        (r) => this._replay(sub, lastId, r, undefined),
        (err: unknown) => this._replay(sub, lastId, { events: [], found: false }, err),
      );
    } else {
      this._replay(sub, lastId, result, undefined);
    }
    return true;
  }

  /** Unsubscribe `stream` without ending it. Returns whether it was subscribed. */
  delete(stream: SSEStream): boolean {
    return this._remove(stream, undefined);
  }

  /**
   * Broadcast `message` to every subscriber: validated and serialized once
   * (throws like `SSEStream.write()` on invalid input, and sends nothing), kept
   * in the history when it has `data` or an `id`. Returns true; false after
   * `end()` (the message is then dropped and `cb` gets an error).
   */
  // `message` is typed as wide as Node's own `chunk: any`: anything narrower makes
  // `source.pipe(channel)` and `pipeline(source, channel)` fail to type-check.
  // It is validated at runtime, like every message.
  override write(message: SSEInput | unknown, encoding?: BufferEncoding | WriteCallback, cb?: WriteCallback): boolean {
    if (typeof encoding === 'function') cb = encoding;
    if (this._ended || this.destroyed) {
      if (cb !== undefined) {
        process.nextTick(cb, (this._closedError ??= new SSEError(ErrorCode.STREAM_CLOSED, 'Channel: write() after end(): the message was not sent')));
      }
      return false;
    }
    this._broadcast(message as SSEInput);
    if (cb !== undefined) process.nextTick(cb, null);
    return true;
  }

  /** Broadcast `message` (if given), then end every subscriber and the channel. */
  override end(cb?: () => void): this;
  override end(message: SSEInput | unknown, cb?: () => void): this;
  override end(message: SSEInput | unknown, encoding?: BufferEncoding, cb?: () => void): this;
  override end(message?: unknown, encoding?: unknown, cb?: unknown): this {
    if (typeof message === 'function') {
      cb = message;
      message = undefined;
    } else if (typeof encoding === 'function') {
      cb = encoding;
    }
    if (this._ended) {
      if (typeof cb === 'function') process.nextTick(cb as () => void);
      return this;
    }
    if (message !== undefined && message !== null) this.write(message as SSEInput);
    this._ended = true;
    this._endAll();
    return super.end(cb as () => void);
  }

  override _write(message: unknown, _encoding: BufferEncoding, callback: WriteCallback): void {
    // Only reached through Writable's own write path (write() is overridden).
    try {
      this._broadcast(message as SSEInput);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this._ended = true;
    this._endAll();
    callback(error);
  }

  private _broadcast(message: SSEInput): void {
    const event = this._event(message);
    let failure: unknown = undefined;
    // values(), not entries(): no [key, value] pair allocated per subscriber.
    for (const sub of this._subs.values()) {
      if (sub.queue !== null) {
        this._enqueue(sub, event);
      } else if (sub.filter === null) {
        sub.stream[kWriteFrame](event.frame);
      } else {
        try {
          if (sub.filter(event)) sub.stream[kWriteFrame](event.frame);
        } catch (err) {
          failure ??= err;
        }
      }
    }
    if (failure !== undefined) throw failure;
  }

  /** Validate, assign an id (history on), serialize once, keep in history. */
  private _event(message: SSEInput): ChannelEvent {
    const store = this.store;
    const m: SSEMessage | undefined = typeof message === 'object' && message !== null ? message : undefined;
    const type = m !== undefined && typeof m.event === 'string' && m.event !== '' ? m.event : 'message';
    if (store === undefined) {
      const frame = serialize(message);
      const id = m !== undefined && m.id !== undefined && m.id !== null ? idText(m.id) : undefined;
      return { id, type, message, frame };
    }
    let id: string | undefined;
    let frame: string;
    if (m === undefined) {
      // Bare strings: serialize() throws for non-strings (not an object either).
      if (typeof message !== 'string') return { id: undefined, type, message, frame: serialize(message) };
      id = store.nextId();
      frame = serialize({ id, data: message });
    } else if (m.id !== undefined && m.id !== null) {
      frame = serialize(m);
      id = idText(m.id);
    } else if (m.data !== undefined) {
      // If serialize() throws, the id is simply never used: ids stay increasing.
      id = store.nextId();
      frame = serialize({ ...m, id });
    } else {
      // A comment or retry only: live, not kept (a replayed heartbeat is noise).
      return { id: undefined, type, message, frame: serialize(m) };
    }
    const event: StoredEvent = { id, type, message, frame };
    store.append(event);
    return event;
  }

  private _enqueue(sub: Subscriber, event: ChannelEvent): void {
    const queue = sub.queue as ChannelEvent[];
    queue.push(event);
    sub.queuedBytes += event.frame.length;
    // The queue is part of this client's backlog: bound it like the stream's own.
    const max = maxBufferedOf(sub.stream);
    if (max > 0 && sub.queuedBytes > max) {
      const reason = new SSEError(
        ErrorCode.CLIENT_TOO_SLOW,
        `the replay took too long: ${sub.queuedBytes} bytes of live events were queued behind it, more than maxBufferedBytes (${max})`,
      );
      this._remove(sub.stream, reason);
      // Ending (not a client disconnect): the client reconnects and replays again.
      sub.stream.destroy();
    }
  }

  /** Send the replay, then the live events queued behind it that it did not cover. */
  private _replay(sub: Subscriber, lastId: string, result: HistoryResult, cause: unknown): void {
    if (this._subs.get(sub.stream) !== sub) return; // left (or channel ended) meanwhile
    const stream = sub.stream;
    const events = result.events;
    if (!result.found) {
      const why = cause === undefined ? 'is not in the history (unknown, or already dropped)' : 'could not be looked up';
      const error = new SSEError(
        ErrorCode.HISTORY_GAP,
        `Last-Event-ID ${JSON.stringify(lastId)} ${why}: events may have been missed; replaying the ${events.length} kept`,
        cause === undefined ? undefined : { cause },
      );
      // Written by a listener (e.g. a 'reset' event) goes out before the replay.
      this.emit('gap', stream, error);
      if (this._subs.get(stream) !== sub) return;
    }
    let failure: unknown = undefined;
    for (let i = 0; i < events.length; i++) failure = this._send(sub, events[i], failure);
    const queue = sub.queue as ChannelEvent[];
    sub.queue = null;
    sub.queuedBytes = 0;
    // Live events arrive in history order, so the ones the replay covered are a
    // prefix of the queue ending at the replay's last id.
    let start = 0;
    if (events.length > 0 && queue.length > 0) {
      const last = events[events.length - 1].id;
      for (let i = queue.length - 1; i >= 0; i--) {
        if (queue[i].id === last) {
          start = i + 1;
          break;
        }
      }
    }
    for (let i = start; i < queue.length; i++) failure = this._send(sub, queue[i], failure);
    if (failure !== undefined) throw failure;
  }

  private _send(sub: Subscriber, event: ChannelEvent, failure: unknown): unknown {
    try {
      if (sub.filter === null || sub.filter(event)) sub.stream[kWriteFrame](event.frame);
    } catch (err) {
      return failure ?? err;
    }
    return failure;
  }

  private _remove(stream: SSEStream, reason: SSEError | undefined): boolean {
    if (!this._subs.delete(stream)) return false;
    this._detach(stream);
    this.emit('leave', stream, reason);
    return true;
  }

  private _detach(stream: SSEStream): void {
    stream.removeListener('disconnect', this._onDisconnect);
    stream.removeListener('finish', this._onGone);
    stream.removeListener('close', this._onGone);
  }

  private _endAll(): void {
    const streams = [...this._subs.keys()];
    this._subs.clear();
    for (const stream of streams) {
      this._detach(stream);
      stream.end();
      this.emit('leave', stream, undefined);
    }
  }
}

export interface Channel {
  on(event: 'join', listener: (stream: SSEStream) => void): this;
  on(event: 'leave', listener: (stream: SSEStream, reason: SSEError | undefined) => void): this;
  on(event: 'gap', listener: (stream: SSEStream, error: SSEError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'join', listener: (stream: SSEStream) => void): this;
  once(event: 'leave', listener: (stream: SSEStream, reason: SSEError | undefined) => void): this;
  once(event: 'gap', listener: (stream: SSEStream, error: SSEError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function maxBufferedOf(stream: SSEStream): number {
  // TODO(lead): read a public `stream.maxBufferedBytes` once stream.ts exposes it.
  const max = (stream as unknown as { _maxBuffered?: unknown })._maxBuffered;
  return typeof max === 'number' ? max : DEFAULT_MAX_BUFFERED;
}

function checkChannelOptions(options: ChannelOptions | undefined): ChannelOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') {
    throw new SSETypeError(ErrorCode.INVALID_OPTION, `Channel options must be an object; got ${describe(options)}`);
  }
  checkNames(options, CHANNEL_OPTIONS, 'Channel');
  checkInt(options.history, 'Channel', 'history', 0, 0);
  checkInt(options.historyMaxAge, 'Channel', 'historyMaxAge', 0, 0);
  const store = options.store;
  if (store !== undefined) {
    const s = store as Partial<HistoryStore> | null;
    if (s === null || typeof s !== 'object' || typeof s.nextId !== 'function' || typeof s.append !== 'function' || typeof s.since !== 'function') {
      throw new SSETypeError(ErrorCode.INVALID_OPTION, `Channel: store must be an object with nextId(), append() and since(); got ${describe(store)}`);
    }
    if ((options.history ?? 0) > 0 || (options.historyMaxAge ?? 0) > 0) {
      throw new SSETypeError(ErrorCode.INVALID_OPTION, 'Channel: give either store or history/historyMaxAge, not both (size your store itself)');
    }
  }
  return options;
}

function checkAddOptions(options: AddOptions | undefined): AddOptions {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') {
    throw new SSETypeError(ErrorCode.INVALID_OPTION, `Channel.add: options must be an object { filter?, lastEventId? }; got ${describe(options)}`);
  }
  checkNames(options, ADD_OPTIONS, 'Channel.add');
  if (options.filter !== undefined && typeof options.filter !== 'function') {
    throw new SSETypeError(ErrorCode.INVALID_OPTION, `Channel.add: filter must be a function (event) => boolean; got ${describe(options.filter)}`);
  }
  const id = options.lastEventId;
  if (id !== undefined && (typeof id !== 'string' || /[\r\n\0]/.test(id))) {
    throw new SSETypeError(ErrorCode.INVALID_OPTION, `Channel.add: lastEventId must be a string without CR, LF or U+0000; got ${describe(id)}`);
  }
  return options;
}

function checkNames(options: object, allowed: string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const near = allowed.find((n) => n.toLowerCase() === key.toLowerCase());
    throw new SSETypeError(
      ErrorCode.INVALID_OPTION,
      `${where}: unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ''}; allowed: ${allowed.join(', ')}`,
    );
  }
}

function checkInt(value: unknown, where: string, name: string, min: number, fallback: number | undefined): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const message = `${where}: ${name} must be an integer >= ${min}${min === 0 ? ' (0 turns it off)' : ''}; got ${describe(value)}`;
    throw typeof value === 'number'
      ? new SSERangeError(ErrorCode.INVALID_OPTION, message)
      : new SSETypeError(ErrorCode.INVALID_OPTION, message);
  }
  return value;
}
