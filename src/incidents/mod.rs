//! Turning evidence into incidents.
//!
//! For now a thin threshold seam: a reading above a per-kind threshold from config opens
//! an incident, one per sensor and metric while it stays above. The rules engine
//! replaces it.

mod threshold;

pub use threshold::ThresholdSeam;
