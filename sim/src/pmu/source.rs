//! Hardware event sources: what one CPU produces, per event kind, as exact integer ground truth.
//!
//! A source's rate is piecewise constant: it changes at phase boundaries (random lengths drawn
//! from the caller's stream) and drops to zero while the CPU is offline. The cumulative count
//! is `⌊I(t) / 10^9⌋` with `I(t)` the exact `u128` integral of rate (events/s) × nanoseconds
//! since the origin, so counts over adjacent intervals always sum to the count over their union.

use std::cell::Cell;

use rand::Rng;

use super::PmuError;
use crate::rng::{ChaCha8Rng, exp_ns};

/// Nanoseconds per second: rates are per second, times in nanoseconds.
pub const NS_PER_S: u64 = 1_000_000_000;
/// Highest rate of any event kind (a thousand events per nanosecond); with `u64` times every
/// integral stays below 2^104, far inside `u128`.
pub const MAX_RATE_PER_S: u64 = 1_000_000_000_000;
/// Highest core clock a phase may draw (100 GHz).
pub const MAX_CYCLES_PER_S: u64 = 100_000_000_000;
/// Highest instructions per thousand cycles (IPC 10); with [`MAX_CYCLES_PER_S`] it keeps the
/// instruction rate within [`MAX_RATE_PER_S`].
pub const MAX_INSTRUCTIONS_PER_KILOCYCLE: u64 = 10_000;
/// At most one miss per instruction.
pub const MAX_MISSES_PER_KILOINSTRUCTION: u64 = 1_000;
/// Longest mean phase (1000 s).
pub const MAX_PHASE_NS_MEAN: u64 = 1_000_000_000_000;

/// A hardware event a counter can count (`PERF_TYPE_HARDWARE` generic events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// `PERF_COUNT_HW_CPU_CYCLES`: the core clock.
    Cycles,
    /// `PERF_COUNT_HW_INSTRUCTIONS`: retired instructions, cycles × IPC.
    Instructions,
    /// `PERF_COUNT_HW_CACHE_MISSES`: last-level cache misses.
    CacheMisses,
}

impl EventKind {
    pub const ALL: [EventKind; 3] = [EventKind::Cycles, EventKind::Instructions, EventKind::CacheMisses];
    pub const COUNT: usize = EventKind::ALL.len();

    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }

    /// perf's name for the event.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Cycles => "cycles",
            EventKind::Instructions => "instructions",
            EventKind::CacheMisses => "cache-misses",
        }
    }
}

/// Events per second of each kind, constant over one phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rates {
    pub cycles_per_s: u64,
    pub instructions_per_s: u64,
    pub cache_misses_per_s: u64,
}

impl Rates {
    #[inline]
    pub fn get(&self, kind: EventKind) -> u64 {
        match kind {
            EventKind::Cycles => self.cycles_per_s,
            EventKind::Instructions => self.instructions_per_s,
            EventKind::CacheMisses => self.cache_misses_per_s,
        }
    }

    /// Every rate must be at most [`MAX_RATE_PER_S`].
    pub fn validate(&self) -> Result<(), PmuError> {
        let fields = [
            ("cycles_per_s", self.cycles_per_s),
            ("instructions_per_s", self.instructions_per_s),
            ("cache_misses_per_s", self.cache_misses_per_s),
        ];
        for (field, value) in fields {
            check_range(field, value, 0, MAX_RATE_PER_S)?;
        }
        Ok(())
    }
}

/// How a source draws its phases: each phase lasts an exponential time and has a uniformly drawn
/// clock, IPC and miss rate. Instructions = cycles × IPC; misses = instructions × MPKI / 1000.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhaseConfig {
    /// Mean phase length; lengths are exponential, at least 1 ns.
    pub phase_ns_mean: u64,
    pub cycles_per_s_min: u64,
    pub cycles_per_s_max: u64,
    /// IPC × 1000.
    pub instructions_per_kilocycle_min: u64,
    pub instructions_per_kilocycle_max: u64,
    /// MPKI: last-level misses per 1000 instructions.
    pub misses_per_kiloinstruction_min: u64,
    pub misses_per_kiloinstruction_max: u64,
}

