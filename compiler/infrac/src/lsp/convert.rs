//! Between the core's byte offsets and paths and the protocol's positions
//! (UTF-16 code units unless the client accepts UTF-8) and URIs.

use std::str::FromStr;

use line_index::{LineCol, LineIndex, TextSize, WideEncoding, WideLineCol};
use lsp_types::{Position, Range, Uri};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
}

/// Positions in one text.
pub struct Lines<'a> {
    text: &'a str,
    index: LineIndex,
    encoding: Encoding,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str, encoding: Encoding) -> Self {
        Lines {
            text,
            index: LineIndex::new(text),
            encoding,
        }
    }

    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line_col = self.index.line_col(TextSize::from(offset as u32));
        match self.encoding {
            Encoding::Utf8 => Position::new(line_col.line, line_col.col),
            Encoding::Utf16 => {
                let wide =
                    self.index
                        .to_wide(WideEncoding::Utf16, line_col)
                        .unwrap_or(WideLineCol {
                            line: line_col.line,
                            col: line_col.col,
                        });
                Position::new(wide.line, wide.col)
            }
        }
    }

    pub fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }

    /// The byte offset of a position; past the end of a line it is the line's end.
    pub fn offset(&self, position: Position) -> usize {
        let line_col = match self.encoding {
            Encoding::Utf8 => Some(LineCol {
                line: position.line,
                col: position.character,
            }),
            Encoding::Utf16 => self.index.to_utf8(
                WideEncoding::Utf16,
                WideLineCol {
                    line: position.line,
                    col: position.character,
                },
            ),
        };
        let line_end = |line: u32| {
            self.index.line(line).map_or(self.text.len(), |range| {
                let end = usize::from(range.end());
                // The range holds the newline; a position past the end stops before it.
                end - usize::from(self.text[..end].ends_with('\n'))
                    - usize::from(self.text[..end].ends_with("\r\n"))
            })
        };
        match line_col.and_then(|lc| self.index.offset(lc)) {
            Some(offset) => usize::from(offset)
                .min(line_end(position.line))
                .min(self.text.len()),
            None => line_end(position.line),
        }
    }
}

pub fn path_of(uri: &Uri) -> Option<String> {
    let url = url::Url::parse(uri.as_str()).ok()?;
    let path = url.to_file_path().ok()?;
    path.to_str().map(str::to_string)
}

pub fn uri_of(path: &str) -> Option<Uri> {
    let url = url::Url::from_file_path(path).ok()?;
    Uri::from_str(url.as_str()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_positions_round_trip() {
        let text = "a \"é😀\" b\nsecond\r\nthird";
        let lines = Lines::new(text, Encoding::Utf16);
        let b = text.find('b').unwrap();
        assert_eq!(lines.position(b), Position::new(0, 8));
        assert_eq!(lines.offset(Position::new(0, 8)), b);
        assert_eq!(
            lines.offset(Position::new(1, 99)),
            text.find("\r\n").unwrap()
        );
        assert_eq!(lines.offset(Position::new(9, 0)), text.len());
        let utf8 = Lines::new(text, Encoding::Utf8);
        assert_eq!(utf8.position(b), Position::new(0, b as u32));
    }
}
