//! Kernel lock primitives as pure state machines: who owns, who waits, who is handed the lock.
//!
//! They know nothing of time costs or the event queue; the kernel interpreter
//! (`crate::kernel`) charges costs, schedules wake-ups and keeps statistics.

mod mutex;
mod percpu_rwsem;
mod refcount_hotplug;
mod srcu;

pub use mutex::{Mutex, Unlocked};
pub use percpu_rwsem::{PercpuRwsem, WriteStart};
pub use refcount_hotplug::{ReadStart, RefcountHotplug};
pub use srcu::Srcu;

/// A simulated kernel thread.
pub type TaskId = u32;

/// The kind of a lock class; decides semantics and default costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockKind {
    /// Sleeping lock, one owner, FIFO handoff with a wake-up latency.
    Mutex,
    /// `cpu_hotplug_lock`: per-CPU reader fast path, writers go through rcu_sync.
    PercpuRwsem,
    /// Sleepable RCU: readers never block; `synchronize_srcu` waits for older readers.
    Srcu,
    /// Ticket spinlock: FIFO, busy-waiting, no wake-up latency.
    Spinlock,
    /// A lockdep map (`lock_map_acquire()`): never blocks and has any number of holders; it
    /// only records lock order, as `cpuhp_state` ties the control task to `cpuhp/N` (49dfe2a67797).
    LockdepMap,
    /// `cpu_hotplug_lock` of v4.12 and before: a refcount of readers under a short mutex,
    /// recursion-safe, a no-op for the writer task itself (`get_online_cpus()`).
    RefcountHotplug,
}

impl LockKind {
    pub const ALL: [LockKind; 6] = [
        LockKind::Mutex,
        LockKind::PercpuRwsem,
        LockKind::Srcu,
        LockKind::Spinlock,
        LockKind::LockdepMap,
        LockKind::RefcountHotplug,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::Mutex => "mutex",
            LockKind::PercpuRwsem => "percpu_rwsem",
            LockKind::Srcu => "srcu",
            LockKind::Spinlock => "spinlock",
            LockKind::LockdepMap => "lockdep_map",
            LockKind::RefcountHotplug => "refcount_hotplug",
        }
    }

    pub fn parse(name: &str) -> Option<LockKind> {
        LockKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// How a lock is taken. Mutexes and spinlocks are always `Write` (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    Read,
    Write,
}

impl Mode {
    /// lockdep's notation: `R` for a read acquisition, `W` for an exclusive one.
    pub fn letter(self) -> &'static str {
        match self {
            Mode::Read => "R",
            Mode::Write => "W",
        }
    }
}

/// What the waking side of a lock operation hands to a task that was blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub task: TaskId,
    pub mode: Mode,
}

/// A reader-writer lock's release to its queue: the leading readers get in (moved to
/// `readers`, returned as handed the lock), and the writer behind them, if any, leaves the
/// queue for the caller to start.
fn hand_on_in_order(
    waiters: &mut std::collections::VecDeque<(TaskId, Mode)>,
    readers: &mut Vec<TaskId>,
) -> (Vec<Handoff>, Option<TaskId>) {
    let mut woken = Vec::new();
    while let Some((waiter, mode)) = waiters.pop_front() {
        match mode {
            Mode::Read => {
                readers.push(waiter);
                woken.push(Handoff { task: waiter, mode });
            }
            Mode::Write => return (woken, Some(waiter)),
        }
    }
    (woken, None)
}

/// A blocked task's wait-for edges: one owner inline (most blocks), else a sorted list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blockers {
    Owner(Option<TaskId>),
    List(Vec<TaskId>),
}

impl Blockers {
    /// A sorted list with each task once.
    pub fn list(mut tasks: Vec<TaskId>) -> Blockers {
        tasks.sort_unstable();
        tasks.dedup();
        Blockers::List(tasks)
    }

    pub fn as_slice(&self) -> &[TaskId] {
        match self {
            Blockers::Owner(owner) => owner.as_slice(),
            Blockers::List(tasks) => tasks,
        }
    }
}

/// A reader-writer lock's wait-for edges for `task`: a writer waiting for readers waits on
/// every one; a queued task waits on the writer. Sorted, each task once.
fn rw_blockers(
    task: TaskId,
    writer: Option<TaskId>,
    writer_waits_for_readers: bool,
    readers: &[TaskId],
    waiters: &std::collections::VecDeque<(TaskId, Mode)>,
) -> Blockers {
    match writer {
        Some(w) if w == task && writer_waits_for_readers => Blockers::list(readers.to_vec()),
        Some(w) if waiters.iter().any(|&(t, _)| t == task) => Blockers::Owner(Some(w)),
        _ => Blockers::Owner(None),
    }
}
