//! `report.md` and its figures: the comparison a kernel developer would paste into a cover
//! letter, and the short table the CLI prints at the end of a sweep.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::OutputError;
use crate::aggregate::{Group, SweepState};
use crate::output_dir::StagedDir;
use crate::plots::{IntervalPoint, IntervalSeries, Series, cdf, grouped_bars, lines, lines_with_intervals};
use crate::runs::quantile;
use crate::stats::wilson;
use crate::verdict::{
    Comparison, LATENCIES, MIN_RUNS, Metric, Outcome, RunFigures, Sample, compare, diff_text, fmt_value, outcome_text,
    seed_of,
};
use crate::workloads::schemes::CLASSES;

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

/// The class with the most wait time, as wait seconds per simulated second: by Little's law
/// the mean number of tasks waiting for it (waits still open at a run's end are not counted).
fn worst_lock(g: &Group) -> String {
    g.locks
        .iter()
        .filter(|(_, s)| s.contentions > 0)
        .max_by_key(|(_, s)| s.wait_ns_total)
        .map_or("none".into(), |(class, s)| {
            format!("{class} ({:.3} waiting on average)", s.wait_ns_total as f64 / g.sim_ns.max(1) as f64)
        })
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

/// Writes `plots/*.svg` and `report.md`, the verdict computed from the `runs.csv` already in
/// `staged`; `planned` is the run count the directory is meant to hold once complete.
pub fn write(staged: &StagedDir, state: &SweepState, planned: u64) -> Result<(), OutputError> {
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
    if runs + (state.failures.len() as u64) < planned {
        let _ = writeln!(
            md,
            "**Incomplete: {} of {planned} planned runs.** The sweep was interrupted; every figure below is of \
             the runs it finished, and `INCOMPLETE` holds the command that completes it.\n",
            runs + state.failures.len() as u64
        );
    }
    let samples = crate::verdict::samples(&staged.path().join("runs.csv")).map_err(OutputError::Csv)?;
    let (verdict, details) = verdict(&samples);
    md.push_str(&verdict);
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
    md.push('\n');
    md.push_str(&details);
    md.push_str("\nFull reports: `lock_order.txt`, `deadlocks.txt`; per-run rows with replay commands: `runs.csv`.\n");
    staged.write("report.md", md)
}

/// The schemes, variants and CPU counts of `samples`, each once in order of appearance.
fn axes(samples: &[Sample]) -> (Vec<&str>, Vec<&str>, Vec<u32>) {
    let (mut schemes, mut variants, mut cpus) = (Vec::new(), Vec::new(), Vec::new());
    for s in samples {
        if !schemes.contains(&s.scheme.as_str()) {
            schemes.push(s.scheme.as_str());
        }
        if !variants.contains(&s.variant.as_str()) {
            variants.push(s.variant.as_str());
        }
        if !cpus.contains(&s.cpus) {
            cpus.push(s.cpus);
        }
    }
    cpus.sort_unstable();
    (schemes, variants, cpus)
}

/// The runs of `scheme` under `variant`, over the CPU counts `cpus` (all when `None`).
fn pooled(samples: &[Sample], scheme: &str, variant: &str, cpus: Option<u32>) -> Vec<RunFigures> {
    samples
        .iter()
        .filter(|s| s.scheme == scheme && s.variant == variant && cpus.is_none_or(|c| s.cpus == c))
        .flat_map(|s| s.runs.iter().cloned())
        .collect()
}

fn variant_name(variant: &str) -> &str {
    if variant.is_empty() { "as configured" } else { variant }
}

/// A comparison as one clause: `what: B − A = d (lo to hi): outcome`.
fn clause(c: &Comparison, a: &str, b: &str) -> String {
    let ratio = c.ratio().filter(|_| c.interval.is_some()).map_or(String::new(), |r| format!(", ×{r:.3}"));
    format!(
        "{}: {a} {}, {b} {}; {b} − {a} = {}{ratio}: {}",
        c.metric.what(),
        fmt_value(c.metric, c.a),
        fmt_value(c.metric, c.b),
        diff_text(c),
        outcome_text(c, a, b)
    )
}

/// The verdict's first paragraph: per variant, each scheme's deadlocked runs and silently failed
/// opens over every CPU count, and how many latency figures differ between the last two schemes
/// (the thread's two fixes, in the default experiment).
fn in_short(samples: &[Sample], schemes: &[&str], variants: &[&str], cpus: &[u32]) -> String {
    let mut md = String::from("**In short** (every CPU count pooled; details below):\n\n");
    for variant in variants {
        let figures: Vec<String> = schemes
            .iter()
            .map(|scheme| {
                let runs = pooled(samples, scheme, variant, None);
                let c = |m| compare(m, &runs, &runs, 0);
                format!(
                    "{scheme} deadlocks in {}% of runs and silently fails {} opens per 1,000 hotplug operations",
                    fmt_value(Metric::DeadlockedRuns, c(Metric::DeadlockedRuns).a),
                    fmt_value(Metric::SilentPerKiloOps, c(Metric::SilentPerKiloOps).a)
                )
            })
            .collect();
        let _ = write!(md, "- **{}**: {}.", variant_name(variant), figures.join("; "));
        if let [.., a, b] = schemes {
            let (ra, rb) = (pooled(samples, a, variant, None), pooled(samples, b, variant, None));
            for m in [Metric::DeadlockedRuns, Metric::SilentPerKiloOps] {
                let c = compare(m, &ra, &rb, seed_of(&["a", variant, a, b, &m.name()]));
                if !matches!(c.outcome, Outcome::NoDifference { identical: true, .. }) {
                    let _ = write!(md, " {b} − {a}, {}: {}, {}.", m.what(), diff_text(&c), outcome_text(&c, a, b));
                }
            }
            let (mut differ, mut compared) = (Vec::new(), 0);
            for &n in cpus {
                let (ra, rb) = (pooled(samples, a, variant, Some(n)), pooled(samples, b, variant, Some(n)));
                for m in (0..LATENCIES.len()).map(Metric::Latency) {
                    let c = compare(m, &ra, &rb, seed_of(&["b", variant, &n.to_string(), a, b, &m.name()]));
                    match c.outcome {
                        Outcome::BLower | Outcome::ALower => {
                            let pct = c.ratio().map_or(String::new(), |r| format!(", {:+.1}%", 100.0 * (r - 1.0)));
                            differ.push(format!("{} at {n} CPUs: {}{pct}", c.metric.what(), diff_text(&c)));
                            compared += 1;
                        }
                        Outcome::NoDifference { .. } => compared += 1,
                        Outcome::NotComparable { .. } => {}
                    }
                }
            }
            if compared > 0 {
                let shown = if differ.is_empty() { String::new() } else { format!(": {}", differ.join("; ")) };
                let _ =
                    write!(md, " Latencies, {b} − {a}: {} of {compared} figures compared differ{shown}.", differ.len());
            }
        }
        md.push('\n');
    }
    md.push('\n');
    md
}

/// `report.md`'s verdict, computed from the sweep's `runs.csv`: the thread's three questions
/// (does each scheme deadlock or lose events; what each costs; how that scales), each answered
/// per variant with 95 % intervals on every difference; and the full tables behind it.
pub fn verdict(samples: &[Sample]) -> (String, String) {
    let (schemes, variants, cpus) = axes(samples);
    let pairs: Vec<(&str, &str)> =
        schemes.iter().enumerate().flat_map(|(i, a)| schemes[i + 1..].iter().map(move |b| (*a, *b))).collect();
    let cpu_list = cpus.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let mut md = String::from("## Verdict\n\n");
    md.push_str(&in_short(samples, &schemes, &variants, &cpus));
    let _ = writeln!(
        md,
        "How it is computed: from `runs.csv`. A run (one seed) is the unit; every difference is B − A with a 95% interval \
         (Newcombe's hybrid score interval for the share of deadlocked runs, a {}-resample bootstrap over runs \
         otherwise), and lower is better for every figure but ENODEV (the right answer for an offline CPU, so reported, \
         not ranked). Rates are per simulated hour (deadlocks: of the time \
         up to each run's first deadlock) and per 1,000 hotplug operations or opens. Latencies are the median \
         over runs of each run's own p50 or p99, taken only over runs **without** a deadlock: a deadlocked run's \
         hotplug stops, so its latencies describe a shorter, different window; a side with fewer than {MIN_RUNS} \
         such runs is not compared. \"No difference detected\" means the interval spans 0; the runs it would take \
         to resolve a difference of the observed size follow it. Each interval is 95% on its own: of many \
         comparisons of schemes that do not differ, about 1 in 20 shows a difference by chance.\n",
        crate::stats::BOOTSTRAP_RESAMPLES
    );
    let mut details = String::from("## Verdict details\n\nEvery comparison behind the verdict.\n\n");
    details.push_str("| question | variant | CPUs | A | B | figure | A | B | B − A (95% CI) | verdict |\n");
    details.push_str("|---|---|---|---|---|---|---:|---:|---|---|\n");
    let mut row = |q: &str, variant: &str, at: &str, a: &str, b: &str, c: &Comparison| {
        let _ = writeln!(
            details,
            "| {q} | {} | {at} | {a} | {b} | {} | {} | {} | {} | {} |",
            variant_name(variant),
            c.metric.what(),
            fmt_value(c.metric, c.a),
            fmt_value(c.metric, c.b),
            diff_text(c),
            outcome_text(c, a, b)
        );
    };

    let _ = writeln!(md, "### (a) Does each scheme deadlock or lose events?\n\nOver {cpu_list} CPUs pooled:\n");
    for variant in &variants {
        let _ = write!(md, "- **{}**:", variant_name(variant));
        for scheme in &schemes {
            let runs = pooled(samples, scheme, variant, None);
            let k = runs.iter().filter(|r| r.deadlocked).count();
            let c = |m| compare(m, &runs, &runs, 0);
            let _ = write!(
                md,
                " {scheme} deadlocks in {k}/{} runs ({} per simulated hour) and silently fails {} opens \
                 ({} per 1,000 hotplug operations), ENODEV {} per 1,000 opens;",
                runs.len(),
                fmt_value(Metric::DeadlocksPerHour, c(Metric::DeadlocksPerHour).a),
                runs.iter().map(|r| r.silent).sum::<u64>(),
                fmt_value(Metric::SilentPerKiloOps, c(Metric::SilentPerKiloOps).a),
                fmt_value(Metric::EnodevPerKiloOpens, c(Metric::EnodevPerKiloOpens).a),
            );
        }
        md.pop();
        md.push('.');
        md.push('\n');
        for (a, b) in &pairs {
            let (ra, rb) = (pooled(samples, a, variant, None), pooled(samples, b, variant, None));
            let mut same = Vec::new();
            for m in [Metric::DeadlockedRuns, Metric::SilentPerKiloOps, Metric::EnodevPerKiloOpens] {
                let c = compare(m, &ra, &rb, seed_of(&["a", variant, a, b, &m.name()]));
                row("(a)", variant, &cpu_list, a, b, &c);
                match c.outcome {
                    Outcome::NoDifference { identical: true, .. } => same.push(m.what()),
                    _ => {
                        let _ = writeln!(md, "  - {}", clause(&c, a, b));
                    }
                }
            }
            if !same.is_empty() {
                let _ = writeln!(md, "  - {a} and {b}: the same in every run for {}", same.join(", "));
            }
        }
    }

    let _ = writeln!(md, "\n### (b) What does each cost?\n\nPer CPU count, over runs without a deadlock:\n");
    for variant in &variants {
        for (a, b) in &pairs {
            let (mut found, mut none, mut skipped) = (Vec::new(), 0, 0);
            for &n in &cpus {
                let (ra, rb) = (pooled(samples, a, variant, Some(n)), pooled(samples, b, variant, Some(n)));
                for m in (0..LATENCIES.len()).map(Metric::Latency) {
                    let c = compare(m, &ra, &rb, seed_of(&["b", variant, &n.to_string(), a, b, &m.name()]));
                    row("(b)", variant, &n.to_string(), a, b, &c);
                    match c.outcome {
                        Outcome::BLower | Outcome::ALower => found.push((n, c)),
                        Outcome::NoDifference { .. } => none += 1,
                        Outcome::NotComparable { .. } => skipped += 1,
                    }
                }
            }
            let total = cpus.len() * LATENCIES.len();
            let _ = writeln!(
                md,
                "- **{}**, {b} against {a}: of {total} latency figures, {} differ, {none} show no difference \
                 detected at this sample size, {skipped} not compared (too few runs without a deadlock).",
                variant_name(variant),
                found.len()
            );
            for (n, c) in &found {
                let _ = writeln!(md, "  - {n} CPUs: {}", clause(c, a, b));
            }
        }
    }

    if let (Some(&lo), Some(&hi)) = (cpus.first(), cpus.last())
        && lo != hi
    {
        let _ = writeln!(md, "\n### (c) How does it scale from {lo} to {hi} CPUs?\n");
        for variant in &variants {
            for scheme in &schemes {
                let (ra, rb) = (pooled(samples, scheme, variant, Some(lo)), pooled(samples, scheme, variant, Some(hi)));
                let mut clauses = Vec::new();
                for m in (0..LATENCIES.len()).map(Metric::Latency) {
                    let c = compare(m, &ra, &rb, seed_of(&["c", variant, scheme, &m.name()]));
                    row(
                        "(c)",
                        variant,
                        &format!("{lo} → {hi}"),
                        &format!("{scheme} @{lo}"),
                        &format!("{scheme} @{hi}"),
                        &c,
                    );
                    if c.interval.is_some() {
                        let ratio = c.ratio().map_or(String::new(), |r| format!(" (×{r:.2})"));
                        clauses.push(format!(
                            "{} {} → {}{ratio}, difference {}",
                            c.metric.what(),
                            fmt_value(c.metric, c.a),
                            fmt_value(c.metric, c.b),
                            diff_text(&c)
                        ));
                    }
                }
                let shown = if clauses.is_empty() {
                    "not compared (too few runs without a deadlock)".to_string()
                } else {
                    clauses.join("; ")
                };
                let _ = writeln!(md, "- **{}**, {scheme}: {shown}.", variant_name(variant));
            }
        }
    }
    md.push('\n');
    (md, details)
}
