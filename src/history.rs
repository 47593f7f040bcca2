//! `cpuhpsim history`: the catalogue of historic reports run case × kernel bundle, the matrix
//! on stdout, `history.md` and `matrix.txt` in the output directory, and a failing exit
//! status when any cell disagrees with history (docs/history.md).

use std::path::PathBuf;

use analysis::history::{disagreements, history_md, matrix};
use analysis::output_dir::StagedDir;
use analysis::workloads::history::{self, HistoryError};
use anyhow::Result;
use clap::Args;

use crate::BadInput;

/// Run the history suite: each historic case on the kernel bundles where it must and must not appear.
#[derive(Args)]
pub struct HistoryArgs {
    /// Seeds per cell (runs 1..=N). 64 decides every case: the rarest found cell shows in
    /// 45 % of seeds, so 64 miss it with odds below 1e-16 (docs/history.md).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    seeds: u64,
    /// Run only this case (repeatable); `--list` names them.
    #[arg(long = "case", value_name = "ID")]
    cases: Vec<String>,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
    /// Worker threads [default: every core]. Results are identical for any value.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    jobs: Option<u32>,
    /// Output directory [default: results/history].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the output directory if cpuhpsim wrote it.
    #[arg(long)]
    force: bool,
}

/// Some cell disagrees with history: exit status 1 after the results are written.
#[derive(Debug)]
pub struct Disagrees(pub String);

impl std::fmt::Display for Disagrees {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Disagrees {}

pub fn run(args: &HistoryArgs) -> Result<()> {
    let cases = history::select(&args.cases).map_err(|e| BadInput(format!("--case: {e}")))?;
    if args.list {
        for case in &cases {
            outln!("{:30} {:14} {}", case.id, case.commit, case.title);
        }
        return Ok(());
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results/history"));
    let staged = StagedDir::create(&out, args.force)
        .map_err(|e| BadInput(format!("--out {}: {}", out.display(), crate::output_error(e))))?;
    crate::remove_on_signal(&staged);
    let jobs = crate::sweep::jobs(args.jobs);
    let cells: usize = cases.iter().map(|c| c.cells.len()).sum();
    errln!("{} cases, {cells} cells × {} seeds on {jobs} threads", cases.len(), args.seeds);
    let runs = cells as u64 * args.seeds;
    let progress = crate::sweep::progress_printer("history".into(), runs);
    let outcomes = history::run_history(&cases, args.seeds, jobs, &*progress).map_err(|e| match e {
        HistoryError::Threads { .. } => anyhow::Error::from(BadInput(format!("--jobs: {e}"))),
        e => anyhow::Error::from(e),
    })?;
    let mut command = format!("cpuhpsim history --seeds {}", args.seeds);
    for id in &args.cases {
        command.push_str(&format!(" --case {id}"));
    }
    let table = matrix(&outcomes);
    let io = |e: analysis::OutputError| BadInput(e.to_string());
    staged.write("matrix.txt", &table).map_err(io)?;
    staged.write("history.md", history_md(&outcomes, &command, args.seeds)).map_err(io)?;
    let dir = staged.commit().map_err(io)?;
    out!("{table}");
    outln!("\nhistory: {}", dir.join("history.md").display());
    let wrong = disagreements(&outcomes);
    if wrong.is_empty() {
        outln!("every cell agrees with history");
        Ok(())
    } else {
        Err(Disagrees(format!("{} cell(s) disagree with history: {}", wrong.len(), wrong.join(", "))).into())
    }
}
