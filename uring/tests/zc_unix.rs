//! The zero-copy sender on Unix sockets, which refuse zero-copy (EOPNOTSUPP): the same API
//! falls back to plain send, resends the refused buffers in order, and says so.

mod zc_util;

use std::io::Read;
use std::os::unix::net::{UnixDatagram, UnixStream};

use uring::zc::{Config, FallbackReason, PlainReason, Policy, SendPath, ZcBuffer, ZcSender};
use zc_util::*;

#[test]
fn unix_stream_falls_back_to_plain_send_in_order() {
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .wait_timeout(Some(BOUND));
    let mut ring = config.ring().unwrap();
    let (tx, mut rx) = UnixStream::pair().unwrap();
    rx.set_read_timeout(Some(BOUND)).unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        rx.read_to_end(&mut all).unwrap();
        all
    });
    let mut sender = ZcSender::new(&ring, tx, config).unwrap();
    assert!(sender.is_stream());
    assert_eq!(
        sender.fallback(),
        None,
        "the probe has SEND_ZC: only the socket refuses"
    );
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
    let mut at = 0u64;
    let mut done = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let data = chunk(at, len);
        at += len as u64;
        let b: ZcBuffer = if i % 2 == 0 {
            data.into()
        } else {
            data.into_boxed_slice().into()
        };
        sender.send(&mut ring, b).unwrap();
        done.extend(sender.completions());
    }
    finish(&mut sender, &mut ring, &mut done);
    let stats = *sender.stats();
    assert_eq!(sender.fallback(), Some(FallbackReason::Unsupported));
    drop(sender);
    let all = reader.join().unwrap();
    assert_eq!(all.len() as u64, at);
    assert!(all.iter().enumerate().all(|(i, &b)| b == pattern(i as u64)));
    assert_each_once(&done, sizes.len() as u64);
    for c in &done {
        assert_eq!(c.result, Ok(sizes[c.seq as usize]));
        assert_eq!(c.path, Some(SendPath::Plain(PlainReason::Fallback)));
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
    let mut ring = config.ring().unwrap();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    rx.set_read_timeout(Some(BOUND)).unwrap();
    let mut sender = ZcSender::new(&ring, tx, config).unwrap();
    assert!(!sender.is_stream());
    for k in 0..8u8 {
        sender
            .send(&mut ring, vec![k; 100 + usize::from(k)])
            .unwrap();
    }
    let mut done = Vec::new();
    finish(&mut sender, &mut ring, &mut done);
    assert_each_once(&done, 8);
    assert!(done.iter().all(|c| c.is_ok()));
    assert_eq!(sender.fallback(), Some(FallbackReason::Unsupported));
    let mut seen = [false; 8];
    let mut buf = [0u8; 512];
    for _ in 0..8 {
        let n = rx.recv(&mut buf).unwrap();
        let k = buf[0];
        assert_eq!(n, 100 + usize::from(k));
        assert!(buf[..n].iter().all(|&b| b == k));
        seen[usize::from(k)] = true;
    }
    assert!(seen.iter().all(|&s| s));
}
