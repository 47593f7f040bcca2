//! Lock scripts: the vocabulary operations are written in, and their compiled form.
//!
//! A script is a tree of [`Step`]s (the vocabulary of docs/model.md §4.1). [`Program::compile`] flattens it
//! into numbered instructions so that a script position is one number, printed as
//! `name+step` in the style of lockdep's `function+offset`.

mod placement;
pub mod text;

pub use placement::{EventArg, MAX_CHILDREN, MAX_STEP_RUNS, PlacementError, ScriptEnv, nth_step, verify_placement};

use std::fmt;

use crate::locks::Mode;

/// Index of a lock class in the kernel's class table.
pub type ClassId = u16;
/// Index of a program in the kernel's script table.
pub type ScriptId = u16;
/// Index of a counter (a refcount or static key) in the kernel's counter table.
pub type CounterId = u16;

/// Most instructions one compiled script may have.
pub const MAX_SCRIPT_STEPS: usize = 4096;
/// Deepest nesting of loops and checks in one script.
pub const MAX_SCRIPT_DEPTH: usize = 16;

/// A kernel error number as the operation returns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Errno {
    Enodev,
    Enxio,
    Ebusy,
    Einval,
}

impl Errno {
    pub fn as_str(self) -> &'static str {
        match self {
            Errno::Enodev => "ENODEV",
            Errno::Enxio => "ENXIO",
            Errno::Ebusy => "EBUSY",
            Errno::Einval => "EINVAL",
        }
    }

    pub fn parse(name: &str) -> Option<Errno> {
        [Errno::Enodev, Errno::Enxio, Errno::Ebusy, Errno::Einval]
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(name.trim_start_matches('-')))
    }
}

/// Which CPU a step refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CpuRef {
    /// The operation's CPU argument (the CPU going down, the CPU an event is opened on).
    Arg,
    /// The CPU the task runs on.
    Current,
    Fixed(u32),
    /// Inside `for_each_handoff`: the CPU an uncore context moves to.
    Target,
    /// Inside `for_each_handoff`: the lower-addressed of `Arg` and `Target` (taken first).
    Lower,
    /// Inside `for_each_handoff`: the higher-addressed of `Arg` and `Target`.
    Higher,
}

/// Which PMU a step refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PmuRef {
    /// The operation's PMU argument.
    Arg,
    /// The PMU of the innermost `for_each_pmu` or `for_each_handoff`.
    Loop,
}

/// How many instances a lock class has, and what picks one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// One instance (`cpu_hotplug_lock`, `pmus_lock`).
    Global,
    /// One per possible CPU.
    PerCpu,
    /// One per CPU and PMU slot (`ctx->mutex` before v6.2), or per CPU with
    /// `context_layout = per-cpu`.
    Ctx,
    /// One per PMU slot (`dev->mutex`).
    PerPmu,
    /// Per task, two slots: the task's own and its current child's (`ctx->mutex` of task
    /// contexts, `event->child_mutex`, `perf_event_mutex`).
    PerTask,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Global => "global",
            Layout::PerCpu => "per_cpu",
            Layout::Ctx => "ctx",
            Layout::PerPmu => "per_pmu",
            Layout::PerTask => "per_task",
        }
    }
}

/// Which lock instance a step refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockRef {
    /// The single instance of a global class (`cpu_hotplug_lock`, `pmus_lock`).
    Global(ClassId),
    /// The instance of a per-CPU class for that CPU.
    PerCpu(ClassId, CpuRef),
    /// A `perf_cpu_context` lock (`ctx->mutex`): one per CPU and PMU, or one per CPU when
    /// contexts are laid out per CPU (v6.2).
    Ctx(ClassId, CpuRef, PmuRef),
    /// One per PMU (`dev->mutex` of the PMU's device).
    PerPmu(ClassId, PmuRef),
    /// One per task and slot: the task's own, or its current inherited child's.
    PerTask(ClassId, TaskSlot),
}

/// Which of a task's two per-task instances a step refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskSlot {
    /// The task's own (its task context, its event's `child_mutex`).
    Own,
    /// Its current inherited child's (the child's task context).
    Child,
}

