//! Source files from the file system, for the core's `SourceLoader` boundary.

use std::path::Path;

use infrac_core::{LoadError, SourceLoader};

pub struct FsLoader;

impl SourceLoader for FsLoader {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        match std::fs::read(path) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| LoadError::NotText),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(LoadError::NotFound),
            Err(error) => Err(LoadError::Other(error.kind().to_string())),
        }
    }
}

/// The entry file of a project: `PATH/infrac.kdl` for a directory, PATH itself for a file.
pub fn entry_file(path: &Path) -> Result<String, String> {
    let entry = if path.is_dir() {
        path.join("infrac.kdl")
    } else {
        path.to_path_buf()
    };
    if !entry.is_file() {
        return Err(if path.is_dir() {
            format!("{} holds no infrac.kdl", path.display())
        } else {
            format!("{} does not exist", path.display())
        });
    }
    entry
        .to_str()
        .map(|s| s.replace('\\', "/"))
        .ok_or_else(|| format!("{} is not a UTF-8 path", entry.display()))
}
