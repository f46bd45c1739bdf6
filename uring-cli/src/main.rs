//! `uring`: probe the kernel's io_uring, benchmark zero-copy send against plain send, and
//! transfer files with zero-copy send, plain TCP on the wire.
//!
//! ```text
//! uring probe [--json]
//! uring bench [--mode send,zc,zc-fixed,sendmsg-zc,auto] [--api raw|safe] [--size 65000]
//!             [--udp] [-6] [--json] [--repeat N] [--plot FILE.svg]
//! uring bench --listen 9000 --once          # a plain TCP sink
//! uring bench --to HOST:9000 --mode zc-fixed --size 65000 --inflight 8 --duration 3
//! uring bench --udp --to ADDR:PORT          # send-only datagrams, no receiver needed
//! uring bench nop --ops 1000000 --batch 32
//! uring send FILE HOST:PORT                 # like `socat -u FILE TCP:HOST:PORT`
//! uring recv PORT [FILE] [--accept-timeout S]  # like `socat -u TCP-LISTEN:PORT FILE`
//! ```
#![deny(missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod bench;
mod probe;
mod transfer;
mod util;

/// io_uring from the command line: what the kernel offers, how fast zero-copy send is, and
/// file transfer with it.
#[derive(Debug, Parser)]
#[command(name = "uring", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The running kernel's io_uring: opcodes, setup features, limits, and whether
    /// zero-copy send, REPORT_USAGE, registered buffers and buffer rings work (tried).
    Probe {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Benchmark plain send against the zero-copy sends (with no arguments: a loopback
    /// sweep of modes and payload sizes, with its own receiver thread).
    Bench(BenchArgs),
    /// Send FILE to HOST:PORT over TCP through the safe zero-copy layer (registered
    /// buffers, adaptive policy: zero-copy where the kernel does not copy anyway); plain
    /// bytes on the wire.
    Send {
        /// The file to send.
        file: PathBuf,
        /// Where to send it (HOST:PORT).
        target: String,
    },
    /// Receive one TCP connection's bytes on PORT (or ADDR:PORT) into FILE (or stdout),
    /// until the sender closes; gives up after 30 s without a connection (--accept-timeout)
    /// or without data. FILE is created before listening, so a bad FILE fails at once.
    Recv {
        /// Port to listen on (all interfaces), or ADDR:PORT.
        port: String,
        /// Where to write the bytes (default: stdout).
        file: Option<PathBuf>,
        /// Fail unless exactly this many bytes arrive.
        #[arg(long, value_parser = parse_count)]
        expect: Option<u64>,
        /// Listen on IPv6 (`[::]`) when only a port is given.
        #[arg(short = '6', long = "ipv6")]
        ipv6: bool,
        /// Seconds to wait for the connection before giving up (fractional allowed).
        #[arg(long, value_name = "SECS", default_value = "30", value_parser = util::parse_seconds)]
        accept_timeout: f64,
    },
}

/// A send mode of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Plain `send` (IORING_OP_SEND): the kernel copies the payload.
    Send,
    /// Zero-copy send (IORING_OP_SEND_ZC): the kernel pins the payload's pages per request.
    Zc,
    /// Zero-copy send from a registered buffer (send_zc_fixed): pinned once.
    ZcFixed,
    /// Zero-copy sendmsg (IORING_OP_SENDMSG_ZC).
    SendmsgZc,
    /// The safe layer's adaptive policy (`uring::zc::Policy::Adaptive`): plain while the
    /// kernel reports copying zero-copy sends; elsewhere zero-copy for the sizes where it
    /// measured cheaper than plain send.
    Auto,
}

impl Mode {
    /// The name used on the command line and in the output.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Send => "send",
            Mode::Zc => "zc",
            Mode::ZcFixed => "zc-fixed",
            Mode::SendmsgZc => "sendmsg-zc",
            Mode::Auto => "auto",
        }
    }

    /// Whether requests of this mode notify (zero-copy protocol).
    pub fn is_zc(self) -> bool {
        !matches!(self, Mode::Send)
    }
}

/// Which sender implementation drives the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// Our own ring loop on the raw layer (`Sqe::prep_*`, batches, copy_cqes).
    Raw,
    /// The safe zero-copy layer (`uring::zc`).
    Safe,
}

