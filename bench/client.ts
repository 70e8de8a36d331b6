/**
 * The client process of the network benchmarks: holds any number of loopback
 * connections and counts complete events with a byte scan. It speaks HTTP/1.1
 * on raw sockets (status line, headers, chunked or identity body) because
 * node:http's client emits one 'data' per HTTP chunk: with a server that sends
 * one chunk per event, that client, not the server, set the pace (measured:
 * plain res.write and ssestream came out alike). Driven by the parent over IPC.
 *
 *   open     {port, connections, latency}  connect; resolves when every response's headers arrived
 *   consume  {port, expect, timeoutMs}     one connection; resolves at the `expect`-th event: {events, ms}
 *   collect  {expect, timeoutMs}           wait for `expect` events over all connections: {events, p50, p99, max}
 *   close    {}                            close every connection
 */
import net, { type Socket } from 'node:net';
import zlib from 'node:zlib';
import { nowMs, percentile, serveParent } from './common.ts';

const LF = 10;
const D = 100; // 'd'
const COLON = 58;
const CR = 13;
const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Counts dispatched events the way a client would: an empty line ends an event,
 * which is dispatched only if it had a `data:` line (so `:ok`, `retry:` and
 * heartbeats are not counted). With `latencies`, the first data line of every
 * event is read as the sender's timestamp (ms) and the delay is recorded.
 */
class Scanner {
  events = 0;
  private hasData = false;
  private carry: Buffer | null = null;
  private now = 0;
  readonly timed: boolean;

  constructor(
    private readonly latencies: number[] | null,
    private readonly onEvents: (scanner: Scanner, added: number) => void,
  ) {
    this.timed = latencies !== null;
  }

  /** Body bytes [start, end) of `buf`; `now` is when the socket read arrived. */
  feed(buf: Buffer, start: number, end: number, now: number): void {
    this.now = now;
    const before = this.events;
    let pos = start;
    if (this.carry !== null) {
      const lf = buf.indexOf(LF, pos);
      if (lf === -1 || lf >= end) {
        this.carry = Buffer.concat([this.carry, buf.subarray(pos, end)]);
        return;
      }
      const line = Buffer.concat([this.carry, buf.subarray(pos, lf)]);
      this.carry = null;
      this.line(line, 0, line.length);
      pos = lf + 1;
    }
    while (pos < end) {
      const lf = buf.indexOf(LF, pos);
      if (lf === -1 || lf >= end) {
        this.carry = Buffer.from(buf.subarray(pos, end));
        break;
      }
      this.line(buf, pos, lf);
      pos = lf + 1;
    }
    if (this.events !== before) this.onEvents(this, this.events - before);
  }

  private line(b: Buffer, start: number, end: number): void {
    if (start === end) {
      if (this.hasData) {
        this.events++;
        this.hasData = false;
      }
      return;
    }
    if (b[start] === D && b[start + 4] === COLON && end - start >= 5) {
      if (this.latencies !== null && !this.hasData) {
        const from = b[start + 5] === 32 ? start + 6 : start + 5;
        this.latencies.push(this.now - Number(b.toString('latin1', from, end)));
      }
      this.hasData = true;
    }
  }
}

const SIZE = 0; // reading a chunk-size line
const DATA = 1; // inside a chunk
const AFTER = 2; // the CRLF after a chunk's data
const IDENTITY = 3; // no chunked encoding: everything is body

/** One response on a raw socket: header block, then the body (de-chunked) into the scanner. */
class Conn {
  private head: Buffer | null = Buffer.alloc(0);
  private state = IDENTITY;
  private size = 0;
  private left = 0;
  /** With a Content-Encoding: the body goes through this decompressor into the scanner. */
  private inflate: zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | null = null;
  /** Body bytes as they came on the wire (de-chunked, still compressed). */
  bodyBytes = 0;

  constructor(
    readonly socket: Socket,
    readonly scanner: Scanner,
    private readonly onHead: (error?: Error) => void,
  ) {
    socket.on('data', (b: Buffer) => this.data(b));
  }

  private body(buf: Buffer, start: number, end: number, now: number): void {
    this.bodyBytes += end - start;
    if (this.inflate === null) this.scanner.feed(buf, start, end, now);
    else this.inflate.write(Buffer.from(buf.subarray(start, end)));
  }

