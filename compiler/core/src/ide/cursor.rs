//! Where a cursor stands in a source file, read from tokens so that it works
//! on half-typed text the parser rejects: the enclosing nodes, the node being
//! written, and whether the cursor is on its name, an argument, a property
//! name or a property value.

use crate::lex::{self, Token, TokenKind};
use crate::schema::{ArgumentSchema, NodeSchema, PropertySchema, schema};

/// A node that encloses the cursor: its name and its first argument
/// (`stack "blog"` → `stack`, `blog`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enclosing {
    pub node: String,
    pub label: Option<String>,
}

/// What the cursor is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum At {
    /// A node's name, or where one may be written.
    NodeName,
    /// An entry after the node name that is not a property yet: the argument
    /// at this index, or the start of a property name.
    Entry { argument: usize },
    /// A property's name (followed by `=`).
    PropertyName { property: String },
    /// A property's value.
    PropertyValue { property: String },
    /// A comment, or punctuation.
    Nothing,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The nodes whose blocks hold the cursor, outermost first.
    pub parents: Vec<Enclosing>,
    /// The node being written on the cursor's statement, once its name is there.
    pub node: Option<String>,
    pub at: At,
    /// The byte range of the word or string under the cursor (empty at a space).
    pub token: (usize, usize),
    /// What is typed of that token before the cursor, without quotes.
    pub prefix: String,
    /// Properties already written on the node.
    pub properties: Vec<String>,
    /// Names of the nodes already written in the enclosing block.
    pub siblings: Vec<String>,
}

/// The statement being read: its node name and what follows it.
#[derive(Default)]
struct Statement {
    node: Option<String>,
    label: Option<String>,
    arguments: usize,
    properties: Vec<String>,
    /// The key of a property whose `=` was just read.
    key: Option<String>,
}

struct Block {
    owner: Enclosing,
    siblings: Vec<String>,
}

/// Reads `text` up to `offset` (a byte offset, clamped to the text).
pub fn find_at(text: &str, offset: usize) -> Cursor {
    let offset = offset.min(text.len());
    let tokens = lex::tokens(text);
    let mut blocks: Vec<Block> = Vec::new();
    let mut top_siblings: Vec<String> = Vec::new();
    let mut statement = Statement::default();
    let mut continued = false;
    for (index, token) in tokens.iter().enumerate() {
        let holds_cursor = match token.kind {
            TokenKind::Word | TokenKind::String => token.start <= offset && offset <= token.end(),
            TokenKind::LineComment => token.start < offset && offset <= token.end(),
            TokenKind::BlockComment => token.start < offset && offset < token.end(),
            _ => false,
        };
        if holds_cursor {
            return cursor_on(
                token,
                &tokens[index + 1..],
                offset,
                statement,
                blocks,
                top_siblings,
            );
        }
        if token.start >= offset {
            break;
        }
        match token.kind {
            TokenKind::Newline if continued => {}
            TokenKind::Newline | TokenKind::Semicolon => statement = Statement::default(),
            TokenKind::Open => {
                let owner = Enclosing {
                    node: statement.node.take().unwrap_or_default(),
                    label: statement.label.take(),
                };
                blocks.push(Block {
                    owner,
                    siblings: Vec::new(),
                });
                statement = Statement::default();
            }
            TokenKind::Close => {
                blocks.pop();
                statement = Statement::default();
            }
            TokenKind::Word | TokenKind::String => read_entry(
                token,
                &tokens[index + 1..],
                &mut statement,
                &mut blocks,
                &mut top_siblings,
            ),
            _ => {}
        }
        if !token.is_trivia() {
            continued = token.kind == TokenKind::Continuation;
        }
    }
    // The cursor stands on whitespace (or at the end of the text).
    let at = match (&statement.node, &statement.key) {
        (None, _) => At::NodeName,
        (Some(_), Some(key)) => At::PropertyValue {
            property: key.clone(),
        },
        (Some(_), None) => At::Entry {
            argument: statement.arguments,
        },
    };
    finish(
        at,
        (offset, offset),
        String::new(),
        statement,
        blocks,
        top_siblings,
    )
}

fn read_entry(
    token: &Token,
    rest: &[Token],
    statement: &mut Statement,
    blocks: &mut [Block],
    top_siblings: &mut Vec<String>,
) {
    if is_annotation(token) {
        return;
    }
    let value = token.unquoted().to_string();
    if statement.node.is_none() {
        match blocks.last_mut() {
            Some(block) => block.siblings.push(value.clone()),
            None => top_siblings.push(value.clone()),
        }
        statement.node = Some(value);
    } else if let Some(key) = statement.key.take() {
        statement.properties.push(key);
    } else if followed_by_equals(rest) {
        statement.key = Some(value);
    } else {
        if statement.arguments == 0 {
            statement.label = Some(value);
        }
        statement.arguments += 1;
    }
}

fn cursor_on(
    token: &Token,
    rest: &[Token],
    offset: usize,
    statement: Statement,
    blocks: Vec<Block>,
    top_siblings: Vec<String>,
) -> Cursor {
    let typed = &token.text[..offset - token.start];
    let prefix = match token.kind {
        TokenKind::String => typed.trim_start_matches('#').trim_start_matches('"'),
        _ => typed,
    };
    let at = match token.kind {
        TokenKind::Word | TokenKind::String => match (&statement.node, &statement.key) {
            (None, _) => At::NodeName,
            (Some(_), Some(key)) => At::PropertyValue {
                property: key.clone(),
            },
            (Some(_), None) if followed_by_equals(rest) => At::PropertyName {
                property: token.unquoted().to_string(),
            },
            (Some(_), None) => At::Entry {
                argument: statement.arguments,
            },
        },
        _ => At::Nothing,
    };
    let span = (token.start, token.end());
    finish(
        at,
        span,
        prefix.to_string(),
        statement,
        blocks,
        top_siblings,
    )
}

