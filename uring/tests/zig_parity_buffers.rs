//! Ports of Zig's `IoUring` tests on registered files and provided-buffer groups:
//! "register_files_update", "BufferGroup", "ring mapped buffers recv" and "ring mapped
//! buffers multishot recv". They assert what Zig asserts (whole CQEs where Zig compares
//! them), but completions of different requests are matched by user_data, never by order.
mod common;

use std::os::fd::{AsFd, BorrowedFd, RawFd};

use rustix::io::Errno;
use uring::sys::{self, io_uring_op as Op, IoringSetupFlags};
use uring::{BufferGroup, Cqe, IoUring, SelectedBufferError, Sqe};

/// A small deterministic generator for "random" user_data, as Zig's tests use a PRNG.
struct Rnd(u64);

impl Rnd {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Queues a read of registered file `fd_index` into `buffer` (Zig: `ring.read` with
/// `IOSQE_FIXED_FILE`), built by hand from `Sqe::prep_read`.
fn queue_fixed_read(ring: &mut IoUring, user_data: u64, fd_index: RawFd, buffer: &mut [u8]) {
    let mut sqe = Sqe::default();
    sqe.prep_read(fd_index, buffer, 0);
    assert_eq!(sqe.opcode, sys::op(Op::IORING_OP_READ));
    sqe.flags |= sys::IOSQE_FIXED_FILE;
    sqe.user_data = user_data;
    // SAFETY: `buffer` outlives the completion, reaped by the caller before reuse.
    unsafe { ring.push(&sqe) }.unwrap();
}

#[test]
fn register_files_update() {
    let mut ring = IoUring::init(1, IoringSetupFlags::empty()).unwrap();
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let fd_index = 0usize;
    let fd_index2 = 1usize;
    let mut registered_fds: [Option<BorrowedFd<'_>>; 2] = [Some(zero.as_fd()), None];
    ring.register_files(&registered_fds).unwrap();

    // IORING_REGISTER_FILES_UPDATE (Linux 5.5).
    let zero2 = std::fs::File::open("/dev/zero").unwrap();
    registered_fds[fd_index] = Some(zero2.as_fd());
    registered_fds[fd_index2] = None;
    // SAFETY (every update of this test): no request is queued or in flight when the
    // table changes; each read is reaped before the next update.
    assert_eq!(
        unsafe { ring.register_files_update(0, &registered_fds) }.unwrap(),
        2
    );

    let mut buffer = [42u8; 128];
    queue_fixed_read(&mut ring, 0xcccccccc, fd_index as RawFd, &mut buffer);
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 0xcccccccc,
            res: buffer.len() as i32,
            flags: 0
        }
    );
    assert_eq!(buffer, [0u8; 128]);

    // A non-zero offset: only slot 1 changes.
    registered_fds[fd_index] = None;
    registered_fds[fd_index2] = None;
    assert_eq!(
        // SAFETY: as above.
        unsafe { ring.register_files_update(1, &registered_fds[1..]) }.unwrap(),
        1
    );

    // Slot 0 was not updated, so the read still works.
    buffer.fill(42);
    queue_fixed_read(&mut ring, 0xcccccccc, fd_index as RawFd, &mut buffer);
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 0xcccccccc,
            res: buffer.len() as i32,
            flags: 0
        }
    );
    assert_eq!(buffer, [0u8; 128]);

    // Now both slots are sparse (-1): the read fails with EBADF.
    assert_eq!(
        // SAFETY: as above.
        unsafe { ring.register_files_update(0, &registered_fds) }.unwrap(),
        2
    );
    queue_fixed_read(&mut ring, 0xcccccccc, fd_index as RawFd, &mut buffer);
    assert_eq!(ring.submit().unwrap(), 1);
    let cqe = common::reap(&mut ring, 1)[0];
    assert_eq!(cqe.user_data, 0xcccccccc);
    assert_eq!(cqe.err(), Some(Errno::BADF));

    // SAFETY: the last read has been reaped; nothing uses the table.
    unsafe { ring.unregister_files() }.unwrap();
}

