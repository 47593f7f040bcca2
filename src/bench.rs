//! `cpuhpsim bench`: wall-clock measurements of the engine and the model (never part of
//! simulation results). Each timed model run happens in a child process of its own, so its peak
//! memory is its own.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use analysis::output_dir::StagedDir;
use analysis::stats::median;
use anyhow::{Context, Result, bail, ensure};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use sim::phold::{self, MAX_LPS, PholdConfig, PholdResult};
use sim::queue::HybridHeap;
use sim::time::Nanos;
use workloads::command::Source;
use workloads::plan::{Plan, RunRequest};
use workloads::run::RunId;
use workloads::runner::run_untraced;
use workloads::scenario::{MAX_RUN_NS, MAX_SCENARIO_CPUS};

use crate::BadInput;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// PHOLD on the engine against a bare std BinaryHeap loop doing the same work.
    Phold(PholdArgs),
    /// The model's speed and memory from 64 to 65,536 CPUs, and the speed targets' pass/fail.
    Model(ModelArgs),
    /// A sweep's throughput on one thread against every core (same grid, same results).
    Sweep(crate::bench_sweep::SweepBenchArgs),
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct PholdArgs {
    /// Logical processes.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=MAX_LPS as i64))]
    lps: u32,
    /// Initial events per logical process.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pop: u32,
    /// Events to process per run.
    #[arg(long, default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Seed of the random stream both loops draw from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Timed runs of each loop, alternating engine and baseline; medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// Also write phold.csv (with the git commit) to this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the --out directory if it exists.
    #[arg(long)]
    force: bool,
}

/// Most CPU counts one model bench measures.
const MAX_SIZES: usize = 32;

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct ModelArgs {
    /// CPU counts of the scaling rows, comma-separated (each 1 to 65,536).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "64,512,4096,16384,65536",
        value_parser = clap::value_parser!(u32).range(1..=MAX_SCENARIO_CPUS as i64)
    )]
    cpus: Vec<u32>,
    /// Timed runs per row, each in its own process; medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// Simulated time of each scaling run.
    #[arg(long, default_value = "250ms", allow_hyphen_values = true)]
    duration: String,
    /// Only the scaling rows: skip the storm cycles, the default 60 s runs and the queue row.
    #[arg(long)]
    no_targets: bool,
    /// Output directory: model.csv, wall_vs_cpus.svg, summary.txt.
    #[arg(long, default_value = "results/bench")]
    out: PathBuf,
    /// Replace the output directory if it exists.
    #[arg(long)]
    force: bool,
    /// Run one measurement in this process and print it as one JSON line (used by the bench itself).
    #[arg(long, hide = true)]
    one: Option<Workload>,
    /// With `--one`: time the host reference after the run, as the bench's children do (left
    /// out otherwise, so that `scripts/instructions` counts the run alone).
    #[arg(long, hide = true)]
    reference: bool,
}

/// What one timed run simulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    /// Per CPU: one sampling event at 100 Hz (`pmu-load` preset, 64 CPUs per package).
    Scaling,
    /// The `storm` preset as it is for one down/up cycle.
    Storm,
    /// The `storm` preset shaped as it was before model v2, for one down/up cycle: 4 PMUs
    /// (`software`, `tracepoint`, `cpu`, one uncore; no churn slot) and only the workloads it
    /// had (openers of hardware and tracepoint events, no filters, prctl, groups or forks), and
    /// its handoff without a grace period (`migrate_sync_rcu = "when-moving"`: the uncore
    /// contexts hold no events here). No target: it shows what model v2's extra work costs
    /// beside the `storm` row, which carries the 50 ms target.
    Storm4,
    /// The `storm` preset with 16 PMUs (5 software, 3 core, 8 uncore, no churn slot) for one
    /// down/up cycle.
    Storm16,
    /// The `storm` preset with the `server-2s` preset's PMUs (69: 9 software, `cpu`, 59
    /// package-scoped) for one down/up cycle.
    #[value(name = "storm-server-2s")]
    StormServer2s,
    /// The `default` preset at 4,096 CPUs for 60 s (v4.13's paths: it deadlocks).
    Default,
    /// The `default` preset at 4,096 CPUs for 60 s with v4.15's fixes of the perf paths.
    DefaultFixed,
    /// PHOLD holding 4,194,304 pending events: the queue's bytes per pending event.
    Queue,
    /// The `pmu-load` preset (8 sampling events per CPU at about 4 kHz) at 4,096 CPUs: PMIs per
    /// wall second and simulation events per PMI.
    PmuLoad,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Scaling => "scaling",
            Workload::Storm => "storm",
            Workload::Storm4 => "storm4",
            Workload::Storm16 => "storm16",
            Workload::StormServer2s => "storm-server-2s",
            Workload::Default => "default",
            Workload::DefaultFixed => "default-fixed",
            Workload::Queue => "queue",
            Workload::PmuLoad => "pmu-load",
        }
    }
}

/// The scaling workload's PMU load: one sampling event per CPU every 30,000,000 cycles (100 Hz
/// at 3 GHz), so events grow in proportion to CPUs.
const SCALING_SAMPLE_PERIOD: u64 = 30_000_000;
/// CPUs per package in the scaling workload (uncore counting runs per package).
const SCALING_CPUS_PER_PACKAGE: u32 = 64;
/// PMUs of the storm16 rows: 5 software + 3 core + 8 uncore, and `pmus.churn_slots = 0`.
const STORM_PMUS: u32 = 16;
/// PMUs of the `server-2s` preset: 9 software + 1 core + 59 package-scoped.
const SERVER_2S_PMUS: u32 = 69;
/// v4.15's fixes of the perf paths that are on/off switches set to `true` (82d94856fa22,
/// 43fa87f7deed); efe951d3de91 is `ds_buffers_hotplug_lock = false`.
const V415_FIXES: [&str; 3] =
    ["scheme.free_outside_ctx_mutex", "scheme.set_filter_outside_ctx_mutex", "scheme.sw_sibling_init_unlocked"];
