//! The driver's ring shared with other work and between senders, against the live
//! kernel: the caller's own requests on `driver.ring()` come back through the ring's
//! `copy_cqes` exactly once each while senders work; several senders on one driver each
//! get their own completions with no routing by the caller; the driver's user_data
//! namespace is refused to the caller.

mod zc_util;

use std::collections::BTreeMap;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use rustix::io::Errno;
use uring::types::{timespec, Timespec};
use uring::zc::{
    is_zc_user_data, BufferError, BufferPool, Completion, Config, Driver, DriverConfig, Policy,
    ZcBuffer, ZcSender, USER_DATA_TAG,
};
use uring::{Cqe, IoUring, RecvBuffer, SqeError};
use zc_util::*;

/// Reaps the caller's completions off the driver's ring, without waiting.
fn reap_mine(driver: &mut Driver, out: &mut Vec<Cqe>) {
    let mut buf = [Cqe::default(); 16];
    // Bounded: each round takes at least one completion or stops. Rounds alternate
    // between copying completions out and reading them in place: both must set the
    // driver's aside.
    for round in 0..1024 {
        let n = if round % 2 == 0 {
            let n = driver.ring().copy_cqes(&mut buf, 0).unwrap() as usize;
            out.extend_from_slice(&buf[..n]);
            n
        } else {
            driver.ring().for_each_cqe(|c| out.push(*c)) as usize
        };
        if n == 0 {
            break;
        }
    }
}

/// Reaps the caller's completions (bounded) until `want` more are collected, driving the
/// driver too so that its senders keep going.
fn reap_more(driver: &mut Driver, out: &mut Vec<Cqe>, want: usize) {
    let end = deadline();
    let goal = out.len() + want;
    for round in 0.. {
        if out.len() >= goal {
            break;
        }
        assert!(
            std::time::Instant::now() < end && round < 100_000,
            "completions missing: {out:?}"
        );
        let _ = driver
            .ring()
            .submit_and_wait_timeout(1, Duration::from_millis(50));
        driver.poll().unwrap();
        reap_mine(driver, out);
    }
}

/// Closes `sender` once every buffer is back and drops its socket: EOF for the peer.
fn close_stream(sender: ZcSender, driver: &mut Driver, done: &mut Vec<Completion>) {
    let closed = sender.close(driver, BOUND);
    assert_eq!(closed.error, None, "the close drained in time");
    assert_eq!(closed.pending, 0);
    assert!(closed.socket.is_some());
    done.extend(closed.completions);
}

/// The completions by user_data, checking that none came twice and none is the driver's.
fn by_user_data(cqes: &[Cqe]) -> BTreeMap<u64, Cqe> {
    assert!(
        cqes.iter().all(|c| !is_zc_user_data(c.user_data)),
        "a completion of the driver's reached the caller: {cqes:?}"
    );
    let map: BTreeMap<u64, Cqe> = cqes.iter().map(|c| (c.user_data, *c)).collect();
    assert_eq!(map.len(), cqes.len(), "each completion once: {cqes:?}");
    map
}

