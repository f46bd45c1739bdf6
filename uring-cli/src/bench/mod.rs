//! `uring bench`: plain send against the zero-copy sends, over loopback with our own
//! receiver thread, to an external sink (`--to`), or as a sink (`--listen`).

pub mod nop;
pub mod raw;
pub mod report;
pub mod safe;
pub mod sink;

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::util::{self, cpu_per_gb, mb_per_s, process_cpu};
use crate::{Api, BenchArgs, Mode};
use report::{Cell, Run};

/// Default payload sweep over TCP.
pub const TCP_SIZES: &[usize] = &[1400, 4096, 16384, 65000, 262_144];
/// Default payload sweep over UDP (a datagram carries at most 65507 bytes over IPv4).
pub const UDP_SIZES: &[usize] = &[1400, 4096, 16384, 65000];

/// Whether this build has the safe zero-copy layer (`uring::zc`).
pub const SAFE_LAYER: bool = true;

/// The modes of the default run.
fn default_modes() -> Vec<Mode> {
    let mut m = vec![Mode::Send, Mode::Zc, Mode::ZcFixed, Mode::SendmsgZc];
    if SAFE_LAYER {
        m.push(Mode::Auto);
    }
    m
}

/// A mode with the implementation that drives it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Plan {
    mode: Mode,
    api: Api,
}

fn plans(args: &BenchArgs) -> Result<Vec<Plan>> {
    let mut modes = if args.mode.is_empty() && args.to.is_some() {
        // One result line: liburing's example defaults (zero-copy from a registered buffer).
        vec![Mode::ZcFixed]
    } else if args.mode.is_empty() {
        let mut m = default_modes();
        if args.api == Some(Api::Safe) && !args.udp {
            // The safe layer sends streams with send_zc; sendmsg_zc is for datagrams.
            crate::util::note!("note: sendmsg-zc has no safe form on TCP; left out of --api safe");
            m.retain(|&m| m != Mode::SendmsgZc);
        }
        m
    } else {
        args.mode.clone()
    };
    let mut seen = Vec::new();
    modes.retain(|m| {
        let new = !seen.contains(m);
        seen.push(*m);
        new
    });
    modes
        .into_iter()
        .map(|mode| {
            let api = match (mode, args.api) {
                (Mode::Auto, Some(Api::Raw)) => {
                    bail!("mode auto is the safe layer's adaptive policy; it has no raw form")
                }
                (Mode::Auto, _) => Api::Safe,
                (_, api) => api.unwrap_or(Api::Raw),
            };
            if api == Api::Safe && mode == Mode::SendmsgZc && !args.udp {
                bail!(
                    "mode sendmsg-zc has no safe form on TCP (the safe layer sends streams \
                     with send_zc, and sendmsg_zc to an address for datagrams); use --api \
                     raw, --mode zc, or --udp"
                );
            }
            if api == Api::Safe && !SAFE_LAYER {
                if mode == Mode::Auto {
                    bail!(
                        "mode auto needs the safe zero-copy layer (uring::zc), which this build \
                         does not have yet; choose another mode"
                    );
                }
                bail!(
                    "--api safe needs the safe zero-copy layer (uring::zc), which this build \
                     does not have yet; use --api raw"
                );
            }
            Ok(Plan { mode, api })
        })
        .collect()
}

