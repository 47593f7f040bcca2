//! One hardware counter and the `perf_event` state that drives it: the value mod 2^width, the
//! 64-bit `event->count`, `hwc->period_left`, `hwc->prev_count` and per-tick interrupt accounting.
//!
//! The hardware value is never stepped: it is `programmed + (C(now) − C(programmed))` mod
//! 2^width, read from the source's exact count, and the next overflow is solved for directly.

use super::PmuError;
use super::source::{EventKind, EventSource};

/// Narrowest counter the model accepts.
pub const MIN_WIDTH_BITS: u32 = 1;
/// Widest counter (Arm PMUv3p5, x86 with 64-bit counters).
pub const MAX_WIDTH_BITS: u32 = 64;
/// Largest sample period: `perf_event_open()` rejects `attr.sample_period` with bit 63 set.
pub const MAX_PERIOD_EVENTS: u64 = (1 << 63) - 1;

/// `2^width − 1`: the bits a counter of `width_bits` holds (x86's `cntval_mask`).
#[inline]
pub fn counter_mask(width_bits: u32) -> u64 {
    assert!((MIN_WIDTH_BITS..=MAX_WIDTH_BITS).contains(&width_bits), "width_bits = {width_bits}");
    u64::MAX >> (64 - width_bits)
}

/// The events between two raw reads of a `width_bits` counter, mod 2^width.
/// Mirrors x86_perf_event_update(): `((new << s) − (prev << s)) >> s` with `s = 64 − width`.
#[inline]
pub fn shift_delta(prev_hw: u64, new_hw: u64, width_bits: u32) -> u64 {
    assert!((MIN_WIDTH_BITS..=MAX_WIDTH_BITS).contains(&width_bits), "width_bits = {width_bits}");
    let shift = 64 - width_bits;
    (new_hw << shift).wrapping_sub(prev_hw << shift) >> shift
}

/// The period a counting event programs: x86's `max_period`, `2^(width−1) − 1`, so the PMI
/// folds the hardware value into the 64-bit count with half the counter's range to spare.
#[inline]
pub fn fold_period_events(width_bits: u32) -> u64 {
    assert!((2..=MAX_WIDTH_BITS).contains(&width_bits), "a counting event needs 2 to 64 bits, not {width_bits}");
    (1u64 << (width_bits - 1)) - 1
}

/// What the counter is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterMode {
    /// `perf record`: a PMI and a sample every `period_events` events (`attr.sample_period`),
    /// programmed whole: any period below 2^width fits the counter.
    Sampling { period_events: u64 },
    /// `perf stat`: with `fold_on_overflow`, a PMI every [`fold_period_events`] folds the
    /// counter before it wraps. Without it the counter free-runs from 0, raises no PMI and is
    /// only read by its reader, so a wrap between two reads is lost.
    Counting { fold_on_overflow: bool },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CounterConfig {
    pub kind: EventKind,
    pub width_bits: u32,
    pub mode: CounterMode,
}

impl CounterConfig {
    pub fn sampling(kind: EventKind, width_bits: u32, period_events: u64) -> CounterConfig {
        CounterConfig { kind, width_bits, mode: CounterMode::Sampling { period_events } }
    }

    /// A counting event that folds on overflow, as the kernel always does.
    pub fn counting(kind: EventKind, width_bits: u32) -> CounterConfig {
        CounterConfig { kind, width_bits, mode: CounterMode::Counting { fold_on_overflow: true } }
    }

    pub fn validate(&self) -> Result<(), PmuError> {
        if !(MIN_WIDTH_BITS..=MAX_WIDTH_BITS).contains(&self.width_bits) {
            return Err(PmuError::WidthBits(self.width_bits));
        }
        match self.mode {
            CounterMode::Sampling { period_events: 0 } => Err(PmuError::PeriodZero),
            CounterMode::Sampling { period_events } => {
                if period_events > counter_mask(self.width_bits) || period_events > MAX_PERIOD_EVENTS {
                    return Err(PmuError::PeriodTooLarge { period_events, width_bits: self.width_bits });
                }
                Ok(())
            }
            CounterMode::Counting { .. } if self.width_bits < 2 => Err(PmuError::CountingWidthBits(self.width_bits)),
            CounterMode::Counting { .. } => Ok(()),
        }
    }

