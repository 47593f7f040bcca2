//! Sweeps: a grid over scenario keys × seeds, planned as an ordered list of runs.
//!
//! Run `i` of a sweep is the same run whatever else the sweep holds and however it is split:
//! its scenario depends only on its grid point and its seed.

use sim::rng::derive_run_seed;

use crate::presets::resolve;
use crate::scenario::{Scenario, ScenarioError};

/// Most runs one sweep may plan.
pub const MAX_SWEEP_RUNS: u64 = 10_000_000;

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

/// A sweep as the user asked for it.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// The base scenario's TOML (a preset's or a file's).
    pub base_text: String,
    /// How the base is named on a command line: `--preset default` or `--scenario f.toml`.
    pub source: String,
    /// Overrides applied to every run.
    pub fixed: Vec<(String, String)>,
    /// Grid axes, outermost first: each key with the values it takes.
    pub axes: Vec<(String, Vec<String>)>,
    pub seeds: Seeds,
}

/// One point of the grid: its index, its assignments and its validated scenario (seed unset).
#[derive(Clone, Debug)]
pub struct GridPoint {
    pub index: u64,
    pub assignments: Vec<(String, String)>,
    pub scenario: Scenario,
}

/// One run: which grid point, which seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedRun {
    pub index: u64,
    pub point: u64,
    pub seed: u64,
}

impl SweepSpec {
    /// Every grid point, validated, in order (the last axis varies fastest).
    pub fn grid(&self) -> Result<Vec<GridPoint>, ScenarioError> {
        let mut points: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for (key, values) in &self.axes {
            if values.is_empty() {
                return Err(ScenarioError::new(key.clone(), "no values to sweep"));
            }
            points = points
                .into_iter()
                .flat_map(|p| {
                    values.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((key.clone(), v.clone()));
                        q
                    })
                })
                .collect();
        }
        let total = points.len() as u64 * self.seeds.len();
        if total > MAX_SWEEP_RUNS {
            return Err(ScenarioError::new("sweep", format!("{total} runs; at most {MAX_SWEEP_RUNS}")));
        }
        points
            .into_iter()
            .enumerate()
            .map(|(index, assignments)| {
                let mut overrides = self.fixed.clone();
                overrides.extend(assignments.iter().cloned());
                let scenario = resolve(&self.base_text, &overrides)?;
                Ok(GridPoint { index: index as u64, assignments, scenario })
            })
            .collect()
    }

    pub fn run_count(&self, points: usize) -> u64 {
        points as u64 * self.seeds.len()
    }

    /// Run `index` of the sweep.
    pub fn planned(&self, index: u64) -> PlannedRun {
        let seeds = self.seeds.len();
        PlannedRun { index, point: index / seeds, seed: self.seeds.get(index % seeds) }
    }

    /// The `cpuhpsim run` command that reproduces one run exactly.
    pub fn replay_command(&self, point: &GridPoint, seed: u64) -> String {
        let s = &point.scenario;
        let mut cmd = format!(
            "cpuhpsim run {} --scheme {} --cpus {} --seed {seed} --duration {}",
            self.source, s.scheme.name, s.machine.cpus, s.run.duration
        );
        for (key, value) in self.fixed.iter().chain(&point.assignments) {
            if key == "scheme.name" || key == "machine.cpus" || key == "run.seed" || key == "run.duration" {
                continue;
            }
            cmd.push_str(&format!(" --set {key}={}", value.replace(' ', "")));
        }
        if s.run.stop_on_deadlock {
            cmd.push_str(" --stop-on-deadlock");
        }
        cmd
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
    use crate::presets::preset_text;

    fn spec(seeds: Seeds) -> SweepSpec {
        SweepSpec {
            base_text: preset_text("default").unwrap().into(),
            source: "--preset default".into(),
            fixed: vec![("run.duration".into(), "\"1s\"".into())],
            axes: vec![
                ("scheme.name".into(), vec!["\"legacy\"".into(), "\"pmus-lock\"".into()]),
                ("machine.cpus".into(), vec!["64".into(), "256".into(), "1024".into()]),
            ],
            seeds,
        }
    }

    #[test]
    fn the_grid_varies_the_last_axis_fastest_and_seeds_fastest_of_all() {
        let s = spec(Seeds::Literal(vec![5, 6]));
        let grid = s.grid().unwrap();
        assert_eq!(grid.len(), 6);
        assert_eq!((grid[1].scenario.scheme.name.as_str(), grid[1].scenario.machine.cpus), ("legacy", 256));
        assert_eq!((grid[3].scenario.scheme.name.as_str(), grid[3].scenario.machine.cpus), ("pmus-lock", 64));
        assert_eq!(s.planned(7), PlannedRun { index: 7, point: 3, seed: 6 });
    }

    #[test]
    fn seeds_parse_ranges_and_counts_and_derived_seeds_do_not_depend_on_the_grid() {
        assert_eq!(Seeds::parse("1..3", 9), Ok(Seeds::Literal(vec![1, 2, 3])));
        assert_eq!(Seeds::parse("4", 9), Ok(Seeds::Derived { master: 9, count: 4 }));
        assert!(Seeds::parse("0", 9).is_err() && Seeds::parse("5..1", 9).is_err() && Seeds::parse("x", 9).is_err());
        let s = spec(Seeds::Derived { master: 9, count: 4 });
        assert_eq!(s.planned(2).seed, s.planned(6).seed, "same replication, same seed across grid points");
    }

    #[test]
    fn shards_partition_the_runs() {
        let ranges: Vec<_> = (0..3).map(|i| shard_range(10, i, 3)).collect();
        assert_eq!(ranges, vec![0..3, 3..6, 6..10]);
        assert_eq!(shard_range(2, 2, 3), 1..2);
    }

    #[test]
    fn an_invalid_grid_value_names_its_key() {
        let mut s = spec(Seeds::Literal(vec![1]));
        s.axes.push(("openers.tracepoint_fraction".into(), vec!["0.5".into(), "7".into()]));
        assert_eq!(s.grid().unwrap_err().key, "openers.tracepoint_fraction");
    }
}
