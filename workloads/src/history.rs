//! The history suite: reports the kernel really had (2017–2025), each with the scenario that
//! should expose it, the detector that should see it and the releases where it must and must
//! not appear (docs/history.md). Each cell of the catalogue is run over seeds `1..=n`.

use rayon::prelude::*;
use sim::kernel::{CycleMember, Deadlock};
use sim::lockdep::{LockOrder, LockdepAcquire, OrderCycle, OrderNode, ReportNames};
use sim::script::{ClassId, Position};

use crate::command::Source;
use crate::plan::{Plan, PlanError, RunRequest};
use crate::run::{RunId, RunResult, run_point};
use crate::schemes::{CLASSES, class_id, op};

/// The kernel bundles the matrix has a column for, oldest first.
pub const KERNELS: [&str; 7] = ["4.12", "4.13", "4.15", "6.2", "6.3", "6.12", "6.16"];

/// Which part of cpuhpsim is expected to see a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    /// The class-level lock-order graph, as lockdep builds it (docs/model.md §6.3).
    OrderGraph,
    /// The exact wait-for detector over lock instances (docs/model.md §6.2).
    WaitFor,
    /// The invariant checker (docs/model.md §6.1).
    Invariant,
}

impl Detector {
    pub fn name(self) -> &'static str {
        match self {
            Detector::OrderGraph => "lock-order graph",
            Detector::WaitFor => "wait-for detector",
            Detector::Invariant => "invariant checker",
        }
    }
}

/// What counts as the case being found in one run.
#[derive(Clone, Copy, Debug)]
pub enum Finding {
    /// lockdep's graph closes this cycle of classes (`name`, or `name/1` for subclass 1), in
    /// this order, with every edge stored (or lockdep reports exactly this cycle).
    Cycle(&'static [&'static str]),
    /// "possible recursive locking detected" on one of these classes, first taken twice in an
    /// operation whose name starts with the prefix.
    Recursive(&'static [&'static str], &'static str),
    /// A wait-for deadlock in which a task waits, for a read of the hotplug lock, behind the
    /// pending writer while it holds a read of that lock itself.
    RecursiveReadDeadlock,
    /// A wait-for deadlock in which the hotplug side waits for a `cpuctx_mutex` that a group
    /// sibling's open holds as its leader's context (taken at a step of an operation whose name
    /// starts with this prefix).
    SiblingDeadlock(&'static str),
    /// An open returned success with its event in no context (invariant 7).
    SilentlyFailedOpen,
}

impl Finding {
    pub fn detector(self) -> Detector {
        match self {
            Finding::Cycle(_) | Finding::Recursive(..) => Detector::OrderGraph,
            Finding::RecursiveReadDeadlock | Finding::SiblingDeadlock(_) => Detector::WaitFor,
            Finding::SilentlyFailedOpen => Detector::Invariant,
        }
    }
}

/// What history says of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Found,
    Absent,
    /// No record either way: the cell is run and shown, never judged.
    Unrecorded,
}

/// Which scheme a case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemeChoice {
    /// What the release shipped: `v4.12` on 4.12, `pmus-lock` (a63fbed776c7) from 4.13.
    Shipped,
    Named(&'static str),
}

impl SchemeChoice {
    pub fn on(self, kernel: &str) -> &'static str {
        match self {
            SchemeChoice::Shipped if kernel == "4.12" => "v4.12",
            SchemeChoice::Shipped => "pmus-lock",
            SchemeChoice::Named(name) => name,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SchemeChoice::Shipped => "shipped",
            SchemeChoice::Named(name) => name,
        }
    }
}

/// One historic report and where it must (not) appear.
#[derive(Clone, Copy, Debug)]
pub struct Case {
    /// Short and unique, for `--case` and the matrix.
    pub id: &'static str,
    /// The commit that fixed (or, for a63fbed776c7, was) it.
    pub commit: &'static str,
    pub title: &'static str,
    pub summary: &'static str,
    pub preset: &'static str,
    /// `KEY=VALUE` settings on top of the preset, before the scheme and kernel.
    pub sets: &'static [&'static str],
    pub scheme: SchemeChoice,
    pub finding: Finding,
    /// `(kernel, expectation)`, in [`KERNELS`] order.
    pub cells: &'static [(&'static str, Expect)],
    /// Seeds the test suite's fast subset runs (every case's cells decide within them).
    pub quick_seeds: u64,
}