/// Options of `uring bench`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    sub: Option<BenchSub>,
    /// Modes to run (comma-separated); default: all (with --to: zc-fixed).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub mode: Vec<Mode>,
    /// Payload sizes in bytes (comma-separated, suffixes k/M); default: the sweep
    /// 1400,4096,16384,65000,262144 (TCP) or up to 65000 (UDP); with --to: 65000.
    #[arg(long, alias = "sizes", value_delimiter = ',', allow_negative_numbers = true, value_parser = util::parse_size)]
    pub size: Vec<usize>,
    /// Requests per batch: submit N, then reap their completions.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub inflight: u32,
    /// Rounds of every cell, alternating (round 1 of every cell, then round 2, ...): the
    /// table and JSON report the median MB/s with the min and max, the plot draws min-max
    /// bars.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Seconds per cell (fractional allowed).
    #[arg(long, default_value = "2", allow_negative_numbers = true, value_parser = util::parse_seconds)]
    pub duration: f64,
    /// Register the socket (IORING_REGISTER_FILES) and send with IOSQE_FIXED_FILE (raw API
    /// only: the safe layer always names its socket by a registered-file slot).
    #[arg(long)]
    pub fixed_file: bool,
    /// The receiver reads with MSG_WAITALL.
    #[arg(long)]
    pub waitall: bool,
    /// Safe layer: send a stream's queued buffers as IOSQE_IO_LINK chains of one request
    /// each instead of gathering them into one vectored request (`Config::coalesce`).
    #[arg(long)]
    pub no_coalesce: bool,
    /// Safe layer: one buffer per send in flight, each filled once (a sender of distinct
    /// data), instead of clones of one payload (`bytes::Bytes`, or a registered
    /// `SharedSlot` for zc-fixed and auto) as the raw loop sends one payload over and over.
    #[arg(long)]
    pub distinct_buffers: bool,
    /// UDP instead of TCP: over loopback to our own receiver, or with --to send-only to
    /// ADDR:PORT (no receiver needed there: the rate is what the kernel accepted).
    #[arg(long)]
    pub udp: bool,
    /// IPv6 (`[::1]` for the loopback run).
    #[arg(short = '6', long = "ipv6")]
    pub ipv6: bool,
    /// Send to an external plain TCP sink at HOST:PORT instead of our own receiver (with
    /// --udp: datagrams to ADDR:PORT, whether anything receives them or not).
    #[arg(long, value_name = "HOST:PORT", conflicts_with = "listen")]
    pub to: Option<String>,
    /// Be a TCP sink: accept connections on PORT (or ADDR:PORT), read and discard, print
    /// bytes and MB/s per connection.
    #[arg(long, value_name = "[ADDR:]PORT")]
    pub listen: Option<String>,
    /// With --listen: stop after this many connections.
    #[arg(long, requires = "listen", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// With --listen: stop after one connection (= --count 1).
    #[arg(long, requires = "listen", conflicts_with = "count")]
    pub once: bool,
    /// Sender implementation: our raw ring loop, or the safe zero-copy layer.
    #[arg(long, value_enum)]
    pub api: Option<Api>,
    /// Pin the sender thread to CPU S and, on a loopback run, our own receiver thread to
    /// CPU R (`--pin S,R`; `--pin S` pins the sender only). Unpinned, the scheduler places
    /// both threads anew for every cell (on one core, or on two), and on a small machine
    /// the loopback rates change with that placement.
    #[arg(long, value_name = "S[,R]", value_delimiter = ',')]
    pub pin: Vec<usize>,
    /// Print machine-readable results (JSON) on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Draw MB/s against payload size, one line per mode, into this SVG file (ticks at the
    /// measured sizes; with --repeat, min-max bars around the median).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// The raw loop's ring-side choices.
    #[command(flatten)]
    pub raw: bench::raw::RawTuning,
}

#[derive(Debug, Subcommand)]
enum BenchSub {
    /// NOP round trips through our ring: queue B nops, submit_and_wait(B), copy_cqes.
    Nop {
        /// Total NOPs.
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..))]
        ops: u64,
        /// NOPs per batch.
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
        batch: u32,
        /// Visit the completions in place (`for_each_cqe`) instead of copying them out
        /// (`copy_cqes`).
        #[arg(long)]
        in_place: bool,
    },
}

fn parse_count(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| format!("`{s}` is not a number of bytes"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Probe { json } => probe::run(json),
        Command::Bench(args) => match args.sub {
            Some(BenchSub::Nop {
                ops,
                batch,
                in_place,
            }) => bench::nop::run(ops, batch, in_place),
            None => bench::run(&args),
        },
        Command::Send { file, target } => transfer::send(&file, &target),
        Command::Recv {
            port,
            file,
            expect,
            ipv6,
            accept_timeout,
        } => transfer::recv(
            &port,
            file.as_deref(),
            expect,
            ipv6,
            std::time::Duration::from_secs_f64(accept_timeout),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`uring probe | head -1`): nothing is left to
        // say to anyone, and nothing went wrong for the user. End quietly, as a program
        // killed by SIGPIPE would, but with status 0.
        Err(e) if util::is_broken_pipe(&e) => ExitCode::SUCCESS,
        // Ctrl-C in `uring bench`: what was measured is printed; 128 + SIGINT.
        Err(e) if e.is::<bench::Interrupted>() => ExitCode::from(130),
        Err(e) => {
            crate::util::note!("uring: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
