//! `struct mutex` (and, with no wake-up latency, a ticket spinlock): one owner, FIFO waiters.
//!
//! Two unlock disciplines. FIFO handoff: the first waiter owns the lock at once (a ticket
//! spinlock, and what the M/M/1//N check assumes). v4.10+ (9d659ae14b54, `kernel/locking/
//! mutex.c`): the unlock leaves the lock free and wakes the first waiter; until it runs, a task
//! that comes to `mutex_lock()` takes the free lock. A waiter that wakes up first in line and
//! finds the lock taken sets `MUTEX_FLAG_HANDOFF`, and the next unlock hands the lock to it.

use std::collections::VecDeque;

use super::TaskId;

/// Whom an unlock gives the lock to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlocked {
    /// No waiter: the lock is free.
    Free,
    /// The waiter owns the lock now (FIFO, or `MUTEX_FLAG_HANDOFF` set).
    HandedTo(TaskId),
    /// The lock is free and this first waiter was woken to try for it.
    Woke(TaskId),
}

#[derive(Clone, Debug, Default)]
pub struct Mutex {
    owner: Option<TaskId>,
    waiters: VecDeque<TaskId>,
    /// `MUTEX_FLAG_HANDOFF`: the first waiter has woken once and found the lock taken.
    handoff: bool,
    /// The first waiter was woken and has not run yet.
    woken: bool,
}

impl Mutex {
    pub fn owner(&self) -> Option<TaskId> {
        self.owner
    }

    pub fn waiters(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.waiters.iter().copied()
    }

    /// Takes the lock if free (`true`), else queues `task` (`false`). A free lock with waiters
    /// is one a v4.10 unlock left for its woken first waiter: whoever comes first takes it.
    pub fn lock(&mut self, task: TaskId) -> bool {
        if self.owner.is_none() {
            self.owner = Some(task);
            self.handoff = false;
            true
        } else {
            self.waiters.push_back(task);
            false
        }
    }

    /// Releases the lock: FIFO hands it to the first waiter; else as v4.10 does.
    pub fn unlock(&mut self, task: TaskId, fifo: bool) -> Unlocked {
        assert_eq!(self.owner, Some(task), "mutex unlocked by a task that does not own it");
        self.owner = None;
        let Some(&first) = self.waiters.front() else { return Unlocked::Free };
        if fifo || self.handoff {
            self.give_to_first();
            Unlocked::HandedTo(first)
        } else if self.woken {
            // Woken already and not yet run: wake_up_q() has nothing more to do.
            Unlocked::Free
        } else {
            self.woken = true;
            Unlocked::Woke(first)
        }
    }

    /// The woken first waiter `task` runs: it takes the lock if still free (`true`), else sets
    /// `MUTEX_FLAG_HANDOFF` and waits on (`false`).
    pub fn retry(&mut self, task: TaskId) -> bool {
        debug_assert_eq!(self.waiters.front(), Some(&task), "only the first waiter is woken");
        if self.owner.is_none() {
            self.give_to_first();
            true
        } else {
            self.woken = false;
            self.handoff = true;
            false
        }
    }

    /// The first waiter leaves the queue owning the lock; the handoff and wake-up are spent.
    fn give_to_first(&mut self) {
        self.owner = self.waiters.pop_front();
        self.handoff = false;
        self.woken = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlock_hands_the_lock_to_the_first_waiter() {
        let mut m = Mutex::default();
        assert!(m.lock(1));
        assert!(!m.lock(2));
        assert!(!m.lock(3));
        assert_eq!(m.unlock(1, true), Unlocked::HandedTo(2));
        assert_eq!(m.owner(), Some(2));
        assert_eq!(m.unlock(2, true), Unlocked::HandedTo(3));
        assert_eq!(m.unlock(3, true), Unlocked::Free);
        assert_eq!(m.owner(), None);
    }

    #[test]
    fn v4_10_unlock_leaves_the_lock_free_for_a_stealer_then_hands_off_to_the_waiter() {
        let mut m = Mutex::default();
        assert!(m.lock(1));
        assert!(!m.lock(2));
        assert_eq!(m.unlock(1, false), Unlocked::Woke(2));
        assert_eq!(m.owner(), None);
        assert!(m.lock(3), "a running task takes the free lock before the woken waiter runs");
        assert!(!m.retry(2), "the waiter finds it taken and sets MUTEX_FLAG_HANDOFF");
        assert!(!m.lock(4));
        assert_eq!(m.unlock(3, false), Unlocked::HandedTo(2), "the flag hands the next unlock to it");
        assert_eq!(m.unlock(2, false), Unlocked::Woke(4));
        assert!(m.retry(4), "no stealer: the woken waiter takes the free lock");
        assert_eq!(m.unlock(4, false), Unlocked::Free);
    }

    #[test]
    fn a_second_unlock_before_the_woken_waiter_runs_wakes_no_one_more() {
        let mut m = Mutex::default();
        assert!(m.lock(1));
        assert!(!m.lock(2));
        assert_eq!(m.unlock(1, false), Unlocked::Woke(2));
        assert!(m.lock(3));
        assert_eq!(m.unlock(3, false), Unlocked::Free, "2 is awake already");
        assert!(m.retry(2));
    }

    #[test]
    #[should_panic(expected = "does not own it")]
    fn unlock_by_non_owner_is_a_bug() {
        let mut m = Mutex::default();
        m.lock(1);
        m.unlock(2, true);
    }
}