#[test]
fn the_callers_requests_come_back_through_the_ring_exactly_once() {
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .wait_timeout(Some(BOUND));
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 32 * 1024);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();

    // Other work on the same ring, queued before the sender runs: a NOP, a short timeout
    // that fires while the sender works, a long one that stays in flight throughout, and
    // a recv on a socket of the caller's that is fed half-way through.
    let short: Timespec = timespec(Duration::from_millis(20));
    let long: Timespec = timespec(Duration::from_secs(3600));
    let (mut feed, recv_side) = UnixStream::pair().unwrap();
    let mut recv_buf = vec![0u8; 64];
    driver.ring().nop(1).unwrap();
    // SAFETY: both timespecs and `recv_buf` live until the end of the test, after their
    // completions were reaped (checked below); `recv_buf` is not touched until then, and
    // `recv_side` stays open as long.
    unsafe {
        driver
            .ring()
            .timeout(2, &short, 0, uring::sys::IoringTimeoutFlags::empty())
            .unwrap();
        driver
            .ring()
            .timeout(3, &long, 0, uring::sys::IoringTimeoutFlags::empty())
            .unwrap();
        driver
            .ring()
            .recv(
                5,
                recv_side.as_raw_fd(),
                RecvBuffer::Buffer(&mut recv_buf),
                uring::sys::RecvFlags::empty(),
            )
            .unwrap();
    }

    let mut mine: Vec<Cqe> = Vec::new();
    let mut done = Vec::new();
    let mut at = 0u64;
    for i in 0..40u64 {
        let len = 1 + (i as usize * 37_717) % 200_000;
        sender.send(&mut driver, chunk(at, len)).unwrap();
        at += len as u64;
        if i % 5 == 0 {
            // More requests of the caller's, queued between the sender's calls: the
            // driver's next submit takes them along.
            driver.ring().nop(0x100 + i).unwrap();
        }
        if i == 20 {
            feed.write_all(b"the caller's own bytes").unwrap();
        }
        done.extend(sender.completions(&mut driver).unwrap());
        // The caller reaps as usual, between the sender's calls: only its own come out.
        reap_mine(&mut driver, &mut mine);
    }
    finish(&sender, &mut driver, &mut done);
    reap_mine(&mut driver, &mut mine);
    // The long timeout is still in flight: cancel it, and collect what is left.
    assert!(
        !mine.iter().any(|c| c.user_data == 3),
        "the long timeout cannot have fired: {mine:?}"
    );
    driver
        .ring()
        .cancel(4, 3, uring::sys::IoringAsyncCancelFlags::empty())
        .unwrap();
    let expected: usize = 1 + 2 + 1 + 8 + 1; // a nop, two timeouts, the recv, eight nops, the cancel
    let missing = expected.saturating_sub(mine.len());
    reap_more(&mut driver, &mut mine, missing);
    // Nothing more is due: one more round finds nothing.
    driver.poll().unwrap();
    reap_mine(&mut driver, &mut mine);

    let by_ud = by_user_data(&mine);
    assert_eq!(mine.len(), expected, "{mine:?}");
    assert_eq!(
        by_ud[&1],
        Cqe {
            user_data: 1,
            res: 0,
            flags: 0
        }
    );
    assert_eq!(by_ud[&2].err(), Some(Errno::TIME));
    assert_eq!(by_ud[&3].err(), Some(Errno::CANCELED));
    assert_eq!(by_ud[&4].result(), Ok(0));
    let got = by_ud[&5].result().expect("the recv") as usize;
    assert_eq!(&recv_buf[..got], b"the caller's own bytes");
    for i in (0..40).step_by(5) {
        assert_eq!(by_ud[&(0x100 + i)].res, 0);
    }
    assert_each_once(&done, 40);
    assert!(done.iter().all(|c| c.is_ok()));
    close_stream(sender, &mut driver, &mut done);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
    // `short`, `long`, `recv_buf` and `recv_side` lived until here, past their completions.
    drop((recv_side, feed));
}

/// What one sender of a shared driver was given, to check what comes back to it.
struct Stream {
    sender: ZcSender,
    /// (offset, len) of each buffer, by seq.
    sent: Vec<(u64, usize)>,
    at: u64,
    back: Vec<Completion>,
    rx: std::thread::JoinHandle<Received>,
}

impl Stream {
    /// Takes this sender's completions, checking each is a buffer this sender was given,
    /// with its bytes intact.
    fn take(&mut self, driver: &mut Driver) {
        for c in self.sender.completions(driver).unwrap() {
            check_own(&self.sent, &c);
            self.back.push(c);
        }
    }
}

/// `c` is the buffer of seq `c.seq` of the stream `sent`: its length and bytes.
fn check_own(sent: &[(u64, usize)], c: &Completion) {
    let (off, len) = *sent
        .get(c.seq as usize)
        .unwrap_or_else(|| panic!("seq {} was never given to this sender", c.seq));
    assert_eq!(
        c.buffer.len(),
        len,
        "seq {}: another sender's buffer",
        c.seq
    );
    assert!(
        c.buffer.as_slice() == &chunk(off, len)[..],
        "seq {}: the bytes of another buffer",
        c.seq
    );
    assert_eq!(c.result, Ok(len), "seq {}", c.seq);
}

