//! The zero-copy sender on TCP streams, against the live kernel: order and completeness
//! under back-pressure, every buffer kind, pool slots, policies, fallback, budget, peer
//! reset, and drop with notifications pending.

mod zc_util;

use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::Duration;

use rustix::io::Errno;
use uring::zc::{
    BufferError, BufferPool, Completion, Config, FallbackReason, PlainReason, Policy,
    SendErrorKind, SendPath, ZcBuffer, ZcError, ZcSender,
};
use zc_util::*;

/// Buffers of every kind and very different sizes, carrying the stream pattern from
/// `start` on; returns the buffers and the offset after them.
fn mixed_buffers(start: u64, sizes: &[usize]) -> (Vec<ZcBuffer>, u64) {
    let mut at = start;
    let mut out = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let data = chunk(at, len);
        let b: ZcBuffer = match i % 4 {
            0 => data.into(),
            1 => data.into_boxed_slice().into(),
            2 => ZcBuffer::Static(Box::leak(data.into_boxed_slice())),
            _ => {
                #[cfg(feature = "bytes")]
                {
                    bytes::Bytes::from(data).into()
                }
                #[cfg(not(feature = "bytes"))]
                {
                    data.into()
                }
            }
        };
        at += len as u64;
        out.push(b);
    }
    (out, at)
}

/// A receive buffer small enough to push back, large enough for a loopback segment.
const RCVBUF: usize = 128 * 1024;

fn config() -> Config {
    Config::default()
        .policy(Policy::Always)
        .wait_timeout(Some(BOUND))
}

#[test]
fn stream_stays_in_order_with_tiny_socket_buffers_and_large_sends() {
    let config = config().depth(8).budget_bytes(4 << 20);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    // A tiny send buffer and a slow reader: every large send fills the socket many times
    // over, so the kernel sends each one in many partial steps while later ones wait in
    // the chain. (The receive buffer stays larger than loopback's 64 KiB MSS: a window
    // below one MSS leaves TCP probing a zero window, slowly, which tests nothing.)
    small_sndbuf(&client, 4096);
    small_rcvbuf(&server, RCVBUF);
    let rx = checking_receiver(server, 1000);
    let sizes: Vec<usize> = [
        1,
        300_000,
        7,
        262_144,
        4096,
        65_000,
        333,
        1 << 20,
        2,
        99_999,
    ]
    .iter()
    .cycle()
    .take(40)
    .copied()
    .collect();
    let (buffers, total) = mixed_buffers(0, &sizes);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    assert!(sender.is_stream());
    let mut done = Vec::new();
    send_all(&mut sender, &mut ring, buffers, &mut done);
    finish(&mut sender, &mut ring, &mut done);
    let stats = *sender.stats();
    drop(sender); // closes the socket: EOF for the receiver
    let got = rx.join().unwrap();
    assert_eq!(
        got,
        Received {
            bytes: total,
            mismatch: None,
            error: false
        }
    );
    assert_each_once(&done, sizes.len() as u64);
    for c in &done {
        assert_eq!(c.result, Ok(sizes[c.seq as usize]), "{c:?}");
        assert!(c.path.is_some_and(SendPath::is_zero_copy));
    }
    assert_eq!(stats.buffers_submitted, 40);
    assert_eq!(stats.buffers_returned, 40);
    assert_eq!(stats.bytes_completed, total);
    assert_eq!(stats.bytes_returned, total);
    assert_eq!(stats.zero_copy, 40);
    assert!(stats.chains >= 5, "{stats:?}");
    assert_eq!(stats.errors, 0);
    assert!(stats.peak_bytes_in_flight <= 4 << 20);
    assert_eq!(stats.bytes_in_flight, 0);
}

