//! The human report: miette's graphical rendering, then a summary line.

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};

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
