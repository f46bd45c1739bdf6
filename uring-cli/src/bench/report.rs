//! Results of `uring bench`: the table, the JSON document and the SVG plot.

use std::io::Write;
use std::path::Path;

use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::util::cpu_per_gb;
use crate::{Api, Mode};

/// The raw loop's ring in one line: the setup flags and registrations it ran with, how
/// it reaped, and its notification slack (of the first raw cell; the slack depends on the
/// payload size unless `--notif-slack` fixed it).
pub fn ring_line(t: &super::raw::RawTuning, ring: &super::raw::RingUsed) -> String {
    let reap = match t.reap {
        super::raw::Reap::Peek => "peek",
        super::raw::Reap::Wait => "wait",
    };
    format!(
        "ring {}{}, SQ {} CQ {}, reap {reap}{}, notification slack {}{}{}",
        if ring.setup_flags.is_empty() {
            "without flags"
        } else {
            &ring.setup_flags
        },
        if ring.ring_fd_registered {
            ", ring fd registered"
        } else {
            ""
        },
        ring.sq_entries,
        ring.cq_entries,
        if t.wait_one { " (wait for one)" } else { "" },
        match t.notif_slack {
            Some(n) => n.to_string(),
            None => format!("{} (automatic)", ring.notif_slack),
        },
        if t.poll_first { ", POLL_FIRST" } else { "" },
        if t.link { ", linked batches" } else { "" },
    )
}

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
    /// Throughput in MB/s (10^6 B/s): bytes sent for TCP, bytes received for UDP (bytes
    /// sent with `--udp --to`). With `--repeat`, the median of the rounds.
    pub mb_per_s: f64,
    /// Rounds measured (`--repeat`; fewer if Ctrl-C ended the run). The counters and CPU
    /// costs of the cell are totals over its rounds, its rate is their median.
    pub rounds: u32,
    /// The slowest round's MB/s.
    pub mb_per_s_min: f64,
    /// The fastest round's MB/s.
    pub mb_per_s_max: f64,
    /// Each round's MB/s, in run order.
    pub mb_per_s_rounds: Vec<f64>,
    /// Sending thread CPU seconds per GB (10^9 B).
    pub sender_cpu_s_per_gb: Option<f64>,
    /// The user-space part of `sender_cpu_s_per_gb` (the rest is the kernel's: the
    /// sends themselves). Times `size`, it is nanoseconds per buffer. The kernel accounts
    /// user and system time by sampling at its timer tick: over a short cell, a share of a
    /// few per cent is a rough figure.
    pub sender_user_s_per_gb: Option<f64>,
    /// Receiving thread CPU seconds per GB.
    pub receiver_cpu_s_per_gb: Option<f64>,
    /// Whole-process CPU seconds per GB (all threads, io_uring workers included).
    pub process_cpu_s_per_gb: Option<f64>,
    /// Zero-copy notifications reaped.
    pub zc_notifs: u64,
    /// Notifications that reported IORING_NOTIF_USAGE_ZC_COPIED.
    pub zc_copied: u64,
    /// Times the raw loop stopped to wait for notifications (its cap of requests awaiting
    /// one was reached); 0 for the safe layer, which waits inside `send`.
    pub zc_notif_waits: u64,
    /// Seconds the raw loop spent in those waits.
    pub zc_notif_wait_s: f64,
    /// `zc_copied / zc_notifs`; absent for plain send.
    pub copied_share: Option<f64>,
    /// The safe layer: buffers handed back over all rounds (absent for the raw loop).
    pub buffers_returned: Option<u64>,
    /// The safe layer: the share of those buffers sent zero-copy (for `auto`, what the
    /// adaptive policy chose, probes and warm-up included).
    pub zero_copy_share: Option<f64>,
    /// `auto`: the path the adaptive policy chose at the end of the (last) round for the
    /// size class of the payload: `zero-copy`, `plain (kernel copies)` or
    /// `plain (measured)`, with `, learning` while it still measures both paths.
    pub adaptive_path: Option<String>,
    /// The raw loop: the ring it ran with (setup flags, registered ring fd, SQ/CQ
    /// entries, notification slack); absent for the safe layer.
    pub ring: Option<super::raw::RingUsed>,
    /// Buffers sent zero-copy, behind `zero_copy_share`.
    #[serde(skip)]
    pub buffers_zero_copy: Option<u64>,
    /// MB/s over plain send's at the same size in the same run (medians).
    pub speedup_vs_send: Option<f64>,
    /// Raw totals behind the per-GB costs, for combining rounds.
    #[serde(skip)]
    pub raw: RawCost,
}