/// Simulated time of the default rows.
const DEFAULT_RUN_NS: u64 = 60_000_000_000;
/// CPUs of the default rows and of the small storm row.
const TARGET_CPUS: u32 = 4096;
/// PHOLD population of the queue row: 65,536 LPs × 64 events pending throughout.
const QUEUE_LPS: u32 = 65_536;
const QUEUE_POP: u32 = 64;
/// Simulated time of the PMU-load row.
const PMU_LOAD_RUN_NS: u64 = 1_000_000_000;
/// The PMU-load row's targets: simulated PMIs per wall second, and simulation events per PMI.
const PMU_LOAD_PMIS_PER_S: f64 = 20e6;
const PMU_LOAD_EVENTS_PER_PMI: f64 = 1.1;

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Phold(args) => bench_phold(&args),
        BenchCommand::Model(args) => match args.one {
            Some(workload) => print_one(workload, &args),
            None if args.reference => Err(BadInput("--reference: only with --one".into()).into()),
            None => bench_model(&args),
        },
        BenchCommand::Sweep(args) => crate::bench_sweep::bench_sweep(&args),
    }
}

fn timed(f: impl FnOnce() -> Result<PholdResult, phold::PholdError>) -> Result<(PholdResult, f64)> {
    let start = Instant::now();
    let result = f()?;
    Ok((result, start.elapsed().as_secs_f64()))
}

/// The commit of the source tree this binary was built from (`git rev-parse --short HEAD`, with
/// `-dirty` for uncommitted changes to tracked files), or `unknown`.
fn git_commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) if !hash.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{hash}-dirty") } else { hash }
        }
        _ => "unknown".into(),
    }
}

/// The host's threads and 1-minute load average, for reading wall times on a shared machine.
fn host_load() -> (usize, f64) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(f64::NAN);
    (threads, load)
}

fn bench_phold(args: &PholdArgs) -> Result<()> {
    let config = PholdConfig { lps: args.lps, pop: args.pop, events: args.events, seed: args.seed };
    config.validate().map_err(|e| BadInput(e.to_string()))?;
    let staged = match &args.out {
        Some(out) => Some(StagedDir::create(out, args.force).map_err(crate::output_error)?),
        None => None,
    };
    outln!(
        "PHOLD lps={} pop={} events={} seed={} mean_delay_ns={} runs={}",
        config.lps,
        config.pop,
        config.events,
        config.seed,
        phold::PHOLD_MEAN_DELAY_NS,
        args.runs
    );
    outln!("{:>4} {:>18} {:>18} {:>7}", "run", "engine_events_s", "baseline_events_s", "ratio");
    let (mut engine_rates, mut baseline_rates) = (Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let (engine, engine_s) = timed(|| phold::run_engine::<HybridHeap>(&config))?;
        let (baseline, baseline_s) = timed(|| phold::run_baseline(&config))?;
        ensure!(engine == baseline, "internal error: engine and baseline diverged ({engine:?} vs {baseline:?})");
        let engine_rate = engine.events as f64 / engine_s;
        let baseline_rate = baseline.events as f64 / baseline_s;
        outln!("{run:>4} {engine_rate:>18.0} {baseline_rate:>18.0} {:>7.3}", engine_rate / baseline_rate);
        engine_rates.push(engine_rate);
        baseline_rates.push(baseline_rate);
    }
    let (engine, baseline) = (median(engine_rates), median(baseline_rates));
    outln!(
        "median: engine {:.2} M events/s, baseline {:.2} M events/s, engine/baseline {:.3}",
        engine / 1e6,
        baseline / 1e6,
        engine / baseline
    );
    if let Some(staged) = staged {
        let (threads, load) = host_load();
        let line = PholdLine { commit: git_commit(), threads, load, config, runs: args.runs, engine, baseline };
        let io = |e: analysis::OutputError| BadInput(e.to_string());
        staged.write("phold.csv", csv_text(&PHOLD_COLUMNS, &[line])).map_err(io)?;
        outln!("wrote {}", staged.commit().map_err(io)?.display());
    }
    Ok(())
}