const AFTER_4_13: [(&str, Expect); 5] = [
    ("4.15", Expect::Absent),
    ("6.2", Expect::Absent),
    ("6.3", Expect::Absent),
    ("6.12", Expect::Absent),
    ("6.16", Expect::Absent),
];

/// Cells for a cycle v4.13 introduced and v4.15 fixed: absent on 4.12, found on 4.13, gone after.
const FIXED_IN_4_15: [(&str, Expect); 7] = [
    ("4.12", Expect::Absent),
    ("4.13", Expect::Found),
    AFTER_4_13[0],
    AFTER_4_13[1],
    AFTER_4_13[2],
    AFTER_4_13[3],
    AFTER_4_13[4],
];

/// The seed thread's load: per-CPU tracepoint opens only (no software events, no groups),
/// so the first static key an open enables under its read is a tracepoint's.
const SEED_LOAD: [&str; 3] = ["openers.tracepoint_fraction=1", "openers.software_fraction=0", "groups.tasks=0"];

/// The catalogue, in the order the matrix lists it.
pub const CATALOGUE: &[Case] = &[
    Case {
        id: "seed-recursive-read",
        commit: "a63fbed776c7",
        title: "recursive cpus_read_lock() under perf_event_open()'s own read (the seed thread)",
        summary: "The tip tree of May 2017 held cpus_read_lock() across perf_event_open(); the \
            first user of a tracepoint (the thread's report) or of a software event type then \
            enabled a static key, which took cpus_read_lock() again. lockdep prints the first \
            pair it sees, so the case runs the thread's load: tracepoint opens only. On v4.13's percpu-rwsem a pending writer blocks that second read, so lockdep \
            reports recursive locking and the open deadlocks against cpu_down(). v4.12's \
            refcounted get_online_cpus() was a recursive read and could not. a63fbed776c7 (the \
            pmus-lock fix) took the hotplug lock out of the open.",
        preset: "default",
        sets: &SEED_LOAD,
        scheme: SchemeChoice::Named("legacy"),
        finding: Finding::Recursive(&["cpu_hotplug_lock", "cpu_hotplug.dep_map"], "perf_event_open_tp"),
        cells: &[("4.12", Expect::Absent), ("4.13", Expect::Found)],
        quick_seeds: 4,
    },
    Case {
        id: "seed-recursive-read-deadlock",
        commit: "a63fbed776c7",
        title: "the same recursive read as a real deadlock",
        summary: "The wait-for side of the seed thread's report: an open holding a read of the \
            hotplug lock waits for a second read behind cpu_down()'s pending writer, which waits \
            for the first read to drain.",
        preset: "default",
        sets: &["run.stop_on_deadlock=true"],
        scheme: SchemeChoice::Named("legacy"),
        finding: Finding::RecursiveReadDeadlock,
        cells: &[("4.12", Expect::Absent), ("4.13", Expect::Found)],
        quick_seeds: 8,
    },
    Case {
        id: "seed-fix",
        commit: "a63fbed776c7",
        title: "pmus-lock takes the hotplug lock once",
        summary: "With a63fbed776c7 the open takes no hotplug lock and the hotplug callbacks \
            walk the PMUs under pmus_lock: the recursive read is gone on the release that \
            shipped it.",
        preset: "default",
        sets: &SEED_LOAD,
        scheme: SchemeChoice::Named("pmus-lock"),
        finding: Finding::Recursive(&["cpu_hotplug_lock", "cpu_hotplug.dep_map"], ""),
        cells: &[("4.13", Expect::Absent)],
        quick_seeds: 4,
    },
    Case {
        id: "inherit-release",
        commit: "82d94856fa22",
        title: "perf, trace and cpuhp: inherited children freed under ctx->mutex and child_mutex",
        summary: "Tracepoint registration nests tracepoints_mutex and the hotplug lock (the \
            static key) under event_mutex; hotplug nests pmus_lock and the CPU contexts' \
            mutex under the hotplug lock; the prctl disable path nests child_mutex under a \
            context's mutex; and perf_event_release_kernel() freed inherited children under \
            child_mutex, where a tracepoint child's destroy takes event_mutex. 82d94856fa22 \
            frees the children after dropping both locks.",
        preset: "default",
        sets: &[],
        scheme: SchemeChoice::Shipped,
        finding: Finding::Cycle(&[
            "event_mutex",
            "tracepoints_mutex",
            "cpu_hotplug_lock",
            "pmus_lock",
            "cpuctx_mutex",
            "event->child_mutex",
        ]),
        cells: &FIXED_IN_4_15,
        quick_seeds: 8,
    },
    Case {
        id: "set-filter",
        commit: "43fa87f7deed",
        title: "perf_ioctl(SET_FILTER) takes event_mutex under the CPU context's mutex",
        summary: "ftrace_profile_set_filter() takes event_mutex, and perf_ioctl() called it \
            holding the event's ctx->mutex; against tracepoint registration (event_mutex, \
            tracepoints_mutex, the hotplug lock) and the hotplug writer (pmus_lock, then each \
            CPU context) that closes a cycle. 43fa87f7deed drops ctx->mutex around the filter \
            (perf_tracepoint_set_filter()); v5.0 and later kernels keep that drop inline in \
            perf_event_set_filter().",
        preset: "default",
        sets: &[],
        scheme: SchemeChoice::Shipped,
        finding: Finding::Cycle(&["cpu_hotplug_lock", "pmus_lock", "cpuctx_mutex", "event_mutex", "tracepoints_mutex"]),
        cells: &FIXED_IN_4_15,
        quick_seeds: 4,
    },
    Case {
        id: "sibling-order",
        commit: "43fa87f7deed",
        title: "a software-context group sibling's event_init under the leader's ctx->mutex/1",
        summary: "perf_try_init_event() locked the group leader's context (nested) around every \
            sibling's event_init; a tracepoint sibling's init takes event_mutex and, through \
            registration, the hotplug lock. The uncore handoff nests a second context under a \
            first, so the class graph closes through cpuctx_mutex/1. 43fa87f7deed skips the \
            leader's lock for software-context PMUs (tracepoints among them).",
        preset: "default",
        sets: &[],
        scheme: SchemeChoice::Shipped,
        finding: Finding::Cycle(&[
            "cpuctx_mutex/1",
            "event_mutex",
            "tracepoints_mutex",
            "cpu_hotplug_lock",
            "pmus_lock",
            "cpuctx_mutex",
        ]),
        cells: &FIXED_IN_4_15,
        quick_seeds: 16,
    },
    Case {
        id: "sibling-deadlock",
        commit: "43fa87f7deed",
        title: "the same sibling as a real deadlock lockdep cannot see",
        summary: "The tracepoint sibling holds its leader's context (subclass 1) while its \
            first-use registration waits for the hotplug lock behind the writer; the writer's \
            hotplug callbacks wait for that same context (subclass 0). One lock instance under \
            two lockdep classes: only the wait-for detector sees this deadlock.",
        preset: "default",
        sets: &["run.stop_on_deadlock=true"],
        scheme: SchemeChoice::Shipped,
        finding: Finding::SiblingDeadlock("perf_event_open_sibling_tp"),
        cells: &[("4.13", Expect::Found), ("4.15", Expect::Absent), ("6.16", Expect::Absent)],
        quick_seeds: 16,
    },
    Case {
        id: "ds-buffers",
        commit: "efe951d3de91",
        title: "perf, x86 and cpuhp: the DS buffers' get_online_cpus() under pmc_reserve_mutex",
        summary: "x86_reserve_hardware() reserved the BTS/PEBS buffers under pmc_reserve_mutex \
            with get_online_cpus(); a branch-stack sibling's x86_add_exclusive() takes \
            pmc_reserve_mutex under its leader's ctx->mutex/1; hotplug nests pmus_lock and the \
            contexts under the hotplug lock, and the uncore handoff nests one context under \
            another. efe951d3de91 drops get_online_cpus() from the DS buffers.",
        preset: "default",
        sets: &["groups.branch_stack_fraction=0.5"],
        scheme: SchemeChoice::Shipped,
        finding: Finding::Cycle(&[
            "pmc_reserve_mutex",
            "cpu_hotplug_lock",
            "pmus_lock",
            "cpuctx_mutex",
            "cpuctx_mutex/1",
        ]),
        cells: &[
            ("4.12", Expect::Unrecorded),
            ("4.13", Expect::Found),
            AFTER_4_13[0],
            AFTER_4_13[1],
            AFTER_4_13[2],
            AFTER_4_13[3],
            AFTER_4_13[4],
        ],
        quick_seeds: 16,
    },
    Case {
        id: "dev-mutex-2023",
        commit: "(2023 report)",
        title: "cpu_add_remove_lock, cpu_hotplug_lock, pmus_lock and a PMU's dev->mutex",
        summary: "A PMU that registers a device does so under pmus_lock (pmu_dev_alloc()), which \
            hotplug takes under the hotplug lock, while a driver probe holds its device's mutex \
            and takes cpu_add_remove_lock. dev->mutex is lockdep-novalidate, so lockdep saw the \
            cycle only with the 2023 report's debugging patch that validated it \
            (scheme.validate_dev_mutex). The chain needs perf's init at CPUHP_PERF_PREPARE, \
            run by the control task under the hotplug lock: absent on 4.12, whose hotplug \
            callbacks take no pmus_lock, and unrecorded on 6.16, which has no such state.",
        preset: "dev-alloc",
        sets: &["scheme.validate_dev_mutex=true", "run.duration=2s"],
        scheme: SchemeChoice::Shipped,
        finding: Finding::Cycle(&["cpu_add_remove_lock", "cpu_hotplug_lock", "pmus_lock", "dev->mutex"]),
        cells: &[
            ("4.12", Expect::Absent),
            ("4.13", Expect::Found),
            ("4.15", Expect::Found),
            ("6.2", Expect::Found),
            ("6.3", Expect::Found),
            ("6.12", Expect::Found),
            ("6.16", Expect::Unrecorded),
        ],
        quick_seeds: 2,
    },
    Case {
        id: "dev-mutex-via-cpuhp-state",
        commit: "(2023 report)",
        title: "the same dependency through the cpuhp_state map, where perf's init runs on cpuhp/N",
        summary: "At CPUHP_AP_PERF_ONLINE perf's init runs on the CPU's cpuhp/N thread, which \
            holds the cpuhp_state lockdep map (49dfe2a67797) that the control task takes under \
            the hotplug lock: the cycle gains a class. This is the form it keeps on 6.16 once \
            f400565faa50 removes CPUHP_PERF_PREPARE; no report of it is known.",
        preset: "dev-alloc",
        sets: &["scheme.validate_dev_mutex=true", "run.duration=2s"],
        scheme: SchemeChoice::Shipped,
        finding: Finding::Cycle(&["cpu_add_remove_lock", "cpu_hotplug_lock", "cpuhp_state", "pmus_lock", "dev->mutex"]),
        cells: &[("6.12", Expect::Unrecorded), ("6.16", Expect::Unrecorded)],
        quick_seeds: 2,
    },
    Case {
        id: "dev-mutex-novalidate",
        commit: "(2023 report)",
        title: "the same cycle as shipped kernels' lockdep sees it: not at all",
        summary: "Without the debugging patch dev->mutex adds no edges, so no release reports \
            the cycle.",
        preset: "dev-alloc",
        sets: &["run.duration=2s"],
        scheme: SchemeChoice::Shipped,
        finding: Finding::Cycle(&["cpu_add_remove_lock", "cpu_hotplug_lock", "pmus_lock", "dev->mutex"]),
        cells: &[("4.13", Expect::Absent), ("6.16", Expect::Absent)],
        quick_seeds: 2,
    },
    Case {
        id: "early-online",
        commit: "f400565faa50",
        title: "an open on a CPU perf marked online at CPUHP_PERF_PREPARE fails silently",
        summary: "perf's init ran at CPUHP_PERF_PREPARE as well as at CPUHP_AP_PERF_ONLINE, so \
            pmus-lock marked a CPU's contexts online before the CPU could take the install \
            IPI; an open in that window returns success with an event that never counts \
            (invariant 7). Named by 9d4ea6fdba71 (tip, 2025), merged as f400565faa50 in v6.16, \
            which removes the PREPARE state.",
        preset: "early-online",
        sets: &[],
        scheme: SchemeChoice::Named("pmus-lock"),
        finding: Finding::SilentlyFailedOpen,
        cells: &[
            ("4.13", Expect::Found),
            ("4.15", Expect::Found),
            ("6.2", Expect::Found),
            ("6.3", Expect::Found),
            ("6.12", Expect::Found),
            ("6.16", Expect::Absent),
        ],
        quick_seeds: 4,
    },
];

