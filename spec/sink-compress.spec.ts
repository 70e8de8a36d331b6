/**
 * The compressing sink alone, between a recording listener (or a real Session)
 * and a fake inner sink whose fullness and backlog the test sets: order of
 * bytes, the flush per batch, write()'s boolean, drain, bufferedBytes, the end,
 * freeing, and maxBufferedBytes counting compressed bytes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { compress as compressRule, type CompressSettings } from '../lib/options.ts';
import { Session, type SessionHost, type SinkListener } from '../lib/session.ts';
import { CompressSink, liveCompressors, type ByteSink } from '../lib/sink-compress.ts';
import { AVAILABLE, nodeZlib } from '../lib/zlib-node.ts';
import type { SSEError } from '../lib/errors.ts';
import { within } from './support/realworld.ts';

const SETTINGS = compressRule(true, 'spec', 'compress') as CompressSettings;

/** Resolves once `done()` holds, checked every turn of the event loop; fails after 2 s. */
function until(done: () => boolean, what: string): Promise<void> {
  return within(
    new Promise<void>((r) => {
      const check = (): void => void (done() ? r() : setImmediate(check));
      check();
    }),
    2000,
    what,
  );
}

class FakeInner implements ByteSink {
  readonly chunks: Buffer[] = [];
  full = false;
  /** What it reports as buffered: the test's to set; grows with every write by default. */
  buffered = 0;
  ended = false;
  destroyed: Error | true | undefined;
  private arrived: Array<() => void> = [];
  constructor(readonly listener: SinkListener) {}
  write(chunk: string | Uint8Array): boolean {
    const b = Buffer.from(chunk);
    this.chunks.push(b);
    this.buffered += b.length;
    for (const f of this.arrived.splice(0)) f();
    return !this.full;
  }
  get bufferedBytes(): number {
    return this.buffered;
  }
  end(): void {
    this.ended = true;
    queueMicrotask(() => this.listener.sinkFinished());
  }
  destroy(error?: Error): void {
    this.destroyed = error ?? true;
  }
  /** Resolves once `n` chunks arrived in all. */
  async chunksAt(n: number): Promise<void> {
    while (this.chunks.length < n) await within(new Promise<void>((r) => this.arrived.push(r)), 2000, `chunk ${n}`);
  }
}

class Recorder implements SinkListener {
  drained = 0;
  finished = 0;
  closed: Array<[Error | undefined, boolean]> = [];
  sinkDrained(): void {
    this.drained++;
  }
  sinkFinished(): void {
    this.finished++;
  }
  sinkClosed(error: Error | undefined, byServer: boolean): void {
    this.closed.push([error, byServer]);
  }
}

function make(encoding = AVAILABLE[1], highWaterMark = 65536): { sink: CompressSink; inner: FakeInner; rec: Recorder } {
  const rec = new Recorder();
  let inner!: FakeInner;
  const sink = new CompressSink(rec, nodeZlib, encoding, SETTINGS, highWaterMark, (l) => (inner = new FakeInner(l)));
  return { sink, inner, rec };
}

function decompress(encoding: string, bytes: Buffer): string {
  const d = encoding === 'gzip' ? zlib.gunzipSync : encoding === 'deflate' ? zlib.inflateSync : zlib.brotliDecompressSync;
  return d(bytes).toString('utf8');
}

/** A decompressor that must produce `expected` from `chunks` without their end (flushed, not finished). */
function decompressOpen(encoding: string, chunks: Buffer[]): Promise<string> {
  const d = encoding === 'gzip' ? zlib.createGunzip() : encoding === 'deflate' ? zlib.createInflate() : zlib.createBrotliDecompress();
  let text = '';
  d.on('data', (c: Buffer) => (text += c.toString()));
  for (const c of chunks) d.write(c);
  return new Promise((resolve) => d.flush(() => resolve(text)));
}

