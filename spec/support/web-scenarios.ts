/**
 * The scenarios every fetch-style host runs, against the room of
 * examples/web/room.mjs (GET /events joins, POST /events broadcasts, a `left`
 * event tells who left and why): Node 18-26, Bun, Deno, workerd (in a worker
 * and in a Durable Object), Hono on @hono/node-server and on Bun. One observer
 * stays in the room throughout and sees every `left`. The tests of one host
 * run in order and build on each other (the resume test reconnects after the
 * ordered events).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { openEventStream, request, within, type EventStreamClient } from './realworld.ts';
import type { ServerSentEvent } from '../../lib/types.ts';

const WAIT = 15_000;

/** A header value as a browser sends it: UTF-8 bytes (Node's client writes a string's chars as Latin-1 bytes). */
function utf8Header(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** A running host of the room. */
export interface RoomHost {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The room scenarios as one suite named `label`: `start()` runs the host
 * (before the tests; stopped after them). `options.skip`: a missing runtime.
 */
export function roomScenarios(label: string, options: { skip: string | false }, start: () => Promise<RoomHost>): void {
  describe(label, options, () => {
    let host: RoomHost | undefined;
    before(async () => {
      host = await start();
    });
    after(() => host?.stop());
    scenarios(() => (host as RoomHost).url);
  });
}

function scenarios(base: () => string): void {
  let observer: EventStreamClient;
  const clients: EventStreamClient[] = [];
  const sockets: net.Socket[] = [];

  const open = async (query: string, headers: Record<string, string> = {}): Promise<EventStreamClient> => {
    const client = await openEventStream(`${base()}/events?${query}`, headers, WAIT);
    clients.push(client);
    return client;
  };
  const post = async (messages: unknown[]): Promise<void> => {
    const res = await request(`${base()}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(messages),
    });
    assert.equal(res.status, 204, `POST /events answered ${res.status}: ${res.body}`);
  };
  /** The observer's next `left` event about `name` (other events pass by). */
  const leftOf = async (name: string): Promise<unknown> => {
    for (let i = 0; i < 100_000; i++) {
      const event = await observer.next(WAIT);
      if (event.type !== 'left') continue;
      const data = JSON.parse(event.data) as { name: string };
      if (data.name === name) return data;
    }
    throw new Error(`no left event for ${name}`);
  };
  /** The next `n` events of `client`, leaving out the room's presence (`left`) events, which its history keeps too. */
  const take = async (client: EventStreamClient, n: number): Promise<ServerSentEvent[]> => {
    const out: ServerSentEvent[] = [];
    for (let i = 0; out.length < n && i < 10_000; i++) {
      const event = await client.next(WAIT);
      if (event.type !== 'left') out.push(event);
    }
    return out;
  };

  before(async () => {
    observer = await open('name=observer');
  });

  after(() => {
    for (const c of clients) c.close();
    for (const s of sockets) s.destroy();
  });

  test('the head: 200 with the event stream headers', async () => {
    const client = await open('name=head');
    assert.equal(client.status, 200);
    assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(client.headers['cache-control'], 'no-cache, no-transform');
    assert.equal(client.headers['x-accel-buffering'], 'no');
    assert.equal(client.headers['content-length'], undefined);
    client.close();
  });

  let firstIds: string[] = [];
  let reader: EventStreamClient;

  test('events arrive in order, with their types, data and ids (a unicode id too)', async () => {
    reader = await open('name=reader');
    await post([
      { event: 'chat', id: 'c1', data: { user: 'ada', text: 'hi' } },
      { id: 'c2', data: 'two\nlines' },
      { event: 'tick', id: 'é-3 ✓', data: 3 },
      { event: 'chat', data: { user: 'bob', text: '🙂' } },
    ]);
    const got = await take(reader, 4);
    assert.deepEqual(
      got.map((e) => [e.type, e.data]),
      [
        ['chat', '{"user":"ada","text":"hi"}'],
        ['message', 'two\nlines'],
        ['tick', '3'],
        ['chat', '{"user":"bob","text":"🙂"}'],
      ],
    );
    assert.deepEqual(got.slice(0, 3).map((e) => e.lastEventId), ['c1', 'c2', 'é-3 ✓']);
    assert.match(got[3].lastEventId, /^\d+$/, 'the history gave the event without an id one of its own');
    firstIds = got.map((e) => e.lastEventId);
  });

  test('a reconnect with Last-Event-ID gets exactly what it missed from the Channel, then live events', async () => {
    assert.equal(firstIds.length, 4, 'the previous test ran');
    reader.close();
    await post([{ event: 'chat', id: 'm1', data: 'missed 1' }, { event: 'chat', id: 'm2', data: 'missed 2' }]);
    // The browser reconnects with the id of the last event it saw: the unicode one, as UTF-8.
    const back = await open('name=reader', { 'Last-Event-ID': utf8Header(firstIds[2]) });
    const replayed = await take(back, 3);
    assert.deepEqual(
      replayed.map((e) => [e.lastEventId, e.data]),
      [
        [firstIds[3], '{"user":"bob","text":"🙂"}'],
        ['m1', 'missed 1'],
        ['m2', 'missed 2'],
      ],
    );
    await post([{ event: 'chat', id: 'live', data: 'live' }]);
    const [live] = await take(back, 1);
    assert.deepEqual([live.lastEventId, live.data], ['live', 'live']);
    back.close();
  });

  test('a client that leaves is seen: the room says so, with ERR_SSE_CLIENT_CLOSED', async () => {
    const leaver = await open('name=leaver');
    leaver.close();
    assert.deepEqual(await leftOf('leaver'), { name: 'leaver', reason: 'ERR_SSE_CLIENT_CLOSED' });
  });

  test('a client that stops reading is dropped with ERR_SSE_CLIENT_TOO_SLOW; the others go on', async () => {
    const { port } = new URL(base());
    const socket = net.connect(Number(port), '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => {});
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => socket.write(`GET /events?name=slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`));
        // The response head means it joined; from then on it reads nothing.
        socket.once('data', () => {
          socket.pause();
          resolve();
        });
        socket.once('error', reject);
      }),
      WAIT,
      'the slow client to get its response head',
    );
    const dropped = leftOf('slow');
    let verdict: unknown;
    void dropped.then((v) => (verdict = v), (err: unknown) => (verdict = err));
    // 128 KiB of comments per POST (sent live, never kept in history) until the
    // room drops it: the kernel's and the runtime's buffers fill first. Half the
    // room's maxBufferedBytes (256 KiB) at a time, so that a client that reads
    // keeps up: a burst above the bound in one tick would drop every client.
    const flood = Array.from({ length: 4 }, (_, i) => ({ comment: `${i} ${'x'.repeat(32_768)}` }));
    for (let i = 0; i < 1000 && verdict === undefined; i++) await post(flood);
    assert.deepEqual(await dropped, { name: 'slow', reason: 'ERR_SSE_CLIENT_TOO_SLOW' });
    await post([{ event: 'chat', id: 'after-slow', data: 'still here' }]);
    for (let i = 0; i < 1000; i++) if ((await observer.next(WAIT)).lastEventId === 'after-slow') return;
    assert.fail('the observer did not get the event after the drop');
  });

  test('maxDuration ends the response cleanly (no disconnect), and the client resumes after it', async () => {
    const brief = await open('name=brief&maxDuration=800');
    await post([{ event: 'chat', id: 'd1', data: 'during' }]);
    assert.equal((await take(brief, 1))[0].data, 'during');
    assert.equal(await within(brief.closed, WAIT, 'the stream to end'), 'end', 'ended by the server, not cut');
    assert.ok(brief.raw.endsWith('\n\n'), 'nothing half-sent');
    await post([{ event: 'chat', id: 'd2', data: 'after the end' }]);
    const again = await open('name=brief-again', { 'Last-Event-ID': 'd1' });
    const [next] = await take(again, 1);
    assert.deepEqual([next.lastEventId, next.data], ['d2', 'after the end']);
    again.close();
    // The server's own end is no disconnect: no `left` for it before this marker.
    await post([{ event: 'chat', id: 'marker', data: 'marker' }]);
    for (let i = 0; i < 10_000; i++) {
      const e = await observer.next(WAIT);
      if (e.type === 'left') assert.notEqual((JSON.parse(e.data) as { name: string }).name, 'brief');
      if (e.lastEventId === 'marker' && e.data === 'marker') return;
    }
    assert.fail('no marker');
  });
}