/// Why a history run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{given:?} is no case of the catalogue; the cases are {}", CATALOGUE.iter().map(|c| c.id).collect::<Vec<_>>().join(", "))]
    UnknownCase { given: String },
    #[error("case {case} on {kernel}: {source}")]
    Plan { case: &'static str, kernel: &'static str, source: PlanError },
    #[error("case {case} on {kernel}, seed {seed}: {message}")]
    Run { case: &'static str, kernel: &'static str, seed: u64, message: String },
    #[error("cannot start {jobs} worker threads: {message}")]
    Threads { jobs: usize, message: String },
}

/// The first sighting of a case in a cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sighting {
    pub seed: u64,
    pub replay: String,
    /// The report: lockdep's splat, the deadlock report or the violation.
    pub splat: String,
    /// For wait-for findings: what the lock-order analysis of the same run says.
    pub order_note: Option<String>,
}

/// One cell's outcome over its seeds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CellOutcome {
    pub kernel: &'static str,
    pub scheme: &'static str,
    pub expect: Expect,
    pub seeds: u64,
    /// Seeds in which the case was found.
    pub found_in: Vec<u64>,
    pub first: Option<Sighting>,
}

impl CellOutcome {
    pub fn found(&self) -> bool {
        !self.found_in.is_empty()
    }

