//! What an editor asks of sources, answered without any editor protocol (the
//! language server in the CLI translates to LSP). In: a compilation (sources
//! and the checked model) or one file's text, and a byte offset. Out: plain
//! data: the symbol under the cursor with its definition and uses, rename
//! edits, hover text, completions, an outline.
//!
//! Navigation reads the model (through [`crate::names`]); completion, hover
//! on the schema and the outline read tokens, so they work while the file is
//! half typed and does not parse.

mod complete;
mod cursor;
mod hover;
mod navigate;
mod outline;

pub use complete::{Completion, CompletionKind, Names, complete};
pub use cursor::{At, Cursor, Enclosing, SchemaItem, find_at};
pub use hover::{Hover, hover};
pub use navigate::{Index, Symbol, index, rename};
pub use outline::{OutlineItem, outline};
