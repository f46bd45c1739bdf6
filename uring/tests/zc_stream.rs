//! The zero-copy sender on TCP streams, against the live kernel: order and completeness
//! under back-pressure, every buffer kind, pool slots, policies, fallback, budget, peer
//! reset, and drop with notifications pending.

mod zc_util;

use std::os::fd::AsRawFd;
use std::time::Duration;

use rustix::io::Errno;
use uring::zc::{
    BufferError, BufferPool, Completion, Config, Driver, FallbackReason, PlainReason, Policy,
    SendErrorKind, SendPath, ZcBuffer, ZcError, ZcSender,
};
use zc_util::*;

/// Closes `sender`, every buffer back first, and drops its socket: EOF for the peer.
/// (Dropping a handle only closes it at the driver's next call, and the driver's file
/// table keeps the socket open until then.) Completions reaped meanwhile go to `done`.
fn close_stream(sender: ZcSender, driver: &mut Driver, done: &mut Vec<Completion>) {
    let closed = sender.close(driver, BOUND);
    assert_eq!(closed.error, None, "the close drained in time");
    assert_eq!(
        closed.pending, 0,
        "the kernel holds nothing after the drain"
    );
    assert!(closed.socket.is_some(), "the socket comes back");
    done.extend(closed.completions);
    assert_eq!(driver.sender_count(), 0, "the driver let the sender go");
}

/// Streams buffers of `sizes` to a checking receiver, polling after each send as a
/// long-running sender would (notifications come back as it goes), and checks that the
/// receiver got every byte. Returns the completions and what `inspect` read from the
/// sender once every buffer was back, before it closed.
fn stream_polling<T>(
    config: Config,
    sizes: &[usize],
    inspect: impl FnOnce(&ZcSender, &Driver) -> T,
) -> (Vec<Completion>, T) {
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 64 * 1024);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let (buffers, total) = mixed_buffers(0, sizes);
    let mut done = Vec::new();
    for b in buffers {
        sender.send(&mut driver, b).unwrap();
        sender.poll(&mut driver).unwrap();
        done.extend(sender.completions(&mut driver).unwrap());
    }
    finish(&sender, &mut driver, &mut done);
    let seen = inspect(&sender, &driver);
    close_stream(sender, &mut driver, &mut done);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: total,
            mismatch: None,
            error: false
        }
    );
    (done, seen)
}

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
    let mut driver = config.driver().unwrap();
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
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    assert!(sender.is_stream());
    let mut done = Vec::new();
    send_all(&sender, &mut driver, buffers, &mut done);
    finish(&sender, &mut driver, &mut done);
    let stats = sender.stats(&driver).unwrap();
    close_stream(sender, &mut driver, &mut done); // EOF for the receiver
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
    assert!(stats.chains + stats.gathered >= 5, "{stats:?}");
    assert_eq!(stats.errors, 0);
    assert!(stats.peak_bytes_in_flight <= 4 << 20);
    assert_eq!(stats.bytes_in_flight, 0);
}

/// Sends 64 pool slots of `pool` (8 slots) through a sender of `driver`, reusing each
/// slot as it comes back; checks every completion with `check` and the bytes at the peer.
/// Returns the sender's stats.
fn send_pool_slots(
    driver: &mut Driver,
    pool: &BufferPool,
    config: Config,
    check: impl Fn(&Completion),
) -> uring::zc::ZcStats {
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 64 * 1024);
    let sender = ZcSender::new(driver, client, config).unwrap();
    let mut seen = vec![false; 64];
    let mut take = |c: Completion| {
        check(&c);
        assert!(!seen[c.seq as usize], "seq {} returned twice", c.seq);
        seen[c.seq as usize] = true;
        // Dropped here: the slot goes back to the pool.
    };
    let (mut at, mut sent) = (0u64, 0usize);
    let end = deadline();
    for round in 0.. {
        if sent == 64 {
            break;
        }
        assert!(
            std::time::Instant::now() < end && round < 100_000,
            "pool slots never came back"
        );
        let Some(mut slot) = pool.get() else {
            // Every slot is with the sender: wait for one to come back.
            sender.wait(driver).unwrap();
            sender.completions(driver).unwrap().for_each(&mut take);
            continue;
        };
        let len = 1 + (sent * 7919) % slot.capacity();
        slot.set_len(len);
        slot.copy_from_slice(&chunk(at, len));
        at += len as u64;
        sender.send(driver, slot).unwrap();
        sent += 1;
        sender.completions(driver).unwrap().for_each(&mut take);
    }
    sender.wait_all(driver, BOUND).unwrap();
    let stats = sender.stats(driver).unwrap();
    sender.completions(driver).unwrap().for_each(&mut take);
    let mut rest = Vec::new();
    close_stream(sender, driver, &mut rest);
    rest.into_iter().for_each(&mut take);
    assert!(seen.iter().all(|&s| s), "every slot came back: {seen:?}");
    assert_eq!(pool.available(), 8, "every slot is back in the pool");
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
    assert_eq!(stats.buffers_returned, 64);
    assert_eq!(stats.bytes_completed, at);
    assert_eq!(stats.zero_copy, 64);
    assert!(stats.requests >= 64);
    stats
}

