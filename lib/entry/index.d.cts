// Types of the CommonJS entry, matching its shape: `require('ssepipe')` is the
// SSEStream class, with every named export and `.default` on it, and
// `import SSEStream = require('ssepipe')` gives the class and its types. The
// class keeps its optional event map: `new SSEStream<{ tick: number }>(req)`.
// Every name of ./index.js is here, as a static (values) or in the namespace
// (types); spec/package.spec.ts imports each one from a .cts file.
import * as ssepipe from './index.js';

declare class SSEStream<E extends object = ssepipe.EventMap> extends ssepipe.SSEStream<E> {
  static readonly default: typeof SSEStream;
  static readonly SSEStream: typeof SSEStream;
  static readonly endAll: typeof ssepipe.endAll;
  static readonly openStreamCount: typeof ssepipe.openStreamCount;
  static readonly serialize: typeof ssepipe.serialize;
  static readonly prepare: typeof ssepipe.prepare;
  static readonly Channel: typeof ssepipe.Channel;
  static readonly MemoryHistory: typeof ssepipe.MemoryHistory;
  static readonly createParser: typeof ssepipe.createParser;
  static readonly parse: typeof ssepipe.parse;
  static readonly SSEParser: typeof ssepipe.SSEParser;
  static readonly corsHeaders: typeof ssepipe.corsHeaders;
  static readonly preflight: typeof ssepipe.preflight;
  static readonly noContent: typeof ssepipe.noContent;
  static readonly lastEventIdOf: typeof ssepipe.lastEventIdOf;
  static readonly ErrorCode: typeof ssepipe.ErrorCode;
  static readonly SSEError: typeof ssepipe.SSEError;
  static readonly SSETypeError: typeof ssepipe.SSETypeError;
  static readonly SSERangeError: typeof ssepipe.SSERangeError;
  static readonly isSSEError: typeof ssepipe.isSSEError;
}

declare namespace SSEStream {
  // The class's type under its named-export spelling too: `import { SSEStream } from
  // 'ssepipe'` in a .cts file (or with node10 resolution) and `import('ssepipe').SSEStream`
  // in a checked .cjs file are the class, as type and as value.
  export type SSEStream<E extends object = ssepipe.EventMap> = ssepipe.SSEStream<E>;
  export type Channel<E extends object = ssepipe.EventMap> = ssepipe.Channel<E>;
  export type MemoryHistory = ssepipe.MemoryHistory;
  export type SSEParser = ssepipe.SSEParser;
  export type SSEError = ssepipe.SSEError;
  export type SSETypeError = ssepipe.SSETypeError;
  export type SSERangeError = ssepipe.SSERangeError;
  export type ErrorCodeValue = ssepipe.ErrorCodeValue;
  export type SSEMessage = ssepipe.SSEMessage;
  export type SSEInput = ssepipe.SSEInput;
  export type PreparedEvent<E extends object = ssepipe.EventMap> = ssepipe.PreparedEvent<E>;
  export type PreparedEventOf<Type extends string, Message> = ssepipe.PreparedEventOf<Type, Message>;
  export type EventMap = ssepipe.EventMap;
  export type EventName<E extends object = ssepipe.EventMap> = ssepipe.EventName<E>;
  export type MessageOf<E extends object = ssepipe.EventMap> = ssepipe.MessageOf<E>;
  export type SSEStreamOptions = ssepipe.SSEStreamOptions;
  export type CompressOptions = ssepipe.CompressOptions;
  export type ContentEncoding = ssepipe.ContentEncoding;
  export type CorsOptions = ssepipe.CorsOptions;
  export type CorsOrigin = ssepipe.CorsOrigin;
  export type ChannelOptions = ssepipe.ChannelOptions;
  export type AddOptions<E extends object = ssepipe.EventMap> = ssepipe.AddOptions<E>;
  export type HistoryStore = ssepipe.HistoryStore;
  export type HistoryResult = ssepipe.HistoryResult;
  export type Broker = ssepipe.Broker;
  export type BrokerFeed = ssepipe.BrokerFeed;
  export type BrokerTopic = ssepipe.BrokerTopic;
  export type StoredEvent = ssepipe.StoredEvent;
  export type MemoryHistoryOptions = ssepipe.MemoryHistoryOptions;
  export type EventStreamLike<E extends object = ssepipe.EventMap> = ssepipe.EventStreamLike<E>;
  export type RequestLike = ssepipe.RequestLike;
  export type HeaderMap = ssepipe.HeaderMap;
  export type ServerSentEvent = ssepipe.ServerSentEvent;
  export type ParserOptions = ssepipe.ParserOptions;
  export type EventStreamParser = ssepipe.EventStreamParser;
  export type ParseOptions = ssepipe.ParseOptions;
  export type ParseResult = ssepipe.ParseResult;
  export type SSEParserOptions = ssepipe.SSEParserOptions;
}

export = SSEStream;
