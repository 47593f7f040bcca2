//! Load generators (docs/model.md §7) as agents: the hotplug driver, event openers, ftrace togglers,
//! PMU churn and driver probes. Each draws only from its own task's stream.

use rand::Rng;
use sim::kernel::{Agent, AgentCx, Args, Next};
use sim::perf::PmuScope;
use sim::rng::exp_ns;

use crate::schemes::{Family, op};

/// A think time: exponential with this mean, or exactly this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub mean_ns: u64,
    pub exponential: bool,
}

impl Interval {
    fn draw(self, cx: &mut AgentCx<'_>) -> u64 {
        if self.exponential && self.mean_ns > 0 { exp_ns(cx.rng, self.mean_ns as f64) } else { self.mean_ns }
    }
}

/// How the hotplug driver picks CPUs (`hotplug.mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HotplugMode {
    /// Every interval, a random eligible CPU goes down and, after the holdoff, comes back.
    Random,
    /// All CPUs but CPU 0 go down in order, then all come up (suspend, kexec).
    Storm,
    /// CPUs 1, 2, … in turn go down and come back up.
    Rolling,
}

impl HotplugMode {
    pub fn as_str(self) -> &'static str {
        match self {
            HotplugMode::Random => "random",
            HotplugMode::Storm => "storm",
            HotplugMode::Rolling => "rolling",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DriverState {
    /// Waiting out the interval before the next cycle.
    Idle,
    /// Took a CPU down; will bring it up after the holdoff.
    Down {
        cpu: u32,
    },
    HoldingOff {
        cpu: u32,
    },
    /// Storm: taking CPUs down, next is `cpu`.
    StormDown {
        cpu: u32,
    },
    StormUp {
        cpu: u32,
    },
}

/// rcutorture's `onoff` task: the interval counts from the end of the previous `cpu_up`.
pub struct HotplugDriver {
    mode: HotplugMode,
    interval: Interval,
    holdoff: Interval,
    state: DriverState,
    next_rolling: u32,
    started: bool,
}

impl HotplugDriver {
    pub fn new(mode: HotplugMode, interval: Interval, holdoff: Interval) -> Self {
        HotplugDriver { mode, interval, holdoff, state: DriverState::Idle, next_rolling: 1, started: false }
    }

    fn pick(&mut self, cx: &mut AgentCx<'_>) -> Option<u32> {
        let cpus = cx.online.len();
        match self.mode {
            HotplugMode::Random => {
                // The same draw as indexing a list of the eligible CPUs, without building it.
                let count = cx.online.weight_in(1..cpus) as usize;
                (count > 0).then(|| {
                    let nth = cx.rng.random_range(0..count);
                    cx.online.nth_set_in(1..cpus, nth as u32).expect("counted")
                })
            }
            HotplugMode::Rolling => {
                for _ in 1..cpus {
                    let cpu = self.next_rolling;
                    self.next_rolling = if cpu + 1 >= cpus { 1 } else { cpu + 1 };
                    if cx.online.test(cpu) {
                        return Some(cpu);
                    }
                }
                None
            }
            HotplugMode::Storm => unreachable!("storm walks CPUs in order"),
        }
    }
}

impl HotplugDriver {
    /// The next CPU of the storm still to go down (then up), skipping those already there.
    fn storm_step(&mut self, cx: &mut AgentCx<'_>) -> Next {
        let cpus = cx.online.len();
        loop {
            match self.state {
                DriverState::StormDown { cpu } if cpu >= cpus => {
                    self.state = DriverState::StormUp { cpu: 1 };
                    return Next::Sleep { ns: self.holdoff.draw(cx) };
                }
                DriverState::StormDown { cpu } => {
                    self.state = DriverState::StormDown { cpu: cpu + 1 };
                    if cx.online.test(cpu) {
                        return run(op::CPU_DOWN, cpu);
                    }
                }
                DriverState::StormUp { cpu } if cpu >= cpus => {
                    self.state = DriverState::Idle;
                    self.started = false;
                    return Next::Sleep { ns: 0 };
                }
                DriverState::StormUp { cpu } => {
                    self.state = DriverState::StormUp { cpu: cpu + 1 };
                    if !cx.online.test(cpu) {
                        return run(op::CPU_UP, cpu);
                    }
                }
                _ => unreachable!("storm_step outside a storm"),
            }
        }
    }
}

fn run(script: sim::script::ScriptId, cpu: u32) -> Next {
    Next::Run { script, args: Args { cpu, ..Args::default() } }
}

impl Agent for HotplugDriver {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        let cpus = cx.online.len();
        if !self.started {
            self.started = true;
            return Next::Sleep { ns: self.interval.draw(cx) };
        }
        match self.state {
            DriverState::Idle => {
                if self.mode == HotplugMode::Storm {
                    if cpus < 2 {
                        return Next::Exit;
                    }
                    self.state = DriverState::StormDown { cpu: 1 };
                    return self.storm_step(cx);
                }
                match self.pick(cx) {
                    Some(cpu) => {
                        self.state = DriverState::Down { cpu };
                        run(op::CPU_DOWN, cpu)
                    }
                    None => Next::Sleep { ns: self.interval.draw(cx).max(1) },
                }
            }
            DriverState::Down { cpu } => {
                self.state = DriverState::HoldingOff { cpu };
                Next::Sleep { ns: self.holdoff.draw(cx) }
            }
            DriverState::HoldingOff { cpu } => {
                self.state = DriverState::Idle;
                let up = run(op::CPU_UP, cpu);
                // The interval starts when this cpu_up returns: the Idle state sleeps first.
                self.started = false;
                up
            }
            DriverState::StormDown { .. } | DriverState::StormUp { .. } => self.storm_step(cx),
        }
    }
}

/// Tracepoints by popularity: tracepoint `k` (from 0) is drawn with probability proportional
/// to `1 / (k + 1)^zipf` (docs/model.md §7): a few hot ones (`sched:*`) and a long tail.
#[derive(Clone, Debug)]
pub struct Tracepoints {
    cdf: std::sync::Arc<[f64]>,
}

impl Tracepoints {
    pub fn new(count: u32, zipf: f64) -> Self {
        let weights: Vec<f64> = (0..count.max(1)).map(|k| 1.0 / f64::from(k + 1).powf(zipf)).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf = weights.iter().map(|w| {
            acc += w / total;
            acc
        });
        Tracepoints { cdf: cdf.collect() }
    }

