// The room on Cloudflare Workers, in a Durable Object: every request for the
// room is routed to the one object that holds it, so every client meets every
// other, and the object's timers and streams outlive any single request.
import { createRoom } from './room.mjs';

export class Room {
  constructor() {
    this.room = createRoom();
  }

  fetch(request) {
    return this.room.handle(request);
  }
}

export default {
  fetch(request, env) {
    return env.ROOM.get(env.ROOM.idFromName('lobby')).fetch(request);
  },
};
