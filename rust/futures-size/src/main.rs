//! `rust-futures futures`: a catalogue of async state-machine sizes (docs/PROTOCOL.md, workload `futures`).
//!
//! Nothing is benchmarked and no runtime is started (threads = 1): each catalogue entry constructs a
//! future and records `std::mem::size_of_val` of it (see `catalogue.rs`). Sizes are decided by rustc, so
//! the `ready` line reports the compiler version (captured by build.rs) and the build profile, because
//! debug and release layouts can differ and tokio's auto-box threshold differs between them.
//! Each entry is flagged against clippy's `large_futures` threshold and tokio's spawn auto-box threshold.

mod catalogue;

use serde_json::json;
use std::io::Write;

const RUSTC_VERSION: &str = env!("ASYNCBENCH_RUSTC_VERSION");
const TOKIO_VERSION: &str = env!("ASYNCBENCH_TOKIO_VERSION");

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [w] if w == "futures" => {}
        [w, flag, ..] if w == "futures" => {
            usage(&format!("unknown flag {flag:?} (futures takes none)"))
        }
        [w, ..] => usage(&format!("unknown workload {w:?} (only \"futures\")")),
        [] => usage("missing workload (only \"futures\")"),
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let mut out = std::io::stdout().lock();
    let ready = json!({
        "event": "ready", "workload": "futures", "runtime": RUSTC_VERSION, "threads": 1,
        "profile": profile, "opt_level": env!("ASYNCBENCH_OPT_LEVEL"),
    });
    writeln!(out, "{ready}")
        .and_then(|()| out.flush())
        .expect("stdout");

    let entries: Vec<_> = catalogue::catalogue()
        .into_iter()
        .map(|e| {
            json!({"pattern": e.pattern, "runtime": e.runtime, "bytes": e.bytes,
                   "description": e.description, "flags": e.flags()})
        })
        .collect();
    let thresholds = json!({
        "above_clippy_large_futures": {
            "bytes": catalogue::CLIPPY_LARGE_FUTURES,
            "rule": "bytes >= threshold",
            "source": "clippy lint large_futures (pedantic), configuration future-size-threshold, \
                       default 16384: https://rust-lang.github.io/rust-clippy/master/index.html#large_futures",
        },
        "above_tokio_auto_box": {
            "bytes": catalogue::TOKIO_AUTO_BOX,
            "bytes_debug": catalogue::TOKIO_AUTO_BOX_DEBUG,
            "bytes_release": catalogue::TOKIO_AUTO_BOX_RELEASE,
            "profile": profile,
            "rule": "bytes > threshold",
            "source": format!("tokio {TOKIO_VERSION} src/runtime/mod.rs BOX_FUTURE_THRESHOLD \
                       (2048 if cfg!(debug_assertions) else 16384), applied as AutoBox::<F>::SHOULD_BOX \
                       = size_of::<F>() > BOX_FUTURE_THRESHOLD by task::spawn, Runtime::block_on, \
                       Handle::spawn, LocalSet and task::Builder"),
        },
    });
    let result = json!({"event": "result", "workload": "futures", "entries": entries, "thresholds": thresholds});
    writeln!(out, "{result}")
        .and_then(|()| out.flush())
        .expect("stdout");
}

fn usage(msg: &str) -> ! {
    eprintln!("rust-futures: {msg}; usage: rust-futures futures");
    std::process::exit(2);
}
