//! Incidents: the rules engine's actions, the closed loop, the dispatch desk and people's
//! reports. [`Incidents`] (`handle.rs`) is the one way any of them commits a change, and
//! the one place that announces it.
//!
//! The pipeline (`crate::pipeline`) drives the rules with each stored batch and with clock
//! ticks and commits their actions through the handle ([`rule_write`] turns them into one
//! step), so incident changes are committed before the messages that caused them are
//! acknowledged.

pub mod act;
mod apply;
pub(crate) use apply::rule_write;
pub mod calendar;
pub mod catalog;
pub mod desk;
mod handle;
pub mod lifecycle;
pub mod limits;
pub mod reports;
pub mod routing;
mod toml_reader;

pub use handle::Incidents;
