//! Ring operations: each takes the next SQE, prepares it, sets `user_data`, and returns a
//! handle to it ([`SqeRef`]) so that flags such as `IOSQE_IO_LINK` can be added before
//! submission. Names and argument order follow Zig's `IoUring` (and so liburing).
//!
//! # Which operations are `unsafe`
//!
//! The rule: **every operation whose kernel work touches memory or a descriptor after the
//! call returns is `unsafe fn`**, with its contract in `# Safety`. Queueing only fills an
//! SQE; the kernel reads what the SQE names when it consumes and issues it, which may be
//! long after the call (at the next `submit`, later under SQPOLL, in an io-wq worker with
//! `IOSQE_ASYNC`, after the previous request of a link chain). So:
//!
//! - Operations that hand memory to the kernel (buffers, iovecs, paths, msghdrs,
//!   sockaddrs, timespecs, result structs) require it to stay valid until the completion
//!   has been reaped (for zero-copy sends: until the `IORING_CQE_F_NOTIF` completion), and
//!   memory the kernel writes must not be accessed in the meantime. That includes what the
//!   kernel copies when it consumes the SQE (paths, timespecs, msghdrs): on an SQPOLL ring
//!   that may be after `submit` returned, and the completion is how the caller knows.
//! - Operations that name a file descriptor follow the [descriptor contract](#descriptors).
//! - Operations that select a provided buffer tie the request to its group's memory (see
//!   [`read`](IoUring::read) with [`ReadBuffer::BufferSelection`]).
//!
//! An fd number is not enough to make a request safe: safe code cannot queue one.
//!
//! ```compile_fail,E0133
//! # fn f(ring: &mut uring::IoUring, fd: std::os::fd::RawFd) {
//! ring.splice(1, fd, u64::MAX, fd, u64::MAX, 4096).unwrap(); // error[E0133]: requires unsafe
//! # }
//! ```
//!
//! ```compile_fail,E0133
//! # fn f(ring: &mut uring::IoUring, fd: std::os::fd::RawFd) {
//! ring.fsync(1, fd, 0).unwrap(); // error[E0133]: requires unsafe
//! # }
//! ```
//!
//! Nor message a ring by its number (which may be another ring's by the time the kernel
//! issues the request; [`IoUring::msg_ring_sync`] is the safe way):
//!
//! ```compile_fail,E0133
//! # fn f(ring: &mut uring::IoUring, target: &uring::IoUring) {
//! ring.msg_ring(1, target.fd(), 0, 2, 0).unwrap(); // error[E0133]: requires unsafe
//! # }
//! ```
//!
//! Nor can it change a registered table that other requests (a pool's) rely on:
//!
//! ```compile_fail,E0133
//! # fn f(ring: &mut uring::IoUring) {
//! ring.unregister_buffers().unwrap(); // error[E0133]: requires unsafe
//! # }
//! ```
//!
//! Operations that pass only numbers (`nop`, `socket`, `close_direct`, `timeout_remove`,
//! `poll_remove`, `cancel`, …) are safe; on a ring with a reserved user_data namespace
//! (a driver's), none of them can give a request a user_data in it (`poll_update` with
//! `IORING_POLL_UPDATE_USER_DATA` included). [`IoUring::close`] is `unsafe` because closing a
//! descriptor that something else owns breaks I/O safety.
//!
//! # Descriptors
//!
//! An operation that takes a `RawFd` (`fd`, `dir_fd`, `fd_in`, …) requires of each one:
//! it must be open and refer to the file the caller intends, owned or borrowed by the
//! caller, from the call until the request's completion (for a multishot request: its
//! final completion, the one without `IORING_CQE_F_MORE`) has been reaped. Closing it, or
//! letting its number be reused by another open, in the meantime would make the request
//! act on whatever file the number names when the kernel resolves it. The kernel resolves
//! the number when it issues the request, and with `IOSQE_IO_LINK`/`IOSQE_IO_HARDLINK`,
//! `IOSQE_ASYNC` or an SQPOLL ring that is later than the call (and than `submit`): a
//! `BorrowedFd` for the duration of the call is not enough. With `IOSQE_FIXED_FILE`
//! (set through [`SqeRef::add_flags_unchecked`]) the number is a slot of the registered
//! file table instead, which must stay registered to the intended file for as long.
//! `AT_FDCWD` for a `dir_fd`, and `-1` where an operation documents it, name no
//! descriptor.
//!
//! A direct-descriptor operation (`*_direct`, `files_update`) must not install into or
//! close a slot of a table the caller does not own. On a ring whose table belongs to its
//! safe layer ([`IoUring::is_file_table_reserved`]: a [`Driver`](crate::zc::Driver)'s
//! ring, where senders' sockets live), the safe ones ([`close_direct`](IoUring::close_direct),
//! [`socket_direct`](IoUring::socket_direct), [`socket_direct_alloc`](IoUring::socket_direct_alloc))
//! answer [`SqeError::ReservedFileTable`], and the `unsafe` ones must not be used at all.
//!
//! Each method documents the opcode it queues, the kernel version that introduced it, the
//! liburing function it matches and its Zig name (the same name unless said otherwise).
//! Where Zig takes a tagged union, the Rust method takes an enum ([`ReadBuffer`],
//! [`RecvBuffer`]).

use core::ffi::{c_void, CStr};
use core::ops::Deref;
use core::sync::atomic::AtomicU32;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use rustix::io_uring::IoringRegisterOp;

use crate::error::{Error, RegisterError, SqeError, SqeFlagsError};
use crate::ring::IoUring;
use crate::sqe::Sqe;
use crate::sys::IoringSendFlags;
use crate::types::{
    EpollEvent, FutexWaitv, IdType, MsgHdr, OpenHow, RawSockAddr, SigInfo, SocketOp, Statx,
    Timespec,
};

/// A prepared SQE in the ring, not yet submitted. Reading it is safe ([`Deref`]); changing
/// the fields that name memory is not, so only the flags, user_data and personality can be
/// set safely (the user_data is given when the operation is queued, and checked against
/// the ring's reserved namespace then). [`as_mut_sqe`](SqeRef::as_mut_sqe) gives full access, `unsafe`ly.
#[derive(Debug)]
pub struct SqeRef<'a>(&'a mut Sqe);

impl<'a> SqeRef<'a> {
    #[inline]
    pub(crate) fn new(sqe: &'a mut Sqe) -> Self {
        SqeRef(sqe)
    }

    /// The `IOSQE_*` flags that name nothing, which [`add_flags`](Self::add_flags) and
    /// [`set_flags`](Self::set_flags) accept: `IOSQE_IO_LINK`, `IOSQE_IO_HARDLINK`,
    /// `IOSQE_IO_DRAIN`, `IOSQE_ASYNC` and `IOSQE_CQE_SKIP_SUCCESS`. They change when the
    /// request runs and whether its success posts a completion, not what it acts on (a
    /// later issue is covered by the queueing method's contract, which lasts until the
    /// completion). `IOSQE_FIXED_FILE` (the `fd` field then names a registered-file slot)
    /// and `IOSQE_BUFFER_SELECT` (the kernel then writes into a provided buffer of the
    /// group in `buf_group`) name something, as would a future bit: those need
    /// [`add_flags_unchecked`](Self::add_flags_unchecked).
    pub const SAFE_FLAGS: u8 = crate::sys::IOSQE_IO_LINK
        | crate::sys::IOSQE_IO_HARDLINK
        | crate::sys::IOSQE_IO_DRAIN
        | crate::sys::IOSQE_ASYNC
        | crate::sys::IOSQE_CQE_SKIP_SUCCESS;

    /// Adds `IOSQE_*` flags among [`SAFE_FLAGS`](Self::SAFE_FLAGS) (e.g.
    /// [`IOSQE_IO_LINK`](crate::sys::IOSQE_IO_LINK)). Any other bit is refused with
    /// [`SqeFlagsError`], and nothing is changed.
    #[inline]
    pub fn add_flags(&mut self, flags: u8) -> Result<&mut Self, SqeFlagsError> {
        check_safe_flags(flags)?;
        self.0.flags |= flags;
        Ok(self)
    }

    /// Replaces the flags among [`SAFE_FLAGS`](Self::SAFE_FLAGS) with `flags`; the others
    /// (`IOSQE_FIXED_FILE`, `IOSQE_BUFFER_SELECT`, set by the queueing method) are kept,
    /// since clearing them would change what the SQE names too. Any bit outside
    /// `SAFE_FLAGS` in `flags` is refused with [`SqeFlagsError`], and nothing is changed.
    #[inline]
    pub fn set_flags(&mut self, flags: u8) -> Result<&mut Self, SqeFlagsError> {
        check_safe_flags(flags)?;
        self.0.flags = (self.0.flags & !Self::SAFE_FLAGS) | flags;
        Ok(self)
    }

    /// Adds any `IOSQE_*` flags, unchecked.
    ///
    /// # Safety
    ///
    /// Whatever the flags make the SQE name must be valid for the kernel until the
    /// request's completion (multishot: the final one, without `IORING_CQE_F_MORE`) has
    /// been reaped:
    /// - `IOSQE_FIXED_FILE`: the `fd` field is then an index into the registered file
    ///   table, which must hold the intended file at that slot for as long (the
    ///   [descriptor contract](crate::ops#descriptors), for a slot);
    /// - `IOSQE_BUFFER_SELECT`: the kernel then writes into a buffer it picks from the
    ///   provided-buffer group in `buf_group` (the `buf_index` field): that group's memory
    ///   must stay valid, and not be accessed by anyone but the kernel while provided, for
    ///   as long (as for [`ReadBuffer::BufferSelection`]);
    /// - any other bit outside [`SAFE_FLAGS`](Self::SAFE_FLAGS): whatever the running
    ///   kernel makes of it must be sound.
    #[inline]
    pub unsafe fn add_flags_unchecked(&mut self, flags: u8) -> &mut Self {
        self.0.flags |= flags;
        self
    }

    /// Adds typed send flags that name nothing to `ioprio`: `POLL_FIRST` (try to send
    /// only once the socket polls writable, Linux 5.19) on `send`, `sendto`, `sendmsg`,
    /// `send_zc` and `sendmsg_zc`, and `ZC_REPORT_USAGE` (the notification reports whether
    /// the kernel copied, Linux 6.2) on the two zero-copy ones. Any other flag
    /// (`FIXED_BUF`, `BUNDLE`, `VECTORIZED` change what the entry names), or a flag on an
    /// opcode that does not take it, is [`SqeError::SendFlags`], and nothing is changed.
    #[inline]
    pub fn add_send_flags(&mut self, flags: IoringSendFlags) -> Result<&mut Self, SqeError> {
        use crate::sys::io_uring_op as Op;
        let op = self.0.opcode;
        let allowed = if op == crate::sys::op(Op::IORING_OP_SEND_ZC)
            || op == crate::sys::op(Op::IORING_OP_SENDMSG_ZC)
        {
            ZC_NUMBER_FLAGS
        } else if op == crate::sys::op(Op::IORING_OP_SEND)
            || op == crate::sys::op(Op::IORING_OP_SENDMSG)
        {
            IoringSendFlags::POLL_FIRST
        } else {
            IoringSendFlags::empty()
        };
        check_send_flags(flags, allowed)?;
        self.0.set_send_flags(flags);
        Ok(self)
    }

