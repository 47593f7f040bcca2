//! PMU load in the kernel model: per-CPU core-PMU events (like `perf record -a`) and one
//! counting event per uncore PMU per package, on the computed-overflow model of `crate::pmu`.
//! The kernel wakes a CPU's PMU only when it has something due (a PMI, a rotation, a tick);
//! this module owns those wakes, the periodic reads and the hotplug hooks of the units.
//!
//! While no CPU's PMIs can affect another's (the governor cannot lower the sample rate), the
//! core units *run ahead*: instead of one engine event per wake, one quantum event steps every
//! core unit through its wakes up to the quantum, in parallel. Each unit takes exactly the wakes
//! it would have taken one event at a time, so every PMU figure is the same; only the engine's
//! event count drops.

use hdrhistogram::Histogram;
use rayon::prelude::*;

use super::{EV_PMU_QUANTUM, EV_PMU_READ, EV_PMU_WAKE, Invariant, Kernel};
use crate::cpumask::CpuMask;
use crate::engine::{RunOutcome, Scheduler, StopReason};
use crate::event::Event;
use crate::lockstat::new_histogram;
use crate::perf::{Perf, PerfConfig, PmuScope};
use crate::pmu::{
    Counter, CounterMode, CpuPmu, CpuPmuConfig, EventKind, EventReading, EventSource, GovernorConfig, PhaseConfig,
    SampleRateGovernor,
};
use crate::rng::{stream_id, stream_rng};

/// Stream class of PMU event sources (one stream per CPU, then one per uncore unit).
pub const STREAM_PMU_SOURCE: u16 = 100;

/// What PMU load a run carries.
#[derive(Clone, Debug, PartialEq)]
pub struct PmuLoadConfig {
    /// Sampling events per CPU on the core PMU.
    pub sampling_events: u32,
    /// Counting events per CPU on the core PMU.
    pub counting_events: u32,
    /// Counting events fold each overflow into their 64-bit count (a PMI per wrap); without,
    /// only reads fold, and a wrap between two reads is lost.
    pub fold_on_overflow: bool,
    /// Every counting event is read at this interval (`perf stat -I`); 0: only at removal.
    pub read_interval_ns: u64,
    pub sample_period_events: u64,
    pub kind: EventKind,
    pub cpu: CpuPmuConfig,
    pub phases: PhaseConfig,
    pub governor: GovernorConfig,
    /// One counting event per uncore PMU per package, read by the package's designated CPU.
    pub uncore_counting: bool,
    /// Let core units run ahead in quanta when that cannot change a result (see the module
    /// doc); `false` keeps one engine event per wake.
    pub run_ahead: bool,
}

/// Length of a run-ahead quantum: long enough that a unit's state stays in cache across many
/// PMIs, short enough that the engine's clock stays near the units'.
pub const PMU_QUANTUM_NS: u64 = 10_000_000;

/// PMU figures of one run.
#[derive(Clone, Debug)]
pub struct PmuStats {
    pub pmis: u64,
    pub samples: u64,
    pub samples_throttled: u64,
    pub throttles: u64,
    /// Largest |count − ground truth| of a folded counting event at any read.
    pub max_count_error_events: u64,
    /// Overflows whose PMI never ran (scheduled out, removed or offline during the skid): a
    /// sampling event's lost samples.
    pub lost_samples: u64,
    /// Counter wraps past 2^width: every overflow that raised a PMI (sampling, or counting with
    /// folding) and every wrap of a counting event without folding.
    pub wraps: u64,
    /// Wraps an unfolded counting event missed between reads: its count is short by
    /// exactly this many × 2^width.
    pub wraps_lost: u64,
    /// Counting-event reads (periodic, at handoff and at removal).
    pub reads: u64,
    /// |scaled − true| of multiplexed events at removal, in events.
    pub mux_error_events: Histogram<u64>,
    /// Simulation events spent on PMU wakes and run-ahead quanta (for events-per-PMI).
    pub wakes: u64,
}

