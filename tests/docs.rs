//! Documentation that code depends on: the generated language reference is
//! fresh, and every diagnostic code has exactly one page with the fixed headings.

mod support;

use std::collections::BTreeSet;

use infrac_core::Code;
use infrac_core::schema::{NodeSchema, schema};

const PAGE_HEADINGS: [&str; 3] = ["## What it means", "## Example", "## How to fix"];

#[test]
fn reference_is_generated_from_the_schema() {
    check_generated(
        "docs/reference/language.md",
        &infrac_core::reference::reference_markdown(),
    );
}

/// Lowering reads nodes and properties through constants generated from the
/// schema, so a name that the schema does not have is a compile error.
#[test]
fn schema_keys_are_generated_from_the_schema() {
    check_generated(
        "compiler/core/src/schema/keys.rs",
        &infrac_core::schema::codegen::keys_source(),
    );
}

/// A committed file that a generator writes must equal its output;
/// `INFRAC_UPDATE_DOCS=1` rewrites it.
fn check_generated(relative: &str, generated: &str) {
    let path = support::workspace().join(relative);
    if std::env::var_os("INFRAC_UPDATE_DOCS").is_some() {
        std::fs::write(&path, generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{relative} is stale: run `INFRAC_UPDATE_DOCS=1 cargo test --test docs` and commit it"
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

/// Every node, argument and property of the schema is written somewhere in an
/// example, a fixture or a diagnostic case, so none exists untested.
#[test]
fn every_schema_entry_is_exercised() {
    let workspace = support::workspace();
    let mut used = BTreeSet::new();
    let mut files = Vec::new();
    for dir in ["examples", "tests/fixtures", "tests/diagnostics", "stdlib"] {
        collect_kdl(&workspace.join(dir), &mut files);
    }
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // The nesting case is deep enough to exhaust a test thread's stack in
        // the KDL parser (infrac itself refuses it before parsing).
        let parsed = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || kdl::KdlDocument::parse(&text).ok())
            .unwrap()
            .join()
            .unwrap();
        if let Some(document) = parsed {
            record(schema(), "", document.nodes(), &mut used);
        }
    }
    let mut missing = Vec::new();
    expected(schema(), "", &mut |entry| {
        if !used.contains(&entry) {
            missing.push(entry);
        }
    });
    assert!(
        missing.is_empty(),
        "schema entries no example, fixture or case writes: {missing:#?}"
    );
}

fn collect_kdl(dir: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_kdl(&path, files);
        } else if path.extension().is_some_and(|e| e == "kdl") {
            files.push(path);
        }
    }
}

fn record(parent: &NodeSchema, path: &str, nodes: &[kdl::KdlNode], used: &mut BTreeSet<String>) {
    for node in nodes {
        let Some(schema) = parent.child(node.name().value()) else {
            continue;
        };
        let here = format!("{path}/{}", schema.name);
        used.insert(here.clone());
        let mut position = 0;
        for entry in node.entries() {
            match entry.name() {
                Some(key) => {
                    used.insert(format!("{here} {}=", key.value()));
                }
                None => {
                    let index = position.min(schema.arguments.len().saturating_sub(1));
                    if let Some(argument) = schema.arguments.get(index) {
                        used.insert(format!("{here} <{}>", argument.name));
                    }
                    position += 1;
                }
            }
        }
        if let Some(children) = node.children() {
            record(schema, &here, children.nodes(), used);
        }
    }
}

/// Every entry a source can write. A node written `like` another must be
/// written itself, with its own properties; what it shares with its model is
/// exercised there.
fn expected(parent: &NodeSchema, path: &str, found: &mut dyn FnMut(String)) {
    for schema in &parent.children {
        let here = format!("{path}/{}", schema.name);
        found(here.clone());
        let model = schema
            .like
            .as_deref()
            .and_then(|like| infrac_core::schema::schema().descendant(like.split('/')));
        let shared_argument =
            |name: &str| model.is_some_and(|m| m.arguments.iter().any(|a| a.name == name));
        let shared_property = |name: &str| model.is_some_and(|m| m.property(name).is_some());
        for argument in schema
            .arguments
            .iter()
            .filter(|a| !shared_argument(&a.name))
        {
            found(format!("{here} <{}>", argument.name));
        }
        for property in schema
            .properties
            .iter()
            .filter(|p| !shared_property(&p.name))
        {
            found(format!("{here} {}=", property.name));
        }
        if model.is_none() {
            expected(schema, &here, found);
        }
    }
}

/// Every component of the standard library has a page, generated from its source.
#[test]
fn stdlib_pages_are_generated_from_the_components() {
    let mut listed = BTreeSet::new();
    for (name, source) in infrac_core::stdlib::COMPONENTS {
        let page = infrac_core::reference::component_markdown(source)
            .unwrap_or_else(|e| panic!("stdlib/{name}.kdl: {e}"));
        check_generated(&format!("docs/stdlib/{name}.md"), &page);
        listed.insert(name.to_string());
    }
    for entry in std::fs::read_dir(support::workspace().join("stdlib")).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(name) = file.strip_suffix(".kdl") {
            assert!(
                listed.contains(name),
                "stdlib/{file} is not embedded: list it in compiler/core/src/stdlib.rs"
            );
        }
    }
}
