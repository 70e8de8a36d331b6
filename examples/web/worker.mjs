// The room on Cloudflare Workers, in the worker itself: every request of one
// isolate shares the module's room. Cloudflare spreads requests over many
// isolates, so clients only meet those of their own isolate: fine for a feed
// each client gets alone, not for a room (use worker-room.mjs).
import { handle } from './room.mjs';

export default { fetch: handle };
