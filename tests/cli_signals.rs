//! SIGTERM on a command that cannot save half-way (`run`): it exits with status 130, prints one
//! line, and leaves neither the results directory nor its `.NAME.partial` staging (#19 case 7).

#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

#[test]
fn sigterm_on_run_leaves_no_partial_directory() {
    let base = common::scratch("signals", "run");
    std::fs::create_dir_all(&base).unwrap();
    let out = base.join("r");
    let staging = base.join(".r.partial");
    let child = common::command()
        .args(["run", "--preset", "pmu-load", "--scheme", "percpu-state", "--duration", "1h", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run simulates an hour of PMU load: far longer than the wait for its staging directory.
    let start = Instant::now();
    while !staging.exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "no staging directory appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130));
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(err.trim(), "interrupted: nothing was written");
    let left: Vec<_> = std::fs::read_dir(&base).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "nothing left behind (results, staging or lock file): {left:?}");
    let _ = std::fs::remove_dir_all(base);
}