for (const encoding of AVAILABLE.filter((e) => e !== 'zstd')) {
  describe(`CompressSink, ${encoding}`, () => {
    test('one output chunk per batch, in order, each readable without the next; end() writes the end, then ends the inner sink', async () => {
      const { sink, inner, rec } = make(encoding);
      const batches = Array.from({ length: 20 }, (_, i) => `id: ${i}\ndata: ${'x'.repeat(i * 7)} ✓\n\n`);
      for (let i = 0; i < batches.length; i++) {
        assert.equal(sink.write(batches[i]), true);
        await inner.chunksAt(i + 1);
        assert.equal(await decompressOpen(encoding, inner.chunks), batches.slice(0, i + 1).join(''), `after batch ${i}`);
      }
      assert.equal(inner.ended, false);
      sink.end();
      await until(() => rec.finished === 1, 'sinkFinished');
      assert.equal(inner.ended, true);
      assert.equal(sink.open, false, 'freed once the end went out');
      assert.equal(decompress(encoding, Buffer.concat(inner.chunks)), batches.join(''));
    });

    test("write()'s boolean and sinkDrained: the inner sink's verdict (seen a batch late), then room again", async () => {
      const { sink, inner, rec } = make(encoding);
      inner.full = true;
      assert.equal(sink.write('data: a\n\n'), true, 'the verdict on this batch is not known yet');
      await inner.chunksAt(1);
      assert.equal(sink.write('data: b\n\n'), false, 'the inner sink said it was full');
      await inner.chunksAt(2);
      assert.equal(rec.drained, 0);
      inner.full = false;
      sink.sinkDrained();
      assert.equal(rec.drained, 1);
      assert.equal(sink.write('data: c\n\n'), true);
      sink.destroy();
    });

    test("write()'s boolean: false while the compressor's input holds a batch of highWaterMark; drained once processed", async () => {
      const { sink, inner, rec } = make(encoding, 1024);
      const big = `data: ${'y'.repeat(3000)}\n\n`;
      assert.equal(sink.write(big), false);
      assert.equal(sink.bufferedBytes, Buffer.byteLength(big), 'uncompressed, not processed yet');
      await until(() => rec.drained > 0, 'sinkDrained');
      assert.ok(inner.chunks.length >= 1);
      assert.equal(sink.bufferedBytes, inner.buffered, 'then only what the inner sink holds, compressed');
      assert.ok(inner.buffered < 100, `${inner.buffered} compressed bytes for 3000 y's`);
      sink.destroy();
    });

    test('batches written while one is being compressed are compressed together: one flush for them, every callback called, in order', async () => {
      const { sink, inner } = make(encoding);
      const batches = Array.from({ length: 50 }, (_, i) => `id: ${i}\ndata: {"n":${i},"text":"lorem ipsum"}\n\n`);
      const called: Array<[number, Error | null | undefined]> = [];
      for (let i = 0; i < batches.length; i++) assert.equal(sink.write(batches[i], (error) => called.push([i, error ?? null])), true);
      assert.equal(sink.bufferedBytes, batches.reduce((n, b) => n + Buffer.byteLength(b), 0), 'all of it uncompressed, waiting');
      await inner.chunksAt(2);
      await until(() => called.length === batches.length, 'every callback');
      // The first batch went to the compressor at once; the 49 written while it was busy, as one.
      assert.equal(inner.chunks.length, 2);
      assert.equal(await decompressOpen(encoding, inner.chunks.slice(0, 1)), batches[0]);
      assert.equal(await decompressOpen(encoding, inner.chunks), batches.join(''));
      assert.deepEqual(called, batches.map((_, i) => [i, null]));
      sink.destroy();
    });

    test('destroyed with batches waiting for the compressor: their callbacks get an error', async () => {
      const { sink } = make(encoding);
      const called: Array<[number, string | undefined]> = [];
      for (let i = 0; i < 3; i++) sink.write(`data: ${i}\n\n`, (error) => called.push([i, error?.message]));
      sink.destroy(new Error('boom'));
      await until(() => called.length === 3, 'every callback');
      assert.equal(called.length, 3);
      assert.deepEqual(called.slice(1), [
        [1, 'the compressed stream was closed before the event was written'],
        [2, 'the compressed stream was closed before the event was written'],
      ]);
    });

    test('the client leaves (sinkClosed): the compressor is freed and the session told', async () => {
      const before = liveCompressors();
      const { sink, inner, rec } = make(encoding);
      assert.equal(liveCompressors(), before + 1);
      sink.write('data: a\n\n');
      inner.listener.sinkClosed(undefined, false);
      assert.equal(sink.open, false);
      assert.equal(liveCompressors(), before);
      assert.deepEqual(rec.closed, [[undefined, false]]);
    });

    test('destroy(error): freed at once, the inner sink destroyed with the error', () => {
      const before = liveCompressors();
      const { sink, inner } = make(encoding);
      const error = new Error('boom');
      sink.write('data: a\n\n');
      sink.destroy(error);
      assert.equal(liveCompressors(), before);
      assert.equal(inner.destroyed, error);
    });
  });
}

