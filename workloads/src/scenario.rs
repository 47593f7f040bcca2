//! Scenario files: machine, PMUs, scheme and options, costs, workloads and run length, as TOML.
//!
//! Every key has a default (listed with its reason in docs/model.md §3, §4.11, §5 and §7); unknown keys, wrong types and
//! out-of-range values are errors that name the key path, the value and what is allowed.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sim::time::{MAX_COST_NS, Nanos};

pub use crate::error::ScenarioError;
use crate::generators::HotplugMode;
use crate::schemes::{ContextLayout, Handoff, HotplugLock, MigrateSync, SchemeKind, op};

/// Most CPUs a scenario may have.
pub const MAX_SCENARIO_CPUS: u32 = 65_536;
/// Most tasks of one workload kind.
pub const MAX_WORKLOAD_TASKS: u32 = 65_536;
/// Longest simulated run: one day.
pub const MAX_RUN_NS: u64 = 86_400_000_000_000;
/// Most PMU-load events in one run (CPUs × (sampling + counting events per CPU)): each takes
/// about 300 bytes, and building 2^22 of them about 2.3 GB and 5 s (65,536 CPUs × 64 events).
pub const MAX_PMU_LOAD_EVENTS: u64 = 1 << 22;

/// A duration in nanoseconds, written as a string with a unit (`"5ms"`) in TOML, read and
/// printed by [`Nanos`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub u64);

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Nanos(self.0).fmt(f)
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DurationVisitor)
    }
}

/// Reads a duration string and says plainly what is wrong with anything else.
struct DurationVisitor;