#[test]
fn several_senders_on_one_driver_each_get_their_own_completions() {
    const SENDERS: usize = 3;
    const EACH: usize = 60;
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .budget_bytes(512 * 1024)
        .wait_timeout(Some(BOUND));
    let per_sender_cq = config.cq_entries();
    let mut driver = Driver::new(
        config
            .driver_config()
            .cq_entries(per_sender_cq * SENDERS as u32 + 64),
    )
    .unwrap();
    let pool = BufferPool::new(&mut driver, 128 * 1024, 16).unwrap();
    let mut streams: Vec<Stream> = (0..SENDERS)
        .map(|k| {
            let (c, s) = tcp_pair();
            if k == 1 {
                // One slow peer, so that the senders progress at different paces.
                small_rcvbuf(&s, 128 * 1024);
            }
            let rx = checking_receiver(s, if k == 1 { 4096 } else { 64 * 1024 });
            Stream {
                sender: ZcSender::new(&mut driver, c, config.clone()).unwrap(),
                sent: Vec::new(),
                at: 0,
                back: Vec::new(),
                rx,
            }
        })
        .collect();
    assert_eq!(driver.sender_count(), SENDERS);
    let mut mine = Vec::new();
    let mut nops = 0u64;
    // Interleaved: one buffer to each sender in turn, with lengths and kinds that differ
    // between senders, so that a buffer handed to the wrong sender shows.
    for i in 0..EACH {
        for (k, st) in streams.iter_mut().enumerate() {
            let len = 1 + (i * 7919 + k * 104_729) % (100_000 + k * 20_000);
            let data = chunk(st.at, len);
            let buffer: ZcBuffer = match (i + k) % 3 {
                0 => data.into(),
                1 => data.into_boxed_slice().into(),
                _ => match pool.get() {
                    Some(mut slot) if len <= slot.capacity() => {
                        slot.set_len(len);
                        slot.copy_from_slice(&data);
                        slot.into()
                    }
                    _ => data.into(),
                },
            };
            st.sender.send(&mut driver, buffer).unwrap();
            st.sent.push((st.at, len));
            st.at += len as u64;
            // The caller's own work on the same ring, while the senders work.
            if (i + k) % 7 == 0 {
                driver.ring().nop(0x1000 + nops).unwrap();
                nops += 1;
            }
            st.take(&mut driver);
            reap_mine(&mut driver, &mut mine);
        }
        // A call on one sender drives them all: each finds only its own buffers back.
        for st in streams.iter_mut() {
            st.take(&mut driver);
        }
    }
    driver
        .wait_all(BOUND)
        .expect("every sender drained in time");
    for st in streams.iter_mut() {
        st.take(&mut driver);
        assert_eq!(st.sender.buffers_in_flight(&driver).unwrap(), 0);
    }
    let missing = (nops as usize).saturating_sub(mine.len());
    reap_more(&mut driver, &mut mine, missing);
    let by_ud = by_user_data(&mine);
    assert_eq!(mine.len() as u64, nops, "{mine:?}");
    assert!((0..nops).all(|n| by_ud[&(0x1000 + n)].res == 0));
    let mut fixed = 0;
    for st in streams {
        assert_each_once(&st.back, EACH as u64);
        let stats = st.sender.stats(&driver).unwrap();
        let bytes: u64 = st.sent.iter().map(|&(_, l)| l as u64).sum();
        assert_eq!(stats.buffers_submitted, EACH as u64, "{stats:?}");
        assert_eq!(stats.buffers_returned, EACH as u64, "{stats:?}");
        assert_eq!(stats.bytes_returned, bytes, "{stats:?}");
        assert_eq!(stats.bytes_completed, bytes, "{stats:?}");
        assert_eq!(stats.zero_copy, EACH as u64, "{stats:?}");
        assert!(stats.peak_bytes_in_flight <= 512 * 1024, "{stats:?}");
        fixed += stats.fixed_requests;
        let mut rest = Vec::new();
        close_stream(st.sender, &mut driver, &mut rest);
        assert!(rest.is_empty(), "all were taken before the close");
        assert_eq!(
            st.rx.join().unwrap(),
            Received {
                bytes,
                mismatch: None,
                error: false
            }
        );
    }
    assert!(fixed > 0, "pool slots went send_zc_fixed");
    assert_eq!(driver.sender_count(), 0);
    assert_eq!(pool.available(), 16);
}

