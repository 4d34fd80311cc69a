//! `rust-join-all`: fan-out only, the same task futures joined with `futures::future::join_all` on a
//! current-thread runtime, never spawned: the cost of a future without the cost of a runtime task.
fn main() {
    asyncbench_tokio::main(asyncbench_tokio::Flavor::JoinAll)
}
