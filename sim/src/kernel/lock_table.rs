//! The lock table: every lock instance of every class with its owners and waiters, the
//! lock-order edges (lockdep) and the lock_stat figures its acquisitions feed; and the
//! kernel's lock operations, which move tasks between running, holding and waiting.

use super::task::{Held, Task, TaskState, Wait, WaitKind};
use super::{Costs, EV_MUTEX_RETRY, EV_RCU_SYNC_DONE, Invariant, Kernel, LockClassDef, Track};
use crate::engine::Scheduler;
use crate::event::Event;
use crate::lockdep::{EdgeSeen, LockOrder, LockdepAcquire, OrderNode};
use crate::locks::Blockers;
use crate::locks::{
    Handoff, LockKind, Mode, Mutex, PercpuRwsem, ReadStart, RefcountHotplug, Srcu, TaskId, Unlocked, WriteStart,
};
use crate::lockstat::LockStat;
use crate::script::{ClassId, CpuRef, Layout, LockRef, PmuRef, Position};

/// `last_cpu` of a lock no CPU has taken yet.
const NO_CPU: u32 = u32::MAX;

/// One lock instance: the primitive's own state (owner, readers, waiters).
enum LockState {
    Mutex(Mutex),
    Spinlock(Mutex),
    PercpuRwsem(Box<PercpuRwsem>),
    Srcu(Box<Srcu>),
    /// A lockdep map: no state, it never blocks.
    LockdepMap,
    RefcountHotplug(Box<RefcountHotplug>),
}

/// What a first try at a lock did.
pub(super) enum Attempt {
    /// Taken; the task goes on after `cost_ns`.
    Taken { cost_ns: u64 },
    /// The task waits in the lock's queue.
    Blocked,
    /// A percpu_rwsem writer waits out rcu_sync's grace period first.
    GracePeriod,
}

/// Whom an unlock hands on to, as the primitive reports it.
pub(super) enum Released {
    Nobody,
    /// A mutex's next owner.
    Owner(TaskId),
    /// percpu_rwsem waiters that now hold the lock.
    Handoffs(Vec<Handoff>),
    /// `synchronize_srcu()` callers whose grace period the last reader ended.
    SrcuSyncsDone(Vec<TaskId>),
    /// A v4.10 mutex left free, its first waiter woken to try for it.
    Woke(TaskId),
}

/// Adds `value` to the run of equal values `run` (value, count): the run it ends, if any.
fn extend_run(run: &mut (u64, u64), value: u64) -> Option<(u64, u64)> {
    if run.1 > 0 && run.0 == value {
        run.1 += 1;
        return None;
    }
    let ended = std::mem::replace(run, (value, 1));
    (ended.1 > 0).then_some(ended)
}

/// Lock instances are numbered class by class: a class's instances are `class_base[class]..`,
/// as many as its [`Layout`] asks for.
pub(super) struct LockTable {
    classes: Vec<LockClassDef>,
    class_base: Vec<u32>,
    instances: Vec<LockState>,
    instance_class: Vec<ClassId>,
    /// The CPU that last took each instance (for lock_stat's bounces).
    last_cpu: Vec<u32>,
    /// Per class.
    stats: Vec<LockStat>,
    /// Per class, the hold and the wait time recorded last and how many times in a row:
    /// each run goes into `stats` at once when it ends, one histogram update instead of many
    /// (fixed-cost sections repeat the same time).
    pending: Vec<[(u64, u64); 2]>,
    order: LockOrder,
    /// Per class, how lockdep annotates taking it for read and for write (`LockdepAcquire`).
    lockdep: Vec<[LockdepAcquire; 2]>,
    /// This run's index in its sweep, recorded with each lock-order edge.
    run_index: u64,
    /// One `ctx->mutex` per CPU for all PMUs (v6.2) instead of one per CPU and PMU.
    ctx_per_cpu: bool,
    /// PMU slots, fixed at boot.
    npmus: u32,
    /// Each PMU's context slot: software PMUs share one (`PerfConfig::context_slots`).
    ctx_of: Vec<u16>,
    /// Mutexes hand the lock to their first waiter on unlock, instead of v4.10's unlock.
    mutex_fifo: bool,
}

