//! The scripts themselves, as docs/model.md §4 describes them; §9 lists where they depart from the kernel (v4.13) and are to be rebuilt.

use sim::locks::Mode;
use sim::script::{ClassId, Cost, CpuRef, Errno, Flag, IpiHandler, LockRef, Mark, PmuFilter, PmuRef, Step, SyncKind};

use super::classes::class_id;
use super::{Handoff, SchemeKind, SchemeOptions, legacy, op, percpu_state, pmus_lock};

/// Time costs of the perf and hotplug work between lock operations (docs/model.md §4.3–§4.10), in ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PerfCosts {
    /// Teardown callbacks of other subsystems on `cpu_down`.
    pub cpuhp_other_down_ns: u64,
    /// Dead-side work after `stop_machine`.
    pub cpuhp_dead_ns: u64,
    /// Bringing the CPU up before perf's init.
    pub cpuhp_bringup_ns: u64,
    /// Startup callbacks of other subsystems on `cpu_up`.
    pub cpuhp_other_up_ns: u64,
    /// `perf_pmu_register` allocates a context per possible CPU.
    pub ctx_alloc_per_cpu_ns: u64,
    /// percpu-state's per-context initialisation in init(c).
    pub ctx_init_ns: u64,
    /// `static_key_slow_inc/dec`: text patching, a base plus a share per online CPU.
    pub static_key_base_ns: u64,
    pub static_key_per_online_cpu_ns: u64,
    /// `perf_pmu_unregister`'s free after the grace periods.
    pub pmu_free_ns: u64,
    /// A driver probe's work under `dev->mutex` and `cpu_add_remove_lock`.
    pub driver_probe_ns: u64,
    /// `device_register` of a PMU's device under `dev->mutex`.
    pub pmu_dev_register_ns: u64,
}

impl Default for PerfCosts {
    fn default() -> Self {
        PerfCosts {
            cpuhp_other_down_ns: 5_000_000,
            cpuhp_dead_ns: 1_000_000,
            cpuhp_bringup_ns: 2_000_000,
            cpuhp_other_up_ns: 3_000_000,
            ctx_alloc_per_cpu_ns: 300,
            ctx_init_ns: 1_000,
            static_key_base_ns: 5_000,
            static_key_per_online_cpu_ns: 200,
            pmu_free_ns: 10_000,
            driver_probe_ns: 100_000,
            pmu_dev_register_ns: 20_000,
        }
    }
}

fn id(name: &str) -> ClassId {
    class_id(name).expect("built-in class")
}

pub(super) fn lock(l: LockRef) -> Step {
    Step::Lock { lock: l, mode: Mode::Write, nested: false }
}

pub(super) fn read(l: LockRef) -> Step {
    Step::Lock { lock: l, mode: Mode::Read, nested: false }
}

pub(super) fn unlock(l: LockRef) -> Step {
    Step::Unlock { lock: l }
}

pub(super) fn work(ns: u64) -> Step {
    Step::Work(Cost::fixed(ns))
}

pub(super) struct Locks {
    pub(super) add_remove: LockRef,
    pub(super) hotplug: LockRef,
    pub(super) pmus: LockRef,
    pub(super) srcu: LockRef,
    pub(super) event: LockRef,
    pub(super) tracepoints: LockRef,
    pub(super) jump_label: LockRef,
    pub(super) child: LockRef,
    pub(super) dev: LockRef,
}

impl Locks {
    fn new() -> Locks {
        Locks {
            add_remove: LockRef::Global(id("cpu_add_remove_lock")),
            hotplug: LockRef::Global(id("cpu_hotplug_lock")),
            pmus: LockRef::Global(id("pmus_lock")),
            srcu: LockRef::Global(id("pmus_srcu")),
            event: LockRef::Global(id("event_mutex")),
            tracepoints: LockRef::Global(id("tracepoints_mutex")),
            jump_label: LockRef::Global(id("jump_label_mutex")),
            child: LockRef::PerTask(id("event->child_mutex")),
            dev: LockRef::PerPmu(id("dev->mutex"), PmuRef::Arg),
        }
    }

    pub(super) fn ctx(cpu: CpuRef, pmu: PmuRef) -> LockRef {
        LockRef::Ctx(id("ctx->mutex"), cpu, pmu)
    }
}

