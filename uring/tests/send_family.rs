//! The send family beyond Zig (issue #11, item 1): typed send flags on every send opcode,
//! vectored zero-copy send from iovecs (`sendv_zc`, 6.17) and from a registered buffer
//! (`sendmsg_zc_fixed`, 6.15), `send_zc_fixed_to` for unconnected UDP, send and receive
//! bundles (6.10) and incremental buffer consumption (6.12). Every zero-copy request is
//! checked against the whole two-completion protocol (`common::check_zc_protocol`: one
//! first completion; with `F_MORE` exactly one notification, `res` 0 or the usage bit;
//! nothing after), and every byte is checked at the receiver. Completions of different
//! requests are matched by user_data, never by order.

mod common;

use std::io::{IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::{check_zc_protocol, reap, reap_zc};
use rustix::io::Errno;
use uring::sys::{IoringSendFlags, IoringSetupFlags};
use uring::{iovec, BufRing, BufRingFlags, BufferGroup, IoUring, MsgHdr, SockAddr, SqeError};

fn ring() -> IoUring {
    IoUring::init(64, IoringSetupFlags::empty()).expect("io_uring")
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    (c, s)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Waits (at most 10 s) for one completion, then returns every completion ready, in the
/// order reaped.
fn reap_ready(ring: &mut IoUring) -> Vec<uring::Cqe> {
    if ring.cq_ready() == 0 {
        let waited = ring
            .submit_and_wait_timeout(1, Duration::from_secs(10))
            .expect("the wait");
        assert!(!waited.timed_out, "a completion within 10 s");
    }
    let mut buf = [uring::Cqe::default(); 64];
    let n = ring.copy_cqes(&mut buf, 0).unwrap() as usize;
    buf[..n].to_vec()
}

fn empty_msghdr() -> MsgHdr {
    // SAFETY: MsgHdr is plain data; all-zero is a valid empty header.
    unsafe { core::mem::zeroed() }
}

/// Registers `region` as fixed buffer 0 of `ring`.
fn register(ring: &mut IoUring, region: &mut [u8]) {
    let iov = [iovec {
        iov_base: region.as_mut_ptr().cast(),
        iov_len: region.len() as _,
    }];
    // SAFETY: every caller keeps `region` allocated and unmodified until it unregisters,
    // after the last fixed request's notification.
    unsafe { ring.register_buffers(&iov).unwrap() };
}

#[test]
fn sendmsg_zc_fixed_sends_iovecs_inside_a_registered_buffer() {
    let (client, mut server) = tcp_pair();
    let mut ring = ring();
    let mut region = pattern(64 * 1024, 5);
    register(&mut ring, &mut region);
    // Three pieces of the registered buffer, out of order: the stream carries them in
    // iovec order.
    let iov = [
        IoSlice::new(&region[40_000..41_500]),
        IoSlice::new(&region[..700]),
        IoSlice::new(&region[10_000..30_000]),
    ];
    let mut msg = empty_msghdr();
    msg.msg_iov = iov.as_ptr() as *mut _;
    msg.msg_iovlen = iov.len() as _;
    // SAFETY: msg, iov and region outlive the notification, reaped below; every iovec lies
    // inside registered buffer 0.
    unsafe {
        ring.sendmsg_zc_fixed(
            0x71,
            client.as_raw_fd(),
            &msg,
            uring::sys::SendFlags::NOSIGNAL.union(uring::sys::SEND_WAITALL),
            0,
        )
        .unwrap()
        .add_send_flags(IoringSendFlags::ZC_REPORT_USAGE)
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    let cqes = reap_zc(&mut ring, &[0x71], 0);
    let out = check_zc_protocol(&cqes, 0x71);
    assert_eq!(out.first.result(), Ok(1500 + 700 + 20_000));
    assert!(out.first.more(), "a zero-copy send notifies: {cqes:?}");
    let mut got = vec![0u8; 22_200];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got[..1500], &region[40_000..41_500]);
    assert_eq!(&got[1500..2200], &region[..700]);
    assert_eq!(&got[2200..], &region[10_000..30_000]);
    // SAFETY: the only fixed request has notified.
    unsafe { ring.unregister_buffers() }.unwrap();
}

#[test]
fn sendmsg_zc_fixed_outside_the_registered_buffer_is_efault_and_protocol_holds() {
    let (client, _server) = tcp_pair();
    let mut ring = ring();
    let mut region = pattern(8192, 1);
    register(&mut ring, &mut region);
    let elsewhere = pattern(4096, 2);
    let iov = [IoSlice::new(&elsewhere)];
    let mut msg = empty_msghdr();
    msg.msg_iov = iov.as_ptr() as *mut _;
    msg.msg_iovlen = 1;
    // SAFETY: all memory outlives the completions; the kernel refuses the out-of-range
    // iovec before reading it.
    unsafe {
        ring.sendmsg_zc_fixed(
            0x72,
            client.as_raw_fd(),
            &msg,
            uring::sys::SendFlags::NOSIGNAL,
            0,
        )
        .unwrap();
    }
    ring.submit().unwrap();
    let cqes = reap_zc(&mut ring, &[0x72], 0);
    let out = check_zc_protocol(&cqes, 0x72);
    assert_eq!(out.first.err(), Some(Errno::FAULT), "{cqes:?}");
    // SAFETY: the request has finished its protocol.
    unsafe { ring.unregister_buffers() }.unwrap();
}

#[test]
fn send_zc_fixed_to_sends_a_datagram_from_a_registered_buffer() {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = SockAddr::from(rx.local_addr().unwrap());
    let mut ring = ring();
    let mut region = pattern(16 * 1024, 9);
    register(&mut ring, &mut region);
    // SAFETY: region (registered buffer 0) and dest outlive the notification.
    unsafe {
        ring.send_zc_fixed_to(
            0x73,
            tx.as_raw_fd(),
            &region[3000..4200],
            uring::sys::SendFlags::empty(),
            IoringSendFlags::ZC_REPORT_USAGE,
            0,
            dest.as_ptr(),
            dest.len(),
        )
        .unwrap();
    }
    ring.submit().unwrap();
    let cqes = reap_zc(&mut ring, &[0x73], 0);
    let out = check_zc_protocol(&cqes, 0x73);
    assert_eq!(out.first.result(), Ok(1200));
    let mut got = [0u8; 2000];
    let (n, from) = rx.recv_from(&mut got).unwrap();
    assert_eq!(&got[..n], &region[3000..4200]);
    assert_eq!(from, tx.local_addr().unwrap());
    // SAFETY: the request has notified.
    unsafe { ring.unregister_buffers() }.unwrap();
}

#[test]
fn sendv_zc_sends_every_iovec_in_order() {
    let (client, mut server) = tcp_pair();
    let mut ring = ring();
    let pieces = [
        pattern(1, 1),
        pattern(65_000, 2),
        pattern(3, 3),
        pattern(9000, 4),
    ];
    let iov: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
    let total: usize = pieces.iter().map(Vec::len).sum();
    // SAFETY: pieces and iov outlive the notification, reaped below.
    unsafe {
        ring.sendv_zc(
            0x74,
            client.as_raw_fd(),
            &iov,
            uring::sys::SendFlags::NOSIGNAL.union(uring::sys::SEND_WAITALL),
            IoringSendFlags::ZC_REPORT_USAGE,
        )
        .unwrap();
    }
    ring.submit().unwrap();
    let cqes = reap_zc(&mut ring, &[0x74], 0);
    let out = check_zc_protocol(&cqes, 0x74);
    assert_eq!(out.first.result(), Ok(total as u32));
    assert!(out.first.more() && out.notif.is_some(), "{cqes:?}");
    let mut got = vec![0u8; total];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, pieces.concat());
}

#[test]
fn typed_send_flags_on_every_send_opcode() {
    let (client, mut server) = tcp_pair();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = SockAddr::from(rx.local_addr().unwrap());
    let mut ring = ring();
    let fd = client.as_raw_fd();
    let data = pattern(5000, 7);
    let iov = [IoSlice::new(&data[..100])];
    let mut msg = empty_msghdr();
    msg.msg_iov = iov.as_ptr() as *mut _;
    msg.msg_iovlen = 1;
    let poll_first = IoringSendFlags::POLL_FIRST;
    let usage = IoringSendFlags::ZC_REPORT_USAGE;
    // SAFETY: data, iov, msg and dest outlive every completion (and notification), reaped
    // below; the refused calls queue nothing.
    unsafe {
        // Flags that name something, or do not apply to the opcode, are refused and
        // leave the entry as it was.
        let mut send = ring
            .send(0x80, fd, &data[..1000], uring::sys::SendFlags::NOSIGNAL)
            .unwrap();
        assert_eq!(
            send.add_send_flags(usage).unwrap_err(),
            SqeError::SendFlags(usage.bits())
        );
        for named in [
            IoringSendFlags::FIXED_BUF,
            IoringSendFlags::BUNDLE,
            IoringSendFlags::from_bits_retain(uring::sys::IORING_SEND_VECTORIZED as u16),
        ] {
            assert_eq!(
                send.add_send_flags(named).unwrap_err(),
                SqeError::SendFlags(named.bits())
            );
        }
        assert_eq!(send.ioprio, 0);
        send.add_send_flags(poll_first).unwrap().link();
        assert_eq!(send.ioprio, poll_first.bits());
        ring.sendmsg(0x81, fd, &msg, uring::sys::SendFlags::NOSIGNAL)
            .unwrap()
            .add_send_flags(poll_first)
            .unwrap()
            .link();
        ring.send_zc(
            0x82,
            fd,
            &data[1000..3000],
            uring::sys::SendFlags::NOSIGNAL,
            uring::sys::IoringSendFlags::empty(),
        )
        .unwrap()
        .add_send_flags(poll_first | usage)
        .unwrap()
        .link();
        ring.sendmsg_zc(0x83, fd, &msg, uring::sys::SendFlags::NOSIGNAL)
            .unwrap()
            .add_send_flags(poll_first | usage)
            .unwrap();
        ring.sendto(
            0x84,
            tx.as_raw_fd(),
            &data[..64],
            uring::sys::SendFlags::empty(),
            dest.as_ptr(),
            dest.len(),
        )
        .unwrap()
        .add_send_flags(poll_first)
        .unwrap();
        // Not a send: nothing applies.
        let mut nop = ring.nop(0x85).unwrap();
        assert_eq!(
            nop.add_send_flags(poll_first).unwrap_err(),
            SqeError::SendFlags(poll_first.bits())
        );
        // The typed methods refuse flags they set themselves or that name memory.
        assert_eq!(
            ring.sendv_zc(
                0x86,
                fd,
                &iov,
                uring::sys::SendFlags::empty(),
                IoringSendFlags::FIXED_BUF
            )
            .unwrap_err(),
            SqeError::SendFlags(IoringSendFlags::FIXED_BUF.bits())
        );
    }
    assert_eq!(ring.submit().unwrap(), 6);
    // reap_zc returns once the zero-copy ones are done; the rest may still be due (the
    // count is bounded: four more completions at most).
    let mut cqes = reap_zc(&mut ring, &[0x82, 0x83], 4);
    for _ in 0..4 {
        if [0x80, 0x81, 0x84, 0x85]
            .iter()
            .all(|&ud| cqes.iter().any(|c| c.user_data == ud))
        {
            break;
        }
        cqes.extend(reap(&mut ring, 1));
    }
    let first = |ud: u64| {
        *cqes
            .iter()
            .find(|c| c.user_data == ud && !c.notif())
            .unwrap_or_else(|| panic!("no completion for {ud:#x}: {cqes:?}"))
    };
    assert_eq!(first(0x80).result(), Ok(1000));
    assert_eq!(first(0x81).result(), Ok(100));
    assert_eq!(first(0x84).result(), Ok(64));
    assert_eq!(first(0x85).result(), Ok(0));
    for ud in [0x82, 0x83] {
        let out = check_zc_protocol(&cqes, ud);
        assert!(out.first.more(), "{cqes:?}");
        // REPORT_USAGE on loopback: the kernel copied, and says so.
        assert!(out.notif.is_some_and(|n| n.zc_copied()), "{cqes:?}");
    }
    assert_eq!(first(0x82).result(), Ok(2000));
    assert_eq!(first(0x83).result(), Ok(100));
    let mut got = vec![0u8; 3200];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got[..1000], &data[..1000]);
    assert_eq!(&got[1000..1100], &data[..100]);
    assert_eq!(&got[1100..3100], &data[1000..3000]);
    assert_eq!(&got[3100..], &data[..100]);
    let mut dgram = [0u8; 128];
    let (n, _) = rx.recv_from(&mut dgram).unwrap();
    assert_eq!(&dgram[..n], &data[..64]);
}