impl Default for PhaseConfig {
    /// Program phases of tens of milliseconds on a 2–3.5 GHz core with IPC 0.5–3 and MPKI 1–30.
    fn default() -> Self {
        PhaseConfig {
            phase_ns_mean: 20_000_000,
            cycles_per_s_min: 2_000_000_000,
            cycles_per_s_max: 3_500_000_000,
            instructions_per_kilocycle_min: 500,
            instructions_per_kilocycle_max: 3_000,
            misses_per_kiloinstruction_min: 1,
            misses_per_kiloinstruction_max: 30,
        }
    }
}

impl PhaseConfig {
    pub fn validate(&self) -> Result<(), PmuError> {
        check_range("phase_ns_mean", self.phase_ns_mean, 1, MAX_PHASE_NS_MEAN)?;
        let ranges = [
            ("cycles_per_s_min", self.cycles_per_s_min, "cycles_per_s_max", self.cycles_per_s_max, MAX_CYCLES_PER_S),
            (
                "instructions_per_kilocycle_min",
                self.instructions_per_kilocycle_min,
                "instructions_per_kilocycle_max",
                self.instructions_per_kilocycle_max,
                MAX_INSTRUCTIONS_PER_KILOCYCLE,
            ),
            (
                "misses_per_kiloinstruction_min",
                self.misses_per_kiloinstruction_min,
                "misses_per_kiloinstruction_max",
                self.misses_per_kiloinstruction_max,
                MAX_MISSES_PER_KILOINSTRUCTION,
            ),
        ];
        for (min_field, min, max_field, max, limit) in ranges {
            check_range(max_field, max, 0, limit)?;
            if min > max {
                return Err(PmuError::EmptyRange { min_field, min, max_field, max });
            }
        }
        Ok(())
    }

    /// Draws one phase: its length, then clock, IPC and MPKI, in that order (the stream contract).
    fn draw(&self, rng: &mut ChaCha8Rng) -> (u64, Rates) {
        let length_ns = exp_ns(rng, self.phase_ns_mean as f64).max(1);
        let cycles_per_s = rng.random_range(self.cycles_per_s_min..=self.cycles_per_s_max);
        let per_kilocycle = rng.random_range(self.instructions_per_kilocycle_min..=self.instructions_per_kilocycle_max);
        let per_kiloinstruction =
            rng.random_range(self.misses_per_kiloinstruction_min..=self.misses_per_kiloinstruction_max);
        let instructions_per_s = cycles_per_s * per_kilocycle / 1000;
        let cache_misses_per_s = instructions_per_s * per_kiloinstruction / 1000;
        (length_ns, Rates { cycles_per_s, instructions_per_s, cache_misses_per_s })
    }
}

pub(crate) fn check_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), PmuError> {
    if value < min || value > max {
        return Err(PmuError::OutOfRange { field, value, min, max });
    }
    Ok(())
}

/// Events of a constant rate `rate_per_s` in `[t0_ns, t1_ns)`, counted from origin 0:
/// `⌊r·t1 / 10^9⌋ − ⌊r·t0 / 10^9⌋`. Splits of an interval sum exactly to the whole.
pub fn count_between(rate_per_s: u64, t0_ns: u64, t1_ns: u64) -> u64 {
    assert!(t0_ns <= t1_ns, "interval [{t0_ns}, {t1_ns}) runs backwards");
    let at = |t_ns: u64| (rate_per_s as u128 * t_ns as u128) / NS_PER_S as u128;
    u64::try_from(at(t1_ns) - at(t0_ns)).expect("more than 2^64 events in one interval")
}

#[derive(Clone, Debug)]
enum PhasePlan {
    Constant,
    /// The stream is boxed so that a constant source stays small.
    Random {
        config: PhaseConfig,
        rng: Box<ChaCha8Rng>,
    },
}

