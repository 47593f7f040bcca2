//! End-to-end tests of `cpuhpsim sweep`, `merge` and `replay`: identical bytes for any --jobs,
//! shards that merge into the unsharded directory, rows that replay exactly, and readable files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{assert_same_tree, cpuhpsim};

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli-sweep", name)
}

/// A small sweep: two schemes × both release paths × two CPU counts × 3 seeds, 2 s each.
const SWEEP: [&str; 12] = [
    "sweep",
    "--schemes",
    "legacy,pmus-lock",
    "--set",
    "scheme.free_outside_ctx_mutex=false,true",
    "--cpus",
    "16,64",
    "--seeds",
    "3",
    "--duration",
    "2s",
    "--force",
];

fn sweep(out: &Path, extra: &[&str]) -> Output {
    let mut args = SWEEP.to_vec();
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    let output = cpuhpsim(&args);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn jobs_1_and_jobs_2_write_byte_identical_directories() {
    let (one, two) = (scratch("jobs1"), scratch("jobs2"));
    sweep(&one, &["--jobs", "1"]);
    sweep(&two, &["--jobs", "2"]);
    assert_same_tree(&one, &two);
    for file in [
        "manifest.json",
        "state.json",
        "state.sum",
        "runs.csv",
        "locks.csv",
        "histograms.csv",
        "deadlocks.csv",
        "deadlocks.txt",
        "lock_order.txt",
        "report.md",
    ] {
        assert!(one.join(file).exists(), "{file} missing");
    }
    std::fs::remove_dir_all(one).unwrap();
    std::fs::remove_dir_all(two).unwrap();
}

#[test]
fn three_shards_merged_equal_the_unsharded_sweep() {
    let whole = scratch("whole");
    sweep(&whole, &[]);
    let shards: Vec<PathBuf> = (1..=3).map(|i| scratch(&format!("shard{i}"))).collect();
    for (i, dir) in shards.iter().enumerate() {
        sweep(dir, &["--shard", &format!("{}/3", i + 1)]);
    }
    let merged = scratch("merged");
    let mut args = vec!["merge", "--out", merged.to_str().unwrap()];
    args.extend(shards.iter().rev().map(|d| d.to_str().unwrap()));
    let out = cpuhpsim(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_same_tree(&whole, &merged);
    let partial = scratch("partial");
    let out = cpuhpsim(&["merge", "--out", partial.to_str().unwrap(), shards[0].to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "a merge missing shards is an error");
    for d in shards.iter().chain([&whole, &merged]) {
        std::fs::remove_dir_all(d).unwrap();
    }
}

fn rows(dir: &Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_path(dir.join("runs.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    (header, reader.records().map(|r| r.unwrap()).collect())
}

#[test]
fn replay_commands_reproduce_their_rows_including_every_deadlocked_one() {
    let dir = scratch("replay-src");
    sweep(&dir, &[]);
    let (header, records) = rows(&dir);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let deadlocked: Vec<&csv::StringRecord> = records.iter().filter(|r| &r[col("deadlocked")] == "true").collect();
    assert!(!deadlocked.is_empty(), "the small sweep should deadlock in some legacy runs");
    let sample = records.iter().step_by(5).chain(deadlocked.iter().copied());
    for (i, row) in sample.enumerate() {
        let replayed = scratch(&format!("replayed{i}"));
        let mut args = vec!["replay", "--out", replayed.to_str().unwrap()];
        args.extend(row[col("replay")].split_whitespace());
        let out = cpuhpsim(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let (_, again) = rows(&replayed);
        assert_eq!(&again[0], row, "replay of {} differs", &row[col("replay")]);
        std::fs::remove_dir_all(replayed).unwrap();
    }
    let by_manifest = scratch("by-manifest");
    let manifest = dir.join("manifest.json");
    let out = cpuhpsim(&[
        "replay",
        "--manifest",
        manifest.to_str().unwrap(),
        "--run",
        "4",
        "--out",
        by_manifest.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(rows(&by_manifest).1[0], records[4]);
    std::fs::remove_dir_all(by_manifest).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn hgrm_files_parse_and_match_histograms_csv() {
    let dir = scratch("hgrm");
    sweep(&dir, &[]);
    let mut reader = csv::Reader::from_path(dir.join("histograms.csv")).unwrap();
    let header = reader.headers().unwrap().clone();
    let column = |name: &str| header.iter().position(|c| c == name).unwrap_or_else(|| panic!("no {name}: {header:?}"));
    let [metric_at, class_at, scheme_at, variant_at, cpus_at, unit_at, value_at, count_at] =
        ["metric", "class", "scheme", "variant", "cpus", "unit", "value", "count"].map(column);
    type Key = (String, String, String, u32, String);
    let mut buckets: BTreeMap<Key, Vec<(u64, u64)>> = BTreeMap::new();
    for r in reader.records() {
        let r = r.unwrap();
        let label = format!("{} {}", &r[scheme_at], &r[variant_at]).trim_end().to_string();
        let key = (
            r[metric_at].to_string(),
            r[class_at].to_string(),
            label,
            r[cpus_at].parse().unwrap(),
            r[unit_at].to_string(),
        );
        buckets.entry(key).or_default().push((r[value_at].parse().unwrap(), r[count_at].parse().unwrap()));
    }
    let mut checked = 0;
    for ((metric, class, label, cpus, unit), values) in &buckets {
        assert_eq!(unit, if metric.ends_with("_ns") { "ns" } else { "count" }, "{metric}");
        let name = analysis::histograms::hgrm_name(metric, class, label, *cpus);
        assert!(unit != "ns" || name.contains("_us"), "a file of µs values says so: {name}");
        let file = dir.join("hgrm").join(name);
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let h = analysis::histograms::parse_hgrm(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let unit = if unit == "count" { 1.0 } else { 1_000.0 };
        // Every percentile row of the .hgrm is the histograms.csv quantile at that percentile
        // (to the 3 printed decimals): p50 and max are rows; p99 lies between two rows.
        for row in &h.rows {
            let expected = analysis::histograms::csv_quantile(values, row.percentile) as f64 / unit;
            assert!(
                (row.value - expected).abs() <= 0.0005 + 1e-9 * expected,
                "{}: row {row:?} vs {expected}",
                file.display()
            );
        }
        let csv = |q: f64| analysis::histograms::csv_quantile(values, q) as f64 / unit;
        assert!((h.value_at_percentile(50.0) - csv(0.5)).abs() <= 0.0005 + 1e-9 * csv(0.5), "{}: p50", file.display());
        assert!((h.max - csv(1.0)).abs() <= 0.0005 + 1e-9 * csv(1.0), "{}: max", file.display());
        assert!(h.value_at_percentile(99.0) + 0.0005 >= csv(0.99), "{}: p99 row below the csv p99", file.display());
        checked += 1;
    }
    assert!(checked > 20);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plots_are_well_formed_svg_with_a_panel_per_variant_and_the_scheme_as_legend() {
    let dir = scratch("plots");
    sweep(&dir, &[]);
    let schemes = ["legacy", "pmus-lock"];
    let variants = ["free_outside_ctx_mutex=false", "free_outside_ctx_mutex=true"];
    let files = [
        "cpu_down_cdf.svg",
        "cpu_down_p99.svg",
        "cpu_up_cdf.svg",
        "cpu_up_p99.svg",
        "deadlock_rate.svg",
        "lock_wait.svg",
        "silently_failed_opens.svg",
        "time_to_deadlock_cdf.svg",
    ];
    let mut written: Vec<String> = std::fs::read_dir(dir.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, files);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for file in files {
        let text = std::fs::read_to_string(dir.join("plots").join(file)).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg", "{file}");
        let texts: Vec<&str> =
            doc.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).map(str::trim).collect();
        let count = |s: &str| texts.iter().filter(|t| **t == s).count();
        // The variant heads its panel; the legend names the scheme only, once, in every figure that draws it
        // (figures of latencies and time to deadlock leave out series resting on too few operations or runs).
        for v in variants {
            assert_eq!(count(v), 1, "{file}: panel heading {v}");
        }
        for s in schemes {
            let expected = if ["deadlock_rate.svg", "lock_wait.svg"].contains(&file) { 1..=1 } else { 0..=1 };
            assert!(expected.contains(&count(s)), "{file}: legend entry {s}: {}", count(s));
            for v in variants {
                let full = format!("{s} {v}");
                assert!(!texts.iter().any(|t| t.contains(&full)), "{file}: a full label {full}");
            }
        }
        assert!(report.contains(&format!("](plots/{file})")), "report.md lacks {file}");
    }
    for label in schemes.iter().flat_map(|s| variants.iter().map(move |v| format!("{s} {v}"))) {
        assert!(report.contains(&label), "report lacks {label}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn run_trace_is_chrome_trace_json() {
    let dir = scratch("trace");
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("t.json");
    let out_dir = dir.join("out");
    // With v4.15's fixes, so that no deadlock ends the run before hotplug has run.
    let out = cpuhpsim(&[
        "run",
        "--cpus",
        "16",
        "--duration",
        "1s",
        "--set",
        "scheme.free_outside_ctx_mutex=true",
        "--set",
        "scheme.set_filter_outside_ctx_mutex=true",
        "--set",
        "scheme.sw_sibling_init_unlocked=true",
        "--set",
        "scheme.ds_buffers_hotplug_lock=false",
        "--trace",
        trace.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events = value["traceEvents"].as_array().unwrap();
    assert!(events.iter().any(|e| e["cat"] == "hotplug"));
    assert!(events.iter().any(|e| e["cat"] == "hold" && e["name"].as_str().unwrap().starts_with("cpu_hotplug_lock")));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Ctrl-C (SIGINT to the child) mid-sweep keeps the completed runs in a valid directory marked
/// INCOMPLETE, exit 130; `--resume` finishes it into the bytes of an uninterrupted sweep.
#[cfg(unix)]
#[test]
fn an_interrupted_sweep_resumes_to_the_bytes_of_an_uninterrupted_one() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let args = ["sweep", "--schemes", "legacy,pmus-lock", "--cpus", "64,256", "--seeds", "250", "--duration", "5s"];
    let (cut, whole) = (scratch("interrupted"), scratch("uninterrupted"));
    let with_out = |out: &Path, extra: &[&'static str]| {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend(["--jobs".into(), "2".into(), "--out".into(), out.to_str().unwrap().into()]);
        all.extend(extra.iter().map(|s| s.to_string()));
        all
    };
    let mut child =
        common::command().args(with_out(&cut, &[])).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("runs\n") || line.contains("grid points") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "the sweep printed progress before ending");
    }
    // SAFETY: kill(2) on the child's pid, which has not been reaped yet.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("--resume"), "the message says how to finish: {rest}");
    let marker = std::fs::read_to_string(cut.join("INCOMPLETE")).expect("marked incomplete");
    let (_, kept) = rows(&cut);
    assert!(!kept.is_empty() && kept.len() < 1000, "kept {} of 1000 runs", kept.len());
    assert!(marker.starts_with(&format!("Interrupted after {} of 1000 runs", kept.len())), "{marker}");
    let merged = cpuhpsim(&["merge", cut.to_str().unwrap(), "--out", scratch("merged").to_str().unwrap()]);
    assert_eq!(merged.status.code(), Some(2), "an incomplete directory is not merged");

    let resumed = cpuhpsim(&with_out(&cut, &["--resume"]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let full = cpuhpsim(&with_out(&whole, &[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(full.status.success(), "{}", String::from_utf8_lossy(&full.stderr));
    assert_same_tree(&cut, &whole);
    let again = cpuhpsim(&with_out(&cut, &["--resume"]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(again.status.success() && String::from_utf8_lossy(&again.stdout).contains("nothing to resume"));
    let other =
        ["sweep", "--cpus", "64", "--seeds", "2", "--duration", "5s", "--out", cut.to_str().unwrap(), "--resume"];
    let mismatch = cpuhpsim(&other);
    assert_eq!(mismatch.status.code(), Some(2), "resuming with other arguments is refused");
    assert!(String::from_utf8_lossy(&mismatch.stderr).contains("different sweep"));
    for dir in [cut, whole] {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// A sweep started by another build is not resumed (its runs and this build's would be mixed),
/// and the refusal names both builds; nothing in the directory changes.
#[test]
fn resume_refuses_a_sweep_started_by_another_build() {
    let dir = common::scratch("sweep", "other-build");
    let d = dir.to_str().unwrap();
    let args = ["sweep", "--schemes", "legacy", "--cpus", "64", "--seeds", "2", "--duration", "100ms", "--out", d];
    assert!(cpuhpsim(&args).status.success());
    let path = dir.join("manifest.json");
    let mut manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["build"]["commit"] = "f".repeat(40).into();
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap() + "\n").unwrap();
    std::fs::write(dir.join("INCOMPLETE"), "test\n").unwrap();
    let before = common::tree(&dir);
    let mut resume = args.to_vec();
    resume.push("--resume");
    let r = cpuhpsim(&resume);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains(&format!("was started by a build of commit {}", "f".repeat(40))), "{err}");
    assert!(err.contains("would be mixed"), "{err}");
    assert_eq!(common::tree(&dir), before);
    let _ = std::fs::remove_dir_all(dir);
}

/// `merge` refuses a shard given twice (by another path too), a copy of a shard (its run indices
/// overlap), shards of different splits, and a whole sweep mixed with a shard: status 2, one
/// line naming both directories, and no output directory.
#[test]
fn merge_refuses_duplicate_overlapping_and_mismatched_shards() {
    let base = common::scratch("sweep", "merge-bad");
    std::fs::create_dir_all(&base).unwrap();
    let sweep = |name: &str, shard: Option<&str>| {
        let out = base.join(name);
        let mut args =
            vec!["sweep", "--schemes", "legacy", "--cpus", "64", "--seeds", "4", "--duration", "100ms", "--out"];
        let o = out.to_str().unwrap().to_string();
        args.push(&o);
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        assert!(cpuhpsim(&args).status.success());
        out
    };
    let (s1, s2, s23, whole) =
        (sweep("s1", Some("1/2")), sweep("s2", Some("2/2")), sweep("s23", Some("2/3")), sweep("whole", None));
    let copy = base.join("s1-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for (name, bytes) in common::tree(&s1) {
        let path = copy.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let out = base.join("merged");
    let s1_again = base.join("s2").join("..").join("s1");
    let cases: [(Vec<&Path>, &str); 4] = [
        (vec![&s1, &s1_again, &s2], "is given twice"),
        (vec![&s1, &copy, &s2], "the shards overlap"),
        (vec![&s1, &s23], "merge the shards of one split"),
        (vec![&whole, &s1], "is the whole sweep"),
    ];
    for (dirs, needle) in cases {
        let mut args = vec!["merge".to_string(), "--out".into(), out.to_str().unwrap().into()];
        args.extend(dirs.iter().map(|d| d.to_str().unwrap().to_string()));
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = cpuhpsim(&words);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{dirs:?}: {err}");
        assert!(err.contains(needle) && err.lines().count() == 1, "{dirs:?}: {err}");
        assert!(!out.exists(), "{dirs:?}: an output directory was written");
    }
    let _ = std::fs::remove_dir_all(base);
}

/// A sweep with many `--set` keys writes every file: a `.hgrm` name whose label would pass the
/// file system's 255 bytes is cut and keeps a hash of the whole label (#19 case 11).
#[test]
fn a_sweep_with_many_set_keys_writes_short_distinct_hgrm_names() {
    let out = scratch("many-keys");
    let o = out.to_str().unwrap();
    let mut args =
        vec!["sweep", "--schemes", "legacy", "--cpus", "16", "--seeds", "1", "--duration", "10ms", "--out", o];
    let sets = [
        "costs.mutex_fast=10ns,20ns",
        "openers.tasks=3",
        "openers.think=1ms",
        "openers.lifetime=3ms",
        "openers.tracepoint_fraction=0.3",
        "openers.software_fraction=0.3",
        "openers.set_filter_fraction=0.1",
        "openers.prctl_fraction=0.1",
        "groups.tasks=2",
        "groups.siblings=3",
        "groups.think=5ms",
        "inherit.tasks=2",
        "inherit.children=3",
        "ftrace.tasks=2",
        "hotplug.interval=5ms",
        "hotplug.holdoff=2ms",
        "tracepoints.count=10",
        "tracepoints.zipf=0.5",
        "scheme.free_outside_ctx_mutex=true",
        "scheme.set_filter_outside_ctx_mutex=true",
        "scheme.sw_sibling_init_unlocked=true",
        "scheme.ds_buffers_hotplug_lock=false",
    ];
    for s in &sets {
        args.extend(["--set", s]);
    }
    let r = cpuhpsim(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let names: Vec<String> =
        std::fs::read_dir(out.join("hgrm")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| n.len() < 200), "{names:?}");
    let cpu_down: Vec<&String> = names.iter().filter(|n| n.starts_with("cpu_down_us.")).collect();
    assert_eq!(cpu_down.len(), 2, "one per grid point (mutex_fast 10ns and 20ns): {cpu_down:?}");
    let _ = std::fs::remove_dir_all(out);
}

/// An edited `state.json` (a count changed, a row removed) is refused by `--resume` and `merge`
/// through its checksum in `state.sum`, instead of resuming into wrong figures (#19 case 9).
#[test]
fn resume_and_merge_refuse_an_edited_state_json() {
    let base = common::scratch("sweep", "tampered");
    std::fs::create_dir_all(&base).unwrap();
    let args = |out: &Path, shard: &'static str| -> Vec<String> {
        [
            "sweep",
            "--schemes",
            "legacy",
            "--cpus",
            "64",
            "--seeds",
            "4",
            "--duration",
            "100ms",
            "--shard",
            shard,
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_str().unwrap().to_string()])
        .collect()
    };
    let run = |words: &[String]| cpuhpsim(&words.iter().map(String::as_str).collect::<Vec<_>>());
    let (one, two) = (base.join("s1"), base.join("s2"));
    assert!(run(&args(&one, "1/2")).status.success() && run(&args(&two, "2/2")).status.success());
    let state = std::fs::read_to_string(one.join("state.json")).unwrap();
    assert!(std::fs::read_to_string(one.join("state.sum")).unwrap().starts_with("fnv1a64 "));
    let edits = [state.replacen("\"runs\":2", "\"runs\":3", 1), {
        let start = state.find("\"rows\":[").unwrap() + "\"rows\":[".len();
        let end = start + state[start..].find("],[").unwrap() + 2;
        format!("{}{}", &state[..start], &state[end..])
    }];
    for edited in edits {
        assert_ne!(edited, state);
        std::fs::write(one.join("state.json"), &edited).unwrap();
        let merged = base.join("merged");
        let r = cpuhpsim(&["merge", one.to_str().unwrap(), two.to_str().unwrap(), "--out", merged.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{err}");
        assert!(err.contains("state.json does not match its checksum in state.sum"), "{err}");
        assert!(!merged.exists());
        std::fs::write(one.join("INCOMPLETE"), "test\n").unwrap();
        let mut resume = args(&one, "1/2");
        resume.push("--resume".into());
        let r = run(&resume);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{err}");
        assert!(err.contains("--resume") && err.contains("does not match its checksum"), "{err}");
        std::fs::remove_file(one.join("INCOMPLETE")).unwrap();
    }
    let _ = std::fs::remove_dir_all(base);
}
