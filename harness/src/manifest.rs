//! The implementations manifest (`manifest/*.toml`, documented in `docs/MANIFEST.md`): name, language,
//! runtime, workloads, and the toolchains that can build and start each implementation. Adding an
//! implementation is a manifest entry, never harness code.

use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One `manifest/*.toml` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    #[serde(default)]
    implementation: Vec<Implementation>,
}

/// An implementation of some workloads, as declared in the manifest.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Implementation {
    pub name: String,
    pub language: String,
    pub runtime: String,
    pub workloads: Vec<String>,
    /// Files and directories (relative to the repo root) whose contents decide if a build is current.
    #[serde(default)]
    pub inputs: Vec<String>,
    #[serde(default)]
    pub notes: String,
    /// Reports show `<name> (<runtime major.minor>)`, the runtime taken from the ready line (e.g.
    /// `csharp (Mono 6.8)`): for implementations whose runtime varies between machines.
    #[serde(default)]
    pub runtime_in_label: bool,
    /// A reference point, not a contender (e.g. futures polled without spawning, or one OS thread per
    /// task): reports show it as a reference line beside the rankings and never rank it.
    #[serde(default)]
    pub reference: bool,
    /// What the reference stands for in reports ("no spawning", "async vs threads"); defaults to the
    /// runtime label. Only meaningful with `reference = true`.
    #[serde(default)]
    pub reference_label: Option<String>,
    /// Ways to build and start it, in order of preference; the first whose probe succeeds is used.
    pub toolchain: Vec<Toolchain>,
    /// The manifest file this came from (filled in by the loader).
    #[serde(skip)]
    pub source: PathBuf,
}

/// One way of building and starting an implementation.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Toolchain {
    pub name: String,
    /// Must exit 0; its first line of output is recorded as the toolchain version.
    pub probe: Vec<String>,
    /// Further programs that must be on PATH.
    #[serde(default)]
    pub requires: Vec<String>,
    /// Files that must exist (libraries a probe cannot see, e.g. Mono.Posix.dll).
    #[serde(default)]
    pub requires_files: Vec<String>,
    #[serde(default)]
    pub build: Vec<Vec<String>>,
    pub start: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Commands that provision the toolchain when the probe fails.
    #[serde(default)]
    pub install: Vec<Vec<String>>,
    #[serde(default = "yes")]
    pub install_needs_root: bool,
    /// What a person should do when the toolchain is missing and cannot be provisioned.
    #[serde(default)]
    pub install_hint: String,
    /// Run after a successful build; a non-zero exit marks the implementation `skipped` with the last
    /// line of its stderr (e.g. io_uring not usable on this kernel).
    #[serde(default)]
    pub preflight: Vec<String>,
}

fn yes() -> bool {
    true
}

/// Directories that placeholders expand to.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Paths {
    pub fn new(root: &Path) -> Self {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { root.join(t) })
            .unwrap_or_else(|| root.join("target"));
        Paths {
            root: root.to_path_buf(),
            target,
        }
    }

    /// The private build directory of one implementation.
    pub fn build_dir(&self, implementation: &str) -> PathBuf {
        self.target.join("asyncbench").join(implementation)
    }

    /// Expands `{root}`, `{target}` and `{build}` in one argument.
    pub fn expand(&self, implementation: &str, arg: &str) -> String {
        arg.replace("{root}", &self.root.to_string_lossy())
            .replace("{target}", &self.target.to_string_lossy())
            .replace("{build}", &self.build_dir(implementation).to_string_lossy())
    }

    pub fn expand_all(&self, implementation: &str, args: &[String]) -> Vec<String> {
        args.iter()
            .map(|a| self.expand(implementation, a))
            .collect()
    }
}

/// Reads every `*.toml` in `dir`, sorted by file name, and checks the entries for mistakes a person
/// would otherwise only discover mid-run.
pub fn load_dir(dir: &Path) -> anyhow::Result<Vec<Implementation>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the manifest directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        all.extend(parse(&text, &file)?);
    }
    validate(&all)?;
    Ok(all)
}

/// Parses one manifest file's text.
pub fn parse(text: &str, file: &Path) -> anyhow::Result<Vec<Implementation>> {
    let parsed: ManifestFile = toml::from_str(text).with_context(|| {
        format!(
            "{} is not a valid manifest (see docs/MANIFEST.md)",
            file.display()
        )
    })?;
    Ok(parsed
        .implementation
        .into_iter()
        .map(|mut i| {
            i.source = file.to_path_buf();
            i
        })
        .collect())
}

/// Implementation names become directory names (`target/asyncbench/<name>`), CLI arguments and report
/// labels, so they are restricted to `[A-Za-z0-9._-]`, start with a letter or digit (never `.` or
/// `..`), and are at most 64 characters. `Err` says what to change.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 64 {
        return Err("must have 1 to 64 characters");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("may only contain letters, digits, '.', '_' and '-'; rename it");
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or digit; rename it");
    }
    Ok(())
}

