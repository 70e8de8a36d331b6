/**
 * What every benchmark shares: the run mode, the payloads, the peers, the
 * child processes (server and client are never the process that measures
 * them), statistics, and the report (console lines + bench/RESULTS.md).
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { throughputSvg, type Bar, type BarGroup } from './chart.ts';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export const BENCH_DIR = __dirname;
export const PEERS_DIR = path.join(BENCH_DIR, 'peers');

/** `npm run bench -- --quick`: fewer repetitions and combinations, same checks. */
export const QUICK = process.argv.includes('--quick');
/** Repetitions per case; every figure printed is the median over them. */
export const RUNS = QUICK ? 1 : 3;

// ---------------------------------------------------------------- payloads

export type PayloadKind = 'short' | 'json' | 'lines';
export const PAYLOAD_KINDS: readonly PayloadKind[] = ['short', 'json', 'lines'];
export const PAYLOAD_LABEL: Record<PayloadKind, string> = {
  short: 'short string',
  json: '~300 B JSON object',
  lines: '5-line string',
};

const LOREM = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore';

/** The `data` of event `n`: what a caller hands to a library. */
export function payload(kind: PayloadKind, n: number): unknown {
  switch (kind) {
    case 'short':
      return `hello world ${n}`;
    case 'json':
      // ~300 bytes once stringified (checked by the serializer bench's size column).
      return {
        n,
        type: 'order.updated',
        at: 1_767_225_600_000 + n,
        user: { id: 'u_8f14e45fceea167a', name: 'Ada Lovelace', roles: ['admin', 'billing'] },
        items: [
          { sku: 'SKU-1', qty: 2, price: 9.99 },
          { sku: 'SKU-2', qty: 1, price: 24.5 },
        ],
        note: LOREM,
      };
    case 'lines':
      return `hello world ${n}\nsecond line of the event\nthird line\nfourth line, a little longer than the others\nfifth`;
  }
}

const TOKENS = ['The', ' quick', ' brown', ' fox', ' jumps', ' over', ' the', ' lazy', ' dog', '.'];

/** An OpenAI-style streamed chat completion chunk carrying one token (the compression bench). */
export function tokenDelta(n: number): unknown {
  return {
    id: 'chatcmpl-9x8Yz3AbCdEfGhIjKlMnOpQr',
    object: 'chat.completion.chunk',
    created: 1_767_225_600,
    model: 'gpt-4o-mini-2024-07-18',
    system_fingerprint: 'fp_0ba0d124f1',
    choices: [{ index: 0, delta: { content: TOKENS[n % TOKENS.length] }, logprobs: null, finish_reason: null }],
  };
}

/** The message every contender sends as event `n` of the throughput case. */
export function message(kind: PayloadKind, n: number): { event: string; id: number; data: unknown } {
  return { event: 'tick', id: n, data: payload(kind, n) };
}

/**
 * Event `n` formatted by hand, as code without a library does it: the frame the
 * plain `res.write` baseline and the limit send (same bytes as our serializer).
 */
export function frame(kind: PayloadKind, n: number): string {
  const data = payload(kind, n);
  const text = typeof data === 'string' ? data.replaceAll('\n', '\ndata: ') : JSON.stringify(data);
  return `event: tick\nid: ${n}\ndata: ${text}\n\n`;
}

// ---------------------------------------------------------------- statistics

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** The median of each numeric field over several runs of one case. */
export function medianOf<T extends Record<string, number>>(runs: readonly T[]): T {
  const out: Record<string, number> = {};
  for (const key of Object.keys(runs[0]!)) out[key] = median(runs.map((r) => r[key]!));
  return out as T;
}

/** Wall clock in ms with sub-ms decimals, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

// ---------------------------------------------------------------- formatting

export function fmtRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return '-';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k`;
  return perSecond.toFixed(0);
}

export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : '-';
}

export function fmtMB(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MB`;
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`;
}

export function fmtCount(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n);
}

// ---------------------------------------------------------------- report

/** One case of one suite: a line on the console, a row in RESULTS.md. */
export interface Row {
  case: string;
  cells: Record<string, string>;
  /** False when the case delivered or parsed the wrong number of events. */
  ok: boolean;
  note?: string;
}

export interface Suite {
  title: string;
  notes: string[];
  rows: Row[];
}

/** A target from issue 8, checked against this run's figures. */
export interface Target {
  what: string;
  holds: boolean;
  measured: string;
}

