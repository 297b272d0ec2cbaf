//! Incidents.
