//! Running a plan's runs on a thread pool: in parallel chunks whose results reach the sink in
//! run-index order, so that what the sink builds is the same for any number of threads.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::ScenarioError;
use crate::plan::{GridPoint, Plan};
use crate::run::{RunId, RunResult, run_point};

/// Runs one run of a grid point (the real [`run_point`], or a stand-in in tests).
pub type RunFn<'a> = dyn Fn(&GridPoint, RunId) -> Result<RunResult, ScenarioError> + Sync + 'a;

/// The real run function: [`run_point`] without a trace.
pub fn run_untraced(point: &GridPoint, id: RunId) -> Result<RunResult, ScenarioError> {
    run_point(point, id, None).map(|(result, _)| result)
}

/// One finished run, as the sink receives it.
pub struct Finished {
    pub index: u64,
    pub point: u64,
    pub seed: u64,
    /// The result, or the message of the panic that ended the run (a bug in cpuhpsim).
    pub outcome: Result<RunResult, String>,
    /// The command that reproduces the run.
    pub replay: String,
}

/// Where finished runs go, in index order.
pub trait Sink: Send {
    fn record(&mut self, finished: Finished);
    /// Every run below `bound` that will ever be recorded has been: records may be written out.
    fn flush_before(&mut self, bound: u64);
}

/// Why runs could not be run.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot start {jobs} worker threads: {message}")]
    Threads { jobs: usize, message: String },
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

/// What runs a plan's runs: the plan, the threads, the stop flag and the run function.
pub struct Executor<'a> {
    pub plan: &'a Plan,
    pub jobs: usize,
    /// Once set, no new run starts; runs already started finish and are kept.
    pub stop: &'a AtomicBool,
    /// Called with `(done, total)` after each run.
    pub progress: &'a (dyn Fn(u64, u64) + Sync),
    pub run_fn: &'a RunFn<'a>,
}

/// One chunk's runs as the pool returns them: `None` for a run the stop flag kept from starting.
type ChunkResults = Vec<Option<Result<Finished, ScenarioError>>>;

impl Executor<'_> {
    /// Runs the run indices `runs` (ascending) into `sink`, in parallel chunks passed on in
    /// index order, so the result is the same for any number of threads. Chunk c is handed to
    /// the sink on a second thread while the pool runs chunk c + 1. A run that panics (an
    /// internal bug) is passed on as a failure. Returns whether `stop` cut the runs short.
    pub fn execute(&self, runs: &[u64], sink: &mut dyn Sink) -> Result<bool, RunnerError> {
        let jobs = self.jobs.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| RunnerError::Threads { jobs, message: e.to_string() })?;
        let total = runs.len() as u64;
        let done = AtomicU64::new(0);
        let chunk_len = jobs * 16;
        let mut pending: Option<(usize, ChunkResults)> = None;
        let mut passed = 0;
        let bound = |c: usize| runs.get((c + 1) * chunk_len).copied().unwrap_or(u64::MAX);
        for (c, chunk) in runs.chunks(chunk_len).enumerate() {
            let (handed, results) = std::thread::scope(|scope| {
                let handing = pending.take().map(|(p, results)| {
                    let sink = &mut *sink;
                    scope.spawn(move || hand_over(results, sink, bound(p)))
                });
                let results = pool.install(|| chunk.par_iter().map(|&i| self.run_one(i, &done, total)).collect());
                (handing.map_or(Ok(0), |h| h.join().expect("handing over does not panic")), results)
            });
            passed += handed?;
            pending = Some((c, results));
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
        }
        if let Some((p, results)) = pending {
            passed += hand_over(results, sink, bound(p))?;
        }
        Ok(passed < runs.len())
    }

    fn run_one(&self, index: u64, done: &AtomicU64, total: u64) -> Option<Result<Finished, ScenarioError>> {
        if self.stop.load(Ordering::SeqCst) {
            return None;
        }
        let planned = self.plan.planned(index);
        let point = &self.plan.points[planned.point as usize];
        let id = RunId { seed: planned.seed, index };
        let outcome = match panic::catch_unwind(AssertUnwindSafe(|| (self.run_fn)(point, id))) {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => return Some(Err(e)),
            Err(payload) => Err(panic_message(payload.as_ref())),
        };
        (self.progress)(done.fetch_add(1, Ordering::Relaxed) + 1, total);
        let replay = self.plan.replay(index).to_string();
        Some(Ok(Finished { index, point: planned.point, seed: planned.seed, outcome, replay }))
    }
}

/// Passes one chunk's finished runs to `sink` in index order, then lets it write out every
/// record before `bound`; returns how many runs it passed.
fn hand_over(results: ChunkResults, sink: &mut dyn Sink, bound: u64) -> Result<usize, ScenarioError> {
    let mut passed = 0;
    for finished in results.into_iter().flatten() {
        sink.record(finished?);
        passed += 1;
    }
    sink.flush_before(bound);
    Ok(passed)
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}
