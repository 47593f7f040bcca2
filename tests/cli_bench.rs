//! End-to-end tests of `cpuhpsim bench`: the real binary, its exit codes and its output.

use std::process::{Command, Output};

fn cpuhpsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpuhpsim")).args(args).output().expect("binary runs")
}

fn assert_bad_input(args: &[&str], names: &str) {
    let out = cpuhpsim(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.contains(names), "{args:?} should name {names}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn phold_rejects_zero_lps() {
    assert_bad_input(&["bench", "phold", "--lps", "0"], "--lps");
}

#[test]
fn phold_rejects_negative_events() {
    assert_bad_input(&["bench", "phold", "--events", "-1"], "--events");
}

#[test]
fn phold_rejects_unknown_flag() {
    assert_bad_input(&["bench", "phold", "--bogus"], "--bogus");
}

#[test]
fn phold_prints_engine_baseline_and_ratio() {
    let out = cpuhpsim(&["bench", "phold", "--lps", "64", "--events", "10000", "--runs", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let median = stdout.lines().find(|l| l.starts_with("median:")).expect("median line");
    assert!(median.contains("engine") && median.contains("baseline") && median.contains("engine/baseline"));
}
