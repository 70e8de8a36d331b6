// Preloaded (`node --import`) into an example that a test runs as printed: the
// port it listens on (8080, 3000, ...) becomes port 0 on 127.0.0.1, so that it
// never collides with anything, and the port it got goes to the test over IPC.
import net from 'node:net';

process.channel?.unref(); // the IPC channel must not keep the example alive

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => process.send?.({ port: this.address().port }));
  const callback = args.find((a) => typeof a === 'function');
  return callback === undefined ? listen.call(this, 0, '127.0.0.1') : listen.call(this, 0, '127.0.0.1', callback);
};
