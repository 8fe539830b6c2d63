//! The outline of one file, read from tokens (so a half-typed file still has
//! one): its top-level nodes, and inside them the nodes that the schema lets
//! repeat under a name (a stack's services, a host's users), with their ranges.

use crate::lex::{self, TokenKind};
use crate::schema::{NodeSchema, schema};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutlineItem {
    pub node: String,
    /// The first argument, usually the name (`service "web"` → `web`).
    pub label: Option<String>,
    /// From the node name to the end of its block or line.
    pub range: (usize, usize),
    /// The name, or the node name when it has none.
    pub selection: (usize, usize),
    pub children: Vec<OutlineItem>,
}

struct Open {
    item: OutlineItem,
    schema: Option<&'static NodeSchema>,
    /// Whether the item is shown (nodes deeper in are still walked).
    shown: bool,
}

pub fn outline(text: &str) -> Vec<OutlineItem> {
    let mut roots: Vec<OutlineItem> = Vec::new();
    // Blocks entered, and the statement being read at the innermost level.
    let mut blocks: Vec<Open> = Vec::new();
    let mut statement: Option<Open> = None;
    let mut continued = false;
    for token in lex::tokens(text) {
        if token.is_trivia() {
            continue;
        }
        match token.kind {
            TokenKind::Newline if continued => {}
            TokenKind::Newline | TokenKind::Semicolon => {
                if let Some(done) = statement.take() {
                    place(done, &mut blocks, &mut roots);
                }
            }
            TokenKind::Open => {
                if let Some(open) = statement.take() {
                    blocks.push(open);
                }
            }
            TokenKind::Close => {
                if let Some(mut done) = blocks.pop() {
                    done.item.range.1 = token.end();
                    statement = Some(done);
                }
            }
            TokenKind::Word | TokenKind::String
                if !(token.text.starts_with('(') && token.text.ends_with(')')) =>
            {
                let range = (token.start, token.end());
                match &mut statement {
                    None => {
                        let parent = blocks.last();
                        let schema = match parent {
                            Some(p) => p.schema.and_then(|s| s.child(token.unquoted())),
                            None => schema().child(token.unquoted()),
                        };
                        let shown = match parent {
                            None => true,
                            Some(p) => {
                                p.shown
                                    && schema.is_some_and(|s| s.repeat && !s.arguments.is_empty())
                            }
                        };
                        statement = Some(Open {
                            item: OutlineItem {
                                node: token.unquoted().to_string(),
                                label: None,
                                range,
                                selection: range,
                                children: Vec::new(),
                            },
                            schema,
                            shown,
                        });
                    }
                    Some(open) => {
                        if open.item.label.is_none()
                            && !followed_by_equals(text, token.end())
                            && !open.item.node.is_empty()
                        {
                            open.item.label = Some(token.unquoted().to_string());
                            open.item.selection = range;
                        }
                        open.item.range.1 = token.end();
                    }
                }
            }
            _ => {
                if let Some(open) = &mut statement {
                    open.item.range.1 = token.end();
                }
            }
        }
        continued = token.kind == TokenKind::Continuation;
    }
    if let Some(done) = statement.take() {
        place(done, &mut blocks, &mut roots);
    }
    // Blocks never closed end with the text.
    while let Some(mut open) = blocks.pop() {
        open.item.range.1 = text.len();
        place(open, &mut blocks, &mut roots);
    }
    roots
}

fn followed_by_equals(text: &str, end: usize) -> bool {
    text[end..].trim_start_matches([' ', '\t']).starts_with('=')
}

fn place(done: Open, blocks: &mut [Open], roots: &mut Vec<OutlineItem>) {
    if !done.shown {
        // Its shown descendants move up to the nearest shown ancestor.
        for child in done.item.children {
            match blocks.last_mut() {
                Some(parent) => parent.item.children.push(child),
                None => roots.push(child),
            }
        }
        return;
    }
    match blocks.last_mut() {
        Some(parent) => parent.item.children.push(done.item),
        None => roots.push(done.item),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_hold_services() {
        let text = "host \"vps\" {\n    os \"debian-12\"\n    user \"ops\" sudo=#true\n}\nstack \"blog\" host=\"vps\" {\n    service \"web\" image=\"x\" {\n        networks \"internal\"\n    }\n    service \"db\" {\n";
        let items = outline(text);
        let summary: Vec<(String, Option<String>, Vec<String>)> = items
            .iter()
            .map(|i| {
                (
                    i.node.clone(),
                    i.label.clone(),
                    i.children
                        .iter()
                        .map(|c| c.label.clone().unwrap_or_default())
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("host".into(), Some("vps".into()), vec!["ops".to_string()]),
                (
                    "stack".into(),
                    Some("blog".into()),
                    vec!["web".to_string(), "db".to_string()]
                ),
            ]
        );
        let web = &items[1].children[0];
        assert_eq!(
            &text[web.range.0..web.range.1],
            "service \"web\" image=\"x\" {\n        networks \"internal\"\n    }"
        );
        assert_eq!(items[1].range.1, text.len());
    }
}
