//! The kernel model: tasks running lock scripts on lock instances, on CPUs that go on- and
//! offline, with lock statistics, lock-order recording and exact online deadlock detection.
//!
//! This is the program under simulation in shuttle's sense; [`crate::Scheduler`] drives it.

mod agent;
mod costs;
mod deadlock;
mod invariants;
mod lock_table;
mod pmu_load;
mod trace;

pub use agent::{Agent, AgentCx, Args, Next, OpOutcome, Sequence};
pub use costs::Costs;
pub use deadlock::{CycleMember, Deadlock, Stall, format_ns};
pub use invariants::{Invariant, Violation};
pub use pmu_load::{PmuLoadConfig, PmuStats, STREAM_PMU_SOURCE};
pub use trace::{TraceSpan, Track};

use crate::engine::{Model, Scheduler};
use crate::event::Event;
use crate::lockdep::LockOrder;
use crate::locks::{LockKind, Mode, TaskId};
use crate::lockstat::{LockStat, new_histogram};
use crate::perf::{Perf, PerfConfig};
use crate::rng::{ChaCha8Rng, exp_ns, stream_rng};
use crate::script::{
    ClassId, Cost, CpuRef, Errno, Flag, InitFrom, Instr, IpiHandler, Layout, LockRef, PmuFilter, PmuRef, Position,
    Program, ScriptId, SyncKind,
};
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
    #[error("script `{script}` refers to lock class {class}, which does not exist")]
    UnknownClass { script: String, class: ClassId },
    #[error("pmu_load: {0}")]
    Pmu(#[from] crate::pmu::PmuError),
    #[error("script `{script}` uses lock class `{class}` as {used}, but it is {layout}")]
    LayoutMismatch { script: String, class: String, used: &'static str, layout: &'static str },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskState {
    Running,
    Blocked,
    Frozen,
    Exited,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WaitKind {
    /// In a lock's wait queue.
    Lock,
    /// A percpu_rwsem writer waiting out rcu_sync's grace period.
    RcuSync,
    /// In `synchronize_srcu()`.
    SrcuSync,
}

#[derive(Clone, Copy, Debug)]
struct Wait {
    lock: u32,
    mode: Mode,
    subclass: u8,
    since_ns: u64,
    at: Position,
    kind: WaitKind,
}

#[derive(Clone, Copy, Debug)]
struct Held {
    lock: u32,
    mode: Mode,
    subclass: u8,
    acquired_ns: u64,
    at: Position,
}

#[derive(Clone, Debug)]
struct Op {
    script: ScriptId,
    pc: usize,
    args: Args,
    started_ns: u64,
    /// Enclosing loops, innermost last.
    loops: Vec<LoopFrame>,
    /// `held.len()` when the operation began: what it must give back.
    held_at_start: usize,
}

#[derive(Clone, Debug)]
enum LoopFrame {
    Repeat {
        left: u32,
    },
    /// A snapshot of the PMU list and the index of the current one.
    Pmus {
        pmus: Vec<u16>,
        at: usize,
    },
    /// Uncore PMUs to hand off, each with its target CPU.
    Handoffs {
        moves: Vec<(u16, u32)>,
        at: usize,
    },
}

struct Task {
    name: String,
    cpu: u32,
    agent: Box<dyn Agent>,
    rng: ChaCha8Rng,
    op: Option<Op>,
    held: Vec<Held>,
    wait: Option<Wait>,
    state: TaskState,
    last: Option<OpOutcome>,
    /// An IPI whose handler has not run yet.
    ipi: Option<PendingIpi>,
}

#[derive(Clone, Copy, Debug)]
struct PendingIpi {
    cpu: u32,
    handler: IpiHandler,
    at: Position,
}

/// Event kinds the kernel schedules; the target is always a task.
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

/// Per-script operation statistics.
#[derive(Clone, Debug)]
pub struct OpStat {
    pub completed: u64,
    pub failed: u64,
    pub latency_ns: Histogram<u64>,
    /// When the last of these operations returned (0 if none has): a storm's end, for benches.
    pub last_ended_ns: u64,
}

pub struct Kernel {
    costs: Costs,
    programs: Vec<Program>,
    locks: lock_table::LockTable,
    perf: Perf,
    tasks: Vec<Task>,
    online: Vec<bool>,
    online_count: u32,
    ipi_busy_until_ns: Vec<u64>,
    op_stats: Vec<OpStat>,
    deadlock: deadlock::DeadlockDetector,
    violations: invariants::Violations,
    trace: trace::TraceRecorder,
    pmu: Option<pmu_load::PmuLoad>,
}

impl Kernel {
    /// Records a timeline of this run; `cpu_track_scripts` also appear on their CPU's track.
    pub fn enable_trace(&mut self, cpu_track_scripts: Vec<ScriptId>) {
        self.trace.enable(cpu_track_scripts);
    }

    pub fn trace(&self) -> &[TraceSpan] {
        self.trace.spans()
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
        for program in &config.programs {
            for instr in &program.instrs {
                let class = match instr {
                    Instr::Lock { lock, .. } | Instr::Unlock { lock } => Some(lock.class()),
                    Instr::Synchronize(SyncKind::Srcu(lock)) => Some(lock.class()),
                    _ => None,
                };
                if let Some(class) = class
                    && class as usize >= config.classes.len()
                {
                    return Err(KernelError::UnknownClass { script: program.name.clone(), class });
                }
                let lock = match instr {
                    Instr::Lock { lock, .. } | Instr::Unlock { lock } => Some(*lock),
                    Instr::Synchronize(SyncKind::Srcu(lock)) => Some(*lock),
                    _ => None,
                };
                if let Some(lock) = lock {
                    let def = &config.classes[lock.class() as usize];
                    if def.layout != lock.layout() {
                        return Err(KernelError::LayoutMismatch {
                            script: program.name.clone(),
                            class: def.name.clone(),
                            used: lock.layout().as_str(),
                            layout: def.layout.as_str(),
                        });
                    }
                }
            }
        }
        let cpus = config.cpus;
        let mut kernel_tasks = Vec::with_capacity(tasks.len());
        for (id, spec) in tasks.into_iter().enumerate() {
            if spec.cpu >= cpus {
                return Err(KernelError::TaskCpu { name: spec.name, cpu: spec.cpu, cpus });
            }
            sched.schedule_at(spec.start_ns, Event::new(id as u32, EV_RESUME, 0));
            kernel_tasks.push(Task {
                name: spec.name,
                cpu: spec.cpu,
                agent: spec.agent,
                rng: stream_rng(config.seed, spec.stream),
                op: None,
                held: Vec::new(),
                wait: None,
                state: TaskState::Running,
                last: None,
                ipi: None,
            });
        }
        let ntasks = kernel_tasks.len();
        let pmu_core_slot =
            config.perf.pmus.iter().position(|p| p.at_boot && p.scope == crate::perf::PmuScope::Core).map(|p| p as u16);
        let pmu = match config.pmu_load {
            Some(load) => {
                let uncore: Vec<(u16, u32)> = config
                    .perf
                    .pmus
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.at_boot && p.scope == crate::perf::PmuScope::Uncore)
                    .flat_map(|(slot, _)| (0..config.perf.packages).map(move |k| (slot as u16, k)))
                    .collect();
                Some(pmu_load::PmuLoad::new(load, config.seed, cpus, pmu_core_slot, uncore)?)
            }
            None => None,
        };
        let npmus = config.perf.pmus.len() as u32;
        let locks = lock_table::LockTable::new(
            config.classes,
            cpus,
            npmus,
            ntasks as u32,
            config.ctx_per_cpu,
            config.run_index,
        );
        Ok(Kernel {
            costs: config.costs,
            op_stats: config
                .programs
                .iter()
                .map(|_| OpStat { completed: 0, failed: 0, latency_ns: new_histogram(), last_ended_ns: 0 })
                .collect(),
            programs: config.programs,
            perf: Perf::new(cpus, &config.perf),
            locks,
            tasks: kernel_tasks,
            online: vec![true; cpus as usize],
            online_count: cpus,
            ipi_busy_until_ns: vec![0; cpus as usize],
            deadlock: deadlock::DeadlockDetector::new(config.on_deadlock, config.seed, ntasks),
            violations: invariants::Violations::default(),
            trace: trace::TraceRecorder::default(),
            pmu,
        })
        .map(|mut kernel| {
            if let Some(load) = &mut kernel.pmu {
                load.schedule_boot(sched);
            }
            kernel
        })
    }

    pub fn classes(&self) -> &[LockClassDef] {
        self.locks.classes()
    }

    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    pub fn lock_stats(&self) -> &[LockStat] {
        self.locks.stats()
    }

    pub fn op_stats(&self) -> &[OpStat] {
        &self.op_stats
    }

    pub fn lock_order(&self) -> &LockOrder {
        self.locks.order()
    }

    pub fn deadlocks(&self) -> &[Deadlock] {
        self.deadlock.found()
    }

    pub fn violations(&self) -> &[Violation] {
        self.violations.as_slice()
    }

    pub fn online(&self) -> &[bool] {
        &self.online
    }

    pub fn perf(&self) -> &Perf {
        &self.perf
    }

    /// Sets a CPU's bit in the hotplug online mask.
    pub fn set_online(&mut self, cpu: u32, online: bool) {
        let slot = &mut self.online[cpu as usize];
        if *slot != online {
            *slot = online;
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
            .filter(|(_, t)| matches!(t.state, TaskState::Blocked | TaskState::Frozen))
            .map(|(id, t)| self.stall_of(id as TaskId, t))
            .collect()
    }

    fn stall_of(&self, id: TaskId, task: &Task) -> Stall {
        let wait = task.wait.expect("blocked task has a wait");
        Stall {
            task: task.name.clone(),
            frozen: task.state == TaskState::Frozen,
            waits_for: self.lock_name(wait.lock),
            mode: wait.mode,
            position: self.position_name(wait.at),
            blockers: self.blockers(id).as_slice().iter().map(|&b| self.tasks[b as usize].name.clone()).collect(),
        }
    }

    fn position_name(&self, at: Position) -> String {
        format!("{}+{}", self.programs[at.script as usize].name, at.step)
    }

    fn op(&self, task: TaskId) -> &Op {
        self.tasks[task as usize].op.as_ref().expect("operation in progress")
    }

    /// The innermost handoff loop's current `(pmu, target)`.
    fn handoff(&self, task: TaskId) -> (u16, u32) {
        self.op(task)
            .loops
            .iter()
            .rev()
            .find_map(|frame| match frame {
                LoopFrame::Handoffs { moves, at } => Some(moves[*at]),
                _ => None,
            })
            .expect("target CPU used outside for_each_handoff")
    }

    fn resolve_cpu(&self, task: TaskId, cpu: CpuRef) -> u32 {
        let arg = || self.op(task).args.cpu;
        match cpu {
            CpuRef::Arg => arg(),
            CpuRef::Current => self.tasks[task as usize].cpu,
            CpuRef::Fixed(c) => c,
            CpuRef::Target => self.handoff(task).1,
            CpuRef::Lower => arg().min(self.handoff(task).1),
            CpuRef::Higher => arg().max(self.handoff(task).1),
        }
    }

    fn resolve_pmu(&self, task: TaskId, pmu: PmuRef) -> u16 {
        match pmu {
            PmuRef::Arg => self.op(task).args.pmu,
            PmuRef::Loop => self
                .op(task)
                .loops
                .iter()
                .rev()
                .find_map(|frame| match frame {
                    LoopFrame::Pmus { pmus, at } => Some(pmus[*at]),
                    LoopFrame::Handoffs { moves, at } => Some(moves[*at].0),
                    LoopFrame::Repeat { .. } => None,
                })
                .expect("loop PMU used outside for_each_pmu"),
        }
    }

    fn resolve_lock(&self, task: TaskId, lock: LockRef) -> u32 {
        self.locks.instance(task, lock, |cpu| self.resolve_cpu(task, cpu), |pmu| self.resolve_pmu(task, pmu))
    }

    fn flag(&self, task: TaskId, flag: Flag) -> bool {
        match flag {
            Flag::CpuOnline(cpu) => self.online[self.resolve_cpu(task, cpu) as usize],
            Flag::CtxOnline(cpu, pmu) => self.perf.ctx_online(self.resolve_cpu(task, cpu), self.resolve_pmu(task, pmu)),
            Flag::PerfOnline(cpu) => self.perf.perf_online(self.resolve_cpu(task, cpu)),
            Flag::Usable(cpu) => self.perf.usable(self.resolve_cpu(task, cpu)),
        }
    }

    fn set_flag(&mut self, task: TaskId, flag: Flag, value: bool, sched: &mut Scheduler) {
        match flag {
            Flag::CpuOnline(cpu) => {
                let cpu = self.resolve_cpu(task, cpu);
                self.set_online(cpu, value);
                if let Some(load) = &mut self.pmu {
                    load.set_cpu_online(cpu, value, sched);
                }
            }
            Flag::CtxOnline(cpu, pmu) => {
                let (cpu, pmu) = (self.resolve_cpu(task, cpu), self.resolve_pmu(task, pmu));
                let was = self.perf.ctx_online(cpu, pmu);
                self.perf.set_ctx_online(cpu, pmu, value);
                if value
                    && !was
                    && let Some(load) = &mut self.pmu
                {
                    load.ctx_came_online(cpu, pmu, sched);
                }
            }
            Flag::PerfOnline(cpu) => self.perf.set_perf_online(self.resolve_cpu(task, cpu), value),
            Flag::Usable(cpu) => self.perf.set_usable(self.resolve_cpu(task, cpu), value),
        }
    }

    /// A handler's cost, reserved on the target CPU when the IPI is sent.
    fn ipi_handler_cost(&mut self, task: TaskId, cpu: u32, handler: IpiHandler) -> u64 {
        match handler {
            IpiHandler::Work(cost) => self.draw(task, cost),
            IpiHandler::InstallEvent => self.costs.ipi_install_ns,
            IpiHandler::RemoveEvent => self.costs.ipi_remove_per_event_ns,
            IpiHandler::RemoveEvents => {
                let pmu = self.resolve_pmu(task, PmuRef::Loop);
                self.perf.events_on(cpu, pmu).len() as u64 * self.costs.ipi_remove_per_event_ns
            }
        }
    }

    /// An IPI handler's effect on the target CPU when it runs, with the invariant checks of
    /// DESIGN §6 (1, 3 and 4).
    fn run_ipi_handler(&mut self, task: TaskId, cpu: u32, handler: IpiHandler, at: Position, sched: &mut Scheduler) {
        let now_ns = sched.now_ns();
        let args = self.op(task).args;
        match handler {
            IpiHandler::Work(_) => {}
            IpiHandler::InstallEvent => {
                self.check_install(task, cpu, args.pmu, args.event, at, now_ns);
                self.perf.install(args.event, cpu, args.pmu);
            }
            IpiHandler::RemoveEvent => {
                self.perf.remove(args.event);
            }
            IpiHandler::RemoveEvents => {
                let pmu = self.resolve_pmu(task, PmuRef::Loop);
                self.perf.remove_all(cpu, pmu);
                if let Some(load) = &mut self.pmu {
                    for (event, error) in load.remove_ctx_events(cpu, pmu, now_ns) {
                        let what = format!("PMU event {event} on cpu {cpu} read {error} events off its ground truth");
                        self.violation(Invariant::CountsMatchGroundTruth, task, cpu, at, what, now_ns);
                    }
                }
            }
        }
        self.pmu_reschedule(cpu as usize, sched);
    }

    fn draw(&mut self, task: TaskId, cost: Cost) -> u64 {
        let cpus = self.online.len() as u64;
        let mean = cost.base_ns + cost.per_online_cpu_ns * self.online_count as u64 + cost.per_possible_cpu_ns * cpus;
        if cost.exponential && mean > 0 { exp_ns(&mut self.tasks[task as usize].rng, mean as f64) } else { mean }
    }

    fn resume_in(&self, sched: &mut Scheduler, task: TaskId, delay_ns: u64) {
        sched.schedule_in(delay_ns, Event::new(task, EV_RESUME, 0));
    }

    /// Runs `task`'s script until it blocks, sleeps or spends time.
    fn run_task(&mut self, task: TaskId, sched: &mut Scheduler) {
        loop {
            if self.tasks[task as usize].state != TaskState::Running {
                return;
            }
            let Some(op) = self.tasks[task as usize].op.as_ref() else {
                if !self.start_next_op(task, sched) {
                    return;
                }
                continue;
            };
            let at = Position { script: op.script, step: op.pc as u16 };
            let instr = self.programs[op.script as usize].instrs[op.pc];
            self.tasks[task as usize].op.as_mut().expect("op").pc += 1;
            match instr {
                Instr::Lock { lock, mode, nested } => {
                    let lock = self.resolve_lock(task, lock);
                    if let Some(delay_ns) = self.acquire(task, lock, mode, nested as u8, at, sched) {
                        if delay_ns > 0 {
                            return self.resume_in(sched, task, delay_ns);
                        }
                    } else {
                        return;
                    }
                }
                Instr::Unlock { lock } => {
                    let lock = self.resolve_lock(task, lock);
                    self.release(task, lock, at, sched);
                }
                Instr::Work(cost) => {
                    let ns = self.draw(task, cost);
                    if ns > 0 {
                        return self.resume_in(sched, task, ns);
                    }
                }
                Instr::Ipi { cpu, handler } => {
                    let target = self.resolve_cpu(task, cpu);
                    if !self.online[target as usize] && handler == IpiHandler::InstallEvent {
                        let event = self.op(task).args.event;
                        let what = format!(
                            "perf_event_open of event {event} went ahead on offline cpu {target}: the install IPI returned -ENXIO"
                        );
                        self.violation(Invariant::OpenOnlyOnUsableCpu, task, target, at, what, sched.now_ns());
                    }
                    if self.online[target as usize] {
                        let now_ns = sched.now_ns();
                        let half_trip_ns = self.costs.ipi_round_trip_ns / 2;
                        let start_ns = (now_ns + half_trip_ns).max(self.ipi_busy_until_ns[target as usize]);
                        let handler_ns = self.ipi_handler_cost(task, target, handler);
                        let end_ns = start_ns + handler_ns;
                        self.ipi_busy_until_ns[target as usize] = end_ns;
                        self.tasks[task as usize].ipi = Some(PendingIpi { cpu: target, handler, at });
                        sched.schedule_at(start_ns, Event::new(task, EV_IPI_HANDLER, 0));
                        let back_ns = end_ns + (self.costs.ipi_round_trip_ns - half_trip_ns);
                        return self.resume_in(sched, task, back_ns - now_ns);
                    }
                }
                Instr::Check { flag, otherwise } => {
                    if !self.flag(task, flag) {
                        self.tasks[task as usize].op.as_mut().expect("op").pc = otherwise;
                    }
                }
                Instr::Set { flag, value } => self.set_flag(task, flag, value, sched),
                Instr::Synchronize(kind) => match kind {
                    SyncKind::Rcu => {
                        return self.resume_in(sched, task, self.costs.rcu_grace_period_ns);
                    }
                    SyncKind::RcuExpedited => {
                        return self.resume_in(sched, task, self.costs.rcu_expedited_ns);
                    }
                    SyncKind::Srcu(lock) => {
                        let lock = self.resolve_lock(task, lock);
                        self.record_order(task, lock, Mode::Write, 0, at, sched.now_ns());
                        self.locks.srcu_synchronize(task, lock);
                        let t = &mut self.tasks[task as usize];
                        t.wait = Some(Wait {
                            lock,
                            mode: Mode::Write,
                            subclass: 0,
                            since_ns: sched.now_ns(),
                            at,
                            kind: WaitKind::SrcuSync,
                        });
                        sched.schedule_in(
                            self.costs.srcu_grace_period_ns,
                            Event::new(task, EV_SRCU_GP_DONE, lock as u64),
                        );
                        return;
                    }
                },
                Instr::StopMachine => {
                    let ns =
                        self.costs.stop_machine_base_ns + self.costs.stop_machine_per_cpu_ns * self.online_count as u64;
                    return self.resume_in(sched, task, ns);
                }
                Instr::RepeatBegin { times, end } => {
                    let op = self.tasks[task as usize].op.as_mut().expect("op");
                    if times == 0 {
                        op.pc = end + 1;
                    } else {
                        op.loops.push(LoopFrame::Repeat { left: times });
                    }
                }
                Instr::PmuLoopBegin { filter, end } => {
                    let pmus: Vec<u16> = self
                        .perf
                        .list()
                        .iter()
                        .copied()
                        .filter(|&p| match filter {
                            PmuFilter::All => true,
                            PmuFilter::Core => self.perf.pmus()[p as usize].scope == crate::perf::PmuScope::Core,
                            PmuFilter::Uncore => self.perf.pmus()[p as usize].scope == crate::perf::PmuScope::Uncore,
                        })
                        .collect();
                    let op = self.tasks[task as usize].op.as_mut().expect("op");
                    if pmus.is_empty() {
                        op.pc = end + 1;
                    } else {
                        op.loops.push(LoopFrame::Pmus { pmus, at: 0 });
                    }
                }
                Instr::HandoffLoopBegin { end } => {
                    let cpu = self.op(task).args.cpu;
                    let moves = self.perf.handoffs(cpu, &self.online);
                    self.sync_uncore_units(self.perf.package_of(cpu), sched);
                    let op = self.tasks[task as usize].op.as_mut().expect("op");
                    if moves.is_empty() {
                        op.pc = end + 1;
                    } else {
                        op.loops.push(LoopFrame::Handoffs { moves, at: 0 });
                    }
                }
                Instr::RepeatEnd { begin } | Instr::PmuLoopEnd { begin } | Instr::HandoffLoopEnd { begin } => {
                    let op = self.tasks[task as usize].op.as_mut().expect("op");
                    let again = match op.loops.last_mut().expect("inside a loop") {
                        LoopFrame::Repeat { left } => {
                            *left -= 1;
                            *left > 0
                        }
                        LoopFrame::Pmus { pmus, at } => {
                            *at += 1;
                            *at < pmus.len()
                        }
                        LoopFrame::Handoffs { moves, at } => {
                            *at += 1;
                            *at < moves.len()
                        }
                    };
                    if again {
                        op.pc = begin + 1;
                    } else {
                        op.loops.pop();
                    }
                }
                Instr::MoveEvents => {
                    let (pmu, target) = self.handoff(task);
                    let cpu = self.op(task).args.cpu;
                    self.perf.move_events(pmu, cpu, target);
                    let now_ns = sched.now_ns();
                    let unit = self.pmu.as_ref().and_then(|l| l.uncore_unit(pmu, self.perf.package_of(cpu)));
                    if let (Some(unit), Some(load)) = (unit, &mut self.pmu) {
                        for (event, error) in load.read_all(unit, now_ns) {
                            let what =
                                format!("uncore event {event} read {error} events off its ground truth at handoff");
                            self.violation(Invariant::CountsMatchGroundTruth, task, cpu, at, what, now_ns);
                        }
                    }
                }
                Instr::AdoptUncore => {
                    let cpu = self.op(task).args.cpu;
                    self.perf.adopt_uncore(cpu);
                    self.sync_uncore_units(self.perf.package_of(cpu), sched);
                }
                Instr::RegisterPmu { init } => {
                    let pmu = self.op(task).args.pmu;
                    let Kernel { perf, online, .. } = self;
                    let perf_online: Vec<bool> = (0..online.len() as u32).map(|c| perf.perf_online(c)).collect();
                    match init {
                        InitFrom::CpuOnline => perf.register(pmu, |c| online[c as usize], online),
                        InitFrom::PerfOnline => perf.register(pmu, |c| perf_online[c as usize], online),
                        InitFrom::AllPossible => perf.register(pmu, |_| true, online),
                    }
                }
                Instr::UnregisterPmu => {
                    let pmu = self.op(task).args.pmu;
                    self.perf.unregister(pmu);
                }
                Instr::Mark(mark) => self.mark(task, mark, at, sched.now_ns()),
                Instr::Return => self.end_op(task, Ok(()), at, sched),
                Instr::Fail(errno) => self.end_op(task, Err(errno), at, sched),
            }
        }
    }

    /// Asks the agent for the next operation; `true` if the task should keep running now.
    fn start_next_op(&mut self, task: TaskId, sched: &mut Scheduler) -> bool {
        let now_ns = sched.now_ns();
        let Kernel { tasks, online, perf, .. } = self;
        let t = &mut tasks[task as usize];
        let mut cx = AgentCx { now_ns, rng: &mut t.rng, last: t.last.take(), online, perf };
        match t.agent.next(&mut cx) {
            Next::Run { script, args } => {
                assert!((script as usize) < self.programs.len(), "agent asked for unknown script {script}");
                let held_at_start = t.held.len();
                t.op = Some(Op { script, pc: 0, args, started_ns: now_ns, loops: Vec::new(), held_at_start });
                true
            }
            Next::Sleep { ns } => {
                sched.schedule_in(ns, Event::new(task, EV_RESUME, 0));
                false
            }
            Next::Exit => {
                t.state = TaskState::Exited;
                if !t.held.is_empty() {
                    let name = t.name.clone();
                    let cpu = t.cpu;
                    self.violations.push(Violation {
                        invariant: Invariant::LocksBalanced,
                        time_ns: now_ns,
                        cpu,
                        task: name,
                        position: String::new(),
                        what: "task exited holding a lock".into(),
                    });
                }
                false
            }
        }
    }

    fn end_op(&mut self, task: TaskId, result: Result<(), Errno>, at: Position, sched: &mut Scheduler) {
        let now_ns = sched.now_ns();
        let held_at_start = self.tasks[task as usize].op.as_ref().expect("op").held_at_start;
        if result.is_err() {
            while self.tasks[task as usize].held.len() > held_at_start {
                let lock = self.tasks[task as usize].held.last().expect("held").lock;
                self.release(task, lock, at, sched);
            }
        } else if self.tasks[task as usize].held.len() != held_at_start {
            let t = &self.tasks[task as usize];
            let what = format!("operation returned holding {}", self.lock_name(t.held.last().expect("held").lock));
            self.violation(Invariant::LocksBalanced, task, t.cpu, at, what, now_ns);
        }
        if self.trace.is_on() {
            let op = self.op(task).clone();
            let name = format!("{}(cpu={})", self.programs[op.script as usize].name, op.args.cpu);
            let name =
                if result.is_err() { format!("{name} = -{}", result.err().map_or("", |e| e.as_str())) } else { name };
            self.trace.span(Track::Task(task), "op", op.started_ns, now_ns, || name.clone());
            if self.trace.on_cpu_track(op.script) {
                self.trace.span(Track::Cpu(op.args.cpu), "hotplug", op.started_ns, now_ns, || name);
            }
        }
        let t = &mut self.tasks[task as usize];
        let op = t.op.take().expect("op");
        let stat = &mut self.op_stats[op.script as usize];
        match result {
            Ok(()) => stat.completed += 1,
            Err(_) => stat.failed += 1,
        }
        stat.latency_ns.record(now_ns - op.started_ns).expect("auto-resizing histogram");
        stat.last_ended_ns = now_ns;
        t.last =
            Some(OpOutcome { script: op.script, args: op.args, started_ns: op.started_ns, ended_ns: now_ns, result });
    }
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
