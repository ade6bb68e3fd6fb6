//! Pictures: a raster plot of one image's spikes, and the leak-constant study's curves.
//! SVG, drawn with plotters.

use std::path::Path;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use tdsnn::engine::{Graph, Layer, Record};

/// A plot that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PlotError {
    /// The file.
    pub path: String,
    /// What failed.
    pub message: String,
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> PlotError {
    PlotError {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// At most this many spikes are drawn per band (every k-th neuron beyond it), so that the
/// SVG stays small; the band's label says when a band is thinned.
const MAX_DOTS_PER_BAND: usize = 1500;

/// One band of a raster: its label, its spike times, its inhibitory period (origin, release),
/// and a join's delay buffers.
struct Band<'a> {
    name: String,
    spikes: &'a [u32],
    window: Option<(u32, u32)>,
    buffers: Vec<Buffer>,
}

/// A delay buffer of a join: a part's spikes, timed from its source's frame `from` (`o_g`),
/// wait until the join's frame `to` (`o`).
struct Buffer {
    from: u32,
    to: u32,
    label: String,
}

/// The delay buffers of layer `k` in `record` that hold spikes (delay above 0): one per part
/// of a join, its own synapses first, then each further group.
fn buffers(graph: &Graph, record: &Record, k: usize) -> Vec<Buffer> {
    let origin = record.layers[k].frame_origin;
    record
        .join_parts(graph, k)
        .filter(|p| p.delay > 0)
        .map(|p| Buffer {
            from: origin - p.delay,
            to: origin,
            label: format!("delay {} from {}", p.delay, p.source),
        })
        .collect()
}

/// Draws one image's spikes as a raster: a band per layer (input first; flatten, which has
/// no neurons of its own, left out; the output layer's band has no spikes), each neuron a
/// dot at its spike time, and each synapse-based layer's inhibitory period `[R_{k-1}, R_k]`
/// shaded in its band, with the release `R_k` as a line. A join's delay buffers are
/// brackets in its band from each waiting part's frame `o_g` to the join's `o`, labelled
/// `delay d from layer j` (docs/semantics.md, "Branches and joins").
pub fn raster(graph: &Graph, record: &Record, title: &str, path: &Path) -> Result<(), PlotError> {
    let mut bands: Vec<Band> = vec![Band {
        name: format!("input {}", graph.input_shape()),
        spikes: &record.input,
        window: None,
        buffers: Vec::new(),
    }];
    for (k, (layer, l)) in graph.layers().iter().zip(&record.layers).enumerate() {
        let window = l.release.map(|r| (l.frame_origin, r));
        let buffers = buffers(graph, record, k);
        match layer {
            Layer::Flatten => {}
            Layer::Output(_) => bands.push(Band {
                name: format!("{k} output"),
                spikes: &[],
                window,
                buffers,
            }),
            _ => bands.push(Band {
                name: format!("{k} {} {}", layer.kind(), graph.output_shape(k)),
                spikes: &l.spikes,
                window,
                buffers,
            }),
        }
    }
    let t_end = record
        .layers
        .iter()
        .flat_map(|l| l.spikes.iter().copied().chain(l.release))
        .chain(record.input.iter().copied())
        .max()
        .unwrap_or(0)
        + 2;
    let height = 140 + 110 * bands.len() as u32;
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let n = bands.len() as f64;
    let names: Vec<String> = bands.iter().map(|b| b.name.clone()).collect();
    let waits = bands.iter().any(|b| !b.buffers.is_empty());
    let x_desc = if waits {
        "time step (shaded: inhibitory period of each layer; red: its release; purple: a \
         join's delay buffer, from a part's frame to the join's)"
    } else {
        "time step (shaded: inhibitory period of each layer; red: its release)"
    };
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(190)
        .build_cartesian_2d(0f64..f64::from(t_end), 0f64..n)
        .map_err(|e| plot_error(path, e))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(x_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_labels(bands.len() * 2 + 1)
        .y_label_formatter(&|y| {
            // Label each band at its middle, counting bands from the top.
            let band = (n - y - 0.5).round();
            if (n - y - 0.5 - band).abs() < 1e-6 && band >= 0.0 && (band as usize) < names.len() {
                names[band as usize].clone()
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(|e| plot_error(path, e))?;
    for (b, band) in bands.iter().enumerate() {
        let (spikes, window) = (band.spikes, &band.window);
        let top = n - b as f64;
        let bottom = top - 1.0;
        if let Some((origin, release)) = window {
            let shade = RGBColor(255, 200, 120).mix(0.35).filled();
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (f64::from(*origin), bottom + 0.02),
                        (f64::from(*release), top - 0.02),
                    ],
                    shade,
                )))
                .map_err(|e| plot_error(path, e))?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(f64::from(*release), bottom), (f64::from(*release), top)],
                    RED.stroke_width(2),
                )))
                .map_err(|e| plot_error(path, e))?;
        }
        let stride = spikes.len().div_ceil(MAX_DOTS_PER_BAND).max(1);
        let count = spikes.len().max(1) as f64;
        let dots = spikes.iter().enumerate().step_by(stride).map(|(j, &t)| {
            let y = bottom + 0.05 + 0.9 * (j as f64 + 0.5) / count;
            Circle::new((f64::from(t), y), 1, BLUE.mix(0.6).filled())
        });
        chart.draw_series(dots).map_err(|e| plot_error(path, e))?;
        draw_buffers(&mut chart, &band.buffers, top).map_err(|e| plot_error(path, e))?;
    }
    root.present().map_err(|e| plot_error(path, e))
}

