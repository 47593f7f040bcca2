//! `pmus-lock`: the posted fix, merged as a63fbed776c7 (v4.13). The hotplug callbacks walk the
//! PMUs under `pmus_lock` and set `cpuctx->online` and `perf_online_mask`; `perf_event_open`
//! checks `cpuctx->online` under `ctx->mutex` (v4.13 `perf_event_init_cpu()`,
//! `perf_event_exit_cpu_context()`, docs/model.md §4.4, §4.5). `pmus-lock-nocheck`, the
//! negative control, is the same without the check.

use sim::script::{CpuRef, Flag, InitFrom, Step};

use super::Handoff;
use super::SchemeOptions;
use super::scripts::{Locks, exit_each_pmu, handoff_loop, init_each_pmu, lock, unlock};

/// A new PMU's contexts start online where `perf_online_mask` says (v4.13 `perf_pmu_register()`).
pub(super) const REGISTER_INIT: InitFrom = InitFrom::PerfOnline;

/// perf exit(c): under `pmus_lock`, each PMU's context emptied and marked offline, then the
/// CPU cleared from `perf_online_mask`.
pub(super) fn perf_exit(o: &SchemeOptions, l: &Locks) -> Vec<Step> {
    let mut steps = vec![lock(l.pmus)];
    if o.handoff == Handoff::Core {
        steps.push(handoff_loop(o));
    }
    steps.extend([exit_each_pmu(), Step::Set { flag: Flag::PerfOnline(CpuRef::Arg), value: false }, unlock(l.pmus)]);
    steps
}

/// perf init(c): under `pmus_lock`, the CPU set in `perf_online_mask`, then each PMU's context
/// marked online.
pub(super) fn perf_init(l: &Locks) -> Vec<Step> {
    vec![
        lock(l.pmus),
        Step::Set { flag: Flag::PerfOnline(CpuRef::Arg), value: true },
        init_each_pmu(Vec::new()),
        unlock(l.pmus),
    ]
}
