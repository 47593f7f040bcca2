//! What a sweep keeps of its runs: one group per grid point (histograms, lock statistics, the
//! lock-order graph, counts), the `runs.csv` rows and every deadlock. Merging is exact and
//! independent of order, so shards merge into the same bytes an unsharded sweep writes.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::csv_rows;
use crate::runs::RunRow;
use crate::sim::lockdep::{EdgeSeen, LockOrder, OrderNode};
use crate::sim::locks::Mode;
use crate::sim::lockstat::{LockStat, new_histogram};
use crate::sim::script::Position;
use crate::workloads::run::{RunResult, variant_of};
use crate::workloads::schemes::CLASSES;

/// Histogram metrics every group keeps, besides per-class wait and hold times.
pub const RUN_METRICS: [&str; 6] =
    ["cpu_down_ns", "cpu_up_ns", "open_ns", "register_ns", "time_to_deadlock_ns", "deadlocks_per_run"];

/// One deadlock of one run, with what replays it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlockRecord {
    pub run: u64,
    pub label: String,
    pub cpus: u32,
    pub seed: u64,
    pub time_ns: u64,
    pub tasks: usize,
    pub signature: String,
    pub report: String,
    pub replay: String,
}

/// Histogram metric of runs with PMU load: |scaled − true| of multiplexed events, in events.
pub const MUX_ERROR_METRIC: &str = "mux_error_events";

/// PMU figures summed over a group's runs that carried PMU load.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PmuTotals {
    pub runs: u64,
    pub pmis: u64,
    pub samples: u64,
    pub samples_throttled: u64,
    pub throttles: u64,
    /// Largest folded-count error of any run (invariant 3 says 0).
    pub max_count_error_events: u64,
    /// Simulation events spent on PMU wakes.
    pub wakes: u64,
    pub lost_samples: u64,
    pub wraps: u64,
    pub wraps_lost: u64,
}

impl PmuTotals {
    fn add(&mut self, p: &PmuTotals) {
        self.runs += p.runs;
        self.pmis += p.pmis;
        self.samples += p.samples;
        self.samples_throttled += p.samples_throttled;
        self.throttles += p.throttles;
        self.max_count_error_events = self.max_count_error_events.max(p.max_count_error_events);
        self.wakes += p.wakes;
        self.lost_samples += p.lost_samples;
        self.wraps += p.wraps;
        self.wraps_lost += p.wraps_lost;
    }
}

/// A run that hit an internal bug (a panic) instead of finishing, with what replays it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub run: u64,
    pub label: String,
    pub cpus: u32,
    pub seed: u64,
    pub message: String,
    pub replay: String,
}

/// The aggregate of one grid point's runs.
#[derive(Clone, Debug)]
pub struct Group {
    pub point: u64,
    /// Scheme plus the swept options other than CPUs, e.g. `pmus-lock free_outside_ctx_mutex=true`.
    pub label: String,
    pub scheme: String,
    pub cpus: u32,
    pub runs: u64,
    /// Simulated time summed over the runs (each to its end), the denominator of rates.
    pub sim_ns: u64,
    pub deadlocked_runs: u64,
    pub deadlocks: u64,
    pub violations: u64,
    /// Opens that returned success with the event in no context (invariant 7), among `violations`.
    pub silently_failed_opens: u64,
    pub stalls: u64,
    pub opens: u64,
    pub enodev: u64,
    pub histograms: BTreeMap<String, Histogram<u64>>,
    pub locks: Vec<(String, LockStat)>,
    pub order: LockOrder,
    /// Present once a run with PMU load was folded in.
    pub pmu: Option<PmuTotals>,
}

impl Group {
    pub fn new(point: u64, label: String, scheme: String, cpus: u32) -> Group {
        Group {
            point,
            label,
            scheme,
            cpus,
            runs: 0,
            sim_ns: 0,
            deadlocked_runs: 0,
            deadlocks: 0,
            violations: 0,
            silently_failed_opens: 0,
            stalls: 0,
            opens: 0,
            enodev: 0,
            histograms: RUN_METRICS.iter().map(|m| (m.to_string(), new_histogram())).collect(),
            locks: CLASSES.iter().map(|(name, _, _)| (name.to_string(), LockStat::default())).collect(),
            order: LockOrder::default(),
            pmu: None,
        }
    }

    pub fn histogram(&self, metric: &str) -> &Histogram<u64> {
        &self.histograms[metric]
    }

