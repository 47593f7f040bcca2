//! A sweep's per-run records (`runs.csv`, `deadlocks.csv`, `deadlocks.txt` and the rows and
//! deadlocks of `state.json`) streamed to disk in run-index order as runs finish, so a sweep's
//! memory does not grow with its number of runs.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::aggregate::{DeadlockRecord, SweepState, deadlock_json, row_json, state_json};
use crate::option_columns::{OptionColumns, OptionCsv};
use crate::output_dir::StagedDir;
use crate::runs::RunRow;
use crate::workloads::run::variant_of;
use crate::{FNV_OFFSET, OutputError, csv_rows, fnv1a};

/// One `deadlocks.csv` row: a deadlock of a run, its cycle and what replays it.
#[derive(Default, Serialize)]
struct DeadlocksCsvRow<'a> {
    run: u64,
    scheme: &'a str,
    variant: &'a str,
    cpus: u32,
    seed: u64,
    time_ns: u64,
    tasks: usize,
    cycle: &'a str,
    replay: &'a str,
}

const ROWS_PART: &str = ".state-rows.part";
const DEADLOCKS_PART: &str = ".state-deadlocks.part";

/// The open record files of a sweep directory being written.
pub struct RunLog {
    dir: PathBuf,
    runs_csv: OptionCsv<File>,
    deadlocks_csv: OptionCsv<File>,
    /// Each group's label → its scheme's name, to split a deadlock's label into scheme and variant.
    schemes: BTreeMap<String, String>,
    deadlocks_txt: BufWriter<File>,
    state_rows: BufWriter<File>,
    state_deadlocks: BufWriter<File>,
    rows: u64,
    deadlocks: u64,
    /// The first write error; later writes are skipped and [`finish`](Self::finish) returns it.
    error: Option<OutputError>,
}

fn create(dir: &Path, name: &str) -> Result<File, OutputError> {
    let path = dir.join(name);
    File::create(&path).map_err(|e| OutputError::Io(path, e))
}

impl RunLog {
    /// Opens the record files in `staged` and writes the CSV headers, with a column for each
    /// option that a group of `state` sets.
    pub fn create(staged: &StagedDir, state: &SweepState) -> Result<RunLog, OutputError> {
        let dir = staged.path().to_path_buf();
        let variants = || state.groups.iter().map(|g| variant_of(&g.label, &g.scheme));
        let runs_options = OptionColumns::of(variants(), &csv_rows::header::<RunRow>());
        let deadlocks_options = OptionColumns::of(variants(), &csv_rows::header::<DeadlocksCsvRow>());
        Ok(RunLog {
            runs_csv: OptionCsv::create::<RunRow>(create(&dir, "runs.csv")?, runs_options)?,
            deadlocks_csv: OptionCsv::create::<DeadlocksCsvRow>(create(&dir, "deadlocks.csv")?, deadlocks_options)?,
            schemes: state.groups.iter().map(|g| (g.label.clone(), g.scheme.clone())).collect(),
            deadlocks_txt: BufWriter::new(create(&dir, "deadlocks.txt")?),
            state_rows: BufWriter::new(create(&dir, ROWS_PART)?),
            state_deadlocks: BufWriter::new(create(&dir, DEADLOCKS_PART)?),
            dir,
            rows: 0,
            deadlocks: 0,
            error: None,
        })
    }

    /// Writes out, and drops from `state`, the records of every run before `index`. Callers
    /// pass increasing indices, so the files stay in run order.
    pub fn drain_before(&mut self, state: &mut SweepState, index: u64) {
        let (rows, deadlocks) = state.take_records_before(index);
        if self.error.is_none()
            && let Err(e) = self.write(&rows, &deadlocks)
        {
            self.error = Some(e);
        }
    }

