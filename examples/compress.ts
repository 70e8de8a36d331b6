// A compressed clock (the option is described in the README's "Compression"). Run: npx tsx examples/compress.ts
import http from 'node:http';
import { SSEStream } from '../lib/index.ts';

export function createCompressedServer(): http.Server {
  return http.createServer((req, res) => {
    const stream = new SSEStream(req, { compress: true });
    stream.pipe(res); // Content-Encoding: br, gzip or deflate, as the client accepts
    const timer = setInterval(() => stream.write({ event: 'tick', data: { now: Date.now() } }), 1000);
    stream.on('close', () => clearInterval(timer));
  });
}

if (require.main === module) createCompressedServer().listen(8080);
