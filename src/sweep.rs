//! `cpuhpsim sweep`, `cpuhpsim merge`, and the default experiment `cpuhpsim` runs with no
//! arguments. Progress goes to stderr; results only to files.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use analysis::aggregate::SweepState;
use analysis::output_dir::StagedDir;
use analysis::report::{pmu_table, table};
use analysis::run_log::{Checkpoint, RunLog, checkpoint_dir, read_checkpoint, remove_checkpoint};
use analysis::sweep::{StateSink, empty_state, manifest, write_outputs};
use analysis::workloads::plan::{Plan, SweepRequest};
use analysis::workloads::run::{RunId, RunProgress, RunResult, run_point_watched};
use analysis::workloads::runner::{Executor, RunnerError};
use analysis::workloads::scenario::ScenarioError;
use analysis::workloads::sweep::shard_range;
use anyhow::Result;
use clap::Args;

use crate::run::{bad_plan, source};
use crate::{BadInput, Interrupted};

/// A runner error: threads that cannot start are the `--jobs` the user asked for.
pub fn runner_error(e: RunnerError) -> BadInput {
    match e {
        RunnerError::Threads { .. } => BadInput(format!("--jobs: {e}")),
        RunnerError::Scenario(e) => BadInput(e.to_string()),
    }
}

/// The file that marks a sweep directory whose sweep was interrupted; `--resume` finishes it.
const INCOMPLETE: &str = "INCOMPLETE";

/// Set by the first Ctrl-C or SIGTERM: no new run starts. A second one quits at once.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_stop_handler() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            errln!("interrupted again: quitting without saving");
            std::process::exit(130);
        }
        errln!("interrupted: finishing the runs in flight, then saving the completed ones (again to quit at once)");
    });
}

/// Run a grid of scenarios × seeds on every core and write the comparison.
#[derive(Args, Clone)]
#[command(allow_negative_numbers = true)]
pub struct SweepArgs {
    /// A built-in scenario (see `cpuhpsim presets`).
    #[arg(long, default_value = "default", conflicts_with = "scenario")]
    pub preset: String,
    /// A scenario file (TOML) instead of a preset.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Schemes to compare, comma-separated [default: the scenario's].
    #[arg(long, value_delimiter = ',')]
    pub schemes: Vec<String>,
    /// CPU counts, comma-separated [default: the scenario's].
    #[arg(long, value_delimiter = ',')]
    pub cpus: Vec<String>,
    /// KEY=V1,V2,… sweeps a key over values; KEY=V sets it for every run (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUES")]
    pub set: Vec<String>,
    /// Seeds per grid point: a count N (derived from --master-seed) or a range A..B, both ends included.
    #[arg(long, default_value = "16")]
    pub seeds: String,
    /// Master seed from which counted seeds are derived.
    #[arg(long, default_value_t = 1)]
    pub master_seed: u64,
    /// Simulated time per run, e.g. 10s (overrides run.duration).
    #[arg(long, allow_hyphen_values = true)]
    pub duration: Option<String>,
    /// Worker threads [default: every core]. Results are identical for any value.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub jobs: Option<u32>,
    /// Run only slice I of N (1-based), e.g. 2/8; or set by SLURM_ARRAY_TASK_ID/COUNT or
    /// JOB_COMPLETION_INDEX with --shards.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Number of shards when the index comes from JOB_COMPLETION_INDEX (Kubernetes).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub shards: Option<u64>,
    /// Output directory [default: results/sweep, or results/sweep-shard-I-of-N].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the output directory if it exists.
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Finish an interrupted sweep in --out: run only what is missing; the result is the same
    /// bytes an uninterrupted sweep writes. Pass the same arguments as the first time.
    #[arg(long)]
    pub resume: bool,
    /// Exit with status 1, after writing every result, if any run had one of these
    /// (comma-separated): deadlock, violation (any invariant), silent (invariant 7).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "WHAT")]
    pub fail_on: Vec<crate::fail_on::FailOn>,
    /// Print a JSON summary (per grid point: runs, deadlocks, violations, latencies) on stdout
    /// instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Combine shard directories of one sweep into the directory the whole sweep would have written.
#[derive(Args)]
pub struct MergeArgs {
    /// Shard directories written by `cpuhpsim sweep --shard`.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the output directory if it exists.
    #[arg(long)]
    pub force: bool,
}

impl SweepArgs {
    /// The request these arguments make, before anything is parsed.
    pub fn request(&self) -> SweepRequest {
        SweepRequest {
            source: source(&self.preset, self.scenario.as_ref()),
            schemes: self.schemes.clone(),
            cpus: self.cpus.clone(),
            sets: self.set.clone(),
            seeds: self.seeds.clone(),
            master_seed: self.master_seed,
            duration: self.duration.clone(),
        }
    }

