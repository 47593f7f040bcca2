//! The invariants the model checks while it runs (docs/model.md §6.1), the violations a run records,
//! and the checks made at a script's bookkeeping marks.

use std::fmt;

use super::{Kernel, Track};

/// A violation's instant in the trace: `silent` for an open that failed silently (invariant 7),
/// which a user looks for on its own; `violation` for the others.
fn trace_category(invariant: Invariant) -> &'static str {
    if invariant == Invariant::NoSilentlyFailedOpen { "silent" } else { "violation" }
}
use crate::locks::TaskId;
use crate::script::{Mark, Position};

/// An invariant of perf and CPU hotplug that the model checks continuously. Reports name each
/// by its number ([`number`](Self::number), also its `Display`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invariant {
    /// 1: no event is programmed on a CPU outside its perf init..exit: none installed before
    /// perf init started, none left once perf exit finished.
    EventsOnlyBetweenPerfInitAndExit,
    /// 2: no PMI falls due on a CPU that the hotplug mask shows offline (for an uncore PMU,
    /// on its package's reader).
    NoPmiOnOfflineCpu,
    /// 3: a counting event reads its ground truth at every read (folded: exactly; unfolded:
    /// short by exactly its lost wraps × 2^width), across wraps and uncore handoffs.
    CountsMatchGroundTruth,
    /// 4: `perf_event_open` installs only on a CPU that perf regards as online (by the scheme's
    /// own view, as its check found it, or at the install when it made no check), and does not
    /// go ahead on a CPU it regards as offline when its install IPI returns `-ENXIO`.
    OpenOnlyOnUsableCpu,
    /// 5: once `cpu_up(c)` returns, every registered PMU's context on `c` is usable.
    ContextsUsableAfterCpuUp,
    /// 6: lock sanity: a task unlocks only what it holds; no operation returns, and no task
    /// exits, holding a lock.
    LocksBalanced,
    /// 7: no silently failed open: an open that perf let through (its view said online) but
    /// whose install IPI found the CPU offline (`-ENXIO`, ignored by `perf_install_in_context()`)
    /// returns success with an event that never counts (f400565faa50, v6.16).
    NoSilentlyFailedOpen,
}

impl Invariant {
    /// The invariant's number in docs/model.md §6.1, as reports print it.
    pub fn number(self) -> u8 {
        match self {
            Invariant::EventsOnlyBetweenPerfInitAndExit => 1,
            Invariant::NoPmiOnOfflineCpu => 2,
            Invariant::CountsMatchGroundTruth => 3,
            Invariant::OpenOnlyOnUsableCpu => 4,
            Invariant::ContextsUsableAfterCpuUp => 5,
            Invariant::LocksBalanced => 6,
            Invariant::NoSilentlyFailedOpen => 7,
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.number(), f)
    }
}

/// An invariant the model broke (docs/model.md §6.1); recorded, never silently ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: Invariant,
    pub time_ns: u64,
    pub cpu: u32,
    /// Empty when the machine (a PMU), not a task, found it.
    pub task: String,
    /// `script+step`; empty when no script step was running.
    pub position: String,
    pub what: String,
}

/// The violations of a run, in time order.
#[derive(Default)]
pub(super) struct Violations {
    list: Vec<Violation>,
}

impl Violations {
    pub(super) fn as_slice(&self) -> &[Violation] {
        &self.list
    }

    /// One found now, at the newest time so far.
    pub(super) fn push(&mut self, violation: Violation) {
        self.list.push(violation);
    }

    /// One found after the fact (by a PMU that ran ahead): it goes in time order among those
    /// already recorded, after any at the same time.
    pub(super) fn insert_in_time_order(&mut self, violation: Violation) {
        let at = self.list.partition_point(|v| v.time_ns <= violation.time_ns);
        self.list.insert(at, violation);
    }
}

