//! Diagnostics as data: every `tests/diagnostics/<case>.kdl` is compiled and its
//! rendered report is an insta snapshot. A case's first line says which codes it
//! must produce (`// expect: E101 W103`), so a snapshot cannot drift silently.

mod support;

use std::collections::BTreeSet;

use infrac_core::Code;

#[test]
fn diagnostics() {
    let dir = support::workspace().join("tests/diagnostics");
    insta::glob!("diagnostics/*.kdl", |path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        let compilation = support::compile_in(&dir, name);
        let report = infrac_core::render::render_human(
            &compilation.sources,
            &compilation.diagnostics,
            false,
        );
        let produced: BTreeSet<&str> = compilation
            .diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .collect();
        assert_eq!(
            produced,
            expected_codes(path),
            "{name}: codes differ\n{report}"
        );
        insta::assert_snapshot!(report);
    });
}

fn expected_codes(path: &std::path::Path) -> BTreeSet<&'static str> {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or_default();
    let list = first
        .strip_prefix("// expect:")
        .unwrap_or_else(|| panic!("{} must start with `// expect: CODE…`", path.display()));
    list.split_whitespace()
        .map(|code| {
            code.parse::<Code>()
                .unwrap_or_else(|()| panic!("unknown code {code}"))
                .as_str()
        })
        .collect()
}

/// Every code the compiler can report is exercised by at least one case.
#[test]
fn every_code_has_a_case() {
    let dir = support::workspace().join("tests/diagnostics");
    let mut covered = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "kdl") {
            covered.extend(expected_codes(&path));
        }
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !covered.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a case in tests/diagnostics: {missing:?}"
    );
}

/// Half-written sources never crash the compiler: every case and every example
/// file is compiled with each of its lines deleted in turn (which unbalances
/// blocks, drops values, orphans references) and must come back with
/// diagnostics, never a panic.
#[test]
fn deleting_any_line_never_panics() {
    let workspace = support::workspace();
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in [
        "tests/diagnostics",
        "examples/vps",
        "examples/vps/stacks",
        "examples/homeserver",
        "examples/cluster",
        "examples/cluster/stacks",
        "tests/fixtures/firewall",
        "tests/fixtures/cluster",
    ] {
        for entry in std::fs::read_dir(workspace.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "kdl") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut compiled = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for skip in 0..lines.len() {
            let mutated: String = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            let loader = Single(mutated);
            let outcome = std::panic::catch_unwind(|| infrac_core::compile("case.kdl", &loader));
            assert!(
                outcome.is_ok(),
                "{} without line {} panics",
                file.display(),
                skip + 1
            );
            compiled += 1;
        }
    }
    assert!(compiled > 500, "only {compiled} mutants compiled");
}

/// One in-memory file; includes resolve to nothing.
struct Single(String);

impl infrac_core::SourceLoader for Single {
    fn load(&self, path: &str) -> Result<String, infrac_core::LoadError> {
        if path == "case.kdl" {
            Ok(self.0.clone())
        } else {
            Err(infrac_core::LoadError::NotFound)
        }
    }
}
