//! `cargo xtask sim SCENARIO --plot FILE`: a PNG of each node's true clock
//! offset over time, drawn from the simulator's CSV records
//! (`time,node,offset,frequency_ppm,peer,stratum`, offsets in seconds).
//!
//! The plot has the scenario's name as its title, time in hours on the x
//! axis, the offset on the y axis in us, ms or s (whichever suits the largest
//! offset, the range fitted to the data), grid lines, and a legend beside the
//! plot area. The first [`MAX_LEGEND`] nodes each get a colour of their own;
//! any further nodes are drawn in light grey under one legend entry.
//!
//! Drawing is done by `plotters` (bitmap backend) with its `ab_glyph` text
//! renderer, which is pure Rust and reads no system font configuration: the
//! font file is loaded at run time ([`find_font`]), DejaVu Sans from
//! Debian's `fonts-dejavu-core` by default.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use plotters::prelude::*;
use plotters::style::FontStyle;

/// Image width in pixels.
pub const WIDTH: u32 = 1280;
/// Image height in pixels.
pub const HEIGHT: u32 = 720;
/// Nodes that get a colour and a legend entry of their own.
pub const MAX_LEGEND: usize = 10;
/// Width of the legend panel at the right, pixels.
const LEGEND_WIDTH: u32 = 220;
/// Points kept per node: the records are reduced to the lowest and highest
/// offset of each of `BUCKETS / 2` time buckets, which keeps the envelope
/// of a two-day run (172,800 records a node) at a fraction of the drawing.
const BUCKETS: usize = 4000;
/// The font family name under which the loaded font is registered.
const FAMILY: &str = "sans-serif";
/// The environment variable naming a TrueType font to use instead.
pub const FONT_ENV: &str = "NTPCTL_PLOT_FONT";
/// Where the font is looked for when [`FONT_ENV`] is not set.
const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
];

/// The colours of the first [`MAX_LEGEND`] nodes (Tableau 10).
const PALETTE: [RGBColor; MAX_LEGEND] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// The colour of nodes beyond the first [`MAX_LEGEND`].
const OTHERS: RGBColor = RGBColor(200, 200, 200);

/// One node's offsets over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The node's name.
    pub name: String,
    /// `(seconds since the start, true offset in seconds)`, in time order.
    pub points: Vec<(f64, f64)>,
}

/// Reads the simulator's CSV records into one series a node, in the order
/// the nodes first appear.
pub fn read_csv<R: BufRead>(reader: R) -> Result<Vec<Series>> {
    let mut lines = reader.lines();
    let header = lines
        .next()
        .context("the CSV is empty")?
        .context("reading the CSV header")?;
    let columns: Vec<&str> = header.trim().split(',').collect();
    let column = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .with_context(|| format!("the CSV header {header:?} has no {name:?} column"))
    };
    let (time_col, node_col, offset_col) = (column("time")?, column("node")?, column("offset")?);
    let mut series: Vec<Series> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (n, line) in lines.enumerate() {
        let line_no = n + 2;
        let line = line.with_context(|| format!("reading CSV line {line_no}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.trim().split(',').collect();
        let field = |col: usize| {
            fields
                .get(col)
                .copied()
                .with_context(|| format!("CSV line {line_no} has too few fields: {line:?}"))
        };
        let time: f64 = field(time_col)?
            .parse()
            .with_context(|| format!("CSV line {line_no}: bad time"))?;
        let offset: f64 = field(offset_col)?
            .parse()
            .with_context(|| format!("CSV line {line_no}: bad offset"))?;
        let name = field(node_col)?;
        let k = match index.get(name) {
            Some(&k) => k,
            None => {
                index.insert(name.to_owned(), series.len());
                series.push(Series {
                    name: name.to_owned(),
                    points: Vec::new(),
                });
                series.len() - 1
            }
        };
        series[k].points.push((time, offset));
    }
    if series.iter().all(|s| s.points.is_empty()) {
        bail!("the CSV holds no records");
    }
    Ok(series)
}

/// A unit for the offset axis: its name and how many of it make a second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Unit {
    /// `us`, `ms` or `s`.
    pub name: &'static str,
    /// Units per second.
    pub per_second: f64,
}

