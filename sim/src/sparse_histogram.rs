//! A run's histogram while the run goes on: HdrHistogram's counts at [`HISTOGRAM_SIGFIG`]
//! digits, kept in the slots values actually fell in, and turned into a [`Histogram`] when the
//! run's statistics are read.
//!
//! `Histogram::new()` keeps one `u64` for every slot up to the largest value so far and writes
//! zeros into all of them each time it grows. lock_stat's hold and wait times span nine decimal
//! orders, so at 4,096 CPUs a storm's lock histograms are 3.4 MB of counts of which the run
//! touches about a sixth; recording into them was a cache miss and their growth most of the
//! run's page faults. Here the counts live in 64-slot segments allocated as values arrive.

use hdrhistogram::Histogram;

use crate::lockstat::{HISTOGRAM_SIGFIG, new_histogram};

/// Slots per segment: 64 counts, eight cache lines.
const SEGMENT_SLOTS: usize = 64;
/// A segment not allocated yet.
const NO_SEGMENT: u32 = u32::MAX;
/// HdrHistogram's layout at 3 significant digits and a lowest discernible value of 1: 2,048
/// sub-buckets, the upper half of each bucket after the first its own 1,024 slots.
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 10;
const SUB_BUCKET_MASK: u64 = (1 << (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)) - 1;
const LEADING_ZERO_COUNT_BASE: u32 = 64 - SUB_BUCKET_HALF_COUNT_MAGNITUDE - 1;
const _: () = assert!(HISTOGRAM_SIGFIG == 3, "the slot layout above is HdrHistogram's at 3 digits");

