//! Simulation events: what the queue stores and hands back to the model.

/// One simulation event: the entity it is for, what happens, and a small payload.
///
/// Kept at 16 bytes so that a queued event ([`Scheduled`]) fits in 32.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Event {
    /// The entity (task, CPU, PMU, …) that handles the event; meaning is the model's.
    pub target: u32,
    /// What happens; meaning is the model's.
    pub kind: u32,
    /// Payload, for example a generation number that lets the model drop stale events.
    pub data: u64,
}

impl Event {
    pub const fn new(target: u32, kind: u32, data: u64) -> Self {
        Self { target, kind, data }
    }
}

/// An event in the queue, ordered by `(time_ns, seq)`.
///
/// `seq` is the scheduler's global insertion counter, so simultaneous events run in the order
/// they were scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheduled {
    pub time_ns: u64,
    pub seq: u64,
    pub event: Event,
}

impl Scheduled {
    /// The total order key: time first, insertion sequence second.
    #[inline]
    pub fn key(&self) -> u128 {
        ((self.time_ns as u128) << 64) | self.seq as u128
    }
}

const _: () = assert!(std::mem::size_of::<Event>() == 16);
const _: () = assert!(std::mem::size_of::<Scheduled>() == 32);
