//! Output directories that appear complete or not at all: written under a staging name beside
//! the target, renamed into place at the end, removed if anything fails first. Every directory
//! carries a [`MARKER`] file, so that replacing one never deletes files cpuhpsim did not write.

use std::fs;
use std::path::{Path, PathBuf};

use crate::OutputError;

/// The file in every output directory that says cpuhpsim wrote it (and may replace it).
pub const MARKER: &str = ".cpuhpsim";

/// `dir` is one cpuhpsim wrote: it holds the [`MARKER`], or (from before the marker) a
/// `manifest.json` whose `"tool"` is `"cpuhpsim"`. Otherwise the error names one foreign file.
fn check_replaceable(dir: &Path) -> Result<(), OutputError> {
    let meta = fs::symlink_metadata(dir).map_err(|e| OutputError::Io(dir.to_path_buf(), e))?;
    if !meta.is_dir() {
        return Err(OutputError::NotDir(dir.to_path_buf()));
    }
    if dir.join(MARKER).is_file() {
        return Ok(());
    }
    let tool = fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v.get("tool").and_then(|t| t.as_str()).map(str::to_owned));
    if tool.as_deref() == Some("cpuhpsim") {
        return Ok(());
    }
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| OutputError::Io(dir.to_path_buf(), e))?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    match names.into_iter().next() {
        Some(example) => Err(OutputError::Foreign(dir.to_path_buf(), example)),
        None => Ok(()),
    }
}

/// Refuses a target named through `.` or `..` (`prev/.`, `..`), and one that is the working
/// directory or holds it: replacing such a directory would remove the place the new results
/// are staged in, or the directory the user stands in.
fn refuse_dot_paths(target: &Path) -> Result<(), OutputError> {
    let text = target.to_string_lossy();
    let trimmed = text.trim_end_matches('/');
    let last = trimmed.rsplit('/').next().unwrap_or(trimmed);
    let dotted = last == "." || last == "..";
    let holds_cwd = match (fs::canonicalize(target), std::env::current_dir().and_then(fs::canonicalize)) {
        (Ok(target), Ok(cwd)) => cwd.starts_with(&target),
        _ => false,
    };
    if dotted || holds_cwd || trimmed.is_empty() {
        return Err(OutputError::DotPath(target.to_path_buf()));
    }
    Ok(())
}

/// A results directory being written. Dropped without [`commit`](Self::commit), it vanishes.
pub struct StagedDir {
    staging: PathBuf,
    target: PathBuf,
    force: bool,
    committed: bool,
    /// `.NAME.lock` beside the target, locked for as long as this writer lives (the kernel
    /// drops the lock when the process dies, however it dies).
    _lock: fs::File,
    lock_path: PathBuf,
}

/// Whether the open `file` is still the one at `path`.
fn same_file(file: &fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// `.NAME.SUFFIX` beside `target` (`NAME` its last component): where its staging directory
/// (`partial`), its writer's lock (`lock`) and a sweep's checkpoint (`checkpoint`) live.
pub fn beside(target: &Path, suffix: &str) -> PathBuf {
    let name = target.file_name().map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    parent.join(format!(".{name}.{suffix}"))
}

/// Takes the advisory lock at `path` for the writer of `target`, recording who holds it; a
/// second writer gets [`OutputError::Locked`] with the holder's command.
fn lock_target(path: &Path, target: &Path) -> Result<fs::File, OutputError> {
    use std::io::{Read, Seek, Write};
    let path = path.to_path_buf();
    let io = |e| OutputError::Io(path.clone(), e);
    // The holder removes the file when it is done (still holding the lock), so a lock taken on
    // a file that is no longer at `path` is stale: open the new one and try again.
    let mut file = loop {
        let mut file =
            fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) if same_file(&file, &path) => break file,
            Ok(()) => continue,
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another cpuhpsim".to_string() } else { holder.to_string() };
                return Err(OutputError::Locked(target.to_path_buf(), holder));
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(e)),
        }
    };
    let args: Vec<String> = std::env::args().collect();
    let holder = format!("pid {}: {}\n", std::process::id(), args.join(" "));
    file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(holder.as_bytes())).map_err(io)?;
    Ok(file)
}

