//! MQTT acknowledgements after commit, never blocking the writer.

use super::messages::IntakeSession;
use crate::ingest::events;
use rumqttc::{Publish, QoS};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How soon acknowledgements that did not fit are tried again.
pub(super) const ACK_RETRY: Duration = Duration::from_millis(5);

/// Acknowledgements whose session's request channel was full: `(session, pkid,
/// generation)`. The writer never waits on a session (whose intake may itself be
/// waiting for room in the writer's queue); it keeps these and tries again.
#[derive(Default)]
pub(super) struct UnsentAcks(pub(super) Vec<(usize, u16, u64)>);

impl UnsentAcks {
    pub(super) fn send(
        &mut self,
        sessions: &[IntakeSession],
        session: usize,
        pkid: u16,
        generation: u64,
    ) {
        let Some(s) = sessions.get(session) else {
            return;
        };
        // A packet id from an earlier connection may name another message on this one:
        // leave it, the broker redelivers and the write is idempotent.
        if generation != s.generation.load(Ordering::SeqCst) {
            return;
        }
        let mut p = Publish::new("", QoS::AtLeastOnce, Vec::new());
        p.pkid = pkid;
        match s.client.try_ack(&p) {
            Ok(()) => {}
            Err(rumqttc::ClientError::TryRequest(_)) => self.0.push((session, pkid, generation)),
            Err(_) => events::ack_failed(),
        }
    }

    pub(super) fn retry(&mut self, sessions: &[IntakeSession]) {
        for (session, pkid, generation) in std::mem::take(&mut self.0) {
            self.send(sessions, session, pkid, generation);
        }
    }
}
