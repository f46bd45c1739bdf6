//! `uring send FILE HOST:PORT` and `uring recv PORT [FILE]`: file transfer, plain TCP bytes
//! on the wire (so `socat`/`nc` work on either side).
//!
//! The sender goes through the safe zero-copy layer (`uring::zc::ZcSender`): the file is
//! read into the slots of a registered `BufferPool`, and each filled slot is moved into
//! the sender, which hands it back once the kernel has let go of it (after the zero-copy
//! notification); the slot is then refilled. The layer keeps the byte stream in order and
//! complete (gathered requests or linked chains with MSG_WAITALL, short sends continued
//! before any later buffer,
//! nothing sent after a failure), so this module only reads, sends and counts.
//!
//! Policy: [`Policy::Adaptive`], the layer's default. Registered slots make zero-copy cheap
//! where it pays (a real NIC: `send_zc_fixed`, no page pinning per request, 1 MiB per
//! request, where zero-copy measures cheaper than a copy); where the kernel reports that it copies the
//! data anyway (loopback, veth: `IORING_NOTIF_USAGE_ZC_COPIED`), the sender switches to
//! plain `send`, which hands each slot back as soon as its bytes are queued instead of when
//! TCP acknowledges them, and costs no notification. `Policy::Always` would pay that on
//! every slot of a local transfer for nothing.

use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rustix::io::Errno;
use uring::sys::IoringSetupFlags;
use uring::zc::{
    BufferError, Config, Driver, Policy, PoolError, SendErrorKind, ZcBuffer, ZcError, ZcSender,
    ZcStats,
};
use uring::{Cqe, IoUring, Sqe};

use crate::bench::safe::{driver_for, register_slots};
use crate::util::{self, mb_per_s, AlignedBuf};

/// Bytes per buffer.
const CHUNK: usize = 1 << 20;
/// Registered slots of the sender (8 MiB in all): enough to keep a chain in flight while
/// the next slots are read from the file and earlier ones await their notification. Fewer
/// under a locked-memory limit (RLIMIT_MEMLOCK without CAP_IPC_LOCK): half of it at most.
const SLOTS: usize = 8;
/// Longest `IOSQE_IO_LINK` chain of sends.
const DEPTH: u32 = 4;
/// The longest wait for any completion before the transfer is declared stalled.
const STALL: Duration = Duration::from_secs(30);
/// How long closing the sender may wait for the last notifications.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// `uring send FILE HOST:PORT`.
pub fn send(path: &Path, target: &str) -> Result<()> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let expected = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let stream = util::connect_tcp(target)?;
    let start = Instant::now();
    let pb = transfer_bar(expected);
    let r = send_stream(&mut file, stream, &pb);
    pb.finish_and_clear();
    let (sent, st) = r?;
    let secs = start.elapsed().as_secs_f64();
    crate::util::note!(
        "sent {sent} bytes in {secs:.3} s, {:.1} MB/s (sends: {} zero-copy, kernel copied {}; {} plain)",
        mb_per_s(sent, secs),
        st.zc_requests,
        st.copied,
        st.requests - st.zc_requests,
    );
    if let Some(len) = expected {
        if sent != len {
            bail!("short transfer: sent {sent} of {len} bytes");
        }
    }
    Ok(())
}

