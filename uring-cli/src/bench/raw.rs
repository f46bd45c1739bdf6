//! The raw sender: our own ring loop on the raw layer, the tool's performance showcase.
//!
//! The loop has the shape of liburing's `examples/send-zerocopy.c`, so that the two compare
//! like for like: queue `inflight` requests, submit them with one `io_uring_enter`, reap their
//! first completions in batches with `copy_cqes`, repeat until the time is up. Nothing is
//! allocated per request: every request is a copy of one SQE prepared up front (the same
//! payload, registered once for `zc-fixed`), and completions land in one reused array.
//! The ring-side choices ([`RawTuning`]: task-run mode, registered ring fd, how a batch is
//! reaped, the notification slack, SQ size, POLL_FIRST) are options; the defaults are the
//! best measured against liburing 2.15's example (`bench/RESULTS.md`, section 11), and
//! every cell reports the ring it ran with ([`RingUsed`]).
//!
//! Zero-copy requests follow the notification contract: a request holds its slot until its
//! `IORING_CQE_F_NOTIF` completion, not its first one. The payload is never modified while
//! the run lasts, and it is freed only after every notification has been reaped (bounded
//! drain at the end). The number of requests awaiting a notification is capped
//! ([`notif_cap`]: 4096 for `zc-fixed`; for the modes that pin per request [`notif_slots`]:
//! at least [`NOTIF_SLOTS_PER_INFLIGHT`] × inflight, and enough for [`NOTIF_BYTES`] of
//! payload), which bounds the CQ entries and page references in flight.
//!
//! Why the cap is in bytes: on TCP a zero-copy request is notified only once TCP has
//! acknowledged its data (the skb in the retransmit queue holds the pages), and since
//! Linux 6.10 consecutive zero-copy sends on one socket may share one skb and so one
//! release (notification stacking): notifications arrive in bursts, an ACK at a time. A
//! cap of 32 requests of 1400 B (45 KB unacknowledged, less than one loopback MSS) made
//! the loop wait for notifications every 4 batches or so, a third to a half of its time on
//! loopback (see `bench/RESULTS.md`, section 7).

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rustix::io::Errno;
use serde::Serialize;
use uring::sys::{self, IoringSetupFlags, IOSQE_FIXED_FILE};
use uring::{Cqe, IoUring, MsgHdr, Sqe};

use crate::util::{AlignedBuf, Meter};
use crate::Mode;

/// How the ring runs task work (the kernel's deferred completions: zero-copy
/// notifications, sends that waited for socket space).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Taskrun {
    /// IORING_SETUP_COOP_TASKRUN | SINGLE_ISSUER: task work runs at the next
    /// `io_uring_enter`, without interrupting the task (liburing 2.15's example).
    Coop,
    /// IORING_SETUP_DEFER_TASKRUN | SINGLE_ISSUER (Linux 6.1): task work waits until the
    /// task asks for completions (an enter with GETEVENTS), and runs in one batch then
    /// (liburing 2.15's example with `-d`).
    Defer,
    /// No task-run flag: the kernel interrupts the task to run its task work (IPI or
    /// signal-like notification), liburing 2.3's example minus COOP_TASKRUN.
    Plain,
}

impl Taskrun {
    /// The setup flags of this choice.
    pub fn flags(self) -> IoringSetupFlags {
        match self {
            Taskrun::Coop => IoringSetupFlags::COOP_TASKRUN | IoringSetupFlags::SINGLE_ISSUER,
            Taskrun::Defer => IoringSetupFlags::DEFER_TASKRUN | IoringSetupFlags::SINGLE_ISSUER,
            Taskrun::Plain => IoringSetupFlags::empty(),
        }
    }
}

