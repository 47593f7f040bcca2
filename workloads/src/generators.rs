//! Load generators (docs/model.md §7) as agents: the hotplug driver, event openers, ftrace togglers,
//! PMU churn and driver probes. Each draws only from its own task's stream.

use rand::Rng;
use sim::kernel::{Agent, AgentCx, Args, Next};
use sim::perf::PmuScope;
use sim::rng::exp_ns;

use crate::schemes::op;

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
        let cpus = cx.online.len() as u32;
        match self.mode {
            HotplugMode::Random => {
                // The same draw as indexing a list of the eligible CPUs, without building it.
                let eligible = cx.online.get(1..).unwrap_or(&[]);
                let count = eligible.iter().filter(|&&online| online).count();
                (count > 0).then(|| {
                    let nth = cx.rng.random_range(0..count);
                    let index = eligible.iter().enumerate().filter(|(_, online)| **online).nth(nth).expect("counted").0;
                    index as u32 + 1
                })
            }
            HotplugMode::Rolling => {
                for _ in 1..cpus {
                    let cpu = self.next_rolling;
                    self.next_rolling = if cpu + 1 >= cpus { 1 } else { cpu + 1 };
                    if cx.online[cpu as usize] {
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
        let cpus = cx.online.len() as u32;
        loop {
            match self.state {
                DriverState::StormDown { cpu } if cpu >= cpus => {
                    self.state = DriverState::StormUp { cpu: 1 };
                    return Next::Sleep { ns: self.holdoff.draw(cx) };
                }
                DriverState::StormDown { cpu } => {
                    self.state = DriverState::StormDown { cpu: cpu + 1 };
                    if cx.online[cpu as usize] {
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
                    if !cx.online[cpu as usize] {
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
        let cpus = cx.online.len() as u32;
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

/// A monitoring agent: think, open a per-CPU event on a random CPU and PMU (a tracepoint
/// event with probability `tracepoint_fraction`), keep it for a lifetime, release it.
pub struct Opener {
    think: Interval,
    lifetime: Interval,
    tracepoint_fraction: f64,
    /// Event ids are `event_base | counter`, unique per run.
    event_base: u64,
    counter: u64,
    /// The event held, with whether it is a tracepoint event.
    holding: Option<(Args, bool)>,
    phase: OpenerPhase,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpenerPhase {
    Thinking,
    Opening,
    Holding,
    Releasing,
}

impl Opener {
    pub fn new(task_index: u32, think: Interval, lifetime: Interval, tracepoint_fraction: f64) -> Self {
        Opener {
            think,
            lifetime,
            tracepoint_fraction,
            event_base: (task_index as u64) << 32,
            counter: 0,
            holding: None,
            phase: OpenerPhase::Releasing,
        }
    }
}

impl Agent for Opener {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        match self.phase {
            OpenerPhase::Releasing => {
                self.phase = OpenerPhase::Thinking;
                Next::Sleep { ns: self.think.draw(cx) }
            }
            OpenerPhase::Thinking => {
                let perf = cx.perf;
                let mut boot_pmus = perf.list().iter().copied().filter(|&p| perf.pmus()[p as usize].at_boot);
                let count = boot_pmus.clone().count();
                if count == 0 {
                    return Next::Exit;
                }
                let pmu = boot_pmus.nth(cx.rng.random_range(0..count)).expect("counted");
                let cpus = cx.online.len() as u32;
                let cpu = match cx.perf.pmus()[pmu as usize].scope {
                    PmuScope::Core => cx.rng.random_range(0..cpus),
                    PmuScope::Uncore => {
                        let packages = cx.perf.package_of(cpus - 1) + 1;
                        let package = cx.rng.random_range(0..packages);
                        cx.perf.uncore_owner(pmu, package).unwrap_or(cx.perf.package_cpus(package).start)
                    }
                };
                let tracepoint = cx.rng.random::<f64>() < self.tracepoint_fraction;
                self.counter += 1;
                let args = Args { cpu, pmu, event: self.event_base | self.counter };
                self.holding = Some((args, tracepoint));
                self.phase = OpenerPhase::Opening;
                Next::Run { script: if tracepoint { op::OPEN_TP } else { op::OPEN }, args }
            }
            OpenerPhase::Opening => {
                let opened = cx.last.is_some_and(|o| o.result.is_ok());
                if opened {
                    self.phase = OpenerPhase::Holding;
                    Next::Sleep { ns: self.lifetime.draw(cx) }
                } else {
                    self.holding = None;
                    self.phase = OpenerPhase::Thinking;
                    Next::Sleep { ns: self.think.draw(cx) }
                }
            }
            OpenerPhase::Holding => {
                let (mut args, tracepoint) = self.holding.take().expect("holding an event");
                // The event's context may have moved (uncore handoff): lock the one it is on.
                if let Some(at) = cx.perf.installed(args.event) {
                    args.cpu = at.cpu;
                }
                self.phase = OpenerPhase::Releasing;
                Next::Run { script: if tracepoint { op::RELEASE_TP } else { op::RELEASE }, args }
            }
        }
    }
}

/// Something that runs one operation every interval: ftrace togglers, driver probes.
pub struct Periodic {
    interval: Interval,
    script: sim::script::ScriptId,
    /// Driver probes pick a random registered PMU's device.
    random_pmu: bool,
    due: bool,
}

impl Periodic {
    pub fn ftrace_toggler(interval: Interval) -> Self {
        Periodic { interval, script: op::FTRACE_TOGGLE, random_pmu: false, due: false }
    }

    pub fn driver_probe(interval: Interval) -> Self {
        Periodic { interval, script: op::DRIVER_PROBE, random_pmu: true, due: false }
    }
}

impl Agent for Periodic {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        if !self.due {
            self.due = true;
            return Next::Sleep { ns: self.interval.draw(cx) };
        }
        self.due = false;
        let pmu = if self.random_pmu {
            let list = cx.perf.list();
            if list.is_empty() {
                return Next::Sleep { ns: self.interval.draw(cx).max(1) };
            }
            list[cx.rng.random_range(0..list.len())]
        } else {
            0
        };
        Next::Run { script: self.script, args: Args { pmu, ..Args::default() } }
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