#[test]
fn pool_slots_are_sent_with_send_zc_fixed() {
    let config = config().depth(4);
    let mut driver = config.driver().unwrap();
    let pool = BufferPool::new(&mut driver, 128 * 1024, 8).unwrap();
    assert_eq!(pool.driver_id(), driver.id());
    assert!(driver.pinned_bytes() >= 8 * 128 * 1024);
    let stats = send_pool_slots(&mut driver, &pool, config, |c| {
        assert_eq!(c.path, Some(SendPath::ZeroCopyFixed), "{c:?}");
        assert!(c.is_ok(), "{c:?}");
    });
    assert_eq!(stats.fixed_requests, stats.requests, "{stats:?}");
}

#[test]
fn slots_of_a_second_pool_go_fixed_from_their_own_table_entry() {
    // Two pools of one driver are two registered buffers: a slot of the second names the
    // second's table entry (a request naming the first's would be refused, EFAULT, its
    // iovec lying outside that buffer), and the peer gets the second pool's bytes.
    let config = config().depth(4);
    let mut driver = config.driver().unwrap();
    let first = BufferPool::new(&mut driver, 64 * 1024, 8).unwrap();
    let second = BufferPool::new(&mut driver, 128 * 1024, 8).unwrap();
    let stats = send_pool_slots(&mut driver, &second, config.clone(), |c| {
        assert_eq!(c.path, Some(SendPath::ZeroCopyFixed), "{c:?}");
        assert!(c.is_ok(), "{c:?}");
    });
    assert_eq!(stats.fixed_requests, stats.requests, "{stats:?}");
    // And the first pool's, after them, from the first entry.
    let stats = send_pool_slots(&mut driver, &first, config, |c| {
        assert_eq!(c.path, Some(SendPath::ZeroCopyFixed), "{c:?}");
        assert!(c.is_ok(), "{c:?}");
    });
    assert_eq!(stats.fixed_requests, stats.requests, "{stats:?}");
}

#[test]
fn a_slot_of_another_drivers_pool_goes_send_zc() {
    // The slot's registration is in the other driver's table: through this driver it is
    // ordinary memory, sent with send_zc (never send_zc_fixed naming a foreign index).
    let config = config().depth(4);
    let mut driver = config.driver().unwrap();
    let mut other = config.driver().unwrap();
    let pool = BufferPool::new(&mut other, 128 * 1024, 8).unwrap();
    assert_eq!(pool.driver_id(), other.id());
    assert_ne!(pool.driver_id(), driver.id());
    let stats = send_pool_slots(&mut driver, &pool, config, |c| {
        assert_eq!(c.path, Some(SendPath::ZeroCopy), "{c:?}");
        assert!(c.is_ok(), "{c:?}");
    });
    assert_eq!(stats.fixed_requests, 0, "{stats:?}");
    assert_eq!(stats.zc_requests, stats.requests, "{stats:?}");
    drop(pool);
    drop(other);
}

