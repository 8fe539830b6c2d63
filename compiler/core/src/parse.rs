//! Stage 1. In: the entry file's path and a [`SourceLoader`]. Out: every source
//! file (the entry and what it includes) as a KDL document, plus a diagnostic for
//! every syntax error and every file that cannot be read.
//!
//! A file with syntax errors still yields the nodes that can be recovered: the
//! top-level nodes that hold an error are blanked out (offsets kept) and the
//! rest is parsed again, so every other problem of the file is still reported
//! and the editor still knows its names.

use std::collections::BTreeSet;

use kdl::{KdlDocument, KdlError, KdlValue};

use crate::diagnostic::{Applicability, Code, Diagnostic, Diagnostics};
use crate::lex::{self, TokenKind};
use crate::source::{FileId, LoadError, SourceLoader, SourceMap, Span, join_relative};

pub struct ParsedFile {
    pub file: FileId,
    pub document: KdlDocument,
}

pub struct Parsed {
    pub sources: SourceMap,
    pub files: Vec<ParsedFile>,
    /// Top-level nodes dropped because they hold syntax errors.
    pub dropped: Vec<Span>,
}

impl Parsed {
    /// The words and strings of the dropped nodes: names that may well be
    /// declared there, so that a reference to them is not reported as unknown.
    pub fn dropped_names(&self) -> BTreeSet<String> {
        self.dropped
            .iter()
            .flat_map(|span| {
                let text = &self.sources.file(span.file).text[span.start..span.end];
                lex::tokens(text)
                    .into_iter()
                    .filter(|t| matches!(t.kind, TokenKind::String | TokenKind::Word))
                    .map(|t| t.unquoted().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

pub fn parse(entry: &str, loader: &dyn SourceLoader, diagnostics: &mut Diagnostics) -> Parsed {
    let mut parsed = Parsed {
        sources: SourceMap::default(),
        files: Vec::new(),
        dropped: Vec::new(),
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
        let document = match KdlDocument::parse(text) {
            Ok(document) => document,
            Err(error) => {
                let recovered = recover(text, error);
                for d in &recovered.errors {
                    diagnostics.push(syntax_error(file, text, d));
                }
                parsed
                    .dropped
                    .extend(recovered.dropped.iter().map(|&(start, end)| Span {
                        file,
                        start,
                        end,
                    }));
                match recovered.document {
                    Some(document) => document,
                    None => continue,
                }
            }
        };
        let mut includes = includes_of(&document, file, &path);
        // Reverse so that includes are read in source order from the stack.
        includes.reverse();
        pending.extend(includes);
        parsed.files.push(ParsedFile { file, document });
    }
    parsed
}

/// The language nests three levels; the KDL parser recurses once per level and
/// overflows the stack on pathological input, so such input never reaches it.
const MAX_DEPTH: usize = 64;

/// The offset of the first `{` that opens a block deeper than [`MAX_DEPTH`].
/// Braces inside strings and comments do not count.
fn too_deep(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for token in lex::tokens(text) {
        match token.kind {
            TokenKind::Open => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(token.start);
                }
            }
            TokenKind::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// How often a file is parsed again after dropping the nodes that hold errors.
const MAX_RECOVERY_ROUNDS: usize = 8;

struct Recovered {
    /// Every syntax error found, in every round.
    errors: Vec<kdl::KdlDiagnostic>,
    /// The byte ranges blanked out.
    dropped: Vec<(usize, usize)>,
    document: Option<KdlDocument>,
}

/// Blanks out the top-level statements that hold the errors (spaces, newlines
/// kept, so spans and lines stay right) and parses again until the rest parses.
fn recover(text: &str, error: KdlError) -> Recovered {
    let statements = lex::top_level_statements(text);
    let mut recovered = Recovered {
        errors: Vec::new(),
        dropped: Vec::new(),
        document: None,
    };
    let mut blanked = text.as_bytes().to_vec();
    let mut errors = error.diagnostics;
    for _ in 0..MAX_RECOVERY_ROUNDS {
        let mut progress = false;
        for d in &errors {
            let offset = error_offset(d);
            let holding = statements
                .iter()
                .rev()
                .find(|(start, _)| *start <= offset)
                .or(statements.first());
            if let Some(&(start, end)) = holding
                && !recovered.dropped.contains(&(start, end))
            {
                recovered.dropped.push((start, end));
                for byte in &mut blanked[start..end] {
                    if !matches!(*byte, b'\n' | b'\r') {
                        *byte = b' ';
                    }
                }
                progress = true;
            }
        }
        recovered.errors.append(&mut errors);
        if !progress {
            break;
        }
        // Only ASCII bytes were written over whole statements, so it is still UTF-8.
        let Ok(rest) = std::str::from_utf8(&blanked) else {
            break;
        };
        match KdlDocument::parse(rest) {
            Ok(document) => {
                recovered.document = Some(document);
                break;
            }
            Err(error) => errors = error.diagnostics,
        }
    }
    recovered.dropped.sort_unstable();
    recovered
}

/// Where an error is: kdl 6.7.1 reports some errors ("expected property
/// value") from offset 0, so take where such an error ends.
fn error_offset(error: &kdl::KdlDiagnostic) -> usize {
    let (offset, len) = (error.span.offset(), error.span.len());
    if offset == 0 && len > 1 {
        offset + len - 1
    } else {
        offset
    }
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

/// E002 for a file that cannot be read: a source, or a service's `file`.
pub fn unreadable(path: &str, error: &LoadError, span: Span) -> Diagnostic {
    let (message, help) = match error {
        LoadError::NotFound => (
            format!("`{path}` does not exist"),
            "check the path: it is relative to the source file that names it",
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
    let start = floor_char_boundary(text, error_offset(error));
    let mut end = floor_char_boundary(text, error.span.offset() + error.span.len());
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
