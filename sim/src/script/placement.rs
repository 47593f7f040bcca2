//! Where each step and reference may appear: the structural rules the interpreter relies on.
//!
//! A script that is balanced can still ask the model for something its operation cannot give:
//! the CPU argument of an operation that has none, the loop PMU outside a loop, a second
//! install of the same event. [`verify_placement`] rejects those at load time, so that the
//! model's own assertions only ever guard the model.

use super::{
    Cond, CounterLayout, CounterRef, CpuRef, Flag, IpiHandler, LockRef, PmuRef, ScriptId, Step, SyncKind, TaskSlot,
};
use crate::locks::{LockKind, Mode};

/// Most times one step may run in one operation: the product of the bounds of its enclosing
/// loops (`repeat` counts, the PMU slots for `for_each_pmu` and `for_each_handoff`, and
/// [`MAX_CHILDREN`] for `for_each_child`).
/// Loops of steps that cost no time run without the clock moving; this keeps them finite.
pub const MAX_STEP_RUNS: u64 = 1 << 20;

/// Most inherited children one operation's `for_each_child` visits.
pub const MAX_CHILDREN: u32 = 64;

/// The event an operation's arguments carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventArg {
    /// No event (hotplug, PMU registration, …).
    None,
    /// A new event, not installed yet: `install_event` may program it, once (`perf_event_open`).
    New,
    /// An event opened earlier, perhaps already removed by hotplug: `remove_event` may remove
    /// it, nothing may install it again (`perf_event_release`).
    Opened,
}

/// What a script may refer to: its operation's arguments, and the machine and lock classes
/// it runs with.
#[derive(Clone, Copy, Debug)]
pub struct ScriptEnv<'a> {
    /// The operation's name, for messages.
    pub name: &'a str,
    /// The operation has a CPU argument (`cpu`).
    pub cpu_arg: bool,
    /// The operation has a PMU argument (`pmu`).
    pub pmu_arg: bool,
    pub event: EventArg,
    /// Possible CPUs: a CPU number must be below this.
    pub cpus: u32,
    /// PMU slots: the most PMUs a `for_each_pmu` or `for_each_handoff` visits.
    pub pmus: u32,
    /// Each lock class's kind, by `ClassId`.
    pub kinds: &'a [LockKind],
    /// The operation has a tracepoint argument (per-tracepoint counters need one).
    pub tracepoint_arg: bool,
    /// The operation acts on an inherited child (`fork`, a child's exit): `[child]` is bound
    /// outside `for_each_child` too.
    pub child_arg: bool,
    /// Each counter's layout, by `CounterId`.
    pub counters: &'a [CounterLayout],
    /// The AP operation this one may kick on `cpuhp/N` (`cpu_down` and `cpu_up`), if any.
    pub kick: Option<ScriptId>,
}

/// A step in the wrong place: `step` counts steps in order, blocks' bodies included, from 0
/// (as [`super::verify_balanced`] does).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("step {step}: {message}")]
pub struct PlacementError {
    pub step: usize,
    pub message: String,
}

/// Checks where each step and reference appears against what the operation provides (see
/// [`ScriptEnv`]) and what the interpreter needs: `target`, `lower`, `higher` and
/// `move_events` only inside `for_each_handoff`; `loop_pmu` and `remove_events` only inside
/// `for_each_pmu` or `for_each_handoff`; `install_event` at most once per run; lock modes the
/// class's kind allows; at most [`MAX_STEP_RUNS`] runs of any step. `name` names locks.
pub fn verify_placement(
    steps: &[Step],
    env: &ScriptEnv<'_>,
    name: &dyn Fn(LockRef) -> String,
) -> Result<(), PlacementError> {
    let mut walk = Walk { env, name, step: 0 };
    let outer = Scope { pmu_loop: false, handoff: false, child: env.child_arg, repeats: false, runs: 1 };
    walk.steps(steps, outer, &mut false)
}

/// The blocks around a step.
#[derive(Clone, Copy)]
struct Scope {
    /// Inside `for_each_pmu` or `for_each_handoff`: `loop_pmu` is bound.
    pmu_loop: bool,
    /// Inside `for_each_handoff`: `target`, `lower` and `higher` are bound.
    handoff: bool,
    /// A child is bound: inside `for_each_child`, or the operation acts on one.
    child: bool,
    /// Inside a loop that may run its body more than once.
    repeats: bool,
    /// The most times a step here runs.
    runs: u64,
}

