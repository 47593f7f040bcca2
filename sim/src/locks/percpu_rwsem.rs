//! `struct percpu_rw_semaphore` as `cpu_hotplug_lock` uses it, with its `rcu_sync`.
//!
//! Mirrors kernel/locking/percpu-rwsem.c: readers take a per-CPU fast path while rcu_sync is
//! idle and the slow path otherwise; a writer enters rcu_sync (one grace period unless rcu_sync
//! is not idle), then sets `block` so that *every* new reader waits — also one that already
//! holds the lock, which is why recursive reads deadlock — and waits for the active readers to
//! drain. Waiters are woken in FIFO order: leading readers, then one writer.
//!
//! rcu_sync as v4.13's kernel/rcu/sync.c: `GP_IDLE` → `GP_PENDING` (the first writer's grace
//! period) → `GP_PASSED`. When the last writer leaves, a callback is queued one grace period
//! out (`CB_PENDING`); a writer that enters and leaves again before it fires makes it run once
//! more (`CB_REPLAY`); when it fires with a writer inside it is dropped; else rcu_sync is idle
//! again. Grace period lengths are the caller's (drawn per period by the kernel model).

use std::collections::VecDeque;

use super::{Handoff, Mode, TaskId};

/// Where the current writer is in `percpu_down_write()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriterPhase {
    /// Waiting out `rcu_sync_enter()`'s grace period; readers still get in (slow path).
    GracePeriod,
    /// `block` set; waiting for active readers to leave.
    Draining,
    Held,
}

/// What `down_write` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteStart {
    /// The writer owns the lock now.
    Acquired,
    /// The writer waits one grace period; call [`PercpuRwsem::grace_period_over`] after it.
    GracePeriod,
    /// The writer blocks (readers draining, or behind another writer).
    Blocked,
}

/// rcu_sync's exit callback (`rcu_sync_func()`): when it runs, and, with `CB_REPLAY`, the
/// length of the grace period it queues itself for once more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ExitCallback {
    due_ns: u64,
    replay_ns: Option<u64>,
}

#[derive(Clone, Debug, Default)]
pub struct PercpuRwsem {
    /// Active readers, one entry per read acquisition (a task may appear twice).
    readers: Vec<TaskId>,
    writer: Option<(TaskId, WriterPhase)>,
    waiters: VecDeque<(TaskId, Mode)>,
    /// rcu_sync's `gp_count`: writers between `down_write` and `up_write`.
    writers_in_path: u32,
    /// rcu_sync's `gp_state` is `GP_PASSED` (a writer's grace period is over and rcu_sync has
    /// not gone idle since).
    gp_passed: bool,
    /// rcu_sync's pending exit callback, if any.
    callback: Option<ExitCallback>,
}

impl PercpuRwsem {
    /// Runs rcu_sync's exit callbacks due by `now_ns`; `writers_in_path` has held since the
    /// last call, so each one sees what it would have seen when it ran.
    fn advance(&mut self, now_ns: u64) {
        while let Some(cb) = self.callback.filter(|cb| cb.due_ns <= now_ns) {
            self.callback = match cb.replay_ns {
                _ if self.writers_in_path > 0 => None,
                Some(replay_ns) => Some(ExitCallback { due_ns: cb.due_ns + replay_ns, replay_ns: None }),
                None => {
                    self.gp_passed = false;
                    None
                }
            };
        }
    }

    /// True while rcu_sync forces readers onto the slow path (`!rcu_sync_is_idle()`).
    pub fn readers_slow_path(&mut self, now_ns: u64) -> bool {
        self.advance(now_ns);
        self.writers_in_path > 0 || self.gp_passed
    }

    fn blocks_readers(&self) -> bool {
        matches!(self.writer, Some((_, WriterPhase::Draining | WriterPhase::Held)))
    }

    /// `percpu_down_read()`: `true` if acquired, `false` if `task` now waits for the writer.
    pub fn down_read(&mut self, task: TaskId) -> bool {
        if self.blocks_readers() {
            self.waiters.push_back((task, Mode::Read));
            false
        } else {
            self.readers.push(task);
            true
        }
    }

