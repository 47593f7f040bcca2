//! `runs.csv`: one row per run, with the command that replays it.

use std::io::Write;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::option_columns::{OptionColumns, OptionCsv};
use crate::workloads::run::RunResult;
use crate::{OutputError, csv_rows};

/// A percentile of a histogram, 0 when it is empty (HdrHistogram's highest equivalent value).
pub fn quantile(h: &Histogram<u64>, q: f64) -> u64 {
    if h.is_empty() { 0 } else { h.value_at_quantile(q) }
}

/// A histogram's largest value, 0 when it is empty.
pub fn max(h: &Histogram<u64>) -> u64 {
    if h.is_empty() { 0 } else { h.max() }
}

/// One `runs.csv` row, times in nanoseconds. A run that failed (see [`RunRow::failed`]) leaves
/// its figures, the `Option`s, empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRow {
    /// The scheme's name alone; the options set are `variant`.
    pub scheme: String,
    /// The options set besides scheme and CPUs, as `key=value` words (`kernel=4.15`).
    pub variant: String,
    pub cpus: u32,
    pub pmus: Option<u32>,
    pub seed: u64,
    pub stop_reason: String,
    pub sim_end_ns: Option<u64>,
    pub events: Option<u64>,
    pub deadlocked: Option<bool>,
    pub deadlocks: Option<usize>,
    /// Empty without a deadlock.
    pub time_to_deadlock_ns: Option<u64>,
    pub violations: Option<usize>,
    /// Opens that returned success with the event in no context (invariant 7), among `violations`.
    pub silently_failed_opens: Option<usize>,
    pub stalls: Option<usize>,
    pub cpu_downs: Option<u64>,
    pub cpu_down_ns_p50: Option<u64>,
    pub cpu_down_ns_p99: Option<u64>,
    pub cpu_down_ns_max: Option<u64>,
    pub cpu_ups: Option<u64>,
    pub cpu_up_ns_p50: Option<u64>,
    pub cpu_up_ns_p99: Option<u64>,
    pub cpu_up_ns_max: Option<u64>,
    pub opens: Option<u64>,
    pub open_ns_p50: Option<u64>,
    pub open_ns_p99: Option<u64>,
    pub enodev: Option<u64>,
    /// Events perf's hotplug exit detached; their fds stay open and count nothing.
    pub events_removed_by_hotplug: Option<u64>,
    /// `perf_pmu_register` calls that returned, and their latency.
    pub registers: Option<u64>,
    pub register_ns_p50: Option<u64>,
    pub register_ns_p99: Option<u64>,
    /// Acquisitions of `pmus_lock` and how long they held it, whoever took it.
    pub pmus_lock_holds: Option<u64>,
    pub pmus_lock_hold_ns_p50: Option<u64>,
    pub pmus_lock_hold_ns_p99: Option<u64>,
    /// PMU columns are 0 without PMU load.
    pub pmis: Option<u64>,
    pub samples: Option<u64>,
    pub throttled_samples: Option<u64>,
    pub lost_samples: Option<u64>,
    pub wraps: Option<u64>,
    pub wraps_lost: Option<u64>,
    pub max_count_error_events: Option<u64>,
    pub mux_error_events_p50: Option<u64>,
    pub mux_error_events_p99: Option<u64>,
    pub mux_error_events_max: Option<u64>,
    pub ok: bool,
    pub replay: String,
}

