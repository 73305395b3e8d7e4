//! The alert chart: mentions and critical posts per bucket over the last 48 hours, the
//! baseline band of critical posts, and the alert window shaded. A PNG drawn with plotters
//! and the bundled DejaVu Sans (no system font needed).

use chrono::{DateTime, Utc};
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use super::BucketPoint;
use crate::model::Lang;

/// The chart's size in pixels.
pub const SIZE: (u32, u32) = (800, 400);

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if register_font("sans-serif", FontStyle::Normal, FONT).is_err() {
            tracing::warn!("the bundled chart font could not be read");
        }
    });
}

/// What a chart shows.
pub struct ChartSpec<'a> {
    /// The title (the watched name).
    pub title: &'a str,
    /// The buckets, oldest first.
    pub series: &'a [BucketPoint],
    /// Seconds per bucket.
    pub bucket_secs: i64,
    /// The alert window to shade, seconds since the epoch.
    pub alert_window: Option<(i64, i64)>,
    /// The time zone of the axis labels.
    pub tz: chrono_tz::Tz,
    /// The labels' language.
    pub lang: Lang,
}

/// Draws the chart as PNG bytes.
pub fn png(spec: &ChartSpec) -> anyhow::Result<Vec<u8>> {
    render(|root| draw(root, spec))
}

/// One line of a rank history: its label and (month index, rank) points.
pub type RankLine = (String, Vec<(i32, u32)>);

/// An account's ranks month by month, one line per platform and category (rank 1 on top),
/// as PNG bytes. Months are `year * 12 + month - 1`.
pub fn ranks_png(title: &str, lines: &[RankLine], lang: Lang) -> anyhow::Result<Vec<u8>> {
    render(|root| draw_ranks(root, title, lines, lang))
}

fn render(
    f: impl FnOnce(&Area) -> Result<(), Box<dyn std::error::Error>>,
) -> anyhow::Result<Vec<u8>> {
    register();
    let (w, h) = SIZE;
    let mut rgb = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        f(&root).map_err(|e| anyhow::anyhow!("drawing the chart: {e}"))?;
        root.present()
            .map_err(|e| anyhow::anyhow!("drawing the chart: {e}"))?;
    }
    let img = image::RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| anyhow::anyhow!("the chart buffer has the wrong size"))?;
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)?;
    Ok(out.into_inner())
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

fn draw_ranks(
    root: &Area,
    title: &str,
    lines: &[RankLine],
    lang: Lang,
) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let points = lines.iter().flat_map(|(_, p)| p.iter());
    let (m0, m1, worst) = points.fold((i32::MAX, i32::MIN, 1u32), |(a, b, w), &(m, r)| {
        (a.min(m), b.max(m), w.max(r))
    });
    let (m0, m1) = if m0 > m1 { (0, 1) } else { (m0 - 1, m1 + 1) };
    let label = |m: &i32| {
        let (y, mo) = (m.div_euclid(12), m.rem_euclid(12) + 1);
        format!("{mo:02}/{y}")
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(m0..m1, (worst + 1)..0u32)?;
    chart
        .configure_mesh()
        .x_label_formatter(&label)
        .y_label_formatter(&|v: &u32| {
            if *v == 0 {
                String::new()
            } else {
                v.to_string()
            }
        })
        .y_desc(match lang {
            Lang::Fr => "Rang",
            Lang::En => "Rank",
        })
        .label_style(("sans-serif", 13))
        .draw()?;
    let colors = [RED, BLUE, GREEN, MAGENTA, CYAN, BLACK];
    for (i, (name, pts)) in lines.iter().enumerate() {
        let color = colors[i % colors.len()];
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart.draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

fn draw(root: &Area, spec: &ChartSpec) -> Result<(), Box<dyn std::error::Error>> {
    root.fill(&WHITE)?;
    let s = spec.series;
    let x0 = s.first().map_or(0, |p| p.start);
    let x1 = s
        .last()
        .map_or(1, |p| p.start + spec.bucket_secs)
        .max(x0 + 1);
    let top = s
        .iter()
        .map(|p| p.mentions.max(p.band.1) as f64)
        .fold(4.0, f64::max)
        * 1.1;
    let (title, mentions, critical, band, window) = match spec.lang {
        Lang::Fr => (
            format!("{} — 48 dernières heures", spec.title),
            "Mentions",
            "Critiques",
            "Normale des critiques",
            "Alerte",
        ),
        Lang::En => (
            format!("{} — last 48 hours", spec.title),
            "Mentions",
            "Critical",
            "Usual critical range",
            "Alert",
        ),
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(x0..x1, 0f64..top)?;
    let tz = spec.tz;
    let fmt = move |t: &i64| {
        DateTime::<Utc>::from_timestamp(*t, 0)
            .map(|d| d.with_timezone(&tz).format("%d/%m %Hh").to_string())
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .x_labels(8)
        .x_label_formatter(&fmt)
        .y_desc("posts")
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 12))
        .draw()?;
    if let Some((a, b)) = spec.alert_window {
        let (a, b) = (a.max(x0), b.min(x1));
        if a < b {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(a, 0.0), (b, top)],
                    RGBColor(255, 200, 200).mix(0.5).filled(),
                )))?
                .label(window)
                .legend(|(x, y)| {
                    Rectangle::new(
                        [(x, y - 5), (x + 15, y + 5)],
                        RGBColor(255, 200, 200).filled(),
                    )
                });
        }
    }
    let mid = |p: &BucketPoint| p.start + spec.bucket_secs / 2;
    let mut band_pts: Vec<(i64, f64)> = s.iter().map(|p| (mid(p), p.band.1 as f64)).collect();
    band_pts.extend(s.iter().rev().map(|p| (mid(p), p.band.0 as f64)));
    if !band_pts.is_empty() {
        chart
            .draw_series(std::iter::once(Polygon::new(
                band_pts,
                RGBColor(160, 160, 160).mix(0.35).filled(),
            )))?
            .label(band)
            .legend(|(x, y)| {
                Rectangle::new(
                    [(x, y - 5), (x + 15, y + 5)],
                    RGBColor(190, 190, 190).filled(),
                )
            });
    }
    let blue = RGBColor(40, 90, 200);
    let red = RGBColor(210, 30, 30);
    chart
        .draw_series(LineSeries::new(
            s.iter().map(|p| (mid(p), p.mentions as f64)),
            blue.stroke_width(2),
        ))?
        .label(mentions)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], blue.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(
            s.iter().map(|p| (mid(p), p.critical as f64)),
            red.stroke_width(2),
        ))?
        .label(critical)
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], red.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_is_a_png_of_the_expected_size() {
        let series: Vec<BucketPoint> = (0..192)
            .map(|i| BucketPoint {
                start: 1_700_000_000 + i * 900,
                mentions: 10 + (i % 7) as u64,
                critical: if (150..160).contains(&i) { 30 } else { 3 },
                expected_mentions: 11.0,
                expected_critical: 3.5,
                band: (1, 7),
            })
            .collect();
        let bytes = png(&ChartSpec {
            title: "Besançon — alerte",
            series: &series,
            bucket_secs: 900,
            alert_window: Some((1_700_000_000 + 150 * 900, 1_700_000_000 + 160 * 900)),
            tz: chrono_tz::Europe::Paris,
            lang: Lang::Fr,
        })
        .expect("drawn");
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .expect("a valid PNG");
        assert_eq!((img.width(), img.height()), SIZE);
        // Not blank: the red of the critical line is there.
        let rgb = img.to_rgb8();
        assert!(rgb.pixels().any(|p| p.0 == [210, 30, 30]));
    }
}
