//! The tests of Zig's `std.os.linux.IoUring` (lib/std/os/linux/IoUring.zig), ported one to
//! one and named after them in snake_case, plus tests of the operations Zig does not test.
//!
//! Differences from Zig, on purpose:
//! - Completions of different requests are matched by user_data and flags, never by
//!   position (Zig's own `accept/connect/send_zc/recv` assumed an order and fails on 6.18).
//! - A test skips only when the kernel lacks the opcode (probe), with one `SKIP:` line.
//! - No test measures wall-clock time; timeouts only bound the waits.
//! - The provided-buffer-ring tests (`BufferGroup`, `ring mapped buffers …`) and
//!   `register_files_update` live with the registration code, not here.
mod common;

use std::ffi::{c_void, CString};
use std::io::{IoSlice, IoSliceMut, Write};
use std::mem::{size_of, ManuallyDrop};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use common::{assert_same_cqes, neg, reap, supported, TempDir};
use linux_raw_sys::general as g;
use linux_raw_sys::net as n;
use rustix::io::Errno;
use uring::sys::{self, io_uring_op as Op, IoringSetupFlags};
use uring::{
    timespec, Cqe, IdType, IoUring, MsgHdr, ReadBuffer, RecvBuffer, RecvmsgOut, SetupError,
    SigInfo, SockAddr, SocketOp, Sqe, Statx, FILE_INDEX_ALLOC,
};

fn ring(entries: u32) -> IoUring {
    IoUring::init(entries, IoringSetupFlags::empty()).expect("io_uring_setup")
}

fn op(o: Op) -> u8 {
    sys::op(o)
}

fn cqe(user_data: u64, res: i32, flags: u32) -> Cqe {
    Cqe {
        user_data,
        res,
        flags,
    }
}

/// The one CQE of `cqes` with this user_data.
fn only(cqes: &[Cqe], user_data: u64) -> Cqe {
    let found: Vec<Cqe> = cqes
        .iter()
        .copied()
        .filter(|c| c.user_data == user_data)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "exactly one CQE for {user_data:#x}: {cqes:?}"
    );
    found[0]
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Takes ownership of a descriptor a completion returned.
fn owned(res: i32) -> OwnedFd {
    assert!(res >= 0, "a descriptor, got {res}");
    // SAFETY: the kernel just created this descriptor for us; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(res) }
}

fn zeroed<T>() -> T {
    // SAFETY: only used for the kernel's plain-integer structs (statx, siginfo, epoll_event),
    // for which all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

/// Zig's `createListenerSocket`: a TCP listener on 127.0.0.1, port chosen by the kernel.
fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = l.local_addr().unwrap();
    (l, a)
}

#[test]
fn structs_offsets_entries() {
    assert_eq!(size_of::<sys::io_uring_params>(), 120);
    assert_eq!(size_of::<Sqe>(), 64);
    assert_eq!(size_of::<Cqe>(), 16);

    assert_eq!(sys::IORING_OFF_SQ_RING, 0);
    assert_eq!(sys::IORING_OFF_CQ_RING, 0x8000000);
    assert_eq!(sys::IORING_OFF_SQES, 0x10000000);

    assert!(matches!(
        IoUring::init(0, IoringSetupFlags::empty()),
        Err(SetupError::EntriesZero)
    ));
    assert!(matches!(
        IoUring::init(3, IoringSetupFlags::empty()),
        Err(SetupError::EntriesNotPowerOfTwo)
    ));
}

#[test]
fn nop() {
    let mut ring = ring(1);

    let sqe = *ring.nop(0xaaaaaaaa).unwrap();
    // Zig's prep_nop leaves fd 0; ours follows liburing's io_uring_prep_nop (fd -1).
    assert_eq!(
        sqe,
        Sqe {
            opcode: op(Op::IORING_OP_NOP),
            flags: 0,
            ioprio: 0,
            fd: -1,
            off: 0,
            addr: 0,
            len: 0,
            rw_flags: 0,
            user_data: 0xaaaaaaaa,
            buf_index: 0,
            personality: 0,
            splice_fd_in: 0,
            addr3: 0,
            resv: 0,
        }
    );

    // Zig reads sq.sqe_head/sqe_tail; their difference is `pending()`.
    assert_eq!(ring.sq().pending(), 1);
    assert_eq!(ring.sq().tail(), 0);
    assert_eq!(ring.cq().head(), 0);
    assert_eq!(ring.sq_ready(), 1);
    assert_eq!(ring.cq_ready(), 0);

    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.sq().pending(), 0);
    assert_eq!(ring.sq().tail(), 1);
    assert_eq!(ring.cq().head(), 0);
    assert_eq!(ring.sq_ready(), 0);

    assert_eq!(ring.copy_cqe().unwrap(), cqe(0xaaaaaaaa, 0, 0));
    assert_eq!(ring.cq().head(), 1);
    assert_eq!(ring.cq_ready(), 0);

    ring.nop(0xbbbbbbbb)
        .unwrap()
        .add_flags(sys::IOSQE_IO_DRAIN)
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0xbbbbbbbb, 0, 0));
    assert_eq!(ring.sq().pending(), 0);
    assert_eq!(ring.sq().tail(), 2);
    assert_eq!(ring.cq().head(), 2);

    // Zig checks `ring.fd == -1` after deinit; here deinit consumes the ring, so no use
    // after it can even be written.
    ring.deinit();
}

#[test]
fn readv() {
    let mut ring = ring(1);
    let file = std::fs::File::open("/dev/zero").unwrap();
    // Zig avoids sparse (-1) entries here, for 5.4; so do we.
    ring.register_files(&[Some(file.as_fd())]).unwrap();
    let fd_index = 0;

    let mut buffer = [42u8; 128];
    {
        let iovecs = [IoSliceMut::new(&mut buffer)];
        // SAFETY: `iovecs` and `buffer` outlive the completion reaped below.
        let mut sqe = unsafe {
            ring.read(0xcccccccc, fd_index, ReadBuffer::Iovecs(&iovecs), 0)
                .unwrap()
        };
        assert_eq!(sqe.opcode, op(Op::IORING_OP_READV));
        // SAFETY: slot `fd_index` holds /dev/zero until after the completion is reaped.
        unsafe { sqe.add_flags_unchecked(sys::IOSQE_FIXED_FILE) };

        assert!(ring.nop(0).is_err(), "the one-entry SQ is full");
        assert_eq!(ring.submit().unwrap(), 1);
        assert_eq!(ring.copy_cqe().unwrap(), cqe(0xcccccccc, 128, 0));
    }
    assert_eq!(buffer, [0u8; 128]);

    // SAFETY: every request on the table has been reaped above.
    unsafe { ring.unregister_files() }.unwrap();
}

#[test]
fn writev_fsync_readv() {
    let mut ring = ring(4);
    let tmp = TempDir::new("writev_fsync_readv");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp.join("test_io_uring_writev_fsync_readv"))
        .unwrap();
    let fd = file.as_raw_fd();

    let buffer_write = [42u8; 128];
    let iovecs_write = [IoSlice::new(&buffer_write)];
    let mut buffer_read = [0u8; 128];
    {
        let iovecs_read = [IoSliceMut::new(&mut buffer_read)];

        // SAFETY: the iovecs and buffers outlive the completions reaped below.
        unsafe {
            let mut sqe = ring.writev(0xdddddddd, fd, &iovecs_write, 17).unwrap();
            assert_eq!(sqe.opcode, op(Op::IORING_OP_WRITEV));
            assert_eq!(sqe.off, 17);
            sqe.link();

            let mut sqe = ring
                .fsync(0xeeeeeeee, fd, uring::sys::IoringFsyncFlags::empty())
                .unwrap();
            assert_eq!(sqe.opcode, op(Op::IORING_OP_FSYNC));
            assert_eq!(sqe.fd, fd);
            sqe.link();

            let sqe = ring
                .read(0xffffffff, fd, ReadBuffer::Iovecs(&iovecs_read), 17)
                .unwrap();
            assert_eq!(sqe.opcode, op(Op::IORING_OP_READV));
            assert_eq!(sqe.off, 17);
        }

        assert_eq!(ring.sq_ready(), 3);
        assert_eq!(ring.submit_and_wait(3).unwrap(), 3);
        assert_eq!(ring.sq_ready(), 0);
        assert_eq!(ring.cq_ready(), 3);

        // One at a time, as Zig, watching cq_ready fall; matched by user_data.
        let mut got = Vec::new();
        for left in (0..3).rev() {
            got.push(ring.copy_cqe().unwrap());
            assert_eq!(ring.cq_ready(), left);
        }
        assert_same_cqes(
            &got,
            &[
                cqe(0xdddddddd, 128, 0),
                cqe(0xeeeeeeee, 0, 0),
                cqe(0xffffffff, 128, 0),
            ],
        );
    }
    assert_eq!(buffer_write, buffer_read);
}

#[test]
fn write_read() {
    let mut ring = ring(2);
    let tmp = TempDir::new("write_read");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp.join("test_io_uring_write_read"))
        .unwrap();
    let fd = file.as_raw_fd();

    let buffer_write = [97u8; 20];
    let mut buffer_read = [98u8; 20];
    // SAFETY: both buffers outlive the completions reaped below.
    unsafe {
        let mut sqe = ring.write(0x11111111, fd, &buffer_write, 10).unwrap();
        assert_eq!(sqe.opcode, op(Op::IORING_OP_WRITE));
        assert_eq!(sqe.off, 10);
        sqe.link();
        let sqe = ring
            .read(0x22222222, fd, ReadBuffer::Buffer(&mut buffer_read), 10)
            .unwrap();
        assert_eq!(sqe.opcode, op(Op::IORING_OP_READ));
        assert_eq!(sqe.off, 10);
    }
    assert_eq!(ring.submit().unwrap(), 2);
    assert_same_cqes(
        &reap(&mut ring, 2),
        &[cqe(0x11111111, 20, 0), cqe(0x22222222, 20, 0)],
    );
    assert_eq!(buffer_write, buffer_read);
}