#[test]
fn pool_slots_are_sent_with_send_zc_fixed() {
    let config = config().depth(4);
    let mut ring = config.ring().unwrap();
    let pool = BufferPool::new(&mut ring, 128 * 1024, 8).unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 64 * 1024);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    let mut done: Vec<Completion> = Vec::new();
    let (mut at, mut sent) = (0u64, 0usize);
    let end = deadline();
    while sent < 64 {
        assert!(
            std::time::Instant::now() < end,
            "pool slots never came back"
        );
        let Some(mut slot) = pool.get() else {
            // Every slot is with the sender: wait for one to come back (dropping the
            // completion returns the slot to the pool).
            sender.wait(&mut ring).unwrap();
            done.extend(sender.completions());
            done.retain(|c| c.buffer.as_slice().is_empty()); // keep nothing: slots go back
            continue;
        };
        let len = 1 + (sent * 7919) % slot.capacity();
        slot.set_len(len);
        slot.copy_from_slice(&chunk(at, len));
        at += len as u64;
        sender.send(&mut ring, slot).unwrap();
        sent += 1;
    }
    sender.wait_all(&mut ring, BOUND).unwrap();
    let stats = *sender.stats();
    let rest: Vec<Completion> = sender.completions().collect();
    assert!(rest
        .iter()
        .all(|c| c.path == Some(SendPath::ZeroCopyFixed) && c.is_ok()));
    drop(rest);
    drop(sender);
    assert_eq!(pool.available(), 8, "every slot is back in the pool");
    let got = rx.join().unwrap();
    assert_eq!(
        got,
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
    assert_eq!(stats.fixed_requests, stats.requests);
    assert!(stats.requests >= 64);
    assert_eq!(stats.zero_copy, 64);
    assert_eq!(stats.buffers_returned, 64);
}

#[test]
fn forced_fallback_uses_plain_send_through_the_same_api() {
    let config = config().force_fallback(true);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 8192);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    assert_eq!(sender.fallback(), Some(FallbackReason::Forced));
    let (buffers, total) = mixed_buffers(0, &[5, 70_000, 1, 300_000, 12]);
    let mut done = Vec::new();
    send_all(&mut sender, &mut ring, buffers, &mut done);
    finish(&mut sender, &mut ring, &mut done);
    let stats = *sender.stats();
    drop(sender);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: total,
            mismatch: None,
            error: false
        }
    );
    assert_each_once(&done, 5);
    assert!(done
        .iter()
        .all(|c| c.path == Some(SendPath::Plain(PlainReason::Fallback)) && c.is_ok()));
    assert_eq!(stats.fallback, 5);
    assert_eq!(stats.zc_requests, 0);
    assert_eq!(stats.notifications, 0);
    assert_eq!(stats.zero_copy, 0);
}

#[test]
fn policy_never_sends_plain() {
    let config = config().policy(Policy::Never);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 8192);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    let (buffers, total) = mixed_buffers(0, &[100_000; 6]);
    let mut done = Vec::new();
    send_all(&mut sender, &mut ring, buffers, &mut done);
    finish(&mut sender, &mut ring, &mut done);
    let stats = *sender.stats();
    drop(sender);
    assert_eq!(rx.join().unwrap().bytes, total);
    assert_eq!(stats.plain_policy, 6);
    assert_eq!(stats.zc_requests, 0);
    assert!(done
        .iter()
        .all(|c| c.path == Some(SendPath::Plain(PlainReason::Policy))));
}

#[test]
fn adaptive_sends_small_plain_and_stops_zero_copy_when_the_kernel_copies() {
    // On loopback the kernel copies every zero-copy send and says so (ZC_COPIED): the
    // adaptive policy must notice, switch to plain send, and probe again now and then.
    let config = config()
        .policy(Policy::Adaptive)
        .adaptive_min_size(16 * 1024)
        .adaptive_copied_limit(2)
        .adaptive_reprobe_every(16)
        .budget_bytes(256 * 1024) // so that notifications come back while it decides
        .depth(2);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 64 * 1024);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    let mut sizes = vec![1000usize; 10]; // below the threshold
    sizes.extend(std::iter::repeat(64 * 1024).take(150));
    let (buffers, total) = mixed_buffers(0, &sizes);
    let mut done = Vec::new();
    for b in buffers {
        sender.send(&mut ring, b).unwrap();
        // Let notifications come back as we go, as a long-running sender would see them.
        sender.poll(&mut ring).unwrap();
        done.extend(sender.completions());
    }
    finish(&mut sender, &mut ring, &mut done);
    let stats = *sender.stats();
    drop(sender);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: total,
            mismatch: None,
            error: false
        }
    );
    assert_each_once(&done, sizes.len() as u64);
    assert_eq!(stats.plain_small, 10, "{stats:?}");
    assert!(
        stats.copied >= 2,
        "loopback copies zero-copy sends: {stats:?}"
    );
    assert!(stats.adaptive_switches >= 1, "{stats:?}");
    assert!(stats.plain_kernel_copies > 0, "{stats:?}");
    assert!(stats.adaptive_probes >= 1, "{stats:?}");
    assert!(
        stats.plain_kernel_copies > stats.zero_copy,
        "mostly plain once the copying is seen: {stats:?}"
    );
    for c in done.iter().filter(|c| c.buffer.len() < 16 * 1024) {
        assert_eq!(c.path, Some(SendPath::Plain(PlainReason::BelowThreshold)));
    }
}

