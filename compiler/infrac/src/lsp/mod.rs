//! `infrac lsp`: the language server, over stdio. In: LSP messages. Out:
//! diagnostics for every file of each open project (unsaved buffers win over
//! files on disk), hover, completion, definition, references, rename,
//! document symbols, formatting and quick fixes, all answered by the core's
//! `ide` module and translated here.
//!
//! Synchronous, as rust-analyzer and ruff are: messages are handled in order;
//! changes that arrive together are applied before one compilation.

mod convert;
mod features;
mod workspace;

use std::process::ExitCode;

use lsp_server::{Connection, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument,
    Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, Rename, Request as _,
};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CompletionOptions,
    HoverProviderCapability, InitializeParams, OneOf, PositionEncodingKind,
    PublishDiagnosticsParams, RenameOptions, SaveOptions, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions,
};

use convert::{Encoding, Lines};
use workspace::{Buffer, Workspace};

pub fn run() -> ExitCode {
    let (connection, io_threads) = Connection::stdio();
    let result = serve(&connection);
    // The connection must be gone before the I/O threads can end.
    drop(connection);
    let joined = io_threads.join();
    match (result, joined) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(error), _) => {
            eprintln!("infrac lsp: {error}");
            ExitCode::FAILURE
        }
        (_, Err(error)) => {
            eprintln!("infrac lsp: {error}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn serve(connection: &Connection) -> Result<(), Error> {
    let (id, params) = connection.initialize_start()?;
    let params: InitializeParams = serde_json::from_value(params)?;
    let accepts_utf8 = params
        .capabilities
        .general
        .as_ref()
        .and_then(|g| g.position_encodings.as_ref())
        .is_some_and(|encodings| encodings.contains(&PositionEncodingKind::UTF8));
    let encoding = if accepts_utf8 {
        Encoding::Utf8
    } else {
        Encoding::Utf16
    };
    let capabilities = ServerCapabilities {
        position_encoding: Some(match encoding {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
        }),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..Default::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["\"".into(), "=".into(), " ".into()]),
            ..Default::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..Default::default()
        })),
        ..Default::default()
    };
    let result = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": ServerInfo {
            name: "infrac".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        },
    });
    connection.initialize_finish(id, result)?;

    let mut server = Server {
        connection,
        workspace: Workspace::default(),
        encoding,
    };
    while let Ok(message) = connection.receiver.recv() {
        // Everything that has arrived is taken in order; a request sees the
        // changes that came before it, compiled once.
        let mut batch = vec![message];
        batch.extend(connection.receiver.try_iter());
        for message in batch {
            match message {
                Message::Request(request) => {
                    if connection.handle_shutdown(&request)? {
                        return Ok(());
                    }
                    server.publish()?;
                    server.request(request)?;
                }
                Message::Notification(notification) => server.notification(notification),
                Message::Response(_) => {}
            }
        }
        server.publish()?;
    }
    Ok(())
}

struct Server<'a> {
    connection: &'a Connection,
    workspace: Workspace,
    encoding: Encoding,
}

fn cast_notification<N: lsp_types::notification::Notification>(
    notification: &Notification,
) -> Option<N::Params> {
    (notification.method == N::METHOD)
        .then(|| serde_json::from_value(notification.params.clone()).ok())
        .flatten()
}