export class Report {
  readonly suites: Suite[] = [];
  readonly targets: Target[] = [];
  /** The headline figures, for README's benchmark section. */
  readonly summaries: Array<{ what: string; value: string }> = [];
  /** Bar groups of the throughput chart (bench/results.svg). */
  readonly bars: BarGroup[] = [];
  readonly started = new Date();

  /** A headline figure of this run (README's table). */
  summary(what: string, value: string): void {
    this.summaries.push({ what, value });
  }

  /** One group of the throughput chart. */
  chartBar(_chart: 'throughput', title: string, bars: Bar[]): void {
    this.bars.push({ title, bars });
  }

  suite(title: string, notes: string[] = []): Suite {
    const suite: Suite = { title, notes, rows: [] };
    this.suites.push(suite);
    console.log(`\n## ${title}${QUICK ? ' (quick)' : ''}`);
    for (const n of notes) console.log(`   ${n}`);
    return suite;
  }

  row(suite: Suite, row: Row): void {
    suite.rows.push(row);
    const cells = Object.entries(row.cells).map(([k, v]) => `${k} ${v}`).join('  ');
    const flag = row.ok ? '' : '  FAIL';
    console.log(`${row.case.padEnd(64)} ${cells}${row.note ? `  (${row.note})` : ''}${flag}`);
  }

  target(what: string, holds: boolean, measured: string): void {
    this.targets.push({ what, holds, measured });
  }

  get failed(): Row[] {
    return this.suites.flatMap((s) => s.rows.filter((r) => !r.ok));
  }

  printTargets(): void {
    if (this.targets.length === 0) return;
    console.log('\n## Targets');
    for (const t of this.targets) console.log(`${t.holds ? 'HOLDS' : 'MISSED'}  ${t.what}: ${t.measured}`);
  }

  writeMarkdown(file: string, elapsedS: number): void {
    const esc = (s: string): string => s.replaceAll('|', '\\|');
    const out: string[] = [
      '# Benchmark results',
      '',
      'Written by `npm run bench` (overwritten on every run); do not edit by hand.',
      '',
      `- Date: ${this.started.toISOString()}`,
      `- Mode: ${QUICK ? '--quick' : 'full'}, median of ${RUNS} run(s) per case, ${elapsedS.toFixed(0)} s in all`,
      `- CPU: ${os.cpus()[0]?.model ?? 'unknown'} x ${os.cpus().length}`,
      `- Memory: ${(os.totalmem() / 1073741824).toFixed(1)} GiB; OS: ${os.type()} ${os.release()} ${os.arch()}`,
      `- Node: ${process.version}`,
      '',
    ];
    for (const suite of this.suites) {
      out.push(`## ${suite.title}`, '');
      for (const n of suite.notes) out.push(`${n}  `);
      if (suite.notes.length > 0) out.push('');
      if (suite.rows.length === 0) {
        out.push('(no cases ran)', '');
        continue;
      }
      const columns = [...new Set(suite.rows.flatMap((r) => Object.keys(r.cells)))];
      out.push(`| case | ${columns.map(esc).join(' | ')} | ok |`);
      out.push(`|---|${columns.map(() => '---:').join('|')}|---|`);
      for (const r of suite.rows) {
        const cells = columns.map((c) => esc(r.cells[c] ?? ''));
        out.push(`| ${esc(r.case)}${r.note ? ` (${esc(r.note)})` : ''} | ${cells.join(' | ')} | ${r.ok ? 'yes' : '**NO**'} |`);
      }
      out.push('');
    }
    if (this.targets.length > 0) {
      out.push('## Targets', '', '| target | measured | holds |', '|---|---|---|');
      for (const t of this.targets) out.push(`| ${esc(t.what)} | ${esc(t.measured)} | ${t.holds ? 'yes' : '**no**'} |`);
      out.push('');
    }
    if (this.bars.length > 0) {
      writeFileSync(path.join(path.dirname(file), 'results.svg'), throughputSvg(this.bars, this.subtitle()));
      out.splice(out.indexOf('') + 1, 0, '![events/s and server CPU per event of every contender](results.svg)', '');
    }
    writeFileSync(file, out.join('\n'));
  }

  private subtitle(): string {
    return `${this.started.toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'CPU'} x ${os.cpus().length}, Node ${process.version}, median of ${RUNS} runs`;
  }

