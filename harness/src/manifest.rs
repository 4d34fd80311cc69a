//! The implementations manifest (`manifest/*.toml`, documented in `docs/MANIFEST.md`): name, language,
//! runtime, workloads, and the toolchains that can build and start each implementation, plus the
//! `[micro]` entry naming the micro workload's benchmark programs. Adding an implementation is a
//! manifest entry, never harness code: the harness names no implementation.

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
    #[serde(default)]
    micro: Option<MicroBenches>,
}

/// The micro workload's benchmark programs (`[micro]`, at most one in the manifest): criterion
/// timings of runtime primitives for every implementation whose `workloads` list `micro`, and
/// gungraun instruction counts under valgrind for those in `instruction_counts`. Benchmark ids carry
/// the implementation names (`<primitive>/<name>` for criterion; `#[bench::<name with _ for ->]` for
/// gungraun), so every estimate lands in that implementation's cell.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MicroBenches {
    /// Names the cell that says why the whole criterion run failed (no implementation's estimate
    /// exists then), e.g. `rust-micro`.
    pub name: String,
    /// The criterion command up to its own arguments (`cargo bench ... --`); the harness appends
    /// criterion's measurement settings and a filter selecting the implementations.
    pub criterion: Vec<String>,
    /// The gungraun command up to its own arguments; the harness appends `--home=DIR` and a filter.
    #[serde(default)]
    pub instructions: Vec<String>,
    /// Implementations whose instructions are counted: single-threaded executors whose counts repeat
    /// (why: `rust/micro/benches/instructions.rs`). Each must list `micro` in its `workloads`.
    #[serde(default)]
    pub instruction_counts: Vec<String>,
    /// The manifest file this came from (filled in by the loader).
    #[serde(skip)]
    pub source: PathBuf,
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
    Ok(load_all(dir)?.0)
}

/// The `[micro]` entry of the manifest in `dir`, if any (checked against the implementations).
pub fn load_micro(dir: &Path) -> anyhow::Result<Option<MicroBenches>> {
    Ok(load_all(dir)?.1)
}

/// Every implementation and the `[micro]` entry, validated together.
fn load_all(dir: &Path) -> anyhow::Result<(Vec<Implementation>, Option<MicroBenches>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the manifest directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    let mut micro: Option<MicroBenches> = None;
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let (impls, m) = parse_file(&text, &file)?;
        all.extend(impls);
        if let Some(m) = m {
            if let Some(prev) = &micro {
                bail!(
                    "[micro] is declared twice ({} and {}); keep one",
                    prev.source.display(),
                    m.source.display()
                );
            }
            micro = Some(m);
        }
    }
    validate(&all)?;
    validate_micro(micro.as_ref(), &all)?;
    Ok((all, micro))
}

/// Parses one manifest file's text.
pub fn parse(text: &str, file: &Path) -> anyhow::Result<Vec<Implementation>> {
    Ok(parse_file(text, file)?.0)
}

/// Parses one manifest file's implementations and `[micro]` entry.
fn parse_file(
    text: &str,
    file: &Path,
) -> anyhow::Result<(Vec<Implementation>, Option<MicroBenches>)> {
    let parsed: ManifestFile = toml::from_str(text).with_context(|| {
        format!(
            "{} is not a valid manifest (see docs/MANIFEST.md)",
            file.display()
        )
    })?;
    let impls = parsed
        .implementation
        .into_iter()
        .map(|mut i| {
            i.source = file.to_path_buf();
            i
        })
        .collect();
    let micro = parsed.micro.map(|mut m| {
        m.source = file.to_path_buf();
        m
    });
    Ok((impls, micro))
}

