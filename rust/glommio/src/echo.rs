//! echo: per executor one glommio TcpListener (SO_REUSEPORT; glommio always listens with a backlog of
//! 1024, the protocol's, and has no setting for it) on the `--bind` address:port (default 127.0.0.1)
//! and an accept loop spawning one task per connection; each task echoes through one reused 64 KiB
//! buffer.

use asyncbench_common::args::Echo;
use asyncbench_common::echo::BUF_BYTES;
use asyncbench_common::{future_size, output, uring};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::net::{TcpListener, TcpStream};
use std::net::SocketAddr;
use std::time::Duration;

/// Read what is there (up to BUF_BYTES), write all of it back, repeat until the peer's EOF.
async fn handle(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; BUF_BYTES];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))
}

async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok(stream) => {
                glommio::spawn_local(handle(stream)).detach();
            }
            Err(e) => {
                // e.g. EMFILE: report and back off instead of spinning.
                eprintln!("accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

pub fn run(args: &Echo, cores: usize) {
    let requested = args.addr();
    crate::executor_or_exit().run(async move {
        let listener = bind(requested).unwrap_or_else(|m| uring::fatal(&m));
        let port = listener.local_addr().map_or(requested.port(), |a| a.port());
        let addr = SocketAddr::new(requested.ip(), port);
        // Executors 1..N: own thread, own executor, own listener on the same port.
        let (tx, rx) = std::sync::mpsc::channel::<Result<(), String>>();
        for i in 1..cores {
            let tx = tx.clone();
            let spawned = crate::builder(&format!("asyncbench-{i}")).spawn(move || async move {
                match bind(addr) {
                    Ok(l) => {
                        drop(tx.send(Ok(())));
                        serve(l).await
                    }
                    Err(m) => drop(tx.send(Err(m))),
                }
            });
            if let Err(e) = spawned {
                uring::fatal(&crate::setup_failed(&e));
            }
        }
        drop(tx);
        // Wait until every executor has bound (blocks this one only during start-up).
        uring::wait_for_executors(&rx, cores - 1);
        uring::exit_on_sigterm_or_stdin_eof();
        let mut extra = crate::ready_extra(cores);
        extra["port"] = port.into();
        output::ready("echo", crate::RUNTIME, cores, future_size(handle), extra);
        serve(listener).await
    });
}
