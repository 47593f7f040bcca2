//! `cpuhpsim bench`: wall-clock measurements of the engine (never part of simulation results).

use std::time::Instant;

use anyhow::{Result, ensure};
use clap::{Args, Subcommand};
use sim::phold::{self, MAX_LPS, PholdConfig, PholdResult};
use sim::queue::RadixHeap;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// PHOLD on the engine against a bare std BinaryHeap loop doing the same work.
    Phold(PholdArgs),
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct PholdArgs {
    /// Logical processes.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=MAX_LPS as i64))]
    lps: u32,
    /// Initial events per logical process.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pop: u32,
    /// Events to process per run.
    #[arg(long, default_value_t = 10_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    events: u64,
    /// Seed of the random stream both loops draw from.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Timed runs of each loop, alternating engine and baseline; medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Phold(args) => bench_phold(&args),
    }
}

fn timed(f: impl FnOnce() -> Result<PholdResult, phold::PholdError>) -> Result<(PholdResult, f64)> {
    let start = Instant::now();
    let result = f()?;
    Ok((result, start.elapsed().as_secs_f64()))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

fn bench_phold(args: &PholdArgs) -> Result<()> {
    let config = PholdConfig { lps: args.lps, pop: args.pop, events: args.events, seed: args.seed };
    config.validate().map_err(|e| crate::BadInput(e.to_string()))?;
    println!(
        "PHOLD lps={} pop={} events={} seed={} mean_delay_ns={} runs={}",
        config.lps,
        config.pop,
        config.events,
        config.seed,
        phold::PHOLD_MEAN_DELAY_NS,
        args.runs
    );
    println!("{:>4} {:>18} {:>18} {:>7}", "run", "engine_events_s", "baseline_events_s", "ratio");
    let (mut engine_rates, mut baseline_rates) = (Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let (engine, engine_s) = timed(|| phold::run_engine::<RadixHeap>(&config))?;
        let (baseline, baseline_s) = timed(|| phold::run_baseline(&config))?;
        ensure!(engine == baseline, "internal error: engine and baseline diverged ({engine:?} vs {baseline:?})");
        let engine_rate = engine.events as f64 / engine_s;
        let baseline_rate = baseline.events as f64 / baseline_s;
        println!("{run:>4} {engine_rate:>18.0} {baseline_rate:>18.0} {:>7.3}", engine_rate / baseline_rate);
        engine_rates.push(engine_rate);
        baseline_rates.push(baseline_rate);
    }
    let (engine, baseline) = (median(engine_rates), median(baseline_rates));
    println!(
        "median: engine {:.2} M events/s, baseline {:.2} M events/s, engine/baseline {:.3}",
        engine / 1e6,
        baseline / 1e6,
        engine / baseline
    );
    Ok(())
}