/// A PMI due on a core unit whose CPU the hotplug mask shows offline (invariant 2), found
/// while running ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OfflinePmi {
    pub time_ns: u64,
    pub unit: usize,
}

pub(super) struct PmuLoad {
    pub config: PmuLoadConfig,
    /// The core PMU slot the load runs on (perf's first core PMU at boot).
    pub core_slot: Option<u16>,
    pub governor: SampleRateGovernor,
    /// Core PMU units, one per CPU, then uncore units `(pmu, package)`.
    pub units: Vec<CpuPmu>,
    /// When each unit's wake event is scheduled (`u64::MAX`: none); for a core unit that runs
    /// ahead, when its next wake is due.
    pub scheduled_ns: Vec<u64>,
    /// Core units run ahead: the configuration asks for it and the governor can never lower
    /// the sample rate, so no unit's PMIs depend on another's.
    pub run_ahead: bool,
    /// When the pending run-ahead quantum event is (`u64::MAX`: none).
    pub quantum_ns: u64,
    /// [`Kernel::finish`](super::Kernel::finish) has brought the units to the run's end.
    pub finished: bool,
    pub core_units: usize,
    /// `(uncore pmu slot, package)` of each uncore unit.
    pub uncore: Vec<(u16, u32)>,
    pub next_event_id: u64,
    pub stats: PmuStats,
}

impl PmuLoad {
    /// The load `config` asks for on a machine of `cpus` CPUs booting with `perf`'s PMUs: it
    /// runs on the first core PMU, and on every uncore PMU of each package.
    pub fn boot(
        config: PmuLoadConfig,
        seed: u64,
        cpus: u32,
        perf: &PerfConfig,
    ) -> Result<PmuLoad, crate::pmu::PmuError> {
        let core_slot = perf.pmus.iter().position(|p| p.at_boot && p.scope == PmuScope::Core).map(|p| p as u16);
        let uncore: Vec<(u16, u32)> = perf
            .pmus
            .iter()
            .enumerate()
            .filter(|(_, p)| p.at_boot && p.scope == PmuScope::Uncore)
            .flat_map(|(slot, _)| (0..perf.packages).map(move |k| (slot as u16, k)))
            .collect();
        PmuLoad::new(config, seed, cpus, core_slot, uncore)
    }

    fn new(
        config: PmuLoadConfig,
        seed: u64,
        cpus: u32,
        core_slot: Option<u16>,
        uncore: Vec<(u16, u32)>,
    ) -> Result<PmuLoad, crate::pmu::PmuError> {
        let governor = SampleRateGovernor::new(config.governor)?;
        let mut units = Vec::new();
        for unit in 0..cpus as u64 + uncore.len() as u64 {
            let rng = stream_rng(seed, stream_id(STREAM_PMU_SOURCE, unit));
            let source = EventSource::with_phases(unit as u32, config.phases, rng, 0)?;
            units.push(CpuPmu::new(config.cpu, source)?);
        }
        let n = units.len();
        let run_ahead = config.run_ahead && !governor.can_lower(config.cpu.handler_ns);
        let mut load = PmuLoad {
            config,
            core_slot,
            governor,
            units,
            scheduled_ns: vec![u64::MAX; n],
            run_ahead,
            quantum_ns: u64::MAX,
            finished: false,
            core_units: cpus as usize,
            uncore,
            next_event_id: 1,
            stats: PmuStats {
                pmis: 0,
                samples: 0,
                samples_throttled: 0,
                throttles: 0,
                max_count_error_events: 0,
                lost_samples: 0,
                wraps: 0,
                wraps_lost: 0,
                reads: 0,
                mux_error_events: new_histogram(),
                wakes: 0,
            },
        };
        for cpu in 0..cpus as usize {
            load.add_core_events(cpu, 0)?;
        }
        for unit in cpus as usize..n {
            if load.config.uncore_counting {
                load.add(unit, 0, load.counting_mode())?;
            }
        }
        Ok(load)
    }

