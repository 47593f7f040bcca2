//! Scripts in their text form: printing a scheme's scripts, and reading a scenario's own,
//! checked to be balanced and to use only what their operation provides.

use sim::script::text::{
    ClassInfo, CounterInfo, Names, parse_steps_located, print_steps, step_text, verify_balanced_text,
    verify_placement_text,
};
use sim::script::{Mark, PlacementError, ScriptEnv, Step, nth_step};

use crate::error::ScenarioError;
use crate::schemes::{CLASSES, COUNTERS, op};

const CLASS_INFO: [ClassInfo<'static>; CLASSES.len()] = {
    let mut info = [ClassInfo { name: "", layout: sim::script::Layout::Global }; CLASSES.len()];
    let mut i = 0;
    while i < CLASSES.len() {
        info[i] = ClassInfo { name: CLASSES[i].0, layout: CLASSES[i].2 };
        i += 1;
    }
    info
};

const COUNTER_INFO: [CounterInfo<'static>; COUNTERS.len()] = {
    let mut info = [CounterInfo { name: "", layout: sim::script::CounterLayout::Global }; COUNTERS.len()];
    let mut i = 0;
    while i < COUNTERS.len() {
        info[i] = CounterInfo { name: COUNTERS[i].0, layout: COUNTERS[i].1 };
        i += 1;
    }
    info
};

/// The lock classes and counters scripts name.
pub const NAMES: Names<'static> = Names { classes: &CLASS_INFO, counters: &COUNTER_INFO, scripts: &op::NAMES };

/// A script in the text form scenario files use.
pub fn print(steps: &[Step]) -> String {
    print_steps(steps, &NAMES, 0)
}

/// The machine a scenario's scripts run on, as far as their checks need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptMachine {
    /// Possible CPUs.
    pub cpus: u32,
    /// PMU slots (core, uncore and churn).
    pub pmus: u32,
}

/// Parses the script `name` of a scenario's `[scheme.scripts]` and checks it: balanced, every
/// step where its operation and the interpreter allow it (see [`sim::script::verify_placement`]),
/// marks only in their hotplug operation, PMU list changes only where PMU churn expects them.
pub fn parse_checked(name: &str, text: &str, machine: ScriptMachine) -> Result<Vec<Step>, ScenarioError> {
    let key = format!("scheme.scripts.{name}");
    let classes = NAMES;
    let (steps, positions) =
        parse_steps_located(text, &classes).map_err(|e| ScenarioError::new(&key, e.to_string()))?;
    verify_balanced_text(&steps, &classes).map_err(|e| {
        ScenarioError::new(&key, format!("{e}; a script must release every lock it takes, and only those"))
    })?;
    let id = op::NAMES.iter().position(|n| *n == name).ok_or_else(|| {
        ScenarioError::new(&key, format!("no operation `{name}`; scripts exist for {}", op::NAMES.join(", ")))
    })?;
    let def = op::OPS[id];
    let kinds: Vec<_> = CLASSES.iter().map(|&(_, kind, _)| kind).collect();
    let counters: Vec<_> = COUNTERS.iter().map(|&(_, layout)| layout).collect();
    let env = ScriptEnv {
        name,
        cpu_arg: def.cpu_arg,
        pmu_arg: def.pmu_arg,
        event: def.event,
        cpus: machine.cpus,
        pmus: machine.pmus,
        kinds: &kinds,
        tracepoint_arg: def.tracepoint_arg,
        child_arg: def.child_arg,
        counters: &counters,
        kick: def.kicks,
    };
    let located = |e: PlacementError| {
        let step = nth_step(&steps, e.step).map_or_else(String::new, |s| format!("`{}` ", step_text(s, &classes)));
        let (line, column) = positions.get(e.step).copied().unwrap_or((0, 0));
        ScenarioError::new(&key, format!("line {line}, column {column}: {step}(step {}): {}", e.step, e.message))
    };
    verify_placement_text(&steps, &classes, &env).map_err(located)?;
    check_marks(name, def.marks, &steps).map_err(located)?;
    check_pmu_list_steps(name, &steps).map_err(|e| match e {
        ListError::Located(e) => located(e),
        ListError::Count(message) => ScenarioError::new(&key, message),
    })?;
    let installs = |s: &Step| matches!(s, Step::Ipi { handler: sim::script::IpiHandler::InstallEvent, .. });
    if def.event == sim::script::EventArg::New && count_steps(&steps, installs) == 0 {
        return Err(ScenarioError::new(
            &key,
            format!(
                "{name} never runs `ipi cpu install_event`: an open that returns success must install its \
                 event, or the run would count opens of events that are on no context"
            ),
        ));
    }
    if let Some(ap) = def.kicks {
        let kicks = count_steps(&steps, |s: &Step| matches!(s, Step::KickAp { .. }));
        if kicks != 1 {
            let ap = op::NAMES[ap as usize];
            return Err(ScenarioError::new(
                &key,
                format!(
                    "{name} has {kicks} `kick_ap` steps: it hands the AP states to cpuhp/N exactly once, \
                     with `kick_ap {ap}` (docs/model.md §4.1)"
                ),
            ));
        }
    }
    Ok(steps)
}

