//! One PMU on one CPU: its event source, hardware counters, installed events in rotation order,
//! PMI delivery, throttling ticks and multiplexing, driven by explicit times.
//!
//! [`CpuPmu::advance_to`] processes, in time order, every internal step up to the given time:
//! phase changes (only while an overflow time depends on the rate), overflows, PMI deliveries,
//! unthrottling ticks and rotations. [`CpuPmu::next_event_ns`] says when the next one is due, so
//! the kernel model needs one wake-up per CPU and nothing is simulated per tick or per event.

use hdrhistogram::Histogram;

use super::PmuError;
use super::counter::{Counter, CounterConfig, CounterMode, MAX_WIDTH_BITS, MIN_WIDTH_BITS, PmiOutcome};
use super::governor::SampleRateGovernor;
use super::source::{EventKind, EventSource, check_range};
use crate::lockstat::new_histogram;

/// Most hardware counters one PMU may have.
pub const MAX_COUNTERS: u32 = 64;
/// Most events installed on one PMU of one CPU.
pub const MAX_EVENTS_PER_CPU: usize = 256;
/// Instructions retired between the overflow and the interrupt (order of 100 ns).
pub const DEFAULT_SKID_NS: u64 = 100;
/// One PMI (NMI) handler: read, fold, record a sample, reprogram.
pub const DEFAULT_HANDLER_NS: u64 = 1_500;
/// `perf_event_mux_interval_ms` default, `PERF_CPU_HRTIMER` = one tick at HZ 250.
pub const DEFAULT_MUX_INTERVAL_NS: u64 = 4_000_000;
/// Longest skid or handler accepted (1 s).
pub const MAX_PMI_NS: u64 = 1_000_000_000;
/// Longest rotation interval accepted (10 s).
pub const MAX_MUX_INTERVAL_NS: u64 = 10_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuPmuConfig {
    /// Hardware counters; events beyond them wait for a rotation.
    pub counters: u32,
    pub width_bits: u32,
    pub skid_ns: u64,
    pub handler_ns: u64,
    pub mux_interval_ns: u64,
}

impl Default for CpuPmuConfig {
    /// Four 48-bit generic counters, as on most Intel and AMD cores.
    fn default() -> Self {
        CpuPmuConfig {
            counters: 4,
            width_bits: 48,
            skid_ns: DEFAULT_SKID_NS,
            handler_ns: DEFAULT_HANDLER_NS,
            mux_interval_ns: DEFAULT_MUX_INTERVAL_NS,
        }
    }
}

impl CpuPmuConfig {
    pub fn validate(&self) -> Result<(), PmuError> {
        check_range("counters", self.counters as u64, 1, MAX_COUNTERS as u64)?;
        if !(MIN_WIDTH_BITS..=MAX_WIDTH_BITS).contains(&self.width_bits) {
            return Err(PmuError::WidthBits(self.width_bits));
        }
        check_range("skid_ns", self.skid_ns, 0, MAX_PMI_NS)?;
        check_range("handler_ns", self.handler_ns, 0, MAX_PMI_NS)?;
        check_range("mux_interval_ns", self.mux_interval_ns, 1, MAX_MUX_INTERVAL_NS)?;
        Ok(())
    }
}

/// What `perf_event_read_value()` returns, plus the ground truth it is judged against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventReading {
    /// `event->count`.
    pub count: u64,
    pub time_enabled_ns: u64,
    pub time_running_ns: u64,
    /// The source's events while the event was installed: what the scaled count estimates.
    pub truth_enabled_events: u64,
    /// The source's events while the event was on a counter: what `count` must equal when it folds.
    pub truth_running_events: u64,
}

impl EventReading {
    /// perf's multiplexing estimate `⌊count × time_enabled / time_running⌋`; `None` if the event
    /// never ran (perf prints `<not counted>`).
    pub fn scaled_count(&self) -> Option<u64> {
        if self.time_running_ns == 0 {
            return None;
        }
        let scaled = self.count as u128 * self.time_enabled_ns as u128 / self.time_running_ns as u128;
        Some(u64::try_from(scaled).unwrap_or(u64::MAX))
    }

