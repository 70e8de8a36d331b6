/**
 * The public types: messages, prepared events, options, and the shapes of
 * requests and events the library reads. Neutral: no `node:` import, so the
 * declarations work without `@types/node` too.
 */
import type { SSEError } from './errors.js';

/**
 * One event as the caller writes it. Field order on the wire is fixed:
 * comment, event, id, retry, data (the order ssestream 1.1.0 uses).
 */
export interface SSEMessage {
  /**
   * The payload. A string is sent as is, split into one `data:` line per line
   * (on CRLF, CR and LF). Anything else (object, array, number, boolean, null)
   * is `JSON.stringify`-ed. `undefined` sends no `data:` line, so the client
   * dispatches nothing (useful for a bare `id`, `retry` or `comment`).
   */
  data?: unknown;
  /** Event type; the client's `addEventListener(type)` receives it. Empty means `message`. No CR or LF. */
  event?: string;
  /** Event id, stored by the client and sent back as `Last-Event-ID`. No CR, LF or U+0000; numbers must be finite. */
  id?: string | number;
  /** Reconnection time in ms for the client: an integer from 0 to 2147483647, or a string of such digits. */
  retry?: number | string;
  /** A comment line (`: text`); ignored by clients. Multi-line comments become several comment lines. */
  comment?: string;
}

/**
 * An event validated and serialized once by `prepare()`: immutable, accepted by
 * `write()` of any stream and by `Channel.write()`, and sent as the same bytes
 * to every client (a broadcast, or your own loop over streams, serializes once).
 * `E`: the event map it was prepared for (see `EventMap`); a typed stream takes
 * only events prepared for its own map.
 */
export type PreparedEvent<E extends object = EventMap> = PreparedEventOf<EventName<E>, MessageOf<E>>;

/**
 * A prepared event by its type names and message type (`PreparedEvent<E>` is
 * this for `E`'s): a type of its own so that an event prepared for a map is also
 * a `PreparedEvent` of the untyped API.
 */
export interface PreparedEventOf<Type extends string, Message> {
  /** The id on the wire, or undefined when the event has none. */
  readonly id: string | undefined;
  /** The type clients dispatch it as: the message's `event`, or `'message'`. */
  readonly type: Type;
  /** The message as it was written (what a channel's `filter` looks at). */
  readonly message: Message;
  /** The exact text of the event on the wire, ending with the blank line that dispatches it. */
  readonly frame: string;
}

/** What `write()` accepts: a message object, a bare string (sent as `{ data: string }`), or a prepared event. */
export type SSEInput = SSEMessage | string;

// ------------------------------------------------------------- typed events

/**
 * An event map: each event name with the type of its `data`, given as the first
 * type parameter of `SSEStream`, `sseResponse`, `Channel` and `prepare`:
 * `new SSEStream<{ tick: number; chat: { user: string; text: string } }>(req)`.
 * Under a map, `write({ event: 'chat', data })` checks `data` against `chat`,
 * and an event name the map does not list does not compile. The key `message`
 * stands for events written without `event` (and for bare strings, when its
 * type takes strings). This type itself, any name with any data, is the
 * default: the untyped API.
 */
export interface EventMap {
  [event: string]: unknown;
}

/** The fields every message may carry, whatever its event. */
interface ControlFields {
  id?: string | number;
  retry?: number | string;
  comment?: string;
}

/** For each event of `E`: `{ event: name, data: E[name] }` (for `message`, `event` may be left out). */
type TypedMessages<E> = {
  [K in keyof E & string]: ControlFields & (K extends 'message' ? { event?: 'message' | ''; data: E[K] } : { event: K; data: E[K] });
}[keyof E & string];

/**
 * What `write()` takes under the event map `E` (besides events prepared for
 * it): any `SSEInput` when `E` is untyped; else one of its events, a message
 * with no event and no data (a bare `comment`, `id` or `retry`: clients
 * dispatch nothing), or a bare string when `E`'s `message` takes strings.
 */
export type MessageOf<E extends object = EventMap> = string extends keyof E
  ? SSEInput
  : TypedMessages<E> | (ControlFields & { event?: undefined; data?: undefined; frame?: never }) | (E extends { message: infer M } ? Extract<M, string> : never);

/** The event types of `E` as clients see them (`'message'` for events written without one). */
export type EventName<E extends object = EventMap> = string extends keyof E ? string : (keyof E & string) | 'message';

/**
 * What a Writable-shaped `write()`/`end()` takes: anything (checked at run
 * time, so that `source.pipe(stream)` type-checks) when `E` is untyped; under
 * an event map, only its messages and events prepared for it.
 */
export type PipedInput<E extends object> = string extends keyof E ? unknown : MessageOf<E> | PreparedEvent<E>;

/** Which request origins may read the stream cross-origin. */
export type CorsOrigin = string | readonly string[] | RegExp | ((origin: string) => boolean);

