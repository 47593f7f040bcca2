//! The script interpreter: runs a task's operation step by step until it blocks, sleeps or
//! spends time, asks its agent for the next operation in between, and books each one's end.

use std::fmt::Write as _;

use super::task::{LoopFrame, Op, TaskState, Wait, WaitKind};
use super::{AgentCx, EV_RESUME, EV_SRCU_GP_DONE, Invariant, Kernel, Next, OpOutcome, Track, Violation};
use crate::engine::Scheduler;
use crate::event::Event;
use crate::locks::{Mode, TaskId};
use crate::perf::{OnlineView, PmuScope};
use crate::rng::exp_ns;
use crate::script::{
    Cond, Cost, CpuRef, Errno, Flag, InitFrom, Instr, LockRef, PmuFilter, PmuRef, Position, ScriptId, SyncKind,
};

/// Whether a task goes on to its next step now, or has stopped (it waits, sleeps or spends
/// time, and an event will run it again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flow {
    Continue,
    Stop,
}

impl Kernel {
    /// Runs `task`'s script until it blocks, sleeps or spends time.
    pub(super) fn run_task(&mut self, task: TaskId, sched: &mut Scheduler) {
        loop {
            let t = &self.tasks[task as usize];
            if t.state != TaskState::Running {
                return;
            }
            let Some(op) = t.op.as_ref() else {
                if !self.start_next_op(task, sched) {
                    return;
                }
                continue;
            };
            let at = Position { script: op.script, step: op.pc as u16 };
            let instr = self.programs[op.script as usize].instrs[op.pc];
            self.tasks[task as usize].op_mut().pc += 1;
            if self.step(task, instr, at, sched) == Flow::Stop {
                return;
            }
        }
    }

    /// Runs one step of `task`'s operation (already past it: `pc` points at the next one).
    #[inline(always)]
    fn step(&mut self, task: TaskId, instr: Instr, at: Position, sched: &mut Scheduler) -> Flow {
        match instr {
            Instr::Lock { lock, mode, nested } => return self.lock_step(task, lock, mode, nested, at, sched),
            Instr::Unlock { lock } => {
                let lock = self.resolve_lock(task, lock);
                self.release(task, lock, at, sched);
            }
            Instr::Work(cost) => {
                let ns = self.draw(task, cost);
                if ns > 0 {
                    return self.resume_after(task, ns, sched);
                }
            }
            Instr::Ipi { cpu, handler } => return self.ipi_step(task, cpu, handler, at, sched),
            Instr::Check { flag, otherwise } => {
                if !self.flag(task, flag) {
                    self.tasks[task as usize].op_mut().pc = otherwise;
                } else if let Some(cpu) = self.view_flag_cpu(task, flag) {
                    self.tasks[task as usize].op_mut().view_checked_cpu = Some(cpu);
                }
            }
            Instr::Set { flag, value } => self.set_flag(task, flag, value, sched),
            Instr::Synchronize(kind) => {
                self.synchronize(task, kind, at, sched);
                return Flow::Stop;
            }
            Instr::StopMachine => {
                let ns =
                    self.costs.stop_machine_base_ns + self.costs.stop_machine_per_cpu_ns * self.online_count as u64;
                return self.resume_after(task, ns, sched);
            }
            Instr::RepeatBegin { times, end } => self.repeat_begin(task, times, end),
            Instr::PmuLoopBegin { filter, end } => self.pmu_loop_begin(task, filter, end),
            Instr::HandoffLoopBegin { end } => self.handoff_loop_begin(task, end, sched),
            Instr::RepeatEnd { begin }
            | Instr::PmuLoopEnd { begin }
            | Instr::HandoffLoopEnd { begin }
            | Instr::ChildLoopEnd { begin } => self.loop_end(task, begin),
            Instr::MoveEvents => self.move_events(task, at, sched),
            Instr::AdoptUncore => {
                let cpu = self.op(task).args.cpu;
                self.perf.adopt_uncore(cpu);
                self.sync_uncore_units(self.perf.package_of(cpu), sched);
            }
            Instr::RegisterPmu { init } => self.register_pmu(task, init),
            Instr::UnregisterPmu => {
                let pmu = self.op(task).args.pmu;
                self.perf.unregister(pmu);
            }
            Instr::Mark(mark) => self.mark(task, mark, at, sched.now_ns()),
            Instr::Inc(counter) => {
                let tracepoint = self.op(task).args.tracepoint;
                self.counters.inc(counter, tracepoint);
            }
            Instr::Dec(counter) => {
                let tracepoint = self.op(task).args.tracepoint;
                if !self.counters.dec(counter, tracepoint) {
                    let what = format!("{} dropped below 0", self.counters.name(counter, tracepoint));
                    let cpu = self.tasks[task as usize].cpu;
                    self.violation(Invariant::LocksBalanced, task, cpu, at, what, sched.now_ns());
                }
            }
            Instr::Branch { cond, otherwise } => {
                if !self.cond(task, cond) {
                    self.tasks[task as usize].op_mut().pc = otherwise;
                }
            }
            Instr::Jump { to } => self.tasks[task as usize].op_mut().pc = to,
            Instr::ChildLoopBegin { end } => {
                let children = self.op(task).args.children;
                self.repeat_begin(task, children, end);
            }
            Instr::KickAp { script } => return self.kick_ap(task, script, at, sched),
            Instr::Return => self.end_op(task, Ok(()), at, sched),
            Instr::Fail(errno) => self.end_op(task, Err(errno), at, sched),
        }
        Flow::Continue
    }

