/**
 * Serializer: messages/s of our `serialize()` per payload kind, in process,
 * against the same event formatted by a template string (no validation, no
 * line splitting beyond replaceAll). Messages are built before timing.
 */
import path from 'node:path';
import { PAYLOAD_KINDS, PAYLOAD_LABEL, QUICK, RUNS, fmtRate, fmtRatio, median, message, type Report } from './common.ts';

const COUNT = QUICK ? 300_000 : 1_000_000;
const DISTINCT = 1024;

type Message = ReturnType<typeof message>;

/** What code without a library writes: the frame by template, from the same message. */
function template(m: Message): string {
  const text = typeof m.data === 'string' ? m.data.replaceAll('\n', '\ndata: ') : JSON.stringify(m.data);
  return `event: ${m.event}\nid: ${m.id}\ndata: ${text}\n\n`;
}

/**
 * Messages/s of `fn` over COUNT calls. The sink reads every result's length and
 * a character near its end (which also flattens a concatenated string, as
 * writing it to a socket would), and is checked, so no call can be dropped.
 */
function rate(fn: (m: Message) => string, messages: readonly Message[]): number {
  let sink = 0;
  const t0 = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const s = fn(messages[i & (DISTINCT - 1)]!);
    sink += s.length + s.charCodeAt(s.length - 2);
  }
  const ms = performance.now() - t0;
  if (!(sink > COUNT)) throw new Error('serializer bench: results were not produced');
  return (COUNT / ms) * 1000;
}

export async function serializerBench(report: Report, options: { lib?: string } = {}): Promise<void> {
  const { serialize } = (await import(path.resolve(options.lib ?? path.join(__dirname, '../lib'), 'index.ts'))) as {
    serialize(m: Message): string;
  };
  const suite = report.suite('serializer', [
    `serialize() of ${COUNT / 1000}k messages ({event, id, data}) per run, in process; median of ${Math.max(RUNS, 3)} runs after a warm-up.`,
    '"vs template": against a template string producing the same bytes without validation.',
  ]);
  for (const kind of PAYLOAD_KINDS) {
    const messages = Array.from({ length: DISTINCT }, (_, n) => message(kind, n));
    const ok = messages.every((m) => serialize(m) === template(m));
    rate(serialize, messages);
    rate(template, messages);
    const ours: number[] = [];
    const base: number[] = [];
    for (let r = 0; r < Math.max(RUNS, 3); r++) {
      ours.push(rate(serialize, messages));
      base.push(rate(template, messages));
    }
    const bytes = serialize(messages[0]!).length;
    report.row(suite, {
      case: `serialize ${PAYLOAD_LABEL[kind]} (${bytes} B event), ${COUNT / 1000}k messages`,
      cells: {
        'msgs/s': fmtRate(median(ours)),
        'MB/s': ((median(ours) * bytes) / 1e6).toFixed(0),
        'template msgs/s': fmtRate(median(base)),
        'vs template': fmtRatio(median(ours) / median(base)),
      },
      ok,
      note: ok ? undefined : 'output differs from the template frame',
    });
  }
}
