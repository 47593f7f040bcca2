//! The history suite's fast subset: every case of the catalogue on every bundle of its row,
//! over its quick seeds, agrees with history; and each historic cycle's class chain is pinned.

use sim::lockdep::OrderCycle;
use workloads::history::{CATALOGUE, Case, Expect, Finding, historic_cycle, plan, run_history, sighting};
use workloads::run::{RunId, run_point};
use workloads::schemes::{CLASSES, op};

fn case(id: &str) -> &'static Case {
    CATALOGUE.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("no case {id}"))
}

#[test]
fn every_cell_of_the_catalogue_agrees_with_history_over_its_quick_seeds() {
    let mut wrong = Vec::new();
    for c in CATALOGUE {
        let outcome = run_history(&[c], c.quick_seeds, 2, &|_, _| {}).unwrap();
        for cell in &outcome[0].cells {
            if !cell.agrees() {
                wrong
                    .push(format!("{} on {}: found in {:?} of {} seeds", c.id, cell.kernel, cell.found_in, cell.seeds));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_catalogue_names_every_required_report_and_judges_both_sides_of_each_fix() {
    for commit in ["a63fbed776c7", "82d94856fa22", "43fa87f7deed", "efe951d3de91", "f400565faa50", "(2023 report)"] {
        assert!(CATALOGUE.iter().any(|c| c.commit == commit), "{commit}");
    }
    let mut ids: Vec<&str> = CATALOGUE.iter().map(|c| c.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), CATALOGUE.len(), "case ids are unique");
    // Each fixed report is judged found before its fix and absent from the first release with it.
    for (id, before, after) in [
        ("inherit-release", "4.13", "4.15"),
        ("set-filter", "4.13", "4.15"),
        ("sibling-order", "4.13", "4.15"),
        ("sibling-deadlock", "4.13", "4.15"),
        ("ds-buffers", "4.13", "4.15"),
        ("early-online", "6.12", "6.16"),
    ] {
        let cells = case(id).cells;
        assert!(cells.contains(&(before, Expect::Found)) && cells.contains(&(after, Expect::Absent)), "{id}");
    }
    assert_eq!(case("sibling-deadlock").finding.detector(), workloads::history::Detector::WaitFor);
}

/// The cycle's chain rotated to start at `first`, with where each dependency was first seen.
fn chain_from(cycle: &OrderCycle, first: &str) -> (String, Vec<&'static str>) {
    let name = |n: &sim::lockdep::OrderNode| {
        format!("{}{}", CLASSES[n.class as usize].0, if n.subclass > 0 { "/1" } else { "" })
    };
    let start = cycle.edges.iter().position(|(a, _, _)| name(a) == first).expect("the cycle has its first class");
    let n = cycle.edges.len();
    let edges: Vec<_> = (0..n).map(|i| &cycle.edges[(start + i) % n]).collect();
    let mut parts: Vec<String> = edges.iter().map(|(a, _, _)| format!("{}({})", name(a), a.mode.letter())).collect();
    parts.push(first.to_string());
    let ops = edges.iter().map(|(_, _, seen)| op::NAMES[seen.acquired_at.script as usize]).collect();
    (parts.join(" -> "), ops)
}

/// The historic cycle of a case in its 4.13 run with `seed`.
fn historic(id: &str, seed: u64) -> OrderCycle {
    let c = case(id);
    let Finding::Cycle(names) = c.finding else { panic!("{id} is no cycle") };
    let p = plan(c, "4.13", seed).unwrap();
    let (r, _) = run_point(p.point_of(0), RunId { seed, index: 0 }, None).unwrap();
    assert!(sighting(c.finding, &r).is_some());
    historic_cycle(&r.lock_order, names).unwrap_or_else(|| panic!("{id} seed {seed}: not every edge is stored"))
}

/// Golden chains: each historic cycle's classes, in the order of its report, with the mode each
/// is held in and the kernel path (operation) that first took the next one.
#[test]
fn each_historic_cycle_has_its_exact_class_chain_on_4_13() {
    let golden: [(&str, u64, &str, &[&str]); 5] = [
        (
            "inherit-release",
            1,
            "event_mutex(W) -> tracepoints_mutex(W) -> cpu_hotplug_lock(W) -> pmus_lock(W) -> cpuctx_mutex(W) \
             -> event->child_mutex(W) -> event_mutex",
            &[
                "perf_event_open_tp",
                "perf_event_open_tp",
                "cpu_down",
                "cpuhp_ap_offline",
                "prctl_task_perf_events_disable",
                "perf_event_release_task_tp",
            ],
        ),
        (
            "set-filter",
            1,
            "cpu_hotplug_lock(W) -> pmus_lock(W) -> cpuctx_mutex(W) -> event_mutex(W) -> tracepoints_mutex(W) \
             -> cpu_hotplug_lock",
            &["cpu_down", "cpuhp_ap_offline", "perf_ioctl_set_filter", "perf_event_open_tp", "perf_event_open_tp"],
        ),
        (
            "sibling-order",
            6,
            "cpuctx_mutex/1(W) -> event_mutex(W) -> tracepoints_mutex(W) -> cpu_hotplug_lock(W) -> pmus_lock(W) \
             -> cpuctx_mutex(W) -> cpuctx_mutex/1",
            &[
                "perf_event_open_sibling_tp",
                "perf_event_open_tp",
                "perf_event_open_tp",
                "cpu_down",
                "cpuhp_ap_offline",
                "cpuhp_ap_offline",
            ],
        ),
        (
            "ds-buffers",
            5,
            "pmc_reserve_mutex(W) -> cpu_hotplug_lock(W) -> pmus_lock(W) -> cpuctx_mutex(W) -> cpuctx_mutex/1(W) \
             -> pmc_reserve_mutex",
            &["perf_event_open", "cpu_down", "cpuhp_ap_offline", "cpuhp_ap_offline", "perf_event_open_sibling_lbr"],
        ),
        (
            "dev-mutex-2023",
            1,
            "cpu_add_remove_lock(W) -> cpu_hotplug_lock(W) -> pmus_lock(W) -> dev->mutex(W) -> cpu_add_remove_lock",
            &["cpu_down", "cpu_down", "perf_pmu_register", "driver_probe"],
        ),
    ];
    for (id, seed, chain, ops) in golden {
        let c = case(id);
        let Finding::Cycle(names) = c.finding else { unreachable!() };
        let (got, got_ops) = chain_from(&historic(id, seed), names[0]);
        assert_eq!(got, chain, "{id}");
        assert_eq!(got_ops, ops, "{id}: the operations that first took each next lock");
    }
}

/// The seed thread's splat: lockdep's recursive-locking report for `cpu_hotplug_lock`, both
/// acquisitions in the tracepoint open (the outer read, then the static key's), on 4.13 only.
#[test]
fn the_seed_threads_recursive_read_is_the_tracepoint_opens_own_on_4_13() {
    let c = case("seed-recursive-read");
    let p = plan(c, "4.13", 1).unwrap();
    let (r, _) = run_point(p.point_of(0), RunId { seed: 1, index: 0 }, None).unwrap();
    let (splat, _) = sighting(c.finding, &r).expect("found on 4.13");
    assert!(splat.contains("WARNING: possible recursive locking detected"), "{splat}");
    let at: Vec<&str> = splat.lines().filter(|l| l.starts_with(" (cpu_hotplug_lock){R}, at: ")).collect();
    assert_eq!(at.len(), 2, "{splat}");
    assert!(at.iter().all(|l| l.contains("at: perf_event_open_tp+")), "{splat}");
    let p = plan(c, "4.12", 1).unwrap();
    let (r, _) = run_point(p.point_of(0), RunId { seed: 1, index: 0 }, None).unwrap();
    assert!(sighting(c.finding, &r).is_none() && r.opens_ok > 0);
}
