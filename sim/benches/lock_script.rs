//! One lock-script step in the kernel model: a task's `lock`/`unlock` of a mutex, uncontended
//! and with four tasks queueing on it (FIFO handoff and wake-ups), per step executed.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sim::engine::{Limits, Scheduler, StopReason};
use sim::kernel::{Args, Costs, Kernel, KernelConfig, LockClassDef, OnDeadlock, Sequence, TaskSpec};
use sim::locks::{LockKind, Mode};
use sim::perf::PerfConfig;
use sim::script::{Cost, Layout, LockRef, Program, Step};

/// `lock`/`unlock` pairs in the one script each task runs.
const PAIRS: usize = 1000;
/// Times each task runs the script.
const OPS_PER_TASK: usize = 10;

fn script() -> Program {
    let lock = LockRef::Global(0);
    let pair =
        [Step::Lock { lock, mode: Mode::Write, nested: false }, Step::Work(Cost::fixed(100)), Step::Unlock { lock }];
    let steps: Vec<Step> = (0..PAIRS).flat_map(|_| pair.clone()).collect();
    Program::compile("lock_unlock", &steps).expect("a balanced script within the step limit")
}

fn kernel(tasks: u32, program: &Program) -> (Kernel, Scheduler) {
    let config = KernelConfig {
        seed: 1,
        run_index: 0,
        cpus: tasks,
        costs: Costs::default(),
        on_deadlock: OnDeadlock::Stop,
        classes: vec![LockClassDef::new("bench_mutex", LockKind::Mutex, Layout::Global)],
        programs: vec![program.clone()],
        perf: PerfConfig::without_pmus(),
        ctx_per_cpu: false,
        pmu_load: None,
        counters: Vec::new(),
        tracepoints: 0,
        // exact orders and the M/M/1//N closed form assume FIFO handoff
        mutex_fifo_handoff: true,
        timed: None,
    };
    let specs = (0..tasks)
        .map(|i| TaskSpec {
            name: format!("task{i}"),
            cpu: i,
            stream: u64::from(i),
            start_ns: 0,
            agent: Box::new(Sequence::new((0..OPS_PER_TASK).map(|_| (0, 0, Args::default())))),
            cpuhp_thread: None,
        })
        .collect();
    let mut sched = Scheduler::new();
    let kernel = Kernel::new(config, specs, &mut sched).expect("a valid kernel");
    (kernel, sched)
}

fn lock_script_step(c: &mut Criterion) {
    let program = script();
    let mut group = c.benchmark_group("lock_script_step");
    group.sample_size(20);
    for tasks in [1u32, 4] {
        let steps = u64::from(tasks) * (OPS_PER_TASK * PAIRS * 3) as u64;
        group.throughput(Throughput::Elements(steps));
        group.bench_with_input(BenchmarkId::new("mutex_tasks", tasks), &tasks, |b, &tasks| {
            b.iter_batched(
                || kernel(tasks, &program),
                |(mut kernel, mut sched)| {
                    let outcome = sched.run(&mut kernel, &Limits::default());
                    assert_eq!(outcome.stop, StopReason::QueueEmpty);
                    black_box(outcome)
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, lock_script_step);
criterion_main!(benches);
