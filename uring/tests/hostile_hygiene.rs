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

use std::os::fd::AsRawFd;
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
    ring.register_files(&[zero.as_raw_fd(), -1]).unwrap();
    let registered = leaked_buffer(4096);
    let iov = [iovec {
        iov_base: registered.as_mut_ptr().cast(),
        iov_len: registered.len() as _,
    }];
    // SAFETY: the buffer is leaked: valid for as long as the kernel may use it.
    unsafe { ring.register_buffers(&iov) }.unwrap();
    let efd = eventfd(0, EventfdFlags::CLOEXEC).unwrap();
    ring.register_eventfd(efd.as_raw_fd()).unwrap();
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
    unsafe { ring.recv(3, a.as_raw_fd(), uring::RecvBuffer::Buffer(rx), 0) }.unwrap();
    let ts = Box::leak(Box::new(timespec(Duration::from_secs(60))));
    // SAFETY: `ts` is leaked.
    unsafe { ring.timeout(4, ts, 0, 0) }.unwrap();
    let (rd, wr) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let pipe_buf = leaked_buffer(64);
    // SAFETY: `pipe_buf` is leaked.
    unsafe { ring.read(5, rd.as_raw_fd(), ReadBuffer::Buffer(pipe_buf), u64::MAX) }
        .unwrap()
        .add_flags(IOSQE_ASYNC);
    // And zero-copy sends to a peer that does not read: 4 x 2 MiB, more than the socket
    // buffers hold, so some wait in the kernel with their pages pinned.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tx = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (peer, _) = listener.accept().unwrap();
    let flags = linux_raw_sys::net::MSG_NOSIGNAL | linux_raw_sys::net::MSG_WAITALL;
    for i in 0..4 {
        let piece = &zero_copy_source()[i * (2 << 20)..(i + 1) * (2 << 20)];
        // SAFETY: the source is leaked: valid and unmodified forever.
        unsafe { ring.send_zc(10 + i as u64, tx.as_raw_fd(), piece, flags, 0) }.unwrap();
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
