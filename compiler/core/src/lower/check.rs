//! The schema-driven half of lowering: every KDL node is checked against its
//! [`NodeSchema`] (known node, known properties, argument count and types,
//! required nodes) and turned into a [`Checked`] node whose values are typed and
//! whose defaults are filled in from the schema. Invalid values are reported and
//! left out, so the model builder never sees them. The model builder reads a
//! checked node only through the keys generated from the schema.

use std::borrow::Cow;

use kdl::{KdlEntry, KdlNode, KdlValue};

use crate::diagnostic::{Applicability, Code, Diagnostic, Diagnostics, closest};
use crate::expand::Expansions;
use crate::schema::{Arg, Node, NodeSchema, Prop, SchemaEnum, ValueType};
use crate::source::{FileId, SourceMap, Span, Spanned};
use crate::values::{self, Value, ValueFix};

#[derive(Clone, Debug)]
pub struct Checked<'s> {
    pub schema: &'s NodeSchema,
    /// The node's name and entries: the line a diagnostic about the node points at.
    pub head: Span,
    /// `false` for a node assumed from a schema `default`, or an absent one.
    pub written: bool,
    /// Positional values in source order; `None` where the value was invalid.
    args: Vec<Option<Spanned<Value>>>,
    /// Written properties, then the defaults of those not written.
    props: Vec<(&'s str, Spanned<Value>)>,
    /// Properties that were written but failed their type check (already reported).
    rejected: Vec<(&'s str, Span)>,
    children: Vec<Checked<'s>>,
}

impl<'s> Checked<'s> {
    /// A node that is not written: only its schema defaults.
    fn absent(schema: &'s NodeSchema, at: Span) -> Self {
        let mut node = Checked {
            schema,
            head: at,
            written: false,
            args: Vec::new(),
            props: Vec::new(),
            rejected: Vec::new(),
            children: Vec::new(),
        };
        node.add_default_props(at);
        node
    }

    fn add_default_props(&mut self, at: Span) {
        for property in &self.schema.properties {
            if self.props.iter().any(|(name, _)| *name == property.name)
                || self.rejected.iter().any(|(name, _)| *name == property.name)
            {
                continue;
            }
            if let Some(value) = property
                .default
                .as_ref()
                .and_then(|d| values::check(&property.ty, d).ok())
            {
                self.props
                    .push((property.name.as_str(), Spanned::new(value, at)));
            }
        }
    }

    fn check_arg_key(&self, key: Arg) {
        debug_assert!(
            self.schema
                .arguments
                .get(key.index)
                .is_some_and(|a| a.name == key.name),
            "`{}` has no argument `{}` at {}",
            self.schema.name,
            key.name,
            key.index
        );
    }

    pub fn arg(&self, key: Arg) -> Option<&Spanned<Value>> {
        self.check_arg_key(key);
        self.args.get(key.index).and_then(Option::as_ref)
    }

    pub fn string_arg(&self, key: Arg) -> Option<Spanned<String>> {
        self.arg(key).and_then(spanned_string)
    }

    pub fn enum_arg<E: SchemaEnum>(&self, key: Arg) -> Option<Spanned<E>> {
        self.arg(key).and_then(spanned_enum)
    }

    /// Valid positional values from `key` on (a variadic argument).
    pub fn rest(&self, key: Arg) -> impl Iterator<Item = &Spanned<Value>> {
        self.check_arg_key(key);
        self.args.iter().skip(key.index).flatten()
    }

    pub fn rest_strings(&self, key: Arg) -> impl Iterator<Item = Spanned<String>> + '_ {
        self.rest(key).filter_map(spanned_string)
    }

    pub fn rest_enums<E: SchemaEnum>(&self, key: Arg) -> impl Iterator<Item = Spanned<E>> + '_ {
        self.rest(key).filter_map(spanned_enum)
    }

    /// Whether every written value passed its type check.
    pub fn all_valid(&self) -> bool {
        self.args.iter().all(Option::is_some) && self.rejected.is_empty()
    }

    /// How many positional values were written, valid or not.
    pub fn arg_count(&self) -> usize {
        self.args.len()
    }

    pub fn prop(&self, key: Prop) -> Option<&Spanned<Value>> {
        debug_assert!(
            self.schema.property(key.0).is_some(),
            "`{}` has no property `{}`",
            self.schema.name,
            key.0
        );
        self.props
            .iter()
            .rev()
            .find(|(name, _)| *name == key.0)
            .map(|(_, v)| v)
    }

    pub fn string_prop(&self, key: Prop) -> Option<Spanned<String>> {
        self.prop(key).and_then(spanned_string)
    }

    pub fn bool_prop(&self, key: Prop) -> Option<bool> {
        self.prop(key)?.value.as_bool()
    }

    pub fn enum_prop<E: SchemaEnum>(&self, key: Prop) -> Option<Spanned<E>> {
        self.prop(key).and_then(spanned_enum)
    }

    /// Where a property was written but failed its type check (already reported).
    pub fn rejected(&self, key: Prop) -> Option<Span> {
        self.rejected
            .iter()
            .find(|(name, _)| *name == key.0)
            .map(|(_, span)| *span)
    }

    fn check_child_key(&self, key: Node) {
        debug_assert!(
            self.schema.child(key.0).is_some(),
            "`{}` has no child node `{}`",
            self.schema.name,
            key.0
        );
    }

    /// The children of one name: those written, or else the schema's defaults.
    pub fn children(&self, key: Node) -> impl Iterator<Item = &Checked<'s>> {
        self.check_child_key(key);
        self.children.iter().filter(move |c| c.schema.name == key.0)
    }

    pub fn child(&self, key: Node) -> Option<&Checked<'s>> {
        self.children(key).next()
    }

    /// The children of one name when the node's schema has them: a node
    /// written `like` another (a `job`, like a `service`) lacks some.
    pub fn children_if_any(&self, key: Node) -> impl Iterator<Item = &Checked<'s>> {
        let declared = self.schema.child(key.0).is_some();
        self.children
            .iter()
            .filter(move |c| declared && c.schema.name == key.0)
    }

    /// The child, or an absent node that holds only its schema defaults.
    pub fn child_or_absent(&self, key: Node) -> Cow<'_, Checked<'s>> {
        match self.child(key) {
            Some(child) => Cow::Borrowed(child),
            None => match self.schema.child(key.0) {
                Some(schema) => Cow::Owned(Checked::absent(schema, self.head)),
                None => Cow::Owned(Checked::absent(self.schema, self.head)),
            },
        }
    }

    /// Every child, in source order (a middleware's kinds).
    pub fn all_children(&self) -> impl Iterator<Item = &Checked<'s>> {
        self.children.iter()
    }

    /// Whether this is the node `key` names.
    pub fn is(&self, key: Node) -> bool {
        self.schema.name == key.0
    }
}