/// How the loop collects a batch's completions after submitting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reap {
    /// Submit without waiting, then take what the CQ holds and wait only when it is
    /// empty (liburing's example: `io_uring_submit`, then `io_uring_for_each_cqe` before
    /// `io_uring_wait_cqe`). With DEFER_TASKRUN the submit asks for events
    /// (`submit_and_get_events`) whenever notifications are owed (the example's `-d`
    /// does once 128 are).
    Peek,
    /// One `io_uring_enter` submits the batch and waits for its first completion
    /// (IORING_ENTER_EXT_ARG with a timeout), then take the rest.
    Wait,
}

/// The ring-side choices of the raw loop (`uring bench --api raw`); the defaults are the
/// fastest measured here (`bench/RESULTS.md`, section 11). The JSON and the table say
/// which were used.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args, Serialize)]
pub struct RawTuning {
    /// Raw loop: how the ring runs task work (coop: COOP_TASKRUN; defer: DEFER_TASKRUN;
    /// plain: neither), always with SINGLE_ISSUER but for plain.
    #[arg(long, value_enum, default_value = "coop")]
    pub taskrun: Taskrun,
    /// Raw loop: do not register the ring's fd (IORING_REGISTER_RING_FDS); every enter
    /// then looks the ring up by its fd.
    #[arg(long)]
    pub no_ring_fd: bool,
    /// Raw loop: how a batch's completions are collected (peek: submit, then reap what is
    /// there, waiting only for an empty CQ; wait: submit and wait in one enter).
    #[arg(long, value_enum, default_value = "peek")]
    pub reap: Reap,
    /// Raw loop: when the CQ is empty, wait for one completion at a time (liburing's
    /// example) instead of every first completion the batch still owes (one wake-up
    /// instead of several).
    #[arg(long)]
    pub wait_one: bool,
    /// Raw loop: how many zero-copy requests may await their notification before the loop
    /// waits (default: 4096 for zc-fixed; for zc and sendmsg-zc, which pin per request,
    /// enough for 8 MiB of payload, at least 4 batches, at most 4096).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub notif_slack: Option<u32>,
    /// Raw loop: submission queue entries (default: enough for the batch; the CQ always
    /// holds the notification slack plus a batch).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=32768))]
    pub sq_entries: Option<u32>,
    /// Raw loop: IORING_RECVSEND_POLL_FIRST on every send (poll for socket space before
    /// trying, instead of trying first).
    #[arg(long)]
    pub poll_first: bool,
    /// Raw loop: link every request of a batch to the next (IOSQE_IO_LINK), as the safe
    /// layer chains a stream's buffers to keep them in order.
    #[arg(long)]
    pub link: bool,
}

impl Default for RawTuning {
    fn default() -> RawTuning {
        RawTuning {
            taskrun: Taskrun::Coop,
            no_ring_fd: false,
            reap: Reap::Peek,
            wait_one: false,
            notif_slack: None,
            sq_entries: None,
            poll_first: false,
            link: false,
        }
    }
}

/// The ring the raw loop actually ran with (a fallback may differ from what was asked).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RingUsed {
    /// The setup flags, by name (`|`-separated; empty: none).
    pub setup_flags: String,
    /// The ring's fd was registered (IORING_REGISTER_RING_FDS).
    pub ring_fd_registered: bool,
    /// SQ entries.
    pub sq_entries: u32,
    /// CQ entries.
    pub cq_entries: u32,
    /// Zero-copy requests that may await their notification before the loop waits.
    pub notif_slack: u32,
}

/// Requests awaiting their notification, per request in a batch, at least, before the
/// loop waits.
pub const NOTIF_SLOTS_PER_INFLIGHT: u32 = 4;

/// Payload bytes that may await their notification before the loop waits (whatever the
/// request size, within [`MAX_NOTIF_SLOTS`]): 8 MiB, 4 × liburing's example's 2 MiB
/// SO_SNDBUF, enough that TCP's acknowledgements, which release the pages, never stall
/// the sender on loopback.
pub const NOTIF_BYTES: usize = 8 << 20;