struct Walk<'e, 'a> {
    env: &'e ScriptEnv<'a>,
    name: &'e dyn Fn(LockRef) -> String,
    step: usize,
}

impl Walk<'_, '_> {
    /// `installed`: an `install_event` may already have run on the way here.
    fn steps(&mut self, steps: &[Step], scope: Scope, installed: &mut bool) -> Result<(), PlacementError> {
        for s in steps {
            let at = self.step;
            self.step += 1;
            let fail = |message: String| PlacementError { step: at, message };
            self.step_refs(s, scope).map_err(fail)?;
            let body_scope = |bound: u64, pmu_loop: bool, handoff: bool| Scope {
                pmu_loop: scope.pmu_loop || pmu_loop,
                handoff: scope.handoff || handoff,
                child: scope.child,
                repeats: scope.repeats || bound > 1,
                runs: scope.runs.saturating_mul(bound),
            };
            let loop_bound = u64::from(self.env.pmus);
            let inner = match s {
                Step::Repeat { times, body } => Some((body, body_scope(u64::from(*times), false, false))),
                Step::ForEachPmu { body, .. } => Some((body, body_scope(loop_bound, true, false))),
                Step::ForEachHandoff { body } => Some((body, body_scope(loop_bound, true, true))),
                Step::ForEachChild { body } => {
                    Some((body, Scope { child: true, ..body_scope(u64::from(MAX_CHILDREN), false, false) }))
                }
                _ => None,
            };
            if let Some((body, inner)) = inner {
                if inner.runs > MAX_STEP_RUNS && !body.is_empty() {
                    return Err(fail(format!(
                        "this loop's body may run {} times in one operation (loop bounds multiplied; \
                         `for_each_pmu` and `for_each_handoff` count {} PMU slots); at most {MAX_STEP_RUNS} are allowed",
                        inner.runs, self.env.pmus
                    )));
                }
                self.steps(body, inner, installed)?;
            }
            match s {
                Step::Check { otherwise, .. } => {
                    // The `otherwise` block ends the operation: what it installs goes nowhere else.
                    let mut inner = *installed;
                    self.steps(otherwise, scope, &mut inner)?;
                }
                Step::If { then, otherwise, .. } => {
                    // Either branch may run: after the `if`, an install in either counts.
                    let mut other = *installed;
                    self.steps(then, scope, installed)?;
                    self.steps(otherwise, scope, &mut other)?;
                    *installed |= other;
                }
                Step::Ipi { handler: IpiHandler::InstallEvent, .. } => {
                    if scope.repeats {
                        return Err(fail(
                            "`install_event` programs the operation's one event, so it may run only once: \
                             not inside `for_each_pmu`, `for_each_handoff` or `repeat` N > 1"
                                .into(),
                        ));
                    }
                    if *installed {
                        return Err(fail(
                            "a second `install_event` on the same path would program the event twice; \
                             an operation installs its event at most once"
                                .into(),
                        ));
                    }
                    *installed = true;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The step's own references and needs, without its body.
    fn step_refs(&self, step: &Step, scope: Scope) -> Result<(), String> {
        let env = self.env;
        let op = env.name;
        match step {
            Step::Lock { lock, mode, .. } => {
                self.lock(*lock, scope)?;
                let kind = self.kind(*lock)?;
                let lock_name = (self.name)(*lock);
                match (kind, mode) {
                    (LockKind::Mutex | LockKind::Spinlock | LockKind::LockdepMap, Mode::Read) => Err(format!(
                        "`{lock_name}` is a {}, taken exclusively: write `lock {lock_name}` without `read`",
                        kind.as_str()
                    )),
                    (LockKind::Srcu, Mode::Write) => Err(format!(
                        "`{lock_name}` is SRCU: readers write `lock {lock_name} read`, writers wait with \
                         `synchronize_srcu {lock_name}`"
                    )),
                    _ => Ok(()),
                }
            }
            Step::Unlock { lock } => self.lock(*lock, scope),
            Step::Synchronize(SyncKind::Srcu(lock)) => {
                self.lock(*lock, scope)?;
                let kind = self.kind(*lock)?;
                if kind != LockKind::Srcu {
                    return Err(format!(
                        "`synchronize_srcu` waits for an SRCU class's readers; `{}` is a {}",
                        (self.name)(*lock),
                        kind.as_str()
                    ));
                }
                Ok(())
            }
            Step::Ipi { cpu, handler } => {
                self.cpu(*cpu, scope)?;
                match handler {
                    IpiHandler::InstallEvent if env.event != EventArg::New => Err(format!(
                        "`install_event` programs the new event of an open, and {op} has {}",
                        if env.event == EventArg::None { "no event" } else { "one opened earlier" }
                    )),
                    IpiHandler::RemoveEvent if env.event == EventArg::None => {
                        Err(format!("`remove_event` removes the operation's event, and {op} has none"))
                    }
                    IpiHandler::RemoveEvents if !scope.pmu_loop => {
                        Err("`remove_events` removes the loop PMU's events: it belongs inside `for_each_pmu` or \
                         `for_each_handoff`"
                            .into())
                    }
                    _ => Ok(()),
                }
            }
            Step::Check { flag, .. } | Step::Set { flag, .. } => self.flag(*flag, scope),
            Step::Inc(counter) | Step::Dec(counter) => self.counter(*counter),
            Step::If { cond, .. } => match *cond {
                Cond::Zero(counter) | Cond::NonZero(counter) | Cond::One(counter) => self.counter(counter),
                Cond::Set(flag) | Cond::Clear(flag) => self.flag(flag, scope),
                Cond::CorePmu(pmu) => self.pmu(pmu, scope),
                Cond::HasEvents(cpu, pmu) => self.cpu(cpu, scope).and_then(|()| self.pmu(pmu, scope)),
            },
            Step::MoveEvents if !scope.handoff => {
                Err("`move_events` moves the handoff loop's PMU to its target: it belongs inside `for_each_handoff`"
                    .into())
            }
            Step::KickAp { script } if env.kick != Some(*script) => Err(match env.kick {
                Some(_) => format!("{op} kicks its own AP operation only; `kick_ap` names another"),
                None => {
                    format!("`kick_ap` hands the AP states to cpuhp/N from cpu_down or cpu_up, and {op} is neither")
                }
            }),
            Step::ForEachHandoff { .. } | Step::AdoptUncore if !env.cpu_arg => {
                let what = if matches!(step, Step::AdoptUncore) { "adopt_uncore" } else { "for_each_handoff" };
                Err(format!("`{what}` acts on the operation's CPU argument, and {op} has none"))
            }
            _ => Ok(()),
        }
    }

    fn kind(&self, lock: LockRef) -> Result<LockKind, String> {
        self.env
            .kinds
            .get(usize::from(lock.class()))
            .copied()
            .ok_or_else(|| format!("lock class {} does not exist", lock.class()))
    }

    fn counter(&self, counter: CounterRef) -> Result<(), String> {
        let Some(&layout) = self.env.counters.get(usize::from(counter.id)) else {
            return Err(format!("counter {} does not exist", counter.id));
        };
        if layout != counter.layout {
            return Err(format!("counter {} is {layout:?}, not {:?}", counter.id, counter.layout));
        }
        if layout == CounterLayout::PerTracepoint && !self.env.tracepoint_arg {
            return Err(format!(
                "a per-tracepoint counter needs the operation's tracepoint, and {} has none",
                self.env.name
            ));
        }
        Ok(())
    }

    fn lock(&self, lock: LockRef, scope: Scope) -> Result<(), String> {
        match lock {
            LockRef::Global(_) | LockRef::PerTask(_, TaskSlot::Own) => Ok(()),
            LockRef::PerTask(_, TaskSlot::Child) if !scope.child => Err(format!(
                "`[child]` is the operation's inherited child, bound by `for_each_child`; {} has none here",
                self.env.name
            )),
            LockRef::PerTask(_, TaskSlot::Child) => Ok(()),
            LockRef::PerCpu(_, cpu) => self.cpu(cpu, scope),
            LockRef::Ctx(_, cpu, pmu) => self.cpu(cpu, scope).and_then(|()| self.pmu(pmu, scope)),
            LockRef::PerPmu(_, pmu) => self.pmu(pmu, scope),
        }
    }

    fn flag(&self, flag: Flag, scope: Scope) -> Result<(), String> {
        match flag {
            Flag::CpuOnline(cpu) | Flag::PerfOnline(cpu) | Flag::Usable(cpu) => self.cpu(cpu, scope),
            Flag::CtxOnline(cpu, pmu) => self.cpu(cpu, scope).and_then(|()| self.pmu(pmu, scope)),
        }
    }

    fn cpu(&self, cpu: CpuRef, scope: Scope) -> Result<(), String> {
        let op = self.env.name;
        match cpu {
            CpuRef::Arg if !self.env.cpu_arg => {
                Err(format!("`cpu` is the operation's CPU argument, and {op} has none; use this_cpu or a CPU number"))
            }
            CpuRef::Fixed(n) if n >= self.env.cpus => {
                Err(format!("CPU {n} does not exist: the machine has CPUs 0 to {}", self.env.cpus.saturating_sub(1)))
            }
            CpuRef::Target | CpuRef::Lower | CpuRef::Higher if !scope.handoff => {
                let word = match cpu {
                    CpuRef::Target => "target",
                    CpuRef::Lower => "lower",
                    _ => "higher",
                };
                Err(format!("`{word}` is bound by `for_each_handoff` and may be used only inside one"))
            }
            _ => Ok(()),
        }
    }

    fn pmu(&self, pmu: PmuRef, scope: Scope) -> Result<(), String> {
        let op = self.env.name;
        match pmu {
            PmuRef::Arg if !self.env.pmu_arg => Err(format!(
                "`pmu` is the operation's PMU argument, and {op} has none; inside `for_each_pmu` use loop_pmu"
            )),
            PmuRef::Loop if !scope.pmu_loop => {
                Err("`loop_pmu` is bound by `for_each_pmu` or `for_each_handoff` and may be used only inside one"
                    .into())
            }
            _ => Ok(()),
        }
    }
}

/// The `n`th step in the order [`verify_placement`] and [`super::verify_balanced`] count them.
pub fn nth_step(steps: &[Step], n: usize) -> Option<&Step> {
    fn find<'s>(steps: &'s [Step], n: &mut usize) -> Option<&'s Step> {
        for s in steps {
            if *n == 0 {
                return Some(s);
            }
            *n -= 1;
            let body = match s {
                Step::Check { otherwise: body, .. }
                | Step::Repeat { body, .. }
                | Step::ForEachPmu { body, .. }
                | Step::ForEachHandoff { body }
                | Step::ForEachChild { body } => body.as_slice(),
                Step::If { then, otherwise, .. } => {
                    if let Some(found) = find(then, n) {
                        return Some(found);
                    }
                    otherwise.as_slice()
                }
                _ => &[],
            };
            if let Some(found) = find(body, n) {
                return Some(found);
            }
        }
        None
    }
    let mut n = n;
    find(steps, &mut n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{Cost, Errno, Mark, PmuFilter};

    const KINDS: [LockKind; 4] = [LockKind::Mutex, LockKind::PercpuRwsem, LockKind::Srcu, LockKind::Mutex];
    const MUTEX: u16 = 0;
    const RWSEM: u16 = 1;
    const SRCU: u16 = 2;
    const CTX: u16 = 3;

    fn env(name: &str, cpu_arg: bool, pmu_arg: bool, event: EventArg) -> ScriptEnv<'_> {
        ScriptEnv {
            name,
            cpu_arg,
            pmu_arg,
            event,
            cpus: 4,
            pmus: 3,
            kinds: &KINDS,
            tracepoint_arg: false,
            child_arg: false,
            counters: &[],
            kick: None,
        }
    }

    /// `cpu_down`'s arguments: a CPU, no PMU, no event.
    fn hotplug() -> ScriptEnv<'static> {
        env("cpu_down", true, false, EventArg::None)
    }

    fn open() -> ScriptEnv<'static> {
        env("perf_event_open", true, true, EventArg::New)
    }

