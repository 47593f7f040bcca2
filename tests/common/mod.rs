//! Helpers shared by the end-to-end tests: run the binary, scratch directories, file trees.

#![allow(dead_code)] // each test file uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The real binary, outside any Slurm or Kubernetes job (their variables pick a shard).
pub fn command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cpuhpsim"));
    command.env_remove("SLURM_ARRAY_TASK_ID").env_remove("SLURM_ARRAY_TASK_COUNT").env_remove("JOB_COMPLETION_INDEX");
    command
}

/// Runs the binary with `args` and waits for it.
pub fn cpuhpsim(args: &[&str]) -> Output {
    command().args(args).output().expect("binary runs")
}

/// Runs the binary and fails the test, with its stderr, unless it succeeded.
pub fn cpuhpsim_ok(args: &[&str]) -> Output {
    let out = cpuhpsim(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A fresh, absent path under the temp dir, unique to this test process.
pub fn scratch(group: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cpuhpsim-{group}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every file under `dir`, by relative path.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// The two directories hold the same files with the same bytes.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>(), "file lists differ");
    for (name, bytes) in &ta {
        assert!(bytes == &tb[name], "{name} differs between {} and {}", a.display(), b.display());
    }
}

/// `runs.csv` of a directory: its header and rows.
pub fn runs_csv(dir: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(dir.join("runs.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    (header, reader.records().map(|r| r.unwrap()).collect())
}
