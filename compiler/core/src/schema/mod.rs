//! The language schema, read from `schema/infrac.kdl` (embedded at build time).
//! In: the schema's KDL text. Out: a tree of [`NodeSchema`] that lowering checks
//! sources against and that the reference docs are generated from, and (in
//! `keys`, generated from the same file) the typed names lowering reads by.

pub mod codegen;
// Generated; `tests/docs.rs` compares it with the generator's output byte for byte.
#[rustfmt::skip]
pub mod keys;

use std::sync::OnceLock;

use kdl::{KdlDocument, KdlNode, KdlValue};

/// The name of a child node, as lowering asks for it. Only `keys` creates
/// these, so every name lowering reads exists in the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node(pub &'static str);

/// The name of a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prop(pub &'static str);

/// A positional argument: its index, and its name for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arg {
    pub index: usize,
    pub name: &'static str,
}

/// An `enum` type of the schema, generated as a Rust enum in `keys`.
pub trait SchemaEnum: Sized + Copy + 'static {
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == name)
    }
}

pub const SCHEMA_SOURCE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../schema/infrac.kdl"
));

#[derive(Clone, Debug, PartialEq)]
pub enum ValueType {
    String,
    Name,
    Hostname,
    Port,
    Duration,
    Size,
    Image,
    Ip,
    Number,
    Integer,
    Bool,
    EnvName,
    Path,
    Capability,
    Cidr,
    /// A CIDR, or the name of a `cidr-set`.
    Source,
    Interface,
    SshKey,
    Package,
    Email,
    Uuid,
    UrlPath,
    StatusRange,
    GitRef,
    RunnerLabel,
    GitUrl,
    Username,
    K8sVersion,
    LabelSelector,
    CommitSha,
    ActionName,
    RelativePath,
    SafePath,
    /// A host name, or an IP address, with an optional port.
    Endpoint,
    /// A cron schedule.
    Cron,
    /// An S3 bucket name.
    Bucket,
    /// Every value: a component parameter's default, checked against the
    /// parameter's own type.
    Any,
    /// `name` is the Rust enum generated for it.
    Enum {
        name: String,
        values: Vec<String>,
    },
}

impl ValueType {
    /// How the type reads in messages and docs.
    pub fn describe(&self) -> String {
        match self {
            ValueType::String => "a string".into(),
            ValueType::Name => {
                "a name (a DNS label: a-z, 0-9 and `-`, at most 63 characters)".into()
            }
            ValueType::Hostname => "a hostname (RFC 1123, lower case)".into(),
            ValueType::Port => "a port number (1–65535)".into(),
            ValueType::Duration => "a duration such as `30s`, `5m` or `1h30m`".into(),
            ValueType::Size => "a size such as `512MiB` or `2GiB`".into(),
            ValueType::Image => "an image reference such as `\"ghcr.io/acme/app:1.2.3\"`".into(),
            ValueType::Ip => "an IPv4 or IPv6 address".into(),
            ValueType::Number => "a positive number".into(),
            ValueType::Integer => "a non-negative integer".into(),
            ValueType::Bool => "`#true` or `#false`".into(),
            ValueType::EnvName => "an environment variable name (letters, digits, `_`)".into(),
            ValueType::Path => "an absolute path".into(),
            ValueType::Capability => "a Linux capability name such as `NET_BIND_SERVICE`".into(),
            ValueType::Cidr => "a CIDR such as `198.51.100.0/24` or `2001:db8::/32`".into(),
            ValueType::Source => "a CIDR or the name of a `cidr-set`".into(),
            ValueType::Interface => "a network interface name such as `eth0`".into(),
            ValueType::SshKey => {
                "an SSH public key line such as `ssh-ed25519 AAAA… user@host`".into()
            }
            ValueType::Package => "a Debian package name such as `fail2ban`".into(),
            ValueType::Email => "an email address".into(),
            ValueType::Uuid => "a UUID such as `6ff42ae2-765d-4adf-8112-31c55c1551ef`".into(),
            ValueType::UrlPath => "a URL path such as `/api`".into(),
            ValueType::StatusRange => "an HTTP status or range such as `404` or `400-599`".into(),
            ValueType::GitRef => "a branch name such as `main` or `release/1.2`".into(),
            ValueType::RunnerLabel => "a runner label such as `ubuntu-24.04`".into(),
            ValueType::GitUrl => "an HTTPS git URL such as `https://github.com/acme/infrac`".into(),
            ValueType::Username => "a user name (letters, digits, `.`, `_`, `-`, `@`)".into(),
            ValueType::K8sVersion => {
                "a Kubernetes release such as `\"1.31\"` (1.25 to 1.37)".into()
            }
            ValueType::LabelSelector => {
                "a label selector `key=value` such as `k8s-app=kube-dns`".into()
            }
            ValueType::CommitSha => "a full commit SHA (40 hexadecimal digits)".into(),
            ValueType::ActionName => "an action such as `actions/checkout`".into(),
            ValueType::RelativePath => "a relative path such as `compiled`".into(),
            ValueType::SafePath => {
                "an absolute path of letters, digits, `.`, `_`, `-` and `/`".into()
            }
            ValueType::Cron => {
                "a cron schedule such as `\"30 3 * * *\"` (minute hour day-of-month month day-of-week) or `@daily`".into()
            }
            ValueType::Endpoint => {
                "a host with an optional port, such as `s3.eu-central-1.amazonaws.com` or `minio.lan:9000`".into()
            }
            ValueType::Bucket => {
                "a bucket name (3–63 characters: a-z, 0-9, `.` and `-`)".into()
            }
            ValueType::Any => "any value".into(),
            ValueType::Enum { values, .. } => {
                let quoted: Vec<String> = values.iter().map(|v| format!("`\"{v}\"`")).collect();
                format!("one of {}", quoted.join(", "))
            }
        }
    }

