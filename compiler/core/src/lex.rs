//! Tokens of KDL text, for the tools that must work where the `kdl` parser
//! gives up or forgets: the formatter (which keeps comments), syntax-error
//! recovery and the editor's cursor context (which read half-typed text).
//! In: any text. Out: every byte of it as a token with its offset; never an
//! error (an unterminated string or comment runs to the end of the text).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Space,
    Newline,
    /// `// …` to the end of the line.
    LineComment,
    /// `/* … */`, nested, perhaps over several lines.
    BlockComment,
    /// A quoted, raw or multi-line string, exactly as written.
    String,
    /// An identifier, number, keyword or type annotation.
    Word,
    Equals,
    Open,
    Close,
    Semicolon,
    /// `/-`, which comments out what follows.
    Slashdash,
    /// `\`, a line continuation.
    Continuation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: TokenKind,
    pub text: &'a str,
    pub start: usize,
}

impl Token<'_> {
    pub fn end(&self) -> usize {
        self.start + self.text.len()
    }

    /// Whether the token carries no meaning (space or comment, not a newline).
    pub fn is_trivia(&self) -> bool {
        matches!(
            self.kind,
            TokenKind::Space | TokenKind::LineComment | TokenKind::BlockComment
        )
    }

    /// A string token's value without quotes or escapes processing beyond
    /// the common `\"`; a word as written. For names, which never hold escapes.
    pub fn unquoted(&self) -> &str {
        match self.kind {
            TokenKind::String => {
                let body = self.text.trim_matches('#');
                let body = body.strip_prefix('"').unwrap_or(body);
                body.strip_suffix('"').unwrap_or(body)
            }
            _ => self.text,
        }
    }

    /// Whether a string token lacks its closing quote (text typed so far).
    pub fn is_unterminated(&self) -> bool {
        self.kind == TokenKind::String && !string_len(self.text).1
    }
}

/// Splits KDL text into tokens covering it entirely.
pub fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let rest = &text[i..];
        let (kind, len) = match c {
            ' ' | '\t' | '\u{feff}' => (
                TokenKind::Space,
                rest.find(|c| !matches!(c, ' ' | '\t' | '\u{feff}'))
                    .unwrap_or(rest.len()),
            ),
            '\r' | '\n' => (
                TokenKind::Newline,
                if rest.starts_with("\r\n") { 2 } else { 1 },
            ),
            '/' if rest.starts_with("//") => {
                let line = &rest[..rest.find('\n').unwrap_or(rest.len())];
                (TokenKind::LineComment, line.trim_end_matches('\r').len())
            }
            '/' if rest.starts_with("/*") => (TokenKind::BlockComment, block_comment_len(rest)),
            '/' if rest.starts_with("/-") => (TokenKind::Slashdash, 2),
            '"' | '#' if is_string_start(rest) => (TokenKind::String, string_len(rest).0),
            '=' => (TokenKind::Equals, 1),
            '{' => (TokenKind::Open, 1),
            '}' => (TokenKind::Close, 1),
            ';' => (TokenKind::Semicolon, 1),
            '\\' => (TokenKind::Continuation, 1),
            _ => (TokenKind::Word, word_len(rest)),
        };
        out.push(Token {
            kind,
            text: &rest[..len],
            start: i,
        });
        i += len;
    }
    out
}

fn block_comment_len(rest: &str) -> usize {
    let mut depth = 0;
    let mut i = 0;
    while let Some(c) = rest[i..].chars().next() {
        if rest[i..].starts_with("/*") {
            depth += 1;
            i += 2;
        } else if rest[i..].starts_with("*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                break;
            }
        } else {
            i += c.len_utf8();
        }
    }
    i
}

/// A word runs to whitespace or punctuation; a type annotation `(t)` stays
/// glued to what it annotates. Always at least one character.
fn word_len(rest: &str) -> usize {
    let mut i = 0;
    while let Some(c) = rest[i..].chars().next() {
        let stops = c.is_whitespace()
            || matches!(c, '=' | '{' | '}' | ';' | '"')
            || (c == '/' && (rest[i..].starts_with("//") || rest[i..].starts_with("/*")));
        if stops && i > 0 {
            break;
        }
        i += c.len_utf8();
    }
    i
}

fn is_string_start(rest: &str) -> bool {
    rest.starts_with('"') || rest.trim_start_matches('#').starts_with('"')
}

/// The length of the string at the start of `rest`: `"…"` with escapes,
/// `"""…"""`, or raw `#"…"#` with any number of `#`; and whether it is
/// closed. A single-line string that is not closed ends before the newline,
/// as KDL 2 allows no newline in it (an escaped one is whitespace).
fn string_len(rest: &str) -> (usize, bool) {
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
    while let Some(c) = rest.get(i..).and_then(|r| r.chars().next()) {
        if hashes == 0 && c == '\\' {
            i += 1 + rest[i + 1..].chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if rest[i..].starts_with(&close) {
            return (i + close.len(), true);
        }
        if !multiline && matches!(c, '\n' | '\r') {
            return (i, false);
        }
        i += c.len_utf8();
    }
    (rest.len(), false)
}

/// The byte ranges of the top-level statements (nodes) of a text: from a
/// node's first token to the newline or `;` that ends it at depth zero, or to
/// the end of the text when a block is never closed.
pub fn top_level_statements(text: &str) -> Vec<(usize, usize)> {
    let mut statements = Vec::new();
    let mut depth = 0usize;
    let mut start: Option<usize> = None;
    let mut continued = false;
    let mut last_end = 0;
    for token in tokens(text) {
        match token.kind {
            _ if token.is_trivia() => continue,
            TokenKind::Newline | TokenKind::Semicolon if depth == 0 && !continued => {
                if let Some(s) = start.take() {
                    statements.push((s, last_end));
                }
            }
            TokenKind::Newline => {}
            _ => {
                start.get_or_insert(token.start);
                match token.kind {
                    TokenKind::Open => depth += 1,
                    TokenKind::Close => depth = depth.saturating_sub(1),
                    _ => {}
                }
                last_end = token.end();
            }
        }
        continued = token.kind == TokenKind::Continuation;
    }
    if let Some(s) = start {
        statements.push((s, if depth > 0 { text.len() } else { last_end }));
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cover_the_text_even_when_it_is_cut_off() {
        for text in [
            "a \"b\" c=#true { d \"\"\"\nx\n\"\"\" }",
            "service \"web",
            "/* open",
            "é#\"raw\"# /- x\\\n;",
        ] {
            let joined: String = tokens(text).iter().map(|t| t.text).collect();
            assert_eq!(joined, text);
        }
        assert!(tokens("depends-on \"db").last().unwrap().is_unterminated());
    }

    #[test]
    fn statements_end_at_depth_zero() {
        let text = "a 1\nb {\n  c\n}\n// x\nd; e\nf {\n g";
        let found: Vec<&str> = top_level_statements(text)
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect();
        assert_eq!(found, ["a 1", "b {\n  c\n}", "d", "e", "f {\n g"]);
    }
}
