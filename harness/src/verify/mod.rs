//! Correctness checks run before any measurement: an implementation that gives a wrong answer is
//! excluded (`verify_failed`) and never benchmarked. The same code backs `asyncbench verify` and the
//! conformance tests.

pub mod echo;
