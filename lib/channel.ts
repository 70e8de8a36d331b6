/**
 * Broadcast: one event in, the same bytes out to every subscribed event stream
 * (Node's `SSEStream` and web streams alike: anything `EventStreamLike`), with
 * optional history so a reconnecting client gets exactly what it missed.
 * Neutral: no `node:` import, so a broadcast runs on Workers, Deno and Bun too.
 *
 * - Fan-out: prepare (validate + serialize) once, then `write(prepared)` on every
 *   subscriber. Backpressure is each stream's own business: a stream drops a
 *   client whose backlog passes `maxBufferedBytes`, and the channel lets go of
 *   it. A slow client therefore costs the others nothing.
 * - History (`HistoryStore`): assigns ids, keeps events, answers "what came after
 *   id X". `since()` may be async; live events that arrive meanwhile are queued
 *   per subscriber and sent after the replay, minus those the replay already
 *   covered (as Mercure does), so nothing is lost, repeated or reordered.
 * - Both go through the broker seam (`BrokerTopic`): publish -> id, stored events
 *   come back through a feed in the broker's order, replay since an id, a gap
 *   signal. The in-process history (`LocalTopic`) delivers inside `publish()`,
 *   so a channel without a broker behaves as it always did; a broker (Redis)
 *   delivers later, to every instance alike.
 */
import { Emitter } from './emitter.js';
import { caused, stateError, typeError, type SSEError } from './errors.js';
import { dispatches, fromFrame, isPrepared, prepare } from './format.js';
import { MemoryHistory } from './history.js';
import { LocalTopic, Unconfirmed } from './topic.js';
import { ADD_RULES, CHANNEL_RULES, endArguments, readOptions } from './options.js';
import type {
  AddOptions,
  Broker,
  BrokerFeed,
  BrokerTopic,
  ChannelOptions,
  EventMap,
  EventStreamLike,
  HistoryResult,
  HistoryStore,
  MessageOf,
  PipedInput,
  PreparedEvent,
  SSEInput,
  StoredEvent,
} from './types.js';

/** The per-subscriber state: one object per `add()`, nothing per event. */
interface Subscriber {
  readonly stream: EventStreamLike;
  readonly filter: ((event: PreparedEvent) => boolean) | null;
  /** How many events had been written when it joined: it gets the later ones (or they are in its replay). */
  readonly start: number;
  /** Live events that came while the replay was being fetched; null once it was sent. */
  queue: PreparedEvent[] | null;
  queuedBytes: number;
}

type WriteCallback = (error?: Error | null) => void;
type Done = () => void;

/** With a broker, write() returns false (and 'drain' follows) while this many publishes are unconfirmed. */
const MAX_PENDING = 1024;

/**
 * Broadcast to many event streams. Writable-shaped: `write(message)` sends to
 * every subscriber (an event source can be piped in, or fed with `pipeline()`);
 * `end()` ends every subscriber. Events: `'join'` (stream), `'leave'` (stream,
 * reason?) and, with history, `'gap'` (stream, error) when a replay could not
 * start right after the client's last event id.
 */
export class Channel<E extends object = EventMap> extends Emitter {
  /** The history, or undefined when it is off (or kept by a broker). */
  readonly store: HistoryStore | undefined;
  /** The broker sharing this channel across instances, or undefined. */
  readonly broker: Broker | undefined;
  /** The `name` option (with a broker, which of its topics this channel is). */
  readonly name: string | undefined;

  private readonly subs = new Map<EventStreamLike, Subscriber>();
  /** Where events get ids, order and replay; undefined without history (events go out live). */
  private readonly topic: BrokerTopic | undefined;
  /** Publishes to a broker not yet confirmed: `end()` waits for them, `write()` reports backpressure. */
  private readonly unconfirmed = new Unconfirmed(() => this.emit('drain'));
  private readonly replayTimeout: number;
  private ended = false;
  private finished = false;
  private closed = false;
  /** Events written so far: their sequence numbers, which order them as the history does. */
  private created = 0;
  private fanning = false;
  /** Events written during a fan-out, each followed by its sequence number. */
  private backlog: Array<PreparedEvent | number> | null = null;
  // One listener function per channel, shared by all its subscribers (called
  // with `this` = the stream): no closure per subscriber.
  private readonly onDisconnect: (this: EventStreamLike, reason: SSEError) => void;
  private readonly onClose: (this: EventStreamLike) => void;

