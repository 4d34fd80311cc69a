//! Imports criterion's on-disk results for the Rust micro-benchmarks (`rust/micro`,
//! `cargo bench -p asyncbench-micro`).
//!
//! Why read files instead of parsing criterion's terminal output or running `cargo-criterion`: the
//! JSON that criterion always writes under `<target>/criterion/` is its stable machine-readable
//! record, it needs no extra tool, and it carries the confidence intervals the harness reports.
//! Layout (criterion 0.8, one directory per benchmark id, sanitised from the id):
//!
//! ```text
//! <criterion_dir>/<group>/<function>/new/benchmark.json   ids: group_id, function_id, value_str, throughput
//! <criterion_dir>/<group>/<function>/new/estimates.json   mean, median, std_dev, median_abs_dev, slope (ns)
//! <criterion_dir>/<group>/<function>/base/...             the previous run (ignored)
//! <criterion_dir>/<group>/<function>/change/...           run-to-run comparison (ignored)
//! ```
//!
//! Only `new/` (the latest run) is read. Ids are taken from `benchmark.json`, never from directory
//! names, because criterion rewrites characters such as `/` and truncates long names on disk. The
//! micro-benchmarks name every benchmark `<primitive>/<implementation>` (group = primitive,
//! function = implementation name from `manifest/`), so each estimate lands in its results cell; a
//! benchmark without a function id cannot be placed and is an error rather than silently dropped.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One criterion benchmark's estimates, all in nanoseconds per iteration (criterion's wall-time
/// measurement), with the 95% confidence interval criterion bootstrapped for the mean and median.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MicroEstimate {
    /// The criterion group id, e.g. `spawn_join_1000` (plus `/<value>` for parameterised ids).
    pub primitive: String,
    /// The criterion function id: the implementation name, e.g. `rust-tokio-ct`.
    pub implementation: String,
    pub mean_ns: f64,
    pub mean_ci_low_ns: f64,
    pub mean_ci_high_ns: f64,
    pub median_ns: f64,
    pub median_ci_low_ns: f64,
    pub median_ci_high_ns: f64,
    pub std_dev_ns: f64,
    /// Criterion's headline estimate when it sampled linearly (the `time:` it prints); `None` for
    /// flat sampling, where criterion reports the mean instead.
    pub slope_ns: Option<f64>,
    /// Elements processed per iteration (`Throughput::Elements`), so a rate can be derived.
    pub throughput_elements: Option<u64>,
}

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    /// Externally tagged enum, e.g. `{"Elements":1000}`; kept as a value so that new variants in a
    /// later criterion do not break the import.
    throughput: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct Estimate {
    confidence_interval: Interval,
    point_estimate: f64,
}

#[derive(Deserialize)]
struct EstimatesJson {
    mean: Estimate,
    median: Estimate,
    std_dev: Estimate,
    slope: Option<Estimate>,
}

/// Reads every `**/new/estimates.json` (with its `benchmark.json`) under `criterion_dir`, which is
/// `<cargo target dir>/criterion` (or `$CRITERION_HOME`). Sorted by primitive, then implementation.
/// A missing directory is an error (nothing was benchmarked); an empty one yields an empty list.
pub fn import(criterion_dir: &Path) -> Result<Vec<MicroEstimate>> {
    if !criterion_dir.is_dir() {
        bail!(
            "criterion directory {} does not exist",
            criterion_dir.display()
        );
    }
    let mut runs = Vec::new();
    find_new_dirs(criterion_dir, &mut runs)?;
    let mut out = runs
        .iter()
        .map(|dir| read_one(dir))
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| (&a.primitive, &a.implementation).cmp(&(&b.primitive, &b.implementation)));
    Ok(out)
}

