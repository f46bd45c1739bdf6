//! Attacks on the safe layer's trust boundary, from safe code only (`forbid(unsafe_code)`).
//!
//! Each test is a sequence that, before the `Driver` existed, made the kernel put freed or
//! handed-back memory on the wire, or send one connection's data on another. Each now runs
//! and shows that the peer receives exactly the bytes sent and that every buffer comes back
//! once, after the kernel's last completion for it (a buffer handed back early is
//! overwritten at once, so an early hand-back would show as wrong bytes at the peer).
//! Sequences that can no longer be written in safe code are `compile_fail` doctests in the
//! crate (`uring::zc` module docs).
#![forbid(unsafe_code)]

mod zc_util;

use std::os::fd::AsRawFd;
#[cfg(feature = "bytes")]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(feature = "bytes")]
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use uring::sys::IoringSetupFlags;
use uring::zc::{
    BufferPool, Config, Driver, DriverConfig, Policy, SendErrorKind, SendPath, ZcBuffer, ZcError,
    ZcSender, USER_DATA_TAG,
};
use uring::{Cqe, SqeError};
use zc_util::{checking_receiver, chunk, finish, gated_receiver, small_sndbuf, tcp_pair, BOUND};

/// Overwrites a buffer handed back, so that an early hand-back shows at the peer.
fn scribble(b: ZcBuffer) {
    if let Some(mut v) = b.into_vec() {
        v.fill(0xEE);
    }
}

/// Drives `sender` until all its buffers are back, scribbling each; returns how many.
fn drain(sender: &ZcSender, driver: &mut Driver) -> usize {
    let mut done = Vec::new();
    finish(sender, driver, &mut done);
    let n = done.len();
    for c in done {
        assert!(c.result.is_ok(), "{:?}", c.result);
        scribble(c.buffer);
    }
    n
}

