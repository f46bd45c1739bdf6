//! The sender's completion logic, driven by made-up completions.
//!
//! The requests are pushed to a real ring but never submitted (these tests never enter
//! the kernel), so the kernel never sees them and feeding the state completions by hand
//! is harmless. This is crate-internal: no public API accepts a made-up completion (the
//! driver is the only one that routes completions, and only the kernel's). Each case is a
//! sequence the kernel produces for real, but rarely on demand: a short send (only after a
//! signal or a huge buffer, with MSG_WAITALL), links cancelled behind it, EOPNOTSUPP, a
//! notification before the result, transient errors, a refused pin.

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
#[cfg(feature = "bytes")]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(feature = "bytes")]
use std::sync::Arc;

use rustix::io::Errno;

use super::*;
use crate::cqe::Cqe;
use crate::ring::IoUring;
use crate::sys::{self, IoringSetupFlags};
use crate::zc::{BufferError, Completion, Config, FallbackReason, PlainReason, Policy, SendPath};

const PREFIX: u64 = crate::zc::USER_DATA_TAG | (7 << 40) | (3 << 32);
const CTX: Ctx = Ctx {
    ring_id: 0,
    msg_fixed: true,
};

fn ring() -> IoUring {
    IoUring::init(64, IoringSetupFlags::empty()).unwrap()
}

fn state(socket: impl Into<OwnedFd>, stream: bool, config: Config) -> SenderState {
    let config = config.resolve(crate::zc::Memlock::current(), 0);
    SenderState::new(PREFIX, socket.into(), 0, stream, stream, config, None)
}

fn tcp_sender(_ring: &IoUring, config: Config) -> (SenderState, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (state(c, true, config), s)
}

/// A sender on a UDP socket connected to a local peer (kept alive by the caller).
fn udp_sender(config: Config) -> (SenderState, UdpSocket) {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(peer.local_addr().unwrap()).unwrap();
    (state(sock, false, config), peer)
}

impl SenderState {
    fn completions(&mut self) -> std::collections::vec_deque::Drain<'_, Completion> {
        self.done.drain(..)
    }
    fn next_completion(&mut self) -> Option<Completion> {
        self.done.pop_front()
    }
    fn error(&self) -> Option<Errno> {
        self.error
    }
    fn fallback(&self) -> Option<FallbackReason> {
        self.fallback
    }
}

fn ud(s: &SenderState, slot: u16) -> u64 {
    let gen = s.slots[usize::from(slot)].gen;
    PREFIX | (u64::from(gen) << 16) | u64::from(slot)
}

fn result(s: &mut SenderState, slot: u16, res: i32, more: bool) {
    let cqe = Cqe {
        user_data: ud(s, slot),
        res,
        flags: if more { sys::IORING_CQE_F_MORE } else { 0 },
    };
    assert!(s.handle_cqe(&cqe), "{cqe:?} is the sender's");
}

fn notif(s: &mut SenderState, slot: u16, copied: bool) {
    let cqe = Cqe {
        user_data: ud(s, slot),
        res: if copied {
            sys::IORING_NOTIF_USAGE_ZC_COPIED as i32
        } else {
            0
        },
        flags: sys::IORING_CQE_F_NOTIF,
    };
    assert!(s.handle_cqe(&cqe), "{cqe:?} is the sender's");
}

fn err(e: Errno) -> i32 {
    -e.raw_os_error()
}

fn queue(s: &SenderState) -> Vec<u16> {
    s.queue.iter().copied().collect()
}

/// Chains of four (the tests of chained requests: gathering off).
fn always() -> Config {
    Config::default()
        .policy(Policy::Always)
        .depth(4)
        .coalesce(false)
}

#[test]
fn a_short_send_is_continued_before_every_later_buffer() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    for len in [100, 50, 30, 20] {
        s.accept(vec![7u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 4, "one chain of four");
    assert_eq!(s.chain, vec![0, 1, 2, 3]);
    // The head sends 40 of 100 bytes and breaks the chain; the link cancels the rest
    // (a cancelled zero-copy request still notifies: F_MORE).
    result(&mut s, 0, 40, true);
    result(&mut s, 1, err(Errno::CANCELED), true);
    result(&mut s, 2, err(Errno::CANCELED), true);
    assert!(
        s.queue.is_empty(),
        "nothing decided before the chain resolves"
    );
    result(&mut s, 3, err(Errno::CANCELED), true);
    assert_eq!(
        queue(&s),
        vec![0, 1, 2, 3],
        "remainder first, then the rest, in order"
    );
    assert_eq!(s.slots[0].entry.as_ref().unwrap().sent, 40);
    assert_eq!(s.stats.continuations, 1);
    for slot in 0..4 {
        notif(&mut s, slot, true);
    }
    assert!(s.done.is_empty(), "outcomes not decided yet");

    // Second chain: the remainder goes, then the stream fails on the next buffer.
    assert_eq!(s.pump(&mut ring, CTX), 4);
    assert_eq!(s.chain, vec![0, 1, 2, 3]);
    result(&mut s, 0, 60, true);
    result(&mut s, 1, err(Errno::PIPE), true);
    result(&mut s, 2, err(Errno::CANCELED), true);
    result(&mut s, 3, err(Errno::CANCELED), true);
    assert_eq!(s.error(), Some(Errno::PIPE));
    assert!(s.queue.is_empty());
    assert!(s.done.is_empty(), "still waiting for the notifications");
    for slot in 0..4 {
        notif(&mut s, slot, true);
    }
    let mut done: Vec<Completion> = s.completions().collect();
    done.sort_by_key(|c| c.seq);
    let results: Vec<_> = done.iter().map(|c| c.result).collect();
    assert_eq!(
        results,
        vec![
            Ok(100),
            Err(BufferError::Failed {
                errno: Errno::PIPE,
                sent: 0
            }),
            Err(BufferError::NotSent {
                cause: Errno::PIPE,
                sent: 0
            }),
            Err(BufferError::NotSent {
                cause: Errno::PIPE,
                sent: 0
            }),
        ]
    );
    assert!(done.iter().all(|c| c.copied == (c.seq == 0)));
    assert_eq!(s.stats.errors, 1);
    assert_eq!(s.stats.not_sent, 2);
    assert_eq!(s.stats.buffers_returned, 4);
    assert_eq!(s.stats.requests, 8);
    assert_eq!(s.owned_bytes, 0);
    assert_eq!(s.pump(&mut ring, CTX), 0, "nothing is sent after the error");
    // Stale completions (old generations) are not the sender's any more.
    let stale = Cqe {
        user_data: PREFIX,
        res: 1,
        flags: 0,
    };
    assert!(!s.handle_cqe(&stale));
}

#[test]
fn eopnotsupp_switches_to_plain_send_and_resends_in_order() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    s.accept(vec![1u8; 100].into(), None);
    s.accept(vec![2u8; 50].into(), None);
    assert_eq!(s.pump(&mut ring, CTX), 2);
    result(&mut s, 0, err(Errno::OPNOTSUPP), true);
    result(&mut s, 1, err(Errno::CANCELED), true);
    assert_eq!(s.fallback(), Some(FallbackReason::Unsupported));
    assert_eq!(queue(&s), vec![0, 1]);
    assert_eq!(s.pump(&mut ring, CTX), 2);
    assert_eq!(s.stats.zc_requests, 2, "the resend is plain");
    result(&mut s, 0, 100, false);
    result(&mut s, 1, 50, false);
    assert!(
        s.done.is_empty(),
        "the zero-copy attempts still owe notifications"
    );
    notif(&mut s, 1, true);
    notif(&mut s, 0, true);
    let done: Vec<Completion> = s.completions().collect();
    assert_eq!(done.len(), 2);
    assert!(done
        .iter()
        .all(|c| c.is_ok() && c.path == Some(SendPath::Plain(PlainReason::Fallback))));
    assert!(
        done.iter().all(|c| !c.copied),
        "a refused send is not a copy"
    );
    assert_eq!(s.stats.fallback, 2);
    assert_eq!(s.stats.retries, 1);
    assert_eq!(s.stats.copied, 0);
}

#[test]
fn a_cancel_from_outside_ends_the_stream() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    s.accept(vec![1u8; 10].into(), None);
    s.accept(vec![2u8; 10].into(), None);
    s.pump(&mut ring, CTX);
    result(&mut s, 0, err(Errno::CANCELED), false);
    result(&mut s, 1, err(Errno::CANCELED), false);
    let mut done: Vec<Completion> = s.completions().collect();
    done.sort_by_key(|c| c.seq);
    assert_eq!(
        done[0].result,
        Err(BufferError::Failed {
            errno: Errno::CANCELED,
            sent: 0
        })
    );
    assert!(matches!(done[1].result, Err(BufferError::NotSent { .. })));
    assert_eq!(s.error(), Some(Errno::CANCELED));
}

#[test]
fn a_notification_may_come_before_the_result() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    s.accept(vec![1u8; 10].into(), None);
    s.pump(&mut ring, CTX);
    notif(&mut s, 0, false);
    assert!(s.done.is_empty());
    result(&mut s, 0, 10, true);
    let c = s.next_completion().expect("back after both completions");
    assert_eq!(c.result, Ok(10));
    assert!(!c.copied);
}