/// A CSV column: its name and how a row writes its field.
type Column<R> = (&'static str, fn(&R) -> String);

/// The header of `columns`, then one line per row. Fields are numbers, names and commit hashes,
/// none with a comma, quote or newline to escape.
fn csv_text<R>(columns: &[Column<R>], rows: &[R]) -> String {
    let line = |fields: Vec<String>| fields.join(",") + "\n";
    let mut s = line(columns.iter().map(|(name, _)| name.to_string()).collect());
    for row in rows {
        s.push_str(&line(columns.iter().map(|(_, field)| field(row)).collect()));
    }
    s
}

/// What `phold.csv`'s one row is written from.
struct PholdLine {
    commit: String,
    threads: usize,
    load: f64,
    config: PholdConfig,
    runs: u32,
    /// Median events per wall second.
    engine: f64,
    baseline: f64,
}

const PHOLD_COLUMNS: [Column<PholdLine>; 11] = [
    ("commit", |l| l.commit.clone()),
    ("host_threads", |l| l.threads.to_string()),
    ("load_1m", |l| format!("{:.2}", l.load)),
    ("lps", |l| l.config.lps.to_string()),
    ("pop", |l| l.config.pop.to_string()),
    ("events", |l| l.config.events.to_string()),
    ("seed", |l| l.config.seed.to_string()),
    ("runs", |l| l.runs.to_string()),
    ("engine_events_per_s", |l| format!("{:.0}", l.engine)),
    ("baseline_events_per_s", |l| format!("{:.0}", l.baseline)),
    ("engine_over_baseline", |l| format!("{:.4}", l.engine / l.baseline)),
];

/// One timed run, as a child prints it.
#[derive(Clone, Debug, PartialEq)]
struct Sample {
    events: u64,
    wall_s: f64,
    sim_ns: u64,
    pmus: u32,
    stop: String,
    cpu_downs: u64,
    cpu_ups: u64,
    /// Events pending: throughout (the queue row), or at most at once (a model run).
    pending: u64,
    /// PMIs simulated (0 without PMU load).
    pmis: u64,
    /// Simulated kernel operations: lock acquisitions, hotplug operations and opens.
    kernel_ops: u64,
    /// The process's `VmHWM` before and after the timed part (bytes; 0 where unknown).
    rss_before_bytes: u64,
    rss_peak_bytes: u64,
    /// [`host_reference_s`] in this child, run just after the timed part (`None` unless asked
    /// for with `--reference`).
    reference_s: Option<f64>,
}

/// The process's peak resident set so far (`VmHWM`), in bytes; `None` off Linux.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// Steps of the host reference loop: about 27 ms on this project's 2-core machine when the
/// host is fast.
const REFERENCE_STEPS: u64 = 50_000_000;

/// The wall time of a fixed chain of loads, adds and stores to one memory word. It does the
/// same work in every build and its word stays in L1, so it shows how fast the host core runs
/// the model's kind of code at that moment: on a shared host it moves within seconds, and the
/// model's wall times with it (README, "bench model").
fn host_reference_s() -> f64 {
    let start = Instant::now();
    let mut word = 0u64;
    for step in 0..std::hint::black_box(REFERENCE_STEPS) {
        // Through `black_box`, the word is stored and loaded again at every step.
        let word = std::hint::black_box(&mut word);
        *word = word.wrapping_add(step);
    }
    std::hint::black_box(word);
    start.elapsed().as_secs_f64()
}

/// The plan of the run a model row times at `cpus` for `duration_ns`.
fn plan(workload: Workload, cpus: u32, duration_ns: u64) -> Result<Plan> {
    let mut pairs = vec![("machine.cpus", cpus.to_string()), ("run.duration", format!("\"{duration_ns}ns\""))];
    let preset = match workload {
        Workload::Scaling | Workload::PmuLoad => {
            pairs.push(("machine.packages", cpus.div_ceil(SCALING_CPUS_PER_PACKAGE).to_string()));
            if workload == Workload::Scaling {
                pairs.push(("pmu_load.sampling_events", "1".into()));
                pairs.push(("pmu_load.sample_period", SCALING_SAMPLE_PERIOD.to_string()));
            }
            "pmu-load"
        }
        Workload::Storm | Workload::Storm4 | Workload::Storm16 | Workload::StormServer2s => {
            pairs.push(("machine.packages", cpus.min(8).to_string()));
            match workload {
                Workload::Storm4 => pairs.extend([
                    ("pmus.software", "2".into()),
                    ("pmus.core", "1".into()),
                    ("pmus.uncore", "1".into()),
                    ("pmus.churn_slots", "0".into()),
                    ("openers.software_fraction", "0".into()),
                    ("openers.set_filter_fraction", "0".into()),
                    ("openers.prctl_fraction", "0".into()),
                    ("inherit.tasks", "0".into()),
                    ("groups.tasks", "0".into()),
                    ("scheme.migrate_sync_rcu", "\"when-moving\"".into()),
                ]),
                Workload::Storm16 => pairs.extend([
                    ("pmus.software", "5".into()),
                    ("pmus.core", "3".into()),
                    ("pmus.uncore", "8".into()),
                    ("pmus.churn_slots", "0".into()),
                ]),
                Workload::StormServer2s => pairs.extend([
                    ("pmus.software", "9".into()),
                    ("pmus.core", "1".into()),
                    ("pmus.uncore", "59".into()),
                    ("pmus.churn_slots", "0".into()),
                    ("pmus.names", "\"skx-2s\"".into()),
                ]),
                _ => {}
            }
            "storm"
        }
        Workload::Default => "default",
        Workload::DefaultFixed => {
            pairs.extend(V415_FIXES.map(|k| (k, "true".to_string())));
            pairs.push(("scheme.ds_buffers_hotplug_lock", "false".into()));
            "default"
        }
        Workload::Queue => bail!("internal error: the queue row runs PHOLD, not a scenario"),
    };
    let request = RunRequest {
        sets: pairs.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        ..RunRequest::of(Source::Preset(preset.into()))
    };
    Plan::for_run(&request).map_err(|e| BadInput(format!("{}: {e}", workload.name())).into())
}

/// Runs one measurement in this process and prints it as one JSON line on stdout.
fn print_one(workload: Workload, args: &ModelArgs) -> Result<()> {
    let [cpus] = args.cpus[..] else {
        return Err(BadInput("--one: give exactly one --cpus".into()).into());
    };
    let duration_ns = duration_arg(&args.duration)?;
    let sample = if workload == Workload::Queue {
        let config = PholdConfig { lps: QUEUE_LPS, pop: QUEUE_POP, events: 1_000_000, seed: 1 };
        let before = peak_rss_bytes().unwrap_or(0);
        let (result, wall_s) = timed(|| phold::run_engine::<HybridHeap>(&config))?;
        Sample {
            events: result.events,
            wall_s,
            sim_ns: result.end_ns,
            pmus: 0,
            stop: "event_budget".into(),
            cpu_downs: 0,
            cpu_ups: 0,
            pending: u64::from(QUEUE_LPS) * u64::from(QUEUE_POP),
            pmis: 0,
            kernel_ops: 0,
            rss_before_bytes: before,
            rss_peak_bytes: peak_rss_bytes().unwrap_or(0),
            reference_s: None,
        }
    } else {
        let plan = plan(workload, cpus, duration_ns)?;
        let id = RunId { seed: plan.points[0].scenario.run.seed, index: 0 };
        let before = peak_rss_bytes().unwrap_or(0);
        let start = Instant::now();
        let r = run_untraced(&plan.points[0], id).map_err(|e| BadInput(e.to_string()))?;
        let wall_s = start.elapsed().as_secs_f64();
        Sample {
            events: r.events_processed,
            wall_s,
            sim_ns: r.end_ns,
            pmus: r.pmus,
            stop: r.stop_name().into(),
            cpu_downs: r.cpu_down_ns.len(),
            cpu_ups: r.cpu_up_ns.len(),
            pending: r.events_pending_peak,
            pmis: r.pmu.as_ref().map_or(0, |p| p.pmis),
            kernel_ops: r.locks.iter().map(|(_, l)| l.acquisitions).sum::<u64>()
                + r.cpu_down_ns.len()
                + r.cpu_up_ns.len()
                + r.opens_ok
                + r.enodev,
            rss_before_bytes: before,
            rss_peak_bytes: peak_rss_bytes().unwrap_or(0),
            reference_s: None,
        }
    };
    // After the timed part, so that it cannot warm the core for it.
    let sample = Sample { reference_s: args.reference.then(host_reference_s), ..sample };
    let line = json!({
        "events": sample.events,
        "wall_s": sample.wall_s,
        "sim_ns": sample.sim_ns,
        "pmus": sample.pmus,
        "stop": sample.stop,
        "cpu_downs": sample.cpu_downs,
        "cpu_ups": sample.cpu_ups,
        "pending": sample.pending,
        "pmis": sample.pmis,
        "kernel_ops": sample.kernel_ops,
        "rss_before_bytes": sample.rss_before_bytes,
        "rss_peak_bytes": sample.rss_peak_bytes,
        "reference_s": sample.reference_s,
    });
    outln!("{line}");
    Ok(())
}

fn duration_arg(text: &str) -> Result<u64, BadInput> {
    let Nanos(ns) = text.parse().map_err(|e| BadInput(format!("--duration {text}: {e}")))?;
    if ns == 0 || ns > MAX_RUN_NS {
        return Err(BadInput(format!("--duration {text}: must be between 1ns and one day")));
    }
    Ok(ns)
}

/// Runs `workload` once in a child process of this binary and reads its measurement.
fn child(workload: Workload, cpus: u32, duration_ns: u64) -> Result<Sample> {
    let exe = std::env::current_exe().context("cannot find this binary to run the bench in a child")?;
    let out = Command::new(exe)
        .args(["bench", "model", "--one", workload.name(), "--reference", "--cpus", &cpus.to_string()])
        .args(["--duration", &format!("{duration_ns}ns")])
        .output()
        .context("cannot start a bench child process")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "bench child ({} at {cpus} CPUs) failed: {}", workload.name(), stderr.trim());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .with_context(|| format!("bench child printed something other than JSON: {stdout}"))?;
    let u = |key: &str| v[key].as_u64().with_context(|| format!("bench child's JSON has no {key}: {stdout}"));
    Ok(Sample {
        events: u("events")?,
        wall_s: v["wall_s"].as_f64().with_context(|| format!("bench child's JSON has no wall_s: {stdout}"))?,
        sim_ns: u("sim_ns")?,
        pmus: u("pmus")? as u32,
        stop: v["stop"].as_str().unwrap_or("").to_string(),
        cpu_downs: u("cpu_downs")?,
        cpu_ups: u("cpu_ups")?,
        pending: u("pending")?,
        pmis: u("pmis")?,
        kernel_ops: u("kernel_ops")?,
        rss_before_bytes: u("rss_before_bytes")?,
        rss_peak_bytes: u("rss_peak_bytes")?,
        reference_s: Some(
            v["reference_s"].as_f64().with_context(|| format!("bench child's JSON has no reference_s: {stdout}"))?,
        ),
    })
}