    /// `hwc->sample_period`: the sampling period, or the fold period; `None` for a counter that
    /// free-runs without PMIs.
    pub fn period_events(&self) -> Option<u64> {
        match self.mode {
            CounterMode::Sampling { period_events } => Some(period_events),
            CounterMode::Counting { fold_on_overflow: true } => Some(fold_period_events(self.width_bits)),
            CounterMode::Counting { fold_on_overflow: false } => None,
        }
    }

    #[inline]
    pub fn raises_pmi(&self) -> bool {
        self.period_events().is_some()
    }

    #[inline]
    pub fn is_sampling(&self) -> bool {
        matches!(self.mode, CounterMode::Sampling { .. })
    }
}

/// What handling one overflowed counter in a PMI did (one bit of handle_pmi_common()).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PmiOutcome {
    /// The value was folded into the 64-bit count and the counter reprogrammed; no sample
    /// (a counting event, whose PMI __perf_event_overflow() ignores).
    Folded,
    /// A sample was recorded.
    Sampled,
    /// A sample was recorded and the event reached its per-tick limit: it is stopped until the
    /// next tick.
    SampledThrottled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HwState {
    /// Not on a counter: never started, scheduled out, removed, or its CPU is offline.
    Stopped,
    /// Counting on source `source_id` since it was written with `programmed_hw` when the
    /// source's count was `programmed_source_count`; last read at `read_source_count`.
    Counting { source_id: u32, programmed_source_count: u64, programmed_hw: u64, read_source_count: u64 },
    /// Still on its counter but stopped by the throttle, since the source's count was
    /// `since_source_count`.
    Throttled { source_id: u32, since_source_count: u64 },
}

/// A hardware counter with its event's software state.
#[derive(Clone, Debug)]
pub struct Counter {
    config: CounterConfig,
    /// `event->count`, wrapping like `local64_t`.
    count: u64,
    /// `hwc->period_left`; `i128` so that no overshoot can overflow it.
    period_left: i128,
    /// `hwc->prev_count`: the raw value at the last read or write.
    prev_hw: u64,
    state: HwState,
    /// `hwc->interrupts` and the tick it counts for (`hwc->interrupts_seq`).
    interrupts: u64,
    interrupts_tick: Option<u64>,
    truth_running_events: u64,
    wraps_lost: u64,
    /// Wraps of a counter that raises no PMI (see [`Counter::unraised_wraps`]).
    unraised_wraps: u64,
    overflows_handled: u64,
    samples: u64,
    samples_throttled: u64,
    throttles: u64,
}

impl Counter {
    /// A stopped counter with a full first period: perf_event_alloc() sets `period_left` to the
    /// period, so the first start preloads `−period`.
    pub fn new(config: CounterConfig) -> Result<Counter, PmuError> {
        config.validate()?;
        Ok(Counter {
            config,
            count: 0,
            period_left: config.period_events().unwrap_or(0) as i128,
            prev_hw: 0,
            state: HwState::Stopped,
            interrupts: 0,
            interrupts_tick: None,
            truth_running_events: 0,
            wraps_lost: 0,
            unraised_wraps: 0,
            overflows_handled: 0,
            samples: 0,
            samples_throttled: 0,
            throttles: 0,
        })
    }

    #[inline]
    pub fn config(&self) -> &CounterConfig {
        &self.config
    }

    /// `event->count` as of the last update (start, stop, read or PMI).
    #[inline]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// `hwc->period_left`: events until the next sample (or fold) is due, ≤ 0 once it is.
    #[inline]
    pub fn period_left_events(&self) -> i128 {
        self.period_left
    }

    #[inline]
    pub fn is_counting(&self) -> bool {
        matches!(self.state, HwState::Counting { .. })
    }

    #[inline]
    pub fn is_throttled(&self) -> bool {
        matches!(self.state, HwState::Throttled { .. })
    }

    #[inline]
    pub fn is_stopped(&self) -> bool {
        self.state == HwState::Stopped
    }