/// One CPU's hardware events: piecewise-constant rates, exact cumulative counts, and the exact
/// time at which a count will be reached. Time only moves forward.
#[derive(Clone, Debug)]
pub struct EventSource {
    id: u32,
    plan: PhasePlan,
    phase_rates: Rates,
    /// When the current phase ends; `None` for a constant source.
    phase_end_ns: Option<u64>,
    running: bool,
    /// The current constant-rate segment starts at the later of the phase start and the last
    /// `set_running` change.
    segment_start_ns: u64,
    /// `I(segment_start_ns)` per kind, in events × 10^-9 (rate per second × nanoseconds), kept
    /// split as `I / 10^9` and `I mod 10^9` so that counts and times within the segment need
    /// only 64-bit division.
    segment_start_count: [u128; EventKind::COUNT],
    segment_start_rem: [u64; EventKind::COUNT],
    /// Segments closed so far: a time solved for in one segment holds until this changes.
    segments_closed: u64,
    now_ns: u64,
    /// The last count asked for, `(time_ns, kind, count)`: each is a `u128` division, and one
    /// step asks for the same count several times. `C(t)` depends on `t` alone, so it never goes stale.
    count_memo: Cell<Option<(u64, EventKind, u64)>>,
}

impl EventSource {
    /// A source of constant rates with count 0 at `origin_ns`, running.
    pub fn constant(id: u32, rates: Rates, origin_ns: u64) -> Result<EventSource, PmuError> {
        rates.validate()?;
        Ok(EventSource::running(id, PhasePlan::Constant, rates, None, origin_ns))
    }

    /// A source whose phases are drawn from `rng` (the CPU's own stream), with count 0 at
    /// `origin_ns`, running. Phases follow time whether or not the source is running.
    pub fn with_phases(
        id: u32,
        config: PhaseConfig,
        mut rng: ChaCha8Rng,
        origin_ns: u64,
    ) -> Result<EventSource, PmuError> {
        config.validate()?;
        let (length_ns, phase_rates) = config.draw(&mut rng);
        let plan = PhasePlan::Random { config, rng: Box::new(rng) };
        Ok(EventSource::running(id, plan, phase_rates, Some(origin_ns.saturating_add(length_ns)), origin_ns))
    }

    /// A running source with count 0 at `origin_ns`, in its first phase.
    fn running(id: u32, plan: PhasePlan, phase_rates: Rates, phase_end_ns: Option<u64>, origin_ns: u64) -> EventSource {
        EventSource {
            id,
            plan,
            phase_rates,
            phase_end_ns,
            running: true,
            segment_start_ns: origin_ns,
            segment_start_count: [0; EventKind::COUNT],
            segment_start_rem: [0; EventKind::COUNT],
            segments_closed: 0,
            now_ns: origin_ns,
            count_memo: Cell::new(None),
        }
    }

    /// The CPU this source belongs to; counters check it so a count is never read off the wrong CPU.
    #[inline]
    pub fn id(&self) -> u32 {
        self.id
    }

    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    #[inline]
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The current phase's rates (what the CPU would produce if running).
    pub fn phase_rates(&self) -> Rates {
        self.phase_rates
    }

    /// The rate now: the phase's rate while running, 0 while stopped.
    #[inline]
    pub fn rate_per_s(&self, kind: EventKind) -> u64 {
        if self.running { self.phase_rates.get(kind) } else { 0 }
    }

    /// When the current phase ends and the rates change; `None` if they never do.
    #[inline]
    pub fn next_change_ns(&self) -> Option<u64> {
        self.phase_end_ns
    }

    /// Identifies the current constant-rate segment: every [`time_of_count`](Self::time_of_count)
    /// answer stays exact while this is unchanged.
    #[inline]
    pub fn segment(&self) -> u64 {
        self.segments_closed
    }

    /// Moves the source's clock to `now_ns`, entering every phase that starts at or before it.
    #[inline]
    pub fn advance_to(&mut self, now_ns: u64) {
        assert!(now_ns >= self.now_ns, "source {} moved back from {} ns to {now_ns} ns", self.id, self.now_ns);
        if self.phase_end_ns.is_some_and(|end_ns| end_ns <= now_ns) {
            self.enter_phases_to(now_ns);
        }
        self.now_ns = now_ns;
    }

