//! Conformance checks run before measuring that are shared with the conformance tests (echo's wire
//! checks). Each workload's own check before measuring is its definition's `verify`
//! (`workload::Definition`); an implementation that fails it is excluded from that workload's
//! measurements and never benchmarked there.

pub mod echo;