#[test]
fn send_bundle_sends_consecutive_provided_buffers() {
    let (client, mut server) = tcp_pair();
    let mut ring = ring();
    let mut br = BufRing::setup_buf_ring(&ring, 8, 3, BufRingFlags::empty()).unwrap();
    let mut bufs: Vec<Vec<u8>> = (0..4).map(|i| pattern(1000 + i * 100, i as u8)).collect();
    for (i, b) in bufs.iter_mut().enumerate() {
        // SAFETY: the buffers outlive the request (reaped below) and are not touched
        // while provided; 4 of 8 slots.
        unsafe { br.buf_ring_add(b.as_mut_slice(), i as u16, i as u16) };
    }
    // SAFETY: four slots written above.
    unsafe { br.buf_ring_advance(4) };
    // SAFETY: the group's buffers stay valid and unmodified until the completion.
    unsafe {
        ring.send_bundle(
            0x90,
            client.as_raw_fd(),
            3,
            0,
            uring::sys::SendFlags::NOSIGNAL,
        )
        .unwrap();
    }
    ring.submit().unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.user_data, 0x90);
    let total: usize = bufs.iter().map(Vec::len).sum();
    assert_eq!(cqe.result(), Ok(total as u32), "{cqe:?}");
    assert_eq!(
        cqe.buffer_id(),
        Some(0),
        "the bundle's first buffer: {cqe:?}"
    );
    let mut got = vec![0u8; total];
    server.read_exact(&mut got).unwrap();
    assert_eq!(got, bufs.concat());
    // The group is empty now: a second bundle has nothing to send.
    // SAFETY: as above.
    unsafe {
        ring.send_bundle(
            0x91,
            client.as_raw_fd(),
            3,
            0,
            uring::sys::SendFlags::NOSIGNAL,
        )
        .unwrap();
    }
    ring.submit().unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data, cqe.err()), (0x91, Some(Errno::NOBUFS)));
    br.free_buf_ring().unwrap();
}

