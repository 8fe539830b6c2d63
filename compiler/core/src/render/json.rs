//! The JSON form: one object per diagnostic with 1-based lines and columns,
//! its labels, and its fixes as edits.

use serde::Serialize;

use crate::diagnostic::{Applicability, Diagnostic, Severity};
use crate::source::{SourceMap, Span};

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    help: Option<&'a str>,
    location: JsonLocation<'a>,
    labels: Vec<JsonLabel<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixes: Vec<JsonFix<'a>>,
}

#[derive(Serialize)]
struct JsonFix<'a> {
    message: &'a str,
    applicability: Applicability,
    edits: Vec<JsonEdit<'a>>,
}

#[derive(Serialize)]
struct JsonEdit<'a> {
    location: JsonLocation<'a>,
    replacement: &'a str,
}

#[derive(Serialize)]
struct JsonLocation<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub offset: usize,
    pub length: usize,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    text: &'a str,
    location: JsonLocation<'a>,
}

fn location<'a>(sources: &'a SourceMap, span: Span) -> JsonLocation<'a> {
    let (line, column) = sources.line_column(span.file, span.start);
    let (end_line, end_column) = sources.line_column(span.file, span.end);
    JsonLocation {
        file: &sources.file(span.file).path,
        line,
        column,
        end_line,
        end_column,
        offset: span.start,
        length: span.len(),
    }
}

/// A JSON array, one object per diagnostic, with 1-based lines and columns;
/// `fixes` lists edits (byte offsets and lines) a tool can apply.
pub fn render_json(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let items: Vec<JsonDiagnostic> = diagnostics
        .iter()
        .map(|d| JsonDiagnostic {
            code: d.code.as_str(),
            name: d.code.slug(),
            severity: d.severity(),
            message: &d.message,
            help: d.help.as_deref(),
            location: location(sources, d.primary.span),
            labels: std::iter::once(&d.primary)
                .chain(&d.secondary)
                .map(|l| JsonLabel {
                    text: &l.text,
                    location: location(sources, l.span),
                })
                .collect(),
            fixes: d
                .fixes
                .iter()
                .map(|f| JsonFix {
                    message: &f.message,
                    applicability: f.applicability,
                    edits: f
                        .edits
                        .iter()
                        .map(|e| JsonEdit {
                            location: location(sources, e.span),
                            replacement: &e.replacement,
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string()) + "\n"
}
