//! Running a sweep: runs in parallel chunks, folded into the aggregate in run-index order, so
//! the result is the same for any number of threads; then every output file from the aggregate.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use crate::OutputError;
use crate::aggregate::{Group, SweepState};
use crate::output_dir::StagedDir;
use crate::workloads::run::RunResult;
use crate::workloads::scenario::{Scenario, ScenarioError};
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

/// Runs one scenario (the real `workloads::run::run`, or a stand-in in tests).
pub type RunFn = dyn Fn(&Scenario, u64) -> Result<RunResult, ScenarioError> + Sync;

/// How an execution ended: every requested run done, or stopped early by `stop`.
pub struct Execution {
    pub state: SweepState,
    pub interrupted: bool,
}

/// Runs the given run indices on `jobs` threads; `progress(done, total)` after each run.
/// Once `stop` is set no new run starts; runs already started finish and are kept. A run that
/// panics (an internal bug) is recorded as a failure with its seed and replay command.
pub fn execute(
    spec: &SweepSpec,
    grid: &[GridPoint],
    runs: &[u64],
    jobs: usize,
    stop: &AtomicBool,
    progress: &(dyn Fn(u64, u64) + Sync),
    run_fn: &RunFn,
) -> Result<Execution, ScenarioError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| ScenarioError::new("--jobs", e.to_string()))?;
    let mut state = empty_state(spec, grid);
    let total = runs.len() as u64;
    let done = AtomicU64::new(0);
    for chunk in runs.chunks(jobs.max(1) * 16) {
        let results: Vec<Option<Result<Finished, ScenarioError>>> = pool.install(|| {
            chunk
                .par_iter()
                .map(|&index| {
                    if stop.load(Ordering::SeqCst) {
                        return None;
                    }
                    let planned = spec.planned(index);
                    let point = &grid[planned.point as usize];
                    let mut scenario = point.scenario.clone();
                    scenario.run.seed = planned.seed;
                    let outcome = match panic::catch_unwind(AssertUnwindSafe(|| run_fn(&scenario, index))) {
                        Ok(Ok(result)) => Ok(result),
                        Ok(Err(e)) => return Some(Err(e)),
                        Err(payload) => Err(panic_message(payload.as_ref())),
                    };
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                    let replay = spec.replay_command(point, planned.seed);
                    Some(Ok(Finished { index, point: planned.point, seed: planned.seed, outcome, replay }))
                })
                .collect()
        });
        for finished in results.into_iter().flatten() {
            let f = finished?;
            match f.outcome {
                Ok(result) => state.add_run(f.index, f.point, &result, &f.replay),
                Err(message) => state.add_failure(f.index, f.point, f.seed, message, &f.replay),
            }
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(Execution { state, interrupted: true });
        }
    }
    Ok(Execution { state, interrupted: false })
}

struct Finished {
    index: u64,
    point: u64,
    seed: u64,
    outcome: Result<RunResult, String>,
    replay: String,
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

/// What the manifest says about the sweep.
pub struct SweepInfo<'a> {
    pub command: &'a str,
    pub spec: &'a SweepSpec,
    pub grid: &'a [GridPoint],
    /// `Some((i, n))` for a shard (1-based i), `None` for a whole sweep.
    pub shard: Option<(u64, u64)>,
}

