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

use core::ffi::CStr;
use core::ops::Deref;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use rustix::io_uring::IoringRegisterOp;

use crate::error::{Error, RegisterError, SqeError, SqeFlagsError};
use crate::ring::IoUring;
use crate::sqe::Sqe;
use crate::sys::{
    IoringMsgringFlags, IoringPollFlags, IoringSendFlags, RecvFlags, SendFlags, SocketFlags,
};
use crate::types::{MsgHdr, RawSockAddr, SocketOp};

// # The opcode table
//
// Every operation that is one prep and one ring method is declared once, in the `ops!`
// table below (one entry per operation, grouped by area in the submodules), which writes
// both `Sqe::prep_*` and the `IoUring` method. What stays hand-written, here and in
// sqe.rs, is what is not a 1:1 wrapper of one prep:
// - ring methods over a tagged union or several preps: `read` (ReadBuffer: read, readv,
//   buffer selection), `recv` (RecvBuffer);
// - ring methods that compose a prep with more fields: `send_zc_to`, `send_zc_fixed_to`
//   (+ `prep_send_set_addr`), `send_bundle`, `recv_bundle`, `recv_multishot`,
//   `recvmsg_multishot` (+ buffer select / group / ioprio bits), `accept_direct` (always
//   `FILE_INDEX_ALLOC`), `open`, `open_direct` (`AT_FDCWD`), `setsockopt`, `getsockopt`
//   (over `prep_cmd_sock`);
// - ring methods with logic of their own: `sendv_zc`, `send_zc_fixed_to` (send flags
//   checked), `poll_update` (reserved user_data refused), `msg_ring_sync` and
//   `register_sync_msg` (a register call, no SQE);
// - preps with no ring method of their own: `prep_rw`, `prep_read`, `prep_readv`,
//   `prep_read_buffer_selection`, `prep_recv`, `prep_recv_buffer_selection`,
//   `prep_recv_multishot`, `prep_send_set_addr`,
//   `prep_recvmsg_multishot`, `set_send_flags`, `prep_sendv_zc`, `prep_send_bundle`,
//   `prep_accept_direct`, `prep_poll_update`, `prep_open`, `prep_open_direct`.
/// The opcode table's macro: from one entry per operation it writes the
/// [`Sqe::prep_*`](crate::Sqe) method that fills the entry and the [`IoUring`] method that
/// queues it, so that an operation's arguments, contract and docs are declared once.
///
/// An entry:
///
/// ```text
/// /// What the operation does (prose, on the prep method).
/// fn ring_name = prep_name(arg: Type, ...) {
///     opcode: IORING_OP_X, linux: "5.1", liburing: "io_uring_prep_x", zig: "x",
///     check: check_file_table,         // optional: a `Result` check on the ring first
///     safety: safe,                    // or: safety: { /// the `# Safety` section }
///     example: { /// a runnable example for the ring method },   // optional
///     prep: |sqe| { /* fill `sqe`, every field (start from prep_rw) */ },
/// }
/// ```
///
/// The prep method gets the prose and a line naming the opcode, the kernel version, the
/// liburing and Zig twins (where given) and the ring method; the ring method links to the
/// prep for the semantics, names the same, and is `unsafe fn` with the declared `# Safety`
/// section exactly when the entry says `safety: { ... }` (memory or descriptors the
/// kernel touches after the call: see [Which operations are
/// `unsafe`](crate::ops#which-operations-are-unsafe)).
macro_rules! ops {
    (
        $(
            $(#[doc = $doc:literal])*
            fn $ring:ident = $prep:ident ( $($arg:ident : $ty:ty),* $(,)? ) {
                opcode: $opcode:ident,
                linux: $linux:literal,
                $(liburing: $liburing:literal,)?
                $(zig: $zig:literal,)?
                $(check: $check:ident,)?
                safety: $safety:tt,
                $(example: { $(#[doc = $example:literal])* },)?
                prep: |$sqe:ident| $body:block $(,)?
            }
        )*
    ) => {
        impl $crate::sqe::Sqe {
            $(
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!(
                    "Opcode `", stringify!($opcode), "`, Linux ", $linux, "; ",
                    $("liburing: `", $liburing, "`; ",)?
                    $("Zig: `", $zig, "`; ",)?
                    "queued by [`IoUring::", stringify!($ring), "`](crate::IoUring::",
                    stringify!($ring), ")."
                )]
                #[inline]
                #[allow(clippy::too_many_arguments)]
                pub fn $prep(&mut self, $($arg: $ty),*) {
                    let $sqe = self;
                    $body
                }
            )*
        }

        impl $crate::ring::IoUring {
            $(
                ops!(@ring $safety
                    [$($(#[doc = $example])*)?]
                    #[doc = concat!(
                        "Queues (but does not submit) [`Sqe::", stringify!($prep),
                        "`](crate::Sqe::", stringify!($prep), ") (`", stringify!($opcode),
                        "`, Linux ", $linux, ") with `user_data`; see there for what it does. ",
                        $("liburing: `", $liburing, "`. ",)?
                        $("Zig: `", $zig, "`.",)?
                    )]
                    fn $ring = $prep ($($arg: $ty),*) [$($check)?]
                );
            )*
        }
    };

    (@ring safe [$($example:tt)*] #[doc = $head:expr]
        fn $ring:ident = $prep:ident ($($arg:ident : $ty:ty),*) [$($check:ident)?]) => {
        #[doc = $head]
        $($example)*
        #[inline]
        #[allow(clippy::too_many_arguments)]
        pub fn $ring(
            &mut self,
            user_data: u64,
            $($arg: $ty),*
        ) -> $crate::ops::SqeResult<'_> {
            $(self.$check()?;)?
            self.queue(user_data, |sqe| sqe.$prep($($arg),*))
        }
    };

    (@ring { $(#[doc = $safety:literal])* } [$($example:tt)*] #[doc = $head:expr]
        fn $ring:ident = $prep:ident ($($arg:ident : $ty:ty),*) [$($check:ident)?]) => {
        #[doc = $head]
        #[doc = ""]
        #[doc = "# Safety"]
        #[doc = ""]
        $(#[doc = $safety])*
        $($example)*
        #[inline]
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn $ring(
            &mut self,
            user_data: u64,
            $($arg: $ty),*
        ) -> $crate::ops::SqeResult<'_> {
            $(self.$check()?;)?
            self.queue(user_data, |sqe| sqe.$prep($($arg),*))
        }
    };
}

mod buffers;
mod fs;
mod futex;
mod msg_ring;
mod net;
mod poll;
mod rw;

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
}

/// Sockets: send and receive.
impl IoUring {
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
        send_flags: SendFlags,
        zc_flags: IoringSendFlags,
        addr: *const RawSockAddr,
        addrlen: u32,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_send_zc(fd, buffer, send_flags, zc_flags);
            sqe.prep_send_set_addr(addr.cast(), u16::try_from(addrlen).unwrap_or(u16::MAX));
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
        send_flags: SendFlags,
        zc_flags: IoringSendFlags,
        buf_index: u16,
        addr: *const RawSockAddr,
        addrlen: u32,
    ) -> SqeResult<'_> {
        check_send_flags(zc_flags, ZC_NUMBER_FLAGS)?;
        self.queue(user_data, |sqe| {
            sqe.prep_send_zc_fixed(fd, buffer, send_flags, zc_flags, buf_index);
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
        send_flags: SendFlags,
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
        flags: SendFlags,
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
        flags: RecvFlags,
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
        flags: RecvFlags,
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
        flags: RecvFlags,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_recv_buffer_selection(fd, group_id, 0, flags);
            sqe.ioprio |= crate::sys::IORING_RECV_MULTISHOT as u16;
        })
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
        flags: RecvFlags,
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
        flags: SocketFlags,
    ) -> SqeResult<'_> {
        self.queue(user_data, |sqe| {
            sqe.prep_accept_direct(fd, addr, addrlen, flags, crate::types::FILE_INDEX_ALLOC)
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
        flags: rustix::fs::OFlags,
        mode: rustix::fs::Mode,
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
        flags: rustix::fs::OFlags,
        mode: rustix::fs::Mode,
        file_index: u32,
    ) -> SqeResult<'_> {
        let cwd = linux_raw_sys::general::AT_FDCWD;
        self.queue(user_data, |sqe| {
            sqe.prep_openat_direct(cwd, path, flags, mode, file_index)
        })
    }
}

/// Timeouts, polling, cancellation, epoll.
impl IoUring {
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
        flags: IoringPollFlags,
    ) -> SqeResult<'_> {
        // A poll given a user_data of the reserved namespace would complete as the safe
        // layer's request: refused like any other reserved user_data.
        if flags.contains(IoringPollFlags::UPDATE_USER_DATA)
            && self.is_reserved_user_data(new_user_data)
        {
            return Err(SqeError::ReservedUserData(new_user_data));
        }
        self.queue(user_data, |sqe| {
            sqe.prep_poll_update(old_user_data, new_user_data, poll_mask, flags)
        })
    }
}

/// Messages between rings.
impl IoUring {
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
            Some(cqe_flags) => sqe.prep_msg_ring_cqe_flags(
                target.fd(),
                len,
                data,
                IoringMsgringFlags::empty(),
                cqe_flags,
            ),
            None => sqe.prep_msg_ring(target.fd(), len, data, IoringMsgringFlags::empty()),
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
