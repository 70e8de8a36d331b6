/**
 * Scaling out: one instance of a chat room whose channel every instance shares
 * through Redis Streams. Run two or more behind nginx
 * (examples/scale-out.nginx.conf, instances on 3001 and 3002):
 *
 *   redis-server &                                   # or REDIS_URL=redis://host:6379
 *   PORT=3001 npx tsx examples/scale-out.ts &
 *   PORT=3002 npx tsx examples/scale-out.ts &
 *   curl -N localhost:8080/events                    # through nginx: either instance
 *   curl -d 'hello' localhost:8080/say               # published on either; every client gets it
 *
 * Routes:
 *   GET  /events  the room: replay after Last-Event-ID (from any instance), then live
 *   POST /say     the body (text, up to 1000 characters) as a `chat` event; 201 with its
 *                 id once Redis stored it, 503 with the error code when it did not answer
 * Every answer says which instance served it (`X-Instance`).
 * Env: PORT (3001; 0 picks one), HOST (127.0.0.1), REDIS_URL, or REDIS_SOCKET (a Unix socket).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from 'redis';
import { Channel, SSEStream, isSSEError } from '../lib/index.ts';
import { RedisBroker } from '../lib/redis.ts';

async function main(): Promise<void> {
  const socket = process.env.REDIS_SOCKET;
  const client = socket ? createClient({ socket: { path: socket, tls: false } }) : createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  client.on('error', (err: Error) => console.error(`redis: ${err.message}`));
  await client.connect();

  const broker = new RedisBroker(client, { prefix: 'sse:', maxLen: 10_000 });
  const room = new Channel({ name: 'room:42', broker }); // Redis key: sse:room:42
  // Events the client missed are gone (trimmed, or Redis lost them): tell the page to reload its state.
  room.on('gap', (stream) => stream.write({ event: 'reset', data: '' }));

  let instance = '';
  const server = http.createServer((req, res) => {
    res.setHeader('X-Instance', instance);
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === '/events') {
      const stream = new SSEStream(req);
      stream.pipe(res);
      room.add(stream); // replays after stream.lastEventId, then live
      return;
    }
    if (req.method === 'POST' && path === '/say') {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (text += chunk));
      req.on('end', () => {
        room.publish({ event: 'chat', data: { text: text.slice(0, 1000), via: instance } }).then(
          (id) => res.writeHead(201, { 'Content-Type': 'text/plain' }).end(id),
          // ERR_SSE_PUBLISH_FAILED: Redis did not confirm in time; the event may still be stored.
          (err: unknown) => res.writeHead(503, { 'Content-Type': 'text/plain' }).end(isSSEError(err) ? err.code : 'error'),
        );
      });
      return;
    }
    res.writeHead(404).end();
  });

  server.listen(Number(process.env.PORT ?? 3001), process.env.HOST ?? '127.0.0.1', () => {
    const { address, port } = server.address() as AddressInfo;
    instance = String(port);
    console.log(`scale-out instance on http://${address}:${port} (listening on ${address}:${port})`);
  });

  const stop = (): void => {
    room.end(); // every stream ends: browsers reconnect, through nginx, to another instance
    server.close();
    server.closeIdleConnections();
    void broker.close().then(() => client.close());
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
