//! The kernel model: tasks running lock scripts on lock instances, on CPUs that go on- and
//! offline, with lock statistics, lock-order recording and exact online deadlock detection.
//!
//! This is the program under simulation in shuttle's sense; [`crate::Scheduler`] drives it.
//! This file builds the kernel, holds its parts and routes the engine's events to them: the
//! tasks (`task`), the script interpreter (`interpreter`, `ipi`), the lock table
//! (`lock_table`), the deadlock detector (`deadlock`), the invariants (`invariants`), the PMU
//! load (`pmu_load`) and the timeline (`trace`).

mod agent;
mod costs;
mod counters;
mod deadlock;
mod interpreter;
mod invariants;
mod ipi;
mod lock_table;
mod pmu_load;
mod task;
mod trace;

pub use agent::{Agent, AgentCx, Args, Next, OpOutcome, Sequence};
pub use costs::Costs;
pub use counters::{CounterDef, MAX_COUNTERS, MAX_TRACEPOINTS};
pub use deadlock::{CycleMember, Deadlock, Stall};
pub use invariants::{Invariant, Violation};
pub use pmu_load::{PmuLoadConfig, PmuStats, STREAM_PMU_SOURCE};
pub use trace::{TraceCounts, TraceEvent, TraceFlow, TraceInstant, TraceSpan, Track};

use self::task::{Task, TaskState};
use crate::cpumask::CpuMask;
use crate::engine::{Model, RunOutcome, Scheduler};
use crate::event::Event;
use crate::lockdep::LockOrder;
use crate::locks::{LockKind, Mode, TaskId};
use crate::lockstat::{LockStat, new_histogram};
use crate::perf::{Perf, PerfConfig};
use crate::script::{ClassId, Instr, Layout, Position, Program, ScriptId, SyncKind};
use hdrhistogram::Histogram;

/// Most possible CPUs a machine may have.
pub const MAX_CPUS: u32 = 1 << 17;
/// Most tasks one kernel may run.
pub const MAX_TASKS: usize = 1 << 20;
/// Most lock classes.
pub const MAX_CLASSES: usize = 256;

/// A lock class: lockdep's notion (all `ctx->mutex` share one), with instances per `layout`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockClassDef {
    pub name: String,
    pub kind: LockKind,
    pub layout: Layout,
    /// lockdep validates the class; `false` is `lockdep_set_novalidate_class()` (`dev->mutex`
    /// since 2010): its acquisitions add no dependencies and are not checked.
    pub validate: bool,
}

impl LockClassDef {
    /// A class lockdep validates.
    pub fn new(name: impl Into<String>, kind: LockKind, layout: Layout) -> LockClassDef {
        LockClassDef { name: name.into(), kind, layout, validate: true }
    }
}

/// What the run does when a wait-for cycle closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDeadlock {
    /// Stop the run at the first deadlock.
    Stop,
    /// Leave the cycle's tasks blocked forever and go on.
    Freeze,
}

/// Everything a kernel is built from.
pub struct KernelConfig {
    pub seed: u64,
    /// Index of this run in its sweep (recorded with lock-order edges).
    pub run_index: u64,
    pub cpus: u32,
    pub costs: Costs,
    pub on_deadlock: OnDeadlock,
    pub classes: Vec<LockClassDef>,
    pub programs: Vec<Program>,
    pub perf: PerfConfig,
    /// One `perf_cpu_context` per CPU for all PMUs (v6.2) instead of one per CPU and PMU.
    pub ctx_per_cpu: bool,
    /// PMU events counting and sampling on the CPUs, if any.
    pub pmu_load: Option<PmuLoadConfig>,
    /// Refcounts and static keys the scripts count with (`inc`, `dec`, `if zero`).
    pub counters: Vec<CounterDef>,
    /// Tracepoints per-tracepoint counters have an instance for.
    pub tracepoints: u32,
    /// Mutexes hand the lock to their first waiter at unlock (FIFO); else v4.10's unlock
    /// (docs/model.md §3).
    pub mutex_fifo_handoff: bool,
    /// The scripts whose latencies [`OpStat::latency_ns`] keeps; `None` for every script. The
    /// others count completions and failures only: a histogram no one reads still costs the
    /// run its page faults and the cache lines of its records.
    pub timed: Option<Vec<ScriptId>>,
}

