//! `uring send FILE HOST:PORT` and `uring recv PORT [FILE]`: file transfer, plain TCP bytes
//! on the wire (so `socat`/`nc` work on either side).
//!
//! The sender reads the file into a small set of reusable buffers and sends each with
//! `send_zc` (MSG_WAITALL). One send is in flight at a time, which keeps the byte stream in
//! order; a short send is continued from where it stopped before any later buffer. A
//! buffer is refilled only after its last notification (IORING_CQE_F_NOTIF): the kernel may
//! read it until then. While a send is in flight the next buffer is read from the file.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use rustix::io::Errno;
use uring::sys::IoringSetupFlags;
use uring::{Cqe, IoUring, Sqe};

use crate::util::{self, mb_per_s, AlignedBuf};

/// Bytes per buffer.
const CHUNK: usize = 1 << 20;
/// Buffers in rotation.
const BUFFERS: usize = 4;
/// The longest wait for any completion before the transfer is declared stalled.
const STALL: Duration = Duration::from_secs(30);

/// One buffer of the sender.
#[derive(Debug)]
struct Slot {
    buf: AlignedBuf,
    /// Valid bytes in `buf`.
    len: usize,
    /// Bytes of `buf` already sent.
    sent: usize,
    /// Notifications still to come for sends from this buffer.
    notifs: u32,
    /// Queued for sending (filled and not completely sent).
    queued: bool,
    /// A send from this buffer awaits its first completion.
    in_flight: bool,
}

impl Slot {
    fn is_free(&self) -> bool {
        !self.queued && !self.in_flight && self.notifs == 0
    }

    /// Completions the kernel still owes for this buffer.
    fn owed(&self) -> u32 {
        self.notifs + u32::from(self.in_flight)
    }
}

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
    let (sent, copied, notifs) = send_stream(&mut file, stream.as_raw_fd())?;
    // Half-close: the receiver sees EOF after the last byte, as with `nc -N`/socat.
    stream
        .shutdown(std::net::Shutdown::Write)
        .context("shutdown")?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "sent {sent} bytes in {secs:.3} s, {:.1} MB/s (zero-copy sends: {notifs}, kernel copied {copied})",
        mb_per_s(sent, secs)
    );
    if let Some(len) = expected {
        if sent != len {
            bail!("short transfer: sent {sent} of {len} bytes");
        }
    }
    Ok(())
}

/// Sends everything `src` yields on the connected socket `fd`. Returns (bytes sent,
/// notifications that reported a copy, notifications).
fn send_stream(src: &mut impl Read, fd: i32) -> Result<(u64, u64, u64)> {
    // The buffers are declared before the ring: on any return the ring goes first.
    let mut slots: Vec<Slot> = (0..BUFFERS)
        .map(|_| {
            Ok(Slot {
                buf: AlignedBuf::zeroed(CHUNK)?,
                len: 0,
                sent: 0,
                notifs: 0,
                queued: false,
                in_flight: false,
            })
        })
        .collect::<Result<_>>()?;
    let mut ring =
        IoUring::init(16, IoringSetupFlags::empty()).context("cannot set up the ring")?;
    let mut count = Counts::default();
    let result = send_loop(src, fd, &mut ring, &mut slots, &mut count);
    // Whatever happened, wait (bounded) for every completion and notification before the
    // buffers may be freed; leak them if the kernel does not let go in time.
    let pending = drain_notifs(&mut ring, &mut slots, &mut count);
    if pending > 0 {
        drop(ring);
        std::mem::forget(slots);
        let e = result
            .err()
            .map_or(String::new(), |e| format!(" after: {e:#}"));
        bail!("{pending} zero-copy notifications never arrived; buffers leaked{e}");
    }
    result.map(|()| (count.sent, count.copied, count.notifs))
}

/// What the sender counted.
#[derive(Debug, Default)]
struct Counts {
    sent: u64,
    copied: u64,
    notifs: u64,
}

