// The room on plain Node (18 or later) through the fetch adapter: node examples/web/node.mjs
import { createServer } from 'node:http';
import { toNodeListener } from './node-adapter.mjs';
import { handle } from './room.mjs';

const server = createServer(toNodeListener(handle));
server.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/events`);
});