    fn parse(
        name: &str,
        enum_name: Option<String>,
        values: Vec<String>,
    ) -> Result<ValueType, String> {
        Ok(match name {
            "string" => ValueType::String,
            "name" => ValueType::Name,
            "hostname" => ValueType::Hostname,
            "port" => ValueType::Port,
            "duration" => ValueType::Duration,
            "size" => ValueType::Size,
            "image" => ValueType::Image,
            "ip" => ValueType::Ip,
            "number" => ValueType::Number,
            "integer" => ValueType::Integer,
            "bool" => ValueType::Bool,
            "env-name" => ValueType::EnvName,
            "path" => ValueType::Path,
            "capability" => ValueType::Capability,
            "cidr" => ValueType::Cidr,
            "source" => ValueType::Source,
            "interface" => ValueType::Interface,
            "ssh-key" => ValueType::SshKey,
            "package" => ValueType::Package,
            "email" => ValueType::Email,
            "uuid" => ValueType::Uuid,
            "url-path" => ValueType::UrlPath,
            "status-range" => ValueType::StatusRange,
            "git-ref" => ValueType::GitRef,
            "runner-label" => ValueType::RunnerLabel,
            "git-url" => ValueType::GitUrl,
            "username" => ValueType::Username,
            "k8s-version" => ValueType::K8sVersion,
            "label-selector" => ValueType::LabelSelector,
            "commit-sha" => ValueType::CommitSha,
            "action-name" => ValueType::ActionName,
            "relative-path" => ValueType::RelativePath,
            "safe-path" => ValueType::SafePath,
            "endpoint" => ValueType::Endpoint,
            "cron" => ValueType::Cron,
            "bucket" => ValueType::Bucket,
            "any" => ValueType::Any,
            "enum" => match enum_name {
                Some(name) if !values.is_empty() => ValueType::Enum { name, values },
                Some(_) => return Err("an enum needs `values`".into()),
                None => {
                    return Err("an enum needs `enum=\"name\"`, the name of its Rust type".into());
                }
            },
            other => return Err(format!("unknown type `{other}`")),
        })
    }
}

/// A positional argument, or (when `variadic`) all remaining ones.
#[derive(Clone, Debug)]
pub struct ArgumentSchema {
    pub name: String,
    pub ty: ValueType,
    pub required: bool,
    pub variadic_min: Option<usize>,
    /// The kind of declared thing the value names (`refers="host"`).
    pub refers: Option<String>,
    pub doc: String,
}

#[derive(Clone, Debug)]
pub struct PropertySchema {
    pub name: String,
    pub ty: ValueType,
    pub required: bool,
    /// The value when the property is not written.
    pub default: Option<KdlValue>,
    /// The kind of declared thing the value names (`refers="host"`).
    pub refers: Option<String>,
    pub doc: String,
}

#[derive(Clone, Debug)]
pub struct NodeSchema {
    pub name: String,
    pub doc: String,
    pub repeat: bool,
    pub required: bool,
    /// Checked by component expansion rather than against this schema: a
    /// component's body, and the parameters `use` passes.
    pub open: bool,
    /// The node this one is written like (`like="stack/service"`): its
    /// arguments, properties and children come first, less the children
    /// named in `without`.
    pub like: Option<String>,
    pub without: Vec<String>,
    /// The diagnostic code reported when a required node is missing (E005 unless set).
    pub missing_code: Option<String>,
    /// What to insert when a required node is missing, offered as a fix.
    pub example: Option<String>,
    /// Nodes assumed when none of this name is written (`default` entries).
    pub defaults: Vec<KdlNode>,
    pub arguments: Vec<ArgumentSchema>,
    pub properties: Vec<PropertySchema>,
    pub children: Vec<NodeSchema>,
}