    /// The resolved plan of the sweep.
    pub fn plan(&self) -> Result<Plan> {
        Ok(Plan::for_sweep(&self.request()).map_err(bad_plan)?)
    }
}

/// `(i, n)`, 1-based, from --shard or the environment of a Slurm array or Kubernetes indexed job.
fn shard(args: &SweepArgs) -> Result<Option<(u64, u64)>> {
    let parse = |name: &str, text: &str| -> Result<u64> {
        text.trim().parse().map_err(|_| BadInput(format!("{name} = {text}: not a whole number")).into())
    };
    let (i, n) = if let Some(text) = &args.shard {
        let (i, n) = text.split_once('/').ok_or_else(|| BadInput(format!("--shard {text}: expected I/N, e.g. 2/8")))?;
        (parse("--shard", i)?, parse("--shard", n)?)
    } else if let (Ok(id), Ok(count)) = (std::env::var("SLURM_ARRAY_TASK_ID"), std::env::var("SLURM_ARRAY_TASK_COUNT"))
    {
        let min = std::env::var("SLURM_ARRAY_TASK_MIN").map_or(Ok(0), |m| parse("SLURM_ARRAY_TASK_MIN", &m))?;
        let id = parse("SLURM_ARRAY_TASK_ID", &id)?;
        if id < min {
            return Err(BadInput(format!(
                "SLURM_ARRAY_TASK_ID = {id} is below SLURM_ARRAY_TASK_MIN = {min}; the array's ids run from its MIN"
            ))
            .into());
        }
        (id - min + 1, parse("SLURM_ARRAY_TASK_COUNT", &count)?)
    } else if let Ok(index) = std::env::var("JOB_COMPLETION_INDEX") {
        let n = args
            .shards
            .ok_or_else(|| BadInput("JOB_COMPLETION_INDEX is set: pass --shards N (the Job's completions)".into()))?;
        (parse("JOB_COMPLETION_INDEX", &index)? + 1, n)
    } else {
        return Ok(None);
    };
    if n == 0 || i == 0 || i > n {
        let source = args.shard.as_ref().map_or("shard from the environment".to_string(), |s| format!("--shard {s}"));
        return Err(BadInput(format!("{source}: shard {i} of {n} does not exist; use I/N with 1 <= I <= N")).into());
    }
    Ok(Some((i, n)))
}

/// Reports `(done, total)` runs.
pub type ProgressFn = Box<dyn Fn(u64, u64) + Sync>;

/// Progress on stderr for `total` runs: on a terminal a bar with `done/total` and an ETA from
/// the first run, never moving backwards (workers finish out of order) and left on screen at
/// the end; otherwise a line every 5 %. Runs in flight are described by [`InFlight::report`].
pub fn progress_printer(label: String, total: u64) -> ProgressFn {
    progress_bar(label, total).0
}

/// [`progress_printer`], and the terminal's bar if there is one (for [`InFlight::report`]).
fn progress_bar(label: String, total: u64) -> (ProgressFn, Option<indicatif::ProgressBar>) {
    let shown = std::sync::atomic::AtomicU64::new(0);
    // The highest count reported so far, or None when `done` is not past it.
    let advance = move |done: u64| {
        let before = shown.fetch_max(done, std::sync::atomic::Ordering::Relaxed);
        (done > before).then_some(done)
    };
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:40}] {pos}/{len} runs, {elapsed} elapsed, ETA {eta}{msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label);
        bar.tick();
        let handle = bar.clone();
        let print = Box::new(move |done: u64, total: u64| {
            let Some(done) = advance(done) else { return };
            bar.set_length(total);
            bar.set_position(done);
            if done == total {
                bar.set_message("");
                bar.finish();
            }
        });
        (print, Some(handle))
    } else {
        let print = Box::new(move |done: u64, total: u64| {
            let Some(done) = advance(done) else { return };
            let step = (total / 20).max(1);
            if done % step == 0 || done == total {
                errln!("{label}: {done}/{total} runs");
            }
        });
        (print, None)
    }
}

/// The runs a sweep's workers have in hand, each with how far it has simulated, so that a
/// long run shows progress before it finishes.
#[derive(Default)]
struct InFlight {
    runs: std::sync::Mutex<BTreeMap<u64, (std::sync::Arc<RunProgress>, u64)>>,
}

