//! Turning evidence into incidents: the rules engine's actions applied to the store.
//!
//! [`RulesStage`] owns the engine and the applier. The ingest writer drives it with
//! each stored batch and with clock ticks, so incident changes are committed before
//! the messages that caused them are acknowledged, and before anything is announced.

pub mod act;
mod apply;
pub mod calendar;
pub mod catalog;
pub mod desk;
pub mod lifecycle;
pub mod limits;
pub mod reports;
pub mod routing;
mod stage;
mod toml_reader;

pub use stage::{ReloadOutcome, RulesStage};
