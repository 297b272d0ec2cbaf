//! Where data is kept: `[database]`, and `[reports]` with its photo directory. Relative
//! paths in both are taken under the data directory.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (relative paths under the data dir) or `postgres://...`.
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://cityops.db".into(),
        }
    }
}

/// People's reports and their photos (`incidents::reports`, docs/reports.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    /// Directory the uploaded photos are stored in; a relative path is taken under the
    /// data directory (`serve --data`, so `data/photos` by default).
    pub photo_dir: PathBuf,
    /// Largest photo accepted, in bytes; a larger one is refused with 413.
    pub max_photo_bytes: usize,
    /// Most photos one incident may have.
    pub max_photos: u32,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        Self {
            photo_dir: PathBuf::from("photos"),
            max_photo_bytes: 8 << 20,
            max_photos: 6,
        }
    }
}

impl ReportsConfig {
    /// The photo directory, with a relative path placed under `data_dir`.
    pub fn photo_dir(&self, data_dir: &Path) -> PathBuf {
        if self.photo_dir.is_absolute() {
            self.photo_dir.clone()
        } else {
            data_dir.join(&self.photo_dir)
        }
    }
}
