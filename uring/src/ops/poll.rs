//! Timeouts, polling, cancellation, epoll: entries of the opcode table (the [`ops!`](super)
//! macro writes each entry's `Sqe::prep_*` and `IoUring` method).

use std::os::fd::RawFd;

use crate::sqe::poll32_events;
use crate::sys::{self, io_uring_op as Op, IoringAsyncCancelFlags, IoringTimeoutFlags};
use crate::types::{EpollEvent, Timespec};

ops! {
    /// Completes with `-ETIME` after `ts` (relative, or
    /// absolute with `IORING_TIMEOUT_ABS`), or with 0 once `count` other requests have
    /// completed (0: time only).
    fn timeout = prep_timeout(ts: &Timespec, count: u32, flags: IoringTimeoutFlags) {
        opcode: IORING_OP_TIMEOUT, linux: "5.4", liburing: "io_uring_prep_timeout", zig: "timeout",
        safety: {
            /// `ts` must stay valid until the completion has been reaped (the kernel copies it when
            /// it consumes the SQE, which on an SQPOLL ring may be after `submit` returned: the
            /// completion is what tells the caller it happened).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_TIMEOUT,
                -1,
                ts as *const Timespec as u64,
                1,
                u64::from(count),
            );
            sqe.rw_flags = flags.bits();
        },
    }

    /// Cancel the timeout whose user_data is
    /// `timeout_user_data`.
    fn timeout_remove = prep_timeout_remove(timeout_user_data: u64, flags: IoringTimeoutFlags) {
        opcode: IORING_OP_TIMEOUT_REMOVE, linux: "5.5", liburing: "io_uring_prep_timeout_remove",
        zig: "timeout_remove",
        safety: safe,
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_TIMEOUT_REMOVE, -1, timeout_user_data, 0, 0);
            sqe.rw_flags = flags.bits();
        },
    }

    /// `IORING_OP_TIMEOUT_REMOVE` with `IORING_TIMEOUT_UPDATE` (Linux 5.11): give the
    /// timeout `timeout_user_data` the new expiry `ts`. liburing:
    /// `io_uring_prep_timeout_update` (whose argument order puts `ts` first; this is
    /// Zig's).
    fn timeout_update = prep_timeout_update(
        timeout_user_data: u64,
        ts: &Timespec,
        flags: IoringTimeoutFlags,
    ) {
        opcode: IORING_OP_TIMEOUT_REMOVE, linux: "5.11", liburing: "io_uring_prep_timeout_update",
        zig: "timeout_update",
        safety: {
            /// As for [`timeout`](Self::timeout).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_TIMEOUT_REMOVE,
                -1,
                timeout_user_data,
                0,
                ts as *const Timespec as u64,
            );
            sqe.rw_flags = flags.union(IoringTimeoutFlags::UPDATE).bits();
        },
    }

    /// A timeout for the previous SQE, which must
    /// carry `IOSQE_IO_LINK`; whichever finishes first cancels the other.
    fn link_timeout = prep_link_timeout(ts: &Timespec, flags: IoringTimeoutFlags) {
        opcode: IORING_OP_LINK_TIMEOUT, linux: "5.5", liburing: "io_uring_prep_link_timeout",
        zig: "link_timeout",
        safety: {
            /// As for [`timeout`](Self::timeout).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_LINK_TIMEOUT,
                -1,
                ts as *const Timespec as u64,
                1,
                0,
            );
            sqe.rw_flags = flags.bits();
        },
    }

    /// Complete once `fd` has one of the `POLL*`
    /// events of `poll_mask`; `res` is the events.
    fn poll_add = prep_poll_add(fd: RawFd, poll_mask: u32) {
        opcode: IORING_OP_POLL_ADD, linux: "5.1", liburing: "io_uring_prep_poll_add",
        zig: "poll_add",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_POLL_ADD, fd, 0, 0, 0);
            sqe.rw_flags = poll32_events(poll_mask);
        },
    }

    /// `IORING_OP_POLL_ADD` with `IORING_POLL_ADD_MULTI` (Linux 5.13): one CQE per
    /// readiness event, with `IORING_CQE_F_MORE` while armed.
    fn poll_multishot = prep_poll_multishot(fd: RawFd, poll_mask: u32) {
        opcode: IORING_OP_POLL_ADD, linux: "5.13", liburing: "io_uring_prep_poll_multishot",
        zig: "poll_multishot",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_poll_add(fd, poll_mask);
            sqe.len = sys::IORING_POLL_ADD_MULTI;
        },
    }

    /// Cancel the poll whose user_data is
    /// `target_user_data`.
    fn poll_remove = prep_poll_remove(target_user_data: u64) {
        opcode: IORING_OP_POLL_REMOVE, linux: "5.1", liburing: "io_uring_prep_poll_remove",
        zig: "poll_remove",
        safety: safe,
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_POLL_REMOVE, -1, target_user_data, 0, 0);
        },
    }

    /// Cancel the request whose user_data is
    /// `cancel_user_data` (`IORING_ASYNC_CANCEL_*` `flags` widen the match, Linux 5.19).
    /// `res`: 0, `-ENOENT` (not found) or `-EALREADY` (already running).
    fn cancel = prep_cancel(cancel_user_data: u64, flags: IoringAsyncCancelFlags) {
        opcode: IORING_OP_ASYNC_CANCEL, linux: "5.5", liburing: "io_uring_prep_cancel64",
        zig: "cancel",
        safety: safe,
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_ASYNC_CANCEL, -1, cancel_user_data, 0, 0);
            sqe.rw_flags = flags.bits();
        },
    }

    /// `IORING_OP_ASYNC_CANCEL` keyed on a file descriptor (`IORING_ASYNC_CANCEL_FD`,
    /// Linux 5.19): cancel requests on `fd` (one, or all with `IORING_ASYNC_CANCEL_ALL`).
    fn cancel_fd = prep_cancel_fd(fd: RawFd, flags: IoringAsyncCancelFlags) {
        opcode: IORING_OP_ASYNC_CANCEL, linux: "5.19", liburing: "io_uring_prep_cancel_fd",
        zig: "cancel_fd",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors) (cancelling through a
            /// stale number would cancel the requests of whoever owns that number now); with
            /// `IORING_ASYNC_CANCEL_FD_FIXED` in `flags` it is a registered-file slot, which must
            /// stay registered to the intended file as long.
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_ASYNC_CANCEL, fd, 0, 0, 0);
            sqe.rw_flags = flags.union(IoringAsyncCancelFlags::FD).bits();
        },
    }

    /// `epoll_ctl(2)` on `epfd`: `op`
    /// (`EPOLL_CTL_ADD`/`MOD`/`DEL`) for `fd` with event `ev` (may be null for `DEL`).
    fn epoll_ctl = prep_epoll_ctl(epfd: RawFd, fd: RawFd, op: u32, ev: *mut EpollEvent) {
        opcode: IORING_OP_EPOLL_CTL, linux: "5.6", liburing: "io_uring_prep_epoll_ctl",
        zig: "epoll_ctl",
        safety: {
            /// `ev` (may be null for `EPOLL_CTL_DEL`) must stay valid until the completion has been
            /// reaped.
            ///
            /// `epfd` and `fd` follow the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_EPOLL_CTL,
                epfd,
                ev as u64,
                op as usize,
                u64::from(fd as u32),
            );
        },
    }

    /// `epoll_wait(2)` on `fd` into `events`; `res`
    /// is the number of events.
    fn epoll_wait = prep_epoll_wait(fd: RawFd, events: &mut [EpollEvent], flags: u32) {
        opcode: IORING_OP_EPOLL_WAIT, linux: "6.15", liburing: "io_uring_prep_epoll_wait",
        zig: "epoll_wait",
        safety: {
            /// `events` must stay valid, and not be accessed through other references, until the
            /// completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_EPOLL_WAIT,
                fd,
                events.as_mut_ptr() as u64,
                events.len(),
                0,
            );
            sqe.rw_flags = flags;
        },
    }
}
