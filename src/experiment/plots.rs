//! PNG charts for the reproduction report, drawn with `plotters`.
//!
//! plotters' bitmap backend rasterises text only through its `ttf` feature (font-kit and the
//! system's fonts, a C build and a font lookup CI does not have). [`GlyphBackend`] wraps the
//! bitmap backend and draws text itself with `ab_glyph` and Cantarell (OFL, shipped in `assets/`),
//! so the charts look the same on every machine.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use plotters::backend::BitMapBackend;
use plotters::prelude::*;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontTransform,
    text_anchor::{HPos, VPos},
};
use std::path::Path;
use std::sync::OnceLock;

const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/Cantarell-Regular.otf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(FONT_BYTES).expect("the bundled Cantarell font parses")
    })
}

/// A line to draw: a name for the legend and its points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// What a chart shows.
#[derive(Clone, Debug)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// The x range; `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    /// The y range; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// Integer ticks on x (epochs, levels).
    pub integer_x: bool,
    /// Legend in the lower left corner (lines that fall to the right) instead of the lower right
    /// (lines that rise).
    pub legend_left: bool,
    pub series: Vec<Series>,
}

/// Why a chart could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{}: drawing the chart: {message}", path.display())]
    Draw {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("{}: writing the PNG: {message}", path.display())]
    Write {
        path: std::path::PathBuf,
        message: String,
    },
}

