//! The kernel model's story: deadlocks found the instant they close, lock models that match
//! queueing theory, and a detector that agrees with a brute-force reference.

use super::*;
use crate::engine::{Limits, StopReason};
use crate::locks::Mode;
use crate::perf::PerfConfig;
use crate::rng::exp_ns;
use crate::script::{Cost, CpuRef, IpiHandler, LockRef, Step, Step::*};
use proptest::prelude::*;

const A: ClassId = 0;
const B: ClassId = 1;
const C: ClassId = 2;
const H: ClassId = 3;

fn classes() -> Vec<LockClassDef> {
    let class = |name: &str, kind| LockClassDef::new(name, kind, Layout::Global);
    vec![
        class("lock_a", LockKind::Mutex),
        class("lock_b", LockKind::Mutex),
        class("lock_c", LockKind::Mutex),
        class("cpu_hotplug_lock", LockKind::PercpuRwsem),
    ]
}

fn lock(class: ClassId, mode: Mode) -> Step {
    Lock { lock: LockRef::Global(class), mode, nested: false }
}

fn unlock(class: ClassId) -> Step {
    Unlock { lock: LockRef::Global(class) }
}

fn work(ns: u64) -> Step {
    Work(Cost::fixed(ns))
}

/// A kernel whose task `i` sleeps `start_ns[i]`, then runs program `i` once.
fn kernel(
    scripts: &[(&str, Vec<Step>)],
    start_ns: &[u64],
    costs: Costs,
    on_deadlock: OnDeadlock,
) -> (Kernel, Scheduler) {
    kernel_timing(scripts, start_ns, costs, on_deadlock, None)
}

/// [`kernel`], timing only the scripts `timed` names (`None`: all).
fn kernel_timing(
    scripts: &[(&str, Vec<Step>)],
    start_ns: &[u64],
    costs: Costs,
    on_deadlock: OnDeadlock,
    timed: Option<Vec<ScriptId>>,
) -> (Kernel, Scheduler) {
    let programs = scripts.iter().map(|(name, steps)| Program::compile(name, steps).unwrap()).collect();
    let config = KernelConfig {
        seed: 1,
        run_index: 0,
        cpus: 4,
        costs,
        on_deadlock,
        classes: classes(),
        programs,
        perf: PerfConfig::without_pmus(),
        ctx_per_cpu: false,
        pmu_load: None,
        counters: Vec::new(),
        tracepoints: 0,
        // exact orders and the M/M/1//N closed form assume FIFO handoff
        mutex_fifo_handoff: true,
        timed,
    };
    let tasks = (0..scripts.len())
        .map(|i| TaskSpec {
            name: format!("task{i}"),
            cpu: i as u32 % 4,
            stream: i as u64,
            start_ns: 0,
            agent: Box::new(Sequence::new([(start_ns[i], i as ScriptId, Args::default())])),
            cpuhp_thread: None,
        })
        .collect();
    let mut sched = Scheduler::new();
    let kernel = Kernel::new(config, tasks, &mut sched).unwrap();
    (kernel, sched)
}

#[test]
fn pending_writer_blocks_recursive_reader_and_the_two_task_cycle_is_reported() {
    let reader = vec![lock(H, Mode::Read), work(20_000_000), lock(H, Mode::Read), unlock(H), unlock(H)];
    let writer = vec![lock(H, Mode::Write), unlock(H)];
    let (mut k, mut sched) =
        kernel(&[("reader", reader), ("writer", writer)], &[0, 1_000_000], Costs::default(), OnDeadlock::Stop);
    let outcome = sched.run(&mut k, &Limits::default());
    assert_eq!(outcome.stop, StopReason::Requested);
    let [d] = k.deadlocks() else { panic!("one deadlock expected: {:?}", k.deadlocks()) };
    // Fast-path read (10 ns), 20 ms of work, then the nested read blocks behind the writer,
    // whose grace period ended at 11 ms.
    assert_eq!(d.time_ns, 20_000_010);
    let who: Vec<_> = d.members.iter().map(|m| (m.task.as_str(), m.mode, m.position.as_str())).collect();
    assert_eq!(who, vec![("task0", Mode::Read, "reader+2"), ("task1", Mode::Write, "writer+0")]);
    let report = d.report();
    assert!(report.contains("*** DEADLOCK ***") && report.contains("pending writer"), "{report}");
}

