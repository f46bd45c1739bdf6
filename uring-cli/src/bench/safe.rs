//! The safe sender: the same measurement as [`raw`](super::raw), through the safe zero-copy
//! layer (`uring::zc::ZcSender`), with no `unsafe` in the loop.
//!
//! Modes map onto the layer's policies and buffer kinds:
//!
//! - `zc-fixed`: `Policy::Always` with a slot of a registered [`BufferPool`]
//!   (`send_zc_fixed`);
//! - `zc`: `Policy::Always` with heap buffers (`send_zc`, or `sendmsg_zc` with an iovec per
//!   buffer when the layer gathers a stream's queued buffers);
//! - `sendmsg-zc`: datagram sockets only, `send_to` the connected peer (`sendmsg_zc` with
//!   `msg_name`); on a stream the layer sends with `send_zc` and offers no sendmsg form;
//! - `send`: `Policy::Never` with heap buffers (plain `send`, or `sendmsg` when gathered);
//! - `auto`: `Policy::Adaptive` (the layer's default) with a pool slot: plain while the
//!   kernel reports copying zero-copy sends; elsewhere zero-copy for the sizes where it
//!   measured cheaper than plain send.
//!
//! Nothing is allocated per send. Like the raw loop, which sends one payload over and over,
//! the sender is given clones of one payload: a `bytes::Bytes` over a page-aligned buffer
//! (like the raw loop's payload), or for `zc-fixed` and `auto`
//! the registered slot frozen into a `SharedSlot` (clones of either may all be in flight at
//! once, since none can write the bytes); a clone costs a reference count. With
//! `--distinct-buffers` it holds as many distinct buffers instead (pool slots, or
//! page-aligned `Bytes`), each filled once, as a sender of distinct data would. Either
//! way there are as many as the raw loop lets await their notification ([`notif_slots`]),
//! rounded up to whole batches of `--inflight` ([`whole_batches`]; rounded down where a
//! locked-memory limit allows fewer), each comes back in a `Completion` once the kernel
//! has let go of it and is sent again as is. The layer's depth is `--inflight` (buffers
//! per gathered request, or the longest `IOSQE_IO_LINK` chain, on a stream; datagrams in
//! flight on UDP) and its budget is exactly those buffers.

use std::net::SocketAddr;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rustix::io::Errno;
use uring::sys::IoringSetupFlags;
use uring::zc::{
    BufferError, BufferPool, Config, Driver, PlainReason, Policy, PoolError, PoolSlot,
    SendErrorKind, SendPath, ZcBuffer, ZcError, ZcSender,
};

use super::raw::{notif_slots, SendConfig, SendStats, STALL_TIMEOUT};
use crate::util::{fill_pattern, AlignedBuf, Meter};
use crate::Mode;

/// How long closing the sender may wait for the last notifications.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The layer's policy for a mode.
fn policy(mode: Mode) -> Policy {
    match mode {
        Mode::Send => Policy::Never,
        Mode::Auto => Policy::Adaptive,
        Mode::Zc | Mode::ZcFixed | Mode::SendmsgZc => Policy::Always,
    }
}

/// A driver sized for `config` ([`Config::driver_config`]'s CQ and SQ sizes; the driver
/// adds CQSIZE and SUBMIT_ALL), with COOP_TASKRUN | SINGLE_ISSUER as the raw loop and
/// liburing's example use, and like the raw loop with its ring fd registered (the driver
/// stays on this thread); falls back to [`Config::driver`] on kernels that refuse those
/// flags.
pub fn driver_for(config: &Config) -> Result<Driver> {
    let flags = IoringSetupFlags::COOP_TASKRUN | IoringSetupFlags::SINGLE_ISSUER;
    let tuned = config
        .driver_config()
        .setup_flags(flags)
        .register_ring_fd(true);
    match Driver::new(tuned) {
        Ok(driver) => Ok(driver),
        Err(_) => config
            .driver()
            .context("cannot set up an io_uring instance"),
    }
}

