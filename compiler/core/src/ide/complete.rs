//! Completions at a cursor from the schema (node names valid in the block,
//! properties not yet written, enum values) and from the declared names
//! (`refers=` entries: hosts, secrets, the stack's services, …).

use std::collections::BTreeSet;

use super::cursor::{At, Cursor, find_at};
use super::navigate::Index;
use crate::names::Kind;
use crate::schema::{NodeSchema, ValueType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionKind {
    Node,
    Property,
    /// An enum member or a keyword.
    Value,
    /// A declared name of this kind.
    Reference(Kind),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub label: String,
    pub kind: CompletionKind,
    /// One line: the type, or what the name is.
    pub detail: String,
    /// Markdown.
    pub documentation: String,
    /// The text that replaces `replace`.
    pub insert: String,
    /// The byte range replaced: the word or string being typed.
    pub replace: (usize, usize),
}

/// The declared names completion offers: `(kind, stack for services, name)`.
/// The language server adds the names of the last compilation without syntax
/// errors, so a file being typed still completes what it declared before.
#[derive(Clone, Debug, Default)]
pub struct Names(BTreeSet<(Kind, Option<String>, String)>);

impl Names {
    pub fn add(&mut self, index: &Index) {
        for symbol in &index.symbols {
            self.0
                .insert((symbol.key.kind, symbol.stack.clone(), symbol.name.clone()));
        }
    }

    pub fn merge(&mut self, other: &Names) {
        self.0.extend(other.0.iter().cloned());
    }

    fn of(&self, kind: Kind, stack: Option<&str>) -> impl Iterator<Item = &str> {
        let mut seen = BTreeSet::new();
        self.0
            .iter()
            .filter(move |(k, s, _)| *k == kind && (kind != Kind::Service || s.as_deref() == stack))
            .map(|(_, _, name)| name.as_str())
            .filter(move |name| seen.insert(*name))
    }
}

/// Completions at `offset` of `text`.
pub fn complete(text: &str, offset: usize, names: &Names) -> Vec<Completion> {
    let cursor = find_at(text, offset);
    let in_string = text
        .get(cursor.token.0..)
        .is_some_and(|t| t.starts_with('"') || t.starts_with('#'));
    let mut out = Vec::new();
    match &cursor.at {
        At::NodeName => {
            if let Some(block) = cursor.block_schema() {
                out.extend(node_names(block, &cursor));
            }
        }
        At::Entry { argument } => {
            if let Some(node) = cursor.node_schema() {
                if !in_string {
                    out.extend(property_names(node, &cursor));
                }
                if let Some(argument) = node.argument(*argument) {
                    out.extend(values(
                        &argument.ty,
                        argument.refers.as_deref(),
                        &cursor,
                        names,
                    ));
                }
            }
        }
        At::PropertyName { .. } => {
            if let Some(node) = cursor.node_schema() {
                out.extend(property_names(node, &cursor).map(|mut c| {
                    // The `=` is already there.
                    c.insert = c.label.clone();
                    c
                }));
            }
        }
        At::PropertyValue { property } => {
            if let Some(property) = cursor.node_schema().and_then(|n| n.property(property)) {
                out.extend(values(
                    &property.ty,
                    property.refers.as_deref(),
                    &cursor,
                    names,
                ));
            }
        }
        At::Nothing => {}
    }
    out
}

fn first_line(doc: &str) -> String {
    doc.trim().lines().next().unwrap_or_default().to_string()
}

fn node_names<'a>(
    block: &'a NodeSchema,
    cursor: &'a Cursor,
) -> impl Iterator<Item = Completion> + 'a {
    block
        .children
        .iter()
        .filter(|child| child.repeat || !cursor.siblings.contains(&child.name))
        .map(|child| Completion {
            label: child.name.clone(),
            kind: CompletionKind::Node,
            detail: first_line(&child.doc),
            documentation: child.doc.trim().to_string(),
            insert: child.name.clone(),
            replace: cursor.token,
        })
}

fn property_names<'a>(
    node: &'a NodeSchema,
    cursor: &'a Cursor,
) -> impl Iterator<Item = Completion> + 'a {
    node.properties
        .iter()
        .filter(|p| !cursor.properties.contains(&p.name))
        .map(|p| Completion {
            label: p.name.clone(),
            kind: CompletionKind::Property,
            detail: p.ty.describe(),
            documentation: p.doc.clone(),
            insert: format!("{}=", p.name),
            replace: cursor.token,
        })
}

fn values(ty: &ValueType, refers: Option<&str>, cursor: &Cursor, names: &Names) -> Vec<Completion> {
    let quoted = |value: &str| format!("\"{value}\"");
    if let Some(kind) = refers.and_then(Kind::from_name) {
        let stack = cursor
            .parents
            .iter()
            .find(|p| p.node == "stack")
            .and_then(|p| p.label.as_deref());
        let this_service = cursor
            .parents
            .iter()
            .find(|p| p.node == "service")
            .and_then(|p| p.label.as_deref());
        return names
            .of(kind, stack)
            .filter(|name| kind != Kind::Service || Some(*name) != this_service)
            .map(|name| Completion {
                label: name.to_string(),
                kind: CompletionKind::Reference(kind),
                detail: match (kind, stack) {
                    (Kind::Service, Some(stack)) => format!("service of stack `{stack}`"),
                    _ => kind.as_str().to_string(),
                },
                documentation: String::new(),
                insert: quoted(name),
                replace: cursor.token,
            })
            .collect();
    }
    let keywords: Vec<(String, String)> = match ty {
        ValueType::Enum { values, .. } => values.iter().map(|v| (v.clone(), quoted(v))).collect(),
        ValueType::Bool => ["#true", "#false"]
            .iter()
            .map(|v| (v.to_string(), v.to_string()))
            .collect(),
        _ => Vec::new(),
    };
    keywords
        .into_iter()
        .map(|(label, insert)| Completion {
            label,
            kind: CompletionKind::Value,
            detail: ty.describe(),
            documentation: String::new(),
            insert,
            replace: cursor.token,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(marked: &str, names: &Names) -> Vec<String> {
        let offset = marked.find('|').unwrap();
        complete(&marked.replace('|', ""), offset, names)
            .into_iter()
            .map(|c| c.label)
            .collect()
    }

    #[test]
    fn schema_completions() {
        let names = Names::default();
        let found = labels(
            "stack \"a\" host=\"h\" {\n    service \"web\" {\n        networks \"internal\"\n        |\n",
            &names,
        );
        assert!(found.contains(&"route".to_string()) && found.contains(&"depends-on".to_string()));
        assert!(
            !found.contains(&"networks".to_string()),
            "networks is written once"
        );
        let found = labels(
            "stack \"a\" {\n    service \"web\" {\n        networks \"in|",
            &names,
        );
        assert_eq!(found, ["ingress", "internal", "egress"]);
        let found = labels("stack \"a\" host=\"h\" |", &names);
        assert_eq!(found, ["cluster"]);
    }

    #[test]
    fn reference_completions_are_scoped() {
        let mut names = Names::default();
        names
            .0
            .insert((Kind::Service, Some("a".into()), "db".into()));
        names
            .0
            .insert((Kind::Service, Some("a".into()), "web".into()));
        names
            .0
            .insert((Kind::Service, Some("b".into()), "cache".into()));
        names.0.insert((Kind::Host, None, "vps".into()));
        let found = labels(
            "stack \"a\" {\n    service \"web\" {\n        depends-on \"|",
            &names,
        );
        assert_eq!(found, ["db"]);
        let found = labels("stack \"a\" host=|", &names);
        assert_eq!(found, ["vps"]);
    }
}