    fn add(&mut self, unit: usize, now_ns: u64, mode: CounterMode) -> Result<(), crate::pmu::PmuError> {
        let id = self.next_event_id;
        self.next_event_id += 1;
        self.units[unit].add_event(now_ns, id, self.config.kind, mode, &mut self.governor)
    }

    /// Programs the configured core-PMU events on `cpu` (at boot, and when it comes back).
    pub fn add_core_events(&mut self, cpu: usize, now_ns: u64) -> Result<(), crate::pmu::PmuError> {
        for _ in 0..self.config.sampling_events {
            self.add(cpu, now_ns, CounterMode::Sampling { period_events: self.config.sample_period_events })?;
        }
        for _ in 0..self.config.counting_events {
            self.add(cpu, now_ns, self.counting_mode())?;
        }
        Ok(())
    }

    fn counting_mode(&self) -> CounterMode {
        CounterMode::Counting { fold_on_overflow: self.config.fold_on_overflow }
    }

    /// Removes every event of a unit (perf exit of its core context); returns the events whose
    /// count was wrong.
    pub fn remove_all(&mut self, unit: usize, now_ns: u64) -> Vec<(u64, u64)> {
        let multiplexed = self.units[unit].events().len() > self.config.cpu.counters as usize;
        let ids: Vec<u64> = self.units[unit].events().iter().map(|e| e.id()).collect();
        let mut wrong = Vec::new();
        for id in ids {
            if let Some(event) = self.units[unit].remove_event(now_ns, id, &mut self.governor) {
                let error = record(&mut self.stats, &event.reading(), event.counter(), multiplexed);
                self.stats.wraps_lost += event.counter().wraps_lost();
                self.stats.wraps += event.counter().unraised_wraps();
                if error > 0 {
                    wrong.push((id, error));
                }
            }
        }
        wrong
    }

    /// Reads every counting event of a unit (at an uncore handoff, or periodically); the
    /// wrong ones.
    pub fn read_all(&mut self, unit: usize, now_ns: u64) -> Vec<(u64, u64)> {
        let ids: Vec<u64> =
            self.units[unit].events().iter().filter(|e| !e.counter().config().is_sampling()).map(|e| e.id()).collect();
        let mut wrong = Vec::new();
        let PmuLoad { units, governor, stats, .. } = self;
        for id in ids {
            let Some(reading) = units[unit].read_event(now_ns, id, governor) else { continue };
            let error = record(stats, &reading, units[unit].event(id).expect("just read").counter(), false);
            if error > 0 {
                wrong.push((id, error));
            }
        }
        wrong
    }

    /// When the kernel must next wake a unit (`u64::MAX`: never). An overflow only arms a PMI
    /// one skid later, and nothing outside the unit sees the instant between (advance_to steps
    /// through it exactly), so one wake serves both.
    pub fn wake_ns(&self, unit: usize) -> u64 {
        wake_ns(&self.units[unit])
    }

    /// Whether `unit` runs ahead of the engine rather than being woken by its own events.
    #[inline]
    pub fn runs_ahead(&self, unit: usize) -> bool {
        self.run_ahead && unit < self.core_units
    }

