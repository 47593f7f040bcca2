//! The lock_stat table (`/proc/lock_stat`'s columns) as text for the terminal and as `locks.csv`.

use std::io::Write;

use crate::sim::lockstat::LockStat;

use crate::OutputError;
use crate::runs::quantile;

/// `locks.csv` columns: lock_stat's, in nanoseconds, plus histogram percentiles.
pub const LOCKS_CSV_HEADER: [&str; 19] = [
    "scheme",
    "cpus",
    "class",
    "contentions",
    "wait_ns_min",
    "wait_ns_max",
    "wait_ns_total",
    "wait_ns_avg",
    "bounces",
    "acquisitions",
    "hold_ns_min",
    "hold_ns_max",
    "hold_ns_total",
    "hold_ns_avg",
    "wait_ns_p50",
    "wait_ns_p99",
    "hold_ns_p50",
    "hold_ns_p99",
    "holds",
];

/// One row: which scheme (or bench) and which lock class.
pub struct LockRow<'a> {
    pub scheme: &'a str,
    pub cpus: u32,
    pub class: &'a str,
    pub stat: &'a LockStat,
}

fn fields(row: &LockRow<'_>) -> Vec<String> {
    let s = row.stat;
    vec![
        row.scheme.to_string(),
        row.cpus.to_string(),
        row.class.to_string(),
        s.contentions.to_string(),
        s.wait_ns_min_or_zero().to_string(),
        s.wait_ns_max.to_string(),
        s.wait_ns_total.to_string(),
        format!("{:.1}", s.wait_ns_avg()),
        s.bounces.to_string(),
        s.acquisitions.to_string(),
        s.hold_ns_min_or_zero().to_string(),
        s.hold_ns_max.to_string(),
        s.hold_ns_total.to_string(),
        format!("{:.1}", s.hold_ns_avg()),
        quantile(&s.wait_ns, 0.5).to_string(),
        quantile(&s.wait_ns, 0.99).to_string(),
        quantile(&s.hold_ns, 0.5).to_string(),
        quantile(&s.hold_ns, 0.99).to_string(),
        s.holds.to_string(),
    ]
}

pub fn write_locks_csv<W: Write>(out: W, rows: &[LockRow<'_>]) -> Result<(), OutputError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(LOCKS_CSV_HEADER).map_err(OutputError::csv)?;
    for row in rows {
        w.write_record(fields(row)).map_err(OutputError::csv)?;
    }
    w.flush().map_err(|e| OutputError::Io("locks.csv".into(), e))?;
    Ok(())
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
        write_locks_csv(&mut buf, &[LockRow { scheme: "legacy", cpus: 8, class: "pmus_lock", stat: &stat }]).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), LOCKS_CSV_HEADER.join(","));
        assert_eq!(
            lines.next().unwrap(),
            "legacy,8,pmus_lock,1,1500,1500,1500,1500.0,1,2,100,300,400,200.0,1500,1500,100,300,2"
        );
    }
}
