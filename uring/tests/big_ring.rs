//! `BigRing` against the live kernel: every layout flag combination set up and round-
//! tripped, 128-byte SQEs carrying driver commands across the SQ wrap, 32-byte CQEs with
//! their contents, a CQE_MIXED ring through many wraps (with the kernel's padding
//! entries), the typed refusals of mis-use, and zero-copy receive registration's typed
//! errors (there is no NIC with header split here: loopback gives the kernel's refusal).

mod common;

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;

use uring::big::{BigError, BigRing, Cqe32, Sqe128, ZcrxError, ZcrxIfqArgs};
use uring::sys::{self, IoringSetupFlags as F};
use uring::{IoUring, SetupError, SocketOp};

fn cqe_mixed() -> F {
    F::from_bits_retain(sys::IORING_SETUP_CQE_MIXED)
}

/// Reaps exactly `n` completions (bounded: a round that copies nothing waits for one
/// slot; at most 4n + 16 rounds), keyed by user_data, failing on a duplicate.
fn reap(ring: &mut BigRing, n: usize) -> BTreeMap<u64, (Cqe32, usize)> {
    let mut got = BTreeMap::new();
    let mut cqes = [Cqe32::default(); 8];
    for _ in 0..4 * n + 16 {
        if got.len() == n {
            break;
        }
        let k = ring.copy_cqes32(&mut cqes, 1).expect("copy_cqes32") as usize;
        for c in &cqes[..k] {
            let size = ring.cqe_size(c);
            assert!(
                got.insert(c.user_data, (*c, size)).is_none(),
                "duplicate {c:?}"
            );
        }
    }
    assert_eq!(got.len(), n, "completions: {got:?}");
    assert!(ring.peek_cqe32().is_none(), "an extra completion");
    got
}

/// Every layout this kernel accepts sets up, and NOPs (16- and 32-byte CQEs where the
/// ring has them) complete with the right sizes and contents; the ones it does not are
/// typed errors.
#[test]
fn init_each_flag_combination() {
    let defer = F::DEFER_TASKRUN | F::SINGLE_ISSUER;
    for flags in [
        F::empty(),
        F::SQE128,
        F::CQE32,
        cqe_mixed(),
        F::SQE128 | F::CQE32,
        F::SQE128 | cqe_mixed(),
        F::CQE32 | defer,
        cqe_mixed() | defer | F::NO_SQARRAY,
        F::SQE128 | F::CQE32 | F::NO_SQARRAY | F::SUBMIT_ALL,
        F::SQE128 | F::SQPOLL,
    ] {
        let mut ring = BigRing::init(8, flags).unwrap_or_else(|e| panic!("{flags:?}: {e}"));
        assert_eq!(ring.is_sqe128(), flags.contains(F::SQE128));
        let big = flags.contains(F::CQE32) || flags.contains(cqe_mixed());
        assert_eq!(ring.has_cqe32(), big);
        ring.nop(1).unwrap();
        let mut n = 1;
        if big {
            ring.nop_cqe32(2, 0, 0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00)
                .unwrap();
            n += 1;
        } else {
            assert_eq!(ring.nop_cqe32(2, 0, 0, 0), Err(BigError::NotCqe32));
        }
        ring.submit().unwrap();
        let got = reap(&mut ring, n);
        let (nop, size) = got[&1];
        assert_eq!(nop.res, 0, "{flags:?}");
        assert_eq!(nop.big_cqe, [0; 2], "{flags:?}");
        let cqe32_ring = flags.contains(F::CQE32);
        assert_eq!(size, if cqe32_ring { 32 } else { 16 }, "{flags:?}");
        assert!(!nop.f_32());
        if big {
            let (c, size) = got[&2];
            assert_eq!(c.res, 0, "{flags:?}");
            assert_eq!(c.big_cqe, [0x1122_3344_5566_7788, 0x99aa_bbcc_ddee_ff00]);
            assert_eq!(size, 32);
            // The kernel flags it only on a mixed ring.
            assert_eq!(c.f_32(), !cqe32_ring, "{flags:?}");
        }
    }

    // SQE_MIXED is not in Linux 6.18: refused before the call, with its bit.
    let sqe_mixed = F::from_bits_retain(sys::IORING_SETUP_SQE_MIXED);
    assert_eq!(
        BigRing::init(8, sqe_mixed).unwrap_err(),
        SetupError::UnsupportedFlags(sys::IORING_SETUP_SQE_MIXED)
    );
    assert_eq!(
        BigRing::init(8, F::NO_MMAP).unwrap_err(),
        SetupError::UnsupportedFlags(sys::IORING_SETUP_NO_MMAP)
    );
    // Both CQE sizes at once: the kernel's EINVAL.
    assert_eq!(
        BigRing::init(8, F::CQE32 | cqe_mixed()).unwrap_err(),
        SetupError::ArgumentsInvalid
    );
    assert_eq!(
        BigRing::init(3, F::CQE32).unwrap_err(),
        SetupError::EntriesNotPowerOfTwo
    );
    // The ordinary ring still refuses the big layouts.
    for flags in [F::SQE128, F::CQE32, cqe_mixed()] {
        assert!(matches!(
            IoUring::init(8, flags),
            Err(SetupError::UnsupportedFlags(_))
        ));
    }
}