    /// Links the next SQE to this one (`IOSQE_IO_LINK`): it starts only after this one
    /// completes successfully.
    #[inline]
    pub fn link(&mut self) -> &mut Self {
        self.0.flags |= crate::sys::IOSQE_IO_LINK;
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
    /// [`IoUring::get_sqe`]: memory valid until completion (zero-copy: notification), and
    /// its user_data must not be reserved ([`IoUring::is_reserved_user_data`]).
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

/// Refuses flags outside [`SqeRef::SAFE_FLAGS`].
#[inline]
fn check_safe_flags(flags: u8) -> Result<(), SqeFlagsError> {
    let refused = flags & !SqeRef::SAFE_FLAGS;
    if refused != 0 {
        return Err(SqeFlagsError(refused));
    }
    Ok(())
}

/// The send flags that name nothing (a method or [`SqeRef::add_send_flags`] may take them
/// from a caller): `POLL_FIRST` and `ZC_REPORT_USAGE`.
const ZC_NUMBER_FLAGS: IoringSendFlags =
    IoringSendFlags::POLL_FIRST.union(IoringSendFlags::ZC_REPORT_USAGE);

/// Refuses send flags outside `allowed`.
#[inline]
fn check_send_flags(flags: IoringSendFlags, allowed: IoringSendFlags) -> Result<(), SqeError> {
    let refused = flags.difference(allowed);
    if !refused.is_empty() {
        return Err(SqeError::SendFlags(refused.bits()));
    }
    Ok(())
}

/// The result of every operation method.
pub type SqeResult<'a> = Result<SqeRef<'a>, SqeError>;

/// Where [`IoUring::read`] puts its data (Zig's `ReadBuffer`).
#[derive(Debug)]
pub enum ReadBuffer<'a> {
    /// `pread(2)` into this buffer (`IORING_OP_READ`, Linux 5.6).
    Buffer(&'a mut [u8]),
    /// `preadv(2)` into these buffers (`IORING_OP_READV`, Linux 5.1).
    Iovecs(&'a [IoSliceMut<'a>]),
    /// Into a buffer the kernel picks from a provided-buffer group (`IORING_OP_READ` with
    /// `IOSQE_BUFFER_SELECT`, Linux 5.7); the CQE carries its id
    /// ([`Cqe::buffer_id`](crate::Cqe::buffer_id)). The group must hold a buffer when the
    /// read runs, or it fails with `ENOBUFS`.
    BufferSelection {
        /// The buffer group (`buf_group`).
        group_id: u16,
        /// How many bytes to read at most into the selected buffer.
        len: usize,
    },
}

/// Where [`IoUring::recv`] puts its data (Zig's `RecvBuffer`).
#[derive(Debug)]
pub enum RecvBuffer<'a> {
    /// `recv(2)` into this buffer.
    Buffer(&'a mut [u8]),
    /// Into a buffer the kernel picks from a provided-buffer group (`IOSQE_BUFFER_SELECT`,
    /// Linux 5.7); the CQE carries its id. `ENOBUFS` if the group is empty.
    BufferSelection {
        /// The buffer group (`buf_group`).
        group_id: u16,
        /// How many bytes to receive at most (0: the whole selected buffer).
        len: usize,
    },
}

impl IoUring {
    /// Takes the next SQE, lets `prep` fill it, sets `user_data` (refused if reserved).
    #[inline]
    pub(crate) fn queue(&mut self, user_data: u64, prep: impl FnOnce(&mut Sqe)) -> SqeResult<'_> {
        let sqe = self.next_sqe_for(user_data)?;
        prep(sqe);
        sqe.user_data = user_data;
        Ok(SqeRef::new(sqe))
    }

    /// Queues (but does not submit) a NOP (Linux 5.1): it completes with result 0. Used to
    /// wake a waiter, as a barrier with `IOSQE_IO_DRAIN`, or to measure the ring. Zig:
    /// `nop`; liburing: `io_uring_prep_nop`.
    #[inline]
    pub fn nop(&mut self, user_data: u64) -> SqeResult<'_> {
        self.queue(user_data, Sqe::prep_nop)
    }

    /// Queues (but does not submit) an `fsync(2)` of `fd` (`IORING_OP_FSYNC`, Linux 5.1);
    /// `flags` may be `IORING_FSYNC_DATASYNC` for `fdatasync(2)`. Completions are
    /// unordered: link the write before it (`IOSQE_IO_LINK`) or drain, or the fsync may
    /// run first. Zig: `fsync`; liburing: `io_uring_prep_fsync`.
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn fsync(&mut self, user_data: u64, fd: RawFd, flags: u32) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_fsync(fd, flags))
    }
}

/// Reads and writes.
impl IoUring {
    /// Queues (but does not submit) a read of `fd` at `offset` (`u64::MAX`: the file
    /// position): into one buffer (`IORING_OP_READ`, Linux 5.6), into iovecs
    /// (`IORING_OP_READV`, `preadv(2)`, Linux 5.1; set `rw_flags` through
    /// [`SqeRef::as_mut_sqe`] for `preadv2(2)`), or into a buffer the kernel selects from
    /// a provided-buffer group (Linux 5.7). Zig: `read`; liburing: `io_uring_prep_read`,
    /// `io_uring_prep_readv`.
    ///
    /// # Safety
    ///
    /// The buffer, or the iovec array and every buffer it names, must stay valid until the
    /// completion has been reaped, and the buffers must not be read or written through any
    /// other reference until then (the kernel writes them).
    ///
    /// `BufferSelection` ties the request to group `group_id`: the kernel may pick a
    /// buffer of the group at any time until the completion has been reaped, and write
    /// into it. The group's memory (every buffer provided to it, by a
    /// [`BufferGroup`](crate::BufferGroup), a [`BufRing`](crate::BufRing) or
    /// [`provide_buffers`](Self::provide_buffers)) must stay valid, and must not be freed,
    /// reused or accessed by the caller while provided, until then. This holds even after
    /// the group is unregistered: an `IOSQE_ASYNC` read of an empty pipe selects its
    /// buffer in an io-wq worker and keeps the address while it blocks, so dropping a
    /// `BufferGroup` under it would let the kernel write into whatever is mapped there
    /// afresh. Cancel the request and reap its completion before dropping the group.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn read(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: ReadBuffer<'_>,
        offset: u64,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| match buffer {
            ReadBuffer::Buffer(buf) => sqe.prep_read(fd, buf, offset),
            ReadBuffer::Iovecs(iovecs) => sqe.prep_readv(fd, iovecs, offset),
            ReadBuffer::BufferSelection { group_id, len } => {
                sqe.prep_read_buffer_selection(fd, group_id, len, offset)
            }
        })
    }

    /// Queues (but does not submit) a multishot read of a pollable `fd` (pipe, socket,
    /// eventfd) into buffers selected from group `group_id`, up to `nbytes` each (0: the
    /// buffer size) (`IORING_OP_READ_MULTISHOT`, Linux 6.7). Each CQE carries a buffer id;
    /// `IORING_CQE_F_MORE` says the request is still armed. Zig: `BufferGroup.read_multishot`;
    /// liburing: `io_uring_prep_read_multishot`.
    ///
    /// # Safety
    ///
    /// The kernel writes into whichever buffer of group `group_id` it selects, for as long
    /// as the request is armed: the group's memory must stay valid, and not be read or
    /// written by anyone but the kernel while it is provided, until this request's final
    /// completion (the one without `IORING_CQE_F_MORE`) has been reaped. (A
    /// [`BufferGroup`](crate::buf_ring::BufferGroup) dropped earlier would break this: the
    /// kernel may hold a selected buffer's address while the request waits for data.)
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn read_multishot(
        &mut self,
        user_data: u64,
        fd: RawFd,
        nbytes: u32,
        offset: u64,
        group_id: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_read_multishot(fd, nbytes, offset, group_id)
        })
    }

    /// Queues (but does not submit) a `pwrite(2)` of `buffer` at `offset` (`u64::MAX`:
    /// the file position) (`IORING_OP_WRITE`, Linux 5.6). Zig: `write`; liburing:
    /// `io_uring_prep_write`.
    ///
    /// # Safety
    ///
    /// `buffer` must stay valid until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn write(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: &[u8],
        offset: u64,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_write(fd, buffer, offset))
    }

    /// Queues (but does not submit) a `pwritev(2)` of `iovecs` at `offset`
    /// (`IORING_OP_WRITEV`, Linux 5.1; set `rw_flags` for `pwritev2(2)`). Zig: `writev`;
    /// liburing: `io_uring_prep_writev`.
    ///
    /// # Safety
    ///
    /// The iovec array and every buffer it names must stay valid until the completion has
    /// been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn writev(
        &mut self,
        user_data: u64,
        fd: RawFd,
        iovecs: &[IoSlice<'_>],
        offset: u64,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_writev(fd, iovecs, offset))
    }

    /// Queues (but does not submit) a read into `buffer`, which lies inside registered
    /// buffer `buffer_index` (`IORING_OP_READ_FIXED`, Linux 5.1; see
    /// [`register_buffers`](Self::register_buffers)). Zig: `read_fixed`; liburing:
    /// `io_uring_prep_read_fixed`.
    ///
    /// # Safety
    ///
    /// `buffer` must lie inside registered buffer `buffer_index` (else the request fails
    /// with `EFAULT`), stay valid, and not be read or written through any other reference
    /// until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn read_fixed(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: &mut [u8],
        offset: u64,
        buffer_index: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_read_fixed(fd, buffer, offset, buffer_index)
        })
    }

    /// Queues (but does not submit) a `preadv(2)` into `iovecs`, all inside registered
    /// buffer `buffer_index` (`IORING_OP_READV_FIXED`, Linux 6.15). Zig: `read_fixed` with
    /// `.iovecs`; liburing: `io_uring_prep_readv_fixed`.
    ///
    /// # Safety
    ///
    /// As for [`read_fixed`](Self::read_fixed), for the iovec array and every buffer it
    /// names.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn readv_fixed(
        &mut self,
        user_data: u64,
        fd: RawFd,
        iovecs: &[IoSliceMut<'_>],
        offset: u64,
        buffer_index: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_readv_fixed(fd, iovecs, offset, buffer_index)
        })
    }

    /// Queues (but does not submit) a write of `buffer`, which lies inside registered
    /// buffer `buffer_index` (`IORING_OP_WRITE_FIXED`, Linux 5.1). Zig: `write_fixed`;
    /// liburing: `io_uring_prep_write_fixed`.
    ///
    /// # Safety
    ///
    /// `buffer` must lie inside registered buffer `buffer_index` and stay valid until the
    /// completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn write_fixed(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: &[u8],
        offset: u64,
        buffer_index: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_write_fixed(fd, buffer, offset, buffer_index)
        })
    }

    /// Queues (but does not submit) a `pwritev(2)` of `iovecs`, all inside registered
    /// buffer `buffer_index` (`IORING_OP_WRITEV_FIXED`, Linux 6.15). Zig: `write_fixed`
    /// with `.iovecs`; liburing: `io_uring_prep_writev_fixed`.
    ///
    /// # Safety
    ///
    /// As for [`write_fixed`](Self::write_fixed), for the iovec array and every buffer it
    /// names.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn writev_fixed(
        &mut self,
        user_data: u64,
        fd: RawFd,
        iovecs: &[IoSlice<'_>],
        offset: u64,
        buffer_index: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_writev_fixed(fd, iovecs, offset, buffer_index)
        })
    }

    /// Queues (but does not submit) a `splice(2)` of `len` bytes from `fd_in` at `off_in`
    /// to `fd_out` at `off_out` (`IORING_OP_SPLICE`, Linux 5.7). One side must be a pipe
    /// and its offset `u64::MAX`; for the other side `u64::MAX` means "at the file
    /// position". Splicing a file through a pipe to a socket is how `sendfile` works. Even
    /// with a pipe, a file type without splice support fails with `EINVAL`. Zig: `splice`;
    /// liburing: `io_uring_prep_splice`.
    ///
    /// # Safety
    ///
    /// `fd_in` and `fd_out` follow the [descriptor contract](crate::ops#descriptors); with
    /// `SPLICE_F_FD_IN_FIXED` (set through [`SqeRef::as_mut_sqe`]) `fd_in` is a
    /// registered-file slot, which must stay registered to the intended file as long.
    #[inline]
    pub unsafe fn splice(
        &mut self,
        user_data: u64,
        fd_in: RawFd,
        off_in: u64,
        fd_out: RawFd,
        off_out: u64,
        len: usize,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_splice(fd_in, off_in, fd_out, off_out, len)
        })
    }

    /// Queues (but does not submit) a `tee(2)` of up to `len` bytes from pipe `fd_in` to
    /// pipe `fd_out`, leaving them in `fd_in` (`IORING_OP_TEE`, Linux 5.8). Zig: `tee`;
    /// liburing: `io_uring_prep_tee`.
    ///
    /// # Safety
    ///
    /// `fd_in` and `fd_out` follow the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn tee(
        &mut self,
        user_data: u64,
        fd_in: RawFd,
        fd_out: RawFd,
        len: usize,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_tee(fd_in, fd_out, len))
    }
}

/// Sockets: send and receive.
impl IoUring {
    /// Queues (but does not submit) a `send(2)` of `buffer` (`IORING_OP_SEND`, Linux 5.6).
    /// Zig: `send`; liburing: `io_uring_prep_send`.
    ///
    /// # Safety
    ///
    /// `buffer` must stay valid until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
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

