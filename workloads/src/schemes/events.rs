//! perf's event families as v4.13 has them (docs/model.md §4.12): each family's `event_init`
//! (what `perf_init_event()` calls under `pmus_srcu`) and `destroy` (what `_free_event()`
//! calls with no perf lock held), the static-key and tracepoint-probe paths they share, and
//! `account_event()`'s first-user path for task events.

use sim::script::{Cond, Cost, CounterRef, CpuRef, PmuRef, Step, SyncKind};

use super::classes::counter;
use super::scripts::{Locks, PerfCosts, lock, per_cpu_work, read, unlock, work};
use super::{SchemeKind, SchemeOptions};

/// An event's family: which `event_init` and `destroy` it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `perf_tp_event_init()` → `perf_trace_init()`; destroy `perf_trace_destroy()`.
    Tracepoint,
    /// `perf_swevent_init()` (hlist and static key for events without a parent).
    Software,
    /// A hardware PMU: x86's `x86_reserve_hardware()` on the core PMU, nothing on uncore boxes.
    Hardware,
    /// A core-PMU event sampling branch stacks: `x86_reserve_hardware()`, then
    /// `intel_pmu_hw_config()` → `x86_add_exclusive(x86_lbr_exclusive_lbr)`. Opened only as a
    /// group sibling.
    BranchStack,
}

impl Family {
    /// The operation that opens a per-CPU event of this family.
    pub fn open_op(self) -> sim::script::ScriptId {
        match self {
            Family::Tracepoint => super::op::OPEN_TP,
            Family::Software => super::op::OPEN_SW,
            Family::Hardware => super::op::OPEN,
            Family::BranchStack => super::op::OPEN_SIBLING_LBR,
        }
    }

    /// The operation that releases it.
    pub fn release_op(self) -> sim::script::ScriptId {
        match self {
            Family::Tracepoint => super::op::RELEASE_TP,
            Family::Software => super::op::RELEASE_SW,
            Family::Hardware => super::op::RELEASE,
            Family::BranchStack => super::op::RELEASE_LBR,
        }
    }
}

/// The counters the families count with.
pub(super) struct Counters {
    pub(super) perf_refcount: CounterRef,
    pub(super) tp_funcs: CounterRef,
    pub(super) tp_key: CounterRef,
    pub(super) ftrace_enabled: CounterRef,
    pub(super) swevent_key: CounterRef,
    pub(super) pmc_refcount: CounterRef,
    pub(super) lbr_exclusive: CounterRef,
    pub(super) sched_count: CounterRef,
    pub(super) sched_key: CounterRef,
}

impl Counters {
    pub(super) fn new() -> Counters {
        let c = |name| counter(name).expect("built-in counter");
        Counters {
            perf_refcount: c("perf_refcount"),
            tp_funcs: c("tp->funcs"),
            tp_key: c("tp->key"),
            ftrace_enabled: c("ftrace_enabled"),
            swevent_key: c("perf_swevent_enabled"),
            pmc_refcount: c("pmc_refcount"),
            lbr_exclusive: c("lbr_exclusive"),
            sched_count: c("perf_sched_count"),
            sched_key: c("perf_sched_events"),
        }
    }
}

fn when(cond: Cond, then: Vec<Step>) -> Step {
    Step::If { cond, then, otherwise: Vec::new() }
}

fn either(cond: Cond, then: Vec<Step>, otherwise: Vec<Step>) -> Step {
    Step::If { cond, then, otherwise }
}

/// The scripts' building blocks for one scheme.
pub(super) struct Paths<'a> {
    pub(super) l: &'a Locks,
    pub(super) c: &'a PerfCosts,
    pub(super) o: &'a SchemeOptions,
    pub(super) n: Counters,
}

