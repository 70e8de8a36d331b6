import { SSEStream } from './stream.js';

export { SSEStream, endAll, openStreamCount } from './stream.js';
export { serialize, prepare } from './format.js';
export { Channel } from './channel.js';
export { MemoryHistory } from './history.js';
export { createParser, parse, SSEParser } from './parser.js';
export type { ParserOptions, EventStreamParser, ParseResult, SSEParserOptions } from './parser.js';
export { corsHeaders, preflight, noContent, lastEventIdOf } from './http.js';
export { ErrorCode, SSEError, SSETypeError, SSERangeError, isSSEError } from './errors.js';
export type { ErrorCodeValue } from './errors.js';
export type {
  SSEMessage,
  SSEInput,
  PreparedEvent,
  PreparedEventOf,
  EventMap,
  EventName,
  MessageOf,
  SSEStreamOptions,
  CorsOptions,
  CorsOrigin,
  ChannelOptions,
  AddOptions,
  HistoryStore,
  HistoryResult,
  StoredEvent,
  MemoryHistoryOptions,
  EventStreamLike,
  RequestLike,
  HeaderMap,
  ServerSentEvent,
} from './types.js';
export default SSEStream;
