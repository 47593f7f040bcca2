//! The command lines written into results (`runs.csv`'s `replay` column, a sweep manifest's
//! `command`): one typed form each, rendered as one shell-quoted line that a shell splits back
//! into the same words. This is a file format: it names the `cpuhpsim run` and `cpuhpsim sweep`
//! options it writes, and nothing else in the library does.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

use crate::scenario::Duration;
use crate::value::Value;

/// Where a plan's base scenario comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A built-in scenario, by name.
    Preset(String),
    /// A scenario file, by the path the user gave.
    File(PathBuf),
}

impl Source {
    /// The words that name it on a command line.
    fn words(&self) -> [Cow<'_, str>; 2] {
        match self {
            Source::Preset(name) => [Cow::Borrowed("--preset"), Cow::Borrowed(name.as_str())],
            Source::File(path) => [Cow::Borrowed("--scenario"), path.to_string_lossy()],
        }
    }

    /// `--preset default` or `--scenario PATH`, unquoted: how manifests record the source.
    pub fn manifest_text(&self) -> String {
        let [flag, name] = self.words();
        format!("{flag} {name}")
    }

    /// Reads back [`Source::manifest_text`].
    pub fn from_manifest_text(text: &str) -> Option<Source> {
        match (text.strip_prefix("--preset "), text.strip_prefix("--scenario ")) {
            (Some(name), _) => Some(Source::Preset(name.to_string())),
            (_, Some(path)) => Some(Source::File(PathBuf::from(path))),
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    /// As a shell would need it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [flag, name] = self.words();
        write!(f, "{flag} {}", shell_word(&name))
    }
}

/// A shell word: as is when every character is one a POSIX shell leaves alone, else in single
/// quotes. Hand-written because the common quoting crates also quote `=` and `,`, which would
/// put quotes around every `--set key=value` and `--cpus 64,256` for no reason.
pub fn shell_word(word: &str) -> Cow<'_, str> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', "'\\''")))
    }
}

/// The `cpuhpsim run` command that reproduces one run exactly.
#[derive(Clone, Debug, PartialEq)]
pub struct RunCommand {
    pub source: Source,
    pub scheme: String,
    pub cpus: u32,
    pub seed: u64,
    pub duration: Duration,
    /// `--set` options, in order; keys with options of their own are left out.
    pub sets: Vec<(String, Value)>,
    pub stop_on_deadlock: bool,
}

impl fmt::Display for RunCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cpuhpsim run {} --scheme {} --cpus {} --seed {} --duration {}",
            self.source,
            shell_word(&self.scheme),
            self.cpus,
            self.seed,
            self.duration
        )?;
        for (key, value) in &self.sets {
            write!(f, " --set {}", shell_word(&format!("{key}={value}")))?;
        }
        if self.stop_on_deadlock {
            f.write_str(" --stop-on-deadlock")?;
        }
        Ok(())
    }
}

/// The canonical `cpuhpsim sweep` command of a sweep (without shard or output options): the
/// manifest records it and an interrupted sweep's `INCOMPLETE` file tells how to finish it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepCommand {
    pub source: Source,
    pub schemes: Vec<String>,
    /// `--set` options as given (`KEY=V1,V2`).
    pub sets: Vec<String>,
    pub cpus: Vec<String>,
    pub duration: Option<String>,
    pub seeds: String,
    pub master_seed: u64,
}

impl fmt::Display for SweepCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpuhpsim sweep {}", self.source)?;
        if !self.schemes.is_empty() {
            write!(f, " --schemes {}", shell_word(&self.schemes.join(",")))?;
        }
        for item in &self.sets {
            write!(f, " --set {}", shell_word(item))?;
        }
        if !self.cpus.is_empty() {
            write!(f, " --cpus {}", shell_word(&self.cpus.join(",")))?;
        }
        if let Some(duration) = &self.duration {
            write!(f, " --duration {}", shell_word(duration))?;
        }
        write!(f, " --seeds {} --master-seed {}", shell_word(&self.seeds), self.master_seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_as_they_are_and_others_are_single_quoted() {
        assert_eq!(shell_word("scheme.free_outside_ctx_mutex=true"), "scheme.free_outside_ctx_mutex=true");
        assert_eq!(shell_word("64,256"), "64,256");
        assert_eq!(shell_word("my file.toml"), "'my file.toml'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn a_run_command_splits_back_into_its_words() {
        let cmd = RunCommand {
            source: Source::File("my dir/s.toml".into()),
            scheme: "my scheme".into(),
            cpus: 64,
            seed: 7,
            duration: Duration(1_000_000_000),
            sets: vec![("hotplug.mode".into(), Value::text("storm")), ("x.y".into(), Value::text("a 'b'"))],
            stop_on_deadlock: true,
        };
        let words = shlex::split(&cmd.to_string()).unwrap();
        assert_eq!(
            words,
            [
                "cpuhpsim",
                "run",
                "--scenario",
                "my dir/s.toml",
                "--scheme",
                "my scheme",
                "--cpus",
                "64",
                "--seed",
                "7",
                "--duration",
                "1s",
                "--set",
                "hotplug.mode=storm",
                "--set",
                "x.y=a 'b'",
                "--stop-on-deadlock"
            ]
        );
    }
}
