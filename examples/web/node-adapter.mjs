// Serving a fetch handler, `(request) => Response`, on node:http: what Next.js's
// server (or @hono/node-server) does for a route handler. The tests run the
// room this way on Node 18, 20, 22, 24 and 26. On Node you can also skip the
// adapter and use `new SSEStream(req).pipe(res)` from 'ssepipe'.

/** A node:http request listener that answers with `handler(request)`. */
export function toNodeListener(handler) {
  return async (req, res) => {
    // The request's signal aborts when the client leaves before the response finished.
    const left = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) left.abort();
    });
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    const init = { method: req.method, headers, signal: left.signal };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      init.body = Buffer.concat(chunks);
    }
    let response;
    try {
      response = await handler(new Request(`http://${req.headers.host ?? 'localhost'}${req.url}`, init));
    } catch (err) {
      console.error(err);
      res.writeHead(500).end();
      return;
    }
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body === null) {
      res.end();
      return;
    }
    // Read the body only as fast as the client takes it (its backpressure reaches
    // the stream), and cancel it when the client leaves.
    const reader = response.body.getReader();
    res.on('close', () => reader.cancel().catch(() => {}));
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!res.write(value)) await drained(res);
      }
      res.end();
    } catch {
      res.destroy();
    }
  };
}

function drained(res) {
  return new Promise((resolve) => {
    const go = () => {
      res.off('drain', go);
      res.off('close', go);
      resolve();
    };
    res.on('drain', go);
    res.on('close', go);
  });
}
