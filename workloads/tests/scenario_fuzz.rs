//! The scenario parser on arbitrary input: it never panics, and every error names a key.

use proptest::prelude::*;
use workloads::scenario::Scenario;

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