#[test]
fn splice_read() {
    let mut ring = ring(4);
    let tmp = TempDir::new("splice_read");
    let mut file_src = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp.join("test_io_uring_splice_src"))
        .unwrap();
    let file_dst = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp.join("test_io_uring_splice_dst"))
        .unwrap();

    let buffer_write = [97u8; 20];
    let mut buffer_read = [98u8; 20];
    file_src.write_all(&buffer_write).unwrap();

    let (pipe_r, pipe_w) = rustix::pipe::pipe().unwrap();
    let pipe_offset = u64::MAX;

    // SAFETY (both splices): the files and the pipe stay open until after the
    // completions are reaped below.
    let sqe = **unsafe {
        ring.splice(
            0x11111111,
            file_src.as_raw_fd(),
            0,
            pipe_w.as_raw_fd(),
            pipe_offset,
            buffer_write.len(),
        )
    }
    .unwrap()
    .link();
    assert_eq!(sqe.opcode, op(Op::IORING_OP_SPLICE));
    assert_eq!(sqe.addr, 0);
    assert_eq!(sqe.off, pipe_offset);

    // SAFETY: as above.
    let sqe = **unsafe {
        ring.splice(
            0x22222222,
            pipe_r.as_raw_fd(),
            pipe_offset,
            file_dst.as_raw_fd(),
            10,
            buffer_write.len(),
        )
    }
    .unwrap()
    .link();
    assert_eq!(sqe.opcode, op(Op::IORING_OP_SPLICE));
    assert_eq!(sqe.addr, pipe_offset);
    assert_eq!(sqe.off, 10);

    // SAFETY: `buffer_read` outlives the completion reaped below.
    let sqe = *unsafe {
        ring.read(
            0x33333333,
            file_dst.as_raw_fd(),
            ReadBuffer::Buffer(&mut buffer_read),
            10,
        )
        .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_READ));
    assert_eq!(sqe.off, 10);
    assert_eq!(ring.submit().unwrap(), 3);

    assert_same_cqes(
        &reap(&mut ring, 3),
        &[
            cqe(0x11111111, 20, 0),
            cqe(0x22222222, 20, 0),
            cqe(0x33333333, 20, 0),
        ],
    );
    assert_eq!(buffer_write, buffer_read);
}

#[test]
fn write_fixed_read_fixed() {
    let mut ring = ring(2);
    let tmp = TempDir::new("write_fixed_read_fixed");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp.join("test_io_uring_write_read_fixed"))
        .unwrap();
    let fd = file.as_raw_fd();

    let mut raw_buffers = [[b'z'; 11]; 2];
    // The first buffer is written to the file.
    raw_buffers[0][..6].copy_from_slice(b"foobar");
    let buffers = [
        uring::iovec {
            iov_base: raw_buffers[0].as_mut_ptr().cast(),
            iov_len: 11,
        },
        uring::iovec {
            iov_base: raw_buffers[1].as_mut_ptr().cast(),
            iov_len: 11,
        },
    ];
    // SAFETY: `raw_buffers` outlives the registration (unregistered below).
    unsafe { ring.register_buffers(&buffers).unwrap() };

    {
        let (first, second) = raw_buffers.split_at_mut(1);
        // SAFETY: both slices lie in their registered buffers and outlive the completions.
        unsafe {
            let mut sqe = ring.write_fixed(0x45454545, fd, &first[0], 3, 0).unwrap();
            assert_eq!(sqe.opcode, op(Op::IORING_OP_WRITE_FIXED));
            assert_eq!(sqe.off, 3);
            sqe.link();
            let sqe = ring
                .read_fixed(0x12121212, fd, &mut second[0], 0, 1)
                .unwrap();
            assert_eq!(sqe.opcode, op(Op::IORING_OP_READ_FIXED));
            assert_eq!(sqe.off, 0);
        }
        assert_eq!(ring.submit().unwrap(), 2);
        assert_same_cqes(
            &reap(&mut ring, 2),
            &[cqe(0x45454545, 11, 0), cqe(0x12121212, 11, 0)],
        );
    }
    assert_eq!(&raw_buffers[1][0..3], b"\0\0\0");
    assert_eq!(&raw_buffers[1][3..9], b"foobar");
    assert_eq!(&raw_buffers[1][9..11], b"zz");
    // SAFETY: every fixed request has been reaped above.
    unsafe { ring.unregister_buffers() }.unwrap();
}

#[test]
fn openat() {
    let mut ring = ring(1);
    let tmp = TempDir::new("openat");
    let path = cstr("test_io_uring_openat");
    let flags = g::O_CLOEXEC | g::O_RDWR | g::O_CREAT;
    let mode = 0o666;

    // SAFETY: `path` outlives the completion reaped below.
    let sqe = *unsafe {
        ring.openat(
            0x33333333,
            tmp.fd(),
            &path,
            uring::sys::OFlags::from_bits_retain(flags),
            uring::sys::Mode::from_bits_retain(mode),
        )
        .unwrap()
    };
    assert_eq!(
        sqe,
        Sqe {
            opcode: op(Op::IORING_OP_OPENAT),
            flags: 0,
            ioprio: 0,
            fd: tmp.fd(),
            off: 0,
            addr: path.as_ptr() as u64,
            len: mode,
            rw_flags: flags,
            user_data: 0x33333333,
            buf_index: 0,
            personality: 0,
            splice_fd_in: 0,
            addr3: 0,
            resv: 0,
        }
    );
    assert_eq!(ring.submit().unwrap(), 1);

    let cqe_openat = ring.copy_cqe().unwrap();
    assert_eq!(cqe_openat.user_data, 0x33333333);
    assert!(cqe_openat.res > 0, "{cqe_openat:?}");
    assert_eq!(cqe_openat.flags, 0);
    drop(owned(cqe_openat.res));
}

#[test]
fn close() {
    let mut ring = ring(1);
    let tmp = TempDir::new("close");
    let file = std::fs::File::create(tmp.join("test_io_uring_close")).unwrap();
    let fd = file.into_raw_fd();

    // SAFETY: we own `fd` (taken out of the File) and hand it to the ring to close.
    let sqe = *unsafe { ring.close(0x44444444, fd).unwrap() };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_CLOSE));
    assert_eq!(sqe.fd, fd);
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0x44444444, 0, 0));
}

#[test]
fn accept_connect_send_recv() {
    let mut ring = ring(16);
    let h = common::socket_test_harness(&mut ring);

    let buffer_send = [1u8, 0, 1, 0, 1, 0, 1, 0, 1, 0];
    let mut buffer_recv = [0u8, 1, 0, 1, 0];
    // SAFETY: both buffers outlive the completions reaped below.
    unsafe {
        ring.send(
            0xeeeeeeee,
            h.client(),
            &buffer_send,
            uring::sys::SendFlags::empty(),
        )
        .unwrap()
        .link();
        ring.recv(
            0xffffffff,
            h.server(),
            RecvBuffer::Buffer(&mut buffer_recv),
            uring::sys::RecvFlags::empty(),
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 2);

    let got = reap(&mut ring, 2);
    assert_eq!(only(&got, 0xeeeeeeee), cqe(0xeeeeeeee, 10, 0));
    let recv = only(&got, 0xffffffff);
    // IORING_CQE_F_SOCK_NONEMPTY depends on timing; every other flag must be clear.
    assert_eq!(
        recv,
        cqe(0xffffffff, 5, recv.flags & sys::IORING_CQE_F_SOCK_NONEMPTY)
    );
    assert_eq!(&buffer_send[..5], &buffer_recv);
}

/// A msghdr naming `name` and `iovecs` (`IoSlice`/`IoSliceMut` are ABI-compatible with
/// `struct iovec`).
fn msghdr(name: *mut n::sockaddr, namelen: u32, iovecs: *mut c_void, iovlen: usize) -> MsgHdr {
    MsgHdr {
        msg_name: name.cast(),
        msg_namelen: namelen as i32,
        msg_iov: iovecs.cast(),
        msg_iovlen: iovlen,
        msg_control: std::ptr::null_mut(),
        msg_controllen: 0,
        msg_flags: 0,
    }
}

#[test]
fn sendmsg_recvmsg() {
    let mut ring = ring(2);
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let address_server = SockAddr::from(server.local_addr().unwrap());

    let buffer_send = [42u8; 128];
    let iovecs_send = [IoSlice::new(&buffer_send)];
    let msg_send = msghdr(
        address_server.as_ptr().cast_mut(),
        address_server.len(),
        iovecs_send.as_ptr().cast_mut().cast(),
        1,
    );

    let mut buffer_recv = [0u8; 128];
    let mut address_recv = SockAddr::default();
    {
        let mut iovecs_recv = [IoSliceMut::new(&mut buffer_recv)];
        let mut msg_recv = msghdr(
            address_recv.as_mut_ptr(),
            address_recv.len(),
            iovecs_recv.as_mut_ptr().cast(),
            1,
        );

        // SAFETY: the msghdrs, iovecs, buffers and addresses outlive the completions
        // reaped below.
        unsafe {
            let sqe = **ring
                .sendmsg(
                    0x11111111,
                    client.as_raw_fd(),
                    &msg_send,
                    uring::sys::SendFlags::empty(),
                )
                .unwrap()
                .link();
            assert_eq!(sqe.opcode, op(Op::IORING_OP_SENDMSG));
            assert_eq!(sqe.fd, client.as_raw_fd());

            let sqe = *ring
                .recvmsg(
                    0x22222222,
                    server.as_raw_fd(),
                    &mut msg_recv,
                    uring::sys::RecvFlags::empty(),
                )
                .unwrap();
            assert_eq!(sqe.opcode, op(Op::IORING_OP_RECVMSG));
            assert_eq!(sqe.fd, server.as_raw_fd());
        }

        assert_eq!(ring.sq_ready(), 2);
        assert_eq!(ring.submit_and_wait(2).unwrap(), 2);
        assert_eq!(ring.sq_ready(), 0);
        assert_eq!(ring.cq_ready(), 2);

        let got = reap(&mut ring, 2);
        assert_eq!(only(&got, 0x11111111), cqe(0x11111111, 128, 0));
        let recv = only(&got, 0x22222222);
        assert_eq!(
            recv,
            cqe(
                0x22222222,
                128,
                recv.flags & sys::IORING_CQE_F_SOCK_NONEMPTY
            )
        );
        *address_recv.len_mut() = msg_recv.msg_namelen as u32;
    }
    assert_eq!(buffer_send, buffer_recv);
    // Beyond Zig: the kernel filled in the sender's address.
    assert_eq!(
        address_recv.as_socket_addr(),
        Some(client.local_addr().unwrap())
    );
}

#[test]
fn timeout_after_a_relative_time() {
    let mut ring = ring(1);
    let ts = timespec(Duration::from_millis(10));

    // SAFETY: `ts` outlives the completion reaped below.
    let sqe = *unsafe {
        ring.timeout(0x55555555, &ts, 0, uring::sys::IoringTimeoutFlags::empty())
            .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_TIMEOUT));
    assert_eq!(ring.submit().unwrap(), 1);
    // Zig also compares the elapsed time (and skips when outside a margin); we do not
    // depend on timing.
    assert_eq!(
        ring.copy_cqe().unwrap(),
        cqe(0x55555555, neg(Errno::TIME), 0)
    );
}