/// A cell's bytes moved and CPU times, from which the per-GB costs are computed.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCost {
    /// Bytes the rate counts (sent, or received for loopback UDP).
    pub moved: u64,
    /// Sending thread CPU.
    pub sender_cpu: Duration,
    /// Its user-space part.
    pub sender_user_cpu: Duration,
    /// Receiving thread CPU (our receiver only).
    pub receiver_cpu: Option<Duration>,
    /// Whole-process CPU.
    pub process_cpu: Option<Duration>,
}

/// The median of `v` (the mean of the middle two for an even count); 0 when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Combines the rounds of one cell (same mode, api and size, at least one round): totals
/// of the counters and CPU times, the median rate with its minimum and maximum.
pub fn combine(rounds: &[Cell]) -> Cell {
    let mut c = rounds[0].clone();
    for r in &rounds[1..] {
        c.seconds += r.seconds;
        c.bytes_sent += r.bytes_sent;
        c.bytes_received = c.bytes_received.zip(r.bytes_received).map(|(a, b)| a + b);
        c.requests += r.requests;
        c.soft_errors += r.soft_errors;
        c.zc_notifs += r.zc_notifs;
        c.zc_copied += r.zc_copied;
        c.zc_notif_waits += r.zc_notif_waits;
        c.zc_notif_wait_s += r.zc_notif_wait_s;
        c.buffers_returned = c
            .buffers_returned
            .zip(r.buffers_returned)
            .map(|(a, b)| a + b);
        c.buffers_zero_copy = c
            .buffers_zero_copy
            .zip(r.buffers_zero_copy)
            .map(|(a, b)| a + b);
        if r.adaptive_path.is_some() {
            c.adaptive_path.clone_from(&r.adaptive_path);
        }
        c.raw.moved += r.raw.moved;
        c.raw.sender_cpu += r.raw.sender_cpu;
        c.raw.sender_user_cpu += r.raw.sender_user_cpu;
        c.raw.receiver_cpu = c
            .raw
            .receiver_cpu
            .zip(r.raw.receiver_cpu)
            .map(|(a, b)| a + b);
        c.raw.process_cpu = c.raw.process_cpu.zip(r.raw.process_cpu).map(|(a, b)| a + b);
    }
    let rates: Vec<f64> = rounds.iter().map(|r| r.mb_per_s).collect();
    c.rounds = rounds.len() as u32;
    c.mb_per_s = median(&rates);
    c.mb_per_s_min = rates.iter().copied().fold(f64::INFINITY, f64::min);
    c.mb_per_s_max = rates.iter().copied().fold(0.0, f64::max);
    c.mb_per_s_rounds = rates;
    c.sender_cpu_s_per_gb = cpu_per_gb(c.raw.sender_cpu, c.raw.moved);
    c.sender_user_s_per_gb = cpu_per_gb(c.raw.sender_user_cpu, c.raw.moved);
    c.receiver_cpu_s_per_gb = c.raw.receiver_cpu.and_then(|t| cpu_per_gb(t, c.raw.moved));
    c.process_cpu_s_per_gb = c.raw.process_cpu.and_then(|t| cpu_per_gb(t, c.raw.moved));
    c.copied_share =
        (c.mode.is_zc() && c.zc_notifs > 0).then(|| c.zc_copied as f64 / c.zc_notifs as f64);
    c.zero_copy_share = zero_copy_share(c.buffers_returned, c.buffers_zero_copy);
    c
}

