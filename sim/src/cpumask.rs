//! A CPU bitmap, as the kernel's `struct cpumask`: one bit per CPU, searched a word at a time.

use std::ops::Range;

/// One bit per CPU, 64 to a word; the bits past the last CPU stay clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuMask {
    words: Vec<u64>,
    /// How many CPUs the mask has bits for (`nr_cpu_ids`).
    cpus: u32,
}

impl CpuMask {
    /// A mask of `bits.len()` CPUs, each bit as `bits` has it.
    pub fn from_bools(bits: &[bool]) -> CpuMask {
        let mut mask = CpuMask { words: vec![0; bits.len().div_ceil(64)], cpus: bits.len() as u32 };
        for (cpu, &bit) in bits.iter().enumerate() {
            mask.set(cpu as u32, bit);
        }
        mask
    }

    /// A mask of `cpus` CPUs, every one set (`cpu_possible_mask` at boot).
    pub fn full(cpus: u32) -> CpuMask {
        let mut words = vec![u64::MAX; (cpus as usize).div_ceil(64)];
        if let Some(last) = words.last_mut().filter(|_| !cpus.is_multiple_of(64)) {
            *last = (1 << (cpus % 64)) - 1;
        }
        CpuMask { words, cpus }
    }

    /// How many CPUs the mask covers, set or not (`nr_cpu_ids`).
    pub fn len(&self) -> u32 {
        self.cpus
    }

    pub fn is_empty(&self) -> bool {
        self.cpus == 0
    }

    pub fn set(&mut self, cpu: u32, bit: bool) {
        let (word, shift) = (cpu as usize / 64, cpu % 64);
        if bit {
            self.words[word] |= 1 << shift;
        } else {
            self.words[word] &= !(1 << shift);
        }
    }

    pub fn test(&self, cpu: u32) -> bool {
        debug_assert!(cpu < self.cpus, "cpu {cpu} past the mask's {} CPUs", self.cpus);
        self.words[cpu as usize / 64] >> (cpu % 64) & 1 == 1
    }

    /// The lowest set CPU in `range` (`cpumask_next()` from its start), if any.
    pub fn first_in(&self, range: Range<u32>) -> Option<u32> {
        let mut cpu = range.start;
        while cpu < range.end {
            let word = self.words[cpu as usize / 64] >> (cpu % 64);
            if word != 0 {
                let found = cpu + word.trailing_zeros();
                return (found < range.end).then_some(found);
            }
            cpu = (cpu / 64 + 1) * 64;
        }
        None
    }

    /// The lowest set CPU in `range` other than `but` (`cpumask_any_but()` of a package's CPUs).
    pub fn first_in_but(&self, range: Range<u32>, but: u32) -> Option<u32> {
        match self.first_in(range.clone()) {
            Some(cpu) if cpu == but => self.first_in(but + 1..range.end),
            found => found,
        }
    }

    /// How many CPUs in `range` are set (`cpumask_weight()` of that part).
    pub fn weight_in(&self, range: Range<u32>) -> u32 {
        self.words_in(range).map(|(word, keep, _)| (word & keep).count_ones()).sum()
    }

    /// The `n`th set CPU of `range`, counting from 0 at its lowest (`cpumask_nth()`).
    pub fn nth_set_in(&self, range: Range<u32>, n: u32) -> Option<u32> {
        nth_one(self.words_in(range).map(|(word, keep, base)| (word & keep, base)), n)
    }

    /// The `n`th clear CPU of the mask, counting from 0 at CPU 0.
    pub fn nth_clear(&self, n: u32) -> Option<u32> {
        nth_one(self.words_in(0..self.cpus).map(|(word, keep, base)| (!word & keep, base)), n)
    }

    /// The words that cover `range`: each with the bits of it inside `range` and its first CPU.
    fn words_in(&self, range: Range<u32>) -> impl Iterator<Item = (u64, u64, u32)> + '_ {
        let end = range.end.min(self.cpus);
        let start = range.start.min(end);
        (start / 64..end.div_ceil(64)).map(move |w| {
            let base = w * 64;
            let (low, high) = (start.saturating_sub(base), (end - base).min(64));
            let keep = if high == 64 { u64::MAX } else { (1u64 << high) - 1 } & (u64::MAX << low);
            (self.words[w as usize], keep, base)
        })
    }
}

/// The `n`th one bit of `words` (each with its first CPU), counting from 0.
fn nth_one(words: impl Iterator<Item = (u64, u32)>, mut n: u32) -> Option<u32> {
    for (mut word, base) in words {
        let ones = word.count_ones();
        if n >= ones {
            n -= ones;
            continue;
        }
        for _ in 0..n {
            word &= word - 1;
        }
        return Some(base + word.trailing_zeros());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Every search agrees with a scan of the bools, on masks sparse and dense, over ranges
    /// that start and end inside words and across them.
    #[test]
    fn searches_match_a_scan_of_the_bits() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for round in 0..300 {
            let cpus = rng.random_range(1..300u32);
            let density = [0.0, 0.01, 0.2, 0.9, 1.0][round % 5];
            let bits: Vec<bool> = (0..cpus).map(|_| rng.random_bool(density)).collect();
            let mask = CpuMask::from_bools(&bits);
            assert_eq!(CpuMask::full(cpus), CpuMask::from_bools(&vec![true; cpus as usize]));
            for cpu in 0..cpus {
                assert_eq!(mask.test(cpu), bits[cpu as usize]);
            }
            for _ in 0..50 {
                let start = rng.random_range(0..=cpus);
                let end = rng.random_range(start..=cpus);
                let but = rng.random_range(0..cpus);
                let scan = |skip: Option<u32>| (start..end).find(|&c| Some(c) != skip && bits[c as usize]);
                assert_eq!(mask.first_in(start..end), scan(None), "{start}..{end}");
                assert_eq!(mask.first_in_but(start..end, but), scan(Some(but)), "{start}..{end} but {but}");
                let set: Vec<u32> = (start..end).filter(|&c| bits[c as usize]).collect();
                assert_eq!(mask.weight_in(start..end), set.len() as u32, "{start}..{end}");
                for n in 0..=set.len() as u32 {
                    assert_eq!(mask.nth_set_in(start..end, n), set.get(n as usize).copied(), "{start}..{end} #{n}");
                }
            }
            let clear: Vec<u32> = (0..cpus).filter(|&c| !bits[c as usize]).collect();
            for n in 0..=clear.len() as u32 {
                assert_eq!(mask.nth_clear(n), clear.get(n as usize).copied(), "clear #{n}");
            }
            assert_eq!(mask.len(), cpus);
        }
    }
}