impl KernelConfig {
    /// Scripts whose runs a trace also shows on the track of their CPU argument (hotplug).
    pub fn cpu_track(programs: &[Program], names: &[&str]) -> Vec<ScriptId> {
        programs
            .iter()
            .enumerate()
            .filter(|(_, p)| names.contains(&p.name.as_str()))
            .map(|(i, _)| i as ScriptId)
            .collect()
    }
}

/// A task to start: its name, the CPU it runs on, its random stream id and its agent.
pub struct TaskSpec {
    pub name: String,
    pub cpu: u32,
    pub stream: u64,
    pub start_ns: u64,
    pub agent: Box<dyn Agent>,
    /// The task drives hotplug: it gets a `cpuhp/N` thread for `kick_ap`, drawing from this
    /// random stream (docs/model.md §4.1).
    pub cpuhp_thread: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KernelError {
    #[error("cpus = {0}: must be between 1 and {MAX_CPUS}")]
    Cpus(u32),
    #[error("{0} lock classes: at most {MAX_CLASSES} allowed")]
    Classes(usize),
    #[error("task `{name}` runs on cpu {cpu}, but the machine has {cpus} CPUs")]
    TaskCpu { name: String, cpu: u32, cpus: u32 },
    #[error("too many tasks: at most {MAX_TASKS}")]
    Tasks,
    #[error("{0} counters: at most {MAX_COUNTERS} allowed")]
    Counters(usize),
    #[error("{0} tracepoints: at most {MAX_TRACEPOINTS} allowed")]
    Tracepoints(u32),
    #[error("script `{script}` refers to lock class {class}, which does not exist")]
    UnknownClass { script: String, class: ClassId },
    #[error("pmu_load: {0}")]
    Pmu(#[from] crate::pmu::PmuError),
    #[error("script `{script}` uses lock class `{class}` as {used}, but it is {layout}")]
    LayoutMismatch { script: String, class: String, used: &'static str, layout: &'static str },
}

/// Event kinds the kernel schedules; the target is a task unless said otherwise.
const EV_RESUME: u32 = 0;
const EV_RCU_SYNC_DONE: u32 = 1;
const EV_SRCU_GP_DONE: u32 = 2;
const EV_IPI_HANDLER: u32 = 3;
/// A PMU unit has a PMI, rotation or tick due; the target is the unit, the data its due time.
const EV_PMU_WAKE: u32 = 4;
/// The periodic read of every counting event (`perf stat -I`), machine-wide: one event per interval.
const EV_PMU_READ: u32 = 5;
/// A run-ahead quantum: every core PMU unit takes its wakes up to the due time (the data).
const EV_PMU_QUANTUM: u32 = 6;
/// A v4.10 mutex's woken first waiter runs and tries for the lock (the data).
const EV_MUTEX_RETRY: u32 = 7;

/// Per-script operation statistics.
#[derive(Clone, Debug)]
pub struct OpStat {
    pub completed: u64,
    pub failed: u64,
    /// Empty for a script [`KernelConfig::timed`] leaves out.
    pub latency_ns: Histogram<u64>,
    /// When the last of these operations returned (0 if none has): a storm's end, for benches.
    pub last_ended_ns: u64,
}

/// The simulated kernel: its parts, each the one owner of its state (see the module doc).
pub struct Kernel {
    costs: Costs,
    /// The lock scripts, by [`ScriptId`].
    programs: Vec<Program>,
    locks: lock_table::LockTable,
    perf: Perf,
    tasks: Vec<Task>,
    /// The hotplug online mask (`cpu_online_mask`) and its weight, kept as the bits change:
    /// every cost that scales with the online CPUs reads it.
    online: CpuMask,
    online_count: u32,
    /// Until when each CPU is busy with IPI handlers already queued on it.
    ipi_busy_until_ns: Vec<u64>,
    /// Per script.
    op_stats: Vec<OpStat>,
    /// Per script: its latencies are recorded ([`KernelConfig::timed`]).
    timed: Vec<bool>,
    deadlock: deadlock::DeadlockDetector,
    counters: counters::Counters,
    violations: invariants::Violations,
    trace: trace::TraceRecorder,
    pmu: Option<pmu_load::PmuLoad>,
    /// Each hotplug-driving task's `cpuhp/N` thread, by task.
    ap_thread: Vec<Option<TaskId>>,
    /// Each `cpuhp/N` thread's control task, by task.
    ap_control: Vec<Option<TaskId>>,
    /// Events perf's hotplug exit detached from their context (`__perf_event_exit_context()`):
    /// their fds stay open and count nothing from then on (docs/model.md §4.9).
    events_removed_by_hotplug: u64,
}

impl Kernel {
    /// Records a timeline of this run, its last `limit` events; `cpu_track_scripts` also
    /// appear on their CPU's track.
    pub fn enable_trace(&mut self, cpu_track_scripts: Vec<ScriptId>, limit: usize) {
        self.trace.enable(cpu_track_scripts, limit);
    }

    /// The trace's events, oldest first (empty when tracing is off), and what was dropped.
    pub fn trace(&self) -> (impl Iterator<Item = &TraceEvent>, TraceCounts) {
        (self.trace.events().into_iter().flatten(), self.trace.counts())
    }

    /// Ends the run: the PMU load's last tallies, and the trace's spans still open closed at
    /// `outcome.end_ns` and marked unfinished.
    pub fn finish(&mut self, outcome: &RunOutcome) {
        self.finish_pmu_load(outcome);
        self.close_trace(outcome.end_ns);
    }

    /// Every operation, lock hold and wait still open at `end_ns` as an unfinished span: what a
    /// deadlocked run's trace is opened for (the stuck `cpu_down`, its `cpu_hotplug_lock` W,
    /// the waiters).
    fn close_trace(&mut self, end_ns: u64) {
        if !self.trace.is_on() {
            return;
        }
        for task in 0..self.tasks.len() as TaskId {
            let t = &self.tasks[task as usize];
            if let Some(op) = &t.op {
                let name = format!("{}(cpu={})", self.programs[op.script as usize].name, op.args.cpu);
                let (script, cpu, started_ns) = (op.script, op.args.cpu, op.started_ns);
                if self.trace.on_cpu_track(script) {
                    self.trace.unfinished_span(Track::Cpu(cpu), "hotplug", started_ns, end_ns, name.clone());
                }
                self.trace.unfinished_span(Track::Task(task), "op", started_ns, end_ns, name);
            }
            let t = &self.tasks[task as usize];
            let holds: Vec<(u32, Mode, u64)> = t.held.iter().map(|h| (h.lock, h.mode, h.acquired_ns)).collect();
            for (lock, mode, acquired_ns) in holds {
                let name = format!("{} ({})", self.lock_name(lock), mode.letter());
                self.trace.unfinished_span(Track::Task(task), "hold", acquired_ns, end_ns, name);
            }
            if let Some(wait) = self.tasks[task as usize].wait {
                let name = format!("wait {} ({})", self.wait_name(&wait), wait.mode.letter());
                self.trace.unfinished_span(Track::Task(task), "wait", wait.since_ns, end_ns, name);
            }
        }
    }

    pub fn task_names(&self) -> Vec<&str> {
        self.tasks.iter().map(|t| t.name.as_str()).collect()
    }

    /// Builds the kernel and schedules every task's start on `sched`.
    pub fn new(config: KernelConfig, tasks: Vec<TaskSpec>, sched: &mut Scheduler) -> Result<Kernel, KernelError> {
        if config.cpus == 0 || config.cpus > MAX_CPUS {
            return Err(KernelError::Cpus(config.cpus));
        }
        if config.classes.len() > MAX_CLASSES {
            return Err(KernelError::Classes(config.classes.len()));
        }
        if tasks.len() > MAX_TASKS {
            return Err(KernelError::Tasks);
        }
        if config.counters.len() > MAX_COUNTERS {
            return Err(KernelError::Counters(config.counters.len()));
        }
        if config.tracepoints > MAX_TRACEPOINTS {
            return Err(KernelError::Tracepoints(config.tracepoints));
        }
        for program in &config.programs {
            check_program(program, &config.classes)?;
        }
        let cpus = config.cpus;
        let threads = tasks.iter().filter(|t| t.cpuhp_thread.is_some()).count();
        if tasks.len() + threads > MAX_TASKS {
            return Err(KernelError::Tasks);
        }
        let mut kernel_tasks = Vec::with_capacity(tasks.len() + threads);
        let mut thread_streams = Vec::new();
        for (id, spec) in tasks.into_iter().enumerate() {
            if spec.cpu >= cpus {
                return Err(KernelError::TaskCpu { name: spec.name, cpu: spec.cpu, cpus });
            }
            if let Some(stream) = spec.cpuhp_thread {
                thread_streams.push((id as TaskId, stream));
            }
            kernel_tasks.push(Task::start(id as u32, spec, config.seed, sched));
        }
        // Each hotplug-driving task's cpuhp/N thread comes after every task of the scenario.
        let mut ap_thread = vec![None; kernel_tasks.len() + threads];
        let mut ap_control = vec![None; kernel_tasks.len() + threads];
        for (control, stream) in thread_streams {
            let thread = kernel_tasks.len() as TaskId;
            kernel_tasks.push(Task::cpuhp_thread(stream, config.seed));
            ap_thread[control as usize] = Some(thread);
            ap_control[thread as usize] = Some(control);
        }
        let ntasks = kernel_tasks.len();
        let pmu = match config.pmu_load {
            Some(load) => Some(pmu_load::PmuLoad::boot(load, config.seed, cpus, &config.perf)?),
            None => None,
        };
        let locks = lock_table::LockTable::new(
            config.classes,
            cpus,
            config.perf.context_slots(),
            ntasks as u32,
            config.ctx_per_cpu,
            config.run_index,
            config.mutex_fifo_handoff,
        );
        let mut kernel = Kernel {
            costs: config.costs,
            timed: (0..config.programs.len())
                .map(|i| config.timed.as_ref().is_none_or(|t| t.contains(&(i as ScriptId))))
                .collect(),
            op_stats: config
                .programs
                .iter()
                .map(|_| OpStat { completed: 0, failed: 0, latency_ns: new_histogram(), last_ended_ns: 0 })
                .collect(),
            programs: config.programs,
            perf: Perf::new(cpus, &config.perf),
            locks,
            tasks: kernel_tasks,
            online: CpuMask::full(cpus),
            online_count: cpus,
            ipi_busy_until_ns: vec![0; cpus as usize],
            deadlock: deadlock::DeadlockDetector::new(config.on_deadlock, config.seed, ntasks),
            counters: counters::Counters::new(config.counters, config.tracepoints),
            violations: invariants::Violations::default(),
            trace: trace::TraceRecorder::default(),
            pmu,
            ap_thread,
            ap_control,
            events_removed_by_hotplug: 0,
        };
        if let Some(load) = &mut kernel.pmu {
            load.schedule_boot(sched);
        }
        Ok(kernel)
    }

    pub fn classes(&self) -> &[LockClassDef] {
        self.locks.classes()
    }

    pub fn counters(&self) -> &[CounterDef] {
        self.counters.defs()
    }

    /// Each counter's value summed over its instances, by name, as the run stands.
    pub fn counter_totals(&self) -> Vec<(String, u64)> {
        self.counters.totals()
    }

    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    pub fn lock_stats(&mut self) -> &[LockStat] {
        self.locks.stats()
    }

    pub fn op_stats(&self) -> &[OpStat] {
        &self.op_stats
    }

    pub fn lock_order(&self) -> &LockOrder {
        self.locks.order()
    }

    /// Moves the run's statistics out (lock_stat rows, lock order, operation latencies),
    /// leaving empty ones: a finished run's results take them without copying histograms.
    pub fn take_stats(&mut self) -> (Vec<LockStat>, LockOrder, Vec<OpStat>) {
        let (locks, order) = self.locks.take_stats();
        (locks, order, std::mem::take(&mut self.op_stats))
    }

    /// Events perf's hotplug exit detached (they are not re-added when the CPU comes back).
    pub fn events_removed_by_hotplug(&self) -> u64 {
        self.events_removed_by_hotplug
    }

    pub fn deadlocks(&self) -> &[Deadlock] {
        self.deadlock.found()
    }

    pub fn violations(&self) -> &[Violation] {
        self.violations.as_slice()
    }

    pub fn online(&self) -> &CpuMask {
        &self.online
    }

    pub fn perf(&self) -> &Perf {
        &self.perf
    }

    /// Sets a CPU's bit in the hotplug online mask.
    pub fn set_online(&mut self, cpu: u32, online: bool) {
        if self.online.test(cpu) != online {
            self.online.set(cpu, online);
            if online {
                self.online_count += 1;
            } else {
                self.online_count -= 1;
            }
        }
    }

    /// Tasks blocked with nothing left to wake them, reported when the queue has drained.
    pub fn stalls(&self) -> Vec<Stall> {
        self.tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.blocked_or_frozen())
            .map(|(id, t)| self.stall_of(id as TaskId, t))
            .collect()
    }

    fn stall_of(&self, id: TaskId, task: &Task) -> Stall {
        let wait = task.wait.expect("blocked task has a wait");
        Stall {
            task: task.name.clone(),
            frozen: task.state == TaskState::Frozen,
            waits_for: self.wait_name(&wait),
            mode: wait.mode,
            position: self.position_name(wait.at),
            blockers: self.blockers(id).as_slice().iter().map(|&b| self.tasks[b as usize].name.clone()).collect(),
        }
    }

    /// What a wait is for: the lock instance, or the `cpuhp/N` thread and the AP operation it runs.
    fn wait_name(&self, wait: &task::Wait) -> String {
        if wait.kind != task::WaitKind::ApWork {
            return self.lock_name(wait.lock);
        }
        let thread = &self.tasks[wait.lock as usize];
        let script =
            thread.op.as_ref().map_or("its AP operation", |op| self.programs[op.script as usize].name.as_str());
        format!("{} to finish {script}", thread.name)
    }

    fn position_name(&self, at: Position) -> String {
        format!("{}+{}", self.programs[at.script as usize].name, at.step)
    }
}

/// Checks that every lock step of `program` names a class that exists, used as its layout.
fn check_program(program: &Program, classes: &[LockClassDef]) -> Result<(), KernelError> {
    for instr in &program.instrs {
        let lock = match instr {
            Instr::Lock { lock, .. } | Instr::Unlock { lock } => *lock,
            Instr::Synchronize(SyncKind::Srcu(lock)) => *lock,
            _ => continue,
        };
        let Some(def) = classes.get(lock.class() as usize) else {
            return Err(KernelError::UnknownClass { script: program.name.clone(), class: lock.class() });
        };
        if def.layout != lock.layout() {
            return Err(KernelError::LayoutMismatch {
                script: program.name.clone(),
                class: def.name.clone(),
                used: lock.layout().as_str(),
                layout: def.layout.as_str(),
            });
        }
    }
    Ok(())
}

impl Model for Kernel {
    fn handle(&mut self, event: Event, sched: &mut Scheduler) {
        match event.kind {
            EV_PMU_WAKE | EV_PMU_READ | EV_PMU_QUANTUM => self.handle_pmu_event(event, sched),
            _ => self.handle_task_event(event, sched),
        }
    }
}

impl Kernel {
    /// A task's event: it resumes, a grace period it waits for ends, or its IPI's handler runs.
    fn handle_task_event(&mut self, event: Event, sched: &mut Scheduler) {
        let task = event.target;
        match event.kind {
            EV_RESUME => {}
            EV_RCU_SYNC_DONE => {
                self.rcu_sync_done(task, event.data as u32, sched);
                return;
            }
            EV_SRCU_GP_DONE => {
                self.srcu_grace_period_done(task, event.data as u32, sched);
                return;
            }
            EV_MUTEX_RETRY => {
                self.mutex_woken(task, event.data as u32, sched);
                return;
            }
            EV_IPI_HANDLER => {
                let ipi = self.tasks[task as usize].ipi.take().expect("IPI in flight");
                self.run_ipi_handler(task, ipi.cpu, ipi.handler, ipi.at, sched);
                return;
            }
            other => panic!("unknown kernel event kind {other}"),
        }
        self.run_task(task, sched);
    }
}

#[cfg(test)]
mod tests;
