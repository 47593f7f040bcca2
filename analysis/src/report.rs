//! `report.md` and its figures: the comparison a kernel developer would paste into a cover
//! letter, and the short table the CLI prints at the end of a sweep.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::OutputError;
use crate::aggregate::{Group, SweepState};
use crate::output_dir::StagedDir;
use crate::plots::{IntervalPoint, IntervalSeries, Series, cdf, grouped_bars, lines, lines_with_intervals};
use crate::runs::quantile;
use crate::workloads::schemes::CLASSES;

/// Wilson score interval (95 %) of a proportion `k / n`.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n, z) = (k as f64, n as f64, 1.959_963_984_540_054);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((center - half).max(0.0), (center + half).min(1.0))
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Scheme labels in grid order, each once.
fn labels(state: &SweepState) -> Vec<String> {
    let mut seen = BTreeSet::new();
    state.groups.iter().filter(|g| seen.insert(g.label.clone())).map(|g| g.label.clone()).collect()
}

fn largest_cpus(state: &SweepState) -> u32 {
    state.groups.iter().map(|g| g.cpus).max().unwrap_or(0)
}

fn worst_lock(g: &Group) -> String {
    g.locks
        .iter()
        .filter(|(_, s)| s.contentions > 0)
        .max_by_key(|(_, s)| s.wait_ns_total)
        .map_or("none".into(), |(class, s)| format!("{class} ({:.1} ms waited)", ms(s.wait_ns_total)))
}

/// The comparison table: one row per group.
pub fn table(state: &SweepState) -> String {
    let mut t = String::from(
        "| scheme | CPUs | runs | cpu_down p50 / p99 (ms) | cpu_up p50 / p99 (ms) | most waited-for lock | deadlocked runs (95% CI) | violations | silently failed opens | lock-order cycles |\n|---|---:|---:|---|---|---|---|---:|---:|---:|\n",
    );
    for g in &state.groups {
        let (lo, hi) = wilson(g.deadlocked_runs, g.runs);
        let down = g.histogram("cpu_down_ns");
        let up = g.histogram("cpu_up_ns");
        let _ = writeln!(
            t,
            "| {} | {} | {} | {:.2} / {:.2} | {:.2} / {:.2} | {} | {}/{} = {:.1}% ({:.1}–{:.1}%) | {} | {} | {} |",
            g.label,
            g.cpus,
            g.runs,
            ms(quantile(down, 0.5)),
            ms(quantile(down, 0.99)),
            ms(quantile(up, 0.5)),
            ms(quantile(up, 0.99)),
            worst_lock(g),
            g.deadlocked_runs,
            g.runs,
            100.0 * g.deadlocked_runs as f64 / g.runs.max(1) as f64,
            100.0 * lo,
            100.0 * hi,
            g.violations,
            g.silently_failed_opens,
            g.order.cycles(|c| CLASSES[c as usize].1).len(),
        );
    }
    t
}

/// Per group: PMIs and samples per run, throttled share, worst folded-count error and the
/// multiplexing error's percentiles; `None` when no run carried PMU load.
pub fn pmu_table(state: &SweepState) -> Option<String> {
    if state.groups.iter().all(|g| g.pmu.is_none()) {
        return None;
    }
    let mut t = String::from(
        "| scheme | CPUs | runs | PMIs / run | samples / run | throttled samples | lost samples | wraps lost | max count error | mux error p50 / p99 / max (events) | sim events / PMI |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n",
    );
    for g in &state.groups {
        let Some(p) = &g.pmu else { continue };
        let mux = g.histograms.get(crate::aggregate::MUX_ERROR_METRIC);
        let q = |x: f64| mux.map_or(0, |h| quantile(h, x));
        let _ = writeln!(
            t,
            "| {} | {} | {} | {:.0} | {:.0} | {} ({:.2}%) | {} | {} | {} | {} / {} / {} | {:.3} |",
            g.label,
            g.cpus,
            p.runs,
            p.pmis as f64 / p.runs.max(1) as f64,
            p.samples as f64 / p.runs.max(1) as f64,
            p.samples_throttled,
            100.0 * p.samples_throttled as f64 / (p.samples + p.samples_throttled).max(1) as f64,
            p.lost_samples,
            p.wraps_lost,
            p.max_count_error_events,
            q(0.5),
            q(0.99),
            mux.map_or(0, crate::runs::max),
            p.wakes as f64 / p.pmis.max(1) as f64,
        );
    }
    Some(t)
}

