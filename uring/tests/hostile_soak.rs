//! Soak: a bounded run of random zero-copy streams at the ring layer — random ring
//! configurations, random buffer sizes, random modes (send_zc, send_zc_fixed from a
//! registered buffer, sendmsg_zc, with or without REPORT_USAGE), random chain lengths, and
//! random peer faults (none, a reset after a random number of bytes, a peer that stops
//! reading until the sender shuts down). Every byte the peer receives is checked against
//! the stream, every request must end its two-completion protocol exactly once (every
//! buffer handed back once), and the totals are printed.
//!
//! Bounded by time and by count: `URING_SOAK_SECS` (default 60) and at most 100 000
//! episodes. `URING_SOAK_SEED` replays a run (the seed is printed).

mod common;

use std::collections::HashMap;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::sockopt;
use uring::sys::IORING_SEND_ZC_REPORT_USAGE;
use uring::{iovec, Cqe, IoUring, MsgHdr};

const SEND_FLAGS: uring::sys::SendFlags =
    uring::sys::SendFlags::NOSIGNAL.union(uring::sys::SEND_WAITALL);
const STREAM_LEN: usize = 16 << 20;

use common::Rng;

impl Rng {
    /// A size from 1 byte to 512 KiB, most of them small (log-uniform).
    fn size(&mut self) -> usize {
        let bits = 1 + self.below(19);
        1 + self.below(1 << bits) as usize
    }
}

/// The bytes every stream is cut from: leaked (the kernel may read any of them until
/// their notification, also when a run fails half-way) and registered as buffer 0.
fn stream() -> &'static mut [u8] {
    let v: Vec<u8> = (0..STREAM_LEN as u32)
        .map(|i| (i.wrapping_mul(2_246_822_519) >> 9) as u8)
        .collect();
    Box::leak(v.into_boxed_slice())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Mode {
    SendZc,
    SendZcFixed,
    SendmsgZc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Fault {
    None,
    /// The peer resets after this many bytes.
    Reset(usize),
    /// The peer stops reading after this many bytes; the sender shuts down when stalled.
    Stall(usize),
}

#[derive(Default, Debug)]
struct Totals {
    episodes: u64,
    requests: u64,
    bytes_sent: u64,
    bytes_received: u64,
    notifications: u64,
    copied: u64,
    short: u64,
    errors: HashMap<Errno, u64>,
    modes: HashMap<Mode, u64>,
    faults: HashMap<&'static str, u64>,
    retired: std::collections::HashSet<u64>,
    late_notifications: u64,
}

/// The peer: reads the expected stream, checking each byte; on `Reset(n)` resets after n
/// bytes; on `Stall(n)` stops after n bytes until told, then resets. Returns the bytes it
/// checked.
fn peer(
    mut s: TcpStream,
    expected: Vec<(usize, usize)>,
    fault: Fault,
    data: &'static [u8],
    release: Arc<AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let total: usize = expected.iter().map(|p| p.1).sum();
        let limit = match fault {
            Fault::None => total,
            Fault::Reset(n) | Fault::Stall(n) => n.min(total),
        };
        let mut pieces = expected.into_iter();
        let (mut off, mut left) = pieces.next().unwrap_or((0, 0));
        let mut got = 0;
        let mut buf = vec![0u8; 128 * 1024];
        while got < limit {
            let want = buf.len().min(limit - got);
            let n = match s.read(&mut buf[..want]) {
                Ok(0) => break, // the sender gave up (shutdown after a fault)
                Ok(n) => n,
                Err(e) => panic!("peer read: {e}"),
            };
            let mut checked = 0;
            while checked < n {
                while left == 0 {
                    (off, left) = pieces.next().expect("more bytes than the stream");
                }
                let k = left.min(n - checked);
                assert!(
                    buf[checked..checked + k] == data[off..off + k],
                    "stream bytes differ at {}",
                    got + checked
                );
                off += k;
                left -= k;
                checked += k;
            }
            got += n;
        }
        if let Fault::Stall(_) = fault {
            let start = Instant::now();
            while !release.load(Ordering::Acquire) {
                assert!(start.elapsed() < Duration::from_secs(30), "never released");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if fault == Fault::None {
            // Everything arrived: the sender's shutdown follows, then end of stream.
            let n = s.read(&mut buf).expect("peer read at the end");
            assert_eq!(n, 0, "bytes after the stream");
        } else {
            sockopt::set_socket_linger(&s, Some(Duration::ZERO)).unwrap();
        }
        got
    })
}

struct Episode<'a> {
    ring: &'a mut IoUring,
    data: &'static [u8],
    next_ud: &'a mut u64,
    /// user_data -> (len, mode, report_usage)
    issued: HashMap<u64, (usize, Mode, bool)>,
    cqes: Vec<Cqe>,
    /// msghdrs and iovecs of sendmsg_zc requests: kept until the episode ends. Boxed:
    /// the kernel holds their addresses, which must not move when the Vec grows.
    #[allow(clippy::vec_box)]
    msgs: Vec<Box<(MsgHdr, iovec)>>,
    /// Requests of earlier episodes that were cancelled by a broken link (-ECANCELED, no
    /// F_MORE) and have not notified: each may still post one notification, to be
    /// ignored and counted, never matched to anything else (FINDINGS.md 1).
    retired: &'a mut std::collections::HashSet<u64>,
    late_notifications: &'a mut u64,
}

