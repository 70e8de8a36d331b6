'use strict';
// CommonJS entry. `require('ssepipe')` hands back the SSEStream class itself,
// with every named export on it and `.default` pointing back to it, so
// `require(pkg)`, `require(pkg).default` (what ssestream's users write: its
// require() gives `{ default }`) and `const { SSEStream, Channel } = require(pkg)`
// all work. tsc cannot emit this shape. `import` gets the same objects through
// ./index.mjs: one copy of the code in a process, whichever way it is loaded.
const lib = require('./index.js');
const SSEStream = lib.SSEStream;
for (const key of Object.keys(lib)) {
  if (key !== 'default' && !Object.prototype.hasOwnProperty.call(SSEStream, key)) {
    Object.defineProperty(SSEStream, key, { value: lib[key], enumerable: true });
  }
}
Object.defineProperty(SSEStream, 'default', { value: SSEStream, enumerable: false });
Object.defineProperty(SSEStream, '__esModule', { value: true, enumerable: false });
module.exports = SSEStream;
