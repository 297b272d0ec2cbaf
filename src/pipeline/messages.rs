//! What ingest hands the pipeline and gets back: the typed messages at the seam between
//! the two stages (each intake session's queue into the writer), the acknowledgement
//! each message asks for, and the status both sides share for `/readyz`.

use super::rules::ReloadOutcome;
use crate::model::{DeadLetter, Reading, RejectReason, VideoAlert};
use crate::store::StoreError;
use bytes::Bytes;
use rumqttc::AsyncClient;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::oneshot;

/// One decoded message on its way to the store.
#[derive(Debug)]
pub struct Envelope {
    pub readings: Vec<Reading>,
    pub alert: Option<VideoAlert>,
    /// Dead letters for what was rejected while decoding and validating.
    pub dead_letters: Vec<DeadLetter>,
    /// The raw payload and where it came from, kept (cheaply, `Bytes` is shared) in
    /// case everything it carries turns out to be a duplicate.
    pub raw: Bytes,
    pub source: String,
    pub ack: Ack,
}

/// How to tell the sender that its message is stored.
#[derive(Debug)]
pub enum Ack {
    /// Nothing to acknowledge (QoS 0).
    None,
    /// An MQTT QoS 1 message, received on intake session `session` during its
    /// connection `generation`.
    Mqtt {
        session: usize,
        pkid: u16,
        generation: u64,
    },
    /// A QoS 1 or 2 message from a device on the embedded endpoint.
    Device(crate::endpoint::DeviceAck),
    /// A caller waiting for the outcome (the HTTP webhook).
    Reply(oneshot::Sender<WriteReply>),
}

/// What the writer tells a waiting caller.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteReply {
    Stored,
    Duplicate,
    Rejected(RejectReason, String),
}

/// Shared between intake and writer: whether the broker and store are usable, for
/// `/readyz`.
#[derive(Debug, Default)]
pub struct IngestStatus {
    /// Every intake session is connected.
    pub broker_connected: AtomicBool,
    /// Bit `i` set: intake session `i` is connected.
    sessions_up: AtomicU64,
    sessions: AtomicU64,
    pub store_ok: AtomicBool,
    pub last_broker_error: std::sync::Mutex<Option<String>>,
    pub last_store_error: std::sync::Mutex<Option<String>>,
    /// The embedded endpoint's devices: connected, waiting for commits, held back.
    pub devices: crate::endpoint::Gauges,
}

/// What the writer needs of one intake session to acknowledge its messages.
#[derive(Debug, Clone)]
pub struct IntakeSession {
    pub client: AsyncClient,
    /// Bumped on every (re)connection; acks of older ones are not sent.
    pub generation: Arc<AtomicU64>,
}

impl IngestStatus {
    /// Status for `sessions` intake sessions (at most 64).
    pub fn new(sessions: usize) -> Arc<Self> {
        let s = Self::default();
        s.store_ok.store(true, Ordering::SeqCst);
        s.sessions.store(sessions.min(64) as u64, Ordering::SeqCst);
        Arc::new(s)
    }
    pub fn set_store(&self, result: Result<(), &StoreError>) {
        self.store_ok.store(result.is_ok(), Ordering::SeqCst);
        if let Ok(mut e) = self.last_store_error.lock() {
            *e = result.err().map(|e| e.to_string());
        }
    }
    /// Records whether intake session `session` is connected.
    pub fn set_broker(&self, session: usize, result: Result<(), String>) {
        let bit = 1u64 << session.min(63);
        let up = if result.is_ok() {
            self.sessions_up.fetch_or(bit, Ordering::SeqCst) | bit
        } else {
            self.sessions_up.fetch_and(!bit, Ordering::SeqCst) & !bit
        };
        let all = self.sessions.load(Ordering::SeqCst);
        let all_mask = if all >= 64 {
            u64::MAX
        } else {
            (1u64 << all) - 1
        };
        self.broker_connected
            .store(up & all_mask == all_mask, Ordering::SeqCst);
        if let Ok(mut e) = self.last_broker_error.lock() {
            *e = result.err();
        }
    }
}

/// A request to reload the rule set, answered with the outcome or the rule errors.
pub type ReloadRequest = oneshot::Sender<Result<ReloadOutcome, crate::rules::RuleErrors>>;
