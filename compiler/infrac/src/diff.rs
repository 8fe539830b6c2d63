//! `infrac diff`: what a build would change in an artifact directory. Reads the
//! directory, compares it with the artifacts in memory, and renders the result
//! as a unified diff, a markdown pull-request comment or JSON.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use infrac_core::Artifacts;
use serde::Serialize;
use similar::TextDiff;

/// The manifest lists hashes of the other files: its diff says nothing they do not.
const SKIPPED: &str = "manifest.json";
/// GitHub refuses comments over 65,536 characters.
const MARKDOWN_LIMIT: usize = 60_000;

#[derive(Serialize)]
pub struct TreeDiff {
    pub added: Vec<FileDiff>,
    pub removed: Vec<FileDiff>,
    pub changed: Vec<FileDiff>,
    pub unchanged: usize,
}

#[derive(Serialize)]
pub struct FileDiff {
    pub path: String,
    pub diff: String,
    pub lines_added: usize,
    pub lines_removed: usize,
}

impl TreeDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} added, {} removed, {} changed, {} unchanged",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.unchanged
        )
    }
}

/// Compares the build with the files under `dir` (a missing directory is empty).
pub fn diff_against(artifacts: &Artifacts, dir: &Path) -> io::Result<TreeDiff> {
    let mut before = BTreeMap::new();
    if dir.exists() {
        read_tree(dir, dir, &mut before)?;
    }
    let mut diff = TreeDiff {
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for (path, after) in artifacts.iter().filter(|(p, _)| *p != SKIPPED) {
        match before.get(path) {
            None => diff.added.push(file_diff(path, "", after)),
            Some(old) if old != after => diff.changed.push(file_diff(path, old, after)),
            Some(_) => diff.unchanged += 1,
        }
    }
    for (path, old) in before.iter().filter(|(p, _)| *p != SKIPPED) {
        if !artifacts.contains_key(path) {
            diff.removed.push(file_diff(path, old, ""));
        }
    }
    Ok(diff)
}

fn read_tree(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            read_tree(root, &path, files)?;
        } else {
            let relative = path
                .strip_prefix(root)
                .map_err(io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&path)?;
            files.insert(relative, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(())
}

fn file_diff(path: &str, before: &str, after: &str) -> FileDiff {
    let text = TextDiff::from_lines(before, after);
    let (mut lines_added, mut lines_removed) = (0, 0);
    for change in text.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Insert => lines_added += 1,
            similar::ChangeTag::Delete => lines_removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    FileDiff {
        path: path.to_string(),
        diff: text
            .unified_diff()
            .context_radius(3)
            .header(&format!("a/{path}"), &format!("b/{path}"))
            .to_string(),
        lines_added,
        lines_removed,
    }
}

pub fn render_unified(diff: &TreeDiff) -> String {
    let mut out = String::new();
    for file in diff.added.iter().chain(&diff.removed).chain(&diff.changed) {
        out.push_str(&file.diff);
    }
    out.push_str(&format!("{}\n", diff.summary()));
    out
}

pub fn render_json(diff: &TreeDiff) -> String {
    #[derive(Serialize)]
    struct Json<'a> {
        #[serde(flatten)]
        diff: &'a TreeDiff,
        summary: String,
    }
    serde_json::to_string_pretty(&Json {
        diff,
        summary: diff.summary(),
    })
    .unwrap_or_default()
        + "\n"
}

/// A pull-request comment: a summary, then one collapsible block per file, cut
/// (with a note) before GitHub's size limit.
pub fn render_markdown(diff: &TreeDiff) -> String {
    let mut out = String::from("### infrac: what this change does to the artifacts\n\n");
    if diff.is_empty() {
        out.push_str(&format!(
            "No artifact changes ({} files unchanged).\n",
            diff.unchanged
        ));
        return out;
    }
    out.push_str(&format!("{}.\n\n", diff.summary()));
    let files = diff
        .added
        .iter()
        .map(|f| ("added", f))
        .chain(diff.removed.iter().map(|f| ("removed", f)))
        .chain(diff.changed.iter().map(|f| ("changed", f)));
    let total = diff.added.len() + diff.removed.len() + diff.changed.len();
    for (shown, (kind, file)) in files.enumerate() {
        let fence = "`".repeat(longest_backtick_run(&file.diff).max(2) + 1);
        let block = format!(
            "<details><summary><code>{}</code> — {kind}, +{} −{}</summary>\n\n{fence}diff\n{}{fence}\n\n</details>\n",
            html_escape(&file.path),
            file.lines_added,
            file.lines_removed,
            file.diff
        );
        if out.len() + block.len() > MARKDOWN_LIMIT {
            out.push_str(&format!(
                "\n{} more files are not shown: the comment is cut at {MARKDOWN_LIMIT} characters. Run `infrac diff` locally for the rest.\n",
                total - shown
            ));
            break;
        }
        out.push_str(&block);
    }
    out
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