impl InFlight {
    /// Runs `point` as run `id`, watched: the sweep's run function.
    fn run(&self, point: &analysis::workloads::plan::GridPoint, id: RunId) -> Result<RunResult, ScenarioError> {
        let progress = std::sync::Arc::new(RunProgress::default());
        let lock = || self.runs.lock().unwrap_or_else(|e| e.into_inner());
        lock().insert(id.index, (progress.clone(), point.scenario.run.duration.0));
        let result = run_point_watched(point, id, None, &progress).map(|(result, _)| result);
        lock().remove(&id.index);
        result
    }

    /// `run 12: 8.3 s of 60 s simulated (13.9 %)`, for each run in flight, lowest index first.
    fn describe(&self) -> String {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let each = runs.iter().map(|(index, (p, duration_ns))| format!("run {index}: {}", p.describe(*duration_ns)));
        each.collect::<Vec<_>>().join(", ")
    }

    /// Says what the runs in flight have simulated, `elapsed` s into the sweep: on the
    /// terminal's bar, or as a line on stderr.
    fn report(&self, bar: Option<&indicatif::ProgressBar>, elapsed: u64) {
        let runs = self.describe();
        if !runs.is_empty() {
            match bar {
                Some(bar) => bar.set_message(format!("; {runs}")),
                None => errln!("sweep: {elapsed} s elapsed; in flight: {runs}"),
            }
        }
    }
}

/// How often a sweep says how far its runs in flight are (nothing before the first interval).
const IN_FLIGHT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs the sweep; returns where it wrote and the comparison table.
pub fn run_sweep(args: &SweepArgs, default_out: &Path, replace_default: bool) -> Result<()> {
    let plan = args.plan()?;
    let command = plan.sweep_command.as_ref().expect("a sweep's plan has its command").to_string();
    let total = plan.run_count();
    let shard = shard(args)?;
    let out = match (&args.out, shard) {
        (Some(out), _) => out.clone(),
        (None, Some((i, n))) => PathBuf::from(format!("results/sweep-shard-{i}-of-{n}")),
        (None, None) => default_out.to_path_buf(),
    };
    if replace_default && out.exists() && args.out.is_none() {
        errln!("replacing {} (the previous default experiment)", out.display());
    }
    let force = args.force || (replace_default && args.out.is_none());
    let manifest = manifest(&plan, shard);
    let prior = match args.resume {
        false => None,
        true => match resumable(&out, &manifest, &plan)? {
            Some(state) => Some(state),
            None => {
                outln!("{}: the sweep is complete; nothing to resume", out.display());
                return Ok(());
            }
        },
    };
    let staged = StagedDir::create(&out, force || args.resume)
        .map_err(|e| BadInput(format!("--out {}: {}", out.display(), crate::output_error(e))))?;
    if !args.resume {
        // A fresh sweep, holding the directory's lock: a checkpoint left by an earlier, killed
        // sweep into this directory is no longer wanted.
        remove_checkpoint(&out);
    }
    let range = match shard {
        Some((i, n)) => shard_range(total, i - 1, n),
        None => 0..total,
    };
    let todo: Vec<u64> = range.clone().filter(|i| prior.as_ref().is_none_or(|p| !p.rows.contains_key(i))).collect();
    let jobs = jobs(args.jobs);
    errln!(
        "{} runs ({} grid points × {} seeds){} on {jobs} threads",
        todo.len(),
        plan.points.len(),
        plan.seeds.len(),
        if prior.is_some() {
            format!(", {} already done", range.end - range.start - todo.len() as u64)
        } else {
            "".into()
        }
    );
    install_stop_handler();
    let (progress, bar) = progress_bar("sweep".into(), todo.len() as u64);
    let in_flight = InFlight::default();
    let run_fn = |point: &analysis::workloads::plan::GridPoint, id: RunId| in_flight.run(point, id);
    let executor = Executor { plan: &plan, jobs, stop: &STOP, progress: &*progress, run_fn: &run_fn };
    let mut state = prior.unwrap_or_else(|| empty_state(&plan));
    let mut log = RunLog::create(&staged, &state)?;
    let mut checkpoint = Checkpoint::new(manifest.clone(), &out, checkpoint_interval());
    let interrupted = crate::run::with_heartbeat(
        IN_FLIGHT_EVERY,
        IN_FLIGHT_EVERY,
        |elapsed| in_flight.report(bar.as_ref(), elapsed),
        || {
            let sink = &mut StateSink { state: &mut state, log: Some(&mut log), checkpoint: Some(&mut checkpoint) };
            executor.execute(&todo, sink)
        },
    )
    .map_err(runner_error)?;
    write_outputs(&staged, &manifest, log, &mut state, range.end - range.start)?;
    if interrupted {
        let done = state.recorded;
        let mut resume = command.clone();
        if let Some((i, n)) = shard {
            resume.push_str(&format!(" --shard {i}/{n}"));
        }
        resume.push_str(&format!(" --out {} --resume", out.display()));
        staged.write(
            INCOMPLETE,
            format!("Interrupted after {done} of {} runs. Finish with:\n{resume}\n", range.end - range.start),
        )?;
        staged.commit().map_err(crate::output_error)?;
        remove_checkpoint(&out);
        return Err(Interrupted(format!(
            "interrupted: kept {done} of {} runs in {} (marked {INCOMPLETE}); finish with:\n{resume}",
            range.end - range.start,
            out.display()
        ))
        .into());
    }
    let dir = staged.commit().map_err(crate::output_error)?;
    remove_checkpoint(&out);
    if args.json {
        out!("{}", json_summary(&state, &command, &dir));
    } else {
        out!("{}", table(&state));
        if let Some(pmu) = pmu_table(&state) {
            out!("\n{pmu}");
        }
        outln!(
            "\nreport: {}  (runs.csv, locks.csv, histograms.csv, hgrm/, deadlocks.txt, plots/)",
            dir.join("report.md").display()
        );
    }
    if !state.failures.is_empty() {
        for f in &state.failures {
            errln!("internal error in run {} (seed {}): {}\n  replay: {}", f.run, f.seed, f.message, f.replay);
        }
        anyhow::bail!(
            "{} of {} runs hit an internal error (a bug in cpuhpsim; listed in report.md); the other runs are kept",
            state.failures.len(),
            state.recorded
        );
    }
    let sum = |f: fn(&analysis::aggregate::Group) -> u64| state.groups.iter().map(f).sum::<u64>();
    let outcomes = crate::fail_on::Outcomes {
        deadlocks: sum(|g| g.deadlocks),
        violations: sum(|g| g.violations),
        silent: sum(|g| g.silently_failed_opens),
    };
    crate::fail_on::check(&args.fail_on, outcomes, &format!("the sweep's {} runs", state.recorded))?;
    Ok(())
}