impl LockTable {
    pub(super) fn new(
        classes: Vec<LockClassDef>,
        cpus: u32,
        ctx_of: Vec<u16>,
        ntasks: u32,
        ctx_per_cpu: bool,
        run_index: u64,
        mutex_fifo: bool,
    ) -> LockTable {
        let npmus = ctx_of.len() as u32;
        let count = |class: &LockClassDef| match class.layout {
            Layout::Global => 1,
            Layout::PerCpu => cpus,
            Layout::Ctx if ctx_per_cpu => cpus,
            Layout::Ctx => cpus * npmus,
            Layout::PerPmu => npmus,
            Layout::PerTask => ntasks * 2,
        };
        // Sized once: at 4,096 CPUs the table is megabytes, and growing it by doubling
        // copied it and touched twice its pages.
        let total: usize = classes.iter().map(|c| count(c) as usize).sum();
        let mut class_base = Vec::with_capacity(classes.len());
        let mut instances = Vec::with_capacity(total);
        let mut instance_class = Vec::with_capacity(total);
        for (id, class) in classes.iter().enumerate() {
            class_base.push(instances.len() as u32);
            for _ in 0..count(class) {
                instances.push(match class.kind {
                    LockKind::Mutex => LockState::Mutex(Mutex::default()),
                    LockKind::Spinlock => LockState::Spinlock(Mutex::default()),
                    LockKind::PercpuRwsem => LockState::PercpuRwsem(Box::default()),
                    LockKind::Srcu => LockState::Srcu(Box::default()),
                    LockKind::LockdepMap => LockState::LockdepMap,
                    LockKind::RefcountHotplug => LockState::RefcountHotplug(Box::default()),
                });
                instance_class.push(id as ClassId);
            }
        }
        LockTable {
            stats: classes.iter().map(|_| LockStat::default()).collect(),
            pending: vec![[(0, 0); 2]; classes.len()],
            lockdep: classes
                .iter()
                .map(|c| {
                    let of =
                        |mode| if c.validate { LockdepAcquire::of(c.kind, mode) } else { LockdepAcquire::Unchecked };
                    [of(Mode::Read), of(Mode::Write)]
                })
                .collect(),
            classes,
            class_base,
            last_cpu: vec![NO_CPU; instances.len()],
            instances,
            instance_class,
            order: LockOrder::default(),
            run_index,
            ctx_per_cpu,
            npmus,
            ctx_of,
            mutex_fifo,
        }
    }

    pub(super) fn classes(&self) -> &[LockClassDef] {
        &self.classes
    }

    pub(super) fn stats(&mut self) -> &[LockStat] {
        self.flush_pending();
        &self.stats
    }

    /// Books the runs of equal times still pending.
    fn flush_pending(&mut self) {
        for (stat, [hold, wait]) in self.stats.iter_mut().zip(&mut self.pending) {
            if hold.1 > 0 {
                stat.record_holds(hold.0, hold.1);
            }
            if wait.1 > 0 {
                stat.record_waits(wait.0, wait.1);
            }
            *hold = (0, 0);
            *wait = (0, 0);
        }
    }

    pub(super) fn order(&self) -> &LockOrder {
        &self.order
    }

    /// Moves the statistics and the lock order out, leaving empty ones.
    pub(super) fn take_stats(&mut self) -> (Vec<LockStat>, LockOrder) {
        self.flush_pending();
        (std::mem::take(&mut self.stats), std::mem::take(&mut self.order))
    }

    #[inline]
    pub(super) fn class_id(&self, lock: u32) -> ClassId {
        self.instance_class[lock as usize]
    }

    pub(super) fn class_of(&self, lock: u32) -> &LockClassDef {
        &self.classes[self.class_id(lock) as usize]
    }

    /// `class` or `class[cpu]` for per-CPU instances (`tasks` names per-task ones).
    pub(super) fn name(&self, lock: u32, tasks: &[Task]) -> String {
        let class = self.class_id(lock);
        let def = &self.classes[class as usize];
        let index = lock - self.class_base[class as usize];
        let npmus = self.npmus;
        match def.layout {
            Layout::Global => def.name.clone(),
            Layout::Ctx if !self.ctx_per_cpu => format!("{}[cpu {}, pmu {}]", def.name, index / npmus, index % npmus),
            Layout::PerCpu | Layout::Ctx => format!("{}[cpu {index}]", def.name),
            Layout::PerPmu => format!("{}[pmu {index}]", def.name),
            Layout::PerTask if index.is_multiple_of(2) => format!("{}[{}]", def.name, tasks[index as usize / 2].name),
            Layout::PerTask => format!("{}[{}'s child]", def.name, tasks[index as usize / 2].name),
        }
    }