    /// Queues (but does not submit) a `sendto(2)` of `buffer` to `addr`, for an
    /// unconnected datagram socket (`IORING_OP_SEND` with `addr2`, Linux 6.0). No Zig
    /// twin; liburing: `io_uring_prep_sendto`.
    ///
    /// # Safety
    ///
    /// `buffer` and the `addrlen` bytes at `addr` must stay valid until the completion has
    /// been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn sendto(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: &[u8],
        flags: u32,
        addr: *const RawSockAddr,
        addrlen: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_sendto(fd, buffer, flags, addr, addrlen)
        })
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
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    ///
    /// # Example
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::{TcpListener, TcpStream};
    /// use std::os::fd::AsRawFd;
    /// use uring::{sys::IoringSetupFlags, IoUring};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let stream = TcpStream::connect(listener.local_addr()?)?;
    /// let (mut peer, _) = listener.accept()?;
    /// let mut ring = IoUring::init(8, IoringSetupFlags::empty())?;
    /// let buffer = vec![0x5a_u8; 64 * 1024];
    /// // SAFETY: `buffer` is neither dropped nor written until the loop below has seen the
    /// // last completion for it; `stream` stays open until then.
    /// unsafe { ring.send_zc(7, stream.as_raw_fd(), &buffer, 0, 0)? };
    /// ring.submit()?;
    /// let (mut sent, mut more) = (0, true);
    /// let reading = std::thread::spawn(move || {
    ///     let mut got = vec![0u8; 64 * 1024];
    ///     peer.read_exact(&mut got).map(|()| got)
    /// });
    /// for _ in 0..2 {
    ///     if !more {
    ///         break;
    ///     }
    ///     let cqe = ring.copy_cqe()?;
    ///     assert_eq!(cqe.user_data, 7);
    ///     if cqe.notif() {
    ///         more = false; // the kernel let go of `buffer`
    ///     } else {
    ///         sent = cqe.result()?; // the byte count
    ///         more = cqe.more(); // a notification follows
    ///     }
    /// }
    /// assert!(!more);
    /// assert_eq!(sent, 64 * 1024);
    /// drop(buffer); // only now
    /// assert!(reading.join().unwrap()?.iter().all(|&b| b == 0x5a));
    /// # Ok(()) }
    /// ```
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

    /// Queues (but does not submit) a zero-copy `sendto(2)` of `buffer` to `addr`, for an
    /// unconnected datagram socket (`IORING_OP_SEND_ZC` with `addr2`/`addr_len`, Linux
    /// 6.0). Same two-completion protocol as [`send_zc`](Self::send_zc). No Zig twin;
    /// liburing: `io_uring_prep_send_zc` + `io_uring_prep_send_set_addr`.
    ///
    /// # Safety
    ///
    /// `buffer` must stay valid **and unmodified until the notification** (or until a
    /// first completion without `F_MORE`); the `addrlen` bytes at `addr` must stay valid
    /// until the first completion has been reaped (keeping them as long as the buffer is
    /// simplest). Even errored sends may notify: decide by `F_MORE`.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn send_zc_to(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: &[u8],
        send_flags: u32,
        zc_flags: u16,
        addr: *const RawSockAddr,
        addrlen: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_send_zc(fd, buffer, send_flags, zc_flags);
            sqe.prep_send_set_addr(addr.cast(), u16::try_from(addrlen).unwrap_or(u16::MAX));
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
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
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

    /// Queues (but does not submit) a `sendmsg(2)` of `msg` (`IORING_OP_SENDMSG`, Linux
    /// 5.3). Zig: `sendmsg`; liburing: `io_uring_prep_sendmsg`.
    ///
    /// # Safety
    ///
    /// `msg`, its iovec array, the buffers they name, `msg_name` and `msg_control` must
    /// stay valid until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn sendmsg(
        &mut self,
        user_data: u64,
        fd: RawFd,
        msg: *const MsgHdr,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_sendmsg(fd, msg, flags))
    }

    /// Queues (but does not submit) a zero-copy `sendmsg(2)` (Linux 6.1); `msg_name` may
    /// give a destination for an unconnected datagram socket. Same two-completion protocol
    /// as [`send_zc`](Self::send_zc). Zig: `sendmsg_zc`; liburing:
    /// `io_uring_prep_sendmsg_zc`.
    ///
    /// # Safety
    ///
    /// `msg`, its iovecs, their buffers, `msg_name` and `msg_control` must stay valid and
    /// unmodified until the notification (the msghdr itself until the first completion
    /// has been reaped: the kernel copies it when it consumes the SQE, which on an SQPOLL
    /// ring may be after `submit` returned).
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
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

    /// Queues (but does not submit) a zero-copy `sendmsg(2)` whose iovecs address memory
    /// inside registered buffer `buf_index` (`IORING_OP_SENDMSG_ZC` with
    /// `IORING_RECVSEND_FIXED_BUF`, Linux 6.15: vectored zero-copy send from a registered
    /// buffer, no pinning per request). Same two-completion protocol as
    /// [`send_zc`](Self::send_zc). No Zig twin; liburing: `io_uring_prep_sendmsg_zc_fixed`.
    ///
    /// # Safety
    ///
    /// As for [`sendmsg_zc`](Self::sendmsg_zc); and every iovec of `msg` must lie inside
    /// registered buffer `buf_index` (otherwise the kernel fails the request with EFAULT),
    /// which must stay registered, valid and unmodified until the notification.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn sendmsg_zc_fixed(
        &mut self,
        user_data: u64,
        fd: RawFd,
        msg: *const MsgHdr,
        flags: u32,
        buf_index: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_sendmsg_zc_fixed(fd, msg, flags, buf_index)
        })
    }

    /// Queues (but does not submit) a zero-copy `sendto(2)` from registered buffer
    /// `buf_index` to `addr`, for an unconnected datagram socket (`IORING_OP_SEND_ZC` with
    /// `IORING_RECVSEND_FIXED_BUF` and `addr2`/`addr_len`, Linux 6.0). `zc_flags` may hold
    /// `POLL_FIRST` and `ZC_REPORT_USAGE` (anything else is
    /// [`SqeError::SendFlags`]). Same two-completion protocol as
    /// [`send_zc`](Self::send_zc). No Zig twin; liburing: `io_uring_prep_send_zc_fixed` +
    /// `io_uring_prep_send_set_addr`.
    ///
    /// # Safety
    ///
    /// As for [`send_zc_fixed`](Self::send_zc_fixed) (the buffer lies inside registered
    /// buffer `buf_index`, valid and unmodified until the notification), and the
    /// `addrlen` bytes at `addr` as for [`send_zc_to`](Self::send_zc_to).
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn send_zc_fixed_to(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: &[u8],
        send_flags: u32,
        zc_flags: IoringSendFlags,
        buf_index: u16,
        addr: *const RawSockAddr,
        addrlen: u32,
    ) -> SqeResult<'_> {
        check_send_flags(zc_flags, ZC_NUMBER_FLAGS)?;
        self.queue(user_data, |sqe| {
            sqe.prep_send_zc_fixed(fd, buffer, send_flags, zc_flags.bits(), buf_index);
            sqe.prep_send_set_addr(addr.cast(), u16::try_from(addrlen).unwrap_or(u16::MAX));
        })
    }

    /// Queues (but does not submit) a zero-copy send of the buffers `iovecs` names, in
    /// order, without a msghdr (`IORING_OP_SEND_ZC` with `IORING_SEND_VECTORIZED`, Linux
    /// 6.17). `zc_flags` may hold `POLL_FIRST` and `ZC_REPORT_USAGE` (anything else is
    /// [`SqeError::SendFlags`]). Same two-completion protocol as
    /// [`send_zc`](Self::send_zc). No Zig or liburing 2.15 twin (liburing:
    /// `io_uring_prep_send_zc` with `IORING_SEND_VECTORIZED`).
    ///
    /// # Safety
    ///
    /// The iovec array must stay valid until the first completion has been reaped (the
    /// kernel copies it when it issues the request), and every buffer it names valid and
    /// unmodified until the notification (or a first completion without `F_MORE`).
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn sendv_zc(
        &mut self,
        user_data: u64,
        fd: RawFd,
        iovecs: &[IoSlice<'_>],
        send_flags: u32,
        zc_flags: IoringSendFlags,
    ) -> SqeResult<'_> {
        check_send_flags(zc_flags, ZC_NUMBER_FLAGS)?;
        self.queue(user_data, |sqe| {
            sqe.prep_sendv_zc(fd, iovecs, send_flags, zc_flags)
        })
    }

    /// Queues (but does not submit) a bundled `send(2)` (`IORING_OP_SEND` with
    /// `IORING_RECVSEND_BUNDLE` and `IOSQE_BUFFER_SELECT`, Linux 6.10): one request sends
    /// up to `len` bytes (0: all they hold) from as many consecutive buffers of
    /// provided-buffer group `group_id` as are available, and consumes them (the
    /// completion's buffer id is the first; `res` the bytes sent). `ENOBUFS` if the group
    /// is empty. No Zig twin; liburing: `io_uring_prep_send_bundle` with
    /// `IOSQE_BUFFER_SELECT` and `buf_group`.
    ///
    /// # Safety
    ///
    /// The kernel reads the group's provided buffers: they must stay valid, and not be
    /// modified while provided, until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn send_bundle(
        &mut self,
        user_data: u64,
        fd: RawFd,
        group_id: u16,
        len: usize,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_send_bundle(fd, len, flags);
            sqe.flags |= crate::sys::IOSQE_BUFFER_SELECT;
            sqe.buf_index = group_id;
        })
    }

    /// Queues (but does not submit) a bundled `recv(2)` (`IORING_OP_RECV` with
    /// `IORING_RECVSEND_BUNDLE` and `IOSQE_BUFFER_SELECT`, Linux 6.10): one completion may
    /// fill several consecutive buffers of group `group_id`; its buffer id is the first,
    /// `res` the bytes across all of them (see
    /// [`BufferGroup::get_bundle`](crate::BufferGroup::get_bundle)). With `multishot`,
    /// `IORING_RECV_MULTISHOT` too. No Zig twin; liburing: `io_uring_prep_recv` (or
    /// `_multishot`) with `IORING_RECVSEND_BUNDLE` in `ioprio`.
    ///
    /// # Safety
    ///
    /// As for [`recv_multishot`](Self::recv_multishot): the group's memory must stay valid,
    /// and untouched while provided, until the final completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn recv_bundle(
        &mut self,
        user_data: u64,
        fd: RawFd,
        group_id: u16,
        flags: u32,
        multishot: bool,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_recv_buffer_selection(fd, group_id, 0, flags);
            sqe.ioprio |= crate::sys::IORING_RECVSEND_BUNDLE as u16;
            if multishot {
                sqe.ioprio |= crate::sys::IORING_RECV_MULTISHOT as u16;
            }
        })
    }

    /// Queues (but does not submit) a `recv(2)` (`IORING_OP_RECV`, Linux 5.6) into a
    /// buffer or into one the kernel selects from a provided-buffer group (Linux 5.7).
    /// Zig: `recv`; liburing: `io_uring_prep_recv`.
    ///
    /// # Safety
    ///
    /// A `Buffer` must stay valid, and not be read or written through any other reference,
    /// until the completion has been reaped. `BufferSelection` ties the request to group
    /// `group_id` as for [`read`](Self::read): the group's memory must stay valid, and not
    /// be freed, reused or accessed by the caller while provided, until the completion has
    /// been reaped (dropping the group earlier is not enough to stop the kernel).
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn recv(
        &mut self,
        user_data: u64,
        fd: RawFd,
        buffer: RecvBuffer<'_>,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| match buffer {
            RecvBuffer::Buffer(buf) => sqe.prep_recv(fd, buf, flags),
            RecvBuffer::BufferSelection { group_id, len } => {
                sqe.prep_recv_buffer_selection(fd, group_id, len, flags)
            }
        })
    }

    /// Queues (but does not submit) a multishot `recv(2)` into buffers selected from
    /// group `group_id` (`IORING_OP_RECV` with `IORING_RECV_MULTISHOT`, Linux 6.0): one
    /// CQE per receive, each naming its buffer, with `IORING_CQE_F_MORE` while the request
    /// stays armed; a CQE without it (e.g. `ENOBUFS` when the group ran dry, or 0 at end
    /// of stream) ends it. No Zig twin on the ring (Zig: `BufferGroup.recv_multishot`);
    /// liburing: `io_uring_prep_recv_multishot`.
    ///
    /// # Safety
    ///
    /// As for [`read_multishot`](Self::read_multishot): group `group_id`'s memory must stay
    /// valid, and untouched while provided, until the final completion (no
    /// `IORING_CQE_F_MORE`) of this request has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn recv_multishot(
        &mut self,
        user_data: u64,
        fd: RawFd,
        group_id: u16,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_recv_buffer_selection(fd, group_id, 0, flags);
            sqe.ioprio |= crate::sys::IORING_RECV_MULTISHOT as u16;
        })
    }

    /// Queues (but does not submit) a `recvmsg(2)` into `msg` (`IORING_OP_RECVMSG`, Linux
    /// 5.3). Zig: `recvmsg`; liburing: `io_uring_prep_recvmsg`.
    ///
    /// # Safety
    ///
    /// `msg`, its iovec array, the buffers they name, `msg_name` and `msg_control` must
    /// stay valid until the completion has been reaped; the kernel writes the buffers, the
    /// name, the control data and `msg`'s lengths and flags, which must not be accessed
    /// through other references until then.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn recvmsg(
        &mut self,
        user_data: u64,
        fd: RawFd,
        msg: *mut MsgHdr,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_recvmsg(fd, msg, flags))
    }

    /// Queues (but does not submit) a multishot `recvmsg(2)` into buffers selected from
    /// group `group_id` (`IORING_OP_RECVMSG` with `IORING_RECV_MULTISHOT`, Linux 6.0).
    /// `msg` only describes the layout: its `msg_namelen` and `msg_controllen` say how much
    /// room each buffer reserves for the name and control data; its iovecs are not used.
    /// Each buffer then holds a [`RecvmsgOut`](crate::types::RecvmsgOut), the name, the
    /// control data and the payload. Zig: `recvmsg_multishot` (which leaves the group to
    /// the caller; here it is an argument, since setting it later is not safe); liburing:
    /// `io_uring_prep_recvmsg_multishot`.
    ///
    /// # Safety
    ///
    /// `msg` must stay valid until the first completion has been reaped (the kernel reads
    /// it when the request starts; keeping it until the last completion is simplest).
    /// Group `group_id`'s memory must stay valid, and not be freed, reused or accessed by
    /// the caller while provided, until the final completion (without
    /// `IORING_CQE_F_MORE`) has been reaped, as for [`read_multishot`](Self::read_multishot).
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn recvmsg_multishot(
        &mut self,
        user_data: u64,
        fd: RawFd,
        msg: *mut MsgHdr,
        group_id: u16,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_recvmsg_multishot(fd, msg, flags);
            sqe.flags |= crate::sys::IOSQE_BUFFER_SELECT;
            sqe.buf_index = group_id;
        })
    }
}