/// Distinct colours for up to ten lines (then they repeat), readable on white.
pub const PALETTE: [RGBColor; 10] = [
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

fn fit(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-9 {
        return (lo - 1.0, hi + 1.0);
    }
    let m = (hi - lo) * pad;
    (lo - m, hi + m)
}

/// Draws `chart` into an RGB buffer of `width`×`height`.
pub fn render(chart: &LineChart, width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut buf = vec![255u8; (width * height * 3) as usize];
    {
        let backend = GlyphBackend {
            inner: BitMapBackend::with_buffer(&mut buf, (width, height)),
        };
        let root = backend.into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let all = || chart.series.iter().flat_map(|s| s.points.iter());
        let (x0, x1) = chart
            .x_range
            .unwrap_or_else(|| fit(all().map(|p| p.0), 0.02));
        let (y0, y1) = chart
            .y_range
            .unwrap_or_else(|| fit(all().map(|p| p.1), 0.05));
        let mut ctx = ChartBuilder::on(&root)
            .caption(&chart.title, ("sans-serif", 22))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(58)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        let integer_x = chart.integer_x;
        // Enough decimals for ticks a tenth of the range apart (0.13–0.36: two).
        let decimals =
            ((-(x1 - x0).abs().max(1e-9).log10()).ceil() as i32 + 1).clamp(1, 4) as usize;
        let x_fmt = move |x: &f64| {
            if integer_x {
                format!("{}", x.round() as i64)
            } else {
                format!("{x:.decimals$}")
            }
        };
        let x_ticks = if integer_x {
            ((x1 - x0).round() as usize + 1).clamp(2, 12)
        } else {
            8
        };
        ctx.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .x_labels(x_ticks)
            .x_label_formatter(&x_fmt)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in chart.series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let style = ShapeStyle::from(&color).stroke_width(2);
            ctx.draw_series(LineSeries::new(s.points.iter().copied(), style))
                .map_err(|e| e.to_string())?
                .label(&s.name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            if s.points.len() <= 40 {
                ctx.draw_series(
                    s.points
                        .iter()
                        .map(|&p| Circle::new(p, 3, ShapeStyle::from(&color).filled())),
                )
                .map_err(|e| e.to_string())?;
            }
        }
        if !chart.series.is_empty() {
            ctx.configure_series_labels()
                .position(if chart.legend_left {
                    SeriesLabelPosition::LowerLeft
                } else {
                    SeriesLabelPosition::LowerRight
                })
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// Draws `chart` and writes it as a PNG.
pub fn write_png(chart: &LineChart, path: &Path, width: u32, height: u32) -> Result<(), PlotError> {
    let buf = render(chart, width, height).map_err(|message| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    })?;
    let img = image::RgbImage::from_raw(width, height, buf).ok_or_else(|| PlotError::Draw {
        path: path.to_path_buf(),
        message: "buffer size mismatch".into(),
    })?;
    img.save(path).map_err(|e| PlotError::Write {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The Train panel's four curves for `runs` as charts, with their file names: loss per step
/// (the mean of each folded bucket), accuracy per epoch (test and training), test accuracy per
/// occlusion level and per position (latest epoch).
pub fn series_charts(runs: &[&crate::train::series::RunSeries]) -> Vec<(&'static str, LineChart)> {
    let chart = |title: &str, x: &str, y: &str, integer_x: bool, legend_left: bool| LineChart {
        title: title.into(),
        x_label: x.into(),
        y_label: y.into(),
        x_range: None,
        y_range: None,
        integer_x,
        legend_left,
        series: Vec::new(),
    };
    let pts = |v: Vec<[f64; 2]>, scale: f64| v.into_iter().map(|[x, y]| (x, y * scale)).collect();
    let mut loss = chart("Training loss per step", "step", "loss", false, false);
    let mut acc = chart("Accuracy per epoch", "epoch", "accuracy (%)", true, false);
    let mut levels = chart(
        "Test accuracy per occlusion level (latest epoch)",
        "occlusion level",
        "accuracy (%)",
        true,
        true,
    );
    let mut positions = chart(
        "Test accuracy per position in the sequence (latest epoch)",
        "position",
        "accuracy (%)",
        true,
        false,
    );
    for r in runs {
        loss.series.push(Series {
            name: r.name.clone(),
            points: r.loss_buckets(400).iter().map(|b| (b.x, b.mean)).collect(),
        });
        acc.series.push(Series {
            name: format!("{} test", r.name),
            points: pts(r.test_accuracy(), 100.0),
        });
        acc.series.push(Series {
            name: format!("{} training", r.name),
            points: pts(r.train_accuracy(), 100.0),
        });
        levels.series.push(Series {
            name: r.name.clone(),
            points: r
                .test_accuracy_per_level()
                .iter()
                .enumerate()
                .filter_map(|(level, p)| Some((level as f64, p.last()?[1] * 100.0)))
                .collect(),
        });
        positions.series.push(Series {
            name: r.name.clone(),
            points: pts(r.test_accuracy_per_position(), 100.0),
        });
    }
    vec![
        ("loss.png", loss),
        ("accuracy.png", acc),
        ("levels.png", levels),
        ("positions.png", positions),
    ]
}

/// Writes [`series_charts`] of `runs` into `dir` (created if missing); returns the files.
pub fn write_series_pngs(
    runs: &[&crate::train::series::RunSeries],
    dir: &Path,
) -> Result<Vec<std::path::PathBuf>, PlotError> {
    std::fs::create_dir_all(dir).map_err(|e| PlotError::Write {
        path: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (file, chart) in series_charts(runs) {
        let path = dir.join(file);
        write_png(&chart, &path, 1000, 560)?;
        out.push(path);
    }
    Ok(out)
}

/// plotters' bitmap backend with text drawn by `ab_glyph` (see the module docs).
struct GlyphBackend<'a> {
    inner: BitMapBackend<'a>,
}

type DrawResult<E> = Result<(), DrawingErrorKind<E>>;

impl GlyphBackend<'_> {
    /// The glyphs of `text` at `size` px: (outlined glyph, x offset), and the box (width, ascent,
    /// descent).
    fn layout(text: &str, size: f64) -> (Vec<ab_glyph::OutlinedGlyph>, (f32, f32, f32)) {
        let scale = PxScale::from(size as f32);
        let f = font().as_scaled(scale);
        let mut x = 0.0f32;
        let mut out = Vec::new();
        let mut prev: Option<ab_glyph::GlyphId> = None;
        for c in text.chars() {
            let id = f.glyph_id(c);
            if let Some(p) = prev {
                x += f.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, ab_glyph::point(x, f.ascent()));
            x += f.h_advance(id);
            prev = Some(id);
            if let Some(outlined) = font().outline_glyph(glyph) {
                out.push(outlined);
            }
        }
        (out, (x, f.ascent(), -f.descent()))
    }
}

impl DrawingBackend for GlyphBackend<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> DrawResult<Self::ErrorType> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> DrawResult<Self::ErrorType> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> DrawResult<Self::ErrorType> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> DrawResult<Self::ErrorType> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> DrawResult<Self::ErrorType> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> DrawResult<Self::ErrorType> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> DrawResult<Self::ErrorType> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> DrawResult<Self::ErrorType> {
        self.inner.fill_polygon(vert, style)
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let (_, (w, ascent, descent)) = Self::layout(text, style.size());
        Ok((w.ceil() as u32, (ascent + descent).ceil() as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> DrawResult<Self::ErrorType> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (glyphs, (w, ascent, descent)) = Self::layout(text, style.size());
        let (w, h) = (w.ceil() as i32, (ascent + descent).ceil() as i32);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let transform = style.transform();
        let (width, height) = self.get_size();
        for g in glyphs {
            let bounds = g.px_bounds();
            let mut result = Ok(());
            g.draw(|gx, gy, coverage| {
                if coverage <= 0.0 || result.is_err() {
                    return;
                }
                let x = bounds.min.x as i32 + gx as i32 + dx;
                let y = bounds.min.y as i32 + gy as i32 + dy;
                let (x, y) = match transform {
                    FontTransform::None => (x, y),
                    _ => transform.transform(x, y),
                };
                let (x, y) = (pos.0 + x, pos.1 + y);
                if x >= 0 && y >= 0 && (x as u32) < width && (y as u32) < height {
                    result = self.inner.draw_pixel(
                        (x, y),
                        BackendColor {
                            alpha: color.alpha * coverage.min(1.0) as f64,
                            rgb: color.rgb,
                        },
                    );
                }
            });
            result?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> LineChart {
        LineChart {
            title: "Test accuracy per epoch".into(),
            x_label: "epoch".into(),
            y_label: "accuracy (%)".into(),
            x_range: None,
            y_range: Some((0.0, 100.0)),
            integer_x: true,
            legend_left: false,
            series: vec![
                Series {
                    name: "CRNN".into(),
                    points: vec![(1.0, 90.0), (2.0, 95.0), (3.0, 97.0)],
                },
                Series {
                    name: "CNN".into(),
                    points: vec![(1.0, 80.0), (2.0, 85.0), (3.0, 88.0)],
                },
            ],
        }
    }

    #[test]
    fn draws_lines_and_text() {
        let (w, h) = (640, 400);
        let buf = render(&chart(), w, h).unwrap();
        let pixel = |x: u32, y: u32| {
            let i = ((y * w + x) * 3) as usize;
            (buf[i], buf[i + 1], buf[i + 2])
        };
        let count = |c: (u8, u8, u8)| {
            (0..h)
                .flat_map(|y| (0..w).map(move |x| (x, y)))
                .filter(|&(x, y)| pixel(x, y) == c)
                .count()
        };
        // Both series' colours appear (lines and markers).
        assert!(count((31, 119, 180)) > 100);
        assert!(count((255, 127, 14)) > 100);
        // The caption's text is drawn: dark pixels in the top band, which holds nothing else.
        let dark_top = (0..30)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(x, y).0 < 100)
            .count();
        assert!(dark_top > 50, "caption pixels: {dark_top}");
    }

    #[test]
    fn writes_a_png_and_names_the_file_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.png");
        write_png(&chart(), &path, 500, 300).unwrap();
        let img = image::open(&path).unwrap();
        assert_eq!((img.width(), img.height()), (500, 300));
        let bad = dir.path().join("missing-dir/c.png");
        let err = write_png(&chart(), &bad, 500, 300).unwrap_err().to_string();
        assert!(err.contains("missing-dir/c.png"), "{err}");
    }

    #[test]
    fn empty_and_flat_series_still_draw() {
        let mut c = chart();
        c.series.clear();
        c.y_range = None;
        render(&c, 300, 200).unwrap();
        c.series.push(Series {
            name: "flat".into(),
            points: vec![(1.0, 5.0), (2.0, 5.0)],
        });
        render(&c, 300, 200).unwrap();
    }

    #[test]
    fn a_runs_curves_become_four_pngs() {
        use crate::experiment::run::LogLine;
        use crate::metrics::{ImagePrediction, Metrics};
        use crate::train::series::RunSeries;
        use crate::train::{EpochRecord, StepRecord};
        let mut log = Vec::new();
        for epoch in 1..=2usize {
            for step in 0..10usize {
                log.push(LogLine::Step(StepRecord {
                    epoch,
                    step,
                    steps_per_epoch: 10,
                    global_step: (epoch - 1) * 10 + step,
                    loss: 2.0 / (epoch * 10 + step) as f64,
                    accuracy: 0.5,
                    images_per_second: 100.0,
                }));
            }
            let preds: Vec<ImagePrediction> = (0..20u16)
                .map(|i| ImagePrediction {
                    sequence: u32::from(i / 5),
                    position: i % 5,
                    level: (i % 5 + 1) as u8,
                    truth: i % 10,
                    predicted: if i < 14 + epoch as u16 { i % 10 } else { 0 },
                    probability: 0.9,
                })
                .collect();
            let m = Metrics::from_predictions(&preds, 10, 5, 5);
            log.push(LogLine::Epoch(Box::new(EpochRecord {
                epoch,
                train: m.clone(),
                test: m,
                validation: None,
                train_seconds: 1.0,
                eval_seconds: 0.1,
                images_per_second: 100.0,
            })));
        }
        let mut series = RunSeries::new("demo", "CRNN", 2, 160);
        series.load_log(&log);
        let charts = series_charts(&[&series]);
        assert_eq!(charts.len(), 4);
        assert_eq!(charts[0].1.series[0].points.len(), 20, "one point per step");
        assert_eq!(charts[1].1.series.len(), 2, "test and training");
        assert_eq!(
            charts[2].1.series[0].points.len(),
            5,
            "levels 1–5 (no unoccluded images)"
        );
        let dir = tempfile::tempdir().unwrap();
        let files = write_series_pngs(&[&series], &dir.path().join("plots")).unwrap();
        assert_eq!(files.len(), 4);
        for f in files {
            let img = image::open(&f).unwrap();
            assert_eq!((img.width(), img.height()), (1000, 560));
        }
    }
}
