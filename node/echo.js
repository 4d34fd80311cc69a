'use strict';
// Workload echo: a TCP echo server on 127.0.0.1 with node:net.
//
// Each connection is echoed with socket.pipe(socket), the idiomatic Node echo: pipe() pauses the
// socket's reading whenever write() reports the outgoing buffer at or above its highWaterMark and
// resumes on 'drain'. The server's highWaterMark option sets every socket's buffers to 64 KiB (Node's
// default is 16 KiB) and libuv reads at most 64 KiB at a time, so a connection reads up to 64 KiB,
// writes it back, and stops reading while 64 KiB or more waits to be written: the 64 KiB
// per-connection bound every implementation in this project uses. When the peer ends its write side,
// pipe() ends ours after the queued bytes are written. pipe() does not forward errors, so each socket
// gets an 'error' handler that destroys it (e.g. ECONNRESET). noDelay sets TCP_NODELAY on every
// accepted socket. Listen backlog 1024 (Node's default is 511). The server exits 0 on SIGTERM or
// when stdin ends, whichever comes first.
const net = require('node:net');

const BUFFER_BYTES = 64 * 1024;
const BACKLOG = 1024;

function run(port, onReady) {
  const server = net.createServer({ noDelay: true, highWaterMark: BUFFER_BYTES }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  server.on('error', (err) => {
    process.stderr.write(`asyncbench-node: echo: ${err.message}\n`);
    if (!server.listening) process.exit(1); // cannot bind; accept errors (e.g. EMFILE) are survivable
  });
  server.listen({ port, host: '127.0.0.1', backlog: BACKLOG }, () => onReady(server.address().port));

  // Nothing is left to flush on stdout here (echo prints only its ready line, long before).
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume(); // read and discard stdin so that 'end' is seen
}

module.exports = { run };