/// Sockets: setup.
impl IoUring {
    /// Queues (but does not submit) an `accept4(2)` (Linux 5.5); the peer address is
    /// written to `addr` and its length to `addrlen` when they are not null. Zig: `accept`;
    /// liburing: `io_uring_prep_accept`.
    ///
    /// # Safety
    ///
    /// `addr` and `addrlen`, when not null, must stay valid until the completion has been
    /// reaped, `*addrlen` must hold the size of the room at `addr`, and neither may be
    /// accessed through other references until then.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn accept(
        &mut self,
        user_data: u64,
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_accept(fd, addr, addrlen, flags))
    }

    /// Queues (but does not submit) a multishot accept (`IORING_ACCEPT_MULTISHOT`, Linux
    /// 5.19): one CQE per connection (`res` the new fd), with `IORING_CQE_F_MORE` while it
    /// stays armed. Zig: `accept_multishot`; liburing: `io_uring_prep_multishot_accept`.
    ///
    /// # Safety
    ///
    /// As for [`accept`](Self::accept), until the last completion (the one without
    /// `F_MORE`) has been reaped: every accepted connection writes `addr`/`addrlen`. Pass
    /// null pointers unless each completion is handled before the next can arrive.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn accept_multishot(
        &mut self,
        user_data: u64,
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_multishot_accept(fd, addr, addrlen, flags)
        })
    }

    /// Queues (but does not submit) an accept into a free slot of the registered file
    /// table (`IORING_FILE_INDEX_ALLOC`, Linux 5.19); the CQE's `res` is the slot, usable
    /// with `IOSQE_FIXED_FILE`; `ENFILE` when the table is full. Zig: `accept_direct`;
    /// liburing: `io_uring_prep_accept_direct` with `IORING_FILE_INDEX_ALLOC`.
    ///
    /// # Safety
    ///
    /// As for [`accept`](Self::accept).
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn accept_direct(
        &mut self,
        user_data: u64,
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_accept_direct(fd, addr, addrlen, flags, crate::types::FILE_INDEX_ALLOC)
        })
    }

    /// Queues (but does not submit) a multishot accept into free slots of the registered
    /// file table (Linux 5.19): each CQE's `res` is a slot; a full table ends the request
    /// with `ENFILE` and no `F_MORE`. Zig: `accept_multishot_direct`; liburing:
    /// `io_uring_prep_multishot_accept_direct`.
    ///
    /// # Safety
    ///
    /// As for [`accept_multishot`](Self::accept_multishot).
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn accept_multishot_direct(
        &mut self,
        user_data: u64,
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_multishot_accept_direct(fd, addr, addrlen, flags)
        })
    }

    /// Queues (but does not submit) a `connect(2)` (Linux 5.5). Zig: `connect`;
    /// liburing: `io_uring_prep_connect`.
    ///
    /// # Safety
    ///
    /// The `addrlen` bytes at `addr` must stay valid until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn connect(
        &mut self,
        user_data: u64,
        fd: RawFd,
        addr: *const RawSockAddr,
        addrlen: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_connect(fd, addr, addrlen))
    }

    /// Queues (but does not submit) a `bind(2)` of `fd` to `addr` (`IORING_OP_BIND`, Linux
    /// 6.11). Zig: `bind` (whose trailing `flags` the kernel rejects unless 0, so it is
    /// left out, as in liburing); liburing: `io_uring_prep_bind`.
    ///
    /// # Safety
    ///
    /// The `addrlen` bytes at `addr` must stay valid until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn bind(
        &mut self,
        user_data: u64,
        fd: RawFd,
        addr: *const RawSockAddr,
        addrlen: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_bind(fd, addr, addrlen))
    }

    /// Queues (but does not submit) a `listen(2)` on `fd` (`IORING_OP_LISTEN`, Linux
    /// 6.11). Zig: `listen` (without its unused `flags`); liburing: `io_uring_prep_listen`.
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn listen(&mut self, user_data: u64, fd: RawFd, backlog: u32) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_listen(fd, backlog))
    }

    /// Queues (but does not submit) a `socket(2)` (`IORING_OP_SOCKET`, Linux 5.19); the
    /// CQE's `res` is the new fd, which the caller then owns. `flags` must be 0. Zig:
    /// `socket`; liburing: `io_uring_prep_socket`.
    #[inline]
    pub fn socket(
        &mut self,
        user_data: u64,
        domain: u32,
        socket_type: u32,
        protocol: u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_socket(domain, socket_type, protocol, flags)
        })
    }

    /// Queues (but does not submit) a `socket(2)` into slot `file_index` of the
    /// registered file table (Linux 5.19); `res` is 0. Zig: `socket_direct`; liburing:
    /// `io_uring_prep_socket_direct`.
    #[inline]
    pub fn socket_direct(
        &mut self,
        user_data: u64,
        domain: u32,
        socket_type: u32,
        protocol: u32,
        flags: u32,
        file_index: u32,
    ) -> SqeResult<'_> {
        self.check_file_table()?;
        self.queue(user_data, |sqe| {
            sqe.prep_socket_direct(domain, socket_type, protocol, flags, file_index)
        })
    }

    /// Queues (but does not submit) a `socket(2)` into a free slot of the registered file
    /// table, returned in `res` (Linux 5.19). Zig: `socket_direct_alloc`; liburing:
    /// `io_uring_prep_socket_direct_alloc`.
    #[inline]
    pub fn socket_direct_alloc(
        &mut self,
        user_data: u64,
        domain: u32,
        socket_type: u32,
        protocol: u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.check_file_table()?;
        self.queue(user_data, |sqe| {
            sqe.prep_socket_direct_alloc(domain, socket_type, protocol, flags)
        })
    }

    /// Queues (but does not submit) a `shutdown(2)` of `sockfd`, `how` one of `SHUT_RD`,
    /// `SHUT_WR`, `SHUT_RDWR` (`IORING_OP_SHUTDOWN`, Linux 5.11). Zig: `shutdown`;
    /// liburing: `io_uring_prep_shutdown`.
    ///
    /// # Safety
    ///
    /// `sockfd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn shutdown(&mut self, user_data: u64, sockfd: RawFd, how: u32) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_shutdown(sockfd, how))
    }

    /// Queues (but does not submit) a socket command (`IORING_OP_URING_CMD` with a
    /// `SOCKET_URING_OP_*`, Linux 6.7): `SIOCINQ`/`SIOCOUTQ` complete with the number of
    /// bytes queued; `GETSOCKOPT` (level `SOL_SOCKET` only) writes the option to `optval`
    /// and completes with its length; `SETSOCKOPT` reads `optlen` bytes at `optval`. Zig:
    /// `cmd_sock`; liburing: `io_uring_prep_cmd_sock`.
    ///
    /// # Safety
    ///
    /// For `GETSOCKOPT`/`SETSOCKOPT`, the `optlen` bytes at `optval` must stay valid until
    /// the completion has been reaped, and for `GETSOCKOPT` not be accessed through other
    /// references until then. The other commands do not use `optval`.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub unsafe fn cmd_sock(
        &mut self,
        user_data: u64,
        cmd_op: SocketOp,
        fd: RawFd,
        level: u32,
        optname: u32,
        optval: *mut c_void,
        optlen: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_cmd_sock(cmd_op, fd, level, optname, optval, optlen)
        })
    }

    /// Queues (but does not submit) a `setsockopt(2)` of `opt` for `level`/`optname`
    /// (`SOCKET_URING_OP_SETSOCKOPT`, Linux 6.7). Zig: `setsockopt`; liburing:
    /// `io_uring_prep_cmd_sock`.
    ///
    /// # Safety
    ///
    /// `opt` must stay valid until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn setsockopt(
        &mut self,
        user_data: u64,
        fd: RawFd,
        level: u32,
        optname: u32,
        opt: &[u8],
    ) -> SqeResult<'_> {
        let optlen = crate::sqe::len32(opt.len());
        // SAFETY: the kernel only reads `optval` for SETSOCKOPT; the caller keeps `opt`
        // valid until the completion.
        unsafe {
            self.cmd_sock(
                user_data,
                SocketOp::SOCKET_URING_OP_SETSOCKOPT,
                fd,
                level,
                optname,
                opt.as_ptr().cast_mut().cast(),
                optlen,
            )
        }
    }

    /// Queues (but does not submit) a `getsockopt(2)` of `level`/`optname` into `opt`
    /// (`SOCKET_URING_OP_GETSOCKOPT`, Linux 6.7; the kernel supports level `SOL_SOCKET`
    /// only). The CQE's `res` is the option's length. Zig: `getsockopt`; liburing:
    /// `io_uring_prep_cmd_sock`.
    ///
    /// # Safety
    ///
    /// `opt` must stay valid, and not be accessed through other references, until the
    /// completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn getsockopt(
        &mut self,
        user_data: u64,
        fd: RawFd,
        level: u32,
        optname: u32,
        opt: &mut [u8],
    ) -> SqeResult<'_> {
        let optlen = crate::sqe::len32(opt.len());
        // SAFETY: forwarded: the caller keeps `opt` valid and unaliased until completion.
        unsafe {
            self.cmd_sock(
                user_data,
                SocketOp::SOCKET_URING_OP_GETSOCKOPT,
                fd,
                level,
                optname,
                opt.as_mut_ptr().cast(),
                optlen,
            )
        }
    }
}

