//! The incremental results writer of a run. A run saves `results.json` after every trial; a save that
//! fails (disk full, the output directory removed or made unwritable mid-run) must not end the run or
//! lose what was measured: the writer recreates the directory and retries, the run keeps measuring
//! (every later save retries), the user is warned once per failure streak, and the final save falls
//! back to a path it names.

use super::model::Results;
use super::store::write_file_atomic_with;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where a run's results go, and how saving has fared.
#[derive(Debug)]
pub struct ResultsWriter {
    path: PathBuf,
    /// The error of the current failure streak, if the last save failed.
    failing: Option<String>,
    /// Saves that failed (after their retry), over the whole run.
    pub failed_saves: u64,
    /// Test hook: fail this many more writes with ENOSPC.
    #[cfg(test)]
    inject_enospc: u32,
}

/// How one save went.
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    Ok,
    /// Saved, after recreating the missing output directory (say so once).
    Recreated(PathBuf),
    /// Saved again after a failure streak.
    Recovered,
    /// Failed; the first failure of a streak carries the warning to print, later ones `None`.
    Failed(Option<String>),
}

impl ResultsWriter {
    pub fn new(path: PathBuf) -> Self {
        ResultsWriter {
            path,
            failing: None,
            failed_saves: 0,
            #[cfg(test)]
            inject_enospc: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves `results`; on failure recreates the directory and retries once. Never fails the run.
    pub fn save(&mut self, results: &Results) -> Saved {
        let bytes = match serde_json::to_vec_pretty(results) {
            Ok(b) => b,
            Err(e) => return self.failed(format!("serialising results: {e}")),
        };
        match self.write(&self.path.clone(), &bytes) {
            Ok(()) => self.succeeded(Saved::Ok),
            Err(first) => {
                let dir = self
                    .path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."));
                let recreated = !dir.is_dir() && std::fs::create_dir_all(&dir).is_ok();
                match self.write(&self.path.clone(), &bytes) {
                    Ok(()) if recreated => self.succeeded(Saved::Recreated(dir)),
                    Ok(()) => self.succeeded(Saved::Ok),
                    Err(second) => {
                        let why = if recreated {
                            format!("{second:#}")
                        } else {
                            format!("{first:#}")
                        };
                        self.failed(why)
                    }
                }
            }
        }
    }

    /// The last save of a run: the results path if it can be written (after a retry), else a fallback
    /// in the temporary directory, else in the current directory. Returns where the results are.
    pub fn finish(&mut self, results: &Results) -> anyhow::Result<PathBuf> {
        match self.save(results) {
            Saved::Ok | Saved::Recreated(_) | Saved::Recovered => return Ok(self.path.clone()),
            Saved::Failed(_) => {}
        }
        let bytes = serde_json::to_vec_pretty(results)?;
        let id = if results.run_id.is_empty() {
            "run".to_string()
        } else {
            results.run_id.clone()
        };
        let candidates = [
            std::env::temp_dir().join(format!("asyncbench-{id}")),
            std::env::current_dir().unwrap_or_default(),
        ];
        let mut errors = vec![self.failing.clone().unwrap_or_default()];
        for dir in candidates {
            let path = dir.join(format!("asyncbench-results-{id}.json"));
            let attempt = std::fs::create_dir_all(&dir)
                .map_err(anyhow::Error::from)
                .and_then(|_| self.write(&path, &bytes));
            match attempt {
                Ok(()) => return Ok(path),
                Err(e) => errors.push(format!("{}: {e:#}", path.display())),
            }
        }
        anyhow::bail!(
            "could not save the results anywhere ({}); free disk space or pass a writable --out",
            errors.join("; ")
        )
    }

    fn write(&mut self, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        #[cfg(test)]
        if self.inject_enospc > 0 {
            self.inject_enospc -= 1;
            return write_file_atomic_with(path, bytes, |_, _| {
                Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
            });
        }
        write_file_atomic_with(path, bytes, |f, b| f.write_all(b))
    }

    fn succeeded(&mut self, how: Saved) -> Saved {
        if self.failing.take().is_some() {
            return Saved::Recovered;
        }
        how
    }

    fn failed(&mut self, why: String) -> Saved {
        self.failed_saves += 1;
        let first = self.failing.is_none();
        self.failing = Some(why.clone());
        Saved::Failed(first.then(|| {
            format!(
                "warning: saving {} failed ({why}); measuring goes on, every later save retries, and the end of the run names where the results went",
                self.path.display()
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::SCHEMA_VERSION;

    fn results(id: &str) -> Results {
        Results {
            schema_version: SCHEMA_VERSION,
            run_id: id.into(),
            environment: Default::default(),
            implementations: Vec::new(),
            cells: Vec::new(),
        }
    }

    fn saved(path: &Path) -> Results {
        crate::results::load(path).unwrap()
    }

    #[test]
    fn a_removed_output_directory_is_recreated() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        std::fs::create_dir(&out).unwrap();
        let mut w = ResultsWriter::new(out.join("results.json"));
        assert_eq!(w.save(&results("a")), Saved::Ok);
        std::fs::remove_dir_all(&out).unwrap();
        assert_eq!(w.save(&results("b")), Saved::Recreated(out.clone()));
        assert_eq!(saved(&out.join("results.json")).run_id, "b");
    }

    #[test]
    fn a_full_disk_warns_once_keeps_going_and_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        let mut w = ResultsWriter::new(path.clone());
        assert_eq!(w.save(&results("a")), Saved::Ok);
        // Each save writes twice (try, retry): two saves fail.
        w.inject_enospc = 4;
        let Saved::Failed(Some(warning)) = w.save(&results("b")) else {
            panic!("first failure warns")
        };
        assert!(warning.contains("No space left on device"), "{warning}");
        assert!(warning.contains("measuring goes on"), "{warning}");
        assert_eq!(w.save(&results("c")), Saved::Failed(None), "warned once");
        // The last good save is intact, no temporary file is left behind.
        assert_eq!(saved(&path).run_id, "a");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert_eq!(w.save(&results("d")), Saved::Recovered);
        assert_eq!(saved(&path).run_id, "d");
        assert_eq!(w.failed_saves, 2);
    }

    #[test]
    fn an_unwritable_destination_falls_back_to_a_named_path() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where the output directory should be: nothing can be created under it.
        let blocker = dir.path().join("out");
        std::fs::write(&blocker, "not a directory").unwrap();
        let mut w = ResultsWriter::new(blocker.join("results.json"));
        assert!(matches!(w.save(&results("x")), Saved::Failed(Some(_))));
        let id = format!("test-{}", std::process::id());
        let at = w.finish(&results(&id)).unwrap();
        assert_ne!(at, blocker.join("results.json"));
        assert!(at.to_string_lossy().contains(&id), "{}", at.display());
        assert_eq!(saved(&at).run_id, id);
        let _ = std::fs::remove_dir_all(at.parent().unwrap());
    }

    #[test]
    fn atomic_writes_replace_a_symlink_instead_of_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("report.html");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        crate::results::write_file_atomic(&link, b"report").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "report");
    }
}
