//! The locking schemes of docs/model.md §1 as lock scripts (§4): `scripts.rs` holds what all
//! share (the hotplug skeleton, release, registration, tracepoints, the uncore handoff), and
//! each scheme's file its perf exit/init, its `perf_event_open` check and how its registration
//! initialises `cpuctx->online`.
//!
//! `legacy` is the 2017 baseline, `pmus-lock` the posted fix, `percpu-state` Paul McKenney's
//! "other style", `pmus-lock-nocheck` a negative control that must break invariants.

mod classes;
mod events;
mod legacy;
mod percpu_state;
mod pmus_lock;
mod scripts;
mod tasks;
mod v412;

pub use classes::{CLASSES, COUNTERS, class_id, class_table, counter, counter_table};
pub use events::Family;
pub use scripts::{PerfCosts, build};

use sim::perf::OnlineView;

/// A built-in scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemeKind {
    Legacy,
    PmusLock,
    PercpuState,
    PmusLockNocheck,
    V412,
}

impl SchemeKind {
    pub const ALL: [SchemeKind; 5] = [
        SchemeKind::Legacy,
        SchemeKind::PmusLock,
        SchemeKind::PercpuState,
        SchemeKind::PmusLockNocheck,
        SchemeKind::V412,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SchemeKind::V412 => "v4.12",
            SchemeKind::Legacy => "legacy",
            SchemeKind::PmusLock => "pmus-lock",
            SchemeKind::PercpuState => "percpu-state",
            SchemeKind::PmusLockNocheck => "pmus-lock-nocheck",
        }
    }

    pub fn parse(name: &str) -> Option<SchemeKind> {
        SchemeKind::ALL.into_iter().find(|s| s.name() == name)
    }

    pub fn summary(self) -> &'static str {
        match self {
            SchemeKind::V412 => {
                "as shipped in v4.12: open holds get_online_cpus() and checks cpu_online(); hotplug walks PMUs under SRCU, no online flag"
            }
            SchemeKind::Legacy => {
                "tip tree of May 2017 (the RFC's base): open and register hold cpus_read_lock(); hotplug sets cpuctx->online under SRCU"
            }
            SchemeKind::PmusLock => {
                "the posted fix: hotplug walks PMUs under pmus_lock, open checks cpuctx->online under ctx->mutex"
            }
            SchemeKind::PercpuState => {
                "RCU's style: a per-CPU usable mask, cleared first on the way down, set last on the way up"
            }
            SchemeKind::PmusLockNocheck => "negative control: pmus-lock without the online check in open",
        }
    }

    /// What `perf_event_open` reads to decide a CPU is usable.
    pub fn view(self) -> OnlineView {
        match self {
            SchemeKind::Legacy | SchemeKind::V412 => OnlineView::CpuOnline,
            SchemeKind::PmusLock | SchemeKind::PmusLockNocheck => OnlineView::CtxOnline,
            SchemeKind::PercpuState => OnlineView::Usable,
        }
    }
}

/// `perf_cpu_context` layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContextLayout {
    /// One context, and one `ctx->mutex`, per PMU per CPU (before v6.2).
    PerPmu,
    /// One context per CPU for all PMUs (v6.2, "perf: Rewrite core context handling").
    PerCpu,
}

/// Who migrates uncore contexts when their CPU goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Handoff {
    /// Each uncore driver's own hotplug callback, before perf's exit.
    Driver,
    /// perf's own exit, under `pmus_lock`, before removing events (v6.12).
    Core,
}

/// When `perf_pmu_migrate_context()` waits `synchronize_rcu()` under both context mutexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrateSync {
    /// Every migration (until b16809891292, v6.3).
    Always,
    /// Only when the source context has events to move (b16809891292, v6.3).
    WhenMoving,
}

/// Which lock `cpu_hotplug_lock` is (docs/model.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HotplugLock {
    /// v4.13 and later: a percpu_rwsem (`cpus_read_lock()`), recursive reads deadlock.
    PercpuRwsem,
    /// v4.12 and before: `get_online_cpus()`'s refcount, recursion-safe.
    Refcount,
}

