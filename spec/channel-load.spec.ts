/**
 * Channel under load: thousands of real HTTP clients, a client that stops
 * reading, and many join/leave cycles (nothing may be left behind).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Channel } from '../lib/channel.ts';
import { SSEStream, openStreamCount } from '../lib/stream.ts';
import { ErrorCode, type SSEError } from '../lib/errors.ts';
import { createParser } from '../lib/parser.ts';

async function listen(handler: http.RequestListener) {
  const server = http.createServer(handler);
  // 2,000 connections arrive at once: a backlog that holds them avoids SYN retries (1 s each).
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    server,
    port,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolve when `count()` reaches `target`, re-checked by `poke()`; rejects after `ms`. */
function counter(target: number, ms: number, what: string) {
  let n = 0;
  let done!: () => void;
  let timer: NodeJS.Timeout;
  const promise = new Promise<void>((resolve, reject) => {
    done = resolve;
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what} (${n} of ${target})`)), ms);
  });
  return {
    promise: promise.finally(() => clearTimeout(timer)),
    add(k = 1) {
      n += k;
      if (n >= target) done();
    },
    get value() {
      return n;
    },
  };
}

describe('Channel under load', () => {
  test('2,000 HTTP clients on loopback each receive every event once and in order', async () => {
    const CLIENTS = 2000;
    const EVENTS = 50;
    const channel = new Channel();
    const baseStreams = openStreamCount();
    const srv = await listen((req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0 });
      stream.pipe(res);
      channel.add(stream);
    });
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const received: number[][] = [];
    const delivered = counter(CLIENTS * EVENTS, 20_000, 'events delivered');
    const ended = counter(CLIENTS, 20_000, 'responses ended');
    const requests: http.ClientRequest[] = [];
    try {
      // In batches of 250 so the test does not depend on the kernel's SYN backlog.
      for (let batch = 0; batch < CLIENTS; batch += 250) {
        const opened: Promise<unknown>[] = [];
        for (let i = batch; i < batch + 250; i++) {
          const seen: number[] = [];
          received.push(seen);
          const parser = createParser({
            onEvent(event) {
              seen.push(Number(event.data));
              delivered.add();
            },
          });
          const req = http.get({ host: '127.0.0.1', port: srv.port, path: '/', agent });
          requests.push(req);
          opened.push(
            once(req, 'response').then((args) => {
              const res = args[0] as http.IncomingMessage;
              res.on('data', (chunk: Buffer) => parser.feed(chunk));
              res.on('end', () => ended.add());
            }),
          );
        }
        await Promise.all(opened);
      }
      // The server subscribes each stream before its headers leave, so all are in.
      assert.equal(channel.size, CLIENTS);
      for (let i = 0; i < EVENTS; i++) {
        assert.equal(channel.write({ id: i, event: 'tick', data: i }), true);
        if (i % 10 === 9) await new Promise((resolve) => setImmediate(resolve));
      }
      await delivered.promise;
      channel.end();
      await ended.promise;
      const expected = Array.from({ length: EVENTS }, (_, i) => i);
      let bad = 0;
      for (const seen of received) if (seen.length !== EVENTS || seen.some((v, i) => v !== expected[i])) bad++;
      assert.equal(bad, 0, 'clients with missing, repeated or reordered events');
      assert.equal(delivered.value, CLIENTS * EVENTS);
      assert.equal(channel.size, 0);
      assert.equal(openStreamCount(), baseStreams);
    } finally {
      for (const req of requests) req.destroy();
      agent.destroy();
      await srv.close();
    }
  });

  test('a client that stops reading is dropped; the others keep receiving at full speed', async () => {
    const FAST = 3;
    const ROUND = 16; // events per round
    const PAYLOAD = 'x'.repeat(4096);
    const MAX_BUFFERED = 256 * 1024;
    const channel = new Channel();
    const left: Array<[SSEStream, SSEError | undefined]> = [];
    channel.on('leave', (stream, reason) => left.push([stream as SSEStream, reason]));
    let slowStream: SSEStream | undefined;
    let slowRes: http.ServerResponse | undefined;
    const srv = await listen((req, res) => {
      const stream = new SSEStream(req, { heartbeat: 0, maxBufferedBytes: MAX_BUFFERED });
      if (req.url === '/slow') [slowStream, slowRes] = [stream, res];
      stream.pipe(res);
      channel.add(stream);
    });
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const requests: http.ClientRequest[] = [];
    let slow: net.Socket | undefined;
    try {
      // The slow client: a raw socket that sends its request and never reads.
      slow = net.connect(srv.port, '127.0.0.1');
      slow.pause();
      slow.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n');
      const fastSeen: number[][] = [];
      let progress: { target: number; resolve: () => void } | null = null;
      const lowest = () => Math.min(...fastSeen.map((s) => s.length));
      for (let i = 0; i < FAST; i++) {
        const seen: number[] = [];
        fastSeen.push(seen);
        const parser = createParser({
          onEvent(event) {
            seen.push(Number(event.lastEventId));
            if (progress !== null && lowest() >= progress.target) progress.resolve();
          },
        });
        const req = http.get({ host: '127.0.0.1', port: srv.port, path: '/fast', agent });
        requests.push(req);
        const [res] = (await once(req, 'response')) as [http.IncomingMessage];
        res.on('data', (chunk: Buffer) => parser.feed(chunk));
      }
      while (channel.size < FAST + 1) await once(channel, 'join');
      const slowGone = once(slowStream!, 'disconnect');

      // Each round waits for every fast client to have all events so far. A
      // channel that waited on the slow client would stall here (and time out).
      let sent = 0;
      let droppedAt = -1;
      const roundTimes: number[] = [];
      for (let round = 0; round < 1000 && (droppedAt < 0 || round < droppedAt + 20); round++) {
        const started = performance.now();
        for (let i = 0; i < ROUND; i++) assert.equal(channel.write({ id: sent++, data: PAYLOAD }), true);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`round ${round}: fast clients stalled at ${lowest()} of ${sent}`)), 5000);
          progress = {
            target: sent,
            resolve: () => {
              clearTimeout(timer);
              progress = null;
              resolve();
            },
          };
          if (lowest() >= sent) progress.resolve();
        });
        roundTimes.push(performance.now() - started);
        if (droppedAt < 0 && slowStream!.disconnected) droppedAt = round;
      }
      assert.ok(droppedAt >= 0, 'the slow client was dropped');
      const [reason] = (await slowGone) as [SSEError];
      assert.equal(reason.code, ErrorCode.CLIENT_TOO_SLOW);
      assert.equal(left.length, 1);
      assert.equal(left[0][0], slowStream);
      assert.equal(left[0][1]?.code, ErrorCode.CLIENT_TOO_SLOW);
      assert.equal(channel.size, FAST);
      const all = Array.from({ length: sent }, (_, i) => i);
      for (const seen of fastSeen) assert.deepEqual(seen, all);
      // Full speed: rounds with the stalled client in the channel take no longer
      // than the rounds after it left (medians, with a wide margin for CI noise).
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const before = median(roundTimes.slice(0, droppedAt));
      const after = median(roundTimes.slice(droppedAt + 1));
      assert.ok(before < after * 5 + 5, `rounds before the drop: ${before.toFixed(2)} ms, after: ${after.toFixed(2)} ms`);
      assert.equal(slowRes!.destroyed, true, 'the server let go of the slow connection');
      channel.end();
    } finally {
      slow?.destroy();
      for (const req of requests) req.destroy();
      agent.destroy();
      await srv.close();
    }
  });

  test('10,000 add/leave cycles leave no listener, timer, stream or memory behind', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const channel = new Channel({ history: 100 });
    const channelListeners = () => channel.eventNames().map((n) => channel.listenerCount(n)).join();
    let leaves = 0;
    channel.on('leave', () => void leaves++);
    channel.on('gap', () => undefined);
    const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
    const listenersOf = (s: SSEStream) => ['disconnect', 'finish', 'close'].map((n) => s.listenerCount(n)).join();
    let leftListeners = 0;

    const cycle = async (batch: number) => {
      const streams: Array<{ stream: SSEStream; dest: Writable; listeners: string }> = [];
      for (let i = 0; i < 100; i++) {
        const dest = new Writable({ write: (_c, _e, cb) => cb() });
        // Default heartbeat: a timer per stream, which must be cleared when it leaves.
        const stream = new SSEStream({ headers: i % 3 === 0 ? { 'last-event-id': String(i) } : {} });
        stream.pipe(dest);
        const listeners = listenersOf(stream);
        channel.add(stream, i % 2 === 0 ? { filter: (e) => e.type === 'message' } : undefined);
        streams.push({ stream, dest, listeners });
      }
      channel.write({ data: batch });
      streams.forEach(({ stream, dest }, i) => {
        switch (i % 4) {
          case 0:
            dest.destroy(); // the client leaves
            break;
          case 1:
            stream.end();
            break;
          case 2:
            stream.destroy();
            break;
          default:
            channel.delete(stream);
            stream.end();
        }
      });
      await settle();
      await settle();
      for (const { stream, listeners } of streams) if (listenersOf(stream) !== listeners) leftListeners++;
    };

    // Sockets of the tests before may still be closing: nothing may be added, some may go.
    // (Heartbeat timers are unref'd, so not listed: openStreamCount() stands for them,
    // since a stream stops its timer when it leaves that set.)
    const baseResources = process.getActiveResourcesInfo().length;
    const baseStreams = openStreamCount();
    const baseListeners = channelListeners();
    for (let b = 0; b < 10; b++) await cycle(b); // warm up: code compiled, history full
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let b = 0; b < 100; b++) await cycle(b);
    gc();
    const heapAfter = process.memoryUsage().heapUsed;

    assert.equal(leaves, 11_000);
    assert.equal(channel.size, 0);
    assert.equal(openStreamCount(), baseStreams);
    assert.equal(leftListeners, 0, 'streams that kept a channel listener after leaving');
    assert.ok(process.getActiveResourcesInfo().length <= baseResources, process.getActiveResourcesInfo().join());
    assert.equal(channelListeners(), baseListeners);
    const grown = heapAfter - heapBefore;
    assert.ok(grown < 2 * 1024 * 1024, `heap grew by ${(grown / 1024).toFixed(0)} KiB over 10,000 cycles`);
  });
});