    /// `percpu_up_read()`: returns the writer that finished draining, if any.
    pub fn up_read(&mut self, task: TaskId) -> Option<Handoff> {
        let at = self.readers.iter().rposition(|&t| t == task).expect("up_read without down_read");
        self.readers.swap_remove(at);
        match self.writer {
            Some((writer, WriterPhase::Draining)) if self.readers.is_empty() => {
                self.writer = Some((writer, WriterPhase::Held));
                Some(Handoff { task: writer, mode: Mode::Write })
            }
            _ => None,
        }
    }

    /// `percpu_down_write()` up to the point where it would sleep.
    pub fn down_write(&mut self, task: TaskId, now_ns: u64) -> WriteStart {
        self.advance(now_ns);
        let rcu_sync_idle = self.writers_in_path == 0 && !self.gp_passed;
        self.writers_in_path += 1;
        if self.writer.is_some() {
            self.waiters.push_back((task, Mode::Write));
            return WriteStart::Blocked;
        }
        if rcu_sync_idle {
            self.writer = Some((task, WriterPhase::GracePeriod));
            return WriteStart::GracePeriod;
        }
        self.start_draining(task)
    }

    fn start_draining(&mut self, task: TaskId) -> WriteStart {
        if self.readers.is_empty() {
            self.writer = Some((task, WriterPhase::Held));
            WriteStart::Acquired
        } else {
            self.writer = Some((task, WriterPhase::Draining));
            WriteStart::Blocked
        }
    }

    /// The writer's rcu_sync grace period is over (`GP_PASSED`): it sets `block` and drains readers.
    pub fn grace_period_over(&mut self, task: TaskId) -> WriteStart {
        assert_eq!(self.writer, Some((task, WriterPhase::GracePeriod)), "no grace period in progress");
        self.gp_passed = true;
        self.start_draining(task)
    }

    /// `percpu_up_write()`: returns the waiters handed the lock (leading readers, then at most
    /// one writer, who owns it only once those readers drained). `grace_period_ns` is the
    /// grace period `rcu_sync_exit()` queues its callback for, if it queues one.
    pub fn up_write(&mut self, task: TaskId, now_ns: u64, grace_period_ns: u64) -> Vec<Handoff> {
        assert_eq!(self.writer, Some((task, WriterPhase::Held)), "up_write by a non-writer");
        self.advance(now_ns);
        self.writer = None;
        self.writers_in_path -= 1;
        if self.writers_in_path == 0 {
            self.callback = Some(match self.callback {
                None => ExitCallback { due_ns: now_ns + grace_period_ns, replay_ns: None },
                Some(cb) => ExitCallback { replay_ns: cb.replay_ns.or(Some(grace_period_ns)), ..cb },
            });
        }
        let (mut woken, writer) = super::hand_on_in_order(&mut self.waiters, &mut self.readers);
        if let Some(writer) = writer
            && self.start_draining(writer) == WriteStart::Acquired
        {
            woken.push(Handoff { task: writer, mode: Mode::Write });
        }
        woken
    }

    /// The tasks `task` waits for, if it is blocked here (wait-for graph edges).
    pub fn blockers(&self, task: TaskId) -> super::Blockers {
        let waits = matches!(self.writer, Some((_, WriterPhase::Draining)));
        super::rw_blockers(task, self.writer.map(|(w, _)| w), waits, &self.readers, &self.waiters)
    }

    pub fn readers(&self) -> &[TaskId] {
        &self.readers
    }