/// The sweep as one JSON object: its command, where it wrote, and per grid point its counts and
/// hotplug and open latency quantiles (ns).
fn json_summary(state: &SweepState, command: &str, dir: &Path) -> String {
    let groups: Vec<serde_json::Value> = state
        .groups
        .iter()
        .map(|g| {
            let lat = |m: &str| {
                let h = g.histogram(m);
                let q = |p| analysis::runs::quantile(h, p);
                serde_json::json!({ "count": h.len(), "p50_ns": q(0.5), "p99_ns": q(0.99) })
            };
            serde_json::json!({
                "label": g.label,
                "scheme": g.scheme,
                "cpus": g.cpus,
                "runs": g.runs,
                "deadlocked_runs": g.deadlocked_runs,
                "deadlocks": g.deadlocks,
                "invariant_violations": g.violations,
                "silently_failed_opens": g.silently_failed_opens,
                "stalls": g.stalls,
                "opens_ok": g.opens,
                "enodev": g.enodev,
                "cpu_down": lat("cpu_down_ns"),
                "cpu_up": lat("cpu_up_ns"),
                "open": lat("open_ns"),
            })
        })
        .collect();
    let value = serde_json::json!({
        "command": command,
        "out": dir.display().to_string(),
        "runs": state.recorded,
        "failures": state.failures.len(),
        "groups": groups,
    });
    serde_json::to_string_pretty(&value).expect("a summary serialises") + "\n"
}

/// How often a running sweep checkpoints: `CPUHPSIM_CHECKPOINT_SECS` (0: after every chunk of
/// runs), default 10 s. It decides only how much a kill loses, never a result.
fn checkpoint_interval() -> std::time::Duration {
    let secs = std::env::var("CPUHPSIM_CHECKPOINT_SECS").ok().and_then(|v| v.parse::<f64>().ok());
    std::time::Duration::from_secs_f64(secs.filter(|s| s.is_finite() && *s >= 0.0).unwrap_or(10.0))
}