/// Runs `uring bench` (everything but `nop`).
pub fn run(args: &BenchArgs) -> Result<()> {
    if let Some(spec) = &args.listen {
        if args.udp {
            bail!("--listen is a TCP sink; --udp is for sending (loopback run, or --to)");
        }
        let addr = util::listen_addr(spec, args.ipv6)?;
        let limit = if args.once { Some(1) } else { args.count };
        return sink::listen(addr, limit, args.waitall);
    }
    let plans = plans(args)?;
    let pins = Pins::from_args(args)?;
    let sizes: Vec<usize> = if !args.size.is_empty() {
        args.size.clone()
    } else if args.to.is_some() {
        vec![65000]
    } else if args.udp {
        UDP_SIZES.to_vec()
    } else {
        TCP_SIZES.to_vec()
    };
    // With --to, where to and along which path; the family is the target's.
    let dest = match &args.to {
        Some(t) => Some(util::resolve(t)?),
        None => None,
    };
    let v6 = dest.map_or(args.ipv6, |d| d.is_ipv6());
    let path = match dest {
        Some(d) => util::net_path(d)?,
        None => "loopback",
    };
    if args.udp {
        for &s in &sizes {
            util::check_udp_size(s, v6)?;
        }
    }
    for &s in &sizes {
        if s > (1 << 30) {
            bail!("payload size {s} is too large (at most 1 GiB)");
        }
    }
    if let Some(p) = &args.plot {
        if p.extension().and_then(|e| e.to_str()) != Some("svg") {
            bail!("--plot writes SVG: give a file name ending in .svg");
        }
    }
    let mut run = Run {
        transport: if args.udp { "udp" } else { "tcp" },
        family: if v6 { "ipv6" } else { "ipv4" },
        target: args.to.clone().unwrap_or_else(|| "loopback".into()),
        path,
        duration_s: args.duration,
        repeat: args.repeat,
        inflight: args.inflight,
        fixed_file: args.fixed_file,
        waitall: args.waitall,
        raw_tuning: args.raw.clone(),
        pin_sender: pins.sender,
        pin_receiver: pins.receiver,
        kernel: rustix::system::uname()
            .release()
            .to_string_lossy()
            .into_owned(),
        results: Vec::new(),
        interrupted: false,
    };

    let cells: Vec<(Plan, usize)> = plans
        .iter()
        .flat_map(|&p| sizes.iter().map(move |&s| (p, s)))
        .collect();
    let bench = match (dest, &args.to) {
        (Some(dest), _) if args.udp => Bench::UdpTo { dest },
        (_, Some(target)) => Bench::TcpTo {
            target: target.clone(),
        },
        _ => Bench::loopback(args)?,
    };
    catch_sigint()?;
    let total = cells.len() * args.repeat as usize;
    let pb = progress(total as u64);
    let mut failure = None;
    // Every cell's rounds; the rounds alternate: round 1 of every cell, then round 2, ...
    let mut rounds: Vec<Vec<Cell>> = vec![Vec::new(); cells.len()];
    let mut done = 0usize;
    'rounds: for round in 1..=args.repeat {
        for (i, &(plan, size)) in cells.iter().enumerate() {
            let of_rounds = if args.repeat > 1 {
                format!(" (round {round}/{})", args.repeat)
            } else {
                String::new()
            };
            pb.set_message(format!(
                "{} {} {} B{of_rounds}",
                run.transport,
                plan.mode.name(),
                size
            ));
            let measured = bench.measure(args, pins, plan, size);
            if INTERRUPTED.load(Ordering::Relaxed) {
                // Ctrl-C: this cell was cut short (or failed for it); the completed ones
                // stand.
                run.interrupted = true;
                break 'rounds;
            }
            match measured {
                Ok(c) => {
                    done += 1;
                    if pb.is_hidden() {
                        // Not a terminal: one plain line per cell instead of a redrawn bar.
                        crate::util::note!(
                            "cell {done}/{total}{of_rounds}: {} {} {} B: {:.1} MB/s",
                            run.transport,
                            c.mode.name(),
                            c.size,
                            c.mb_per_s
                        );
                    }
                    rounds[i].push(c);
                    pb.inc(1);
                }
                Err(e) => {
                    failure = Some(e);
                    break 'rounds;
                }
            }
        }
    }
    pb.finish_and_clear();
    if let Some(e) = failure {
        return Err(e);
    }
    run.results = rounds
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| report::combine(r))
        .collect();
    run.compute_speedups();
    if run.interrupted {
        crate::util::note!("interrupted: {done} of {total} cells measured");
    }

    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &run)?;
        use std::io::Write;
        writeln!(out)?;
    } else if args.to.is_some() {
        print_to_lines(&mut out, &run)?;
    } else {
        report::print_table(&mut out, &run)?;
    }
    if let Some(path) = &args.plot {
        if run.results.is_empty() {
            crate::util::note!("no cell completed: no plot written");
        } else {
            report::plot(path, &run)?;
            crate::util::note!("plot written to {}", path.display());
        }
    }
    if run.interrupted {
        return Err(Interrupted.into());
    }
    Ok(())
}

