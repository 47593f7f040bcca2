//! `report.md` and its figures: the comparison a kernel developer would paste into a cover
//! letter, and the short table the CLI prints at the end of a sweep.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::OutputError;
use crate::aggregate::{Group, SweepState};
use crate::output_dir::StagedDir;
use crate::plots::{AxisSpec, BarSeries, Facet, Figure, IntervalPoint, IntervalSeries, PlotError, Series};
use crate::runs::quantile;
use crate::stats::wilson;
use crate::verdict::{
    Comparison, LATENCIES, MIN_RUNS, Metric, Outcome, RunFigures, Sample, compare, diff_text, fmt_value, outcome_text,
    rate_with_interval, seed_of,
};
use crate::workloads::run::variant_of;
use crate::workloads::schemes::CLASSES;

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
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

/// One figure of `report.md`: its file under `plots/`, the SVG, the title drawn on it and the caption printed
/// under it (what the short labels stand for, what is pooled, how missing data are shown).
struct FigureFile {
    file: &'static str,
    svg: String,
    title: String,
    caption: String,
}

/// The schemes and the variants (the swept options besides the scheme and CPUs) of `state`'s groups, each once
/// in grid order: the keys every figure gives its series, so each scheme has one style throughout.
fn schemes_and_variants(state: &SweepState) -> (Vec<String>, Vec<String>) {
    let (mut schemes, mut variants): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for g in &state.groups {
        if !schemes.contains(&g.scheme) {
            schemes.push(g.scheme.clone());
        }
        let variant = variant_of(&g.label, &g.scheme).to_string();
        if !variants.contains(&variant) {
            variants.push(variant);
        }
    }
    (schemes, variants)
}

fn variant_of_group(g: &Group) -> &str {
    variant_of(&g.label, &g.scheme)
}

/// One panel per variant, headed by its options (no heading when there is a single, empty variant).
fn facets<S>(variants: &[String], mut series: impl FnMut(&str) -> Vec<S>) -> Vec<Facet<S>> {
    variants
        .iter()
        .map(|v| Facet {
            heading: if variants.len() == 1 && v.is_empty() { String::new() } else { variant_name(v).to_string() },
            series: series(v),
        })
        .collect()
}