    /// Ground truth: the source's events while this counter was counting, up to the last update.
    /// With no lost wrap, [`count`](Self::count) equals it.
    #[inline]
    pub fn truth_running_events(&self) -> u64 {
        self.truth_running_events
    }

    /// Whole 2^width blocks of events the shift trick could not see because the counter wrapped
    /// more than once between two reads: `truth_running_events − count = wraps_lost × 2^width`.
    #[inline]
    pub fn wraps_lost(&self) -> u64 {
        self.wraps_lost
    }

    /// Times the value of a counter that raises no PMI (a counting event without folding)
    /// passed 2^width, up to the last update; a counter with PMIs wraps once per overflow.
    #[inline]
    pub fn unraised_wraps(&self) -> u64 {
        self.unraised_wraps
    }

    pub fn overflows_handled(&self) -> u64 {
        self.overflows_handled
    }

    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Samples the event would have taken while throttled.
    pub fn samples_throttled(&self) -> u64 {
        self.samples_throttled
    }

    /// Times the event was throttled.
    pub fn throttles(&self) -> u64 {
        self.throttles
    }

    /// The raw counter value at the source's clock, while counting.
    #[inline]
    pub fn hw_value(&self, source: &EventSource) -> Option<u64> {
        match self.state {
            HwState::Counting { source_id, programmed_source_count, programmed_hw, .. } => {
                assert_eq!(source_id, source.id(), "counter read off cpu {} but runs on cpu {source_id}", source.id());
                let elapsed = source.count(self.config.kind) - programmed_source_count;
                Some(programmed_hw.wrapping_add(elapsed) & self.mask())
            }
            _ => None,
        }
    }

    /// Puts the counter on `source` at `now_ns`.
    /// Mirrors x86_pmu_start(PERF_EF_RELOAD): x86_perf_event_set_period() writes `−left`.
    pub fn start(&mut self, source: &mut EventSource, now_ns: u64) {
        assert!(self.is_stopped(), "counter started twice");
        source.advance_to(now_ns);
        let hw = if self.config.raises_pmi() { self.set_period().1 } else { self.prev_hw };
        self.program(source, hw);
    }

    /// Takes the counter off its source at `now_ns`, folding what it counted into `count`.
    /// Mirrors x86_pmu_stop(PERF_EF_UPDATE); a throttled event is un-throttled as
    /// event_sched_in() would on its next start.
    pub fn stop(&mut self, source: &mut EventSource, now_ns: u64) {
        source.advance_to(now_ns);
        match self.state {
            HwState::Counting { .. } => self.update(source),
            HwState::Throttled { .. } => {
                self.account_throttled(source);
                self.interrupts = 0;
            }
            HwState::Stopped => return,
        }
        self.state = HwState::Stopped;
    }

    /// Folds the hardware value into `count` at `now_ns` and returns it (pmu->read).
    pub fn read(&mut self, source: &mut EventSource, now_ns: u64) -> u64 {
        source.advance_to(now_ns);
        if self.is_counting() {
            self.update(source);
        }
        self.count
    }

    /// Whether the counter has wrapped to 0 since it was last programmed (the overflow bit).
    #[inline]
    pub fn overflow_reached(&self, source: &EventSource) -> bool {
        self.first_wrap_count(source).is_some_and(|first| source.count(self.config.kind) as u128 >= first)
    }

    /// The first nanosecond at which the hardware value next reaches 0 mod 2^width after the
    /// source's current count, at the source's current rate: exact until
    /// `source.next_change_ns()`, so recompute it whenever the rate or the counter's state changes.
    /// `None` when not counting or the rate is 0.
    pub fn next_overflow_ns(&self, source: &EventSource) -> Option<u64> {
        let first = self.first_wrap_count(source)?;
        let now = source.count(self.config.kind) as u128;
        let width = self.config.width_bits;
        let target = if now < first { first } else { first + ((((now - first) >> width) + 1) << width) };
        source.time_of_count(self.config.kind, target)
    }

