//! Whole-CPU properties: PMI counts, folding over an hour, lost wraps, handoff conservation,
//! throttling, multiplexing error and offline CPUs. Expected values are closed forms or come
//! from independent clones of the sources.

use super::*;
use crate::rng::{exp_ns, stream_id, stream_rng};
use proptest::prelude::*;
use rand::Rng;

const SECOND_NS: u64 = 1_000_000_000;
const HOUR_NS: u64 = 3_600 * SECOND_NS;
const GHZ_3: u64 = 3_000_000_000;
const FOLDING: CounterMode = CounterMode::Counting { fold_on_overflow: true };
const NOT_FOLDING: CounterMode = CounterMode::Counting { fold_on_overflow: false };

fn cycles_only(cycles_per_s: u64) -> Rates {
    Rates { cycles_per_s, ..Rates::default() }
}

fn constant_cpu(cpu: u32, config: CpuPmuConfig, rates: Rates) -> CpuPmu {
    let source = EventSource::constant(cpu, rates, 0).expect("valid rates");
    CpuPmu::new(config, source).expect("valid config")
}

fn default_governor() -> SampleRateGovernor {
    SampleRateGovernor::new(GovernorConfig::default()).expect("valid defaults")
}

/// A governor that never throttles or lowers: for tests about counting, not about limits.
fn permissive_governor() -> SampleRateGovernor {
    let config = GovernorConfig { max_sample_rate_per_s: MAX_SAMPLE_RATE_PER_S, cpu_time_max_percent: 0, hz: 250 };
    SampleRateGovernor::new(config).expect("valid")
}

/// Samples cycles at `period_events` on a constant `rate_per_s` from 0 to `end_ns`, without
/// throttling, and returns the CPU's stats.
fn sample_constant(width_bits: u32, rate_per_s: u64, period_events: u64, end_ns: u64) -> CpuPmuStats {
    let mut governor = permissive_governor();
    let config = CpuPmuConfig { width_bits, ..CpuPmuConfig::default() };
    let mut cpu = constant_cpu(0, config, cycles_only(rate_per_s));
    cpu.add_event(0, 1, EventKind::Cycles, CounterMode::Sampling { period_events }, &mut governor)
        .expect("valid event");
    cpu.advance_to(end_ns, &mut governor);
    let event = cpu.event(1).expect("installed");
    assert_eq!(event.counter().samples(), cpu.stats().samples);
    cpu.stats().clone()
}

/// Overflows raised by `end_ns` and PMIs delivered by then, when every period outlasts skid
/// plus handler: `⌊C(T) / P⌋` and `⌊C(T − skid) / P⌋`.
fn expected_pmis(rate_per_s: u64, period_events: u64, end_ns: u64) -> (u64, u64) {
    let raised = count_between(rate_per_s, 0, end_ns) / period_events;
    let delivered = count_between(rate_per_s, 0, end_ns.saturating_sub(DEFAULT_SKID_NS)) / period_events;
    (raised, delivered)
}

#[test]
fn sampling_raises_floor_rate_time_over_period_pmis_at_widths_32_48_64() {
    let cases: [(u64, u64, u64); 6] = [
        (GHZ_3, 3_000_000, SECOND_NS + 777),
        (GHZ_3, (1 << 31) + 12_345, HOUR_NS),
        (2_999_999_999, 1_000_003, 3 * SECOND_NS + 1),
        (1_000_000_000_000, (1 << 40) + 7, HOUR_NS),
        (5_000_000_000, (1 << 47) + 1, 100_000 * SECOND_NS),
        (1_000_000_000_000, (1 << 62) + 3, 18_000_000 * SECOND_NS),
    ];
    let mut checked = 0;
    for width_bits in [32, 48, 64] {
        for (rate_per_s, period_events, end_ns) in cases {
            if period_events > counter_mask(width_bits) {
                continue;
            }
            let stats = sample_constant(width_bits, rate_per_s, period_events, end_ns);
            let (raised, delivered) = expected_pmis(rate_per_s, period_events, end_ns);
            assert!(raised > 0);
            assert_eq!(stats.overflows, raised, "width {width_bits}, rate {rate_per_s}, period {period_events}");
            assert_eq!(stats.pmis, delivered, "width {width_bits}, rate {rate_per_s}, period {period_events}");
            assert_eq!(stats.samples, delivered);
            checked += 1;
        }
    }
    assert_eq!(checked, 3 + 5 + 6);
}