/// The unit that shows offsets up to `largest` seconds (absolute) with
/// tick numbers below 1000.
pub fn unit_for(largest: f64) -> Unit {
    if largest < 1e-3 {
        Unit {
            name: "us",
            per_second: 1e6,
        }
    } else if largest < 1.0 {
        Unit {
            name: "ms",
            per_second: 1e3,
        }
    } else {
        Unit {
            name: "s",
            per_second: 1.0,
        }
    }
}

/// The lowest and highest point of one time bucket, with their indices.
struct Bucket {
    number: usize,
    low: (usize, (f64, f64)),
    high: (usize, (f64, f64)),
}

impl Bucket {
    /// Appends the bucket's points in time order.
    fn flush(&self, out: &mut Vec<(f64, f64)>) {
        let (low, high) = (self.low, self.high);
        if low.0 == high.0 {
            out.push(low.1);
        } else if low.0 < high.0 {
            out.extend([low.1, high.1]);
        } else {
            out.extend([high.1, low.1]);
        }
    }
}

/// Reduces a series to at most about [`BUCKETS`] points: for each time
/// bucket the lowest and the highest offset, in time order.
fn decimate(points: &[(f64, f64)], start: f64, end: f64) -> Vec<(f64, f64)> {
    let buckets = BUCKETS / 2;
    if points.len() <= BUCKETS || end <= start {
        return points.to_vec();
    }
    let width = (end - start) / buckets as f64;
    let mut out = Vec::with_capacity(BUCKETS + 2);
    let mut current: Option<Bucket> = None;
    for (i, &(t, y)) in points.iter().enumerate() {
        // Truncation gives the bucket number; times before `start` (none
        // here) would go to the first.
        let number = (((t - start) / width).max(0.0) as usize).min(buckets - 1);
        match &mut current {
            Some(b) if b.number == number => {
                if y < b.low.1.1 {
                    b.low = (i, (t, y));
                }
                if y > b.high.1.1 {
                    b.high = (i, (t, y));
                }
            }
            _ => {
                if let Some(b) = &current {
                    b.flush(&mut out);
                }
                current = Some(Bucket {
                    number,
                    low: (i, (t, y)),
                    high: (i, (t, y)),
                });
            }
        }
    }
    if let Some(b) = &current {
        b.flush(&mut out);
    }
    out
}

/// A tick number without trailing zeros: `10`, `2.5`, `-0.25`.
fn tick(value: f64) -> String {
    let rounded = (value * 1e6).round() / 1e6;
    if rounded == 0.0 {
        "0".to_owned()
    } else {
        format!("{rounded}")
    }
}

/// Finds a TrueType font: the file named by [`FONT_ENV`], else the first of
/// the usual DejaVu Sans / Liberation Sans paths, else what `fc-match` names
/// for `sans-serif`.
pub fn find_font() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(FONT_ENV) {
        return Ok(PathBuf::from(path));
    }
    if let Some(path) = FONT_PATHS.iter().map(Path::new).find(|p| p.is_file()) {
        return Ok(path.to_path_buf());
    }
    if let Ok(out) = std::process::Command::new("fc-match")
        .args(["-f", "%{file}", "sans-serif:fontformat=TrueType"])
        .output()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && path.is_file() {
            return Ok(path);
        }
    }
    bail!(
        "no TrueType font found for the plot's text: install fonts-dejavu-core \
         (.ci/run does) or set {FONT_ENV} to a .ttf file"
    )
}

/// Loads the font once per process and registers it with plotters.
fn register_font() -> Result<()> {
    static REGISTERED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let load = || -> Result<()> {
                let path = find_font()?;
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read the font {}", path.display()))?;
                // plotters keeps fonts for the life of the process.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font(FAMILY, FontStyle::Normal, bytes)
                    .map_err(|_| anyhow!("{} is not a TrueType/OpenType font", path.display()))?;
                Ok(())
            };
            load().map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(|e| anyhow!(e))
}

/// Turns a plotters error (which may borrow nothing but is not always
/// `Send + Sync`) into an anyhow error.
fn drawing<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<T> {
    result.map_err(|e| anyhow!("drawing the plot: {e}"))
}

