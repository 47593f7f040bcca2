//! `cpuhpsim run`: one scenario, one seed; a short summary on the terminal and the result files.

use std::path::PathBuf;

use analysis::lock_stat::{LockRow, write_locks_csv};
use analysis::output_dir::StagedDir;
use analysis::runs::{deadlocks_text, quantile, write_runs_csv};
use analysis::sim::time::format_ns;
use analysis::sweep::variant_label;
use analysis::workloads::presets::{preset_text, resolve};
use analysis::workloads::run::{RunResult, run_with_trace};
use analysis::workloads::scenario::Scenario;
use anyhow::Result;
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
    /// Output directory.
    #[arg(long, default_value = "results/run")]
    pub out: PathBuf,
    /// Replace the output directory if it exists.
    #[arg(long)]
    pub force: bool,
    /// Also write a Chrome/Perfetto trace of the run (tasks' ops, lock holds and waits; CPUs'
    /// hotplug) to this file; open it at ui.perfetto.dev or chrome://tracing.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
}

/// The scenario the arguments describe, and the overrides applied, in a stable order.
pub fn resolve_scenario(args: &RunArgs) -> Result<(Scenario, Vec<(String, String)>)> {
    let text = match &args.scenario {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| BadInput(format!("--scenario {}: cannot read it: {e}", path.display())))?,
        None => preset_text(&args.preset).map_err(|e| BadInput(e.to_string()))?.to_string(),
    };
    let mut overrides = set_pairs(&args.set)?;
    let named = [
        ("scheme.name", &args.scheme),
        ("machine.cpus", &args.cpus),
        ("run.seed", &args.seed),
        ("run.duration", &args.duration),
    ];
    for (key, value) in named {
        if let Some(value) = value {
            let value =
                if key == "scheme.name" || key == "run.duration" { format!("\"{value}\"") } else { value.clone() };
            overrides.push((key.to_string(), value));
        }
    }
    if args.stop_on_deadlock {
        overrides.push(("run.stop_on_deadlock".into(), "true".into()));
    }
    let scenario = resolve(&text, &overrides).map_err(|e| {
        let flag = match e.key.as_str() {
            "scheme.name" if args.scheme.is_some() => "--scheme (scheme.name)".to_string(),
            "machine.cpus" if args.cpus.is_some() => "--cpus (machine.cpus)".to_string(),
            "run.seed" if args.seed.is_some() => "--seed (run.seed)".to_string(),
            "run.duration" if args.duration.is_some() => "--duration (run.duration)".to_string(),
            key => key.to_string(),
        };
        BadInput(format!("{flag}: {}", e.message))
    })?;
    Ok((scenario, overrides))
}

/// The command that reproduces a run of `scenario` exactly.
pub fn replay_command(args: &RunArgs, scenario: &Scenario) -> String {
    let source = match &args.scenario {
        Some(path) => format!("--scenario {}", path.display()),
        None => format!("--preset {}", args.preset),
    };
    let mut cmd = format!(
        "cpuhpsim run {source} --scheme {} --cpus {} --seed {} --duration {}",
        scenario.scheme.name, scenario.machine.cpus, scenario.run.seed, scenario.run.duration
    );
    for item in &args.set {
        cmd.push_str(&format!(" --set {}", item.replace(' ', "")));
    }
    if scenario.run.stop_on_deadlock {
        cmd.push_str(" --stop-on-deadlock");
    }
    cmd
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
        "command": command,
        "seeds": seeds,
        "scenario": scenario,
    });
    serde_json::to_string_pretty(&value).expect("manifest serialises") + "\n"
}

pub fn run_command(args: &RunArgs) -> Result<()> {
    let (scenario, _) = resolve_scenario(args)?;
    let replay = replay_command(args, &scenario);
    let label = variant_label(&scenario.scheme.name, &set_pairs(&args.set)?);
    run_to_dir(&scenario, &label, 0, &replay, &args.out, args.force, args.trace.as_deref())
}

/// `--set KEY=VALUE` options as `(key, value)`, in order.
pub fn set_pairs(items: &[String]) -> Result<Vec<(String, String)>, BadInput> {
    items
        .iter()
        .map(|item| {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| BadInput(format!("--set {item}: expected KEY=VALUE, e.g. machine.cpus=64")))?;
            Ok((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

/// Runs `scenario` as run `run_index`, prints its summary and writes its directory (and trace).
pub fn run_to_dir(
    scenario: &Scenario,
    label: &str,
    run_index: u64,
    replay: &str,
    out: &std::path::Path,
    force: bool,
    trace: Option<&std::path::Path>,
) -> Result<()> {
    let staged = StagedDir::create(out, force).map_err(|e| BadInput(format!("--out {}: {e}", out.display())))?;
    if let Some(path) = trace
        && path.parent().is_some_and(|p| !p.as_os_str().is_empty() && !p.is_dir())
    {
        return Err(BadInput(format!("--trace {}: its directory does not exist", path.display())).into());
    }
    let (mut result, timeline) =
        run_with_trace(scenario, run_index, trace.is_some()).map_err(|e| BadInput(e.to_string()))?;
    result.scheme = label.to_string();
    let replay = replay.to_string();
    let scenario = scenario.clone();
    print!("{}", summary(&result, &replay));
    let rows = [(&result, replay.clone())];
    let io = |e: analysis::OutputError| BadInput(e.to_string());
    write_runs_csv(staged.file("runs.csv").map_err(io)?, &rows).map_err(io)?;
    let lock_rows: Vec<LockRow<'_>> = result
        .locks
        .iter()
        .map(|(class, stat)| LockRow { scheme: &result.scheme, cpus: result.cpus, class, stat })
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
    let dir = staged.commit().map_err(io)?;
    println!("wrote {}", dir.display());
    if let (Some(path), Some(timeline)) = (trace, timeline) {
        std::fs::write(path, analysis::trace::chrome_trace(&timeline))
            .map_err(|e| BadInput(format!("--trace {}: {e}", path.display())))?;
        println!("trace: {} ({} spans)", path.display(), timeline.spans.len());
    }
    Ok(())
}