    /// Folds one run in.
    pub fn add_run(&mut self, r: &RunResult) {
        self.runs += 1;
        self.sim_ns += r.end_ns;
        self.deadlocked_runs += r.deadlocked() as u64;
        self.deadlocks += r.deadlocks.len() as u64;
        self.violations += r.violations.len() as u64;
        self.silently_failed_opens += r.silently_failed_opens() as u64;
        self.stalls += r.stalls.len() as u64;
        self.opens += r.opens_ok;
        self.enodev += r.enodev;
        let add = |h: &mut Histogram<u64>, other: &Histogram<u64>| h.add(other).expect("auto-resizing histogram");
        add(self.histograms.get_mut("cpu_down_ns").expect("metric"), &r.cpu_down_ns);
        add(self.histograms.get_mut("cpu_up_ns").expect("metric"), &r.cpu_up_ns);
        add(self.histograms.get_mut("open_ns").expect("metric"), &r.open_ns);
        add(self.histograms.get_mut("register_ns").expect("metric"), &r.register_ns);
        if let Some(d) = r.deadlocks.first() {
            self.histograms.get_mut("time_to_deadlock_ns").expect("metric").record(d.time_ns).expect("auto-resizing");
        }
        self.histograms.get_mut("deadlocks_per_run").expect("metric").record(r.deadlocks.len() as u64).expect("auto");
        for ((name, stat), (run_name, run_stat)) in self.locks.iter_mut().zip(&r.locks) {
            debug_assert_eq!(name, run_name);
            stat.merge(run_stat);
        }
        self.order.merge(&r.lock_order);
        if let Some(p) = &r.pmu {
            let run = PmuTotals {
                runs: 1,
                pmis: p.pmis,
                samples: p.samples,
                samples_throttled: p.samples_throttled,
                throttles: p.throttles,
                max_count_error_events: p.max_count_error_events,
                wakes: p.wakes,
                lost_samples: p.lost_samples,
                wraps: p.wraps,
                wraps_lost: p.wraps_lost,
            };
            self.pmu.get_or_insert_with(PmuTotals::default).add(&run);
            add(self.histograms.entry(MUX_ERROR_METRIC.to_string()).or_insert_with(new_histogram), &p.mux_error_events);
        }
    }

    /// Folds another aggregate of the same grid point in (a shard's).
    pub fn merge(&mut self, other: &Group) {
        assert_eq!((self.point, &self.label, self.cpus), (other.point, &other.label, other.cpus), "same grid point");
        self.runs += other.runs;
        self.sim_ns += other.sim_ns;
        self.deadlocked_runs += other.deadlocked_runs;
        self.deadlocks += other.deadlocks;
        self.violations += other.violations;
        self.silently_failed_opens += other.silently_failed_opens;
        self.stalls += other.stalls;
        self.opens += other.opens;
        self.enodev += other.enodev;
        for (metric, h) in &other.histograms {
            self.histograms
                .entry(metric.clone())
                .or_insert_with(new_histogram)
                .add(h)
                .expect("auto-resizing histogram");
        }
        if let Some(p) = &other.pmu {
            self.pmu.get_or_insert_with(PmuTotals::default).add(p);
        }
        for ((_, stat), (_, theirs)) in self.locks.iter_mut().zip(&other.locks) {
            stat.merge(theirs);
        }
        self.order.merge(&other.order);
    }
}

/// Everything a sweep (or a shard of one) keeps.
#[derive(Clone, Debug, Default)]
pub struct SweepState {
    pub groups: Vec<Group>,
    /// `runs.csv` rows by run index.
    pub rows: BTreeMap<u64, RunRow>,
    pub deadlocks: Vec<DeadlockRecord>,
    /// Runs that panicked, by run index; their rows say `internal_error`.
    pub failures: Vec<FailureRecord>,
    /// Runs recorded so far, including rows a [`crate::run_log::RunLog`] already wrote out.
    pub recorded: u64,
    /// The first deadlock of each (scheme label, cycle kind), kept when `deadlocks` is drained.
    firsts: BTreeMap<(String, String), DeadlockRecord>,
}

impl SweepState {
    /// An aggregate of no runs yet over these groups.
    pub fn with_groups(groups: Vec<Group>) -> SweepState {
        SweepState { groups, ..SweepState::default() }
    }

