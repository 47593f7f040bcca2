//! `runs.csv`: one row per run, with the command that replays it.

use std::io::Write;

use hdrhistogram::Histogram;

use crate::OutputError;
use crate::workloads::run::RunResult;

/// `runs.csv` columns; times in nanoseconds.
pub const RUNS_CSV_HEADER: [&str; 35] = [
    "scheme",
    "cpus",
    "pmus",
    "seed",
    "stop_reason",
    "sim_end_ns",
    "events",
    "deadlocked",
    "deadlocks",
    "time_to_deadlock_ns",
    "violations",
    "stalls",
    "cpu_downs",
    "cpu_down_ns_p50",
    "cpu_down_ns_p99",
    "cpu_down_ns_max",
    "cpu_ups",
    "cpu_up_ns_p50",
    "cpu_up_ns_p99",
    "cpu_up_ns_max",
    "opens",
    "open_ns_p50",
    "open_ns_p99",
    "enodev",
    "pmis",
    "samples",
    "throttled_samples",
    "lost_samples",
    "wraps",
    "wraps_lost",
    "max_count_error_events",
    "mux_error_events_p50",
    "mux_error_events_p99",
    "mux_error_events_max",
    "ok",
];

/// A percentile of a histogram, 0 when it is empty (HdrHistogram's highest equivalent value).
pub fn quantile(h: &Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() { 0 } else { h.value_at_quantile(q) }
}

/// A histogram's largest value, 0 when it is empty.
pub fn max(h: &Histogram<u64>) -> u64 {
    if h.is_empty() { 0 } else { h.max() }
}

/// The `runs.csv` fields of one run, without the replay command.
pub fn run_fields(r: &RunResult) -> Vec<String> {
    let first_deadlock = r.deadlocks.first().map_or(String::new(), |d| d.time_ns.to_string());
    vec![
        r.scheme.clone(),
        r.cpus.to_string(),
        r.pmus.to_string(),
        r.seed.to_string(),
        r.stop_name().to_string(),
        r.end_ns.to_string(),
        r.events_processed.to_string(),
        r.deadlocked().to_string(),
        r.deadlocks.len().to_string(),
        first_deadlock,
        r.violations.len().to_string(),
        r.stalls.len().to_string(),
        r.cpu_down_ns.len().to_string(),
        quantile(&r.cpu_down_ns, 0.5).to_string(),
        quantile(&r.cpu_down_ns, 0.99).to_string(),
        max(&r.cpu_down_ns).to_string(),
        r.cpu_up_ns.len().to_string(),
        quantile(&r.cpu_up_ns, 0.5).to_string(),
        quantile(&r.cpu_up_ns, 0.99).to_string(),
        max(&r.cpu_up_ns).to_string(),
        r.opens_ok.to_string(),
        quantile(&r.open_ns, 0.5).to_string(),
        quantile(&r.open_ns, 0.99).to_string(),
        r.enodev.to_string(),
        r.pmu.as_ref().map_or(0, |p| p.pmis).to_string(),
        r.pmu.as_ref().map_or(0, |p| p.samples).to_string(),
        r.pmu.as_ref().map_or(0, |p| p.samples_throttled).to_string(),
        r.pmu.as_ref().map_or(0, |p| p.lost_samples).to_string(),
        r.pmu.as_ref().map_or(0, |p| p.wraps).to_string(),
        r.pmu.as_ref().map_or(0, |p| p.wraps_lost).to_string(),
        r.pmu.as_ref().map_or(0, |p| p.max_count_error_events).to_string(),
        r.pmu.as_ref().map_or(0, |p| quantile(&p.mux_error_events, 0.5)).to_string(),
        r.pmu.as_ref().map_or(0, |p| quantile(&p.mux_error_events, 0.99)).to_string(),
        r.pmu.as_ref().map_or(0, |p| max(&p.mux_error_events)).to_string(),
        r.ok().to_string(),
    ]
}

/// Writes the header, then one row per `(result, replay command)`.
pub fn write_runs_csv<W: Write>(out: W, rows: &[(&RunResult, String)]) -> Result<(), OutputError> {
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<&str> = RUNS_CSV_HEADER.to_vec();
    header.push("replay");
    w.write_record(&header).map_err(OutputError::csv)?;
    for (result, replay) in rows {
        let mut record = run_fields(result);
        record.push(replay.clone());
        w.write_record(&record).map_err(OutputError::csv)?;
    }
    w.flush().map_err(|e| OutputError::Io("runs.csv".into(), e))?;
    Ok(())
}

/// `deadlocks.txt`: every deadlock's report, stalls, violations and lock-order cycles.
pub fn deadlocks_text(rows: &[(&RunResult, String)]) -> String {
    let mut out = String::new();
    for (r, replay) in rows {
        for d in &r.deadlocks {
            out.push_str(&format!("# {} cpus={} seed={}\n# replay: {replay}\n", r.scheme, r.cpus, r.seed));
            out.push_str(&d.report());
            out.push('\n');
        }
        for s in &r.stalls {
            out.push_str(&format!("# {} seed={}: {}\n", r.scheme, r.seed, s.report()));
        }
        for v in &r.violations {
            out.push_str(&format!(
                "# {} seed={}: invariant {} violated at {} ns on cpu {} by {} at {}: {}\n",
                r.scheme, r.seed, v.invariant, v.time_ns, v.cpu, v.task, v.position, v.what
            ));
        }
    }
    if out.is_empty() {
        out.push_str("no deadlocks, stalls or invariant violations\n");
    }
    out
}
