/**
 * `ssepipe/redis`: channels shared by every instance through Redis Streams.
 * One stream per channel (`prefix + name`): each event is one XADD, whose entry
 * id is the event's SSE id on every instance; one blocking XREAD loop per
 * broker, on a connection of its own, reads every channel that has subscribers
 * here and delivers in Redis's order (this instance's own events too); replay
 * comes from a hot tail in memory or from XRANGE.
 *
 * No Redis client is imported: the user's connected client (node-redis v4-v6,
 * ioredis v5/v6, iovalkey) is driven through raw commands (redis-client.ts),
 * and nothing but what every runtime has is used (no `node:` import).
 */
import { caused, stateError, typeError } from './errors.js';
import { readOptions, REDIS_RULES } from './options.js';
import { clientKind, commandsOf, duplicate, streamsOf, text, type ClientKind, type Commands, type OwnConnection } from './redis-client.js';
import { Deadlines } from './deadlines.js';
import { SCRIPT, SCRIPT_SHA } from './redis-script.js';
import { fieldsOf, RedisTopic, type TopicHost } from './redis-topic.js';
import type { Broker, BrokerFeed, BrokerTopic, PreparedEvent } from './types.js';


/** `new RedisBroker(client, options)` (from `ssepipe/redis`). */
export interface RedisBrokerOptions {
  /**
   * Put before every channel name to make its stream key (`prefix + name`). In
   * Redis Cluster one channel is one key, so one slot; a hash tag in the name
   * (`'{room:42}'`) pins related keys to one slot.
   * @defaultValue 'sse:'
   */
  prefix?: string;
  /** Events kept per channel in Redis (`XADD MAXLEN ~`: a few more may be kept). At least 1. @defaultValue 10000 */
  maxLen?: number;
  /** Also drop events older than this many ms (checked with Redis's clock at each publish). `0`: no age limit. @defaultValue 0 */
  maxAge?: number;
  /**
   * Events per channel kept in this instance's memory (the hot tail) to answer
   * reconnects without reading them from Redis. At most `maxLen`. `0` turns it off.
   * @defaultValue 1000
   */
  tail?: number;
  /**
   * Milliseconds a command may take: a `publish()` not confirmed by then rejects
   * with `ERR_SSE_PUBLISH_FAILED` (outcome unknown), and so does a replay's read.
   * @defaultValue 5000
   */
  timeout?: number;
}

/** At most this many events, and about this many bytes, in one script call (it blocks Redis while it runs). */
const BATCH_EVENTS = 256;
const BATCH_BYTES = 1 << 20;

/** How long one XREAD blocks: a channel added meanwhile is picked up at once (CLIENT UNBLOCK), at the latest after this. */
const BLOCK_MS = 2000;
/** Entries per channel per XREAD. */
const READ_COUNT = 512;

/**
 * Redis Streams as a `Channel` broker. `new Channel({ name, broker })` reads and
 * writes the stream `prefix + name`; `close()` ends the read loop and the
 * connection it opened (the client you passed stays yours).
 */
export class RedisBroker implements Broker {
  readonly prefix: string;
  readonly maxLen: number;
  readonly maxAge: number;
  readonly tail: number;
  readonly timeout: number;
  /** Replays answered from the hot tail and from Redis, since the broker was made. */
  readonly replays = { tail: 0, redis: 0 };

  private readonly client: unknown;
  private readonly kind: ClientKind;
  private readonly commands: Commands;
  private readonly topics = new Map<string, RedisTopic>();
  private readonly host: TopicHost;
  private closed = false;
  private closing: Promise<void> | null = null;
  private loop: Promise<void> | null = null;
  private reader: OwnConnection | null = null;
  /** Wakes the loop while it waits for a channel to read. */
  private idle: (() => void) | null = null;
  /** The XREAD in flight: its channels, and the reader's CLIENT ID sent with it. */
  private blocked: { keys: Set<string>; clientId: Promise<unknown> } | null = null;
  private readonly pauses = new Set<{ timer: ReturnType<typeof setTimeout>; resolve(ran: boolean): void }>();
  /** Commands on the user's client not yet settled (or expired), and who waits for none to be. */
  private pending = 0;
  private drained: Array<() => void> = [];
  private readonly deadlines: Deadlines;
  /** Events published this tick, per topic, not yet sent. */
  private readonly batches = new Map<RedisTopic, Batch>();
  /** Set while the loop awaits: close() calls it, so that the loop stops waiting whatever its client does. */
  private interrupt: (() => void) | null = null;

