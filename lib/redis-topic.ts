/**
 * One channel's Redis stream, as seen from one instance: what the read loop
 * delivered (position and hot tail), the check that entries follow each other
 * (each entry names the one before it), and replay. Neutral: no `node:` import.
 *
 * Stored entry: `p` the id of the entry before it ('' for the first of a
 * stream), `f` the event's frame as `prepare()` wrote it (no id line: the entry
 * id is spliced in on read), `d` 'j' when the data was not a string (so the
 * message a filter sees has it parsed back).
 */
import { stateError } from './errors.js';
import { fromFrame, withId } from './format.js';
import { compareIds, entriesOf, isEntryId, text, type Entry } from './redis-client.js';
import type { BrokerFeed, BrokerTopic, HistoryResult, PreparedEvent, SSEMessage, StoredEvent } from './types.js';

/** What a topic needs from its broker (redis.ts). */
export interface TopicHost {
  /** A command on the user's client, bounded by the broker's timeout. */
  command(args: readonly string[]): Promise<unknown>;
  /** XADD `event` to `topic`'s stream; resolves with the entry id. */
  store(topic: RedisTopic, event: PreparedEvent): Promise<string>;
  /** The topic started or stopped reading (the loop includes it or not). */
  changed(topic: RedisTopic): void;
  /** The channel ended: forget the topic (its name may be used again). */
  release(topic: RedisTopic): void;
  /** Wait `ms` unless the broker closes first (then false). */
  pause(ms: number): Promise<boolean>;
  readonly closed: boolean;
  readonly tailSize: number;
  readonly timeout: number;
  /** Replays answered from the hot tail and from Redis (for benchmarks and tests). */
  readonly replays: { tail: number; redis: number };
}

interface Waiter {
  id: string;
  resolve(): void;
  reject(err: Error): void;
}

export class RedisTopic implements BrokerTopic {
  /** Included in the read loop: watched, and its position known. */
  reading = false;
  /** The last entry id delivered (or found at the end of the stream when reading began); null: the stream was empty. */
  position: string | null = null;
  /** Bumped whenever reading starts or stops: a read reply for an older epoch is dropped. */
  epoch = 0;
  private watched = false;
  private ready: Promise<void> | null = null;
  /** The hot tail: the last delivered events, consecutive, ending at `position`. */
  private tail: StoredEvent[] = [];
  private waiters: Waiter[] = [];
  private firstCheck: Promise<string | null> | null = null;
  /** The newest id this instance published to the topic (close() waits until it is delivered). */
  private published: string | null = null;

  constructor(
    readonly name: string,
    readonly key: string,
    private readonly feed: BrokerFeed,
    private readonly host: TopicHost,
  ) {}

  publish(event: PreparedEvent): Promise<string> {
    return this.host.store(this, event).then((id) => {
      if (this.published === null || compareIds(id, this.published) > 0) this.published = id;
      return id;
    });
  }

  watch(watched: boolean): void {
    if (watched === this.watched || this.host.closed) return;
    this.watched = watched;
    this.epoch++;
    this.reading = false;
    this.tail = [];
    this.position = null;
    if (watched) {
      this.ready = this.start(this.epoch);
      this.ready.catch(() => undefined);
    } else {
      this.ready = null;
      this.fail(new Error('the channel has no subscribers on this instance any more'));
      this.host.changed(this);
    }
  }