impl TaskSlot {
    pub fn index(self) -> u32 {
        match self {
            TaskSlot::Own => 0,
            TaskSlot::Child => 1,
        }
    }
}

/// How many instances a counter has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterLayout {
    /// One (`pmc_refcount`, `perf_sched_count`).
    Global,
    /// One per tracepoint, picked by the operation's tracepoint argument (`perf_refcount`).
    PerTracepoint,
}

/// A refcount or static key's `enabled` count: `inc`, `dec` and `if zero/nonzero` test it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CounterRef {
    pub id: CounterId,
    pub layout: CounterLayout,
}

/// What an `if` step tests. Every test and the steps up to the next one that can wait run at
/// one instant, so `if zero X { … } inc X` is atomic as `atomic_inc_not_zero` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// The counter is 0.
    Zero(CounterRef),
    /// The counter is not 0.
    NonZero(CounterRef),
    /// The counter is exactly 1 (`atomic_dec_and_mutex_lock()`'s "might hit 0").
    One(CounterRef),
    /// The flag is set.
    Set(Flag),
    /// The flag is clear.
    Clear(Flag),
    /// The PMU is core-scoped (the x86 `cpu` PMU, not an uncore box).
    CorePmu(PmuRef),
    /// That CPU's context of that PMU has events installed.
    HasEvents(CpuRef, PmuRef),
}

impl LockRef {
    /// The layout this reference needs its class to have.
    pub fn layout(self) -> Layout {
        match self {
            LockRef::Global(_) => Layout::Global,
            LockRef::PerCpu(..) => Layout::PerCpu,
            LockRef::Ctx(..) => Layout::Ctx,
            LockRef::PerPmu(..) => Layout::PerPmu,
            LockRef::PerTask(..) => Layout::PerTask,
        }
    }

    pub fn class(self) -> ClassId {
        match self {
            LockRef::Global(c)
            | LockRef::PerCpu(c, _)
            | LockRef::Ctx(c, _, _)
            | LockRef::PerPmu(c, _)
            | LockRef::PerTask(c, _) => c,
        }
    }
}

/// A time cost: `base_ns + per_online_cpu_ns × online CPUs + per_possible_cpu_ns × CPUs`,
/// used as is or as the mean of an exponential draw from the task's stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cost {
    pub base_ns: u64,
    pub per_online_cpu_ns: u64,
    pub per_possible_cpu_ns: u64,
    pub exponential: bool,
}

impl Cost {
    pub const fn fixed(ns: u64) -> Self {
        Cost { base_ns: ns, per_online_cpu_ns: 0, per_possible_cpu_ns: 0, exponential: false }
    }

    pub const fn exp(mean_ns: u64) -> Self {
        Cost { base_ns: mean_ns, per_online_cpu_ns: 0, per_possible_cpu_ns: 0, exponential: true }
    }

    /// The cost with `online_cpus` of `possible_cpus` CPUs (the mean, when exponential).
    ///
    /// Panics on overflow, which bounded input rules out: every term a script or scenario gives
    /// is at most [`crate::time::MAX_COST_NS`] and a machine has at most
    /// [`crate::kernel::MAX_CPUS`] CPUs, so the sum fits a `u64` with room to spare.
    pub fn mean_ns(&self, online_cpus: u64, possible_cpus: u64) -> u64 {
        let online_ns = self.per_online_cpu_ns.checked_mul(online_cpus);
        let possible_ns = self.per_possible_cpu_ns.checked_mul(possible_cpus);
        online_ns
            .zip(possible_ns)
            .and_then(|(online_ns, possible_ns)| online_ns.checked_add(possible_ns)?.checked_add(self.base_ns))
            .expect("cost terms are bounded by MAX_COST_NS at input and CPUs by MAX_CPUS")
    }
}

