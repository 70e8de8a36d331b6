import http from 'node:http';
import SSEStream from 'ssepipe';

http.createServer((req, res) => {
  const stream = new SSEStream(req, { cors: { origin: '*' } }); // any page may read it
  stream.pipe(res);
  const timer = setInterval(() => stream.write({ data: Date.now().toString() }), 100);
  stream.on('close', () => clearInterval(timer)); // the client left, or the stream ended
}).listen(8080);
