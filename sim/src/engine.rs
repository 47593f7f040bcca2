//! The scheduler and its run loop: virtual time, insertion sequence, stop conditions.

use crate::event::{Event, Scheduled};
use crate::queue::{EventQueue, HybridHeap};

/// Why [`Scheduler::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StopReason {
    /// The next event lies at or past [`Limits::until_ns`].
    TimeLimit,
    /// [`Limits::max_events`] events were processed and more are pending.
    EventBudget,
    /// No event is pending.
    QueueEmpty,
    /// The model called [`Scheduler::request_stop`] (for example at the first deadlock).
    Requested,
}

impl StopReason {
    /// Stable lower-case name, as written in results.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::TimeLimit => "time_limit",
            StopReason::EventBudget => "event_budget",
            StopReason::QueueEmpty => "queue_empty",
            StopReason::Requested => "requested",
        }
    }
}

/// When a run stops. Both default to "never".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Events at or after this simulated time are not processed; the clock stops here.
    pub until_ns: u64,
    /// At most this many events are processed by one call to [`Scheduler::run`].
    pub max_events: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { until_ns: u64::MAX, max_events: u64::MAX }
    }
}

/// What one call to [`Scheduler::run`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    pub stop: StopReason,
    pub events_processed: u64,
    pub end_ns: u64,
    /// The most events pending at once during the run (its queue's high-water mark).
    pub pending_peak: u64,
}

/// The program under simulation: it reacts to events and schedules new ones.
pub trait Model<Q: EventQueue = HybridHeap> {
    fn handle(&mut self, event: Event, sched: &mut Scheduler<Q>);
}

/// Owns virtual time and the pending-event queue.
pub struct Scheduler<Q: EventQueue = HybridHeap> {
    now_ns: u64,
    next_seq: u64,
    queue: Q,
    stop_requested: bool,
    events_processed_total: u64,
    /// The current [`run`](Self::run)'s time limit (0 outside a run), event budget and
    /// events processed, for [`advance_in_place`](Self::advance_in_place).
    run_until_ns: u64,
    run_max_events: u64,
    run_processed: u64,
}

impl Default for Scheduler<HybridHeap> {
    fn default() -> Self {
        Self::new()
    }
}

impl Scheduler<HybridHeap> {
    pub fn new() -> Self {
        Self::with_queue()
    }
}

