/**
 * Throughput: N events (`event: tick`, `id: n`, data per payload kind) sent in a
 * tight loop over one loopback connection, server and client in two processes.
 * Timed from the request to the last event the client parsed (never to the
 * response's end: ssestream's never comes). Server CPU and peak RSS are the
 * server process's own.
 */
import {
  Child,
  PAYLOAD_KINDS,
  PAYLOAD_LABEL,
  QUICK,
  RUNS,
  fmtCount,
  fmtMB,
  fmtRate,
  fmtRatio,
  median,
  medianOf,
  type PayloadKind,
  type Report,
} from './common.ts';
import type { Contender } from './server.ts';

const COUNT = 200_000;
const CONTENDERS: readonly Contender[] = ['plain', 'limit', 'better-sse', 'ssestream', 'ours', 'web'];
const LABEL: Partial<Record<Contender, string>> = {
  plain: 'plain res.write (baseline)',
  limit: 'limit (256 frames per res.write)',
  'better-sse': 'better-sse 0.16.1 (push per event)',
  ssestream: 'ssestream 1.1.0',
  ours: 'ours',
  web: 'ours, web (sseResponse via a fetch adapter)',
};

interface Figures extends Record<string, number> {
  eps: number;
  cpuPerEvent: number;
  peakRss: number;
  rssGrowth: number;
  clientCpuPerEvent: number;
  events: number;
}

export interface ThroughputOptions {
  /** Directory of a lib/ copy to run as "ours" (to measure a proposed change). */
  lib?: string;
  /** Extra node flags for the server process of "ours" (e.g. --cpu-prof). */
  oursNodeArgs?: string[];
}

/** One run of one contender: a fresh server process, so peak RSS is this case's alone. */
export async function throughputOnce(
  client: Child,
  contender: Contender,
  kind: PayloadKind,
  backpressure: boolean,
  count: number,
  options: ThroughputOptions = {},
): Promise<Figures> {
  const nodeArgs = contender === 'ours' || contender === 'web' ? options.oursNodeArgs : undefined;
  const server = await Child.start('server.ts', { mode: 'throughput', contender, kind, count, backpressure, lib: options.lib }, { nodeArgs });
  try {
    const port = await server.call<number>('port', {});
    const got = await client.call<{ events: number; ms: number; cpuUs: number }>(
      'consume',
      { port, expect: count, timeoutMs: 60_000 },
      90_000,
    );
    const stats = await server.call<{ cpuUs: number; peakRss: number; baseRss: number }>('stats', {});
    return {
      eps: (got.events / got.ms) * 1000,
      cpuPerEvent: stats.cpuUs / count,
      peakRss: stats.peakRss,
      rssGrowth: stats.peakRss - stats.baseRss,
      clientCpuPerEvent: got.cpuUs / count,
      events: got.events,
    };
  } finally {
    await server.close();
  }
}