/// A join's delay buffers in its band (whose top is at `top`): each a bracket from the
/// part's frame to the join's, labelled with the delay and the source, one under another.
fn draw_buffers<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    buffers: &[Buffer],
    top: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let color = RGBColor(120, 40, 160);
    for (i, b) in buffers.iter().enumerate() {
        // The label above its bracket (a text's position is its top left corner).
        let y = top - 0.16 - 0.16 * i as f64;
        let (from, to) = (f64::from(b.from), f64::from(b.to));
        let bracket = vec![(from, y - 0.04), (from, y), (to, y), (to, y - 0.04)];
        chart.draw_series(std::iter::once(PathElement::new(
            bracket,
            color.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            b.label.clone(),
            (from, y + 0.12),
            ("sans-serif", 12).into_font().color(&color),
        )))?;
    }
    Ok(())
}

/// One series of a line chart: a name and its (x, y) points.
pub type Series = (String, Vec<(f64, f64)>);

/// Draws panels of line charts side by side, one `(title, y label, series)` per panel, all
/// over the same x axis.
pub fn lines(
    title: &str,
    x_label: &str,
    panels: &[(&str, &str, Vec<Series>)],
    path: &Path,
) -> Result<(), PlotError> {
    let root = SVGBackend::new(path, (560 * panels.len() as u32, 440)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(path, e))?;
    let root = root
        .titled(title, ("sans-serif", 20))
        .map_err(|e| plot_error(path, e))?;
    let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (area, (panel, y_label, series)) in root.split_evenly((1, panels.len())).iter().zip(panels)
    {
        let points = series.iter().flat_map(|s| s.1.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in points {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        let pad = ((y1 - y0) * 0.15).max(1e-3);
        let mut chart = ChartBuilder::on(area)
            .caption(*panel, ("sans-serif", 16))
            .margin(15)
            .x_label_area_size(35)
            .y_label_area_size(60)
            .build_cartesian_2d(x0 - 0.25..x1 + 0.25, y0 - pad..y1 + pad)
            .map_err(|e| plot_error(path, e))?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(*y_label)
            .draw()
            .map_err(|e| plot_error(path, e))?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = colors[i % colors.len()];
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(|e| plot_error(path, e))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| plot_error(path, e))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| plot_error(path, e))?;
    }
    root.present().map_err(|e| plot_error(path, e))
}
