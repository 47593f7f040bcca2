//! Durations as users write them: `250ns`, `3us`, `1.5ms`, `30s`, `2min`; a bare integer is ns.

/// Parses a non-negative duration into nanoseconds, or says what is wrong with it.
pub fn parse_duration_ns(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: f64 = match unit.trim() {
        "" | "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "min" => 60e9,
        other => return Err(format!("unknown unit `{other}` (use ns, us, ms, s or min)")),
    };
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a duration (like 250us, 1.5ms, 30s)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{text}` is negative; durations are at least 0"));
    }
    let ns = value * scale;
    if ns > u64::MAX as f64 / 2.0 {
        return Err(format!("`{text}` is too long"));
    }
    Ok(ns.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_exactly() {
        assert_eq!(parse_duration_ns("250ns"), Ok(250));
        assert_eq!(parse_duration_ns("3us"), Ok(3_000));
        assert_eq!(parse_duration_ns("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_duration_ns("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration_ns("2min"), Ok(120_000_000_000));
        assert_eq!(parse_duration_ns("42"), Ok(42));
        assert_eq!(parse_duration_ns("0"), Ok(0));
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration_ns("-1ms").unwrap_err().contains("negative"));
        assert!(parse_duration_ns("5 parsecs").unwrap_err().contains("unit"));
        assert!(parse_duration_ns("ms").unwrap_err().contains("not a duration"));
        assert!(parse_duration_ns("1e30s").is_err());
    }
}
