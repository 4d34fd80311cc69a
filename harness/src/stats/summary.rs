//! placeholder: summaries across trials (owned by the reports helper)