    fn check(steps: &[Step], env: &ScriptEnv<'_>) -> Result<(), PlacementError> {
        verify_placement(steps, env, &|lock| format!("{lock:?}"))
    }

    /// The step number and message of the rejection.
    fn rejected(steps: &[Step], env: &ScriptEnv<'_>) -> (usize, String) {
        let e = check(steps, env).expect_err("rejected");
        (e.step, e.message)
    }

    fn ipi(cpu: CpuRef, handler: IpiHandler) -> Step {
        Step::Ipi { cpu, handler }
    }

    fn pmu_loop(body: Vec<Step>) -> Step {
        Step::ForEachPmu { filter: PmuFilter::All, body }
    }

    fn work() -> Step {
        Step::Work(Cost::fixed(1))
    }

    fn lock(lock: LockRef, mode: Mode) -> Step {
        Step::Lock { lock, mode, nested: false }
    }

    #[test]
    fn arguments_an_operation_does_not_have_are_rejected() {
        let ftrace = env("ftrace_toggle", false, false, EventArg::None);
        let (step, message) = rejected(&[work(), Step::Set { flag: Flag::Usable(CpuRef::Arg), value: true }], &ftrace);
        assert_eq!(step, 1);
        assert!(message.contains("`cpu` is the operation's CPU argument, and ftrace_toggle has none"), "{message}");
        assert!(check(&[Step::Set { flag: Flag::Usable(CpuRef::Current), value: true }], &ftrace).is_ok());
        let ctx = LockRef::Ctx(CTX, CpuRef::Arg, PmuRef::Arg);
        let (step, message) = rejected(&[lock(ctx, Mode::Write), Step::Unlock { lock: ctx }], &hotplug());
        assert_eq!(step, 0);
        assert!(message.contains("`pmu` is the operation's PMU argument, and cpu_down has none"), "{message}");
        let (_, message) = rejected(&[ipi(CpuRef::Arg, IpiHandler::InstallEvent)], &hotplug());
        assert!(message.contains("`install_event` programs the new event of an open, and cpu_down has no event"));
        let release = env("perf_event_release", true, true, EventArg::Opened);
        let (_, message) = rejected(&[ipi(CpuRef::Arg, IpiHandler::InstallEvent)], &release);
        assert!(message.contains("perf_event_release has one opened earlier"), "{message}");
        assert!(check(&[ipi(CpuRef::Arg, IpiHandler::RemoveEvent)], &release).is_ok());
        let (_, message) = rejected(&[ipi(CpuRef::Arg, IpiHandler::RemoveEvent)], &hotplug());
        assert!(message.contains("`remove_event` removes the operation's event, and cpu_down has none"));
        let register = env("perf_pmu_register", false, true, EventArg::None);
        let (_, message) = rejected(&[Step::ForEachHandoff { body: vec![] }], &register);
        assert!(message.contains("`for_each_handoff` acts on the operation's CPU argument"), "{message}");
        let (_, message) = rejected(&[Step::AdoptUncore], &register);
        assert!(message.contains("`adopt_uncore` acts on the operation's CPU argument"), "{message}");
    }

