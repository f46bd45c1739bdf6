//! Submission batching in the safe layer: `queue` accepts without submitting, `flush`
//! submits what every sender of the driver queued, together. `send` keeps submitting at
//! once (no latency added).
#![forbid(unsafe_code)]

mod zc_util;

use std::net::TcpStream;

use uring::zc::{Config, Policy, ZcSender, ZcStats};
use zc_util::{checking_receiver, chunk, tcp_pair, BOUND};

/// A connected pair whose peer end is read and checked by a thread.
fn pair() -> (TcpStream, std::thread::JoinHandle<zc_util::Received>) {
    let (c, s) = tcp_pair();
    (c, checking_receiver(s, 1 << 16))
}

#[test]
fn queued_buffers_go_out_together_at_flush() {
    let config = Config::default().policy(Policy::Always).depth(8);
    let mut driver = config.driver().unwrap();
    let (c1, r1) = pair();
    let (c2, r2) = pair();
    let a = ZcSender::new(&mut driver, c1, config.clone()).unwrap();
    let b = ZcSender::new(&mut driver, c2, config).unwrap();
    let len = 16 * 1024;
    let rounds = 16u64;
    for round in 0..rounds {
        for i in 0..8u64 {
            let at = (round * 8 + i) * len as u64;
            a.queue(&mut driver, chunk(at, len)).unwrap();
            b.queue(&mut driver, chunk(at, len)).unwrap();
        }
        if round == 0 {
            let (sa, sb) = (a.stats(&driver).unwrap(), b.stats(&driver).unwrap());
            assert_eq!(
                (sa.requests, sb.requests),
                (0, 0),
                "nothing submitted before flush"
            );
            assert_eq!(driver.ring().sq_ready(), 0, "nothing even pushed");
        }
        let before = driver.enters();
        driver.flush().unwrap();
        let (sa, sb) = (a.stats(&driver).unwrap(), b.stats(&driver).unwrap());
        // A gathered request carries several buffers (Config::coalesce, the default).
        let requested = |s: &ZcStats| s.requests + s.gathered_buffers - s.gathered;
        assert!(
            requested(&sa) >= (round + 1) * 8 && requested(&sb) >= (round + 1) * 8,
            "every queued buffer submitted by the flush: {sa:?} {sb:?}"
        );
        // One request (or chain) per sender, and no more enters than requests that could
        // complete inline one after another (two senders: at most a few).
        assert!(
            driver.enters() - before <= 4,
            "{} enters",
            driver.enters() - before
        );
        a.wait_all(&mut driver, BOUND).unwrap();
        b.wait_all(&mut driver, BOUND).unwrap();
        for s in [&a, &b] {
            for c in s.completions(&mut driver).unwrap() {
                assert_eq!(c.result, Ok(len));
            }
        }
    }
    let (sa, sb) = (a.stats(&driver).unwrap(), b.stats(&driver).unwrap());
    assert_eq!(
        (sa.gathered, sa.gathered_buffers, sa.chains),
        (rounds, rounds * 8, 0),
        "one gathered request of 8 per flush: {sa:?}"
    );
    assert_eq!((sb.gathered, sb.chains), (rounds, 0), "{sb:?}");
    for s in [a, b] {
        let closed = s.close(&mut driver, BOUND);
        assert_eq!(closed.pending, 0);
    }
    drop(driver);
    let total = rounds * 8 * len as u64;
    assert_eq!(r1.join().unwrap().seen(), (total, None));
    assert_eq!(r2.join().unwrap().seen(), (total, None));
}

#[test]
fn send_submits_at_once_and_queue_waits_for_a_flush_or_a_wait() {
    let config = Config::default().policy(Policy::Never).depth(4);
    let mut driver = config.driver().unwrap();
    let (c, r) = pair();
    let s = ZcSender::new(&mut driver, c, config).unwrap();
    s.send(&mut driver, chunk(0, 1000)).unwrap();
    assert_eq!(
        s.stats(&driver).unwrap().requests,
        1,
        "send submits before it returns"
    );
    s.queue(&mut driver, chunk(1000, 1000)).unwrap();
    assert_eq!(s.stats(&driver).unwrap().requests, 1, "queue does not");
    // A wait submits what is queued (it could not end otherwise).
    s.wait_all(&mut driver, BOUND).unwrap();
    assert_eq!(s.stats(&driver).unwrap().requests, 2);
    assert_eq!(s.completions(&mut driver).unwrap().count(), 2);
    let closed = s.close(&mut driver, BOUND);
    drop(closed);
    drop(driver);
    assert_eq!(r.join().unwrap().seen(), (2000, None));
}