impl<Q: EventQueue> Scheduler<Q> {
    /// A scheduler at time 0 on a queue of type `Q`.
    pub fn with_queue() -> Self {
        Self {
            now_ns: 0,
            next_seq: 0,
            queue: Q::default(),
            stop_requested: false,
            events_processed_total: 0,
            run_until_ns: 0,
            run_max_events: 0,
            run_processed: 0,
        }
    }

    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Schedules `event` at absolute time `time_ns` and returns its sequence number.
    ///
    /// Panics if `time_ns` is in the past: that is a bug in the model, not a user error.
    #[inline]
    pub fn schedule_at(&mut self, time_ns: u64, event: Event) -> u64 {
        assert!(time_ns >= self.now_ns, "event scheduled in the past: at {time_ns} ns, now {} ns", self.now_ns);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Scheduled { time_ns, seq, event });
        seq
    }

    /// Schedules `event` `delay_ns` from now (saturating at the end of time).
    #[inline]
    pub fn schedule_in(&mut self, delay_ns: u64, event: Event) -> u64 {
        self.schedule_at(self.now_ns.saturating_add(delay_ns), event)
    }

    /// Takes, in place, the event that `schedule_in(delay_ns, …)` would schedule for the model
    /// component now running, when it would be the very next one the run processes: no stop is
    /// due before it and every pending event comes later (one at the same time was scheduled
    /// earlier and goes first). The clock, the sequence number and the events processed move
    /// exactly as if it had been queued and popped; `false` leaves everything as it was.
    #[inline]
    pub fn advance_in_place(&mut self, delay_ns: u64) -> bool {
        let at_ns = self.now_ns.saturating_add(delay_ns);
        if self.stop_requested || at_ns >= self.run_until_ns || self.run_processed == self.run_max_events {
            return false;
        }
        if self.queue.next_time_ns().is_some_and(|next_ns| next_ns <= at_ns) {
            return false;
        }
        self.now_ns = at_ns;
        self.next_seq += 1;
        self.run_processed += 1;
        true
    }

    /// Asks the current [`run`](Self::run) to return before the next event.
    pub fn request_stop(&mut self) {
        self.stop_requested = true;
    }

    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Events processed over the scheduler's life.
    pub fn events_processed_total(&self) -> u64 {
        self.events_processed_total
    }

    /// Processes events in `(time, seq)` order until a stop condition holds.
    ///
    /// Conditions are checked before each event in this order: stop requested, queue empty,
    /// time limit (the clock is then advanced to `until_ns`), event budget.
    pub fn run<M: Model<Q>>(&mut self, model: &mut M, limits: &Limits) -> RunOutcome {
        self.stop_requested = false;
        (self.run_until_ns, self.run_max_events, self.run_processed) = (limits.until_ns, limits.max_events, 0);
        // Within one event the queue only grows, so its size after each is its high-water mark.
        let mut pending_peak = self.queue.len();
        let stop = loop {
            if self.stop_requested {
                break StopReason::Requested;
            }
            let Some(next) = self.queue.peek() else {
                break StopReason::QueueEmpty;
            };
            if next.time_ns >= limits.until_ns {
                self.now_ns = self.now_ns.max(limits.until_ns);
                break StopReason::TimeLimit;
            }
            if self.run_processed == limits.max_events {
                break StopReason::EventBudget;
            }
            let item = self.queue.pop().expect("peeked item is still there");
            debug_assert!(item.time_ns >= self.now_ns);
            self.now_ns = item.time_ns;
            self.run_processed += 1;
            model.handle(item.event, self);
            pending_peak = pending_peak.max(self.queue.len());
        };
        let processed = self.run_processed;
        self.run_until_ns = 0;
        self.events_processed_total += processed;
        RunOutcome { stop, events_processed: processed, end_ns: self.now_ns, pending_peak: pending_peak as u64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every event it sees; on kind 1 schedules `data` more events at the same time.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<(u64, Event)>,
        stop_at_target: Option<u32>,
    }

    impl Model for Recorder {
        fn handle(&mut self, event: Event, sched: &mut Scheduler) {
            self.seen.push((sched.now_ns(), event));
            if event.kind == 1 {
                for i in 0..event.data {
                    sched.schedule_in(0, Event::new(100 + i as u32, 0, 0));
                }
            }
            if self.stop_at_target == Some(event.target) {
                sched.request_stop();
            }
        }
    }

    #[test]
    fn simultaneous_events_run_in_insertion_order() {
        let mut sched = Scheduler::new();
        for target in [5, 3, 9, 1] {
            sched.schedule_at(10, Event::new(target, 0, 0));
        }
        sched.schedule_at(5, Event::new(0, 1, 3));
        let mut model = Recorder::default();
        let outcome = sched.run(&mut model, &Limits::default());
        let order: Vec<(u64, u32)> = model.seen.iter().map(|(t, e)| (*t, e.target)).collect();
        assert_eq!(order, vec![(5, 0), (5, 100), (5, 101), (5, 102), (10, 5), (10, 3), (10, 9), (10, 1)]);
        assert_eq!(outcome.stop, StopReason::QueueEmpty);
        assert_eq!(outcome.events_processed, 8);
        assert_eq!(outcome.end_ns, 10);
    }

    #[test]
    fn time_limit_stops_before_events_at_the_limit_and_sets_the_clock() {
        let mut sched = Scheduler::new();
        sched.schedule_at(99, Event::new(1, 0, 0));
        sched.schedule_at(100, Event::new(2, 0, 0));
        let mut model = Recorder::default();
        let outcome = sched.run(&mut model, &Limits { until_ns: 100, ..Limits::default() });
        assert_eq!(outcome.stop, StopReason::TimeLimit);
        assert_eq!(outcome.events_processed, 1);
        assert_eq!(outcome.end_ns, 100);
        assert_eq!(sched.pending(), 1);
    }

    #[test]
    fn event_budget_stops_with_events_pending() {
        let mut sched = Scheduler::new();
        for t in 0..10 {
            sched.schedule_at(t, Event::new(t as u32, 0, 0));
        }
        let mut model = Recorder::default();
        let outcome = sched.run(&mut model, &Limits { max_events: 4, ..Limits::default() });
        assert_eq!(outcome.stop, StopReason::EventBudget);
        assert_eq!(outcome.events_processed, 4);
        assert_eq!(outcome.end_ns, 3);
        let rest = sched.run(&mut model, &Limits::default());
        assert_eq!((rest.stop, rest.events_processed), (StopReason::QueueEmpty, 6));
        assert_eq!(sched.events_processed_total(), 10);
    }

    #[test]
    fn empty_queue_stops_immediately() {
        let mut sched = Scheduler::new();
        let outcome = sched.run(&mut Recorder::default(), &Limits::default());
        assert_eq!(
            outcome,
            RunOutcome { stop: StopReason::QueueEmpty, events_processed: 0, end_ns: 0, pending_peak: 0 }
        );
    }

    #[test]
    fn requested_stop_returns_after_the_current_event() {
        let mut sched = Scheduler::new();
        for t in 0..5 {
            sched.schedule_at(t * 10, Event::new(t as u32, 0, 0));
        }
        let mut model = Recorder { stop_at_target: Some(2), ..Recorder::default() };
        let outcome = sched.run(&mut model, &Limits::default());
        assert_eq!(outcome.stop, StopReason::Requested);
        assert_eq!(outcome.events_processed, 3);
        assert_eq!(outcome.end_ns, 20);
    }

    #[test]
    #[should_panic(expected = "scheduled in the past")]
    fn scheduling_in_the_past_is_a_model_bug() {
        let mut sched = Scheduler::new();
        sched.schedule_at(10, Event::new(0, 0, 0));
        sched.run(&mut Recorder::default(), &Limits::default());
        sched.schedule_at(5, Event::new(0, 0, 0));
    }

    /// Tasks that each take `steps` steps of `delay` ns (entity `e` sleeps `e + 1` ns per step),
    /// going on in place when allowed, recording `(time, entity, step)` of every step.
    struct Walkers {
        in_place: bool,
        steps: u64,
        seen: Vec<(u64, u32, u64)>,
        taken_in_place: u64,
    }

    impl Model for Walkers {
        fn handle(&mut self, mut event: Event, sched: &mut Scheduler) {
            loop {
                self.seen.push((sched.now_ns(), event.target, event.data));
                if event.data + 1 == self.steps {
                    return;
                }
                event.data += 1;
                let delay = u64::from(event.target) + 1;
                if !(self.in_place && sched.advance_in_place(delay)) {
                    sched.schedule_in(delay, event);
                    return;
                }
                self.taken_in_place += 1;
            }
        }
    }

    #[test]
    fn going_on_in_place_is_the_same_run_as_queueing_the_resume() {
        for limits in [
            Limits::default(),
            Limits { until_ns: 37, ..Limits::default() },
            Limits { max_events: 23, ..Limits::default() },
        ] {
            let run = |in_place: bool| {
                let mut sched = Scheduler::new();
                for e in [0, 3, 1] {
                    sched.schedule_at(5, Event::new(e, 0, 0));
                }
                let mut model = Walkers { in_place, steps: 20, seen: Vec::new(), taken_in_place: 0 };
                let outcome = sched.run(&mut model, &limits);
                sched.schedule_in(0, Event::new(9, 0, 0));
                ((outcome, model.seen, sched.next_seq, sched.events_processed_total()), model.taken_in_place)
            };
            let ((with, taken), (without, _)) = (run(true), run(false));
            assert!(taken > 0, "{limits:?}: nothing went on in place");
            assert_eq!(with, without, "{limits:?}");
        }
        let mut sched = Scheduler::new();
        assert!(!sched.advance_in_place(1), "outside a run nothing goes on in place");
    }
}
