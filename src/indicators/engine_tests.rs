//! The engine's incremental figures against a full pass.

use super::*;
use crate::model::SensorId;
use crate::spatial::testcity::{self, TestCityParams};

fn city() -> Arc<City> {
    Arc::new(
        testcity::city(&TestCityParams {
            cols: 6,
            rows: 4,
            sensors: 900,
            cameras: 10,
            ..Default::default()
        })
        .expect("test city"),
    )
}

/// The running figures a reading moves agree with a pass over every value: one engine
/// takes a stream of readings tick by tick; at each tick a second one, fed only each
/// sensor's newest values, must show the same figures.
#[test]
fn incremental_figures_agree_with_a_full_pass() {
    let city = city();
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    let set = crate::rules::load_dir(&dir, None)
        .expect("shipped rules")
        .indicators;
    let mut live = Engine::new(set.clone(), city.clone());
    let sensors: Vec<_> = city.sensors().cloned().collect();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut newest: HashMap<(String, String), Reading> = HashMap::new();
    let mut t = 1_000_000_000_000i64;
    for tick in 0..40 {
        for _ in 0..200 {
            let s = &sensors[(next() % sensors.len() as u64) as usize];
            let m = &s.metrics[(next() % s.metrics.len() as u64) as usize];
            // Mostly forward in time, sometimes late; values anywhere in the range.
            t += (next() % 20_000) as i64;
            let at = t - if next() % 10 == 0 { 3_000_000 } else { 0 };
            let r = Reading {
                sensor: SensorId::new(s.id.as_str()),
                metric: m.name.clone(),
                time: Timestamp::from_micros(at),
                value: m.min + (m.max - m.min) * (next() % 1000) as f64 / 1000.0,
            };
            live.reading(&r);
            let key = (s.id.to_string(), m.name.clone());
            if newest.get(&key).is_none_or(|o| o.time <= r.time) {
                newest.insert(key, r);
            }
        }
        // Now and then a long gap, so values leave their windows.
        if tick % 13 == 12 {
            t += 11 * 60 * 1_000_000;
        }
        let now = Timestamp::from_micros(t);
        live.tick(now, None);
        let mut fresh = Engine::new(set.clone(), city.clone());
        for r in newest.values() {
            fresh.reading(r);
        }
        fresh.tick(now, None);
        let (a, b) = (live.current(now), fresh.current(now));
        for (x, y) in a.iter().zip(&b) {
            let close = |p: Option<f64>, q: Option<f64>| match (p, q) {
                (Some(p), Some(q)) => (p - q).abs() <= 1e-6 * p.abs().max(1.0),
                (p, q) => p == q,
            };
            assert!(
                close(x.value, y.value),
                "tick {tick}: {} {:?} vs {:?}",
                x.id,
                x.value,
                y.value
            );
            for (p, q) in x.breakdown.iter().zip(&y.breakdown) {
                assert!(
                    close(p.value, q.value),
                    "tick {tick}: {} {}: {:?} vs {:?}",
                    x.id,
                    p.scope,
                    p.value,
                    q.value
                );
            }
        }
    }
}
