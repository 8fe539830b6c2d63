//! Hover text: on a declared name or a use of one, what it declares and
//! where; anywhere else, the schema's documentation of the node, argument or
//! property under the cursor with its type and allowed values.

use super::cursor::{SchemaItem, find_at};
use super::navigate::Index;
use crate::Compilation;
use crate::schema::{NodeSchema, ValueType};
use crate::source::{FileId, Span};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hover {
    pub markdown: String,
    /// What the hover is about: the name, node name or value under the cursor.
    pub span: Span,
}

pub fn hover(
    compilation: &Compilation,
    index: &Index,
    file: FileId,
    offset: usize,
) -> Option<Hover> {
    let text = &compilation.sources.file(file).text;
    let cursor = find_at(text, offset);
    let schema_doc = cursor.schema_item(text).map(describe);
    let span = Span {
        file,
        start: cursor.token.0,
        end: cursor.token.1,
    };
    if let Some(symbol) = index.at(file, offset) {
        let definition = symbol.definition;
        let source = compilation.sources.file(definition.file);
        let (line, _) = compilation
            .sources
            .line_column(definition.file, definition.start);
        let head = source.text.lines().nth(line - 1).unwrap_or_default().trim();
        let kind = symbol.key.kind.as_str();
        let mut markdown = match &symbol.stack {
            Some(stack) => format!("**{kind}** `{}` of stack `{stack}`", symbol.name),
            None => format!("**{kind}** `{}`", symbol.name),
        };
        markdown.push_str(&format!(
            "\n\n```kdl\n{head}\n```\n\nDeclared in `{}` line {line}; used {} time{}.",
            source.path,
            symbol.uses.len(),
            if symbol.uses.len() == 1 { "" } else { "s" }
        ));
        if let Some(doc) = schema_doc.filter(|_| !span.is_empty()) {
            markdown.push_str("\n\n---\n\n");
            markdown.push_str(&doc);
        }
        return Some(Hover { markdown, span });
    }
    schema_doc
        .filter(|_| !span.is_empty())
        .map(|markdown| Hover { markdown, span })
}

fn describe(item: SchemaItem) -> String {
    match item {
        SchemaItem::Node(node) => describe_node(node),
        SchemaItem::Argument(node, argument) => format!(
            "argument `{}` of `{}`: {}\n\n{}",
            argument.name,
            node.name,
            argument.ty.describe(),
            argument.doc
        ),
        SchemaItem::Property(node, property) => {
            let mut text = format!(
                "property `{}` of `{}`: {}{}\n\n{}",
                property.name,
                node.name,
                property.ty.describe(),
                if property.required { " (required)" } else { "" },
                property.doc
            );
            if let Some(default) = &property.default {
                text.push_str(&format!("\n\nDefault: `{default}`."));
            }
            text
        }
    }
}

fn describe_node(node: &NodeSchema) -> String {
    let mut text = format!("**`{}`**\n\n{}", node.name, node.doc.trim());
    let arguments: Vec<String> = node
        .arguments
        .iter()
        .map(|a| format!("- `{}`: {}", a.name, a.ty.describe()))
        .collect();
    if !arguments.is_empty() {
        text.push_str(&format!("\n\nArguments:\n{}", arguments.join("\n")));
    }
    let properties: Vec<String> = node
        .properties
        .iter()
        .map(|p| {
            let required = if p.required { " (required)" } else { "" };
            let ty = match &p.ty {
                ValueType::Enum { values, .. } => format!("one of {}", values.join(", ")),
                other => other.describe(),
            };
            format!("- `{}`{required}: {ty}", p.name)
        })
        .collect();
    if !properties.is_empty() {
        text.push_str(&format!("\n\nProperties:\n{}", properties.join("\n")));
    }
    if !node.children.is_empty() {
        text.push_str(&format!("\n\nChild nodes: {}.", node.children_list()));
    }
    text
}
