//! Every example compiles to exactly what golden/<example>/ holds, and building
//! twice gives the same bytes. Regenerate golden/ by running the build:
//! `cargo run -- build examples/<name> --out golden/<name>`.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use similar::TextDiff;

fn read_tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                files.insert(relative, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    if root.is_dir() {
        walk(root, root, &mut files);
    }
    files
}

#[test]
fn examples_match_golden() {
    let examples = support::examples();
    assert!(
        examples.len() >= 2,
        "expected at least two examples, found {examples:?}"
    );
    let mut report = String::new();
    for example in examples {
        let built = support::build_example(&example);
        assert_eq!(
            built,
            support::build_example(&example),
            "{example}: two builds differ"
        );
        let golden = read_tree(&support::workspace().join("golden").join(&example));
        for (path, expected) in &golden {
            match built.get(path) {
                None => report.push_str(&format!(
                    "{example}: golden/{example}/{path} is no longer generated\n"
                )),
                Some(actual) if actual != expected => {
                    let diff = TextDiff::from_lines(expected, actual);
                    report.push_str(&format!(
                        "{}\n",
                        diff.unified_diff()
                            .header(&format!("golden/{example}/{path}"), "built")
                    ));
                }
                Some(_) => {}
            }
        }
        for path in built.keys().filter(|p| !golden.contains_key(*p)) {
            report.push_str(&format!(
                "{example}: {path} is generated but not in golden/{example}\n"
            ));
        }
    }
    assert!(
        report.is_empty(),
        "the build differs from golden/ (regenerate with `cargo run -- build examples/<name> --out golden/<name>` and review):\n{report}"
    );
}