    /// [`next_overflow_ns`](Self::next_overflow_ns) for a counter still counting towards its
    /// first wrap since it was programmed; asserts that wrap has not passed unseen.
    #[inline]
    pub fn pending_overflow_ns(&self, source: &EventSource) -> Option<u64> {
        let first = self.first_wrap_count(source)?;
        let now = source.count(self.config.kind) as u128;
        assert!(now < first, "counter on cpu {} overflowed unseen at count {now}", source.id());
        source.time_of_count(self.config.kind, first)
    }

    /// Handles this counter's overflow in a PMI at `now_ns` during tick `tick`.
    /// Mirrors one iteration of handle_pmi_common(): x86_perf_event_update(), then
    /// x86_perf_event_set_period(), then for a sampling event perf_event_overflow(), whose
    /// __perf_event_account_interrupt() throttles once the tick's limit is reached.
    #[inline]
    pub fn handle_pmi(
        &mut self,
        source: &mut EventSource,
        now_ns: u64,
        tick: u64,
        max_samples_per_tick: u64,
    ) -> PmiOutcome {
        assert!(self.config.raises_pmi(), "PMI on a counter without interrupts");
        assert!(self.is_counting(), "PMI on a counter that is not counting");
        source.advance_to(now_ns);
        // The CPU asserted the overflow when it raised it, and counts only grow.
        debug_assert!(self.overflow_reached(source), "PMI before the counter overflowed");
        self.update(source);
        let (period_elapsed, hw) = self.set_period();
        self.program(source, hw);
        self.overflows_handled += 1;
        if !period_elapsed || !self.config.is_sampling() {
            return PmiOutcome::Folded;
        }
        self.samples += 1;
        if self.account_interrupt(tick, max_samples_per_tick) {
            let since_source_count = source.count(self.config.kind);
            self.state = HwState::Throttled { source_id: source.id(), since_source_count };
            self.throttles += 1;
            return PmiOutcome::SampledThrottled;
        }
        PmiOutcome::Sampled
    }

    /// Restarts a throttled counter at a tick.
    /// Mirrors perf_adjust_freq_unthr_context(): `hwc->interrupts = 0; pmu->start(event, 0)`,
    /// which resumes from the value the PMI handler wrote.
    pub fn unthrottle(&mut self, source: &mut EventSource, now_ns: u64) {
        assert!(self.is_throttled(), "unthrottle of a counter that is not throttled");
        source.advance_to(now_ns);
        self.account_throttled(source);
        self.interrupts = 0;
        self.program(source, self.prev_hw);
    }

    /// Mirrors x86_perf_event_update(): the shift-trick delta, plus a wrap the overflow bit reports,
    /// is added to `count` and taken off `period_left`. Ground truth and lost wraps are kept beside it.
    #[inline]
    fn update(&mut self, source: &EventSource) {
        let mask = self.mask();
        let raises_pmi = self.config.raises_pmi();
        let HwState::Counting { source_id, programmed_source_count, programmed_hw, read_source_count } =
            &mut self.state
        else {
            panic!("update of a counter that is not counting");
        };
        assert_eq!(*source_id, source.id(), "counter read off cpu {} but runs on cpu {source_id}", source.id());
        let now_count = source.count(self.config.kind);
        // hw_value() and first_wrap_count(), from the state already at hand.
        let new_hw = programmed_hw.wrapping_add(now_count - *programmed_source_count) & mask;
        let first_wrap = raises_pmi.then(|| *programmed_source_count as u128 + (mask - *programmed_hw) as u128 + 1);
        let true_delta = now_count - *read_source_count;
        // shift_delta(): ((new << s) − (prev << s)) >> s is (new − prev) mod 2^width.
        let mut delta = (new_hw.wrapping_sub(self.prev_hw) & mask) as u128;
        // A whole period leaves only 2^width − period events after the overflow; if the skid holds
        // more, the value overtakes the preload and the shift trick alone misses the wrap that raised
        // the PMI. x86 and Arm avoid this by clamping the period to at most half the counter.
        let wrap_missed =
            first_wrap.is_some_and(|first| *read_source_count as u128 + delta < first && first <= now_count as u128);
        if wrap_missed {
            delta += mask as u128 + 1;
        }
        *read_source_count = now_count;
        let delta = u64::try_from(delta).expect("a wrap credited to a 64-bit counter");
        if !raises_pmi {
            // From the last read's value, `true_delta` events pass 2^width this many times.
            self.unraised_wraps += ((self.prev_hw as u128 + true_delta as u128) >> self.config.width_bits) as u64;
        }
        self.prev_hw = new_hw;
        self.count = self.count.wrapping_add(delta);
        self.period_left -= delta as i128;
        self.truth_running_events += true_delta;
        let unseen = true_delta - delta;
        assert_eq!(unseen & mask, 0, "shift trick lost a partial wrap");
        self.wraps_lost += unseen.checked_shr(self.config.width_bits).unwrap_or(0);
    }

