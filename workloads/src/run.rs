//! One simulated run of a scenario: build the kernel and its tasks, run, collect the figures.

use hdrhistogram::Histogram;
use sim::engine::{Limits, Scheduler, StopReason};
use sim::kernel::{Agent, Deadlock, Kernel, KernelConfig, OnDeadlock, Stall, TaskSpec, Violation};
use sim::lockdep::{LockOrder, ReportNames};
use sim::lockstat::{LockStat, new_histogram};
use sim::perf::{PerfConfig, PmuDef, PmuScope};
use sim::rng::stream_id;
use sim::script::{Program, ScriptId, Step};

use crate::generators::{
    DriverProbe, EventMix, FtraceToggler, GroupOpener, HotplugDriver, Inheritor, Interval, Opener, PmuChurn,
    Tracepoints,
};
use crate::plan::GridPoint;
use crate::scenario::{Dist, Scenario, ScenarioError};
use crate::schemes::{self, CLASSES, ContextLayout, SchemeOptions, op};

/// Stream classes: a task's stream id is `(class, index)`, fixed by what the task is.
const STREAM_HOTPLUG: u16 = 2;
const STREAM_OPENER: u16 = 3;
const STREAM_FTRACE: u16 = 4;
const STREAM_CHURN: u16 = 5;
const STREAM_PROBE: u16 = 6;
const STREAM_INHERIT: u16 = 7;
const STREAM_GROUP: u16 = 8;
const STREAM_CPUHP_THREAD: u16 = 9;

/// Why a run stopped, as results name it.
pub fn stop_name(stop: StopReason, deadlocked: bool) -> &'static str {
    if stop == StopReason::Requested && deadlocked { "deadlock" } else { stop.as_str() }
}

/// A possible deadlock found by the lock-order analysis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderCycleReport {
    /// `a(W) -> b(R) -> a`.
    pub chain: String,
    pub report: String,
}

/// Everything one run measured.
pub struct RunResult {
    /// The run's label: its scheme's name, then the options set (see [`variant_of`]).
    pub scheme: String,
    /// The options part of the label (`kernel=4.15 names=skx-2s`), empty when none are set.
    pub variant: String,
    pub cpus: u32,
    pub pmus: u32,
    pub seed: u64,
    pub stop: StopReason,
    pub end_ns: u64,
    pub events_processed: u64,
    /// The most events pending at once (the event queue's high-water mark).
    pub events_pending_peak: u64,
    pub deadlocks: Vec<Deadlock>,
    pub stalls: Vec<Stall>,
    pub violations: Vec<Violation>,
    pub cpu_down_ns: Histogram<u64>,
    pub cpu_up_ns: Histogram<u64>,
    /// When the last `cpu_up` returned (0 if none did): with `cpu_up_ns.len()` CPUs - 1, a storm's end.
    pub cpu_up_last_ns: u64,
    pub open_ns: Histogram<u64>,
    pub opens_ok: u64,
    /// `perf_pmu_register` latency (PMU churn's registers), from call to return.
    pub register_ns: Histogram<u64>,
    pub enodev: u64,
    /// Events perf's hotplug exit detached from their contexts; their fds count nothing after.
    pub events_removed_by_hotplug: u64,
    /// Per lock class, in class order.
    pub locks: Vec<(String, LockStat)>,
    pub lock_order: LockOrder,
    pub order_cycles: Vec<OrderCycleReport>,
    /// PMU figures, when the run carried PMU load.
    pub pmu: Option<sim::kernel::PmuStats>,
}

impl RunResult {
    pub fn deadlocked(&self) -> bool {
        !self.deadlocks.is_empty()
    }

    pub fn stop_name(&self) -> &'static str {
        stop_name(self.stop, self.deadlocked())
    }

    /// Opens that returned success with their event in no context (invariant 7).
    pub fn silently_failed_opens(&self) -> usize {
        self.violations.iter().filter(|v| v.invariant == sim::kernel::Invariant::NoSilentlyFailedOpen).count()
    }

    /// No deadlock, no invariant violation, no stall.
    pub fn ok(&self) -> bool {
        self.deadlocks.is_empty() && self.violations.is_empty() && self.stalls.is_empty()
    }
}