/// `n` with thousands separated by commas, as the verdict prints counts.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Per variant, `what` of each scheme: "variant: scheme what, …; …", the part of a caption that gives the
/// number behind each line.
fn per_variant(variants: &[String], schemes: &[String], what: impl Fn(&str, &str) -> Option<String>) -> String {
    variants
        .iter()
        .map(|v| {
            let parts: Vec<String> = schemes.iter().filter_map(|s| what(s, v).map(|w| format!("{s} {w}"))).collect();
            format!("{}: {}", variant_name(v), parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Fewer operations than this behind a latency line or point, and it is not drawn: a p99 or a CDF of a
/// handful of operations (legacy's runs deadlock before hotplug gets going) would read as a measurement.
const MIN_OPERATIONS: u64 = 100;
/// Fewer hotplug operations than this behind a rate per 1,000 of them, and the point is not drawn.
const MIN_RATE_OPERATIONS: u64 = 1000;
/// Fewer deadlocked runs than this, and a scheme gets no time-to-deadlock CDF.
const MIN_DEADLOCKED_RUNS: usize = 10;

const FACETS_NOTE: &str = "One panel per variant (the options besides the scheme and CPUs), one line per scheme; \
    each scheme has the same colour, marker and dash in every figure.";
const CDF_MARKERS_NOTE: &str = "Markers sit where a line crosses 10, 30, 50, 70 and 90%, 4 percentage points \
    higher for each further scheme, so that lines lying on each other still show every scheme's markers.";
const DODGE_NOTE: &str = "At each CPU count the schemes' points are set a few pixels apart, so that equal values \
    (two schemes at 0, say) stay visible side by side.";

fn latency_cdfs(
    state: &SweepState,
    keys: &[String],
    variants: &[String],
    big: u32,
) -> Result<Vec<FigureFile>, PlotError> {
    let mut out = Vec::new();
    for (metric, file, what) in
        [("cpu_down_ns", "cpu_down_cdf.svg", "cpu_down"), ("cpu_up_ns", "cpu_up_cdf.svg", "cpu_up")]
    {
        let at = |scheme: &str, variant: &str| {
            state.groups.iter().find(|g| g.cpus == big && g.scheme == scheme && variant_of_group(g) == variant)
        };
        let panels = facets(variants, |v| {
            keys.iter()
                .filter_map(|scheme| {
                    let h = at(scheme, v)?.histogram(metric);
                    if h.len() < MIN_OPERATIONS {
                        return None;
                    }
                    let total = h.len() as f64;
                    let mut cumulative = 0u64;
                    let points: Vec<(f64, f64)> = h
                        .iter_recorded()
                        .map(|r| {
                            cumulative += r.count_at_value();
                            (ms(r.value_iterated_to()), cumulative as f64 / total)
                        })
                        .collect();
                    (!points.is_empty()).then(|| Series { label: scheme.clone(), points })
                })
                .collect()
        });
        let title = format!("{what} latency CDF on {big} CPUs");
        let x_label = format!("{what} latency (ms)");
        let y_label = format!("fraction of {what} operations");
        let figure = Figure { title: &title, x: AxisSpec::log(&x_label), y: AxisSpec::linear(&y_label), keys };
        let ops = per_variant(variants, keys, |s, v| Some(count(at(s, v).map_or(0, |g| g.histogram(metric).len()))));
        let caption = format!(
            "{FACETS_NOTE} Every {what} of every run at {big} CPUs is pooled, deadlocked runs' up to their \
             deadlock. {CDF_MARKERS_NOTE} A scheme \
             with fewer than {MIN_OPERATIONS} {what} operations in a panel has no line there. {what} operations \
             behind each line: {ops}."
        );
        out.push(FigureFile { file, svg: figure.cdf(&panels)?, title, caption });
    }
    Ok(out)
}

fn lock_wait(state: &SweepState, keys: &[String], variants: &[String], big: u32) -> Result<FigureFile, PlotError> {
    let at_big: Vec<&Group> = state.groups.iter().filter(|g| g.cpus == big).collect();
    let classes: Vec<String> = CLASSES
        .iter()
        .map(|(c, _, _)| c.to_string())
        .filter(|c| at_big.iter().any(|g| g.locks.iter().any(|(n, s)| n == c && s.contentions > 0)))
        .collect();
    let panels = facets(variants, |v| {
        at_big
            .iter()
            .filter(|g| variant_of_group(g) == v)
            .map(|g| BarSeries {
                label: g.scheme.clone(),
                values: classes
                    .iter()
                    .map(|c| g.locks.iter().find(|(n, _)| n == c).map_or(0.0, |(_, s)| s.wait_ns_avg() / 1e3))
                    .collect(),
            })
            .collect()
    });
    let title = format!("mean wait per contended acquisition on {big} CPUs");
    let y = AxisSpec::log("mean wait per contended acquisition (µs)");
    let figure = Figure { title: &title, x: AxisSpec::linear("lock class"), y, keys };
    let caption = format!(
        "One panel per variant (the options besides the scheme and CPUs), one bar per scheme in each lock \
         class's group; every run at {big} CPUs pooled. No bar: the scheme never waited for that lock. Lock \
         classes no scheme waited for are left out."
    );
    Ok(FigureFile { file: "lock_wait.svg", svg: figure.grouped_bars(&classes, &panels)?, title, caption })
}

fn deadlock_rate(state: &SweepState, keys: &[String], variants: &[String]) -> Result<FigureFile, PlotError> {
    let panels = facets(variants, |v| {
        keys.iter()
            .map(|scheme| IntervalSeries {
                label: scheme.clone(),
                points: state
                    .groups
                    .iter()
                    .filter(|g| &g.scheme == scheme && variant_of_group(g) == v && g.runs > 0)
                    .map(|g| {
                        let (low, high) = wilson(g.deadlocked_runs, g.runs);
                        let y = g.deadlocked_runs as f64 / g.runs as f64;
                        IntervalPoint { x: g.cpus as f64, y, low, high }
                    })
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    });
    let title = "fraction of runs that deadlock (95% Wilson interval)".to_string();
    let y = AxisSpec::linear("fraction of runs deadlocked");
    let figure = Figure { title: &title, x: AxisSpec::log("CPUs").at_data(), y, keys };
    let runs: BTreeSet<u64> = state.groups.iter().map(|g| g.runs).collect();
    let runs = runs.iter().map(|n| count(*n)).collect::<Vec<_>>().join(" or ");
    let caption = format!(
        "{FACETS_NOTE} A point is the share of the {runs} runs at that CPU count with a wait-for deadlock; the \
         bar is its 95% Wilson score interval. {DODGE_NOTE}"
    );
    Ok(FigureFile { file: "deadlock_rate.svg", svg: figure.lines_with_intervals(&panels)?, title, caption })
}

fn p99_latencies(state: &SweepState, keys: &[String], variants: &[String]) -> Result<Vec<FigureFile>, PlotError> {
    let mut out = Vec::new();
    for (metric, file, what) in
        [("cpu_down_ns", "cpu_down_p99.svg", "cpu_down"), ("cpu_up_ns", "cpu_up_p99.svg", "cpu_up")]
    {
        let panels = facets(variants, |v| {
            keys.iter()
                .map(|scheme| Series {
                    label: scheme.clone(),
                    points: state
                        .groups
                        .iter()
                        .filter(|g| {
                            &g.scheme == scheme
                                && variant_of_group(g) == v
                                && g.histogram(metric).len() >= MIN_OPERATIONS
                        })
                        .map(|g| (g.cpus as f64, ms(quantile(g.histogram(metric), 0.99))))
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect()
        });
        let title = format!("p99 {what} latency vs CPUs");
        let y_label = format!("p99 {what} latency (ms)");
        let figure = Figure { title: &title, x: AxisSpec::log("CPUs").at_data(), y: AxisSpec::log(&y_label), keys };
        let few = per_variant(variants, keys, |s, v| {
            let counts: Vec<u64> = state
                .groups
                .iter()
                .filter(|g| g.scheme == s && variant_of_group(g) == v)
                .map(|g| g.histogram(metric).len())
                .collect();
            let (lo, hi) = (counts.iter().min()?, counts.iter().max()?);
            Some(if lo == hi { count(*lo) } else { format!("{}–{}", count(*lo), count(*hi)) })
        });
        let caption = format!(
            "{FACETS_NOTE} A point is the p99 of every {what} of every run at that CPU count pooled, deadlocked \
             runs' up to their deadlock; no point where fewer than {MIN_OPERATIONS} completed. {DODGE_NOTE} \
             {what} operations behind each point: {few}."
        );
        out.push(FigureFile { file, svg: figure.lines(&panels)?, title, caption });
    }
    Ok(out)
}

/// The CPU count with the most deadlocked runs (the smallest on a tie), where time-to-deadlock CDFs rest on
/// the most runs.
fn most_deadlocked_cpus(samples: &[Sample]) -> u32 {
    let (_, _, cpus) = axes(samples);
    let deadlocked_at =
        |n: u32| samples.iter().filter(|s| s.cpus == n).flat_map(|s| &s.runs).filter(|r| r.deadlocked).count();
    cpus.iter().copied().rev().max_by_key(|&n| deadlocked_at(n)).unwrap_or(0)
}

/// Per variant, each scheme's CDF of the simulated time (ms) to the first deadlock over its runs at `cpus`
/// that deadlocked (a deadlocked run's exposure is exactly that time); runs without one are left out, and so
/// is a scheme with fewer than [`MIN_DEADLOCKED_RUNS`] deadlocked runs.
fn time_to_deadlock_facets(samples: &[Sample], keys: &[String], variants: &[String], cpus: u32) -> Vec<Facet<Series>> {
    facets(variants, |v| {
        keys.iter()
            .filter_map(|scheme| {
                let runs = pooled(samples, scheme, v, Some(cpus));
                let mut times: Vec<u64> = runs.iter().filter(|r| r.deadlocked).map(|r| r.exposure_ns).collect();
                if times.len() < MIN_DEADLOCKED_RUNS {
                    return None;
                }
                times.sort_unstable();
                let n = times.len() as f64;
                let points = times.iter().enumerate().map(|(i, &t)| (ms(t), (i + 1) as f64 / n)).collect();
                Some(Series { label: scheme.clone(), points })
            })
            .collect()
    })
}

fn time_to_deadlock(samples: &[Sample], keys: &[String], variants: &[String]) -> Result<FigureFile, PlotError> {
    let at = most_deadlocked_cpus(samples);
    let panels = time_to_deadlock_facets(samples, keys, variants, at);
    let title = format!("time to first deadlock on {at} CPUs");
    let x = AxisSpec::log("simulated time to first deadlock (ms)");
    let figure = Figure { title: &title, x, y: AxisSpec::linear("fraction of deadlocked runs"), keys };
    let deadlocked = per_variant(variants, keys, |s, v| {
        let r = pooled(samples, s, v, Some(at));
        (!r.is_empty()).then(|| format!("{}/{}", r.iter().filter(|r| r.deadlocked).count(), r.len()))
    });
    let caption = format!(
        "{FACETS_NOTE} Each line is the empirical CDF of the simulated time to the first deadlock over the runs \
         at {at} CPUs (the CPU count with the most deadlocked runs) that deadlocked. Runs without a deadlock are \
         left out, so every line ends at 1 whatever share of the runs deadlocked, and a scheme with fewer than \
         {MIN_DEADLOCKED_RUNS} deadlocked runs in a panel has no line there. {CDF_MARKERS_NOTE} Deadlocked runs \
         at {at} CPUs, of all runs there: {deadlocked}."
    );
    Ok(FigureFile { file: "time_to_deadlock_cdf.svg", svg: figure.cdf(&panels)?, title, caption })
}

/// Per variant, each scheme's silently failed opens per 1,000 hotplug operations (cpu_downs + cpu_ups) at
/// each CPU count, the verdict's figure, with the 95 % bootstrap interval over runs the verdict's resampling
/// gives one side (the exact Poisson one when no run had an event; NaN ends when there is none); no point under [`MIN_RATE_OPERATIONS`] hotplug operations.
fn silent_failure_facets(samples: &[Sample], keys: &[String], variants: &[String]) -> Vec<Facet<IntervalSeries>> {
    let (_, _, cpus) = axes(samples);
    let metric = Metric::SilentPerKiloOps;
    facets(variants, |v| {
        keys.iter()
            .map(|scheme| IntervalSeries {
                label: scheme.clone(),
                points: cpus
                    .iter()
                    .filter_map(|&n| {
                        let runs = pooled(samples, scheme, v, Some(n));
                        if runs.iter().map(|r| r.hotplug_ops).sum::<u64>() < MIN_RATE_OPERATIONS {
                            return None;
                        }
                        let seed = seed_of(&["plot", &metric.name(), v, scheme, &n.to_string()]);
                        let (y, interval) = rate_with_interval(metric, &runs, seed)?;
                        let (low, high) = interval.unwrap_or((f64::NAN, f64::NAN));
                        Some(IntervalPoint { x: f64::from(n), y, low, high })
                    })
                    .collect(),
            })
            .filter(|s| !s.points.is_empty())
            .collect()
    })
}

fn silent_failures(samples: &[Sample], keys: &[String], variants: &[String]) -> Result<FigureFile, PlotError> {
    let (_, _, cpus) = axes(samples);
    let panels = silent_failure_facets(samples, keys, variants);
    let title = "silently failed opens vs CPUs (95% bootstrap interval)".to_string();
    let y = AxisSpec::linear("silently failed opens per 1,000 hotplug operations");
    let figure = Figure { title: &title, x: AxisSpec::log("CPUs").at_data(), y, keys };
    let ops = per_variant(variants, keys, |s, v| {
        let per_cpus: Vec<u64> =
            cpus.iter().map(|&n| pooled(samples, s, v, Some(n)).iter().map(|r| r.hotplug_ops).sum()).collect();
        let (lo, hi) = (per_cpus.iter().min()?, per_cpus.iter().max()?);
        Some(if lo == hi { count(*lo) } else { format!("{}–{}", count(*lo), count(*hi)) })
    });
    let caption = format!(
        "{FACETS_NOTE} A point is Σ silently failed opens / Σ (cpu_downs + cpu_ups) × 1,000 over every run at \
         that CPU count, the verdict's figure; the bar is the 95% percentile bootstrap interval over runs \
         ({} resamples, as the verdict's). Where no run failed an open silently a bootstrap cannot bound the rate, so the \
         bar is the exact Poisson interval for 0 events in those operations, 0 to 3.689 per operation count × \
         1,000. No bar: over 2.5% of the resamples drew no hotplug operation, too few runs with any to say. No point: fewer \
         than {} hotplug operations, too few for a rate per 1,000. {DODGE_NOTE} Hotplug operations behind \
         each point: {ops}.",
        count(crate::stats::BOOTSTRAP_RESAMPLES as u64),
        count(MIN_RATE_OPERATIONS)
    );
    Ok(FigureFile { file: "silently_failed_opens.svg", svg: figure.lines_with_intervals(&panels)?, title, caption })
}

fn plots(state: &SweepState, samples: &[Sample]) -> Result<Vec<FigureFile>, OutputError> {
    let err = |e: PlotError| OutputError::Csv(format!("plot: {e}"));
    let (keys, variants) = schemes_and_variants(state);
    let big = largest_cpus(state);
    let mut out = latency_cdfs(state, &keys, &variants, big).map_err(err)?;
    out.push(lock_wait(state, &keys, &variants, big).map_err(err)?);
    out.push(deadlock_rate(state, &keys, &variants).map_err(err)?);
    out.extend(p99_latencies(state, &keys, &variants).map_err(err)?);
    out.push(time_to_deadlock(samples, &keys, &variants).map_err(err)?);
    out.push(silent_failures(samples, &keys, &variants).map_err(err)?);
    Ok(out)
}

/// Writes `plots/*.svg` and `report.md`, the verdict computed from the `runs.csv` already in
/// `staged`; `planned` is the run count the directory is meant to hold once complete.
pub fn write(staged: &StagedDir, state: &SweepState, planned: u64) -> Result<(), OutputError> {
    std::fs::create_dir_all(staged.path().join("plots"))
        .map_err(|e| OutputError::Io(staged.path().join("plots"), e))?;
    let samples = crate::verdict::samples(&staged.path().join("runs.csv")).map_err(OutputError::Csv)?;
    let figures = plots(state, &samples)?;
    for f in &figures {
        staged.write(&format!("plots/{}", f.file), &f.svg)?;
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
    for f in &figures {
        let _ = writeln!(md, "### {}\n\n![{}](plots/{})\n\n{}\n", f.title, f.title, f.file, f.caption);
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
    md.push_str(
        "\nWhether the model raises each historic lockdep report and failure (2017–2025) on the kernel \
         bundles that had it, and not on those with its fix, is checked by `cpuhpsim history` (its own \
         `results/history/history.md`; the cases and the kernel code behind them are in docs/history.md).\n\n",
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that deadlocks after `deadlock_ms` (or runs its 10 s), with `silent` silently failed opens
    /// among `hotplug_ops` hotplug operations.
    fn run(deadlock_ms: Option<u64>, silent: u64, hotplug_ops: u64) -> RunFigures {
        RunFigures {
            deadlocked: deadlock_ms.is_some(),
            exposure_ns: deadlock_ms.map_or(10_000_000_000, |t| t * 1_000_000),
            sim_ns: 10_000_000_000,
            hotplug_ops,
            silent,
            enodev: 0,
            open_attempts: 100,
            latency: [None; LATENCIES.len()],
        }
    }

    fn sample(scheme: &str, cpus: u32, runs: Vec<RunFigures>) -> Sample {
        Sample { scheme: scheme.into(), variant: "kernel=4.13".into(), cpus, runs }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn counts_are_grouped_in_thousands() {
        assert_eq!(
            [0, 999, 1000, 18_960, 1_234_567].map(count),
            ["0", "999", "1,000", "18,960", "1,234,567"].map(String::from)
        );
    }

    #[test]
    fn time_to_deadlock_is_the_cdf_of_deadlocked_runs_where_most_runs_deadlock() {
        // legacy deadlocks in all 20 runs at 64 CPUs (at 1..=20 ms) and in 12 at 256; the fix in 5 and 8.
        let at = |n: usize, of: usize| (0..of).map(|i| run((i < n).then_some(i as u64 + 1), 0, 10)).collect();
        let samples = vec![
            sample("legacy", 64, at(20, 20)),
            sample("legacy", 256, at(12, 20)),
            sample("pmus-lock", 64, at(5, 20)),
            sample("pmus-lock", 256, at(8, 20)),
        ];
        assert_eq!(most_deadlocked_cpus(&samples), 64);
        let (keys, variants) = (names(&["legacy", "pmus-lock"]), names(&["kernel=4.13"]));
        let facets = time_to_deadlock_facets(&samples, &keys, &variants, 64);
        assert_eq!(facets.len(), 1);
        assert_eq!(facets[0].heading, "kernel=4.13");
        // Only legacy: the fix's 5 deadlocked runs are too few for a line; runs without a deadlock are left out.
        let expected: Vec<(f64, f64)> = (1..=20).map(|k| (k as f64, k as f64 / 20.0)).collect();
        assert_eq!(facets[0].series, vec![Series { label: "legacy".into(), points: expected }]);
        // A tie goes to the smaller count.
        let tied = vec![sample("legacy", 256, at(10, 20)), sample("legacy", 64, at(10, 20))];
        assert_eq!(most_deadlocked_cpus(&tied), 64);
    }

    #[test]
    fn silent_failure_points_are_the_verdicts_rate_with_its_interval() {
        let busy: Vec<RunFigures> = (0..40).map(|i| run(None, i % 3, 100)).collect();
        let idle: Vec<RunFigures> = (0..5).map(|_| run(None, 1, 100)).collect();
        let samples = vec![sample("pmus-lock", 64, busy.clone()), sample("pmus-lock", 256, idle)];
        let facets = silent_failure_facets(&samples, &names(&["legacy", "pmus-lock"]), &names(&["kernel=4.13"]));
        let series = &facets[0].series;
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].label, "pmus-lock");
        // 256 CPUs had 500 hotplug operations, too few for a rate per 1,000.
        let [point] = series[0].points[..] else { panic!("{:?}", series[0].points) };
        assert_eq!(point.x, 64.0);
        assert_eq!(point.y, compare(Metric::SilentPerKiloOps, &busy, &busy, 0).a);
        assert!(point.low < point.y && point.y < point.high, "{point:?}");
    }
}
