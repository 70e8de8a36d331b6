/**
 * The web sink against the Node sink, in process, without HTTP: the same
 * events written with backpressure honoured (write until false, await
 * 'drain') to the stream of `sseResponse()`, its body read by a
 * `ReadableStream` reader, and to an `SSEStream` piped into a `Writable`; both
 * readers take every chunk at once. Each run counts the events that arrived
 * (blank lines in the bytes), so a run that loses one fails. The network
 * comparison (through a fetch adapter) is in the throughput suite.
 */
import path from 'node:path';
import { Writable } from 'node:stream';
import { PAYLOAD_KINDS, PAYLOAD_LABEL, QUICK, RUNS, fmtCount, fmtRate, fmtRatio, median, message, type PayloadKind, type Report } from './common.ts';

const COUNT = QUICK ? 100_000 : 400_000;
const LF = 10;

interface Writer {
  write(message: unknown): boolean;
  once(event: 'drain', listener: () => void): unknown;
  end(): unknown;
}
interface Lib {
  sseResponse(request: Request, handler: (stream: Writer) => void, options?: Record<string, unknown>): Response;
  SSEStream: new (req?: undefined, options?: Record<string, unknown>) => Writer & { pipe(dest: Writable): unknown };
}

/** Blank lines (LF LF) in `bytes`, carrying a trailing LF over from the chunk before. */
class EventCounter {
  events = 0;
  private lastWasLf = false;

  feed(bytes: Uint8Array): void {
    let last = this.lastWasLf;
    for (let i = 0; i < bytes.length; i++) {
      const lf = bytes[i] === LF;
      if (lf && last) this.events++;
      last = lf;
    }
    this.lastWasLf = last;
  }
}

function pump(stream: Writer, kind: PayloadKind): void {
  let n = 0;
  const go = (): void => {
    while (n < COUNT) {
      if (!stream.write(message(kind, n++))) {
        stream.once('drain', go);
        return;
      }
    }
    stream.end();
  };
  go();
}

async function web(lib: Lib, kind: PayloadKind): Promise<{ eps: number; events: number }> {
  const counter = new EventCounter();
  const t0 = performance.now();
  const res = lib.sseResponse(new Request('http://bench/'), (stream) => pump(stream, kind), { heartbeat: 0 });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    counter.feed(value);
  }
  return { eps: (COUNT / (performance.now() - t0)) * 1000, events: counter.events - 1 }; // minus the :ok preamble
}

async function node(lib: Lib, kind: PayloadKind): Promise<{ eps: number; events: number }> {
  const counter = new EventCounter();
  const t0 = performance.now();
  const dest = new Writable({
    write(chunk: Buffer, _encoding, cb) {
      counter.feed(chunk);
      cb();
    },
  });
  const stream = new lib.SSEStream(undefined, { heartbeat: 0 });
  stream.pipe(dest);
  const finished = new Promise<void>((resolve) => dest.on('finish', () => resolve()));
  pump(stream, kind);
  await finished;
  return { eps: (COUNT / (performance.now() - t0)) * 1000, events: counter.events - 1 };
}

export async function webBench(report: Report, options: { lib?: string } = {}): Promise<void> {
  const dir = path.resolve(options.lib ?? path.join(__dirname, '../lib'));
  const lib = {
    sseResponse: ((await import(path.join(dir, 'web.ts'))) as Lib).sseResponse,
    SSEStream: ((await import(path.join(dir, 'index.ts'))) as Lib).SSEStream,
  };
  const runs = Math.max(RUNS, 3);
  const suite = report.suite('web sink (in process)', [
    `${fmtCount(COUNT)} events ({event, id, data}) per run, backpressure honoured, in process: sseResponse()'s body read by a`,
    `ReadableStream reader, against SSEStream piped into a Writable; median of ${runs} runs after a warm-up, the two interleaved.`,
  ]);
  for (const kind of PAYLOAD_KINDS) {
    await web(lib, kind);
    await node(lib, kind);
    const w: Array<{ eps: number; events: number }> = [];
    const n: Array<{ eps: number; events: number }> = [];
    for (let r = 0; r < runs; r++) {
      w.push(await web(lib, kind));
      n.push(await node(lib, kind));
    }
    const ok = [...w, ...n].every((x) => x.events === COUNT);
    const name = `${PAYLOAD_LABEL[kind]}, ${fmtCount(COUNT)} events`;
    const webEps = median(w.map((x) => x.eps));
    const nodeEps = median(n.map((x) => x.eps));
    report.row(suite, { case: `${name}: SSEStream -> Writable`, cells: { 'events/s': fmtRate(nodeEps) }, ok });
    report.row(suite, {
      case: `${name}: sseResponse() -> ReadableStream reader`,
      cells: { 'events/s': fmtRate(webEps), 'vs SSEStream': fmtRatio(webEps / nodeEps) },
      ok,
      note: ok ? undefined : `delivered ${w.map((x) => x.events).join('/')} and ${n.map((x) => x.events).join('/')} of ${COUNT}`,
    });
  }
}
