//! Issue #19, end to end: one test per sub-case that no other test file covers on its own
//! (the closing note lists every sub-case with the test that covers it). Each checks the exit
//! status, one clear stderr line for an error, no panic, unrelated files and earlier results
//! intact, and no wrong result.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use analysis::workloads::scenario::MAX_PMU_LOAD_EVENTS;
use analysis::workloads::sweep::{MAX_GRID_POINTS, MAX_SWEEP_RUNS};
use common::{command, cpuhpsim, cpuhpsim_ok, runs_csv, tree};

/// A fresh directory for one test.
fn base(name: &str) -> PathBuf {
    let dir = common::scratch("data-safety", name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 2, exactly one stderr line holding each of `needles`, no panic.
fn assert_refused(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "stderr should hold {needle:?}: {err}");
    }
}

/// No staging directory, lock file or partial trace left in `dir`.
fn no_litter(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.ends_with(".partial") && !name.ends_with(".lock") && !name.ends_with(".old"),
            "litter in {}: {name}",
            dir.display()
        );
    }
}

/// Waits for `path` to appear while `child` runs.
fn wait_for(path: &Path, child: &mut Child) {
    let start = Instant::now();
    while !path.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the command ended before {} appeared", path.display());
        assert!(start.elapsed() < Duration::from_secs(60), "{} did not appear", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sigterm(child: &Child) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
}

/// A small sweep (legacy, 8 CPUs, 10 ms runs) of `seeds` seeds into `out`.
fn small_sweep(out: &Path, seeds: &str, extra: &[&str]) {
    let mut args = vec!["sweep", "--schemes", "legacy", "--cpus", "8", "--seeds", seeds, "--duration", "10ms"];
    args.extend_from_slice(extra);
    args.extend(["--out", s(out)]);
    cpuhpsim_ok(&args);
}

fn run_args(out: &Path) -> Vec<String> {
    ["run", "--preset", "stress", "--seed", "5", "--duration", "200ms", "--force", "--out", s(out)]
        .map(String::from)
        .to_vec()
}

fn words(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

// Case 1: --force replaces only what cpuhpsim wrote, and only once the new results are whole.

/// `--force` onto a directory of `files` (relative path → bytes) is refused naming a file it
/// holds, and the directory is unchanged.
fn force_keeps(name: &str, files: &[(&str, &str)]) {
    let root = base(name);
    let dir = root.join("mine");
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let before = tree(&dir);
    for args in [run_args(&dir), {
        let mut sweep: Vec<String> =
            ["sweep", "--schemes", "legacy", "--cpus", "8", "--seeds", "1", "--duration", "10ms"]
                .map(String::from)
                .to_vec();
        sweep.extend(["--force".into(), "--out".into(), s(&dir).into()]);
        sweep
    }] {
        let out = cpuhpsim(&words(&args));
        assert_refused(&out, &[s(&dir), "holds files cpuhpsim did not write", "not replacing it"]);
        assert_eq!(tree(&dir), before, "{args:?} changed {}", dir.display());
        no_litter(&root);
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn case01a_force_keeps_a_directory_of_unrelated_files() {
    force_keeps("1a", &[("thesis.tex", "\\documentclass{article}"), ("refs.bib", "@book{}")]);
}

#[test]
fn case01b_force_keeps_a_directory_holding_only_a_subfolder() {
    force_keeps("1b", &[("figures/plot.pdf", "%PDF"), ("figures/raw/data.csv", "a,b\n")]);
}

#[test]
fn case01c_force_keeps_a_directory_holding_only_dotfiles() {
    force_keeps("1c", &[(".latexmkrc", "$pdf_mode = 1;"), (".git/HEAD", "ref: refs/heads/main\n")]);
}

/// The new results must be whole before the old go: a `--force` run whose trace cannot be
/// written (a file-size limit stands in for a full disk) leaves the old results as they were.
#[test]
fn case01e_force_keeps_the_old_results_when_the_new_run_fails() {
    let root = base("1e");
    let prev = root.join("prev");
    cpuhpsim_ok(&words(&run_args(&prev)));
    let before = tree(&prev);
    let trace = root.join("trace.json");
    let out = limited_file_size(&[
        "run",
        "--preset",
        "stress",
        "--seed",
        "6",
        "--duration",
        "200ms",
        "--force",
        "--out",
        s(&prev),
        "--trace",
        s(&trace),
    ]);
    assert_refused(&out, &["--trace", s(&trace), "File too large"]);
    assert_eq!(tree(&prev), before, "the old results are intact");
    assert!(!trace.exists(), "no truncated trace");
    no_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

// Case 2: one writer per output directory.

/// Sweep B into the directory sweep A is writing is refused with A's pid and command; A goes
/// on, exits 0, and commits its own manifest with its own rows (2b: no mixed directory).
#[test]
fn case02ab_a_second_sweep_into_the_same_out_is_refused_and_the_first_commits_its_own_results() {
    let root = base("2");
    let out = root.join("shared");
    let a_args = [
        "sweep",
        "--preset",
        "pmu-load",
        "--schemes",
        "pmus-lock",
        "--cpus",
        "64",
        "--seeds",
        "60",
        "--duration",
        "1s",
        "--jobs",
        "1",
        "--out",
    ];
    let mut a = command().args(a_args).arg(&out).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    wait_for(&root.join(".shared.partial"), &mut a);
    let b = cpuhpsim(&["sweep", "--schemes", "legacy", "--cpus", "8", "--seeds", "3", "--force", "--out", s(&out)]);
    assert_refused(&b, &[s(&out), "is being written by pid", &a.id().to_string(), "--preset pmu-load"]);
    assert!(a.wait().unwrap().success(), "the first sweep finishes");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest["command"].as_str().unwrap().contains("--preset pmu-load"), "{manifest}");
    assert_eq!(manifest["runs"], 60);
    let (header, rows) = runs_csv(&out);
    assert_eq!(rows.len(), 60, "A's rows, not B's");
    let scheme = header.iter().position(|h| h == "scheme").unwrap();
    assert!(rows.iter().all(|r| r[scheme].starts_with("pmus-lock")), "every row is the first sweep's");
    no_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

// Case 3: merge refuses what would double-count.

fn shards(root: &Path, split: u64, which: &[u64]) -> Vec<PathBuf> {
    which
        .iter()
        .map(|i| {
            let dir = root.join(format!("s{i}of{split}"));
            small_sweep(&dir, "6", &["--shard", &format!("{i}/{split}")]);
            dir
        })
        .collect()
}

fn merge(out: &Path, dirs: &[&Path]) -> Output {
    let mut args = vec!["merge", "--out", s(out)];
    args.extend(dirs.iter().map(|d| s(d)));
    cpuhpsim(&args)
}

#[test]
fn case03a_merge_refuses_a_shard_given_twice() {
    let root = base("3a");
    let sh = shards(&root, 3, &[1, 2, 3]);
    let out = root.join("merged");
    let r = merge(&out, &[&sh[0], &sh[0], &sh[1], &sh[2]]);
    assert_refused(&r, &[s(&sh[0]), "is given twice", "give each shard once"]);
    assert!(!out.exists());
    // Given once each, the shards merge into the whole sweep's 6 runs, not 8.
    let r = merge(&out, &[&sh[0], &sh[1], &sh[2]]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert_eq!(runs_csv(&out).1.len(), 6);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn case03b_merge_refuses_the_same_whole_sweep_twice() {
    let root = base("3b");
    let whole = root.join("X");
    small_sweep(&whole, "4", &[]);
    let before = tree(&whole);
    let out = root.join("merged");
    let r = merge(&out, &[&whole, &whole]);
    assert_refused(&r, &[s(&whole), "is given twice"]);
    assert!(!out.exists());
    assert_eq!(tree(&whole), before);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn case03c_merge_refuses_shards_of_different_splits() {
    let root = base("3c");
    let mut dirs = shards(&root, 2, &[1]);
    dirs.extend(shards(&root, 3, &[2, 3]));
    let out = root.join("merged");
    let r = merge(&out, &[&dirs[0], &dirs[1], &dirs[2]]);
    assert_refused(&r, &["is shard 2/3 but", "is shard 1/2", "merge the shards of one split"]);
    assert!(!out.exists());
    std::fs::remove_dir_all(root).unwrap();
}

// Case 4: replay from the embedded plan.

/// A sweep's and a run's manifest replay what ran, not the scenario file as edited since.
#[test]
fn case04a_replay_from_a_manifest_ignores_an_edited_scenario_file() {
    let root = base("4a");
    let file = root.join("s.toml");
    std::fs::write(&file, "[machine]\ncpus = 16\npackages = 2\n[openers]\ntasks = 8\n").unwrap();
    let (sweep, run) = (root.join("sweep"), root.join("run"));
    cpuhpsim_ok(&["sweep", "--scenario", s(&file), "--seeds", "2", "--duration", "200ms", "--out", s(&sweep)]);
    cpuhpsim_ok(&["run", "--scenario", s(&file), "--seed", "3", "--duration", "200ms", "--out", s(&run)]);
    std::fs::write(&file, "[machine]\ncpus = 32\npackages = 2\n[openers]\ntasks = 2\n").unwrap();
    let replayed = root.join("replayed");
    let r =
        cpuhpsim_ok(&["replay", "--manifest", s(&sweep.join("manifest.json")), "--run", "1", "--out", s(&replayed)]);
    assert!(!stderr(&r).contains("panicked"));
    assert_eq!(runs_csv(&replayed).1[0], runs_csv(&sweep).1[1], "run 1 as it ran, not as the file says now");
    let again = root.join("again");
    cpuhpsim_ok(&["replay", "--manifest", s(&run.join("manifest.json")), "--out", s(&again)]);
    // Every figure is the run's; only the replay column differs (it names the manifest).
    let (header, rows) = runs_csv(&run);
    let replay = header.iter().position(|h| h == "replay").unwrap();
    let figures = |r: &csv::StringRecord| {
        r.iter().enumerate().filter(|(i, _)| *i != replay).map(|(_, f)| f.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(figures(&runs_csv(&again).1[0]), figures(&rows[0]));
    assert_eq!(std::fs::read(again.join("locks.csv")).unwrap(), std::fs::read(run.join("locks.csv")).unwrap());
    std::fs::remove_dir_all(root).unwrap();
}

// Case 5: a standard output or error that cannot be written.

/// `args` with its stdout a pipe whose reader is gone (`| true`): status 3, one stderr line,
/// and the results committed whole.
fn into_a_closed_pipe(args: &[&str], out: &Path) {
    let mut child = command().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let result = child.wait_with_output().unwrap();
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(3), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert_eq!(last, "error: standard output could not be written in full; the result files are complete");
    assert!(!runs_csv(out).1.is_empty(), "the results are committed");
    no_litter(out.parent().unwrap());
}

#[test]
fn case05a_run_into_a_closed_pipe_commits_its_results_and_exits_3() {
    let root = base("5a");
    let out = root.join("r");
    into_a_closed_pipe(&words(&run_args(&out)), &out);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn case05b_sweep_into_a_full_stdout_commits_its_results_and_exits_3() {
    let root = base("5b");
    let out = root.join("s");
    let full = std::fs::File::create("/dev/full").expect("/dev/full exists on Linux");
    let result = command()
        .args(["sweep", "--schemes", "legacy", "--cpus", "8", "--seeds", "3", "--duration", "10ms", "--out", s(&out)])
        .stdout(Stdio::from(full))
        .output()
        .unwrap();
    let err = stderr(&result);
    assert_eq!(result.status.code(), Some(3), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.trim_end().ends_with("standard output could not be written in full; the result files are complete"));
    assert_eq!(runs_csv(&out).1.len(), 3);
    no_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

/// A full stderr loses only the progress lines: the status is the command's own, the results
/// are committed; bad input still exits 2.
#[test]
fn case05c_a_full_stderr_neither_panics_nor_loses_results() {
    let root = base("5c");
    let full = || Stdio::from(std::fs::File::create("/dev/full").unwrap());
    let (run, sweep) = (root.join("r"), root.join("s"));
    let r = command().args(run_args(&run)).stderr(full()).stdout(Stdio::null()).status().unwrap();
    assert_eq!(r.code(), Some(0));
    assert_eq!(runs_csv(&run).1.len(), 1);
    let args =
        ["sweep", "--schemes", "legacy", "--cpus", "8", "--seeds", "3", "--duration", "10ms", "--out", s(&sweep)];
    let r = command().args(args).stderr(full()).stdout(Stdio::null()).status().unwrap();
    assert_eq!(r.code(), Some(0));
    assert_eq!(runs_csv(&sweep).1.len(), 3);
    let bad = command().args(["run", "--cpus", "0", "--out", s(&root.join("bad"))]).stderr(full()).status().unwrap();
    assert_eq!(bad.code(), Some(2), "bad input is status 2 whether or not it can be told");
    assert!(!root.join("bad").exists());
    no_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn case05d_sweep_into_a_closed_pipe_commits_its_results_and_exits_3() {
    let root = base("5d");
    let out = root.join("s");
    into_a_closed_pipe(
        &["sweep", "--schemes", "legacy", "--cpus", "8", "--seeds", "3", "--duration", "10ms", "--out", s(&out)],
        &out,
    );
    assert_eq!(runs_csv(&out).1.len(), 3);
    std::fs::remove_dir_all(root).unwrap();
}

// Case 6: bounds before allocation, time that moves, progress.

/// Runs `args`, failing the test if it takes longer than `limit` (it is killed then).
fn within(limit: Duration, args: &[&str]) -> Output {
    let mut child = command().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn case06a_lockbench_with_no_think_time_advances_time_and_ends() {
    let root = base("6a");
    let out = root.join("lb");
    let r = within(Duration::from_secs(60), &["lockbench", "--think", "0ns", "--duration", "10ms", "--out", s(&out)]);
    assert!(r.status.success(), "{}", stderr(&r));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(stdout.contains("stopped by time_limit at 0.010000000 s"), "{stdout}");
    let mut locks = csv::Reader::from_path(out.join("locks.csv")).unwrap();
    let col = locks.headers().unwrap().iter().position(|h| h == "acquisitions").unwrap();
    let acquisitions: u64 = locks.records().next().unwrap().unwrap()[col].parse().unwrap();
    // 4 tasks back to back on 5 µs mean holds for 10 ms: about 2,000 acquisitions.
    assert!((1_000..4_000).contains(&acquisitions), "{acquisitions}");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn case06b_a_grid_too_large_is_refused_before_any_allocation() {
    let root = base("6b");
    let out = root.join("big");
    let values = |n: u32| (1..=n).map(|v| v.to_string()).collect::<Vec<_>>().join(",");
    let (cpus, tasks) = (values(5000), format!("openers.tasks={}", values(5000)));
    let r = within(Duration::from_secs(20), &["sweep", "--cpus", &cpus, "--set", &tasks, "--out", s(&out)]);
    assert_refused(&r, &["sweep", "25000000 grid points", &format!("at most {MAX_GRID_POINTS}")]);
    // Just over the grid-point limit, with a single seed.
    let side = (MAX_GRID_POINTS as f64).sqrt() as u32 + 1;
    let (cpus, tasks) = (values(side), format!("openers.tasks={}", values(side)));
    let r =
        within(Duration::from_secs(20), &["sweep", "--cpus", &cpus, "--set", &tasks, "--seeds", "1", "--out", s(&out)]);
    assert_refused(&r, &[&format!("{} grid points", side * side)]);
    // Few grid points, too many runs.
    let r = within(
        Duration::from_secs(20),
        &["sweep", "--cpus", "8,16", "--seeds", &MAX_SWEEP_RUNS.to_string(), "--out", s(&out)],
    );
    assert_refused(&r, &[&format!("2 grid points × {MAX_SWEEP_RUNS} seeds = {} runs", 2 * MAX_SWEEP_RUNS)]);
    assert!(!out.exists());
    no_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

/// 65,536 CPUs × 256 events took 5.3 GB and 18.6 s before a 5 ms run; over the budget it is
/// refused at once, naming both keys and the budget.
#[test]
fn case06c_pmu_load_over_the_events_budget_is_refused_before_building() {
    let root = base("6c");
    let out = root.join("pmu");
    let r = within(
        Duration::from_secs(20),
        &[
            "run",
            "--preset",
            "pmu-load",
            "--cpus",
            "65536",
            "--set",
            "pmu_load.sampling_events=256",
            "--duration",
            "5ms",
            "--out",
            s(&out),
        ],
    );
    let total = 65536 * 256;
    assert_refused(
        &r,
        &[
            "pmu_load.sampling_events",
            &format!("= {total} PMU-load events; at most {MAX_PMU_LOAD_EVENTS}"),
            "machine.cpus",
        ],
    );
    assert!(!out.exists());
    no_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

/// The simulated seconds a progress line reports (`LABEL: 8.3 s of 3600.0 s simulated …`).
fn simulated_secs(line: &str, label: &str) -> f64 {
    let rest = line.strip_prefix(&format!("{label}: ")).unwrap_or_else(|| panic!("not a progress line: {line}"));
    assert!(rest.contains(" s of 3600.000000000 s simulated (") && rest.ends_with(" s elapsed"), "{line}");
    rest.split(' ').next().unwrap().parse().unwrap()
}

/// `args` (an hour simulated) prints its first progress line on stderr after a few seconds,
/// and a second one further on; SIGTERM then leaves nothing behind.
fn prints_progress(name: &str, label: &str, args: &[&str]) {
    let root = base(name);
    let out = root.join("long");
    let mut child =
        command().args(args).arg("--out").arg(&out).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let start = Instant::now();
    let first = lines.next().expect("a progress line").unwrap();
    let waited = start.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(30), "{waited:?}: {first}");
    let second = lines.next().expect("a second progress line").unwrap();
    assert!(simulated_secs(&second, label) > simulated_secs(&first, label), "{first} / {second}");
    sigterm(&child);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(rest.last().map(String::as_str), Some("interrupted: nothing was written"), "{rest:?}");
    assert!(!out.exists());
    no_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

/// A run that takes more than a few seconds says how far it is, on stderr.
#[test]
fn case06d_a_long_run_prints_progress_on_stderr() {
    prints_progress("6d", "run", &["run", "--preset", "pmu-load", "--scheme", "percpu-state", "--duration", "1h"]);
}

#[test]
fn case06e_a_long_lock_bench_prints_progress_on_stderr() {
    prints_progress("6e", "lockbench", &["lockbench", "--tasks", "64", "--duration", "1h"]);
}

/// A sweep's long run shows how far it has simulated before it finishes: every 5 s, one line
/// per sweep naming each run in flight, its simulated time moving forward.
#[test]
fn case06f_a_sweeps_long_run_shows_its_simulated_progress() {
    let root = base("6f");
    let out = root.join("long");
    let args = ["sweep", "--preset", "pmu-load", "--schemes", "percpu-state", "--cpus", "64", "--seeds", "1"];
    let mut child = command()
        .args(args)
        .args(["--duration", "1h", "--out", s(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines().map(|l| l.unwrap());
    let mut beats = lines.filter(|l| l.starts_with("sweep: ") && l.contains("in flight: run 0: "));
    let start = Instant::now();
    let first = beats.next().expect("a line on the run in flight");
    let second = beats.next().expect("a second line on the run in flight");
    assert!(start.elapsed() < Duration::from_secs(30), "{:?}", start.elapsed());
    let simulated = |line: &str| -> f64 {
        let after = line.split("in flight: run 0: ").nth(1).expect("the run's part");
        after.split(" s of ").next().and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("{line}"))
    };
    assert!(first.contains("of 3600.000000000 s simulated"), "{first}");
    assert!(simulated(&second) > simulated(&first), "{first} / {second}");
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(root).unwrap();
}

// Case 7: signals.

#[test]
fn case07c_sigterm_on_lockbench_leaves_nothing_behind() {
    let root = base("7c");
    let out = root.join("lb");
    let mut child = command()
        .args(["lockbench", "--tasks", "64", "--duration", "1h", "--out", s(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&root.join(".lb.partial"), &mut child);
    sigterm(&child);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    assert_eq!(stderr(&output).trim(), "interrupted: nothing was written");
    let left: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing left behind: {left:?}");
    std::fs::remove_dir_all(root).unwrap();
}

/// A sweep killed before its first checkpoint has no finished runs saved: `--resume` says so
/// in one line and runs it whole, to the bytes of a sweep never interrupted.
#[test]
fn case07d_a_sweep_killed_before_its_first_checkpoint_resumes_whole_to_the_bytes_of_an_uninterrupted_one() {
    let root = base("7d");
    let out = root.join("sw");
    let args = [
        "sweep",
        "--preset",
        "pmu-load",
        "--schemes",
        "pmus-lock",
        "--cpus",
        "64",
        "--seeds",
        "40",
        "--duration",
        "1s",
    ];
    let mut child = command()
        .args(args)
        .arg("--out")
        .arg(&out)
        .env("CPUHPSIM_CHECKPOINT_SECS", "3600")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&root.join(".sw.partial"), &mut child);
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let mut resume: Vec<&str> = args.to_vec();
    resume.extend(["--out", s(&out), "--resume"]);
    let r = cpuhpsim_ok(&resume);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(stderr.contains("killed before its first checkpoint") && stderr.contains("running it whole"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(runs_csv(&out).1.len(), 40);
    let whole = root.join("whole");
    let mut again: Vec<&str> = args.to_vec();
    again.extend(["--out", s(&whole)]);
    cpuhpsim_ok(&again);
    common::assert_same_tree(&out, &whole);
    no_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

// Case 8: a trace that cannot be written.

/// Runs the binary with every file it writes limited to 64 KiB (`RLIMIT_FSIZE`, SIGXFSZ
/// ignored): a write past that fails with EFBIG as one past a full disk fails with ENOSPC.
fn limited_file_size(args: &[&str]) -> Output {
    let mut cmd = command();
    cmd.args(args);
    // SAFETY: setrlimit and signal are async-signal-safe; the closure allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 64 << 10, rlim_max: 64 << 10 };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    cmd.output().unwrap()
}

#[test]
fn case08c_a_trace_that_fills_the_disk_commits_nothing_and_leaves_no_partial_trace() {
    let root = base("8c");
    let (out, trace) = (root.join("r"), root.join("t.json"));
    let mut args = run_args(&out);
    args.extend(["--trace".into(), s(&trace).into()]);
    let r = limited_file_size(&words(&args));
    assert_refused(&r, &[&format!("--trace {}", s(&trace)), "File too large"]);
    assert!(!out.exists(), "no run directory is committed");
    assert!(!trace.exists(), "no truncated trace");
    no_litter(&root);
    // Without the limit the same command writes both: the trace is far past 64 KiB.
    cpuhpsim_ok(&words(&args));
    assert!(std::fs::metadata(&trace).unwrap().len() > 64 << 10);
    assert_eq!(runs_csv(&out).1.len(), 1);
    std::fs::remove_dir_all(root).unwrap();
}

// Case 10: plain-worded limits.

#[test]
fn case10h_an_empty_perf_event_open_script_is_refused() {
    let root = base("10h");
    let file = root.join("empty.toml");
    std::fs::write(&file, "[scheme]\nname = \"e\"\nbase = \"pmus-lock\"\n[scheme.scripts]\nperf_event_open = \"\"\n")
        .unwrap();
    let out = root.join("out");
    for cmd in ["run", "sweep"] {
        let r = cpuhpsim(&[cmd, "--scenario", s(&file), "--out", s(&out)]);
        assert_refused(&r, &["scheme.scripts.perf_event_open", "never runs `ipi cpu install_event`"]);
        assert!(!out.exists());
    }
    no_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

/// The manifest of a 10,000,000-run sweep (here its last shard, one run) names its seeds in a
/// few bytes instead of listing them (249 MB), and still replays that run and resumes.
#[test]
fn case10l_a_ten_million_run_manifest_is_small_and_replays() {
    let root = base("10l");
    let n = MAX_SWEEP_RUNS.to_string();
    let range = format!("1..{n}");
    for (name, seeds) in [("derived", n.as_str()), ("range", range.as_str())] {
        let out = root.join(name);
        let shard = format!("{n}/{n}");
        let args = [
            "sweep",
            "--schemes",
            "legacy",
            "--cpus",
            "8",
            "--seeds",
            seeds,
            "--duration",
            "1ms",
            "--shard",
            &shard,
            "--out",
            s(&out),
        ];
        cpuhpsim_ok(&args);
        let bytes = std::fs::metadata(out.join("manifest.json")).unwrap().len();
        assert!(bytes < 64 << 10, "{name}: manifest.json is {bytes} bytes");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["runs"].as_u64(), Some(MAX_SWEEP_RUNS));
        let (header, rows) = runs_csv(&out);
        assert_eq!(rows.len(), 1);
        let seed = header.iter().position(|h| h == "seed").unwrap();
        if name == "range" {
            assert_eq!(&rows[0][seed], n.as_str(), "the last seed of 1..{n}");
        }
        let replayed = root.join(format!("{name}-replayed"));
        let last = (MAX_SWEEP_RUNS - 1).to_string();
        let manifest_path = out.join("manifest.json");
        cpuhpsim_ok(&["replay", "--manifest", s(&manifest_path), "--run", &last, "--out", s(&replayed)]);
        assert_eq!(runs_csv(&replayed).1, rows, "{name}: the replay is the shard's run");
        let mut resume = args.to_vec();
        resume.push("--resume");
        let r = cpuhpsim_ok(&resume);
        assert!(String::from_utf8_lossy(&r.stdout).contains("nothing to resume"), "the manifest matches itself");
    }
    std::fs::remove_dir_all(root).unwrap();
}
