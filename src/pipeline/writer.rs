//! The batch writer: gathers decoded messages into batches, writes each batch to the
//! store (retrying until it succeeds), runs the rules engine and writes the incidents it decides, and only then
//! acknowledges the messages and announces what changed.
//!
//! This ordering is the no-loss guarantee: a message is acknowledged (MQTT PUBACK, or
//! the webhook's HTTP response) only after what it carries is durably stored. Redelivery
//! after a crash is harmless because writes are idempotent.

use super::RulesStage;
use super::acks::{ACK_RETRY, UnsentAcks};
use super::messages::{Ack, Envelope, IngestStatus, IntakeSession, ReloadRequest, WriteReply};
use crate::clock::SharedClock;
use crate::indicators::IndicatorInput;
use crate::ingest::events;
use crate::live::LiveEvent;
use crate::model::{DeadLetter, Reading, RejectReason};
use crate::store::{BatchOutcome, IngestBatch, SharedStore, StoreError};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub struct WriterSettings {
    /// How often the rules engine's timers run.
    pub tick: Duration,
    pub batch_max: usize,
    pub linger: Duration,
    pub retry: Duration,
    pub dead_letter_raw_bytes: usize,
}

pub struct Writer {
    pub settings: WriterSettings,
    pub store: SharedStore,
    pub clock: SharedClock,
    pub rules: RulesStage,
    /// Woken when incidents open, so the dispatch desk files and dispatches them at once.
    pub desk_wake: Arc<tokio::sync::Notify>,
    /// Reload requests (admin API, SIGHUP).
    pub reload: mpsc::Receiver<ReloadRequest>,
    pub status: Arc<IngestStatus>,
    /// Set when ingest reads from MQTT: acks go through it.
    /// The intake sessions, indexed by [`Ack::Mqtt`]'s `session`.
    pub mqtt: Vec<IntakeSession>,
    /// Readings and alerts go to the live hub from here; incident changes through
    /// `incidents`, which commits and announces them.
    pub live: mpsc::Sender<LiveEvent>,
    pub incidents: crate::incidents::Incidents,
    /// The vital signs' stage, fed the stored readings and reloaded indicator sets.
    pub indicators: Option<mpsc::Sender<IndicatorInput>>,
    /// The vital signs as they stand, read at each tick for rules over indicators.
    pub board: Option<tokio::sync::watch::Receiver<Arc<crate::indicators::Board>>>,
}