/// Rejects duplicate names, empty commands and implementations without a way to start.
pub fn validate(all: &[Implementation]) -> anyhow::Result<()> {
    let mut seen = BTreeMap::new();
    for i in all {
        if let Some(prev) = seen.insert(i.name.as_str(), &i.source) {
            bail!(
                "implementation '{}' is declared twice ({} and {}); rename one",
                i.name,
                prev.display(),
                i.source.display()
            );
        }
        if let Err(why) = check_name(&i.name) {
            bail!(
                "implementation name {:?} in {} {why}",
                i.name,
                i.source.display()
            );
        }
        if i.reference_label.is_some() && !i.reference {
            bail!(
                "implementation '{}' in {} has a reference_label but not reference = true; add it or drop the label",
                i.name,
                i.source.display()
            );
        }
        if i.toolchain.is_empty() {
            bail!(
                "implementation '{}' in {} has no [[implementation.toolchain]]",
                i.name,
                i.source.display()
            );
        }
        if i.workloads.is_empty() {
            bail!(
                "implementation '{}' in {} lists no workloads",
                i.name,
                i.source.display()
            );
        }
        for t in &i.toolchain {
            let empty_cmd = t.build.iter().chain(t.install.iter()).any(|c| c.is_empty());
            if t.probe.is_empty() || t.start.is_empty() || empty_cmd {
                bail!(
                    "toolchain '{}' of '{}' in {} has an empty probe, start or command; every command is a non-empty list",
                    t.name,
                    i.name,
                    i.source.display()
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[implementation]]
name = "go"
language = "go"
runtime = "goroutines"
workloads = ["echo"]
[[implementation.toolchain]]
name = "go"
probe = ["go", "version"]
build = [["go", "build", "-o", "{build}/x", "."]]
start = ["{build}/x"]
"#;

    #[test]
    fn parses_and_defaults() {
        let v = parse(GOOD, Path::new("m.toml")).unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].toolchain[0].build.len(), 1);
        assert!(v[0].toolchain[0].install_needs_root);
        assert!(v[0].toolchain[0].preflight.is_empty());
        assert!(
            !v[0].reference,
            "implementations are contenders unless marked"
        );
        validate(&v).unwrap();
    }

    #[test]
    fn reads_the_reference_marker() {
        let marked = GOOD.replace(
            "workloads = [\"echo\"]",
            "workloads = [\"echo\"]\nreference = true\nreference_label = \"async vs threads\"",
        );
        let v = parse(&marked, Path::new("m.toml")).unwrap();
        assert!(v[0].reference);
        assert_eq!(v[0].reference_label.as_deref(), Some("async vs threads"));
        validate(&v).unwrap();
        let label_only = GOOD.replace(
            "workloads = [\"echo\"]",
            "workloads = [\"echo\"]\nreference_label = \"x\"",
        );
        let v = parse(&label_only, Path::new("m.toml")).unwrap();
        assert!(format!("{:#}", validate(&v).unwrap_err()).contains("reference = true"));
    }

    #[test]
    fn rejects_unknown_fields_with_the_file_name() {
        let bad = GOOD.replace("runtime =", "runtme =");
        let err = format!("{:#}", parse(&bad, Path::new("x.toml")).unwrap_err());
        assert!(err.contains("x.toml"), "{err}");
    }

    #[test]
    fn rejects_duplicates_and_empty_commands() {
        let mut v = parse(GOOD, Path::new("a.toml")).unwrap();
        v.extend(parse(GOOD, Path::new("b.toml")).unwrap());
        assert!(format!("{:#}", validate(&v).unwrap_err()).contains("declared twice"));
        let empty = GOOD.replace(r#"start = ["{build}/x"]"#, "start = []");
        let v = parse(&empty, Path::new("a.toml")).unwrap();
        assert!(validate(&v).is_err());
    }

    #[test]
    fn names_that_could_become_paths_or_escapes_are_rejected() {
        for good in ["go", "rust-tokio-ct", "python_3.12", "c99"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "..",
            ".",
            ".hidden",
            "a/b",
            "../etc",
            "a b",
            "a,b",
            "tab\t",
            "x\u{1b}[2J",
            "rtl\u{202e}",
            "ünï",
            "-flag",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_name(&"x".repeat(65)).is_err());
        let bad = GOOD.replace(
            r#"name = "go"
language"#,
            r#"name = "../../tmp/x"
language"#,
        );
        let v = parse(&bad, Path::new("m.toml")).unwrap();
        let err = format!("{:#}", validate(&v).unwrap_err());
        assert!(err.contains("may only contain"), "{err}");
    }

    #[test]
    fn expands_placeholders() {
        let p = Paths {
            root: "/r".into(),
            target: "/r/target".into(),
        };
        assert_eq!(p.expand("go", "{build}/x"), "/r/target/asyncbench/go/x");
        assert_eq!(p.expand("go", "{root}/node/main.js"), "/r/node/main.js");
        assert_eq!(p.expand("go", "{target}/release/y"), "/r/target/release/y");
    }

    #[test]
    fn the_repository_manifest_is_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifest");
        let all = load_dir(&dir).unwrap();
        assert!(
            all.iter().any(|i| i.name == "rust-tokio"),
            "rust-tokio missing from manifest/"
        );
    }
}