/// Tracepoint (un)registration: `event_mutex` → `tracepoints_mutex` → `cpus_read_lock()` (via
/// `static_key_slow_inc/dec`) → `jump_label_mutex` → text patching.
fn tracepoint_part(l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let patch = Cost {
        base_ns: c.static_key_base_ns,
        per_online_cpu_ns: c.static_key_per_online_cpu_ns,
        per_possible_cpu_ns: 0,
        exponential: false,
    };
    vec![
        lock(l.event),
        lock(l.tracepoints),
        read(l.hotplug),
        lock(l.jump_label),
        Step::Work(patch),
        unlock(l.jump_label),
        unlock(l.hotplug),
        unlock(l.tracepoints),
        unlock(l.event),
    ]
}

/// The loop body that takes both contexts of an uncore handoff in address order, the second
/// annotated as nested, and moves the events (`perf_pmu_migrate_context`).
pub(super) fn handoff_loop() -> Step {
    let low = Locks::ctx(CpuRef::Lower, PmuRef::Loop);
    let high = Locks::ctx(CpuRef::Higher, PmuRef::Loop);
    Step::ForEachHandoff {
        body: vec![
            lock(low),
            Step::Lock { lock: high, mode: Mode::Write, nested: true },
            Step::MoveEvents,
            unlock(high),
            unlock(low),
        ],
    }
}

/// One PMU loop of perf exit(c): each context's `ctx->mutex`, its events removed by IPI and
/// `cpuctx->online` cleared (`perf_event_exit_cpu_context()`).
pub(super) fn exit_each_pmu() -> Step {
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Loop);
    let body = vec![
        lock(ctx),
        Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::RemoveEvents },
        Step::Set { flag: Flag::CtxOnline(CpuRef::Arg, PmuRef::Loop), value: false },
        unlock(ctx),
    ];
    Step::ForEachPmu { filter: PmuFilter::All, body }
}

/// One PMU loop of perf init(c): each context's `ctx->mutex`, `extra` steps, then
/// `cpuctx->online` set (`perf_event_init_cpu()`).
pub(super) fn init_each_pmu(extra: Vec<Step>) -> Step {
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Loop);
    let mut body = vec![lock(ctx)];
    body.extend(extra);
    body.extend([Step::Set { flag: Flag::CtxOnline(CpuRef::Arg, PmuRef::Loop), value: true }, unlock(ctx)]);
    Step::ForEachPmu { filter: PmuFilter::All, body }
}

/// perf exit(c), which removes each PMU's events on the CPU going down: the scheme's own.
fn perf_exit(o: &SchemeOptions, l: &Locks) -> Vec<Step> {
    match o.kind {
        SchemeKind::Legacy => legacy::perf_exit(o, l),
        SchemeKind::PmusLock | SchemeKind::PmusLockNocheck => pmus_lock::perf_exit(o, l),
        SchemeKind::PercpuState => percpu_state::perf_exit(o, l),
    }
}

/// perf init(c), which makes each PMU's context on the CPU coming up usable: the scheme's own.
fn perf_init(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    match o.kind {
        SchemeKind::Legacy => legacy::perf_init(l),
        SchemeKind::PmusLock | SchemeKind::PmusLockNocheck => pmus_lock::perf_init(l),
        SchemeKind::PercpuState => percpu_state::perf_init(l, c),
    }
}

fn cpu_down(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let mut steps = vec![lock(l.add_remove), lock(l.hotplug), work(c.cpuhp_other_down_ns)];
    if o.handoff == Handoff::Driver {
        steps.push(handoff_loop());
    }
    steps.extend(perf_exit(o, l));
    steps.extend([
        Step::Mark(Mark::PerfExitDone),
        Step::StopMachine,
        Step::Set { flag: Flag::CpuOnline(CpuRef::Arg), value: false },
        work(c.cpuhp_dead_ns),
        unlock(l.hotplug),
        unlock(l.add_remove),
    ]);
    steps
}

fn cpu_up(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let mut steps = vec![
        lock(l.add_remove),
        lock(l.hotplug),
        work(c.cpuhp_bringup_ns),
        Step::Set { flag: Flag::CpuOnline(CpuRef::Arg), value: true },
        Step::Mark(Mark::PerfInitStart),
    ];
    steps.extend(perf_init(o, l, c));
    steps.extend([
        Step::AdoptUncore,
        work(c.cpuhp_other_up_ns),
        Step::Mark(Mark::CpuUpDone),
        unlock(l.hotplug),
        unlock(l.add_remove),
    ]);
    steps
}

