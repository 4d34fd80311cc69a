//! Echo conformance: many concurrent connections, random payloads from 1 B to 64 KiB, writes split
//! into small pieces and coalesced into large ones, a half-close at the end, every byte compared;
//! and `--bind`: a server started with `--bind 127.0.0.2` must listen there and nowhere else.

use rand::{Rng, RngCore, SeedableRng, rngs::SmallRng};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::time::Duration;

/// The address verification passes as `--bind`: a loopback address other than 127.0.0.1 (Linux
/// routes all of 127.0.0.0/8 to `lo` without any setup), so a server that ignores `--bind` or binds
/// a wildcard is still reachable on 127.0.0.1 and is caught by [`check_listens_only_on`].
pub const VERIFY_BIND: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// How long one probe connection may take; on loopback a refusal is immediate.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The `--bind` address to verify with: [`VERIFY_BIND`] where this host can listen on it, else
/// 127.0.0.1 with a note that the only-this-address check cannot run here (`Err` carries the note:
/// the caller says so in the verification summary instead of pretending it checked).
pub fn verify_bind_address() -> Result<IpAddr, (IpAddr, String)> {
    match TcpListener::bind((VERIFY_BIND, 0)) {
        Ok(_) => Ok(IpAddr::V4(VERIFY_BIND)),
        Err(e) => Err((
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            format!("--bind not checked: this host cannot listen on {VERIFY_BIND} ({e})"),
        )),
    }
}

/// Checks that a server started with `--bind requested` and reporting `port` accepts on
/// `requested:port` and on no other loopback address (127.0.0.1, ::1) at that port: an
/// implementation that binds a wildcard (0.0.0.0, or :: which also takes IPv4 on Linux) or ignores
/// `--bind` fails here with the address it was reachable on. `Err` is one line.
pub fn check_listens_only_on(requested: IpAddr, port: u16) -> Result<(), String> {
    let at = SocketAddr::new(requested, port);
    std::net::TcpStream::connect_timeout(&at, PROBE_TIMEOUT).map_err(|e| {
        format!("started with --bind {requested}, the reported port {port} refuses connections on {at}: {e}")
    })?;
    let others = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    for other in others.into_iter().filter(|o| *o != requested) {
        let probe = SocketAddr::new(other, port);
        // A refusal (or no IPv6 on this host) is what a correct server gets; only a connection counts.
        if std::net::TcpStream::connect_timeout(&probe, PROBE_TIMEOUT).is_ok() {
            return Err(format!(
                "started with --bind {requested}, it also accepts connections on {probe}: it listens \
                 on a wildcard (0.0.0.0 or ::) or ignores --bind; bind exactly the --bind address"
            ));
        }
    }
    Ok(())
}
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How hard to check.
#[derive(Debug, Clone, Copy)]
pub struct EchoCheck {
    pub connections: usize,
    pub messages_per_connection: usize,
    pub max_message_bytes: usize,
    pub timeout: Duration,
    pub seed: u64,
}

impl Default for EchoCheck {
    fn default() -> Self {
        EchoCheck {
            connections: 64,
            messages_per_connection: 12,
            max_message_bytes: 64 * 1024,
            timeout: Duration::from_secs(60),
            seed: 0x5eed,
        }
    }
}

/// Checks the echo server at `addr`; `Err` says what went wrong in one line.
pub fn check(addr: SocketAddr, cfg: EchoCheck) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let conns = (0..cfg.connections).map(|i| one_connection(addr, cfg, i));
        let all = async {
            let results = crate::join::join_all(conns).await;
            results
                .into_iter()
                .collect::<Result<Vec<()>, String>>()
                .map(|_| ())
        };
        match tokio::time::timeout(cfg.timeout, all).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "echo check did not finish within {:?} (server stalled or dropped data)",
                cfg.timeout
            )),
        }
    })
}

async fn one_connection(addr: SocketAddr, cfg: EchoCheck, index: usize) -> Result<(), String> {
    let mut rng = SmallRng::seed_from_u64(cfg.seed.wrapping_add(index as u64));
    // Sizes cover the edges (1 B, the maximum) and random sizes between.
    let mut data = Vec::new();
    for m in 0..cfg.messages_per_connection {
        let size = match (index + m) % 6 {
            0 => 1,
            1 => cfg.max_message_bytes,
            _ => rng.random_range(1..=cfg.max_message_bytes),
        };
        let start = data.len();
        data.resize(start + size, 0);
        rng.fill_bytes(&mut data[start..]);
    }
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connection {index}: connect failed: {e}"))?;
    let (mut rd, mut wr) = stream.into_split();
    let writes = {
        let data = data.clone();
        let mut rng = SmallRng::seed_from_u64(cfg.seed ^ 0xabcdef ^ index as u64);
        async move {
            let mut pos = 0;
            while pos < data.len() {
                // Alternate tiny split writes with large coalesced ones.
                let n = if rng.random_bool(0.5) {
                    rng.random_range(1..=16)
                } else {
                    rng.random_range(1..=3 * 65536)
                };
                let end = (pos + n).min(data.len());
                wr.write_all(&data[pos..end])
                    .await
                    .map_err(|e| format!("connection {index}: write failed: {e}"))?;
                if rng.random_bool(0.1) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                pos = end;
            }
            // Half-close: the server must echo everything, then close its side.
            wr.shutdown()
                .await
                .map_err(|e| format!("connection {index}: shutdown failed: {e}"))
        }
    };
    let reads = async {
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = rd.read(&mut buf).await.map_err(|e| {
                format!(
                    "connection {index}: read failed after {} of {} bytes: {e}",
                    got.len(),
                    data.len()
                )
            })?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if got.len() > data.len() {
                return Err(format!(
                    "connection {index}: received {} bytes, more than the {} sent",
                    got.len(),
                    data.len()
                ));
            }
        }
        if got.len() != data.len() {
            return Err(format!(
                "connection {index}: server closed after echoing {} of {} bytes",
                got.len(),
                data.len()
            ));
        }
        if let Some(at) = got.iter().zip(&data).position(|(a, b)| a != b) {
            return Err(format!(
                "connection {index}: byte {at} differs (sent {:#04x}, got {:#04x})",
                data[at], got[at]
            ));
        }
        Ok(())
    };
    let (w, r) = tokio::join!(writes, reads);
    w.and(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A minimal echo server on `addr` serving one connection per accept, in a thread that lives
    /// as long as the test process (the listener is leaked with it).
    fn serve(addr: SocketAddr) -> u16 {
        let listener = TcpListener::bind(addr).expect("bind");
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = conn.read(&mut buf) {
                    if conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        });
        port
    }

    #[test]
    fn a_server_on_the_bind_address_only_passes() {
        let bind = verify_bind_address().expect("127.0.0.2 is usable on Linux");
        let port = serve(SocketAddr::new(bind, 0));
        check_listens_only_on(bind, port).expect("listens on 127.0.0.2 only");
    }

    #[test]
    fn a_wildcard_listener_fails_with_the_address_it_answered_on() {
        let bind = verify_bind_address().expect("127.0.0.2 is usable on Linux");
        let port = serve(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let err = check_listens_only_on(bind, port).expect_err("a wildcard must fail");
        assert!(
            err.contains(&format!("127.0.0.1:{port}")) && err.contains("wildcard"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn a_listener_on_another_address_fails_as_refused() {
        let bind = verify_bind_address().expect("127.0.0.2 is usable on Linux");
        let port = serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let err = check_listens_only_on(bind, port).expect_err("not listening on 127.0.0.2");
        assert!(err.contains("refuses connections on 127.0.0.2"), "{err}");
    }
}
