//! The pending-event queue under PHOLD load: the engine on each queue vs a bare `BinaryHeap` loop.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sim::phold::{PholdConfig, run_baseline, run_engine};
use sim::queue::{QuadHeap, RadixHeap, StdBinaryHeap};

const EVENTS: u64 = 1_000_000;

fn phold(c: &mut Criterion) {
    let mut group = c.benchmark_group("phold");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    for lps in [4096u32, 65536] {
        let config = PholdConfig { lps, pop: 4, events: EVENTS, seed: 1 };
        group.bench_with_input(BenchmarkId::new("bare_binary_heap", lps), &config, |b, cfg| {
            b.iter(|| black_box(run_baseline(cfg).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("engine_radix_heap", lps), &config, |b, cfg| {
            b.iter(|| black_box(run_engine::<RadixHeap>(cfg).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("engine_quad_heap", lps), &config, |b, cfg| {
            b.iter(|| black_box(run_engine::<QuadHeap>(cfg).unwrap()))
        });
        group.bench_with_input(BenchmarkId::new("engine_std_binary_heap", lps), &config, |b, cfg| {
            b.iter(|| black_box(run_engine::<StdBinaryHeap>(cfg).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, phold);
criterion_main!(benches);
