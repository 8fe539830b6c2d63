//! Writes an artifact tree as a whole: everything goes into a temporary
//! directory beside the target, which then replaces the target by rename. A
//! failure at any point leaves the previous output as it was.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use infrac_core::Artifacts;

pub fn write_atomically(out: &Path, artifacts: &Artifacts) -> io::Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)?;
    let name = out
        .file_name()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the output path has no directory name",
            )
        })?
        .to_string_lossy()
        .into_owned();
    let staging = parent.join(format!(".{name}.infrac-new-{}", std::process::id()));
    let retired = parent.join(format!(".{name}.infrac-old-{}", std::process::id()));
    let result = stage(&staging, artifacts).and_then(|()| swap(out, &staging, &retired));
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

fn stage(staging: &Path, artifacts: &Artifacts) -> io::Result<()> {
    if staging.exists() {
        fs::remove_dir_all(staging)?;
    }
    for (relative, content) in artifacts {
        let path = staging.join(relative);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        fs::write(&path, content)?;
    }
    Ok(())
}

/// Moves the old output aside, the new one in, then deletes the old one. If the
/// second rename fails, the old output is put back.
fn swap(out: &Path, staging: &Path, retired: &Path) -> io::Result<()> {
    let had_output = out.exists();
    if had_output {
        fs::rename(out, retired)?;
    }
    if let Err(error) = fs::rename(staging, out) {
        if had_output {
            fs::rename(retired, out)?;
        }
        return Err(error);
    }
    if had_output {
        fs::remove_dir_all(retired)?;
    }
    Ok(())
}

/// Replaces one file's content by writing a sibling and renaming it over the
/// original, keeping the original's permissions.
pub fn replace_file(path: &Path, content: &str) -> io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?
        .to_string_lossy()
        .into_owned();
    let sibling = path.with_file_name(format!(".{name}.infrac-fix-{}", std::process::id()));
    fs::write(&sibling, content)?;
    let permissions = fs::metadata(path)?.permissions();
    let result =
        fs::set_permissions(&sibling, permissions).and_then(|()| fs::rename(&sibling, path));
    if result.is_err() {
        let _ = fs::remove_file(&sibling);
    }
    result
}
