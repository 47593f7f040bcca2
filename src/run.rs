//! `cpuhpsim run`: one scenario, one seed; a short summary on the terminal and the result files.

use std::path::PathBuf;

use analysis::lock_stat::{LockRow, write_locks_csv};
use analysis::output_dir::StagedDir;
use analysis::runs::{deadlocks_text, quantile, write_runs_csv};
use analysis::sim::time::format_ns;
use analysis::workloads::command::Source;
use analysis::workloads::plan::{Plan, PlanError, RunRequest, Shorthand};
use analysis::workloads::run::{RunId, RunProgress, RunResult, Timeline, run_point_watched};
use analysis::workloads::scenario::Scenario;
use anyhow::Result;

/// `--trace-limit`'s default: the last million events, about 150 MB of trace.
pub const DEFAULT_TRACE_LIMIT: u64 = 1_000_000;
/// `--trace-limit`'s largest: 100 million events, about 15 GB of memory and file.
pub const MAX_TRACE_LIMIT: u64 = 100_000_000;
use clap::Args;

use crate::BadInput;

/// Run one scenario with one seed.
#[derive(Args, Clone)]
#[command(allow_negative_numbers = true)]
pub struct RunArgs {
    /// A built-in scenario (see `cpuhpsim presets`).
    #[arg(long, default_value = "default", conflicts_with = "scenario")]
    pub preset: String,
    /// A scenario file (TOML) instead of a preset.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Scheme: legacy, pmus-lock, percpu-state, pmus-lock-nocheck (overrides scheme.name).
    #[arg(long)]
    pub scheme: Option<String>,
    /// Possible CPUs (overrides machine.cpus).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Run seed (overrides run.seed).
    #[arg(long)]
    pub seed: Option<String>,
    /// Simulated time, e.g. 30s (overrides run.duration).
    #[arg(long, allow_hyphen_values = true)]
    pub duration: Option<String>,
    /// Stop at the first deadlock instead of freezing its tasks and going on.
    #[arg(long)]
    pub stop_on_deadlock: bool,
    /// Any scenario key, e.g. --set scheme.free_outside_ctx_mutex=true (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[arg(long, value_name = "DIR", help = "Output directory [default: results/run]")]
    pub out: Option<PathBuf>,
    /// Replace the output directory if it exists.
    #[arg(long)]
    pub force: bool,
    /// Also write a Chrome/Perfetto trace of the run (tasks' ops, lock holds and waits; CPUs'
    /// hotplug) to this file; open it at ui.perfetto.dev or chrome://tracing.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// The trace keeps the run's last EVENTS events (spans, instants, flows), as ftrace's ring
    /// buffer keeps the newest; about 150 bytes of file and of memory each. A note says when
    /// events were dropped.
    /// [default: 1000000]
    #[arg(long, value_name = "EVENTS", value_parser = clap::value_parser!(u64).range(1..=MAX_TRACE_LIMIT))]
    pub trace_limit: Option<u64>,
    /// Exit with status 1, after writing every result, if any of these happened
    /// (comma-separated): deadlock, violation (any invariant), silent (invariant 7).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "WHAT")]
    pub fail_on: Vec<crate::fail_on::FailOn>,
    /// Print the summary as one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

impl RunArgs {
    /// The request these arguments make, before anything is parsed.
    pub fn request(&self) -> RunRequest {
        RunRequest {
            source: source(&self.preset, self.scenario.as_ref()),
            sets: self.set.clone(),
            scheme: self.scheme.clone(),
            cpus: self.cpus.clone(),
            seed: self.seed.clone(),
            duration: self.duration.clone(),
            stop_on_deadlock: self.stop_on_deadlock,
        }
    }

    /// The resolved plan of this one run.
    pub fn plan(&self) -> Result<Plan> {
        Ok(Plan::for_run(&self.request()).map_err(bad_plan)?)
    }
}

/// `--preset NAME` unless a scenario file was given.
pub fn source(preset: &str, scenario: Option<&PathBuf>) -> Source {
    scenario.map_or_else(|| Source::Preset(preset.to_string()), |path| Source::File(path.clone()))
}

/// The option that sets `shorthand`'s key.
fn flag(shorthand: Shorthand) -> &'static str {
    match shorthand {
        Shorthand::Scheme => "--scheme",
        Shorthand::Schemes => "--schemes",
        Shorthand::Cpus => "--cpus",
        Shorthand::Seed => "--seed",
        Shorthand::Duration => "--duration",
        Shorthand::StopOnDeadlock => "--stop-on-deadlock",
    }
}

