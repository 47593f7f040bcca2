//! `percpu-state`: Paul McKenney's "other style" from the thread, after RCU's
//! `->qsmaskinitnext`. Going down, the CPU is marked off-limits in a per-CPU usable mask under
//! `pmus_lock` first and its contexts are cleaned up after, under `pmus_srcu`; coming up, the
//! contexts are initialised first and the CPU marked usable at the very end (docs/model.md §1,
//! §4.4). No kernel did this for perf.

use sim::script::{CpuRef, Flag, InitFrom, Step};

use super::Handoff;
use super::SchemeOptions;
use super::scripts::{
    Locks, PerfCosts, PerfState, exit_each_pmu, handoff_loop, init_each_pmu, lock, read, unlock, work,
};

/// A new PMU's contexts start online on every possible CPU: the usable mask gates use instead.
pub(super) const REGISTER_INIT: InitFrom = InitFrom::AllPossible;

/// perf exit(c): the CPU made unusable under `pmus_lock`, then each PMU's context emptied
/// under `pmus_srcu`.
pub(super) fn perf_exit(o: &SchemeOptions, l: &Locks) -> Vec<Step> {
    let mut steps = vec![lock(l.pmus), Step::Set { flag: Flag::Usable(CpuRef::Arg), value: false }];
    if o.handoff == Handoff::Core {
        steps.push(handoff_loop(o));
    }
    steps.extend([unlock(l.pmus), read(l.srcu), exit_each_pmu(), unlock(l.srcu)]);
    steps
}

/// perf init(c): each PMU's context initialised under `pmus_srcu`; then, at the end of
/// `CPUHP_AP_PERF_ONLINE` only (the CPU is really up), the CPU made usable under `pmus_lock`.
pub(super) fn perf_init(l: &Locks, c: &PerfCosts, state: PerfState) -> Vec<Step> {
    let mut steps = vec![read(l.srcu), init_each_pmu(vec![work(c.ctx_init_ns)]), unlock(l.srcu)];
    if state == PerfState::ApOnline {
        steps.extend([lock(l.pmus), Step::Set { flag: Flag::Usable(CpuRef::Arg), value: true }, unlock(l.pmus)]);
    }
    steps
}
