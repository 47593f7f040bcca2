//! The machine-wide sample-rate limits: `max_samples_per_tick` for throttling, and the
//! "perf: interrupt took too long" governor that lowers `perf_event_max_sample_rate` when PMI
//! handlers eat more than `perf_cpu_time_max_percent` of the sample interval.
//!
//! The limits are global, as the kernel's sysctls are; each CPU keeps its own running handler
//! time (`running_sample_length`) and passes it in.

use super::PmuError;
use super::source::{NS_PER_S, check_range};

/// `DEFAULT_MAX_SAMPLE_RATE`: `perf_event_max_sample_rate` at boot.
pub const DEFAULT_MAX_SAMPLE_RATE_PER_S: u64 = 100_000;
/// The common distribution `CONFIG_HZ`.
pub const DEFAULT_HZ: u64 = 250;
/// `DEFAULT_CPU_TIME_MAX_PERCENT`: `perf_cpu_time_max_percent` at boot.
pub const DEFAULT_CPU_TIME_MAX_PERCENT: u64 = 25;
/// `NR_ACCUMULATED_SAMPLES`: the running handler time decays by 1/128 per PMI.
pub const NR_ACCUMULATED_SAMPLES: u64 = 128;
/// Highest tick rate accepted.
pub const MAX_HZ: u64 = 10_000;
/// Highest sample rate accepted (one per nanosecond).
pub const MAX_SAMPLE_RATE_PER_S: u64 = NS_PER_S;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GovernorConfig {
    /// `perf_event_max_sample_rate`.
    pub max_sample_rate_per_s: u64,
    /// `CONFIG_HZ`: ticks per second; throttling counts samples per tick.
    pub hz: u64,
    /// `perf_cpu_time_max_percent`; 0 or 100 disables the governor, as the sysctl does.
    pub cpu_time_max_percent: u64,
}

impl Default for GovernorConfig {
    fn default() -> Self {
        GovernorConfig {
            max_sample_rate_per_s: DEFAULT_MAX_SAMPLE_RATE_PER_S,
            hz: DEFAULT_HZ,
            cpu_time_max_percent: DEFAULT_CPU_TIME_MAX_PERCENT,
        }
    }
}

impl GovernorConfig {
    pub fn validate(&self) -> Result<(), PmuError> {
        check_range("max_sample_rate_per_s", self.max_sample_rate_per_s, 1, MAX_SAMPLE_RATE_PER_S)?;
        check_range("hz", self.hz, 1, MAX_HZ)?;
        check_range("cpu_time_max_percent", self.cpu_time_max_percent, 0, 100)?;
        Ok(())
    }
}

/// The current global limits, lowered over time by slow PMI handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleRateGovernor {
    config: GovernorConfig,
    tick_ns: u64,
    max_sample_rate_per_s: u64,
    max_samples_per_tick: u64,
    sample_period_ns: u64,
    /// `perf_sample_allowed_ns`; 0 when the governor is disabled.
    sample_allowed_ns: u64,
    lowerings: u64,
}

impl SampleRateGovernor {
    /// Limits as perf_proc_update_handler() and update_perf_cpu_limits() set them:
    /// `max_samples_per_tick = ⌈rate / HZ⌉`, `sample_period_ns = 10^9 / rate`,
    /// `sample_allowed_ns = max(1, sample_period_ns × percent / 100)`.
    pub fn new(config: GovernorConfig) -> Result<SampleRateGovernor, PmuError> {
        config.validate()?;
        let rate = config.max_sample_rate_per_s;
        let sample_period_ns = NS_PER_S / rate;
        let percent = config.cpu_time_max_percent;
        let sample_allowed_ns =
            if percent == 0 || percent == 100 { 0 } else { (sample_period_ns * percent / 100).max(1) };
        Ok(SampleRateGovernor {
            config,
            tick_ns: (NS_PER_S + config.hz / 2) / config.hz,
            max_sample_rate_per_s: rate,
            max_samples_per_tick: rate.div_ceil(config.hz),
            sample_period_ns,
            sample_allowed_ns,
            lowerings: 0,
        })
    }

    pub fn config(&self) -> &GovernorConfig {
        &self.config
    }

