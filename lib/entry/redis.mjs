// ESM entry of `ssepipe/redis`: a wrapper over the one CommonJS build, so that
// `import` and `require` share the broker and the classes it builds events with.
import redis from './redis.js';

export const { RedisBroker } = redis;