    #[test]
    fn cpu_numbers_past_the_machine_are_rejected() {
        assert!(check(&[ipi(CpuRef::Fixed(3), IpiHandler::Work(Cost::fixed(1)))], &hotplug()).is_ok());
        let (step, message) = rejected(&[ipi(CpuRef::Fixed(4), IpiHandler::Work(Cost::fixed(1)))], &hotplug());
        assert_eq!((step, message.as_str()), (0, "CPU 4 does not exist: the machine has CPUs 0 to 3"));
    }

    #[test]
    fn loop_references_outside_their_loop_are_rejected() {
        let ctx = |cpu, pmu| LockRef::Ctx(CTX, cpu, pmu);
        let flag = Step::Set { flag: Flag::CtxOnline(CpuRef::Arg, PmuRef::Loop), value: false };
        let (step, message) = rejected(&[work(), flag.clone()], &hotplug());
        assert_eq!(step, 1);
        assert!(message.starts_with("`loop_pmu` is bound by `for_each_pmu` or `for_each_handoff`"), "{message}");
        assert!(check(&[pmu_loop(vec![flag.clone()])], &hotplug()).is_ok());
        assert!(check(&[Step::ForEachHandoff { body: vec![flag.clone()] }], &hotplug()).is_ok());
        let in_repeat = Step::Repeat { times: 2, body: vec![flag] };
        assert_eq!(rejected(&[in_repeat], &hotplug()).0, 1);
        for (cpu, word) in [(CpuRef::Target, "target"), (CpuRef::Lower, "lower"), (CpuRef::Higher, "higher")] {
            let take = lock(ctx(cpu, PmuRef::Loop), Mode::Write);
            let (step, message) = rejected(&[pmu_loop(vec![take.clone()])], &hotplug());
            assert_eq!(step, 1);
            assert_eq!(message, format!("`{word}` is bound by `for_each_handoff` and may be used only inside one"));
            assert!(check(&[Step::ForEachHandoff { body: vec![take] }], &hotplug()).is_ok());
        }
        let (step, message) = rejected(&[pmu_loop(vec![Step::MoveEvents])], &hotplug());
        assert_eq!(step, 1);
        assert!(message.contains("it belongs inside `for_each_handoff`"), "{message}");
        let remove = ipi(CpuRef::Arg, IpiHandler::RemoveEvents);
        let (step, message) = rejected(std::slice::from_ref(&remove), &hotplug());
        assert_eq!(step, 0);
        assert!(message.contains("it belongs inside `for_each_pmu` or `for_each_handoff`"), "{message}");
        assert!(check(&[pmu_loop(vec![remove])], &hotplug()).is_ok());
    }