    /// Whether the cell agrees with history (an unrecorded cell always does).
    pub fn agrees(&self) -> bool {
        match self.expect {
            Expect::Found => self.found(),
            Expect::Absent => !self.found(),
            Expect::Unrecorded => true,
        }
    }
}

/// A case's outcome, cell by cell.
#[derive(Clone, Debug)]
pub struct CaseOutcome {
    pub case: &'static Case,
    pub cells: Vec<CellOutcome>,
}

/// The cases `ids` names (all for none), in catalogue order.
pub fn select(ids: &[String]) -> Result<Vec<&'static Case>, HistoryError> {
    if let Some(bad) = ids.iter().find(|id| !CATALOGUE.iter().any(|c| c.id == id.as_str())) {
        return Err(HistoryError::UnknownCase { given: bad.clone() });
    }
    Ok(CATALOGUE.iter().filter(|c| ids.is_empty() || ids.iter().any(|id| id == c.id)).collect())
}

/// The plan of a case's run on `kernel` with `seed`: what `cpuhpsim run` would run.
pub fn plan(case: &Case, kernel: &'static str, seed: u64) -> Result<Plan, HistoryError> {
    let mut request = RunRequest::of(Source::Preset(case.preset.to_string()));
    request.sets = case.sets.iter().map(|s| s.to_string()).collect();
    request.sets.push(format!("scheme.kernel={kernel}"));
    request.scheme = Some(case.scheme.on(kernel).to_string());
    request.seed = Some(seed.to_string());
    Plan::for_run(&request).map_err(|source| HistoryError::Plan { case: case.id, kernel, source })
}

