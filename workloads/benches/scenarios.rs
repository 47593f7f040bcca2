//! Whole pieces of the model: one `cpu_down` + `cpu_up` of a CPU on a 4,096-CPU machine under the
//! `storm` preset's scheme (no other load), and a whole run of the `default` preset.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sim::engine::{Limits, Scheduler, StopReason};
use sim::kernel::{Args, Kernel, KernelConfig, OnDeadlock, Sequence, TaskSpec};
use sim::perf::{PerfConfig, PmuDef, PmuScope};
use sim::script::Program;
use workloads::presets::{preset_text, resolve};
use workloads::run::{run, scenario_scripts};
use workloads::scenario::Scenario;
use workloads::schemes::{class_table, op};

fn preset(name: &str) -> Scenario {
    resolve(preset_text(name).expect("a built-in preset"), &[]).expect("a valid preset")
}

/// The storm preset's kernel with one task that takes CPU 1 down and brings it back up.
fn hotplug_kernel(scenario: &Scenario) -> (Kernel, Scheduler) {
    let programs = scenario_scripts(scenario)
        .expect("the preset's scripts")
        .iter()
        .map(|(name, steps)| Program::compile(name, steps).expect("a built-in script compiles"))
        .collect();
    let pmu = |name: &str, scope| PmuDef { name: name.into(), scope, at_boot: true };
    let kind = scenario.scheme_kind().expect("a built-in scheme");
    let config = KernelConfig {
        seed: 1,
        run_index: 0,
        cpus: scenario.machine.cpus,
        costs: scenario.costs.kernel(),
        on_deadlock: OnDeadlock::Stop,
        classes: class_table(false),
        programs,
        perf: PerfConfig {
            packages: scenario.machine.packages,
            pmus: vec![pmu("cpu", PmuScope::Core), pmu("cpu_1", PmuScope::Core), pmu("uncore_0", PmuScope::Uncore)],
            view: kind.view(),
        },
        ctx_per_cpu: false,
        pmu_load: None,
        counters: Vec::new(),
        tracepoints: 0,
        mutex_fifo_handoff: false,
        timed: None,
    };
    let cpu1 = Args { cpu: 1, ..Args::default() };
    let driver = Sequence::new([(0, op::CPU_DOWN, cpu1), (0, op::CPU_UP, cpu1)]);
    let task = TaskSpec {
        name: "cpuhp/0".into(),
        cpu: 0,
        stream: 0,
        start_ns: 0,
        agent: Box::new(driver),
        cpuhp_thread: None,
    };
    let mut sched = Scheduler::new();
    let kernel = Kernel::new(config, vec![task], &mut sched).expect("a valid kernel");
    (kernel, sched)
}

fn hotplug_cycle(c: &mut Criterion) {
    let storm = preset("storm");
    assert_eq!(storm.machine.cpus, 4096);
    let mut group = c.benchmark_group("hotplug_cycle");
    group.sample_size(20);
    group.bench_function("cpu_down_cpu_up_4096_cpus", |b| {
        b.iter_batched(
            || hotplug_kernel(&storm),
            |(mut kernel, mut sched)| {
                let outcome = sched.run(&mut kernel, &Limits::default());
                assert_eq!(outcome.stop, StopReason::QueueEmpty);
                let ops = kernel.op_stats();
                assert_eq!((ops[op::CPU_DOWN as usize].completed, ops[op::CPU_UP as usize].completed), (1, 1));
                black_box(outcome)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn default_run(c: &mut Criterion) {
    let scenario = preset("default");
    let mut group = c.benchmark_group("default_run");
    group.sample_size(10);
    group.bench_function("default_preset_256_cpus_10s", |b| {
        b.iter(|| black_box(run(&scenario, 0).expect("the default preset runs").events_processed))
    });
    group.finish();
}

criterion_group!(benches, hotplug_cycle, default_run);
criterion_main!(benches);