  /** Deliver what this instance published (bounded by the timeout), then stop reading. */
  async close(): Promise<void> {
    const last = this.published;
    if (last !== null && this.reading && (this.position === null || compareIds(this.position, last) < 0)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.host.timeout)));
      await Promise.race([this.reached(last), timeout]).catch(() => undefined);
      clearTimeout(timer);
    }
    this.watch(false);
    this.host.release(this);
  }

  /** Stop everything: the broker closes. */
  shutdown(): void {
    this.reading = false;
    this.fail(new Error('the broker was closed'));
  }

  /** Reading begins: the newest entries fill the tail and give the position the loop reads from. */
  private async start(epoch: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let reply: unknown;
      try {
        reply = await this.host.command(['XREVRANGE', this.key, '+', '-', 'COUNT', String(Math.max(1, this.host.tailSize))]);
      } catch (err) {
        // Redis unreachable: keep trying while watched; replays wait (bounded by the channel's replayTimeout).
        if (epoch !== this.epoch || !(await this.host.pause(Math.min(1000, 50 * 2 ** attempt)))) throw err;
        continue;
      }
      if (epoch !== this.epoch) throw new Error('the channel stopped watching');
      const entries = entriesOf(reply).reverse();
      this.position = entries.length > 0 ? entries[entries.length - 1][0] : null;
      if (this.host.tailSize > 0) {
        for (const [id, fields] of entries) {
          const event = decode(id, fields);
          if (event !== undefined) this.tail.push(event);
        }
      }
      this.reading = true;
      this.host.changed(this);
      return;
    }
  }

  /** Entries the read loop got for this topic, in order. */
  receive(entries: readonly Entry[], epoch: number): void {
    if (epoch !== this.epoch || !this.reading) return;
    for (const [id, fields] of entries) {
      const position = this.position;
      if (position !== null && compareIds(id, position) <= 0) continue;
      const prev = field(fields, 'p');
      if (prev !== (position ?? '')) {
        this.tail = [];
        this.feed.gap(
          stateError(
            'ERR_SSE_BROKER_GAP',
            this.name,
            `entry ${id} follows ${JSON.stringify(prev)}, but this instance last read ${JSON.stringify(position ?? '')} (it fell behind what Redis keeps, or Redis lost entries: a restart without persistence, a failover)`,
          ),
        );
        if (epoch !== this.epoch) return;
      }
      this.position = id;
      const event = decode(id, fields);
      if (this.waiters.length > 0) this.settleWaiters();
      if (event === undefined) continue; // not an entry of ours: never sent
      if (this.host.tailSize > 0) {
        this.tail.push(event);
        if (this.tail.length >= 2 * this.host.tailSize) this.tail = this.tail.slice(-this.host.tailSize);
      }
      this.feed.deliver(event);
      if (epoch !== this.epoch) return;
    }
  }

  /**
   * The events after `lastEventId`, never beyond what this instance delivered:
   * from the hot tail when it holds the id (and Redis still does), else from
   * Redis. An id from an instance further ahead waits until this one got there.
   */
  async since(lastEventId: string): Promise<HistoryResult> {
    if (this.ready === null) throw new Error('the channel is not watched');
    await this.ready;
    if (!isEntryId(lastEventId)) return this.kept();
    for (let round = 0; round < 3; round++) {
      if (this.indexOf(lastEventId) >= 0) {
        const first = await this.firstKept();
        if (first === null || compareIds(lastEventId, first) < 0) return this.kept();
        const i = this.indexOf(lastEventId); // the tail may have moved on meanwhile
        if (i >= 0) {
          this.host.replays.tail++;
          return { events: this.tail.slice(i + 1), found: true };
        }
      }
      const position = this.position;
      if (position === null || compareIds(lastEventId, position) > 0) {
        // Newer than what this instance delivered: known to Redis (the client came
        // from an instance further ahead), or a future or unknown id.
        const found = entriesOf(await this.host.command(['XRANGE', this.key, lastEventId, lastEventId]));
        if (found.length === 0) return this.kept();
        await this.reached(lastEventId);
        continue;
      }
      const entries = entriesOf(await this.host.command(['XRANGE', this.key, lastEventId, '+']));
      if (entries.length === 0 || entries[0][0] !== lastEventId) return this.kept();
      this.host.replays.redis++;
      return { events: this.upToPosition(entries.slice(1)), found: true };
    }
    return this.kept();
  }

  /** Everything Redis keeps, up to what this instance delivered: the replay after an unknown id. */
  private async kept(): Promise<HistoryResult> {
    const entries = entriesOf(await this.host.command(['XRANGE', this.key, '-', '+']));
    this.host.replays.redis++;
    return { events: this.upToPosition(entries), found: false };
  }

  private upToPosition(entries: readonly Entry[]): StoredEvent[] {
    const position = this.position;
    const events: StoredEvent[] = [];
    if (position === null) return events;
    for (const [id, fields] of entries) {
      if (compareIds(id, position) > 0) break;
      const event = decode(id, fields);
      if (event !== undefined) events.push(event);
    }
    return events;
  }

  private indexOf(id: string): number {
    const tail = this.tail;
    for (let i = tail.length - 1; i >= 0; i--) if (tail[i].id === id) return i;
    return -1;
  }

  /** The oldest id Redis keeps (null: none), one command shared by every replay asking meanwhile. */
  private firstKept(): Promise<string | null> {
    this.firstCheck ??= this.host
      .command(['XRANGE', this.key, '-', '+', 'COUNT', '1'])
      .then((reply) => entriesOf(reply)[0]?.[0] ?? null)
      .finally(() => (this.firstCheck = null));
    return this.firstCheck;
  }

  /** Resolves once the loop delivered `id` (or a later one). */
  private reached(id: string): Promise<void> {
    if (this.position !== null && compareIds(this.position, id) >= 0) return Promise.resolve();
    if (!this.watched) return Promise.reject(new Error('the channel is not watched'));
    return new Promise((resolve, reject) => this.waiters.push({ id, resolve, reject }));
  }

  private settleWaiters(): void {
    const position = this.position!;
    this.waiters = this.waiters.filter((w) => {
      if (compareIds(w.id, position) > 0) return true;
      w.resolve();
      return false;
    });
  }

  private fail(err: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }
}

