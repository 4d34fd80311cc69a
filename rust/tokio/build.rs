//! Records the resolved versions of the runtime crates (from the workspace Cargo.lock) so that the
//! `ready` line names the exact runtime, e.g. "tokio 1.54.1 multi-thread".
fn main() {
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    for name in ["tokio", "futures"] {
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
