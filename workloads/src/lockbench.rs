//! Lock bench, locktorture's idea: N tasks hammer one lock of a chosen kind, with exponential
//! or fixed think and hold times, to calibrate and validate each lock model in isolation.

use crate::run::{RunProgress, run_kernel};
use rand::Rng;
use sim::engine::{Limits, RunOutcome, Scheduler};
use sim::kernel::{
    Agent, AgentCx, Args, Costs, Deadlock, Kernel, KernelConfig, LockClassDef, Next, OnDeadlock, Stall, TaskSpec,
};
use sim::lockdep::{OrderCycle, ReportNames};
use sim::locks::{LockKind, Mode};
use sim::lockstat::LockStat;
use sim::perf::PerfConfig;
use sim::rng::{exp_ns, stream_id};
use sim::script::{Cost, Layout, LockRef, Program, Step, SyncKind};

/// Most tasks a lock bench may run.
pub const MAX_BENCH_TASKS: u32 = 65_536;
/// Longest simulated duration of a lock bench: one hour.
pub const MAX_BENCH_DURATION_NS: u64 = 3_600_000_000_000;
/// Stream class of lock-bench tasks.
const STREAM_LOCKBENCH: u16 = 1;

/// How a think or hold time is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dist {
    Fixed,
    Exp,
}

