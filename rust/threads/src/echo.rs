//! echo: the main thread accepts on the `--bind` address (default 127.0.0.1; backlog 1024), one
//! thread per connection.
//!
//! Each connection thread reads into its own 64 KiB heap buffer (allocated once, reused) with a
//! blocking `read` and `write_all`s what it read before reading again: the bounded buffer is the
//! backpressure. TCP_NODELAY is set on every accepted socket. If a connection's thread cannot be
//! spawned (an OS limit), that connection is closed and the server keeps serving.
//! Stops on SIGTERM or stdin EOF: two watcher threads call `exit(0)`.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

use asyncbench_common::args::Echo;
use asyncbench_common::echo::{BUF_BYTES, listen};
use asyncbench_common::{exit_on_sigterm_or_stdin_eof, output};
use serde_json::json;

use crate::{RUNTIME, STACK_BYTES};

pub fn run(args: &Echo) -> io::Result<()> {
    exit_on_sigterm_or_stdin_eof();
    let listener = listen(args.addr())?;
    let port = listener.local_addr()?.port();
    let extra = json!({ "port": port, "stack_bytes": STACK_BYTES });
    output::ready_without_futures("echo", RUNTIME, 1, extra);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                let spawned = thread::Builder::new()
                    .stack_size(STACK_BYTES)
                    .spawn(move || handle(stream));
                if let Err(e) = spawned {
                    eprintln!("cannot spawn a connection thread: {e}");
                }
            }
            Err(e) => {
                // e.g. EMFILE: report, back off briefly, keep serving.
                eprintln!("accept: {e}");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// One connection's thread.
fn handle(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; BUF_BYTES];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return, // peer closed its write side (or reset): close ours
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}
