//! The history suite's outputs: the case × kernel matrix and `history.md`, with the first
//! splat of each found cell and the command that replays it.

use std::fmt::Write as _;

use workloads::history::{CaseOutcome, CellOutcome, Expect, KERNELS};

/// A cell as the matrix shows it: `found 37/64` or `absent 0/64`, then `ok`, `WRONG` or
/// (unrecorded) `?`.
fn cell_text(cell: &CellOutcome) -> String {
    let seen = if cell.found() { "found" } else { "absent" };
    let verdict = match (cell.expect, cell.agrees()) {
        (Expect::Unrecorded, _) => "?",
        (_, true) => "ok",
        (_, false) => "WRONG",
    };
    format!("{seen} {}/{} {verdict}", cell.found_in.len(), cell.seeds)
}

/// Every cell that disagrees with history, as `case on kernel`.
pub fn disagreements(outcomes: &[CaseOutcome]) -> Vec<String> {
    outcomes
        .iter()
        .flat_map(|o| o.cells.iter().filter(|c| !c.agrees()).map(move |c| format!("{} on {}", o.case.id, c.kernel)))
        .collect()
}

/// The matrix as a fixed-width text table: a row per case, a column per kernel bundle.
pub fn matrix(outcomes: &[CaseOutcome]) -> String {
    let label = |o: &CaseOutcome| format!("{} {} ({})", o.case.commit, o.case.id, o.case.scheme.label());
    let width = outcomes.iter().map(|o| label(o).len()).max().unwrap_or(4).max(4);
    let cell_width = 18;
    let mut s = format!("{:width$}", "case");
    for k in KERNELS {
        let _ = write!(s, "  {k:cell_width$}");
    }
    s = s.trim_end().to_string() + "\n";
    for o in outcomes {
        let mut line = format!("{:width$}", label(o));
        for k in KERNELS {
            let text = o.cells.iter().find(|c| c.kernel == k).map_or_else(|| ".".to_string(), cell_text);
            let _ = write!(line, "  {text:cell_width$}");
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

/// `history.md`: how it was run, the matrix, then each case with its summary, its cells and
/// the first splat of each found cell with its replay command.
pub fn history_md(outcomes: &[CaseOutcome], command: &str, seeds: u64) -> String {
    let mut s = String::from("# cpuhpsim history\n\n");
    let _ = writeln!(s, "Command: `{command}`  ");
    let _ = writeln!(
        s,
        "Each cell ran seeds 1 to {seeds}. A cell reads `found k/n` (the case showed in k of n runs) or `absent`, then `ok` when it agrees with history, `WRONG` when it does not, and `?` where history has no record. `.`: not run.\n"
    );
    s.push_str("```\n");
    s.push_str(&matrix(outcomes));
    s.push_str("```\n\n");
    let wrong = disagreements(outcomes);
    if wrong.is_empty() {
        s.push_str("Every cell agrees with history.\n\n");
    } else {
        let _ = writeln!(s, "**Cells that disagree with history:** {}.\n", wrong.join(", "));
    }
    for o in outcomes {
        let c = o.case;
        let _ = writeln!(s, "## {} `{}`: {}\n", c.commit, c.id, c.title);
        let _ = writeln!(s, "{}\n", c.summary);
        let sets: Vec<String> = c.sets.iter().map(|x| format!("`{x}`")).collect();
        let _ = writeln!(
            s,
            "Scenario: preset `{}`{}; scheme {}; seen by the {}.\n",
            c.preset,
            if sets.is_empty() { String::new() } else { format!(" with {}", sets.join(", ")) },
            match c.scheme {
                workloads::history::SchemeChoice::Shipped =>
                    "as shipped (`v4.12` on 4.12, `pmus-lock` from 4.13)".to_string(),
                workloads::history::SchemeChoice::Named(n) => format!("`{n}`"),
            },
            c.finding.detector().name()
        );
        s.push_str("| kernel | scheme | expected | seen | seeds found in |\n| --- | --- | --- | --- | --- |\n");
        for cell in &o.cells {
            let expected = match cell.expect {
                Expect::Found => "found",
                Expect::Absent => "absent",
                Expect::Unrecorded => "no record",
            };
            let seeds_found: Vec<String> = cell.found_in.iter().take(12).map(u64::to_string).collect();
            let more = if cell.found_in.len() > 12 { ", …" } else { "" };
            let _ = writeln!(
                s,
                "| {} | {} | {expected} | {} | {}{more} |",
                cell.kernel,
                cell.scheme,
                cell_text(cell),
                seeds_found.join(", ")
            );
        }
        s.push('\n');
        for cell in o.cells.iter().filter(|c| c.first.is_some()) {
            let first = cell.first.as_ref().expect("filtered");
            let _ = writeln!(s, "First seen on {} in seed {}; replay:\n", cell.kernel, first.seed);
            let _ = writeln!(s, "```sh\n{}\n```\n", first.replay);
            if let Some(note) = &first.order_note {
                let _ = writeln!(s, "The wait-for detector found it; {note}.\n");
            }
            let _ = writeln!(s, "```\n{}\n```\n", first.splat.trim_end());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use workloads::history::{CATALOGUE, CaseOutcome};

    fn cell(kernel: &'static str, expect: Expect, found_in: Vec<u64>) -> CellOutcome {
        CellOutcome { kernel, scheme: "pmus-lock", expect, seeds: 4, found_in, first: None }
    }

    /// A cell disagrees when what was seen differs from what history says; an unrecorded cell
    /// never does; the matrix marks each and `history.md` lists the disagreeing ones.
    #[test]
    fn disagreeing_cells_are_named_and_marked_wrong() {
        let outcome = CaseOutcome {
            case: &CATALOGUE[0],
            cells: vec![
                cell("4.12", Expect::Absent, vec![2]),
                cell("4.13", Expect::Found, vec![]),
                cell("4.15", Expect::Unrecorded, vec![1, 3]),
                cell("6.2", Expect::Found, vec![1]),
            ],
        };
        let id = CATALOGUE[0].id;
        assert_eq!(disagreements(std::slice::from_ref(&outcome)), [format!("{id} on 4.12"), format!("{id} on 4.13")]);
        let m = matrix(std::slice::from_ref(&outcome));
        let row = m.lines().nth(1).unwrap();
        assert!(row.contains("found 1/4 WRONG") && row.contains("absent 0/4 WRONG"), "{row}");
        assert!(row.contains("found 2/4 ?") && row.contains("found 1/4 ok"), "{row}");
        let md = history_md(&[outcome], "cpuhpsim history", 4);
        assert!(md.contains(&format!("**Cells that disagree with history:** {id} on 4.12, {id} on 4.13.")), "{md}");
    }
}
