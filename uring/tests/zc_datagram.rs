//! The zero-copy sender on datagram sockets, against the live kernel: one buffer is one
//! datagram, connected (`send_zc`) or to an explicit destination (`sendmsg_zc` with
//! `msg_name`), errors per datagram.

mod zc_util;

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};

use rustix::io::Errno;
use uring::zc::{
    BufferError, Config, PlainReason, Policy, SendErrorKind, SendPath, ZcBuffer, ZcSender,
};
use zc_util::*;

/// Datagram `k`: its number in the first 8 bytes, then pattern bytes.
fn datagram(k: u64, len: usize) -> Vec<u8> {
    let mut d = chunk(k * 10_000, len.max(8));
    d[..8].copy_from_slice(&k.to_le_bytes());
    d
}

fn receiver_socket() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Room for every datagram of a test: loopback drops nothing then.
    rustix::net::sockopt::set_socket_recv_buffer_size(&s, 4 << 20).unwrap();
    s.set_read_timeout(Some(BOUND)).unwrap();
    s
}

/// Reads `n` datagrams, checking each against `datagram(k, len_of(k))`; returns them by k.
fn read_datagrams(s: &UdpSocket, n: usize, len_of: impl Fn(u64) -> usize) -> BTreeMap<u64, usize> {
    let mut got = BTreeMap::new();
    let mut buf = vec![0u8; 65536];
    for _ in 0..n {
        let len = s.recv(&mut buf).expect("a datagram within the bound");
        let k = u64::from_le_bytes(buf[..8].try_into().unwrap());
        assert_eq!(&buf[..len], &datagram(k, len_of(k))[..], "datagram {k}");
        assert!(got.insert(k, len).is_none(), "datagram {k} twice");
    }
    got
}

fn config() -> Config {
    Config::default()
        .policy(Policy::Always)
        .wait_timeout(Some(BOUND))
}

fn len_of(k: u64) -> usize {
    [8usize, 1400, 100, 9000, 60_000][(k % 5) as usize]
}

#[test]
fn connected_udp_sends_one_datagram_per_buffer() {
    let config = config();
    let mut driver = config.driver().unwrap();
    let rx = receiver_socket();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    assert!(!sender.is_stream());
    let mut done = Vec::new();
    for k in 0..50u64 {
        let b: ZcBuffer = if k % 2 == 0 {
            datagram(k, len_of(k)).into()
        } else {
            datagram(k, len_of(k)).into_boxed_slice().into()
        };
        sender.send(&mut driver, b).unwrap();
        done.extend(sender.completions(&mut driver).unwrap());
    }
    finish(&sender, &mut driver, &mut done);
    let got = read_datagrams(&rx, 50, len_of);
    assert_eq!(got.len(), 50);
    assert_each_once(&done, 50);
    for c in &done {
        assert_eq!(c.result, Ok(len_of(c.seq)));
        assert_eq!(c.path, Some(SendPath::ZeroCopy));
        assert_eq!(c.dest, None);
    }
    let st = sender.stats(&driver).unwrap();
    assert_eq!(st.zc_requests, 50);
    assert_eq!(st.chains, 0, "datagrams are not linked");
    assert_eq!(st.notifications, 50);
}

#[test]
fn unconnected_udp_sends_to_each_destination() {
    let config = config();
    let mut driver = config.driver().unwrap();
    let (a, b) = (receiver_socket(), receiver_socket());
    let (addr_a, addr_b) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    let mut done = Vec::new();
    for k in 0..40u64 {
        let dest = if k % 2 == 0 { addr_a } else { addr_b };
        sender
            .send_to(&mut driver, datagram(k, len_of(k)), dest)
            .unwrap();
        done.extend(sender.completions(&mut driver).unwrap());
    }
    finish(&sender, &mut driver, &mut done);
    let got_a = read_datagrams(&a, 20, len_of);
    let got_b = read_datagrams(&b, 20, len_of);
    assert!(got_a.keys().all(|k| k % 2 == 0));
    assert!(got_b.keys().all(|k| k % 2 == 1));
    assert_each_once(&done, 40);
    for c in &done {
        let want: SocketAddr = if c.seq % 2 == 0 { addr_a } else { addr_b };
        assert_eq!(c.dest, Some(want));
        assert_eq!(c.result, Ok(len_of(c.seq)));
        assert!(c.path.is_some_and(SendPath::is_zero_copy));
    }
    assert_eq!(sender.stats(&driver).unwrap().zc_requests, 40);
}

