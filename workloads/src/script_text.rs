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
    Ok(steps)
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
        let e = parse_checked("cpu_up", "lock pmu_lock\n").unwrap_err();
        assert!(e.message.contains("unknown lock class `pmu_lock`"), "{e}");
    }
}
