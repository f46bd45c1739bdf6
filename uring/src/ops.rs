//! Ring operations: each takes the next SQE, prepares it, sets `user_data`, and returns a
//! handle to it ([`SqeRef`]) so that flags such as `IOSQE_IO_LINK` can be added before
//! submission. Names and argument order follow Zig's `IoUring` (and so liburing).
//!
//! Operations that hand memory to the kernel (buffers, iovecs, paths, msghdrs, sockaddrs)
//! are `unsafe fn`: the memory must stay valid until the completion has been reaped (for
//! zero-copy sends: until the `IORING_CQE_F_NOTIF` completion). Operations that pass only
//! numbers are safe.

use core::ops::Deref;
use std::os::fd::RawFd;

use crate::error::SubmissionQueueFull;
use crate::ring::IoUring;
use crate::sqe::{MsgHdr, Sqe};

/// A prepared SQE in the ring, not yet submitted. Reading it is safe ([`Deref`]); changing
/// the fields that name memory is not, so only the flags, user_data and personality can be
/// set safely. [`as_mut_sqe`](SqeRef::as_mut_sqe) gives full access, `unsafe`ly.
#[derive(Debug)]
pub struct SqeRef<'a>(&'a mut Sqe);

impl<'a> SqeRef<'a> {
    #[inline]
    pub(crate) fn new(sqe: &'a mut Sqe) -> Self {
        SqeRef(sqe)
    }

    /// Adds `IOSQE_*` flags (e.g. [`IOSQE_IO_LINK`](crate::sys::IOSQE_IO_LINK)).
    #[inline]
    pub fn add_flags(&mut self, flags: u8) -> &mut Self {
        self.0.flags |= flags;
        self
    }

    /// Replaces the `IOSQE_*` flags.
    #[inline]
    pub fn set_flags(&mut self, flags: u8) -> &mut Self {
        self.0.flags = flags;
        self
    }

    /// Links the next SQE to this one (`IOSQE_IO_LINK`): it starts only after this one
    /// completes successfully.
    #[inline]
    pub fn link(&mut self) -> &mut Self {
        self.add_flags(crate::sys::IOSQE_IO_LINK)
    }

    /// Replaces the user_data.
    #[inline]
    pub fn set_user_data(&mut self, user_data: u64) -> &mut Self {
        self.0.user_data = user_data;
        self
    }

    /// Sets the personality (credentials registered with IORING_REGISTER_PERSONALITY).
    #[inline]
    pub fn set_personality(&mut self, personality: u16) -> &mut Self {
        self.0.personality = personality;
        self
    }

    /// Full mutable access to the SQE.
    ///
    /// # Safety
    ///
    /// Whatever the SQE names after the change must satisfy the contract of
    /// [`IoUring::get_sqe`]: memory valid until completion (zero-copy: notification).
    #[inline]
    pub unsafe fn as_mut_sqe(&mut self) -> &mut Sqe {
        self.0
    }
}

impl Deref for SqeRef<'_> {
    type Target = Sqe;
    #[inline]
    fn deref(&self) -> &Sqe {
        self.0
    }
}

/// The result of every operation method.
pub type SqeResult<'a> = Result<SqeRef<'a>, SubmissionQueueFull>;

