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
import { stateError, typeError, type SSEError } from './errors.js';
import { dispatches, prepare } from './format.js';
import { Subscribers } from './fanout.js';
import { MemoryHistory } from './history.js';
import { LocalTopic, Unconfirmed } from './topic.js';
import { ADD_RULES, CHANNEL_RULES, endArguments, readOptions } from './options.js';
import { Replay, isThenable } from './replay.js';
import type {
  AddOptions,
  Broker,
  BrokerFeed,
  BrokerTopic,
  ChannelOptions,
  EventMap,
  EventStreamLike,
  HistoryStore,
  MessageOf,
  PipedInput,
  PreparedEvent,
  SSEInput,
} from './types.js';

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

  private readonly subs: Subscribers;
  /** Where events get ids, order and replay; undefined without history (events go out live). */
  private readonly topic: BrokerTopic | undefined;
  private readonly replays: Replay | undefined;
  /** Publishes to a broker not yet confirmed: `end()` waits for them, `write()` reports backpressure. */
  private readonly unconfirmed = new Unconfirmed(() => this.emit('drain'));
  private ended = false;
  private finished = false;
  private closed = false;

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
    // Before the topic: a broker may deliver (to the subscribers) from its constructor on.
    this.subs = new Subscribers(this, (watched) => this.topic?.watch(watched));
    this.topic = o.broker !== undefined ? o.broker.topic(o.name!, feed) : this.store !== undefined ? new LocalTopic(this.store, feed) : undefined;
    this.replays = this.topic === undefined ? undefined : new Replay(this.subs, this, this.topic, o.replayTimeout, o.broker !== undefined);
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
    return this.subs.streams() as IterableIterator<EventStreamLike<E>>;
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
    const replays = this.replays;
    const sub = this.subs.add(stream, filter, replays !== undefined && lastId !== undefined);
    try {
      this.emit('join', stream);
    } finally {
      if (sub.queue !== null && this.subs.current(sub)) replays!.start(sub, lastId!);
    }
    return true;
  }

  /** Unsubscribe `stream` without ending it. Returns whether it was subscribed. */
  delete(stream: EventStreamLike<E>): boolean {
    return this.subs.remove(stream as unknown as EventStreamLike, undefined);
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
          this.subs.endAll();
          this.finished = true;
          this.emit('finish');
          done?.();
          this.close();
        });
      return this;
    }
    this.subs.endAll();
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
    this.subs.endAll();
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
    this.subs.broadcast(event);
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
    for (const sub of this.subs.list()) {
      if (!this.subs.current(sub)) continue;
      try {
        this.emit('gap', sub.stream, error);
      } catch (err) {
        this.subs.fail(sub, err, "a 'gap' listener");
        continue;
      }
      if (this.subs.remove(sub.stream, error)) sub.stream.end();
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
