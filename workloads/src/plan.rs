//! The resolved plan: what `run`, `sweep`, `replay` and the benches execute, built once from a
//! request (a preset or file, `--set` overrides, the options that name a key, seeds and grid).
//! Building it reads the base scenario once, types every value, validates every grid point,
//! compiles each point's scripts and names it; nothing downstream re-parses text.
//!
//! Run `i` of a plan is the same run whatever else the plan holds and however it is split: its
//! scenario depends only on its grid point and its seed.

use std::path::PathBuf;

use crate::command::{RunCommand, Source, SweepCommand};
use crate::error::ScenarioError;
use crate::presets::preset_text;
use crate::run::Prepared;
use crate::scenario::Scenario;
use crate::schemes::SchemeKind;
use crate::sweep::{MAX_GRID_POINTS, MAX_SWEEP_RUNS, Seeds};
use crate::value::Value;

/// Keys that have options of their own in a replay command, so labels and `--set` lists skip them.
const NAMED_KEYS: [&str; 4] = ["scheme.name", "machine.cpus", "run.seed", "run.duration"];

/// What the user asked for, before anything is parsed: one `cpuhpsim run`.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub source: Source,
    /// `KEY=VALUE` items, in order.
    pub sets: Vec<String>,
    pub scheme: Option<String>,
    pub cpus: Option<String>,
    pub seed: Option<String>,
    pub duration: Option<String>,
    pub stop_on_deadlock: bool,
}

impl RunRequest {
    /// A run of `source` as it is.
    pub fn of(source: Source) -> RunRequest {
        RunRequest {
            source,
            sets: Vec::new(),
            scheme: None,
            cpus: None,
            seed: None,
            duration: None,
            stop_on_deadlock: false,
        }
    }
}

/// What the user asked for, before anything is parsed: one `cpuhpsim sweep`.
#[derive(Clone, Debug)]
pub struct SweepRequest {
    pub source: Source,
    pub schemes: Vec<String>,
    pub cpus: Vec<String>,
    /// `KEY=V1,V2,…` items, in order: one value fixes a key, several sweep it.
    pub sets: Vec<String>,
    /// A count (`16`, derived from `master_seed`) or an inclusive range (`1..200`).
    pub seeds: String,
    pub master_seed: u64,
    pub duration: Option<String>,
}

/// A request option that names one scenario key, so errors about that key can name the option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shorthand {
    Scheme,
    /// A sweep's list of schemes.
    Schemes,
    Cpus,
    Seed,
    Duration,
    StopOnDeadlock,
}

impl Shorthand {
    /// The scenario key it sets.
    pub fn key(self) -> &'static str {
        match self {
            Shorthand::Scheme | Shorthand::Schemes => "scheme.name",
            Shorthand::Cpus => "machine.cpus",
            Shorthand::Seed => "run.seed",
            Shorthand::Duration => "run.duration",
            Shorthand::StopOnDeadlock => "run.stop_on_deadlock",
        }
    }
}

