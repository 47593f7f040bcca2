//! The hotplug lock of v4.12 and before (`kernel/cpu.c`, `struct cpu_hotplug`): a refcount
//! of readers, a mutex, and the writer task (`active_writer`).
//!
//! `get_online_cpus()` returns at once in the writer task itself; any other reader takes the
//! mutex for a moment to bump the refcount, so it blocks only while the writer *holds* the
//! mutex. `cpu_hotplug_begin()` sets `active_writer` and then loops: take the mutex, keep it
//! if the refcount is 0, else drop it and sleep until the last reader leaves. Readers that
//! arrive while the writer waits still get in (a recursive read never deadlocks; writers can
//! starve). A reader in another task while the writer holds the mutex, such as `cpuhp/N`
//! running a callback that calls `get_online_cpus()`, waits for the writer forever.

use std::collections::VecDeque;

use super::{Handoff, Mode, TaskId};

/// Where the writer is in `cpu_hotplug_begin()` .. `cpu_hotplug_done()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriterPhase {
    /// `active_writer` set; sleeping until the refcount drops to 0.
    Waiting,
    /// Holding the mutex with the refcount at 0.
    Held,
}

/// What `down_read` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadStart {
    /// The refcount was bumped.
    Counted,
    /// The writer task itself: `get_online_cpus()` returned without doing anything.
    WriterItself,
    /// The task waits for the writer to drop the mutex.
    Blocked,
}

#[derive(Clone, Debug, Default)]
pub struct RefcountHotplug {
    /// Tasks holding a reference, one entry per `get_online_cpus()`.
    readers: Vec<TaskId>,
    writer: Option<(TaskId, WriterPhase)>,
    /// Readers blocked on the mutex the writer holds, and writers queued behind the writer.
    waiters: VecDeque<(TaskId, Mode)>,
    /// `get_online_cpus()` calls by the writer task that were no-ops, still to be put.
    writer_nops: u32,
}

impl RefcountHotplug {
    /// `get_online_cpus()`.
    pub fn down_read(&mut self, task: TaskId) -> ReadStart {
        match self.writer {
            Some((writer, _)) if writer == task => {
                self.writer_nops += 1;
                ReadStart::WriterItself
            }
            Some((_, WriterPhase::Held)) => {
                self.waiters.push_back((task, Mode::Read));
                ReadStart::Blocked
            }
            _ => {
                self.readers.push(task);
                ReadStart::Counted
            }
        }
    }

    /// Whether `task` is the writer (`active_writer == current`).
    pub fn writer_is(&self, task: TaskId) -> bool {
        matches!(self.writer, Some((writer, _)) if writer == task)
    }

    /// Whether `task`'s `put_online_cpus()` is a no-op: it is the writer with no-op reads open.
    pub fn read_is_nop(&self, task: TaskId) -> bool {
        matches!(self.writer, Some((writer, _)) if writer == task) && self.writer_nops > 0
    }

    /// `put_online_cpus()`: the writer that may now hold the mutex, if this was the last reader.
    pub fn up_read(&mut self, task: TaskId) -> Option<Handoff> {
        if self.read_is_nop(task) {
            self.writer_nops -= 1;
            return None;
        }
        let at = self.readers.iter().rposition(|&t| t == task).expect("put_online_cpus without get_online_cpus");
        self.readers.swap_remove(at);
        match self.writer {
            Some((writer, WriterPhase::Waiting)) if self.readers.is_empty() => {
                self.writer = Some((writer, WriterPhase::Held));
                Some(Handoff { task: writer, mode: Mode::Write })
            }
            _ => None,
        }
    }

    /// `cpu_hotplug_begin()`: `true` if the writer holds the lock now, `false` if it waits
    /// (for readers to leave, or behind another writer).
    pub fn down_write(&mut self, task: TaskId) -> bool {
        if self.writer.is_some() {
            self.waiters.push_back((task, Mode::Write));
            return false;
        }
        self.start_writer(task)
    }

    fn start_writer(&mut self, task: TaskId) -> bool {
        let phase = if self.readers.is_empty() { WriterPhase::Held } else { WriterPhase::Waiting };
        self.writer = Some((task, phase));
        phase == WriterPhase::Held
    }

    /// `cpu_hotplug_done()`: the readers blocked on the mutex get their reference; then the
    /// next writer starts (and holds the lock only once those readers are gone).
    pub fn up_write(&mut self, task: TaskId) -> Vec<Handoff> {
        assert_eq!(self.writer, Some((task, WriterPhase::Held)), "cpu_hotplug_done by a non-writer");
        assert_eq!(self.writer_nops, 0, "the writer left with get_online_cpus() calls not put");
        self.writer = None;
        let (mut woken, writer) = super::hand_on_in_order(&mut self.waiters, &mut self.readers);
        if let Some(writer) = writer
            && self.start_writer(writer)
        {
            woken.push(Handoff { task: writer, mode: Mode::Write });
        }
        woken
    }

    /// The tasks `task` waits for, if it is blocked here (wait-for graph edges).
    pub fn blockers(&self, task: TaskId) -> super::Blockers {
        let waits = matches!(self.writer, Some((_, WriterPhase::Waiting)));
        super::rw_blockers(task, self.writer.map(|(w, _)| w), waits, &self.readers, &self.waiters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recursive_read_gets_in_while_the_writer_waits() {
        let mut lock = RefcountHotplug::default();
        assert_eq!(lock.down_read(1), ReadStart::Counted);
        assert!(!lock.down_write(2), "the writer waits for the reader");
        assert_eq!(lock.blockers(2).as_slice(), &[1]);
        assert_eq!(lock.down_read(1), ReadStart::Counted, "the nested read is counted, not blocked");
        assert_eq!(lock.down_read(3), ReadStart::Counted, "new readers get in too (writers can starve)");
        assert_eq!(lock.up_read(1), None);
        assert_eq!(lock.up_read(3), None);
        assert_eq!(lock.up_read(1), Some(Handoff { task: 2, mode: Mode::Write }));
    }

    #[test]
    fn the_writer_itself_reads_for_free_and_another_task_waits_for_it() {
        let mut lock = RefcountHotplug::default();
        assert!(lock.down_write(1));
        assert_eq!(lock.down_read(1), ReadStart::WriterItself);
        assert!(lock.read_is_nop(1));
        assert_eq!(lock.up_read(1), None);
        assert!(!lock.read_is_nop(1));
        assert_eq!(lock.down_read(2), ReadStart::Blocked, "cpuhp/N's get_online_cpus() waits for the writer");
        assert_eq!(lock.blockers(2).as_slice(), &[1]);
        assert_eq!(lock.up_write(1), vec![Handoff { task: 2, mode: Mode::Read }]);
        assert_eq!(lock.up_read(2), None);
    }

    #[test]
    fn up_write_counts_the_blocked_readers_before_the_next_writer_holds() {
        let mut lock = RefcountHotplug::default();
        assert!(lock.down_write(1));
        assert_eq!(lock.down_read(2), ReadStart::Blocked);
        assert!(!lock.down_write(3));
        assert_eq!(lock.down_read(4), ReadStart::Blocked);
        assert_eq!(lock.up_write(1), vec![Handoff { task: 2, mode: Mode::Read }]);
        assert_eq!(lock.blockers(3).as_slice(), &[2], "the next writer waits for the reader it let in");
        assert_eq!(lock.blockers(4).as_slice(), &[3]);
        assert_eq!(lock.up_read(2), Some(Handoff { task: 3, mode: Mode::Write }));
        assert_eq!(lock.up_write(3), vec![Handoff { task: 4, mode: Mode::Read }]);
    }
}