/// A 12-bit counter preloaded with −4032 has 64 events of headroom after its overflow, fewer
/// than the skid's 67: the counter overtakes its preload before the PMI reads it (proptest case).
#[test]
fn pmi_credits_the_wrap_when_the_counter_overtakes_its_preload_during_skid() {
    let (rate_per_s, period_events) = (667_438_577, 4_032);
    // C(6041) = 4031 and C(6042) = 4032: the overflow is at 6042 ns, its PMI at 6142 ns, when
    // C = 4099 and the counter reads 64 + 4099 − 4096 = 67, past the preload of 64.
    assert_eq!((count_between(rate_per_s, 0, 6_041), count_between(rate_per_s, 0, 6_042)), (4_031, 4_032));
    assert_eq!(count_between(rate_per_s, 0, 6_142), 4_099);
    let mut governor = permissive_governor();
    let config = CpuPmuConfig { width_bits: 12, ..CpuPmuConfig::default() };
    let mut cpu = constant_cpu(0, config, cycles_only(rate_per_s));
    cpu.add_event(0, 1, EventKind::Cycles, CounterMode::Sampling { period_events }, &mut governor).expect("valid");
    assert_eq!(cpu.next_event_ns(), Some(6_042));
    cpu.advance_to(6_142, &mut governor);
    let stats = cpu.stats();
    assert_eq!((stats.overflows, stats.pmis, stats.samples), (1, 1, 1));
    let counter = cpu.event(1).expect("installed").counter();
    assert_eq!((counter.count(), counter.truth_running_events(), counter.wraps_lost()), (4_099, 4_099, 0));
    // The 67 events past the period shorten the next one: C first reaches 8064 at 12_083 ns.
    assert_eq!(counter.period_left_events(), 4_032 - 67);
    assert_eq!(cpu.next_event_ns(), Some(12_083));
    // A read in the skid after the overtake (C = 4098, value 66) credits the wrap once; the PMI does not again.
    let mut cpu = constant_cpu(0, config, cycles_only(rate_per_s));
    cpu.add_event(0, 1, EventKind::Cycles, CounterMode::Sampling { period_events }, &mut governor).expect("valid");
    assert_eq!(cpu.read_event(6_140, 1, &mut governor).expect("installed").count, 4_098);
    cpu.advance_to(6_142, &mut governor);
    assert_eq!((cpu.stats().pmis, cpu.stats().samples), (1, 1));
    let reading = cpu.read_event(6_142, 1, &mut governor).expect("installed");
    assert_eq!((reading.count, reading.truth_running_events), (4_099, 4_099));
}

#[test]
fn pmi_count_is_exact_on_a_phased_source() {
    let mut governor = permissive_governor();
    let config = PhaseConfig { phase_ns_mean: 1_000_000, ..PhaseConfig::default() };
    let source = EventSource::with_phases(0, config, stream_rng(21, stream_id(1, 0)), 0).expect("valid");
    let mut oracle = source.clone();
    let mut cpu = CpuPmu::new(CpuPmuConfig::default(), source).expect("valid");
    let period_events = 100_003;
    let sampling = CounterMode::Sampling { period_events };
    cpu.add_event(0, 1, EventKind::Instructions, sampling, &mut governor).expect("valid");
    let end_ns = SECOND_NS;
    cpu.advance_to(end_ns, &mut governor);
    let delivered = oracle.count_at(EventKind::Instructions, end_ns - DEFAULT_SKID_NS) / period_events;
    let raised = oracle.count_at(EventKind::Instructions, end_ns) / period_events;
    assert_eq!(cpu.stats().overflows, raised);
    assert_eq!(cpu.stats().pmis, delivered);
    assert!(delivered > 10_000);
}

