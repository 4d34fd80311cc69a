'use strict';
// Workload echo: a TCP echo server on 127.0.0.1 with node:net.
//
// Each connection is echoed with socket.pipe(socket), the idiomatic Node echo: pipe() pauses the
// socket's reading whenever write() reports the outgoing buffer above its highWaterMark (16 KiB by
// default) and resumes on 'drain', so at most one read chunk (libuv reads up to 64 KiB at a time)
// plus ~16 KiB is held per connection: that is the backpressure bound. When the peer ends its write
// side, pipe() ends ours after the queued bytes are written. pipe() does not forward errors, so each
// socket gets an 'error' handler that destroys it (e.g. ECONNRESET). noDelay sets TCP_NODELAY on every
// accepted socket. The server exits 0 on SIGTERM or when stdin ends, whichever comes first.
const net = require('node:net');

function run(port, onReady) {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  server.on('error', (err) => {
    process.stderr.write(`asyncbench-node: echo: ${err.message}\n`);
    if (!server.listening) process.exit(1); // cannot bind; accept errors (e.g. EMFILE) are survivable
  });
  server.listen(port, '127.0.0.1', () => onReady(server.address().port));

  // Nothing is left to flush on stdout here (echo prints only its ready line, long before).
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume(); // read and discard stdin so that 'end' is seen
}

module.exports = { run };
