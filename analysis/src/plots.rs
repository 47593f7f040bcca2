//! SVG figures for reports and patch cover letters: CDFs, grouped bars, lines with and without error bars.
//!
//! Drawn with plotters' pure-Rust SVG backend: text is emitted as SVG `<text>`, so no font library is needed.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One line of points, labelled (one per scheme).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// A point with a confidence interval on y.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalPoint {
    pub x: f64,
    pub y: f64,
    pub low: f64,
    pub high: f64,
}

/// A labelled line of points with confidence intervals (one per scheme).
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalSeries {
    pub label: String,
    pub points: Vec<IntervalPoint>,
}

/// Why a figure could not be drawn; bad numbers are skipped, so only these two remain.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("cannot draw the figure: {0}")]
    Draw(String),
    #[error("inconsistent plot data: {0}")]
    Shape(String),
}

impl From<DrawingAreaErrorKind<std::io::Error>> for PlotError {
    fn from(e: DrawingAreaErrorKind<std::io::Error>) -> PlotError {
        PlotError::Draw(e.to_string())
    }
}

/// Empirical CDFs (x = value, y = cumulative fraction 0..=1), one line per series.
pub fn cdf(title: &str, x_label: &str, series: &[Series], log_x: bool) -> Result<String, PlotError> {
    let x = Axis::fit(log_x, series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), false);
    let ys = series.iter().flat_map(|s| s.points.iter().filter(|p| x.to_plot(p.0).is_some()).map(|p| p.1));
    let y = Axis::fraction(ys);
    let frame = Frame::new(
        title,
        x_label,
        "cumulative fraction",
        x,
        y,
        legend(series.iter().map(|s| (&s.label, Swatch::Line))),
    );
    frame.render(|frame, to_px, root| {
        for (i, s) in series.iter().enumerate() {
            let mut pts: Vec<(f64, f64)> =
                s.points.iter().filter_map(|&(px, py)| Some((frame.x.to_plot(px)?, frame.y.to_plot(py)?))).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let mut steps = Vec::with_capacity(pts.len() * 2);
            for (j, &p) in pts.iter().enumerate() {
                if j > 0 {
                    steps.push((p.0, pts[j - 1].1));
                }
                steps.push(p);
            }
            draw_polyline(root, &pixels(to_px, &steps), colour(i))?;
            if pts.len() == 1 {
                draw_marker(root, to_px(pts[0]), i)?;
            }
        }
        Ok(())
    })
}

/// Grouped vertical bars: one group per category (e.g. lock class), one bar per series (e.g. scheme) within it;
/// `values[s][c]` is series s, category c. Missing values are NaN; a ragged `values` is a `Shape` error.
pub fn grouped_bars(
    title: &str,
    y_label: &str,
    categories: &[String],
    series_labels: &[String],
    values: &[Vec<f64>],
    log_y: bool,
) -> Result<String, PlotError> {
    if values.len() != series_labels.len() {
        return Err(PlotError::Shape(format!(
            "{} series labels but {} rows of values",
            series_labels.len(),
            values.len()
        )));
    }
    if let Some((s, row)) = values.iter().enumerate().find(|(_, row)| row.len() != categories.len()) {
        return Err(PlotError::Shape(format!(
            "series {s} has {} values for {} categories",
            row.len(),
            categories.len()
        )));
    }
    let n_cat = categories.len().max(1);
    let x = Axis::categories(n_cat);
    let y = Axis::fit(log_y, values.iter().flatten().copied(), true);
    let mut frame = Frame::new(title, "", y_label, x, y, legend(series_labels.iter().map(|l| (l, Swatch::Bar))));
    let names: Vec<String> = categories.iter().map(|c| truncate(&clean(c), MAX_CATEGORY_CHARS)).collect();
    let widest = names.iter().map(|c| text_width(c, TICK_FONT)).fold(0.0, f64::max);
    let slot = frame.plot_width() / n_cat as f64;
    let rotate = widest > slot * 0.95;
    if rotate {
        frame.x_area = (widest + 24.0).ceil() as u32;
    }
    frame.render(|frame, to_px, root| {
        let n_series = series_labels.len().max(1) as f64;
        let bar = 0.8 / n_series;
        let base = if frame.y.log { frame.y.lo } else { 0.0 };
        for (s, row) in values.iter().enumerate() {
            for (c, &v) in row.iter().enumerate() {
                let Some(v) = frame.y.to_plot(v) else { continue };
                let x0 = c as f64 + 0.1 + s as f64 * bar;
                let (a, b) = (to_px((x0, base)), to_px((x0 + bar, v)));
                let rect = [(a.0, a.1.min(b.1)), ((b.0 - 1).max(a.0 + 1), a.1.max(b.1))];
                root.draw(&Rectangle::new(rect, colour(s).filled()))?;
            }
        }
        let bottom = to_px((0.0, frame.y.lo)).1;
        let step = if rotate { ((LINE_HEIGHT / (slot.max(1.0))).ceil() as usize).max(1) } else { 1 };
        for c in 1..n_cat {
            let sep = to_px((c as f64, frame.y.lo)).0;
            root.draw(&PathElement::new(vec![(sep, bottom), (sep, bottom + 6)], BLACK.mix(0.8)))?;
        }
        for (c, name) in names.iter().enumerate().step_by(step) {
            let cx = to_px((c as f64 + 0.5, frame.y.lo)).0;
            let style = font(TICK_FONT);
            if rotate {
                let style = style.transform(FontTransform::Rotate270).pos(Pos::new(HPos::Right, VPos::Center));
                root.draw(&Text::new(name.clone(), (cx, bottom + 10), style))?;
            } else {
                root.draw(&Text::new(name.clone(), (cx, bottom + 10), style.pos(Pos::new(HPos::Center, VPos::Top))))?;
            }
        }
        Ok(())
    })
}