    fn draw(&self, cx: &mut AgentCx<'_>) -> u16 {
        let u: f64 = cx.rng.random();
        self.cdf.partition_point(|&c| c <= u).min(self.cdf.len() - 1) as u16
    }
}

/// The mix of event kinds an opener draws from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EventMix {
    /// Tracepoint events, on the `tracepoint` PMU.
    pub tracepoint: f64,
    /// Software events, on the `software` PMU.
    pub software: f64,
    /// Of tracepoint events, those that get a `SET_FILTER` ioctl after opening.
    pub set_filter: f64,
    /// Of opened events, those whose owner runs `prctl(PR_TASK_PERF_EVENTS_DISABLE)` while holding it.
    pub prctl: f64,
    /// Of core and software opens, those aimed at a CPU the hotplug mask shows offline.
    pub offline: f64,
}

/// The PMU a kind of event goes to: the first software-scope PMU named `name`, or any boot
/// PMU of hardware scope (core or uncore), drawn uniformly.
fn pick_pmu(cx: &mut AgentCx<'_>, name: Option<&str>) -> Option<u16> {
    let perf = cx.perf;
    if let Some(name) = name {
        return perf.list().iter().copied().find(|&p| perf.pmus()[p as usize].name == name);
    }
    let mut hardware = perf.list().iter().copied().filter(|&p| {
        let def = &perf.pmus()[p as usize];
        def.at_boot && def.scope != PmuScope::Software
    });
    let count = hardware.clone().count();
    (count > 0).then(|| hardware.nth(cx.rng.random_range(0..count)).expect("counted"))
}