impl Dist {
    pub fn as_str(self) -> &'static str {
        match self {
            Dist::Fixed => "fixed",
            Dist::Exp => "exp",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LockBenchConfig {
    pub kind: LockKind,
    pub tasks: u32,
    pub think_ns: u64,
    pub think: Dist,
    pub hold_ns: u64,
    pub hold: Dist,
    /// Fraction of acquisitions that are writes (percpu_rwsem) or `synchronize_srcu` (srcu).
    pub write_fraction: f64,
    /// Readers take the read lock again halfway through their hold: the recursive read that
    /// deadlocks against a pending percpu_rwsem writer.
    pub nested_read: bool,
    pub duration_ns: u64,
    pub seed: u64,
    pub costs: Costs,
    pub stop_on_deadlock: bool,
}

impl LockBenchConfig {
    /// The plain bench: 4 tasks on a mutex, 10 µs think and 5 µs hold, both exponential, 1 s.
    pub fn mutex() -> Self {
        LockBenchConfig {
            kind: LockKind::Mutex,
            tasks: 4,
            think_ns: 10_000,
            think: Dist::Exp,
            hold_ns: 5_000,
            hold: Dist::Exp,
            write_fraction: 1.0,
            nested_read: false,
            duration_ns: 1_000_000_000,
            seed: 1,
            costs: Costs::default(),
            stop_on_deadlock: true,
        }
    }

    /// The `cpuhpsim lockbench` command that reproduces this bench exactly, every parameter
    /// spelled out.
    pub fn replay(&self) -> String {
        let mut cmd = format!(
            "cpuhpsim lockbench --kind {} --tasks {} --think {}ns --think-dist {} --hold {}ns --hold-dist {} \
             --write-fraction {} --duration {}ns --seed {}",
            self.kind.as_str().replace('_', "-"),
            self.tasks,
            self.think_ns,
            self.think.as_str(),
            self.hold_ns,
            self.hold.as_str(),
            self.write_fraction,
            self.duration_ns,
            self.seed
        );
        if self.nested_read {
            cmd.push_str(" --nested-read");
        }
        if self.costs == Costs::zero() {
            cmd.push_str(" --zero-costs");
        }
        if !self.stop_on_deadlock {
            cmd.push_str(" --freeze-on-deadlock");
        }
        cmd
    }

    /// The `recursive-read` preset: readers of `cpu_hotplug_lock` that nest a second read,
    /// and a quarter of writers; it deadlocks once a writer's grace period ends mid-hold.
    pub fn recursive_read() -> Self {
        LockBenchConfig {
            kind: LockKind::PercpuRwsem,
            tasks: 4,
            think_ns: 10_000_000,
            think: Dist::Exp,
            hold_ns: 20_000_000,
            hold: Dist::Exp,
            write_fraction: 0.25,
            nested_read: true,
            duration_ns: 10_000_000_000,
            seed: 1,
            costs: Costs::default(),
            stop_on_deadlock: true,
        }
    }
}

/// A lock bench as the user asked for it: a preset, then each option given, before resolving.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LockBenchRequest {
    /// Start from the `recursive-read` preset instead of the plain mutex bench.
    pub recursive_read: bool,
    pub kind: Option<LockKind>,
    pub tasks: Option<u32>,
    pub think_ns: Option<u64>,
    pub think: Option<Dist>,
    pub hold_ns: Option<u64>,
    pub hold: Option<Dist>,
    pub write_fraction: Option<f64>,
    pub nested_read: bool,
    pub duration_ns: Option<u64>,
    pub seed: Option<u64>,
    pub zero_costs: bool,
    pub freeze_on_deadlock: bool,
}

impl LockBenchRequest {
    /// The bench the request describes, validated. A `kind` without a `write_fraction` takes
    /// that kind's default fraction (1 for exclusive locks, 0.1 otherwise, the preset's for it).
    pub fn resolve(&self) -> Result<LockBenchConfig, LockBenchError> {
        let mut c = if self.recursive_read { LockBenchConfig::recursive_read() } else { LockBenchConfig::mutex() };
        if let Some(kind) = self.kind {
            c.kind = kind;
            c.write_fraction = match kind {
                LockKind::Mutex | LockKind::Spinlock => 1.0,
                _ if self.recursive_read => c.write_fraction,
                _ => 0.1,
            };
        }
        c.tasks = self.tasks.unwrap_or(c.tasks);
        c.think_ns = self.think_ns.unwrap_or(c.think_ns);
        c.think = self.think.unwrap_or(c.think);
        c.hold_ns = self.hold_ns.unwrap_or(c.hold_ns);
        c.hold = self.hold.unwrap_or(c.hold);
        c.write_fraction = self.write_fraction.unwrap_or(c.write_fraction);
        c.nested_read |= self.nested_read;
        c.duration_ns = self.duration_ns.unwrap_or(c.duration_ns);
        c.seed = self.seed.unwrap_or(c.seed);
        if self.zero_costs {
            c.costs = Costs::zero();
        }
        c.stop_on_deadlock &= !self.freeze_on_deadlock;
        c.validate()?;
        Ok(c)
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LockBenchError {
    #[error("tasks = {0}: must be between 1 and {MAX_BENCH_TASKS}")]
    Tasks(u32),
    #[error("duration = {0} ns: must be between 1 ns and {MAX_BENCH_DURATION_NS} ns (one hour)")]
    Duration(u64),
    #[error("write-fraction = {0}: must be between 0 and 1")]
    WriteFraction(f64),
    #[error("write-fraction = {fraction}: a {kind} has no readers; use 1 (or leave the default)")]
    WriteFractionForExclusive { fraction: f64, kind: &'static str },
    #[error("nested-read: only a percpu_rwsem has the recursive-read deadlock, not a {0}")]
    NestedRead(&'static str),
    #[error(
        "think = 0ns and hold = 0ns: the tasks would take and drop the lock back to back, each turn \
         advancing simulated time by the lock's fast path alone; give --think or --hold a time above 0"
    )]
    NoTime,
    #[error(
        "kind = lockdep_map: a lockdep map never blocks and has nothing to measure; use mutex, spinlock, percpu_rwsem or srcu"
    )]
    LockdepMap,
}

impl LockBenchConfig {
    pub fn validate(&self) -> Result<(), LockBenchError> {
        if self.kind == LockKind::LockdepMap {
            return Err(LockBenchError::LockdepMap);
        }
        if self.tasks == 0 || self.tasks > MAX_BENCH_TASKS {
            return Err(LockBenchError::Tasks(self.tasks));
        }
        if self.duration_ns == 0 || self.duration_ns > MAX_BENCH_DURATION_NS {
            return Err(LockBenchError::Duration(self.duration_ns));
        }
        if !(0.0..=1.0).contains(&self.write_fraction) {
            return Err(LockBenchError::WriteFraction(self.write_fraction));
        }
        let exclusive = matches!(self.kind, LockKind::Mutex | LockKind::Spinlock);
        if exclusive && self.write_fraction != 1.0 {
            return Err(LockBenchError::WriteFractionForExclusive {
                fraction: self.write_fraction,
                kind: self.kind.as_str(),
            });
        }
        if self.nested_read && self.kind != LockKind::PercpuRwsem {
            return Err(LockBenchError::NestedRead(self.kind.as_str()));
        }
        if self.think_ns == 0 && self.hold_ns == 0 {
            return Err(LockBenchError::NoTime);
        }
        Ok(())
    }
}

/// What a lock bench measured.
pub struct LockBenchResult {
    pub class: String,
    pub outcome: RunOutcome,
    pub stat: LockStat,
    pub reads: u64,
    pub writes: u64,
    pub deadlocks: Vec<Deadlock>,
    pub stalls: Vec<Stall>,
    /// Possible deadlocks the lock-order analysis found, as lockdep-style reports.
    pub order_cycles: Vec<String>,
}

const SCRIPT_WRITE: u16 = 0;
const SCRIPT_READ: u16 = 1;

struct Hammer {
    think_ns: u64,
    think: Dist,
    write_fraction: f64,
}

impl Agent for Hammer {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        // At time 0 a task thinks first, so that the tasks do not all start at once; with no
        // think time at all it starts at once (sleeping 0 ns at time 0 would wake it at time 0,
        // to sleep again: simulated time would never move).
        let starting = cx.now_ns == 0 && self.think_ns > 0;
        if cx.last.is_some() || starting {
            let ns = match self.think {
                Dist::Fixed => self.think_ns,
                Dist::Exp => exp_ns(cx.rng, self.think_ns as f64),
            };
            if ns > 0 || starting {
                return Next::Sleep { ns };
            }
        }
        let write = self.write_fraction >= 1.0 || cx.rng.random::<f64>() < self.write_fraction;
        Next::Run { script: if write { SCRIPT_WRITE } else { SCRIPT_READ }, args: Args::default() }
    }
}

