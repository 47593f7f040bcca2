//! Histogram outputs for standard tools: HdrHistogram's `.hgrm` percentile text and the tidy `histograms.csv`.
//! The `.hgrm` text is Java HdrHistogram's `outputPercentileDistribution(out, 5, unit)`, digit for digit.

use std::io::Write;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::option_columns::OptionColumns;
use crate::{OutputError, csv_rows};

/// Percentile ticks per half distance to 100%, as every `.hgrm` tool prints them.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

const HGRM_HEADER: &str = "       Value     Percentile TotalCount 1/(1-Percentile)";

/// `.hgrm` text of `h`, values divided by `unit_ns` (e.g. 1e6 for milliseconds).
/// An empty histogram gives the header, a blank line, no rows and zero footers, as the reference does.
pub fn hgrm(h: &Histogram<u64>, unit_ns: f64) -> String {
    let digits = usize::from(h.sigfig());
    let mut out = format!("{:>12} {:>14} {:>10} {:>14}\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
    for step in percentile_steps(h) {
        let value = java_fixed(step.value as f64 / unit_ns, digits);
        let quantile = step.percentile / 100.0;
        let percentile = java_fixed(quantile, 12);
        if step.percentile != 100.0 {
            let inverse = java_fixed(1.0 / (1.0 - quantile), 2);
            out.push_str(&format!("{value:>12} {percentile} {:>10} {inverse:>14}\n", step.total_count));
        } else {
            out.push_str(&format!("{value:>12} {percentile} {:>10}\n", step.total_count));
        }
    }
    let (mean, std_dev) = mean_and_std_dev(h);
    let (mean, std_dev) = (java_fixed(mean / unit_ns, digits), java_fixed(std_dev / unit_ns, digits));
    let max = java_fixed(h.max() as f64 / unit_ns, digits);
    let buckets = u64::from(h.buckets());
    // The crate keeps sub_bucket_count private; it allocates (buckets + 1) half-buckets of it.
    let sub_buckets = 2 * h.distinct_values() as u64 / (buckets + 1);
    out.push_str(&format!("#[Mean    = {mean:>12}, StdDeviation   = {std_dev:>12}]\n"));
    out.push_str(&format!("#[Max     = {max:>12}, Total count    = {:>12}]\n", h.len()));
    out.push_str(&format!("#[Buckets = {buckets:>12}, SubBuckets     = {sub_buckets:>12}]\n"));
    out
}

/// One row of the percentile iteration: a bucket's highest equivalent value at a percentile level (0..=100).
struct Step {
    value: u64,
    percentile: f64,
    total_count: u64,
}

// Java's PercentileIterator, in percent and with its float operations in its order, so the levels and the
// rows they land on are the reference's bit for bit (the crate's `iter_quantiles` iterates in quantiles and
// its rounding moves rows to the next bucket, e.g. 301 instead of 300 at 30% of 1..=1000).
fn percentile_steps(h: &Histogram<u64>) -> Vec<Step> {
    let total = h.len();
    let mut steps = Vec::new();
    let mut level = 0.0_f64;
    let mut cumulative = 0_u64;
    for bucket in h.iter_recorded() {
        cumulative += bucket.count_at_value();
        let value = bucket.value_iterated_to();
        let percent = 100.0 * cumulative as f64 / total as f64;
        // Every level reached in this bucket gets a row; in the last bucket only the first, then 100%.
        while percent >= level && level < 100.0 {
            steps.push(Step { value, percentile: level, total_count: cumulative });
            level += 100.0 / ticks_at(level);
            if cumulative == total {
                break;
            }
        }
        if cumulative == total {
            steps.push(Step { value, percentile: 100.0, total_count: cumulative });
            break;
        }
    }
    steps
}

/// Ticks in 0..100% at `level`: 5 per half distance, halving the tick each time half the rest is covered.
fn ticks_at(level: f64) -> f64 {
    // Java takes ln(x)/ln(2); log2 is exact at the powers of two the levels hit, where the two must agree.
    let halvings = (100.0 / (100.0 - level)).log2().floor();
    f64::from(TICKS_PER_HALF_DISTANCE) * (halvings + 1.0).exp2()
}

/// Mean and standard deviation as Java's `getMean`/`getStdDeviation` sum them (bucket medians, in order).
fn mean_and_std_dev(h: &Histogram<u64>) -> (f64, f64) {
    if h.is_empty() {
        return (0.0, 0.0);
    }
    let total = h.len() as f64;
    let median = |v: u64| h.median_equivalent(v) as f64;
    let sum = h.iter_recorded().fold(0.0, |sum, b| sum + median(b.value_iterated_to()) * b.count_at_value() as f64);
    let mean = sum / total;
    let squares = h.iter_recorded().fold(0.0, |sum, b| {
        let deviation = median(b.value_iterated_to()) - mean;
        sum + deviation * deviation * b.count_at_value() as f64
    });
    (mean, (squares / total).sqrt())
}

/// `x` with `decimals` digits as Java's `%.Nf` prints it: its shortest decimal form, rounded half up.
fn java_fixed(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    // Rust's Display prints the shortest round-trip digits, never an exponent, as Java's digit source does.
    let shortest = format!("{}", x.abs());
    let (int, frac) = shortest.split_once('.').unwrap_or((&shortest, ""));
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes().chain(std::iter::repeat(b'0')).take(decimals)).collect();
    if frac.as_bytes().get(decimals).is_some_and(|&d| d >= b'5') {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, b'1');
                break;
            }
            i -= 1;
            if digits[i] == b'9' {
                digits[i] = b'0';
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let (int, frac) = digits.split_at(digits.len() - decimals);
    let sign = if x < 0.0 { "-" } else { "" };
    let int = String::from_utf8_lossy(int);
    if decimals == 0 { format!("{sign}{int}") } else { format!("{sign}{int}.{}", String::from_utf8_lossy(frac)) }
}

