//! Seeded random streams: one `ChaCha8Rng` stream per entity, all derived from one run seed.
//!
//! Stream ids are fixed by entity identity ([`stream_id`]), so adding an entity never changes
//! the draws of another.

use rand::{Rng, SeedableRng};
use rand_distr::Exp1;

pub use rand_chacha::ChaCha8Rng;

/// Entities of one class share the top 16 bits of their stream id; the index fills the rest.
pub const STREAM_INDEX_BITS: u32 = 48;

/// The stream id of entity `index` of class `class`.
pub fn stream_id(class: u16, index: u64) -> u64 {
    assert!(index < 1 << STREAM_INDEX_BITS, "stream index {index} out of range");
    ((class as u64) << STREAM_INDEX_BITS) | index
}

/// The random stream `stream` of run seed `seed`.
pub fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// An exponentially distributed delay with mean `mean_ns`, rounded to the nearest nanosecond.
#[inline]
pub fn exp_ns<R: Rng + ?Sized>(rng: &mut R, mean_ns: f64) -> u64 {
    let x: f64 = rng.sample(Exp1);
    (x * mean_ns).round() as u64
}

/// SplitMix64's output function: a bijective mix of 64 bits.
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Largest seed: 63 bits, so that every seed is a TOML integer (i64) in scenario files.
pub const MAX_SEED: u64 = i64::MAX as u64;

/// The seed of run `index` of a sweep with master seed `master`:
/// `splitmix64(master ^ splitmix64(index)) >> 1` (63 bits). Independent of how runs are split.
pub fn derive_run_seed(master: u64, index: u64) -> u64 {
    splitmix64(master ^ splitmix64(index)) >> 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Limits, Model, Scheduler};

    /// Entities that each wake after an exponential delay drawn from their own stream.
    struct Sleepers {
        rngs: Vec<ChaCha8Rng>,
        draws: Vec<Vec<u64>>,
    }

    impl Sleepers {
        fn run(seed: u64, entities: u64) -> Vec<Vec<u64>> {
            let mut model = Sleepers {
                rngs: (0..entities).map(|i| stream_rng(seed, stream_id(7, i))).collect(),
                draws: vec![Vec::new(); entities as usize],
            };
            let mut sched = Scheduler::new();
            for i in 0..entities {
                sched.schedule_at(0, Event::new(i as u32, 0, 0));
            }
            sched.run(&mut model, &Limits { until_ns: 50_000, ..Limits::default() });
            model.draws
        }
    }

    impl Model for Sleepers {
        fn handle(&mut self, event: Event, sched: &mut Scheduler) {
            let i = event.target as usize;
            let delay = exp_ns(&mut self.rngs[i], 1000.0);
            self.draws[i].push(delay);
            sched.schedule_in(delay, event);
        }
    }

    #[test]
    fn adding_an_entity_leaves_other_entities_draws_unchanged() {
        let five = Sleepers::run(42, 5);
        let six = Sleepers::run(42, 6);
        assert_eq!(&six[..5], &five[..]);
        assert!(!six[5].is_empty());
    }

    #[test]
    fn streams_of_one_seed_differ() {
        let mut a = stream_rng(1, stream_id(1, 0));
        let mut b = stream_rng(1, stream_id(1, 1));
        let xs: Vec<u64> = (0..4).map(|_| a.random()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.random()).collect();
        assert_ne!(xs, ys);
    }

    #[test]
    fn exp_ns_mean_matches_within_five_standard_errors() {
        let mut rng = stream_rng(3, 0);
        let n = 200_000;
        let mean_ns = 1_000_000.0;
        let sum: f64 = (0..n).map(|_| exp_ns(&mut rng, mean_ns) as f64).sum();
        let standard_error = mean_ns / (n as f64).sqrt();
        assert!((sum / n as f64 - mean_ns).abs() < 5.0 * standard_error);
    }

    #[test]
    fn run_seeds_are_distinct_for_the_first_million_indices() {
        let mut seeds: Vec<u64> = (0..1_000_000).map(|i| derive_run_seed(1, i)).collect();
        seeds.sort_unstable();
        seeds.dedup();
        assert_eq!(seeds.len(), 1_000_000);
    }
}
