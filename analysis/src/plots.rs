//! SVG figures for reports and patch cover letters: CDFs, grouped bars, lines with and without error bars,
//! on one panel or faceted (one panel per variant, the panels sharing their axes and one legend).
//!
//! Drawn with plotters' pure-Rust SVG backend: text is emitted as SVG `<text>`, so no font library is needed.
//! Each series is drawn in the style (colour, marker, dash) of its label's place in the figure's keys, so one
//! scheme looks the same in every figure and series that coincide can still be told apart.

use plotters::coord::Shift;
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

/// One series of grouped bars: a value per category (NaN where there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct BarSeries {
    pub label: String,
    pub values: Vec<f64>,
}

/// One panel of a faceted figure: its heading (e.g. the variant's options) and its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet<S> {
    pub heading: String,
    pub series: Vec<S>,
}

/// An axis's description and how it is scaled and ticked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AxisSpec<'a> {
    /// The description under or beside the axis, with its unit, e.g. "p99 cpu_down latency (ms)".
    pub label: &'a str,
    pub log: bool,
    /// Ticks exactly at the data's distinct values (e.g. the CPU counts swept), each labelled while they fit.
    pub at_data: bool,
}

impl<'a> AxisSpec<'a> {
    pub fn linear(label: &'a str) -> AxisSpec<'a> {
        AxisSpec { label, log: false, at_data: false }
    }

    pub fn log(label: &'a str) -> AxisSpec<'a> {
        AxisSpec { label, log: true, at_data: false }
    }

    /// The same axis, ticked at the data's values.
    pub fn at_data(self) -> AxisSpec<'a> {
        AxisSpec { at_data: true, ..self }
    }
}

/// A figure's title, axes and keys; its methods draw it from facets of one kind of series.
#[derive(Debug, Clone, Copy)]
pub struct Figure<'a> {
    pub title: &'a str,
    pub x: AxisSpec<'a>,
    pub y: AxisSpec<'a>,
    /// Every label a series may carry, in style order: a series labelled `keys[i]` is drawn in style `i`, so
    /// figures given the same keys draw each scheme alike. The legend lists the keys some series carries.
    pub keys: &'a [String],
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

impl Figure<'_> {
    /// Lines joining each series' points in x order, with markers when they are few.
    pub fn lines(&self, facets: &[Facet<Series>]) -> Result<String, PlotError> {
        self.render(&Body::Lines(facets))
    }

    /// Lines with a vertical bar from `low` to `high` at each point.
    pub fn lines_with_intervals(&self, facets: &[Facet<IntervalSeries>]) -> Result<String, PlotError> {
        self.render(&Body::Intervals(facets))
    }

    /// Empirical CDFs (x = value, y = cumulative fraction), drawn as steps rising from 0 at the first value.
    pub fn cdf(&self, facets: &[Facet<Series>]) -> Result<String, PlotError> {
        self.render(&Body::Cdf(facets))
    }

    /// One group of bars per category, one bar per series within it; every series needs a value per category.
    pub fn grouped_bars(&self, categories: &[String], facets: &[Facet<BarSeries>]) -> Result<String, PlotError> {
        for (f, s) in facets.iter().flat_map(|f| f.series.iter().map(move |s| (f, s))) {
            if s.values.len() != categories.len() {
                return Err(PlotError::Shape(format!(
                    "series {:?} of panel {:?} has {} values for {} categories",
                    s.label,
                    f.heading,
                    s.values.len(),
                    categories.len()
                )));
            }
        }
        self.render(&Body::Bars(categories, facets))
    }
}

/// Empirical CDFs (x = value, y = cumulative fraction 0..=1), one line per series, on one panel.
pub fn cdf(title: &str, x_label: &str, series: &[Series], log_x: bool) -> Result<String, PlotError> {
    let keys = keys_of(series.iter().map(|s| &s.label));
    let x = AxisSpec { label: x_label, log: log_x, at_data: false };
    Figure { title, x, y: AxisSpec::linear("cumulative fraction"), keys: &keys }.cdf(&one_panel(series))
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
    let series: Vec<BarSeries> =
        series_labels.iter().zip(values).map(|(l, v)| BarSeries { label: l.clone(), values: v.clone() }).collect();
    let keys = keys_of(series_labels.iter());
    let y = AxisSpec { label: y_label, log: log_y, at_data: false };
    Figure { title, x: AxisSpec::linear(""), y, keys: &keys }.grouped_bars(categories, &one_panel(&series))
}

/// Lines with error bars (x = CPUs, y = e.g. deadlock rate with its confidence interval), on one panel.
/// Points whose y is unusable are skipped; an interval end at or below zero on a log axis is cut at the axis.
pub fn lines_with_intervals(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[IntervalSeries],
    log_x: bool,
    log_y: bool,
) -> Result<String, PlotError> {
    let keys = keys_of(series.iter().map(|s| &s.label));
    let (x, y) = (
        AxisSpec { label: x_label, log: log_x, at_data: false },
        AxisSpec { label: y_label, log: log_y, at_data: false },
    );
    Figure { title, x, y, keys: &keys }.lines_with_intervals(&one_panel(series))
}

/// Plain lines (e.g. p99 latency vs CPUs, wall time vs CPUs) on one panel; points are joined in x order.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    log_x: bool,
    log_y: bool,
) -> Result<String, PlotError> {
    let keys = keys_of(series.iter().map(|s| &s.label));
    let (x, y) = (
        AxisSpec { label: x_label, log: log_x, at_data: false },
        AxisSpec { label: y_label, log: log_y, at_data: false },
    );
    Figure { title, x, y, keys: &keys }.lines(&one_panel(series))
}

/// Wall time vs CPUs on log-log axes, ticked at the sizes measured, with O(n) and O(n log n) lines through the
/// smallest size (`points` are `(cpus, wall s)`): a cost growing faster than n log n climbs away from both.
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
    let keys = keys_of(series.iter().map(|s| &s.label));
    let figure = Figure { title, x: AxisSpec::log("CPUs").at_data(), y: AxisSpec::log("wall time (s)"), keys: &keys };
    figure.lines(&one_panel(&series))
}

/// The labels of a one-panel figure as its keys, each once, in order.
fn keys_of<'a>(labels: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for l in labels {
        if !keys.contains(l) {
            keys.push(l.clone());
        }
    }
    keys
}

fn one_panel<S: Clone>(series: &[S]) -> Vec<Facet<S>> {
    vec![Facet { heading: String::new(), series: series.to_vec() }]
}

const SINGLE_WIDTH: i32 = 900;
const SINGLE_HEIGHT: i32 = 560;
const FACET_WIDTH: i32 = 960;
/// Height of a faceted figure per row of panels, and the most any figure gets.
const FACET_ROW_HEIGHT: i32 = 335;
const MAX_HEIGHT: i32 = 1000;
/// Font sizes in plotters units; the SVG backend writes `font-size` as this divided by 1.24.
const TITLE_FONT: f64 = 24.0;
const DESC_FONT: f64 = 19.0;
const HEADING_FONT: f64 = 18.0;
const TICK_FONT: f64 = 16.0;
const LEGEND_FONT: f64 = 17.0;
const LINE_HEIGHT: f64 = 16.0;
const MAX_CATEGORY_CHARS: usize = 28;
const MAX_LEGEND_CHARS: usize = 40;
/// Markers are drawn only up to this many points per series, so dense lines stay lines.
const MAX_MARKERS: usize = 100;
/// Most major ticks an axis gets, however much room it has, and the fewest it aims for.
const MAX_TICKS: usize = 10;
const MIN_TICKS: usize = 4;
/// The data may run on past an axis's outermost tick by at most this share of the axis before it is widened to
/// the next tick.
const END_GAP: f64 = 0.08;
/// Pixels between the points of neighbouring series at one x, on an axis ticked at the data, so that series
/// with equal values (e.g. two schemes at 0) stay visible side by side.
const DODGE_PX: f64 = 7.0;
/// Cumulative fractions at which a CDF line carries its markers; each style shifts them up by `CDF_MARKER_STAGGER`
/// so that coinciding lines still show every style's markers.
const CDF_MARKER_LEVELS: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];
const CDF_MARKER_STAGGER: f64 = 0.04;

/// Colour-blind-friendly palette (Okabe-Ito first), stable by style index.
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

/// Dash patterns (on, off, … in pixels): solid, dashed, dotted, dash-dot.
const DASHES: [&[f64]; 4] = [&[], &[10.0, 5.0], &[2.0, 4.0], &[10.0, 4.0, 2.0, 4.0]];

/// Marker shapes, drawn hollow (white inside) so that one beside another stays readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    TriangleDown,
    Cross,
}

const MARKERS: [Marker; 6] =
    [Marker::Circle, Marker::Square, Marker::TriangleUp, Marker::Diamond, Marker::TriangleDown, Marker::Cross];

/// How the series of style `i` is drawn. No two of the first 60 styles share colour, marker and dash.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Style {
    colour: RGBColor,
    marker: Marker,
    dash: &'static [f64],
    /// Solid lines are drawn wider, so a dashed line lying on one shows both.
    width: u32,
}

fn style(i: usize) -> Style {
    let dash = DASHES[i % DASHES.len()];
    Style {
        colour: colour(i),
        marker: MARKERS[(i + i / PALETTE.len()) % MARKERS.len()],
        dash,
        width: if dash.is_empty() { 3 } else { 2 },
    }
}

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from(FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)).color(&BLACK)
}

