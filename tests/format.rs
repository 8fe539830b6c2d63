//! `infrac fmt` as data: every `tests/format/<case>.kdl` formats to its insta
//! snapshot; formatting is idempotent and keeps every comment, in order, on
//! these cases and on every `.kdl` file of the repository; the examples and
//! fixtures are already formatted.

mod support;

use std::path::{Path, PathBuf};

/// The comments of a KDL text in order, found without the formatter's lexer:
/// `//` to the end of the line and `/* */` (nested), outside quoted, raw and
/// multi-line strings.
fn comments(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize, s: &str| {
        s.chars()
            .enumerate()
            .all(|(k, c)| chars.get(i + k) == Some(&c))
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '#' && matches!(chars.get(i + 1), Some('#' | '"')) {
            let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
            let closing: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            i += hashes + 1;
            while i < chars.len() && !at(i, &closing) {
                i += 1;
            }
            i += closing.chars().count();
        } else if at(i, "\"\"\"") {
            i += 3;
            while i < chars.len() && !at(i, "\"\"\"") {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 3;
        } else if chars[i] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if at(i, "//") {
            let end = (i..chars.len())
                .find(|&j| chars[j] == '\n')
                .unwrap_or(chars.len());
            found.push(
                chars[i..end]
                    .iter()
                    .collect::<String>()
                    .trim_end()
                    .to_string(),
            );
            i = end;
        } else if at(i, "/*") {
            let (mut depth, mut j) = (0, i);
            while j < chars.len() {
                if at(j, "/*") {
                    depth += 1;
                    j += 2;
                } else if at(j, "*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            found.push(chars[i..j.min(chars.len())].iter().collect());
            i = j;
        } else {
            i += 1;
        }
    }
    found
}

fn check_layout(path: &Path, text: &str) -> Option<String> {
    let formatted = infrac_core::format::format_source(text)?;
    assert_eq!(
        infrac_core::format::format_source(&formatted).as_deref(),
        Some(formatted.as_str()),
        "{}: formatting twice changes it",
        path.display()
    );
    assert_eq!(
        comments(&formatted),
        comments(text),
        "{}: comments changed",
        path.display()
    );
    Some(formatted)
}

#[test]
fn cases_format_to_their_snapshots() {
    insta::glob!("format/*.kdl", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let formatted = check_layout(path, &text).expect("the case is valid KDL");
        assert!(
            comments(&text).len() >= 8,
            "the case should hold comments everywhere"
        );
        insta::assert_snapshot!(formatted);
    });
}

fn kdl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            kdl_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "kdl") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_formats_idempotently_and_keeps_its_comments() {
    let workspace = support::workspace();
    let mut files = Vec::new();
    for dir in ["examples", "tests", "schema", "stdlib"] {
        if workspace.join(dir).is_dir() {
            kdl_files(&workspace.join(dir), &mut files);
        }
    }
    let mut formatted = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // The nesting case would exhaust a test thread's stack in the parser.
        if text.len() > 20_000 || file.ends_with("nesting-too-deep.kdl") {
            continue;
        }
        if check_layout(file, &text).is_some() {
            formatted += 1;
        }
    }
    assert!(formatted > 60, "only {formatted} files formatted");
}

#[test]
fn examples_and_fixtures_are_formatted() {
    for project in [
        "examples/vps",
        "examples/homeserver",
        "examples/cluster",
        "tests/fixtures/firewall",
        "tests/fixtures/cluster",
        "tests/fixtures/tricky-values.kdl",
    ] {
        let (ok, stdout, stderr) = support::run(
            support::infrac()
                .arg("fmt")
                .arg(support::workspace().join(project))
                .arg("--check"),
        );
        assert!(ok, "{project} is not formatted:\n{stdout}{stderr}");
    }
    let dir = support::scratch_dir("fmt");
    let file = dir.join("infrac.kdl");
    std::fs::write(&file, "host \"a\" {\n  os debian-12\n}\n").unwrap();
    let (ok, stdout, _) = support::run(support::infrac().arg("fmt").arg(&file).arg("--check"));
    assert!(!ok && stdout.contains("+    os \"debian-12\""), "{stdout}");
    let (ok, _, stderr) = support::run(support::infrac().arg("fmt").arg(&file));
    assert!(ok, "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "host \"a\" {\n    os \"debian-12\"\n}\n"
    );
}
