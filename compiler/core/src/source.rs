//! Source files held in memory, spans into them, and the one boundary through
//! which the core asks for a file it does not have yet (`SourceLoader`).

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub usize);

/// A byte range in one source file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: FileId, start: usize, len: usize) -> Self {
        Span {
            file,
            start,
            end: start + len,
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// A value together with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// One source file: its path as the user named it, and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
    pub origin: Origin,
}

/// Where a file's text comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file of the project.
    Project,
    /// A component of the standard library, embedded in the binary.
    Stdlib,
    /// One expansion of a component: the text of the file that defines it,
    /// under its own id so that what it produced is told apart from other
    /// expansions. Diagnostics in it are reported at `use_site`.
    Expansion {
        definition: FileId,
        use_site: Span,
        /// The instance's name in the `use` node.
        instance: Span,
    },
}

/// All files read for one compilation, in the order they were read.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: String, text: String) -> FileId {
        self.add_with_origin(path, text, Origin::Project)
    }

    pub fn add_with_origin(&mut self, path: String, text: String, origin: Origin) -> FileId {
        self.files.push(SourceFile { path, text, origin });
        FileId(self.files.len() - 1)
    }

    pub fn file(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    /// The project's own files, in the order they were read.
    pub fn files(&self) -> impl Iterator<Item = &SourceFile> {
        self.files.iter().filter(|f| f.origin == Origin::Project)
    }

    /// The project file at `path`.
    pub fn find(&self, path: &str) -> Option<FileId> {
        self.files
            .iter()
            .position(|f| f.path == path && f.origin == Origin::Project)
            .map(FileId)
    }

    /// Where a span of an expansion was written: the `use` node it is
    /// reported at, and the same place in the component's definition.
    pub fn expanded_from(&self, span: Span) -> Option<(Span, Span)> {
        match self.file(span.file).origin {
            Origin::Expansion {
                definition,
                use_site,
                ..
            } => Some((
                use_site,
                Span {
                    file: definition,
                    ..span
                },
            )),
            _ => None,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_column(&self, file: FileId, offset: usize) -> (usize, usize) {
        let text = &self.file(file).text;
        let offset = floor_char_boundary(text, offset.min(text.len()));
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// Why a source file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    NotFound,
    NotText,
    Other(String),
}

/// Reads source files for the core. The CLI reads the file system; tests and the
/// language server answer from memory. Paths are `/`-separated and already joined
/// with the including file's directory.
pub trait SourceLoader {
    fn load(&self, path: &str) -> Result<String, LoadError>;
}

/// Joins an include path to the directory of the file that includes it.
pub fn join_relative(including_file: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let dir = including_file.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if dir.starts_with('/') && !joined.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_relative_paths() {
        assert_eq!(
            join_relative("proj/infrac.kdl", "stacks/a.kdl"),
            "proj/stacks/a.kdl"
        );
        assert_eq!(join_relative("proj/s/a.kdl", "../b.kdl"), "proj/b.kdl");
        assert_eq!(join_relative("infrac.kdl", "./b.kdl"), "b.kdl");
        assert_eq!(join_relative("/abs/infrac.kdl", "b.kdl"), "/abs/b.kdl");
    }

    #[test]
    fn line_and_column_count_characters() {
        let mut map = SourceMap::default();
        let id = map.add("a".into(), "ab\nçd\n".into());
        assert_eq!(map.line_column(id, 0), (1, 1));
        assert_eq!(map.line_column(id, 3), (2, 1));
        assert_eq!(map.line_column(id, 5), (2, 2));
    }
}
