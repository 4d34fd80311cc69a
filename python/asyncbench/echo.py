# echo on the --bind address (default 127.0.0.1, never a wildcard) in one of two asyncio idioms, chosen by
# ASYNCBENCH_ECHO_API (set by the manifest):
#
# * `protocol` (python-asyncio, python-uvloop): loop.create_server with an asyncio.Protocol, the API
#   asyncio's transports are built on and the one uvloop's own benchmarks (MagicStack/vmbench) measure.
#   data_received hands each chunk straight to transport.write; there is no task per connection and no
#   await per message. Backpressure: the transport calls pause_writing once more than 64 KiB waits to be
#   sent (set_write_buffer_limits(high=64 KiB, low=16 KiB), both loops' defaults, set explicitly) and the
#   protocol then stops reading (pause_reading) until resume_writing. On EOF, eof_received returns None,
#   so the transport closes itself after flushing what is left to write.
# * `streams` (python-asyncio-streams, python-uvloop-streams): asyncio.start_server, one handler task per
#   connection reading up to 64 KiB with StreamReader.read and writing it back with write + await drain().
#   drain() waits while the write buffer is above 64 KiB; the StreamReader stops reading the socket once
#   it buffers 2 x 64 KiB.
# * The 64 KiB per-connection buffer of the other languages maps to the 64 KiB write high-water mark: the
#   read size itself is the transport's (asyncio recv()s up to 256 KiB, uvloop reads into a 256 kB
#   buffer; no public setting changes either), so a connection holds at most 64 KiB queued plus one read.
# * TCP_NODELAY is set on every accepted socket by both loops (asyncio's socket transport and uvloop's
#   TCPTransport do it by default), so nothing here sets it.
# * backlog=1024 (the stdlib default is 100), the backlog every implementation in this project uses.
# * Stops on SIGTERM (loop.add_signal_handler) or stdin EOF, then exits 0. stdin is watched by one daemon
#   thread blocked in os.read (as tokio does for stdin): loop.connect_read_pipe only takes pipes/sockets,
#   and fails on /dev/null or a regular file (asyncio's epoll refuses them, uvloop/libuv aborts).
#   That thread never runs tasks, so `threads` stays 1.

import asyncio
import ipaddress
import os
import signal
import sys
import threading

CHUNK = 64 * 1024
BACKLOG = 1024
APIS = ("protocol", "streams")


def parse_bind(text):
    """Checks --bind (docs/PROTOCOL.md, echo) and returns it; raises ValueError with the one-line message.

    An IPv4 dotted quad or an IPv6 literal without brackets or zone, never a host name (no resolver is
    involved) and never an unspecified address (0.0.0.0, ::, ::ffff:0.0.0.0: every interface).
    """
    try:
        ip = ipaddress.ip_address(text)  # strict: no "127.1", no leading zeros, no brackets
    except ValueError:
        ip = None
    if ip is None or "%" in text:
        raise ValueError(
            f"bad value {text!r} for --bind (expected an IPv4 or IPv6 address literal such as 127.0.0.1 or ::1,"
            " no brackets, no host name)"
        )
    if ip.is_unspecified or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_unspecified):
        raise ValueError(
            f"--bind {text} is a wildcard (every interface); give the one address the clients reach, e.g. 127.0.0.1"
        )
    return text


class EchoProtocol(asyncio.Protocol):
    """Writes every received chunk back; stops reading while the write buffer is above 64 KiB."""

    __slots__ = ("transport",)

    def connection_made(self, transport):
        self.transport = transport
        transport.set_write_buffer_limits(high=CHUNK, low=CHUNK // 4)

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()

    def eof_received(self):
        return None  # a false value: the transport closes itself once its write buffer is flushed


async def handle(reader, writer):
    """The Streams API echo: one task per connection."""
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


async def start(api, host, port):
    """Binds host:port (host from parse_bind) with the chosen API and returns the asyncio.Server."""
    if api == "protocol":
        loop = asyncio.get_running_loop()
        return await loop.create_server(EchoProtocol, host, port, backlog=BACKLOG)
    return await asyncio.start_server(handle, host, port, backlog=BACKLOG)


async def run(opts, ready):
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    threading.Thread(target=_watch_stdin, args=(loop, stopped.set), daemon=True).start()

    try:
        server = await start(opts.echo_api, opts.bind, opts.port)
    except OSError as e:  # e.g. a --bind address this host does not have: one line, exit 1
        print(f"asyncbench-python: echo: cannot listen on {opts.bind} port {opts.port}: {e}", file=sys.stderr)
        sys.exit(1)
    ready(port=server.sockets[0].getsockname()[1], echo_api=opts.echo_api)
    await stopped.wait()
    server.close()  # open connections are closed when asyncio.Runner closes the loop