    fn write(&mut self, rows: &[(u64, RunRow)], deadlocks: &[DeadlockRecord]) -> Result<(), OutputError> {
        let io = |name: &str| {
            let path = self.dir.join(name);
            move |e| OutputError::Io(path, e)
        };
        for (index, row) in rows {
            self.runs_csv.row(row, &row.variant)?;
            let sep = if self.rows == 0 { "" } else { "," };
            write!(self.state_rows, "{sep}{}", row_json(*index, row)).map_err(io(ROWS_PART))?;
            self.rows += 1;
        }
        for d in deadlocks {
            let scheme = self.schemes.get(&d.label).map_or(d.label.as_str(), String::as_str);
            let variant = variant_of(&d.label, scheme);
            let row = DeadlocksCsvRow {
                run: d.run,
                scheme,
                variant,
                cpus: d.cpus,
                seed: d.seed,
                time_ns: d.time_ns,
                tasks: d.tasks,
                cycle: &d.signature,
                replay: &d.replay,
            };
            self.deadlocks_csv.row(&row, variant)?;
            write!(
                self.deadlocks_txt,
                "# run {} ({}, {} CPUs, seed {})\n# replay: {}\n{}\n",
                d.run, d.label, d.cpus, d.seed, d.replay, d.report
            )
            .map_err(io("deadlocks.txt"))?;
            let sep = if self.deadlocks == 0 { "" } else { "," };
            write!(self.state_deadlocks, "{sep}{}", deadlock_json(d)).map_err(io(DEADLOCKS_PART))?;
            self.deadlocks += 1;
        }
        Ok(())
    }

    /// Writes the remaining records, then `state.json` around the streamed ones.
    pub fn finish(mut self, state: &mut SweepState) -> Result<(), OutputError> {
        self.drain_before(state, u64::MAX);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let dir = self.dir.clone();
        let io = |name: &str| {
            let path = dir.join(name);
            move |e| OutputError::Io(path, e)
        };
        self.runs_csv.flush().map_err(io("runs.csv"))?;
        self.deadlocks_csv.flush().map_err(io("deadlocks.csv"))?;
        if self.deadlocks == 0 {
            self.deadlocks_txt.write_all(b"no deadlocks\n").map_err(io("deadlocks.txt"))?;
        }
        self.deadlocks_txt.flush().map_err(io("deadlocks.txt"))?;
        self.write_state(state, &dir).map_err(io("state.json"))?;
        for part in [ROWS_PART, DEADLOCKS_PART] {
            fs::remove_file(dir.join(part)).map_err(io(part))?;
        }
        Ok(())
    }

    /// Writes `dir/state.json` and its `state.sum`: the template of `state`'s groups whose two
    /// arrays are the streamed part files, followed by the records `state` still holds (none
    /// at the end of a sweep; a resumed sweep's later runs at a checkpoint).
    fn write_state(&mut self, state: &SweepState, dir: &Path) -> std::io::Result<()> {
        self.state_rows.flush()?;
        self.state_deadlocks.flush()?;
        const HOLE: &str = "\u{0}";
        let template = state_json(&state.groups_json(), HOLE, HOLE, &state.failures);
        let mut parts = template.split(HOLE);
        let mut out = Fnv1a { inner: BufWriter::new(File::create(dir.join("state.json"))?), hash: FNV_OFFSET };
        let held_rows: Vec<String> = state.rows.iter().map(|(i, r)| row_json(*i, r)).collect();
        let held_deadlocks: Vec<String> = state.deadlocks.iter().map(deadlock_json).collect();
        for (text, part) in [
            (parts.next(), Some((ROWS_PART, self.rows, held_rows))),
            (parts.next(), Some((DEADLOCKS_PART, self.deadlocks, held_deadlocks))),
            (parts.next(), None),
        ] {
            out.write_all(text.expect("template has two holes").as_bytes())?;
            if let Some((part, streamed, held)) = part {
                std::io::copy(&mut File::open(self.dir.join(part))?, &mut out)?;
                for (k, record) in held.iter().enumerate() {
                    let sep = if streamed == 0 && k == 0 { "" } else { "," };
                    write!(out, "{sep}{record}")?;
                }
            }
        }
        out.flush()?;
        out.inner.get_ref().sync_all()?;
        fs::write(dir.join(STATE_SUM), state_sum_line(out.hash))
    }
}

