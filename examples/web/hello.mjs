import { Channel, sseResponse } from 'ssepipe/web';

const room = new Channel({ history: 100 }); // Node streams and web streams can share one

export function GET(request) {
  return sseResponse(request, (stream) => {
    stream.write({ event: 'hello', data: { at: Date.now() } });
    room.add(stream);
  }, { heartbeat: 5_000, retry: 1000, maxDuration: 25_000, cors: { origin: 'https://app.example' } });
}
