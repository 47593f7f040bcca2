//! The scripts themselves, as docs/model.md §4 describes them; §9 lists where they depart from the kernel (v4.13) and are to be rebuilt.

use sim::locks::Mode;
use sim::script::{
    ClassId, Cost, CpuRef, Errno, Flag, IpiHandler, LockRef, Mark, PmuFilter, PmuRef, Step, SyncKind, TaskSlot,
};

use super::classes::class_id;
use super::events::{Counters, Family, Paths};
use super::{
    Handoff, HotplugLock, MigrateSync, SchemeKind, SchemeOptions, legacy, op, percpu_state, pmus_lock, tasks, v412,
};

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
    /// percpu-state's per-context initialisation in init(c); 0, as v4.13.4's `perf_event_init_cpu()`
    /// does none (docs/model.md §4.4).
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
    /// `perf_event_alloc()` before the PMU's `event_init`.
    pub event_alloc_ns: u64,
    /// `tracepoint_add_func()`'s probe array copy under `tracepoints_mutex`.
    pub tracepoint_probe_ns: u64,
    /// `perf_trace_event_reg()`'s per-CPU list allocation, per possible CPU.
    pub perf_trace_alloc_per_cpu_ns: u64,
    /// `perf_trace_event_unreg()`'s frees after the grace period.
    pub perf_trace_free_ns: u64,
    /// `swevent_hlist_get/put()`'s work per possible CPU.
    pub hlist_per_cpu_ns: u64,
    /// `reserve/release_ds_buffers()`'s DS, PEBS and BTS buffers, per possible CPU.
    pub ds_buffer_per_cpu_ns: u64,
    /// `reserve/release_pmc_hardware()`.
    pub pmc_reserve_ns: u64,
    /// Installing or removing an event in a task context.
    pub install_ns: u64,
    pub remove_ns: u64,
    /// `inherit_event()`'s work besides the child's event init.
    pub inherit_ns: u64,
    /// `perf_event_exit_event()`'s work besides the free.
    pub exit_event_ns: u64,
    /// `ftrace_profile_set_filter()`: parsing and applying the filter under `event_mutex`.
    pub set_filter_ns: u64,
    /// The disable IPI handler of `perf_event_task_disable()`.
    pub disable_ns: u64,
}