fn finish(
    at: At,
    token: (usize, usize),
    prefix: String,
    statement: Statement,
    blocks: Vec<Block>,
    top_siblings: Vec<String>,
) -> Cursor {
    let node = match at {
        At::NodeName => None,
        _ => statement.node,
    };
    let (parents, siblings) = match blocks.split_last() {
        Some((last, _)) => (
            blocks.iter().map(|b| b.owner.clone()).collect(),
            last.siblings.clone(),
        ),
        None => (Vec::new(), top_siblings),
    };
    Cursor {
        parents,
        node,
        at,
        token,
        prefix,
        properties: statement.properties,
        siblings,
    }
}

fn followed_by_equals(rest: &[Token]) -> bool {
    rest.iter()
        .find(|t| t.kind != TokenKind::Space)
        .is_some_and(|t| t.kind == TokenKind::Equals)
}

fn is_annotation(token: &Token) -> bool {
    token.kind == TokenKind::Word && token.text.starts_with('(') && token.text.ends_with(')')
}

/// What the schema says about the place under the cursor.
#[derive(Clone, Copy, Debug)]
pub enum SchemaItem<'a> {
    Node(&'a NodeSchema),
    Argument(&'a NodeSchema, &'a ArgumentSchema),
    Property(&'a NodeSchema, &'a PropertySchema),
}

impl Cursor {
    /// The schema of the block the cursor is in (the root at the top level).
    pub fn block_schema(&self) -> Option<&'static NodeSchema> {
        schema().descendant(self.parents.iter().map(|p| p.node.as_str()))
    }

    /// The schema of the node on the cursor's statement.
    pub fn node_schema(&self) -> Option<&'static NodeSchema> {
        self.block_schema()?.child(self.node.as_deref()?)
    }

    /// The schema entry under the cursor: the node whose name it is on, or the
    /// argument or property whose value or name it is on.
    pub fn schema_item(&self, text: &str) -> Option<SchemaItem<'static>> {
        match &self.at {
            At::NodeName => {
                let name = text.get(self.token.0..self.token.1)?;
                let name = name.trim_matches('"');
                self.block_schema()?.child(name).map(SchemaItem::Node)
            }
            At::Entry { argument } => {
                let node = self.node_schema()?;
                node.argument(*argument)
                    .map(|a| SchemaItem::Argument(node, a))
            }
            At::PropertyName { property } | At::PropertyValue { property } => {
                let node = self.node_schema()?;
                node.property(property)
                    .map(|p| SchemaItem::Property(node, p))
            }
            At::Nothing => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cursor is where `|` is written.
    fn at(marked: &str) -> Cursor {
        let offset = marked.find('|').unwrap();
        find_at(&marked.replace('|', ""), offset)
    }

    #[test]
    fn reads_half_typed_lines() {
        let c = at("stack \"blog\" host=\"vps\" {\n    service \"web\" {\n        depends-on \"d|");
        assert_eq!(
            c.parents,
            [
                Enclosing {
                    node: "stack".into(),
                    label: Some("blog".into())
                },
                Enclosing {
                    node: "service".into(),
                    label: Some("web".into())
                },
            ]
        );
        assert_eq!(c.node.as_deref(), Some("depends-on"));
        assert_eq!(c.at, At::Entry { argument: 0 });
        assert_eq!(c.prefix, "d");

        let c = at("stack \"blog\" {\n    service \"web\" {\n        net|\n    }\n}\n");
        assert_eq!(c.at, At::NodeName);
        assert_eq!(c.prefix, "net");
        assert_eq!(c.node, None);

        let c = at("stack \"blog\" {\n    service \"web\" image=\"x\" |\n");
        assert_eq!(c.at, At::Entry { argument: 1 });
        assert_eq!(c.properties, ["image"]);

        let c = at("stack \"blog\" ho|st=\"vps\"");
        assert_eq!(
            c.at,
            At::PropertyName {
                property: "host".into()
            }
        );
        let c = at("stack \"blog\" host=\"v|ps\"");
        assert_eq!(
            c.at,
            At::PropertyValue {
                property: "host".into()
            }
        );
        assert_eq!(c.prefix, "v");
        let c = at("stack \"blog\" host=|");
        assert_eq!(
            c.at,
            At::PropertyValue {
                property: "host".into()
            }
        );
    }

    #[test]
    fn siblings_and_comments() {
        let c = at("host \"a\" {\n    os \"debian-12\"\n    // note\n    |\n}\n");
        assert_eq!(c.siblings, ["os"]);
        assert_eq!(c.at, At::NodeName);
        let c = at("host \"a\" // a com|ment\n");
        assert_eq!(c.at, At::Nothing);
    }

    #[test]
    fn finds_the_schema_entry() {
        let text =
            "stack \"blog\" {\n    service \"web\" {\n        restart \"always\"\n    }\n}\n";
        let offset = text.find("restart").unwrap() + 2;
        let cursor = find_at(text, offset);
        assert!(
            matches!(cursor.schema_item(text), Some(SchemaItem::Node(n)) if n.name == "restart")
        );
        let cursor = find_at(text, text.find("always").unwrap());
        assert!(
            matches!(cursor.schema_item(text), Some(SchemaItem::Argument(n, _)) if n.name == "restart")
        );
    }
}
