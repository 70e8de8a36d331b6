// A chat room: GET /events streams the room, POST /say posts a message to it.
//   node chat.mjs
//   curl -N http://localhost:3000/events       # in one terminal
//   curl -d 'hello' http://localhost:3000/say  # in another
import http from 'node:http';
import { Channel, SSEStream, endAll } from 'ssepipe';

// Messages: the last 500, none older than 10 minutes, are kept for clients that reconnect.
const messages = new Channel({ history: 500, historyMaxAge: 10 * 60_000 });
// Presence: live only, so that a reconnecting client never gets old counts replayed.
const presence = new Channel();
const count = () => presence.write({ event: 'presence', data: { online: presence.size } });
presence.on('join', count);
presence.on('leave', count);

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/events') {
    const stream = new SSEStream(req);
    stream.pipe(res); // the headers and the preamble first
    messages.add(stream); // what the client missed (after its Last-Event-ID), then live messages
    presence.add(stream);
    return;
  }
  if (req.method === 'POST' && req.url === '/say') {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      messages.write({ event: 'chat', data: { text: text.slice(0, 1000), at: Date.now() } });
      res.writeHead(204).end();
    });
    return;
  }
  res.writeHead(404).end();
});
server.listen(3000);

process.on('SIGTERM', () => {
  server.close(); // stop accepting; the process exits once every connection is closed
  endAll({ event: 'bye', data: '' }); // end every stream, then close its connection
});