/// `perf_event_open` of a per-CPU event: the tracepoint's registration (for a tracepoint
/// event), then the scheme's check and install under `ctx->mutex`.
fn perf_event_open(o: &SchemeOptions, l: &Locks, c: &PerfCosts, tracepoint: bool) -> Vec<Step> {
    let open = Open::new(l, c, tracepoint);
    match o.kind {
        SchemeKind::Legacy => legacy::perf_event_open(l, &open),
        SchemeKind::PmusLock => pmus_lock::perf_event_open(&open),
        SchemeKind::PmusLockNocheck => pmus_lock::perf_event_open_nocheck(&open),
        SchemeKind::PercpuState => percpu_state::perf_event_open(&open),
    }
}

/// The parts every scheme's `perf_event_open` is made of.
pub(super) struct Open {
    /// The event's context's `ctx->mutex`.
    pub(super) ctx: LockRef,
    /// Tracepoint registration, empty for other events.
    pub(super) tracepoint: Vec<Step>,
    /// `__perf_install_in_context` by IPI to the event's CPU.
    pub(super) install: Step,
    undo: Vec<Step>,
}

impl Open {
    fn new(l: &Locks, c: &PerfCosts, tracepoint: bool) -> Open {
        let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Arg);
        let tracepoint = if tracepoint { tracepoint_part(l, c) } else { Vec::new() };
        let mut undo = vec![unlock(ctx)];
        undo.extend(tracepoint.iter().cloned());
        Open { ctx, tracepoint, install: Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::InstallEvent }, undo }
    }

    /// `flag` checked under `ctx->mutex`, else `-ENODEV` after undoing the open so far.
    pub(super) fn check(&self, flag: Flag) -> Step {
        Step::Check { flag, errno: Errno::Enodev, otherwise: self.undo.clone() }
    }
}

fn perf_event_release(o: &SchemeOptions, l: &Locks, c: &PerfCosts, tracepoint: bool) -> Vec<Step> {
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Arg);
    let free: Vec<Step> = if tracepoint { tracepoint_part(l, c) } else { Vec::new() };
    let mut steps = vec![lock(ctx), Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::RemoveEvent }, lock(l.child)];
    if !o.free_outside_ctx_mutex {
        steps.extend(free.iter().cloned());
    }
    steps.extend([unlock(l.child), unlock(ctx)]);
    if o.free_outside_ctx_mutex {
        steps.extend(free);
    }
    steps
}

fn perf_pmu_register(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let alloc = Step::Work(Cost {
        base_ns: 0,
        per_online_cpu_ns: 0,
        per_possible_cpu_ns: c.ctx_alloc_per_cpu_ns,
        exponential: false,
    });
    let dev: Vec<Step> =
        if o.pmu_dev_alloc { vec![lock(l.dev), work(c.pmu_dev_register_ns), unlock(l.dev)] } else { Vec::new() };
    let mut steps = Vec::new();
    let init = match o.kind {
        SchemeKind::Legacy => {
            steps.push(read(l.hotplug));
            legacy::REGISTER_INIT
        }
        SchemeKind::PmusLock | SchemeKind::PmusLockNocheck => pmus_lock::REGISTER_INIT,
        SchemeKind::PercpuState => percpu_state::REGISTER_INIT,
    };
    steps.push(lock(l.pmus));
    steps.extend(dev);
    steps.extend([alloc, Step::RegisterPmu { init }, unlock(l.pmus)]);
    if o.kind == SchemeKind::Legacy {
        steps.push(unlock(l.hotplug));
    }
    steps
}

fn perf_pmu_unregister(l: &Locks, c: &PerfCosts) -> Vec<Step> {
    vec![
        lock(l.pmus),
        Step::UnregisterPmu,
        unlock(l.pmus),
        Step::Synchronize(SyncKind::Srcu(l.srcu)),
        Step::Synchronize(SyncKind::Rcu),
        work(c.pmu_free_ns),
    ]
}

fn driver_probe(l: &Locks, c: &PerfCosts) -> Vec<Step> {
    vec![lock(l.dev), lock(l.add_remove), work(c.driver_probe_ns), unlock(l.add_remove), unlock(l.dev)]
}

/// Every operation's script for a scheme, in [`op`] order, as `(name, steps)`.
pub fn build(o: &SchemeOptions, c: &PerfCosts) -> Vec<(&'static str, Vec<Step>)> {
    let l = Locks::new();
    let scripts = vec![
        cpu_down(o, &l, c),
        cpu_up(o, &l, c),
        perf_event_open(o, &l, c, false),
        perf_event_open(o, &l, c, true),
        perf_event_release(o, &l, c, false),
        perf_event_release(o, &l, c, true),
        perf_pmu_register(o, &l, c),
        perf_pmu_unregister(&l, c),
        tracepoint_part(&l, c),
        driver_probe(&l, c),
    ];
    op::NAMES.iter().copied().zip(scripts).collect()
}