/// What a row must achieve, from issue #8.
#[derive(Clone, Copy, Debug)]
struct Target {
    wall_s: f64,
    rss_bytes: Option<u64>,
}

/// One row of the table: a workload at a size, `runs` times.
struct Row {
    label: String,
    workload: Workload,
    cpus: u32,
    samples: Vec<Sample>,
    target: Option<Target>,
    /// What the row must show to count (e.g. a complete storm cycle); `None` if nothing.
    check: Option<String>,
    load_1m: f64,
}

impl Row {
    fn first(&self) -> &Sample {
        &self.samples[0]
    }
    fn wall_s(&self) -> f64 {
        median(self.samples.iter().map(|s| s.wall_s).collect())
    }

    /// Median of the runs' [`host_reference_s`] (every child the bench starts times it).
    fn reference_s(&self) -> f64 {
        median(self.samples.iter().filter_map(|s| s.reference_s).collect())
    }
    fn peak_rss_bytes(&self) -> u64 {
        median(self.samples.iter().map(|s| s.rss_peak_bytes as f64).collect()) as u64
    }
    /// Memory the timed part added, per CPU (over its `VmHWM` before it).
    fn bytes_per_cpu(&self) -> Option<f64> {
        let added: Vec<f64> =
            self.samples.iter().map(|s| s.rss_peak_bytes.saturating_sub(s.rss_before_bytes) as f64).collect();
        (self.workload != Workload::Queue && self.first().rss_peak_bytes > 0)
            .then(|| median(added) / f64::from(self.cpus))
    }
    /// Memory the timed part added, per (CPU, PMU) context.
    fn bytes_per_context(&self) -> Option<f64> {
        let pmus = self.first().pmus;
        self.bytes_per_cpu().filter(|_| pmus > 0).map(|b| b / f64::from(pmus))
    }
    /// Simulation events per simulated kernel operation (lock acquisition, hotplug operation,
    /// open): the model's cost in events of what it models, so that bloat shows as a number.
    fn model_ops(&self) -> Option<f64> {
        let s = self.first();
        (s.kernel_ops > 0).then(|| s.events as f64 / s.kernel_ops as f64)
    }
    /// The queue row's memory per pending event; a model row's memory is mostly the machine's,
    /// so its pending events are priced at the queue row's rate instead ([`summary`]).
    fn bytes_per_pending_event(&self) -> Option<f64> {
        let s = self.first();
        (self.workload == Workload::Queue && s.pending > 0 && s.rss_peak_bytes > 0).then(|| {
            let added = self.samples.iter().map(|s| s.rss_peak_bytes.saturating_sub(s.rss_before_bytes) as f64);
            median(added.collect()) / s.pending as f64
        })
    }
    fn pass(&self) -> Option<bool> {
        let target = self.target?;
        let wall_ok = self.wall_s() < target.wall_s;
        let rss_ok = target.rss_bytes.is_none_or(|max| self.peak_rss_bytes() < max);
        Some(wall_ok && rss_ok && self.check.is_none())
    }
}