  constructor(options?: ChannelOptions) {
    super();
    const o = readOptions('Channel', options, CHANNEL_RULES);
    if (o.store !== undefined && (o.history > 0 || o.historyMaxAge > 0)) {
      throw typeError('ERR_SSE_INVALID_OPTION', 'Channel', 'give either store or history/historyMaxAge, not both (size your store itself)');
    }
    if (o.broker !== undefined && (o.store !== undefined || o.history > 0 || o.historyMaxAge > 0)) {
      throw typeError('ERR_SSE_INVALID_OPTION', 'Channel', 'give either broker or store/history/historyMaxAge, not both (the broker keeps the history)');
    }
    if (o.broker !== undefined && o.name === undefined) {
      throw typeError('ERR_SSE_INVALID_OPTION', 'Channel', 'a channel with a broker needs a name (which of its topics it is)');
    }
    this.store = o.store ?? (o.history > 0 ? new MemoryHistory({ limit: o.history, maxAge: o.historyMaxAge }) : undefined);
    this.broker = o.broker;
    this.name = o.name;
    this.replayTimeout = o.replayTimeout;
    const feed: BrokerFeed = {
      // A broker delivers from its own loop: a listener that throws there is reported, not thrown into the broker.
      deliver:
        o.broker === undefined
          ? (event) => this.broadcast(event)
          : (event) => {
              try {
                this.broadcast(event);
              } catch (err) {
                this.report(err);
              }
            },
      gap: (error) => this.lost(error),
    };
    this.topic = o.broker !== undefined ? o.broker.topic(o.name!, feed) : this.store !== undefined ? new LocalTopic(this.store, feed) : undefined;
    const channel = this;
    this.onDisconnect = function (this: EventStreamLike, reason: SSEError) {
      channel.remove(this, reason);
    };
    this.onClose = function (this: EventStreamLike) {
      channel.remove(this, this.disconnectReason);
    };
  }

  /** How many streams are subscribed. */
  get size(): number {
    return this.subs.size;
  }

  /** Whether `stream` is subscribed. */
  has(stream: EventStreamLike<E>): boolean {
    return this.subs.has(stream as unknown as EventStreamLike);
  }

  /** The subscribed streams (e.g. for presence lists). */
  streams(): IterableIterator<EventStreamLike<E>> {
    return this.subs.keys() as IterableIterator<EventStreamLike<E>>;
  }

  /** False once the channel was ended or destroyed (as on a Writable). */
  get writable(): boolean {
    return !this.ended;
  }

  get writableEnded(): boolean {
    return this.ended;
  }

  get writableFinished(): boolean {
    return this.finished;
  }