#[test]
fn timeout_after_a_number_of_completions() {
    let mut ring = ring(2);
    let ts = timespec(Duration::from_secs(3));
    let count_completions = 1;

    // SAFETY: `ts` outlives the completions reaped below.
    let sqe = *unsafe {
        ring.timeout(
            0x66666666,
            &ts,
            count_completions,
            uring::sys::IoringTimeoutFlags::empty(),
        )
        .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_TIMEOUT));
    assert_eq!(sqe.off, u64::from(count_completions));
    ring.nop(0x77777777).unwrap();
    assert_eq!(ring.submit().unwrap(), 2);

    assert_same_cqes(
        &reap(&mut ring, 2),
        &[cqe(0x77777777, 0, 0), cqe(0x66666666, 0, 0)],
    );
}

#[test]
fn timeout_remove() {
    let mut ring = ring(2);
    let ts = timespec(Duration::from_secs(3));

    // SAFETY: `ts` outlives the completions reaped below.
    let sqe = *unsafe {
        ring.timeout(0x88888888, &ts, 0, uring::sys::IoringTimeoutFlags::empty())
            .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_TIMEOUT));
    assert_eq!(sqe.user_data, 0x88888888);

    let sqe = *ring
        .timeout_remove(
            0x99999999,
            0x88888888,
            uring::sys::IoringTimeoutFlags::empty(),
        )
        .unwrap();
    assert_eq!(sqe.opcode, op(Op::IORING_OP_TIMEOUT_REMOVE));
    assert_eq!(sqe.addr, 0x88888888);
    assert_eq!(sqe.user_data, 0x99999999);

    assert_eq!(ring.submit().unwrap(), 2);
    // The order changed between kernels (5.10 vs 5.18); it is not part of the contract.
    assert_same_cqes(
        &reap(&mut ring, 2),
        &[
            cqe(0x88888888, neg(Errno::CANCELED), 0),
            cqe(0x99999999, 0, 0),
        ],
    );
}

#[test]
fn accept_connect_recv_link_timeout() {
    let mut ring = ring(16);
    let h = common::socket_test_harness(&mut ring);

    let mut buffer_recv = [0u8, 1, 0, 1, 0];
    let ts = timespec(Duration::from_millis(1));
    // SAFETY: the buffer and `ts` outlive the completions reaped below.
    unsafe {
        ring.recv(
            0xffffffff,
            h.server(),
            RecvBuffer::Buffer(&mut buffer_recv),
            uring::sys::RecvFlags::empty(),
        )
        .unwrap()
        .link();
        ring.link_timeout(0x22222222, &ts, uring::sys::IoringTimeoutFlags::empty())
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 2);

    for c in reap(&mut ring, 2) {
        match c.user_data {
            0xffffffff => assert!(
                c.res == neg(Errno::INTR) || c.res == neg(Errno::CANCELED),
                "{c:?}"
            ),
            0x22222222 => assert!(
                c.res == neg(Errno::ALREADY) || c.res == neg(Errno::TIME),
                "{c:?}"
            ),
            _ => panic!("unexpected completion {c:?}"),
        }
    }
}

#[test]
fn fallocate() {
    let mut ring = ring(1);
    let tmp = TempDir::new("fallocate");
    let file = std::fs::File::create(tmp.join("test_io_uring_fallocate")).unwrap();
    assert_eq!(file.metadata().unwrap().len(), 0);

    let len = 65536;
    // SAFETY: the file stays open until after the completion is reaped below.
    let sqe = *unsafe {
        ring.fallocate(
            0xaaaaaaaa,
            file.as_raw_fd(),
            uring::sys::FallocateFlags::empty(),
            0,
            len,
        )
    }
    .unwrap();
    assert_eq!(sqe.opcode, op(Op::IORING_OP_FALLOCATE));
    assert_eq!(sqe.fd, file.as_raw_fd());
    assert_eq!(ring.submit().unwrap(), 1);

    let c = ring.copy_cqe().unwrap();
    if c.err() == Some(Errno::OPNOTSUPP) {
        common::skip(
            "fallocate",
            "the temp dir's filesystem does not support fallocate",
        );
        return;
    }
    assert_eq!(c, cqe(0xaaaaaaaa, 0, 0));
    assert_eq!(file.metadata().unwrap().len(), len);
}

#[test]
fn statx() {
    let mut ring = ring(1);
    let tmp = TempDir::new("statx");
    let name = "test_io_uring_statx";
    let mut file = std::fs::File::create(tmp.join(name)).unwrap();
    assert_eq!(file.metadata().unwrap().len(), 0);
    file.write_all(b"foobar").unwrap();

    let path = cstr(name);
    let mut buf: Statx = zeroed();
    // SAFETY: `path` and `buf` outlive the completion reaped below; `buf` is not touched
    // until then.
    let sqe = *unsafe {
        ring.statx(
            0xaaaaaaaa,
            tmp.fd(),
            &path,
            uring::sys::AtFlags::empty(),
            uring::sys::StatxFlags::from_bits_retain(g::STATX_SIZE),
            &mut buf,
        )
        .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_STATX));
    assert_eq!(sqe.fd, tmp.fd());
    assert_eq!(ring.submit().unwrap(), 1);

    assert_eq!(ring.copy_cqe().unwrap(), cqe(0xaaaaaaaa, 0, 0));
    assert_eq!(buf.stx_mask & g::STATX_SIZE, g::STATX_SIZE);
    assert_eq!(buf.stx_size, 6);
}

#[test]
fn accept_connect_recv_cancel() {
    let mut ring = ring(16);
    let h = common::socket_test_harness(&mut ring);

    let mut buffer_recv = [0u8, 1, 0, 1, 0];
    // SAFETY: the buffer outlives the completions reaped below.
    unsafe {
        ring.recv(
            0xffffffff,
            h.server(),
            RecvBuffer::Buffer(&mut buffer_recv),
            uring::sys::RecvFlags::empty(),
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);

    let sqe = *ring
        .cancel(
            0x99999999,
            0xffffffff,
            uring::sys::IoringAsyncCancelFlags::empty(),
        )
        .unwrap();
    assert_eq!(sqe.opcode, op(Op::IORING_OP_ASYNC_CANCEL));
    assert_eq!(sqe.addr, 0xffffffff);
    assert_eq!(sqe.user_data, 0x99999999);
    assert_eq!(ring.submit().unwrap(), 1);

    // The recv and cancel CQEs may arrive in either order.
    assert_same_cqes(
        &reap(&mut ring, 2),
        &[
            cqe(0xffffffff, neg(Errno::CANCELED), 0),
            cqe(0x99999999, 0, 0),
        ],
    );
}

#[test]
fn shutdown() {
    let mut ring = ring(16);

    // Socket bound and listening: shutdown works.
    {
        let (server, _) = listener();
        // SAFETY: the socket lives until after the completion is reaped below.
        let sqe = *unsafe { ring.shutdown(0x445445445, server.as_raw_fd(), n::SHUT_RD) }.unwrap();
        assert_eq!(sqe.opcode, op(Op::IORING_OP_SHUTDOWN));
        assert_eq!(sqe.fd, server.as_raw_fd());
        assert_eq!(ring.submit().unwrap(), 1);
        assert_eq!(ring.copy_cqe().unwrap(), cqe(0x445445445, 0, 0));
    }

    // Socket not connected: ENOTCONN.
    {
        let server = rustix::net::socket_with(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        // SAFETY: the socket lives until after the completion is reaped below.
        let sqe = *unsafe { ring.shutdown(0x445445445, server.as_raw_fd(), n::SHUT_RD) }.unwrap();
        assert_eq!(sqe.opcode, op(Op::IORING_OP_SHUTDOWN));
        assert_eq!(sqe.fd, server.as_raw_fd());
        assert_eq!(ring.submit().unwrap(), 1);
        let c = ring.copy_cqe().unwrap();
        assert_eq!(c.user_data, 0x445445445);
        assert_eq!(c.err(), Some(Errno::NOTCONN));
    }
}

#[test]
fn renameat() {
    let mut ring = ring(1);
    let tmp = TempDir::new("renameat");
    let (old_name, new_name) = ("test_io_uring_renameat_old", "test_io_uring_renameat_new");
    std::fs::write(tmp.join(old_name), "hello").unwrap();

    let (old_path, new_path) = (cstr(old_name), cstr(new_name));
    // SAFETY: both paths outlive the completion reaped below.
    let sqe = *unsafe {
        ring.renameat(
            0x12121212,
            tmp.fd(),
            &old_path,
            tmp.fd(),
            &new_path,
            uring::sys::RenameFlags::empty(),
        )
        .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_RENAMEAT));
    assert_eq!(sqe.fd, tmp.fd());
    assert_eq!(sqe.len as i32, tmp.fd());
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0x12121212, 0, 0));

    assert_eq!(
        std::fs::metadata(tmp.join(old_name)).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    assert_eq!(
        std::fs::read_to_string(tmp.join(new_name)).unwrap(),
        "hello"
    );
}

#[test]
fn unlinkat() {
    let mut ring = ring(1);
    let tmp = TempDir::new("unlinkat");
    let name = "test_io_uring_unlinkat";
    std::fs::File::create(tmp.join(name)).unwrap();

    let path = cstr(name);
    // SAFETY: `path` outlives the completion reaped below.
    let sqe = *unsafe {
        ring.unlinkat(0x12121212, tmp.fd(), &path, uring::sys::AtFlags::empty())
            .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_UNLINKAT));
    assert_eq!(sqe.fd, tmp.fd());
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0x12121212, 0, 0));

    assert_eq!(
        std::fs::metadata(tmp.join(name)).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
}

#[test]
fn mkdirat() {
    let mut ring = ring(1);
    let tmp = TempDir::new("mkdirat");
    let name = "test_io_uring_mkdirat";

    let path = cstr(name);
    // SAFETY: `path` outlives the completion reaped below.
    let sqe = *unsafe {
        ring.mkdirat(
            0x12121212,
            tmp.fd(),
            &path,
            uring::sys::Mode::from_bits_retain(0o755),
        )
        .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_MKDIRAT));
    assert_eq!(sqe.fd, tmp.fd());
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0x12121212, 0, 0));

    assert!(std::fs::metadata(tmp.join(name)).unwrap().is_dir());
}

