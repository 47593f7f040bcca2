//! `cpuhpsim compare A B`: two result directories side by side (analysis::compare), printed
//! as Markdown, CSV or JSON on stdout.

use std::path::PathBuf;

use analysis::compare::compare_dirs;
use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::BadInput;

/// Compare two result directories per grid point and figure, with 95% intervals and verdicts.
#[derive(Args)]
pub struct CompareArgs {
    /// The baseline: a directory `cpuhpsim` or `cpuhpsim sweep` wrote.
    a: PathBuf,
    /// The directory compared against it; differences are B − A.
    b: PathBuf,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Md,
    Csv,
    Json,
}

pub fn run(args: &CompareArgs) -> Result<()> {
    let comparison = compare_dirs(&args.a, &args.b).map_err(BadInput)?;
    if comparison.rows.is_empty() {
        return Err(BadInput(format!(
            "{} and {} share no grid point (scheme, CPUs and options); nothing to compare",
            args.a.display(),
            args.b.display()
        ))
        .into());
    }
    match args.format {
        Format::Md => out!("{}", comparison.markdown(&args.a.display().to_string(), &args.b.display().to_string())),
        Format::Csv => out!("{}", comparison.csv().map_err(anyhow::Error::msg)?),
        Format::Json => out!("{}", comparison.json()),
    }
    Ok(())
}