impl Default for PerfCosts {
    fn default() -> Self {
        PerfCosts {
            cpuhp_other_down_ns: 5_000_000,
            cpuhp_dead_ns: 1_000_000,
            cpuhp_bringup_ns: 2_000_000,
            cpuhp_other_up_ns: 3_000_000,
            ctx_alloc_per_cpu_ns: 300,
            ctx_init_ns: 0,
            static_key_base_ns: 5_000,
            static_key_per_online_cpu_ns: 200,
            pmu_free_ns: 10_000,
            driver_probe_ns: 100_000,
            pmu_dev_register_ns: 20_000,
            event_alloc_ns: 2_000,
            tracepoint_probe_ns: 1_000,
            perf_trace_alloc_per_cpu_ns: 20,
            perf_trace_free_ns: 1_000,
            hlist_per_cpu_ns: 50,
            ds_buffer_per_cpu_ns: 2_000,
            pmc_reserve_ns: 5_000,
            install_ns: 1_000,
            remove_ns: 1_000,
            inherit_ns: 2_000,
            exit_event_ns: 1_000,
            set_filter_ns: 20_000,
            disable_ns: 500,
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

/// Work of `ns` for each possible CPU (an allocation per CPU).
pub(super) fn per_cpu_work(ns: u64) -> Step {
    Step::Work(Cost { base_ns: 0, per_online_cpu_ns: 0, per_possible_cpu_ns: ns, exponential: false })
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
    pub(super) pmc_reserve: LockRef,
    pub(super) perf_sched: LockRef,
    /// The task's own `perf_event_mutex`.
    pub(super) perf_event_mutex: LockRef,
    /// The `cpuhp_state` lockdep map.
    pub(super) cpuhp_state: LockRef,
}

impl Locks {
    fn new(o: &SchemeOptions) -> Locks {
        let hotplug = match o.hotplug_lock {
            HotplugLock::PercpuRwsem => "cpu_hotplug_lock",
            HotplugLock::Refcount => "cpu_hotplug.dep_map",
        };
        Locks {
            add_remove: LockRef::Global(id("cpu_add_remove_lock")),
            hotplug: LockRef::Global(id(hotplug)),
            pmus: LockRef::Global(id("pmus_lock")),
            srcu: LockRef::Global(id("pmus_srcu")),
            event: LockRef::Global(id("event_mutex")),
            tracepoints: LockRef::Global(id("tracepoints_mutex")),
            jump_label: LockRef::Global(id("jump_label_mutex")),
            child: LockRef::PerTask(id("event->child_mutex"), TaskSlot::Own),
            dev: LockRef::PerPmu(id("dev->mutex"), PmuRef::Arg),
            pmc_reserve: LockRef::Global(id("pmc_reserve_mutex")),
            perf_sched: LockRef::Global(id("perf_sched_mutex")),
            perf_event_mutex: Locks::perf_event_mutex(TaskSlot::Own),
            cpuhp_state: LockRef::Global(id("cpuhp_state")),
        }
    }

    /// A CPU context's `ctx->mutex` (lockdep class `cpuctx_mutex`).
    pub(super) fn ctx(cpu: CpuRef, pmu: PmuRef) -> LockRef {
        LockRef::Ctx(id("cpuctx_mutex"), cpu, pmu)
    }

    /// A task context's `ctx->mutex`: the task's own, or its child's.
    pub(super) fn task_ctx(slot: TaskSlot) -> LockRef {
        LockRef::PerTask(id("ctx->mutex"), slot)
    }

    pub(super) fn perf_event_mutex(slot: TaskSlot) -> LockRef {
        LockRef::PerTask(id("perf_event_mutex"), slot)
    }

    pub(super) fn hlist(cpu: CpuRef) -> LockRef {
        LockRef::PerCpu(id("swhash->hlist_mutex"), cpu)
    }
}

/// The loop body that takes both contexts of an uncore handoff in address order, the second
/// annotated as nested, and moves the events (`perf_pmu_migrate_context`).
///
/// `synchronize_rcu()` runs under both mutexes: always until b16809891292 (v6.3), then only
/// when the source context has events to move (`o.migrate_sync_rcu`).
pub(super) fn handoff_loop(o: &SchemeOptions) -> Step {
    let low = Locks::ctx(CpuRef::Lower, PmuRef::Loop);
    let high = Locks::ctx(CpuRef::Higher, PmuRef::Loop);
    let sync = Step::Synchronize(SyncKind::Rcu);
    let sync = match o.migrate_sync_rcu {
        MigrateSync::Always => sync,
        MigrateSync::WhenMoving => Step::If {
            cond: sim::script::Cond::HasEvents(CpuRef::Arg, PmuRef::Loop),
            then: vec![sync],
            otherwise: Vec::new(),
        },
    };
    Step::ForEachHandoff {
        body: vec![
            lock(low),
            Step::Lock { lock: high, mode: Mode::Write, nested: true },
            sync,
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
        SchemeKind::V412 => v412::perf_exit(o, l),
        SchemeKind::PmusLock | SchemeKind::PmusLockNocheck => pmus_lock::perf_exit(o, l),
        SchemeKind::PercpuState => percpu_state::perf_exit(o, l),
    }
}

/// Which of the two hotplug states runs perf's init or exit (docs/model.md §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PerfState {
    /// `CPUHP_PERF_PREPARE`, on the control task while the CPU is offline.
    Prepare,
    /// `CPUHP_AP_PERF_ONLINE`, on `cpuhp/N`, the CPU up.
    ApOnline,
}

/// perf init(c), which makes each PMU's context on the CPU coming up usable: first
/// `perf_swevent_init_cpu()` under the CPU's `swhash->hlist_mutex` (every version), then the
/// scheme's own.
fn perf_init(o: &SchemeOptions, l: &Locks, c: &PerfCosts, state: PerfState) -> Vec<Step> {
    let hlist = Locks::hlist(CpuRef::Arg);
    let mut steps = vec![lock(hlist), unlock(hlist)];
    steps.extend(match o.kind {
        SchemeKind::Legacy => legacy::perf_init(l),
        SchemeKind::V412 => Vec::new(),
        SchemeKind::PmusLock | SchemeKind::PmusLockNocheck => pmus_lock::perf_init(l),
        SchemeKind::PercpuState => percpu_state::perf_init(l, c, state),
    });
    steps
}

/// `_cpu_down()` on the control task (v4.13 `kernel/cpu.c`): `cpu_add_remove_lock`, then
/// `cpus_write_lock()`; the kick of `cpuhp/N` for the AP states with the `cpuhp_state` map
/// acquired and released (`cpuhp_kick_ap_work()`); `CPUHP_TEARDOWN_CPU`'s `stop_machine()`
/// with the DYING states on the CPU; then the PREPARE teardowns on the dead CPU, perf's
/// second exit (`CPUHP_PERF_PREPARE`) among the last of them.
fn cpu_down(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let mut steps = vec![lock(l.add_remove), lock(l.hotplug)];
    if o.cpuhp_lockdep_map {
        steps.extend([lock(l.cpuhp_state), unlock(l.cpuhp_state)]);
    }
    steps.extend([
        Step::KickAp { script: op::AP_OFFLINE },
        Step::StopMachine,
        Step::Set { flag: Flag::CpuOnline(CpuRef::Arg), value: false },
        work(c.cpuhp_dead_ns),
    ]);
    if o.perf_prepare_state {
        steps.extend(perf_exit(o, l));
    }
    steps.extend([unlock(l.hotplug), unlock(l.add_remove)]);
    steps
}

/// `cpuhp_thread_fun()` going down (`cpuhp_ap_offline()`), `cpuhp_state` held throughout:
/// the states above perf first (`sched_cpu_deactivate()` and the others, then the uncore
/// drivers' migration), then perf's first exit at `CPUHP_AP_PERF_ONLINE`.
fn cpuhp_ap_offline(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let (enter, leave) = cpuhp_state_held(o, l);
    let mut steps = enter;
    steps.push(work(c.cpuhp_other_down_ns));
    if o.handoff == Handoff::Driver {
        steps.push(handoff_loop(o));
    }
    steps.extend(perf_exit(o, l));
    steps.push(Step::Mark(Mark::PerfExitDone));
    steps.extend(leave);
    steps
}

/// `_cpu_up()` on the control task: perf's first init at `CPUHP_PERF_PREPARE`, early among
/// the PREPARE states and before the CPU boots; the other PREPARE states and
/// `CPUHP_BRINGUP_CPU` (the CPU marks itself online in `start_secondary()`); then the kick of
/// `cpuhp/N` for the AP states, waited for (`bringup_wait_for_ap()`, which takes no lockdep
/// map in v4.13).
fn cpu_up(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let mut steps = vec![lock(l.add_remove), lock(l.hotplug), Step::Mark(Mark::PerfInitStart)];
    if o.perf_prepare_state {
        steps.extend(perf_init(o, l, c, PerfState::Prepare));
    }
    steps.extend([
        work(c.cpuhp_bringup_ns),
        Step::Set { flag: Flag::CpuOnline(CpuRef::Arg), value: true },
        Step::KickAp { script: op::AP_ONLINE },
        Step::Mark(Mark::CpuUpDone),
        unlock(l.hotplug),
        unlock(l.add_remove),
    ]);
    steps
}

/// `cpuhp_thread_fun()` going up (`cpuhp_ap_online()`), `cpuhp_state` held throughout:
/// perf's init at `CPUHP_AP_PERF_ONLINE`, the uncore drivers' online states right above it,
/// then the rest (`CPUHP_AP_ACTIVE` last).
fn cpuhp_ap_online(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let (mut steps, leave) = cpuhp_state_held(o, l);
    steps.extend(perf_init(o, l, c, PerfState::ApOnline));
    steps.extend([Step::AdoptUncore, work(c.cpuhp_other_up_ns)]);
    steps.extend(leave);
    steps
}

/// `cpuhp_thread_fun()`'s `lock_map_acquire(&cpuhp_state_lock_map)` and its release, when
/// the kernel has the map (49dfe2a67797, v4.13).
fn cpuhp_state_held(o: &SchemeOptions, l: &Locks) -> (Vec<Step>, Vec<Step>) {
    if o.cpuhp_lockdep_map {
        (vec![lock(l.cpuhp_state)], vec![unlock(l.cpuhp_state)])
    } else {
        (Vec::new(), Vec::new())
    }
}

/// `perf_event_open()` of a per-CPU event of `family` on `(cpu, pmu)` (v4.13 `sys_perf_event_open`):
/// event init under `pmus_srcu` (a group sibling's under the leader's context, nested), the
/// context's `cpuctx_mutex`, the scheme's online check (failing: unlock, then free the event,
/// destroy included), the install IPI whose `-ENXIO` is ignored, and the owner list. The
/// RFC base (legacy) holds `get_online_cpus()` across it all and checks `cpu_online()` in
/// `find_get_context()`, before the context lock (as v4.12 does).
fn perf_event_open(p: &Paths<'_>, family: Family, sibling: bool) -> Vec<Step> {
    let (l, o) = (p.l, p.o);
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Arg);
    // v4.12 and the RFC's base hold get_online_cpus() across the open.
    let legacy = matches!(o.kind, SchemeKind::Legacy | SchemeKind::V412);
    let mut steps = Vec::new();
    if legacy {
        steps.push(read(l.hotplug));
    }
    steps.push(read(l.srcu));
    // 43fa87f7deed (v4.15): software-context PMUs (tracepoints among them) init their
    // siblings without the leader's ctx->mutex.
    let software_context = !matches!(family, Family::Hardware | Family::BranchStack);
    let leader_locked = sibling && !(o.sw_sibling_init_unlocked && software_context);
    if leader_locked {
        steps.push(Step::Lock { lock: ctx, mode: Mode::Write, nested: true });
    }
    steps.extend(p.event_init(family, false));
    if leader_locked {
        steps.push(unlock(ctx));
    }
    steps.push(unlock(l.srcu));
    let free = p.destroy(family, false);
    let check = |flag| Step::Check { flag, errno: Errno::Enodev, otherwise: free.clone() };
    let mut undo_locked = vec![unlock(ctx)];
    undo_locked.extend(free.iter().cloned());
    let check_locked = |flag| Step::Check { flag, errno: Errno::Enodev, otherwise: undo_locked.clone() };
    match o.kind {
        SchemeKind::Legacy | SchemeKind::V412 => steps.extend([check(Flag::CpuOnline(CpuRef::Arg)), lock(ctx)]),
        SchemeKind::PmusLock => steps.extend([lock(ctx), check_locked(Flag::CtxOnline(CpuRef::Arg, PmuRef::Arg))]),
        SchemeKind::PercpuState => steps.extend([lock(ctx), check_locked(Flag::Usable(CpuRef::Arg))]),
        SchemeKind::PmusLockNocheck => steps.push(lock(ctx)),
    }
    steps.extend([Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::InstallEvent }, unlock(ctx)]);
    steps.extend(tasks::add_to_owner(l));
    if legacy {
        steps.push(unlock(l.hotplug));
    }
    steps
}

/// `perf_event_release_kernel()` of a per-CPU event (v4.13): owner list, then the context's
/// `cpuctx_mutex` over the remove IPI, unlock, the (empty) children loop's `child_mutex`,
/// and the family's destroy with no perf lock held.
fn perf_event_release(p: &Paths<'_>, family: Family) -> Vec<Step> {
    let l = p.l;
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Arg);
    let mut steps = tasks::remove_from_owner(l);
    steps.extend([lock(ctx), Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::RemoveEvent }, unlock(ctx)]);
    steps.extend([lock(l.child), unlock(l.child)]);
    steps.extend(p.destroy(family, false));
    steps
}

