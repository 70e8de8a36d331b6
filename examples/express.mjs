import express from 'express';
import SSEStream from 'ssepipe'; // was: import SSEStream from 'ssestream'

const app = express();

app.get('/sse', (req, res) => {
  res.setHeader('Access-Control-Allow-Origin', '*');

  const stream = new SSEStream(req);
  stream.pipe(res);

  const timer = setInterval(() => {
    stream.write({
      data: Date.now().toString(),
    });
  }, 100);
  stream.on('disconnect', () => clearInterval(timer)); // new: stop once the client left
});

app.listen(8080);
