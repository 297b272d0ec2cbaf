//! How each kind of sensor behaves: a daily or slow cycle, noise, and what an anomaly
//! looks like. Values stay inside the metric's physical range (the generator clamps), so
//! every simulated reading is valid; anomalies cross the alarm levels of the default
//! thresholds so that the demo raises (and later clears) incidents.

use std::f64::consts::TAU;

const DAY: f64 = 86_400.0;
const HOUR: f64 = 3_600.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    WaterLevel,
    Waterlogging,
    Gas,
    ManholeCover,
    Smoke,
    AirQuality,
    Power,
    BridgeStrain,
    Crowd,
    /// A kind this simulator does not know: mid-range with noise.
    Other,
}

impl Behaviour {
    pub fn of(kind: &str) -> Self {
        match kind {
            "water_level" => Self::WaterLevel,
            "waterlogging" => Self::Waterlogging,
            "gas" => Self::Gas,
            "manhole_cover" => Self::ManholeCover,
            "smoke" => Self::Smoke,
            "air_quality" => Self::AirQuality,
            "power" => Self::Power,
            "bridge_strain" => Self::BridgeStrain,
            "crowd" => Self::Crowd,
            _ => Self::Other,
        }
    }

    /// The value of `metric` at `t` seconds, with `noise` a standard normal sample.
    pub fn value(self, metric: &str, t: f64, noise: f64, anomalous: bool) -> f64 {
        let daily = (TAU * t / DAY).sin();
        let slow = (TAU * t / HOUR).sin();
        match (self, metric) {
            (Self::WaterLevel, _) if anomalous => 8.6 + 0.3 * noise.abs(),
            (Self::WaterLevel, _) => 2.0 + 0.6 * slow + 0.03 * noise,
            (Self::Waterlogging, _) if anomalous => 32.0 + 6.0 * noise.abs(),
            (Self::Waterlogging, _) => (0.8 * noise).abs(),
            (Self::Gas, _) if anomalous => 30.0 + 4.0 * noise.abs(),
            (Self::Gas, _) => 0.6 + (0.4 * noise).abs(),
            (Self::ManholeCover, "open") => f64::from(u8::from(anomalous)),
            (Self::ManholeCover, _) if anomalous => 40.0 + 8.0 * noise.abs(),
            (Self::ManholeCover, _) => (0.5 * noise).abs(),
            (Self::Smoke, "alarm") => f64::from(u8::from(anomalous)),
            (Self::Smoke, _) if anomalous => 14.0 + 3.0 * noise.abs(),
            (Self::Smoke, _) => (0.05 * noise).abs(),
            (Self::AirQuality, "pm10") => 1.7 * (38.0 + 14.0 * daily) + 6.0 * noise,
            (Self::AirQuality, _) if anomalous => 160.0 + 20.0 * noise.abs(),
            (Self::AirQuality, _) => 38.0 + 14.0 * daily + 4.0 * noise,
            (Self::Power, _) if anomalous => 186.0 + 4.0 * noise,
            (Self::Power, _) => 220.0 + 1.5 * noise,
            (Self::BridgeStrain, _) if anomalous => 620.0 + 40.0 * noise.abs(),
            (Self::BridgeStrain, _) => 120.0 + 35.0 * daily + 6.0 * noise,
            (Self::Crowd, _) if anomalous => (2600.0 + 300.0 * noise.abs()).round(),
            (Self::Crowd, _) => (260.0 + 200.0 * daily + 25.0 * noise).round(),
            (Self::Other, _) => 10.0 + noise,
        }
    }
}