#[test]
fn unconnected_udp_with_fallback_uses_plain_sendmsg() {
    let config = config().force_fallback(true);
    let mut driver = config.driver().unwrap();
    let rx = receiver_socket();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    for k in 0..10u64 {
        sender
            .send_to(
                &mut driver,
                datagram(k, len_of(k)),
                rx.local_addr().unwrap(),
            )
            .unwrap();
    }
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    assert_eq!(read_datagrams(&rx, 10, len_of).len(), 10);
    assert_each_once(&done, 10);
    assert_eq!(sender.stats(&driver).unwrap().zc_requests, 0);
    assert_eq!(sender.stats(&driver).unwrap().fallback, 10);
}

#[test]
fn a_bad_datagram_fails_alone() {
    let config = config();
    let mut driver = config.driver().unwrap();
    let rx = receiver_socket();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    let good = rx.local_addr().unwrap();
    let bad: SocketAddr = "[::1]:9".parse().unwrap(); // IPv6 on an IPv4 socket
    sender.send_to(&mut driver, datagram(0, 100), good).unwrap();
    sender.send_to(&mut driver, datagram(1, 100), bad).unwrap();
    sender.send_to(&mut driver, datagram(2, 100), good).unwrap();
    // An unconnected socket without a destination cannot send.
    sender.send(&mut driver, datagram(3, 100)).unwrap();
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    done.sort_by_key(|c| c.seq);
    assert_eq!(done.len(), 4);
    assert_eq!(done[0].result, Ok(100));
    assert!(
        matches!(done[1].result, Err(BufferError::Failed { errno, sent: 0 })
            if errno == Errno::AFNOSUPPORT || errno == Errno::INVAL),
        "{:?}",
        done[1].result
    );
    assert_eq!(done[2].result, Ok(100));
    assert!(
        matches!(
            done[3].result,
            Err(BufferError::Failed {
                errno: Errno::DESTADDRREQ,
                ..
            })
        ),
        "{:?}",
        done[3].result
    );
    assert_eq!(
        sender.error(&driver).unwrap(),
        None,
        "datagram errors do not end the sender"
    );
    assert_eq!(sender.stats(&driver).unwrap().errors, 2);
    let got = read_datagrams(&rx, 2, |_| 100);
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![0, 2]);
    // And it keeps sending.
    sender.send_to(&mut driver, datagram(4, 100), good).unwrap();
    finish(&sender, &mut driver, &mut done);
    assert_eq!(read_datagrams(&rx, 1, |_| 100).len(), 1);
}

#[test]
fn a_destination_on_a_stream_is_refused() {
    let config = config();
    let mut driver = config.driver().unwrap();
    let (client, _server) = tcp_pair();
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let e = sender
        .try_send_to(&mut driver, vec![1u8], "127.0.0.1:1".parse().unwrap())
        .unwrap_err();
    assert_eq!(e.kind, SendErrorKind::AddressOnStream);
    assert_eq!(e.buffer.into_vec(), Some(vec![1]));
}

