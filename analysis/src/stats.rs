//! Summary statistics: the benches' medians, and the 95 % intervals the verdict and `compare`
//! put on differences (Wilson and Newcombe for proportions, a seeded bootstrap otherwise).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The median of `xs`: the middle value, or the mean of the middle two for an even count.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

/// Wilson score interval (95 %) of a proportion `k / n`.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n, z) = (k as f64, n as f64, Z95);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((center - half).max(0.0), (center + half).min(1.0))
}

/// Newcombe's hybrid score interval (95 %, his method 10) of `kb/nb − ka/na`, from the two
/// Wilson intervals; it stays inside [−1, 1] and behaves at 0 and n, where Wald's does not.
pub fn newcombe(ka: u64, na: u64, kb: u64, nb: u64) -> (f64, f64) {
    let (pa, pb) = (ka as f64 / na.max(1) as f64, kb as f64 / nb.max(1) as f64);
    let ((la, ua), (lb, ub)) = (wilson(ka, na), wilson(kb, nb));
    let d = pb - pa;
    (d - ((pb - lb).powi(2) + (ua - pa).powi(2)).sqrt(), d + ((ub - pb).powi(2) + (pa - la).powi(2)).sqrt())
}

/// Resamples the bootstrap draws: enough that the 2.5 % and 97.5 % points move by well under
/// their own sampling error between seeds.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;

/// Percentile bootstrap (95 %) of `stat(b) − stat(a)`, each sample resampled with replacement
/// on its own, from a ChaCha8 stream seeded with `seed`: the same inputs give the same interval.
/// `None` when either sample is empty, or when `stat` is undefined (not finite) on more than
/// 2.5 % of the resamples, e.g. a ratio whose resample drew no exposure: an end of the
/// interval would then be undefined too. Fewer undefined resamples are left out.
pub fn bootstrap_difference<T: Copy>(a: &[T], b: &[T], stat: impl Fn(&[T]) -> f64, seed: u64) -> Option<(f64, f64)> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut ra, mut rb) = (Vec::with_capacity(a.len()), Vec::with_capacity(b.len()));
    let diffs = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            resample(&mut rng, a, &mut ra);
            resample(&mut rng, b, &mut rb);
            stat(&rb) - stat(&ra)
        })
        .collect();
    percentile_interval(diffs)
}

/// Percentile bootstrap (95 %) of `stat(a)` itself, resampled as [`bootstrap_difference`]
/// resamples each side: the interval a plot draws around one sample's figure. `None` when `a`
/// is empty or `stat` is undefined on more than 2.5 % of the resamples.
pub fn bootstrap_interval<T: Copy>(a: &[T], stat: impl Fn(&[T]) -> f64, seed: u64) -> Option<(f64, f64)> {
    if a.is_empty() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut ra = Vec::with_capacity(a.len());
    let stats = (0..BOOTSTRAP_RESAMPLES)
        .map(|_| {
            resample(&mut rng, a, &mut ra);
            stat(&ra)
        })
        .collect();
    percentile_interval(stats)
}

/// Fills `into` with `from.len()` draws from `from` with replacement (`from` is not empty).
fn resample<T: Copy>(rng: &mut ChaCha8Rng, from: &[T], into: &mut Vec<T>) {
    into.clear();
    into.extend((0..from.len()).map(|_| from[rng.random_range(0..from.len())]));
}

