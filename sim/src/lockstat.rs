//! Per-class lock statistics with `/proc/lock_stat`'s columns, plus wait and hold histograms.

use hdrhistogram::Histogram;

/// Significant figures kept by every histogram (HdrHistogram's precision parameter).
pub const HISTOGRAM_SIGFIG: u8 = 3;

/// A histogram of nanosecond values, auto-resizing, exact to [`HISTOGRAM_SIGFIG`] digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new(HISTOGRAM_SIGFIG).expect("valid significant figures")
}

/// lock_stat's row for one lock class.
#[derive(Clone, Debug)]
pub struct LockStat {
    /// Acquisitions that had to wait.
    pub contentions: u64,
    pub acquisitions: u64,
    /// Acquisitions on a CPU other than the previous acquirer's (the lock's cache line moved).
    pub bounces: u64,
    pub wait_ns_min: u64,
    pub wait_ns_max: u64,
    pub wait_ns_total: u64,
    pub hold_ns_min: u64,
    pub hold_ns_max: u64,
    pub hold_ns_total: u64,
    pub holds: u64,
    /// Wait time of contended acquisitions.
    pub wait_ns: Histogram<u64>,
    pub hold_ns: Histogram<u64>,
}

impl Default for LockStat {
    fn default() -> Self {
        LockStat {
            contentions: 0,
            acquisitions: 0,
            bounces: 0,
            wait_ns_min: u64::MAX,
            wait_ns_max: 0,
            wait_ns_total: 0,
            hold_ns_min: u64::MAX,
            hold_ns_max: 0,
            hold_ns_total: 0,
            holds: 0,
            wait_ns: new_histogram(),
            hold_ns: new_histogram(),
        }
    }
}

impl LockStat {
    pub fn record_acquisition(&mut self, bounced: bool) {
        self.acquisitions += 1;
        self.bounces += bounced as u64;
    }

    pub fn record_wait(&mut self, wait_ns: u64) {
        self.record_waits(wait_ns, 1);
    }

    /// `n` contended acquisitions that each waited `wait_ns`.
    pub fn record_waits(&mut self, wait_ns: u64, n: u64) {
        self.contentions += n;
        self.wait_ns_min = self.wait_ns_min.min(wait_ns);
        self.wait_ns_max = self.wait_ns_max.max(wait_ns);
        self.wait_ns_total += wait_ns * n;
        self.wait_ns.record_n(wait_ns, n).expect("auto-resizing histogram");
    }

    pub fn record_hold(&mut self, hold_ns: u64) {
        self.record_holds(hold_ns, 1);
    }

    /// `n` holds of `hold_ns` each.
    pub fn record_holds(&mut self, hold_ns: u64, n: u64) {
        self.holds += n;
        self.hold_ns_min = self.hold_ns_min.min(hold_ns);
        self.hold_ns_max = self.hold_ns_max.max(hold_ns);
        self.hold_ns_total += hold_ns * n;
        self.hold_ns.record_n(hold_ns, n).expect("auto-resizing histogram");
    }

    /// Mean wait of contended acquisitions, 0 if none.
    pub fn wait_ns_avg(&self) -> f64 {
        if self.contentions == 0 { 0.0 } else { self.wait_ns_total as f64 / self.contentions as f64 }
    }

    pub fn hold_ns_avg(&self) -> f64 {
        if self.holds == 0 { 0.0 } else { self.hold_ns_total as f64 / self.holds as f64 }
    }

    /// `wait_ns_min`, or 0 when nothing waited (lock_stat prints 0.00 there).
    pub fn wait_ns_min_or_zero(&self) -> u64 {
        if self.contentions == 0 { 0 } else { self.wait_ns_min }
    }

    pub fn hold_ns_min_or_zero(&self) -> u64 {
        if self.holds == 0 { 0 } else { self.hold_ns_min }
    }

    /// Adds another run's statistics of the same class (histograms merge exactly).
    pub fn merge(&mut self, other: &LockStat) {
        self.contentions += other.contentions;
        self.acquisitions += other.acquisitions;
        self.bounces += other.bounces;
        self.wait_ns_min = self.wait_ns_min.min(other.wait_ns_min);
        self.wait_ns_max = self.wait_ns_max.max(other.wait_ns_max);
        self.wait_ns_total += other.wait_ns_total;
        self.hold_ns_min = self.hold_ns_min.min(other.hold_ns_min);
        self.hold_ns_max = self.hold_ns_max.max(other.hold_ns_max);
        self.hold_ns_total += other.hold_ns_total;
        self.holds += other.holds;
        self.wait_ns.add(&other.wait_ns).expect("auto-resizing histogram");
        self.hold_ns.add(&other.hold_ns).expect("auto-resizing histogram");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_keeps_extremes() {
        let mut a = LockStat::default();
        a.record_acquisition(false);
        a.record_wait(10);
        a.record_hold(100);
        let mut b = LockStat::default();
        b.record_acquisition(true);
        b.record_wait(30);
        b.record_hold(50);
        a.merge(&b);
        assert_eq!((a.acquisitions, a.bounces, a.contentions), (2, 1, 2));
        assert_eq!((a.wait_ns_min, a.wait_ns_max, a.wait_ns_total), (10, 30, 40));
        assert_eq!((a.hold_ns_min, a.hold_ns_max, a.hold_ns_total), (50, 100, 150));
        assert_eq!(a.wait_ns.len(), 2);
        assert_eq!(a.wait_ns_avg(), 20.0);
    }
}
