/**
 * One instance of the Redis benchmark (bench/redis.bench.ts), driven over IPC:
 *
 *   local   a Channel without broker (the in-process baseline)
 *   broker  a Channel with RedisBroker: what ssepipe/redis costs
 *   relay   bare PUBLISH/SUBSCRIBE: no ids, no history, no replay
 *
 * Each has one subscriber that records, per event, the time from publish to
 * delivery (the publish time travels in the event's data). Times are
 * `nowMs()`, comparable across processes on one machine.
 */
import { createClient } from 'redis';
import { Channel } from '../lib/channel.ts';
import { prepare } from '../lib/format.ts';
import { RedisBroker } from '../lib/redis.ts';
import type { EventStreamLike, PreparedEvent } from '../lib/types.ts';
import { childArgs, nowMs, percentile, serveParent } from './common.ts';

type Mode = 'local' | 'broker' | 'relay';

interface Recorder {
  latencies: number[];
  first: number;
  last: number;
  waiter: { expect: number; resolve(): void } | null;
}

const rec: Recorder = { latencies: [], first: 0, last: 0, waiter: null };

/** Record one event's frame: `data: <publish time> <n>`. */
function record(frame: string): void {
  const at = nowMs();
  const start = frame.indexOf('data: ') + 6;
  const t = Number(frame.slice(start, frame.indexOf(' ', start)));
  if (rec.latencies.length === 0) rec.first = at;
  rec.last = at;
  rec.latencies.push(at - t);
  if (rec.waiter !== null && rec.latencies.length >= rec.waiter.expect) rec.waiter.resolve();
}

/** The smallest event stream a Channel accepts: it records what it is sent. */
class RecordingStream implements EventStreamLike {
  lastEventId: string | undefined;
  readonly maxBufferedBytes = 0;
  writable = true;
  readonly disconnectReason = undefined;
  readonly signal = new AbortController().signal;
  received = 0;
  constructor(lastEventId?: string, private readonly recording = true) {
    this.lastEventId = lastEventId;
  }
  write(event: PreparedEvent | string): boolean {
    this.received++;
    if (this.recording) record((event as PreparedEvent).frame);
    return true;
  }
  end(): void {
    this.writable = false;
  }
  destroy(): void {
    this.writable = false;
  }
  on(): this {
    return this;
  }
  removeListener(): this {
    return this;
  }
}

const { mode, socket, name } = childArgs<{ mode: Mode; socket?: string; name: string }>();
let client: ReturnType<typeof createClient> | undefined;
let subscriber: ReturnType<typeof createClient> | undefined;
let broker: RedisBroker | undefined;
let channel: Channel | undefined;

async function setup(): Promise<void> {
  if (mode === 'local') {
    channel = new Channel({ history: 10_000 });
    channel.add(new RecordingStream());
    return;
  }
  client = createClient({ socket: { path: socket!, tls: false } });
  client.on('error', () => undefined);
  await client.connect();
  if (mode === 'broker') {
    broker = new RedisBroker(client, { maxLen: 100_000, tail: 1000 });
    channel = new Channel({ name, broker });
    channel.add(new RecordingStream());
    return;
  }
  subscriber = client.duplicate();
  subscriber.on('error', () => undefined);
  await subscriber.connect();
  await subscriber.subscribe(name, (message) => record(message));
}

/** Publish `count` events: at `rate` per second, or (rate 0) as fast as `window` unconfirmed ones allow. */
async function publish({ count, rate, window }: { count: number; rate: number; window: number }): Promise<{ started: number }> {
  const started = nowMs();
  const send = (n: number): Promise<unknown> => {
    const event = prepare({ data: `${nowMs()} ${n}` });
    if (mode === 'relay') return client!.publish(name, event.frame);
    return channel!.publish(event);
  };
  // A counter, not Promise.race over the pending ones: that costs O(window) per event.
  let inflight = 0;
  let wake: (() => void) | null = null;
  const settled = (): void => {
    inflight--;
    const w = wake;
    wake = null;
    w?.();
  };
  for (let n = 0; n < count; n++) {
    if (rate > 0) {
      const due = started + (n * 1000) / rate;
      const wait = due - nowMs();
      if (wait > 0.5) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    inflight++;
    send(n).then(settled, settled);
    if (inflight >= window) await new Promise<void>((resolve) => (wake = resolve));
  }
  while (inflight > 0) await new Promise<void>((resolve) => (wake = resolve));
  return { started };
}

async function collect({ expect, timeoutMs }: { expect: number; timeoutMs: number }) {
  if (rec.latencies.length < expect) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      rec.waiter = { expect, resolve };
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    rec.waiter = null;
  }
  const sorted = Float64Array.from(rec.latencies).sort();
  const out = { count: rec.latencies.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), first: rec.first, last: rec.last };
  rec.latencies = [];
  return out;
}

/**
 * `clients` subscribers resume at once, each after one of the last `count`
 * events: how long until every replay was sent, and where they came from.
 */
async function storm({ clients, count }: { clients: number; count: number }) {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) ids.push((await channel!.publish({ data: `${nowMs()} ${n}` }))!);
  // Delivered here (so in the hot tail) before the clients come back.
  await collect({ expect: count, timeoutMs: 10_000 });
  const before = { ...broker!.replays };
  const streams: RecordingStream[] = [];
  let expected = 0;
  const started = nowMs();
  for (let i = 0; i < clients; i++) {
    const from = count - 1 - (i % Math.min(count, 200));
    expected += count - 1 - from;
    const s = new RecordingStream(ids[from], false);
    streams.push(s);
    channel!.add(s);
  }
  for (let i = 0; i < 10_000; i++) {
    if (streams.reduce((n, s) => n + s.received, 0) >= expected) break;
    await new Promise((r) => setImmediate(r));
  }
  const ms = nowMs() - started;
  const got = streams.reduce((n, s) => n + s.received, 0);
  for (const s of streams) channel!.delete(s);
  return { ms, got, expected, tail: broker!.replays.tail - before.tail, redis: broker!.replays.redis - before.redis };
}

serveParent(
  {
    setup,
    publish,
    collect,
    storm,
    async xrangeCalls() {
      const info = String(await client!.sendCommand(['INFO', 'commandstats']));
      return Number(/cmdstat_xrange:calls=(\d+)/.exec(info)?.[1] ?? 0);
    },
    async teardown() {
      channel?.destroy();
      await broker?.close();
      await subscriber?.close().catch(() => undefined);
      await client?.close().catch(() => undefined);
    },
  },
  () => undefined,
);