    /// A lock step: taken (go on after its cost), or the task now waits.
    #[inline]
    fn lock_step(
        &mut self,
        task: TaskId,
        lock: LockRef,
        mode: Mode,
        nested: bool,
        at: Position,
        sched: &mut Scheduler,
    ) -> Flow {
        let lock = self.resolve_lock(task, lock);
        match self.acquire(task, lock, mode, nested as u8, at, sched) {
            Some(0) => Flow::Continue,
            Some(delay_ns) => self.resume_after(task, delay_ns, sched),
            None => Flow::Stop,
        }
    }

    /// The running task goes on after `delay_ns`: at once if its resume would be the run's
    /// next event anyway ([`Scheduler::advance_in_place`]), else by a queued resume.
    #[inline]
    fn resume_after(&mut self, task: TaskId, delay_ns: u64, sched: &mut Scheduler) -> Flow {
        if sched.advance_in_place(delay_ns) {
            return Flow::Continue;
        }
        self.resume_in(sched, task, delay_ns);
        Flow::Stop
    }

    /// `cpuhp_kick_ap_work()`: wakes the task's `cpuhp/N` thread for the operation's CPU to run
    /// `script` with this operation's arguments, and waits for it (a wait-for edge to that
    /// thread). A task without a hotplug thread breaks invariant 6 and goes on.
    fn kick_ap(&mut self, task: TaskId, script: ScriptId, at: Position, sched: &mut Scheduler) -> Flow {
        let now_ns = sched.now_ns();
        let Some(thread) = self.ap_thread[task as usize] else {
            let cpu = self.tasks[task as usize].cpu;
            let what = "kick_ap from a task that drives no hotplug (it has no cpuhp/N thread)".to_string();
            self.violation(Invariant::LocksBalanced, task, cpu, at, what, now_ns);
            return Flow::Continue;
        };
        let args = self.op(task).args;
        let t = &mut self.tasks[thread as usize];
        debug_assert_eq!(t.state, TaskState::Parked, "a cpuhp thread is kicked while it runs");
        // Renamed in place: one kick per hotplug step, and the name's buffer is reused.
        t.name.clear();
        let _ = write!(t.name, "cpuhp/{}", args.cpu);
        t.cpu = args.cpu;
        t.op = Some(Op::start(script, args, now_ns, t.held.len(), std::mem::take(&mut t.spare_loops)));
        t.state = TaskState::Running;
        self.resume_in(sched, thread, self.costs.wakeup_ns);
        let kind = WaitKind::ApWork;
        if self.trace.is_on() {
            let name = format!(
                "waits for {} to finish {}",
                self.tasks[thread as usize].name, self.programs[script as usize].name
            );
            self.trace.flow(task, thread, now_ns, || name);
        }
        let c = &mut self.tasks[task as usize];
        c.wait = Some(Wait { lock: thread, mode: Mode::Write, subclass: 0, since_ns: now_ns, at, kind });
        c.state = TaskState::Blocked;
        Flow::Stop
    }

