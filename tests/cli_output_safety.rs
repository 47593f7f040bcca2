//! `--out --force` replaces only directories cpuhpsim wrote, and never loses the old results.

mod common;

use common::{cpuhpsim, cpuhpsim_ok, scratch, tree};
use std::path::Path;

fn run_args(out: &Path) -> Vec<String> {
    ["run", "--scheme", "legacy", "--seed", "5", "--duration", "1s", "--out", out.to_str().unwrap(), "--force"]
        .map(String::from)
        .to_vec()
}

/// Exit 2, one stderr line naming `path` and containing `what`, no panic.
fn assert_refused(out: &std::process::Output, path: &Path, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&path.display().to_string()) && stderr.contains(what), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn no_partial_litter(parent: &Path) {
    for entry in std::fs::read_dir(parent).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".partial") && !name.ends_with(".old"), "litter: {name}");
    }
}

#[test]
fn force_refuses_a_directory_cpuhpsim_did_not_write() {
    let root = scratch("outsafety", "foreign");
    let dir = root.join("thesis");
    std::fs::create_dir_all(dir.join("figures")).unwrap();
    std::fs::write(dir.join("thesis.tex"), "\\documentclass{article}").unwrap();
    std::fs::write(dir.join(".latexmkrc"), "x").unwrap();
    std::fs::write(dir.join("figures/a.pdf"), "pdf").unwrap();
    let before = tree(&dir);
    let args = run_args(&dir);
    let out = cpuhpsim(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_refused(&out, &dir, "holds files cpuhpsim did not write");
    assert_eq!(tree(&dir), before, "unrelated files intact");
    no_partial_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn force_replaces_a_cpuhpsim_directory_whole() {
    let root = scratch("outsafety", "replace");
    let dir = root.join("run");
    let args = run_args(&dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cpuhpsim_ok(&args);
    let first = tree(&dir);
    cpuhpsim_ok(&args);
    assert_eq!(tree(&dir), first, "same run, same files");
    no_partial_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn force_refuses_a_regular_file_before_any_run() {
    let root = scratch("outsafety", "file");
    std::fs::create_dir_all(&root).unwrap();
    let file = root.join("notes.txt");
    std::fs::write(&file, "keep me").unwrap();
    let out = cpuhpsim(&[
        "sweep",
        "--schemes",
        "legacy",
        "--seeds",
        "1",
        "--duration",
        "1s",
        "--out",
        file.to_str().unwrap(),
        "--force",
    ]);
    assert_refused(&out, &file, "is not a directory");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    no_partial_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

/// #19 case 1: `--out prev/. --force` (and `..`, and the working directory) would replace the
/// results by way of the directory itself; it is refused and `prev` stays as it was.
#[test]
fn force_refuses_a_path_ending_in_dot_or_dotdot() {
    let root = scratch("outsafety", "dots");
    let prev = root.join("prev");
    cpuhpsim_ok(&run_args(&prev).iter().map(String::as_str).collect::<Vec<_>>());
    let before = tree(&prev);
    for path in [prev.join("."), prev.join(".."), prev.join("sub").join("..")] {
        let out = cpuhpsim(&run_args(&path).iter().map(String::as_str).collect::<Vec<_>>());
        assert_refused(&out, &path, "ends in `.` or `..`");
        assert_eq!(tree(&prev), before, "{} changed prev", path.display());
    }
    no_partial_litter(&root);
    let sweep = ["sweep", "--seeds", "1", "--duration", "1ms", "--force", "--out", "."];
    let out = common::command().args(sweep).current_dir(&prev).output().unwrap();
    assert_refused(&out, Path::new("."), "holds the working directory");
    assert_eq!(tree(&prev), before);
    std::fs::remove_dir_all(root).unwrap();
}

/// #19 case 8: `--trace` to a directory or a device is refused before the run, and no results
/// directory is committed; a trace that is written appears whole, with no partial file left.
#[test]
fn a_trace_path_that_is_not_a_regular_file_is_refused_and_nothing_is_committed() {
    let root = scratch("outsafety", "trace");
    std::fs::create_dir_all(root.join("a-directory")).unwrap();
    for trace in [root.join("a-directory"), std::path::PathBuf::from("/dev/full")] {
        let out_dir = root.join("out");
        let out = cpuhpsim(&[
            "run",
            "--duration",
            "1ms",
            "--out",
            out_dir.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ]);
        assert_refused(&out, &trace, "is not a regular file");
        assert!(!out_dir.exists(), "{} committed", out_dir.display());
        no_partial_litter(&root);
    }
    let trace = root.join("t.json");
    let out_dir = root.join("ok");
    cpuhpsim_ok(&["run", "--duration", "1ms", "--out", out_dir.to_str().unwrap(), "--trace", trace.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    assert!(json["traceEvents"].as_array().is_some_and(|e| !e.is_empty()));
    no_partial_litter(&root);
    std::fs::remove_dir_all(root).unwrap();
}

/// Two writers of one `--out` (#19 case 2): the second is refused, by the lock `.NAME.lock`, with
/// the first one's command, and the first one's results are untouched by it.
#[test]
fn a_second_writer_of_the_same_out_is_refused_with_the_holders_command() {
    let base = std::env::temp_dir().join(format!("cpuhpsim-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let out = base.join("r");
    let mut first = common::command()
        .args(["run", "--preset", "pmu-load", "--scheme", "percpu-state", "--duration", "1h", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !base.join(".r.partial").exists() {
        assert!(start.elapsed() < std::time::Duration::from_secs(60));
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second =
        common::cpuhpsim(&["run", "--seed", "2", "--duration", "100ms", "--force", "--out", out.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{err}");
    assert!(err.contains("is being written by pid") && err.contains("--duration 1h"), "{err}");
    assert!(base.join(".r.partial").exists(), "the first writer's staging is intact");
    let _ = first.kill();
    let _ = first.wait();
    // The holder is gone (SIGKILL drops its lock): the next writer proceeds.
    common::cpuhpsim_ok(&["run", "--seed", "2", "--duration", "100ms", "--out", out.to_str().unwrap()]);
    assert!(!base.join(".r.lock").exists(), "the lock file goes with its writer");
    let _ = std::fs::remove_dir_all(base);
}
