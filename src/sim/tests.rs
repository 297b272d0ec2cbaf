use super::*;
use crate::ingest::{Limits, validate_sensor_message, validate_video_alert};
use crate::spatial::testcity::{self, TestCityParams};
use std::collections::HashMap;

fn city() -> City {
    testcity::city(&TestCityParams {
        sensors: 400,
        cameras: 20,
        ..Default::default()
    })
    .expect("test city")
}

const NOW: Timestamp = Timestamp::from_micros(1_767_225_600_000_000);

fn sensor_of(topic: &str) -> Option<&str> {
    topic.strip_prefix("city/")?.split('/').nth(2)
}

#[test]
fn same_seed_same_messages() {
    let city = city();
    let run = |seed| {
        let mut g = Generator::new(&city, seed, 0.05);
        (0..500)
            .map(|i| g.sensor_message(NOW, i % 2 == 0).payload)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(3), run(3));
    assert_ne!(run(3), run(4));
}

#[test]
fn every_message_is_valid_in_both_forms_and_anomalies_happen() {
    let city = city();
    let limits = Limits::default();
    let mut g = Generator::new(&city, 1, 0.05);
    let mut readings = 0;
    let mut over_threshold = 0;
    for i in 0..4000 {
        let m = g.sensor_message(NOW, i % 2 == 0);
        let v = validate_sensor_message(
            &city,
            &limits,
            NOW,
            sensor_of(&m.topic),
            m.payload.as_bytes(),
        );
        assert!(v.rejected.is_empty(), "{}: {:?}", m.payload, v.rejected);
        assert_eq!(v.readings.len(), m.readings.len(), "{}", m.payload);
        for (r, (index, metric, time)) in v.readings.iter().zip(&m.readings) {
            assert_eq!(r.sensor.as_str(), g.sensor_id(*index));
            assert_eq!(r.metric, *metric);
            assert_eq!(r.time, *time);
            if (r.metric == "depth" && r.value > 27.0) || (r.metric == "lel" && r.value > 25.0) {
                over_threshold += 1;
            }
        }
        readings += v.readings.len();
    }
    assert!(readings >= 4000);
    assert!(
        over_threshold > 0,
        "no anomaly crossed a threshold in 4000 messages"
    );
}

#[test]
fn times_are_unique_even_at_one_instant() {
    let city = city();
    let mut g = Generator::new(&city, 1, 0.0);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        for (i, m, t) in g.sensor_message(NOW, true).readings {
            assert!(seen.insert((i, m, t)));
        }
    }
}

#[test]
fn packs_carry_n_readings_of_several_sensors() {
    let city = city();
    let mut g = Generator::new(&city, 2, 0.01);
    let m = g.pack_message(NOW, 50);
    assert!(m.topic.starts_with("city/packs/"));
    let v = validate_sensor_message(&city, &Limits::default(), NOW, None, m.payload.as_bytes());
    assert!(v.rejected.is_empty(), "{:?}", v.rejected);
    assert!(v.readings.len() >= 50);
    assert_eq!(v.readings.len(), m.readings.len());
    let sensors: std::collections::HashSet<_> = v.readings.iter().map(|r| &r.sensor).collect();
    assert!(sensors.len() > 10);
}

#[test]
fn first_metric_only_gives_one_reading_per_message() {
    let city = city();
    let mut g = Generator::new(&city, 2, 0.0).first_metric_only();
    for _ in 0..500 {
        assert_eq!(g.sensor_message(NOW, false).readings.len(), 1);
    }
}

#[test]
fn alerts_are_valid() {
    let city = city();
    let mut g = Generator::new(&city, 5, 0.0);
    for _ in 0..50 {
        let m = g.alert_message(NOW).expect("cameras exist");
        let camera = m.topic.rsplit('/').next();
        let a = validate_video_alert(&city, &Limits::default(), NOW, camera, m.payload.as_bytes());
        assert!(a.is_ok(), "{}: {:?}", m.payload, a.err());
    }
}

#[test]
fn a_storm_keeps_its_share_of_sensors_in_alarm_with_moving_values() {
    let city = city();
    let mut g = Generator::new(&city, 9, 0.0).first_metric_only().storm(0.3);
    let n = g.sensor_count();
    // (sensor, value) of waterlogging depth and gas LEL readings, round by round.
    let mut alarm_by_round: Vec<HashMap<usize, f64>> = Vec::new();
    let mut watched = std::collections::HashSet::new();
    for _ in 0..4 {
        let mut alarm = HashMap::new();
        for _ in 0..n {
            let m = g.sensor_message(NOW, true);
            let v = validate_sensor_message(
                &city,
                &Limits::default(),
                NOW,
                sensor_of(&m.topic),
                m.payload.as_bytes(),
            );
            for (r, (index, _, _)) in v.readings.iter().zip(&m.readings) {
                let over = match r.metric.as_str() {
                    "depth" => Some(r.value > 27.0),
                    "lel" => Some(r.value > 25.0),
                    _ => None,
                };
                if let Some(over) = over {
                    watched.insert(*index);
                    if over {
                        alarm.insert(*index, r.value);
                    }
                }
            }
        }
        alarm_by_round.push(alarm);
    }
    let first = &alarm_by_round[0];
    let share = first.len() as f64 / watched.len() as f64;
    assert!(
        (0.15..0.45).contains(&share),
        "{} of {} in alarm",
        first.len(),
        watched.len()
    );
    for round in &alarm_by_round[1..] {
        let same: Vec<_> = round.keys().collect();
        assert_eq!(round.len(), first.len(), "the same sensors stay in alarm");
        assert!(same.iter().all(|i| first.contains_key(i)));
    }
    let moved = first
        .iter()
        .filter(|(i, v)| alarm_by_round[1][i] != **v)
        .count();
    assert!(
        moved * 2 > first.len(),
        "values move: {moved} of {}",
        first.len()
    );
}