    /// The estimate's error against ground truth: `scaled_count − truth_enabled_events`.
    pub fn scaled_error_events(&self) -> Option<i128> {
        self.scaled_count().map(|scaled| scaled as i128 - self.truth_enabled_events as i128)
    }
}

/// An event installed on a [`CpuPmu`]: its counter, its times and its ground truth. Removing it
/// hands it over with its count (`perf_pmu_migrate_context`).
#[derive(Clone, Debug)]
pub struct PmuEvent {
    id: u64,
    counter: Counter,
    time_enabled_ns: u64,
    time_running_ns: u64,
    truth_enabled_events: u64,
    /// Times and truth are brought up to date at every state change; here is where they were.
    synced_ns: u64,
    synced_source_count: u64,
    scheduled: bool,
}

impl PmuEvent {
    #[inline]
    pub fn id(&self) -> u64 {
        self.id
    }

    #[inline]
    pub fn counter(&self) -> &Counter {
        &self.counter
    }

    /// On a hardware counter now (the first `counters` events of an online CPU).
    #[inline]
    pub fn is_scheduled(&self) -> bool {
        self.scheduled
    }

    /// The reading as of the event's last update; [`CpuPmu::read_event`] brings it up to date.
    pub fn reading(&self) -> EventReading {
        EventReading {
            count: self.counter.count(),
            time_enabled_ns: self.time_enabled_ns,
            time_running_ns: self.time_running_ns,
            truth_enabled_events: self.truth_enabled_events,
            truth_running_events: self.counter.truth_running_events(),
        }
    }
}

/// A step time meaning "none pending"; no run reaches it (runs last at most a day).
const NEVER: u64 = u64::MAX;

/// What is pending for one installed event, times [`NEVER`] when nothing is. Kept beside the
/// events, in the same order and in 32 bytes, so that finding the next step reads this short
/// array and not every counter.
#[derive(Clone, Copy, Debug)]
struct EventSteps {
    /// When the counter reaches its overflow at the current rate; cached between steps.
    overflow_ns: u64,
    /// The overflow happened here and its PMI has not run yet.
    overflowed_at_ns: u64,
    /// The tick at which a throttled event restarts.
    unthrottle_ns: u64,
    /// Counting towards a PMI not yet raised, so the overflow time depends on the rate.
    awaits_overflow: bool,
    /// The counter was started, stopped or reprogrammed since `overflow_ns` was solved for.
    stale: bool,
}

impl EventSteps {
    /// A new event's entry: nothing pending, to be solved for.
    const STALE: EventSteps = EventSteps {
        overflow_ns: NEVER,
        overflowed_at_ns: NEVER,
        unthrottle_ns: NEVER,
        awaits_overflow: false,
        stale: true,
    };
}

/// What one CPU's PMU did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuPmuStats {
    /// PMIs delivered; each handles every counter that had overflowed by then.
    pub pmis: u64,
    /// Counter overflows raised.
    pub overflows: u64,
    /// Overflows whose PMI never handled them: the counter was scheduled out or removed, or the
    /// CPU went offline, during the skid.
    pub overflows_dropped: u64,
    pub samples: u64,
    pub samples_throttled: u64,
    pub throttles: u64,
    pub rotations: u64,
    /// Internal steps taken: the model's cost, proportional to what happened, not to time.
    pub steps: u64,
}

