//! Stage 2, components. In: the parsed documents. Out: for every `use` inside
//! a stack, the nodes its component produces with the parameters filled in,
//! ready for lowering to check like written ones; diagnostics for component
//! definitions and for uses (unknown component, parameter missing, unknown or
//! of the wrong type).
//!
//! A component's body keeps the spans of its definition. Each expansion gets
//! its own file id (an [`Origin::Expansion`] copy of the defining file), so
//! what one use produced is told apart from another's, and [`relocate`] moves
//! every diagnostic in an expansion to its `use`, with the component's line
//! as related information.

use std::collections::{BTreeMap, BTreeSet};

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use crate::diagnostic::{Code, Diagnostic, Diagnostics, closest};
use crate::lower::check::{head_span, span_of};
use crate::parse::Parsed;
use crate::schema::keys::{self, component, stack};
use crate::schema::{PropertySchema, ValueType, param_schema, schema};
use crate::source::{FileId, Origin, Span};
use crate::stdlib;
use crate::values;

/// What one `use` produced.
pub struct Expansion {
    /// The expansion's own id for the defining file.
    pub file: FileId,
    /// Nodes that join the stack (services).
    pub stack_nodes: Vec<KdlNode>,
    /// Nodes that join the project (middlewares).
    pub top_nodes: Vec<KdlNode>,
}

/// Every expansion, by the `use` node it replaces.
#[derive(Default)]
pub struct Expansions {
    by_use: BTreeMap<(FileId, usize), Expansion>,
}

impl Expansions {
    /// What replaces the open node `node` (a `use`) of `file`: the nodes it
    /// produced with their expansion's file, or nothing when it failed.
    pub fn replacing<'a>(&'a self, file: FileId, node: &KdlNode) -> Vec<(FileId, &'a KdlNode)> {
        self.by_use
            .get(&(file, node.name().span().offset()))
            .map(|e| e.stack_nodes.iter().map(|n| (e.file, n)).collect())
            .unwrap_or_default()
    }

    /// The nodes every expansion adds to the project's top level.
    pub fn top_nodes(&self) -> impl Iterator<Item = (FileId, &KdlNode)> {
        self.by_use
            .values()
            .flat_map(|e| e.top_nodes.iter().map(move |n| (e.file, n)))
    }
}

/// A checked component definition.
struct Component {
    file: FileId,
    params: Vec<PropertySchema>,
    body: Vec<KdlNode>,
}

/// Parameters every component has without declaring them.
const BUILTINS: [&str; 2] = ["name", "stack"];

pub fn expand(parsed: &mut Parsed, diagnostics: &mut Diagnostics) -> Expansions {
    let mut components: BTreeMap<String, Option<Component>> = BTreeMap::new();
    for (file, node) in top_nodes(parsed, keys::COMPONENT) {
        let Some(name) = first_string(node) else {
            continue;
        };
        if components.contains_key(&name) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E009,
                    format!("component `{name}` is declared twice"),
                    span_of(file, node.name().span()),
                    "declared again here",
                )
                .with_help("component names must be unique; rename one of them"),
            );
            continue;
        }
        let checked = check_definition(file, node, diagnostics);
        components.insert(name, checked);
    }
    let mut uses: Vec<(FileId, KdlNode, String)> = Vec::new();
    for (file, node) in top_nodes(parsed, keys::STACK) {
        let stack_name = first_string(node).unwrap_or_default();
        for child in node.children().map(KdlDocument::nodes).unwrap_or_default() {
            if child.name().value() == stack::USE.0 {
                uses.push((file, child.clone(), stack_name.clone()));
            }
        }
    }
    let mut expansions = Expansions::default();
    for (file, node, stack_name) in uses {
        let Some(component) = component_for(&node, file, &mut components, parsed, diagnostics)
        else {
            continue;
        };
        if let Some(expansion) =
            expand_use(file, &node, &stack_name, component, parsed, diagnostics)
        {
            expansions
                .by_use
                .insert((file, node.name().span().offset()), expansion);
        }
    }
    expansions
}

