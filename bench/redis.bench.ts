/**
 * Channels across instances: delivery latency (p50/p99 at 1k events/s) and
 * events/s at full speed, for 1, 2 and 3 instance processes sharing one channel
 * through a private redis-server, against the in-process Channel and against a
 * bare PUBLISH/SUBSCRIBE relay (no ids, no history, no replay). Then the
 * reconnect storm: 1,000 clients resuming at once on one instance.
 */
import { Child, QUICK, RUNS, fmtMs, fmtRate, fmtRatio, median, type Report } from './common.ts';
import { findRedisServer, startRedis } from '../spec/support/redis.ts';

type Mode = 'local' | 'relay' | 'broker';
const LABEL: Record<Mode, string> = {
  local: 'in-process Channel (no Redis)',
  relay: 'bare PUBLISH/SUBSCRIBE relay',
  broker: 'RedisBroker (ids, history, replay)',
};
const RATE = 1000;
const RATE_COUNT = QUICK ? 500 : 1500;
const FULL_COUNT = QUICK ? 5000 : 20_000;
const WINDOW = 256;
const STORM = 1000;

interface Collected {
  count: number;
  p50: number;
  p99: number;
  first: number;
  last: number;
}

export async function redisBench(report: Report): Promise<void> {
  if (findRedisServer() === undefined) {
    report.suite('redis', ['Skipped: redis-server not found (apt-get install redis-server).']);
    return;
  }
  const suite = report.suite('redis', [
    `Instance processes sharing one channel through a private redis-server (Unix socket). Latency: ${RATE_COUNT} events at ${RATE}/s`,
    'from publish() to the subscriber of every instance (with 2 or 3, the other instances\' subscribers: cross-instance); p50 the median',
    `over instances, p99 the worst. events/s: ${FULL_COUNT / 1000}k events published by one instance (${WINDOW} unconfirmed at most), until the slowest`,
    `instance delivered the last. added p99: p99 minus the in-process Channel's. Median of ${RUNS} run(s). Client: node-redis 6 (RESP3).`,
  ]);
  const server = await startRedis();
  let baseP99 = NaN;
  const relayRate = new Map<number, number>();
  const relayP99 = new Map<number, number>();
  let caseNo = 0;
  try {
    for (const mode of ['local', 'relay', 'broker'] as const) {
      for (const n of mode === 'local' ? [1] : [1, 2, 3]) {
        const name = `bench-${++caseNo}`;
        const instances: Child[] = [];
        try {
          for (let i = 0; i < n; i++) instances.push(await Child.start('redis-instance.ts', { mode, socket: server.socket, name }));
          await Promise.all(instances.map((c) => c.call('setup', {})));
          // Warm-up: every instance reads, and the code is compiled.
          await instances[0].call('publish', { count: 200, rate: 0, window: WINDOW });
          await Promise.all(instances.map((c) => c.call('collect', { expect: 200, timeoutMs: 10_000 })));
          const runs: Array<{ p50: number; p99: number; rate: number; ok: boolean }> = [];
          for (let r = 0; r < RUNS; r++) {
            await instances[0].call('publish', { count: RATE_COUNT, rate: RATE, window: RATE_COUNT }, 60_000);
            const slow = await Promise.all(instances.map((c) => c.call<Collected>('collect', { expect: RATE_COUNT, timeoutMs: 10_000 })));
            const remote = n > 1 ? slow.slice(1) : slow;
            const { started } = await instances[0].call<{ started: number }>('publish', { count: FULL_COUNT, rate: 0, window: WINDOW }, 120_000);
            const fast = await Promise.all(instances.map((c) => c.call<Collected>('collect', { expect: FULL_COUNT, timeoutMs: 30_000 }, 60_000)));
            runs.push({
              p50: median(remote.map((c) => c.p50)),
              p99: Math.max(...remote.map((c) => c.p99)),
              rate: FULL_COUNT / ((Math.max(...fast.map((c) => c.last)) - started) / 1000),
              ok: slow.every((c) => c.count === RATE_COUNT) && fast.every((c) => c.count === FULL_COUNT),
            });
          }
          const p50 = median(runs.map((x) => x.p50));
          const p99 = median(runs.map((x) => x.p99));
          const rate = median(runs.map((x) => x.rate));
          if (mode === 'local') baseP99 = p99;
          if (mode === 'relay') {
            relayRate.set(n, rate);
            relayP99.set(n, p99);
          }
          const vsRelay = mode === 'broker' ? rate / relayRate.get(n)! : NaN;
          const ok = runs.every((x) => x.ok);
          report.row(suite, {
            case: `${n} instance${n > 1 ? 's' : ''}: ${LABEL[mode]}`,
            cells: {
              'p50 at 1k/s': fmtMs(p50),
              'p99 at 1k/s': fmtMs(p99),
              'added p99': mode === 'local' ? '' : fmtMs(p99 - baseP99),
              'events/s': fmtRate(rate),
              'vs relay': mode === 'broker' ? fmtRatio(vsRelay) : '',
            },
            ok,
            note: ok ? undefined : 'an instance delivered the wrong number of events',
          });
          if (mode === 'broker') {
            if (n === 2) report.summary('Redis broker, 2 instances, 1k events/s', `p50 ${fmtMs(p50)}, p99 ${fmtMs(p99)} (${fmtMs(p99 - baseP99)} over the in-process Channel's; a bare PUBLISH/SUBSCRIBE relay's p99: ${fmtMs(relayP99.get(n)!)}); events/s ${fmtRatio(vsRelay)} the relay's, with history and replay`);
            report.target(`${n} instance(s): events/s at least 0.8x the bare relay's`, vsRelay >= 0.8, fmtRatio(vsRelay));
            report.target(`${n} instance(s): added p99 under 2 ms at 1k events/s`, p99 - baseP99 < 2, fmtMs(p99 - baseP99));
          }
        } finally {
          for (const c of instances) await c.call('teardown', {}, 10_000).catch(() => undefined);
          for (const c of instances) await c.close();
        }
      }
    }
    // The reconnect storm.
    const instance = await Child.start('redis-instance.ts', { mode: 'broker', socket: server.socket, name: 'bench-storm' });
    try {
      await instance.call('setup', {});
      const before = await instance.call<number>('xrangeCalls', {});
      const s = await instance.call<{ ms: number; got: number; expected: number; tail: number; redis: number }>('storm', { clients: STORM, count: 1000 }, 120_000);
      const xranges = (await instance.call<number>('xrangeCalls', {})) - before;
      const ok = s.got === s.expected;
      report.row(suite, {
        case: `${STORM} clients resuming at once, 1 instance (tail 1000)`,
        cells: { 'all replayed in': fmtMs(s.ms), 'from the tail': String(s.tail), 'from Redis': String(s.redis), XRANGEs: String(xranges) },
        ok,
        note: ok ? undefined : `sent ${s.got} of ${s.expected} replayed events`,
      });
      report.target('the reconnect storm is served mostly from the hot tail', s.tail >= 0.9 * STORM, `${s.tail} of ${STORM} from the tail, ${xranges} XRANGE`);
    } finally {
      await instance.call('teardown', {}, 10_000).catch(() => undefined);
      await instance.close();
    }
  } finally {
    await server.close();
  }
}