/// One PMU of one CPU (the hardware side of a `perf_cpu_context`).
#[derive(Clone, Debug)]
pub struct CpuPmu {
    config: CpuPmuConfig,
    source: EventSource,
    online: bool,
    now_ns: u64,
    /// When the next step is due; recomputed whenever anything it depends on changes. An
    /// overflow is no step of its own: it is raised by the first step at or after it (most
    /// often the PMI it arms one skid later), or when the clock passes it.
    next_step_ns: Option<u64>,
    /// The earliest overflow solved for and not raised yet ([`NEVER`] if none).
    first_overflow_ns: u64,
    /// The earliest unthrottling tick ([`NEVER`] if no event is throttled), so that a step
    /// looks for one only when it is due.
    first_unthrottle_ns: u64,
    /// The first multiple of `mux_interval_ns` strictly after `now_ns`: when a rotation is due
    /// if one is needed. Moves with the clock, so no step divides to find it.
    rotation_after_ns: u64,
    /// The tick of the latest PMI and where it ends, so that most PMIs need no division.
    pmi_tick: (u64, u64),
    /// Rotation order (`ctx->flexible_groups`): the first `counters` run.
    events: Vec<PmuEvent>,
    /// `steps[i]` is what is pending for `events[i]`.
    steps: Vec<EventSteps>,
    /// Some entry of `steps` is stale.
    any_stale: bool,
    pmi_pending_ns: Option<u64>,
    handler_busy_until_ns: u64,
    /// This CPU's `running_sample_length` for the governor.
    running_sample_length_ns: u64,
    /// The source segment in which every cached `overflow_ns` was solved for.
    overflows_segment: u64,
    stats: CpuPmuStats,
    /// Handled overflows by latency, except the latest run of equal latencies (usually the
    /// skid), kept as `(latency_ns, overflows)` so that most PMIs touch no histogram bucket.
    pmi_latency_ns: Histogram<u64>,
    pmi_latency_run: (u64, u64),
}

impl CpuPmu {
    /// A PMU reading `source`, online iff the source is running, at the source's clock.
    pub fn new(config: CpuPmuConfig, source: EventSource) -> Result<CpuPmu, PmuError> {
        config.validate()?;
        let overflows_segment = source.segment();
        Ok(CpuPmu {
            config,
            online: source.is_running(),
            now_ns: source.now_ns(),
            next_step_ns: None,
            first_overflow_ns: NEVER,
            first_unthrottle_ns: NEVER,
            rotation_after_ns: multiple_after(source.now_ns(), config.mux_interval_ns),
            pmi_tick: (0, 0),
            source,
            events: Vec::new(),
            steps: Vec::new(),
            any_stale: false,
            pmi_pending_ns: None,
            handler_busy_until_ns: 0,
            running_sample_length_ns: 0,
            overflows_segment,
            stats: CpuPmuStats::default(),
            pmi_latency_ns: new_histogram(),
            pmi_latency_run: (0, 0),
        })
    }

    /// The CPU, as the source names it.
    #[inline]
    pub fn cpu(&self) -> u32 {
        self.source.id()
    }

    pub fn config(&self) -> &CpuPmuConfig {
        &self.config
    }

    pub fn source(&self) -> &EventSource {
        &self.source
    }

    #[inline]
    pub fn is_online(&self) -> bool {
        self.online
    }

    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Installed events in rotation order.
    pub fn events(&self) -> &[PmuEvent] {
        &self.events
    }

    pub fn event(&self, id: u64) -> Option<&PmuEvent> {
        self.events.iter().find(|event| event.id == id)
    }

    pub fn stats(&self) -> &CpuPmuStats {
        &self.stats
    }

    /// From a counter's overflow to the PMI that handled it: skid, plus any wait for a handler.
    pub fn pmi_latency_ns(&self) -> Histogram<u64> {
        let mut histogram = self.pmi_latency_ns.clone();
        let (latency_ns, overflows) = self.pmi_latency_run;
        if overflows > 0 {
            histogram.record_n(latency_ns, overflows).expect("auto-resizing histogram");
        }
        histogram
    }

    /// When a raised PMI will be delivered, if one is pending.
    #[inline]
    pub fn pmi_pending_ns(&self) -> Option<u64> {
        self.pmi_pending_ns
    }

    /// When the next internal step is due: wake the CPU then and call [`advance_to`](Self::advance_to).
    /// Any public call can change it, so ask again after each.
    #[inline]
    pub fn next_event_ns(&self) -> Option<u64> {
        let next_ns = self.next_step_ns.unwrap_or(NEVER).min(self.first_overflow_ns);
        (next_ns != NEVER).then_some(next_ns)
    }

