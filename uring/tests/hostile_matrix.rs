//! The configuration matrix (as liburing runs its tests): every ring configuration the
//! crate offers (`common::ring_configurations`) × three scenarios:
//! - `nop`: more NOPs than the SQ holds, in flight at once (so the SQ fills and, with the
//!   small completion queues, the CQ overflows), plain and with IO_LINK chains,
//!   IOSQE_ASYNC, IO_DRAIN and CQE_SKIP_SUCCESS; every expected completion arrives exactly
//!   once, the skipped ones never;
//! - `file_read_write`: a file in a temp dir written through the ring (write and writev,
//!   all in flight at once), fsynced, and read back through the ring (read and readv),
//!   byte for byte, plus a read at end of file;
//! - `send_zc`: a TCP loopback pair made by accept + connect through the ring, then a
//!   linked chain of zero-copy sends (plain, REPORT_USAGE, from a registered buffer) with
//!   MSG_WAITALL, each checked against the whole two-completion protocol, and every byte
//!   checked by the peer.
//!
//! Completions are matched by user_data and flags, never by order.

mod common;

use std::collections::BTreeMap;
use std::io::{IoSlice, IoSliceMut, Read};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::RingConfig;
use uring::sys::{
    IoringEnterFlags, IoringSetupFlags, IORING_SEND_ZC_REPORT_USAGE, IOSQE_ASYNC,
    IOSQE_CQE_SKIP_SUCCESS, IOSQE_IO_DRAIN, IOSQE_IO_LINK,
};
use uring::{iovec, Cqe, IoUring, ReadBuffer, SqeResult};