#[test]
fn completions_that_are_not_the_senders_are_refused() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    s.accept(vec![1u8; 10].into(), None);
    let before_push = Cqe {
        user_data: ud(&s, 0),
        res: 10,
        flags: 0,
    };
    assert!(!s.handle_cqe(&before_push), "queued, not in flight");
    s.pump(&mut ring, CTX);
    for user_data in [
        0,
        42,
        ud(&s, 0) ^ (1 << 32),                      // another sender generation
        ud(&s, 0) ^ (1 << 40),                      // another sender index
        ud(&s, 0) ^ (1 << 16),                      // another request generation
        ud(&s, 0) + 5,                              // a slot that does not exist
        ud(&s, 0) & !crate::zc::USER_DATA_TAG_MASK, // no tag
    ] {
        assert!(!s.handle_cqe(&Cqe {
            user_data,
            res: 10,
            flags: 0
        }));
    }
    result(&mut s, 0, 10, false);
    // A notification for a request that had none to give (no F_MORE): Linux 6.18 posts
    // such strays (FINDINGS.md 1). It carries this sender's id, so it is consumed and
    // counted, never handed back as foreign, and counts for no buffer.
    assert!(s.handle_cqe(&Cqe {
        user_data: ud(&s, 0),
        res: 0,
        flags: sys::IORING_CQE_F_NOTIF
    }));
    assert_eq!(s.stats.stray_notifications, 1);
    assert_eq!(s.stats.notifications, 0);
    assert_eq!(s.stats.buffers_returned, 1);
    assert!(crate::zc::is_zc_user_data(ud(&s, 0)));
}

#[test]
fn datagram_retries_are_bounded_and_errors_stay_per_datagram() {
    let mut ring = ring();
    let (mut s, _peer) = udp_sender(always());
    assert!(!s.stream);
    s.accept(vec![1u8; 10].into(), None);
    s.accept(vec![2u8; 10].into(), None);
    assert_eq!(
        s.pump(&mut ring, CTX),
        2,
        "datagrams go unlinked, both at once"
    );
    assert!(s.chain.is_empty());
    // The second datagram fails on its own; the first keeps being retried, boundedly.
    result(&mut s, 1, err(Errno::MSGSIZE), true);
    notif(&mut s, 1, true);
    let c = s.next_completion().unwrap();
    assert_eq!(c.seq, 1);
    assert_eq!(
        c.result,
        Err(BufferError::Failed {
            errno: Errno::MSGSIZE,
            sent: 0
        })
    );
    assert_eq!(s.error(), None, "a datagram's error is its own");
    let mut rounds = 0;
    while s.next_completion().is_none() {
        rounds += 1;
        assert!(
            rounds <= usize::from(MAX_STALLS) + 1,
            "retries must be bounded"
        );
        result(&mut s, 0, err(Errno::AGAIN), true);
        notif(&mut s, 0, true);
        s.pump(&mut ring, CTX);
    }
    assert_eq!(rounds, usize::from(MAX_STALLS) + 1);
    assert_eq!(s.stats.retries, u64::from(MAX_STALLS));
    assert_eq!(s.stats.errors, 2);
    assert_eq!(s.owned_buffers, 0);
}

#[test]
fn a_closing_datagram_sender_hands_back_what_its_completions_would_send_again() {
    // Made-up completions for three zero-copy datagrams in flight when the sender closes:
    // one sent, one refused for now (EAGAIN: it would go again), one whose pages the
    // kernel would not pin (ENOBUFS: it would go again plain). A closing sender sends
    // nothing more: the two come back NotSent at once, none waits in the queue.
    let mut ring = ring();
    let (mut s, _peer) = udp_sender(always());
    for i in 0..3u8 {
        s.accept(vec![i; 10].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 3);
    s.begin_close();
    result(&mut s, 0, 10, true);
    result(&mut s, 1, err(Errno::AGAIN), false);
    result(&mut s, 2, err(Errno::NOBUFS), false);
    assert!(s.queue.is_empty(), "nothing queued on a closing sender");
    assert_eq!(
        s.done.len(),
        2,
        "the sent one still waits for its notification"
    );
    notif(&mut s, 0, false);
    assert!(s.is_idle(), "{} owned", s.owned_buffers);
    let mut done: Vec<_> = s.completions().map(|c| (c.seq, c.result)).collect();
    done.sort_unstable_by_key(|d| d.0);
    let not_sent = Err(BufferError::NotSent {
        cause: Errno::CANCELED,
        sent: 0,
    });
    assert_eq!(done, vec![(0, Ok(10)), (1, not_sent), (2, not_sent)]);
}

#[test]
fn adaptive_switches_to_plain_on_copied_notifications_and_probes_again() {
    let mut ring = ring();
    let config = Config::default()
        .depth(1)
        .adaptive_min_size(100)
        .adaptive_copied_limit(2)
        .adaptive_reprobe_every(3);
    let (mut s, _peer) = tcp_sender(&ring, config);
    let paths: Vec<SendPath> = (0..10)
        .map(|i| send_one(&mut s, &mut ring, if i == 0 { 10 } else { 1000 }, true))
        .collect();
    use PlainReason::*;
    use SendPath::*;
    assert_eq!(
        paths,
        vec![
            Plain(BelowThreshold),
            ZeroCopy,
            ZeroCopy, // second copied notification: switch
            Plain(KernelCopies),
            Plain(KernelCopies),
            ZeroCopy, // probe (the third after the switch), copied too
            Plain(KernelCopies),
            Plain(KernelCopies),
            Plain(KernelCopies), // the next probe waits twice as long
            Plain(KernelCopies),
        ]
    );
    assert_eq!(s.stats.adaptive_switches, 1);
    assert_eq!(s.stats.adaptive_probes, 1);
    assert_eq!(s.stats.plain_kernel_copies, 6);
    assert_eq!(s.stats.plain_small, 1);
    assert_eq!(s.stats.zero_copy, 3);
    // A probe whose notification says the kernel did not copy switches back.
    s.accept(vec![0u8; 1000].into(), None);
    s.accept(vec![0u8; 1000].into(), None);
    s.pump(&mut ring, CTX);
    let slot = s.chain[0];
    result(&mut s, slot, 1000, false);
    s.pump(&mut ring, CTX);
    let slot = s.chain[0];
    assert!(s.slots[usize::from(slot)]
        .entry
        .as_ref()
        .unwrap()
        .path
        .unwrap()
        .is_zero_copy());
    result(&mut s, slot, 1000, true);
    notif(&mut s, slot, false);
    assert!(!s.adaptive.copying);
    assert_eq!(s.stats.adaptive_switches, 2);
}

/// Sends one buffer of `len` bytes through a sender of depth 1 and completes it, a
/// zero-copy one with a notification saying `copied`; returns the path it took. The SQEs
/// are never submitted: a full SQ is replaced by a fresh ring.
fn send_one(s: &mut SenderState, ring: &mut IoUring, len: usize, copied: bool) -> SendPath {
    if ring.sq_space_left() == 0 {
        *ring = self::ring();
    }
    s.accept(vec![0u8; len].into(), None);
    assert_eq!(s.pump(ring, CTX), 1);
    let slot = s.chain[0];
    let path = s.slots[usize::from(slot)]
        .entry
        .as_ref()
        .unwrap()
        .path
        .unwrap();
    result(s, slot, len as i32, path.is_zero_copy());
    if path.is_zero_copy() {
        notif(s, slot, copied);
    }
    let done = s.next_completion().unwrap();
    assert_eq!(done.path, Some(path));
    path
}

#[test]
fn probes_the_kernel_copies_too_come_ever_more_rarely_up_to_a_bound() {
    // While the kernel copies, every probe it copies as well doubles the interval to the
    // next (3, 6, 12, … up to 64 × 3 = 192 buffers); a probe it does not copy switches
    // the sender back, and copying seen again starts from the configured interval.
    let mut ring = ring();
    let config = Config::default()
        .depth(1)
        .adaptive_copied_limit(1)
        .adaptive_reprobe_every(3);
    let (mut s, _peer) = tcp_sender(&ring, config);
    assert_eq!(send_one(&mut s, &mut ring, 1000, true), SendPath::ZeroCopy);
    assert!(s.adaptive.copying);
    let learned = s.adaptive.learner.round_bytes();
    let mut gaps = Vec::new();
    let mut since = 0u32;
    for _ in 0..2000 {
        since += 1;
        if send_one(&mut s, &mut ring, 1000, true).is_zero_copy() {
            gaps.push(since);
            since = 0;
        }
    }
    assert_eq!(gaps[..9], [3, 6, 12, 24, 48, 96, 192, 192, 192]);
    assert!(gaps.iter().skip(6).all(|&g| g == 192), "{gaps:?}");
    assert_eq!(s.stats.adaptive_probes, gaps.len() as u64);
    assert_eq!(s.stats.adaptive_switches, 1);
    // The learner is not fed while the kernel copies (nothing for the driver to time).
    assert_eq!(s.adaptive.learner.round_bytes(), learned);
    // A probe the kernel does not copy: zero-copy again.
    let mut back = false;
    for _ in 0..=192 {
        if send_one(&mut s, &mut ring, 1000, false).is_zero_copy() {
            back = true;
            break;
        }
    }
    assert!(back && !s.adaptive.copying);
    assert_eq!(s.stats.adaptive_switches, 2);
    // Copying again: the first probe comes after the configured interval, not 192.
    assert!(send_one(&mut s, &mut ring, 1000, true).is_zero_copy());
    assert!(s.adaptive.copying);
    let paths: Vec<bool> = (0..3)
        .map(|_| send_one(&mut s, &mut ring, 1000, true).is_zero_copy())
        .collect();
    assert_eq!(paths, [false, false, true]);
}

#[test]
fn senders_buffers_and_pools_move_between_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<crate::zc::ZcSender>();
    sync::<crate::zc::ZcSender>();
    send::<crate::zc::Driver>();
    sync::<crate::zc::Driver>();
    send::<SenderState>();
    send::<Completion>();
    send::<crate::zc::ZcBuffer>();
    send::<super::super::PoolSlot>();
    send::<super::super::BufferPool>();
    sync::<super::super::BufferPool>();
}

