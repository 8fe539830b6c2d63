//! The infrac compiler core. `compile` runs the pipeline
//! parse → expand → lower → resolve → analyse → emit on sources held in
//! memory; it never touches the file system (files come through a
//! [`SourceLoader`]).

pub mod analyse;
pub mod diagnostic;
pub mod emit;
pub mod expand;
pub mod fix;
pub mod format;
pub mod ide;
pub mod lex;
pub mod lower;
pub mod model;
pub mod names;
pub mod parse;
pub mod plan;
pub mod reference;
pub mod render;
pub mod resolve;
pub mod schema;
pub mod source;
pub mod stdlib;
pub mod values;

pub use diagnostic::{Code, Diagnostic, Severity};
pub use emit::Artifacts;
pub use source::{LoadError, SourceLoader, SourceMap};

/// The result of one compilation: every source read, the model as far as it
/// could be built, every diagnostic sorted by file and position, and the
/// artifacts when there was no error (and emitting was asked for).
pub struct Compilation {
    pub sources: SourceMap,
    pub model: model::Model,
    /// What analysis worked out; the plan of a model with errors is partial.
    pub plan: plan::Plan,
    pub diagnostics: Vec<Diagnostic>,
    pub artifacts: Option<Artifacts>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity() == Severity::Error)
    }
}

/// Compiles the project whose entry file is `entry`.
pub fn compile(entry: &str, loader: &dyn SourceLoader) -> Compilation {
    run(entry, loader, true)
}

/// Checks the project whose entry file is `entry`: every stage but emit,
/// which reports nothing (what `infrac check` and the editor need).
pub fn check(entry: &str, loader: &dyn SourceLoader) -> Compilation {
    run(entry, loader, false)
}

fn run(entry: &str, loader: &dyn SourceLoader, emit: bool) -> Compilation {
    let mut diagnostics = diagnostic::Diagnostics::default();
    let mut parsed = parse::parse(entry, loader, &mut diagnostics);
    let expansions = expand::expand(&mut parsed, &mut diagnostics);
    let mut model = lower::lower(&parsed, &expansions, &mut diagnostics);
    lower::read_files(&mut model, &parsed.sources, loader, &mut diagnostics);
    let model = resolve::resolve(model, &mut diagnostics);
    let plan = analyse::analyse(&model, &mut diagnostics);
    let artifacts = (emit && !diagnostics.has_errors()).then(|| emit::emit(&model, &plan));
    let dropped = parsed.dropped_names();
    diagnostics.for_each(|d| expand::relocate(&parsed.sources, d));
    let mut diagnostics = diagnostics.into_sorted();
    // A name declared in a node lost to a syntax error is not unknown: the
    // syntax error is the one to fix.
    diagnostics.retain(|d| {
        let text = &parsed.sources.file(d.primary.span.file).text;
        let name = text
            .get(d.primary.span.start..d.primary.span.end)
            .unwrap_or_default()
            .trim_matches('"');
        d.code != Code::E010 || !dropped.contains(name)
    });
    Compilation {
        sources: parsed.sources,
        model,
        plan,
        diagnostics,
        artifacts,
    }
}
