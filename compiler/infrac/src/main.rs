//! The `infrac` command line: reads sources from disk, runs the core, and writes
//! artifacts atomically. The only place (with the language server) that does I/O.

mod diff;
mod fs_loader;
mod lsp;
mod write;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use infrac_core::{Code, Compilation, Severity, emit, render};

#[derive(Parser)]
#[command(
    name = "infrac",
    version,
    about = "Compiles infrastructure described in KDL into Compose, firewall and proxy configuration"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile the project and write the artifact directory atomically.
    Build {
        /// A project directory (holding infrac.kdl) or a single .kdl file.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Where to write the artifacts; replaced as a whole, or left untouched on failure.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Compile without writing; exit 1 when problems are found.
    Check {
        #[arg(default_value = ".")]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Treat warnings as errors (`--deny warnings`).
        #[arg(long, value_enum)]
        deny: Option<Deny>,
        /// Apply the safe fixes (typos of names, quoting) to the sources, then report what is left.
        #[arg(long)]
        fix: bool,
        /// With `--fix`, also apply fixes that choose something for you to review.
        #[arg(long, requires = "fix")]
        unsafe_fixes: bool,
    },
    /// Show what a build would change compared with an artifact directory.
    Diff {
        #[arg(default_value = ".")]
        path: PathBuf,
        /// The directory to compare with, e.g. committed output of `infrac build`.
        #[arg(long)]
        against: PathBuf,
        #[arg(long, value_enum, default_value_t = DiffFormat::Unified)]
        format: DiffFormat,
        /// Exit 1 when anything differs (a stale committed output fails CI).
        #[arg(long)]
        exit_code: bool,
    },
    /// Lay out the project's source files canonically (comments stay where they are).
    Fmt {
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Change nothing; exit 1 and print the differences when a file would change.
        #[arg(long)]
        check: bool,
    },
    /// Run the language server over standard input and output (for editors).
    Lsp,
    /// Print the reachability graph: who may reach whom, on which ports.
    Graph {
        #[arg(default_value = ".")]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Print the documentation of a diagnostic code.
    Explain {
        /// A code such as E101, or its name such as `missing-networks`.
        code: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands: annotations on the source lines.
    Github,
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    Unified,
    Markdown,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    /// A Mermaid flowchart (GitHub renders it in comments).
    Mermaid,
    /// Graphviz DOT.
    Dot,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Deny {
    Warnings,
}

const EXIT_PROBLEMS: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Build { path, out } => build(&path, &out),
        Command::Check {
            path,
            format,
            deny,
            fix,
            unsafe_fixes,
        } => {
            let mode = match (fix, unsafe_fixes) {
                (false, _) => FixMode::None,
                (true, false) => FixMode::Safe,
                (true, true) => FixMode::All,
            };
            check(&path, format, deny.is_some(), mode)
        }
        Command::Diff {
            path,
            against,
            format,
            exit_code,
        } => diff(&path, &against, format, exit_code),
        Command::Graph { path, format } => graph(&path, format),
        Command::Fmt { path, check } => fmt(&path, check),
        Command::Explain { code } => explain(&code),
        Command::Lsp => lsp::run(),
    }
}

fn compile(path: &Path) -> Result<Compilation, ExitCode> {
    Ok(infrac_core::compile(&entry_of(path)?, &fs_loader::FsLoader))
}

/// Every stage but emit, for the commands that write no artifacts.
fn check_only(path: &Path) -> Result<Compilation, ExitCode> {
    Ok(infrac_core::check(&entry_of(path)?, &fs_loader::FsLoader))
}

fn entry_of(path: &Path) -> Result<String, ExitCode> {
    fs_loader::entry_file(path).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// Standard output that a closed pipe (`| head`) does not turn into a panic.
fn print_out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn print_human(compilation: &Compilation) {
    if compilation.diagnostics.is_empty() {
        return;
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    eprint!(
        "{}",
        render::render_human(&compilation.sources, &compilation.diagnostics, color)
    );
}

fn build(path: &Path, out: &Path) -> ExitCode {
    let compilation = match compile(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    print_human(&compilation);
    let Some(artifacts) = &compilation.artifacts else {
        eprintln!("build failed: {} left untouched", out.display());
        return ExitCode::from(EXIT_PROBLEMS);
    };
    match write::write_atomically(out, artifacts) {
        Ok(()) => {
            eprintln!("wrote {} files to {}", artifacts.len(), out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot write {}: {error}", out.display());
            ExitCode::from(EXIT_USAGE)
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum FixMode {
    None,
    Safe,
    All,
}

fn check(path: &Path, format: Format, deny_warnings: bool, fix: FixMode) -> ExitCode {
    let compilation = if fix == FixMode::None {
        match check_only(path) {
            Ok(c) => c,
            Err(code) => return code,
        }
    } else {
        match apply_fixes(path, fix == FixMode::All) {
            Ok(c) => c,
            Err(code) => return code,
        }
    };
    match format {
        Format::Human => print_human(&compilation),
        Format::Json => print_out(&render::render_json(
            &compilation.sources,
            &compilation.diagnostics,
        )),
        Format::Sarif => print_out(&render::render_sarif(
            &compilation.sources,
            &compilation.diagnostics,
            render::docs_url(&compilation.model).as_deref(),
        )),
        Format::Github => print_out(&render::render_github(
            &compilation.sources,
            &compilation.diagnostics,
        )),
    }
    let failing = compilation
        .diagnostics
        .iter()
        .any(|d| d.severity() == Severity::Error || deny_warnings);
    if failing {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Applies fixes to the source files in place (each replaced by rename, so a
/// crash never leaves half a file) and returns the compilation of the result.
fn apply_fixes(path: &Path, include_unsafe: bool) -> Result<Compilation, ExitCode> {
    let entry = entry_of(path)?;
    let fixed = infrac_core::fix::fix(&entry, &fs_loader::FsLoader, include_unsafe);
    for (file, text) in &fixed.files {
        if let Err(error) = write::replace_file(Path::new(file), text) {
            eprintln!("error: cannot write {file}: {error}");
            return Err(ExitCode::from(EXIT_USAGE));
        }
    }
    eprintln!(
        "fixed {} problem{} in {} file{}",
        fixed.applied,
        if fixed.applied == 1 { "" } else { "s" },
        fixed.files.len(),
        if fixed.files.len() == 1 { "" } else { "s" }
    );
    Ok(fixed.compilation)
}

fn diff(path: &Path, against: &Path, format: DiffFormat, exit_code: bool) -> ExitCode {
    let compilation = match compile(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    print_human(&compilation);
    let Some(artifacts) = &compilation.artifacts else {
        eprintln!("the build fails: nothing to compare");
        return ExitCode::from(EXIT_PROBLEMS);
    };
    let tree_diff = match diff::diff_against(artifacts, against) {
        Ok(d) => d,
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", against.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    print_out(&match format {
        DiffFormat::Unified => diff::render_unified(&tree_diff),
        DiffFormat::Markdown => diff::render_markdown(&tree_diff),
        DiffFormat::Json => diff::render_json(&tree_diff),
    });
    if exit_code && !tree_diff.is_empty() {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Formats the entry file and every file it includes. A file that is not valid
/// KDL is reported and left alone.
fn fmt(path: &Path, check: bool) -> ExitCode {
    let compilation = match check_only(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut changed = 0;
    let mut unparsable = 0;
    for file in compilation.sources.files() {
        let Some(formatted) = infrac_core::format::format_source(&file.text) else {
            eprintln!(
                "{}: not valid KDL, left as it is (`infrac check` says why)",
                file.path
            );
            unparsable += 1;
            continue;
        };
        if formatted == file.text {
            continue;
        }
        changed += 1;
        if check {
            let diff = similar::TextDiff::from_lines(&file.text, &formatted);
            print_out(
                &diff
                    .unified_diff()
                    .header(&file.path, &file.path)
                    .to_string(),
            );
        } else if let Err(error) = write::replace_file(Path::new(&file.path), &formatted) {
            eprintln!("error: cannot write {}: {error}", file.path);
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let verb = if check { "would change" } else { "changed" };
    eprintln!(
        "{changed} file{} {verb}",
        if changed == 1 { "" } else { "s" }
    );
    if unparsable > 0 || (check && changed > 0) {
        ExitCode::from(EXIT_PROBLEMS)
    } else {
        ExitCode::SUCCESS
    }
}

fn graph(path: &Path, format: GraphFormat) -> ExitCode {
    let compilation = match check_only(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    print_human(&compilation);
    if compilation.has_errors() {
        eprintln!("the project has errors: no graph");
        return ExitCode::from(EXIT_PROBLEMS);
    }
    let (model, plan) = (&compilation.model, &compilation.plan);
    print_out(&match format {
        GraphFormat::Mermaid => emit::graph::mermaid(model, plan),
        GraphFormat::Dot => emit::graph::dot(model, plan),
        GraphFormat::Json => emit::graph::json(model, plan),
    });
    ExitCode::SUCCESS
}

fn explain(code: &str) -> ExitCode {
    match code.parse::<Code>() {
        Ok(code) => {
            print_out(code.docs());
            ExitCode::SUCCESS
        }
        Err(()) => {
            eprintln!("error: unknown diagnostic code `{code}`");
            let known: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
            eprintln!("known codes: {}", known.join(", "));
            ExitCode::from(EXIT_USAGE)
        }
    }
}
