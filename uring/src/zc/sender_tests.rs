//! The sender's completion logic, driven by made-up completions.
//!
//! The requests are pushed to a real ring but never submitted (these tests never enter
//! the kernel), so the kernel never sees them and feeding the sender completions by hand
//! is harmless. Each case is a sequence the kernel produces for real, but rarely on
//! demand: a short send (only after a signal or a huge buffer, with MSG_WAITALL), links
//! cancelled behind it, EOPNOTSUPP, a notification before the result, transient errors.

use std::net::{TcpListener, TcpStream, UdpSocket};

use super::*;
use crate::sys::IoringSetupFlags;

fn ring() -> IoUring {
    IoUring::init(64, IoringSetupFlags::empty()).unwrap()
}

fn tcp_sender(ring: &IoUring, config: Config) -> (ZcSender, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (ZcSender::new(ring, c, config).unwrap(), s)
}

fn ud(s: &ZcSender, slot: u16) -> u64 {
    let gen = s.slots[usize::from(slot)].gen;
    USER_DATA_TAG | (u64::from(s.id) << 32) | (u64::from(gen) << 16) | u64::from(slot)
}

fn result(s: &mut ZcSender, slot: u16, res: i32, more: bool) {
    let cqe = Cqe {
        user_data: ud(s, slot),
        res,
        flags: if more { sys::IORING_CQE_F_MORE } else { 0 },
    };
    assert!(s.handle_cqe(&cqe), "{cqe:?} is the sender's");
}

fn notif(s: &mut ZcSender, slot: u16, copied: bool) {
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

fn queue(s: &ZcSender) -> Vec<u16> {
    s.queue.iter().copied().collect()
}

fn always() -> Config {
    Config::default().policy(Policy::Always).depth(4)
}

#[test]
fn a_short_send_is_continued_before_every_later_buffer() {
    let mut ring = ring();
    let (mut s, _peer) = tcp_sender(&ring, always());
    for len in [100, 50, 30, 20] {
        s.accept(vec![7u8; len].into(), None);
    }
    assert_eq!(s.pump(&mut ring), 4, "one chain of four");
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
    assert_eq!(s.pump(&mut ring), 4);
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
    assert_eq!(s.pump(&mut ring), 0, "nothing is sent after the error");
    // Stale completions (old generations) are not the sender's any more.
    let stale = Cqe {
        user_data: USER_DATA_TAG | (u64::from(s.id) << 32),
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
    assert_eq!(s.pump(&mut ring), 2);
    result(&mut s, 0, err(Errno::OPNOTSUPP), true);
    result(&mut s, 1, err(Errno::CANCELED), true);
    assert_eq!(s.fallback(), Some(FallbackReason::Unsupported));
    assert_eq!(queue(&s), vec![0, 1]);
    assert_eq!(s.pump(&mut ring), 2);
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
    s.pump(&mut ring);
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
    s.pump(&mut ring);
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
    s.pump(&mut ring);
    for user_data in [
        0,
        42,
        ud(&s, 0) ^ (1 << 32),           // another sender's id
        ud(&s, 0) ^ (1 << 16),           // another generation
        ud(&s, 0) + 5,                   // a slot that does not exist
        ud(&s, 0) & !USER_DATA_TAG_MASK, // no tag
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
    assert!(s.owns_user_data(ud(&s, 0)));
    assert!(is_zc_user_data(ud(&s, 0)));
}

#[test]
fn datagram_retries_are_bounded_and_errors_stay_per_datagram() {
    let mut ring = ring();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(peer.local_addr().unwrap()).unwrap();
    let mut s = ZcSender::new(&ring, sock, always()).unwrap();
    assert!(!s.is_stream());
    s.accept(vec![1u8; 10].into(), None);
    s.accept(vec![2u8; 10].into(), None);
    assert_eq!(s.pump(&mut ring), 2, "datagrams go unlinked, both at once");
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
        s.pump(&mut ring);
    }
    assert_eq!(rounds, usize::from(MAX_STALLS) + 1);
    assert_eq!(s.stats.retries, u64::from(MAX_STALLS));
    assert_eq!(s.stats.errors, 2);
    assert_eq!(s.owned_buffers, 0);
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
    let mut paths = Vec::new();
    for i in 0..10u16 {
        let len = if i == 0 { 10 } else { 1000 };
        s.accept(vec![0u8; len].into(), None);
        assert_eq!(s.pump(&mut ring), 1);
        let slot = s.chain[0];
        let zc = s.slots[usize::from(slot)]
            .entry
            .as_ref()
            .unwrap()
            .path
            .unwrap()
            .is_zero_copy();
        result(&mut s, slot, len as i32, zc);
        if zc {
            notif(&mut s, slot, true);
        }
        paths.push(s.next_completion().unwrap().path.unwrap());
    }
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
            ZeroCopy, // probe (every third)
            Plain(KernelCopies),
            Plain(KernelCopies),
            ZeroCopy, // probe
            Plain(KernelCopies),
        ]
    );
    assert_eq!(s.stats.adaptive_switches, 1);
    assert_eq!(s.stats.adaptive_probes, 2);
    assert_eq!(s.stats.plain_kernel_copies, 5);
    assert_eq!(s.stats.plain_small, 1);
    assert_eq!(s.stats.zero_copy, 4);
    // A probe whose notification says the kernel did not copy switches back.
    s.accept(vec![0u8; 1000].into(), None);
    s.accept(vec![0u8; 1000].into(), None);
    s.pump(&mut ring);
    let slot = s.chain[0];
    result(&mut s, slot, 1000, false);
    s.pump(&mut ring);
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

#[test]
fn senders_buffers_and_pools_move_between_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<ZcSender>();
    sync::<ZcSender>();
    send::<Completion>();
    send::<ZcBuffer>();
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
    assert_eq!(s.pump(&mut ring), 2);
    let first_b = ud(&s, 1);
    // The head is cut short; the link cancels the second (no F_MORE).
    result(&mut s, 0, 40, true);
    s.handle_cqe(&cqe_for(first_b, err(Errno::CANCELED), 0));
    notif(&mut s, 0, true);
    assert_eq!(queue(&s), vec![0, 1]);
    // Both go again: the remainder, then the second buffer, with a new user_data.
    assert_eq!(s.pump(&mut ring), 2);
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
    assert_eq!(s.pump(&mut ring), 2);
    notif(&mut s, 1, false); // early: its result is not in yet
    result(&mut s, 0, 40, true);
    result(&mut s, 1, err(Errno::CANCELED), false);
    notif(&mut s, 0, true);
    assert_eq!(s.stats.stray_notifications, 1);
    assert_eq!(s.pump(&mut ring), 2);
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