#[test]
fn the_reserved_user_data_is_refused_by_the_rings_operations() {
    let mut driver = Driver::new(DriverConfig::default()).unwrap();
    let ring = driver.ring();
    let ready = ring.sq_ready();
    for ud in [
        USER_DATA_TAG,
        USER_DATA_TAG | 1,
        USER_DATA_TAG | 0x00FF_FFFF_FFFF_FFFF,
        (0xA5 << 56) | 0x1234,
    ] {
        assert!(ring.is_reserved_user_data(ud));
        assert!(is_zc_user_data(ud));
        assert_eq!(
            ring.nop(ud).map(|_| ()),
            Err(SqeError::ReservedUserData(ud))
        );
        assert_eq!(
            ring.cancel(ud, 1, uring::sys::IoringAsyncCancelFlags::empty())
                .map(|_| ()),
            Err(SqeError::ReservedUserData(ud))
        );
        let ts = timespec(Duration::from_secs(1));
        // SAFETY: refused before anything is queued (checked below); `ts` outlives it.
        let r = unsafe {
            ring.timeout(ud, &ts, 0, uring::sys::IoringTimeoutFlags::empty())
                .map(|_| ())
        };
        assert_eq!(r, Err(SqeError::ReservedUserData(ud)));
        let mut buf = [0u8; 8];
        // SAFETY: refused before anything is queued (checked below): the kernel never
        // sees `buf` or the fd.
        let r = unsafe {
            ring.recv(
                ud,
                0,
                RecvBuffer::Buffer(&mut buf),
                uring::sys::RecvFlags::empty(),
            )
            .map(|_| ())
        };
        assert_eq!(r, Err(SqeError::ReservedUserData(ud)));
    }
    assert_eq!(ring.sq_ready(), ready, "a refused request takes no SQE");
    // Every other top byte is the caller's.
    for ud in [0, 1, 0xA4 << 56, 0xA6 << 56, u64::MAX, !USER_DATA_TAG] {
        assert!(!ring.is_reserved_user_data(ud), "{ud:#x}");
        ring.nop(ud).unwrap();
    }
    let mut mine = Vec::new();
    reap_more(&mut driver, &mut mine, 6);
    let by_ud = by_user_data(&mine);
    assert_eq!(by_ud.len(), 6);
    // A plain ring reserves nothing: the top byte 0xA5 is anyone's there.
    let mut plain = IoUring::init(8, uring::sys::IoringSetupFlags::empty()).unwrap();
    assert!(!plain.is_reserved_user_data(USER_DATA_TAG | 1));
    plain.nop(USER_DATA_TAG | 1).unwrap();
    assert_eq!(plain.submit_and_wait(1).unwrap(), 1);
    assert_eq!(plain.copy_cqe().unwrap().user_data, USER_DATA_TAG | 1);
}

/// A sender whose one large buffer is in flight, part-sent, to a peer that has not read
/// yet: (driver, sender, go, peer).
fn part_sent(
    len: usize,
) -> (
    Driver,
    ZcSender,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<Received>,
) {
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .budget_bytes(32 << 20)
        .wait_timeout(Some(BOUND));
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    small_sndbuf(&client, 4096);
    small_rcvbuf(&server, 128 * 1024);
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let rx = std::thread::spawn(move || {
        wait.recv_timeout(BOUND).unwrap();
        checking_receiver(server, 64 * 1024).join().unwrap()
    });
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    sender.try_send(&mut driver, chunk(0, len)).unwrap();
    sender.poll(&mut driver).unwrap();
    assert_eq!(sender.buffers_in_flight(&driver).unwrap(), 1);
    (driver, sender, go, rx)
}

/// Cancels every request in flight on the driver's ring (the caller's ASYNC_CANCEL_ANY),
/// and reaps the cancel's own completion.
fn cancel_everything(driver: &mut Driver) -> Cqe {
    driver
        .ring()
        .cancel(0x77, 0, uring::sys::IoringAsyncCancelFlags::ANY)
        .unwrap();
    let mut mine = Vec::new();
    reap_more(driver, &mut mine, 1);
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].user_data, 0x77);
    mine[0]
}

