// A chat room over Server-Sent Events, as fetch-style route handlers:
// GET /events joins the room (a reconnect with Last-Event-ID first gets what it
// missed), POST /events broadcasts a JSON list of messages. The same module runs
// on Node, Bun, Deno, Cloudflare workerd and under Hono (see the README).
import { Channel, sseResponse } from 'ssepipe/web';

/** End a stream before a platform's duration limit (e.g. 30 s); the browser reconnects and resumes. */
const LONGEST = 25_000;

export function createRoom() {
  const room = new Channel({ history: 1000 });
  const names = new WeakMap();

  // Presence: tell the others who left and why (a closed tab, or too slow to keep up).
  room.on('leave', (stream, reason) => {
    if (reason !== undefined) room.write({ event: 'left', data: { name: names.get(stream), reason: reason.code } });
  });

  /** GET /events?name=ada[&maxDuration=ms]: the room's events, as they come. */
  function GET(request) {
    const params = new URL(request.url).searchParams;
    // A client may ask for a shorter stream (the tests do), never a longer one.
    const asked = Number(params.get('maxDuration'));
    return sseResponse(request, (stream) => {
      names.set(stream, params.get('name') ?? 'anonymous');
      room.add(stream);
    }, {
      heartbeat: 5_000, // under Bun's 10 s idle timeout
      retry: 500,
      maxDuration: asked > 0 && asked < LONGEST ? asked : LONGEST,
      maxBufferedBytes: 256 * 1024,
    });
  }

  /** POST /events with `[{ "event": "chat", "data": {...} }, ...]`: broadcast each. */
  async function POST(request) {
    const messages = await request.json().catch(() => null);
    if (!Array.isArray(messages)) return new Response('expected a JSON array of messages\n', { status: 400 });
    try {
      for (const message of messages) room.write(message);
    } catch (err) {
      return new Response(`${err.code}: ${err.message}\n`, { status: 400 });
    }
    return new Response(null, { status: 204 });
  }

  /** The whole app: /events only. */
  function handle(request) {
    if (new URL(request.url).pathname !== '/events') return new Response('not found\n', { status: 404 });
    if (request.method === 'GET') return GET(request);
    if (request.method === 'POST') return POST(request);
    return new Response(null, { status: 405, headers: { allow: 'GET, POST' } });
  }

  return { GET, POST, handle, room };
}

// A Next.js-style route module (app/events/route.js): one room per process.
export const { GET, POST, handle } = createRoom();
