//! A 4-ary implicit min-heap: shallower than a binary heap, children share a cache line.

use super::EventQueue;
use crate::event::Scheduled;

const ARITY: usize = 4;

/// A 4-ary min-heap on `(time_ns, seq)`.
#[derive(Default)]
pub struct QuadHeap {
    items: Vec<Scheduled>,
}

impl EventQueue for QuadHeap {
    #[inline]
    fn push(&mut self, item: Scheduled) {
        let key = item.key();
        let mut hole = self.items.len();
        self.items.push(item);
        while hole > 0 {
            let parent = (hole - 1) / ARITY;
            if self.items[parent].key() <= key {
                break;
            }
            self.items[hole] = self.items[parent];
            hole = parent;
        }
        self.items[hole] = item;
    }

    #[inline]
    fn pop(&mut self) -> Option<Scheduled> {
        let last = self.items.pop()?;
        if self.items.is_empty() {
            return Some(last);
        }
        let top = self.items[0];
        let len = self.items.len();
        let key = last.key();
        let mut hole = 0;
        loop {
            let first = hole * ARITY + 1;
            if first >= len {
                break;
            }
            let end = (first + ARITY).min(len);
            let mut best = first;
            let mut best_key = self.items[first].key();
            for child in first + 1..end {
                let child_key = self.items[child].key();
                if child_key < best_key {
                    best = child;
                    best_key = child_key;
                }
            }
            if key <= best_key {
                break;
            }
            self.items[hole] = self.items[best];
            hole = best;
        }
        self.items[hole] = last;
        Some(top)
    }

    #[inline]
    fn peek(&mut self) -> Option<&Scheduled> {
        self.items.first()
    }

    #[inline]
    fn next_time_ns(&self) -> Option<u64> {
        self.items.first().map(|s| s.time_ns)
    }

    #[inline]
    fn len(&self) -> usize {
        self.items.len()
    }
}