#[test]
fn a_callers_cancel_of_a_senders_request_loses_and_repeats_nothing() {
    // The caller cancels everything on the ring, the sender's part-sent request included.
    // The kernel reports the part sent; the sender either continues with the rest (a
    // short send) or, had nothing been sent, fails the stream with ECANCELED. Either
    // way the buffer comes back once and the peer gets a prefix of the stream, intact.
    const LEN: usize = 4 << 20;
    let (mut driver, sender, go, rx) = part_sent(LEN);
    let cancel = cancel_everything(&mut driver);
    assert!(cancel.result().is_ok_and(|n| n >= 1), "{cancel:?}");
    go.send(()).unwrap();
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    assert_each_once(&done, 1);
    let stats = sender.stats(&driver).unwrap();
    let sent = match done[0].result {
        Ok(n) => {
            assert_eq!(n, LEN);
            assert!(stats.continuations >= 1, "{stats:?}");
            n
        }
        Err(BufferError::Failed { errno, sent }) => {
            assert_eq!(errno, Errno::CANCELED);
            sent
        }
        Err(e) => panic!("{e:?}"),
    };
    assert_eq!(stats.bytes_completed, sent as u64, "{stats:?}");
    assert_eq!(stats.buffers_returned, 1);
    drop(done);
    let closed = sender.close(&mut driver, BOUND);
    assert_eq!((closed.pending, closed.error), (0, None));
    drop(closed.socket);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: sent as u64,
            mismatch: None,
            error: false
        }
    );
}

#[test]
fn a_closing_sender_whose_request_is_cancelled_part_sent_still_retires() {
    const LEN: usize = 4 << 20;
    let (mut driver, sender, go, rx) = part_sent(LEN);
    // The handle goes while the kernel holds the buffer: the driver keeps it.
    drop(sender);
    driver.poll().unwrap();
    assert_eq!(driver.sender_count(), 1);
    cancel_everything(&mut driver);
    go.send(()).unwrap();
    // The held request is done (cancelled): the driver must free the buffer, retire the
    // sender and close its socket.
    drive_until(&mut driver, "the closing sender never retired", |d| {
        d.sender_count() == 0
    });
    let r = rx.join().unwrap();
    assert_eq!(r.mismatch, None);
    assert!(!r.error, "EOF once the driver let the socket go: {r:?}");
}

#[test]
fn a_link_chain_left_open_by_the_caller_never_reaches_the_senders_requests() {
    // The caller leaves a failing request with IOSQE_IO_LINK at the end of the SQ: the
    // next SQE would be cancelled with it. The driver ends the chain with a NOP of its own
    // before queueing, so the sender's requests go through untouched.
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .wait_timeout(Some(BOUND));
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 64 * 1024);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut done = Vec::new();
    let mut mine = Vec::new();
    let mut at = 0u64;
    for i in 0..8u64 {
        // Cancels a request that does not exist: fails with ENOENT, breaking its link.
        driver
            .ring()
            .cancel(
                0x5200 + i,
                0xDEAD_BEEF,
                uring::sys::IoringAsyncCancelFlags::empty(),
            )
            .unwrap()
            .link();
        let len = 10_000 + i as usize * 30_000;
        sender.send(&mut driver, chunk(at, len)).unwrap();
        at += len as u64;
        done.extend(sender.completions(&mut driver).unwrap());
        reap_mine(&mut driver, &mut mine);
    }
    finish(&sender, &mut driver, &mut done);
    let missing = 8usize.saturating_sub(mine.len());
    reap_more(&mut driver, &mut mine, missing);
    driver.poll().unwrap();
    reap_mine(&mut driver, &mut mine);
    let by_ud = by_user_data(&mine);
    assert_eq!(mine.len(), 8, "only the caller's own, each once: {mine:?}");
    for i in 0..8u64 {
        assert_eq!(by_ud[&(0x5200 + i)].err(), Some(Errno::NOENT));
    }
    assert_each_once(&done, 8);
    assert!(done.iter().all(Completion::is_ok), "{done:?}");
    assert_eq!(sender.error(&driver).unwrap(), None);
    close_stream(sender, &mut driver, &mut done);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
}