/// The first completion of the request `slot` is in flight with, as the kernel posts it.
fn cqe_for(user_data: u64, res: i32, flags: u32) -> Cqe {
    Cqe {
        user_data,
        res,
        flags,
    }
}

#[test]
fn a_stray_notification_never_counts_for_a_later_request_of_the_same_buffer() {
    // Linux 6.18: a zero-copy send cancelled by its broken link completes with -ECANCELED
    // and no F_MORE, then posts a notification anyway, sometimes late (FINDINGS.md 1).
    // Here it arrives after the buffer's next request went out: it must not stand in for
    // that request's notification (the buffer would come back while the kernel still
    // reads it), nor be handed back as foreign.
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    s.accept(vec![1u8; 100].into(), None);
    s.accept(vec![2u8; 50].into(), None);
    assert_eq!(s.pump(&mut ring, CTX), 2);
    let first_b = ud(&s, 1);
    // The head is cut short; the link cancels the second (no F_MORE).
    result(&mut s, 0, 40, true);
    s.handle_cqe(&cqe_for(first_b, err(Errno::CANCELED), 0));
    notif(&mut s, 0, true);
    assert_eq!(queue(&s), vec![0, 1]);
    // Both go again: the remainder, then the second buffer, with a new user_data.
    assert_eq!(s.pump(&mut ring, CTX), 2);
    let second_b = ud(&s, 1);
    assert_ne!(first_b, second_b, "a request's user_data is never reused");
    result(&mut s, 0, 60, true);
    result(&mut s, 1, 50, true);
    // The stray notification of the cancelled request: consumed and counted, nothing else.
    let stray = cqe_for(first_b, 0, sys::IORING_CQE_F_NOTIF);
    assert!(s.handle_cqe(&stray), "the sender's own: never foreign");
    assert_eq!(s.stats.stray_notifications, 1);
    notif(&mut s, 0, true);
    let c = s.next_completion().expect("buffer 0 is back");
    assert_eq!((c.seq, c.result), (0, Ok(100)));
    assert!(
        s.next_completion().is_none(),
        "buffer 1 waits for its own notification"
    );
    notif(&mut s, 1, true);
    let c = s.next_completion().expect("buffer 1 is back");
    assert_eq!((c.seq, c.result), (1, Ok(50)));
    // Late strays after everything is back are consumed too.
    assert!(s.handle_cqe(&stray));
    assert_eq!(s.stats.stray_notifications, 2);
    assert_eq!(s.stats.notifications, 3);
    assert_eq!(s.owned_buffers, 0);
}

#[test]
fn a_stray_notification_before_its_result_is_not_counted_for_the_buffer() {
    // If the kernel ever posted the stray notification before the no-F_MORE result, it
    // must not count either.
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    s.accept(vec![1u8; 100].into(), None);
    s.accept(vec![2u8; 50].into(), None);
    assert_eq!(s.pump(&mut ring, CTX), 2);
    notif(&mut s, 1, false); // early: its result is not in yet
    result(&mut s, 0, 40, true);
    result(&mut s, 1, err(Errno::CANCELED), false);
    notif(&mut s, 0, true);
    assert_eq!(s.stats.stray_notifications, 1);
    assert_eq!(s.pump(&mut ring, CTX), 2);
    result(&mut s, 0, 60, true);
    result(&mut s, 1, 50, true);
    notif(&mut s, 0, true);
    assert_eq!(s.next_completion().map(|c| c.seq), Some(0));
    assert!(
        s.next_completion().is_none(),
        "buffer 1 still owes its notification"
    );
    notif(&mut s, 1, true);
    assert_eq!(s.next_completion().map(|c| c.seq), Some(1));
    assert_eq!(s.stats.notifications, 3);
}

#[test]
fn a_refused_pin_resends_the_buffer_plain_in_order() {
    // ENOMEM from a zero-copy send: the kernel would not pin the pages (RLIMIT_MEMLOCK).
    // The buffer goes again with plain send, before every later one, and nothing fails.
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    s.accept(vec![1u8; 100].into(), None);
    s.accept(vec![2u8; 50].into(), None);
    assert_eq!(s.pump(&mut ring, CTX), 2);
    result(&mut s, 0, err(Errno::NOMEM), false);
    result(&mut s, 1, err(Errno::CANCELED), false);
    assert_eq!(queue(&s), vec![0, 1], "both again, in order");
    assert_eq!(s.error(), None, "a refused pin is not the stream's error");
    assert_eq!(s.pump(&mut ring, CTX), 2);
    assert_eq!(
        s.slots[0].entry.as_ref().unwrap().path,
        Some(SendPath::Plain(PlainReason::PinLimit))
    );
    result(&mut s, 0, 100, false);
    result(&mut s, 1, 50, true);
    notif(&mut s, 1, false);
    let mut done: Vec<Completion> = s.completions().collect();
    done.sort_by_key(|c| c.seq);
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].result, Ok(100));
    assert_eq!(done[0].path, Some(SendPath::Plain(PlainReason::PinLimit)));
    assert_eq!(done[1].result, Ok(50));
    assert_eq!(s.stats.pin_refused, 1);
    assert_eq!(s.stats.plain_pin_limit, 1);
    assert_eq!(s.stats.errors, 0);
}

#[test]
fn a_zero_length_record_on_seqpacket_is_sent() {
    let mut ring = ring();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    // A SOCK_SEQPACKET stands in through the flags: ordered, but not a byte stream.
    let config = always().resolve(crate::zc::Memlock::current(), 0);
    let mut s = SenderState::new(PREFIX, a.into(), 0, true, false, config, None);
    s.accept(Vec::new().into(), None);
    assert!(
        s.done.is_empty(),
        "an empty record is a message: it goes out"
    );
    assert_eq!(s.pump(&mut ring, CTX), 1);
    result(&mut s, 0, 0, false);
    assert_eq!(s.next_completion().map(|c| c.result), Some(Ok(0)));
    // On a byte stream an empty buffer is nothing to send: back at once.
    let (c, _d) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut t = state(c, true, always());
    t.accept(Vec::new().into(), None);
    assert_eq!(t.next_completion().map(|c| c.result), Some(Ok(0)));
    assert_eq!(t.pump(&mut ring, CTX), 0);
}

/// The owner of a `Bytes` buffer that records when it is freed, and panics then if asked to
/// (a hostile destructor).
#[cfg(feature = "bytes")]
struct Owner {
    bytes: Vec<u8>,
    panics: bool,
    freed: Arc<AtomicBool>,
}

#[cfg(feature = "bytes")]
impl AsRef<[u8]> for Owner {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(feature = "bytes")]
impl Drop for Owner {
    fn drop(&mut self) {
        self.freed.store(true, Ordering::SeqCst);
        if self.panics {
            panic!("a hostile destructor");
        }
    }
}

#[cfg(feature = "bytes")]
#[test]
fn a_panicking_destructor_never_frees_what_the_kernel_holds() {
    // A buffer whose owner panics in its destructor, in a lower slot than a buffer the
    // kernel still holds: the panic unwinds through the state's drop, and the held buffer
    // must still not be freed (it is ManuallyDrop: leaked).
    let (panicky_freed, held_freed) = (Arc::default(), Arc::<AtomicBool>::default());
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always().depth(1));
    let panicky = bytes::Bytes::from_owner(Owner {
        bytes: vec![1; 10],
        panics: true,
        freed: Arc::clone(&panicky_freed),
    });
    let held = bytes::Bytes::from_owner(Owner {
        bytes: vec![2; 10],
        panics: false,
        freed: Arc::clone(&held_freed),
    });
    s.accept(panicky.into(), None);
    s.accept(held.into(), None);
    // Slot 1 goes first and stays in flight; slot 0 (the panicking one, lower in the
    // slab, so dropped first) stays queued, never seen by the kernel.
    s.queue.clear();
    s.queue.push_back(1);
    s.queue.push_back(0);
    assert_eq!(
        s.pump(&mut ring, CTX),
        1,
        "depth 1: slot 1 goes, slot 0 waits"
    );
    assert_eq!(s.kernel_held(), 1);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(s)));
    assert!(unwound.is_err(), "the hostile destructor ran and panicked");
    assert!(panicky_freed.load(Ordering::SeqCst));
    assert!(
        !held_freed.load(Ordering::SeqCst),
        "the buffer the kernel holds was freed"
    );
}