/// Marks are the invariant checks' bookkeeping (docs/model.md §6.1) and mean something only in their
/// hotplug operation: anywhere else they would switch those checks off or on at random.
fn check_marks(name: &str, allowed: &[Mark], steps: &[Step]) -> Result<(), PlacementError> {
    let mut at = 0;
    let mut found = None;
    visit(steps, &mut at, &mut |step, s| {
        if let Step::Mark(mark) = s
            && !allowed.contains(mark)
            && found.is_none()
        {
            found = Some((step, *mark));
        }
    });
    let Some((step, mark)) = found else { return Ok(()) };
    let home = op::OPS.iter().find(|d| d.marks.contains(&mark)).map_or("no operation", |d| d.name);
    let homes: Vec<String> = op::OPS
        .iter()
        .filter(|d| !d.marks.is_empty())
        .map(|d| {
            let marks: Vec<&str> = d.marks.iter().map(|&m| sim::script::text::mark_word(m)).collect();
            format!("{}: {}", d.name, marks.join(", "))
        })
        .collect();
    Err(PlacementError {
        step,
        message: format!(
            "marks are bookkeeping of the invariant checks; this one belongs to {home} only, not {name} ({})",
            homes.join("; ")
        ),
    })
}

/// Calls `f(step_number, step)` on every step in the order verification numbers them.
fn visit<'s>(steps: &'s [Step], at: &mut usize, f: &mut dyn FnMut(usize, &'s Step)) {
    for s in steps {
        f(*at, s);
        *at += 1;
        for body in s.blocks() {
            visit(body, at, f);
        }
    }
}

enum ListError {
    Located(PlacementError),
    Count(String),
}