fn hold_cost(ns: u64, dist: Dist) -> Cost {
    match dist {
        Dist::Fixed => Cost::fixed(ns),
        Dist::Exp => Cost::exp(ns),
    }
}

/// The bench's scripts: write (or synchronize) and read, for the lock class 0.
pub fn scripts(config: &LockBenchConfig) -> Vec<Program> {
    let lock = LockRef::Global(0);
    let hold = hold_cost(config.hold_ns, config.hold);
    let take = |mode| Step::Lock { lock, mode, nested: false };
    let write = match config.kind {
        LockKind::Srcu => vec![Step::Synchronize(SyncKind::Srcu(lock))],
        _ => vec![take(Mode::Write), Step::Work(hold), Step::Unlock { lock }],
    };
    let read = if config.nested_read {
        let half = hold_cost(config.hold_ns / 2, config.hold);
        vec![
            take(Mode::Read),
            Step::Work(half),
            take(Mode::Read),
            Step::Work(half),
            Step::Unlock { lock },
            Step::Unlock { lock },
        ]
    } else {
        vec![take(Mode::Read), Step::Work(hold), Step::Unlock { lock }]
    };
    let name = |op: &str| format!("{}_{op}", config.kind.as_str());
    vec![
        Program::compile(&name(if config.kind == LockKind::Srcu { "synchronize" } else { "write" }), &write)
            .expect("bench script compiles"),
        Program::compile(&name("read"), &read).expect("bench script compiles"),
    ]
}

fn class_name(kind: LockKind) -> &'static str {
    match kind {
        LockKind::Mutex => "bench_mutex",
        LockKind::Spinlock => "bench_spinlock",
        LockKind::PercpuRwsem => "cpu_hotplug_lock",
        LockKind::Srcu => "pmus_srcu",
        LockKind::LockdepMap => "bench_lockdep_map",
        LockKind::RefcountHotplug => "cpu_hotplug",
    }
}

pub fn run(config: &LockBenchConfig) -> Result<LockBenchResult, LockBenchError> {
    run_bench(config, None)
}

/// [`run`], telling `progress` where the bench stands as it goes (for a progress line).
pub fn run_watched(config: &LockBenchConfig, progress: &RunProgress) -> Result<LockBenchResult, LockBenchError> {
    run_bench(config, Some(progress))
}

