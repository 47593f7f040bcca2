//! Kernel releases as bundles of the scheme's facts: `[scheme] kernel = "4.15"` sets every
//! scheme key the scenario leaves unset to what that release does (docs/model.md §4.14).

use crate::error::ScenarioError;

/// The kernel releases a `kernel` key names, oldest first (docs/model.md §4.14).
pub const KERNELS: [&str; 7] = ["4.12", "4.13", "4.15", "6.2", "6.3", "6.12", "6.16"];

/// A release's facts as `[scheme]` keys: v4.13's, with what changed before and after it.
fn kernel_bundle(kernel: &str) -> Vec<(&'static str, toml::Value)> {
    use toml::Value::{Boolean, String as Text};
    let at_least = |v: &str| KERNELS.iter().position(|k| *k == kernel) >= KERNELS.iter().position(|k| *k == v);
    let text = |s: &str| Text(s.to_string());
    vec![
        // 4.13: cpu_hotplug_lock becomes a percpu_rwsem; 49dfe2a67797; the reordered static keys.
        ("hotplug_lock", text(if at_least("4.13") { "percpu-rwsem" } else { "refcount" })),
        ("cpuhp_lockdep_map", Boolean(at_least("4.13"))),
        ("jump_label_hotplug_first", Boolean(at_least("4.13"))),
        // 4.15: 82d94856fa22, 43fa87f7deed, efe951d3de91.
        ("free_outside_ctx_mutex", Boolean(at_least("4.15"))),
        ("set_filter_outside_ctx_mutex", Boolean(at_least("4.15"))),
        ("sw_sibling_init_unlocked", Boolean(at_least("4.15"))),
        ("ds_buffers_hotplug_lock", Boolean(!at_least("4.15"))),
        // 6.2: bd2756811766, one perf_cpu_context per CPU.
        ("context_layout", text(if at_least("6.2") { "per-cpu" } else { "per-pmu" })),
        // 6.3: b16809891292.
        ("migrate_sync_rcu", text(if at_least("6.3") { "when-moving" } else { "always" })),
        // 6.12: 4ba4f1afb6a9, scoped PMUs migrated by the core.
        ("handoff", text(if at_least("6.12") { "core" } else { "driver" })),
        // 6.16: f400565faa50, no CPUHP_PERF_PREPARE.
        ("perf_prepare_state", Boolean(!at_least("6.16"))),
    ]
}

/// `[scheme] kernel = "X"` fills every key of X's bundle that the scenario does not set
/// itself; the key stays, so the resolved scenario names both.
pub(crate) fn apply_kernel_bundle(table: &mut toml::Table) -> Result<(), ScenarioError> {
    let Some(scheme) = table.get_mut("scheme").and_then(toml::Value::as_table_mut) else { return Ok(()) };
    let kernel = match scheme.get("kernel") {
        None => return Ok(()),
        Some(toml::Value::String(s)) => s.clone(),
        // `--set scheme.kernel=4.15` reads as a number.
        Some(toml::Value::Float(f)) => format!("{f:?}"),
        Some(toml::Value::Integer(i)) => i.to_string(),
        Some(other) => {
            return Err(ScenarioError::new(
                "scheme.kernel",
                format!("{other} is not a release; allowed: {}", KERNELS.join(", ")),
            ));
        }
    };
    if !KERNELS.contains(&kernel.as_str()) {
        return Err(ScenarioError::new(
            "scheme.kernel",
            format!("\"{kernel}\" is not a bundled release; allowed: {}", KERNELS.join(", ")),
        ));
    }
    for (key, value) in kernel_bundle(&kernel) {
        scheme.entry(key).or_insert(value);
    }
    scheme.insert("kernel".into(), toml::Value::String(kernel));
    Ok(())
}