impl NodeSchema {
    pub fn child(&self, name: &str) -> Option<&NodeSchema> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn property(&self, name: &str) -> Option<&PropertySchema> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// The schema of the argument at `index` (the variadic one covers the rest).
    pub fn argument(&self, index: usize) -> Option<&ArgumentSchema> {
        self.arguments
            .get(index)
            .or_else(|| self.arguments.last().filter(|a| a.variadic_min.is_some()))
    }

    /// The child nodes as a list for docs: "`a`, `b`".
    pub fn children_list(&self) -> String {
        let names: Vec<String> = self
            .children
            .iter()
            .map(|c| format!("`{}`", c.name))
            .collect();
        names.join(", ")
    }

    /// The node at `path` (names from the root), if the schema has it.
    pub fn descendant<'a>(&self, path: impl IntoIterator<Item = &'a str>) -> Option<&NodeSchema> {
        path.into_iter()
            .try_fold(self, |node, name| node.child(name))
    }
}

/// The schema's root: its children are the top-level nodes of a source file.
pub fn schema() -> &'static NodeSchema {
    static SCHEMA: OnceLock<NodeSchema> = OnceLock::new();
    SCHEMA.get_or_init(|| match parse_schema(SCHEMA_SOURCE) {
        Ok(schema) => schema,
        // The schema is embedded and covered by tests; a broken one cannot ship.
        Err(message) => panic!("schema/infrac.kdl is invalid: {message}"),
    })
}

pub fn parse_schema(text: &str) -> Result<NodeSchema, String> {
    let document = KdlDocument::parse(text).map_err(|e| format!("{e:?}"))?;
    Ok(NodeSchema {
        name: String::new(),
        doc: String::new(),
        repeat: false,
        required: false,
        open: false,
        like: None,
        without: Vec::new(),
        missing_code: None,
        example: None,
        defaults: Vec::new(),
        arguments: Vec::new(),
        properties: Vec::new(),
        children: nodes_of(&document)?,
    })
    .and_then(|mut root| {
        let template = root.clone();
        fill_likes(&mut root, &template)?;
        Ok(root)
    })
}

/// Gives every `like=` node the arguments, properties and children of the
/// node it names (less its `without=` children) before its own.
fn fill_likes(node: &mut NodeSchema, root: &NodeSchema) -> Result<(), String> {
    if let Some(path) = &node.like {
        let model = root
            .descendant(path.split('/'))
            .ok_or_else(|| format!("{}: like=\"{path}\" names no node", node.name))?;
        let mut arguments = model.arguments.clone();
        arguments.append(&mut node.arguments);
        node.arguments = arguments;
        let mut properties = model.properties.clone();
        properties.append(&mut node.properties);
        node.properties = properties;
        let mut children: Vec<NodeSchema> = model
            .children
            .iter()
            .filter(|c| !node.without.contains(&c.name))
            .cloned()
            .collect();
        children.append(&mut node.children);
        node.children = children;
    }
    for child in &mut node.children {
        fill_likes(child, root)?;
    }
    Ok(())
}

fn nodes_of(document: &KdlDocument) -> Result<Vec<NodeSchema>, String> {
    document
        .nodes()
        .iter()
        .filter(|n| n.name().value() == "node")
        .map(node_schema)
        .collect()
}

