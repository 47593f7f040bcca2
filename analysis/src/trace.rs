//! A run's timeline as a Chrome/Perfetto trace (JSON "traceEvents"): each task a thread of
//! process "tasks" (operations, lock holds and waits), each CPU a thread of process "CPUs"
//! (its cpu_down / cpu_up), timestamps in microseconds to the nanosecond.

use std::fmt::Write as _;

use crate::sim::kernel::Track;
use crate::workloads::run::Timeline;

const PID_TASKS: u32 = 1;
const PID_CPUS: u32 = 2;

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

/// The trace as JSON text, deterministic for a given timeline.
pub fn chrome_trace(timeline: &Timeline) -> String {
    let mut events = Vec::new();
    events.push(format!(r#"{{"ph":"M","pid":{PID_TASKS},"name":"process_name","args":{{"name":"tasks"}}}}"#));
    events.push(format!(r#"{{"ph":"M","pid":{PID_CPUS},"name":"process_name","args":{{"name":"CPUs"}}}}"#));
    for (tid, name) in timeline.tasks.iter().enumerate() {
        events.push(format!(
            r#"{{"ph":"M","pid":{PID_TASKS},"tid":{tid},"name":"thread_name","args":{{"name":{}}}}}"#,
            json_string(name)
        ));
    }
    let mut cpus: Vec<u32> =
        timeline.spans.iter().filter_map(|s| if let Track::Cpu(c) = s.track { Some(c) } else { None }).collect();
    cpus.sort_unstable();
    cpus.dedup();
    for cpu in cpus {
        events.push(format!(
            r#"{{"ph":"M","pid":{PID_CPUS},"tid":{cpu},"name":"thread_name","args":{{"name":"CPU {cpu}"}}}}"#
        ));
    }
    for span in &timeline.spans {
        let (pid, tid) = match span.track {
            Track::Task(t) => (PID_TASKS, t),
            Track::Cpu(c) => (PID_CPUS, c),
        };
        events.push(format!(
            r#"{{"ph":"X","pid":{pid},"tid":{tid},"cat":"{}","name":{},"ts":{},"dur":{}}}"#,
            span.category,
            json_string(&span.name),
            us(span.start_ns),
            us(span.end_ns - span.start_ns)
        ));
    }
    let mut out = String::from("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    for (i, e) in events.iter().enumerate() {
        let _ = writeln!(out, "{e}{}", if i + 1 < events.len() { "," } else { "" });
    }
    out.push_str("]}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kernel::TraceSpan;

    #[test]
    fn trace_is_valid_json_with_named_tracks_and_exact_times() {
        let timeline = Timeline {
            spans: vec![
                TraceSpan {
                    track: Track::Task(0),
                    name: "cpu_down(cpu=3)".into(),
                    category: "op",
                    start_ns: 1_500,
                    end_ns: 16_001_500,
                },
                TraceSpan {
                    track: Track::Cpu(3),
                    name: "cpu_down(cpu=3)".into(),
                    category: "hotplug",
                    start_ns: 1_500,
                    end_ns: 16_001_500,
                },
                TraceSpan {
                    track: Track::Task(1),
                    name: "wait \"x\"".into(),
                    category: "wait",
                    start_ns: 7,
                    end_ns: 9,
                },
            ],
            tasks: vec!["cpuhp/0".into(), "perf/0".into()],
        };
        let text = chrome_trace(&timeline);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let events = value["traceEvents"].as_array().unwrap();
        let spans: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[0]["ts"].as_f64(), Some(1.5));
        assert_eq!(spans[0]["dur"].as_f64(), Some(16_000.0));
        assert!(events.iter().any(|e| e["args"]["name"] == "CPU 3"));
        assert!(events.iter().any(|e| e["args"]["name"] == "cpuhp/0"));
    }
}
