//! The checks types alone cannot make: ranges, patterns, the broker URL, and limits that
//! depend on each other across sections. Each error names the key it is about.

use super::{Config, ConfigError, MAX_MQTT_PACKET};

impl Config {
    /// Checks what types alone cannot: ranges, patterns, the broker URL.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        self.broker()?;
        if self.mqtt.client_id.is_empty() {
            return bad("mqtt.client_id", "must not be empty");
        }
        if self.mqtt.sensor_topics.is_empty() {
            return bad("mqtt.sensor_topics", "at least one pattern is needed");
        }
        for (key, patterns) in [
            ("mqtt.sensor_topics", &self.mqtt.sensor_topics),
            ("mqtt.video_topics", &self.mqtt.video_topics),
        ] {
            for p in patterns {
                if let Err(e) = crate::ingest::TopicPattern::parse(p) {
                    return bad(key, &format!("{p:?}: {e}"));
                }
            }
        }
        if self.mqtt.device_passwords.is_some() && self.mqtt.broker.trim() != "embedded" {
            return bad(
                "mqtt.device_passwords",
                "applies to the embedded endpoint only; an external broker checks its own devices",
            );
        }
        if self.mqtt.max_connections == 0 || self.mqtt.max_connections > 1 << 20 {
            return bad("mqtt.max_connections", "must be between 1 and 1048576");
        }
        if self.mqtt.inflight == 0 {
            return bad("mqtt.inflight", "must be at least 1");
        }
        if self.mqtt.sessions > 64 {
            return bad("mqtt.sessions", "must be between 0 (automatic) and 64");
        }
        if self.mqtt.reconnect_min_ms == 0
            || self.mqtt.reconnect_max_ms < self.mqtt.reconnect_min_ms
        {
            return bad(
                "mqtt.reconnect_min_ms",
                "must be > 0 and not above mqtt.reconnect_max_ms",
            );
        }
        self.validate_http()?;
        let i = &self.ingest;
        if i.max_payload_bytes == 0 || i.max_payload_bytes > 16 << 20 {
            return bad("ingest.max_payload_bytes", "must be between 1 and 16 MiB");
        }
        if self.mqtt.max_packet_bytes <= i.max_payload_bytes
            || self.mqtt.max_packet_bytes > MAX_MQTT_PACKET
        {
            return bad(
                "mqtt.max_packet_bytes",
                "must be above ingest.max_payload_bytes (so oversize payloads reach ingest and are dead-lettered) and at most 256 MiB",
            );
        }
        if i.queue_capacity < usize::from(self.mqtt.inflight) * usize::from(self.intake_sessions())
        {
            return bad(
                "ingest.queue_capacity",
                "must be at least mqtt.inflight × mqtt.sessions, or intake and acknowledgements could wait on each other",
            );
        }
        if i.batch_max == 0 || i.queue_capacity == 0 || i.max_records == 0 {
            return bad(
                "ingest.batch_max",
                "batch_max, queue_capacity and max_records must be at least 1",
            );
        }
        let ind = &self.indicators;
        if ind.tick_ms == 0 || ind.loop_refresh_ms == 0 || ind.retention_days == 0 {
            return bad(
                "indicators.tick_ms",
                "tick_ms, loop_refresh_ms and retention_days must be at least 1",
            );
        }
        if self.live.tick_ms == 0 || self.live.client_queue == 0 {
            return bad(
                "live.tick_ms",
                "tick_ms and client_queue must be at least 1",
            );
        }
        if !(self.demo.rate.is_finite() && self.demo.rate >= 0.0) {
            return bad("demo.rate", "must be a finite number >= 0");
        }
        if !(self.demo.alerts_per_min.is_finite() && self.demo.alerts_per_min >= 0.0) {
            return bad("demo.alerts_per_min", "must be a finite number >= 0");
        }
        if !(0.0..=1.0).contains(&self.demo.anomaly_rate) {
            return bad("demo.anomaly_rate", "must be between 0 and 1");
        }
        let d = &self.demo;
        for (key, rate) in [
            ("demo.late_rate", d.late_rate),
            ("demo.return_rate", d.return_rate),
            ("demo.rework_rate", d.rework_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return bad(key, "must be between 0 and 1");
            }
        }
        for (key, minutes) in [
            ("demo.dispatch_minutes", d.dispatch_minutes),
            ("demo.acknowledge_minutes", d.acknowledge_minutes),
            ("demo.start_minutes", d.start_minutes),
            ("demo.handle_minutes", d.handle_minutes),
            ("demo.verify_minutes", d.verify_minutes),
            ("demo.close_minutes", d.close_minutes),
        ] {
            if !(minutes.is_finite() && minutes >= 0.0) {
                return bad(key, "must be a finite number of minutes >= 0");
            }
        }
        if d.crew_tick_secs == 0 {
            return bad("demo.crew_tick_secs", "must be at least 1");
        }
        if self.desk.scan_secs == 0 || self.desk.reminder_minutes == 0 {
            return bad(
                "desk.scan_secs",
                "scan_secs and reminder_minutes must be at least 1",
            );
        }
        if self.rules.tick_ms == 0 {
            return bad("rules.tick_ms", "must be at least 1");
        }
        if self.reports.max_photo_bytes == 0 || self.reports.max_photo_bytes > 64 << 20 {
            return bad("reports.max_photo_bytes", "must be between 1 and 64 MiB");
        }
        if self.reports.max_photos == 0 || self.reports.max_photos > 100 {
            return bad("reports.max_photos", "must be between 1 and 100");
        }
        if self.reports.photo_dir.as_os_str().is_empty() {
            return bad("reports.photo_dir", "must not be empty");
        }
        self.validate_auth()?;
        if !(self.database.url.starts_with("sqlite:")
            || self.database.url.starts_with("postgres:")
            || self.database.url.starts_with("postgresql:"))
        {
            return bad(
                "database.url",
                "must start with sqlite:, postgres: or postgresql:",
            );
        }
        Ok(())
    }

    fn validate_http(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        let h = &self.http;
        for (key, ms) in [
            ("http.header_read_timeout_ms", h.header_read_timeout_ms),
            ("http.body_idle_timeout_ms", h.body_idle_timeout_ms),
            ("http.body_read_timeout_ms", h.body_read_timeout_ms),
        ] {
            if ms == 0 || ms > 3_600_000 {
                return bad(key, "must be between 1 and 3600000 (an hour)");
            }
        }
        if h.body_idle_timeout_ms > h.body_read_timeout_ms {
            return bad(
                "http.body_idle_timeout_ms",
                "must not be above http.body_read_timeout_ms",
            );
        }
        if h.max_connections == 0 || h.max_connections > 1 << 20 {
            return bad("http.max_connections", "must be between 1 and 1048576");
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: &str| Err(ConfigError::Invalid(format!("{key}: {why}")));
        let hours = self.auth.session_hours;
        if !(hours.is_finite() && hours * 3600.0 >= 1.0 && hours <= 8760.0) {
            return bad(
                "auth.session_hours",
                "must be between 1 second (0.0003) and 8760 (a year)",
            );
        }
        if self.auth.login_failures_per_5min == 0 {
            return bad("auth.login_failures_per_5min", "must be at least 1");
        }
        for origin in &self.auth.allowed_origins {
            if !valid_origin(origin) {
                return bad(
                    "auth.allowed_origins",
                    &format!("{origin:?}: expected scheme://host[:port], without a path"),
                );
            }
        }
        Ok(())
    }
}

/// `http://host[:port]` or `https://host[:port]`, as a browser sends it in `Origin`.
fn valid_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    rest.is_some_and(|host| {
        !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) && !host.ends_with(':')
    })
}