/// Runs `workload` `runs` times in children; every run must simulate the same thing.
fn measure(label: &str, workload: Workload, cpus: u32, duration_ns: u64, runs: u32) -> Result<Row> {
    let (_, load_1m) = host_load();
    errln!("bench: {label} at {cpus} CPUs, {runs} run(s)");
    let mut samples = Vec::new();
    for _ in 0..runs {
        let s = child(workload, cpus, duration_ns)?;
        if let Some(first) = samples.first() {
            let same = |a: &Sample, b: &Sample| {
                (a.events, a.sim_ns, a.cpu_ups, a.pmis) == (b.events, b.sim_ns, b.cpu_ups, b.pmis)
            };
            ensure!(same(first, &s), "internal error: two runs of {label} at {cpus} CPUs differ: {first:?} vs {s:?}");
        }
        samples.push(s);
    }
    Ok(Row { label: label.into(), workload, cpus, samples, target: None, check: None, load_1m })
}

/// The PMU-load row: its wall target is the time that many PMIs may take at the target rate.
fn pmu_load_row(runs: u32) -> Result<Row> {
    let mut row = measure("pmu_load", Workload::PmuLoad, TARGET_CPUS, PMU_LOAD_RUN_NS, runs)?;
    let (pmis, events) = (row.first().pmis, row.first().events);
    row.target = Some(Target { wall_s: pmis as f64 / PMU_LOAD_PMIS_PER_S, rss_bytes: None });
    if pmis == 0 || events as f64 > PMU_LOAD_EVENTS_PER_PMI * pmis as f64 {
        row.check = Some(format!("{events} events for {pmis} PMIs"));
    }
    Ok(row)
}

/// Simulated time at which the storm's first cycle ends (its last `cpu_up` returns) at `cpus`,
/// found by runs whose lengths are extrapolated from the progress of the previous one.
fn storm_cycle_ns(workload: Workload, cpus: u32) -> Result<u64> {
    let cycle_ops = u64::from(cpus - 1);
    let mut duration_ns = (60_000_000_000 * u64::from(cpus) / u64::from(TARGET_CPUS)).max(1_000_000_000);
    for _ in 0..16 {
        let plan = plan(workload, cpus, duration_ns)?;
        let r = run_untraced(&plan.points[0], RunId { seed: plan.points[0].scenario.run.seed, index: 0 })?;
        let (downs, ups) = (r.cpu_down_ns.len(), r.cpu_up_ns.len());
        // Invariant violations do not stop a run (pmus-lock's early-online opens break
        // invariant 7 in every storm); a deadlock or a stall would end the cycle early.
        ensure!(
            r.deadlocks.is_empty() && r.stalls.is_empty(),
            "the storm at {cpus} CPUs deadlocked or stalled; no cycle to time"
        );
        if ups == cycle_ops {
            return Ok(r.cpu_up_last_ns);
        }
        duration_ns = if ups > cycle_ops {
            // Into the next cycle's ups: its downs alone take longer than the cut.
            duration_ns / 4 * 3
        } else {
            let done = (downs.min(cycle_ops) + ups) as f64 / (2 * cycle_ops) as f64;
            if done > 0.0 { (duration_ns as f64 / done * 1.05) as u64 } else { duration_ns * 2 }
        }
        .min(MAX_RUN_NS);
    }
    bail!("could not find the length of one storm cycle at {cpus} CPUs")
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or(String::new(), |v| format!("{v:.decimals$}"))
}