    /// Enters every phase that starts at or before `now_ns`; kept out of line, as most calls
    /// stay within the phase.
    #[inline(never)]
    fn enter_phases_to(&mut self, now_ns: u64) {
        while let Some(end_ns) = self.phase_end_ns.filter(|&end_ns| end_ns <= now_ns) {
            self.close_segment(end_ns);
            let PhasePlan::Random { config, rng } = &mut self.plan else {
                unreachable!("a constant source has no phase end");
            };
            let (length_ns, rates) = config.draw(rng);
            self.phase_rates = rates;
            self.phase_end_ns = Some(end_ns.saturating_add(length_ns));
        }
    }

    /// Starts or stops production at `now_ns` (the CPU comes online or goes offline). The
    /// fraction of an event accumulated so far is kept, so stopping never loses or invents events.
    pub fn set_running(&mut self, now_ns: u64, running: bool) {
        self.advance_to(now_ns);
        if self.running != running {
            self.close_segment(now_ns);
            self.running = running;
        }
    }

    /// The cumulative count of `kind` from the origin to the source's clock.
    #[inline]
    pub fn count(&self, kind: EventKind) -> u64 {
        if let Some((time_ns, memo_kind, count)) = self.count_memo.get()
            && time_ns == self.now_ns
            && memo_kind == kind
        {
            return count;
        }
        // C = (I0 + r·Δt) / 10^9 = I0 / 10^9 + (I0 mod 10^9 + r·Δt) / 10^9, in 64 bits when r·Δt fits.
        let k = kind.index();
        let produced = self.rate_per_s(kind) as u128 * (self.now_ns - self.segment_start_ns) as u128;
        let within = match u64::try_from(produced).ok().and_then(|p| p.checked_add(self.segment_start_rem[k])) {
            Some(sum) => (sum / NS_PER_S) as u128,
            None => (self.segment_start_rem[k] as u128 + produced) / NS_PER_S as u128,
        };
        let count = self.segment_start_count[k] + within;
        assert!(count <= u64::MAX as u128, "source {} produced more than 2^64 {} events", self.id, kind.as_str());
        self.count_memo.set(Some((self.now_ns, kind, count as u64)));
        count as u64
    }

    /// [`advance_to`](Self::advance_to) `now_ns`, then [`count`](Self::count).
    pub fn count_at(&mut self, kind: EventKind, now_ns: u64) -> u64 {
        self.advance_to(now_ns);
        self.count(kind)
    }

    /// The first nanosecond at which the cumulative count of `kind` reaches `target`, if the
    /// current rate holds: `None` if the rate is 0 or the time is past `u64::MAX`. Exact up to
    /// [`next_change_ns`](Self::next_change_ns). `target` must lie ahead of the current count.
    #[inline]
    pub fn time_of_count(&self, kind: EventKind, target: u128) -> Option<u64> {
        assert!(
            target > self.count(kind) as u128,
            "source {}: count {target} of {} is not in the future (now {})",
            self.id,
            kind.as_str(),
            self.count(kind)
        );
        let rate = self.rate_per_s(kind) as u128;
        if rate == 0 {
            return None;
        }
        // needed = target·10^9 − I0 = (target − I0 / 10^9)·10^9 − I0 mod 10^9, in 64 bits when it fits.
        let k = kind.index();
        let ahead = target - self.segment_start_count[k];
        let needed = ahead * NS_PER_S as u128 - self.segment_start_rem[k] as u128;
        let elapsed_ns = match (u64::try_from(needed), u64::try_from(rate)) {
            (Ok(needed), Ok(rate)) => needed.div_ceil(rate) as u128,
            _ => needed.div_ceil(rate),
        };
        u64::try_from(self.segment_start_ns as u128 + elapsed_ns).ok()
    }

    fn integral_at(&self, kind: EventKind, time_ns: u64) -> u128 {
        debug_assert!(time_ns >= self.segment_start_ns);
        let elapsed_ns = (time_ns - self.segment_start_ns) as u128;
        let k = kind.index();
        let start = self.segment_start_count[k] * NS_PER_S as u128 + self.segment_start_rem[k] as u128;
        start + self.rate_per_s(kind) as u128 * elapsed_ns
    }