#[test]
fn recv_bundle_fills_consecutive_buffers_of_a_group() {
    let (mut client, server) = tcp_pair();
    let mut ring = ring();
    let mut group = BufferGroup::init(&ring, 4, 1024, 8).unwrap();
    let sent = pattern(3000, 11);
    client.write_all(&sent).unwrap();
    let mut received = Vec::new();
    // Bounded: 3000 bytes arrive in at most a few receives.
    for round in 0..16 {
        // SAFETY: the group outlives the request, reaped below before the next one;
        // completions go to get_bundle/put_bundle in order, one request at a time.
        unsafe {
            group
                .recv_bundle(&mut ring, 0xa0 + round, server.as_raw_fd(), 0, false)
                .unwrap();
        }
        ring.submit().unwrap();
        let cqe = reap(&mut ring, 1)[0];
        assert_eq!(cqe.user_data, 0xa0 + round);
        let n = cqe.result().expect("recv bundle") as usize;
        let ids = group.bundle_ids(&cqe).unwrap();
        assert_eq!(ids.len(), n.div_ceil(1024).max(1));
        for piece in group.get_bundle(&cqe).unwrap() {
            received.extend_from_slice(piece);
        }
        group.put_bundle(&cqe).unwrap();
        if received.len() >= sent.len() {
            break;
        }
    }
    assert_eq!(received, sent);
    // Whole-buffer lookups refuse an incremental-only call, and the reverse.
    assert!(matches!(
        BufferGroup::init(&ring, 5, 64, 1)
            .unwrap()
            .get_incremental(&uring::Cqe::default()),
        Err(uring::SelectedBufferError::Incremental)
    ));
    group.deinit().unwrap();
}