#[test]
fn the_callers_peek_and_advance_never_consume_the_drivers_completions() {
    // The caller consumes the CQ its own way — peek_cqe, and cq_advance over everything
    // ready (the driver's completions included) — between the sender's calls. The
    // driver's completions are set aside for it, never dropped: every buffer comes back.
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .budget_bytes(256 * 1024)
        .wait_timeout(Some(BOUND));
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 16 * 1024);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut done = Vec::new();
    let mut peeked = Vec::new();
    let mut at = 0u64;
    for i in 0..60u64 {
        let len = 1000 + (i as usize * 7919) % 60_000;
        driver.ring().nop(0x600 + i).unwrap();
        sender.send(&mut driver, chunk(at, len)).unwrap();
        at += len as u64;
        let ring = driver.ring();
        if i % 2 == 0 {
            // Bounded: each round takes one completion or stops.
            for _ in 0..1024 {
                match ring.peek_cqe() {
                    Some(c) => peeked.push(c),
                    None => break,
                }
            }
        } else {
            let ready = ring.cq_ready();
            ring.cq_advance(ready);
        }
        done.extend(sender.completions(&mut driver).unwrap());
    }
    finish(&sender, &mut driver, &mut done);
    assert!(
        peeked.iter().all(|c| !is_zc_user_data(c.user_data)),
        "peek_cqe handed out a completion of the driver's: {peeked:?}"
    );
    by_user_data(&peeked);
    assert_each_once(&done, 60);
    assert!(done.iter().all(Completion::is_ok));
    let stats = sender.stats(&driver).unwrap();
    assert_eq!(stats.buffers_returned, 60);
    assert_eq!(stats.bytes_completed, at);
    close_stream(sender, &mut driver, &mut done);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
}

impl Stream {
    /// A sender on `driver` to a checking peer reading `read_size` at a time.
    fn open(driver: &mut Driver, config: &Config, read_size: usize) -> Stream {
        let (c, s) = tcp_pair();
        Stream {
            sender: ZcSender::new(driver, c, config.clone()).unwrap(),
            sent: Vec::new(),
            at: 0,
            back: Vec::new(),
            rx: checking_receiver(s, read_size),
        }
    }

    /// Sends one Vec buffer of `len` stream bytes.
    fn send(&mut self, driver: &mut Driver, len: usize) {
        self.sender.send(driver, chunk(self.at, len)).unwrap();
        self.sent.push((self.at, len));
        self.at += len as u64;
    }

    /// Drains, closes, and checks: every buffer back once, intact, and the peer's bytes.
    fn finish(mut self, driver: &mut Driver) {
        self.sender.wait_all(driver, BOUND).unwrap();
        self.take(driver);
        let mut rest = Vec::new();
        close_stream(self.sender, driver, &mut rest);
        assert!(rest.is_empty());
        assert_each_once(&self.back, self.sent.len() as u64);
        assert_eq!(
            self.rx.join().unwrap(),
            Received {
                bytes: self.at,
                mismatch: None,
                error: false
            }
        );
    }
}

