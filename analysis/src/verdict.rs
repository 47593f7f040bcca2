//! Comparisons of two sets of runs, metric by metric: each side's figure, the difference with a
//! 95 % interval, and what it says. A run (one seed) is the unit: runs are independent, the
//! operations inside one are not. `report.md`'s verdict and `cpuhpsim compare` both use this.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::runs::RunRow;
use crate::stats::{
    POISSON_ZERO_UPPER95, bootstrap_difference, bootstrap_interval, median_of, newcombe, runs_to_resolve,
};

/// Fewer runs without a deadlock than this on either side, and latencies are not compared.
pub const MIN_RUNS: usize = 10;

const NS_PER_HOUR: f64 = 3.6e12;

/// The latency figures compared, as `runs.csv` columns (per run, in ns).
pub const LATENCIES: [&str; 6] =
    ["cpu_down_ns_p50", "cpu_down_ns_p99", "cpu_up_ns_p99", "open_ns_p99", "register_ns_p99", "pmus_lock_hold_ns_p99"];

/// What one run contributes to the comparisons.
#[derive(Clone, Debug, PartialEq)]
pub struct RunFigures {
    pub deadlocked: bool,
    /// Simulated time up to the first deadlock, or the whole run without one.
    pub exposure_ns: u64,
    pub sim_ns: u64,
    pub hotplug_ops: u64,
    pub silent: u64,
    pub enodev: u64,
    pub open_attempts: u64,
    /// Per [`LATENCIES`] entry, the run's figure: only for a run without a deadlock that did
    /// the operation at least once.
    pub latency: [Option<u64>; LATENCIES.len()],
}

impl RunFigures {
    /// `None` for a row of a run that failed (an internal error: no figures).
    pub fn of(row: &RunRow) -> Option<RunFigures> {
        let deadlocked = row.deadlocked?;
        let sim_ns = row.sim_end_ns?;
        let counts = [row.cpu_downs, row.cpu_downs, row.cpu_ups, row.opens, row.registers, row.pmus_lock_holds];
        let values = [
            row.cpu_down_ns_p50,
            row.cpu_down_ns_p99,
            row.cpu_up_ns_p99,
            row.open_ns_p99,
            row.register_ns_p99,
            row.pmus_lock_hold_ns_p99,
        ];
        let latency = std::array::from_fn(|i| values[i].filter(|_| !deadlocked && counts[i].unwrap_or(0) > 0));
        Some(RunFigures {
            deadlocked,
            exposure_ns: row.time_to_deadlock_ns.unwrap_or(sim_ns),
            sim_ns,
            hotplug_ops: row.cpu_downs? + row.cpu_ups?,
            silent: row.silently_failed_opens? as u64,
            enodev: row.enodev?,
            open_attempts: row.opens? + row.enodev?,
            latency,
        })
    }
}

/// The runs of one grid point: scheme, the other options (`variant`) and CPUs.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub scheme: String,
    pub variant: String,
    pub cpus: u32,
    pub runs: Vec<RunFigures>,
}

/// The samples of a `runs.csv`, in the order their points first appear; failed runs left out.
pub fn samples(path: &Path) -> Result<Vec<Sample>, String> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut order: Vec<(String, String, u32)> = Vec::new();
    let mut by_point: BTreeMap<(String, String, u32), Vec<RunFigures>> = BTreeMap::new();
    for (line, row) in reader.deserialize::<RunRow>().enumerate() {
        let row = row.map_err(|e| format!("{}: row {}: {e}", path.display(), line + 1))?;
        let key = (row.scheme.clone(), row.variant.clone(), row.cpus);
        let runs = by_point.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        runs.extend(RunFigures::of(&row));
    }
    Ok(order
        .into_iter()
        .map(|key| {
            let runs = by_point.remove(&key).unwrap_or_default();
            Sample { scheme: key.0, variant: key.1, cpus: key.2, runs }
        })
        .collect())
}

/// A figure compared; lower is better for every one but ENODEV ([`Metric::lower_is_better`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// The share of runs with a wait-for deadlock.
    DeadlockedRuns,
    /// First deadlocks per simulated hour before them.
    DeadlocksPerHour,
    /// Silently failed opens (invariant 7) per 1,000 hotplug operations.
    SilentPerKiloOps,
    /// Silently failed opens per simulated hour.
    SilentPerHour,
    /// Opens that returned ENODEV per 1,000 opens attempted.
    EnodevPerKiloOpens,
    /// The median over runs without a deadlock of one [`LATENCIES`] figure.
    Latency(usize),
}