#[test]
fn nested_read_during_the_writers_grace_period_does_not_deadlock() {
    let reader = vec![lock(H, Mode::Read), work(5_000_000), lock(H, Mode::Read), unlock(H), unlock(H)];
    let writer = vec![lock(H, Mode::Write), unlock(H)];
    let (mut k, mut sched) =
        kernel(&[("reader", reader), ("writer", writer)], &[0, 1_000_000], Costs::default(), OnDeadlock::Stop);
    let outcome = sched.run(&mut k, &Limits::default());
    assert_eq!(outcome.stop, StopReason::QueueEmpty);
    assert!(k.deadlocks().is_empty());
    assert_eq!(k.lock_stats()[H as usize].acquisitions, 3);
}

#[test]
fn abba_is_found_the_instant_it_forms_and_names_both_positions() {
    let t0 = vec![lock(A, Mode::Write), work(100), lock(B, Mode::Write), unlock(B), unlock(A)];
    let t1 = vec![lock(B, Mode::Write), work(100), lock(A, Mode::Write), unlock(A), unlock(B)];
    let (mut k, mut sched) = kernel(&[("ab", t0), ("ba", t1)], &[0, 0], Costs::default(), OnDeadlock::Stop);
    sched.run(&mut k, &Limits::default());
    let [d] = k.deadlocks() else { panic!("one deadlock expected") };
    // 20 ns fast path + 100 ns work: both second acquisitions happen at 120 ns.
    assert_eq!(d.time_ns, 120);
    let report = d.report();
    assert!(report.contains("ab+2") && report.contains("ba+2"), "{report}");
    assert!(report.contains("taken at ab+0") && report.contains("taken at ba+0"), "{report}");
    assert_eq!(d.signature(), "lock_a(W)@ba+2 -> lock_b(W)@ab+2");
}

#[test]
fn three_task_cycle_across_mutex_rwsem_and_second_mutex_is_found() {
    // task0 holds A and wants H for write; task1 reads H and wants C; task2 holds C, wants A.
    let t0 = vec![lock(A, Mode::Write), work(1_000_000), lock(H, Mode::Write), unlock(H), unlock(A)];
    let t1 = vec![lock(H, Mode::Read), work(5_000_000), lock(C, Mode::Write), unlock(C), unlock(H)];
    let t2 = vec![lock(C, Mode::Write), work(20_000_000), lock(A, Mode::Write), unlock(A), unlock(C)];
    let (mut k, mut sched) = kernel(&[("w", t0), ("r", t1), ("m", t2)], &[0, 0, 0], Costs::default(), OnDeadlock::Stop);
    sched.run(&mut k, &Limits::default());
    let [d] = k.deadlocks() else { panic!("one deadlock expected") };
    assert_eq!(d.time_ns, 20_000_020);
    let mut classes: Vec<_> = d.members.iter().map(|m| (m.waits_for_class.as_str(), m.mode)).collect();
    classes.sort();
    assert_eq!(classes, vec![("cpu_hotplug_lock", Mode::Write), ("lock_a", Mode::Write), ("lock_c", Mode::Write)]);
}