#[test]
fn a_chain_failed_at_submission_is_resent_whole() {
    // A member the kernel refuses while preparing it (ENOMEM: the pin) fails its whole
    // chain at submission: the members before it come back -ECANCELED too, having sent
    // nothing. That is not an outside cancel: every member goes again, in order.
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    for len in [10, 20, 30] {
        s.accept(vec![1u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 3);
    result(&mut s, 0, err(Errno::CANCELED), false);
    result(&mut s, 1, err(Errno::NOMEM), false);
    result(&mut s, 2, err(Errno::CANCELED), false);
    assert_eq!(s.error(), None);
    assert_eq!(queue(&s), vec![0, 1, 2]);
    assert_eq!(s.pump(&mut ring, CTX), 3);
    result(&mut s, 0, 10, false);
    result(&mut s, 1, 20, false);
    result(&mut s, 2, 30, false);
    let mut done: Vec<_> = s.completions().map(|c| (c.seq, c.result)).collect();
    done.sort_unstable_by_key(|d| d.0);
    assert_eq!(done, vec![(0, Ok(10)), (1, Ok(20)), (2, Ok(30))]);
    // Only the refused one went plain.
    assert_eq!(s.stats.plain_pin_limit, 1);
    assert_eq!(s.stats.zero_copy, 2);
}

#[test]
fn a_closing_sender_puts_nothing_back_in_its_queue() {
    // A send in flight when the sender closes ends short (the socket was shut down): its
    // remainder must not wait in the queue of a sender that never pumps again; it comes
    // back NotSent, and the sender goes idle.
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    s.accept(vec![1u8; 100].into(), None);
    s.accept(vec![2u8; 100].into(), None);
    assert_eq!(s.pump(&mut ring, CTX), 2);
    s.begin_close();
    result(&mut s, 0, 40, false);
    result(&mut s, 1, err(Errno::CANCELED), false);
    assert!(s.queue.is_empty(), "nothing queued on a closing sender");
    assert!(s.is_idle(), "{} owned", s.owned_buffers);
    let mut done: Vec<_> = s.completions().map(|c| (c.seq, c.result)).collect();
    done.sort_unstable_by_key(|d| d.0);
    assert_eq!(
        done,
        vec![
            (
                0,
                Err(BufferError::NotSent {
                    cause: Errno::CANCELED,
                    sent: 40
                })
            ),
            (
                1,
                Err(BufferError::NotSent {
                    cause: Errno::CANCELED,
                    sent: 0
                })
            )
        ]
    );
}

// ---------------------------------------------------------------- the adaptive learner

/// One round of class `c` as the driver runs it: a choice, `n` pushes, an enter costing
/// `ns_per_byte` of the chosen path. Returns the choice.
fn learner_round(
    l: &mut Learner,
    c: usize,
    every: u32,
    n: u32,
    cost: impl Fn(bool) -> f64,
) -> Choice {
    let bytes = class_range(c).1;
    let first = l.choose(c, every);
    l.pushed(c, first.zc, bytes);
    for _ in 1..n {
        let next = l.choose(c, every);
        assert_eq!(next.zc, first.zc, "a round keeps one path per class");
        l.pushed(c, next.zc, bytes);
    }
    assert!(l.list(), "a round with pushes is listed once");
    assert!(!l.list());
    let ns = cost(first.zc) * (u64::from(n) * bytes as u64) as f64;
    l.submitted(Some(ns as u64));
    first
}

#[test]
fn size_classes_are_powers_of_two() {
    assert_eq!(size_class(0), 0);
    assert_eq!(size_class(1), 1);
    assert_eq!(size_class(1400), 11);
    assert_eq!(class_range(11), (1024, 2047));
    assert_eq!(size_class(65000), 16);
    assert_eq!(size_class(65536), 17);
    assert_eq!(size_class(usize::MAX), SIZE_CLASSES - 1);
    assert_eq!(class_range(SIZE_CLASSES - 1).1, usize::MAX);
    for c in 1..SIZE_CLASSES {
        let (lo, hi) = class_range(c);
        assert_eq!((size_class(lo), size_class(hi)), (c, c));
    }
}

#[test]
fn the_learner_sends_each_class_the_way_it_measured_cheaper() {
    // Where the kernel does not copy: zero-copy costs more per byte for small buffers
    // (pinning and the notification) and less for large ones (no copy).
    let cost = |c: usize| {
        move |zc: bool| match (c, zc) {
            (11, true) => 3.0,
            (11, false) => 1.0,
            (_, true) => 0.2,
            (_, false) => 1.0,
        }
    };
    let mut l = Learner::default();
    let every = 16;
    let rounds = 400u32;
    let mut probes = [0u32; 2];
    let mut last = [None; 2];
    for r in 0..rounds {
        for (k, c) in [11usize, 16].into_iter().enumerate() {
            let ch = learner_round(&mut l, c, every, 4, cost(c));
            probes[k] += u32::from(ch.probe);
            if r == rounds - 1 {
                last[k] = Some(ch);
            }
        }
    }
    assert_eq!(l.prefer[11], Some(false), "small: plain");
    assert_eq!(l.prefer[16], Some(true), "large: zero-copy");
    assert!((l.zc[11].ns_per_byte - 3.0).abs() < 1e-9, "{:?}", l.zc[11]);
    assert!(
        (l.plain[16].ns_per_byte - 1.0).abs() < 1e-9,
        "{:?}",
        l.plain[16]
    );
    for k in 0..2 {
        // One probe round per `every` rounds once warm, no more.
        let bound = rounds / every + 1;
        assert!(
            probes[k] >= 1 && probes[k] <= bound,
            "{probes:?} within 1..={bound}"
        );
    }
    assert!(!last[0].unwrap().zc || last[0].unwrap().probe);
    assert_eq!(l.seen, (1 << 11) | (1 << 16));
}

#[test]
fn the_learner_warms_up_alternating_and_drops_the_cold_sample() {
    let mut l = Learner::default();
    let mut paths = Vec::new();
    for _ in 0..2 * (WARMUP + 1) {
        paths.push(learner_round(&mut l, 12, 1000, 2, |zc| if zc { 1.0 } else { 2.0 }).zc);
    }
    assert_eq!(
        paths,
        [true, false, true, false, true, false, true, false, true, false],
        "both paths measured, in turn, zero-copy first"
    );
    assert_eq!((l.zc[12].samples, l.plain[12].samples), (WARMUP, WARMUP));
    assert_eq!(l.prefer[12], None, "not compared before the next choice");
    assert!(learner_round(&mut l, 12, 1000, 2, |_| 1.0).zc);
    assert_eq!(l.prefer[12], Some(true));

    // The cold sample does not count: a first enter of 100x the cost is dropped.
    let mut c = Cost::default();
    c.add(100.0);
    assert_eq!(c.samples, 0);
    for _ in 0..WARMUP {
        c.add(1.0);
    }
    assert_eq!(c.ns_per_byte, 1.0);
    // Once warm, an outlier (a descheduled enter) is clamped and weighted 1/8.
    c.add(1000.0);
    assert!((c.ns_per_byte - (1.0 + (CLAMP - 1.0) * EWMA_WEIGHT)).abs() < 1e-9);
    // Nonsense is ignored.
    let before = c;
    c.add(f64::NAN);
    c.add(-1.0);
    assert_eq!(c, before);
}

#[test]
fn mixed_failed_or_untimed_rounds_are_no_samples() {
    let mut l = Learner::default();
    // Two classes in one round.
    let a = l.choose(11, 16);
    l.pushed(11, a.zc, 1400);
    let b = l.choose(16, 16);
    l.pushed(16, b.zc, 60000);
    l.submitted(Some(1_000_000));
    // One class on two paths (a continuation of a zero-copy buffer beside a plain one).
    l.pushed(11, true, 1400);
    l.pushed(11, false, 1400);
    l.submitted(Some(1_000_000));
    // A failed or untimed enter.
    l.pushed(11, true, 1400);
    l.submitted(None);
    // Nothing pushed.
    l.submitted(Some(1_000_000));
    for c in [11, 16] {
        assert_eq!(l.zc[c], Cost::default());
        assert_eq!(l.plain[c], Cost::default());
    }
    assert!(!l.list(), "nothing pushed since the last enter");
}

#[test]
fn the_learner_follows_a_route_that_changes_without_flapping() {
    let mut l = Learner::default();
    let every = 8;
    let mut zc_cost = 0.5;
    for _ in 0..100 {
        learner_round(&mut l, 16, every, 1, |zc| if zc { zc_cost } else { 1.0 });
    }
    assert_eq!(l.prefer[16], Some(true));
    // Within the hysteresis margin: no switch.
    zc_cost = 1.0 - MARGIN / 2.0;
    let mut switched = 0;
    for _ in 0..200 {
        let ch = learner_round(&mut l, 16, every, 1, |zc| if zc { 1.0 } else { zc_cost });
        switched += u32::from(ch.switched);
    }
    assert_eq!((switched, l.prefer[16]), (0, Some(true)), "no flapping");
    // Zero-copy gets four times dearer (the route now copies, say): the probes of plain
    // keep its estimate current, and the class switches, once.
    for _ in 0..200 {
        let ch = learner_round(&mut l, 16, every, 1, |zc| if zc { 4.0 } else { 1.0 });
        switched += u32::from(ch.switched);
    }
    assert_eq!((switched, l.prefer[16]), (1, Some(false)));
}

/// A datagram sender with the adaptive policy on a socket where the kernel does not
/// copy: the learner's decisions reach the paths, the stats and `adaptive_classes`.
#[test]
fn adaptive_datagrams_take_the_measured_path_and_show_it() {
    // Never submitted: room in the SQ for every request of the test.
    let mut ring = IoUring::init(256, IoringSetupFlags::empty()).unwrap();
    let config = Config::default().depth(4).adaptive_reprobe_every(1 << 20);
    let (mut s, _peer) = udp_sender(config);
    let mut paths = std::collections::HashMap::<usize, Vec<SendPath>>::new();
    for _ in 0..2 * (WARMUP + 2) {
        for len in [1400usize, 60000] {
            for _ in 0..4 {
                s.accept(vec![0u8; len].into(), None);
            }
            assert_eq!(s.pump(&mut ring, CTX), 4);
            assert!(s.adaptive.learner.list());
            let zc = s.slots[0]
                .entry
                .as_ref()
                .unwrap()
                .path
                .unwrap()
                .is_zero_copy();
            // The enter: zero-copy costs 3 ns/B at 1400 B and 0.2 at 60000 B, plain 1.
            let per_byte = match (len, zc) {
                (1400, true) => 3.0,
                (_, true) => 0.2,
                _ => 1.0,
            };
            s.adaptive
                .learner
                .submitted(Some((per_byte * 4.0 * len as f64) as u64));
            for slot in 0..4u16 {
                let zc = s.slots[usize::from(slot)]
                    .entry
                    .as_ref()
                    .unwrap()
                    .path
                    .unwrap();
                result(&mut s, slot, len as i32, zc.is_zero_copy());
                if zc.is_zero_copy() {
                    notif(&mut s, slot, false);
                }
            }
            for c in s.completions().collect::<Vec<_>>() {
                paths.entry(len).or_default().push(c.path.unwrap());
            }
        }
    }
    use PlainReason::*;
    use SendPath::*;
    assert_eq!(paths[&1400].last(), Some(&Plain(Measured)));
    assert_eq!(paths[&60000].last(), Some(&ZeroCopy));
    assert!(!s.adaptive.copying);
    let classes = s.adaptive_classes();
    assert_eq!(classes.len(), 2, "{classes:?}");
    let (small, large) = (classes[0], classes[1]);
    assert_eq!((small.min_len, small.max_len), (1024, 2047));
    assert_eq!((small.path, small.learning), (Plain(Measured), false));
    assert_eq!((large.min_len, large.max_len), (32768, 65535));
    assert_eq!((large.path, large.learning), (ZeroCopy, false));
    assert!(small.zero_copy_ns_per_byte > small.plain_ns_per_byte);
    assert!(large.zero_copy_ns_per_byte < large.plain_ns_per_byte);
    assert!(small.plain_samples >= WARMUP && large.zero_copy_samples >= WARMUP);
    let measured = paths
        .values()
        .flatten()
        .filter(|p| **p == Plain(Measured))
        .count();
    assert_eq!(s.stats.plain_measured, measured as u64);
    assert_eq!(
        s.stats.zero_copy + s.stats.plain_measured,
        s.stats.buffers_returned
    );
    // The other policies learn nothing and show nothing.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let never = state(
        sock,
        false,
        Config::default().policy(crate::zc::Policy::Never),
    );
    assert!(never.adaptive_classes().is_empty());
}

#[test]
fn a_load_that_slows_both_paths_alike_does_not_switch_a_class() {
    let mut l = Learner::default();
    let every = 8;
    for _ in 0..100 {
        learner_round(&mut l, 16, every, 1, |zc| if zc { 0.5 } else { 1.0 });
    }
    assert_eq!(l.prefer[16], Some(true));
    // Everything gets three times dearer: zero-copy's mean follows at once, plain's only
    // at its probes; comparing a fresh mean with a stale one would switch to plain.
    let mut switched = 0;
    for _ in 0..300 {
        let ch = learner_round(&mut l, 16, every, 1, |zc| if zc { 1.5 } else { 3.0 });
        switched += u32::from(ch.switched);
        assert_eq!(ch.zc, !ch.probe, "zero-copy except for probes");
    }
    assert_eq!((switched, l.prefer[16]), (0, Some(true)));
    assert!(l.plain[16].ns_per_byte > 2.5, "{:?}", l.plain[16]);
}

// ------------------------------------------------------------ gathered requests

/// Gathering on (the default), in requests of up to four buffers.
fn gathering(policy: Policy) -> Config {
    Config::default().policy(policy).depth(4)
}

/// The user_data of the gathered request `lead` led.
fn ud_gathered(s: &SenderState, lead: u16) -> u64 {
    let gen = s.slots[usize::from(lead)].riders_gen;
    PREFIX | (u64::from(gen) << 16) | u64::from(lead)
}

fn gathered_result(s: &mut SenderState, lead: u16, res: i32, more: bool) {
    let flags = if more { sys::IORING_CQE_F_MORE } else { 0 };
    let cqe = cqe_for(ud_gathered(s, lead), res, flags);
    assert!(s.handle_cqe(&cqe), "{cqe:?} is the sender's");
}

fn gathered_notif(s: &mut SenderState, lead: u16, copied: bool) {
    let res = if copied {
        sys::IORING_NOTIF_USAGE_ZC_COPIED as i32
    } else {
        0
    };
    let cqe = cqe_for(ud_gathered(s, lead), res, sys::IORING_CQE_F_NOTIF);
    assert!(s.handle_cqe(&cqe), "{cqe:?} is the sender's");
}

fn sorted(s: &mut SenderState) -> Vec<Completion> {
    let mut done: Vec<Completion> = s.completions().collect();
    done.sort_by_key(|c| c.seq);
    done
}

#[test]
fn queued_buffers_of_a_stream_go_in_one_vectored_request() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Always));
    let lens = [100usize, 50, 30, 20, 10];
    for (i, &len) in lens.iter().enumerate() {
        s.accept(vec![i as u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1, "one request for the first four");
    let sqe = ring.last_sqe().expect("a request was prepared");
    assert_eq!(sqe.opcode, sys::op(sys::io_uring_op::IORING_OP_SENDMSG_ZC));
    assert_eq!(sqe.user_data, ud_gathered(&s, 0));
    assert_eq!(sqe.flags & sys::IOSQE_IO_LINK, 0, "nothing to link");
    assert_ne!(
        sqe.flags & sys::IOSQE_FIXED_FILE,
        0,
        "the socket by its slot"
    );
    // SAFETY: the SQE names the sender's boxed msghdr, alive while the sender is.
    let hdr = unsafe { &*(sqe.addr as *const msghdr) };
    assert_eq!(hdr.msg_iovlen, 4);
    // SAFETY: the msghdr names the sender's iovec array of four.
    let iov = unsafe { core::slice::from_raw_parts(hdr.msg_iov.cast::<iovec>(), 4) };
    for (i, v) in iov.iter().enumerate() {
        let e = s.slots[i].entry.as_ref().unwrap();
        assert_eq!(
            v.iov_base.cast_const().cast::<u8>(),
            e.buf.as_slice().as_ptr()
        );
        assert_eq!(v.iov_len as usize, lens[i]);
    }
    assert_eq!(s.chain, vec![0, 1, 2, 3]);
    assert_eq!(queue(&s), vec![4], "the fifth waits for the next request");
    assert_eq!((s.stats.gathered, s.stats.gathered_buffers), (1, 4));
    assert_eq!(
        s.pump(&mut ring, CTX),
        0,
        "one request of a stream at a time"
    );

    gathered_result(&mut s, 0, 200, true);
    assert!(
        s.done.is_empty(),
        "zero-copy: every member waits for the notification"
    );
    assert_eq!(s.kernel_held(), 4);
    // The fifth goes now (alone: nothing to gather it with).
    assert_eq!(s.pump(&mut ring, CTX), 1);
    assert_eq!(s.chain, vec![4]);
    gathered_notif(&mut s, 0, false);
    let done = sorted(&mut s);
    assert_eq!(done.len(), 4, "the notification returns the whole request");
    for (c, &len) in done.iter().zip(&lens) {
        assert_eq!(c.result, Ok(len));
        assert_eq!(c.path, Some(SendPath::ZeroCopy));
        assert!(!c.copied);
    }
    assert_eq!(s.stats.notifications, 1, "one notification, counted once");
    assert_eq!(s.stats.zero_copy, 4);
}

#[test]
fn a_gathered_zero_copy_request_of_a_stream_stays_within_its_byte_cap() {
    let mut ring = ring();
    let size = STREAM_ZC_GATHER_BYTES / 4;
    let (mut s, _peer) = tcp_sender(&ring, Config::default().policy(Policy::Always).depth(8));
    for i in 0..8u8 {
        s.accept(vec![i; size].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1, "one request");
    assert_eq!(s.chain, vec![0, 1, 2, 3], "as many as the cap holds");
    assert_eq!(queue(&s), vec![4, 5, 6, 7]);
    let sqe = ring.last_sqe().unwrap();
    assert_eq!(sqe.opcode, sys::op(sys::io_uring_op::IORING_OP_SENDMSG_ZC));
    // Sent: the next four go in a request of their own.
    gathered_result(&mut s, 0, STREAM_ZC_GATHER_BYTES as i32, true);
    assert_eq!(s.pump(&mut ring, CTX), 1);
    assert_eq!(s.chain, vec![4, 5, 6, 7]);
    gathered_result(&mut s, 4, STREAM_ZC_GATHER_BYTES as i32, true);
    gathered_notif(&mut s, 0, false);
    gathered_notif(&mut s, 4, false);
    let done = sorted(&mut s);
    assert_eq!(done.len(), 8);
    assert!(done.iter().all(|c| c.result == Ok(size)), "{done:?}");
    assert_eq!((s.stats.gathered, s.stats.gathered_buffers), (2, 8));
}

#[test]
fn zero_copy_buffers_too_large_to_gather_go_as_a_chain_and_plain_ones_gather() {
    let mut ring = ring();
    let size = STREAM_ZC_GATHER_BYTES;
    let (mut s, _peer) = tcp_sender(&ring, Config::default().policy(Policy::Always).depth(4));
    for i in 0..3u8 {
        s.accept(vec![i; size].into(), None);
    }
    assert_eq!(
        s.pump(&mut ring, CTX),
        3,
        "no two fit one request: a chain of three"
    );
    assert_eq!(s.chain, vec![0, 1, 2]);
    assert_eq!(s.stats.gathered, 0);
    for slot in 0..3 {
        result(&mut s, slot, size as i32, true);
        notif(&mut s, slot, false);
    }
    assert_eq!(s.completions().filter(|c| c.result == Ok(size)).count(), 3);
    // Plain, the same three go in one request.
    let (mut p, _peer) = tcp_sender(&ring, Config::default().policy(Policy::Never).depth(4));
    for i in 0..3u8 {
        p.accept(vec![i; size].into(), None);
    }
    assert_eq!(p.pump(&mut ring, CTX), 1);
    assert_eq!(p.chain, vec![0, 1, 2]);
    assert_eq!((p.stats.gathered, p.stats.gathered_buffers), (1, 3));
}

#[test]
fn a_short_gathered_request_continues_from_the_buffer_it_stopped_in() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Always));
    for len in [100, 50, 30, 20] {
        s.accept(vec![3u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1);
    // 120 bytes: the first buffer and 20 of the second.
    gathered_result(&mut s, 0, 120, true);
    assert_eq!(queue(&s), vec![1, 2, 3], "the rest again, in order");
    assert_eq!(s.slots[1].entry.as_ref().unwrap().sent, 20);
    assert_eq!(s.stats.continuations, 1);
    // What is left goes chained (the members are not fresh any more), and the gathered
    // request's notification is still owed to every one of them.
    assert_eq!(s.pump(&mut ring, CTX), 3);
    assert_eq!(s.chain, vec![1, 2, 3]);
    result(&mut s, 1, 30, true);
    result(&mut s, 2, 30, true);
    result(&mut s, 3, 20, true);
    for slot in 1..4 {
        notif(&mut s, slot, false);
    }
    assert!(s.done.is_empty(), "the first notification is still owed");
    gathered_notif(&mut s, 0, false);
    let done = sorted(&mut s);
    let results: Vec<_> = done.iter().map(|c| c.result).collect();
    assert_eq!(results, [Ok(100), Ok(50), Ok(30), Ok(20)]);
    assert_eq!(s.stats.errors, 0);
}

#[test]
fn a_notification_before_the_gathered_result_counts_for_every_member() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Always));
    for len in [10, 20, 30] {
        s.accept(vec![5u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1);
    gathered_notif(&mut s, 0, true);
    assert!(s.done.is_empty());
    gathered_result(&mut s, 0, 60, true);
    let done = sorted(&mut s);
    assert_eq!(done.len(), 3);
    assert!(
        done.iter().all(|c| c.copied),
        "the copy concerns every member"
    );
    assert_eq!(s.stats.copied, 1);
    assert_eq!(s.stats.stray_notifications, 0);
}

#[test]
fn a_failed_gathered_request_fails_the_stream_at_its_first_buffer() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Always));
    for len in [10, 20, 30] {
        s.accept(vec![5u8; len].into(), None);
    }
    s.accept(vec![6u8; 40].into(), None);
    assert_eq!(s.pump(&mut ring, CTX), 1);
    let lead_ud = ud_gathered(&s, 0);
    // No F_MORE: no notification is owed, so everything comes back at once.
    gathered_result(&mut s, 0, err(Errno::PIPE), false);
    assert_eq!(s.error(), Some(Errno::PIPE));
    let done = sorted(&mut s);
    assert_eq!(done.len(), 4);
    assert!(matches!(
        done[0].result,
        Err(BufferError::Failed {
            errno: Errno::PIPE,
            sent: 0
        })
    ));
    for c in &done[1..] {
        assert!(matches!(c.result, Err(BufferError::NotSent { .. })));
    }
    assert!(s.is_idle());
    // A notification Linux may still post for it is a stray, counted for nothing.
    assert!(s.strays.contains(&lead_ud));
}

