//! A sweep's aggregate and outputs: the sink that folds a plan's finished runs into the
//! aggregate (and streams their records), the manifest, and every output file.

use crate::OutputError;
use crate::aggregate::{Group, SweepState};
use crate::output_dir::StagedDir;
use crate::run_log::RunLog;
use crate::workloads::plan::Plan;
use crate::workloads::runner::{Finished, Sink};
use crate::workloads::sweep::Seeds;

/// An empty aggregate with one group per grid point.
pub fn empty_state(plan: &Plan) -> SweepState {
    SweepState::with_groups(
        plan.points
            .iter()
            .map(|p| Group::new(p.index, p.label.clone(), p.scenario.scheme.name.clone(), p.scenario.machine.cpus))
            .collect(),
    )
}

/// Folds finished runs into the aggregate in index order and, with a log, streams the
/// records of every run folded so far to `runs.csv` and `deadlocks.csv`.
pub struct StateSink<'a> {
    pub state: &'a mut SweepState,
    pub log: Option<&'a mut RunLog>,
    /// Checkpoints for a resume after a kill (with a log only).
    pub checkpoint: Option<&'a mut crate::run_log::Checkpoint>,
}

impl Sink for StateSink<'_> {
    fn record(&mut self, f: Finished) {
        match f.outcome {
            Ok(result) => self.state.add_run(f.index, f.point, &result, &f.replay),
            Err(message) => self.state.add_failure(f.index, f.point, f.seed, message, &f.replay),
        }
    }

    fn flush_before(&mut self, bound: u64) {
        if let Some(log) = self.log.as_deref_mut() {
            log.drain_before(self.state, bound);
            if let Some(checkpoint) = self.checkpoint.as_deref_mut() {
                log.maybe_checkpoint(self.state, checkpoint);
            }
        }
    }
}

/// `manifest.json` of a sweep (or of shard `(i, n)` of it, 1-based): what it is, never how or
/// when it ran. It embeds the plan (base scenario text, overrides, axes, seeds), so that a
/// replay rebuilds the plan from the manifest alone.
pub fn manifest(plan: &Plan, shard: Option<(u64, u64)>) -> String {
    let seeds = &plan.seeds;
    let literal = |v: &crate::workloads::value::Value| v.toml_literal();
    let fixed: Vec<(&str, String)> = plan.fixed.iter().map(|(k, v)| (k.as_str(), literal(v))).collect();
    let axes: Vec<(&str, Vec<String>)> =
        plan.axes.iter().map(|(k, vs)| (k.as_str(), vs.iter().map(literal).collect())).collect();
    let mut value = serde_json::json!({
        "tool": "cpuhpsim",
        "version": env!("CARGO_PKG_VERSION"),
        "build": crate::build_json(),
        "command": plan.sweep_command.as_ref().map(|c| c.to_string()),
        "source": plan.source.manifest_text(),
        "base_text": plan.base_text,
        "fixed": fixed,
        "axes": axes,
        "seeds": seeds_json(seeds),
        "runs": plan.run_count(),
        "base_scenario": plan.points.first().map(|p| &p.scenario),
    });
    if let Some((i, n)) = shard {
        value["shard"] = serde_json::json!(format!("{i}/{n}"));
    }
    serde_json::to_string_pretty(&value).expect("manifest serialises") + "\n"
}

/// A sweep's seeds as its manifest records them, in a few bytes however many there are (a
/// list of 10,000,000 seeds took 249 MB): `{"master_seed": M, "count": N}` for seeds derived
/// from a master seed (run seed `i` is `splitmix64(M ^ splitmix64(i))`), `{"first": A, "last":
/// B}` for the inclusive range `A..B`, and a list only for seeds that are neither.
pub fn seeds_json(seeds: &Seeds) -> serde_json::Value {
    match seeds {
        Seeds::Derived { master, count } => serde_json::json!({ "master_seed": master, "count": count }),
        Seeds::Literal(list) if !list.is_empty() && list.windows(2).all(|w| w[0].checked_add(1) == Some(w[1])) => {
            serde_json::json!({ "first": list[0], "last": list[list.len() - 1] })
        }
        Seeds::Literal(list) => serde_json::json!(list),
    }
}