/// Draws `series` as a [`WIDTH`] x [`HEIGHT`] PNG at `path`, titled `title`.
pub fn render(title: &str, series: &[Series], path: &Path) -> Result<()> {
    register_font()?;
    let points = series.iter().flat_map(|s| s.points.iter());
    let (mut t0, mut t1, mut y0, mut y1) = (f64::MAX, f64::MIN, 0.0f64, 0.0f64);
    for &(t, y) in points {
        if t.is_finite() && y.is_finite() {
            t0 = t0.min(t);
            t1 = t1.max(t);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    if t0 > t1 {
        bail!("nothing to plot: no finite records");
    }
    let unit = unit_for(y0.abs().max(y1.abs()));
    let (mut y0, mut y1) = (y0 * unit.per_second, y1 * unit.per_second);
    if y1 - y0 < 1e-9 {
        (y0, y1) = (y0 - 1.0, y1 + 1.0);
    }
    let pad = (y1 - y0) * 0.05;
    let (y0, y1) = (y0 - pad, y1 + pad);
    let (h0, mut h1) = (t0 / 3600.0, t1 / 3600.0);
    if h1 <= h0 {
        h1 = h0 + 1.0 / 60.0;
    }

    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    drawing(root.fill(&WHITE))?;
    let root = root.margin(8, 0, 0, 0);
    let root = drawing(root.titled(title, (FAMILY, 30).into_font().color(&BLACK)))?;
    let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);

    let mut chart = drawing(
        ChartBuilder::on(&plot_area)
            .margin_left(10)
            .margin_right(20)
            .margin_top(10)
            .margin_bottom(10)
            .x_label_area_size(55)
            .y_label_area_size(85)
            .build_cartesian_2d(h0..h1, y0..y1),
    )?;
    drawing(
        chart
            .configure_mesh()
            .x_desc("time (hours)")
            .y_desc(format!("offset from true time ({})", unit.name))
            .label_style((FAMILY, 17))
            .axis_desc_style((FAMILY, 19))
            .bold_line_style(RGBColor(205, 205, 205))
            .light_line_style(RGBColor(238, 238, 238))
            .max_light_lines(2)
            .x_labels(12)
            .y_labels(10)
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .draw(),
    )?;
    // Zero offset, the target, as a darker line.
    drawing(chart.draw_series(LineSeries::new(
        [(h0, 0.0), (h1, 0.0)],
        RGBColor(90, 90, 90).stroke_width(1),
    )))?;

    let scaled = |s: &Series| -> Vec<(f64, f64)> {
        decimate(&s.points, t0, t1)
            .into_iter()
            .filter(|(t, y)| t.is_finite() && y.is_finite())
            .map(|(t, y)| (t / 3600.0, y * unit.per_second))
            .collect()
    };
    // The grey ones first, so that the coloured ones are drawn over them.
    for s in series.iter().skip(MAX_LEGEND) {
        drawing(chart.draw_series(LineSeries::new(scaled(s), OTHERS.stroke_width(1))))?;
    }
    for (s, colour) in series.iter().zip(PALETTE) {
        drawing(chart.draw_series(LineSeries::new(scaled(s), colour.stroke_width(2))))?;
    }

    // The legend, beside the plot so that it never hides a line.
    let text = (FAMILY, 17).into_font().color(&BLACK);
    let mut entries: Vec<(String, RGBColor)> = series
        .iter()
        .zip(PALETTE)
        .map(|(s, c)| (s.name.clone(), c))
        .collect();
    let others = series.len().saturating_sub(MAX_LEGEND);
    if others > 0 {
        entries.push((format!("{others} more nodes"), OTHERS));
    }
    let top = 30;
    drawing(legend_area.draw_text("nodes", &(FAMILY, 19).into_font().color(&BLACK), (10, top)))?;
    for (k, (name, colour)) in entries.iter().enumerate() {
        let y = top + 34 + 28 * k as i32;
        drawing(legend_area.draw(&PathElement::new(
            vec![(10, y + 9), (42, y + 9)],
            colour.stroke_width(4),
        )))?;
        drawing(legend_area.draw_text(name, &text, (52, y)))?;
    }
    drawing(root.present()).with_context(|| format!("cannot write the plot {}", path.display()))?;
    Ok(())
}

/// Reads the CSV at `csv` and draws it to `png`.
pub fn plot_csv(title: &str, csv: &Path, png: &Path) -> Result<()> {
    let file =
        std::fs::File::open(csv).with_context(|| format!("cannot open {}", csv.display()))?;
    let series = read_csv(std::io::BufReader::new(file))
        .with_context(|| format!("reading the records {}", csv.display()))?;
    render(title, &series, png)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use ntp_cli::sim::Simulation;
    use ntp_cli::sim::scenario::Scenario;

    #[test]
    fn reads_the_simulator_csv() {
        let csv = "time,node,offset,frequency_ppm,peer,stratum\n\
                   0,a,0.5,1.0,-,16\n0,b,-0.25,0.0,a,2\n1,a,0.25,1.0,-,16\n";
        let series = read_csv(csv.as_bytes()).unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].name, "a");
        assert_eq!(series[0].points, vec![(0.0, 0.5), (1.0, 0.25)]);
        assert_eq!(series[1].points, vec![(0.0, -0.25)]);
        assert!(read_csv("time,node\n".as_bytes()).is_err());
        assert!(read_csv("time,node,offset\n0,a,x\n".as_bytes()).is_err());
    }

    #[test]
    fn picks_a_unit_and_keeps_the_envelope() {
        assert_eq!(unit_for(500e-6).name, "us");
        assert_eq!(unit_for(2e-3).name, "ms");
        assert_eq!(unit_for(3.0).name, "s");
        assert_eq!(tick(10.0), "10");
        assert_eq!(tick(-2.5), "-2.5");
        assert_eq!(tick(-1e-12), "0");
        assert_eq!(tick(0.1 + 0.2), "0.3");
        let points: Vec<(f64, f64)> = (0..100_000)
            .map(|i| (f64::from(i), if i == 77_777 { 9.0 } else { 0.0 }))
            .collect();
        let reduced = decimate(&points, 0.0, 99_999.0);
        assert!(reduced.len() <= BUCKETS);
        assert!(reduced.contains(&(77_777.0, 9.0)));
        assert!(reduced.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    /// Renders a short run of a scenario with several nodes and checks the
    /// file: a PNG of the expected size, text in the title band and lines in
    /// the plot area.
    #[test]
    fn renders_a_short_scenario() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/sim/symmetric.json");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut scenario = Scenario::from_json(&text).unwrap().shortened();
        scenario.duration = scenario.duration.min(3.0 * 3600.0);
        let mut sim = Simulation::new(&scenario, None).unwrap();
        sim.run();
        let mut csv = Vec::new();
        sim.into_recording().write_csv(&mut csv).unwrap();
        let series = read_csv(csv.as_slice()).unwrap();
        assert!(series.len() >= 2, "{series:?}");

        let out = std::env::temp_dir().join(format!("xtask-plot-test-{}.png", std::process::id()));
        render(&scenario.name, &series, &out).unwrap();
        let file = std::fs::File::open(&out).unwrap();
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        std::fs::remove_file(&out).unwrap();
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        let pixel = |x: u32, y: u32| {
            let i = y as usize * info.line_size + 3 * x as usize;
            [buf[i], buf[i + 1], buf[i + 2]]
        };
        let count = |x0: u32, x1: u32, y0: u32, y1: u32, f: &dyn Fn([u8; 3]) -> bool| {
            (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| f(pixel(x, y)))
                .count()
        };
        // The title: dark text in the band at the top.
        let dark = |p: [u8; 3]| p.iter().all(|&c| c < 100);
        assert!(count(0, WIDTH, 0, 40, &dark) > 200, "no title text");
        // The plot area (inside the axes): coloured pixels of the lines,
        // which neither the white background nor the grey grid has.
        let coloured = |p: [u8; 3]| {
            let (lo, hi) = (*p.iter().min().unwrap(), *p.iter().max().unwrap());
            hi - lo > 60
        };
        let lines = count(120, WIDTH - LEGEND_WIDTH - 30, 60, HEIGHT - 80, &coloured);
        assert!(lines > 500, "only {lines} coloured pixels in the plot area");
        // The legend panel holds the node colours too.
        assert!(count(WIDTH - LEGEND_WIDTH, WIDTH, 40, HEIGHT, &coloured) > 50);
    }
}