/// The most requests that may await their notification (it sizes the CQ).
pub const MAX_NOTIF_SLOTS: u32 = 4096;

/// How many requests of `size` bytes may await their notification, with `inflight`
/// requests per batch: enough for [`NOTIF_BYTES`] and at least
/// [`NOTIF_SLOTS_PER_INFLIGHT`] × inflight, at most [`MAX_NOTIF_SLOTS`] (or the latter
/// when it is larger). The safe sender gets as many buffers.
pub fn notif_slots(size: usize, inflight: u32) -> u32 {
    let by_bytes = u32::try_from(NOTIF_BYTES.div_ceil(size.max(1))).unwrap_or(u32::MAX);
    let floor = inflight.saturating_mul(NOTIF_SLOTS_PER_INFLIGHT);
    by_bytes.min(MAX_NOTIF_SLOTS).max(floor)
}

/// The notification cap of a run: `--notif-slack`; else for `zc-fixed` [`MAX_NOTIF_SLOTS`]
/// (the payload is registered once, so a waiting notification holds nothing but a CQ
/// entry, and the socket's send buffer bounds what the kernel holds anyway), and for the
/// modes that pin per request [`notif_slots`] (pages pinned per request count against
/// RLIMIT_MEMLOCK for an unprivileged user). Never below one batch plus one, so that a
/// batch always fits.
pub fn notif_cap(cfg: &SendConfig) -> u32 {
    let auto = || match cfg.mode {
        Mode::ZcFixed => MAX_NOTIF_SLOTS.max(cfg.inflight * NOTIF_SLOTS_PER_INFLIGHT),
        _ => notif_slots(cfg.size, cfg.inflight),
    };
    cfg.tuning
        .notif_slack
        .unwrap_or_else(auto)
        .max(cfg.inflight + 1)
}

/// How long the final drain may wait for outstanding completions and notifications.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the loop waits without any completion before it gives up (a receiver that
/// stopped reading); every wait is bounded.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// user_data of every send request (all requests are alike; completions are told apart by
/// their flags, never by order).
const SEND_TAG: u64 = 0x5e4d;

/// What to send and how.
#[derive(Debug, Clone)]
pub struct SendConfig {
    /// Which operation.
    pub mode: Mode,
    /// Payload bytes per request.
    pub size: usize,
    /// Requests per batch.
    pub inflight: u32,
    /// How long to keep sending.
    pub duration: Duration,
    /// Use a registered file (IOSQE_FIXED_FILE) instead of the fd.
    pub fixed_file: bool,
    /// The safe layer gathers a stream's queued buffers into one request
    /// (`Config::coalesce`; the raw loop ignores it).
    pub coalesce: bool,
    /// The safe layer holds one buffer per send in flight, each filled once, instead of
    /// clones of one payload (the raw loop always sends one payload).
    pub distinct_buffers: bool,
    /// The raw loop's ring-side choices (the safe layer ignores them).
    pub tuning: RawTuning,
}

/// What the sender measured.
#[derive(Debug, Clone, Default)]
pub struct SendStats {
    /// Bytes the kernel reported sent.
    pub bytes: u64,
    /// Requests that completed with a byte count.
    pub requests: u64,
    /// Requests that completed with EAGAIN/ENOBUFS (datagram sockets under pressure).
    pub soft_errors: u64,
    /// Zero-copy notifications reaped.
    pub notifs: u64,
    /// Times the loop stopped to wait for notifications (the cap was reached).
    pub notif_waits: u64,
    /// Wall time spent in those waits.
    pub notif_wait: Duration,
    /// Notifications whose IORING_NOTIF_USAGE_ZC_COPIED bit said the kernel copied.
    pub copied: u64,
    /// Wall time of the sending loop (without the final drain).
    pub elapsed: Duration,
    /// CPU time of the sending thread (user + system), drain included.
    pub cpu: Duration,
    /// Its user-space part.
    pub user_cpu: Duration,
    /// The safe layer: buffers handed back, and of those the ones sent zero-copy
    /// (`ZcStats::buffers_returned`, `ZcStats::zero_copy`); `None` for the raw loop.
    pub buffers: Option<(u64, u64)>,
    /// `auto`: the path the adaptive policy chose, at the end, for the size class of the
    /// payload (`ZcSender::adaptive_classes`).
    pub adaptive_path: Option<String>,
    /// The raw loop: the ring it ran with; `None` for the safe layer.
    pub ring: Option<RingUsed>,
}

