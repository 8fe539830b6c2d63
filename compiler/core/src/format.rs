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

#[derive(Clone, Debug, PartialEq)]
enum Token<'a> {
    Space,
    Newline,
    /// `// …` to the end of the line.
    LineComment(&'a str),
    /// `/* … */`, nested, perhaps over several lines.
    BlockComment(&'a str),
    /// A quoted, raw or multi-line string, exactly as written.
    String(&'a str),
    /// An identifier, number, keyword or type annotation.
    Word(&'a str),
    Equals,
    Open,
    Close,
    Semicolon,
    /// `/-`, which comments out what follows.
    Slashdash,
    /// `\`, a line continuation.
    Continuation,
}

/// Splits KDL text into tokens; `None` on text it cannot place (the caller
/// has already parsed it, so this only guards against surprises).
fn tokens(text: &str) -> Option<Vec<Token<'_>>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        let start = i;
        let c = rest.chars().next()?;
        match c {
            ' ' | '\t' | '\u{feff}' => {
                while let Some(c) = text[i..]
                    .chars()
                    .next()
                    .filter(|c| matches!(c, ' ' | '\t' | '\u{feff}'))
                {
                    i += c.len_utf8();
                }
                out.push(Token::Space);
                continue;
            }
            '\r' | '\n' => {
                i += if rest.starts_with("\r\n") { 2 } else { 1 };
                out.push(Token::Newline);
                continue;
            }
            '/' if rest.starts_with("//") => {
                i += rest.find('\n').unwrap_or(rest.len());
                let comment = text[start..i].trim_end_matches('\r');
                out.push(Token::LineComment(comment));
                i = start + comment.len();
                continue;
            }
            '/' if rest.starts_with("/*") => {
                let mut depth = 0;
                while i < bytes.len() {
                    if text[i..].starts_with("/*") {
                        depth += 1;
                        i += 2;
                    } else if text[i..].starts_with("*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += text[i..].chars().next()?.len_utf8();
                    }
                }
                out.push(Token::BlockComment(&text[start..i]));
                continue;
            }
            '/' if rest.starts_with("/-") => {
                i += 2;
                out.push(Token::Slashdash);
                continue;
            }
            '"' | '#' if is_string_start(rest) => {
                i += string_len(rest)?;
                out.push(Token::String(&text[start..i]));
                continue;
            }
            '=' => out.push(Token::Equals),
            '{' => out.push(Token::Open),
            '}' => out.push(Token::Close),
            ';' => out.push(Token::Semicolon),
            '\\' => out.push(Token::Continuation),
            _ => {
                // A word runs to whitespace or punctuation; a type annotation
                // `(t)` stays glued to what it annotates.
                while let Some(c) = text[i..].chars().next() {
                    if c.is_whitespace() || matches!(c, '=' | '{' | '}' | ';' | '"') {
                        break;
                    }
                    if c == '/' && (text[i..].starts_with("//") || text[i..].starts_with("/*")) {
                        break;
                    }
                    i += c.len_utf8();
                }
                if i == start {
                    return None;
                }
                out.push(Token::Word(&text[start..i]));
                continue;
            }
        }
        i += 1;
    }
    Some(out)
}

fn is_string_start(rest: &str) -> bool {
    rest.starts_with('"') || rest.trim_start_matches('#').starts_with('"')
}

/// The length of the string at the start of `rest`: `"…"` with escapes,
/// `"""…"""`, or raw `#"…"#` with any number of `#`.
fn string_len(rest: &str) -> Option<usize> {
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    let body = &rest[hashes..];
    let multiline = body.starts_with("\"\"\"");
    let open = if multiline { 3 } else { 1 };
    let close = format!(
        "{}{}",
        if multiline { "\"\"\"" } else { "\"" },
        "#".repeat(hashes)
    );
    let mut i = hashes + open;
    while i < rest.len() {
        if hashes == 0 && rest[i..].starts_with('\\') {
            i += 1 + rest[i + 1..].chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if rest[i..].starts_with(&close) {
            return Some(i + close.len());
        }
        i += rest[i..].chars().next()?.len_utf8();
    }
    None
}

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
    let tokens = tokens(text)?;
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
        if line.is_empty() && !matches!(token, Token::Space | Token::Newline) {
            let closing = matches!(token, Token::Close);
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
        match token {
            Token::Space => pending_space = true,
            Token::Newline => {
                push_line(&mut lines, &mut line, &mut blank_lines);
                if !continued {
                    at_node_name = true;
                }
                continued = false;
                after_equals = false;
            }
            Token::LineComment(text) | Token::BlockComment(text) => {
                if !line.trim().is_empty() {
                    pending_space = true;
                }
                glue(&mut line, &mut pending_space, text);
            }
            Token::String(text) => {
                let spaced = pending_space && !after_equals;
                pending_space = spaced;
                glue(&mut line, &mut pending_space, text);
                at_node_name = false;
                after_equals = false;
            }
            Token::Word(word) => {
                let glued_to_next = matches!(
                    tokens[index + 1..].iter().find(|t| **t != Token::Space),
                    Some(Token::Equals)
                );
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
            Token::Equals => {
                pending_space = false;
                line.push('=');
                after_equals = true;
            }
            Token::Open => {
                pending_space = true;
                glue(&mut line, &mut pending_space, "{");
                depth += 1;
                at_node_name = true;
            }
            Token::Close => {
                glue(&mut line, &mut pending_space, "}");
                depth = depth.saturating_sub(1);
                at_node_name = true;
            }
            Token::Semicolon => {
                pending_space = false;
                line.push(';');
                at_node_name = true;
            }
            Token::Slashdash => {
                glue(&mut line, &mut pending_space, "/-");
                pending_space = false;
            }
            Token::Continuation => {
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
