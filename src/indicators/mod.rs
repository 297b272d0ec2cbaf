//! The city's vital signs (城市运行生命体征): indicators over the sensors, the devices and the
//! closed loop, computed live on event time, graded in four levels with hysteresis, kept at
//! one-minute resolution and, from a level on, raising an incident of their own.
//!
//! - [`def`]: `rules/indicators.toml` as written (`docs/indicators.md` is the guide).
//! - [`compile`]: checking it (file, line, what is wrong) against the city and its settings.
//! - [`engine`]: the computation, pure and clock-free.
//! - [`stage`]: the pipeline stage that owns the engine: readings from the writer, ticks,
//!   the loop's figures from the store, samples into the store, values to the live hub and
//!   the API, the indicators' incidents through the incidents handle.

pub mod compile;
pub mod def;
pub mod engine;
mod figures;
mod indicator;
mod levels;
pub mod stage;
pub mod view;

pub use compile::{Indicator, IndicatorSet};
pub use engine::{Current, Engine, LoopFigures, ScopeValue};
pub use stage::{Board, IndicatorInput, IndicatorStage};
