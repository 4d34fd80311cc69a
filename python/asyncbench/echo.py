# echo: asyncio.start_server streams on 127.0.0.1, one handler task per connection.
#
# * Each handler reads up to 64 KiB with StreamReader.read and writes it back with write + await drain().
#   Backpressure is built in: drain() waits while the transport's write buffer is above its high-water
#   mark (64 KiB), and the StreamReader stops reading the socket once it buffers 2 x 64 KiB, so each
#   connection holds a bounded amount of data.
# * TCP_NODELAY is set on every accepted socket by both loops (asyncio's socket transport and uvloop's
#   TCPTransport do it by default), so nothing here sets it.
# * backlog=1024 (the stdlib default is 100): a usual value for a server expecting many concurrent
#   connects (tokio's TcpListener::bind uses 1024, Go the kernel's somaxconn, Node 511).
# * Stops on SIGTERM (loop.add_signal_handler) or stdin EOF, then exits 0. stdin is watched by one daemon
#   thread blocked in os.read (as tokio does for stdin): loop.connect_read_pipe only takes pipes/sockets,
#   and fails on /dev/null or a regular file (asyncio's epoll refuses them, uvloop/libuv aborts).
#   That thread never runs tasks, so `threads` stays 1.

import asyncio
import os
import signal
import threading

CHUNK = 64 * 1024


async def handle(reader, writer):
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the peer reset the connection: nothing left to echo
    except asyncio.CancelledError:
        pass  # shutdown; ending quietly avoids CPython 3.11.7's spurious log (gh-113538, fixed later)
    finally:
        writer.close()


def _watch_stdin(loop, stop):
    """Blocks on stdin until EOF (or an error), then asks the loop to stop."""
    try:
        while os.read(0, CHUNK):
            pass
    except OSError:
        pass  # stdin closed or unreadable: treat as EOF
    try:
        loop.call_soon_threadsafe(stop)
    except RuntimeError:
        pass  # the loop already closed (stopped by SIGTERM)


async def run(opts, ready):
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    threading.Thread(target=_watch_stdin, args=(loop, stopped.set), daemon=True).start()

    server = await asyncio.start_server(handle, "127.0.0.1", opts.port, backlog=1024)
    ready(port=server.sockets[0].getsockname()[1])
    await stopped.wait()
    server.close()  # open connections are cancelled when asyncio.Runner closes the loop
