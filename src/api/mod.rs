//! HTTP routes.
