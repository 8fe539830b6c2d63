//! GitHub Actions workflow commands: annotations on the source lines.

use super::relative_path;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

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
