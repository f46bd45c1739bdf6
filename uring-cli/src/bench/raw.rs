//! The raw sender: our own ring loop on the raw layer, the tool's performance showcase.
//!
//! The loop has the shape of liburing's `examples/send-zerocopy.c`, so that the two compare
//! like for like: queue `inflight` requests, submit them with one `io_uring_enter`, reap their
//! first completions in batches with `copy_cqes`, repeat until the time is up. Nothing is
//! allocated per request: every request is a copy of one SQE prepared up front (the same
//! payload, registered once for `zc-fixed`), and completions land in one reused array.
//!
//! Zero-copy requests follow the notification contract: a request holds its slot until its
//! `IORING_CQE_F_NOTIF` completion, not its first one. The payload is never modified while
//! the run lasts, and it is freed only after every notification has been reaped (bounded
//! drain at the end). The number of requests awaiting a notification is capped
//! ([`notif_slots`]: at least [`NOTIF_SLOTS_PER_INFLIGHT`] × inflight, and enough for
//! [`NOTIF_BYTES`] of payload), which bounds the CQ entries and page references in flight.
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
use uring::sys::{self, IOSQE_FIXED_FILE};
use uring::{Cqe, IoUring, MsgHdr, Sqe};

use crate::util::{sender_ring, AlignedBuf, Meter};
use crate::Mode;

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
    /// The safe layer: buffers handed back, and of those the ones sent zero-copy
    /// (`ZcStats::buffers_returned`, `ZcStats::zero_copy`); `None` for the raw loop.
    pub buffers: Option<(u64, u64)>,
    /// `auto`: the path the adaptive policy chose, at the end, for the size class of the
    /// payload (`ZcSender::adaptive_classes`).
    pub adaptive_path: Option<String>,
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
    // The CQ (twice the SQ) holds every notification the cap allows and a batch.
    let slots = notif_slots(cfg.size, inflight);
    let mut ring = sender_ring(
        (inflight * 2)
            .max(64)
            .max(slots.saturating_add(inflight) / 2),
    )?;
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

    let mut st = SendStats::default();
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
    st.cpu = meter.stop().1;
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
    let notif_cap = notif_slots(cfg.size, inflight);
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
        for _ in 0..inflight {
            // SAFETY: the template names the payload (or registered buffer 0 holding it),
            // the msghdr and its iovec, and the socket; `run` keeps all of them alive and
            // unmodified until every completion and notification has been reaped.
            unsafe { ring.push(tmpl) }.context("submission queue full")?;
        }
        // One io_uring_enter submits the batch and waits for its first completion.
        submit_and_wait(ring)?;
        let mut firsts = inflight;
        while firsts > 0 {
            let n = reap(ring, cqes)?;
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
        let n = reap(ring, cqes)?;
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

/// Copies the ready completions into `cqes`, waiting (bounded by [`STALL_TIMEOUT`]) when
/// none is ready. Returns how many were copied, at least one.
fn reap(ring: &mut IoUring, cqes: &mut [Cqe]) -> Result<usize> {
    let n = ring.copy_cqes(cqes, 0).context("io_uring_enter (reap)")?;
    if n > 0 {
        return Ok(n as usize);
    }
    let deadline = Instant::now() + STALL_TIMEOUT;
    loop {
        match ring.submit_and_wait_timeout(1, STALL_TIMEOUT) {
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
