//! The echo server's shared choices: the listen backlog, the per-connection buffer, and a
//! loopback listener with that backlog for runtimes whose own `bind` cannot set it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

/// Listen backlog of every echo server (docs/PROTOCOL.md, echo "Backlog"): the full suite opens up
/// to 1024 connections in one burst. std's, mio's (so tokio's) and async-io's `bind` all use 128;
/// monoio's default and glommio's fixed value are 1024. The kernel caps it at `net.core.somaxconn`.
pub const BACKLOG: i32 = 1024;

/// Per-connection buffer of every echo server: read up to 64 KiB, write all of it back, repeat.
/// The same size in every language, so a 64 KiB message costs one read and one write everywhere.
pub const BUF_BYTES: usize = 64 * 1024;

/// A blocking std listener on 127.0.0.1:`port` with [`BACKLOG`], set up as std's `bind` does it
/// (SO_REUSEADDR, close-on-exec) but for the backlog; wrap it in the runtime's listener type
/// (`from_std`, `TryFrom`), which switches it to non-blocking.
pub fn listen(port: u16) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_loopback_and_accepts() {
        let listener = listen(0).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        let _client = std::net::TcpStream::connect(addr).expect("connect");
        listener.accept().expect("accept");
    }
}