impl Metric {
    pub const RATES: [Metric; 5] = [
        Metric::DeadlockedRuns,
        Metric::DeadlocksPerHour,
        Metric::SilentPerKiloOps,
        Metric::SilentPerHour,
        Metric::EnodevPerKiloOpens,
    ];

    pub fn all() -> Vec<Metric> {
        Metric::RATES.into_iter().chain((0..LATENCIES.len()).map(Metric::Latency)).collect()
    }

    /// Its name in `compare`'s outputs.
    pub fn name(self) -> String {
        match self {
            Metric::DeadlockedRuns => "deadlocked_runs_pct".into(),
            Metric::DeadlocksPerHour => "deadlocks_per_sim_hour".into(),
            Metric::SilentPerKiloOps => "silently_failed_opens_per_1000_hotplug_ops".into(),
            Metric::SilentPerHour => "silently_failed_opens_per_sim_hour".into(),
            Metric::EnodevPerKiloOpens => "enodev_per_1000_opens".into(),
            Metric::Latency(i) => format!("median_run_{}", LATENCIES[i].replace("_ns_", "_ms_")),
        }
    }

    /// How a reader says it.
    pub fn what(self) -> String {
        match self {
            Metric::DeadlockedRuns => "deadlocked runs (%)".into(),
            Metric::DeadlocksPerHour => "deadlocks per simulated hour".into(),
            Metric::SilentPerKiloOps => "silently failed opens per 1,000 hotplug operations".into(),
            Metric::SilentPerHour => "silently failed opens per simulated hour".into(),
            Metric::EnodevPerKiloOpens => "ENODEV per 1,000 opens".into(),
            Metric::Latency(i) => {
                let (op, q) = LATENCIES[i].rsplit_once("_ns_").expect("every latency column has _ns_");
                format!("{} {q} (ms)", op.replace("_", " "))
            }
        }
    }

    /// Whether a lower figure is better. Not for ENODEV: refusing an open on an offline CPU is
    /// the kernel's correct answer, so its rate is reported, not ranked.
    pub fn lower_is_better(self) -> bool {
        self != Metric::EnodevPerKiloOpens
    }

    fn is_latency(self) -> bool {
        matches!(self, Metric::Latency(_))
    }
}

/// What a comparison says about B against A.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Outcome {
    /// B's figure is lower (better): the interval lies below 0.
    BLower,
    /// A's figure is lower: the interval lies above 0.
    ALower,
    /// The interval spans 0. `identical`: every run of both sides had the same figure.
    /// `runs_to_resolve`: runs per side that would exclude 0 if the difference is real.
    NoDifference { identical: bool, runs_to_resolve: Option<u64> },
    /// Not enough runs to compare, and why.
    NotComparable { why: String },
}

/// One metric of B against A.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub metric: Metric,
    pub a: f64,
    pub b: f64,
    /// Runs each figure rests on.
    pub n_a: usize,
    pub n_b: usize,
    /// `b − a`.
    pub diff: f64,
    /// 95 % interval of `b − a`.
    pub interval: Option<(f64, f64)>,
    pub outcome: Outcome,
}

impl Comparison {
    /// `b / a`, when a is not 0.
    pub fn ratio(&self) -> Option<f64> {
        (self.a != 0.0 && self.a.is_finite() && self.b.is_finite()).then(|| self.b / self.a)
    }
}

/// Σ numerator / Σ denominator × scale; NaN over nothing.
fn ratio_of_sums(pairs: &[(u64, u64)], scale: f64) -> f64 {
    let (num, den) = pairs.iter().fold((0u64, 0u64), |(n, d), &(a, b)| (n + a, d + b));
    if den == 0 { f64::NAN } else { num as f64 / den as f64 * scale }
}

