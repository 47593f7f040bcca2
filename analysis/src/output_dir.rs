//! Output directories that appear complete or not at all: written under a staging name beside
//! the target, renamed into place at the end, removed if anything fails first.

use std::fs;
use std::path::{Path, PathBuf};

use crate::OutputError;

/// A results directory being written. Dropped without [`commit`](Self::commit), it vanishes.
pub struct StagedDir {
    staging: PathBuf,
    target: PathBuf,
    force: bool,
    committed: bool,
}

impl StagedDir {
    /// Starts writing `target`. An existing `target` is an error unless `force`.
    pub fn create(target: &Path, force: bool) -> Result<StagedDir, OutputError> {
        if target.exists() && !force {
            return Err(OutputError::Exists(target.to_path_buf()));
        }
        let name = target
            .file_name()
            .ok_or_else(|| OutputError::BadPath(target.to_path_buf()))?
            .to_string_lossy()
            .into_owned();
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|e| OutputError::Io(parent.clone(), e))?;
        let staging = parent.join(format!(".{name}.partial"));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| OutputError::Io(staging.clone(), e))?;
        }
        fs::create_dir(&staging).map_err(|e| OutputError::Io(staging.clone(), e))?;
        Ok(StagedDir { staging, target: target.to_path_buf(), force, committed: false })
    }

    /// Where files go until the commit.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    pub fn file(&self, name: &str) -> Result<fs::File, OutputError> {
        let path = self.staging.join(name);
        fs::File::create(&path).map_err(|e| OutputError::Io(path, e))
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> Result<(), OutputError> {
        let path = self.staging.join(name);
        fs::write(&path, contents).map_err(|e| OutputError::Io(path, e))
    }

    /// Moves the finished directory into place (replacing the old one only with `force`).
    pub fn commit(mut self) -> Result<PathBuf, OutputError> {
        if self.target.exists() {
            if !self.force {
                return Err(OutputError::Exists(self.target.clone()));
            }
            fs::remove_dir_all(&self.target).map_err(|e| OutputError::Io(self.target.clone(), e))?;
        }
        fs::rename(&self.staging, &self.target).map_err(|e| OutputError::Io(self.target.clone(), e))?;
        self.committed = true;
        Ok(self.target.clone())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
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
