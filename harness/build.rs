//! Builds `launcher/launcher.c`, the tiny program that starts measured programs so their `ru_maxrss`
//! is their own (see `src/process/child.rs`), and exposes its path as `ASYNCBENCH_LAUNCHER`. Linked
//! statically when the C library allows it (smallest RSS), dynamically otherwise. Without a working C
//! compiler `ASYNCBENCH_LAUNCHER` is empty and the harness starts programs directly (peak memory is
//! then sampled from `/proc`, which can miss the peak of very short-lived programs).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let source = Path::new("launcher/launcher.c");
    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-env-changed=CC");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("asyncbench-launcher");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let base = ["-std=c99", "-O2", "-Wall", "-Wextra", "-o"];
    let mut errors = Vec::new();
    for link in [&["-static"][..], &[][..]] {
        let result = Command::new(&cc)
            .args(link)
            .args(base)
            .arg(&out)
            .arg(source)
            .output();
        match result {
            Ok(o) if o.status.success() => {
                println!("cargo:rustc-env=ASYNCBENCH_LAUNCHER={}", out.display());
                return;
            }
            Ok(o) => errors.push(format!(
                "`{cc} {}` failed: {}",
                link.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => {
                errors.push(format!("cannot run `{cc}`: {e}"));
                break;
            }
        }
    }
    println!(
        "cargo:warning=could not build the asyncbench launcher ({}); measured programs will be started \
         directly and their peak RSS sampled from /proc (may miss the peak of programs that live < 20 ms)",
        errors.join("; ").replace('\n', " ")
    );
    println!("cargo:rustc-env=ASYNCBENCH_LAUNCHER=");
}
