//! The `infrac` command line: reads sources from disk, runs the core, and writes
//! artifacts atomically. The only place (with the language server) that does I/O.

mod fs_loader;
mod write;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use infrac_core::{Code, Compilation, Severity, render};

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
        Command::Check { path, format, deny } => check(&path, format, deny.is_some()),
        Command::Explain { code } => explain(&code),
    }
}

fn compile(path: &Path) -> Result<Compilation, ExitCode> {
    let entry = fs_loader::entry_file(path).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_USAGE)
    })?;
    Ok(infrac_core::compile(&entry, &fs_loader::FsLoader))
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

fn check(path: &Path, format: Format, deny_warnings: bool) -> ExitCode {
    let compilation = match compile(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match format {
        Format::Human => print_human(&compilation),
        Format::Json => print!(
            "{}",
            render::render_json(&compilation.sources, &compilation.diagnostics)
        ),
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

fn explain(code: &str) -> ExitCode {
    match code.parse::<Code>() {
        Ok(code) => {
            print!("{}", code.docs());
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