#[test]
fn an_overflow_is_raised_when_the_clock_passes_it_and_its_pmi_is_the_one_step() {
    // As above: C reaches 4032 at 6042 ns, so the overflow is at 6042 ns and its PMI at 6142 ns.
    let (rate_per_s, period_events) = (667_438_577, 4_032);
    let mut governor = permissive_governor();
    let config = CpuPmuConfig { width_bits: 12, ..CpuPmuConfig::default() };
    let mut cpu = constant_cpu(0, config, cycles_only(rate_per_s));
    cpu.add_event(0, 1, EventKind::Cycles, CounterMode::Sampling { period_events }, &mut governor).expect("valid");
    cpu.advance_to(6_041, &mut governor);
    assert_eq!((cpu.stats().overflows, cpu.pmi_pending_ns(), cpu.next_event_ns()), (0, None, Some(6_042)));
    // Inside the skid: the overflow is raised and its PMI armed, though no step was taken.
    cpu.advance_to(6_042, &mut governor);
    assert_eq!((cpu.stats().overflows, cpu.stats().pmis, cpu.stats().steps), (1, 0, 0));
    assert_eq!((cpu.pmi_pending_ns(), cpu.next_event_ns()), (Some(6_142), Some(6_142)));
    cpu.advance_to(6_142, &mut governor);
    assert_eq!((cpu.stats().overflows, cpu.stats().pmis, cpu.stats().steps), (1, 1, 1));
    let latency = cpu.pmi_latency_ns();
    assert_eq!((latency.len(), latency.min(), latency.max()), (1, DEFAULT_SKID_NS, DEFAULT_SKID_NS));
}

#[test]
fn folded_32_bit_count_equals_ground_truth_after_one_hour() {
    let mut governor = default_governor();
    let config = CpuPmuConfig { counters: 1, width_bits: 32, ..CpuPmuConfig::default() };
    let mut cpu = constant_cpu(0, config, cycles_only(GHZ_3));
    cpu.add_event(0, 1, EventKind::Cycles, FOLDING, &mut governor).expect("valid");
    // Reads at an interval unrelated to the fold period: every one must be exact.
    for read_ns in (1..=514).map(|i| i * 7_000_000_001) {
        let reading = cpu.read_event(read_ns, 1, &mut governor).expect("installed");
        assert_eq!(reading.count, count_between(GHZ_3, 0, read_ns), "read at {read_ns} ns");
    }
    let reading = cpu.read_event(HOUR_NS, 1, &mut governor).expect("installed");
    assert_eq!(reading.count, 10_800_000_000_000);
    assert_eq!(reading.truth_running_events, reading.count);
    assert_eq!(cpu.event(1).expect("installed").counter().wraps_lost(), 0);
    // One fold per 2^31 − 1 events: ⌊1.08e13 / 2147483647⌋ = 5029, each one step (the PMI,
    // which raises the overflow it handles); nothing else was simulated.
    assert_eq!((cpu.stats().overflows, cpu.stats().pmis), (5_029, 5_029));
    assert_eq!(cpu.stats().steps, 5_029);
    assert_eq!(cpu.stats().samples, 0);
}

#[test]
fn unfolded_32_bit_count_loses_exactly_one_wrap_per_2_s_read() {
    let mut governor = default_governor();
    let config = CpuPmuConfig { counters: 1, width_bits: 32, ..CpuPmuConfig::default() };
    let mut cpu = constant_cpu(0, config, cycles_only(GHZ_3));
    cpu.add_event(0, 1, EventKind::Cycles, NOT_FOLDING, &mut governor).expect("valid");
    // 6e9 events per read = 2^32 + 1_705_032_704: one whole wrap unseen each time.
    for k in 1..=1_800u64 {
        let reading = cpu.read_event(k * 2 * SECOND_NS, 1, &mut governor).expect("installed");
        assert_eq!(reading.count, k * 1_705_032_704);
        assert_eq!(reading.truth_running_events, k * 6_000_000_000);
    }
    let event = cpu.event(1).expect("installed");
    let reading = event.reading();
    assert_eq!(event.counter().wraps_lost(), 1_800);
    assert_eq!(reading.truth_running_events - reading.count, 1_800 << 32);
    // Every wrap is counted, seen or not: from 0, ⌊1.08e13 / 2^32⌋ = 2514 of them.
    assert_eq!(event.counter().unraised_wraps(), 10_800_000_000_000 >> 32);
    assert_eq!(event.counter().unraised_wraps(), 2_514);
    assert_eq!(cpu.stats().steps, 0);
}

