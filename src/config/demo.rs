//! `[demo]`: the in-process simulator and the crew that plays the people of the city.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Run the simulator in-process, feeding the city's sensors to the broker.
    pub simulate: bool,
    /// Readings per second the simulator publishes.
    pub rate: f64,
    /// Video alerts per minute.
    pub alerts_per_min: f64,
    /// Chance per reading that its sensor starts an anomaly (a few readings above the
    /// alarm levels), so the demo raises and clears incidents.
    pub anomaly_rate: f64,
    pub seed: u64,
    /// Play the center, the departments and the grid workers (`demo::crew`): incidents
    /// go round the closed loop at the pace below, so the open count levels off.
    pub crew: bool,
    /// Seconds between the crew's rounds on the server's clock.
    pub crew_tick_secs: u64,
    /// Mean minutes the center takes to file and dispatch what the desk leaves to it.
    pub dispatch_minutes: f64,
    /// Mean minutes a department takes to acknowledge (签收) a dispatch.
    pub acknowledge_minutes: f64,
    /// Mean minutes from acknowledging (or a rework) to starting on site.
    pub start_minutes: f64,
    /// Mean minutes of handling before the department feeds back (反馈).
    pub handle_minutes: f64,
    /// Mean minutes until a grid worker (or the center) verifies (核查) the feedback.
    pub verify_minutes: f64,
    /// Mean minutes from verified to closed (结案).
    pub close_minutes: f64,
    /// Chance a department acknowledges or feeds back after its due time.
    pub late_rate: f64,
    /// Chance a department returns (退回) a dispatch that routing could give another.
    pub return_rate: f64,
    /// Chance a verification sends the case back for rework (返工).
    pub rework_rate: f64,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            simulate: false,
            rate: 500.0,
            alerts_per_min: 6.0,
            anomaly_rate: 0.0001,
            seed: 7,
            crew: true,
            crew_tick_secs: 10,
            dispatch_minutes: 2.0,
            acknowledge_minutes: 5.0,
            start_minutes: 3.0,
            handle_minutes: 15.0,
            verify_minutes: 6.0,
            close_minutes: 2.0,
            late_rate: 0.08,
            return_rate: 0.05,
            rework_rate: 0.08,
        }
    }
}
