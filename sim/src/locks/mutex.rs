//! `struct mutex` (and, with no wake-up latency, a ticket spinlock): one owner, FIFO waiters.

use std::collections::VecDeque;

use super::TaskId;

/// Mirrors the kernel mutex with handoff: on unlock the first waiter becomes the owner at once.
#[derive(Clone, Debug, Default)]
pub struct Mutex {
    owner: Option<TaskId>,
    waiters: VecDeque<TaskId>,
}

impl Mutex {
    pub fn owner(&self) -> Option<TaskId> {
        self.owner
    }

    pub fn waiters(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.waiters.iter().copied()
    }

    /// Takes the lock if free (`true`), else queues `task` (`false`).
    pub fn lock(&mut self, task: TaskId) -> bool {
        if self.owner.is_none() {
            debug_assert!(self.waiters.is_empty());
            self.owner = Some(task);
            true
        } else {
            self.waiters.push_back(task);
            false
        }
    }

    /// Releases the lock; returns the waiter it was handed to, if any.
    pub fn unlock(&mut self, task: TaskId) -> Option<TaskId> {
        assert_eq!(self.owner, Some(task), "mutex unlocked by a task that does not own it");
        self.owner = self.waiters.pop_front();
        self.owner
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
        assert_eq!(m.unlock(1), Some(2));
        assert_eq!(m.owner(), Some(2));
        assert_eq!(m.unlock(2), Some(3));
        assert_eq!(m.unlock(3), None);
        assert_eq!(m.owner(), None);
    }

    #[test]
    #[should_panic(expected = "does not own it")]
    fn unlock_by_non_owner_is_a_bug() {
        let mut m = Mutex::default();
        m.lock(1);
        m.unlock(2);
    }
}
