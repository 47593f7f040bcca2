//! Locking schemes, load generators, presets and scenario files of cpuhpsim.
//!
//! Schemes are lock scripts run by the kernel model in `sim`; this crate knows their names
//! and how a scenario asks for them, but writes no output.

pub mod command;
pub mod error;
pub mod generators;
pub mod history;
pub mod kernels;
pub mod lockbench;
pub mod plan;
pub mod presets;
pub mod run;
pub mod runner;
pub mod scenario;
pub mod schemes;
pub mod script_text;
pub mod sweep;
pub mod value;

pub use sim;
