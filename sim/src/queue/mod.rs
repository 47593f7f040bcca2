//! Pending-event queues ordered by `(time_ns, seq)`.
//!
//! [`HybridHeap`] is the engine's queue: a [`QuadHeap`] while few events are pending, a
//! [`RadixHeap`] while many are. [`StdBinaryHeap`] is the baseline (see `sim/benches/queue.rs`).

mod hybrid_heap;
mod quad_heap;
mod radix_heap;
mod std_heap;

pub use hybrid_heap::{HybridHeap, TO_QUAD, TO_RADIX};
pub use quad_heap::QuadHeap;
pub use radix_heap::RadixHeap;
pub use std_heap::StdBinaryHeap;

use crate::event::Scheduled;

/// A priority queue of scheduled events that pops in ascending `(time_ns, seq)` order.
///
/// Keys pushed must not be lower than the last key popped: simulated time never goes back.
pub trait EventQueue: Default {
    fn push(&mut self, item: Scheduled);
    fn pop(&mut self) -> Option<Scheduled>;
    /// The next item to pop. Takes `&mut self` because some queues reorganise on a peek.
    fn peek(&mut self) -> Option<&Scheduled>;
    /// The time of the next item to pop, leaving the queue as it is (a peek may move a
    /// radix heap's base past keys still to be pushed).
    fn next_time_ns(&self) -> Option<u64>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use proptest::prelude::*;

    fn item(time_ns: u64, seq: u64) -> Scheduled {
        Scheduled { time_ns, seq, event: Event::new(seq as u32, 0, 0) }
    }

    /// Drives a queue with interleaved pushes (never below the last pop) and pops, and checks
    /// the pop order against a sorted reference.
    fn pops_in_key_order<Q: EventQueue>(ops: &[(bool, u64)]) {
        let mut q = Q::default();
        let mut reference: Vec<u128> = Vec::new();
        let mut now = 0u64;
        let mut seq = 0u64;
        for &(is_push, delay) in ops {
            if is_push {
                q.push(item(now.saturating_add(delay), seq));
                reference.push(item(now.saturating_add(delay), seq).key());
                seq += 1;
            } else {
                reference.sort_unstable_by(|a, b| b.cmp(a));
                let expected = reference.pop();
                assert_eq!(q.next_time_ns(), expected.map(|k| (k >> 64) as u64), "next_time_ns");
                let peeked = q.peek().map(|s| s.key());
                let got = q.pop();
                assert_eq!(peeked, expected);
                assert_eq!(got.map(|s| s.key()), expected);
                if let Some(s) = got {
                    now = s.time_ns;
                }
            }
            assert_eq!(q.len(), reference.len());
        }
    }

    /// Runs of pushes and of pops, each up to 800 long, so that the hybrid heap's size
    /// crosses [`TO_RADIX`] and [`TO_QUAD`] both ways.
    fn phases(runs: &[(usize, bool)], delays: &[u64]) -> Vec<(bool, u64)> {
        let mut delay = delays.iter().cycle();
        runs.iter().flat_map(|&(n, push)| (0..n).map(|_| (push, *delay.next().unwrap())).collect::<Vec<_>>()).collect()
    }

    proptest! {
        #[test]
        fn hybrid_heap_pops_in_time_then_seq_order_across_its_switches(
            runs in proptest::collection::vec((1usize..800, any::<bool>()), 1..8),
            delays in proptest::collection::vec(0u64..50, 1..64),
        ) {
            pops_in_key_order::<HybridHeap>(&phases(&runs, &delays));
        }
    }

    #[test]
    fn hybrid_heap_moves_to_the_radix_heap_above_its_bound_and_back_below_the_lower_one() {
        let mut q = HybridHeap::default();
        for seq in 0..TO_RADIX as u64 {
            q.push(item(seq % 7, seq));
        }
        assert!(!q.in_radix(), "at the bound it stays a 4-ary heap");
        q.push(item(3, TO_RADIX as u64));
        assert!(q.in_radix());
        let mut last = 0;
        while q.len() >= TO_QUAD {
            let key = q.pop().expect("item").key();
            assert!(key > last || last == 0);
            last = key;
            assert_eq!(q.in_radix(), q.len() >= TO_QUAD);
        }
        assert!(!q.in_radix());
        let rest: Vec<u128> = std::iter::from_fn(|| q.pop()).map(|s| s.key()).collect();
        assert_eq!(rest.len(), TO_QUAD - 1);
        assert!(rest.is_sorted() && rest[0] > last);
    }

    proptest! {
        #[test]
        fn radix_heap_pops_in_time_then_seq_order(ops in proptest::collection::vec((any::<bool>(), 0u64..50), 0..400)) {
            pops_in_key_order::<RadixHeap>(&ops);
        }

        #[test]
        fn quad_heap_pops_in_time_then_seq_order(ops in proptest::collection::vec((any::<bool>(), 0u64..50), 0..400)) {
            pops_in_key_order::<QuadHeap>(&ops);
        }

        #[test]
        fn radix_heap_handles_huge_time_gaps(ops in proptest::collection::vec((any::<bool>(), prop_oneof![Just(0u64), Just(u64::MAX / 4), 0u64..1 << 40]), 0..200)) {
            pops_in_key_order::<RadixHeap>(&ops);
        }
    }

    #[test]
    fn radix_heap_accepts_push_below_peeked_minimum() {
        let mut q = RadixHeap::default();
        q.push(item(100, 0));
        assert_eq!(q.peek().map(|s| s.time_ns), Some(100));
        q.push(item(50, 1));
        assert_eq!(q.pop().map(|s| s.time_ns), Some(50));
        assert_eq!(q.pop().map(|s| s.time_ns), Some(100));
        assert!(q.pop().is_none());
    }

    #[test]
    fn equal_times_pop_in_insertion_order() {
        let mut q = RadixHeap::default();
        for seq in 0..10 {
            q.push(item(7, seq));
        }
        let order: Vec<u64> = std::iter::from_fn(|| q.pop()).map(|s| s.seq).collect();
        assert_eq!(order, (0..10).collect::<Vec<_>>());
    }
}