#[test]
fn buffer_group() {
    let mut ring = IoUring::init(16, IoringSetupFlags::empty()).unwrap();
    let group_id = 1;
    let buffers_count = 1;
    let buffer_size = 128;
    let mut buf_grp = BufferGroup::init(&ring, group_id, buffer_size, buffers_count).unwrap();

    let fds = common::socket_test_harness(&mut ring);
    let data: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe];

    // The client sends.
    // SAFETY: `data` outlives the completion reaped just below.
    unsafe { ring.send(1, fds.client(), &data, uring::sys::SendFlags::empty()) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 1,
            res: data.len() as i32,
            flags: 0
        }
    );

    // The server receives into a buffer the kernel picks from the group.
    // SAFETY: the group outlives the request (its completion is reaped below), and only
    // that completion is passed to get/put.
    unsafe { buf_grp.recv(&mut ring, 2, fds.server(), 0) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let cqe = common::reap(&mut ring, 1)[0];
    assert_eq!(cqe.user_data, 2);
    assert_eq!(cqe.err(), None);
    assert_eq!(cqe.result(), Ok(data.len() as u32));
    assert!(cqe.flags & sys::IORING_CQE_F_BUFFER != 0);
    assert_eq!(cqe.buffer_id(), Some(0));

    let buf = buf_grp.get(&cqe).unwrap();
    assert_eq!(buf, &data);
    // Release the buffer to the kernel once the application is done with it.
    buf_grp.put_cqe(&cqe).unwrap();
    buf_grp.deinit().unwrap();
}

/// Zig's `buf_grp_recv_submit_get_cqe`: queue a recv on the group, submit, reap its
/// completion and check that it succeeded with a buffer.
fn buf_grp_recv_submit_get_cqe(
    ring: &mut IoUring,
    buf_grp: &BufferGroup,
    fd: RawFd,
    user_data: u64,
) -> Cqe {
    // SAFETY: the completion is reaped before returning; the callers pass only completions
    // of this ring to get/put and put each buffer back once.
    let sqe = unsafe { buf_grp.recv(ring, user_data, fd, 0) }.unwrap();
    assert!(sqe.flags & sys::IOSQE_BUFFER_SELECT != 0);
    assert_eq!(sqe.buf_index, buf_grp.group_id());
    assert_eq!(ring.submit().unwrap(), 1);
    let cqe = common::reap(ring, 1)[0];
    assert_eq!(cqe.user_data, user_data);
    assert!(cqe.res >= 0, "{cqe:?}");
    assert_eq!(cqe.err(), None);
    assert!(cqe.flags & sys::IORING_CQE_F_BUFFER != 0);
    cqe
}