  constructor(client: unknown, options?: RedisBrokerOptions) {
    const kind = clientKind(client);
    if (kind === undefined) {
      throw typeError('ERR_SSE_INVALID_OPTION', 'RedisBroker', 'client must be a node-redis client (redis v4-v6) or an ioredis/iovalkey client', client);
    }
    const o = readOptions('RedisBroker', options, REDIS_RULES);
    if (o.tail > o.maxLen) throw typeError('ERR_SSE_INVALID_OPTION', 'RedisBroker', `tail (${o.tail}) must not exceed maxLen (${o.maxLen}): the tail may only hold what Redis keeps`);
    this.client = client;
    this.kind = kind;
    this.commands = commandsOf(client, kind);
    this.prefix = o.prefix;
    this.maxLen = o.maxLen;
    this.maxAge = o.maxAge;
    this.tail = o.tail;
    this.timeout = o.timeout;
    this.deadlines = new Deadlines(o.timeout);
    const broker = this;
    this.host = {
      command: (args) => this.command(args),
      store: (topic, event) => this.store(topic, event),
      changed: (topic) => this.changed(topic),
      release: (topic) => {
        if (this.topics.get(topic.key) === topic) this.topics.delete(topic.key);
      },
      pause: (ms) => this.pause(ms),
      get closed() {
        return broker.closed;
      },
      tailSize: o.tail,
      timeout: o.timeout,
      replays: this.replays,
    };
  }

  /** For `Channel`: the topic `name` (one channel per name per broker). */
  topic(name: string, feed: BrokerFeed): BrokerTopic {
    if (this.closed) throw stateError('ERR_SSE_STREAM_CLOSED', 'RedisBroker.topic()');
    const key = this.prefix + name;
    if (this.topics.has(key)) {
      throw typeError('ERR_SSE_INVALID_OPTION', 'Channel', `a channel named ${JSON.stringify(name)} already uses this broker (one Channel per name per broker; end it first)`);
    }
    const topic = new RedisTopic(name, key, feed, this.host);
    this.topics.set(key, topic);
    return topic;
  }

  /**
   * End the read loop and close the connection it opened; resolves once no
   * command of the broker is pending (each is bounded by `timeout`). Channels
   * using it stop receiving; their publishes reject.
   */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.interrupt?.();
    for (const topic of this.topics.values()) topic.shutdown();
    this.topics.clear();
    for (const p of this.pauses) {
      clearTimeout(p.timer);
      p.resolve(false);
    }
    this.pauses.clear();
    this.idle?.();
    const closed = this.reader?.close(); // rejects the XREAD in flight
    this.reader = null;
    await this.loop;
    await closed;
    if (this.pending > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
    this.deadlines.clear();
  }

