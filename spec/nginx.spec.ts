/**
 * Seed §7: behind a real nginx (./support/proxies.ts), with the DEFAULT
 * `proxy_buffering on`: the shared proxy scenarios (./support/proxy-scenarios.ts),
 * where `/` is the seed article's bare `proxy_pass`, plus what only nginx does:
 * `X-Accel-Buffering: no`, sent by `pipe()`, must make it pass each event
 * through as it is written (with a control showing it buffers otherwise).
 *
 * Measured with nginx 1.22: the buffering that holds events back shows with the
 * seed article's bare `proxy_pass` (nginx talks HTTP/1.0 to the upstream, whose
 * body then ends with the connection); with `proxy_http_version 1.1` (chunked
 * upstream body) nginx forwarded each chunk even with buffering on. Both
 * configurations are tested; the control uses the first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proxyScenarios } from './support/proxy-scenarios.ts';
import { startNginx } from './support/proxies.ts';
import { elapse, findNginx, openEventStream, within } from './support/realworld.ts';
import { openDecompressing } from './support/compressed.ts';

proxyScenarios(
  {
    name: 'nginx',
    binary: findNginx(),
    hint: 'set NGINX_BIN or apt-get install nginx-light',
    start: startNginx,
    idleCut: /upstream timed out \(110: Connection timed out\) while reading upstream/,
    // It closes the connection without the terminating chunk.
    idleCutAs: 'aborted',
    consumesAccelBuffering: true,
  },
  (h) => {
    test('each event arrives as it is written, 5 rounds (proxy_http_version 1.1, Connection "")', () => h.lockstep('/v11/events'));
    test("each event arrives as it is written, 5 rounds (the README's location block, examples/nginx.conf)", () => h.lockstep('/readme/events'));

    // Compressed upstream: nginx passes Content-Encoding and each flushed batch through (no gunzip/gzip configured).
    for (const [path, accept] of [['/events-compressed', 'gzip'], ['/v11/events-compressed', 'br'], ['/v11/events-compressed', 'deflate']]) {
      test(`compress: a ${accept} stream passes through one event at a time (${path === '/events-compressed' ? "the seed's bare proxy_pass" : 'HTTP/1.1 upstream'})`, async () => {
        const upstream = h.expect('/events-compressed');
        const client = await openDecompressing(`${h.base()}${path}`, { 'Accept-Encoding': accept });
        const stream = await upstream;
        try {
          assert.equal(client.headers['x-proxied-by'], 'nginx');
          assert.equal(client.encoding, accept);
          assert.equal(client.headers['vary'], 'Accept-Encoding');
          let expected = ':ok\n\n';
          for (let round = 1; round <= 5; round++) {
            const frame = `id: ${round}\ndata: {"round":${round},"note":"the same keys every time"}\n\n`;
            stream.write({ id: round, data: { round, note: 'the same keys every time' } });
            expected += frame;
            await client.until(frame, 2000, expected.length - frame.length);
          }
          stream.end();
          assert.equal(await within(client.closed, 3000, 'the end through nginx'), 'end');
          assert.equal(client.text, expected);
        } finally {
          client.close();
        }
      });
    }

    test('control: with X-Accel-Buffering: yes nginx holds everything until the stream ends', async () => {
      const upstream = h.expect('/events-buffered');
      let headArrived = false;
      const pending = openEventStream(`${h.base()}/events-buffered`).then((client) => {
        headArrived = true;
        return client;
      });
      const stream = await upstream;
      stream.write({ id: 1, data: 'held' });
      await elapse(1000); // time is the subject: nothing may come out while the stream is open
      assert.equal(headArrived, false, 'a buffering nginx holds even the response head and the :ok preamble');
      stream.end();
      const client = await pending;
      assert.equal(await within(client.closed, 3000, 'the end of the buffered stream'), 'end');
      assert.deepEqual(client.events, [{ type: 'message', data: 'held', lastEventId: '1' }]);
    });
  },
);