#[test]
fn a_refused_pin_of_a_gathered_request_resends_every_member_in_order() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Always));
    for len in [10, 20] {
        s.accept(vec![5u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1);
    gathered_result(&mut s, 0, err(Errno::NOMEM), false);
    assert_eq!(queue(&s), vec![0, 1]);
    assert_eq!(s.error(), None);
    assert_eq!(
        s.pump(&mut ring, CTX),
        2,
        "chained now, the first one plain"
    );
    result(&mut s, 0, 10, false);
    result(&mut s, 1, 20, true);
    notif(&mut s, 1, false);
    let done = sorted(&mut s);
    assert_eq!(done[0].path, Some(SendPath::Plain(PlainReason::PinLimit)));
    assert_eq!(done[1].path, Some(SendPath::ZeroCopy));
    assert_eq!(
        done.iter().map(|c| c.result).collect::<Vec<_>>(),
        [Ok(10), Ok(20)]
    );
}

#[test]
fn plain_buffers_gather_into_one_sendmsg_and_come_back_at_its_result() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Never));
    for len in [7, 8, 9] {
        s.accept(vec![1u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1);
    let sqe = ring.last_sqe().unwrap();
    assert_eq!(sqe.opcode, sys::op(sys::io_uring_op::IORING_OP_SENDMSG));
    gathered_result(&mut s, 0, 24, false);
    let done = sorted(&mut s);
    assert_eq!(
        done.iter().map(|c| c.result).collect::<Vec<_>>(),
        [Ok(7), Ok(8), Ok(9)]
    );
    assert!(
        s.slots[0].riders.is_empty(),
        "nothing owed: the riders are let go"
    );
    assert!(s.is_idle());
}

#[test]
fn gathering_leaves_registered_slots_records_and_mixed_paths_alone() {
    // A SOCK_SEQPACKET record is a message of its own: never gathered.
    let mut r = ring();
    let (a, _b) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::SEQPACKET,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    let config = gathering(Policy::Never).resolve(crate::zc::Memlock::current(), 0);
    let mut s = SenderState::new(PREFIX, a, 0, true, false, config, None);
    for len in [1, 2] {
        s.accept(vec![1u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut r, CTX), 2, "a chain of two records");
    assert_eq!(s.stats.gathered, 0);

    // A header the vectored send copies and a payload it sends zero-copy: two kinds of
    // path, two requests.
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Always));
    s.accept_as(vec![1u8; 10].into(), None, s.part_path(10));
    s.accept(vec![2u8; 8192].into(), None);
    assert_eq!(s.pump(&mut ring, CTX), 2);
    assert_eq!(s.stats.gathered, 0);
}

