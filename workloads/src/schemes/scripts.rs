//! The scripts themselves, as docs/model.md §4 describes them; §9 lists where they depart from the kernel (v4.13) and are to be rebuilt.

use sim::locks::Mode;
use sim::script::{
    ClassId, Cost, CpuRef, Errno, Flag, InitFrom, IpiHandler, LockRef, Mark, PmuFilter, PmuRef, Step, SyncKind,
};

use super::classes::class_id;
use super::{Handoff, SchemeKind, SchemeOptions, op};

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

fn lock(l: LockRef) -> Step {
    Step::Lock { lock: l, mode: Mode::Write, nested: false }
}

fn read(l: LockRef) -> Step {
    Step::Lock { lock: l, mode: Mode::Read, nested: false }
}

fn unlock(l: LockRef) -> Step {
    Step::Unlock { lock: l }
}

fn work(ns: u64) -> Step {
    Step::Work(Cost::fixed(ns))
}

struct Locks {
    add_remove: LockRef,
    hotplug: LockRef,
    pmus: LockRef,
    srcu: LockRef,
    event: LockRef,
    tracepoints: LockRef,
    jump_label: LockRef,
    child: LockRef,
    dev: LockRef,
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

    fn ctx(cpu: CpuRef, pmu: PmuRef) -> LockRef {
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
fn handoff_loop() -> Step {
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

/// perf exit(c), which removes each PMU's events on the CPU going down.
fn perf_exit(o: &SchemeOptions, l: &Locks) -> Vec<Step> {
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Loop);
    let per_pmu = |clear_online: bool| {
        let mut body = vec![lock(ctx), Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::RemoveEvents }];
        if clear_online {
            body.push(Step::Set { flag: Flag::CtxOnline(CpuRef::Arg, PmuRef::Loop), value: false });
        }
        body.push(unlock(ctx));
        Step::ForEachPmu { filter: PmuFilter::All, body }
    };
    let core_handoff = o.handoff == Handoff::Core;
    let mut steps = Vec::new();
    match o.kind {
        SchemeKind::Legacy => {
            if core_handoff {
                steps.extend([lock(l.pmus), handoff_loop(), unlock(l.pmus)]);
            }
            steps.extend([read(l.srcu), per_pmu(true), unlock(l.srcu)]);
        }
        SchemeKind::PmusLock | SchemeKind::PmusLockNocheck => {
            steps.push(lock(l.pmus));
            if core_handoff {
                steps.push(handoff_loop());
            }
            steps.extend([
                per_pmu(true),
                Step::Set { flag: Flag::PerfOnline(CpuRef::Arg), value: false },
                unlock(l.pmus),
            ]);
        }
        SchemeKind::PercpuState => {
            steps.push(lock(l.pmus));
            steps.push(Step::Set { flag: Flag::Usable(CpuRef::Arg), value: false });
            if core_handoff {
                steps.push(handoff_loop());
            }
            steps.extend([unlock(l.pmus), read(l.srcu), per_pmu(true), unlock(l.srcu)]);
        }
    }
    steps
}

/// perf init(c), which makes each PMU's context on the CPU coming up usable.
fn perf_init(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Loop);
    let set_online = Step::Set { flag: Flag::CtxOnline(CpuRef::Arg, PmuRef::Loop), value: true };
    match o.kind {
        SchemeKind::Legacy => vec![
            read(l.srcu),
            Step::ForEachPmu { filter: PmuFilter::All, body: vec![lock(ctx), set_online, unlock(ctx)] },
            unlock(l.srcu),
        ],
        SchemeKind::PmusLock | SchemeKind::PmusLockNocheck => vec![
            lock(l.pmus),
            Step::Set { flag: Flag::PerfOnline(CpuRef::Arg), value: true },
            Step::ForEachPmu { filter: PmuFilter::All, body: vec![lock(ctx), set_online, unlock(ctx)] },
            unlock(l.pmus),
        ],
        SchemeKind::PercpuState => vec![
            read(l.srcu),
            Step::ForEachPmu {
                filter: PmuFilter::All,
                body: vec![lock(ctx), work(c.ctx_init_ns), set_online, unlock(ctx)],
            },
            unlock(l.srcu),
            lock(l.pmus),
            Step::Set { flag: Flag::Usable(CpuRef::Arg), value: true },
            unlock(l.pmus),
        ],
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

fn perf_event_open(o: &SchemeOptions, l: &Locks, c: &PerfCosts, tracepoint: bool) -> Vec<Step> {
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Arg);
    let tp = if tracepoint { tracepoint_part(l, c) } else { Vec::new() };
    let mut undo = vec![unlock(ctx)];
    undo.extend(tp.iter().cloned());
    let check = |flag| Step::Check { flag, errno: Errno::Enodev, otherwise: undo.clone() };
    let install = Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::InstallEvent };
    let mut steps = Vec::new();
    match o.kind {
        SchemeKind::Legacy => {
            steps.push(read(l.hotplug));
            steps.extend(tp.iter().cloned());
            steps.extend([lock(ctx), check(Flag::CpuOnline(CpuRef::Arg)), install, unlock(ctx), unlock(l.hotplug)]);
        }
        SchemeKind::PmusLock => {
            steps.extend(tp.iter().cloned());
            steps.extend([lock(ctx), check(Flag::CtxOnline(CpuRef::Arg, PmuRef::Arg)), install, unlock(ctx)]);
        }
        SchemeKind::PercpuState => {
            steps.extend(tp.iter().cloned());
            steps.extend([lock(ctx), check(Flag::Usable(CpuRef::Arg)), install, unlock(ctx)]);
        }
        SchemeKind::PmusLockNocheck => {
            steps.extend(tp.iter().cloned());
            steps.extend([lock(ctx), install, unlock(ctx)]);
        }
    }
    steps
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
            InitFrom::CpuOnline
        }
        SchemeKind::PmusLock | SchemeKind::PmusLockNocheck => InitFrom::PerfOnline,
        SchemeKind::PercpuState => InitFrom::AllPossible,
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