    /// Processes every step due at or before `now_ns`, in time order, and moves the clock there.
    pub fn advance_to(&mut self, now_ns: u64, governor: &mut SampleRateGovernor) {
        assert!(now_ns >= self.now_ns, "cpu {} moved back from {} ns to {now_ns} ns", self.cpu(), self.now_ns);
        while let Some(step_ns) = self.next_step_ns.filter(|&step_ns| step_ns <= now_ns) {
            self.step(step_ns, governor);
        }
        self.source.advance_to(now_ns);
        self.set_clock(now_ns);
        // An overflow between the last step and now arms a PMI due after now.
        if self.first_overflow_ns <= now_ns {
            self.raise_overflows(now_ns);
            self.refresh_overflows();
        }
    }

    fn set_clock(&mut self, now_ns: u64) {
        self.now_ns = now_ns;
        if now_ns >= self.rotation_after_ns {
            self.rotation_after_ns = multiple_after(now_ns, self.config.mux_interval_ns);
        }
    }

    /// Installs a new event (perf_install_in_context()); it runs at once if a counter is free.
    pub fn add_event(
        &mut self,
        now_ns: u64,
        id: u64,
        kind: EventKind,
        mode: CounterMode,
        governor: &mut SampleRateGovernor,
    ) -> Result<(), PmuError> {
        let counter = Counter::new(CounterConfig { kind, width_bits: self.config.width_bits, mode })?;
        self.check_room(id)?;
        self.advance_to(now_ns, governor);
        let event = PmuEvent {
            id,
            counter,
            time_enabled_ns: 0,
            time_running_ns: 0,
            truth_enabled_events: 0,
            synced_ns: now_ns,
            synced_source_count: self.source.count(kind),
            scheduled: false,
        };
        self.push_event(event);
        Ok(())
    }

    /// Appends an event with its (stale) step entry, keeping `events` and `steps` in lockstep.
    fn push_event(&mut self, event: PmuEvent) {
        self.events.push(event);
        self.steps.push(EventSteps::STALE);
        self.any_stale = true;
        self.reschedule();
        self.refresh_overflows();
    }

    /// Takes an event off this CPU with its count, times and truth
    /// (perf_remove_from_context(); the first half of perf_pmu_migrate_context()).
    pub fn remove_event(&mut self, now_ns: u64, id: u64, governor: &mut SampleRateGovernor) -> Option<PmuEvent> {
        self.advance_to(now_ns, governor);
        let index = self.events.iter().position(|event| event.id == id)?;
        self.sync(index);
        if self.events[index].scheduled {
            self.sched_out(index);
        }
        let event = self.events.remove(index);
        self.steps.remove(index);
        self.reschedule();
        self.refresh_overflows();
        Some(event)
    }

    /// Installs an event removed from another CPU's context of the same PMU; it keeps its count
    /// and continues on this CPU's source (the second half of perf_pmu_migrate_context()).
    pub fn insert_event(
        &mut self,
        now_ns: u64,
        mut event: PmuEvent,
        governor: &mut SampleRateGovernor,
    ) -> Result<(), PmuError> {
        assert_eq!(
            event.counter.config().width_bits,
            self.config.width_bits,
            "event {} moved between PMUs of different widths",
            event.id
        );
        assert!(!event.scheduled && event.counter.is_stopped(), "event {} inserted while still running", event.id);
        self.check_room(event.id)?;
        self.advance_to(now_ns, governor);
        event.synced_ns = now_ns;
        event.synced_source_count = self.source.count(event.counter.config().kind);
        self.push_event(event);
        Ok(())
    }

    /// Reads an event at `now_ns` (perf_event_read(): pmu->read folds the hardware value).
    pub fn read_event(&mut self, now_ns: u64, id: u64, governor: &mut SampleRateGovernor) -> Option<EventReading> {
        self.advance_to(now_ns, governor);
        let index = self.events.iter().position(|event| event.id == id)?;
        self.sync(index);
        let event = &mut self.events[index];
        event.counter.read(&mut self.source, now_ns);
        Some(event.reading())
    }

    /// The CPU starts or stops producing events. Going offline stops every counter (folding its
    /// value) and drops any pending PMI: no PMI is handled on an offline CPU. Installed events
    /// stay enabled but cannot run until the CPU is back.
    pub fn set_online(&mut self, now_ns: u64, online: bool, governor: &mut SampleRateGovernor) {
        self.advance_to(now_ns, governor);
        if self.online == online {
            return;
        }
        if online {
            self.source.set_running(now_ns, true);
            self.online = true;
        } else {
            self.online = false;
            self.pmi_pending_ns = None;
        }
        self.reschedule();
        if !online {
            self.source.set_running(now_ns, false);
        }
        self.refresh_overflows();
    }