    /// The instance `lock` names for `task`; `cpu` and `pmu` resolve the script's references
    /// (a context lock's PMU only when contexts are per CPU and PMU).
    #[inline(always)]
    pub(super) fn instance(
        &self,
        task: TaskId,
        lock: LockRef,
        cpu: impl Fn(CpuRef) -> u32,
        pmu: impl Fn(PmuRef) -> u16,
    ) -> u32 {
        let base = |class: ClassId| self.class_base[class as usize];
        match lock {
            LockRef::Global(class) => base(class),
            LockRef::PerCpu(class, c) => base(class) + cpu(c),
            LockRef::Ctx(class, c, p) => {
                let c = cpu(c);
                if self.ctx_per_cpu {
                    base(class) + c
                } else {
                    base(class) + c * self.npmus + u32::from(self.ctx_of[pmu(p) as usize])
                }
            }
            LockRef::PerPmu(class, p) => base(class) + pmu(p) as u32,
            LockRef::PerTask(class, slot) => base(class) + task * 2 + slot.index(),
        }
    }

    /// Records what lockdep's `validate_chain()` records for `task_name`, holding `held`,
    /// taking `lock` (v4.13, docs/model.md §6.3). `check_deadlock()`: the class (and subclass)
    /// already held is a same-class edge, "possible recursive locking", unless both are reads
    /// and the new one is recursive. Else `check_prevs_add()`: one edge, from the most recent
    /// held entry that is neither a recursive read nor unchecked (the walk goes further down
    /// only past trylocks, which no script takes); an edge into a recursive read is checked,
    /// not stored (`LockOrder::cycles`). Nothing at all for an unchecked acquisition.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_order(
        &mut self,
        task_name: &str,
        held: &[Held],
        lock: u32,
        mode: Mode,
        subclass: u8,
        acquire: LockdepAcquire,
        at: Position,
        now_ns: u64,
    ) {
        if acquire == LockdepAcquire::Unchecked {
            return;
        }
        let class = self.class_id(lock);
        let acquiring = OrderNode { class, subclass, mode };
        let instance_class = &self.instance_class;
        let node = |h: &Held| OrderNode { class: instance_class[h.lock as usize], subclass: h.subclass, mode: h.mode };
        let checked = |h: &&Held| h.lockdep != LockdepAcquire::Unchecked;
        let prev = match held.iter().filter(checked).find(|h| node(h).class == class && h.subclass == subclass) {
            Some(same) if acquire == LockdepAcquire::RecursiveRead && same.lockdep != LockdepAcquire::Write => return,
            Some(same) => same,
            None => {
                let linked = |h: &&Held| matches!(h.lockdep, LockdepAcquire::Write | LockdepAcquire::Read);
                let Some(prev) = held.iter().rev().find(linked) else { return };
                prev
            }
        };
        self.order.record(node(prev), acquiring, || EdgeSeen {
            run: self.run_index,
            time_ns: now_ns,
            task: task_name.to_string(),
            held_at: prev.at,
            acquired_at: at,
            count: 1,
        });
    }

    /// Tries to take `lock` as the primitive's fast path would (`mutex_lock()`,
    /// `percpu_down_read()`, `percpu_down_write()`, `srcu_read_lock()`).
    pub(super) fn try_lock(&mut self, task: TaskId, lock: u32, mode: Mode, now_ns: u64, costs: &Costs) -> Attempt {
        let taken = |taken: bool, cost_ns: u64| if taken { Attempt::Taken { cost_ns } } else { Attempt::Blocked };
        match &mut self.instances[lock as usize] {
            LockState::Mutex(m) => {
                assert_eq!(mode, Mode::Write, "mutexes are taken exclusively");
                taken(m.lock(task), costs.mutex_fast_ns)
            }
            LockState::Spinlock(m) => {
                assert_eq!(mode, Mode::Write, "spinlocks are taken exclusively");
                taken(m.lock(task), costs.spinlock_ns)
            }
            LockState::PercpuRwsem(sem) => match mode {
                Mode::Read => {
                    let slow = sem.readers_slow_path(now_ns);
                    let cost = if slow { costs.rwsem_read_slow_ns } else { costs.rwsem_read_fast_ns };
                    taken(sem.down_read(task), cost)
                }
                Mode::Write => match sem.down_write(task, now_ns) {
                    WriteStart::Acquired => Attempt::Taken { cost_ns: costs.rwsem_read_slow_ns },
                    WriteStart::Blocked => Attempt::Blocked,
                    WriteStart::GracePeriod => Attempt::GracePeriod,
                },
            },
            LockState::Srcu(srcu) => {
                assert_eq!(mode, Mode::Read, "SRCU is only read-locked; writers call synchronize");
                srcu.read_lock(task);
                Attempt::Taken { cost_ns: costs.srcu_read_ns }
            }
            LockState::LockdepMap => Attempt::Taken { cost_ns: 0 },
            LockState::RefcountHotplug(lock) => match mode {
                Mode::Read => match lock.down_read(task) {
                    ReadStart::Counted => Attempt::Taken { cost_ns: costs.mutex_fast_ns },
                    ReadStart::WriterItself => Attempt::Taken { cost_ns: 0 },
                    ReadStart::Blocked => Attempt::Blocked,
                },
                Mode::Write => taken(lock.down_write(task), costs.mutex_fast_ns),
            },
        }
    }

    /// Books an acquisition by `cpu` in lock_stat (a bounce if another CPU took it last).
    pub(super) fn record_acquisition(&mut self, lock: u32, cpu: u32) {
        let last_cpu = std::mem::replace(&mut self.last_cpu[lock as usize], cpu);
        let class = self.class_id(lock) as usize;
        self.stats[class].record_acquisition(last_cpu != NO_CPU && last_cpu != cpu);
    }

    pub(super) fn record_wait(&mut self, lock: u32, wait_ns: u64) {
        let class = self.class_id(lock) as usize;
        if let Some((ns, n)) = extend_run(&mut self.pending[class][1], wait_ns) {
            self.stats[class].record_waits(ns, n);
        }
    }

    pub(super) fn record_hold(&mut self, lock: u32, hold_ns: u64) {
        let class = self.class_id(lock) as usize;
        if let Some((ns, n)) = extend_run(&mut self.pending[class][0], hold_ns) {
            self.stats[class].record_holds(ns, n);
        }
    }

    /// `task` lets go of `lock` it held in `mode`; whom that hands the lock (or a grace
    /// period's end) to.
    pub(super) fn unlock(
        &mut self,
        task: TaskId,
        lock: u32,
        mode: Mode,
        now_ns: u64,
        grace_period_ns: u64,
    ) -> Released {
        match &mut self.instances[lock as usize] {
            LockState::Mutex(m) => match m.unlock(task, self.mutex_fifo) {
                Unlocked::Free => Released::Nobody,
                Unlocked::HandedTo(next) => Released::Owner(next),
                Unlocked::Woke(first) => Released::Woke(first),
            },
            // A ticket spinlock serves its waiters in order.
            LockState::Spinlock(m) => match m.unlock(task, true) {
                Unlocked::HandedTo(next) => Released::Owner(next),
                _ => Released::Nobody,
            },
            LockState::PercpuRwsem(sem) => match mode {
                Mode::Read => sem.up_read(task).map_or(Released::Nobody, |handoff| Released::Owner(handoff.task)),
                Mode::Write => Released::Handoffs(sem.up_write(task, now_ns, grace_period_ns)),
            },
            LockState::Srcu(srcu) => Released::SrcuSyncsDone(srcu.read_unlock(task)),
            LockState::LockdepMap => Released::Nobody,
            LockState::RefcountHotplug(lock) => match mode {
                Mode::Read => lock.up_read(task).map_or(Released::Nobody, |handoff| Released::Owner(handoff.task)),
                Mode::Write => Released::Handoffs(lock.up_write(task)),
            },
        }
    }

    /// A v4.10 mutex's woken first waiter runs: the lock if still free, else it waits on
    /// with `MUTEX_FLAG_HANDOFF` set.
    pub(super) fn mutex_retry(&mut self, task: TaskId, lock: u32) -> bool {
        let LockState::Mutex(m) = &mut self.instances[lock as usize] else {
            panic!("mutex retry for a lock that is not a mutex");
        };
        m.retry(task)
    }

    /// A percpu_rwsem writer's rcu_sync grace period is over.
    pub(super) fn rcu_sync_over(&mut self, task: TaskId, lock: u32) -> WriteStart {
        let LockState::PercpuRwsem(sem) = &mut self.instances[lock as usize] else {
            panic!("rcu_sync event for a lock that is not a percpu_rwsem");
        };
        sem.grace_period_over(task)
    }

    /// `synchronize_srcu()` by `task` starts.
    pub(super) fn srcu_synchronize(&mut self, task: TaskId, lock: u32) {
        let LockState::Srcu(srcu) = &mut self.instances[lock as usize] else {
            panic!("synchronize_srcu on a lock that is not SRCU");
        };
        srcu.synchronize(task);
    }

    /// `task`'s SRCU grace period is over; the callers whose wait ended.
    pub(super) fn srcu_grace_period_over(&mut self, task: TaskId, lock: u32) -> Vec<TaskId> {
        let LockState::Srcu(srcu) = &mut self.instances[lock as usize] else {
            panic!("srcu event for a lock that is not SRCU");
        };
        srcu.grace_period_over(task)
    }

    /// The tasks `task`, waiting for `lock`, waits on.
    pub(super) fn blockers(&self, task: TaskId, lock: u32) -> Blockers {
        match &self.instances[lock as usize] {
            LockState::Mutex(m) | LockState::Spinlock(m) => Blockers::Owner(m.owner()),
            LockState::PercpuRwsem(sem) => sem.blockers(task),
            LockState::Srcu(srcu) => srcu.blockers(task),
            LockState::LockdepMap => Blockers::Owner(None),
            LockState::RefcountHotplug(lock) => lock.blockers(task),
        }
    }

    /// How lockdep sees `task` taking `lock` in `mode`. `get_online_cpus()` in the writer task
    /// itself returns before lockdep sees it (v4.12), and a novalidate class is never checked.
    #[inline]
    pub(super) fn lockdep_acquire(&self, task: TaskId, lock: u32, mode: Mode) -> LockdepAcquire {
        let acquire = self.lockdep[self.class_id(lock) as usize][(mode == Mode::Write) as usize];
        match &self.instances[lock as usize] {
            LockState::RefcountHotplug(l) if mode == Mode::Read && l.writer_is(task) => LockdepAcquire::Unchecked,
            _ => acquire,
        }
    }
}

