//! A run's timeline as a Chrome/Perfetto trace (JSON "traceEvents"): each task a thread of
//! process "tasks" (operations, lock holds and waits), each CPU a thread of process "CPUs"
//! (its cpu_down / cpu_up), timestamps in microseconds to the nanosecond. Spans still open at
//! the run's end are closed there and marked unfinished; deadlocks and invariant violations
//! are instants; each wait starts a flow arrow from the waiter to the task it waits on.

use std::io::{BufWriter, Write};

use crate::sim::kernel::{TraceEvent, TraceInstant, TraceSpan, Track};
use crate::workloads::run::Timeline;

const PID_TASKS: u32 = 1;
const PID_CPUS: u32 = 2;

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1_000, ns % 1_000)
}

fn pid_tid(track: Track) -> (u32, u32) {
    match track {
        Track::Task(t) => (PID_TASKS, t),
        Track::Cpu(c) => (PID_CPUS, c),
    }
}

/// What to tell a user whose trace hit its limit: how much was kept, from when, and the flag.
pub fn limit_note(timeline: &Timeline) -> Option<String> {
    let c = timeline.counts;
    (c.dropped > 0).then(|| {
        format!(
            "the trace kept the last {} of {} events (--trace-limit {}); the first {} were dropped, so it \
             starts mid-run; raise --trace-limit to keep more",
            c.recorded - c.dropped,
            c.recorded,
            c.limit,
            c.dropped
        )
    })
}

