//! Exact online deadlock detection: when a task blocks, search the wait-for graph from it; an
//! edge back to it closes a cycle, reported in the style of lockdep's splat. The detector owns
//! the deadlocks found and its search marks; the wait-for edges come from the lock table.

use std::fmt::Write as _;

use super::lock_table::LockTable;
use super::task::{Task, TaskState, WaitKind};
use super::{Kernel, OnDeadlock};
use crate::engine::Scheduler;
use crate::locks::{Blockers, Mode, TaskId};
use crate::time::format_ns;

/// One task of a deadlock cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CycleMember {
    pub task: String,
    pub cpu: u32,
    /// The operation and its CPU argument, e.g. `cpu_down(cpu=3)`.
    pub op: String,
    /// Where the task waits, `script+step`.
    pub position: String,
    /// The lock instance it waits for, and how.
    pub waits_for: String,
    pub waits_for_class: String,
    pub mode: Mode,
    /// How the next task of the cycle holds that lock (`None`: it is the pending writer, or
    /// the `cpuhp/N` thread this control task waits for).
    pub held_by_next: Option<(Mode, String)>,
    /// The task waits for the next one, its `cpuhp/N` thread, to finish the AP states
    /// (`wait_for_completion(&st->done)`), not for a lock.
    pub waits_for_thread: bool,
}

/// A wait-for cycle, found the moment it closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deadlock {
    pub time_ns: u64,
    pub seed: u64,
    pub members: Vec<CycleMember>,
}

/// A task still blocked when nothing is left to wake it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stall {
    pub task: String,
    pub frozen: bool,
    pub waits_for: String,
    pub mode: Mode,
    pub position: String,
    pub blockers: Vec<String>,
}

impl Deadlock {
    /// The cycle's shape, independent of which task it starts at: each member's
    /// `class(mode)@position`, rotated to start at the smallest.
    pub fn signature(&self) -> String {
        let parts: Vec<String> =
            self.members.iter().map(|m| format!("{}({})@{}", m.waits_for_class, m.mode.letter(), m.position)).collect();
        let start = (0..parts.len()).min_by_key(|&i| &parts[i]).unwrap_or(0);
        let mut rotated = parts[start..].to_vec();
        rotated.extend_from_slice(&parts[..start]);
        rotated.join(" -> ")
    }

    /// A lockdep-style report: the chain, each task's wait, the unsafe scenario.
    pub fn report(&self) -> String {
        let mut s = String::new();
        let rule = "=".repeat(54);
        let _ = writeln!(s, "{rule}");
        let _ = writeln!(s, "WARNING: circular locking deadlock among {} tasks", self.members.len());
        let _ = writeln!(s, "at {} simulated (seed {})", format_ns(self.time_ns), self.seed);
        let _ = writeln!(s, "{}", "-".repeat(54));
        let chain: Vec<String> =
            self.members.iter().map(|m| format!("{}({})", m.waits_for_class, m.mode.letter())).collect();
        let _ = writeln!(s, "Chain exists of:\n  {}\n", chain.join(" --> "));
        let n = self.members.len();
        for (i, m) in self.members.iter().enumerate() {
            let next = &self.members[(i + 1) % n];
            if m.waits_for_thread {
                let _ = writeln!(s, "{} [cpu {}] in {} is waiting for its hotplug thread:", m.task, m.cpu, m.op);
                let _ = writeln!(s, "  {} (wait_for_completion) at {}", m.waits_for, m.position);
                continue;
            }
            let _ = writeln!(s, "{} [cpu {}] in {} is trying to acquire:", m.task, m.cpu, m.op);
            let _ = writeln!(s, "  {} ({}) at {}", m.waits_for, m.mode.letter(), m.position);
            match &m.held_by_next {
                Some((mode, at)) => {
                    let _ = writeln!(s, "  held by {} ({}), taken at {}", next.task, mode.letter(), at);
                }
                None => {
                    let _ = writeln!(s, "  blocked by {}, a pending writer", next.task);
                }
            }
        }
        let _ = writeln!(s, "\n Possible unsafe locking scenario:\n");
        let width = 28;
        let header: String = self.members.iter().map(|m| format!("{:<width$}", m.task)).collect();
        let dashes: String = self.members.iter().map(|_| format!("{:<width$}", "----")).collect();
        let _ = writeln!(s, "       {}", header.trim_end());
        let _ = writeln!(s, "       {}", dashes.trim_end());
        // First what each task holds that the previous one waits for, then each wait.
        for (i, m) in self.members.iter().enumerate() {
            let prev = &self.members[(i + n - 1) % n];
            let held = match &prev.held_by_next {
                _ if prev.waits_for_thread => "(running the AP states)".to_string(),
                Some((mode, _)) => format!("lock({} {});", prev.waits_for_class, mode.letter()),
                None => format!("lock({} W) pending;", prev.waits_for_class),
            };
            let _ = writeln!(s, "  {}{}", " ".repeat(5 + i * width), held);
            let _ = m;
        }
        for (i, m) in self.members.iter().enumerate() {
            let wait = if m.waits_for_thread {
                format!("wait_for_completion({});", m.waits_for_class)
            } else {
                format!("lock({} {});", m.waits_for_class, m.mode.letter())
            };
            let _ = writeln!(s, "  {}{wait}", " ".repeat(5 + i * width));
        }
        let _ = writeln!(s, "\n *** DEADLOCK ***");
        s
    }
}

