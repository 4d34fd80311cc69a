//! The run history: every finished run's medians and intervals in SQLite (`results/history.db`), so
//! trends need no hand-picked files.
//!
//! - One row per run (`runs`: run id, commit, dates, suite, machine, whether it completed) and one per
//!   cell and metric (`measurements`). Recording a run again replaces it (one transaction), so
//!   re-importing is harmless.
//! - Schema migrations are numbered and tracked in SQLite's `user_version`; a database written by a newer
//!   asyncbench is refused rather than misread.
//! - WAL journal: readers (`asyncbench history`) never block the writer, and a writer killed mid-way
//!   leaves the database as it was before its transaction.
//! - A corrupt or locked database is a [`HistoryError`] with the fix in its message. The history is a
//!   by-product: `run` writes results.json before it touches the database and only warns when recording
//!   fails.

use crate::report::metrics::{estimate, metric_names, scenario_key};
use crate::results::{CellStatus, Results};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// File name of the history inside the results directory.
pub const FILE: &str = "history.db";

/// Schema migrations, applied in order; `user_version` = how many have been applied.
const MIGRATIONS: &[&str] = &[
    // 1: runs and their measurements.
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        git_commit TEXT,
        git_dirty INTEGER,
        suite TEXT NOT NULL,
        machine TEXT NOT NULL,
        complete INTEGER NOT NULL,
        source TEXT
    );
    CREATE TABLE measurements (
        run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        workload TEXT NOT NULL,
        implementation TEXT NOT NULL,
        scenario TEXT NOT NULL,
        metric TEXT NOT NULL,
        median REAL NOT NULL,
        lo REAL NOT NULL,
        hi REAL NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (run, workload, implementation, scenario, metric)
    );
    CREATE INDEX measurements_by_series ON measurements (workload, implementation, metric);",
];

/// Why the history cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "{path} is not a valid SQLite database ({detail}); move it away and rebuild it with `asyncbench history import results/`"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} is locked by another process; wait for the other asyncbench to finish, then retry"
    )]
    Locked { path: PathBuf },
    #[error(
        "{path} has schema version {found}, this asyncbench knows up to {known}; use the newer asyncbench that wrote it"
    )]
    Newer {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

/// An open history database.
pub struct History {
    conn: Connection,
    path: PathBuf,
}

/// One recorded run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub run_id: String,
    pub started_at: String,
    pub git_commit: Option<String>,
    pub suite: String,
    pub machine: String,
    pub complete: bool,
    pub measurements: i64,
}

/// One point of a trend.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    pub run_id: String,
    pub started_at: String,
    pub git_commit: Option<String>,
    pub workload: String,
    pub implementation: String,
    pub scenario: String,
    pub metric: String,
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
    pub n: i64,
}

/// What to select for a trend; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct TrendQuery {
    pub metric: Option<String>,
    pub implementation: Option<String>,
    pub workload: Option<String>,
}

/// The machine a run was measured on, as one comparable string.
pub fn machine_of(r: &Results) -> String {
    let e = &r.environment;
    format!(
        "{}, {} cores, {} GiB, {}",
        e.cpu_model,
        e.cores,
        e.memory_bytes / (1 << 30),
        e.kernel
    )
}

/// The suite kind of a run ("default", "quick", "full"), from its recorded configuration.
pub fn suite_of(r: &Results) -> String {
    let c = &r.environment.config;
    c.pointer("/suite/kind")
        .or_else(|| c.get("suite"))
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .to_lowercase()
}