impl Episode<'_> {
    fn firsts_done(&self, uds: &[u64]) -> bool {
        uds.iter()
            .all(|ud| self.cqes.iter().any(|c| c.user_data == *ud && !c.notif()))
    }

    fn finished(&self, ud: u64) -> bool {
        match self.cqes.iter().find(|c| c.user_data == ud && !c.notif()) {
            None => false,
            Some(f) if f.more() => self.cqes.iter().any(|c| c.user_data == ud && c.notif()),
            Some(_) => true,
        }
    }

    fn reap(&mut self, wait: Duration) -> usize {
        if self.ring.cq_ready() == 0 {
            match self.ring.submit_and_wait_timeout(1, wait) {
                Ok(_) | Err(uring::EnterError::Timeout) => {}
                Err(e) => panic!("wait: {e}"),
            }
        }
        let mut buf = [Cqe::default(); 64];
        let n = self.ring.copy_cqes(&mut buf, 0).unwrap() as usize;
        for c in &buf[..n] {
            if self.issued.contains_key(&c.user_data) {
                self.cqes.push(*c);
            } else {
                assert!(
                    c.notif() && self.retired.remove(&c.user_data),
                    "foreign completion {c:?}"
                );
                *self.late_notifications += 1;
            }
        }
        n
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

fn episode(
    rng: &mut Rng,
    ring: &mut IoUring,
    data: &'static [u8],
    next_ud: &mut u64,
    t: &mut Totals,
) {
    let (client, server) = tcp_pair();
    let fd = client.as_raw_fd();
    // The plan: chains of random requests.
    let chains = 1 + rng.below(6) as usize;
    // One episode in eight is bulk (256 KiB .. 1 MiB a request): more than the socket
    // buffers hold, so that a stalled peer really stalls the sender.
    let bulk = rng.below(8) == 0;
    let mut plan: Vec<Vec<(usize, usize, Mode, bool)>> = Vec::new();
    let mut total = 0;
    for _ in 0..chains {
        let n = 1 + rng.below(8) as usize;
        let mut chain = Vec::new();
        for _ in 0..n {
            let len = if bulk {
                (256 << 10) + rng.below(768 << 10) as usize
            } else {
                rng.size()
            };
            let off = rng.below((STREAM_LEN - len) as u64) as usize;
            let mode = match rng.below(3) {
                0 => Mode::SendZc,
                1 => Mode::SendZcFixed,
                _ => Mode::SendmsgZc,
            };
            chain.push((off, len, mode, rng.below(2) == 0));
            total += len;
        }
        plan.push(chain);
    }
    let fault = match rng.below(4) {
        0 | 1 => Fault::None,
        2 => Fault::Reset(rng.below(total as u64 + 1) as usize),
        _ => Fault::Stall(rng.below(total as u64 + 1) as usize),
    };
    let expected: Vec<(usize, usize)> = plan.iter().flatten().map(|p| (p.0, p.1)).collect();
    let release = Arc::new(AtomicBool::new(false));
    let peer = peer(server, expected, fault, data, release.clone());

    let mut ep = Episode {
        ring,
        data,
        next_ud,
        issued: HashMap::new(),
        cqes: Vec::new(),
        msgs: Vec::new(),
        retired: &mut t.retired,
        late_notifications: &mut t.late_notifications,
    };
    let mut failed = false;
    let mut shut = false;
    for chain in &plan {
        if failed {
            break;
        }
        let mut uds = Vec::new();
        for (i, &(off, len, mode, usage)) in chain.iter().enumerate() {
            let ud = *ep.next_ud;
            *ep.next_ud += 1;
            let piece = &ep.data[off..off + len];
            let zc = if usage {
                IORING_SEND_ZC_REPORT_USAGE as u16
            } else {
                0
            };
            // SAFETY: `data` is leaked (valid and unmodified forever) and registered as
            // buffer 0; the msghdr and iovec live in `ep.msgs` until the episode's end,
            // after every completion.
            let mut sqe = unsafe {
                match mode {
                    Mode::SendZc => ep.ring.send_zc(
                        ud,
                        fd,
                        piece,
                        SEND_FLAGS,
                        uring::sys::IoringSendFlags::from_bits_retain(zc),
                    ),
                    Mode::SendZcFixed => ep.ring.send_zc_fixed(
                        ud,
                        fd,
                        piece,
                        SEND_FLAGS,
                        uring::sys::IoringSendFlags::from_bits_retain(zc),
                        0,
                    ),
                    Mode::SendmsgZc => {
                        // SAFETY: all-zero is a valid empty msghdr.
                        let mut m: Box<(MsgHdr, iovec)> = Box::new(core::mem::zeroed());
                        m.1 = iovec {
                            iov_base: piece.as_ptr() as *mut _,
                            iov_len: len as _,
                        };
                        m.0.msg_iov = (&mut m.1 as *mut iovec).cast();
                        m.0.msg_iovlen = 1;
                        let msg: *const MsgHdr = &m.0;
                        ep.msgs.push(m);
                        let r = ep.ring.sendmsg_zc(ud, fd, msg, SEND_FLAGS);
                        if usage {
                            r.map(|mut s| {
                                s.as_mut_sqe().ioprio |= zc;
                                s
                            })
                        } else {
                            r
                        }
                    }
                }
            }
            .expect("SQ room");
            if i + 1 < chain.len() {
                sqe.link();
            }
            ep.issued.insert(ud, (len, mode, usage));
            uds.push(ud);
            *t.modes.entry(mode).or_insert(0) += 1;
        }
        ep.ring.submit().unwrap();
        // The next chain only after this one's first completions: the stream's order.
        let start = Instant::now();
        let mut quiet = Duration::ZERO;
        while !ep.firsts_done(&uds) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chain never completed"
            );
            let got = ep.reap(Duration::from_millis(50));
            if got == 0 {
                quiet += Duration::from_millis(50);
            } else {
                quiet = Duration::ZERO;
            }
            if let Fault::Stall(_) = fault {
                if quiet >= Duration::from_millis(200) && !shut {
                    // Stalled: the sender gives up on the peer.
                    let _ = rustix::net::shutdown(&client, rustix::net::Shutdown::Write);
                    shut = true;
                }
            }
        }
        failed = uds.iter().any(|ud| {
            let f = ep
                .cqes
                .iter()
                .find(|c| c.user_data == *ud && !c.notif())
                .unwrap();
            f.result().map_or(true, |n| n as usize != ep.issued[ud].0)
        });
    }
    if !shut {
        let r = rustix::net::shutdown(&client, rustix::net::Shutdown::Write);
        // After a reset the socket is no longer connected: ENOTCONN.
        assert!(r.is_ok() || fault != Fault::None, "shutdown: {r:?}");
    }
    release.store(true, Ordering::Release);
    let received = peer.join().expect("peer");
    // Every request ends its protocol (notifications of data still queued are released
    // by the peer's reset or by the data's delivery).
    let start = Instant::now();
    let uds: Vec<u64> = ep.issued.keys().copied().collect();
    while !uds.iter().all(|&ud| ep.finished(ud)) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{fault:?}: requests never finished: {:?}",
            ep.cqes
        );
        ep.reap(Duration::from_millis(100));
    }
    drop(client);
    ep.ring.submit().unwrap();
    ep.reap(Duration::ZERO);
    let cqes = std::mem::take(&mut ep.cqes);
    let issued = std::mem::take(&mut ep.issued);
    let msgs = std::mem::take(&mut ep.msgs);
    for &ud in issued.keys() {
        let link_cancelled = cqes.iter().any(|c| {
            c.user_data == ud && !c.notif() && !c.more() && c.err() == Some(Errno::CANCELED)
        });
        let notified = cqes.iter().any(|c| c.user_data == ud && c.notif());
        if link_cancelled && !notified {
            ep.retired.insert(ud);
        }
    }
    drop(ep);

    let mut sent = 0;
    for (&ud, &(len, _, usage)) in &issued {
        let out = common::check_zc_protocol(&cqes, ud);
        match out.first.result() {
            Ok(n) if n as usize == len => sent += len,
            Ok(n) => {
                assert!(fault != Fault::None, "{out:?}");
                sent += n as usize;
                t.short += 1;
            }
            Err(e) => {
                assert!(fault != Fault::None, "{out:?}");
                assert!(
                    [Errno::CONNRESET, Errno::PIPE, Errno::CANCELED].contains(&e),
                    "{fault:?}: {out:?}"
                );
                *t.errors.entry(e).or_insert(0) += 1;
            }
        }
        if let Some(n) = out.notif {
            t.notifications += 1;
            assert!(usage || !n.zc_copied(), "{n:?}");
            t.copied += u64::from(n.zc_copied());
        }
    }
    assert!(
        sent >= received,
        "{fault:?}: sent {sent} < received {received}"
    );
    if fault == Fault::None {
        assert_eq!(
            (sent, received),
            (total, total),
            "a fault-free stream arrives whole"
        );
    }
    t.episodes += 1;
    t.requests += issued.len() as u64;
    t.bytes_sent += sent as u64;
    t.bytes_received += received as u64;
    let name = match fault {
        Fault::None => "none",
        Fault::Reset(_) => "reset",
        Fault::Stall(_) => "stall",
    };
    *t.faults.entry(name).or_insert(0) += 1;
    drop(msgs); // after every completion of the episode
}

