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

/// `owner` of a free mutex.
const NO_OWNER: TaskId = TaskId::MAX;

/// Sixteen bytes: at 4,096 CPUs there are tens of thousands of context mutexes, each taken
/// cold, and most never have a waiter; the queue is allocated on the first contention.
#[derive(Clone, Debug)]
pub struct Mutex {
    owner: TaskId,
    /// `MUTEX_FLAG_HANDOFF`: the first waiter has woken once and found the lock taken.
    handoff: bool,
    /// The first waiter was woken and has not run yet.
    woken: bool,
    /// Boxed on purpose: a pointer here, not the queue's 32 bytes, keeps the mutex 16 bytes.
    #[allow(clippy::box_collection)]
    waiters: Option<Box<VecDeque<TaskId>>>,
}

impl Default for Mutex {
    fn default() -> Self {
        Mutex { owner: NO_OWNER, handoff: false, woken: false, waiters: None }
    }
}

impl Mutex {
    pub fn owner(&self) -> Option<TaskId> {
        (self.owner != NO_OWNER).then_some(self.owner)
    }

    pub fn waiters(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.waiters.iter().flat_map(|w| w.iter().copied())
    }

    fn first_waiter(&self) -> Option<TaskId> {
        self.waiters.as_ref().and_then(|w| w.front().copied())
    }

    /// Takes the lock if free (`true`), else queues `task` (`false`). A free lock with waiters
    /// is one a v4.10 unlock left for its woken first waiter: whoever comes first takes it.
    pub fn lock(&mut self, task: TaskId) -> bool {
        debug_assert_ne!(task, NO_OWNER, "task id {task} is the free mutex's sentinel");
        if self.owner == NO_OWNER {
            self.owner = task;
            self.handoff = false;
            true
        } else {
            self.waiters.get_or_insert_default().push_back(task);
            false
        }
    }

    /// Releases the lock: FIFO hands it to the first waiter; else as v4.10 does.
    pub fn unlock(&mut self, task: TaskId, fifo: bool) -> Unlocked {
        assert_eq!(self.owner, task, "mutex unlocked by a task that does not own it");
        self.owner = NO_OWNER;
        let Some(first) = self.first_waiter() else { return Unlocked::Free };
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
        debug_assert_eq!(self.first_waiter(), Some(task), "only the first waiter is woken");
        if self.owner == NO_OWNER {
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
        self.owner = self.waiters.as_mut().and_then(|w| w.pop_front()).unwrap_or(NO_OWNER);
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
    #[cfg(target_pointer_width = "64")]
    fn a_mutex_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Mutex>(), 16);
    }

    #[test]
    #[should_panic(expected = "does not own it")]
    fn unlock_by_non_owner_is_a_bug() {
        let mut m = Mutex::default();
        m.lock(1);
        m.unlock(2, true);
    }
}