export async function throughputBench(report: Report, client: Child, options: ThroughputOptions = {}): Promise<void> {
  const suite = report.suite('throughput', [
    `${fmtCount(COUNT)} events per case over one loopback connection; events/s timed to the last event the client parsed.`,
    'Ratios: "vs plain" = events/s over plain res.write of one hand-formatted frame per event; "of limit" = fraction of',
    'the same frames joined 256 per res.write. CPU = server process µs per event; peak RSS = server process peak',
    '(RSS growth: peak minus RSS once listening). Client CPU shows whether the client process could be the limit.',
    'Backpressure honoured: write until false, await drain (better-sse: push, then res.writableNeedDrain).',
    'Backpressure ignored: everything written in one loop, as naive code does; ours with maxBufferedBytes: 0 (its slow-client guard off).',
    'Web: the same writes to the stream of sseResponse() (ssepipe/web), its body read by examples/web/node-adapter.mjs into the',
    'node:http response (the adapter the tests serve route handlers with on Node); "vs ours" = against the Node path (SSEStream.pipe).',
  ]);
  const modes: { bp: boolean; kinds: readonly PayloadKind[] }[] = [
    { bp: true, kinds: PAYLOAD_KINDS },
    { bp: false, kinds: QUICK ? ['short'] : PAYLOAD_KINDS },
  ];
  for (const { bp, kinds } of modes) {
    for (const kind of kinds) {
      const runs = new Map<Contender, Figures[]>(CONTENDERS.map((c) => [c, []]));
      // Contenders interleaved inside each repetition, so drift hits them alike.
      for (let r = 0; r < RUNS; r++) {
        for (const c of CONTENDERS) runs.get(c)!.push(await throughputOnce(client, c, kind, bp, COUNT, options));
      }
      const fig = new Map(CONTENDERS.map((c) => [c, medianOf(runs.get(c)!)]));
      const base = fig.get('plain')!;
      const limit = fig.get('limit')!;
      const name = `${PAYLOAD_LABEL[kind]}, ${fmtCount(COUNT)} events, backpressure ${bp ? 'honoured' : 'ignored'}`;
      for (const c of CONTENDERS) {
        const f = fig.get(c)!;
        const cells: Record<string, string> = {
          'events/s': fmtRate(f.eps),
          'vs plain': fmtRatio(f.eps / base.eps),
          'of limit': fmtRatio(f.eps / limit.eps),
          'CPU µs/event': f.cpuPerEvent.toFixed(2),
          'peak RSS': fmtMB(f.peakRss),
          'RSS growth': fmtMB(f.rssGrowth),
          'client CPU µs/event': f.clientCpuPerEvent.toFixed(2),
        };
        if (c === 'ours') {
          cells['vs better-sse'] = fmtRatio(f.eps / fig.get('better-sse')!.eps);
          cells['vs ssestream'] = fmtRatio(f.eps / fig.get('ssestream')!.eps);
        }
        const ok = runs.get(c)!.every((x) => x.events === COUNT);
        if (c === 'web') cells['vs ours'] = fmtRatio(f.eps / fig.get('ours')!.eps);
        const label = (c === 'ours' || c === 'web') && !bp ? `${LABEL[c]} (maxBufferedBytes: 0)` : LABEL[c];
        report.row(suite, {
          case: `${name}: ${label}`,
          cells,
          ok,
          note: ok ? undefined : `delivered ${median(runs.get(c)!.map((x) => x.events))} of ${COUNT}`,
        });
      }
      if (bp) {
        const ours = fig.get('ours')!;
        const vs = (c: Contender): number => ours.eps / fig.get(c)!.eps;
        const what = `throughput, ${PAYLOAD_LABEL[kind]}, honoured`;
        report.chartBar('throughput', PAYLOAD_LABEL[kind], CONTENDERS.map((c) => ({ label: (LABEL[c] ?? c).replace(/ \(.*\)$/, ''), eps: fig.get(c)!.eps, cpu: fig.get(c)!.cpuPerEvent })));
        if (kind === 'short') {
          report.target(`${what}: ours >= 0.85 of the limit`, vs('limit') >= 0.85, fmtRatio(vs('limit')));
          report.target(`${what}: ours >= 3x plain res.write`, vs('plain') >= 3, fmtRatio(vs('plain')));
          report.target(
            `${what}: ours' server CPU per event within 1.15x of the limit's`,
            ours.cpuPerEvent <= 1.15 * limit.cpuPerEvent,
            `${ours.cpuPerEvent.toFixed(2)} vs ${limit.cpuPerEvent.toFixed(2)} µs (${fmtRatio(ours.cpuPerEvent / limit.cpuPerEvent)})`,
          );
          report.target(`${what}: ours >= 5x ssestream`, vs('ssestream') >= 5, fmtRatio(vs('ssestream')));
          report.summary('Throughput, short events (one connection, backpressure honoured)', `${fmtRate(ours.eps)} events/s: ${fmtRatio(vs('plain'))} plain \`res.write\`, ${fmtRatio(vs('limit'))} of the limit, ${fmtRatio(vs('better-sse'))} better-sse, ${fmtRatio(vs('ssestream'))} ssestream`);
        } else {
          report.target(`${what}: ours >= 0.9 of the limit`, vs('limit') >= 0.9, fmtRatio(vs('limit')));
          report.summary(`Throughput, ${PAYLOAD_LABEL[kind]}`, `${fmtRate(ours.eps)} events/s: ${fmtRatio(vs('plain'))} plain \`res.write\`, ${fmtRatio(vs('limit'))} of the limit`);
        }
      }
    }
  }
}
