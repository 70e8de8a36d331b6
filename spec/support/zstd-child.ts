/**
 * Run by spec/zstd.spec.ts on a newer Node (node:zlib with zstd): the byte-level
 * checks of spec/compress.spec.ts for zstd, over real HTTP on 127.0.0.1:0.
 * Prints one JSON object with what it saw; the spec asserts on it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSEStream, serialize, type SSEStreamOptions } from '../../lib/index.ts';
import { AVAILABLE } from '../../lib/zlib-node.ts';
import { openDecompressing } from './compressed.ts';

async function main(): Promise<unknown> {
  let options: SSEStreamOptions = {};
  let last: SSEStream | undefined;
  const server = http.createServer((req, res) => {
    last = new SSEStream(req, options);
    last.pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    // Lockstep: each event is written only once the previous one came out of the client's decompressor.
    options = { compress: { encodings: ['zstd'] }, heartbeat: 0 };
    const client = await openDecompressing(url, { 'Accept-Encoding': 'gzip, deflate, br, zstd' });
    const stream = last!;
    let expected = ':ok\n\n';
    const sizes: number[] = [];
    for (let n = 1; n <= 5; n++) {
      const m = { id: n, event: 'order', data: { n, type: 'order.updated', user: { id: 'u_8f14e45fceea167a', name: 'Ada Lovelace' }, note: 'Lorem ipsum dolor sit amet' } };
      const frame = serialize(m);
      const before = client.received.reduce((a, b) => a + b.length, 0);
      stream.write(m);
      expected += frame;
      await client.until(frame, 3000, expected.length - frame.length);
      sizes.push((client.received.reduce((a, b) => a + b.length, 0) - before) / Buffer.byteLength(frame));
    }
    const lockstepText = client.text === expected;
    stream.end({ data: 'bye ✓' });
    const closed = await client.closed;
    // Negotiation: the browsers' header, default order (ties go to br) and zstd first.
    const negotiated: Record<string, string> = {};
    for (const [name, o] of [
      ['default', { compress: true }],
      ['zstd first', { compress: { encodings: ['zstd', 'br', 'gzip'] } }],
    ] as const) {
      options = { ...o, heartbeat: 0 };
      const c = await openDecompressing(url, { 'Accept-Encoding': 'gzip, deflate, br, zstd' });
      negotiated[name] = c.encoding;
      last!.end();
      await c.closed;
    }
    return {
      node: process.version,
      available: AVAILABLE,
      encoding: client.encoding,
      contentEncoding: stream.contentEncoding,
      vary: client.headers['vary'],
      lockstepText,
      sizes,
      closed,
      text: client.text,
      expected: `${expected}data: bye ✓\n\n`,
      negotiated,
    };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

main().then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (err: Error) => {
    process.stderr.write(String(err.stack ?? err));
    process.exitCode = 1;
  },
);
