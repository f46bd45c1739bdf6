//! Results of `uring bench`: the table, the JSON document and the SVG plot.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::{Api, Mode};

/// One measured cell: a mode at a payload size.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Send mode.
    pub mode: Mode,
    /// Sender implementation.
    pub api: Api,
    /// Payload bytes per request.
    pub size: usize,
    /// Wall seconds the sender ran.
    pub seconds: f64,
    /// Bytes the sender's completions reported.
    pub bytes_sent: u64,
    /// Bytes our receiver counted (absent with `--to`).
    pub bytes_received: Option<u64>,
    /// Send requests completed.
    pub requests: u64,
    /// Requests that ended in EAGAIN/ENOBUFS (datagrams under pressure).
    pub soft_errors: u64,
    /// Throughput in MB/s (10^6 B/s): bytes sent for TCP, bytes received for UDP.
    pub mb_per_s: f64,
    /// Sending thread CPU seconds per GB (10^9 B).
    pub sender_cpu_s_per_gb: Option<f64>,
    /// Receiving thread CPU seconds per GB.
    pub receiver_cpu_s_per_gb: Option<f64>,
    /// Whole-process CPU seconds per GB (all threads, io_uring workers included).
    pub process_cpu_s_per_gb: Option<f64>,
    /// Zero-copy notifications reaped.
    pub zc_notifs: u64,
    /// Notifications that reported IORING_NOTIF_USAGE_ZC_COPIED.
    pub zc_copied: u64,
    /// `zc_copied / zc_notifs`; absent for plain send.
    pub copied_share: Option<f64>,
    /// MB/s over plain send's at the same size in the same run.
    pub speedup_vs_send: Option<f64>,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Run {
    /// `tcp` or `udp`.
    pub transport: &'static str,
    /// `ipv4` or `ipv6`.
    pub family: &'static str,
    /// `loopback` or the `--to` target.
    pub target: String,
    /// The network path measured: `loopback` (local delivery: the kernel copies zero-copy
    /// payloads), `drop` (an interface without carrier drops the frames: pages released
    /// uncopied), or `remote` (see `util::net_path`).
    pub path: &'static str,
    /// Requested seconds per cell.
    pub duration_s: f64,
    /// Requests per batch.
    pub inflight: u32,
    /// Registered socket.
    pub fixed_file: bool,
    /// Receiver used MSG_WAITALL.
    pub waitall: bool,
    /// Kernel release.
    pub kernel: String,
    /// The cells, in run order.
    pub results: Vec<Cell>,
    /// Ctrl-C ended the run: `results` holds the cells completed before it.
    pub interrupted: bool,
}

impl Run {
    /// Fills `speedup_vs_send` from the plain-send cells of the same size.
    pub fn compute_speedups(&mut self) {
        let base: Vec<(usize, f64)> = self
            .results
            .iter()
            .filter(|c| c.mode == Mode::Send && c.mb_per_s > 0.0)
            .map(|c| (c.size, c.mb_per_s))
            .collect();
        for c in &mut self.results {
            c.speedup_vs_send = base
                .iter()
                .find(|(s, _)| *s == c.size)
                .map(|(_, b)| c.mb_per_s / b);
        }
    }
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.prec$}"))
}

/// Prints the table.
pub fn print_table(out: &mut impl Write, run: &Run) -> Result<()> {
    writeln!(
        out,
        "uring bench: {} over {} ({}, path {}), {} s per cell, {} in flight{}{}; Linux {}",
        run.transport,
        run.family,
        run.target,
        run.path,
        run.duration_s,
        run.inflight,
        if run.fixed_file { ", fixed file" } else { "" },
        if run.waitall {
            ", receiver MSG_WAITALL"
        } else {
            ""
        },
        run.kernel,
    )?;
    writeln!(
        out,
        "{:<11} {:<5} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "mode", "api", "size", "MB/s", "snd s/GB", "rcv s/GB", "all s/GB", "copied", "vs send"
    )?;
    for c in &run.results {
        writeln!(
            out,
            "{:<11} {:<5} {:>8} {:>10.1} {:>9} {:>9} {:>9} {:>8} {:>8}",
            c.mode.name(),
            match c.api {
                Api::Raw => "raw",
                Api::Safe => "safe",
            },
            c.size,
            c.mb_per_s,
            opt(c.sender_cpu_s_per_gb, 3),
            opt(c.receiver_cpu_s_per_gb, 3),
            opt(c.process_cpu_s_per_gb, 3),
            c.copied_share
                .map_or("-".into(), |s| format!("{:.1}%", s * 100.0)),
            c.speedup_vs_send.map_or("-".into(), |s| format!("{s:.2}x")),
        )?;
    }
    writeln!(
        out,
        "MB/s = 10^6 B/s ({}); s/GB = CPU seconds per 10^9 B: sender thread, receiver thread, \
         whole process; copied = share of zero-copy sends the kernel copied (REPORT_USAGE; \
         {})",
        if run.transport == "udp" && run.results.iter().any(|c| c.bytes_received.is_some()) {
            "bytes received"
        } else {
            "bytes sent"
        },
        match run.path {
            "loopback" => "expected on the loopback path",
            "drop" => "none expected on the drop path: the device frees the pages uncopied",
            _ => "remote: veth copies, a NIC that sends from user pages does not",
        }
    )?;
    Ok(())
}

/// Draws MB/s against payload size (log scale), one line per mode.
pub fn plot(path: &Path, run: &Run) -> Result<()> {
    use plotters::prelude::*;

    let sizes: Vec<f64> = run.results.iter().map(|c| c.size as f64).collect();
    let (xmin, xmax) = sizes
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), &s| (lo.min(s), hi.max(s)));
    let ymax = run
        .results
        .iter()
        .map(|c| c.mb_per_s)
        .fold(0f64, f64::max)
        .max(1.0)
        * 1.1;
    let (xmin, xmax) = if xmin >= xmax {
        (xmin / 2.0, xmax * 2.0)
    } else {
        (xmin / 1.25, xmax * 1.25)
    };
    let mut modes: Vec<(Mode, Api)> = Vec::new();
    for c in &run.results {
        if !modes.contains(&(c.mode, c.api)) {
            modes.push((c.mode, c.api));
        }
    }

    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        let caption = format!(
            "uring bench: {} over {}, {} in flight, Linux {}",
            run.transport, run.family, run.inflight, run.kernel
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 26))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d((xmin..xmax).log_scale(), 0f64..ymax)?;
        chart
            .configure_mesh()
            .x_desc("payload size (bytes)")
            .y_desc("MB/s (10^6 B/s)")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()?;
        for (i, &(mode, api)) in modes.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let mut points: Vec<(f64, f64)> = run
                .results
                .iter()
                .filter(|c| c.mode == mode && c.api == api)
                .map(|c| (c.size as f64, c.mb_per_s))
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            // `auto` exists only in the safe layer: its name says it.
            let label = match api {
                Api::Safe if mode != Mode::Auto => format!("{} (safe)", mode.name()),
                _ => mode.name().to_string(),
            };
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, color.filled())),
            )?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 16))
            .border_style(BLACK)
            .background_style(WHITE.mix(0.85))
            .draw()?;
        root.present()?;
        Ok(())
    };
    draw()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot draw {}", path.display()))
}
