//! End-to-end tests of `cpuhpsim bench`: the real binary, its exit codes and its output.

mod common;

use common::cpuhpsim;

fn assert_bad_input(args: &[&str], names: &str) {
    let out = cpuhpsim(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.contains(names), "{args:?} should name {names}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn phold_rejects_zero_lps() {
    assert_bad_input(&["bench", "phold", "--lps", "0"], "--lps");
}

#[test]
fn phold_rejects_negative_events() {
    assert_bad_input(&["bench", "phold", "--events", "-1"], "--events");
}

#[test]
fn phold_rejects_unknown_flag() {
    assert_bad_input(&["bench", "phold", "--bogus"], "--bogus");
}

#[test]
fn phold_prints_engine_baseline_and_ratio() {
    let out = cpuhpsim(&["bench", "phold", "--lps", "64", "--events", "10000", "--runs", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let median = stdout.lines().find(|l| l.starts_with("median:")).expect("median line");
    assert!(median.contains("engine") && median.contains("baseline") && median.contains("engine/baseline"));
}

/// A fresh, empty scratch directory for one test's output.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = common::scratch("cli-bench", name);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

const MODEL_HEADER: &str = "commit,host_threads,load_1m,row,workload,cpus,pmus,runs,sim_ns,events,stop,cpu_downs,\
cpu_ups,wall_s_median,wall_s_min,wall_s_max,events_per_wall_s,sim_s_per_wall_s,peak_rss_bytes,bytes_per_cpu,\
bytes_per_context,pending_events,bytes_per_pending_event,target_wall_s,target_peak_rss_bytes,pass,pmis,kernel_ops,\
model_ops,pmis_per_wall_s,reference_s_median";

#[test]
fn model_writes_a_scaling_row_per_size_a_csv_and_a_plot() {
    let root = scratch("model");
    let out = root.join("bench");
    let out_arg = out.to_str().unwrap();
    let args =
        ["bench", "model", "--cpus", "64,16", "--runs", "1", "--duration", "1s", "--no-targets", "--out", out_arg];
    let run = cpuhpsim(&args);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("scaling: wall time grows as CPUs^"), "{stdout}");
    assert!(stdout.contains("host reference (ref_ms): "), "{stdout}");

    let mut reader = csv::Reader::from_path(out.join("model.csv")).expect("model.csv");
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>().join(","), MODEL_HEADER);
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a CSV row")).collect();
    let field = |row: &csv::StringRecord, name: &str| {
        let i = MODEL_HEADER.split(',').position(|h| h == name).expect("a column");
        row[i].to_string()
    };
    let cpus: Vec<String> = rows.iter().map(|r| field(r, "cpus")).collect();
    assert_eq!(cpus, ["16", "64"], "sizes in increasing order");
    for row in &rows {
        assert_eq!(field(row, "workload"), "scaling");
        assert_eq!(field(row, "runs"), "1");
        assert_eq!(field(row, "sim_ns"), "1000000000");
        assert_eq!(field(row, "stop"), "time_limit");
        assert!(field(row, "events").parse::<u64>().unwrap() > 0);
        assert!(field(row, "wall_s_median").parse::<f64>().unwrap() > 0.0);
        assert!(field(row, "reference_s_median").parse::<f64>().unwrap() > 0.0, "the host reference was timed");
        assert!(!field(row, "commit").is_empty());
        assert_eq!(field(row, "pass"), "", "scaling rows have no target");
        let (events, ops): (f64, f64) =
            (field(row, "events").parse().unwrap(), field(row, "kernel_ops").parse().unwrap());
        assert!(ops > 0.0, "a run of the default preset takes locks");
        assert_eq!(field(row, "model_ops"), format!("{:.4}", events / ops), "events per kernel operation");
        // One sampling event per CPU at about 100 Hz for 1 s.
        let pmis: u64 = field(row, "pmis").parse().unwrap();
        assert!(pmis > 50 * field(row, "cpus").parse::<u64>().unwrap(), "{pmis} PMIs");
        assert!(field(row, "pmis_per_wall_s").parse::<f64>().unwrap() > 0.0);
    }

    let svg = std::fs::read_to_string(out.join("wall_vs_cpus.svg")).expect("the plot");
    let doc = roxmltree::Document::parse(&svg).expect("the plot is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
    for label in ["CPUs", "wall time (s)", "measured (median)", "O(n) from the smallest size"] {
        assert!(texts.iter().any(|t| t.trim() == label), "{label} in {texts:?}");
    }
    assert!(out.join("summary.txt").exists());

    let again = cpuhpsim(&args);
    assert_eq!(again.status.code(), Some(2), "an existing --out needs --force");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn model_rejects_bad_sizes_runs_and_durations_and_writes_nothing() {
    let root = scratch("model-bad");
    let out = root.join("bench");
    let out_arg = out.to_str().unwrap();
    for (args, names) in [
        (&["--cpus", "0"][..], "--cpus"),
        (&["--cpus", "64,100000"][..], "--cpus"),
        (&["--cpus", "sixty-four"][..], "--cpus"),
        (&["--runs", "0"][..], "--runs"),
        (&["--duration", "0s"][..], "--duration"),
        (&["--duration", "-1s"][..], "--duration"),
        (&["--duration", "250"][..], "--duration 250: `250` needs a unit: 250ns, 250us"),
        (&["--reference"][..], "--reference: only with --one"),
    ] {
        let mut full = vec!["bench", "model", "--out", out_arg];
        full.extend_from_slice(args);
        assert_bad_input(&full, names);
        assert!(!out.exists(), "{args:?} created {}", out.display());
    }
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "nothing at all was written");
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn phold_writes_its_csv_row_when_given_out() {
    let root = scratch("phold");
    let out = root.join("phold");
    let run = cpuhpsim(&[
        "bench",
        "phold",
        "--lps",
        "64",
        "--events",
        "10000",
        "--runs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(out.join("phold.csv")).expect("phold.csv");
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "commit,host_threads,load_1m,lps,pop,events,seed,runs,engine_events_per_s,baseline_events_per_s,engine_over_baseline"
    );
    let row: Vec<&str> = lines.next().expect("one row").split(',').collect();
    assert_eq!(row[3..8], ["64", "4", "10000", "1", "1"]);
    assert_eq!(lines.next(), None);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn sweep_compares_one_thread_with_two_and_checks_they_agree() {
    let out = cpuhpsim(&[
        "bench",
        "sweep",
        "--cpus",
        "16",
        "--seeds",
        "2",
        "--duration",
        "100ms",
        "--jobs",
        "2",
        "--samples",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The default experiment's three schemes × two kernel bundles × two PMU lists × two seeds.
    assert!(stdout.contains("24 runs per sample; 1 thread vs 2"), "{stdout}");
    assert!(stdout.lines().last().unwrap().starts_with("median: 1 thread"), "{stdout}");
    assert_bad_input(&["bench", "sweep", "--jobs", "1"], "--jobs");
    assert_bad_input(&["bench", "sweep", "--cpus", "0"], "machine.cpus");
}
