//! Core PMUs that run ahead in quanta take exactly the wakes one engine event per wake takes:
//! every figure of a run, PMU or not, is the same both ways; only the engine's event count drops.
//! And run-ahead stays off when the governor could lower the sample rate, where it would not be
//! exact.

use proptest::prelude::*;
use workloads::presets::{preset_text, resolve};
use workloads::run::{RunResult, run};

/// Everything a run reports except the engine's event count and the PMU's engine events.
fn observable(r: &RunResult) -> String {
    let pmu = r.pmu.as_ref().map(|p| {
        let mut p = p.clone();
        p.wakes = 0;
        format!("{p:?}")
    });
    let locks: Vec<String> = r.locks.iter().map(|(name, stat)| format!("{name}: {stat:?}")).collect();
    format!(
        "stop {:?} end {} deadlocks {:?} stalls {:?} violations {:?} down {:?} up {:?} last up {} open {:?} \
         ok {} enodev {} locks {locks:?} order {:?} cycles {:?} pmu {pmu:?}",
        r.stop,
        r.end_ns,
        r.deadlocks,
        r.stalls,
        r.violations,
        r.cpu_down_ns,
        r.cpu_up_ns,
        r.cpu_up_last_ns,
        r.open_ns,
        r.opens_ok,
        r.enodev,
        r.lock_order,
        r.order_cycles,
    )
}

/// The run with run-ahead allowed, then with one engine event per wake.
fn run_both(keys: &[(String, String)], seed: u64) -> (RunResult, RunResult) {
    let [ahead, eager] = [true, false].map(|run_ahead| {
        let mut keys = keys.to_vec();
        keys.push(key("pmu_load.run_ahead", run_ahead));
        let scenario = resolve(preset_text("pmu-load").expect("preset"), &keys).expect("valid scenario");
        run(&scenario, seed).expect("runs")
    });
    (ahead, eager)
}