impl Stall {
    pub fn report(&self) -> String {
        format!(
            "task {} {} on {} ({}) at {}, waiting for [{}]",
            self.task,
            if self.frozen { "frozen in a deadlock" } else { "blocked forever" },
            self.waits_for,
            self.mode.letter(),
            self.position,
            self.blockers.join(", ")
        )
    }
}

/// The detector: what it found, and the marks of the tasks its current search has visited.
pub(super) struct DeadlockDetector {
    on_deadlock: OnDeadlock,
    /// The run's seed, named in each report.
    seed: u64,
    found: Vec<Deadlock>,
    /// A task is visited when its stamp is `stamp`; bumping `stamp` clears every mark.
    visit_stamp: Vec<u32>,
    stamp: u32,
    /// The search's path and its stack of edge lists, kept between searches so that a search
    /// allocates nothing.
    path: Vec<TaskId>,
    stack: Vec<(Blockers, usize)>,
}

impl DeadlockDetector {
    pub(super) fn new(on_deadlock: OnDeadlock, seed: u64, ntasks: usize) -> DeadlockDetector {
        DeadlockDetector {
            on_deadlock,
            seed,
            found: Vec::new(),
            visit_stamp: vec![0; ntasks],
            stamp: 0,
            path: Vec::new(),
            stack: Vec::new(),
        }
    }

    pub(super) fn found(&self) -> &[Deadlock] {
        &self.found
    }

    /// Depth-first search of wait-for edges (`blockers`) from `start`; the path back to it, if
    /// any. `waits` says whether a task has wait-for edges at all.
    fn find_cycle(
        &mut self,
        start: TaskId,
        blockers: impl Fn(TaskId) -> Blockers,
        waits: impl Fn(TaskId) -> bool,
    ) -> Option<Vec<TaskId>> {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.visit_stamp.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
        let first = blockers(start);
        // A cycle needs a blocker that waits in turn (or `start` itself): most blocks have none.
        if first.as_slice().iter().all(|&t| t != start && !waits(t)) {
            return None;
        }
        let DeadlockDetector { path, stack, visit_stamp, stamp, .. } = self;
        path.clear();
        stack.clear();
        path.push(start);
        stack.push((first, 0));
        visit_stamp[start as usize] = *stamp;
        while let Some((edges, next)) = stack.last_mut() {
            let Some(&to) = edges.as_slice().get(*next) else {
                stack.pop();
                path.pop();
                continue;
            };
            *next += 1;
            if to == start {
                return Some(path.clone());
            }
            if visit_stamp[to as usize] == *stamp {
                continue;
            }
            visit_stamp[to as usize] = *stamp;
            let onward = blockers(to);
            path.push(to);
            stack.push((onward, 0));
        }
        None
    }
}