#[test]
fn symlinkat() {
    let mut ring = ring(1);
    let tmp = TempDir::new("symlinkat");
    let (name, link_name) = ("test_io_uring_symlinkat", "test_io_uring_symlinkat_link");
    std::fs::File::create(tmp.join(name)).unwrap();

    let (target, link_path) = (cstr(name), cstr(link_name));
    // SAFETY: both paths outlive the completion reaped below.
    let sqe = *unsafe {
        ring.symlinkat(0x12121212, &target, tmp.fd(), &link_path)
            .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_SYMLINKAT));
    assert_eq!(sqe.fd, tmp.fd());
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0x12121212, 0, 0));

    // The link exists and leads to the file.
    std::fs::File::open(tmp.join(link_name)).unwrap();
    assert!(std::fs::symlink_metadata(tmp.join(link_name))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn linkat() {
    let mut ring = ring(1);
    let tmp = TempDir::new("linkat");
    let (first, second) = ("test_io_uring_linkat_first", "test_io_uring_linkat_second");
    std::fs::write(tmp.join(first), "hello").unwrap();

    let (first_path, second_path) = (cstr(first), cstr(second));
    // SAFETY: both paths outlive the completion reaped below.
    let sqe = *unsafe {
        ring.linkat(
            0x12121212,
            tmp.fd(),
            &first_path,
            tmp.fd(),
            &second_path,
            uring::sys::AtFlags::empty(),
        )
        .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_LINKAT));
    assert_eq!(sqe.fd, tmp.fd());
    assert_eq!(sqe.len as i32, tmp.fd());
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0x12121212, 0, 0));

    assert_eq!(std::fs::read_to_string(tmp.join(second)).unwrap(), "hello");
}

const GROUP_ID: u16 = 1337;
const BUFFER_LEN: usize = 128;

/// Provides `count` buffers of `BUFFER_LEN` from `first` on, ids from `buffer_id`, and
/// checks the completion.
///
/// # Safety
///
/// The memory must stay valid until the kernel has used or given back every buffer.
unsafe fn provide(ring: &mut IoUring, user_data: u64, first: *mut u8, count: u32, buffer_id: u16) {
    // SAFETY: forwarded to the caller.
    let sqe = *unsafe {
        ring.provide_buffers(
            user_data,
            first,
            BUFFER_LEN as u32,
            count,
            GROUP_ID,
            buffer_id,
        )
        .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_PROVIDE_BUFFERS));
    assert_eq!(sqe.fd, count as i32);
    assert_eq!(sqe.len, BUFFER_LEN as u32);
    assert_eq!(sqe.buf_index, GROUP_ID);
    assert_eq!(ring.submit().unwrap(), 1);
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c.user_data, user_data);
    assert!(c.res >= 0, "provide_buffers: {c:?}");
}

/// Queues and submits a read of `fd` with buffer selection from `GROUP_ID`, checking the
/// SQE as Zig does, and returns its completion.
fn read_selected(ring: &mut IoUring, user_data: u64, fd: RawFd) -> Cqe {
    let selection = ReadBuffer::BufferSelection {
        group_id: GROUP_ID,
        len: BUFFER_LEN,
    };
    // SAFETY: buffer selection names no memory here.
    let sqe = *unsafe { ring.read(user_data, fd, selection, 0).unwrap() };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_READ));
    assert_eq!(sqe.fd, fd);
    assert_eq!(sqe.addr, 0);
    assert_eq!(sqe.len, BUFFER_LEN as u32);
    assert_eq!(sqe.buf_index, GROUP_ID);
    assert_eq!(sqe.flags, sys::IOSQE_BUFFER_SELECT);
    assert_eq!(ring.submit().unwrap(), 1);
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c.user_data, user_data);
    c
}

#[test]
fn provide_buffers_read() {
    let mut ring = ring(1);
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let fd = zero.as_raw_fd();
    let mut buffers = [[0u8; BUFFER_LEN]; 4];
    let base = buffers.as_mut_ptr().cast::<u8>();

    // SAFETY: `buffers` outlives the kernel's use of it: the reads below consume every
    // buffer before the function ends.
    unsafe { provide(&mut ring, 0xcccccccc, base, 4, 0) };

    // Four reads consume the four buffers, each once.
    let mut used = Vec::new();
    for _ in 0..4 {
        let c = read_selected(&mut ring, 0xdededede, fd);
        assert_eq!(c.res, BUFFER_LEN as i32, "{c:?}");
        let id = c.buffer_id().expect("IORING_CQE_F_BUFFER");
        assert!(id <= 3);
        used.push(id);
        // SAFETY: the kernel finished writing this buffer (its completion is reaped).
        let buf = unsafe {
            std::slice::from_raw_parts(base.add(usize::from(id) * BUFFER_LEN), BUFFER_LEN)
        };
        assert_eq!(buf, [0u8; BUFFER_LEN]);
    }
    used.sort_unstable();
    assert_eq!(used, [0, 1, 2, 3]);

    // The group is empty: ENOBUFS.
    let c = read_selected(&mut ring, 0xdfdfdfdf, fd);
    assert_eq!(c.err(), Some(Errno::NOBUFS));

    // Put something we don't expect in the buffers, then provide buffer 2 again.
    // SAFETY: the kernel holds none of the buffers now.
    unsafe { std::ptr::write_bytes(base, 42, 4 * BUFFER_LEN) };
    let reprovided_buffer_id = 2;
    // SAFETY: buffer 2 stays valid until the read below returns it.
    unsafe {
        provide(
            &mut ring,
            0xabababab,
            base.add(reprovided_buffer_id * BUFFER_LEN),
            1,
            reprovided_buffer_id as u16,
        )
    };

    let c = read_selected(&mut ring, 0xdfdfdfdf, fd);
    assert_eq!(c.buffer_id(), Some(reprovided_buffer_id as u16));
    assert_eq!(c.res, BUFFER_LEN as i32);
    assert_eq!(buffers[reprovided_buffer_id], [0u8; BUFFER_LEN]);
}

#[test]
fn remove_buffers() {
    let mut ring = ring(1);
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let fd = zero.as_raw_fd();
    let mut buffers = [[1u8; BUFFER_LEN]; 4];
    let base = buffers.as_mut_ptr().cast::<u8>();

    // SAFETY: `buffers` outlives the kernel's use of it: three buffers are removed and
    // the fourth is consumed below.
    unsafe { provide(&mut ring, 0xcccccccc, base, 4, 0) };

    let sqe = *ring.remove_buffers(0xbababababa, 3, GROUP_ID).unwrap();
    assert_eq!(sqe.opcode, op(Op::IORING_OP_REMOVE_BUFFERS));
    assert_eq!(sqe.fd, 3);
    assert_eq!(sqe.addr, 0);
    assert_eq!(sqe.buf_index, GROUP_ID);
    assert_eq!(ring.submit().unwrap(), 1);
    // Beyond Zig: res is how many were removed.
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0xbababababa, 3, 0));

    // One buffer is left: this read works.
    let c = read_selected(&mut ring, 0xdfdfdfdf, fd);
    assert_eq!(c.res, BUFFER_LEN as i32);
    let id = c.buffer_id().expect("IORING_CQE_F_BUFFER");
    assert!(id < 4);
    assert_eq!(buffers[usize::from(id)], [0u8; BUFFER_LEN]);

    // And this one does not.
    let c = read_selected(&mut ring, 0xdfdfdfdf, fd);
    assert_eq!(c.err(), Some(Errno::NOBUFS));
}

/// Queues and submits a recv on `fd` with buffer selection from `GROUP_ID`, checking the
/// SQE as Zig does, and returns its completion.
fn recv_selected(ring: &mut IoUring, user_data: u64, fd: RawFd) -> Cqe {
    let selection = RecvBuffer::BufferSelection {
        group_id: GROUP_ID,
        len: BUFFER_LEN,
    };
    // SAFETY: buffer selection names no memory here.
    let sqe = *unsafe {
        ring.recv(user_data, fd, selection, uring::sys::RecvFlags::empty())
            .unwrap()
    };
    assert_eq!(sqe.opcode, op(Op::IORING_OP_RECV));
    assert_eq!(sqe.fd, fd);
    assert_eq!(sqe.addr, 0);
    assert_eq!(sqe.len, BUFFER_LEN as u32);
    assert_eq!(sqe.buf_index, GROUP_ID);
    assert_eq!(sqe.rw_flags, 0);
    assert_eq!(sqe.flags, sys::IOSQE_BUFFER_SELECT);
    assert_eq!(ring.submit().unwrap(), 1);
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c.user_data, user_data);
    c
}

#[test]
fn provide_buffers_accept_connect_send_recv() {
    let mut ring = ring(16);
    let mut buffers = [[0u8; BUFFER_LEN]; 4];
    let base = buffers.as_mut_ptr().cast::<u8>();

    // SAFETY: `buffers` outlives the kernel's use of it: every buffer is consumed below.
    unsafe { provide(&mut ring, 0xcccccccc, base, 4, 0) };

    let h = common::socket_test_harness(&mut ring);

    // Four sends on the socket.
    let zzz = [b'z'; BUFFER_LEN];
    for _ in 0..4 {
        // SAFETY: `zzz` outlives the completions reaped below.
        unsafe {
            ring.send(0xdeaddead, h.server(), &zzz, uring::sys::SendFlags::empty())
                .unwrap()
        };
        assert_eq!(ring.submit().unwrap(), 1);
    }
    // Zig copies the four CQEs in one `copy_cqes(&cqes, 4)`, which can return early with
    // fewer; reap all four instead.
    let sends = reap(&mut ring, 4);
    assert!(
        sends.iter().all(|c| *c == cqe(0xdeaddead, 128, 0)),
        "{sends:?}"
    );

    // Put something we don't expect in the buffers.
    // SAFETY: no recv is in flight; the kernel does not write the buffers now.
    unsafe { std::ptr::write_bytes(base, 1, 4 * BUFFER_LEN) };

    // Four receives consume all buffers.
    let mut used = Vec::new();
    for _ in 0..4 {
        let c = recv_selected(&mut ring, 0xdededede, h.client());
        assert_eq!(c.res, BUFFER_LEN as i32, "{c:?}");
        let id = c.buffer_id().expect("IORING_CQE_F_BUFFER");
        assert!(id <= 3);
        used.push(id);
        // SAFETY: the kernel finished writing this buffer.
        let buf = unsafe {
            std::slice::from_raw_parts(base.add(usize::from(id) * BUFFER_LEN), BUFFER_LEN)
        };
        assert_eq!(buf, zzz);
    }
    used.sort_unstable();
    assert_eq!(used, [0, 1, 2, 3]);

    // This one fails: no buffer left.
    let c = recv_selected(&mut ring, 0xdfdfdfdf, h.client());
    assert_eq!(c.err(), Some(Errno::NOBUFS));

    // Provide buffer 2 again.
    let reprovided_buffer_id = 2;
    // SAFETY: buffer 2 stays valid until the recv below returns it.
    unsafe {
        provide(
            &mut ring,
            0xabababab,
            base.add(reprovided_buffer_id * BUFFER_LEN),
            1,
            reprovided_buffer_id as u16,
        )
    };

    // One more send from the server.
    let www = [b'w'; BUFFER_LEN];
    // SAFETY: `www` outlives the completion reaped below.
    unsafe {
        ring.send(0xdeaddead, h.server(), &www, uring::sys::SendFlags::empty())
            .unwrap()
    };
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0xdeaddead, 128, 0));

    // SAFETY: no recv is in flight.
    unsafe { std::ptr::write_bytes(base, 1, 4 * BUFFER_LEN) };

    // The final recv works, into the re-provided buffer.
    let c = recv_selected(&mut ring, 0xdfdfdfdf, h.client());
    assert_eq!(c.buffer_id(), Some(reprovided_buffer_id as u16));
    assert_eq!(c.res, BUFFER_LEN as i32);
    assert_eq!(buffers[reprovided_buffer_id], www);
}