/// `register_pmu` and `unregister_pmu` change the PMU list for the PMU churn is working on, so
/// each belongs exactly once, unconditionally, to its own operation and to no other: a
/// register that never lists the PMU, or lists it twice, leaves the churn task's next
/// unregister (or register) with nothing consistent to act on. For the same reason no `check`
/// may come before it: a failed check would end the operation without the list change.
fn check_pmu_list_steps(name: &str, steps: &[Step]) -> Result<(), ListError> {
    for (step_name, op, is) in [
        ("register_pmu", "perf_pmu_register", (|s: &Step| matches!(s, Step::RegisterPmu { .. })) as fn(&Step) -> bool),
        ("unregister_pmu", "perf_pmu_unregister", |s: &Step| matches!(s, Step::UnregisterPmu)),
    ] {
        let top = steps.iter().filter(|s| is(s)).count();
        let all = count_steps(steps, is);
        if name == op && (top != 1 || all != 1) {
            return Err(ListError::Count(format!(
                "{op} has {all} `{step_name}` steps ({top} outside blocks); it needs exactly 1, outside any block"
            )));
        }
        if name != op && all > 0 {
            return Err(ListError::Count(format!("`{step_name}` is allowed only in {op}")));
        }
        if name == op {
            let (mut at, mut list_at, mut first_check) = (0, None, None);
            visit(steps, &mut at, &mut |step, s| {
                if is(s) {
                    list_at = Some(step);
                } else if matches!(s, Step::Check { .. }) && list_at.is_none() && first_check.is_none() {
                    first_check = Some(step);
                }
            });
            if let Some(step) = first_check {
                return Err(ListError::Located(PlacementError {
                    step,
                    message: format!(
                        "a `check` before `{step_name}` could end {op} without it, and PMU churn would then act \
                         on a PMU list that never changed; put checks after `{step_name}`"
                    ),
                }));
            }
        }
    }
    Ok(())
}