/// 1 and 2: forged completions. While sends wait in the kernel (the peer does not read),
/// safe code tries every way to deliver a completion in the driver's namespace: the ring's
/// operations refuse the user_data, and no API takes a made-up `Cqe`. The buffers come
/// back only after the kernel's own completions, and the peer gets exact bytes.
#[test]
fn forged_completions_cannot_reach_the_driver() {
    let (client, server) = tcp_pair();
    small_sndbuf(&client, 4096);
    let (go, reader) = gated_receiver(server);
    let config = Config::default().policy(Policy::Always).depth(4);
    let mut driver = config.driver().unwrap();
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let (len, count) = (256 * 1024, 8u64);
    for i in 0..count {
        sender
            .send(&mut driver, chunk(i * len as u64, len))
            .unwrap();
    }
    // Every user_data the driver could be using: the tag with any index, generation and
    // slot is refused, whatever the operation.
    let mut refused = 0;
    for index in 0..4u64 {
        for gen in 0..4u64 {
            for slot in 0..8u64 {
                let ud = USER_DATA_TAG | index << 40 | gen << 32 | 1 << 16 | slot;
                let err = driver.ring().nop(ud).unwrap_err();
                assert_eq!(err, SqeError::ReservedUserData(ud));
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 128);
    assert_eq!(driver.ring().sq_ready(), 0, "nothing of those was queued");
    // The caller's own reaping never returns the driver's completions, so there is
    // nothing of the driver's to replay either.
    let mut cqes = [Cqe::default(); 64];
    for _ in 0..10 {
        let n = driver.ring().copy_cqes(&mut cqes, 0).unwrap() as usize;
        assert!(
            cqes[..n]
                .iter()
                .all(|c| !uring::zc::is_zc_user_data(c.user_data)),
            "the caller saw a driver completion: {:?}",
            &cqes[..n]
        );
        sender.poll(&mut driver).unwrap();
    }
    // Nothing came back early: the peer has not read a byte, the budget is all in use.
    let back: Vec<_> = sender.completions(&mut driver).unwrap().collect();
    for c in &back {
        assert!(c.result.is_ok());
    }
    let early = back.len();
    back.into_iter().for_each(|c| scribble(c.buffer));
    go.send(()).unwrap();
    let n = drain(&sender, &mut driver) + early;
    assert_eq!(n as u64, count);
    drop(sender);
    driver.poll().unwrap();
    drop(driver);
    let (bytes, bad) = reader.join().unwrap().seen();
    assert_eq!(bytes, count * len as u64);
    assert_eq!(
        bad, None,
        "the peer saw bytes of a buffer handed back early"
    );
}

/// 3: fd reuse. A sender closed while its requests may be unconsumed (SQPOLL: the kernel
/// thread takes SQEs whenever it runs), its socket fd closed at once, must never act on
/// whatever socket gets the fd number next: requests name the socket by its
/// registered-file slot, which keeps the socket for them. Each round closes a sender (no
/// wait) right after sending and drops its fd, connects a new pair (which reuses the fd),
/// and checks that the new peer receives nothing but its own bytes.
#[test]
fn a_dropped_senders_requests_never_reach_a_reused_fd() {
    let mut driver = Driver::new(DriverConfig::default().setup_flags(IoringSetupFlags::SQPOLL))
        .expect("SQPOLL driver");
    let config = Config::default().policy(Policy::Always).depth(4);
    let (mut reused, rounds) = (0, 100);
    for round in 0..rounds {
        let (a, a_peer) = tcp_pair();
        let fd = a.as_raw_fd();
        let sender = ZcSender::new(&mut driver, a, config.clone()).unwrap();
        // The dropped sender's bytes are 0xAB; the next socket's are the pattern.
        for _ in 0..4 {
            sender.send(&mut driver, vec![0xABu8; 16 * 1024]).unwrap();
        }
        let closed = sender.close(&mut driver, Duration::ZERO);
        drop(closed.socket); // the fd number is free now; the table slot keeps the socket
        let (b, b_peer) = tcp_pair();
        if b.as_raw_fd() == fd {
            reused += 1;
        }
        let reader = checking_receiver(b_peer, 64 * 1024);
        let b_sender = ZcSender::new(&mut driver, b, config.clone()).unwrap();
        b_sender.send(&mut driver, chunk(0, 1000)).unwrap();
        assert_eq!(drain(&b_sender, &mut driver), 1);
        drop(b_sender);
        // Let the driver retire both senders (their sockets close once the kernel is done).
        let t = Instant::now();
        while driver.sender_count() > 0 {
            assert!(t.elapsed() < BOUND, "round {round}: senders never retired");
            driver.poll().unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
        let (bytes, bad) = reader.join().unwrap().seen();
        assert_eq!(
            (bytes, bad),
            (1000, None),
            "round {round}: the new peer got another sender's bytes"
        );
        drop(a_peer);
    }
    // The point of the test is fd reuse: it must have happened.
    assert!(
        reused > rounds / 2,
        "fd numbers were reused in only {reused} rounds"
    );
}

/// 4: a destructor that panics. A `Bytes` whose owner panics when dropped sits in a lower
/// slot than a buffer the kernel still holds; the driver is dropped (the panic unwinds
/// through it). The held buffer must not be freed: its owner's drop never runs, and the
/// kernel still sends its bytes intact.
#[cfg(feature = "bytes")]
#[test]
fn a_panicking_destructor_cannot_free_a_held_buffer() {
    struct Owner {
        bytes: Vec<u8>,
        panics: bool,
        freed: Arc<AtomicBool>,
    }
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            &self.bytes
        }
    }
    impl Drop for Owner {
        fn drop(&mut self) {
            self.freed.store(true, Ordering::SeqCst);
            if self.panics {
                panic!("a hostile destructor");
            }
        }
    }
    let (client, server) = tcp_pair();
    small_sndbuf(&client, 4096);
    let (go, reader) = gated_receiver(server);
    let config = Config::default().policy(Policy::Always).depth(1);
    let mut driver = config.driver().unwrap();
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let (hostile_freed, held_freed) = (Arc::default(), Arc::<AtomicBool>::default());
    let len = 1 << 20;
    // The held buffer: 1 MiB of the pattern, far more than the socket buffers take.
    sender
        .send(
            &mut driver,
            bytes::Bytes::from_owner(Owner {
                bytes: chunk(0, len),
                panics: false,
                freed: Arc::clone(&held_freed),
            }),
        )
        .unwrap();
    // Depth 1: the hostile one waits in the queue behind it.
    sender
        .send(
            &mut driver,
            bytes::Bytes::from_owner(Owner {
                bytes: vec![0xEE; 10],
                panics: true,
                freed: Arc::clone(&hostile_freed),
            }),
        )
        .unwrap();
    sender.poll(&mut driver).unwrap();
    assert_eq!(sender.buffers_in_flight(&driver).unwrap(), 2);
    drop(sender);
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        driver.poll().ok();
        drop(driver);
    }));
    assert!(unwound.is_err(), "the hostile destructor ran and panicked");
    assert!(hostile_freed.load(Ordering::SeqCst));
    assert!(
        !held_freed.load(Ordering::SeqCst),
        "a buffer the kernel held was freed"
    );
    // The ring is gone; what the kernel had taken of the held buffer reaches the peer
    // intact (a prefix of it: the rest is cancelled with the ring).
    go.send(()).unwrap();
    let (bytes, bad) = reader.join().unwrap().seen();
    assert!(bytes <= len as u64);
    assert_eq!(bad, None);
}