/// Lines with error bars (x = CPUs, y = e.g. deadlock rate with its confidence interval).
/// Points whose y is unusable are skipped; an interval end at or below zero on a log axis is cut at the axis.
pub fn lines_with_intervals(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[IntervalSeries],
    log_x: bool,
    log_y: bool,
) -> Result<String, PlotError> {
    let x = Axis::fit(log_x, series.iter().flat_map(|s| s.points.iter().map(|p| p.x)), false);
    let ys = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| x.to_plot(p.x).is_some() && to_plot(log_y, p.y).is_some())
        .flat_map(|p| [p.y, p.low, p.high]);
    let y = Axis::fit(log_y, ys, false);
    let entries = legend(series.iter().map(|s| (&s.label, line_swatch(s.points.len()))));
    let frame = Frame::new(title, x_label, y_label, x, y, entries);
    frame.render(|frame, to_px, root| {
        for (i, s) in series.iter().enumerate() {
            let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.x, p.y)).collect();
            draw_line_series(frame, to_px, root, &pts, i)?;
            for p in &s.points {
                let (Some(px), Some(_)) = (frame.x.to_plot(p.x), frame.y.to_plot(p.y)) else { continue };
                if !p.low.is_finite() || !p.high.is_finite() {
                    continue;
                }
                let (low, high) = if p.low <= p.high { (p.low, p.high) } else { (p.high, p.low) };
                let Some(top) = frame.y.to_plot(high) else { continue };
                let bottom = frame.y.to_plot(low);
                let a = to_px((px, bottom.unwrap_or(frame.y.lo)));
                let b = to_px((px, top));
                let style = colour(i).stroke_width(2);
                root.draw(&PathElement::new(vec![a, b], style))?;
                root.draw(&PathElement::new(vec![(b.0 - 5, b.1), (b.0 + 5, b.1)], style))?;
                if bottom.is_some() {
                    root.draw(&PathElement::new(vec![(a.0 - 5, a.1), (a.0 + 5, a.1)], style))?;
                }
            }
        }
        Ok(())
    })
}

/// Plain lines (e.g. p99 latency vs CPUs, wall time vs CPUs); points are joined in x order.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
    log_y: bool,
) -> Result<String, PlotError> {
    let x = Axis::fit(log_x, series.iter().flat_map(|s| s.points.iter().map(|p| p.0)), false);
    let ys = series.iter().flat_map(|s| s.points.iter()).filter(|p| x.to_plot(p.0).is_some()).map(|p| p.1);
    let y = Axis::fit(log_y, ys, false);
    let entries = legend(series.iter().map(|s| (&s.label, line_swatch(s.points.len()))));
    let frame = Frame::new(title, x_label, y_label, x, y, entries);
    frame.render(|frame, to_px, root| {
        for (i, s) in series.iter().enumerate() {
            draw_line_series(frame, to_px, root, &s.points, i)?;
        }
        Ok(())
    })
}

/// Wall time vs CPUs on log-log axes, with O(n) and O(n log n) lines through the smallest size
/// (`points` are `(cpus, wall s)`): a cost growing faster than n log n climbs away from both.
pub fn wall_time_vs_cpus(title: &str, points: &[(f64, f64)]) -> Result<String, PlotError> {
    let mut measured: Vec<(f64, f64)> = points.iter().copied().filter(|&(n, t)| n >= 1.0 && t > 0.0).collect();
    measured.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n_log_n = |n: f64| n * n.log2().max(1.0);
    let mut series = vec![Series { label: "measured (median)".into(), points: measured.clone() }];
    if let Some(&(n0, t0)) = measured.first() {
        let through = |f: &dyn Fn(f64) -> f64| measured.iter().map(|&(n, _)| (n, t0 * f(n) / f(n0))).collect();
        series.push(Series { label: "O(n) from the smallest size".into(), points: through(&|n| n) });
        series.push(Series { label: "O(n log n) from the smallest size".into(), points: through(&n_log_n) });
    }
    lines(title, "CPUs", "wall time (s)", &series, true, true)
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 560;
/// Font sizes in plotters units; the SVG backend writes `font-size` as this divided by 1.24.
const TITLE_FONT: f64 = 24.0;
const DESC_FONT: f64 = 19.0;
const TICK_FONT: f64 = 16.0;
const LEGEND_FONT: f64 = 17.0;
const LINE_HEIGHT: f64 = 16.0;
const MAX_CATEGORY_CHARS: usize = 28;
const MAX_LEGEND_CHARS: usize = 40;
/// Markers are drawn only up to this many points per series, so dense lines stay lines.
const MAX_MARKERS: usize = 100;

/// Colour-blind-friendly palette (Okabe-Ito first), stable by series index.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
    RGBColor(0x8C, 0x56, 0x4B),
    RGBColor(0x7F, 0x7F, 0x7F),
    RGBColor(0xBC, 0xBD, 0x22),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Marker shape for series `i`; it shifts every palette cycle so series 0 and 10 still differ.
fn marker_kind(i: usize) -> usize {
    (i + i / PALETTE.len()) % 5
}

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from(FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)).color(&BLACK)
}