fn run_bench(config: &LockBenchConfig, progress: Option<&RunProgress>) -> Result<LockBenchResult, LockBenchError> {
    config.validate()?;
    let class = LockClassDef::new(class_name(config.kind), config.kind, Layout::Global);
    let kernel_config = KernelConfig {
        seed: config.seed,
        run_index: 0,
        cpus: config.tasks,
        costs: config.costs,
        on_deadlock: if config.stop_on_deadlock { OnDeadlock::Stop } else { OnDeadlock::Freeze },
        classes: vec![class.clone()],
        programs: scripts(config),
        perf: PerfConfig::without_pmus(),
        ctx_per_cpu: false,
        pmu_load: None,
        counters: Vec::new(),
        tracepoints: 0,
        // The queue the M/M/1//N closed forms describe: FIFO handoff.
        mutex_fifo_handoff: true,
        timed: None,
    };
    let tasks = (0..config.tasks)
        .map(|i| TaskSpec {
            name: format!("locktorture/{i}"),
            cpu: i,
            stream: stream_id(STREAM_LOCKBENCH, i as u64),
            start_ns: 0,
            cpuhp_thread: None,
            agent: Box::new(Hammer {
                think_ns: config.think_ns,
                think: config.think,
                write_fraction: config.write_fraction,
            }) as Box<dyn Agent>,
        })
        .collect();
    let mut sched = Scheduler::new();
    let mut kernel = Kernel::new(kernel_config, tasks, &mut sched).expect("validated bench config builds a kernel");
    let limits = Limits { until_ns: config.duration_ns, ..Limits::default() };
    let outcome = run_kernel(&mut sched, &mut kernel, &limits, progress);
    let programs = kernel.programs();
    let order_cycles = kernel
        .lock_order()
        .cycles(|_| config.kind)
        .iter()
        .map(|c: &OrderCycle| {
            let position = |p: sim::script::Position| format!("{}+{}", programs[p.script as usize].name, p.step);
            let names =
                ReportNames { class: &|_| class.name.clone(), position: &position, seed: &|_| Some(config.seed) };
            c.report(&names)
        })
        .collect();
    let stat = kernel.lock_stats()[0].clone();
    let ops = kernel.op_stats();
    Ok(LockBenchResult {
        class: class.name,
        outcome,
        stat,
        writes: ops[SCRIPT_WRITE as usize].completed,
        reads: ops[SCRIPT_READ as usize].completed,
        deadlocks: kernel.deadlocks().to_vec(),
        stalls: if outcome.stop == sim::StopReason::QueueEmpty { kernel.stalls() } else { Vec::new() },
        order_cycles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mutex_bench() -> LockBenchConfig {
        LockBenchConfig {
            kind: LockKind::Mutex,
            tasks: 3,
            think_ns: 1_000,
            think: Dist::Fixed,
            hold_ns: 1_000,
            hold: Dist::Fixed,
            write_fraction: 1.0,
            nested_read: false,
            duration_ns: 1_000_000,
            seed: 1,
            costs: Costs::zero(),
            stop_on_deadlock: true,
        }
    }

    #[test]
    fn fixed_times_with_zero_costs_give_an_exact_schedule() {
        // Three tasks, 1 µs think and 1 µs hold: the server is always busy after the first
        // think, so 1 ms holds exactly 999 acquisitions (at 1, 2, … 999 µs) of which 998 were
        // released before the end, and every waiter waited exactly 1 or 2 µs.
        let r = run(&mutex_bench()).unwrap();
        assert_eq!(r.stat.acquisitions, 999);
        assert_eq!((r.stat.holds, r.stat.hold_ns_total), (998, 998_000));
        assert_eq!((r.stat.wait_ns_min, r.stat.wait_ns_max), (1_000, 2_000));
        assert!(r.deadlocks.is_empty() && r.order_cycles.is_empty());
    }

    #[test]
    fn no_think_time_takes_the_lock_back_to_back_and_time_advances() {
        // One task, no think, 1 µs hold: it takes the lock at 0, 1, … 999 µs (it used to
        // sleep 0 ns at time 0 over and over, and simulated time never moved).
        let r = run(&LockBenchConfig { tasks: 1, think_ns: 0, ..mutex_bench() }).unwrap();
        assert_eq!(r.outcome.stop, sim::StopReason::TimeLimit);
        assert_eq!(r.outcome.end_ns, 1_000_000);
        assert_eq!(r.stat.acquisitions, 1_000);
        assert_eq!((r.stat.holds, r.stat.hold_ns_total), (999, 999_000));
    }

    #[test]
    fn recursive_read_preset_deadlocks_and_order_analysis_flags_it() {
        let r = run(&LockBenchConfig::recursive_read()).unwrap();
        assert_eq!(r.outcome.stop, sim::StopReason::Requested);
        let [d] = &r.deadlocks[..] else { panic!("one deadlock expected") };
        assert!(d.members.iter().any(|m| m.mode == Mode::Write));
        assert!(d.members.iter().any(|m| m.mode == Mode::Read && m.position == "percpu_rwsem_read+2"));
        assert_eq!(r.order_cycles.len(), 1);
    }

    #[test]
    fn bad_configs_name_the_field() {
        let ok = mutex_bench();
        assert_eq!(run(&LockBenchConfig { tasks: 0, ..ok.clone() }).err(), Some(LockBenchError::Tasks(0)));
        assert_eq!(run(&LockBenchConfig { duration_ns: 0, ..ok.clone() }).err(), Some(LockBenchError::Duration(0)));
        let rw = LockBenchConfig { kind: LockKind::PercpuRwsem, write_fraction: 1.5, ..ok.clone() };
        assert_eq!(run(&rw).err(), Some(LockBenchError::WriteFraction(1.5)));
        let nested = LockBenchConfig { nested_read: true, ..ok };
        assert!(run(&nested).err().unwrap().to_string().contains("nested-read"));
    }
}
