//! End-to-end tests of `cpuhpsim replay` as a bug report uses it: the manifest alone rebuilds
//! the run (the scenario file may be gone and the shell elsewhere), and a replay command with
//! spaces in a path or a scheme name replays when pasted whole or split by a shell.

mod common;

use std::path::{Path, PathBuf};

use common::{command, cpuhpsim_ok, runs_csv};

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli-replay", name)
}

/// A scenario file in a folder whose name has a space, defining a scheme whose name has one.
fn scenario_with_spaces(dir: &Path) -> PathBuf {
    let folder = dir.join("my scenarios");
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("two words.toml");
    let text = "[machine]\ncpus = 16\npackages = 2\n[scheme]\nname = \"my idea\"\nbase = \"percpu-state\"\n\
                [openers]\ntasks = 8\n[hotplug]\ninterval = \"20ms\"\n";
    std::fs::write(&file, text).unwrap();
    file
}

/// A sweep of `file` with `extra` options, 2 seeds of 300 ms per grid point, into `out`.
fn sweep_of(file: &Path, extra: &[&str], out: &Path) {
    let mut args = vec!["sweep", "--scenario", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend(["--seeds", "2", "--duration", "300ms", "--out", out.to_str().unwrap()]);
    cpuhpsim_ok(&args);
}

/// The `replay` column of every row of `dir`'s runs.csv, with the rows.
fn replays(dir: &Path) -> Vec<(String, csv::StringRecord)> {
    let (header, rows) = runs_csv(dir);
    let col = header.iter().position(|h| h == "replay").unwrap();
    rows.into_iter().map(|r| (r[col].to_string(), r)).collect()
}

#[test]
fn a_sweep_manifest_replays_run_k_after_its_scenario_file_is_deleted_from_another_directory() {
    let dir = scratch("manifest");
    let file = scenario_with_spaces(&dir);
    let sweep = dir.join("sweep");
    sweep_of(&file, &["--cpus", "16,32", "--set", "hotplug.mode=random,rolling"], &sweep);
    let rows = replays(&sweep);
    assert_eq!(rows.len(), 8);
    std::fs::remove_dir_all(dir.join("my scenarios")).unwrap();
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for k in [0usize, 5, 7] {
        let out = dir.join(format!("replayed-{k}"));
        let status = command()
            .current_dir(&elsewhere)
            .args(["replay", "--manifest", sweep.join("manifest.json").to_str().unwrap()])
            .args(["--run", &k.to_string(), "--out", out.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(status.status.success(), "run {k}: {}", String::from_utf8_lossy(&status.stderr));
        assert_eq!(replays(&out)[0].1, rows[k].1, "run {k} replayed from the manifest alone differs");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn replay_commands_with_spaces_replay_pasted_whole_or_split_by_a_shell() {
    let dir = scratch("spaces");
    let file = scenario_with_spaces(&dir);
    let sweep = dir.join("sweep");
    sweep_of(&file, &["--set", "run.stop_on_deadlock=false,true"], &sweep);
    let run = dir.join("run");
    cpuhpsim_ok(&[
        "run",
        "--scenario",
        file.to_str().unwrap(),
        "--seed",
        "3",
        "--duration",
        "300ms",
        "--out",
        run.to_str().unwrap(),
    ]);
    let mut cases = replays(&sweep);
    cases.extend(replays(&run));
    for (i, (replay, row)) in cases.iter().enumerate() {
        assert!(replay.contains("'my idea'") && replay.contains("two words.toml'"), "{replay}");
        let whole = dir.join(format!("whole-{i}"));
        cpuhpsim_ok(&["replay", "--out", whole.to_str().unwrap(), replay]);
        assert_eq!(&replays(&whole)[0].1, row, "{replay} pasted as one argument");
        let split = dir.join(format!("split-{i}"));
        let mut args = vec!["replay".to_string(), "--out".into(), split.to_str().unwrap().into()];
        args.extend(shlex::split(replay).expect("a shell splits it"));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cpuhpsim_ok(&args);
        assert_eq!(&replays(&split)[0].1, row, "{replay} split by a shell");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every manifest records the build's commit and dirty flag; a replay from a manifest of
/// another commit warns on stderr and still replays.
#[test]
fn a_manifest_names_its_build_and_replay_warns_when_the_build_differs() {
    let dir = scratch("build");
    let run = dir.join("run");
    let out =
        command().args(["run", "--seed", "3", "--duration", "100ms", "--out", run.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(run.join("manifest.json")).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let commit = manifest["build"]["commit"].as_str().unwrap().to_string();
    assert!(commit == "unknown" || (commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit())), "{commit}");
    assert!(manifest["build"]["dirty"].is_boolean() || manifest["build"]["dirty"].is_null());
    manifest["build"]["commit"] = "0123456789abcdef0123456789abcdef01234567".into();
    let other = dir.join("other.json");
    std::fs::write(&other, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    let replayed = dir.join("replayed");
    let out = command()
        .args(["replay", "--manifest", other.to_str().unwrap(), "--out", replayed.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("built from commit 0123456789abcdef0123456789abcdef01234567"), "{err}");
    assert_eq!(std::fs::read(run.join("locks.csv")).unwrap(), std::fs::read(replayed.join("locks.csv")).unwrap());
    let _ = std::fs::remove_dir_all(dir);
}
