//! A CPU bitmap, as the kernel's `struct cpumask`: one bit per CPU, searched a word at a time.

use std::ops::Range;

/// One bit per CPU, 64 to a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuMask {
    words: Vec<u64>,
}

impl CpuMask {
    /// A mask of `cpus` CPUs, each bit as `bits` has it.
    pub fn from_bools(bits: &[bool]) -> CpuMask {
        let mut mask = CpuMask { words: vec![0; bits.len().div_ceil(64)] };
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
        CpuMask { words }
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
            }
        }
    }
}
