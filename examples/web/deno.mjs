// The room on Deno: deno run --allow-net --allow-env --allow-read examples/web/deno.mjs
import { handle } from './room.mjs';

Deno.serve({
  port: Number(Deno.env.get('PORT') ?? 3000),
  hostname: '127.0.0.1',
  onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}/events`),
}, handle);