    /// A `cpuhp/N` thread finished its AP operation: it parks, and its control task runs again
    /// after the wake-up latency (`complete(&st->done)`).
    fn ap_done(&mut self, thread: TaskId, control: TaskId, sched: &mut Scheduler) {
        self.tasks[thread as usize].state = TaskState::Parked;
        self.tasks[thread as usize].last = None;
        if self.trace.is_on()
            && let Some(wait) = self.tasks[control as usize].wait
        {
            let name = format!("wait {}", self.tasks[thread as usize].name);
            self.trace.span(Track::Task(control), "wait", wait.since_ns, sched.now_ns(), || name);
        }
        let c = &mut self.tasks[control as usize];
        debug_assert!(c.wait.is_some_and(|w| w.kind == WaitKind::ApWork && w.lock == thread));
        c.wait = None;
        c.state = TaskState::Running;
        self.resume_in(sched, control, self.costs.wakeup_ns);
    }

    /// `synchronize_rcu()`, `synchronize_rcu_expedited()` or `synchronize_srcu()`: the task
    /// waits for the grace period.
    fn synchronize(&mut self, task: TaskId, kind: SyncKind, at: Position, sched: &mut Scheduler) {
        match kind {
            SyncKind::Rcu => {
                let grace_period_ns = self.grace_period(task);
                self.resume_in(sched, task, grace_period_ns);
            }
            SyncKind::RcuExpedited => self.resume_in(sched, task, self.costs.rcu_expedited_ns),
            SyncKind::Srcu(lock) => {
                let lock = self.resolve_lock(task, lock);
                let now_ns = sched.now_ns();
                // No lockdep annotation: v4.13's __synchronize_srcu() has none (docs/model.md §6.3).
                self.locks.srcu_synchronize(task, lock);
                let (mode, kind) = (Mode::Write, WaitKind::SrcuSync);
                self.tasks[task as usize].wait = Some(Wait { lock, mode, subclass: 0, since_ns: now_ns, at, kind });
                let done = Event::new(task, EV_SRCU_GP_DONE, lock as u64);
                sched.schedule_in(self.costs.srcu_grace_period_ns, done);
            }
        }
    }

    /// `repeat N` and `for_each_child`: runs the body `times` times, or skips it.
    fn repeat_begin(&mut self, task: TaskId, times: u32, end: usize) {
        let op = self.tasks[task as usize].op_mut();
        if times == 0 {
            op.pc = end + 1;
        } else {
            op.loops.push(LoopFrame::Repeat { left: times });
        }
    }

    /// `for_each_pmu`: loops over a snapshot of perf's PMU list (the ones `filter` keeps).
    fn pmu_loop_begin(&mut self, task: TaskId, filter: PmuFilter, end: usize) {
        let pmus = self.perf.list_snapshot(match filter {
            PmuFilter::All => None,
            PmuFilter::Core => Some(PmuScope::Core),
            PmuFilter::Uncore => Some(PmuScope::Uncore),
        });
        let op = self.tasks[task as usize].op_mut();
        if pmus.is_empty() {
            op.pc = end + 1;
        } else {
            op.loop_pmu = Some(pmus[0]);
            op.loops.push(LoopFrame::Pmus { pmus, at: 0 });
        }
    }

