//! PHOLD, the standard DES benchmark, on the engine and on a bare `BinaryHeap` loop.
//!
//! `lps` logical processes each start with `pop` events at Exp(1) times; every processed event
//! schedules one new event at a uniformly random LP, Exp(1) later. One time unit is
//! [`PHOLD_MEAN_DELAY_NS`]. Both loops draw from the same stream in the same order, so they do
//! identical work and end with the same [`PholdResult`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;
use thiserror::Error;

use crate::engine::{Limits, Model, Scheduler};
use crate::event::Event;
use crate::queue::EventQueue;
use crate::rng::{ChaCha8Rng, exp_ns, stream_rng};

/// PHOLD's time unit: the mean delay of a new event.
pub const PHOLD_MEAN_DELAY_NS: f64 = 1_000_000.0;
/// Most logical processes a PHOLD run may have.
pub const MAX_LPS: u32 = 1 << 24;
/// Most events that may be pending at once (`lps × pop`): 2 GiB of queue at 32 bytes each.
pub const MAX_PENDING: u64 = 1 << 26;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PholdConfig {
    pub lps: u32,
    pub pop: u32,
    pub events: u64,
    pub seed: u64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PholdError {
    #[error("lps = {0}: must be between 1 and {MAX_LPS}")]
    Lps(u32),
    #[error("pop = {0}: must be at least 1")]
    Pop(u32),
    #[error("lps × pop = {0}: at most {MAX_PENDING} events may be pending")]
    Pending(u64),
}

impl PholdConfig {
    pub fn validate(&self) -> Result<(), PholdError> {
        if self.lps == 0 || self.lps > MAX_LPS {
            return Err(PholdError::Lps(self.lps));
        }
        if self.pop == 0 {
            return Err(PholdError::Pop(self.pop));
        }
        let pending = self.lps as u64 * self.pop as u64;
        if pending > MAX_PENDING {
            return Err(PholdError::Pending(pending));
        }
        Ok(())
    }
}

/// What a PHOLD run did; equal for the engine and the baseline on the same config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PholdResult {
    pub events: u64,
    pub end_ns: u64,
    /// A running mix of every processed event's time and LP: equal iff the traces are.
    pub checksum: u64,
}

#[inline]
fn mix(checksum: u64, time_ns: u64, lp: u32) -> u64 {
    (checksum.rotate_left(5) ^ time_ns ^ ((lp as u64) << 40)).wrapping_mul(0x0100_0000_01b3)
}

struct Phold {
    lps: u32,
    rng: ChaCha8Rng,
    checksum: u64,
}

impl<Q: EventQueue> Model<Q> for Phold {
    #[inline]
    fn handle(&mut self, event: Event, sched: &mut Scheduler<Q>) {
        self.checksum = mix(self.checksum, sched.now_ns(), event.target);
        let lp = self.rng.random_range(0..self.lps);
        let delay_ns = exp_ns(&mut self.rng, PHOLD_MEAN_DELAY_NS);
        sched.schedule_in(delay_ns, Event::new(lp, 0, 0));
    }
}

/// Runs PHOLD on the engine with queue `Q`.
pub fn run_engine<Q: EventQueue>(config: &PholdConfig) -> Result<PholdResult, PholdError> {
    config.validate()?;
    let mut model = Phold { lps: config.lps, rng: stream_rng(config.seed, 0), checksum: 0 };
    let mut sched = Scheduler::<Q>::with_queue();
    for lp in 0..config.lps {
        for _ in 0..config.pop {
            let time_ns = exp_ns(&mut model.rng, PHOLD_MEAN_DELAY_NS);
            sched.schedule_at(time_ns, Event::new(lp, 0, 0));
        }
    }
    let outcome = sched.run(&mut model, &Limits { max_events: config.events, ..Limits::default() });
    Ok(PholdResult { events: outcome.events_processed, end_ns: outcome.end_ns, checksum: model.checksum })
}

/// Runs PHOLD as a hand-written simulator would: a bare `BinaryHeap` of `(time, seq, lp)`.
pub fn run_baseline(config: &PholdConfig) -> Result<PholdResult, PholdError> {
    config.validate()?;
    let mut rng = stream_rng(config.seed, 0);
    let mut heap = BinaryHeap::with_capacity((config.lps as u64 * config.pop as u64) as usize);
    let mut seq = 0u64;
    for lp in 0..config.lps {
        for _ in 0..config.pop {
            heap.push(Reverse((exp_ns(&mut rng, PHOLD_MEAN_DELAY_NS), seq, lp)));
            seq += 1;
        }
    }
    let mut checksum = 0;
    let mut events = 0;
    let mut now_ns = 0;
    while events < config.events {
        let Some(Reverse((time_ns, _, lp))) = heap.pop() else {
            break;
        };
        now_ns = time_ns;
        events += 1;
        checksum = mix(checksum, now_ns, lp);
        let target = rng.random_range(0..config.lps);
        let delay_ns = exp_ns(&mut rng, PHOLD_MEAN_DELAY_NS);
        heap.push(Reverse((now_ns + delay_ns, seq, target)));
        seq += 1;
    }
    Ok(PholdResult { events, end_ns: now_ns, checksum })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{HybridHeap, QuadHeap, RadixHeap, StdBinaryHeap};

    fn config(seed: u64) -> PholdConfig {
        PholdConfig { lps: 64, pop: 4, events: 20_000, seed }
    }

    #[test]
    fn engine_and_baseline_process_the_identical_trace() {
        let baseline = run_baseline(&config(9)).unwrap();
        assert_eq!(baseline.events, 20_000);
        assert_eq!(run_engine::<HybridHeap>(&config(9)).unwrap(), baseline);
        assert_eq!(run_engine::<RadixHeap>(&config(9)).unwrap(), baseline);
        assert_eq!(run_engine::<QuadHeap>(&config(9)).unwrap(), baseline);
        assert_eq!(run_engine::<StdBinaryHeap>(&config(9)).unwrap(), baseline);
    }

    /// 1,024 pending throughout: the engine's queue holds them in its radix heap.
    #[test]
    fn engine_and_baseline_agree_above_the_hybrid_heaps_switch() {
        let config = PholdConfig { lps: 256, pop: 4, events: 20_000, seed: 3 };
        assert!((config.lps * config.pop) as usize > crate::queue::TO_RADIX);
        assert_eq!(run_engine::<HybridHeap>(&config).unwrap(), run_baseline(&config).unwrap());
    }

    #[test]
    fn same_seed_same_trace_different_seed_different_trace() {
        let a = run_engine::<HybridHeap>(&config(1)).unwrap();
        assert_eq!(a, run_engine::<HybridHeap>(&config(1)).unwrap());
        let b = run_engine::<HybridHeap>(&config(2)).unwrap();
        assert_ne!(a.checksum, b.checksum);
    }

    #[test]
    fn bad_configs_are_errors() {
        let ok = config(1);
        assert_eq!(run_engine::<HybridHeap>(&PholdConfig { lps: 0, ..ok }), Err(PholdError::Lps(0)));
        assert_eq!(run_baseline(&PholdConfig { pop: 0, ..ok }), Err(PholdError::Pop(0)));
        let huge = PholdConfig { lps: MAX_LPS, pop: 8, ..ok };
        assert_eq!(huge.validate(), Err(PholdError::Pending(MAX_LPS as u64 * 8)));
    }
}