/// Files and paths.
impl IoUring {
    /// Queues (but does not submit) an `openat(2)` of `path` relative to `dir_fd`
    /// (`IORING_OP_OPENAT`, Linux 5.6); the CQE's `res` is the new fd, which the caller
    /// then owns. Zig: `openat`; liburing: `io_uring_prep_openat`.
    ///
    /// # Safety
    ///
    /// `path` must stay valid until the completion has been reaped (the kernel copies it when it consumes the SQE, which on an SQPOLL ring may be after
    /// `submit` returned: the completion is what tells the caller it happened).
    ///
    /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn openat(
        &mut self,
        user_data: u64,
        dir_fd: RawFd,
        path: &CStr,
        flags: u32,
        mode: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_openat(dir_fd, path, flags, mode))
    }

    /// Queues (but does not submit) an `openat(2)` into slot `file_index` of the
    /// registered file table (Linux 5.15; `res` 0), or into a free slot with
    /// [`FILE_INDEX_ALLOC`](crate::FILE_INDEX_ALLOC) (Linux 5.19; `res` is the slot).
    /// Zig: `openat_direct`; liburing: `io_uring_prep_openat_direct`.
    ///
    /// # Safety
    ///
    /// As for [`openat`](Self::openat).
    ///
    /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn openat_direct(
        &mut self,
        user_data: u64,
        dir_fd: RawFd,
        path: &CStr,
        flags: u32,
        mode: u32,
        file_index: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_openat_direct(dir_fd, path, flags, mode, file_index)
        })
    }

    /// Queues (but does not submit) an `open(2)` of `path` relative to the working
    /// directory (`openat` with `AT_FDCWD`, Linux 5.6). Zig: `open`.
    ///
    /// # Safety
    ///
    /// As for [`openat`](Self::openat).
    #[inline]
    pub unsafe fn open(
        &mut self,
        user_data: u64,
        path: &CStr,
        flags: u32,
        mode: u32,
    ) -> SqeResult<'_> {
        let cwd = linux_raw_sys::general::AT_FDCWD;
        self.queue(user_data, |sqe| sqe.prep_openat(cwd, path, flags, mode))
    }

    /// Queues (but does not submit) an `open(2)` relative to the working directory into
    /// the registered file table (Linux 5.15). Zig: `open_direct`.
    ///
    /// # Safety
    ///
    /// As for [`openat`](Self::openat).
    #[inline]
    pub unsafe fn open_direct(
        &mut self,
        user_data: u64,
        path: &CStr,
        flags: u32,
        mode: u32,
        file_index: u32,
    ) -> SqeResult<'_> {
        let cwd = linux_raw_sys::general::AT_FDCWD;
        self.queue(user_data, |sqe| {
            sqe.prep_openat_direct(cwd, path, flags, mode, file_index)
        })
    }

    /// Queues (but does not submit) an `openat2(2)` of `path` with `how`
    /// (`IORING_OP_OPENAT2`, Linux 5.6). No Zig twin; liburing: `io_uring_prep_openat2`.
    ///
    /// # Safety
    ///
    /// `path` and `how` must stay valid until the completion has been reaped (the kernel
    /// copies them when it consumes the SQE, which on an SQPOLL ring may be after `submit`
    /// returned: the completion is what tells the caller it happened).
    ///
    /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn openat2(
        &mut self,
        user_data: u64,
        dir_fd: RawFd,
        path: &CStr,
        how: &OpenHow,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_openat2(dir_fd, path, how))
    }

    /// Queues (but does not submit) an `openat2(2)` into the registered file table (Linux
    /// 5.15). No Zig twin; liburing: `io_uring_prep_openat2_direct`.
    ///
    /// # Safety
    ///
    /// As for [`openat2`](Self::openat2).
    ///
    /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn openat2_direct(
        &mut self,
        user_data: u64,
        dir_fd: RawFd,
        path: &CStr,
        how: &OpenHow,
        file_index: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_openat2_direct(dir_fd, path, how, file_index)
        })
    }

    /// Queues (but does not submit) a `close(2)` of `fd` (`IORING_OP_CLOSE`, Linux 5.6).
    /// Zig: `close`; liburing: `io_uring_prep_close`.
    ///
    /// # Safety
    ///
    /// The caller must own `fd` and give up that ownership: nothing else (an `OwnedFd`, a
    /// `File`, another request in flight) may use or close this descriptor number again,
    /// as the number may be reused by the next file opened anywhere in the process.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn close(&mut self, user_data: u64, fd: RawFd) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_close(fd))
    }

    /// Queues (but does not submit) a close of slot `file_index` of the registered file
    /// table (Linux 5.15). Safe: the table belongs to this ring. Zig: `close_direct`;
    /// liburing: `io_uring_prep_close_direct`.
    #[inline]
    pub fn close_direct(&mut self, user_data: u64, file_index: u32) -> SqeResult<'_> {
        self.check_file_table()?;
        self.queue(user_data, |sqe| sqe.prep_close_direct(file_index))
    }

    /// Queues (but does not submit) an update of the registered file table from slot
    /// `offset` on with `fds` (`-1` clears a slot) (`IORING_OP_FILES_UPDATE`, Linux 5.6);
    /// `res` is the number of slots updated. Zig: `files_update`; liburing:
    /// `io_uring_prep_files_update`.
    ///
    /// # Safety
    ///
    /// `fds` must stay valid until the completion has been reaped, and each descriptor in
    /// it (other than `-1`) must be open when the kernel issues the request and refer to
    /// the intended file (the table takes its own reference then): the [descriptor
    /// contract](crate::ops#descriptors). And, as for
    /// [`register_files_update`](Self::register_files_update), no request in flight or
    /// queued may rely on the slots replaced.
    #[inline]
    pub unsafe fn files_update(
        &mut self,
        user_data: u64,
        fds: &[RawFd],
        offset: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_files_update(fds, offset))
    }

    /// Queues (but does not submit) a `statx(2)` of `path` relative to `dir_fd` into `buf`
    /// (`IORING_OP_STATX`, Linux 5.6). Zig: `statx`; liburing: `io_uring_prep_statx`.
    ///
    /// # Safety
    ///
    /// `path` must stay valid until the completion has been reaped (copied when the kernel
    /// consumes the SQE, on an SQPOLL ring possibly after `submit` returned);
    /// `buf` must stay valid, and not be accessed through other references, until the
    /// completion has been reaped (the kernel writes it).
    ///
    /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn statx(
        &mut self,
        user_data: u64,
        dir_fd: RawFd,
        path: &CStr,
        flags: u32,
        mask: u32,
        buf: &mut Statx,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_statx(dir_fd, path, flags, mask, buf)
        })
    }

    /// Queues (but does not submit) an `fallocate(2)` of `len` bytes at `offset` with
    /// `FALLOC_FL_*` `mode` (`IORING_OP_FALLOCATE`, Linux 5.6). Zig: `fallocate`; liburing:
    /// `io_uring_prep_fallocate`.
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn fallocate(
        &mut self,
        user_data: u64,
        fd: RawFd,
        mode: i32,
        offset: u64,
        len: u64,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_fallocate(fd, mode, offset, len))
    }

    /// Queues (but does not submit) a `posix_fadvise(2)` (`IORING_OP_FADVISE`, Linux 5.6).
    /// A `len` above `u32::MAX` needs Linux 6.11 (older kernels answer `EINVAL`; see
    /// [`Sqe::prep_fadvise`]). Zig: `fadvice`; liburing: `io_uring_prep_fadvise`,
    /// `io_uring_prep_fadvise64`.
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn fadvise(
        &mut self,
        user_data: u64,
        fd: RawFd,
        offset: u64,
        len: u64,
        advice: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_fadvise(fd, offset, len, advice))
    }

    /// Queues (but does not submit) a `madvise(2)` of `length` bytes at `addr`
    /// (`IORING_OP_MADVISE`, Linux 5.6). A `length` of 4 GiB or more needs Linux 6.11
    /// (older kernels answer `EINVAL`, never act on a truncated length; see
    /// [`Sqe::prep_madvise`]). Zig: `madvice`; liburing: `io_uring_prep_madvise`,
    /// `io_uring_prep_madvise64`.
    ///
    /// # Safety
    ///
    /// The advice acts on the caller's memory: everything that `madvise(2)` with `advice`
    /// on this range would do must be sound (e.g. `MADV_DONTNEED` zero-fills private
    /// anonymous pages, so no live Rust value may rely on their contents), and the range
    /// must stay mapped until the completion.
    #[inline]
    pub unsafe fn madvise(
        &mut self,
        user_data: u64,
        addr: *mut c_void,
        length: usize,
        advice: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_madvise(addr, length, advice))
    }

    /// Queues (but does not submit) a `renameat2(2)` (`IORING_OP_RENAMEAT`, Linux 5.11).
    /// Zig: `renameat`; liburing: `io_uring_prep_renameat`.
    ///
    /// # Safety
    ///
    /// Both paths must stay valid until the completion has been reaped (the kernel copies them when it consumes the SQE, which on an SQPOLL ring may be after
    /// `submit` returned: the completion is what tells the caller it happened).
    ///
    /// `old_dir_fd` and `new_dir_fd` follow the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn renameat(
        &mut self,
        user_data: u64,
        old_dir_fd: RawFd,
        old_path: &CStr,
        new_dir_fd: RawFd,
        new_path: &CStr,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_renameat(old_dir_fd, old_path, new_dir_fd, new_path, flags)
        })
    }

    /// Queues (but does not submit) an `unlinkat(2)` (`IORING_OP_UNLINKAT`, Linux 5.11;
    /// `AT_REMOVEDIR` for a directory). Zig: `unlinkat`; liburing: `io_uring_prep_unlinkat`.
    ///
    /// # Safety
    ///
    /// `path` must stay valid until the completion has been reaped (the kernel copies it when it consumes the SQE, which on an SQPOLL ring may be after
    /// `submit` returned: the completion is what tells the caller it happened).
    ///
    /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn unlinkat(
        &mut self,
        user_data: u64,
        dir_fd: RawFd,
        path: &CStr,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_unlinkat(dir_fd, path, flags))
    }

    /// Queues (but does not submit) a `mkdirat(2)` (`IORING_OP_MKDIRAT`, Linux 5.15).
    /// Zig: `mkdirat`; liburing: `io_uring_prep_mkdirat`.
    ///
    /// # Safety
    ///
    /// `path` must stay valid until the completion has been reaped (the kernel copies it when it consumes the SQE, which on an SQPOLL ring may be after
    /// `submit` returned: the completion is what tells the caller it happened).
    ///
    /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn mkdirat(
        &mut self,
        user_data: u64,
        dir_fd: RawFd,
        path: &CStr,
        mode: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_mkdirat(dir_fd, path, mode))
    }

    /// Queues (but does not submit) a `symlinkat(2)`: `link_path` (relative to
    /// `new_dir_fd`) will point to `target` (`IORING_OP_SYMLINKAT`, Linux 5.15). Zig:
    /// `symlinkat`; liburing: `io_uring_prep_symlinkat`.
    ///
    /// # Safety
    ///
    /// Both paths must stay valid until the completion has been reaped (the kernel copies them when it consumes the SQE, which on an SQPOLL ring may be after
    /// `submit` returned: the completion is what tells the caller it happened).
    ///
    /// `new_dir_fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn symlinkat(
        &mut self,
        user_data: u64,
        target: &CStr,
        new_dir_fd: RawFd,
        link_path: &CStr,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_symlinkat(target, new_dir_fd, link_path)
        })
    }

    /// Queues (but does not submit) a `linkat(2)` (`IORING_OP_LINKAT`, Linux 5.15). Zig:
    /// `linkat`; liburing: `io_uring_prep_linkat`.
    ///
    /// # Safety
    ///
    /// Both paths must stay valid until the completion has been reaped (the kernel copies them when it consumes the SQE, which on an SQPOLL ring may be after
    /// `submit` returned: the completion is what tells the caller it happened).
    ///
    /// `old_dir_fd` and `new_dir_fd` follow the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn linkat(
        &mut self,
        user_data: u64,
        old_dir_fd: RawFd,
        old_path: &CStr,
        new_dir_fd: RawFd,
        new_path: &CStr,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_linkat(old_dir_fd, old_path, new_dir_fd, new_path, flags)
        })
    }
}