/// The most wait-for arrows drawn from one wait: a `cpu_hotplug_lock` writer may wait on
/// thousands of readers, and a few show whom.
const MAX_FLOWS: usize = 8;

impl Kernel {
    /// `class` or `class[cpu]` for per-CPU instances.
    pub(super) fn lock_name(&self, lock: u32) -> String {
        self.locks.name(lock, &self.tasks)
    }

    /// Tries to take `lock`. `Some(cost)` if taken (continue after `cost`), `None` if the task
    /// now waits (blocked, or in a writer's grace period).
    pub(super) fn acquire(
        &mut self,
        task: TaskId,
        lock: u32,
        mode: Mode,
        subclass: u8,
        at: Position,
        sched: &mut Scheduler,
    ) -> Option<u64> {
        let now_ns = sched.now_ns();
        let lockdep = self.locks.lockdep_acquire(task, lock, mode);
        let t = &self.tasks[task as usize];
        self.locks.record_order(&t.name, &t.held, lock, mode, subclass, lockdep, at, now_ns);
        let wait_kind = match self.locks.try_lock(task, lock, mode, now_ns, &self.costs) {
            Attempt::Taken { cost_ns } => {
                self.grant(task, lock, mode, subclass, lockdep, at, now_ns);
                return Some(cost_ns);
            }
            Attempt::Blocked => WaitKind::Lock,
            Attempt::GracePeriod => {
                let grace_period_ns = self.grace_period(task);
                sched.schedule_in(grace_period_ns, Event::new(task, EV_RCU_SYNC_DONE, lock as u64));
                WaitKind::RcuSync
            }
        };
        let t = &mut self.tasks[task as usize];
        t.wait = Some(Wait { lock, mode, subclass, since_ns: now_ns, at, kind: wait_kind });
        if wait_kind == WaitKind::Lock {
            t.state = TaskState::Blocked;
            if self.trace.is_on() {
                self.trace_wait_flows(task, lock, mode, now_ns);
            }
            self.check_deadlock(task, sched);
        }
        None
    }