/// Writes the trace as JSON to `out`, deterministic for a given timeline: metadata naming the
/// tracks, then each event in the order recorded ("X" spans, "i" instants, "s"/"f" flow
/// pairs), and `otherData` saying whether the limit dropped events.
pub fn write_chrome_trace<W: Write>(timeline: &Timeline, out: W) -> std::io::Result<()> {
    let mut out = BufWriter::new(out);
    let c = timeline.counts;
    writeln!(
        out,
        "{{\"displayTimeUnit\":\"ns\",\"otherData\":{{\"events_recorded\":{},\"events_dropped\":{},\"trace_limit\":{}{}}},\"traceEvents\":[",
        c.recorded,
        c.dropped,
        c.limit,
        limit_note(timeline).map_or(String::new(), |n| format!(",\"note\":{}", json_string(&n)))
    )?;
    let mut first = true;
    let mut event = |out: &mut BufWriter<W>, text: String| -> std::io::Result<()> {
        if !first {
            out.write_all(b",\n")?;
        }
        first = false;
        out.write_all(text.as_bytes())
    };
    event(&mut out, format!(r#"{{"ph":"M","pid":{PID_TASKS},"name":"process_name","args":{{"name":"tasks"}}}}"#))?;
    event(&mut out, format!(r#"{{"ph":"M","pid":{PID_CPUS},"name":"process_name","args":{{"name":"CPUs"}}}}"#))?;
    for (tid, name) in timeline.tasks.iter().enumerate() {
        event(
            &mut out,
            format!(
                r#"{{"ph":"M","pid":{PID_TASKS},"tid":{tid},"name":"thread_name","args":{{"name":{}}}}}"#,
                json_string(name)
            ),
        )?;
    }
    let mut cpus: Vec<u32> = timeline
        .events
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Span(TraceSpan { track: Track::Cpu(c), .. })
            | TraceEvent::Instant(TraceInstant { track: Track::Cpu(c), .. }) => Some(*c),
            _ => None,
        })
        .collect();
    cpus.sort_unstable();
    cpus.dedup();
    for cpu in cpus {
        event(
            &mut out,
            format!(r#"{{"ph":"M","pid":{PID_CPUS},"tid":{cpu},"name":"thread_name","args":{{"name":"CPU {cpu}"}}}}"#),
        )?;
    }
    for (id, e) in timeline.events.iter().enumerate() {
        match e {
            TraceEvent::Span(span) => {
                let (pid, tid) = pid_tid(span.track);
                let args = if span.unfinished {
                    r#","args":{"unfinished":true,"note":"still open when the run ended"}"#
                } else {
                    ""
                };
                let name = if span.unfinished { format!("{} (unfinished)", span.name) } else { span.name.clone() };
                event(
                    &mut out,
                    format!(
                        r#"{{"ph":"X","pid":{pid},"tid":{tid},"cat":"{}","name":{},"ts":{},"dur":{}{args}}}"#,
                        span.category,
                        json_string(&name),
                        us(span.start_ns),
                        us(span.end_ns - span.start_ns)
                    ),
                )?;
            }
            TraceEvent::Instant(i) => {
                let (pid, tid) = pid_tid(i.track);
                event(
                    &mut out,
                    format!(
                        r#"{{"ph":"i","s":"t","pid":{pid},"tid":{tid},"cat":"{}","name":{},"ts":{}}}"#,
                        i.category,
                        json_string(&i.name),
                        us(i.ts_ns)
                    ),
                )?;
            }
            TraceEvent::Flow(f) => {
                let (name, ts) = (json_string(&f.name), us(f.ts_ns));
                event(
                    &mut out,
                    format!(
                        r#"{{"ph":"s","id":{id},"pid":{PID_TASKS},"tid":{},"cat":"waits_for","name":{name},"ts":{ts}}}"#,
                        f.from
                    ),
                )?;
                event(
                    &mut out,
                    format!(
                        r#"{{"ph":"f","bp":"e","id":{id},"pid":{PID_TASKS},"tid":{},"cat":"waits_for","name":{name},"ts":{ts}}}"#,
                        f.to
                    ),
                )?;
            }
        }
    }
    out.write_all(b"\n]}\n")?;
    out.flush()
}

/// The trace as JSON text (see [`write_chrome_trace`]).
pub fn chrome_trace(timeline: &Timeline) -> String {
    let mut buf = Vec::new();
    write_chrome_trace(timeline, &mut buf).expect("writing to memory");
    String::from_utf8(buf).expect("JSON text is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kernel::{TraceCounts, TraceFlow};

    fn span(
        track: Track,
        name: &str,
        category: &'static str,
        start_ns: u64,
        end_ns: u64,
        unfinished: bool,
    ) -> TraceEvent {
        TraceEvent::Span(TraceSpan { track, name: name.into(), category, start_ns, end_ns, unfinished })
    }

    fn timeline(dropped: u64) -> Timeline {
        Timeline {
            events: vec![
                span(Track::Task(0), "cpu_down(cpu=3)", "op", 1_500, 16_001_500, false),
                span(Track::Cpu(3), "cpu_down(cpu=3)", "hotplug", 1_500, 16_001_500, false),
                span(Track::Task(1), "wait \"x\"", "wait", 7, 9, false),
                TraceEvent::Flow(TraceFlow { from: 1, to: 0, ts_ns: 7, name: "waits for x (W)".into() }),
                TraceEvent::Instant(TraceInstant {
                    track: Track::Task(1),
                    name: "deadlock: perf/0 -> cpuhp/0".into(),
                    category: "deadlock",
                    ts_ns: 20_000_000,
                }),
                span(Track::Task(1), "cpu_hotplug_lock (W)", "hold", 30, 25_000_000, true),
            ],
            counts: TraceCounts { limit: 10, recorded: 6 + dropped, dropped },
            tasks: vec!["cpuhp/0".into(), "perf/0".into()],
        }
    }

    #[test]
    fn trace_is_valid_json_with_named_tracks_exact_times_instants_flows_and_unfinished_spans() {
        let text = chrome_trace(&timeline(0));
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let events = value["traceEvents"].as_array().unwrap();
        let spans: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(spans.len(), 4);
        assert_eq!(spans[0]["ts"].as_f64(), Some(1.5));
        assert_eq!(spans[0]["dur"].as_f64(), Some(16_000.0));
        assert_eq!(spans[3]["args"]["unfinished"], true);
        assert_eq!(spans[3]["name"], "cpu_hotplug_lock (W) (unfinished)");
        assert!(spans[..3].iter().all(|s| s.get("args").is_none()));
        let flow: Vec<_> = events.iter().filter(|e| e["ph"] == "s" || e["ph"] == "f").collect();
        assert_eq!(flow.len(), 2);
        assert_eq!((flow[0]["tid"].as_u64(), flow[1]["tid"].as_u64()), (Some(1), Some(0)), "waiter → holder");
        assert_eq!(flow[0]["id"], flow[1]["id"]);
        assert_eq!(flow[1]["bp"], "e", "the arrow ends on the holder's enclosing slice");
        let instant: Vec<_> = events.iter().filter(|e| e["ph"] == "i").collect();
        assert_eq!((instant.len(), instant[0]["ts"].as_f64()), (1, Some(20_000.0)));
        assert!(events.iter().any(|e| e["args"]["name"] == "CPU 3"));
        assert!(events.iter().any(|e| e["args"]["name"] == "cpuhp/0"));
        assert_eq!(value["otherData"]["events_dropped"], 0);
        assert!(value["otherData"].get("note").is_none() && limit_note(&timeline(0)).is_none());
    }

    #[test]
    fn a_trace_that_hit_its_limit_says_so() {
        let t = timeline(94);
        let value: serde_json::Value = serde_json::from_str(&chrome_trace(&t)).unwrap();
        assert_eq!(value["otherData"]["events_recorded"], 100);
        assert_eq!(value["otherData"]["events_dropped"], 94);
        let note = limit_note(&t).unwrap();
        assert!(note.contains("last 6 of 100 events") && note.contains("--trace-limit 10"), "{note}");
        assert_eq!(value["otherData"]["note"], note.as_str());
    }
}