#[test]
fn a_dropped_senders_late_completions_never_reach_the_senders_after_it() {
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .budget_bytes(8 << 20)
        .wait_timeout(Some(BOUND));
    let mut driver = Driver::new(config.driver_config().cq_entries(32768)).unwrap();
    // A: its peer reads nothing until released, so the kernel holds A's buffers when
    // its handle goes.
    let (ca, sa) = tcp_pair();
    small_rcvbuf(&sa, 128 * 1024);
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let rx_a = std::thread::spawn(move || {
        wait.recv_timeout(BOUND).unwrap();
        checking_receiver(sa, 64 * 1024).join().unwrap()
    });
    let a = ZcSender::new(&mut driver, ca, config.clone()).unwrap();
    let mut a_at = 0u64;
    for _ in 0..32 {
        a.try_send(&mut driver, chunk(a_at, 64 * 1024)).unwrap();
        a_at += 64 * 1024;
    }
    a.poll(&mut driver).unwrap();
    let a_confirmed = a.stats(&driver).unwrap().bytes_completed;
    assert!(a.buffers_in_flight(&driver).unwrap() > 0);
    let mut b = Stream::open(&mut driver, &config, 64 * 1024);
    for i in 0..10 {
        b.send(&mut driver, 1000 + i * 3000);
    }
    drop(a);
    driver.poll().unwrap();
    assert_eq!(
        driver.sender_count(),
        2,
        "A closing (held by the kernel), B"
    );
    // C comes while A's requests are still in the kernel.
    let mut c = Stream::open(&mut driver, &config, 64 * 1024);
    for i in 0..10 {
        b.send(&mut driver, 2000 + i * 5000);
        c.send(&mut driver, 3000 + i * 7000);
        b.take(&mut driver);
        c.take(&mut driver);
    }
    // A's peer reads: A's held requests finish while B and C work; A retires.
    go.send(()).unwrap();
    let end = deadline();
    for i in 0.. {
        if driver.sender_count() == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < end && i < 10_000,
            "A never retired"
        );
        b.send(&mut driver, 500 + i % 20_000);
        c.send(&mut driver, 700 + i % 30_000);
        b.take(&mut driver);
        c.take(&mut driver);
        let _ = driver
            .ring()
            .submit_and_wait_timeout(1, Duration::from_millis(20));
        driver.poll().unwrap();
    }
    let r = rx_a.join().unwrap();
    assert_eq!(r.mismatch, None, "A's bytes intact: {r:?}");
    assert!(
        !r.error && r.bytes >= a_confirmed && r.bytes <= a_at,
        "{r:?}"
    );
    // D may take A's index now (with a new generation): a stray of A's must not reach it.
    let mut d = Stream::open(&mut driver, &config, 64 * 1024);
    for i in 0..20 {
        b.send(&mut driver, 100 + i * 4000);
        c.send(&mut driver, 200 + i * 6000);
        d.send(&mut driver, 300 + i * 8000);
        b.take(&mut driver);
        c.take(&mut driver);
        d.take(&mut driver);
    }
    driver.wait_all(BOUND).unwrap();
    let mut mine = Vec::new();
    reap_mine(&mut driver, &mut mine);
    assert!(mine.is_empty(), "no completion of anyone else: {mine:?}");
    b.finish(&mut driver);
    c.finish(&mut driver);
    d.finish(&mut driver);
    assert_eq!(driver.sender_count(), 0);
}

/// A driver asked to register its ring fd (`DriverConfig::register_ring_fd`) names the
/// ring by its slot only on the thread that made it. Moved to another thread that has
/// registered a ring of its own (at the same slot number, the first free one of a fresh
/// table), the driver enters by fd there: its sends complete, and the other ring sees
/// nothing of them. Back home, it names its slot again.
#[test]
fn a_registered_ring_fd_is_used_only_on_its_own_thread() {
    let mut driver = Driver::new(DriverConfig::default().register_ring_fd(true)).unwrap();
    assert!(driver.ring_fd_registered());
    let home_slot = driver.ring().registered_ring_index().unwrap();
    assert!(!Driver::new(DriverConfig::default())
        .unwrap()
        .ring_fd_registered());
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 64 * 1024);
    let sender = ZcSender::new(
        &mut driver,
        client,
        Config::default().policy(Policy::Always),
    )
    .unwrap();
    const LEN: usize = 4096;
    let batch = |from: u64| (from..from + 4).map(|i| ZcBuffer::from(chunk(i * LEN as u64, LEN)));
    let mut out = Vec::new();
    send_all(&sender, &mut driver, batch(0), &mut out);
    finish(&sender, &mut driver, &mut out);

    let (mut driver, sender, mut out) = std::thread::spawn(move || {
        let mut other = IoUring::init(8, uring::sys::IoringSetupFlags::empty()).unwrap();
        let slot = other.register_ring_fd().unwrap();
        assert_eq!(
            slot, home_slot,
            "the same number, another ring, on this thread"
        );
        assert!(!driver.ring_fd_registered());
        send_all(&sender, &mut driver, batch(4), &mut out);
        finish(&sender, &mut driver, &mut out);
        // Nothing of the driver's was submitted to or completed on the other ring.
        assert_eq!(other.sq_ready(), 0);
        assert_eq!(other.cq_ready(), 0);
        assert!(other.peek_cqe().is_none());
        (driver, sender, out)
    })
    .join()
    .unwrap();
    assert!(
        driver.ring_fd_registered(),
        "back on the registering thread"
    );
    send_all(&sender, &mut driver, batch(8), &mut out);
    close_stream(sender, &mut driver, &mut out);
    assert_each_once(&out, 12);
    assert!(out.iter().all(|c| c.result == Ok(LEN)), "{out:?}");
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: 12 * LEN as u64,
            mismatch: None,
            error: false
        }
    );
}
