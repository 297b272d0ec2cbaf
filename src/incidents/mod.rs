//! Incidents: the rules engine's actions, the closed loop, the dispatch desk and people's
//! reports. [`Incidents`] (`handle.rs`) is the one way any of them commits a change, and
//! the one place that announces it.
//!
//! [`RulesStage`] owns the engine. The ingest writer drives it with each stored batch
//! and with clock ticks, so incident changes are committed before the messages that
//! caused them are acknowledged.

pub mod act;
mod apply;
pub mod calendar;
pub mod catalog;
pub mod desk;
mod handle;
pub mod lifecycle;
pub mod limits;
pub mod reports;
pub mod routing;
mod stage;
mod toml_reader;

pub use handle::Incidents;
pub use stage::{ReloadOutcome, RulesStage};