#[test]
fn unfolded_count_loses_wraps_only_when_the_read_interval_exceeds_the_wrap_time() {
    // At 3 GHz, 1_431_655_765 ns hold exactly 2^32 − 1 events and 1_431_655_766 ns hold 2^32 + 2.
    for (interval_ns, wraps_per_read) in [(1_000_000_000, 0), (1_431_655_765, 0), (1_431_655_766, 1)] {
        let mut governor = default_governor();
        let config = CpuPmuConfig { counters: 1, width_bits: 32, ..CpuPmuConfig::default() };
        let mut cpu = constant_cpu(0, config, cycles_only(GHZ_3));
        cpu.add_event(0, 1, EventKind::Cycles, NOT_FOLDING, &mut governor).expect("valid");
        for k in 1..=100 {
            cpu.read_event(k * interval_ns, 1, &mut governor).expect("installed");
        }
        let event = cpu.event(1).expect("installed");
        let reading = event.reading();
        assert_eq!(event.counter().wraps_lost(), 100 * wraps_per_read, "interval {interval_ns} ns");
        assert_eq!(reading.truth_running_events, count_between(GHZ_3, 0, 100 * interval_ns));
        assert_eq!(reading.truth_running_events - reading.count, (100 * wraps_per_read) << 32);
    }
}

/// The designated reader of an uncore PMU in a package of CPUs 1–3 goes down 100 times; each
/// time its event moves to another CPU of the package, which keeps it when the first comes back.
#[test]
fn uncore_count_is_conserved_across_100_handoffs() {
    const SEED: u64 = 2017;
    let mut governor = default_governor();
    let config = CpuPmuConfig { width_bits: 32, ..CpuPmuConfig::default() };
    let package = [1u32, 2, 3];
    let mut oracles = Vec::new();
    let mut cpus = Vec::new();
    for cpu in package {
        let rng = stream_rng(SEED, stream_id(9, cpu as u64));
        let source = EventSource::with_phases(cpu, PhaseConfig::default(), rng, 0).expect("valid phases");
        oracles.push(source.clone());
        cpus.push(CpuPmu::new(config, source).expect("valid config"));
    }
    let mut rng = stream_rng(SEED, stream_id(10, 0));
    let id = 77;
    let mut home = 0;
    cpus[home].add_event(0, id, EventKind::Cycles, FOLDING, &mut governor).expect("valid");
    let mut truth_before_home = 0;
    let mut home_arrival_count = 0;
    let mut now_ns = 0;
    for _ in 0..100 {
        now_ns += 1 + exp_ns(&mut rng, 1.5e9);
        let truth = truth_before_home + oracles[home].count_at(EventKind::Cycles, now_ns) - home_arrival_count;
        let reading = cpus[home].read_event(now_ns, id, &mut governor).expect("installed");
        assert_eq!(reading.count, truth, "read at {now_ns} ns on cpu {}", package[home]);
        let event = cpus[home].remove_event(now_ns, id, &mut governor).expect("installed");
        assert_eq!(event.reading().count, truth);
        let target = (home + 1 + rng.random_range(0..2)) % package.len();
        cpus[target].insert_event(now_ns, event, &mut governor).expect("room");
        truth_before_home = truth;
        home_arrival_count = oracles[target].count_at(EventKind::Cycles, now_ns);
        cpus[home].set_online(now_ns, false, &mut governor);
        oracles[home].set_running(now_ns, false);
        now_ns += 1 + exp_ns(&mut rng, 5e8);
        cpus[home].set_online(now_ns, true, &mut governor);
        oracles[home].set_running(now_ns, true);
        home = target;
    }
    now_ns += SECOND_NS;
    let truth = truth_before_home + oracles[home].count_at(EventKind::Cycles, now_ns) - home_arrival_count;
    let reading = cpus[home].read_event(now_ns, id, &mut governor).expect("installed");
    assert_eq!(reading.count, truth);
    assert_eq!(reading.truth_running_events, truth);
    assert_eq!(cpus[home].event(id).expect("installed").counter().wraps_lost(), 0);
    let folds: u64 = cpus.iter().map(|cpu| cpu.stats().pmis).sum();
    assert!(folds > 100, "only {folds} folds: the handoffs did not cross wraps");
}

