import { SSEStream } from './stream.js';

export { SSEStream, endAll, openStreamCount } from './stream.js';
export { serialize, dataLines, PREAMBLE, HEARTBEAT } from './format.js';
export { createParser, parse, SSEParser } from './parser.js';
export type { ParserOptions, EventStreamParser, ParseResult, SSEParserOptions } from './parser.js';
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