#[test]
fn soak_random_zero_copy_streams_with_faults() {
    let secs = common::env_u64("URING_SOAK_SECS").unwrap_or(60);
    let seed = common::soak_seed("URING_SOAK_SEED");
    eprintln!("soak: {secs} s, seed {seed} (URING_SOAK_SECS, URING_SOAK_SEED)");
    let mut rng = Rng(seed);
    let data: &'static [u8] = stream();
    let configs = common::ring_configurations();
    let mut totals = Totals::default();
    let mut next_ud = 1u64;
    let start = Instant::now();
    let deadline = Duration::from_secs(secs);
    'run: for era in 0..10_000u64 {
        let config = &configs[rng.below(configs.len() as u64) as usize];
        let mut ring = config.ring();
        let iov = [iovec {
            iov_base: data.as_ptr() as *mut _,
            iov_len: data.len() as _,
        }];
        // SAFETY: `data` is leaked: it outlives the registration.
        unsafe { ring.register_buffers(&iov) }.unwrap();
        for _ in 0..20 {
            if start.elapsed() >= deadline || totals.episodes >= 100_000 {
                break 'run;
            }
            episode(&mut rng, &mut ring, data, &mut next_ud, &mut totals);
        }
        let _ = era;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "soak totals after {elapsed:.1} s: {} episodes, {} requests, {} bytes sent, {} received \
         and checked, {} notifications ({} copied, {} late after a broken link), {} short \
         sends, errors {:?}, modes {:?}, faults {:?}",
        totals.episodes,
        totals.requests,
        totals.bytes_sent,
        totals.bytes_received,
        totals.notifications,
        totals.copied,
        totals.late_notifications,
        totals.short,
        totals.errors,
        totals.modes,
        totals.faults
    );
    assert!(totals.episodes > 0);
}
