//! Fixes as data. Each `tests/fixes/<case>.kdl` holds problems with one right
//! answer; `infrac check --fix` (the core's fixer) must turn it into a file
//! that compiles without a diagnostic, and the fixed text is an insta snapshot.
//! On every diagnostic case, fixing leaves no safe fix unapplied.

mod support;

#[test]
fn fixable_cases_become_clean() {
    let dir = support::workspace().join("tests/fixes");
    insta::glob!("fixes/*.kdl", |path| {
        let name = path.file_name().unwrap().to_str().unwrap();
        let fixed = infrac_core::fix::fix(name, &support::DirLoader(dir.clone()), false);
        let report = infrac_core::render::render_human(
            &fixed.compilation.sources,
            &fixed.compilation.diagnostics,
            false,
        );
        assert!(
            fixed.compilation.diagnostics.is_empty(),
            "{name} is not clean after fixing:\n{report}"
        );
        insta::assert_snapshot!(fixed.files[name].as_str());
    });
}

#[test]
fn fixing_the_diagnostic_cases_leaves_no_safe_fix() {
    let dir = support::workspace().join("tests/diagnostics");
    let mut fixed_cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "kdl") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let fixed = infrac_core::fix::fix(&name, &support::DirLoader(dir.clone()), false);
        let left: Vec<String> = fixed
            .compilation
            .diagnostics
            .iter()
            .filter(|d| {
                d.fixes
                    .iter()
                    .any(|f| f.applicability == infrac_core::diagnostic::Applicability::Safe)
            })
            .map(|d| format!("{}: {}", d.code, d.message))
            .collect();
        assert!(
            left.is_empty(),
            "{name}: safe fixes left after fixing: {left:#?}"
        );
        if !fixed.files.is_empty() {
            fixed_cases += 1;
        }
    }
    assert!(
        fixed_cases >= 6,
        "only {fixed_cases} cases had anything to fix"
    );
}
