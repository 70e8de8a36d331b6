/**
 * The reader's public side: `text/event-stream` bytes -> events. The same format
 * `format.ts` writes, read backwards, for Node clients (Node 20 has no
 * `EventSource`). Here: the types, the options (checked once, here), and the
 * entry points `createParser` and `parse`; the algorithm is in `reader.ts`. No
 * `node:` import here or in what this imports, so the reader runs on any
 * JavaScript runtime (Workers, Deno, Bun, browsers); `parser-stream.ts` wraps it
 * in a Node Transform.
 */
import { ErrorCode, SSERangeError, SSETypeError, describe } from './errors.js';
import { createReader } from './reader.js';
import { suggest } from './suggest.js';

const DEFAULT_MAX_LINE_LENGTH = 1_048_576;

/** One event as a client sees it (the fields of the browser's `MessageEvent`). */
export interface ServerSentEvent {
  /** The event type: the `event` field, or `'message'`. */
  type: string;
  /** The data lines joined with LF. */
  data: string;
  /** The last event id seen on the stream so far (persists across events). */
  lastEventId: string;
}

export interface ParserOptions {
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
  /**
   * Longest line accepted, in UTF-16 code units, line end excluded. A longer line
   * throws `ERR_SSE_LINE_TOO_LONG` as soon as it is seen (also while incomplete),
   * so that one endless line cannot grow the parser's memory. `0` turns it off.
   * @defaultValue 1048576 (1 Mi)
   */
  maxLineLength?: number;
}

export interface EventStreamParser {
  /**
   * Parse the next piece of the stream: UTF-8 bytes (split anywhere) or decoded
   * text. Callbacks run inside this call; if one throws, the error propagates
   * and the rest of this chunk is not parsed.
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

const PARSER_OPTIONS = ['onEvent', 'onRetry', 'onComment', 'maxLineLength'] as const;
const PARSE_OPTIONS = ['maxLineLength'] as const;

// Options are validated once, at the boundary, so that `feed()` never checks them:
// an object naming only known options (a typo is named with what was meant).
function checkNames(options: unknown, where: string, allowed: readonly string[]): asserts options is object {
  if (options === null || typeof options !== 'object') {
    const hint = typeof options === 'function' && where === 'createParser' ? ' Did you mean createParser({ onEvent: fn })?' : '';
    const message = `${where}: options must be an object with ${allowed.join(', ')}; got ${describe(options)}.${hint}`;
    throw new SSETypeError(ErrorCode.INVALID_OPTION, message);
  }
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const near = suggest(key, allowed);
    throw new SSETypeError(
      ErrorCode.INVALID_OPTION,
      `${where}: unknown option "${key}"${near === undefined ? '' : ` (did you mean "${near}"?)`}; allowed: ${allowed.join(', ')}`,
    );
  }
}

function checkMaxLineLength(value: unknown, where: string): number {
  if (value === undefined) return DEFAULT_MAX_LINE_LENGTH;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  const message = `${where}: maxLineLength must be a non-negative integer (0 = no limit); got ${describe(value)}`;
  throw typeof value === 'number'
    ? new SSERangeError(ErrorCode.INVALID_OPTION, message)
    : new SSETypeError(ErrorCode.INVALID_OPTION, message);
}

function checkCallback<F>(value: F | undefined, name: string, where: string): F | undefined {
  if (typeof value === 'function' || value === undefined) return value;
  throw new SSETypeError(ErrorCode.INVALID_OPTION, `${where}: ${name} must be a function or undefined; got ${describe(value)}`);
}

/** Create an incremental event stream parser. A bad option throws `ERR_SSE_INVALID_OPTION`. */
export function createParser(options: ParserOptions): EventStreamParser {
  checkNames(options, 'createParser', PARSER_OPTIONS);
  // Each option is read once, into a local: a getter cannot pass the check and then change.
  const { onEvent, onRetry, onComment, maxLineLength } = options;
  if (typeof onEvent !== 'function') {
    throw new SSETypeError(ErrorCode.INVALID_OPTION, `createParser: onEvent must be a function; got ${describe(onEvent)}`);
  }
  return createReader({
    onEvent,
    onRetry: checkCallback(onRetry, 'onRetry', 'createParser'),
    onComment: checkCallback(onComment, 'onComment', 'createParser'),
    maxLineLength: checkMaxLineLength(maxLineLength, 'createParser'),
  });
}

/** Everything a whole input holds: its events, the last valid `retry`, the last event id and its comments. */
export interface ParseResult {
  events: ServerSentEvent[];
  retry: number | undefined;
  lastEventId: string;
  comments: string[];
}

/** The options of the entry points that take no callbacks of their own: {@link parse} and `SSEParser`. */
export interface ParseOptions {
  /** See {@link ParserOptions.maxLineLength}. @defaultValue 1048576 (1 Mi) */
  maxLineLength?: number;
}

/**
 * `options` given to `where` ({@link parse}, `SSEParser`), checked once, with
 * defaults applied: what they pass on to {@link createParser}. `undefined`: all
 * defaults. A bad option throws `ERR_SSE_INVALID_OPTION`.
 */
export function checkParseOptions(options: ParseOptions | undefined, where: string): Required<ParseOptions> {
  if (options === undefined) return { maxLineLength: DEFAULT_MAX_LINE_LENGTH };
  checkNames(options, where, PARSE_OPTIONS);
  const { maxLineLength } = options;
  return { maxLineLength: checkMaxLineLength(maxLineLength, where) };
}

/** Parse a complete stream at once (an unterminated last event is discarded). */
export function parse(input: string | Uint8Array, options?: ParseOptions): ParseResult {
  const { maxLineLength } = checkParseOptions(options, 'parse');
  const events: ServerSentEvent[] = [];
  const comments: string[] = [];
  let retry: number | undefined;
  const parser = createReader({
    onEvent: (event) => void events.push(event),
    onRetry: (ms) => void (retry = ms),
    onComment: (text) => void comments.push(text),
    maxLineLength,
  });
  parser.feed(input);
  parser.end();
  return { events, retry, lastEventId: parser.lastEventId, comments };
}
