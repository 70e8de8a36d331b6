// The room on Bun: bun examples/web/bun.mjs
// Bun.serve closes a connection after 10 s without traffic (idleTimeout): the
// room's heartbeat (5 s) keeps its streams open. With a longer heartbeat, raise
// idleTimeout (at most 255 s), or turn it off with 0.
import { handle } from './room.mjs';

const server = Bun.serve({ port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1', fetch: handle });
console.log(`listening on http://127.0.0.1:${server.port}/events`);