fn count_steps(steps: &[Step], is: fn(&Step) -> bool) -> usize {
    steps
        .iter()
        .map(|s| usize::from(is(s)) + s.blocks().into_iter().map(|body| count_steps(body, is)).sum::<usize>())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::{ContextLayout, Handoff, MigrateSync, PerfCosts, SchemeKind, SchemeOptions, build};

    const MACHINE: ScriptMachine = ScriptMachine { cpus: 4, pmus: 3 };

    #[test]
    fn every_built_in_script_prints_parses_back_and_is_balanced() {
        for kind in SchemeKind::ALL {
            for v415 in [false, true] {
                for handoff in [Handoff::Driver, Handoff::Core] {
                    let options = SchemeOptions {
                        free_outside_ctx_mutex: v415,
                        set_filter_outside_ctx_mutex: v415,
                        sw_sibling_init_unlocked: v415,
                        ds_buffers_hotplug_lock: !v415,
                        migrate_sync_rcu: if v415 { MigrateSync::WhenMoving } else { MigrateSync::Always },
                        context_layout: ContextLayout::PerPmu,
                        handoff,
                        pmu_dev_alloc: true,
                        ..SchemeOptions::new(kind)
                    };
                    for (name, steps) in build(&options, &PerfCosts::default()) {
                        let text = print(&steps);
                        assert_eq!(
                            parse_checked(name, &text, MACHINE).as_ref(),
                            Ok(&steps),
                            "{}/{name}:\n{text}",
                            kind.name()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_script_that_never_releases_is_rejected_naming_its_key() {
        let e = parse_checked("perf_event_open", "lock pmus_lock\nwork 1us\n", MACHINE).unwrap_err();
        assert_eq!(e.key, "scheme.scripts.perf_event_open");
        assert!(e.message.contains("never releases"), "{e}");
        assert!(e.message.contains("takes pmus_lock"), "{e}");
        let e = parse_checked("cpu_up", "unlock pmus_lock\n", MACHINE).unwrap_err();
        assert!(e.message.contains("unlocks pmus_lock, which is not held"), "{e}");
        let e = parse_checked("perf_pmu_register", "work 1us\n", MACHINE).unwrap_err();
        assert!(e.message.contains("0 `register_pmu` steps"), "{e}");
        let e = parse_checked("ftrace_enable", "unregister_pmu\n", MACHINE).unwrap_err();
        assert!(e.message.contains("only in perf_pmu_unregister"), "{e}");
        let e = parse_checked("cpu_up", "lock pmu_lock\n", MACHINE).unwrap_err();
        assert!(e.message.contains("unknown lock class `pmu_lock`"), "{e}");
    }

    /// `(key, message)` of a rejected script, checked to be one line.
    fn misplaced(op: &str, text: &str) -> (String, String) {
        let e = parse_checked(op, text, MACHINE).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
        (e.key, e.message)
    }

    #[test]
    fn a_scenario_scheme_may_use_first_user_blocks_task_contexts_and_children() {
        let exit = "\
lock ctx->mutex[child]
lock event->child_mutex[task]
unlock event->child_mutex[task]
lock event_mutex
dec perf_refcount[tracepoint]
if zero perf_refcount[tracepoint] {
    lock tracepoints_mutex
    dec tp->funcs[tracepoint]
    unlock tracepoints_mutex
    synchronize_rcu
}
unlock event_mutex
unlock ctx->mutex[child]
";
        let steps = parse_checked("perf_event_exit_task", exit, MACHINE).expect("a valid child exit");
        assert_eq!(print(&steps), exit);
        let release = "\
lock ctx->mutex[task]
unlock ctx->mutex[task]
for_each_child {
    lock ctx->mutex[child]
    if one pmc_refcount {
        lock pmc_reserve_mutex
        dec pmc_refcount
        unlock pmc_reserve_mutex
    } else {
        dec pmc_refcount
    }
    unlock ctx->mutex[child]
}
";
        let steps = parse_checked("perf_event_release_task_tp", release, MACHINE).expect("a valid release");
        assert_eq!(print(&steps), release);
        let (_, message) = misplaced(
            "perf_event_release_task_tp",
            "if nonzero pmc_refcount {\n    lock pmc_reserve_mutex\n} else {\n}\nunlock pmc_reserve_mutex\n",
        );
        assert!(message.contains("the two branches of the `if` at step 0 leave different locks held"), "{message}");
    }

    #[test]
    fn misplaced_steps_are_rejected_naming_the_op_line_and_step() {
        let (key, message) = misplaced("cpu_down", "work 1ms\nfor_each_pmu {\n    ipi cpu install_event\n}\n");
        assert_eq!(key, "scheme.scripts.cpu_down");
        assert_eq!(
            message,
            "line 3, column 5: `ipi cpu install_event` (step 2): `install_event` programs the new event of an open, \
             and cpu_down has no event"
        );
        let cases = [
            (
                "ftrace_enable",
                "set usable[cpu]",
                "line 1, column 1: `set usable[cpu]` (step 0): `cpu` is the operation's CPU argument, and ftrace_enable has none",
            ),
            (
                "cpu_up",
                "lock dev->mutex[pmu]\nunlock dev->mutex[pmu]",
                "`lock dev->mutex[pmu]` (step 0): `pmu` is the operation's PMU argument, and cpu_up has none",
            ),
            (
                "cpu_up",
                "ipi 4 work 1us",
                "`ipi 4 work 1us` (step 0): CPU 4 does not exist: the machine has CPUs 0 to 3",
            ),
            (
                "cpu_down",
                "clear ctx_online[cpu, loop_pmu]",
                "`loop_pmu` is bound by `for_each_pmu` or `for_each_handoff`",
            ),
            (
                "cpu_down",
                "for_each_pmu {\n  lock cpuctx_mutex[lower, loop_pmu]\n  unlock cpuctx_mutex[lower, loop_pmu]\n}",
                "line 2, column 3: `lock cpuctx_mutex[lower, loop_pmu]` (step 1): `lower` is bound by `for_each_handoff`",
            ),
            ("cpu_down", "move_events", "`move_events` moves the handoff loop's PMU to its target"),
            (
                "perf_event_open",
                "inc perf_refcount[tracepoint]",
                "`inc perf_refcount[tracepoint]` (step 0): a per-tracepoint counter needs the operation's tracepoint, \
                 and perf_event_open has none",
            ),
            (
                "perf_event_release_task_tp",
                "lock ctx->mutex[child]\nunlock ctx->mutex[child]",
                "`lock ctx->mutex[child]` (step 0): `[child]` is the operation's inherited child, bound by \
                 `for_each_child`; perf_event_release_task_tp has none here",
            ),
            ("perf_event_open", "ipi cpu remove_events", "`remove_events` removes the loop PMU's events"),
            (
                "perf_event_open",
                "ipi cpu install_event\nipi cpu install_event",
                "line 2, column 1: `ipi cpu install_event` (step 1): a second `install_event`",
            ),
            ("perf_event_release", "ipi cpu install_event", "perf_event_release has one opened earlier"),
            (
                "ftrace_enable",
                "ipi this_cpu remove_event",
                "`remove_event` removes the operation's event, and ftrace_enable has none",
            ),
            (
                "driver_probe",
                "adopt_uncore",
                "`adopt_uncore` acts on the operation's CPU argument, and driver_probe has none",
            ),
            (
                "cpu_up",
                "lock pmus_lock read\nunlock pmus_lock",
                "`lock pmus_lock read` (step 0): `pmus_lock` is a mutex, taken exclusively",
            ),
            ("cpu_up", "lock pmus_srcu\nunlock pmus_srcu", "`pmus_srcu` is SRCU: readers write `lock pmus_srcu read`"),
            (
                "perf_pmu_unregister",
                "unregister_pmu\nsynchronize_srcu pmus_lock",
                "line 2, column 1: `synchronize_srcu pmus_lock` (step 1): `synchronize_srcu` waits for an SRCU class's readers; `pmus_lock` is a mutex",
            ),
            (
                "cpu_up",
                "repeat 2000 {\n  repeat 2000 {\n    set usable[cpu]\n  }\n}",
                "line 2, column 3: `repeat 2000` (step 1): this loop's body may run 4000000 times",
            ),
            (
                "perf_event_open",
                "mark perf_exit_done",
                "`mark perf_exit_done` (step 0): marks are bookkeeping of the invariant checks; this one belongs to cpuhp_ap_offline only, not perf_event_open (cpu_up: perf_init_start, cpu_up_done; cpuhp_ap_offline: perf_exit_done)",
            ),
            ("cpu_down", "mark cpu_up_done", "this one belongs to cpu_up only, not cpu_down"),
            (
                "perf_pmu_register",
                "work 1us\ncheck usable[this_cpu] else EBUSY\nregister_pmu cpu_online",
                "line 2, column 1: `check usable[this_cpu] else EBUSY` (step 1): a `check` before `register_pmu` could end perf_pmu_register without it",
            ),
            (
                "perf_pmu_unregister",
                "repeat 1 {\n  check usable[this_cpu] else EBUSY\n}\nunregister_pmu",
                "`check usable[this_cpu] else EBUSY` (step 1): a `check` before `unregister_pmu`",
            ),
        ];
        for (op, text, needle) in cases {
            let (key, message) = misplaced(op, text);
            assert_eq!(key, format!("scheme.scripts.{op}"));
            assert!(message.contains(needle), "{op}:\n{text}\n{message}");
        }
    }

    #[test]
    fn placed_steps_are_accepted() {
        let ok = [
            ("perf_pmu_register", "register_pmu cpu_online\ncheck usable[this_cpu] else EBUSY"),
            (
                "cpuhp_ap_offline",
                "for_each_handoff {\n  lock cpuctx_mutex[lower, loop_pmu]\n  move_events\n  unlock cpuctx_mutex[lower, loop_pmu]\n}",
            ),
            ("cpu_down", "lock cpu_hotplug_lock\nkick_ap cpuhp_ap_offline\nunlock cpu_hotplug_lock"),
            ("perf_event_open", "check usable[cpu] else ENODEV {\n  ipi cpu install_event\n}\nipi cpu install_event"),
            ("ftrace_enable", "ipi 3 work 1us\nlock event->child_mutex[task]\nunlock event->child_mutex[task]"),
        ];
        for (op, text) in ok {
            assert!(parse_checked(op, text, MACHINE).is_ok(), "{op}:\n{text}");
        }
    }
}
