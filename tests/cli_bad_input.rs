//! Every kind of bad input of issue #9, for `run` and `sweep` (and the scenario file for keys
//! that only a file sets): exit status 2, one line on stderr naming the flag or key, the value
//! and what is allowed, no panic, and no output directory (nor a staging one) left behind.

mod common;

use std::path::{Path, PathBuf};

use analysis::workloads::scenario::MAX_SCENARIO_CPUS;
use common::{cpuhpsim, scratch};

/// A scratch directory holding scenario files; `--out` points inside it.
struct Case {
    dir: PathBuf,
}

impl Case {
    fn new(name: &str) -> Case {
        let dir = scratch("bad-input", name);
        std::fs::create_dir_all(&dir).unwrap();
        Case { dir }
    }

    /// Writes a scenario file and returns its path.
    fn scenario(&self, name: &str, text: &[u8]) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn out(&self) -> PathBuf {
        self.dir.join("out")
    }

    /// `args` with `--out` appended fail as bad input and name every one of `names`.
    fn rejects(&self, args: &[&str], names: &[&str]) {
        self.rejects_at(args, &self.out(), names);
    }

    fn rejects_at(&self, args: &[&str], out_dir: &Path, names: &[&str]) {
        let all = bad_input(args, out_dir, names);
        assert!(!out_dir.exists(), "{all:?} created {}", out_dir.display());
        if let (Some(parent), Some(leaf)) = (out_dir.parent(), out_dir.file_name())
            && parent.is_dir()
        {
            let staging = parent.join(format!(".{}.partial", leaf.to_string_lossy()));
            assert!(!staging.exists(), "{all:?} left {}", staging.display());
        }
    }
}

