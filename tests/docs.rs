//! Documentation that code depends on: the generated language reference is
//! fresh, and every diagnostic code has exactly one page with the fixed headings.

mod support;

use infrac_core::Code;

const PAGE_HEADINGS: [&str; 3] = ["## What it means", "## Example", "## How to fix"];

#[test]
fn reference_is_generated_from_the_schema() {
    let path = support::workspace().join("docs/reference/language.md");
    let generated = infrac_core::reference::reference_markdown();
    if std::env::var_os("INFRAC_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/reference/language.md is stale: run `INFRAC_UPDATE_DOCS=1 cargo test --test docs` and commit it"
    );
}

#[test]
fn every_code_has_one_page_with_the_fixed_headings() {
    for code in Code::ALL {
        let page = code.docs();
        let title = format!("# {code}: {}", code.title());
        assert!(
            page.starts_with(&title),
            "docs/diagnostics/{code}.md must start with `{title}`"
        );
        for heading in PAGE_HEADINGS {
            assert!(
                page.contains(heading),
                "docs/diagnostics/{code}.md lacks `{heading}`"
            );
        }
    }
    for entry in std::fs::read_dir(support::workspace().join("docs/diagnostics")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let code = name.trim_end_matches(".md");
        assert!(
            code.parse::<Code>().is_ok(),
            "docs/diagnostics/{name} documents no known code"
        );
    }
}
