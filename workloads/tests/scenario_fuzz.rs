//! The scenario parser on arbitrary input: it never panics, and every error names a key.
//!
//! Cases per `cargo test` (about 3 s in release): 2000 arbitrary byte strings, 2000
//! recombined fragments, 1500 mutated presets and 1500 `--set` override lists. A further 400
//! random scheme scripts, run when accepted, are `#[ignore]`d: they still find panics.

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
            "scheme.scripts.ftrace_toggle",
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
        "lock ctx->mutex[cpu, pmu]",
        "unlock ctx->mutex[cpu, pmu]",
        "lock ctx->mutex[cpu, loop_pmu]",
        "unlock ctx->mutex[cpu, loop_pmu]",
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever script the parser accepts, the model runs without panicking. Ignored until the
    /// scenario checks cover where each step may appear: today a script reaches the model's
    /// assertions with `ipi cpu install_event` in `cpu_down` ("event 0 installed twice"),
    /// `loop_pmu` outside `for_each_pmu`, or `lower`/`higher` outside `for_each_handoff`.
    /// Run it with `cargo test --release -p workloads --test scenario_fuzz -- --ignored`.
    #[test]
    #[ignore = "scripts can still reach model assertions (issue #9); run with --ignored"]
    fn accepted_random_scripts_run_without_panic(
        base in prop::sample::select(vec!["legacy", "pmus-lock", "percpu-state"]),
        op in prop::sample::select(workloads::schemes::op::NAMES.to_vec()),
        lines in proptest::collection::vec(script_line(), 0..14),
        seed in 0u64..1000,
    ) {
        let script = lines.join("\n");
        let text = format!(
            "[machine]\ncpus = 4\npackages = 2\n[pmus]\ncore = 1\nuncore = 1\nchurn_slots = 1\n\
             [scheme]\nname = \"fuzzed\"\nbase = \"{base}\"\npmu_dev_alloc = true\n\
             [scheme.scripts]\n{op} = \"\"\"\n{script}\n\"\"\"\n\
             [hotplug]\ninterval = \"1ms\"\n[openers]\ntasks = 3\nthink = \"1ms\"\nlifetime = \"3ms\"\n\
             [pmu_churn]\ntasks = 1\ninterval = \"2ms\"\nlifetime = \"3ms\"\n\
             [driver_probe]\ntasks = 1\ninterval = \"5ms\"\n\
             [pmu_load]\nsampling_events = 1\ncounting_events = 1\nuncore_counting = true\n\
             [run]\nduration = \"60ms\"\nseed = {seed}\n"
        );
        match Scenario::from_toml(&text) {
            Ok(s) => {
                let _ = workloads::run::run(&s, 0);
            }
            Err(e) => one_line_naming_a_key(&e)?,
        }
    }
}