impl IoUring {
    /// Takes the next SQE, lets `prep` fill it, sets `user_data`.
    #[inline]
    pub(crate) fn queue(&mut self, user_data: u64, prep: impl FnOnce(&mut Sqe)) -> SqeResult<'_> {
        let sqe = self.next_sqe()?;
        prep(sqe);
        sqe.user_data = user_data;
        Ok(SqeRef::new(sqe))
    }

    /// Queues (but does not submit) a NOP (Linux 5.1): it completes with result 0. Used to
    /// wake a waiter or measure the ring. Zig: `nop`; liburing: `io_uring_prep_nop`.
    #[inline]
    pub fn nop(&mut self, user_data: u64) -> SqeResult<'_> {
        self.queue(user_data, Sqe::prep_nop)
    }

    /// Queues (but does not submit) a `send(2)` of `buffer` (Linux 5.6). Zig: `send`;
    /// liburing: `io_uring_prep_send`.
    ///
    /// # Safety
    ///
    /// `buffer` must stay valid until the completion has been reaped.
    #[inline]
    pub unsafe fn send(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: &[u8],
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_send(fd, buffer, flags))
    }

    /// Queues (but does not submit) a zero-copy `send(2)` of `buffer` (Linux 6.0);
    /// `zc_flags` are `IORING_RECVSEND_POLL_FIRST` and `IORING_SEND_ZC_REPORT_USAGE`.
    /// Zig: `send_zc`; liburing: `io_uring_prep_send_zc`.
    ///
    /// Completes twice: first with the byte count or `-errno`, usually with
    /// `IORING_CQE_F_MORE`; then, if the first had `F_MORE`, a notification with the same
    /// user_data, `res` 0 (or `IORING_NOTIF_USAGE_ZC_COPIED` with REPORT_USAGE) and
    /// `IORING_CQE_F_NOTIF`. Even errored sends may notify: decide by `F_MORE`, not `res`.
    ///
    /// # Safety
    ///
    /// `buffer` must stay valid **and unmodified until the notification** (or until a
    /// first completion without `F_MORE`), not merely until the first completion.
    #[inline]
    pub unsafe fn send_zc(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: &[u8],
        send_flags: u32,
        zc_flags: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_send_zc(fd, buffer, send_flags, zc_flags)
        })
    }

    /// Queues (but does not submit) a zero-copy `send(2)` from the registered buffer
    /// `buf_index` (Linux 6.0): the kernel skips pinning pages per request. Same
    /// two-completion protocol as [`send_zc`](Self::send_zc). Zig: `send_zc_fixed`;
    /// liburing: `io_uring_prep_send_zc_fixed`.
    ///
    /// # Safety
    ///
    /// `buffer` must lie inside registered buffer `buf_index` (otherwise the kernel fails
    /// the request with EFAULT) and stay valid and unmodified until the notification.
    #[inline]
    pub unsafe fn send_zc_fixed(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: &[u8],
        send_flags: u32,
        zc_flags: u16,
        buf_index: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_send_zc_fixed(fd, buffer, send_flags, zc_flags, buf_index)
        })
    }

    /// Queues (but does not submit) a zero-copy `sendmsg(2)` (Linux 6.1); `msg_name` may
    /// give a destination for an unconnected datagram socket. Same two-completion protocol
    /// as [`send_zc`](Self::send_zc). Zig: `sendmsg_zc`; liburing:
    /// `io_uring_prep_sendmsg_zc`.
    ///
    /// # Safety
    ///
    /// `msg`, its iovecs, their buffers, `msg_name` and `msg_control` must stay valid and
    /// unmodified until the notification (the msghdr itself only until submission returns,
    /// since the kernel copies it at submission; keeping it is simplest).
    #[inline]
    pub unsafe fn sendmsg_zc(
        &mut self,
        user_data: u64,
        fd: RawFd,
        msg: *const MsgHdr,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_sendmsg_zc(fd, msg, flags))
    }

    /// Queues (but does not submit) an `accept4(2)` (Linux 5.5); the peer address is
    /// written to `addr` and its length to `addrlen` when they are not null. Zig: `accept`;
    /// liburing: `io_uring_prep_accept`.
    ///
    /// # Safety
    ///
    /// `addr` and `addrlen`, when not null, must stay valid until the completion.
    #[inline]
    pub unsafe fn accept(
        &mut self,
        user_data: u64,
        fd: RawFd,
        addr: *mut linux_raw_sys::net::sockaddr,
        addrlen: *mut u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_accept(fd, addr, addrlen, flags))
    }

    /// Queues (but does not submit) a `connect(2)` (Linux 5.5). Zig: `connect`;
    /// liburing: `io_uring_prep_connect`.
    ///
    /// # Safety
    ///
    /// `addr` must stay valid until the completion.
    #[inline]
    pub unsafe fn connect(
        &mut self,
        user_data: u64,
        fd: RawFd,
        addr: *const linux_raw_sys::net::sockaddr,
        addrlen: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_connect(fd, addr, addrlen))
    }
}