impl Writer {
    /// Runs until `stop` fires (or every sender is gone): then it refuses new messages,
    /// writes what is queued and returns. If `abort` fires while the store is down it
    /// returns at once; what it did not write is not acknowledged, so the broker
    /// redelivers it.
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Envelope>,
        stop: CancellationToken,
        abort: CancellationToken,
    ) {
        let mut pending: Vec<Envelope> = Vec::new();
        let mut unsent = UnsentAcks::default();
        let mut closed = false;
        let mut ticks = tokio::time::interval(self.settings.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let first = tokio::select! {
                biased;
                _ = ticks.tick() => {
                    let now = self.clock.now();
                    if let Some(board) = &mut self.board
                        && board.has_changed().unwrap_or(false)
                    {
                        let board = board.borrow_and_update().clone();
                        self.rules.indicators(&board.current);
                    }
                    self.rules.tick(now);
                    if !self.commit_rules(&abort).await {
                        return;
                    }
                    events::rules_ticked(now);
                    continue;
                }
                Some(req) = self.reload.recv() => {
                    let outcome = self.rules.reload();
                    if outcome.is_ok()
                        && let Some(indicators) = &self.indicators
                    {
                        let set = self.rules.rules().indicators.clone();
                        let _ = indicators.send(IndicatorInput::Reload(set)).await;
                    }
                    let _ = req.send(outcome);
                    continue;
                }
                e = rx.recv() => e,
                _ = stop.cancelled(), if !closed => {
                    rx.close();
                    closed = true;
                    continue;
                }
                _ = tokio::time::sleep(ACK_RETRY), if !unsent.0.is_empty() => {
                    unsent.retry(&self.mqtt);
                    continue;
                }
            };
            let Some(first) = first else { break };
            let mut readings = first.readings.len().max(1);
            pending.push(first);
            let deadline = tokio::time::Instant::now() + self.settings.linger;
            while readings < self.settings.batch_max {
                // Take what is already queued without waiting, then wait until the linger.
                let next = match rx.try_recv() {
                    Ok(e) => Some(e),
                    Err(mpsc::error::TryRecvError::Empty) if self.settings.linger.is_zero() => {
                        // Natural batching: write as soon as the queue runs dry (after
                        // letting the intake hand over what it is holding). What arrives
                        // meanwhile makes the next batch, so batches grow with the load
                        // and a quiet system writes at once.
                        tokio::task::yield_now().await;
                        match rx.try_recv() {
                            Ok(e) => Some(e),
                            Err(_) => break,
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => {
                        match tokio::time::timeout_at(deadline, rx.recv()).await {
                            Ok(e) => e,
                            Err(_) => break,
                        }
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                };
                let Some(e) = next else { break };
                readings += e.readings.len().max(1);
                pending.push(e);
            }
            if !self.flush(&mut pending, &abort, &mut unsent).await {
                return;
            }
        }
        // The intake keeps its connections polled until we are done: send the last acks.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while !unsent.0.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(ACK_RETRY).await;
            unsent.retry(&self.mqtt);
        }
    }

    /// Writes, evaluates, acknowledges and announces one batch. Returns false if it
    /// gave up because of `abort`.
    async fn flush(
        &mut self,
        pending: &mut Vec<Envelope>,
        abort: &CancellationToken,
        unsent: &mut UnsentAcks,
    ) -> bool {
        let batch = IngestBatch {
            readings: pending
                .iter()
                .flat_map(|e| e.readings.iter().cloned())
                .collect(),
            alerts: pending.iter().filter_map(|e| e.alert.clone()).collect(),
            dead_letters: pending
                .iter()
                .flat_map(|e| e.dead_letters.iter().cloned())
                .collect(),
        };
        let started = Instant::now();
        let Some(outcome) = self.retry(abort, |s| s.write_batch(&batch)).await else {
            return false;
        };
        events::batch_written(&batch, &outcome, started.elapsed());

        let duplicates = self.duplicates(pending, &outcome);
        if !duplicates.is_empty() {
            let written = duplicates.len();
            let dl = IngestBatch {
                dead_letters: duplicates,
                ..Default::default()
            };
            if self.retry(abort, |s| s.write_batch(&dl)).await.is_none() {
                return false;
            }
            events::dead_letters_written(written);
        }

        let new_readings: Vec<&Reading> = batch
            .readings
            .iter()
            .zip(&outcome.readings_new)
            .filter_map(|(r, new)| new.then_some(r))
            .collect();
        let slots = self.rules.evaluate(
            new_readings.iter().copied(),
            batch
                .alerts
                .iter()
                .zip(&outcome.alerts_new)
                .filter_map(|(a, new)| new.then_some(a)),
        );
        let Some(changed) = self.commit(abort).await else {
            return false;
        };
        self.wake_desk(&changed);

        unsent.retry(&self.mqtt);
        self.acknowledge(pending, &outcome, unsent);

        let sensors: Arc<[Reading]> = new_readings.into_iter().cloned().collect();
        if !sensors.is_empty() {
            if let Some(indicators) = &self.indicators {
                let _ = indicators
                    .send(IndicatorInput::Readings {
                        readings: sensors.clone(),
                        slots: slots.into(),
                    })
                    .await;
            }
            let _ = self.live.send(LiveEvent::Readings(sensors)).await;
        }
        for (alert, new) in batch.alerts.iter().zip(&outcome.alerts_new) {
            if *new {
                let _ = self.live.send(LiveEvent::Alert(alert.clone())).await;
            }
        }
        pending.clear();
        true
    }

    /// Writes what the rules decided, retrying until the store takes it. `None` if
    /// `abort` fired meanwhile.
    async fn commit(&mut self, abort: &CancellationToken) -> Option<Vec<crate::model::Incident>> {
        loop {
            match self.rules.commit(&self.incidents).await {
                Ok(changed) => return Some(changed),
                Err(e) => {
                    if !self.wait_for_store(&e, abort).await {
                        return None;
                    }
                }
            }
        }
    }

    fn wake_desk(&self, changed: &[crate::model::Incident]) {
        if changed
            .iter()
            .any(|i| i.status == crate::model::IncidentStatus::Discovered)
        {
            self.desk_wake.notify_one();
        }
    }

    /// Commits and announces what a tick decided. False if `abort` fired meanwhile.
    async fn commit_rules(&mut self, abort: &CancellationToken) -> bool {
        if !self.rules.has_pending() {
            return true;
        }
        let Some(changed) = self.commit(abort).await else {
            return false;
        };
        self.wake_desk(&changed);
        true
    }

    /// Runs a store operation until it succeeds. `None` if `abort` fired meanwhile.
    async fn retry<'a, T, F, Fut>(&'a self, abort: &CancellationToken, op: F) -> Option<T>
    where
        F: Fn(&'a SharedStore) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>> + 'a,
    {
        loop {
            match op(&self.store).await {
                Ok(v) => {
                    if !self.status.store_ok.load(Ordering::Relaxed) {
                        events::store_recovered();
                        self.status.set_store(Ok(()));
                    }
                    return Some(v);
                }
                Err(e) => {
                    if !self.wait_for_store(&e, abort).await {
                        return None;
                    }
                }
            }
        }
    }

    async fn wait_for_store(&self, e: &StoreError, abort: &CancellationToken) -> bool {
        events::store_failed(e);
        self.status.set_store(Err(e));
        tokio::select! {
            _ = abort.cancelled() => false,
            _ = tokio::time::sleep(self.settings.retry) => true,
        }
    }

    /// Dead letters for messages all of whose readings or alert were already stored.
    fn duplicates(&self, pending: &[Envelope], outcome: &BatchOutcome) -> Vec<DeadLetter> {
        let mut out = Vec::new();
        let mut r = 0;
        let mut a = 0;
        let now = self.clock.now();
        for e in pending {
            let n = e.readings.len();
            let readings_dup = n > 0 && outcome.readings_new[r..r + n].iter().all(|new| !new);
            let dup_count = outcome.readings_new[r..r + n]
                .iter()
                .filter(|n| !**n)
                .count();
            r += n;
            let alert_dup = if e.alert.is_some() {
                a += 1;
                !outcome.alerts_new[a - 1]
            } else {
                false
            };
            events::duplicates(dup_count + usize::from(alert_dup));
            if readings_dup || (e.alert.is_some() && alert_dup && n == 0) {
                let raw_len = e.raw.len().min(self.settings.dead_letter_raw_bytes);
                out.push(DeadLetter {
                    received_at: now,
                    source: e.source.clone(),
                    reason: RejectReason::Duplicate,
                    detail: "everything in this message was already stored".into(),
                    raw: e.raw[..raw_len].to_vec(),
                });
            }
        }
        out
    }

    fn acknowledge(
        &self,
        pending: &mut Vec<Envelope>,
        outcome: &BatchOutcome,
        unsent: &mut UnsentAcks,
    ) {
        let mut r = 0;
        let mut a = 0;
        for e in pending.drain(..) {
            let n = e.readings.len();
            let all_dup = n > 0 && outcome.readings_new[r..r + n].iter().all(|new| !new);
            r += n;
            let alert_dup = e.alert.is_some() && {
                a += 1;
                !outcome.alerts_new[a - 1]
            };
            match e.ack {
                Ack::None => {}
                Ack::Mqtt {
                    session,
                    pkid,
                    generation,
                } => unsent.send(&self.mqtt, session, pkid, generation),
                Ack::Device(a) => a.send(),
                Ack::Reply(tx) => {
                    let reply = match e.dead_letters.first() {
                        Some(d) if e.alert.is_none() && n == 0 => {
                            WriteReply::Rejected(d.reason, d.detail.clone())
                        }
                        _ if all_dup || alert_dup => WriteReply::Duplicate,
                        _ => WriteReply::Stored,
                    };
                    let _ = tx.send(reply);
                }
            }
        }
    }
}