/// 5: identity. A sender is bound to its driver's ring by an identity no other ring has:
/// used with another driver, even one whose ring got the same fd number, it refuses with
/// `WrongDriver` and hands the buffer back. A pool slot of one driver sent through
/// another driver's sender goes without the registered buffer (its table is not that
/// driver's), and its bytes arrive intact. A replaced ring is noticed.
#[test]
fn senders_and_pools_know_their_driver() {
    let (client, server) = tcp_pair();
    let reader = checking_receiver(server, 64 * 1024);
    let config = Config::default().policy(Policy::Always);
    let mut a = config.driver().unwrap();
    let a_fd = a.ring().fd();
    let a_pool = BufferPool::new(&mut a, 4096, 4).unwrap();
    let sender = ZcSender::new(&mut a, client, config.clone()).unwrap();
    let mut b = config.driver().unwrap();
    let err = sender.send(&mut b, vec![1u8; 10]).unwrap_err();
    assert_eq!(err.kind, SendErrorKind::Sender(ZcError::WrongDriver));
    assert_eq!(err.buffer.as_slice(), &[1u8; 10], "handed back untouched");
    assert_eq!(sender.stats(&b).unwrap_err(), ZcError::WrongDriver);
    // A driver made after `a` is dropped may get a's fd number: still not a's.
    let (c2, s2) = tcp_pair();
    let reader2 = checking_receiver(s2, 64 * 1024);
    let b_sender = ZcSender::new(&mut b, c2, config.clone()).unwrap();
    let mut slot = a_pool.get().unwrap();
    slot.copy_from_slice(&chunk(0, 4096));
    b_sender.send(&mut b, slot).unwrap();
    b_sender.wait_all(&mut b, BOUND).unwrap();
    let c = b_sender.next_completion(&mut b).unwrap().unwrap();
    assert_eq!(c.result, Ok(4096));
    assert_eq!(
        c.path,
        Some(SendPath::ZeroCopy),
        "another driver's slot is not in this table"
    );
    drop((c, b_sender));
    // Through its own driver the slot goes fixed.
    let mut slot = a_pool.get().unwrap();
    slot.copy_from_slice(&chunk(0, 4096));
    sender.send(&mut a, slot).unwrap();
    sender.wait_all(&mut a, BOUND).unwrap();
    let c = sender.next_completion(&mut a).unwrap().unwrap();
    assert_eq!(c.path, Some(SendPath::ZeroCopyFixed));
    drop(c);
    drop(sender);
    a.poll().unwrap();
    drop(a);
    let mut c = config.driver().unwrap();
    let same_fd = c.ring().fd() == a_fd;
    let orphan_pool_slot = a_pool.get().unwrap();
    drop((a_pool, orphan_pool_slot));
    // Replacing the ring under a driver is noticed.
    let mut other = uring::IoUring::init(8, IoringSetupFlags::empty()).unwrap();
    std::mem::swap(c.ring(), &mut other);
    assert_eq!(c.poll().unwrap_err(), ZcError::RingReplaced);
    let (c3, _s3) = tcp_pair();
    assert_eq!(
        ZcSender::new(&mut c, c3, config).unwrap_err(),
        ZcError::RingReplaced
    );
    drop((c, other, b));
    assert_eq!(reader.join().unwrap().seen(), (4096, None));
    assert_eq!(reader2.join().unwrap().seen(), (4096, None));
    eprintln!(
        "(the fd number was {}reused)",
        if same_fd { "" } else { "not " }
    );
}