/// The options part of a label (`pmus-lock kernel=4.15` → `kernel=4.15`): what follows the
/// scheme's name, which may itself hold spaces.
pub fn variant_of<'a>(label: &'a str, scheme: &str) -> &'a str {
    label.strip_prefix(scheme).unwrap_or(label).trim_start()
}

/// The scheme's scripts with the scenario's own replacements, compiled in [`op`] order.
pub fn scenario_scripts(scenario: &Scenario) -> Result<Vec<(String, Vec<Step>)>, ScenarioError> {
    let kind = scenario.scheme_kind()?;
    let sc = &scenario.scheme;
    let options = SchemeOptions {
        kind,
        free_outside_ctx_mutex: sc.free_outside_ctx_mutex,
        set_filter_outside_ctx_mutex: sc.set_filter_outside_ctx_mutex,
        sw_sibling_init_unlocked: sc.sw_sibling_init_unlocked,
        ds_buffers_hotplug_lock: sc.ds_buffers_hotplug_lock,
        pebs_or_bts: sc.pebs_or_bts,
        migrate_sync_rcu: sc.migrate_sync_rcu,
        context_layout: sc.context_layout,
        handoff: sc.handoff,
        pmu_dev_alloc: sc.pmu_dev_alloc,
        perf_prepare_state: sc.perf_prepare_state,
        hotplug_lock: sc.hotplug_lock,
        cpuhp_lockdep_map: sc.cpuhp_lockdep_map,
        jump_label_hotplug_first: sc.jump_label_hotplug_first,
    };
    let mut scripts: Vec<(String, Vec<Step>)> = schemes::build(&options, &scenario.costs.perf())
        .into_iter()
        .map(|(name, steps)| (name.to_string(), steps))
        .collect();
    for (name, text) in &scenario.scheme.scripts {
        let index = op::NAMES.iter().position(|n| n == name).expect("validated operation name");
        scripts[index].1 = crate::script_text::parse_checked(name, text, scenario.script_machine())?;
    }
    Ok(scripts)
}

fn interval(mean: crate::scenario::Duration, dist: Dist) -> Interval {
    Interval { mean_ns: mean.0, exponential: dist == Dist::Exp }
}

/// Software-context PMUs in v4.13's registration order (`perf_event_init()`, then x86's).
const SOFTWARE_NAMES: [&str; 9] =
    ["software", "tracepoint", "breakpoint", "cpu_clock", "task_clock", "msr", "intel_pt", "intel_bts", "intel_cqm"];

/// A two-socket Skylake-SP's package-scoped PMUs in v4.13: RAPL's `power`, then the uncore
/// boxes of `uncore_snbep.c` (docs/model.md §5.1).
fn skx_2s_uncore_names() -> Vec<String> {
    let mut names = vec!["power".to_string(), "uncore_ubox".to_string()];
    for (kind, boxes) in [("cha", 28), ("iio", 5), ("irp", 5)] {
        names.extend((0..boxes).map(|i| format!("uncore_{kind}_{i}")));
    }
    names.push("uncore_pcu".into());
    for (kind, boxes) in [("imc", 6), ("m2m", 2), ("upi", 3), ("m2pcie", 4), ("m3upi", 3)] {
        names.extend((0..boxes).map(|i| format!("uncore_{kind}_{i}")));
    }
    names
}