/// The seeds a manifest records ([`seeds_json`]), or the full list of older manifests.
pub fn seeds_from_json(value: &serde_json::Value) -> Result<Seeds, String> {
    let field = |name: &str| {
        value[name].as_u64().ok_or_else(|| format!("seeds.{name}: expected a whole number, found {}", value[name]))
    };
    if value.is_array() {
        return serde_json::from_value(value.clone()).map(Seeds::Literal).map_err(|e| format!("seeds: {e}"));
    }
    if value.get("master_seed").is_some() {
        return Ok(Seeds::Derived { master: field("master_seed")?, count: field("count")? });
    }
    let (first, last) = (field("first")?, field("last")?);
    if first > last || last - first >= crate::workloads::sweep::MAX_SWEEP_RUNS {
        return Err(format!(
            "seeds: {first}..{last} is not a range of at most {} seeds",
            crate::workloads::sweep::MAX_SWEEP_RUNS
        ));
    }
    Ok(Seeds::Literal((first..=last).collect()))
}

/// Writes every output of a sweep (or shard, or merge) into `staged`: the manifest, the run
/// records `log` has not yet written, `state.json`, and the files rendered from the aggregate;
/// `planned` is the run count of the whole sweep (or shard), for the report to say if it is short.
pub fn write_outputs(
    staged: &StagedDir,
    manifest: &str,
    log: RunLog,
    state: &mut SweepState,
    planned: u64,
) -> Result<(), OutputError> {
    staged.write("manifest.json", manifest)?;
    log.finish(state)?;
    // Render from the aggregate as a merge would read it back, so whole and merged sweeps agree.
    let state = state.normalized().map_err(OutputError::Csv)?;
    crate::outputs::write_all(staged, &state, planned)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::workloads::command::Source;
    use crate::workloads::plan::{GridPoint, Plan, SweepRequest};
    use crate::workloads::run::RunId;
    use crate::workloads::runner::{Executor, RunFn, run_untraced};

    fn plan(preset: &str) -> Plan {
        Plan::for_sweep(&SweepRequest {
            source: Source::Preset(preset.into()),
            schemes: Vec::new(),
            cpus: vec!["8".into(), "16".into()],
            sets: Vec::new(),
            seeds: "1..3".into(),
            master_seed: 1,
            duration: Some("200ms".into()),
        })
        .unwrap()
    }

    /// Runs `runs` of `plan` into a fresh aggregate; `(state, interrupted)`.
    fn execute(
        plan: &Plan,
        runs: &[u64],
        jobs: usize,
        stop: &AtomicBool,
        progress: &(dyn Fn(u64, u64) + Sync),
        run_fn: &RunFn<'_>,
    ) -> (SweepState, bool) {
        let executor = Executor { plan, jobs, stop, progress, run_fn };
        let mut state = empty_state(plan);
        let interrupted =
            executor.execute(runs, &mut StateSink { state: &mut state, log: None, checkpoint: None }).unwrap();
        (state, interrupted)
    }

    #[test]
    fn manifest_seeds_are_compact_and_read_back_as_the_same_seeds() {
        use crate::workloads::sweep::MAX_SWEEP_RUNS;
        for seeds in [
            Seeds::Derived { master: 7, count: MAX_SWEEP_RUNS },
            Seeds::Literal((5..=1_000_004).collect()),
            Seeds::Literal(vec![3, 1, 2]),
        ] {
            let json = seeds_json(&seeds);
            assert!(json.to_string().len() < 64, "{json}");
            let back = seeds_from_json(&json).unwrap();
            assert_eq!(back.len(), seeds.len());
            for i in [0, 1, seeds.len() - 1] {
                assert_eq!(back.get(i), seeds.get(i), "seed {i}");
            }
        }
        let old = serde_json::json!([9, 10, 12]);
        let back = seeds_from_json(&old).unwrap();
        assert_eq!((0..3).map(|i| back.get(i)).collect::<Vec<_>>(), vec![9, 10, 12], "older manifests list them");
        assert!(seeds_from_json(&serde_json::json!({ "first": 5, "last": 4 })).is_err());
    }

    #[test]
    fn a_panicking_run_is_recorded_with_its_seed_and_replay_and_the_others_are_untouched() {
        let plan = plan("default");
        let all: Vec<u64> = (0..6).collect();
        let stop = AtomicBool::new(false);
        let (clean, _) = execute(&plan, &all, 2, &stop, &|_, _| {}, &run_untraced);
        let buggy = |p: &GridPoint, id: RunId| {
            if id.index == 4 {
                panic!("invariant broken in run {}", id.index);
            }
            run_untraced(p, id)
        };
        let (hit, interrupted) = execute(&plan, &all, 2, &stop, &|_, _| {}, &buggy);
        assert!(!interrupted);
        assert_eq!(hit.failures.len(), 1);
        let f = &hit.failures[0];
        assert_eq!((f.run, f.cpus, f.seed), (4, 16, 2));
        assert_eq!(f.message, "invariant broken in run 4");
        assert_eq!(f.replay, plan.replay(4).to_string());
        assert_eq!(hit.rows[&4].stop_reason, "internal_error");
        for i in [0, 1, 2, 3, 5] {
            assert_eq!(hit.rows[&i], clean.rows[&i], "run {i} is unaffected");
        }
        assert_eq!(hit.groups[0].runs, 3);
        assert_eq!(hit.groups[1].runs, 2, "the failed run adds nothing to its group");
    }

    #[test]
    fn a_stopped_execution_keeps_what_it_finished_and_the_rest_completes_it_exactly() {
        let plan = plan("default");
        let all: Vec<u64> = (0..6).collect();
        let never = AtomicBool::new(false);
        let (whole, _) = execute(&plan, &all, 1, &never, &|_, _| {}, &run_untraced);
        let stop = AtomicBool::new(false);
        let stop_after_two = |done: u64, _: u64| {
            if done == 2 {
                stop.store(true, Ordering::SeqCst);
            }
        };
        let (first, interrupted) = execute(&plan, &all, 1, &stop, &stop_after_two, &run_untraced);
        assert!(interrupted);
        assert_eq!(first.rows.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
        let rest: Vec<u64> = all.iter().copied().filter(|i| !first.rows.contains_key(i)).collect();
        let executor = Executor { plan: &plan, jobs: 2, stop: &never, progress: &|_, _| {}, run_fn: &run_untraced };
        let mut resumed = SweepState::from_json(&first.to_json()).unwrap();
        assert!(!executor.execute(&rest, &mut StateSink { state: &mut resumed, log: None, checkpoint: None }).unwrap());
        assert_eq!(resumed.to_json(), whole.to_json());
    }

    #[test]
    fn pmu_figures_and_the_mux_histogram_survive_state_json_and_shard_merges() {
        let plan = plan("pmu-load");
        let never = AtomicBool::new(false);
        let (whole, _) = execute(&plan, &[0, 1, 2, 3, 4, 5], 2, &never, &|_, _| {}, &run_untraced);
        let p = whole.groups[1].pmu.as_ref().expect("PMU load was on");
        assert_eq!(p.runs, 3);
        let pmis: u64 = (3..6).map(|i| whole.rows[&i].pmis.unwrap()).sum();
        assert!(pmis > 0 && p.pmis == pmis, "the group sums its runs' PMIs");
        assert!(!whole.groups[1].histograms[crate::aggregate::MUX_ERROR_METRIC].is_empty());
        let (mut merged, _) = execute(&plan, &[1, 4], 1, &never, &|_, _| {}, &run_untraced);
        let (rest, _) = execute(&plan, &[0, 2, 3, 5], 2, &never, &|_, _| {}, &run_untraced);
        merged.merge(&SweepState::from_json(&rest.to_json()).unwrap());
        assert_eq!(merged.to_json(), whole.to_json());
    }
}
