//! The vital signs' stage: one task that owns the [`Engine`]. The pipeline's writer sends it
//! the readings it stored and the indicator set after a reload (a bounded queue; the writer
//! waits when it is full, and the stage does only in-memory work between ticks). At each
//! tick it reads the loop's figures from the store when they are due, recomputes, then:
//! writes the indicators' incident changes through the incidents handle (kept and retried
//! while the store is down), writes the samples of the minute that ended, sends what changed
//! to the live hub and publishes the board the API reads.

use super::Current;
use super::compile::{IndicatorSet, Period, Source};
use super::engine::{Engine, LoopFigures, TickOutput, Trend, alarm_key};
use crate::clock::SharedClock;
use crate::config::IndicatorsConfig;
use crate::incidents::Incidents;
use crate::live::LiveEvent;
use crate::model::{Reading, Timestamp};
use crate::spatial::City;
use crate::store::{
    EvaluationGroup, EvaluationScope, IncidentFilter, IndicatorSample, RuleChange, RuleWrite,
    SharedStore, StoreResult,
};
use chrono::{Datelike, FixedOffset, TimeZone};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Capacity of the queue from the writer.
pub const INPUT_QUEUE: usize = 256;
/// Samples kept for the store while it is down; past this the oldest are dropped (and
/// counted): the history has a gap, the live values do not.
const MAX_UNSAVED_SAMPLES: usize = 100_000;
const HOUR_US: i64 = 3_600 * 1_000_000;

/// What the writer sends.
#[derive(Debug)]
pub enum IndicatorInput {
    /// Readings just stored (new ones only), with each one's sensor index in the city's
    /// order as the rules engine found it (`u32::MAX`: not in the city).
    Readings {
        readings: Arc<[Reading]>,
        slots: Arc<[u32]>,
    },
    /// The indicator set after a reload of the rules directory.
    Reload(Arc<IndicatorSet>),
}

/// What the API reads: the set and every indicator as it stands, with the last hour.
#[derive(Debug, Default)]
pub struct Board {
    pub set: Arc<IndicatorSet>,
    pub current: Vec<Current>,
    /// (indicator, scope) → one-minute values of the last hour, oldest first; for the city
    /// (scope `""`) and each district.
    pub trends: HashMap<(String, String), Trend>,
}

pub struct IndicatorStage {
    engine: Engine,
    city: Arc<City>,
    store: SharedStore,
    clock: SharedClock,
    incidents: Incidents,
    live: mpsc::Sender<LiveEvent>,
    desk_wake: Arc<Notify>,
    board: watch::Sender<Arc<Board>>,
    config: IndicatorsConfig,
    offset: FixedOffset,
    figures: Option<LoopFigures>,
    /// When the loop's figures were last read (wall time: they come from the store).
    last_loop: Option<tokio::time::Instant>,
    last_prune: Option<Timestamp>,
    unsaved: Vec<IndicatorSample>,
    unsent_alarms: Vec<RuleChange>,
}

/// What starting the stage gives the others.
pub struct Started {
    pub input: mpsc::Sender<IndicatorInput>,
    pub board: watch::Receiver<Arc<Board>>,
    pub task: tokio::task::JoinHandle<()>,
}

pub struct StageInputs {
    pub set: Arc<IndicatorSet>,
    pub city: Arc<City>,
    pub store: SharedStore,
    pub clock: SharedClock,
    pub incidents: Incidents,
    pub live: mpsc::Sender<LiveEvent>,
    pub desk_wake: Arc<Notify>,
    pub config: IndicatorsConfig,
    /// The city's local time (the calendar's), for "today" and "this month".
    pub offset: FixedOffset,
}

