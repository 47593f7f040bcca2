//! perf's v4.13 paths one at a time (docs/model.md §4.12), each run by fixed sequences of
//! operations on a quiet machine (no hotplug), asserting exact counts and lock-order edges.

use sim::engine::{Limits, Scheduler, StopReason};
use sim::kernel::{Args, Kernel, KernelConfig, OnDeadlock, Sequence, TaskSpec};
use sim::perf::{PerfConfig, PmuDef, PmuScope};
use sim::script::{Program, ScriptId};
use workloads::scenario::Scenario;
use workloads::schemes::{CLASSES, class_id, class_table, counter_table, op};

/// PMU slots of the test machine: the software context's `software` and `tracepoint`, and `cpu`.
const TRACEPOINT_PMU: u16 = 1;
const CPU_PMU: u16 = 2;

/// One task's operations: `(sleep before, operation, args)`.
type Ops = Vec<(u64, ScriptId, Args)>;

/// Runs each task's operations to the end on 8 CPUs under `overrides` of the default scenario.
fn run(overrides: &[(&str, &str)], tasks: Vec<Ops>) -> Kernel {
    let mut scenario = Scenario::default();
    scenario.machine.cpus = 8;
    scenario.machine.packages = 1;
    let scheme_text: String = overrides
        .iter()
        .map(|(k, v)| format!("{} = {v}\n", k.strip_prefix("scheme.").expect("a scheme key")))
        .collect();
    scenario.scheme = toml::from_str(&scheme_text).unwrap();
    let programs = workloads::run::scenario_scripts(&scenario)
        .unwrap()
        .iter()
        .map(|(name, steps)| Program::compile(name, steps).unwrap())
        .collect();
    let pmu = |name: &str, scope| PmuDef { name: name.into(), scope, at_boot: true };
    let config = KernelConfig {
        seed: 1,
        run_index: 0,
        cpus: 8,
        costs: scenario.costs.kernel(),
        on_deadlock: OnDeadlock::Stop,
        classes: class_table(false),
        programs,
        perf: PerfConfig {
            packages: 1,
            pmus: vec![
                pmu("software", PmuScope::Software),
                pmu("tracepoint", PmuScope::Software),
                pmu("cpu", PmuScope::Core),
            ],
            view: scenario.scheme_kind().unwrap().view(),
        },
        ctx_per_cpu: false,
        pmu_load: None,
        counters: counter_table(),
        tracepoints: 4,
        mutex_fifo_handoff: false,
        timed: None,
    };
    let specs = tasks
        .into_iter()
        .enumerate()
        .map(|(i, ops)| TaskSpec {
            name: format!("perf/{i}"),
            cpu: i as u32 % 8,
            stream: i as u64,
            start_ns: 0,
            agent: Box::new(Sequence::new(ops)),
            cpuhp_thread: None,
        })
        .collect();
    let mut sched = Scheduler::new();
    let mut kernel = Kernel::new(config, specs, &mut sched).unwrap();
    let outcome = sched.run(&mut kernel, &Limits::default());
    assert_eq!(outcome.stop, StopReason::QueueEmpty);
    assert!(kernel.deadlocks().is_empty() && kernel.violations().is_empty(), "{:?}", kernel.violations());
    kernel
}

fn acquisitions(kernel: &mut Kernel, class: &str) -> u64 {
    kernel.lock_stats()[class_id(class).unwrap() as usize].acquisitions
}

fn counter(kernel: &Kernel, name: &str) -> u64 {
    kernel.counter_totals().into_iter().find(|(n, _)| n == name).unwrap().1
}

/// Whether lockdep would have the edge `held → taken` (any subclass or mode).
fn edge(kernel: &Kernel, held: &str, taken: &str) -> bool {
    let (held, taken) = (class_id(held).unwrap(), class_id(taken).unwrap());
    kernel.lock_order().edges().any(|(h, t, _)| h.class == held && t.class == taken)
}

fn tp_event(task: u32, cpu: u32, tracepoint: u16) -> Args {
    Args { cpu, pmu: TRACEPOINT_PMU, event: u64::from(task) << 32 | 1, tracepoint, children: 0 }
}