#[test]
fn ring_mapped_buffers_recv() {
    let mut ring = IoUring::init(16, IoringSetupFlags::empty()).unwrap();
    let group_id = 1;
    let buffers_count = 2;
    let buffer_size = 4;
    let mut buf_grp = BufferGroup::init(&ring, group_id, buffer_size, buffers_count).unwrap();
    let fds = common::socket_test_harness(&mut ring);
    let mut rnd = Rnd(0x5eed_1234_abcd_0001);

    for _round in 0..4 {
        let data: [u8; 15] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe];
        {
            let user_data = rnd.next();
            // SAFETY: `data` outlives the completion reaped below.
            unsafe {
                ring.send(
                    user_data,
                    fds.client(),
                    &data,
                    uring::sys::SendFlags::empty(),
                )
            }
            .unwrap();
            assert_eq!(ring.submit().unwrap(), 1);
            assert_eq!(
                common::reap(&mut ring, 1)[0],
                Cqe {
                    user_data,
                    res: data.len() as i32,
                    flags: 0
                }
            );
        }
        let mut pos = 0;

        // First chunk.
        let cqe1 = buf_grp_recv_submit_get_cqe(&mut ring, &buf_grp, fds.server(), rnd.next());
        let buf = buf_grp.get(&cqe1).unwrap();
        assert_eq!(&data[pos..pos + buf.len()], buf);
        pos += buf.len();
        // Second chunk.
        let cqe2 = buf_grp_recv_submit_get_cqe(&mut ring, &buf_grp, fds.server(), rnd.next());
        let buf = buf_grp.get(&cqe2).unwrap();
        assert_eq!(&data[pos..pos + buf.len()], buf);
        pos += buf.len();

        // Both buffers are with the application: 'no buffers' until they are put back.
        {
            let user_data = rnd.next();
            // SAFETY: as in buf_grp_recv_submit_get_cqe.
            unsafe { buf_grp.recv(&mut ring, user_data, fds.server(), 0) }.unwrap();
            assert_eq!(ring.submit().unwrap(), 1);
            let cqe = common::reap(&mut ring, 1)[0];
            assert_eq!(cqe.user_data, user_data);
            assert!(cqe.res < 0);
            assert_eq!(cqe.err(), Some(Errno::NOBUFS));
            // IORING_CQE_F_BUFFER is set on success only.
            assert!(cqe.flags & sys::IORING_CQE_F_BUFFER == 0);
            assert_eq!(cqe.buffer_id(), None);
            assert_eq!(
                buf_grp.get(&cqe),
                Err(SelectedBufferError::NoBufferSelected)
            );
        }

        // Put the buffers back.
        buf_grp.put_cqe(&cqe1).unwrap();
        buf_grp.put_cqe(&cqe2).unwrap();

        // Read the rest.
        let mut reads = 0;
        while pos < data.len() {
            reads += 1;
            assert!(reads <= data.len(), "no progress");
            let cqe = buf_grp_recv_submit_get_cqe(&mut ring, &buf_grp, fds.server(), rnd.next());
            let buf = buf_grp.get(&cqe).unwrap();
            assert_eq!(&data[pos..pos + buf.len()], buf);
            pos += buf.len();
            buf_grp.put_cqe(&cqe).unwrap();
        }
    }
}

/// Zig's `expect_buf_grp_cqe`: check that `cqe` (of the multishot recv `user_data`)
/// carries `expected` in a group buffer. (Zig reaps it here; the caller reaps a batch of
/// this one request's completions instead, since they come in order.)
fn expect_buf_grp_cqe(cqe: Cqe, buf_grp: &BufferGroup, user_data: u64, expected: &[u8]) -> Cqe {
    assert_eq!(cqe.user_data, user_data);
    assert!(cqe.res >= 0, "{cqe:?}");
    assert!(cqe.flags & sys::IORING_CQE_F_BUFFER != 0);
    assert_eq!(cqe.res as usize, expected.len());
    assert_eq!(cqe.err(), None);
    assert_eq!(buf_grp.get(&cqe).unwrap(), expected);
    cqe
}

/// Queues an IORING_OP_ASYNC_CANCEL of `target` (Zig: `ring.cancel`), built by hand as
/// liburing's `io_uring_prep_cancel64`.
fn queue_cancel(ring: &mut IoUring, user_data: u64, target: u64) {
    let mut sqe = Sqe::default();
    sqe.prep_rw(Op::IORING_OP_ASYNC_CANCEL, -1, target, 0, 0);
    sqe.user_data = user_data;
    // SAFETY: a cancel names no memory (`addr` is the target's user_data).
    unsafe { ring.push(&sqe) }.unwrap();
}