#[test]
fn a_lead_sent_short_gets_a_new_user_data_and_the_old_notification_still_counts_for_all() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Always));
    for len in [100, 50] {
        s.accept(vec![3u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1);
    let gathered_ud = ud_gathered(&s, 0);
    gathered_result(&mut s, 0, 40, true);
    assert_eq!(queue(&s), vec![0, 1]);
    assert_eq!(
        s.pump(&mut ring, CTX),
        2,
        "chained: the remainder, then the other"
    );
    assert_ne!(
        ud(&s, 0),
        gathered_ud,
        "the continuation has a user_data of its own"
    );
    assert_eq!(
        s.slots[0].riders,
        vec![1],
        "the riders wait for the first notification"
    );
    result(&mut s, 0, 60, true);
    result(&mut s, 1, 50, true);
    notif(&mut s, 0, false);
    notif(&mut s, 1, false);
    assert!(
        s.done.is_empty(),
        "the gathered request has not notified yet"
    );
    gathered_notif(&mut s, 0, false);
    let done = sorted(&mut s);
    assert_eq!(
        done.iter().map(|c| c.result).collect::<Vec<_>>(),
        [Ok(100), Ok(50)]
    );
    assert_eq!(s.stats.stray_notifications, 0);
}

#[cfg(feature = "bytes")]
#[test]
fn dropping_the_state_under_a_gathered_request_frees_none_of_its_buffers() {
    // The buffers of a gathered zero-copy request whose notification is still owed, and
    // a queued buffer whose owner panics in its destructor (in the lowest slot, so freed
    // first): the panic unwinds through the state's drop, and neither the lead nor the
    // buffer that rode with it may be freed.
    let owner = |panics, freed: &Arc<AtomicBool>| {
        bytes::Bytes::from_owner(Owner {
            bytes: vec![1; 10],
            panics,
            freed: Arc::clone(freed),
        })
    };
    let freed: Vec<Arc<AtomicBool>> = (0..3).map(|_| Arc::default()).collect();
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Always).depth(2));
    s.accept(owner(true, &freed[0]).into(), None);
    s.accept(owner(false, &freed[1]).into(), None);
    s.accept(owner(false, &freed[2]).into(), None);
    s.queue.clear();
    s.queue.extend([1, 2, 0]);
    assert_eq!(s.pump(&mut ring, CTX), 1, "slots 1 and 2 in one request");
    assert_eq!(s.chain, vec![1, 2]);
    gathered_result(&mut s, 1, 20, true);
    assert_eq!(s.kernel_held(), 2, "both wait for the notification");
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(s)));
    assert!(unwound.is_err(), "the hostile destructor ran and panicked");
    assert!(freed[0].load(Ordering::SeqCst));
    assert!(
        !freed[1].load(Ordering::SeqCst) && !freed[2].load(Ordering::SeqCst),
        "a buffer the kernel holds was freed"
    );
}

#[test]
fn a_buffer_a_gathered_request_stopped_at_reports_no_path_if_it_never_went() {
    // Two plain parts gather; the buffer after them takes zero-copy (its path is decided
    // while the request is formed) and waits. The request fails the stream: that buffer
    // comes back NotSent, and since no request of it was submitted, with no path.
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, gathering(Policy::Always));
    let part = Some(SendPath::Plain(PlainReason::SmallPart));
    s.accept_as(vec![1u8; 10].into(), None, part);
    s.accept_as(vec![2u8; 10].into(), None, part);
    s.accept(vec![3u8; 8192].into(), None);
    assert_eq!(s.pump(&mut ring, CTX), 1);
    assert_eq!(
        s.chain,
        vec![0, 1],
        "the zero-copy buffer is not of the request"
    );
    assert_eq!(
        s.slots[2].entry.as_ref().unwrap().path,
        Some(SendPath::ZeroCopy),
        "decided while the request was formed"
    );
    gathered_result(&mut s, 0, err(Errno::PIPE), false);
    let done = sorted(&mut s);
    assert_eq!(done.len(), 3);
    assert_eq!(done[0].path, part, "sent (and failed) as a part");
    assert_eq!(done[1].path, part, "rode in the request");
    assert!(matches!(done[2].result, Err(BufferError::NotSent { .. })));
    assert_eq!(done[2].path, None, "no request of it was submitted");
}