#[test]
fn accept_multishot() {
    let mut addr = SockAddr::default();
    let mut ring = ring(16);
    let (listener, address) = listener();

    let userdata = 0xaaaaaaaa;
    let addr_len = addr.len_mut() as *mut u32;
    // SAFETY: `addr` is declared before the ring and outlives it; each accepted connection
    // is reaped before the next connect, so the kernel's writes to it never overlap our
    // reads (we do not read it anyway).
    unsafe {
        ring.accept_multishot(
            userdata,
            listener.as_raw_fd(),
            addr.as_mut_ptr(),
            addr_len,
            uring::sys::SocketFlags::empty(),
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);

    for _ in 0..4 {
        let client = TcpStream::connect(address).unwrap();
        let c = ring.copy_cqe().unwrap();
        assert!(c.res > 0, "{c:?}");
        assert_eq!(c.user_data, userdata);
        assert!(c.more(), "IORING_CQE_F_MORE: still armed");
        drop(owned(c.res));
        drop(client);
    }

    // Beyond Zig: cancelling ends the multishot with a last CQE without F_MORE.
    ring.cancel(
        0xcccccccc,
        userdata,
        uring::sys::IoringAsyncCancelFlags::empty(),
    )
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_same_cqes(
        &reap(&mut ring, 2),
        &[
            cqe(0xcccccccc, 0, 0),
            cqe(userdata, neg(Errno::CANCELED), 0),
        ],
    );
}

#[test]
fn accept_connect_send_zc_recv() {
    let mut ring = ring(16);
    let h = common::socket_test_harness(&mut ring);

    let buffer_send = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe];
    let mut buffer_recv = [0u8; 10];

    // SAFETY: `buffer_send` stays valid and unmodified until the notification below;
    // `buffer_recv` until the recv completion.
    unsafe {
        ring.send_zc(
            0xeeeeeeee,
            h.client(),
            &buffer_send,
            uring::sys::SendFlags::empty(),
            uring::sys::IoringSendFlags::empty(),
        )
        .unwrap()
        .link();
        ring.recv(
            0xffffffff,
            h.server(),
            RecvBuffer::Buffer(&mut buffer_recv),
            uring::sys::RecvFlags::empty(),
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 2);

    // Three completions in some order: the send (bytes, F_MORE), its notification (0,
    // F_NOTIF) and the recv. Only the two of the send are ordered among themselves.
    let got = reap(&mut ring, 3);
    let send: Vec<Cqe> = got
        .iter()
        .copied()
        .filter(|c| c.user_data == 0xeeeeeeee)
        .collect();
    assert_eq!(
        send,
        [
            // First completion: the byte count, with IORING_CQE_F_MORE: a notification
            // with the same user_data follows; the buffer must live until then.
            cqe(0xeeeeeeee, buffer_send.len() as i32, sys::IORING_CQE_F_MORE),
            // The notification: the kernel is done with the buffer; no F_MORE.
            cqe(0xeeeeeeee, 0, sys::IORING_CQE_F_NOTIF),
        ]
    );
    let recv = only(&got, 0xffffffff);
    assert_eq!(
        recv,
        cqe(0xffffffff, 10, recv.flags & sys::IORING_CQE_F_SOCK_NONEMPTY)
    );
    assert_eq!(&buffer_send[..10], &buffer_recv);

    // Nothing more for the send: a NOP completes, and no other CQE came with it.
    ring.nop(0x1234).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(reap(&mut ring, 1), [cqe(0x1234, 0, 0)]);
    assert_eq!(ring.cq_ready(), 0);
}

#[test]
fn accept_direct() {
    let mut ring = ring(1);
    let (listener, address) = listener();
    let registered_fds = [None; 2];
    ring.register_files(&registered_fds).unwrap();

    let accept_userdata = 0xaaaaaaaa;
    let read_userdata = 0xbbbbbbbb;
    let data = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe];

    for _ in 0..2 {
        for i in 0..registered_fds.len() {
            let mut buffer_recv = [0u8; 16];
            let buffer_send = &data[..data.len() - i];

            // Accept into a slot the kernel picks; the CQE returns it.
            // SAFETY: no address is asked for.
            unsafe {
                ring.accept_direct(
                    accept_userdata,
                    listener.as_raw_fd(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    uring::sys::SocketFlags::empty(),
                )
                .unwrap();
            }
            assert_eq!(ring.submit().unwrap(), 1);

            let mut client = TcpStream::connect(address).unwrap();
            let cqe_accept = ring.copy_cqe().unwrap();
            assert_eq!(cqe_accept.err(), None, "{cqe_accept:?}");
            let fd_index = cqe_accept.res;
            assert!(fd_index < registered_fds.len() as i32);
            assert_eq!(cqe_accept.user_data, accept_userdata);

            client.write_all(buffer_send).unwrap();

            // Receive on the registered file: fd is the slot, with IOSQE_FIXED_FILE.
            // SAFETY: `buffer_recv` outlives the completion reaped below.
            unsafe {
                ring.recv(
                    read_userdata,
                    fd_index,
                    RecvBuffer::Buffer(&mut buffer_recv),
                    uring::sys::RecvFlags::empty(),
                )
                .unwrap()
                // And the slot holds the accepted socket until the completion is reaped.
                .add_flags_unchecked(sys::IOSQE_FIXED_FILE);
            }
            assert_eq!(ring.submit().unwrap(), 1);
            let recv_cqe = ring.copy_cqe().unwrap();
            assert_eq!(recv_cqe.user_data, read_userdata);
            assert_eq!(recv_cqe.res, buffer_send.len() as i32);
            assert_eq!(buffer_send, &buffer_recv[..buffer_send.len()]);
        }

        // No free slot left: ENFILE.
        // SAFETY: no address is asked for.
        unsafe {
            ring.accept_direct(
                accept_userdata,
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                uring::sys::SocketFlags::empty(),
            )
            .unwrap();
        }
        assert_eq!(ring.submit().unwrap(), 1);
        let _client = TcpStream::connect(address).unwrap();
        let cqe_accept = ring.copy_cqe().unwrap();
        assert_eq!(cqe_accept.user_data, accept_userdata);
        assert_eq!(cqe_accept.err(), Some(Errno::NFILE));

        // Give the slots back.
        // SAFETY: the requests on the slots have completed (reaped above); their files
        // are closed by the update.
        unsafe { ring.register_files_update(0, &registered_fds) }.unwrap();
    }
    // SAFETY: every request on the table has been reaped above.
    unsafe { ring.unregister_files() }.unwrap();
}

#[test]
fn accept_multishot_direct() {
    let mut ring = ring(1);
    let (listener, address) = listener();
    let registered_fds = [None; 2];
    ring.register_files(&registered_fds).unwrap();

    let accept_userdata = 0xaaaaaaaa;
    for _ in 0..2 {
        // SAFETY: no address is asked for.
        unsafe {
            ring.accept_multishot_direct(
                accept_userdata,
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                uring::sys::SocketFlags::empty(),
            )
            .unwrap();
        }
        assert_eq!(ring.submit().unwrap(), 1);

        for _ in 0..registered_fds.len() {
            let _client = TcpStream::connect(address).unwrap();
            let c = ring.copy_cqe().unwrap();
            assert!(c.res >= 0 && c.res < registered_fds.len() as i32, "{c:?}");
            assert_eq!(c.user_data, accept_userdata);
            assert!(c.more(), "still armed");
        }

        // No free slot: ENFILE ends the multishot (no F_MORE).
        let _client = TcpStream::connect(address).unwrap();
        let c = ring.copy_cqe().unwrap();
        assert_eq!(c.user_data, accept_userdata);
        assert_eq!(c.err(), Some(Errno::NFILE));
        assert!(!c.more());

        // SAFETY: the requests on the slots have completed (reaped above); their files
        // are closed by the update.
        unsafe { ring.register_files_update(0, &registered_fds) }.unwrap();
    }
    // SAFETY: every request on the table has been reaped above.
    unsafe { ring.unregister_files() }.unwrap();
}

#[test]
fn socket() {
    let mut ring = ring(1);
    ring.socket(0, n::AF_INET, n::SOCK_STREAM, 0, 0).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);

    let c = ring.copy_cqe().unwrap();
    assert_eq!(c.err(), None, "{c:?}");
    assert!(c.res > 2);
    drop(owned(c.res));
}

#[test]
fn socket_direct_socket_direct_alloc_close_direct() {
    let mut ring = ring(2);
    let registered_fds = [None; 3];
    ring.register_files(&registered_fds).unwrap();

    // Socket into slot 0: res 0.
    ring.socket_direct(0, n::AF_INET, n::SOCK_STREAM, 0, 0, 0)
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0, 0, 0));

    // Slot 1: res 0 too, when the slot is given.
    ring.socket_direct(0, n::AF_INET, n::SOCK_STREAM, 0, 0, 1)
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0, 0, 0));

    // A slot the kernel picks: res is the slot.
    ring.socket_direct_alloc(0, n::AF_INET, n::SOCK_STREAM, 0, 0)
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0, 2, 0));

    // Connect each registered socket.
    let (listener, address) = listener();
    let target = SockAddr::from(address);
    let accept_userdata = 0xaaaaaaaa;
    let connect_userdata = 0xbbbbbbbb;
    let close_userdata = 0xcccccccc;
    for fd_index in 0..registered_fds.len() {
        // SAFETY: no address for accept; `target` outlives the connect's completion.
        unsafe {
            ring.accept(
                accept_userdata,
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                uring::sys::SocketFlags::empty(),
            )
            .unwrap();
            ring.connect(
                connect_userdata,
                fd_index as RawFd,
                target.as_ptr(),
                target.len(),
            )
            .unwrap()
            // And the slot holds the socket until the completion is reaped.
            .add_flags_unchecked(sys::IOSQE_FIXED_FILE);
        }
        assert_eq!(ring.submit().unwrap(), 2);
        let got = reap(&mut ring, 2);
        assert_eq!(only(&got, connect_userdata), cqe(connect_userdata, 0, 0));
        let accepted = only(&got, accept_userdata);
        assert_eq!(accepted.err(), None, "{accepted:?}");
        drop(owned(accepted.res));

        ring.close_direct(close_userdata, fd_index as u32).unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        assert_eq!(ring.copy_cqe().unwrap(), cqe(close_userdata, 0, 0));
    }

    // SAFETY: every request on the table has been reaped above.
    unsafe { ring.unregister_files() }.unwrap();
}

