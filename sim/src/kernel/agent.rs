//! What drives a task: an [`Agent`] picks the task's next operation, as a workload would.

use rand_chacha::ChaCha8Rng;

use crate::cpumask::CpuMask;
use crate::script::{Errno, ScriptId};

/// Arguments of one operation: the CPU and PMU it acts on, and its event's id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Args {
    pub cpu: u32,
    pub pmu: u16,
    /// Chosen by the agent, unique per run (for example task index << 32 | counter).
    pub event: u64,
    /// The tracepoint a tracepoint event or ftrace toggle uses (per-tracepoint counters).
    pub tracepoint: u16,
    /// Inherited children the operation's event has (`for_each_child`).
    pub children: u32,
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpOutcome {
    pub script: ScriptId,
    pub args: Args,
    pub started_ns: u64,
    pub ended_ns: u64,
    pub result: Result<(), Errno>,
}

/// What a task does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Run { script: ScriptId, args: Args },
    Sleep { ns: u64 },
    Exit,
}

/// What an agent may look at when it chooses.
pub struct AgentCx<'a> {
    pub now_ns: u64,
    /// The task's own random stream.
    pub rng: &'a mut ChaCha8Rng,
    /// The operation that just ended, if any.
    pub last: Option<OpOutcome>,
    /// The hotplug online mask.
    pub online: &'a CpuMask,
    /// perf's state (PMU list, uncore readers), read-only.
    pub perf: &'a crate::perf::Perf,
}

/// The program a task runs between operations (think times, which operation, which CPU).
pub trait Agent {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next;
}

/// Runs a fixed list of operations, sleeping before each, then exits. Handy for tests.
pub struct Sequence {
    steps: std::collections::VecDeque<(u64, ScriptId, Args)>,
}

impl Sequence {
    /// Each item is `(sleep_ns before it, script, args)`.
    pub fn new(steps: impl IntoIterator<Item = (u64, ScriptId, Args)>) -> Self {
        Sequence { steps: steps.into_iter().collect() }
    }
}

impl Agent for Sequence {
    fn next(&mut self, _cx: &mut AgentCx<'_>) -> Next {
        match self.steps.front_mut() {
            None => Next::Exit,
            Some((sleep_ns, _, _)) if *sleep_ns > 0 => Next::Sleep { ns: std::mem::take(sleep_ns) },
            Some(_) => {
                let (_, script, args) = self.steps.pop_front().expect("front exists");
                Next::Run { script, args }
            }
        }
    }
}