/// The CPU an event on `pmu` is opened on: any CPU (or, with probability `offline`, one the
/// hotplug mask shows offline, if any), or an uncore PMU's reader in a package.
fn pick_cpu(cx: &mut AgentCx<'_>, pmu: u16, offline: f64) -> u32 {
    let cpus = cx.online.len();
    match cx.perf.pmus()[pmu as usize].scope {
        PmuScope::Core | PmuScope::Software if offline > 0.0 && cx.rng.random::<f64>() < offline => {
            let down = (cpus - cx.online.weight_in(0..cpus)) as usize;
            if down == 0 {
                return cx.rng.random_range(0..cpus);
            }
            let nth = cx.rng.random_range(0..down);
            cx.online.nth_clear(nth as u32).expect("counted")
        }
        PmuScope::Core | PmuScope::Software => cx.rng.random_range(0..cpus),
        PmuScope::Uncore => {
            let packages = cx.perf.package_of(cpus - 1) + 1;
            let package = cx.rng.random_range(0..packages);
            cx.perf.uncore_owner(pmu, package).unwrap_or(cx.perf.package_cpus(package).start)
        }
    }
}

/// Where an event is now: its context may have moved (uncore handoff).
fn locate(cx: &AgentCx<'_>, mut args: Args) -> Args {
    if let Some(at) = cx.perf.installed(args.event) {
        args.cpu = at.cpu;
    }
    args
}

/// A monitoring agent: think, open a per-CPU event of a drawn kind on a random CPU, perhaps
/// set a filter on it or run prctl, keep it for a lifetime, release it.
pub struct Opener {
    think: Interval,
    lifetime: Interval,
    mix: EventMix,
    tracepoints: Tracepoints,
    /// Event ids are `event_base | counter`, unique per run.
    event_base: u64,
    counter: u64,
    /// The event held and its family.
    holding: Option<(Args, Family)>,
    phase: OpenerPhase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpenerPhase {
    Thinking,
    Opening,
    /// Opened; the ioctl or prctl, if drawn, comes next.
    Opened,
    /// Disabled by prctl: enable comes next.
    Disabled,
    Holding,
    Releasing,
}

impl Opener {
    pub fn new(task_index: u32, think: Interval, lifetime: Interval, mix: EventMix, tracepoints: Tracepoints) -> Self {
        Opener {
            think,
            lifetime,
            mix,
            tracepoints,
            event_base: (task_index as u64) << 32,
            counter: 0,
            holding: None,
            phase: OpenerPhase::Releasing,
        }
    }