    /// Steps every running-ahead core unit through its wakes at or before `limit_ns`, exactly as
    /// one wake event each would, in parallel. `online` is the hotplug mask, for invariant 2.
    /// Returns the PMIs found due on offline CPUs, in time order, and the earliest next wake.
    pub fn run_ahead_to(&mut self, limit_ns: u64, online: &CpuMask) -> (Vec<OfflinePmi>, u64) {
        assert!(self.run_ahead, "run-ahead quantum without run-ahead");
        let core = self.core_units;
        let PmuLoad { units, scheduled_ns, governor, .. } = self;
        let governor = &*governor;
        let per_unit: Vec<(u64, Vec<OfflinePmi>)> = units[..core]
            .par_iter_mut()
            .zip(scheduled_ns[..core].par_iter_mut())
            .enumerate()
            .with_min_len(64)
            .map_init(
                || governor.clone(),
                |unit_governor, (unit, (pmu, scheduled_ns))| {
                    let mut offline = Vec::new();
                    while *scheduled_ns <= limit_ns {
                        let wake = *scheduled_ns;
                        if pmu.pmi_pending_ns().is_some_and(|t| t <= wake) && !online.test(unit as u32) {
                            offline.push(OfflinePmi { time_ns: wake, unit });
                        }
                        pmu.advance_to(wake, unit_governor);
                        *scheduled_ns = wake_ns(pmu);
                        assert!(*scheduled_ns > wake, "cpu {unit}: next wake {} not after {wake}", *scheduled_ns);
                    }
                    assert_eq!(unit_governor, governor, "cpu {unit} changed the governor while running ahead");
                    (*scheduled_ns, offline)
                },
            )
            .collect();
        let next_ns = per_unit.iter().map(|(next_ns, _)| *next_ns).min().unwrap_or(u64::MAX);
        let mut offline: Vec<OfflinePmi> = per_unit.into_iter().flat_map(|(_, offline)| offline).collect();
        offline.sort_by_key(|pmi| (pmi.time_ns, pmi.unit));
        (offline, next_ns)
    }

    pub fn uncore_unit(&self, pmu: u16, package: u32) -> Option<usize> {
        self.uncore.iter().position(|&u| u == (pmu, package)).map(|i| self.core_units + i)
    }

    pub fn totals(&self) -> PmuStats {
        let mut stats = self.stats.clone();
        for unit in &self.units {
            let s = unit.stats();
            stats.pmis += s.pmis;
            stats.samples += s.samples;
            stats.samples_throttled += s.samples_throttled;
            stats.throttles += s.throttles;
            stats.lost_samples += s.overflows_dropped;
            stats.wraps += s.overflows;
            stats.wraps += unit.events().iter().map(|e| e.counter().unraised_wraps()).sum::<u64>();
            stats.wraps_lost += unit.events().iter().map(|e| e.counter().wraps_lost()).sum::<u64>();
        }
        stats
    }
}

/// Scheduling the units' wakes, run-ahead quanta and periodic reads on the engine, and the
/// hotplug and perf hooks that change what a unit has due.
impl PmuLoad {
    /// Schedules every unit's first wake and the first periodic read.
    pub fn schedule_boot(&mut self, sched: &mut Scheduler) {
        for unit in 0..self.units.len() {
            self.reschedule(unit, sched);
        }
        if self.config.read_interval_ns > 0 {
            sched.schedule_at(self.config.read_interval_ns, Event::new(0, EV_PMU_READ, 0));
        }
    }

    /// Schedules a unit's next wake if it moved; an earlier one becomes stale. A unit that
    /// runs ahead only notes the time, and pulls the quantum forward if it needs one sooner.
    #[inline]
    pub fn reschedule(&mut self, unit: usize, sched: &mut Scheduler) {
        let next = self.wake_ns(unit);
        let next = if next == u64::MAX { next } else { next.max(sched.now_ns()) };
        if self.runs_ahead(unit) {
            self.scheduled_ns[unit] = next;
            let quantum_ns = quantum_end(next);
            if quantum_ns < self.quantum_ns {
                self.quantum_ns = quantum_ns;
                sched.schedule_at(quantum_ns, Event::new(0, EV_PMU_QUANTUM, quantum_ns));
            }
            return;
        }
        if next != self.scheduled_ns[unit] {
            self.scheduled_ns[unit] = next;
            if next != u64::MAX {
                sched.schedule_at(next, Event::new(unit as u32, EV_PMU_WAKE, next));
            }
        }
    }