/// A UDP socket with `queued` bytes waiting in one datagram, for SIOCINQ.
fn udp_with_datagram(queued: usize) -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(&vec![7u8; queued], rx.local_addr().unwrap())
        .unwrap();
    (rx, tx)
}

/// 128-byte SQEs through many SQ wraps: socket commands (SIOCINQ) whose second half is
/// filled with bytes that would be an invalid SQE if the kernel read the ring at a 64-byte
/// stride, interleaved with NOPs and 64-byte pushes; each completion checked by user_data.
#[test]
fn sqe128_commands_across_the_wrap() {
    let (rx, _tx) = udp_with_datagram(13);
    let fd = rx.as_raw_fd();
    let mut ring = BigRing::init(4, F::SQE128).unwrap();
    let mut cmd = [0xffu8; 80];
    // The socket command reads only the first 16 bytes' fields it needs (none for
    // SIOCINQ); the rest is ignored.
    cmd[..16].fill(0);
    let mut ud = 0u64;
    for round in 0..40u64 {
        let mut want = BTreeMap::new();
        for i in 0..4u64 {
            ud += 1;
            match (round + i) % 3 {
                0 => {
                    // SAFETY: SIOCINQ reads no memory; `rx` is open until reaped.
                    unsafe {
                        ring.uring_cmd80(ud, fd, SocketOp::SOCKET_URING_OP_SIOCINQ as u32, &cmd)
                    }
                    .unwrap();
                    want.insert(ud, 13);
                }
                1 => {
                    ring.nop(ud).unwrap();
                    want.insert(ud, 0);
                }
                _ => {
                    let mut s = Sqe128::default();
                    s.ext.fill(0xee);
                    s.sqe.prep_cmd_sock(
                        SocketOp::SOCKET_URING_OP_SIOCINQ,
                        fd,
                        0,
                        0,
                        core::ptr::null_mut(),
                        0,
                    );
                    s.sqe.user_data = ud;
                    // SAFETY: as above.
                    unsafe { ring.push128(&s) }.unwrap();
                    want.insert(ud, 13);
                }
            }
        }
        assert_eq!(ring.sq_space_left(), 0);
        assert_eq!(ring.nop(0), Err(BigError::SubmissionQueueFull));
        assert_eq!(ring.submit().unwrap(), 4);
        let got = reap(&mut ring, 4);
        for (ud, res) in want {
            assert_eq!(got[&ud].0.res, res, "round {round}, user_data {ud}");
        }
    }
}

/// The 16-byte command form on a 64-byte ring, the same command as `prep_cmd_sock`.
#[test]
fn uring_cmd16_siocinq() {
    let (rx, _tx) = udp_with_datagram(21);
    let mut ring = BigRing::init(4, F::empty()).unwrap();
    // SAFETY: SIOCINQ reads no memory; `rx` is open until reaped.
    unsafe {
        ring.uring_cmd(
            5,
            rx.as_raw_fd(),
            SocketOp::SOCKET_URING_OP_SIOCINQ as u32,
            &[0; 16],
        )
    }
    .unwrap();
    ring.submit_and_wait(1).unwrap();
    let c = ring.copy_cqe32().unwrap();
    assert_eq!((c.user_data, c.res), (5, 21));
}

