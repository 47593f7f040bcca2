//! `cpuhpsim lockbench`: N tasks on one lock (locktorture's idea), lock_stat table and CSV.

use std::path::PathBuf;

use analysis::lock_stat::{LockRow, render_table, write_locks_csv};
use analysis::output_dir::StagedDir;
use analysis::sim::locks::LockKind;
use analysis::sim::time::{Nanos, format_ns};
use analysis::workloads::lockbench::{self, Dist, LockBenchRequest, MAX_BENCH_TASKS};
use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::BadInput;

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Mutex,
    Spinlock,
    PercpuRwsem,
    Srcu,
}

#[derive(Clone, Copy, ValueEnum)]
enum DistArg {
    Exp,
    Fixed,
}

#[derive(Clone, Copy, ValueEnum)]
enum Preset {
    /// percpu_rwsem readers that nest a second read against writers: deadlocks.
    RecursiveRead,
}

/// Hammer one simulated lock with N tasks and print lock_stat's table.
///
/// Unset options take the preset's value, or the defaults shown.
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct LockBenchArgs {
    /// Start from a preset; options given explicitly override it.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Lock kind under test [default: mutex].
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// Tasks contending for the lock (1..=65536) [default: 4].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_BENCH_TASKS as i64))]
    tasks: Option<u32>,
    /// Mean (exp) or exact (fixed) time between acquisitions, e.g. 10us, 1.5ms [default: 10us].
    #[arg(long, allow_hyphen_values = true)]
    think: Option<Nanos>,
    /// Distribution of think times [default: exp].
    #[arg(long, value_enum)]
    think_dist: Option<DistArg>,
    /// Mean (exp) or exact (fixed) time the lock is held [default: 5us].
    #[arg(long, allow_hyphen_values = true)]
    hold: Option<Nanos>,
    /// Distribution of hold times [default: exp].
    #[arg(long, value_enum)]
    hold_dist: Option<DistArg>,
    /// Fraction of acquisitions that write (percpu-rwsem) or synchronize (srcu), 0..=1
    /// [default: 1 for mutex and spinlock, 0.1 otherwise].
    #[arg(long)]
    write_fraction: Option<f64>,
    /// Readers take the read lock a second time halfway through their hold (percpu-rwsem).
    #[arg(long)]
    nested_read: bool,
    /// Simulated time to run, e.g. 10s [default: 1s].
    #[arg(long, allow_hyphen_values = true)]
    duration: Option<Nanos>,
    /// Run seed [default: 1].
    #[arg(long)]
    seed: Option<u64>,
    /// Charge no lock costs (fast paths, wake-ups, grace periods): the pure queueing model.
    #[arg(long)]
    zero_costs: bool,
    /// Keep running after a deadlock (its tasks stay blocked) instead of stopping.
    #[arg(long)]
    freeze_on_deadlock: bool,
    /// Output directory for locks.csv, deadlocks.txt and lock_order.txt.
    #[arg(long, default_value = "results/lockbench")]
    out: PathBuf,
    /// Replace the output directory if it exists.
    #[arg(long)]
    force: bool,
}

fn kind(k: Kind) -> LockKind {
    match k {
        Kind::Mutex => LockKind::Mutex,
        Kind::Spinlock => LockKind::Spinlock,
        Kind::PercpuRwsem => LockKind::PercpuRwsem,
        Kind::Srcu => LockKind::Srcu,
    }
}

fn dist(d: DistArg) -> Dist {
    match d {
        DistArg::Exp => Dist::Exp,
        DistArg::Fixed => Dist::Fixed,
    }
}

impl LockBenchArgs {
    /// The request these arguments make.
    fn request(&self) -> LockBenchRequest {
        LockBenchRequest {
            recursive_read: matches!(self.preset, Some(Preset::RecursiveRead)),
            kind: self.kind.map(kind),
            tasks: self.tasks,
            think_ns: self.think.map(|Nanos(ns)| ns),
            think: self.think_dist.map(dist),
            hold_ns: self.hold.map(|Nanos(ns)| ns),
            hold: self.hold_dist.map(dist),
            write_fraction: self.write_fraction,
            nested_read: self.nested_read,
            duration_ns: self.duration.map(|Nanos(ns)| ns),
            seed: self.seed,
            zero_costs: self.zero_costs,
            freeze_on_deadlock: self.freeze_on_deadlock,
        }
    }
}

pub fn run(args: &LockBenchArgs) -> Result<()> {
    let config = args.request().resolve().map_err(|e| BadInput(e.to_string()))?;
    let staged = StagedDir::create(&args.out, args.force).map_err(crate::output_error)?;
    crate::remove_on_signal(&staged);
    let result =
        crate::run::watched("lockbench", config.duration_ns, |progress| lockbench::run_watched(&config, progress))
            .map_err(|e| BadInput(e.to_string()))?;
    let rows =
        [LockRow { scheme: "lockbench", variant: "", cpus: config.tasks, class: &result.class, stat: &result.stat }];
    outln!(
        "lockbench: {} tasks on a {} for {}, stopped by {} at {} ({} writes, {} reads)",
        config.tasks,
        config.kind.as_str(),
        format_ns(config.duration_ns),
        result.outcome.stop.as_str(),
        format_ns(result.outcome.end_ns),
        result.writes,
        result.reads
    );
    out!("{}", render_table(&rows));
    let mut deadlocks_txt = String::new();
    for d in &result.deadlocks {
        deadlocks_txt.push_str(&d.report());
        deadlocks_txt.push('\n');
    }
    for s in &result.stalls {
        deadlocks_txt.push_str(&s.report());
        deadlocks_txt.push('\n');
    }
    if result.deadlocks.is_empty() && result.stalls.is_empty() {
        deadlocks_txt.push_str("no deadlocks\n");
    }
    let order_txt = if result.order_cycles.is_empty() {
        "lock-order analysis: no cycles\n".to_string()
    } else {
        result.order_cycles.concat()
    };
    outln!("deadlocks: {}", result.deadlocks.len());
    if let Some(first) = result.deadlocks.first() {
        out!("{}", first.report());
    }
    outln!("lock-order cycles: {}", result.order_cycles.len());
    let replay = config.replay();
    staged.write("deadlocks.txt", deadlocks_txt).map_err(|e| BadInput(e.to_string()))?;
    staged.write("lock_order.txt", order_txt).map_err(|e| BadInput(e.to_string()))?;
    staged.write("replay.txt", format!("{replay}\n")).map_err(|e| BadInput(e.to_string()))?;
    write_locks_csv(staged.file("locks.csv").map_err(|e| BadInput(e.to_string()))?, &rows)
        .map_err(|e| BadInput(e.to_string()))?;
    let dir = staged.commit().map_err(crate::output_error)?;
    outln!("replay: {replay}");
    outln!("wrote {}", dir.display());
    Ok(())
}
