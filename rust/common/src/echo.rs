//! The echo server's shared choices: the listen backlog, the per-connection buffer, and a
//! listener on the `--bind` address with that backlog for runtimes whose own `bind` cannot set it.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Socket, Type};

/// Listen backlog of every echo server (docs/PROTOCOL.md, echo "Backlog"): the full suite opens up
/// to 1024 connections in one burst. std's, mio's (so tokio's) and async-io's `bind` all use 128;
/// monoio's default and glommio's fixed value are 1024. The kernel caps it at `net.core.somaxconn`.
pub const BACKLOG: i32 = 1024;

/// Per-connection buffer of every echo server: read up to 64 KiB, write all of it back, repeat.
/// The same size in every language, so a 64 KiB message costs one read and one write everywhere.
pub const BUF_BYTES: usize = 64 * 1024;

/// A blocking std listener on `addr` (the `--bind` address and `--port`, see
/// [`crate::args::Echo::addr`]) with [`BACKLOG`], set up as std's `bind` does it (SO_REUSEADDR,
/// close-on-exec) but for the backlog; wrap it in the runtime's listener type (`from_std`,
/// `TryFrom`), which switches it to non-blocking.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let listen = || -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(BACKLOG)?;
        Ok(socket.into())
    };
    listen().map_err(|e| cannot_listen(addr, e))
}

/// `e` with the address in its message ("cannot listen on 10.1.2.3:0: Cannot assign requested
/// address"): a `--bind` address this host does not have is the likeliest cause, and the one-line
/// error the harness records should say which address it was.
pub fn cannot_listen(addr: SocketAddr, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::{Ipv4Addr, TcpStream};

    #[test]
    fn listens_on_loopback_and_accepts() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        let _client = TcpStream::connect(addr).expect("connect");
        listener.accept().expect("accept");
    }

    /// Bound to 127.0.0.2, the listener is not reachable on 127.0.0.1 (what `verify` checks).
    #[test]
    fn listens_on_the_bind_address_only() {
        let listener = listen("127.0.0.2:0".parse().unwrap()).expect("bind 127.0.0.2:0");
        let addr = listener.local_addr().unwrap();
        assert_eq!(addr.ip(), Ipv4Addr::new(127, 0, 0, 2));
        let _client = TcpStream::connect(addr).expect("connect to 127.0.0.2");
        listener.accept().expect("accept");
        let other = SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()));
        assert!(TcpStream::connect(other).is_err(), "reachable on {other}");
    }

    #[test]
    fn listens_on_ipv6_loopback() {
        let Ok(listener) = listen("[::1]:0".parse().unwrap()) else {
            eprintln!("NOTE: no IPv6 loopback here; skipping");
            return;
        };
        let addr = listener.local_addr().unwrap();
        assert!(addr.is_ipv6() && addr.ip().is_loopback());
        let _client = TcpStream::connect(addr).expect("connect to [::1]");
        listener.accept().expect("accept");
    }
}