fn top_nodes(
    parsed: &Parsed,
    key: crate::schema::Node,
) -> impl Iterator<Item = (FileId, &KdlNode)> {
    parsed.files.iter().flat_map(move |f| {
        f.document
            .nodes()
            .iter()
            .filter(move |n| n.name().value() == key.0)
            .map(move |n| (f.file, n))
    })
}

fn first_string(node: &KdlNode) -> Option<String> {
    node.entries()
        .iter()
        .find(|e| e.name().is_none())
        .and_then(|e| e.value().as_string())
        .map(str::to_string)
}

/// The component a `use` names: the project's, else the standard library's
/// (read and checked on first use). Reports an unknown name.
fn component_for<'c>(
    node: &KdlNode,
    file: FileId,
    components: &'c mut BTreeMap<String, Option<Component>>,
    parsed: &mut Parsed,
    diagnostics: &mut Diagnostics,
) -> Option<&'c Component> {
    let head = head_span(file, node);
    let Some(entry) = node.entries().iter().find(|e| e.name().is_none()) else {
        diagnostics.push(
            Diagnostic::new(
                Code::E005,
                "`use` needs the component's name and the instance's name",
                head,
                "arguments missing",
            )
            .with_help("write `use \"postgres\" \"db\" password=\"db-password\"`"),
        );
        return None;
    };
    let span = span_of(file, entry.span());
    let Some(name) = entry.value().as_string() else {
        diagnostics.push(
            Diagnostic::new(
                Code::E007,
                "the component's name is a string",
                span,
                "expected a name",
            )
            .with_help("quote it: `use \"postgres\" \"db\"`"),
        );
        return None;
    };
    if !components.contains_key(name) {
        let loaded = stdlib::source(name).and_then(|text| {
            let path = format!("stdlib/{name}.kdl");
            let id = parsed
                .sources
                .add_with_origin(path, text.to_string(), Origin::Stdlib);
            let document = KdlDocument::parse(text).ok()?;
            let definition = document
                .nodes()
                .iter()
                .find(|n| n.name().value() == keys::COMPONENT.0)?
                .clone();
            Some(check_definition(id, &definition, diagnostics))
        });
        match loaded {
            Some(component) => {
                components.insert(name.to_string(), component);
            }
            None => {
                let known: Vec<String> = components
                    .keys()
                    .cloned()
                    .chain(stdlib::names().map(str::to_string))
                    .collect();
                let diagnostic = Diagnostic::new(
                    Code::E010,
                    format!("unknown component `{name}`"),
                    span,
                    "no such component",
                );
                diagnostics.push(match closest(name, known.iter().map(String::as_str)) {
                    Some(candidate) => {
                        diagnostic.with_suggestion(span, candidate, format!("{candidate:?}"))
                    }
                    None => diagnostic.with_help(format!(
                        "components: {}; or declare `component \"{name}\"`",
                        known.join(", ")
                    )),
                });
                return None;
            }
        }
    }
    components.get(name)?.as_ref()
}

fn invalid_definition(
    span: Span,
    message: impl Into<String>,
    help: impl Into<String>,
) -> Diagnostic {
    Diagnostic::new(Code::E019, message, span, "in this component").with_help(help)
}