/// The saved state of the interrupted sweep in `out`, or `None` if that sweep is complete. A
/// checkpoint of a sweep killed without warning (`.NAME.checkpoint`, newer than anything in
/// `out`) comes first; a sweep killed before its first checkpoint resumes from no runs.
fn resumable(out: &Path, manifest: &str, plan: &Plan) -> Result<Option<SweepState>> {
    match read_checkpoint(out) {
        Some(Ok((saved, state))) if saved == manifest => {
            errln!("resuming from the checkpoint of a sweep that was killed: {}", checkpoint_dir(out).display());
            let state = SweepState::from_json(&state).map_err(|e| BadInput(format!("--resume: checkpoint: {e}")))?;
            return Ok(Some(state));
        }
        Some(Ok(_)) => {
            return Err(BadInput(format!(
                "--resume: {} holds the checkpoint of a different sweep; pass the arguments it was started with \
                 (see its manifest.json)",
                checkpoint_dir(out).display()
            ))
            .into());
        }
        Some(Err(e)) => return Err(BadInput(format!("--resume: {e}")).into()),
        None => {}
    }
    let read = |name: &str| {
        std::fs::read_to_string(out.join(name))
            .map_err(|e| BadInput(format!("--resume: {} holds no sweep to resume ({name}: {e})", out.display())))
    };
    let staging = analysis::output_dir::beside(out, "partial");
    if !out.join("manifest.json").exists() && staging.exists() {
        // Nothing of it was saved: resuming it is running it whole, into the same bytes.
        errln!(
            "resuming a sweep that was killed before its first checkpoint: none of its runs was saved ({} is \
             discarded); running it whole",
            staging.display()
        );
        return Ok(Some(empty_state(plan)));
    }
    let saved = read("manifest.json")?;
    if saved != manifest {
        let (a, b) = (serde_json::from_str(&saved).ok(), serde_json::from_str(manifest).ok());
        if let (Some(a), Some(b)) = (a, b)
            && let Some(builds) = only_the_build_differs(&a, &b)
        {
            return Err(BadInput(format!(
                "--resume: {} was started by {builds}; its runs and this build's would be mixed: finish it \
                 with that build, or start again with --force",
                out.display()
            ))
            .into());
        }
        return Err(BadInput(format!(
            "--resume: {} holds a different sweep; pass the arguments it was started with (see its manifest.json)",
            out.display()
        ))
        .into());
    }
    if !out.join(INCOMPLETE).exists() {
        return Ok(None);
    }
    let text = read("state.json")?;
    analysis::run_log::verify_state_sum(&text, &read(analysis::run_log::STATE_SUM)?)
        .map_err(|e| BadInput(format!("--resume: {}: {e}", out.display())))?;
    let state = SweepState::from_json(&text).map_err(|e| BadInput(format!("--resume: {e}")))?;
    Ok(Some(state))
}

