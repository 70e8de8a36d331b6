// ESM entry of `ssepipe/web`: a wrapper over the one CommonJS build, like
// ./index.mjs, so that `import` and `require` share every class (a Channel from
// 'ssepipe' takes a stream from 'ssepipe/web'). spec/package.spec.ts checks that
// this list matches the CommonJS exports.
import web from './web.js';

export const {
  sseResponse,
  WebSSEStream,
  Channel,
  MemoryHistory,
  serialize,
  prepare,
  ErrorCode,
  SSEError,
  SSETypeError,
  SSERangeError,
  isSSEError,
} = web;
