//! Stage 1. In: the entry file's path and a [`SourceLoader`]. Out: every source
//! file (the entry and what it includes) as a KDL document, plus a diagnostic for
//! every syntax error and every file that cannot be read.

use kdl::{KdlDocument, KdlValue};

use crate::diagnostic::{Applicability, Code, Diagnostic, Diagnostics};
use crate::source::{FileId, LoadError, SourceLoader, SourceMap, Span, join_relative};

pub struct ParsedFile {
    pub file: FileId,
    pub document: KdlDocument,
}

pub struct Parsed {
    pub sources: SourceMap,
    pub files: Vec<ParsedFile>,
}

pub fn parse(entry: &str, loader: &dyn SourceLoader, diagnostics: &mut Diagnostics) -> Parsed {
    let mut parsed = Parsed {
        sources: SourceMap::default(),
        files: Vec::new(),
    };
    let mut pending: Vec<(String, Option<Span>)> = vec![(entry.to_string(), None)];
    while let Some((path, included_at)) = pending.pop() {
        if parsed.sources.find(&path).is_some() {
            continue;
        }
        let text = match loader.load(&path) {
            Ok(text) => text,
            Err(error) => {
                let span = included_at.unwrap_or_else(|| {
                    let file = parsed.sources.add(path.clone(), String::new());
                    Span::new(file, 0, 0)
                });
                diagnostics.push(unreadable(&path, &error, span));
                continue;
            }
        };
        let file = parsed.sources.add(path.clone(), text);
        let text = &parsed.sources.file(file).text;
        if let Some(offset) = too_deep(text) {
            diagnostics.push(
                Diagnostic::new(
                    Code::E018,
                    format!("blocks are nested deeper than {MAX_DEPTH} levels"),
                    Span::new(file, offset, 1),
                    "too deep",
                )
                .with_help("infrac sources nest a few levels (stack → service → setting); check for stray `{`"),
            );
            continue;
        }
        match KdlDocument::parse(text) {
            Ok(document) => {
                let mut includes = includes_of(&document, file, &path);
                // Reverse so that includes are read in source order from the stack.
                includes.reverse();
                pending.extend(includes);
                parsed.files.push(ParsedFile { file, document });
            }
            Err(error) => {
                for d in error.diagnostics {
                    diagnostics.push(syntax_error(file, text, &d));
                }
            }
        }
    }
    parsed
}

/// The language nests three levels; the KDL parser recurses once per level and
/// overflows the stack on pathological input, so such input never reaches it.
const MAX_DEPTH: usize = 64;

/// The offset of the first `{` that opens a block deeper than [`MAX_DEPTH`].
/// Braces inside strings and comments do not count.
fn too_deep(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn includes_of(document: &KdlDocument, file: FileId, path: &str) -> Vec<(String, Option<Span>)> {
    document
        .nodes()
        .iter()
        .filter(|n| n.name().value() == crate::schema::keys::INCLUDE.0)
        .filter_map(|n| n.entries().first().filter(|e| e.name().is_none()))
        .filter_map(|e| match e.value() {
            KdlValue::String(target) => {
                let span = Span::new(file, e.span().offset(), e.span().len());
                Some((join_relative(path, target), Some(span)))
            }
            _ => None,
        })
        .collect()
}

fn unreadable(path: &str, error: &LoadError, span: Span) -> Diagnostic {
    let (message, help) = match error {
        LoadError::NotFound => (
            format!("`{path}` does not exist"),
            "check the path; include paths are relative to the including file",
        ),
        LoadError::NotText => (
            format!("`{path}` is not UTF-8 text"),
            "infrac sources are KDL 2 text files",
        ),
        LoadError::Other(why) => (
            format!("`{path}` cannot be read: {why}"),
            "check the file's permissions",
        ),
    };
    Diagnostic::new(Code::E002, message, span, "cannot read this file").with_help(help)
}

fn syntax_error(file: FileId, text: &str, error: &kdl::KdlDiagnostic) -> Diagnostic {
    let mut start = floor_char_boundary(text, error.span.offset());
    let mut end = floor_char_boundary(text, start + error.span.len());
    // kdl 6.7.1 reports some errors ("expected property value") from offset 0:
    // point at where the error ends instead of at the whole file before it.
    if start == 0 && end > 1 {
        start = floor_char_boundary(text, end - 1);
    }
    if end <= start {
        end = ceil_char_boundary(text, start + 1);
    }
    let message = error
        .message
        .clone()
        .unwrap_or_else(|| "invalid KDL".to_string());
    let mut diagnostic = Diagnostic::new(
        Code::E001,
        message,
        Span { file, start, end },
        error.label.clone().unwrap_or_else(|| "here".to_string()),
    );
    if let Some((help, replacement, len)) = syntax_hint(&text[start..]) {
        let word = Span::new(file, start, len);
        return diagnostic.with_help(help).with_fix(
            format!("write `{replacement}`"),
            Applicability::Safe,
            word,
            replacement,
        );
    }
    match &error.help {
        Some(help) if !help.is_empty() => diagnostic = diagnostic.with_help(help.clone()),
        _ => diagnostic = diagnostic.with_help("infrac sources are KDL 2.0: strings such as image references need quotes, booleans are `#true` / `#false`"),
    }
    diagnostic
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

fn ceil_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset += 1;
    }
    offset
}

/// Help and a fix for the two mistakes people make most when they come from
/// KDL 1 or YAML: the help, the replacement, and the length of the word it replaces.
fn syntax_hint(at: &str) -> Option<(String, String, usize)> {
    let word: String = at
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, '{' | '}' | ';' | '"' | '=' | '(' | ')'))
        .collect();
    match word.as_str() {
        "true" | "false" | "null" => Some((
            format!("KDL 2.0 writes keywords with `#`: `#{word}`"),
            format!("#{word}"),
            word.len(),
        )),
        _ if word.contains([':', '/']) => Some((
            format!("quote the value: `\"{word}\"` (KDL 2.0 strings with `:` or `/` need quotes)"),
            format!("{word:?}"),
            word.len(),
        )),
        _ => None,
    }
}