/// Rough rendered width in pixels of `s` at plotters font size `size` (sans-serif averages ~0.56 em).
fn text_width(s: &str, size: f64) -> f64 {
    s.chars().count() as f64 * size / 1.24 * 0.56
}

/// Rendered height in pixels of a line of text at plotters font size `size`.
fn text_height(size: f64) -> f64 {
    size / 1.24
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
    style: usize,
    swatch: Swatch,
}

/// The data of a figure, one kind of series per figure.
enum Body<'a> {
    Lines(&'a [Facet<Series>]),
    Intervals(&'a [Facet<IntervalSeries>]),
    Cdf(&'a [Facet<Series>]),
    Bars(&'a [String], &'a [Facet<BarSeries>]),
}

impl Body<'_> {
    /// Each panel's heading, in order: one per facet.
    fn headings(&self) -> Vec<&str> {
        fn of<S>(f: &[Facet<S>]) -> Vec<&str> {
            f.iter().map(|f| f.heading.as_str()).collect()
        }
        match self {
            Body::Lines(f) | Body::Cdf(f) => of(f),
            Body::Intervals(f) => of(f),
            Body::Bars(_, f) => of(f),
        }
    }

    /// Every series' label, panel by panel.
    fn labels(&self) -> Vec<&str> {
        match self {
            Body::Lines(f) | Body::Cdf(f) => f.iter().flat_map(|f| &f.series).map(|s| s.label.as_str()).collect(),
            Body::Intervals(f) => f.iter().flat_map(|f| &f.series).map(|s| s.label.as_str()).collect(),
            Body::Bars(_, f) => f.iter().flat_map(|f| &f.series).map(|s| s.label.as_str()).collect(),
        }
    }

    /// Every point's x, for fitting the shared x axis (grouped bars have categories instead).
    fn x_values(&self) -> Vec<f64> {
        match self {
            Body::Lines(f) | Body::Cdf(f) => {
                f.iter().flat_map(|f| &f.series).flat_map(|s| &s.points).map(|p| p.0).collect()
            }
            Body::Intervals(f) => f.iter().flat_map(|f| &f.series).flat_map(|s| &s.points).map(|p| p.x).collect(),
            Body::Bars(..) => vec![],
        }
    }

    /// The y values the axis must show: of points whose x can be drawn, with interval ends when y can be drawn.
    fn y_values(&self, log_x: bool, log_y: bool) -> Vec<f64> {
        let x_ok = |v: f64| to_plot(log_x, v).is_some();
        match self {
            Body::Lines(f) | Body::Cdf(f) => {
                f.iter().flat_map(|f| &f.series).flat_map(|s| &s.points).filter(|p| x_ok(p.0)).map(|p| p.1).collect()
            }
            Body::Intervals(f) => f
                .iter()
                .flat_map(|f| &f.series)
                .flat_map(|s| &s.points)
                .filter(|p| x_ok(p.x) && to_plot(log_y, p.y).is_some())
                .flat_map(|p| [p.y, p.low, p.high])
                .collect(),
            Body::Bars(_, f) => f.iter().flat_map(|f| &f.series).flat_map(|s| s.values.iter().copied()).collect(),
        }
    }

    /// The legend's swatch for the series drawn in `style` (`style_of` gives a label's style).
    fn swatch(&self, style: usize, style_of: &dyn Fn(&str) -> Option<usize>) -> Swatch {
        match self {
            Body::Cdf(_) | Body::Intervals(_) => Swatch::LineAndMarker,
            Body::Bars(..) => Swatch::Bar,
            Body::Lines(f) => {
                let mine = f.iter().flat_map(|f| &f.series).filter(|s| style_of(&s.label) == Some(style));
                if mine.map(|s| s.points.len()).max().unwrap_or(0) <= MAX_MARKERS {
                    Swatch::LineAndMarker
                } else {
                    Swatch::Line
                }
            }
        }
    }

    /// Panels to draw: one per facet, and one empty panel when there are none.
    fn panels(&self) -> usize {
        self.headings().len().max(1)
    }
}

/// A pixel rectangle: one panel's plotting area, or the legend's box.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rect {
    x0: i32,
    y0: i32,
    x1: i32,
    y1: i32,
}

impl Rect {
    fn overlaps(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }
}

/// Where a figure's parts go, in pixels, and its fitted axes (shared by every panel).
struct Layout {
    width: i32,
    height: i32,
    title: String,
    title_font: f64,
    panels: Vec<Rect>,
    cols: usize,
    x: Axis,
    y: Axis,
    legend: Option<Rect>,
    legend_row: i32,
    /// Category names of grouped bars, and whether they run up the page.
    categories: Vec<String>,
    rotate_categories: bool,
}

/// Axis-description sizes: the band under the panels for the x description, beside them for the y one.
fn desc_band(label: &str) -> i32 {
    if label.trim().is_empty() { 8 } else { (text_height(DESC_FONT) + 18.0) as i32 }
}

