//! `cpuhpsim history`: the matrix and `history.md` for any thread count alike, a replay command
//! per found cell that reproduces the splat, and bad input refused with status 2.

mod common;

use common::{assert_same_tree, cpuhpsim, cpuhpsim_ok, scratch};

#[test]
fn a_history_subset_agrees_with_history_for_any_thread_count_and_its_replays_reproduce_the_splats() {
    let [a, b, replayed] = ["jobs1", "jobs2", "replayed"].map(|n| scratch("history", n));
    let args = |jobs: &'static str, out: &std::path::Path| {
        let out = out.to_str().unwrap().to_string();
        vec![
            "history".to_string(),
            "--case".into(),
            "set-filter".into(),
            "--case".into(),
            "early-online".into(),
            "--seeds".into(),
            "3".into(),
            "--jobs".into(),
            jobs.into(),
            "--out".into(),
            out,
        ]
    };
    let run = |jobs, out| {
        let owned = args(jobs, out);
        let words: Vec<&str> = owned.iter().map(String::as_str).collect();
        cpuhpsim_ok(&words)
    };
    let one = run("1", &a);
    run("2", &b);
    assert_same_tree(&a, &b);
    let stdout = String::from_utf8(one.stdout).unwrap();
    assert!(stdout.contains("every cell agrees with history"), "{stdout}");
    let set_filter = stdout.lines().find(|l| l.contains("set-filter")).unwrap();
    // 4.12 absent, 4.13 found in all 3 seeds, every later bundle absent.
    assert_eq!(set_filter.matches("found 3/3 ok").count(), 1, "{set_filter}");
    assert_eq!(set_filter.matches("absent 0/3 ok").count(), 6, "{set_filter}");
    let md = std::fs::read_to_string(a.join("history.md")).unwrap();
    assert_eq!(std::fs::read_to_string(a.join("matrix.txt")).unwrap().lines().count(), 3);
    // The first replay command in history.md (set-filter on 4.13) reproduces its splat.
    let replay = md.lines().find(|l| l.starts_with("cpuhpsim run ")).expect("a replay command");
    assert!(replay.contains("--seed 1") && replay.contains("scheme.kernel=4.13"), "{replay}");
    let words: Vec<String> = shlex::split(replay).unwrap();
    let mut words: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
    let out = replayed.to_str().unwrap();
    words.extend(["--out", out]);
    cpuhpsim_ok(&words);
    let order = std::fs::read_to_string(replayed.join("lock_order.txt")).unwrap();
    let splat_start = md.find("WARNING: possible circular locking dependency detected").unwrap();
    let splat: &str = md[splat_start..].split("```").next().unwrap();
    assert!(order.contains(splat.trim_end()), "the replayed run's lock_order.txt lacks the splat:\n{splat}");
    for d in [a, b, replayed] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn an_unknown_case_or_no_seeds_is_bad_input() {
    let out = scratch("history", "bad");
    let o = out.to_str().unwrap();
    let r = cpuhpsim(&["history", "--case", "nope", "--out", o]);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("--case: \"nope\" is no case") && err.contains("set-filter"), "{err}");
    let r = cpuhpsim(&["history", "--seeds", "0", "--out", o]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--seeds"));
    assert!(!out.exists(), "no output directory after bad input");
}

#[test]
fn list_names_every_case_with_its_commit() {
    let r = cpuhpsim_ok(&["history", "--list"]);
    let text = String::from_utf8(r.stdout).unwrap();
    for needle in
        ["seed-recursive-read", "a63fbed776c7", "82d94856fa22", "43fa87f7deed", "efe951d3de91", "f400565faa50"]
    {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}
