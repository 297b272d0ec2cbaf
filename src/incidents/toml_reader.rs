//! Reading the city's TOML files (catalog, routing) part by part: one bad table does not
//! hide the problems of the others, and every problem carries its file and line.

use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One problem in a catalog or routing file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not at one line (an unreadable file).
    pub line: usize,
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Writes problems one per line.
pub(crate) fn write_lines(f: &mut fmt::Formatter<'_>, errors: &[FileError]) -> fmt::Result {
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            writeln!(f)?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

/// Reads a TOML file's parts one at a time, so one bad table does not hide the problems of
/// the others, and gathers errors with their lines. Shared with `routing.rs`.
pub(crate) struct Reader<'t> {
    pub file: &'t Path,
    pub text: &'t str,
    errors: Vec<FileError>,
}

impl<'t> Reader<'t> {
    pub fn new(file: &'t Path, text: &'t str) -> Self {
        Self {
            file,
            text,
            errors: Vec::new(),
        }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    pub fn error_line(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(FileError {
            file: self.file.to_path_buf(),
            line,
            message: message.into(),
        });
    }

    pub fn error_at(&mut self, offset: usize, message: impl Into<String>) {
        let line = self.line(offset);
        self.error_line(line, message);
    }

    fn toml_error(&mut self, e: &toml::de::Error) {
        let line = e.span().map(|s| self.line(s.start)).unwrap_or(0);
        self.error_line(line, e.message().trim());
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The problems found, in line order.
    pub fn finish(mut self) -> Vec<FileError> {
        self.errors.sort_by_key(|e| e.line);
        self.errors
    }

    /// The document's top-level table, or `None` (and the syntax error) if it is not TOML.
    pub fn document(&mut self) -> Option<DeTable<'t>> {
        match DeTable::parse(self.text) {
            Ok(t) => Some(t.into_inner()),
            Err(e) => {
                self.toml_error(&e);
                None
            }
        }
    }

    /// One value deserialized; `None` (and the error, with its line) if it does not fit.
    pub fn value<T: DeserializeOwned>(&mut self, v: &Spanned<DeValue<'t>>) -> Option<T> {
        match T::deserialize(toml::de::ValueDeserializer::from(v.clone())) {
            Ok(t) => Some(t),
            Err(e) => {
                self.toml_error(&e);
                None
            }
        }
    }

    /// An array of tables (`[[key]]`), each deserialized on its own, with its line.
    pub fn tables<T: DeserializeOwned>(
        &mut self,
        key: &str,
        v: &Spanned<DeValue<'t>>,
    ) -> Vec<(usize, T)> {
        let DeValue::Array(items) = v.get_ref() else {
            self.error_at(
                v.span().start,
                format!("`{key}` must be an array of tables: write [[{key}]]"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let line = self.line(item.span().start);
            if let Some(t) = self.value(item) {
                out.push((line, t));
            }
        }
        out
    }

    /// Top-level keys: each known one handed to `f`, each unknown one an error.
    pub fn top_level(
        &mut self,
        doc: &DeTable<'t>,
        known: &[&str],
        mut f: impl FnMut(&mut Self, &str, &Spanned<DeValue<'t>>),
    ) {
        for (k, v) in doc.iter() {
            let key: &str = k.get_ref();
            if known.contains(&key) {
                f(self, key, v);
            } else {
                let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                self.error_at(
                    k.span().start,
                    format!(
                        "unknown key `{key}`: expected one of {}",
                        expected.join(", ")
                    ),
                );
            }
        }
    }
}
