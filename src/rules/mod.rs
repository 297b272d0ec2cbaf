//! The rules engine: the city's monitoring policy, written as files in `rules/`, turned
//! into graded, deduplicated incidents (docs/rules.md is the user's guide).
//!
//! - [`def`]: the rule file format as written.
//! - [`compile`]: checking (file, line, what is wrong) and compiling rules.
//! - [`load`]: reading a rules directory (rule files and city settings).
//! - [`engine`]: evaluation on event time: readings, video alerts and clock ticks in,
//!   incident actions out. Pure and synchronous; `incidents` applies its actions.
//! - [`testing`]: `cityops rules test`, rule tests in the manner of `promtool test rules`.

pub(crate) mod check;
pub mod compile;
pub mod def;
pub mod engine;
pub mod load;
mod template;
pub mod testing;

pub use compile::Rule;
pub use engine::{Action, Engine};
pub use load::{RuleSet, Settings, load_dir};

use std::fmt;
use std::path::PathBuf;

/// One problem in a rules directory.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleError {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not at one line (e.g. a missing directory).
    pub line: usize,
    pub rule: Option<String>,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(r) = &self.rule {
            write!(f, ": rule {r:?}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// All the problems found in a rules directory, one per line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct RuleErrors(pub Vec<RuleError>);

impl fmt::Display for RuleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