    fn open(&mut self, cx: &mut AgentCx<'_>) -> Next {
        let u: f64 = cx.rng.random();
        let family = if u < self.mix.tracepoint {
            Family::Tracepoint
        } else if u < self.mix.tracepoint + self.mix.software {
            Family::Software
        } else {
            Family::Hardware
        };
        let name = match family {
            Family::Tracepoint => Some("tracepoint"),
            Family::Software => Some("software"),
            Family::Hardware | Family::BranchStack => None,
        };
        let Some(pmu) = pick_pmu(cx, name) else { return Next::Exit };
        let cpu = pick_cpu(cx, pmu, self.mix.offline);
        let tracepoint = if family == Family::Tracepoint { self.tracepoints.draw(cx) } else { 0 };
        self.counter += 1;
        let args = Args { cpu, pmu, event: self.event_base | self.counter, tracepoint, children: 0 };
        self.holding = Some((args, family));
        self.phase = OpenerPhase::Opening;
        Next::Run { script: family.open_op(), args }
    }
}

impl Agent for Opener {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        match self.phase {
            OpenerPhase::Releasing => {
                self.phase = OpenerPhase::Thinking;
                Next::Sleep { ns: self.think.draw(cx) }
            }
            OpenerPhase::Thinking => self.open(cx),
            OpenerPhase::Opening => {
                if cx.last.is_some_and(|o| o.result.is_ok()) {
                    self.phase = OpenerPhase::Opened;
                    let (args, family) = self.holding.expect("holding an event");
                    let args = locate(cx, args);
                    if family == Family::Tracepoint && cx.rng.random::<f64>() < self.mix.set_filter {
                        return Next::Run { script: op::SET_FILTER, args };
                    }
                    if cx.rng.random::<f64>() < self.mix.prctl {
                        self.phase = OpenerPhase::Disabled;
                        return Next::Run { script: op::PRCTL_DISABLE, args };
                    }
                    self.phase = OpenerPhase::Holding;
                    Next::Sleep { ns: self.lifetime.draw(cx) }
                } else {
                    self.holding = None;
                    self.phase = OpenerPhase::Thinking;
                    Next::Sleep { ns: self.think.draw(cx) }
                }
            }
            OpenerPhase::Opened => {
                self.phase = OpenerPhase::Holding;
                Next::Sleep { ns: self.lifetime.draw(cx) }
            }
            OpenerPhase::Disabled => {
                self.phase = OpenerPhase::Opened;
                let (args, _) = self.holding.expect("holding an event");
                Next::Run { script: op::PRCTL_ENABLE, args: locate(cx, args) }
            }
            OpenerPhase::Holding => {
                let (args, family) = self.holding.take().expect("holding an event");
                let args = locate(cx, args);
                self.phase = OpenerPhase::Releasing;
                Next::Run { script: family.release_op(), args }
            }
        }
    }
}

/// `perf stat -e '{cycles,tp,…}'`: a hardware leader on a random CPU's core PMU, then
/// tracepoint siblings in its group (or, a `branch_stack` fraction of them, hardware
/// siblings sampling branch stacks), kept a lifetime, released siblings first.
pub struct GroupOpener {
    think: Interval,
    lifetime: Interval,
    siblings: u32,
    branch_stack: f64,
    tracepoints: Tracepoints,
    event_base: u64,
    counter: u64,
    leader: Option<Args>,
    /// Siblings opened so far, with their release operation.
    opened: Vec<(Args, sim::script::ScriptId)>,
    /// Siblings still to open, or (holding) to release.
    left: u32,
    phase: GroupPhase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupPhase {
    Thinking,
    OpeningLeader,
    OpeningSiblings,
    Holding,
    Releasing,
}

impl GroupOpener {
    pub fn new(
        task_index: u32,
        think: Interval,
        lifetime: Interval,
        siblings: u32,
        branch_stack: f64,
        tracepoints: Tracepoints,
    ) -> Self {
        GroupOpener {
            think,
            lifetime,
            siblings,
            branch_stack,
            tracepoints,
            event_base: (task_index as u64) << 32,
            counter: 0,
            leader: None,
            opened: Vec::new(),
            left: 0,
            phase: GroupPhase::Releasing,
        }
    }

    fn next_id(&mut self) -> u64 {
        self.counter += 1;
        self.event_base | self.counter
    }

