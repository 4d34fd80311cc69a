//! Records the resolved versions of the runtime crates (from the workspace Cargo.lock) so that the
//! `ready` line names the exact runtime, e.g. "async-std 1.13.2 (async-global-executor 2.4.1, 2 threads)".
fn main() {
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for name in ["async-std", "async-global-executor"] {
        let version = text
            .split("[[package]]")
            .find(|p| p.lines().any(|l| l == format!("name = \"{name}\"")))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map_or("unknown", |v| v.trim_end_matches('"'));
        println!(
            "cargo:rustc-env=VERSION_{}={version}",
            name.replace('-', "_").to_uppercase()
        );
    }
}
