//! Live hub.