/// Queues one SQE with `queue`, first making room when the SQ is full: submit, and with
/// SQPOLL wait for the kernel thread to consume entries. Bounded in tries and time.
fn queue_with_room<F>(ring: &mut IoUring, mut queue: F)
where
    F: FnMut(&mut IoUring) -> SqeResult<'_>,
{
    let start = Instant::now();
    for _ in 0..100_000 {
        if queue(ring).is_ok() {
            return;
        }
        ring.submit().expect("submit to make room");
        if ring.setup_flags().contains(IoringSetupFlags::SQPOLL) && ring.sq_space_left() == 0 {
            // IORING_ENTER_SQ_WAIT: sleep until the SQ thread has consumed an entry.
            ring.enter(0, 0, IoringEnterFlags::SQ_WAIT)
                .expect("wait for SQ space");
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no SQ space");
    }
    panic!("the SQ never had room");
}

/// Reaps until `want` completions arrived (bounded), then checks that nothing else comes.
fn reap_exactly(ring: &mut IoUring, want: usize, name: &str) -> Vec<Cqe> {
    let cqes = common::reap(ring, want);
    ring.submit().unwrap();
    let mut extra = [Cqe::default(); 8];
    let n = ring.copy_cqes(&mut extra, 0).unwrap();
    assert_eq!(
        n,
        0,
        "{name}: unexpected completions {:?}",
        &extra[..n as usize]
    );
    cqes
}

fn nop(config: &RingConfig) {
    let name = config.name;
    let mut ring = config.ring();
    let entries = ring.sq().entries() as u64;
    for round in 0..3u64 {
        // Plain NOPs, four times the SQ, before any reaping: with cqsize_tiny the CQ (8)
        // overflows and the kernel must keep the rest (NODROP).
        let base = round << 32;
        let count = 4 * entries;
        // In the first round, one of them drains (before any CQE_SKIP_SUCCESS was used
        // on this ring: see below).
        for i in 0..count {
            let drain = round == 0 && i == count / 2;
            queue_with_room(&mut ring, |r| {
                let mut sqe = r.nop(base | i)?;
                if drain {
                    sqe.set_flags(IOSQE_IO_DRAIN).unwrap();
                }
                Ok(sqe)
            });
        }
        ring.submit().unwrap();
        if name == "cqsize_tiny" {
            // NOPs complete inline while being submitted: the CQ is full and the kernel
            // holds the rest, to be flushed by the next reap.
            assert_eq!(ring.cq_ready(), ring.cq().entries(), "{name}");
            assert!(ring.cq_ring_needs_flush(), "{name}: overflow pending");
        }
        let cqes = reap_exactly(&mut ring, count as usize, name);
        let mut got: Vec<u64> = cqes.iter().map(|c| c.user_data).collect();
        got.sort_unstable();
        assert_eq!(
            got,
            (0..count).map(|i| base | i).collect::<Vec<_>>(),
            "{name}"
        );
        assert!(
            cqes.iter().all(|c| c.res == 0 && c.flags == 0),
            "{name}: {cqes:?}"
        );

        // Flags: chains of three linked NOPs, async NOPs, skipped successes, and a drain
        // last. Once a ring has seen IOSQE_CQE_SKIP_SUCCESS the kernel refuses IO_DRAIN on
        // it with EOPNOTSUPP (it could not count the skipped completions): that drain
        // completes with -EOPNOTSUPP, and nothing else is affected.
        let base = base | 1 << 31;
        let drain_ud = base | (count - 1);
        let mut expected = Vec::new();
        for i in 0..count {
            let ud = base | i;
            let mut flags = 0;
            if i % 3 != 2 && i + 2 < count {
                // i % 3 == 2 ends each chain; the last chain ends before the drain, which
                // stands alone (a failed SQE fails its whole chain).
                flags |= IOSQE_IO_LINK;
            }
            if i % 4 == 1 {
                flags |= IOSQE_ASYNC;
            }
            if i % 5 == 3 {
                flags |= IOSQE_CQE_SKIP_SUCCESS;
            } else {
                expected.push(ud);
            }
            if i == count - 1 {
                flags = IOSQE_IO_DRAIN; // after everything before it, unlinked
            }
            queue_with_room(&mut ring, |r| {
                let mut sqe = r.nop(ud)?;
                sqe.set_flags(flags).unwrap();
                Ok(sqe)
            });
        }
        if (count - 1) % 5 == 3 {
            expected.push(base | (count - 1)); // the drain NOP has no SKIP flag
        }
        ring.submit().unwrap();
        let cqes = reap_exactly(&mut ring, expected.len(), name);
        let mut got: Vec<u64> = cqes.iter().map(|c| c.user_data).collect();
        got.sort_unstable();
        expected.sort_unstable();
        assert_eq!(
            got, expected,
            "{name}: exactly the unskipped NOPs, once each"
        );
        for c in &cqes {
            let res = if c.user_data == drain_ud {
                common::neg(rustix::io::Errno::OPNOTSUPP)
            } else {
                0
            };
            assert_eq!((c.res, c.flags), (res, 0), "{name}: {c:?}");
        }
    }
    assert_eq!(
        ring.cq().overflow(),
        0,
        "{name}: NODROP counts nothing dropped"
    );
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

fn file_read_write(config: &RingConfig) {
    let name = config.name;
    let mut ring = config.ring();
    let dir = common::TempDir::new(&format!("matrix-rw-{name}"));
    let path = dir.join("data");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    let fd = file.as_raw_fd();

    // 40 chunks of uneven sizes, back to back.
    let sizes: Vec<usize> = (0..40).map(|i| 1 + (i * 977 + 13) % 9000).collect();
    let chunks: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| pattern(n, i as u32))
        .collect();
    let offsets: Vec<u64> = sizes
        .iter()
        .scan(0u64, |at, &n| {
            let o = *at;
            *at += n as u64;
            Some(o)
        })
        .collect();
    let total: usize = sizes.iter().sum();

    // Writes: even chunks with write, odd ones with writev in two pieces; all in flight.
    let halves: Vec<[IoSlice<'_>; 2]> = chunks
        .iter()
        .map(|c| {
            let (a, b) = c.split_at(c.len() / 2);
            [IoSlice::new(a), IoSlice::new(b)]
        })
        .collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let ud = 0x100 + i as u64;
        // SAFETY: `chunks` and `halves` outlive the completions, reaped below.
        queue_with_room(&mut ring, |r| unsafe {
            if i % 2 == 0 {
                r.write(ud, fd, chunk, offsets[i])
            } else {
                r.writev(ud, fd, &halves[i], offsets[i])
            }
        });
    }
    ring.submit().unwrap();
    let cqes = reap_exactly(&mut ring, chunks.len(), name);
    for c in &cqes {
        let i = (c.user_data - 0x100) as usize;
        assert_eq!(c.result(), Ok(sizes[i] as u32), "{name}: write {i}: {c:?}");
        assert_eq!(c.flags, 0, "{name}");
    }

    // SAFETY: the file stays open until after the fsync's completion is reaped below.
    unsafe { ring.fsync(0x200, fd, uring::sys::IoringFsyncFlags::empty()) }.unwrap();
    ring.submit().unwrap();
    assert_eq!(
        reap_exactly(&mut ring, 1, name)[0],
        Cqe {
            user_data: 0x200,
            res: 0,
            flags: 0
        },
        "{name}"
    );
    assert_eq!(file.metadata().unwrap().len(), total as u64, "{name}");

    // Reads: even chunks with read, odd ones with readv in two pieces; all in flight, plus
    // one read at end of file (0 bytes).
    let mut back: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0u8; n]).collect();
    let mut eof = [0u8; 16];
    {
        let mut iovs: Vec<[IoSliceMut<'_>; 2]> = Vec::new();
        let mut plain: Vec<(usize, &mut Vec<u8>)> = Vec::new();
        for (i, buf) in back.iter_mut().enumerate() {
            if i % 2 == 0 {
                plain.push((i, buf));
            } else {
                let mid = buf.len() / 2;
                let (a, b) = buf.split_at_mut(mid);
                iovs.push([IoSliceMut::new(a), IoSliceMut::new(b)]);
            }
        }
        for (i, buf) in plain.iter_mut() {
            let (ud, off) = (0x300 + *i as u64, offsets[*i]);
            // SAFETY: the buffers outlive the completions (reaped in this block) and are
            // touched by nothing else until then.
            queue_with_room(&mut ring, |r| unsafe {
                r.read(ud, fd, ReadBuffer::Buffer(&mut buf[..]), off)
            });
        }
        for (k, iov) in iovs.iter().enumerate() {
            let i = 2 * k + 1;
            let (ud, off) = (0x300 + i as u64, offsets[i]);
            // SAFETY: as above.
            queue_with_room(&mut ring, |r| unsafe {
                r.read(ud, fd, ReadBuffer::Iovecs(&iov[..]), off)
            });
        }
        // SAFETY: as above.
        queue_with_room(&mut ring, |r| unsafe {
            r.read(0x400, fd, ReadBuffer::Buffer(&mut eof), total as u64)
        });
        ring.submit().unwrap();
        let cqes = reap_exactly(&mut ring, chunks.len() + 1, name);
        for c in &cqes {
            if c.user_data == 0x400 {
                assert_eq!(c.result(), Ok(0), "{name}: read at end of file");
                continue;
            }
            let i = (c.user_data - 0x300) as usize;
            assert_eq!(c.result(), Ok(sizes[i] as u32), "{name}: read {i}: {c:?}");
        }
    }
    assert_eq!(
        back, chunks,
        "{name}: the bytes read back are the bytes written"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        chunks.concat(),
        "{name}: the file holds exactly what was written"
    );
}

