//! The rules step: the engine, its rule directory and the applier, driven by the
//! writer (batches, ticks, reloads).

use crate::config::RulesConfig;
use crate::incidents::{Incidents, rule_write};
use crate::model::{Incident, Reading, Timestamp, VideoAlert};
use crate::rules::{Action, Engine, RuleErrors, RuleSet, load_dir};
use crate::spatial::City;
use crate::store::{SharedStore, StoreError};
use metrics::counter;
use std::path::PathBuf;
use std::sync::Arc;

/// What a reload did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReloadOutcome {
    /// Rules now active.
    pub rules: usize,
    /// Of those, how many were unchanged and kept their state.
    pub unchanged: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the rules in {dir} are not valid:\n{errors}")]
    Rules { dir: String, errors: RuleErrors },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct RulesStage {
    engine: Engine,
    dir: PathBuf,
    city: Arc<City>,
    /// Actions and state changes not yet committed (kept across store retries).
    actions: Vec<Action>,
    state: Vec<(String, Option<String>)>,
}

impl RulesStage {
    /// Loads the rule set (refusing to start with a broken one), restores saved rule
    /// state and when each sensor was last heard from.
    pub async fn load(
        config: &RulesConfig,
        city: Arc<City>,
        store: &SharedStore,
        now: Timestamp,
    ) -> Result<Self, StageError> {
        let rules = load_dir(&config.dir, Some(&city)).map_err(|errors| StageError::Rules {
            dir: config.dir.display().to_string(),
            errors,
        })?;
        let lateness = i64::try_from(config.lateness_ms)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        let mut engine = Engine::new(Arc::new(rules), city.clone(), lateness, now);
        for (id, v) in crate::live::stored_latest(store, &city).await? {
            engine.seed_last_seen(id.as_str(), v.time);
        }
        let stale = engine.restore_state(&store.rule_state().await?);
        let deletions: Vec<(String, Option<String>)> =
            stale.into_iter().map(|k| (k, None)).collect();
        if !deletions.is_empty() {
            store.save_rule_state(&deletions).await?;
        }
        tracing::info!(
            rules = engine.rules().rules.len(),
            restored = engine.active_keys(),
            "rules loaded"
        );
        Ok(Self {
            engine,
            dir: config.dir.clone(),
            city,
            actions: Vec::new(),
            state: Vec::new(),
        })
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        self.engine.rules()
    }

    /// Evaluates newly stored readings and alerts. Returns each reading's sensor index in
    /// the city's order (`u32::MAX` for one the city does not know), for the vital signs.
    pub fn evaluate<'a>(
        &mut self,
        readings: impl IntoIterator<Item = &'a Reading>,
        alerts: impl IntoIterator<Item = &'a VideoAlert>,
    ) -> Vec<u32> {
        let slots = readings
            .into_iter()
            .map(|r| {
                self.engine
                    .reading(r, &mut self.actions)
                    .unwrap_or(u32::MAX)
            })
            .collect();
        for a in alerts {
            self.engine.alert(a, &mut self.actions);
        }
        slots
    }

    /// Evaluates the vital signs as they stand, for rules over indicators.
    pub fn indicators(&mut self, current: &[crate::indicators::Current]) {
        self.engine.indicators(current, &mut self.actions);
    }

    /// Runs the engine's timers up to `now`.
    pub fn tick(&mut self, now: Timestamp) {
        self.engine.tick(now, &mut self.actions);
    }

    /// Whether `commit` has anything to write.
    pub fn has_pending(&self) -> bool {
        !self.actions.is_empty() || !self.state.is_empty() || self.engine.has_state_changes()
    }

    /// Writes what evaluation decided, and announces it. On a store error nothing is lost: the same
    /// actions are written by the next call.
    pub async fn commit(&mut self, incidents: &Incidents) -> Result<Vec<Incident>, StoreError> {
        self.state.extend(self.engine.take_state_changes());
        let outcome = incidents
            .write_rules(&rule_write(&self.actions, &self.state))
            .await?;
        self.actions.clear();
        self.state.clear();
        for i in outcome
            .changed
            .iter()
            .filter(|i| outcome.opened.contains(&i.id))
        {
            counter!("cityops_incidents_opened_total", "category" => i.category.clone())
                .increment(1);
            tracing::info!(id = %i.id, key = i.dedup_key, severity = i.severity.as_str(), "incident opened");
        }
        Ok(outcome.changed)
    }

    /// Reads the rule directory again and swaps the new set in if it is valid; a
    /// broken set is refused with its errors and the running set stays.
    pub fn reload(&mut self) -> Result<ReloadOutcome, RuleErrors> {
        let rules = load_dir(&self.dir, Some(&self.city))?;
        let old = self.engine.rules().clone();
        let unchanged = rules
            .rules
            .iter()
            .filter(|r| {
                old.rule(&r.name)
                    .is_some_and(|o| o.fingerprint == r.fingerprint)
            })
            .count();
        let outcome = ReloadOutcome {
            rules: rules.rules.len(),
            unchanged,
        };
        self.engine.reload(Arc::new(rules));
        tracing::info!(rules = outcome.rules, unchanged, "rules reloaded");
        Ok(outcome)
    }
}
