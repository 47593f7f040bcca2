//! The files of a sweep directory rendered from its aggregate alone (so shards merged write the
//! same bytes as the whole sweep): `locks.csv`, `histograms.csv`, `.hgrm`s, lock-order text,
//! plots, report. The per-run records are streamed by [`crate::run_log`].

use std::fmt::Write as _;

use crate::OutputError;
use crate::aggregate::SweepState;
use crate::histograms::{HistogramRow, hgrm, metric_unit, write_histograms_csv};
use crate::lock_stat::{LockRow, write_locks_csv};
use crate::output_dir::StagedDir;
use crate::sim::lockdep::ReportNames;
use crate::sim::script::{ClassId, Position};
use crate::workloads::run::variant_of;
use crate::workloads::schemes::CLASSES;

/// `.hgrm` values are written in microseconds (counts for `deadlocks_per_run` and `mux_error_events`).
pub const HGRM_UNIT_NS: f64 = 1_000.0;

/// The nanoseconds per `.hgrm` value of `metric`: [`HGRM_UNIT_NS`] for times, 1 for counts.
fn hgrm_unit(metric: &str) -> f64 {
    if metric_unit(metric) == "ns" { HGRM_UNIT_NS } else { 1.0 }
}

fn hgrm_name(row: &HistogramRow<'_>, label: &str) -> String {
    crate::histograms::hgrm_name(row.metric, row.class, label, row.cpus)
}

/// Writes every file rendered from the aggregate.
pub fn write_all(staged: &StagedDir, state: &SweepState, planned: u64) -> Result<(), OutputError> {
    let locks: Vec<LockRow<'_>> = state
        .groups
        .iter()
        .flat_map(|g| {
            let variant = variant_of(&g.label, &g.scheme);
            g.locks.iter().map(move |(class, stat)| LockRow { scheme: &g.scheme, variant, cpus: g.cpus, class, stat })
        })
        .collect();
    write_locks_csv(staged.file("locks.csv")?, &locks)?;
    let labelled: Vec<(HistogramRow<'_>, &str)> = state
        .groups
        .iter()
        .flat_map(|g| {
            let variant = variant_of(&g.label, &g.scheme);
            let row = move |metric, class, histogram| {
                (HistogramRow { metric, class, scheme: &g.scheme, variant, cpus: g.cpus, histogram }, g.label.as_str())
            };
            let runs = g.histograms.iter().map(move |(m, h)| row(m.as_str(), "", h));
            let locks = g
                .locks
                .iter()
                .filter(|(_, s)| s.acquisitions > 0)
                .flat_map(move |(class, s)| [row("wait_ns", class, &s.wait_ns), row("hold_ns", class, &s.hold_ns)]);
            runs.chain(locks)
        })
        .collect();
    let rows: Vec<HistogramRow<'_>> = labelled.iter().map(|(row, _)| *row).collect();
    write_histograms_csv(staged.file("histograms.csv")?, &rows)?;
    std::fs::create_dir_all(staged.path().join("hgrm")).map_err(|e| OutputError::Io(staged.path().join("hgrm"), e))?;
    for (row, label) in &labelled {
        staged.write(&format!("hgrm/{}", hgrm_name(row, label)), hgrm(row.histogram, hgrm_unit(row.metric)))?;
    }
    staged.write("lock_order.txt", lock_order_text(state))?;
    crate::report::write(staged, state, planned)?;
    Ok(())
}

fn lock_order_text(state: &SweepState) -> String {
    let mut out = String::new();
    for g in &state.groups {
        let cycles = g.order.cycles(|c| CLASSES[c as usize].1);
        let _ = writeln!(
            out,
            "## {} on {} CPUs: {} possible deadlock(s) in {} runs",
            g.label,
            g.cpus,
            cycles.len(),
            g.runs
        );
        // Seeds are in runs.csv by run index; a sweep's state may no longer hold every row.
        let class = |id: ClassId| CLASSES[id as usize].0.to_string();
        let position = |p: Position| format!("script {}+{}", p.script, p.step);
        let names = ReportNames { class: &class, position: &position, seed: &|_| None };
        for c in &cycles {
            out.push_str(&c.report(&names));
        }
        out.push('\n');
    }
    out
}
