//! The PMU's exact arithmetic: hardware event sources, counters, sampling, throttling and
//! multiplexing, with the ground truth always known.
//!
//! This module is pure. Every operation takes an explicit `now_ns` and reports when something
//! happens next; it schedules no engine events and knows nothing of locks, scripts or hotplug
//! order. The kernel model drives it: it wakes each [`CpuPmu`] at [`CpuPmu::next_event_ns`] and
//! calls [`CpuPmu::advance_to`]; on hotplug it calls [`CpuPmu::set_online`], and for an uncore
//! handoff [`CpuPmu::remove_event`] on one CPU and [`CpuPmu::insert_event`] on another.
//!
//! Conventions shared by every file here:
//! - **Counts.** A source's cumulative count of one kind at `t` is `C(t) = ⌊I(t) / 10^9⌋`,
//!   where `I(t)` is the exact `u128` integral of its rate (events/s) over the nanoseconds since
//!   its origin. The count in `[t0, t1)` is `C(t1) − C(t0)`, so every split of an interval sums
//!   exactly to the whole and no fraction is lost at a phase change or while offline. For a
//!   constant rate `r` from origin 0, `C(t) = ⌊r·t / 10^9⌋` ([`count_between`]).
//! - **Overflow.** A counter overflows in the first nanosecond `t` at which `C(t)` reaches the
//!   count where its value wraps to 0 mod 2^width. Its PMI is delivered at `t + skid_ns`, or
//!   when the previous handler returns if that is later; at delivery the handler folds the
//!   value, records the sample and reprograms, all at once, then keeps the CPU busy for
//!   `handler_ns`. Counters keep counting through skid and handler.
//! - **Ticks.** Tick `k` is `[k·tick_ns, (k+1)·tick_ns)` on every CPU, `tick_ns` = `TICK_NSEC`;
//!   a throttled event restarts at the start of the next tick.
//! - **Rotation.** While a CPU has more events than counters, its event list rotates at every
//!   multiple of `mux_interval_ns`.
//! - **Same-time order.** At one instant: raised overflows, then tick work, then a rotation,
//!   then a PMI.

mod counter;
mod cpu;
mod governor;
mod source;
#[cfg(test)]
mod tests;

pub use counter::{
    Counter, CounterConfig, CounterMode, MAX_PERIOD_EVENTS, MAX_WIDTH_BITS, MIN_WIDTH_BITS, PmiOutcome, counter_mask,
    fold_period_events, shift_delta,
};
pub use cpu::{
    CpuPmu, CpuPmuConfig, CpuPmuStats, DEFAULT_HANDLER_NS, DEFAULT_MUX_INTERVAL_NS, DEFAULT_SKID_NS, EventReading,
    MAX_COUNTERS, MAX_EVENTS_PER_CPU, MAX_MUX_INTERVAL_NS, MAX_PMI_NS, PmuEvent,
};
pub use governor::{
    DEFAULT_CPU_TIME_MAX_PERCENT, DEFAULT_HZ, DEFAULT_MAX_SAMPLE_RATE_PER_S, GovernorConfig, MAX_HZ,
    MAX_SAMPLE_RATE_PER_S, NR_ACCUMULATED_SAMPLES, SampleRateGovernor,
};
pub use source::{
    EventKind, EventSource, MAX_CYCLES_PER_S, MAX_INSTRUCTIONS_PER_KILOCYCLE, MAX_MISSES_PER_KILOINSTRUCTION,
    MAX_PHASE_NS_MEAN, MAX_RATE_PER_S, NS_PER_S, PhaseConfig, Rates, count_between,
};

/// A PMU configuration or request the model cannot accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PmuError {
    #[error("width_bits = {0}: must be between 1 and 64")]
    WidthBits(u32),
    #[error("width_bits = {0}: a counting event needs at least 2 bits, as it folds every 2^(width_bits-1) - 1 events")]
    CountingWidthBits(u32),
    #[error("period_events = 0: a sampling event needs a period of at least 1 event")]
    PeriodZero,
    #[error("period_events = {period_events}: must be below 2^{width_bits} (the counter's width) and at most 2^63 - 1")]
    PeriodTooLarge { period_events: u64, width_bits: u32 },
    #[error("{field} = {value}: must be between {min} and {max}")]
    OutOfRange { field: &'static str, value: u64, min: u64, max: u64 },
    #[error("{min_field} = {min}: must not exceed {max_field} = {max}")]
    EmptyRange { min_field: &'static str, min: u64, max_field: &'static str, max: u64 },
    #[error("event {id} is already installed on cpu {cpu}")]
    DuplicateEvent { id: u64, cpu: u32 },
    #[error("cpu {cpu} already has {MAX_EVENTS_PER_CPU} events on this PMU, the most allowed")]
    TooManyEvents { cpu: u32 },
}