/// Rough rendered width in pixels of `s` at plotters font size `size` (sans-serif averages ~0.56 em).
fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size / 1.24 * 0.56
}

/// Replaces control characters, which XML 1.0 cannot carry, with spaces so the SVG always parses.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { s.chars().take(max - 1).chain(['…']).collect() }
}

/// What a legend entry shows beside its label.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Swatch {
    Line,
    LineAndMarker,
    Bar,
}

#[derive(Debug, Clone)]
struct LegendEntry {
    label: String,
    swatch: Swatch,
}

fn legend<'a>(labels: impl Iterator<Item = (&'a String, Swatch)>) -> Vec<LegendEntry> {
    labels.map(|(l, swatch)| LegendEntry { label: truncate(&clean(l), MAX_LEGEND_CHARS), swatch }).collect()
}

/// Lines carry markers in the legend when their points do in the plot.
fn line_swatch(points: usize) -> Swatch {
    if points <= MAX_MARKERS { Swatch::LineAndMarker } else { Swatch::Line }
}

/// One axis in plot space (log10 of the value on a log axis) with its ticks, labels and minor grid lines.
#[derive(Debug, Clone)]
struct Axis {
    log: bool,
    /// No value was usable, so the range is a placeholder.
    empty: bool,
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    labels: Vec<String>,
    minor: Vec<f64>,
}

impl Axis {
    /// Maps a value to plot space, or `None` if it cannot be drawn (NaN, inf, or not positive on a log axis).
    fn to_plot(&self, v: f64) -> Option<f64> {
        to_plot(self.log, v)
    }

    /// Fits an axis to `values`; `zero_base` keeps 0 in a linear range so bars start there.
    fn fit(log: bool, values: impl IntoIterator<Item = f64>, zero_base: bool) -> Axis {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.into_iter().filter_map(|v| to_plot(log, v)) {
            min = min.min(v);
            max = max.max(v);
        }
        let range = (min <= max).then_some((min, max));
        let axis = if log { Axis::log(range) } else { Axis::linear(range, zero_base) };
        Axis { empty: range.is_none(), ..axis }
    }

