//! `infrac fmt`: one canonical layout for sources. In: a file's text. Out: the
//! same document laid out canonically, or `None` when it is not valid KDL (a
//! file that does not parse is never touched).
//!
//! The formatter works on tokens, not on the `kdl` crate's tree, whose printer
//! drops comments: every comment stays exactly where it was written. The layout:
//! four spaces of indentation per block; one space between entries, none
//! around `=`; every string value quoted; trailing whitespace removed; at most
//! one blank line in a row and none at the start; one newline at the end. Lines
//! are never joined or split, and multi-line strings and comments are kept
//! verbatim, so formatting twice changes nothing.

use kdl::KdlDocument;

use crate::lex::{self, TokenKind};

/// Whether a word is a bare identifier string (`internal`), which the layout
/// quotes, rather than a number, a keyword (`#true`) or an annotation.
fn is_bare_string(word: &str) -> bool {
    let first = word.chars().next().unwrap_or('0');
    !(first.is_ascii_digit()
        || matches!(first, '#' | '(' | '.')
        || ((first == '-' || first == '+')
            && word[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.')))
}

/// The canonical layout of a source file, or `None` when it is not valid KDL.
pub fn format_source(text: &str) -> Option<String> {
    KdlDocument::parse(text).ok()?;
    let tokens = lex::tokens(text);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut depth: usize = 0;
    // Where the current line's statement stands: at its node name, or past it.
    let mut at_node_name = true;
    let mut after_equals = false;
    let mut continued = false;
    let mut pending_space = false;
    let mut blank_lines = 0;
    let push_line = |lines: &mut Vec<String>, line: &mut String, blank_lines: &mut usize| {
        let trimmed = line.trim_end().to_string();
        if trimmed.is_empty() {
            *blank_lines += 1;
        } else {
            if *blank_lines > 0 && !lines.is_empty() {
                lines.push(String::new());
            }
            *blank_lines = 0;
            lines.push(trimmed);
        }
        line.clear();
    };
    for (index, token) in tokens.iter().enumerate() {
        if line.is_empty() && !matches!(token.kind, TokenKind::Space | TokenKind::Newline) {
            let closing = token.kind == TokenKind::Close;
            let level = if closing {
                depth.saturating_sub(1)
            } else {
                depth
            } + usize::from(continued);
            line.push_str(&"    ".repeat(level));
            pending_space = false;
        }
        let glue = |line: &mut String, pending: &mut bool, text: &str| {
            if *pending && !line.trim().is_empty() {
                line.push(' ');
            }
            *pending = false;
            line.push_str(text);
        };
        let text = token.text;
        match token.kind {
            TokenKind::Space => pending_space = true,
            TokenKind::Newline => {
                push_line(&mut lines, &mut line, &mut blank_lines);
                if !continued {
                    at_node_name = true;
                }
                continued = false;
                after_equals = false;
            }
            TokenKind::LineComment | TokenKind::BlockComment => {
                if !line.trim().is_empty() {
                    pending_space = true;
                }
                glue(&mut line, &mut pending_space, text);
            }
            TokenKind::String => {
                let spaced = pending_space && !after_equals;
                pending_space = spaced;
                glue(&mut line, &mut pending_space, text);
                at_node_name = false;
                after_equals = false;
            }
            TokenKind::Word => {
                let word = text;
                let glued_to_next = tokens[index + 1..]
                    .iter()
                    .find(|t| t.kind != TokenKind::Space)
                    .is_some_and(|t| t.kind == TokenKind::Equals);
                let spaced = pending_space && !after_equals;
                pending_space = spaced;
                let quote = !at_node_name && !glued_to_next && is_bare_string(word);
                let text = if quote {
                    format!("\"{word}\"")
                } else {
                    word.to_string()
                };
                glue(&mut line, &mut pending_space, &text);
                // A lone annotation `(t)` precedes the name or value it annotates.
                if !(word.starts_with('(') && word.ends_with(')')) {
                    at_node_name = false;
                }
                after_equals = false;
            }
            TokenKind::Equals => {
                pending_space = false;
                line.push('=');
                after_equals = true;
            }
            TokenKind::Open => {
                pending_space = true;
                glue(&mut line, &mut pending_space, "{");
                depth += 1;
                at_node_name = true;
            }
            TokenKind::Close => {
                glue(&mut line, &mut pending_space, "}");
                depth = depth.saturating_sub(1);
                at_node_name = true;
            }
            TokenKind::Semicolon => {
                pending_space = false;
                line.push(';');
                at_node_name = true;
            }
            TokenKind::Slashdash => {
                glue(&mut line, &mut pending_space, "/-");
                pending_space = false;
            }
            TokenKind::Continuation => {
                glue(&mut line, &mut pending_space, "\\");
                continued = true;
            }
        }
    }
    if !line.is_empty() {
        push_line(&mut lines, &mut line, &mut blank_lines);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    // A formatter that changed what the file means must not write it.
    let same = |a: &str, b: &str| match (KdlDocument::parse(a), KdlDocument::parse(b)) {
        (Ok(mut a), Ok(mut b)) => {
            a.clear_format_recursive();
            b.clear_format_recursive();
            a.to_string() == b.to_string()
        }
        _ => false,
    };
    same(text, &out).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::format_source;

    #[test]
    fn indents_spaces_and_quotes() {
        let input = "stack \"blog\"   host = \"vps1\" {\n  service web image=\"x:1\"{\n networks   internal ingress // tiers\n\n\n\n }\n}";
        let output = format_source(input).unwrap();
        assert_eq!(
            output,
            "stack \"blog\" host=\"vps1\" {\n    service \"web\" image=\"x:1\" {\n        networks \"internal\" \"ingress\" // tiers\n\n    }\n}\n"
        );
        assert_eq!(format_source(&output).unwrap(), output);
    }

    #[test]
    fn keeps_comments_and_multiline_strings() {
        let input =
            "/* a\n   block */\nnode \"\"\"\n  raw text\n  \"\"\" /* inline */ #true\n// last\n";
        let output = format_source(input).unwrap();
        assert!(output.contains("/* a\n   block */"));
        assert!(output.contains("\"\"\"\n  raw text\n  \"\"\""));
        assert!(output.contains("/* inline */"));
        assert!(output.ends_with("// last\n"));
    }

    #[test]
    fn refuses_invalid_kdl() {
        assert_eq!(format_source("node {"), None);
    }
}