export interface CorsOptions {
  /**
   * Allowed origins: an exact origin (`'https://app.example'`), a list of them,
   * a RegExp that must match the WHOLE `Origin` header, or a predicate. `'*'`
   * allows every origin without credentials (it cannot be combined with
   * `credentials`: use a predicate that returns true to reflect any origin).
   * The opaque origin `null` (sandboxed frames, `file:` pages) is allowed only
   * when listed as the string `'null'`.
   */
  origin: CorsOrigin;
  /**
   * Send `Access-Control-Allow-Credentials: true` so that `new EventSource(url,
   * { withCredentials: true })` may send cookies.
   * @defaultValue false
   */
  credentials?: boolean;
  /**
   * How long, in SECONDS, a browser may cache a preflight answer (`preflight()` only).
   * @defaultValue 600
   */
  maxAge?: number;
}

export interface SSEStreamOptions {
  /**
   * Milliseconds of silence after which a comment line (`:`) is sent, so that
   * proxies with read timeouts (nginx: 60 s) keep an idle stream open. A stream
   * is never silent for longer than this; one process-wide timer serves every
   * stream (it never keeps the process alive). `0` turns it off. At most 2147483647.
   * @defaultValue 15000
   */
  heartbeat?: number;
  /**
   * When more than this many bytes are queued for a client that is not reading
   * (in the stream and in the response), the client is disconnected with reason
   * `ERR_SSE_CLIENT_TOO_SLOW` instead of growing the server's memory. Writers that
   * honour `write()`'s return value and `'drain'` never reach it. `0` turns it off.
   * @defaultValue 4194304 (4 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Bytes of events collected before they are handed on as one chunk; also the
   * point where `write()` starts returning `false`. Events written in the same
   * tick are joined, up to this size; a lone event still goes out in the same tick.
   * @defaultValue 65536
   */
  highWaterMark?: number;
  /**
   * CORS for cross-origin `EventSource`s, from the request's `Origin` header.
   * When the origin is not allowed no CORS header is added (the browser then
   * refuses the stream). Off when absent.
   */
  cors?: CorsOptions;
  /**
   * A `retry:` value in ms sent right after the `:ok` preamble, setting how long
   * browsers wait before reconnecting. Off when absent. At most 2147483647.
   */
  retry?: number;
  /**
   * Compress the stream when the client accepts it (`Accept-Encoding`): `true`
   * for the defaults, or an object to tune them. Each batch of events is flushed
   * out of the compressor as it is written, so the client reads every event as
   * promptly as uncompressed. Off when the response already has a
   * `Content-Encoding` or a compression middleware wraps it. Costs memory per
   * connection and CPU per event: README, "Compression". Off when absent.
   * @defaultValue false
   */
  compress?: boolean | CompressOptions;
}

/** A `Content-Encoding` an event stream may be sent with. `deflate` is zlib-wrapped, as HTTP defines it. */
export type ContentEncoding = 'br' | 'gzip' | 'deflate' | 'zstd';

/** How the `compress` option of a stream is tuned. */
export interface CompressOptions {
  /**
   * The encodings to offer, in order of preference when the client weighs
   * several equally. `zstd` is used only where the runtime has it (Node 22.15+, 23.8+).
   * @defaultValue ['br', 'gzip', 'deflate', 'zstd']
   */
  encodings?: readonly ContentEncoding[];
  /**
   * gzip and deflate compression level, 1 (fastest) to 9 (smallest).
   * @defaultValue 6
   */
  level?: number;
  /**
   * log2 of the compression window in bytes, 10 to 15, for every encoding: the
   * window holds the earlier events later ones are compressed against.
   * @defaultValue 12 (4 KiB)
   */
  windowBits?: number;
  /**
   * gzip and deflate memLevel, 1 to 9: memory for the match finder.
   * @defaultValue 5
   */
  memLevel?: number;
  /**
   * brotli quality, 1 to 11. From 4 up, brotli's encoder takes about twice the memory.
   * @defaultValue 3
   */
  brotliQuality?: number;
  /**
   * zstd level, 1 to 19.
   * @defaultValue 3
   */
  zstdLevel?: number;
}

/** `sseResponse()`'s options: those of `SSEStream`, plus what a fetch-style platform needs. */
export interface WebStreamOptions extends SSEStreamOptions {
  /**
   * End the response cleanly after this many ms, before a platform's hard limit
   * on a response's duration cuts it (serverless functions: often 10-300 s). The
   * browser reconnects after `retry` with `Last-Event-ID`, and a `Channel` with
   * history replays what it missed. `0` turns it off. At most 2147483647.
   * @defaultValue 0
   */
  maxDuration?: number;
}

export interface ChannelOptions {
  /**
   * Keep the last this many events in memory (a `MemoryHistory`) and replay the
   * ones a client missed when it reconnects with `Last-Event-ID`. Every kept
   * event gets an id: the caller's, or one assigned by the history. Memory grows
   * with the events kept, not with this number. `0` turns it off.
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
  /**
   * Share the channel across instances through a broker (e.g. `RedisBroker` from
   * `ssepipe/redis`): it assigns the ids, keeps the history and delivers every
   * event, this instance's too, in its order. Needs `name`; excludes `history`,
   * `historyMaxAge` and `store`.
   */
  broker?: Broker;
  /** The channel's name: with a broker, which of its topics this channel is (`RedisBroker`: the key is prefix + name). */
  name?: string;
  /**
   * Milliseconds a replay may wait for `store.since()`; a store that takes longer
   * counts as a gap (`'gap'` with the timeout as its cause; live events follow).
   * `0` waits forever.
   * @defaultValue 10000
   */
  replayTimeout?: number;
}

