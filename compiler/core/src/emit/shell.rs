//! Text for POSIX shell scripts: quoting any value as one word.

/// One shell word, whatever the text: single quotes, with `'` written `'\''`.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_any_text_as_one_word() {
        assert_eq!(shell_quote("a.example"), "'a.example'");
        assert_eq!(shell_quote("it's $(x)"), r"'it'\''s $(x)'");
    }
}
