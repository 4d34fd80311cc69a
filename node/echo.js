'use strict';
// Workload echo: a TCP echo server on the --bind address (default 127.0.0.1) with node:net.
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

// The unspecified addresses; a BlockList also matches their IPv4-mapped form (::ffff:0.0.0.0).
const WILDCARDS = new net.BlockList();
WILDCARDS.addAddress('0.0.0.0', 'ipv4');
WILDCARDS.addAddress('::', 'ipv6');

// Checks --bind (docs/PROTOCOL.md, echo): an IPv4 dotted quad or an IPv6 literal without brackets or
// zone, never a host name and never an unspecified address, which would listen on every interface.
// Returns the address or throws an Error whose message is the one-line usage error.
function parseBind(text) {
  const family = net.isIP(text); // strict: no "127.1", no leading zeros, no brackets
  if (family === 0 || text.includes('%')) {
    throw new Error(`bad value '${text}' for --bind (expected an IPv4 or IPv6 address literal such as `
      + '127.0.0.1 or ::1, no brackets, no host name)');
  }
  if (WILDCARDS.check(text, family === 4 ? 'ipv4' : 'ipv6')) {
    throw new Error(`--bind ${text} is a wildcard (every interface); give the one address the clients `
      + 'reach, e.g. 127.0.0.1');
  }
  return text;
}

// Listens on host:port (host from parseBind) and calls onReady with the port actually bound.
function run(host, port, onReady) {
  const server = net.createServer({ noDelay: true, highWaterMark: BUFFER_BYTES }, (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  server.on('error', (err) => {
    process.stderr.write(`asyncbench-node: echo: ${err.message}\n`);
    if (!server.listening) process.exit(1); // cannot bind; accept errors (e.g. EMFILE) are survivable
  });
  server.listen({ port, host, backlog: BACKLOG }, () => onReady(server.address().port));

  // Nothing is left to flush on stdout here (echo prints only its ready line, long before).
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume(); // read and discard stdin so that 'end' is seen
}

module.exports = { run, parseBind };