/// Buffers sent zero-copy over buffers returned, when both are known and some returned.
pub fn zero_copy_share(returned: Option<u64>, zero_copy: Option<u64>) -> Option<f64> {
    match (returned, zero_copy) {
        (Some(n), Some(z)) if n > 0 => Some(z as f64 / n as f64),
        _ => None,
    }
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
    /// Requested seconds per cell and round.
    pub duration_s: f64,
    /// Rounds of every cell (`--repeat`), run alternating: round 1 of every cell, then
    /// round 2, ...
    pub repeat: u32,
    /// Requests per batch.
    pub inflight: u32,
    /// Registered socket.
    pub fixed_file: bool,
    /// Receiver used MSG_WAITALL.
    pub waitall: bool,
    /// The raw loop's ring-side choices as asked (`--taskrun`, `--reap`, ...); what each
    /// cell's ring ended up with is its `ring`.
    pub raw_tuning: super::raw::RawTuning,
    /// The CPU the sender thread was pinned to (`--pin S`), if any.
    pub pin_sender: Option<usize>,
    /// The CPU our own receiver thread was pinned to (`--pin S,R`), if any.
    pub pin_receiver: Option<usize>,
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
        "uring bench: {} over {} ({}), {} s per cell{}, {} in flight{}{}; Linux {}",
        run.transport,
        run.family,
        if run.target == run.path {
            format!("path {}", run.path)
        } else {
            format!("to {}, path {}", run.target, run.path)
        },
        run.duration_s,
        if run.repeat > 1 {
            format!(" x {} rounds", run.repeat)
        } else {
            String::new()
        },
        run.inflight,
        if run.fixed_file { ", fixed file" } else { "" },
        if run.waitall {
            ", receiver MSG_WAITALL"
        } else {
            ""
        },
        run.kernel,
    )?;
    if let Some(ring) = run.results.iter().find_map(|c| c.ring.as_ref()) {
        writeln!(out, "raw loop: {}", ring_line(&run.raw_tuning, ring))?;
    }
    // With rounds, the median's spread: min and max columns after MB/s.
    let spread = run.results.iter().any(|c| c.rounds > 1);
    let range_head = if spread {
        format!(" {:>10} {:>10}", "min", "max")
    } else {
        String::new()
    };
    writeln!(
        out,
        "{:<11} {:<5} {:>8} {:>10}{range_head} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "mode", "api", "size", "MB/s", "snd s/GB", "rcv s/GB", "all s/GB", "copied", "vs send"
    )?;
    for c in &run.results {
        let range = if spread {
            format!(" {:>10.1} {:>10.1}", c.mb_per_s_min, c.mb_per_s_max)
        } else {
            String::new()
        };
        writeln!(
            out,
            "{:<11} {:<5} {:>8} {:>10.1}{range} {:>9} {:>9} {:>9} {:>8} {:>8}",
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
        "MB/s = 10^6 B/s ({}{}); s/GB = CPU seconds per 10^9 B: sender thread, receiver thread, \
         whole process; copied = share of zero-copy sends the kernel copied (REPORT_USAGE; \
         {})",
        if run.transport == "udp" && run.results.iter().any(|c| c.bytes_received.is_some()) {
            "bytes received"
        } else {
            "bytes sent"
        },
        if run.repeat > 1 {
            format!(
                ", median of {} rounds, min and max beside it; counters and s/GB over all rounds",
                run.repeat
            )
        } else {
            String::new()
        },
        match run.path {
            "loopback" => "expected on the loopback path",
            "drop" => "none expected on the drop path: the device frees the pages uncopied",
            _ => "remote: veth copies, a NIC that sends from user pages does not",
        }
    )?;
    Ok(())
}

/// Line colours of the plot, dark enough for text on white.
const COLORS: [plotters::style::RGBColor; 6] = [
    plotters::style::RGBColor(0x1f, 0x5f, 0xb4),
    plotters::style::RGBColor(0xc6, 0x28, 0x28),
    plotters::style::RGBColor(0x2e, 0x7d, 0x32),
    plotters::style::RGBColor(0x7b, 0x3f, 0xa0),
    plotters::style::RGBColor(0xd8, 0x6a, 0x00),
    plotters::style::RGBColor(0x45, 0x45, 0x45),
];

