//! Running a sweep: runs in parallel chunks, folded into the aggregate in run-index order, so
//! the result is the same for any number of threads; then every output file from the aggregate.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use crate::OutputError;
use crate::aggregate::{Group, SweepState};
use crate::output_dir::StagedDir;
use crate::run_log::RunLog;
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
    SweepState::with_groups(
        grid.iter()
            .map(|p| Group::new(p.index, label(spec, p), p.scenario.scheme.name.clone(), p.scenario.machine.cpus))
            .collect(),
    )
}

/// Runs one scenario (the real `workloads::run::run`, or a stand-in in tests).
pub type RunFn = dyn Fn(&Scenario, u64) -> Result<RunResult, ScenarioError> + Sync;

/// What runs a sweep's runs: the grid, the threads, the stop flag and the run function.
pub struct Executor<'a> {
    pub spec: &'a SweepSpec,
    pub grid: &'a [GridPoint],
    pub jobs: usize,
    /// Once set, no new run starts; runs already started finish and are kept.
    pub stop: &'a AtomicBool,
    /// Called with `(done, total)` after each run.
    pub progress: &'a (dyn Fn(u64, u64) + Sync),
    pub run_fn: &'a RunFn,
}

impl Executor<'_> {
    /// Runs the run indices `runs` (ascending) into `state`, in parallel chunks folded in index
    /// order, so the result is the same for any number of threads. With a `log`, each chunk's
    /// records are written out while the next chunk runs. A run that panics (an internal bug) is
    /// recorded as a failure with its seed and replay command. Returns whether `stop` cut it short.
    pub fn execute(
        &self,
        runs: &[u64],
        state: &mut SweepState,
        mut log: Option<&mut RunLog>,
    ) -> Result<bool, ScenarioError> {
        let jobs = self.jobs.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| ScenarioError::new("--jobs", e.to_string()))?;
        let total = runs.len() as u64;
        let done = AtomicU64::new(0);
        let chunk_len = jobs * 16;
        // Chunk c's results are folded on this thread while the pool runs chunk c + 1.
        let mut pending: Option<(usize, ChunkResults)> = None;
        let mut folded = 0;
        let bound = |c: usize| runs.get((c + 1) * chunk_len).copied().unwrap_or(u64::MAX);
        for (c, chunk) in runs.chunks(chunk_len).enumerate() {
            let (fold, results) = std::thread::scope(|scope| {
                let folder = pending.take().map(|(p, results)| {
                    let (state, log) = (&mut *state, log.as_deref_mut());
                    scope.spawn(move || fold(results, state, log, bound(p)))
                });
                let results = pool.install(|| chunk.par_iter().map(|&i| self.run_one(i, &done, total)).collect());
                (folder.map_or(Ok(0), |f| f.join().expect("folding does not panic")), results)
            });
            folded += fold?;
            pending = Some((c, results));
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
        }
        if let Some((p, results)) = pending {
            folded += fold(results, state, log, bound(p))?;
        }
        Ok(folded < runs.len())
    }

    fn run_one(&self, index: u64, done: &AtomicU64, total: u64) -> Option<Result<Finished, ScenarioError>> {
        if self.stop.load(Ordering::SeqCst) {
            return None;
        }
        let planned = self.spec.planned(index);
        let point = &self.grid[planned.point as usize];
        let mut scenario = point.scenario.clone();
        scenario.run.seed = planned.seed;
        let outcome = match panic::catch_unwind(AssertUnwindSafe(|| (self.run_fn)(&scenario, index))) {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => return Some(Err(e)),
            Err(payload) => Err(panic_message(payload.as_ref())),
        };
        (self.progress)(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        let replay = self.spec.replay_command(point, planned.seed);
        Some(Ok(Finished { index, point: planned.point, seed: planned.seed, outcome, replay }))
    }
}

/// Folds one chunk's finished runs into `state` in index order, then writes out every record
/// before `bound`; returns how many runs it folded.
fn fold(
    results: ChunkResults,
    state: &mut SweepState,
    log: Option<&mut RunLog>,
    bound: u64,
) -> Result<usize, ScenarioError> {
    let mut folded = 0;
    for finished in results.into_iter().flatten() {
        let f = finished?;
        match f.outcome {
            Ok(result) => state.add_run(f.index, f.point, &result, &f.replay),
            Err(message) => state.add_failure(f.index, f.point, f.seed, message, &f.replay),
        }
        folded += 1;
    }
    if let Some(log) = log {
        log.drain_before(state, bound);
    }
    Ok(folded)
}

/// One chunk's runs as the pool returns them: `None` for a run the stop flag kept from starting.
type ChunkResults = Vec<Option<Result<Finished, ScenarioError>>>;

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

