/**
 * `npx tsx bench/profile.ts [short|json|lines] [--ignored] [--lib=/path/to/lib-copy]`: one
 * throughput run of ours (backpressure honoured) with the server under
 * `node --cpu-prof`; prints where the server's time went (self time per
 * function, and per file), then deletes the profile (written to the OS temp dir).
 * `npx tsx bench/profile.ts fleet <plain|ours|channel> [--clients=1000] [--interval=10]`:
 * the same for 3 s of ticks to many clients (the intervals suite's case).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Child, ensurePeers, fmtRate, type PayloadKind } from './common.ts';
import { throughputOnce } from './throughput.bench.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function summarize(profile: CpuProfile, top: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const file = f.url === '' ? '(native)' : f.url.replace(/^file:\/\//, '').replace(/.*\/(node_modules|lib|bench)\//, '$1/');
    const name = `${f.functionName || '(anonymous)'}  ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fns.set(name, (fns.get(name) ?? 0) + us);
    const group = f.url.startsWith('node:') ? `node core: ${f.url.slice(5).split('/').slice(0, 2).join('/')}` : file;
    files.set(group, (files.get(group) ?? 0) + us);
  }
  const print = (title: string, m: Map<string, number>): void => {
    console.log(`\n${title} (self time, ${(total / 1000).toFixed(0)} ms sampled)`);
    for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(7)} ms  ${k}`);
    }
  };
  print('functions', fns);
  print('files', files);
}

async function fleet(contender: 'plain' | 'ours' | 'channel'): Promise<void> {
  const n = Number(process.argv.find((a) => a.startsWith('--clients='))?.slice(10) ?? 1000);
  const intervalMs = Number(process.argv.find((a) => a.startsWith('--interval='))?.slice(11) ?? 10);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssepipe-prof-'));
  const client = await Child.start('client.ts', {});
  const server = await Child.start('server.ts', { mode: 'fleet', contender }, { nodeArgs: ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir] });
  try {
    const port = await server.call<number>('port', {});
    await client.call('open', { port, connections: n, latency: true }, 60_000);
    for (let i = 0; i < 500 && (await server.call<number>('clients', {})) < n; i++) await new Promise((r) => setTimeout(r, 10));
    const t = await server.call<{ ticks: number; cpuUs: number }>('tick', { intervalMs, durationMs: Number(process.env.DURATION ?? 3000) }, 60_000);
    const got = await client.call<{ events: number }>('collect', { expect: t.ticks * n, timeoutMs: 10_000 }, 20_000);
    console.log(`${contender}, ${n} clients every ${intervalMs} ms: ${(t.cpuUs / got.events).toFixed(2)} µs CPU/event (under the profiler), ${got.events} events`);
  } finally {
    await client.close();
    await server.close();
  }
  const file = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'));
  if (file !== undefined) summarize(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile, 25);
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  ensurePeers();
  if (process.argv[2] === 'fleet') return fleet((process.argv[3] ?? 'ours') as 'plain' | 'ours' | 'channel');
  const kind = (process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'short') as PayloadKind;
  const lib = process.argv.find((a) => a.startsWith('--lib='))?.slice(6);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssepipe-prof-'));
  const client = await Child.start('client.ts', {});
  try {
    // 1M events so that start-up (module loading under tsx) is a small share of the samples.
    const oursNodeArgs = ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir];
    const honoured = !process.argv.includes('--ignored');
    const f = await throughputOnce(client, 'ours', kind, honoured, honoured ? 1_000_000 : 200_000, { lib, oursNodeArgs });
    console.log(`ours, ${kind}, backpressure ${honoured ? 'honoured' : 'ignored'}: ${fmtRate(f.eps)} events/s, ${f.cpuPerEvent.toFixed(2)} µs CPU/event (under the profiler)`);
    const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('no .cpuprofile written');
    summarize(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile, 25);
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
