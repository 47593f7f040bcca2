//! The discrete-event engine and the kernel model of cpuhpsim.
//!
//! This crate knows virtual time, the pending-event queue, seeded random streams and (as they
//! land) the kernel primitives a workload is built from. It knows no scheme names, no CSV and
//! no terminal: those live in `workloads`, `analysis` and the CLI.

pub mod engine;
pub mod event;
pub mod phold;
pub mod queue;
pub mod rng;

pub use engine::{Limits, Model, RunOutcome, Scheduler, StopReason};
pub use event::{Event, Scheduled};
pub mod cpumask;
pub mod kernel;
pub mod lockdep;
pub mod locks;
pub mod lockstat;
pub mod perf;
pub mod pmu;
pub mod script;
pub mod time;