impl Figure<'_> {
    /// Places the title, the panels (a grid of up to three columns), the axis descriptions and the legend (right
    /// of the panels, never over them), and fits both axes to the room their labels get.
    fn layout(&self, body: &Body<'_>, legend: &[LegendEntry]) -> Layout {
        let title = clean(self.title);
        let n = body.panels();
        let cols = match n {
            1 => 1,
            2..=4 => 2,
            _ => 3,
        };
        let rows = n.div_ceil(cols) as i32;
        let width = if n == 1 { SINGLE_WIDTH } else { FACET_WIDTH };
        let widest_entry = legend.iter().map(|e| text_width(&e.label, LEGEND_FONT)).fold(0.0, f64::max);
        let legend_w = if legend.is_empty() { 0 } else { (widest_entry + 58.0).clamp(100.0, 340.0) as i32 };
        let legend_gap = if legend.is_empty() { 0 } else { 22 };
        let fit = f64::from(width - 40) / (text_width(&title, TITLE_FONT) / TITLE_FONT).max(1e-9);
        let title_font = TITLE_FONT.min(fit).max(10.0);
        let top = if title.trim().is_empty() { 12 } else { (text_height(title_font) + 22.0) as i32 };
        let heading_h = if body.headings().iter().any(|h| !h.trim().is_empty()) {
            (text_height(HEADING_FONT) + 12.0) as i32
        } else {
            8
        };
        let (x_desc, y_desc) = (desc_band(self.x.label), desc_band(self.y.label));
        let (left, right, col_gap, row_gap) = (8 + y_desc, 10, 22, 10);

        // Grouped bars name their categories under the lowest panel of each column only.
        let categories: Vec<String> = match body {
            Body::Bars(c, _) => c.iter().map(|c| truncate(&clean(c), MAX_CATEGORY_CHARS)).collect(),
            _ => vec![],
        };
        let widest_category = categories.iter().map(|c| text_width(c, TICK_FONT)).fold(0.0, f64::max);
        let rough_plot_w = f64::from(width - legend_w - legend_gap - left - right) / cols as f64 - 70.0;
        let rotate_categories = widest_category > rough_plot_w / categories.len().max(1) as f64 * 0.95;
        let bars = matches!(body, Body::Bars(..));
        let tick_band = if bars { 10 } else { 28 };
        let bottom_band = match (bars, rotate_categories) {
            (false, _) => tick_band,
            (true, true) => (widest_category + 18.0).ceil() as i32,
            (true, false) => 28,
        };
        let base = if rows == 1 { SINGLE_HEIGHT } else { 90 + FACET_ROW_HEIGHT * rows };
        let height = (base + bottom_band - tick_band).min(MAX_HEIGHT);
        let bands = rows * heading_h + (rows - 1) * (tick_band + row_gap) + bottom_band;
        let plot_h = ((height - top - x_desc - bands) / rows).max(40);

        let y_values = body.y_values(self.x.log, self.y.log);
        let y_room = Room { px: f64::from(plot_h), vertical: true };
        let y = match body {
            Body::Cdf(_) => Axis::fraction(y_values),
            _ => Axis::fit_in(self.y.log, self.y.at_data, y_values, bars, y_room),
        };
        let y_area = (y.widest_label() + 16.0).ceil() as i32;
        let cols_i = cols as i32;
        let free = width - left - right - legend_gap - legend_w - cols_i * y_area - (cols_i - 1) * col_gap;
        let plot_w = (free / cols_i).max(40);
        let x = match body {
            Body::Bars(c, _) => Axis::categories(c.len().max(1)),
            _ => Axis::fit_in(
                self.x.log,
                self.x.at_data,
                body.x_values(),
                false,
                Room { px: f64::from(plot_w), vertical: false },
            ),
        };
        let panels: Vec<Rect> = (0..n)
            .map(|i| {
                let (col, row) = ((i % cols) as i32, (i / cols) as i32);
                let x0 = left + y_area + col * (plot_w + col_gap + y_area);
                let y0 = top + row * (heading_h + plot_h + tick_band + row_gap) + heading_h;
                Rect { x0, y0, x1: x0 + plot_w, y1: y0 + plot_h }
            })
            .collect();
        let grid_right = left + cols_i * (y_area + plot_w) + (cols_i - 1) * col_gap;
        let legend_row = if legend.is_empty() {
            0
        } else {
            ((f64::from(height - panels[0].y0) - 10.0) / legend.len() as f64).clamp(8.0, 24.0) as i32
        };
        let legend_box = (!legend.is_empty()).then(|| {
            let (x0, y0) = (grid_right + legend_gap, panels[0].y0);
            Rect { x0, y0, x1: x0 + legend_w, y1: y0 + legend_row * legend.len() as i32 + 8 }
        });
        debug_assert!(legend_box.is_none_or(|l| panels.iter().all(|p| !p.overlaps(&l))), "legend over a panel");
        Layout {
            width,
            height,
            title,
            title_font,
            panels,
            cols,
            x,
            y,
            legend: legend_box,
            legend_row,
            categories,
            rotate_categories,
        }
    }

    /// Draws `body` as SVG: each series in its key's style, each facet in its panel, one legend of the keys used.
    fn render(&self, body: &Body<'_>) -> Result<String, PlotError> {
        let style_of = |label: &str| self.keys.iter().position(|k| k == label);
        if let Some(l) = body.labels().into_iter().find(|l| style_of(l).is_none()) {
            return Err(PlotError::Shape(format!("series label {l:?} is not among the figure's keys")));
        }
        let mut used: Vec<usize> = body.labels().into_iter().filter_map(style_of).collect();
        used.sort_unstable();
        used.dedup();
        let legend: Vec<LegendEntry> = used
            .iter()
            .map(|&s| LegendEntry {
                label: truncate(&clean(&self.keys[s]), MAX_LEGEND_CHARS),
                style: s,
                swatch: body.swatch(s, &style_of),
            })
            .collect();
        let layout = self.layout(body, &legend);
        let dodging = self.x.at_data && matches!(body, Body::Lines(_) | Body::Intervals(_)) && used.len() > 1;
        let place = |s: usize| {
            let rank = used.iter().position(|&u| u == s).unwrap_or(0);
            let offset = if dodging { (rank as f64 - (used.len() - 1) as f64 / 2.0) * DODGE_PX } else { 0.0 };
            Place { style: style(s), rank, of: used.len(), offset }
        };

        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (layout.width as u32, layout.height as u32)).into_drawing_area();
            root.fill(&WHITE)?;
            let headings = body.headings();
            for (i, rect) in layout.panels.iter().enumerate() {
                let panel = Panel { rect: *rect, x: &layout.x, y: &layout.y };
                let labelled_below = i + layout.cols >= layout.panels.len();
                panel.draw_frame(&root, &layout, labelled_below)?;
                let heading = headings.get(i).map_or(String::new(), |h| clean(h));
                if !heading.trim().is_empty() {
                    let chars = (f64::from(rect.x1 - rect.x0) / (text_height(HEADING_FONT) * 0.56)) as usize;
                    let style = font(HEADING_FONT).pos(Pos::new(HPos::Center, VPos::Bottom));
                    let text = truncate(&heading, chars.max(4));
                    root.draw(&Text::new(text, ((rect.x0 + rect.x1) / 2, rect.y0 - 4), style))?;
                }
                let drew = match body {
                    _ if i >= headings.len() => false,
                    Body::Lines(f) => panel.lines(&root, &f[i].series, &style_of, &place)?,
                    Body::Intervals(f) => panel.intervals(&root, &f[i].series, &style_of, &place)?,
                    Body::Cdf(f) => panel.cdf(&root, &f[i].series, &style_of, &place)?,
                    Body::Bars(_, f) => panel.bars(&root, &f[i].series, &style_of, &place)?,
                };
                if !drew || layout.x.empty || layout.y.empty {
                    let grey = BLACK.mix(0.5);
                    let style = font(DESC_FONT).color(&grey).pos(Pos::new(HPos::Center, VPos::Center));
                    let centre = ((rect.x0 + rect.x1) / 2, (rect.y0 + rect.y1) / 2);
                    root.draw(&Text::new("no data", centre, style))?;
                }
            }
            self.draw_descriptions(&root, &layout)?;
            if let Some(rect) = layout.legend {
                draw_legend(&root, rect, layout.legend_row, &legend)?;
            }
            root.present()?;
        }
        Ok(svg)
    }

    fn draw_descriptions(&self, root: &Root<'_>, layout: &Layout) -> Result<(), PlotError> {
        let title_style = TextStyle::from(FontDesc::new(FontFamily::SansSerif, layout.title_font, FontStyle::Bold));
        let title_style = title_style.color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
        if !layout.title.is_empty() {
            root.draw(&Text::new(layout.title.clone(), (layout.width / 2, 6), title_style))?;
        }
        let first = layout.panels[0];
        let grid_left = layout.panels.iter().map(|r| r.x0).min().unwrap_or(first.x0);
        let grid_right = layout.panels.iter().map(|r| r.x1).max().unwrap_or(first.x1);
        let grid_bottom = layout.panels.iter().map(|r| r.y1).max().unwrap_or(first.y1);
        let x_label = clean(self.x.label);
        if !x_label.trim().is_empty() {
            let style = font(DESC_FONT).pos(Pos::new(HPos::Center, VPos::Bottom));
            root.draw(&Text::new(x_label, ((grid_left + grid_right) / 2, layout.height - 8), style))?;
        }
        let y_label = clean(self.y.label);
        if !y_label.trim().is_empty() {
            let style = font(DESC_FONT).transform(FontTransform::Rotate270).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(y_label, (8, (first.y0 + grid_bottom) / 2), style))?;
        }
        Ok(())
    }
}

type Root<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// How one series is drawn in a figure: its style, its rank among the figure's styles (for bars side by side),
/// and its sideways offset in pixels (for points of several series at one x).
#[derive(Debug, Clone, Copy)]
struct Place {
    style: Style,
    rank: usize,
    of: usize,
    offset: f64,
}

/// One panel: its plotting area and the shared axes.
struct Panel<'a> {
    rect: Rect,
    x: &'a Axis,
    y: &'a Axis,
}