/// CQE32: every CQE carries 32 bytes, through many CQ wraps; injected results, positive
/// and negative, with extra data.
#[test]
fn cqe32_contents_across_the_wrap() {
    let mut ring = BigRing::init(4, F::CQE32).unwrap();
    assert_eq!(ring.cq_entries(), 8);
    let mut ud = 0u64;
    for round in 0..50u64 {
        // user_data -> (result, extra data) expected; None: a plain NOP.
        let mut want = BTreeMap::new();
        for i in 0..4u64 {
            ud += 1;
            let res = match (round + i) % 4 {
                0 => 0,
                1 => 4096 + ud as i32,
                2 => -libc::EAGAIN,
                _ => {
                    ring.nop(ud).unwrap();
                    want.insert(ud, None);
                    continue;
                }
            };
            ring.nop_cqe32(ud, res, ud * 3, !ud).unwrap();
            want.insert(ud, Some((res, [ud * 3, !ud])));
        }
        ring.submit().unwrap();
        let got = reap(&mut ring, 4);
        for (ud, want) in want {
            let (c, size) = got[&ud];
            assert_eq!(size, 32);
            assert!(!c.f_32(), "a CQE32 ring does not flag its CQEs");
            match want {
                // The kernel writes zeroes in a plain NOP's big_cqe on a CQE32 ring.
                None => assert_eq!((c.res, c.big_cqe), (0, [0; 2]), "plain NOP {ud}"),
                Some(w) => assert_eq!((c.res, c.big_cqe), w, "{ud}"),
            }
        }
    }
}

/// CQE_MIXED through many wraps of a small CQ: rounds of 16- and 32-byte CQEs in shifting
/// patterns, so that 32-byte ones land on the last slot and the kernel pads (the slots
/// the kernel filled exceed the CQEs' sizes then). Every CQE is checked by user_data:
/// size, flag, result, extra data.
#[test]
fn cqe_mixed_across_the_wrap_with_padding() {
    for flags in [
        cqe_mixed(),
        cqe_mixed() | F::DEFER_TASKRUN | F::SINGLE_ISSUER,
        cqe_mixed() | F::SQE128 | F::COOP_TASKRUN | F::TASKRUN_FLAG,
    ] {
        mixed_rounds(flags);
    }
}

fn mixed_rounds(flags: F) {
    let mut ring = BigRing::init(4, flags).unwrap();
    let slots = ring.cq_entries();
    assert_eq!(slots, 8);
    let mut ud = 0u64;
    let mut padding = 0u32;
    let mut bigs = 0u32;
    for round in 0..120u64 {
        // One to three 32-byte CQEs per round among 4, placed by the round.
        let mut want = BTreeMap::new();
        let mut need = 0u32;
        for i in 0..4u64 {
            ud += 1;
            let big = (round * 7 + i * 3) % 5 < 2 + (round % 2);
            if big {
                ring.nop_cqe32(ud, ud as i32, ud << 8, ud ^ 0x5a5a).unwrap();
                need += 2;
                bigs += 1;
            } else {
                ring.nop(ud).unwrap();
                need += 1;
            }
            want.insert(ud, big);
        }
        ring.submit().unwrap();
        // The kernel completes NOPs inline: wait until their slots are all filled (a
        // padding slot counts too), bounded.
        for _ in 0..100 {
            if ring.cq_ready() >= need {
                break;
            }
            ring.submit_and_wait(need).unwrap();
        }
        let ready = ring.cq_ready();
        assert!(
            ready >= need && ready <= need + 1,
            "round {round}: {ready} slots for {need}"
        );
        padding += ready - need;
        let got = reap(&mut ring, 4);
        for (ud, big) in want {
            let (c, size) = got[&ud];
            if big {
                assert_eq!(size, 32, "{c:?}");
                assert!(c.f_32());
                assert_eq!((c.res, c.big_cqe), (ud as i32, [ud << 8, ud ^ 0x5a5a]));
            } else {
                assert_eq!(size, 16, "{c:?}");
                assert!(!c.f_32());
                assert_eq!((c.res, c.big_cqe), (0, [0; 2]));
            }
        }
        assert_eq!(ring.cq_ready(), 0);
    }
    assert!(bigs > 100);
    assert!(
        padding > 0,
        "{flags:?}: no round made the kernel pad the CQ"
    );
}