/// Writes every output of a sweep (or shard, or merge) into `staged`: the manifest, the run
/// records `log` has not yet written, `state.json`, and the files rendered from the aggregate.
pub fn write_outputs(
    staged: &StagedDir,
    manifest: &str,
    log: RunLog,
    state: &mut SweepState,
) -> Result<(), OutputError> {
    staged.write("manifest.json", manifest)?;
    log.finish(state)?;
    // Render from the aggregate as a merge would read it back, so whole and merged sweeps agree.
    let state = state.normalized().map_err(OutputError::Csv)?;
    crate::outputs::write_all(staged, &state)
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

    /// Runs `runs` of `spec` into a fresh aggregate; `(state, interrupted)`.
    fn execute(
        spec: &SweepSpec,
        runs: &[u64],
        jobs: usize,
        stop: &AtomicBool,
        progress: &(dyn Fn(u64, u64) + Sync),
        run_fn: &RunFn,
    ) -> (SweepState, bool) {
        let grid = spec.grid().unwrap();
        let executor = Executor { spec, grid: &grid, jobs, stop, progress, run_fn };
        let mut state = empty_state(spec, &grid);
        let interrupted = executor.execute(runs, &mut state, None).unwrap();
        (state, interrupted)
    }

    #[test]
    fn a_panicking_run_is_recorded_with_its_seed_and_replay_and_the_others_are_untouched() {
        let spec = spec();
        let all: Vec<u64> = (0..6).collect();
        let stop = AtomicBool::new(false);
        let (clean, _) = execute(&spec, &all, 2, &stop, &|_, _| {}, &run);
        let buggy = |s: &Scenario, index: u64| {
            if index == 4 {
                panic!("invariant broken in run {index}");
            }
            run(s, index)
        };
        let (hit, interrupted) = execute(&spec, &all, 2, &stop, &|_, _| {}, &buggy);
        assert!(!interrupted);
        assert_eq!(hit.failures.len(), 1);
        let f = &hit.failures[0];
        assert_eq!((f.run, f.cpus, f.seed), (4, 16, 2));
        assert_eq!(f.message, "invariant broken in run 4");
        assert_eq!(f.replay, spec.replay_command(&spec.grid().unwrap()[1], 2));
        assert_eq!(hit.rows[&4].stop_reason, "internal_error");
        for i in [0, 1, 2, 3, 5] {
            assert_eq!(hit.rows[&i], clean.rows[&i], "run {i} is unaffected");
        }
        assert_eq!(hit.groups[0].runs, 3);
        assert_eq!(hit.groups[1].runs, 2, "the failed run adds nothing to its group");
    }

    #[test]
    fn a_stopped_execution_keeps_what_it_finished_and_the_rest_completes_it_exactly() {
        let spec = spec();
        let all: Vec<u64> = (0..6).collect();
        let never = AtomicBool::new(false);
        let (whole, _) = execute(&spec, &all, 1, &never, &|_, _| {}, &run);
        let stop = AtomicBool::new(false);
        let stop_after_two = |done: u64, _: u64| {
            if done == 2 {
                stop.store(true, Ordering::SeqCst);
            }
        };
        let (first, interrupted) = execute(&spec, &all, 1, &stop, &stop_after_two, &run);
        assert!(interrupted);
        assert_eq!(first.rows.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
        let rest: Vec<u64> = all.iter().copied().filter(|i| !first.rows.contains_key(i)).collect();
        let grid = spec.grid().unwrap();
        let executor = Executor { spec: &spec, grid: &grid, jobs: 2, stop: &never, progress: &|_, _| {}, run_fn: &run };
        let mut resumed = SweepState::from_json(&first.to_json()).unwrap();
        assert!(!executor.execute(&rest, &mut resumed, None).unwrap());
        assert_eq!(resumed.to_json(), whole.to_json());
    }

    #[test]
    fn pmu_figures_and_the_mux_histogram_survive_state_json_and_shard_merges() {
        let spec = SweepSpec { base_text: preset_text("pmu-load").unwrap().into(), ..spec() };
        let never = AtomicBool::new(false);
        let (whole, _) = execute(&spec, &[0, 1, 2, 3, 4, 5], 2, &never, &|_, _| {}, &run);
        let p = whole.groups[1].pmu.as_ref().expect("PMU load was on");
        assert_eq!(p.runs, 3);
        let pmis: u64 = (3..6).map(|i| whole.rows[&i].pmis.unwrap()).sum();
        assert!(pmis > 0 && p.pmis == pmis, "the group sums its runs' PMIs");
        assert!(!whole.groups[1].histograms[crate::aggregate::MUX_ERROR_METRIC].is_empty());
        let (mut merged, _) = execute(&spec, &[1, 4], 1, &never, &|_, _| {}, &run);
        let (rest, _) = execute(&spec, &[0, 2, 3, 5], 2, &never, &|_, _| {}, &run);
        merged.merge(&SweepState::from_json(&rest.to_json()).unwrap());
        assert_eq!(merged.to_json(), whole.to_json());
    }
}
