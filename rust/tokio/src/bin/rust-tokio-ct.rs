//! `rust-tokio-ct`: the same program on tokio's current-thread runtime (one thread runs all tasks).
fn main() {
    asyncbench_tokio::main(asyncbench_tokio::Flavor::CurrentThread)
}