#[test]
fn budget_bounds_the_bytes_in_flight() {
    const BUDGET: usize = 256 * 1024;
    let config = config().budget_bytes(BUDGET).max_buffers(64).depth(4);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    small_sndbuf(&client, 4096);
    small_rcvbuf(&server, RCVBUF);
    let rx = checking_receiver(server, 512); // a slow reader
    let mut sender = ZcSender::new(&ring, client, config).unwrap();

    // Larger than the whole budget: refused at once, buffer intact.
    let big = vec![1u8; BUDGET + 1];
    let err = sender.try_send(&mut ring, big).unwrap_err();
    assert_eq!(err.kind, SendErrorKind::TooLarge);
    assert_eq!(err.buffer.len(), BUDGET + 1);

    let mut at = 0u64;
    let mut done = Vec::new();
    let mut would_block = 0;
    let end = deadline();
    for _ in 0..96 {
        let mut buffer: ZcBuffer = chunk(at, 32 * 1024).into();
        at += 32 * 1024;
        loop {
            assert!(std::time::Instant::now() < end, "no progress");
            match sender.try_send(&mut ring, buffer) {
                Ok(()) => break,
                Err(e) if e.is_would_block() => {
                    would_block += 1;
                    assert!(sender.bytes_in_flight() + 32 * 1024 > BUDGET);
                    buffer = e.buffer; // handed back untouched
                    sender.wait(&mut ring).unwrap();
                }
                Err(e) => panic!("{e}"),
            }
            assert!(sender.bytes_in_flight() <= BUDGET);
        }
        assert!(sender.bytes_in_flight() <= BUDGET);
        done.extend(sender.completions());
    }
    finish(&mut sender, &mut ring, &mut done);
    let stats = *sender.stats();
    drop(sender);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
    assert!(would_block > 0, "the slow reader must push back");
    assert_eq!(
        stats.would_block, would_block,
        "TooLarge is not a would-block"
    );
    assert!(stats.peak_bytes_in_flight <= BUDGET as u64, "{stats:?}");
    assert!(
        stats.peak_bytes_in_flight >= (BUDGET / 2) as u64,
        "{stats:?}"
    );
    assert!(stats.peak_buffers_in_flight <= 64);
    assert_each_once(&done, 96);
}

#[test]
fn blocking_send_waits_for_room() {
    const BUDGET: usize = 128 * 1024;
    let config = config().budget_bytes(BUDGET).depth(2);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let rx = checking_receiver(server, 700);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    let (buffers, total) = mixed_buffers(0, &[40_000; 50]);
    let mut done = Vec::new();
    for b in buffers {
        sender.send(&mut ring, b).unwrap();
        assert!(sender.bytes_in_flight() <= BUDGET);
        done.extend(sender.completions());
    }
    finish(&mut sender, &mut ring, &mut done);
    assert!(sender.stats().peak_bytes_in_flight <= BUDGET as u64);
    drop(sender);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: total,
            mismatch: None,
            error: false
        }
    );
    assert_each_once(&done, 50);
}

