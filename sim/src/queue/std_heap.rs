//! `std::collections::BinaryHeap` behind [`EventQueue`]: the baseline a hand-written simulator uses.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::EventQueue;
use crate::event::Scheduled;

#[derive(Clone, Copy, PartialEq, Eq)]
struct ByKey(Scheduled);

impl Ord for ByKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.0.time_ns, self.0.seq).cmp(&(other.0.time_ns, other.0.seq))
    }
}

impl PartialOrd for ByKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A min-queue on the standard library's binary max-heap.
#[derive(Default)]
pub struct StdBinaryHeap {
    heap: BinaryHeap<Reverse<ByKey>>,
}

impl EventQueue for StdBinaryHeap {
    fn push(&mut self, item: Scheduled) {
        self.heap.push(Reverse(ByKey(item)));
    }

    fn pop(&mut self) -> Option<Scheduled> {
        self.heap.pop().map(|Reverse(ByKey(s))| s)
    }

    fn peek(&mut self) -> Option<&Scheduled> {
        self.heap.peek().map(|Reverse(ByKey(s))| s)
    }

    fn next_time_ns(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(ByKey(s))| s.time_ns)
    }

    fn len(&self) -> usize {
        self.heap.len()
    }
}