#[test]
fn forced_fallback_uses_plain_send_through_the_same_api() {
    let config = config().force_fallback(true);
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 8192);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    assert_eq!(
        sender.fallback(&driver).unwrap(),
        Some(FallbackReason::Forced)
    );
    let (buffers, total) = mixed_buffers(0, &[5, 70_000, 1, 300_000, 12]);
    let mut done = Vec::new();
    send_all(&sender, &mut driver, buffers, &mut done);
    finish(&sender, &mut driver, &mut done);
    let stats = sender.stats(&driver).unwrap();
    close_stream(sender, &mut driver, &mut done);
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
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    let rx = checking_receiver(server, 8192);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let (buffers, total) = mixed_buffers(0, &[100_000; 6]);
    let mut done = Vec::new();
    send_all(&sender, &mut driver, buffers, &mut done);
    finish(&sender, &mut driver, &mut done);
    let stats = sender.stats(&driver).unwrap();
    close_stream(sender, &mut driver, &mut done);
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
    let mut sizes = vec![1000usize; 10]; // below the threshold
    sizes.extend(std::iter::repeat(64 * 1024).take(150));
    let (done, stats) = stream_polling(config, &sizes, |sender, driver| {
        sender.stats(driver).unwrap()
    });
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
fn adaptive_ends_plain_at_every_size_on_loopback_and_shows_it() {
    // The default adaptive policy has no size threshold: it measures. On loopback the
    // kernel copies (ZC_COPIED), so every size class must end up plain, and
    // `adaptive_classes` must say so, class by class.
    let config = config()
        .policy(Policy::Adaptive)
        .budget_bytes(1 << 20)
        .depth(4);
    assert_eq!(config.adaptive_min_size, 0, "no threshold by default");
    let kinds = [1400usize, 4096, 16384, 65536, 262144];
    let sizes: Vec<usize> = (0..30).flat_map(|_| kinds).collect();
    let (done, (stats, classes)) = stream_polling(config, &sizes, |sender, driver| {
        (
            sender.stats(driver).unwrap(),
            sender.adaptive_classes(driver).unwrap(),
        )
    });
    assert_each_once(&done, sizes.len() as u64);
    assert_eq!(classes.len(), kinds.len(), "{classes:?}");
    for (class, len) in classes.iter().zip(kinds) {
        assert!(class.min_len <= len && len <= class.max_len, "{class:?}");
        assert_eq!(
            class.path,
            SendPath::Plain(PlainReason::KernelCopies),
            "plain at {len} B: {class:?}"
        );
        assert!(!class.learning, "the kernel's report decides: {class:?}");
    }
    assert!(stats.copied >= 1, "{stats:?}");
    assert_eq!(stats.plain_small, 0, "{stats:?}");
    assert!(
        stats.plain_kernel_copies > 4 * stats.zero_copy,
        "plain once the copying is seen: {stats:?}"
    );
    // After the switch, only probes (after 256 buffers, then ever fewer) go zero-copy:
    // the last buffer of every size went plain.
    for len in kinds {
        let last = done
            .iter()
            .filter(|c| c.buffer.len() == len)
            .max_by_key(|c| c.seq);
        assert_eq!(
            last.and_then(|c| c.path),
            Some(SendPath::Plain(PlainReason::KernelCopies)),
            "{len}"
        );
    }
}