#[test]
fn removed_event_keeps_its_count_and_continues_on_the_new_source() {
    let mut governor = default_governor();
    let config = CpuPmuConfig { width_bits: 32, ..CpuPmuConfig::default() };
    let mut from = constant_cpu(1, config, cycles_only(GHZ_3));
    let mut to = constant_cpu(2, config, cycles_only(1_000_000_000));
    from.add_event(0, 5, EventKind::Cycles, FOLDING, &mut governor).expect("valid");
    let event = from.remove_event(SECOND_NS, 5, &mut governor).expect("installed");
    assert_eq!(event.reading().count, GHZ_3);
    assert!(from.event(5).is_none());
    to.insert_event(5 * SECOND_NS, event, &mut governor).expect("room");
    let reading = to.read_event(6 * SECOND_NS, 5, &mut governor).expect("installed");
    assert_eq!(reading.count, GHZ_3 + 1_000_000_000);
    assert_eq!((reading.time_enabled_ns, reading.time_running_ns), (2 * SECOND_NS, 2 * SECOND_NS));
}

#[test]
fn throttling_caps_samples_per_tick_and_counts_the_rest() {
    // 1 GHz with a 2000-event period wants 2000 samples per 4 ms tick; the cap is 400. The 400th
    // PMI lands 800 µs into the tick; the remaining 3.2 ms would have taken 1600 more.
    let mut governor = default_governor();
    let mut cpu = constant_cpu(0, CpuPmuConfig::default(), cycles_only(1_000_000_000));
    let sampling = CounterMode::Sampling { period_events: 2_000 };
    cpu.add_event(0, 1, EventKind::Cycles, sampling, &mut governor).expect("valid");
    let tick_ns = governor.tick_ns();
    let ticks = 50;
    let (mut samples, mut throttled) = (0, 0);
    for tick in 1..=ticks {
        cpu.advance_to(tick * tick_ns, &mut governor);
        let stats = cpu.stats();
        assert_eq!(stats.samples - samples, 400, "tick {}", tick - 1);
        assert_eq!(stats.samples_throttled - throttled, 1_600, "tick {}", tick - 1);
        (samples, throttled) = (stats.samples, stats.samples_throttled);
    }
    let stats = cpu.stats();
    assert_eq!(stats.samples + stats.samples_throttled, count_between(1_000_000_000, 0, ticks * tick_ns) / 2_000);
    assert_eq!((stats.throttles, stats.pmis), (ticks, stats.samples));
    assert_eq!(governor.lowerings(), 0);
}

#[test]
fn slow_handlers_lower_the_per_tick_cap_through_the_governor() {
    // A 3 µs handler: PMI 229 lowers the limit to 319 (see the governor's tests); the tally of
    // tick 0 is still below 319 then, so every tick ends with exactly 319 samples.
    let mut governor = default_governor();
    let config = CpuPmuConfig { handler_ns: 3_000, ..CpuPmuConfig::default() };
    let mut cpu = constant_cpu(0, config, cycles_only(1_000_000_000));
    let sampling = CounterMode::Sampling { period_events: 4_000 };
    cpu.add_event(0, 1, EventKind::Cycles, sampling, &mut governor).expect("valid");
    let tick_ns = governor.tick_ns();
    let mut samples = 0;
    for tick in 1..=20 {
        cpu.advance_to(tick * tick_ns, &mut governor);
        assert_eq!(cpu.stats().samples - samples, 319, "tick {}", tick - 1);
        samples = cpu.stats().samples;
    }
    assert_eq!((governor.lowerings(), governor.max_sample_rate_per_s()), (1, 79_750));
}