pub fn merge(args: &MergeArgs) -> Result<()> {
    let mut merged: Option<(SweepState, serde_json::Value)> = None;
    // Which directory each run index came from, and each directory's shard (i, n).
    let mut owner: BTreeMap<u64, &Path> = BTreeMap::new();
    let mut shards: Vec<(&Path, Option<(u64, u64)>)> = Vec::new();
    for (k, dir) in args.dirs.iter().enumerate() {
        if let Some(first) = args.dirs[..k].iter().find(|d| same_dir(d, dir)) {
            return Err(BadInput(format!(
                "{} is given twice (also as {}); give each shard once",
                dir.display(),
                first.display()
            ))
            .into());
        }
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| BadInput(format!("{}: cannot read {name}: {e}", dir.display())))
        };
        if dir.join(INCOMPLETE).exists() {
            return Err(
                BadInput(format!("{}: the shard is incomplete; finish it with --resume first", dir.display())).into()
            );
        }
        let manifest: serde_json::Value = serde_json::from_str(&read("manifest.json")?)
            .map_err(|e| BadInput(format!("{}: manifest.json: {e}", dir.display())))?;
        let text = read("state.json")?;
        analysis::run_log::verify_state_sum(&text, &read(analysis::run_log::STATE_SUM)?)
            .map_err(|e| BadInput(format!("{}: {e}", dir.display())))?;
        let state = SweepState::from_json(&text).map_err(|e| BadInput(format!("{}: {e}", dir.display())))?;
        let shard = manifest["shard"].as_str().and_then(|t| {
            let (i, n) = t.split_once('/')?;
            Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?))
        });
        if let Some(&(other, other_shard)) = shards.iter().find(|(_, s)| s.map(|s| s.1) != shard.map(|s| s.1)) {
            let name =
                |s: Option<(u64, u64)>| s.map_or("the whole sweep".to_string(), |(i, n)| format!("shard {i}/{n}"));
            return Err(BadInput(format!(
                "{} is {} but {} is {}: merge the shards of one split (all I/N with the same N)",
                dir.display(),
                name(shard),
                other.display(),
                name(other_shard)
            ))
            .into());
        }
        shards.push((dir.as_path(), shard));
        for &index in state.rows.keys() {
            if let Some(prev) = owner.insert(index, dir.as_path()) {
                return Err(BadInput(format!(
                    "run {index} is in both {} and {}: the shards overlap; give each run once",
                    prev.display(),
                    dir.display()
                ))
                .into());
            }
        }
        let mut whole = manifest.clone();
        whole.as_object_mut().map(|m| m.remove("shard"));
        match &mut merged {
            None => merged = Some((state, whole)),
            Some((acc, first)) => {
                if let Some(builds) = only_the_build_differs(first, &whole) {
                    return Err(BadInput(format!(
                        "{} and {}: shards of different builds ({} has {builds}) are not merged",
                        args.dirs[0].display(),
                        dir.display(),
                        args.dirs[0].display()
                    ))
                    .into());
                }
                if *first != whole {
                    return Err(BadInput(format!(
                        "{}: not a shard of the same sweep as {}",
                        dir.display(),
                        args.dirs[0].display()
                    ))
                    .into());
                }
                acc.merge(&state);
            }
        }
    }
    let (state, manifest) = merged.expect("at least one directory");
    let expected = manifest["runs"].as_u64().unwrap_or(0);
    if state.rows.len() as u64 != expected {
        return Err(BadInput(format!(
            "the shards hold {} of the sweep's {expected} runs; pass every shard",
            state.rows.len()
        ))
        .into());
    }
    let mut state = state;
    let staged = StagedDir::create(&args.out, args.force).map_err(crate::output_error)?;
    crate::remove_on_signal(&staged);
    let log = RunLog::create(&staged, &state)?;
    write_outputs(&staged, &(serde_json::to_string_pretty(&manifest)? + "\n"), log, &mut state, expected)?;
    let dir = staged.commit().map_err(crate::output_error)?;
    out!("{}", table(&state));
    if let Some(pmu) = pmu_table(&state) {
        out!("\n{pmu}");
    }
    outln!("\nreport: {}", dir.join("report.md").display());
    Ok(())
}

/// Whether two paths name the same directory (after resolving links and `..`).
fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// When two manifests differ only in their `build`: "a build of commit X (dirty), this is Y".
fn only_the_build_differs(a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
    let without = |v: &serde_json::Value| {
        let mut v = v.clone();
        v.as_object_mut().map(|m| m.remove("build"));
        v
    };
    if a["build"] == b["build"] || without(a) != without(b) {
        return None;
    }
    let name = |v: &serde_json::Value| {
        let dirty = if v["build"]["dirty"].as_bool() == Some(false) { "" } else { " (dirty)" };
        format!("commit {}{dirty}", v["build"]["commit"].as_str().unwrap_or("unknown"))
    };
    Some(format!("a build of {}, not {}", name(a), name(b)))
}

/// Worker threads: `--jobs`, or one per core the host offers.
pub fn jobs(asked: Option<u32>) -> usize {
    asked.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |j| j as usize)
}

/// The default experiment: the thread's schemes × both release paths × 64 to 4,096 CPUs, on
/// v4.13's kernel. `v4.12` is left out: it shipped on the refcount hotplug lock
/// (`scheme.kernel = "4.12"`), and on v4.13's percpu_rwsem it is no kernel that existed.
/// The thread's schemes: the order it reported and the two fixes it proposed.
pub const DEFAULT_SCHEMES: [&str; 3] = ["legacy", "pmus-lock", "percpu-state"];

pub fn default_args() -> SweepArgs {
    SweepArgs {
        preset: "experiment".into(),
        scenario: None,
        schemes: DEFAULT_SCHEMES.map(String::from).to_vec(),
        cpus: ["64", "256", "1024", "4096"].map(String::from).to_vec(),
        set: vec!["scheme.kernel=4.13,4.15".into(), "pmus.names=generic,skx-2s".into()],
        seeds: "128".into(),
        master_seed: 1,
        duration: None,
        jobs: None,
        shard: None,
        shards: None,
        out: None,
        force: false,
        resume: false,
        fail_on: Vec::new(),
        json: false,
    }
}