fn send_zc(config: &RingConfig) {
    let name = config.name;
    let mut ring = config.ring();
    let h = common::socket_test_harness(&mut ring);
    let client = h.client();
    let mut server = TcpStream::from(h.server);

    let waitall = linux_raw_sys::net::MSG_NOSIGNAL | linux_raw_sys::net::MSG_WAITALL;
    let sizes = [1usize, 100, 4096, 65_536, 300_000, 3];
    let payloads: Vec<Vec<u8>> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| pattern(n, 0x77 + i as u32))
        .collect();
    // One registered buffer; the fixed send takes a range from its middle.
    let mut fixed = pattern(32_768, 0xf1);
    let iov = [iovec {
        iov_base: fixed.as_mut_ptr().cast(),
        iov_len: fixed.len() as _,
    }];
    // SAFETY: `fixed` outlives the registration (unregistered below, before it is freed).
    unsafe { ring.register_buffers(&iov) }.unwrap();
    let fixed_range = 1000..21_000;

    let mut expected_stream = Vec::new();
    for p in &payloads {
        expected_stream.extend_from_slice(p);
    }
    expected_stream.extend_from_slice(&fixed[fixed_range.clone()]);
    let total = expected_stream.len();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; total];
        server.read_exact(&mut got).map(|_| (got, server))
    });

    // One linked chain: the stream order is the chain order.
    let mut uds = Vec::new();
    for (i, p) in payloads.iter().enumerate() {
        let ud = 0x5000 + i as u64;
        uds.push(ud);
        let zc_flags = if i == 2 {
            IORING_SEND_ZC_REPORT_USAGE as u16
        } else {
            0
        };
        // SAFETY: `payloads` outlive every notification, reaped below.
        let mut sqe = unsafe {
            ring.send_zc(
                ud,
                client,
                p,
                uring::sys::SendFlags::from_bits_retain(waitall),
                uring::sys::IoringSendFlags::from_bits_retain(zc_flags),
            )
        }
        .unwrap();
        sqe.link();
    }
    let fixed_ud = 0x5100;
    uds.push(fixed_ud);
    // SAFETY: the range lies in registered buffer 0, which outlives its notification.
    unsafe {
        ring.send_zc_fixed(
            fixed_ud,
            client,
            &fixed[fixed_range.clone()],
            uring::sys::SendFlags::from_bits_retain(waitall),
            uring::sys::IoringSendFlags::ZC_REPORT_USAGE,
            0,
        )
    }
    .unwrap();
    ring.submit().unwrap();

    let cqes = common::reap_zc(&mut ring, &uds, 0);
    let mut outcomes = BTreeMap::new();
    for &ud in &uds {
        let out = common::check_zc_protocol(&cqes, ud);
        outcomes.insert(ud, out);
    }
    assert!(
        cqes.iter().all(|c| uds.contains(&c.user_data)),
        "{name}: foreign completions {cqes:?}"
    );
    for (i, &n) in sizes.iter().enumerate() {
        let out = outcomes[&(0x5000 + i as u64)];
        assert_eq!(
            out.first.result(),
            Ok(n as u32),
            "{name}: send {i}: {out:?}"
        );
        assert!(
            out.first.more(),
            "{name}: a successful send notifies: {out:?}"
        );
    }
    let out = outcomes[&fixed_ud];
    assert_eq!(out.first.result(), Ok(fixed_range.len() as u32), "{name}");
    // REPORT_USAGE on TCP loopback: the kernel copied (FINDINGS.md 2).
    assert!(outcomes[&0x5002].notif.unwrap().zc_copied(), "{name}");
    assert!(out.notif.unwrap().zc_copied(), "{name}");
    assert!(!outcomes[&0x5000].notif.unwrap().zc_copied(), "{name}");

    // Nothing else arrives for these requests.
    ring.submit().unwrap();
    let mut extra = [Cqe::default(); 8];
    assert_eq!(ring.copy_cqes(&mut extra, 0).unwrap(), 0, "{name}");

    let (got, _server) = reader.join().unwrap().expect("the peer read everything");
    assert!(got == expected_stream, "{name}: the peer got other bytes");
    // SAFETY: every fixed send has completed and notified (reaped above).
    unsafe { ring.unregister_buffers() }.unwrap();
    drop(ring);
    drop(fixed); // only after the notifications and the unregistration
    drop(payloads);
}