/// Collects directories named `new` that hold an `estimates.json`; does not descend into them.
fn find_new_dirs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let path = entry.path();
        if entry.file_name() == "new" && path.join("estimates.json").is_file() {
            out.push(path);
        } else {
            find_new_dirs(&path, out)?;
        }
    }
    Ok(())
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn read_one(new_dir: &Path) -> Result<MicroEstimate> {
    let id: BenchmarkJson = read_json(&new_dir.join("benchmark.json"))?;
    let est: EstimatesJson = read_json(&new_dir.join("estimates.json"))?;
    let Some(implementation) = id.function_id else {
        bail!(
            "benchmark {:?} in {} has no function id; micro-benchmark ids must be <primitive>/<implementation>",
            id.group_id,
            new_dir.display()
        );
    };
    let primitive = match id.value_str {
        Some(value) => format!("{}/{value}", id.group_id),
        None => id.group_id,
    };
    let throughput_elements = id.throughput.as_ref().and_then(|t| {
        t.get("Elements")
            .and_then(serde_json::Value::as_u64)
            .or_else(|| t.get("ElementsAndBytes")?.get("elements")?.as_u64())
    });
    Ok(MicroEstimate {
        primitive,
        implementation,
        mean_ns: est.mean.point_estimate,
        mean_ci_low_ns: est.mean.confidence_interval.lower_bound,
        mean_ci_high_ns: est.mean.confidence_interval.upper_bound,
        median_ns: est.median.point_estimate,
        median_ci_low_ns: est.median.confidence_interval.lower_bound,
        median_ci_high_ns: est.median.confidence_interval.upper_bound,
        std_dev_ns: est.std_dev.point_estimate,
        slope_ns: est.slope.map(|s| s.point_estimate),
        throughput_elements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Copied from a real `cargo bench -p asyncbench-micro -- --quick` run (criterion 0.8.2).
    const BENCHMARK: &str = r#"{"group_id":"ping_pong_1000","function_id":"rust-tokio","value_str":null,"throughput":{"Elements":1000},"full_id":"ping_pong_1000/rust-tokio","directory_name":"ping_pong_1000/rust-tokio","title":"ping_pong_1000/rust-tokio"}"#;
    const ESTIMATES: &str = r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":356705.54833984375,"upper_bound":413984.6181640625},"point_estimate":385345.0832519531,"standard_error":20255.23188173894},"median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":356705.54833984375,"upper_bound":413984.6181640625},"point_estimate":385345.0832519531,"standard_error":20255.23188173894},"median_abs_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":0.0,"upper_bound":42460.973706860386},"point_estimate":42460.973706860386,"standard_error":21230.591308214996},"slope":{"confidence_interval":{"confidence_level":0.95,"lower_bound":356705.54833984375,"upper_bound":413984.6181640625},"point_estimate":368161.3623046875,"standard_error":21957.27266191217},"std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":0.0,"upper_bound":40502.418692762825},"point_estimate":40502.418692762825,"standard_error":20251.308983079085}}"#;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A flat-sampled benchmark: no slope, `ElementsAndBytes` throughput.
    fn flat(group: &str, function: &str) -> (String, String) {
        let bench = format!(
            r#"{{"group_id":"{group}","function_id":"{function}","value_str":null,"throughput":{{"ElementsAndBytes":{{"elements":1,"bytes":8}}}},"full_id":"{group}/{function}","directory_name":"{group}/{function}","title":"{group}/{function}"}}"#
        );
        let e = r#"{"confidence_interval":{"confidence_level":0.95,"lower_bound":1.0,"upper_bound":3.0},"point_estimate":2.0,"standard_error":0.5}"#;
        let est = format!(
            r#"{{"mean":{e},"median":{e},"median_abs_dev":{e},"slope":null,"std_dev":{e}}}"#
        );
        (bench, est)
    }

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "ping_pong_1000/rust-tokio/new/benchmark.json",
            BENCHMARK,
        );
        write(
            root,
            "ping_pong_1000/rust-tokio/new/estimates.json",
            ESTIMATES,
        );
        write(
            root,
            "ping_pong_1000/rust-tokio/new/sample.json",
            r#"{"sampling_mode":"Linear","iters":[1.0],"times":[1.0]}"#,
        );
        // The previous run and the comparison are ignored.
        write(
            root,
            "ping_pong_1000/rust-tokio/base/benchmark.json",
            BENCHMARK,
        );
        write(
            root,
            "ping_pong_1000/rust-tokio/base/estimates.json",
            ESTIMATES,
        );
        write(
            root,
            "ping_pong_1000/rust-tokio/change/estimates.json",
            "{}",
        );
        let (bench, est) = flat("yield_now", "rust-smol");
        write(root, "yield_now/rust-smol/new/benchmark.json", &bench);
        write(root, "yield_now/rust-smol/new/estimates.json", &est);
        write(root, "report/index.html", "<html></html>");
        dir
    }

    #[test]
    fn imports_latest_run_of_every_benchmark() {
        let dir = tree();
        let got = import(dir.path()).unwrap();
        assert_eq!(got.len(), 2);
        let pp = &got[0];
        assert_eq!(
            (pp.primitive.as_str(), pp.implementation.as_str()),
            ("ping_pong_1000", "rust-tokio")
        );
        assert_eq!(pp.mean_ns, 385345.0832519531);
        assert_eq!(pp.mean_ci_low_ns, 356705.54833984375);
        assert_eq!(pp.mean_ci_high_ns, 413984.6181640625);
        assert_eq!(pp.median_ns, 385345.0832519531);
        assert_eq!(pp.std_dev_ns, 40502.418692762825);
        assert_eq!(pp.slope_ns, Some(368161.3623046875));
        assert_eq!(pp.throughput_elements, Some(1000));
        let y = &got[1];
        assert_eq!(
            (y.primitive.as_str(), y.implementation.as_str()),
            ("yield_now", "rust-smol")
        );
        assert_eq!(
            (y.median_ci_low_ns, y.median_ns, y.median_ci_high_ns),
            (1.0, 2.0, 3.0)
        );
        assert_eq!(y.slope_ns, None);
        assert_eq!(y.throughput_elements, Some(1));
    }

    #[test]
    fn round_trips_through_json() {
        let got = import(tree().path()).unwrap();
        let back: Vec<MicroEstimate> =
            serde_json::from_str(&serde_json::to_string(&got).unwrap()).unwrap();
        assert_eq!(back.len(), got.len());
        assert_eq!(back[0].implementation, "rust-tokio");
    }

    #[test]
    fn empty_directory_is_empty_and_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(import(dir.path()).unwrap().is_empty());
        assert!(import(&dir.path().join("criterion")).is_err());
    }

    #[test]
    fn benchmark_without_implementation_is_an_error() {
        let dir = tree();
        let bench =
            r#"{"group_id":"lonely","function_id":null,"value_str":null,"throughput":null}"#;
        write(dir.path(), "lonely/new/benchmark.json", bench);
        write(dir.path(), "lonely/new/estimates.json", ESTIMATES);
        let err = import(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("lonely"));
    }

    #[test]
    fn malformed_json_names_the_file() {
        let dir = tree();
        write(
            dir.path(),
            "broken/rust-tokio/new/benchmark.json",
            BENCHMARK,
        );
        write(
            dir.path(),
            "broken/rust-tokio/new/estimates.json",
            "{not json",
        );
        let err = format!("{:#}", import(dir.path()).unwrap_err());
        assert!(
            err.contains("broken") && err.contains("estimates.json"),
            "{err}"
        );
    }
}
