//! Resource hygiene: after dropping rings (every configuration), buffer rings and buffer
//! groups, the process has no file descriptor, no mapping and no thread more than before
//! — also when the ring had registrations (files, buffers, eventfd, personality, sparse
//! tables) and requests still in flight when it was dropped (a receive, a long timeout, a
//! blocking read in an io-wq worker, zero-copy sends waiting for a peer that does not
//! read), and when a buffer group outlives its `IoUring`.
//!
//! Runs alone in a child process of this binary (`common::run_alone`), so that no other
//! test opens fds, maps memory or starts threads meanwhile.

mod common;

use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use common::RingConfig;
use rustix::event::{eventfd, EventfdFlags};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use uring::sys::IOSQE_ASYNC;
use uring::{iovec, timespec, BufRing, BufRingFlags, BufferGroup, Cqe, IoUring, ReadBuffer};

/// Memory the kernel may still write after the ring is dropped (its teardown, which
/// cancels in-flight requests, runs asynchronously): leaked, so it is never freed. Small
/// heap blocks: no mapping of their own.
fn leaked_buffer(len: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; len].into_boxed_slice())
}

/// The bytes of the zero-copy sends in flight at a ring's drop: allocated once, before
/// the baseline is taken, and leaked (the kernel may read them until the data it queued
/// is dropped, after the ring is gone).
fn zero_copy_source() -> &'static [u8] {
    use std::sync::OnceLock;
    static SOURCE: OnceLock<&'static [u8]> = OnceLock::new();
    SOURCE.get_or_init(|| Box::leak(vec![0x5a; 8 << 20].into_boxed_slice()))
}

/// One life of a ring of `config`: NOPs, every kind of registration, buffer rings and
/// groups, requests in flight at the drop. Returns the group that outlives the ring.
fn one_ring(config: &RingConfig, threads_before: usize) -> BufferGroup {
    let name = config.name;
    let mut ring = config.ring();
    ring.nop(1).unwrap();
    ring.submit().unwrap();
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 1,
            res: 0,
            flags: 0
        },
        "{name}"
    );

    // Registrations, left in place for the drop to undo.
    let zero = std::fs::File::open("/dev/zero").unwrap();
    ring.register_files(&[Some(zero.as_fd()), None]).unwrap();
    let registered = leaked_buffer(4096);
    let iov = [iovec {
        iov_base: registered.as_mut_ptr().cast(),
        iov_len: registered.len() as _,
    }];
    // SAFETY: the buffer is leaked: valid for as long as the kernel may use it.
    unsafe { ring.register_buffers(&iov) }.unwrap();
    let efd = eventfd(0, EventfdFlags::CLOEXEC).unwrap();
    ring.register_eventfd(efd.as_fd()).unwrap();
    ring.register_personality().unwrap();

    // Provided buffers: a raw ring dropped, one freed, a group dropped before the ring,
    // and one that outlives it (returned).
    let br = BufRing::setup_buf_ring(&ring, 8, 1, BufRingFlags::empty()).unwrap();
    drop(br);
    let br = BufRing::setup_buf_ring(&ring, 16, 2, BufRingFlags::INC).unwrap();
    br.free_buf_ring().unwrap();
    let mut group = BufferGroup::init(&ring, 3, 512, 4).unwrap();
    let late = BufferGroup::init(&ring, 4, 256, 8).unwrap();

    // A group receive that completes (and its buffer put back) before the group goes.
    let (a, b) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    rustix::io::write(&b, b"hygiene").unwrap();
    // SAFETY: the completion is reaped, and its buffer put back, before the group drops.
    unsafe { group.recv(&mut ring, 2, a.as_raw_fd(), 0) }.unwrap();
    ring.submit().unwrap();
    let cqe = common::reap(&mut ring, 1)[0];
    assert_eq!(group.get(&cqe).unwrap(), b"hygiene", "{name}");
    group.put_cqe(&cqe).unwrap();
    drop(group);

    // In flight at the drop: a receive into a plain buffer, a one-minute timeout, and a
    // blocking pipe read forced into an io-wq worker.
    let rx = leaked_buffer(64);
    // SAFETY: `rx` is leaked; the socket lives until after the ring is dropped.
    unsafe {
        ring.recv(
            3,
            a.as_raw_fd(),
            uring::RecvBuffer::Buffer(rx),
            uring::sys::RecvFlags::empty(),
        )
    }
    .unwrap();
    let ts = Box::leak(Box::new(timespec(Duration::from_secs(60))));
    // SAFETY: `ts` is leaked.
    unsafe { ring.timeout(4, ts, 0, uring::sys::IoringTimeoutFlags::empty()) }.unwrap();
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let pipe_buf = leaked_buffer(64);
    // SAFETY: `pipe_buf` is leaked.
    unsafe { ring.read(5, rd.as_raw_fd(), ReadBuffer::Buffer(pipe_buf), u64::MAX) }
        .unwrap()
        .add_flags(IOSQE_ASYNC)
        .unwrap();
    // And zero-copy sends to a peer that does not read: 4 x 2 MiB, more than the socket
    // buffers hold, so some wait in the kernel with their pages pinned.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tx = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    let flags = linux_raw_sys::net::MSG_NOSIGNAL | linux_raw_sys::net::MSG_WAITALL;
    for i in 0..4 {
        let piece = &zero_copy_source()[i * (2 << 20)..(i + 1) * (2 << 20)];
        // SAFETY: the source is leaked: valid and unmodified forever.
        unsafe {
            ring.send_zc(
                10 + i as u64,
                tx.as_raw_fd(),
                piece,
                uring::sys::SendFlags::from_bits_retain(flags),
                uring::sys::IoringSendFlags::empty(),
            )
        }
        .unwrap();
    }
    ring.submit().unwrap();
    assert!(
        ring.copy_cqes(&mut [Cqe::default(); 8], 0).unwrap() < 8,
        "{name}: not every send completed (the peer reads nothing)"
    );
    // The blocked read holds an io-wq worker (and SQPOLL has its thread): the thread
    // check after the drop is not vacuous.
    let start = Instant::now();
    while common::task_count() <= threads_before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name}: no io-wq worker"
        );
        std::thread::yield_now();
    }
    drop(ring);
    drop((a, b, rd, wr, efd, zero));
    drop((listener, tx, peer));
    late
}