/// Checks a definition: its parameters (types, defaults), what its body may
/// hold, and that every parameter it reads is declared (an optional one only
/// inside a `when` on it). `None` when it cannot be expanded.
fn check_definition(
    file: FileId,
    node: &KdlNode,
    diagnostics: &mut Diagnostics,
) -> Option<Component> {
    let mut ok = true;
    let mut params: Vec<PropertySchema> = Vec::new();
    let mut body: Vec<KdlNode> = Vec::new();
    for child in node.children().map(KdlDocument::nodes).unwrap_or_default() {
        let name = child.name().value();
        let span = span_of(file, child.name().span());
        if name == component::PARAM.0 {
            match param_schema(child) {
                Ok(param) => {
                    let default_ok = param
                        .default
                        .as_ref()
                        .is_none_or(|d| values::check(&param.ty, d).is_ok());
                    if !default_ok {
                        diagnostics.push(invalid_definition(
                            span,
                            format!(
                                "the default of `{}` is not {}",
                                param.name,
                                param.ty.describe()
                            ),
                            "give a default of the parameter's type, or none",
                        ));
                        ok = false;
                    } else if params.iter().any(|p| p.name == param.name)
                        || BUILTINS.contains(&param.name.as_str())
                    {
                        diagnostics.push(invalid_definition(
                            span,
                            format!("the parameter `{}` is declared twice", param.name),
                            "`name` and `stack` are given by `use`; rename the parameter",
                        ));
                        ok = false;
                    } else {
                        params.push(param);
                    }
                }
                Err(message) => {
                    diagnostics.push(invalid_definition(
                        span,
                        format!("invalid parameter: {message}"),
                        "write `param \"NAME\" type=\"TYPE\"`, with `required=#true` or a `default=`",
                    ));
                    ok = false;
                }
            }
        } else if name != component::DOC.0 && name != component::EXAMPLE.0 {
            body.push(child.clone());
        }
    }
    let declared: BTreeMap<&str, &PropertySchema> =
        params.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut reader = BodyReader {
        file,
        declared: &declared,
        diagnostics,
        ok: true,
    };
    reader.read(&body, &BTreeSet::new(), true);
    (ok && reader.ok).then_some(Component { file, params, body })
}

/// Walks a component's body for what it may hold and which parameters it reads.
struct BodyReader<'a> {
    file: FileId,
    declared: &'a BTreeMap<&'a str, &'a PropertySchema>,
    diagnostics: &'a mut Diagnostics,
    ok: bool,
}

impl BodyReader<'_> {
    fn read(&mut self, nodes: &[KdlNode], guarded: &BTreeSet<String>, top: bool) {
        let stack_schema = schema().child(keys::STACK.0);
        for node in nodes {
            let name = node.name().value();
            let span = span_of(self.file, node.name().span());
            if name == component::WHEN.0 {
                let Some(param) = first_string(node) else {
                    self.fail(
                        span,
                        "`when` needs the parameter it tests",
                        "write `when \"backup\" { … }`",
                    );
                    continue;
                };
                if !self.declared.contains_key(param.as_str()) {
                    self.fail(
                        span,
                        format!("`when` tests `{param}`, which is not a parameter"),
                        "declare it with `param`",
                    );
                }
                let mut inner = guarded.clone();
                inner.insert(param);
                let children = node.children().map(KdlDocument::nodes).unwrap_or_default();
                self.read(children, &inner, top);
                continue;
            }
            if top {
                let allowed = name == keys::MIDDLEWARE.0
                    || stack_schema
                        .and_then(|s| s.child(name))
                        .is_some_and(|c| !c.open);
                if !allowed {
                    self.fail(
                        span,
                        format!("a component cannot hold `{name}`"),
                        "a component holds services, middlewares and `when` blocks; components do not nest",
                    );
                    continue;
                }
            }
            for entry in node.entries() {
                self.read_entry(entry, guarded);
            }
            let children = node.children().map(KdlDocument::nodes).unwrap_or_default();
            self.read(children, guarded, false);
        }
    }

    fn read_entry(&mut self, entry: &KdlEntry, guarded: &BTreeSet<String>) {
        let span = span_of(self.file, entry.span());
        let mut wanted: Vec<String> = Vec::new();
        if entry.ty().is_some_and(|t| t.value() == PARAM_ANNOTATION) {
            match entry.value().as_string() {
                Some(name) => wanted.push(name.to_string()),
                None => self.fail(
                    span,
                    "`(param)` names a parameter",
                    "write `(param)\"image\"`",
                ),
            }
        } else if let Some(text) = entry.value().as_string() {
            match placeholders(text) {
                Ok(found) => wanted.extend(found),
                Err(message) => {
                    self.fail(span, message, "write `{{param}}` or `{{param.property}}`")
                }
            }
        }
        for key in wanted {
            let (param, property) = match key.split_once('.') {
                Some((p, prop)) => (p.to_string(), Some(prop.to_string())),
                None => (key.clone(), None),
            };
            if BUILTINS.contains(&param.as_str()) && property.is_none() {
                continue;
            }
            let Some(declared) = self.declared.get(param.as_str()) else {
                let candidates = self
                    .declared
                    .keys()
                    .copied()
                    .chain(BUILTINS)
                    .collect::<Vec<_>>();
                let help = match closest(&param, candidates.iter().copied()) {
                    Some(candidate) => format!("did you mean `{candidate}`?"),
                    None => format!("parameters: {}", candidates.join(", ")),
                };
                self.fail(
                    span,
                    format!("`{param}` is not a parameter of this component"),
                    help,
                );
                continue;
            };
            if property.is_some() && declared.refers.is_none() {
                self.fail(
                    span,
                    format!("`{key}` reads a property, but `{param}` names nothing"),
                    "only a parameter with `refers=` names a node whose properties can be read",
                );
            }
            // The whole-value form may be dropped when unset; text cannot.
            let optional = !declared.required && declared.default.is_none();
            let whole = entry.ty().is_some();
            if optional && !whole && !guarded.contains(&param) {
                self.fail(
                    span,
                    format!("`{{{{{param}}}}}` may be unset here"),
                    format!(
                        "put it inside `when \"{param}\" {{ … }}`, or give the parameter a default"
                    ),
                );
            }
        }
    }

    fn fail(&mut self, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.diagnostics
            .push(invalid_definition(span, message, help));
        self.ok = false;
    }
}