/// Compares `metric` of runs `b` against runs `a`; `seed` seeds the bootstrap (pass one that
/// names the pair, so that every comparison is replayable and independent of the others).
pub fn compare(metric: Metric, a: &[RunFigures], b: &[RunFigures], seed: u64) -> Comparison {
    let finish = |va: f64, vb: f64, n_a: usize, n_b: usize, interval: Option<(f64, f64)>, identical: bool| {
        let diff = vb - va;
        let outcome = match interval {
            None if n_a == 0 || n_b == 0 => Outcome::NotComparable { why: "no runs".into() },
            None => Outcome::NotComparable {
                why: "over 2.5 % of the bootstrap resamples had no exposure: too few runs with any to bound \
                      the difference"
                    .into(),
            },
            Some((lo, _)) if lo > 0.0 => Outcome::ALower,
            Some((_, hi)) if hi < 0.0 => Outcome::BLower,
            Some((lo, hi)) => Outcome::NoDifference {
                identical,
                runs_to_resolve: runs_to_resolve(n_a.min(n_b) as u64, diff, (hi - lo) / 2.0),
            },
        };
        Comparison { metric, a: va, b: vb, n_a, n_b, diff, interval, outcome }
    };
    match metric {
        Metric::DeadlockedRuns => {
            let k = |r: &[RunFigures]| r.iter().filter(|r| r.deadlocked).count() as u64;
            let (ka, kb) = (k(a), k(b));
            let (na, nb) = (a.len() as u64, b.len() as u64);
            if na == 0 || nb == 0 {
                return finish(f64::NAN, f64::NAN, a.len(), b.len(), None, false);
            }
            let (lo, hi) = newcombe(ka, na, kb, nb);
            let pct = |k: u64, n: u64| 100.0 * k as f64 / n as f64;
            let identical = (ka == 0 && kb == 0) || (ka == na && kb == nb);
            finish(pct(ka, na), pct(kb, nb), a.len(), b.len(), Some((100.0 * lo, 100.0 * hi)), identical)
        }
        Metric::Latency(i) => {
            let values = |r: &[RunFigures]| r.iter().filter_map(|r| r.latency[i]).collect::<Vec<u64>>();
            let (va, vb) = (values(a), values(b));
            if va.len() < MIN_RUNS || vb.len() < MIN_RUNS {
                let why = format!(
                    "{} and {} runs without a deadlock that did the operation; {MIN_RUNS} needed on each side",
                    va.len(),
                    vb.len()
                );
                let (ma, mb) = (median_of(&va) / 1e6, median_of(&vb) / 1e6);
                return Comparison {
                    metric,
                    a: ma,
                    b: mb,
                    n_a: va.len(),
                    n_b: vb.len(),
                    diff: mb - ma,
                    interval: None,
                    outcome: Outcome::NotComparable { why },
                };
            }
            let ms = |xs: &[u64]| median_of(xs) / 1e6;
            let interval = bootstrap_difference(&va, &vb, ms, seed);
            let identical = va.iter().chain(&vb).all(|&x| x == va[0]);
            finish(ms(&va), ms(&vb), va.len(), vb.len(), interval, identical)
        }
        _ => {
            let Some((pair, scale)) = counted(metric) else { unreachable!("handled above") };
            let pa: Vec<(u64, u64)> = a.iter().map(pair).collect();
            let pb: Vec<(u64, u64)> = b.iter().map(pair).collect();
            let (va, vb) = (ratio_of_sums(&pa, scale), ratio_of_sums(&pb, scale));
            if !va.is_finite() || !vb.is_finite() {
                let why = "no exposure (no simulated time, hotplug operations or opens) on a side".to_string();
                return Comparison {
                    metric,
                    a: va,
                    b: vb,
                    n_a: a.len(),
                    n_b: b.len(),
                    diff: vb - va,
                    interval: None,
                    outcome: Outcome::NotComparable { why },
                };
            }
            let interval = bootstrap_difference(&pa, &pb, |p| ratio_of_sums(p, scale), seed);
            let identical = pa.iter().chain(&pb).all(|p| p.0 == 0);
            finish(va, vb, a.len(), b.len(), interval, identical)
        }
    }
}

/// A rate's (events, exposure) pair taken from one run.
type Counted = fn(&RunFigures) -> (u64, u64);

/// How a rate metric counts: each run's (events, exposure) and the scale of their ratio;
/// `None` for the share of deadlocked runs and for latencies, which are not such rates.
fn counted(metric: Metric) -> Option<(Counted, f64)> {
    match metric {
        Metric::DeadlocksPerHour => Some((|r| (r.deadlocked as u64, r.exposure_ns), NS_PER_HOUR)),
        Metric::SilentPerKiloOps => Some((|r| (r.silent, r.hotplug_ops), 1000.0)),
        Metric::SilentPerHour => Some((|r| (r.silent, r.sim_ns), NS_PER_HOUR)),
        Metric::EnodevPerKiloOpens => Some((|r| (r.enodev, r.open_attempts), 1000.0)),
        Metric::DeadlockedRuns | Metric::Latency(_) => None,
    }
}

