//! Simulated time as users write it and reports show it: one parser and one printer.
//!
//! A duration is a decimal number and a unit (`250ns`, `3us`, `1.5ms`, `30s`, `2min`, `1h`),
//! read exactly: no floating point, and a fraction finer than a nanosecond is an error.

use std::fmt;
use std::str::FromStr;

/// Longest single cost or interval a scenario or a script may give: one hour.
pub const MAX_COST_NS: u64 = 3_600_000_000_000;

/// Units a duration may be written in, with their size in nanoseconds.
const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("min", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Units the printer writes, largest first. Never `min` or `h`: `120s` stays `120s`, as every
/// file and report has always shown it.
const PRINT_UNITS: [(&str, u64); 4] = [("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000), ("ns", 1)];

/// A span of simulated time in whole nanoseconds.
///
/// Parsed from text by [`FromStr`] and written by [`Display`](fmt::Display) in the largest unit
/// that shows it exactly (`5ms`, `1500us`, `7ns`, `0ns`), so `parse(print(x)) == x`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub u64);

/// Why a text is not a duration; each message quotes the text and says what is allowed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseNanosError {
    #[error("`{0}` needs a unit: {0}ns, {0}us, {0}ms, {0}s, {0}min or {0}h")]
    NoUnit(String),
    #[error("unknown unit `{unit}` in `{text}` (use ns, us, ms, s, min or h)")]
    UnknownUnit { text: String, unit: String },
    #[error("`{0}` is negative; durations are at least 0")]
    Negative(String),
    #[error("`{0}` is not a whole number of nanoseconds")]
    Fraction(String),
    #[error("`{0}` is too long (at most {max}ns)", max = u64::MAX)]
    Overflow(String),
    #[error("`{0}` is not a duration (like 250us, 1.5ms or 30s)")]
    Malformed(String),
}

impl FromStr for Nanos {
    type Err = ParseNanosError;

    /// `digits[.digits]unit`, optionally with spaces around or before the unit.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let unit = unit.trim_start();
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let well_formed =
            !whole.is_empty() && !fraction.contains('.') && (number.len() == whole.len() || !fraction.is_empty());
        if !well_formed && t.strip_prefix('-').is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())) {
            return Err(ParseNanosError::Negative(t.into()));
        }
        if !well_formed {
            return Err(ParseNanosError::Malformed(t.into()));
        }
        if unit.is_empty() {
            return Err(ParseNanosError::NoUnit(t.into()));
        }
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(ParseNanosError::UnknownUnit { text: t.into(), unit: unit.into() });
        };
        let overflow = || ParseNanosError::Overflow(t.into());
        // At most 20 significant digits before the point: whole × scale then fits a u128.
        let whole = whole.trim_start_matches('0');
        if whole.len() > 20 {
            return Err(overflow());
        }
        // A fraction of k digits (last one non-zero) is whole nanoseconds only if 10^k divides
        // fraction × scale, so k is at most the power of 2 or 5 in scale (13 for `h`).
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > 19 {
            return Err(ParseNanosError::Fraction(t.into()));
        }
        let digits = |s: &str| s.bytes().fold(0u128, |n, b| n * 10 + u128::from(b - b'0'));
        let fraction_scaled = digits(fraction) * u128::from(scale);
        let denominator = 10u128.pow(fraction.len() as u32);
        if fraction_scaled % denominator != 0 {
            return Err(ParseNanosError::Fraction(t.into()));
        }
        let ns = digits(whole) * u128::from(scale) + fraction_scaled / denominator;
        u64::try_from(ns).map(Nanos).map_err(|_| overflow())
    }
}

impl fmt::Display for Nanos {
    /// The largest unit that shows the value exactly: `5ms`, `1500us`, `7ns`, `0ns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        let (unit, scale) =
            PRINT_UNITS.iter().find(|(_, scale)| ns != 0 && ns.is_multiple_of(*scale)).unwrap_or(&("ns", 1));
        write!(f, "{}{unit}", ns / scale)
    }
}

