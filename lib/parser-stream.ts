/**
 * The reader (`parser.ts`) as a Node Transform: bytes or strings in,
 * `ServerSentEvent` objects out. All parsing is the reader's; this only maps
 * its callbacks onto the stream.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { checkParseOptions, createParser, type EventStreamParser, type ParseOptions } from './parser.js';

export type SSEParserOptions = ParseOptions;

/**
 * A Transform from `text/event-stream` bytes (or strings) to `ServerSentEvent`
 * objects, for Node clients: `res.pipe(new SSEParser()).on('data', (ev) => ...)`.
 * Emits `'retry'` (ms) and `'comment'` (text).
 *
 * Past `maxLineLength` or `maxEventSize` the event is skipped (see
 * `ParseOptions`). With `onError`, the `SSEError` goes there and the stream reads
 * on. Without it, the stream is destroyed with that error (an `'error'` event),
 * after the events that followed the skipped one in the same chunk.
 */
export class SSEParser extends Transform {
  // Not a `#private` field: those reach the shipped .d.ts as `#private`, which
  // TypeScript rejects under an ES5 target (TS18028).
  private readonly _reader: EventStreamParser;

  constructor(options?: SSEParserOptions) {
    const limits = checkParseOptions(options, 'SSEParser');
    // Strings are passed through undecoded: the parser takes text as is.
    super({ readableObjectMode: true, decodeStrings: false });
    this._reader = createParser({
      onEvent: (event) => void this.push(event),
      onRetry: (ms) => void this.emit('retry', ms),
      onComment: (text) => void this.emit('comment', text),
      ...limits,
    });
  }

  /** The `id` of the last dispatched event, persisting (what to send as `Last-Event-ID`). */
  get lastEventId(): string {
    return this._reader.lastEventId;
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      // A string written with another encoding (e.g. 'hex') stands for bytes, not text.
      const encoded = typeof chunk === 'string' && encoding !== 'utf8' && encoding !== 'utf-8';
      this._reader.feed(encoded ? Buffer.from(chunk, encoding) : (chunk as string | Uint8Array));
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this._reader.end();
    callback();
  }
}