    #[test]
    fn a_check_block_inside_a_loop_sees_the_loop() {
        let undo = Step::Set { flag: Flag::CtxOnline(CpuRef::Arg, PmuRef::Loop), value: true };
        let check_step =
            Step::Check { flag: Flag::CpuOnline(CpuRef::Target), errno: Errno::Enodev, otherwise: vec![undo] };
        assert!(check(&[Step::ForEachHandoff { body: vec![check_step.clone()] }], &hotplug()).is_ok());
        assert_eq!(rejected(&[check_step], &hotplug()).0, 0);
    }

    #[test]
    fn install_event_runs_at_most_once_per_path() {
        let install = || ipi(CpuRef::Arg, IpiHandler::InstallEvent);
        assert!(check(&[install()], &open()).is_ok());
        let (step, message) = rejected(&[install(), work(), install()], &open());
        assert_eq!(step, 2);
        assert!(message.contains("would program the event twice"), "{message}");
        for looped in [pmu_loop(vec![install()]), Step::Repeat { times: 2, body: vec![install()] }] {
            let (step, message) = rejected(&[looped], &open());
            assert_eq!(step, 1);
            assert!(message.contains("may run only once"), "{message}");
        }
        assert!(check(&[Step::Repeat { times: 1, body: vec![install()] }], &open()).is_ok());
        // A failed check ends the operation: its block and the path after it are separate paths.
        let fail_block =
            Step::Check { flag: Flag::CpuOnline(CpuRef::Arg), errno: Errno::Enodev, otherwise: vec![install()] };
        assert!(check(&[fail_block.clone(), install()], &open()).is_ok());
        assert_eq!(rejected(&[install(), fail_block], &open()).0, 2);
    }