fn mux_pair(rates: Rates, counters: u32, kinds: &[EventKind]) -> (CpuPmu, SampleRateGovernor) {
    let mut governor = default_governor();
    let config = CpuPmuConfig { counters, ..CpuPmuConfig::default() };
    let mut cpu = constant_cpu(0, config, rates);
    for (id, &kind) in kinds.iter().enumerate() {
        cpu.add_event(0, id as u64, kind, FOLDING, &mut governor).expect("valid");
    }
    (cpu, governor)
}

#[test]
fn two_events_on_one_counter_scale_exactly_at_aligned_constant_rates() {
    // Rates whose count per 4 ms rotation is an integer: every interval count is exact, so
    // count × enabled / running is too.
    let rates = Rates { cycles_per_s: GHZ_3, instructions_per_s: 6_000_000_000, cache_misses_per_s: 0 };
    let (mut cpu, mut governor) = mux_pair(rates, 1, &[EventKind::Cycles, EventKind::Instructions]);
    for (id, rate) in [(0, GHZ_3), (1, 6_000_000_000)] {
        let reading = cpu.read_event(SECOND_NS, id, &mut governor).expect("installed");
        assert_eq!((reading.time_enabled_ns, reading.time_running_ns), (SECOND_NS, SECOND_NS / 2));
        assert_eq!(reading.count, rate / 2);
        assert_eq!(reading.scaled_count(), Some(rate));
        assert_eq!(reading.scaled_error_events(), Some(0));
    }
    assert_eq!(cpu.stats().rotations, 250);
}

#[test]
fn three_events_on_two_counters_each_run_two_thirds_of_the_time() {
    let rates = Rates { cycles_per_s: GHZ_3, instructions_per_s: 6_000_000_000, cache_misses_per_s: 250_000 };
    let (mut cpu, mut governor) = mux_pair(rates, 2, &EventKind::ALL);
    let end_ns = 1_200_000_000;
    for (id, kind) in EventKind::ALL.into_iter().enumerate() {
        let reading = cpu.read_event(end_ns, id as u64, &mut governor).expect("installed");
        assert_eq!(reading.time_running_ns, 800_000_000);
        assert_eq!(reading.scaled_count(), Some(count_between(rates.get(kind), 0, end_ns)));
    }
}

#[test]
fn scaled_error_with_phases_is_reported_against_ground_truth() {
    let mut governor = default_governor();
    let source = EventSource::with_phases(0, PhaseConfig::default(), stream_rng(4, stream_id(2, 0)), 0).expect("ok");
    let mut oracle = source.clone();
    let mut cpu = CpuPmu::new(CpuPmuConfig { counters: 1, ..CpuPmuConfig::default() }, source).expect("valid");
    for (id, kind) in [(0, EventKind::Cycles), (1, EventKind::Instructions)] {
        cpu.add_event(0, id, kind, FOLDING, &mut governor).expect("valid");
    }
    let end_ns = 2 * SECOND_NS;
    for (id, kind) in [(0, EventKind::Cycles), (1, EventKind::Instructions)] {
        let reading = cpu.read_event(end_ns, id, &mut governor).expect("installed");
        let truth = oracle.count_at(kind, end_ns);
        assert_eq!(reading.truth_enabled_events, truth);
        let scaled = reading.count as i128 * end_ns as i128 / reading.time_running_ns as i128;
        let error = reading.scaled_error_events().expect("ran");
        assert_eq!(error, scaled - truth as i128);
        assert_ne!(error, 0, "{} phases should make the estimate miss", kind.as_str());
        assert!(error.unsigned_abs() * 20 < truth as u128, "{} error {error} of {truth}", kind.as_str());
    }
}

