//! The `cpuhpsim` command line: parses arguments, calls the library crates, maps errors to exit
//! codes (2 for bad input, 130 for an interrupted sweep, 1 for anything else).

/// Set when a write to standard output failed (a closed pipe, a full disk): the results
/// are already committed, and the exit status says that the terminal copy is incomplete.
static STDOUT_FAILED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `print!` that never panics: a failed write to standard output is remembered, not fatal.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout().lock(), $($arg)*).is_err() {
            crate::STDOUT_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }};
}

/// `println!` that never panics (see [`out!`]).
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout().lock(), $($arg)*).is_err() {
            crate::STDOUT_FAILED.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }};
}

/// `eprintln!` that never panics: progress and errors that cannot be shown are dropped.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod bench;
mod bench_sweep;
mod catalog;
mod compare;
mod fail_on;
mod history;
mod lockbench;
mod replay;
mod run;
mod sweep;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Discrete-event simulator of CPU hotplug and perf locking on many-core machines.
#[derive(Parser)]
#[command(
    name = "cpuhpsim",
    version,
    about,
    allow_negative_numbers = true,
    after_help = "With no command, cpuhpsim runs the embedded default experiment (6,144 runs, on every core; \
                  the README gives its time on a 2-core machine) and replaces results/default with its \
                  results and report.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Measure the engine (PHOLD) and the model (64 to 65,536 CPUs, speed targets) on this machine.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Hammer one simulated lock with N tasks (locktorture's idea) and print lock_stat.
    Lockbench(lockbench::LockBenchArgs),
    /// Run one scenario with one seed and write runs.csv, locks.csv, deadlocks.txt, manifest.json.
    Run(run::RunArgs),
    /// Run a grid of scenarios × seeds on every core; write CSVs, histograms, plots and a report.
    Sweep(sweep::SweepArgs),
    /// Reproduce one run bit for bit from a replay command or a manifest, optionally traced.
    Replay(replay::ReplayArgs),
    /// Run the historic lockdep reports and failures (2017–2025) on the kernel bundles where they must and must not appear.
    History(history::HistoryArgs),
    /// Compare two result directories: per grid point and figure, A, B, B − A with a 95% interval, and a verdict.
    Compare(compare::CompareArgs),
    /// Combine the directories of a sharded sweep into the one the whole sweep would write.
    Merge(sweep::MergeArgs),
    /// List the locking schemes, or print one's scripts.
    Schemes(catalog::SchemesArgs),
    /// List the built-in scenarios, or print one as TOML.
    Presets(catalog::PresetsArgs),
}

/// An error in the user's input (arguments, files, output path): exit status 2.
#[derive(Debug)]
pub struct BadInput(pub String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// An output error as the user can act on it: an existing directory is replaced only on `--force`.
pub fn output_error(e: analysis::OutputError) -> BadInput {
    match e {
        analysis::OutputError::Exists(_) => BadInput(format!("{e} (pass --force to replace it)")),
        e => BadInput(e.to_string()),
    }
}

/// A sweep stopped by Ctrl-C or SIGTERM after saving its completed runs: exit status 130.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Staging directories and lock files a signal must not leave behind (`run`, `lockbench`,
/// `history`, `bench`, `merge`: commands that cannot stop half-way and save).
static STAGING: std::sync::Mutex<Vec<(std::path::PathBuf, std::path::PathBuf)>> = std::sync::Mutex::new(Vec::new());

/// On SIGINT or SIGTERM, removes `staged` (a results directory not yet committed) and its lock
/// file and exits with status 130: a killed command leaves neither half-written results nor
/// `.NAME.partial`. The first call installs the handler; a sweep installs its own, which saves.
pub fn remove_on_signal(staged: &analysis::output_dir::StagedDir) {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    if let Ok(mut dirs) = STAGING.lock() {
        dirs.push((staged.path().to_path_buf(), staged.lock_path().to_path_buf()));
    }
    INSTALLED.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            let dirs = STAGING.lock().map(|d| d.clone()).unwrap_or_default();
            for (staging, lock) in &dirs {
                let _ = std::fs::remove_dir_all(staging);
                let _ = std::fs::remove_file(lock);
            }
            errln!("interrupted: nothing was written");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        });
    });
}

/// Exit status for bad input (arguments, scenario files).
const EXIT_BAD_INPUT: u8 = 2;
/// Exit status when the work and its files are complete but standard output could not be
/// written in full (a closed or full stdout).
const EXIT_STDOUT_FAILED: u8 = 3;
/// Exit status after an interrupt, as shells report a process killed by SIGINT (128 + 2).
const EXIT_INTERRUPTED: u8 = 130;

/// Dies quietly on a closed pipe (`cpuhpsim schemes --print legacy | head`), like other tools:
/// only for the commands that print and write no files. The others keep SIGPIPE ignored, so a
/// closed pipe is a failed write (`EPIPE`) that [`out!`] records, and `run … | head` still
/// commits its results (a SIGPIPE would kill it before they are renamed into place).
fn reset_sigpipe() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return report_parse_error(err),
    };
    if matches!(cli.command, Some(Command::Schemes(_) | Command::Presets(_) | Command::Compare(_))) {
        reset_sigpipe();
    }
    let result = match cli.command {
        Some(Command::Bench(cmd)) => bench::run(cmd),
        Some(Command::Lockbench(args)) => lockbench::run(&args),
        Some(Command::Run(args)) => run::run_command(&args),
        Some(Command::Sweep(args)) => sweep::run_sweep(&args, std::path::Path::new("results/sweep"), false),
        Some(Command::Merge(args)) => sweep::merge(&args),
        Some(Command::Compare(args)) => compare::run(&args),
        Some(Command::History(args)) => history::run(&args),
        Some(Command::Replay(args)) => replay::replay(&args),
        Some(Command::Schemes(args)) => catalog::schemes(&args),
        Some(Command::Presets(args)) => catalog::presets(&args),
        None => sweep::run_sweep(&sweep::default_args(), std::path::Path::new("results/default"), true),
    };
    match result {
        Ok(()) if STDOUT_FAILED.load(std::sync::atomic::Ordering::Relaxed) => {
            errln!("error: standard output could not be written in full; the result files are complete");
            ExitCode::from(EXIT_STDOUT_FAILED)
        }
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.chain().any(|e| e.is::<BadInput>()) => {
            errln!("error: {err:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Err(err) if err.chain().any(|e| e.is::<Interrupted>()) => {
            errln!("{err:#}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(err) => {
            errln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Help and version go to stdout with status 0; a usage error is one line on stderr, status 2.
fn report_parse_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        _ => {
            let text = err.render().to_string();
            let first = text.lines().next().unwrap_or("error: invalid arguments");
            let allowed = text.lines().map(str::trim).find(|l| l.starts_with("[possible values"));
            match allowed {
                Some(allowed) => errln!("{first} {allowed} (see --help)"),
                None => errln!("{first} (see --help)"),
            }
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
