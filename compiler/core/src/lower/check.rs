//! The schema-driven half of lowering: every KDL node is checked against its
//! [`NodeSchema`] (known node, known properties, argument count and types) and
//! turned into a [`Checked`] node whose values are typed. Invalid values are
//! reported and left out, so the model builder never sees them.

use kdl::{KdlNode, KdlValue};

use crate::diagnostic::{Code, Diagnostic, Diagnostics, did_you_mean};
use crate::schema::{NodeSchema, ValueType};
use crate::source::{FileId, Span, Spanned};
use crate::values::{self, Value};

pub struct Checked<'s> {
    pub schema: &'s NodeSchema,
    /// The node's name and entries: the line a diagnostic about the node points at.
    pub head: Span,
    /// Positional values in source order; `None` where the value was invalid.
    pub args: Vec<Option<Spanned<Value>>>,
    pub props: Vec<(String, Spanned<Value>)>,
    /// Properties that were written but failed their type check (already reported).
    pub rejected: Vec<(String, Span)>,
    pub children: Vec<Checked<'s>>,
}

impl<'s> Checked<'s> {
    pub fn arg(&self, index: usize) -> Option<&Spanned<Value>> {
        self.args.get(index).and_then(Option::as_ref)
    }

    pub fn string_arg(&self, index: usize) -> Option<Spanned<String>> {
        self.arg(index).and_then(spanned_string)
    }

    /// Valid positional values from `from` on (a variadic argument).
    pub fn rest(&self, from: usize) -> impl Iterator<Item = &Spanned<Value>> {
        self.args.iter().skip(from).flatten()
    }

    pub fn prop(&self, name: &str) -> Option<&Spanned<Value>> {
        self.props
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v)
    }

    pub fn string_prop(&self, name: &str) -> Option<Spanned<String>> {
        self.prop(name).and_then(spanned_string)
    }

    pub fn bool_prop(&self, name: &str) -> Option<bool> {
        self.prop(name)?.value.as_bool()
    }

    pub fn children_named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Checked<'s>> + 'a {
        self.children.iter().filter(move |c| c.schema.name == name)
    }

    pub fn child(&self, name: &str) -> Option<&Checked<'s>> {
        self.children.iter().find(|c| c.schema.name == name)
    }
}

pub fn spanned_string(value: &Spanned<Value>) -> Option<Spanned<String>> {
    value
        .value
        .as_str()
        .map(|s| Spanned::new(s.to_string(), value.span))
}

/// Checks `nodes` as children of `parent` (the schema root for a file's top level).
pub fn check_children<'s, 'k>(
    parent: &'s NodeSchema,
    root: &'s NodeSchema,
    nodes: impl IntoIterator<Item = (FileId, &'k KdlNode)>,
    diagnostics: &mut Diagnostics,
) -> Vec<Checked<'s>> {
    let mut checked: Vec<Checked<'s>> = Vec::new();
    for (file, node) in nodes {
        let name = node.name().value();
        let name_span = span_of(file, node.name().span());
        let Some(schema) = parent.child(name) else {
            diagnostics.push(unknown_node(parent, root, name, name_span));
            continue;
        };
        if !schema.repeat
            && let Some(first) = checked.iter().find(|c| c.schema.name == name)
        {
            diagnostics.push(
                Diagnostic::new(
                    Code::E012,
                    format!("`{name}` may appear only once here"),
                    name_span,
                    "repeated here",
                )
                .with_secondary(first.head, "first written here")
                .with_help("merge the two nodes into one"),
            );
            continue;
        }
        checked.push(check_node(schema, root, file, node, diagnostics));
    }
    checked
}

fn check_node<'s>(
    schema: &'s NodeSchema,
    root: &'s NodeSchema,
    file: FileId,
    node: &KdlNode,
    diagnostics: &mut Diagnostics,
) -> Checked<'s> {
    let name = node.name().value();
    let head = head_span(file, node);
    let mut args = Vec::new();
    let mut props = Vec::new();
    let mut rejected = Vec::new();
    for entry in node.entries() {
        let span = span_of(file, entry.span());
        match entry.name() {
            None => {
                let position = args.len();
                let argument = schema
                    .arguments
                    .get(position)
                    .or_else(|| schema.arguments.last().filter(|a| a.variadic_min.is_some()));
                match argument {
                    Some(argument) => {
                        args.push(check_value(&argument.ty, entry.value(), span, diagnostics))
                    }
                    None => {
                        args.push(None);
                        diagnostics.push(unexpected_argument(schema, span));
                    }
                }
            }
            Some(key) => match schema.property(key.value()) {
                Some(property) => {
                    match check_value(&property.ty, entry.value(), span, diagnostics) {
                        Some(value) => props.push((property.name.clone(), value)),
                        None => rejected.push((property.name.clone(), span)),
                    }
                }
                None => diagnostics.push(unknown_property(
                    schema,
                    key.value(),
                    span_of(file, key.span()),
                )),
            },
        }
    }
    for (position, argument) in schema.arguments.iter().enumerate() {
        let missing = match argument.variadic_min {
            Some(min) => args.len().saturating_sub(position) < min.max(1),
            None => argument.required && args.len() <= position,
        };
        if missing {
            diagnostics.push(
                Diagnostic::new(
                    Code::E005,
                    format!("`{name}` needs its `{}` argument", argument.name),
                    head,
                    "argument missing",
                )
                .with_help(format!("`{}`: {}", argument.name, argument.doc)),
            );
        }
    }
    for property in schema.properties.iter().filter(|p| p.required) {
        if !node
            .entries()
            .iter()
            .any(|e| e.name().is_some_and(|k| k.value() == property.name))
        {
            diagnostics.push(
                Diagnostic::new(
                    Code::E005,
                    format!("`{name}` needs the property `{}`", property.name),
                    head,
                    "property missing",
                )
                .with_help(format!("add `{}=…`: {}", property.name, property.doc)),
            );
        }
    }
    let children = node
        .children()
        .map(|doc| {
            check_children(
                schema,
                root,
                doc.nodes().iter().map(|n| (file, n)),
                diagnostics,
            )
        })
        .unwrap_or_default();
    Checked {
        schema,
        head,
        args,
        props,
        rejected,
        children,
    }
}