/// The `[micro]` entry is complete when implementations list the micro workload, and names only
/// implementations that do.
pub fn validate_micro(micro: Option<&MicroBenches>, all: &[Implementation]) -> anyhow::Result<()> {
    let runs_micro = |n: &str| {
        all.iter()
            .any(|i| i.name == n && i.workloads.iter().any(|w| w == "micro"))
    };
    let Some(m) = micro else {
        if let Some(i) = all.iter().find(|i| runs_micro(&i.name)) {
            bail!(
                "implementation '{}' in {} lists the micro workload but no manifest file has a [micro] entry; add one (docs/MANIFEST.md)",
                i.name,
                i.source.display()
            );
        }
        return Ok(());
    };
    if m.criterion.is_empty() || check_name(&m.name).is_err() {
        bail!(
            "[micro] in {} needs a valid name and a non-empty criterion command (docs/MANIFEST.md)",
            m.source.display()
        );
    }
    if !m.instruction_counts.is_empty() && m.instructions.is_empty() {
        bail!(
            "[micro] in {} lists instruction_counts but no instructions command; add it",
            m.source.display()
        );
    }
    if let Some(n) = m.instruction_counts.iter().find(|n| !runs_micro(n)) {
        bail!(
            "[micro] in {} counts instructions of '{n}', which no implementation listing the micro workload is called; fix the name or add \"micro\" to its workloads",
            m.source.display()
        );
    }
    Ok(())
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

    #[test]
    fn the_micro_entry_is_checked_against_the_implementations() {
        let micro = r#"
[micro]
name = "rust-micro"
criterion = ["cargo", "bench", "--"]
instructions = ["cargo", "bench", "--bench", "i", "--"]
instruction_counts = ["go"]
"#;
        let runs_micro = GOOD.replace(r#"["echo"]"#, r#"["echo", "micro"]"#);
        let (impls, m) = parse_file(&format!("{runs_micro}{micro}"), Path::new("m.toml")).unwrap();
        let m = m.expect("[micro] parsed");
        assert_eq!(m.instruction_counts, ["go"]);
        validate_micro(Some(&m), &impls).unwrap();
        // Counting an implementation that does not run micro, or running micro without [micro].
        let plain = parse(GOOD, Path::new("m.toml")).unwrap();
        let err = format!("{:#}", validate_micro(Some(&m), &plain).unwrap_err());
        assert!(err.contains("counts instructions of 'go'"), "{err}");
        let err = format!("{:#}", validate_micro(None, &impls).unwrap_err());
        assert!(
            err.contains("no manifest file has a [micro] entry"),
            "{err}"
        );
        validate_micro(None, &plain).unwrap();
    }

    /// String literals naming one of `names` in `source` outside `#[cfg(test)]` items and comments:
    /// (line, name).
    fn names_in_code(source: &str, names: &[String]) -> Vec<(usize, String)> {
        let lines: Vec<&str> = source.lines().collect();
        let mut found = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            if lines[i].trim_start().starts_with("#[cfg(test)]") {
                // Skip the item: to its closing brace (or its `;`).
                let (mut depth, mut opened) = (0i64, false);
                i += 1;
                while i < lines.len() {
                    let l = lines[i];
                    depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
                    opened |= l.contains('{');
                    i += 1;
                    if (opened && depth <= 0) || (!opened && l.trim_end().ends_with(';')) {
                        break;
                    }
                }
                continue;
            }
            let line = lines[i];
            if !line.trim_start().starts_with("//") {
                for literal in line.split('"').skip(1).step_by(2) {
                    let tokens = literal
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'));
                    // A one-word name ("go", "node") is also an English word: it counts only as
                    // a whole literal; a hyphenated name counts anywhere in one.
                    for n in names.iter().filter(|n| {
                        literal.trim() == n.as_str()
                            || (n.contains('-') && tokens.clone().any(|t| t == n.as_str()))
                    }) {
                        found.push((i + 1, n.clone()));
                    }
                }
            }
            i += 1;
        }
        found
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    #[test]
    fn the_name_scan_finds_names_in_code_only() {
        let names = vec!["rust-tokio".to_string(), "go".to_string()];
        let src = "// \"go\" in a comment\nconst A: &str = \"rust-tokio\";\nlet s = \"rust-tokio-ct, let it go on\";\nlet g = \"go\";\nlet t = \"see rust-tokio's\";\n#[cfg(test)]\nmod t {\n    const B: &str = \"go\";\n}\n";
        assert_eq!(
            names_in_code(src, &names),
            [
                (2, "rust-tokio".to_string()),
                (4, "go".to_string()),
                (5, "rust-tokio".to_string())
            ]
        );
    }

    /// The harness names no implementation: every fact about one (reference, runtime label, which
    /// benchmarks cover it) is in `manifest/`. Only tests and fixtures may name them, plus the
    /// exceptions below, each with its reason.
    #[test]
    fn harness_code_names_no_implementation() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (impls, micro) = load_all(&root.join("../manifest")).unwrap();
        let mut names: Vec<String> = impls.into_iter().map(|i| i.name).collect();
        names.extend(micro.map(|m| m.name));
        // (file under harness/src, why it may name implementations)
        let allowed = [
            // The colour-blind-safe palette hand-picks a style per shipped implementation; reports
            // rendered from a results file have no manifest to read styles from (until results carry
            // them, unknown names get a stable hashed style).
            ("report/palette.rs", "styles"),
            // Results files written before `reference` existed: rust-join-all was then the reference.
            ("results/store.rs", "legacy files"),
        ];
        let mut files = Vec::new();
        rust_files(&root.join("src"), &mut files);
        let mut offenders = Vec::new();
        for f in files {
            let rel = f
                .strip_prefix(root.join("src"))
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel.ends_with("_tests.rs") || allowed.iter().any(|(a, _)| *a == rel) {
                continue;
            }
            let src = std::fs::read_to_string(&f).unwrap();
            for (line, name) in names_in_code(&src, &names) {
                offenders.push(format!("harness/src/{rel}:{line} names {name}"));
            }
        }
        assert!(
            offenders.is_empty(),
            "implementation facts belong in manifest/ (docs/MANIFEST.md):\n{}",
            offenders.join("\n")
        );
    }
}
