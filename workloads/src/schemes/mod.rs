//! The locking schemes of docs/model.md §1 as lock scripts (§4): `scripts.rs` holds what all
//! share (the hotplug skeleton, release, registration, tracepoints, the uncore handoff), and
//! each scheme's file its perf exit/init, its `perf_event_open` check and how its registration
//! initialises `cpuctx->online`.
//!
//! `legacy` is the 2017 baseline, `pmus-lock` the posted fix, `percpu-state` Paul McKenney's
//! "other style", `pmus-lock-nocheck` a negative control that must break invariants.

mod classes;
mod legacy;
mod percpu_state;
mod pmus_lock;
mod scripts;

pub use classes::{CLASSES, class_id, class_table};
pub use scripts::{PerfCosts, build};

use sim::perf::OnlineView;

/// A built-in scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemeKind {
    Legacy,
    PmusLock,
    PercpuState,
    PmusLockNocheck,
}

impl SchemeKind {
    pub const ALL: [SchemeKind; 4] =
        [SchemeKind::Legacy, SchemeKind::PmusLock, SchemeKind::PercpuState, SchemeKind::PmusLockNocheck];

    pub fn name(self) -> &'static str {
        match self {
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
            SchemeKind::Legacy => {
                "2017 baseline: open and register hold cpus_read_lock(); hotplug walks PMUs under SRCU"
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
            SchemeKind::Legacy => OnlineView::CpuOnline,
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

/// A scheme and the options that move its locks (docs/model.md §4.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchemeOptions {
    pub kind: SchemeKind,
    /// Free a tracepoint event after dropping `ctx->mutex`. Stands for 82d94856fa22 (v4.15), which in the kernel concerns inherited children, not per-CPU events: docs/model.md §9 D1.
    pub free_outside_ctx_mutex: bool,
    pub context_layout: ContextLayout,
    pub handoff: Handoff,
    /// `perf_pmu_register` registers a device, taking `dev->mutex` under `pmus_lock`.
    pub pmu_dev_alloc: bool,
}

impl SchemeOptions {
    pub fn new(kind: SchemeKind) -> Self {
        SchemeOptions {
            kind,
            free_outside_ctx_mutex: false,
            context_layout: ContextLayout::PerPmu,
            handoff: Handoff::Driver,
            pmu_dev_alloc: false,
        }
    }
}

/// Indices of the operations in every scheme's script table; agents run them by these ids.
pub mod op {
    use sim::script::{EventArg, Mark, ScriptId};
    pub const CPU_DOWN: ScriptId = 0;
    pub const CPU_UP: ScriptId = 1;
    pub const OPEN: ScriptId = 2;
    pub const OPEN_TP: ScriptId = 3;
    pub const RELEASE: ScriptId = 4;
    pub const RELEASE_TP: ScriptId = 5;
    pub const PMU_REGISTER: ScriptId = 6;
    pub const PMU_UNREGISTER: ScriptId = 7;
    pub const FTRACE_TOGGLE: ScriptId = 8;
    pub const DRIVER_PROBE: ScriptId = 9;
    /// Operation names, in id order: what scripts are called in reports and scenario files.
    pub const NAMES: [&str; 10] = [
        "cpu_down",
        "cpu_up",
        "perf_event_open",
        "perf_event_open_tp",
        "perf_event_release",
        "perf_event_release_tp",
        "perf_pmu_register",
        "perf_pmu_unregister",
        "ftrace_toggle",
        "driver_probe",
    ];

    /// The arguments each operation's agent passes it (`crate::generators`), in id order:
    /// whether it has a CPU and a PMU, and its event. Scripts may refer only to these.
    pub const ARGS: [(bool, bool, EventArg); 10] = [
        (true, false, EventArg::None),
        (true, false, EventArg::None),
        (true, true, EventArg::New),
        (true, true, EventArg::New),
        (true, true, EventArg::Opened),
        (true, true, EventArg::Opened),
        (false, true, EventArg::None),
        (false, true, EventArg::None),
        (false, false, EventArg::None),
        (false, true, EventArg::None),
    ];

    /// The invariant checks' bookkeeping marks each operation records, in id order: perf's
    /// exit ends in `cpu_down`, its init starts in `cpu_up`, which ends with every context usable.
    pub const MARKS: [&[Mark]; 10] =
        [&[Mark::PerfExitDone], &[Mark::PerfInitStart, Mark::CpuUpDone], &[], &[], &[], &[], &[], &[], &[], &[]];
}