/// HdrHistogram's counts index of `value` (its `index_for()`).
#[inline]
fn slot_of(value: u64) -> usize {
    let bucket = LEADING_ZERO_COUNT_BASE - (value | SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = (value >> bucket) as usize;
    ((bucket as usize + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - (1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE)
}

/// The lowest value of `slot` (HdrHistogram's `lowest_equivalent()` of its values).
fn lowest_in(slot: usize) -> u64 {
    let half = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
    if slot < 2 * half {
        return slot as u64;
    }
    let bucket = (slot >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) - 1;
    (((slot & (half - 1)) + half) as u64) << bucket
}

/// Counts by HdrHistogram slot, with the exact smallest non-zero and largest value recorded,
/// so that [`SparseHistogram::drain_into`] leaves a histogram exactly as recording each value
/// into it would have.
#[derive(Clone, Debug)]
pub struct SparseHistogram {
    /// Per segment of [`SEGMENT_SLOTS`] slots, where its counts start in `counts`.
    segments: Vec<u32>,
    counts: Vec<u64>,
    min_non_zero: u64,
    max: u64,
    empty: bool,
}

impl Default for SparseHistogram {
    fn default() -> Self {
        SparseHistogram { segments: Vec::new(), counts: Vec::new(), min_non_zero: u64::MAX, max: 0, empty: true }
    }
}

impl SparseHistogram {
    /// `n` values of `value` (HdrHistogram's `record_n()`; counts saturate as its do).
    #[inline]
    pub fn record_n(&mut self, value: u64, n: u64) {
        let slot = slot_of(value);
        let segment = slot / SEGMENT_SLOTS;
        if segment >= self.segments.len() {
            self.segments.resize(segment + 1, NO_SEGMENT);
        }
        let mut start = self.segments[segment];
        if start == NO_SEGMENT {
            start = self.counts.len() as u32;
            self.counts.resize(self.counts.len() + SEGMENT_SLOTS, 0);
            self.segments[segment] = start;
        }
        let count = &mut self.counts[start as usize + slot % SEGMENT_SLOTS];
        *count = count.saturating_add(n);
        if value != 0 {
            self.min_non_zero = self.min_non_zero.min(value);
        }
        self.max = self.max.max(value);
        self.empty = false;
    }

    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// Records everything into `h` and empties itself. The largest value goes first, so `h`
    /// grows once, to the size the last of its values would have grown it to; the slots
    /// holding the smallest non-zero and the largest value are recorded at those values, the
    /// others at their lowest value, which HdrHistogram cannot tell from any other in the slot.
    pub fn drain_into(&mut self, h: &mut Histogram<u64>) {
        if self.empty {
            return;
        }
        h.record_n(self.max, 1).expect("auto-resizing histogram");
        let (min_slot, max_slot) = (slot_of(self.min_non_zero), slot_of(self.max));
        for (segment, &start) in self.segments.iter().enumerate() {
            if start == NO_SEGMENT {
                continue;
            }
            let counts = &self.counts[start as usize..start as usize + SEGMENT_SLOTS];
            for (offset, &count) in counts.iter().enumerate() {
                let slot = segment * SEGMENT_SLOTS + offset;
                let count = if slot == max_slot { count - 1 } else { count };
                if count == 0 {
                    continue;
                }
                let value = if self.min_non_zero != u64::MAX && slot == min_slot {
                    self.min_non_zero
                } else if slot == max_slot {
                    self.max
                } else {
                    lowest_in(slot)
                };
                h.record_n(value, count).expect("auto-resizing histogram");
            }
        }
        *self = SparseHistogram::default();
    }

    /// The histogram of everything recorded (and this one emptied).
    pub fn take_histogram(&mut self) -> Histogram<u64> {
        let mut h = new_histogram();
        self.drain_into(&mut h);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Values around every bucket edge, from 0 to `u64::MAX`.
    fn edge_values() -> Vec<u64> {
        let mut values = vec![0, 1, 2, 1023, 1024, 1025, 2047, 2048, 2049, 2050, 4095, 4096, 4097];
        for shift in 11..64 {
            let edge = 1u64 << shift;
            values.extend([edge - 1, edge, edge + 1, edge + (edge >> 1), edge | (edge - 1)]);
        }
        values.push(u64::MAX);
        values
    }

    #[test]
    fn slots_are_hdrhistograms() {
        let h = new_histogram();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut values = edge_values();
        values.extend((0..20_000).map(|_| rng.random::<u64>() >> rng.random_range(0..64)));
        for &v in &values {
            assert_eq!(lowest_in(slot_of(v)), h.lowest_equivalent(v), "lowest value of {v}'s slot");
            for w in [v.saturating_sub(1), v.saturating_add(1), h.highest_equivalent(v), h.lowest_equivalent(v)] {
                assert_eq!(slot_of(v) == slot_of(w), h.equivalent(v, w), "{v} and {w} share a slot");
            }
        }
    }

    /// Drained, it is the histogram that recording each value would have made: the same
    /// counts, total, bucket count and exact extremes (`min_nz`, `max` and the quantiles).
    #[test]
    fn draining_equals_recording_each_value() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for case in 0..200 {
            let mut direct = new_histogram();
            let mut sparse = SparseHistogram::default();
            let scale: u32 = rng.random_range(0..40);
            for _ in 0..rng.random_range(0..400) {
                let value = match case % 4 {
                    0 => rng.random_range(0..2u64 << scale),
                    1 => rng.random_range(0..8),
                    2 => *edge_values().get(rng.random_range(0..edge_values().len())).unwrap(),
                    _ => (rng.random::<f64>().ln().abs() * (1u64 << scale) as f64) as u64,
                };
                let n = rng.random_range(1..4);
                direct.record_n(value, n).unwrap();
                sparse.record_n(value, n);
            }
            let drained = sparse.take_histogram();
            assert!(sparse.is_empty());
            assert_eq!(drained, direct, "case {case}");
            assert_eq!(drained.buckets(), direct.buckets(), "case {case}");
            assert_eq!(drained.len(), direct.len());
            assert_eq!((drained.min(), drained.min_nz(), drained.max()), (direct.min(), direct.min_nz(), direct.max()));
            for q in [0.0, 0.5, 0.99, 1.0] {
                assert_eq!(drained.value_at_quantile(q), direct.value_at_quantile(q), "case {case} q {q}");
            }
            let pairs = |h: &Histogram<u64>| {
                h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect::<Vec<_>>()
            };
            assert_eq!(pairs(&drained), pairs(&direct));
        }
    }

    /// Draining twice into one histogram, with more recorded in between, adds up as one.
    #[test]
    fn draining_in_parts_adds_up() {
        let (mut direct, mut parts) = (new_histogram(), new_histogram());
        let mut sparse = SparseHistogram::default();
        for (i, v) in [5_000u64, 3, 900_000, 3, 0, 17, 2_000_000_000, 1].into_iter().enumerate() {
            direct.record(v).unwrap();
            sparse.record_n(v, 1);
            if i == 3 {
                sparse.drain_into(&mut parts);
            }
        }
        sparse.drain_into(&mut parts);
        assert_eq!(parts, direct);
        assert_eq!(parts.buckets(), direct.buckets());
    }
}