    /// `2^width − 1` for this counter's width, validated when it was built.
    #[inline]
    fn mask(&self) -> u64 {
        debug_assert!((MIN_WIDTH_BITS..=MAX_WIDTH_BITS).contains(&self.config.width_bits));
        u64::MAX >> (64 - self.config.width_bits)
    }

    /// Mirrors x86_perf_event_set_period(): a period that elapsed restarts (`left += period`,
    /// or `left = period` if more than a whole period overshot); returns whether one elapsed and
    /// the raw value to write, `−left` in `width` bits. x86's `left < 2` quirk is not modelled.
    #[inline]
    fn set_period(&mut self) -> (bool, u64) {
        let period = self.config.period_events().expect("a period to set") as i128;
        let mut left = self.period_left;
        let mut elapsed = false;
        if left <= -period {
            left = period;
            elapsed = true;
        }
        if left <= 0 {
            left += period;
            elapsed = true;
        }
        assert!(left >= 1 && left <= period, "period_left {left} outside 1..={period}");
        self.period_left = left;
        let hw = (left as u64).wrapping_neg() & self.mask();
        self.prev_hw = hw;
        (elapsed, hw)
    }

    /// Mirrors __perf_event_account_interrupt() as of e050e3f0a71b ("perf: Fix broken interrupt
    /// rate throttling", the 2017 code): the first interrupt of a tick starts the tally at 1
    /// unchecked; a later one throttles once the tally reaches `max_samples_per_tick`.
    fn account_interrupt(&mut self, tick: u64, max_samples_per_tick: u64) -> bool {
        if self.interrupts_tick != Some(tick) {
            self.interrupts_tick = Some(tick);
            self.interrupts = 1;
            return false;
        }
        self.interrupts += 1;
        self.interrupts >= max_samples_per_tick
    }

    /// Adds the samples a running counter would have taken since it was throttled: with `left`
    /// events to its next overflow and `E` events since, `1 + (E − left) / period` if `E ≥ left`.
    fn account_throttled(&mut self, source: &EventSource) {
        let HwState::Throttled { source_id, since_source_count } = self.state else {
            unreachable!("accounting a counter that is not throttled");
        };
        assert_eq!(
            source_id,
            source.id(),
            "throttled counter ended off cpu {} but ran on cpu {source_id}",
            source.id()
        );
        let period = self.config.period_events().expect("a throttled counter samples") as u128;
        let events = (source.count(self.config.kind) - since_source_count) as u128;
        let left = self.period_left as u128;
        if events >= left {
            self.samples_throttled += (1 + (events - left) / period) as u64;
        }
    }

    #[inline]
    fn program(&mut self, source: &EventSource, hw: u64) {
        let now_count = source.count(self.config.kind);
        self.prev_hw = hw;
        self.state = HwState::Counting {
            source_id: source.id(),
            programmed_source_count: now_count,
            programmed_hw: hw,
            read_source_count: now_count,
        };
    }