/// Mis-use is typed before anything is queued.
#[test]
fn sqe128_and_cqe32_misuse_is_refused() {
    let mut ring = BigRing::init(2, F::empty()).unwrap();
    // SAFETY: nothing is queued (the call fails).
    assert_eq!(
        unsafe { ring.get_sqe128() }.err(),
        Some(BigError::NotSqe128)
    );
    // SAFETY: as above.
    let r = unsafe { ring.uring_cmd80(1, 0, 0, &[0; 80]) };
    assert_eq!(r, Err(BigError::NotSqe128));
    // SAFETY: as above.
    assert_eq!(
        unsafe { ring.push128(&Sqe128::default()) },
        Err(BigError::NotSqe128)
    );
    assert_eq!(ring.nop_cqe32(1, 0, 0, 0), Err(BigError::NotCqe32));
    // SAFETY: as above.
    assert_eq!(unsafe { ring.recv_zc(1, 0, 0, 0) }, Err(BigError::NotCqe32));
    assert_eq!(ring.sq_ready(), 0);
    let e: std::io::Error = BigError::NotSqe128.into();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);

    // A NOP asking for a 32-byte CQE on a ring of 16-byte ones, queued by hand on the
    // ordinary ring: the kernel's -EINVAL.
    let mut plain = IoUring::init(2, F::empty()).unwrap();
    // SAFETY: a NOP names no memory.
    let sqe = unsafe { plain.get_sqe() }.unwrap();
    sqe.prep_nop_cqe32(0, 1, 2);
    sqe.user_data = 9;
    plain.submit().unwrap();
    let c = plain.copy_cqe().unwrap();
    assert_eq!((c.user_data, c.res), (9, -libc::EINVAL));
}

/// A page-aligned anonymous area of `pages` pages.
fn area(pages: usize) -> (*mut u8, usize) {
    let len = pages * 4096;
    // SAFETY: a fresh anonymous mapping; leaked on purpose when registered (the kernel
    // may pin it for the ring's life); unmapped by the caller otherwise.
    let ptr = unsafe {
        rustix::mm::mmap_anonymous(
            core::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::PRIVATE,
        )
    }
    .unwrap();
    (ptr.cast(), len)
}

/// Zero-copy receive registration: bad arguments are typed before any system call, and
/// the kernel's refusal on loopback (no parent device to map the area for) is
/// `DeviceUnsupported` (`EOPNOTSUPP`); an interface index that does not exist is
/// `NoSuchDevice`. A `recv_zc` on a queue that was never registered fails in its CQE.
#[test]
fn zcrx_registration_errors_are_typed() {
    let (ptr, len) = area(16);
    let lo = {
        let name = c"lo";
        // SAFETY: a NUL-terminated name.
        unsafe { libc::if_nametoindex(name.as_ptr()) }
    };
    assert_ne!(lo, 0);
    let good = ZcrxIfqArgs {
        if_idx: lo,
        if_rxq: 0,
        rq_entries: 64,
        area: ptr,
        area_len: len,
    };

    // A ring without DEFER_TASKRUN, or without 32-byte CQEs.
    for flags in [F::CQE32, F::DEFER_TASKRUN | F::SINGLE_ISSUER] {
        let mut ring = BigRing::init(4, flags).unwrap();
        // SAFETY: refused before any system call.
        let r = unsafe { ring.register_zcrx_ifq(&good) };
        assert_eq!(r.unwrap_err(), ZcrxError::RingFlags, "{flags:?}");
    }
    let defer = F::DEFER_TASKRUN | F::SINGLE_ISSUER;
    for flags in [defer | F::CQE32, defer | cqe_mixed()] {
        let mut ring = BigRing::init(4, flags).unwrap();
        for (args, want) in [
            (
                ZcrxIfqArgs {
                    rq_entries: 0,
                    ..good
                },
                ZcrxError::RqEntries(0),
            ),
            (
                ZcrxIfqArgs {
                    rq_entries: 48,
                    ..good
                },
                ZcrxError::RqEntries(48),
            ),
            (
                ZcrxIfqArgs {
                    rq_entries: 65536,
                    ..good
                },
                ZcrxError::RqEntries(65536),
            ),
            (
                ZcrxIfqArgs {
                    area: ptr.wrapping_add(8),
                    ..good
                },
                ZcrxError::AreaInvalid,
            ),
            (
                ZcrxIfqArgs {
                    area_len: 100,
                    ..good
                },
                ZcrxError::AreaInvalid,
            ),
            (
                ZcrxIfqArgs {
                    area: core::ptr::null_mut(),
                    ..good
                },
                ZcrxError::AreaInvalid,
            ),
            (ZcrxIfqArgs { if_idx: 0, ..good }, ZcrxError::NoInterface),
            // The kernel's answers.
            (
                ZcrxIfqArgs {
                    if_idx: 0x7fff_fff0,
                    ..good
                },
                ZcrxError::NoSuchDevice,
            ),
            (good, ZcrxError::DeviceUnsupported),
        ] {
            // SAFETY: the area is ours and untouched; the kernel refuses each
            // registration (asserted), so it pins nothing past the call.
            let r = unsafe { ring.register_zcrx_ifq(&args) };
            assert_eq!(r.unwrap_err(), want, "{flags:?} {args:?}");
        }
        let e: std::io::Error = ZcrxError::DeviceUnsupported.into();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
        assert!(e.to_string().contains("header split"));

        // recv_zc on a queue id that was never registered.
        let (rx, _tx) = udp_with_datagram(1);
        // SAFETY: `rx` is open until the completion is reaped.
        unsafe { ring.recv_zc(3, rx.as_raw_fd(), 0, 0) }.unwrap();
        ring.submit_and_wait(1).unwrap();
        let c = ring.copy_cqe32().unwrap();
        assert_eq!(c.user_data, 3);
        // No queue with that id: the kernel fails the request.
        assert_eq!(c.res, -libc::EINVAL, "{c:?}");
    }
    // SAFETY: no registration holds the area (every one was refused).
    unsafe { rustix::mm::munmap(ptr.cast(), len) }.unwrap();
}