/// Sends everything `src` yields on the connected `stream` through the safe layer, then
/// half-closes it (the receiver sees EOF after the last byte, as with `nc -N`/socat).
/// Returns the bytes sent and the sender's counters.
fn send_stream(
    src: &mut impl Read,
    stream: std::net::TcpStream,
    pb: &ProgressBar,
) -> Result<(u64, ZcStats)> {
    let config = Config::default()
        .policy(Policy::Adaptive)
        .depth(DEPTH)
        .max_buffers(SLOTS as u32)
        .budget_bytes(CHUNK * SLOTS)
        .wait_timeout(Some(STALL));
    let mut driver = driver_for(&config)?;
    let (mut free, registered) = buffers(&mut driver)?;
    let config = config
        .max_buffers(free.len() as u32)
        .budget_bytes(CHUNK * free.len());
    // Unregistered buffers are pinned per request, and a pin refused to a later member of
    // a linked chain fails the whole stream with ECANCELED (the layer takes the chain
    // head's ECANCELED for an outside cancel): one request at a time then, so that a
    // refusal is always the head's own, which the layer resends plain.
    let config = if registered { config } else { config.depth(1) };
    let sender = ZcSender::new(&mut driver, stream, config).context("creating the sender")?;
    let mut sent = 0u64;
    let mut failure: Option<BufferError> = None;
    let result = send_loop(
        src,
        &mut driver,
        &sender,
        &mut free,
        &mut sent,
        &mut failure,
        pb,
    );
    // Whatever happened, every slot back (bounded) before the pool may go; a slot the
    // kernel still holds when the time is up stays with the driver, which leaks it (never
    // frees it) when it is dropped at the end of this function.
    let waited = sender.wait_all(&mut driver, CLOSE_WAIT);
    for c in sender.completions(&mut driver)? {
        account(&c.result, &mut sent, &mut failure);
    }
    let stats = sender.stats(&driver)?;
    let closed = sender.close(&mut driver, Duration::ZERO);
    if closed.pending > 0 {
        let why = waited.err().map_or(String::new(), |e| format!(" ({e})"));
        let after = result
            .err()
            .map_or(String::new(), |e| format!(" after: {e:#}"));
        bail!(
            "{} buffers still held by the kernel{why}; leaked{after}",
            closed.pending
        );
    }
    result?;
    if let Some(e) = failure {
        bail!(
            "short transfer: send failed after {sent} bytes: {}",
            std::io::Error::from_raw_os_error(e.errno().raw_os_error())
        );
    }
    if let Some(socket) = closed.socket {
        rustix::net::shutdown(&socket, rustix::net::Shutdown::Write).context("shutdown")?;
    }
    Ok((sent, stats))
}

/// The sender's buffers, and whether they are registered: registered slots, as many as
/// the locked-memory limit allows (see [`register_slots`]). Should the kernel refuse to pin even one ([`PoolError::Memlock`]:
/// RLIMIT_MEMLOCK is per user, and other processes of the user pin too), the transfer goes
/// on with [`SLOTS`] plain heap buffers after saying so: they are still sent zero-copy
/// where it pays (pinned per request, or sent plain when the kernel refuses to pin them),
/// so the limit costs speed at most, never the transfer.
fn buffers(driver: &mut Driver) -> Result<(Vec<ZcBuffer>, bool)> {
    match register_slots(driver, CHUNK, SLOTS) {
        Ok(slots) => {
            if slots.len() < SLOTS {
                eprintln!(
                    "uring: note: {} registered buffers of {CHUNK} bytes (RLIMIT_MEMLOCK {} bytes, no CAP_IPC_LOCK)",
                    slots.len(),
                    driver.memlock().pinnable().unwrap_or(0)
                );
            }
            Ok((slots.into_iter().map(Into::into).collect(), true))
        }
        Err(PoolError::Memlock(e)) => {
            eprintln!("uring: warning: buffer pool: {e}; sending from unregistered buffers");
            let bufs = (0..SLOTS).map(|_| vec![0u8; CHUNK].into()).collect();
            Ok((bufs, false))
        }
        Err(e) => Err(e).context("registering the buffers"),
    }
}

/// Counts one slot's outcome: bytes sent, or the stream's error.
fn account(result: &Result<usize, BufferError>, sent: &mut u64, failure: &mut Option<BufferError>) {
    match result {
        Ok(n) => *sent += *n as u64,
        Err(e) => {
            *sent += e.sent() as u64;
            failure.get_or_insert(*e);
        }
    }
}

fn send_loop(
    src: &mut impl Read,
    driver: &mut Driver,
    sender: &ZcSender,
    free: &mut Vec<ZcBuffer>,
    sent: &mut u64,
    failure: &mut Option<BufferError>,
    pb: &ProgressBar,
) -> Result<()> {
    let collect = |driver: &mut Driver, free: &mut Vec<ZcBuffer>, sent: &mut u64, f: &mut _| {
        for c in sender.completions(driver)? {
            account(&c.result, sent, f);
            free.push(c.buffer);
        }
        Ok::<(), ZcError>(())
    };
    while failure.is_none() {
        let Some(buf) = free.pop() else {
            // Every slot is with the sender: wait until one comes back.
            sender.wait(driver).map_err(|e| stalled(e, *sent))?;
            collect(driver, free, sent, failure)?;
            pb.set_position(*sent);
            continue;
        };
        let (n, buf) = fill(src, buf).context("reading the file")?;
        if n == 0 {
            return Ok(());
        }
        match sender.send(driver, buf) {
            Ok(()) => {}
            // An earlier slot failed: its completion carries the error.
            Err(e) if matches!(e.kind, SendErrorKind::Sender(ZcError::Broken(_))) => {}
            Err(e) => {
                let kind = e.kind;
                return Err(match kind {
                    SendErrorKind::Sender(z) => stalled(z, *sent),
                    _ => std::io::Error::from(e).into(),
                });
            }
        }
        collect(driver, free, sent, failure)?;
        pb.set_position(*sent);
    }
    Ok(())
}

