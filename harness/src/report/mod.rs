//! Reports: one [`Results`] fanned out to several outputs. Each exporter is a pure function from results
//! (and the charts built from them) to files' bytes; [`write_all`] is the only part that touches the disk.
//!
//! Outputs, under the output directory:
//! - `report.html` — one self-contained page (inline CSS and SVG charts, no scripts, no external
//!   requests): summary with rankings and "what to pick for what", detail tables, charts, environment,
//!   implementations, findings and notes.
//! - `report.md` — the same in GitHub-flavoured Markdown, with PNG charts in `charts/` beside it.
//! - `results.csv` — one row per cell and metric.
//!
//! The page and the Markdown report say the same things in the same order: [`outline::build`] builds
//! the document once (sections, headings, paragraphs, tables, figures, folded details, caveats) and
//! `html.rs` and `markdown.rs` each only render it.

pub mod analysis;
pub mod cancel;
pub mod caveats;
pub mod charts;
pub mod csv;
pub mod format;
pub mod html;
pub mod markdown;
pub mod matrix;
pub mod metrics;
pub mod outline;
pub mod palette;
pub mod scenario;
pub mod terminal;

use crate::results::Results;
use anyhow::Context;
use std::path::{Path, PathBuf};

pub use charts::{Chart, Charts};
pub use csv::Csv;
pub use html::Html;
pub use markdown::Markdown;

/// A file an exporter produced: a path relative to the output directory and its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl Artifact {
    pub fn new(path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) -> Self {
        Artifact {
            path: path.into(),
            bytes: bytes.into(),
        }
    }
}

/// An output format.
pub trait Report {
    /// Short name, for messages.
    fn name(&self) -> &'static str;
    /// Renders the results into files (paths relative to the output directory). No I/O.
    fn render(&self, results: &Results, charts: &Charts) -> anyhow::Result<Vec<Artifact>>;
}

/// Every output format, in the order they are written.
pub fn exporters() -> Vec<Box<dyn Report>> {
    vec![Box::new(Html), Box::new(Markdown), Box::new(Csv)]
}

/// Renders every output format into memory.
pub fn render_all(results: &Results) -> anyhow::Result<Vec<Artifact>> {
    let charts = Charts::build(results);
    let mut out = Vec::new();
    for e in exporters() {
        out.extend(
            e.render(results, &charts)
                .with_context(|| format!("rendering the {} report", e.name()))?,
        );
    }
    Ok(out)
}

/// Renders every report and writes it under `out_dir` (created if missing); returns the paths written.
/// Existing files with the same names are replaced; nothing else in `out_dir` is touched.
pub fn write_all(results: &Results, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let artifacts = render_all(results)?;
    let mut written = Vec::with_capacity(artifacts.len());
    for a in artifacts {
        let path = out_dir.join(&a.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        // Atomic, and a symlink planted at the destination is replaced rather than followed.
        crate::results::write_file_atomic(&path, &a.bytes)?;
        written.push(path);
    }
    Ok(written)
}
