//! The language reference, generated from the schema. In: the schema tree.
//! Out: the markdown of `docs/reference/language.md` (a test keeps it fresh).

use kdl::KdlValue;

use crate::schema::{NodeSchema, PropertySchema, schema};

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

/// The docs page of a standard-library component, from its source: its
/// documentation, its examples, its parameters and what it produces.
pub fn component_markdown(source: &str) -> Result<String, String> {
    use crate::schema::keys::component;
    let document = kdl::KdlDocument::parse(source).map_err(|e| format!("{e:?}"))?;
    let node = document
        .nodes()
        .iter()
        .find(|n| n.name().value() == crate::schema::keys::COMPONENT.0)
        .ok_or("no `component` node")?;
    let name = first_string(node).ok_or("the component has no name")?;
    let children = node.children().map(|c| c.nodes()).unwrap_or_default();
    let strings_of = |key: crate::schema::Node| -> Vec<String> {
        children
            .iter()
            .filter(|c| c.name().value() == key.0)
            .filter_map(first_string)
            .collect()
    };
    let doc = strings_of(component::DOC).join("\n\n");
    let mut out = format!(
        "# Component `{name}`\n\n\
         Generated from `stdlib/{name}.kdl` by `cargo test` (set `INFRAC_UPDATE_DOCS=1` to rewrite it); \
         do not edit by hand.\n\n{}\n",
        doc.trim()
    );
    out.push_str("\n## Use\n\n```kdl\n");
    for example in strings_of(component::EXAMPLE) {
        out.push_str(&format!("{example}\n"));
    }
    out.push_str("```\n\nInside a `stack`; the second argument is the instance's name.\n");
    let params: Vec<PropertySchema> = children
        .iter()
        .filter(|c| c.name().value() == component::PARAM.0)
        .map(crate::schema::param_schema)
        .collect::<Result<_, _>>()?;
    if !params.is_empty() {
        out.push_str(
            "\n## Parameters\n\n| parameter | type | required | default | description |\n|---|---|---|---|---|\n",
        );
        for param in &params {
            let default = param
                .default
                .as_ref()
                .map(|d| format!("`{}`", kdl_value(d)))
                .unwrap_or_default();
            out.push_str(&format!(
                "| `{}` | {} | {} | {default} | {} |\n",
                param.name,
                param.ty.describe(),
                yes_no(param.required),
                cell(&param.doc)
            ));
        }
    }
    let mut produced = Vec::new();
    produced_nodes(children, &mut produced, None);
    if !produced.is_empty() {
        out.push_str("\n## Produces\n\n");
        for line in produced {
            out.push_str(&format!("- {line}\n"));
        }
    }
    Ok(out)
}

/// The services and middlewares a component's body declares, with the
/// parameter a `when` makes them depend on.
fn produced_nodes(nodes: &[kdl::KdlNode], out: &mut Vec<String>, condition: Option<&str>) {
    use crate::schema::keys::{self, component};
    for node in nodes {
        let kind = node.name().value();
        if kind == component::WHEN.0 {
            let param = first_string(node).unwrap_or_default();
            let children = node.children().map(|c| c.nodes()).unwrap_or_default();
            produced_nodes(children, out, Some(&param));
        } else if kind == keys::stack::SERVICE.0 || kind == keys::MIDDLEWARE.0 {
            let name = first_string(node)
                .unwrap_or_default()
                .replace("{{name}}", "<name>");
            let when = condition
                .map(|p| format!(", when `{p}` is set"))
                .unwrap_or_default();
            out.push(format!("{kind} `{name}`{when}"));
        }
    }
}

fn first_string(node: &kdl::KdlNode) -> Option<String> {
    node.entries()
        .iter()
        .find(|e| e.name().is_none())
        .and_then(|e| e.value().as_string())
        .map(str::to_string)
}
