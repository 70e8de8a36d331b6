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
 * Emits `'retry'` (ms) and `'comment'` (text). A line longer than `maxLineLength`
 * errors the stream with `ERR_SSE_LINE_TOO_LONG`.
 */
export class SSEParser extends Transform {
  // Not a `#private` field: those reach the shipped .d.ts as `#private`, which
  // TypeScript rejects under older targets and `node10` resolution.
  private readonly _reader: EventStreamParser;

  constructor(options?: SSEParserOptions) {
    const { maxLineLength } = checkParseOptions(options, 'SSEParser');
    // Strings are passed through undecoded: the parser takes text as is.
    super({ readableObjectMode: true, decodeStrings: false });
    this._reader = createParser({
      onEvent: (event) => void this.push(event),
      onRetry: (ms) => void this.emit('retry', ms),
      onComment: (text) => void this.emit('comment', text),
      maxLineLength,
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