/// Draws MB/s against payload size (log scale), one line per mode: ticks at the measured
/// sizes, the median as the point and the rounds' min-max as a bar (`--repeat`). A run of a
/// single size spreads the modes' points around its tick and labels each with its mode and
/// rate, so that it reads as a comparison rather than a column of dots.
pub fn plot(path: &Path, run: &Run) -> Result<()> {
    use plotters::prelude::*;

    let mut sizes: Vec<f64> = run.results.iter().map(|c| c.size as f64).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let (Some(&lo), Some(&hi)) = (sizes.first(), sizes.last()) else {
        anyhow::bail!("nothing to plot: no cell was measured");
    };
    let single = sizes.len() == 1;
    let (xmin, xmax) = if single {
        (lo / 2.0, hi * 2.0)
    } else {
        (lo / 1.25, hi * 1.25)
    };
    let ymax = run
        .results
        .iter()
        .map(|c| c.mb_per_s_max.max(c.mb_per_s))
        .fold(0f64, f64::max)
        .max(1.0)
        * 1.15;
    let mut modes: Vec<(Mode, Api)> = Vec::new();
    for c in &run.results {
        if !modes.contains(&(c.mode, c.api)) {
            modes.push((c.mode, c.api));
        }
    }
    let n = modes.len();
    let rounds = run.results.iter().map(|c| c.rounds).max().unwrap_or(1);
    // Where mode `i`'s point at `size` goes: spread around the tick when there is one size,
    // nudged beside it when min-max bars would cover each other, on it otherwise.
    let spread = if single {
        1.5f64
    } else if rounds > 1 {
        1.03
    } else {
        1.0
    };
    let x_of = |i: usize, size: f64| -> f64 {
        if n > 1 {
            size * spread.powf(2.0 * i as f64 / (n - 1) as f64 - 1.0)
        } else {
            size
        }
    };

    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    let draw = || -> Result<(), Box<dyn std::error::Error + '_>> {
        root.fill(&WHITE)?;
        let caption = format!(
            "uring bench: {} over {}, path {}, {} in flight, Linux {}",
            run.transport, run.family, run.path, run.inflight, run.kernel
        );
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(56)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (xmin..xmax).log_scale().with_key_points(sizes.clone()),
                0f64..ymax,
            )?;
        chart
            .configure_mesh()
            .x_desc("payload size (bytes per send)")
            .y_desc(if rounds > 1 {
                format!("MB/s (10^6 B/s): median of {rounds} rounds, bar min-max")
            } else {
                "MB/s (10^6 B/s)".to_string()
            })
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .draw()?;
        for (i, &(mode, api)) in modes.iter().enumerate() {
            let color = COLORS[i % COLORS.len()].to_rgba();
            let mut cells: Vec<&Cell> = run
                .results
                .iter()
                .filter(|c| c.mode == mode && c.api == api)
                .collect();
            cells.sort_by_key(|c| c.size);
            // `auto` exists only in the safe layer: its name says it.
            let label = match api {
                Api::Safe if mode != Mode::Auto => format!("{} (safe)", mode.name()),
                _ => mode.name().to_string(),
            };
            let points: Vec<(f64, f64)> = cells
                .iter()
                .map(|c| (x_of(i, c.size as f64), c.mb_per_s))
                .collect();
            let series = if points.len() > 1 {
                chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            } else {
                chart.draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
            };
            series.label(label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
            // Min-max bars of the rounds, with caps.
            for c in cells.iter().filter(|c| c.rounds > 1) {
                let x = x_of(i, c.size as f64);
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, c.mb_per_s_min), (x, c.mb_per_s_max)],
                    color.stroke_width(2),
                )))?;
                for y in [c.mb_per_s_min, c.mb_per_s_max] {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(-6, 0), (6, 0)], color.stroke_width(2)),
                    ))?;
                }
            }
            chart.draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, if single { 5 } else { 3 }, color.filled())),
            )?;
            if single {
                for (c, &p) in cells.iter().zip(&points) {
                    chart.draw_series(std::iter::once(
                        EmptyElement::at(p)
                            + Text::new(
                                format!("{label}: {:.0} MB/s", c.mb_per_s),
                                (8, -18),
                                ("sans-serif", 14).into_font().color(&color),
                            ),
                    ))?;
                }
            }
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