/// `n` tasks each open one event on `tracepoint`, all opens before any release.
fn overlapping_users(n: u32, tracepoint: u16) -> Vec<Ops> {
    (0..n)
        .map(|i| {
            let args = tp_event(i, i % 8, tracepoint);
            vec![(1_000 * u64::from(i) + 1, op::OPEN_TP, args), (10_000_000, op::RELEASE_TP, args)]
        })
        .collect()
}

#[test]
fn a_tracepoints_probe_registers_once_for_n_concurrent_users_and_unregisters_on_the_last() {
    for n in [1, 2, 8, 32] {
        let mut kernel = run(&[], overlapping_users(n, 0));
        let ops = kernel.op_stats();
        assert_eq!((ops[op::OPEN_TP as usize].completed, ops[op::RELEASE_TP as usize].completed), (n as u64, n as u64));
        // perf_trace_init and perf_trace_destroy: event_mutex on every open and release.
        assert_eq!(acquisitions(&mut kernel, "event_mutex"), 2 * u64::from(n), "n = {n}");
        // The probe: registered by the first user, unregistered by the last.
        assert_eq!(acquisitions(&mut kernel, "tracepoints_mutex"), 2, "n = {n}");
        // The key: static_key_slow_inc's slow path on 0 -> 1, static_key_slow_dec's 1 -> 0.
        assert_eq!(acquisitions(&mut kernel, "jump_label_mutex"), 2, "n = {n}");
        assert_eq!(acquisitions(&mut kernel, "cpu_hotplug_lock"), 2, "n = {n}");
        for name in ["perf_refcount", "tp->funcs", "tp->key"] {
            assert_eq!(counter(&kernel, name), 0, "{name} after every release, n = {n}");
        }
    }
    // Users of two tracepoints, and a second round after the first has ended: a probe each time
    // a tracepoint goes from no user to one.
    let mut tasks = overlapping_users(4, 0);
    tasks.extend(overlapping_users(4, 1).into_iter().map(|ops| {
        ops.into_iter()
            .map(|(sleep, script, args)| (sleep, script, Args { event: args.event | 1 << 16, ..args }))
            .collect()
    }));
    tasks.push(vec![(50_000_000, op::OPEN_TP, tp_event(99, 0, 0)), (1_000_000, op::RELEASE_TP, tp_event(99, 0, 0))]);
    let mut kernel = run(&[], tasks);
    assert_eq!(acquisitions(&mut kernel, "jump_label_mutex"), 6);
    assert_eq!(acquisitions(&mut kernel, "tracepoints_mutex"), 6);
}

#[test]
fn a_release_without_children_never_holds_a_cpu_context_while_it_takes_event_mutex() {
    let kernel = run(&[], overlapping_users(16, 0));
    assert!(
        edge(&kernel, "event_mutex", "tracepoints_mutex") && edge(&kernel, "tracepoints_mutex", "cpu_hotplug_lock")
    );
    assert!(!edge(&kernel, "cpuctx_mutex", "event_mutex"), "open or release took event_mutex under a CPU context");
    assert!(!edge(&kernel, "event->child_mutex", "event_mutex"));
}

/// `perf record -e tp -- make`: the task event, two forks, then perf closes it with both
/// children alive.
fn inherited_children_released_by_the_parent() -> Vec<Ops> {
    let tp = Args { tracepoint: 2, ..Args::default() };
    vec![vec![
        (1, op::OPEN_TASK_TP, tp),
        (1_000, op::FORK, tp),
        (1_000, op::FORK, Args { children: 1, ..tp }),
        (1_000_000, op::RELEASE_TASK_TP, Args { children: 2, ..tp }),
    ]]
}

