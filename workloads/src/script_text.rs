//! Scripts in their text form: printing a scheme's scripts, and reading a scenario's own,
//! checked to be balanced.

use sim::script::Step;
use sim::script::text::{ClassInfo, parse_steps, print_steps, verify_balanced_text};

use crate::scenario::ScenarioError;
use crate::schemes::CLASSES;

fn classes() -> Vec<ClassInfo<'static>> {
    CLASSES.iter().map(|&(name, _, layout)| ClassInfo { name, layout }).collect()
}

/// A script in the text form scenario files use.
pub fn print(steps: &[Step]) -> String {
    print_steps(steps, &classes(), 0)
}

/// Parses the script `name` of a scenario's `[scheme.scripts]` and checks it is balanced.
pub fn parse_checked(name: &str, text: &str) -> Result<Vec<Step>, ScenarioError> {
    let key = format!("scheme.scripts.{name}");
    let steps = parse_steps(text, &classes()).map_err(|e| ScenarioError::new(&key, e.to_string()))?;
    let classes = classes();
    verify_balanced_text(&steps, &classes).map_err(|e| {
        ScenarioError::new(&key, format!("{e}; a script must release every lock it takes, and only those"))
    })?;
    check_pmu_list_steps(name, &steps).map_err(|e| ScenarioError::new(&key, e))?;
    Ok(steps)
}

/// `register_pmu` and `unregister_pmu` change the PMU list for the PMU churn is working on, so
/// each belongs exactly once, unconditionally, to its own operation and to no other: a
/// register that never lists the PMU, or lists it twice, leaves the churn task's next
/// unregister (or register) with nothing consistent to act on.
fn check_pmu_list_steps(name: &str, steps: &[Step]) -> Result<(), String> {
    for (step_name, op, is) in [
        ("register_pmu", "perf_pmu_register", (|s: &Step| matches!(s, Step::RegisterPmu { .. })) as fn(&Step) -> bool),
        ("unregister_pmu", "perf_pmu_unregister", |s: &Step| matches!(s, Step::UnregisterPmu)),
    ] {
        let top = steps.iter().filter(|s| is(s)).count();
        let all = count_steps(steps, is);
        if name == op && (top != 1 || all != 1) {
            return Err(format!(
                "{op} has {all} `{step_name}` steps ({top} outside blocks); it needs exactly 1, outside any block"
            ));
        }
        if name != op && all > 0 {
            return Err(format!("`{step_name}` is allowed only in {op}"));
        }
    }
    Ok(())
}

fn count_steps(steps: &[Step], is: fn(&Step) -> bool) -> usize {
    steps
        .iter()
        .map(|s| {
            let inner = match s {
                Step::Check { otherwise: body, .. }
                | Step::Repeat { body, .. }
                | Step::ForEachPmu { body, .. }
                | Step::ForEachHandoff { body } => count_steps(body, is),
                _ => 0,
            };
            usize::from(is(s)) + inner
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::{ContextLayout, Handoff, PerfCosts, SchemeKind, SchemeOptions, build};

    #[test]
    fn every_built_in_script_prints_parses_back_and_is_balanced() {
        for kind in SchemeKind::ALL {
            for free_outside_ctx_mutex in [false, true] {
                for handoff in [Handoff::Driver, Handoff::Core] {
                    let options = SchemeOptions {
                        kind,
                        free_outside_ctx_mutex,
                        context_layout: ContextLayout::PerPmu,
                        handoff,
                        pmu_dev_alloc: true,
                    };
                    for (name, steps) in build(&options, &PerfCosts::default()) {
                        let text = print(&steps);
                        assert_eq!(parse_checked(name, &text).as_ref(), Ok(&steps), "{}/{name}:\n{text}", kind.name());
                    }
                }
            }
        }
    }

    #[test]
    fn a_script_that_never_releases_is_rejected_naming_its_key() {
        let e = parse_checked("perf_event_open", "lock pmus_lock\nwork 1us\n").unwrap_err();
        assert_eq!(e.key, "scheme.scripts.perf_event_open");
        assert!(e.message.contains("never releases"), "{e}");
        assert!(e.message.contains("takes pmus_lock"), "{e}");
        let e = parse_checked("cpu_up", "unlock pmus_lock\n").unwrap_err();
        assert!(e.message.contains("unlocks pmus_lock, which is not held"), "{e}");
        let e = parse_checked("perf_pmu_register", "work 1us\n").unwrap_err();
        assert!(e.message.contains("0 `register_pmu` steps"), "{e}");
        let e = parse_checked("ftrace_toggle", "unregister_pmu\n").unwrap_err();
        assert!(e.message.contains("only in perf_pmu_unregister"), "{e}");
        let e = parse_checked("cpu_up", "lock pmu_lock\n").unwrap_err();
        assert!(e.message.contains("unknown lock class `pmu_lock`"), "{e}");
    }
}