/// The 2.5 % and 97.5 % points of the finite bootstrap draws among `xs` (not empty); `None`
/// when more than 2.5 % of them are not finite.
fn percentile_interval(mut xs: Vec<f64>) -> Option<(f64, f64)> {
    let all = xs.len();
    xs.retain(|x| x.is_finite());
    if xs.is_empty() || (all - xs.len()) * 40 > all {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[((q * (xs.len() - 1) as f64).round() as usize).min(xs.len() - 1)];
    Some((at(0.025), at(0.975)))
}

/// The upper end of the exact (Garwood) two-sided 95 % interval of a Poisson mean when 0
/// events were seen: −ln 0.025 ≈ 3.689 events, the two-sided form of the "rule of three".
pub const POISSON_ZERO_UPPER95: f64 = 3.688_879_454_113_936;

/// The median of a sample of integers (exact for an odd count), as `f64`.
pub fn median_of(xs: &[u64]) -> f64 {
    let mut v = xs.to_vec();
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (_, &mut hi, _) = v.select_nth_unstable(n / 2);
    if n % 2 == 1 {
        hi as f64
    } else {
        let lo = *v[..n / 2].iter().max().expect("n ≥ 2");
        (lo as f64 + hi as f64) / 2.0
    }
}

/// The runs per group an interval of half-width `half` around a difference `d` needs to
/// exclude 0, if intervals shrink as 1/√n: `n × (half / |d|)²`, rounded up; `None` for d = 0.
pub fn runs_to_resolve(n: u64, d: f64, half: f64) -> Option<u64> {
    if d == 0.0 || !d.is_finite() || !half.is_finite() {
        return None;
    }
    Some((n as f64 * (half / d.abs()).powi(2)).ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median_of(&[4, 1, 3, 2]), 2.5);
        assert_eq!(median_of(&[5, 1, 3]), 3.0);
    }

    #[test]
    fn wilson_interval_matches_known_values() {
        // k = 0 of 10: [0, 0.2775]; k = 5 of 10: [0.2366, 0.7634] (standard tables).
        let (lo, hi) = wilson(0, 10);
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-4, "{lo} {hi}");
        let (lo, hi) = wilson(5, 10);
        assert!((lo - 0.2366).abs() < 1e-4 && (hi - 0.7634).abs() < 1e-4, "{lo} {hi}");
    }

    #[test]
    fn newcombe_interval_matches_his_worked_examples() {
        // Newcombe (1998), Table II, method 10: 56/70 − 48/80 = 0.2 → (0.0524, 0.3339);
        // 9/10 − 3/10 = 0.6 → (0.1705, 0.8090) (signs as b − a with a the second sample).
        let (lo, hi) = newcombe(48, 80, 56, 70);
        assert!((lo - 0.0524).abs() < 1e-4 && (hi - 0.3339).abs() < 1e-4, "{lo} {hi}");
        let (lo, hi) = newcombe(3, 10, 9, 10);
        assert!((lo - 0.1705).abs() < 1e-4 && (hi - 0.8090).abs() < 1e-4, "{lo} {hi}");
        // 0/10 vs 0/20: the interval still spans 0.
        let (lo, hi) = newcombe(0, 10, 0, 20);
        assert!(lo < 0.0 && hi > 0.0, "{lo} {hi}");
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_a_known_shift() {
        let a: Vec<u64> = (0..200).collect();
        let b: Vec<u64> = (100..300).collect();
        let med = |xs: &[u64]| median_of(xs);
        let (lo, hi) = bootstrap_difference(&a, &b, med, 7).unwrap();
        assert!(lo < 100.0 && 100.0 < hi && hi - lo < 60.0, "{lo} {hi}");
        assert_eq!(bootstrap_difference(&a, &b, med, 7), Some((lo, hi)), "same seed, same interval");
        let same = bootstrap_difference(&a, &a, med, 7).unwrap();
        assert!(same.0 < 0.0 && same.1 > 0.0, "a sample against itself spans 0: {same:?}");
        assert_eq!(bootstrap_difference(&[] as &[u64], &b, med, 7), None);
    }

    #[test]
    fn one_sample_bootstrap_is_seeded_and_brackets_the_figure() {
        let a: Vec<u64> = (0..200).collect();
        let med = |xs: &[u64]| median_of(xs);
        let (lo, hi) = bootstrap_interval(&a, med, 7).unwrap();
        assert!(lo < 99.5 && 99.5 < hi && hi - lo < 60.0, "{lo} {hi}");
        assert_eq!(bootstrap_interval(&a, med, 7), Some((lo, hi)), "same seed, same interval");
        assert_eq!(bootstrap_interval(&[7u64; 30], med, 1), Some((7.0, 7.0)), "no spread, no width");
        assert_eq!(bootstrap_interval(&[] as &[u64], med, 7), None);
    }

    #[test]
    fn runs_to_resolve_scales_as_the_square_of_the_interval() {
        assert_eq!(runs_to_resolve(100, 1.0, 2.0), Some(400));
        assert_eq!(runs_to_resolve(100, -0.5, 0.5), Some(100));
        assert_eq!(runs_to_resolve(100, 0.0, 0.5), None);
    }
}
