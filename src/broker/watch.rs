//! Reads the embedded broker's (rumqttd 0.20) log events, because that is the only place
//! it reports two things we must act on:
//!
//! - whether its listener bound (`Listening for remote connections`, with the address) or
//!   failed (`Server error - V4`, e.g. `AddrInUse`): `EmbeddedBroker` start-up waits on
//!   these instead of connecting to whatever happens to listen on the port;
//! - why it dropped a client (`disconnected`, `Error while handling MQTT connect packet`):
//!   a packet above the listener's limit never reaches ingest, so it is counted and
//!   logged here (`cityops_mqtt_refused_total`, rate limited) or nobody would know.
//!
//! rumqttd offers no hook for either (its link and server errors are only logged), so this
//! matches its event messages; a rumqttd upgrade must re-check them (the test
//! `tests/startup.rs` and `tests/bad_input.rs` fail if they change).
//!
//! Install [`layer`] in the process's subscriber. Without it (a library user, an
//! in-process test) start-up falls back to waiting until the port accepts.

use crate::ingest::events::{BrokerRefusal, broker_refused};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing_subscriber::filter::{Filtered, Targets};
use tracing_subscriber::layer::{Context, Layer};

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Listener outcomes seen so far, in order.
#[derive(Default)]
struct Listeners {
    bound: Vec<SocketAddr>,
    failures: Vec<String>,
}

static LISTENERS: Mutex<Listeners> = Mutex::new(Listeners {
    bound: Vec::new(),
    failures: Vec::new(),
});
static CHANGED: Condvar = Condvar::new();

/// The layer, filtered to rumqttd's events (at info, whatever the log filter says).
pub fn layer<S>() -> Filtered<BrokerWatch, Targets, S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    INSTALLED.store(true, Ordering::SeqCst);
    BrokerWatch.with_filter(Targets::new().with_target("rumqttd", tracing::Level::INFO))
}

pub(super) fn installed() -> bool {
    INSTALLED.load(Ordering::SeqCst)
}

/// A mark in the sequence of listener failures, taken before a broker is started.
pub(super) fn failures_so_far() -> usize {
    LISTENERS.lock().map(|l| l.failures.len()).unwrap_or(0)
}

/// Waits until rumqttd reports `addr` bound (`Ok`), a listener failure after `mark`
/// (`Err` with rumqttd's error), or `within` passes (`Err(None)`).
pub(super) fn wait_listening(
    addr: SocketAddr,
    mark: usize,
    within: Duration,
) -> Result<(), Option<String>> {
    let deadline = Instant::now() + within;
    let Ok(mut l) = LISTENERS.lock() else {
        return Err(None);
    };
    loop {
        if l.bound.contains(&addr) {
            return Ok(());
        }
        if let Some(e) = l.failures.get(mark) {
            return Err(Some(e.clone()));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(None);
        }
        l = match CHANGED.wait_timeout(l, left) {
            Ok((l, _)) => l,
            Err(_) => return Err(None),
        };
    }
}

/// See the module doc.
pub struct BrokerWatch;

impl<S: tracing::Subscriber> Layer<S> for BrokerWatch {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let is_error = *event.metadata().level() == tracing::Level::ERROR;
        match classify(is_error, &f.message, &f.error) {
            Some(Seen::Bound) => {
                if let Some(addr) = f.listen_addr.and_then(|a| a.parse().ok()) {
                    if let Ok(mut l) = LISTENERS.lock() {
                        l.bound.push(addr);
                    }
                    CHANGED.notify_all();
                }
            }
            Some(Seen::ListenerFailed) => {
                if let Ok(mut l) = LISTENERS.lock() {
                    l.failures.push(f.error);
                }
                CHANGED.notify_all();
            }
            Some(Seen::Dropped(reason)) => broker_refused(reason, &f.error),
            None => {}
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Bound,
    ListenerFailed,
    Dropped(BrokerRefusal),
}

/// What a rumqttd event means to us, from its level, message and `error` field.
fn classify(is_error: bool, message: &str, error: &str) -> Option<Seen> {
    let too_large = error.contains("PayloadSizeLimitExceeded")
        || error.contains("Payload size has been exceeded");
    match message {
        "Listening for remote connections" => Some(Seen::Bound),
        m if m.starts_with("Server error") => Some(Seen::ListenerFailed),
        "disconnected" | "Error while handling MQTT connect packet" if too_large => {
            Some(Seen::Dropped(BrokerRefusal::TooLarge))
        }
        "Error while handling MQTT connect packet" => {
            Some(Seen::Dropped(BrokerRefusal::ConnectFailed))
        }
        // At error level: a protocol or network failure. A peer closing its connection
        // is logged at info with the same message and is not a refusal.
        "disconnected" if is_error => Some(Seen::Dropped(BrokerRefusal::ConnectionError)),
        _ => None,
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    error: String,
    listen_addr: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = value.to_owned(),
            "error" => self.error = value.to_owned(),
            "listen_addr" => self.listen_addr = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "error" => self.error = format!("{value:?}"),
            "listen_addr" => self.listen_addr = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rumqttd_events_are_read_as_they_are_spelled() {
        assert_eq!(
            classify(false, "Listening for remote connections", ""),
            Some(Seen::Bound)
        );
        assert_eq!(
            classify(
                true,
                "Server error - V4",
                "Os { code: 98, kind: AddrInUse, message: \"Address in use\" }"
            ),
            Some(Seen::ListenerFailed)
        );
        assert_eq!(
            classify(
                true,
                "disconnected",
                "Network(Io(Custom { kind: InvalidData, error: \"Payload size has been exceeded by 300000 bytes\" }))"
            ),
            Some(Seen::Dropped(BrokerRefusal::TooLarge))
        );
        assert_eq!(
            classify(
                true,
                "Error while handling MQTT connect packet",
                "Network(Protocol(PayloadSizeLimitExceeded(2000000)))"
            ),
            Some(Seen::Dropped(BrokerRefusal::TooLarge))
        );
        assert_eq!(
            classify(
                true,
                "Error while handling MQTT connect packet",
                "Timeout(Elapsed(()))"
            ),
            Some(Seen::Dropped(BrokerRefusal::ConnectFailed))
        );
        assert_eq!(
            classify(false, "disconnected", "Custom { kind: ConnectionAborted }"),
            None
        );
        assert_eq!(classify(false, "accept", ""), None);
    }
}
