// The room as a Hono app on Bun: bun examples/web/hono-bun.mjs
import { Hono } from 'hono';
import { GET, POST } from './room.mjs';

const app = new Hono();
app.get('/events', (c) => GET(c.req.raw));
app.post('/events', (c) => POST(c.req.raw));

const server = Bun.serve({ port: Number(process.env.PORT ?? 3000), hostname: '127.0.0.1', fetch: app.fetch });
console.log(`listening on http://127.0.0.1:${server.port}/events`);