/// A piece of kernel state a step tests ([`Step::Check`]) or writes ([`Step::Set`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    /// The hotplug online mask (`cpu_online()`).
    CpuOnline(CpuRef),
    /// `cpuctx->online` of that CPU's context of that PMU.
    CtxOnline(CpuRef, PmuRef),
    /// `perf_online_mask`.
    PerfOnline(CpuRef),
    /// A per-CPU usable mask (like RCU's `->qsmaskinitnext`).
    Usable(CpuRef),
}

/// What an IPI handler does on the target CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpiHandler {
    /// Program the operation's event on the context (`__perf_install_in_context`).
    InstallEvent,
    /// Remove the operation's event from its context.
    RemoveEvent,
    /// Remove every event of that CPU's context of the loop PMU (`__perf_event_exit_context`).
    RemoveEvents,
    /// Only spend time.
    Work(Cost),
}

/// Which registered PMUs a `for_each_pmu` visits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PmuFilter {
    All,
    /// Core-scoped PMUs only.
    Core,
    /// Uncore (package-scoped) PMUs only.
    Uncore,
}

/// How `perf_pmu_register` sets each CPU's `cpuctx->online` for a new PMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InitFrom {
    /// From the hotplug online mask (safe only under `cpu_hotplug_lock`).
    CpuOnline,
    /// From `perf_online_mask` (v4.13 `perf_pmu_register()`).
    PerfOnline,
    /// Every possible CPU (for a scheme whose usable mask gates use instead).
    AllPossible,
}

/// Bookkeeping points where invariants are checked (docs/model.md §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mark {
    /// perf's exit(c) has finished: no event may be programmed on `c` from now on.
    PerfExitDone,
    /// perf's init(c) starts: events may be programmed on `c` again.
    PerfInitStart,
    /// `cpu_up(c)` returns: every registered PMU's context on `c` must be usable.
    CpuUpDone,
}

/// Which grace period a [`Step::Synchronize`] waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SyncKind {
    /// `synchronize_srcu()` on that SRCU lock.
    Srcu(LockRef),
    Rcu,
    RcuExpedited,
}

/// One step of a lock script.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Take a lock. `nested` is lockdep's `mutex_lock_nested(…, SINGLE_DEPTH_NESTING)`.
    Lock {
        lock: LockRef,
        mode: Mode,
        nested: bool,
    },
    Unlock {
        lock: LockRef,
    },
    Work(Cost),
    /// `smp_call_function_single(cpu, …)`: wait for the handler to run on that CPU.
    Ipi {
        cpu: CpuRef,
        handler: IpiHandler,
    },
    /// If `flag` is clear, run `otherwise`, release what is still held (innermost first) and
    /// end the operation with `errno`.
    Check {
        flag: Flag,
        errno: Errno,
        otherwise: Vec<Step>,
    },
    Set {
        flag: Flag,
        value: bool,
    },
    Synchronize(SyncKind),
    /// `stop_machine()`: every online CPU rendezvous.
    StopMachine,
    Repeat {
        times: u32,
        body: Vec<Step>,
    },
    /// Visit the registered PMUs (a snapshot of the list at loop start), binding `PmuRef::Loop`.
    ForEachPmu {
        filter: PmuFilter,
        body: Vec<Step>,
    },
    /// Visit each uncore PMU whose designated reader in `Arg`'s package is `Arg` and that has
    /// another online CPU there to move to, binding `PmuRef::Loop` and `CpuRef::Target`.
    ForEachHandoff {
        body: Vec<Step>,
    },
    /// `perf_pmu_migrate_context()`'s move: the loop PMU's events on `Arg` go to `Target`,
    /// which becomes the package's designated reader.
    MoveEvents,
    /// Make `Arg` the designated reader of every uncore PMU whose package has none online.
    AdoptUncore,
    /// `perf_pmu_register()`'s list add of PMU `Arg`, with its contexts initialised.
    RegisterPmu {
        init: InitFrom,
    },
    /// `perf_pmu_unregister()`'s list del of PMU `Arg`.
    UnregisterPmu,
    Mark(Mark),
    /// Add 1 to a counter.
    Inc(CounterRef),
    /// Take 1 from a counter (a counter at 0 stays there and the run records a violation).
    Dec(CounterRef),
    /// Run `then` if `cond` holds, else `otherwise`.
    If {
        cond: Cond,
        then: Vec<Step>,
        otherwise: Vec<Step>,
    },
    /// Run the body once per inherited child the operation's arguments name, innermost child
    /// context bound to `TaskSlot::Child` (`perf_event_release_kernel`'s children loop).
    ForEachChild {
        body: Vec<Step>,
    },
    /// Kick the target CPU's hotplug thread `cpuhp/N` to run the AP states (the operation
    /// `script`, with this operation's arguments) and wait for it (`cpuhp_kick_ap_work()`).
    KickAp {
        script: ScriptId,
    },
}

