//! asyncbench: build, verify and benchmark equivalent async workloads across runtimes and languages.
//!
//! The library exposes [`Options`] and [`run`]; `main.rs` only prints the error chain. The flow is one
//! direction: cli → manifest → toolchain → build → verify → workload → results → report.

pub mod results;
pub mod stats;
pub mod manifest;
pub mod process;
pub mod protocol;
pub mod build;
pub mod env;
pub mod toolchain;
pub mod ui;
pub mod join;
pub mod verify;
pub mod workload;