    /// The trace's arrows from `task`, starting to wait for `lock`, to the tasks it waits on
    /// (the owner, or the first [`MAX_FLOWS`] readers or writer of a rwsem).
    fn trace_wait_flows(&mut self, task: TaskId, lock: u32, mode: Mode, now_ns: u64) {
        let name = format!("waits for {} ({})", self.lock_name(lock), mode.letter());
        let blockers = self.locks.blockers(task, lock);
        for &holder in blockers.as_slice().iter().take(MAX_FLOWS) {
            self.trace.flow(task, holder, now_ns, || name.clone());
        }
    }

    /// Books an acquisition: the task owns `lock` from `now_ns`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn grant(
        &mut self,
        task: TaskId,
        lock: u32,
        mode: Mode,
        subclass: u8,
        lockdep: LockdepAcquire,
        at: Position,
        now_ns: u64,
    ) {
        let t = &mut self.tasks[task as usize];
        t.held.push(Held { lock, mode, subclass, lockdep, acquired_ns: now_ns, at });
        self.locks.record_acquisition(lock, t.cpu);
    }

    /// A waiter was handed `lock` (or its grace period ended): it owns it now and runs after
    /// the wake-up latency.
    pub(super) fn wake_with_lock(&mut self, task: TaskId, sched: &mut Scheduler) {
        let wait = self.end_wait_with_lock(task, sched.now_ns());
        let t = &mut self.tasks[task as usize];
        assert_ne!(t.state, TaskState::Frozen, "detector bug: a task reported deadlocked was handed a lock");
        t.state = TaskState::Running;
        let latency_ns = match self.locks.class_of(wait.lock).kind {
            LockKind::Spinlock => self.costs.spinlock_ns,
            _ => self.costs.wakeup_ns,
        };
        self.resume_in(sched, task, latency_ns);
    }

    /// A waiting task owns the lock it waited for from `now_ns`: its wait ends, booked in
    /// lock_stat and the trace.
    fn end_wait_with_lock(&mut self, task: TaskId, now_ns: u64) -> Wait {
        let wait = self.tasks[task as usize].wait.take().expect("woken task was waiting");
        let lockdep = self.locks.lockdep_acquire(task, wait.lock, wait.mode);
        self.grant(task, wait.lock, wait.mode, wait.subclass, lockdep, wait.at, now_ns);
        self.locks.record_wait(wait.lock, now_ns - wait.since_ns);
        if self.trace.is_on() {
            let name = format!("wait {} ({})", self.lock_name(wait.lock), wait.mode.letter());
            self.trace.span(Track::Task(task), "wait", wait.since_ns, now_ns, || name);
        }
        wait
    }

    /// `task` unlocks `lock`, handing it to its next owners (invariant 6 if it did not hold it).
    pub(super) fn release(&mut self, task: TaskId, lock: u32, at: Position, sched: &mut Scheduler) {
        let now_ns = sched.now_ns();
        let t = &mut self.tasks[task as usize];
        let Some(index) = t.held.iter().rposition(|h| h.lock == lock) else {
            let what = format!("unlock of {} which the task does not hold", self.lock_name(lock));
            let cpu = self.tasks[task as usize].cpu;
            self.violation(Invariant::LocksBalanced, task, cpu, at, what, now_ns);
            return;
        };
        // Most unlocks are of the lock taken last: pop it without a (zero-length) memmove.
        let held = if index + 1 == t.held.len() { t.held.pop().expect("held") } else { t.held.remove(index) };
        // lockdep's __lock_release() of a lock not on top acquires every lock above it again
        // over the shorter stack (reacquire_held_locks()), which can add dependencies.
        for above in index..t.held.len() {
            let h = &t.held[above];
            let (lock, mode, subclass, lockdep, at) = (h.lock, h.mode, h.subclass, h.lockdep, h.at);
            self.locks.record_order(&t.name, &t.held[..above], lock, mode, subclass, lockdep, at, now_ns);
        }
        self.locks.record_hold(lock, now_ns - held.acquired_ns);
        if self.trace.is_on() {
            let name = format!("{} ({})", self.lock_name(lock), held.mode.letter());
            self.trace.span(Track::Task(task), "hold", held.acquired_ns, now_ns, || name);
        }
        // rcu_sync_exit()'s callback waits a grace period of its own, drawn as the writer leaves.
        let exit_grace_period_ns =
            if held.mode == Mode::Write && self.locks.class_of(lock).kind == LockKind::PercpuRwsem {
                self.grace_period(task)
            } else {
                0
            };
        match self.locks.unlock(task, lock, held.mode, now_ns, exit_grace_period_ns) {
            Released::Nobody => {}
            Released::Owner(next) => self.wake_with_lock(next, sched),
            Released::Handoffs(handoffs) => {
                for handoff in handoffs {
                    self.wake_with_lock(handoff.task, sched);
                }
            }
            Released::SrcuSyncsDone(done) => {
                for task in done {
                    self.finish_srcu_sync(task, sched);
                }
            }
            Released::Woke(first) => {
                sched.schedule_in(self.costs.wakeup_ns, Event::new(first, EV_MUTEX_RETRY, lock as u64));
            }
        }
    }

    /// `task`'s `synchronize_srcu()` returns (after the wake-up latency if it had blocked).
    pub(super) fn finish_srcu_sync(&mut self, task: TaskId, sched: &mut Scheduler) {
        let t = &mut self.tasks[task as usize];
        let wait = t.wait.take().expect("synchronize_srcu in progress");
        debug_assert_eq!(wait.kind, WaitKind::SrcuSync);
        let was_blocked = t.state == TaskState::Blocked;
        t.state = TaskState::Running;
        let latency_ns = if was_blocked { self.costs.wakeup_ns } else { 0 };
        self.resume_in(sched, task, latency_ns);
    }

    /// The woken first waiter of a v4.10 mutex runs (its wake-up latency spent): it takes the
    /// lock and goes on, or, stolen meanwhile, waits on as the next owner.
    pub(super) fn mutex_woken(&mut self, task: TaskId, lock: u32, sched: &mut Scheduler) {
        if self.tasks[task as usize].state == TaskState::Frozen {
            // In a deadlock found meanwhile: the lock it wants is held by a frozen task.
            return;
        }
        if self.locks.mutex_retry(task, lock) {
            self.end_wait_with_lock(task, sched.now_ns());
            self.tasks[task as usize].state = TaskState::Running;
            self.resume_in(sched, task, 0);
        } else {
            self.check_deadlock(task, sched);
        }
    }

    /// A writer's rcu_sync grace period ended: it holds the lock now, or waits for readers.
    pub(super) fn rcu_sync_done(&mut self, task: TaskId, lock: u32, sched: &mut Scheduler) {
        match self.locks.rcu_sync_over(task, lock) {
            WriteStart::Acquired => self.wake_with_lock(task, sched),
            WriteStart::Blocked => {
                self.tasks[task as usize].state = TaskState::Blocked;
                self.tasks[task as usize].wait.as_mut().expect("writer waits").kind = WaitKind::Lock;
                self.check_deadlock(task, sched);
            }
            WriteStart::GracePeriod => unreachable!("grace period ends once"),
        }
    }

    /// `task`'s SRCU grace period ended: its `synchronize_srcu()` returns, or waits for readers.
    pub(super) fn srcu_grace_period_done(&mut self, task: TaskId, lock: u32, sched: &mut Scheduler) {
        let done = self.locks.srcu_grace_period_over(task, lock);
        if done.contains(&task) {
            self.finish_srcu_sync(task, sched);
        } else {
            self.tasks[task as usize].state = TaskState::Blocked;
            self.check_deadlock(task, sched);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lock instance is a mutex inline or a pointer: three to a cache line.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_lock_instance_is_24_bytes() {
        assert_eq!(std::mem::size_of::<LockState>(), 24);
    }
}
