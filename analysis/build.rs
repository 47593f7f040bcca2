//! Records the git commit the tool is built from, and whether the tree had uncommitted
//! changes, for manifests (`analysis::BUILD_COMMIT`, `BUILD_DIRTY`): a replay can then say
//! when it runs on other code. Outside a git checkout both are "unknown".

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let root = manifest_dir.parent().expect("analysis sits in the workspace").to_path_buf();
    let root_str = root.to_string_lossy().to_string();
    let commit = git(&["-C", &root_str, "rev-parse", "HEAD"]);
    // --no-optional-locks: status must not rewrite the index, which would rerun this script.
    let dirty = commit
        .as_ref()
        .and_then(|_| git(&["-C", &root_str, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"]));
    println!("cargo:rustc-env=CPUHPSIM_BUILD_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
    let dirty = match dirty {
        Some(s) if s.is_empty() => "false",
        Some(_) => "true",
        None => "unknown",
    };
    println!("cargo:rustc-env=CPUHPSIM_BUILD_DIRTY={dirty}");
    // Rerun when the commit or the sources change; only paths that exist (a missing one would
    // rerun the script on every build).
    let mut watch: Vec<PathBuf> =
        ["sim", "workloads", "analysis/src", "src", "Cargo.toml", "Cargo.lock"].iter().map(|p| root.join(p)).collect();
    for dir in
        [git(&["-C", &root_str, "rev-parse", "--git-dir"]), git(&["-C", &root_str, "rev-parse", "--git-common-dir"])]
            .into_iter()
            .flatten()
    {
        let dir = if Path::new(&dir).is_absolute() { PathBuf::from(&dir) } else { root.join(&dir) };
        watch.extend(["HEAD", "index", "refs/heads", "packed-refs"].iter().map(|p| dir.join(p)));
    }
    for path in watch.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
