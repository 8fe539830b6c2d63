//! Each request answered by the core's `ide` module, in protocol types.

use std::collections::{BTreeMap, HashMap};

use infrac_core::diagnostic::{Applicability, Edit};
use infrac_core::ide::{self, CompletionKind};
use infrac_core::source::{FileId, Span};
use infrac_core::{Compilation, Severity, render};
use lsp_types::{
    CodeAction, CodeActionOrCommand, CodeActionParams, CodeDescription, CompletionItem,
    CompletionItemKind, CompletionParams, CompletionResponse, Diagnostic,
    DiagnosticRelatedInformation, DiagnosticSeverity, DocumentFormattingParams, DocumentSymbol,
    DocumentSymbolParams, DocumentSymbolResponse, Documentation, GotoDefinitionParams,
    GotoDefinitionResponse, Hover, HoverContents, HoverParams, Location, MarkupContent, MarkupKind,
    NumberOrString, PrepareRenameResponse, ReferenceParams, RenameParams, SymbolKind,
    TextDocumentPositionParams, TextEdit, Uri, WorkspaceEdit,
};

use super::convert::{self, Encoding, Lines};
use super::workspace::{Project, Workspace};

pub struct Features<'a> {
    pub workspace: &'a Workspace,
    pub encoding: Encoding,
}

/// A cursor resolved to its project, file and byte offset.
struct At<'a> {
    project: &'a Project,
    file: FileId,
    offset: usize,
}

impl<'a> Features<'a> {
    fn project(&self, uri: &Uri) -> Option<(&'a Project, FileId)> {
        let path = convert::path_of(uri)?;
        let project = self.workspace.project_of(&path)?;
        Some((project, project.file(&path)?))
    }