/// 10: `Duration::MAX` is a valid bound (no Instant overflow).
#[test]
fn waits_accept_any_duration() {
    let (client, server) = tcp_pair();
    let reader = checking_receiver(server, 64 * 1024);
    let config = Config::default().wait_timeout(Some(Duration::MAX));
    let mut driver = config.driver().unwrap();
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    sender.wait_all(&mut driver, Duration::MAX).unwrap();
    sender.send(&mut driver, chunk(0, 100_000)).unwrap();
    sender.wait_all(&mut driver, Duration::MAX).unwrap();
    sender.wait(&mut driver).unwrap();
    driver.wait_all(Duration::MAX).unwrap();
    assert_eq!(drain(&sender, &mut driver), 1);
    drop(sender);
    driver.poll().unwrap();
    drop(driver);
    assert_eq!(reader.join().unwrap().seen(), (100_000, None));
}

/// 10: a zero-length record on a SOCK_SEQPACKET socket is a message of its own: it is
/// sent (the peer receives an empty record), not reported sent and dropped.
#[test]
fn a_zero_length_seqpacket_record_is_sent() {
    use rustix::net::{socketpair, AddressFamily, RecvFlags, SocketFlags, SocketType};
    let (a, b) = socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    let config = Config::default().policy(Policy::Never);
    let mut driver = config.driver().unwrap();
    let sender = ZcSender::new(&mut driver, a, config).unwrap();
    assert!(sender.is_stream());
    sender.send(&mut driver, b"one".to_vec()).unwrap();
    sender.send(&mut driver, Vec::new()).unwrap();
    sender.send(&mut driver, b"three".to_vec()).unwrap();
    sender.wait_all(&mut driver, BOUND).unwrap();
    let results: Vec<_> = sender
        .completions(&mut driver)
        .unwrap()
        .map(|c| (c.seq, c.result, c.path.is_some()))
        .collect();
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r.1.is_ok() && r.2), "{results:?}");
    rustix::net::sockopt::set_socket_timeout(&b, rustix::net::sockopt::Timeout::Recv, Some(BOUND))
        .unwrap();
    let mut records = Vec::new();
    for _ in 0..3 {
        let mut buf = [0u8; 16];
        let (n, _) = rustix::net::recv(&b, &mut buf, RecvFlags::empty()).unwrap();
        records.push(buf[..n].to_vec());
    }
    assert_eq!(
        records,
        vec![b"one".to_vec(), Vec::new(), b"three".to_vec()]
    );
}