/// Timeouts, polling, cancellation, epoll.
impl IoUring {
    /// Queues (but does not submit) a timeout (`IORING_OP_TIMEOUT`, Linux 5.4): it
    /// completes with `-ETIME` when `ts` expires (relative, or absolute with
    /// `IORING_TIMEOUT_ABS`; `CLOCK_MONOTONIC` unless `IORING_TIMEOUT_BOOTTIME`/`REALTIME`),
    /// with 0 once `count` other requests have completed (0: time only), or with
    /// `-ECANCELED` when removed. Zig: `timeout`; liburing: `io_uring_prep_timeout`.
    ///
    /// # Safety
    ///
    /// `ts` must stay valid until the completion has been reaped (the kernel copies it when it consumes the SQE, which on an SQPOLL ring may be after
    /// `submit` returned: the completion is what tells the caller it happened).
    #[inline]
    pub unsafe fn timeout(
        &mut self,
        user_data: u64,
        ts: &Timespec,
        count: u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_timeout(ts, count, flags))
    }

    /// Queues (but does not submit) the removal of the timeout whose user_data is
    /// `timeout_user_data` (`IORING_OP_TIMEOUT_REMOVE`, Linux 5.5): `res` 0 if it was
    /// found and cancelled (it then completes with `-ECANCELED`), `-EBUSY` if it was
    /// already expiring, `-ENOENT` if not found. Zig: `timeout_remove`; liburing:
    /// `io_uring_prep_timeout_remove`.
    #[inline]
    pub fn timeout_remove(
        &mut self,
        user_data: u64,
        timeout_user_data: u64,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_timeout_remove(timeout_user_data, flags)
        })
    }

    /// Queues (but does not submit) a new expiry `ts` for the timeout whose user_data is
    /// `timeout_user_data` (`IORING_TIMEOUT_UPDATE`, Linux 5.11; with
    /// `IORING_LINK_TIMEOUT_UPDATE` in `flags`, for a linked timeout). Zig:
    /// `timeout_update`; liburing: `io_uring_prep_timeout_update`.
    ///
    /// # Safety
    ///
    /// As for [`timeout`](Self::timeout).
    #[inline]
    pub unsafe fn timeout_update(
        &mut self,
        user_data: u64,
        timeout_user_data: u64,
        ts: &Timespec,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_timeout_update(timeout_user_data, ts, flags)
        })
    }

    /// Queues (but does not submit) a timeout for the previous SQE, which must carry
    /// `IOSQE_IO_LINK` (`IORING_OP_LINK_TIMEOUT`, Linux 5.5): if it expires first, it
    /// completes with `-ETIME` and the request with `-ECANCELED`; if the request finishes
    /// first, it completes with `-ECANCELED` (older kernels: `-EALREADY` when the request
    /// was already running). Zig: `link_timeout`; liburing: `io_uring_prep_link_timeout`.
    ///
    /// # Safety
    ///
    /// As for [`timeout`](Self::timeout).
    #[inline]
    pub unsafe fn link_timeout(
        &mut self,
        user_data: u64,
        ts: &Timespec,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_link_timeout(ts, flags))
    }

    /// Queues (but does not submit) a one-shot poll of `fd` for the `POLL*` events in
    /// `poll_mask` (`IORING_OP_POLL_ADD`, Linux 5.1); `res` is the events. Zig:
    /// `poll_add`; liburing: `io_uring_prep_poll_add`.
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn poll_add(&mut self, user_data: u64, fd: RawFd, poll_mask: u32) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_poll_add(fd, poll_mask))
    }

    /// Queues (but does not submit) a multishot poll (`IORING_POLL_ADD_MULTI`, Linux
    /// 5.13): one CQE per readiness change, with `IORING_CQE_F_MORE` while armed. Zig:
    /// `poll_multishot`; liburing: `io_uring_prep_poll_multishot`.
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn poll_multishot(
        &mut self,
        user_data: u64,
        fd: RawFd,
        poll_mask: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_poll_multishot(fd, poll_mask))
    }

    /// Queues (but does not submit) the removal of the poll whose user_data is
    /// `target_user_data` (`IORING_OP_POLL_REMOVE`, Linux 5.1). Zig: `poll_remove`;
    /// liburing: `io_uring_prep_poll_remove`.
    #[inline]
    pub fn poll_remove(&mut self, user_data: u64, target_user_data: u64) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_poll_remove(target_user_data))
    }

    /// Queues (but does not submit) an update of the poll `old_user_data`: its user_data
    /// to `new_user_data` (`IORING_POLL_UPDATE_USER_DATA` in `flags`, else it must be 0)
    /// and/or its events to `poll_mask` (`IORING_POLL_UPDATE_EVENTS`, else it must be 0;
    /// add `IORING_POLL_ADD_MULTI` to keep a multishot poll multishot) (Linux 5.13). The
    /// kernel answers `EINVAL` to a non-zero value it was not told to update. Zig:
    /// `poll_update`; liburing: `io_uring_prep_poll_update`.
    #[inline]
    pub fn poll_update(
        &mut self,
        user_data: u64,
        old_user_data: u64,
        new_user_data: u64,
        poll_mask: u32,
        flags: u32,
    ) -> SqeResult<'_> {
        // A poll given a user_data of the reserved namespace would complete as the safe
        // layer's request: refused like any other reserved user_data.
        if flags & crate::sys::IORING_POLL_UPDATE_USER_DATA != 0
            && self.is_reserved_user_data(new_user_data)
        {
            return Err(SqeError::ReservedUserData(new_user_data));
        }
        self.queue(user_data, |sqe| {
            sqe.prep_poll_update(old_user_data, new_user_data, poll_mask, flags)
        })
    }

    /// Queues (but does not submit) the cancellation of the request whose user_data is
    /// `cancel_user_data` (`IORING_OP_ASYNC_CANCEL`, Linux 5.5; `IORING_ASYNC_CANCEL_*`
    /// flags, Linux 5.19): `res` 0 if found and cancelled, `-EALREADY` if already running,
    /// `-ENOENT` if not found. Zig: `cancel`; liburing: `io_uring_prep_cancel64`.
    #[inline]
    pub fn cancel(&mut self, user_data: u64, cancel_user_data: u64, flags: u32) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_cancel(cancel_user_data, flags))
    }

    /// Queues (but does not submit) the cancellation of requests on `fd`
    /// (`IORING_ASYNC_CANCEL_FD`, Linux 5.19; all of them with `IORING_ASYNC_CANCEL_ALL`,
    /// then `res` is how many). Zig: `cancel_fd`; liburing: `io_uring_prep_cancel_fd`.
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors) (cancelling through a
    /// stale number would cancel the requests of whoever owns that number now); with
    /// `IORING_ASYNC_CANCEL_FD_FIXED` in `flags` it is a registered-file slot, which must
    /// stay registered to the intended file as long.
    #[inline]
    pub unsafe fn cancel_fd(&mut self, user_data: u64, fd: RawFd, flags: u32) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_cancel_fd(fd, flags))
    }

    /// Queues (but does not submit) an `epoll_ctl(2)` on `epfd` (`IORING_OP_EPOLL_CTL`,
    /// Linux 5.6). Zig: `epoll_ctl`; liburing: `io_uring_prep_epoll_ctl`.
    ///
    /// # Safety
    ///
    /// `ev` (may be null for `EPOLL_CTL_DEL`) must stay valid until the completion has been
    /// reaped.
    ///
    /// `epfd` and `fd` follow the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn epoll_ctl(
        &mut self,
        user_data: u64,
        epfd: RawFd,
        fd: RawFd,
        op: u32,
        ev: *mut EpollEvent,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_epoll_ctl(epfd, fd, op, ev))
    }

    /// Queues (but does not submit) an `epoll_wait(2)` on `fd` into `events`
    /// (`IORING_OP_EPOLL_WAIT`, Linux 6.15); `res` is the number of events written. Zig:
    /// `epoll_wait`; liburing: `io_uring_prep_epoll_wait`.
    ///
    /// # Safety
    ///
    /// `events` must stay valid, and not be accessed through other references, until the
    /// completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn epoll_wait(
        &mut self,
        user_data: u64,
        fd: RawFd,
        events: &mut [EpollEvent],
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_epoll_wait(fd, events, flags))
    }
}

/// Provided buffers and processes.
impl IoUring {
    /// Queues (but does not submit) the hand-over of `buffers_count` buffers of
    /// `buffer_size` bytes, contiguous from `buffers`, to group `group_id` with ids
    /// `buffer_id`, `buffer_id + 1`, … (`IORING_OP_PROVIDE_BUFFERS`, Linux 5.7). Reads and
    /// receives with buffer selection then pick from the group; each buffer is consumed by
    /// one completion (its id in the CQE) and must be provided again to be reused. Zig:
    /// `provide_buffers`; liburing: `io_uring_prep_provide_buffers`.
    ///
    /// # Safety
    ///
    /// The `buffer_size * buffers_count` bytes from `buffers` must stay valid, and not be
    /// accessed through other references, as long as the kernel may write them: until
    /// each buffer has come back in a completion, or has been taken back with
    /// [`remove_buffers`](Self::remove_buffers), or the ring is gone.
    #[inline]
    pub unsafe fn provide_buffers(
        &mut self,
        user_data: u64,
        buffers: *mut u8,
        buffer_size: u32,
        buffers_count: u32,
        group_id: u16,
        buffer_id: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_provide_buffers(buffers, buffer_size, buffers_count, group_id, buffer_id)
        })
    }

    /// Queues (but does not submit) the removal of up to `buffers_count` unused buffers
    /// from group `group_id` (`IORING_OP_REMOVE_BUFFERS`, Linux 5.7); `res` is how many
    /// were removed. Zig: `remove_buffers`; liburing: `io_uring_prep_remove_buffers`.
    #[inline]
    pub fn remove_buffers(
        &mut self,
        user_data: u64,
        buffers_count: u32,
        group_id: u16,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_remove_buffers(buffers_count, group_id)
        })
    }

    /// Queues (but does not submit) a `waitid(2)` for `id_type`/`id` with `W*` `options`
    /// (`IORING_OP_WAITID`, Linux 6.7), writing `infop`. `flags` must be 0. Zig:
    /// `waitid`; liburing: `io_uring_prep_waitid`.
    ///
    /// # Safety
    ///
    /// `infop` must stay valid, and not be accessed through other references, until the
    /// completion has been reaped.
    #[inline]
    pub unsafe fn waitid(
        &mut self,
        user_data: u64,
        id_type: IdType,
        id: i32,
        infop: &mut SigInfo,
        options: u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_waitid(id_type, id, infop, options, flags)
        })
    }
}