impl Panel<'_> {
    /// Plot space to pixels, unrounded.
    fn to_px(&self, (px, py): (f64, f64)) -> (f64, f64) {
        let r = self.rect;
        let fx = (px - self.x.lo) / (self.x.hi - self.x.lo);
        let fy = (py - self.y.lo) / (self.y.hi - self.y.lo);
        (f64::from(r.x0) + fx * f64::from(r.x1 - r.x0), f64::from(r.y1) - fy * f64::from(r.y1 - r.y0))
    }

    fn draw_frame(&self, root: &Root<'_>, layout: &Layout, labelled_below: bool) -> Result<(), PlotError> {
        let r = self.rect;
        let (light, bold, axis) = (BLACK.mix(0.06), BLACK.mix(0.15), BLACK.mix(0.8));
        let bars = !layout.categories.is_empty();
        let px = |v: f64| round_px(self.to_px((v, self.y.lo)).0);
        let py = |v: f64| round_px(self.to_px((self.x.lo, v)).1);
        if !bars {
            for (&t, style) in self.x.minor.iter().map(|t| (t, light)).chain(self.x.ticks.iter().map(|t| (t, bold))) {
                root.draw(&PathElement::new(vec![(px(t), r.y0), (px(t), r.y1)], style))?;
            }
        }
        for (&t, style) in self.y.minor.iter().map(|t| (t, light)).chain(self.y.ticks.iter().map(|t| (t, bold))) {
            root.draw(&PathElement::new(vec![(r.x0, py(t)), (r.x1, py(t))], style))?;
        }
        root.draw(&Rectangle::new([(r.x0, r.y0), (r.x1, r.y1)], axis))?;
        for (&t, label) in self.y.ticks.iter().zip(&self.y.labels) {
            root.draw(&PathElement::new(vec![(r.x0 - 5, py(t)), (r.x0, py(t))], axis))?;
            let style = font(TICK_FONT).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(label.clone(), (r.x0 - 8, py(t)), style))?;
        }
        if !bars {
            for (&t, label) in self.x.ticks.iter().zip(&self.x.labels) {
                root.draw(&PathElement::new(vec![(px(t), r.y1), (px(t), r.y1 + 5)], axis))?;
                let style = font(TICK_FONT).pos(Pos::new(HPos::Center, VPos::Top));
                root.draw(&Text::new(label.clone(), (px(t), r.y1 + 7), style))?;
            }
            return Ok(());
        }
        let n = layout.categories.len();
        for c in 1..n {
            let sep = px(c as f64);
            root.draw(&PathElement::new(vec![(sep, r.y1), (sep, r.y1 + 6)], axis))?;
        }
        if !labelled_below {
            return Ok(());
        }
        let slot = f64::from(r.x1 - r.x0) / n.max(1) as f64;
        let step = if layout.rotate_categories { ((LINE_HEIGHT / slot.max(1.0)).ceil() as usize).max(1) } else { 1 };
        for (c, name) in layout.categories.iter().enumerate().step_by(step) {
            let cx = px(c as f64 + 0.5);
            let style = font(TICK_FONT);
            if layout.rotate_categories {
                let style = style.transform(FontTransform::Rotate270).pos(Pos::new(HPos::Right, VPos::Center));
                root.draw(&Text::new(name.clone(), (cx, r.y1 + 10), style))?;
            } else {
                root.draw(&Text::new(name.clone(), (cx, r.y1 + 10), style.pos(Pos::new(HPos::Center, VPos::Top))))?;
            }
        }
        Ok(())
    }

    /// Draws each series' points joined in x order, breaking the line where a point cannot be drawn;
    /// markers when few. Returns whether anything was drawn.
    fn lines(
        &self,
        root: &Root<'_>,
        series: &[Series],
        style_of: &dyn Fn(&str) -> Option<usize>,
        place: &dyn Fn(usize) -> Place,
    ) -> Result<bool, PlotError> {
        let mut drew = false;
        for s in series {
            let Some(p) = style_of(&s.label).map(place) else { continue };
            drew |= self.line_series(root, &s.points, p)?;
        }
        Ok(drew)
    }

    fn line_series(&self, root: &Root<'_>, points: &[(f64, f64)], p: Place) -> Result<bool, PlotError> {
        let mut sorted = points.to_vec();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let plotted: Vec<Option<(f64, f64)>> = sorted
            .iter()
            .map(|&(x, y)| {
                let (px, py) = self.to_px((self.x.to_plot(x)?, self.y.to_plot(y)?));
                Some((px + p.offset, py))
            })
            .collect();
        for run in plotted.split(Option::is_none) {
            let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
            draw_styled_line(root, &run, p.style)?;
        }
        let valid: Vec<(f64, f64)> = plotted.into_iter().flatten().collect();
        if valid.len() <= MAX_MARKERS {
            for &q in &valid {
                draw_marker(root, (round_px(q.0), round_px(q.1)), p.style)?;
            }
        }
        Ok(!valid.is_empty())
    }

    /// Lines as [`Panel::lines`], with a vertical bar and caps from each point's `low` to `high`.
    fn intervals(
        &self,
        root: &Root<'_>,
        series: &[IntervalSeries],
        style_of: &dyn Fn(&str) -> Option<usize>,
        place: &dyn Fn(usize) -> Place,
    ) -> Result<bool, PlotError> {
        let mut drew = false;
        for s in series {
            let Some(p) = style_of(&s.label).map(place) else { continue };
            let pts: Vec<(f64, f64)> = s.points.iter().map(|q| (q.x, q.y)).collect();
            drew |= self.line_series(root, &pts, p)?;
            for q in &s.points {
                let (Some(px), Some(_)) = (self.x.to_plot(q.x), self.y.to_plot(q.y)) else { continue };
                if !q.low.is_finite() || !q.high.is_finite() {
                    continue;
                }
                let (low, high) = if q.low <= q.high { (q.low, q.high) } else { (q.high, q.low) };
                let Some(top) = self.y.to_plot(high) else { continue };
                let bottom = self.y.to_plot(low);
                let (x, y_top) = self.to_px((px, top));
                let y_bottom = self.to_px((px, bottom.unwrap_or(self.y.lo))).1;
                let (x, a, b) = (round_px(x + p.offset), round_px(y_bottom), round_px(y_top));
                let style = p.style.colour.stroke_width(2);
                root.draw(&PathElement::new(vec![(x, a), (x, b)], style))?;
                root.draw(&PathElement::new(vec![(x - 5, b), (x + 5, b)], style))?;
                if bottom.is_some() {
                    root.draw(&PathElement::new(vec![(x - 5, a), (x + 5, a)], style))?;
                }
            }
        }
        Ok(drew)
    }

    /// Each series as steps rising from 0 at its first value, with markers where it crosses
    /// [`CDF_MARKER_LEVELS`] (shifted per style).
    fn cdf(
        &self,
        root: &Root<'_>,
        series: &[Series],
        style_of: &dyn Fn(&str) -> Option<usize>,
        place: &dyn Fn(usize) -> Place,
    ) -> Result<bool, PlotError> {
        let mut drew = false;
        for s in series {
            let Some(p) = style_of(&s.label).map(place) else { continue };
            let mut pts: Vec<(f64, f64)> =
                s.points.iter().filter_map(|&(x, y)| Some((self.x.to_plot(x)?, self.y.to_plot(y)?))).collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let Some(&first) = pts.first() else { continue };
            drew = true;
            let mut steps = Vec::with_capacity(pts.len() * 2 + 1);
            if first.1 > 0.0 && self.y.lo <= 0.0 {
                steps.push((first.0, 0.0));
            }
            for (j, &q) in pts.iter().enumerate() {
                if j > 0 {
                    steps.push((q.0, pts[j - 1].1));
                }
                steps.push(q);
            }
            let px: Vec<(f64, f64)> = steps.iter().map(|&q| self.to_px(q)).collect();
            draw_styled_line(root, &px, p.style)?;
            let shift = CDF_MARKER_STAGGER * (p.rank % 4) as f64;
            for level in CDF_MARKER_LEVELS.map(|l| l + shift) {
                if let Some(q) = pts.iter().find(|q| q.1 >= level) {
                    let (mx, my) = self.to_px((q.0, level));
                    draw_marker(root, (round_px(mx), round_px(my)), p.style)?;
                }
            }
        }
        Ok(drew)
    }

    /// Bars side by side in each category's slot, in the figure's style order.
    fn bars(
        &self,
        root: &Root<'_>,
        series: &[BarSeries],
        style_of: &dyn Fn(&str) -> Option<usize>,
        place: &dyn Fn(usize) -> Place,
    ) -> Result<bool, PlotError> {
        let base = if self.y.log { self.y.lo } else { 0.0_f64.clamp(self.y.lo, self.y.hi) };
        let mut drew = false;
        for s in series {
            let Some(p) = style_of(&s.label).map(place) else { continue };
            let width = 0.8 / p.of.max(1) as f64;
            for (c, &v) in s.values.iter().enumerate() {
                let Some(v) = self.y.to_plot(v) else { continue };
                drew = true;
                let x0 = c as f64 + 0.1 + p.rank as f64 * width;
                let (a, b) = (self.to_px((x0, base)), self.to_px((x0 + width, v)));
                let (a, b) = ((round_px(a.0), round_px(a.1)), (round_px(b.0), round_px(b.1)));
                let rect = [(a.0, a.1.min(b.1)), ((b.0 - 1).max(a.0 + 1), a.1.max(b.1))];
                root.draw(&Rectangle::new(rect, p.style.colour.filled()))?;
            }
        }
        Ok(drew)
    }
}

/// A pixel coordinate, rounded and kept near the canvas so that no number in the SVG is absurd.
fn round_px(v: f64) -> i32 {
    if v.is_finite() { v.round().clamp(-50.0, f64::from(MAX_HEIGHT)) as i32 } else { 0 }
}

fn draw_legend(root: &Root<'_>, rect: Rect, row: i32, entries: &[LegendEntry]) -> Result<(), PlotError> {
    root.draw(&Rectangle::new([(rect.x0, rect.y0), (rect.x1, rect.y1)], BLACK.mix(0.3)))?;
    for (i, entry) in entries.iter().enumerate() {
        let st = style(entry.style);
        let cy = rect.y0 + 4 + row * i as i32 + row / 2;
        let x = rect.x0 + 8;
        if entry.swatch == Swatch::Bar {
            root.draw(&Rectangle::new([(x + 8, cy - 6), (x + 22, cy + 6)], st.colour.filled()))?;
        } else {
            let line = [(f64::from(x), f64::from(cy)), (f64::from(x + 30), f64::from(cy))];
            draw_styled_line(root, &line, st)?;
            if entry.swatch == Swatch::LineAndMarker {
                draw_marker(root, (x + 15, cy), st)?;
            }
        }
        let style = font(LEGEND_FONT).pos(Pos::new(HPos::Left, VPos::Center));
        root.draw(&Text::new(entry.label.clone(), (x + 38, cy), style))?;
    }
    Ok(())
}

/// Draws a pixel polyline in `st`'s colour, width and dash pattern.
fn draw_styled_line(root: &Root<'_>, px: &[(f64, f64)], st: Style) -> Result<(), PlotError> {
    let mut whole: Vec<(i32, i32)> = Vec::with_capacity(px.len());
    for &(x, y) in px {
        let q = (round_px(x), round_px(y));
        if whole.last() != Some(&q) {
            whole.push(q);
        }
    }
    let whole: Vec<(f64, f64)> = whole.into_iter().map(|(x, y)| (f64::from(x), f64::from(y))).collect();
    for piece in dashed(&whole, st.dash) {
        let mut out: Vec<(i32, i32)> = Vec::with_capacity(piece.len());
        for (x, y) in piece {
            let q = (round_px(x), round_px(y));
            if out.last() != Some(&q) {
                out.push(q);
            }
        }
        if out.len() >= 2 {
            root.draw(&PathElement::new(out, st.colour.stroke_width(st.width)))?;
        }
    }
    Ok(())
}

/// The drawn pieces of a polyline under dash pattern `dash` (on, off, … lengths in pixels, an even count, all
/// positive); the whole line when `dash` is empty. The pattern runs on across the line's corners.
fn dashed(points: &[(f64, f64)], dash: &[f64]) -> Vec<Vec<(f64, f64)>> {
    if dash.is_empty() || dash.iter().any(|d| d.is_nan() || *d <= 0.0) || points.len() < 2 {
        return vec![points.to_vec()];
    }
    let mut pieces = Vec::new();
    let mut current = vec![points[0]];
    let (mut k, mut left) = (0, dash[0]);
    for w in points.windows(2) {
        let ((ax, ay), (bx, by)) = (w[0], w[1]);
        let len = (bx - ax).hypot(by - ay);
        let mut at = 0.0;
        while len - at > left {
            at += left;
            let q = (ax + (bx - ax) * at / len, ay + (by - ay) * at / len);
            if k % 2 == 0 {
                current.push(q);
                pieces.push(std::mem::take(&mut current));
            } else {
                current = vec![q];
            }
            k = (k + 1) % dash.len();
            left = dash[k];
        }
        left -= len - at;
        if k % 2 == 0 {
            current.push(w[1]);
        }
    }
    if k % 2 == 0 && current.len() >= 2 {
        pieces.push(current);
    }
    pieces
}