impl History {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let p = path.to_path_buf();
        let err = |e: rusqlite::Error| classify(&p, e);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        // The first statement reads the header: a file that is not a database fails here.
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            // In-memory or read-only media: still usable, just without WAL.
        }
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(err)?;
        let mut h = History { conn, path: p };
        h.migrate()?;
        Ok(h)
    }

    fn err(&self, e: rusqlite::Error) -> HistoryError {
        classify(&self.path, e)
    }

    fn migrate(&mut self) -> Result<(), HistoryError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version as usize > MIGRATIONS.len() {
            return Err(HistoryError::Newer {
                path: self.path.clone(),
                found: version,
                known: MIGRATIONS.len(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let path = self.path.clone();
            let tx = self.conn.transaction().map_err(|e| classify(&path, e))?;
            tx.execute_batch(sql).map_err(|e| classify(&path, e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| classify(&path, e))?;
            tx.commit().map_err(|e| classify(&path, e))?;
        }
        Ok(())
    }

    /// Records `results` (replacing an earlier record of the same run id) in one transaction.
    /// `complete`: the run finished (an interrupted or killed run is kept but marked incomplete, and
    /// trends leave it out).
    pub fn record(
        &mut self,
        results: &Results,
        complete: bool,
        source: Option<&Path>,
    ) -> Result<(), HistoryError> {
        let path = self.path.clone();
        let e = |x| classify(&path, x);
        let tx = self.conn.transaction().map_err(e)?;
        tx.execute("DELETE FROM runs WHERE run_id = ?1", [&results.run_id])
            .map_err(e)?;
        let env = &results.environment;
        tx.execute(
            "INSERT INTO runs (run_id, started_at, finished_at, git_commit, git_dirty, suite, machine, complete, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                results.run_id,
                env.started_at,
                env.finished_at,
                env.git_commit,
                env.git_dirty,
                suite_of(results),
                machine_of(results),
                complete,
                source.map(|s| s.display().to_string()),
            ],
        )
        .map_err(e)?;
        let run = tx.last_insert_rowid();
        {
            let mut stmt = tx
                .prepare(
                    "INSERT OR REPLACE INTO measurements (run, workload, implementation, scenario, metric, median, lo, hi, n)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(e)?;
            for c in results.cells.iter().filter(|c| c.status == CellStatus::Ok) {
                let scenario = scenario_key(c);
                for m in metric_names(c) {
                    if let Some(est) = estimate(c, &m) {
                        stmt.execute(params![
                            run,
                            c.workload,
                            c.implementation,
                            scenario,
                            m,
                            est.median,
                            est.lo,
                            est.hi,
                            est.n as i64
                        ])
                        .map_err(e)?;
                    }
                }
            }
        }
        tx.commit().map_err(e)?;
        Ok(())
    }

    /// Every recorded run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRow>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.run_id, r.started_at, r.git_commit, r.suite, r.machine, r.complete,
                        (SELECT COUNT(*) FROM measurements m WHERE m.run = r.id)
                 FROM runs r ORDER BY r.started_at, r.run_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RunRow {
                    run_id: r.get(0)?,
                    started_at: r.get(1)?,
                    git_commit: r.get(2)?,
                    suite: r.get(3)?,
                    machine: r.get(4)?,
                    complete: r.get(5)?,
                    measurements: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Whether run `run_id` is recorded, and if so whether it completed.
    pub fn run_complete(&self, run_id: &str) -> Result<Option<bool>, HistoryError> {
        self.conn
            .query_row(
                "SELECT complete FROM runs WHERE run_id = ?1",
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Measurements of complete runs matching `q`, oldest run first.
    pub fn trend(&self, q: &TrendQuery) -> Result<Vec<TrendPoint>, HistoryError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.run_id, r.started_at, r.git_commit, m.workload, m.implementation, m.scenario,
                        m.metric, m.median, m.lo, m.hi, m.n
                 FROM measurements m JOIN runs r ON r.id = m.run
                 WHERE r.complete = 1
                   AND (?1 IS NULL OR m.metric = ?1)
                   AND (?2 IS NULL OR m.implementation = ?2)
                   AND (?3 IS NULL OR m.workload = ?3)
                 ORDER BY m.workload, m.implementation, m.scenario, m.metric, r.started_at, r.run_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![q.metric, q.implementation, q.workload], |r| {
                Ok(TrendPoint {
                    run_id: r.get(0)?,
                    started_at: r.get(1)?,
                    git_commit: r.get(2)?,
                    workload: r.get(3)?,
                    implementation: r.get(4)?,
                    scenario: r.get(5)?,
                    metric: r.get(6)?,
                    median: r.get(7)?,
                    lo: r.get(8)?,
                    hi: r.get(9)?,
                    n: r.get(10)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

/// Maps SQLite's error codes to what the user should do.
/// Marker shapes of the trend chart's series, in order.
const TREND_MARKERS: &[crate::report::palette::Marker] = &[
    crate::report::palette::Marker::Circle,
    crate::report::palette::Marker::Square,
    crate::report::palette::Marker::Triangle,
    crate::report::palette::Marker::Diamond,
    crate::report::palette::Marker::Cross,
    crate::report::palette::Marker::Plus,
];

fn classify(path: &Path, e: rusqlite::Error) -> HistoryError {
    let code = e.sqlite_error_code();
    match code {
        Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => HistoryError::Corrupt {
            path: path.to_path_buf(),
            detail: e.to_string(),
        },
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => HistoryError::Locked {
            path: path.to_path_buf(),
        },
        _ => HistoryError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        },
    }
}

/// Every `results.json` under `dir` (recursively, skipping `baselines/` copies and the `latest` link),
/// sorted.
pub fn find_results(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if name != crate::baseline::BASELINES {
                    stack.push(p);
                }
            } else if ft.is_file() && name == "results.json" {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The trend lines' colours, one per line (at most eight lines).
const TREND_COLORS: [(u8, u8, u8); 8] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
];

/// A trend chart of `points` (one line per workload × implementation × scenario × metric, at most 8;
/// x = the run's position in time, with intervals as bars), drawn by the report's chart renderer.
pub fn trend_chart(points: &[TrendPoint]) -> Option<crate::report::charts::Chart> {
    use crate::report::charts::{Axis, Chart, Figure, Scale};
    use crate::report::metrics::metric_def;
    let first = points.first()?;
    let mut runs: Vec<(&str, &str)> = points
        .iter()
        .map(|p| (p.started_at.as_str(), p.run_id.as_str()))
        .collect();
    runs.sort();
    runs.dedup();
    let pos = |p: &TrendPoint| {
        runs.iter()
            .position(|r| r.1 == p.run_id)
            .map(|i| i as f64 + 1.0)
            .unwrap_or(0.0)
    };
    let distinct = |f: fn(&TrendPoint) -> &str| {
        points
            .iter()
            .map(f)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    };
    // Legends name only what differs between the lines; the title says the rest.
    let (many_impls, many_metrics) = (distinct(|p| &p.implementation), distinct(|p| &p.metric));
    let series = trend_series(points, &pos, many_impls, many_metrics);
    let def = metric_def(&first.metric);
    let metrics: std::collections::BTreeSet<&str> =
        points.iter().map(|p| p.metric.as_str()).collect();
    Some(Chart {
        id: format!(
            "trend-{}",
            crate::report::charts::slug(&format!(
                "{}-{}-{}",
                first.workload, first.implementation, first.metric
            ))
        ),
        workload: first.workload.clone(),
        title: format!(
            "Trend of {} — {}{} — over {} runs",
            metrics.into_iter().collect::<Vec<_>>().join(", "),
            first.workload,
            if many_impls {
                String::new()
            } else {
                format!(" {}", first.implementation)
            },
            runs.len()
        ),
        caption: format!(
            "Median per run (bars: the run's interval), oldest run first; {} runs from {} to {}.",
            runs.len(),
            runs.first().map(|r| r.0).unwrap_or(""),
            runs.last().map(|r| r.0).unwrap_or("")
        ),
        figure: Figure::Lines {
            x: Axis::new(
                "run (oldest first)",
                crate::report::metrics::Unit::Count,
                Scale::Linear,
                "run {}",
            ),
            y: Axis::new(def.label, def.unit, Scale::Linear, "{}"),
            series,
            better: def.better,
        },
    })
}

/// One series per distinct line name, in first-seen order, at most [`TREND_COLORS`] many; `pos` is a
/// point's x (its run's position in time).
fn trend_series(
    points: &[TrendPoint],
    pos: &dyn Fn(&TrendPoint) -> f64,
    many_impls: bool,
    many_metrics: bool,
) -> Vec<crate::report::charts::Series> {
    use crate::report::charts::{Point, Series};
    let mut series: Vec<Series> = Vec::new();
    for p in points {
        let name = trend_series_name(p, many_impls, many_metrics);
        let point = Point {
            x: pos(p),
            y: p.median,
            y_lo: Some(p.lo),
            y_hi: Some(p.hi),
            hollow: false,
        };
        if let Some(s) = series.iter_mut().find(|s| s.name == name) {
            s.points.push(point);
        } else if series.len() < TREND_COLORS.len() {
            let color = TREND_COLORS[series.len()];
            // Colour and marker both differ between series, so they read apart without colour too.
            let marker = TREND_MARKERS[series.len() % TREND_MARKERS.len()];
            series.push(Series {
                color,
                marker,
                name,
                points: vec![point],
                dashed: false,
            });
        }
    }
    series
}

/// A trend line's legend: the scenario's parameters, with the implementation and the metric only when
/// they differ between the lines (the chart's title says the rest).
fn trend_series_name(p: &TrendPoint, many_impls: bool, many_metrics: bool) -> String {
    let mut name = p
        .scenario
        .split_once('/')
        .map(|x| x.1)
        .unwrap_or("")
        .replace("message_bytes", "B")
        .replace("connections", "conns");
    if many_impls {
        name = format!("{} {name}", p.implementation);
    }
    if many_metrics {
        name = format!("{name} {}", p.metric);
    }
    name
}
