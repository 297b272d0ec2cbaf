//! # cityops — a real-time command system for a city operations center
//!
//! ## Layout
//! One folder per stage of the pipeline (see `docs/architecture.md`):
//!
//! ```text
//! sensors (MQTT) ─┐
//! video AI alerts ├─> ingest ─> spatial ─> incidents ─> store ─> live ─> /ws
//! (MQTT, webhook) ┘   decode    enrich      (threshold   (SQLite |       pages
//!                     validate              seam)         Postgres)
//! ```
//!
//! - [`model`]: domain types that cross stages (ids, readings, alerts, incidents).
//! - [`config`]: the one typed configuration, from defaults, TOML and `CITYOPS_*`.
//! - [`clock`]: the clock every timer reads; tests and replays drive it.
//! - [`spatial`]: the city (districts, streets, grids, sensors, cameras) and its indexes.
//! - [`ingest`]: MQTT and webhook intake, payload decoding, validation, batching, acks.
//! - [`incidents`]: turns readings into incidents (a thin threshold seam for now).
//! - [`store`]: the `Store` seam with SQLite and PostgreSQL implementations.
//! - [`live`]: the live hub: snapshot + ordered deltas to WebSocket clients.
//! - [`api`]: HTTP routes (REST, `/ws`, health, metrics, pages).
//! - [`auth`]: users, password logins, sessions, the `Authenticated` extractor.
//! - [`broker`]: the embedded MQTT broker.
//! - [`server`]: wires the stages together and shuts them down in order.

pub mod api;
pub mod auth;
pub mod broker;
pub mod clock;
pub mod config;
pub mod demo;
pub mod incidents;
pub mod ingest;
pub mod live;
pub mod model;
pub mod rules;
pub mod server;
pub mod sim;
pub mod spatial;
pub mod store;
