//! The scenario parser on arbitrary input: it never panics, and every error names a key.
//!
//! Cases per `cargo test` (about 2 s in release): 2000 arbitrary byte strings, 2000
//! recombined fragments, 1500 mutated presets, 1500 `--set` override lists, and 4000 random
//! scheme scripts, each run when the scenario checks accept it.

use proptest::prelude::*;
use workloads::presets::{PRESETS, resolve};
use workloads::scenario::{Scenario, ScenarioError};

/// What the CLI prints: `key: message` on one line.
fn one_line_naming_a_key(e: &ScenarioError) -> Result<(), TestCaseError> {
    prop_assert!(!e.key.is_empty() && !e.message.is_empty(), "{:?}", e);
    prop_assert!(!e.to_string().contains('\n'), "more than one line: {:?}", e);
    Ok(())
}

/// An accepted scenario prints as TOML that reads back the same.
fn round_trips(s: &Scenario) -> Result<(), TestCaseError> {
    let again = Scenario::from_toml(&s.to_toml()).map_err(|e| TestCaseError::fail(format!("round trip: {e}")))?;
    prop_assert_eq!(&again, s);
    Ok(())
}

/// One edit of a scenario file's lines.
#[derive(Clone, Debug)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    ReplaceValue(usize, String),
    InsertLine(usize, String),
    FlipByte(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    let value = prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("65".to_string()),
        Just("4294967296".to_string()),
        Just("1.5".to_string()),
        Just("nan".to_string()),
        Just("\"0s\"".to_string()),
        Just("\"-1ms\"".to_string()),
        Just("\"1e30s\"".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("\"storm\"".to_string()),
        Just("\"per-cpu\"".to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[ -~]{0,10}",
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (any::<usize>(), value).prop_map(|(i, v)| Edit::ReplaceValue(i, v)),
        (any::<usize>(), "[a-z_\\[\\]. =\"0-9]{0,24}").prop_map(|(i, l)| Edit::InsertLine(i, l)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::FlipByte(i, b)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for e in edits {
        let n = lines.len().max(1);
        match e {
            Edit::DeleteLine(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Edit::DuplicateLine(i) if !lines.is_empty() => lines.insert(i % n, lines[i % n].clone()),
            Edit::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Edit::ReplaceValue(i, v) if !lines.is_empty() => {
                let line = &mut lines[i % n];
                if let Some((key, _)) = line.split_once('=') {
                    *line = format!("{key}= {v}");
                }
            }
            Edit::InsertLine(i, l) => lines.insert(i % (lines.len() + 1), l.clone()),
            Edit::FlipByte(i, b) if !lines.is_empty() => {
                let mut bytes = lines[i % n].clone().into_bytes();
                if !bytes.is_empty() {
                    let at = i % bytes.len();
                    bytes[at] = *b;
                }
                lines[i % n] = String::from_utf8_lossy(&bytes).into_owned();
            }
            _ => {}
        }
    }
    lines.join("\n")
}

/// Real keys (and a few that are not), as `--set` takes them.
fn override_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "machine.cpus",
            "machine.packages",
            "pmus.core",
            "pmus.uncore",
            "pmus.churn_slots",
            "scheme.name",
            "scheme.base",
            "scheme.context_layout",
            "scheme.scripts.cpu_up",
            "scheme.scripts.ftrace_enable",
            "costs.wakeup",
            "hotplug.mode",
            "hotplug.interval",
            "openers.tasks",
            "openers.tracepoint_fraction",
            "pmu_churn.tasks",
            "pmu_load.width_bits",
            "pmu_load.sample_period",
            "pmu_load.sampling_events",
            "pmu_load.counters",
            "pmu_load.hz",
            "run.duration",
            "run.seed",
            "run.max_events",
            "machine",
            "machine.cpus.x",
            ".",
            "",
            "a..b",
        ])
        .prop_map(String::from),
        "[a-z_.]{1,20}",
    ]
}