impl<'de> serde::de::Visitor<'de> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string with a unit, like \"5ms\"")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Duration, E> {
        text.parse().map(|Nanos(ns)| Duration(ns)).map_err(E::custom)
    }

    fn visit_i64<E: serde::de::Error>(self, ns: i64) -> Result<Duration, E> {
        if ns < 0 {
            return Err(E::custom(format!("{ns} is negative; durations are at least 0")));
        }
        Err(E::custom(format!("{ns}: durations need a unit, e.g. \"{ns}ns\"")))
    }

    fn visit_u64<E: serde::de::Error>(self, ns: u64) -> Result<Duration, E> {
        Err(E::custom(format!("{ns}: durations need a unit, e.g. \"{ns}ns\"")))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Duration, E> {
        Err(E::custom(format!("{v}: durations are a string with a unit, e.g. \"{v}us\" or \"{v}ms\"")))
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Duration, E> {
        Err(E::custom(format!("{v}: expected a duration string with a unit, like \"5ms\"")))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dist {
    Exp,
    Fixed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MachineSpec {
    pub cpus: u32,
    pub packages: u32,
}

impl Default for MachineSpec {
    fn default() -> Self {
        MachineSpec { cpus: 256, packages: 4 }
    }
}

/// `[pmus] names = "skx-2s"` fills the counts the scenario leaves unset with that machine's
/// (docs/model.md §5.1), so a sweep can set a whole PMU list with one key; explicit counts win.
fn apply_pmu_names(table: &mut toml::Table) {
    let Some(pmus) = table.get_mut("pmus").and_then(toml::Value::as_table_mut) else { return };
    if pmus.get("names").and_then(toml::Value::as_str) != Some("skx-2s") {
        return;
    }
    for (key, count) in [("software", SKX_2S.0), ("core", SKX_2S.1), ("uncore", SKX_2S.2)] {
        pmus.entry(key).or_insert(toml::Value::Integer(count.into()));
    }
}

/// A two-socket Skylake-SP's boot PMUs in v4.13: software-context, core, package-scoped.
pub const SKX_2S: (u32, u32, u32) = (9, 1, 59);

/// How boot PMUs are named in reports (their counts and scopes decide the model).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PmuNames {
    /// `cpu`, `uncore_0`, …
    Generic,
    /// A two-socket Skylake-SP's v4.13 list (docs/model.md §5.1), then generic past it; the
    /// counts it leaves unset are that machine's ([`SKX_2S`]).
    #[serde(rename = "skx-2s")]
    Skx2s,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PmuSpec {
    /// Software-context PMUs registered at boot, sharing one CPU context per CPU
    /// (`software`, `tracepoint`, `breakpoint`, `cpu_clock`, `task_clock`, `msr`, …).
    pub software: u32,
    /// Core-scoped PMUs with their own context (`cpu`, `cpu_1`, …).
    pub core: u32,
    /// Uncore (package-scoped) PMUs registered at boot (`uncore_0`, …).
    pub uncore: u32,
    /// Extra slots that PMU churn registers and unregisters (`churn_0`, …).
    pub churn_slots: u32,
    pub names: PmuNames,
}

impl Default for PmuSpec {
    fn default() -> Self {
        PmuSpec { software: 5, core: 1, uncore: 2, churn_slots: 1, names: PmuNames::Generic }
    }
}

/// Tracepoints perf and ftrace users pick from, by popularity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracepointSpec {
    pub count: u32,
    /// Tracepoint k (from 0) is picked with probability proportional to 1 / (k + 1)^zipf.
    pub zipf: f64,
}

impl Default for TracepointSpec {
    fn default() -> Self {
        TracepointSpec { count: 64, zipf: 1.0 }
    }
}

/// Monitored tasks with an inherited tracepoint event that fork and exit (`perf record -- make -j`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InheritSpec {
    pub tasks: u32,
    /// Children each session forks, one after another.
    pub children: u32,
    pub think: Duration,
    pub fork_interval: Duration,
    pub child_lifetime: Duration,
    pub dist: Dist,
    /// Chance, per child, that perf closes the event before that child exits.
    pub release_first_fraction: f64,
}

impl Default for InheritSpec {
    fn default() -> Self {
        InheritSpec {
            tasks: 4,
            children: 4,
            think: Duration(50_000_000),
            fork_interval: Duration(2_000_000),
            child_lifetime: Duration(20_000_000),
            dist: Dist::Exp,
            release_first_fraction: 0.25,
        }
    }
}

/// Grouped opens (`perf stat -e '{cycles,tp,tp}'`): a hardware leader with tracepoint siblings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupSpec {
    pub tasks: u32,
    pub siblings: u32,
    pub think: Duration,
    pub lifetime: Duration,
    pub dist: Dist,
    /// The fraction of siblings that are hardware events sampling branch stacks (LBR, as
    /// `perf record -b` opens them) on the leader's core PMU instead of tracepoints.
    pub branch_stack_fraction: f64,
}

impl Default for GroupSpec {
    fn default() -> Self {
        GroupSpec {
            tasks: 4,
            siblings: 2,
            think: Duration(10_000_000),
            lifetime: Duration(20_000_000),
            dist: Dist::Exp,
            branch_stack_fraction: 0.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemeSpec {
    /// A built-in scheme, or a name of your own with `base` and `scripts`.
    pub name: String,
    /// The built-in scheme whose scripts a custom scheme starts from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    pub free_outside_ctx_mutex: bool,
    pub set_filter_outside_ctx_mutex: bool,
    pub sw_sibling_init_unlocked: bool,
    pub ds_buffers_hotplug_lock: bool,
    pub pebs_or_bts: bool,
    pub migrate_sync_rcu: MigrateSync,
    pub context_layout: ContextLayout,
    pub handoff: Handoff,
    pub pmu_dev_alloc: bool,
    /// perf's init and exit also run at `CPUHP_PERF_PREPARE` on the control task, as in
    /// v4.8–v6.15 (until f400565faa50, v6.16); else only at `CPUHP_AP_PERF_ONLINE`.
    pub perf_prepare_state: bool,
    /// `cpu_hotplug_lock`: "percpu-rwsem" (v4.13+) or "refcount" (v4.12's `get_online_cpus()`).
    pub hotplug_lock: HotplugLock,
    /// The `cpuhp_state` lockdep map between the control task and cpuhp/N (49dfe2a67797, v4.13).
    pub cpuhp_lockdep_map: bool,
    /// Static keys take the hotplug lock before `jump_label_mutex` (v4.13), else around
    /// each text patch inside it (v4.12).
    pub jump_label_hotplug_first: bool,
    /// Mutexes hand the lock to their first waiter at unlock (strict FIFO) instead of v4.10's
    /// unlock, which leaves it free for a running task until the woken waiter sets
    /// `MUTEX_FLAG_HANDOFF` (9d659ae14b54; every bundled release has it).
    pub mutex_fifo_handoff: bool,
    /// lockdep validates `dev->mutex`, which `device_initialize()` marks novalidate (the 2023
    /// report came from a debugging patch that validated it).
    pub validate_dev_mutex: bool,
    /// A kernel release whose facts fill every scheme key not set here (docs/model.md §4.14):
    /// one of 4.12, 4.13, 4.15, 6.2, 6.3, 6.12, 6.16.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Scripts replacing the base's, by operation name, in the text form of `cpuhpsim schemes`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub scripts: BTreeMap<String, String>,
}

impl Default for SchemeSpec {
    fn default() -> Self {
        SchemeSpec {
            name: "pmus-lock".into(),
            base: None,
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
            mutex_fifo_handoff: false,
            validate_dev_mutex: false,
            kernel: None,
            scripts: BTreeMap::new(),
        }
    }
}

impl SchemeSpec {
    /// This scheme's `[scheme]` keys as TOML, its scripts left out (what `schemes --print`
    /// writes above them).
    pub fn options_toml(&self) -> String {
        let spec = SchemeSpec { scripts: BTreeMap::new(), ..self.clone() };
        toml::to_string(&spec).expect("a scheme serialises")
    }
}

/// Every cost of docs/model.md §3 and §4.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostSpec {
    pub mutex_fast: Duration,
    pub wakeup: Duration,
    pub rwsem_read_fast: Duration,
    pub rwsem_read_slow: Duration,
    pub rcu_grace_period: Duration,
    /// Each RCU grace period is drawn uniformly from `rcu_grace_period × (1 ± spread)`, spread
    /// a fraction from 0 to 1: real grace periods vary, and a constant one puts a cliff where
    /// `hotplug.holdoff` equals it. The default 0.9 gives 1 ms to 19 ms around 10 ms.
    pub rcu_grace_period_spread: f64,
    pub rcu_expedited: Duration,
    pub srcu_grace_period: Duration,
    pub srcu_read: Duration,
    pub spinlock: Duration,
    pub ipi_round_trip: Duration,
    pub ipi_install: Duration,
    pub ipi_remove_per_event: Duration,
    pub stop_machine_base: Duration,
    pub stop_machine_per_cpu: Duration,
    pub cpuhp_other_down: Duration,
    pub cpuhp_dead: Duration,
    pub cpuhp_bringup: Duration,
    pub cpuhp_other_up: Duration,
    pub ctx_alloc_per_cpu: Duration,
    pub ctx_init: Duration,
    pub static_key_base: Duration,
    pub static_key_per_online_cpu: Duration,
    pub pmu_free: Duration,
    pub driver_probe: Duration,
    pub pmu_dev_register: Duration,
    pub event_alloc: Duration,
    pub tracepoint_probe: Duration,
    pub perf_trace_alloc_per_cpu: Duration,
    pub perf_trace_free: Duration,
    pub hlist_per_cpu: Duration,
    pub ds_buffer_per_cpu: Duration,
    pub pmc_reserve: Duration,
    pub install: Duration,
    pub remove: Duration,
    pub inherit: Duration,
    pub exit_event: Duration,
    pub set_filter: Duration,
    pub disable: Duration,
}

impl Default for CostSpec {
    fn default() -> Self {
        let k = sim::kernel::Costs::default();
        let p = crate::schemes::PerfCosts::default();
        CostSpec {
            mutex_fast: Duration(k.mutex_fast_ns),
            wakeup: Duration(k.wakeup_ns),
            rwsem_read_fast: Duration(k.rwsem_read_fast_ns),
            rwsem_read_slow: Duration(k.rwsem_read_slow_ns),
            rcu_grace_period: Duration(k.rcu_grace_period_ns),
            rcu_grace_period_spread: 0.9,
            rcu_expedited: Duration(k.rcu_expedited_ns),
            srcu_grace_period: Duration(k.srcu_grace_period_ns),
            srcu_read: Duration(k.srcu_read_ns),
            spinlock: Duration(k.spinlock_ns),
            ipi_round_trip: Duration(k.ipi_round_trip_ns),
            ipi_install: Duration(k.ipi_install_ns),
            ipi_remove_per_event: Duration(k.ipi_remove_per_event_ns),
            stop_machine_base: Duration(k.stop_machine_base_ns),
            stop_machine_per_cpu: Duration(k.stop_machine_per_cpu_ns),
            cpuhp_other_down: Duration(p.cpuhp_other_down_ns),
            cpuhp_dead: Duration(p.cpuhp_dead_ns),
            cpuhp_bringup: Duration(p.cpuhp_bringup_ns),
            cpuhp_other_up: Duration(p.cpuhp_other_up_ns),
            ctx_alloc_per_cpu: Duration(p.ctx_alloc_per_cpu_ns),
            ctx_init: Duration(p.ctx_init_ns),
            static_key_base: Duration(p.static_key_base_ns),
            static_key_per_online_cpu: Duration(p.static_key_per_online_cpu_ns),
            pmu_free: Duration(p.pmu_free_ns),
            driver_probe: Duration(p.driver_probe_ns),
            pmu_dev_register: Duration(p.pmu_dev_register_ns),
            event_alloc: Duration(p.event_alloc_ns),
            tracepoint_probe: Duration(p.tracepoint_probe_ns),
            perf_trace_alloc_per_cpu: Duration(p.perf_trace_alloc_per_cpu_ns),
            perf_trace_free: Duration(p.perf_trace_free_ns),
            hlist_per_cpu: Duration(p.hlist_per_cpu_ns),
            ds_buffer_per_cpu: Duration(p.ds_buffer_per_cpu_ns),
            pmc_reserve: Duration(p.pmc_reserve_ns),
            install: Duration(p.install_ns),
            remove: Duration(p.remove_ns),
            inherit: Duration(p.inherit_ns),
            exit_event: Duration(p.exit_event_ns),
            set_filter: Duration(p.set_filter_ns),
            disable: Duration(p.disable_ns),
        }
    }
}

impl CostSpec {
    /// `(key, value)` of every cost, for range checks.
    fn entries(&self) -> [(&'static str, Duration); 38] {
        [
            ("mutex_fast", self.mutex_fast),
            ("wakeup", self.wakeup),
            ("rwsem_read_fast", self.rwsem_read_fast),
            ("rwsem_read_slow", self.rwsem_read_slow),
            ("rcu_grace_period", self.rcu_grace_period),
            ("rcu_expedited", self.rcu_expedited),
            ("srcu_grace_period", self.srcu_grace_period),
            ("srcu_read", self.srcu_read),
            ("spinlock", self.spinlock),
            ("ipi_round_trip", self.ipi_round_trip),
            ("ipi_install", self.ipi_install),
            ("ipi_remove_per_event", self.ipi_remove_per_event),
            ("stop_machine_base", self.stop_machine_base),
            ("stop_machine_per_cpu", self.stop_machine_per_cpu),
            ("cpuhp_other_down", self.cpuhp_other_down),
            ("cpuhp_dead", self.cpuhp_dead),
            ("cpuhp_bringup", self.cpuhp_bringup),
            ("cpuhp_other_up", self.cpuhp_other_up),
            ("ctx_alloc_per_cpu", self.ctx_alloc_per_cpu),
            ("ctx_init", self.ctx_init),
            ("static_key_base", self.static_key_base),
            ("static_key_per_online_cpu", self.static_key_per_online_cpu),
            ("pmu_free", self.pmu_free),
            ("driver_probe", self.driver_probe),
            ("pmu_dev_register", self.pmu_dev_register),
            ("event_alloc", self.event_alloc),
            ("tracepoint_probe", self.tracepoint_probe),
            ("perf_trace_alloc_per_cpu", self.perf_trace_alloc_per_cpu),
            ("perf_trace_free", self.perf_trace_free),
            ("hlist_per_cpu", self.hlist_per_cpu),
            ("ds_buffer_per_cpu", self.ds_buffer_per_cpu),
            ("pmc_reserve", self.pmc_reserve),
            ("install", self.install),
            ("remove", self.remove),
            ("inherit", self.inherit),
            ("exit_event", self.exit_event),
            ("set_filter", self.set_filter),
            ("disable", self.disable),
        ]
    }

    pub fn kernel(&self) -> sim::kernel::Costs {
        sim::kernel::Costs {
            mutex_fast_ns: self.mutex_fast.0,
            wakeup_ns: self.wakeup.0,
            rwsem_read_fast_ns: self.rwsem_read_fast.0,
            rwsem_read_slow_ns: self.rwsem_read_slow.0,
            rcu_grace_period_ns: self.rcu_grace_period.0,
            rcu_grace_period_spread_ns: (self.rcu_grace_period.0 as f64 * self.rcu_grace_period_spread) as u64,
            rcu_expedited_ns: self.rcu_expedited.0,
            srcu_grace_period_ns: self.srcu_grace_period.0,
            srcu_read_ns: self.srcu_read.0,
            spinlock_ns: self.spinlock.0,
            ipi_round_trip_ns: self.ipi_round_trip.0,
            stop_machine_base_ns: self.stop_machine_base.0,
            stop_machine_per_cpu_ns: self.stop_machine_per_cpu.0,
            ipi_install_ns: self.ipi_install.0,
            ipi_remove_per_event_ns: self.ipi_remove_per_event.0,
        }
    }

    pub fn perf(&self) -> crate::schemes::PerfCosts {
        crate::schemes::PerfCosts {
            cpuhp_other_down_ns: self.cpuhp_other_down.0,
            cpuhp_dead_ns: self.cpuhp_dead.0,
            cpuhp_bringup_ns: self.cpuhp_bringup.0,
            cpuhp_other_up_ns: self.cpuhp_other_up.0,
            ctx_alloc_per_cpu_ns: self.ctx_alloc_per_cpu.0,
            ctx_init_ns: self.ctx_init.0,
            static_key_base_ns: self.static_key_base.0,
            static_key_per_online_cpu_ns: self.static_key_per_online_cpu.0,
            pmu_free_ns: self.pmu_free.0,
            driver_probe_ns: self.driver_probe.0,
            pmu_dev_register_ns: self.pmu_dev_register.0,
            event_alloc_ns: self.event_alloc.0,
            tracepoint_probe_ns: self.tracepoint_probe.0,
            perf_trace_alloc_per_cpu_ns: self.perf_trace_alloc_per_cpu.0,
            perf_trace_free_ns: self.perf_trace_free.0,
            hlist_per_cpu_ns: self.hlist_per_cpu.0,
            ds_buffer_per_cpu_ns: self.ds_buffer_per_cpu.0,
            pmc_reserve_ns: self.pmc_reserve.0,
            install_ns: self.install.0,
            remove_ns: self.remove.0,
            inherit_ns: self.inherit.0,
            exit_event_ns: self.exit_event.0,
            set_filter_ns: self.set_filter.0,
            disable_ns: self.disable.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HotplugSpec {
    pub enabled: bool,
    pub mode: HotplugMode,
    /// Time from the end of one `cpu_up` to the next `cpu_down` (rcutorture's onoff_interval).
    pub interval: Duration,
    pub interval_dist: Dist,
    /// Time a CPU stays down.
    pub holdoff: Duration,
    pub holdoff_dist: Dist,
}

impl Default for HotplugSpec {
    fn default() -> Self {
        HotplugSpec {
            enabled: true,
            mode: HotplugMode::Random,
            interval: Duration(100_000_000),
            interval_dist: Dist::Exp,
            holdoff: Duration(10_000_000),
            holdoff_dist: Dist::Fixed,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenerSpec {
    pub tasks: u32,
    /// Mean time between a release (or a failed open) and the next open.
    pub think: Duration,
    pub think_dist: Dist,
    /// Mean time an opened event is kept.
    pub lifetime: Duration,
    pub lifetime_dist: Dist,
    /// Fraction of opens that are tracepoint events (on the `tracepoint` PMU).
    pub tracepoint_fraction: f64,
    /// Fraction of opens that are software events (on the `software` PMU); the rest are
    /// hardware events on a core or uncore PMU.
    pub software_fraction: f64,
    /// Fraction of tracepoint events that get `PERF_EVENT_IOC_SET_FILTER` after opening.
    pub set_filter_fraction: f64,
    /// Fraction of opened events whose owner runs `prctl(PR_TASK_PERF_EVENTS_DISABLE)`.
    pub prctl_fraction: f64,
    /// Fraction of opens on a core or software PMU aimed at a CPU the hotplug mask shows
    /// offline (one going down or coming up, as an agent that opens on each CPU it sees
    /// appear), when there is one; the rest go to any CPU.
    pub offline_fraction: f64,
}

impl Default for OpenerSpec {
    fn default() -> Self {
        OpenerSpec {
            tasks: 32,
            think: Duration(2_000_000),
            think_dist: Dist::Exp,
            lifetime: Duration(20_000_000),
            lifetime_dist: Dist::Exp,
            tracepoint_fraction: 0.5,
            software_fraction: 0.2,
            set_filter_fraction: 0.25,
            prctl_fraction: 0.05,
            offline_fraction: 0.0,
        }
    }
}

/// ftrace togglers: each enables or disables a tracepoint every interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FtraceSpec {
    pub tasks: u32,
    pub interval: Duration,
    pub interval_dist: Dist,
}

impl Default for FtraceSpec {
    fn default() -> Self {
        FtraceSpec { tasks: 1, interval: Duration(50_000_000), interval_dist: Dist::Exp }
    }
}

/// Driver probes (with `scheme.pmu_dev_alloc`): `dev->mutex` → `cpu_add_remove_lock`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeSpec {
    pub tasks: u32,
    pub interval: Duration,
    pub interval_dist: Dist,
}

impl Default for ProbeSpec {
    fn default() -> Self {
        ProbeSpec { tasks: 0, interval: Duration(100_000_000), interval_dist: Dist::Exp }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChurnSpec {
    /// Churning tasks; each owns one churn slot (`pmus.churn_slots`).
    pub tasks: u32,
    /// Time a slot stays unregistered.
    pub interval: Duration,
    /// Time a churned PMU stays registered.
    pub lifetime: Duration,
    pub dist: Dist,
}

impl Default for ChurnSpec {
    fn default() -> Self {
        ChurnSpec { tasks: 0, interval: Duration(500_000_000), lifetime: Duration(1_000_000_000), dist: Dist::Exp }
    }
}

/// PMU load: events counting and sampling on every CPU's core PMU (like `perf record -a`),
/// and optionally a counting event per uncore PMU per package. Off by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PmuLoadSpec {
    /// The hardware event every PMU-load event counts, by perf's name.
    pub event: String,
    pub sampling_events: u32,
    pub counting_events: u32,
    /// Events between samples (cycles: 750000 at 3 GHz is 4 kHz).
    pub sample_period: u64,
    pub counters: u32,
    pub width_bits: u32,
    pub skid: Duration,
    pub handler: Duration,
    pub mux_interval: Duration,
    pub max_sample_rate: u64,
    pub hz: u64,
    pub cpu_time_max_percent: u64,
    pub uncore_counting: bool,
    /// Counting events fold every overflow into their count (a PMI per wrap); `false` leaves
    /// them to the periodic read, which loses each wrap it misses.
    pub fold_on_overflow: bool,
    /// Every counting event is read at this interval (`perf stat -I`); 0s: only at removal.
    pub read_interval: Duration,
    /// Core PMUs run ahead of the engine in quanta when no result can change (the governor
    /// cannot lower the rate); `false` spends one engine event per wake, for comparison.
    pub run_ahead: bool,
}

impl Default for PmuLoadSpec {
    fn default() -> Self {
        let cpu = sim::pmu::CpuPmuConfig::default();
        let governor = sim::pmu::GovernorConfig::default();
        PmuLoadSpec {
            event: sim::pmu::EventKind::Cycles.as_str().to_string(),
            sampling_events: 0,
            counting_events: 0,
            sample_period: 750_000,
            counters: cpu.counters,
            width_bits: cpu.width_bits,
            skid: Duration(cpu.skid_ns),
            handler: Duration(cpu.handler_ns),
            mux_interval: Duration(cpu.mux_interval_ns),
            max_sample_rate: governor.max_sample_rate_per_s,
            hz: governor.hz,
            cpu_time_max_percent: governor.cpu_time_max_percent,
            uncore_counting: false,
            fold_on_overflow: true,
            read_interval: Duration(0),
            run_ahead: true,
        }
    }
}

impl PmuLoadSpec {
    pub fn enabled(&self) -> bool {
        self.sampling_events > 0 || self.counting_events > 0 || self.uncore_counting
    }

    /// Checks the fields a user is most likely to get wrong by name, whether or not the load is
    /// on (a counter of 0 or 65 bits is wrong either way); the rest by the PMU model when it is.
    fn validate(&self) -> Result<(), ScenarioError> {
        range("pmu_load.width_bits", self.width_bits, sim::pmu::MIN_WIDTH_BITS, sim::pmu::MAX_WIDTH_BITS)?;
        range("pmu_load.counters", self.counters, 1, sim::pmu::MAX_COUNTERS)?;
        if self.counting_events > 0 || self.uncore_counting {
            // A counting event folds every 2^(width_bits-1) - 1 events, so it needs 2 bits.
            range("pmu_load.width_bits", self.width_bits, 2, sim::pmu::MAX_WIDTH_BITS)?;
        }
        // A sampling period must fit the counter it is preloaded into.
        let max_period = match self.sampling_events {
            0 => sim::pmu::MAX_PERIOD_EVENTS,
            _ => sim::pmu::counter_mask(self.width_bits).min(sim::pmu::MAX_PERIOD_EVENTS),
        };
        if self.sampling_events > 0 && self.sample_period > max_period && max_period < sim::pmu::MAX_PERIOD_EVENTS {
            return Err(ScenarioError::new(
                "pmu_load.sample_period",
                format!(
                    "{} is out of range; allowed 1 to {max_period}, what a {}-bit counter holds \
                     (pmu_load.width_bits = {}): lower the period or widen the counter",
                    self.sample_period, self.width_bits, self.width_bits
                ),
            ));
        }
        range("pmu_load.sample_period", self.sample_period, 1, max_period)?;
        duration_range("pmu_load.skid", self.skid, 0, sim::pmu::MAX_PMI_NS)?;
        duration_range("pmu_load.handler", self.handler, 0, sim::pmu::MAX_PMI_NS)?;
        duration_range("pmu_load.mux_interval", self.mux_interval, 1, sim::pmu::MAX_MUX_INTERVAL_NS)?;
        duration_range("pmu_load.read_interval", self.read_interval, 0, MAX_COST_NS)?;
        range("pmu_load.max_sample_rate", self.max_sample_rate, 1, sim::pmu::MAX_SAMPLE_RATE_PER_S)?;
        range("pmu_load.hz", self.hz, 1, sim::pmu::MAX_HZ)?;
        range("pmu_load.cpu_time_max_percent", self.cpu_time_max_percent, 0, 100)?;
        let per_cpu = u64::from(self.sampling_events) + u64::from(self.counting_events);
        if per_cpu > sim::pmu::MAX_EVENTS_PER_CPU as u64 {
            return Err(ScenarioError::new(
                "pmu_load.sampling_events",
                format!(
                    "{per_cpu} events per CPU (sampling_events + counting_events); at most {}",
                    sim::pmu::MAX_EVENTS_PER_CPU
                ),
            ));
        }
        if self.enabled() {
            self.config()?;
        }
        Ok(())
    }

    /// The kernel's PMU load, validated by the PMU model (errors name the field).
    pub fn config(&self) -> Result<sim::kernel::PmuLoadConfig, ScenarioError> {
        let err = |e: sim::pmu::PmuError| ScenarioError::new("pmu_load", e.to_string());
        let kind = sim::pmu::EventKind::ALL.into_iter().find(|k| k.as_str() == self.event).ok_or_else(|| {
            let names: Vec<&str> = sim::pmu::EventKind::ALL.iter().map(|k| k.as_str()).collect();
            ScenarioError::new(
                "pmu_load.event",
                format!("`{}` is not a modelled event; events: {}", self.event, names.join(", ")),
            )
        })?;
        let cpu = sim::pmu::CpuPmuConfig {
            counters: self.counters,
            width_bits: self.width_bits,
            skid_ns: self.skid.0,
            handler_ns: self.handler.0,
            mux_interval_ns: self.mux_interval.0,
        };
        cpu.validate().map_err(err)?;
        let governor = sim::pmu::GovernorConfig {
            max_sample_rate_per_s: self.max_sample_rate,
            hz: self.hz,
            cpu_time_max_percent: self.cpu_time_max_percent,
        };
        governor.validate().map_err(err)?;
        if self.sampling_events > 0 {
            sim::pmu::CounterConfig::sampling(kind, self.width_bits, self.sample_period).validate().map_err(err)?;
        }
        let per_cpu = u64::from(self.sampling_events) + u64::from(self.counting_events);
        if per_cpu > sim::pmu::MAX_EVENTS_PER_CPU as u64 {
            return Err(ScenarioError::new(
                "pmu_load",
                format!("{per_cpu} events per CPU; at most {}", sim::pmu::MAX_EVENTS_PER_CPU),
            ));
        }
        let counting = self.counting_events > 0 || self.uncore_counting;
        if counting && !self.fold_on_overflow && self.read_interval.0 == 0 {
            return Err(ScenarioError::new(
                "pmu_load.read_interval",
                "0s with fold_on_overflow = false: unfolded counts are only read at this interval; \
                 set one above 0s, e.g. \"2s\"",
            ));
        }
        Ok(sim::kernel::PmuLoadConfig {
            sampling_events: self.sampling_events,
            counting_events: self.counting_events,
            fold_on_overflow: self.fold_on_overflow,
            read_interval_ns: self.read_interval.0,
            sample_period_events: self.sample_period,
            kind,
            cpu,
            phases: sim::pmu::PhaseConfig::default(),
            governor,
            uncore_counting: self.uncore_counting,
            run_ahead: self.run_ahead,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RunSpec {
    pub duration: Duration,
    pub seed: u64,
    /// Stop at the first deadlock; otherwise freeze its tasks and go on.
    pub stop_on_deadlock: bool,
    /// Most simulation events one run may process.
    pub max_events: u64,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec { duration: Duration(10_000_000_000), seed: 1, stop_on_deadlock: false, max_events: 2_000_000_000 }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    pub machine: MachineSpec,
    pub pmus: PmuSpec,
    pub scheme: SchemeSpec,
    pub costs: CostSpec,
    pub hotplug: HotplugSpec,
    pub openers: OpenerSpec,
    pub tracepoints: TracepointSpec,
    pub inherit: InheritSpec,
    pub groups: GroupSpec,
    pub ftrace: FtraceSpec,
    pub pmu_churn: ChurnSpec,
    pub driver_probe: ProbeSpec,
    pub pmu_load: PmuLoadSpec,
    pub run: RunSpec,
}

fn range<T: PartialOrd + fmt::Display>(key: &str, value: T, min: T, max: T) -> Result<(), ScenarioError> {
    if value < min || value > max {
        Err(ScenarioError::new(key, format!("{value} is out of range; allowed {min} to {max}")))
    } else {
        Ok(())
    }
}

/// [`range`] for durations, printed in the units a user writes (`0ns`, `1ns`, `86400s`).
fn duration_range(key: &str, value: Duration, min: u64, max: u64) -> Result<(), ScenarioError> {
    if value.0 < min || value.0 > max {
        let (min, max) = (Duration(min), Duration(max));
        Err(ScenarioError::new(key, format!("{value} is out of range; allowed {min} to {max}")))
    } else {
        Ok(())
    }
}

fn fraction(key: &str, value: f64) -> Result<(), ScenarioError> {
    if !(0.0..=1.0).contains(&value) {
        return Err(ScenarioError::new(key, format!("{value} is not a probability; allowed 0 to 1")));
    }
    Ok(())
}

/// The default scenario as a TOML table, made once: the sections and keys a scenario has.
pub(crate) fn default_table() -> &'static toml::Table {
    static TABLE: std::sync::OnceLock<toml::Table> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| Scenario::default().to_toml().parse().expect("the default scenario is TOML"))
}

/// Refuses a section given as anything but a table (`machine = [1, 2]`), which serde would
/// otherwise read field by field in order.
fn sections_are_tables(table: &toml::Table) -> Result<(), ScenarioError> {
    for (name, value) in table {
        let Some(toml::Value::Table(keys)) = default_table().get(name) else { continue };
        if !value.is_table() {
            let some: Vec<&str> = keys.keys().take(3).map(String::as_str).collect();
            return Err(ScenarioError::new(
                name,
                format!(
                    "expected a table (a [{name}] section with keys such as {}), found {} {value}",
                    some.join(", "),
                    value.type_str()
                ),
            ));
        }
    }
    Ok(())
}

impl Scenario {
    /// Parses a scenario from TOML and validates it.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ScenarioError::new("TOML", e.to_string().trim_end().replace('\n', " ")))?;
        sections_are_tables(&table)?;
        let mut table = table;
        crate::kernels::apply_kernel_bundle(&mut table)?;
        apply_pmu_names(&mut table);
        let scenario: Scenario = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let key = e.path().to_string();
            let message = e.inner().message().trim_end().to_string();
            ScenarioError::new(if key == "." { "scenario".into() } else { key }, message)
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The scenario as TOML: every key, a `kernel` bundle's among them, resolved.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a scenario serialises")
    }

    pub fn validate(&self) -> Result<(), ScenarioError> {
        let m = &self.machine;
        range("machine.cpus", m.cpus, 1, MAX_SCENARIO_CPUS)?;
        if m.packages > m.cpus && m.packages <= sim::perf::MAX_PACKAGES {
            return Err(ScenarioError::new(
                "machine.packages",
                format!(
                    "{} is out of range; allowed 1 to {} (machine.cpus is {} and a package has at least one CPU; \
                     set machine.packages too)",
                    m.packages, m.cpus, m.cpus
                ),
            ));
        }
        range("machine.packages", m.packages, 1, m.cpus.min(sim::perf::MAX_PACKAGES))?;
        let p = &self.pmus;
        let max_pmus = sim::perf::MAX_PMUS as u32;
        range("pmus.software", p.software, 0, max_pmus)?;
        range("pmus.core", p.core, 0, max_pmus)?;
        range("pmus.uncore", p.uncore, 0, max_pmus)?;
        range("pmus.churn_slots", p.churn_slots, 0, max_pmus)?;
        let total = p.software + p.core + p.uncore + p.churn_slots;
        if total > max_pmus {
            return Err(ScenarioError::new("pmus", format!("{total} PMUs in all; at most {max_pmus}")));
        }
        let o = &self.openers;
        let hardware = 1.0 - o.tracepoint_fraction - o.software_fraction;
        if p.core + p.uncore == 0 && o.tasks > 0 && hardware > 0.0 {
            return Err(ScenarioError::new(
                "pmus.core",
                "0 core and 0 uncore PMUs leave openers' hardware events (1 - tracepoint_fraction - software_fraction) nowhere to go",
            ));
        }
        let tracepoint_users =
            (o.tasks > 0 && o.tracepoint_fraction > 0.0) || self.inherit.tasks > 0 || self.groups.tasks > 0;
        if p.software < 2 && (tracepoint_users || (o.tasks > 0 && o.software_fraction > 0.0)) {
            return Err(ScenarioError::new(
                "pmus.software",
                format!(
                    "{} software PMUs; tracepoint and software events need at least 2 (`software`, `tracepoint`)",
                    p.software
                ),
            ));
        }
        if p.core == 0 && self.groups.tasks > 0 {
            return Err(ScenarioError::new("pmus.core", "0 core PMUs leave group openers no hardware leader"));
        }
        self.scheme_kind()?;
        for (key, cost) in self.costs.entries() {
            duration_range(&format!("costs.{key}"), cost, 0, MAX_COST_NS)?;
        }
        let spread = self.costs.rcu_grace_period_spread;
        if !(0.0..=1.0).contains(&spread) {
            return Err(ScenarioError::new(
                "costs.rcu_grace_period_spread",
                format!("{spread} is out of range; allowed 0 to 1 (a fraction of costs.rcu_grace_period either side)"),
            ));
        }
        let h = &self.hotplug;
        duration_range("hotplug.interval", h.interval, 0, MAX_COST_NS)?;
        duration_range("hotplug.holdoff", h.holdoff, 0, MAX_COST_NS)?;
        range("openers.tasks", o.tasks, 0, MAX_WORKLOAD_TASKS)?;
        duration_range("openers.think", o.think, 0, MAX_COST_NS)?;
        duration_range("openers.lifetime", o.lifetime, 0, MAX_COST_NS)?;
        fraction("openers.tracepoint_fraction", o.tracepoint_fraction)?;
        fraction("openers.software_fraction", o.software_fraction)?;
        if o.tracepoint_fraction + o.software_fraction > 1.0 {
            return Err(ScenarioError::new(
                "openers.software_fraction",
                format!(
                    "{} with tracepoint_fraction {} is more than all opens; the two add up to at most 1",
                    o.software_fraction, o.tracepoint_fraction
                ),
            ));
        }
        fraction("openers.set_filter_fraction", o.set_filter_fraction)?;
        fraction("openers.prctl_fraction", o.prctl_fraction)?;
        fraction("openers.offline_fraction", o.offline_fraction)?;
        let t = &self.tracepoints;
        range("tracepoints.count", t.count, 1, sim::kernel::MAX_TRACEPOINTS)?;
        if !(0.0..=8.0).contains(&t.zipf) {
            return Err(ScenarioError::new("tracepoints.zipf", format!("{} is out of range; allowed 0 to 8", t.zipf)));
        }
        let i = &self.inherit;
        range("inherit.tasks", i.tasks, 0, MAX_WORKLOAD_TASKS)?;
        range("inherit.children", i.children, 0, sim::script::MAX_CHILDREN)?;
        duration_range("inherit.think", i.think, 0, MAX_COST_NS)?;
        duration_range("inherit.fork_interval", i.fork_interval, 0, MAX_COST_NS)?;
        duration_range("inherit.child_lifetime", i.child_lifetime, 0, MAX_COST_NS)?;
        fraction("inherit.release_first_fraction", i.release_first_fraction)?;
        let g = &self.groups;
        range("groups.tasks", g.tasks, 0, MAX_WORKLOAD_TASKS)?;
        range("groups.siblings", g.siblings, 0, 64)?;
        duration_range("groups.think", g.think, 0, MAX_COST_NS)?;
        duration_range("groups.lifetime", g.lifetime, 0, MAX_COST_NS)?;
        fraction("groups.branch_stack_fraction", g.branch_stack_fraction)?;
        range("ftrace.tasks", self.ftrace.tasks, 0, MAX_WORKLOAD_TASKS)?;
        duration_range("ftrace.interval", self.ftrace.interval, 0, MAX_COST_NS)?;
        range("driver_probe.tasks", self.driver_probe.tasks, 0, MAX_WORKLOAD_TASKS)?;
        duration_range("driver_probe.interval", self.driver_probe.interval, 0, MAX_COST_NS)?;
        range("pmu_churn.tasks", self.pmu_churn.tasks, 0, p.churn_slots)?;
        duration_range("pmu_churn.interval", self.pmu_churn.interval, 0, MAX_COST_NS)?;
        duration_range("pmu_churn.lifetime", self.pmu_churn.lifetime, 0, MAX_COST_NS)?;
        duration_range("run.duration", self.run.duration, 1, MAX_RUN_NS)?;
        range("run.seed", self.run.seed, 0, sim::rng::MAX_SEED)?;
        self.pmu_load.validate()?;
        let l = &self.pmu_load;
        let per_cpu = u64::from(l.sampling_events) + u64::from(l.counting_events);
        let events = u64::from(m.cpus) * per_cpu;
        if events > MAX_PMU_LOAD_EVENTS {
            let key = if l.sampling_events > 0 { "pmu_load.sampling_events" } else { "pmu_load.counting_events" };
            return Err(ScenarioError::new(
                key,
                format!(
                    "{} CPUs × {per_cpu} events per CPU (sampling_events + counting_events) = {events} PMU-load \
                     events; at most {MAX_PMU_LOAD_EVENTS} in one run (about 300 bytes each): give fewer events per \
                     CPU or fewer CPUs (machine.cpus)",
                    m.cpus
                ),
            ));
        }
        range("run.max_events", self.run.max_events, 1, u64::MAX / 2)?;
        for (name, text) in &self.scheme.scripts {
            if !op::NAMES.contains(&name.as_str()) {
                return Err(ScenarioError::new(
                    format!("scheme.scripts.{name}"),
                    format!("no operation `{name}`; scripts exist for {}", op::NAMES.join(", ")),
                ));
            }
            crate::script_text::parse_checked(name, text, self.script_machine())?;
        }
        Ok(())
    }

    /// The machine this scenario's scripts are checked against.
    pub fn script_machine(&self) -> crate::script_text::ScriptMachine {
        let p = &self.pmus;
        crate::script_text::ScriptMachine {
            cpus: self.machine.cpus,
            pmus: p.software + p.core + p.uncore + p.churn_slots,
        }
    }

    /// The built-in scheme this scenario runs or starts from.
    pub fn scheme_kind(&self) -> Result<SchemeKind, ScenarioError> {
        let names = || SchemeKind::ALL.map(|k| k.name()).join(", ");
        match (&self.scheme.base, SchemeKind::parse(&self.scheme.name)) {
            (Some(base), _) => SchemeKind::parse(base).ok_or_else(|| {
                ScenarioError::new("scheme.base", format!("unknown scheme `{base}`; built-in: {}", names()))
            }),
            (None, Some(kind)) if self.scheme.scripts.is_empty() => Ok(kind),
            (None, Some(_)) => Err(ScenarioError::new(
                "scheme.base",
                "a scheme with its own scripts needs a base (built-in scheme to start from) and a name of its own",
            )),
            (None, None) => Err(ScenarioError::new(
                "scheme.name",
                format!(
                    "unknown scheme `{}`; built-in: {} (define your own with base and scripts)",
                    self.scheme.name,
                    names()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_default_scenario_and_round_trips() {
        let s = Scenario::from_toml("").unwrap();
        assert_eq!(s, Scenario::default());
        assert_eq!(Scenario::from_toml(&s.to_toml()).unwrap(), s);
    }

    #[test]
    fn skx_2s_names_fill_the_counts_left_unset_and_explicit_counts_win() {
        let s = Scenario::from_toml("[pmus]\nnames = \"skx-2s\"\n").unwrap();
        assert_eq!((s.pmus.software, s.pmus.core, s.pmus.uncore), SKX_2S);
        assert_eq!(s.pmus.churn_slots, PmuSpec::default().churn_slots);
        let s = Scenario::from_toml("[pmus]\nnames = \"skx-2s\"\nuncore = 3\n").unwrap();
        assert_eq!((s.pmus.software, s.pmus.core, s.pmus.uncore), (SKX_2S.0, SKX_2S.1, 3));
        let s = Scenario::from_toml("[pmus]\nnames = \"generic\"\n").unwrap();
        assert_eq!(s.pmus, PmuSpec::default());
    }

    #[test]
    fn durations_read_units_and_print_the_largest_exact_one() {
        let s = Scenario::from_toml("[hotplug]\ninterval = \"250ms\"\nholdoff = \"5000ns\"\n").unwrap();
        assert_eq!((s.hotplug.interval, s.hotplug.holdoff), (Duration(250_000_000), Duration(5_000)));
        let s = Scenario::from_toml("[hotplug]\ninterval = \"1.5min\"\nholdoff = \"0.5h\"\n").unwrap();
        assert_eq!((s.hotplug.interval, s.hotplug.holdoff), (Duration(90_000_000_000), Duration(1_800_000_000_000)));
        assert_eq!(Duration(1_500_000).to_string(), "1500us");
        assert_eq!(Duration(90_000_000_000).to_string(), "90s");
        assert_eq!(Duration(0).to_string(), "0ns");
    }

    #[test]
    fn a_duration_without_a_unit_is_an_error_naming_the_units() {
        let e = error("[hotplug]\nholdoff = 5000\n");
        assert_eq!(e.key, "hotplug.holdoff");
        assert_eq!(e.message, "5000: durations need a unit, e.g. \"5000ns\"");
        let e = error("[hotplug]\nholdoff = \"5000\"\n");
        assert_eq!(e.key, "hotplug.holdoff");
        assert_eq!(e.message, "`5000` needs a unit: 5000ns, 5000us, 5000ms, 5000s, 5000min or 5000h");
        let e = error("[openers]\nthink = \"1.5ps\"\n");
        assert_eq!(e.key, "openers.think");
        assert_eq!(e.message, "unknown unit `ps` in `1.5ps` (use ns, us, ms, s, min or h)");
        let e = error("[run]\nduration = \"1.0000000005s\"\n");
        assert_eq!(e.key, "run.duration");
        assert_eq!(e.message, "`1.0000000005s` is not a whole number of nanoseconds");
    }

    fn error(text: &str) -> ScenarioError {
        Scenario::from_toml(text).unwrap_err()
    }

    #[test]
    fn the_pmu_load_events_budget_admits_exactly_max_events() {
        let at = |cpus: u64, sampling: u64, counting: u64| {
            Scenario::from_toml(&format!(
                "[machine]\ncpus = {cpus}\npackages = 4\n[pmu_load]\nsampling_events = {sampling}\n\
                 counting_events = {counting}\n"
            ))
        };
        let cpus = MAX_PMU_LOAD_EVENTS / 256;
        assert!(at(cpus, 256, 0).is_ok(), "{} CPUs × 256 events is the budget", cpus);
        assert!(at(cpus * 4, 64, 0).is_ok());
        let e = at(cpus + 1, 256, 0).unwrap_err();
        assert_eq!(e.key, "pmu_load.sampling_events");
        let total = (cpus + 1) * 256;
        assert!(e.message.contains(&format!("= {total} PMU-load events; at most {MAX_PMU_LOAD_EVENTS}")), "{e}");
        let e = at(cpus * 4, 32, 33).unwrap_err();
        assert_eq!(e.key, "pmu_load.sampling_events");
        let e = at(cpus * 4, 0, 65).unwrap_err();
        assert_eq!(e.key, "pmu_load.counting_events", "{e}");
    }

    #[test]
    fn errors_name_the_key_the_value_and_what_is_allowed() {
        let e = error("[machine]\ncpus = 0\n");
        assert_eq!(e.key, "machine.cpus");
        assert!(e.message.contains('0') && e.message.contains("65536"), "{e}");
        let e = error("[machine]\ncpus = 8\npackages = 9\n");
        assert_eq!(e.key, "machine.packages");
        let e = error("[openers]\ntracepoint_fraction = 1.5\n");
        assert_eq!(e.key, "openers.tracepoint_fraction");
        let e = error("[machine]\ncpu = 8\n");
        assert!(e.message.contains("unknown field `cpu`"), "{e}");
        let e = error("[machine]\ncpus = \"many\"\n");
        assert_eq!(e.key, "machine.cpus");
        let e = error("[run]\nduration = \"-1s\"\n");
        assert_eq!(e.key, "run.duration");
        assert!(e.message.contains("negative"), "{e}");
        let e = error("[run]\nduration = \"0s\"\n");
        assert_eq!(e.key, "run.duration");
        let e = error("[scheme]\nname = \"big-lock\"\n");
        assert_eq!(e.key, "scheme.name");
        assert!(e.message.contains("pmus-lock"), "{e}");
        let e = error("[scheme]\nname = \"mine\"\nbase = \"pmus-lock\"\n[scheme.scripts]\ncpu_sideways = \"\"\n");
        assert_eq!(e.key, "scheme.scripts.cpu_sideways");
        let e = error("[machine\ncpus = 3");
        assert_eq!(e.key, "TOML");
    }
}