fn key(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

#[test]
fn the_preset_runs_ahead_with_the_same_figures_and_a_hundredth_of_the_events() {
    let keys = [key("machine.cpus", 32), key("run.duration", "\"1s\"")];
    let (ahead, eager) = run_both(&keys, 1);
    assert_eq!(observable(&ahead), observable(&eager));
    let (a, e) = (ahead.pmu.as_ref().unwrap(), eager.pmu.as_ref().unwrap());
    assert!(a.pmis > 100_000, "{} PMIs: too few to test anything", a.pmis);
    assert!(e.wakes >= a.pmis, "one wake per PMI or more without run-ahead: {} wakes, {} PMIs", e.wakes, a.pmis);
    assert!(a.wakes * 100 < a.pmis, "{} engine events for {} PMIs with run-ahead", a.wakes, a.pmis);
    assert!(ahead.events_processed * 10 < eager.events_processed);
}

#[test]
fn a_handler_the_governor_would_act_on_turns_run_ahead_off() {
    // 2,501 ns over the 2,500 ns allowance: the governor can lower the rate, which couples the
    // CPUs, so each wake stays an engine event and the two runs are the same event for event.
    let keys = [key("machine.cpus", 16), key("run.duration", "\"300ms\""), key("pmu_load.handler", "\"2501ns\"")];
    let (ahead, eager) = run_both(&keys, 3);
    assert_eq!(observable(&ahead), observable(&eager));
    assert_eq!(ahead.events_processed, eager.events_processed);
    assert_eq!(ahead.pmu.unwrap().wakes, eager.pmu.unwrap().wakes);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any PMU load, scheme and machine: hotplug, multiplexing, throttling, unfolded wraps,
    /// periodic reads and uncore handoffs, the same both ways.
    #[test]
    fn run_ahead_changes_no_figure(
        seed in 1u64..1_000,
        scheme in prop_oneof![Just("pmus-lock"), Just("percpu-state"), Just("legacy"), Just("pmus-lock-nocheck")],
        cpus in 2u32..=24,
        packages in 1u32..=2,
        sampling in 0u32..=6,
        counting in 0u32..=3,
        counters in 1u32..=6,
        width_bits in prop_oneof![Just(32u32), Just(48u32), Just(20u32)],
        period in prop_oneof![Just(750_000u64), Just(20_000u64), Just(3_000_000u64)],
        fold in any::<bool>(),
        read_ms in prop_oneof![Just(0u64), Just(7u64), Just(50u64)],
        uncore in any::<bool>(),
        skid_ns in prop_oneof![Just(0u64), Just(100u64), Just(5_000u64)],
        handler_ns in prop_oneof![Just(0u64), Just(1_500u64), Just(2_500u64)],
    ) {
        let read_ms = if !fold && read_ms == 0 { 7 } else { read_ms };
        let keys = vec![
            key("scheme.name", format!("\"{scheme}\"")),
            key("machine.cpus", cpus),
            key("machine.packages", packages.min(cpus)),
            key("run.duration", "\"400ms\""),
            key("pmu_load.sampling_events", sampling),
            key("pmu_load.counting_events", counting),
            key("pmu_load.counters", counters),
            key("pmu_load.width_bits", width_bits),
            key("pmu_load.sample_period", period.min((1u64 << width_bits) - 1)),
            key("pmu_load.fold_on_overflow", fold),
            key("pmu_load.read_interval", format!("\"{read_ms}ms\"")),
            key("pmu_load.uncore_counting", uncore),
            key("pmu_load.skid", format!("\"{skid_ns}ns\"")),
            key("pmu_load.handler", format!("\"{handler_ns}ns\"")),
        ];
        let (ahead, eager) = run_both(&keys, seed);
        prop_assert_eq!(observable(&ahead), observable(&eager));
    }
}

/// The PMU figures of the `pmu-load` preset with `keys`, run (as run `run_index`) until `end_ns`.
fn pmu_load_until(keys: &[(String, String)], end_ns: u64, run_index: u64) -> sim::kernel::PmuStats {
    let mut keys = keys.to_vec();
    keys.push(key("run.duration", format!("\"{end_ns}ns\"")));
    let scenario = resolve(preset_text("pmu-load").expect("preset"), &keys).expect("valid scenario");
    run(&scenario, run_index).expect("runs").pmu.expect("PMU load")
}

/// An overflow in the run's last skid is raised by the end (#19 case 11: its wake, one skid
/// later, is past the end, and the figures used to miss it). One sampling event on one CPU that
/// never goes down, runs ending 1, 50 and 99 ns after each of its first overflows: by the end
/// exactly ⌊C(end − 1) / period⌋ overflows, with `C` the CPU's event source rebuilt from its own
/// stream, and one PMI fewer (its skid is 100 ns).
#[test]
fn an_overflow_in_the_last_skid_of_a_run_is_counted_at_the_end() {
    use sim::kernel::STREAM_PMU_SOURCE;
    use sim::pmu::EventSource;
    use sim::rng::{stream_id, stream_rng};
    let seed = 3;
    let base = [
        key("machine.cpus", 1),
        key("machine.packages", 1),
        key("hotplug.enabled", false),
        key("pmu_load.sampling_events", 1),
        key("pmu_load.uncore_counting", false),
        key("run.seed", seed),
    ];
    let scenario = resolve(preset_text("pmu-load").expect("preset"), &base).expect("valid scenario");
    let config = scenario.pmu_load.config().expect("valid");
    let count_at = |t_ns: u64| {
        let rng = stream_rng(seed, stream_id(STREAM_PMU_SOURCE, 0));
        let mut source = EventSource::with_phases(0, config.phases, rng, 0).expect("valid phases");
        source.count_at(config.kind, t_ns)
    };
    // The first nanosecond at which the count reaches `target` (binary search on the exact count).
    let reached = |target: u64| {
        let (mut lo, mut hi) = (0u64, 1u64 << 40);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if count_at(mid) >= target { hi = mid } else { lo = mid + 1 }
        }
        lo
    };
    let period = config.sample_period_events;
    for k in 1..=4 {
        let overflow_ns = reached(k * period);
        for after_ns in [1, 50, 99] {
            let end_ns = overflow_ns + after_ns;
            let pmu = pmu_load_until(&base, end_ns, seed);
            assert_eq!(count_at(end_ns - 1) / period, k, "the end is before the next overflow");
            assert_eq!(
                (pmu.wraps, pmu.pmis),
                (k, k - 1),
                "ending {after_ns} ns after overflow {k} at {overflow_ns} ns"
            );
        }
    }
}

/// The tick that unthrottles a counter tallies the samples it would have taken while throttled
/// (#19 case 11: a tick in the run's last skid was never taken, and `samples_throttled` lost
/// that tick's whole tally). One sampling event far over the 400 samples per 4 ms tick, on one
/// CPU that never goes down: a run ending 1, 50 or 99 ns after each of the first ticks counts
/// exactly what one ending a skid (100 ns) later counts, and more than one ending just before.
#[test]
fn an_unthrottling_tick_in_the_last_skid_of_a_run_counts_its_tally() {
    let base = [
        key("machine.cpus", 1),
        key("machine.packages", 1),
        key("hotplug.enabled", false),
        key("pmu_load.sampling_events", 1),
        key("pmu_load.uncore_counting", false),
        key("pmu_load.sample_period", 10_000),
        key("run.seed", 3),
    ];
    let tick_ns =
        sim::pmu::SampleRateGovernor::new(sim::pmu::GovernorConfig::default()).expect("default governor").tick_ns();
    let throttled = |end_ns: u64| {
        let pmu = pmu_load_until(&base, end_ns, 3);
        (pmu.samples_throttled, pmu.throttles)
    };
    for k in 1..=3 {
        let tick = k * tick_ns;
        let a_skid_later = throttled(tick + 101);
        assert!(a_skid_later.1 >= k, "throttled in every tick: {a_skid_later:?}");
        assert!(throttled(tick - 1).0 < a_skid_later.0, "tick {k} tallies its throttled samples");
        for after_ns in [1, 50, 99] {
            assert_eq!(throttled(tick + after_ns), a_skid_later, "ending {after_ns} ns after tick {k}");
        }
    }
}