fn pmu_defs(scenario: &Scenario) -> Vec<PmuDef> {
    let p = &scenario.pmus;
    let skx = if p.names == crate::scenario::PmuNames::Skx2s { skx_2s_uncore_names() } else { Vec::new() };
    let software = (0..p.software).map(|i| PmuDef {
        name: SOFTWARE_NAMES.get(i as usize).map_or_else(|| format!("sw_{i}"), |n| n.to_string()),
        scope: PmuScope::Software,
        at_boot: true,
    });
    let core = (0..p.core).map(|i| PmuDef {
        name: if i == 0 { "cpu".into() } else { format!("cpu_{i}") },
        scope: PmuScope::Core,
        at_boot: true,
    });
    let uncore = (0..p.uncore).map(|i| PmuDef {
        name: skx.get(i as usize).cloned().unwrap_or_else(|| format!("uncore_{i}")),
        scope: PmuScope::Uncore,
        at_boot: true,
    });
    let churn =
        (0..p.churn_slots).map(|i| PmuDef { name: format!("churn_{i}"), scope: PmuScope::Core, at_boot: false });
    software.chain(core).chain(uncore).chain(churn).collect()
}

fn tasks(scenario: &Scenario) -> Vec<TaskSpec> {
    let cpus = scenario.machine.cpus;
    let mut tasks = Vec::new();
    let h = &scenario.hotplug;
    if h.enabled {
        // The control task of docs/model.md §4.1, with its cpuhp/N thread.
        let driver =
            HotplugDriver::new(h.mode, interval(h.interval, h.interval_dist), interval(h.holdoff, h.holdoff_dist));
        tasks.push(TaskSpec {
            name: "hotplug".into(),
            cpu: 0,
            stream: stream_id(STREAM_HOTPLUG, 0),
            start_ns: 0,
            agent: Box::new(driver),
            cpuhp_thread: Some(stream_id(STREAM_CPUHP_THREAD, 0)),
        });
    }
    let mut add = |name: String, class: u16, index: u32, agent: Box<dyn Agent>| {
        let cpu = index % cpus;
        let stream = stream_id(class, index as u64);
        tasks.push(TaskSpec { name, cpu, stream, start_ns: 0, agent, cpuhp_thread: None });
    };
    let tracepoints = Tracepoints::new(scenario.tracepoints.count, scenario.tracepoints.zipf);
    let o = &scenario.openers;
    let mix = EventMix {
        tracepoint: o.tracepoint_fraction,
        software: o.software_fraction,
        set_filter: o.set_filter_fraction,
        prctl: o.prctl_fraction,
        offline: o.offline_fraction,
    };
    for i in 0..o.tasks {
        let opener = Opener::new(
            i,
            interval(o.think, o.think_dist),
            interval(o.lifetime, o.lifetime_dist),
            mix,
            tracepoints.clone(),
        );
        add(format!("perf/{i}"), STREAM_OPENER, i, Box::new(opener));
    }
    let n = &scenario.inherit;
    for i in 0..n.tasks {
        let inheritor = Inheritor::new(
            interval(n.think, n.dist),
            interval(n.fork_interval, n.dist),
            interval(n.child_lifetime, n.dist),
            n.children,
            n.release_first_fraction,
            tracepoints.clone(),
        );
        add(format!("make/{i}"), STREAM_INHERIT, i, Box::new(inheritor));
    }
    let g = &scenario.groups;
    for i in 0..g.tasks {
        // Event ids of group openers start past the openers' task indices.
        let index = o.tasks + i;
        let group = GroupOpener::new(
            index,
            interval(g.think, g.dist),
            interval(g.lifetime, g.dist),
            g.siblings,
            g.branch_stack_fraction,
            tracepoints.clone(),
        );
        add(format!("perf-stat/{i}"), STREAM_GROUP, i, Box::new(group));
    }
    let f = &scenario.ftrace;
    for i in 0..f.tasks {
        let toggler = FtraceToggler::new(interval(f.interval, f.interval_dist), tracepoints.clone());
        add(format!("ftrace/{i}"), STREAM_FTRACE, i, Box::new(toggler));
    }
    let c = &scenario.pmu_churn;
    let first_slot = (scenario.pmus.software + scenario.pmus.core + scenario.pmus.uncore) as u16;
    for i in 0..c.tasks {
        let churn = PmuChurn::new(first_slot + i as u16, interval(c.interval, c.dist), interval(c.lifetime, c.dist));
        add(format!("modprobe/{i}"), STREAM_CHURN, i, Box::new(churn));
    }
    let d = &scenario.driver_probe;
    for i in 0..d.tasks {
        add(format!("probe/{i}"), STREAM_PROBE, i, Box::new(DriverProbe::new(interval(d.interval, d.interval_dist))));
    }
    tasks
}

