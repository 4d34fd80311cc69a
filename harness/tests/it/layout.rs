//! The layout of the integration tests themselves: every test is a module of this one binary.

use std::path::Path;

/// A test file dropped directly into `tests/` would build a second test binary (and link the harness
/// again); a file in `tests/it/` that `main.rs` does not declare would never run at all.
#[test]
fn every_test_file_is_a_module_of_the_one_test_binary() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut strays: Vec<String> = std::fs::read_dir(&tests)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") || p.join("main.rs").is_file())
        .filter(|p| !p.ends_with("it"))
        .map(|p| p.display().to_string())
        .collect();
    strays.sort();
    assert!(
        strays.is_empty(),
        "move these into tests/it/ and declare them in tests/it/main.rs: {strays:?}"
    );

    let it = tests.join("it");
    let main = std::fs::read_to_string(it.join("main.rs")).unwrap();
    let mut undeclared: Vec<String> = std::fs::read_dir(&it)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let module = name.strip_suffix(".rs")?.to_string();
            (module != "main").then_some(module)
        })
        .filter(|m| !main.lines().any(|l| l.trim() == format!("mod {m};")))
        .collect();
    undeclared.sort();
    assert!(
        undeclared.is_empty(),
        "declare these in tests/it/main.rs (`mod NAME;`), or they never run: {undeclared:?}"
    );
}
