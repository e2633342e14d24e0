//! The stop as a picture: one row per class of client, time left to right, each request or
//! connection a mark coloured by its outcome, the signal, the close of admissions and the
//! exit as vertical lines.
//!
//! Rows with many requests (the load) are drawn as time bins, each bin split by the share of
//! each colour, so the file stays small however long the load ran.

use std::fmt::Write as _;
use std::time::Instant;

use crate::options::Options;
use crate::outcome::{Class, Outcome, Record, Tone};
use crate::run::Stop;
use crate::verdict::Marks;

const LEFT: f64 = 150.0;
const WIDTH: f64 = 900.0;
const ROW: f64 = 22.0;
const TOP: f64 = 30.0;
const BINS: usize = 180;

fn colour(tone: Tone) -> &'static str {
    match tone {
        Tone::Good => "#2e9e44",
        Tone::Clean => "#4a7fd1",
        Tone::Odd => "#d9a400",
        Tone::Lost => "#d33a2c",
    }
}

/// The SVG of `stop`, titled `title`.
pub fn render(stop: &Stop, opts: &Options, title: &str) -> String {
    let marks = Marks::of(stop, opts.slack);
    let start = stop
        .records
        .iter()
        .map(|record| record.start)
        .min()
        .unwrap_or(marks.t)
        .max(marks.t - opts.warmup - opts.lead);
    let end = marks.end.max(marks.t) + (marks.end.max(marks.t) - start) / 20;
    let span = (end - start).as_secs_f64().max(0.001);
    let x = |at: Instant| -> f64 {
        let secs = if at >= start {
            (at - start).as_secs_f64()
        } else {
            0.0
        };
        LEFT + (secs / span).min(1.0) * WIDTH
    };
    // A row whose path answered 404 (its check skipped) is left out.
    let rows: Vec<Class> = Class::ALL
        .into_iter()
        .filter(|class| {
            stop.records
                .iter()
                .any(|record| record.class == *class && record.outcome != Outcome::OtherStatus(404))
        })
        .collect();
    let height = TOP + ROW * rows.len() as f64 + 78.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="12">"#,
        w = LEFT + WIDTH + 20.0
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="10" y="18" font-weight="bold">{}</text>"#,
        escape(title)
    );
    for (index, class) in rows.iter().enumerate() {
        let y = TOP + ROW * index as f64;
        let _ = writeln!(
            svg,
            r#"<text x="10" y="{}">{}</text>"#,
            y + 14.0,
            class.label()
        );
        let records: Vec<&Record> = stop
            .records
            .iter()
            .filter(|record| record.class == *class)
            .collect();
        if records.len() > 40 {
            bins(&mut svg, &records, y, start, span);
        } else {
            for record in records {
                let (x0, x1) = (x(record.start), x(record.end).max(x(record.start) + 2.0));
                let fill = colour(record.outcome.tone());
                let _ = writeln!(
                    svg,
                    r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{fill}" fill-opacity="0.35"><title>{}</title></rect>"#,
                    y + 4.0,
                    x1 - x0,
                    ROW - 8.0,
                    escape(&record.outcome.to_string())
                );
                let _ = writeln!(
                    svg,
                    r#"<rect x="{:.1}" y="{:.1}" width="3" height="{:.1}" fill="{fill}"/>"#,
                    x1 - 3.0,
                    y + 2.0,
                    ROW - 4.0
                );
            }
        }
    }
    let bottom = TOP + ROW * rows.len() as f64;
    // The time axis: seconds from the signal.
    let step = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0]
        .into_iter()
        .find(|step| span / step <= 12.0)
        .unwrap_or(300.0);
    let before = marks.t.saturating_duration_since(start).as_secs_f64();
    let mut tick = -(before / step).floor() * step;
    while tick <= span - before {
        let tx = LEFT + ((before + tick) / span) * WIDTH;
        let sign = if tick > 0.0 { "+" } else { "" };
        let _ = writeln!(
            svg,
            r##"<line x1="{tx:.1}" y1="{bottom}" x2="{tx:.1}" y2="{:.1}" stroke="#999999"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#666666" font-size="10">{sign}{tick} s</text>"##,
            bottom + 4.0,
            bottom + 14.0
        );
        tick = ((tick + step) * 1000.0).round() / 1000.0;
    }
    let exit_label = if stop.killed { "killed" } else { "exit" };
    let exit_colour = if stop.killed { "#d33a2c" } else { "#000000" };
    let mut lines = vec![
        (marks.t, opts.signal.as_str(), "#000000"),
        (marks.a, "admissions closed", "#777777"),
    ];
    if stop.exit.is_some() {
        lines.push((marks.end, exit_label, exit_colour));
    }
    for (index, (at, label, stroke)) in lines.into_iter().enumerate() {
        let lx = x(at);
        let anchor = if lx > LEFT + WIDTH - 60.0 {
            "end"
        } else {
            "middle"
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{lx:.1}" y1="{TOP}" x2="{lx:.1}" y2="{bottom}" stroke="{stroke}" stroke-dasharray="4 3"/>"#
        );
        let _ = writeln!(
            svg,
            r#"<text x="{lx:.1}" y="{:.1}" text-anchor="{anchor}" fill="{stroke}">{label}</text>"#,
            bottom + 28.0 + 13.0 * index as f64
        );
    }
    let legend_y = height - 8.0;
    for (index, (tone, label)) in [
        (Tone::Good, "ok, Close 1001"),
        (Tone::Clean, "refused or closed cleanly"),
        (Tone::Odd, "another status"),
        (Tone::Lost, "reset, cut, no answer"),
    ]
    .into_iter()
    .enumerate()
    {
        let lx = LEFT + 200.0 * index as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{}" y="{legend_y}">{label}</text>"#,
            legend_y - 9.0,
            colour(tone),
            lx + 14.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A busy row: per time bin, a stacked bar of the outcomes' tones.
fn bins(svg: &mut String, records: &[&Record], y: f64, start: Instant, span: f64) {
    let mut counts = vec![[0usize; 4]; BINS];
    for record in records {
        let secs = record.end.saturating_duration_since(start).as_secs_f64();
        let bin = ((secs / span) * BINS as f64) as usize;
        let tone = match record.outcome.tone() {
            Tone::Good => 0,
            Tone::Clean => 1,
            Tone::Odd => 2,
            Tone::Lost => 3,
        };
        counts[bin.min(BINS - 1)][tone] += 1;
    }
    let width = WIDTH / BINS as f64;
    for (bin, tones) in counts.iter().enumerate() {
        let total: usize = tones.iter().sum();
        if total == 0 {
            continue;
        }
        let mut top = y + 2.0;
        for (tone, count) in [Tone::Lost, Tone::Odd, Tone::Clean, Tone::Good]
            .into_iter()
            .zip([tones[3], tones[2], tones[1], tones[0]])
        {
            if count == 0 {
                continue;
            }
            // A lost request is never thinner than a pixel.
            let h = ((ROW - 4.0) * count as f64 / total as f64).max(1.0);
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{h:.1}" fill="{}"/>"#,
                LEFT + width * bin as f64,
                width,
                colour(tone)
            );
            top += h;
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