fn check_value(
    ty: &ValueType,
    value: &KdlValue,
    span: Span,
    diagnostics: &mut Diagnostics,
) -> Option<Spanned<Value>> {
    match values::check(ty, value) {
        Ok(checked) => Some(Spanned::new(checked, span)),
        Err(invalid) => {
            let is_name = *ty == ValueType::Name;
            let code = if is_name { Code::E008 } else { Code::E007 };
            let label = format!("expected {}", ty.describe());
            let mut diagnostic = Diagnostic::new(code, invalid.message, span, label);
            diagnostic.help = invalid.help;
            diagnostics.push(diagnostic);
            // An invalid name still names its node, so references to it do not
            // cascade into "unknown" errors; nothing is emitted after an error.
            match value {
                KdlValue::String(name) if is_name => {
                    Some(Spanned::new(Value::String(name.clone()), span))
                }
                _ => None,
            }
        }
    }
}

fn unknown_node(parent: &NodeSchema, root: &NodeSchema, name: &str, span: Span) -> Diagnostic {
    let context = if parent.name.is_empty() {
        "at the top level".to_string()
    } else {
        format!("inside `{}`", parent.name)
    };
    let diagnostic = Diagnostic::new(
        Code::E003,
        format!("unknown node `{name}` {context}"),
        span,
        "unknown node",
    );
    let help = did_you_mean(name, parent.children.iter().map(|c| c.name.as_str()))
        .or_else(|| {
            find_parent(root, name).map(|owner| format!("`{name}` belongs inside `{owner}`"))
        })
        .unwrap_or_else(|| {
            let known: Vec<&str> = parent.children.iter().map(|c| c.name.as_str()).collect();
            if known.is_empty() {
                format!("`{}` takes no child nodes", parent.name)
            } else {
                format!("allowed here: {}", known.join(", "))
            }
        });
    diagnostic.with_help(help)
}

/// The name of a schema node that has a child called `name`, for "belongs inside" help.
fn find_parent<'s>(schema: &'s NodeSchema, name: &str) -> Option<&'s str> {
    schema.children.iter().find_map(|child| {
        if child.child(name).is_some() {
            Some(child.name.as_str())
        } else {
            find_parent(child, name)
        }
    })
}

fn unknown_property(schema: &NodeSchema, key: &str, span: Span) -> Diagnostic {
    let diagnostic = Diagnostic::new(
        Code::E004,
        format!("`{}` has no property `{key}`", schema.name),
        span,
        "unknown property",
    );
    let known: Vec<&str> = schema.properties.iter().map(|p| p.name.as_str()).collect();
    let help = did_you_mean(key, known.iter().copied()).unwrap_or_else(|| {
        if known.is_empty() {
            format!("`{}` takes no properties", schema.name)
        } else {
            format!("known properties: {}", known.join(", "))
        }
    });
    diagnostic.with_help(help)
}

fn unexpected_argument(schema: &NodeSchema, span: Span) -> Diagnostic {
    let expected = match schema.arguments.len() {
        0 => "no arguments".to_string(),
        1 => "one argument".to_string(),
        n => format!("{n} arguments"),
    };
    Diagnostic::new(
        Code::E006,
        format!("`{}` takes {expected}", schema.name),
        span,
        "unexpected argument",
    )
    .with_help("remove the extra value, or write it as a property (`key=value`)")
}

pub fn span_of(file: FileId, span: miette::SourceSpan) -> Span {
    Span::new(file, span.offset(), span.len())
}

fn head_span(file: FileId, node: &KdlNode) -> Span {
    let start = node.name().span().offset();
    let end = node
        .entries()
        .iter()
        .map(|e| e.span().offset() + e.span().len())
        .chain([start + node.name().span().len()])
        .max()
        .unwrap_or(start);
    Span { file, start, end }
}