    /// `TICK_NSEC`: `(10^9 + HZ/2) / HZ`. Tick `k` covers `[k·tick_ns, (k+1)·tick_ns)`.
    #[inline]
    pub fn tick_ns(&self) -> u64 {
        self.tick_ns
    }

    /// The tick that `time_ns` falls in (`perf_throttled_seq`).
    #[inline]
    pub fn tick_of(&self, time_ns: u64) -> u64 {
        time_ns / self.tick_ns
    }

    /// `sysctl_perf_event_sample_rate`, as lowered so far.
    pub fn max_sample_rate_per_s(&self) -> u64 {
        self.max_sample_rate_per_s
    }

    #[inline]
    pub fn max_samples_per_tick(&self) -> u64 {
        self.max_samples_per_tick
    }

    /// `perf_sample_period_ns`: the sample interval at the current maximum rate.
    pub fn sample_period_ns(&self) -> u64 {
        self.sample_period_ns
    }

    /// `perf_sample_allowed_ns`: the longest average handler time tolerated; 0 when disabled.
    pub fn sample_allowed_ns(&self) -> u64 {
        self.sample_allowed_ns
    }

    /// Times the governor lowered the sample rate.
    pub fn lowerings(&self) -> u64 {
        self.lowerings
    }

    /// Whether handlers of `handler_ns` each can ever lower the limits. They cannot if
    /// `handler_ns <= sample_allowed_ns`: from 0, `running −= running / 128; running += len`
    /// never exceeds `128 × len`, so the average never exceeds the allowance.
    pub fn can_lower(&self, handler_ns: u64) -> bool {
        self.sample_allowed_ns != 0 && handler_ns > self.sample_allowed_ns
    }

