//! The language reference, generated from the schema. In: the schema tree.
//! Out: the markdown of `docs/reference/language.md` (a test keeps it fresh).

use kdl::KdlValue;

use crate::schema::{NodeSchema, schema};

pub fn reference_markdown() -> String {
    let mut out = String::from(
        "# Language reference\n\n\
         Generated from `schema/infrac.kdl` by `cargo test` (set `INFRAC_UPDATE_DOCS=1` to rewrite it); \
         do not edit by hand.\n\n\
         Sources are KDL 2.0: strings are quoted (`image=\"postgres:16.4\"`), booleans are \
         `#true` / `#false`. Names are DNS labels: a-z, 0-9 and `-`, at most 63 characters.\n",
    );
    for node in &schema().children {
        write_node(&mut out, node, &[]);
    }
    out
}

fn write_node(out: &mut String, node: &NodeSchema, parents: &[&str]) {
    let mut path: Vec<&str> = parents.to_vec();
    path.push(&node.name);
    let heading = "#".repeat((path.len() + 1).min(4));
    let title: Vec<String> = path.iter().map(|p| format!("`{p}`")).collect();
    out.push_str(&format!("\n{heading} {}\n\n", title.join(" › ")));
    let mut traits = Vec::new();
    if node.required {
        traits.push("required");
    }
    traits.push(if node.repeat {
        "may appear several times"
    } else {
        "at most once"
    });
    out.push_str(&format!("*{}*\n\n{}\n", traits.join(", "), node.doc.trim()));
    if !node.defaults.is_empty() {
        let defaults: Vec<String> = node
            .defaults
            .iter()
            .map(|d| {
                let values: Vec<String> =
                    d.entries().iter().map(|e| kdl_value(e.value())).collect();
                format!("`{} {}`", node.name, values.join(" "))
            })
            .collect();
        out.push_str(&format!("\nWhen not written: {}.\n", defaults.join(", ")));
    }

    if !node.arguments.is_empty() {
        out.push_str("\n| argument | type | required | description |\n|---|---|---|---|\n");
        for argument in &node.arguments {
            let (name, required) = match argument.variadic_min {
                Some(min) => (
                    format!("{}…", argument.name),
                    format!("at least {}", min.max(1)),
                ),
                None => (argument.name.clone(), yes_no(argument.required).to_string()),
            };
            out.push_str(&format!(
                "| `{name}` | {} | {required} | {} |\n",
                argument.ty.describe(),
                cell(&argument.doc)
            ));
        }
    }
    if !node.properties.is_empty() {
        out.push_str("\n| property | type | required | description |\n|---|---|---|---|\n");
        for property in &node.properties {
            let mut doc = cell(&property.doc);
            if let Some(default) = &property.default {
                doc.push_str(&format!(" Default: `{}`.", kdl_value(default)));
            }
            out.push_str(&format!(
                "| `{}` | {} | {} | {doc} |\n",
                property.name,
                property.ty.describe(),
                yes_no(property.required),
            ));
        }
    }
    if !node.children.is_empty() {
        out.push_str(&format!("\nChild nodes: {}.\n", node.children_list()));
    }
    for child in &node.children {
        write_node(out, child, &path);
    }
}

/// A value as a source writes it: strings always quoted.
fn kdl_value(value: &KdlValue) -> String {
    match value {
        KdlValue::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "yes" } else { "no" }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