/// Fills a buffer that came back (a pool slot, or a heap buffer) from `src`, its length set
/// to the bytes read.
fn fill(src: &mut impl Read, buf: ZcBuffer) -> std::io::Result<(usize, ZcBuffer)> {
    Ok(match buf {
        ZcBuffer::Slot(mut slot) => {
            let n = read_full(src, slot.as_full_mut())?;
            slot.set_len(n);
            (n, slot.into())
        }
        ZcBuffer::Vec(mut v) => {
            v.resize(CHUNK, 0);
            let n = read_full(src, &mut v)?;
            v.truncate(n);
            (n, v.into())
        }
        _ => unreachable!("only pool slots and vectors are sent"),
    })
}

/// The error of a sender call, said for a file transfer.
fn stalled(e: ZcError, sent: u64) -> anyhow::Error {
    match e {
        ZcError::TimedOut => {
            anyhow::anyhow!(
                "no progress for {STALL:?} after {sent} bytes: the receiver stopped reading?"
            )
        }
        e => anyhow::Error::new(e).context(format!("after {sent} bytes")),
    }
}

/// A progress bar of a transfer on stderr: bytes, rate, and with a known `len` the share
/// done and the time left. Drawn only when stderr is a terminal (hidden otherwise, so piped
/// or logged output stays clean: the final summary line says it all), and cleared before
/// that line.
fn transfer_bar(len: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    let template = if len.is_some() {
        "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"
    } else {
        "{spinner} [{elapsed_precise}] {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style);
    }
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Waits (bounded by [`STALL`]) for at least one completion.
fn wait(ring: &mut IoUring, cqes: &mut [Cqe]) -> Result<usize> {
    let deadline = Instant::now() + STALL;
    loop {
        let n = ring.copy_cqes(cqes, 0).context("io_uring_enter")?;
        if n > 0 {
            return Ok(n as usize);
        }
        if Instant::now() >= deadline {
            bail!("no progress for {STALL:?}: the receiver stopped reading?");
        }
        match ring.submit_and_wait_timeout(1, Duration::from_secs(1)) {
            Ok(_) => {}
            Err(e) if matches!(e.errno(), Some(Errno::TIME | Errno::INTR)) => {}
            Err(e) => return Err(e).context("io_uring_enter"),
        }
    }
}

/// Reads until `buf` is full or EOF; returns the bytes read.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// `uring recv PORT [FILE]`: accepts one connection, writes its bytes to FILE (or stdout)
/// until EOF.
///
/// FILE is created (truncated, as a shell's `>` does) before listening: a FILE that cannot
/// be written fails at once, before any sender connects. The wait for the connection is
/// bounded by `accept_timeout`.
pub fn recv(
    spec: &str,
    path: Option<&Path>,
    expect: Option<u64>,
    v6: bool,
    accept_timeout: Duration,
) -> Result<()> {
    let addr = util::listen_addr(spec, v6)?;
    let mut out: Box<dyn Write> = match path {
        Some(p) => Box::new(create_output(p)?),
        None => Box::new(std::io::stdout().lock()),
    };
    let listener = util::listen_tcp(addr)?;
    let local = listener.local_addr()?;
    crate::util::note!("listening on {local}");
    let (conn, peer) = accept_within(&listener, accept_timeout)?;
    drop(listener);
    let start = Instant::now();
    let pb = transfer_bar(expect);
    let got = recv_stream(conn.as_raw_fd(), &mut out, &pb);
    pb.finish_and_clear();
    let got = got?;
    out.flush().context("writing the output")?;
    drop(out);
    let secs = start.elapsed().as_secs_f64();
    crate::util::note!(
        "received {got} bytes from {peer} in {secs:.3} s, {:.1} MB/s",
        mb_per_s(got, secs)
    );
    if let Some(want) = expect {
        if got != want {
            bail!("short transfer: received {got} of {want} expected bytes");
        }
    }
    Ok(())
}

/// Creates (or truncates) the output file, with a message that names it and says why not.
fn create_output(path: &Path) -> Result<File> {
    if path.is_dir() {
        bail!("cannot write to {}: it is a directory", path.display());
    }
    File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

/// Accepts one connection on `listener`, waiting at most `timeout`.
fn accept_within(
    listener: &std::net::TcpListener,
    timeout: Duration,
) -> Result<(std::net::TcpStream, std::net::SocketAddr)> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "no connection on {} within {} s (see --accept-timeout)",
                listener.local_addr()?,
                timeout.as_secs_f64()
            );
        }
        // SO_RCVTIMEO bounds accept(2) on Linux; zero would mean "no limit".
        util::set_recv_timeout(listener, left.max(Duration::from_millis(1)))?;
        match listener.accept() {
            Ok((conn, peer)) => {
                // The accepted socket inherits the timeout; its reads are bounded by the
                // ring loop's own stall limit instead.
                rustix::net::sockopt::set_socket_timeout(
                    &conn,
                    rustix::net::sockopt::Timeout::Recv,
                    None,
                )
                .context("setsockopt(SO_RCVTIMEO)")?;
                return Ok((conn, peer));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e).context("accept"),
        }
    }
}

