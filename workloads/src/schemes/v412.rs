//! `v4.12`: the code that shipped in v4.12.0. `perf_event_open` holds `get_online_cpus()`
//! across and checks `cpu_online()` in `find_get_context()`; the hotplug callbacks walk the
//! PMUs under `pmus_srcu` and remove each context's events, with no online flag; init walks no
//! PMU (`perf_swevent_init_cpu()` only); `perf_pmu_register()` takes `pmus_lock` alone
//! (v4.12.0 `kernel/events/core.c`, docs/model.md §4.4).

use sim::script::{CpuRef, InitFrom, IpiHandler, PmuFilter, PmuRef, Step};

use super::Handoff;
use super::SchemeOptions;
use super::scripts::{Locks, handoff_loop, lock, read, unlock};

/// v4.12 has no `cpuctx->online`: every context stays open, and open checks `cpu_online()`.
pub(super) const REGISTER_INIT: InitFrom = InitFrom::AllPossible;

/// perf exit(c) (`perf_event_exit_cpu_context()`): under `pmus_srcu`, each PMU's context
/// emptied by IPI under its `ctx->mutex`.
pub(super) fn perf_exit(o: &SchemeOptions, l: &Locks) -> Vec<Step> {
    let mut steps = Vec::new();
    if o.handoff == Handoff::Core {
        steps.extend([lock(l.pmus), handoff_loop(o), unlock(l.pmus)]);
    }
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Loop);
    let body = vec![lock(ctx), Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::RemoveEvents }, unlock(ctx)];
    steps.extend([read(l.srcu), Step::ForEachPmu { filter: PmuFilter::All, body }, unlock(l.srcu)]);
    steps
}