/// The parts of an `.hgrm` a reader needs, for checking files this module wrote.
#[derive(Clone, Debug, PartialEq)]
pub struct Hgrm {
    pub rows: Vec<HgrmRow>,
    pub mean: f64,
    pub std_dev: f64,
    pub max: f64,
    pub total_count: u64,
    pub buckets: u64,
    pub sub_buckets: u64,
}

/// One percentile row: the value (in the file's unit), the percentile level as a quantile (0..=1), the count.
#[derive(Clone, Debug, PartialEq)]
pub struct HgrmRow {
    pub value: f64,
    pub percentile: f64,
    pub total_count: u64,
}

impl Hgrm {
    /// The value at a percentile (0..=100) as a `.hgrm` reader would take it: the first row at or above.
    /// 0.0 for a file without rows; rows sit at the reference's ticks (99% falls on the 99.0625% row).
    pub fn value_at_percentile(&self, percentile: f64) -> f64 {
        let quantile = percentile.clamp(0.0, 100.0) / 100.0;
        self.rows.iter().find(|r| r.percentile >= quantile).map_or(0.0, |r| r.value)
    }
}

/// Parses `.hgrm` text strictly: the exact header, a blank line, rows from 0% to 100%, the three footers.
pub fn parse_hgrm(text: &str) -> Result<Hgrm, String> {
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    match lines.next() {
        Some((_, line)) if line == HGRM_HEADER => {}
        _ => return Err("line 1: not the .hgrm header".into()),
    }
    match lines.next() {
        Some((_, "")) => {}
        _ => return Err("line 2: not blank".into()),
    }
    let mut rows: Vec<HgrmRow> = Vec::new();
    let (n, mean_line) = loop {
        let (n, line) = lines.next().ok_or("missing the #[Mean footer")?;
        if line.starts_with("#[") {
            break (n, line);
        }
        if rows.last().is_some_and(|r| r.percentile == 1.0) {
            return Err(format!("line {n}: row after the 100% row"));
        }
        rows.push(parse_row(n, line, rows.last())?);
    };
    let [mean, std_dev] = footer(n, mean_line, ["Mean", "StdDeviation"])?;
    let (mean, std_dev) = (number(n, mean)?, number(n, std_dev)?);
    let (n, line) = lines.next().ok_or("missing the #[Max footer")?;
    let [max, total_count] = footer(n, line, ["Max", "Total count"])?;
    let (max, total_count) = (number(n, max)?, number(n, total_count)?);
    let (n, line) = lines.next().ok_or("missing the #[Buckets footer")?;
    let [buckets, sub_buckets] = footer(n, line, ["Buckets", "SubBuckets"])?;
    let (buckets, sub_buckets) = (number(n, buckets)?, number(n, sub_buckets)?);
    if let Some((n, _)) = lines.next() {
        return Err(format!("line {n}: text after the #[Buckets footer"));
    }
    let hgrm = Hgrm { rows, mean, std_dev, max, total_count, buckets, sub_buckets };
    match hgrm.rows.last() {
        None if hgrm.total_count == 0 => {}
        Some(last) if last.percentile == 1.0 && last.total_count == hgrm.total_count && last.value == hgrm.max => {}
        _ => return Err("rows do not end at the 100% row with the footers' max and total count".into()),
    }
    Ok(hgrm)
}

