//! The pipeline: the stage between ingest's queue and the store and live hub.
//!
//! Ingest ends at its queue: each intake session sends decoded messages
//! ([`Envelope`], `messages.rs`) into one bounded channel. From there:
//! - [`Writer`] (`writer.rs`) gathers them into batches, writes each batch to the store
//!   (retrying until it succeeds), hands it to the rules step, and only then acknowledges
//!   the messages (`acks.rs`) and sends readings and alerts live;
//! - [`RulesStage`] (`rules.rs`) owns the rules engine: it evaluates a stored batch or a
//!   clock tick and turns the engine's actions into one rules step;
//! - the incident step is [`crate::incidents::Incidents`], the one handle that commits
//!   incident changes and then announces them.

mod acks;
mod messages;
mod rules;
mod writer;

pub use messages::{Ack, Envelope, IngestStatus, IntakeSession, ReloadRequest, WriteReply};
pub use rules::{ReloadOutcome, RulesStage};
pub use writer::{Writer, WriterSettings};