/// Messages between rings.
impl IoUring {
    /// Queues (but does not submit) a message to the ring whose fd is `fd`
    /// (`IORING_OP_MSG_RING` with `IORING_MSG_DATA`, Linux 5.18): the kernel posts a
    /// completion there with `user_data` = `data`, `res` = `len` and flags 0, and this
    /// request completes here with 0 (`-EOVERFLOW` if the target's CQ was full and could
    /// not take it, `-EBADFD` if `fd` is not a ring or a disabled one). `flags` must be 0:
    /// [`IORING_MSG_RING_CQE_SKIP`](crate::sys::IORING_MSG_RING_CQE_SKIP) is for
    /// [`msg_ring_fd`](Self::msg_ring_fd) only (`-EINVAL` here). liburing:
    /// `io_uring_prep_msg_ring`. For a safe message to a ring you hold, see
    /// [`msg_ring_sync`](Self::msg_ring_sync).
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors) and must be a ring
    /// whose completions the caller may post: `data` must not lie in a user_data namespace
    /// someone reserves on it ([`IoUring::is_reserved_user_data`] of the target, e.g. a
    /// [`Driver`](crate::zc::Driver)'s ring), since the posted completion would be taken
    /// for one of that code's requests. The number is resolved when the kernel issues the
    /// request, which may be after this call and after `submit` (links, `IOSQE_ASYNC`,
    /// SQPOLL): if the ring closes before, a new ring (a driver's) may get its number.
    #[inline]
    pub unsafe fn msg_ring(
        &mut self,
        user_data: u64,
        fd: RawFd,
        len: u32,
        data: u64,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_msg_ring(fd, len, data, flags))
    }

    /// Queues (but does not submit) a message whose completion on the target carries
    /// `cqe_flags` as its flags (`IORING_MSG_RING_FLAGS_PASS`, Linux 6.3); otherwise as
    /// [`msg_ring`](Self::msg_ring). liburing: `io_uring_prep_msg_ring_cqe_flags`.
    ///
    /// # Safety
    ///
    /// As for [`msg_ring`](Self::msg_ring). (The flags are the target's to interpret:
    /// `IORING_CQE_F_MORE`, `F_NOTIF` or a buffer id posted to code that trusts them is
    /// the same forgery as a reserved user_data.)
    #[inline]
    pub unsafe fn msg_ring_cqe_flags(
        &mut self,
        user_data: u64,
        fd: RawFd,
        len: u32,
        data: u64,
        flags: u32,
        cqe_flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_msg_ring_cqe_flags(fd, len, data, flags, cqe_flags)
        })
    }

    /// Queues (but does not submit) the hand-over of a registered file
    /// (`IORING_OP_MSG_RING` with `IORING_MSG_SEND_FD`, Linux 6.0): the file in slot
    /// `source_fd` of this ring's table is installed into slot `target_fd` of the table of
    /// the ring whose fd is `fd` (replacing what is there), and a completion with
    /// `user_data` = `data` and `res` 0 is posted there (none with
    /// `IORING_MSG_RING_CQE_SKIP` in `flags`, Linux 6.2); this request completes with 0
    /// (`-EBADF` for an empty source slot). Both rings
    /// keep a reference: closing the source slot does not affect the target's. The target
    /// must be another ring (`-EINVAL` for this one), with a registered table (`-ENXIO`
    /// otherwise). liburing: `io_uring_prep_msg_ring_fd`.
    ///
    /// Refused with [`SqeError::ReservedFileTable`] when this ring's table is its safe
    /// layer's ([`is_file_table_reserved`](Self::is_file_table_reserved)).
    ///
    /// # Safety
    ///
    /// As for [`msg_ring`](Self::msg_ring); and the target's file table must be the
    /// caller's: not reserved by its safe layer ([`IoUring::is_file_table_reserved`] of
    /// the target), and slot `target_fd` must not hold a file any other request relies on.
    #[inline]
    pub unsafe fn msg_ring_fd(
        &mut self,
        user_data: u64,
        fd: RawFd,
        source_fd: u32,
        target_fd: u32,
        data: u64,
        flags: u32,
    ) -> SqeResult<'_> {
        self.check_file_table()?;
        self.queue(user_data, |sqe| {
            sqe.prep_msg_ring_fd(fd, source_fd, target_fd, data, flags)
        })
    }

    /// Queues (but does not submit) the hand-over of registered file `source_fd` into a
    /// free slot of the target ring's table ([`FILE_INDEX_ALLOC`](crate::FILE_INDEX_ALLOC));
    /// both completions carry the slot in `res` (`-ENFILE` if the target has none free).
    /// liburing: `io_uring_prep_msg_ring_fd_alloc`.
    ///
    /// # Safety
    ///
    /// As for [`msg_ring_fd`](Self::msg_ring_fd) (a free slot relies on nothing).
    #[inline]
    pub unsafe fn msg_ring_fd_alloc(
        &mut self,
        user_data: u64,
        fd: RawFd,
        source_fd: u32,
        data: u64,
        flags: u32,
    ) -> SqeResult<'_> {
        self.check_file_table()?;
        self.queue(user_data, |sqe| {
            sqe.prep_msg_ring_fd_alloc(fd, source_fd, data, flags)
        })
    }

    /// Posts a completion into `target` now, without a source ring
    /// (`IORING_REGISTER_SEND_MSG_RING`, Linux 6.13): `user_data` = `data`, `res` = `len`,
    /// and flags `cqe_flags` if given (`IORING_MSG_RING_FLAGS_PASS`), else 0. The kernel
    /// resolves the target while `target` is borrowed, so the message cannot reach another
    /// ring; a `data` in the target's reserved namespace (a
    /// [`Driver`](crate::zc::Driver)'s ring) is refused with
    /// [`Error::ReservedUserData`], so safe code cannot
    /// forge the safe layer's completions. Kernel errors are
    /// [`Error::Register`] (`EOVERFLOW`: the target's CQ is
    /// full; `EBADFD`: the target is disabled; `EINVAL` before 6.13). liburing:
    /// `io_uring_register_sync_msg`.
    ///
    /// This is the safe way to message a ring: a queued [`msg_ring`](Self::msg_ring) names
    /// its target by number and is resolved only when the kernel issues it, when `target`
    /// may be gone and its number another ring's; so it stays `unsafe`. The kernel has no
    /// synchronous file hand-over, so [`msg_ring_fd`](Self::msg_ring_fd) has no safe form.
    /// A target with `DEFER_TASKRUN` sees the completion once it enters to wait.
    pub fn msg_ring_sync(
        target: &IoUring,
        len: u32,
        data: u64,
        cqe_flags: Option<u32>,
    ) -> Result<(), Error> {
        if target.is_reserved_user_data(data) {
            return Err(Error::ReservedUserData(data));
        }
        let mut sqe = Sqe::default();
        match cqe_flags {
            Some(cqe_flags) => sqe.prep_msg_ring_cqe_flags(target.fd(), len, data, 0, cqe_flags),
            None => sqe.prep_msg_ring(target.fd(), len, data, 0),
        }
        // SAFETY: the SQE names `target`, open for the whole call because it is borrowed;
        // its namespace does not hold `data` (checked above); it posts only a CQE.
        unsafe { Self::register_sync_msg(&sqe) }.map_err(Error::Register)?;
        Ok(())
    }

    /// Issues the data message that `sqe` holds ([`Sqe::prep_msg_ring`] or
    /// [`Sqe::prep_msg_ring_cqe_flags`]) now, without a source ring
    /// (`IORING_REGISTER_SEND_MSG_RING` on fd -1, Linux 6.13); only data messages (a file
    /// hand-over is `EINVAL`). The raw form of [`msg_ring_sync`](Self::msg_ring_sync).
    /// liburing: `io_uring_register_sync_msg`.
    ///
    /// # Safety
    ///
    /// The SQE's `fd` must be a ring the caller may post to, as for
    /// [`msg_ring`](Self::msg_ring), during the call (the kernel resolves it and posts
    /// before returning).
    pub unsafe fn register_sync_msg(sqe: &Sqe) -> Result<(), RegisterError> {
        // SAFETY: the "blind" io_uring_register (fd -1) with SEND_MSG_RING reads one SQE
        // from `arg` during the call (nr_args 1); `sqe` is a valid, initialised 64-byte
        // `io_uring_sqe` that outlives it. The target it names is the caller's contract;
        // no memory of ours is touched after the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                -1 as libc::c_int,
                IoringRegisterOp::RegisterSendMsgRing as libc::c_uint,
                sqe as *const Sqe,
                1 as libc::c_uint,
            )
        };
        if ret < 0 {
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .map_or(rustix::io::Errno::IO, rustix::io::Errno::from_raw_os_error);
            return Err(RegisterError::from_errno(errno));
        }
        Ok(())
    }
}

/// Futexes.
impl IoUring {
    /// Queues (but does not submit) a wait on `futex` (`IORING_OP_FUTEX_WAIT`, Linux 6.7):
    /// it completes with 0 once a wake whose mask shares a bit with `mask` reaches it, at
    /// once with `-EAGAIN` if the word is not `val` when the kernel issues it, or with
    /// `-ECANCELED` if cancelled ([`cancel`](Self::cancel), whose `res` is then the
    /// number of waits cancelled). `futex_flags` are `FUTEX2_*`
    /// ([`FUTEX2_SIZE_U32`](crate::sys::FUTEX2_SIZE_U32), and
    /// [`FUTEX2_PRIVATE`](crate::sys::FUTEX2_PRIVATE) if no other process maps the word);
    /// `flags` must be 0; a `mask` of 0 is `-EINVAL`
    /// ([`FUTEX_BITSET_MATCH_ANY`](crate::sys::FUTEX_BITSET_MATCH_ANY) matches any wake).
    /// The word is an `AtomicU32` (liburing's `uint32_t *`), so the size is
    /// `FUTEX2_SIZE_U32`; other sizes go through [`futex_waitv`](Self::futex_waitv)
    /// entries. Wakes of `futex(2)` reach it, and its wakes reach `futex(2)` waiters.
    /// liburing: `io_uring_prep_futex_wait`.
    ///
    /// # Safety
    ///
    /// `futex` must stay valid (not freed, unmapped or reused) until the completion has
    /// been reaped: the kernel reads it when it issues the request, possibly after this
    /// call, and keeps a waiter keyed on its address until woken or cancelled.
    #[inline]
    pub unsafe fn futex_wait(
        &mut self,
        user_data: u64,
        futex: &AtomicU32,
        val: u64,
        mask: u64,
        futex_flags: u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_futex_wait(futex, val, mask, futex_flags, flags)
        })
    }

    /// Queues (but does not submit) a wake of up to `val` waiters on `futex` whose mask
    /// shares a bit with `mask` (`IORING_OP_FUTEX_WAKE`, Linux 6.7), requests of any ring
    /// and threads in `futex(2)` alike; `res` is how many were woken. `futex_flags` and
    /// `flags` as for [`futex_wait`](Self::futex_wait). liburing: `io_uring_prep_futex_wake`.
    ///
    /// # Safety
    ///
    /// As for [`futex_wait`](Self::futex_wait), until this request's completion.
    #[inline]
    pub unsafe fn futex_wake(
        &mut self,
        user_data: u64,
        futex: &AtomicU32,
        val: u64,
        mask: u64,
        futex_flags: u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_futex_wake(futex, val, mask, futex_flags, flags)
        })
    }

    /// Queues (but does not submit) a wait on every futex of `futexv`
    /// (`IORING_OP_FUTEX_WAITV`, Linux 6.7): 1 to
    /// [`FUTEX_WAITV_MAX`](crate::sys::FUTEX_WAITV_MAX) entries, each with its word's
    /// address, expected value and `FUTEX2_*` flags (a size is required). It completes
    /// with the index of the futex woken, at once with `-EAGAIN` if a word differs from its
    /// value. `flags` must be 0. liburing: `io_uring_prep_futex_waitv`.
    ///
    /// # Safety
    ///
    /// `futexv` must stay valid until the completion has been reaped (the kernel copies it
    /// when it consumes the SQE, which on an SQPOLL ring may be after `submit` returned),
    /// and so must every futex word it names, as for [`futex_wait`](Self::futex_wait).
    #[inline]
    pub unsafe fn futex_waitv(
        &mut self,
        user_data: u64,
        futexv: &[FutexWaitv],
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_futex_waitv(futexv, flags))
    }
}

/// Files: more of them.
impl IoUring {
    /// Queues (but does not submit) a `preadv2(2)` into `iovecs` at `offset` with
    /// `RWF_*` `flags` (`IORING_OP_READV`, Linux 5.1). liburing: `io_uring_prep_readv2`.
    ///
    /// # Safety
    ///
    /// As for [`read`](Self::read) with [`ReadBuffer::Iovecs`].
    #[inline]
    pub unsafe fn readv2(
        &mut self,
        user_data: u64,
        fd: RawFd,
        iovecs: &[IoSliceMut<'_>],
        offset: u64,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_readv2(fd, iovecs, offset, flags))
    }

    /// Queues (but does not submit) a `pwritev2(2)` of `iovecs` at `offset` with `RWF_*`
    /// `flags` (`IORING_OP_WRITEV`, Linux 5.1). liburing: `io_uring_prep_writev2`.
    ///
    /// # Safety
    ///
    /// As for [`writev`](Self::writev).
    #[inline]
    pub unsafe fn writev2(
        &mut self,
        user_data: u64,
        fd: RawFd,
        iovecs: &[IoSlice<'_>],
        offset: u64,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_writev2(fd, iovecs, offset, flags))
    }

