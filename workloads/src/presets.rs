//! Built-in scenarios, embedded in the binary as TOML (the files in `workloads/presets/`).

use crate::error::ScenarioError;
use crate::plan::{PlanError, resolve_values};
use crate::scenario::Scenario;
use crate::value::Value;

/// `(name, TOML)`; the first comment line of each file is its description.
pub const PRESETS: [(&str, &str); 11] = [
    ("default", include_str!("../presets/default.toml")),
    ("seed-comparison", include_str!("../presets/seed-comparison.toml")),
    ("storm", include_str!("../presets/storm.toml")),
    ("churn", include_str!("../presets/churn.toml")),
    ("stress", include_str!("../presets/stress.toml")),
    ("dev-alloc", include_str!("../presets/dev-alloc.toml")),
    ("scaling", include_str!("../presets/scaling.toml")),
    ("pmu-load", include_str!("../presets/pmu-load.toml")),
    ("server-2s", include_str!("../presets/server-2s.toml")),
    ("early-online", include_str!("../presets/early-online.toml")),
    ("experiment", include_str!("../presets/experiment.toml")),
];

pub fn preset_text(name: &str) -> Result<&'static str, PlanError> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text).ok_or_else(|| PlanError::UnknownPreset {
        name: name.to_string(),
        known: PRESETS.iter().map(|(n, _)| *n).collect(),
    })
}

pub fn description(text: &str) -> &str {
    text.lines().next().and_then(|l| l.strip_prefix("# ")).unwrap_or("")
}

/// Applies `key=value` overrides (dotted keys; values in TOML syntax, else taken as strings) to
/// a scenario's TOML, then parses and validates the result.
pub fn resolve(text: &str, overrides: &[(String, String)]) -> Result<Scenario, ScenarioError> {
    let typed: Vec<(String, Value)> = overrides.iter().map(|(k, v)| (k.clone(), Value::parse(v))).collect();
    resolve_values(text, &typed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_a_valid_scenario_with_a_description() {
        for (name, text) in PRESETS {
            Scenario::from_toml(text).unwrap_or_else(|e| panic!("preset {name}: {e}"));
            assert!(!description(text).is_empty(), "preset {name} has no description");
        }
    }

    #[test]
    fn overrides_are_validated_like_files() {
        let text = preset_text("default").unwrap();
        let s =
            resolve(text, &[("machine.cpus".into(), "64".into()), ("hotplug.interval".into(), "5ms".into())]).unwrap();
        assert_eq!(s.machine.cpus, 64);
        assert_eq!(s.hotplug.interval.0, 5_000_000);
        let e = resolve(text, &[("machine.cpus".into(), "0".into())]).unwrap_err();
        assert_eq!(e.key, "machine.cpus");
        let e = resolve(text, &[("machine.cores".into(), "8".into())]).unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
    }
}