/// 6 (short form; `zc_shared_ring.rs` has more): two senders on one driver, driven only
/// through one of them, each get their own buffers back, and the caller's requests on the
/// same ring come back to the caller.
#[test]
fn senders_sharing_a_driver_need_no_routing() {
    let (c1, s1) = tcp_pair();
    let (c2, s2) = tcp_pair();
    let r1 = checking_receiver(s1, 64 * 1024);
    let r2 = checking_receiver(s2, 64 * 1024);
    let config = Config::default().policy(Policy::Always);
    let mut driver = config.driver().unwrap();
    let a = ZcSender::new(&mut driver, c1, config.clone()).unwrap();
    let b = ZcSender::new(&mut driver, c2, config).unwrap();
    for i in 0..16u64 {
        a.send(&mut driver, chunk(i * 50_000, 50_000)).unwrap();
        b.send(&mut driver, chunk(i * 50_000, 50_000)).unwrap();
        driver.ring().nop(i).unwrap();
    }
    // Only `a` is driven; `b`'s completions are routed to `b` all the same.
    a.wait_all(&mut driver, BOUND).unwrap();
    b.wait_all(&mut driver, BOUND).unwrap();
    assert_eq!(drain(&a, &mut driver), 16);
    assert_eq!(drain(&b, &mut driver), 16);
    let mut nops = Vec::new();
    let mut cqes = [Cqe::default(); 8];
    let t = Instant::now();
    while nops.len() < 16 {
        assert!(t.elapsed() < BOUND, "the caller's NOPs: {nops:?}");
        driver.ring().submit().unwrap();
        let n = driver.ring().copy_cqes(&mut cqes, 0).unwrap() as usize;
        nops.extend(cqes[..n].iter().map(|c| c.user_data));
    }
    nops.sort_unstable();
    assert_eq!(nops, (0..16).collect::<Vec<_>>());
    drop((a, b));
    driver.poll().unwrap();
    drop(driver);
    assert_eq!(r1.join().unwrap().seen(), (16 * 50_000, None));
    assert_eq!(r2.join().unwrap().seen(), (16 * 50_000, None));
}

/// The driver's errors are typed: a ring flag it cannot work with is refused.
#[test]
fn a_disabled_ring_is_refused() {
    let err =
        Driver::new(DriverConfig::default().setup_flags(IoringSetupFlags::R_DISABLED)).unwrap_err();
    assert!(matches!(err, ZcError::InvalidConfig(_)), "{err:?}");
    let _ = Errno::INVAL;
}

/// A driver's file table holds its senders' sockets: no safe operation on its ring can
/// close a slot or put another socket into one, and no poll can be renamed into the
/// driver's user_data namespace.
#[test]
fn the_drivers_file_table_and_namespace_cannot_be_reached_sideways() {
    let config = Config::default();
    let mut driver = config.driver().unwrap();
    let (c, _s) = tcp_pair();
    let sender = ZcSender::new(&mut driver, c, config).unwrap();
    let ring = driver.ring();
    assert!(ring.is_file_table_reserved());
    for slot in [0u32, 1, 255, u32::MAX] {
        assert_eq!(
            ring.close_direct(1, slot).unwrap_err(),
            SqeError::ReservedFileTable
        );
        assert_eq!(
            ring.socket_direct(2, 2, 1, 0, 0, slot).unwrap_err(),
            SqeError::ReservedFileTable
        );
    }
    assert_eq!(
        ring.socket_direct_alloc(3, 2, 1, 0, 0).unwrap_err(),
        SqeError::ReservedFileTable
    );
    let renamed = USER_DATA_TAG | 1 << 40 | 1 << 32 | 1 << 16;
    assert_eq!(
        ring.poll_update(
            4,
            5,
            renamed,
            0,
            uring::sys::IoringPollFlags::UPDATE_USER_DATA
        )
        .unwrap_err(),
        SqeError::ReservedUserData(renamed)
    );
    assert_eq!(ring.sq_ready(), 0, "nothing was queued");
    // The sender still works.
    sender.send(&mut driver, chunk(0, 1000)).unwrap();
    assert_eq!(drain(&sender, &mut driver), 1);
    // A plain ring reserves nothing.
    let mut plain = uring::IoUring::init(4, IoringSetupFlags::empty()).unwrap();
    assert!(!plain.is_file_table_reserved());
    plain.close_direct(1, 0).unwrap();
}