#[test]
fn freeze_keeps_the_cycle_blocked_and_lets_others_finish() {
    let t0 = vec![lock(A, Mode::Write), work(100), lock(B, Mode::Write), unlock(B), unlock(A)];
    let t1 = vec![lock(B, Mode::Write), work(100), lock(A, Mode::Write), unlock(A), unlock(B)];
    let t2 = vec![lock(C, Mode::Write), work(1000), unlock(C)];
    let (mut k, mut sched) =
        kernel(&[("ab", t0), ("ba", t1), ("c", t2)], &[0, 0, 0], Costs::default(), OnDeadlock::Freeze);
    let outcome = sched.run(&mut k, &Limits::default());
    assert_eq!(outcome.stop, StopReason::QueueEmpty);
    assert_eq!(k.deadlocks().len(), 1);
    let stalls = k.stalls();
    assert_eq!(stalls.len(), 2);
    assert!(stalls.iter().all(|s| s.frozen));
    assert_eq!(k.op_stats()[2].completed, 1);
}

#[test]
fn only_timed_scripts_keep_latencies_and_every_script_counts_completions() {
    let scripts = [("a", vec![lock(A, Mode::Write), work(700), unlock(A)]), ("c", vec![work(300)])];
    let (mut k, mut sched) = kernel_timing(&scripts, &[0, 0], Costs::default(), OnDeadlock::Stop, Some(vec![1]));
    sched.run(&mut k, &Limits::default());
    let ops = k.op_stats();
    assert_eq!((ops[0].completed, ops[0].latency_ns.len()), (1, 0), "script 0 is not timed");
    assert_eq!((ops[1].completed, ops[1].latency_ns.len()), (1, 1));
    assert_eq!(ops[1].latency_ns.max(), 300);
}

#[test]
fn lock_order_reports_abba_from_two_runs_that_never_deadlocked() {
    let ab = vec![lock(A, Mode::Write), lock(B, Mode::Write), unlock(B), unlock(A)];
    let ba = vec![lock(B, Mode::Write), lock(A, Mode::Write), unlock(A), unlock(B)];
    let mut merged = LockOrder::default();
    for (i, script) in [ab, ba].into_iter().enumerate() {
        let (mut k, mut sched) = kernel(&[("op", script)], &[0], Costs::default(), OnDeadlock::Stop);
        sched.run(&mut k, &Limits::default());
        assert!(k.deadlocks().is_empty());
        assert!(k.lock_order().cycles(|c| classes()[c as usize].kind).is_empty(), "run {i}");
        merged.merge(k.lock_order());
    }
    let cycles = merged.cycles(|c| classes()[c as usize].kind);
    assert_eq!(cycles.len(), 1);
    // Both seen at the same (run, time): A -> B is added first, B -> A closes the chain and
    // leads the report, followed by the chain back.
    let pairs: Vec<_> = cycles[0].edges.iter().map(|(a, b, _)| (a.class, b.class)).collect();
    assert_eq!(pairs, vec![(B, A), (A, B)]);
}

#[test]
fn recursive_read_is_a_possible_deadlock_even_without_a_writer() {
    let reader = vec![lock(H, Mode::Read), lock(H, Mode::Read), unlock(H), unlock(H)];
    let (mut k, mut sched) = kernel(&[("reader", reader)], &[0], Costs::default(), OnDeadlock::Stop);
    sched.run(&mut k, &Limits::default());
    assert!(k.deadlocks().is_empty());
    let cycles = k.lock_order().cycles(|c| classes()[c as usize].kind);
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0].edges[0].0.class, H);
}

/// Thinks for Exp(think) then holds lock A for Exp(hold), forever.
struct Repairman {
    think_ns: f64,
}

impl Agent for Repairman {
    fn next(&mut self, cx: &mut AgentCx<'_>) -> Next {
        if cx.last.is_some() || cx.now_ns == 0 {
            if let Some(last) = cx.last {
                assert!(last.result.is_ok());
            }
            return Next::Sleep { ns: exp_ns(cx.rng, self.think_ns) };
        }
        Next::Run { script: 0, args: Args::default() }
    }
}

