//! `cpuhpsim replay`: reproduce one run bit for bit from a row's replay command or from a
//! results directory's `manifest.json`, optionally with a trace.

use std::path::PathBuf;

use analysis::workloads::presets::preset_text;
use analysis::workloads::scenario::Scenario;
use analysis::workloads::sweep::{Seeds, SweepSpec};
use anyhow::Result;
use clap::{Args, Parser};

use crate::BadInput;
use crate::run::{RunArgs, replay_command, resolve_scenario, run_to_dir, set_pairs};
use analysis::sweep::{label, variant_label};

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
    /// Output directory.
    #[arg(long, default_value = "results/replay")]
    out: PathBuf,
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
        let words = args.command.iter().skip_while(|w| w.as_str() == "cpuhpsim");
        let parsed = ReplayedRun::try_parse_from(words).map_err(|e| {
            BadInput(format!("replay command: {}", e.render().to_string().lines().next().unwrap_or("")))
        })?;
        let Replayed::Run(run) = parsed.run;
        let (scenario, _) = resolve_scenario(&run)?;
        let replay = replay_command(&run, &scenario);
        let label = variant_label(&scenario.scheme.name, &set_pairs(&run.set)?);
        return run_to_dir(&scenario, &label, 0, &replay, &args.out, args.force, args.trace.as_deref());
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
        eprintln!(
            "warning: {} was written by cpuhpsim {version}, this is {}; results may differ",
            path.display(),
            env!("CARGO_PKG_VERSION")
        );
    }
    let bad = |what: &str| BadInput(format!("--manifest {}: {what}", path.display()));
    let (scenario, label, run_index, replay) = if manifest.get("scenario").is_some() {
        let mut scenario: Scenario =
            serde_json::from_value(manifest["scenario"].clone()).map_err(|e| bad(&format!("scenario: {e}")))?;
        if let Some(seed) = args.seed {
            scenario.run.seed = seed;
        }
        scenario.validate().map_err(|e| bad(&e.to_string()))?;
        let replay = format!("cpuhpsim replay --manifest {} --seed {}", path.display(), scenario.run.seed);
        let label = scenario.scheme.name.clone();
        (scenario, label, 0, replay)
    } else {
        let index = args.run.ok_or_else(|| bad("a sweep's manifest needs --run INDEX (a row of its runs.csv)"))?;
        let source = manifest["source"].as_str().ok_or_else(|| bad("no source"))?.to_string();
        let base_text = match source.strip_prefix("--preset ") {
            Some(name) => preset_text(name).map_err(|e| bad(&e.to_string()))?.to_string(),
            None => {
                let file = source.strip_prefix("--scenario ").ok_or_else(|| bad("unknown source"))?;
                std::fs::read_to_string(file).map_err(|e| bad(&format!("its scenario {file}: {e}")))?
            }
        };
        let pairs =
            |v: &serde_json::Value| -> Vec<(String, String)> { serde_json::from_value(v.clone()).unwrap_or_default() };
        let axes: Vec<(String, Vec<String>)> =
            serde_json::from_value(manifest["axes"].clone()).map_err(|e| bad(&e.to_string()))?;
        let seeds: Vec<u64> = serde_json::from_value(manifest["seeds"].clone()).map_err(|e| bad(&e.to_string()))?;
        let spec =
            SweepSpec { base_text, source, fixed: pairs(&manifest["fixed"]), axes, seeds: Seeds::Literal(seeds) };
        let grid = spec.grid().map_err(|e| bad(&e.to_string()))?;
        if index >= spec.run_count(grid.len()) {
            return Err(bad(&format!("--run {index}: the sweep has {} runs", spec.run_count(grid.len()))).into());
        }
        let planned = spec.planned(index);
        let point = &grid[planned.point as usize];
        let mut scenario = point.scenario.clone();
        scenario.run.seed = planned.seed;
        (scenario, label(&spec, point), index, spec.replay_command(point, planned.seed))
    };
    run_to_dir(&scenario, &label, run_index, &replay, &args.out, args.force, args.trace.as_deref())
}