    fn open_sibling(&mut self, cx: &mut AgentCx<'_>, leader: Args) -> Next {
        self.left -= 1;
        // No draw when the fraction is 0, so runs without branch-stack siblings keep their streams.
        if self.branch_stack > 0.0 && cx.rng.random::<f64>() < self.branch_stack {
            let args = Args { event: self.next_id(), tracepoint: 0, ..leader };
            self.opened.push((args, op::RELEASE_LBR));
            return Next::Run { script: op::OPEN_SIBLING_LBR, args };
        }
        let args = Args { event: self.next_id(), tracepoint: self.tracepoints.draw(cx), ..leader };
        self.opened.push((args, op::RELEASE_TP));
        Next::Run { script: op::OPEN_SIBLING_TP, args }
    }
}

impl Agent for GroupOpener {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        match self.phase {
            GroupPhase::Releasing => {
                if let Some((sibling, release)) = self.opened.pop() {
                    return Next::Run { script: release, args: locate(cx, sibling) };
                }
                if let Some(leader) = self.leader.take() {
                    return Next::Run { script: op::RELEASE, args: locate(cx, leader) };
                }
                self.phase = GroupPhase::Thinking;
                Next::Sleep { ns: self.think.draw(cx) }
            }
            GroupPhase::Thinking => {
                let perf = cx.perf;
                let core = perf.list().iter().copied().find(|&p| perf.pmus()[p as usize].scope == PmuScope::Core);
                let Some(pmu) = core else { return Next::Exit };
                let cpu = cx.rng.random_range(0..cx.online.len());
                let args = Args { cpu, pmu, event: self.next_id(), tracepoint: 0, children: 0 };
                self.leader = Some(args);
                self.phase = GroupPhase::OpeningLeader;
                Next::Run { script: op::OPEN, args }
            }
            GroupPhase::OpeningLeader => {
                let leader = self.leader.expect("leader");
                if cx.last.is_none_or(|o| o.result.is_err()) {
                    self.leader = None;
                    self.phase = GroupPhase::Thinking;
                    return Next::Sleep { ns: self.think.draw(cx) };
                }
                self.phase = GroupPhase::OpeningSiblings;
                self.left = self.siblings;
                if self.left == 0 {
                    self.phase = GroupPhase::Holding;
                    return Next::Sleep { ns: self.lifetime.draw(cx) };
                }
                self.open_sibling(cx, leader)
            }
            GroupPhase::OpeningSiblings => {
                if cx.last.is_none_or(|o| o.result.is_err()) {
                    self.opened.pop();
                }
                let leader = self.leader.expect("leader");
                if self.left > 0 {
                    return self.open_sibling(cx, leader);
                }
                self.phase = GroupPhase::Holding;
                Next::Sleep { ns: self.lifetime.draw(cx) }
            }
            GroupPhase::Holding => {
                self.phase = GroupPhase::Releasing;
                self.next(cx)
            }
        }
    }
}

/// `perf record -e tp -- make -j`: a monitored task with an inherited tracepoint event forks
/// `children` children one after another; after their lifetime either they exit first and
/// then perf closes the event, or perf closes it while they live (the release frees them).
pub struct Inheritor {
    think: Interval,
    fork_interval: Interval,
    child_lifetime: Interval,
    children: u32,
    release_first: f64,
    tracepoints: Tracepoints,
    tracepoint: u16,
    live: u32,
    phase: InheritPhase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InheritPhase {
    Thinking,
    /// The task event is open, or a fork just returned: fork again or let the children run.
    Forked,
    ForkDue,
    Exiting,
    Released,
}

impl Inheritor {
    pub fn new(
        think: Interval,
        fork_interval: Interval,
        child_lifetime: Interval,
        children: u32,
        release_first: f64,
        tracepoints: Tracepoints,
    ) -> Self {
        Inheritor {
            think,
            fork_interval,
            child_lifetime,
            children,
            release_first,
            tracepoints,
            tracepoint: 0,
            live: 0,
            phase: InheritPhase::Released,
        }
    }