    fn linear(range: Option<(f64, f64)>, zero_base: bool) -> Axis {
        let (mut lo, mut hi) = range.unwrap_or((0.0, 1.0));
        if zero_base {
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        if hi - lo <= lo.abs().max(hi.abs()) * 1e-12 {
            let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo, hi) = if lo == 0.0 { (0.0, 1.0) } else { (lo - d, hi + d) };
        }
        if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
            hi = lo + 1.0;
        }
        let step = nice_step((hi - lo) / 8.0);
        let (klo, khi) = ((lo / step).floor(), (hi / step).ceil());
        let (nlo, nhi) = (klo * step, khi * step);
        let pad = (nhi - nlo) * 0.02;
        let rlo = if zero_base && nlo == 0.0 { 0.0 } else { nlo - pad };
        let rhi = if zero_base && nhi == 0.0 { 0.0 } else { nhi + pad };
        if !(step.is_finite() && step > 0.0 && khi - klo <= 60.0 && rlo.is_finite() && rhi.is_finite() && rhi > rlo) {
            let labels = vec![sci(lo, 3), sci(hi, 3)];
            return Axis { log: false, empty: false, lo, hi, ticks: vec![lo, hi], labels, minor: vec![] };
        }
        let ticks: Vec<f64> = (klo as i64..=khi as i64).map(|k| k as f64 * step).collect();
        let labels = linear_labels(&ticks, step);
        Axis { log: false, empty: false, lo: rlo, hi: rhi, ticks, labels, minor: vec![] }.checked()
    }

    /// Keeps only finite ticks inside the range, so no grid line or label lands outside the plot.
    fn checked(mut self) -> Axis {
        let inside = |t: &f64| t.is_finite() && *t >= self.lo && *t <= self.hi;
        let (ticks, labels) =
            self.ticks.iter().zip(&self.labels).filter(|(t, _)| inside(t)).map(|(t, l)| (*t, l.clone())).unzip();
        self.minor.retain(inside);
        Axis { ticks, labels, ..self }
    }

    fn log(range: Option<(f64, f64)>) -> Axis {
        let (mut min, mut max) = range.unwrap_or((0.0, 1.0));
        if max - min < 1e-9 {
            min -= 0.5;
            max += 0.5;
        }
        let pad = ((max - min) * 0.04).max(0.05);
        let (lo, hi) = (min - pad, max + pad);
        let inside = |t: f64| t.is_finite() && t >= lo && t <= hi;
        let decades: Vec<i32> = (lo.ceil() as i32..=hi.floor() as i32).collect();
        let mantissas = |ms: &[u32]| -> Vec<LogTick> {
            (lo.floor() as i32..=hi.ceil() as i32)
                .flat_map(|k| ms.iter().map(move |&m| (m, k)))
                .filter(|&(m, k)| inside(log_tick(m, k)))
                .collect()
        };
        let all: Vec<u32> = (1..=9).collect();
        let (major, minor): (Vec<LogTick>, Vec<LogTick>) = if decades.len() >= 4 {
            let stride = decades.len().div_ceil(10) as i32;
            let major: Vec<LogTick> = decades.iter().filter(|k| k.rem_euclid(stride) == 0).map(|&k| (1, k)).collect();
            let minor = if stride == 1 && decades.len() <= 8 {
                mantissas(&all[1..])
            } else if decades.len() <= 60 {
                decades.iter().filter(|k| k.rem_euclid(stride) != 0).map(|&k| (1, k)).collect()
            } else {
                vec![]
            };
            (major, minor)
        } else {
            let major = [mantissas(&[1, 2, 5]), mantissas(&all)].into_iter().find(|m| m.len() >= 3);
            match major {
                Some(major) => {
                    let minor = mantissas(&all).into_iter().filter(|t| !major.contains(t)).collect();
                    (major, minor)
                }
                None => return Axis::log_fallback(lo, hi),
            }
        };
        let ticks = major.iter().map(|&(m, k)| log_tick(m, k)).collect();
        let labels = major.iter().map(|&(m, k)| log_label(m, k)).collect();
        let minor = minor.iter().map(|&(m, k)| log_tick(m, k)).collect();
        Axis { log: true, empty: false, lo, hi, ticks, labels, minor }.checked()
    }

    /// Ticks for a log axis spanning too little for 1-2-5 ticks: evenly spaced values, placed logarithmically.
    fn log_fallback(lo: f64, hi: f64) -> Axis {
        let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
        let step = nice_step((vhi - vlo) / 4.0);
        let mut ticks = vec![];
        let mut values = vec![];
        if step.is_finite() && step > 0.0 {
            let (klo, khi) = ((vlo / step).ceil(), (vhi / step).floor());
            if khi - klo <= 20.0 {
                values = (klo as i64..=khi as i64).map(|k| k as f64 * step).filter(|v| *v > 0.0).collect();
                ticks = values.iter().map(|v| v.log10()).collect();
            }
        }
        if ticks.is_empty() {
            values = vec![vlo, vhi];
            ticks = vec![lo, hi];
        }
        let labels = linear_labels(&values, step);
        Axis { log: true, empty: false, lo, hi, ticks, labels, minor: vec![] }.checked()
    }

    /// The y axis of a CDF: 0 to 1 in steps of 0.2, widened only if the data leave that range.
    fn fraction(values: impl IntoIterator<Item = f64>) -> Axis {
        let (mut min, mut max) = (0.0f64, 1.0f64);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            min = min.min(v);
            max = max.max(v);
        }
        if min < 0.0 || max > 1.0 {
            return Axis::linear(Some((min, max)), false);
        }
        let ticks: Vec<f64> = (0..=5).map(|k| f64::from(k) * 0.2).collect();
        let labels = linear_labels(&ticks, 0.2);
        Axis { log: false, empty: false, lo: -0.02, hi: 1.02, ticks, labels, minor: vec![] }
    }

    /// The x axis of grouped bars: category c occupies [c, c + 1]; its name is drawn by `grouped_bars`.
    fn categories(n: usize) -> Axis {
        let ticks: Vec<f64> = (0..n).map(|c| c as f64 + 0.5).collect();
        let labels = vec![String::new(); n];
        Axis { log: false, empty: false, lo: 0.0, hi: n as f64, ticks, labels, minor: vec![] }
    }

    fn label(&self, v: f64) -> String {
        self.ticks.iter().position(|t| *t == v).map(|i| self.labels[i].clone()).unwrap_or_default()
    }

    fn spec(&self) -> AxisCoord {
        AxisCoord { inner: (self.lo..self.hi).into(), ticks: self.ticks.clone(), minor: self.minor.clone() }
    }

    fn widest_label(&self) -> f64 {
        self.labels.iter().map(|l| text_width(l, TICK_FONT)).fold(0.0, f64::max)
    }
}

/// A plotters coordinate whose grid lines are exactly our ticks (bold) and minor ticks (light).
struct AxisCoord {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
    minor: Vec<f64>,
}

impl Ranged for AxisCoord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() { self.minor.clone() } else { self.ticks.clone() }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

fn to_plot(log: bool, v: f64) -> Option<f64> {
    match (log, v.is_finite()) {
        (_, false) => None,
        (true, true) if v > 0.0 => Some(v.log10()),
        (true, true) => None,
        (false, true) => Some(v),
    }
}

/// Smallest 1, 2 or 5 times a power of ten that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powf(raw.log10().floor());
    let frac = raw / mag;
    let m = if frac <= 1.0 {
        1.0
    } else if frac <= 2.0 {
        2.0
    } else if frac <= 5.0 {
        5.0
    } else {
        10.0
    };
    m * mag
}

/// A log-axis tick m·10^k as (m, k).
type LogTick = (u32, i32);

fn log_tick(m: u32, k: i32) -> f64 {
    f64::from(m).log10() + f64::from(k)
}

/// `m`·10^`k` as plain digits from 0.001 to 9000, else as `me`k (e.g. `2e6`).
fn log_label(m: u32, k: i32) -> String {
    match k {
        0..=3 => (u64::from(m) * 10u64.pow(k as u32)).to_string(),
        -3..=-1 => format!("{:.*}", (-k) as usize, f64::from(m) * 10f64.powi(k)),
        _ => format!("{m}e{k}"),
    }
}

