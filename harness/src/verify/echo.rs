//! Echo conformance: many concurrent connections, random payloads from 1 B to 64 KiB, writes split
//! into small pieces and coalesced into large ones, a half-close at the end, every byte compared.

use rand::{Rng, RngCore, SeedableRng, rngs::SmallRng};
use std::net::SocketAddr;
use std::time::Duration;
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