impl Step {
    /// The step's blocks, in the order verification numbers their steps: a loop's body, a
    /// check's `otherwise`, an `if`'s `then` and then its `otherwise`.
    pub fn blocks(&self) -> Vec<&[Step]> {
        match self {
            Step::Check { otherwise: body, .. }
            | Step::Repeat { body, .. }
            | Step::ForEachPmu { body, .. }
            | Step::ForEachHandoff { body }
            | Step::ForEachChild { body } => vec![body.as_slice()],
            Step::If { then, otherwise, .. } => vec![then.as_slice(), otherwise.as_slice()],
            _ => Vec::new(),
        }
    }
}

/// A compiled instruction; jump targets are instruction indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instr {
    Lock {
        lock: LockRef,
        mode: Mode,
        nested: bool,
    },
    Unlock {
        lock: LockRef,
    },
    Work(Cost),
    Ipi {
        cpu: CpuRef,
        handler: IpiHandler,
    },
    /// Fall through if `flag` is set, else jump to `otherwise`.
    Check {
        flag: Flag,
        otherwise: usize,
    },
    Set {
        flag: Flag,
        value: bool,
    },
    Synchronize(SyncKind),
    StopMachine,
    /// Run the body (up to the matching `RepeatEnd`) `times` times; skip it when 0.
    RepeatBegin {
        times: u32,
        end: usize,
    },
    RepeatEnd {
        begin: usize,
    },
    /// Snapshot the PMU list; skip to after `end` if empty.
    PmuLoopBegin {
        filter: PmuFilter,
        end: usize,
    },
    /// Next PMU of the innermost PMU loop, or fall through.
    PmuLoopEnd {
        begin: usize,
    },
    HandoffLoopBegin {
        end: usize,
    },
    HandoffLoopEnd {
        begin: usize,
    },
    MoveEvents,
    AdoptUncore,
    RegisterPmu {
        init: InitFrom,
    },
    UnregisterPmu,
    Mark(Mark),
    Inc(CounterRef),
    Dec(CounterRef),
    /// Fall through if `cond` holds, else jump to `otherwise`.
    Branch {
        cond: Cond,
        otherwise: usize,
    },
    Jump {
        to: usize,
    },
    /// Run the body `args.children` times; skip it when 0.
    ChildLoopBegin {
        end: usize,
    },
    ChildLoopEnd {
        begin: usize,
    },
    KickAp {
        script: ScriptId,
    },
    /// The operation succeeded.
    Return,
    /// The operation failed: release what is still held and return the error.
    Fail(Errno),
}

/// A compiled script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub name: String,
    pub instrs: Vec<Instr>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("script `{0}` has more than {MAX_SCRIPT_STEPS} steps")]
    TooLong(String),
    #[error("script `{0}` nests deeper than {MAX_SCRIPT_DEPTH}")]
    TooDeep(String),
}

impl Program {
    pub fn compile(name: &str, steps: &[Step]) -> Result<Program, ScriptError> {
        let mut instrs = Vec::new();
        let mut fail_blocks = Vec::new();
        emit(name, steps, 0, &mut instrs, &mut fail_blocks)?;
        instrs.push(Instr::Return);
        while let Some((check_at, errno, otherwise)) = fail_blocks.pop() {
            let start = instrs.len();
            if let Instr::Check { otherwise: target, .. } = &mut instrs[check_at] {
                *target = start;
            }
            emit(name, &otherwise, 1, &mut instrs, &mut fail_blocks)?;
            instrs.push(Instr::Fail(errno));
        }
        // The implicit return at the end is not a step of the script.
        if instrs.len() > MAX_SCRIPT_STEPS + 1 {
            return Err(ScriptError::TooLong(name.to_string()));
        }
        Ok(Program { name: name.to_string(), instrs })
    }
}