#[test]
fn a_lone_buffer_of_another_path_goes_alone_and_the_run_behind_it_gathers() {
    // A header the layer copies (a small part), then payloads it sends zero-copy: the
    // header cannot share their request. It goes alone, and the payloads wait to go as
    // one gathered request, rather than all five as a chain of single requests.
    let mut r = ring();
    let (mut s, _peer) = tcp_sender(&r, gathering(Policy::Always).depth(8));
    s.accept_as(vec![1u8; 10].into(), None, s.part_path(10));
    for _ in 0..4 {
        s.accept(vec![2u8; 8192].into(), None);
    }
    assert_eq!(s.pump(&mut r, CTX), 1, "the header alone");
    let sqe = r.last_sqe().unwrap();
    assert_eq!(sqe.opcode, sys::op(sys::io_uring_op::IORING_OP_SEND));
    assert_eq!(sqe.flags & sys::IOSQE_IO_LINK, 0, "nothing linked to it");
    assert_eq!(s.chain, vec![0]);
    assert_eq!(queue(&s), vec![1, 2, 3, 4]);
    result(&mut s, 0, 10, false);
    assert_eq!(s.pump(&mut r, CTX), 1, "the payloads in one request");
    let sqe = r.last_sqe().unwrap();
    assert_eq!(sqe.opcode, sys::op(sys::io_uring_op::IORING_OP_SENDMSG_ZC));
    assert_eq!(s.chain, vec![1, 2, 3, 4]);
    assert_eq!((s.stats.gathered, s.stats.gathered_buffers), (1, 4));
    gathered_result(&mut s, 1, 4 * 8192, true);
    gathered_notif(&mut s, 1, false);
    let done = sorted(&mut s);
    assert_eq!(
        done.iter().map(|c| c.result).collect::<Vec<_>>(),
        [Ok(10), Ok(8192), Ok(8192), Ok(8192), Ok(8192)]
    );
    assert!(s.is_idle());

    // A plain buffer, a zero-copy one, then plain ones: the first two go as a chain (no
    // two of them could be gathered), the run behind them gathers next.
    let mut r = ring();
    let (mut s, _peer) = tcp_sender(&r, gathering(Policy::Always).depth(8));
    s.accept_as(vec![1u8; 10].into(), None, s.part_path(10));
    s.accept(vec![2u8; 8192].into(), None);
    for _ in 0..3 {
        s.accept_as(vec![3u8; 10].into(), None, s.part_path(10));
    }
    assert_eq!(s.pump(&mut r, CTX), 2);
    assert_eq!(s.chain, vec![0, 1]);
    assert_eq!(queue(&s), vec![2, 3, 4]);

    // Header and payload in turn: no two neighbours share a path, so nothing can be
    // gathered and the window goes as one chain, as before.
    let mut r = ring();
    let (mut s, _peer) = tcp_sender(&r, gathering(Policy::Always).depth(8));
    for _ in 0..3 {
        s.accept_as(vec![1u8; 10].into(), None, s.part_path(10));
        s.accept(vec![2u8; 8192].into(), None);
    }
    assert_eq!(s.pump(&mut r, CTX), 6, "a chain of all six");
    assert_eq!(s.stats.gathered, 0);
}

/// A UDP sender that gathers datagrams (UDP GSO), as `ZcSender::new` makes one for a UDP
/// socket with `coalesce`.
fn udp_gso_sender(config: Config) -> (SenderState, UdpSocket) {
    let (mut s, peer) = udp_sender(config);
    s.gso = true;
    (s, peer)
}