    /// Folds in run `index` of grid point `point` (groups must already exist for every point).
    pub fn add_run(&mut self, index: u64, point: u64, r: &RunResult, replay: &str) {
        let group = &mut self.groups[point as usize];
        group.add_run(r);
        let label = group.label.clone();
        let row = RunRow {
            scheme: group.scheme.clone(),
            variant: variant_of(&label, &group.scheme).to_string(),
            ..RunRow::new(r, replay)
        };
        self.rows.insert(index, row);
        self.recorded += 1;
        for d in &r.deadlocks {
            self.push_deadlock(DeadlockRecord {
                run: index,
                label: label.clone(),
                cpus: r.cpus,
                seed: r.seed,
                time_ns: d.time_ns,
                tasks: d.members.len(),
                signature: d.signature(),
                report: d.report(),
                replay: replay.to_string(),
            });
        }
    }

    fn push_deadlock(&mut self, d: DeadlockRecord) {
        self.note_first(&d);
        self.deadlocks.push(d);
    }

    /// Keeps `d` as the first of its kind unless one at least as early is kept.
    fn note_first(&mut self, d: &DeadlockRecord) {
        let key = (d.label.clone(), cycle_kind(&d.signature));
        if self.firsts.get(&key).is_none_or(|f| (f.run, f.time_ns) > (d.run, d.time_ns)) {
            self.firsts.insert(key, d.clone());
        }
    }

    /// Records run `index` of grid point `point` as failed: a `runs.csv` row that says
    /// `internal_error` (not `ok`), and a failure record; the group's figures are left alone.
    pub fn add_failure(&mut self, index: u64, point: u64, seed: u64, message: String, replay: &str) {
        let group = &self.groups[point as usize];
        let variant = variant_of(&group.label, &group.scheme);
        self.rows.insert(index, RunRow::failed(&group.scheme, variant, group.cpus, seed, replay));
        self.recorded += 1;
        self.failures.push(FailureRecord {
            run: index,
            label: group.label.clone(),
            cpus: group.cpus,
            seed,
            message,
            replay: replay.to_string(),
        });
    }

    /// Folds in another state of the same sweep (a shard's); order does not matter.
    pub fn merge(&mut self, other: &SweepState) {
        for (mine, theirs) in self.groups.iter_mut().zip(&other.groups) {
            mine.merge(theirs);
        }
        for (index, row) in &other.rows {
            self.rows.insert(*index, row.clone());
        }
        self.recorded += other.recorded;
        for d in &other.deadlocks {
            self.push_deadlock(d.clone());
        }
        for d in other.firsts.values() {
            self.note_first(d);
        }
        self.deadlocks.sort_by_key(|d| (d.run, d.time_ns));
        self.deadlocks.dedup();
        self.failures.extend(other.failures.iter().cloned());
        self.failures.sort_by_key(|f| f.run);
        self.failures.dedup();
    }

    /// The first deadlock of each cycle kind (its classes and modes, positions aside), by run
    /// index, per scheme label.
    pub fn first_of_each_kind(&self) -> Vec<&DeadlockRecord> {
        let mut firsts: Vec<&DeadlockRecord> = self.firsts.values().collect();
        firsts.sort_by_key(|d| (d.run, d.time_ns));
        firsts
    }

    /// Removes and returns the rows and deadlocks of runs before `index`, in run order, for a
    /// [`crate::run_log::RunLog`] to write out.
    pub fn take_records_before(&mut self, index: u64) -> (Vec<(u64, RunRow)>, Vec<DeadlockRecord>) {
        let later = self.rows.split_off(&index);
        let rows = std::mem::replace(&mut self.rows, later).into_iter().collect();
        self.deadlocks.sort_by_key(|d| (d.run, d.time_ns));
        let split = self.deadlocks.partition_point(|d| d.run < index);
        let later = self.deadlocks.split_off(split);
        (rows, std::mem::replace(&mut self.deadlocks, later))
    }
}

/// A cycle's kind: its signature without script positions, rotated to start at the smallest.
pub fn cycle_kind(signature: &str) -> String {
    let parts: Vec<&str> = signature.split(" -> ").map(|p| p.split('@').next().unwrap_or(p)).collect();
    let start = (0..parts.len()).min_by_key(|&i| parts[i]).unwrap_or(0);
    parts[start..].iter().chain(&parts[..start]).copied().collect::<Vec<_>>().join(" -> ")
}

/// One element of `state.json`'s `rows`: the run index and the text of the row's fields.
pub fn row_json(index: u64, row: &RunRow) -> String {
    serde_json::to_string(&(index, csv_rows::fields(row))).expect("row serialises")
}

/// One element of `state.json`'s `deadlocks`.
pub fn deadlock_json(d: &DeadlockRecord) -> String {
    serde_json::to_string(d).expect("deadlock serialises")
}