    /// A run-ahead quantum: every core unit takes its wakes up to now; the next quantum is the
    /// one that holds the earliest wake still to come. The PMIs found due on offline CPUs.
    fn quantum(&mut self, due_ns: u64, online: &CpuMask, sched: &mut Scheduler) -> Vec<OfflinePmi> {
        if self.quantum_ns != due_ns {
            return Vec::new();
        }
        self.stats.wakes += 1;
        let (offline, next_ns) = self.run_ahead_to(due_ns, online);
        self.quantum_ns = quantum_end(next_ns);
        if self.quantum_ns != u64::MAX {
            sched.schedule_at(self.quantum_ns, Event::new(0, EV_PMU_QUANTUM, self.quantum_ns));
        }
        offline
    }

    /// A unit's own wake, unless stale. The CPU that should take its PMI if one is due now and
    /// that CPU (its reader, for an uncore unit) is offline (`u32::MAX`: the package has none).
    fn wake(&mut self, unit: usize, due_ns: u64, online: &CpuMask, perf: &Perf, sched: &mut Scheduler) -> Option<u32> {
        let now_ns = sched.now_ns();
        if self.scheduled_ns[unit] != due_ns {
            return None;
        }
        self.scheduled_ns[unit] = u64::MAX;
        self.stats.wakes += 1;
        let reader = if unit < self.core_units {
            Some(unit as u32)
        } else {
            let (pmu, package) = self.uncore[unit - self.core_units];
            perf.uncore_owner(pmu, package)
        };
        let pmi_due = self.units[unit].pmi_pending_ns().is_some_and(|t| t <= now_ns);
        let offline = (pmi_due && !reader.is_some_and(|c| online.test(c))).then(|| reader.unwrap_or(u32::MAX));
        self.units[unit].advance_to(now_ns, &mut self.governor);
        self.reschedule(unit, sched);
        offline
    }

    /// The periodic read (`perf stat -I`) of every counting event on the machine: the wrong
    /// counts as `(unit, cpu, event, error)`.
    fn read_every_unit(&mut self, sched: &mut Scheduler) -> Vec<(usize, u32, u64, u64)> {
        let now_ns = sched.now_ns();
        let mut wrong = Vec::new();
        for unit in 0..self.units.len() {
            let cpu = self.units[unit].cpu();
            wrong.extend(self.read_all(unit, now_ns).into_iter().map(|(event, error)| (unit, cpu, event, error)));
        }
        for unit in 0..self.units.len() {
            self.reschedule(unit, sched);
        }
        sched.schedule_at(now_ns + self.config.read_interval_ns, Event::new(0, EV_PMU_READ, 0));
        wrong
    }

    /// A CPU's core unit follows its bit in the hotplug online mask.
    pub fn set_cpu_online(&mut self, cpu: u32, online: bool, sched: &mut Scheduler) {
        self.units[cpu as usize].set_online(sched.now_ns(), online, &mut self.governor);
        self.reschedule(cpu as usize, sched);
    }

    /// `pmu`'s context on `cpu` came online: a core unit left empty by its CPU's perf exit
    /// gets its events again.
    pub fn ctx_came_online(&mut self, cpu: u32, pmu: u16, sched: &mut Scheduler) {
        if Some(pmu) == self.core_slot && self.units[cpu as usize].events().is_empty() {
            self.add_core_events(cpu as usize, sched.now_ns()).expect("validated PMU load");
            self.reschedule(cpu as usize, sched);
        }
    }

    /// perf removes `pmu`'s events from `cpu`: if that is the load's core PMU, its unit's
    /// events go too; the wrong counts among them.
    pub fn remove_ctx_events(&mut self, cpu: u32, pmu: u16, now_ns: u64) -> Vec<(u64, u64)> {
        if Some(pmu) != self.core_slot {
            return Vec::new();
        }
        self.remove_all(cpu as usize, now_ns)
    }