/// Least-squares slope of ln(wall) on ln(CPUs).
fn log_log_slope(points: &[(f64, f64)]) -> Option<f64> {
    let pts: Vec<(f64, f64)> =
        points.iter().filter(|p| p.0 > 0.0 && p.1 > 0.0).map(|&(x, y)| (x.ln(), y.ln())).collect();
    let n = pts.len() as f64;
    let (mx, my) = (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (pts.len() >= 2 && sxx > 0.0).then(|| sxy / sxx)
}

/// The log-log slope n·log2(n) has between `lo` and `hi` CPUs (1 is O(n)).
fn n_log_n_slope(lo: f64, hi: f64) -> f64 {
    let f = |n: f64| n * n.log2().max(1.0);
    (f(hi) / f(lo)).ln() / (hi / lo).ln()
}

fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<14} {:>6} {:>4} {:>10} {:>11} {:>9} {:>12} {:>10} {:>9} {:>8} {:>6} {:>9} {:>9} {:>6}  {}\n",
        "row",
        "cpus",
        "pmus",
        "sim_s",
        "events",
        "wall_s",
        "events/s",
        "sim_s/s",
        "peak_MB",
        "B/cpu",
        "B/ctx",
        "B/pending",
        "model_ops",
        "ref_ms",
        "target"
    );
    for r in rows {
        let f = r.first();
        let wall = r.wall_s();
        let target = match (r.target, r.pass()) {
            (Some(t), Some(pass)) => {
                let mut text = format!("wall < {}", fmt_s(t.wall_s));
                if let Some(max) = t.rss_bytes {
                    text.push_str(&format!(", peak < {:.0} MiB", mb(max)));
                }
                let verdict = if pass { "PASS" } else { "FAIL" };
                match &r.check {
                    Some(why) => format!("{text}: {verdict} ({why})"),
                    None => format!("{text}: {verdict}"),
                }
            }
            _ => String::new(),
        };
        let _ = writeln!(
            s,
            "{:<14} {:>6} {:>4} {:>10.3} {:>11} {:>9.4} {:>12.0} {:>10.1} {:>9.1} {:>8} {:>6} {:>9} {:>9} {:>6.1}  {}",
            r.label,
            r.cpus,
            f.pmus,
            f.sim_ns as f64 / 1e9,
            f.events,
            wall,
            f.events as f64 / wall,
            f.sim_ns as f64 / 1e9 / wall,
            mb(r.peak_rss_bytes()),
            opt(r.bytes_per_cpu(), 0),
            opt(r.bytes_per_context(), 0),
            opt(r.bytes_per_pending_event(), 1),
            opt(r.model_ops(), 3),
            r.reference_s() * 1e3,
            target
        );
    }
    s
}

fn fmt_s(s: f64) -> String {
    if s < 1.0 { format!("{:.0} ms", s * 1e3) } else { format!("{s:.2} s") }
}

/// What one `model.csv` line is written from: a table row and the host and commit it ran on.
struct ModelLine {
    row: Row,
    commit: String,
    threads: usize,
}

const MODEL_COLUMNS: [Column<ModelLine>; 31] = [
    ("commit", |l| l.commit.clone()),
    ("host_threads", |l| l.threads.to_string()),
    ("load_1m", |l| format!("{:.2}", l.row.load_1m)),
    ("row", |l| l.row.label.clone()),
    ("workload", |l| l.row.workload.name().to_string()),
    ("cpus", |l| l.row.cpus.to_string()),
    ("pmus", |l| l.row.first().pmus.to_string()),
    ("runs", |l| l.row.samples.len().to_string()),
    ("sim_ns", |l| l.row.first().sim_ns.to_string()),
    ("events", |l| l.row.first().events.to_string()),
    ("stop", |l| l.row.first().stop.clone()),
    ("cpu_downs", |l| l.row.first().cpu_downs.to_string()),
    ("cpu_ups", |l| l.row.first().cpu_ups.to_string()),
    ("wall_s_median", |l| format!("{:.6}", l.row.wall_s())),
    ("wall_s_min", |l| format!("{:.6}", l.row.samples.iter().map(|s| s.wall_s).fold(f64::INFINITY, f64::min))),
    ("wall_s_max", |l| format!("{:.6}", l.row.samples.iter().map(|s| s.wall_s).fold(0.0, f64::max))),
    ("events_per_wall_s", |l| format!("{:.0}", l.row.first().events as f64 / l.row.wall_s())),
    ("sim_s_per_wall_s", |l| format!("{:.3}", l.row.first().sim_ns as f64 / 1e9 / l.row.wall_s())),
    ("peak_rss_bytes", |l| l.row.peak_rss_bytes().to_string()),
    ("bytes_per_cpu", |l| opt(l.row.bytes_per_cpu(), 1)),
    ("bytes_per_context", |l| opt(l.row.bytes_per_context(), 1)),
    ("pending_events", |l| match l.row.first().pending {
        0 => String::new(),
        pending => pending.to_string(),
    }),
    ("bytes_per_pending_event", |l| opt(l.row.bytes_per_pending_event(), 2)),
    ("target_wall_s", |l| l.row.target.map_or(String::new(), |t| t.wall_s.to_string())),
    ("target_peak_rss_bytes", |l| l.row.target.and_then(|t| t.rss_bytes).map_or(String::new(), |b| b.to_string())),
    ("pass", |l| l.row.pass().map_or(String::new(), |p| p.to_string())),
    ("pmis", |l| l.row.first().pmis.to_string()),
    ("kernel_ops", |l| l.row.first().kernel_ops.to_string()),
    ("model_ops", |l| opt(l.row.model_ops(), 4)),
    ("pmis_per_wall_s", |l| match l.row.first().pmis {
        0 => String::new(),
        pmis => format!("{:.0}", pmis as f64 / l.row.wall_s()),
    }),
    ("reference_s_median", |l| format!("{:.6}", l.row.reference_s())),
];