/// `state.json` from its parts (each array's elements already joined by commas), byte for byte
/// what serialising [`StateFile`] writes, so it can be assembled from streamed records.
pub fn state_json(groups: &str, rows: &str, deadlocks: &str, failures: &[FailureRecord]) -> String {
    let failures = if failures.is_empty() {
        String::new()
    } else {
        format!(",\"failures\":{}", serde_json::to_string(failures).expect("failures serialise"))
    };
    format!("{{\"groups\":{groups},\"rows\":[{rows}],\"deadlocks\":[{deadlocks}]{failures}}}\n")
}

/// `state.json`: a sweep's aggregate in a form shards are merged from.
#[derive(Serialize, Deserialize)]
struct StateFile {
    groups: Vec<GroupFile>,
    rows: Vec<(u64, Vec<String>)>,
    deadlocks: Vec<DeadlockRecord>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    failures: Vec<FailureRecord>,
}

#[derive(Serialize, Deserialize)]
struct GroupFile {
    point: u64,
    label: String,
    scheme: String,
    cpus: u32,
    runs: u64,
    #[serde(default)]
    sim_ns: u64,
    deadlocked_runs: u64,
    deadlocks: u64,
    violations: u64,
    #[serde(default)]
    silently_failed_opens: u64,
    stalls: u64,
    opens: u64,
    enodev: u64,
    /// Per metric, `(highest equivalent value, count)` of each recorded bucket: exact.
    histograms: BTreeMap<String, Vec<(u64, u64)>>,
    locks: Vec<LockFile>,
    order: Vec<EdgeFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pmu: Option<PmuTotals>,
}

#[derive(Serialize, Deserialize)]
struct LockFile {
    class: String,
    contentions: u64,
    acquisitions: u64,
    bounces: u64,
    wait_ns_min: u64,
    wait_ns_max: u64,
    wait_ns_total: u64,
    hold_ns_min: u64,
    hold_ns_max: u64,
    hold_ns_total: u64,
    holds: u64,
    wait_ns: Vec<(u64, u64)>,
    hold_ns: Vec<(u64, u64)>,
}

#[derive(Serialize, Deserialize)]
struct EdgeFile {
    from: (u16, u8, bool),
    to: (u16, u8, bool),
    run: u64,
    time_ns: u64,
    task: String,
    held_at: (u16, u16),
    acquired_at: (u16, u16),
    count: u64,
}

fn buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    h.iter_recorded().map(|v| (v.value_iterated_to(), v.count_at_value())).collect()
}

fn histogram(buckets: &[(u64, u64)]) -> Histogram<u64> {
    let mut h = new_histogram();
    for &(value, count) in buckets {
        h.record_n(value, count).expect("auto-resizing histogram");
    }
    h
}

fn node(n: &OrderNode) -> (u16, u8, bool) {
    (n.class, n.subclass, n.mode == Mode::Write)
}

fn order_node((class, subclass, write): (u16, u8, bool)) -> OrderNode {
    OrderNode { class, subclass, mode: if write { Mode::Write } else { Mode::Read } }
}

impl SweepState {
    /// The aggregate as `state.json` holds it (histograms by bucket), with the records it still
    /// holds, the first deadlocks and the run count kept.
    pub fn normalized(&self) -> Result<SweepState, String> {
        let mut state = SweepState::from_json(&self.to_json())?;
        state.firsts = self.firsts.clone();
        state.recorded = self.recorded;
        Ok(state)
    }

    /// `state.json`: groups, rows, deadlocks (and failures, if any), compact.
    pub fn to_json(&self) -> String {
        let rows: Vec<String> = self.rows.iter().map(|(i, r)| row_json(*i, r)).collect();
        let deadlocks: Vec<String> = self.deadlocks.iter().map(deadlock_json).collect();
        state_json(&self.groups_json(), &rows.join(","), &deadlocks.join(","), &self.failures)
    }