    /// Uncore units of `package` run while the package has a designated reader.
    pub fn sync_uncore_units(&mut self, package: u32, perf: &Perf, sched: &mut Scheduler) {
        let units: Vec<(usize, bool)> = self
            .uncore
            .iter()
            .enumerate()
            .filter(|(_, (_, k))| *k == package)
            .map(|(i, (pmu, k))| (self.core_units + i, perf.uncore_owner(*pmu, *k).is_some()))
            .collect();
        for (unit, online) in units {
            if self.units[unit].is_online() != online {
                self.units[unit].set_online(sched.now_ns(), online, &mut self.governor);
                self.reschedule(unit, sched);
            }
        }
    }

    /// Brings core units that run ahead to where one event per wake would have left them when
    /// the engine stopped, then every unit through the steps due by then that its wake, one
    /// skid later, would have taken after the end (an overflow or tick in the run's last skid
    /// counts); the PMIs found due on offline CPUs.
    fn finish(&mut self, outcome: &RunOutcome, online: &CpuMask) -> Vec<OfflinePmi> {
        assert!(!self.finished, "Kernel::finish called twice");
        self.finished = true;
        let limit_ns = match outcome.stop {
            StopReason::TimeLimit => outcome.end_ns.saturating_sub(1),
            _ => outcome.end_ns,
        };
        let mut offline = if self.run_ahead { self.run_ahead_to(limit_ns, online).0 } else { Vec::new() };
        // In the order the wakes would have come (the governor is shared), each unit takes its
        // steps up to the end.
        let due = |pmu: &CpuPmu| pmu.next_event_ns().filter(|&t| t <= limit_ns && pmu.now_ns() < limit_ns);
        let mut wakes: std::collections::BinaryHeap<std::cmp::Reverse<(u64, usize)>> = (0..self.units.len())
            .filter(|&unit| due(&self.units[unit]).is_some())
            .map(|unit| std::cmp::Reverse((wake_ns(&self.units[unit]), unit)))
            .collect();
        while let Some(std::cmp::Reverse((_, unit))) = wakes.pop() {
            let pmu = &mut self.units[unit];
            // As run_ahead_to(): a PMI delivered by this advance, on a CPU the mask shows offline.
            let target_ns = wake_ns(pmu).min(limit_ns);
            if let Some(time_ns) = pmu.pmi_pending_ns().filter(|&t| t <= target_ns)
                && unit < self.core_units
                && !online.test(unit as u32)
            {
                offline.push(OfflinePmi { time_ns, unit });
            }
            pmu.advance_to(target_ns, &mut self.governor);
            if due(pmu).is_some() {
                wakes.push(std::cmp::Reverse((wake_ns(pmu), unit)));
            }
        }
        offline.sort_by_key(|pmi| (pmi.time_ns, pmi.unit));
        offline
    }
}

/// The end of the run-ahead quantum that holds `time_ns` (`u64::MAX` stays the end of time).
fn quantum_end(time_ns: u64) -> u64 {
    time_ns.div_ceil(PMU_QUANTUM_NS).saturating_mul(PMU_QUANTUM_NS)
}

/// The kernel's side: PMU events from the engine, and the violations the units find.
impl Kernel {
    /// PMU figures of the run, if it carried PMU load; [`finish`](Self::finish) first.
    pub fn pmu_stats(&self) -> Option<PmuStats> {
        self.pmu.as_ref().map(|p| {
            assert!(p.finished, "PMU figures read before Kernel::finish");
            p.totals()
        })
    }

    /// Brings core units that run ahead to where one event per wake would have left them when
    /// the engine stopped: every wake before the time limit, or at or before the last event.
    /// Call once after the run, before [`pmu_stats`](Self::pmu_stats).
    pub(super) fn finish_pmu_load(&mut self, outcome: &RunOutcome) {
        let Some(load) = &mut self.pmu else { return };
        let offline = load.finish(outcome, &self.online);
        self.report_offline_pmis(offline);
    }

    /// Schedules a PMU unit's next wake, if the run carries PMU load.
    #[inline]
    pub(super) fn pmu_reschedule(&mut self, unit: usize, sched: &mut Scheduler) {
        if let Some(load) = &mut self.pmu {
            load.reschedule(unit, sched);
        }
    }

