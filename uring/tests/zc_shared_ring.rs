//! The zero-copy sender on a ring shared with other work, against the live kernel: it
//! consumes only its own completions and hands every other one back untouched; several
//! senders share one ring by routing completions to each other.

mod zc_util;

use std::collections::BTreeMap;

use linux_raw_sys::general::__kernel_timespec;
use rustix::io::Errno;
use uring::sys::io_uring_op;
use uring::zc::{is_zc_user_data, Config, Policy, ZcSender};
use uring::{Cqe, IoUring, Sqe};
use zc_util::*;

/// Queues (without submitting) an IORING_OP_TIMEOUT that fires after `ts` (Linux 5.4),
/// built by hand: addr = the timespec, len = 1, off = completion count 0.
///
/// # Safety
///
/// `ts` must stay valid until the timeout's completion has been reaped.
unsafe fn queue_timeout(ring: &mut IoUring, user_data: u64, ts: &__kernel_timespec) {
    let mut sqe = Sqe::default();
    sqe.prep_rw(
        io_uring_op::IORING_OP_TIMEOUT,
        -1,
        ts as *const __kernel_timespec as u64,
        1,
        0,
    );
    sqe.user_data = user_data;
    // SAFETY: forwarded to the caller: `ts` outlives the request.
    unsafe { ring.push(&sqe) }.unwrap();
}

/// Queues an IORING_OP_ASYNC_CANCEL of the request with `target` user_data (Linux 5.5).
fn queue_cancel(ring: &mut IoUring, user_data: u64, target: u64) {
    let mut sqe = Sqe::default();
    sqe.prep_rw(io_uring_op::IORING_OP_ASYNC_CANCEL, -1, target, 0, 0);
    sqe.user_data = user_data;
    // SAFETY: the cancel names no memory, only a user_data value.
    unsafe { ring.push(&sqe) }.unwrap();
}

/// Reaps `ring` ourselves (bounded) until `want` more completions are collected.
fn reap_more(ring: &mut IoUring, out: &mut Vec<Cqe>, want: usize) {
    let end = deadline();
    let goal = out.len() + want;
    let mut buf = [Cqe::default(); 16];
    while out.len() < goal {
        assert!(
            std::time::Instant::now() < end,
            "completions missing: {out:?}"
        );
        let _ = ring.submit_and_wait_timeout(1, std::time::Duration::from_millis(50));
        let n = ring.copy_cqes(&mut buf, 0).unwrap() as usize;
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn other_requests_in_flight_come_back_untouched() {
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .wait_timeout(Some(BOUND));
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 32 * 1024);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();

    // Other work on the same ring, queued before the sender runs: a NOP, a short timeout
    // that fires while the sender works, and a long one that stays in flight throughout.
    let short = __kernel_timespec {
        tv_sec: 0,
        tv_nsec: 20_000_000,
    };
    let long = __kernel_timespec {
        tv_sec: 3600,
        tv_nsec: 0,
    };
    ring.nop(1).unwrap();
    // SAFETY: both timespecs live until the end of the test, after their completions.
    unsafe {
        queue_timeout(&mut ring, 2, &short);
        queue_timeout(&mut ring, 3, &long);
    }

    let mut foreign: Vec<Cqe> = Vec::new();
    let mut done = Vec::new();
    let mut at = 0u64;
    for i in 0..40u64 {
        let len = 1 + (i as usize * 37_717) % 200_000;
        sender.send(&mut ring, chunk(at, len)).unwrap();
        at += len as u64;
        if i % 5 == 0 {
            // More unrelated requests, queued between the sender's calls.
            ring.nop(0x100 + i).unwrap();
        }
        done.extend(sender.completions());
        foreign.extend(sender.foreign_cqes());
    }
    finish(&mut sender, &mut ring, &mut done);
    foreign.extend(sender.foreign_cqes());
    // The long timeout is still in flight: cancel it, and collect what is left ourselves.
    queue_cancel(&mut ring, 4, 3);
    let expected = 1 + 2 + 8 + 1; // a nop, two timeouts, eight nops, the cancel
    let missing = expected - foreign.len();
    reap_more(&mut ring, &mut foreign, missing);

    let by_ud: BTreeMap<u64, Cqe> = foreign.iter().map(|c| (c.user_data, *c)).collect();
    assert_eq!(
        by_ud.len(),
        foreign.len(),
        "each foreign completion once: {foreign:?}"
    );
    assert_eq!(foreign.len(), expected, "{foreign:?}");
    assert!(foreign.iter().all(|c| !is_zc_user_data(c.user_data)));
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
    for i in (0..40).step_by(5) {
        assert_eq!(by_ud[&(0x100 + i)].res, 0);
    }
    assert_each_once(&done, 40);
    assert!(done.iter().all(|c| c.is_ok()));
    drop(sender);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
    // `short` and `long` lived until here, past their completions.
}

#[test]
fn two_senders_share_one_ring_by_routing_completions() {
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .budget_bytes(512 * 1024)
        .wait_timeout(Some(BOUND));
    let mut ring = config.ring().unwrap();
    let (ca, sa) = tcp_pair();
    let (cb, sb) = tcp_pair();
    let (rxa, rxb) = (
        checking_receiver(sa, 16 * 1024),
        checking_receiver(sb, 16 * 1024),
    );
    let mut a = ZcSender::new(&ring, ca, config.clone()).unwrap();
    let mut b = ZcSender::new(&ring, cb, config).unwrap();
    assert_ne!(a.id(), b.id());
    let mut others = Vec::new();

    /// After every call on one sender, give the other its completions (and keep the rest).
    fn route(from: &mut ZcSender, to: &mut ZcSender, others: &mut Vec<Cqe>) {
        let reaped: Vec<Cqe> = from.foreign_cqes().collect();
        for cqe in reaped {
            if !to.handle_cqe(&cqe) {
                others.push(cqe);
            }
        }
    }

    let (mut at_a, mut at_b) = (0u64, 0u64);
    let (mut done_a, mut done_b) = (Vec::new(), Vec::new());
    for i in 0..60usize {
        let len = 1000 + (i * 7919) % 100_000;
        a.send(&mut ring, chunk(at_a, len)).unwrap();
        at_a += len as u64;
        route(&mut a, &mut b, &mut others);
        b.send(&mut ring, chunk(at_b, len / 2 + 1)).unwrap();
        at_b += (len / 2 + 1) as u64;
        route(&mut b, &mut a, &mut others);
        done_a.extend(a.completions());
        done_b.extend(b.completions());
    }
    let end = deadline();
    while a.buffers_in_flight() + b.buffers_in_flight() > 0 {
        assert!(std::time::Instant::now() < end, "senders never drained");
        a.wait(&mut ring).unwrap();
        route(&mut a, &mut b, &mut others);
        b.poll(&mut ring).unwrap();
        route(&mut b, &mut a, &mut others);
        done_a.extend(a.completions());
        done_b.extend(b.completions());
    }
    assert!(
        others.is_empty(),
        "no completion of anyone else: {others:?}"
    );
    assert_each_once(&done_a, 60);
    assert_each_once(&done_b, 60);
    drop((a, b));
    assert_eq!(
        rxa.join().unwrap(),
        Received {
            bytes: at_a,
            mismatch: None,
            error: false
        }
    );
    assert_eq!(
        rxb.join().unwrap(),
        Received {
            bytes: at_b,
            mismatch: None,
            error: false
        }
    );
}
