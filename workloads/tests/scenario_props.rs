//! Random scenarios within limits, run end to end: no panic; the correct schemes keep every
//! invariant; every deadlock reported is a real wait-for cycle.
//!
//! Cases per `cargo test`: 1000 random scenarios of any scheme,
//! including scenario-defined ones; 1000 of the correct schemes; and 300 from a fixed seed that
//! must reach real deadlocks, so that the cycle check is known to be exercised.

use std::collections::BTreeSet;

use proptest::prelude::*;
use sim::kernel::{Deadlock, Invariant};
use sim::locks::Mode;
use workloads::generators::HotplugMode;
use workloads::run::{RunResult, run};
use workloads::scenario::{Dist, Duration, Scenario, SchemeSpec};
use workloads::schemes::{ContextLayout, Handoff, MigrateSync};

const MS: u64 = 1_000_000;

fn dist() -> impl Strategy<Value = Dist> {
    prop_oneof![Just(Dist::Exp), Just(Dist::Fixed)]
}

fn ms(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Duration> {
    range.prop_map(|us| Duration(us * 1_000))
}

/// A balanced script of nested global locks with work between them; for `perf_pmu_register`,
/// the PMU is listed under the innermost lock, for `perf_event_open` the event installed there
/// (the one step each of those operations must have).
fn balanced_script(op: &'static str) -> impl Strategy<Value = String> {
    let locks = ["pmus_lock", "event_mutex", "tracepoints_mutex", "jump_label_mutex", "cpu_hotplug_lock read"];
    proptest::sample::subsequence(locks.to_vec(), 0..=4).prop_flat_map(|taken| (Just(taken), 0u64..50)).prop_map(
        move |(taken, work_us)| {
            let mut text = String::new();
            for lock in &taken {
                text.push_str(&format!("lock {lock}\nwork {work_us}us\n"));
            }
            if op == "perf_pmu_register" {
                text.push_str("register_pmu perf_online_mask\n");
            }
            if op == "perf_event_open" {
                text.push_str("ipi cpu install_event\n");
            }
            for lock in taken.iter().rev() {
                let class = lock.split(' ').next().unwrap();
                text.push_str(&format!("unlock {class}\n"));
            }
            text
        },
    )
}

/// A built-in scheme, or one of the scenario's own: a base with one operation rewritten.
fn scheme(correct_only: bool) -> impl Strategy<Value = SchemeSpec> {
    let builtin = if correct_only {
        prop_oneof![Just("pmus-lock"), Just("percpu-state"), Just("legacy")].boxed()
    } else {
        prop_oneof![Just("pmus-lock"), Just("percpu-state"), Just("legacy"), Just("pmus-lock-nocheck")].boxed()
    };
    let ops = ["ftrace_enable", "driver_probe", "perf_event_open", "perf_event_release", "perf_pmu_register"];
    let custom = if correct_only {
        Just(None).boxed()
    } else {
        prop_oneof![
            2 => Just(None),
            1 => proptest::sample::select(ops.to_vec())
                .prop_flat_map(|op| (Just(op), balanced_script(op)))
                .prop_map(Some),
        ]
        .boxed()
    };
    (
        builtin,
        custom,
        any::<bool>(),
        prop_oneof![Just(ContextLayout::PerPmu), Just(ContextLayout::PerCpu)],
        prop_oneof![Just(Handoff::Driver), Just(Handoff::Core)],
        any::<bool>(),
        any::<[bool; 6]>(),
    )
        .prop_map(move |(name, custom, free, layout, handoff, dev_alloc, fixes)| {
            // The correct schemes are correct only with v4.15's fixes of the perf paths
            // (82d94856fa22, 43fa87f7deed, efe951d3de91); any mix of them otherwise.
            let v415 = |b: bool| b || correct_only;
            let mut s = SchemeSpec {
                name: name.to_string(),
                free_outside_ctx_mutex: v415(free),
                set_filter_outside_ctx_mutex: v415(fixes[0]),
                sw_sibling_init_unlocked: v415(fixes[1]),
                ds_buffers_hotplug_lock: !v415(fixes[2]),
                pebs_or_bts: fixes[3],
                migrate_sync_rcu: if fixes[4] { MigrateSync::WhenMoving } else { MigrateSync::Always },
                context_layout: layout,
                handoff,
                pmu_dev_alloc: dev_alloc,
                perf_prepare_state: fixes[5],
                ..SchemeSpec::default()
            };
            if let Some((op, text)) = custom {
                s.base = Some(s.name.clone());
                s.name = "custom".into();
                s.scripts.insert(op.to_string(), text);
            }
            s
        })
}

/// A scenario of at most 48 CPUs and 300 ms, any workload mix, PMU load on or off.
fn scenario(correct_only: bool) -> impl Strategy<Value = Scenario> {
    let machine = (1u32..=48).prop_flat_map(|cpus| (Just(cpus), 1..=cpus.min(4)));
    let pmus = (0u32..=2, 0u32..=2, 0u32..=2).prop_flat_map(|(c, u, s)| (Just((c, u, s)), 0..=s));
    let hotplug = (
        prop::bool::weighted(0.9),
        prop_oneof![Just(HotplugMode::Random), Just(HotplugMode::Storm), Just(HotplugMode::Rolling)],
        ms(0..=30_000),
        dist(),
        ms(0..=20_000),
        dist(),
    );
    let openers = (0u32..=6, ms(0..=5_000), dist(), ms(0..=20_000), dist(), 0.0..=1.0f64);
    let mix = (0.0..=1.0f64, 0.0..=1.0f64, 0.0..=1.0f64, 1u32..=8, 0.0..=2.0f64);
    let tasks = (0u32..=2, 0u32..=3, 0u32..=2, 0u32..=3, 0.0..=1.0f64);
    let others = (0u32..=2, ms(1_000..=50_000), 0u32..=1, ms(1_000..=50_000), ms(1_000..=100_000));
    let pmu_load = prop_oneof![
        Just(None),
        (0u32..=3, 0u32..=2, any::<bool>(), prop::sample::select(vec![24u32, 32, 40, 48, 64]), 50_000u64..=5_000_000)
            .prop_map(Some),
    ];
    let run = (1u64..=300, 0..=sim::rng::MAX_SEED, any::<bool>());
    (machine, pmus, scheme(correct_only), hotplug, (openers, mix, tasks), others, pmu_load, run).prop_map(
        |((cpus, packages), ((core, uncore, slots), churn), scheme, h, (o, mix, t), f, load, r)| {
            let mut s = Scenario::default();
            s.machine.cpus = cpus;
            s.machine.packages = packages;
            (s.pmus.core, s.pmus.uncore, s.pmus.churn_slots) = (core, uncore, slots);
            s.scheme = scheme;
            (s.hotplug.enabled, s.hotplug.mode, s.hotplug.interval) = (h.0, h.1, h.2);
            (s.hotplug.interval_dist, s.hotplug.holdoff, s.hotplug.holdoff_dist) = (h.3, h.4, h.5);
            s.openers.tasks = if core + uncore == 0 { 0 } else { o.0 };
            (s.openers.think, s.openers.think_dist, s.openers.lifetime) = (o.1, o.2, o.3);
            (s.openers.lifetime_dist, s.openers.tracepoint_fraction) = (o.4, o.5);
            // Software events take what tracepoints leave; without hardware PMUs, all of it.
            s.openers.software_fraction = if core + uncore == 0 { 1.0 - o.5 } else { mix.0 * (1.0 - o.5) };
            (s.openers.set_filter_fraction, s.openers.prctl_fraction) = (mix.1, mix.2);
            (s.tracepoints.count, s.tracepoints.zipf) = (mix.3, mix.4);
            (s.inherit.tasks, s.inherit.children, s.inherit.release_first_fraction) = (t.0, t.1, t.4);
            s.groups.tasks = if core == 0 { 0 } else { t.2 };
            s.groups.siblings = t.3;
            (s.ftrace.tasks, s.ftrace.interval) = (f.0, f.1);
            (s.driver_probe.tasks, s.driver_probe.interval) = (f.2, f.1);
            (s.pmu_churn.tasks, s.pmu_churn.interval, s.pmu_churn.lifetime) = (churn, f.3, f.4);
            if let Some((sampling, counting, uncore_counting, width, period)) = load {
                s.pmu_load.sampling_events = sampling;
                s.pmu_load.counting_events = counting;
                s.pmu_load.uncore_counting = uncore_counting;
                s.pmu_load.width_bits = width;
                s.pmu_load.sample_period = period;
            }
            s.run.duration = Duration(r.0 * MS);
            s.run.seed = r.1;
            s.run.stop_on_deadlock = r.2;
            s.run.max_events = 5_000_000;
            s
        },
    )
}

/// Each member waits for a lock the next one holds in a conflicting mode, or of which the next
/// one is the pending writer; the members are distinct tasks; so the cycle closes.
fn assert_real_cycle(d: &Deadlock, r: &RunResult) -> Result<(), TestCaseError> {
    let n = d.members.len();
    prop_assert!(n >= 1, "an empty cycle");
    let tasks: BTreeSet<&str> = d.members.iter().map(|m| m.task.as_str()).collect();
    prop_assert_eq!(tasks.len(), n, "a task appears twice in {}", d.report());
    prop_assert!(d.time_ns <= r.end_ns && d.seed == r.seed);
    for (i, m) in d.members.iter().enumerate() {
        let next = &d.members[(i + 1) % n];
        if m.waits_for_thread {
            // The control task waits for its cpuhp/N thread, the next member, to finish.
            prop_assert!(
                next.task.starts_with("cpuhp/") && m.waits_for.starts_with(&next.task),
                "{} waits for {}, not for its hotplug thread {}:\n{}",
                m.task,
                m.waits_for,
                next.task,
                d.report()
            );
            continue;
        }
        prop_assert!(m.waits_for.starts_with(&m.waits_for_class), "{} is not a {}", m.waits_for, m.waits_for_class);
        match &m.held_by_next {
            Some((held, _)) => prop_assert!(
                !(m.mode == Mode::Read && *held == Mode::Read),
                "{} waits to read {}, which {} only reads:\n{}",
                m.task,
                m.waits_for,
                next.task,
                d.report()
            ),
            None => prop_assert!(
                next.waits_for == m.waits_for && next.mode == Mode::Write,
                "{} waits on {} for {}, which neither holds it nor waits to write it:\n{}",
                m.task,
                m.waits_for,
                next.task,
                d.report()
            ),
        }
    }
    Ok(())
}

fn check_run(s: &Scenario) -> Result<RunResult, TestCaseError> {
    s.validate().map_err(|e| TestCaseError::fail(format!("generated an invalid scenario: {e}")))?;
    let r = run(s, 0).map_err(|e| TestCaseError::fail(format!("valid scenario refused: {e}")))?;
    for d in &r.deadlocks {
        assert_real_cycle(d, &r)?;
    }
    if s.run.stop_on_deadlock {
        prop_assert!(r.deadlocks.len() <= 1, "{} deadlocks after stop_on_deadlock", r.deadlocks.len());
    }
    Ok(r)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_scenario_runs_without_panic_and_reports_only_real_cycles(s in scenario(false)) {
        check_run(&s)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    /// pmus-lock and percpu-state never deadlock nor break an invariant, except pmus-lock's
    /// silently failed opens (invariant 7) while perf's init also runs at CPUHP_PERF_PREPARE
    /// (f400565faa50); legacy may deadlock (the recursive read of cpu_hotplug_lock) but breaks
    /// no invariant either. Driver probes with `pmu_dev_alloc` close the 2023 cycle in every
    /// scheme, so they may deadlock.
    #[test]
    fn the_correct_schemes_keep_every_invariant(s in scenario(true)) {
        let r = check_run(&s)?;
        let early_online = s.scheme.name == "pmus-lock" && s.scheme.perf_prepare_state;
        let broken = r.violations.iter().find(|v| !(early_online && v.invariant == Invariant::NoSilentlyFailedOpen));
        prop_assert!(broken.is_none(), "{}: {:?}", s.scheme.name, broken);
        let dev_cycle = s.scheme.pmu_dev_alloc && s.driver_probe.tasks > 0;
        if s.scheme.name != "legacy" && !dev_cycle {
            prop_assert!(r.deadlocks.is_empty(), "{}", r.deadlocks[0].report());
            prop_assert!(r.stalls.is_empty(), "{:?}", r.stalls.first());
        }
    }
}

/// The generator is not too gentle: from a fixed seed, some runs deadlock (so the cycle
/// check above has cycles to check) and some break invariants.
#[test]
fn random_scenarios_reach_deadlocks_and_every_one_is_a_real_cycle() {
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config { cases: 300, failure_persistence: None, ..Config::default() },
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let (deadlocks, cycles_of_two_or_more) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    runner
        .run(&scenario(false), |s| {
            let r = check_run(&s)?;
            deadlocks.set(deadlocks.get() + r.deadlocks.len());
            cycles_of_two_or_more
                .set(cycles_of_two_or_more.get() + r.deadlocks.iter().filter(|d| d.members.len() > 1).count());
            Ok(())
        })
        .unwrap();
    assert!(cycles_of_two_or_more.get() >= 10, "only {} deadlocks over 300 scenarios", deadlocks.get());
}