/// One side's figure of a rate metric (Σ events / Σ exposure over `runs`, as [`compare`]
/// computes it) with the 95 % percentile-bootstrap interval over runs that [`compare`]'s
/// resampling gives one side, for plots. `None` for a metric that is not such a rate, or when
/// `runs` have no exposure. The interval is `None` when over 2.5 % of the resamples have no
/// exposure (too few runs with any to say). When no run had an event a bootstrap cannot bound
/// the rate, so the interval is the exact Poisson one for 0 events over the whole exposure,
/// 0 to 3.689 / exposure.
pub fn rate_with_interval(metric: Metric, runs: &[RunFigures], seed: u64) -> Option<(f64, Option<(f64, f64)>)> {
    let (pair, scale) = counted(metric)?;
    let pairs: Vec<(u64, u64)> = runs.iter().map(pair).collect();
    let value = ratio_of_sums(&pairs, scale);
    if !value.is_finite() {
        return None;
    }
    if pairs.iter().all(|p| p.0 == 0) {
        let exposure: u64 = pairs.iter().map(|p| p.1).sum();
        return Some((0.0, Some((0.0, POISSON_ZERO_UPPER95 / exposure as f64 * scale))));
    }
    Some((value, bootstrap_interval(&pairs, |p| ratio_of_sums(p, scale), seed)))
}

/// A figure as the reports print it: percentages and rates to 2 decimals, ms to 3.
pub fn fmt_value(metric: Metric, v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if metric.is_latency() { format!("{v:.3}") } else { format!("{v:.2}") }
}

/// The outcome in words, `a` and `b` naming the sides.
pub fn outcome_text(c: &Comparison, a: &str, b: &str) -> String {
    let neutral = if c.metric.lower_is_better() { "" } else { " (neither is better: ENODEV is the right answer)" };
    match &c.outcome {
        Outcome::BLower => format!("{b} lower{neutral}"),
        Outcome::ALower => format!("{a} lower{neutral}"),
        Outcome::NoDifference { identical: true, .. } => "no difference (identical in every run)".into(),
        Outcome::NoDifference { runs_to_resolve: Some(n), .. } => {
            format!("no difference detected at this sample size (~{n} runs per side would resolve one this large)")
        }
        Outcome::NoDifference { runs_to_resolve: None, .. } => {
            "no difference detected at this sample size (equal estimates)".into()
        }
        Outcome::NotComparable { why } => format!("not compared: {why}"),
    }
}

/// `b − a (lo to hi)` as the reports print it.
pub fn diff_text(c: &Comparison) -> String {
    match c.interval {
        Some((lo, hi)) => {
            let f = |v| fmt_value(c.metric, v);
            format!("{} ({} to {})", f(c.diff), f(lo), f(hi))
        }
        None => "–".into(),
    }
}

