//! Statistics with no I/O: percentiles, summaries across trials, bootstrap intervals.

pub mod echo_checks;
pub mod summary;
