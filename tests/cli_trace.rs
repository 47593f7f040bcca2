//! End-to-end tests of `run --trace`: a deadlocked run's trace holds what a user opens it for
//! (the stuck spans, closed at the run's end and marked; the deadlock as instants; wait-for
//! arrows between its tasks), and `--trace-limit` bounds it with a note.

mod common;

use std::collections::BTreeSet;

use common::{cpuhpsim, scratch};
use serde_json::Value;

/// A 64-CPU run of legacy on v4.13 that deadlocks at 152.58 ms (cpu_down's `cpu_hotplug_lock`
/// W, a tracepoint release holding `event_mutex` and `tracepoints_mutex`, an open holding
/// `cpu_hotplug_lock` R).
const DEADLOCKED: [&str; 13] = [
    "run",
    "--preset",
    "experiment",
    "--scheme",
    "legacy",
    "--cpus",
    "64",
    "--seed",
    "313702574736366215",
    "--duration",
    "10s",
    "--set",
    "scheme.kernel=4.13",
];

fn traced(name: &str, extra: &[&str]) -> (Value, String) {
    let dir = scratch("cli-trace", name);
    let (out, trace) = (dir.join("out"), dir.join("trace.json"));
    let mut args: Vec<&str> = DEADLOCKED.to_vec();
    let (out_s, trace_s) = (out.to_str().unwrap().to_string(), trace.to_str().unwrap().to_string());
    args.extend(["--out", &out_s, "--trace", &trace_s]);
    args.extend(extra);
    let run = cpuhpsim(&args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let value = serde_json::from_slice(&std::fs::read(&trace).unwrap()).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    (value, String::from_utf8_lossy(&run.stderr).into_owned())
}

fn events(v: &Value) -> &[Value] {
    v["traceEvents"].as_array().unwrap()
}

#[test]
fn a_deadlocked_runs_trace_has_its_stuck_spans_instants_and_arrows() {
    let (v, stderr) = traced("whole", &[]);
    assert!(!stderr.contains("trace kept"), "{stderr}");
    let ev = events(&v);
    let members: BTreeSet<u64> =
        ev.iter().filter(|e| e["ph"] == "i" && e["cat"] == "deadlock").map(|e| e["tid"].as_u64().unwrap()).collect();
    assert_eq!(members.len(), 3, "one instant per task of the 3-task cycle");
    let unfinished = |tid: u64, cat: &str| {
        ev.iter().any(|e| e["ph"] == "X" && e["tid"] == tid && e["cat"] == cat && e["args"]["unfinished"] == true)
    };
    for &m in &members {
        assert!(unfinished(m, "wait"), "cycle member {m} has its wait closed at the run's end and marked");
    }
    assert!(
        ev.iter().any(|e| e["pid"] == 2
            && e["cat"] == "hotplug"
            && e["args"]["unfinished"] == true
            && e["name"].as_str().unwrap().starts_with("cpu_down")),
        "the stuck cpu_down on its CPU's track"
    );
    assert!(ev.iter().any(|e| e["cat"] == "hold"
        && e["args"]["unfinished"] == true
        && e["name"].as_str().unwrap().starts_with("cpu_hotplug_lock (R)")));
    // Arrows: each "s" has one "f" with its id; some join two tasks of the cycle.
    let starts: Vec<&Value> = ev.iter().filter(|e| e["ph"] == "s").collect();
    let finishes: Vec<&Value> = ev.iter().filter(|e| e["ph"] == "f").collect();
    assert!(!starts.is_empty() && starts.len() == finishes.len());
    let within_cycle = starts.iter().filter(|s| {
        let f = finishes.iter().find(|f| f["id"] == s["id"]).expect("a flow's finish");
        members.contains(&s["tid"].as_u64().unwrap()) && members.contains(&f["tid"].as_u64().unwrap())
    });
    assert!(within_cycle.count() >= 2, "the cycle's wait-for edges are drawn");
}

#[test]
fn trace_limit_keeps_the_last_events_and_says_so() {
    let (whole, _) = traced("unlimited", &[]);
    let (v, stderr) = traced("limited", &["--trace-limit", "200"]);
    let recorded = whole["otherData"]["events_recorded"].as_u64().unwrap();
    assert!(recorded > 200, "{recorded}");
    assert_eq!(v["otherData"]["events_recorded"].as_u64(), Some(recorded), "the same run records the same events");
    assert_eq!(v["otherData"]["events_dropped"].as_u64(), Some(recorded - 200));
    let kept = events(&v).iter().filter(|e| e["ph"] != "M" && e["ph"] != "f").count();
    assert_eq!(kept, 200, "a flow is one event written as an s/f pair");
    assert!(stderr.contains("note: the trace kept the last 200 of"), "{stderr}");
    // The newest are kept: the run's end (its unfinished spans) and the deadlock.
    assert!(events(&v).iter().any(|e| e["args"]["unfinished"] == true));
    assert!(events(&v).iter().any(|e| e["cat"] == "deadlock"));
}

#[test]
fn a_bad_trace_limit_is_refused_with_exit_2() {
    for args in [&["run", "--trace", "/tmp/x.json", "--trace-limit", "0"][..], &["run", "--trace-limit", "100"][..]] {
        let out = cpuhpsim(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--trace"), "{args:?}");
    }
}