type FailBlock = (usize, Errno, Vec<Step>);

fn emit(
    name: &str,
    steps: &[Step],
    depth: usize,
    out: &mut Vec<Instr>,
    fail_blocks: &mut Vec<FailBlock>,
) -> Result<(), ScriptError> {
    if depth > MAX_SCRIPT_DEPTH {
        return Err(ScriptError::TooDeep(name.to_string()));
    }
    if out.len() > MAX_SCRIPT_STEPS {
        return Err(ScriptError::TooLong(name.to_string()));
    }
    for step in steps {
        match step {
            Step::Lock { lock, mode, nested } => out.push(Instr::Lock { lock: *lock, mode: *mode, nested: *nested }),
            Step::Unlock { lock } => out.push(Instr::Unlock { lock: *lock }),
            Step::Work(cost) => out.push(Instr::Work(*cost)),
            Step::Ipi { cpu, handler } => out.push(Instr::Ipi { cpu: *cpu, handler: *handler }),
            Step::Check { flag, errno, otherwise } => {
                fail_blocks.push((out.len(), *errno, otherwise.clone()));
                out.push(Instr::Check { flag: *flag, otherwise: usize::MAX });
            }
            Step::Set { flag, value } => out.push(Instr::Set { flag: *flag, value: *value }),
            Step::Synchronize(kind) => out.push(Instr::Synchronize(*kind)),
            Step::StopMachine => out.push(Instr::StopMachine),
            Step::Repeat { times, body } => {
                let begin = out.len();
                out.push(Instr::RepeatBegin { times: *times, end: usize::MAX });
                emit(name, body, depth + 1, out, fail_blocks)?;
                let end = out.len();
                out.push(Instr::RepeatEnd { begin });
                out[begin] = Instr::RepeatBegin { times: *times, end };
            }
            Step::ForEachPmu { filter, body } => {
                let begin = out.len();
                out.push(Instr::PmuLoopBegin { filter: *filter, end: usize::MAX });
                emit(name, body, depth + 1, out, fail_blocks)?;
                let end = out.len();
                out.push(Instr::PmuLoopEnd { begin });
                out[begin] = Instr::PmuLoopBegin { filter: *filter, end };
            }
            Step::ForEachHandoff { body } => {
                let begin = out.len();
                out.push(Instr::HandoffLoopBegin { end: usize::MAX });
                emit(name, body, depth + 1, out, fail_blocks)?;
                let end = out.len();
                out.push(Instr::HandoffLoopEnd { begin });
                out[begin] = Instr::HandoffLoopBegin { end };
            }
            Step::MoveEvents => out.push(Instr::MoveEvents),
            Step::AdoptUncore => out.push(Instr::AdoptUncore),
            Step::RegisterPmu { init } => out.push(Instr::RegisterPmu { init: *init }),
            Step::UnregisterPmu => out.push(Instr::UnregisterPmu),
            Step::Mark(mark) => out.push(Instr::Mark(*mark)),
            Step::Inc(counter) => out.push(Instr::Inc(*counter)),
            Step::Dec(counter) => out.push(Instr::Dec(*counter)),
            Step::If { cond, then, otherwise } => {
                let branch = out.len();
                out.push(Instr::Branch { cond: *cond, otherwise: usize::MAX });
                emit(name, then, depth + 1, out, fail_blocks)?;
                if otherwise.is_empty() {
                    out[branch] = Instr::Branch { cond: *cond, otherwise: out.len() };
                } else {
                    let jump = out.len();
                    out.push(Instr::Jump { to: usize::MAX });
                    out[branch] = Instr::Branch { cond: *cond, otherwise: out.len() };
                    emit(name, otherwise, depth + 1, out, fail_blocks)?;
                    out[jump] = Instr::Jump { to: out.len() };
                }
            }
            Step::ForEachChild { body } => {
                let begin = out.len();
                out.push(Instr::ChildLoopBegin { end: usize::MAX });
                emit(name, body, depth + 1, out, fail_blocks)?;
                let end = out.len();
                out.push(Instr::ChildLoopEnd { begin });
                out[begin] = Instr::ChildLoopBegin { end };
            }
            Step::KickAp { script } => out.push(Instr::KickAp { script: *script }),
        }
    }
    Ok(())
}

