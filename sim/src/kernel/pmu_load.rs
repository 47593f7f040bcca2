//! PMU load in the kernel model: per-CPU core-PMU events (like `perf record -a`) and one
//! counting event per uncore PMU per package, on the computed-overflow model of `crate::pmu`.
//! The kernel wakes a CPU's PMU only when it has something due (a PMI, a rotation, a tick).

use hdrhistogram::Histogram;

use crate::lockstat::new_histogram;
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
}

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
    /// Counter wraps past 2^width (every overflow, sampling or counting).
    pub wraps: u64,
    /// Wraps an unfolded counting event missed between reads: its count is short by
    /// exactly this many × 2^width.
    pub wraps_lost: u64,
    /// Counting-event reads (periodic, at handoff and at removal).
    pub reads: u64,
    /// |scaled − true| of multiplexed events at removal, in events.
    pub mux_error_events: Histogram<u64>,
    /// Simulation events spent on PMU wakes (for events-per-PMI).
    pub wakes: u64,
}

pub(super) struct PmuLoad {
    pub config: PmuLoadConfig,
    pub governor: SampleRateGovernor,
    /// Core PMU units, one per CPU, then uncore units `(pmu, package)`.
    pub units: Vec<CpuPmu>,
    /// When each unit's wake event is scheduled (`u64::MAX`: none).
    pub scheduled_ns: Vec<u64>,
    pub core_units: usize,
    /// `(uncore pmu slot, package)` of each uncore unit.
    pub uncore: Vec<(u16, u32)>,
    pub next_event_id: u64,
    pub stats: PmuStats,
}

impl PmuLoad {
    pub fn new(
        config: PmuLoadConfig,
        seed: u64,
        cpus: u32,
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
        let mut load = PmuLoad {
            config,
            governor,
            units,
            scheduled_ns: vec![u64::MAX; n],
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
            stats.wraps_lost += unit.events().iter().map(|e| e.counter().wraps_lost()).sum::<u64>();
        }
        stats
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