fn number<T: std::str::FromStr>(line: usize, field: &str) -> Result<T, String> {
    field.parse().map_err(|_| format!("line {line}: {field:?} is not a number"))
}

/// A row: value, percentile, total count and 1/(1-p), which only the 100% row leaves out; from 0%, non-decreasing.
fn parse_row(n: usize, line: &str, previous: Option<&HgrmRow>) -> Result<HgrmRow, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (value, percentile, total_count, inverse) = match fields[..] {
        [v, p, c] => (v, p, c, None),
        [v, p, c, i] => (v, p, c, Some(i)),
        _ => return Err(format!("line {n}: not a percentile row")),
    };
    let (value, percentile, total_count) =
        (number::<f64>(n, value)?, number::<f64>(n, percentile)?, number(n, total_count)?);
    if let Some(inverse) = inverse {
        number::<f64>(n, inverse)?;
    }
    if !(0.0..=1.0).contains(&percentile) || inverse.is_none() != (percentile == 1.0) {
        return Err(format!("line {n}: percentile {percentile} with {} fields", fields.len()));
    }
    if previous.is_none() && percentile != 0.0 {
        return Err(format!("line {n}: the first row is not at percentile 0"));
    }
    if previous.is_some_and(|p| value < p.value || percentile < p.percentile || total_count < p.total_count) {
        return Err(format!("line {n}: row decreases"));
    }
    Ok(HgrmRow { value, percentile, total_count })
}

/// The two values of a `#[Key = v, Key = v]` footer line, checking the keys.
fn footer<'t>(n: usize, line: &'t str, keys: [&str; 2]) -> Result<[&'t str; 2], String> {
    let bad = || format!("line {n}: not the #[{} footer", keys[0]);
    let inner = line.strip_prefix("#[").and_then(|l| l.strip_suffix(']')).ok_or_else(bad)?;
    let (first, second) = inner.split_once(',').ok_or_else(bad)?;
    let value = |part: &'t str, key: &str| match part.split_once('=') {
        Some((k, v)) if k.trim() == key => Ok(v.trim()),
        _ => Err(bad()),
    };
    Ok([value(first, keys[0])?, value(second, keys[1])?])
}

/// One histogram to write to `histograms.csv`: what it measures (of which lock class, for lock
/// waits and holds), under which scheme and options, on how many CPUs.
#[derive(Clone, Copy)]
pub struct HistogramRow<'a> {
    /// `cpu_down_ns`, `wait_ns`, `deadlocks_per_run`: the name ends in its unit (`_ns`) or is a count.
    pub metric: &'a str,
    /// The lock class of a `wait_ns` or `hold_ns` histogram; empty for the others.
    pub class: &'a str,
    pub scheme: &'a str,
    pub variant: &'a str,
    pub cpus: u32,
    pub histogram: &'a Histogram<u64>,
}

/// The unit of a metric's values: `ns` when its name says so, else `count`.
pub fn metric_unit(metric: &str) -> &'static str {
    if metric.ends_with("_ns") { "ns" } else { "count" }
}

/// One `histograms.csv` row: a recorded bucket of a histogram, its highest equivalent value
/// (in `unit`) and its count.
#[derive(Default, Serialize)]
struct HistogramsCsvRow<'a> {
    metric: &'a str,
    class: &'a str,
    scheme: &'a str,
    variant: &'a str,
    cpus: u32,
    unit: &'a str,
    value: u64,
    count: u64,
}

