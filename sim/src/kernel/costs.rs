//! Time costs of the kernel primitives (docs/model.md §3); every one may be set, 0 included.

/// Costs in nanoseconds. Defaults are public orders of magnitude, not measurements (docs/model.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Costs {
    pub mutex_fast_ns: u64,
    /// Delay between being handed a lock (or a grace period ending) and running again.
    pub wakeup_ns: u64,
    pub rwsem_read_fast_ns: u64,
    /// Also the cost of a writer's acquisition once readers have drained.
    pub rwsem_read_slow_ns: u64,
    pub rcu_grace_period_ns: u64,
    /// Half-width of the grace periods' spread: each is drawn uniformly from
    /// `rcu_grace_period_ns ± rcu_grace_period_spread_ns` (docs/model.md §3); 0 for a constant.
    pub rcu_grace_period_spread_ns: u64,
    pub rcu_expedited_ns: u64,
    pub srcu_grace_period_ns: u64,
    pub srcu_read_ns: u64,
    pub spinlock_ns: u64,
    pub ipi_round_trip_ns: u64,
    pub stop_machine_base_ns: u64,
    pub stop_machine_per_cpu_ns: u64,
    /// `__perf_install_in_context` handler.
    pub ipi_install_ns: u64,
    /// Removing one event in an IPI handler.
    pub ipi_remove_per_event_ns: u64,
}

impl Default for Costs {
    fn default() -> Self {
        Costs {
            mutex_fast_ns: 20,
            wakeup_ns: 3_000,
            rwsem_read_fast_ns: 10,
            rwsem_read_slow_ns: 100,
            rcu_grace_period_ns: 10_000_000,
            rcu_grace_period_spread_ns: 0,
            rcu_expedited_ns: 50_000,
            srcu_grace_period_ns: 2_000_000,
            srcu_read_ns: 10,
            spinlock_ns: 50,
            ipi_round_trip_ns: 2_000,
            stop_machine_base_ns: 50_000,
            stop_machine_per_cpu_ns: 1_000,
            ipi_install_ns: 500,
            ipi_remove_per_event_ns: 500,
        }
    }
}

impl Costs {
    /// Every cost zero: for checking the lock models against closed-form queueing results.
    pub fn zero() -> Self {
        Costs {
            mutex_fast_ns: 0,
            wakeup_ns: 0,
            rwsem_read_fast_ns: 0,
            rwsem_read_slow_ns: 0,
            rcu_grace_period_ns: 0,
            rcu_grace_period_spread_ns: 0,
            rcu_expedited_ns: 0,
            srcu_grace_period_ns: 0,
            srcu_read_ns: 0,
            spinlock_ns: 0,
            ipi_round_trip_ns: 0,
            stop_machine_base_ns: 0,
            stop_machine_per_cpu_ns: 0,
            ipi_install_ns: 0,
            ipi_remove_per_event_ns: 0,
        }
    }
}
