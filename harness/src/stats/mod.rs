//! Statistics with no I/O: percentiles, summaries across trials, distribution-free intervals of the
//! median, and the change between two runs that `compare` judges.

pub mod change;
pub mod dist;
pub mod echo_checks;
pub mod hosts;
pub mod summary;
