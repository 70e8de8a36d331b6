// Types of the ESM entry of `ssepipe/web`: the named exports of ./web.js.
export * from './web.js';