/// Waits (bounded, 20 s) until the process has `want` threads: a ring's SQPOLL thread and
/// io-wq workers leave asynchronously after its teardown.
fn threads_settle(want: usize, name: &str) {
    let start = Instant::now();
    loop {
        let now = common::task_count();
        if now == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{name}: {now} threads, {want} before: a ring's thread was left behind"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn alone() {
    zero_copy_source();
    let fds = common::open_fds();
    let maps = common::mappings();
    let threads = common::task_count();
    for round in 0..2 {
        for config in common::ring_configurations() {
            let name = config.name;
            let late = one_ring(&config, threads);
            // The ring is gone from the fd table, but the late group holds a duplicate.
            assert_eq!(common::open_fds().len(), fds.len() + 1, "{name}");
            let slab = (late.buffers_ptr() as usize, late.buffers_len());
            late.deinit().unwrap();

            let now = common::open_fds();
            assert_eq!(now, fds, "{name} (round {round}): file descriptors left");
            let now_maps = common::mappings();
            let added: Vec<_> = now_maps.difference(&maps).collect();
            assert!(
                added.is_empty(),
                "{name} (round {round}): mappings left: {added:?}"
            );
            assert!(
                !now_maps.iter().any(|l| l.contains("io_uring")),
                "{name}: a ring mapping is left: {now_maps:?}"
            );
            let slab_left = now_maps.iter().any(|l| {
                let range = l.split_whitespace().next().unwrap();
                let (s, e) = range.split_once('-').unwrap();
                let (s, e) = (
                    usize::from_str_radix(s, 16).unwrap(),
                    usize::from_str_radix(e, 16).unwrap(),
                );
                s < slab.0 + slab.1 && slab.0 < e
            });
            assert!(!slab_left, "{name}: the late group's slab is still mapped");
            threads_settle(threads, name);
        }
    }
    println!(
        "{} configurations x 2 rounds: no fd, mapping or thread left",
        common::ring_configurations().len()
    );
}

#[test]
fn dropping_rings_and_buffer_groups_leaves_nothing() {
    common::run_alone(
        "dropping_rings_and_buffer_groups_leaves_nothing",
        Duration::from_secs(300),
        alone,
    );
}

/// While a ring is alive its mappings are visible (so the check above can see them): the
/// rings of every configuration are mapped from the ring fd.
#[test]
fn ring_mappings_are_visible_while_alive() {
    common::run_alone(
        "ring_mappings_are_visible_while_alive",
        Duration::from_secs(60),
        || {
            for config in common::ring_configurations() {
                let ring: IoUring = config.ring();
                let maps = common::mappings();
                let n = maps.iter().filter(|l| l.contains("io_uring")).count();
                assert_eq!(n, 2, "{}: the rings and the SQEs: {maps:?}", config.name);
                drop(ring);
                let maps = common::mappings();
                assert!(
                    !maps.iter().any(|l| l.contains("io_uring")),
                    "{}",
                    config.name
                );
            }
        },
    );
}

// ---------------------------------------------------------------------------------------
// The safe zero-copy layer: after dropping senders (everything back after `wait_all` or
// `close`; the handle dropped and the driver driven on; stray notifications still to
// come; the driver dropped first, with sends in flight), drivers and buffer pools (before
// or after their driver, used by a sender of their own driver or of another one), the
// process has no fd, no mapping and no thread more than before. A sender closed, or its
// handle dropped, while the kernel still holds some of its buffers leaves them with the
// driver, which frees each exactly once when the kernel lets go, and their bytes reach
// the peer intact; a driver dropped with requests in flight leaks exactly the buffers the
// kernel held (never frees them) and frees the others.

use std::sync::mpsc;

use uring::zc::{BufferPool, Config, Driver, Policy, SendPath, ZcBuffer, ZcError, ZcSender};

/// Most peer threads the section runs at once; the baseline is taken after as many ran
/// at once, since glibc keeps the stacks of exited threads mapped for reuse.
const PEER_THREADS: usize = 3;

fn warm_thread_stacks() {
    let before = common::task_count();
    let (tx, rx) = mpsc::channel::<()>();
    let threads: Vec<_> = (0..PEER_THREADS + 1)
        .map(|_| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let v = vec![1u8; 4096]; // an arena for this thread, as a peer would make
                let _ = tx.send(());
                std::thread::sleep(Duration::from_millis(20));
                drop(v);
            })
        })
        .collect();
    for _ in 0..threads.len() {
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    // A joined thread can still be listed in /proc/self/task for a moment (join returns
    // once the kernel clears its tid, before the task is released): the baseline the
    // caller takes next must not count it. Bounded: every one of them has exited.
    let start = Instant::now();
    while common::task_count() > before {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the warm-up threads never left /proc/self/task"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn zc_config(policy: Policy) -> Config {
    Config::default()
        .policy(policy)
        .depth(8)
        .budget_bytes(8 << 20)
        .max_buffers(512)
        .wait_timeout(Some(Duration::from_secs(20)))
}

/// A peer that reads and checks the stream to EOF (see `common::stream_peer`).
fn reading_peer(s: std::net::TcpStream) -> std::thread::JoinHandle<common::PeerReport> {
    let (stalled, _) = mpsc::channel();
    let (_, release) = mpsc::channel();
    common::stream_peer(s, common::PeerFault::None, stalled, release)
}

/// A peer that reads nothing until released, then reads and checks the stream to EOF.
fn gated_peer(
    s: std::net::TcpStream,
) -> (
    mpsc::Sender<()>,
    std::thread::JoinHandle<common::PeerReport>,
) {
    let (stalled, _) = mpsc::channel();
    let (go, release) = mpsc::channel();
    (
        go,
        common::stream_peer(s, common::PeerFault::StallThenRead(0), stalled, release),
    )
}

/// Sends `n` buffers of every kind (pool slots from `pool`) carrying the stream from
/// `at`; returns the offset after them. Buffers that come back are checked by `ledger`.
fn send_kinds(
    sender: &ZcSender,
    driver: &mut Driver,
    pool: Option<&BufferPool>,
    ledger: &mut common::Ledger,
    mut at: u64,
    n: usize,
) -> u64 {
    for i in 0..n {
        let len = [1, 65_536, 300, 200_000, 4096, 100_001][i % 6];
        let kind = common::Kind::ALL[i % common::Kind::ALL.len()];
        let (b, kind) = common::make_buffer(kind, common::stream_slice(at, len), pool);
        let ptr = b.as_slice().as_ptr() as usize;
        sender.send(driver, b).expect("accepted");
        ledger.accepted(at, len, ptr, kind);
        at += len as u64;
        ledger.collect(sender, driver);
    }
    at
}

/// How many times a tracked buffer's memory was freed.
#[cfg(feature = "bytes")]
type Frees = std::sync::Arc<std::sync::atomic::AtomicUsize>;
/// (No count without the `bytes` feature.)
#[cfg(not(feature = "bytes"))]
type Frees = ();

/// A `bytes::Bytes` of the stream from `at`, and a count of the times its memory is freed.
#[cfg(feature = "bytes")]
fn tracked(at: u64, len: usize) -> (ZcBuffer, Frees) {
    use std::sync::atomic::Ordering;
    struct Owner(Vec<u8>, Frees);
    impl AsRef<[u8]> for Owner {
        fn as_ref(&self) -> &[u8] {
            &self.0
        }
    }
    impl Drop for Owner {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    let frees = Frees::default();
    let b = bytes::Bytes::from_owner(Owner(common::stream_slice(at, len).to_vec(), frees.clone()));
    (b.into(), frees)
}

/// A plain buffer of the stream from `at` (no count without the `bytes` feature).
#[cfg(not(feature = "bytes"))]
fn tracked(at: u64, len: usize) -> (ZcBuffer, Frees) {
    (common::stream_slice(at, len).to_vec().into(), ())
}

#[cfg(feature = "bytes")]
fn frees(f: &Frees) -> Option<usize> {
    Some(f.load(std::sync::atomic::Ordering::SeqCst))
}

#[cfg(not(feature = "bytes"))]
fn frees(_: &Frees) -> Option<usize> {
    None
}

/// How a sender is left while the kernel still holds some of its buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leave {
    /// `close` with a short bound: the driver keeps what the kernel holds.
    Close,
    /// The handle dropped: the driver closes the sender at its next call.
    DropHandle,
    /// `close` with a short bound, then the driver dropped at once.
    DropDriver,
}

/// One sender whose peer reads nothing, with 64 buffers of 64 KiB (heap memory: a leak of
/// them adds no mapping) given to it, more than the socket holds; then left as `how` says
/// and the peer released. `Close`, `DropHandle`: the driver, driven until it is idle,
/// frees every buffer it kept exactly once (the queued ones at once, the ones the kernel
/// held once it let go), and closes the socket (EOF). `DropDriver`: exactly the buffers
/// `close` reported pending (the kernel held them) are leaked, never freed; every other
/// one is freed once. Meanwhile freed memory is reused for garbage, so a buffer freed while
/// the kernel still read it would put 0xEE on the wire: the peer checks every byte.
/// Returns how many buffers were leaked.
fn leave_in_flight(policy: Policy, how: Leave) -> usize {
    const LEN: usize = 64 * 1024;
    const N: usize = 64;
    let name = format!("{policy:?}, {how:?}");
    let config = zc_config(policy).depth(4);
    let mut driver = config.driver().unwrap();
    let (client, server) = common::tcp_pair();
    // Small socket buffers: even plain sends (which copy) cannot all fit.
    rustix::net::sockopt::set_socket_send_buffer_size(&client, 128 * 1024).unwrap();
    rustix::net::sockopt::set_socket_recv_buffer_size(&server, 128 * 1024).unwrap();
    let (go, peer) = gated_peer(server);
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut counts = Vec::new();
    for i in 0..N {
        let (b, count) = tracked((i * LEN) as u64, LEN);
        counts.push(count);
        sender.try_send(&mut driver, b).expect("within the budget");
    }
    sender.poll(&mut driver).unwrap();
    let stats = sender.stats(&driver).unwrap();
    // One request per buffer, in order (no short sends: the peer is just slow): buffers
    // 0..requests went to the kernel, the rest were still queued.
    assert!(
        (stats.requests as usize) < N,
        "{name}: some buffers are still queued: {stats:?}"
    );
    let (back, pending) = match how {
        Leave::Close | Leave::DropDriver => {
            let closed = sender.close(&mut driver, Duration::from_millis(50));
            assert_eq!(
                closed.error,
                Some(ZcError::TimedOut),
                "{name}: the bound ended the wait"
            );
            assert!(
                closed.pending > 0,
                "{name}: the peer reads nothing: the kernel holds some buffers"
            );
            drop(closed.socket); // the driver's file table keeps the socket for the kernel
            (closed.completions, closed.pending)
        }
        Leave::DropHandle => {
            let back: Vec<_> = sender.completions(&mut driver).unwrap().collect();
            drop(sender);
            (back, 0)
        }
    };
    let returned: std::collections::HashSet<u64> = back.iter().map(|c| c.seq).collect();
    // Garbage in whatever memory gets freed, kept until the peer has read everything.
    let mut garbage: Vec<Vec<u8>> = Vec::new();
    let leaked = if how == Leave::DropDriver {
        drop(driver);
        garbage.extend((0..2 * N).map(|_| vec![0xEE; LEN]));
        let mut alive = 0;
        for (i, count) in counts.iter().enumerate() {
            match frees(count) {
                None => {}
                Some(n) if returned.contains(&(i as u64)) => {
                    assert_eq!(n, 0, "{name}: buffer {i} came back: ours, alive")
                }
                Some(0) => alive += 1,
                Some(n) => assert_eq!(n, 1, "{name}: buffer {i} freed {n} times"),
            }
        }
        if cfg!(feature = "bytes") {
            assert_eq!(
                alive, pending,
                "{name}: the dropped driver leaked exactly the buffers the kernel held"
            );
        }
        go.send(()).unwrap();
        pending
    } else {
        // Released, the peer reads what the kernel still sends from the buffers the driver
        // kept; driven on, the driver frees them as the kernel lets go, and once the
        // sender is idle it clears the socket's slot: EOF.
        go.send(()).unwrap();
        let start = Instant::now();
        let mut cqes = [Cqe::default(); 64];
        let mut rounds = 0u32;
        while !(peer.is_finished() && driver.sender_count() == 0) {
            rounds += 1;
            assert!(
                start.elapsed() < Duration::from_secs(30) && rounds < 100_000,
                "{name}: the driver never went idle ({} senders left) or the peer never \
                 finished",
                driver.sender_count()
            );
            driver.poll().unwrap();
            if garbage.len() < 2 * N {
                garbage.push(vec![0xEE; LEN]);
            }
            let _ = driver
                .ring()
                .submit_and_wait_timeout(1, Duration::from_millis(20));
            let n = driver.ring().copy_cqes(&mut cqes, 0).unwrap();
            assert_eq!(
                n, 0,
                "{name}: the caller queued nothing: none of the driver's completions reach it"
            );
        }
        for (i, count) in counts.iter().enumerate() {
            let want = usize::from(!returned.contains(&(i as u64)));
            if let Some(n) = frees(count) {
                assert_eq!(n, want, "{name}: buffer {i} freed {n} times, not {want}");
            }
        }
        drop(driver);
        0
    };
    let report = peer.join().unwrap();
    drop(garbage);
    assert_eq!(
        report.mismatch, None,
        "{name}: the bytes on the wire are the original ones"
    );
    assert!(report.eof, "{name}: the socket closed: {report:?}");
    assert!(
        report.bytes >= stats.bytes_completed && report.bytes <= (N * LEN) as u64,
        "{name}: {report:?}, {stats:?}"
    );
    drop(back);
    for (i, count) in counts.iter().enumerate() {
        if let Some(n) = frees(count) {
            let alive = how == Leave::DropDriver && n == 0 && !returned.contains(&(i as u64));
            assert!(
                n == 1 || alive,
                "{name}: buffer {i} freed {n} times in the end"
            );
        }
    }
    leaked
}

fn senders_alone() {
    common::pattern_table();
    warm_thread_stacks();
    let fds = common::open_fds();
    let maps = common::mappings();
    let threads = common::task_count();
    let mut leaked = 0;
    for round in 0..2 {
        for policy in [Policy::Always, Policy::Never, Policy::Adaptive] {
            let name = format!("round {round}, {policy:?}");

            // Everything back (wait_all), then the handle dropped: the driver closes the
            // sender at its next call, which closes the socket. A second sender on the
            // same driver sends slots of a pool registered with a second driver (so they
            // go with send_zc, not send_zc_fixed) and is closed with `close`. Then the
            // pool goes before its driver, the other pool after its driver.
            let config = zc_config(policy);
            let mut driver = config.driver().unwrap();
            let pool = BufferPool::new(&mut driver, 256 * 1024, 8).unwrap();
            assert_eq!(pool.driver_id(), driver.id());
            let (client, server) = common::tcp_pair();
            let peer = reading_peer(server);
            let sender = ZcSender::new(&mut driver, client, config.clone()).unwrap();
            let resolved = sender.config(&driver).unwrap().clone();
            let mut ledger = common::Ledger::default();
            let at = send_kinds(&sender, &mut driver, Some(&pool), &mut ledger, 0, 24);
            sender
                .wait_all(&mut driver, Duration::from_secs(20))
                .unwrap();
            ledger.collect(&sender, &mut driver);
            assert!(ledger.all_back(), "{name}: {:?}", ledger.missing());
            let s = sender.stats(&driver).unwrap();
            common::check_stats(&s, &ledger, &resolved);
            if policy == Policy::Always {
                assert!(s.fixed_requests > 0, "{name}: the slots went fixed: {s:?}");
            }
            drop(sender);
            assert_eq!(driver.sender_count(), 1, "{name}: closed at the next call");
            driver.poll().unwrap();
            assert_eq!(
                driver.sender_count(),
                0,
                "{name}: an idle sender goes at once"
            );
            let report = peer.join().unwrap();
            assert_eq!((report.bytes, report.mismatch), (at, None), "{name}");
            assert!(report.eof, "{name}");

            let mut other = config.driver().unwrap();
            let other_pool = BufferPool::new(&mut other, 256 * 1024, 8).unwrap();
            assert_ne!(other_pool.driver_id(), driver.id());
            let (client, server) = common::tcp_pair();
            let peer = reading_peer(server);
            let sender = ZcSender::new(&mut driver, client, config.clone()).unwrap();
            let mut ledger = common::Ledger {
                slots_unregistered: true,
                ..Default::default()
            };
            let at = send_kinds(&sender, &mut driver, Some(&other_pool), &mut ledger, 0, 12);
            sender
                .wait_all(&mut driver, Duration::from_secs(20))
                .unwrap();
            ledger.collect(&sender, &mut driver);
            let s = sender.stats(&driver).unwrap();
            common::check_stats(&s, &ledger, &resolved);
            assert_eq!(s.fixed_requests, 0, "{name}: another driver's slots: {s:?}");
            for (i, a) in ledger.bufs.iter().enumerate() {
                if a.kind == common::Kind::Slot && a.path.is_some_and(SendPath::is_zero_copy) {
                    assert_eq!(a.path, Some(SendPath::ZeroCopy), "{name}: seq {i}");
                }
            }
            let closed = sender.close(&mut driver, Duration::from_secs(20));
            assert_eq!((closed.pending, closed.error), (0, None), "{name}");
            assert!(closed.completions.is_empty(), "{name}");
            assert!(ledger.all_back(), "{name}");
            drop(closed.socket);
            assert_eq!(driver.sender_count(), 0, "{name}");
            assert_eq!(peer.join().unwrap().bytes, at, "{name}");
            assert_eq!(
                pool.available(),
                8,
                "{name}: every slot is back in the pool"
            );
            assert_eq!(other_pool.available(), 8, "{name}: every slot is back");
            drop(pool);
            drop(driver);
            drop(other);
            drop(other_pool);

            // Datagrams, connected and to an address; the pool outlives the driver.
            let mut driver = config.driver().unwrap();
            let pool = BufferPool::new(&mut driver, 64 * 1024, 4).unwrap();
            let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let dest = rx.local_addr().unwrap();
            for connected in [true, false] {
                let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                if connected {
                    tx.connect(dest).unwrap();
                }
                let sender = ZcSender::new(&mut driver, tx, config.clone()).unwrap();
                let mut ledger = common::Ledger::default();
                for i in 0..16u64 {
                    let len = 12 + (i as usize * 3001) % 60_000;
                    let (b, kind) = common::make_owned_buffer(
                        common::Kind::ALL[i as usize % 5],
                        common::datagram_bytes(i, len),
                        Some(&pool),
                    );
                    let ptr = b.as_slice().as_ptr() as usize;
                    if connected {
                        sender.send(&mut driver, b).unwrap();
                    } else {
                        sender.send_to(&mut driver, b, dest).unwrap();
                    }
                    ledger.accepted_datagram(len, ptr, kind);
                }
                sender
                    .wait_all(&mut driver, Duration::from_secs(20))
                    .unwrap();
                ledger.collect(&sender, &mut driver);
                common::check_stats(&sender.stats(&driver).unwrap(), &ledger, &resolved);
                let closed = sender.close(&mut driver, Duration::from_secs(20));
                assert_eq!((closed.pending, closed.error), (0, None), "{name}");
                assert!(closed.completions.is_empty(), "{name}");
                assert!(ledger.all_back(), "{name}: {:?}", ledger.missing());
            }
            assert_eq!(driver.sender_count(), 0, "{name}");
            drop(rx);
            drop(driver);
            assert_eq!(pool.available(), 4, "{name}");
            drop(pool);

            // Dropped right after wait_all following a reset under full chains: stray
            // notifications of link-cancelled sends may still be on their way; the
            // driver consumes them.
            let mut driver = config.driver().unwrap();
            let (client, server) = common::tcp_pair();
            // The peer never reads, and the two socket buffers hold well under the 4 MiB
            // queued below (with the system's default send buffer, up to 4 MiB here, all of
            // it could be sent before the reset, and then nothing would fail).
            rustix::net::sockopt::set_socket_recv_buffer_size(&server, 128 * 1024).unwrap();
            rustix::net::sockopt::set_socket_send_buffer_size(&client, 128 * 1024).unwrap();
            let sender = ZcSender::new(&mut driver, client, config.clone()).unwrap();
            let mut at = 0u64;
            for _ in 0..64 {
                if sender
                    .try_send(&mut driver, common::stream_slice(at, 64 * 1024).to_vec())
                    .is_err()
                {
                    break;
                }
                at += 64 * 1024;
            }
            assert!(
                at > 1 << 20,
                "{name}: more queued than the socket buffers hold"
            );
            sender.poll(&mut driver).unwrap();
            common::reset_close(server);
            sender
                .wait_all(&mut driver, Duration::from_secs(20))
                .unwrap();
            assert!(
                sender.error(&driver).unwrap().is_some(),
                "{name}: the reset surfaced"
            );
            drop(sender);
            driver.poll().unwrap();
            assert_eq!(
                driver.sender_count(),
                0,
                "{name}: an idle sender goes at once"
            );
            drop(driver);

            // The driver dropped first, with sends in flight, and the handle after it: the
            // driver leaks what the kernel holds, frees the rest, and the late handle
            // touches nothing.
            let mut driver = config.driver().unwrap();
            let (client, server) = common::tcp_pair();
            rustix::net::sockopt::set_socket_recv_buffer_size(&server, 128 * 1024).unwrap();
            let sender = ZcSender::new(&mut driver, client, config.clone()).unwrap();
            for i in 0..32u64 {
                sender
                    .try_send(
                        &mut driver,
                        common::stream_slice(i * 65_536, 65_536).to_vec(),
                    )
                    .unwrap();
            }
            sender.poll(&mut driver).unwrap();
            drop(driver);
            drop(sender);
            drop(server);

            // Closed, or dropped, with notifications pending: the driver frees the
            // buffers once the kernel lets go. The driver dropped with them pending:
            // leaked, never freed.
            for how in [Leave::Close, Leave::DropHandle, Leave::DropDriver] {
                leaked += leave_in_flight(policy, how);
            }

            let now = common::open_fds();
            assert_eq!(now, fds, "{name}: file descriptors left");
            let now_maps = common::mappings();
            let added: Vec<_> = now_maps.difference(&maps).collect();
            assert!(added.is_empty(), "{name}: mappings left: {added:?}");
            assert!(
                !now_maps.iter().any(|l| l.contains("io_uring")),
                "{name}: a ring mapping is left"
            );
            threads_settle(threads, &name);
        }
    }
    println!(
        "senders x 3 policies x 2 rounds: no fd, mapping or thread left; buffers kept by \
         closed senders freed exactly once; {leaked} buffers leaked on purpose by drivers \
         dropped with them in the kernel"
    );
}

#[test]
fn dropping_senders_and_pools_leaves_nothing() {
    common::run_alone(
        "dropping_senders_and_pools_leaves_nothing",
        Duration::from_secs(300),
        senders_alone,
    );
}
