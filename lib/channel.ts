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
import { ErrorCode, SSEError, SSETypeError, describe } from './errors.js';
import { isValidId, serialize } from './format.js';
import { SSEStream, endArguments, kWriteFrame } from './stream.js';
import type { SSEInput, SSEMessage } from './types.js';
import { MemoryHistory, type ChannelEvent, type HistoryResult, type HistoryStore, type StoredEvent } from './history.js';
import { checkInt, optionsObject } from './validate.js';

export type { ChannelEvent, HistoryResult, HistoryStore, StoredEvent } from './history.js';

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
  /** How many events had been written when it joined: it gets the later ones (or they are in its replay). */
  readonly start: number;
  /** Live events that came while the replay was being fetched; null once it was sent. */
  queue: ChannelEvent[] | null;
  queuedBytes: number;
}

type WriteCallback = (error?: Error | null) => void;

const CHANNEL_OPTIONS = ['history', 'historyMaxAge', 'store'];
const ADD_OPTIONS = ['filter', 'lastEventId'];

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
  /** Events written so far: their sequence numbers, which order them as the history does. */
  private _created = 0;
  private _fanning = false;
  /** Events written during a fan-out, each followed by its sequence number. */
  private _backlog: Array<ChannelEvent | number> | null = null;

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
    const store = this.store;
    const replay = store !== undefined && lastId !== undefined;
    // Queue live events from now on, even for a synchronous store: a 'join' or
    // 'gap' listener may broadcast, and that event must follow the replay.
    const sub: Subscriber = { stream, filter: filter ?? null, start: this._created, queue: replay ? [] : null, queuedBytes: 0 };
    this._subs.set(stream, sub);
    stream.on('disconnect', this._onDisconnect);
    stream.on('finish', this._onGone);
    stream.on('close', this._onGone);
    this.emit('join', stream);
    if (!replay || this._subs.get(stream) !== sub) return true;
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
   *
   * `message` is an `SSEInput`, typed as wide as Node's own `chunk: any`:
   * anything narrower makes `source.pipe(channel)` and `pipeline(source,
   * channel)` fail to type-check.
   */
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
    const [last, done] = endArguments(message, encoding, cb);
    if (this._ended) {
      if (done !== undefined) process.nextTick(done);
      return this;
    }
    if (last !== undefined && last !== null) this.write(last);
    this._ended = true;
    this._endAll();
    return super.end(done);
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
    const seq = ++this._created;
    if (this._fanning) {
      // Written by a listener ('leave' of a dropped client, a filter) in the middle
      // of a fan-out: sent after it, so that every subscriber sees history order.
      (this._backlog ??= []).push(event, seq);
      return;
    }
    this._fanning = true;
    let failure: unknown;
    try {
      failure = this._fanOut(event, seq, undefined);
      while (this._backlog !== null) {
        const backlog = this._backlog;
        this._backlog = null;
        for (let i = 0; i < backlog.length; i += 2) {
          failure = this._fanOut(backlog[i] as ChannelEvent, backlog[i + 1] as number, failure);
        }
      }
    } finally {
      this._fanning = false;
    }
    if (failure !== undefined) throw failure;
  }

  /** One event to every subscriber that joined before it was written. Returns the first filter error. */
  private _fanOut(event: ChannelEvent, seq: number, failure: unknown): unknown {
    // values(), not entries(): no [key, value] pair allocated per subscriber.
    for (const sub of this._subs.values()) {
      if (sub.start >= seq) continue; // joined during this fan-out: its replay has the event
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
    return failure;
  }

  /** Validate, assign an id (history on), serialize once, keep in history. */
  private _event(message: SSEInput): ChannelEvent {
    const store = this.store;
    const m: SSEMessage | undefined = typeof message === 'object' && message !== null ? message : undefined;
    const type = m !== undefined && typeof m.event === 'string' && m.event !== '' ? m.event : 'message';
    if (store === undefined) {
      const frame = serialize(message);
      // serialize() validated the id: its text is String(id) (as idText gives).
      const id = m !== undefined && m.id !== undefined && m.id !== null ? String(m.id) : undefined;
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
      id = String(m.id);
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
    const max = sub.stream.maxBufferedBytes;
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

function checkChannelOptions(options: ChannelOptions | undefined): ChannelOptions {
  options = optionsObject(options, CHANNEL_OPTIONS, 'Channel');
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
  options = optionsObject(options, ADD_OPTIONS, 'Channel.add');
  if (options.filter !== undefined && typeof options.filter !== 'function') {
    throw new SSETypeError(ErrorCode.INVALID_OPTION, `Channel.add: filter must be a function (event) => boolean; got ${describe(options.filter)}`);
  }
  const id = options.lastEventId;
  if (id !== undefined && (typeof id !== 'string' || !isValidId(id))) {
    throw new SSETypeError(ErrorCode.INVALID_OPTION, `Channel.add: lastEventId must be a string without CR, LF or U+0000; got ${describe(id)}`);
  }
  return options;
}
