// Types of the ESM entry of `ssepipe/redis`.
export { RedisBroker } from './redis.js';
export type { RedisBrokerOptions } from './redis.js';