/// Why a request cannot become a plan. Each variant says which part of the request is wrong;
/// the CLI turns that into the option the user typed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{}: cannot read it: {error}", path.display())]
    ReadScenario { path: PathBuf, error: std::io::Error },
    #[error("{}: larger than {} bytes; a scenario file is a few kilobytes of TOML", path.display(), MAX_SCENARIO_BYTES)]
    ScenarioTooLarge { path: PathBuf },
    #[error("no preset `{name}`; presets: {}", known.join(", "))]
    UnknownPreset { name: String, known: Vec<&'static str> },
    #[error("{item}: expected {expected}")]
    BadSetting { item: String, expected: &'static str },
    #[error("`{key}` is not a key; keys are dotted, like machine.cpus")]
    BadKey { key: String },
    #[error("unknown scheme `{name}`; schemes: {}", SchemeKind::ALL.map(|k| k.name()).join(", "))]
    UnknownScheme { name: String },
    #[error("{0}")]
    Seeds(String),
    /// A scenario key's value is wrong; `shorthand` is the option that set it, if one did.
    #[error("{error}")]
    Scenario { error: ScenarioError, shorthand: Option<Shorthand> },
    /// The same key set twice: which value was meant is not for the tool to guess.
    #[error("{key} is set twice")]
    Repeated { key: String },
    /// A key set both by an option that names it and by `--set`.
    #[error("{} is set both by an option of its own and as a setting", shorthand.key())]
    Conflict { shorthand: Shorthand },
    /// A manifest does not describe a plan this version can rebuild.
    #[error("{0}")]
    Manifest(String),
}

impl From<ScenarioError> for PlanError {
    fn from(error: ScenarioError) -> PlanError {
        PlanError::Scenario { error, shorthand: None }
    }
}

/// One point of the grid: its assignments, its validated scenario (the base's seed), its label
/// in results and its compiled scripts.
#[derive(Clone, Debug)]
pub struct GridPoint {
    pub index: u64,
    pub assignments: Vec<(String, Value)>,
    pub scenario: Scenario,
    /// The scheme and every option set on it (`pmus-lock free_outside_ctx_mutex=true`).
    pub label: String,
    pub prepared: Prepared,
}

/// One run: which grid point, which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedRun {
    pub index: u64,
    pub point: u64,
    pub seed: u64,
}

/// A resolved, validated request: its grid points × its seeds, in run order.
#[derive(Clone, Debug)]
pub struct Plan {
    pub source: Source,
    /// The base scenario's TOML as read once (a preset's or the file's); manifests embed it.
    pub base_text: String,
    /// Overrides applied to every run.
    pub fixed: Vec<(String, Value)>,
    /// Grid axes, outermost first: each key with the values it takes.
    pub axes: Vec<(String, Vec<Value>)>,
    /// A run request's options that name a key, applied after `fixed`.
    pub shorthands: Vec<(Shorthand, Value)>,
    pub seeds: Seeds,
    pub points: Vec<GridPoint>,
    /// A sweep's canonical command; `None` for a single run.
    pub sweep_command: Option<SweepCommand>,
}

/// Refuses a key set twice, or set both as a setting and by one of `shorthands`.
fn check_unique<'a>(
    keys: impl IntoIterator<Item = &'a str>,
    shorthands: impl IntoIterator<Item = Shorthand>,
) -> Result<(), PlanError> {
    let mut seen = std::collections::BTreeSet::new();
    for key in keys {
        if !seen.insert(key) {
            return Err(PlanError::Repeated { key: key.to_string() });
        }
    }
    match shorthands.into_iter().find(|s| seen.contains(s.key())) {
        Some(shorthand) => Err(PlanError::Conflict { shorthand }),
        None => Ok(()),
    }
}

/// `KEY=VALUE` split at the first `=`, both sides trimmed; `expected` says what a setting
/// looks like where this one is wrong.
fn split_setting<'a>(item: &'a str, expected: &'static str) -> Result<(String, &'a str), PlanError> {
    let (key, value) =
        item.split_once('=').ok_or_else(|| PlanError::BadSetting { item: item.to_string(), expected })?;
    let key = key.trim();
    if key.split('.').any(str::is_empty) {
        return Err(PlanError::BadKey { key: key.to_string() });
    }
    Ok((key.to_string(), value.trim()))
}

impl Source {
    /// The source's TOML text.
    pub fn read(&self) -> Result<String, PlanError> {
        match self {
            Source::Preset(name) => preset_text(name).map(str::to_string),
            Source::File(path) => read_scenario_file(path),
        }
    }
}

