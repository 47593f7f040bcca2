//! Built-in scenarios, embedded in the binary as TOML (the files in `workloads/presets/`).

use crate::scenario::{Scenario, ScenarioError};

/// `(name, TOML)`; the first comment line of each file is its description.
pub const PRESETS: [(&str, &str); 8] = [
    ("default", include_str!("../presets/default.toml")),
    ("seed-comparison", include_str!("../presets/seed-comparison.toml")),
    ("storm", include_str!("../presets/storm.toml")),
    ("churn", include_str!("../presets/churn.toml")),
    ("stress", include_str!("../presets/stress.toml")),
    ("dev-alloc", include_str!("../presets/dev-alloc.toml")),
    ("scaling", include_str!("../presets/scaling.toml")),
    ("pmu-load", include_str!("../presets/pmu-load.toml")),
];

pub fn preset_text(name: &str) -> Result<&'static str, ScenarioError> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text).ok_or_else(|| {
        let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
        ScenarioError::new("--preset", format!("no preset `{name}`; presets: {}", names.join(", ")))
    })
}

pub fn description(text: &str) -> &str {
    text.lines().next().and_then(|l| l.strip_prefix("# ")).unwrap_or("")
}

/// Applies `key=value` overrides (dotted keys; values in TOML syntax, else taken as strings) to
/// a scenario's TOML, then parses and validates the result.
pub fn resolve(text: &str, overrides: &[(String, String)]) -> Result<Scenario, ScenarioError> {
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ScenarioError::new("TOML", e.to_string().trim_end().replace('\n', " ")))?;
    for (key, value) in overrides {
        let parsed: toml::Value = match format!("v = {value}").parse::<toml::Table>() {
            Ok(mut t) => t.remove("v").expect("the key just written"),
            Err(_) => toml::Value::String(value.clone()),
        };
        let mut parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(ScenarioError::new(
                "--set",
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
        at.insert(leaf.to_string(), parsed);
    }
    Scenario::from_toml(&toml::to_string(&table).expect("a TOML table serialises"))
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
