//! The harness's integration tests, in one test binary so that `cargo test` links the harness once
//! instead of once per file. Each file here is a module; shared helpers live in `common/`. Fixtures
//! and fake implementations stay in `tests/fixtures/` and `tests/fakes/`, found through
//! `CARGO_MANIFEST_DIR`.
//!
//! Tests of different modules now run in parallel threads of one process, so none of them may
//! change process-wide state (environment variables, the current directory, signal handlers): pass
//! such settings to the `asyncbench` child process (`Command::env`, `Command::current_dir`) instead.
//!
//! To add a module: put `tests/it/NAME.rs` here and declare it below (`mod NAME;`); use the helpers
//! with `use crate::common::*;`. Run one module with `cargo test -p asyncbench --test it NAME::`.

mod common;

mod baselines;
mod cancel_faults;
mod cli;
mod compare_gate;
mod compare_noise;
mod compare_verdicts;
mod conformance;
mod exports;
mod fanout_stream;
mod faults;
mod history;
mod inputs;
mod language_unit_tests;
mod layout;
mod properties;
mod report_browser;
mod report_html;
mod report_snapshots;