/// The error of a run ended by Ctrl-C (SIGINT) after printing what it had measured: the
/// process exits with 130 (128 + SIGINT), as a shell reports a command it interrupted.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Set by the SIGINT handler; the senders poll it (once per batch) and stop.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Catches the first SIGINT (the second one kills, as usual: SA_RESETHAND). Without
/// SA_RESTART, a blocking call of the interrupted thread returns EINTR, which every wait
/// of the bench treats as a wake-up.
fn catch_sigint() -> Result<()> {
    // SAFETY: an all-zero sigaction is a valid value of this plain C struct.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    let handler: extern "C" fn(libc::c_int) = on_sigint;
    sa.sa_sigaction = handler as libc::sighandler_t;
    sa.sa_flags = libc::SA_RESETHAND;
    // SAFETY: `sa.sa_mask` is a valid, exclusively borrowed sigset_t.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: a valid sigaction whose handler only stores to an atomic; no old action wanted.
    if unsafe { libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("sigaction(SIGINT)");
    }
    Ok(())
}

fn progress(len: u64) -> ProgressBar {
    // Drawn only on a terminal; hidden (and replaced by plain lines) otherwise.
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let pb = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
    {
        pb.set_style(style);
    }
    if !pb.is_hidden() {
        pb.enable_steady_tick(Duration::from_millis(120));
    }
    pb
}

fn send_config(args: &BenchArgs, mode: Mode, size: usize) -> raw::SendConfig {
    raw::SendConfig {
        mode,
        size,
        inflight: args.inflight,
        duration: Duration::from_secs_f64(args.duration),
        fixed_file: args.fixed_file,
        coalesce: !args.no_coalesce,
        distinct_buffers: args.distinct_buffers,
        tuning: args.raw.clone(),
    }
}

/// Fills the derived fields of a cell from the sender's and receiver's stats.
fn cell(
    plan: Plan,
    size: usize,
    tx: &raw::SendStats,
    rx: Option<&sink::SinkStats>,
    udp: bool,
    process: Option<Duration>,
) -> Cell {
    let secs = tx.elapsed.as_secs_f64();
    let moved = match (udp, rx) {
        (true, Some(rx)) => rx.bytes,
        _ => tx.bytes,
    };
    let rate = mb_per_s(moved, secs);
    Cell {
        mode: plan.mode,
        api: plan.api,
        size,
        seconds: secs,
        bytes_sent: tx.bytes,
        bytes_received: rx.map(|r| r.bytes),
        requests: tx.requests,
        soft_errors: tx.soft_errors,
        mb_per_s: rate,
        rounds: 1,
        mb_per_s_min: rate,
        mb_per_s_max: rate,
        mb_per_s_rounds: vec![rate],
        sender_cpu_s_per_gb: cpu_per_gb(tx.cpu, moved),
        sender_user_s_per_gb: cpu_per_gb(tx.user_cpu, moved),
        receiver_cpu_s_per_gb: rx.and_then(|r| cpu_per_gb(r.cpu, moved)),
        process_cpu_s_per_gb: process.and_then(|p| cpu_per_gb(p, moved)),
        zc_notifs: tx.notifs,
        zc_copied: tx.copied,
        zc_notif_waits: tx.notif_waits,
        zc_notif_wait_s: tx.notif_wait.as_secs_f64(),
        copied_share: (plan.mode.is_zc() && tx.notifs > 0)
            .then(|| tx.copied as f64 / tx.notifs as f64),
        buffers_returned: tx.buffers.map(|b| b.0),
        buffers_zero_copy: tx.buffers.map(|b| b.1),
        zero_copy_share: report::zero_copy_share(tx.buffers.map(|b| b.0), tx.buffers.map(|b| b.1)),
        adaptive_path: tx.adaptive_path.clone(),
        ring: tx.ring.clone(),
        speedup_vs_send: None,
        raw: report::RawCost {
            moved,
            sender_cpu: tx.cpu,
            sender_user_cpu: tx.user_cpu,
            receiver_cpu: rx.map(|r| r.cpu),
            process_cpu: process,
        },
    }
}