/// Runs `ip ARGS` (in the calling thread's network namespace, which the child inherits).
fn ip(args: &[&str]) {
    let status = std::process::Command::new("ip")
        .args(args)
        .status()
        .expect("ip(8)");
    assert!(status.success(), "ip {args:?}: {status}");
}

/// A veth pair in a network namespace of the test's own (a thread's, gone with it), up,
/// with an address from 198.18.0.0/15: the kernel refuses it as it refuses loopback (a
/// veth has no parent device to map the area for), `DeviceUnsupported`.
#[test]
fn zcrx_on_a_veth_is_device_unsupported() {
    std::thread::spawn(|| {
        // SAFETY: only the network namespace of this thread is unshared (no file table),
        // so no descriptor is hidden from another thread.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET) }
            .expect("unshare(CLONE_NEWNET)");
        ip(&["link", "add", "bz0", "type", "veth", "peer", "name", "bz1"]);
        ip(&["addr", "add", "198.18.0.1/24", "dev", "bz0"]);
        ip(&["link", "set", "bz0", "up"]);
        ip(&["link", "set", "bz1", "up"]);
        // SAFETY: a NUL-terminated name.
        let idx = unsafe { libc::if_nametoindex(c"bz0".as_ptr()) };
        assert_ne!(idx, 0);
        let (ptr, len) = area(16);
        let mut ring = BigRing::init(4, F::DEFER_TASKRUN | F::SINGLE_ISSUER | F::CQE32).unwrap();
        let args = ZcrxIfqArgs {
            if_idx: idx,
            if_rxq: 0,
            rq_entries: 64,
            area: ptr,
            area_len: len,
        };
        // SAFETY: the area is ours and untouched; the kernel refuses (asserted).
        let r = unsafe { ring.register_zcrx_ifq(&args) };
        assert_eq!(r.unwrap_err(), ZcrxError::DeviceUnsupported);
        // SAFETY: no registration holds the area.
        unsafe { rustix::mm::munmap(ptr.cast(), len) }.unwrap();
    })
    .join()
    .unwrap();
}

/// Without CAP_NET_ADMIN (dropped from this thread's effective set only: capabilities are
/// per thread) the kernel refuses any registration first: `PermissionDenied` (`EPERM`).
#[test]
fn zcrx_without_cap_net_admin_is_permission_denied() {
    std::thread::spawn(|| {
        use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
        let mut caps = capabilities(None).expect("capget");
        assert!(
            caps.effective.contains(CapabilitySet::NET_ADMIN),
            "the kernel tests run as root"
        );
        caps.effective.remove(CapabilitySet::NET_ADMIN);
        set_capabilities(None, caps).expect("capset");
        let (ptr, len) = area(16);
        let mut ring = BigRing::init(4, F::DEFER_TASKRUN | F::SINGLE_ISSUER | F::CQE32).unwrap();
        let args = ZcrxIfqArgs {
            if_idx: 1,
            if_rxq: 0,
            rq_entries: 64,
            area: ptr,
            area_len: len,
        };
        // SAFETY: the area is ours and untouched; the kernel refuses (asserted).
        let r = unsafe { ring.register_zcrx_ifq(&args) };
        assert_eq!(r.unwrap_err(), ZcrxError::PermissionDenied);
        let e: std::io::Error = ZcrxError::PermissionDenied.into();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
        // SAFETY: no registration holds the area.
        unsafe { rustix::mm::munmap(ptr.cast(), len) }.unwrap();
    })
    .join()
    .unwrap();
}