fn node_schema(node: &KdlNode) -> Result<NodeSchema, String> {
    let name = first_string(node)?;
    let body = node.children();
    let mut schema = NodeSchema {
        doc: body.map(doc_of).unwrap_or_default(),
        repeat: flag(node, "repeat"),
        required: flag(node, "required"),
        open: flag(node, "open"),
        like: string(node, "like"),
        without: string(node, "without")
            .map(|w| w.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        missing_code: string(node, "missing"),
        example: string(node, "example"),
        defaults: body
            .map(|b| {
                b.nodes()
                    .iter()
                    .filter(|n| n.name().value() == "default")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
        arguments: Vec::new(),
        properties: Vec::new(),
        children: body.map(nodes_of).transpose()?.unwrap_or_default(),
        name,
    };
    for entry in body.map(|b| b.nodes()).unwrap_or_default() {
        let context = |e: String| format!("{}: {e}", schema.name);
        match entry.name().value() {
            "argument" | "arguments" => {
                let variadic = entry.name().value() == "arguments";
                schema.arguments.push(ArgumentSchema {
                    name: first_string(entry).map_err(context)?,
                    ty: type_of(entry, string(entry, "enum")).map_err(context)?,
                    required: flag(entry, "required") || variadic,
                    variadic_min: variadic.then(|| integer(entry, "min").unwrap_or(0)),
                    refers: string(entry, "refers"),
                    doc: string(entry, "doc").unwrap_or_default(),
                });
            }
            "property" => schema
                .properties
                .push(property_schema(entry).map_err(context)?),
            "node" | "doc" | "default" => {}
            other => return Err(context(format!("unknown schema entry `{other}`"))),
        }
    }
    Ok(schema)
}

/// A `property` entry of the schema: `type` (with `enum` and `values`),
/// `required`, `default`, `refers`, `doc`.
pub fn property_schema(entry: &KdlNode) -> Result<PropertySchema, String> {
    property_like(entry, string(entry, "enum"))
}

/// A component's `param`, written like a schema property; an `enum` parameter
/// needs no Rust type name, so it defaults to the parameter's.
pub fn param_schema(entry: &KdlNode) -> Result<PropertySchema, String> {
    property_like(
        entry,
        string(entry, "enum").or_else(|| first_string(entry).ok()),
    )
}

fn property_like(entry: &KdlNode, enum_name: Option<String>) -> Result<PropertySchema, String> {
    Ok(PropertySchema {
        name: first_string(entry)?,
        ty: type_of(entry, enum_name)?,
        required: flag(entry, "required"),
        default: entry.get("default").cloned(),
        refers: string(entry, "refers"),
        doc: string(entry, "doc").unwrap_or_default(),
    })
}

fn type_of(node: &KdlNode, enum_name: Option<String>) -> Result<ValueType, String> {
    let values = node
        .children()
        .and_then(|c| c.get("values"))
        .map(|v| {
            v.entries()
                .iter()
                .filter_map(|e| e.value().as_string().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let name = string(node, "type").ok_or("missing `type`")?;
    ValueType::parse(&name, enum_name, values)
}

fn doc_of(body: &KdlDocument) -> String {
    body.get("doc")
        .and_then(|d| d.entries().first())
        .and_then(|e| e.value().as_string())
        .unwrap_or_default()
        .to_string()
}

fn first_string(node: &KdlNode) -> Result<String, String> {
    node.entries()
        .iter()
        .find(|e| e.name().is_none())
        .and_then(|e| e.value().as_string())
        .map(str::to_string)
        .ok_or_else(|| format!("`{}` needs a name", node.name().value()))
}

fn string(node: &KdlNode, key: &str) -> Option<String> {
    node.get(key)
        .and_then(KdlValue::as_string)
        .map(str::to_string)
}

fn flag(node: &KdlNode, key: &str) -> bool {
    node.get(key).and_then(KdlValue::as_bool).unwrap_or(false)
}

fn integer(node: &KdlNode, key: &str) -> Option<usize> {
    node.get(key)
        .and_then(KdlValue::as_integer)
        .and_then(|i| usize::try_from(i).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_schema_parses_and_documents_everything() {
        fn walk(node: &NodeSchema, path: &str) {
            for child in &node.children {
                let here = format!("{path}/{}", child.name);
                assert!(!child.doc.is_empty(), "{here} has no doc");
                for a in &child.arguments {
                    assert!(!a.doc.is_empty(), "{here} argument {} has no doc", a.name);
                }
                for p in &child.properties {
                    assert!(!p.doc.is_empty(), "{here} property {} has no doc", p.name);
                }
                walk(child, &here);
            }
        }
        let root = parse_schema(SCHEMA_SOURCE).unwrap();
        defaults_type_check(&root, "");
        assert!(
            root.child("stack")
                .and_then(|s| s.child("service"))
                .is_some()
        );
        walk(&root, "");
    }

    /// A default that fails its own type would silently leave the value unset.
    fn defaults_type_check(node: &NodeSchema, path: &str) {
        for child in &node.children {
            let here = format!("{path}/{}", child.name);
            for property in &child.properties {
                if let Some(default) = &property.default {
                    assert!(
                        crate::values::check(&property.ty, default).is_ok(),
                        "{here} property {}: default {default:?} is not {}",
                        property.name,
                        property.ty.describe()
                    );
                }
            }
            for default in &child.defaults {
                for (index, entry) in default.entries().iter().enumerate() {
                    let argument = child
                        .arguments
                        .get(index)
                        .or(child.arguments.last())
                        .unwrap_or_else(|| panic!("{here}: default has too many values"));
                    assert!(
                        crate::values::check(&argument.ty, entry.value()).is_ok(),
                        "{here}: default {:?} is not {}",
                        entry.value(),
                        argument.ty.describe()
                    );
                }
            }
            defaults_type_check(child, &here);
        }
    }
}
