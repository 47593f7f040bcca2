//! End-to-end tests of requests that say one thing twice, of replay's own options against a
//! pasted command's, and of a standard output that cannot be written.

mod common;

use std::path::PathBuf;
use std::process::Stdio;

use common::{command, cpuhpsim, cpuhpsim_ok, runs_csv};

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli-conflicts", name)
}

/// `args` (with `--out` in a fresh directory) exits 2 with one stderr line holding each of
/// `names`, and writes no output directory.
fn refused(args: &[&str], names: &[&str]) {
    let out = scratch("refused");
    let mut all = args.to_vec();
    all.extend(["--out", out.to_str().unwrap()]);
    let result = cpuhpsim(&all);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(2), "{all:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{all:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{all:?}: {stderr}");
    for name in names {
        assert!(stderr.contains(name), "{all:?} should name {name:?}: {stderr}");
    }
    assert!(!out.exists(), "{all:?} wrote {}", out.display());
}

#[test]
fn an_option_and_a_setting_of_the_same_key_are_refused_not_silently_collapsed() {
    refused(&["run", "--cpus", "64", "--set", "machine.cpus=8"], &["--cpus and --set machine.cpus", "give one"]);
    refused(&["run", "--seed", "3", "--set", "run.seed=4"], &["--seed and --set run.seed"]);
    refused(
        &["sweep", "--cpus", "64", "--set", "machine.cpus=8,16", "--seeds", "1"],
        &["--cpus and --set machine.cpus"],
    );
    refused(&["sweep", "--schemes", "legacy", "--set", "scheme.name=pmus-lock", "--seeds", "1"], &["--schemes"]);
    refused(
        &["sweep", "--duration", "1s", "--set", "run.duration=2s", "--seeds", "1"],
        &["--duration and --set run.duration"],
    );
}

#[test]
fn a_key_set_twice_is_refused() {
    refused(&["run", "--set", "openers.tasks=4", "--set", "openers.tasks=8"], &["openers.tasks", "set twice"]);
    refused(&["sweep", "--set", "openers.tasks=4", "--set", "openers.tasks=8,16", "--seeds", "1"], &["openers.tasks"]);
}

#[test]
fn replay_honours_a_pasted_out_and_trace_and_its_own_win() {
    let dir = scratch("replay");
    let (pasted_out, pasted_trace) = (dir.join("pasted"), dir.join("pasted.json"));
    let pasted = |extra: &[&str]| -> Vec<String> {
        let mut words: Vec<String> =
            ["cpuhpsim", "run", "--preset", "stress", "--seed", "2", "--duration", "200ms"].map(String::from).to_vec();
        words.extend(extra.iter().map(|w| w.to_string()));
        words
    };
    let mut args = vec!["replay".to_string()];
    args.extend(pasted(&["--out", pasted_out.to_str().unwrap(), "--trace", pasted_trace.to_str().unwrap()]));
    cpuhpsim_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(runs_csv(&pasted_out).1.len(), 1);
    assert!(std::fs::metadata(&pasted_trace).unwrap().len() > 0, "the pasted --trace is written");
    let (own_out, own_trace) = (dir.join("own"), dir.join("own.json"));
    let other = dir.join("other");
    let mut args: Vec<String> = ["replay", "--out", own_out.to_str().unwrap(), "--trace", own_trace.to_str().unwrap()]
        .map(String::from)
        .to_vec();
    args.extend(pasted(&["--out", other.to_str().unwrap()]));
    cpuhpsim_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(own_out.join("runs.csv").exists() && own_trace.exists(), "replay's own --out and --trace win");
    assert!(!other.exists(), "the pasted --out is not written when replay has its own");
    assert_eq!(runs_csv(&own_out).1, runs_csv(&pasted_out).1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_full_standard_output_keeps_the_results_and_exits_3() {
    let out = scratch("full-stdout");
    let full = std::fs::File::create("/dev/full").expect("/dev/full exists on Linux");
    let result = command()
        .args(["run", "--preset", "stress", "--duration", "200ms", "--out", out.to_str().unwrap()])
        .stdout(Stdio::from(full))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("standard output"), "{stderr}");
    assert_eq!(runs_csv(&out).1.len(), 1, "the results are committed whole");
    std::fs::remove_dir_all(out).unwrap();
}