#[test]
fn no_pmi_is_handled_on_an_offline_cpu() {
    let mut governor = default_governor();
    let mut cpu = constant_cpu(0, CpuPmuConfig::default(), cycles_only(1_000_000_000));
    let sampling = CounterMode::Sampling { period_events: 1_000_000 };
    cpu.add_event(0, 1, EventKind::Cycles, sampling, &mut governor).expect("valid");
    assert_eq!(cpu.next_event_ns(), Some(1_000_000));
    // Offline 50 ns into the skid: the overflow was raised but its PMI never runs.
    cpu.set_online(1_000_050, false, &mut governor);
    assert_eq!((cpu.stats().overflows, cpu.stats().pmis, cpu.stats().overflows_dropped), (1, 0, 1));
    assert_eq!(cpu.next_event_ns(), None);
    cpu.advance_to(2 * SECOND_NS, &mut governor);
    assert_eq!(cpu.stats().pmis, 0);
    let reading = cpu.read_event(2 * SECOND_NS, 1, &mut governor).expect("installed");
    assert_eq!(reading.count, 1_000_050);
    assert_eq!((reading.time_enabled_ns, reading.time_running_ns), (2 * SECOND_NS, 1_000_050));
    // Back online: the 50 events past the lost overflow shorten the next period, as
    // x86_perf_event_set_period() does with a negative period_left.
    cpu.set_online(2 * SECOND_NS, true, &mut governor);
    assert_eq!(cpu.next_event_ns(), Some(2 * SECOND_NS + 999_950));
    cpu.advance_to(2 * SECOND_NS + 999_950 + DEFAULT_SKID_NS, &mut governor);
    assert_eq!((cpu.stats().pmis, cpu.stats().samples), (1, 1));
}

#[test]
fn phase_changes_wake_a_cpu_only_while_an_overflow_depends_on_the_rate() {
    let mut governor = default_governor();
    let source = EventSource::with_phases(0, PhaseConfig::default(), stream_rng(8, 0), 0).expect("valid");
    let first_change_ns = source.next_change_ns().expect("phased");
    let mut cpu = CpuPmu::new(CpuPmuConfig::default(), source).expect("valid");
    cpu.add_event(0, 1, EventKind::Cycles, NOT_FOLDING, &mut governor).expect("valid");
    assert_eq!(cpu.next_event_ns(), None);
    cpu.add_event(0, 2, EventKind::Cycles, FOLDING, &mut governor).expect("valid");
    assert_eq!(cpu.next_event_ns(), Some(first_change_ns));
}

#[test]
fn bad_cpu_pmu_config_and_requests_name_the_field() {
    let configs = [
        (CpuPmuConfig { counters: 0, ..CpuPmuConfig::default() }, "counters = 0"),
        (CpuPmuConfig { counters: MAX_COUNTERS + 1, ..CpuPmuConfig::default() }, "counters = 65"),
        (CpuPmuConfig { width_bits: 0, ..CpuPmuConfig::default() }, "width_bits = 0"),
        (CpuPmuConfig { width_bits: 65, ..CpuPmuConfig::default() }, "width_bits = 65"),
        (CpuPmuConfig { mux_interval_ns: 0, ..CpuPmuConfig::default() }, "mux_interval_ns = 0"),
        (CpuPmuConfig { skid_ns: MAX_PMI_NS + 1, ..CpuPmuConfig::default() }, "skid_ns = 1000000001"),
    ];
    for (config, field) in configs {
        let source = EventSource::constant(0, Rates::default(), 0).expect("valid rates");
        let error = CpuPmu::new(config, source).expect_err("invalid config");
        assert!(error.to_string().starts_with(field), "{error}");
    }
    let mut governor = default_governor();
    let config = CpuPmuConfig { width_bits: 32, ..CpuPmuConfig::default() };
    let mut cpu = constant_cpu(3, config, cycles_only(GHZ_3));
    let zero = CounterMode::Sampling { period_events: 0 };
    assert_eq!(cpu.add_event(0, 1, EventKind::Cycles, zero, &mut governor), Err(PmuError::PeriodZero));
    let too_long = CounterMode::Sampling { period_events: 1 << 32 };
    let error = cpu.add_event(0, 1, EventKind::Cycles, too_long, &mut governor).expect_err("period ≥ 2^32");
    assert_eq!(error, PmuError::PeriodTooLarge { period_events: 1 << 32, width_bits: 32 });
    assert!(error.to_string().starts_with("period_events = 4294967296"), "{error}");
    cpu.add_event(0, 1, EventKind::Cycles, FOLDING, &mut governor).expect("valid");
    assert_eq!(
        cpu.add_event(0, 1, EventKind::Cycles, FOLDING, &mut governor),
        Err(PmuError::DuplicateEvent { id: 1, cpu: 3 })
    );
    for id in 2..=MAX_EVENTS_PER_CPU as u64 {
        cpu.add_event(0, id, EventKind::Cycles, FOLDING, &mut governor).expect("room");
    }
    assert_eq!(
        cpu.add_event(0, 10_000, EventKind::Cycles, FOLDING, &mut governor),
        Err(PmuError::TooManyEvents { cpu: 3 })
    );
}

