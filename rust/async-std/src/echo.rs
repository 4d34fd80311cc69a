//! echo: accept on the `--bind` address (default 127.0.0.1), one spawned task per connection.
//!
//! The listener comes from `asyncbench_common::echo::listen` (backlog 1024; `TcpListener::bind`
//! would listen with std's 128 and offers no way to change it), converted with `TryFrom`. Each
//! connection reads into its own 64 KiB heap buffer (allocated once, reused; the size every
//! implementation uses, and a Vec so it stays out of the task's future) and `write_all`s what it
//! read before reading again: the bounded buffer is the backpressure, and since echo is strictly
//! read-then-write, split halves or a second task would add nothing.
//! `io::copy` would use a fixed 8 KiB buffer. TCP_NODELAY is set on every accepted socket.
//! Stops on SIGTERM (`async-signal`) or stdin EOF (a plain thread), whichever comes first.

use std::io;
use std::time::Duration;

use async_signal::{Signal, Signals};
use async_std::io::{ReadExt, WriteExt};
use async_std::net::{TcpListener, TcpStream};
use async_std::task;
use asyncbench_common::echo::{BUF_BYTES, listen};
use asyncbench_common::{args::Echo, future_size, on_stdin_eof, output};
use futures_lite::{StreamExt, future};
use serde_json::json;

use crate::Rt;

pub async fn run(args: &Echo, rt: &Rt) -> io::Result<()> {
    let mut sigterm = Signals::new([Signal::Term])?;
    let (eof_tx, eof_rx) = async_channel::bounded::<()>(1);
    on_stdin_eof(move || drop(eof_tx)); // closing the channel wakes the receiver
    let listener = TcpListener::from(listen(args.addr())?);
    let port = listener.local_addr()?.port();
    output::ready(
        "echo",
        &rt.label,
        rt.threads,
        future_size(handle),
        json!({ "port": port }),
    );
    let stop = future::or(
        async {
            sigterm.next().await;
        },
        async {
            let _ = eof_rx.recv().await;
        },
    );
    future::or(accept_loop(listener), stop).await;
    Ok(())
}

async fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => drop(task::spawn(handle(stream))), // dropping the handle detaches
            Err(e) => {
                // e.g. EMFILE: report, back off briefly, keep serving.
                eprintln!("accept: {e}");
                task::sleep(Duration::from_millis(10)).await;
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
