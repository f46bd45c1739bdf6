//! Soak through the safe zero-copy layer: a bounded run of random episodes, each one
//! `ZcSender` on a `Driver` shared, one after the other, by the senders of its era (with
//! one registered `BufferPool`): TCP streams and UDP datagrams (connected, or `send_to`);
//! random policies (`Always`, `Never`, `Adaptive` with random thresholds), depths,
//! budgets, buffer limits and socket buffer sizes; random buffer sizes (1 byte to 1 MiB;
//! datagrams to 64 KiB) and kinds (`Vec`, `Box<[u8]>`, `&'static`, `bytes::Bytes`, pool
//! slots); blocking and non-blocking calls; and random peer faults: none, a reset after a
//! random number of bytes, a peer that stops reading until the sender shuts the socket
//! down and then reads on or resets, a datagram peer that goes away. Now and then a
//! sender is closed with a short bound while the peer is stalled, so that the driver keeps
//! the buffers the kernel still holds (`Closed::pending`, as documented) and frees them
//! once the kernel lets go; their bytes must still arrive intact, and once the driver has
//! been driven until idle every pool slot is back in the pool.
//!
//! Checked in every episode: every byte the peer receives against the expected stream
//! (and every datagram whole, at most once); every buffer accepted comes back exactly
//! once, as itself, unchanged (or is counted pending by `close`); the stream's error is
//! reported once and the peer got an exact prefix; the statistics add up; the caller's
//! reaping of the ring gets nothing (no request of the caller's runs on it, and none of
//! the driver's completions, late ones of earlier senders included, ever reach it); every
//! pool slot is back in the pool at the end of the episode. The totals are printed.
//!
//! Bounded by time and by count: `URING_SOAK_SAFE_SECS` (default 30) and at most 100 000
//! episodes; every wait is bounded. The seed is printed; `URING_SOAK_SAFE_SEED` replays
//! the same random choices.

mod common;

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{
    check_stats, datagram_bytes, datagram_peer, make_buffer, make_owned_buffer, stream_peer,
    stream_slice, tcp_pair, Kind, Ledger, PeerFault,
};
use rustix::io::Errno;
use uring::zc::{
    BufferError, BufferPool, Config, Driver, Policy, SendErrorKind, ZcBuffer, ZcError, ZcSender,
};
use uring::Cqe;

const BOUND: Duration = Duration::from_secs(20);
/// No episode may take longer than this (it fails instead).
const EPISODE: Duration = Duration::from_secs(90);
const MAX_EPISODES: u64 = 100_000;
/// Episodes that close a sender with buffers still in the kernel, at most.
const MAX_PENDING_EPISODES: u64 = 64;
const SLOT_SIZE: usize = 1 << 20;
const SLOTS: usize = 8;
const MAX_DATAGRAM: usize = 65_507;

use common::Rng;

impl Rng {
    /// True one time in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len() as u64) as usize]
    }
    /// 1..=max, log-uniform (most sizes small, some large).
    fn size(&mut self, max: usize) -> usize {
        let bits = 64 - (max as u64).leading_zeros() as u64;
        let b = 1 + self.below(bits);
        (1 + self.below(1 << b) as usize).min(max)
    }
}

#[derive(Default, Debug)]
struct Totals {
    episodes: u64,
    eras: u64,
    by_transport: BTreeMap<&'static str, u64>,
    by_fault: BTreeMap<&'static str, u64>,
    by_policy: BTreeMap<String, u64>,
    by_kind: BTreeMap<String, u64>,
    buffers: u64,
    bytes_sent: u64,
    bytes_received: u64,
    datagrams_sent: u64,
    datagrams_received: u64,
    notifications: u64,
    stray_notifications: u64,
    copied: u64,
    zc_requests: u64,
    fixed_requests: u64,
    plain_requests: u64,
    continuations: u64,
    would_block: u64,
    timed_out: u64,
    too_large: u64,
    not_sent: u64,
    errors: BTreeMap<String, u64>,
    pending_episodes: u64,
    pending_buffers: u64,
    late_strays: u64,
    slowest: Duration,
}

