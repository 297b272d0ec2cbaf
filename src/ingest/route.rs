//! Routing a message to its decoder: which topic pattern it matched (sensor or video),
//! what the topic says (sensor or camera id), then decoding and validation, turning
//! every rejection into a counted, rate-limited-logged dead letter.

use super::events;
use super::{Limits, Rejection, TopicPattern, validate_sensor_message, validate_video_alert};
use crate::clock::SharedClock;
use crate::model::{DeadLetter, Reading, RejectReason, VideoAlert};
use crate::pipeline::{Ack, Envelope};
use crate::spatial::City;
use bytes::Bytes;
use std::sync::Arc;

/// Where a message came in.
#[derive(Debug, Clone, Copy)]
pub enum Route<'a> {
    /// An MQTT topic.
    Mqtt(&'a str),
    /// The video-alert webhook.
    VideoWebhook,
}

pub struct Decoder {
    pub city: Arc<City>,
    pub limits: Limits,
    pub clock: SharedClock,
    pub sensor_patterns: Vec<TopicPattern>,
    pub video_patterns: Vec<TopicPattern>,
    pub dead_letter_raw_bytes: usize,
}

impl Decoder {
    /// The MQTT subscription filters of all patterns.
    pub fn filters(&self) -> Vec<String> {
        self.sensor_patterns
            .iter()
            .chain(&self.video_patterns)
            .map(|p| p.filter())
            .collect()
    }

    pub fn decode(&self, route: Route<'_>, payload: Bytes, ack: Ack) -> Envelope {
        let now = self.clock.now();
        let (source, validated) = match route {
            Route::Mqtt(topic) => {
                let source = format!("mqtt:{topic}");
                if let Some(caps) = self.sensor_patterns.iter().find_map(|p| p.matches(topic)) {
                    events::messages_in("sensor");
                    let v = validate_sensor_message(
                        &self.city,
                        &self.limits,
                        now,
                        caps.sensor_id(),
                        &payload,
                    );
                    (source, Checked::readings(v.readings, v.rejected))
                } else if let Some(caps) = self.video_patterns.iter().find_map(|p| p.matches(topic))
                {
                    events::messages_in("video");
                    let v = validate_video_alert(
                        &self.city,
                        &self.limits,
                        now,
                        caps.camera_id(),
                        &payload,
                    );
                    (source, Checked::alert(v))
                } else {
                    events::messages_in("unrouted");
                    let r = Rejection::new(
                        RejectReason::Malformed,
                        format!("topic {topic:?} matches no configured pattern"),
                    );
                    (source, Checked::alert(Err(r)))
                }
            }
            Route::VideoWebhook => {
                events::messages_in("video");
                let v = validate_video_alert(&self.city, &self.limits, now, None, &payload);
                ("http:/api/v1/video-alerts".to_owned(), Checked::alert(v))
            }
        };
        for r in &validated.rejected {
            events::rejected(r.reason, &source, &r.detail);
        }
        // One dead letter per message, however many of its records were rejected: the
        // raw bytes are what an engineer needs, and a bad pack must not flood the table.
        let dead_letters = match validated.rejected.first() {
            None => Vec::new(),
            Some(first) => {
                let mut detail = first.detail.clone();
                let more = validated.rejected.len() - 1;
                if more > 0 {
                    detail.push_str(&format!(" (and {more} more rejected records)"));
                }
                let raw_len = payload.len().min(self.dead_letter_raw_bytes);
                vec![DeadLetter {
                    received_at: now,
                    source: source.clone(),
                    reason: first.reason,
                    detail,
                    raw: payload[..raw_len].to_vec(),
                }]
            }
        };
        Envelope {
            readings: validated.readings,
            alert: validated.alert,
            dead_letters,
            raw: payload,
            source,
            ack,
        }
    }
}

/// What one message turned into.
struct Checked {
    readings: Vec<Reading>,
    alert: Option<VideoAlert>,
    rejected: Vec<Rejection>,
}

impl Checked {
    fn readings(readings: Vec<Reading>, rejected: Vec<Rejection>) -> Self {
        Self {
            readings,
            alert: None,
            rejected,
        }
    }

    fn alert(result: Result<VideoAlert, Rejection>) -> Self {
        match result {
            Ok(a) => Self {
                readings: Vec::new(),
                alert: Some(a),
                rejected: Vec::new(),
            },
            Err(r) => Self {
                readings: Vec::new(),
                alert: None,
                rejected: vec![r],
            },
        }
    }
}
