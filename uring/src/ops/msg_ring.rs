//! Messages between rings: entries of the opcode table (the [`ops!`](super)
//! macro writes each entry's `Sqe::prep_*` and `IoUring` method).

use std::os::fd::RawFd;

use crate::sys::{self, io_uring_op as Op, IoringMsgringFlags};
use crate::types::FILE_INDEX_ALLOC;

ops! {
    /// `IORING_OP_MSG_RING` with `IORING_MSG_DATA` (Linux 5.18): post a completion into the
    /// ring whose fd is `fd`, with `user_data` = `data` and `res` = `len` (its flags 0);
    /// this request completes with 0 on the ring that submitted it. `flags` must be 0
    /// (`IORING_MSG_RING_CQE_SKIP` is for file hand-overs only: `-EINVAL` here).
    ///
    /// `flags` must be 0: [`IORING_MSG_RING_CQE_SKIP`](crate::sys::IORING_MSG_RING_CQE_SKIP) is for
    /// [`msg_ring_fd`](crate::IoUring::msg_ring_fd) only (`-EINVAL` here). For a safe message to a
    /// ring you hold, see [`msg_ring_sync`](crate::IoUring::msg_ring_sync).
    fn msg_ring = prep_msg_ring(fd: RawFd, len: u32, data: u64, flags: IoringMsgringFlags) {
        opcode: IORING_OP_MSG_RING, linux: "5.18", liburing: "io_uring_prep_msg_ring",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors) and must be a ring
            /// whose completions the caller may post: `data` must not lie in a user_data namespace
            /// someone reserves on it
            /// ([`IoUring::is_reserved_user_data`](crate::IoUring::is_reserved_user_data) of the
            /// target, e.g. a [`Driver`](crate::zc::Driver)'s ring), since the posted completion
            /// would be taken for one of that code's requests. The number is resolved when the
            /// kernel issues the request, which may be after this call and after `submit` (links,
            /// `IOSQE_ASYNC`, SQPOLL): if the ring closes before, a new ring (a driver's) may get
            /// its number.
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_MSG_RING, fd, 0, len as usize, data);
            // addr is the command: IORING_MSG_DATA (0), set by prep_rw.
            sqe.rw_flags = flags.bits();
        },
    }

    /// [`prep_msg_ring`](Self::prep_msg_ring) with `IORING_MSG_RING_FLAGS_PASS` (Linux
    /// 6.3): the target's completion carries `cqe_flags` as its flags (in `file_index`).
    fn msg_ring_cqe_flags = prep_msg_ring_cqe_flags(
        fd: RawFd,
        len: u32,
        data: u64,
        flags: IoringMsgringFlags,
        cqe_flags: u32,
    ) {
        opcode: IORING_OP_MSG_RING, linux: "6.3", liburing: "io_uring_prep_msg_ring_cqe_flags",
        safety: {
            /// As for [`msg_ring`](Self::msg_ring). (The flags are the target's to interpret:
            /// `IORING_CQE_F_MORE`, `F_NOTIF` or a buffer id posted to code that trusts them is
            /// the same forgery as a reserved user_data.)
        },
        prep: |sqe| {
            sqe.prep_msg_ring(fd, len, data, flags.union(IoringMsgringFlags::FLAGS_PASS));
            sqe.splice_fd_in = cqe_flags as i32;
        },
    }

    /// `IORING_OP_MSG_RING` with `IORING_MSG_SEND_FD` (Linux 6.0): install the file of slot
    /// `source_fd` of this ring's registered file table into slot `target_fd` of the table
    /// of the ring whose fd is `fd` ([`FILE_INDEX_ALLOC`]: a free slot), and post a
    /// completion there with `user_data` = `data` and `res` = 0 (or the allocated slot;
    /// none with `IORING_MSG_RING_CQE_SKIP` in `flags`, Linux 6.2). This request completes
    /// with the same `res`.
    ///
    /// Both rings keep a reference: closing the source slot does not affect the target's. The
    /// target must be another ring (`-EINVAL` for this one), with a registered table (`-ENXIO`
    /// otherwise). Refused with [`SqeError::ReservedFileTable`](crate::SqeError::ReservedFileTable)
    /// when this ring's table is its safe layer's
    /// ([`is_file_table_reserved`](crate::IoUring::is_file_table_reserved)).
    fn msg_ring_fd = prep_msg_ring_fd(
        fd: RawFd,
        source_fd: u32,
        target_fd: u32,
        data: u64,
        flags: IoringMsgringFlags,
    ) {
        opcode: IORING_OP_MSG_RING, linux: "6.0", liburing: "io_uring_prep_msg_ring_fd",
        check: check_file_table,
        safety: {
            /// As for [`msg_ring`](Self::msg_ring); and the target's file table must be the
            /// caller's: not reserved by its safe layer
            /// ([`IoUring::is_file_table_reserved`](crate::IoUring::is_file_table_reserved) of the
            /// target), and slot `target_fd` must not hold a file any other request relies on.
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_MSG_RING,
                fd,
                u64::from(sys::raw::io_uring_msg_ring_flags::IORING_MSG_SEND_FD as u32),
                0,
                data,
            );
            sqe.addr3 = u64::from(source_fd);
            sqe.set_target_fixed_file(target_fd);
            sqe.rw_flags = flags.bits();
        },
    }

    /// [`prep_msg_ring_fd`](Self::prep_msg_ring_fd) into a free slot of the target's table,
    /// which both completions return.
    fn msg_ring_fd_alloc = prep_msg_ring_fd_alloc(
        fd: RawFd,
        source_fd: u32,
        data: u64,
        flags: IoringMsgringFlags,
    ) {
        opcode: IORING_OP_MSG_RING, linux: "6.0", liburing: "io_uring_prep_msg_ring_fd_alloc",
        check: check_file_table,
        safety: {
            /// As for [`msg_ring_fd`](Self::msg_ring_fd) (a free slot relies on nothing).
        },
        prep: |sqe| {
            sqe.prep_msg_ring_fd(fd, source_fd, FILE_INDEX_ALLOC, data, flags);
        },
    }
}