/// CPUs to pin the sender thread and our own receiver thread to (`--pin S[,R]`).
#[derive(Clone, Copy, Debug, Default)]
struct Pins {
    sender: Option<usize>,
    receiver: Option<usize>,
}

impl Pins {
    /// Checked against the CPUs this process may run on, before anything runs.
    fn from_args(args: &BenchArgs) -> Result<Pins> {
        let (sender, receiver) = match args.pin[..] {
            [] => (None, None),
            [s] => (Some(s), None),
            [s, r] => (Some(s), Some(r)),
            _ => bail!("--pin takes one or two CPUs: the sender's, then the receiver's"),
        };
        if receiver.is_some() && args.to.is_some() {
            bail!(
                "--pin S,R: R pins our own receiver, and a run with --to has none (the \
                 receiver is elsewhere); use --pin S"
            );
        }
        let allowed = rustix::thread::sched_getaffinity(None).context("sched_getaffinity")?;
        for cpu in sender.iter().chain(receiver.iter()) {
            let max = rustix::thread::CpuSet::MAX_CPU;
            if *cpu >= max || !allowed.is_set(*cpu) {
                let cpus: Vec<String> = (0..max)
                    .filter(|&c| allowed.is_set(c))
                    .map(|c| c.to_string())
                    .collect();
                bail!(
                    "--pin: CPU {cpu} is not one this process may run on (it may: {})",
                    cpus.join(",")
                );
            }
        }
        Ok(Pins { sender, receiver })
    }
}

/// Pins the calling thread to `cpu`, if one is given, and checks that it took (the
/// thread's affinity read back is that CPU alone).
fn pin_to(cpu: Option<usize>) -> Result<()> {
    if let Some(cpu) = cpu {
        let mut set = rustix::thread::CpuSet::new();
        set.set(cpu);
        rustix::thread::sched_setaffinity(None, &set)
            .with_context(|| format!("pinning a thread to CPU {cpu}"))?;
        let now = rustix::thread::sched_getaffinity(None).context("sched_getaffinity")?;
        if now.count() != 1 || !now.is_set(cpu) {
            bail!("pinning a thread to CPU {cpu}: its affinity is {now:?} instead");
        }
    }
    Ok(())
}

/// Runs one sender on `fd` with the plan's implementation, on the CPU `pin` names if any;
/// it stops early on Ctrl-C.
fn send_on(
    fd: BorrowedFd<'_>,
    pin: Option<usize>,
    plan: Plan,
    cfg: &raw::SendConfig,
) -> Result<raw::SendStats> {
    pin_to(pin)?;
    match plan.api {
        Api::Raw => raw::run(fd.as_raw_fd(), cfg, Some(&INTERRUPTED)),
        Api::Safe => safe::run(fd, cfg, Some(&INTERRUPTED)),
    }
}

/// Where the cells are measured.
enum Bench {
    /// Over loopback, to our own receiver thread (a TCP listener for TCP).
    Loopback {
        ip: IpAddr,
        listener: Option<TcpListener>,
        limit: Duration,
    },
    /// To an external TCP sink.
    TcpTo { target: String },
    /// Send-only datagrams to an address.
    UdpTo { dest: SocketAddr },
}