/// Labels for evenly spaced ticks: fixed decimals suited to `step`, or scientific for huge or tiny values.
fn linear_labels(ticks: &[f64], step: f64) -> Vec<String> {
    let big = ticks.iter().fold(0.0f64, |a, t| a.max(t.abs()));
    let step_exp = if step.is_finite() && step > 0.0 { step.log10().floor() as i32 } else { 0 };
    let scientific = big >= 1e6 || (big > 0.0 && big < 1e-3);
    ticks
        .iter()
        .map(|&t| {
            if t.abs() <= step.abs() * 1e-9 || t == 0.0 {
                "0".to_string()
            } else if scientific {
                let digits = (t.abs().log10().floor() as i32 - step_exp).clamp(0, 15) as usize;
                sci(t, digits + 1)
            } else {
                format!("{:.*}", (-step_exp).clamp(0, 15) as usize, t)
            }
        })
        .collect()
}

/// `v` in scientific notation with `sig` significant digits and no trailing zeros, e.g. `2.5e6`.
fn sci(v: f64, sig: usize) -> String {
    let s = format!("{:.*e}", sig.saturating_sub(1), v);
    match s.split_once('e') {
        Some((mant, exp)) if mant.contains('.') => {
            format!("{}e{exp}", mant.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => s,
    }
}

type Root<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Layout shared by every figure: title on top, axes on the left and bottom, legend on the right.
struct Frame {
    title: String,
    x_label: String,
    y_label: String,
    x: Axis,
    y: Axis,
    legend: Vec<LegendEntry>,
    legend_width: u32,
    x_area: u32,
    y_area: u32,
    title_font: f64,
}

impl Frame {
    fn new(title: &str, x_label: &str, y_label: &str, x: Axis, y: Axis, legend: Vec<LegendEntry>) -> Frame {
        let title = clean(title);
        let widest = legend.iter().map(|e| text_width(&e.label, LEGEND_FONT)).fold(0.0, f64::max);
        let legend_width = if legend.is_empty() { 20 } else { (widest + 64.0).clamp(110.0, 340.0) as u32 };
        let x_area = if x_label.trim().is_empty() { 34 } else { 58 };
        let y_area = (y.widest_label() + if y_label.trim().is_empty() { 20.0 } else { 48.0 }).ceil() as u32;
        let fit = f64::from(WIDTH - 40) / (text_width(&title, TITLE_FONT) / TITLE_FONT).max(1e-9);
        let title_font = TITLE_FONT.min(fit).max(10.0);
        Frame {
            title,
            x_label: clean(x_label),
            y_label: clean(y_label),
            x,
            y,
            legend,
            legend_width,
            x_area,
            y_area,
            title_font,
        }
    }

    /// Approximate width in pixels of the plotting area, for deciding whether category names fit.
    fn plot_width(&self) -> f64 {
        f64::from(WIDTH.saturating_sub(self.legend_width + self.y_area + 25))
    }

    /// Draws title, axes, grid and legend, then lets `body` draw the data through `to_px` (plot space to pixels).
    fn render(
        &self,
        body: impl FnOnce(&Frame, &dyn Fn((f64, f64)) -> (i32, i32), &Root<'_>) -> Result<(), PlotError>,
    ) -> Result<String, PlotError> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE)?;
            let title_style = TextStyle::from(FontDesc::new(FontFamily::SansSerif, self.title_font, FontStyle::Bold));
            let inner = root.titled(&self.title, title_style.color(&BLACK))?;
            let (plot_area, _) = inner.split_horizontally(WIDTH - self.legend_width);
            let mut chart = ChartBuilder::on(&plot_area)
                .margin_top(12)
                .margin_right(18)
                .margin_left(6)
                .margin_bottom(6)
                .x_label_area_size(self.x_area)
                .y_label_area_size(self.y_area)
                .build_cartesian_2d(self.x.spec(), self.y.spec())?;
            let x_fmt = |v: &f64| self.x.label(*v);
            let y_fmt = |v: &f64| self.y.label(*v);
            let mut mesh = chart.configure_mesh();
            mesh.x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .label_style(font(TICK_FONT))
                .axis_desc_style(font(DESC_FONT))
                .bold_line_style(BLACK.mix(0.15))
                .light_line_style(BLACK.mix(0.06))
                .axis_style(BLACK.mix(0.8));
            if !self.x_label.is_empty() {
                mesh.x_desc(self.x_label.as_str());
            }
            if !self.y_label.is_empty() {
                mesh.y_desc(self.y_label.as_str());
            }
            if self.x.labels.iter().all(String::is_empty) {
                mesh.disable_x_mesh().set_tick_mark_size(LabelAreaPosition::Bottom, 0);
            }
            mesh.draw()?;
            let to_px = |p: (f64, f64)| chart.backend_coord(&p);
            let (x0, y0) = to_px((self.x.lo, self.y.hi));
            let (x1, y1) = to_px((self.x.hi, self.y.lo));
            root.draw(&PathElement::new(vec![(x0, y0), (x1, y0), (x1, y1)], BLACK.mix(0.8)))?;
            if self.x.empty || self.y.empty {
                let grey = BLACK.mix(0.5);
                let style = font(DESC_FONT).color(&grey).pos(Pos::new(HPos::Center, VPos::Center));
                root.draw(&Text::new("no data", ((x0 + x1) / 2, (y0 + y1) / 2), style))?;
            }
            body(self, &to_px, &root)?;
            self.draw_legend(&root, (x1 + 24, y0))?;
            root.present()?;
        }
        Ok(svg)
    }

    fn draw_legend(&self, root: &Root<'_>, (x, y): (i32, i32)) -> Result<(), PlotError> {
        if self.legend.is_empty() {
            return Ok(());
        }
        let avail = f64::from(HEIGHT) - f64::from(y) - 10.0;
        let row = (avail / self.legend.len() as f64).clamp(8.0, 24.0) as i32;
        let height = row * self.legend.len() as i32 + 8;
        let right = WIDTH as i32 - 8;
        root.draw(&Rectangle::new([(x - 6, y), (right, y + height)], BLACK.mix(0.3)))?;
        for (i, entry) in self.legend.iter().enumerate() {
            let cy = y + 4 + row * i as i32 + row / 2;
            if entry.swatch == Swatch::Bar {
                root.draw(&Rectangle::new([(x + 6, cy - 6), (x + 20, cy + 6)], colour(i).filled()))?;
            } else {
                root.draw(&PathElement::new(vec![(x, cy), (x + 26, cy)], colour(i).stroke_width(2)))?;
                if entry.swatch == Swatch::LineAndMarker {
                    draw_marker(root, (x + 13, cy), i)?;
                }
            }
            let style = font(LEGEND_FONT).pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(entry.label.clone(), (x + 34, cy), style))?;
        }
        Ok(())
    }
}