macro_rules! matrix {
    ($($module:ident => $config:literal),* $(,)?) => {
        $(
            mod $module {
                #[test]
                fn nop() {
                    super::nop(&super::common::ring_configuration($config));
                }
                #[test]
                fn file_read_write() {
                    super::file_read_write(&super::common::ring_configuration($config));
                }
                #[test]
                fn send_zc() {
                    super::send_zc(&super::common::ring_configuration($config));
                }
            }
        )*

        /// The matrix names every configuration the crate offers, no more, no fewer.
        #[test]
        fn the_matrix_covers_every_configuration() {
            let mut listed = vec![$($config),*];
            let mut offered: Vec<&str> =
                common::ring_configurations().iter().map(|c| c.name).collect();
            listed.sort_unstable();
            offered.sort_unstable();
            assert_eq!(listed, offered);
        }
    };
}

matrix! {
    default => "default",
    sqpoll => "sqpoll",
    coop_taskrun => "coop_taskrun",
    coop_taskrun_taskrun_flag => "coop_taskrun+taskrun_flag",
    single_issuer => "single_issuer",
    single_issuer_defer_taskrun => "single_issuer+defer_taskrun",
    cqsize => "cqsize",
    cqsize_tiny => "cqsize_tiny",
    no_sqarray => "no_sqarray",
    submit_all => "submit_all",
}
