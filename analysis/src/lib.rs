//! Aggregation and output of cpuhpsim: CSV, `.hgrm`, reports and plots.
//!
//! It turns run results from `workloads` into files; it does not simulate.

pub mod aggregate;
pub mod compare;
pub mod csv_rows;
pub mod histograms;
pub mod history;
pub mod lock_stat;
pub mod option_columns;
pub mod output_dir;
pub mod outputs;
pub mod plots;
pub mod report;
pub mod run_log;
pub mod runs;
pub mod stats;
pub mod sweep;
pub mod trace;
pub mod verdict;

use std::path::PathBuf;

pub use workloads;
pub use workloads::sim;

/// FNV-1a (64-bit)'s starting value.
pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a (64-bit) of `bytes`, continuing from `hash` (start from [`FNV_OFFSET`]): the checksum
/// of `state.json` and the hash in shortened `.hgrm` names.
pub(crate) fn fnv1a(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// The git commit cpuhpsim was built from, or "unknown" outside a git checkout.
pub const BUILD_COMMIT: &str = env!("CPUHPSIM_BUILD_COMMIT");
/// Whether the checkout had uncommitted changes to tracked files when built: "true", "false"
/// or "unknown".
pub const BUILD_DIRTY: &str = env!("CPUHPSIM_BUILD_DIRTY");

/// The build as manifests record it: `{"commit": …, "dirty": …}`.
pub fn build_json() -> serde_json::Value {
    let dirty = match BUILD_DIRTY {
        "true" => serde_json::Value::Bool(true),
        "false" => serde_json::Value::Bool(false),
        _ => serde_json::Value::Null,
    };
    serde_json::json!({ "commit": BUILD_COMMIT, "dirty": dirty })
}

/// Why output could not be written. `Exists` and unwritable paths are the user's to fix.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("output directory {0} already exists")]
    Exists(PathBuf),
    #[error("output path {0} has no directory name")]
    BadPath(PathBuf),
    #[error(
        "output path {0} ends in `.` or `..` or holds the working directory; name the directory itself \
         (e.g. `results/prev`, not `results/prev/.`)"
    )]
    DotPath(PathBuf),
    #[error("{0} holds files cpuhpsim did not write (e.g. {1}); not replacing it")]
    Foreign(PathBuf, String),
    #[error("{0} is being written by {1}; wait for it to finish or choose another --out")]
    Locked(PathBuf, String),
    #[error("{0} is not a directory; not replacing it")]
    NotDir(PathBuf),
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("cannot write CSV: {0}")]
    Csv(String),
}

impl OutputError {
    pub(crate) fn csv(e: csv::Error) -> OutputError {
        OutputError::Csv(e.to_string())
    }
}
