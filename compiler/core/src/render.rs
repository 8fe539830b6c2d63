//! Turns diagnostics into text, in one place: the human report (miette) and the
//! machine-readable JSON form. In: the source map and sorted diagnostics.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};

/// Human-readable reports, one after the other, then a summary line.
pub fn render_human(sources: &SourceMap, diagnostics: &[Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    for diagnostic in diagnostics {
        let report = Report::new(sources, diagnostic);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&format!("{}: {}\n", diagnostic.code, diagnostic.message));
        }
        out.push('\n');
    }
    out.push_str(&summary(diagnostics));
    out.push('\n');
    // miette ends some lines with a space; snapshots and terminals do not need it.
    out.lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let count = |severity| {
        diagnostics
            .iter()
            .filter(|d| d.severity() == severity)
            .count()
    };
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    format!(
        "{}, {}",
        plural(count(Severity::Error), "error"),
        plural(count(Severity::Warning), "warning")
    )
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: &'a str,
    help: Option<&'a str>,
    location: JsonLocation<'a>,
    labels: Vec<JsonLabel<'a>>,
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

/// A JSON array, one object per diagnostic, with 1-based lines and columns.
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
        })
        .collect();
    serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string()) + "\n"
}

/// One diagnostic in the shape miette renders. Labels in other files than the
/// primary span's become notes in the help text (miette shows one source).
struct Report {
    message: String,
    code: String,
    severity: miette::Severity,
    help: Option<String>,
    source: NamedSource<String>,
    labels: Vec<LabeledSpan>,
}

impl Report {
    fn new(sources: &SourceMap, diagnostic: &Diagnostic) -> Report {
        let file = diagnostic.primary.span.file;
        let source = sources.file(file);
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            Some(diagnostic.primary.text.clone()),
            miette_span(diagnostic.primary.span),
        )];
        let mut notes = Vec::new();
        for label in &diagnostic.secondary {
            if label.span.file == file {
                labels.push(LabeledSpan::new_with_span(
                    Some(label.text.clone()),
                    miette_span(label.span),
                ));
            } else {
                let (line, column) = sources.line_column(label.span.file, label.span.start);
                notes.push(format!(
                    "{}: {}:{line}:{column}",
                    label.text,
                    sources.file(label.span.file).path
                ));
            }
        }
        let help = diagnostic
            .help
            .iter()
            .cloned()
            .chain(notes)
            .collect::<Vec<_>>();
        Report {
            message: diagnostic.message.clone(),
            code: format!("{}({})", diagnostic.code, diagnostic.code.slug()),
            severity: match diagnostic.severity() {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            help: (!help.is_empty()).then(|| help.join("\n")),
            source: NamedSource::new(&source.path, source.text.clone()),
            labels,
        }
    }
}

fn miette_span(span: Span) -> SourceSpan {
    SourceSpan::new(span.start.into(), span.len())
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(&self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(self.labels.iter().cloned()))
    }
}

/// Where each diagnostic code's page is published; SARIF links rules to it.
pub const DOCS_URL: &str = "https://github.com/infrac-dev/infrac/blob/main/docs/diagnostics/";

/// GitHub Actions workflow commands, one per diagnostic: the runner turns them
/// into annotations on the source lines of the pull request.
pub fn render_github(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let span = diagnostic.primary.span;
        let (line, column) = sources.line_column(span.file, span.start);
        let (end_line, end_column) = sources.line_column(span.file, span.end);
        let command = match diagnostic.severity() {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = diagnostic.message.clone();
        if let Some(help) = &diagnostic.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        out.push_str(&format!(
            "::{command} file={},line={line},col={column},endLine={end_line},endColumn={end_column},title={}::{}\n",
            escape_property(relative_path(&sources.file(span.file).path)),
            escape_property(&format!("{} {}", diagnostic.code, diagnostic.code.slug())),
            escape_data(&message),
        ));
    }
    out
}

/// Workflow-command escaping: data cannot end the command with a newline,
/// properties cannot end a property with `,` or the properties with `:`.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Paths as the user named them, without a leading `./`, as GitHub and SARIF
/// expect paths relative to the repository.
fn relative_path(path: &str) -> &str {
    path.trim_start_matches("./")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLog {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<SarifRun>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRun {
    tool: SarifTool,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct SarifTool {
    driver: SarifDriver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifDriver {
    name: &'static str,
    version: &'static str,
    information_uri: &'static str,
    rules: Vec<SarifRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule {
    id: &'static str,
    name: &'static str,
    short_description: SarifText,
    help_uri: String,
    help: SarifMarkdown,
    default_configuration: SarifConfiguration,
}

#[derive(Serialize)]
struct SarifText {
    text: String,
}

#[derive(Serialize)]
struct SarifMarkdown {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct SarifConfiguration {
    level: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: SarifText,
    locations: Vec<SarifLocation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<SarifRelated>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: SarifPhysical,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRelated {
    id: usize,
    physical_location: SarifPhysical,
    message: SarifText,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifPhysical {
    artifact_location: SarifArtifact,
    region: SarifRegion,
}

#[derive(Serialize)]
struct SarifArtifact {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRegion {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn physical(sources: &SourceMap, span: Span) -> SarifPhysical {
    let (start_line, start_column) = sources.line_column(span.file, span.start);
    let (end_line, end_column) = sources.line_column(span.file, span.end);
    SarifPhysical {
        artifact_location: SarifArtifact {
            uri: relative_path(&sources.file(span.file).path).to_string(),
        },
        region: SarifRegion {
            start_line,
            start_column,
            end_line,
            end_column,
        },
    }
}

/// A SARIF 2.1.0 log for code scanning: every code is a rule (id = code, help
/// = its docs page), every diagnostic a result at its source span.
pub fn render_sarif(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let codes = crate::diagnostic::Code::ALL;
    let rules = codes
        .iter()
        .map(|code| SarifRule {
            id: code.as_str(),
            name: code.slug(),
            short_description: SarifText {
                text: code.title().to_string(),
            },
            help_uri: format!("{DOCS_URL}{}.md", code.as_str()),
            help: SarifMarkdown {
                text: format!(
                    "{}: {}. See `infrac explain {}`.",
                    code.as_str(),
                    code.title(),
                    code.as_str()
                ),
                markdown: code.docs().to_string(),
            },
            default_configuration: SarifConfiguration {
                level: level(code.severity()),
            },
        })
        .collect();
    let results = diagnostics
        .iter()
        .map(|d| SarifResult {
            rule_id: d.code.as_str(),
            rule_index: codes.iter().position(|c| *c == d.code).unwrap_or_default(),
            level: level(d.severity()),
            message: SarifText {
                text: match &d.help {
                    Some(help) => format!("{}\nhelp: {help}", d.message),
                    None => d.message.clone(),
                },
            },
            locations: vec![SarifLocation {
                physical_location: physical(sources, d.primary.span),
            }],
            related_locations: d
                .secondary
                .iter()
                .enumerate()
                .map(|(id, label)| SarifRelated {
                    id,
                    physical_location: physical(sources, label.span),
                    message: SarifText {
                        text: label.text.clone(),
                    },
                })
                .collect(),
        })
        .collect();
    let log = SarifLog {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        version: "2.1.0",
        runs: vec![SarifRun {
            tool: SarifTool {
                driver: SarifDriver {
                    name: "infrac",
                    version: env!("CARGO_PKG_VERSION"),
                    information_uri: "https://github.com/infrac-dev/infrac",
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    serde_json::to_string_pretty(&log).unwrap_or_default() + "\n"
}