describe('CompressSink under a Session', () => {
  class Host implements SessionHost {
    drained = 0;
    gone: SSEError[] = [];
    sessionDrained(): void {
      this.drained++;
    }
    sessionDisconnected(reason: SSEError): void {
      this.gone.push(reason);
    }
    sessionClosed(): void {}
  }

  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  test('maxBufferedBytes counts compressed bytes: 60 KB of repetitive events to a client that reads nothing fit in 8 KB', async () => {
    const host = new Host();
    const session = new Session(host, { highWaterMark: 65536, maxBufferedBytes: 8192, heartbeat: 0 });
    let inner!: FakeInner;
    const sink = new CompressSink(session, nodeZlib, 'gzip', SETTINGS, 65536, (l) => (inner = new FakeInner(l)));
    session.attach(sink, ':ok\n\n');
    inner.full = true; // the client reads nothing from now on
    const frame = (n: number): string =>
      `event: order\nid: ${n}\ndata: {"n":${n},"type":"order.updated","user":{"id":"u_8f14e45fceea167a","name":"Ada Lovelace"},"note":"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod"}\n\n`;
    let raw = 0;
    for (let n = 0; n < 300; n++) {
      session.write(frame(n));
      raw += frame(n).length;
      // One batch at a time, each compressed before the next (the thread pool of a
      // busy machine can lag a writer that writes every tick: that input would be counted uncompressed).
      await inner.chunksAt(n + 2);
    }
    assert.ok(raw > 8192 * 6, `${raw} bytes written`);
    assert.deepEqual(host.gone, [], `still connected with ${inner.buffered} compressed bytes queued`);
    assert.ok(inner.buffered < 8192);
    assert.equal(session.needsDrain, true, "the writer was told to wait for 'drain'");
    // Now what does not compress: the bound is reached, in compressed bytes.
    let seed = 3;
    const noise = (): string => Array.from({ length: 400 }, () => ((seed = (seed * 16807) % 2147483647) % 36).toString(36)).join('');
    for (let i = 0; i < 40 && host.gone.length === 0; i++) {
      session.write(`data: ${noise()}\n\n`);
      await tick();
      if (host.gone.length === 0) await inner.chunksAt(302 + i);
    }
    assert.equal(host.gone.length, 1);
    assert.equal((host.gone[0] as SSEError).code, 'ERR_SSE_CLIENT_TOO_SLOW');
    assert.equal(sink.open, false, 'the compressor was freed with the dropped client');
    assert.equal(inner.destroyed, true);
  });

  test("a full inner sink: the writer gets false, then 'drain' once it has room", async () => {
    const host = new Host();
    const session = new Session(host, { highWaterMark: 65536, maxBufferedBytes: 0, heartbeat: 0 });
    let inner!: FakeInner;
    const sink = new CompressSink(session, nodeZlib, 'gzip', SETTINGS, 65536, (l) => (inner = new FakeInner(l)));
    session.attach(sink, ':ok\n\n');
    inner.full = true;
    await inner.chunksAt(1);
    assert.equal(session.write('data: 1\n\n'), true);
    await tick();
    await inner.chunksAt(2);
    assert.equal(session.write('data: 2\n\n'), false);
    await tick();
    await inner.chunksAt(3);
    inner.full = false;
    sink.sinkDrained();
    assert.equal(host.drained, 1);
    session.destroy();
  });
});