fn send_loop(
    src: &mut impl Read,
    fd: i32,
    ring: &mut IoUring,
    slots: &mut [Slot],
    count: &mut Counts,
) -> Result<()> {
    let report = uring::sys::IORING_SEND_ZC_REPORT_USAGE as u16;
    let waitall = linux_raw_sys::net::MSG_WAITALL;
    let mut order: std::collections::VecDeque<usize> = Default::default();
    let mut in_flight: Option<usize> = None;
    let mut eof = false;
    let mut cqes = [Cqe::default(); 16];
    loop {
        // Keep one send in flight: the head of the queue, from where it stopped.
        if in_flight.is_none() {
            if let Some(&i) = order.front() {
                let s = &slots[i];
                let mut sqe = Sqe::default();
                sqe.prep_send_zc(fd, &s.buf[s.sent..s.len], waitall, report);
                sqe.user_data = i as u64;
                // SAFETY: the range lies in slot i's buffer, which is neither refilled nor
                // freed until its notifications have all been reaped (`Slot::is_free`,
                // `drain_notifs`).
                unsafe { ring.push(&sqe) }.context("submission queue full")?;
                slots[i].in_flight = true;
                ring.submit().context("io_uring_enter")?;
                in_flight = Some(i);
            }
        }
        // Fill a free buffer from the file while the send is in flight.
        if !eof {
            if let Some(i) = slots.iter().position(Slot::is_free) {
                let n = read_full(src, &mut slots[i].buf).context("reading the file")?;
                if n == 0 {
                    eof = true;
                } else {
                    let s = &mut slots[i];
                    (s.len, s.sent, s.queued) = (n, 0, true);
                    order.push_back(i);
                }
                continue;
            }
        }
        if in_flight.is_none() && order.is_empty() && eof {
            return Ok(());
        }
        // Wait for a completion (bounded). The whole batch is accounted for before any
        // error is returned: a notification may sit right behind a failed send.
        let n = wait(ring, &mut cqes)?;
        let mut failure: Option<anyhow::Error> = None;
        for c in &cqes[..n] {
            let i = c.user_data as usize;
            let Some(s) = slots.get_mut(i) else {
                failure.get_or_insert_with(|| anyhow!("completion with unknown user_data {c:?}"));
                continue;
            };
            if c.notif() {
                s.notifs = s.notifs.saturating_sub(1);
                count.notifs += 1;
                count.copied += u64::from(c.zc_copied());
                continue;
            }
            in_flight = None;
            s.in_flight = false;
            if c.more() {
                s.notifs += 1;
            }
            match c.result() {
                Ok(0) => {
                    failure.get_or_insert_with(|| {
                        anyhow!(
                            "short transfer: the connection accepted no more bytes after {}",
                            count.sent
                        )
                    });
                }
                Ok(k) => {
                    s.sent += k as usize;
                    count.sent += u64::from(k);
                    if s.sent >= s.len {
                        s.queued = false;
                        order.pop_front();
                    }
                }
                Err(Errno::INTR | Errno::AGAIN) => {}
                Err(e) => {
                    failure.get_or_insert_with(|| {
                        anyhow!(
                            "short transfer: send failed after {} bytes: {}",
                            count.sent,
                            std::io::Error::from_raw_os_error(e.raw_os_error())
                        )
                    });
                }
            }
        }
        if let Some(e) = failure {
            return Err(e);
        }
    }
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

/// Reaps until no buffer awaits a notification (bounded); returns how many still do.
fn drain_notifs(ring: &mut IoUring, slots: &mut [Slot], count: &mut Counts) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut cqes = [Cqe::default(); 16];
    loop {
        let pending: u32 = slots.iter().map(Slot::owed).sum();
        if pending == 0 || Instant::now() >= deadline {
            return pending;
        }
        let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(100));
        let n = ring.copy_cqes(&mut cqes, 0).unwrap_or(0) as usize;
        for c in &cqes[..n] {
            if let Some(s) = slots.get_mut(c.user_data as usize) {
                if c.notif() {
                    s.notifs = s.notifs.saturating_sub(1);
                    count.notifs += 1;
                    count.copied += u64::from(c.zc_copied());
                } else {
                    s.in_flight = false;
                    if c.more() {
                        s.notifs += 1;
                    }
                }
            }
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
pub fn recv(spec: &str, path: Option<&Path>, expect: Option<u64>, v6: bool) -> Result<()> {
    let addr = util::listen_addr(spec, v6)?;
    let listener = util::listen_tcp(addr)?;
    eprintln!("listening on {}", listener.local_addr()?);
    let mut out: Box<dyn Write> = match path {
        Some(p) => {
            Box::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let (conn, peer) = listener.accept().context("accept")?;
    drop(listener);
    let start = Instant::now();
    let got = recv_stream(conn.as_raw_fd(), &mut out)?;
    out.flush().context("writing the output")?;
    drop(out);
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
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

/// Receives with the ring into two alternating buffers: while the bytes of one are being
/// written out, a recv into the other is already in flight. Until EOF.
fn recv_stream(fd: i32, out: &mut dyn Write) -> Result<u64> {
    let mut bufs = [AlignedBuf::zeroed(CHUNK)?, AlignedBuf::zeroed(CHUNK)?];
    let mut ring = IoUring::init(4, IoringSetupFlags::empty()).context("cannot set up the ring")?;
    let mut total = 0u64;
    let mut pending = false;
    let r = recv_loop(fd, out, &mut ring, &mut bufs, &mut total, &mut pending);
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
    sqe.prep_recv(fd, buf, 0);
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
