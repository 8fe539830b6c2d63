//! SARIF 2.1.0 for code scanning: every code a rule, every diagnostic a
//! result, every fix a SARIF fix.

use serde::Serialize;

use super::relative_path;
use crate::diagnostic::{Diagnostic, Severity};
use crate::source::{SourceMap, Span};

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
    #[serde(skip_serializing_if = "Option::is_none")]
    information_uri: Option<String>,
    rules: Vec<SarifRule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule {
    id: &'static str,
    name: &'static str,
    short_description: SarifText,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fixes: Vec<SarifFix>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifFix {
    description: SarifText,
    artifact_changes: Vec<SarifArtifactChange>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifArtifactChange {
    artifact_location: SarifArtifact,
    replacements: Vec<SarifReplacement>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifReplacement {
    deleted_region: SarifRegion,
    inserted_content: SarifText,
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
/// `docs_url`: where the code pages live (see `render::docs_url`); without it
/// rules carry their page as markdown only.
pub fn render_sarif(
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
    docs_url: Option<&str>,
) -> String {
    let codes = crate::diagnostic::Code::ALL;
    let rules = codes
        .iter()
        .map(|code| SarifRule {
            id: code.as_str(),
            name: code.slug(),
            short_description: SarifText {
                text: code.title().to_string(),
            },
            help_uri: docs_url.map(|url| format!("{url}{}.md", code.as_str())),
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
            fixes: d
                .fixes
                .iter()
                .map(|fix| SarifFix {
                    description: SarifText {
                        text: fix.message.clone(),
                    },
                    artifact_changes: fix
                        .edits
                        .first()
                        .map(|edit| SarifArtifactChange {
                            artifact_location: physical(sources, edit.span).artifact_location,
                            replacements: fix
                                .edits
                                .iter()
                                .map(|e| SarifReplacement {
                                    deleted_region: physical(sources, e.span).region,
                                    inserted_content: SarifText {
                                        text: e.replacement.clone(),
                                    },
                                })
                                .collect(),
                        })
                        .into_iter()
                        .collect(),
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
                    information_uri: docs_url.and_then(|url| {
                        url.split_once("/blob/")
                            .map(|(repository, _)| repository.to_string())
                    }),
                    rules,
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    serde_json::to_string_pretty(&log).unwrap_or_default() + "\n"
}
