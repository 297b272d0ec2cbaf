//! What outlives one engine: state saved through the store (pending `for:` timers,
//! firing keys) and restored at start, and the state carried over a reload.

use super::state::Saved;
use super::{Body, Engine, NO_GRID};
use crate::model::Timestamp;
use crate::rules::RuleSet;
use std::collections::HashMap;
use std::sync::Arc;

impl Engine {
    /// Persistent state changed since the last call, as (dedup key, JSON or `None`
    /// for deleted), to save through the store.
    pub fn take_state_changes(&mut self) -> Vec<(String, Option<String>)> {
        let mut dirty: Vec<_> = self.dirty.drain().collect();
        dirty.sort_unstable();
        let deleted = std::mem::take(&mut self.deleted)
            .into_iter()
            .map(|k| (k, None));
        deleted
            .chain(dirty.into_iter().map(|k| {
                let key = self.key_string(k);
                let value = self.keys.get(&k).map(|st| {
                    serde_json::to_string(&Saved {
                        fingerprint: self.rules.rules[k.0 as usize].fingerprint,
                        state: *st,
                    })
                    .unwrap_or_default()
                });
                (key, value)
            }))
            .collect()
    }

    /// Restores saved state (from `take_state_changes` of an earlier run). Entries of
    /// rules that are gone or changed are returned, to delete.
    pub fn restore_state(&mut self, saved: &[(String, String)]) -> Vec<String> {
        let mut stale = Vec::new();
        for (key, value) in saved {
            match self
                .parse_key(key)
                .zip(serde_json::from_str::<Saved>(value).ok())
            {
                Some((k, s)) if self.rules.rules[k.0 as usize].fingerprint == s.fingerprint => {
                    self.keys.insert(k, s.state);
                }
                _ => stale.push(key.clone()),
            }
        }
        stale
    }

    pub(super) fn parse_key(&self, key: &str) -> Option<(u32, u32)> {
        let rest = key.strip_prefix("rule:")?;
        let (name, entity) = rest.split_once(':')?;
        let ri = self.rules.rules.iter().position(|r| &*r.name == name)?;
        let e = match self.rules.rules[ri].body {
            Body::Sensor { .. } | Body::Absence { .. } => *self.sensor_ix.get(entity)?,
            Body::Video { .. } => *self.camera_ix.get(entity)?,
            Body::Correlation { .. } => {
                if entity == "-" {
                    NO_GRID
                } else {
                    *self.grid_ix.get(entity)?
                }
            }
        };
        Some((ri as u32, e))
    }

    /// Seeds when sensors were last heard from (from the store's latest values), so
    /// absence after a restart counts from real data.
    pub fn seed_last_seen(&mut self, sensor: &str, at: Timestamp) {
        if let Some(&si) = self.sensor_ix.get(sensor) {
            let slot = &mut self.sensors[si as usize];
            slot.last_seen = slot.last_seen.max(at.micros());
            slot.newest = slot.newest.max(at.micros());
        }
    }

    /// Swaps in a new rule set. Rules whose definition did not change keep their
    /// state (pending timers, firing keys, windows); the rest start afresh. The
    /// indicators' slots are rebuilt for the new indicator set: a rule's key on an
    /// indicator that is gone goes too.
    pub fn reload(&mut self, rules: Arc<RuleSet>) {
        let old = std::mem::replace(&mut self.rules, rules);
        let remap: HashMap<u32, u32> = old
            .rules
            .iter()
            .enumerate()
            .filter_map(|(oi, o)| {
                let ni = self
                    .rules
                    .rules
                    .iter()
                    .position(|n| n.name == o.name && n.fingerprint == o.fingerprint)?;
                Some((oi as u32, ni as u32))
            })
            .collect();
        let (slots, old_slot_ids) = self.build_indicator_slots();
        let real = self.real_sensors;
        // The key (r, e) of the old set, in the new one.
        let moved = |(r, e): (u32, u32)| -> Option<(u32, u32)> {
            let n = *remap.get(&r)?;
            let over_sensors = matches!(
                old.rules[r as usize].body,
                Body::Sensor { .. } | Body::Absence { .. }
            );
            let e = match over_sensors && e >= real {
                true => *slots.get(&e)?,
                false => e,
            };
            Some((n, e))
        };
        let keys = std::mem::take(&mut self.keys);
        for ((r, e), st) in keys {
            match moved((r, e)) {
                Some(k) => {
                    self.keys.insert(k, st);
                }
                None => {
                    // Its saved state must go too: write a deletion under the old key.
                    let rule = &old.rules[r as usize];
                    let entity = match rule.body {
                        Body::Sensor { .. } if e >= real => {
                            old_slot_ids[(e - real) as usize].to_string()
                        }
                        _ => self.entity_id(rule, e).to_string(),
                    };
                    self.deleted.push(format!("rule:{}:{entity}", rule.name));
                }
            }
        }
        self.dirty = std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(moved)
            .collect();
        self.video = std::mem::take(&mut self.video)
            .into_iter()
            .filter_map(|((r, e), v)| remap.get(&r).map(|n| ((*n, e), v)))
            .collect();
        self.corr = std::mem::take(&mut self.corr)
            .into_iter()
            .filter_map(|(r, v)| remap.get(&r).map(|n| (*n, v)))
            .collect();
        self.build_routes();
    }

    /// Whether `take_state_changes` has anything.
    pub fn has_state_changes(&self) -> bool {
        !self.dirty.is_empty() || !self.deleted.is_empty()
    }
}
