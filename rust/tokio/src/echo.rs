//! echo: accept on the `--bind` address (default 127.0.0.1), one spawned task per connection.
//!
//! The listener is a `TcpSocket` with `listen(1024)` (`TcpListener::bind` uses mio's 128; the
//! protocol's backlog is 1024 everywhere). Each connection reads into its own 64 KiB heap buffer
//! (allocated once, reused; the size every implementation uses, and a Vec so it stays out of the
//! task's future) and `write_all`s what it read before reading again: the bounded buffer is the
//! backpressure, and since echo is strictly read-then-write, split halves or a second task would
//! add nothing. This is tokio's README echo server (there with a 1 KiB stack buffer); `io::copy`
//! would use a fixed 8 KiB buffer. TCP_NODELAY is set on every accepted socket.
//! Stops on SIGTERM (`tokio::signal`) or stdin EOF (a plain thread), whichever comes first.

use std::io;
use std::time::Duration;

use asyncbench_common::echo::{BACKLOG, BUF_BYTES, cannot_listen};
use asyncbench_common::{args::Echo, future_size, on_stdin_eof, output};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

use crate::Rt;

pub async fn run(args: &Echo, rt: &Rt) -> io::Result<()> {
    let mut sigterm = signal(SignalKind::terminate())?;
    let (eof_tx, eof_rx) = oneshot::channel();
    on_stdin_eof(move || {
        let _ = eof_tx.send(());
    });
    let addr = args.addr();
    let listen = || -> io::Result<TcpListener> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?; // as `TcpListener::bind` does
        socket.bind(addr)?;
        socket.listen(BACKLOG as u32)
    };
    let listener = listen().map_err(|e| cannot_listen(addr, e))?;
    let port = listener.local_addr()?.port();
    output::ready(
        "echo",
        &rt.label,
        rt.threads,
        future_size(handle),
        json!({ "port": port }),
    );
    tokio::select! {
        () = accept_loop(listener) => {}
        _ = sigterm.recv() => {}
        _ = eof_rx => {}
    }
    Ok(())
}

async fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => drop(tokio::spawn(handle(stream))),
            Err(e) => {
                // e.g. EMFILE: report, back off briefly, keep serving.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// The per-connection task (its size is the reported `future_bytes`).
async fn handle(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; BUF_BYTES];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return, // peer closed its write side (or reset): close ours
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