/// The type annotation that makes a value a parameter: `(param)"image"`.
const PARAM_ANNOTATION: &str = "param";

/// The `{{…}}` placeholders of a string, or why it cannot be read.
fn placeholders(text: &str) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("`{{{{` without `}}}}` in {text:?}"))?;
        let key = after[..end].trim();
        let valid = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !valid {
            return Err(format!("`{{{{{key}}}}}` is not a parameter name"));
        }
        found.push(key.to_string());
        rest = &after[end + 2..];
    }
    Ok(found)
}

/// Checks a `use` against its component and produces its nodes.
fn expand_use(
    file: FileId,
    node: &KdlNode,
    stack_name: &str,
    component: &Component,
    parsed: &mut Parsed,
    diagnostics: &mut Diagnostics,
) -> Option<Expansion> {
    let head = head_span(file, node);
    let component_name = first_string(node).unwrap_or_default();
    let arguments: Vec<&KdlEntry> = node
        .entries()
        .iter()
        .filter(|e| e.name().is_none())
        .collect();
    let Some(instance) = arguments.get(1) else {
        diagnostics.push(
            Diagnostic::new(
                Code::E005,
                format!("`use \"{component_name}\"` needs the instance's name"),
                head,
                "name missing",
            )
            .with_help(format!(
                "name it, usually as its main service: `use \"{component_name}\" \"db\" …`"
            )),
        );
        return None;
    };
    let instance_span = span_of(file, instance.span());
    let instance_name = match values::check(&ValueType::Name, instance.value()) {
        Ok(value) => value.as_str().unwrap_or_default().to_string(),
        Err(invalid) => {
            diagnostics.push(
                Diagnostic::new(
                    Code::E008,
                    invalid.message,
                    instance_span,
                    "expected a name",
                )
                .with_help("the instance's name is a DNS label: a-z, 0-9 and `-`"),
            );
            return None;
        }
    };
    let mut ok = true;
    for extra in arguments.iter().skip(2) {
        diagnostics.push(
            Diagnostic::new(
                Code::E006,
                "`use` takes two arguments",
                span_of(file, extra.span()),
                "unexpected argument",
            )
            .with_help(
                "parameters are properties: `use \"postgres\" \"db\" password=\"db-password\"`",
            ),
        );
        ok = false;
    }
    let mut given: BTreeMap<String, KdlValue> = BTreeMap::new();
    for entry in node.entries() {
        let Some(key) = entry.name() else {
            continue;
        };
        let key_span = span_of(file, key.span());
        let Some(param) = component.params.iter().find(|p| p.name == key.value()) else {
            let known: Vec<&str> = component.params.iter().map(|p| p.name.as_str()).collect();
            let diagnostic = Diagnostic::new(
                Code::E004,
                format!(
                    "the component `{component_name}` has no parameter `{}`",
                    key.value()
                ),
                key_span,
                "unknown parameter",
            );
            diagnostics.push(match closest(key.value(), known.iter().copied()) {
                Some(candidate) => {
                    diagnostic.with_suggestion(key_span, candidate, candidate.to_string())
                }
                None => diagnostic.with_help(format!("parameters: {}", known.join(", "))),
            });
            ok = false;
            continue;
        };
        let value_span = span_of(file, entry.span());
        match values::check(&param.ty, entry.value()) {
            Ok(_) => {
                given.insert(param.name.clone(), entry.value().clone());
            }
            Err(invalid) => {
                let code = if param.ty == ValueType::Name {
                    Code::E008
                } else {
                    Code::E007
                };
                let mut diagnostic = Diagnostic::new(
                    code,
                    invalid.message,
                    value_span,
                    format!("expected {}", param.ty.describe()),
                );
                diagnostic.help = invalid.help;
                diagnostics.push(diagnostic);
                ok = false;
            }
        }
    }
    for param in component.params.iter().filter(|p| p.required) {
        if !given.contains_key(&param.name) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E005,
                    format!(
                        "the component `{component_name}` needs the parameter `{}`",
                        param.name
                    ),
                    head,
                    "parameter missing",
                )
                .with_help(format!("add `{}=…`: {}", param.name, param.doc)),
            );
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let mut values: BTreeMap<String, KdlValue> = component
        .params
        .iter()
        .filter_map(|p| {
            Some((
                p.name.clone(),
                given.get(&p.name).or(p.default.as_ref())?.clone(),
            ))
        })
        .collect();
    values.insert("name".into(), KdlValue::String(instance_name));
    values.insert("stack".into(), KdlValue::String(stack_name.to_string()));
    let referred = Referred::new(component, &values, parsed);
    let filler = Filler {
        values: &values,
        referred: &referred,
    };
    let mut produced = Vec::new();
    filler.fill(&component.body, &mut produced);
    let missing = referred.missing(component, &values, node, file);
    if !missing.is_empty() {
        for diagnostic in missing {
            diagnostics.push(diagnostic);
        }
        return None;
    }
    let definition = parsed.sources.file(component.file).clone();
    let alias = parsed.sources.add_with_origin(
        definition.path,
        definition.text,
        Origin::Expansion {
            definition: component.file,
            use_site: head,
            instance: instance_span,
        },
    );
    let (top_nodes, stack_nodes) = produced
        .into_iter()
        .partition(|n| n.name().value() == keys::MIDDLEWARE.0);
    Some(Expansion {
        file: alias,
        stack_nodes,
        top_nodes,
    })
}