    /// The source count at which the value first wraps to 0 after it was programmed.
    #[inline]
    fn first_wrap_count(&self, source: &EventSource) -> Option<u128> {
        let HwState::Counting { source_id, programmed_source_count, programmed_hw, .. } = self.state else {
            return None;
        };
        assert_eq!(source_id, source.id(), "counter read off cpu {} but runs on cpu {source_id}", source.id());
        // 2^width − programmed_hw events to the wrap, without a 128-bit shift.
        Some(programmed_source_count as u128 + (self.mask() - programmed_hw) as u128 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pmu::source::{PhaseConfig, Rates};
    use crate::rng::stream_rng;
    use proptest::prelude::*;

    fn cycles_at(rate_per_s: u64) -> EventSource {
        EventSource::constant(0, Rates { cycles_per_s: rate_per_s, ..Rates::default() }, 0).expect("valid rates")
    }

    #[test]
    fn thirty_two_bit_counter_at_3ghz_wraps_every_1_431_655_766_ns() {
        // 2^32 / 3e9 s = 1.431655765333 s: the count first reaches 2^32 in nanosecond 1_431_655_766.
        let mut source = cycles_at(3_000_000_000);
        let config = CounterConfig {
            kind: EventKind::Cycles,
            width_bits: 32,
            mode: CounterMode::Counting { fold_on_overflow: false },
        };
        let mut counter = Counter::new(config).expect("valid config");
        counter.start(&mut source, 0);
        assert_eq!(counter.hw_value(&source), Some(0));
        let wrap_ns = counter.next_overflow_ns(&source).expect("counting");
        assert_eq!(wrap_ns, 1_431_655_766);
        assert_eq!(source.count_at(EventKind::Cycles, wrap_ns - 1), (1 << 32) - 1);
        // Three events per nanosecond: the wrapping nanosecond carries the count 2 past 2^32.
        assert_eq!(source.count_at(EventKind::Cycles, wrap_ns), (1 << 32) + 2);
        assert_eq!(counter.hw_value(&source), Some(2));
        assert!(counter.overflow_reached(&source));
        assert_eq!(counter.next_overflow_ns(&source), Some(2_863_311_531));
    }

    #[test]
    fn sampling_preload_is_minus_period_in_width_bits() {
        let mut source = cycles_at(1_000_000_000);
        for (width_bits, period_events, preload) in
            [(32, 1_000, 0xffff_fc18), (48, 1, 0xffff_ffff_ffff), (64, 3, u64::MAX - 2), (1, 1, 1)]
        {
            let mut counter =
                Counter::new(CounterConfig::sampling(EventKind::Cycles, width_bits, period_events)).expect("valid");
            let start_ns = source.now_ns();
            counter.start(&mut source, start_ns);
            assert_eq!(counter.hw_value(&source), Some(preload));
            assert_eq!(counter.next_overflow_ns(&source), Some(start_ns + period_events));
            counter.stop(&mut source, start_ns + 1);
        }
    }

    #[test]
    fn counting_event_programs_the_x86_max_period() {
        assert_eq!(fold_period_events(32), 2_147_483_647);
        assert_eq!(fold_period_events(48), (1 << 47) - 1);
        assert_eq!(fold_period_events(64), (1 << 63) - 1);
        let mut source = cycles_at(1_000_000_000);
        let mut counter = Counter::new(CounterConfig::counting(EventKind::Cycles, 32)).expect("valid");
        counter.start(&mut source, 0);
        assert_eq!(counter.hw_value(&source), Some(0x8000_0001));
        assert_eq!(counter.next_overflow_ns(&source), Some(2_147_483_647));
    }

    /// Steps a sampling counter through overflows and phase changes with zero skid, checking each
    /// PMI time against a clone of the source queried independently.
    #[test]
    fn overflow_is_the_first_nanosecond_the_count_reaches_the_period_across_phase_changes() {
        let config = PhaseConfig { phase_ns_mean: 300_000, ..PhaseConfig::default() };
        let mut source = EventSource::with_phases(0, config, stream_rng(7, 1), 0).expect("valid phases");
        let mut oracle = source.clone();
        let period_events = 1_234_567;
        let mut counter =
            Counter::new(CounterConfig::sampling(EventKind::Instructions, 48, period_events)).expect("valid");
        counter.start(&mut source, 0);
        let mut phase_changes = 0;
        let mut k = 0;
        while k < 500 {
            let overflow_ns = counter.next_overflow_ns(&source).expect("running");
            let change_ns = source.next_change_ns().expect("phased");
            if change_ns < overflow_ns {
                source.advance_to(change_ns);
                phase_changes += 1;
                continue;
            }
            k += 1;
            let threshold = k * period_events;
            assert!(oracle.count_at(EventKind::Instructions, overflow_ns - 1) < threshold);
            assert!(oracle.count_at(EventKind::Instructions, overflow_ns) >= threshold);
            let outcome = counter.handle_pmi(&mut source, overflow_ns, 0, u64::MAX);
            assert_eq!(outcome, PmiOutcome::Sampled);
        }
        assert!(phase_changes > 100, "only {phase_changes} phase changes");
        assert_eq!(counter.samples(), 500);
        assert_eq!(counter.count(), counter.truth_running_events());
    }

    #[test]
    fn bad_counter_config_names_the_field() {
        let cases = [
            (CounterConfig::sampling(EventKind::Cycles, 0, 10), "width_bits = 0"),
            (CounterConfig::sampling(EventKind::Cycles, 65, 10), "width_bits = 65"),
            (CounterConfig::counting(EventKind::Cycles, 0), "width_bits = 0"),
            (CounterConfig::counting(EventKind::Cycles, 1), "width_bits = 1"),
            (CounterConfig::sampling(EventKind::Cycles, 48, 0), "period_events = 0"),
            (CounterConfig::sampling(EventKind::Cycles, 32, 1 << 32), "period_events = 4294967296"),
            (CounterConfig::sampling(EventKind::Cycles, 1, 2), "period_events = 2"),
            (CounterConfig::sampling(EventKind::Cycles, 64, 1 << 63), "period_events = 9223372036854775808"),
        ];
        for (config, field) in cases {
            let error = Counter::new(config).expect_err("invalid config");
            assert!(error.to_string().starts_with(field), "{error}");
        }
        assert_eq!(Counter::new(CounterConfig::sampling(EventKind::Cycles, 32, 0)).err(), Some(PmuError::PeriodZero));
        assert!(Counter::new(CounterConfig::sampling(EventKind::Cycles, 32, (1 << 32) - 1)).is_ok());
        assert!(Counter::new(CounterConfig::sampling(EventKind::Cycles, 64, MAX_PERIOD_EVENTS)).is_ok());
    }

    #[test]
    fn throttled_samples_count_the_overflows_a_running_counter_would_take() {
        let mut source = cycles_at(1_000_000_000);
        let mut counter = Counter::new(CounterConfig::sampling(EventKind::Cycles, 48, 1_000)).expect("valid");
        counter.start(&mut source, 0);
        assert_eq!(counter.handle_pmi(&mut source, 1_000, 0, 2), PmiOutcome::Sampled);
        assert_eq!(counter.handle_pmi(&mut source, 2_000, 0, 2), PmiOutcome::SampledThrottled);
        assert!(counter.next_overflow_ns(&source).is_none());
        // 10_500 events while throttled with 1_000 left: overflows after 1_000, 2_000, …, 10_000.
        counter.unthrottle(&mut source, 12_500);
        assert_eq!(counter.samples_throttled(), 10);
        assert_eq!(counter.next_overflow_ns(&source), Some(13_500));
        assert_eq!(counter.count(), 2_000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        #[test]
        fn shift_delta_equals_true_delta_mod_two_to_the_width(
            width_bits in MIN_WIDTH_BITS..=MAX_WIDTH_BITS,
            prev in any::<u64>(),
            true_delta in any::<u64>(),
            high_garbage in any::<u64>(),
        ) {
            let mask = counter_mask(width_bits);
            let prev_hw = prev & mask;
            let new_hw = prev_hw.wrapping_add(true_delta) & mask;
            prop_assert_eq!(shift_delta(prev_hw, new_hw, width_bits), true_delta & mask);
            // Bits above the width (x86 keeps a sign-extended `(u64)-left` in prev_count) are ignored.
            let dirty_prev = prev_hw | (high_garbage & !mask);
            prop_assert_eq!(shift_delta(dirty_prev, new_hw, width_bits), true_delta & mask);
        }
    }
}