    /// Queues (but does not submit) a `sync_file_range(2)` of `len` bytes (0: to the end)
    /// at `offset` with `SYNC_FILE_RANGE_*` `flags` (`IORING_OP_SYNC_FILE_RANGE`, Linux
    /// 5.2). liburing: `io_uring_prep_sync_file_range`.
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn sync_file_range(
        &mut self,
        user_data: u64,
        fd: RawFd,
        len: u32,
        offset: u64,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_sync_file_range(fd, len, offset, flags)
        })
    }

    /// Queues (but does not submit) an `ftruncate(2)` of `fd` to `len` bytes
    /// (`IORING_OP_FTRUNCATE`, Linux 6.9). liburing: `io_uring_prep_ftruncate`.
    ///
    /// # Safety
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn ftruncate(&mut self, user_data: u64, fd: RawFd, len: u64) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_ftruncate(fd, len))
    }

    /// Queues (but does not submit) the installation of registered file `file_index` as a
    /// normal descriptor (`IORING_OP_FIXED_FD_INSTALL`, Linux 6.8): `res` is the new fd,
    /// close-on-exec unless `flags` has
    /// [`IORING_FIXED_FD_NO_CLOEXEC`](crate::sys::IORING_FIXED_FD_NO_CLOEXEC); `-EBADF` for
    /// an empty slot. The slot keeps its file. liburing: `io_uring_prep_fixed_fd_install`.
    ///
    /// **The new descriptor belongs to whoever reaps the completion**: take ownership with
    /// [`Cqe::into_owned_fd`](crate::Cqe::into_owned_fd) (unsafe only because a `Cqe` can
    /// be built by anyone: do it once, for the completion of this request). Not reaping it
    /// leaks it, as with any descriptor-creating request.
    ///
    /// Safe: it only reads this ring's table and creates a descriptor nobody else has. On a
    /// ring whose table belongs to its safe layer
    /// ([`is_file_table_reserved`](Self::is_file_table_reserved)) it is refused with
    /// [`SqeError::ReservedFileTable`]: those sockets are the driver's.
    #[inline]
    pub fn fixed_fd_install(
        &mut self,
        user_data: u64,
        file_index: u32,
        flags: u32,
    ) -> SqeResult<'_> {
        self.check_file_table()?;
        self.queue(user_data, |sqe| {
            sqe.prep_fixed_fd_install(file_index, flags)
        })
    }

    /// Queues (but does not submit) a `pipe2(2)` with `O_*` `pipe_flags` (`O_CLOEXEC`,
    /// `O_NONBLOCK`, `O_DIRECT`) (`IORING_OP_PIPE`, Linux 6.16): the kernel writes the read
    /// and the write end to `fds`; they belong to whoever reaps the completion (`res` 0).
    /// liburing: `io_uring_prep_pipe`.
    ///
    /// # Safety
    ///
    /// `fds` must stay valid, and not be accessed through other references, until the
    /// completion has been reaped.
    #[inline]
    pub unsafe fn pipe(
        &mut self,
        user_data: u64,
        fds: &mut [RawFd; 2],
        pipe_flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_pipe(fds, pipe_flags))
    }

    /// Queues (but does not submit) a `pipe2(2)` into the registered file table
    /// (`IORING_OP_PIPE`, Linux 6.16): the ends go to slots `file_index` and
    /// `file_index + 1` (replacing what is there), or with
    /// [`FILE_INDEX_ALLOC`](crate::FILE_INDEX_ALLOC) to free slots; the kernel writes the
    /// two slots to `fds`. Refused with [`SqeError::ReservedFileTable`] on a ring whose
    /// table is its safe layer's. liburing: `io_uring_prep_pipe_direct`.
    ///
    /// # Safety
    ///
    /// As for [`pipe`](Self::pipe); and slots `file_index`, `file_index + 1` must not hold
    /// files other requests rely on.
    #[inline]
    pub unsafe fn pipe_direct(
        &mut self,
        user_data: u64,
        fds: &mut [RawFd; 2],
        pipe_flags: u32,
        file_index: u32,
    ) -> SqeResult<'_> {
        self.check_file_table()?;
        self.queue(user_data, |sqe| {
            sqe.prep_pipe_direct(fds, pipe_flags, file_index)
        })
    }

    /// Queues (but does not submit) an `fgetxattr(2)` of attribute `name` of `fd` into
    /// `value` (`IORING_OP_FGETXATTR`, Linux 5.19); `res` is the attribute's length
    /// (`-ERANGE` if `value` is too small, `-ENODATA` if it has none). liburing:
    /// `io_uring_prep_fgetxattr`.
    ///
    /// # Safety
    ///
    /// `name` and `value` must stay valid, and `value` not be accessed through other
    /// references, until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn fgetxattr(
        &mut self,
        user_data: u64,
        fd: RawFd,
        name: &CStr,
        value: &mut [u8],
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_fgetxattr(fd, name, value))
    }

    /// Queues (but does not submit) an `fsetxattr(2)` of attribute `name` of `fd` to
    /// `value`, `XATTR_CREATE`/`XATTR_REPLACE` `flags` (`IORING_OP_FSETXATTR`, Linux 5.19).
    /// liburing: `io_uring_prep_fsetxattr`.
    ///
    /// # Safety
    ///
    /// `name` and `value` must stay valid until the completion has been reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn fsetxattr(
        &mut self,
        user_data: u64,
        fd: RawFd,
        name: &CStr,
        value: &[u8],
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_fsetxattr(fd, name, value, flags))
    }

    /// Queues (but does not submit) a `getxattr(2)` of attribute `name` of the file at
    /// `path` into `value` (`IORING_OP_GETXATTR`, Linux 5.19); `res` is the attribute's
    /// length. liburing: `io_uring_prep_getxattr`.
    ///
    /// # Safety
    ///
    /// `name`, `path` and `value` must stay valid, and `value` not be accessed through
    /// other references, until the completion has been reaped.
    #[inline]
    pub unsafe fn getxattr(
        &mut self,
        user_data: u64,
        name: &CStr,
        value: &mut [u8],
        path: &CStr,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_getxattr(name, value, path))
    }

    /// Queues (but does not submit) a `setxattr(2)` of attribute `name` of the file at
    /// `path` to `value`, `XATTR_*` `flags` (`IORING_OP_SETXATTR`, Linux 5.19). liburing:
    /// `io_uring_prep_setxattr`.
    ///
    /// # Safety
    ///
    /// `name`, `path` and `value` must stay valid until the completion has been reaped.
    #[inline]
    pub unsafe fn setxattr(
        &mut self,
        user_data: u64,
        name: &CStr,
        value: &[u8],
        path: &CStr,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_setxattr(name, value, path, flags))
    }
}

/// Sockets: zero-copy receive.
impl IoUring {
    /// Queues (but does not submit) a multishot zero-copy receive on `fd` through the
    /// zero-copy receive queue `zcrx_ifq_idx` (`IORING_OP_RECV_ZC`, Linux 6.15), up to
    /// `len` bytes in all (0: no limit). The queue must have been registered
    /// (IORING_REGISTER_ZCRX_IFQ: a CQE32 + DEFER_TASKRUN ring and a NIC queue with header
    /// split and flow steering; this crate's ring copies 16-byte CQEs, so it cannot read
    /// the 32-byte completions yet); without one the kernel answers `-EINVAL`. No
    /// liburing 2.15 prep.
    ///
    /// # Safety
    ///
    /// The registered area of the queue must stay valid until the final completion (the
    /// one without `IORING_CQE_F_MORE`) has been reaped; the kernel writes into it.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn recv_zc(
        &mut self,
        user_data: u64,
        fd: RawFd,
        len: u32,
        zcrx_ifq_idx: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_recv_zc(fd, len, zcrx_ifq_idx))
    }
}

/// Paths relative to the working directory (liburing's `AT_FDCWD` shorthands).
impl IoUring {
    /// Queues (but does not submit) an `unlink(2)` (`rmdir(2)` with `AT_REMOVEDIR`) of
    /// `path` relative to the working directory (`unlinkat` with `AT_FDCWD`, Linux 5.11).
    /// liburing: `io_uring_prep_unlink`.
    ///
    /// # Safety
    ///
    /// As for [`unlinkat`](Self::unlinkat).
    #[inline]
    pub unsafe fn unlink(&mut self, user_data: u64, path: &CStr, flags: u32) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_unlink(path, flags))
    }

    /// Queues (but does not submit) a `rename(2)` of `old_path` to `new_path`, both
    /// relative to the working directory (`renameat` with `AT_FDCWD`, Linux 5.11).
    /// liburing: `io_uring_prep_rename`.
    ///
    /// # Safety
    ///
    /// As for [`renameat`](Self::renameat).
    #[inline]
    pub unsafe fn rename(
        &mut self,
        user_data: u64,
        old_path: &CStr,
        new_path: &CStr,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_rename(old_path, new_path))
    }

    /// Queues (but does not submit) a `mkdir(2)` of `path` relative to the working
    /// directory (`mkdirat` with `AT_FDCWD`, Linux 5.15). liburing: `io_uring_prep_mkdir`.
    ///
    /// # Safety
    ///
    /// As for [`mkdirat`](Self::mkdirat).
    #[inline]
    pub unsafe fn mkdir(&mut self, user_data: u64, path: &CStr, mode: u32) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_mkdir(path, mode))
    }

    /// Queues (but does not submit) a `symlink(2)`: `link_path` (relative to the working
    /// directory) will point to `target` (`symlinkat` with `AT_FDCWD`, Linux 5.15).
    /// liburing: `io_uring_prep_symlink`.
    ///
    /// # Safety
    ///
    /// As for [`symlinkat`](Self::symlinkat).
    #[inline]
    pub unsafe fn symlink(
        &mut self,
        user_data: u64,
        target: &CStr,
        link_path: &CStr,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_symlink(target, link_path))
    }

    /// Queues (but does not submit) a `link(2)` of `old_path` to `new_path`, both relative
    /// to the working directory, `AT_*` `flags` (`linkat` with `AT_FDCWD`, Linux 5.15).
    /// liburing: `io_uring_prep_link`.
    ///
    /// # Safety
    ///
    /// As for [`linkat`](Self::linkat).
    #[inline]
    pub unsafe fn link(
        &mut self,
        user_data: u64,
        old_path: &CStr,
        new_path: &CStr,
        flags: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| sqe.prep_link(old_path, new_path, flags))
    }
}

/// Sockets: names.
impl IoUring {
    /// Queues (but does not submit) a `getsockname(2)` of `fd` (`getpeername(2)` with
    /// `peer`) as a socket command (`IORING_OP_URING_CMD` with
    /// [`SOCKET_URING_OP_GETSOCKNAME`](crate::sys::SOCKET_URING_OP_GETSOCKNAME), Linux
    /// 6.19): the kernel writes the address to `sockaddr` (at most the `u32` at
    /// `sockaddr_len` bytes) and its length to `sockaddr_len`. Kernels before 6.19 answer
    /// `-EOPNOTSUPP`. liburing: `io_uring_prep_cmd_getsockname`.
    ///
    /// # Safety
    ///
    /// `sockaddr` (as many bytes as `*sockaddr_len` says) and `sockaddr_len` must stay
    /// valid, and not be accessed through other references, until the completion has been
    /// reaped.
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    #[inline]
    pub unsafe fn cmd_getsockname(
        &mut self,
        user_data: u64,
        fd: RawFd,
        sockaddr: *mut RawSockAddr,
        sockaddr_len: *mut u32,
        peer: bool,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_cmd_getsockname(fd, sockaddr, sockaddr_len, peer)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::{
        IoringSetupFlags, IOSQE_ASYNC, IOSQE_BUFFER_SELECT, IOSQE_FIXED_FILE, IOSQE_IO_DRAIN,
        IOSQE_IO_LINK,
    };

    /// The safe flag setters refuse the bits that name something (and unknown ones), and
    /// never clear such a bit the queueing method set.
    #[test]
    fn safe_flags_refuse_naming_bits() {
        let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
        let mut sqe = ring.nop(1).unwrap();
        for bad in [IOSQE_FIXED_FILE, IOSQE_BUFFER_SELECT, 0x80] {
            assert_eq!(
                sqe.add_flags(bad | IOSQE_IO_LINK).unwrap_err(),
                SqeFlagsError(bad)
            );
            assert_eq!(sqe.set_flags(bad).unwrap_err(), SqeFlagsError(bad));
            assert_eq!(sqe.flags, 0, "a refused call changes nothing");
        }
        sqe.add_flags(IOSQE_IO_LINK | IOSQE_ASYNC).unwrap();
        sqe.set_flags(IOSQE_IO_DRAIN).unwrap();
        assert_eq!(sqe.flags, IOSQE_IO_DRAIN);
        // A buffer-selecting request keeps its BUFFER_SELECT through set_flags.
        // SAFETY: never submitted (the ring is dropped unsubmitted); the fd is stdin's
        // number, only written into the SQE.
        let mut sqe = unsafe {
            ring.read(
                2,
                0,
                ReadBuffer::BufferSelection {
                    group_id: 1,
                    len: 16,
                },
                0,
            )
        }
        .unwrap();
        assert_ne!(sqe.flags & IOSQE_BUFFER_SELECT, 0);
        sqe.set_flags(0).unwrap();
        assert_eq!(sqe.flags, IOSQE_BUFFER_SELECT);
        // SAFETY: as above: never submitted.
        unsafe { sqe.add_flags_unchecked(IOSQE_FIXED_FILE) };
        assert_eq!(sqe.flags, IOSQE_BUFFER_SELECT | IOSQE_FIXED_FILE);
    }
}