  private data(buf: Buffer): void {
    // One clock read per socket read: every event in it arrived at the same moment.
    const now = this.scanner.timed ? nowMs() : 0;
    let pos = 0;
    if (this.head !== null) {
      const all = this.head.length === 0 ? buf : Buffer.concat([this.head, buf]);
      const end = all.indexOf(HEAD_END);
      if (end === -1) {
        this.head = all;
        return;
      }
      const text = all.toString('latin1', 0, end);
      this.head = null;
      if (!text.startsWith('HTTP/1.1 200')) {
        this.onHead(new Error(`unexpected response: ${text.split('\r\n')[0]}`));
        return;
      }
      this.state = /\r\ntransfer-encoding:\s*chunked/i.test(text) ? SIZE : IDENTITY;
      const coding = /\r\ncontent-encoding:\s*([a-z-]+)/i.exec(text)?.[1];
      if (coding !== undefined) {
        const d = coding === 'gzip' ? zlib.createGunzip() : coding === 'deflate' ? zlib.createInflate() : zlib.createBrotliDecompress();
        d.on('data', (b: Buffer) => this.scanner.feed(b, 0, b.length, this.scanner.timed ? nowMs() : 0));
        d.on('error', () => {});
        this.inflate = d;
      }
      this.onHead();
      buf = all;
      pos = end + 4;
    }
    const n = buf.length;
    while (pos < n) {
      switch (this.state) {
        case IDENTITY:
          this.body(buf, pos, n, now);
          return;
        case SIZE: {
          const c = buf[pos++]!;
          if (c === LF) {
            this.left = this.size;
            this.size = 0;
            this.state = this.left === 0 ? AFTER : DATA;
          } else if (c !== CR) {
            // Hex digit (chunk extensions are never sent by Node).
            this.size = this.size * 16 + (c <= 57 ? c - 48 : (c | 32) - 87);
          }
          break;
        }
        case DATA: {
          const take = Math.min(this.left, n - pos);
          this.body(buf, pos, pos + take, now);
          pos += take;
          this.left -= take;
          if (this.left === 0) this.state = AFTER;
          break;
        }
        case AFTER:
          if (buf[pos++] === LF) this.state = SIZE;
          break;
      }
    }
  }
}

let conns: Conn[] = [];
const latencies: number[] = [];
let total = 0;
let waiter: { expect: number; resolve(): void } | null = null;

function onEvents(_scanner: Scanner, added: number): void {
  total += added;
  if (waiter !== null && total >= waiter.expect) {
    const w = waiter;
    waiter = null;
    w.resolve();
  }
}


function connect(
  port: number,
  withLatency: boolean,
  onEvent: (scanner: Scanner, added: number) => void,
  acceptEncoding?: string,
  localAddress?: string,
): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const scanner = new Scanner(withLatency ? latencies : null, onEvent);
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    socket.setNoDelay(true);
    socket.once('error', reject);
    const conn = new Conn(socket, scanner, (error) => {
      socket.removeListener('error', reject);
      // After the head, errors are the server going away at the end of a case.
      socket.on('error', () => {});
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(conn);
    });
    const accept = acceptEncoding === undefined ? '' : `Accept-Encoding: ${acceptEncoding}\r\n`;
    socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n${accept}\r\n`);
  });
}

function closeAll(): void {
  for (const c of conns) c.socket.destroy();
  conns = [];
  latencies.length = 0;
  total = 0;
  waiter = null;
}

/** Resolves when `expect` events arrived over all connections, or at the deadline. */
function waitFor(expect: number, timeoutMs: number): Promise<void> {
  if (total >= expect) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiter = null;
      resolve();
    }, timeoutMs);
    waiter = {
      expect,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
    };
  });
}

serveParent(
  {
    async open({ port, connections, latency, acceptEncoding, sources, sourceBase = 2 }: { port: number; connections: number; latency: boolean; acceptEncoding?: string; sources?: number; sourceBase?: number }) {
      closeAll();
      // Past ~28k connections one source address runs out of ephemeral ports
      // (and a case's closed sockets hold theirs in TIME_WAIT for a minute):
      // spread them over 127.0.0.<sourceBase>, +1, ... (all loopback).
      const from = (i: number): string | undefined => (sources === undefined ? undefined : `127.0.0.${sourceBase + (i % sources)}`);
      // In waves, so the server's accept backlog is never the limit.
      for (let i = 0; i < connections; i += 250) {
        const wave = Math.min(250, connections - i);
        conns.push(...(await Promise.all(Array.from({ length: wave }, (_, j) => connect(port, latency, onEvents, acceptEncoding, from(i + j))))));
      }
      return { opened: conns.length };
    },

    /** Body bytes received so far over every connection (heartbeats included). */
    bytes() {
      return conns.reduce((n, c) => n + c.bodyBytes, 0);
    },

    async consume({ port, expect, timeoutMs }: { port: number; expect: number; timeoutMs: number }) {
      closeAll();
      let doneAt = 0;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const conn = await connect(port, false, (scanner, added) => {
        if (doneAt === 0 && scanner.events >= expect) doneAt = performance.now();
        onEvents(scanner, added);
      });
      conns.push(conn);
      await waitFor(expect, timeoutMs);
      const events = conn.scanner.events;
      const cpu = process.cpuUsage(cpu0);
      closeAll();
      return { events, ms: (doneAt || performance.now()) - t0, cpuUs: cpu.user + cpu.system };
    },

    async collect({ expect, timeoutMs }: { expect: number; timeoutMs: number }) {
      await waitFor(expect, timeoutMs);
      const events = total;
      const sorted = Float64Array.from(latencies).sort();
      const result = {
        events,
        p50: percentile(sorted, 50),
        p99: percentile(sorted, 99),
        max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
        bytes: conns.reduce((n, c) => n + c.bodyBytes, 0),
      };
      for (const c of conns) c.bodyBytes = 0;
      // Connections stay open for the next round; the counters start again.
      latencies.length = 0;
      total = 0;
      for (const c of conns) c.scanner.events = 0;
      return result;
    },

    close() {
      closeAll();
      return conns.length;
    },
  },
  closeAll,
);