impl Totals {
    fn add_stats(&mut self, s: &uring::zc::ZcStats) {
        self.notifications += s.notifications;
        self.stray_notifications += s.stray_notifications;
        self.copied += s.copied;
        self.zc_requests += s.zc_requests;
        self.fixed_requests += s.fixed_requests;
        self.plain_requests += s.requests - s.zc_requests;
        self.continuations += s.continuations;
        self.would_block += s.would_block;
        self.not_sent += s.not_sent;
    }

    fn add_kinds(&mut self, ledger: &Ledger) {
        for a in &ledger.bufs {
            *self.by_kind.entry(format!("{:?}", a.kind)).or_insert(0) += 1;
        }
        for (_, e) in ledger.failed() {
            *self.errors.entry(format!("{:?}", e.errno())).or_insert(0) += 1;
        }
    }
}

/// One era: a driver and its pool, shared by the senders of the era one after the other
/// (the late completions of earlier ones may still arrive: the driver consumes them).
struct Era {
    driver: Driver,
    pool: BufferPool,
}

impl Era {
    fn new() -> Era {
        let mut driver = Config::default()
            .max_buffers(1024)
            .depth(16)
            .driver()
            .unwrap();
        let slots = common::slots_that_fit(SLOT_SIZE, SLOTS);
        let pool = BufferPool::new(&mut driver, SLOT_SIZE, slots).unwrap();
        Era { driver, pool }
    }
}

/// Reaps the ring as its caller: nothing of the caller's runs on it, and none of the
/// driver's completions (late ones of earlier senders included) may reach the caller.
fn check_caller_cqes(driver: &mut Driver, what: &str) {
    let mut cqes = [Cqe::default(); 16];
    let n = driver.ring().copy_cqes(&mut cqes, 0).unwrap() as usize;
    assert_eq!(
        n,
        0,
        "{what}: the caller queued nothing, yet reaped {:?}",
        &cqes[..n]
    );
}

/// Drives the driver until no sender of it is left (bounded): a closed sender goes once
/// the kernel is done with all its requests, its buffers freed and its socket closed.
fn drive_until_idle(driver: &mut Driver, what: &str) {
    let start = Instant::now();
    for round in 0u32.. {
        driver.poll().unwrap();
        check_caller_cqes(driver, what);
        if driver.sender_count() == 0 {
            return;
        }
        assert!(
            start.elapsed() < BOUND && round < 100_000,
            "{what}: the driver still has {} senders",
            driver.sender_count()
        );
        let _ = driver
            .ring()
            .submit_and_wait_timeout(1, Duration::from_millis(20));
    }
}

fn random_config(rng: &mut Rng, datagram: bool) -> Config {
    let policy = rng.pick(&[Policy::Always, Policy::Never, Policy::Adaptive]);
    let budget = if datagram {
        rng.pick(&[256 << 10, 1 << 20, 4 << 20])
    } else {
        rng.pick(&[256 << 10, 1 << 20, 1 << 20, 4 << 20, 16 << 20])
    };
    Config::default()
        .policy(policy)
        .depth(1 + rng.below(16) as u32)
        .budget_bytes(budget)
        .max_buffers(rng.pick(&[4, 64, 1024]))
        .adaptive_min_size(rng.pick(&[1024, 10 * 1024, 64 * 1024]))
        .adaptive_copied_limit(1 + rng.below(4) as u32)
        .adaptive_reprobe_every(rng.pick(&[4, 64, 256]))
        .wait_timeout(Some(Duration::from_millis(100)))
        // Gathered requests (the default) three times in four, chains otherwise; drawn
        // last, so the draws before it are those of earlier seeds.
        .coalesce(rng.below(4) != 0)
}

fn policy_name(c: &Config) -> String {
    format!("{:?}", c.policy)
}

// ------------------------------------------------------------------------------------
// TCP episodes.