/// M/M/1//N (the machine-repairman model): N customers thinking Exp(mean Z) between requests
/// to one FIFO server with Exp(mean S) service. With ρ = S/Z,
/// p0 = 1 / Σ_{n=0..N} N!/(N−n)! ρⁿ, utilisation U = 1 − p0, throughput X = U/S,
/// response R = N/X − Z, and mean wait in queue W = R − S.
fn repairman_theory(n: u32, think_ns: f64, hold_ns: f64) -> (f64, f64) {
    let rho = hold_ns / think_ns;
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..=n {
        term *= (n - k + 1) as f64 * rho;
        sum += term;
    }
    let utilisation = 1.0 - 1.0 / sum;
    let throughput = utilisation / hold_ns;
    let wait = n as f64 / throughput - think_ns - hold_ns;
    (utilisation, wait)
}

#[test]
fn mutex_with_zero_costs_matches_the_finite_population_single_server_queue() {
    let (n, think_ns, hold_ns) = (4u32, 3_000_000.0, 1_000_000.0);
    let (u_theory, w_theory) = repairman_theory(n, think_ns, hold_ns);
    let run_ns = 20_000_000_000u64;
    let replications = 16;
    let mut utilisations = Vec::new();
    let mut waits = Vec::new();
    for seed in 0..replications {
        let programs = vec![
            Program::compile("hold", &[lock(A, Mode::Write), Work(Cost::exp(hold_ns as u64)), unlock(A)]).unwrap(),
        ];
        let config = KernelConfig {
            seed,
            run_index: seed,
            cpus: 4,
            costs: Costs::zero(),
            on_deadlock: OnDeadlock::Stop,
            classes: classes(),
            programs,
            perf: PerfConfig::without_pmus(),
            ctx_per_cpu: false,
            pmu_load: None,
            counters: Vec::new(),
            tracepoints: 0,
            // exact orders and the M/M/1//N closed form assume FIFO handoff
            mutex_fifo_handoff: true,
            timed: None,
        };
        let tasks = (0..n)
            .map(|i| TaskSpec {
                name: format!("c{i}"),
                cpu: i,
                stream: i as u64,
                start_ns: 0,
                agent: Box::new(Repairman { think_ns }),
                cpuhp_thread: None,
            })
            .collect();
        let mut sched = Scheduler::new();
        let mut k = Kernel::new(config, tasks, &mut sched).unwrap();
        sched.run(&mut k, &Limits { until_ns: run_ns, ..Limits::default() });
        let stat = &k.lock_stats()[A as usize];
        utilisations.push(stat.hold_ns_total as f64 / run_ns as f64);
        waits.push(stat.wait_ns_total as f64 / stat.acquisitions as f64);
    }
    // Replications are independent: the tolerance is 4 standard errors of their mean, which a
    // correct model exceeds with probability < 1e-4; the SE itself must be small (< 2 %).
    for (name, xs, theory) in [("utilisation", &utilisations, u_theory), ("mean wait", &waits, w_theory)] {
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
        let se = (var / xs.len() as f64).sqrt();
        assert!(se < 0.02 * theory, "{name}: standard error {se} too large to test anything");
        assert!((mean - theory).abs() < 4.0 * se, "{name}: simulated {mean}, theory {theory}, se {se}");
    }
}

/// Whether `next` can be what `task` waits for, judged from held lists alone: it holds the
/// lock, or it is a writer waiting on the same percpu_rwsem (pending writers block readers).
fn edge_is_plausible(k: &Kernel, task: usize, next: usize) -> bool {
    let wait = k.tasks[task].wait.expect("a cycle member waits");
    let n = &k.tasks[next];
    let holds = n.held.iter().any(|h| h.lock == wait.lock);
    let pending_writer = n.wait.is_some_and(|w| w.lock == wait.lock && w.mode == Mode::Write);
    match k.locks.class_of(wait.lock).kind {
        LockKind::PercpuRwsem => holds || pending_writer,
        _ => holds,
    }
}

