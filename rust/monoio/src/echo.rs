//! echo: per executor one SO_REUSEPORT listener on the `--bind` address:port (default 127.0.0.1;
//! backlog 1024, monoio's default, set explicitly) and an accept loop spawning one task per
//! connection; each task echoes through one reused 64 KiB owned buffer.

use asyncbench_common::args::Echo;
use asyncbench_common::echo::{BACKLOG, BUF_BYTES};
use asyncbench_common::{future_size, output, uring};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{ListenerOpts, TcpListener, TcpStream};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;

/// Read what is there (up to BUF_BYTES), write all of it back, repeat until the peer's EOF.
async fn handle(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::with_capacity(BUF_BYTES);
    loop {
        // `read` fills the buffer from its start and sets its length to the bytes read.
        let (res, b) = stream.read(buf).await;
        if !matches!(res, Ok(n) if n > 0) {
            return;
        }
        let (res, b) = stream.write_all(b).await;
        if res.is_err() {
            return;
        }
        buf = b;
    }
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let opts = ListenerOpts::new().reuse_port(true).backlog(BACKLOG);
    TcpListener::bind_with_config(addr, &opts)
}

async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                monoio::spawn(handle(stream));
            }
            Err(e) => {
                // e.g. EMFILE: report and back off instead of spinning.
                eprintln!("accept failed: {e}");
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

pub fn run(args: &Echo, cores: usize) {
    let requested = args.addr();
    crate::runtime_or_exit().block_on(async move {
        let listener = bind(requested)
            .unwrap_or_else(|e| uring::fatal(&format!("cannot listen on {requested}: {e}")));
        let port = listener.local_addr().map_or(requested.port(), |a| a.port());
        let addr = SocketAddr::new(requested.ip(), port);
        // Executors 1..N: own thread, own runtime, own listener on the same port.
        let (tx, rx) = std::sync::mpsc::channel::<Result<(), String>>();
        for i in 1..cores {
            let tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("executor-{i}"))
                .spawn(move || {
                    let mut rt = match crate::runtime() {
                        Ok(rt) => rt,
                        Err(e) => return drop(tx.send(Err(format!("runtime: {e}")))),
                    };
                    rt.block_on(async move {
                        match bind(addr) {
                            Ok(l) => {
                                drop(tx.send(Ok(())));
                                serve(l).await
                            }
                            Err(e) => drop(tx.send(Err(format!("cannot listen on {addr}: {e}")))),
                        }
                    })
                });
            if let Err(e) = spawned {
                uring::fatal(&format!("spawning executor thread: {e}"));
            }
        }
        drop(tx);
        // Wait until every executor has bound (blocks this one only during start-up).
        uring::wait_for_executors(&rx, cores - 1);
        uring::exit_on_sigterm_or_stdin_eof();
        let extra = json!({ "port": port });
        output::ready("echo", crate::RUNTIME, cores, future_size(handle), extra);
        serve(listener).await
    });
}
