/**
 * A private redis-server for the tests: started on a Unix socket in a temp dir
 * (no TCP port), with or without AOF, stopped and restarted on demand; and a
 * connected client of every library and protocol the broker supports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient as createClient4 } from 'redis4';
import { createClient as createClient5 } from 'redis5';
import { createClient as createClient6 } from 'redis';
import IORedis5 from 'ioredis5';
import IORedis6 from 'ioredis';
import IOValkey from 'iovalkey';
import { requireBinary, within } from './realworld.ts';
import { existsSync } from 'node:fs';

export function findRedisServer(): string | undefined {
  const env = process.env.REDIS_SERVER_BIN;
  for (const p of env ? [env] : ['/usr/bin/redis-server', '/usr/local/bin/redis-server', '/usr/sbin/redis-server']) if (existsSync(p)) return p;
  return undefined;
}

/** The `skip` option for tests that need redis-server (a failure under CI=true). */
export function requireRedis(): { skip: string | false } {
  return requireBinary('redis-server', findRedisServer(), 'apt-get install redis-server; .ci/run does');
}

export interface RedisServer {
  readonly socket: string;
  readonly dir: string;
  readonly running: boolean;
  /** SIGTERM (AOF is written) and wait for the exit. */
  stop(): Promise<void>;
  /** Start again with the same dir and socket (and the AOF, when on). */
  start(): Promise<void>;
  /** stop() then start(). */
  restart(): Promise<void>;
  /** stop() and remove the temp dir. */
  close(): Promise<void>;
}

export async function startRedis(options: { aof?: boolean } = {}): Promise<RedisServer> {
  const bin = findRedisServer();
  if (bin === undefined) throw new Error('redis-server not found');
  const dir = mkdtempSync(join(tmpdir(), 'ssepipe-redis-'));
  const socket = join(dir, 'r.sock');
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const args = [
    '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--dir', dir, '--save', '',
    '--appendonly', options.aof ? 'yes' : 'no', '--appendfsync', 'always', '--daemonize', 'no', '--loglevel', 'notice',
  ];
  const server: RedisServer = {
    socket,
    dir,
    get running() {
      return child !== null;
    },
    async start() {
      const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      let out = '';
      await within(
        new Promise<void>((resolve, reject) => {
          proc.stdout!.setEncoding('utf8').on('data', (c: string) => {
            out += c;
            if (/ready to accept connections/i.test(out)) resolve();
          });
          proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
        }),
        10_000,
        'redis-server to accept connections',
      );
      proc.stdout!.resume();
      proc.stderr!.resume();
    },
    async stop() {
      if (child === null) return;
      const proc = child;
      child = null;
      proc.kill('SIGTERM');
      await within(exited, 10_000, 'redis-server to exit').catch(() => proc.kill('SIGKILL'));
    },
    async restart() {
      await server.stop();
      await server.start();
    },
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}

/** A connected client and how to close it. */
export interface TestClient {
  readonly client: any;
  send(...args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

const noop = (): void => undefined;

function nodeRedis(make: (o: object) => any, extra: object) {
  return async (path: string): Promise<TestClient> => {
    const client = make({ socket: { path, reconnectStrategy: (n: number) => Math.min(20 * n, 200) }, ...extra });
    client.on('error', noop);
    await client.connect();
    return {
      client,
      send: (...args) => client.sendCommand(args),
      async close() {
        try {
          await (typeof client.destroy === 'function' ? client.destroy() : client.disconnect());
        } catch {
          /* closed */
        }
      },
    };
  };
}

function ioRedis(Ctor: any) {
  return async (path: string): Promise<TestClient> => {
    const client = new Ctor({ path, retryStrategy: (n: number) => Math.min(20 * n, 200), maxRetriesPerRequest: 3 });
    client.on('error', noop);
    await client.ping();
    return {
      client,
      send: (...args) => client.call(args[0], ...args.slice(1)),
      async close() {
        if (client.status === 'end') return;
        const ended = new Promise((resolve) => client.once('end', resolve));
        client.disconnect();
        await within(ended, 5000, 'the client to disconnect');
      },
    };
  };
}

/** Every client library and protocol the broker supports, by name. */
export const CLIENTS: Record<string, (socket: string) => Promise<TestClient>> = {
  'node-redis 4 (RESP2)': nodeRedis(createClient4, {}),
  'node-redis 5 (RESP2)': nodeRedis(createClient5, {}),
  'node-redis 5 (RESP3)': nodeRedis(createClient5, { RESP: 3 }),
  'node-redis 6 (RESP3)': nodeRedis(createClient6, {}),
  'node-redis 6 (RESP2)': nodeRedis(createClient6, { RESP: 2 }),
  'ioredis 5': ioRedis(IORedis5),
  'ioredis 6': ioRedis(IORedis6),
  iovalkey: ioRedis(IOValkey),
};
