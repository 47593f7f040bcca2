//! Determinism of issue #9, end to end: the same seed gives the same bytes; a sweep's bytes do
//! not depend on its thread count or on how it is sharded; a run's row does not depend on which
//! other runs share its sweep. Every output file is compared whole: none records wall time,
//! the host or the thread count.
//!
//! Complements `cli_sweep.rs` (`--jobs 1` vs `--jobs 2` and three shards on the default
//! preset) and `cli_run.rs` (a plain run twice): here with PMU load, deadlocking and
//! deadlock-free variants, a scenario-defined scheme and a trace.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_same_tree, cpuhpsim_ok, runs_csv, scratch};

fn dir(name: &str) -> PathBuf {
    scratch("determinism", name)
}

/// 3 schemes × both release paths × 8 and 16 CPUs × 3 seeds, 0.5 s each with PMU load and
/// hotplug every 20 ms: 36 runs, most of the 2017 release path's deadlocking.
const SWEEP: [&str; 18] = [
    "sweep",
    "--preset",
    "pmu-load",
    "--schemes",
    "legacy,pmus-lock,percpu-state",
    "--set",
    "hotplug.interval=20ms",
    "--set",
    "scheme.free_outside_ctx_mutex=false,true",
    "--cpus",
    "8,16",
    "--seeds",
    "3",
    "--duration",
    "500ms",
    "--master-seed",
    "7",
    "--force",
];

fn sweep(out: &Path, extra: &[&str]) {
    let mut args = SWEEP.to_vec();
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    cpuhpsim_ok(&args);
}

fn remove(dirs: &[&PathBuf]) {
    for d in dirs {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn a_run_with_a_scenario_scheme_and_pmu_load_repeats_byte_for_byte_with_its_trace_on_1_and_3_threads() {
    let root = dir("run");
    std::fs::create_dir_all(&root).unwrap();
    // percpu-state with an open that never checks the usable bit (a bug on purpose): invariant
    // violations and PMU figures both show up in the files.
    let scenario = root.join("s.toml");
    std::fs::write(
        &scenario,
        r#"
[machine]
cpus = 12
packages = 2

[scheme]
name = "late-check"
base = "percpu-state"
free_outside_ctx_mutex = true

[scheme.scripts]
perf_event_open = """
lock cpuctx_mutex[cpu, pmu]
ipi cpu install_event
unlock cpuctx_mutex[cpu, pmu]
"""

[hotplug]
interval = "10ms"

[pmu_load]
sampling_events = 2
counting_events = 1
sample_period = 1000000
uncore_counting = true

[run]
duration = "400ms"
"#,
    )
    .unwrap();
    let (a, b) = (root.join("a"), root.join("b"));
    let (ta, tb) = (root.join("a.json"), root.join("b.json"));
    // The core PMUs run ahead on rayon's threads: one thread, then three, same bytes.
    for (out, trace, threads) in [(&a, &ta, "1"), (&b, &tb, "3")] {
        let mut run = common::command();
        run.env("RAYON_NUM_THREADS", threads).args([
            "run",
            "--scenario",
            scenario.to_str().unwrap(),
            "--seed",
            "11",
            "--trace",
            trace.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let run = run.output().expect("binary runs");
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    }
    assert_same_tree(&a, &b);
    assert!(std::fs::read(&ta).unwrap() == std::fs::read(&tb).unwrap(), "traces differ");
    let (header, rows) = runs_csv(&a);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert!(rows[0][col("pmis")].parse::<u64>().unwrap() > 0, "the run carried no PMU load");
    assert!(rows[0][col("violations")].parse::<u64>().unwrap() > 0, "the unchecked open broke no invariant");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_sweep_repeats_byte_for_byte_on_2_and_3_threads() {
    let (first, again, three) = (dir("jobs2-a"), dir("jobs2-b"), dir("jobs3"));
    sweep(&first, &["--jobs", "2"]);
    sweep(&again, &["--jobs", "2"]);
    sweep(&three, &["--jobs", "3"]);
    assert_same_tree(&first, &again);
    assert_same_tree(&first, &three);
    let (header, rows) = runs_csv(&first);
    let deadlocked = header.iter().position(|h| h == "deadlocked").unwrap();
    assert_eq!(rows.len(), 36);
    assert!(rows.iter().any(|r| &r[deadlocked] == "true"), "deadlocks are part of what must repeat");
    remove(&[&first, &again, &three]);
}

#[test]
fn two_shards_merged_equal_the_unsharded_sweep() {
    let (whole, one, two, merged) = (dir("whole"), dir("shard1"), dir("shard2"), dir("merged"));
    sweep(&whole, &["--jobs", "2"]);
    sweep(&one, &["--shard", "1/2", "--jobs", "1"]);
    sweep(&two, &["--shard", "2/2", "--jobs", "2"]);
    cpuhpsim_ok(&["merge", "--out", merged.to_str().unwrap(), one.to_str().unwrap(), two.to_str().unwrap()]);
    assert_same_tree(&whole, &merged);
    let (_, first_half) = runs_csv(&one);
    assert_eq!(first_half.len(), 18, "each shard runs half");
    remove(&[&whole, &one, &two, &merged]);
}

#[test]
fn a_runs_row_does_not_depend_on_the_other_runs_of_its_sweep() {
    let big = dir("companions");
    sweep(&big, &["--jobs", "2"]);
    let (header, rows) = runs_csv(&big);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // A deadlocked legacy row, a clean percpu-state row, and a row of the last seed.
    let picks = [
        rows.iter().find(|r| r[col("scheme")].starts_with("legacy") && &r[col("deadlocked")] == "true").unwrap(),
        rows.iter().find(|r| r[col("scheme")].starts_with("percpu-state") && &r[col("cpus")] == "16").unwrap(),
        &rows[rows.len() - 1],
    ];
    for (i, row) in picks.into_iter().enumerate() {
        let scheme = &row[col("scheme")];
        let variant = &row[col("variant")];
        let label = format!("{scheme} {variant}");
        let free = if variant.ends_with("free_outside_ctx_mutex=true") { "true" } else { "false" };
        let seed = &row[col("seed")];
        let alone = dir(&format!("alone{i}"));
        let free_set = format!("scheme.free_outside_ctx_mutex={free}");
        let seeds = format!("{seed}..{seed}");
        cpuhpsim_ok(&[
            "sweep",
            "--preset",
            "pmu-load",
            "--schemes",
            scheme,
            "--set",
            "hotplug.interval=20ms",
            "--set",
            &free_set,
            "--cpus",
            &row[col("cpus")],
            "--seeds",
            &seeds,
            "--duration",
            "500ms",
            "--jobs",
            "1",
            "--out",
            alone.to_str().unwrap(),
        ]);
        let (alone_header, alone_rows) = runs_csv(&alone);
        assert_eq!(alone_header, header);
        assert_eq!(alone_rows.len(), 1);
        assert_eq!(&alone_rows[0], row, "{label} seed {seed} alone differs from the same run among 35 others");
        std::fs::remove_dir_all(alone).unwrap();
    }
    std::fs::remove_dir_all(big).unwrap();
}
