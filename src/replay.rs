//! `cpuhpsim replay`: reproduce one run bit for bit from a row's replay command or from a
//! results directory's `manifest.json`, optionally with a trace.

use std::path::PathBuf;

use analysis::workloads::command::{Source, shell_word};
use analysis::workloads::plan::Plan;
use analysis::workloads::scenario::Scenario;
use analysis::workloads::value::Value;
use anyhow::Result;
use clap::{Args, Parser};

use crate::BadInput;
use crate::run::{RunArgs, Summary, run_to_dir};

/// Reproduce one run: `cpuhpsim replay cpuhpsim run …` (a runs.csv replay command), or
/// `cpuhpsim replay --manifest DIR/manifest.json [--seed S | --run INDEX]`.
#[derive(Args)]
pub struct ReplayArgs {
    /// A results directory's manifest.json.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// With a run's manifest: the seed to run [default: the manifest's].
    #[arg(long)]
    seed: Option<u64>,
    /// With a sweep's manifest: the run index (the row of runs.csv, from 0).
    #[arg(long)]
    run: Option<u64>,
    /// Write a Chrome/Perfetto trace of the run to this file.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// The trace keeps the run's last EVENTS events [default: the pasted command's, else 1000000].
    #[arg(long, value_name = "EVENTS", value_parser = clap::value_parser!(u64).range(1..=crate::run::MAX_TRACE_LIMIT))]
    trace_limit: Option<u64>,
    #[arg(long, value_name = "DIR", help = "Output directory [default: results/replay, or a pasted command's --out]")]
    out: Option<PathBuf>,
    /// Replace the output directory if it exists.
    #[arg(long)]
    force: bool,
    /// A replay command from runs.csv, e.g. `cpuhpsim run --preset default --scheme legacy …`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
struct ReplayedRun {
    #[command(subcommand)]
    run: Replayed,
}

#[derive(clap::Subcommand)]
enum Replayed {
    Run(RunArgs),
}

pub fn replay(args: &ReplayArgs) -> Result<()> {
    if !args.command.is_empty() {
        // One quoted argument holding the whole command (`replay "cpuhpsim run …"`) splits as a
        // shell would; separate words are taken as they are.
        let words = match args.command.as_slice() {
            [one] if one.contains(' ') => {
                shlex::split(one).ok_or_else(|| BadInput(format!("replay command: unbalanced quotes in {one}")))?
            }
            words => words.to_vec(),
        };
        let words = words.iter().skip_while(|w| w.as_str() == "cpuhpsim");
        let parsed = ReplayedRun::try_parse_from(words).map_err(|e| {
            BadInput(format!("replay command: {}", e.render().to_string().lines().next().unwrap_or("")))
        })?;
        let Replayed::Run(run) = parsed.run;
        let plan = run.plan()?;
        let replay = plan.replay(0).to_string();
        // replay's own --out and --trace win; the pasted command's are honoured otherwise.
        let out = args.out.clone().or(run.out).unwrap_or_else(default_out);
        let trace = crate::run::trace_target(
            args.trace.as_deref().or(run.trace.as_deref()),
            args.trace_limit.or(run.trace_limit),
        )?;
        return run_to_dir(&plan, 0, 0, &replay, &out, args.force || run.force, trace, Summary::Text).map(drop);
    }
    let path = args
        .manifest
        .as_ref()
        .ok_or_else(|| BadInput("replay: give a replay command or --manifest DIR/manifest.json".into()))?;
    let text = std::fs::read_to_string(path).map_err(|e| BadInput(format!("--manifest {}: {e}", path.display())))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| BadInput(format!("--manifest {}: {e}", path.display())))?;
    let version = manifest["version"].as_str().unwrap_or("unknown");
    if version != env!("CARGO_PKG_VERSION") {
        errln!(
            "warning: {} was written by cpuhpsim {version}, this is {}; results may differ",
            path.display(),
            env!("CARGO_PKG_VERSION")
        );
    }
    warn_if_other_build(path, &manifest["build"]);
    let bad = |what: &str| BadInput(format!("--manifest {}: {what}", path.display()));
    if manifest.get("scenario").is_some() {
        let mut scenario: Scenario =
            serde_json::from_value(manifest["scenario"].clone()).map_err(|e| bad(&format!("scenario: {e}")))?;
        if let Some(seed) = args.seed {
            scenario.run.seed = seed;
        }
        let seed = scenario.run.seed;
        let plan = Plan::of_scenario(scenario).map_err(|e| bad(&e.to_string()))?;
        let replay = format!("cpuhpsim replay --manifest {} --seed {seed}", shell_word(&path.to_string_lossy()));
        let out = args.out.clone().unwrap_or_else(default_out);
        return run_to_dir(&plan, 0, 0, &replay, &out, args.force, own_trace(args)?, Summary::Text).map(drop);
    }
    let index = args.run.ok_or_else(|| bad("a sweep's manifest needs --run INDEX (a row of its runs.csv)"))?;
    let plan = sweep_plan(&manifest).map_err(|e| bad(&e))?;
    if index >= plan.run_count() {
        return Err(bad(&format!("--run {index}: the sweep has {} runs", plan.run_count())).into());
    }
    let replay = plan.replay(index).to_string();
    let out = args.out.clone().unwrap_or_else(default_out);
    run_to_dir(&plan, index, index, &replay, &out, args.force, own_trace(args)?, Summary::Text).map(drop)
}