impl RunRow {
    /// The row of a finished run, with the command that replays it.
    pub fn new(r: &RunResult, replay: &str) -> RunRow {
        let pmu = r.pmu.as_ref();
        let pmus_lock = r.locks.iter().find(|(class, _)| class == "pmus_lock").map(|(_, s)| s);
        let name = r.scheme.strip_suffix(&r.variant).unwrap_or(&r.scheme).trim_end();
        RunRow {
            scheme: name.to_string(),
            variant: r.variant.clone(),
            cpus: r.cpus,
            pmus: Some(r.pmus),
            seed: r.seed,
            stop_reason: r.stop_name().to_string(),
            sim_end_ns: Some(r.end_ns),
            events: Some(r.events_processed),
            deadlocked: Some(r.deadlocked()),
            deadlocks: Some(r.deadlocks.len()),
            time_to_deadlock_ns: r.deadlocks.first().map(|d| d.time_ns),
            violations: Some(r.violations.len()),
            silently_failed_opens: Some(r.silently_failed_opens()),
            stalls: Some(r.stalls.len()),
            cpu_downs: Some(r.cpu_down_ns.len()),
            cpu_down_ns_p50: Some(quantile(&r.cpu_down_ns, 0.5)),
            cpu_down_ns_p99: Some(quantile(&r.cpu_down_ns, 0.99)),
            cpu_down_ns_max: Some(max(&r.cpu_down_ns)),
            cpu_ups: Some(r.cpu_up_ns.len()),
            cpu_up_ns_p50: Some(quantile(&r.cpu_up_ns, 0.5)),
            cpu_up_ns_p99: Some(quantile(&r.cpu_up_ns, 0.99)),
            cpu_up_ns_max: Some(max(&r.cpu_up_ns)),
            opens: Some(r.opens_ok),
            open_ns_p50: Some(quantile(&r.open_ns, 0.5)),
            open_ns_p99: Some(quantile(&r.open_ns, 0.99)),
            enodev: Some(r.enodev),
            events_removed_by_hotplug: Some(r.events_removed_by_hotplug),
            registers: Some(r.register_ns.len()),
            register_ns_p50: Some(quantile(&r.register_ns, 0.5)),
            register_ns_p99: Some(quantile(&r.register_ns, 0.99)),
            pmus_lock_holds: Some(pmus_lock.map_or(0, |s| s.holds)),
            pmus_lock_hold_ns_p50: Some(pmus_lock.map_or(0, |s| quantile(&s.hold_ns, 0.5))),
            pmus_lock_hold_ns_p99: Some(pmus_lock.map_or(0, |s| quantile(&s.hold_ns, 0.99))),
            pmis: Some(pmu.map_or(0, |p| p.pmis)),
            samples: Some(pmu.map_or(0, |p| p.samples)),
            throttled_samples: Some(pmu.map_or(0, |p| p.samples_throttled)),
            lost_samples: Some(pmu.map_or(0, |p| p.lost_samples)),
            wraps: Some(pmu.map_or(0, |p| p.wraps)),
            wraps_lost: Some(pmu.map_or(0, |p| p.wraps_lost)),
            max_count_error_events: Some(pmu.map_or(0, |p| p.max_count_error_events)),
            mux_error_events_p50: Some(pmu.map_or(0, |p| quantile(&p.mux_error_events, 0.5))),
            mux_error_events_p99: Some(pmu.map_or(0, |p| quantile(&p.mux_error_events, 0.99))),
            mux_error_events_max: Some(pmu.map_or(0, |p| max(&p.mux_error_events))),
            ok: r.ok(),
            replay: replay.to_string(),
        }
    }

    /// The row of a run that hit an internal bug (a panic): `internal_error`, not `ok`, no figures.
    pub fn failed(scheme: &str, variant: &str, cpus: u32, seed: u64, replay: &str) -> RunRow {
        RunRow {
            scheme: scheme.to_string(),
            variant: variant.to_string(),
            cpus,
            seed,
            stop_reason: "internal_error".to_string(),
            ok: false,
            replay: replay.to_string(),
            ..RunRow::default()
        }
    }
}

/// Writes the header, then one row per `(result, replay command)`.
/// Each option of the runs' variants has a column of its own after `variant`.
pub fn write_runs_csv<W: Write>(out: W, rows: &[(&RunResult, String)]) -> Result<(), OutputError> {
    let options = OptionColumns::of(rows.iter().map(|(r, _)| r.variant.as_str()), &csv_rows::header::<RunRow>());
    let mut csv = OptionCsv::create::<RunRow>(out, options)?;
    for (result, replay) in rows {
        csv.row(&RunRow::new(result, replay), &result.variant)?;
    }
    csv.flush().map_err(|e| OutputError::Io("runs.csv".into(), e))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_writes_the_documented_columns_and_only_its_identity() {
        let row = RunRow::failed("legacy", "x=1", 16, 2, "cpuhpsim run --seed 2");
        let mut buf = Vec::new();
        csv_rows::write(&mut buf, "runs.csv", [row.clone()]).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let (header, record) = text.split_once('\n').unwrap();
        assert_eq!(
            header,
            "scheme,variant,cpus,pmus,seed,stop_reason,sim_end_ns,events,deadlocked,deadlocks,time_to_deadlock_ns,violations,\
             silently_failed_opens,stalls,cpu_downs,cpu_down_ns_p50,cpu_down_ns_p99,cpu_down_ns_max,cpu_ups,\
             cpu_up_ns_p50,cpu_up_ns_p99,cpu_up_ns_max,opens,open_ns_p50,open_ns_p99,enodev,events_removed_by_hotplug,\
             registers,register_ns_p50,register_ns_p99,pmus_lock_holds,pmus_lock_hold_ns_p50,pmus_lock_hold_ns_p99,\
             pmis,samples,throttled_samples,lost_samples,wraps,\
             wraps_lost,max_count_error_events,mux_error_events_p50,mux_error_events_p99,mux_error_events_max,ok,replay"
        );
        assert_eq!(record, format!("legacy,x=1,16,,2,internal_error,{}false,cpuhpsim run --seed 2\n", ",".repeat(37)));
        assert_eq!(csv_rows::from_fields::<RunRow>(&csv_rows::fields(&row)).unwrap(), row, "as state.json keeps it");
    }
}
