//! Decode + validate + enrich throughput of sensor messages, on a generated city.
//!
//! Enrichment is the registry lookup that gives each reading its sensor (and so its
//! location); `Validated::sensors` carries it. Throughput is reported in readings/s.

use cityops::ingest::{Limits, validate_sensor_message};
use cityops::model::Timestamp;
use cityops::spatial::testcity::{self, TestCityParams};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const NOW: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

fn bench(c: &mut Criterion) {
    let city = testcity::city(&TestCityParams::default()).expect("test city");
    let limits = Limits::default();
    // WL-00000 is a water_level sensor with metric `level` (m).
    let one = br#"[{"bn":"WL-00000:","n":"level","u":"m","v":1.27,"t":-5}]"#.to_vec();
    let mut pack =
        String::from(r#"[{"bn":"WL-00000:","bt":1767225590,"bu":"m","n":"level","v":1.20}"#);
    for i in 1..10 {
        pack.push_str(&format!(r#",{{"n":"level","t":{i},"v":1.{i}}}"#));
    }
    pack.push(']');
    let compact = br#"{"t":1767225595.5,"v":1.27}"#.to_vec();

    let mut g = c.benchmark_group("decode");
    let cases: [(&str, &[u8], Option<&str>, u64); 3] = [
        ("senml_1_record", &one, None, 1),
        ("senml_10_records", pack.as_bytes(), None, 10),
        ("compact_1_value", &compact, Some("WL-00000"), 1),
    ];
    for (name, payload, topic, n) in cases {
        let check = validate_sensor_message(&city, &limits, NOW, topic, payload);
        assert_eq!(
            check.readings.len() as u64,
            n,
            "{name}: {:?}",
            check.rejected
        );
        g.throughput(Throughput::Elements(n));
        g.bench_function(name, |b| {
            b.iter(|| {
                let v = validate_sensor_message(
                    &city,
                    &limits,
                    NOW,
                    black_box(topic),
                    black_box(payload),
                );
                black_box(v.sensors.first().map(|s| s.location.grid.is_some()))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
