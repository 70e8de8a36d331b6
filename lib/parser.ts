/**
 * The reader's public side: `text/event-stream` bytes -> events. The same format
 * `format.ts` writes, read backwards, for Node clients (Node 20 has no
 * `EventSource`). Here: the types, the options (checked once, here), and the
 * entry points `createParser` and `parse`; the algorithm is in `reader.ts`. No
 * `node:` import here or in what this imports, so the reader runs on any
 * JavaScript runtime (Workers, Deno, Bun, browsers); `parser-stream.ts` wraps it
 * in a Node Transform.
 */
import { typeError, type SSEError } from './errors.js';
import { PARSE_RULES, PARSER_RULES, readOptions } from './options.js';
import { createReader, type ReaderLimits } from './reader.js';

/** One event as a client sees it (the fields of the browser's `MessageEvent`). */
export interface ServerSentEvent {
  /** The event type: the `event` field, or `'message'`. */
  type: string;
  /** The data lines joined with LF. */
  data: string;
  /** The last event id seen on the stream so far (persists across events). */
  lastEventId: string;
}

/**
 * The bounds on what the reader holds, and what happens past them: the options
 * of every entry point ({@link parse} and `SSEParser` take only these).
 *
 * Past a bound the reader skips the event it was reading, whole: its data, its
 * type and its `id` (so `lastEventId` stays as it was), and every line up to the
 * blank line that ends it (comments and `retry` too). It reads on from the next
 * event; what came before the bound (a `retry`, a comment) was already reported.
 */
export interface ParseOptions {
  /**
   * Longest line accepted, in UTF-16 code units, line end excluded. A longer
   * line is an `ERR_SSE_LINE_TOO_LONG` error as soon as it is seen (also while
   * incomplete: its rest is dropped as it arrives, so that one endless line
   * cannot grow the parser's memory). `0` turns it off.
   * @defaultValue 1048576 (1 Mi)
   */
  maxLineLength?: number;
  /**
   * Largest event accepted, in UTF-16 code units: its data as it would be
   * dispatched (lines joined with LF) plus its type (`id`, comments and `retry`
   * do not count). A larger event is an `ERR_SSE_EVENT_TOO_LARGE` error as soon
   * as a line takes it past the bound, so that endless `data:` lines cannot grow
   * the parser's memory. `0` turns it off (an event longer than the JavaScript
   * engine's longest string is then still skipped with that error).
   * @defaultValue 16777216 (16 Mi)
   */
  maxEventSize?: number;
  /**
   * Called with each `ERR_SSE_LINE_TOO_LONG` or `ERR_SSE_EVENT_TOO_LARGE`
   * `SSEError`, in stream order with the events, and parsing goes on. Without
   * it, `feed()` (or `parse()`) throws the first such error of a chunk once it
   * has parsed the whole chunk: the events after the skipped one are dispatched
   * first, and the parser is ready for the next chunk.
   */
  onError?(error: SSEError): void;
}

export interface ParserOptions extends ParseOptions {
  /** Called for every dispatched event, in stream order. Required. */
  onEvent(event: ServerSentEvent): void;
  /**
   * Called with the reconnection time (ms) of every valid `retry:` field: ASCII
   * digits only, at most `Number.MAX_SAFE_INTEGER` (a larger value is ignored,
   * like any invalid one).
   */
  onRetry?(ms: number): void;
  /** Called with the text of every comment line, after the `:` and one leading space. */
  onComment?(text: string): void;
}

export interface EventStreamParser {
  /**
   * Parse the next piece of the stream: UTF-8 bytes (split anywhere) or decoded
   * text. Callbacks run inside this call; if one throws, the error propagates
   * and the rest of this chunk is not parsed. Without `onError`, throws the
   * chunk's first limit error after parsing all of it.
   */
  feed(chunk: string | Uint8Array): void;
  /**
   * The stream ended: an event not terminated by a blank line is discarded (per
   * spec). `lastEventId` is kept, and the parser is ready for the next stream
   * (a reconnection): a BOM is again allowed at its start.
   */
  end(): void;
  /** Forget everything, `lastEventId` included: the parser is as new. */
  reset(): void;
  /** The last event ID string of the stream: the `id` of the last dispatched event, persisting. */
  readonly lastEventId: string;
}

/** Everything a whole input holds: its events, the last valid `retry`, the last event id and its comments. */
export interface ParseResult {
  events: ServerSentEvent[];
  retry: number | undefined;
  lastEventId: string;
  comments: string[];
}

/** Create an incremental event stream parser. A bad option throws `ERR_SSE_INVALID_OPTION`. */
export function createParser(options: ParserOptions): EventStreamParser {
  if (options === null || typeof options !== 'object') {
    const hint = typeof options === 'function' ? ' (did you mean createParser({ onEvent: fn })?)' : '';
    throw typeError('ERR_SSE_INVALID_OPTION', 'createParser', `options must be an object like { onEvent, onRetry, onComment, onError, maxLineLength, maxEventSize }${hint}`, options);
  }
  const o = readOptions('createParser', options, PARSER_RULES);
  return createReader({ ...o, onEvent: o.onEvent as (event: ServerSentEvent) => void });
}

/**
 * `options` given to `where` ({@link parse}, `SSEParser`), checked once, with
 * defaults applied: what they pass on to {@link createParser}. `undefined`: all
 * defaults. A bad option throws `ERR_SSE_INVALID_OPTION`.
 */
export function checkParseOptions(options: ParseOptions | undefined, where: string): ReaderLimits {
  return readOptions(where, options, PARSE_RULES);
}

/**
 * Parse a complete stream at once (an unterminated last event is discarded).
 * Past a bound, without `onError`, throws the first limit error instead of
 * returning: pass `onError` to get everything else.
 */
export function parse(input: string | Uint8Array, options?: ParseOptions): ParseResult {
  const limits = checkParseOptions(options, 'parse');
  const events: ServerSentEvent[] = [];
  const comments: string[] = [];
  let retry: number | undefined;
  const parser = createReader({
    onEvent: (event) => void events.push(event),
    onRetry: (ms) => void (retry = ms),
    onComment: (text) => void comments.push(text),
    ...limits,
  });
  parser.feed(input);
  parser.end();
  return { events, retry, lastEventId: parser.lastEventId, comments };
}