/// A scheme and the options that move its locks (docs/model.md §4.11, §4.12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchemeOptions {
    pub kind: SchemeKind,
    /// `perf_event_release_kernel()` frees inherited children after dropping the child's
    /// `ctx->mutex` and `child_mutex` (82d94856fa22, v4.15).
    pub free_outside_ctx_mutex: bool,
    /// `perf_ioctl(SET_FILTER)` drops `ctx->mutex` around `event_mutex` (43fa87f7deed, v4.15).
    pub set_filter_outside_ctx_mutex: bool,
    /// A group sibling of a software-context PMU inits without the leader's `ctx->mutex`
    /// (v4.15 `perf_try_init_event()`).
    pub sw_sibling_init_unlocked: bool,
    /// `reserve/release_ds_buffers()` take `get_online_cpus()` (until efe951d3de91, v4.15).
    pub ds_buffers_hotplug_lock: bool,
    /// The CPU has BTS or PEBS, so the DS buffers are reserved at all.
    pub pebs_or_bts: bool,
    pub migrate_sync_rcu: MigrateSync,
    pub context_layout: ContextLayout,
    pub handoff: Handoff,
    /// `perf_pmu_register` registers a device, taking `dev->mutex` under `pmus_lock`.
    pub pmu_dev_alloc: bool,
    /// perf's init and exit run at `CPUHP_PERF_PREPARE` too (v4.8–v6.15; f400565faa50, v6.16,
    /// removed it).
    pub perf_prepare_state: bool,
    pub hotplug_lock: HotplugLock,
    /// The `cpuhp_state` lockdep map ties the control task to `cpuhp/N` (49dfe2a67797, v4.13).
    pub cpuhp_lockdep_map: bool,
    /// `static_key_slow_inc/dec()` take the hotplug lock before `jump_label_mutex` (v4.13);
    /// else only around each text patch, inside `jump_label_mutex` (v4.12).
    pub jump_label_hotplug_first: bool,
}

impl SchemeOptions {
    /// v4.13's facts (docs/model.md §4.12).
    pub fn new(kind: SchemeKind) -> Self {
        SchemeOptions {
            kind,
            free_outside_ctx_mutex: false,
            set_filter_outside_ctx_mutex: false,
            sw_sibling_init_unlocked: false,
            ds_buffers_hotplug_lock: true,
            pebs_or_bts: true,
            migrate_sync_rcu: MigrateSync::Always,
            context_layout: ContextLayout::PerPmu,
            handoff: Handoff::Driver,
            pmu_dev_alloc: false,
            perf_prepare_state: true,
            hotplug_lock: HotplugLock::PercpuRwsem,
            cpuhp_lockdep_map: true,
            jump_label_hotplug_first: true,
        }
    }
}

/// Indices of the operations in every scheme's script table; agents run them by these ids.
pub mod op {
    use sim::script::{EventArg, Mark, ScriptId};

    /// What an operation's agent passes it, and the marks it must record.
    #[derive(Clone, Copy, Debug)]
    pub struct OpDef {
        /// What scripts are called in reports and scenario files.
        pub name: &'static str,
        pub cpu_arg: bool,
        pub pmu_arg: bool,
        pub event: EventArg,
        /// A tracepoint argument (per-tracepoint counters).
        pub tracepoint_arg: bool,
        /// An inherited child (`[child]` instances outside `for_each_child`).
        pub child_arg: bool,
        /// The invariant checks' bookkeeping marks: perf's first exit ends in the AP states
        /// going down, its first init starts in `cpu_up`, which ends with every context usable.
        pub marks: &'static [Mark],
        /// The AP operation this one hands to `cpuhp/N` with `kick_ap`, exactly once.
        pub kicks: Option<ScriptId>,
        /// Run by a `cpuhp/N` thread when kicked, never by an agent.
        pub ap: bool,
    }

    const fn def(name: &'static str, cpu_arg: bool, pmu_arg: bool, event: EventArg, tracepoint_arg: bool) -> OpDef {
        OpDef { name, cpu_arg, pmu_arg, event, tracepoint_arg, child_arg: false, marks: &[], kicks: None, ap: false }
    }