    fn at(&self, position: &TextDocumentPositionParams) -> Option<At<'a>> {
        let (project, file) = self.project(&position.text_document.uri)?;
        let text = &project.compilation.sources.file(file).text;
        let offset = Lines::new(text, self.encoding).offset(position.position);
        Some(At {
            project,
            file,
            offset,
        })
    }

    fn location(&self, compilation: &Compilation, span: Span) -> Option<Location> {
        let file = compilation.sources.file(span.file);
        let lines = Lines::new(&file.text, self.encoding);
        Some(Location::new(
            convert::uri_of(&file.path)?,
            lines.range(span.start, span.end),
        ))
    }

    pub fn hover(&self, params: HoverParams) -> Option<Hover> {
        let at = self.at(&params.text_document_position_params)?;
        let hover = ide::hover(
            &at.project.compilation,
            &at.project.index,
            at.file,
            at.offset,
        )?;
        let text = &at.project.compilation.sources.file(at.file).text;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: hover.markdown,
            }),
            range: Some(Lines::new(text, self.encoding).range(hover.span.start, hover.span.end)),
        })
    }

    pub fn completion(&self, params: CompletionParams) -> Option<CompletionResponse> {
        let at = self.at(&params.text_document_position)?;
        let text = &at.project.compilation.sources.file(at.file).text;
        let lines = Lines::new(text, self.encoding);
        let items = ide::complete(text, at.offset, &at.project.names)
            .into_iter()
            .map(|c| {
                let range = lines.range(c.replace.0, c.replace.1);
                CompletionItem {
                    kind: Some(match c.kind {
                        CompletionKind::Node => CompletionItemKind::KEYWORD,
                        CompletionKind::Property => CompletionItemKind::PROPERTY,
                        CompletionKind::Value => CompletionItemKind::ENUM_MEMBER,
                        CompletionKind::Reference(_) => CompletionItemKind::REFERENCE,
                    }),
                    detail: Some(c.detail),
                    documentation: (!c.documentation.is_empty()).then_some(
                        Documentation::MarkupContent(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: c.documentation,
                        }),
                    ),
                    // Clients filter on the text being replaced, quotes included.
                    filter_text: Some(c.insert.clone()),
                    text_edit: Some(lsp_types::CompletionTextEdit::Edit(TextEdit::new(
                        range, c.insert,
                    ))),
                    label: c.label,
                    ..Default::default()
                }
            })
            .collect();
        Some(CompletionResponse::Array(items))
    }

    pub fn definition(&self, params: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
        let at = self.at(&params.text_document_position_params)?;
        let symbol = at.project.index.at(at.file, at.offset)?;
        self.location(&at.project.compilation, symbol.definition)
            .map(GotoDefinitionResponse::Scalar)
    }

    pub fn references(&self, params: ReferenceParams) -> Option<Vec<Location>> {
        let at = self.at(&params.text_document_position)?;
        let symbol = at.project.index.at(at.file, at.offset)?;
        let spans = if params.context.include_declaration {
            symbol.spans()
        } else {
            symbol.uses.clone()
        };
        spans
            .into_iter()
            .map(|span| self.location(&at.project.compilation, span))
            .collect()
    }

    pub fn prepare_rename(
        &self,
        params: TextDocumentPositionParams,
    ) -> Option<PrepareRenameResponse> {
        let at = self.at(&params)?;
        let symbol = at.project.index.at(at.file, at.offset)?;
        let span = symbol
            .spans()
            .into_iter()
            .find(|s| s.file == at.file && s.start <= at.offset && at.offset <= s.end)?;
        let text = &at.project.compilation.sources.file(at.file).text;
        Some(PrepareRenameResponse::RangeWithPlaceholder {
            range: Lines::new(text, self.encoding).range(span.start, span.end),
            placeholder: symbol.name.clone(),
        })
    }

    pub fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>, String> {
        let Some(at) = self.at(&params.text_document_position) else {
            return Ok(None);
        };
        let sources = &at.project.compilation.sources;
        let edits = ide::rename(
            &at.project.index,
            sources,
            at.file,
            at.offset,
            &params.new_name,
        )?;
        Ok(Some(self.workspace_edit(&at.project.compilation, &edits)))
    }

    // `WorkspaceEdit` wants a HashMap keyed by `Uri`; fluent-uri's parsed form
    // holds a `Cell`, but `Uri` hashes and compares its string only.
    #[allow(clippy::mutable_key_type)]
    fn workspace_edit(&self, compilation: &Compilation, edits: &[Edit]) -> WorkspaceEdit {
        let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
        for edit in edits {
            let file = compilation.sources.file(edit.span.file);
            let Some(uri) = convert::uri_of(&file.path) else {
                continue;
            };
            let range = Lines::new(&file.text, self.encoding).range(edit.span.start, edit.span.end);
            changes
                .entry(uri)
                .or_default()
                .push(TextEdit::new(range, edit.replacement.clone()));
        }
        WorkspaceEdit::new(changes)
    }

    pub fn document_symbols(&self, params: DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
        let (project, file) = self.project(&params.text_document.uri)?;
        let text = &project.compilation.sources.file(file).text;
        let lines = Lines::new(text, self.encoding);
        let symbols = ide::outline(text)
            .into_iter()
            .map(|item| document_symbol(item, &lines))
            .collect();
        Some(DocumentSymbolResponse::Nested(symbols))
    }

    pub fn formatting(&self, params: DocumentFormattingParams) -> Option<Vec<TextEdit>> {
        let (project, file) = self.project(&params.text_document.uri)?;
        let text = &project.compilation.sources.file(file).text;
        let formatted = infrac_core::format::format_source(text)?;
        if formatted == *text {
            return Some(Vec::new());
        }
        let whole = Lines::new(text, self.encoding).range(0, text.len());
        Some(vec![TextEdit::new(whole, formatted)])
    }

    pub fn code_actions(&self, params: CodeActionParams) -> Option<Vec<CodeActionOrCommand>> {
        let (project, file) = self.project(&params.text_document.uri)?;
        let compilation = &project.compilation;
        let text = &compilation.sources.file(file).text;
        let lines = Lines::new(text, self.encoding);
        let (start, end) = (
            lines.offset(params.range.start),
            lines.offset(params.range.end),
        );
        let docs = docs_url(compilation);
        let mut actions = Vec::new();
        for diagnostic in &compilation.diagnostics {
            let span = diagnostic.primary.span;
            if span.file != file || span.end < start || span.start > end {
                continue;
            }
            for fix in &diagnostic.fixes {
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: fix.message.clone(),
                    kind: Some(lsp_types::CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![to_lsp(compilation, diagnostic, &docs, self.encoding)]),
                    edit: Some(self.workspace_edit(compilation, &fix.edits)),
                    is_preferred: Some(fix.applicability == Applicability::Safe),
                    ..Default::default()
                }));
            }
        }
        Some(actions)
    }
}

