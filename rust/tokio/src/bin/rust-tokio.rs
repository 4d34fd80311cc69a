//! `rust-tokio`: the multi-thread runtime, one worker per available core (tokio's default).
fn main() {
    asyncbench_tokio::main(asyncbench_tokio::Flavor::MultiThread)
}