impl IndicatorStage {
    /// Builds the engine from what the store holds (latest values, raised indicator
    /// incidents, the last hour of samples) and starts the task.
    pub async fn start(i: StageInputs, stop: CancellationToken) -> StoreResult<Started> {
        let mut engine = Engine::new(i.set, i.city.clone());
        seed(&mut engine, &i.store, &i.city).await?;
        let open = i
            .store
            .incidents(&IncidentFilter {
                open_only: true,
                limit: 10_000,
                ..Default::default()
            })
            .await?;
        for ind in engine.set().indicators.clone() {
            let key = alarm_key(&ind.id);
            if let Some(inc) = open
                .iter()
                .find(|x| x.dedup_key == key && x.cleared_at.is_none())
            {
                engine.restore_alarm(&ind.id, inc.severity);
            }
        }
        let now = i.clock.now();
        let from = Timestamp::from_micros(now.micros() - HOUR_US);
        let after = Timestamp::from_micros(now.micros() + 1);
        for c in engine.current(now) {
            let scopes = std::iter::once(String::new()).chain(
                c.breakdown
                    .iter()
                    .filter(|b| b.street.is_none())
                    .map(|b| b.scope.clone()),
            );
            for scope in scopes {
                let samples = i
                    .store
                    .indicator_samples(&c.id, &scope, from, after, 120)
                    .await?;
                engine.restore_trend(&c.id, &scope, &samples);
            }
        }
        let (board, board_rx) = watch::channel(Arc::new(Board::default()));
        let stage = IndicatorStage {
            engine,
            city: i.city,
            store: i.store,
            clock: i.clock,
            incidents: i.incidents,
            live: i.live,
            desk_wake: i.desk_wake,
            board,
            config: i.config,
            offset: i.offset,
            figures: None,
            last_loop: None,
            last_prune: None,
            unsaved: Vec::new(),
            unsent_alarms: Vec::new(),
        };
        stage.publish_board(stage.clock.now());
        let (input, rx) = mpsc::channel(INPUT_QUEUE);
        let task = tokio::spawn(stage.run(rx, stop));
        Ok(Started {
            input,
            board: board_rx,
            task,
        })
    }

