//! Conformance: every implementation in `manifest/`, in every language, is built and verified with the
//! same checks the harness runs before measuring (echo byte-for-byte under concurrency, fan-out and
//! stream checksums, clean shutdown). In CI (`CI` set) a missing toolchain fails the test; locally it is
//! reported and skipped, so a contributor without Mono can still run the suite.

use crate::common::*;

#[test]
fn every_implementation_builds_and_passes_verification() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args([
            "verify",
            "--workload",
            "echo,fanout,stream,futures",
            "--root",
        ])
        .arg(repo_root())
        .arg("--out")
        .arg(out_dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = std::fs::read_to_string(out_dir.path().join("results.json"))
        .unwrap_or_else(|_| panic!("verify wrote no results.json:\n{stderr}"));
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_valid_results(&r);
    let ci = std::env::var_os("CI").is_some();
    let mut problems = Vec::new();
    let mut verified = Vec::new();
    for imp in r["implementations"].as_array().unwrap() {
        let name = imp["name"].as_str().unwrap();
        let reason = imp["reason"].as_str().unwrap_or("");
        match imp["status"].as_str().unwrap() {
            "ok" => verified.push(name.to_string()),
            "skipped"
                if !ci
                    && (reason.contains("no usable toolchain") || reason.contains("preflight")) =>
            {
                eprintln!("NOTE: {name} skipped here (CI would fail): {reason}")
            }
            status => problems.push(format!("{name}: {status}: {reason}")),
        }
        for v in imp["verification"].as_array().into_iter().flatten() {
            assert!(
                v["passed"].as_bool().unwrap() || !problems.is_empty(),
                "{name}: {v}"
            );
        }
    }
    assert!(
        problems.is_empty(),
        "implementations that failed:\n{}\n\n{stderr}",
        problems.join("\n")
    );
    // Every language must be represented by at least one verified implementation.
    for language in ["rust", "go", "javascript", "csharp", "python"] {
        let any = r["implementations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["language"] == language && i["status"] == "ok");
        assert!(any || !ci, "no verified {language} implementation");
    }
    // The futures catalogue was really produced (it has no separate verification step).
    eprintln!("verified: {}", verified.join(", "));
}