fn cdf_series(state: &SweepState, metric: &str, cpus: u32) -> Vec<Series> {
    state
        .groups
        .iter()
        .filter(|g| g.cpus == cpus)
        .map(|g| {
            let h = g.histogram(metric);
            let total = h.len().max(1) as f64;
            let mut cumulative = 0u64;
            let points = h
                .iter_recorded()
                .map(|v| {
                    cumulative += v.count_at_value();
                    (ms(v.value_iterated_to()), cumulative as f64 / total)
                })
                .collect();
            Series { label: g.label.clone(), points }
        })
        .collect()
}

fn plots(state: &SweepState) -> Result<Vec<(&'static str, String, String)>, OutputError> {
    let err = |e: crate::plots::PlotError| OutputError::Csv(format!("plot: {e}"));
    let big = largest_cpus(state);
    let mut out = Vec::new();
    for (metric, file, what) in
        [("cpu_down_ns", "cpu_down_cdf.svg", "cpu_down"), ("cpu_up_ns", "cpu_up_cdf.svg", "cpu_up")]
    {
        let title = format!("{what} latency CDF on {big} CPUs");
        let svg = cdf(&title, &format!("{what} latency (ms)"), &cdf_series(state, metric, big), true).map_err(err)?;
        out.push((file, svg, title));
    }
    let at_big: Vec<&Group> = state.groups.iter().filter(|g| g.cpus == big).collect();
    let classes: Vec<String> = CLASSES
        .iter()
        .map(|(c, _, _)| c.to_string())
        .filter(|c| at_big.iter().any(|g| g.locks.iter().any(|(n, s)| n == c && s.contentions > 0)))
        .collect();
    let values: Vec<Vec<f64>> = at_big
        .iter()
        .map(|g| {
            classes
                .iter()
                .map(|c| g.locks.iter().find(|(n, _)| n == c).map_or(0.0, |(_, s)| s.wait_ns_avg() / 1e3))
                .collect()
        })
        .collect();
    let series_labels: Vec<String> = at_big.iter().map(|g| g.label.clone()).collect();
    let title = format!("mean wait per contended acquisition on {big} CPUs");
    out.push((
        "lock_wait.svg",
        grouped_bars(&title, "mean wait (µs)", &classes, &series_labels, &values, true).map_err(err)?,
        title,
    ));
    let rate: Vec<IntervalSeries> = labels(state)
        .into_iter()
        .map(|label| IntervalSeries {
            points: state
                .groups
                .iter()
                .filter(|g| g.label == label)
                .map(|g| {
                    let (low, high) = wilson(g.deadlocked_runs, g.runs);
                    let y = g.deadlocked_runs as f64 / g.runs.max(1) as f64;
                    IntervalPoint { x: g.cpus as f64, y, low, high }
                })
                .collect(),
            label,
        })
        .collect();
    let title = "fraction of runs that deadlock (95% Wilson interval)".to_string();
    out.push((
        "deadlock_rate.svg",
        lines_with_intervals(&title, "CPUs", "deadlocked runs (fraction)", &rate, true, false).map_err(err)?,
        title,
    ));
    for (metric, file, what) in
        [("cpu_down_ns", "cpu_down_p99.svg", "cpu_down"), ("cpu_up_ns", "cpu_up_p99.svg", "cpu_up")]
    {
        let series: Vec<Series> = labels(state)
            .into_iter()
            .map(|label| Series {
                points: state
                    .groups
                    .iter()
                    .filter(|g| g.label == label && !g.histogram(metric).is_empty())
                    .map(|g| (g.cpus as f64, ms(quantile(g.histogram(metric), 0.99))))
                    .collect(),
                label,
            })
            .collect();
        let title = format!("p99 {what} latency vs CPUs");
        out.push((
            file,
            lines(&title, "CPUs", &format!("p99 {what} latency (ms)"), &series, true, true).map_err(err)?,
            title,
        ));
    }
    Ok(out)
}