fn document_symbol(item: ide::OutlineItem, lines: &Lines) -> DocumentSymbol {
    let kind = match item.node.as_str() {
        "stack" => SymbolKind::NAMESPACE,
        "service" => SymbolKind::CLASS,
        "host" => SymbolKind::MODULE,
        "cluster" => SymbolKind::PACKAGE,
        "secret" => SymbolKind::KEY,
        "middleware" => SymbolKind::FUNCTION,
        "cidr-set" => SymbolKind::ARRAY,
        "project" => SymbolKind::FILE,
        _ => SymbolKind::OBJECT,
    };
    #[allow(deprecated)]
    DocumentSymbol {
        name: item.label.clone().unwrap_or_else(|| item.node.clone()),
        detail: item.label.is_some().then(|| item.node.clone()),
        kind,
        tags: None,
        deprecated: None,
        range: lines.range(item.range.0, item.range.1),
        selection_range: lines.range(item.selection.0, item.selection.1),
        children: Some(
            item.children
                .into_iter()
                .map(|child| document_symbol(child, lines))
                .collect(),
        ),
    }
}

/// Where the code pages are: the revision the project builds infrac from,
/// else the pages of this release.
fn docs_url(compilation: &Compilation) -> String {
    render::docs_url(&compilation.model).unwrap_or_else(|| {
        format!(
            "https://github.com/infrac-dev/infrac/blob/v{}/docs/diagnostics/",
            env!("CARGO_PKG_VERSION")
        )
    })
}

/// The diagnostics of every file of a compilation (an empty list for a clean file).
pub fn diagnostics(
    compilation: &Compilation,
    encoding: Encoding,
) -> BTreeMap<String, Vec<Diagnostic>> {
    let docs = docs_url(compilation);
    let mut by_file: BTreeMap<String, Vec<Diagnostic>> = compilation
        .sources
        .files()
        .map(|f| (f.path.clone(), Vec::new()))
        .collect();
    for diagnostic in &compilation.diagnostics {
        let path = &compilation.sources.file(diagnostic.primary.span.file).path;
        by_file.entry(path.clone()).or_default().push(to_lsp(
            compilation,
            diagnostic,
            &docs,
            encoding,
        ));
    }
    by_file
}

fn to_lsp(
    compilation: &Compilation,
    diagnostic: &infrac_core::Diagnostic,
    docs: &str,
    encoding: Encoding,
) -> Diagnostic {
    let range_of = |span: Span| {
        let text = &compilation.sources.file(span.file).text;
        Lines::new(text, encoding).range(span.start, span.end)
    };
    let code = diagnostic.code.as_str();
    let mut message = diagnostic.message.clone();
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    let related: Vec<DiagnosticRelatedInformation> = diagnostic
        .secondary
        .iter()
        .filter_map(|label| {
            let path = &compilation.sources.file(label.span.file).path;
            Some(DiagnosticRelatedInformation {
                location: Location::new(convert::uri_of(path)?, range_of(label.span)),
                message: label.text.clone(),
            })
        })
        .collect();
    Diagnostic {
        range: range_of(diagnostic.primary.span),
        severity: Some(match diagnostic.severity() {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(code.to_string())),
        code_description: format!("{docs}{code}.md")
            .parse::<Uri>()
            .ok()
            .map(|href| CodeDescription { href }),
        source: Some("infrac".into()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: None,
    }
}