/// Writes `rows` in order, each histogram's recorded buckets ascending; an empty histogram
/// writes no rows. Each option of the variants has a column of its own after `variant`.
pub fn write_histograms_csv<W: Write>(out: W, rows: &[HistogramRow<'_>]) -> Result<(), OutputError> {
    let options = OptionColumns::of(rows.iter().map(|r| r.variant), &csv_rows::header::<HistogramsCsvRow>());
    let buckets = rows.iter().flat_map(|row| {
        row.histogram.iter_recorded().map(|bucket| {
            let csv_row = HistogramsCsvRow {
                metric: row.metric,
                class: row.class,
                scheme: row.scheme,
                variant: row.variant,
                cpus: row.cpus,
                unit: metric_unit(row.metric),
                value: bucket.value_iterated_to(),
                count: bucket.count_at_value(),
            };
            (csv_row, row.variant)
        })
    });
    crate::option_columns::write(out, "histograms.csv", options, buckets)
}

/// The value at `quantile` (0..=1) computed from histograms.csv rows of one histogram the way a
/// plotting script would (first value whose cumulative count reaches quantile × total). A
/// product within rounding of a whole count is that count: 0.55 × 420 is 231, not the
/// 231.00000000000003 of floating point, as the `.hgrm`'s percentile rows have it.
pub fn csv_quantile(values_and_counts: &[(u64, u64)], quantile: f64) -> u64 {
    let total: u64 = values_and_counts.iter().map(|&(_, count)| count).sum();
    let exact = quantile.clamp(0.0, 1.0) * total as f64;
    let whole = exact.round();
    let target = if (exact - whole).abs() <= 1e-9 * whole.max(1.0) { whole } else { exact.ceil() }.max(1.0);
    let mut cumulative = 0_u64;
    for &(value, count) in values_and_counts {
        cumulative += count;
        if cumulative as f64 >= target {
            return value;
        }
    }
    values_and_counts.last().map_or(0, |&(value, _)| value)
}

/// Longest scheme label kept whole in a `.hgrm` name; file systems allow 255 bytes a name.
const MAX_NAME_LABEL: usize = 100;

/// A stable file name for a histogram's `.hgrm`: `{metric}.{scheme}.{cpus}.hgrm`, with characters
/// outside [A-Za-z0-9._-] replaced by `_` (lock classes contain `->`). A label longer than
/// [`MAX_NAME_LABEL`] (a sweep with many `--set` keys) is cut there and followed by `~` and a
/// 64-bit FNV-1a hash of the whole label, so names stay short, distinct and stable.
/// A histogram's `.hgrm` file name: the metric with the unit of the file's values
/// (`cpu_down_us`, `wait_us:CLASS`; counts keep their name), the group's label and CPUs.
pub fn hgrm_name(metric: &str, class: &str, label: &str, cpus: u32) -> String {
    let metric = match metric.strip_suffix("_ns") {
        Some(stem) => format!("{stem}_us"),
        None => metric.to_string(),
    };
    let metric = if class.is_empty() { metric } else { format!("{metric}:{class}") };
    hgrm_file_name(&metric, label, cpus)
}

pub fn hgrm_file_name(metric: &str, scheme: &str, cpus: u32) -> String {
    let safe = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect()
    };
    let mut label = safe(scheme);
    if label.len() > MAX_NAME_LABEL {
        let hash = crate::fnv1a(crate::FNV_OFFSET, scheme.as_bytes());
        label.truncate(MAX_NAME_LABEL);
        label = format!("{label}~{hash:016x}");
    }
    format!("{}.{label}.{cpus}.hgrm", safe(metric))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::lockstat::new_histogram;

    /// The first reference tick at or above 99%: a `.hgrm` has no 99% row, so readers take this one.
    const P99_TICK: f64 = 0.990625;

    fn histogram(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = new_histogram();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    /// One histogram's `histograms.csv` buckets, written and read back as a plotting script reads them.
    fn csv_buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
        let mut buf = Vec::new();
        let row = HistogramRow {
            metric: "wait_ns",
            class: "pmus_lock",
            scheme: "legacy",
            variant: "",
            cpus: 4,
            histogram: h,
        };
        write_histograms_csv(&mut buf, &[row]).unwrap();
        let mut reader = csv::Reader::from_reader(&buf[..]);
        let header = ["metric", "class", "scheme", "variant", "cpus", "unit", "value", "count"];
        assert_eq!(reader.headers().unwrap(), header.to_vec());
        reader.records().map(|r| r.unwrap()).map(|r| (r[6].parse().unwrap(), r[7].parse().unwrap())).collect()
    }

    /// `ns` in `unit_ns` as the file prints it, read back.
    fn printed(ns: u64, unit_ns: f64) -> f64 {
        java_fixed(ns as f64 / unit_ns, 3).parse().unwrap()
    }

    /// The file, the histogram and histograms.csv agree on count, mean, max, p50, p99 and p100.
    fn check_agreement(h: &Histogram<u64>) {
        let buckets = csv_buckets(h);
        assert_eq!(buckets.iter().map(|&(_, count)| count).sum::<u64>(), h.len());
        for unit_ns in [1.0, 1e3, 1e6] {
            let file = parse_hgrm(&hgrm(h, unit_ns)).unwrap();
            assert_eq!(file.total_count, h.len());
            assert_eq!(file.max, printed(h.max(), unit_ns));
            assert!((file.mean - h.mean() / unit_ns).abs() <= 0.0005 + 1e-12 * h.mean(), "{} {}", file.mean, h.mean());
            if h.is_empty() {
                assert!(file.rows.is_empty());
                assert_eq!(file.value_at_percentile(50.0), 0.0);
                continue;
            }
            // 50% is a reference tick: all three views give the same bucket.
            let p50 = h.value_at_quantile(0.5);
            assert_eq!(file.value_at_percentile(50.0), printed(p50, unit_ns));
            assert_eq!(csv_quantile(&buckets, 0.5), p50);
            // 99% is not a tick: the file gives the 99.0625% row, which the histogram and the CSV give too.
            let p99_tick = h.value_at_quantile(P99_TICK);
            assert_eq!(file.value_at_percentile(99.0), printed(p99_tick, unit_ns));
            assert_eq!(csv_quantile(&buckets, P99_TICK), p99_tick);
            assert_eq!(csv_quantile(&buckets, 0.99), h.value_at_quantile(0.99));
            assert!(h.value_at_quantile(0.99) <= p99_tick);
            assert_eq!(file.value_at_percentile(100.0), printed(h.max(), unit_ns));
            assert_eq!(csv_quantile(&buckets, 1.0), h.max());
        }
    }

    #[test]
    fn one_to_thousand_agrees_and_rows_sit_where_java_puts_them() {
        let h = histogram(1..=1000);
        check_agreement(&h);
        let file = parse_hgrm(&hgrm(&h, 1.0)).unwrap();
        // Java's percent arithmetic reaches 30% at 300; the crate's quantile iterator would say 301.
        let row = |p: f64| file.rows.iter().find(|r| r.percentile == p).unwrap().clone();
        assert_eq!(row(0.3), HgrmRow { value: 300.0, percentile: 0.3, total_count: 300 });
        assert_eq!(row(0.990625), HgrmRow { value: 991.0, percentile: 0.990625, total_count: 991 });
        // So a reader's p99 is the 99.0625% row's 991, one past the histogram's p99 of 990.
        assert_eq!((file.value_at_percentile(99.0), h.value_at_quantile(0.99)), (991.0, 990));
        assert_eq!(file.rows.len(), 52);
        assert_eq!((file.mean, file.std_dev, file.max), (500.5, 288.675, 1000.0));
        assert_eq!((file.buckets, file.sub_buckets), (1, 2048));
    }

    #[test]
    fn bimodal_set_agrees() {
        let h = histogram((0..900).map(|i| 100 + i % 101).chain((0..100).map(|i| 50_000 + 37 * i)));
        check_agreement(&h);
        assert!(h.value_at_quantile(0.5) < 300 && h.value_at_quantile(0.99) > 50_000);
    }

    #[test]
    fn single_value_agrees_and_has_the_zero_and_hundred_rows() {
        let h = histogram([12_345]);
        check_agreement(&h);
        let file = parse_hgrm(&hgrm(&h, 1.0)).unwrap();
        let percentiles: Vec<f64> = file.rows.iter().map(|r| r.percentile).collect();
        assert_eq!(percentiles, [0.0, 1.0]);
        assert_eq!(file.max, 12_351.0);
    }

    #[test]
    fn values_from_one_ns_to_ten_seconds_agree() {
        let mut values = Vec::new();
        let mut v = 1_u64;
        while v <= 10_000_000_000 {
            values.push(v);
            v = v * 137 / 100 + 1;
        }
        values.push(10_000_000_000);
        let h = histogram(values);
        check_agreement(&h);
        let file = parse_hgrm(&hgrm(&h, 1e6)).unwrap();
        assert_eq!(file.max, 10_007.609);
        assert_eq!(file.buckets, 24);
    }

    #[test]
    fn empty_histogram_gives_header_and_zero_footers() {
        let h = new_histogram();
        check_agreement(&h);
        assert!(csv_buckets(&h).is_empty());
        assert_eq!(
            hgrm(&h, 1e3),
            "       Value     Percentile TotalCount 1/(1-Percentile)\n\n\
             #[Mean    =        0.000, StdDeviation   =        0.000]\n\
             #[Max     =        0.000, Total count    =            0]\n\
             #[Buckets =            1, SubBuckets     =         2048]\n"
        );
        assert_eq!(csv_quantile(&[], 0.5), 0);
    }

    #[test]
    fn golden_small_histogram_in_microseconds() {
        // Byte for byte what Java HdrHistogram 2.1.11's outputPercentileDistribution(out, 5, 1000.0) prints.
        // By hand: 10 values; mean (1+2+2+3+5+8+13+21+3001+3001)/10 = 605.7 ns, 3000's bucket median being 3001.
        let h = histogram([1, 2, 2, 3, 5, 8, 13, 21, 3000, 3000]);
        let expected = "       Value     Percentile TotalCount 1/(1-Percentile)

       0.001 0.000000000000          1           1.00
       0.001 0.100000000000          1           1.11
       0.002 0.200000000000          3           1.25
       0.002 0.300000000000          3           1.43
       0.003 0.400000000000          4           1.67
       0.005 0.500000000000          5           2.00
       0.008 0.550000000000          6           2.22
       0.008 0.600000000000          6           2.50
       0.013 0.650000000000          7           2.86
       0.013 0.700000000000          7           3.33
       0.021 0.750000000000          8           4.00
       0.021 0.775000000000          8           4.44
       0.021 0.800000000000          8           5.00
       3.001 0.825000000000         10           5.71
       3.001 1.000000000000         10
#[Mean    =        0.606, StdDeviation   =        1.198]
#[Max     =        3.001, Total count    =           10]
#[Buckets =            2, SubBuckets     =         2048]
";
        assert_eq!(hgrm(&h, 1e3), expected);
        check_agreement(&h);
    }

    #[test]
    fn numbers_round_half_up_on_their_shortest_digits_as_java_does() {
        assert_eq!(java_fixed(0.9997802734375, 12), "0.999780273438");
        assert_eq!(java_fixed(0.0015, 3), "0.002");
        assert_eq!(java_fixed(0.125, 2), "0.13");
        assert_eq!(java_fixed(9.9996, 3), "10.000");
        assert_eq!(java_fixed(1e-7, 3), "0.000");
        assert_eq!(java_fixed(1234.0, 3), "1234.000");
        assert_eq!(java_fixed(2.5, 0), "3");
        assert_eq!(java_fixed(f64::INFINITY, 2), "Infinity");
    }

    /// SplitMix64: a seeded generator, so the random cases are the same on every run.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    // A property test over random value sets (the analysis crate has no proptest dev-dependency).
    #[test]
    fn random_value_sets_agree_on_p50_p99_and_max() {
        let mut rng = Rng(0x5eed);
        for case in 0..300 {
            let len = 1 + rng.below([3, 30, 400, 3000][case % 4]);
            let mut h = new_histogram();
            for _ in 0..len {
                let value = match rng.below(3) {
                    0 => rng.below(5_000),
                    1 => 10_f64.powf(rng.below(10_000) as f64 / 1_000.0) as u64,
                    _ => 1_000_000 + 500 * rng.below(100),
                };
                h.record_n(value, 1 + rng.below(4).pow(3)).unwrap();
            }
            check_agreement(&h);
        }
    }

    #[test]
    fn parse_hgrm_rejects_malformed_text() {
        let good = hgrm(&histogram([1, 2, 3, 1000]), 1.0);
        assert!(parse_hgrm(&good).is_ok());
        let lines: Vec<&str> = good.lines().collect();
        let without = |i: usize| lines.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, l)| *l).collect::<Vec<_>>();
        let bad: Vec<String> = vec![
            good.replacen("Percentile", "Quantile", 1),
            without(1).join("\n"),
            without(2).join("\n"),
            without(lines.len() - 4).join("\n"),
            without(lines.len() - 1).join("\n"),
            format!("{good}extra\n"),
            good.replacen("1.000000000000          4", "1.000000000000          4 inf", 1),
            good.replacen("           1.00\n", "\n", 1),
            good.replacen("Total count    =            4", "Total count    =            5", 1),
            good.replacen("#[Mean    =", "#[Average =", 1),
            good.replacen("2.000 0.500000000000", "0.500 0.500000000000", 1),
            String::new(),
        ];
        for text in bad {
            assert!(parse_hgrm(&text).is_err(), "accepted:\n{text}");
        }
    }

    #[test]
    fn histograms_csv_has_one_row_per_recorded_bucket_in_the_given_order() {
        let wait = histogram([5, 3000, 3001, 5]);
        let hold = histogram([7]);
        let empty = new_histogram();
        let mut buf = Vec::new();
        let rows = [
            HistogramRow {
                metric: "wait_ns",
                class: "",
                scheme: "percpu",
                variant: "hz=300",
                cpus: 64,
                histogram: &wait,
            },
            HistogramRow { metric: "hold_ns", class: "", scheme: "legacy", variant: "", cpus: 2, histogram: &empty },
            HistogramRow {
                metric: "hold_ns",
                class: "cpu_hotplug_lock",
                scheme: "legacy",
                variant: "",
                cpus: 2,
                histogram: &hold,
            },
            HistogramRow {
                metric: "deadlocks_per_run",
                class: "",
                scheme: "legacy",
                variant: "kernel=4.15",
                cpus: 2,
                histogram: &hold,
            },
        ];
        write_histograms_csv(&mut buf, &rows).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "metric,class,scheme,variant,hz,kernel,cpus,unit,value,count\n\
             wait_ns,,percpu,hz=300,300,,64,ns,5,2\n\
             wait_ns,,percpu,hz=300,300,,64,ns,3001,2\n\
             hold_ns,cpu_hotplug_lock,legacy,,,,2,ns,7,1\n\
             deadlocks_per_run,,legacy,kernel=4.15,,4.15,2,count,7,1\n"
        );
        assert_eq!(csv_quantile(&[(5, 2), (3001, 2)], 0.5), 5);
        assert_eq!(csv_quantile(&[(5, 2), (3001, 2)], 0.51), 3001);
        // 0.55 × 420 is 231.00000000000003 in floating point; the 231st value is the answer.
        assert_eq!(csv_quantile(&[(2851, 223), (11087, 8), (11607, 189)], 0.55), 11087);
        assert_eq!(csv_quantile(&[(5, 2), (3001, 2)], 0.0), 5);
    }

    #[test]
    fn hgrm_file_names_are_stable_and_safe() {
        assert_eq!(hgrm_file_name("wait_ns", "percpu-rwsem", 64), "wait_ns.percpu-rwsem.64.hgrm");
        let long =
            |v: u32| format!("legacy {}", (0..30).map(|i| format!("openers.key{i}={v}")).collect::<Vec<_>>().join(" "));
        let (a, b) = (
            hgrm_file_name("hold_ns:cpu_hotplug_lock", &long(1), 4096),
            hgrm_file_name("hold_ns:cpu_hotplug_lock", &long(2), 4096),
        );
        assert!(a.len() < 160 && b.len() < 160 && a != b, "{a} {b}");
        assert!(a.starts_with("hold_ns_cpu_hotplug_lock.legacy_openers.key0_1_") && a.ends_with(".4096.hgrm"), "{a}");
        assert_eq!(a, hgrm_file_name("hold_ns:cpu_hotplug_lock", &long(1), 4096), "stable");
        assert_eq!(
            hgrm_file_name("hold_ns:cpu_hotplug_lock->pmus_lock", "legacy v2/ä", 4),
            "hold_ns_cpu_hotplug_lock-_pmus_lock.legacy_v2__.4.hgrm"
        );
    }

    #[test]
    fn output_is_deterministic_and_independent_of_recording_order() {
        let values: Vec<u64> = (0..5_000).map(|i| (i * 7919) % 100_003).collect();
        let forward = histogram(values.iter().copied());
        let backward = histogram(values.iter().rev().copied());
        assert_eq!(hgrm(&forward, 1e3), hgrm(&backward, 1e3));
        assert_eq!(hgrm(&forward, 1e3), hgrm(&forward, 1e3));
        assert_eq!(csv_buckets(&forward), csv_buckets(&backward));
    }
}
