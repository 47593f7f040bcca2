//! Sleepable RCU (`pmus_srcu`): readers never block; `synchronize_srcu()` waits for every
//! reader that started before it, and for at least one grace period.

use super::TaskId;

#[derive(Clone, Debug)]
struct Sync {
    task: TaskId,
    /// Reader ids that must finish before this synchronize may return.
    older_readers: Vec<u64>,
    grace_period_over: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Srcu {
    /// Active readers: (reader id, task), in start order.
    readers: Vec<(u64, TaskId)>,
    next_reader_id: u64,
    syncs: Vec<Sync>,
}

impl Srcu {
    pub fn read_lock(&mut self, task: TaskId) {
        self.readers.push((self.next_reader_id, task));
        self.next_reader_id += 1;
    }

    /// Ends `task`'s most recent read section; returns synchronizers that may now return.
    pub fn read_unlock(&mut self, task: TaskId) -> Vec<TaskId> {
        let at = self.readers.iter().rposition(|&(_, t)| t == task).expect("srcu_read_unlock without srcu_read_lock");
        let (id, _) = self.readers.remove(at);
        for sync in &mut self.syncs {
            sync.older_readers.retain(|&r| r != id);
        }
        self.take_finished()
    }

    /// Starts `synchronize_srcu()` for `task`, snapshotting the readers it must wait for.
    pub fn synchronize(&mut self, task: TaskId) {
        let older_readers = self.readers.iter().map(|&(id, _)| id).collect();
        self.syncs.push(Sync { task, older_readers, grace_period_over: false });
    }

    /// The grace period of `task`'s synchronize has elapsed; returns synchronizers that may return.
    pub fn grace_period_over(&mut self, task: TaskId) -> Vec<TaskId> {
        let sync = self.syncs.iter_mut().find(|s| s.task == task).expect("synchronize in progress");
        sync.grace_period_over = true;
        self.take_finished()
    }

    fn take_finished(&mut self) -> Vec<TaskId> {
        let mut done = Vec::new();
        self.syncs.retain(|s| {
            let finished = s.grace_period_over && s.older_readers.is_empty();
            if finished {
                done.push(s.task);
            }
            !finished
        });
        done
    }

    /// Tasks whose read sections `task`'s synchronize still waits for (empty if none).
    pub fn blockers(&self, task: TaskId) -> super::Blockers {
        let Some(sync) = self.syncs.iter().find(|s| s.task == task) else {
            return super::Blockers::Owner(None);
        };
        super::Blockers::list(
            self.readers.iter().filter(|(id, _)| sync.older_readers.contains(id)).map(|&(_, t)| t).collect(),
        )
    }

    pub fn readers(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.readers.iter().map(|&(_, t)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronize_waits_for_older_readers_only() {
        let mut s = Srcu::default();
        s.read_lock(1);
        s.synchronize(9);
        s.read_lock(2);
        assert_eq!(s.blockers(9).as_slice(), &[1]);
        assert!(s.grace_period_over(9).is_empty());
        assert!(s.read_unlock(2).is_empty());
        assert_eq!(s.read_unlock(1), vec![9]);
    }

    #[test]
    fn synchronize_with_no_readers_returns_after_its_grace_period() {
        let mut s = Srcu::default();
        s.synchronize(3);
        assert_eq!(s.grace_period_over(3), vec![3]);
    }
}
