//! Fault injection: a sweep killed with SIGKILL at seeded points resumes, from its checkpoint,
//! to the bytes of an uninterrupted sweep (#19 case 7).

#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::{assert_same_tree, command, scratch};

const SWEEP: [&str; 13] = [
    "sweep",
    "--preset",
    "pmu-load",
    "--schemes",
    "pmus-lock,percpu-state",
    "--cpus",
    "64",
    "--seeds",
    "40",
    "--duration",
    "1s",
    "--jobs",
    "2",
];

#[test]
fn a_sweep_killed_at_seeded_points_resumes_to_the_bytes_of_an_uninterrupted_one() {
    let base = scratch("kill-resume", "all");
    std::fs::create_dir_all(&base).unwrap();
    let whole = base.join("whole");
    assert!(command().args(SWEEP).arg("--out").arg(&whole).output().unwrap().status.success());
    let out = base.join("killed");
    let checkpoint_sum = base.join(".killed.checkpoint").join("state.sum");
    // A fixed-seed LCG picks how long after the first checkpoint each kill lands (0-600 ms).
    let mut x: u64 = 0x5eed;
    let mut resumed_from_checkpoint = 0;
    for attempt in 0..3 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let extra = Duration::from_millis((x >> 33) % 600);
        let _ = std::fs::remove_dir_all(&out);
        let mut child = command()
            .args(SWEEP)
            .arg("--out")
            .arg(&out)
            .env("CPUHPSIM_CHECKPOINT_SECS", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !checkpoint_sum.exists() && child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(extra);
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let resume = command()
            .args(SWEEP)
            .arg("--out")
            .arg(&out)
            .arg("--resume")
            .env("CPUHPSIM_CHECKPOINT_SECS", "0")
            .output()
            .unwrap();
        assert!(
            resume.status.success(),
            "attempt {attempt} (killed {extra:?} after the first checkpoint, {status}): {}",
            String::from_utf8_lossy(&resume.stderr)
        );
        if status.code().is_none() && String::from_utf8_lossy(&resume.stderr).contains("resuming from the checkpoint") {
            resumed_from_checkpoint += 1;
        }
        assert_same_tree(&whole, &out);
        assert!(!checkpoint_sum.exists(), "the checkpoint is removed once the sweep is committed");
    }
    assert!(resumed_from_checkpoint > 0, "no kill landed mid-sweep");
    let _ = std::fs::remove_dir_all(base);
}
