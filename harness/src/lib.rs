//! asyncbench: build, verify and benchmark equivalent async workloads across runtimes and languages.
//!
//! The library exposes [`Opts`] and [`run`]; `main.rs` only prints the error chain. The flow is one
//! direction: cli → manifest → toolchain → build → verify → workload → results → report.

// No harness function over 100 lines (clippy's default threshold): long functions hide what a step
// does; split them into parts named for what they do.
#![warn(clippy::too_many_lines)]

pub mod aggregate;
mod app;
#[cfg(test)]
mod architecture_tests;
pub mod baseline;
pub mod build;
pub mod cli;
pub mod compare;
pub mod criterion_import;
pub mod engine;
pub mod env;
pub mod export;
pub mod finding;
pub mod gungraun_import;
pub mod history;
pub mod history_cmd;
pub mod join;
pub mod manifest;
pub mod metric;
pub mod prepare;
pub mod process;
pub mod protocol;
pub mod remote;
pub mod report;
pub mod results;
pub mod runner;
pub mod stats;
pub mod suite;
pub mod summary;
pub mod text;
pub mod toolchain;
pub mod ui;
pub mod verify;
pub mod workload;

pub use app::run;
pub use cli::Opts;
