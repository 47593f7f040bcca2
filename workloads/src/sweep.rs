//! A sweep's seeds and shards: which seeds each grid point runs, and which slice of the runs
//! one machine of many takes. The grid itself is the plan's ([`crate::plan`]).

use sim::rng::derive_run_seed;

/// Most runs one sweep may plan.
pub const MAX_SWEEP_RUNS: u64 = 10_000_000;
/// Most grid points in one sweep: each holds its scenario, compiled scripts and aggregate
/// (histograms, lock_stat) for the whole sweep, about 1.4 MB, so 4,096 points take about 6 GB.
pub const MAX_GRID_POINTS: u64 = 4_096;

/// Which seeds each grid point runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seeds {
    /// Exactly these `run.seed` values (`--seeds 1..200`).
    Literal(Vec<u64>),
    /// `count` seeds derived from a master seed: `derive_run_seed(master, i)` for i in 0..count.
    Derived { master: u64, count: u64 },
}

impl Seeds {
    /// Parses `A..B` (inclusive, literal seeds) or `N` (N derived seeds).
    pub fn parse(text: &str, master: u64) -> Result<Seeds, String> {
        let bad = || format!("`{text}`: expected a count like 32 or an inclusive range like 1..200");
        if let Some((a, b)) = text.split_once("..") {
            let a: u64 = a.trim().parse().map_err(|_| bad())?;
            let b: u64 = b.trim().trim_start_matches('=').parse().map_err(|_| bad())?;
            if a > b {
                return Err(format!("`{text}`: the range is empty ({a} > {b})"));
            }
            if b > sim::rng::MAX_SEED {
                return Err(format!(
                    "`{text}`: seeds go up to {} (2^63 - 1, the largest TOML integer), so that every run replays",
                    sim::rng::MAX_SEED
                ));
            }
            if b - a >= MAX_SWEEP_RUNS {
                return Err(format!("`{text}`: more than {MAX_SWEEP_RUNS} seeds"));
            }
            return Ok(Seeds::Literal((a..=b).collect()));
        }
        let count: u64 = text.trim().parse().map_err(|_| bad())?;
        if count == 0 || count > MAX_SWEEP_RUNS {
            return Err(format!("`{text}`: between 1 and {MAX_SWEEP_RUNS} seeds"));
        }
        Ok(Seeds::Derived { master, count })
    }

    pub fn len(&self) -> u64 {
        match self {
            Seeds::Literal(v) => v.len() as u64,
            Seeds::Derived { count, .. } => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, i: u64) -> u64 {
        match self {
            Seeds::Literal(v) => v[i as usize],
            Seeds::Derived { master, .. } => derive_run_seed(*master, i),
        }
    }
}

/// Splits `0..total` into `shards` contiguous slices and returns slice `shard` (0-based).
pub fn shard_range(total: u64, shard: u64, shards: u64) -> std::ops::Range<u64> {
    assert!(shards > 0 && shard < shards, "validated shard {shard}/{shards}");
    let start = total * shard / shards;
    let end = total * (shard + 1) / shards;
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Source;
    use crate::plan::{Plan, PlannedRun, SweepRequest};

    fn plan(seeds: &str) -> Plan {
        Plan::for_sweep(&SweepRequest {
            source: Source::Preset("default".into()),
            schemes: vec!["legacy".into(), "pmus-lock".into()],
            cpus: vec!["64".into(), "256".into(), "1024".into()],
            sets: Vec::new(),
            seeds: seeds.into(),
            master_seed: 9,
            duration: Some("1s".into()),
        })
        .unwrap()
    }

    #[test]
    fn the_grid_varies_the_last_axis_fastest_and_seeds_fastest_of_all() {
        let p = plan("5..6");
        assert_eq!(p.points.len(), 6);
        assert_eq!((p.points[1].scenario.scheme.name.as_str(), p.points[1].scenario.machine.cpus), ("legacy", 256));
        assert_eq!((p.points[3].scenario.scheme.name.as_str(), p.points[3].scenario.machine.cpus), ("pmus-lock", 64));
        assert_eq!(p.planned(7), PlannedRun { index: 7, point: 3, seed: 6 });
    }

    #[test]
    fn seeds_parse_ranges_and_counts_and_derived_seeds_do_not_depend_on_the_grid() {
        assert_eq!(Seeds::parse("1..3", 9), Ok(Seeds::Literal(vec![1, 2, 3])));
        assert_eq!(Seeds::parse("4", 9), Ok(Seeds::Derived { master: 9, count: 4 }));
        assert!(Seeds::parse("0", 9).is_err() && Seeds::parse("5..1", 9).is_err() && Seeds::parse("x", 9).is_err());
        let p = plan("4");
        assert_eq!(p.planned(2).seed, p.planned(6).seed, "same replication, same seed across grid points");
    }

    #[test]
    fn shards_partition_the_runs() {
        let ranges: Vec<_> = (0..3).map(|i| shard_range(10, i, 3)).collect();
        assert_eq!(ranges, vec![0..3, 3..6, 6..10]);
        assert_eq!(shard_range(2, 2, 3), 1..2);
    }
}
