//! PNG plots of η*(B) curves with simulated points (plotters, bitmap backend) using an embedded
//! DejaVu Sans font, so no system fonts or libraries are needed.

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use std::path::Path;
use std::sync::Once;

/// The embedded font (DejaVu Sans; license in `assets/DejaVuSans-LICENSE.txt`).
pub static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// A plot failure (font or drawing backend).
#[derive(Debug, thiserror::Error)]
#[error("plot: {0}")]
pub struct PlotError(pub String);

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Line,
    Dashed,
    Points,
}

/// One curve or point set.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Index into the palette (curves and their simulated points share a colour).
    pub color: usize,
}

fn register() -> Result<(), PlotError> {
    static ONCE: Once = Once::new();
    let mut res = Ok(());
    ONCE.call_once(|| {
        res = register_font("sans-serif", FontStyle::Normal, FONT)
            .map_err(|_| PlotError("embedded font is invalid".into()));
    });
    res
}

fn pe<E: std::fmt::Display>(e: E) -> PlotError {
    PlotError(e.to_string())
}

/// Writes a log–log plot of `series` (x = batch size, y = learning rate) to `path` (PNG).
pub fn plot_log_log(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), PlotError> {
    register()?;
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0 > 0.0 && p.1 > 0.0 && p.0.is_finite() && p.1.is_finite());
    let (x0, x1, y0, y1) = pts.fold((f64::MAX, 0.0f64, f64::MAX, 0.0f64), |(a, b, c, d), p| {
        (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1))
    });
    if !(x0 < x1 && y0 <= y1) {
        return Err(PlotError("nothing positive to plot".into()));
    }
    let (y0, y1) = (y0 / 1.3, y1 * 1.3);
    let root = BitMapBackend::new(path, (1000, 700)).into_drawing_area();
    root.fill(&WHITE).map_err(pe)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
        .map_err(pe)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| format!("{y:.1e}"))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(pe)?;
    for s in series {
        let c = Palette99::pick(s.color).to_rgba();
        let data: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| p.0 > 0.0 && p.1 > 0.0)
            .collect();
        let anno = match s.style {
            Style::Line => chart
                .draw_series(LineSeries::new(data, c.stroke_width(2)))
                .map_err(pe)?,
            Style::Dashed => chart
                .draw_series(DashedLineSeries::new(data, 8, 5, c.stroke_width(2)))
                .map_err(pe)?,
            Style::Points => chart
                .draw_series(data.into_iter().map(|p| Circle::new(p, 5, c.filled())))
                .map_err(pe)?,
        };
        anno.label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(pe)?;
    root.present().map_err(pe)?;
    Ok(())
}