#[test]
fn ring_mapped_buffers_multishot_recv() {
    let mut ring = IoUring::init(16, IoringSetupFlags::empty()).unwrap();
    let group_id = 1;
    let buffers_count = 2;
    let buffer_size = 4usize;
    let mut buf_grp =
        BufferGroup::init(&ring, group_id, buffer_size as u32, buffers_count).unwrap();
    let fds = common::socket_test_harness(&mut ring);
    let mut rnd = Rnd(0x5eed_1234_abcd_0002);

    for _round in 0..4 {
        let data: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xf];
        {
            let user_data = rnd.next();
            // SAFETY: `data` outlives the completion reaped below.
            unsafe {
                ring.send(
                    user_data,
                    fds.client(),
                    &data,
                    uring::sys::SendFlags::empty(),
                )
            }
            .unwrap();
            assert_eq!(ring.submit().unwrap(), 1);
            assert_eq!(
                common::reap(&mut ring, 1)[0],
                Cqe {
                    user_data,
                    res: data.len() as i32,
                    flags: 0
                }
            );
        }

        // Start a multishot recv: with two 4-byte buffers it delivers two chunks and then
        // runs out of buffers.
        let mut recv_user_data = rnd.next();
        // SAFETY: the group outlives the request: its final completion (without F_MORE) is
        // reaped below; only this ring's completions are passed to get/put, once each.
        unsafe { buf_grp.recv_multishot(&mut ring, recv_user_data, fds.server(), 0) }.unwrap();
        assert_eq!(ring.submit().unwrap(), 1);

        // Three completions, all of this one request, so in order: two chunks, then (both
        // buffers being with the application) 'no buffers', which ends the multishot.
        let cqes = common::reap(&mut ring, 3);
        let cqe1 = expect_buf_grp_cqe(cqes[0], &buf_grp, recv_user_data, &data[0..4]);
        assert!(cqe1.more());
        let cqe2 = expect_buf_grp_cqe(cqes[1], &buf_grp, recv_user_data, &data[4..8]);
        assert!(cqe2.more());
        {
            let cqe = cqes[2];
            assert_eq!(cqe.user_data, recv_user_data);
            assert!(cqe.res < 0);
            assert_eq!(cqe.err(), Some(Errno::NOBUFS));
            assert!(cqe.flags & sys::IORING_CQE_F_BUFFER == 0);
            // No F_MORE: the multishot request is finished.
            assert!(!cqe.more());
            assert_eq!(cqe.buffer_id(), None);
        }

        buf_grp.put_cqe(&cqe1).unwrap();
        buf_grp.put_cqe(&cqe2).unwrap();

        // Restart the multishot recv.
        recv_user_data = rnd.next();
        // SAFETY: as above; this request ends with the cancellation below.
        unsafe { buf_grp.recv_multishot(&mut ring, recv_user_data, fds.server(), 0) }.unwrap();
        assert_eq!(ring.submit().unwrap(), 1);

        // The two remaining chunks fill the two buffers just put back.
        let cqes = common::reap(&mut ring, 2);
        let cqe3 = expect_buf_grp_cqe(cqes[0], &buf_grp, recv_user_data, &data[8..12]);
        assert!(cqe3.more());
        buf_grp.put_cqe(&cqe3).unwrap();

        let cqe4 = expect_buf_grp_cqe(cqes[1], &buf_grp, recv_user_data, &data[12..]);
        assert!(cqe4.more());
        buf_grp.put_cqe(&cqe4).unwrap();

        // Cancel the pending multishot recv: a cancel completion and the recv's final one,
        // in either order.
        let cancel_user_data = rnd.next();
        queue_cancel(&mut ring, cancel_user_data, recv_user_data);
        assert_eq!(ring.submit().unwrap(), 1);
        let cqes = common::reap(&mut ring, 2);
        let cqe_cancel = cqes
            .iter()
            .find(|c| c.user_data == cancel_user_data)
            .expect("cancel completion");
        let cqe_recv = cqes
            .iter()
            .find(|c| c.user_data == recv_user_data)
            .expect("recv completion");
        // Linux 6.5 and later: the cancel succeeds and the recv ends with ECANCELED (older
        // kernels answered NOENT / NOBUFS, which Zig also accepts).
        assert!(
            matches!(cqe_cancel.err(), None | Some(Errno::NOENT)),
            "{cqe_cancel:?}"
        );
        assert!(cqe_recv.res < 0);
        assert!(
            matches!(cqe_recv.err(), Some(Errno::CANCELED) | Some(Errno::NOBUFS)),
            "{cqe_recv:?}"
        );
        assert!(!cqe_recv.more());
    }
    buf_grp.deinit().unwrap();
}