    fn close_segment(&mut self, end_ns: u64) {
        for kind in EventKind::ALL {
            let integral = self.integral_at(kind, end_ns);
            let k = kind.index();
            self.segment_start_count[k] = integral / NS_PER_S as u128;
            self.segment_start_rem[k] = (integral % NS_PER_S as u128) as u64;
        }
        self.segment_start_ns = end_ns;
        self.segments_closed += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream_rng;
    use proptest::prelude::*;

    const GHZ_3: Rates = Rates { cycles_per_s: 3_000_000_000, instructions_per_s: 0, cache_misses_per_s: 0 };

    fn phased(seed: u64) -> EventSource {
        let config = PhaseConfig { phase_ns_mean: 1_000_000, ..PhaseConfig::default() };
        EventSource::with_phases(0, config, stream_rng(seed, 3), 0).expect("valid phases")
    }

    #[test]
    fn constant_source_counts_floor_rate_times_time() {
        let rates = Rates { cycles_per_s: 2_999_999_999, instructions_per_s: 7, cache_misses_per_s: 0 };
        let mut source = EventSource::constant(0, rates, 0).expect("valid rates");
        for t_ns in [0, 1, 333_333_333, 1_000_000_000, 3_600_000_000_123] {
            source.advance_to(t_ns);
            assert_eq!(source.count(EventKind::Cycles), count_between(rates.cycles_per_s, 0, t_ns));
            assert_eq!(source.count(EventKind::Instructions), (7 * t_ns as u128 / 1_000_000_000) as u64);
            assert_eq!(source.count(EventKind::CacheMisses), 0);
        }
    }

    #[test]
    fn source_origin_is_count_zero() {
        let mut source = EventSource::constant(0, GHZ_3, 5_000).expect("valid rates");
        assert_eq!(source.count(EventKind::Cycles), 0);
        assert_eq!(source.count_at(EventKind::Cycles, 5_001), 3);
    }

    #[test]
    fn offline_source_produces_nothing_and_keeps_its_fraction() {
        let rate = Rates { cycles_per_s: 1_500_000_001, ..Rates::default() };
        let mut source = EventSource::constant(0, rate, 0).expect("valid rates");
        source.set_running(1_000_000_007, false);
        let before = source.count(EventKind::Cycles);
        assert_eq!(source.count_at(EventKind::Cycles, 9_000_000_000), before);
        assert_eq!(source.rate_per_s(EventKind::Cycles), 0);
        source.set_running(9_000_000_000, true);
        // Time off the CPU does not exist for the source: the count is as if the clock had paused.
        let running_ns = 1_000_000_007 + (12_345_678_901 - 9_000_000_000);
        assert_eq!(source.count_at(EventKind::Cycles, 12_345_678_901), count_between(1_500_000_001, 0, running_ns));
    }

    #[test]
    fn queries_do_not_perturb_a_phased_source() {
        let mut queried = phased(11);
        let mut untouched = queried.clone();
        let mut last = 0;
        for t_ns in (0..2_000).map(|i| i * 1_234_567) {
            let count = queried.count_at(EventKind::Instructions, t_ns);
            assert!(count >= last);
            last = count;
        }
        let end_ns = 2_000 * 1_234_567;
        for kind in EventKind::ALL {
            assert_eq!(queried.count_at(kind, end_ns), untouched.count_at(kind, end_ns));
        }
    }

    #[test]
    fn phased_count_is_floor_of_the_exact_integral() {
        let mut source = phased(5);
        let mut integral: u128 = 0;
        let mut now_ns = 0;
        while now_ns < 50_000_000 {
            let rate = source.rate_per_s(EventKind::Cycles) as u128;
            let end_ns = source.next_change_ns().expect("phased");
            integral += rate * (end_ns - now_ns) as u128;
            now_ns = end_ns;
            assert_eq!(source.count_at(EventKind::Cycles, now_ns) as u128, integral / 1_000_000_000);
        }
    }

    #[test]
    fn phases_are_deterministic_per_stream() {
        let (mut a, mut b, mut c) = (phased(1), phased(1), phased(2));
        let t_ns = 100_000_000;
        assert_eq!(a.count_at(EventKind::Cycles, t_ns), b.count_at(EventKind::Cycles, t_ns));
        assert_ne!(a.count_at(EventKind::Cycles, t_ns), c.count_at(EventKind::Cycles, t_ns));
    }

    #[test]
    fn bad_rates_and_phases_name_the_field() {
        let too_fast = Rates { instructions_per_s: MAX_RATE_PER_S + 1, ..Rates::default() };
        let error = EventSource::constant(0, too_fast, 0).expect_err("rate above the limit");
        assert!(error.to_string().contains("instructions_per_s"), "{error}");
        let backwards = PhaseConfig { cycles_per_s_min: 4_000_000_000, ..PhaseConfig::default() };
        let error = backwards.validate().expect_err("min above max");
        assert!(error.to_string().contains("cycles_per_s_min") && error.to_string().contains("cycles_per_s_max"));
        let no_phase = PhaseConfig { phase_ns_mean: 0, ..PhaseConfig::default() };
        assert!(no_phase.validate().expect_err("zero mean").to_string().contains("phase_ns_mean"));
        let ipc = PhaseConfig { instructions_per_kilocycle_max: 10_001, ..PhaseConfig::default() };
        assert!(ipc.validate().expect_err("IPC above 10").to_string().contains("instructions_per_kilocycle_max"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_split_of_an_interval_sums_to_the_whole(
            rate in 0u64..=MAX_RATE_PER_S,
            t0 in 0u64..1 << 44,
            lengths in proptest::collection::vec(0u64..1 << 36, 0..20),
        ) {
            let mut cuts = vec![t0];
            for length in lengths {
                let last = *cuts.last().expect("non-empty");
                cuts.push(last + length);
            }
            let t1 = *cuts.last().expect("non-empty");
            let pieces: u64 = cuts.windows(2).map(|w| count_between(rate, w[0], w[1])).sum();
            prop_assert_eq!(pieces, count_between(rate, t0, t1));
        }

        /// Across phases and stops, counts and solved times match the plain `u128` formulas:
        /// `C = I / 10^9` and `t = start + ⌈(target·10^9 − I0) / r⌉`, on both the 64-bit path
        /// and the wide one (up to 2^60 events ahead).
        #[test]
        fn counts_and_times_match_the_u128_formulas_across_segments(
            seed in 0u64..1_000,
            steps in proptest::collection::vec((1u64..1 << 34, any::<bool>(), 0u32..60), 1..30),
        ) {
            let mut source = phased(seed);
            let mut now_ns = 0;
            for (advance_ns, toggle, ahead_bits) in steps {
                now_ns += advance_ns;
                if toggle {
                    let running = !source.is_running();
                    source.set_running(now_ns, running);
                } else {
                    source.advance_to(now_ns);
                }
                for kind in EventKind::ALL {
                    let integral = source.integral_at(kind, now_ns);
                    prop_assert_eq!(source.count(kind) as u128, integral / NS_PER_S as u128);
                    let target = integral / NS_PER_S as u128 + (1u128 << ahead_bits);
                    let rate = source.rate_per_s(kind) as u128;
                    let start = source.integral_at(kind, source.segment_start_ns);
                    let expected = (rate > 0)
                        .then(|| source.segment_start_ns as u128 + (target * NS_PER_S as u128 - start).div_ceil(rate))
                        .and_then(|t| u64::try_from(t).ok());
                    prop_assert_eq!(source.time_of_count(kind, target), expected);
                }
            }
        }

        #[test]
        fn time_of_count_is_the_first_nanosecond_the_count_is_reached(
            rate in 1u64..=MAX_RATE_PER_S,
            start_ns in 0u64..1 << 40,
            ahead in 1u64..1 << 40,
        ) {
            let mut source = EventSource::constant(0, Rates { cycles_per_s: rate, ..Rates::default() }, 0)
                .expect("valid rates");
            source.advance_to(start_ns);
            let target = source.count(EventKind::Cycles) + ahead;
            let t_ns = source.time_of_count(EventKind::Cycles, target as u128).expect("positive rate");
            prop_assert!(t_ns > start_ns);
            prop_assert!(count_between(rate, 0, t_ns) >= target);
            prop_assert!(count_between(rate, 0, t_ns - 1) < target);
        }
    }
}