#[test]
fn peer_reset_mid_stream_returns_every_buffer_and_reports_once() {
    let config = config().budget_bytes(2 << 20).depth(4);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    // The peer reads 1 MiB, checks it, then resets the connection (SO_LINGER 0).
    let rx = std::thread::spawn(move || {
        use std::io::Read;
        let mut s = server;
        s.set_read_timeout(Some(BOUND)).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        s.read_exact(&mut buf).unwrap();
        let intact = buf.iter().enumerate().all(|(i, &b)| b == pattern(i as u64));
        rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO)).unwrap();
        drop(s);
        intact
    });
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    let mut done = Vec::new();
    let mut at = 0u64;
    let mut accepted = 0u64;
    let mut refused = None;
    for _ in 0..400 {
        let b: ZcBuffer = chunk(at, 64 * 1024).into();
        match sender.send(&mut ring, b) {
            Ok(()) => {
                accepted += 1;
                at += 64 * 1024;
            }
            Err(e) => {
                // Once the stream failed, new buffers come straight back.
                assert_eq!(e.buffer.len(), 64 * 1024);
                refused = Some(e.kind);
                break;
            }
        }
        done.extend(sender.completions());
    }
    finish(&mut sender, &mut ring, &mut done);
    assert!(rx.join().unwrap(), "the first MiB arrived intact");
    let errno = sender.error().expect("the reset is reported");
    assert!(
        matches!(errno, Errno::CONNRESET | Errno::PIPE),
        "unexpected error {errno:?}"
    );
    assert_eq!(refused, Some(SendErrorKind::Sender(ZcError::Broken(errno))));
    // Every accepted buffer came back exactly once; exactly one carries the error; all
    // before it were sent whole, all after it were not sent.
    assert_each_once(&done, accepted);
    done.sort_by_key(|c| c.seq);
    let failed: Vec<&Completion> = done
        .iter()
        .filter(|c| matches!(c.result, Err(BufferError::Failed { .. })))
        .collect();
    assert_eq!(failed.len(), 1, "the error is reported once");
    let f = failed[0].seq;
    assert_eq!(failed[0].result.unwrap_err().errno(), errno);
    for c in &done {
        if c.seq < f {
            assert_eq!(c.result, Ok(64 * 1024), "{c:?}");
        } else if c.seq > f {
            assert!(
                matches!(c.result, Err(BufferError::NotSent { cause, sent: 0 }) if cause == errno),
                "{c:?}"
            );
        }
    }
    let stats = *sender.stats();
    assert_eq!(stats.errors, 1);
    assert_eq!(stats.buffers_returned, accepted);
    assert_eq!(stats.not_sent, accepted - f - 1);
    assert_eq!(
        stats.zero_copy
            + stats.plain_policy
            + stats.plain_small
            + stats.plain_kernel_copies
            + stats.fallback
            + stats.not_sent,
        stats.buffers_returned,
        "each returned buffer is classified once: {stats:?}"
    );
    assert_eq!(sender.bytes_in_flight(), 0);
    // Further calls keep saying the stream is broken.
    let e = sender.try_send(&mut ring, vec![0u8; 3]).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::Sender(ZcError::Broken(errno)));
}

/// Fills fresh allocations of the sizes the sender used with 0xEE, so that memory freed
/// too early would be overwritten before the kernel sends it.
fn scribble(len: usize) {
    let mut keep = Vec::new();
    for _ in 0..64 {
        keep.push(vec![0xEEu8; len]);
    }
    drop(keep);
}

/// Starts a receiver that waits for `go` before reading anything.
fn gated_receiver(
    server: std::net::TcpStream,
) -> (mpsc::Sender<()>, std::thread::JoinHandle<Received>) {
    let (tx, rx) = mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        rx.recv_timeout(BOUND).unwrap();
        checking_receiver(server, 64 * 1024).join().unwrap()
    });
    (tx, h)
}

/// Keeps reaping `ring` (bounded) until `until` says stop.
fn drive_ring_until(ring: &mut uring::IoUring, mut until: impl FnMut() -> bool) {
    let end = deadline();
    let mut cqes = [uring::Cqe::default(); 64];
    while !until() {
        assert!(std::time::Instant::now() < end, "ring never settled");
        let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(20));
        let _ = ring.copy_cqes(&mut cqes, 0);
    }
}