/// How many slots of `slot_size` bytes (at most `want`, at least one) a pool of `driver`
/// may register: all of them with CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK; otherwise
/// as many as fit in half of what the limit leaves after the driver's pools, so that the
/// other half stays for the pages zero-copy sends pin. A slot is charged in whole pages
/// (the kernel accounts pinned pages, and every slot starts on a page).
pub fn pool_slots(driver: &Driver, slot_size: usize, want: usize) -> usize {
    let Some(limit) = driver.memlock().pinnable() else {
        return want.max(1);
    };
    let room = limit.saturating_sub(driver.pinned_bytes()) / 2;
    let per_slot = slot_size.max(1).div_ceil(4096).saturating_mul(4096) as u64;
    usize::try_from(room / per_slot)
        .unwrap_or(usize::MAX)
        .clamp(1, want.max(1))
}

/// Up to `want` registered slots of `slot_size` bytes in `driver`, as many as
/// [`pool_slots`] allows: one pool, registered as one buffer (all or nothing), so that the
/// layer may gather its slots into one vectored request; when the kernel refuses that (the
/// locked-memory limit is per user: other processes pin too), as many one-slot pools as it
/// takes, fewer if it refuses more. Fails (with [`PoolError::Memlock`] naming the limit,
/// when that is why) only if not even one slot can be registered.
pub fn register_slots(
    driver: &mut Driver,
    slot_size: usize,
    want: usize,
) -> Result<Vec<PoolSlot>, PoolError> {
    let n = pool_slots(driver, slot_size, want);
    if let Ok(pool) = BufferPool::new(driver, slot_size, n) {
        // The slots keep their pool's memory and registration alive.
        return Ok((0..n).filter_map(|_| pool.get()).collect());
    }
    let mut slots = Vec::new();
    for _ in 0..n {
        match BufferPool::new(driver, slot_size, 1) {
            Ok(pool) => slots.extend(pool.get()),
            Err(e) if slots.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(slots)
}

/// `n` buffers rounded up to whole batches of `inflight` (at least one buffer).
///
/// The sender sends them `inflight` at a time, and one flush keeps submitting while the
/// requests complete during their own submission (the drop path: every send does), so a
/// queue of every free buffer goes out in full batches and then the rest: with 130
/// buffers of 65000 B at 8 in flight, one `io_uring_enter` in 17 submitted 2 requests,
/// 4.6 % more enters per datagram than the raw loop, which sends one payload over and over
/// and always submits whole batches. The bench holds whole batches of buffers instead.
fn whole_batches(n: u32, inflight: u32) -> u32 {
    let per = inflight.max(1);
    n.max(1).div_ceil(per).saturating_mul(per)
}

/// `n` buffers (all a limit allows) rounded down to whole batches of `inflight`, or `n`
/// itself if that is less than one batch (at least one buffer).
fn whole_batches_within(n: u32, inflight: u32) -> u32 {
    let per = inflight.max(1);
    if n < per {
        n.max(1)
    } else {
        n - n % per
    }
}

/// Sends on the connected socket `fd` through the safe layer until the time is up (or
/// `stop` is set), then waits for every buffer to come back.
pub fn run(fd: BorrowedFd<'_>, cfg: &SendConfig, stop: Option<&AtomicBool>) -> Result<SendStats> {
    let meter = Meter::start();
    let mut buffers = whole_batches(notif_slots(cfg.size, cfg.inflight), cfg.inflight);
    let mut config = Config::default()
        .policy(policy(cfg.mode))
        .depth(cfg.inflight)
        .max_buffers(buffers)
        .budget_bytes(cfg.size.saturating_mul(buffers as usize))
        .coalesce(cfg.coalesce)
        .wait_timeout(Some(STALL_TIMEOUT));
    let mut driver = driver_for(&config)?;
    // The sender owns (and closes) its socket: give it a duplicate of ours.
    let socket = fd.try_clone_to_owned().context("duplicating the socket")?;
    let stream = rustix::net::sockopt::socket_type(&socket).context("SO_TYPE")?
        == rustix::net::SocketType::STREAM;
    let dest: Option<SocketAddr> = match cfg.mode {
        Mode::SendmsgZc if stream => bail!(
            "mode sendmsg-zc has no safe form on TCP (the safe layer sends streams with \
             send_zc); use --api raw, or --mode zc"
        ),
        Mode::SendmsgZc => {
            let peer = rustix::net::getpeername(&socket)
                .context("getpeername")?
                .ok_or_else(|| anyhow!("the UDP socket is not connected"))?;
            Some(SocketAddr::try_from(peer).context("peer address")?)
        }
        _ => None,
    };
    // The buffers in flight at once: `buffers` of them. Like the raw loop, which sends one
    // payload over and over, they are clones of one payload (`--distinct-buffers`: one
    // buffer each, filled once, as a sender of distinct data would hold): for zc-fixed and
    // auto a registered pool slot frozen into a `SharedSlot` (send_zc_fixed when
    // zero-copy), otherwise a `bytes::Bytes`. A clone costs a reference count, and the
    // kernel reads the same memory the raw loop's kernel reads.
    let registered = matches!(cfg.mode, Mode::ZcFixed | Mode::Auto);
    if (registered && cfg.distinct_buffers) || (cfg.mode.is_zc() && !registered) {
        // Distinct pool slots are pinned when registered, and the pages of a zero-copy
        // send from memory that is not registered are pinned per request (again for each
        // request, one payload or not), both charged to the locked-memory limit: no more
        // of them in flight than a pool could hold, counted before anything is pinned.
        // Past the limit the kernel refuses to pin; the layer resends such a buffer
        // plain, but a refusal of a later member of a linked chain fails the whole stream
        // with ECANCELED (the layer takes the chain head's ECANCELED for an outside
        // cancel).
        buffers = whole_batches_within(
            pool_slots(&driver, cfg.size, buffers as usize) as u32,
            cfg.inflight,
        );
    }
    let mut free: Vec<ZcBuffer> = Vec::with_capacity(buffers as usize);
    match (registered, cfg.distinct_buffers) {
        (true, true) => {
            // As many pool slots as the locked-memory limit lets them pin (the budget
            // shrinks with them). If the kernel refuses even one (RLIMIT_MEMLOCK is per
            // user: other processes pin too), the run fails with the library's message
            // rather than measure zc-fixed or auto without registered buffers under their
            // name.
            let slots = register_slots(&mut driver, cfg.size, buffers as usize)
                .context("registering the payload buffers (BufferPool)")?;
            // Fewer when the kernel refused the one pool and some one-slot pools.
            buffers = whole_batches_within(slots.len() as u32, cfg.inflight);
            for mut slot in slots.into_iter().take(buffers as usize) {
                fill_pattern(&mut slot);
                free.push(slot.into());
            }
        }
        (true, false) => {
            let mut slot = register_slots(&mut driver, cfg.size, 1)
                .context("registering the payload buffer (BufferPool)")?
                .pop()
                .ok_or_else(|| anyhow!("buffer pool exhausted"))?;
            fill_pattern(&mut slot);
            let shared = slot.share();
            free.extend((0..buffers).map(|_| ZcBuffer::from(shared.clone())));
        }
        // Page-aligned, as the raw loop's payload and a pool slot are: a zero-copy send
        // pins whole pages, and a heap buffer's offset into its first page would make a
        // 4 KiB payload two pages (two skb fragments) where the raw loop's is one.
        (false, true) => {
            for _ in 0..buffers {
                let payload = bytes::Bytes::from_owner(AlignedBuf::pattern(cfg.size)?);
                free.push(payload.into());
            }
        }
        (false, false) => {
            let payload = bytes::Bytes::from_owner(AlignedBuf::pattern(cfg.size)?);
            free.extend((0..buffers).map(|_| ZcBuffer::from(payload.clone())));
        }
    }
    config = config
        .max_buffers(buffers)
        .budget_bytes(cfg.size.saturating_mul(buffers as usize));
    let sender = ZcSender::new(&mut driver, socket, config).context("creating the sender")?;

    let mut st = SendStats::default();
    let mut failure: Option<BufferError> = None;
    let start = Instant::now();
    let outcome = drive(
        &mut driver,
        &sender,
        &mut free,
        dest,
        cfg,
        stop,
        &mut st,
        &mut failure,
    );
    st.elapsed = start.elapsed();

    // Every buffer back (all notifications reaped) before the buffers and the pool may go,
    // bounded; a buffer the kernel still holds after that stays with the driver, which
    // leaks it (never frees it) when it is dropped at the end of this function.
    let waited = sender.wait_all(&mut driver, CLOSE_TIMEOUT);
    for c in sender.completions(&mut driver)? {
        account(&c.result, &mut st, &mut failure);
    }
    let s = sender.stats(&driver)?;
    (st.requests, st.notifs, st.copied) = (s.requests, s.notifications, s.copied);
    st.buffers = Some((s.buffers_returned, s.zero_copy));
    if cfg.mode == Mode::Auto {
        st.adaptive_path = sender
            .adaptive_classes(&driver)?
            .iter()
            .find(|c| c.min_len <= cfg.size && cfg.size <= c.max_len)
            .map(|c| {
                let path = match c.path {
                    p if p.is_zero_copy() => "zero-copy".to_string(),
                    SendPath::Plain(PlainReason::KernelCopies) => "plain (kernel copies)".into(),
                    SendPath::Plain(PlainReason::Measured) => "plain (measured)".into(),
                    SendPath::Plain(r) => format!("plain ({r:?})"),
                    p => format!("{p:?}"),
                };
                if c.learning {
                    format!("{path}, learning")
                } else {
                    path
                }
            });
    }
    let closed = sender.close(&mut driver, Duration::ZERO);
    (st.cpu, st.user_cpu) = meter.cpu_and_user();
    outcome?;
    if closed.pending > 0 {
        bail!(
            "{} buffers still held by the kernel after {CLOSE_TIMEOUT:?}: leaked ({})",
            closed.pending,
            waited.err().map_or("-".into(), |e| e.to_string())
        );
    }
    if let Some(e) = failure {
        let what = match e.errno() {
            Errno::PIPE | Errno::CONNRESET | Errno::CONNREFUSED => {
                "the receiver closed the connection"
            }
            _ => "send failed",
        };
        bail!(
            "{what} after {} bytes: {}",
            st.bytes,
            std::io::Error::from_raw_os_error(e.errno().raw_os_error())
        );
    }
    Ok(st)
}

/// The sending loop on a connected socket: every free buffer queued with one
/// [`ZcSender::queue_from`] and submitted with one flush (the sender keeps `inflight` of
/// them in flight, the rest queued, so each flush submits about one batch, as the raw
/// loop submits one per enter: 7.7–8 datagrams per enter at 8 in flight), what came back
/// taken back once per flush, until the time is up.
#[allow(clippy::too_many_arguments)]
fn queue_free(
    driver: &mut Driver,
    sender: &ZcSender,
    free: &mut Vec<ZcBuffer>,
    deadline: Instant,
    stop: Option<&AtomicBool>,
    st: &mut SendStats,
    failure: &mut Option<BufferError>,
    collect: impl Fn(
        &mut Driver,
        &mut Vec<ZcBuffer>,
        &mut SendStats,
        &mut Option<BufferError>,
    ) -> Result<(), ZcError>,
) -> Result<()> {
    while failure.is_none() {
        driver.flush().context("submitting")?;
        collect(driver, free, st, failure)?;
        if Instant::now() >= deadline || stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
            break;
        }
        if free.is_empty() {
            // Every buffer is with the sender: wait until one comes back.
            sender.wait(driver).context("waiting for a buffer")?;
            continue;
        }
        let taken = sender.queue_from(driver, free);
        match taken {
            Ok(_) => {}
            // The budget is exactly the buffers, so it has room for every free one; were
            // it full, wait for one to come back.
            Err(SendErrorKind::WouldBlock) => {
                sender.wait(driver).context("waiting for room")?;
            }
            // An earlier buffer failed: its completion carries the error.
            Err(SendErrorKind::Sender(ZcError::Broken(_))) => {
                collect(driver, free, st, failure)?;
                break;
            }
            Err(kind) => return Err(kind).context("sending"),
        }
    }
    Ok(())
}

/// Counts one buffer's outcome.
fn account(
    result: &Result<usize, BufferError>,
    st: &mut SendStats,
    failure: &mut Option<BufferError>,
) {
    match result {
        Ok(n) => st.bytes += *n as u64,
        Err(e) => {
            st.bytes += e.sent() as u64;
            match e {
                // A datagram dropped under pressure, or refused by an earlier datagram's
                // ICMP port unreachable (nobody listens there: `--udp --to`), concerns
                // that datagram only.
                BufferError::Failed { errno, .. }
                    if matches!(*errno, Errno::AGAIN | Errno::NOBUFS | Errno::CONNREFUSED) =>
                {
                    st.soft_errors += 1
                }
                _ => {
                    failure.get_or_insert(*e);
                }
            }
        }
    }
}

/// The sending loop: send a free buffer (the sender waits while its budget is full), take
/// back what came back, until the time is up; then let the last sends finish.
#[allow(clippy::too_many_arguments)]
fn drive(
    driver: &mut Driver,
    sender: &ZcSender,
    free: &mut Vec<ZcBuffer>,
    dest: Option<SocketAddr>,
    cfg: &SendConfig,
    stop: Option<&AtomicBool>,
    st: &mut SendStats,
    failure: &mut Option<BufferError>,
) -> Result<()> {
    let deadline = Instant::now() + cfg.duration;
    let collect = |driver: &mut Driver,
                   free: &mut Vec<ZcBuffer>,
                   st: &mut SendStats,
                   f: &mut _|
     -> Result<(), ZcError> {
        for c in sender.completions(driver)? {
            account(&c.result, st, f);
            free.push(c.buffer);
        }
        Ok(())
    };
    if let Some(d) = dest {
        // The clock is read once per `inflight` sends, as often as the raw loop reads it.
        let mut until_check = 0u32;
        loop {
            if failure.is_some() {
                break;
            }
            if until_check == 0 {
                // A window of `inflight` buffers was queued: submit it in one go, as the
                // raw loop submits one batch per enter.
                driver.flush().context("submitting")?;
                // Take back what came back, once per window (as the raw loop reaps in
                // batches): the free list holds more than a window, so no send waits for
                // this.
                collect(driver, free, st, failure)?;
                if Instant::now() >= deadline || stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                    break;
                }
                until_check = cfg.inflight;
            }
            until_check -= 1;
            let Some(buf) = free.pop() else {
                // Every buffer is with the sender: wait until one comes back.
                sender.wait(driver).context("waiting for a buffer")?;
                collect(driver, free, st, failure)?;
                continue;
            };
            if let Err(e) = sender.send_to(driver, buf, d) {
                if let SendErrorKind::Sender(ZcError::Broken(_)) = e.kind {
                    // An earlier buffer failed: its completion carries the error.
                    free.push(e.buffer);
                    collect(driver, free, st, failure)?;
                    break;
                }
                return Err(std::io::Error::from(e)).context("sending");
            }
        }
    } else {
        queue_free(driver, sender, free, deadline, stop, st, failure, collect)?;
    }
    // Like the raw loop, the clock stops once every accepted send has completed (the
    // notifications are waited for afterwards, untimed).
    let s = sender.stats(driver)?;
    let mut left = s.buffers_submitted - s.buffers_completed;
    while left > 0 {
        sender.wait(driver).context("waiting for the last sends")?;
        collect(driver, free, st, failure)?;
        let s = sender.stats(driver)?;
        left = s.buffers_submitted - s.buffers_completed;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_in_whole_batches() {
        // 8 MiB of 65000-byte buffers (130) at 8 in flight: 17 batches.
        assert_eq!(whole_batches(130, 8), 136);
        assert_eq!(whole_batches(136, 8), 136);
        assert_eq!(whole_batches(0, 8), 8);
        assert_eq!(whole_batches(5, 1), 5);
        assert_eq!(whole_batches(5, 0), 5, "no depth: as they are");
        // Within a limit: down to whole batches, or all of them below one batch.
        assert_eq!(whole_batches_within(130, 8), 128);
        assert_eq!(whole_batches_within(128, 8), 128);
        assert_eq!(whole_batches_within(7, 8), 7);
        assert_eq!(whole_batches_within(0, 8), 1);
    }
}