    /// The `groups` array of `state.json`.
    pub fn groups_json(&self) -> String {
        let groups: Vec<GroupFile> = self
            .groups
            .iter()
            .map(|g| GroupFile {
                point: g.point,
                label: g.label.clone(),
                scheme: g.scheme.clone(),
                cpus: g.cpus,
                runs: g.runs,
                sim_ns: g.sim_ns,
                deadlocked_runs: g.deadlocked_runs,
                deadlocks: g.deadlocks,
                violations: g.violations,
                silently_failed_opens: g.silently_failed_opens,
                stalls: g.stalls,
                opens: g.opens,
                enodev: g.enodev,
                histograms: g.histograms.iter().map(|(m, h)| (m.clone(), buckets(h))).collect(),
                locks: g
                    .locks
                    .iter()
                    .map(|(class, s)| LockFile {
                        class: class.clone(),
                        contentions: s.contentions,
                        acquisitions: s.acquisitions,
                        bounces: s.bounces,
                        wait_ns_min: s.wait_ns_min,
                        wait_ns_max: s.wait_ns_max,
                        wait_ns_total: s.wait_ns_total,
                        hold_ns_min: s.hold_ns_min,
                        hold_ns_max: s.hold_ns_max,
                        hold_ns_total: s.hold_ns_total,
                        holds: s.holds,
                        wait_ns: buckets(&s.wait_ns),
                        hold_ns: buckets(&s.hold_ns),
                    })
                    .collect(),
                order: g
                    .order
                    .edges()
                    .map(|(a, b, seen)| EdgeFile {
                        from: node(a),
                        to: node(b),
                        run: seen.run,
                        time_ns: seen.time_ns,
                        task: seen.task.clone(),
                        held_at: (seen.held_at.script, seen.held_at.step),
                        acquired_at: (seen.acquired_at.script, seen.acquired_at.step),
                        count: seen.count,
                    })
                    .collect(),
                pmu: g.pmu.clone(),
            })
            .collect();
        serde_json::to_string(&groups).expect("groups serialise")
    }

    pub fn from_json(text: &str) -> Result<SweepState, String> {
        let file: StateFile = serde_json::from_str(text).map_err(|e| format!("state.json: {e}"))?;
        let groups = file
            .groups
            .into_iter()
            .map(|g| Group {
                point: g.point,
                label: g.label,
                scheme: g.scheme,
                cpus: g.cpus,
                runs: g.runs,
                sim_ns: g.sim_ns,
                deadlocked_runs: g.deadlocked_runs,
                deadlocks: g.deadlocks,
                violations: g.violations,
                silently_failed_opens: g.silently_failed_opens,
                stalls: g.stalls,
                opens: g.opens,
                enodev: g.enodev,
                histograms: g.histograms.iter().map(|(m, b)| (m.clone(), histogram(b))).collect(),
                locks: g
                    .locks
                    .into_iter()
                    .map(|l| {
                        let stat = LockStat {
                            contentions: l.contentions,
                            acquisitions: l.acquisitions,
                            bounces: l.bounces,
                            wait_ns_min: l.wait_ns_min,
                            wait_ns_max: l.wait_ns_max,
                            wait_ns_total: l.wait_ns_total,
                            hold_ns_min: l.hold_ns_min,
                            hold_ns_max: l.hold_ns_max,
                            hold_ns_total: l.hold_ns_total,
                            holds: l.holds,
                            wait_ns: histogram(&l.wait_ns),
                            hold_ns: histogram(&l.hold_ns),
                        };
                        (l.class, stat)
                    })
                    .collect(),
                order: {
                    let mut order = LockOrder::default();
                    for e in g.order {
                        let seen = EdgeSeen {
                            run: e.run,
                            time_ns: e.time_ns,
                            task: e.task,
                            held_at: Position { script: e.held_at.0, step: e.held_at.1 },
                            acquired_at: Position { script: e.acquired_at.0, step: e.acquired_at.1 },
                            count: e.count,
                        };
                        order.insert(order_node(e.from), order_node(e.to), seen);
                    }
                    order
                },
                pmu: g.pmu,
            })
            .collect();
        let recorded = file.rows.len() as u64;
        let rows = file
            .rows
            .into_iter()
            .map(|(index, fields)| {
                Ok((index, csv_rows::from_fields(&fields).map_err(|e| format!("state.json: row {index}: {e}"))?))
            })
            .collect::<Result<BTreeMap<u64, RunRow>, String>>()?;
        let mut state = SweepState { groups, recorded, rows, failures: file.failures, ..SweepState::default() };
        for d in file.deadlocks {
            state.push_deadlock(d);
        }
        Ok(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembled_state_json_is_byte_for_byte_the_serialised_state_file() {
        let mut state = crate::run_log::tests::records();
        for failures in [vec![], vec![FailureRecord { message: "a \"b\"\n".into(), ..FailureRecord::default() }]] {
            state.failures = failures;
            let file = StateFile {
                groups: Vec::new(),
                rows: state.rows.iter().map(|(i, r)| (*i, csv_rows::fields(r))).collect(),
                deadlocks: state.deadlocks.clone(),
                failures: state.failures.clone(),
            };
            assert_eq!(state.to_json(), serde_json::to_string(&file).unwrap() + "\n");
        }
    }
}
