//! `cpuhpsim schemes` and `cpuhpsim presets`: what is built in, and its full text.

use analysis::workloads::command::Source;
use analysis::workloads::plan::{Plan, PlanError, RunRequest, Shorthand};
use analysis::workloads::presets::{PRESETS, description, preset_text};
use analysis::workloads::run::scenario_scripts;
use analysis::workloads::scenario::SchemeSpec;
use analysis::workloads::schemes::SchemeKind;
use analysis::workloads::script_text;
use anyhow::Result;
use clap::Args;

use crate::BadInput;
use crate::run::bad_plan;

/// List the locking schemes, or print one's scripts as a scenario-file snippet.
#[derive(Args)]
pub struct SchemesArgs {
    /// Print this scheme's scripts in the text form a scenario's [scheme.scripts] takes.
    #[arg(long, value_name = "SCHEME")]
    print: Option<String>,
    /// Scheme options for --print, e.g. --set scheme.free_outside_ctx_mutex=true (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

/// List the built-in scenarios, or print one as TOML.
#[derive(Args)]
pub struct PresetsArgs {
    /// Print this preset's TOML.
    #[arg(long, value_name = "PRESET")]
    print: Option<String>,
}

pub fn schemes(args: &SchemesArgs) -> Result<()> {
    let Some(name) = &args.print else {
        for kind in SchemeKind::ALL {
            outln!("{:<18} {}", kind.name(), kind.summary());
        }
        outln!("\n`cpuhpsim schemes --print NAME` shows a scheme's scripts.");
        return Ok(());
    };
    let request = RunRequest {
        sets: args.set.clone(),
        scheme: Some(name.clone()),
        ..RunRequest::of(Source::Preset("default".into()))
    };
    let plan = Plan::for_run(&request).map_err(|e| match e {
        PlanError::Scenario { error, shorthand: Some(Shorthand::Scheme) } => {
            BadInput(format!("--print: {}", error.message))
        }
        e => bad_plan(e),
    })?;
    let scenario = &plan.points[0].scenario;
    let scripts = scenario_scripts(scenario).map_err(|e| BadInput(e.to_string()))?;
    outln!("# {name}: {}", SchemeKind::parse(name).map_or("", |k| k.summary()));
    outln!("# To define your own scheme, paste this into a scenario file and edit the scripts;");
    outln!("# the options are the ones these scripts were built with (docs/model.md §4.11).");
    let mine = SchemeSpec { name: format!("my-{name}"), base: Some(name.clone()), ..scenario.scheme.clone() };
    out!("[scheme]\n{}", mine.options_toml());
    outln!("\n[scheme.scripts]");
    for (op, steps) in &scripts {
        outln!("{op} = \"\"\"\n{}\"\"\"", script_text::print(steps));
    }
    Ok(())
}

pub fn presets(args: &PresetsArgs) -> Result<()> {
    match &args.print {
        Some(name) => out!("{}", preset_text(name).map_err(|e| BadInput(e.to_string()))?),
        None => {
            for (name, text) in PRESETS {
                outln!("{name:<16} {}", description(text));
            }
            outln!("\n`cpuhpsim presets --print NAME` shows a preset's TOML; unset keys take their defaults.");
        }
    }
    Ok(())
}
