//! `legacy`: the base the May 2017 RFC patched (tip tree, not a release). `perf_event_open` and
//! `perf_pmu_register` hold the hotplug read lock (`get_online_cpus()`); the hotplug callbacks
//! walk the PMUs under `pmus_srcu` and set or clear `cpuctx->online` (docs/model.md §1, §4.4).

use sim::script::{InitFrom, Step};

use super::Handoff;
use super::SchemeOptions;
use super::scripts::{Locks, exit_each_pmu, handoff_loop, init_each_pmu, lock, read, unlock};

/// A new PMU's contexts start online where the CPU is (`cpu_online()`), which the hotplug
/// read lock held around registration keeps stable.
pub(super) const REGISTER_INIT: InitFrom = InitFrom::CpuOnline;

/// perf exit(c): under `pmus_srcu`, each PMU's context emptied and marked offline.
pub(super) fn perf_exit(o: &SchemeOptions, l: &Locks) -> Vec<Step> {
    let mut steps = Vec::new();
    if o.handoff == Handoff::Core {
        steps.extend([lock(l.pmus), handoff_loop(o), unlock(l.pmus)]);
    }
    steps.extend([read(l.srcu), exit_each_pmu(), unlock(l.srcu)]);
    steps
}

/// perf init(c): under `pmus_srcu`, each PMU's context marked online.
pub(super) fn perf_init(l: &Locks) -> Vec<Step> {
    vec![read(l.srcu), init_each_pmu(Vec::new()), unlock(l.srcu)]
}
