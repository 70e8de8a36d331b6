import { SSEStream } from './stream.js';

export { SSEStream, endAll, openStreamCount } from './stream.js';
export { serialize, dataLines, PREAMBLE, HEARTBEAT } from './format.js';
export { Channel } from './channel.js';
export type { ChannelOptions, AddOptions } from './channel.js';
export { MemoryHistory } from './history.js';
export type { ChannelEvent, StoredEvent, HistoryStore, HistoryResult, MemoryHistoryOptions } from './history.js';
export { createParser, parse } from './parser.js';
export type { ParserOptions, EventStreamParser, ParseOptions, ParseResult } from './parser.js';
export { SSEParser } from './parser-stream.js';
export type { SSEParserOptions } from './parser-stream.js';
export { corsHeaders, preflight, noContent, lastEventIdOf, streamHeaders } from './http.js';
export { ErrorCode, SSEError, SSETypeError, SSERangeError, isSSEError } from './errors.js';
export type { ErrorCodeValue } from './errors.js';
export type {
  SSEMessage,
  SSEInput,
  SSEStreamOptions,
  CorsOptions,
  CorsOrigin,
  RequestLike,
  ServerSentEvent,
} from './types.js';
export default SSEStream;
