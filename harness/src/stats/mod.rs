//! Statistics with no I/O: percentiles, summaries across trials, distribution-free intervals of the
//! median, and the change between two runs that `compare` judges.

pub mod change;
pub mod dist;
pub mod summary;