/// Fragments of real scenario files, recombined into near-valid TOML.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("[machine]\n".to_string()),
        Just("[scheme]\n".to_string()),
        Just("[scheme.scripts]\n".to_string()),
        Just("[hotplug]\n".to_string()),
        Just("[openers]\n".to_string()),
        Just("[pmu_load]\n".to_string()),
        Just("[run]\n".to_string()),
        Just("cpus = ".to_string()),
        Just("packages = ".to_string()),
        Just("name = ".to_string()),
        Just("base = ".to_string()),
        Just("duration = ".to_string()),
        Just("interval = ".to_string()),
        Just("tracepoint_fraction = ".to_string()),
        Just("width_bits = ".to_string()),
        Just("sampling_events = ".to_string()),
        Just("perf_event_open = ".to_string()),
        Just("\"pmus-lock\"\n".to_string()),
        Just("\"legacy\"\n".to_string()),
        Just("\"5ms\"\n".to_string()),
        Just("\"-1s\"\n".to_string()),
        Just("\"lock pmus_lock\\nunlock pmus_lock\"\n".to_string()),
        Just("\"lock pmus_lock\"\n".to_string()),
        Just("\"for_each_pmu {\"\n".to_string()),
        (any::<i64>()).prop_map(|n| format!("{n}\n")),
        (0u32..100_000).prop_map(|n| format!("{n}\n")),
        any::<f64>().prop_map(|x| format!("{x}\n")),
        "[a-z_.=\\[\\]\" \n0-9-]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn mutated_presets_never_panic_and_errors_name_a_key(
        preset in 0..PRESETS.len(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let text = apply(PRESETS[preset].1, &edits);
        match Scenario::from_toml(&text) {
            Ok(s) => round_trips(&s)?,
            Err(e) => one_line_naming_a_key(&e)?,
        }
    }

    #[test]
    fn set_overrides_never_panic_and_errors_name_a_key(
        preset in 0..PRESETS.len(),
        sets in proptest::collection::vec((override_key(), "[ -~]{0,16}"), 0..5),
    ) {
        match resolve(PRESETS[preset].1, &sets) {
            Ok(s) => round_trips(&s)?,
            Err(e) => one_line_naming_a_key(&e)?,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = Scenario::from_toml(&text) {
            prop_assert!(!e.key.is_empty() && !e.message.is_empty());
        }
    }

    #[test]
    fn recombined_scenario_fragments_never_panic_and_name_a_key(tokens in proptest::collection::vec(token(), 0..30)) {
        let text: String = tokens.concat();
        match Scenario::from_toml(&text) {
            Ok(s) => prop_assert!(s.validate().is_ok()),
            Err(e) => prop_assert!(!e.key.is_empty() && !e.message.is_empty(), "{:?}", e),
        }
    }
}

/// A line of the script language, valid on its own; blocks open and close at random.
fn script_line() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "lock pmus_lock",
        "unlock pmus_lock",
        "lock cpu_hotplug_lock read",
        "lock cpu_hotplug_lock",
        "unlock cpu_hotplug_lock",
        "lock event_mutex",
        "unlock event_mutex",
        "lock cpuctx_mutex[cpu, pmu]",
        "unlock cpuctx_mutex[cpu, pmu]",
        "lock cpuctx_mutex[cpu, loop_pmu]",
        "unlock cpuctx_mutex[cpu, loop_pmu]",
        "ipi cpu install_event",
        "ipi cpu remove_events",
        "check ctx_online[cpu, pmu] else ENODEV {",
        "check usable[cpu] else ENODEV {",
        "for_each_pmu {",
        "for_each_handoff {",
        "}",
        "move_events",
        "adopt_uncore",
        "set cpu_online[cpu]",
        "clear cpu_online[cpu]",
        "set usable[cpu]",
        "clear ctx_online[cpu, loop_pmu]",
        "set perf_online_mask[cpu]",
        "stop_machine",
        "synchronize_srcu pmus_srcu",
        "synchronize_rcu",
        "mark perf_init_start",
        "mark perf_exit_done",
        "mark cpu_up_done",
        "register_pmu perf_online_mask",
        "unregister_pmu",
        "work 1us",
    ])
}

/// A step that is not a block, including some the scenario checks must reject where they are.
fn script_leaf() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "ipi cpu install_event",
        "ipi this_cpu install_event",
        "ipi cpu remove_event",
        "ipi cpu remove_events",
        "ipi lower remove_events",
        "ipi target work 1us",
        "ipi 3 work 1us",
        "ipi 9 work 1us",
        "check cpu_online[cpu] else EBUSY",
        "check ctx_online[cpu, loop_pmu] else ENODEV",
        "check cpu_online[target] else ENODEV",
        "move_events",
        "adopt_uncore",
        "set cpu_online[cpu]",
        "clear cpu_online[this_cpu]",
        "set cpu_online[1]",
        "clear usable[cpu]",
        "clear ctx_online[cpu, loop_pmu]",
        "set ctx_online[cpu, pmu]",
        "clear perf_online_mask[cpu]",
        "stop_machine",
        "synchronize_srcu pmus_srcu",
        "synchronize_srcu pmus_lock",
        "synchronize_rcu_expedited",
        "mark perf_init_start",
        "mark perf_exit_done",
        "mark cpu_up_done",
        "register_pmu cpu_online",
        "unregister_pmu",
        "work exp(2us)",
        "work 0ns",
    ])
}

/// A lock taken around a body and released after it (some in a mode their class refuses).
fn script_lock() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "pmus_lock",
        "pmus_lock read",
        "cpu_hotplug_lock read",
        "cpu_hotplug_lock",
        "cpu_add_remove_lock",
        "cpuctx_mutex[cpu, pmu]",
        "cpuctx_mutex[cpu, loop_pmu]",
        "cpuctx_mutex[target, loop_pmu]",
        "cpuctx_mutex[higher, loop_pmu]",
        "cpuctx_mutex[this_cpu, pmu]",
        "cpuctx_mutex[2, pmu]",
        "pmus_srcu read",
        "pmus_srcu",
        "dev->mutex[pmu]",
        "dev->mutex[loop_pmu]",
        "event->child_mutex[task]",
    ])
}