/// The option a user typed for each part of a request, so an error names what they typed.
pub fn bad_plan(e: PlanError) -> BadInput {
    BadInput(match e {
        PlanError::ReadScenario { .. } | PlanError::ScenarioTooLarge { .. } => format!("--scenario {e}"),
        PlanError::UnknownPreset { .. } => format!("--preset: {e}"),
        PlanError::BadSetting { .. } => format!("--set {e}"),
        PlanError::BadKey { .. } => format!("--set: {e}"),
        PlanError::UnknownScheme { .. } => format!("--schemes: {e}"),
        PlanError::Seeds(message) => format!("--seeds {message}"),
        PlanError::Scenario { error, shorthand: Some(shorthand) } => {
            format!("{} ({}): {}", flag(shorthand), error.key, error.message)
        }
        PlanError::Repeated { key } => format!("--set {key}: set twice; give each key once"),
        PlanError::Conflict { shorthand } => {
            format!("{} and --set {key}: both set {key}; give one of them", flag(shorthand), key = shorthand.key())
        }
        PlanError::Scenario { error, shorthand: None } => error.to_string(),
        PlanError::Manifest(message) => message,
    })
}

fn ms(ns: u64) -> String {
    format!("{:.3} ms", ns as f64 / 1e6)
}

fn summary(r: &RunResult, replay: &str) -> String {
    let mut s = format!(
        "{} on {} CPUs, seed {}: stopped by {} at {} after {} events\n",
        r.scheme,
        r.cpus,
        r.seed,
        r.stop_name(),
        format_ns(r.end_ns),
        r.events_processed
    );
    s.push_str(&format!(
        "  cpu_down x{}: p50 {}  p99 {}  |  cpu_up x{}: p50 {}  p99 {}\n",
        r.cpu_down_ns.len(),
        ms(quantile(&r.cpu_down_ns, 0.5)),
        ms(quantile(&r.cpu_down_ns, 0.99)),
        r.cpu_up_ns.len(),
        ms(quantile(&r.cpu_up_ns, 0.5)),
        ms(quantile(&r.cpu_up_ns, 0.99)),
    ));
    s.push_str(&format!(
        "  perf_event_open: {} ok, {} ENODEV, p50 {}  p99 {}\n",
        r.opens_ok,
        r.enodev,
        ms(quantile(&r.open_ns, 0.5)),
        ms(quantile(&r.open_ns, 0.99))
    ));
    let mut contended: Vec<_> = r.locks.iter().filter(|(_, st)| st.contentions > 0).collect();
    contended.sort_by(|a, b| b.1.wait_ns_total.cmp(&a.1.wait_ns_total).then(a.0.cmp(&b.0)));
    s.push_str("  most contended locks (total wait):");
    if contended.is_empty() {
        s.push_str(" none");
    }
    for (class, st) in contended.iter().take(5) {
        s.push_str(&format!("\n    {class:<22} {:>8} contentions, {} waited", st.contentions, ms(st.wait_ns_total)));
    }
    s.push('\n');
    s.push_str(&format!(
        "  deadlocks: {}  invariant violations: {}  stalls: {}  lock-order cycles: {}\n",
        r.deadlocks.len(),
        r.violations.len(),
        r.stalls.len(),
        r.order_cycles.len()
    ));
    if let Some(d) = r.deadlocks.first() {
        s.push_str(&format!("  first deadlock at {}: {}\n", format_ns(d.time_ns), d.signature()));
    }
    for c in &r.order_cycles {
        s.push_str(&format!("  possible deadlock: {}\n", c.chain));
    }
    s.push_str(&format!("  replay: {replay}\n"));
    s
}

pub fn manifest(scenario: &Scenario, command: &str, seeds: &[u64]) -> String {
    let value = serde_json::json!({
        "tool": "cpuhpsim",
        "version": env!("CARGO_PKG_VERSION"),
        "build": analysis::build_json(),
        "command": command,
        "seeds": seeds,
        "scenario": scenario,
    });
    serde_json::to_string_pretty(&value).expect("manifest serialises") + "\n"
}

