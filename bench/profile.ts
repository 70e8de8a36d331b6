/**
 * `npx tsx bench/profile.ts [short|json|lines] [--lib=/path/to/lib-copy]`: one
 * throughput run of ours (backpressure honoured) with the server under
 * `node --cpu-prof`; prints where the server's time went (self time per
 * function, and per file), then deletes the profile (written to the OS temp dir).
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

async function main(): Promise<void> {
  ensurePeers();
  const kind = (process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'short') as PayloadKind;
  const lib = process.argv.find((a) => a.startsWith('--lib='))?.slice(6);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ssepipe-prof-'));
  const client = await Child.start('client.ts', {});
  try {
    // 1M events so that start-up (module loading under tsx) is a small share of the samples.
    const oursNodeArgs = ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir];
    const f = await throughputOnce(client, 'ours', kind, true, 1_000_000, { lib, oursNodeArgs });
    console.log(`ours, ${kind}, 1M events, backpressure honoured: ${fmtRate(f.eps)} events/s, ${f.cpuPerEvent.toFixed(2)} µs CPU/event (under the profiler)`);
    const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error('no .cpuprofile written');
    summarize(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CpuProfile, 25);
  } finally {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
