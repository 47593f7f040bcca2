//! `struct percpu_rw_semaphore` as `cpu_hotplug_lock` uses it, with its `rcu_sync`.
//!
//! Mirrors kernel/locking/percpu-rwsem.c: readers take a per-CPU fast path while rcu_sync is
//! idle and the slow path otherwise; a writer enters rcu_sync (one grace period unless a writer
//! left less than a grace period ago), then sets `block` so that *every* new reader waits — also
//! one that already holds the lock, which is why recursive reads deadlock — and waits for the
//! active readers to drain. Waiters are woken in FIFO order: leading readers, then one writer.

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

#[derive(Clone, Debug, Default)]
pub struct PercpuRwsem {
    /// Active readers, one entry per read acquisition (a task may appear twice).
    readers: Vec<TaskId>,
    writer: Option<(TaskId, WriterPhase)>,
    waiters: VecDeque<(TaskId, Mode)>,
    /// rcu_sync's `gp_count`: writers between `down_write` and `up_write`.
    writers_in_path: u32,
    /// When `writers_in_path` last dropped to zero.
    last_writer_exit_ns: Option<u64>,
}

impl PercpuRwsem {
    /// True while rcu_sync forces readers onto the slow path.
    pub fn readers_slow_path(&self, now_ns: u64, grace_period_ns: u64) -> bool {
        self.writers_in_path > 0 || self.within_grace_period_of_exit(now_ns, grace_period_ns)
    }

    fn within_grace_period_of_exit(&self, now_ns: u64, grace_period_ns: u64) -> bool {
        self.last_writer_exit_ns.is_some_and(|exit| now_ns - exit < grace_period_ns)
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
    pub fn down_write(&mut self, task: TaskId, now_ns: u64, grace_period_ns: u64) -> WriteStart {
        let rcu_sync_idle = self.writers_in_path == 0 && !self.within_grace_period_of_exit(now_ns, grace_period_ns);
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

    /// The writer's rcu_sync grace period is over: it sets `block` and drains readers.
    pub fn grace_period_over(&mut self, task: TaskId) -> WriteStart {
        assert_eq!(self.writer, Some((task, WriterPhase::GracePeriod)), "no grace period in progress");
        self.start_draining(task)
    }

    /// `percpu_up_write()`: returns the waiters handed the lock (leading readers, then at most
    /// one writer, who owns it only once those readers drained).
    pub fn up_write(&mut self, task: TaskId, now_ns: u64) -> Vec<Handoff> {
        assert_eq!(self.writer, Some((task, WriterPhase::Held)), "up_write by a non-writer");
        self.writer = None;
        self.writers_in_path -= 1;
        if self.writers_in_path == 0 {
            self.last_writer_exit_ns = Some(now_ns);
        }
        let mut woken = Vec::new();
        while let Some(&(waiter, mode)) = self.waiters.front() {
            self.waiters.pop_front();
            match mode {
                Mode::Read => {
                    self.readers.push(waiter);
                    woken.push(Handoff { task: waiter, mode });
                }
                Mode::Write => {
                    if self.start_draining(waiter) == WriteStart::Acquired {
                        woken.push(Handoff { task: waiter, mode });
                    }
                    break;
                }
            }
        }
        woken
    }

    /// The tasks `task` waits for, if it is blocked here (wait-for graph edges).
    pub fn blockers(&self, task: TaskId) -> Vec<TaskId> {
        let mut tasks = match self.writer {
            Some((writer, WriterPhase::Draining)) if writer == task => self.readers.clone(),
            Some((writer, _)) if self.waiters.iter().any(|&(t, _)| t == task) => vec![writer],
            _ => Vec::new(),
        };
        tasks.sort_unstable();
        tasks.dedup();
        tasks
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
        assert_eq!(sem.down_write(2, 0, GP), WriteStart::GracePeriod);
        assert_eq!(sem.grace_period_over(2), WriteStart::Blocked);
        assert_eq!(sem.blockers(2), vec![1]);
        assert!(!sem.down_read(1), "a reader that already holds the lock must block too");
        assert_eq!(sem.blockers(1), vec![2]);
    }

    #[test]
    fn readers_get_in_during_the_writers_grace_period() {
        let mut sem = PercpuRwsem::default();
        assert_eq!(sem.down_write(2, 0, GP), WriteStart::GracePeriod);
        assert!(sem.readers_slow_path(5, GP));
        assert!(sem.down_read(1));
        assert_eq!(sem.grace_period_over(2), WriteStart::Blocked);
        assert_eq!(sem.up_read(1), Some(Handoff { task: 2, mode: Mode::Write }));
        assert_eq!(sem.writer(), Some(2));
    }

    #[test]
    fn writer_skips_grace_period_iff_previous_writer_left_less_than_one_ago() {
        let mut sem = PercpuRwsem::default();
        assert_eq!(sem.down_write(1, 0, GP), WriteStart::GracePeriod);
        assert_eq!(sem.grace_period_over(1), WriteStart::Acquired);
        assert!(sem.up_write(1, 100).is_empty());
        assert!(sem.readers_slow_path(100 + GP - 1, GP));
        assert_eq!(sem.down_write(2, 100 + GP - 1, GP), WriteStart::Acquired);
        assert!(sem.up_write(2, 200).is_empty());
        assert!(!sem.readers_slow_path(200 + GP, GP), "strict <: exactly one grace period later is idle");
        assert_eq!(sem.down_write(3, 200 + GP, GP), WriteStart::GracePeriod);
    }

    #[test]
    fn up_write_wakes_leading_readers_then_one_writer() {
        let mut sem = PercpuRwsem::default();
        assert_eq!(sem.down_write(1, 0, GP), WriteStart::GracePeriod);
        assert_eq!(sem.grace_period_over(1), WriteStart::Acquired);
        assert!(!sem.down_read(2));
        assert!(!sem.down_read(3));
        assert_eq!(sem.down_write(4, 1, GP), WriteStart::Blocked);
        assert!(!sem.down_read(5));
        assert_eq!(sem.blockers(4), vec![1]);
        let woken = sem.up_write(1, 2);
        assert_eq!(woken, vec![Handoff { task: 2, mode: Mode::Read }, Handoff { task: 3, mode: Mode::Read }]);
        assert_eq!(sem.blockers(4), vec![2, 3], "the next writer drains the readers just woken");
        assert_eq!(sem.blockers(5), vec![4]);
        assert_eq!(sem.up_read(2), None);
        assert_eq!(sem.up_read(3), Some(Handoff { task: 4, mode: Mode::Write }));
        assert_eq!(sem.up_write(4, 3), vec![Handoff { task: 5, mode: Mode::Read }]);
    }
}
