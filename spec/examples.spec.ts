/**
 * The README's Node examples (examples/*.mjs), run as printed: each imports
 * 'ssepipe' from the package built into a scratch project (./support/build.ts),
 * in a child process whose listen() lands on 127.0.0.1 port 0
 * (./support/listen-anywhere.mjs). A Node client reads what a browser would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { scratchProject, ROOT, type Scratch } from './support/build.ts';
import { nextOfType, openEventStream, request, within, type EventStreamClient } from './support/realworld.ts';

let scratch: Scratch;
before(() => {
  scratch = scratchProject(['express']);
  for (const file of ['quickstart.mjs', 'express.mjs', 'chat.mjs']) cpSync(path.join(ROOT, 'examples', file), path.join(scratch.dir, 'examples', file));
});
after(() => scratch?.remove());

interface Example {
  child: ChildProcess;
  base: string;
  output(): string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/** Start `examples/<file>` in the scratch project; resolves once it listens. */
async function start(file: string, t: { after(fn: () => unknown): void }): Promise<Example> {
  const child = spawn(process.execPath, ['--import', path.join(__dirname, 'support', 'listen-anywhere.mjs'), path.join('examples', file)], {
    cwd: scratch.dir,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const port = await within(
    new Promise<number>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { port: number }).port));
      child.once('exit', () => reject(new Error(`${file} exited before listening: ${output}`)));
    }),
    10_000,
    `${file} to listen`,
  );
  return { child, base: `http://127.0.0.1:${port}`, output: () => output, exited };
}

/** The first `n` events of `client`, as [type, data] (data checked by the caller). */
async function take(client: EventStreamClient, n: number): Promise<Array<{ type: string; data: string; lastEventId: string }>> {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await client.next(3000));
  return out;
}

for (const [file, path] of [['quickstart.mjs', '/sse'], ['express.mjs', '/sse']] as const) {
  describe(`examples/${file}`, () => {
    test(`GET ${path}: the event-stream head, CORS for any page, then Date.now() as untyped messages`, async (t) => {
      const example = await start(file, t);
      const client = await openEventStream(`${example.base}${path}`, { Origin: 'http://localhost:5173' });
      t.after(() => client.close());
      assert.equal(client.status, 200);
      assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(client.headers['access-control-allow-origin'], '*');
      const events = await take(client, 3);
      assert.deepEqual(events.map((e) => [e.type, e.lastEventId]), [['message', ''], ['message', ''], ['message', '']]);
      for (const e of events) assert.match(e.data, /^\d{13}$/);
      assert.ok(Number(events[0].data) < Number(events[2].data), 'the clock advances');
      assert.match(client.raw, /^:ok\n\ndata: \d{13}\n\n/);
      assert.equal(example.output(), '');
    });
  });
}

describe('examples/chat.mjs', () => {
  test('posts reach every client; presence is live; a reconnect gets the missed messages and no old count', async (t) => {
    const chat = await start('chat.mjs', t);
    const url = `${chat.base}/events`;
    const a = await openEventStream(url);
    t.after(() => a.close());
    assert.deepEqual(JSON.parse((await nextOfType(a, ['presence'])).data), { online: 1 });
    const b = await openEventStream(url);
    t.after(() => b.close());
    assert.deepEqual(JSON.parse((await nextOfType(a, ['presence'])).data), { online: 2 });
    assert.deepEqual(JSON.parse((await nextOfType(b, ['presence'])).data), { online: 2 });

    const said = [];
    for (const text of ['one', 'two', 'three']) {
      assert.equal((await request(`${chat.base}/say`, { method: 'POST', body: text })).status, 204);
      const [ea, eb] = [await nextOfType(a, ['chat']), await nextOfType(b, ['chat'])];
      assert.deepEqual(ea, eb, 'the same event, id included, for both');
      assert.equal(JSON.parse(ea.data).text, text);
      assert.match(ea.lastEventId, /^\d+$/);
      said.push(ea);
    }

    b.close();
    assert.deepEqual(JSON.parse((await nextOfType(a, ['presence'])).data), { online: 1 });
    // b comes back having seen "one": "two" and "three" are replayed, then the live count.
    const again = await openEventStream(url, { 'Last-Event-ID': said[0].lastEventId });
    t.after(() => again.close());
    const [first, second, third] = await take(again, 3);
    assert.deepEqual([first, second], [said[1], said[2]]);
    assert.deepEqual([third.type, JSON.parse(third.data)], ['presence', { online: 2 }]);
    assert.equal((await request(`${chat.base}/nope`)).status, 404);
  });

  test('SIGTERM: every client gets "bye" and the end of its stream, and the process exits with code 0', async (t) => {
    const chat = await start('chat.mjs', t);
    const clients = [await openEventStream(`${chat.base}/events`), await openEventStream(`${chat.base}/events`)];
    t.after(() => clients.forEach((c) => c.close()));
    await nextOfType(clients[1], ['presence']);
    chat.child.kill('SIGTERM');
    for (const client of clients) {
      assert.equal((await nextOfType(client, ['bye'])).data, '');
      assert.equal(await within(client.closed, 3000, 'the stream to end'), 'end');
    }
    assert.deepEqual(await within(chat.exited, 5000, 'the chat to exit after SIGTERM'), [0, null]);
    assert.equal(chat.output(), '');
  });
});
