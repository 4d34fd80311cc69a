//! Results: the model, the incremental writer and the loader. Only this module and `report` touch
//! result files.

mod model;
mod store;

pub use model::*;
pub use store::{load, write_atomic};