/// The declared nodes that parameters with `refers=` name, for `{{param.property}}`.
struct Referred {
    /// By parameter: the node's kind and the node.
    nodes: BTreeMap<String, (String, KdlNode)>,
}

impl Referred {
    fn new(component: &Component, values: &BTreeMap<String, KdlValue>, parsed: &Parsed) -> Self {
        let mut nodes = BTreeMap::new();
        for param in &component.params {
            let (Some(kind), Some(KdlValue::String(name))) =
                (param.refers.as_deref(), values.get(&param.name))
            else {
                continue;
            };
            let found = parsed
                .files
                .iter()
                .flat_map(|f| f.document.nodes())
                .find(|n| {
                    n.name().value() == kind && first_string(n).as_deref() == Some(name.as_str())
                });
            if let Some(found) = found {
                nodes.insert(param.name.clone(), (kind.to_string(), found.clone()));
            }
        }
        Referred { nodes }
    }

    /// A property of the named node, or its schema default when not written.
    fn property(&self, param: &str, property: &str) -> Option<KdlValue> {
        let (kind, node) = self.nodes.get(param)?;
        node.get(property)
            .cloned()
            .or_else(|| schema().child(kind)?.property(property)?.default.clone())
    }

    /// A diagnostic for each parameter whose named node is not declared while
    /// the body reads its properties.
    fn missing(
        &self,
        component: &Component,
        values: &BTreeMap<String, KdlValue>,
        node: &KdlNode,
        file: FileId,
    ) -> Vec<Diagnostic> {
        let mut read: BTreeSet<String> = BTreeSet::new();
        collect_reads(&component.body, values, &mut read);
        component
            .params
            .iter()
            .filter(|p| read.contains(&p.name) && !self.nodes.contains_key(&p.name))
            .filter_map(|p| {
                let kind = p.refers.as_deref()?;
                let value = values.get(&p.name)?.as_string()?;
                let span = node
                    .entries()
                    .iter()
                    .find(|e| e.name().is_some_and(|k| k.value() == p.name))
                    .map_or_else(|| head_span(file, node), |e| span_of(file, e.span()));
                Some(
                    Diagnostic::new(
                        Code::E010,
                        format!("unknown {kind} `{value}`"),
                        span,
                        format!("no such {kind}"),
                    )
                    .with_help(format!("declare it: `{kind} \"{value}\" …`")),
                )
            })
            .collect()
    }
}

