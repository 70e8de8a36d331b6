// The room as a Hono app on @hono/node-server: node examples/web/hono-node.mjs
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { GET, POST } from './room.mjs';

const app = new Hono();
app.get('/events', (c) => GET(c.req.raw));
app.post('/events', (c) => POST(c.req.raw));

serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1' }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}/events`);
});