fn arb_script() -> impl Strategy<Value = Vec<Step>> {
    // 1 to 3 distinct-or-not acquisitions with work between, released innermost first.
    proptest::collection::vec((0u16..4, any::<bool>(), 0u64..3), 1..=3).prop_map(|locks| {
        let mut steps = Vec::new();
        for &(class, read, work_units) in &locks {
            let mode = if class == H && read { Mode::Read } else { Mode::Write };
            steps.push(lock(class, mode));
            steps.push(work(work_units * 1_000));
        }
        for &(class, _, _) in locks.iter().rev() {
            steps.push(unlock(class));
        }
        steps
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Brute-force reference: run to exhaustion and look whether any task is still blocked.
    /// The detector must have reported a cycle iff so; every reported edge must be plausible
    /// from the held lists; every reported task must never have moved again; every task still
    /// blocked must be stuck behind a reported one.
    #[test]
    fn detector_agrees_with_brute_force_on_final_deadlock(
        scripts in proptest::collection::vec(arb_script(), 2..=4),
        starts in proptest::collection::vec(0u64..4, 4),
    ) {
        let named: Vec<(String, Vec<Step>)> = scripts.iter().enumerate().map(|(i, s)| (format!("s{i}"), s.clone())).collect();
        let refs: Vec<(&str, Vec<Step>)> = named.iter().map(|(n, s)| (n.as_str(), s.clone())).collect();
        let start_ns: Vec<u64> = starts.iter().map(|s| s * 1_000).collect();
        let costs = Costs { rcu_grace_period_ns: 1_500, wakeup_ns: 300, ..Costs::default() };
        let (mut k, mut sched) = kernel(&refs, &start_ns, costs, OnDeadlock::Freeze);
        let outcome = sched.run(&mut k, &Limits { max_events: 100_000, ..Limits::default() });
        prop_assert_eq!(outcome.stop, StopReason::QueueEmpty);
        let stuck: Vec<usize> = (0..k.tasks.len()).filter(|&i| k.tasks[i].state != TaskState::Exited).collect();
        prop_assert_eq!(!k.deadlocks().is_empty(), !stuck.is_empty());
        let index = |name: &str| k.tasks.iter().position(|t| t.name == name).unwrap();
        for d in k.deadlocks() {
            let members: Vec<usize> = d.members.iter().map(|m| index(&m.task)).collect();
            for (i, &t) in members.iter().enumerate() {
                prop_assert_eq!(k.tasks[t].state, TaskState::Frozen);
                prop_assert!(edge_is_plausible(&k, t, members[(i + 1) % members.len()]));
            }
        }
        for &t in &stuck {
            let mut seen = vec![false; k.tasks.len()];
            let mut frontier = vec![t as TaskId];
            let mut reaches_frozen = false;
            while let Some(u) = frontier.pop() {
                if std::mem::replace(&mut seen[u as usize], true) {
                    continue;
                }
                reaches_frozen |= k.tasks[u as usize].state == TaskState::Frozen;
                frontier.extend_from_slice(k.blockers(u).as_slice());
            }
            prop_assert!(reaches_frozen, "task {} blocked but not behind a reported cycle", t);
        }
    }
}

/// Runs one script on task 0 from time 0 and returns when it ended.
fn end_time(steps: Vec<Step>, costs: Costs, cpus_offline: &[u32]) -> u64 {
    let (mut k, mut sched) = kernel(&[("op", steps)], &[0], costs, OnDeadlock::Stop);
    for &cpu in cpus_offline {
        k.set_online(cpu, false);
    }
    let outcome = sched.run(&mut k, &Limits::default());
    assert_eq!(k.op_stats()[0].completed, 1);
    outcome.end_ns
}

#[test]
fn primitive_costs_are_charged_exactly() {
    let costs = Costs::default();
    assert_eq!(end_time(vec![lock(A, Mode::Write), unlock(A)], costs, &[]), 20);
    assert_eq!(end_time(vec![Step::StopMachine], costs, &[]), 50_000 + 4 * 1_000);
    assert_eq!(end_time(vec![Step::StopMachine], costs, &[2]), 50_000 + 3 * 1_000);
    let ipi = |cpu| vec![Step::Ipi { cpu: CpuRef::Fixed(cpu), handler: IpiHandler::Work(Cost::fixed(500)) }];
    assert_eq!(end_time(ipi(1), costs, &[]), 2_000 + 500);
    assert_eq!(end_time(ipi(1), costs, &[1]), 0, "an IPI to an offline CPU returns -ENXIO at once");
    assert_eq!(end_time(vec![Step::Synchronize(SyncKind::Rcu)], costs, &[]), 10_000_000);
    assert_eq!(end_time(vec![Step::Synchronize(SyncKind::RcuExpedited)], costs, &[]), 50_000);
    let per_cpu = Cost { base_ns: 5_000, per_online_cpu_ns: 200, per_possible_cpu_ns: 300, exponential: false };
    assert_eq!(end_time(vec![Step::Work(per_cpu)], costs, &[0]), 5_000 + 3 * 200 + 4 * 300);
    assert_eq!(end_time(vec![lock(A, Mode::Write), Step::StopMachine, unlock(A)], Costs::zero(), &[]), 0);
}

#[test]
fn synchronize_srcu_waits_for_older_readers_and_its_grace_period() {
    let classes_with_srcu = || {
        let mut c = classes();
        c.push(LockClassDef::new("pmus_srcu", LockKind::Srcu, Layout::Global));
        c
    };
    let srcu = LockRef::Global(4);
    let reader = vec![Lock { lock: srcu, mode: Mode::Read, nested: false }, work(5_000_000), Unlock { lock: srcu }];
    let sync = vec![Step::Synchronize(SyncKind::Srcu(srcu))];
    let programs = vec![Program::compile("reader", &reader).unwrap(), Program::compile("sync", &sync).unwrap()];
    let config = KernelConfig {
        seed: 1,
        run_index: 0,
        cpus: 2,
        costs: Costs::default(),
        on_deadlock: OnDeadlock::Stop,
        classes: classes_with_srcu(),
        programs,
        perf: PerfConfig::without_pmus(),
        ctx_per_cpu: false,
        pmu_load: None,
        counters: Vec::new(),
        tracepoints: 0,
        // exact orders and the M/M/1//N closed form assume FIFO handoff
        mutex_fifo_handoff: true,
        timed: None,
    };
    let tasks = (0..2)
        .map(|i| TaskSpec {
            name: format!("t{i}"),
            cpu: i,
            stream: i as u64,
            start_ns: 0,
            agent: Box::new(Sequence::new([(i as u64 * 1_000, i as ScriptId, Args::default())])),
            cpuhp_thread: None,
        })
        .collect();
    let mut sched = Scheduler::new();
    let mut k = Kernel::new(config, tasks, &mut sched).unwrap();
    let outcome = sched.run(&mut k, &Limits::default());
    // The reader leaves at 5 ms + 10 ns; the synchronizer (blocked since its 2 ms grace period
    // ended) then runs after the 3 µs wake-up.
    assert_eq!(k.op_stats()[1].completed, 1);
    assert_eq!(outcome.end_ns, 5_000_010 + 3_000);
}

#[test]
fn contended_spinlock_hands_over_without_wakeup_latency() {
    let spin = |name: &str| LockClassDef::new(name, LockKind::Spinlock, Layout::Global);
    let programs = vec![Program::compile("hold", &[lock(0, Mode::Write), work(1_000), unlock(0)]).unwrap()];
    let config = KernelConfig {
        seed: 1,
        run_index: 0,
        cpus: 2,
        costs: Costs::default(),
        on_deadlock: OnDeadlock::Stop,
        classes: vec![spin("ctx->lock")],
        programs,
        perf: PerfConfig::without_pmus(),
        ctx_per_cpu: false,
        pmu_load: None,
        counters: Vec::new(),
        tracepoints: 0,
        // exact orders and the M/M/1//N closed form assume FIFO handoff
        mutex_fifo_handoff: true,
        timed: None,
    };
    let tasks = (0..2)
        .map(|i| TaskSpec {
            name: format!("t{i}"),
            cpu: i,
            stream: i as u64,
            start_ns: 0,
            agent: Box::new(Sequence::new([(0, 0, Args::default())])),
            cpuhp_thread: None,
        })
        .collect();
    let mut sched = Scheduler::new();
    let mut k = Kernel::new(config, tasks, &mut sched).unwrap();
    let outcome = sched.run(&mut k, &Limits::default());
    // t0: 50 ns + 1 µs; t1 spins from 0, is handed the lock at 1050 and pays 50 ns + 1 µs.
    assert_eq!(outcome.end_ns, 1_050 + 50 + 1_000);
    let stat = &k.lock_stats()[0];
    assert_eq!((stat.acquisitions, stat.contentions, stat.wait_ns_total, stat.bounces), (2, 1, 1_050, 1));
}

/// A CPU the hotplug mask shows offline while its PMU still runs: a PMI found due when the
/// kernel wakes its PMU (one held back by a busy handler) breaks invariant 2, at the same
/// instants whether the core units run ahead or not.
#[test]
fn a_pmi_due_on_an_offline_cpu_is_reported_at_its_instant_with_or_without_run_ahead() {
    let violations = [true, false].map(|run_ahead| {
        let load = PmuLoadConfig {
            sampling_events: 1,
            counting_events: 0,
            fold_on_overflow: true,
            read_interval_ns: 0,
            sample_period_events: 3_000,
            kind: crate::pmu::EventKind::Cycles,
            cpu: crate::pmu::CpuPmuConfig { skid_ns: 0, handler_ns: 2_500, ..crate::pmu::CpuPmuConfig::default() },
            phases: crate::pmu::PhaseConfig::default(),
            governor: crate::pmu::GovernorConfig::default(),
            uncore_counting: false,
            run_ahead,
        };
        let config = KernelConfig {
            seed: 7,
            run_index: 0,
            cpus: 3,
            costs: Costs::default(),
            on_deadlock: OnDeadlock::Stop,
            classes: classes(),
            programs: Vec::new(),
            perf: PerfConfig::without_pmus(),
            ctx_per_cpu: false,
            pmu_load: Some(load),
            counters: Vec::new(),
            tracepoints: 0,
            // exact orders and the M/M/1//N closed form assume FIFO handoff
            mutex_fifo_handoff: true,
            timed: None,
        };
        let mut sched = Scheduler::new();
        let mut k = Kernel::new(config, Vec::new(), &mut sched).unwrap();
        k.set_online(1, false);
        let outcome = sched.run(&mut k, &Limits { until_ns: 50_000_000, ..Limits::default() });
        assert_eq!(outcome.stop, StopReason::TimeLimit);
        k.finish(&outcome);
        let pmis = k.pmu_stats().unwrap().pmis;
        (k.violations().to_vec(), pmis)
    });
    let [(ahead, ahead_pmis), (eager, eager_pmis)] = violations;
    assert_eq!(ahead, eager);
    assert_eq!(ahead_pmis, eager_pmis);
    // An overflow about every microsecond, 2.5 µs handlers: each PMI waits for the one before
    // (up to the 400 samples a tick allows).
    assert!(ahead.len() >= 20, "{} violations in {ahead_pmis} PMIs", ahead.len());
    assert!(ahead.iter().all(|v| v.invariant == Invariant::NoPmiOnOfflineCpu && v.cpu == 1));
    assert!(ahead.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
}
