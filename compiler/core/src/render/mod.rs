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

/// Where each diagnostic code's page is published, when the project says where
/// infrac comes from (`gitops { infrac git=… rev=… }` on GitHub): the pages of
/// that very revision. SARIF links its rules there.
pub fn docs_url(model: &crate::model::Model) -> Option<String> {
    let source = model.gitops.as_ref()?.infrac.as_ref()?;
    source.git.starts_with("https://github.com/").then(|| {
        format!(
            "{}/blob/{}/docs/diagnostics/",
            source.git.trim_end_matches(".git"),
            source.rev
        )
    })
}

/// Paths as the user named them, without a leading `./`, as GitHub and SARIF
/// expect paths relative to the repository.
fn relative_path(path: &str) -> &str {
    path.trim_start_matches("./")
}
