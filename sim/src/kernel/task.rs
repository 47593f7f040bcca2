//! A task as the kernel keeps it: its agent and random stream, the operation it runs (script
//! position and loops), the locks it holds (lockdep's `held_locks`) and what it waits for.

use super::{Agent, Args, EV_RESUME, OpOutcome, TaskSpec};
use crate::engine::Scheduler;
use crate::event::Event;
use crate::lockdep::LockdepAcquire;
use crate::locks::Mode;
use crate::rng::{ChaCha8Rng, stream_rng};
use crate::script::{IpiHandler, Position, ScriptId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TaskState {
    Running,
    Blocked,
    Frozen,
    Exited,
    /// A `cpuhp/N` thread with no AP work: it runs only when its control task kicks it.
    Parked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WaitKind {
    /// In a lock's wait queue.
    Lock,
    /// A percpu_rwsem writer waiting out rcu_sync's grace period.
    RcuSync,
    /// In `synchronize_srcu()`.
    SrcuSync,
    /// The control task in `wait_for_completion(&st->done)` while `cpuhp/N` runs the AP
    /// states; `Wait::lock` is then that thread's task id.
    ApWork,
}

/// What a task waits for, since when and where in its script.
#[derive(Clone, Copy, Debug)]
pub(super) struct Wait {
    pub lock: u32,
    pub mode: Mode,
    pub subclass: u8,
    pub since_ns: u64,
    pub at: Position,
    pub kind: WaitKind,
}

/// A lock a task holds: lockdep's `held_lock`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Held {
    pub lock: u32,
    pub mode: Mode,
    pub subclass: u8,
    /// How lockdep saw the acquisition.
    pub lockdep: LockdepAcquire,
    pub acquired_ns: u64,
    pub at: Position,
}

/// The operation a task runs: its script, the next step and the loops around it.
#[derive(Clone, Debug)]
pub(super) struct Op {
    pub script: ScriptId,
    pub pc: usize,
    pub args: Args,
    pub started_ns: u64,
    /// Enclosing loops, innermost last.
    pub loops: Vec<LoopFrame>,
    /// `held.len()` when the operation began: what it must give back.
    pub held_at_start: usize,
    /// A `check` of the scheme's own online view passed for this CPU (invariant 4 holds the
    /// open to the state it checked, not to a flag cleared since without its lock).
    pub view_checked_cpu: Option<u32>,
    /// The PMU of the innermost PMU or handoff loop (`PmuRef::Loop`), kept as the loops change
    /// rather than looked up at every step that names it.
    pub loop_pmu: Option<u16>,
}

impl Op {
    /// `script` from its first step, with `args`, from `now_ns`; the task holds `held` locks.
    /// `loops` is an empty vector to keep the loop frames in (the task's last one, so that
    /// starting an operation allocates nothing).
    pub(super) fn start(script: ScriptId, args: Args, now_ns: u64, held: usize, loops: Vec<LoopFrame>) -> Op {
        debug_assert!(loops.is_empty());
        Op {
            script,
            pc: 0,
            args,
            started_ns: now_ns,
            loops,
            held_at_start: held,
            view_checked_cpu: None,
            loop_pmu: None,
        }
    }

    /// The innermost PMU or handoff loop's current PMU, from the loop frames.
    pub(super) fn innermost_loop_pmu(&self) -> Option<u16> {
        self.loops.iter().rev().find_map(LoopFrame::pmu)
    }
}

#[derive(Clone, Debug)]
pub(super) enum LoopFrame {
    /// `repeat` and `for_each_child`: runs left.
    Repeat { left: u32 },
    /// A snapshot of the PMU list and the index of the current one.
    Pmus { pmus: std::sync::Arc<[u16]>, at: usize },
    /// Uncore PMUs to hand off, each with its target CPU.
    Handoffs { moves: Vec<(u16, u32)>, at: usize },
}

impl LoopFrame {
    /// The current PMU of a PMU or handoff loop; `None` for `repeat`.
    pub(super) fn pmu(&self) -> Option<u16> {
        match self {
            LoopFrame::Pmus { pmus, at } => Some(pmus[*at]),
            LoopFrame::Handoffs { moves, at } => Some(moves[*at].0),
            LoopFrame::Repeat { .. } => None,
        }
    }
}

/// An IPI sent whose handler has not run yet.
#[derive(Clone, Copy, Debug)]
pub(super) struct PendingIpi {
    pub cpu: u32,
    pub handler: IpiHandler,
    pub at: Position,
}

pub(super) struct Task {
    pub name: String,
    pub cpu: u32,
    pub agent: Box<dyn Agent>,
    pub rng: ChaCha8Rng,
    pub op: Option<Op>,
    /// The last operation's loop frames, emptied, for the next one.
    pub spare_loops: Vec<LoopFrame>,
    pub held: Vec<Held>,
    pub wait: Option<Wait>,
    pub state: TaskState,
    pub last: Option<OpOutcome>,
    /// An IPI whose handler has not run yet.
    pub ipi: Option<PendingIpi>,
}

impl Task {
    /// A parked `cpuhp/N` thread for a control task, drawing from `stream` of `seed`.
    pub(super) fn cpuhp_thread(stream: u64, seed: u64) -> Task {
        Task {
            name: "cpuhp".into(),
            cpu: 0,
            agent: Box::new(super::agent::Sequence::new(Vec::new())),
            rng: stream_rng(seed, stream),
            op: None,
            spare_loops: Vec::new(),
            held: Vec::new(),
            wait: None,
            state: TaskState::Parked,
            last: None,
            ipi: None,
        }
    }

    /// A task that starts running `spec`'s agent at its start time (scheduled on `sched` as
    /// task `id`), with the random stream `spec.stream` of `seed`.
    pub(super) fn start(id: u32, spec: TaskSpec, seed: u64, sched: &mut Scheduler) -> Task {
        sched.schedule_at(spec.start_ns, Event::new(id, EV_RESUME, 0));
        Task {
            name: spec.name,
            cpu: spec.cpu,
            agent: spec.agent,
            rng: stream_rng(seed, spec.stream),
            op: None,
            spare_loops: Vec::new(),
            held: Vec::new(),
            wait: None,
            state: TaskState::Running,
            last: None,
            ipi: None,
        }
    }

    /// Whether the task has wait-for edges at all (blocked or frozen on a lock).
    #[inline]
    pub(super) fn waits(&self) -> bool {
        self.wait.is_some() && self.blocked_or_frozen()
    }

    #[inline]
    pub(super) fn blocked_or_frozen(&self) -> bool {
        matches!(self.state, TaskState::Blocked | TaskState::Frozen)
    }

    /// The operation in progress.
    #[inline]
    pub(super) fn op(&self) -> &Op {
        self.op.as_ref().expect("operation in progress")
    }

    #[inline]
    pub(super) fn op_mut(&mut self) -> &mut Op {
        self.op.as_mut().expect("op")
    }
}
