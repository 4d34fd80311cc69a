//! Results: the model, the incremental writer and the loader. Only this module and `report` touch
//! result files.

mod model;
mod store;
mod writer;

pub use model::*;
pub use store::{
    MAX_RESULTS_BYTES, load, parse, read_text_capped, write_atomic, write_file_atomic,
};
pub use writer::{ResultsWriter, Saved};
