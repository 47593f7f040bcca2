//! Running a sweep: runs in parallel chunks, folded into the aggregate in run-index order, so
//! the result is the same for any number of threads; then every output file from the aggregate.

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::OutputError;
use crate::aggregate::{Group, SweepState};
use crate::output_dir::StagedDir;
use crate::workloads::run::{RunResult, run};
use crate::workloads::scenario::ScenarioError;
use crate::workloads::sweep::{GridPoint, SweepSpec};

/// A scheme's label in results: its name, then every other option set (short key=value), in
/// the order a replay command lists them. `run` and `sweep` label the same run alike.
pub fn variant_label(scheme: &str, sets: &[(String, String)]) -> String {
    let mut label = scheme.to_string();
    for (key, value) in sets {
        if ["scheme.name", "machine.cpus", "run.seed", "run.duration"].contains(&key.as_str()) {
            continue;
        }
        let short = key.rsplit('.').next().unwrap_or(key);
        label.push_str(&format!(" {short}={}", value.trim_matches('"')));
    }
    label
}

/// The group label of a grid point (fixed options, then swept ones).
pub fn label(spec: &SweepSpec, point: &GridPoint) -> String {
    let sets: Vec<(String, String)> = spec.fixed.iter().chain(&point.assignments).cloned().collect();
    variant_label(&point.scenario.scheme.name, &sets)
}

/// An empty aggregate with one group per grid point.
pub fn empty_state(spec: &SweepSpec, grid: &[GridPoint]) -> SweepState {
    SweepState {
        groups: grid
            .iter()
            .map(|p| Group::new(p.index, label(spec, p), p.scenario.scheme.name.clone(), p.scenario.machine.cpus))
            .collect(),
        ..SweepState::default()
    }
}

/// Runs `runs` (indices into the sweep) on `jobs` threads; `progress(done, total)` after each run.
pub fn execute(
    spec: &SweepSpec,
    grid: &[GridPoint],
    runs: Range<u64>,
    jobs: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<SweepState, ScenarioError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| ScenarioError::new("--jobs", e.to_string()))?;
    let mut state = empty_state(spec, grid);
    let total = runs.end - runs.start;
    let done = AtomicU64::new(0);
    let chunk = (jobs.max(1) * 16) as u64;
    let mut start = runs.start;
    while start < runs.end {
        let end = (start + chunk).min(runs.end);
        let results: Vec<Result<(u64, u64, RunResult, String), ScenarioError>> = pool.install(|| {
            (start..end)
                .into_par_iter()
                .map(|index| {
                    let planned = spec.planned(index);
                    let point = &grid[planned.point as usize];
                    let mut scenario = point.scenario.clone();
                    scenario.run.seed = planned.seed;
                    let result = run(&scenario, index)?;
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                    Ok((index, planned.point, result, spec.replay_command(point, planned.seed)))
                })
                .collect()
        });
        for r in results {
            let (index, point, result, replay) = r?;
            state.add_run(index, point, &result, &replay);
        }
        start = end;
    }
    Ok(state)
}

/// What the manifest says about the sweep.
pub struct SweepInfo<'a> {
    pub command: &'a str,
    pub spec: &'a SweepSpec,
    pub grid: &'a [GridPoint],
    /// `Some((i, n))` for a shard (1-based i), `None` for a whole sweep.
    pub shard: Option<(u64, u64)>,
}

fn manifest(info: &SweepInfo<'_>) -> String {
    let seeds = &info.spec.seeds;
    let mut value = serde_json::json!({
        "tool": "cpuhpsim",
        "version": env!("CARGO_PKG_VERSION"),
        "command": info.command,
        "source": info.spec.source,
        "fixed": info.spec.fixed,
        "axes": info.spec.axes,
        "seeds": (0..seeds.len()).map(|i| seeds.get(i)).collect::<Vec<_>>(),
        "runs": info.spec.run_count(info.grid.len()),
        "base_scenario": info.grid.first().map(|p| &p.scenario),
    });
    if let Some((i, n)) = info.shard {
        value["shard"] = serde_json::json!(format!("{i}/{n}"));
    }
    serde_json::to_string_pretty(&value).expect("manifest serialises") + "\n"
}

/// Writes every output of a sweep (or shard) into `staged`.
pub fn write_outputs(staged: &StagedDir, info: &SweepInfo<'_>, state: &SweepState) -> Result<(), OutputError> {
    staged.write("manifest.json", manifest(info))?;
    let json = state.to_json();
    staged.write("state.json", &json)?;
    // Render from the state as a merge would read it back, so whole and merged sweeps agree.
    let state = SweepState::from_json(&json).map_err(OutputError::Csv)?;
    crate::outputs::write_all(staged, &state)?;
    Ok(())
}