/// Checks that a script gives back every lock it takes: each `unlock` matches a lock held at
/// that point, every loop body is balanced, and nothing is held at the end. A failed `check`
/// releases what is still held, so its `otherwise` block may leave locks held.
pub fn verify_balanced(steps: &[Step]) -> Result<(), String> {
    verify_balanced_named(steps, &|lock| format!("{lock:?}"))
}

/// [`verify_balanced`], naming locks in its messages with `name` (e.g. as the text form does).
pub fn verify_balanced_named(steps: &[Step], name: &dyn Fn(LockRef) -> String) -> Result<(), String> {
    let mut held = Vec::new();
    walk(steps, &mut held, &mut 0, name)?;
    match held.last() {
        None => Ok(()),
        Some((lock, at)) => Err(format!("step {at} takes {} and the script never releases it", name(*lock))),
    }
}

fn walk(
    steps: &[Step],
    held: &mut Vec<(LockRef, usize)>,
    step: &mut usize,
    name: &dyn Fn(LockRef) -> String,
) -> Result<(), String> {
    for s in steps {
        let at = *step;
        *step += 1;
        match s {
            Step::Lock { lock, .. } => held.push((*lock, at)),
            Step::Unlock { lock } => match held.iter().rposition(|(l, _)| l == lock) {
                Some(i) => {
                    held.remove(i);
                }
                None => return Err(format!("step {at} unlocks {}, which is not held there", name(*lock))),
            },
            Step::Check { otherwise, .. } => {
                let mut inner = held.clone();
                walk(otherwise, &mut inner, step, name)?;
            }
            Step::If { then, otherwise, .. } => {
                let mut other = held.clone();
                walk(then, held, step, name)?;
                walk(otherwise, &mut other, step, name)?;
                if !same_locks(held, &other) {
                    return Err(format!("the two branches of the `if` at step {at} leave different locks held"));
                }
            }
            Step::Repeat { body, .. }
            | Step::ForEachPmu { body, .. }
            | Step::ForEachHandoff { body }
            | Step::ForEachChild { body } => {
                let before = held.clone();
                walk(body, held, step, name)?;
                if !same_locks(held, &before) {
                    return Err(format!("the loop at step {at} does not release what its body takes"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The same locks held, in the same order, wherever each was taken (a loop body may drop a
/// lock and take it again, as `perf_event_release_kernel()`'s children loop does).
fn same_locks(a: &[(LockRef, usize)], b: &[(LockRef, usize)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((x, _), (y, _))| x == y)
}

/// Where a task is in a script: printed as `name+step`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub script: ScriptId,
    pub step: u16,
}

/// A [`Position`] with its script's name, for reports.
pub struct NamedPosition<'a>(pub &'a str, pub Position);

impl fmt::Display for NamedPosition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.0, self.1.step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_ns_is_base_plus_each_per_cpu_term_times_its_cpus() {
        let cost = Cost { base_ns: 5_000, per_online_cpu_ns: 200, per_possible_cpu_ns: 300, exponential: false };
        assert_eq!(cost.mean_ns(3, 8), 5_000 + 200 * 3 + 300 * 8);
        assert_eq!(cost.mean_ns(0, 0), 5_000);
    }

    #[test]
    fn mean_ns_of_the_largest_costs_on_the_largest_machine_fits() {
        let max = crate::time::MAX_COST_NS;
        let cost = Cost { base_ns: max, per_online_cpu_ns: max, per_possible_cpu_ns: max, exponential: true };
        let cpus = u64::from(crate::kernel::MAX_CPUS);
        assert_eq!(cost.mean_ns(cpus, cpus), max * (1 + 2 * cpus));
    }

    #[test]
    #[should_panic(expected = "bounded by MAX_COST_NS")]
    fn mean_ns_stops_rather_than_wraps() {
        Cost { base_ns: u64::MAX, per_online_cpu_ns: 1, ..Cost::default() }.mean_ns(1, 1);
    }

    #[test]
    fn check_failure_jumps_to_its_block_after_the_return() {
        let l = LockRef::Global(0);
        let steps = vec![
            Step::Lock { lock: l, mode: Mode::Write, nested: false },
            Step::Check {
                flag: Flag::CpuOnline(CpuRef::Arg),
                errno: Errno::Enodev,
                otherwise: vec![Step::Work(Cost::fixed(5))],
            },
            Step::Unlock { lock: l },
        ];
        let p = Program::compile("open", &steps).unwrap();
        assert_eq!(
            p.instrs,
            vec![
                Instr::Lock { lock: l, mode: Mode::Write, nested: false },
                Instr::Check { flag: Flag::CpuOnline(CpuRef::Arg), otherwise: 4 },
                Instr::Unlock { lock: l },
                Instr::Return,
                Instr::Work(Cost::fixed(5)),
                Instr::Fail(Errno::Enodev),
            ]
        );
    }

    #[test]
    fn repeat_points_at_its_end_and_back() {
        let p = Program::compile("r", &[Step::Repeat { times: 3, body: vec![Step::Work(Cost::fixed(1))] }]).unwrap();
        assert_eq!(
            p.instrs,
            vec![
                Instr::RepeatBegin { times: 3, end: 2 },
                Instr::Work(Cost::fixed(1)),
                Instr::RepeatEnd { begin: 0 },
                Instr::Return
            ]
        );
    }

    #[test]
    fn unbalanced_scripts_are_rejected_with_the_step() {
        let (a, b) = (LockRef::Global(0), LockRef::Global(1));
        let take = |l| Step::Lock { lock: l, mode: Mode::Write, nested: false };
        assert_eq!(verify_balanced(&[take(a), Step::Unlock { lock: a }]), Ok(()));
        assert!(verify_balanced(&[Step::Unlock { lock: a }]).unwrap_err().contains("step 0 unlocks"));
        assert!(verify_balanced(&[take(a), take(b), Step::Unlock { lock: b }]).unwrap_err().contains("step 0 takes"));
        let leaky_loop = Step::ForEachPmu { filter: PmuFilter::All, body: vec![take(a)] };
        assert!(verify_balanced(&[leaky_loop]).unwrap_err().contains("loop at step 0"));
        let check = Step::Check { flag: Flag::CpuOnline(CpuRef::Arg), errno: Errno::Enodev, otherwise: vec![] };
        assert_eq!(verify_balanced(&[take(a), check, Step::Unlock { lock: a }]), Ok(()));
    }

    #[test]
    fn a_script_of_exactly_the_most_steps_compiles_and_one_more_does_not() {
        let steps = vec![Step::Work(Cost::fixed(1)); MAX_SCRIPT_STEPS];
        assert_eq!(Program::compile("full", &steps).map(|p| p.instrs.len()), Ok(MAX_SCRIPT_STEPS + 1));
        let steps = vec![Step::Work(Cost::fixed(1)); MAX_SCRIPT_STEPS + 1];
        assert_eq!(Program::compile("over", &steps), Err(ScriptError::TooLong("over".into())));
    }

    #[test]
    fn too_deep_nesting_is_an_error() {
        let mut steps = vec![Step::Work(Cost::fixed(1))];
        for _ in 0..=MAX_SCRIPT_DEPTH {
            steps = vec![Step::Repeat { times: 1, body: steps }];
        }
        assert_eq!(Program::compile("deep", &steps), Err(ScriptError::TooDeep("deep".into())));
    }
}