/// Sets up the raw loop's ring: `sq` SQ entries (a power of two, at least 8) and a CQ of
/// at least `cq` entries, with the flags `taskrun` asks for; when the kernel refuses them,
/// with none (reported in [`RingUsed`]).
fn raw_ring(sq: u32, cq: u32, taskrun: Taskrun) -> Result<IoUring> {
    let sq = sq.clamp(8, 32768).next_power_of_two();
    let cq = cq.max(2 * sq).clamp(16, 65536).next_power_of_two();
    let init = |flags: IoringSetupFlags| {
        let mut params = sys::io_uring_params::default();
        params.flags = flags | IoringSetupFlags::CQSIZE;
        params.cq_entries = cq;
        IoUring::init_params(sq, &mut params)
    };
    match init(taskrun.flags()) {
        Ok(ring) => Ok(ring),
        Err(_) => init(IoringSetupFlags::empty()).context("cannot set up an io_uring instance"),
    }
}

/// The names of the setup flags that matter to the loop.
fn flag_names(flags: IoringSetupFlags) -> String {
    let names = [
        (IoringSetupFlags::COOP_TASKRUN, "COOP_TASKRUN"),
        (IoringSetupFlags::DEFER_TASKRUN, "DEFER_TASKRUN"),
        (IoringSetupFlags::SINGLE_ISSUER, "SINGLE_ISSUER"),
        (IoringSetupFlags::CQSIZE, "CQSIZE"),
    ];
    names
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

/// Sends on the connected socket `fd` as configured until the time is up (or `stop` is
/// set), then drains every outstanding completion and notification.
pub fn run(fd: RawFd, cfg: &SendConfig, stop: Option<&AtomicBool>) -> Result<SendStats> {
    let meter = Meter::start();
    // Declared before the ring, so that they outlive it: the kernel reads them until the
    // notifications, which the drain below waits for.
    let payload = AlignedBuf::pattern(cfg.size)?;
    let iov = payload.iovec();
    // SAFETY: an all-zero msghdr is valid (no name, no control); the iovec is set below.
    let mut hdr: MsgHdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = (&iov as *const uring::iovec).cast_mut().cast();
    hdr.msg_iovlen = 1;

    let inflight = cfg.inflight;
    let tuning = &cfg.tuning;
    // The CQ holds every notification the cap allows and a batch.
    let slots = notif_cap(cfg);
    let sq = tuning
        .sq_entries
        .unwrap_or((inflight * 2).max(64))
        .max(inflight);
    let mut ring = raw_ring(sq, slots.saturating_add(inflight), tuning.taskrun)?;
    let ring_fd_registered = !tuning.no_ring_fd && ring.register_ring_fd().is_ok();
    let target_fd = if cfg.fixed_file {
        // SAFETY: `fd` is the connected socket this run was given, open for the whole call
        // (the kernel takes its own reference to the file during it).
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        ring.register_files(&[Some(borrowed)])
            .context("registering the socket (IORING_REGISTER_FILES)")?;
        0
    } else {
        fd
    };
    if cfg.mode == Mode::ZcFixed {
        // SAFETY: `payload` outlives the ring (declared before it) and is never modified.
        unsafe { ring.register_buffers(&[iov]) }
            .context("registering the payload (IORING_REGISTER_BUFFERS)")?;
    }

    // One SQE prepared up front; each request is a 64-byte copy of it.
    let waitall = sys::SEND_WAITALL;
    let report = sys::IoringSendFlags::ZC_REPORT_USAGE;
    let mut tmpl = Sqe::default();
    match cfg.mode {
        Mode::Send => tmpl.prep_send(target_fd, &payload, uring::sys::SendFlags::empty()),
        Mode::Zc => tmpl.prep_send_zc(target_fd, &payload, waitall, report),
        Mode::ZcFixed => tmpl.prep_send_zc_fixed(target_fd, &payload, waitall, report, 0),
        Mode::SendmsgZc => {
            tmpl.prep_sendmsg_zc(target_fd, &hdr, waitall);
            // The zero-copy flags of SENDMSG_ZC live in `ioprio`, as for SEND_ZC.
            tmpl.ioprio |= report.bits();
        }
        Mode::Auto => bail!("mode auto drives the safe layer, not the raw loop"),
    }
    tmpl.user_data = SEND_TAG;
    if cfg.fixed_file {
        tmpl.flags |= IOSQE_FIXED_FILE;
    }
    if tuning.poll_first {
        // For SEND, SEND_ZC and SENDMSG_ZC alike, the send flags live in `ioprio`.
        tmpl.ioprio |= sys::IORING_RECVSEND_POLL_FIRST as u16;
    }

    let mut st = SendStats {
        ring: Some(RingUsed {
            setup_flags: flag_names(ring.setup_flags()),
            ring_fd_registered,
            sq_entries: ring.sq().entries(),
            cq_entries: ring.cq().entries(),
            notif_slack: slots,
        }),
        ..SendStats::default()
    };
    let mut cqes = vec![Cqe::default(); (inflight as usize * 2).max(64)];
    let mut unnotified: u32 = 0;
    let start = Instant::now();
    let outcome = drive(
        &mut ring,
        &tmpl,
        cfg,
        stop,
        &mut cqes,
        &mut st,
        &mut unnotified,
    );
    st.elapsed = start.elapsed();

    // Drain, even after an error: every notification must be reaped before `payload` may
    // be freed. If they do not come, leak the payload rather than free memory the kernel
    // may still read.
    if let Err(e) = drain(&mut ring, &mut cqes, &mut st, &mut unnotified) {
        std::mem::forget(payload);
        return Err(e);
    }
    drop(ring);
    (st.cpu, st.user_cpu) = meter.cpu_and_user();
    match outcome? {
        None => Ok(st),
        Some(e) => {
            let what = match e {
                Errno::PIPE | Errno::CONNRESET | Errno::CONNREFUSED => {
                    "the receiver closed the connection"
                }
                _ => "send failed",
            };
            bail!(
                "{what} after {} bytes: {}",
                st.bytes,
                std::io::Error::from_raw_os_error(e.raw_os_error())
            )
        }
    }
}

/// The sending loop. Returns the first failed request's errno, if any (the loop stops at
/// the end of that batch).
fn drive(
    ring: &mut IoUring,
    tmpl: &Sqe,
    cfg: &SendConfig,
    stop: Option<&AtomicBool>,
    cqes: &mut [Cqe],
    st: &mut SendStats,
    unnotified: &mut u32,
) -> Result<Option<Errno>> {
    let inflight = cfg.inflight;
    let zc = cfg.mode.is_zc();
    let notif_cap = notif_cap(cfg);
    let peek = cfg.tuning.reap == Reap::Peek;
    let wait_one = cfg.tuning.wait_one;
    let defer = ring.setup_flags().contains(IoringSetupFlags::DEFER_TASKRUN);
    let link = cfg.tuning.link;
    let mut linked = *tmpl;
    linked.flags |= sys::IOSQE_IO_LINK;
    let deadline = Instant::now() + cfg.duration;
    let mut failure: Option<Errno> = None;
    loop {
        // Zero-copy: only a notification frees a slot. Wait until a whole batch fits.
        if zc && *unnotified + inflight > notif_cap {
            let waited = Instant::now();
            wait_notifs(ring, cqes, st, unnotified, notif_cap - inflight)?;
            st.notif_waits += 1;
            st.notif_wait += waited.elapsed();
        }
        for i in 0..inflight {
            let tmpl = if link && i + 1 < inflight {
                &linked
            } else {
                tmpl
            };
            // SAFETY: the template names the payload (or registered buffer 0 holding it),
            // the msghdr and its iovec, and the socket; `run` keeps all of them alive and
            // unmodified until every completion and notification has been reaped.
            unsafe { ring.push(tmpl) }.context("submission queue full")?;
        }
        if peek {
            // Submit only; the reaping below waits if the CQ is empty. On a DEFER_TASKRUN
            // ring, notifications are posted only when we ask for events: ask once some
            // are owed, so that they come back in the same enter.
            if defer && *unnotified > 0 {
                ring.submit_and_get_events()
                    .context("io_uring_enter (submit)")?;
            } else {
                ring.submit().context("io_uring_enter (submit)")?;
            }
        } else {
            // One io_uring_enter submits the batch and waits for its first completion.
            submit_and_wait(ring)?;
        }
        let mut firsts = inflight;
        while firsts > 0 {
            // Wait (if the CQ is empty) for every first completion the batch still owes,
            // or for one with --wait-one (liburing's example: io_uring_wait_cqe).
            let n = reap(ring, cqes, if wait_one { 1 } else { firsts })?;
            for c in &cqes[..n] {
                if c.notif() {
                    *unnotified = unnotified.saturating_sub(1);
                    st.notifs += 1;
                    st.copied += u64::from(c.zc_copied());
                    continue;
                }
                firsts -= 1;
                if c.more() {
                    *unnotified += 1;
                }
                match c.result() {
                    Ok(n) => {
                        st.bytes += u64::from(n);
                        st.requests += 1;
                    }
                    // EAGAIN/ENOBUFS: a datagram dropped under pressure. ECONNREFUSED: on a
                    // connected datagram socket, an ICMP port unreachable for an earlier
                    // datagram (nobody listens at the destination, `--udp --to`); it
                    // concerns that datagram only. A stream never sees it once connected.
                    Err(Errno::AGAIN | Errno::NOBUFS | Errno::CONNREFUSED) => st.soft_errors += 1,
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
        }
        if failure.is_some()
            || Instant::now() >= deadline
            || stop.is_some_and(|s| s.load(Ordering::Relaxed))
        {
            return Ok(failure);
        }
    }
}

/// Reaps notifications until at most `target` requests await theirs (each reap waits at
/// most [`STALL_TIMEOUT`] for a completion).
fn wait_notifs(
    ring: &mut IoUring,
    cqes: &mut [Cqe],
    st: &mut SendStats,
    unnotified: &mut u32,
    target: u32,
) -> Result<()> {
    while *unnotified > target {
        let n = reap(ring, cqes, 1)?;
        for c in &cqes[..n] {
            if !c.notif() {
                // Every first completion of earlier batches was reaped already.
                bail!("unexpected completion while waiting for notifications: {c:?}");
            }
            *unnotified = unnotified.saturating_sub(1);
            st.notifs += 1;
            st.copied += u64::from(c.zc_copied());
        }
    }
    Ok(())
}

/// Reaps until no request awaits its notification, bounded by [`DRAIN_TIMEOUT`].
fn drain(
    ring: &mut IoUring,
    cqes: &mut [Cqe],
    st: &mut SendStats,
    unnotified: &mut u32,
) -> Result<()> {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    // First completions still outstanding after an error inside the loop are not counted;
    // wait for the ring to go quiet as well as for the notifications we know of.
    while *unnotified > 0 || ring.sq_ready() > 0 {
        if Instant::now() >= deadline {
            bail!(
                "{} zero-copy notifications still missing after {DRAIN_TIMEOUT:?}; payload leaked",
                *unnotified
            );
        }
        match ring.submit_and_wait_timeout(1, Duration::from_millis(100)) {
            Ok(_) => {}
            Err(e) if matches!(e.errno(), Some(Errno::TIME | Errno::INTR)) => {}
            Err(e) => return Err(e).context("io_uring_enter (drain)"),
        }
        let n = ring.copy_cqes(cqes, 0).context("io_uring_enter (drain)")? as usize;
        for c in &cqes[..n] {
            if c.notif() {
                *unnotified = unnotified.saturating_sub(1);
                st.notifs += 1;
                st.copied += u64::from(c.zc_copied());
            } else if c.more() {
                *unnotified += 1;
            }
        }
    }
    Ok(())
}

/// Submits the queued SQEs and waits (bounded) for one completion. EINTR and a timeout
/// with SQEs submitted are fine: the reaping that follows waits again, bounded.
fn submit_and_wait(ring: &mut IoUring) -> Result<()> {
    match ring.submit_and_wait_timeout(1, STALL_TIMEOUT) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.errno(), Some(Errno::INTR | Errno::TIME)) => {
            // The kernel returns the submitted count when it submitted anything, so an
            // error here means nothing was consumed yet: pass the SQEs again.
            ring.submit().context("io_uring_enter (submit)")?;
            Ok(())
        }
        Err(e) => Err(e).context("io_uring_enter"),
    }
}

/// Copies the ready completions into `cqes`; when none is ready, waits (bounded by
/// [`STALL_TIMEOUT`]) until `want` are (fewer may come back if the wait times out or a
/// signal ends it). Returns how many were copied, at least one.
fn reap(ring: &mut IoUring, cqes: &mut [Cqe], want: u32) -> Result<usize> {
    let n = ring.copy_cqes(cqes, 0).context("io_uring_enter (reap)")?;
    if n > 0 {
        return Ok(n as usize);
    }
    let want = want.clamp(1, cqes.len() as u32);
    let deadline = Instant::now() + STALL_TIMEOUT;
    loop {
        match ring.submit_and_wait_timeout(want, STALL_TIMEOUT) {
            Ok(_) => {}
            Err(e) if matches!(e.errno(), Some(Errno::INTR | Errno::TIME)) => {}
            Err(e) => return Err(e).context("io_uring_enter (wait)"),
        }
        let n = ring.copy_cqes(cqes, 0).context("io_uring_enter (reap)")?;
        if n > 0 {
            return Ok(n as usize);
        }
        if Instant::now() >= deadline {
            bail!("no completion for {STALL_TIMEOUT:?}: the receiver stopped reading?");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notification_cap_is_in_bytes_within_bounds() {
        // Small requests: as many as NOTIF_BYTES hold, at most MAX_NOTIF_SLOTS.
        assert_eq!(notif_slots(1400, 8), MAX_NOTIF_SLOTS);
        assert_eq!(notif_slots(4096, 8), 2048);
        assert_eq!(notif_slots(65000, 8), 130);
        // Large ones: never fewer than NOTIF_SLOTS_PER_INFLIGHT batches.
        assert_eq!(notif_slots(262_144, 8), 32);
        assert_eq!(notif_slots(1 << 30, 8), 8 * NOTIF_SLOTS_PER_INFLIGHT);
        assert_eq!(notif_slots(0, 8), MAX_NOTIF_SLOTS);
        assert_eq!(notif_slots(1400, 2048), 2048 * NOTIF_SLOTS_PER_INFLIGHT);
        // A whole batch always fits under the cap.
        for (size, inflight) in [(1, 1), (1400, 64), (65000, 256), (1 << 20, 8)] {
            assert!(notif_slots(size, inflight) > inflight);
        }
    }
}