  /** A command on the user's client, bounded by `timeout`; tracked so that close() can wait for it. */
  private command(args: readonly string[]): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('the broker was closed'));
    return this.bounded(this.commands.send(args), `${args[0]} got no answer within ${this.timeout} ms`);
  }

  private bounded<T>(command: Promise<T>, late: string): Promise<T> {
    this.pending++;
    return new Promise<T>((resolve, reject) => {
      // Whichever comes first settles; the deadline's entry is then dead (expire = null).
      const entry = this.deadlines.add(() => {
        this.settled();
        reject(new Error(late));
      });
      command.then(
        (value) => {
          if (entry.expire === null) return;
          entry.expire = null;
          this.settled();
          resolve(value);
        },
        (err: unknown) => {
          if (entry.expire === null) return;
          entry.expire = null;
          this.settled();
          reject(err);
        },
      );
    });
  }

  private settled(): void {
    if (--this.pending > 0 || this.drained.length === 0) return;
    const drained = this.drained;
    this.drained = [];
    for (const resolve of drained) resolve();
  }

  /**
   * Queue `event` for the topic's next script call: the events published in one
   * tick are stored by one call (fewer round trips and less work per event in
   * both the client and Redis), in the order they were published.
   */
  private store(topic: RedisTopic, event: PreparedEvent): Promise<string> {
    if (this.closed) return Promise.reject(stateError('ERR_SSE_PUBLISH_FAILED', topic.name, 'the broker was closed'));
    return new Promise<string>((resolve, reject) => {
      let batch = this.batches.get(topic);
      if (batch === undefined) {
        batch = { args: ['1', topic.key, String(this.maxLen), String(this.maxAge)], waiting: [], bytes: 0 };
        this.batches.set(topic, batch);
        if (this.batches.size === 1) queueMicrotask(() => this.flush());
      }
      const [frame, json] = fieldsOf(event);
      batch.args.push(frame, json);
      batch.waiting.push({ resolve, reject });
      batch.bytes += frame.length;
      if (batch.waiting.length >= BATCH_EVENTS || batch.bytes >= BATCH_BYTES) {
        this.batches.delete(topic);
        this.send(topic, batch);
      }
    });
  }

  private flush(): void {
    const batches = [...this.batches];
    this.batches.clear();
    for (const [topic, batch] of batches) this.send(topic, batch);
  }

  private send(topic: RedisTopic, batch: Batch): void {
    const args = batch.args;
    const call = this.commands
      .send(['EVALSHA', SCRIPT_SHA, ...args])
      // A Redis that restarted (or failed over) forgot the script: EVAL loads it again.
      .catch((err: unknown) => (String((err as Error)?.message).startsWith('NOSCRIPT') ? this.commands.send(['EVAL', SCRIPT, ...args]) : Promise.reject(err)));
    this.bounded(call, `Redis did not confirm it within ${this.timeout} ms`).then(
      (reply) => {
        const ids = Array.isArray(reply) ? reply : [];
        batch.waiting.forEach((w, i) => (i < ids.length ? w.resolve(text(ids[i])) : w.reject(stateError('ERR_SSE_PUBLISH_FAILED', topic.name, 'Redis answered no id for it'))));
      },
      (err: unknown) => {
        const failed = caused(stateError('ERR_SSE_PUBLISH_FAILED', topic.name, (err as Error)?.message ?? String(err)), err);
        for (const w of batch.waiting) w.reject(failed);
      },
    );
  }

  /** A topic started or stopped reading: wake the loop (or start it). */
  private changed(topic: RedisTopic): void {
    if (this.closed || !topic.reading) return;
    this.loop ??= this.run();
    if (this.idle !== null) {
      this.idle();
      return;
    }
    const blocked = this.blocked;
    if (blocked !== null && !blocked.keys.has(topic.key)) void this.unblock(blocked);
  }

  /** Make the XREAD in flight return now, so that the next one includes a new channel. */
  private async unblock(blocked: NonNullable<RedisBroker['blocked']>): Promise<void> {
    // CLIENT UNBLOCK may reach Redis before the XREAD sent after CLIENT ID does: then try again.
    for (let attempt = 0; attempt < 5 && this.blocked === blocked && !this.closed; attempt++) {
      try {
        const id = text(await blocked.clientId);
        if (Number(await this.command(['CLIENT', 'UNBLOCK', id])) === 1) return;
      } catch {
        return; // CLIENT UNBLOCK not allowed, or Redis away: the XREAD ends within BLOCK_MS anyway
      }
    }
  }

  /** The read loop: one XREAD at a time, over every topic that reads. */
  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const topics: RedisTopic[] = [];
      for (const topic of this.topics.values()) if (topic.reading) topics.push(topic);
      if (topics.length === 0) {
        await new Promise<void>((resolve) => (this.idle = resolve));
        this.idle = null;
        continue;
      }
      const keys = topics.map((t) => t.key);
      const epochs = topics.map((t) => t.epoch);
      const ids = topics.map((t) => t.position ?? '0-0');
      try {
        let reader = this.reader;
        if (reader === null) {
          const { connection, ready } = duplicate(this.client, this.kind, () => undefined);
          this.reader = reader = connection;
          await this.unlessClosed(ready);
          if (this.closed) break;
        }
        const clientId = reader.send(['CLIENT', 'ID']);
        clientId.catch(() => undefined);
        const reply = reader.send(['XREAD', 'COUNT', String(READ_COUNT), 'BLOCK', String(BLOCK_MS), 'STREAMS', ...keys, ...ids]);
        reply.catch(() => undefined);
        const blocked = { keys: new Set(keys), clientId };
        this.blocked = blocked;
        let streams;
        try {
          // Closing the reader rejects the XREAD; a client that kept it queued would not: stop waiting anyway.
          const answer = await this.unlessClosed(reply);
          if (this.closed) break;
          streams = streamsOf(answer);
        } finally {
          if (this.blocked === blocked) this.blocked = null;
        }
        for (const [key, entries] of streams) {
          const i = keys.indexOf(key);
          if (i >= 0) topics[i].receive(entries, epochs[i]);
        }
        failures = 0;
      } catch {
        if (this.closed) break;
        // Redis away: the reader reconnects by itself; resume from each position (nothing lost).
        failures++;
        if (failures >= 8 && this.reader !== null) {
          void this.reader.close();
          this.reader = null;
        }
        await this.pause(Math.min(1000, 25 * 2 ** failures));
      }
    }
  }

  /** `command`'s answer, or undefined as soon as close() begins. */
  private unlessClosed<T>(command: Promise<T>): Promise<T | undefined> {
    command.catch(() => undefined); // handled even when close() stops the wait
    return new Promise<T | undefined>((resolve, reject) => {
      this.interrupt = () => resolve(undefined);
      command.then(resolve, reject);
    }).finally(() => (this.interrupt = null));
  }

  private pause(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.pauses.delete(entry);
          resolve(true);
        }, ms),
        resolve,
      };
      this.pauses.add(entry);
    });
  }
}

interface Batch {
  /** The script's arguments after its SHA: numkeys, key, maxLen, maxAge, then frame and json flag per event. */
  readonly args: string[];
  readonly waiting: Array<{ resolve(id: string): void; reject(err: Error): void }>;
  bytes: number;
}
