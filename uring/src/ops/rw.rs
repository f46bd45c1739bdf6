//! No-op, sync, reads and writes, splice and tee: entries of the opcode table (the [`ops!`](super)
//! macro writes each entry's `Sqe::prep_*` and `IoUring` method).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use crate::sys::{self, io_uring_op as Op, IoringFsyncFlags};

ops! {
    /// Completes with result 0. liburing: `io_uring_prep_nop`
    /// (which, unlike Zig's `prep_nop`, puts -1 in `fd`; so do we).
    ///
    /// Used to wake a waiter, as a barrier with `IOSQE_IO_DRAIN`, or to measure the ring.
    fn nop = prep_nop() {
        opcode: IORING_OP_NOP, linux: "5.1", liburing: "io_uring_prep_nop", zig: "nop",
        safety: safe,
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_NOP, -1, 0, 0, 0);
        },
    }

    /// `fsync(2)` of `fd`; `flags` may be
    /// [`IoringFsyncFlags::DATASYNC`] for `fdatasync(2)`.
    ///
    /// Completions are unordered: link the write before it (`IOSQE_IO_LINK`) or drain, or the fsync
    /// may run first.
    fn fsync = prep_fsync(fd: RawFd, flags: IoringFsyncFlags) {
        opcode: IORING_OP_FSYNC, linux: "5.1", liburing: "io_uring_prep_fsync", zig: "fsync",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_FSYNC, fd, 0, 0, 0);
            sqe.rw_flags = flags.bits();
        },
    }

    /// Read repeatedly from a pollable `fd` (pipe,
    /// socket, eventfd), up to `nbytes` per completion (0: the buffer's size), each into a
    /// buffer picked from group `group_id`; `IORING_CQE_F_MORE` says more will follow.
    ///
    /// Each CQE carries a buffer id; `IORING_CQE_F_MORE` says the request is still armed.
    fn read_multishot = prep_read_multishot(fd: RawFd, nbytes: u32, offset: u64, group_id: u16) {
        opcode: IORING_OP_READ_MULTISHOT, linux: "6.7", liburing: "io_uring_prep_read_multishot",
        zig: "BufferGroup.read_multishot",
        safety: {
            /// The kernel writes into whichever buffer of group `group_id` it selects, for as long
            /// as the request is armed: the group's memory must stay valid, and not be read or
            /// written by anyone but the kernel while it is provided, until this request's final
            /// completion (the one without `IORING_CQE_F_MORE`) has been reaped. (A
            /// [`BufferGroup`](crate::buf_ring::BufferGroup) dropped earlier would break this: the
            /// kernel may hold a selected buffer's address while the request waits for data.)
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_READ_MULTISHOT, fd, 0, nbytes as usize, offset);
            sqe.flags |= sys::IOSQE_BUFFER_SELECT;
            sqe.buf_index = group_id;
        },
    }

    /// `pwrite(2)` of `buffer` at `offset`.
    fn write = prep_write(fd: RawFd, buffer: &[u8], offset: u64) {
        opcode: IORING_OP_WRITE, linux: "5.6", liburing: "io_uring_prep_write", zig: "write",
        safety: {
            /// `buffer` must stay valid until the completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_WRITE,
                fd,
                buffer.as_ptr() as u64,
                buffer.len(),
                offset,
            );
        },
    }

    /// `pwritev(2)` of `iovecs` at `offset` (set
    /// `rw_flags` for `pwritev2(2)`).
    fn writev = prep_writev(fd: RawFd, iovecs: &[IoSlice<'_>], offset: u64) {
        opcode: IORING_OP_WRITEV, linux: "5.1", liburing: "io_uring_prep_writev", zig: "writev",
        safety: {
            /// The iovec array and every buffer it names must stay valid until the completion has
            /// been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            // IoSlice is ABI-compatible with `struct iovec` on Unix.
            sqe.prep_rw(
                Op::IORING_OP_WRITEV,
                fd,
                iovecs.as_ptr() as u64,
                iovecs.len(),
                offset,
            );
        },
    }

    /// `pread(2)` into `buffer`, which must lie inside
    /// registered buffer `buffer_index`.
    fn read_fixed = prep_read_fixed(fd: RawFd, buffer: &mut [u8], offset: u64, buffer_index: u16) {
        opcode: IORING_OP_READ_FIXED, linux: "5.1", liburing: "io_uring_prep_read_fixed",
        zig: "read_fixed",
        safety: {
            /// `buffer` must lie inside registered buffer `buffer_index` (else the request fails
            /// with `EFAULT`), stay valid, and not be read or written through any other reference
            /// until the completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_READ_FIXED,
                fd,
                buffer.as_mut_ptr() as u64,
                buffer.len(),
                offset,
            );
            sqe.buf_index = buffer_index;
        },
    }

    /// `preadv(2)` into `iovecs`, all inside
    /// registered buffer `buffer_index`.
    fn readv_fixed = prep_readv_fixed(
        fd: RawFd,
        iovecs: &[IoSliceMut<'_>],
        offset: u64,
        buffer_index: u16,
    ) {
        opcode: IORING_OP_READV_FIXED, linux: "6.15", liburing: "io_uring_prep_readv_fixed",
        zig: "read_fixed` with `.iovecs",
        safety: {
            /// As for [`read_fixed`](Self::read_fixed), for the iovec array and every buffer it
            /// names.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_readv(fd, iovecs, offset);
            sqe.opcode = sys::op(Op::IORING_OP_READV_FIXED);
            sqe.buf_index = buffer_index;
        },
    }

    /// `pwrite(2)` of `buffer`, which must lie inside
    /// registered buffer `buffer_index`.
    fn write_fixed = prep_write_fixed(fd: RawFd, buffer: &[u8], offset: u64, buffer_index: u16) {
        opcode: IORING_OP_WRITE_FIXED, linux: "5.1", liburing: "io_uring_prep_write_fixed",
        zig: "write_fixed",
        safety: {
            /// `buffer` must lie inside registered buffer `buffer_index` and stay valid until the
            /// completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_WRITE_FIXED,
                fd,
                buffer.as_ptr() as u64,
                buffer.len(),
                offset,
            );
            sqe.buf_index = buffer_index;
        },
    }

    /// `pwritev(2)` of `iovecs`, all inside
    /// registered buffer `buffer_index`.
    fn writev_fixed = prep_writev_fixed(
        fd: RawFd,
        iovecs: &[IoSlice<'_>],
        offset: u64,
        buffer_index: u16,
    ) {
        opcode: IORING_OP_WRITEV_FIXED, linux: "6.15", liburing: "io_uring_prep_writev_fixed",
        zig: "write_fixed` with `.iovecs",
        safety: {
            /// As for [`write_fixed`](Self::write_fixed), for the iovec array and every buffer it
            /// names.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_writev(fd, iovecs, offset);
            sqe.opcode = sys::op(Op::IORING_OP_WRITEV_FIXED);
            sqe.buf_index = buffer_index;
        },
    }

    /// `splice(2)` of `len` bytes from `fd_in` at `off_in`
    /// to `fd_out` at `off_out`; one of them must be a pipe, whose offset must be
    /// `u64::MAX` (for a non-pipe, `u64::MAX` means its file position). liburing:
    /// `io_uring_prep_splice` (without `splice_flags`, as Zig).
    ///
    /// One side must be a pipe and its offset `u64::MAX`; for the other side `u64::MAX` means "at
    /// the file position". Splicing a file through a pipe to a socket is how `sendfile` works. Even
    /// with a pipe, a file type without splice support fails with `EINVAL`.
    fn splice = prep_splice(fd_in: RawFd, off_in: u64, fd_out: RawFd, off_out: u64, len: usize) {
        opcode: IORING_OP_SPLICE, linux: "5.7", liburing: "io_uring_prep_splice", zig: "splice",
        safety: {
            /// `fd_in` and `fd_out` follow the [descriptor contract](crate::ops#descriptors); with
            /// `SPLICE_F_FD_IN_FIXED` (set through
            /// [`SqeRef::as_mut_sqe`](crate::SqeRef::as_mut_sqe)) `fd_in` is a registered-file
            /// slot, which must stay registered to the intended file as long.
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_SPLICE, fd_out, off_in, len, off_out);
            sqe.splice_fd_in = fd_in;
        },
    }

    /// `tee(2)`: duplicate up to `len` bytes from pipe `fd_in`
    /// to pipe `fd_out` without consuming them. liburing: `io_uring_prep_tee` (without
    /// flags, as Zig).
    fn tee = prep_tee(fd_in: RawFd, fd_out: RawFd, len: usize) {
        opcode: IORING_OP_TEE, linux: "5.8", liburing: "io_uring_prep_tee", zig: "tee",
        safety: {
            /// `fd_in` and `fd_out` follow the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_TEE, fd_out, 0, len, 0);
            sqe.splice_fd_in = fd_in;
        },
    }
}