  /**
   * Rewrite README's benchmark figures (between `<!-- bench:start -->` and
   * `<!-- bench:end -->`) from this run: only after a full run of every suite,
   * so that README always shows one run's figures, never a mix.
   */
  updateReadme(file: string): boolean {
    if (!existsSync(file) || this.summaries.length === 0) return false;
    const text = readFileSync(file, 'utf8');
    const start = text.indexOf('<!-- bench:start -->');
    const end = text.indexOf('<!-- bench:end -->');
    if (start === -1 || end < start) return false;
    const held = this.targets.filter((t) => t.holds).length;
    const region = [
      '<!-- bench:start -->',
      `Figures from one \`npm run bench\` run (${this.subtitle()}); every case, and how it is measured: [bench/RESULTS.md](bench/RESULTS.md).`,
      '',
      '| case | measured |',
      '|---|---|',
      ...this.summaries.map((r) => `| ${r.what} | ${r.value} |`),
      '',
      `Targets held in this run: ${held} of ${this.targets.length} (each one, with its figure, in [bench/RESULTS.md](bench/RESULTS.md#targets)).`,
      '',
      ...(this.bars.length > 0 ? ['![events/s and server CPU per event of every contender](bench/results.svg)', ''] : []),
    ];
    writeFileSync(file, text.slice(0, start) + region.join('\n') + text.slice(end));
    return true;
  }
}

// ---------------------------------------------------------------- peers

/** Install bench/peers (only the bench does this) unless already there. */
export function ensurePeers(): void {
  if (existsSync(path.join(PEERS_DIR, 'node_modules'))) return;
  console.log('installing peers into bench/peers ...');
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const r = spawnSync(npm, ['install', '--prefix', PEERS_DIR, '--no-audit', '--no-fund'], {
    stdio: 'inherit',
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`npm install --prefix bench/peers failed (status ${r.status})`);
}

const peerRequire = createRequire(path.join(PEERS_DIR, 'package.json'));

/** A peer, loaded from bench/peers/node_modules only (never from the project's own). */
export function loadPeer<T>(name: 'ssestream' | 'better-sse' | 'eventsource-parser'): T {
  return peerRequire(name) as T;
}

export function peerVersion(name: string): string {
  return (peerRequire(`${name}/package.json`) as { version: string }).version;
}

// ---------------------------------------------------------------- child processes

type Handler = (args: any) => unknown;

/**
 * A child process (server or client) driven by request/response messages over
 * IPC. Every call has a deadline; `close()` always ends the process.
 */
export class Child {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited = false;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
      const w = this.waiting.get(msg.id);
      if (w === undefined) return;
      this.waiting.delete(msg.id);
      if (msg.error !== undefined) w.reject(new Error(`${name}: ${msg.error}`));
      else w.resolve(msg.result);
    });
    proc.on('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`${name} exited (code ${code}, signal ${signal})`));
      this.waiting.clear();
    });
  }

  /** Fork `bench/<script>` under tsx; resolves once it answered a first `ping`. */
  static async start(script: string, args: unknown, options: { nodeArgs?: string[] } = {}): Promise<Child> {
    const proc = fork(path.join(BENCH_DIR, script), [JSON.stringify(args)], {
      execArgv: [...(options.nodeArgs ?? []), '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const child = new Child(script, proc);
    await child.call('ping', {}, 20_000);
    return child;
  }

  call<T = unknown>(cmd: string, args: unknown, timeoutMs = 60_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: '${cmd}' took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ id, cmd, args });
    });
  }

  /** Ask the child to exit; kill it if it has not within `graceMs`. */
  async close(graceMs = 3000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.send({ id: 0, cmd: 'exit', args: {} }, () => {});
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

/** The child's side of `Child`: answer calls with `handlers`; `exit` ends the process. */
export function serveParent(handlers: Record<string, Handler>, onExit: () => void = () => {}): void {
  process.on('message', async (msg: { id: number; cmd: string; args: unknown }) => {
    if (msg.cmd === 'exit') {
      onExit();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 10).unref();
      return;
    }
    try {
      const handler = msg.cmd === 'ping' ? () => 'pong' : handlers[msg.cmd];
      if (handler === undefined) throw new Error(`unknown command '${msg.cmd}'`);
      const result = await handler(msg.args);
      process.send!({ id: msg.id, result });
    } catch (err) {
      process.send!({ id: msg.id, error: (err as Error).stack ?? String(err) });
    }
  });
  // The parent going away (crash, Ctrl-C) must not leave a server listening.
  process.on('disconnect', () => process.exit(0));
}

/** The JSON argument a child was forked with. */
export function childArgs<T>(): T {
  return JSON.parse(process.argv[2] ?? '{}') as T;
}