/// 10: the driver on every ring configuration it accepts, including DEFER_TASKRUN without
/// TASKRUN_FLAG (where only an enter with GETEVENTS runs the task work that posts
/// completions), driven through the non-waiting paths only (`try_send`, `poll`) and then
/// `wait_all`: every buffer comes back, the peer gets every byte.
#[test]
fn the_driver_works_on_every_ring_configuration() {
    use IoringSetupFlags as F;
    for (name, flags) in [
        ("default", F::empty()),
        ("SQPOLL", F::SQPOLL),
        ("COOP_TASKRUN", F::COOP_TASKRUN),
        (
            "COOP_TASKRUN|TASKRUN_FLAG",
            F::COOP_TASKRUN | F::TASKRUN_FLAG,
        ),
        ("SINGLE_ISSUER", F::SINGLE_ISSUER),
        (
            "SINGLE_ISSUER|DEFER_TASKRUN",
            F::SINGLE_ISSUER | F::DEFER_TASKRUN,
        ),
        ("NO_SQARRAY", F::NO_SQARRAY),
    ] {
        let (client, server) = tcp_pair();
        let reader = checking_receiver(server, 64 * 1024);
        let config = Config::default().policy(Policy::Always).depth(4);
        let mut driver = Driver::new(config.driver_config().setup_flags(flags))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let sender = ZcSender::new(&mut driver, client, config).unwrap();
        let (len, count) = (64 * 1024, 64u64);
        let (mut next, mut back) = (0u64, 0u64);
        let t = Instant::now();
        while back < count {
            assert!(t.elapsed() < BOUND, "{name}: {back} of {count} back");
            if next < count {
                match sender.try_send(&mut driver, chunk(next * len as u64, len)) {
                    Ok(()) => next += 1,
                    Err(e) if e.is_would_block() => {}
                    Err(e) => panic!("{name}: {e}"),
                }
            }
            sender.poll(&mut driver).unwrap();
            for c in sender.completions(&mut driver).unwrap() {
                assert_eq!(c.result, Ok(len), "{name}");
                scribble(c.buffer);
                back += 1;
            }
        }
        sender.wait_all(&mut driver, BOUND).unwrap();
        let closed = sender.close(&mut driver, BOUND);
        assert_eq!(closed.pending, 0, "{name}");
        drop(closed);
        drop(driver);
        assert_eq!(
            reader.join().unwrap().seen(),
            (count * len as u64, None),
            "{name}"
        );
    }
}