fn tcp_episode(rng: &mut Rng, era: &mut Era, t: &mut Totals) {
    let config = random_config(rng, false);
    let bulk = rng.one_in(6);
    let n = if bulk {
        1 + rng.below(24)
    } else {
        1 + rng.below(64)
    } as usize;
    let sizes: Vec<usize> = (0..n)
        .map(|_| {
            if bulk {
                (256 << 10) + rng.below(768 << 10) as usize
            } else {
                rng.size(1 << 20)
            }
        })
        .collect();
    let total: u64 = sizes.iter().map(|&s| s as u64).sum();
    let fault = match rng.below(10) {
        0..=3 => PeerFault::None,
        4 | 5 => PeerFault::Reset(rng.below(total + 1)),
        6 | 7 => PeerFault::StallThenRead(rng.below(total / 2 + 1)),
        _ => PeerFault::StallThenReset(rng.below(total / 2 + 1)),
    };
    let stall = matches!(
        fault,
        PeerFault::StallThenRead(_) | PeerFault::StallThenReset(_)
    );
    // Now and then, a sender closed with a short bound while the peer is stalled: the
    // driver keeps what the kernel holds, and frees it (pool slots too: back to the pool)
    // once the kernel lets go. Small budget.
    let close_pending = matches!(fault, PeerFault::StallThenRead(_))
        && t.pending_episodes < MAX_PENDING_EPISODES
        && rng.one_in(4);
    let config = if close_pending {
        config.budget_bytes(1 << 20)
    } else {
        config
    };
    let kinds: Vec<Kind> = (0..n).map(|_| rng.pick(&Kind::ALL)).collect();
    let blocking: Vec<bool> = (0..n).map(|_| rng.one_in(2)).collect();
    let small_buffers = stall || rng.one_in(2);
    let fault_name = match fault {
        PeerFault::None => "tcp none",
        PeerFault::Reset(_) => "tcp reset",
        PeerFault::StallThenRead(_) if close_pending => "tcp stall+close pending",
        PeerFault::StallThenRead(_) => "tcp stall+shutdown+read",
        PeerFault::StallThenReset(_) => "tcp stall+shutdown+reset",
    };
    let what = format!(
        "{fault_name} {fault:?}, {n} buffers ({total} bytes), policy {:?} depth {} budget {} \
         max_buffers {}",
        config.policy, config.depth, config.budget_bytes, config.max_buffers
    );

    let (client, server) = tcp_pair();
    if small_buffers {
        // Small, but above loopback's 64 KiB MSS (below it, TCP crawls on delayed ACKs).
        rustix::net::sockopt::set_socket_send_buffer_size(&client, 128 * 1024).unwrap();
        rustix::net::sockopt::set_socket_recv_buffer_size(&server, 128 * 1024).unwrap();
    }
    let (stalled_tx, stalled) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let peer = stream_peer(server, fault, stalled_tx, release_rx);
    let Era { driver, pool } = era;
    let slots = pool.count();
    let pool = Some(&*pool);
    let sender = ZcSender::new(driver, client, config).unwrap();
    let config = sender.config(driver).unwrap().clone();
    let mut ledger = Ledger::default();
    let mut at = 0u64;
    let mut i = 0;
    let mut retry: Option<(ZcBuffer, usize, usize, Kind)> = None;
    let mut shut = false;
    let mut peer_stalled = false;
    let mut timed_out = 0u64;
    let start = Instant::now();
    let shut_down = |sender: &ZcSender, driver: &Driver| {
        // ENOTCONN if the connection is gone already: fine.
        let _ = rustix::net::shutdown(sender.socket(driver).unwrap(), rustix::net::Shutdown::Write);
    };
    while i < n {
        assert!(start.elapsed() < EPISODE, "{what}: the episode never ended");
        let (buffer, len, ptr, kind) = match retry.take() {
            Some(r) => r,
            None => {
                let (b, k) = make_buffer(kinds[i], stream_slice(at, sizes[i]), pool);
                let ptr = b.as_slice().as_ptr() as usize;
                (b, sizes[i], ptr, k)
            }
        };
        let r = if blocking[i] {
            sender.send(driver, buffer)
        } else {
            sender.try_send(driver, buffer)
        };
        match r {
            Ok(()) => {
                ledger.accepted(at, len, ptr, kind);
                at += len as u64;
                i += 1;
            }
            Err(e) => {
                ledger.refused(&e.buffer, ptr, len);
                match e.kind {
                    SendErrorKind::WouldBlock | SendErrorKind::Sender(ZcError::TimedOut) => {
                        retry = Some((e.buffer, len, ptr, kind));
                        if e.kind != SendErrorKind::WouldBlock {
                            timed_out += 1;
                        }
                        if stall && !shut && !peer_stalled && stalled.try_recv().is_ok() {
                            peer_stalled = true;
                            if close_pending {
                                break;
                            }
                            // The peer stopped: give up on it.
                            shut_down(&sender, driver);
                            let _ = release.send(());
                            shut = true;
                        }
                        match sender.wait(driver) {
                            Ok(_) | Err(ZcError::TimedOut) => {}
                            Err(e) => panic!("{what}: wait: {e}"),
                        }
                    }
                    SendErrorKind::TooLarge => {
                        assert!(len > config.budget_bytes, "{what}");
                        t.too_large += 1;
                        i += 1;
                    }
                    SendErrorKind::Sender(ZcError::Broken(errno)) => {
                        assert_eq!(sender.error(driver).unwrap(), Some(errno), "{what}");
                        break;
                    }
                    other => panic!("{what}: refused {other:?}"),
                }
            }
        }
        ledger.collect(&sender, driver);
        check_caller_cqes(driver, &what);
        assert!(
            sender.bytes_in_flight(driver).unwrap() <= config.budget_bytes,
            "{what}"
        );
    }
    drop(retry);
    // The stalled peer stops once it has read its share: wait for that (it reads all that
    // was accepted unless the stream broke, which only the shutdown below can do).
    if stall && !shut && !peer_stalled {
        let point = match fault {
            PeerFault::StallThenRead(p) | PeerFault::StallThenReset(p) => p,
            _ => unreachable!(),
        };
        if at >= point && sender.error(driver).unwrap().is_none() {
            // Drive the sender meanwhile: what it still queues goes out only then.
            let start = Instant::now();
            while stalled.try_recv().is_err() {
                assert!(
                    start.elapsed() < BOUND,
                    "{what}: the peer never reached its stall point"
                );
                match sender.wait(driver) {
                    Ok(_) | Err(ZcError::TimedOut) => {}
                    Err(e) => panic!("{what}: wait: {e}"),
                }
                ledger.collect(&sender, driver);
                check_caller_cqes(driver, &what);
                if sender.buffers_in_flight(driver).unwrap() == 0 {
                    // Everything is back, so everything was sent: the peer gets there.
                    stalled
                        .recv_timeout(BOUND)
                        .unwrap_or_else(|_| panic!("{what}: the peer never stalled"));
                    break;
                }
            }
        }
    }
    let stats_before_close;
    let error;
    if close_pending && !shut {
        // Close with a short bound while the peer is stalled: what the kernel still holds
        // stays with the driver (pending), the rest comes back or, still queued, is freed.
        stats_before_close = sender.stats(driver).unwrap();
        error = sender.error(driver).unwrap();
        let closed = sender.close(driver, Duration::from_millis(20));
        for c in closed.completions {
            ledger.back(c);
        }
        // Each buffer not back is pending (the kernel holds it) or was still queued or
        // between requests (never to be sent: freed by the driver).
        assert!(
            closed.pending <= ledger.missing().len(),
            "{what}: {} pending of {} missing",
            closed.pending,
            ledger.missing().len()
        );
        t.pending_episodes += 1;
        t.pending_buffers += closed.pending as u64;
        drop(closed.socket); // the driver's file table keeps the socket for the kernel
        let _ = release.send(());
        // Driven on, the driver frees the pending buffers as the kernel lets go of them;
        // then the sender goes, and its socket with it (EOF for the peer).
        drive_until_idle(driver, &what);
    } else {
        if !shut && stall {
            shut_down(&sender, driver);
            let _ = release.send(());
        }
        sender
            .wait_all(driver, BOUND)
            .unwrap_or_else(|e| panic!("{what}: not every buffer came back: {e}"));
        ledger.collect(&sender, driver);
        check_caller_cqes(driver, &what);
        stats_before_close = sender.stats(driver).unwrap();
        error = sender.error(driver).unwrap();
        let closed = sender.close(driver, BOUND);
        assert_eq!(closed.pending, 0, "{what}");
        assert!(closed.completions.is_empty(), "{what}");
        drop(closed.socket); // EOF for the peer: the idle sender went at its close
        assert_eq!(driver.sender_count(), 0, "{what}");
        let _ = release.send(());
    }
    // Every slot is back in the pool: from the completions, or freed by the driver.
    assert_eq!(
        pool.map_or(0, BufferPool::available),
        slots,
        "{what}: pool slots not back"
    );
    let report = peer.join().expect("stream peer");
    assert_eq!(
        report.mismatch, None,
        "{what}: wrong bytes on the wire: {report:?}"
    );
    let s = stats_before_close;
    if close_pending && !shut {
        // The pending buffers keep their bytes until the kernel lets go: what arrives is
        // still a prefix of the stream, at least what was reported sent before the close
        // and never more than was accepted, then EOF.
        assert!(
            report.bytes >= s.bytes_completed && report.bytes <= at,
            "{what}: {report:?}, {s:?}"
        );
        assert!(report.eof, "{what}: {report:?}");
        assert!(ledger.failed().is_empty(), "{what}");
    } else {
        let prefix = ledger.check_stream(error);
        check_stats(&s, &ledger, &config);
        assert!(
            s.notifications + s.stray_notifications <= s.zc_requests,
            "{what}: {s:?}"
        );
        assert!(report.bytes <= prefix, "{what}: {report:?} > {prefix}");
        match fault {
            PeerFault::None => {
                assert_eq!(error, None, "{what}");
                assert_eq!(
                    (prefix, report.bytes),
                    (at, at),
                    "{what}: a fault-free stream arrives whole"
                );
                assert!(report.eof, "{what}: {report:?}");
            }
            PeerFault::Reset(_) => assert!(
                matches!(error, None | Some(Errno::CONNRESET | Errno::PIPE)),
                "{what}: {error:?}"
            ),
            PeerFault::StallThenRead(_) => {
                assert!(
                    matches!(error, None | Some(Errno::PIPE)),
                    "{what}: {error:?}"
                );
                assert_eq!(
                    report.bytes, prefix,
                    "{what}: what was reported sent arrives"
                );
                assert!(report.eof, "{what}: {report:?}");
            }
            PeerFault::StallThenReset(_) => assert!(
                matches!(error, None | Some(Errno::PIPE | Errno::CONNRESET)),
                "{what}: {error:?}"
            ),
        }
    }
    t.episodes += 1;
    *t.by_transport.entry("tcp").or_insert(0) += 1;
    *t.by_fault.entry(fault_name).or_insert(0) += 1;
    *t.by_policy.entry(policy_name(&config)).or_insert(0) += 1;
    t.buffers += ledger.accepted_count();
    t.bytes_sent += ledger.bytes_sent();
    t.bytes_received += report.bytes;
    t.timed_out += timed_out;
    t.add_stats(&s);
    t.add_kinds(&ledger);
}