#[test]
fn budget_bounds_the_bytes_in_flight() {
    const BUDGET: usize = 256 * 1024;
    let config = config().budget_bytes(BUDGET).max_buffers(64).depth(4);
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    small_sndbuf(&client, 4096);
    small_rcvbuf(&server, RCVBUF);
    // The peer reads nothing until the first send is refused for the budget: the
    // push-back is then certain, not a race with a slow reader.
    let (go, rx) = gated_receiver(server);
    let mut go = Some(go);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();

    // Larger than the whole budget: refused at once, buffer intact.
    let big = vec![1u8; BUDGET + 1];
    let err = sender.try_send(&mut driver, big).unwrap_err();
    assert_eq!(err.kind, SendErrorKind::TooLarge);
    assert_eq!(err.buffer.len(), BUDGET + 1);

    let mut at = 0u64;
    let mut done = Vec::new();
    let mut would_block = 0;
    let end = deadline();
    for _ in 0..96 {
        let mut buffer: ZcBuffer = chunk(at, 32 * 1024).into();
        at += 32 * 1024;
        for attempt in 0.. {
            assert!(
                std::time::Instant::now() < end && attempt < 100_000,
                "no progress"
            );
            match sender.try_send(&mut driver, buffer) {
                Ok(()) => break,
                Err(e) if e.is_would_block() => {
                    would_block += 1;
                    assert!(sender.bytes_in_flight(&driver).unwrap() + 32 * 1024 > BUDGET);
                    buffer = e.buffer; // handed back untouched
                    if let Some(go) = go.take() {
                        go.send(()).unwrap();
                    }
                    sender.wait(&mut driver).unwrap();
                }
                Err(e) => panic!("{e}"),
            }
            assert!(sender.bytes_in_flight(&driver).unwrap() <= BUDGET);
        }
        assert!(sender.bytes_in_flight(&driver).unwrap() <= BUDGET);
        done.extend(sender.completions(&mut driver).unwrap());
    }
    finish(&sender, &mut driver, &mut done);
    let stats = sender.stats(&driver).unwrap();
    close_stream(sender, &mut driver, &mut done);
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
fn the_automatic_budget_is_resolved_and_holds() {
    // Budget 0: resolved when the sender is made, from the locked-memory limit.
    let config = config().depth(4);
    assert_eq!(config.budget_bytes, 0);
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let rx = checking_receiver(server, 4096);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let budget = sender.config(&driver).unwrap().budget_bytes;
    assert_eq!(
        budget,
        Config::auto_budget(driver.memlock(), driver.pinned_bytes())
    );
    assert!((64 << 10..=16 << 20).contains(&budget), "{budget}");
    // One byte over the whole budget is refused, the buffer handed back.
    let e = sender
        .try_send(&mut driver, vec![0u8; budget + 1])
        .unwrap_err();
    assert_eq!(e.kind, SendErrorKind::TooLarge);
    assert_eq!(e.buffer.len(), budget + 1);
    // Twice the budget in buffers of an eighth of it: the blocking send may have to wait.
    let len = budget / 8;
    let mut done = Vec::new();
    let mut at = 0u64;
    for _ in 0..16 {
        sender.send(&mut driver, chunk(at, len)).unwrap();
        at += len as u64;
        assert!(sender.bytes_in_flight(&driver).unwrap() <= budget);
        done.extend(sender.completions(&mut driver).unwrap());
    }
    finish(&sender, &mut driver, &mut done);
    let stats = sender.stats(&driver).unwrap();
    close_stream(sender, &mut driver, &mut done);
    assert_each_once(&done, 16);
    assert!(done.iter().all(|c| c.result == Ok(len)));
    assert!(stats.peak_bytes_in_flight <= budget as u64, "{stats:?}");
    assert_eq!(stats.bytes_completed, at);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
}

#[test]
fn blocking_send_waits_for_room() {
    const BUDGET: usize = 128 * 1024;
    let config = config().budget_bytes(BUDGET).depth(2);
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let rx = checking_receiver(server, 700);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let (buffers, total) = mixed_buffers(0, &[40_000; 50]);
    let mut done = Vec::new();
    for b in buffers {
        sender.send(&mut driver, b).unwrap();
        assert!(sender.bytes_in_flight(&driver).unwrap() <= BUDGET);
        done.extend(sender.completions(&mut driver).unwrap());
    }
    finish(&sender, &mut driver, &mut done);
    assert!(sender.stats(&driver).unwrap().peak_bytes_in_flight <= BUDGET as u64);
    close_stream(sender, &mut driver, &mut done);
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
    let mut driver = config.driver().unwrap();
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
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut done = Vec::new();
    let mut at = 0u64;
    let mut accepted = 0u64;
    let mut refused = None;
    for _ in 0..400 {
        let b: ZcBuffer = chunk(at, 64 * 1024).into();
        match sender.send(&mut driver, b) {
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
        done.extend(sender.completions(&mut driver).unwrap());
    }
    finish(&sender, &mut driver, &mut done);
    assert!(rx.join().unwrap(), "the first MiB arrived intact");
    let errno = sender
        .error(&driver)
        .unwrap()
        .expect("the reset is reported");
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
    let stats = sender.stats(&driver).unwrap();
    assert_eq!(stats.errors, 1);
    assert_eq!(stats.buffers_returned, accepted);
    assert_eq!(stats.not_sent, accepted - f - 1);
    assert_eq!(
        stats.zero_copy
            + stats.plain_policy
            + stats.plain_small
            + stats.plain_kernel_copies
            + stats.plain_measured
            + stats.fallback
            + stats.plain_pin_limit
            + stats.not_sent,
        stats.buffers_returned,
        "each returned buffer is classified once: {stats:?}"
    );
    assert_eq!(sender.bytes_in_flight(&driver).unwrap(), 0);
    // Further calls keep saying the stream is broken.
    let e = sender.try_send(&mut driver, vec![0u8; 3]).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::Sender(ZcError::Broken(errno)));
    assert_eq!(e.buffer.into_vec(), Some(vec![0u8; 3]));
    let closed = sender.close(&mut driver, BOUND);
    assert_eq!((closed.pending, closed.error), (0, None));
    assert!(closed.completions.is_empty(), "all were taken before");
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

/// `N` tracked buffers of `LEN` bytes (freed flags with feature `bytes`), try-sent to a
/// peer that does not read yet; returns the freed flags.
fn send_to_a_stalled_peer(
    sender: &ZcSender,
    driver: &mut Driver,
    n: usize,
    len: usize,
) -> Vec<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    #[allow(unused_mut)]
    let mut freed = Vec::new();
    let mut at = 0u64;
    for _ in 0..n {
        #[cfg(feature = "bytes")]
        let buffer = {
            let (b, flag) = tracked(at, len);
            freed.push(flag);
            b
        };
        #[cfg(not(feature = "bytes"))]
        let buffer: ZcBuffer = chunk(at, len).into();
        sender.try_send(driver, buffer).unwrap();
        at += len as u64;
    }
    sender.poll(driver).unwrap();
    freed
}

/// Whether buffer `i` of `LEN`-byte buffers was freed (always false without `bytes`).
fn was_freed(freed: &[std::sync::Arc<std::sync::atomic::AtomicBool>], i: usize) -> bool {
    freed
        .get(i)
        .is_some_and(|f| f.load(std::sync::atomic::Ordering::SeqCst))
}

const LEN: usize = 64 * 1024;
const N: usize = 64;

#[test]
fn dropping_the_sender_with_notifications_pending_frees_only_once_the_kernel_is_done() {
    let config = config().budget_bytes(32 << 20).max_buffers(1024).depth(8);
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let (go, rx) = gated_receiver(server);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let freed = send_to_a_stalled_peer(&sender, &mut driver, N, LEN);
    let at = (N * LEN) as u64;
    // What came back before the drop is ours; keep it alive until the checks.
    let back: Vec<Completion> = sender.completions(&mut driver).unwrap().collect();
    let stats = sender.stats(&driver).unwrap();
    assert_eq!((stats.continuations, stats.retries), (0, 0), "{stats:?}");
    // One request per buffer, in order: buffers 0..submitted went to the kernel.
    let submitted = stats.requests as usize;
    assert!(
        back.len() < submitted,
        "the receiver is not reading: some buffers must still be held ({stats:?})"
    );
    let confirmed = stats.bytes_completed;
    drop(sender);
    // The driver closes the dropped handle at its next call: the queued buffers are not
    // sent, and what the kernel holds stays with the driver until the kernel is done.
    driver.poll().unwrap();
    assert_eq!(driver.sender_count(), 1, "the kernel still holds buffers");
    let returned: std::collections::HashSet<u64> = back.iter().map(|c| c.seq).collect();
    for i in 0..freed.len() {
        if returned.contains(&(i as u64)) {
            assert!(!was_freed(&freed, i), "buffer {i} is ours, alive");
        } else if i < submitted {
            // A buffer whose send completed in full, with its notification seen, may be
            // freed (the kernel is done with it); one whose send had not completed is
            // certainly still held. (Freeing one whose notification was still due would
            // show up below: the memory is scribbled over before the peer reads.)
            let completed_in_full = (i as u64 + 1) * LEN as u64 <= confirmed;
            assert!(
                !was_freed(&freed, i) || completed_in_full,
                "buffer {i} was freed while the kernel held it"
            );
        }
    }
    drop(back);
    scribble(LEN);
    go.send(()).unwrap();
    // The peer reads; the held requests finish; the driver frees their buffers, retires
    // the sender and clears its file slot, which closes the socket: EOF for the peer.
    drive_until(&mut driver, "the driver never settled", |d| {
        d.sender_count() == 0
    });
    let r = rx.join().unwrap();
    assert_eq!(
        r.mismatch, None,
        "the bytes on the wire are the original ones"
    );
    assert!(!r.error, "{r:?}");
    assert!(
        r.bytes >= confirmed && r.bytes <= at,
        "{r:?} confirmed {confirmed} total {at}"
    );
    #[cfg(feature = "bytes")]
    for i in 0..freed.len() {
        assert!(
            was_freed(&freed, i),
            "buffer {i} was leaked: the driver frees what the kernel let go"
        );
    }
}

#[test]
fn dropping_the_driver_first_leaves_the_data_intact() {
    let config = config().budget_bytes(32 << 20).depth(8);
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let (go, rx) = gated_receiver(server);
    let sender = ZcSender::new(&mut driver, client, config.clone()).unwrap();
    let freed = send_to_a_stalled_peer(&sender, &mut driver, N, LEN);
    let at = (N * LEN) as u64;
    assert!(sender.buffers_in_flight(&driver).unwrap() > 0);
    let back: Vec<Completion> = sender.completions(&mut driver).unwrap().collect();
    let stats = sender.stats(&driver).unwrap();
    let submitted = stats.requests as usize;
    let confirmed = stats.bytes_completed;
    // Another driver is refused, and the buffer comes straight back.
    let mut other = config.driver().unwrap();
    let r = sender.try_send(&mut other, vec![1u8; 10]);
    let e = r.unwrap_err();
    assert_eq!(e.kind, SendErrorKind::Sender(ZcError::WrongDriver));
    assert_eq!(e.buffer.into_vec(), Some(vec![1u8; 10]));
    assert_eq!(sender.stats(&other).unwrap_err(), ZcError::WrongDriver);
    // The kernel tears down the requests; the driver can no longer see them: it leaks
    // exactly what the kernel may hold and frees the rest.
    drop(driver);
    let returned: std::collections::HashSet<u64> = back.iter().map(|c| c.seq).collect();
    for i in 0..freed.len() {
        if returned.contains(&(i as u64)) {
            assert!(!was_freed(&freed, i), "buffer {i} is ours, alive");
        } else if i < submitted {
            let completed_in_full = (i as u64 + 1) * LEN as u64 <= confirmed;
            assert!(
                !was_freed(&freed, i) || completed_in_full,
                "buffer {i} was freed while the kernel held it"
            );
        } else {
            #[cfg(feature = "bytes")]
            assert!(
                was_freed(&freed, i),
                "buffer {i} never reached the kernel: it is freed, not leaked"
            );
        }
    }
    // The handle outlives its driver harmlessly.
    assert_eq!(sender.poll(&mut other), Err(ZcError::WrongDriver));
    drop(sender);
    drop(back);
    scribble(LEN);
    go.send(()).unwrap();
    let r = rx.join().unwrap();
    assert_eq!(r.mismatch, None);
    assert!(r.bytes >= confirmed && r.bytes <= at, "{r:?}");
}

#[test]
fn close_returns_every_buffer_and_the_socket() {
    let config = config();
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    let raw = client.as_raw_fd();
    let rx = checking_receiver(server, 65536);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let (buffers, total) = mixed_buffers(0, &[10_000, 200_000, 3]);
    for b in buffers {
        sender.send(&mut driver, b).unwrap();
    }
    let closed = sender.close(&mut driver, BOUND);
    assert_eq!(closed.pending, 0);
    assert_eq!(closed.error, None);
    assert_each_once(&closed.completions, 3);
    assert!(closed.completions.iter().all(Completion::is_ok));
    let socket = closed.socket.expect("the socket comes back");
    assert_eq!(socket.as_raw_fd(), raw);
    assert_eq!(driver.sender_count(), 0);
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
fn close_with_the_kernel_holding_buffers_leaves_them_to_the_driver() {
    let config = config().budget_bytes(32 << 20).depth(8);
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let (go, rx) = gated_receiver(server);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let freed = send_to_a_stalled_peer(&sender, &mut driver, N, LEN);
    let confirmed = sender.stats(&driver).unwrap().bytes_completed;
    // No time to drain: the peer reads nothing yet.
    let closed = sender.close(&mut driver, Duration::ZERO);
    assert_eq!(closed.error, Some(ZcError::TimedOut));
    assert!(closed.pending > 0, "the kernel holds the chain in flight");
    let socket = closed.socket.expect("the socket comes back");
    let back: std::collections::HashSet<u64> = closed.completions.iter().map(|c| c.seq).collect();
    assert!(back.iter().all(|&s| !was_freed(&freed, s as usize)));
    drop(closed.completions);
    // Our fd goes; the driver's file slot keeps the socket open for the held requests.
    drop(socket);
    assert_eq!(driver.sender_count(), 1);
    scribble(LEN);
    go.send(()).unwrap();
    drive_until(&mut driver, "the driver never settled", |d| {
        d.sender_count() == 0
    });
    let r = rx.join().unwrap();
    assert_eq!(r.mismatch, None, "{r:?}");
    assert!(!r.error, "EOF once the driver let the socket go: {r:?}");
    assert!(r.bytes >= confirmed && r.bytes <= (N * LEN) as u64, "{r:?}");
    #[cfg(feature = "bytes")]
    for i in 0..freed.len() {
        assert!(was_freed(&freed, i), "buffer {i} was leaked");
    }
}

#[test]
fn a_timed_out_close_accounts_for_every_buffer() {
    let config = config().budget_bytes(32 << 20).depth(8);
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let (go, rx) = gated_receiver(server);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    send_to_a_stalled_peer(&sender, &mut driver, N, LEN);
    let queued = N as u64 - sender.stats(&driver).unwrap().requests;
    assert!(queued > 0, "some buffers never reached the kernel");
    let closed = sender.close(&mut driver, Duration::ZERO);
    assert_eq!(closed.error, Some(ZcError::TimedOut));
    // Each accepted buffer is back (a queued one as NotSent) or still held by the kernel.
    let not_sent = closed
        .completions
        .iter()
        .filter(|c| matches!(c.result, Err(BufferError::NotSent { .. })))
        .count() as u64;
    assert_eq!(
        closed.completions.len() + closed.pending,
        N,
        "{} back ({not_sent} NotSent), {} pending, {queued} never submitted",
        closed.completions.len(),
        closed.pending
    );
    drop(closed);
    go.send(()).unwrap();
    drive_until(&mut driver, "the driver never settled", |d| {
        d.sender_count() == 0
    });
    assert_eq!(rx.join().unwrap().mismatch, None);
}

#[test]
fn another_driver_is_refused() {
    let config = config();
    let mut driver = config.driver().unwrap();
    let mut other = config.driver().unwrap();
    assert_ne!(driver.id(), other.id());
    let (client, _server) = tcp_pair();
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let e = sender.send(&mut other, vec![1u8, 2, 3]).unwrap_err();
    assert_eq!(e.kind, SendErrorKind::Sender(ZcError::WrongDriver));
    assert_eq!(e.buffer.into_vec(), Some(vec![1, 2, 3]));
    assert_eq!(sender.poll(&mut other), Err(ZcError::WrongDriver));
    assert_eq!(sender.wait(&mut other), Err(ZcError::WrongDriver));
    assert_eq!(
        sender.completions(&mut other).map(|d| d.count()),
        Err(ZcError::WrongDriver)
    );
    assert_eq!(sender.stats(&other), Err(ZcError::WrongDriver));
    assert_eq!(sender.stats(&driver).unwrap().buffers_submitted, 0);
    assert_eq!(other.sender_count(), 0);
    // Empty buffers on a stream complete at once.
    sender.send(&mut driver, Vec::new()).unwrap();
    let c = sender.next_completion(&mut driver).unwrap().unwrap();
    assert_eq!(c.result, Ok(0));
    assert_eq!(c.path, None, "no request for it");
    assert_eq!(
        sender
            .send_to(&mut driver, vec![1u8], "127.0.0.1:9".parse().unwrap())
            .unwrap_err()
            .kind,
        SendErrorKind::AddressOnStream
    );
    drop(sender);
    driver.poll().unwrap();
    assert_eq!(driver.sender_count(), 0, "a dropped handle is closed");
}

#[test]
fn closing_through_another_driver_touches_neither() {
    let config = config();
    let mut d1 = config.driver().unwrap();
    let mut d2 = config.driver().unwrap();
    let (c1, s1) = tcp_pair();
    let (c2, s2) = tcp_pair();
    let (rx1, rx2) = (checking_receiver(s1, 65536), checking_receiver(s2, 65536));
    let a = ZcSender::new(&mut d1, c1, config.clone()).unwrap();
    let b = ZcSender::new(&mut d2, c2, config).unwrap();
    // Close `a` through the wrong driver: refused, and nothing of `d2` is touched.
    let closed = a.close(&mut d2, BOUND);
    assert_eq!(closed.error, Some(ZcError::WrongDriver));
    assert!(
        closed.socket.is_none(),
        "the socket of d2's sender was handed out"
    );
    assert_eq!(d2.sender_count(), 1);
    // `b` still works.
    b.send(&mut d2, chunk(0, 1000)).unwrap();
    let mut done = Vec::new();
    finish(&b, &mut d2, &mut done);
    assert_each_once(&done, 1);
    assert_eq!(done[0].result, Ok(1000));
    close_stream(b, &mut d2, &mut done);
    // `a`'s handle is gone: its own driver must close it (EOF for its peer).
    d1.poll().unwrap();
    assert_eq!(d1.sender_count(), 0, "d1 never closed the sender");
    assert_eq!(rx1.join().unwrap().bytes, 0);
    assert_eq!(rx2.join().unwrap().bytes, 1000);
}

#[test]
fn a_long_queue_drains_without_stalling() {
    // Many short buffers pile up behind a stalled socket; once the reader starts, chains
    // complete during their own submission, one after another. Draining must keep
    // submitting until the queue is empty, never wait with work queued and nothing in
    // flight (a regression: a cap on submit rounds left the queue idle). Plain sends make
    // it certain: no notification is left to wake a waiter.
    // An explicit budget for the ~16 MiB queued: plain sends pin nothing, so it need not
    // fit a memlock limit.
    let config = config()
        .policy(Policy::Never)
        .depth(1)
        .max_buffers(8192)
        .budget_bytes(32 << 20);
    let mut driver = config.driver().unwrap();
    let (client, server) = tcp_pair();
    small_rcvbuf(&server, RCVBUF);
    let (go, rx) = gated_receiver(server);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut at = 0u64;
    for i in 0..6000usize {
        let len = if i % 100 == 0 { 256 * 1024 } else { 100 };
        sender.try_send(&mut driver, chunk(at, len)).unwrap();
        at += len as u64;
    }
    assert!(
        sender.buffers_in_flight(&driver).unwrap() > 1000,
        "a long queue built up"
    );
    go.send(()).unwrap();
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    assert_each_once(&done, 6000);
    close_stream(sender, &mut driver, &mut done);
    assert_eq!(
        rx.join().unwrap(),
        Received {
            bytes: at,
            mismatch: None,
            error: false
        }
    );
}

/// One registered payload frozen into a `SharedSlot`, queued 64 times at once: every clone
/// goes from the registered buffer (gathered: `sendmsg_zc` with FIXED_BUF), several are in
/// flight together, the
/// peer reads the payload 64 times in order, and the slot is back in its pool only when
/// the last clone is gone.
#[test]
fn a_shared_slot_goes_out_many_times_at_once_from_the_registered_buffer() {
    const LEN: usize = 8192;
    const COPIES: usize = 64;
    let config = Config::default().policy(Policy::Always).depth(8);
    let mut driver = config.driver().unwrap();
    let pool = BufferPool::new(&mut driver, LEN, 1).unwrap();
    let mut slot = pool.get().unwrap();
    slot.copy_from_slice(&chunk(0, LEN));
    let shared = slot.share();
    assert!(pool.get().is_none(), "the slot is out while shared");
    let (client, mut server) = tcp_pair();
    server.set_read_timeout(Some(BOUND)).unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut server, &mut got).map(|_| got)
    });
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    for _ in 0..COPIES {
        sender.queue(&mut driver, shared.clone()).unwrap();
    }
    sender.flush(&mut driver).unwrap();
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    let stats = sender.stats(&driver).unwrap();
    close_stream(sender, &mut driver, &mut done);
    assert_eq!(done.len(), COPIES);
    for c in &done {
        assert_eq!(c.result, Ok(LEN));
        assert_eq!(c.path, Some(SendPath::ZeroCopyFixed), "{c:?}");
    }
    assert!(stats.peak_buffers_in_flight >= 8, "{stats:?}");
    // Every request went from the registered buffer; the clones queued together went in
    // vectored requests (sendmsg_zc with FIXED_BUF: every iovec lies in the one slot).
    assert_eq!(stats.fixed_requests, stats.requests, "{stats:?}");
    assert!(stats.gathered > 0, "{stats:?}");
    assert_eq!(
        stats.gathered_buffers + (stats.requests - stats.gathered),
        COPIES as u64,
        "{stats:?}"
    );
    let got = reader.join().unwrap().unwrap();
    assert_eq!(got.len(), LEN * COPIES);
    for (i, block) in got.chunks(LEN).enumerate() {
        assert!(block == &shared[..], "copy {i} differs");
    }
    // The clones came back in the completions: the slot is writable again only once
    // they are gone.
    let shared = shared
        .try_unwrap()
        .expect_err("the completions hold clones");
    drop(done);
    let slot = shared.try_unwrap().expect("the last clone");
    assert!(pool.get().is_none(), "still out: the slot is alive");
    drop(slot);
    assert!(pool.get().is_some(), "back in the pool");
}