fn default_out() -> PathBuf {
    PathBuf::from("results/replay")
}

/// The plan a sweep's manifest embeds: its base scenario's text, overrides, axes and seeds.
/// Manifests from before the text was embedded fall back to reading the source again.
fn sweep_plan(manifest: &serde_json::Value) -> Result<Plan, String> {
    let source = manifest["source"].as_str().ok_or("no source")?;
    let source = Source::from_manifest_text(source).ok_or_else(|| format!("unknown source `{source}`"))?;
    let base_text = match manifest["base_text"].as_str() {
        Some(text) => text.to_string(),
        None => source.read().map_err(|e| format!("its scenario: {e}"))?,
    };
    let typed = |(key, value): (String, String)| (key, Value::parse(&value));
    let fixed: Vec<(String, String)> = serde_json::from_value(manifest["fixed"].clone()).map_err(|e| e.to_string())?;
    let axes: Vec<(String, Vec<String>)> =
        serde_json::from_value(manifest["axes"].clone()).map_err(|e| e.to_string())?;
    let seeds = analysis::sweep::seeds_from_json(&manifest["seeds"])?;
    let fixed = fixed.into_iter().map(typed).collect();
    let axes = axes.into_iter().map(|(key, values)| (key, values.iter().map(|v| Value::parse(v)).collect())).collect();
    Plan::sweep(source, base_text, fixed, axes, seeds, None).map_err(|e| e.to_string())
}

/// Warns when a manifest was written by a build of another commit, or of a dirty tree (whose
/// code a commit id does not pin). Manifests older than the `build` field say nothing.
fn warn_if_other_build(path: &std::path::Path, build: &serde_json::Value) {
    let Some(commit) = build["commit"].as_str() else { return };
    let here = analysis::BUILD_COMMIT;
    if commit != here {
        errln!(
            "warning: {} was written by cpuhpsim built from commit {commit}, this build is from {here}; \
             results may differ",
            path.display()
        );
    } else if build["dirty"].as_bool() != Some(false) || analysis::BUILD_DIRTY != "false" {
        errln!(
            "warning: {} and this build are from commit {commit}, but one of them had uncommitted \
             changes; results may differ",
            path.display()
        );
    }
}

/// Replay's own `--trace`, with its `--trace-limit` or the default.
fn own_trace(args: &ReplayArgs) -> anyhow::Result<Option<(&std::path::Path, u64)>> {
    crate::run::trace_target(args.trace.as_deref(), args.trace_limit)
}