// ------------------------------------------------------------------------------------
// UDP episodes.

fn udp_episode(rng: &mut Rng, era: &mut Era, t: &mut Totals) {
    let config = random_config(rng, true);
    let connected = rng.one_in(2);
    let n = 1 + rng.below(96) as usize;
    let sizes: Vec<usize> = (0..n).map(|_| 12 + rng.size(MAX_DATAGRAM - 12)).collect();
    let kinds: Vec<Kind> = (0..n)
        .map(|_| rng.pick(&[Kind::Vec, Kind::Boxed, Kind::Bytes, Kind::Slot]))
        .collect();
    let blocking: Vec<bool> = (0..n).map(|_| rng.one_in(2)).collect();
    // A connected socket learns that the peer went away (ECONNREFUSED on later sends).
    let close_after = (connected && rng.one_in(3)).then(|| rng.below(n as u64));
    let fault_name = match (connected, close_after) {
        (true, None) => "udp connected",
        (true, Some(_)) => "udp connected, peer goes away",
        (false, _) => "udp send_to",
    };
    let what = format!(
        "{fault_name} {close_after:?}, {n} datagrams, policy {:?} depth {} budget {}",
        config.policy, config.depth, config.budget_bytes
    );
    let peer_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&peer_sock, 4 << 20);
    let dest = peer_sock.local_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    if connected {
        sock.connect(dest).unwrap();
    }
    let (stop, stop_rx) = mpsc::channel();
    let peer = datagram_peer(peer_sock, close_after, stop_rx);
    let Era { driver, pool } = era;
    let slots = pool.count();
    let pool = Some(&*pool);
    let sender = ZcSender::new(driver, sock, config).unwrap();
    let config = sender.config(driver).unwrap().clone();
    assert!(!sender.is_stream());
    let mut ledger = Ledger::default();
    let mut i = 0;
    let mut retry: Option<(ZcBuffer, usize, usize, Kind)> = None;
    let start = Instant::now();
    let mut timed_out = 0;
    while i < n {
        assert!(start.elapsed() < EPISODE, "{what}: the episode never ended");
        let (buffer, len, ptr, kind) = match retry.take() {
            Some(r) => r,
            None => {
                let seq = ledger.accepted_count();
                let (b, k) = make_owned_buffer(kinds[i], datagram_bytes(seq, sizes[i]), pool);
                let ptr = b.as_slice().as_ptr() as usize;
                (b, sizes[i], ptr, k)
            }
        };
        let r = match (connected, blocking[i]) {
            (true, true) => sender.send(driver, buffer),
            (true, false) => sender.try_send(driver, buffer),
            (false, true) => sender.send_to(driver, buffer, dest),
            (false, false) => sender.try_send_to(driver, buffer, dest),
        };
        match r {
            Ok(()) => {
                ledger.accepted_datagram(len, ptr, kind);
                i += 1;
            }
            Err(e) => {
                ledger.refused(&e.buffer, ptr, len);
                match e.kind {
                    SendErrorKind::WouldBlock | SendErrorKind::Sender(ZcError::TimedOut) => {
                        if e.kind != SendErrorKind::WouldBlock {
                            timed_out += 1;
                        }
                        retry = Some((e.buffer, len, ptr, kind));
                        match sender.wait(driver) {
                            Ok(_) | Err(ZcError::TimedOut) => {}
                            Err(e) => panic!("{what}: wait: {e}"),
                        }
                    }
                    other => panic!("{what}: refused {other:?}"),
                }
            }
        }
        ledger.collect(&sender, driver);
        check_caller_cqes(driver, &what);
        assert!(
            sender.bytes_in_flight(driver).unwrap() <= config.budget_bytes,
            "{what}"
        );
    }
    drop(retry);
    sender
        .wait_all(driver, BOUND)
        .unwrap_or_else(|e| panic!("{what}: not every datagram came back: {e}"));
    ledger.collect(&sender, driver);
    check_caller_cqes(driver, &what);
    let s = sender.stats(driver).unwrap();
    assert_eq!(
        sender.error(driver).unwrap(),
        None,
        "{what}: a datagram's error is its own"
    );
    let closed = sender.close(driver, BOUND);
    assert_eq!((closed.pending, closed.error), (0, None), "{what}");
    assert!(closed.completions.is_empty(), "{what}");
    assert_eq!(driver.sender_count(), 0, "{what}");
    assert_eq!(
        pool.map_or(0, BufferPool::available),
        slots,
        "{what}: pool slots not back"
    );
    let _ = stop.send(());
    let report = peer.join().expect("datagram peer");

    assert!(ledger.all_back(), "{what}: missing {:?}", ledger.missing());
    check_stats(&s, &ledger, &config);
    for (seq, a) in ledger.bufs.iter().enumerate() {
        match a.result.unwrap() {
            Ok(n) => assert_eq!(n, a.len),
            Err(BufferError::Failed { errno, .. }) => assert!(
                close_after.is_some() && errno == Errno::CONNREFUSED,
                "{what}: datagram {seq}: {errno:?}"
            ),
            Err(e) => panic!("{what}: datagram {seq}: {e:?}"),
        }
    }
    assert_eq!(report.corrupt, 0, "{what}: {report:?}");
    assert_eq!(report.duplicates, 0, "{what}: {report:?}");
    for (&seq, &len) in &report.received {
        let a = ledger
            .bufs
            .get(seq as usize)
            .unwrap_or_else(|| panic!("{what}: datagram {seq} was never sent"));
        assert_eq!(len, a.len, "{what}");
        assert_eq!(a.result, Some(Ok(len)), "{what}: datagram {seq} arrived");
    }
    t.episodes += 1;
    *t.by_transport
        .entry(if connected {
            "udp connected"
        } else {
            "udp send_to"
        })
        .or_insert(0) += 1;
    *t.by_fault.entry(fault_name).or_insert(0) += 1;
    *t.by_policy.entry(policy_name(&config)).or_insert(0) += 1;
    t.buffers += ledger.accepted_count();
    t.datagrams_sent += ledger
        .bufs
        .iter()
        .filter(|a| a.result.is_some_and(|r| r.is_ok()))
        .count() as u64;
    t.datagrams_received += report.received.len() as u64;
    t.bytes_sent += ledger.bytes_sent();
    t.bytes_received += report.received.values().map(|&l| l as u64).sum::<u64>();
    t.timed_out += timed_out;
    t.add_stats(&s);
    t.add_kinds(&ledger);
}

