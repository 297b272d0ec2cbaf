//! The vital signs' cost beside the rules', over a generated city of 100 000 sensors:
//!
//! - `vital/rules_shipped`: the shipped rule set evaluating a batch of 10 000 readings of
//!   random sensors (1 % of them high), as in `benches/rules.rs`: the baseline;
//! - `vital/indicators_shipped`: the shipped indicator set taking the same batch and then
//!   ticking once: a storm of 10 000 readings of random sensors of every kind per tick (per
//!   second, at the default `indicators.tick_ms`), so every indicator moves every tick. Each
//!   reading comes with its sensor's index, as the pipeline hands it over (the rules engine
//!   has looked the sensor up already, `Engine::reading_at`);
//! - `vital/indicators_readings_only`: the same batch without the tick;
//! - `vital/indicators_quiet_tick`: a tick after which nothing reported (per tick, not
//!   per reading).
//!
//! `cargo bench --bench indicators`

use cityops::indicators::Engine as Vital;
use cityops::model::{Reading, SensorId, Timestamp};
use cityops::rules::{Engine, load_dir};
use cityops::spatial::City;
use cityops::spatial::testcity::{self, TestCityParams};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;

const SENSORS: usize = 100_000;
const BATCH: usize = 10_000;

fn city() -> Arc<City> {
    Arc::new(
        testcity::city(&TestCityParams {
            cols: 40,
            rows: 30,
            sensors: SENSORS,
            cameras: 2000,
            ..Default::default()
        })
        .expect("test city"),
    )
}

/// Readings of random sensors, values in the lower 60 % of their range, 1 % near the top.
fn readings(city: &City) -> Vec<Reading> {
    let sensors: Vec<_> = city.sensors().cloned().collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..BATCH)
        .map(|i| {
            let s = &sensors[(next() % sensors.len() as u64) as usize];
            let m = &s.metrics[(next() % s.metrics.len() as u64) as usize];
            let f = if i % 100 == 0 {
                0.97
            } else {
                (next() % 600) as f64 / 1000.0
            };
            Reading {
                sensor: SensorId::new(s.id.as_str()),
                metric: m.name.clone(),
                time: Timestamp::from_micros(0),
                value: m.min + (m.max - m.min) * f,
            }
        })
        .collect()
}

/// Each reading's sensor index, as the rules engine finds it in the pipeline.
fn slots(vital: &Vital, batch: &[Reading]) -> Vec<u32> {
    batch
        .iter()
        .map(|r| vital.slot(r.sensor.as_str()).expect("a city sensor"))
        .collect()
}

fn restamp(batch: &mut [Reading], clock: &mut i64) {
    for r in batch.iter_mut() {
        *clock += 100;
        r.time = Timestamp::from_micros(*clock);
    }
}

fn bench(c: &mut Criterion) {
    let city = city();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    let set = Arc::new(load_dir(&dir, None).expect("shipped rules"));
    let indicators = set.indicators.clone();
    assert!(
        indicators.indicators.len() >= 24,
        "the shipped indicator set"
    );

    let mut group = c.benchmark_group("vital");
    group.throughput(Throughput::Elements(BATCH as u64));
    {
        let mut engine = Engine::new(
            set.clone(),
            city.clone(),
            30_000_000,
            Timestamp::from_micros(0),
        );
        let mut batch = readings(&city);
        let mut clock = 0i64;
        let mut out = Vec::new();
        group.bench_function("rules_shipped", |b| {
            b.iter(|| {
                restamp(&mut batch, &mut clock);
                for r in batch.iter() {
                    engine.reading(black_box(r), &mut out);
                }
                out.clear();
            })
        });
    }
    {
        let mut vital = Vital::new(indicators.clone(), city.clone());
        let mut batch = readings(&city);
        let at = slots(&vital, &batch);
        let mut clock = 0i64;
        group.bench_function("indicators_shipped", |b| {
            b.iter(|| {
                restamp(&mut batch, &mut clock);
                for (r, &slot) in batch.iter().zip(&at) {
                    vital.reading_at(slot, black_box(r));
                }
                black_box(vital.tick(Timestamp::from_micros(clock), None));
            })
        });
    }
    {
        // The same without the tick: what the readings themselves cost.
        let mut vital = Vital::new(indicators.clone(), city.clone());
        let mut batch = readings(&city);
        let at = slots(&vital, &batch);
        let mut clock = 0i64;
        group.bench_function("indicators_readings_only", |b| {
            b.iter(|| {
                restamp(&mut batch, &mut clock);
                for (r, &slot) in batch.iter().zip(&at) {
                    vital.reading_at(slot, black_box(r));
                }
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("vital");
    let mut vital = Vital::new(indicators, city.clone());
    let mut batch = readings(&city);
    let mut clock = 0i64;
    restamp(&mut batch, &mut clock);
    for r in batch.iter() {
        vital.reading(r);
    }
    vital.tick(Timestamp::from_micros(clock), None);
    group.bench_function("indicators_quiet_tick", |b| {
        b.iter(|| {
            clock += 1;
            black_box(vital.tick(Timestamp::from_micros(clock), None))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