/// The slots of one pool are one registered buffer: queued together, distinct slots go in
/// one vectored request from it (`sendmsg_zc` with FIXED_BUF), and the peer reads them in
/// stream order.
#[test]
fn slots_of_one_pool_gather_into_one_fixed_request() {
    const LEN: usize = 4096;
    const SLOTS: usize = 8;
    let config = Config::default().policy(Policy::Always).depth(8);
    let mut driver = config.driver().unwrap();
    let pool = BufferPool::new(&mut driver, LEN, SLOTS).unwrap();
    let (client, server) = tcp_pair();
    let reader = checking_receiver(server, 1 << 16);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut done = Vec::new();
    let rounds = 4u64;
    for round in 0..rounds {
        for i in 0..SLOTS as u64 {
            let mut slot = pool.get().expect("every slot is back after each round");
            slot.copy_from_slice(&chunk((round * SLOTS as u64 + i) * LEN as u64, LEN));
            sender.queue(&mut driver, slot).unwrap();
        }
        sender.flush(&mut driver).unwrap();
        finish(&sender, &mut driver, &mut done);
        // The slots go back to the pool as their completions are dropped.
        done.clear();
    }
    let stats = sender.stats(&driver).unwrap();
    close_stream(sender, &mut driver, &mut done);
    assert_eq!(stats.fixed_requests, stats.requests, "{stats:?}");
    assert_eq!(stats.zero_copy, rounds * SLOTS as u64, "{stats:?}");
    assert!(
        stats.gathered >= rounds,
        "one gathered request per round at least: {stats:?}"
    );
    let total = rounds * (SLOTS * LEN) as u64;
    assert_eq!(reader.join().unwrap().seen(), (total, None));
}