/// Maps plot-space points to pixels, dropping consecutive duplicates so dense CDFs stay small.
fn pixels(to_px: &dyn Fn((f64, f64)) -> (i32, i32), pts: &[(f64, f64)]) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = Vec::with_capacity(pts.len());
    for &p in pts {
        let q = to_px(p);
        if out.last() != Some(&q) {
            out.push(q);
        }
    }
    out
}

fn draw_polyline(root: &Root<'_>, px: &[(i32, i32)], c: RGBColor) -> Result<(), PlotError> {
    if px.len() >= 2 {
        root.draw(&PathElement::new(px.to_vec(), c.stroke_width(2)))?;
    }
    Ok(())
}

/// Draws points joined in x order, breaking the line where a point cannot be drawn; markers when few.
fn draw_line_series(
    frame: &Frame,
    to_px: &dyn Fn((f64, f64)) -> (i32, i32),
    root: &Root<'_>,
    points: &[(f64, f64)],
    i: usize,
) -> Result<(), PlotError> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let plotted: Vec<Option<(f64, f64)>> =
        sorted.iter().map(|&(x, y)| Some((frame.x.to_plot(x)?, frame.y.to_plot(y)?))).collect();
    for run in plotted.split(Option::is_none) {
        let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
        draw_polyline(root, &pixels(to_px, &run), colour(i))?;
    }
    let valid: Vec<(f64, f64)> = plotted.into_iter().flatten().collect();
    if valid.len() <= MAX_MARKERS {
        for p in valid {
            draw_marker(root, to_px(p), i)?;
        }
    }
    Ok(())
}

