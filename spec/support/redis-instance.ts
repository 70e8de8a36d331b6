/**
 * One instance of a scaled-out app, as its own process: an HTTP server whose
 * GET /events subscribes to the channel `room` shared through Redis. Prints
 * `port <n>` once listening. Run by spec/redis-instances.spec.ts.
 */
import http from 'node:http';
import { createClient } from 'redis';
import { Channel } from '../../lib/channel.ts';
import { RedisBroker } from '../../lib/redis.ts';
import { SSEStream } from '../../lib/stream.ts';

const [socket, name] = process.argv.slice(2) as [string, string];
const client = createClient({ socket: { path: socket, tls: false } });
client.on('error', () => undefined);

async function main(): Promise<void> {
  await client.connect();
  const broker = new RedisBroker(client, { prefix: 'sse:' });
  const channel = new Channel({ name, broker });
  const server = http.createServer((req, res) => {
    const stream = new SSEStream(req, { heartbeat: 0 });
    stream.pipe(res);
    channel.add(stream);
  });
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(`port ${port}\n`);
  });
  process.on('SIGTERM', () => {
    channel.end();
    server.closeAllConnections();
    server.close();
    void broker.close().then(() => client.destroy());
  });
}

void main();
