//! `--fail-on` and `--json` for `run` and `sweep`: exit status 1 when a listed outcome happened
//! (after every result file is written), and a machine-readable summary on stdout.

use clap::ValueEnum;

/// An outcome `--fail-on` can turn into exit status 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// A wait-for deadlock (docs/model.md §6.2).
    Deadlock,
    /// Any invariant violation, invariant 7 included (docs/model.md §6.1).
    Violation,
    /// A silently failed open (invariant 7).
    Silent,
}

/// What happened, summed over the runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcomes {
    pub deadlocks: u64,
    pub violations: u64,
    pub silent: u64,
}

/// The listed outcomes that happened, as an error for exit status 1.
#[derive(Debug)]
pub struct FailOnHit(pub String);

impl std::fmt::Display for FailOnHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FailOnHit {}

/// `Err` naming each outcome of `fail_on` that happened; `Ok` when none did.
pub fn check(fail_on: &[FailOn], o: Outcomes, where_: &str) -> Result<(), FailOnHit> {
    let mut hit = Vec::new();
    for f in fail_on {
        let (n, what) = match f {
            FailOn::Deadlock => (o.deadlocks, "deadlock(s)"),
            FailOn::Violation => (o.violations, "invariant violation(s)"),
            FailOn::Silent => (o.silent, "silently failed open(s)"),
        };
        if n > 0 && !hit.iter().any(|h: &String| h.ends_with(what)) {
            hit.push(format!("{n} {what}"));
        }
    }
    if hit.is_empty() {
        Ok(())
    } else {
        let names: Vec<String> =
            fail_on.iter().map(|f| f.to_possible_value().map_or("?".into(), |v| v.get_name().to_string())).collect();
        Err(FailOnHit(format!("--fail-on {}: {} in {where_}", names.join(","), hit.join(", "))))
    }
}
