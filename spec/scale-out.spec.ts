/**
 * examples/scale-out.ts as the README runs it: two instance processes sharing
 * one channel through a private redis-server, behind nginx with the upstream
 * block of examples/scale-out.nginx.conf. Clients connect and reconnect through
 * nginx (landing on either instance), and one instance is SIGKILLed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startNginxHttp, type RunningProxy } from './support/proxies.ts';
import { findNginx, openEventStream, request, requireBinary, within, type EventStreamClient } from './support/realworld.ts';
import { requireRedis, startRedis, type RedisServer } from './support/redis.ts';

const root = join(__dirname, '..');
const skipRedis = requireRedis();
const skipNginx = requireBinary('nginx', findNginx(), 'set NGINX_BIN or apt-get install nginx-light');
const skip = skipRedis.skip || skipNginx.skip ? { skip: skipRedis.skip || skipNginx.skip } : { skip: false as const };

interface Instance {
  child: ChildProcess;
  port: number;
}

let redis: RedisServer;
const instances: Instance[] = [];
let nginx: RunningProxy;
let url: string;

async function startInstance(): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'examples', 'scale-out.ts')], {
    cwd: root,
    env: { ...process.env, PORT: '0', REDIS_SOCKET: redis.socket },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c));
  const port = await within(
    new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const m = /\(listening on [^ ]+:(\d+)\)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`the instance exited (${code}): ${err}`)));
    }),
    20_000,
    'an instance to listen',
  );
  return { child, port };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await within(exited, 10_000, 'an instance to exit');
}

async function say(text: string): Promise<{ id: string; via: string }> {
  const r = await request(`${url}/say`, { method: 'POST', body: text });
  assert.equal(r.status, 201, r.body);
  return { id: r.body, via: String(r.headers['x-instance']) };
}

async function next(client: EventStreamClient): Promise<{ id: string; text: string; via: string }> {
  const e = await client.next(10_000);
  assert.equal(e.type, 'chat');
  const data = JSON.parse(e.data) as { text: string; via: string };
  return { id: e.lastEventId, text: data.text, via: data.via };
}

describe('examples/scale-out.ts: two instances behind nginx', skip, () => {
  before(async () => {
    redis = await startRedis();
    instances.push(await startInstance(), await startInstance());
    const conf = readFileSync(join(root, 'examples', 'scale-out.nginx.conf'), 'utf8')
      .replace('server 127.0.0.1:3001;', `server 127.0.0.1:${instances[0].port};`)
      .replace('server 127.0.0.1:3002;', `server 127.0.0.1:${instances[1].port};`);
    nginx = await startNginxHttp(findNginx()!, (listen) => conf.replace('listen 127.0.0.1:8080;', `listen ${listen};`));
    url = `http://127.0.0.1:${nginx.port}`;
  });
  after(async () => {
    await nginx?.close();
    for (const i of instances) await stop(i.child, 'SIGKILL');
    await redis?.close();
  });

  test('events published on either instance reach every client; a reconnect through nginx resumes exactly; SIGKILL of an instance loses nothing', async () => {
    // One client on each instance (nginx alternates), and one on each directly.
    const direct = await Promise.all(instances.map((i) => openEventStream(`http://127.0.0.1:${i.port}/events`)));
    const viaNginx = [await openEventStream(`${url}/events`), await openEventStream(`${url}/events`)];
    assert.deepEqual(new Set(viaNginx.map((c) => c.headers['x-instance'])), new Set(instances.map((i) => String(i.port))));
    // Both instances read the room before counting: a warm-up each.
    const warm: string[] = [];
    for (let k = 0; k < 2; k++) warm.push((await say(`warm ${k}`)).id);
    for (const c of [...direct, ...viaNginx]) while ((await next(c)).id !== warm[1]);
    const posted: Array<{ id: string; via: string }> = [];
    for (let k = 0; k < 6; k++) posted.push(await say(`m${k}`));
    assert.equal(new Set(posted.map((p) => p.via)).size, 2, 'nginx sent the posts to both instances');
    const streams = [];
    for (const c of [...direct, ...viaNginx]) {
      const got = [];
      for (let k = 0; k < 6; k++) got.push(await next(c));
      streams.push(got);
    }
    for (const got of streams) {
      assert.deepEqual(got.map((g) => g.id), posted.map((p) => p.id), 'entry ids, in the order Redis stored them');
      assert.deepEqual(got.map((g) => g.text), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    }
    assert.equal(direct[0].raw.slice(direct[0].raw.indexOf('event: chat')), direct[1].raw.slice(direct[1].raw.indexOf('event: chat')), 'the same bytes from both instances');
    // A client leaves after m2 and comes back through nginx while more is said.
    const last = posted[2].id;
    viaNginx[0].close();
    posted.push(await say('m6'));
    const back = await openEventStream(`${url}/events`, { 'Last-Event-ID': last });
    posted.push(await say('m7'));
    const resumed = [];
    for (let k = 0; k < 5; k++) resumed.push(await next(back));
    assert.deepEqual(resumed.map((r) => r.text), ['m3', 'm4', 'm5', 'm6', 'm7']);
    // SIGKILL the instance `back` is on: it reconnects through nginx, to the survivor.
    const dead = instances.find((i) => String(i.port) === back.headers['x-instance'])!;
    await stop(dead.child, 'SIGKILL');
    assert.equal(await within(back.closed, 5000, 'the killed instance\'s stream to break'), 'aborted');
    posted.push(await say('m8'));
    const again = await openEventStream(`${url}/events`, { 'Last-Event-ID': resumed[4].id });
    assert.notEqual(again.headers['x-instance'], String(dead.port));
    assert.deepEqual([(await next(again)).text], ['m8']);
    for (const c of [...direct, ...viaNginx, back, again]) c.close();
  });
});
