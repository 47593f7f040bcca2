//! The lock classes and counters every scheme uses, in a fixed order (their `ClassId`s and
//! `CounterId`s). Names are lockdep's where it has one (docs/model.md §4.12).

use sim::kernel::{CounterDef, LockClassDef};
use sim::locks::LockKind;
use sim::script::{ClassId, CounterId, CounterLayout, CounterRef, Layout};

/// `(name, kind, layout)` of each class, in `ClassId` order.
pub const CLASSES: [(&str, LockKind, Layout); 17] = [
    ("cpu_add_remove_lock", LockKind::Mutex, Layout::Global),
    ("cpu_hotplug_lock", LockKind::PercpuRwsem, Layout::Global),
    ("pmus_lock", LockKind::Mutex, Layout::Global),
    ("pmus_srcu", LockKind::Srcu, Layout::Global),
    // CPU contexts: `lockdep_set_class(&cpuctx->ctx.mutex, &cpuctx_mutex)` in `perf_pmu_register()`.
    ("cpuctx_mutex", LockKind::Mutex, Layout::Ctx),
    ("event_mutex", LockKind::Mutex, Layout::Global),
    ("tracepoints_mutex", LockKind::Mutex, Layout::Global),
    ("jump_label_mutex", LockKind::Mutex, Layout::Global),
    ("event->child_mutex", LockKind::Mutex, Layout::PerTask),
    ("dev->mutex", LockKind::Mutex, Layout::PerPmu),
    // Task contexts: `mutex_init()` in `__perf_event_init_context()`, a class of its own.
    ("ctx->mutex", LockKind::Mutex, Layout::PerTask),
    ("swhash->hlist_mutex", LockKind::Mutex, Layout::PerCpu),
    ("pmc_reserve_mutex", LockKind::Mutex, Layout::Global),
    ("perf_sched_mutex", LockKind::Mutex, Layout::Global),
    // `task_struct::perf_event_mutex`, guarding the task's list of events it owns.
    ("perf_event_mutex", LockKind::Mutex, Layout::PerTask),
    // `cpuhp_state_lock_map` (49dfe2a67797, v4.13): held by cpuhp/N across the AP callbacks,
    // acquired and released by the control task at the kick, so lockdep sees one chain.
    ("cpuhp_state", LockKind::LockdepMap, Layout::Global),
    // The hotplug lock of v4.12 and before (`get_online_cpus()`), named as its lockdep map.
    ("cpu_hotplug.dep_map", LockKind::RefcountHotplug, Layout::Global),
];

/// `(name, layout)` of each counter, in `CounterId` order.
pub const COUNTERS: [(&str, CounterLayout); 9] = [
    // `tp_event->perf_refcount`: perf users of a tracepoint (`perf_trace_event_reg()`).
    ("perf_refcount", CounterLayout::PerTracepoint),
    // Probes on a tracepoint (`tracepoint_add_func()`): perf's and ftrace's.
    ("tp->funcs", CounterLayout::PerTracepoint),
    // The tracepoint's static key's `enabled`.
    ("tp->key", CounterLayout::PerTracepoint),
    // ftrace users of a tracepoint's event file (its `ENABLED` flag, counted).
    ("ftrace_enabled", CounterLayout::PerTracepoint),
    // `perf_swevent_enabled[id]`'s `enabled`, for the one software event type modelled.
    ("perf_swevent_enabled", CounterLayout::Global),
    // x86 `pmc_refcount` (`x86_reserve_hardware()`).
    ("pmc_refcount", CounterLayout::Global),
    // `perf_sched_count`, whose first user enables `perf_sched_events` (`account_event()`).
    ("perf_sched_count", CounterLayout::Global),
    // The `perf_sched_events` static key's `enabled`.
    ("perf_sched_events", CounterLayout::Global),
    // x86 `x86_pmu.lbr_exclusive[x86_lbr_exclusive_lbr]` (`x86_add_exclusive()`).
    ("lbr_exclusive", CounterLayout::Global),
];

/// The id of a class by name.
pub fn class_id(name: &str) -> Option<ClassId> {
    CLASSES.iter().position(|(n, _, _)| *n == name).map(|i| i as ClassId)
}

/// A counter by name.
pub fn counter(name: &str) -> Option<CounterRef> {
    COUNTERS.iter().position(|(n, _)| *n == name).map(|i| CounterRef { id: i as CounterId, layout: COUNTERS[i].1 })
}

/// The classes as the kernel builds them: every one validated by lockdep except `dev->mutex`,
/// which `device_initialize()` marks novalidate, unless `validate_dev_mutex` (as the 2023
/// debugging patch did; docs/model.md §6.3).
pub fn class_table(validate_dev_mutex: bool) -> Vec<LockClassDef> {
    CLASSES
        .iter()
        .map(|&(name, kind, layout)| LockClassDef {
            validate: name != "dev->mutex" || validate_dev_mutex,
            ..LockClassDef::new(name, kind, layout)
        })
        .collect()
}

pub fn counter_table() -> Vec<CounterDef> {
    COUNTERS.iter().map(|&(name, layout)| CounterDef { name: name.into(), layout }).collect()
}
