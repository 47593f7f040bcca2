//! `cpuhpsim compare A B`: two result directories side by side, per grid point and figure: A,
//! B, B − A with a 95 % interval, B / A, and the verdict ([`crate::verdict`]).
//!
//! Points are matched by scheme, CPUs and variant, after dropping from each directory's variants
//! the `key=value` words all of its points share: a sweep on `kernel=4.13` and one on
//! `kernel=4.15` then compare point by point.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::verdict::{Metric, Outcome, Sample, compare, diff_text, fmt_value, outcome_text, samples, seed_of};

/// One figure of one matched point.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CompareRow {
    pub scheme: String,
    /// The variant in A and in B (equal unless each directory fixes an option of its own).
    pub variant_a: String,
    pub variant_b: String,
    pub cpus: u32,
    pub metric: String,
    pub runs_a: usize,
    pub runs_b: usize,
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub diff: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub ratio: Option<f64>,
    pub verdict: String,
    #[serde(skip)]
    pub text: (String, String),
}

/// The whole comparison: matched rows, and the points found on one side only.
#[derive(Debug, Default, Serialize)]
pub struct Comparison {
    pub rows: Vec<CompareRow>,
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
}

/// The words of a variant that every sample of a directory has.
fn shared_words(samples: &[Sample]) -> BTreeSet<String> {
    let mut words: Option<BTreeSet<String>> = None;
    for s in samples {
        let these: BTreeSet<String> = s.variant.split_whitespace().map(String::from).collect();
        words = Some(match words {
            None => these,
            Some(w) => w.intersection(&these).cloned().collect(),
        });
    }
    words.unwrap_or_default()
}

fn key(s: &Sample, shared: &BTreeSet<String>) -> (String, String, u32) {
    let rest: Vec<&str> = s.variant.split_whitespace().filter(|w| !shared.contains(*w)).collect();
    (s.scheme.clone(), rest.join(" "), s.cpus)
}

fn point_name(s: &Sample) -> String {
    let variant = if s.variant.is_empty() { String::new() } else { format!(" {}", s.variant) };
    format!("{}{variant} on {} CPUs", s.scheme, s.cpus)
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Compares the runs of directory `b` against those of `a`, from their `runs.csv`.
pub fn compare_dirs(a: &Path, b: &Path) -> Result<Comparison, String> {
    let read = |dir: &Path| {
        let path = dir.join("runs.csv");
        if !path.is_file() {
            return Err(format!("{}: no runs.csv; compare takes two directories cpuhpsim wrote", dir.display()));
        }
        samples(&path)
    };
    let (sa, sb) = (read(a)?, read(b)?);
    let (wa, wb) = (shared_words(&sa), shared_words(&sb));
    let mut out = Comparison::default();
    for x in &sa {
        let k = key(x, &wa);
        let Some(y) = sb.iter().find(|y| key(y, &wb) == k) else {
            out.only_in_a.push(point_name(x));
            continue;
        };
        for m in Metric::all() {
            let name = m.name();
            let c = compare(m, &x.runs, &y.runs, seed_of(&["compare", &k.0, &k.1, &k.2.to_string(), &name]));
            let verdict = match &c.outcome {
                Outcome::BLower => "b_lower",
                Outcome::ALower => "a_lower",
                Outcome::NoDifference { .. } => "no_difference",
                Outcome::NotComparable { .. } => "not_compared",
            };
            out.rows.push(CompareRow {
                scheme: x.scheme.clone(),
                variant_a: x.variant.clone(),
                variant_b: y.variant.clone(),
                cpus: x.cpus,
                metric: name,
                runs_a: c.n_a,
                runs_b: c.n_b,
                a: finite(c.a),
                b: finite(c.b),
                diff: c.interval.and(finite(c.diff)),
                ci_low: c.interval.map(|i| i.0),
                ci_high: c.interval.map(|i| i.1),
                ratio: c.ratio(),
                verdict: verdict.into(),
                text: (
                    format!("{} | {} | {}", m.what(), fmt_value(m, c.a), fmt_value(m, c.b)),
                    format!(
                        "{} | {} | {}",
                        diff_text(&c),
                        c.ratio().map_or("–".into(), |r| format!("{r:.3}")),
                        outcome_text(&c, "A", "B")
                    ),
                ),
            });
        }
    }
    for y in &sb {
        let k = key(y, &wb);
        if !sa.iter().any(|x| key(x, &wa) == k) {
            out.only_in_b.push(point_name(y));
        }
    }
    Ok(out)
}

impl Comparison {
    /// Counts of each verdict: `(B lower, A lower, no difference, not compared)`.
    pub fn tally(&self) -> (usize, usize, usize, usize) {
        let n = |v: &str| self.rows.iter().filter(|r| r.verdict == v).count();
        (n("b_lower"), n("a_lower"), n("no_difference"), n("not_compared"))
    }

    /// A Markdown table, then the tally and the unmatched points.
    pub fn markdown(&self, a: &str, b: &str) -> String {
        let mut md = format!("# cpuhpsim compare\n\nA: `{a}`  \nB: `{b}`\n\n");
        md.push_str("| scheme | variant | CPUs | figure | A | B | B − A (95% CI) | B / A | verdict |\n");
        md.push_str("|---|---|---:|---|---:|---:|---|---:|---|\n");
        for r in &self.rows {
            let variant = if r.variant_a == r.variant_b {
                r.variant_a.clone()
            } else {
                format!("{} / {}", r.variant_a, r.variant_b)
            };
            let _ = writeln!(md, "| {} | {variant} | {} | {} | {} |", r.scheme, r.cpus, r.text.0, r.text.1);
        }
        let (bl, al, none, skipped) = self.tally();
        let _ = writeln!(
            md,
            "\n{} figures: B lower in {bl}, A lower in {al}, no difference detected in {none}, not compared in \
             {skipped}. Each interval is 95% on its own (Newcombe for deadlocked runs, a bootstrap over runs \
             otherwise); latencies are over runs without a deadlock.",
            self.rows.len()
        );
        for (side, points) in [("A", &self.only_in_a), ("B", &self.only_in_b)] {
            if !points.is_empty() {
                let _ = writeln!(md, "\nOnly in {side}: {}.", points.join("; "));
            }
        }
        md
    }

    /// Tidy CSV: one row per point and figure, empty cells where there is no value.
    pub fn csv(&self) -> Result<String, String> {
        let mut buf = Vec::new();
        crate::csv_rows::write(&mut buf, "compare.csv", self.rows.iter().cloned()).map_err(|e| e.to_string())?;
        String::from_utf8(buf).map_err(|e| e.to_string())
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a comparison serialises") + "\n"
    }
}