    #[test]
    fn lock_modes_follow_the_class_kind() {
        let take = |class, mode| [lock(LockRef::Global(class), mode), Step::Unlock { lock: LockRef::Global(class) }];
        assert!(check(&take(RWSEM, Mode::Read), &hotplug()).is_ok());
        assert!(check(&take(RWSEM, Mode::Write), &hotplug()).is_ok());
        assert!(check(&take(SRCU, Mode::Read), &hotplug()).is_ok());
        let (step, message) = rejected(&take(MUTEX, Mode::Read), &hotplug());
        assert_eq!(step, 0);
        assert!(message.contains("is a mutex, taken exclusively: write `lock Global(0)` without `read`"), "{message}");
        let (_, message) = rejected(&take(SRCU, Mode::Write), &hotplug());
        assert!(message.contains("is SRCU: readers write `lock Global(2) read`"), "{message}");
        assert!(check(&[Step::Synchronize(SyncKind::Srcu(LockRef::Global(SRCU)))], &hotplug()).is_ok());
        let (_, message) = rejected(&[Step::Synchronize(SyncKind::Srcu(LockRef::Global(MUTEX)))], &hotplug());
        assert!(message.contains("`synchronize_srcu` waits for an SRCU class's readers; `Global(0)` is a mutex"));
    }

    #[test]
    fn loops_that_would_run_a_step_too_often_are_rejected() {
        let nest = |times| Step::Repeat { times, body: vec![Step::Repeat { times, body: vec![work()] }] };
        assert!(check(&[nest(1024)], &hotplug()).is_ok());
        let (step, message) = rejected(&[nest(1025)], &hotplug());
        assert_eq!(step, 1);
        assert!(message.contains("may run 1050625 times in one operation"), "{message}");
        assert!(check(&[Step::Repeat { times: u32::MAX, body: vec![] }], &hotplug()).is_ok());
        let marks = [Step::Mark(Mark::PerfExitDone)];
        assert!(check(&marks, &hotplug()).is_ok());
    }

    #[test]
    fn nth_step_counts_blocks_before_their_bodies() {
        let steps = vec![work(), pmu_loop(vec![Step::MoveEvents, Step::AdoptUncore]), Step::StopMachine];
        assert_eq!(nth_step(&steps, 2), Some(&Step::MoveEvents));
        assert_eq!(nth_step(&steps, 4), Some(&Step::StopMachine));
        assert_eq!(nth_step(&steps, 5), None);
    }
}