    fn check_room(&self, id: u64) -> Result<(), PmuError> {
        if self.events.iter().any(|event| event.id == id) {
            return Err(PmuError::DuplicateEvent { id, cpu: self.cpu() });
        }
        if self.events.len() >= MAX_EVENTS_PER_CPU {
            return Err(PmuError::TooManyEvents { cpu: self.cpu() });
        }
        Ok(())
    }

    /// Events on hardware counters: the first `counters` of an online CPU. Only they have
    /// pending steps, so the scans for steps stop here.
    #[inline]
    fn running(&self) -> usize {
        if self.online { self.events.len().min(self.config.counters as usize) } else { 0 }
    }

    fn mux_needed(&self) -> bool {
        self.online && self.events.len() > self.config.counters as usize
    }

    /// Rotations fall on multiples of `mux_interval_ns` strictly after the clock.
    fn rotation_due_ns(&self) -> Option<u64> {
        debug_assert_eq!(self.rotation_after_ns, multiple_after(self.now_ns, self.config.mux_interval_ns));
        self.mux_needed().then_some(self.rotation_after_ns)
    }

    /// Everything due at `step_ns`: overflows raised since the last step, then tick work, then a
    /// rotation, then a PMI.
    fn step(&mut self, step_ns: u64, governor: &mut SampleRateGovernor) {
        assert!(step_ns < NEVER, "cpu {}: a step at the end of time", self.cpu());
        let rotation_due = self.rotation_due_ns().is_some_and(|due_ns| due_ns <= step_ns);
        self.stats.steps += 1;
        self.source.advance_to(step_ns);
        self.set_clock(step_ns);
        if self.first_overflow_ns <= step_ns {
            self.raise_overflows(step_ns);
        }
        let running = if self.first_unthrottle_ns <= step_ns { self.running() } else { 0 };
        for (index, steps) in self.steps[..running].iter_mut().enumerate() {
            if steps.unthrottle_ns <= step_ns {
                let event = &mut self.events[index];
                steps.unthrottle_ns = NEVER;
                steps.stale = true;
                self.any_stale = true;
                let before = event.counter.samples_throttled();
                event.counter.unthrottle(&mut self.source, step_ns);
                self.stats.samples_throttled += event.counter.samples_throttled() - before;
            }
        }
        if rotation_due {
            self.events.rotate_left(1);
            self.steps.rotate_left(1);
            self.stats.rotations += 1;
            self.reschedule();
        }
        if self.pmi_pending_ns.is_some_and(|pmi_ns| pmi_ns <= step_ns) {
            self.deliver_pmi(step_ns, governor);
        }
        self.refresh_overflows();
    }

    /// Raises every overflow at or before `now_ns`, each at its own time: the counter's overflow
    /// bit is set then, and the earliest arms a PMI one skid later (or when the handler is
    /// free) unless one is pending. No step lies between them and now (the earliest PMI they
    /// could arm is a step candidate), so raising them late changes nothing.
    fn raise_overflows(&mut self, now_ns: u64) {
        let running = self.running();
        let mut first_raised_ns = NEVER;
        for (index, steps) in self.steps[..running].iter_mut().enumerate() {
            let overflow_ns = steps.overflow_ns;
            if overflow_ns > now_ns {
                continue;
            }
            // The time was solved for exactly (Counter::pending_overflow_ns); debug builds check it.
            let event = &self.events[index];
            debug_assert!(event.counter.overflow_reached(&self.source), "event {} overflowed early", event.id);
            steps.overflow_ns = NEVER;
            steps.awaits_overflow = false;
            steps.overflowed_at_ns = overflow_ns;
            self.stats.overflows += 1;
            first_raised_ns = first_raised_ns.min(overflow_ns);
        }
        if first_raised_ns != NEVER && self.pmi_pending_ns.is_none() {
            self.pmi_pending_ns = Some(self.pmi_due_after(first_raised_ns));
        }
    }