/// A hollow marker: white inside, outlined in the style's colour.
fn draw_marker(root: &Root<'_>, (x, y): (i32, i32), st: Style) -> Result<(), PlotError> {
    let outline = st.colour.stroke_width(2);
    let shape: Vec<(i32, i32)> = match st.marker {
        Marker::Circle => {
            root.draw(&Circle::new((x, y), 5, WHITE.filled()))?;
            root.draw(&Circle::new((x, y), 5, outline))?;
            return Ok(());
        }
        Marker::Cross => {
            root.draw(&PathElement::new(vec![(x - 5, y - 5), (x + 5, y + 5)], outline))?;
            root.draw(&PathElement::new(vec![(x - 5, y + 5), (x + 5, y - 5)], outline))?;
            return Ok(());
        }
        Marker::Square => vec![(x - 4, y - 4), (x + 4, y - 4), (x + 4, y + 4), (x - 4, y + 4)],
        Marker::TriangleUp => vec![(x, y - 6), (x + 6, y + 4), (x - 6, y + 4)],
        Marker::Diamond => vec![(x, y - 6), (x + 6, y), (x, y + 6), (x - 6, y)],
        Marker::TriangleDown => vec![(x, y + 6), (x + 6, y - 4), (x - 6, y - 4)],
    };
    root.draw(&Polygon::new(shape.clone(), WHITE.filled()))?;
    let mut closed = shape.clone();
    closed.push(shape[0]);
    root.draw(&PathElement::new(closed, outline))?;
    Ok(())
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

/// The pixels an axis's tick labels have: its length, and whether it runs up the page (labels stacked) or
/// across (labels side by side).
#[derive(Debug, Clone, Copy)]
struct Room {
    px: f64,
    vertical: bool,
}

impl Room {
    const ANY: Room = Room { px: f64::INFINITY, vertical: false };
}

impl Axis {
    /// Maps a value to plot space, or `None` if it cannot be drawn (NaN, inf, or not positive on a log axis).
    fn to_plot(&self, v: f64) -> Option<f64> {
        to_plot(self.log, v)
    }

    /// Fits an axis to `values` with no limit on room; `zero_base` keeps 0 in a linear range so bars start there.
    #[cfg(test)]
    fn fit(log: bool, values: impl IntoIterator<Item = f64>, zero_base: bool) -> Axis {
        Axis::fit_in(log, false, values, zero_base, Room::ANY)
    }

    /// Fits an axis to `values` whose tick labels fit `room`; `at_data` ticks it at the values themselves.
    fn fit_in(log: bool, at_data: bool, values: impl IntoIterator<Item = f64>, zero_base: bool, room: Room) -> Axis {
        let usable: Vec<(f64, f64)> = values.into_iter().filter_map(|v| Some((to_plot(log, v)?, v))).collect();
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for &(p, _) in &usable {
            min = min.min(p);
            max = max.max(p);
        }
        let range = (min <= max).then_some((min, max));
        let axis = match range {
            Some(_) if at_data => Axis::at_data(log, usable, room),
            _ if log => Axis::log(range, room),
            _ => Axis::linear(range, zero_base, room),
        };
        Axis { empty: range.is_none(), ..axis }
    }

    /// Whether the tick labels, at their places along `room`, keep clear of each other.
    fn labels_fit(&self, room: Room) -> bool {
        if !room.px.is_finite() {
            return true;
        }
        let at = |t: f64| (t - self.lo) / (self.hi - self.lo) * room.px;
        self.ticks.windows(2).zip(self.labels.windows(2)).all(|(t, l)| {
            let need = if room.vertical {
                text_height(TICK_FONT) + 6.0
            } else {
                (text_width(&l[0], TICK_FONT) + text_width(&l[1], TICK_FONT)) / 2.0 + 10.0
            };
            at(t[1]) - at(t[0]) >= need
        })
    }

    /// The first of `candidates` (densest first) with at most [`MAX_TICKS`] ticks whose labels fit, else the last.
    fn choose(candidates: Vec<Axis>, room: Room) -> Option<Axis> {
        let fits = candidates.iter().position(|a| a.ticks.len() <= MAX_TICKS && a.labels_fit(room));
        match fits {
            Some(i) => candidates.into_iter().nth(i),
            None => candidates.into_iter().last(),
        }
    }

    /// Ticks at the data's distinct values (every one when they fit, else every second, third, …), labelled in
    /// one format; more than 24 distinct values are not "the data's values" but a range, fitted as usual.
    fn at_data(log: bool, mut usable: Vec<(f64, f64)>, room: Room) -> Axis {
        usable.sort_by(|a, b| a.0.total_cmp(&b.0));
        usable.dedup_by(|a, b| (a.0 - b.0).abs() <= 1e-9 * a.0.abs().max(1.0));
        let (min, max) = (usable[0].0, usable[usable.len() - 1].0);
        let span = max - min;
        let pad = if span > 0.0 {
            span * 0.08
        } else if log {
            0.5
        } else {
            min.abs().max(1.0) * 0.1
        };
        let (lo, hi) = (min - pad, max + pad);
        if usable.len() > 24 || !(lo.is_finite() && hi.is_finite() && hi > lo) {
            return if log { Axis::log(Some((min, max)), room) } else { Axis::linear(Some((min, max)), false, room) };
        }
        let labels = data_labels(&usable.iter().map(|p| p.1).collect::<Vec<_>>());
        let candidates = (1..=usable.len())
            .map(|stride| {
                let keep = |i: &usize| i.is_multiple_of(stride);
                let ticks = (0..usable.len()).filter(keep).map(|i| usable[i].0).collect();
                let labels = (0..usable.len()).filter(keep).map(|i| labels[i].clone()).collect();
                Axis { log, empty: false, lo, hi, ticks, labels, minor: vec![] }
            })
            .collect();
        Axis::choose(candidates, room).unwrap_or(Axis {
            log,
            empty: false,
            lo,
            hi,
            ticks: vec![],
            labels: vec![],
            minor: vec![],
        })
    }

    fn linear(range: Option<(f64, f64)>, zero_base: bool, room: Room) -> Axis {
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
        let mut candidates = Vec::new();
        for k in [8.0, 6.0, 5.0, 4.0, 3.0] {
            let step = nice_step((hi - lo) / k);
            let (klo, khi) = ((lo / step).floor(), (hi / step).ceil());
            let (nlo, nhi) = (klo * step, khi * step);
            let pad = (nhi - nlo) * 0.04;
            let rlo = if zero_base && nlo == 0.0 { 0.0 } else { nlo - pad };
            let rhi = if zero_base && nhi == 0.0 { 0.0 } else { nhi + pad };
            if !(step.is_finite() && step > 0.0 && khi - klo <= 60.0 && rlo.is_finite() && rhi.is_finite() && rhi > rlo)
            {
                if candidates.is_empty() {
                    let labels = vec![sci(lo, 3), sci(hi, 3)];
                    return Axis { log: false, empty: false, lo, hi, ticks: vec![lo, hi], labels, minor: vec![] };
                }
                break;
            }
            let ticks: Vec<f64> = (klo as i64..=khi as i64).map(|k| k as f64 * step).collect();
            let labels = linear_labels(&ticks, step);
            candidates
                .push(Axis { log: false, empty: false, lo: rlo, hi: rhi, ticks, labels, minor: vec![] }.checked());
        }
        let fallback = Axis { log: false, empty: false, lo, hi, ticks: vec![], labels: vec![], minor: vec![] };
        Axis::choose(candidates, room).unwrap_or(fallback)
    }

    /// Keeps only finite ticks inside the range, so no grid line or label lands outside the plot.
    fn checked(mut self) -> Axis {
        let inside = |t: &f64| t.is_finite() && *t >= self.lo && *t <= self.hi;
        let (ticks, labels) =
            self.ticks.iter().zip(&self.labels).filter(|(t, _)| inside(t)).map(|(t, l)| (*t, l.clone())).unzip();
        self.minor.retain(inside);
        Axis { ticks, labels, ..self }
    }

    /// A log axis ticked at 1-2-5, else at decades (every one, or every second, third, …), whichever is densest
    /// with labels that fit `room`; a range too short for [`MIN_TICKS`] of those gets evenly spaced values.
    fn log(range: Option<(f64, f64)>, room: Room) -> Axis {
        let (mut min, mut max) = range.unwrap_or((0.0, 1.0));
        if max - min < 1e-9 {
            min -= 0.5;
            max += 0.5;
        }
        let pad = ((max - min) * 0.04).max(0.05);
        let (lo, hi) = (min - pad, max + pad);
        let mut axes = Vec::new();
        if let Some(axis) = Axis::log_ticks(&[1, 2, 5], 1, (min, max), (lo, hi))
            && axis.ticks.len() >= MIN_TICKS
        {
            axes.push(axis);
        }
        let decades = if hi - lo <= 400.0 { (hi.floor() - lo.ceil()) as i32 + 1 } else { 0 };
        for stride in 1..=decades {
            match Axis::log_ticks(&[1], stride, (min, max), (lo, hi)) {
                Some(axis) if axis.ticks.len() >= 2 => axes.push(axis),
                _ => break,
            }
        }
        // Too short a range for 1-2-5 (or for decades that fit): evenly spaced values read better than 5, 6, 7, ….
        match Axis::choose(axes, room) {
            Some(axis) if axis.ticks.len() >= MIN_TICKS => axis,
            Some(axis) => {
                let even = Axis::log_fallback(lo, hi, room);
                if even.ticks.len() >= MIN_TICKS && even.labels_fit(room) { even } else { axis }
            }
            None => Axis::log_fallback(lo, hi, room),
        }
    }

    /// A log axis ticked at m·10^k for m in `mantissas` and k a multiple of `stride`, over `(lo, hi)` widened to
    /// the next tick when the data (`data` = min, max) run on past the outermost tick by more than [`END_GAP`] of
    /// the span, so that no data lie far beyond the last label. Minor lines at the other mantissas (1-2-5), the
    /// other mantissas of each decade (every decade ticked) or the other decades. `None` when no tick falls inside.
    fn log_ticks(mantissas: &[u32], stride: i32, data: (f64, f64), (mut lo, mut hi): (f64, f64)) -> Option<Axis> {
        let family = |lo: f64, hi: f64, ms: &[u32]| -> Vec<LogTick> {
            (lo.floor() as i32 - stride..=hi.ceil() as i32 + stride)
                .filter(|k| k.rem_euclid(stride) == 0)
                .flat_map(|k| ms.iter().map(move |&m| (m, k)))
                .collect()
        };
        let span = hi - lo;
        let all = family(lo, hi, mantissas);
        let value = |t: &LogTick| log_tick(t.0, t.1);
        let inside: Vec<&LogTick> = all.iter().filter(|t| (lo..=hi).contains(&value(t))).collect();
        let (first, last) = (value(inside.first()?), value(inside.last()?));
        if first - data.0 > END_GAP * span
            && let Some(below) = all.iter().rev().find(|t| value(t) <= data.0)
        {
            lo = lo.min(value(below) - 0.015 * span);
        }
        if data.1 - last > END_GAP * span
            && let Some(above) = all.iter().find(|t| value(t) >= data.1)
        {
            hi = hi.max(value(above) + 0.015 * span);
        }
        let within = |t: &&LogTick| (lo..=hi).contains(&value(t));
        let major: Vec<LogTick> = all.iter().filter(within).copied().collect();
        let decades = (hi.floor() - lo.ceil()) as i32 + 1;
        let minor: Vec<LogTick> = if mantissas.len() > 1 {
            let others: Vec<u32> = (1..=9).filter(|m| !mantissas.contains(m)).collect();
            family(lo, hi, &others)
        } else if stride == 1 && decades <= 8 {
            family(lo, hi, &[2, 3, 4, 5, 6, 7, 8, 9])
        } else if decades <= 60 {
            (lo.ceil() as i32..=hi.floor() as i32).filter(|k| k.rem_euclid(stride) != 0).map(|k| (1, k)).collect()
        } else {
            vec![]
        };
        let ticks = major.iter().map(value).collect();
        let labels = log_labels(&major);
        let minor = minor.iter().map(value).filter(|t| (lo..=hi).contains(t)).collect();
        Some(Axis { log: true, empty: false, lo, hi, ticks, labels, minor }.checked())
    }

    /// Ticks for a log axis spanning too little for 1-2-5 ticks: evenly spaced values, placed logarithmically.
    fn log_fallback(lo: f64, hi: f64, room: Room) -> Axis {
        let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
        let mut candidates = Vec::new();
        for k in [8.0, 6.0, 5.0, 4.0, 3.0] {
            let step = nice_step((vhi - vlo) / k);
            if !(step.is_finite() && step > 0.0) {
                break;
            }
            let (klo, khi) = ((vlo / step).ceil(), (vhi / step).floor());
            if khi - klo > 20.0 {
                continue;
            }
            let values: Vec<f64> = (klo as i64..=khi as i64).map(|k| k as f64 * step).filter(|v| *v > 0.0).collect();
            if values.len() < 2 {
                continue;
            }
            let ticks = values.iter().map(|v| v.log10()).collect();
            let labels = linear_labels(&values, step);
            candidates.push(Axis { log: true, empty: false, lo, hi, ticks, labels, minor: vec![] }.checked());
        }
        Axis::choose(candidates, room).unwrap_or_else(|| {
            let labels = linear_labels(&[vlo, vhi], vhi - vlo);
            Axis { log: true, empty: false, lo, hi, ticks: vec![lo, hi], labels, minor: vec![] }.checked()
        })
    }

    /// The y axis of a CDF: 0 to 1 in steps of 0.2, widened only if the data leave that range.
    fn fraction(values: impl IntoIterator<Item = f64>) -> Axis {
        let (mut min, mut max) = (0.0f64, 1.0f64);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            min = min.min(v);
            max = max.max(v);
        }
        if min < 0.0 || max > 1.0 {
            return Axis::linear(Some((min, max)), false, Room::ANY);
        }
        let ticks: Vec<f64> = (0..=5).map(|k| f64::from(k) * 0.2).collect();
        let labels = linear_labels(&ticks, 0.2);
        Axis { log: false, empty: false, lo: -0.02, hi: 1.02, ticks, labels, minor: vec![] }
    }

    /// The x axis of grouped bars: category c occupies [c, c + 1]; its name is drawn under the panel.
    fn categories(n: usize) -> Axis {
        Axis { log: false, empty: false, lo: 0.0, hi: n as f64, ticks: vec![], labels: vec![], minor: vec![] }
    }

    fn widest_label(&self) -> f64 {
        self.labels.iter().map(|l| text_width(l, TICK_FONT)).fold(0.0, f64::max)
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

/// Labels of log ticks in one format for the whole axis: plain digits when every tick lies from 0.001 to
/// 999,999, else `me`k (e.g. `2e6`) for every tick.
fn log_labels(ticks: &[LogTick]) -> Vec<String> {
    let plain = ticks.iter().all(|&(_, k)| (-3..=5).contains(&k));
    ticks
        .iter()
        .map(|&(m, k)| match k {
            _ if !plain => format!("{m}e{k}"),
            0.. => (u64::from(m) * 10u64.pow(k as u32)).to_string(),
            _ => format!("{:.*}", (-k) as usize, f64::from(m) * 10f64.powi(k)),
        })
        .collect()
}

/// Labels of data values in one format: integers when every value is one, else the fewest decimals (up to 6)
/// that show each value to 0.1 %, or 3 significant digits in scientific notation for huge or tiny values.
fn data_labels(values: &[f64]) -> Vec<String> {
    if values.iter().all(|v| v.fract() == 0.0 && v.abs() < 1e15) {
        return values.iter().map(|v| format!("{}", *v as i64)).collect();
    }
    let big = values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let tiny = values.iter().any(|v| *v != 0.0 && v.abs() < 1e-3);
    if big >= 1e6 || tiny {
        return values.iter().map(|&v| sci(v, 3)).collect();
    }
    let close = |d: usize| {
        values.iter().all(|&v| {
            let shown: f64 = format!("{v:.d$}").parse().unwrap_or(f64::NAN);
            (shown - v).abs() <= 1e-3 * v.abs()
        })
    };
    let decimals = (0..=6).find(|&d| close(d)).unwrap_or(6);
    values.iter().map(|v| format!("{v:.decimals$}")).collect()
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

    /// A box as (x0, y0, x1, y1).
    type Box = (f64, f64, f64, f64);

    /// The bounding box of an element's coordinates (`x`/`y`/`width`/`height`, `x1`…, `cx`/`cy`/`r`, `points`).
    fn bbox(node: roxmltree::Node) -> Option<Box> {
        let num = |a: &str| node.attribute(a).and_then(|v| v.parse::<f64>().ok());
        let mut pts: Vec<(f64, f64)> = Vec::new();
        if let Some(points) = node.attribute("points") {
            for pair in points.split_whitespace() {
                let (x, y) = pair.split_once(',')?;
                pts.push((x.parse().ok()?, y.parse().ok()?));
            }
        } else if let (Some(cx), Some(cy), Some(r)) = (num("cx"), num("cy"), num("r")) {
            pts.extend([(cx - r, cy - r), (cx + r, cy + r)]);
        } else if let (Some(x1), Some(y1), Some(x2), Some(y2)) = (num("x1"), num("y1"), num("x2"), num("y2")) {
            pts.extend([(x1, y1), (x2, y2)]);
        } else if let (Some(x), Some(y)) = (num("x"), num("y")) {
            pts.push((x, y));
            if let (Some(w), Some(h)) = (num("width"), num("height")) {
                pts.push((x + w, y + h));
            }
        }
        let first = *pts.first()?;
        Some(
            pts.iter().fold((first.0, first.1, first.0, first.1), |b, &(x, y)| {
                (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y))
            }),
        )
    }

    /// Whether a polyline is a marker's closed outline (a line's dash pieces are open).
    fn closed(n: roxmltree::Node) -> bool {
        let points: Vec<&str> = n.attribute("points").map_or(vec![], |p| p.split_whitespace().collect());
        points.len() > 2 && points.first() == points.last()
    }

    fn inside(b: Box, outer: Box, slack: f64) -> bool {
        b.0 >= outer.0 - slack && b.1 >= outer.1 - slack && b.2 <= outer.2 + slack && b.3 <= outer.3 + slack
    }

    fn overlap(a: Box, b: Box) -> bool {
        a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
    }

    /// Unfilled `<rect>`s at `opacity`: "0.8" frames each panel's plotting area, "0.3" the legend.
    fn frames(svg: &str, opacity: &str) -> Vec<Box> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("none"))
            .filter(|n| n.attribute("opacity") == Some(opacity))
            .filter_map(bbox)
            .collect()
    }

    fn legend_box(svg: &str) -> Option<Box> {
        frames(svg, "0.3").first().copied()
    }

    /// Elements in series `i`'s colour outside the legend: what the series drew in the plot.
    fn drawn_in_plot(svg: &str, i: usize) -> usize {
        let doc = roxmltree::Document::parse(svg).unwrap();
        let c = hex(i);
        let legend = legend_box(svg);
        doc.descendants()
            .filter(|n| n.attribute("stroke") == Some(&c) || n.attribute("fill") == Some(&c))
            .filter(|n| match (legend, bbox(*n)) {
                (Some(l), Some(b)) => !inside(b, l, 0.0),
                _ => true,
            })
            .count()
    }

    /// Title, axis labels and each series label appear once; non-empty series draw in the plot, empty ones only
    /// their legend swatch.
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
        for i in 0..labels.len() {
            if empty.contains(&i) {
                assert!(drawn(svg, i) >= 1, "series {i} has no legend swatch");
                assert_eq!(drawn_in_plot(svg, i), 0, "empty series {i} drew in the plot");
            } else {
                assert!(drawn_in_plot(svg, i) > 0, "series {i} drew nothing");
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
            // Per point: a marker, the bar and two caps; per series: one (solid) line.
            assert_eq!(drawn_in_plot(&svg, 0), 1 + 2 * 4);
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
        // One format per axis: a range past 999,999 is labelled in scientific notation throughout.
        let wide = Axis::fit(true, [1.0, 1e9], false);
        assert_eq!(wide.labels, strings(&["1e0", "1e1", "1e2", "1e3", "1e4", "1e5", "1e6", "1e7", "1e8", "1e9"]));
        let waits = Axis::fit(true, [3.5, 85_000.0], false);
        assert_eq!(waits.labels, strings(&["1", "10", "100", "1000", "10000", "100000"]));
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

    const SCHEMES: [&str; 3] = ["legacy", "pmus-lock", "percpu-state"];
    const VARIANTS: [&str; 4] = [
        "kernel=4.13 names=generic",
        "kernel=4.13 names=skx-2s",
        "kernel=4.15 names=generic",
        "kernel=4.15 names=skx-2s",
    ];
    const CPUS: [f64; 4] = [64.0, 256.0, 1024.0, 4096.0];

    /// The default experiment's shape: per variant, each scheme's deadlock fraction at each CPU count; legacy is
    /// 1 everywhere and the fixes 0 on 4.15, so series lie on each other.
    fn experiment(schemes: &[&str]) -> Vec<Facet<IntervalSeries>> {
        VARIANTS
            .iter()
            .enumerate()
            .map(|(v, heading)| Facet {
                heading: heading.to_string(),
                series: schemes
                    .iter()
                    .map(|scheme| IntervalSeries {
                        label: scheme.to_string(),
                        points: CPUS
                            .iter()
                            .enumerate()
                            .map(|(c, &x)| {
                                let y = if *scheme == "legacy" {
                                    1.0
                                } else if v >= 2 {
                                    0.0
                                } else {
                                    0.9 / (c + 1) as f64
                                };
                                IntervalPoint { x, y, low: (y - 0.05f64).max(0.0), high: (y + 0.05f64).min(1.0) }
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }

    fn keys() -> Vec<String> {
        strings(&SCHEMES)
    }

    fn rate_figure(keys: &[String], facets: &[Facet<IntervalSeries>]) -> String {
        let figure = Figure {
            title: "fraction of runs that deadlock",
            x: AxisSpec::log("CPUs").at_data(),
            y: AxisSpec::linear("fraction of runs deadlocked"),
            keys,
        };
        figure.lines_with_intervals(facets).unwrap()
    }

    /// The texts of `svg` with their position and anchor.
    fn placed_texts(svg: &str) -> Vec<(f64, f64, String, String)> {
        let doc = roxmltree::Document::parse(svg).unwrap();
        doc.descendants()
            .filter(|n| n.has_tag_name("text"))
            .map(|n| {
                let num = |a: &str| n.attribute(a).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
                let anchor = n.attribute("text-anchor").unwrap_or("").to_string();
                (num("x"), num("y"), n.text().unwrap_or("").trim().to_string(), anchor)
            })
            .collect()
    }

    /// The x tick labels under a panel, left to right, with their x positions.
    fn x_tick_labels(svg: &str, panel: Box) -> Vec<(f64, String)> {
        let mut ticks: Vec<(f64, String)> = placed_texts(svg)
            .into_iter()
            .filter(|(x, y, _, anchor)| *y == panel.3 + 7.0 && *x >= panel.0 && *x <= panel.2 && anchor == "middle")
            .map(|(x, _, t, _)| (x, t))
            .collect();
        ticks.sort_by(|a, b| a.0.total_cmp(&b.0));
        ticks
    }

    /// The y tick labels beside a panel, bottom to top.
    fn y_tick_labels(svg: &str, panel: Box) -> Vec<String> {
        let mut ticks: Vec<(f64, String)> = placed_texts(svg)
            .into_iter()
            .filter(|(x, y, _, anchor)| *x == panel.0 - 8.0 && *y >= panel.1 && *y <= panel.3 && anchor == "end")
            .map(|(_, y, t, _)| (y, t))
            .collect();
        ticks.sort_by(|a, b| b.0.total_cmp(&a.0));
        ticks.into_iter().map(|t| t.1).collect()
    }

    #[test]
    fn every_panel_is_ticked_exactly_at_the_data_cpu_counts_evenly_on_the_log_axis() {
        let svg = rate_figure(&keys(), &experiment(&SCHEMES));
        let panels = frames(&svg, "0.8");
        assert_eq!(panels.len(), 4);
        for panel in panels {
            let ticks = x_tick_labels(&svg, panel);
            let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
            assert_eq!(labels, ["64", "256", "1024", "4096"], "{panel:?}");
            // 64, 256, 1024 and 4096 are a factor 4 apart: equal gaps on a log axis, to the rounding pixel.
            let gaps: Vec<f64> = ticks.windows(2).map(|w| w[1].0 - w[0].0).collect();
            assert!(gaps.iter().all(|g| (g - gaps[0]).abs() <= 1.0), "{gaps:?}");
        }
        // Whatever the counts, they are the ticks: five of them including 65536, or only two.
        for cpus in [&[16.0f64, 64.0, 512.0, 4096.0, 65536.0][..], &[2.0, 8.0]] {
            let s = vec![series("legacy", &cpus.iter().map(|&c| (c, c.sqrt())).collect::<Vec<_>>())];
            let figure = Figure {
                title: "t",
                x: AxisSpec::log("CPUs").at_data(),
                y: AxisSpec::log("wall time (s)"),
                keys: &strings(&["legacy"]),
            };
            let svg = figure.lines(&one_panel(&s)).unwrap();
            let labels: Vec<String> = x_tick_labels(&svg, frames(&svg, "0.8")[0]).into_iter().map(|t| t.1).collect();
            let expected: Vec<String> = cpus.iter().map(|c| format!("{c}")).collect();
            assert_eq!(labels, expected);
        }
    }

    #[test]
    fn styles_are_distinct_and_a_scheme_keeps_its_style_without_the_others() {
        let looks: Vec<(RGBColor, Marker, &[f64])> =
            (0..60).map(|i| (style(i).colour, style(i).marker, style(i).dash)).collect();
        for (i, a) in looks.iter().enumerate() {
            assert!(!looks[..i].contains(a), "style {i} repeats an earlier one: {a:?}");
        }
        // In the SVG, each legend swatch (its colour, dash pieces and marker outline) differs from the others.
        let svg = rate_figure(&keys(), &experiment(&SCHEMES));
        let legend = legend_box(&svg).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let swatch = |i: usize| -> Vec<(String, usize)> {
            let c = hex(i);
            let mut parts: Vec<(String, usize)> = doc
                .descendants()
                .filter(|n| n.attribute("stroke") == Some(&c))
                .filter(|n| bbox(*n).is_some_and(|b| inside(b, legend, 0.0)))
                .map(|n| {
                    let points = n.attribute("points").map_or(0, |p| p.split_whitespace().count());
                    (n.tag_name().name().to_string(), points)
                })
                .collect();
            parts.sort();
            parts
        };
        let swatches: Vec<Vec<(String, usize)>> = (0..3).map(swatch).collect();
        for (i, s) in swatches.iter().enumerate() {
            assert!(!s.is_empty(), "no swatch for style {i}");
            assert!(!swatches[..i].contains(s), "swatch {i} looks like an earlier one: {s:?}");
        }
        let dash_pieces = |s: &[(String, usize)]| s.iter().filter(|p| p.0 == "polyline" && p.1 == 2).count();
        assert_eq!(dash_pieces(&swatches[0]), 1, "legacy's line is solid");
        assert!(dash_pieces(&swatches[1]) > 1 && dash_pieces(&swatches[2]) > dash_pieces(&swatches[1]));
        // Without legacy, pmus-lock and percpu-state keep their colours.
        let fixes = rate_figure(&keys(), &experiment(&SCHEMES[1..]));
        assert_eq!(drawn(&fixes, 0), 0);
        assert!(drawn_in_plot(&fixes, 1) > 0 && drawn_in_plot(&fixes, 2) > 0);
    }

    #[test]
    fn the_legend_lies_outside_every_panel_and_the_data_inside_them() {
        let long = strings(&["legacy", "pmus-lock with a rather long name", "percpu-state"]);
        for n in [1, 2, 3, 4, 6] {
            let mut facets = experiment(&SCHEMES);
            facets.truncate(n.min(4));
            while facets.len() < n {
                facets.push(facets[0].clone());
            }
            for facet in &mut facets {
                facet.series[1].label = long[1].clone();
            }
            let svg = rate_figure(&long, &facets);
            let panels = frames(&svg, "0.8");
            let legend = legend_box(&svg).unwrap();
            assert_eq!(panels.len(), n);
            for p in &panels {
                assert!(!overlap(*p, legend), "{n} panels: legend {legend:?} overlaps panel {p:?}");
            }
            for label in &long {
                let (x, y, _, _) = placed_texts(&svg).into_iter().find(|t| &t.2 == label).unwrap();
                assert!(inside((x, y, x, y), legend, 0.0), "{label:?} outside the legend box");
            }
            // Every mark of a series outside the legend lies within a panel (markers and caps may overhang a little).
            let doc = roxmltree::Document::parse(&svg).unwrap();
            let colours: Vec<String> = (0..3).map(hex).collect();
            for node in
                doc.descendants().filter(|n| n.attribute("stroke").is_some_and(|c| colours.iter().any(|h| h == c)))
            {
                let b = bbox(node).unwrap();
                if inside(b, legend, 0.0) {
                    continue;
                }
                assert!(panels.iter().any(|p| inside(b, *p, 7.0)), "{n} panels: {node:?} outside every panel");
            }
        }
    }

    #[test]
    fn y_axes_have_at_least_four_ticks_in_one_format() {
        let room = Room { px: 280.0, vertical: true };
        let ranges: [(bool, [f64; 2]); 11] = [
            (true, [1.0, 1e9]),
            (true, [3.5, 85_000.0]),
            (true, [25.9, 640.0]),
            (true, [23.6, 23.8]),
            (true, [4.7, 24.0]),
            (true, [1e-5, 1e-2]),
            (true, [2e5, 4e7]),
            (false, [0.0, 2.8]),
            (false, [0.0, 1.0]),
            (false, [0.0, 4e6]),
            (false, [-3.0, 1e-4]),
        ];
        for (log, values) in ranges {
            let axis = Axis::fit_in(log, false, values, false, room);
            assert!(axis.ticks.len() >= 4, "{values:?}: {:?}", axis.labels);
            assert!(axis.labels_fit(room), "{values:?}: {:?}", axis.labels);
            let scientific = axis.labels.iter().filter(|l| l.contains('e')).count();
            assert!(
                scientific == 0 || scientific == axis.labels.iter().filter(|l| *l != "0").count(),
                "{values:?}: {:?}",
                axis.labels
            );
            if !log {
                let decimals = |l: &String| l.split_once('.').map_or(0, |(_, d)| d.len());
                let shown: Vec<usize> =
                    axis.labels.iter().filter(|l| *l != "0" && !l.contains('e')).map(decimals).collect();
                assert!(shown.windows(2).all(|w| w[0] == w[1]), "{values:?}: {:?}", axis.labels);
            }
            let mut distinct = axis.labels.clone();
            distinct.dedup();
            assert_eq!(distinct.len(), axis.labels.len(), "{values:?}: {:?}", axis.labels);
        }
        // The data never run on far past the outermost label: 25.9–640 ms is labelled from 20, not 50.
        assert_eq!(
            Axis::fit_in(true, false, [25.9, 640.0], false, room).labels,
            strings(&["20", "50", "100", "200", "500"])
        );
    }

    #[test]
    fn dashes_follow_their_pattern_round_corners() {
        assert_eq!(
            dashed(&[(0.0, 0.0), (30.0, 0.0)], &[10.0, 5.0]),
            vec![vec![(0.0, 0.0), (10.0, 0.0)], vec![(15.0, 0.0), (25.0, 0.0)]]
        );
        assert_eq!(
            dashed(&[(0.0, 0.0), (6.0, 0.0), (6.0, 10.0)], &[10.0, 5.0])[0],
            vec![(0.0, 0.0), (6.0, 0.0), (6.0, 4.0)]
        );
        let solid = [(0.0, 0.0), (3.0, 4.0)];
        assert_eq!(dashed(&solid, &[]), vec![solid.to_vec()]);
    }

    #[test]
    fn facets_have_one_heading_each_and_share_their_axes() {
        let svg = rate_figure(&keys(), &experiment(&SCHEMES));
        let texts = parse(&svg);
        for v in VARIANTS {
            assert_eq!(texts.iter().filter(|t| *t == v).count(), 1, "heading {v:?}");
        }
        for s in SCHEMES {
            assert_eq!(texts.iter().filter(|t| *t == s).count(), 1, "legend entry {s:?}");
        }
        for d in ["CPUs", "fraction of runs deadlocked"] {
            assert_eq!(texts.iter().filter(|t| *t == d).count(), 1, "axis description {d:?}");
        }
        let panels = frames(&svg, "0.8");
        let first = y_tick_labels(&svg, panels[0]);
        assert_eq!(first, strings(&["0", "0.2", "0.4", "0.6", "0.8", "1.0"]));
        for p in &panels[1..] {
            assert_eq!(y_tick_labels(&svg, *p), first);
            assert_eq!((p.2 - p.0, p.3 - p.1), (panels[0].2 - panels[0].0, panels[0].3 - panels[0].1));
        }
    }

    #[test]
    fn points_of_schemes_with_equal_values_are_set_apart() {
        // On 4.15 both fixes are 0 at every CPU count: their markers sit side by side, DODGE_PX apart.
        let svg = rate_figure(&keys(), &experiment(&SCHEMES));
        let panel = frames(&svg, "0.8")[2];
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let marker_xs = |i: usize| -> Vec<f64> {
            let c = hex(i);
            let mut xs: Vec<f64> = doc
                .descendants()
                .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(&c) && closed(*n))
                .filter_map(bbox)
                .filter(|b| inside(*b, panel, 0.0))
                .map(|b| (b.0 + b.2) / 2.0)
                .collect();
            xs.sort_by(f64::total_cmp);
            xs.dedup();
            xs
        };
        let (a, b) = (marker_xs(1), marker_xs(2));
        assert_eq!((a.len(), b.len()), (4, 4), "{a:?} {b:?}");
        for (x, y) in a.iter().zip(&b) {
            assert!((y - x - DODGE_PX).abs() <= 1.0, "{a:?} {b:?}");
        }
    }

    #[test]
    fn coinciding_cdfs_each_show_their_markers() {
        let ecdf: Vec<(f64, f64)> = (1..=100).map(|k| (f64::from(k), f64::from(k) / 100.0)).collect();
        let s = vec![series("a", &ecdf), series("b", &ecdf)];
        let svg = cdf("t", "x", &s, true).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let legend = legend_box(&svg).unwrap();
        let centres = |tag: &str, i: usize| -> Vec<(i64, i64)> {
            let c = hex(i);
            doc.descendants()
                .filter(|n| n.has_tag_name(tag) && n.attribute("stroke") == Some(&c))
                .filter(|n| tag == "circle" || closed(*n))
                .filter_map(bbox)
                .filter(|b| !inside(*b, legend, 0.0))
                .map(|b| (((b.0 + b.2) / 2.0) as i64, ((b.1 + b.3) / 2.0) as i64))
                .collect()
        };
        let (circles, squares) = (centres("circle", 0), centres("polyline", 1));
        assert_eq!((circles.len(), squares.len()), (5, 5), "{circles:?} {squares:?}");
        assert!(circles.iter().all(|c| !squares.contains(c)), "{circles:?} {squares:?}");
    }

    #[test]
    fn bar_categories_are_named_under_the_lowest_panel_of_each_column() {
        let categories = strings(&["cpu_hotplug_lock", "pmus_lock", "event_mutex"]);
        for (n, named) in [(4, 2), (3, 2), (1, 1)] {
            let facets: Vec<Facet<BarSeries>> = VARIANTS[..n]
                .iter()
                .map(|v| Facet {
                    heading: v.to_string(),
                    series: SCHEMES
                        .iter()
                        .map(|s| BarSeries { label: s.to_string(), values: vec![10.0, 200.0, 3000.0] })
                        .collect(),
                })
                .collect();
            let y = AxisSpec::log("mean wait per contended acquisition (µs)");
            let figure = Figure { title: "lock wait", x: AxisSpec::linear("lock class"), y, keys: &keys() };
            let svg = figure.grouped_bars(&categories, &facets).unwrap();
            let texts = parse(&svg);
            for c in &categories {
                assert_eq!(texts.iter().filter(|t| *t == c).count(), named, "{n} panels: {c:?}");
            }
            assert_eq!(drawn_in_plot(&svg, 0), 3 * n, "one bar per category and panel");
        }
        let ragged = vec![Facet {
            heading: String::new(),
            series: vec![BarSeries { label: "legacy".into(), values: vec![1.0] }],
        }];
        let figure = Figure { title: "t", x: AxisSpec::linear(""), y: AxisSpec::linear("y"), keys: &keys() };
        assert!(matches!(figure.grouped_bars(&categories, &ragged), Err(PlotError::Shape(_))));
    }

    #[test]
    fn a_series_label_outside_the_keys_is_an_error() {
        let mut facets = experiment(&SCHEMES);
        facets[0].series[0].label = "unknown".into();
        let figure = Figure { title: "t", x: AxisSpec::log("CPUs").at_data(), y: AxisSpec::linear("y"), keys: &keys() };
        assert!(matches!(figure.lines_with_intervals(&facets), Err(PlotError::Shape(_))));
    }

    #[test]
    fn faceted_figures_are_byte_identical_for_the_same_input() {
        assert_eq!(rate_figure(&keys(), &experiment(&SCHEMES)), rate_figure(&keys(), &experiment(&SCHEMES)));
    }
}