#[test]
fn openat_direct_close_direct() {
    let mut ring = ring(2);
    let registered_fds = [None; 3];
    ring.register_files(&registered_fds).unwrap();

    let tmp = TempDir::new("openat_direct_close_direct");
    let path = cstr("test_io_uring_close_direct");
    let flags = g::O_RDWR | g::O_CREAT;
    let mode = 0o666;
    let user_data = 0;

    for (file_index, res) in [(0, 0), (1, 0), (FILE_INDEX_ALLOC, 2)] {
        // SAFETY: `path` outlives the completion reaped below.
        unsafe {
            ring.openat_direct(
                user_data,
                tmp.fd(),
                &path,
                uring::sys::OFlags::from_bits_retain(flags),
                uring::sys::Mode::from_bits_retain(mode),
                file_index,
            )
            .unwrap();
        }
        assert_eq!(ring.submit().unwrap(), 1);
        // res is 0 for a given slot, the chosen slot with FILE_INDEX_ALLOC.
        assert_eq!(ring.copy_cqe().unwrap(), cqe(user_data, res, 0));
    }

    for fd_index in 0..registered_fds.len() {
        ring.close_direct(user_data, fd_index as u32).unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        assert_eq!(ring.copy_cqe().unwrap(), cqe(user_data, 0, 0));
    }
    // SAFETY: every request on the table has been reaped above.
    unsafe { ring.unregister_files() }.unwrap();
}

#[test]
fn waitid() {
    let mut ring = ring(16);
    if !supported(&ring, Op::IORING_OP_WAITID, "waitid") {
        return;
    }
    // Zig forks and exits with 7 in the child; a shell does the same without forking a
    // multi-threaded test binary.
    let child = std::process::Command::new("sh")
        .args(["-c", "exit 7"])
        .spawn()
        .unwrap();
    let pid = child.id() as i32;

    let mut siginfo: SigInfo = zeroed();
    // SAFETY: `siginfo` outlives the completion reaped below and is not read before.
    unsafe {
        ring.waitid(0, IdType::Pid, pid, &mut siginfo, g::WEXITED, 0)
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);

    assert_eq!(ring.copy_cqe().unwrap(), cqe(0, 0, 0));
    // SAFETY: for a SIGCHLD siginfo the kernel fills the `_sigchld` member.
    let (code, sig_pid, status) = unsafe {
        let info = &siginfo.__bindgen_anon_1.__bindgen_anon_1;
        (
            info.si_code,
            info._sifields._sigchld._pid,
            info._sifields._sigchld._status,
        )
    };
    assert_eq!(sig_pid, pid);
    assert_eq!(status, 7);
    assert_eq!(code, g::CLD_EXITED as i32);
    // The child is reaped: std's handle must not wait for it again.
    std::mem::forget(child);
}

#[test]
fn copy_cqes_with_wrapping_sq_cqes_buffer() {
    let mut ring = ring(2);
    assert_eq!(ring.sq().entries(), 2);
    assert_eq!(ring.cq().entries(), 4);

    let ts = timespec(Duration::from_micros(10));
    let mut cqes = [Cqe::default(); 8];

    // Collects `n` completions, bounded.
    fn collect(ring: &mut IoUring, cqes: &mut [Cqe; 8], n: u32) {
        let mut count = 0;
        for _ in 0..1000 {
            if count == n {
                break;
            }
            let got = ring.copy_cqes(cqes, n - count).unwrap();
            for c in &cqes[..got as usize] {
                assert_eq!(c.res, neg(Errno::TIME), "{c:?}");
            }
            count += got;
        }
        assert_eq!(count, n);
    }

    // Submit 2 entries, receive 2 completions.
    for _ in 0..2 {
        // SAFETY: `ts` outlives the submission (the kernel copies it then).
        let sqe = unsafe { ring.get_sqe() }.unwrap();
        sqe.prep_timeout(&ts, 0, uring::sys::IoringTimeoutFlags::empty());
        assert_eq!(ring.submit().unwrap(), 1);
    }
    collect(&mut ring, &mut cqes, 2);
    assert_eq!(ring.cq().head(), 2);

    // The CQ has 4 entries and we start at 2: every batch of 4 wraps the CQE array
    // (indexes 2, 3, 0, 1).
    for i in 1..1024u32 {
        for _ in 0..4 {
            // SAFETY: as above.
            let sqe = unsafe { ring.get_sqe() }.unwrap();
            sqe.prep_timeout(&ts, 0, uring::sys::IoringTimeoutFlags::empty());
            assert_eq!(ring.submit().unwrap(), 1);
        }
        collect(&mut ring, &mut cqes, 4);
        assert_eq!(ring.cq().head(), 2 + 4 * i);
    }
}

/// Zig's `testSendRecv`: two sends with MSG_WAITALL, then receive both.
fn test_send_recv(ring: &mut IoUring, send_fd: RawFd, recv_fd: RawFd) {
    let buffer_send = b"0123456789abcdf".repeat(10);
    let mut buffer_recv = vec![0u8; buffer_send.len() * 2];

    // SAFETY: `buffer_send` outlives the completions reaped below.
    unsafe {
        ring.send(1, send_fd, &buffer_send, uring::sys::SEND_WAITALL)
            .unwrap();
        ring.send(2, send_fd, &buffer_send, uring::sys::SEND_WAITALL)
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 2);
    let len = buffer_send.len() as i32;
    assert_same_cqes(&reap(ring, 2), &[cqe(1, len, 0), cqe(2, len, 0)]);

    let mut recv_len = 0;
    for _ in 0..buffer_recv.len() {
        if recv_len == buffer_recv.len() {
            break;
        }
        // SAFETY: the buffer outlives the completion reaped below.
        unsafe {
            ring.recv(
                3,
                recv_fd,
                RecvBuffer::Buffer(&mut buffer_recv[recv_len..]),
                uring::sys::RecvFlags::empty(),
            )
            .unwrap();
        }
        assert_eq!(ring.submit().unwrap(), 1);
        let c = ring.copy_cqe().unwrap();
        assert_eq!(c.user_data, 3);
        assert!(c.res > 0, "{c:?}");
        recv_len += c.res as usize;
    }
    assert_eq!(recv_len, buffer_recv.len());
    assert_eq!(&buffer_recv[..buffer_send.len()], &buffer_send[..]);
    assert_eq!(&buffer_recv[buffer_send.len()..], &buffer_send[..]);
}

/// The local address of a socket fd we do not own here.
fn local_addr(fd: RawFd) -> SocketAddr {
    // SAFETY: borrowed only for the call; ManuallyDrop keeps it from closing `fd`.
    let l = ManuallyDrop::new(unsafe { TcpListener::from_raw_fd(fd) });
    l.local_addr().unwrap()
}

#[test]
fn bind_listen_connect() {
    let mut ring = ring(4);
    if !supported(&ring, Op::IORING_OP_LISTEN, "bind_listen_connect") {
        return;
    }
    let sock_type = n::SOCK_STREAM | rustix::net::SocketFlags::CLOEXEC.bits();
    let proto = n::IPPROTO_TCP as u32;

    // Socket, two socket options, bind, listen: all through the ring.
    ring.socket(1, n::AF_INET, sock_type, proto, 0).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c.user_data, 1);
    assert_eq!(c.err(), None, "{c:?}");
    let listen_fd = c.res;
    assert!(listen_fd > 2);

    let optval = 1u32.to_ne_bytes();
    let bind_to = SockAddr::from("127.0.0.1:0".parse::<SocketAddr>().unwrap());
    // SAFETY: `optval` and `bind_to` outlive the completions reaped below.
    unsafe {
        ring.setsockopt(2, listen_fd, n::SOL_SOCKET, n::SO_REUSEADDR, &optval)
            .unwrap()
            .link();
        ring.setsockopt(3, listen_fd, n::SOL_SOCKET, n::SO_REUSEPORT, &optval)
            .unwrap()
            .link();
        ring.bind(4, listen_fd, bind_to.as_ptr(), bind_to.len())
            .unwrap()
            .link();
    }
    // SAFETY: the socket is open until the closes below, after this completion is reaped.
    unsafe { ring.listen(5, listen_fd, 1) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 4);
    assert_same_cqes(
        &reap(&mut ring, 4),
        &[cqe(2, 0, 0), cqe(3, 0, 0), cqe(4, 0, 0), cqe(5, 0, 0)],
    );

    // The option is set; getsockopt completes with the option's length.
    let mut optval = [0u8; 4];
    // SAFETY: `optval` outlives the completion reaped below and is not read before.
    unsafe {
        ring.getsockopt(5, listen_fd, n::SOL_SOCKET, n::SO_REUSEADDR, &mut optval)
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(5, 4, 0));
    assert_eq!(u32::from_ne_bytes(optval), 1);

    let address = local_addr(listen_fd);
    assert_eq!(address.ip(), bind_to.as_socket_addr().unwrap().ip());
    assert_ne!(address.port(), 0);

    // The connecting socket.
    ring.socket(6, n::AF_INET, sock_type, proto, 0).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c.user_data, 6);
    assert_eq!(c.err(), None, "{c:?}");
    let connect_fd = c.res;
    assert!(connect_fd > 2 && connect_fd != listen_fd);

    // Accept and connect.
    let target = SockAddr::from(address);
    // SAFETY: no address for accept; `target` outlives the connect's completion.
    unsafe {
        ring.accept(
            7,
            listen_fd,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            uring::sys::SocketFlags::empty(),
        )
        .unwrap();
        ring.connect(8, connect_fd, target.as_ptr(), target.len())
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 2);
    let got = reap(&mut ring, 2);
    assert_eq!(only(&got, 8), cqe(8, 0, 0));
    let accept_fd = only(&got, 7).res;
    assert!(accept_fd > 2 && accept_fd != listen_fd && accept_fd != connect_fd);

    // Both directions.
    test_send_recv(&mut ring, connect_fd, accept_fd);
    test_send_recv(&mut ring, accept_fd, connect_fd);

    // Shut down and close every socket through the ring.
    for fd in [connect_fd, accept_fd, listen_fd] {
        // SAFETY: the linked close below runs only after the shutdown completed.
        unsafe { ring.shutdown(9, fd, n::SHUT_RDWR) }
            .unwrap()
            .link();
        // SAFETY: these descriptors came from our own socket/accept completions; nothing
        // else owns them.
        unsafe { ring.close(10, fd).unwrap() };
        assert_eq!(ring.submit().unwrap(), 2);
        assert_same_cqes(&reap(&mut ring, 2), &[cqe(9, 0, 0), cqe(10, 0, 0)]);
    }
}

