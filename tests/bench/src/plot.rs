//! The scaling figure as a PNG. Text is drawn from the DejaVu font embedded in the binary
//! (plotters' `ab_glyph` backend), so the plot renders the same on a machine with no system
//! fonts or fontconfig, e.g. a clean Debian container.

use std::path::Path;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::scaling::Point;

/// A curve: its legend, colour and value per point.
type Series = (&'static str, RGBColor, Box<dyn Fn(&Point) -> f64>);

fn fonts() {
    // Registering twice is harmless; the font is a 'static slice.
    let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    let _ = register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
}

/// Left: ns per poll (listening, connected) and µs of device CPU per session against the
/// socket count; right: memory. Both log–log, with a dashed slope-1 (linear) guide.
pub fn scaling(points: &[Point], path: &Path) -> Result<(), String> {
    fonts();
    let err = |e: &dyn std::fmt::Display| format!("plot {}: {e}", path.display());
    if points.len() < 2 {
        return Err(err(&"need at least two socket counts"));
    }
    let root = BitMapBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let (left, right) = root.split_horizontally(640);
    let xmax = points.last().map_or(256, |p| p.sockets) as f64 * 1.3;
    let x = 0.8f64..xmax;

    // Left panel: CPU.
    let series: [Series; 3] = [
        (
            "poll, all listening (ns)",
            BLUE,
            Box::new(|p| p.listening_ns.median),
        ),
        (
            "poll, all connected (ns)",
            RED,
            Box::new(|p| p.connected_ns.median),
        ),
        (
            "device CPU per session (µs)",
            RGBColor(0, 140, 0),
            Box::new(|p| p.session_us.median),
        ),
    ];
    let all: Vec<f64> = series
        .iter()
        .flat_map(|(_, _, f)| points.iter().map(f))
        .filter(|v| *v > 0.0)
        .collect();
    let lo = all.iter().cloned().fold(f64::MAX, f64::min) / 2.0;
    let hi = all.iter().cloned().fold(0.0, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(&left)
        .caption("CPU vs sockets (log–log)", ("sans-serif", 22).into_font())
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x.clone().log_scale(), (lo.max(0.01)..hi).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("greeting sockets")
        .y_desc("ns per poll / µs per session")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    for (name, color, f) in &series {
        let data: Vec<(f64, f64)> = points.iter().map(|p| (p.sockets as f64, f(p))).collect();
        chart
            .draw_series(LineSeries::new(data.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                data.iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )
            .map_err(|e| err(&e))?;
    }
    // Linear guide through the first connected point.
    let first = &points[0];
    let guide: Vec<(f64, f64)> = points
        .iter()
        .map(|p| {
            (
                p.sockets as f64,
                first.connected_ns.median * p.sockets as f64 / first.sockets as f64,
            )
        })
        .collect();
    chart
        .draw_series(DashedLineSeries::new(
            guide,
            6,
            4,
            BLACK.mix(0.5).stroke_width(1),
        ))
        .map_err(|e| err(&e))?
        .label("linear (slope 1)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;

    // Right panel: memory.
    let mem: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.sockets as f64, p.memory_bytes as f64 / 1024.0))
        .collect();
    let mlo = mem.iter().map(|m| m.1).fold(f64::MAX, f64::min) / 2.0;
    let mhi = mem.iter().map(|m| m.1).fold(0.0, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(&right)
        .caption(
            "static memory vs sockets (log–log)",
            ("sans-serif", 22).into_font(),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x.log_scale(), (mlo..mhi).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("greeting sockets")
        .y_desc("KiB")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| tick(*v))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    let purple = RGBColor(120, 0, 160);
    chart
        .draw_series(LineSeries::new(mem.clone(), purple.stroke_width(2)))
        .map_err(|e| err(&e))?
        .label("slots + buffers + App")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], purple.stroke_width(2)));
    chart
        .draw_series(
            mem.iter()
                .map(|&(x, y)| Circle::new((x, y), 3, purple.filled())),
        )
        .map_err(|e| err(&e))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

/// A log-axis tick without a useless ".0".
fn tick(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