    /// Accounts one PMI handler of `sample_len_ns` on a CPU whose running handler time is
    /// `running_sample_length_ns`; returns whether the limits were lowered.
    /// Mirrors perf_sample_event_took(): `running −= running / 128; running += len`; if
    /// `avg = running / 128` exceeds `sample_allowed_ns`, then `allowed = avg + avg / 4`,
    /// `max_samples_per_tick = (TICK_NSEC / 100 × percent) / allowed` (1 if that is not above
    /// `allowed`), `rate = max_samples_per_tick × HZ`, `sample_period_ns = 10^9 / rate`.
    pub fn sample_event_took(&mut self, running_sample_length_ns: &mut u64, sample_len_ns: u64) -> bool {
        if self.sample_allowed_ns == 0 {
            return false;
        }
        let mut running = *running_sample_length_ns;
        running -= running / NR_ACCUMULATED_SAMPLES;
        running += sample_len_ns;
        *running_sample_length_ns = running;
        let mut avg_ns = running / NR_ACCUMULATED_SAMPLES;
        if avg_ns <= self.sample_allowed_ns {
            return false;
        }
        avg_ns += avg_ns / 4;
        let tick_budget_ns = (self.tick_ns / 100) * self.config.cpu_time_max_percent;
        let max_samples_per_tick = if avg_ns < tick_budget_ns { tick_budget_ns / avg_ns } else { 1 };
        self.sample_allowed_ns = avg_ns;
        self.max_samples_per_tick = max_samples_per_tick;
        self.max_sample_rate_per_s = max_samples_per_tick * self.config.hz;
        self.sample_period_ns = NS_PER_S / self.max_sample_rate_per_s;
        self.lowerings += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_limits_are_400_samples_per_tick_and_2500_ns_allowed() {
        let governor = SampleRateGovernor::new(GovernorConfig::default()).expect("valid defaults");
        assert_eq!(governor.tick_ns(), 4_000_000);
        assert_eq!(governor.max_samples_per_tick(), 400);
        assert_eq!(governor.sample_period_ns(), 10_000);
        assert_eq!(governor.sample_allowed_ns(), 2_500);
        let hz_300 = SampleRateGovernor::new(GovernorConfig { hz: 300, ..GovernorConfig::default() }).expect("valid");
        assert_eq!((hz_300.tick_ns(), hz_300.max_samples_per_tick()), (3_333_333, 334));
    }

    #[test]
    fn handler_over_a_quarter_of_the_sample_interval_lowers_the_sample_rate_once() {
        let mut governor = SampleRateGovernor::new(GovernorConfig::default()).expect("valid defaults");
        let mut running_ns = 0;
        // A 3 µs handler: the decaying average first exceeds 2_500 ns at PMI 229 (running 320_333,
        // average 2_502); allowed becomes 2_502 + 625 = 3_127 and the limit 1_000_000 / 3_127 = 319.
        for pmi in 1..=228 {
            assert!(!governor.sample_event_took(&mut running_ns, 3_000), "lowered at PMI {pmi}");
        }
        assert!(governor.sample_event_took(&mut running_ns, 3_000));
        assert_eq!(running_ns, 320_333);
        assert_eq!(governor.sample_allowed_ns(), 3_127);
        assert_eq!(governor.max_samples_per_tick(), 319);
        assert_eq!(governor.max_sample_rate_per_s(), 79_750);
        assert_eq!(governor.sample_period_ns(), 12_539);
        // The average converges to 3_000 ns, under the new allowance: no further lowering.
        for _ in 0..100_000 {
            governor.sample_event_took(&mut running_ns, 3_000);
        }
        assert_eq!(governor.lowerings(), 1);
        assert_eq!(running_ns, 384_000);
    }

    #[test]
    fn can_lower_is_exact_at_the_allowance() {
        let governor = SampleRateGovernor::new(GovernorConfig::default()).expect("valid defaults");
        for (handler_ns, lowers) in [(2_500, false), (2_501, true)] {
            assert_eq!(governor.can_lower(handler_ns), lowers);
            let (mut governor, mut running_ns) = (governor.clone(), 0);
            let lowered = (0..20_000).any(|_| governor.sample_event_took(&mut running_ns, handler_ns));
            assert_eq!(lowered, lowers, "handler {handler_ns} ns");
        }
        let disabled = GovernorConfig { cpu_time_max_percent: 0, ..GovernorConfig::default() };
        assert!(!SampleRateGovernor::new(disabled).expect("valid").can_lower(1_000_000_000));
    }

    #[test]
    fn handler_under_the_allowance_never_lowers_the_rate() {
        let mut governor = SampleRateGovernor::new(GovernorConfig::default()).expect("valid defaults");
        let mut running_ns = 0;
        for _ in 0..100_000 {
            assert!(!governor.sample_event_took(&mut running_ns, 1_500));
        }
        assert_eq!(governor.max_samples_per_tick(), 400);
    }

    #[test]
    fn a_handler_longer_than_the_tick_budget_leaves_one_sample_per_tick() {
        let mut governor = SampleRateGovernor::new(GovernorConfig::default()).expect("valid defaults");
        let mut running_ns = 0;
        for _ in 0..10 {
            governor.sample_event_took(&mut running_ns, 200_000_000);
        }
        assert_eq!((governor.max_samples_per_tick(), governor.max_sample_rate_per_s()), (1, 250));
    }

    #[test]
    fn zero_or_hundred_percent_disables_the_governor() {
        for percent in [0, 100] {
            let config = GovernorConfig { cpu_time_max_percent: percent, ..GovernorConfig::default() };
            let mut governor = SampleRateGovernor::new(config).expect("valid");
            let mut running_ns = 0;
            assert!(!governor.sample_event_took(&mut running_ns, 1_000_000_000));
            assert_eq!((governor.sample_allowed_ns(), running_ns), (0, 0));
        }
    }

    #[test]
    fn bad_governor_config_names_the_field() {
        let cases = [
            (GovernorConfig { max_sample_rate_per_s: 0, ..GovernorConfig::default() }, "max_sample_rate_per_s = 0"),
            (GovernorConfig { hz: 0, ..GovernorConfig::default() }, "hz = 0"),
            (GovernorConfig { hz: MAX_HZ + 1, ..GovernorConfig::default() }, "hz = 10001"),
            (GovernorConfig { cpu_time_max_percent: 101, ..GovernorConfig::default() }, "cpu_time_max_percent = 101"),
        ];
        for (config, field) in cases {
            let error = SampleRateGovernor::new(config).expect_err("invalid config");
            assert!(error.to_string().starts_with(field), "{error}");
        }
    }
}