pub fn spanned_string(value: &Spanned<Value>) -> Option<Spanned<String>> {
    value
        .value
        .as_str()
        .map(|s| Spanned::new(s.to_string(), value.span))
}

fn spanned_enum<E: SchemaEnum>(value: &Spanned<Value>) -> Option<Spanned<E>> {
    let parsed = E::from_name(value.value.as_str()?)?;
    Some(Spanned::new(parsed, value.span))
}

/// The checker's view of the sources: their text, to place fixes.
pub struct Checker<'a, 's> {
    pub root: &'s NodeSchema,
    pub sources: &'a SourceMap,
    /// What each `use` produced, checked in its place.
    pub expansions: &'a Expansions,
    pub diagnostics: &'a mut Diagnostics,
}

impl<'s> Checker<'_, 's> {
    /// Checks `nodes` as children of `parent` (the schema root for a file's
    /// top level). `parent_at` is where defaults and "missing" point, and how
    /// messages name the parent (`service \`web\``).
    pub fn check_children<'k>(
        &mut self,
        parent: &'s NodeSchema,
        parent_at: Option<(Span, String)>,
        nodes: impl IntoIterator<Item = (FileId, &'k KdlNode)>,
        insert_at: Option<(FileId, usize, String)>,
    ) -> Vec<Checked<'s>> {
        let mut checked: Vec<Checked<'s>> = Vec::new();
        for (file, node) in nodes {
            let name = node.name().value();
            let name_span = span_of(file, node.name().span());
            let Some(schema) = parent.child(name) else {
                self.diagnostics
                    .push(unknown_node(parent, self.root, name, name_span));
                continue;
            };
            if !schema.repeat
                && let Some(first) = checked.iter().find(|c| c.schema.name == name)
            {
                self.diagnostics.push(
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
            checked.push(self.check_node(schema, file, node, None));
        }
        let Some((at, parent_name)) = parent_at else {
            return checked;
        };
        for schema in &parent.children {
            if checked.iter().any(|c| c.schema.name == schema.name) {
                continue;
            }
            for default in &schema.defaults {
                checked.push(self.check_node(schema, at.file, default, Some(at)));
            }
            if schema.required && schema.defaults.is_empty() {
                self.diagnostics
                    .push(missing_node(&parent_name, schema, at, insert_at.as_ref()));
            }
        }
        checked
    }

    /// Checks one node. `assumed_at` is set for a schema default: its values
    /// are the schema's and every span points at the parent instead.
    fn check_node(
        &mut self,
        schema: &'s NodeSchema,
        file: FileId,
        node: &KdlNode,
        assumed_at: Option<Span>,
    ) -> Checked<'s> {
        let name = node.name().value();
        let head = assumed_at.unwrap_or_else(|| head_span(file, node));
        let place = |span: Span| assumed_at.unwrap_or(span);
        let mut checked = Checked {
            schema,
            head,
            written: assumed_at.is_none(),
            args: Vec::new(),
            props: Vec::new(),
            rejected: Vec::new(),
            children: Vec::new(),
        };
        for entry in node.entries() {
            let span = place(value_span(file, entry));
            match entry.name() {
                None => {
                    let position = checked.args.len();
                    match schema.argument(position) {
                        Some(argument) => {
                            let value = self.check_value(&argument.ty, entry, span);
                            checked.args.push(value);
                        }
                        None => {
                            checked.args.push(None);
                            self.diagnostics.push(unexpected_argument(
                                schema,
                                place(span_of(file, entry.span())),
                            ));
                        }
                    }
                }
                Some(key) => match schema.property(key.value()) {
                    Some(property) => match self.check_value(&property.ty, entry, span) {
                        Some(value) => checked.props.push((property.name.as_str(), value)),
                        None => checked.rejected.push((property.name.as_str(), span)),
                    },
                    None => self.diagnostics.push(unknown_property(
                        schema,
                        key.value(),
                        place(span_of(file, key.span())),
                    )),
                },
            }
        }
        for (position, argument) in schema.arguments.iter().enumerate() {
            let missing = match argument.variadic_min {
                Some(min) => checked.args.len().saturating_sub(position) < min.max(1),
                None => argument.required && checked.args.len() <= position,
            };
            if missing {
                self.diagnostics.push(
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
                self.diagnostics.push(
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
        checked.add_default_props(head);
        let block = node.children();
        let children = block.map(|doc| doc.nodes()).unwrap_or_default();
        // Where a fix inserts a missing child: before the first child, indented
        // like it, or in a new block after the node's entries.
        let insert_at = match (block, children.first()) {
            (_, Some(first)) => {
                let offset = first.name().span().offset();
                Some((
                    file,
                    offset,
                    format!("\n{}", self.indentation(file, offset)),
                ))
            }
            (None, None) => Some((file, head.end, String::new())),
            (Some(_), None) => None,
        };
        let named = match checked.args.first() {
            Some(Some(Spanned {
                value: Value::String(own),
                ..
            })) => format!("{name} `{own}`"),
            _ => format!("`{name}`"),
        };
        let expansions = self.expansions;
        let children = children
            .iter()
            .flat_map(|n| match schema.child(n.name().value()) {
                Some(child) if child.open => expansions.replacing(file, n),
                _ => vec![(file, n)],
            });
        checked.children = self.check_children(
            schema,
            Some((head, named)),
            children,
            insert_at.filter(|_| assumed_at.is_none()),
        );
        checked
    }

    /// The whitespace a line starts with, to indent an inserted node like its siblings.
    fn indentation(&self, file: FileId, offset: usize) -> String {
        let text = &self.sources.file(file).text;
        let offset = offset.min(text.len());
        let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
        text[line_start..offset]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect()
    }

    fn check_value(
        &mut self,
        ty: &ValueType,
        entry: &KdlEntry,
        span: Span,
    ) -> Option<Spanned<Value>> {
        let value = entry.value();
        match values::check(ty, value) {
            Ok(checked) => Some(Spanned::new(checked, span)),
            Err(invalid) => {
                let is_name = *ty == ValueType::Name;
                let code = if is_name { Code::E008 } else { Code::E007 };
                let label = format!("expected {}", ty.describe());
                let mut diagnostic = Diagnostic::new(code, invalid.message, span, label);
                diagnostic.help = invalid.help;
                let replacement = match invalid.fix {
                    Some(ValueFix::Replace(text)) => Some(text),
                    Some(ValueFix::QuoteAsWritten) => {
                        entry.format().map(|f| format!("{:?}", f.value_repr.trim()))
                    }
                    None => None,
                };
                if let Some(replacement) = replacement {
                    diagnostic = diagnostic.with_fix(
                        format!("write `{replacement}`"),
                        Applicability::Safe,
                        span,
                        replacement,
                    );
                }
                self.diagnostics.push(diagnostic);
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
}

fn missing_node(
    parent: &str,
    schema: &NodeSchema,
    at: Span,
    insert_at: Option<&(FileId, usize, String)>,
) -> Diagnostic {
    let code = schema
        .missing_code
        .as_deref()
        .and_then(|c| c.parse::<Code>().ok())
        .unwrap_or(Code::E005);
    let doc = schema.doc.split_whitespace().collect::<Vec<_>>().join(" ");
    let first_line = doc.split_inclusive(". ").next().unwrap_or_default().trim();
    let mut diagnostic = Diagnostic::new(
        code,
        format!("{parent} needs a `{}` node", schema.name),
        at,
        format!("`{}` missing", schema.name),
    );
    diagnostic = match &schema.example {
        Some(example) => diagnostic.with_help(format!("add `{example}`: {first_line}")),
        None => diagnostic.with_help(format!("add `{}`: {first_line}", schema.name)),
    };
    match (insert_at, &schema.example) {
        (Some((file, offset, indent)), Some(example)) => {
            let span = Span::new(*file, *offset, 0);
            let text = if indent.is_empty() {
                format!(" {{ {example} }}")
            } else {
                format!("{example}{indent}")
            };
            diagnostic.with_fix(
                format!("add `{example}`"),
                Applicability::Unsafe,
                span,
                text,
            )
        }
        _ => diagnostic,
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
    if let Some(candidate) = closest(name, parent.children.iter().map(|c| c.name.as_str())) {
        return diagnostic.with_suggestion(span, candidate, candidate.to_string());
    }
    let help = find_parent(root, name)
        .map(|owner| format!("`{name}` belongs inside `{owner}`"))
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
    if let Some(candidate) = closest(key, known.iter().copied()) {
        return diagnostic.with_suggestion(span, candidate, candidate.to_string());
    }
    diagnostic.with_help(if known.is_empty() {
        format!("`{}` takes no properties", schema.name)
    } else {
        format!("known properties: {}", known.join(", "))
    })
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

/// The span of an entry's value: for a property, what follows `=`.
fn value_span(file: FileId, entry: &KdlEntry) -> Span {
    let whole = span_of(file, entry.span());
    match entry.format() {
        Some(format) if entry.name().is_some() && format.value_repr.len() <= whole.len() => Span {
            file,
            start: whole.end - format.value_repr.len(),
            end: whole.end,
        },
        _ => whole,
    }
}

/// A node's name and entries, without its children: where a diagnostic about
/// the node as a whole points.
pub fn head_span(file: FileId, node: &KdlNode) -> Span {
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
