//! A radix heap on the 128-bit key `(time_ns << 64) | seq`: the engine's queue while many
//! events are pending ([`super::HybridHeap`]).
//!
//! Monotone keys (simulated time never goes back) let each item sit in the bucket named by the
//! highest bit where it differs from the last minimum; a pop only scans the lowest non-empty
//! bucket and moves its items to lower buckets. Items move a few times at most, pushes are a
//! `Vec::push`, and nothing is ever sifted through a large heap (Ahuja et al., 1990).

use super::EventQueue;
use crate::event::Scheduled;

/// Bucket 0 holds items equal to `last`; bucket `b > 0` those whose highest differing bit is `b - 1`.
const BUCKETS: usize = 129;

pub struct RadixHeap {
    buckets: Vec<Vec<Scheduled>>,
    /// Bit `b` set iff bucket `b` is non-empty.
    occupied: [u64; 3],
    /// The current minimum's key; every stored key is at least this.
    last: u128,
    len: usize,
}

impl Default for RadixHeap {
    fn default() -> Self {
        Self { buckets: (0..BUCKETS).map(|_| Vec::new()).collect(), occupied: [0; 3], last: 0, len: 0 }
    }
}

#[inline]
fn bucket_of(key: u128, last: u128) -> usize {
    (128 - (key ^ last).leading_zeros()) as usize
}

impl RadixHeap {
    #[inline]
    fn mark(&mut self, bucket: usize) {
        self.occupied[bucket >> 6] |= 1 << (bucket & 63);
    }

    #[inline]
    fn unmark(&mut self, bucket: usize) {
        self.occupied[bucket >> 6] &= !(1 << (bucket & 63));
    }

    #[inline]
    fn lowest_occupied(&self) -> Option<usize> {
        self.occupied
            .iter()
            .enumerate()
            .find(|(_, word)| **word != 0)
            .map(|(i, word)| i * 64 + word.trailing_zeros() as usize)
    }

    #[inline]
    fn insert(&mut self, item: Scheduled) {
        let bucket = bucket_of(item.key(), self.last);
        self.buckets[bucket].push(item);
        self.mark(bucket);
    }

    /// Makes bucket 0 hold the minimum, if there is any item.
    #[inline]
    fn refill(&mut self) {
        if self.occupied[0] & 1 != 0 {
            return;
        }
        let Some(bucket) = self.lowest_occupied() else {
            return;
        };
        self.unmark(bucket);
        let (lower, upper) = self.buckets.split_at_mut(bucket);
        let items = &mut upper[0];
        // Most refills find a bucket of one: it is the minimum and moves straight to bucket 0.
        if let [item] = items[..] {
            items.clear();
            self.last = item.key();
            lower[0].push(item);
            self.mark(0);
            return;
        }
        self.last = items.iter().map(Scheduled::key).min().expect("occupied bucket is non-empty");
        for item in items.drain(..) {
            let to = bucket_of(item.key(), self.last);
            debug_assert!(to < bucket);
            lower[to].push(item);
            self.occupied[to >> 6] |= 1 << (to & 63);
        }
    }

    /// Re-buckets everything around a new, lower minimum. Only needed when a peek moved `last`
    /// past a key that is pushed afterwards; the engine never does that inside a run.
    fn rebase(&mut self, new_last: u128) {
        let mut all = Vec::with_capacity(self.len);
        for bucket in &mut self.buckets {
            all.append(bucket);
        }
        self.occupied = [0; 3];
        self.last = new_last;
        for item in all {
            self.insert(item);
        }
    }
}

impl EventQueue for RadixHeap {
    #[inline]
    fn push(&mut self, item: Scheduled) {
        let key = item.key();
        if key < self.last {
            self.rebase(key);
        }
        self.insert(item);
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<Scheduled> {
        self.refill();
        let item = self.buckets[0].pop()?;
        if self.buckets[0].is_empty() {
            self.unmark(0);
        }
        self.len -= 1;
        Some(item)
    }

    #[inline]
    fn peek(&mut self) -> Option<&Scheduled> {
        self.refill();
        self.buckets[0].last()
    }

    /// Bucket 0's items all have the base key; else the lowest occupied bucket holds the
    /// minimum, found by a scan that moves nothing.
    #[inline]
    fn next_time_ns(&self) -> Option<u64> {
        if self.occupied[0] & 1 != 0 {
            return Some((self.last >> 64) as u64);
        }
        let bucket = self.lowest_occupied()?;
        self.buckets[bucket].iter().map(|item| item.time_ns).min()
    }

    fn len(&self) -> usize {
        self.len
    }
}