/// Sampling cases whose every period outlasts skid plus handler (2 µs), with at most a few
/// thousand PMIs: `(width_bits, period_events, rate_per_s, end_ns)`.
fn sampling_case() -> impl Strategy<Value = (u32, u64, u64, u64)> {
    (MIN_WIDTH_BITS..=MAX_WIDTH_BITS)
        .prop_flat_map(|width_bits| (Just(width_bits), 1..=width_bits.min(63)))
        .prop_flat_map(|(width_bits, period_bits)| {
            let low = 1u64 << (period_bits - 1);
            let high = counter_mask(period_bits).min(counter_mask(width_bits));
            (Just(width_bits), low..=high)
        })
        .prop_flat_map(|(width_bits, period_events)| {
            let max_rate = (period_events as u128 * 500_000).min(MAX_RATE_PER_S as u128) as u64;
            (Just(width_bits), Just(period_events), 1..=max_rate)
        })
        .prop_flat_map(|(width_bits, period_events, rate_per_s)| {
            let for_4000_pmis = 4_000 * period_events as u128 * NS_PER_S as u128 / rate_per_s as u128;
            let max_end_ns = for_4000_pmis.min(400 * NS_PER_S as u128) as u64;
            (Just(width_bits), Just(period_events), Just(rate_per_s), 0..=max_end_ns)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn pmi_count_is_floor_rate_time_over_period((width_bits, period_events, rate_per_s, end_ns) in sampling_case()) {
        let stats = sample_constant(width_bits, rate_per_s, period_events, end_ns);
        let (raised, delivered) = expected_pmis(rate_per_s, period_events, end_ns);
        prop_assert_eq!(stats.overflows, raised);
        prop_assert_eq!(stats.pmis, delivered);
        prop_assert_eq!(stats.samples, delivered);
        prop_assert_eq!(stats.overflows_dropped, 0);
    }

    /// With a constant rate `r`, each running interval `[a, b)` counts `r(b − a)/10^9 + φ(a) − φ(b)`
    /// (φ the fractional part of `r·t/10^9`), so over `k` intervals the count is off by less
    /// than `k`; scaling by `E/R` and flooring give `|scaled − truth| < k·E/R + 1`.
    #[test]
    fn scaled_error_is_within_the_derived_bound_at_any_constant_rate(
        cycles_per_s in 1u64..=5_000_000_000,
        instructions_per_s in 1u64..=5_000_000_000,
        end_ns in 1u64..=400_000_000,
    ) {
        let rates = Rates { cycles_per_s, instructions_per_s, cache_misses_per_s: 0 };
        let (mut cpu, mut governor) = mux_pair(rates, 1, &[EventKind::Cycles, EventKind::Instructions]);
        let interval_ns = DEFAULT_MUX_INTERVAL_NS;
        // Event 0 runs [2iM, (2i+1)M), event 1 runs [(2i+1)M, (2i+2)M).
        let intervals = [
            end_ns.div_ceil(2 * interval_ns),
            end_ns.saturating_sub(interval_ns).div_ceil(2 * interval_ns),
        ];
        for (id, rate) in [(0u64, cycles_per_s), (1, instructions_per_s)] {
            let reading = cpu.read_event(end_ns, id, &mut governor).expect("installed");
            prop_assert_eq!(reading.truth_enabled_events, count_between(rate, 0, end_ns));
            prop_assert_eq!(reading.time_enabled_ns, end_ns);
            let Some(error) = reading.scaled_error_events() else {
                prop_assert_eq!(intervals[id as usize], 0);
                continue;
            };
            let running = reading.time_running_ns as u128;
            let bound = intervals[id as usize] as u128 * end_ns as u128 + running;
            prop_assert!(error.unsigned_abs() * running < bound, "error {} running {}", error, running);
        }
    }
}
