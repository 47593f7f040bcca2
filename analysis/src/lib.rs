//! Aggregation and output of cpuhpsim: CSV, `.hgrm`, reports and plots.
//!
//! It turns run results from `workloads` into files; it does not simulate.

pub use workloads;