/// `12.345678901 s`, exact to the nanosecond: how reports show a point in simulated time.
pub fn format_ns(ns: u64) -> String {
    format!("{}.{:09} s", ns / 1_000_000_000, ns % 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(text: &str) -> Result<u64, ParseNanosError> {
        text.parse::<Nanos>().map(|n| n.0)
    }

    fn message(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn every_unit_scales_exactly() {
        assert_eq!(parse("250ns"), Ok(250));
        assert_eq!(parse("3us"), Ok(3_000));
        assert_eq!(parse("3µs"), Ok(3_000));
        assert_eq!(parse("7ms"), Ok(7_000_000));
        assert_eq!(parse("30s"), Ok(30_000_000_000));
        assert_eq!(parse("2min"), Ok(120_000_000_000));
        assert_eq!(parse("1h"), Ok(3_600_000_000_000));
        assert_eq!(parse("0ns"), Ok(0));
        assert_eq!(parse("0h"), Ok(0));
    }

    #[test]
    fn fractions_are_exact_decimal() {
        assert_eq!(parse("1.5ms"), Ok(1_500_000));
        assert_eq!(parse("1.250000us"), Ok(1_250));
        assert_eq!(parse("0.1s"), Ok(100_000_000));
        assert_eq!(parse("1.5min"), Ok(90_000_000_000));
        assert_eq!(parse("0.001min"), Ok(60_000_000));
        assert_eq!(parse("0.25h"), Ok(900_000_000_000));
        assert_eq!(parse("0.00000000001h"), Ok(36));
        assert_eq!(parse("0.0000000000025h"), Ok(9));
        assert!(matches!(parse("0.000000000001h"), Err(ParseNanosError::Fraction(_))));
        assert_eq!(parse("0.000000001s"), Ok(1));
        assert_eq!(parse("007.500us"), Ok(7_500));
        assert_eq!(parse("2.0ns"), Ok(2));
        assert_eq!(parse("18446744073.709551615s"), Ok(u64::MAX));
    }

    #[test]
    fn text_around_the_number_is_trimmed() {
        assert_eq!(parse(" 5ms "), Ok(5_000_000));
        assert_eq!(parse("5 ms"), Ok(5_000_000));
    }

    #[test]
    fn a_bare_number_names_the_units() {
        assert_eq!(message("100"), "`100` needs a unit: 100ns, 100us, 100ms, 100s, 100min or 100h");
        assert_eq!(message("0"), "`0` needs a unit: 0ns, 0us, 0ms, 0s, 0min or 0h");
        assert_eq!(message("1.5"), "`1.5` needs a unit: 1.5ns, 1.5us, 1.5ms, 1.5s, 1.5min or 1.5h");
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        assert_eq!(message("-1ms"), "`-1ms` is negative; durations are at least 0");
        assert_eq!(message("-5"), "`-5` is negative; durations are at least 0");
        assert_eq!(message("5 parsecs"), "unknown unit `parsecs` in `5 parsecs` (use ns, us, ms, s, min or h)");
        assert_eq!(message("5m"), "unknown unit `m` in `5m` (use ns, us, ms, s, min or h)");
        assert_eq!(message("1e3s"), "unknown unit `e3s` in `1e3s` (use ns, us, ms, s, min or h)");
        assert_eq!(message("1.0005us"), "`1.0005us` is not a whole number of nanoseconds");
        assert_eq!(message("0.5ns"), "`0.5ns` is not a whole number of nanoseconds");
        assert_eq!(
            message("1.00000000000000000001s"),
            "`1.00000000000000000001s` is not a whole number of nanoseconds"
        );
        for malformed in ["ms", "", ".5ms", "5.ms", "1.2.3ms", "+5ms", "five ms"] {
            assert_eq!(message(malformed), format!("`{malformed}` is not a duration (like 250us, 1.5ms or 30s)"));
        }
    }

    #[test]
    fn too_long_is_an_error_not_a_wrap() {
        assert_eq!(parse("18446744073709551615ns"), Ok(u64::MAX));
        assert_eq!(
            message("18446744073709551616ns"),
            "`18446744073709551616ns` is too long (at most 18446744073709551615ns)"
        );
        assert!(matches!(parse("18446744073.709551616s"), Err(ParseNanosError::Overflow(_))));
        assert!(matches!(parse("5124096h"), Err(ParseNanosError::Overflow(_))));
        assert_eq!(parse("5124095h"), Ok(5_124_095 * 3_600_000_000_000));
        assert!(matches!(parse("99999999999999999999999999999999999s"), Err(ParseNanosError::Overflow(_))));
        assert_eq!(parse("000000000000000000000000000001s"), Ok(1_000_000_000));
    }

    #[test]
    fn prints_the_largest_exact_unit_but_never_min_or_h() {
        let print = |ns| Nanos(ns).to_string();
        assert_eq!(print(0), "0ns");
        assert_eq!(print(7), "7ns");
        assert_eq!(print(1_500), "1500ns");
        assert_eq!(print(1_500_000), "1500us");
        assert_eq!(print(5_000_000), "5ms");
        assert_eq!(print(120_000_000_000), "120s");
        assert_eq!(print(MAX_COST_NS), "3600s");
        assert_eq!(print(u64::MAX), "18446744073709551615ns");
    }

    #[test]
    fn format_ns_is_seconds_to_the_nanosecond() {
        assert_eq!(format_ns(0), "0.000000000 s");
        assert_eq!(format_ns(12_345_678_901), "12.345678901 s");
    }

    proptest! {
        #[test]
        fn parse_of_print_round_trips(ns in prop_oneof![
            any::<u64>(),
            (0..1_000_000u64, 0..=3u32).prop_map(|(v, k)| v * 1_000u64.pow(k)),
        ]) {
            prop_assert_eq!(Nanos(ns).to_string().parse::<Nanos>(), Ok(Nanos(ns)));
        }

        #[test]
        fn every_unit_round_trips_through_text(v in 0..1_000_000u64, unit in 0..UNITS.len()) {
            let (name, scale) = UNITS[unit];
            prop_assert_eq!(parse(&format!("{v}{name}")), Ok(v * scale));
        }
    }
}