#[test]
fn multishot_recv_bundle_takes_several_buffers_per_completion() {
    let (mut client, server) = tcp_pair();
    let mut ring = ring();
    let mut group = BufferGroup::init(&ring, 6, 512, 16).unwrap();
    let sent = pattern(4000, 13);
    client.write_all(&sent).unwrap();
    // SAFETY: the group outlives the request: it is cancelled and its final completion
    // reaped below before the group is dropped; one request, completions in order.
    unsafe {
        group
            .recv_bundle(&mut ring, 0xb0, server.as_raw_fd(), 0, true)
            .unwrap();
    }
    ring.submit().unwrap();
    let mut received = Vec::new();
    let mut most = 0;
    for _ in 0..32 {
        for cqe in reap_ready(&mut ring) {
            assert_eq!(cqe.user_data, 0xb0);
            assert!(cqe.more(), "still armed: {cqe:?}");
            let pieces = group.get_bundle(&cqe).unwrap();
            most = most.max(pieces.len());
            for piece in pieces {
                received.extend_from_slice(piece);
            }
            group.put_bundle(&cqe).unwrap();
        }
        if received.len() >= sent.len() {
            break;
        }
    }
    assert_eq!(received, sent);
    assert!(most > 1, "a bundle spans several 512-byte buffers");
    ring.cancel(0xb1, 0xb0, uring::sys::IoringAsyncCancelFlags::empty())
        .unwrap();
    ring.submit().unwrap();
    let cqes = reap(&mut ring, 2);
    let last = cqes.iter().find(|c| c.user_data == 0xb0).unwrap();
    assert!(!last.more(), "the cancelled receive ends: {cqes:?}");
    group.deinit().unwrap();
}

