//! A run's timeline, recorded only when tracing is on: each task's operations, lock holds and
//! waits, the hotplug operations on each CPU's track, instants (deadlocks, invariant
//! violations) and wait-for flows (waiter → holder). It is a ring of the last `limit` events,
//! as ftrace's buffer in overwrite mode keeps the newest: the end of a run is what explains it.

use std::collections::VecDeque;

use crate::script::ScriptId;

/// One span of a run's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSpan {
    /// `Task(t)` for a task's track, `Cpu(c)` for a CPU's hotplug track.
    pub track: Track,
    pub name: String,
    /// `op`, `hold`, `wait` or `hotplug`.
    pub category: &'static str,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Still open when the run ended (a stuck `cpu_down`, a lock never released): `end_ns` is
    /// the run's end, not the span's.
    pub unfinished: bool,
}

/// A point in time on a track: a deadlock found, an invariant broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceInstant {
    pub track: Track,
    pub name: String,
    /// `deadlock`, `violation` or `silent` (an open that failed silently, invariant 7).
    pub category: &'static str,
    pub ts_ns: u64,
}

/// A wait-for edge drawn as an arrow: task `from` starts waiting at `ts_ns` for what task `to` holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceFlow {
    pub from: u32,
    pub to: u32,
    pub ts_ns: u64,
    /// What `from` waits for.
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    Span(TraceSpan),
    Instant(TraceInstant),
    Flow(TraceFlow),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Track {
    Task(u32),
    Cpu(u32),
}

/// What a ring kept and what it dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceCounts {
    /// The most events the ring holds.
    pub limit: usize,
    /// Events recorded in all, kept or dropped.
    pub recorded: u64,
    /// The oldest events dropped to keep within `limit`.
    pub dropped: u64,
}

/// The events recorded so far, if tracing is on; off, an event costs one branch and no name.
#[derive(Default)]
pub(super) struct TraceRecorder {
    events: Option<VecDeque<TraceEvent>>,
    counts: TraceCounts,
    /// Scripts whose runs also appear on the track of their CPU argument (hotplug).
    cpu_track_scripts: Vec<ScriptId>,
}

impl TraceRecorder {
    /// Starts recording, keeping at most the last `limit` events (at least 1).
    pub(super) fn enable(&mut self, cpu_track_scripts: Vec<ScriptId>, limit: usize) {
        self.events = Some(VecDeque::new());
        self.counts = TraceCounts { limit: limit.max(1), ..TraceCounts::default() };
        self.cpu_track_scripts = cpu_track_scripts;
    }

    #[inline]
    pub(super) fn is_on(&self) -> bool {
        self.events.is_some()
    }

    pub(super) fn events(&self) -> Option<&VecDeque<TraceEvent>> {
        self.events.as_ref()
    }

    pub(super) fn counts(&self) -> TraceCounts {
        self.counts
    }

    /// Whether runs of `script` also go on their CPU argument's track.
    pub(super) fn on_cpu_track(&self, script: ScriptId) -> bool {
        self.cpu_track_scripts.contains(&script)
    }

    fn push(&mut self, event: impl FnOnce() -> TraceEvent) {
        let Some(events) = &mut self.events else { return };
        if events.len() == self.counts.limit {
            events.pop_front();
            self.counts.dropped += 1;
        }
        events.push_back(event());
        self.counts.recorded += 1;
    }

    /// Records a finished span if tracing is on; `name` is built only then.
    pub(super) fn span(
        &mut self,
        track: Track,
        category: &'static str,
        start_ns: u64,
        end_ns: u64,
        name: impl FnOnce() -> String,
    ) {
        self.push(|| {
            TraceEvent::Span(TraceSpan { track, name: name(), category, start_ns, end_ns, unfinished: false })
        });
    }

    /// Records a span still open at the run's end, `end_ns`.
    pub(super) fn unfinished_span(
        &mut self,
        track: Track,
        category: &'static str,
        start_ns: u64,
        end_ns: u64,
        name: String,
    ) {
        self.push(|| TraceEvent::Span(TraceSpan { track, name, category, start_ns, end_ns, unfinished: true }));
    }

    pub(super) fn instant(&mut self, track: Track, category: &'static str, ts_ns: u64, name: impl FnOnce() -> String) {
        self.push(|| TraceEvent::Instant(TraceInstant { track, name: name(), category, ts_ns }));
    }

    pub(super) fn flow(&mut self, from: u32, to: u32, ts_ns: u64, name: impl FnOnce() -> String) {
        self.push(|| TraceEvent::Flow(TraceFlow { from, to, ts_ns, name: name() }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_events_and_counts_the_dropped() {
        let mut r = TraceRecorder::default();
        r.span(Track::Task(0), "op", 0, 1, || unreachable!("off: no name is built"));
        r.enable(Vec::new(), 3);
        for i in 0..5u64 {
            r.span(Track::Task(0), "op", i, i + 1, || format!("s{i}"));
        }
        let kept: Vec<u64> = r
            .events()
            .unwrap()
            .iter()
            .map(|e| match e {
                TraceEvent::Span(s) => s.start_ns,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(kept, [2, 3, 4]);
        assert_eq!(r.counts(), TraceCounts { limit: 3, recorded: 5, dropped: 2 });
    }
}