#[test]
fn a_zero_length_datagram_is_sent() {
    // On a byte stream an empty buffer needs no request; a zero-length datagram is a real
    // message, and the peer must receive it.
    let config = config();
    let mut driver = config.driver().unwrap();
    let rx = receiver_socket();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    sender.send(&mut driver, Vec::new()).unwrap();
    sender.send(&mut driver, datagram(1, 100)).unwrap();
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    assert_each_once(&done, 2);
    done.sort_by_key(|c| c.seq);
    assert_eq!(done[0].result, Ok(0));
    assert!(done[0].path.is_some(), "a request went out for it");
    assert_eq!(done[1].result, Ok(100));
    // Datagrams carry no order: take both, whichever comes first.
    let mut buf = vec![0u8; 256];
    let mut lens = Vec::new();
    for _ in 0..2 {
        let n = rx.recv(&mut buf).expect("a datagram within the bound");
        if n > 0 {
            assert_eq!(&buf[..n], &datagram(1, 100)[..]);
        }
        lens.push(n);
    }
    lens.sort_unstable();
    assert_eq!(lens, vec![0, 100], "the empty datagram arrived as one");
    let st = sender.stats(&driver).unwrap();
    assert_eq!((st.buffers_submitted, st.buffers_returned), (2, 2));
    assert_eq!(st.requests, 2, "{st:?}");
    let closed = sender.close(&mut driver, BOUND);
    assert_eq!((closed.pending, closed.error), (0, None));
    assert!(closed.completions.is_empty());
}

#[test]
fn pool_slots_to_an_address_go_sendmsg_zc_fixed() {
    let config = config();
    let mut driver = config.driver().unwrap();
    let pool = uring::zc::BufferPool::new(&mut driver, 9000, 8).unwrap();
    let rx = receiver_socket();
    let dest = rx.local_addr().unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    let len = |k: u64| [8usize, 1400, 9000][(k % 3) as usize];
    // What came back, by seq; the slot itself goes back to the pool at once (dropped).
    let mut back = BTreeMap::new();
    let mut take = |sender: &ZcSender, driver: &mut uring::zc::Driver| {
        for c in sender.completions(driver).unwrap() {
            assert!(
                back.insert(c.seq, (c.result, c.dest, c.path)).is_none(),
                "{c:?}"
            );
        }
    };
    for k in 0..24u64 {
        let mut slot = None;
        for _ in 0..1000 {
            // Bounded: every slot comes back once its notification is in.
            slot = pool.get();
            if slot.is_some() {
                break;
            }
            sender.wait(&mut driver).unwrap();
            take(&sender, &mut driver);
        }
        let mut slot = slot.expect("a slot back from the kernel");
        let d = datagram(k, len(k));
        slot[..d.len()].copy_from_slice(&d);
        slot.set_len(d.len());
        sender.send_to(&mut driver, slot, dest).unwrap();
        take(&sender, &mut driver);
    }
    sender.wait_all(&mut driver, BOUND).unwrap();
    take(&sender, &mut driver);
    let got = read_datagrams(&rx, 24, len);
    assert_eq!(got.len(), 24);
    assert_eq!(back.len(), 24);
    for (seq, (result, to, path)) in &back {
        assert_eq!(*result, Ok(len(*seq)), "seq {seq}");
        assert_eq!(*to, Some(dest));
        // Linux 6.15 takes a registered buffer on sendmsg_zc; this machine has 6.18.
        assert_eq!(*path, Some(SendPath::ZeroCopyFixed), "seq {seq}");
    }
    let st = sender.stats(&driver).unwrap();
    assert_eq!(st.fixed_requests, 24, "{st:?}");
    assert_eq!(pool.available(), 8);
}

