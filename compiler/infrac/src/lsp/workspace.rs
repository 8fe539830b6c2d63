//! The server's state: open buffers (which win over files on disk), the
//! projects they belong to, and each project's latest compilation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use infrac_core::ide::{self, Index, Names};
use infrac_core::source::FileId;
use infrac_core::{Compilation, LoadError, SourceLoader};

use crate::fs_loader::FsLoader;

pub struct Buffer {
    pub text: String,
    pub version: i32,
}

pub struct Project {
    pub compilation: Compilation,
    pub index: Index,
    /// Names of this compilation and of the last one without syntax errors,
    /// so a file being typed still completes what it declared before.
    pub names: Names,
    /// Files diagnostics were last published for.
    pub published: BTreeSet<String>,
}

impl Project {
    pub fn file(&self, path: &str) -> Option<FileId> {
        self.compilation.sources.find(path)
    }
}

#[derive(Default)]
pub struct Workspace {
    pub buffers: BTreeMap<String, Buffer>,
    /// Projects by entry file.
    pub projects: BTreeMap<String, Project>,
    /// Entry files whose sources changed since they were compiled.
    pub stale: BTreeSet<String>,
}

/// Buffers over the file system.
struct Overlay<'a>(&'a BTreeMap<String, Buffer>);

impl SourceLoader for Overlay<'_> {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        match self.0.get(path) {
            Some(buffer) => Ok(buffer.text.clone()),
            None => FsLoader.load(path),
        }
    }
}

impl Workspace {
    /// The entry file of the project that holds `path`: a project that
    /// already includes it, else the nearest `infrac.kdl` above it, else the
    /// file itself (a file outside any project is checked on its own).
    pub fn entry_of(&self, path: &str) -> String {
        if let Some((entry, _)) = self
            .projects
            .iter()
            .find(|(_, p)| p.compilation.sources.find(path).is_some())
        {
            return entry.clone();
        }
        let mut dir = Path::new(path).parent();
        while let Some(d) = dir {
            let candidate = d.join("infrac.kdl");
            if let Some(candidate) = candidate.to_str()
                && (self.buffers.contains_key(candidate) || Path::new(candidate).is_file())
            {
                return candidate.to_string();
            }
            dir = d.parent();
        }
        path.to_string()
    }

    /// Marks the project of `path` for compiling again.
    pub fn touch(&mut self, path: &str) {
        let entry = self.entry_of(path);
        self.stale.insert(entry);
        // Every project that includes the file sees the change.
        for (entry, project) in &self.projects {
            if project.compilation.sources.find(path).is_some() {
                self.stale.insert(entry.clone());
            }
        }
    }

    /// Compiles every stale project, and on its own every open file that no
    /// project includes; returns the entries compiled.
    pub fn refresh(&mut self) -> Vec<String> {
        let mut compiled: Vec<String> = std::mem::take(&mut self.stale).into_iter().collect();
        for entry in &compiled {
            self.compile(entry);
        }
        let orphans: Vec<String> = self
            .buffers
            .keys()
            .filter(|path| !self.projects.values().any(|p| p.file(path).is_some()))
            .cloned()
            .collect();
        for path in orphans {
            self.compile(&path);
            compiled.push(path);
        }
        // A file checked on its own joins its project once that includes it.
        let absorbed: Vec<String> = self
            .projects
            .iter()
            .filter(|(entry, p)| {
                p.compilation.sources.files().count() == 1
                    && self
                        .projects
                        .iter()
                        .any(|(other, o)| other != *entry && o.file(entry).is_some())
            })
            .map(|(entry, _)| entry.clone())
            .collect();
        for entry in absorbed {
            self.projects.remove(&entry);
        }
        compiled
    }

    fn compile(&mut self, entry: &str) {
        let compilation = infrac_core::check(entry, &Overlay(&self.buffers));
        let index = ide::index(&compilation.model, &compilation.sources);
        let syntax_errors = compilation
            .diagnostics
            .iter()
            .any(|d| d.code == infrac_core::Code::E001);
        let previous = self.projects.remove(entry);
        let mut names = Names::default();
        names.add(&index);
        let published = match previous {
            Some(previous) => {
                if syntax_errors {
                    names.merge(&previous.names);
                }
                previous.published
            }
            None => BTreeSet::new(),
        };
        self.projects.insert(
            entry.to_string(),
            Project {
                compilation,
                index,
                names,
                published,
            },
        );
    }

    /// The project holding `path`, once `refresh` has run.
    pub fn project_of(&self, path: &str) -> Option<&Project> {
        self.projects.values().find(|p| p.file(path).is_some())
    }
}
