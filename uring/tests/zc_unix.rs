//! The zero-copy sender on Unix sockets, which refuse zero-copy (EOPNOTSUPP): the same API
//! falls back to plain send, resends the refused buffers in order, and says so.
//!
//! Every buffer comes back exactly once, as itself and unchanged (`common::Ledger`), the
//! statistics add up (`common::check_stats`), and the peer gets every byte in order.

mod common;

use std::io::Read;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::time::Duration;

use common::{check_stats, datagram_bytes, stream_mismatch, stream_slice, Kind, Ledger};
use uring::zc::{Config, FallbackReason, PlainReason, Policy, SendPath, ZcBuffer, ZcSender};

/// Upper bound for any single wait: failing beats hanging.
const BOUND: Duration = Duration::from_secs(20);

#[test]
fn unix_stream_falls_back_to_plain_send_in_order() {
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .wait_timeout(Some(BOUND));
    let mut driver = config.driver().unwrap();
    let (tx, mut rx) = UnixStream::pair().unwrap();
    rx.set_read_timeout(Some(BOUND)).unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        rx.read_to_end(&mut all).unwrap();
        all
    });
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    assert!(sender.is_stream());
    assert_eq!(
        sender.fallback(&driver).unwrap(),
        None,
        "the probe has SEND_ZC: only the socket refuses"
    );
    let config = sender.config(&driver).unwrap().clone();
    let sizes = [
        10usize,
        200_000,
        1,
        70_000,
        3000,
        500_000,
        5,
        12_345,
        64 * 1024,
        2,
    ];
    let mut ledger = Ledger::default();
    let mut at = 0u64;
    for (i, &len) in sizes.iter().enumerate() {
        let data = stream_slice(at, len).to_vec();
        let ptr = data.as_ptr() as usize;
        let (b, kind): (ZcBuffer, Kind) = if i % 2 == 0 {
            (data.into(), Kind::Vec)
        } else {
            (data.into_boxed_slice().into(), Kind::Boxed)
        };
        sender.send(&mut driver, b).unwrap();
        ledger.accepted(at, len, ptr, kind);
        at += len as u64;
        ledger.collect(&sender, &mut driver);
    }
    sender
        .wait_all(&mut driver, BOUND)
        .expect("every buffer back in time");
    ledger.collect(&sender, &mut driver);
    let stats = sender.stats(&driver).unwrap();
    assert_eq!(
        sender.fallback(&driver).unwrap(),
        Some(FallbackReason::Unsupported)
    );
    // Everything is back: the close clears the socket's file-table slot at once, and with
    // the returned fd dropped the reader sees EOF.
    let closed = sender.close(&mut driver, BOUND);
    assert_eq!((closed.pending, closed.error), (0, None));
    assert!(closed.completions.is_empty());
    drop(closed.socket);
    assert_eq!(driver.sender_count(), 0);
    let all = reader.join().unwrap();
    assert_eq!(all.len() as u64, at);
    assert_eq!(stream_mismatch(0, &all), None, "the bytes arrive in order");
    assert_eq!(ledger.check_stream(None), at);
    check_stats(&stats, &ledger, &config);
    for (i, a) in ledger.bufs.iter().enumerate() {
        assert_eq!(a.result, Some(Ok(sizes[i])), "seq {i}");
        assert_eq!(
            a.path,
            Some(SendPath::Plain(PlainReason::Fallback)),
            "seq {i}"
        );
    }
    assert_eq!(stats.fallback, sizes.len() as u64);
    assert!(
        stats.retries >= 1,
        "the refused buffer was resent: {stats:?}"
    );
    assert!(
        stats.zc_requests >= 1,
        "zero-copy was tried first: {stats:?}"
    );
    assert_eq!(stats.errors, 0);
    assert_eq!(stats.copied, 0, "a refusal is not a copy");
}

#[test]
fn unix_datagram_falls_back_to_plain_send() {
    let config = Config::default()
        .policy(Policy::Always)
        .wait_timeout(Some(BOUND));
    let mut driver = config.driver().unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    rx.set_read_timeout(Some(BOUND)).unwrap();
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    assert!(!sender.is_stream());
    let config = sender.config(&driver).unwrap().clone();
    let mut ledger = Ledger::default();
    let len = |seq: u64| 100 + seq as usize * 7;
    for seq in 0..8u64 {
        let data = datagram_bytes(seq, len(seq));
        let ptr = data.as_ptr() as usize;
        sender.send(&mut driver, data).unwrap();
        ledger.accepted_datagram(len(seq), ptr, Kind::Vec);
        ledger.collect(&sender, &mut driver);
    }
    sender
        .wait_all(&mut driver, BOUND)
        .expect("every buffer back in time");
    ledger.collect(&sender, &mut driver);
    assert!(ledger.all_back(), "missing {:?}", ledger.missing());
    let stats = sender.stats(&driver).unwrap();
    check_stats(&stats, &ledger, &config);
    assert!(ledger
        .bufs
        .iter()
        .all(|a| a.result.is_some_and(|r| r.is_ok())));
    assert_eq!(
        sender.fallback(&driver).unwrap(),
        Some(FallbackReason::Unsupported)
    );
    assert_eq!(stats.fallback, 8);
    let closed = sender.close(&mut driver, BOUND);
    assert_eq!((closed.pending, closed.error), (0, None));
    // Every datagram arrives whole, once (a Unix datagram socket keeps their order, but
    // the test does not rely on it).
    let mut seen = [false; 8];
    let mut buf = [0u8; 512];
    for _ in 0..8 {
        let n = rx.recv(&mut buf).unwrap();
        assert!(n >= 12);
        let seq = u64::from_le_bytes(buf[..8].try_into().unwrap());
        assert!(seq < 8, "unknown datagram {seq}");
        assert_eq!(n, len(seq));
        assert_eq!(
            &buf[..n],
            &datagram_bytes(seq, n)[..],
            "datagram {seq} intact"
        );
        assert!(!seen[seq as usize], "datagram {seq} twice");
        seen[seq as usize] = true;
    }
    assert!(seen.iter().all(|&s| s));
}
