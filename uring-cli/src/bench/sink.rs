//! Receivers: the loopback run's receiver threads (TCP and UDP) and `--listen`, a plain TCP
//! sink that reads and discards. They read with ordinary `recv(2)` calls, so that the
//! receiving side is the same whichever sender (ours, liburing's, `socat`) is measured.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rustix::io::Errno;
use rustix::net::RecvFlags;

use crate::util::{cpu_per_gb, mb_per_s, set_recv_timeout, Meter};

/// Bytes per `recv` call.
const RECV_BUF: usize = 1 << 20;

/// What a receiver measured.
#[derive(Debug, Clone, Default)]
pub struct SinkStats {
    /// Bytes received.
    pub bytes: u64,
    /// Datagrams (UDP) or recv calls that returned data (TCP).
    pub packets: u64,
    /// From the connection (or the first datagram) to EOF (or the last datagram).
    pub elapsed: Duration,
    /// CPU time of the receiving thread.
    pub cpu: Duration,
}

/// Reads `conn` until EOF, discarding the bytes (MSG_WAITALL when `waitall`). A read
/// timeout bounds every wait.
pub fn drain_tcp(conn: &TcpStream, waitall: bool, idle: Duration) -> Result<SinkStats> {
    let meter = Meter::start();
    set_recv_timeout(conn, idle)?;
    let mut buf = vec![0u8; RECV_BUF];
    let flags = if waitall {
        RecvFlags::WAITALL
    } else {
        RecvFlags::empty()
    };
    let mut st = SinkStats::default();
    loop {
        match rustix::net::recv(conn, &mut buf[..], flags) {
            Ok((_, 0)) => break,
            Ok((_, n)) => {
                st.bytes += n as u64;
                st.packets += 1;
            }
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => bail!(
                "no data for {idle:?} after {} bytes (sender stalled)",
                st.bytes
            ),
            // A reset after data is how some senders end (close with unread data).
            Err(Errno::CONNRESET) if st.bytes > 0 => break,
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("recv after {} bytes", st.bytes))
            }
        }
    }
    (st.elapsed, st.cpu) = meter.stop();
    Ok(st)
}

/// Accepts one connection on `listener`, polling `abort` so that a failed sender does not
/// leave us waiting; bounded by `timeout`.
pub fn accept_one(
    listener: &TcpListener,
    abort: &AtomicBool,
    timeout: Duration,
) -> Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((conn, _)) => {
                conn.set_nonblocking(false)?;
                return Ok(conn);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if abort.load(Ordering::Relaxed) {
                    bail!("sender gave up before connecting");
                }
                if Instant::now() >= deadline {
                    bail!("no connection within {timeout:?}");
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return Err(e).context("accept"),
        }
    }
}

/// Receives datagrams on `sock` until `done` is set and the socket has been quiet for a
/// moment, or `limit` has passed.
pub fn drain_udp(sock: &UdpSocket, done: &AtomicBool, limit: Duration) -> Result<SinkStats> {
    let meter = Meter::start();
    set_recv_timeout(sock, Duration::from_millis(50))?;
    let mut buf = vec![0u8; 65536];
    let mut st = SinkStats::default();
    let deadline = Instant::now() + limit;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    while Instant::now() < deadline {
        match rustix::net::recv(sock, &mut buf[..], RecvFlags::empty()) {
            Ok((_, n)) => {
                let now = Instant::now();
                first.get_or_insert(now);
                last = now;
                st.bytes += n as u64;
                st.packets += 1;
            }
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => {
                if done.load(Ordering::Acquire) {
                    break;
                }
            }
            Err(e) => return Err(std::io::Error::from(e)).context("recv (udp)"),
        }
    }
    st.elapsed = first.map_or(Duration::ZERO, |f| last - f);
    st.cpu = meter.stop().1;
    Ok(st)
}

/// Asks for a large receive buffer (SO_RCVBUFFORCE when permitted, else SO_RCVBUF), so that
/// a datagram receiver drops less.
pub fn grow_rcvbuf(sock: &UdpSocket, bytes: usize) {
    use std::os::fd::AsRawFd;
    let val: libc::c_int = bytes.min(i32::MAX as usize) as libc::c_int;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: a valid socket fd, a valid int option value of the right size.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&val as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}

/// `uring bench --listen`: accepts connections (up to `limit`), reads each to EOF on its
/// own thread, and prints one line per connection on stdout.
pub fn listen(addr: SocketAddr, limit: Option<u64>, waitall: bool) -> Result<()> {
    let listener = crate::util::listen_tcp(addr)?;
    let local = listener.local_addr()?;
    crate::util::out_line(format_args!("listening on {local}"))?;
    let mut failures = 0u64;
    std::thread::scope(|s| -> Result<()> {
        let mut handles = Vec::new();
        let mut n = 0u64;
        while limit.map_or(true, |l| n < l) {
            let (conn, peer) = match listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("accept"),
            };
            n += 1;
            let id = n;
            handles.push(s.spawn(move || {
                match drain_tcp(&conn, waitall, Duration::from_secs(30)) {
                    // A closed stdout is the thread's error (see `joined`).
                    Ok(st) => crate::util::out_line(format_args!(
                        "conn {id} from {peer}: {} bytes in {:.3} s, {:.1} MB/s, receiver CPU {}",
                        st.bytes,
                        st.elapsed.as_secs_f64(),
                        mb_per_s(st.bytes, st.elapsed.as_secs_f64()),
                        cpu_per_gb(st.cpu, st.bytes)
                            .map_or("-".to_string(), |c| format!("{c:.3} s/GB")),
                    ))
                    .map(|()| true),
                    Err(e) => {
                        crate::util::note!("conn {id} from {peer}: error: {e:#}");
                        Ok(false)
                    }
                }
            }));
            // Join finished connections so the list does not grow without bound.
            let (done, pending): (Vec<_>, Vec<_>) =
                handles.into_iter().partition(|h| h.is_finished());
            for h in done {
                failures += joined(h.join())?;
            }
            handles = pending;
        }
        for h in handles {
            failures += joined(h.join())?;
        }
        Ok(())
    })?;
    if failures > 0 {
        bail!("{failures} connection(s) failed");
    }
    Ok(())
}

/// A connection thread's outcome: 0 if it succeeded, 1 if its connection failed (or the
/// thread panicked); its stdout error (a closed pipe: see `util::is_broken_pipe`) as ours.
fn joined(r: std::thread::Result<std::io::Result<bool>>) -> Result<u64> {
    match r {
        Ok(Ok(true)) => Ok(0),
        Ok(Ok(false)) | Err(_) => Ok(1),
        Ok(Err(e)) => Err(e).context("writing to stdout"),
    }
}
