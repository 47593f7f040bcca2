//! The lock_stat table (`/proc/lock_stat`'s columns) as text for the terminal and as `locks.csv`.

use std::io::Write;

use serde::Serialize;

use crate::option_columns::OptionColumns;
use crate::runs::quantile;
use crate::sim::lockstat::LockStat;
use crate::{OutputError, csv_rows};

/// One row: which scheme (or bench), with which options, and which lock class.
pub struct LockRow<'a> {
    pub scheme: &'a str,
    /// The options set besides scheme and CPUs (`kernel=4.15`), empty for none.
    pub variant: &'a str,
    pub cpus: u32,
    pub class: &'a str,
    pub stat: &'a LockStat,
}

/// One `locks.csv` row: lock_stat's columns in nanoseconds, plus histogram percentiles.
#[derive(Default, Serialize)]
struct LocksCsvRow<'a> {
    scheme: &'a str,
    variant: &'a str,
    cpus: u32,
    class: &'a str,
    contentions: u64,
    wait_ns_min: u64,
    wait_ns_max: u64,
    wait_ns_total: u64,
    /// One decimal.
    wait_ns_avg: String,
    bounces: u64,
    acquisitions: u64,
    hold_ns_min: u64,
    hold_ns_max: u64,
    hold_ns_total: u64,
    /// One decimal.
    hold_ns_avg: String,
    wait_ns_p50: u64,
    wait_ns_p99: u64,
    hold_ns_p50: u64,
    hold_ns_p99: u64,
    holds: u64,
}

impl<'a> LocksCsvRow<'a> {
    fn new(row: &LockRow<'a>) -> LocksCsvRow<'a> {
        let s = row.stat;
        LocksCsvRow {
            scheme: row.scheme,
            variant: row.variant,
            cpus: row.cpus,
            class: row.class,
            contentions: s.contentions,
            wait_ns_min: s.wait_ns_min_or_zero(),
            wait_ns_max: s.wait_ns_max,
            wait_ns_total: s.wait_ns_total,
            wait_ns_avg: format!("{:.1}", s.wait_ns_avg()),
            bounces: s.bounces,
            acquisitions: s.acquisitions,
            hold_ns_min: s.hold_ns_min_or_zero(),
            hold_ns_max: s.hold_ns_max,
            hold_ns_total: s.hold_ns_total,
            hold_ns_avg: format!("{:.1}", s.hold_ns_avg()),
            wait_ns_p50: quantile(&s.wait_ns, 0.5),
            wait_ns_p99: quantile(&s.wait_ns, 0.99),
            hold_ns_p50: quantile(&s.hold_ns, 0.5),
            hold_ns_p99: quantile(&s.hold_ns, 0.99),
            holds: s.holds,
        }
    }
}

/// `locks.csv`: one row per (scheme, variant, CPUs, class), each option its own column after `variant`.
pub fn write_locks_csv<W: Write>(out: W, rows: &[LockRow<'_>]) -> Result<(), OutputError> {
    let options = OptionColumns::of(rows.iter().map(|r| r.variant), &csv_rows::header::<LocksCsvRow>());
    crate::option_columns::write(out, "locks.csv", options, rows.iter().map(|r| (LocksCsvRow::new(r), r.variant)))
}

/// A terminal table in lock_stat's layout, times in microseconds.
pub fn render_table(rows: &[LockRow<'_>]) -> String {
    let us = |ns: f64| format!("{:.2}", ns / 1_000.0);
    let mut out = format!(
        "{:<28} {:>11} {:>12} {:>12} {:>14} {:>12} {:>8} {:>12} {:>12} {:>12} {:>14} {:>12}\n",
        "class",
        "contentions",
        "waittime-min",
        "waittime-max",
        "waittime-total",
        "waittime-avg",
        "bounces",
        "acquisitions",
        "holdtime-min",
        "holdtime-max",
        "holdtime-total",
        "holdtime-avg"
    );
    out.push_str(&"-".repeat(out.len() - 1));
    out.push('\n');
    for row in rows {
        let s = row.stat;
        let name = if row.scheme.is_empty() { row.class.to_string() } else { format!("{}:{}", row.scheme, row.class) };
        out.push_str(&format!(
            "{:<28} {:>11} {:>12} {:>12} {:>14} {:>12} {:>8} {:>12} {:>12} {:>12} {:>14} {:>12}\n",
            name,
            s.contentions,
            us(s.wait_ns_min_or_zero() as f64),
            us(s.wait_ns_max as f64),
            us(s.wait_ns_total as f64),
            us(s.wait_ns_avg()),
            s.bounces,
            s.acquisitions,
            us(s.hold_ns_min_or_zero() as f64),
            us(s.hold_ns_max as f64),
            us(s.hold_ns_total as f64),
            us(s.hold_ns_avg()),
        ));
    }
    out.push_str("(times in µs)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_the_documented_header_and_exact_values() {
        let mut stat = LockStat::default();
        stat.record_acquisition(false);
        stat.record_acquisition(true);
        stat.record_wait(1_500);
        stat.record_hold(100);
        stat.record_hold(300);
        let mut buf = Vec::new();
        write_locks_csv(
            &mut buf,
            &[LockRow { scheme: "legacy", variant: "kernel=4.15", cpus: 8, class: "pmus_lock", stat: &stat }],
        )
        .unwrap();
        let text = String::from_utf8(buf).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "scheme,variant,kernel,cpus,class,contentions,wait_ns_min,wait_ns_max,wait_ns_total,wait_ns_avg,bounces,acquisitions,\
             hold_ns_min,hold_ns_max,hold_ns_total,hold_ns_avg,wait_ns_p50,wait_ns_p99,hold_ns_p50,hold_ns_p99,holds"
        );
        assert_eq!(
            lines.next().unwrap(),
            "legacy,kernel=4.15,4.15,8,pmus_lock,1,1500,1500,1500,1500.0,1,2,100,300,400,200.0,1500,1500,100,300,2"
        );
    }
}