/// The parameters whose named node's properties the kept body reads.
fn collect_reads(
    nodes: &[KdlNode],
    values: &BTreeMap<String, KdlValue>,
    read: &mut BTreeSet<String>,
) {
    for node in nodes {
        if node.name().value() == component::WHEN.0 && !when_holds(node, values) {
            continue;
        }
        for entry in node.entries() {
            if let Some(text) = entry.value().as_string()
                && entry.ty().is_none()
            {
                for key in placeholders(text).unwrap_or_default() {
                    if let Some((param, _)) = key.split_once('.') {
                        read.insert(param.to_string());
                    }
                }
            }
        }
        collect_reads(
            node.children().map(KdlDocument::nodes).unwrap_or_default(),
            values,
            read,
        );
    }
}

fn when_holds(node: &KdlNode, values: &BTreeMap<String, KdlValue>) -> bool {
    let value = first_string(node).and_then(|p| values.get(&p));
    match (value, node.get("is")) {
        (Some(value), Some(wanted)) => value == wanted,
        (Some(value), None) => *value != KdlValue::Bool(false),
        (None, _) => false,
    }
}

/// Fills a body's parameters in.
struct Filler<'a> {
    values: &'a BTreeMap<String, KdlValue>,
    referred: &'a Referred,
}

impl Filler<'_> {
    fn fill(&self, nodes: &[KdlNode], out: &mut Vec<KdlNode>) {
        for node in nodes {
            if node.name().value() == component::WHEN.0 {
                if when_holds(node, self.values) {
                    self.fill(
                        node.children().map(KdlDocument::nodes).unwrap_or_default(),
                        out,
                    );
                }
                continue;
            }
            let mut node = node.clone();
            node.entries_mut()
                .retain_mut(|entry| self.fill_entry(entry));
            if let Some(children) = node.children_mut() {
                let mut filled = Vec::new();
                self.fill(children.nodes(), &mut filled);
                *children.nodes_mut() = filled;
            }
            out.push(node);
        }
    }

    /// Fills one entry in; `false` drops it (an unset whole-value parameter).
    fn fill_entry(&self, entry: &mut KdlEntry) -> bool {
        if entry.ty().is_some_and(|t| t.value() == PARAM_ANNOTATION) {
            let name = entry.value().as_string().unwrap_or_default().to_string();
            let Some(value) = self.value_of(&name) else {
                return false;
            };
            // A new entry without the annotation, where the old one was written.
            let mut filled = match entry.name() {
                Some(key) => KdlEntry::new_prop(key.clone(), value),
                None => KdlEntry::new(value),
            };
            filled.set_span(entry.span());
            *entry = filled;
            return true;
        }
        if let Some(text) = entry.value().as_string()
            && text.contains("{{")
        {
            let filled = self.interpolate(text);
            entry.set_value(KdlValue::String(filled));
        }
        true
    }

    fn value_of(&self, key: &str) -> Option<KdlValue> {
        match key.split_once('.') {
            Some((param, property)) => self.referred.property(param, property),
            None => self.values.get(key).cloned(),
        }
    }

    fn interpolate(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                break;
            };
            let key = after[..end].trim();
            if let Some(value) = self.value_of(key) {
                out.push_str(&text_of(&value));
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }
}