#[test]
fn inherited_tracepoint_children_order_ctx_mutex_child_mutex_event_mutex_on_the_2017_path_only() {
    let mut kernel = run(&[], inherited_children_released_by_the_parent());
    assert!(edge(&kernel, "ctx->mutex", "event->child_mutex"));
    assert!(edge(&kernel, "event->child_mutex", "event_mutex"), "v4.13 frees each child under child_mutex");
    // Three perf users of the tracepoint (the event and two children), one registration.
    assert_eq!(acquisitions(&mut kernel, "tracepoints_mutex"), 2);
    assert_eq!(counter(&kernel, "perf_refcount"), 0);
    assert_eq!(counter(&kernel, "perf_sched_count"), 0);
    let fixed = run(&[("scheme.free_outside_ctx_mutex", "true")], inherited_children_released_by_the_parent());
    assert!(edge(&fixed, "ctx->mutex", "event->child_mutex"));
    assert!(!edge(&fixed, "event->child_mutex", "event_mutex"), "82d94856fa22 frees children after the unlocks");
    assert_eq!(counter(&fixed, "perf_refcount"), 0);
    // The task context class is not the CPU contexts' class.
    assert_ne!(class_id("ctx->mutex"), class_id("cpuctx_mutex"));
    assert_eq!(CLASSES.iter().filter(|(n, _, _)| n.ends_with("mutex") && n.contains("ctx")).count(), 2);
}

#[test]
fn set_filter_holds_the_cpu_context_while_it_takes_event_mutex_until_v4_15() {
    let args = tp_event(0, 3, 1);
    let ops = || vec![vec![(1, op::OPEN_TP, args), (1_000, op::SET_FILTER, args), (1_000, op::RELEASE_TP, args)]];
    let kernel = run(&[], ops());
    assert!(edge(&kernel, "cpuctx_mutex", "event_mutex"));
    let mut fixed = run(&[("scheme.set_filter_outside_ctx_mutex", "true")], ops());
    assert!(!edge(&fixed, "cpuctx_mutex", "event_mutex"), "perf_tracepoint_set_filter() drops ctx->mutex");
    assert_eq!(acquisitions(&mut fixed, "event_mutex"), 3);
}

#[test]
fn the_first_hardware_user_reserves_the_pmu_and_the_last_releases_it() {
    let hw = |task: u32| Args { cpu: task % 8, pmu: CPU_PMU, event: u64::from(task) << 32 | 1, ..Args::default() };
    // Opens 1 ms apart, so that each finds the reservation made; releases in the same order.
    let spaced = |gap: u64| -> Vec<Ops> {
        (0..6).map(|i| vec![(gap * u64::from(i) + 1, op::OPEN, hw(i)), (10_000_000, op::RELEASE, hw(i))]).collect()
    };
    let mut kernel = run(&[], spaced(1_000_000));
    // x86_reserve_hardware on 0 -> 1 and x86_release_hardware on 1 -> 0, each under
    // pmc_reserve_mutex, each taking get_online_cpus() for the DS buffers.
    assert_eq!(acquisitions(&mut kernel, "pmc_reserve_mutex"), 2);
    assert_eq!(acquisitions(&mut kernel, "cpu_hotplug_lock"), 2);
    assert!(edge(&kernel, "pmc_reserve_mutex", "cpu_hotplug_lock"));
    assert_eq!(counter(&kernel, "pmc_refcount"), 0);
    // Opens 1 us apart: the later ones find pmc_refcount still 0 (the first is reserving), wait
    // for pmc_reserve_mutex, and under it find the reservation made: one reservation still.
    let mut kernel = run(&[], spaced(1_000));
    assert_eq!(acquisitions(&mut kernel, "pmc_reserve_mutex"), 6 + 1);
    assert_eq!(acquisitions(&mut kernel, "cpu_hotplug_lock"), 2);
    // efe951d3de91 (v4.15): no get_online_cpus() in the DS buffers.
    let mut fixed = run(&[("scheme.ds_buffers_hotplug_lock", "false")], spaced(1_000_000));
    assert_eq!(acquisitions(&mut fixed, "cpu_hotplug_lock"), 0);
}