/// 9: cancellation from safe code. The ring's safe cancels reach the driver's requests too
/// (a synchronous cancel matching any request, a cancel operation matching all): they end
/// its sends early, which the driver must take like any failed send. Every buffer still
/// comes back exactly once, and only after the kernel's last completion for it: each is
/// scribbled on as soon as it is back, and the peer, which reads only afterwards, sees no
/// scribble.
#[test]
fn cancelling_the_drivers_requests_hands_nothing_back_early() {
    use uring::{CancelTarget, RegisterError, SyncCancel};
    let (client, server) = tcp_pair();
    small_sndbuf(&client, 4096);
    // The peer's window is small: the sends wait in the kernel, where cancels find them.
    rustix::net::sockopt::set_socket_recv_buffer_size(&server, 128 * 1024).unwrap();
    let (go, reader) = gated_receiver(server);
    let config = Config::default()
        .policy(Policy::Always)
        .depth(4)
        .wait_timeout(Some(BOUND));
    let mut driver = config.driver().unwrap();
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let (len, count) = (256 * 1024, 8u64);
    for i in 0..count {
        sender
            .try_send(&mut driver, chunk(i * len as u64, len))
            .unwrap();
    }
    sender.poll(&mut driver).unwrap();
    assert!(sender.buffers_in_flight(&driver).unwrap() > 0);
    let mut back = Vec::new();
    let mut take = |sender: &ZcSender, driver: &mut Driver| {
        for c in sender.completions(driver).unwrap() {
            back.push(c.seq);
            scribble(c.buffer);
        }
    };
    take(&sender, &mut driver);
    // The attack, twice over.
    let r = driver
        .ring()
        .register_sync_cancel(&SyncCancel::new(CancelTarget::Any));
    assert!(matches!(r, Ok(()) | Err(RegisterError::NotFound)), "{r:?}");
    let all = uring::sys::IORING_ASYNC_CANCEL_ANY | uring::sys::IORING_ASYNC_CANCEL_ALL;
    driver
        .ring()
        .cancel(
            7,
            0,
            uring::sys::IoringAsyncCancelFlags::from_bits_retain(all),
        )
        .unwrap();
    driver.ring().submit().unwrap();
    let mut cqes = [Cqe::default(); 8];
    let mut own = 0;
    for _ in 0..1000 {
        if own == 1 {
            break;
        }
        sender.poll(&mut driver).unwrap();
        let n = driver.ring().copy_cqes(&mut cqes, 0).unwrap() as usize;
        assert!(
            cqes[..n].iter().all(|c| c.user_data == 7),
            "{:?}",
            &cqes[..n]
        );
        own += n;
    }
    assert_eq!(own, 1, "the caller's cancel completes, to the caller");
    take(&sender, &mut driver);
    // Only now does the peer read.
    go.send(()).unwrap();
    sender.wait_all(&mut driver, BOUND).unwrap();
    take(&sender, &mut driver);
    let stats = sender.stats(&driver).unwrap();
    let closed = sender.close(&mut driver, BOUND);
    for c in closed.completions {
        back.push(c.seq);
        scribble(c.buffer);
    }
    drop(closed.socket); // EOF for the peer
    back.sort_unstable();
    assert_eq!(
        back,
        (0..count).collect::<Vec<_>>(),
        "each buffer back once"
    );
    // The attack hit: the kernel ended a waiting send early. A send cut short after some
    // bytes went is continued in order (a continuation); one with none sent fails the
    // stream (an error, the rest handed back unsent).
    assert!(
        stats.continuations + stats.errors >= 1,
        "the cancels ended a send early: {stats:?}"
    );
    let (bytes, bad) = reader.join().unwrap().seen();
    assert!(bytes <= count * len as u64, "{bytes}");
    assert_eq!(
        bad, None,
        "the peer saw bytes of a buffer handed back early"
    );
}

/// 10: drop order with a vectored send. The parts of vectored messages (a small part
/// copied, a large one zero-copy) wait in the kernel when the driver is dropped first,
/// then the sender: what the kernel may still read is never freed (the heap is then
/// filled with scribbles, which a freed part would take), so the peer, reading only
/// afterwards, gets the stream exactly.
#[test]
fn vectored_parts_held_by_the_kernel_outlive_the_driver() {
    let (client, server) = tcp_pair();
    small_sndbuf(&client, 4096);
    let (go, reader) = gated_receiver(server);
    let config = Config::default().policy(Policy::Always).depth(4);
    let mut driver = config.driver().unwrap();
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut at = 0u64;
    for _ in 0..6 {
        let parts: Vec<ZcBuffer> = [100usize, 200 * 1024]
            .iter()
            .map(|&len| {
                let part = chunk(at, len);
                at += len as u64;
                part.into()
            })
            .collect();
        sender.try_send_vectored(&mut driver, parts).unwrap();
    }
    sender.poll(&mut driver).unwrap();
    let stats = sender.stats(&driver).unwrap();
    assert_eq!(stats.vectored_sends, 6);
    assert!(sender.buffers_in_flight(&driver).unwrap() > 0);
    let early: Vec<_> = sender.completions(&mut driver).unwrap().collect();
    drop(driver);
    drop(sender);
    drop(early); // what came back is ours to free
    let scribbles: Vec<Vec<u8>> = (0..64).map(|_| vec![0xEE; 200 * 1024]).collect();
    go.send(()).unwrap();
    let (bytes, bad) = reader.join().unwrap().seen();
    drop(scribbles);
    assert_eq!(
        bad, None,
        "the peer saw bytes of a part freed while the kernel held it"
    );
    // The kernel cancels the driver's requests when its ring goes: the peer has a prefix.
    assert!(bytes <= at, "{bytes} of {at}");
}
