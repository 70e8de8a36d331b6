// Types of the ESM entry: the named exports and the default export of ./index.js.
export * from './index.js';
export { SSEStream as default } from './index.js';