pub fn run_command(args: &RunArgs) -> Result<()> {
    let plan = args.plan()?;
    let replay = plan.replay(0).to_string();
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results/run"));
    let summary = if args.json { Summary::Json } else { Summary::Text };
    let r = run_to_dir(
        &plan,
        0,
        0,
        &replay,
        &out,
        args.force,
        trace_target(args.trace.as_deref(), args.trace_limit)?,
        summary,
    )?;
    let outcomes = crate::fail_on::Outcomes {
        deadlocks: r.deadlocks.len() as u64,
        violations: r.violations.len() as u64,
        silent: r.silently_failed_opens() as u64,
    };
    crate::fail_on::check(&args.fail_on, outcomes, &format!("the run (seed {})", r.seed))?;
    Ok(())
}

/// How a run's summary goes to stdout.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    Text,
    /// One JSON object ([`json_summary`]), and nothing else on stdout.
    Json,
}

/// The run's figures as one JSON object: what the text summary says, and where it wrote.
fn json_summary(r: &RunResult, replay: &str, out: &std::path::Path, trace: Option<&std::path::Path>) -> String {
    macro_rules! latency {
        ($h:expr) => {
            serde_json::json!({ "count": $h.len(), "p50_ns": quantile(&$h, 0.5), "p99_ns": quantile(&$h, 0.99) })
        };
    }
    let value = serde_json::json!({
        "scheme": r.scheme,
        "cpus": r.cpus,
        "seed": r.seed,
        "stop": r.stop_name(),
        "end_ns": r.end_ns,
        "events": r.events_processed,
        "cpu_down": latency!(r.cpu_down_ns),
        "cpu_up": latency!(r.cpu_up_ns),
        "open": latency!(r.open_ns),
        "opens_ok": r.opens_ok,
        "enodev": r.enodev,
        "deadlocks": r.deadlocks.len(),
        "invariant_violations": r.violations.len(),
        "silently_failed_opens": r.silently_failed_opens(),
        "stalls": r.stalls.len(),
        "lock_order_cycles": r.order_cycles.iter().map(|c| c.chain.clone()).collect::<Vec<_>>(),
        "ok": r.ok(),
        "replay": replay,
        "out": out.display().to_string(),
        "trace": trace.map(|t| t.display().to_string()),
    });
    serde_json::to_string_pretty(&value).expect("a summary serialises") + "\n"
}

/// Writes `contents` to a hidden file beside `path` (`.NAME.partial`) and returns it; on any
/// error nothing is left there.
/// `--trace FILE` with its `--trace-limit` (default [`DEFAULT_TRACE_LIMIT`]); a limit without
/// a trace is an error, not ignored.
pub fn trace_target(trace: Option<&std::path::Path>, limit: Option<u64>) -> Result<Option<(&std::path::Path, u64)>> {
    match (trace, limit) {
        (None, Some(n)) => Err(BadInput(format!("--trace-limit {n}: limits a trace; give --trace FILE too")).into()),
        (trace, limit) => Ok(trace.map(|t| (t, limit.unwrap_or(DEFAULT_TRACE_LIMIT)))),
    }
}

fn write_beside(path: &std::path::Path, timeline: &Timeline) -> Result<std::path::PathBuf> {
    let name = path.file_name().ok_or_else(|| BadInput(format!("--trace {}: no file name", path.display())))?;
    let partial = path.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    let written = std::fs::File::create(&partial).and_then(|mut f| {
        analysis::trace::write_chrome_trace(timeline, &mut f)?;
        f.sync_all()
    });
    written.map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        BadInput(format!("--trace {}: {e}", path.display()))
    })?;
    Ok(partial)
}

/// A run's first progress line comes after this long, then one every [`PROGRESS_EVERY`].
const PROGRESS_AFTER: std::time::Duration = std::time::Duration::from_secs(3);
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `work` on this thread while a second thread calls `tick` with the whole seconds
/// elapsed: first after `first`, then every `every`, until `work` returns.
pub fn with_heartbeat<T>(
    first: std::time::Duration,
    every: std::time::Duration,
    tick: impl Fn(u64) + Sync,
    work: impl FnOnce() -> T,
) -> T {
    let (done, wake) = (std::sync::Mutex::new(false), std::sync::Condvar::new());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let start = std::time::Instant::now();
            let mut next = first;
            let mut finished = done.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                let wait = next.saturating_sub(start.elapsed());
                finished = wake.wait_timeout_while(finished, wait, |d| !*d).unwrap_or_else(|e| e.into_inner()).0;
                if *finished {
                    return;
                }
                tick(start.elapsed().as_secs());
                next += every;
            }
        });
        let result = work();
        *done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        result
    })
}