/// A buffer carrying `len` pattern bytes from `at`, and a flag set when it is freed.
#[cfg(feature = "bytes")]
fn tracked(at: u64, len: usize) -> (ZcBuffer, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    struct Owner(Vec<u8>, Arc<AtomicBool>);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    impl Drop for Owner {
        fn drop(&mut self) {
            self.1.store(true, Ordering::SeqCst);
        }
    }
    let flag = Arc::new(AtomicBool::new(false));
    let b = bytes::Bytes::from_owner(Owner(chunk(at, len), flag.clone()));
    (b.into(), flag)
}

#[test]
fn dropping_the_sender_with_notifications_pending_leaks_instead_of_freeing() {
    let config = config().budget_bytes(32 << 20).max_buffers(1024).depth(8);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let (go, rx) = gated_receiver(server);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    const LEN: usize = 64 * 1024;
    const N: usize = 64;
    let mut at = 0u64;
    #[cfg(feature = "bytes")]
    let mut freed = Vec::new();
    for _ in 0..N {
        #[cfg(feature = "bytes")]
        let buffer = {
            let (b, flag) = tracked(at, LEN);
            freed.push(flag);
            b
        };
        #[cfg(not(feature = "bytes"))]
        let buffer: ZcBuffer = chunk(at, LEN).into();
        sender.try_send(&mut ring, buffer).unwrap();
        at += LEN as u64;
    }
    sender.poll(&mut ring).unwrap();
    // What came back before the drop is ours; keep it alive until the checks.
    let back: Vec<Completion> = sender.completions().collect();
    let stats = *sender.stats();
    assert_eq!((stats.continuations, stats.retries), (0, 0), "{stats:?}");
    // One request per buffer, in order: buffers 0..submitted went to the kernel.
    let submitted = stats.requests as usize;
    assert!(
        back.len() < submitted,
        "the receiver is not reading: some buffers must still be held ({stats:?})"
    );
    let confirmed = stats.bytes_completed;
    drop(sender); // leaks what the kernel holds; the socket stays open in the kernel
    #[cfg(feature = "bytes")]
    {
        use std::sync::atomic::Ordering;
        let returned: std::collections::HashSet<u64> = back.iter().map(|c| c.seq).collect();
        for (i, flag) in freed.iter().enumerate() {
            let was_freed = flag.load(Ordering::SeqCst);
            if returned.contains(&(i as u64)) {
                assert!(!was_freed, "buffer {i} is ours, alive");
            } else if i < submitted {
                // A buffer whose send completed in full, with its notification seen, may be
                // freed at the drop (the kernel is done with it) even if its chain had not
                // resolved yet; one whose send had not completed is certainly still held.
                // (Freeing one whose notification was still due would show up below: the
                // memory is scribbled over before the receiver reads the wire.)
                let completed_in_full = (i as u64 + 1) * LEN as u64 <= confirmed;
                assert!(
                    !was_freed || completed_in_full,
                    "buffer {i} was freed while the kernel held it"
                );
            } else {
                assert!(
                    was_freed,
                    "buffer {i} never reached the kernel: it is freed, not leaked"
                );
            }
        }
    }
    drop(back);
    scribble(LEN);
    go.send(()).unwrap();
    let got = std::sync::Arc::new(std::sync::Mutex::new(None));
    let got2 = got.clone();
    let waiter = std::thread::spawn(move || {
        let r = rx.join().unwrap();
        *got2.lock().unwrap() = Some(r);
    });
    // The leaked requests keep running on the ring; drive it until the receiver is done.
    drive_ring_until(&mut ring, || got.lock().unwrap().is_some());
    waiter.join().unwrap();
    let r = got.lock().unwrap().unwrap();
    assert_eq!(
        r.mismatch, None,
        "the bytes on the wire are the original ones"
    );
    assert!(
        r.bytes >= confirmed && r.bytes <= at,
        "{r:?} confirmed {confirmed} total {at}"
    );
}