    fn args(&self) -> Args {
        Args { tracepoint: self.tracepoint, children: self.live, ..Args::default() }
    }
}

impl Agent for Inheritor {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        match self.phase {
            InheritPhase::Released => {
                self.phase = InheritPhase::Thinking;
                Next::Sleep { ns: self.think.draw(cx) }
            }
            InheritPhase::Thinking => {
                self.tracepoint = self.tracepoints.draw(cx);
                self.live = 0;
                self.phase = InheritPhase::Forked;
                Next::Run { script: op::OPEN_TASK_TP, args: self.args() }
            }
            InheritPhase::Forked => {
                if cx.last.is_some_and(|o| o.script == op::FORK) {
                    self.live += 1;
                }
                if self.live < self.children {
                    self.phase = InheritPhase::ForkDue;
                    Next::Sleep { ns: self.fork_interval.draw(cx) }
                } else {
                    self.phase = InheritPhase::Exiting;
                    Next::Sleep { ns: self.child_lifetime.draw(cx) }
                }
            }
            InheritPhase::ForkDue => {
                self.phase = InheritPhase::Forked;
                Next::Run { script: op::FORK, args: self.args() }
            }
            InheritPhase::Exiting => {
                if self.live > 0 && cx.rng.random::<f64>() >= self.release_first {
                    let args = self.args();
                    self.live -= 1;
                    return Next::Run { script: op::EXIT_TASK, args };
                }
                let args = self.args();
                // Children still alive lose their inherited events to the release.
                self.live = 0;
                self.phase = InheritPhase::Released;
                Next::Run { script: op::RELEASE_TASK_TP, args }
            }
        }
    }
}

/// A turn every interval: the sleep before each turn, then the turn.
struct Every {
    interval: Interval,
    due: bool,
}

impl Every {
    fn new(interval: Interval) -> Self {
        Every { interval, due: false }
    }

    /// The sleep until the next turn, or `None` when the turn is due now.
    fn wait(&mut self, cx: &mut AgentCx<'_>) -> Option<Next> {
        self.due = !self.due;
        self.due.then(|| Next::Sleep { ns: self.interval.draw(cx) })
    }
}

/// An ftrace user: every interval, enables a drawn tracepoint's event, and disables it the
/// next interval (`echo 1 > events/…/enable`, then `echo 0`).
pub struct FtraceToggler {
    every: Every,
    tracepoints: Tracepoints,
    enabled: Option<u16>,
}

impl FtraceToggler {
    pub fn new(interval: Interval, tracepoints: Tracepoints) -> Self {
        FtraceToggler { every: Every::new(interval), tracepoints, enabled: None }
    }
}

impl Agent for FtraceToggler {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        if let Some(sleep) = self.every.wait(cx) {
            return sleep;
        }
        match self.enabled.take() {
            Some(tracepoint) => Next::Run { script: op::FTRACE_DISABLE, args: Args { tracepoint, ..Args::default() } },
            None => {
                let tracepoint = self.tracepoints.draw(cx);
                self.enabled = Some(tracepoint);
                Next::Run { script: op::FTRACE_ENABLE, args: Args { tracepoint, ..Args::default() } }
            }
        }
    }
}

/// A driver probe every interval, on a random registered PMU's device.
pub struct DriverProbe {
    every: Every,
}

impl DriverProbe {
    pub fn new(interval: Interval) -> Self {
        DriverProbe { every: Every::new(interval) }
    }
}

impl Agent for DriverProbe {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        if let Some(sleep) = self.every.wait(cx) {
            return sleep;
        }
        let list = cx.perf.list();
        if list.is_empty() {
            return Next::Sleep { ns: self.every.interval.draw(cx).max(1) };
        }
        let pmu = list[cx.rng.random_range(0..list.len())];
        Next::Run { script: op::DRIVER_PROBE, args: Args { pmu, ..Args::default() } }
    }
}

/// Module load/unload: registers its PMU slot, keeps it a lifetime, unregisters it.
pub struct PmuChurn {
    slot: u16,
    interval: Interval,
    lifetime: Interval,
    step: u8,
}

impl PmuChurn {
    pub fn new(slot: u16, interval: Interval, lifetime: Interval) -> Self {
        PmuChurn { slot, interval, lifetime, step: 0 }
    }
}

impl Agent for PmuChurn {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        self.step = (self.step + 1) % 4;
        let args = Args { pmu: self.slot, ..Args::default() };
        match self.step {
            1 => Next::Sleep { ns: self.interval.draw(cx) },
            2 => Next::Run { script: op::PMU_REGISTER, args },
            3 => Next::Sleep { ns: self.lifetime.draw(cx) },
            _ => Next::Run { script: op::PMU_UNREGISTER, args },
        }
    }
}
