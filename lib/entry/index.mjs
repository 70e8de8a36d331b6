// ESM entry: a wrapper over the one CommonJS build (as `ws` does), so that
// `import` and `require` in one process share every class, the open-stream
// registry of endAll(), and instanceof. spec/package.spec.ts checks that this
// list matches the CommonJS exports.
import ssepipe from './index.cjs';

export const {
  SSEStream,
  endAll,
  openStreamCount,
  serialize,
  prepare,
  Channel,
  MemoryHistory,
  createParser,
  parse,
  SSEParser,
  corsHeaders,
  preflight,
  noContent,
  lastEventIdOf,
  ErrorCode,
  SSEError,
  SSETypeError,
  SSERangeError,
  isSSEError,
} = ssepipe;
export default SSEStream;