    /// Uncore units of a package run while the package has a designated reader.
    pub(super) fn sync_uncore_units(&mut self, package: u32, sched: &mut Scheduler) {
        if let Some(load) = &mut self.pmu {
            load.sync_uncore_units(package, &self.perf, sched);
        }
    }

    /// Handles an `EV_PMU_*` event.
    pub(super) fn handle_pmu_event(&mut self, event: Event, sched: &mut Scheduler) {
        let load = self.pmu.as_mut().expect("PMU event without PMU load");
        match event.kind {
            EV_PMU_WAKE => {
                let unit = event.target as usize;
                if let Some(cpu) = load.wake(unit, event.data, &self.online, &self.perf, sched) {
                    self.offline_pmi(unit, cpu, sched.now_ns());
                }
            }
            EV_PMU_READ => {
                let now_ns = sched.now_ns();
                for (unit, cpu, event, error) in load.read_every_unit(sched) {
                    let what = format!("PMU event {event} of unit {unit} read {error} events off its ground truth");
                    self.machine_violation(Invariant::CountsMatchGroundTruth, cpu, what, now_ns);
                }
            }
            EV_PMU_QUANTUM => {
                let offline = load.quantum(event.data, &self.online, sched);
                self.report_offline_pmis(offline);
            }
            other => panic!("not a PMU event kind: {other}"),
        }
    }

    /// Records PMIs found due on offline CPUs while running ahead (a core unit's CPU is its reader).
    fn report_offline_pmis(&mut self, offline: Vec<OfflinePmi>) {
        for pmi in offline {
            self.offline_pmi(pmi.unit, pmi.unit as u32, pmi.time_ns);
        }
    }

    /// A PMI of `unit` due while its reader `cpu` is offline.
    fn offline_pmi(&mut self, unit: usize, cpu: u32, time_ns: u64) {
        let what = format!("PMI of PMU unit {unit} due on offline cpu {cpu}");
        self.machine_violation(Invariant::NoPmiOnOfflineCpu, cpu, what, time_ns);
    }
}

/// See [`PmuLoad::wake_ns`].
fn wake_ns(unit: &CpuPmu) -> u64 {
    match (unit.next_event_ns(), unit.pmi_pending_ns()) {
        (Some(next), Some(pmi)) => next.saturating_add(unit.config().skid_ns).min(pmi),
        (Some(next), None) => next.saturating_add(unit.config().skid_ns),
        (None, _) => u64::MAX,
    }
}

/// Records a reading in `stats`: the multiplexing error, and for a counting event its count
/// error (from [`count_error`]), which it returns.
fn record(stats: &mut PmuStats, reading: &EventReading, counter: &Counter, multiplexed: bool) -> u64 {
    if multiplexed && let Some(error) = reading.scaled_error_events() {
        let error = error.unsigned_abs().min(u64::MAX as u128) as u64;
        stats.mux_error_events.record(error).expect("auto-resizing");
    }
    let Some(error) = count_error(reading, counter) else { return 0 };
    stats.reads += 1;
    if matches!(counter.config().mode, CounterMode::Counting { fold_on_overflow: true }) {
        stats.max_count_error_events = stats.max_count_error_events.max(error);
    }
    error
}

/// Invariant 3 on a counting event's reading: a folded count equals its ground truth, an
/// unfolded one is short by exactly its lost wraps × 2^width. The error beyond that; `None`
/// for a sampling event.
fn count_error(reading: &EventReading, counter: &Counter) -> Option<u64> {
    let config = counter.config();
    let CounterMode::Counting { fold_on_overflow } = config.mode else { return None };
    let lost = if fold_on_overflow { 0 } else { (counter.wraps_lost() as i128) << config.width_bits };
    let short = reading.truth_running_events as i128 - reading.count as i128;
    Some((short - lost).unsigned_abs().min(u64::MAX as u128) as u64)
}