/// `perf_ioctl(PERF_EVENT_IOC_SET_FILTER)` on a tracepoint CPU event: `perf_event_ctx_lock()`,
/// then `ftrace_profile_set_filter()` under `event_mutex`, with the context still held (v4.13,
/// v4.14) or dropped around it (`perf_tracepoint_set_filter()`, 43fa87f7deed, v4.15).
fn perf_ioctl_set_filter(p: &Paths<'_>) -> Vec<Step> {
    let l = p.l;
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Arg);
    let filter = [lock(l.event), work(p.c.set_filter_ns), unlock(l.event)];
    let mut steps = vec![lock(ctx)];
    if p.o.set_filter_outside_ctx_mutex {
        steps.push(unlock(ctx));
        steps.extend(filter);
        steps.push(lock(ctx));
    } else {
        steps.extend(filter);
    }
    steps.push(unlock(ctx));
    steps
}

fn perf_pmu_register(o: &SchemeOptions, l: &Locks, c: &PerfCosts) -> Vec<Step> {
    let alloc = per_cpu_work(c.ctx_alloc_per_cpu_ns);
    let dev: Vec<Step> =
        if o.pmu_dev_alloc { vec![lock(l.dev), work(c.pmu_dev_register_ns), unlock(l.dev)] } else { Vec::new() };
    let mut steps = Vec::new();
    let init = match o.kind {
        SchemeKind::Legacy => {
            steps.push(read(l.hotplug));
            legacy::REGISTER_INIT
        }
        SchemeKind::V412 => v412::REGISTER_INIT,
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
    let l = Locks::new(o);
    let p = Paths { l: &l, c, o, n: Counters::new() };
    let scripts: [Vec<Step>; op::OPS.len()] = [
        cpu_down(o, &l, c),
        cpu_up(o, &l, c),
        perf_event_open(&p, Family::Hardware, false),
        perf_event_open(&p, Family::Tracepoint, false),
        perf_event_release(&p, Family::Hardware),
        perf_event_release(&p, Family::Tracepoint),
        perf_pmu_register(o, &l, c),
        perf_pmu_unregister(&l, c),
        p.ftrace_enable(),
        driver_probe(&l, c),
        p.ftrace_disable(),
        perf_event_open(&p, Family::Software, false),
        perf_event_release(&p, Family::Software),
        perf_ioctl_set_filter(&p),
        tasks::prctl_task(&p),
        perf_event_open(&p, Family::Tracepoint, true),
        tasks::perf_event_open_task(&p, Family::Tracepoint),
        tasks::perf_event_fork(&p, Family::Tracepoint),
        tasks::perf_event_exit_task(&p, Family::Tracepoint),
        tasks::perf_event_release_task(&p, Family::Tracepoint),
        tasks::prctl_task(&p),
        cpuhp_ap_offline(o, &l, c),
        cpuhp_ap_online(o, &l, c),
        perf_event_open(&p, Family::BranchStack, true),
        perf_event_release(&p, Family::BranchStack),
    ];
    op::NAMES.iter().copied().zip(scripts).collect()
}
