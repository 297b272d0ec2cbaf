//! # cityops — a real-time command system for a city operations center
//!
//! ## Layout
//! One folder per stage of the pipeline (see `docs/architecture.md`):
//!
//! ```text
//! sensors (MQTT) ─┐
//! video AI alerts ├─> ingest ─> pipeline ───────────────────────────> store ─> live ─> /ws
//! (MQTT, webhook) ┘   decode    batches, rules step, incident step    (SQLite |       pages
//!                     validate  (spatial enriches, incidents commit)   Postgres)
//! ```
//!
//! - [`model`]: domain types that cross stages (ids, readings, alerts, incidents).
//! - [`config`]: the one typed configuration, from defaults, TOML and `CITYOPS_*`.
//! - [`clock`]: the clock every timer reads; tests and replays drive it.
//! - [`spatial`]: the city (districts, streets, grids, sensors, cameras) and its indexes.
//! - [`ingest`]: MQTT and webhook intake, payload decoding and validation, up to its queue.
//! - [`pipeline`]: the batching writer, the rules step and acknowledgements after commit.
//! - [`rules`]: the rules engine and its files.
//! - [`incidents`]: the one handle for incident changes, the closed loop, the desk, reports.
//! - [`store`]: the storage seam, a trait per concern, with SQLite and PostgreSQL
//!   implementations sharing their common SQL.
//! - [`live`]: the live hub: snapshot + ordered deltas to WebSocket clients.
//! - [`api`]: HTTP routes (REST, `/ws`, health, metrics, pages).
//! - [`auth`]: users, password logins, sessions, the `Authenticated` extractor.
//! - [`endpoint`]: the embedded MQTT endpoint devices connect to.
//! - [`server`]: wires the stages together and shuts them down in order.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod demo;
pub mod endpoint;
pub mod incidents;
pub mod indicators;
pub mod ingest;
pub mod live;
pub mod model;
pub mod pipeline;
pub mod rules;
pub mod server;
pub mod sim;
pub mod spatial;
pub mod store;