    /// `for_each_handoff`: loops over the uncore PMUs whose reader is the CPU going down, each
    /// with the CPU that takes it over.
    fn handoff_loop_begin(&mut self, task: TaskId, end: usize, sched: &mut Scheduler) {
        let cpu = self.op(task).args.cpu;
        let moves = self.perf.handoffs(cpu, &self.online);
        self.sync_uncore_units(self.perf.package_of(cpu), sched);
        let op = self.tasks[task as usize].op_mut();
        if moves.is_empty() {
            op.pc = end + 1;
        } else {
            op.loop_pmu = Some(moves[0].0);
            op.loops.push(LoopFrame::Handoffs { moves, at: 0 });
        }
    }

    /// The end of the innermost loop: back to the step after `begin`, or out of it.
    fn loop_end(&mut self, task: TaskId, begin: usize) {
        let op = self.tasks[task as usize].op_mut();
        let frame = op.loops.last_mut().expect("inside a loop");
        let again = match frame {
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
            if let Some(pmu) = frame.pmu() {
                op.loop_pmu = Some(pmu);
            }
            op.pc = begin + 1;
        } else {
            op.loops.pop();
            op.loop_pmu = op.innermost_loop_pmu();
        }
    }

    /// `perf_pmu_migrate_context()` of the current handoff: the events move to the target CPU,
    /// and the uncore unit's counts are read there (invariant 3).
    fn move_events(&mut self, task: TaskId, at: Position, sched: &mut Scheduler) {
        let (pmu, target) = self.handoff(task);
        let cpu = self.op(task).args.cpu;
        self.perf.move_events(pmu, cpu, target);
        let now_ns = sched.now_ns();
        let unit = self.pmu.as_ref().and_then(|l| l.uncore_unit(pmu, self.perf.package_of(cpu)));
        if let (Some(unit), Some(load)) = (unit, &mut self.pmu) {
            for (event, error) in load.read_all(unit, now_ns) {
                let what = format!("uncore event {event} read {error} events off its ground truth at handoff");
                self.violation(Invariant::CountsMatchGroundTruth, task, cpu, at, what, now_ns);
            }
        }
    }