/// Largest scenario file read: far past any real one, and a bound for `/dev/zero` or a log
/// given by mistake.
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// Reads a scenario file, at most [`MAX_SCENARIO_BYTES`], as UTF-8.
fn read_scenario_file(path: &std::path::Path) -> Result<String, PlanError> {
    use std::io::Read;
    let read_error = |error| PlanError::ReadScenario { path: path.to_path_buf(), error };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_SCENARIO_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(PlanError::ScenarioTooLarge { path: path.to_path_buf() });
    }
    String::from_utf8(bytes)
        .map_err(|e| read_error(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text ({e})"))))
}

impl Plan {
    /// The plan of one `cpuhpsim run`.
    pub fn for_run(request: &RunRequest) -> Result<Plan, PlanError> {
        let base_text = request.source.read()?;
        let mut fixed = Vec::new();
        for item in &request.sets {
            let (key, value) = split_setting(item, "KEY=VALUE, e.g. machine.cpus=64")?;
            fixed.push((key, Value::parse(value)));
        }
        let mut shorthands = Vec::new();
        let named = [
            (Shorthand::Scheme, &request.scheme),
            (Shorthand::Cpus, &request.cpus),
            (Shorthand::Seed, &request.seed),
            (Shorthand::Duration, &request.duration),
        ];
        for (shorthand, value) in named {
            if let Some(value) = value {
                let value = match shorthand {
                    Shorthand::Scheme | Shorthand::Duration => Value::text(value),
                    _ => Value::parse(value),
                };
                shorthands.push((shorthand, value));
            }
        }
        if request.stop_on_deadlock {
            shorthands.push((Shorthand::StopOnDeadlock, Value(toml::Value::Boolean(true))));
        }
        check_unique(fixed.iter().map(|(k, _)| k.as_str()), shorthands.iter().map(|(s, _)| *s))?;
        let mut plan = Plan {
            source: request.source.clone(),
            base_text,
            fixed,
            axes: Vec::new(),
            shorthands,
            seeds: Seeds::Literal(Vec::new()),
            points: Vec::new(),
            sweep_command: None,
        };
        plan.points = plan.grid()?;
        plan.seeds = Seeds::Literal(vec![plan.points[0].scenario.run.seed]);
        Ok(plan)
    }

    /// The plan of one `cpuhpsim sweep`.
    pub fn for_sweep(request: &SweepRequest) -> Result<Plan, PlanError> {
        let base_text = request.source.read()?;
        let seeds = Seeds::parse(&request.seeds, request.master_seed).map_err(PlanError::Seeds)?;
        let (mut fixed, mut axes) = (Vec::new(), Vec::new());
        let sets: Vec<(String, &str)> =
            request.sets.iter().map(|item| split_setting(item, "KEY=V1,V2")).collect::<Result<_, _>>()?;
        let flags = [
            (!request.schemes.is_empty()).then_some(Shorthand::Schemes),
            (!request.cpus.is_empty()).then_some(Shorthand::Cpus),
            request.duration.is_some().then_some(Shorthand::Duration),
        ];
        check_unique(sets.iter().map(|(k, _)| k.as_str()), flags.into_iter().flatten())?;
        if let Some(name) = request.schemes.iter().find(|name| SchemeKind::parse(name).is_none()) {
            return Err(PlanError::UnknownScheme { name: name.clone() });
        }
        if !request.schemes.is_empty() {
            axes.push(("scheme.name".to_string(), request.schemes.iter().map(|s| Value::text(s)).collect()));
        }
        for (key, values) in sets {
            let values: Vec<Value> = values.split(',').map(|v| Value::parse(v.trim())).collect();
            match <[Value; 1]>::try_from(values) {
                Ok([value]) => fixed.push((key, value)),
                Err(values) => axes.push((key, values)),
            }
        }
        if !request.cpus.is_empty() {
            axes.push(("machine.cpus".to_string(), request.cpus.iter().map(|c| Value::parse(c)).collect()));
        }
        if let Some(duration) = &request.duration {
            fixed.push(("run.duration".to_string(), Value::text(duration)));
        }
        let command = SweepCommand {
            source: request.source.clone(),
            schemes: request.schemes.clone(),
            sets: request.sets.iter().map(|s| s.replace(' ', "")).collect(),
            cpus: request.cpus.clone(),
            duration: request.duration.clone(),
            seeds: request.seeds.clone(),
            master_seed: request.master_seed,
        };
        Plan::sweep(request.source.clone(), base_text, fixed, axes, seeds, Some(command))
    }

    /// A sweep's plan from its parts (a request's, or a manifest's).
    pub fn sweep(
        source: Source,
        base_text: String,
        fixed: Vec<(String, Value)>,
        axes: Vec<(String, Vec<Value>)>,
        seeds: Seeds,
        sweep_command: Option<SweepCommand>,
    ) -> Result<Plan, PlanError> {
        let mut plan =
            Plan { source, base_text, fixed, axes, shorthands: Vec::new(), seeds, points: Vec::new(), sweep_command };
        plan.points = plan.grid()?;
        Ok(plan)
    }

    /// A plan of one run of a scenario given whole (a run's manifest), labelled by its scheme.
    /// Its source is unknown, so [`Plan::replay`] means nothing for it: the caller names the
    /// manifest it replays from instead.
    pub fn of_scenario(scenario: Scenario) -> Result<Plan, PlanError> {
        scenario.validate()?;
        let prepared = Prepared::new(&scenario)?;
        let point =
            GridPoint { index: 0, assignments: Vec::new(), label: scenario.scheme.name.clone(), prepared, scenario };
        let seeds = Seeds::Literal(vec![point.scenario.run.seed]);
        Ok(Plan {
            source: Source::Preset(String::new()),
            base_text: String::new(),
            fixed: Vec::new(),
            axes: Vec::new(),
            shorthands: Vec::new(),
            seeds,
            points: vec![point],
            sweep_command: None,
        })
    }

    /// Every grid point, validated, in order (the last axis varies fastest). The run count is
    /// checked before any point is built.
    fn grid(&self) -> Result<Vec<GridPoint>, PlanError> {
        let mut points_len: u64 = 1;
        for (key, values) in &self.axes {
            if values.is_empty() {
                return Err(ScenarioError::new(key.clone(), "no values to sweep").into());
            }
            points_len = points_len.saturating_mul(values.len() as u64);
        }
        if points_len > MAX_GRID_POINTS {
            return Err(ScenarioError::new(
                "sweep",
                format!(
                    "{points_len} grid points (the product of the numbers of swept values); at most \
                     {MAX_GRID_POINTS}, each holding about 1.4 MB of results: sweep fewer values, or split the \
                     grid into several sweeps"
                ),
            )
            .into());
        }
        let seeds = self.seeds.len().max(1);
        let total = points_len.saturating_mul(seeds);
        if total > MAX_SWEEP_RUNS {
            return Err(ScenarioError::new(
                "sweep",
                format!("{points_len} grid points × {seeds} seeds = {total} runs; at most {MAX_SWEEP_RUNS}"),
            )
            .into());
        }
        let mut points: Vec<Vec<(String, Value)>> = vec![Vec::new()];
        for (key, values) in &self.axes {
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((key.clone(), v.clone()));
                        q
                    })
                })
                .collect();
        }
        points.into_iter().enumerate().map(|(index, assignments)| self.point(index as u64, assignments)).collect()
    }

    fn point(&self, index: u64, assignments: Vec<(String, Value)>) -> Result<GridPoint, PlanError> {
        let mut overrides: Vec<(String, Value)> = self.fixed.iter().chain(&assignments).cloned().collect();
        overrides.extend(self.shorthands.iter().map(|(s, v)| (s.key().to_string(), v.clone())));
        let scenario = resolve_values(&self.base_text, &overrides).map_err(|error| {
            let shorthand = self.shorthands.iter().map(|(s, _)| *s).find(|s| s.key() == error.key);
            PlanError::Scenario { error, shorthand }
        })?;
        let prepared = Prepared::new(&scenario)?;
        let sets: Vec<&(String, Value)> = self.fixed.iter().chain(&assignments).collect();
        let label = label(&scenario.scheme.name, &sets);
        Ok(GridPoint { index, assignments, scenario, label, prepared })
    }

    pub fn run_count(&self) -> u64 {
        self.points.len() as u64 * self.seeds.len()
    }

    /// Run `index` of the plan.
    pub fn planned(&self, index: u64) -> PlannedRun {
        let seeds = self.seeds.len();
        PlannedRun { index, point: index / seeds, seed: self.seeds.get(index % seeds) }
    }

    /// The grid point of run `index`.
    pub fn point_of(&self, index: u64) -> &GridPoint {
        &self.points[self.planned(index).point as usize]
    }

    /// The scenario run `index` runs (its point's, with its seed).
    pub fn scenario(&self, index: u64) -> Scenario {
        let planned = self.planned(index);
        let mut scenario = self.points[planned.point as usize].scenario.clone();
        scenario.run.seed = planned.seed;
        scenario
    }

    /// The `cpuhpsim run` command that reproduces run `index` exactly.
    pub fn replay(&self, index: u64) -> RunCommand {
        let planned = self.planned(index);
        let point = &self.points[planned.point as usize];
        let s = &point.scenario;
        let sets: Vec<(String, Value)> = self
            .fixed
            .iter()
            .chain(&point.assignments)
            .filter(|(key, _)| !NAMED_KEYS.contains(&key.as_str()))
            .cloned()
            .collect();
        // A setting of the key already says it; the option as well would be a conflict.
        let stop_set = sets.iter().any(|(key, _)| key == Shorthand::StopOnDeadlock.key());
        RunCommand {
            source: self.source.clone(),
            scheme: s.scheme.name.clone(),
            cpus: s.machine.cpus,
            seed: planned.seed,
            duration: s.run.duration,
            sets,
            stop_on_deadlock: s.run.stop_on_deadlock && !stop_set,
        }
    }
}

