/**
 * Parser: MB/s of our `createParser` (lib/parser.ts over reader.ts and interpreter.ts) against eventsource-parser
 * 3.x on the same text, fed whole and in 64-character pieces; both must find
 * every event. Ours also takes bytes (what a socket gives): measured too.
 */
import path from 'node:path';
import {
  PAYLOAD_KINDS,
  PAYLOAD_LABEL,
  QUICK,
  fmtCount,
  fmtRatio,
  loadPeer,
  median,
  message,
  peerVersion,
  type Report,
} from './common.ts';

/** Input size per payload kind: large enough that one pass takes tens of ms. */
const TARGET_BYTES = QUICK ? 4e6 : 10e6;
const CHUNK = 64;
/** The target on every payload and cut: this many times eventsource-parser's MB/s. */
const TARGET_RATIO = 1.1;

interface Feeder {
  feed(chunk: string | Uint8Array): void;
}
type MakeParser = (onEvent: () => void) => Feeder;

function split<T extends string | Uint8Array>(input: T, size: number): T[] {
  const out: T[] = [];
  for (let i = 0; i < input.length; i += size) out.push(input.slice(i, i + size) as T);
  return out;
}

/** MB/s (input bytes) of one pass of a fresh parser over `chunks`, and the events it dispatched. */
function measure(make: MakeParser, chunks: readonly (string | Uint8Array)[], bytes: number): { mbps: number; events: number } {
  let events = 0;
  const parser = make(() => void events++);
  const t0 = performance.now();
  for (const c of chunks) parser.feed(c);
  const ms = performance.now() - t0;
  return { mbps: bytes / 1e3 / ms, events };
}

export async function parserBench(report: Report, options: { lib?: string } = {}): Promise<void> {
  const ratios: number[] = [];
  const lib = path.resolve(options.lib ?? path.join(__dirname, '../lib'));
  const { serialize } = (await import(path.join(lib, 'index.ts'))) as { serialize(m: unknown): string };
  const ours = (await import(path.join(lib, 'parser.ts'))) as { createParser(o: { onEvent(): void }): Feeder };
  const peer = loadPeer<{ createParser(o: { onEvent(): void }): { feed(s: string): void } }>('eventsource-parser');
  const runs = QUICK ? 3 : 5;
  const suite = report.suite('parser', [
    `~${TARGET_BYTES / 1e6} MB of events per payload kind, as our serializer writes them; MB/s of input, median of ${runs} runs,`,
    'after a warm-up pass of both parsers over every input (so neither is measured before the JIT settled).',
    `Against eventsource-parser ${peerVersion('eventsource-parser')} (text only). Both must dispatch every event.`,
  ]);
  const makeOurs: MakeParser = (onEvent) => ours.createParser({ onEvent });
  const makePeer: MakeParser = (onEvent) => peer.createParser({ onEvent }) as Feeder;
  const cases = PAYLOAD_KINDS.map((kind) => {
    const frames: string[] = [];
    let bytes = 0;
    for (let n = 0; bytes < TARGET_BYTES; n++) {
      frames.push(serialize(message(kind, n)));
      bytes += frames[n]!.length;
    }
    const text = frames.join('');
    const inputs: { how: string; chunks: (string | Uint8Array)[]; peer: boolean }[] = [
      { how: 'whole', chunks: [text], peer: true },
      { how: `${CHUNK}-char pieces`, chunks: split(text, CHUNK), peer: true },
      { how: `${CHUNK}-byte Uint8Array pieces`, chunks: split(new TextEncoder().encode(text), CHUNK), peer: false },
    ];
    return { kind, events: frames.length, bytes: Buffer.byteLength(text), inputs };
  });
  for (const c of cases) {
    for (const input of c.inputs) {
      measure(makeOurs, input.chunks, c.bytes);
      if (input.peer) measure(makePeer, input.chunks, c.bytes);
    }
  }
  for (const { kind, events: EVENTS, bytes, inputs } of cases) {
    for (const input of inputs) {
      const contenders: [string, MakeParser][] = input.peer ? [['ours', makeOurs], ['eventsource-parser', makePeer]] : [['ours', makeOurs]];
      const results = new Map<string, { mbps: number[]; events: number[] }>();
      for (const [name] of contenders) results.set(name, { mbps: [], events: [] });
      for (let r = 0; r < runs; r++) {
        // Alternating which parser goes first, so neither always runs on a fresher heap.
        const order = r % 2 === 0 ? contenders : [...contenders].reverse();
        for (const [name, make] of order) {
          const m = measure(make, input.chunks, bytes);
          results.get(name)!.mbps.push(m.mbps);
          results.get(name)!.events.push(m.events);
        }
      }
      const size = `${(bytes / 1e6).toFixed(1)} MB`;
      let oursMbps = 0;
      for (const [name] of contenders) {
        const res = results.get(name)!;
        const mbps = median(res.mbps);
        const ok = res.events.every((e) => e === EVENTS);
        const cells: Record<string, string> = { 'MB/s': mbps.toFixed(0) };
        if (name === 'ours') oursMbps = mbps;
        else cells['ours vs this'] = fmtRatio(oursMbps / mbps);
        report.row(suite, {
          case: `${PAYLOAD_LABEL[kind]}, ${fmtCount(EVENTS)} events (${size}), ${input.how}: ${name}`,
          cells,
          ok,
          note: ok ? undefined : `dispatched ${median(res.events)} of ${EVENTS}`,
        });
        if (name !== 'ours') {
          ratios.push(oursMbps / mbps);
          report.target(
            `parser, ${PAYLOAD_LABEL[kind]}, ${input.how}: ours >= ${TARGET_RATIO}x eventsource-parser`,
            oursMbps >= TARGET_RATIO * mbps,
            `${oursMbps.toFixed(0)} vs ${mbps.toFixed(0)} MB/s (${fmtRatio(oursMbps / mbps)})`,
          );
        }
      }
    }
  }
  if (ratios.length > 0) {
    report.summary('Parser (reading events in Node)', `${fmtRatio(Math.min(...ratios))} to ${fmtRatio(Math.max(...ratios))} eventsource-parser's MB/s, over every payload, whole and in pieces`);
  }
}