#[test]
fn dropping_the_ring_first_leaves_the_data_intact() {
    let config = config().budget_bytes(32 << 20).depth(8);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let (go, rx) = gated_receiver(server);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    const LEN: usize = 64 * 1024;
    let mut at = 0u64;
    for _ in 0..64 {
        sender.try_send(&mut ring, chunk(at, LEN)).unwrap();
        at += LEN as u64;
    }
    sender.poll(&mut ring).unwrap();
    assert!(sender.buffers_in_flight() > 0);
    let confirmed = sender.stats().bytes_completed;
    // Another ring (made while the first still holds its fd number) is refused.
    let mut other = uring::IoUring::init(8, uring::sys::IoringSetupFlags::empty()).unwrap();
    let r = sender.try_send(&mut other, vec![1u8; 10]);
    assert_eq!(
        r.unwrap_err().kind,
        SendErrorKind::Sender(ZcError::WrongRing)
    );
    drop(ring); // the kernel tears down the requests; the sender can no longer see them
    drop(sender); // leaks whatever it never saw completed
    scribble(LEN);
    go.send(()).unwrap();
    let r = rx.join().unwrap();
    assert_eq!(r.mismatch, None);
    assert!(r.bytes >= confirmed && r.bytes <= at, "{r:?}");
}

#[test]
fn close_returns_every_buffer_and_the_socket() {
    let config = config();
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    let raw = client.as_raw_fd();
    let rx = checking_receiver(server, 65536);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    let (buffers, total) = mixed_buffers(0, &[10_000, 200_000, 3]);
    for b in buffers {
        sender.send(&mut ring, b).unwrap();
    }
    let closed = sender.close(&mut ring, BOUND);
    assert_eq!(closed.leaked, 0);
    assert_eq!(closed.error, None);
    assert_each_once(&closed.completions, 3);
    let socket = closed.socket.expect("the socket comes back");
    assert_eq!(socket.as_raw_fd(), raw);
    drop(socket);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: total,
            mismatch: None,
            error: false
        }
    );
}

#[test]
fn another_ring_is_refused() {
    let config = config();
    let mut ring = config.ring().unwrap();
    let mut other = config.ring().unwrap();
    let (client, _server) = tcp_pair();
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    let e = sender.send(&mut other, vec![1u8, 2, 3]).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::Sender(ZcError::WrongRing));
    assert_eq!(e.buffer.into_vec(), Some(vec![1, 2, 3]));
    assert_eq!(sender.poll(&mut other), Err(ZcError::WrongRing));
    assert_eq!(sender.stats().buffers_submitted, 0);
    // Empty buffers on a stream complete at once.
    sender.send(&mut ring, Vec::new()).unwrap();
    let c = sender.next_completion().unwrap();
    assert_eq!(c.result, Ok(0));
    assert_eq!(
        sender
            .send_to(&mut ring, vec![1u8], "127.0.0.1:9".parse().unwrap())
            .unwrap_err()
            .kind,
        SendErrorKind::AddressOnStream
    );
}

#[test]
fn a_long_queue_drains_without_stalling() {
    // Many short buffers pile up behind a stalled socket; once the reader starts, chains
    // complete during their own submission, one after another. Draining must keep
    // submitting until the queue is empty, never wait with work queued and nothing in
    // flight (a regression: a cap on submit rounds left the queue idle). Plain sends make
    // it certain: no notification is left to wake a waiter.
    let config = config().policy(Policy::Never).depth(1).max_buffers(8192);
    let mut ring = config.ring().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let (go, rx) = gated_receiver(server);
    let mut sender = ZcSender::new(&ring, client, config).unwrap();
    let mut at = 0u64;
    for i in 0..6000usize {
        let len = if i % 100 == 0 { 256 * 1024 } else { 100 };
        sender.try_send(&mut ring, chunk(at, len)).unwrap();
        at += len as u64;
    }
    assert!(sender.buffers_in_flight() > 1000, "a long queue built up");
    go.send(()).unwrap();
    let mut done = Vec::new();
    finish(&mut sender, &mut ring, &mut done);
    assert_each_once(&done, 6000);
    drop(sender);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
}