export interface AddOptions<E extends object = EventMap> {
  /**
   * Send this subscriber only the events for which it returns true (live and
   * replayed alike). Called once per event per filtered subscriber. If it throws,
   * that subscriber is removed (`'leave'` with `ERR_SSE_SUBSCRIBER_FAILED`) and its
   * stream ended; the other subscribers are not affected.
   */
  filter?: (event: PreparedEvent<E>) => boolean;
  /**
   * Replay from this id instead of the request's `Last-Event-ID` header (e.g. one
   * taken from the URL for the first connection of a page that saw events before).
   * @defaultValue stream.lastEventId
   */
  lastEventId?: string;
}

/** An event kept in history: it always has an id. */
export interface StoredEvent extends PreparedEvent {
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

/**
 * The broker seam: how a `Channel` gets ids, order and replay from something
 * outside itself. The in-process history is one implementation (synchronous),
 * `RedisBroker` another (asynchronous). A broker makes one topic per channel.
 */
export interface Broker {
  /** The topic `name`, delivering what is stored for it to `feed`. Called once, by the channel's constructor. */
  topic(name: string, feed: BrokerFeed): BrokerTopic;
}

/** What a channel hands its broker: where stored events come back to. */
export interface BrokerFeed {
  /**
   * An event the broker stored (published by any instance, this one included),
   * with its id: called in the broker's order, each event once, while the topic
   * is watched. An in-process broker may call it from inside `publish()`.
   */
  deliver(event: StoredEvent): void;
  /**
   * The broker lost events this instance had not delivered (it fell behind
   * what the broker keeps, or the broker lost its data): the channel emits
   * `'gap'` for every subscriber and ends their streams, so their clients
   * reconnect and learn it from their own replay.
   */
  gap(error: SSEError): void;
}

/** One channel's side of a broker. */
export interface BrokerTopic {
  /**
   * Store `event` (it has `data`): returns its id, or a promise of it that
   * resolves once stored. The event itself comes back through the feed.
   * May throw synchronously for an event the broker cannot take.
   */
  publish(event: PreparedEvent): string | PromiseLike<string>;
  /**
   * The events after `lastEventId`, as `HistoryStore.since()`. An asynchronous
   * answer must not run ahead of the feed: its events (or, when it has none,
   * the id asked about) must already have been delivered to the feed.
   */
  since(lastEventId: string): HistoryResult | PromiseLike<HistoryResult>;
  /** The channel has subscribers (true) or none (false): a broker delivers only what is watched. */
  watch(watched: boolean): void;
  /** The channel ended: deliver what it published (bounded wait), then stop. */
  close(): void | PromiseLike<void>;
}

export interface MemoryHistoryOptions {
  /** How many events are kept; the oldest is dropped first. At least 1. Memory grows as events come. */
  limit: number;
  /**
   * Events older than this many ms are dropped too (checked on append and on
   * replay; no timer). `0` keeps events until `limit` pushes them out.
   * @defaultValue 0
   */
  maxAge?: number;
}

/** Request headers as Node gives them (lower-case names). */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** The minimum of a request that SSEStream reads: headers and, for HTTP/1, its socket. */
export interface RequestLike {
  headers: HeaderMap;
  /** Node's raw header list (names and values alternating), used to see repeated headers. */
  rawHeaders?: string[];
  httpVersionMajor?: number;
  httpVersionMinor?: number;
  socket?: unknown;
}

/**
 * What a `Channel` can hold: an event stream of any transport (`SSEStream` on
 * Node, the stream `sseResponse()` hands over on fetch-style runtimes).
 */
export interface EventStreamLike<E extends object = EventMap> {
  /** The request's `Last-Event-ID` (validated, UTF-8), or undefined. */
  readonly lastEventId: string | undefined;
  /** Its `maxBufferedBytes` (0 = off): a channel bounds what it queues for the stream by it. */
  readonly maxBufferedBytes: number;
  /** Whether it still accepts writes (false once ended, destroyed or disconnected). */
  readonly writable: boolean;
  /** Why the client went away, once it did. */
  readonly disconnectReason: SSEError | undefined;
  /** Aborts, with the disconnect reason, when the client goes away. */
  readonly signal: AbortSignal;
  write(message: MessageOf<E> | PreparedEvent<E>, cb?: (error?: Error | null) => void): boolean;
  end(message?: MessageOf<E> | PreparedEvent<E>): unknown;
  destroy(error?: Error): unknown;
  on(event: 'disconnect' | 'close', listener: (...args: any[]) => void): unknown;
  removeListener(event: 'disconnect' | 'close', listener: (...args: any[]) => void): unknown;
}

// Defined beside the reader (parser.ts).
export type { ServerSentEvent } from './parser.js';
