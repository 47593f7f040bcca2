//! Task contexts (docs/model.md §4.12): a monitored task's own events with `inherit`, cloned
//! into each child at fork, freed at the child's exit or by the parent event's release, and
//! prctl's `PR_TASK_PERF_EVENTS_DISABLE`. Task contexts' `ctx->mutex` is its own lockdep
//! class, apart from CPU contexts' `cpuctx_mutex`.

use sim::locks::Mode;
use sim::script::{CpuRef, IpiHandler, PmuRef, Step, TaskSlot};

use super::events::{Family, Paths};
use super::scripts::{Locks, lock, unlock, work};

/// The operations' own `perf_event_mutex` and event `child_mutex`, and the task contexts.
fn own_ctx() -> sim::script::LockRef {
    Locks::task_ctx(TaskSlot::Own)
}

fn child_ctx() -> sim::script::LockRef {
    Locks::task_ctx(TaskSlot::Child)
}

/// `perf_remove_from_owner()`: the owner's `perf_event_mutex`, nested, taken and dropped.
pub(super) fn remove_from_owner(l: &Locks) -> Vec<Step> {
    vec![Step::Lock { lock: l.perf_event_mutex, mode: Mode::Write, nested: true }, unlock(l.perf_event_mutex)]
}

/// The end of `perf_event_open()`: the event goes on the owner's list under `perf_event_mutex`.
pub(super) fn add_to_owner(l: &Locks) -> Vec<Step> {
    vec![lock(l.perf_event_mutex), unlock(l.perf_event_mutex)]
}

/// `perf_event_open()` of an inherited task event (`pid` = the task, `cpu` = -1): event
/// init, `account_event()`, then the task context's `ctx->mutex`; no online check.
pub(super) fn perf_event_open_task(p: &Paths<'_>, family: Family) -> Vec<Step> {
    let mut steps = p.perf_init_event(family, false);
    steps.extend(p.account_task_event());
    steps.extend([lock(own_ctx()), work(p.c.install_ns), unlock(own_ctx())]);
    steps.extend(add_to_owner(p.l));
    steps
}

/// Fork's `perf_event_init_context()`: the parent's task `ctx->mutex` over `inherit_event()`,
/// whose `perf_event_alloc()` runs the child's event init under it, then the parent event's
/// `child_mutex` for the list add.
pub(super) fn perf_event_fork(p: &Paths<'_>, family: Family) -> Vec<Step> {
    let l = p.l;
    let mut steps = vec![lock(own_ctx())];
    steps.extend(p.perf_init_event(family, true));
    steps.extend(p.account_task_event());
    steps.extend([lock(l.child), work(p.c.inherit_ns), unlock(l.child), unlock(own_ctx())]);
    steps
}

/// The child's free (`free_event()`): its destroy and `unaccount_event()`.
fn free_child(p: &Paths<'_>, family: Family) -> Vec<Step> {
    let mut steps = p.destroy(family, true);
    steps.extend(p.unaccount_task_event());
    steps
}

/// `perf_event_exit_task()` of an inheriting child: its `perf_event_mutex`, then under its
/// task `ctx->mutex`, `perf_event_exit_event()`: `sync_child_event()` takes and drops the
/// parent event's `child_mutex`, and `free_event()` runs with the child context still held.
pub(super) fn perf_event_exit_task(p: &Paths<'_>, family: Family) -> Vec<Step> {
    let l = p.l;
    let child_owner = Locks::perf_event_mutex(TaskSlot::Child);
    let mut steps = vec![lock(child_owner), unlock(child_owner), lock(child_ctx()), work(p.c.exit_event_ns)];
    steps.extend([lock(l.child), unlock(l.child)]);
    steps.extend(free_child(p, family));
    steps.push(unlock(child_ctx()));
    steps
}

/// `perf_event_release_kernel()` of an inherited task event with `children` live: the
/// event's own context, then the children loop (`child_mutex` ↔ the child's `ctx->mutex`),
/// freeing each child under both (v4.13) or after the unlocks (`free_outside_ctx_mutex`,
/// 82d94856fa22, v4.15), then the event's own destroy with no perf lock held.
pub(super) fn perf_event_release_task(p: &Paths<'_>, family: Family) -> Vec<Step> {
    let l = p.l;
    let mut steps = remove_from_owner(l);
    steps.extend([lock(own_ctx()), work(p.c.remove_ns), unlock(own_ctx())]);
    let mut each = vec![unlock(l.child), lock(child_ctx()), lock(l.child), work(p.c.remove_ns)];
    if !p.o.free_outside_ctx_mutex {
        each.extend(free_child(p, family));
    }
    each.extend([unlock(l.child), unlock(child_ctx()), lock(l.child)]);
    steps.extend([lock(l.child), Step::ForEachChild { body: each }, unlock(l.child)]);
    if p.o.free_outside_ctx_mutex {
        steps.push(Step::ForEachChild { body: free_child(p, family) });
    }
    steps.extend(p.destroy(family, false));
    steps.extend(p.unaccount_task_event());
    steps
}

/// `perf_event_task_disable()` / `perf_event_task_enable()` (prctl
/// `PR_TASK_PERF_EVENTS_DISABLE` / `_ENABLE`, the same locks) over the task's one CPU event:
/// `perf_event_mutex` → the event's `cpuctx_mutex` → `perf_event_for_each_child()`'s
/// `child_mutex`, disabling or enabling by IPI.
pub(super) fn prctl_task(p: &Paths<'_>) -> Vec<Step> {
    let l = p.l;
    let ctx = Locks::ctx(CpuRef::Arg, PmuRef::Arg);
    vec![
        lock(l.perf_event_mutex),
        lock(ctx),
        lock(l.child),
        Step::Ipi { cpu: CpuRef::Arg, handler: IpiHandler::Work(sim::script::Cost::fixed(p.c.disable_ns)) },
        unlock(l.child),
        unlock(ctx),
        unlock(l.perf_event_mutex),
    ]
}