/// The datagrams of `lens` queued at once on a connected UDP socket, with `config` (from
/// slots of a registered pool if `slots`, else vectors), flushed once and waited for: the
/// completions in seq order, the stats, and the receiving socket.
fn queue_run(
    config: Config,
    lens: &[usize],
    slots: bool,
) -> (Vec<uring::zc::Completion>, uring::zc::ZcStats, UdpSocket) {
    let mut driver = config.driver().unwrap();
    let pool = slots.then(|| uring::zc::BufferPool::new(&mut driver, 1 << 16, lens.len()).unwrap());
    let rx = receiver_socket();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    let mut window: Vec<ZcBuffer> = lens
        .iter()
        .enumerate()
        .map(|(k, &len)| {
            let d = datagram(k as u64, len);
            if let Some(pool) = &pool {
                let mut slot = pool.get().expect("a slot for each datagram");
                slot.set_len(len);
                slot.copy_from_slice(&d);
                slot.into()
            } else {
                d.into()
            }
        })
        .collect();
    assert_eq!(
        sender.queue_from(&mut driver, &mut window).unwrap(),
        lens.len()
    );
    sender.flush(&mut driver).unwrap();
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    done.sort_by_key(|c| c.seq);
    let st = sender.stats(&driver).unwrap();
    (done, st, rx)
}

#[test]
fn datagrams_queued_together_go_as_one_udp_gso_request_and_arrive_one_by_one() {
    // [1000 1000 1000 700] [500 500] [1200 800] 800: a shorter datagram ends a run; the
    // kernel cuts each gathered request at the first datagram's size (UDP_SEGMENT).
    let lens = [1000, 1000, 1000, 700, 500, 500, 1200, 800, 800];
    let cases = [
        (
            "plain",
            Policy::Never,
            false,
            SendPath::Plain(PlainReason::Policy),
        ),
        ("zero-copy", Policy::Always, false, SendPath::ZeroCopy),
        (
            "zero-copy from pool slots",
            Policy::Always,
            true,
            SendPath::ZeroCopyFixed,
        ),
    ];
    for (what, policy, slots, path) in cases {
        let (done, st, rx) = queue_run(config().policy(policy), &lens, slots);
        let got = read_datagrams(&rx, lens.len(), |k| lens[k as usize]);
        assert_eq!(got.len(), lens.len(), "{what}: each datagram on its own");
        for (k, len) in got {
            assert_eq!(
                len, lens[k as usize],
                "{what}: datagram {k} at its own size"
            );
        }
        assert_each_once(&done, lens.len() as u64);
        for c in &done {
            assert_eq!(c.result, Ok(lens[c.seq as usize]), "{what}: {c:?}");
            assert_eq!(c.path, Some(path), "{what}: {c:?}");
        }
        assert_eq!((st.gathered, st.gathered_buffers), (3, 8), "{what}: {st:?}");
        assert_eq!(st.requests, 4, "{what}: {st:?}");
        assert_eq!(st.gso_refused, 0, "{what}: {st:?}");
        if policy == Policy::Always {
            assert_eq!(st.zc_requests, 4, "{what}: {st:?}");
            assert_eq!(st.notifications, 4, "{what}: one per request: {st:?}");
        }
    }
}

#[test]
fn a_zero_copy_run_longer_than_an_skb_has_fragments_goes_as_several_requests() {
    // 40 datagrams of 1400 bytes: 56000 bytes, within one request's byte and segment
    // limits. Sent zero-copy, their pages go in the fragments of one skb, which has 17 (the
    // kernel refuses more with EMSGSIZE, and the socket would then stop gathering): they
    // go as several gathered requests of at most 16 pages each, none refused. Plain, they
    // are copied: one request.
    let lens = [1400usize; 40];
    let cases = [
        ("plain", Policy::Never, false),
        ("zero-copy", Policy::Always, false),
        ("zero-copy from pool slots", Policy::Always, true),
    ];
    for (what, policy, slots) in cases {
        let (done, st, rx) = queue_run(config().policy(policy), &lens, slots);
        let got = read_datagrams(&rx, lens.len(), |_| 1400);
        assert_eq!(got.len(), lens.len(), "{what}");
        assert_each_once(&done, lens.len() as u64);
        assert!(
            done.iter().all(|c| c.result == Ok(1400)),
            "{what}: {done:?}"
        );
        assert_eq!(st.gso_refused, 0, "{what}: {st:?}");
        assert_eq!(
            st.gathered_buffers, 40,
            "{what}: every datagram gathered: {st:?}"
        );
        assert_eq!(st.requests, st.gathered, "{what}: {st:?}");
        if policy == Policy::Never {
            assert_eq!(st.requests, 1, "{what}: {st:?}");
        } else {
            // A datagram lies in one page or two: at least 40 / 16 requests, at most 80 / 16
            // with a datagram that could not join (it alone would be 2 pages) rounded up.
            assert!((3..=6).contains(&st.requests), "{what}: {st:?}");
        }
    }
}