impl StagedDir {
    /// Starts writing `target`. An existing `target` is an error unless `force`.
    pub fn create(target: &Path, force: bool) -> Result<StagedDir, OutputError> {
        refuse_dot_paths(target)?;
        if fs::symlink_metadata(target).is_ok() {
            if !force {
                return Err(OutputError::Exists(target.to_path_buf()));
            }
            check_replaceable(target)?;
        }
        if target.file_name().is_none() {
            return Err(OutputError::BadPath(target.to_path_buf()));
        }
        let staging = beside(target, "partial");
        let parent = staging.parent().expect("beside() joins onto a parent");
        fs::create_dir_all(parent).map_err(|e| OutputError::Io(parent.to_path_buf(), e))?;
        // Before anything is removed: a second writer of the same target stops here.
        let lock_path = beside(target, "lock");
        let lock = lock_target(&lock_path, target)?;
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| OutputError::Io(staging.clone(), e))?;
        }
        fs::create_dir(&staging).map_err(|e| OutputError::Io(staging.clone(), e))?;
        let staged =
            StagedDir { staging, target: target.to_path_buf(), force, committed: false, _lock: lock, lock_path };
        staged.write(MARKER, "")?;
        Ok(staged)
    }

    /// Where files go until the commit.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The writer's lock file, `.NAME.lock` beside the target.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    pub fn file(&self, name: &str) -> Result<fs::File, OutputError> {
        let path = self.staging.join(name);
        fs::File::create(&path).map_err(|e| OutputError::Io(path, e))
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> Result<(), OutputError> {
        let path = self.staging.join(name);
        fs::write(&path, contents).map_err(|e| OutputError::Io(path, e))
    }

    /// Moves the finished directory into place, replacing the old one only with `force` and only
    /// if cpuhpsim wrote it. The old one is renamed aside (`.NAME.old`) until the new one is in
    /// place, and put back if that fails: there is always a complete directory at `target`.
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        let io = |e| OutputError::Io(self.target.clone(), e);
        let mut aside = None;
        if fs::symlink_metadata(&self.target).is_ok() {
            if !self.force {
                return Err(OutputError::Exists(self.target.clone()));
            }
            check_replaceable(&self.target)?;
            let old = self.staging.with_file_name(aside_name(&self.staging));
            if fs::symlink_metadata(&old).is_ok() {
                fs::remove_dir_all(&old).map_err(|e| OutputError::Io(old.clone(), e))?;
            }
            fs::rename(&self.target, &old).map_err(io)?;
            aside = Some(old);
        }
        if let Err(e) = fs::rename(&self.staging, &self.target) {
            if let Some(old) = &aside {
                let _ = fs::rename(old, &self.target);
            }
            return Err(io(e));
        }
        self.committed = true;
        if let Some(old) = aside {
            fs::remove_dir_all(&old).map_err(|e| OutputError::Io(old, e))?;
        }
        Ok(self.target.clone())
    }
}

/// `.NAME.old` beside `.NAME.partial`: where the replaced directory waits during a commit.
fn aside_name(staging: &Path) -> String {
    let name = staging.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{}.old", name.trim_end_matches(".partial"))
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
        // Removed while still locked; the lock goes with the file handle right after.
        let _ = fs::remove_file(&self.lock_path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cpuhpsim-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn nothing_appears_until_commit_and_nothing_stays_on_drop() {
        let root = scratch("staged");
        let target = root.join("run");
        {
            let staged = StagedDir::create(&target, false).unwrap();
            staged.write("a.csv", "x").unwrap();
            assert!(!target.exists());
        }
        assert!(!target.exists());
        assert_eq!(fs::read_dir(&root).unwrap().count(), 0, "no staging directory left behind");
        let staged = StagedDir::create(&target, false).unwrap();
        staged.write("a.csv", "x").unwrap();
        staged.commit().unwrap();
        assert_eq!(fs::read_to_string(target.join("a.csv")).unwrap(), "x");
        assert!(matches!(StagedDir::create(&target, false), Err(OutputError::Exists(_))));
        let again = StagedDir::create(&target, true).unwrap();
        again.write("b.csv", "y").unwrap();
        again.commit().unwrap();
        assert!(!target.join("a.csv").exists() && target.join("b.csv").exists());
        fs::remove_dir_all(root).unwrap();
    }
}
