//! Bad input, table-driven: every row hands the library or the kernel something wrong
//! (setup arguments, SQE fields, registrations, timeouts) and asserts the documented,
//! typed error — never a panic, a hang (every wait is bounded) or a leak: after each row
//! the process has exactly the file descriptors it had before the table, and no mapping
//! that it did not have.
//!
//! The table runs alone in a child process of this binary (`common::run_alone`): the
//! fd count of /proc/self/fd must not see other tests' sockets and rings.

mod common;

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::io::Errno;
use uring::sys::{
    io_uring_op as Op, io_uring_params, IoringEnterFlags, IoringSetupFlags, IOSQE_BUFFER_SELECT,
    IOSQE_FIXED_FILE,
};
use uring::{
    iovec, BufRing, BufRingError, BufRingFlags, BufferGroup, Cqe, IoUring, ReadBuffer, RecvBuffer,
    RegisterError, SetupError, Sqe, Timespec,
};

fn ring() -> IoUring {
    IoUring::init(8, IoringSetupFlags::empty()).expect("ring")
}

fn init_params(
    entries: u32,
    flags: IoringSetupFlags,
    edit: impl FnOnce(&mut io_uring_params),
) -> Result<IoUring, SetupError> {
    let mut p = io_uring_params::default();
    p.flags = flags;
    edit(&mut p);
    IoUring::init_params(entries, &mut p)
}