/// A scheme's label in results: its name, then every other option set (key=value, the key
/// without its section when no other section has a key of that name), in the order a replay
/// command lists them. `run` and `sweep` label the same run alike.
fn label(scheme: &str, sets: &[&(String, Value)]) -> String {
    let mut label = scheme.to_string();
    for (key, value) in sets {
        if NAMED_KEYS.contains(&key.as_str()) {
            continue;
        }
        let short = key.rsplit('.').next().unwrap_or(key);
        let shown = if key_name_is_unique(short) { short } else { key.as_str() };
        label.push_str(&format!(" {shown}={}", value.bare()));
    }
    label
}

/// Whether exactly one section of the scenario has a key named `name` (`tasks` is in many).
fn key_name_is_unique(name: &str) -> bool {
    static SHARED: std::sync::OnceLock<std::collections::BTreeSet<String>> = std::sync::OnceLock::new();
    let shared = SHARED.get_or_init(|| {
        let mut seen = std::collections::BTreeMap::<String, usize>::new();
        for section in crate::scenario::default_table().values().filter_map(|v| v.as_table()) {
            for key in section.keys() {
                *seen.entry(key.clone()).or_default() += 1;
            }
        }
        seen.into_iter().filter(|&(_, n)| n > 1).map(|(k, _)| k).collect()
    });
    !shared.contains(name)
}

/// Applies typed `key = value` overrides (dotted keys) to a scenario's TOML, then parses and
/// validates the result as a scenario file would be.
pub fn resolve_values(text: &str, overrides: &[(String, Value)]) -> Result<Scenario, ScenarioError> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ScenarioError::new("TOML", e.to_string().trim_end().replace('\n', " ")))?;
    for (key, value) in overrides {
        let mut parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(ScenarioError::new(
                "scenario",
                format!("`{key}` is not a key; keys are dotted, like machine.cpus"),
            ));
        }
        let leaf = parts.pop().expect("split yields at least one part");
        let mut at = &mut table;
        for part in parts {
            let entry = at.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            at = entry
                .as_table_mut()
                .ok_or_else(|| ScenarioError::new(key.clone(), format!("`{part}` is not a table")))?;
        }
        at.insert(leaf.to_string(), value.0.clone());
    }
    Scenario::from_toml(&toml::to_string(&table).expect("a TOML table serialises"))
}