/// The rows with speed targets: the storm cycles, the default preset as is and fixed, the
/// engine's queue and the PMU load.
fn target_rows(runs: u32) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (workload, cpus, target) in [
        (Workload::Storm, TARGET_CPUS, Some(Target { wall_s: 0.05, rss_bytes: None })),
        (Workload::Storm4, TARGET_CPUS, None),
        (Workload::Storm16, TARGET_CPUS, None),
        (Workload::StormServer2s, TARGET_CPUS, Some(Target { wall_s: 0.25, rss_bytes: None })),
        (Workload::Storm16, MAX_SCENARIO_CPUS, Some(Target { wall_s: 10.0, rss_bytes: Some(1 << 30) })),
        (Workload::StormServer2s, MAX_SCENARIO_CPUS, Some(Target { wall_s: 20.0, rss_bytes: Some(2 << 30) })),
    ] {
        errln!("bench: finding the length of one {} cycle at {cpus} CPUs", workload.name());
        let cycle_ns = storm_cycle_ns(workload, cpus)?;
        let mut row = measure("storm_cycle", workload, cpus, cycle_ns + 1, runs)?;
        let (ups, pmus) = (row.first().cpu_ups, row.first().pmus);
        let want_pmus = match workload {
            Workload::Storm4 => Some(4),
            Workload::Storm16 => Some(STORM_PMUS),
            Workload::StormServer2s => Some(SERVER_2S_PMUS),
            _ => None,
        };
        if ups != u64::from(cpus - 1) || want_pmus.is_some_and(|want| pmus != want) {
            row.check = Some(format!("{ups} cpu_up and {pmus} PMUs"));
        }
        row.target = target;
        rows.push(row);
    }
    for workload in [Workload::Default, Workload::DefaultFixed] {
        let mut row = measure(workload.name(), workload, TARGET_CPUS, DEFAULT_RUN_NS, runs)?;
        row.target = Some(Target { wall_s: 0.1, rss_bytes: None });
        rows.push(row);
    }
    rows.push(measure("queue", Workload::Queue, 1, 1, runs)?);
    rows.push(pmu_load_row(runs)?);
    Ok(rows)
}

/// The bench's summary: the table, then the PMU-load verdict, the scaling slopes and what each
/// row runs.
fn summary(rows: &[Row], points: &[(f64, f64)]) -> String {
    let mut summary = table(rows);
    let references: Vec<f64> = rows.iter().flat_map(|r| r.samples.iter().filter_map(|s| s.reference_s)).collect();
    if let (Some(min), Some(max)) =
        (references.iter().copied().reduce(f64::min), references.iter().copied().reduce(f64::max))
    {
        let _ = writeln!(
            summary,
            "host reference (ref_ms): {REFERENCE_STEPS} load-add-store steps on one memory word, timed in each child just \
             after its run, took {:.1} to {:.1} ms in this bench; a row whose ref_ms is well above \
             the lowest ran while the host was slow, and its wall time is slow with it",
            min * 1e3,
            max * 1e3
        );
    }
    if let Some(row) = rows.iter().find(|r| r.workload == Workload::PmuLoad) {
        let (f, wall) = (row.first(), row.wall_s());
        let _ = writeln!(
            summary,
            "pmu-load: {} PMIs in {wall:.3} s = {:.1} M PMIs per wall second (target >= {:.0} M), {:.4} simulation \
             events per PMI (target <= {PMU_LOAD_EVENTS_PER_PMI}): {}",
            f.pmis,
            f.pmis as f64 / wall / 1e6,
            PMU_LOAD_PMIS_PER_S / 1e6,
            f.events as f64 / f.pmis.max(1) as f64,
            if row.pass() == Some(true) { "PASS" } else { "FAIL" }
        );
    }
    if let (Some(slope), Some(lo), Some(hi)) = (log_log_slope(points), points.first(), points.last()) {
        let _ = writeln!(
            summary,
            "scaling: wall time grows as CPUs^{slope:.2} from {} to {} CPUs (least squares on log-log; O(n) is 1.00, \
             O(n log n) over this range is {:.2})",
            lo.0,
            hi.0,
            n_log_n_slope(lo.0, hi.0)
        );
        let steps: Vec<String> = points
            .windows(2)
            .filter_map(|w| Some(format!("{}->{} {:.2}", w[0].0, w[1].0, log_log_slope(w)?)))
            .collect();
        let _ = writeln!(summary, "scaling: slope between consecutive sizes: {}", steps.join(", "));
    }
    let queue_rate = rows.iter().find_map(Row::bytes_per_pending_event);
    for row in rows.iter().filter(|r| r.label == "storm_cycle" && r.cpus == MAX_SCENARIO_CPUS) {
        let (f, rate) = (row.first(), queue_rate.unwrap_or(f64::NAN));
        let _ = writeln!(
            summary,
            "pending events: storm_cycle at {} CPUs with {} PMUs had at most {} events pending at once; at the queue \
             row's {rate:.1} B per pending event that is {:.2} MB of its {:.1} MB peak",
            row.cpus,
            f.pmus,
            f.pending,
            f.pending as f64 * rate / (1024.0 * 1024.0),
            mb(f.rss_peak_bytes)
        );
    }
    let _ = writeln!(
        summary,
        "storm_cycle: simulated until the first cycle's last cpu_up returns; the storm preset as it is (9 PMU slots: \
         5 software, 1 core, 2 uncore, 1 churn), shaped as before model v2 (storm4: 4 PMUs, 2 software, 1 core, 1 uncore; hardware and tracepoint \
         openers only, handoff without a grace period), with 16 (5 software, \
         3 core, 8 uncore) and with the server-2s preset's 69 (at 4,096 and 65,536 CPUs). default: v4.13's paths; default-fixed: with v4.15's \
         fixes (free_outside_ctx_mutex, set_filter_outside_ctx_mutex, sw_sibling_init_unlocked, \
         ds_buffers_hotplug_lock = false). queue: PHOLD with {} events pending. pmu_load: the pmu-load preset \
         (8 sampling events per CPU at about 4 kHz, 64 CPUs per package) for 1 s. Peak memory is each child's VmHWM; B/cpu, B/ctx (per CPU × PMU context) and B/pending are what the \
         timed part added to it. model_ops: simulation events per simulated kernel operation (lock acquisition, \
         hotplug operation, open).",
        u64::from(QUEUE_LPS) * u64::from(QUEUE_POP)
    );
    summary
}