/// Balanced scripts: locks released after their body, blocks closed, so that most parse and
/// reach the placement checks (and, when those accept them, the model).
fn script_tree() -> impl Strategy<Value = Vec<String>> {
    // Steps every operation may run anywhere, so that more scripts get past the checks.
    let anywhere = prop::sample::select(vec![
        "work 1us",
        "stop_machine",
        "synchronize_rcu",
        "ipi this_cpu work 1us",
        "ipi 0 work 500ns",
        "set usable[this_cpu]",
        "check cpu_online[this_cpu] else EBUSY",
    ]);
    let leaf = prop_oneof![2 => anywhere, 3 => script_leaf()].prop_map(|l| vec![l.to_string()]);
    leaf.prop_recursive(4, 48, 5, |inner| {
        let body = proptest::collection::vec(inner, 0..5).prop_map(|parts| parts.concat());
        let header = prop::sample::select(vec![
            "for_each_pmu {",
            "for_each_pmu uncore {",
            "for_each_handoff {",
            "repeat 2 {",
            "repeat 0 {",
            "check ctx_online[cpu, pmu] else ENODEV {",
            "check usable[cpu] else ENODEV {",
        ]);
        let lock = prop_oneof![
            2 => prop::sample::select(vec!["pmus_lock", "cpu_hotplug_lock read", "event_mutex", "jump_label_mutex"]),
            3 => script_lock(),
        ];
        prop_oneof![
            (lock, body.clone()).prop_map(|(lock, body)| {
                let mut lines = vec![format!("lock {lock}")];
                lines.extend(body);
                lines.push(format!("unlock {}", lock.trim_end_matches(" read")));
                lines
            }),
            (header, body).prop_map(|(header, body)| {
                let mut lines = vec![header.to_string()];
                lines.extend(body);
                lines.push("}".into());
                lines
            }),
        ]
    })
}

/// A scheme script for `op`: random lines (mostly rejected by the parser or the balance
/// check), or a balanced tree with, usually, the PMU churn operations' list step.
fn script(op: &'static str) -> impl Strategy<Value = String> {
    let lines = proptest::collection::vec(script_line(), 0..14).prop_map(|lines| lines.join("\n"));
    let tree = (proptest::collection::vec(script_tree(), 0..6), 0..4).prop_map(move |(parts, list_step)| {
        let mut lines = parts.concat();
        if list_step > 0 && op == "perf_pmu_register" {
            lines.insert(0, "register_pmu perf_online_mask".into());
        }
        if list_step > 0 && op == "perf_pmu_unregister" {
            lines.push("unregister_pmu".into());
        }
        lines.join("\n")
    });
    prop_oneof![1 => lines, 3 => tree]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    /// Whatever script the scenario checks accept, the model runs without panicking: the checks
    /// cover where each step and reference may appear (issue #9), so the model's assertions
    /// guard only the model.
    #[test]
    fn accepted_random_scripts_run_without_panic(
        base in prop::sample::select(vec!["legacy", "pmus-lock", "percpu-state"]),
        (op, script) in prop::sample::select(workloads::schemes::op::NAMES.to_vec())
            .prop_flat_map(|op| (Just(op), script(op))),
        (cpus, core, uncore) in (1u32..6, 0u32..3, 0u32..3),
        (per_cpu, core_handoff, stop) in (any::<bool>(), any::<bool>(), any::<bool>()),
        seed in 0u64..1000,
    ) {
        let packages = cpus.min(2);
        let openers = if core + uncore == 0 { 0 } else { 3 };
        let layout = if per_cpu { "per-cpu" } else { "per-pmu" };
        let handoff = if core_handoff { "core" } else { "driver" };
        let load = if core > 0 {
            "[pmu_load]\nsampling_events = 1\ncounting_events = 1\nuncore_counting = true\n"
        } else {
            ""
        };
        let text = format!(
            "[machine]\ncpus = {cpus}\npackages = {packages}\n[pmus]\ncore = {core}\nuncore = {uncore}\nchurn_slots = 1\n\
             [scheme]\nname = \"fuzzed\"\nbase = \"{base}\"\npmu_dev_alloc = true\n\
             context_layout = \"{layout}\"\nhandoff = \"{handoff}\"\n\
             [scheme.scripts]\n{op} = \"\"\"\n{script}\n\"\"\"\n\
             [hotplug]\ninterval = \"1ms\"\n[openers]\ntasks = {openers}\nthink = \"1ms\"\nlifetime = \"3ms\"\n\
             [ftrace]\ntasks = 1\ninterval = \"3ms\"\n\
             [pmu_churn]\ntasks = 1\ninterval = \"2ms\"\nlifetime = \"3ms\"\n\
             [driver_probe]\ntasks = 1\ninterval = \"5ms\"\n\
             {load}[run]\nduration = \"60ms\"\nseed = {seed}\nstop_on_deadlock = {stop}\n"
        );
        match Scenario::from_toml(&text) {
            Ok(s) => {
                let _ = workloads::run::run(&s, 0);
            }
            Err(e) => one_line_naming_a_key(&e)?,
        }
    }
}