impl Kernel {
    /// Records a violation `task` caused at script step `at`.
    pub(super) fn violation(
        &mut self,
        invariant: Invariant,
        task: TaskId,
        cpu: u32,
        at: Position,
        what: String,
        now_ns: u64,
    ) {
        let name = self.tasks[task as usize].name.clone();
        let position = self.position_name(at);
        if self.trace.is_on() {
            let label = format!("invariant {invariant} broken on cpu {cpu}: {what}");
            self.trace.instant(Track::Task(task), trace_category(invariant), now_ns, || label);
        }
        self.violations.push(Violation { invariant, time_ns: now_ns, cpu, task: name, position, what });
    }

    /// A violation seen by the machine (a PMU), not at a task's script step.
    pub(super) fn machine_violation(&mut self, invariant: Invariant, cpu: u32, what: String, time_ns: u64) {
        let (task, position) = (String::new(), String::new());
        if self.trace.is_on() {
            let label = format!("invariant {invariant} broken on cpu {cpu}: {what}");
            self.trace.instant(Track::Cpu(cpu), trace_category(invariant), time_ns, || label);
        }
        self.violations.insert_in_time_order(Violation { invariant, time_ns, cpu, task, position, what });
    }

    /// Invariants 1 and 4 when an install IPI's handler (`__perf_install_in_context()`)
    /// programs `event` on `cpu`.
    pub(super) fn check_install(&mut self, task: TaskId, cpu: u32, pmu: u16, event: u64, at: Position, now_ns: u64) {
        if !self.perf.active(cpu) {
            let what = format!("event {event} programmed on cpu {cpu} outside perf init..exit");
            self.violation(Invariant::EventsOnlyBetweenPerfInitAndExit, task, cpu, at, what, now_ns);
        }
        if !self.open_sees_online(task, cpu, pmu) {
            let what = format!("perf_event_open installed event {event} on cpu {cpu} that perf regards as offline");
            self.violation(Invariant::OpenOnlyOnUsableCpu, task, cpu, at, what, now_ns);
        }
    }

    /// Whether perf lets `task`'s open through on `(cpu, pmu)`: its own check of the scheme's
    /// view passed for that CPU, or the view says online now (invariants 4 and 7).
    pub(super) fn open_sees_online(&self, task: TaskId, cpu: u32, pmu: u16) -> bool {
        self.op(task).view_checked_cpu == Some(cpu) || self.perf.usable_by_view(cpu, pmu, self.online.test(cpu))
    }

    /// A bookkeeping mark of the operation's CPU argument: perf's exit finished (invariant 1
    /// from now on), perf's init starts, or `cpu_up()` returns (invariant 5).
    pub(super) fn mark(&mut self, task: TaskId, mark: Mark, at: Position, now_ns: u64) {
        let cpu = self.op(task).args.cpu;
        match mark {
            Mark::PerfExitDone => {
                self.perf.set_active(cpu, false);
                for index in 0..self.perf.list().len() {
                    let pmu = self.perf.list()[index];
                    if let Some(&event) = self.perf.events_on(cpu, pmu).first() {
                        let what = format!("event {event} still programmed on cpu {cpu} after its perf exit");
                        self.violation(Invariant::EventsOnlyBetweenPerfInitAndExit, task, cpu, at, what, now_ns);
                    }
                }
            }
            Mark::PerfInitStart => self.perf.set_active(cpu, true),
            Mark::CpuUpDone => {
                let online = self.online.test(cpu);
                for index in 0..self.perf.list().len() {
                    let pmu = self.perf.list()[index];
                    if !self.perf.ctx_online(cpu, pmu) || !self.perf.usable_by_view(cpu, pmu, online) {
                        let name = self.perf.pmus()[pmu as usize].name.clone();
                        let what = format!("cpu_up({cpu}) returned with PMU {name}'s context not usable");
                        self.violation(Invariant::ContextsUsableAfterCpuUp, task, cpu, at, what, now_ns);
                    }
                }
            }
        }
    }
}