    /// `perf_pmu_register()` of the operation's PMU, each CPU's context online as `init` says.
    fn register_pmu(&mut self, task: TaskId, init: InitFrom) {
        let pmu = self.op(task).args.pmu;
        let Kernel { perf, online, .. } = self;
        let perf_online: Vec<bool> = (0..online.len()).map(|c| perf.perf_online(c)).collect();
        match init {
            InitFrom::CpuOnline => perf.register(pmu, |c| online.test(c), online),
            InitFrom::PerfOnline => perf.register(pmu, |c| perf_online[c as usize], online),
            InitFrom::AllPossible => perf.register(pmu, |_| true, online),
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
                t.op = Some(Op::start(script, args, now_ns, t.held.len(), std::mem::take(&mut t.spare_loops)));
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

    /// The operation returns (or fails, releasing what it took): its statistics, trace span
    /// and outcome for the agent.
    fn end_op(&mut self, task: TaskId, result: Result<(), Errno>, at: Position, sched: &mut Scheduler) {
        let now_ns = sched.now_ns();
        let held_at_start = self.op(task).held_at_start;
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
        let mut op = t.op.take().expect("op");
        t.spare_loops = std::mem::take(&mut op.loops);
        t.spare_loops.clear();
        let stat = &mut self.op_stats[op.script as usize];
        match result {
            Ok(()) => stat.completed += 1,
            Err(_) => stat.failed += 1,
        }
        if self.timed[op.script as usize] {
            stat.latency_ns.record(now_ns - op.started_ns).expect("auto-resizing histogram");
        }
        stat.last_ended_ns = now_ns;
        t.last =
            Some(OpOutcome { script: op.script, args: op.args, started_ns: op.started_ns, ended_ns: now_ns, result });
        if let Some(control) = self.ap_control[task as usize] {
            self.ap_done(task, control, sched);
        }
    }

    /// The operation `task` runs.
    #[inline]
    pub(super) fn op(&self, task: TaskId) -> &Op {
        self.tasks[task as usize].op()
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

    #[inline]
    pub(super) fn resolve_cpu(&self, task: TaskId, cpu: CpuRef) -> u32 {
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

    #[inline]
    pub(super) fn resolve_pmu(&self, task: TaskId, pmu: PmuRef) -> u16 {
        match pmu {
            PmuRef::Arg => self.op(task).args.pmu,
            PmuRef::Loop => {
                let op = self.op(task);
                debug_assert_eq!(op.loop_pmu, op.innermost_loop_pmu(), "loop_pmu kept in step with the loops");
                op.loop_pmu.expect("loop PMU used outside for_each_pmu")
            }
        }
    }

    #[inline]
    fn resolve_lock(&self, task: TaskId, lock: LockRef) -> u32 {
        self.locks.instance(task, lock, |cpu| self.resolve_cpu(task, cpu), |pmu| self.resolve_pmu(task, pmu))
    }

    fn flag(&self, task: TaskId, flag: Flag) -> bool {
        match flag {
            Flag::CpuOnline(cpu) => self.online.test(self.resolve_cpu(task, cpu)),
            Flag::CtxOnline(cpu, pmu) => self.perf.ctx_online(self.resolve_cpu(task, cpu), self.resolve_pmu(task, pmu)),
            Flag::PerfOnline(cpu) => self.perf.perf_online(self.resolve_cpu(task, cpu)),
            Flag::Usable(cpu) => self.perf.usable(self.resolve_cpu(task, cpu)),
        }
    }

    /// The CPU a flag names, when the flag is the scheme's own online view (invariant 4).
    fn view_flag_cpu(&self, task: TaskId, flag: Flag) -> Option<u32> {
        let cpu = match (self.perf.view(), flag) {
            (OnlineView::CpuOnline, Flag::CpuOnline(cpu))
            | (OnlineView::CtxOnline, Flag::CtxOnline(cpu, _))
            | (OnlineView::Usable, Flag::Usable(cpu)) => cpu,
            _ => return None,
        };
        Some(self.resolve_cpu(task, cpu))
    }

    /// What an `if` step tests.
    fn cond(&self, task: TaskId, cond: Cond) -> bool {
        let tracepoint = || self.op(task).args.tracepoint;
        match cond {
            Cond::Zero(counter) => self.counters.get(counter, tracepoint()) == 0,
            Cond::NonZero(counter) => self.counters.get(counter, tracepoint()) != 0,
            Cond::One(counter) => self.counters.get(counter, tracepoint()) == 1,
            Cond::Set(flag) => self.flag(task, flag),
            Cond::Clear(flag) => !self.flag(task, flag),
            Cond::CorePmu(pmu) => self.perf.pmus()[self.resolve_pmu(task, pmu) as usize].scope == PmuScope::Core,
            Cond::HasEvents(cpu, pmu) => {
                !self.perf.events_on(self.resolve_cpu(task, cpu), self.resolve_pmu(task, pmu)).is_empty()
            }
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

    /// A step's time: the cost's mean at the current online count, or an exponential draw
    /// with that mean from the task's stream.
    pub(super) fn draw(&mut self, task: TaskId, cost: Cost) -> u64 {
        const { assert!(crate::time::MAX_COST_NS as u128 * (1 + 2 * super::MAX_CPUS as u128) <= u64::MAX as u128) };
        let mean = cost.mean_ns(self.online_count as u64, self.online.len() as u64);
        if cost.exponential && mean > 0 { exp_ns(&mut self.tasks[task as usize].rng, mean as f64) } else { mean }
    }

    /// One RCU grace period: its mean, or a uniform draw from the task's stream within the
    /// spread around it.
    pub(super) fn grace_period(&mut self, task: TaskId) -> u64 {
        let (mean, spread) =
            (self.costs.rcu_grace_period_ns, self.costs.rcu_grace_period_spread_ns.min(self.costs.rcu_grace_period_ns));
        if spread == 0 {
            return mean;
        }
        mean - spread + rand::Rng::random_range(&mut self.tasks[task as usize].rng, 0..=2 * spread)
    }

    #[inline]
    pub(super) fn resume_in(&self, sched: &mut Scheduler, task: TaskId, delay_ns: u64) {
        sched.schedule_in(delay_ns, Event::new(task, EV_RESUME, 0));
    }
}