    async fn run(mut self, mut rx: mpsc::Receiver<IndicatorInput>, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(Duration::from_millis(self.config.tick_ms));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                input = rx.recv() => match input {
                    Some(IndicatorInput::Readings { readings, slots }) => {
                        self.take(&readings, &slots);
                    }
                    Some(IndicatorInput::Reload(set)) => {
                        self.engine.reload(set);
                        // Everything this stage was sent is stored, so the stored latest
                        // values give a new indicator what the others already hold.
                        if let Err(e) = seed(&mut self.engine, &self.store, &self.city).await {
                            tracing::warn!(error = %e, "reloaded indicators start without stored values");
                        }
                        self.figures = None;
                        self.last_loop = None;
                    }
                    None => break,
                },
                _ = ticks.tick() => self.tick().await,
            }
        }
        // What arrived before the stop is counted once more and its samples kept.
        while let Ok(input) = rx.try_recv() {
            if let IndicatorInput::Readings { readings, slots } = input {
                self.take(&readings, &slots);
            }
        }
        self.tick().await;
    }

    fn take(&mut self, readings: &[Reading], slots: &[u32]) {
        for (r, &slot) in readings.iter().zip(slots) {
            if slot != u32::MAX {
                self.engine.reading_at(slot, r);
            }
        }
    }

    async fn tick(&mut self) {
        let now = self.clock.now();
        let fresh = self.refresh_loop(now).await;
        let out = self
            .engine
            .tick(now, fresh.then_some(()).and(self.figures.as_ref()));
        let TickOutput {
            changed,
            samples,
            alarms,
        } = out;
        self.unsent_alarms.extend(alarms);
        if !self.unsent_alarms.is_empty() {
            let step = RuleWrite {
                changes: std::mem::take(&mut self.unsent_alarms),
                ..Default::default()
            };
            match self.incidents.write_rules(&step).await {
                Ok(outcome) => {
                    if !outcome.opened.is_empty() {
                        self.desk_wake.notify_one();
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "indicator incidents not written; retrying at the next tick");
                    self.unsent_alarms = step.changes;
                }
            }
        }
        let minute_closed = !samples.is_empty();
        self.unsaved.extend(samples);
        if self.unsaved.len() > MAX_UNSAVED_SAMPLES {
            let drop = self.unsaved.len() - MAX_UNSAVED_SAMPLES;
            self.unsaved.drain(..drop);
            metrics::counter!("cityops_indicator_samples_dropped_total").increment(drop as u64);
        }
        if !self.unsaved.is_empty() {
            match self.store.save_indicator_samples(&self.unsaved).await {
                Ok(()) => self.unsaved.clear(),
                Err(e) => tracing::warn!(error = %e, "indicator samples not written; retrying"),
            }
        }
        self.prune(now).await;
        if !changed.is_empty() {
            metrics::counter!("cityops_indicator_changes_total").increment(changed.len() as u64);
            let _ = self.live.send(LiveEvent::Indicators(changed)).await;
        }
        if minute_closed || fresh || self.board.borrow().current.is_empty() {
            self.publish_board(now);
        } else {
            self.publish_board_if_changed(now);
        }
    }

    fn publish_board_if_changed(&self, now: Timestamp) {
        let current = self.engine.current(now);
        let same = self
            .board
            .borrow()
            .current
            .iter()
            .zip(&current)
            .all(|(a, b)| a.value == b.value && a.level == b.level && a.breakdown == b.breakdown);
        if !same || self.board.borrow().current.len() != current.len() {
            self.publish_board(now);
        }
    }

    fn publish_board(&self, now: Timestamp) {
        let current = self.engine.current(now);
        let mut trends = HashMap::new();
        for c in &current {
            for scope in std::iter::once(String::new()).chain(
                c.breakdown
                    .iter()
                    .filter(|b| b.street.is_none())
                    .map(|b| b.scope.clone()),
            ) {
                let t = self.engine.trend(&c.id, &scope);
                trends.insert((c.id.clone(), scope), t);
            }
        }
        self.board.send_replace(Arc::new(Board {
            set: self.engine.set().clone(),
            current,
            trends,
        }));
    }

    /// Reads the loop's figures when they are due; true when it did.
    async fn refresh_loop(&mut self, now: Timestamp) -> bool {
        let wanted: Vec<Period> = self
            .engine
            .set()
            .indicators
            .iter()
            .filter_map(|i| match &i.source {
                Source::Incidents { period, .. } => Some(*period),
                _ => None,
            })
            .collect();
        if wanted.is_empty() {
            return false;
        }
        let every = Duration::from_millis(self.config.loop_refresh_ms);
        if self.last_loop.is_some_and(|t| t.elapsed() < every) {
            return false;
        }
        match self.fetch_loop(now, &wanted).await {
            Ok(f) => {
                self.figures = Some(f);
                self.last_loop = Some(tokio::time::Instant::now());
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "loop figures for the indicators not read");
                false
            }
        }
    }

    async fn fetch_loop(&self, now: Timestamp, wanted: &[Period]) -> StoreResult<LoopFigures> {
        let (day, month) = period_starts(now, self.offset);
        let tallies = self.store.incident_tallies(day, now).await?;
        let mut f = LoopFigures {
            tallies,
            ..Default::default()
        };
        let all = EvaluationScope::default();
        for (period, from) in [(Period::Day, day), (Period::Month, month)] {
            if !wanted.contains(&period) || from >= now {
                continue;
            }
            let city = self
                .store
                .evaluation(from, now, EvaluationGroup::City, &all)
                .await?
                .into_iter()
                .next()
                .unwrap_or_default();
            let districts = self
                .store
                .evaluation(from, now, EvaluationGroup::District, &all)
                .await?;
            match period {
                Period::Day => f.day = Some((city, districts)),
                Period::Month => f.month = Some((city, districts)),
            }
        }
        Ok(f)
    }

    /// Deletes samples past retention, once an hour of event time.
    async fn prune(&mut self, now: Timestamp) {
        if self
            .last_prune
            .is_some_and(|t| now.micros().saturating_sub(t.micros()) < HOUR_US)
        {
            return;
        }
        let keep = i64::from(self.config.retention_days) * 24 * HOUR_US;
        let before = Timestamp::from_micros(now.micros().saturating_sub(keep));
        match self.store.prune_indicator_samples(before).await {
            Ok(n) => {
                self.last_prune = Some(now);
                if n > 0 {
                    tracing::info!(deleted = n, "old indicator samples deleted");
                }
            }
            Err(e) => tracing::warn!(error = %e, "old indicator samples not deleted"),
        }
    }
}

/// Feeds the engine every sensor's stored latest values.
async fn seed(engine: &mut Engine, store: &SharedStore, city: &City) -> StoreResult<()> {
    for (id, v) in crate::live::stored_latest(store, city).await? {
        engine.reading(&Reading {
            sensor: id,
            metric: v.metric,
            time: v.time,
            value: v.value,
        });
    }
    Ok(())
}

/// The start of `now`'s local day and month.
pub fn period_starts(now: Timestamp, offset: FixedOffset) -> (Timestamp, Timestamp) {
    let Some(utc) = now.to_chrono() else {
        return (now, now);
    };
    let local = utc.with_timezone(&offset);
    let day = local.date_naive();
    let at = |d: chrono::NaiveDate| {
        offset
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .single()
            .map(|t| Timestamp::from_chrono(t.with_timezone(&chrono::Utc)))
            .unwrap_or(now)
    };
    let month = day.with_day(1).unwrap_or(day);
    (at(day), at(month))
}