/// A seed for the bootstrap of one comparison, from the words that name it.
pub fn seed_of(words: &[&str]) -> u64 {
    words.iter().fold(crate::FNV_OFFSET, |h, w| crate::fnv1a(crate::fnv1a(h, w.as_bytes()), b"\0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(deadlocked: bool, silent: u64, down_p99: u64) -> RunFigures {
        let mut latency = [None; LATENCIES.len()];
        if !deadlocked {
            latency[1] = Some(down_p99);
        }
        RunFigures {
            deadlocked,
            exposure_ns: if deadlocked { 1_000_000_000 } else { 10_000_000_000 },
            sim_ns: 10_000_000_000,
            hotplug_ops: 100,
            silent,
            enodev: 0,
            open_attempts: 1000,
            latency,
        }
    }

    #[test]
    fn a_sample_against_itself_shows_no_difference_in_any_metric() {
        let runs: Vec<RunFigures> = (0..40).map(|i| run(i % 3 == 0, i % 2, 1_000_000 + i * 1000)).collect();
        for m in Metric::all() {
            let c = compare(m, &runs, &runs, seed_of(&[&m.name()]));
            match c.outcome {
                Outcome::NoDifference { .. } | Outcome::NotComparable { .. } => {}
                other => panic!("{}: {other:?}", m.name()),
            }
            assert_eq!(c.diff, 0.0);
        }
    }

    #[test]
    fn a_clear_difference_is_named_with_its_side_and_an_interval_around_it() {
        let a: Vec<RunFigures> = (0..64).map(|i| run(i < 32, 0, 2_000_000 + i * 1000)).collect();
        let b: Vec<RunFigures> = (0..64).map(|i| run(false, 1, 1_000_000 + i * 1000)).collect();
        let c = compare(Metric::DeadlockedRuns, &a, &b, 1);
        assert_eq!((c.a, c.b, c.outcome.clone()), (50.0, 0.0, Outcome::BLower));
        let (lo, hi) = c.interval.unwrap();
        assert!(lo < -50.0 + 1e-9 && hi < 0.0 && hi > -50.0, "{lo} {hi}");
        let c = compare(Metric::SilentPerKiloOps, &a, &b, 1);
        assert_eq!((c.a, c.b, c.outcome.clone()), (0.0, 10.0, Outcome::ALower));
        // cpu_down p99: A's deadlock-free runs are 32..64 (2.032–2.063 ms), B's 1.000–1.063 ms.
        let c = compare(Metric::Latency(1), &a, &b, 1);
        assert_eq!((c.n_a, c.n_b, c.outcome.clone()), (32, 64, Outcome::BLower));
        assert!((c.a - 2.0475).abs() < 1e-9 && (c.b - 1.0315).abs() < 1e-9, "{} {}", c.a, c.b);
    }

    #[test]
    fn latencies_of_mostly_deadlocked_sides_are_not_compared() {
        let a: Vec<RunFigures> = (0..64).map(|i| run(i >= 5, 0, 1_000_000)).collect();
        let c = compare(Metric::Latency(1), &a, &a, 1);
        assert!(matches!(c.outcome, Outcome::NotComparable { .. }), "{:?}", c.outcome);
        assert!(outcome_text(&c, "x", "y").contains("5 and 5 runs without a deadlock"));
    }

    #[test]
    fn one_sides_rate_matches_compare_and_has_an_interval_around_it() {
        let a: Vec<RunFigures> = (0..64).map(|i| run(false, i % 4, 1)).collect();
        let (value, interval) = rate_with_interval(Metric::SilentPerKiloOps, &a, 3).unwrap();
        assert_eq!(value, compare(Metric::SilentPerKiloOps, &a, &a, 3).a);
        let (lo, hi) = interval.unwrap();
        assert!(lo < value && value < hi && lo > 0.0, "{lo} {value} {hi}");
        let quiet: Vec<RunFigures> = (0..64).map(|_| run(false, 0, 1)).collect();
        // No event in 6,400 operations: the exact Poisson bound, 3.689 / 6,400 × 1,000.
        let (zero, bound) = rate_with_interval(Metric::SilentPerKiloOps, &quiet, 3).unwrap();
        let (lo, hi) = bound.unwrap();
        assert_eq!((zero, lo), (0.0, 0.0));
        assert!((hi - 3.688_879_454 / 6.4).abs() < 1e-9, "{hi}");
        // One run of 64 did any hotplug operation: a third of the resamples miss it, so the
        // bootstrap has no interval to give, in the plot and in `compare` alike.
        let thin: Vec<RunFigures> =
            (0..64).map(|i| RunFigures { hotplug_ops: u64::from(i == 0) * 100, ..run(false, 1, 1) }).collect();
        assert_eq!(rate_with_interval(Metric::SilentPerKiloOps, &thin, 3).map(|r| r.1), Some(None));
        let c = compare(Metric::SilentPerKiloOps, &thin, &thin, 3);
        assert!(outcome_text(&c, "x", "y").contains("too few runs with any"), "{:?}", c.outcome);
        assert_eq!(rate_with_interval(Metric::SilentPerKiloOps, &[], 3), None);
        assert_eq!(rate_with_interval(Metric::DeadlockedRuns, &a, 3), None);
    }

    #[test]
    fn the_deadlock_rate_per_hour_counts_time_up_to_the_first_deadlock() {
        // 10 runs: 5 deadlock at 1 s, 5 run 10 s: 5 deadlocks in 55 s = 327.27 per hour.
        let a: Vec<RunFigures> = (0..10).map(|i| run(i < 5, 0, 1)).collect();
        let c = compare(Metric::DeadlocksPerHour, &a, &a, 1);
        assert!((c.a - 5.0 / 55.0 * 3600.0).abs() < 1e-9, "{}", c.a);
    }
}