fn text_of(value: &KdlValue) -> String {
    match value {
        KdlValue::String(s) => s.clone(),
        KdlValue::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Moves a diagnostic found in an expansion to the `use` that produced it:
/// the primary label to the `use` node, the place in the component as related
/// information; fixes that would edit a component's file are dropped.
pub fn relocate(sources: &crate::source::SourceMap, diagnostic: &mut Diagnostic) {
    for label in &mut diagnostic.secondary {
        if let Some((_, definition)) = sources.expanded_from(label.span) {
            label.span = definition;
        }
    }
    if let Some((use_site, definition)) = sources.expanded_from(diagnostic.primary.span) {
        diagnostic.primary.span = use_site;
        diagnostic.secondary.push(crate::diagnostic::Label {
            span: definition,
            text: "produced by the component here".into(),
        });
    }
    diagnostic.fixes.retain(|fix| {
        fix.edits
            .iter()
            .all(|edit| sources.file(edit.span.file).origin == Origin::Project)
    });
}

#[cfg(test)]
mod tests {
    use crate::source::{LoadError, SourceLoader};

    struct One(String);

    impl SourceLoader for One {
        fn load(&self, _: &str) -> Result<String, LoadError> {
            Ok(self.0.clone())
        }
    }

    /// Each standard component's documented example, in a stack of a host that
    /// declares whatever the example names, compiles without an error.
    #[test]
    fn every_stdlib_example_compiles() {
        for (name, source) in crate::stdlib::COMPONENTS {
            let document = kdl::KdlDocument::parse(source).unwrap();
            let component = &document.nodes()[0];
            let examples: Vec<&str> = component
                .children()
                .unwrap()
                .nodes()
                .iter()
                .filter(|n| n.name().value() == "example")
                .filter_map(|n| n.entries()[0].value().as_string())
                .collect();
            assert!(!examples.is_empty(), "{name} has no example");
            for example in examples {
                let used = kdl::KdlDocument::parse(example).unwrap();
                let mut text = String::from(
                    "host \"vps\" {\n    os \"debian-12\"\n    address \"203.0.113.10\"\n    ssh allow-from=\"198.51.100.0/24\"\n    \
                     proxy \"traefik\" image=\"traefik:v3.1.6\" {\n        access-log directory=\"/var/log/traefik\"\n    }\n}\n",
                );
                // Declare what the example's parameters name.
                for entry in used.nodes()[0].entries() {
                    let (Some(key), Some(value)) = (entry.name(), entry.value().as_string()) else {
                        continue;
                    };
                    let param = component.children().unwrap().nodes().iter().find(|n| {
                        n.name().value() == "param"
                            && n.entries()[0].value().as_string() == Some(key.value())
                    });
                    match param.and_then(|p| p.get("refers")).and_then(|r| r.as_string()) {
                        Some("secret") => text.push_str(&format!("secret {value:?}\n")),
                        Some("backup-target") => text.push_str(&format!(
                            "secret \"{value}-id\"\nsecret \"{value}-key\"\n\
                             backup-target {value:?} endpoint=\"s3.example.com\" bucket=\"backups\" \
                             region=\"us-east-1\" access-key=\"{value}-id\" secret-key=\"{value}-key\"\n"
                        )),
                        _ => {}
                    }
                }
                text.push_str(&format!(
                    "stack \"demo\" host=\"vps\" {{\n    {example}\n}}\n"
                ));
                let compilation = crate::compile("infrac.kdl", &One(text.clone()));
                let errors: Vec<String> = compilation
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity() == crate::Severity::Error)
                    .map(|d| format!("{}: {}", d.code, d.message))
                    .collect();
                assert!(
                    errors.is_empty(),
                    "{name}: `{example}`:\n{text}\n{errors:#?}"
                );
            }
        }
    }
}
