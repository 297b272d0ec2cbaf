//! Rules engine throughput and memory over a generated city of 100,000 sensors:
//!
//! - `rules/threshold_1000_rules`: 1,000 graded threshold rules (each sensor kind ×
//!   street, two or three rules per sensor), readings of random sensors, 1 % of them
//!   over a level;
//! - `rules/shipped_rule_set`: the shipped `rules/` directory on the same city;
//! - memory: bytes the engine holds per sensor, counted by a counting allocator, printed
//!   before the benchmarks run.
//!
//! `cargo bench --bench rules`

use cityops::model::{Reading, SensorId, Timestamp};
use cityops::rules::load::{Settings, compile_sources};
use cityops::rules::{Engine, RuleSet, load_dir};
use cityops::spatial::City;
use cityops::spatial::testcity::{self, TestCityParams};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts live heap bytes, so the engine's memory per sensor is measured, not guessed.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

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

/// 1,000 graded threshold rules: rule i watches kind i % 9 in street (i / 9) % streets.
fn thousand_rules(city: &City) -> RuleSet {
    let kinds = testcity::SENSOR_KINDS;
    let streets: Vec<&str> = city.streets().iter().map(|s| s.code.as_str()).collect();
    let mut text = String::new();
    for i in 0..1000 {
        let (kind, _, metrics) = kinds[i % kinds.len()];
        let (metric, _, min, max) = metrics[0];
        let street = streets[(i / kinds.len()) % streets.len()];
        let span = max - min;
        let at = |f: f64| min + span * (f + (i % 7) as f64 * 0.001);
        text.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nkind = \"threshold\"\ncategory = \"c{}\"\nsensors = {{ kind = \"{kind}\", street = \"{street}\" }}\nlevel = [\n  {{ severity = \"red\", when = {{ metric = \"{metric}\", above = {} }} }},\n  {{ severity = \"orange\", when = {{ metric = \"{metric}\", above = {} }} }},\n  {{ severity = \"yellow\", when = {{ metric = \"{metric}\", above = {} }} }},\n  {{ severity = \"blue\", when = {{ metric = \"{metric}\", above = {} }} }},\n]\n\n",
            i % 50,
            at(0.95),
            at(0.9),
            at(0.85),
            at(0.8),
        ));
    }
    compile_sources(
        &[(PathBuf::from("bench.rules.toml"), text)],
        Settings::default(),
        Some(city),
        None,
    )
    .expect("the generated rules compile")
}

/// Readings of random sensors with values in the lower 60 % of their range, and 1 % of
/// them near the top (over a level).
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

/// Feeds `batch` with fresh, increasing event times (so nothing counts as late), as one
/// writer batch would.
fn feed(
    engine: &mut Engine,
    batch: &mut [Reading],
    clock: &mut i64,
    out: &mut Vec<cityops::rules::Action>,
) {
    for r in batch.iter_mut() {
        *clock += 1000;
        r.time = Timestamp::from_micros(*clock);
        engine.reading(r, out);
    }
    out.clear();
}

fn memory_report(city: &Arc<City>, set: Arc<RuleSet>, label: &str) {
    let before = LIVE.load(Ordering::Relaxed);
    let mut engine = Engine::new(set, city.clone(), 30_000_000, Timestamp::from_micros(0));
    let built = LIVE.load(Ordering::Relaxed);
    // Every sensor reports every metric a few times (rate windows fill).
    let mut out = Vec::new();
    let mut t = 0i64;
    for round in 0..4 {
        for s in city.sensors() {
            for m in &s.metrics {
                t += 1000;
                engine.reading(
                    &Reading {
                        sensor: SensorId::new(s.id.as_str()),
                        metric: m.name.clone(),
                        time: Timestamp::from_micros(t + round),
                        value: m.min,
                    },
                    &mut out,
                );
            }
        }
        out.clear();
    }
    let warm = LIVE.load(Ordering::Relaxed);
    println!(
        "rules memory [{label}]: {:.0} bytes per sensor once built, {:.0} with every sensor reporting ({} sensors, {} active keys)",
        (built - before) as f64 / SENSORS as f64,
        (warm - before) as f64 / SENSORS as f64,
        SENSORS,
        engine.active_keys()
    );
    black_box(&engine);
}

fn bench(c: &mut Criterion) {
    let city = city();
    let thousand = Arc::new(thousand_rules(&city));
    let shipped_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rules");
    let shipped = Arc::new(load_dir(&shipped_dir, None).expect("shipped rules"));
    memory_report(&city, thousand.clone(), "1000 threshold rules");
    memory_report(&city, shipped.clone(), "shipped rule set");

    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, set) in [
        ("threshold_1000_rules", thousand),
        ("shipped_rule_set", shipped),
    ] {
        let mut engine = Engine::new(set, city.clone(), 30_000_000, Timestamp::from_micros(0));
        let mut batch = readings(&city);
        let mut clock = 0i64;
        let mut out = Vec::new();
        group.bench_function(name, |b| {
            b.iter(|| feed(&mut engine, black_box(&mut batch), &mut clock, &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
