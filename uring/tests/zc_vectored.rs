//! Vectored sends on the safe layer (`ZcSender::send_vectored`): one message from several
//! parts, in order on the stream, each part with its own path (small parts copied, large
//! ones zero-copy), accepted whole or not at all, every part back exactly once.

mod zc_util;

use std::net::UdpSocket;

use uring::zc::{
    BufferPool, Config, PlainReason, Policy, SendErrorKind, SendPath, ZcBuffer, ZcSender,
};
use zc_util::*;

fn config() -> Config {
    Config::default()
        .policy(Policy::Always)
        .wait_timeout(Some(BOUND))
}

/// Header, payload, trailer of message `k`, starting at stream offset `at`.
fn message(at: u64, k: u64) -> Vec<ZcBuffer> {
    let header = 16 + (k as usize % 48);
    let payload = 16 * 1024 + (k as usize % 5) * 12_000;
    let trailer = 4;
    let mut out = Vec::new();
    let mut off = at;
    for len in [header, payload, trailer] {
        out.push(chunk(off, len).into());
        off += len as u64;
    }
    out
}

#[test]
fn small_parts_are_copied_and_large_ones_go_zero_copy_in_order() {
    let config = config();
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 64 * 1024);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut done = Vec::new();
    let mut at = 0u64;
    let mut lens = Vec::new();
    for k in 0..30u64 {
        let parts = message(at, k);
        for p in &parts {
            lens.push(p.len());
            at += p.len() as u64;
        }
        sender.send_vectored(&mut driver, parts).unwrap();
        done.extend(sender.completions(&mut driver).unwrap());
    }
    finish(&sender, &mut driver, &mut done);
    let stats = sender.stats(&driver).unwrap();
    drop(sender.close(&mut driver, BOUND));
    assert_eq!(
        rx.join().unwrap().seen(),
        (at, None),
        "the stream, byte for byte"
    );
    assert_each_once(&done, 90);
    for c in &done {
        let len = lens[c.seq as usize];
        assert_eq!(c.result, Ok(len), "{c:?}");
        if len < 4096 {
            assert_eq!(
                c.path,
                Some(SendPath::Plain(PlainReason::SmallPart)),
                "{c:?}"
            );
        } else {
            assert!(c.path.is_some_and(SendPath::is_zero_copy), "{c:?}");
        }
    }
    assert_eq!(stats.vectored_sends, 30);
    assert_eq!(stats.plain_small_part, 60, "{stats:?}");
    assert_eq!(stats.zero_copy, 30, "{stats:?}");
    assert_eq!(stats.buffers_returned, 90);
}

#[test]
fn a_pool_slot_payload_goes_fixed_and_the_threshold_is_the_callers() {
    // copy_parts_below 0: every part is left to the policy (Always: zero-copy).
    let config = config().copy_parts_below(0);
    let mut driver = config.driver().unwrap();
    let pool = BufferPool::new(&mut driver, 32 * 1024, 4).unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 64 * 1024);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut slot = pool.get().unwrap();
    let body = chunk(8, 32 * 1024);
    slot.copy_from_slice(&body);
    let parts: Vec<ZcBuffer> = vec![chunk(0, 8).into(), slot.into()];
    sender.send_vectored(&mut driver, parts).unwrap();
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    drop(sender.close(&mut driver, BOUND));
    assert_eq!(rx.join().unwrap().seen(), (8 + 32 * 1024, None));
    done.sort_by_key(|c| c.seq);
    let paths: Vec<_> = done.iter().map(|c| c.path).collect();
    assert_eq!(
        paths,
        [Some(SendPath::ZeroCopy), Some(SendPath::ZeroCopyFixed)]
    );
    drop(done);
    assert_eq!(pool.available(), 4);
}

#[test]
fn refusals_hand_every_part_back_in_order() {
    let config = config().budget_bytes(64 * 1024).max_buffers(8);
    let mut driver = config.driver().unwrap();

    // A datagram socket: its parts would be separate datagrams.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(udp.local_addr().unwrap()).unwrap();
    let dgram = ZcSender::new(&mut driver, udp, config.clone()).unwrap();
    let err = dgram
        .send_vectored(
            &mut driver,
            [ZcBuffer::from(vec![1u8; 3]), vec![2u8; 5].into()],
        )
        .unwrap_err();
    assert_eq!(err.kind, SendErrorKind::VectoredOnDatagram);
    let lens: Vec<usize> = err.parts.iter().map(ZcBuffer::len).collect();
    assert_eq!(lens, [3, 5]);

    let (client, server) = tcp_pair();
    small_sndbuf(&client, 4096);
    let (go, rx) = gated_receiver(server);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    // More than the whole budget, in bytes or in buffers: refused at once.
    let err = sender
        .try_send_vectored(
            &mut driver,
            [chunk(0, 40_000).into(), chunk(0, 40_000).into()],
        )
        .unwrap_err();
    assert_eq!(err.kind, SendErrorKind::TooLarge);
    assert_eq!(err.parts.len(), 2);
    let many: Vec<ZcBuffer> = (0..9).map(|i| ZcBuffer::from(vec![i as u8; 1])).collect();
    let err = sender.try_send_vectored(&mut driver, many).unwrap_err();
    assert_eq!(err.kind, SendErrorKind::TooLarge);
    assert!(err
        .parts
        .iter()
        .enumerate()
        .all(|(i, p)| p.as_slice() == [i as u8]));

    // The peer reads nothing yet: fill the budget, then a message that does not fit whole
    // is refused whole (none of its parts is accepted).
    sender.try_send(&mut driver, chunk(0, 48 * 1024)).unwrap();
    let before = sender.stats(&driver).unwrap().buffers_submitted;
    let parts: Vec<ZcBuffer> = vec![
        chunk(48 * 1024, 100).into(),
        chunk(48 * 1024 + 100, 20_000).into(),
    ];
    let err = sender.try_send_vectored(&mut driver, parts).unwrap_err();
    assert!(err.is_would_block(), "{err}");
    assert_eq!(err.parts.len(), 2);
    assert_eq!(err.parts[0].as_slice(), &chunk(48 * 1024, 100)[..]);
    assert_eq!(sender.stats(&driver).unwrap().buffers_submitted, before);
    // Once the peer reads, the blocking call waits for room and takes all of it.
    go.send(()).unwrap();
    sender.send_vectored(&mut driver, err.parts).unwrap();
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    drop(sender.close(&mut driver, BOUND));
    assert_eq!(rx.join().unwrap().seen(), (48 * 1024 + 20_100, None));
    assert_each_once(&done, 3);
}
