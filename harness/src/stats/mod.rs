//! Statistics with no I/O: percentiles, summaries across trials, bootstrap intervals.

pub mod summary;