/// A UDP GSO sender with `n` datagrams of `len` bytes pushed as one gathered request.
fn one_gathered(policy: Policy, n: usize, len: usize) -> (IoUring, SenderState, UdpSocket) {
    let mut ring = ring();
    let (mut s, peer) = udp_gso_sender(Config::default().policy(policy));
    for _ in 0..n {
        s.accept(vec![5u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1, "one request for the {n}");
    (ring, s, peer)
}

fn lens_and_results(s: &mut SenderState) -> Vec<(u64, usize, Result<usize, BufferError>)> {
    s.completions()
        .map(|c| (c.seq, c.buffer.len(), c.result))
        .collect()
}

#[test]
fn small_datagrams_after_large_ones_still_gather() {
    // A sender of large datagrams (more than half a gathered request each) never looks
    // for a run; the first small ones it is given gather as on a fresh sender.
    let mut ring = ring();
    let (mut s, _peer) = udp_gso_sender(Config::default().policy(Policy::Never));
    for _ in 0..3 {
        s.accept(vec![1u8; 40_000].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 3, "each alone");
    for slot in 0..3 {
        result(&mut s, slot, 40_000, false);
    }
    assert_eq!(s.completions().count(), 3);
    assert_eq!(s.stats.gathered, 0);
    for _ in 0..4 {
        s.accept(vec![2u8; 1000].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1, "one request for the four");
    assert_eq!((s.stats.gathered, s.stats.gathered_buffers), (1, 4));
}

#[test]
fn a_gathered_udp_request_gives_each_datagram_its_own_completion() {
    let mut ring = ring();
    let (mut s, _peer) = udp_gso_sender(Config::default().policy(Policy::Always));
    for len in [100, 100, 100, 60] {
        s.accept(vec![3u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1, "one request for the four");
    assert_eq!((s.stats.gathered, s.stats.gathered_buffers), (1, 4));
    assert_eq!((s.stats.requests, s.stats.zc_requests), (1, 1));
    assert_eq!(s.slots[0].riders, vec![1, 2, 3]);
    result(&mut s, 0, 360, true);
    assert!(
        s.next_completion().is_none(),
        "every datagram waits for the notification"
    );
    assert_eq!(s.kernel_held(), 4);
    notif(&mut s, 0, false);
    let got = lens_and_results(&mut s);
    assert_eq!(
        got,
        vec![
            (0, 100, Ok(100)),
            (1, 100, Ok(100)),
            (2, 100, Ok(100)),
            (3, 60, Ok(60))
        ]
    );
    assert_eq!((s.stats.zero_copy, s.stats.copied), (4, 0));
    assert_eq!(s.stats.buffers_completed, 4);
    assert_eq!(s.stats.bytes_completed, 360);
    assert_eq!(s.owned_buffers, 0);
    assert!(s.slots[0].riders.is_empty());
}

#[test]
fn a_udp_run_ends_after_a_shorter_datagram_at_a_larger_one_and_at_the_byte_limit() {
    let mut ring = ring();
    let (mut s, _peer) = udp_gso_sender(Config::default().policy(Policy::Never).depth(16));
    // [100 100 50]: a shorter datagram ends a run. 100, 200: a larger one ends it too
    // (each of those goes alone). [30000 30000]: 65000 bytes at most, so the third goes
    // alone. 40000, 40000: two do not fit.
    let lens = [100, 100, 50, 100, 200, 30000, 30000, 30000, 40000, 40000];
    for len in lens {
        s.accept(vec![1u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 7);
    assert_eq!((s.stats.gathered, s.stats.gathered_buffers), (2, 5));
    assert_eq!(s.slots[0].riders, vec![1, 2]);
    assert_eq!(s.slots[5].riders, vec![6]);
    let leads = [
        (0, 250),
        (3, 100),
        (4, 200),
        (5, 60000),
        (7, 30000),
        (8, 40000),
        (9, 40000),
    ];
    for (lead, bytes) in leads {
        result(&mut s, lead, bytes, false);
    }
    let got = lens_and_results(&mut s);
    assert_eq!(got.len(), lens.len());
    for (seq, len, res) in got {
        assert_eq!(len, lens[seq as usize]);
        assert_eq!(res, Ok(len), "datagram {seq}");
    }
    assert_eq!(s.stats.plain_policy, lens.len() as u64);
}

#[test]
fn a_udp_run_starts_only_where_two_of_the_first_datagrams_size_fit() {
    // 32500 + 32500 is the byte limit: gathered. 32501 twice is over it: each alone (the
    // front is looked at by its length alone, `gso_may_start`), and the 32500 behind
    // them, with a 100 after it, is a run again.
    let mut ring = ring();
    let (mut s, _peer) = udp_gso_sender(Config::default().policy(Policy::Never).depth(16));
    let lens = [32500, 32500, 32501, 32501, 32500, 100];
    for len in lens {
        s.accept(vec![1u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 4);
    assert_eq!((s.stats.gathered, s.stats.gathered_buffers), (2, 4));
    assert_eq!(s.slots[0].riders, vec![1]);
    assert!(s.slots[2].riders.is_empty() && s.slots[3].riders.is_empty());
    assert_eq!(s.slots[4].riders, vec![5]);
    for (lead, bytes) in [(0, 65000), (2, 32501), (3, 32501), (4, 32600)] {
        result(&mut s, lead, bytes, false);
    }
    let got = lens_and_results(&mut s);
    assert_eq!(got.len(), lens.len());
    for (seq, len, res) in got {
        assert_eq!((len, res), (lens[seq as usize], Ok(len)), "datagram {seq}");
    }
}

#[test]
fn a_refused_segmentation_sends_each_datagram_again_alone_and_stops_the_gathering() {
    let (mut ring, mut s, _peer) = one_gathered(Policy::Never, 4, 1000);
    // EMSGSIZE: a segment larger than the path's MTU.
    result(&mut s, 0, err(Errno::MSGSIZE), false);
    assert!(s.next_completion().is_none(), "nothing is failed for it");
    assert_eq!(queue(&s), vec![0, 1, 2, 3], "all four again, in order");
    assert!(!s.gso);
    assert_eq!((s.stats.gso_refused, s.stats.retries), (1, 4));
    assert_eq!(s.pump(&mut ring, CTX), 4, "one by one");
    assert_eq!(s.stats.gathered, 1);
    for slot in 0..4 {
        result(&mut s, slot, 1000, false);
    }
    assert!(lens_and_results(&mut s)
        .iter()
        .all(|(_, len, res)| *res == Ok(*len)));
    // Later datagrams are not gathered any more.
    for _ in 0..3 {
        s.accept(vec![5u8; 1000].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 3);
    assert_eq!((s.stats.gathered, s.stats.requests), (1, 8));
}

#[test]
fn another_error_of_a_gathered_udp_request_is_each_datagrams_own_to_have() {
    let (mut ring, mut s, _peer) = one_gathered(Policy::Always, 3, 500);
    // An earlier datagram's ICMP port unreachable, reported to this request (with a
    // notification owed: F_MORE).
    result(&mut s, 0, err(Errno::CONNREFUSED), true);
    assert!(s.gso, "not the segmentation's fault");
    assert_eq!(queue(&s), vec![0, 1, 2]);
    assert_eq!(
        s.pump(&mut ring, CTX),
        3,
        "each alone, never gathered again"
    );
    assert_eq!(s.stats.gathered, 1);
    // Their own results: one is refused in turn, the others are sent.
    result(&mut s, 0, 500, true);
    result(&mut s, 1, err(Errno::CONNREFUSED), false);
    result(&mut s, 2, 500, true);
    assert!(
        s.next_completion().is_none(),
        "the gathered request's notification is still owed to all three"
    );
    // The gathered request's notification (its user_data: generation riders_gen).
    let gathered = PREFIX | (u64::from(s.slots[0].riders_gen) << 16);
    assert!(s.handle_cqe(&Cqe {
        user_data: gathered,
        res: 0,
        flags: sys::IORING_CQE_F_NOTIF
    }));
    let c = s.next_completion().unwrap();
    assert_eq!(
        (c.seq, c.result),
        (
            1,
            Err(BufferError::Failed {
                errno: Errno::CONNREFUSED,
                sent: 0
            })
        )
    );
    notif(&mut s, 0, false);
    notif(&mut s, 2, false);
    let rest = lens_and_results(&mut s);
    assert_eq!(rest, vec![(0, 500, Ok(500)), (2, 500, Ok(500))]);
    assert_eq!(s.owned_buffers, 0);
}

#[test]
fn a_cancelled_gathered_udp_request_fails_each_datagram() {
    let (_ring, mut s, _peer) = one_gathered(Policy::Never, 3, 500);
    result(&mut s, 0, err(Errno::CANCELED), false);
    let got = lens_and_results(&mut s);
    assert_eq!(got.len(), 3);
    for (_, _, res) in got {
        assert_eq!(
            res,
            Err(BufferError::Failed {
                errno: Errno::CANCELED,
                sent: 0
            })
        );
    }
    assert!(s.queue.is_empty());
    assert_eq!(s.owned_buffers, 0);
}

#[test]
fn the_adaptive_policy_decides_a_gathered_udp_run_once_and_probes_by_rounds() {
    let mut ring = ring();
    let config = Config::default()
        .policy(Policy::Adaptive)
        .adaptive_reprobe_every(2);
    let (mut s, _peer) = udp_gso_sender(config);
    // A learner that has measured both paths for 1000-byte datagrams: plain is cheaper.
    let c = size_class(1000);
    for _ in 0..=WARMUP {
        s.adaptive.learner.plain[c].add(1.0);
        s.adaptive.learner.zc[c].add(2.0);
    }
    let mut zc_rounds = Vec::new();
    for round in 0..9 {
        for _ in 0..8 {
            s.accept(vec![9u8; 1000].into(), None);
        }
        assert_eq!(
            s.pump(&mut ring, CTX),
            1,
            "round {round}: one request for the eight"
        );
        // The round has the request's bytes once, and is still a sample (one class, one
        // path).
        assert_eq!(s.adaptive.learner.round_bytes(), 8000, "round {round}");
        assert!(s.adaptive.learner.round.is_some() && !s.adaptive.learner.round_mixed);
        let lead = s.slots.iter().position(|sl| sl.riders.len() == 7).unwrap() as u16;
        let zc = s.slots[usize::from(lead)]
            .entry
            .as_ref()
            .unwrap()
            .path
            .is_some_and(SendPath::is_zero_copy);
        // The round as the driver ends it: an enter that took 8000 ns.
        s.adaptive.learner.submitted(Some(8000));
        result(&mut s, lead, 8000, zc);
        if zc {
            zc_rounds.push(round);
            notif(&mut s, lead, false);
        }
        assert_eq!(s.completions().count(), 8, "round {round}");
    }
    assert_eq!(s.stats.gathered_buffers, 72, "every round gathered whole");
    // One probe round (zero-copy) after every two rounds of the preferred path.
    assert_eq!(zc_rounds, vec![2, 5, 8]);
    assert_eq!(s.stats.adaptive_probes, 3 * 8, "counted in buffers");
}

#[test]
fn a_gathered_udp_run_ending_in_another_size_class_is_no_sample() {
    // Three datagrams of 1000 bytes and a last one of 400 (another size class) on the
    // path the learner prefers for both: one request, whose bytes are all counted, in a
    // round that mixes two classes and so says nothing about either.
    let mut ring = ring();
    let (mut s, _peer) = udp_gso_sender(Config::default().policy(Policy::Adaptive));
    for c in [size_class(1000), size_class(400)] {
        for _ in 0..=WARMUP {
            s.adaptive.learner.plain[c].add(1.0);
            s.adaptive.learner.zc[c].add(2.0);
        }
    }
    for len in [1000, 1000, 1000, 400] {
        s.accept(vec![3u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring, CTX), 1, "one request for the four");
    assert_eq!(s.stats.gathered_buffers, 4);
    assert_eq!(s.adaptive.learner.round_bytes(), 3400);
    assert!(s.adaptive.learner.round_mixed, "two classes: no sample");
    let before = (s.adaptive.learner.plain, s.adaptive.learner.zc);
    s.adaptive.learner.submitted(Some(3400));
    assert_eq!((s.adaptive.learner.plain, s.adaptive.learner.zc), before);
    assert_eq!(
        s.adaptive.learner.round_bytes(),
        0,
        "the next push starts a new round"
    );
}

#[test]
fn a_gathered_udp_request_refused_its_pages_sends_each_datagram_again_plain() {
    let (mut ring, mut s, _peer) = one_gathered(Policy::Always, 3, 500);
    // The locked-memory limit: the kernel would not pin the pages (no notification owed).
    result(&mut s, 0, err(Errno::NOBUFS), false);
    assert_eq!(queue(&s), vec![0, 1, 2]);
    assert_eq!((s.stats.pin_refused, s.stats.retries), (3, 3));
    assert!(s.gso, "not the segmentation's fault");
    assert_eq!(s.pump(&mut ring, CTX), 3, "each alone");
    assert_eq!(s.stats.zc_requests, 1, "the resends go plain");
    for slot in 0..3 {
        result(&mut s, slot, 500, false);
    }
    let got: Vec<_> = s.completions().map(|c| (c.result, c.path)).collect();
    assert_eq!(
        got,
        vec![(Ok(500), Some(SendPath::Plain(PlainReason::PinLimit))); 3]
    );
    assert_eq!(s.owned_buffers, 0);
}

#[cfg(feature = "bytes")]
#[test]
fn a_dropped_udp_sender_frees_nothing_its_gathered_requests_hold() {
    // Two gathered requests: A has its first completion and owes its notification, B has
    // nothing back yet (the kernel may still read its msghdr). Behind them a queued
    // datagram (larger: it cannot join B) whose owner panics when freed: the panic unwinds through the state's drop,
    // and no buffer of A or B may be freed (B's msghdr box is leaked too, which this test
    // cannot observe).
    let mut ring = ring();
    let (mut s, _peer) = udp_gso_sender(Config::default().policy(Policy::Always).depth(2));
    let mut held = Vec::new();
    for (len, panics) in [
        (500, false),
        (500, false),
        (500, false),
        (600, false),
        (600, false),
        (700, true),
    ] {
        let freed = Arc::<AtomicBool>::default();
        if !panics {
            held.push(Arc::clone(&freed));
        }
        let owner = Owner {
            bytes: vec![4; len],
            panics,
            freed: Arc::clone(&freed),
        };
        s.accept(bytes::Bytes::from_owner(owner).into(), None);
        if panics {
            held.push(freed);
        }
    }
    assert_eq!(s.pump(&mut ring, CTX), 2, "depth 2: A and B");
    assert_eq!((s.stats.gathered, s.stats.gathered_buffers), (2, 5));
    assert_eq!(queue(&s), vec![5]);
    result(&mut s, 0, 1500, true);
    assert_eq!(s.kernel_held(), 5);
    let panicky = held.pop().unwrap();
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(s)));
    assert!(unwound.is_err(), "the hostile destructor ran and panicked");
    assert!(panicky.load(Ordering::SeqCst));
    for (i, freed) in held.iter().enumerate() {
        assert!(
            !freed.load(Ordering::SeqCst),
            "datagram {i}, held by the kernel, was freed"
        );
    }
}

#[test]
fn pages_spanned_counts_each_page_a_slice_touches() {
    let page = PAGE_UNIT;
    let mem = vec![0u8; 3 * page];
    let base = mem.as_ptr() as usize;
    let at = base.next_multiple_of(page) - base; // the first page start inside `mem`
    assert_eq!(pages_spanned(&mem[at..at]), 0);
    assert_eq!(pages_spanned(&mem[at..at + 1]), 1);
    assert_eq!(pages_spanned(&mem[at..at + page]), 1);
    assert_eq!(pages_spanned(&mem[at..at + page + 1]), 2);
    assert_eq!(pages_spanned(&mem[at + page - 1..at + page + 1]), 2);
    assert_eq!(pages_spanned(&mem[at + 1..at + page]), 1);
}