fn draw_marker(root: &Root<'_>, (x, y): (i32, i32), i: usize) -> Result<(), PlotError> {
    let fill = colour(i).filled();
    match marker_kind(i) {
        0 => root.draw(&Circle::new((x, y), 4, fill))?,
        1 => root.draw(&Rectangle::new([(x - 4, y - 4), (x + 4, y + 4)], fill))?,
        2 => root.draw(&TriangleMarker::new((x, y), 6, fill))?,
        3 => root.draw(&Polygon::new(vec![(x, y - 5), (x + 5, y), (x, y + 5), (x - 5, y)], fill))?,
        _ => root.draw(&Cross::new((x, y), 4, colour(i).stroke_width(2)))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(label: &str, points: &[(f64, f64)]) -> Series {
        Series { label: label.to_string(), points: points.to_vec() }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn hex(i: usize) -> String {
        let RGBColor(r, g, b) = colour(i);
        format!("#{r:02X}{g:02X}{b:02X}")
    }

    /// Parses `svg` and checks the root, then returns the text of every `<text>` element.
    fn parse(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).expect("well-formed XML");
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        for node in doc.descendants().filter(|n| n.is_element()) {
            let attrs = ["x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "width", "height", "points"];
            let coords = attrs.into_iter().filter_map(|a| node.attribute(a));
            for v in coords.flat_map(|v| v.split([' ', ','])).filter(|v| !v.is_empty()) {
                let v: f64 = v.parse().expect("numeric coordinate");
                assert!((-100.0..=1000.0).contains(&v), "{v} off the canvas in {node:?}");
            }
        }
        let texts = doc.descendants().filter(|n| n.has_tag_name("text"));
        texts.map(|n| n.text().unwrap_or("").trim().to_string()).collect()
    }

    /// Elements stroked or filled with series `i`'s colour (legend swatches included).
    fn drawn(svg: &str, i: usize) -> usize {
        let doc = roxmltree::Document::parse(svg).unwrap();
        let c = hex(i);
        doc.descendants().filter(|n| n.attribute("stroke") == Some(&c) || n.attribute("fill") == Some(&c)).count()
    }

    /// Title, axis labels and each series label appear once; non-empty series draw more than their legend swatch.
    fn check(svg: &str, title: &str, axes: &[&str], labels: &[&str], empty: &[usize]) {
        let texts = parse(svg);
        let count = |s: &str| texts.iter().filter(|t| t.as_str() == s).count();
        assert_eq!(count(title), 1, "title {title:?} in {texts:?}");
        for a in axes {
            assert_eq!(count(a), 1, "axis label {a:?} in {texts:?}");
        }
        for l in labels {
            assert_eq!(count(l), 1, "legend label {l:?} in {texts:?}");
        }
        let swatch = empty.first().map(|&e| drawn(svg, e));
        for i in 0..labels.len() {
            if empty.contains(&i) {
                assert!(drawn(svg, i) >= 1, "series {i} has no legend swatch");
            } else {
                assert!(drawn(svg, i) > swatch.unwrap_or(2), "series {i} drew nothing: {}", drawn(svg, i));
            }
        }
    }

    fn cdf_input() -> Vec<Series> {
        let ecdf = |scale: f64| (1..=200).map(|k| (scale * f64::from(k).powi(3), f64::from(k) / 200.0)).collect();
        vec![
            Series { label: "percpu-rwsem".into(), points: ecdf(0.01) },
            Series { label: "rcu-sync".into(), points: ecdf(1.0) },
            series("no-samples", &[]),
        ]
    }

    #[test]
    fn cdf_has_title_axes_legend_and_a_line_per_series() {
        for log_x in [false, true] {
            let svg = cdf("cpu_down latency", "cpu_down latency (ms)", &cdf_input(), log_x).unwrap();
            let axes = ["cpu_down latency (ms)", "cumulative fraction"];
            check(&svg, "cpu_down latency", &axes, &["percpu-rwsem", "rcu-sync", "no-samples"], &[2]);
            assert!(svg.contains("<polyline"));
        }
    }

    fn bars_input() -> (Vec<String>, Vec<String>, Vec<Vec<f64>>) {
        let cats = strings(&["cpu_hotplug_lock", "&cpuctx->mutex", "pmus_lock"]);
        let labels = strings(&["percpu-rwsem", "rcu-sync", "unmeasured"]);
        let values = vec![vec![10.0, 2e6, 3.0], vec![0.5, 40.0, 7e3], vec![f64::NAN; 3]];
        (cats, labels, values)
    }

    #[test]
    fn grouped_bars_have_title_axis_legend_categories_and_bars() {
        let (cats, labels, values) = bars_input();
        for log_y in [false, true] {
            let svg = grouped_bars("lock hold time", "hold time (µs)", &cats, &labels, &values, log_y).unwrap();
            check(&svg, "lock hold time", &["hold time (µs)"], &["percpu-rwsem", "rcu-sync", "unmeasured"], &[2]);
            let texts = parse(&svg);
            for c in &cats {
                assert_eq!(texts.iter().filter(|t| *t == c).count(), 1, "category {c:?}");
            }
            assert_eq!(drawn(&svg, 0), 4, "three bars and a swatch");
        }
    }

    #[test]
    fn grouped_bars_reject_ragged_values() {
        let (cats, labels, mut values) = bars_input();
        values[1].pop();
        assert!(matches!(grouped_bars("t", "y", &cats, &labels, &values, false), Err(PlotError::Shape(_))));
        assert!(matches!(grouped_bars("t", "y", &cats, &labels[..1], &values, false), Err(PlotError::Shape(_))));
    }

    fn interval_input() -> Vec<IntervalSeries> {
        let point = |x: f64, y: f64| IntervalPoint { x, y, low: y * 0.5, high: y * 2.0 };
        vec![
            IntervalSeries { label: "percpu-rwsem".into(), points: vec![point(2.0, 1e-4), point(64.0, 0.03)] },
            IntervalSeries { label: "rcu-sync".into(), points: vec![point(2.0, 0.2), point(64.0, 0.9)] },
            IntervalSeries { label: "never-deadlocks".into(), points: vec![] },
        ]
    }

    #[test]
    fn lines_with_intervals_have_title_axes_legend_lines_and_bars() {
        for (log_x, log_y) in [(false, false), (true, true)] {
            let svg = lines_with_intervals("deadlocks", "CPUs", "deadlock rate", &interval_input(), log_x, log_y);
            let svg = svg.unwrap();
            let labels = ["percpu-rwsem", "rcu-sync", "never-deadlocks"];
            check(&svg, "deadlocks", &["CPUs", "deadlock rate"], &labels, &[2]);
            // Per point: a marker, the bar and two caps; per series: one line.
            assert_eq!(drawn(&svg, 0) - drawn(&svg, 2), 1 + 2 * 4);
        }
    }

    #[test]
    fn wall_time_vs_cpus_draws_the_measurements_and_both_reference_lines() {
        let points = [(4096.0, 0.04), (64.0, 0.001), (512.0, 0.005), (65536.0, 1.2)];
        let svg = wall_time_vs_cpus("model bench", &points).unwrap();
        let labels = ["measured (median)", "O(n) from the smallest size", "O(n log n) from the smallest size"];
        check(&svg, "model bench", &["CPUs", "wall time (s)"], &labels, &[]);
        let empty = wall_time_vs_cpus("model bench", &[]).unwrap();
        check(&empty, "model bench", &["CPUs", "wall time (s)"], &labels[..1], &[0]);
    }

    #[test]
    fn lines_have_title_axes_legend_and_lines() {
        let s = vec![
            series("percpu-rwsem", &[(2.0, 1.0), (4.0, 2.5), (8.0, 6.0)]),
            series("rcu-sync", &[(8.0, 3.0), (2.0, 1.5)]),
            series("skipped", &[(f64::NAN, 1.0), (2.0, f64::INFINITY)]),
        ];
        for (log_x, log_y) in [(false, false), (true, false), (false, true), (true, true)] {
            let svg = lines("p99 latency", "CPUs", "p99 cpu_down latency (ms)", &s, log_x, log_y).unwrap();
            check(
                &svg,
                "p99 latency",
                &["CPUs", "p99 cpu_down latency (ms)"],
                &["percpu-rwsem", "rcu-sync", "skipped"],
                &[2],
            );
        }
    }

    #[test]
    fn same_input_gives_identical_svg() {
        let (cats, labels, values) = bars_input();
        let s = cdf_input();
        assert_eq!(cdf("t", "x", &s, true).unwrap(), cdf("t", "x", &s, true).unwrap());
        assert_eq!(lines("t", "x", "y", &s, true, true).unwrap(), lines("t", "x", "y", &s, true, true).unwrap());
        let b = || grouped_bars("t", "y", &cats, &labels, &values, true).unwrap();
        assert_eq!(b(), b());
        let i = || lines_with_intervals("t", "x", "y", &interval_input(), true, true).unwrap();
        assert_eq!(i(), i());
    }

    fn edge_series() -> Vec<Vec<(f64, f64)>> {
        vec![
            vec![],
            vec![(3.0, 4.0)],
            vec![(0.0, 0.0), (0.0, 0.0), (1.0, 0.0)],
            vec![(f64::NAN, 1.0), (1.0, f64::NAN), (f64::INFINITY, 2.0), (2.0, f64::NEG_INFINITY)],
            vec![(1.0, 1.0), (2.0, 1e9), (3.0, 1e4)],
            vec![(-1.0, -5.0), (0.0, 0.0), (2.0, 3.0), (3.0, -1e-9)],
            vec![(1e-300, 5e-324), (1e-299, 1e-323)],
            vec![(-f64::MAX, -f64::MAX), (f64::MAX, f64::MAX)],
            vec![(1e15, 7.0), (1e15 + 1.0, 7.0 + 1e-12)],
            (0..100_000).map(|k| (f64::from(k), f64::from(k) / 1e5)).collect(),
        ]
    }

    #[test]
    fn edge_cases_give_well_formed_svg() {
        for pts in edge_series() {
            let s = vec![series("a", &pts), series("b", &pts)];
            for (lx, ly) in [(false, false), (true, false), (false, true), (true, true)] {
                parse(&cdf("edge", "x", &s, lx).unwrap());
                parse(&lines("edge", "x", "y", &s, lx, ly).unwrap());
                let iv: Vec<IntervalPoint> =
                    pts.iter().map(|&(x, y)| IntervalPoint { x, y, low: y - 1.0, high: y * 2.0 }).collect();
                let is = vec![IntervalSeries { label: "a".into(), points: iv }];
                parse(&lines_with_intervals("edge", "x", "y", &is, lx, ly).unwrap());
                let row: Vec<f64> = pts.iter().map(|p| p.1).collect();
                let cats: Vec<String> = (0..row.len().min(200)).map(|c| format!("class-{c}")).collect();
                let values = vec![row[..cats.len()].to_vec()];
                parse(&grouped_bars("edge", "y", &cats, &strings(&["a"]), &values, ly).unwrap());
            }
        }
    }

    #[test]
    fn empty_inputs_and_odd_labels_give_well_formed_svg() {
        let odd = "ctl\u{1}<&>\"'é";
        for log in [false, true] {
            parse(&cdf("", "", &[], log).unwrap());
            parse(&lines(odd, odd, odd, &[], log, log).unwrap());
            parse(&lines_with_intervals("", "", "", &[], log, log).unwrap());
            parse(&grouped_bars("", "", &[], &[], &[], log).unwrap());
            parse(&grouped_bars(odd, odd, &strings(&[odd]), &strings(&[odd]), &[vec![1.0]], log).unwrap());
            let many: Vec<Series> = (0..30).map(|i| series(&format!("s{i}"), &[(1.0, 1.0 + i as f64)])).collect();
            parse(&lines("many", "x", "y", &many, log, log).unwrap());
            let long = "x".repeat(500);
            parse(&lines(&long, &long, &long, &[series(&long, &[(1.0, 2.0)])], log, log).unwrap());
        }
        let inverted = [IntervalPoint { x: 1.0, y: 1.0, low: 3.0, high: 0.5 }];
        let is = [IntervalSeries { label: "a".into(), points: inverted.to_vec() }];
        parse(&lines_with_intervals("t", "x", "y", &is, false, true).unwrap());
    }

    #[test]
    fn log_axis_ticks_are_decades_or_1_2_5() {
        let wide = Axis::fit(true, [1.0, 1e9], false);
        assert_eq!(wide.labels, strings(&["1", "10", "100", "1000", "1e4", "1e5", "1e6", "1e7", "1e8", "1e9"]));
        let cpus = Axis::fit(true, [2.0, 256.0], false);
        assert_eq!(cpus.labels, strings(&["2", "5", "10", "20", "50", "100", "200"]));
        let tiny = Axis::fit(true, [0.003, 0.004], false);
        assert!(tiny.labels.len() >= 2, "{:?}", tiny.labels);
        let none = Axis::fit(true, [0.0, -1.0, f64::NAN], false);
        assert!(none.empty && none.lo < none.hi);
    }

    #[test]
    fn linear_axis_labels_suit_the_step() {
        assert_eq!(
            Axis::fit(false, [0.0, 0.7], false).labels,
            strings(&["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"])
        );
        assert_eq!(
            Axis::fit(false, [0.0, 4e6], true).labels,
            strings(&["0", "5e5", "1e6", "1.5e6", "2e6", "2.5e6", "3e6", "3.5e6", "4e6"])
        );
        let flat = Axis::fit(false, [5.0, 5.0], false);
        assert!(flat.lo < 5.0 && flat.hi > 5.0);
    }
}
