import { SSEStream } from './stream.js';

export { SSEStream, endAll, openStreamCount } from './stream.js';
export { serialize, prepare } from './format.js';
export { Channel } from './channel.js';
export { MemoryHistory } from './history.js';
export { createParser, parse } from './parser.js';
export type { ParserOptions, EventStreamParser, ParseOptions, ParseResult } from './parser.js';
export { SSEParser } from './parser-stream.js';
export type { SSEParserOptions } from './parser-stream.js';
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
  CompressOptions,
  ContentEncoding,
  CorsOptions,
  CorsOrigin,
  ChannelOptions,
  AddOptions,
  HistoryStore,
  HistoryResult,
  Broker,
  BrokerFeed,
  BrokerTopic,
  StoredEvent,
  MemoryHistoryOptions,
  EventStreamLike,
  RequestLike,
  HeaderMap,
  ServerSentEvent,
} from './types.js';
export default SSEStream;
