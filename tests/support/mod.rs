//! Helpers shared by the integration tests: where the workspace is, an in-memory
//! view of a directory for the core, and the validators installed by tests/setup.sh.

#![allow(dead_code)]

pub mod engine;

use std::path::{Path, PathBuf};
use std::process::Command;

use infrac_core::{Artifacts, Compilation, LoadError, SourceLoader};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Serves source files from one directory, under paths relative to it, so that
/// diagnostics and snapshots never show machine-specific paths.
pub struct DirLoader(pub PathBuf);

impl SourceLoader for DirLoader {
    fn load(&self, path: &str) -> Result<String, LoadError> {
        match std::fs::read(self.0.join(path)) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| LoadError::NotText),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(LoadError::NotFound),
            Err(e) => Err(LoadError::Other(e.to_string())),
        }
    }
}

/// Compiles `entry` (relative to `dir`) in memory.
pub fn compile_in(dir: &Path, entry: &str) -> Compilation {
    infrac_core::compile(entry, &DirLoader(dir.to_path_buf()))
}

/// Compiles an example project, panicking with its rendered diagnostics on errors.
pub fn build_example(name: &str) -> Artifacts {
    let compilation = compile_in(&workspace().join("examples").join(name), "infrac.kdl");
    let report =
        infrac_core::render::render_human(&compilation.sources, &compilation.diagnostics, false);
    compilation
        .artifacts
        .unwrap_or_else(|| panic!("example {name} does not compile:\n{report}"))
}

pub fn examples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("examples"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("infrac.kdl").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every example, and the fixture of values YAML and shells could misread, built:
/// what the validators of each artifact kind are run on.
pub fn validated_projects() -> Vec<(String, Artifacts)> {
    let mut projects: Vec<(String, Artifacts)> = examples()
        .into_iter()
        .map(|e| {
            let artifacts = build_example(&e);
            (e, artifacts)
        })
        .collect();
    let fixture = compile_in(&workspace().join("tests/fixtures"), "tricky-values.kdl");
    projects.push((
        "tricky-values".to_string(),
        fixture
            .artifacts
            .expect("the tricky-values fixture compiles"),
    ));
    projects
}

/// Where a validated project's sources are: (directory, entry file).
pub fn project_source(name: &str) -> (PathBuf, String) {
    if name == "tricky-values" {
        (
            workspace().join("tests/fixtures"),
            "tricky-values.kdl".to_string(),
        )
    } else {
        (
            workspace().join("examples").join(name),
            "infrac.kdl".to_string(),
        )
    }
}

/// Something a validator test needs on this machine, installed by tests/setup.sh.
pub enum Needs {
    /// A program in the project's venv (`.tools/venv/bin`).
    Venv(&'static str),
    /// A program from Debian's packages, on PATH or in /usr/sbin.
    System(&'static str),
    /// A JSON schema from ../shared/schemas or `.tools/schemas`.
    Schema(&'static str),
    /// A file or directory under the workspace, e.g. `.tools/node/node_modules/mermaid`.
    Installed(&'static str),
    /// Root, for network namespaces.
    Root,
}

impl Needs {
    fn present(&self) -> bool {
        match self {
            Needs::Venv(name) => workspace().join(".tools/venv/bin").join(name).is_file(),
            Needs::System(name) => find_system(name).is_some(),
            Needs::Schema(name) => find_schema(name).is_some(),
            Needs::Installed(path) => workspace().join(path).exists(),
            Needs::Root => is_root(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Needs::Venv(name) | Needs::System(name) => (*name).to_string(),
            Needs::Schema(name) => format!("schema {name}"),
            Needs::Installed(path) => (*path).to_string(),
            Needs::Root => "root".to_string(),
        }
    }
}

/// A test that runs real tools: its name, what it needs, and its body.
pub struct Check {
    pub name: &'static str,
    pub needs: &'static [Needs],
    pub run: fn(),
}

/// The harness of the validator tests (libtest-mimic). A check whose tools are
/// missing shows as *ignored* in the summary; under CI=true it runs and fails.
pub fn run_checks(checks: Vec<Check>) -> std::process::ExitCode {
    let arguments = libtest_mimic::Arguments::from_args();
    let trials = checks
        .into_iter()
        .map(|check| {
            let missing: Vec<String> = check
                .needs
                .iter()
                .filter(|n| !n.present())
                .map(Needs::describe)
                .collect();
            let ignored = !missing.is_empty() && !is_ci();
            let run = check.run;
            libtest_mimic::Trial::test(check.name, move || {
                if !missing.is_empty() {
                    return Err(format!(
                        "missing {}: run tests/setup.sh (as root for system packages)",
                        missing.join(", ")
                    )
                    .into());
                }
                run();
                Ok(())
            })
            .with_ignored_flag(ignored)
        })
        .collect();
    libtest_mimic::run(&arguments, trials).exit_code()
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn find_system(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn find_schema(name: &str) -> Option<PathBuf> {
    let shared = workspace().join("../shared/schemas").join(name);
    let downloaded = workspace().join(".tools/schemas").join(name);
    [shared, downloaded].into_iter().find(|p| p.is_file())
}

/// A validator installed by tests/setup.sh into the project's venv.
pub fn validator(name: &str) -> Option<PathBuf> {
    let path = workspace().join(".tools/venv/bin").join(name);
    required(name, path.is_file().then_some(path))
}

/// A program tests/setup.sh installs from Debian's packages, found on PATH
/// (or in /usr/sbin, which a non-login PATH may lack).
pub fn system_tool(name: &str) -> Option<PathBuf> {
    required(name, find_system(name))
}

/// A tool that was found, or: missing under CI=true is a failure, elsewhere
/// the caller skips loudly.
pub fn required(name: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    if found.is_some() {
        return found;
    }
    if is_ci() {
        panic!("{name} is missing: run tests/setup.sh (as root for system packages)");
    }
    eprintln!("SKIPPED: {name} is not installed (run tests/setup.sh); under CI=true this fails");
    None
}

/// A JSON schema from ../shared/schemas, or the copy tests/setup.sh downloaded.
pub fn schema_file(name: &str) -> Option<PathBuf> {
    required(&format!("schema {name}"), find_schema(name))
}

/// The `infrac` binary of this build, without colours.
pub fn infrac() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_infrac"));
    command.env("NO_COLOR", "1");
    command
}

/// A fresh, empty temporary directory for one test.
pub fn scratch_dir(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infrac-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A temporary file with `content`.
pub fn scratch_file(name: &str, content: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("infrac-{}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

/// Writes artifacts into a fresh temporary directory and returns it.
pub fn write_tree(artifacts: &Artifacts, label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("infrac-test-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, content) in artifacts {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, content).unwrap();
    }
    dir
}

pub fn run(command: &mut Command) -> (bool, String, String) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Copies a directory tree, e.g. an example project to edit in a test.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