#[test]
fn a_socket_that_cannot_segment_sends_each_datagram_alone_and_gathers_no_more() {
    let config = config().policy(Policy::Never);
    let mut driver = config.driver().unwrap();
    let rx = receiver_socket();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    // SO_NO_CHECK: no UDP checksum, which UDP GSO needs (the kernel answers EINVAL).
    let one: libc::c_int = 1;
    // SAFETY: a valid socket, and a pointer to an int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&tx),
            libc::SOL_SOCKET,
            libc::SO_NO_CHECK,
            (&one as *const libc::c_int).cast(),
            core::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_NO_CHECK: {}", std::io::Error::last_os_error());
    let sender = ZcSender::new(&mut driver, tx, config).unwrap();
    let mut done = Vec::new();
    for round in 0..2u64 {
        let mut window: Vec<ZcBuffer> = (0..4)
            .map(|i| datagram(round * 4 + i, 1000).into())
            .collect();
        assert_eq!(sender.queue_from(&mut driver, &mut window).unwrap(), 4);
        sender.flush(&mut driver).unwrap();
        finish(&sender, &mut driver, &mut done);
    }
    let got = read_datagrams(&rx, 8, |_| 1000);
    assert_eq!(got.len(), 8);
    assert_each_once(&done, 8);
    assert!(done.iter().all(|c| c.result == Ok(1000)), "{done:?}");
    let st = sender.stats(&driver).unwrap();
    assert_eq!(st.gso_refused, 1, "{st:?}");
    assert_eq!(st.gathered, 1, "only the first window was gathered: {st:?}");
    assert_eq!(st.requests, 1 + 4 + 4, "{st:?}");
    assert_eq!(st.errors, 0, "{st:?}");
}

#[test]
fn other_datagram_sockets_and_coalesce_off_are_never_gathered() {
    // An AF_UNIX datagram socket would take the iovecs of a gathered request for one
    // datagram: its datagrams go one per request.
    let config = config().policy(Policy::Never);
    let mut driver = config.driver().unwrap();
    let (tx, rx) = std::os::unix::net::UnixDatagram::pair().unwrap();
    rx.set_read_timeout(Some(BOUND)).unwrap();
    let sender = ZcSender::new(&mut driver, tx, config.clone()).unwrap();
    let mut window: Vec<ZcBuffer> = (0..4).map(|k| datagram(k, 300).into()).collect();
    assert_eq!(sender.queue_from(&mut driver, &mut window).unwrap(), 4);
    sender.flush(&mut driver).unwrap();
    let mut done = Vec::new();
    finish(&sender, &mut driver, &mut done);
    let mut buf = vec![0u8; 4096];
    for k in 0..4u64 {
        let n = rx.recv(&mut buf).expect("a datagram within the bound");
        assert_eq!(&buf[..n], &datagram(k, 300)[..], "datagram {k}, alone");
    }
    let st = sender.stats(&driver).unwrap();
    assert_eq!((st.gathered, st.requests), (0, 4), "{st:?}");
    // UDP with coalesce off: one request per datagram too.
    let (done, st, rx) = queue_run(config.coalesce(false), &[600; 5], false);
    assert_eq!(read_datagrams(&rx, 5, |_| 600).len(), 5);
    assert!(done.iter().all(|c| c.result == Ok(600)), "{done:?}");
    assert_eq!((st.gathered, st.requests), (0, 5), "{st:?}");
}