    pub fn writer(&self) -> Option<TaskId> {
        match self.writer {
            Some((t, WriterPhase::Held)) => Some(t),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GP: u64 = 10_000_000;

    #[test]
    fn pending_writer_blocks_recursive_reader() {
        let mut sem = PercpuRwsem::default();
        assert!(sem.down_read(1));
        assert_eq!(sem.down_write(2, 0), WriteStart::GracePeriod);
        assert_eq!(sem.grace_period_over(2), WriteStart::Blocked);
        assert_eq!(sem.blockers(2).as_slice(), &[1]);
        assert!(!sem.down_read(1), "a reader that already holds the lock must block too");
        assert_eq!(sem.blockers(1).as_slice(), &[2]);
    }

    #[test]
    fn readers_get_in_during_the_writers_grace_period() {
        let mut sem = PercpuRwsem::default();
        assert_eq!(sem.down_write(2, 0), WriteStart::GracePeriod);
        assert!(sem.readers_slow_path(5));
        assert!(sem.down_read(1));
        assert_eq!(sem.grace_period_over(2), WriteStart::Blocked);
        assert_eq!(sem.up_read(1), Some(Handoff { task: 2, mode: Mode::Write }));
        assert_eq!(sem.writer(), Some(2));
    }

    #[test]
    fn writer_skips_the_grace_period_until_rcu_sync_is_idle_again() {
        let mut sem = PercpuRwsem::default();
        assert_eq!(sem.down_write(1, 0), WriteStart::GracePeriod);
        assert!(sem.readers_slow_path(1), "GP_PENDING: readers take the slow path");
        assert_eq!(sem.grace_period_over(1), WriteStart::Acquired);
        assert!(sem.up_write(1, 100, GP).is_empty());
        assert!(sem.readers_slow_path(100 + GP - 1), "CB_PENDING: one grace period after the last writer");
        assert!(!sem.readers_slow_path(100 + GP), "the callback ran: GP_IDLE");
        assert_eq!(sem.down_write(2, 100 + GP), WriteStart::GracePeriod);
    }

    #[test]
    fn a_writer_in_and_out_while_the_callback_is_pending_replays_it_once() {
        let mut sem = PercpuRwsem::default();
        assert_eq!(sem.down_write(1, 0), WriteStart::GracePeriod);
        assert_eq!(sem.grace_period_over(1), WriteStart::Acquired);
        assert!(sem.up_write(1, 100, GP).is_empty());
        assert_eq!(sem.down_write(2, 200), WriteStart::Acquired, "GP_PASSED: no grace period to wait");
        assert!(sem.up_write(2, 300, 3 * GP).is_empty());
        assert_eq!(sem.down_write(3, 400), WriteStart::Acquired);
        assert!(sem.up_write(3, 500, 5 * GP).is_empty(), "a second replay folds into the first");
        assert!(sem.readers_slow_path(100 + GP + 3 * GP - 1), "CB_REPLAY: the callback runs again");
        assert!(!sem.readers_slow_path(100 + GP + 3 * GP), "idle after the replayed grace period");
    }

    #[test]
    fn a_callback_that_finds_a_writer_inside_is_dropped_and_the_writer_queues_its_own() {
        let mut sem = PercpuRwsem::default();
        assert_eq!(sem.down_write(1, 0), WriteStart::GracePeriod);
        assert_eq!(sem.grace_period_over(1), WriteStart::Acquired);
        assert!(sem.up_write(1, 100, GP).is_empty());
        assert_eq!(sem.down_write(2, 200), WriteStart::Acquired);
        assert!(sem.readers_slow_path(100 + 2 * GP), "the callback ran with a writer inside: still GP_PASSED");
        assert!(sem.up_write(2, 100 + 2 * GP, GP).is_empty());
        assert!(sem.readers_slow_path(100 + 3 * GP - 1));
        assert!(!sem.readers_slow_path(100 + 3 * GP), "one grace period after the last writer left");
    }

    #[test]
    fn up_write_wakes_leading_readers_then_one_writer() {
        let mut sem = PercpuRwsem::default();
        assert_eq!(sem.down_write(1, 0), WriteStart::GracePeriod);
        assert_eq!(sem.grace_period_over(1), WriteStart::Acquired);
        assert!(!sem.down_read(2));
        assert!(!sem.down_read(3));
        assert_eq!(sem.down_write(4, 1), WriteStart::Blocked);
        assert!(!sem.down_read(5));
        assert_eq!(sem.blockers(4).as_slice(), &[1]);
        let woken = sem.up_write(1, 2, GP);
        assert_eq!(woken, vec![Handoff { task: 2, mode: Mode::Read }, Handoff { task: 3, mode: Mode::Read }]);
        assert_eq!(sem.blockers(4).as_slice(), &[2, 3], "the next writer drains the readers just woken");
        assert_eq!(sem.blockers(5).as_slice(), &[4]);
        assert_eq!(sem.up_read(2), None);
        assert_eq!(sem.up_read(3), Some(Handoff { task: 4, mode: Mode::Write }));
        assert_eq!(sem.up_write(4, 3, GP), vec![Handoff { task: 5, mode: Mode::Read }]);
    }
}
