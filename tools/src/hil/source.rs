//! Where a datum of a rig or scenario file came from, so that one error names the file, the
//! line and the field (`FILE:LINE: field: what is wrong`), from the spans toml gives.

use std::fmt;
use std::ops::Range;

/// An error in a file, at a line, about a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file as the user named it (or `<built-in NAME>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The field (a TOML key), or empty when the error is about the whole file.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: field `{}`: {}",
                self.file, self.line, self.field, self.message
            )
        }
    }
}

/// The text of one file, to turn byte offsets into lines.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// Its name in messages.
    pub file: &'a str,
    /// Its text.
    pub text: &'a str,
}

impl Source<'_> {
    /// The 1-based line of byte `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// An error at `span` about `field`.
    pub fn at(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> Located {
        Located {
            file: self.file.to_string(),
            line: self.line_of(span.start),
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The line, inside `span`, where `key = ...` is written (the span's first line if none).
    pub fn key_line(&self, span: Range<usize>, key: &str) -> usize {
        let start = span.start.min(self.text.len());
        let end = span.end.clamp(start, self.text.len());
        let mut offset = start;
        for l in self.text[start..end].split_inclusive('\n') {
            let t = l.trim_start();
            if let Some(rest) = t.strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return self.line_of(offset);
                }
            }
            offset += l.len();
        }
        self.line_of(start)
    }

    /// toml's own error (a syntax error, a missing or unknown field, a wrong type), located.
    pub fn toml_error(&self, e: &toml::de::Error) -> Located {
        let line = e.span().map_or(1, |s| self.line_of(s.start));
        let message = e.message().trim().to_string();
        Located {
            file: self.file.to_string(),
            line,
            field: field_in(&message).unwrap_or_default(),
            message,
        }
    }
}

/// The field serde names in a message such as "missing field `uri`".
pub fn field_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_keys() {
        let s = Source {
            file: "f.toml",
            text: "a = 1\n[[x]]\nid = \"q\"\ndo = \"z\"\n",
        };
        assert_eq!(s.line_of(0), 1);
        assert_eq!(s.line_of(6), 2);
        assert_eq!(s.key_line(6..s.text.len(), "do"), 4);
        assert_eq!(s.key_line(6..s.text.len(), "nope"), 2);
        assert_eq!(field_in("missing field `uri`"), Some("uri".into()));
        assert_eq!(
            s.at(6..7, "id", "bad").to_string(),
            "f.toml:2: field `id`: bad"
        );
    }
}