/// Writes `plots/*.svg` and `report.md`.
pub fn write(staged: &StagedDir, state: &SweepState) -> Result<(), OutputError> {
    std::fs::create_dir_all(staged.path().join("plots"))
        .map_err(|e| OutputError::Io(staged.path().join("plots"), e))?;
    let figures = plots(state)?;
    for (file, svg, _) in &figures {
        staged.write(&format!("plots/{file}"), svg)?;
    }
    let mut md = String::from("# cpuhpsim: CPU hotplug × perf locking schemes\n\n");
    let runs: u64 = state.groups.iter().map(|g| g.runs).sum();
    let _ = writeln!(
        md,
        "{runs} runs in {} groups (scheme × options × CPUs). Latencies are simulated time; deadlock rates carry 95% Wilson intervals.\n",
        state.groups.len()
    );
    if !state.failures.is_empty() {
        let _ = writeln!(
            md,
            "## Internal errors\n\n{} runs stopped on a bug in cpuhpsim, not in the simulated kernel; \
             they are left out of every figure. Replay one and report it.\n",
            state.failures.len()
        );
        for f in &state.failures {
            let _ = writeln!(
                md,
                "- run {} ({}, {} CPUs, seed {}): {}\n  Replay: `{}`",
                f.run, f.label, f.cpus, f.seed, f.message, f.replay
            );
        }
        md.push('\n');
    }
    md.push_str("## Comparison\n\n");
    md.push_str(&table(state));
    if let Some(pmu) = pmu_table(state) {
        md.push_str("\n## PMU load\n\n");
        md.push_str(&pmu);
    }
    md.push_str("\n## Figures\n\n");
    for (file, _, title) in &figures {
        let _ = writeln!(md, "### {title}\n\n![{title}](plots/{file})\n");
    }
    md.push_str("## First deadlock of each kind\n\n");
    let firsts = state.first_of_each_kind();
    if firsts.is_empty() {
        md.push_str("No run deadlocked.\n");
    }
    for d in firsts {
        let _ = writeln!(
            md,
            "### {}: `{}`\n\nFirst in run {} ({} CPUs, seed {}) at {:.3} ms.\n\n```\n{}\n```\nReplay: `{}`\n",
            d.label,
            crate::aggregate::cycle_kind(&d.signature),
            d.run,
            d.cpus,
            d.seed,
            d.time_ns as f64 / 1e6,
            d.report.trim_end(),
            d.replay
        );
    }
    md.push_str("\n## Lock-order cycles (possible deadlocks, lockdep's analysis)\n\n");
    for g in &state.groups {
        let cycles = g.order.cycles(|c| CLASSES[c as usize].1);
        let chains: Vec<String> = cycles.iter().map(|c| c.chain(|id| CLASSES[id as usize].0.to_string())).collect();
        let shown = if chains.is_empty() { "none".to_string() } else { chains.join("; ") };
        let _ = writeln!(md, "- **{}**, {} CPUs: {}", g.label, g.cpus, shown);
    }
    md.push_str("\nFull reports: `lock_order.txt`, `deadlocks.txt`; per-run rows with replay commands: `runs.csv`.\n");
    staged.write("report.md", md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_known_values() {
        // k = 0 of 10: [0, 0.2775]; k = 5 of 10: [0.2366, 0.7634] (standard tables).
        let (lo, hi) = wilson(0, 10);
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-4, "{lo} {hi}");
        let (lo, hi) = wilson(5, 10);
        assert!((lo - 0.2366).abs() < 1e-4 && (hi - 0.7634).abs() < 1e-4, "{lo} {hi}");
    }
}