    /// When a PMI raised by an overflow at `overflow_ns` is delivered: one skid later, or when
    /// the handler still running is done.
    #[inline]
    fn pmi_due_after(&self, overflow_ns: u64) -> u64 {
        overflow_ns.saturating_add(self.config.skid_ns).max(self.handler_busy_until_ns)
    }

    /// Mirrors the x86 PMI path: handle_pmi_common() over every overflowed counter, then
    /// perf_sample_event_took() with the handler's duration.
    fn deliver_pmi(&mut self, now_ns: u64, governor: &mut SampleRateGovernor) {
        assert!(self.online, "PMI delivered on offline cpu {}", self.cpu());
        self.pmi_pending_ns = None;
        self.stats.pmis += 1;
        if now_ns >= self.pmi_tick.1 {
            let tick = governor.tick_of(now_ns);
            self.pmi_tick = (tick, (tick + 1).saturating_mul(governor.tick_ns()));
        }
        let tick = self.pmi_tick.0;
        debug_assert_eq!(tick, governor.tick_of(now_ns));
        let running = self.running();
        for (index, steps) in self.steps[..running].iter_mut().enumerate() {
            let overflowed_at_ns = std::mem::replace(&mut steps.overflowed_at_ns, NEVER);
            if overflowed_at_ns == NEVER {
                continue;
            }
            let latency_ns = now_ns - overflowed_at_ns;
            if self.pmi_latency_run.0 == latency_ns {
                self.pmi_latency_run.1 += 1;
            } else {
                let (run_latency_ns, run_overflows) = std::mem::replace(&mut self.pmi_latency_run, (latency_ns, 1));
                if run_overflows > 0 {
                    self.pmi_latency_ns.record_n(run_latency_ns, run_overflows).expect("auto-resizing histogram");
                }
            }
            let counter = &mut self.events[index].counter;
            let outcome = counter.handle_pmi(&mut self.source, now_ns, tick, governor.max_samples_per_tick());
            // Reprogrammed: its next overflow is solved for here, as refresh_overflows() would.
            steps.stale = false;
            steps.awaits_overflow = counter.is_counting();
            steps.overflow_ns =
                if steps.awaits_overflow { counter.pending_overflow_ns(&self.source).unwrap_or(NEVER) } else { NEVER };
            match outcome {
                PmiOutcome::Folded => {}
                PmiOutcome::Sampled => self.stats.samples += 1,
                PmiOutcome::SampledThrottled => {
                    self.stats.samples += 1;
                    self.stats.throttles += 1;
                    steps.unthrottle_ns = self.pmi_tick.1;
                }
            }
        }
        self.handler_busy_until_ns = now_ns.saturating_add(self.config.handler_ns);
        governor.sample_event_took(&mut self.running_sample_length_ns, self.config.handler_ns);
    }

    /// Puts the first `counters` events on counters and takes the rest off (all off while offline).
    fn reschedule(&mut self) {
        let running = self.running();
        for index in running..self.events.len() {
            if self.events[index].scheduled {
                self.sync(index);
                self.sched_out(index);
            }
        }
        for index in 0..running {
            if !self.events[index].scheduled {
                self.sync(index);
                let event = &mut self.events[index];
                event.counter.start(&mut self.source, self.now_ns);
                event.scheduled = true;
                self.steps[index].stale = true;
                self.any_stale = true;
            }
        }
    }

    /// Mirrors event_sched_out() → x86_pmu_stop(PERF_EF_UPDATE): the count is folded; a raised
    /// overflow whose PMI has not run is lost with the counter's active bit.
    fn sched_out(&mut self, index: usize) {
        let event = &mut self.events[index];
        let steps = &mut self.steps[index];
        debug_assert_eq!(event.synced_ns, self.now_ns);
        if std::mem::replace(&mut steps.overflowed_at_ns, NEVER) != NEVER {
            self.stats.overflows_dropped += 1;
        }
        steps.overflow_ns = NEVER;
        steps.unthrottle_ns = NEVER;
        steps.awaits_overflow = false;
        steps.stale = true;
        self.any_stale = true;
        let before = event.counter.samples_throttled();
        event.counter.stop(&mut self.source, self.now_ns);
        self.stats.samples_throttled += event.counter.samples_throttled() - before;
        event.scheduled = false;
    }

