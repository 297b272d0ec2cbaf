//! Ingest: payload decoding and validation.