impl Paths<'_> {
    fn patch(&self) -> Step {
        Step::Work(Cost {
            base_ns: self.c.static_key_base_ns,
            per_online_cpu_ns: self.c.static_key_per_online_cpu_ns,
            per_possible_cpu_ns: 0,
            exponential: false,
        })
    }

    /// The text patch of a key; v4.12's `arch_jump_label_transform()` takes
    /// `get_online_cpus()` around it (inside `jump_label_mutex`).
    fn patch_site(&self) -> Vec<Step> {
        if self.o.jump_label_hotplug_first {
            vec![self.patch()]
        } else {
            vec![read(self.l.hotplug), self.patch(), unlock(self.l.hotplug)]
        }
    }

    /// `static_key_slow_inc()`: no lock while the key is on (`atomic_inc_not_zero`); else
    /// `cpus_read_lock()` → `jump_label_mutex` (v4.13), or `jump_label_mutex` alone with the
    /// hotplug lock around the patch (v4.12), patching only if still off.
    pub(super) fn static_key_slow_inc(&self, key: CounterRef) -> Vec<Step> {
        let l = self.l;
        let mut slow =
            vec![lock(l.jump_label), when(Cond::Zero(key), self.patch_site()), Step::Inc(key), unlock(l.jump_label)];
        if self.o.jump_label_hotplug_first {
            slow.insert(0, read(l.hotplug));
            slow.push(unlock(l.hotplug));
        }
        vec![either(Cond::NonZero(key), vec![Step::Inc(key)], slow)]
    }

    /// `static_key_slow_dec()`: `cpus_read_lock()` on every call (v4.13); `jump_label_mutex`
    /// (`atomic_dec_and_mutex_lock`) and patching only on 1 → 0.
    pub(super) fn static_key_slow_dec(&self, key: CounterRef) -> Vec<Step> {
        let l = self.l;
        let last =
            vec![lock(l.jump_label), Step::Dec(key), when(Cond::Zero(key), self.patch_site()), unlock(l.jump_label)];
        let dec = either(Cond::One(key), last, vec![Step::Dec(key)]);
        if self.o.jump_label_hotplug_first { vec![read(l.hotplug), dec, unlock(l.hotplug)] } else { vec![dec] }
    }

    /// `tracepoint_probe_register()`: `tracepoints_mutex` → `tracepoint_add_func()`, which
    /// enables the tracepoint's key when it adds the first probe of any user.
    fn tracepoint_probe_register(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        vec![
            lock(l.tracepoints),
            work(self.c.tracepoint_probe_ns),
            when(Cond::Zero(n.tp_key), self.static_key_slow_inc(n.tp_key)),
            Step::Inc(n.tp_funcs),
            unlock(l.tracepoints),
        ]
    }

    /// `tracepoint_probe_unregister()`: `tracepoints_mutex` → `tracepoint_remove_func()`,
    /// which disables the key when the last probe goes.
    fn tracepoint_probe_unregister(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        vec![
            lock(l.tracepoints),
            Step::Dec(n.tp_funcs),
            when(Cond::Zero(n.tp_funcs), vec![when(Cond::NonZero(n.tp_key), self.static_key_slow_dec(n.tp_key))]),
            unlock(l.tracepoints),
        ]
    }

    /// `perf_trace_init()`: `event_mutex` → `perf_trace_event_reg()`, whose first perf user
    /// of the tracepoint allocates the per-CPU lists and registers perf's probe.
    fn perf_trace_init(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        let mut first = vec![Step::Inc(n.perf_refcount), per_cpu_work(self.c.perf_trace_alloc_per_cpu_ns)];
        first.extend(self.tracepoint_probe_register());
        vec![
            lock(l.event),
            either(Cond::NonZero(n.perf_refcount), vec![Step::Inc(n.perf_refcount)], first),
            unlock(l.event),
        ]
    }

    /// `perf_trace_destroy()`: `event_mutex` → `perf_trace_event_unreg()`, whose last perf
    /// user unregisters the probe and waits `tracepoint_synchronize_unregister()` under it.
    fn perf_trace_destroy(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        let mut last = self.tracepoint_probe_unregister();
        last.extend([Step::Synchronize(SyncKind::Rcu), work(self.c.perf_trace_free_ns)]);
        vec![lock(l.event), Step::Dec(n.perf_refcount), when(Cond::Zero(n.perf_refcount), last), unlock(l.event)]
    }

    /// ftrace enabling a tracepoint's event (`__ftrace_event_enable_disable()`): under
    /// `event_mutex`, the first ftrace user registers ftrace's probe.
    pub(super) fn ftrace_enable(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        vec![
            lock(l.event),
            when(Cond::Zero(n.ftrace_enabled), self.tracepoint_probe_register()),
            Step::Inc(n.ftrace_enabled),
            unlock(l.event),
        ]
    }

    /// ftrace disabling it: the last ftrace user unregisters ftrace's probe.
    pub(super) fn ftrace_disable(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        vec![
            lock(l.event),
            Step::Dec(n.ftrace_enabled),
            when(Cond::Zero(n.ftrace_enabled), self.tracepoint_probe_unregister()),
            unlock(l.event),
        ]
    }

    /// `swevent_hlist_get()`: `pmus_lock` (v4.13; the RFC base, like v4.12, takes
    /// `get_online_cpus()`) → each possible CPU's `hlist_mutex`, modelled as the event CPU's
    /// instance plus the per-CPU work (docs/model.md §4.12).
    fn swevent_hlist_get(&self) -> Vec<Step> {
        let l = self.l;
        let (take, outer) = if matches!(self.o.kind, SchemeKind::Legacy | SchemeKind::V412) {
            (read(l.hotplug), l.hotplug)
        } else {
            (lock(l.pmus), l.pmus)
        };
        let hlist = Locks::hlist(CpuRef::Arg);
        vec![take, lock(hlist), per_cpu_work(self.c.hlist_per_cpu_ns), unlock(hlist), unlock(outer)]
    }

    /// `swevent_hlist_put()`: each possible CPU's `hlist_mutex`, no outer lock.
    fn swevent_hlist_put(&self) -> Vec<Step> {
        let hlist = Locks::hlist(CpuRef::Arg);
        vec![lock(hlist), per_cpu_work(self.c.hlist_per_cpu_ns), unlock(hlist)]
    }

    /// `reserve_ds_buffers()` / `release_ds_buffers()`: `get_online_cpus()` around the
    /// per-CPU work when BTS or PEBS exist, until efe951d3de91 (v4.15).
    fn ds_buffers(&self) -> Vec<Step> {
        let work = per_cpu_work(self.c.ds_buffer_per_cpu_ns);
        match (self.o.pebs_or_bts, self.o.ds_buffers_hotplug_lock) {
            (false, _) => Vec::new(),
            (true, false) => vec![work],
            (true, true) => vec![read(self.l.hotplug), work, unlock(self.l.hotplug)],
        }
    }

    /// `x86_reserve_hardware()` on the core PMU: the first user (`pmc_refcount` 0 → 1) under
    /// `pmc_reserve_mutex` reserves the counters and the DS buffers.
    fn x86_reserve_hardware(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        let mut reserve = vec![work(self.c.pmc_reserve_ns)];
        reserve.extend(self.ds_buffers());
        let slow = vec![
            lock(l.pmc_reserve),
            when(Cond::Zero(n.pmc_refcount), reserve),
            Step::Inc(n.pmc_refcount),
            unlock(l.pmc_reserve),
        ];
        vec![when(
            Cond::CorePmu(PmuRef::Arg),
            vec![either(Cond::NonZero(n.pmc_refcount), vec![Step::Inc(n.pmc_refcount)], slow)],
        )]
    }

    /// `x86_add_exclusive(x86_lbr_exclusive_lbr)` on the core PMU: `atomic_inc_not_zero()`, and
    /// for the first user `pmc_reserve_mutex` around the increment (v4.13.4 `arch/x86/events/core.c`).
    fn x86_add_exclusive(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        let first = vec![lock(l.pmc_reserve), Step::Inc(n.lbr_exclusive), unlock(l.pmc_reserve)];
        vec![when(
            Cond::CorePmu(PmuRef::Arg),
            vec![either(Cond::NonZero(n.lbr_exclusive), vec![Step::Inc(n.lbr_exclusive)], first)],
        )]
    }

    /// `x86_release_hardware()`: `atomic_dec_and_mutex_lock(&pmc_refcount, &pmc_reserve_mutex)`;
    /// the last user releases the counters and the DS buffers.
    fn x86_release_hardware(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        let mut release = vec![work(self.c.pmc_reserve_ns)];
        release.extend(self.ds_buffers());
        let last = vec![
            lock(l.pmc_reserve),
            Step::Dec(n.pmc_refcount),
            when(Cond::Zero(n.pmc_refcount), release),
            unlock(l.pmc_reserve),
        ];
        vec![when(
            Cond::CorePmu(PmuRef::Arg),
            vec![either(Cond::One(n.pmc_refcount), last, vec![Step::Dec(n.pmc_refcount)])],
        )]
    }

    /// The PMU's `event_init`. `parent`: an inherited child, for which software events skip
    /// the hlist and the static key.
    pub(super) fn event_init(&self, family: Family, parent: bool) -> Vec<Step> {
        let mut steps = vec![work(self.c.event_alloc_ns)];
        match family {
            Family::Tracepoint => steps.extend(self.perf_trace_init()),
            Family::Software if parent => {}
            Family::Software => {
                steps.extend(self.swevent_hlist_get());
                steps.extend(self.static_key_slow_inc(self.n.swevent_key));
            }
            Family::Hardware => steps.extend(self.x86_reserve_hardware()),
            Family::BranchStack => {
                steps.extend(self.x86_reserve_hardware());
                steps.extend(self.x86_add_exclusive());
            }
        }
        steps
    }

    /// `perf_init_event()`: `pmus_srcu` read side around `event_init`.
    pub(super) fn perf_init_event(&self, family: Family, parent: bool) -> Vec<Step> {
        let mut steps = vec![read(self.l.srcu)];
        steps.extend(self.event_init(family, parent));
        steps.push(unlock(self.l.srcu));
        steps
    }

    /// `event->destroy`, called by `_free_event()`.
    pub(super) fn destroy(&self, family: Family, parent: bool) -> Vec<Step> {
        match family {
            Family::Tracepoint => self.perf_trace_destroy(),
            Family::Software if parent => Vec::new(),
            Family::Software => {
                let mut steps = self.static_key_slow_dec(self.n.swevent_key);
                steps.extend(self.swevent_hlist_put());
                steps
            }
            Family::Hardware => self.x86_release_hardware(),
            // hw_perf_lbr_event_destroy(): release, then x86_del_exclusive()'s atomic_dec.
            Family::BranchStack => {
                let mut steps = self.x86_release_hardware();
                steps.push(when(Cond::CorePmu(PmuRef::Arg), vec![Step::Dec(self.n.lbr_exclusive)]));
                steps
            }
        }
    }

    /// `account_event()` of a task event: the first (`perf_sched_count` 0 → 1) takes
    /// `perf_sched_mutex`, enables `perf_sched_events` and waits `synchronize_sched()`.
    pub(super) fn account_task_event(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        let mut enable = vec![when(Cond::Zero(n.sched_key), self.static_key_slow_inc(n.sched_key))];
        enable.push(Step::Synchronize(SyncKind::Rcu));
        let slow = vec![
            lock(l.perf_sched),
            when(Cond::Zero(n.sched_count), enable),
            Step::Inc(n.sched_count),
            unlock(l.perf_sched),
        ];
        vec![either(Cond::NonZero(n.sched_count), vec![Step::Inc(n.sched_count)], slow)]
    }

    /// `unaccount_event()` of a task event: the last one's `perf_sched_delayed()` work
    /// (`perf_sched_mutex` → `static_branch_disable()`) runs here, at once, rather than a
    /// tick later in a kworker (docs/model.md §4.12).
    pub(super) fn unaccount_task_event(&self) -> Vec<Step> {
        let (l, n) = (self.l, &self.n);
        let mut disable = vec![lock(l.perf_sched), Step::Dec(n.sched_count)];
        disable.push(when(
            Cond::Zero(n.sched_count),
            vec![when(Cond::NonZero(n.sched_key), self.static_key_slow_dec(n.sched_key))],
        ));
        disable.push(unlock(l.perf_sched));
        vec![either(Cond::One(n.sched_count), disable, vec![Step::Dec(n.sched_count)])]
    }
}
