//! Turns diagnostics into text, in one place, one file per format: the human
//! report (miette), JSON, SARIF 2.1.0 for code scanning, and GitHub workflow
//! commands. In: the source map and sorted diagnostics. Out: text.

mod github;
mod human;
mod json;
mod sarif;

pub use github::render_github;
pub use human::{render_human, summary};
pub use json::render_json;
pub use sarif::render_sarif;

/// Where each diagnostic code's page is published; SARIF links rules to it.
pub const DOCS_URL: &str = "https://github.com/infrac-dev/infrac/blob/main/docs/diagnostics/";

/// Paths as the user named them, without a leading `./`, as GitHub and SARIF
/// expect paths relative to the repository.
fn relative_path(path: &str) -> &str {
    path.trim_start_matches("./")
}