/// Runs `args` with `--out out_dir` (and one seed for a sweep) and checks the failure: status 2,
/// one line on stderr naming each of `names`, no panic, nothing on stdout. Returns the command.
fn bad_input<'a>(args: &[&'a str], out_dir: &'a Path, names: &[&str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    if args[0] == "sweep" && !args.contains(&"--seeds") {
        all.extend(["--seeds", "1"]);
    }
    all.extend(["--out", out_dir.to_str().unwrap()]);
    let out = cpuhpsim(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{all:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{all:?} panicked: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{all:?}: one line expected: {stderr}");
    for name in names {
        assert!(stderr.contains(name), "{all:?} should name {name:?}: {stderr}");
    }
    assert!(out.stdout.is_empty(), "{all:?} printed results: {}", String::from_utf8_lossy(&out.stdout));
    all
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `allowed 1 to MAX_SCENARIO_CPUS`: the real limit, not a number copied into the test.
fn cpus_allowed() -> String {
    format!("allowed 1 to {MAX_SCENARIO_CPUS}")
}

#[test]
fn zero_cpus() {
    let c = Case::new("cpus-zero");
    c.rejects(&["run", "--cpus", "0"], &["--cpus (machine.cpus)", "0 is out of range", &cpus_allowed()]);
    c.rejects(&["sweep", "--cpus", "0"], &["machine.cpus", "0 is out of range", &cpus_allowed()]);
    c.rejects(&["sweep", "--cpus", "16,0"], &["machine.cpus", "0 is out of range", &cpus_allowed()]);
    let file = c.scenario("s.toml", b"[machine]\ncpus = 0\n");
    c.rejects(&["run", "--scenario", &file], &["machine.cpus", "0 is out of range", &cpus_allowed()]);
}

#[test]
fn cpus_beyond_the_supported_maximum() {
    let c = Case::new("cpus-max");
    let over = (MAX_SCENARIO_CPUS + 1).to_string();
    let value = format!("{over} is out of range");
    c.rejects(&["run", "--cpus", &over], &["--cpus (machine.cpus)", &value, &cpus_allowed()]);
    c.rejects(&["sweep", "--cpus", &over], &["machine.cpus", &value, &cpus_allowed()]);
    // Past u32: still a named error, not a wrap-around or a panic.
    c.rejects(&["run", "--cpus", "99999999999"], &["--cpus (machine.cpus)", "99999999999"]);
    c.rejects(&["run", "--cpus", "-1"], &["--cpus (machine.cpus)", "-1"]);
}

#[test]
fn zero_duration() {
    let c = Case::new("duration-zero");
    let allowed = "0ns is out of range; allowed 1ns to 86400s";
    for zero in ["0s", "0ns", "0ms", "0h"] {
        c.rejects(&["run", "--duration", zero], &["--duration (run.duration)", allowed]);
        c.rejects(&["sweep", "--duration", zero], &["run.duration", allowed]);
    }
    let file = c.scenario("s.toml", b"[run]\nduration = \"0ns\"\n");
    c.rejects(&["run", "--scenario", &file], &["run.duration", allowed]);
}

#[test]
fn durations_without_a_unit() {
    let c = Case::new("duration-no-unit");
    for bare in ["0", "100"] {
        let units = format!("`{bare}` needs a unit: {bare}ns, {bare}us, {bare}ms, {bare}s, {bare}min or {bare}h");
        c.rejects(&["run", "--duration", bare], &["--duration (run.duration)", &units]);
        c.rejects(&["sweep", "--duration", bare], &["run.duration", &units]);
    }
    let integer = "5000: durations need a unit, e.g. \"5000ns\"";
    c.rejects(&["run", "--set", "hotplug.holdoff=5000"], &["hotplug.holdoff", integer]);
    c.rejects(&["sweep", "--set", "hotplug.holdoff=5000"], &["hotplug.holdoff", integer]);
    let file = c.scenario("s.toml", b"[run]\nduration = 0\n");
    c.rejects(&["run", "--scenario", &file], &["run.duration", "0: durations need a unit, e.g. \"0ns\""]);
    c.rejects(&["sweep", "--scenario", &file], &["run.duration", "0: durations need a unit, e.g. \"0ns\""]);
}

#[test]
fn negative_durations() {
    let c = Case::new("duration-negative");
    c.rejects(&["run", "--duration", "-1s"], &["--duration (run.duration)", "`-1s` is negative", "at least 0"]);
    c.rejects(&["sweep", "--duration", "-1s"], &["run.duration", "`-1s` is negative", "at least 0"]);
    c.rejects(&["run", "--set", "hotplug.interval=-5ms"], &["hotplug.interval", "`-5ms` is negative"]);
    c.rejects(&["sweep", "--set", "openers.think=-1us"], &["openers.think", "`-1us` is negative"]);
    let file = c.scenario("s.toml", b"[run]\nduration = -5\n");
    c.rejects(&["run", "--scenario", &file], &["run.duration", "-5 is negative", "at least 0"]);
    c.rejects(&["sweep", "--scenario", &file], &["run.duration", "-5 is negative", "at least 0"]);
}

#[test]
fn counter_width_0_or_65() {
    let c = Case::new("width");
    for width in ["0", "65"] {
        let set = format!("pmu_load.width_bits={width}");
        let value = format!("{width} is out of range; allowed 1 to 64");
        c.rejects(&["run", "--set", &set], &["pmu_load.width_bits", &value]);
        c.rejects(&["sweep", "--set", &set], &["pmu_load.width_bits", &value]);
        // With the PMU load on too: the same key, not the PMU model's field name.
        c.rejects(&["run", "--preset", "pmu-load", "--set", &set], &["pmu_load.width_bits", &value]);
    }
    let file = c.scenario("s.toml", b"[pmu_load]\nsampling_events = 1\nwidth_bits = 65\n");
    c.rejects(&["sweep", "--scenario", &file], &["pmu_load.width_bits", "65 is out of range; allowed 1 to 64"]);
}

#[test]
fn sample_period_0() {
    let c = Case::new("period");
    let value = format!("0 is out of range; allowed 1 to {}", (1u64 << 63) - 1);
    c.rejects(&["run", "--set", "pmu_load.sample_period=0"], &["pmu_load.sample_period", &value]);
    c.rejects(&["sweep", "--set", "pmu_load.sample_period=0"], &["pmu_load.sample_period", &value]);
    let file = c.scenario("s.toml", b"[pmu_load]\nsampling_events = 1\nsample_period = 0\n");
    c.rejects(&["run", "--scenario", &file], &["pmu_load.sample_period", "0 is out of range; allowed 1 to"]);
    // A period that does not fit the counter names the counter's real limit, 2^32 - 1.
    c.rejects(
        &[
            "run",
            "--preset",
            "pmu-load",
            "--set",
            "pmu_load.width_bits=32",
            "--set",
            "pmu_load.sample_period=4294967296",
        ],
        &["pmu_load.sample_period", "4294967296 is out of range; allowed 1 to 4294967295"],
    );
}

#[test]
fn probabilities_outside_0_to_1() {
    let c = Case::new("probability");
    for p in ["1.5", "-0.1", "nan", "inf"] {
        let set = format!("openers.tracepoint_fraction={p}");
        let names = ["openers.tracepoint_fraction", "is not a probability; allowed 0 to 1"];
        c.rejects(&["run", "--set", &set], &names);
        c.rejects(&["sweep", "--set", &set], &names);
    }
    c.rejects(&["sweep", "--set", "openers.tracepoint_fraction=0.5,2"], &["openers.tracepoint_fraction", "2 is not"]);
    let file = c.scenario("s.toml", b"[openers]\ntracepoint_fraction = 1.01\n");
    c.rejects(&["run", "--scenario", &file], &["openers.tracepoint_fraction", "1.01 is not a probability"]);
}

#[test]
fn more_packages_than_cpus() {
    let c = Case::new("packages");
    let names = ["machine.packages", "17 is out of range; allowed 1 to 16"];
    c.rejects(&["run", "--cpus", "16", "--set", "machine.packages=17"], &names);
    c.rejects(&["sweep", "--cpus", "16", "--set", "machine.packages=17"], &names);
    // Only the 8-CPU point of the sweep is bad; the whole sweep is refused before it starts.
    c.rejects(
        &["sweep", "--cpus", "64,8", "--set", "machine.packages=16"],
        &["machine.packages", "16 is out of range; allowed 1 to 8"],
    );
    let file = c.scenario("s.toml", b"[machine]\ncpus = 4\npackages = 5\n");
    c.rejects(&["run", "--scenario", &file], &["machine.packages", "5 is out of range; allowed 1 to 4"]);
}

#[test]
fn a_scheme_that_does_not_exist() {
    let c = Case::new("scheme");
    let built_in = "legacy, pmus-lock, percpu-state, pmus-lock-nocheck";
    c.rejects(&["run", "--scheme", "big-kernel-lock"], &["--scheme (scheme.name)", "`big-kernel-lock`", built_in]);
    c.rejects(&["sweep", "--schemes", "legacy,big-kernel-lock"], &["--schemes", "`big-kernel-lock`", built_in]);
    c.rejects(&["sweep", "--set", "scheme.name=big-kernel-lock"], &["scheme.name", "`big-kernel-lock`", built_in]);
    let file = c.scenario("name.toml", b"[scheme]\nname = \"big-kernel-lock\"\n");
    c.rejects(&["run", "--scenario", &file], &["scheme.name", "`big-kernel-lock`", built_in]);
    let file = c.scenario("base.toml", b"[scheme]\nname = \"mine\"\nbase = \"bkl\"\n");
    c.rejects(&["sweep", "--scenario", &file], &["scheme.base", "`bkl`", built_in]);
}

#[test]
fn a_scenario_scheme_that_unlocks_a_lock_it_never_took() {
    let c = Case::new("unlock-untaken");
    let file = c.scenario(
        "s.toml",
        b"[scheme]\nname = \"eager\"\nbase = \"pmus-lock\"\n[scheme.scripts]\nperf_pmu_register = \"\"\"\nwork 1us\nunlock pmus_lock\n\"\"\"\n",
    );
    let names = ["scheme.scripts.perf_pmu_register", "unlocks pmus_lock, which is not held", "must release"];
    c.rejects(&["run", "--scenario", &file], &names);
    c.rejects(&["sweep", "--scenario", &file], &names);
}

#[test]
fn a_scenario_scheme_that_never_releases_a_lock() {
    let c = Case::new("never-release");
    let file = c.scenario(
        "s.toml",
        b"[scheme]\nname = \"leaky\"\nbase = \"pmus-lock\"\n[scheme.scripts]\nperf_event_open = \"lock pmus_lock\"\n",
    );
    let names = ["scheme.scripts.perf_event_open", "takes pmus_lock and the script never releases it"];
    c.rejects(&["run", "--scenario", &file], &names);
    c.rejects(&["sweep", "--scenario", &file], &names);
    // Inside a loop: the loop must give back what its body takes.
    let file = c.scenario(
        "loop.toml",
        b"[scheme]\nname = \"leaky\"\nbase = \"pmus-lock\"\n[scheme.scripts]\nftrace_enable = \"\"\"\nfor_each_pmu {\n  lock pmus_lock\n}\n\"\"\"\n",
    );
    c.rejects(&["run", "--scenario", &file], &["scheme.scripts.ftrace_enable", "does not release"]);
}

/// Found by `scenario_props`: a register script without `register_pmu` made PMU churn
/// unregister a PMU that was never listed, and the model panicked.
#[test]
fn a_scenario_register_script_that_never_lists_the_pmu() {
    let c = Case::new("register");
    let file = c.scenario(
        "s.toml",
        b"[scheme]\nname = \"forgetful\"\nbase = \"pmus-lock\"\n[scheme.scripts]\nperf_pmu_register = \"work 1us\"\n[pmu_churn]\ntasks = 1\n",
    );
    let names = ["scheme.scripts.perf_pmu_register", "0 `register_pmu` steps", "needs exactly 1"];
    c.rejects(&["run", "--scenario", &file], &names);
    c.rejects(&["sweep", "--scenario", &file], &names);
}

#[test]
fn malformed_toml() {
    let c = Case::new("malformed");
    let file = c.scenario("s.toml", b"[machine\ncpus = 3\n");
    c.rejects(&["run", "--scenario", &file], &["TOML", "line 1, column 9", "unclosed table"]);
    c.rejects(&["sweep", "--scenario", &file], &["TOML", "line 1, column 9", "unclosed table"]);
    let file = c.scenario("type.toml", b"[machine]\ncpus = \"many\"\n");
    c.rejects(&["run", "--scenario", &file], &["machine.cpus", "\"many\"", "expected u32"]);
    c.rejects(&["run", "--set", "machine.cpus=[1,2"], &["machine.cpus", "[1,2"]);
    c.rejects(&["run", "--set", "no-equals-sign"], &["--set no-equals-sign", "expected KEY=VALUE"]);
    c.rejects(&["sweep", "--set", "no-equals-sign"], &["--set no-equals-sign", "expected KEY=V1,V2"]);
}

#[test]
fn unknown_keys() {
    let c = Case::new("unknown");
    let names = ["machine.cores", "unknown field `cores`", "expected `cpus` or `packages`"];
    c.rejects(&["run", "--set", "machine.cores=4"], &names);
    c.rejects(&["sweep", "--set", "machine.cores=4"], &names);
    c.rejects(&["run", "--set", "machine..cpus=4"], &["--set", "`machine..cpus` is not a key", "like machine.cpus"]);
    let file = c.scenario("s.toml", b"[machine]\ncpus = 8\nsockets = 2\n");
    c.rejects(&["run", "--scenario", &file], &["machine.sockets", "unknown field `sockets`"]);
    let file = c.scenario("section.toml", b"[machines]\ncpus = 8\n");
    c.rejects(&["sweep", "--scenario", &file], &["machines", "unknown field `machines`", "`machine`"]);
    let file =
        c.scenario("op.toml", b"[scheme]\nname = \"m\"\nbase = \"legacy\"\n[scheme.scripts]\ncpu_sideways = \"\"\n");
    c.rejects(
        &["run", "--scenario", &file],
        &["scheme.scripts.cpu_sideways", "no operation `cpu_sideways`", "cpu_down"],
    );
}

#[test]
fn a_missing_scenario_file() {
    let c = Case::new("missing");
    let missing = c.dir.join("nope.toml");
    let missing = missing.to_str().unwrap();
    c.rejects(&["run", "--scenario", missing], &[&format!("--scenario {missing}"), "cannot read it", "No such file"]);
    c.rejects(&["sweep", "--scenario", missing], &[&format!("--scenario {missing}"), "cannot read it"]);
    c.rejects(&["run", "--preset", "nope"], &["--preset", "no preset `nope`", "default"]);
}

#[test]
fn an_unreadable_scenario_file() {
    let c = Case::new("unreadable");
    // A directory, and bytes that are not UTF-8: unreadable even for root, unlike chmod 000.
    let dir = c.dir.to_str().unwrap().to_string();
    c.rejects(&["run", "--scenario", &dir], &[&format!("--scenario {dir}"), "cannot read it"]);
    c.rejects(&["sweep", "--scenario", &dir], &[&format!("--scenario {dir}"), "cannot read it"]);
    let binary = c.scenario("binary.toml", b"\xff\xfe[machine]\n");
    c.rejects(&["run", "--scenario", &binary], &[&format!("--scenario {binary}"), "cannot read it", "UTF-8"]);
}

#[test]
fn an_output_directory_that_cannot_be_written() {
    let c = Case::new("unwritable");
    // Its parent is a regular file: no directory can be made there, even by root.
    let file = c.dir.join("plain-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = file.join("out");
    let flag = format!("--out {}", out.display());
    c.rejects_at(&["run", "--cpus", "8", "--duration", "10ms"], &out, &[&flag, "cannot write"]);
    c.rejects_at(&["sweep", "--cpus", "8", "--duration", "10ms"], &out, &[&flag, "cannot write"]);
    // An existing output is kept unless --force, and the message says so.
    bad_input(&["run", "--cpus", "8", "--duration", "10ms"], &file, &["already exists", "--force"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
}

#[test]
fn shards_that_do_not_exist() {
    let c = Case::new("shard");
    for shard in ["3/2", "0/0", "0/3", "1/0"] {
        let (i, n) = shard.split_once('/').unwrap();
        let value = format!("--shard {shard}: shard {i} of {n} does not exist");
        c.rejects(&["sweep", "--shard", shard], &[&value, "1 <= I <= N"]);
    }
    c.rejects(&["sweep", "--shard", "x/2"], &["--shard", "x", "not a whole number"]);
    c.rejects(&["sweep", "--shard", "2"], &["--shard 2", "expected I/N"]);
}

#[test]
fn other_sweep_flags_out_of_range() {
    let c = Case::new("sweep-flags");
    c.rejects(&["sweep", "--jobs", "0"], &["--jobs", "'0'", "1..=1024"]);
    c.rejects(&["sweep", "--seeds", "0"], &["--seeds `0`", "between 1 and 10000000 seeds"]);
    c.rejects(&["sweep", "--seeds", "5..1"], &["--seeds", "`5..1`", "empty"]);
}

#[test]
fn resume_without_a_sweep_to_finish() {
    let c = Case::new("resume");
    c.rejects(&["sweep", "--cpus", "8", "--resume"], &["--resume", "holds no sweep to resume"]);
    c.rejects(&["sweep", "--cpus", "8", "--resume", "--force"], &["--resume", "--force"]);
    // A directory holding another sweep is left alone.
    let out = c.out();
    common::cpuhpsim_ok(&[
        "sweep",
        "--cpus",
        "8",
        "--seeds",
        "1",
        "--duration",
        "10ms",
        "--out",
        out.to_str().unwrap(),
    ]);
    let before = common::tree(&out);
    let all = bad_input(&["sweep", "--cpus", "16", "--duration", "10ms", "--resume"], &out, &["different sweep"]);
    assert_eq!(common::tree(&out), before, "{all:?} changed the directory");
}

// Issue #19, case 6 and case 10: bounds and plain-worded errors.

#[test]
fn a_scenario_file_that_never_ends() {
    let c = Case::new("dev-zero");
    c.rejects(&["run", "--scenario", "/dev/zero"], &["--scenario /dev/zero", "larger than 16777216 bytes"]);
    c.rejects(&["sweep", "--scenario", "/dev/zero"], &["/dev/zero", "larger than 16777216 bytes"]);
}

#[test]
fn a_lock_bench_with_no_think_and_no_hold_time() {
    let c = Case::new("lockbench-no-time");
    c.rejects(&["lockbench", "--think", "0ns", "--hold", "0ns"], &["think = 0ns and hold = 0ns", "above 0"]);
}

#[test]
fn durations_given_as_floats_or_booleans() {
    let c = Case::new("duration-types");
    c.rejects(&["run", "--set", "costs.mutex_fast=1.5"], &["costs.mutex_fast", "1.5", "a string with a unit"]);
    c.rejects(&["run", "--set", "hotplug.interval=true"], &["hotplug.interval", "true", "with a unit"]);
    let file = c.scenario("s.toml", b"[costs]\nwakeup = 2.5\n");
    c.rejects(&["run", "--scenario", &file], &["costs.wakeup", "2.5", "a string with a unit"]);
}

#[test]
fn a_section_given_as_an_array() {
    let c = Case::new("section-array");
    c.rejects(&["run", "--set", "machine=[1,2]"], &["machine", "expected a table", "found array [1, 2]"]);
    let file = c.scenario("s.toml", b"machine = [8, 1]\n");
    c.rejects(&["run", "--scenario", &file], &["machine", "expected a table", "cpus, packages"]);
}

#[test]
fn one_cpu_with_the_default_packages_says_to_set_them() {
    let c = Case::new("one-cpu");
    c.rejects(
        &["run", "--cpus", "1"],
        &["machine.packages", "4 is out of range; allowed 1 to 1", "set machine.packages too"],
    );
}

#[test]
fn seeds_past_the_largest_toml_integer() {
    let c = Case::new("seed-range");
    let range = format!("{}..{}", i64::MAX as u64 - 1, i64::MAX as u64 + 1);
    c.rejects(&["sweep", "--seeds", &range], &["--seeds", &range, "seeds go up to 9223372036854775807"]);
}

#[test]
fn an_open_script_that_never_installs_its_event() {
    let c = Case::new("open-no-install");
    let file = c.scenario(
        "s.toml",
        b"[scheme]\nname = \"idle\"\nbase = \"pmus-lock\"\n[scheme.scripts]\nperf_event_open = \"work 1us\"\n",
    );
    c.rejects(&["run", "--scenario", &file], &["scheme.scripts.perf_event_open", "never runs `ipi cpu install_event`"]);
}

#[test]
fn a_script_of_exactly_4096_steps_runs_and_4097_do_not() {
    let c = Case::new("script-steps");
    let script = |steps: usize| {
        let body = "work 1ns\n".repeat(steps);
        format!(
            "[scheme]\nname = \"long\"\nbase = \"pmus-lock\"\n[scheme.scripts]\nftrace_enable = \"\"\"\n{body}\"\"\"\n[run]\nduration = \"1ms\"\n"
        )
    };
    let file = c.scenario("full.toml", script(4096).as_bytes());
    let out = c.dir.join("ok");
    common::cpuhpsim_ok(&["run", "--scenario", &file, "--out", out.to_str().unwrap()]);
    let file = c.scenario("over.toml", script(4097).as_bytes());
    c.rejects(&["run", "--scenario", &file], &["scheme.scripts.ftrace_enable", "more than 4096 steps"]);
}

#[test]
fn a_slurm_task_id_below_the_arrays_min() {
    let c = Case::new("slurm-min");
    let out = c.out();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_cpuhpsim"))
        .args(["sweep", "--cpus", "8", "--seeds", "2", "--duration", "1ms", "--out", out.to_str().unwrap()])
        .env("SLURM_ARRAY_TASK_ID", "0")
        .env("SLURM_ARRAY_TASK_COUNT", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("SLURM_ARRAY_TASK_ID = 0 is below SLURM_ARRAY_TASK_MIN = 1"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn a_sample_period_too_wide_for_the_counter_names_the_width() {
    let c = Case::new("period-width");
    c.rejects(
        &["run", "--set", "pmu_load.sampling_events=1", "--set", "pmu_load.width_bits=2"],
        &[
            "pmu_load.sample_period",
            "750000 is out of range; allowed 1 to 3",
            "2-bit counter",
            "pmu_load.width_bits = 2",
        ],
    );
}