#[test]
fn a_tracepoint_sibling_inits_under_its_leaders_context_nested_until_v4_15() {
    let leader = Args { cpu: 2, pmu: CPU_PMU, event: 1, ..Args::default() };
    let sibling = Args { event: 2, tracepoint: 3, ..leader };
    let ops = || {
        vec![vec![
            (1, op::OPEN, leader),
            (1_000, op::OPEN_SIBLING_TP, sibling),
            (1_000, op::RELEASE_TP, sibling),
            (1_000, op::RELEASE, leader),
        ]]
    };
    let nested_edge = |kernel: &Kernel| {
        let (ctx, event) = (class_id("cpuctx_mutex").unwrap(), class_id("event_mutex").unwrap());
        kernel.lock_order().edges().any(|(h, t, _)| h.class == ctx && h.subclass == 1 && t.class == event)
    };
    let kernel = run(&[], ops());
    assert!(nested_edge(&kernel), "perf_try_init_event() takes the leader's ctx->mutex, SINGLE_DEPTH_NESTING");
    assert_eq!(kernel.op_stats()[op::OPEN_SIBLING_TP as usize].completed, 1);
    let fixed = run(&[("scheme.sw_sibling_init_unlocked", "true")], ops());
    assert!(!nested_edge(&fixed) && !edge(&fixed, "cpuctx_mutex", "event_mutex"));
}

#[test]
fn software_events_take_the_key_slow_path_only_for_the_first_and_hlist_under_pmus_lock() {
    let sw = |task: u32| Args { cpu: task % 8, pmu: 0, event: u64::from(task) << 32 | 1, ..Args::default() };
    let tasks: Vec<Ops> = (0..5)
        .map(|i| vec![(1_000_000 * u64::from(i) + 1, op::OPEN_SW, sw(i)), (10_000_000, op::RELEASE_SW, sw(i))])
        .collect();
    let mut kernel = run(&[], tasks);
    // static_key_slow_inc's slow path once; static_key_slow_dec takes cpus_read_lock on all 5.
    assert_eq!(acquisitions(&mut kernel, "jump_label_mutex"), 2);
    assert_eq!(acquisitions(&mut kernel, "cpu_hotplug_lock"), 1 + 5);
    assert_eq!(acquisitions(&mut kernel, "pmus_lock"), 5);
    assert_eq!(acquisitions(&mut kernel, "swhash->hlist_mutex"), 10);
    assert!(edge(&kernel, "pmus_lock", "swhash->hlist_mutex"));
    assert_eq!(counter(&kernel, "perf_swevent_enabled"), 0);
}

/// A branch-stack sibling (`x86_add_exclusive(x86_lbr_exclusive_lbr)`): the first LBR user
/// takes `pmc_reserve_mutex` under its leader's context, nested; a second finds the count
/// non-zero and takes nothing; the destroy decrements without a lock. v4.15's software-context
/// exemption (43fa87f7deed) leaves hardware siblings under the leader's lock.
#[test]
fn a_branch_stack_sibling_takes_pmc_reserve_mutex_under_its_leaders_context_only_as_the_first_lbr_user() {
    let leader = Args { cpu: 2, pmu: CPU_PMU, event: 1, ..Args::default() };
    let [first, second] = [2, 3].map(|event| Args { event, ..leader });
    let ops = vec![vec![
        (1, op::OPEN, leader),
        (1_000, op::OPEN_SIBLING_LBR, first),
        (1_000, op::OPEN_SIBLING_LBR, second),
        (1_000, op::RELEASE_LBR, second),
        (1_000, op::RELEASE_LBR, first),
        (1_000, op::RELEASE, leader),
    ]];
    let nested_edge = |kernel: &Kernel| {
        let (ctx, pmc) = (class_id("cpuctx_mutex").unwrap(), class_id("pmc_reserve_mutex").unwrap());
        kernel.lock_order().edges().any(|(h, t, _)| h.class == ctx && h.subclass == 1 && t.class == pmc)
    };
    for fixed in ["false", "true"] {
        let mut kernel = run(&[("scheme.sw_sibling_init_unlocked", fixed)], ops.clone());
        assert!(nested_edge(&kernel), "sw_sibling_init_unlocked = {fixed}");
        // The leader's reservation (0 -> 1) and release (1 -> 0), and the first LBR user's.
        assert_eq!(acquisitions(&mut kernel, "pmc_reserve_mutex"), 3);
        assert_eq!(counter(&kernel, "lbr_exclusive"), 0);
        assert_eq!(counter(&kernel, "pmc_refcount"), 0);
        assert_eq!(kernel.op_stats()[op::OPEN_SIBLING_LBR as usize].completed, 2);
    }
}