/** The value of `name` in an entry's flat field list (or a field object/Map from a client that maps them). */
function field(fields: unknown, name: string): string | undefined {
  if (Array.isArray(fields)) {
    for (let i = 0; i + 1 < fields.length; i += 2) if (text(fields[i]) === name) return text(fields[i + 1]);
    return undefined;
  }
  if (fields instanceof Map) {
    const v = fields.get(name);
    return v === undefined ? undefined : text(v);
  }
  if (fields !== null && typeof fields === 'object') {
    const v = (fields as Record<string, unknown>)[name];
    return v === undefined ? undefined : text(v);
  }
  return undefined;
}

/**
 * A stored entry as the event every instance sends: the frame checked by
 * `fromFrame()` (stored bytes cannot forge events) with the entry id spliced
 * in. Undefined when it is not an entry of ours.
 */
export function decode(id: string, fields: unknown): StoredEvent | undefined {
  const frame = field(fields, 'f');
  if (frame === undefined) return undefined;
  const type = typeOf(frame);
  const event = fromFrame(frame, id, type, messageOf(frame, type, field(fields, 'd') === 'j'));
  return event === undefined ? undefined : (withId(event, id) as StoredEvent);
}

/** The stored entry's fields for `event` (after `p`): its frame, and whether its data is JSON. */
export function fieldsOf(event: PreparedEvent): [frame: string, json: string] {
  const m = event.message;
  const json = typeof m === 'object' && m !== null && typeof (m as SSEMessage).data !== 'string' ? 'j' : '';
  return [event.frame, json];
}

function typeOf(frame: string): string {
  // prepare() writes comments, then `event:`, then the rest.
  let start = 0;
  while (frame.charCodeAt(start) === 58 /* : */) start = frame.indexOf('\n', start) + 1;
  if (!frame.startsWith('event:', start)) return 'message';
  const end = frame.indexOf('\n', start);
  const value = frame.slice(start + 6, end);
  return value.charCodeAt(0) === 32 ? value.slice(1) : value;
}

/**
 * The message a filter sees for a stored event: `{ event?, data }`, its data
 * rebuilt from the frame when first read (JSON parsed back when it was not a
 * string; a string's line breaks are LF).
 */
function messageOf(frame: string, type: string, json: boolean): SSEMessage {
  const message: SSEMessage = type === 'message' ? {} : { event: type };
  let data: unknown;
  let done = false;
  Object.defineProperty(message, 'data', {
    enumerable: true,
    configurable: true,
    get() {
      if (done) return data;
      done = true;
      const lines: string[] = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith('data:')) lines.push(line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5));
      }
      data = lines.join('\n');
      if (json) {
        try {
          data = JSON.parse(data as string);
        } catch {
          // Not JSON after all: the text.
        }
      }
      return data;
    },
  });
  return message;
}