#[test]
fn incremental_group_shares_a_buffer_between_completions() {
    let (mut client, server) = tcp_pair();
    let mut ring = ring();
    let mut group = BufferGroup::init_incremental(&ring, 7, 4096, 2).unwrap();
    let mut received = Vec::new();
    let mut ids = Vec::new();
    for (round, len) in [100usize, 900, 3000, 96, 50].into_iter().enumerate() {
        let chunk = pattern(len, round as u8);
        client.write_all(&chunk).unwrap();
        let ud = 0xc0 + round as u64;
        // SAFETY: the group outlives the request, reaped below before the next one;
        // each completion goes to get_incremental once, in order.
        unsafe { group.recv(&mut ring, ud, server.as_raw_fd(), 0).unwrap() };
        ring.submit().unwrap();
        let cqe = reap(&mut ring, 1)[0];
        assert_eq!(cqe.user_data, ud);
        assert_eq!(cqe.result(), Ok(len as u32), "{cqe:?}");
        assert_eq!(
            group.get(&cqe).unwrap_err(),
            uring::SelectedBufferError::Incremental
        );
        let id = cqe.buffer_id().unwrap();
        let data = group.get_incremental(&cqe).unwrap();
        assert_eq!(data, &chunk[..]);
        received.extend_from_slice(data);
        ids.push((id, cqe.flags().contains(uring::CqeFlags::BUF_MORE)));
    }
    // 100 + 900 + 3000 share the first buffer (4000 of 4096 bytes: the kernel keeps it,
    // F_BUF_MORE); 96 bytes finish it (no F_BUF_MORE: it is the application's); the next
    // receive goes to the other buffer.
    let first = ids[0].0;
    assert!(
        ids[..3].iter().all(|&(id, more)| id == first && more),
        "{ids:?}"
    );
    assert_eq!(ids[3], (first, false), "{ids:?}");
    assert!(ids[4].0 != first && ids[4].1, "{ids:?}");
    assert_eq!(received.len(), 4146);
    // Put back, the finished buffer starts over at offset 0.
    group.put(first).unwrap();
    group.deinit().unwrap();
}
