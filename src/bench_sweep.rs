//! `cpuhpsim bench sweep`: a sweep's throughput on one thread against every core, alternating,
//! on the same grid, checking that both give the same aggregate byte for byte.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use analysis::stats::median;
use analysis::sweep::{StateSink, empty_state};
use anyhow::{Result, ensure};
use clap::Args;
use workloads::runner::{Executor, run_untraced};

use crate::sweep::{SweepArgs, default_args, jobs, runner_error};

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct SweepBenchArgs {
    /// CPUs of every run (the default experiment's schemes × release paths at this size).
    #[arg(long, default_value = "256")]
    cpus: String,
    /// Seeds per grid point (8 grid points).
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    seeds: u32,
    /// Simulated time per run.
    #[arg(long, default_value = "10s", allow_hyphen_values = true)]
    duration: String,
    /// Threads of the parallel side [default: every core].
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..=1024))]
    jobs: Option<u32>,
    /// Timed pairs (one thread, then every thread); medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    samples: u32,
}

pub fn bench_sweep(args: &SweepBenchArgs) -> Result<()> {
    let sweep = SweepArgs {
        cpus: vec![args.cpus.clone()],
        seeds: args.seeds.to_string(),
        duration: Some(args.duration.clone()),
        ..default_args()
    };
    let plan = sweep.plan()?;
    let command = plan.sweep_command.as_ref().expect("a sweep's plan has its command").to_string();
    let runs: Vec<u64> = (0..plan.run_count()).collect();
    let jobs = jobs(args.jobs);
    let never = AtomicBool::new(false);
    let time = |jobs: usize| -> Result<(f64, String)> {
        let executor = Executor { plan: &plan, jobs, stop: &never, progress: &|_, _| {}, run_fn: &run_untraced };
        let mut state = empty_state(&plan);
        let start = Instant::now();
        executor
            .execute(&runs, &mut StateSink { state: &mut state, log: None, checkpoint: None })
            .map_err(runner_error)?;
        Ok((runs.len() as f64 / start.elapsed().as_secs_f64(), state.to_json()))
    };
    outln!("{command}: {} runs per sample; 1 thread vs {jobs}", runs.len());
    outln!("{:>6} {:>14} {:>14} {:>7}", "sample", "1_thread_runs_s", format!("{jobs}_threads_runs_s"), "ratio");
    let (mut one, mut all) = (Vec::new(), Vec::new());
    for sample in 1..=args.samples {
        let (rate_one, state_one) = time(1)?;
        let (rate_all, state_all) = time(jobs)?;
        ensure!(state_one == state_all, "internal error: 1 and {jobs} threads gave different results");
        outln!("{sample:>6} {rate_one:>14.1} {rate_all:>14.1} {:>7.3}", rate_all / rate_one);
        one.push(rate_one);
        all.push(rate_all);
    }
    let ratios: Vec<f64> = one.iter().zip(&all).map(|(a, b)| b / a).collect();
    outln!(
        "median: 1 thread {:.1} runs/s, {jobs} threads {:.1} runs/s, speedup {:.3} (median of per-sample ratios)",
        median(one),
        median(all),
        median(ratios)
    );
    Ok(())
}