/// Where and how often a running sweep saves what it has so far, so that a sweep killed
/// without warning (SIGKILL, a crash, a power cut) can be resumed: `.NAME.checkpoint` beside
/// the target, holding `manifest.json`, `state.json` and `state.sum` of the runs folded so far.
/// The wall clock decides only when a checkpoint is written, never what any result holds.
pub struct Checkpoint {
    pub manifest: String,
    pub dir: PathBuf,
    pub every: std::time::Duration,
    last: Option<std::time::Instant>,
}

impl Checkpoint {
    pub fn new(manifest: String, target: &Path, every: std::time::Duration) -> Checkpoint {
        Checkpoint { manifest, dir: checkpoint_dir(target), every, last: None }
    }
}

/// `.NAME.checkpoint` beside `target`.
pub fn checkpoint_dir(target: &Path) -> PathBuf {
    crate::output_dir::beside(target, "checkpoint")
}

impl RunLog {
    /// Saves a checkpoint when `checkpoint.every` has passed since the last one. Called when
    /// every run folded into `state` has been drained, so the streamed parts and the groups
    /// describe the same runs. A checkpoint that cannot be written is skipped: it is a spare.
    pub fn maybe_checkpoint(&mut self, state: &SweepState, checkpoint: &mut Checkpoint) {
        let now = std::time::Instant::now();
        if checkpoint.last.is_some_and(|last| now.duration_since(last) < checkpoint.every) || self.error.is_some() {
            return;
        }
        checkpoint.last = Some(now);
        let _ = self.write_checkpoint(state, checkpoint);
    }

    fn write_checkpoint(&mut self, state: &SweepState, checkpoint: &Checkpoint) -> std::io::Result<()> {
        self.state_rows.flush()?;
        self.state_deadlocks.flush()?;
        let tmp = checkpoint.dir.with_extension("checkpoint.tmp");
        let old = checkpoint.dir.with_extension("checkpoint.old");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir(&tmp)?;
        fs::write(tmp.join("manifest.json"), &checkpoint.manifest)?;
        self.write_state(state, &tmp)?;
        // Old aside, new in place, old gone: a kill at any point leaves one whole checkpoint.
        if old.exists() {
            fs::remove_dir_all(&old)?;
        }
        if checkpoint.dir.exists() {
            fs::rename(&checkpoint.dir, &old)?;
        }
        fs::rename(&tmp, &checkpoint.dir)?;
        if old.exists() {
            fs::remove_dir_all(&old)?;
        }
        Ok(())
    }
}

/// Removes a sweep's checkpoint (and any half-written one), once its directory is committed.
pub fn remove_checkpoint(target: &Path) {
    let dir = checkpoint_dir(target);
    for d in [dir.with_extension("checkpoint.tmp"), dir.with_extension("checkpoint.old"), dir] {
        let _ = fs::remove_dir_all(d);
    }
}

/// The newest whole checkpoint of the sweep that would write `target`: its manifest and state
/// text, checksum verified. `None` when there is none.
pub fn read_checkpoint(target: &Path) -> Option<Result<(String, String), String>> {
    let dir = checkpoint_dir(target);
    let dir = [dir.clone(), dir.with_extension("checkpoint.old")].into_iter().find(|d| d.join(STATE_SUM).is_file())?;
    let read = |name: &str| fs::read_to_string(dir.join(name)).map_err(|e| format!("{}: {name}: {e}", dir.display()));
    Some((|| {
        let (manifest, state, sum) = (read("manifest.json")?, read("state.json")?, read(STATE_SUM)?);
        verify_state_sum(&state, &sum).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok((manifest, state))
    })())
}