/// Runs `run` (a run of `duration_ns` simulated) and prints a progress line on stderr once it
/// has taken [`PROGRESS_AFTER`], and then every [`PROGRESS_EVERY`]: what it is doing
/// (building the model, or how far it has simulated) and for how long.
pub fn watched<T>(label: &str, duration_ns: u64, run: impl FnOnce(&RunProgress) -> T) -> T {
    let progress = RunProgress::default();
    with_heartbeat(
        PROGRESS_AFTER,
        PROGRESS_EVERY,
        |elapsed| errln!("{label}: {}, {elapsed} s elapsed", progress.describe(duration_ns)),
        || run(&progress),
    )
}

/// Runs run `index` of `plan` (recorded as run `run_index`), prints its summary and writes its
/// directory (and trace); returns the run.
#[allow(clippy::too_many_arguments)]
pub fn run_to_dir(
    plan: &Plan,
    index: u64,
    run_index: u64,
    replay: &str,
    out: &std::path::Path,
    force: bool,
    trace: Option<(&std::path::Path, u64)>,
    shown: Summary,
) -> Result<RunResult> {
    let staged = StagedDir::create(out, force)
        .map_err(|e| BadInput(format!("--out {}: {}", out.display(), crate::output_error(e))))?;
    crate::remove_on_signal(&staged);
    if let Some((path, _)) = trace {
        if path.parent().is_some_and(|p| !p.as_os_str().is_empty() && !p.is_dir()) {
            return Err(BadInput(format!("--trace {}: its directory does not exist", path.display())).into());
        }
        if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
            return Err(BadInput(format!(
                "--trace {}: exists and is not a regular file (a directory, device or link); give a file path",
                path.display()
            ))
            .into());
        }
    }
    let scenario = plan.scenario(index);
    let id = RunId { seed: scenario.run.seed, index: run_index };
    let (result, timeline) = watched("run", scenario.run.duration.0, |progress| {
        run_point_watched(plan.point_of(index), id, trace.map(|(_, limit)| limit as usize), progress)
    })
    .map_err(|e| BadInput(e.to_string()))?;
    let replay = replay.to_string();
    if shown == Summary::Text {
        out!("{}", summary(&result, &replay));
    }
    let rows = [(&result, replay.clone())];
    let io = |e: analysis::OutputError| BadInput(e.to_string());
    write_runs_csv(staged.file("runs.csv").map_err(io)?, &rows).map_err(io)?;
    let scheme_name = result.scheme.strip_suffix(&result.variant).unwrap_or(&result.scheme).trim_end().to_string();
    let lock_rows: Vec<LockRow<'_>> = result
        .locks
        .iter()
        .map(|(class, stat)| LockRow { scheme: &scheme_name, variant: &result.variant, cpus: result.cpus, class, stat })
        .collect();
    write_locks_csv(staged.file("locks.csv").map_err(io)?, &lock_rows).map_err(io)?;
    staged.write("deadlocks.txt", deadlocks_text(&rows)).map_err(io)?;
    let order: String = if result.order_cycles.is_empty() {
        "lock-order analysis: no cycles\n".into()
    } else {
        result.order_cycles.iter().map(|c| c.report.clone() + "\n").collect()
    };
    staged.write("lock_order.txt", order).map_err(io)?;
    staged.write("manifest.json", manifest(&scenario, &replay, &[scenario.run.seed])).map_err(io)?;
    // The trace is written in full beside its target before the results are committed, so that
    // a trace that cannot be written (a full disk) leaves neither it nor the results half-made.
    let trace_file = match (trace, &timeline) {
        (Some((path, _)), Some(timeline)) => Some((path, write_beside(path, timeline)?)),
        _ => None,
    };
    let dir = staged.commit().map_err(io)?;
    if shown == Summary::Text {
        outln!("wrote {}", dir.display());
    }
    if let (Some((path, partial)), Some(timeline)) = (trace_file, timeline) {
        std::fs::rename(&partial, path).map_err(|e| {
            let _ = std::fs::remove_file(&partial);
            BadInput(format!("--trace {}: {e}", path.display()))
        })?;
        if shown == Summary::Text {
            outln!("trace: {} ({} events)", path.display(), timeline.events.len());
        }
        if let Some(note) = analysis::trace::limit_note(&timeline) {
            errln!("note: {note}");
        }
    }
    if shown == Summary::Json {
        out!("{}", json_summary(&result, &replay, &dir, trace.map(|(path, _)| path)));
    }
    Ok(result)
}
