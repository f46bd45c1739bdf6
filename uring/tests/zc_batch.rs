//! Submission batching in the safe layer: `queue` accepts without submitting, `flush`
//! submits what every sender of the driver queued, together. `send` keeps submitting at
//! once (no latency added).
#![forbid(unsafe_code)]

mod zc_util;

use std::net::TcpStream;

use rustix::io::Errno;
use uring::zc::{Completion, Config, Policy, SendErrorKind, ZcBuffer, ZcError, ZcSender, ZcStats};
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

/// `queue_from` takes, from the front and in order, the run of buffers the budget has
/// room for, and leaves the rest in the caller's vector as they were; with no room (the
/// budget held by buffers queued and not flushed, so reaping frees none) it takes nothing
/// and says `WouldBlock`. On the wire the stream is the buffers in vector order.
#[test]
fn queue_from_takes_the_run_that_fits_in_order_and_leaves_the_rest() {
    const LEN: usize = 4096;
    let config = Config::default()
        .policy(Policy::Always)
        .max_buffers(4)
        .budget_bytes(4 * LEN);
    let mut driver = config.driver().unwrap();
    let (c, rx) = pair();
    let sender = ZcSender::new(&mut driver, c, config).unwrap();
    let piece = |i: u64| ZcBuffer::from(chunk(i * LEN as u64, LEN));
    let mut window: Vec<ZcBuffer> = (0..6).map(piece).collect();
    assert_eq!(sender.queue_from(&mut driver, &mut Vec::new()), Ok(0));
    assert_eq!(sender.queue_from(&mut driver, &mut window), Ok(4));
    let left: Vec<&[u8]> = window.iter().map(ZcBuffer::as_slice).collect();
    assert_eq!(
        left,
        [
            &chunk(4 * LEN as u64, LEN)[..],
            &chunk(5 * LEN as u64, LEN)[..]
        ]
    );
    let stats = sender.stats(&driver).unwrap();
    assert_eq!(
        (stats.buffers_submitted, stats.requests),
        (4, 0),
        "queued, not submitted"
    );
    assert_eq!(
        sender.queue_from(&mut driver, &mut window),
        Err(SendErrorKind::WouldBlock)
    );
    assert_eq!(window.len(), 2, "nothing taken");
    sender.flush(&mut driver).unwrap();
    sender.wait_all(&mut driver, BOUND).unwrap();
    let back: Vec<Completion> = sender.completions(&mut driver).unwrap().collect();
    let mut seqs: Vec<u64> = back.iter().map(|c| c.seq).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, [0, 1, 2, 3]);
    assert!(back.iter().all(|c| c.result == Ok(LEN)), "{back:?}");
    assert_eq!(sender.queue_from(&mut driver, &mut window), Ok(2));
    assert!(window.is_empty());
    sender.flush(&mut driver).unwrap();
    let closed = sender.close(&mut driver, BOUND);
    assert_eq!((closed.error, closed.pending), (None, 0));
    assert_eq!(closed.completions.len(), 2);
    drop(closed);
    let got = rx.join().unwrap();
    assert_eq!(
        (got.bytes, got.mismatch, got.error),
        (6 * LEN as u64, None, false)
    );
}

/// Every refusal of `queue_from` takes nothing: a first buffer larger than the whole
/// budget (`TooLarge`; a later one ends the run before it), another driver, a sender whose
/// stream failed.
#[test]
fn queue_from_refuses_without_taking_anything() {
    let config = Config::default().policy(Policy::Never).budget_bytes(8192);
    let mut driver = config.driver().unwrap();
    let (c, rx) = pair();
    let sender = ZcSender::new(&mut driver, c, config).unwrap();
    let big = || ZcBuffer::from(vec![7u8; 10_000]);
    let mut window = vec![big(), ZcBuffer::from(chunk(0, 100))];
    assert_eq!(
        sender.queue_from(&mut driver, &mut window),
        Err(SendErrorKind::TooLarge)
    );
    assert_eq!(window.len(), 2);
    window.reverse();
    assert_eq!(
        sender.queue_from(&mut driver, &mut window),
        Ok(1),
        "the run before it"
    );
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].len(), 10_000);
    assert_eq!(
        sender.queue_from(&mut driver, &mut window),
        Err(SendErrorKind::TooLarge)
    );
    let mut other = Config::default().driver().unwrap();
    let mut fits = vec![ZcBuffer::from(chunk(100, 100))];
    assert_eq!(
        sender.queue_from(&mut other, &mut fits),
        Err(SendErrorKind::Sender(ZcError::WrongDriver))
    );
    assert_eq!(fits.len(), 1);
    // The stream fails: the socket is shut for writing, the next send gets EPIPE.
    sender.flush(&mut driver).unwrap();
    sender.wait_all(&mut driver, BOUND).unwrap();
    rustix::net::shutdown(
        sender.socket(&driver).unwrap(),
        rustix::net::Shutdown::Write,
    )
    .unwrap();
    sender.send(&mut driver, chunk(100, 100)).unwrap();
    sender.wait_all(&mut driver, BOUND).unwrap();
    assert_eq!(
        sender.queue_from(&mut driver, &mut fits),
        Err(SendErrorKind::Sender(ZcError::Broken(Errno::PIPE)))
    );
    assert_eq!(fits.len(), 1);
    let results: Vec<_> = sender
        .completions(&mut driver)
        .unwrap()
        .map(|c| c.result.map_err(|e| e.errno()))
        .collect();
    assert_eq!(results, [Ok(100), Err(Errno::PIPE)]);
    drop(sender.close(&mut driver, BOUND));
    let got = rx.join().unwrap();
    assert_eq!((got.bytes, got.mismatch), (100, None));
}

/// Another drop order: the handle goes while the run `queue_from` took is still queued,
/// never flushed. Nothing of it reaches the kernel: the driver retires the sender at its
/// next call, the socket closes, and the peer reads nothing but the end of the stream.
#[test]
fn a_run_queued_by_queue_from_and_dropped_unflushed_is_never_sent() {
    let config = Config::default().policy(Policy::Always);
    let mut driver = config.driver().unwrap();
    let (c, rx) = pair();
    let sender = ZcSender::new(&mut driver, c, config).unwrap();
    let mut window: Vec<ZcBuffer> = (0..4).map(|i| chunk(i * 4096, 4096).into()).collect();
    assert_eq!(sender.queue_from(&mut driver, &mut window), Ok(4));
    assert_eq!(sender.stats(&driver).unwrap().requests, 0);
    drop(sender);
    driver.poll().unwrap();
    assert_eq!(
        driver.sender_count(),
        0,
        "retired at the driver's next call"
    );
    let got = rx.join().unwrap();
    assert_eq!((got.bytes, got.mismatch, got.error), (0, None, false));
}

/// A refusal by the sender (`SendErrorKind::Sender`) is transparent over the sender's
/// error: the same text and the same source, so that an error chain (`{:#}` of anyhow,
/// `io::Error::from`) names the cause once, not twice.
#[test]
fn a_sender_refusal_is_transparent_over_the_senders_error() {
    use std::error::Error;
    let inner = ZcError::Enter(uring::EnterError::SystemResources);
    let kind = SendErrorKind::Sender(inner);
    assert_eq!(kind.to_string(), inner.to_string());
    let cause = kind.source().expect("the enter error is the source");
    assert_eq!(
        cause.to_string(),
        uring::EnterError::SystemResources.to_string()
    );
    assert_ne!(
        cause.to_string(),
        kind.to_string(),
        "not the same error again"
    );
    assert!(SendErrorKind::WouldBlock.source().is_none());
}