/// Runs every cell of `cases` over seeds `1..=seeds` on `jobs` threads. Results are the same
/// for any number of threads: each run is independent and they are collected in order.
pub fn run_history(
    cases: &[&'static Case],
    seeds: u64,
    jobs: usize,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<CaseOutcome>, HistoryError> {
    let mut work = Vec::new();
    for (c, case) in cases.iter().enumerate() {
        for (k, &(kernel, _)) in case.cells.iter().enumerate() {
            for seed in 1..=seeds {
                work.push((c, k, kernel, seed));
            }
        }
    }
    let total = work.len() as u64;
    let done = std::sync::atomic::AtomicU64::new(0);
    let jobs = jobs.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| HistoryError::Threads { jobs, message: e.to_string() })?;
    let results: Vec<Result<Option<Sighting>, HistoryError>> = pool.install(|| {
        work.par_iter()
            .map(|&(c, _, kernel, seed)| {
                let found = run_one(cases[c], kernel, seed);
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
                found
            })
            .collect()
    });
    let mut outcomes: Vec<CaseOutcome> = cases
        .iter()
        .map(|case| CaseOutcome {
            case,
            cells: case
                .cells
                .iter()
                .map(|&(kernel, expect)| CellOutcome {
                    kernel,
                    scheme: case.scheme.on(kernel),
                    expect,
                    seeds,
                    found_in: Vec::new(),
                    first: None,
                })
                .collect(),
        })
        .collect();
    for (&(c, k, _, seed), result) in work.iter().zip(results) {
        if let Some(sighting) = result? {
            let cell = &mut outcomes[c].cells[k];
            cell.found_in.push(seed);
            cell.first.get_or_insert(sighting);
        }
    }
    Ok(outcomes)
}

/// One run of a case's cell: the sighting, if the run shows the case.
pub fn run_one(case: &'static Case, kernel: &'static str, seed: u64) -> Result<Option<Sighting>, HistoryError> {
    let plan = plan(case, kernel, seed)?;
    let id = RunId { seed, index: 0 };
    let (result, _) = run_point(plan.point_of(0), id, None).map_err(|e| HistoryError::Run {
        case: case.id,
        kernel,
        seed,
        message: e.to_string(),
    })?;
    let replay = plan.replay(0).to_string();
    Ok(sighting(case.finding, &result).map(|(splat, order_note)| Sighting { seed, replay, splat, order_note }))
}

/// A class named `name` or `name/1`, as `(class, subclass)`.
fn parse_node(name: &str) -> (ClassId, u8) {
    let (base, subclass) = match name.strip_suffix("/1") {
        Some(base) => (base, 1),
        None => (name, 0),
    };
    (class_id(base).unwrap_or_else(|| panic!("catalogue names an unknown class {base}")), subclass)
}

fn kind_of(class: ClassId) -> sim::locks::LockKind {
    CLASSES[class as usize].1
}

fn class_name(class: ClassId) -> String {
    CLASSES[class as usize].0.to_string()
}

/// A cycle's classes as `(class, subclass)`, from its held lock.
fn cycle_nodes(cycle: &OrderCycle) -> Vec<(ClassId, u8)> {
    cycle.edges.iter().map(|(a, _, _)| (a.class, a.subclass)).collect()
}

/// Whether `b` is `a` rotated.
fn same_cycle(a: &[(ClassId, u8)], b: &[(ClassId, u8)]) -> bool {
    a.len() == b.len() && (0..a.len()).any(|r| (0..a.len()).all(|i| a[(i + r) % a.len()] == b[i]))
}

/// The historic cycle `names` in `order`, if every edge of it is stored there: each edge its
/// first sighting, the last-seen edge first (the dependency that closed it, as lockdep reports).
pub fn historic_cycle(order: &LockOrder, names: &[&str]) -> Option<OrderCycle> {
    let nodes: Vec<(ClassId, u8)> = names.iter().map(|n| parse_node(n)).collect();
    let mut edges: Vec<(OrderNode, OrderNode, sim::lockdep::EdgeSeen)> = Vec::new();
    for i in 0..nodes.len() {
        let (from, to) = (nodes[i], nodes[(i + 1) % nodes.len()]);
        let edge = order
            .edges()
            .filter(|(a, b, _)| (a.class, a.subclass) == from && (b.class, b.subclass) == to)
            // lockdep stores no dependency into a recursive read (check_prev_add()).
            .filter(|(_, b, _)| LockdepAcquire::of(kind_of(b.class), b.mode) != LockdepAcquire::RecursiveRead)
            .min_by_key(|(_, _, seen)| (seen.run, seen.time_ns))?;
        edges.push((*edge.0, *edge.1, edge.2.clone()));
    }
    let closing = (0..edges.len()).max_by_key(|&i| (edges[i].2.run, edges[i].2.time_ns)).unwrap_or(0);
    edges.rotate_left(closing);
    Some(OrderCycle { edges })
}

/// The lockdep-style report of `cycle`, positions named by the built-in operations.
fn splat(cycle: &OrderCycle, seed: u64) -> String {
    let position = |p: Position| format!("{}+{}", op::NAMES.get(p.script as usize).copied().unwrap_or("?"), p.step);
    let names = ReportNames { class: &class_name, position: &position, seed: &|_| Some(seed) };
    cycle.report(&names)
}

/// Whether a deadlock is a recursive read of the hotplug lock: a member waiting for it whose
/// next member, the pending writer, waits for it too.
fn recursive_read(d: &Deadlock) -> bool {
    let hotplug = |m: &CycleMember| m.waits_for_class.starts_with("cpu_hotplug");
    let n = d.members.len();
    (0..n).any(|i| hotplug(&d.members[i]) && hotplug(&d.members[(i + 1) % n]))
}

/// Whether the hotplug side of a deadlock waits for a context held by a sibling's open.
fn sibling_deadlock(d: &Deadlock, op_prefix: &str) -> bool {
    let hotplug_side = |m: &CycleMember| ["cpu_down", "cpu_up", "cpuhp_ap_"].iter().any(|p| m.op.starts_with(p));
    d.members.iter().any(|m| {
        hotplug_side(m)
            && m.waits_for_class == "cpuctx_mutex"
            && m.held_by_next.as_ref().is_some_and(|(_, at)| at.starts_with(op_prefix))
    })
}

/// The lock-order analysis of a run, summed up for a wait-for finding: which reported cycles
/// pass through a nested context.
fn order_note(r: &RunResult) -> String {
    let cycles = r.lock_order.cycles(kind_of);
    let nested: Vec<String> =
        cycles.iter().filter(|c| c.edges.iter().any(|(a, _, _)| a.subclass > 0)).map(|c| c.chain(class_name)).collect();
    if nested.is_empty() {
        format!(
            "the lock-order analysis of this run reports {} cycle(s), none through cpuctx_mutex/1: \
             at class level lockdep cannot see this deadlock",
            cycles.len()
        )
    } else {
        format!("the lock-order analysis of this run also reports, through the nested class: {}", nested.join("; "))
    }
}

/// Whether `r` shows `finding`: its report, and for wait-for findings the order graph's view.
pub fn sighting(finding: Finding, r: &RunResult) -> Option<(String, Option<String>)> {
    match finding {
        Finding::Cycle(names) => {
            let want: Vec<(ClassId, u8)> = names.iter().map(|n| parse_node(n)).collect();
            let cycles = r.lock_order.cycles(kind_of);
            if let Some(reported) = cycles.iter().find(|c| same_cycle(&cycle_nodes(c), &want)) {
                return Some((splat(reported, r.seed), None));
            }
            historic_cycle(&r.lock_order, names).map(|c| (splat(&c, r.seed), None))
        }
        Finding::Recursive(names, at) => {
            let classes: Vec<ClassId> = names.iter().map(|n| parse_node(n).0).collect();
            let in_op = |p: Position| op::NAMES.get(p.script as usize).is_some_and(|name| name.starts_with(at));
            let cycles = r.lock_order.cycles(kind_of);
            cycles
                .iter()
                .find(|c| c.is_recursive() && classes.contains(&c.edges[0].0.class) && in_op(c.edges[0].2.acquired_at))
                .map(|c| (splat(c, r.seed), None))
        }
        Finding::RecursiveReadDeadlock => {
            r.deadlocks.iter().find(|d| recursive_read(d)).map(|d| (d.report(), Some(order_note(r))))
        }
        Finding::SiblingDeadlock(prefix) => {
            r.deadlocks.iter().find(|d| sibling_deadlock(d, prefix)).map(|d| (d.report(), Some(order_note(r))))
        }
        Finding::SilentlyFailedOpen => {
            let v = r.violations.iter().find(|v| v.invariant == sim::kernel::Invariant::NoSilentlyFailedOpen)?;
            let text = format!(
                "invariant 7 (no silently failed open) broken at {}.{:09} s on cpu {} by {} at {}: {}\n\
                 ({} silently failed opens in this run)",
                v.time_ns / 1_000_000_000,
                v.time_ns % 1_000_000_000,
                v.cpu,
                v.task,
                v.position,
                v.what,
                r.silently_failed_opens()
            );
            Some((text, None))
        }
    }
}
