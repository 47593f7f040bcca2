//! End-to-end tests of `cpuhpsim run`, `schemes` and `presets`: the files written, byte-identical
//! replays, and scenario-defined schemes (bad input: `cli_bad_input.rs`).

mod common;

use std::path::{Path, PathBuf};

use common::cpuhpsim;

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli-run", name)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

const FILES: [&str; 5] = ["runs.csv", "locks.csv", "deadlocks.txt", "lock_order.txt", "manifest.json"];

#[test]
fn the_same_command_twice_writes_byte_identical_files() {
    let (a, b) = (scratch("same-a"), scratch("same-b"));
    for dir in [&a, &b] {
        let out =
            cpuhpsim(&["run", "--scheme", "legacy", "--seed", "5", "--duration", "3s", "--out", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for name in FILES {
        assert_eq!(read(&a, name), read(&b, name), "{name} differs between identical runs");
    }
    std::fs::remove_dir_all(a).unwrap();
    std::fs::remove_dir_all(b).unwrap();
}

#[test]
fn the_replay_column_reproduces_the_run() {
    let first = scratch("replay-a");
    let out = cpuhpsim(&[
        "run",
        "--scheme",
        "pmus-lock",
        "--cpus",
        "64",
        "--seed",
        "9",
        "--set",
        "hotplug.interval=20ms",
        "--out",
        first.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let runs = read(&first, "runs.csv");
    let mut reader = csv::Reader::from_reader(runs.as_bytes());
    let header = reader.headers().unwrap().clone();
    let row = reader.records().next().unwrap().unwrap();
    let replay = row.get(header.iter().position(|h| h == "replay").unwrap()).unwrap().to_string();
    assert!(replay.starts_with("cpuhpsim run "), "{replay}");
    let second = scratch("replay-b");
    let mut args: Vec<&str> = replay.split_whitespace().skip(1).collect();
    args.extend(["--out", second.to_str().unwrap()]);
    let out = cpuhpsim(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in FILES {
        assert_eq!(read(&first, name), read(&second, name), "{name} differs on replay");
    }
    std::fs::remove_dir_all(first).unwrap();
    std::fs::remove_dir_all(second).unwrap();
}

#[test]
fn a_scenario_file_can_define_its_own_scheme() {
    let dir = scratch("custom");
    std::fs::create_dir_all(&dir).unwrap();
    // Paul McKenney's "other style" by hand, without the usable bit: init marks nothing ready,
    // so open's check must reject CPUs after they come back and invariant 5 must fire.
    let scenario = r#"
[machine]
cpus = 16
packages = 1

[scheme]
name = "forgetful"
base = "percpu-state"
# v4.15's fixes, so that only this scheme's own bug can show.
free_outside_ctx_mutex = true
set_filter_outside_ctx_mutex = true
sw_sibling_init_unlocked = true
ds_buffers_hotplug_lock = false

[scheme.scripts]
cpu_up = """
lock cpu_add_remove_lock
lock cpu_hotplug_lock
mark perf_init_start
work 2ms
set cpu_online[cpu]
kick_ap cpuhp_ap_online
mark cpu_up_done
unlock cpu_hotplug_lock
unlock cpu_add_remove_lock
"""
cpuhp_ap_online = """
lock cpuhp_state
adopt_uncore
work 3ms
unlock cpuhp_state
"""

[run]
duration = "2s"
"#;
    let file = dir.join("forgetful.toml");
    std::fs::write(&file, scenario).unwrap();
    let out_dir = dir.join("out");
    let out = cpuhpsim(&["run", "--scenario", file.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let deadlocks = read(&out_dir, "deadlocks.txt");
    assert!(deadlocks.contains("invariant 5 violated"), "{deadlocks}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("forgetful on 16 CPUs"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn schemes_and_presets_list_and_print() {
    let out = cpuhpsim(&["schemes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for s in ["legacy", "pmus-lock", "percpu-state", "pmus-lock-nocheck"] {
        assert!(text.contains(s));
    }
    let out = cpuhpsim(&["schemes", "--print", "percpu-state"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("clear usable[cpu]") && text.contains("[scheme.scripts]"), "{text}");
    let out = cpuhpsim(&["presets", "--print", "storm"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("mode = \"storm\""));
    let out = cpuhpsim(&["schemes", "--print", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}