/// Receives with the ring into two alternating buffers: while the bytes of one are being
/// written out, a recv into the other is already in flight. Until EOF.
fn recv_stream(fd: i32, out: &mut dyn Write, pb: &ProgressBar) -> Result<u64> {
    let mut bufs = [AlignedBuf::zeroed(CHUNK)?, AlignedBuf::zeroed(CHUNK)?];
    let mut ring = IoUring::init(4, IoringSetupFlags::empty()).context("cannot set up the ring")?;
    let mut total = 0u64;
    let mut pending = false;
    let r = recv_loop(fd, out, &mut ring, &mut bufs, &mut total, &mut pending, pb);
    if pending {
        // A recv may still complete after the ring is gone (teardown cancels
        // asynchronously): leak the buffers rather than free memory the kernel may write.
        drop(ring);
        std::mem::forget(bufs);
    }
    r.map(|()| total)
}

fn queue_recv(ring: &mut IoUring, fd: i32, buf: &mut AlignedBuf, tag: u64) -> Result<()> {
    let mut sqe = Sqe::default();
    sqe.prep_recv(fd, buf, uring::sys::RecvFlags::empty());
    sqe.user_data = tag;
    // SAFETY: the caller does not touch `buf` until this recv's completion is reaped; if
    // that never happens, `recv_stream` leaks it (`pending`).
    unsafe { ring.push(&sqe) }.context("submission queue full")?;
    ring.submit().context("io_uring_enter")?;
    Ok(())
}

fn recv_loop(
    fd: i32,
    out: &mut dyn Write,
    ring: &mut IoUring,
    bufs: &mut [AlignedBuf; 2],
    total: &mut u64,
    pending: &mut bool,
    pb: &ProgressBar,
) -> Result<()> {
    let mut cqes = [Cqe::default(); 4];
    let mut cur = 0usize;
    queue_recv(ring, fd, &mut bufs[cur], cur as u64)?;
    *pending = true;
    loop {
        let n = wait(ring, &mut cqes)?;
        let c = cqes[..n]
            .iter()
            .find(|c| c.user_data == cur as u64)
            .copied()
            .context("missing recv completion")?;
        *pending = false;
        match c.result() {
            Ok(0) => return Ok(()),
            Ok(k) => {
                // Receive into the other buffer while this one is written out.
                let (a, b) = bufs.split_at_mut(1);
                let (this, other) = if cur == 0 {
                    (&a[0], &mut b[0])
                } else {
                    (&b[0], &mut a[0])
                };
                queue_recv(ring, fd, other, (cur ^ 1) as u64)?;
                *pending = true;
                out.write_all(&this[..k as usize])
                    .context("writing the output")?;
                *total += u64::from(k);
                pb.set_position(*total);
                cur ^= 1;
            }
            Err(Errno::INTR | Errno::AGAIN) => {
                queue_recv(ring, fd, &mut bufs[cur], cur as u64)?;
                *pending = true;
            }
            Err(e) => bail!(
                "short transfer: recv failed after {total} bytes: {}",
                std::io::Error::from_raw_os_error(e.raw_os_error())
            ),
        }
    }
}