#[test]
fn soak_random_streams_and_datagrams_through_the_safe_layer() {
    let secs = common::env_u64("URING_SOAK_SAFE_SECS").unwrap_or(30);
    let seed = common::soak_seed("URING_SOAK_SAFE_SEED");
    eprintln!(
        "soak (safe layer): {secs} s, seed {seed} (URING_SOAK_SAFE_SECS, URING_SOAK_SAFE_SEED)"
    );
    let mut rng = Rng(seed);
    let mut t = Totals::default();
    let start = Instant::now();
    let deadline = Duration::from_secs(secs);
    let mut done = false;
    for _era in 0..MAX_EPISODES {
        if done {
            break;
        }
        let mut era = Era::new();
        t.eras += 1;
        for _ in 0..8 {
            if start.elapsed() >= deadline || t.episodes >= MAX_EPISODES {
                done = true;
                break;
            }
            let episode = Instant::now();
            if rng.one_in(4) {
                udp_episode(&mut rng, &mut era, &mut t);
            } else {
                tcp_episode(&mut rng, &mut era, &mut t);
            }
            t.slowest = t.slowest.max(episode.elapsed());
        }
        t.late_strays += era.driver.stray_notifications();
    }
    println!(
        "soak (safe layer, seed {seed}) after {:.1} s: {} episodes in {} eras; {} buffers, \
         {} bytes sent, {} received and checked; {} datagrams sent, {} received and checked; \
         {} zero-copy requests ({} fixed), {} plain; {} notifications ({} copied), {} stray; \
         {} continuations, {} would-block, {} timed out, {} too large, {} not sent; \
         errors {:?}; {} episodes closed with buffers pending ({} buffers, freed by the \
         driver); {} late stray notifications of closed senders consumed by their driver; \
         slowest episode {:?}; transports {:?}; faults {:?}; policies {:?}; kinds {:?}",
        start.elapsed().as_secs_f64(),
        t.episodes,
        t.eras,
        t.buffers,
        t.bytes_sent,
        t.bytes_received,
        t.datagrams_sent,
        t.datagrams_received,
        t.zc_requests,
        t.fixed_requests,
        t.plain_requests,
        t.notifications,
        t.copied,
        t.stray_notifications,
        t.continuations,
        t.would_block,
        t.timed_out,
        t.too_large,
        t.not_sent,
        t.errors,
        t.pending_episodes,
        t.pending_buffers,
        t.late_strays,
        t.slowest,
        t.by_transport,
        t.by_fault,
        t.by_policy,
        t.by_kind
    );
    assert!(t.episodes > 0);
}