// ---- Operations Zig does not test ----------------------------------------------------

#[test]
fn cmd_sock_siocinq() {
    let mut ring = ring(4);
    let h = common::socket_test_harness(&mut ring);
    let mut client = ManuallyDrop::new(
        // SAFETY: borrowed for writing only; ManuallyDrop keeps it from closing the fd.
        unsafe { TcpStream::from_raw_fd(h.client()) },
    );
    client.write_all(b"seven!!").unwrap();

    // Wait until the data is there, then ask how much is queued.
    // SAFETY: the harness's sockets outlive the completion reaped below.
    unsafe { ring.poll_add(1, h.server(), g::POLLIN) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c.user_data, 1);
    assert_ne!(c.res as u32 & g::POLLIN, 0, "{c:?}");

    // SAFETY: SIOCINQ reads no memory.
    unsafe {
        ring.cmd_sock(
            2,
            SocketOp::SOCKET_URING_OP_SIOCINQ,
            h.server(),
            0,
            0,
            std::ptr::null_mut(),
            0,
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(2, 7, 0));
}

#[test]
fn recvmsg_multishot_udp() {
    let mut ring = ring(8);
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server_addr = server.local_addr().unwrap();

    const BUF: usize = 256;
    let mut slab = vec![0u8; 4 * BUF];
    let base = slab.as_mut_ptr();
    // SAFETY: `slab` outlives the kernel's use of it: the multishot is cancelled and
    // reaped, and the buffer it left is removed, below.
    unsafe {
        ring.provide_buffers(1, base, BUF as u32, 4, 7, 0).unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(1, 0, 0));

    // The msghdr only says how much room to keep for the name (a sockaddr_in here).
    let namelen = size_of::<n::sockaddr_in>();
    let mut msg = msghdr(
        std::ptr::null_mut(),
        namelen as u32,
        std::ptr::null_mut(),
        0,
    );
    // SAFETY: `msg` outlives every completion of the request.
    unsafe {
        ring.recvmsg_multishot(
            0x77,
            server.as_raw_fd(),
            &mut msg,
            7,
            uring::sys::RecvFlags::empty(),
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);

    let payloads: [&[u8]; 3] = [b"one", b"two!", b"three"];
    for p in payloads {
        client.send_to(p, server_addr).unwrap();
    }
    let mut seen = Vec::new();
    for c in reap(&mut ring, 3) {
        assert_eq!(c.user_data, 0x77);
        assert!(c.more(), "still armed: {c:?}");
        let id = c.buffer_id().expect("IORING_CQE_F_BUFFER");
        let len = c.res as usize;
        // SAFETY: the kernel finished writing this buffer; it lies inside `slab`.
        let buf = unsafe { std::slice::from_raw_parts(base.add(usize::from(id) * BUF), len) };
        // Header, name, (no control), payload.
        let hdr_len = size_of::<RecvmsgOut>();
        // SAFETY: the buffer starts with an io_uring_recvmsg_out; read it unaligned.
        let out: RecvmsgOut = unsafe { std::ptr::read_unaligned(buf.as_ptr().cast()) };
        assert_eq!(out.namelen as usize, namelen);
        assert_eq!(out.controllen, 0);
        let payload = &buf[hdr_len + namelen..];
        assert_eq!(payload.len(), out.payloadlen as usize);
        // The name is the sender's address.
        // SAFETY: the name area holds a sockaddr_in; read it unaligned.
        let sin: n::sockaddr_in =
            unsafe { std::ptr::read_unaligned(buf[hdr_len..].as_ptr().cast()) };
        assert_eq!(
            u16::from_be(sin.sin_port),
            client.local_addr().unwrap().port()
        );
        seen.push(payload.to_vec());
    }
    seen.sort();
    let mut want: Vec<Vec<u8>> = payloads.iter().map(|p| p.to_vec()).collect();
    want.sort();
    assert_eq!(seen, want);

    ring.cancel(0x78, 0x77, uring::sys::IoringAsyncCancelFlags::empty())
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_same_cqes(
        &reap(&mut ring, 2),
        &[cqe(0x78, 0, 0), cqe(0x77, neg(Errno::CANCELED), 0)],
    );
    // Take back the one buffer the kernel still holds before freeing the slab.
    ring.remove_buffers(0x79, 4, 7).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0x79, 1, 0));
    drop(slab);
}

#[test]
fn recv_multishot_provided_buffers() {
    let mut ring = ring(8);
    let h = common::socket_test_harness(&mut ring);
    let mut client = ManuallyDrop::new(
        // SAFETY: borrowed for writing only; ManuallyDrop keeps it from closing the fd.
        unsafe { TcpStream::from_raw_fd(h.client()) },
    );

    let mut slab = vec![0u8; 2 * 64];
    let base = slab.as_mut_ptr();
    // SAFETY: `slab` outlives the ring's use of it (the request ends below, before the
    // slab is dropped, and both buffers come back in completions).
    unsafe { ring.provide_buffers(1, base, 64, 2, 3, 0).unwrap() };
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(1, 0, 0));

    // SAFETY: the group's buffers live in `slab`, which outlives the request (it ends
    // below, before the slab is dropped).
    let sqe = *unsafe { ring.recv_multishot(0x55, h.server(), 3, uring::sys::RecvFlags::empty()) }
        .unwrap();
    assert_eq!(sqe.ioprio, sys::IORING_RECV_MULTISHOT as u16);
    assert_eq!(sqe.flags, sys::IOSQE_BUFFER_SELECT);
    assert_eq!(sqe.buf_index, 3);
    assert_eq!(ring.submit().unwrap(), 1);

    // One message per completion (wait for each, so that they are not merged).
    let mut ids = Vec::new();
    for msg in [&b"first"[..], &b"second"[..]] {
        client.write_all(msg).unwrap();
        let c = ring.copy_cqe().unwrap();
        assert_eq!(c.user_data, 0x55);
        assert!(c.more(), "{c:?}");
        let id = c.buffer_id().expect("IORING_CQE_F_BUFFER");
        // SAFETY: the kernel finished writing this buffer.
        let got =
            unsafe { std::slice::from_raw_parts(base.add(usize::from(id) * 64), c.res as usize) };
        assert_eq!(got, msg);
        ids.push(id);
    }
    ids.sort_unstable();
    assert_eq!(ids, [0, 1]);

    // The group is dry: the next receive ends the request with ENOBUFS and no F_MORE.
    client.write_all(b"third").unwrap();
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c, cqe(0x55, neg(Errno::NOBUFS), 0));
}

