//! A run's timeline, recorded only when tracing is on: each task's operations, lock holds and
//! waits, and the hotplug operations on each CPU's track.

use crate::script::ScriptId;

/// One span of a run's timeline, recorded only when tracing is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceSpan {
    /// `Task(t)` for a task's track, `Cpu(c)` for a CPU's hotplug track.
    pub track: Track,
    pub name: String,
    /// `op`, `hold`, `wait` or `hotplug`.
    pub category: &'static str,
    pub start_ns: u64,
    pub end_ns: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Track {
    Task(u32),
    Cpu(u32),
}

/// The spans recorded so far, if tracing is on; off, a span costs one branch and no name.
#[derive(Default)]
pub(super) struct TraceRecorder {
    spans: Option<Vec<TraceSpan>>,
    /// Scripts whose runs also appear on the track of their CPU argument (hotplug).
    cpu_track_scripts: Vec<ScriptId>,
}

impl TraceRecorder {
    pub(super) fn enable(&mut self, cpu_track_scripts: Vec<ScriptId>) {
        self.spans = Some(Vec::new());
        self.cpu_track_scripts = cpu_track_scripts;
    }

    #[inline]
    pub(super) fn is_on(&self) -> bool {
        self.spans.is_some()
    }

    pub(super) fn spans(&self) -> &[TraceSpan] {
        self.spans.as_deref().unwrap_or(&[])
    }

    /// Whether runs of `script` also go on their CPU argument's track.
    pub(super) fn on_cpu_track(&self, script: ScriptId) -> bool {
        self.cpu_track_scripts.contains(&script)
    }

    /// Records a span if tracing is on; `name` is built only then.
    pub(super) fn span(
        &mut self,
        track: Track,
        category: &'static str,
        start_ns: u64,
        end_ns: u64,
        name: impl FnOnce() -> String,
    ) {
        if let Some(spans) = &mut self.spans {
            spans.push(TraceSpan { track, name: name(), category, start_ns, end_ns });
        }
    }
}