/// Pushes `sqe` (user_data 0xbad), submits, reaps its one completion (bounded) and
/// checks that nothing else arrives.
fn complete(ring: &mut IoUring, mut sqe: Sqe) -> Cqe {
    sqe.user_data = 0xbad;
    // SAFETY: every row's SQE names only memory that outlives this call (or addresses no
    // Rust object owns, which the kernel refuses with EFAULT), and the completion is
    // reaped before returning.
    unsafe { ring.push(&sqe) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let cqe = common::reap(ring, 1)[0];
    assert_eq!(cqe.user_data, 0xbad, "{cqe:?}");
    ring.submit().unwrap();
    assert_eq!(ring.peek_cqe(), None, "one completion only");
    cqe
}

/// Asserts that `sqe` completes with `-errno` (and no flags).
fn fails_with(errno: Errno, sqe: Sqe) {
    let mut ring = ring();
    let cqe = complete(&mut ring, sqe);
    assert_eq!(cqe.err(), Some(errno), "{cqe:?}");
    assert_eq!(cqe.flags, 0, "{cqe:?}");
}

/// Asserts that the zero-copy send `sqe` fails with `-errno`, following the whole
/// protocol (a refused send may still carry F_MORE and notify once).
fn zc_fails_with(errno: Errno, mut sqe: Sqe) {
    let mut ring = ring();
    sqe.user_data = 0xbad;
    // SAFETY: as in `complete`; the notification, if any, is reaped below.
    unsafe { ring.push(&sqe) }.unwrap();
    ring.submit().unwrap();
    let cqes = common::reap_zc(&mut ring, &[0xbad], 0);
    let out = common::check_zc_protocol(&cqes, 0xbad);
    assert_eq!(out.first.err(), Some(errno), "{cqes:?}");
    ring.submit().unwrap();
    assert_eq!(ring.peek_cqe(), None, "nothing after the protocol");
}

fn sqe(prep: impl FnOnce(&mut Sqe)) -> Sqe {
    let mut sqe = Sqe::default();
    prep(&mut sqe);
    sqe
}

/// `IORING_REGISTER_FILES` (or `_UPDATE`, `EVENTFD`) with raw numbers, for the invalid
/// descriptors the safe methods cannot be given (they take `BorrowedFd`s): the kernel's
/// answer must still be a typed error.
fn register_raw_fds(
    ring: &IoUring,
    op: rustix::io_uring::IoringRegisterOp,
    fds: &[RawFd],
) -> Result<u32, RegisterError> {
    // SAFETY: the kernel reads `fds.len()` i32s during the call; numbers that name no
    // open file (or the ring itself) are refused, which is the point of the callers.
    unsafe { ring.register_raw(op, fds.as_ptr().cast(), fds.len() as u32) }
}

fn zero() -> std::fs::File {
    std::fs::File::open("/dev/zero").unwrap()
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
}

/// A connected TCP pair on loopback (client, server).
fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// An address in the first page, which is never mapped (vm.mmap_min_addr): the kernel
/// answers EFAULT for any access through it. No Rust object lives there.
const UNMAPPED: u64 = 8;

const NOSIGNAL: uring::sys::SendFlags = uring::sys::SendFlags::NOSIGNAL;

fn timeout_fails(ts: Timespec, flags: u32) {
    let mut ring = ring();
    // SAFETY: `ts` outlives the completion, reaped in `complete`.
    unsafe {
        ring.timeout(
            0xbad,
            &ts,
            0,
            uring::sys::IoringTimeoutFlags::from_bits_retain(flags),
        )
    }
    .unwrap();
    ring.submit().unwrap();
    let cqe = common::reap(&mut ring, 1)[0];
    assert_eq!(cqe.err(), Some(Errno::INVAL), "{ts:?} {flags:#x}: {cqe:?}");
}

/// Registers `buffer` as registered buffer 0 of `ring`.
fn register_one(ring: &mut IoUring, buffer: &mut [u8]) {
    let iov = [iovec {
        iov_base: buffer.as_mut_ptr().cast(),
        iov_len: buffer.len() as _,
    }];
    // SAFETY: every caller unregisters (or drops the ring) before `buffer` is freed.
    unsafe { ring.register_buffers(&iov) }.unwrap();
}

/// A zero-copy send of `buffer` from registered buffer `index`: checks the first
/// completion fails with `errno`, and the protocol (no notification without F_MORE).
fn send_zc_fixed_fails(ring: &mut IoUring, fd: RawFd, buffer: &[u8], index: u16, errno: Errno) {
    // SAFETY: `buffer` outlives the request; the kernel refuses it before any transfer.
    unsafe {
        ring.send_zc_fixed(
            0x2c,
            fd,
            buffer,
            NOSIGNAL,
            uring::sys::IoringSendFlags::empty(),
            index,
        )
    }
    .unwrap();
    ring.submit().unwrap();
    let cqes = common::reap_zc(ring, &[0x2c], 0);
    let out = common::check_zc_protocol(&cqes, 0x2c);
    assert_eq!(out.first.err(), Some(errno), "{cqes:?}");
    // A refused send may still notify (F_MORE): the protocol check above accepts both,
    // and the notification, if any, was reaped.
    ring.submit().unwrap();
    assert_eq!(ring.peek_cqe(), None);
}

type Row = (&'static str, fn());

const TABLE: &[Row] = &[
    // ---- setup ----
    ("setup: entries 0", || {
        assert_eq!(ring_err(0), SetupError::EntriesZero);
    }),
    ("setup: entries 3", || {
        assert_eq!(ring_err(3), SetupError::EntriesNotPowerOfTwo);
    }),
    ("setup: entries 65536 (> kernel max 32768)", || {
        assert_eq!(ring_err(1 << 16), SetupError::ArgumentsInvalid);
    }),
    ("setup: entries 2^31", || {
        assert_eq!(ring_err(1 << 31), SetupError::ArgumentsInvalid);
    }),
    ("setup: CQSIZE with cq_entries 0", || {
        let e = init_params(8, IoringSetupFlags::CQSIZE, |_| {}).unwrap_err();
        assert_eq!(e, SetupError::ArgumentsInvalid);
    }),
    ("setup: CQSIZE with cq_entries above the kernel max", || {
        let e = init_params(8, IoringSetupFlags::CQSIZE, |p| p.cq_entries = 1 << 20).unwrap_err();
        assert_eq!(e, SetupError::ArgumentsInvalid);
    }),
    ("setup: CQSIZE with fewer CQ than SQ entries", || {
        let e = init_params(16, IoringSetupFlags::CQSIZE, |p| p.cq_entries = 4).unwrap_err();
        assert_eq!(e, SetupError::ArgumentsInvalid);
    }),
    (
        "setup: an unknown flag bit (refused by the allow-list)",
        || {
            let e = IoUring::init(8, IoringSetupFlags::from_bits_retain(1 << 31)).unwrap_err();
            assert_eq!(e, SetupError::UnsupportedFlags(1 << 31));
        },
    ),
    (
        "setup: CQE_MIXED (6.18: the kernel knows it, the ring does not parse it)",
        || {
            let flags = IoringSetupFlags::from_bits_retain(uring::sys::IORING_SETUP_CQE_MIXED);
            let e = IoUring::init(8, flags).unwrap_err();
            assert_eq!(
                e,
                SetupError::UnsupportedFlags(uring::sys::IORING_SETUP_CQE_MIXED)
            );
        },
    ),
    ("setup: DEFER_TASKRUN without SINGLE_ISSUER", || {
        let e = IoUring::init(8, IoringSetupFlags::DEFER_TASKRUN).unwrap_err();
        assert_eq!(e, SetupError::ArgumentsInvalid);
    }),
    ("setup: SQ_AFF without SQPOLL", || {
        let e = IoUring::init(8, IoringSetupFlags::SQ_AFF).unwrap_err();
        assert_eq!(e, SetupError::ArgumentsInvalid);
    }),
    ("setup: SQPOLL pinned to a CPU that does not exist", || {
        let flags = IoringSetupFlags::SQPOLL | IoringSetupFlags::SQ_AFF;
        let e = init_params(8, flags, |p| p.sq_thread_cpu = 4096).unwrap_err();
        assert_eq!(e, SetupError::ArgumentsInvalid);
    }),
    ("setup: ATTACH_WQ to an fd that is not a ring", || {
        let z = zero();
        let e =
            init_params(8, IoringSetupFlags::ATTACH_WQ, |p| p.wq_fd = z.as_raw_fd()).unwrap_err();
        assert_eq!(e, SetupError::ArgumentsInvalid);
    }),
    ("setup: ATTACH_WQ to a closed fd", || {
        let e = init_params(8, IoringSetupFlags::ATTACH_WQ, |p| p.wq_fd = 9999).unwrap_err();
        assert_eq!(e, SetupError::WqFdNotOpen);
    }),
    ("setup: CQE32 (a layout this crate does not drive)", || {
        let e = IoUring::init(8, IoringSetupFlags::CQE32).unwrap_err();
        assert!(matches!(e, SetupError::UnsupportedFlags(_)), "{e:?}");
    }),
    // ---- enter ----
    ("enter: an unknown flag bit", || {
        let mut ring = ring();
        let e = ring
            .enter(0, 0, IoringEnterFlags::from_bits_retain(1 << 30))
            .unwrap_err();
        assert_eq!(e, uring::EnterError::SubmissionQueueEntryInvalid);
    }),
    // ---- SQEs ----
    ("sqe: read on fd 9999", || {
        let mut buf = [0u8; 16];
        fails_with(Errno::BADF, sqe(|s| s.prep_read(9999, &mut buf, 0)));
    }),
    ("sqe: read on fd -1", || {
        let mut buf = [0u8; 16];
        fails_with(Errno::BADF, sqe(|s| s.prep_read(-1, &mut buf, 0)));
    }),
    ("sqe: fixed file without a registered table", || {
        let mut buf = [0u8; 16];
        let s = sqe(|s| {
            s.prep_read(0, &mut buf, 0);
            s.flags |= IOSQE_FIXED_FILE;
        });
        fails_with(Errno::BADF, s);
    }),
    ("sqe: fixed file index past the registered table", || {
        let z = zero();
        let mut ring = ring();
        ring.register_files(&[Some(z.as_fd())]).unwrap();
        let mut buf = [0u8; 16];
        let cqe = complete(
            &mut ring,
            sqe(|s| {
                s.prep_read(5, &mut buf, 0);
                s.flags |= IOSQE_FIXED_FILE;
            }),
        );
        assert_eq!(cqe.err(), Some(Errno::BADF), "{cqe:?}");
        // Index 0 works.
        let cqe = complete(
            &mut ring,
            sqe(|s| {
                s.prep_read(0, &mut buf, 0);
                s.flags |= IOSQE_FIXED_FILE;
            }),
        );
        assert_eq!(cqe.result(), Ok(16));
    }),
    ("sqe: unknown opcode 250", || {
        fails_with(Errno::INVAL, sqe(|s| s.opcode = 250));
    }),
    ("sqe: opcode IORING_OP_LAST", || {
        fails_with(Errno::INVAL, sqe(|s| s.opcode = Op::IORING_OP_LAST as u8));
    }),
    ("sqe: unknown SQE flag bit", || {
        fails_with(
            Errno::INVAL,
            sqe(|s| {
                s.prep_nop();
                s.flags = 1 << 7;
            }),
        );
    }),
    ("sqe: unregistered personality", || {
        fails_with(
            Errno::INVAL,
            sqe(|s| {
                s.prep_nop();
                s.personality = 0x7fff;
            }),
        );
    }),
    (
        "sqe: BUFFER_SELECT on an opcode without buffer selection",
        || {
            fails_with(
                Errno::OPNOTSUPP,
                sqe(|s| {
                    s.prep_nop();
                    s.flags |= IOSQE_BUFFER_SELECT;
                }),
            );
        },
    ),
    ("sqe: read into an unmapped address", || {
        let z = zero();
        fails_with(
            Errno::FAULT,
            sqe(|s| s.prep_rw(Op::IORING_OP_READ, z.as_raw_fd(), UNMAPPED, 16, 0)),
        );
    }),
    ("sqe: write from an unmapped address", || {
        let (_rd, wr) = pipe();
        fails_with(
            Errno::FAULT,
            sqe(|s| s.prep_rw(Op::IORING_OP_WRITE, wr.as_raw_fd(), UNMAPPED, 16, 0)),
        );
    }),
    ("sqe: read from a write-only fd", || {
        let (_rd, wr) = pipe();
        let mut buf = [0u8; 4];
        fails_with(
            Errno::BADF,
            sqe(|s| s.prep_read(wr.as_raw_fd(), &mut buf, 0)),
        );
    }),
    ("sqe: close of fd 9999", || {
        fails_with(Errno::BADF, sqe(|s| s.prep_close(9999)));
    }),
    ("sqe: send_zc on a pipe (not a socket)", || {
        let (_rd, wr) = pipe();
        let data = [1u8; 8];
        zc_fails_with(
            Errno::NOTSOCK,
            sqe(|s| {
                s.prep_send_zc(
                    wr.as_raw_fd(),
                    &data,
                    NOSIGNAL,
                    uring::sys::IoringSendFlags::empty(),
                )
            }),
        );
    }),
    ("sqe: send_zc with an unknown zero-copy flag", || {
        let (c, _s) = tcp_pair();
        let data = [1u8; 8];
        zc_fails_with(
            Errno::INVAL,
            sqe(|s| {
                s.prep_send_zc(
                    c.as_raw_fd(),
                    &data,
                    NOSIGNAL,
                    uring::sys::IoringSendFlags::from_bits_retain(1 << 14),
                )
            }),
        );
    }),
    ("sqe: send_zc_fixed without registered buffers", || {
        let (c, _s) = tcp_pair();
        let mut ring = ring();
        let data = [1u8; 64];
        send_zc_fixed_fails(&mut ring, c.as_raw_fd(), &data, 0, Errno::FAULT);
    }),
    ("sqe: send_zc_fixed with an unregistered index", || {
        let (c, _s) = tcp_pair();
        let mut ring = ring();
        let mut buffer = vec![7u8; 4096];
        register_one(&mut ring, &mut buffer);
        send_zc_fixed_fails(&mut ring, c.as_raw_fd(), &buffer[..64], 1, Errno::FAULT);
        send_zc_fixed_fails(
            &mut ring,
            c.as_raw_fd(),
            &buffer[..64],
            u16::MAX,
            Errno::FAULT,
        );
        // SAFETY: no request on the registered table is queued or in flight.
        unsafe { ring.unregister_buffers() }.unwrap();
    }),
    (
        "sqe: send_zc_fixed with a range outside the registered buffer",
        || {
            let (c, _s) = tcp_pair();
            let mut ring = ring();
            let mut backing = vec![7u8; 8192];
            register_one(&mut ring, &mut backing[..4096]);
            // Starts inside, ends 1 byte past the end.
            send_zc_fixed_fails(
                &mut ring,
                c.as_raw_fd(),
                &backing[4000..4097],
                0,
                Errno::FAULT,
            );
            // Entirely after it.
            send_zc_fixed_fails(
                &mut ring,
                c.as_raw_fd(),
                &backing[5000..5100],
                0,
                Errno::FAULT,
            );
            // Entirely before it.
            let other = vec![1u8; 64];
            send_zc_fixed_fails(&mut ring, c.as_raw_fd(), &other, 0, Errno::FAULT);
            // SAFETY: no request on the registered table is queued or in flight.
            unsafe { ring.unregister_buffers() }.unwrap();
        },
    ),
    ("sqe: recv into a buffer group with no buffers", || {
        let (c, s) = tcp_pair();
        let mut ring = ring();
        // Registered, but no buffer was ever added.
        let br = BufRing::setup_buf_ring(&ring, 4, 9, BufRingFlags::empty()).unwrap();
        rustix::io::write(&c, b"data").unwrap();
        let buffer = RecvBuffer::BufferSelection {
            group_id: 9,
            len: 0,
        };
        // SAFETY: the group names no memory (it has no buffer).
        unsafe { ring.recv(0x9, s.as_raw_fd(), buffer, uring::sys::RecvFlags::empty()) }.unwrap();
        ring.submit().unwrap();
        let cqe = common::reap(&mut ring, 1)[0];
        assert_eq!(cqe.err(), Some(Errno::NOBUFS), "{cqe:?}");
        assert_eq!(cqe.buffer_id(), None);
        drop(br);
    }),
    ("sqe: recv into a buffer group that does not exist", || {
        let (c, s) = tcp_pair();
        let mut ring = ring();
        rustix::io::write(&c, b"data").unwrap();
        let buffer = RecvBuffer::BufferSelection {
            group_id: 77,
            len: 0,
        };
        // SAFETY: no group: no memory named.
        unsafe { ring.recv(0x9, s.as_raw_fd(), buffer, uring::sys::RecvFlags::empty()) }.unwrap();
        ring.submit().unwrap();
        let cqe = common::reap(&mut ring, 1)[0];
        assert_eq!(cqe.err(), Some(Errno::NOBUFS), "{cqe:?}");
    }),
    (
        "sqe: read with buffer selection from an empty BufferGroup",
        || {
            let (rd, wr) = pipe();
            let mut ring = ring();
            let mut group = BufferGroup::init(&ring, 3, 16, 1).unwrap();
            rustix::io::write(&wr, b"0123456789abcdefXYZ").unwrap();
            let sel = || ReadBuffer::BufferSelection {
                group_id: 3,
                len: 16,
            };
            // SAFETY: the group outlives both completions, reaped here.
            unsafe { ring.read(1, rd.as_raw_fd(), sel(), u64::MAX) }.unwrap();
            ring.submit().unwrap();
            let first = common::reap(&mut ring, 1)[0];
            assert_eq!(group.get(&first).unwrap(), b"0123456789abcdef");
            // SAFETY: as above.
            unsafe { ring.read(2, rd.as_raw_fd(), sel(), u64::MAX) }.unwrap();
            ring.submit().unwrap();
            let starved = common::reap(&mut ring, 1)[0];
            assert_eq!(starved.err(), Some(Errno::NOBUFS), "{starved:?}");
            group.put_cqe(&first).unwrap();
        },
    ),
    // ---- timeouts ----
    ("timeout: tv_nsec < 0", || {
        timeout_fails(
            Timespec {
                tv_sec: 0,
                tv_nsec: -1,
            },
            0,
        );
    }),
    (
        "timeout: tv_nsec = 1e9 is not refused: the kernel normalizes it to 1 s",
        || {
            // io_uring checks only for negative fields (6.18): an out-of-range tv_nsec is
            // taken as that many nanoseconds, and the timeout expires normally.
            let mut ring = ring();
            let ts = Timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000,
            };
            // SAFETY: `ts` outlives the completion, reaped here.
            unsafe { ring.timeout(0xbad, &ts, 0, uring::sys::IoringTimeoutFlags::empty()) }
                .unwrap();
            ring.submit().unwrap();
            let cqe = common::reap(&mut ring, 1)[0];
            assert_eq!(cqe.err(), Some(Errno::TIME), "{cqe:?}");
        },
    ),
    ("timeout: tv_sec < 0", || {
        timeout_fails(
            Timespec {
                tv_sec: -1,
                tv_nsec: 0,
            },
            0,
        );
    }),
    ("timeout: unknown flag bit", || {
        timeout_fails(
            Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            },
            1 << 30,
        );
    }),
    ("timeout: two clock flags at once", || {
        let both = uring::sys::IORING_TIMEOUT_BOOTTIME | uring::sys::IORING_TIMEOUT_REALTIME;
        timeout_fails(
            Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            },
            both,
        );
    }),
    (
        "link_timeout: tv_nsec < 0 fails, and its request with it",
        || {
            let (rd, _wr) = pipe();
            let mut ring = ring();
            let mut buf = [0u8; 8];
            let ts = Timespec {
                tv_sec: 0,
                tv_nsec: -5,
            };
            // SAFETY: `buf` and `ts` outlive both completions, reaped here.
            unsafe {
                ring.read(1, rd.as_raw_fd(), ReadBuffer::Buffer(&mut buf), u64::MAX)
                    .unwrap()
                    .link();
                ring.link_timeout(2, &ts, uring::sys::IoringTimeoutFlags::empty())
                    .unwrap();
            }
            ring.submit().unwrap();
            let cqes = common::reap(&mut ring, 2);
            let read = cqes.iter().find(|c| c.user_data == 1).unwrap();
            let lt = cqes.iter().find(|c| c.user_data == 2).unwrap();
            assert_eq!(lt.err(), Some(Errno::INVAL), "{cqes:?}");
            assert_eq!(read.err(), Some(Errno::CANCELED), "{cqes:?}");
        },
    ),
    (
        "timeout_remove / cancel / poll_remove of unknown user_data",
        || {
            let mut ring = ring();
            ring.timeout_remove(1, 0x5555, uring::sys::IoringTimeoutFlags::empty())
                .unwrap();
            ring.cancel(2, 0x5555, uring::sys::IoringAsyncCancelFlags::empty())
                .unwrap();
            ring.poll_remove(3, 0x5555).unwrap();
            ring.submit().unwrap();
            let cqes = common::reap(&mut ring, 3);
            assert!(
                cqes.iter().all(|c| c.err() == Some(Errno::NOENT)),
                "{cqes:?}"
            );
        },
    ),
    // ---- registration ----
    ("register_buffers: empty slice", || {
        let mut ring = ring();
        // SAFETY: nothing is registered.
        assert_eq!(
            unsafe { ring.register_buffers(&[]) },
            Err(RegisterError::Empty)
        );
    }),
    ("register_buffers: a buffer larger than 1 GiB", || {
        let mut ring = ring();
        let mut small = [0u8; 64];
        let iov = [iovec {
            iov_base: small.as_mut_ptr().cast(),
            iov_len: (1 << 30) + 4096,
        }];
        // SAFETY: the kernel refuses the length before touching the memory.
        let r = unsafe { ring.register_buffers(&iov) };
        assert_eq!(r, Err(RegisterError::BufferInvalid));
    }),
    ("register_buffers: an empty buffer", || {
        let mut ring = ring();
        let mut small = [0u8; 64];
        let iov = [iovec {
            iov_base: small.as_mut_ptr().cast(),
            iov_len: 0,
        }];
        // SAFETY: refused before the kernel pins anything.
        let r = unsafe { ring.register_buffers(&iov) };
        assert_eq!(r, Err(RegisterError::BufferInvalid));
    }),
    ("register_buffers: an unmapped address", || {
        let mut ring = ring();
        let iov = [iovec {
            iov_base: 4096 as *mut _,
            iov_len: 4096,
        }];
        // SAFETY: the kernel cannot pin an unmapped page: it fails, nothing registered.
        let r = unsafe { ring.register_buffers(&iov) };
        assert_eq!(r, Err(RegisterError::BufferInvalid));
        // SAFETY: no request on the registered table is queued or in flight.
        assert_eq!(
            unsafe { ring.unregister_buffers() },
            Err(RegisterError::NotRegistered)
        );
    }),
    ("register_buffers: twice", || {
        let mut ring = ring();
        let mut a = vec![0u8; 4096];
        register_one(&mut ring, &mut a);
        let iov = [iovec {
            iov_base: a.as_mut_ptr().cast(),
            iov_len: 4096,
        }];
        // SAFETY: refused; the first registration stays.
        let r = unsafe { ring.register_buffers(&iov) };
        assert_eq!(r, Err(RegisterError::AlreadyRegistered));
        // SAFETY: no request uses the table.
        unsafe { ring.unregister_buffers() }.unwrap();
    }),
    ("register_files: an invalid fd", || {
        let mut ring = ring();
        assert_eq!(
            register_raw_fds(
                &ring,
                rustix::io_uring::IoringRegisterOp::RegisterFiles,
                &[9999]
            ),
            Err(RegisterError::FileDescriptorInvalid)
        );
        // SAFETY: there is no table, and no request.
        assert_eq!(
            unsafe { ring.unregister_files() },
            Err(RegisterError::NotRegistered)
        );
    }),
    ("register_files: a valid fd then an invalid one", || {
        let z = zero();
        let ring = ring();
        assert_eq!(
            register_raw_fds(
                &ring,
                rustix::io_uring::IoringRegisterOp::RegisterFiles,
                &[z.as_raw_fd(), 9999]
            ),
            Err(RegisterError::FileDescriptorInvalid)
        );
    }),
    ("register_files: the ring's own fd", || {
        let ring = ring();
        let own = ring.fd();
        assert_eq!(
            register_raw_fds(
                &ring,
                rustix::io_uring::IoringRegisterOp::RegisterFiles,
                &[own]
            ),
            Err(RegisterError::FileDescriptorInvalid)
        );
    }),
    ("register_files: empty slice and twice", || {
        let z = zero();
        let mut ring = ring();
        assert_eq!(ring.register_files(&[]), Err(RegisterError::Empty));
        ring.register_files(&[Some(z.as_fd())]).unwrap();
        assert_eq!(
            ring.register_files(&[Some(z.as_fd())]),
            Err(RegisterError::AlreadyRegistered)
        );
        // SAFETY: no request uses the table.
        unsafe { ring.unregister_files() }.unwrap();
    }),
    (
        "register_files_update: without a table, past the table",
        || {
            let z = zero();
            let mut ring = ring();
            // SAFETY (the updates below): no request uses the table.
            assert_eq!(
                unsafe { ring.register_files_update(0, &[Some(z.as_fd())]) },
                Err(RegisterError::NotRegistered)
            );
            ring.register_files(&[None, None]).unwrap();
            assert_eq!(
                // SAFETY: as above.
                unsafe { ring.register_files_update(2, &[Some(z.as_fd())]) },
                Err(RegisterError::ArgumentsInvalid)
            );
            let bad = [9999];
            let update = uring::sys::io_uring_files_update {
                offset: 0,
                resv: 0,
                fds: bad.as_ptr() as u64,
            };
            assert_eq!(
                // SAFETY: the kernel reads the update and one i32 during the call; 9999 is
                // not open, which it must refuse.
                unsafe {
                    ring.register_raw(
                        rustix::io_uring::IoringRegisterOp::RegisterFilesUpdate,
                        (&update as *const uring::sys::io_uring_files_update).cast(),
                        1,
                    )
                },
                Err(RegisterError::FileDescriptorInvalid)
            );
        },
    ),
    ("register_eventfd: an invalid fd", || {
        let mut ring = ring();
        assert_eq!(
            register_raw_fds(
                &ring,
                rustix::io_uring::IoringRegisterOp::RegisterEventfd,
                &[9999]
            ),
            Err(RegisterError::FileDescriptorInvalid)
        );
        // An open descriptor that is not an eventfd, through the safe method.
        let z = zero();
        assert_eq!(
            ring.register_eventfd(z.as_fd()),
            Err(RegisterError::ArgumentsInvalid)
        );
    }),
    ("unregister_personality: an id never registered", || {
        let mut ring = ring();
        assert_eq!(
            ring.unregister_personality(999),
            Err(RegisterError::ArgumentsInvalid)
        );
    }),
    ("buffer groups: bad sizes and a group id twice", || {
        let ring = ring();
        assert_eq!(
            BufferGroup::init(&ring, 1, 0, 4).unwrap_err(),
            BufRingError::BufferSizeInvalid
        );
        assert_eq!(
            BufferGroup::init(&ring, 1, 64, 0).unwrap_err(),
            BufRingError::EntriesNotInRange
        );
        // 4 GiB x 32768 = 128 TiB: more than the address space; a typed mmap error.
        assert!(matches!(
            BufferGroup::init(&ring, 1, u32::MAX, 32768).unwrap_err(),
            BufRingError::Mmap(Errno::NOMEM)
        ));
        let g = BufferGroup::init(&ring, 1, 64, 4).unwrap();
        // The failed second registration closes its fd duplicate and unmaps its slab.
        assert_eq!(
            BufferGroup::init(&ring, 1, 64, 4).unwrap_err(),
            BufRingError::Register(RegisterError::AlreadyExists)
        );
        assert_eq!(
            BufRing::setup_buf_ring(&ring, 3, 2, BufRingFlags::empty()).unwrap_err(),
            BufRingError::EntriesNotPowerOfTwo
        );
        g.deinit().unwrap();
    }),
];

fn ring_err(entries: u32) -> SetupError {
    IoUring::init(entries, IoringSetupFlags::empty()).unwrap_err()
}

fn run_table() {
    let before = common::open_fds();
    let maps_before = common::mappings();
    for (name, row) in TABLE {
        let result = std::panic::catch_unwind(row);
        assert!(result.is_ok(), "row {name:?} failed (see the panic above)");
        let after = common::open_fds();
        assert_eq!(
            after, before,
            "row {name:?} leaked (or closed) file descriptors"
        );
        let maps_after = common::mappings();
        let new: Vec<_> = maps_after.difference(&maps_before).collect();
        assert!(new.is_empty(), "row {name:?} left mappings: {new:?}");
    }
    println!(
        "{} rows, each with its typed error, no fd and no mapping left",
        TABLE.len()
    );
}

#[test]
fn bad_input_gets_typed_errors_and_leaks_nothing() {
    common::run_alone(
        "bad_input_gets_typed_errors_and_leaks_nothing",
        Duration::from_secs(120),
        run_table,
    );
}