fn bench_model(args: &ModelArgs) -> Result<()> {
    let duration_ns = duration_arg(&args.duration)?;
    let mut sizes = args.cpus.clone();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.len() > MAX_SIZES {
        return Err(BadInput(format!("--cpus: {} sizes; at most {MAX_SIZES}", sizes.len())).into());
    }
    let staged = StagedDir::create(&args.out, args.force).map_err(crate::output_error)?;
    let commit = git_commit();
    let (threads, load) = host_load();
    outln!(
        "model bench at commit {commit}: {} run(s) per row, each in its own process; {threads} host threads, load {load:.2}",
        args.runs
    );
    outln!(
        "scaling rows: pmu-load preset, 1 sampling event per CPU at 100 Hz + uncore counting ({SCALING_CPUS_PER_PACKAGE} CPUs \
         per package), one hotplug driver, 32 openers, 1 ftrace toggler; {} simulated",
        Nanos(duration_ns)
    );
    let mut rows = Vec::new();
    for &cpus in &sizes {
        rows.push(measure("scaling", Workload::Scaling, cpus, duration_ns, args.runs)?);
    }
    if !args.no_targets {
        rows.extend(target_rows(args.runs)?);
    }
    let points: Vec<(f64, f64)> =
        rows.iter().filter(|r| r.workload == Workload::Scaling).map(|r| (f64::from(r.cpus), r.wall_s())).collect();
    let summary = summary(&rows, &points);
    out!("{summary}");
    let io = |e: analysis::OutputError| BadInput(e.to_string());
    let lines: Vec<ModelLine> =
        rows.into_iter().map(|row| ModelLine { row, commit: commit.clone(), threads }).collect();
    staged.write("model.csv", csv_text(&MODEL_COLUMNS, &lines)).map_err(io)?;
    staged
        .write("summary.txt", format!("commit {commit}, {threads} host threads, load {load:.2}\n{summary}"))
        .map_err(io)?;
    let title = format!("Wall time vs CPUs, scaling workload ({})", Nanos(duration_ns));
    let svg = analysis::plots::wall_time_vs_cpus(&title, &points)?;
    staged.write("wall_vs_cpus.svg", svg).map_err(io)?;
    let dir = staged.commit().map_err(io)?;
    outln!("wrote {}", dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phold_csv_is_the_column_names_then_one_line_of_their_fields() {
        let config = PholdConfig { lps: 8, pop: 2, events: 100, seed: 3 };
        let line =
            PholdLine { commit: "abc".into(), threads: 2, load: 0.5, config, runs: 1, engine: 3e6, baseline: 2e6 };
        assert_eq!(
            csv_text(&PHOLD_COLUMNS, &[line]),
            "commit,host_threads,load_1m,lps,pop,events,seed,runs,engine_events_per_s,baseline_events_per_s,\
             engine_over_baseline\nabc,2,0.50,8,2,100,3,1,3000000,2000000,1.5000\n"
        );
    }

    #[test]
    fn log_log_slope_of_a_power_law_is_its_exponent() {
        let points: Vec<(f64, f64)> = [64.0, 512.0, 4096.0].iter().map(|&n: &f64| (n, 3e-6 * n.powf(1.3))).collect();
        assert!((log_log_slope(&points).unwrap() - 1.3).abs() < 1e-9);
        assert_eq!(log_log_slope(&points[..1]), None);
    }

    #[test]
    fn n_log_n_slope_is_a_little_above_one() {
        // n log2 n from 64 to 65,536: ×1024 in n and ×16/6 in log2 n.
        let expected = 1.0 + (16.0f64 / 6.0).ln() / 1024f64.ln();
        assert!((n_log_n_slope(64.0, 65536.0) - expected).abs() < 1e-12);
    }
}