/// The tasks `task` waits for (its wait-for edges).
fn wait_for_edges(tasks: &[Task], locks: &LockTable, task: TaskId) -> Blockers {
    let t = &tasks[task as usize];
    match t.wait {
        Some(wait) if t.blocked_or_frozen() && wait.kind == WaitKind::ApWork => Blockers::Owner(Some(wait.lock)),
        Some(wait) if t.blocked_or_frozen() => locks.blockers(task, wait.lock),
        _ => Blockers::Owner(None),
    }
}

impl Kernel {
    /// Called whenever `task` has just become blocked: a cycle through it is a deadlock.
    pub(super) fn check_deadlock(&mut self, task: TaskId, sched: &mut Scheduler) {
        let Kernel { deadlock, tasks, locks, .. } = self;
        let Some(cycle) = deadlock.find_cycle(task, |t| wait_for_edges(tasks, locks, t), |t| tasks[t as usize].waits())
        else {
            return;
        };
        let members =
            cycle.iter().enumerate().map(|(i, &t)| self.cycle_member(t, cycle[(i + 1) % cycle.len()])).collect();
        for &t in &cycle {
            self.tasks[t as usize].state = TaskState::Frozen;
        }
        if self.trace.is_on() {
            let now_ns = sched.now_ns();
            let names: Vec<&str> = cycle.iter().map(|&t| self.tasks[t as usize].name.as_str()).collect();
            let label = format!("deadlock: {}", names.join(" -> "));
            for (i, &t) in cycle.iter().enumerate() {
                self.trace.instant(super::Track::Task(t), "deadlock", now_ns, || label.clone());
                // The cycle's wait-for edges as they stand now (an arrow drawn when a wait
                // began points at whoever held the lock then).
                let next = cycle[(i + 1) % cycle.len()];
                self.trace.flow(t, next, now_ns, || format!("deadlock: waits for {}", names[(i + 1) % names.len()]));
            }
        }
        let deadlock = &mut self.deadlock;
        deadlock.found.push(Deadlock { time_ns: sched.now_ns(), seed: deadlock.seed, members });
        if deadlock.on_deadlock == OnDeadlock::Stop {
            sched.request_stop();
        }
    }

    /// The tasks `task` waits for (its wait-for edges).
    pub(super) fn blockers(&self, task: TaskId) -> Blockers {
        wait_for_edges(&self.tasks, &self.locks, task)
    }

    fn cycle_member(&self, task: TaskId, next: TaskId) -> CycleMember {
        let t = &self.tasks[task as usize];
        let wait = t.wait.expect("a task in a cycle waits");
        let op = t.op.as_ref().expect("a task in a cycle runs an operation");
        let op_name = format!("{}(cpu={})", self.programs[op.script as usize].name, op.args.cpu);
        if wait.kind == WaitKind::ApWork {
            return CycleMember {
                task: t.name.clone(),
                cpu: t.cpu,
                op: op_name,
                position: self.position_name(wait.at),
                waits_for: self.wait_name(&wait),
                waits_for_class: "cpuhp/N done".into(),
                mode: wait.mode,
                held_by_next: None,
                waits_for_thread: true,
            };
        }
        let held_by_next = self.tasks[next as usize]
            .held
            .iter()
            .rev()
            .find(|h| h.lock == wait.lock)
            .map(|h| (h.mode, self.position_name(h.at)));
        CycleMember {
            task: t.name.clone(),
            cpu: t.cpu,
            op: op_name,
            position: self.position_name(wait.at),
            waits_for: self.lock_name(wait.lock),
            waits_for_class: self.locks.class_of(wait.lock).name.clone(),
            mode: wait.mode,
            held_by_next,
            waits_for_thread: false,
        }
    }
}