impl Bench {
    fn loopback(args: &BenchArgs) -> Result<Bench> {
        let ip: IpAddr = if args.ipv6 {
            Ipv6Addr::LOCALHOST.into()
        } else {
            Ipv4Addr::LOCALHOST.into()
        };
        let listener = if args.udp {
            None
        } else {
            Some(
                TcpListener::bind(SocketAddr::new(ip, 0))
                    .with_context(|| format!("cannot listen on {ip}:0 (is {ip} configured?)"))?,
            )
        };
        let limit = Duration::from_secs_f64(args.duration) + Duration::from_secs(60);
        Ok(Bench::Loopback {
            ip,
            listener,
            limit,
        })
    }

    /// Measures one cell.
    fn measure(&self, args: &BenchArgs, pins: Pins, plan: Plan, size: usize) -> Result<Cell> {
        let cfg = send_config(args, plan.mode, size);
        match self {
            Bench::Loopback {
                ip,
                listener,
                limit,
            } => {
                let cpu0 = process_cpu();
                let (tx, rx) = match listener {
                    Some(l) => tcp_cell(l, pins, plan, &cfg, args.waitall, *limit)?,
                    None => udp_cell(*ip, pins, plan, &cfg, *limit)?,
                };
                let process = process_cpu().saturating_sub(cpu0);
                Ok(cell(plan, size, &tx, Some(&rx), args.udp, Some(process)))
            }
            Bench::TcpTo { target } => {
                let stream = util::connect_tcp(target)?;
                let cpu0 = process_cpu();
                let tx = std::thread::scope(|s| {
                    s.spawn(|| send_on(stream.as_fd(), pins.sender, plan, &cfg))
                        .join()
                        .map_err(|_| anyhow!("the sender thread panicked"))
                })??;
                let process = process_cpu().saturating_sub(cpu0);
                let _ = stream.shutdown(std::net::Shutdown::Write);
                Ok(cell(plan, size, &tx, None, false, Some(process)))
            }
            Bench::UdpTo { dest } => {
                // Send-only: no receiver needed (nor counted); the rate is what the
                // sender's completions report.
                let any: IpAddr = if dest.is_ipv6() {
                    Ipv6Addr::UNSPECIFIED.into()
                } else {
                    Ipv4Addr::UNSPECIFIED.into()
                };
                let sock = UdpSocket::bind(SocketAddr::new(any, 0))
                    .with_context(|| format!("cannot bind a UDP socket on {any}"))?;
                sock.connect(dest)
                    .with_context(|| format!("cannot send to {dest}"))?;
                let cpu0 = process_cpu();
                let tx = std::thread::scope(|s| {
                    s.spawn(|| send_on(sock.as_fd(), pins.sender, plan, &cfg))
                        .join()
                        .map_err(|_| anyhow!("the sender thread panicked"))
                })?
                .with_context(|| format!("udp {} {} B to {dest}", plan.mode.name(), size))?;
                let process = process_cpu().saturating_sub(cpu0);
                Ok(cell(plan, size, &tx, None, true, Some(process)))
            }
        }
    }
}

