//! The pending-event queue under PHOLD load: the engine on each queue vs a bare `BinaryHeap` loop,
//! from the tens of events the kernel model keeps pending to the hundreds of thousands PHOLD does
//! (where `HybridHeap` switches between its two heaps).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sim::phold::{PholdConfig, run_baseline, run_engine};
use sim::queue::{HybridHeap, QuadHeap, RadixHeap, StdBinaryHeap};

const EVENTS: u64 = 1_000_000;

fn phold(c: &mut Criterion) {
    let mut group = c.benchmark_group("phold");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    // (LPs, events per LP): 64, 1,024, 16,384 and 262,144 pending.
    for (lps, pop) in [(64u32, 1u32), (256, 4), (4096, 4), (65536, 4)] {
        let config = PholdConfig { lps, pop, events: EVENTS, seed: 1 };
        let pending = lps * pop;
        group.bench_with_input(BenchmarkId::new("bare_binary_heap", pending), &config, |b, cfg| {
            b.iter(|| black_box(run_baseline(cfg).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("engine_hybrid_heap", pending), &config, |b, cfg| {
            b.iter(|| black_box(run_engine::<HybridHeap>(cfg).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("engine_radix_heap", pending), &config, |b, cfg| {
            b.iter(|| black_box(run_engine::<RadixHeap>(cfg).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("engine_quad_heap", pending), &config, |b, cfg| {
            b.iter(|| black_box(run_engine::<QuadHeap>(cfg).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("engine_std_binary_heap", pending), &config, |b, cfg| {
            b.iter(|| black_box(run_engine::<StdBinaryHeap>(cfg).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, phold);
criterion_main!(benches);
