/**
 * A Node event-stream client that decompresses what it receives as a browser
 * does (by the response's `Content-Encoding`), keeping both sides for the tests:
 * the compressed bytes as they came (one entry per network read) and the text
 * they decompress to, parsed into events with lib/parser.ts. Used by the
 * compression tests, through nginx and behind Express, and by the zstd child
 * (which runs on a newer Node: nothing here may need more than node:zlib has).
 */
import http from 'node:http';
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import { createParser } from '../../lib/parser.ts';
import type { ServerSentEvent } from '../../lib/types.ts';

export interface DecompressingClient {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The response's Content-Encoding, or 'identity'. */
  readonly encoding: string;
  /** Compressed bytes in the order they arrived, one entry per read. */
  readonly received: Buffer[];
  /** Everything decompressed so far. */
  readonly text: string;
  readonly events: ServerSentEvent[];
  readonly comments: string[];
  /** Resolves once the decompressed text has grown to include `fragment` (after `from`), or rejects after `ms`. */
  until(fragment: string, ms?: number, from?: number): Promise<void>;
  /** Resolves when the body ended, with 'end' (complete, and the compressed format's end was valid) or the error. */
  readonly closed: Promise<string>;
  close(): void;
}

function decoder(encoding: string): Transform | null {
  switch (encoding) {
    case 'gzip':
      return zlib.createGunzip();
    case 'deflate':
      return zlib.createInflate();
    case 'br':
      return zlib.createBrotliDecompress();
    case 'zstd': {
      const make = (zlib as { createZstdDecompress?: () => Transform }).createZstdDecompress;
      if (make === undefined) throw new Error('this Node cannot decompress zstd');
      return make();
    }
    default:
      return null;
  }
}

/** GET `url` with `headers`; resolves once the head arrived. A connection of its own. */
export function openDecompressing(url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<DecompressingClient> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms: the response head of ${url}`));
    }, timeoutMs);
    const req = http.get(url, { headers, agent: false }, (res) => {
      clearTimeout(timer);
      const encoding = String(res.headers['content-encoding'] ?? 'identity');
      const received: Buffer[] = [];
      const events: ServerSentEvent[] = [];
      const comments: string[] = [];
      let text = '';
      let watchers: Array<() => void> = [];
      const parser = createParser({ onEvent: (e) => void events.push(e), onComment: (c) => void comments.push(c) });
      let done!: (how: string) => void;
      const closed = new Promise<string>((r) => (done = r));
      let finished = false;
      const finish = (how: string): void => {
        if (finished) return;
        finished = true;
        done(how);
        for (const w of watchers) w();
        watchers = [];
      };
      const onText = (chunk: Buffer): void => {
        const s = chunk.toString('utf8');
        text += s;
        parser.feed(s);
        for (const w of watchers) w();
      };
      const d = decoder(encoding);
      res.on('data', (b: Buffer) => void received.push(b));
      if (d === null) {
        res.on('data', onText);
        res.on('end', () => finish('end'));
      } else {
        res.pipe(d);
        d.on('data', onText);
        d.on('end', () => finish('end'));
        d.on('error', (err) => finish(`decompression failed: ${err.message}`));
      }
      res.on('aborted', () => finish('aborted'));
      res.on('error', () => finish('aborted'));
      res.on('close', () => {
        if (!res.complete) finish('aborted');
      });
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        encoding,
        received,
        get text() {
          return text;
        },
        events,
        comments,
        until(fragment, ms = 3000, from = 0) {
          return new Promise<void>((ok, fail) => {
            const check = (): boolean => {
              if (text.indexOf(fragment, from) !== -1) {
                clearTimeout(t);
                ok();
                return true;
              }
              if (finished) {
                clearTimeout(t);
                fail(new Error(`the stream ended before ${JSON.stringify(fragment)} arrived; got ${JSON.stringify(text)}`));
                return true;
              }
              return false;
            };
            const t = setTimeout(() => {
              watchers = watchers.filter((w) => w !== watch);
              fail(new Error(`timed out after ${ms} ms waiting for ${JSON.stringify(fragment)} (${encoding}); got ${JSON.stringify(text)}`));
            }, ms);
            const watch = (): void => {
              if (check()) watchers = watchers.filter((w) => w !== watch);
            };
            if (!check()) watchers.push(watch);
          });
        },
        closed,
        close: () => req.destroy(),
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