impl Server<'_> {
    fn notification(&mut self, notification: Notification) {
        if let Some(params) = cast_notification::<DidOpenTextDocument>(&notification) {
            let Some(path) = convert::path_of(&params.text_document.uri) else {
                return;
            };
            self.workspace.buffers.insert(
                path.clone(),
                Buffer {
                    text: params.text_document.text,
                    version: params.text_document.version,
                },
            );
            self.workspace.touch(&path);
        } else if let Some(params) = cast_notification::<DidChangeTextDocument>(&notification) {
            let Some(path) = convert::path_of(&params.text_document.uri) else {
                return;
            };
            let Some(buffer) = self.workspace.buffers.get_mut(&path) else {
                return;
            };
            for change in params.content_changes {
                match change.range {
                    Some(range) => {
                        let lines = Lines::new(&buffer.text, self.encoding);
                        let start = lines.offset(range.start);
                        let end = lines.offset(range.end).max(start);
                        buffer.text.replace_range(start..end, &change.text);
                    }
                    None => buffer.text = change.text,
                }
            }
            buffer.version = params.text_document.version;
            self.workspace.touch(&path);
        } else if let Some(params) = cast_notification::<DidSaveTextDocument>(&notification) {
            if let Some(path) = convert::path_of(&params.text_document.uri) {
                self.workspace.touch(&path);
            }
        } else if let Some(params) = cast_notification::<DidCloseTextDocument>(&notification)
            && let Some(path) = convert::path_of(&params.text_document.uri)
        {
            self.workspace.buffers.remove(&path);
            self.workspace.touch(&path);
        }
    }

    /// Compiles what changed and publishes the diagnostics of every file of
    /// those projects, clearing files that left them.
    fn publish(&mut self) -> Result<(), Error> {
        for entry in self.workspace.refresh() {
            let Some(project) = self.workspace.projects.get_mut(&entry) else {
                continue;
            };
            let mut by_file = features::diagnostics(&project.compilation, self.encoding);
            let now: std::collections::BTreeSet<String> = by_file.keys().cloned().collect();
            for gone in project.published.difference(&now) {
                by_file.insert(gone.clone(), Vec::new());
            }
            project.published = now;
            for (path, diagnostics) in by_file {
                let Some(uri) = convert::uri_of(&path) else {
                    continue;
                };
                let version = self.workspace.buffers.get(&path).map(|b| b.version);
                let params = PublishDiagnosticsParams::new(uri, diagnostics, version);
                self.connection
                    .sender
                    .send(Message::Notification(Notification::new(
                        PublishDiagnostics::METHOD.into(),
                        params,
                    )))?;
            }
        }
        Ok(())
    }

    fn request(&mut self, request: Request) -> Result<(), Error> {
        let id = request.id.clone();
        let response = match self.dispatch(request) {
            Ok(Some(result)) => Response::new_ok(id, result),
            Ok(None) => Response::new_ok(id, serde_json::Value::Null),
            Err(Failure::Unknown(method)) => Response::new_err(
                id,
                lsp_server::ErrorCode::MethodNotFound as i32,
                format!("infrac does not handle {method}"),
            ),
            Err(Failure::Invalid(message)) => {
                Response::new_err(id, lsp_server::ErrorCode::InvalidParams as i32, message)
            }
            Err(Failure::Refused(message)) => {
                Response::new_err(id, lsp_server::ErrorCode::RequestFailed as i32, message)
            }
        };
        self.connection.sender.send(Message::Response(response))?;
        Ok(())
    }

    fn dispatch(&mut self, request: Request) -> Result<Option<serde_json::Value>, Failure> {
        let features = features::Features {
            workspace: &self.workspace,
            encoding: self.encoding,
        };
        match request.method.as_str() {
            HoverRequest::METHOD => to_json(features.hover(params::<HoverRequest>(request)?)),
            Completion::METHOD => to_json(features.completion(params::<Completion>(request)?)),
            GotoDefinition::METHOD => {
                to_json(features.definition(params::<GotoDefinition>(request)?))
            }
            References::METHOD => to_json(features.references(params::<References>(request)?)),
            PrepareRenameRequest::METHOD => {
                to_json(features.prepare_rename(params::<PrepareRenameRequest>(request)?))
            }
            Rename::METHOD => to_json(
                features
                    .rename(params::<Rename>(request)?)
                    .map_err(Failure::Refused)?,
            ),
            DocumentSymbolRequest::METHOD => {
                to_json(features.document_symbols(params::<DocumentSymbolRequest>(request)?))
            }
            Formatting::METHOD => to_json(features.formatting(params::<Formatting>(request)?)),
            CodeActionRequest::METHOD => {
                to_json(features.code_actions(params::<CodeActionRequest>(request)?))
            }
            _ => Err(Failure::Unknown(request.method)),
        }
    }
}

enum Failure {
    Unknown(String),
    Invalid(String),
    Refused(String),
}

fn params<R: lsp_types::request::Request>(request: Request) -> Result<R::Params, Failure> {
    serde_json::from_value(request.params)
        .map_err(|e| Failure::Invalid(format!("invalid parameters for {}: {e}", R::METHOD)))
}

fn to_json<T: serde::Serialize>(value: T) -> Result<Option<serde_json::Value>, Failure> {
    serde_json::to_value(value)
        .map(Some)
        .map_err(|e| Failure::Invalid(e.to_string()))
}