    pub const CPU_DOWN: ScriptId = 0;
    pub const CPU_UP: ScriptId = 1;
    pub const OPEN: ScriptId = 2;
    pub const OPEN_TP: ScriptId = 3;
    pub const RELEASE: ScriptId = 4;
    pub const RELEASE_TP: ScriptId = 5;
    pub const PMU_REGISTER: ScriptId = 6;
    pub const PMU_UNREGISTER: ScriptId = 7;
    pub const FTRACE_ENABLE: ScriptId = 8;
    pub const DRIVER_PROBE: ScriptId = 9;
    pub const FTRACE_DISABLE: ScriptId = 10;
    pub const OPEN_SW: ScriptId = 11;
    pub const RELEASE_SW: ScriptId = 12;
    pub const SET_FILTER: ScriptId = 13;
    pub const PRCTL_DISABLE: ScriptId = 14;
    pub const OPEN_SIBLING_TP: ScriptId = 15;
    pub const OPEN_TASK_TP: ScriptId = 16;
    pub const FORK: ScriptId = 17;
    pub const EXIT_TASK: ScriptId = 18;
    pub const RELEASE_TASK_TP: ScriptId = 19;
    pub const PRCTL_ENABLE: ScriptId = 20;
    /// The AP states going down, on `cpuhp/N` (`cpuhp_ap_offline()`).
    pub const AP_OFFLINE: ScriptId = 21;
    /// The AP states going up, on `cpuhp/N` (`cpuhp_ap_online()`).
    pub const AP_ONLINE: ScriptId = 22;
    /// A hardware group sibling sampling branch stacks (LBR), on its leader's core PMU.
    pub const OPEN_SIBLING_LBR: ScriptId = 23;
    pub const RELEASE_LBR: ScriptId = 24;

    /// Every operation, in id order.
    pub const OPS: [OpDef; 25] = [
        OpDef { kicks: Some(AP_OFFLINE), ..def("cpu_down", true, false, EventArg::None, false) },
        OpDef {
            marks: &[Mark::PerfInitStart, Mark::CpuUpDone],
            kicks: Some(AP_ONLINE),
            ..def("cpu_up", true, false, EventArg::None, false)
        },
        def("perf_event_open", true, true, EventArg::New, false),
        def("perf_event_open_tp", true, true, EventArg::New, true),
        def("perf_event_release", true, true, EventArg::Opened, false),
        def("perf_event_release_tp", true, true, EventArg::Opened, true),
        def("perf_pmu_register", false, true, EventArg::None, false),
        def("perf_pmu_unregister", false, true, EventArg::None, false),
        def("ftrace_enable", false, false, EventArg::None, true),
        def("driver_probe", false, true, EventArg::None, false),
        def("ftrace_disable", false, false, EventArg::None, true),
        def("perf_event_open_sw", true, true, EventArg::New, false),
        def("perf_event_release_sw", true, true, EventArg::Opened, false),
        def("perf_ioctl_set_filter", true, true, EventArg::Opened, true),
        def("prctl_task_perf_events_disable", true, true, EventArg::Opened, false),
        def("perf_event_open_sibling_tp", true, true, EventArg::New, true),
        def("perf_event_open_task_tp", false, false, EventArg::None, true),
        OpDef { child_arg: true, ..def("perf_event_fork", false, false, EventArg::None, true) },
        OpDef { child_arg: true, ..def("perf_event_exit_task", false, false, EventArg::None, true) },
        def("perf_event_release_task_tp", false, false, EventArg::None, true),
        def("prctl_task_perf_events_enable", true, true, EventArg::Opened, false),
        OpDef { marks: &[Mark::PerfExitDone], ap: true, ..def("cpuhp_ap_offline", true, false, EventArg::None, false) },
        OpDef { ap: true, ..def("cpuhp_ap_online", true, false, EventArg::None, false) },
        def("perf_event_open_sibling_lbr", true, true, EventArg::New, false),
        def("perf_event_release_lbr", true, true, EventArg::Opened, false),
    ];

    /// Operation names, in id order.
    pub const NAMES: [&str; OPS.len()] = {
        let mut names = [""; OPS.len()];
        let mut i = 0;
        while i < OPS.len() {
            names[i] = OPS[i].name;
            i += 1;
        }
        names
    };
}
