//! `locate` (point → grid) and `nearest_cameras(k = 5)` over the generated test city
//! (20 × 15 grids, 3000 sensors, 300 cameras around 103.0°E 30.0°N).

use cityops::spatial::testcity::{self, TestCityParams};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let city = testcity::city(&TestCityParams::default()).expect("test city");
    // A fixed spread of query points over the city (and a few outside it).
    let points: Vec<(f64, f64)> = (0..1024)
        .map(|i| {
            let f = i as f64;
            (
                102.94 + (f * 0.618_034).fract() * 0.12,
                29.96 + (f * 0.414_214).fract() * 0.08,
            )
        })
        .collect();
    let mut i = 0usize;
    c.bench_function("locate", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let (lon, lat) = points[i];
            black_box(city.locate(black_box(lon), black_box(lat)))
        })
    });
    c.bench_function("nearest_cameras_k5", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let (lon, lat) = points[i];
            black_box(city.nearest_cameras(black_box(lon), black_box(lat), 5))
        })
    });
    c.bench_function("cameras_within_500m", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let (lon, lat) = points[i];
            black_box(city.cameras_within(black_box(lon), black_box(lat), 500.0))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