    /// Brings an event's `time_enabled`, `time_running` and enabled truth up to the clock.
    fn sync(&mut self, index: usize) {
        let now_ns = self.now_ns;
        let event = &mut self.events[index];
        let elapsed_ns = now_ns - event.synced_ns;
        event.time_enabled_ns += elapsed_ns;
        if event.scheduled {
            event.time_running_ns += elapsed_ns;
        }
        let count = self.source.count(event.counter.config().kind);
        event.truth_enabled_events += count - event.synced_source_count;
        event.synced_ns = now_ns;
        event.synced_source_count = count;
    }

    /// Solves again for the overflow times that may have moved: every one if the rate may have
    /// changed (a new source segment), else those of counters changed since; then finds the
    /// next step. Every change of state ends here.
    fn refresh_overflows(&mut self) {
        let segment = self.source.segment();
        let rate_changed = segment != self.overflows_segment;
        self.overflows_segment = segment;
        if !(rate_changed || self.any_stale) {
            self.find_next_step();
            return;
        }
        self.any_stale = false;
        let running = self.running();
        // An event off its counter has nothing pending (sched_out() cleared it), so only the
        // running ones are solved again, and only those touch their (much larger) event.
        debug_assert!(
            self.steps[running..].iter().zip(&self.events[running..]).all(|(steps, event)| {
                !event.counter.is_counting()
                    && !steps.awaits_overflow
                    && steps.overflow_ns == NEVER
                    && steps.overflowed_at_ns == NEVER
                    && steps.unthrottle_ns == NEVER
            }),
            "an event has steps pending but is not on a counter"
        );
        for (index, steps) in self.steps[..running].iter_mut().enumerate() {
            if !(rate_changed || steps.stale) {
                continue;
            }
            let counter = &self.events[index].counter;
            steps.stale = false;
            steps.overflow_ns = NEVER;
            steps.awaits_overflow =
                counter.is_counting() && counter.config().raises_pmi() && steps.overflowed_at_ns == NEVER;
            if steps.awaits_overflow {
                steps.overflow_ns = counter.pending_overflow_ns(&self.source).unwrap_or(NEVER);
            }
        }
        self.find_next_step();
    }

    /// Sets the next step: the earliest of the rotation, the pending PMI (or, with none, the one
    /// the earliest overflow will arm), every unthrottling tick, and the next rate change if an
    /// overflow time depends on it; and notes the earliest overflow.
    fn find_next_step(&mut self) {
        // Branch-free minimum, with `None` as NEVER: no step is ever due there.
        let mut next_ns = self.rotation_due_ns().unwrap_or(NEVER).min(self.pmi_pending_ns.unwrap_or(NEVER));
        let mut first_overflow_ns = NEVER;
        let mut first_unthrottle_ns = NEVER;
        let mut rate_matters = false;
        for steps in &self.steps[..self.running()] {
            first_overflow_ns = first_overflow_ns.min(steps.overflow_ns);
            first_unthrottle_ns = first_unthrottle_ns.min(steps.unthrottle_ns);
            rate_matters |= steps.awaits_overflow;
        }
        next_ns = next_ns.min(first_unthrottle_ns);
        self.first_unthrottle_ns = first_unthrottle_ns;
        if self.pmi_pending_ns.is_none() && first_overflow_ns != NEVER {
            next_ns = next_ns.min(self.pmi_due_after(first_overflow_ns));
        }
        if rate_matters {
            next_ns = next_ns.min(self.source.next_change_ns().unwrap_or(NEVER));
        }
        self.first_overflow_ns = first_overflow_ns;
        self.next_step_ns = (next_ns != NEVER).then_some(next_ns);
    }
}

/// The first multiple of `interval_ns` strictly after `time_ns` (saturating at the end of time).
fn multiple_after(time_ns: u64, interval_ns: u64) -> u64 {
    (time_ns / interval_ns + 1).saturating_mul(interval_ns)
}