/// A scenario made ready to run: its scheme's scripts (with the scenario's own) compiled, its
/// PMUs and PMU load built. A plan prepares each grid point once for all its seeds.
#[derive(Clone, Debug)]
pub struct Prepared {
    kind: crate::schemes::SchemeKind,
    programs: Vec<Program>,
    pmus: Vec<PmuDef>,
    pmu_load: Option<sim::kernel::PmuLoadConfig>,
}

impl Prepared {
    /// Compiles `scenario`'s scripts and builds its PMUs; `scenario` is already validated.
    pub fn new(scenario: &Scenario) -> Result<Prepared, ScenarioError> {
        let kind = scenario.scheme_kind()?;
        let programs = scenario_scripts(scenario)?
            .iter()
            .map(|(name, steps)| {
                Program::compile(name, steps)
                    .map_err(|e| ScenarioError::new(format!("scheme.scripts.{name}"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pmu_load = if scenario.pmu_load.enabled() { Some(scenario.pmu_load.config()?) } else { None };
        Ok(Prepared { kind, programs, pmus: pmu_defs(scenario), pmu_load })
    }
}

/// Runs `scenario` once; `run_index` is its index in a sweep (recorded with lock-order edges).
pub fn run(scenario: &Scenario, run_index: u64) -> Result<RunResult, ScenarioError> {
    run_with_trace(scenario, run_index, None).map(|(result, _)| result)
}

/// [`run`], recording the run's timeline, its last `trace` events, when `trace` is set.
pub fn run_with_trace(
    scenario: &Scenario,
    run_index: u64,
    trace: Option<usize>,
) -> Result<(RunResult, Option<Timeline>), ScenarioError> {
    scenario.validate()?;
    let prepared = Prepared::new(scenario)?;
    let id = RunId { seed: scenario.run.seed, index: run_index };
    run_prepared(scenario, &prepared, id, &scenario.scheme.name, trace, None)
}

/// Runs run `id` of a plan's grid point: its scenario with the run's seed, labelled as the point is.
pub fn run_point(
    point: &GridPoint,
    id: RunId,
    trace: Option<usize>,
) -> Result<(RunResult, Option<Timeline>), ScenarioError> {
    run_prepared(&point.scenario, &point.prepared, id, &point.label, trace, None)
}

/// [`run_point`], telling `progress` where the run stands as it goes, for a watcher on another
/// thread (a progress line on a long run). The run's results are the same.
pub fn run_point_watched(
    point: &GridPoint,
    id: RunId,
    trace: Option<usize>,
    progress: &RunProgress,
) -> Result<(RunResult, Option<Timeline>), ScenarioError> {
    run_prepared(&point.scenario, &point.prepared, id, &point.label, trace, Some(progress))
}

/// Where a watched run stands: whether its model is built, and the simulated time it reached
/// (updated every few thousand events).
#[derive(Debug, Default)]
pub struct RunProgress {
    pub built: std::sync::atomic::AtomicBool,
    pub now_ns: std::sync::atomic::AtomicU64,
}

impl RunProgress {
    /// Where the run stands, for a progress line: `8.3 s of 60 s simulated (13.9 %)`, or
    /// `building the model`.
    pub fn describe(&self, duration_ns: u64) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        if !self.built.load(Relaxed) {
            return "building the model".into();
        }
        let now = self.now_ns.load(Relaxed);
        format!(
            "{} of {} simulated ({:.1} %)",
            sim::time::format_ns(now),
            sim::time::format_ns(duration_ns),
            now as f64 * 100.0 / duration_ns.max(1) as f64
        )
    }
}

/// The kernel, reporting the clock to a [`RunProgress`] every 4,096 events.
struct Watched<'a> {
    kernel: &'a mut Kernel,
    progress: &'a RunProgress,
    events: u32,
}

/// Runs `kernel` to `limits`, telling `progress` (if any) that the model is built and, as the
/// run goes, the simulated time it has reached.
pub(crate) fn run_kernel(
    sched: &mut Scheduler,
    kernel: &mut Kernel,
    limits: &Limits,
    progress: Option<&RunProgress>,
) -> sim::RunOutcome {
    match progress {
        None => sched.run(kernel, limits),
        Some(progress) => {
            progress.built.store(true, std::sync::atomic::Ordering::Relaxed);
            sched.run(&mut Watched { kernel, progress, events: 0 }, limits)
        }
    }
}

impl sim::engine::Model for Watched<'_> {
    fn handle(&mut self, event: sim::event::Event, sched: &mut Scheduler) {
        sim::engine::Model::handle(&mut *self.kernel, event, sched);
        self.events = self.events.wrapping_add(1);
        if self.events.is_multiple_of(4096) {
            self.progress.now_ns.store(sched.now_ns(), std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Which run of a plan: its seed and its index (recorded with lock-order edges).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunId {
    pub seed: u64,
    pub index: u64,
}

/// A run's timeline: its trace events, oldest first, what the ring dropped to stay within
/// its limit, and the names of its tasks (indexed by `Track::Task`).
pub struct Timeline {
    pub events: Vec<sim::kernel::TraceEvent>,
    pub counts: sim::kernel::TraceCounts,
    pub tasks: Vec<String>,
}

impl Timeline {
    /// The spans among the events, finished or not.
    pub fn spans(&self) -> impl Iterator<Item = &sim::kernel::TraceSpan> {
        self.events.iter().filter_map(|e| match e {
            sim::kernel::TraceEvent::Span(s) => Some(s),
            _ => None,
        })
    }
}

/// Runs `scenario` (prepared as `prepared`) with `id`'s seed, recording its timeline (the
/// last `trace` events) when `trace` is set; results carry `label` as their scheme.
fn run_prepared(
    scenario: &Scenario,
    prepared: &Prepared,
    id: RunId,
    label: &str,
    trace: Option<usize>,
    progress: Option<&RunProgress>,
) -> Result<(RunResult, Option<Timeline>), ScenarioError> {
    let config = KernelConfig {
        seed: id.seed,
        run_index: id.index,
        cpus: scenario.machine.cpus,
        costs: scenario.costs.kernel(),
        on_deadlock: if scenario.run.stop_on_deadlock { OnDeadlock::Stop } else { OnDeadlock::Freeze },
        classes: schemes::class_table(scenario.scheme.validate_dev_mutex),
        programs: prepared.programs.clone(),
        perf: PerfConfig {
            packages: scenario.machine.packages,
            pmus: prepared.pmus.clone(),
            view: prepared.kind.view(),
        },
        ctx_per_cpu: scenario.scheme.context_layout == ContextLayout::PerCpu,
        pmu_load: prepared.pmu_load.clone(),
        counters: crate::schemes::counter_table(),
        tracepoints: scenario.tracepoints.count,
        mutex_fifo_handoff: scenario.scheme.mutex_fifo_handoff,
        timed: Some(TIMED.to_vec()),
    };
    let mut sched = Scheduler::new();
    let mut kernel = Kernel::new(config, tasks(scenario), &mut sched)
        .map_err(|e| ScenarioError::new("scheme.scripts", e.to_string()))?;
    if let Some(limit) = trace {
        let hotplug = KernelConfig::cpu_track(kernel.programs(), &["cpu_down", "cpu_up"]);
        kernel.enable_trace(hotplug, limit);
    }
    let limits = Limits { until_ns: scenario.run.duration.0, max_events: scenario.run.max_events };
    let outcome = run_kernel(&mut sched, &mut kernel, &limits, progress);
    kernel.finish(&outcome);
    let timeline = trace.map(|_| Timeline {
        events: kernel.trace().0.cloned().collect(),
        counts: kernel.trace().1,
        tasks: kernel.task_names().into_iter().map(String::from).collect(),
    });
    let result = collect(scenario, &mut kernel, outcome, prepared.pmus.len() as u32, id.seed);
    let variant = variant_of(label, &scenario.scheme.name).to_string();
    Ok((RunResult { scheme: label.to_string(), variant, seed: id.seed, ..result }, timeline))
}

/// The operations whose latencies a run reports (`collect`); the kernel times no others.
const TIMED: [ScriptId; 5] = [op::CPU_DOWN, op::CPU_UP, op::OPEN, op::OPEN_TP, op::PMU_REGISTER];

fn collect(scenario: &Scenario, kernel: &mut Kernel, outcome: sim::RunOutcome, pmus: u32, seed: u64) -> RunResult {
    let order_cycles = order_cycles(kernel, seed);
    let class_names: Vec<String> = kernel.classes().iter().map(|class| class.name.clone()).collect();
    let (lock_stats, lock_order, mut ops) = kernel.take_stats();
    let mut open_ns = new_histogram();
    open_ns.add(&ops[op::OPEN as usize].latency_ns).expect("auto-resizing histogram");
    open_ns.add(&ops[op::OPEN_TP as usize].latency_ns).expect("auto-resizing histogram");
    let [cpu_down_ns, cpu_up_ns, register_ns] = [op::CPU_DOWN, op::CPU_UP, op::PMU_REGISTER]
        .map(|o| std::mem::replace(&mut ops[o as usize].latency_ns, new_histogram()));
    RunResult {
        scheme: scenario.scheme.name.clone(),
        variant: String::new(),
        cpus: scenario.machine.cpus,
        pmus,
        seed: scenario.run.seed,
        stop: outcome.stop,
        end_ns: outcome.end_ns,
        events_processed: outcome.events_processed,
        events_pending_peak: outcome.pending_peak,
        deadlocks: kernel.deadlocks().to_vec(),
        stalls: if outcome.stop == StopReason::QueueEmpty { kernel.stalls() } else { Vec::new() },
        violations: kernel.violations().to_vec(),
        cpu_down_ns,
        cpu_up_ns,
        cpu_up_last_ns: ops[op::CPU_UP as usize].last_ended_ns,
        open_ns,
        register_ns,
        opens_ok: ops[op::OPEN as usize].completed + ops[op::OPEN_TP as usize].completed,
        enodev: ops[op::OPEN as usize].failed + ops[op::OPEN_TP as usize].failed,
        events_removed_by_hotplug: kernel.events_removed_by_hotplug(),
        locks: class_names.into_iter().zip(lock_stats).collect(),
        lock_order,
        order_cycles,
        pmu: kernel.pmu_stats(),
    }
}

/// The lock-order cycles of a finished run (of `seed`), each with its chain and lockdep-style
/// report.
fn order_cycles(kernel: &Kernel, seed: u64) -> Vec<OrderCycleReport> {
    let programs = kernel.programs();
    let position = |p: sim::script::Position| format!("{}+{}", programs[p.script as usize].name, p.step);
    let kind_of = |c: sim::script::ClassId| CLASSES[c as usize].1;
    let name_of = |c: sim::script::ClassId| CLASSES[c as usize].0.to_string();
    let names = ReportNames { class: &name_of, position: &position, seed: &|_| Some(seed) };
    kernel
        .lock_order()
        .cycles(kind_of)
        .iter()
        .map(|c| OrderCycleReport { chain: c.chain(name_of), report: c.report(&names) })
        .collect()
}