  get destroyed(): boolean {
    return this.closed;
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
  add(stream: EventStreamLike<E>, options?: AddOptions<E>): boolean {
    if (!isEventStream(stream)) throw typeError('ERR_SSE_INVALID_STREAM', 'Channel.add', stream);
    const { filter, lastEventId } = readOptions('Channel.add', options, ADD_RULES);
    const lastId = lastEventId ?? stream.lastEventId;
    if (this.ended) {
      stream.end();
      return false;
    }
    if (this.subs.has(stream) || !stream.writable) return false;
    const topic = this.topic;
    const replay = topic !== undefined && lastId !== undefined;
    // Queue live events from now on, even for a synchronous store: a 'join' or
    // 'gap' listener may broadcast, and that event must follow the replay.
    const sub: Subscriber = { stream, filter: filter ?? null, start: this.created, queue: replay ? [] : null, queuedBytes: 0 };
    this.subs.set(stream, sub);
    if (this.subs.size === 1) topic?.watch(true);
    stream.on('disconnect', this.onDisconnect);
    stream.on('close', this.onClose);
    try {
      this.emit('join', stream);
    } finally {
      if (replay && this.subs.get(stream) === sub) this.replay(sub, topic, lastId);
    }
    return true;
  }

  /** Unsubscribe `stream` without ending it. Returns whether it was subscribed. */
  delete(stream: EventStreamLike<E>): boolean {
    return this.remove(stream as unknown as EventStreamLike, undefined);
  }

  /**
   * Broadcast `message` to every subscriber: prepared once (throws like
   * `SSEStream.write()` on invalid input, and sends nothing), kept in the
   * history when it has `data` or an `id`. Returns true; false after `end()`
   * (the message is then dropped and `cb` gets an error). From a piped source,
   * an invalid message is emitted as `'error'` (the source is unpiped) instead
   * of thrown. With a broker, `cb` runs once the broker stored the event (or
   * with `ERR_SSE_PUBLISH_FAILED`; without `cb` that failure is emitted as
   * `'error'`), and false is returned while many publishes are unconfirmed
   * (`'drain'` follows).
   */
  write(message: MessageOf<E> | PreparedEvent<E> | PipedInput<E>, encoding?: string | WriteCallback, cb?: WriteCallback): boolean {
    if (typeof encoding === 'function') cb = encoding;
    if (this.ended) {
      if (cb !== undefined) {
        const done = cb;
        queueMicrotask(() => done(stateError('ERR_SSE_STREAM_CLOSED', 'Channel.write()')));
      }
      return false;
    }
    let event: PreparedEvent;
    try {
      event = this.event(message as SSEInput | PreparedEvent);
    } catch (err) {
      // Readable#pipe() listens for 'unpipe' on its destination: a piped write cannot catch.
      if (this.listenerCount('unpipe') === 0) throw err;
      queueMicrotask(() => {
        cb?.(err as Error);
        this.emit('error', err);
      });
      return false;
    }
    const result = this.post(event);
    if (isThenable(result)) {
      // Callbacks and listeners run outside the promise chain: what they throw is theirs, not an unhandled rejection.
      this.unconfirmed.track(result).then(
        () => cb !== undefined && queueMicrotask(() => cb!(null)),
        (err: unknown) => queueMicrotask(() => (cb === undefined ? this.report(err) : cb(err as Error))),
      );
      return this.unconfirmed.below(MAX_PENDING);
    }
    if (cb !== undefined) {
      const done = cb;
      queueMicrotask(() => done(null));
    }
    return true;
  }

  /**
   * Broadcast `message` like `write()` (and throw like it on invalid input);
   * resolves with its id (undefined without history) once it is stored: at
   * once in process, when the broker confirmed it with a broker. Rejects with
   * `ERR_SSE_PUBLISH_FAILED` when the broker did not confirm it within its
   * timeout (outcome unknown), `ERR_SSE_STREAM_CLOSED` after `end()`.
   */
  publish(message: SSEInput | PreparedEvent): Promise<string | undefined> {
    if (this.ended) return Promise.reject(stateError('ERR_SSE_STREAM_CLOSED', 'Channel.publish()'));
    const result = this.post(this.event(message));
    return isThenable(result) ? this.unconfirmed.track(result) : Promise.resolve(result);
  }

  /** Broadcast `message` (if given), then end every subscriber and the channel. */
  end(cb?: Done): this;
  end(message: MessageOf<E> | PreparedEvent<E> | PipedInput<E>, cb?: Done): this;
  end(message: MessageOf<E> | PreparedEvent<E> | PipedInput<E>, encoding?: string, cb?: Done): this;
  end(message?: unknown, encoding?: unknown, cb?: unknown): this {
    const [last, done] = endArguments(message, encoding, cb);
    if (this.ended) {
      if (done !== undefined) queueMicrotask(done);
      return this;
    }
    if (last !== undefined && last !== null) this.write(last as PipedInput<E>);
    this.ended = true;
    if (this.broker !== undefined) {
      // What was published must reach the subscribers (through the broker) before they end.
      void this.unconfirmed.none()
        .then(() => this.topic!.close())
        .catch(() => undefined)
        .then(() => {
          this.endSubscribers();
          this.finished = true;
          this.emit('finish');
          done?.();
          this.close();
        });
      return this;
    }
    this.endSubscribers();
    queueMicrotask(() => {
      this.finished = true;
      this.emit('finish');
      done?.();
      this.close();
    });
    return this;
  }

  /** End every subscriber and the channel now; with `error`, emit it as `'error'` first. */
  destroy(error?: Error): this {
    if (this.closed) return this;
    this.ended = true;
    this.endSubscribers();
    if (this.broker !== undefined) Promise.resolve().then(() => this.topic!.close()).catch(() => undefined);
    queueMicrotask(() => {
      if (error !== undefined) this.emit('error', error);
      this.close();
    });
    return this;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }

  private broadcast(event: PreparedEvent): void {
    const seq = ++this.created;
    if (this.fanning) {
      // Written by a listener ('leave' of a dropped client) in the middle of a
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

  /** One event to every subscriber that joined before it was written. */
  private fanOut(event: PreparedEvent, seq: number): void {
    // values(), not entries(): no [key, value] pair allocated per subscriber.
    for (const sub of this.subs.values()) {
      if (sub.start >= seq) continue; // joined during this fan-out: its replay has the event
      if (sub.queue !== null) this.enqueue(sub, event);
      else this.send(sub, event);
    }
  }

  /** To one subscriber, through its filter. Returns false when the subscriber is gone. */
  private send(sub: Subscriber, event: PreparedEvent): boolean {
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

  /** Validate and serialize once; a broker assigns every id itself. */
  private event(message: SSEInput | PreparedEvent): PreparedEvent {
    const event = prepare(message);
    if (event.id !== undefined && this.broker !== undefined) throw typeError('ERR_SSE_BROKER_ID', this.name!);
    return event;
  }

  /** Keep `event` (an id from the history or broker) and deliver it; returns its id, or a promise of it from a broker. */
  private post(event: PreparedEvent): string | undefined | PromiseLike<string> {
    const topic = this.topic;
    // Without history, or a comment/retry only: live, not kept (a replayed heartbeat is noise).
    if (topic === undefined || (event.id === undefined && !dispatches(event))) {
      this.broadcast(event);
      return event.id;
    }
    return topic.publish(event);
  }

  /**
   * An asynchronous failure nobody waits for (a broker's publish from a write()
   * without callback, a listener that threw in the broker's loop): `'error'` if
   * anyone listens, else the console. Never a crash, never silent.
   */
  private report(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    else globalThis.console?.error(err);
  }

  /** The broker lost events this instance had not delivered: every subscriber learns it and is ended (its client reconnects). */
  private lost(error: SSEError): void {
    for (const [stream, sub] of [...this.subs]) {
      if (this.subs.get(stream) !== sub) continue;
      try {
        this.emit('gap', stream, error);
      } catch (err) {
        this.fail(sub, err, "a 'gap' listener");
        continue;
      }
      if (this.remove(stream, error)) stream.end();
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

  /** Ask the store for what came after `lastId`, guarded: whatever it does, nothing escapes as a crash. */
  private replay(sub: Subscriber, topic: BrokerTopic, lastId: string): void {
    let answer: HistoryResult | PromiseLike<HistoryResult>;
    try {
      answer = topic.since(lastId);
    } catch (err) {
      this.deliver(sub, lastId, undefined, err);
      return;
    }
    if (!isThenable(answer)) {
      this.deliver(sub, lastId, answer, undefined);
      return;
    }
    let settled = false;
    const settle = (result: unknown, cause: unknown): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      this.deliver(sub, lastId, result, cause);
    };
    const timer =
      this.replayTimeout > 0
        ? setTimeout(() => settle(undefined, new Error(`since() did not answer within replayTimeout (${this.replayTimeout} ms)`)), this.replayTimeout)
        : undefined;
    (timer as { unref?(): void } | undefined)?.unref?.();
    Promise.resolve(answer).then(
      (result) => settle(result, undefined),
      (err: unknown) => settle(undefined, err ?? new Error('since() rejected')),
    );
  }

  /**
   * Send the replay, then the live events queued behind it that it did not
   * cover. A store that failed (`cause`) or answered nonsense counts as a gap
   * with nothing kept: `'gap'` with the cause, then live events.
   */
  private deliver(sub: Subscriber, lastId: string, answer: unknown, cause: unknown): void {
    if (this.subs.get(sub.stream) !== sub) return; // left (or channel ended) meanwhile
    const stream = sub.stream;
    let events: readonly PreparedEvent[] = [];
    let found = false;
    if (cause === undefined) {
      const checked = checkAnswer(answer);
      if (checked === undefined) cause = new Error(`since() answered ${describeAnswer(answer)}, not { events: StoredEvent[], found: boolean }`);
      else ({ events, found } = checked);
    }
    if (cause !== undefined && this.broker !== undefined) {
      // Live events queued meanwhile may start before the client's id (it came
      // from an instance further ahead): sending them could repeat events. End
      // the stream instead; its client reconnects and replays again.
      const why = cause instanceof Error ? cause.message : String(cause);
      if (this.remove(stream, caused(stateError('ERR_SSE_REPLAY_FAILED', lastId, why), cause))) stream.end();
      return;
    }
    if (!found) {
      const why = cause === undefined ? 'is not in the history (unknown, or already dropped)' : 'could not be looked up';
      const gap = stateError('ERR_SSE_HISTORY_GAP', lastId, why, events.length);
      try {
        // Written by a listener (e.g. a 'reset' event) goes out before the replay.
        this.emit('gap', stream, cause === undefined ? gap : caused(gap, cause));
      } catch (err) {
        this.fail(sub, err, "a 'gap' listener");
        return;
      }
      if (this.subs.get(stream) !== sub) return;
    }
    for (let i = 0; i < events.length; i++) if (!this.send(sub, events[i])) return;
    const queue = sub.queue as PreparedEvent[];
    sub.queue = null;
    sub.queuedBytes = 0;
    // Live events arrive in history order, so the ones the replay covered are a
    // prefix of the queue ending at the replay's last id. A broker's replay that
    // found the id but had nothing after it covered up to that id: this instance
    // may have delivered it (and the events before it) only after the client joined.
    let start = 0;
    const last = events.length > 0 ? events[events.length - 1].id : found && this.broker !== undefined ? lastId : undefined;
    if (last !== undefined && queue.length > 0) {
      for (let i = queue.length - 1; i >= 0; i--) {
        if (queue[i].id === last) {
          start = i + 1;
          break;
        }
      }
    }
    for (let i = start; i < queue.length; i++) if (!this.send(sub, queue[i])) return;
  }

  /** A subscriber's own code threw: it leaves, and its stream ends (its client reconnects). */
  private fail(sub: Subscriber, err: unknown, what: string): void {
    this.remove(sub.stream, caused(stateError('ERR_SSE_SUBSCRIBER_FAILED', what), err));
    sub.stream.end();
  }

  private remove(stream: EventStreamLike, reason: SSEError | undefined): boolean {
    if (!this.subs.delete(stream)) return false;
    if (this.subs.size === 0) this.topic?.watch(false);
    this.detach(stream);
    this.emit('leave', stream, reason);
    return true;
  }

  private detach(stream: EventStreamLike): void {
    stream.removeListener('disconnect', this.onDisconnect);
    stream.removeListener('close', this.onClose);
  }

  private endSubscribers(): void {
    const streams = [...this.subs.keys()];
    this.subs.clear();
    if (streams.length > 0) this.topic?.watch(false);
    for (const stream of streams) {
      this.detach(stream);
      stream.end();
      this.emit('leave', stream, undefined);
    }
  }
}

export interface Channel<E extends object = EventMap> {
  on(event: 'join', listener: (stream: EventStreamLike<E>) => void): this;
  on(event: 'leave', listener: (stream: EventStreamLike<E>, reason: SSEError | undefined) => void): this;
  on(event: 'gap', listener: (stream: EventStreamLike<E>, error: SSEError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'join', listener: (stream: EventStreamLike<E>) => void): this;
  once(event: 'leave', listener: (stream: EventStreamLike<E>, reason: SSEError | undefined) => void): this;
  once(event: 'gap', listener: (stream: EventStreamLike<E>, error: SSEError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

function isEventStream(value: unknown): value is EventStreamLike {
  const s = value as Record<string, unknown> | null;
  return (
    s !== null &&
    typeof s === 'object' &&
    typeof s.write === 'function' &&
    typeof s.end === 'function' &&
    typeof s.destroy === 'function' &&
    typeof s.on === 'function' &&
    typeof s.removeListener === 'function' &&
    typeof s.maxBufferedBytes === 'number' &&
    typeof s.writable === 'boolean'
  );
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** A store's answer, with every event made a prepared event (a store may give back plain copies); undefined if it is not one. */
function checkAnswer(answer: unknown): { events: PreparedEvent[]; found: boolean } | undefined {
  const a = answer as { events?: unknown; found?: unknown } | null | undefined;
  if (a === null || typeof a !== 'object' || !Array.isArray(a.events) || typeof a.found !== 'boolean') return undefined;
  const events: PreparedEvent[] = [];
  for (const e of a.events as unknown[]) {
    if (isPrepared(e)) {
      events.push(e);
      continue;
    }
    const c = e as Partial<StoredEvent> | null;
    if (c === null || typeof c !== 'object' || typeof c.id !== 'string' || typeof c.frame !== 'string') return undefined;
    const rebuilt = fromFrame(c.frame, c.id, typeof c.type === 'string' ? c.type : 'message', c.message ?? '');
    if (rebuilt === undefined) return undefined;
    events.push(rebuilt);
  }
  return { events, found: a.found };
}

function describeAnswer(answer: unknown): string {
  if (answer === undefined || answer === null) return String(answer);
  return Array.isArray(answer) ? 'an array' : typeof answer === 'object' ? 'an object of another shape' : typeof answer;
}