#[test]
fn send_zc_to_udp() {
    let mut ring = ring(4);
    if !supported(&ring, Op::IORING_OP_SEND_ZC, "send_zc_to_udp") {
        return;
    }
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = SockAddr::from(server.local_addr().unwrap());
    let payload = vec![0x5au8; 1000];

    // SAFETY: `payload` stays valid and unmodified until the notification reaped below;
    // `dest` outlives every completion.
    unsafe {
        ring.send_zc_to(
            0x99,
            client.as_raw_fd(),
            &payload,
            uring::sys::SendFlags::empty(),
            uring::sys::IoringSendFlags::empty(),
            dest.as_ptr(),
            dest.len(),
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    let first = ring.copy_cqe().unwrap();
    assert_eq!(first, cqe(0x99, 1000, sys::IORING_CQE_F_MORE));
    let notif = ring.copy_cqe().unwrap();
    assert_eq!(notif, cqe(0x99, 0, sys::IORING_CQE_F_NOTIF));

    let mut got = [0u8; 2000];
    let (len, from) = server.recv_from(&mut got).unwrap();
    assert_eq!(&got[..len], &payload[..]);
    assert_eq!(from, client.local_addr().unwrap());

    // Plain sendto through the ring, for comparison.
    // SAFETY: `payload` and `dest` outlive the completion.
    unsafe {
        ring.sendto(
            0x9a,
            client.as_raw_fd(),
            &payload[..10],
            uring::sys::SendFlags::empty(),
            dest.as_ptr(),
            dest.len(),
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(0x9a, 10, 0));
    let (len, from) = server.recv_from(&mut got).unwrap();
    assert_eq!((len, from), (10, client.local_addr().unwrap()));
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
}

#[test]
fn poll_multishot_update_remove() {
    let mut ring = ring(4);
    let (r, w) = pipe();

    // SAFETY: the pipe outlives the poll's final completion, reaped below.
    unsafe { ring.poll_multishot(1, r.as_raw_fd(), g::POLLIN) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    rustix::io::write(&w, b"x").unwrap();
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c, cqe(1, g::POLLIN as i32, sys::IORING_CQE_F_MORE));
    // Drain, so that re-arming by the update finds nothing ready.
    rustix::io::read(&r, &mut [0u8; 1]).unwrap();

    // Rename the poll from user_data 1 to 3 (the events stay: mask 0 without
    // IORING_POLL_UPDATE_EVENTS, or the kernel says EINVAL).
    ring.poll_update(2, 1, 3, 0, uring::sys::IoringPollFlags::UPDATE_USER_DATA)
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(2, 0, 0));

    // It reports under its new user_data.
    rustix::io::write(&w, b"y").unwrap();
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c, cqe(3, g::POLLIN as i32, sys::IORING_CQE_F_MORE));
    rustix::io::read(&r, &mut [0u8; 1]).unwrap();

    ring.poll_remove(4, 3).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_same_cqes(
        &reap(&mut ring, 2),
        &[cqe(4, 0, 0), cqe(3, neg(Errno::CANCELED), 0)],
    );
}

#[test]
fn timeout_update_and_cancel_fd() {
    let mut ring = ring(4);
    let long = timespec(Duration::from_secs(10));
    let short = timespec(Duration::from_millis(1));
    // SAFETY: both timespecs outlive the completions reaped below.
    unsafe {
        ring.timeout(1, &long, 0, uring::sys::IoringTimeoutFlags::empty())
            .unwrap();
        assert_eq!(ring.submit().unwrap(), 1);
        ring.timeout_update(2, 1, &short, uring::sys::IoringTimeoutFlags::empty())
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    assert_same_cqes(
        &reap(&mut ring, 2),
        &[cqe(2, 0, 0), cqe(1, neg(Errno::TIME), 0)],
    );

    // A read that waits on an empty pipe, cancelled by its fd.
    let (r, _w) = pipe();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` outlives the completion reaped below.
    unsafe {
        ring.read(3, r.as_raw_fd(), ReadBuffer::Buffer(&mut buf), u64::MAX)
            .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    // SAFETY: the pipe is ours and outlives the cancel's completion, reaped below.
    unsafe {
        ring.cancel_fd(
            4,
            r.as_raw_fd(),
            uring::sys::IoringAsyncCancelFlags::empty(),
        )
    }
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_same_cqes(
        &reap(&mut ring, 2),
        &[cqe(4, 0, 0), cqe(3, neg(Errno::CANCELED), 0)],
    );
}

#[test]
fn epoll_ctl_epoll_wait() {
    let mut ring = ring(4);
    let epfd = rustix::event::epoll::create(rustix::event::epoll::CreateFlags::CLOEXEC).unwrap();
    let (r, w) = pipe();

    let mut ev = uring::EpollEvent {
        events: g::EPOLLIN,
        data: 42,
    };
    // SAFETY: `ev` outlives the completion reaped below.
    unsafe {
        ring.epoll_ctl(
            1,
            epfd.as_raw_fd(),
            r.as_raw_fd(),
            g::EPOLL_CTL_ADD,
            &mut ev,
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(1, 0, 0));

    if !supported(&ring, Op::IORING_OP_EPOLL_WAIT, "epoll_ctl_epoll_wait") {
        return;
    }
    rustix::io::write(&w, b"x").unwrap();
    let mut events = [uring::EpollEvent { events: 0, data: 0 }; 4];
    // SAFETY: `events` outlives the completion reaped below and is not read before.
    unsafe {
        ring.epoll_wait(2, epfd.as_raw_fd(), &mut events, 0)
            .unwrap()
    };
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(2, 1, 0));
    let (got_events, got_data) = (events[0].events, events[0].data);
    assert_eq!(got_events & g::EPOLLIN, g::EPOLLIN);
    assert_eq!(got_data, 42);
}

#[test]
fn tee_duplicates_pipe_data() {
    let mut ring = ring(2);
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    rustix::io::write(&w1, b"hello").unwrap();

    // SAFETY: both pipes outlive the completion reaped below.
    let sqe = *unsafe { ring.tee(1, r1.as_raw_fd(), w2.as_raw_fd(), 5) }.unwrap();
    assert_eq!(sqe.opcode, op(Op::IORING_OP_TEE));
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(1, 5, 0));

    let mut buf = [0u8; 5];
    assert_eq!(rustix::io::read(&r2, &mut buf).unwrap(), 5);
    assert_eq!(&buf, b"hello");
    // tee does not consume: the first pipe still holds the data.
    assert_eq!(rustix::io::read(&r1, &mut buf).unwrap(), 5);
    assert_eq!(&buf, b"hello");
}

#[test]
fn files_update_then_fixed_read() {
    let mut ring = ring(2);
    ring.register_files(&[None, None]).unwrap();
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let fds = [zero.as_raw_fd()];

    // SAFETY: `fds` outlives the completion reaped below; the fd is open.
    unsafe { ring.files_update(1, &fds, 1).unwrap() };
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(1, 1, 0));

    let mut buf = [7u8; 16];
    // SAFETY: `buf` outlives the completion reaped below.
    unsafe {
        ring.read(2, 1, ReadBuffer::Buffer(&mut buf), 0)
            .unwrap()
            // And slot 1 holds /dev/zero until the completion is reaped.
            .add_flags_unchecked(sys::IOSQE_FIXED_FILE);
    }
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(2, 16, 0));
    assert_eq!(buf, [0u8; 16]);
    // SAFETY: every request on the table has been reaped above.
    unsafe { ring.unregister_files() }.unwrap();
}

#[test]
fn openat2_open_and_advice() {
    let mut ring = ring(2);
    let tmp = TempDir::new("openat2_open_and_advice");
    let name = "data";
    std::fs::write(tmp.join(name), b"contents").unwrap();

    let how = uring::OpenHow {
        flags: u64::from(g::O_RDONLY | g::O_CLOEXEC),
        mode: 0,
        resolve: 0,
    };
    let path = cstr(name);
    // SAFETY: `path` and `how` outlive the completion reaped below.
    unsafe { ring.openat2(1, tmp.fd(), &path, &how).unwrap() };
    assert_eq!(ring.submit().unwrap(), 1);
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c.user_data, 1);
    let file = std::fs::File::from(owned(c.res));

    // SAFETY: the file outlives the completion reaped below.
    unsafe { ring.fadvise(2, file.as_raw_fd(), 0, 8, g::POSIX_FADV_SEQUENTIAL) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(2, 0, 0));

    // open: relative to the working directory, so pass the full path.
    let full = cstr(tmp.join(name).to_str().unwrap());
    // SAFETY: `full` outlives the completion reaped below.
    unsafe {
        ring.open(
            3,
            &full,
            uring::sys::OFlags::from_bits_retain(g::O_RDONLY | g::O_CLOEXEC),
            uring::sys::Mode::empty(),
        )
        .unwrap()
    };
    assert_eq!(ring.submit().unwrap(), 1);
    let c = ring.copy_cqe().unwrap();
    assert_eq!(c.user_data, 3);
    let mut again = std::fs::File::from(owned(c.res));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut again, &mut text).unwrap();
    assert_eq!(text, "contents");

    // madvise on a page-aligned allocation.
    let layout = std::alloc::Layout::from_size_align(8192, 4096).unwrap();
    // SAFETY: a non-zero-sized layout.
    let mem = unsafe { std::alloc::alloc_zeroed(layout) };
    assert!(!mem.is_null());
    // SAFETY: MADV_WILLNEED only prefetches; the range stays allocated until after the
    // completion.
    unsafe { ring.madvise(4, mem.cast(), 8192, g::MADV_WILLNEED).unwrap() };
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(4, 0, 0));
    // SAFETY: allocated above with this layout.
    unsafe { std::alloc::dealloc(mem, layout) };
}

/// `madvise` takes 64-bit lengths (Linux 6.11: in `off`, with `len` 0): advising 4 GiB +
/// 4 KiB reaches the page past 4 GiB, where a length truncated to 32 bits (4 KiB) would
/// not. MADV_DONTNEED zero-fills both touched pages of a private anonymous mapping.
#[test]
fn madvise_takes_64_bit_lengths() {
    let len = (4usize << 30) + 4096;
    let far = 4usize << 30;
    // SAFETY: a fresh private anonymous mapping at an address the kernel picks; NORESERVE:
    // address space only, two pages are touched.
    let mem = unsafe {
        rustix::mm::mmap_anonymous(
            std::ptr::null_mut(),
            len,
            rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
            rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::NORESERVE,
        )
    }
    .unwrap()
    .cast::<u8>();
    // SAFETY: both offsets lie inside the mapping, which no Rust reference covers.
    unsafe {
        mem.write(1);
        mem.add(far).write(2);
    }
    let mut ring = ring(2);
    // SAFETY: the mapping is ours and only accessed through raw pointers (no Rust value
    // relies on its contents, which MADV_DONTNEED discards); it stays mapped until after
    // the completion.
    unsafe { ring.madvise(1, mem.cast(), len, g::MADV_DONTNEED) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(1, 0, 0));
    // SAFETY: as above.
    let (first, last) = unsafe { (mem.read(), mem.add(far).read()) };
    assert_eq!((first, last), (0, 0), "the whole 64-bit length was advised");
    // SAFETY: our mapping, with no reference into it left.
    unsafe { rustix::mm::munmap(mem.cast(), len) }.unwrap();
}

#[test]
fn read_multishot_pipe() {
    let mut ring = ring(4);
    if !supported(&ring, Op::IORING_OP_READ_MULTISHOT, "read_multishot_pipe") {
        return;
    }
    let (r, w) = pipe();
    let mut slab = vec![0u8; 4 * 32];
    let base = slab.as_mut_ptr();
    // SAFETY: `slab` outlives the kernel's use of it: the request is cancelled and the
    // remaining buffers removed below.
    unsafe { ring.provide_buffers(1, base, 32, 4, 9, 0).unwrap() };
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(1, 0, 0));

    // SAFETY: group 9's buffers live in `slab`, which outlives the request.
    unsafe { ring.read_multishot(2, r.as_raw_fd(), 0, 0, 9) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    for msg in [&b"abc"[..], &b"defgh"[..]] {
        rustix::io::write(&w, msg).unwrap();
        let c = ring.copy_cqe().unwrap();
        assert_eq!(c.user_data, 2);
        assert!(c.more(), "{c:?}");
        let id = c.buffer_id().expect("IORING_CQE_F_BUFFER");
        // SAFETY: the kernel finished writing this buffer.
        let got =
            unsafe { std::slice::from_raw_parts(base.add(usize::from(id) * 32), c.res as usize) };
        assert_eq!(got, msg);
    }
    ring.cancel(3, 2, uring::sys::IoringAsyncCancelFlags::empty())
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_same_cqes(
        &reap(&mut ring, 2),
        &[cqe(3, 0, 0), cqe(2, neg(Errno::CANCELED), 0)],
    );
    ring.remove_buffers(4, 4, 9).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap(), cqe(4, 2, 0));
    drop(slab);
}

#[test]
fn writev_fixed_readv_fixed() {
    let mut ring = ring(2);
    if !supported(&ring, Op::IORING_OP_READV_FIXED, "writev_fixed_readv_fixed") {
        return;
    }
    let tmp = TempDir::new("writev_fixed_readv_fixed");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp.join("f"))
        .unwrap();
    let fd = file.as_raw_fd();

    let mut pool = vec![0u8; 64];
    pool[..10].copy_from_slice(b"0123456789");
    let iov = [uring::iovec {
        iov_base: pool.as_mut_ptr().cast(),
        iov_len: pool.len() as _,
    }];
    // SAFETY: `pool` outlives the registration (unregistered below).
    unsafe { ring.register_buffers(&iov).unwrap() };
    {
        let (src, dst) = pool.split_at_mut(32);
        let write = [IoSlice::new(&src[..4]), IoSlice::new(&src[4..10])];
        // SAFETY: both slices lie in registered buffer 0 and outlive the completion.
        unsafe { ring.writev_fixed(1, fd, &write, 0, 0).unwrap() };
        assert_eq!(ring.submit().unwrap(), 1);
        assert_eq!(ring.copy_cqe().unwrap(), cqe(1, 10, 0));

        let (a, b) = dst.split_at_mut(5);
        let read = [IoSliceMut::new(&mut a[..5]), IoSliceMut::new(&mut b[..5])];
        // SAFETY: as above; not read until the completion.
        unsafe { ring.readv_fixed(2, fd, &read, 0, 0).unwrap() };
        assert_eq!(ring.submit().unwrap(), 1);
        assert_eq!(ring.copy_cqe().unwrap(), cqe(2, 10, 0));
    }
    assert_eq!(&pool[32..42], b"0123456789");
    // SAFETY: every fixed request has been reaped above.
    unsafe { ring.unregister_buffers() }.unwrap();
}