/// The file holding `state.json`'s checksum, which `--resume` and `merge` check.
pub const STATE_SUM: &str = "state.sum";

/// `state.sum`'s one line for a `state.json` whose FNV-1a is `hash`.
fn state_sum_line(hash: u64) -> String {
    format!("fnv1a64 {hash:016x}  state.json\n")
}

/// Checks `state.json`'s text against `state.sum`'s: an edited or truncated state is refused,
/// since a resume or merge would carry its wrong counts into every figure.
pub fn verify_state_sum(state_json: &str, state_sum: &str) -> Result<(), String> {
    let expected = state_sum_line(fnv1a(FNV_OFFSET, state_json.as_bytes()));
    if state_sum == expected {
        Ok(())
    } else {
        Err(format!(
            "state.json does not match its checksum in state.sum (expected \"{}\", found \"{}\"): it was \
             edited, truncated or replaced; it cannot be trusted",
            expected.trim_end(),
            state_sum.trim_end()
        ))
    }
}

/// A writer that hashes what passes through it.
struct Fnv1a<W: Write> {
    inner: W,
    hash: u64,
}

impl<W: Write> Write for Fnv1a<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash = fnv1a(self.hash, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aggregate::FailureRecord;

    /// Rows, deadlocks and failures with characters JSON and CSV must escape.
    pub(crate) fn records() -> SweepState {
        let mut state = SweepState::default();
        for i in 0..5u64 {
            state.rows.insert(i, RunRow { scheme: format!("s\"{i}"), stop_reason: "x,y".into(), ..RunRow::default() });
        }
        state.deadlocks = (1..3)
            .map(|run| DeadlockRecord {
                run,
                label: "legacy".into(),
                cpus: 8,
                seed: run * 7,
                time_ns: 100 * run,
                tasks: 2,
                signature: "a@1 -> b@2".into(),
                report: "line 1\nline \"2\"".into(),
                replay: "cpuhpsim run --seed 7".into(),
            })
            .collect();
        state
    }

    #[test]
    fn assembled_state_json_is_what_serialising_the_whole_state_writes() {
        let root = std::env::temp_dir().join(format!("cpuhpsim-run-log-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let mut state = records();
        state.groups.push(crate::aggregate::Group::new(0, "legacy kernel=4.15".into(), "legacy".into(), 8));
        state.deadlocks[0].label = "legacy kernel=4.15".into();
        for failures in [vec![], vec![FailureRecord::default()]] {
            state.failures = failures;
            let whole = state.to_json();
            let staged = StagedDir::create(&root.join("dir"), true).unwrap();
            let mut log = RunLog::create(&staged, &state).unwrap();
            let mut streamed = state.clone();
            log.drain_before(&mut streamed, 3);
            assert_eq!(streamed.rows.len(), 2, "rows 3 and 4 wait");
            log.finish(&mut streamed).unwrap();
            let dir = staged.commit().unwrap();
            assert_eq!(fs::read_to_string(dir.join("state.json")).unwrap(), whole);
            let names: Vec<String> =
                fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            assert!(names.iter().all(|n| !n.ends_with(".part")), "{names:?}");
            assert_eq!(fs::read_to_string(dir.join("runs.csv")).unwrap().lines().count(), 6);
            let deadlocks = fs::read_to_string(dir.join("deadlocks.csv")).unwrap();
            assert_eq!(
                deadlocks.lines().take(2).collect::<Vec<_>>(),
                [
                    "run,scheme,variant,kernel,cpus,seed,time_ns,tasks,cycle,replay",
                    "1,legacy,kernel=4.15,4.15,8,7,100,2,a@1 -> b@2,cpuhpsim run --seed 7"
                ]
            );
        }
        fs::remove_dir_all(root).unwrap();
    }
}
