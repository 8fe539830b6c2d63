//! Applying fixes. In: a project (entry and loader). Out: the new text of every
//! source file the fixes changed, and the compilation of the fixed sources.
//! Fixes are applied in rounds (a fix can reveal the next problem, as a
//! corrected name lets its value be checked) until none is left; nothing is
//! written here, the caller decides what to do with the texts.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::diagnostic::{Applicability, Edit, apply_edits};
use crate::source::{FileId, LoadError, SourceLoader};
use crate::{Compilation, check};

/// More rounds than any chain of fixes needs; a fix that undoes another could
/// otherwise loop.
const MAX_ROUNDS: usize = 8;

pub struct Fixed {
    /// Path → fixed text, for every file that changed.
    pub files: BTreeMap<String, String>,
    /// How many fixes were applied, over all rounds.
    pub applied: usize,
    /// The fixed project, compiled.
    pub compilation: Compilation,
}

/// Applies every safe fix (and, with `include_unsafe`, every other fix too).
pub fn fix(entry: &str, loader: &dyn SourceLoader, include_unsafe: bool) -> Fixed {
    let overlay = Overlay {
        base: loader,
        files: RefCell::new(BTreeMap::new()),
    };
    let mut applied = 0;
    let mut compilation = check(entry, &overlay);
    for _ in 0..MAX_ROUNDS {
        let mut edits: BTreeMap<FileId, Vec<Edit>> = BTreeMap::new();
        let mut count = 0;
        for fix in compilation
            .diagnostics
            .iter()
            .flat_map(|d| d.fixes.first())
            .filter(|f| include_unsafe || f.applicability == Applicability::Safe)
        {
            count += 1;
            for edit in &fix.edits {
                edits.entry(edit.span.file).or_default().push(edit.clone());
            }
        }
        let mut changed = false;
        for (file, edits) in edits {
            let source = compilation.sources.file(file);
            let text = apply_edits(&source.text, file, &edits);
            if text != source.text {
                overlay.files.borrow_mut().insert(source.path.clone(), text);
                changed = true;
            }
        }
        if !changed {
            break;
        }
        applied += count;
        compilation = check(entry, &overlay);
    }
    Fixed {
        files: overlay.files.into_inner(),
        applied,
        compilation,
    }
}

/// The project's files, with the fixed texts in front.
struct Overlay<'a> {
    base: &'a dyn SourceLoader,
    files: RefCell<BTreeMap<String, String>>,
}

impl SourceLoader for Overlay<'_> {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        match self.files.borrow().get(path) {
            Some(text) => Ok(text.clone()),
            None => self.base.load(path),
        }
    }
}