/// `manifest.json` of a sweep: what it is, never how or when it ran.
pub fn manifest(info: &SweepInfo<'_>) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workloads::presets::preset_text;
    use crate::workloads::run::run;
    use crate::workloads::sweep::Seeds;

    fn spec() -> SweepSpec {
        SweepSpec {
            base_text: preset_text("default").unwrap().into(),
            source: "--preset default".into(),
            fixed: vec![("run.duration".into(), "\"200ms\"".into())],
            axes: vec![("machine.cpus".into(), vec!["8".into(), "16".into()])],
            seeds: Seeds::Literal(vec![1, 2, 3]),
        }
    }

    fn bytes(state: &SweepState) -> String {
        state.to_json()
    }

    #[test]
    fn a_panicking_run_is_recorded_with_its_seed_and_replay_and_the_others_are_untouched() {
        let spec = spec();
        let grid = spec.grid().unwrap();
        let all: Vec<u64> = (0..6).collect();
        let stop = AtomicBool::new(false);
        let clean = execute(&spec, &grid, &all, 2, &stop, &|_, _| {}, &run).unwrap();
        let buggy = |s: &Scenario, index: u64| {
            if index == 4 {
                panic!("invariant broken in run {index}");
            }
            run(s, index)
        };
        let hit = execute(&spec, &grid, &all, 2, &stop, &|_, _| {}, &buggy).unwrap();
        assert!(!hit.interrupted);
        assert_eq!(hit.state.failures.len(), 1);
        let f = &hit.state.failures[0];
        assert_eq!((f.run, f.cpus, f.seed), (4, 16, 2));
        assert_eq!(f.message, "invariant broken in run 4");
        assert_eq!(f.replay, spec.replay_command(&grid[1], 2));
        assert_eq!(hit.state.rows[&4][4], "internal_error");
        for i in [0, 1, 2, 3, 5] {
            assert_eq!(hit.state.rows[&i], clean.state.rows[&i], "run {i} is unaffected");
        }
        assert_eq!(hit.state.groups[0].runs, 3);
        assert_eq!(hit.state.groups[1].runs, 2, "the failed run adds nothing to its group");
    }

    #[test]
    fn a_stopped_execution_keeps_what_it_finished_and_the_rest_completes_it_exactly() {
        let spec = spec();
        let grid = spec.grid().unwrap();
        let all: Vec<u64> = (0..6).collect();
        let never = AtomicBool::new(false);
        let whole = execute(&spec, &grid, &all, 1, &never, &|_, _| {}, &run).unwrap();
        let stop = AtomicBool::new(false);
        let stop_after_two = |done: u64, _: u64| {
            if done == 2 {
                stop.store(true, Ordering::SeqCst);
            }
        };
        let first = execute(&spec, &grid, &all, 1, &stop, &stop_after_two, &run).unwrap();
        assert!(first.interrupted);
        assert_eq!(first.state.rows.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
        let rest: Vec<u64> = all.iter().copied().filter(|i| !first.state.rows.contains_key(i)).collect();
        let second = execute(&spec, &grid, &rest, 2, &never, &|_, _| {}, &run).unwrap();
        let mut resumed = SweepState::from_json(&first.state.to_json()).unwrap();
        resumed.merge(&second.state);
        assert_eq!(bytes(&resumed), bytes(&whole.state));
    }

    #[test]
    fn pmu_figures_and_the_mux_histogram_survive_state_json_and_shard_merges() {
        let spec = SweepSpec { base_text: preset_text("pmu-load").unwrap().into(), ..spec() };
        let grid = spec.grid().unwrap();
        let never = AtomicBool::new(false);
        let whole = execute(&spec, &grid, &[0, 1, 2, 3, 4, 5], 2, &never, &|_, _| {}, &run).unwrap().state;
        let p = whole.groups[1].pmu.as_ref().expect("PMU load was on");
        assert_eq!(p.runs, 3);
        let column = crate::runs::RUNS_CSV_HEADER.iter().position(|c| *c == "pmis").unwrap();
        let pmis: u64 = (3..6).map(|i| whole.rows[&i][column].parse::<u64>().unwrap()).sum();
        assert!(pmis > 0 && p.pmis == pmis, "the group sums its runs' PMIs");
        assert!(!whole.groups[1].histograms[crate::aggregate::MUX_ERROR_METRIC].is_empty());
        let mut merged = execute(&spec, &grid, &[4, 1], 1, &never, &|_, _| {}, &run).unwrap().state;
        let rest = execute(&spec, &grid, &[0, 2, 3, 5], 2, &never, &|_, _| {}, &run).unwrap().state;
        merged.merge(&SweepState::from_json(&rest.to_json()).unwrap());
        assert_eq!(bytes(&merged), bytes(&whole));
    }
}
