//! The engine's queue: a 4-ary heap while few events are pending, a radix heap while many are.
//!
//! The kernel model keeps tens of events pending (74 at most in a 4,096-CPU storm) and asks
//! for the next one's time before every in-place step ([`crate::Scheduler::advance_in_place`]):
//! a small heap answers from its root, where a radix heap scans a bucket. PHOLD keeps
//! thousands to millions pending, where the radix heap's pushes and shallow moves win
//! (`sim/benches/queue.rs`; README, Benchmarks).

use super::{EventQueue, QuadHeap, RadixHeap};
use crate::event::Scheduled;

/// Above this many pending events the items move to the radix heap.
pub const TO_RADIX: usize = 512;
/// Below this many they move back to the 4-ary heap; the gap keeps a queue whose size swings
/// around one bound from moving at every event.
pub const TO_QUAD: usize = 128;
const _: () = assert!(TO_QUAD < TO_RADIX, "a queue that moves to the radix heap must not move straight back");

/// A priority queue on `(time_ns, seq)` that holds its items in whichever of a [`QuadHeap`]
/// and a [`RadixHeap`] suits their number; the pop order is the same either way.
#[derive(Default)]
pub struct HybridHeap {
    quad: QuadHeap,
    radix: RadixHeap,
    in_radix: bool,
}

impl HybridHeap {
    /// Whether the items are in the radix heap now.
    pub fn in_radix(&self) -> bool {
        self.in_radix
    }

    #[cold]
    fn move_to_radix(&mut self) {
        while let Some(item) = self.quad.pop() {
            self.radix.push(item);
        }
        self.in_radix = true;
    }

    /// Pops in ascending order, so each push lands on a leaf and stays there. A fresh radix
    /// heap replaces the emptied one: its base has moved to the last key popped.
    #[cold]
    fn move_to_quad(&mut self) {
        while let Some(item) = self.radix.pop() {
            self.quad.push(item);
        }
        self.radix = RadixHeap::default();
        self.in_radix = false;
    }
}

impl EventQueue for HybridHeap {
    #[inline]
    fn push(&mut self, item: Scheduled) {
        if self.in_radix {
            self.radix.push(item);
        } else {
            self.quad.push(item);
            if self.quad.len() > TO_RADIX {
                self.move_to_radix();
            }
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<Scheduled> {
        if !self.in_radix {
            return self.quad.pop();
        }
        let item = self.radix.pop();
        if self.radix.len() < TO_QUAD {
            self.move_to_quad();
        }
        item
    }

    #[inline]
    fn peek(&mut self) -> Option<&Scheduled> {
        if self.in_radix { self.radix.peek() } else { self.quad.peek() }
    }

    #[inline]
    fn next_time_ns(&self) -> Option<u64> {
        if self.in_radix { self.radix.next_time_ns() } else { self.quad.next_time_ns() }
    }

    #[inline]
    fn len(&self) -> usize {
        if self.in_radix { self.radix.len() } else { self.quad.len() }
    }
}
