//! End-to-end tests of `cpuhpsim lockbench`: exit codes, files written, replayability.

mod common;

use std::path::{Path, PathBuf};

use common::cpuhpsim;

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli-lockbench", name)
}

fn assert_bad_input(extra: &[&str], names: &str) {
    let out_dir = scratch("bad");
    let mut args = vec!["lockbench", "--out", out_dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = cpuhpsim(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.contains(names), "{extra:?} should name {names}: {stderr}");
    assert!(!out_dir.exists(), "no output directory for bad input");
}

#[test]
fn zero_tasks_is_bad_input() {
    assert_bad_input(&["--tasks", "0"], "--tasks");
}

#[test]
fn negative_time_is_bad_input() {
    assert_bad_input(&["--hold", "-5us"], "--hold");
    assert_bad_input(&["--think", "-1"], "--think");
}

#[test]
fn time_without_a_unit_is_bad_input_naming_the_units() {
    assert_bad_input(
        &["--think", "100"],
        "--think <THINK>': `100` needs a unit: 100ns, 100us, 100ms, 100s, 100min or 100h",
    );
    assert_bad_input(&["--hold", "5"], "--hold <HOLD>': `5` needs a unit");
    assert_bad_input(&["--duration", "1"], "--duration <DURATION>': `1` needs a unit");
}

#[test]
fn unknown_lock_kind_is_bad_input_and_lists_the_kinds() {
    assert_bad_input(&["--kind", "rwlock"], "percpu-rwsem");
}

#[test]
fn out_of_range_fraction_is_bad_input() {
    assert_bad_input(&["--kind", "percpu-rwsem", "--write-fraction", "1.5"], "write-fraction");
}

#[test]
fn help_documents_every_parameter() {
    let out = cpuhpsim(&["lockbench", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--preset",
        "--kind",
        "--tasks",
        "--think",
        "--think-dist",
        "--hold",
        "--hold-dist",
        "--write-fraction",
        "--nested-read",
        "--duration",
        "--seed",
        "--zero-costs",
        "--freeze-on-deadlock",
        "--out",
        "--force",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn recursive_read_preset_deadlocks_and_its_replay_command_reproduces_the_files() {
    let first = scratch("preset");
    let out = cpuhpsim(&["lockbench", "--preset", "recursive-read", "--out", first.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadlocks = read(&first, "deadlocks.txt");
    assert!(deadlocks.contains("*** DEADLOCK ***") && deadlocks.contains("pending writer"), "{deadlocks}");
    // A second percpu_down_read() (read == 1) of a class already held: lockdep's AA report.
    let order = read(&first, "lock_order.txt");
    assert!(order.contains("WARNING: possible recursive locking detected"), "{order}");
    assert!(order.contains("May be due to missing lock nesting notation"), "{order}");
    let replay = read(&first, "replay.txt");
    let second = scratch("replay");
    let mut args: Vec<&str> = replay.split_whitespace().skip(1).collect();
    args.extend(["--out", second.to_str().unwrap()]);
    let out = cpuhpsim(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["locks.csv", "deadlocks.txt", "lock_order.txt", "replay.txt"] {
        assert_eq!(read(&first, name), read(&second, name), "{name} differs on replay");
    }
    std::fs::remove_dir_all(first).unwrap();
    std::fs::remove_dir_all(second).unwrap();
}

#[test]
fn existing_output_directory_is_not_overwritten_without_force() {
    let dir = scratch("exists");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keep"), "mine").unwrap();
    let out = cpuhpsim(&["lockbench", "--duration", "1ms", "--out", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(dir.join("keep")).unwrap(), "mine");
    let out = cpuhpsim(&["lockbench", "--duration", "1ms", "--out", dir.to_str().unwrap(), "--force"]);
    assert_eq!(out.status.code(), Some(2), "--force replaces only what cpuhpsim wrote");
    assert_eq!(std::fs::read_to_string(dir.join("keep")).unwrap(), "mine");
    std::fs::remove_dir_all(&dir).unwrap();
    for _ in 0..2 {
        let out = cpuhpsim(&["lockbench", "--duration", "1ms", "--out", dir.to_str().unwrap(), "--force"]);
        assert!(out.status.success());
    }
    assert!(dir.join("locks.csv").exists());
    std::fs::remove_dir_all(dir).unwrap();
}