fn tcp_cell(
    listener: &TcpListener,
    pins: Pins,
    plan: Plan,
    cfg: &raw::SendConfig,
    waitall: bool,
    limit: Duration,
) -> Result<(raw::SendStats, sink::SinkStats)> {
    let addr = listener.local_addr()?;
    let abort = AtomicBool::new(false);
    std::thread::scope(|s| {
        let rx = s.spawn(|| -> Result<sink::SinkStats> {
            if let Err(e) = pin_to(pins.receiver) {
                abort.store(true, Ordering::Relaxed);
                return Err(e);
            }
            let conn = sink::accept_one(listener, &abort, limit)?;
            sink::drain_tcp(&conn, waitall, limit)
        });
        let tx = s.spawn(|| -> Result<raw::SendStats> {
            let stream = std::net::TcpStream::connect(addr)
                .with_context(|| format!("cannot connect to our receiver at {addr}"));
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    abort.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            };
            let r = send_on(stream.as_fd(), pins.sender, plan, cfg);
            let _ = stream.shutdown(std::net::Shutdown::Write);
            r
        });
        let tx = tx
            .join()
            .map_err(|_| anyhow!("the sender thread panicked"))?;
        let rx = rx
            .join()
            .map_err(|_| anyhow!("the receiver thread panicked"))?;
        let tx = tx.with_context(|| format!("{} {} B", plan.mode.name(), cfg.size))?;
        let rx = rx.with_context(|| format!("receiver of {} {} B", plan.mode.name(), cfg.size))?;
        Ok((tx, rx))
    })
}

fn udp_cell(
    ip: IpAddr,
    pins: Pins,
    plan: Plan,
    cfg: &raw::SendConfig,
    limit: Duration,
) -> Result<(raw::SendStats, sink::SinkStats)> {
    let rx_sock = UdpSocket::bind(SocketAddr::new(ip, 0))
        .with_context(|| format!("cannot bind a UDP socket on {ip}"))?;
    sink::grow_rcvbuf(&rx_sock, 8 << 20);
    let addr = rx_sock.local_addr()?;
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let rx = s.spawn(|| {
            pin_to(pins.receiver)?;
            sink::drain_udp(&rx_sock, &done, limit)
        });
        let tx = s.spawn(|| -> Result<raw::SendStats> {
            let r = (|| {
                let sock = UdpSocket::bind(SocketAddr::new(ip, 0))?;
                sock.connect(addr)?;
                send_on(sock.as_fd(), pins.sender, plan, cfg)
            })();
            done.store(true, Ordering::Release);
            r
        });
        let tx = tx
            .join()
            .map_err(|_| anyhow!("the sender thread panicked"))?;
        let rx = rx
            .join()
            .map_err(|_| anyhow!("the receiver thread panicked"))?;
        let tx = tx.with_context(|| format!("udp {} {} B", plan.mode.name(), cfg.size))?;
        Ok((tx, rx?))
    })
}

fn print_to_lines(out: &mut impl std::io::Write, run: &Run) -> Result<()> {
    for c in &run.results {
        writeln!(
            out,
            "to {} {}/{} {} size {} inflight {}{}{}: {:.1} MB/s{}, {} bytes in {:.3} s, sender CPU {} s/GB, process CPU {} s/GB, copied {}, path {}{}{}",
            run.target,
            run.transport,
            run.family,
            c.mode.name(),
            c.size,
            run.inflight,
            if run.fixed_file && c.api == Api::Raw {
                " fixed-file"
            } else {
                ""
            },
            if c.api == Api::Safe { " safe-api" } else { "" },
            c.mb_per_s,
            if c.rounds > 1 {
                format!(
                    " (median of {} rounds, min {:.1}, max {:.1})",
                    c.rounds, c.mb_per_s_min, c.mb_per_s_max
                )
            } else {
                String::new()
            },
            c.bytes_sent,
            c.seconds,
            c.sender_cpu_s_per_gb.map_or("-".into(), |v| format!("{v:.3}")),
            c.process_cpu_s_per_gb.map_or("-".into(), |v| format!("{v:.3}")),
            c.copied_share.map_or("-".into(), |s| format!("{:.1}%", s * 100.0)),
            run.path,
            if c.soft_errors > 0 {
                format!(", {} datagrams refused or dropped", c.soft_errors)
            } else {
                String::new()
            },
            c.ring.as_ref().map_or(String::new(), |r| format!(
                ", {}",
                report::ring_line(&run.raw_tuning, r)
            )),
        )?;
    }
    Ok(())
}
