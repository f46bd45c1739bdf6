//! The submission queue entry and its `prep_*` family.
//!
//! [`Sqe`] is layout-identical to the kernel's `struct io_uring_sqe` (64 bytes), with the
//! field names Zig and liburing use for the members of the kernel's unions (`off` also
//! serves as `addr2`, `cmd_op` and `splice_off_in`'s partner, `addr` as `splice_off_in` and
//! `level`/`optname`, `rw_flags` as every per-opcode flags word, `buf_index` as
//! `buf_group`, `splice_fd_in` as `file_index` / `addr_len` / `optlen`, `addr3` as
//! `optval`).
//!
//! Every `prep_*` method overwrites all 64 bytes (through [`Sqe::prep_rw`] or a full
//! struct literal), so an entry reused from the ring never carries stale fields; variants
//! compose (`prep_send_zc_fixed` calls `prep_send_zc`, `prep_accept_direct` calls
//! `prep_accept`). Preparing an SQE is safe: it only writes numbers and addresses into a
//! struct. What is `unsafe` is handing such an entry to the kernel
//! ([`IoUring::get_sqe`](crate::IoUring::get_sqe) and the ring operations that take
//! memory), because from then on the kernel may read or write the memory it names.
//!
//! Each method names the opcode, the kernel version that introduced it, and its liburing
//! twin (`io_uring_prep_*`); the Zig name is the same without the `io_uring_` prefix.

use core::ffi::{c_void, CStr};
use core::sync::atomic::AtomicU32;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use crate::sys::{self, io_uring_op as Op};
pub use crate::types::MsgHdr;
use crate::types::{
    EpollEvent, FutexWaitv, IdType, OpenHow, RawSockAddr, SigInfo, SocketOp, Statx, Timespec,
    FILE_INDEX_ALLOC,
};

/// A submission queue entry: `struct io_uring_sqe`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Sqe {
    /// The operation (`IORING_OP_*`).
    pub opcode: u8,
    /// `IOSQE_*` flags.
    pub flags: u8,
    /// Request priority; for send/recv the `IORING_RECVSEND_*` flags, for accept
    /// `IORING_ACCEPT_*`, for zero-copy send the zc_flags.
    pub ioprio: u16,
    /// The file descriptor (or registered file index with `IOSQE_FIXED_FILE`).
    pub fd: i32,
    /// Offset into the file; also `addr2` (a second address) and `cmd_op`.
    pub off: u64,
    /// A buffer or iovec address; also `splice_off_in`, or `level`/`optname`.
    pub addr: u64,
    /// A buffer size or number of iovecs.
    pub len: u32,
    /// The per-opcode flags word (`rw_flags`, `msg_flags`, `timeout_flags`, …).
    pub rw_flags: u32,
    /// Data passed back unchanged in the completion.
    pub user_data: u64,
    /// Index of a registered buffer, or the buffer group with `IOSQE_BUFFER_SELECT`.
    pub buf_index: u16,
    /// Personality (credentials) to issue with.
    pub personality: u16,
    /// `splice_fd_in`, also `file_index` (direct descriptors) and `addr_len`.
    pub splice_fd_in: i32,
    /// A third address (`addr3`), e.g. the `optval` of setsockopt.
    pub addr3: u64,
    /// Reserved / second half of the 16-byte command area.
    pub resv: u64,
}

/// Length of a slice as the SQE's 32-bit `len`. The kernel caps any single I/O at
/// `MAX_RW_COUNT` (just under 2 GiB), so a longer buffer is clamped: the operation then
/// completes short, which every caller must handle anyway.
#[inline]
pub(crate) fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Two 32-bit kernel fields that share one 64-bit SQE word (`{cmd_op, __pad1}` in `off`,
/// `{level, optname}` in `addr`): `first` is the one at the lower address, on either
/// endianness.
#[inline]
fn u32_pair(first: u32, second: u32) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&first.to_ne_bytes());
    bytes[4..].copy_from_slice(&second.to_ne_bytes());
    u64::from_ne_bytes(bytes)
}

/// A poll mask as the kernel reads `poll32_events`: on big-endian machines it expects the
/// two 16-bit halves swapped (liburing's `__io_uring_prep_poll_mask`).
#[inline]
fn poll32_events(mask: u32) -> u32 {
    if cfg!(target_endian = "big") {
        mask.rotate_left(16)
    } else {
        mask
    }
}

impl Sqe {
    /// Fills the whole entry for a read/write-shaped operation; every other `prep_*`
    /// starts here, so no field keeps a stale value. liburing: `io_uring_prep_rw`.
    #[inline]
    pub fn prep_rw(&mut self, op: Op, fd: RawFd, addr: u64, len: usize, offset: u64) {
        *self = Sqe {
            opcode: sys::op(op),
            flags: 0,
            ioprio: 0,
            fd,
            off: offset,
            addr,
            len: len32(len),
            rw_flags: 0,
            user_data: 0,
            buf_index: 0,
            personality: 0,
            splice_fd_in: 0,
            addr3: 0,
            resv: 0,
        };
    }

    /// Puts a registered-file-table slot in `file_index` for the operations that create a
    /// descriptor (accept, openat, socket, close): the kernel reads `index + 1` (0 means
    /// "not direct"), or [`FILE_INDEX_ALLOC`] to let it pick a free slot. liburing:
    /// `__io_uring_set_target_fixed_file`.
    #[inline]
    fn set_target_fixed_file(&mut self, file_index: u32) {
        let encoded = if file_index == FILE_INDEX_ALLOC {
            FILE_INDEX_ALLOC
        } else {
            file_index.wrapping_add(1)
        };
        self.splice_fd_in = encoded as i32;
    }

    /// `IORING_OP_NOP` (Linux 5.1): completes with result 0. liburing: `io_uring_prep_nop`
    /// (which, unlike Zig's `prep_nop`, puts -1 in `fd`; so do we).
    #[inline]
    pub fn prep_nop(&mut self) {
        self.prep_rw(Op::IORING_OP_NOP, -1, 0, 0, 0);
    }

    /// `IORING_OP_FSYNC` (Linux 5.1): `fsync(2)` of `fd`; `flags` may be
    /// `IORING_FSYNC_DATASYNC` for `fdatasync(2)`. liburing: `io_uring_prep_fsync`.
    #[inline]
    pub fn prep_fsync(&mut self, fd: RawFd, flags: u32) {
        self.prep_rw(Op::IORING_OP_FSYNC, fd, 0, 0, 0);
        self.rw_flags = flags;
    }
}

/// Reads and writes.
impl Sqe {
    /// `IORING_OP_READ` (Linux 5.6): `pread(2)` into `buffer` at `offset` (`u64::MAX`:
    /// the current file position). liburing: `io_uring_prep_read`.
    #[inline]
    pub fn prep_read(&mut self, fd: RawFd, buffer: &mut [u8], offset: u64) {
        self.prep_rw(
            Op::IORING_OP_READ,
            fd,
            buffer.as_mut_ptr() as u64,
            buffer.len(),
            offset,
        );
    }

    /// `IORING_OP_READ` with `IOSQE_BUFFER_SELECT` (Linux 5.7): read up to `len` bytes at
    /// `offset` into a buffer the kernel picks from provided-buffer group `group_id`; the
    /// CQE names it ([`Cqe::buffer_id`](crate::Cqe::buffer_id)). No liburing twin; Zig
    /// does this inline in `read` with `.buffer_selection`.
    #[inline]
    pub fn prep_read_buffer_selection(
        &mut self,
        fd: RawFd,
        group_id: u16,
        len: usize,
        offset: u64,
    ) {
        self.prep_rw(Op::IORING_OP_READ, fd, 0, len, offset);
        self.flags |= sys::IOSQE_BUFFER_SELECT;
        self.buf_index = group_id;
    }

    /// `IORING_OP_READV` (Linux 5.1): `preadv(2)` into `iovecs` at `offset` (set
    /// `rw_flags` for `preadv2(2)`). liburing: `io_uring_prep_readv`.
    #[inline]
    pub fn prep_readv(&mut self, fd: RawFd, iovecs: &[IoSliceMut<'_>], offset: u64) {
        // IoSliceMut is ABI-compatible with `struct iovec` on Unix.
        self.prep_rw(
            Op::IORING_OP_READV,
            fd,
            iovecs.as_ptr() as u64,
            iovecs.len(),
            offset,
        );
    }

    /// `IORING_OP_READ_FIXED` (Linux 5.1): `pread(2)` into `buffer`, which must lie inside
    /// registered buffer `buffer_index`. liburing: `io_uring_prep_read_fixed`.
    #[inline]
    pub fn prep_read_fixed(
        &mut self,
        fd: RawFd,
        buffer: &mut [u8],
        offset: u64,
        buffer_index: u16,
    ) {
        self.prep_rw(
            Op::IORING_OP_READ_FIXED,
            fd,
            buffer.as_mut_ptr() as u64,
            buffer.len(),
            offset,
        );
        self.buf_index = buffer_index;
    }

    /// `IORING_OP_READV_FIXED` (Linux 6.15): `preadv(2)` into `iovecs`, all inside
    /// registered buffer `buffer_index`. liburing: `io_uring_prep_readv_fixed`.
    #[inline]
    pub fn prep_readv_fixed(
        &mut self,
        fd: RawFd,
        iovecs: &[IoSliceMut<'_>],
        offset: u64,
        buffer_index: u16,
    ) {
        self.prep_readv(fd, iovecs, offset);
        self.opcode = sys::op(Op::IORING_OP_READV_FIXED);
        self.buf_index = buffer_index;
    }

    /// `IORING_OP_READ_MULTISHOT` (Linux 6.7): read repeatedly from a pollable `fd` (pipe,
    /// socket, eventfd), up to `nbytes` per completion (0: the buffer's size), each into a
    /// buffer picked from group `group_id`; `IORING_CQE_F_MORE` says more will follow.
    /// liburing: `io_uring_prep_read_multishot`.
    #[inline]
    pub fn prep_read_multishot(&mut self, fd: RawFd, nbytes: u32, offset: u64, group_id: u16) {
        self.prep_rw(Op::IORING_OP_READ_MULTISHOT, fd, 0, nbytes as usize, offset);
        self.flags |= sys::IOSQE_BUFFER_SELECT;
        self.buf_index = group_id;
    }

    /// `IORING_OP_WRITE` (Linux 5.6): `pwrite(2)` of `buffer` at `offset`.
    /// liburing: `io_uring_prep_write`.
    #[inline]
    pub fn prep_write(&mut self, fd: RawFd, buffer: &[u8], offset: u64) {
        self.prep_rw(
            Op::IORING_OP_WRITE,
            fd,
            buffer.as_ptr() as u64,
            buffer.len(),
            offset,
        );
    }

    /// `IORING_OP_WRITEV` (Linux 5.1): `pwritev(2)` of `iovecs` at `offset` (set
    /// `rw_flags` for `pwritev2(2)`). liburing: `io_uring_prep_writev`.
    #[inline]
    pub fn prep_writev(&mut self, fd: RawFd, iovecs: &[IoSlice<'_>], offset: u64) {
        // IoSlice is ABI-compatible with `struct iovec` on Unix.
        self.prep_rw(
            Op::IORING_OP_WRITEV,
            fd,
            iovecs.as_ptr() as u64,
            iovecs.len(),
            offset,
        );
    }

    /// `IORING_OP_WRITE_FIXED` (Linux 5.1): `pwrite(2)` of `buffer`, which must lie inside
    /// registered buffer `buffer_index`. liburing: `io_uring_prep_write_fixed`.
    #[inline]
    pub fn prep_write_fixed(&mut self, fd: RawFd, buffer: &[u8], offset: u64, buffer_index: u16) {
        self.prep_rw(
            Op::IORING_OP_WRITE_FIXED,
            fd,
            buffer.as_ptr() as u64,
            buffer.len(),
            offset,
        );
        self.buf_index = buffer_index;
    }

    /// `IORING_OP_WRITEV_FIXED` (Linux 6.15): `pwritev(2)` of `iovecs`, all inside
    /// registered buffer `buffer_index`. liburing: `io_uring_prep_writev_fixed`.
    #[inline]
    pub fn prep_writev_fixed(
        &mut self,
        fd: RawFd,
        iovecs: &[IoSlice<'_>],
        offset: u64,
        buffer_index: u16,
    ) {
        self.prep_writev(fd, iovecs, offset);
        self.opcode = sys::op(Op::IORING_OP_WRITEV_FIXED);
        self.buf_index = buffer_index;
    }

    /// `IORING_OP_SPLICE` (Linux 5.7): `splice(2)` of `len` bytes from `fd_in` at `off_in`
    /// to `fd_out` at `off_out`; one of them must be a pipe, whose offset must be
    /// `u64::MAX` (for a non-pipe, `u64::MAX` means its file position). liburing:
    /// `io_uring_prep_splice` (without `splice_flags`, as Zig).
    #[inline]
    pub fn prep_splice(
        &mut self,
        fd_in: RawFd,
        off_in: u64,
        fd_out: RawFd,
        off_out: u64,
        len: usize,
    ) {
        self.prep_rw(Op::IORING_OP_SPLICE, fd_out, off_in, len, off_out);
        self.splice_fd_in = fd_in;
    }

    /// `IORING_OP_TEE` (Linux 5.8): `tee(2)`: duplicate up to `len` bytes from pipe `fd_in`
    /// to pipe `fd_out` without consuming them. liburing: `io_uring_prep_tee` (without
    /// flags, as Zig).
    #[inline]
    pub fn prep_tee(&mut self, fd_in: RawFd, fd_out: RawFd, len: usize) {
        self.prep_rw(Op::IORING_OP_TEE, fd_out, 0, len, 0);
        self.splice_fd_in = fd_in;
    }
}

/// Sockets: send and receive.
impl Sqe {
    /// `IORING_OP_SEND` (Linux 5.6): `send(2)` of `buffer` with `MSG_*` `flags`.
    /// liburing: `io_uring_prep_send`.
    #[inline]
    pub fn prep_send(&mut self, fd: RawFd, buffer: &[u8], flags: u32) {
        self.prep_rw(
            Op::IORING_OP_SEND,
            fd,
            buffer.as_ptr() as u64,
            buffer.len(),
            0,
        );
        self.rw_flags = flags;
    }

    /// `IORING_OP_SEND` with a destination (Linux 6.0): `sendto(2)` of `buffer` to `addr`,
    /// for unconnected datagram sockets. liburing: `io_uring_prep_sendto`.
    #[inline]
    pub fn prep_sendto(
        &mut self,
        fd: RawFd,
        buffer: &[u8],
        flags: u32,
        addr: *const RawSockAddr,
        addrlen: u32,
    ) {
        self.prep_send(fd, buffer, flags);
        self.prep_send_set_addr(addr.cast(), u16::try_from(addrlen).unwrap_or(u16::MAX));
    }

    /// `IORING_OP_RECV` (Linux 5.6): `recv(2)` into `buffer` with `MSG_*` `flags`.
    /// liburing: `io_uring_prep_recv`.
    #[inline]
    pub fn prep_recv(&mut self, fd: RawFd, buffer: &mut [u8], flags: u32) {
        self.prep_rw(
            Op::IORING_OP_RECV,
            fd,
            buffer.as_mut_ptr() as u64,
            buffer.len(),
            0,
        );
        self.rw_flags = flags;
    }

    /// `IORING_OP_RECV` with `IOSQE_BUFFER_SELECT` (Linux 5.7): receive up to `len` bytes
    /// (0: the whole buffer) into a buffer the kernel picks from group `group_id`. No
    /// liburing twin; Zig does this inline in `recv` with `.buffer_selection`.
    #[inline]
    pub fn prep_recv_buffer_selection(&mut self, fd: RawFd, group_id: u16, len: usize, flags: u32) {
        self.prep_rw(Op::IORING_OP_RECV, fd, 0, len, 0);
        self.rw_flags = flags;
        self.flags |= sys::IOSQE_BUFFER_SELECT;
        self.buf_index = group_id;
    }

    /// `IORING_OP_RECV` with `IORING_RECV_MULTISHOT` in `ioprio` (Linux 6.0): keep
    /// receiving, one CQE per receive with `IORING_CQE_F_MORE` while it stays armed.
    /// liburing: `io_uring_prep_recv_multishot`. The kernel requires buffer selection
    /// (`IOSQE_BUFFER_SELECT` and a group in `buf_index`), which this prep does not set;
    /// [`IoUring::recv_multishot`](crate::IoUring::recv_multishot) builds the complete
    /// entry from [`prep_recv_buffer_selection`](Self::prep_recv_buffer_selection) instead.
    #[inline]
    pub fn prep_recv_multishot(&mut self, fd: RawFd, buffer: &mut [u8], flags: u32) {
        self.prep_recv(fd, buffer, flags);
        self.ioprio |= sys::IORING_RECV_MULTISHOT as u16;
    }

    /// `IORING_OP_SEND_ZC` (Linux 6.0): zero-copy `send(2)` of `buffer`; `zc_flags`
    /// (`IORING_RECVSEND_POLL_FIRST`, `IORING_SEND_ZC_REPORT_USAGE`) go in `ioprio`.
    /// liburing: `io_uring_prep_send_zc`.
    ///
    /// Two completions: the first carries the byte count (or `-errno`) and usually
    /// `IORING_CQE_F_MORE`; if it has `F_MORE`, a second one with the same user_data,
    /// `res` 0 and `IORING_CQE_F_NOTIF` follows once the kernel no longer reads the buffer.
    /// **The buffer must stay valid and unmodified until that notification**, not merely
    /// until the first completion. An errored send may notify too: decide by `F_MORE`.
    #[inline]
    pub fn prep_send_zc(&mut self, fd: RawFd, buffer: &[u8], flags: u32, zc_flags: u16) {
        self.prep_rw(
            Op::IORING_OP_SEND_ZC,
            fd,
            buffer.as_ptr() as u64,
            buffer.len(),
            0,
        );
        self.rw_flags = flags;
        self.ioprio = zc_flags;
    }

    /// `IORING_OP_SEND_ZC` with `IORING_RECVSEND_FIXED_BUF` (Linux 6.0): zero-copy send
    /// from the registered buffer `buf_index`; `buffer` must lie inside that registered
    /// buffer. Same two-completion contract as [`prep_send_zc`](Self::prep_send_zc).
    /// liburing: `io_uring_prep_send_zc_fixed`.
    #[inline]
    pub fn prep_send_zc_fixed(
        &mut self,
        fd: RawFd,
        buffer: &[u8],
        flags: u32,
        zc_flags: u16,
        buf_index: u16,
    ) {
        self.prep_send_zc(fd, buffer, flags, zc_flags);
        self.ioprio |= sys::IORING_RECVSEND_FIXED_BUF as u16;
        self.buf_index = buf_index;
    }

    /// Sets a destination address on a send or zero-copy send (Linux 6.0), for
    /// unconnected datagram sockets: `addr2` = the sockaddr, `addr_len` = its length.
    /// liburing: `io_uring_prep_send_set_addr`.
    #[inline]
    pub fn prep_send_set_addr(&mut self, dest_addr: *const c_void, addr_len: u16) {
        self.off = dest_addr as u64;
        // addr_len is the first 16 bits of the 32-bit splice_fd_in union (then padding).
        let mut bytes = [0u8; 4];
        bytes[..2].copy_from_slice(&addr_len.to_ne_bytes());
        self.splice_fd_in = i32::from_ne_bytes(bytes);
    }

    /// `IORING_OP_SENDMSG` (Linux 5.3): `sendmsg(2)` of `msg`.
    /// liburing: `io_uring_prep_sendmsg`.
    #[inline]
    pub fn prep_sendmsg(&mut self, fd: RawFd, msg: *const MsgHdr, flags: u32) {
        self.prep_rw(Op::IORING_OP_SENDMSG, fd, msg as u64, 1, 0);
        self.rw_flags = flags;
    }

    /// `IORING_OP_SENDMSG_ZC` (Linux 6.1): zero-copy `sendmsg(2)`; every iovec of `msg`
    /// (and `msg_name`) must stay valid until the `IORING_CQE_F_NOTIF` completion, as for
    /// [`prep_send_zc`](Self::prep_send_zc). liburing: `io_uring_prep_sendmsg_zc`.
    #[inline]
    pub fn prep_sendmsg_zc(&mut self, fd: RawFd, msg: *const MsgHdr, flags: u32) {
        self.prep_sendmsg(fd, msg, flags);
        self.opcode = sys::op(Op::IORING_OP_SENDMSG_ZC);
    }

    /// `IORING_OP_RECVMSG` (Linux 5.3): `recvmsg(2)` into `msg`.
    /// liburing: `io_uring_prep_recvmsg`.
    #[inline]
    pub fn prep_recvmsg(&mut self, fd: RawFd, msg: *mut MsgHdr, flags: u32) {
        self.prep_rw(Op::IORING_OP_RECVMSG, fd, msg as u64, 1, 0);
        self.rw_flags = flags;
    }

    /// `IORING_OP_RECVMSG` with `IORING_RECV_MULTISHOT` (Linux 6.0): keep receiving; each
    /// completion's provided buffer starts with a [`RecvmsgOut`](crate::types::RecvmsgOut)
    /// header, then the name (`msg_namelen` bytes), the control data (`msg_controllen`) and
    /// the payload. Requires buffer selection, like
    /// [`prep_recv_multishot`](Self::prep_recv_multishot). liburing:
    /// `io_uring_prep_recvmsg_multishot`.
    #[inline]
    pub fn prep_recvmsg_multishot(&mut self, fd: RawFd, msg: *mut MsgHdr, flags: u32) {
        self.prep_recvmsg(fd, msg, flags);
        self.ioprio |= sys::IORING_RECV_MULTISHOT as u16;
    }
}

/// Sockets: typed send flags, vectored and registered-buffer zero-copy, bundles.
impl Sqe {
    /// Adds typed send-family flags ([`IoringSendFlags`](sys::IoringSendFlags):
    /// `POLL_FIRST`, `ZC_REPORT_USAGE`, `FIXED_BUF`, `BUNDLE`, and the bit
    /// [`IORING_SEND_VECTORIZED`](sys::IORING_SEND_VECTORIZED)) to `ioprio`, where the
    /// kernel reads them for `IORING_OP_SEND`, `SENDMSG`, `SEND_ZC` and `SENDMSG_ZC`. What
    /// each one makes the entry name is up to whoever pushes it (`FIXED_BUF`: a registered
    /// buffer; `BUNDLE`: a buffer group; `VECTORIZED`: `addr` is an iovec array). No
    /// liburing twin (liburing ORs into `sqe->ioprio` by hand).
    #[inline]
    pub fn set_send_flags(&mut self, flags: sys::IoringSendFlags) {
        self.ioprio |= flags.bits();
    }

    /// `IORING_OP_SENDMSG_ZC` with `IORING_RECVSEND_FIXED_BUF` (Linux 6.15): zero-copy
    /// `sendmsg(2)` whose iovecs address memory inside registered buffer `buf_index`
    /// (vectored registered-buffer send). Same two-completion contract as
    /// [`prep_send_zc`](Self::prep_send_zc). liburing: `io_uring_prep_sendmsg_zc_fixed`.
    #[inline]
    pub fn prep_sendmsg_zc_fixed(
        &mut self,
        fd: RawFd,
        msg: *const MsgHdr,
        flags: u32,
        buf_index: u16,
    ) {
        self.prep_sendmsg_zc(fd, msg, flags);
        self.ioprio |= sys::IORING_RECVSEND_FIXED_BUF as u16;
        self.buf_index = buf_index;
    }

    /// `IORING_OP_SEND_ZC` with `IORING_SEND_VECTORIZED` (Linux 6.17): zero-copy send of
    /// the buffers `iovecs` names, in order (`addr` = the iovec array, `len` = its count),
    /// without a msghdr. `zc_flags` go in `ioprio` beside `VECTORIZED`. Same two-completion
    /// contract as [`prep_send_zc`](Self::prep_send_zc). No liburing 2.15 twin (it is
    /// `io_uring_prep_send_zc` with `IORING_SEND_VECTORIZED` in `zc_flags`).
    #[inline]
    pub fn prep_sendv_zc(
        &mut self,
        fd: RawFd,
        iovecs: &[IoSlice<'_>],
        flags: u32,
        zc_flags: sys::IoringSendFlags,
    ) {
        self.prep_rw(
            Op::IORING_OP_SEND_ZC,
            fd,
            iovecs.as_ptr() as u64,
            iovecs.len(),
            0,
        );
        self.rw_flags = flags;
        self.ioprio = zc_flags.bits() | sys::IORING_SEND_VECTORIZED as u16;
    }

    /// `IORING_OP_SEND` with `IORING_RECVSEND_BUNDLE` (Linux 6.10): send up to `len` bytes
    /// (0: as many as the buffers hold) from consecutive buffers of a provided-buffer group,
    /// in one request. The group is set apart, as in liburing: the caller adds
    /// `IOSQE_BUFFER_SELECT` and puts the group in `buf_index`
    /// ([`IoUring::send_bundle`](crate::IoUring::send_bundle) does both). liburing:
    /// `io_uring_prep_send_bundle`.
    #[inline]
    pub fn prep_send_bundle(&mut self, fd: RawFd, len: usize, flags: u32) {
        self.prep_rw(Op::IORING_OP_SEND, fd, 0, len, 0);
        self.rw_flags = flags;
        self.ioprio |= sys::IORING_RECVSEND_BUNDLE as u16;
    }
}

/// Sockets: setup.
impl Sqe {
    /// `IORING_OP_ACCEPT` (Linux 5.5): `accept4(2)` on `fd`; the peer address is written to
    /// `addr`/`addrlen` when they are not null. liburing: `io_uring_prep_accept`.
    #[inline]
    pub fn prep_accept(
        &mut self,
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: u32,
    ) {
        // The peer address goes in addr, a pointer to its length in addr2 (off).
        self.prep_rw(Op::IORING_OP_ACCEPT, fd, addr as u64, 0, addrlen as u64);
        self.rw_flags = flags;
    }

    /// `IORING_OP_ACCEPT` into the registered file table (Linux 5.19): the new socket goes
    /// to slot `file_index` (CQE `res` 0), or with [`FILE_INDEX_ALLOC`] to a free slot the
    /// CQE returns. liburing: `io_uring_prep_accept_direct`.
    #[inline]
    pub fn prep_accept_direct(
        &mut self,
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: u32,
        file_index: u32,
    ) {
        self.prep_accept(fd, addr, addrlen, flags);
        self.set_target_fixed_file(file_index);
    }

    /// `IORING_OP_ACCEPT` with `IORING_ACCEPT_MULTISHOT` in `ioprio` (Linux 5.19): one CQE
    /// per accepted connection, with `IORING_CQE_F_MORE` while it stays armed. liburing:
    /// `io_uring_prep_multishot_accept`.
    #[inline]
    pub fn prep_multishot_accept(
        &mut self,
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: u32,
    ) {
        self.prep_accept(fd, addr, addrlen, flags);
        self.ioprio |= sys::IORING_ACCEPT_MULTISHOT as u16;
    }

    /// Multishot accept into free slots of the registered file table (Linux 5.19); each
    /// CQE's `res` is the slot. liburing: `io_uring_prep_multishot_accept_direct`.
    #[inline]
    pub fn prep_multishot_accept_direct(
        &mut self,
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: u32,
    ) {
        self.prep_multishot_accept(fd, addr, addrlen, flags);
        self.set_target_fixed_file(FILE_INDEX_ALLOC);
    }

    /// `IORING_OP_CONNECT` (Linux 5.5): `connect(2)` of `fd` to `addr`.
    /// liburing: `io_uring_prep_connect`.
    #[inline]
    pub fn prep_connect(&mut self, fd: RawFd, addr: *const RawSockAddr, addrlen: u32) {
        // The address length travels in the offset field.
        self.prep_rw(
            Op::IORING_OP_CONNECT,
            fd,
            addr as u64,
            0,
            u64::from(addrlen),
        );
    }

    /// `IORING_OP_BIND` (Linux 6.11): `bind(2)` of `fd` to `addr`.
    /// liburing: `io_uring_prep_bind`.
    #[inline]
    pub fn prep_bind(&mut self, fd: RawFd, addr: *const RawSockAddr, addrlen: u32) {
        self.prep_rw(Op::IORING_OP_BIND, fd, addr as u64, 0, u64::from(addrlen));
    }

    /// `IORING_OP_LISTEN` (Linux 6.11): `listen(2)` on `fd` with `backlog`.
    /// liburing: `io_uring_prep_listen`.
    #[inline]
    pub fn prep_listen(&mut self, fd: RawFd, backlog: u32) {
        self.prep_rw(Op::IORING_OP_LISTEN, fd, 0, backlog as usize, 0);
    }

    /// `IORING_OP_SOCKET` (Linux 5.19): `socket(2)`; the CQE's `res` is the new fd.
    /// `flags` must be 0 (reserved). liburing: `io_uring_prep_socket`.
    #[inline]
    pub fn prep_socket(&mut self, domain: u32, socket_type: u32, protocol: u32, flags: u32) {
        self.prep_rw(
            Op::IORING_OP_SOCKET,
            domain as i32,
            0,
            protocol as usize,
            u64::from(socket_type),
        );
        self.rw_flags = flags;
    }

    /// `IORING_OP_SOCKET` into slot `file_index` of the registered file table (Linux
    /// 5.19; CQE `res` 0). liburing: `io_uring_prep_socket_direct` (whose argument order
    /// puts `file_index` before `flags`; this is Zig's).
    #[inline]
    pub fn prep_socket_direct(
        &mut self,
        domain: u32,
        socket_type: u32,
        protocol: u32,
        flags: u32,
        file_index: u32,
    ) {
        self.prep_socket(domain, socket_type, protocol, flags);
        self.set_target_fixed_file(file_index);
    }

    /// `IORING_OP_SOCKET` into a free slot of the registered file table, returned in the
    /// CQE's `res` (Linux 5.19). liburing: `io_uring_prep_socket_direct_alloc`.
    #[inline]
    pub fn prep_socket_direct_alloc(
        &mut self,
        domain: u32,
        socket_type: u32,
        protocol: u32,
        flags: u32,
    ) {
        self.prep_socket(domain, socket_type, protocol, flags);
        self.set_target_fixed_file(FILE_INDEX_ALLOC);
    }

    /// `IORING_OP_SHUTDOWN` (Linux 5.11): `shutdown(2)` of `sockfd`, `how` one of
    /// `SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`. liburing: `io_uring_prep_shutdown`.
    #[inline]
    pub fn prep_shutdown(&mut self, sockfd: RawFd, how: u32) {
        self.prep_rw(Op::IORING_OP_SHUTDOWN, sockfd, 0, how as usize, 0);
    }

    /// `IORING_OP_URING_CMD` on a socket (Linux 6.7): `cmd_op` is a
    /// `SOCKET_URING_OP_*`. `SIOCINQ`/`SIOCOUTQ` complete with the byte count as `res`;
    /// `GETSOCKOPT` (level `SOL_SOCKET` only) writes up to `optlen` bytes to `optval` and
    /// completes with the option's length; `SETSOCKOPT` reads `optlen` bytes at `optval`.
    /// liburing: `io_uring_prep_cmd_sock`.
    #[inline]
    pub fn prep_cmd_sock(
        &mut self,
        cmd_op: SocketOp,
        fd: RawFd,
        level: u32,
        optname: u32,
        optval: *mut c_void,
        optlen: u32,
    ) {
        self.prep_rw(Op::IORING_OP_URING_CMD, fd, 0, 0, 0);
        // cmd_op shares `off` with a 32-bit pad; level and optname share `addr`; optlen
        // is the 32-bit member of the splice_fd_in union; optval is addr3.
        self.off = u32_pair(cmd_op as u32, 0);
        self.addr = u32_pair(level, optname);
        self.splice_fd_in = optlen as i32;
        self.addr3 = optval as u64;
    }
}

/// Files and paths.
impl Sqe {
    /// `IORING_OP_OPENAT` (Linux 5.6): `openat(2)` of `path` relative to `dir_fd`
    /// (`AT_FDCWD` for the working directory) with `O_*` `flags` and `mode`; the CQE's
    /// `res` is the new fd. liburing: `io_uring_prep_openat`.
    #[inline]
    pub fn prep_openat(&mut self, dir_fd: RawFd, path: &CStr, flags: u32, mode: u32) {
        self.prep_rw(
            Op::IORING_OP_OPENAT,
            dir_fd,
            path.as_ptr() as u64,
            mode as usize,
            0,
        );
        self.rw_flags = flags;
    }

    /// `openat(2)` into slot `file_index` of the registered file table (Linux 5.15; CQE
    /// `res` 0), or a free slot with [`FILE_INDEX_ALLOC`] (Linux 5.19; `res` is the slot).
    /// liburing: `io_uring_prep_openat_direct`.
    #[inline]
    pub fn prep_openat_direct(
        &mut self,
        dir_fd: RawFd,
        path: &CStr,
        flags: u32,
        mode: u32,
        file_index: u32,
    ) {
        self.prep_openat(dir_fd, path, flags, mode);
        self.set_target_fixed_file(file_index);
    }

    /// `IORING_OP_OPENAT2` (Linux 5.6): `openat2(2)` of `path` with `how`.
    /// liburing: `io_uring_prep_openat2`.
    #[inline]
    pub fn prep_openat2(&mut self, dir_fd: RawFd, path: &CStr, how: &OpenHow) {
        self.prep_rw(
            Op::IORING_OP_OPENAT2,
            dir_fd,
            path.as_ptr() as u64,
            core::mem::size_of::<OpenHow>(),
            how as *const OpenHow as u64,
        );
    }

    /// `openat2(2)` into the registered file table (Linux 5.15), like
    /// [`prep_openat_direct`](Self::prep_openat_direct). liburing:
    /// `io_uring_prep_openat2_direct`.
    #[inline]
    pub fn prep_openat2_direct(
        &mut self,
        dir_fd: RawFd,
        path: &CStr,
        how: &OpenHow,
        file_index: u32,
    ) {
        self.prep_openat2(dir_fd, path, how);
        self.set_target_fixed_file(file_index);
    }

    /// `IORING_OP_CLOSE` (Linux 5.6): `close(2)` of `fd`. liburing: `io_uring_prep_close`.
    #[inline]
    pub fn prep_close(&mut self, fd: RawFd) {
        self.prep_rw(Op::IORING_OP_CLOSE, fd, 0, 0, 0);
    }

    /// `IORING_OP_CLOSE` of slot `file_index` of the registered file table (Linux 5.15).
    /// liburing: `io_uring_prep_close_direct`.
    #[inline]
    pub fn prep_close_direct(&mut self, file_index: u32) {
        self.prep_close(0);
        self.set_target_fixed_file(file_index);
    }

    /// `IORING_OP_FILES_UPDATE` (Linux 5.6): replace registered files from slot `offset`
    /// on with `fds` (`-1` clears a slot), as a request; `res` is the number updated.
    /// liburing: `io_uring_prep_files_update`.
    #[inline]
    pub fn prep_files_update(&mut self, fds: &[RawFd], offset: u32) {
        self.prep_rw(
            Op::IORING_OP_FILES_UPDATE,
            -1,
            fds.as_ptr() as u64,
            fds.len(),
            u64::from(offset),
        );
    }

    /// `IORING_OP_STATX` (Linux 5.6): `statx(2)` of `path` relative to `dir_fd`, `AT_*`
    /// `flags`, `STATX_*` `mask`, into `buf`. liburing: `io_uring_prep_statx`.
    #[inline]
    pub fn prep_statx(
        &mut self,
        dir_fd: RawFd,
        path: &CStr,
        flags: u32,
        mask: u32,
        buf: &mut Statx,
    ) {
        self.prep_rw(
            Op::IORING_OP_STATX,
            dir_fd,
            path.as_ptr() as u64,
            mask as usize,
            buf as *mut Statx as u64,
        );
        self.rw_flags = flags;
    }

    /// `IORING_OP_FALLOCATE` (Linux 5.6): `fallocate(2)` of `len` bytes at `offset` with
    /// `FALLOC_FL_*` `mode`. liburing: `io_uring_prep_fallocate`.
    #[inline]
    pub fn prep_fallocate(&mut self, fd: RawFd, mode: i32, offset: u64, len: u64) {
        // The length goes in addr and the mode in len.
        self.prep_rw(Op::IORING_OP_FALLOCATE, fd, len, 0, offset);
        self.len = mode as u32;
    }

    /// `IORING_OP_FADVISE` (Linux 5.6): `posix_fadvise(2)` of `len` bytes at `offset`
    /// with `POSIX_FADV_*` `advice` (`len` 0: to the end of the file). A `len` above
    /// `u32::MAX` travels in `addr`, with the 32-bit `len` field 0 (Linux 6.11 reads it
    /// there; older kernels refuse a non-zero `addr` with `EINVAL`, never truncate).
    /// liburing: `io_uring_prep_fadvise` / `io_uring_prep_fadvise64` (Zig: `fadvice`).
    #[inline]
    pub fn prep_fadvise(&mut self, fd: RawFd, offset: u64, len: u64, advice: u32) {
        match u32::try_from(len) {
            Ok(len32) => self.prep_rw(Op::IORING_OP_FADVISE, fd, 0, len32 as usize, offset),
            Err(_) => self.prep_rw(Op::IORING_OP_FADVISE, fd, len, 0, offset),
        }
        self.rw_flags = advice;
    }

    /// `IORING_OP_MADVISE` (Linux 5.6): `madvise(2)` of `length` bytes at `addr` with
    /// `MADV_*` `advice`. A `length` above `u32::MAX` travels in `off`, with the 32-bit
    /// `len` field 0 (Linux 6.11 reads it there; older kernels refuse a non-zero `off`
    /// with `EINVAL`, never truncate). liburing: `io_uring_prep_madvise` /
    /// `io_uring_prep_madvise64` (Zig: `madvice`).
    #[inline]
    pub fn prep_madvise(&mut self, addr: *mut c_void, length: usize, advice: u32) {
        match u32::try_from(length) {
            Ok(_) => self.prep_rw(Op::IORING_OP_MADVISE, -1, addr as u64, length, 0),
            Err(_) => self.prep_rw(Op::IORING_OP_MADVISE, -1, addr as u64, 0, length as u64),
        }
        self.rw_flags = advice;
    }

    /// `IORING_OP_RENAMEAT` (Linux 5.11): `renameat2(2)` of `old_path` (relative to
    /// `old_dir_fd`) to `new_path` (relative to `new_dir_fd`), `RENAME_*` `flags`.
    /// liburing: `io_uring_prep_renameat`.
    #[inline]
    pub fn prep_renameat(
        &mut self,
        old_dir_fd: RawFd,
        old_path: &CStr,
        new_dir_fd: RawFd,
        new_path: &CStr,
        flags: u32,
    ) {
        self.prep_rw(
            Op::IORING_OP_RENAMEAT,
            old_dir_fd,
            old_path.as_ptr() as u64,
            0,
            new_path.as_ptr() as u64,
        );
        // The second directory fd travels in len.
        self.len = new_dir_fd as u32;
        self.rw_flags = flags;
    }

    /// `IORING_OP_UNLINKAT` (Linux 5.11): `unlinkat(2)` of `path` relative to `dir_fd`
    /// (`AT_REMOVEDIR` in `flags` for a directory). liburing: `io_uring_prep_unlinkat`.
    #[inline]
    pub fn prep_unlinkat(&mut self, dir_fd: RawFd, path: &CStr, flags: u32) {
        self.prep_rw(Op::IORING_OP_UNLINKAT, dir_fd, path.as_ptr() as u64, 0, 0);
        self.rw_flags = flags;
    }

    /// `IORING_OP_MKDIRAT` (Linux 5.15): `mkdirat(2)` of `path` relative to `dir_fd` with
    /// `mode`. liburing: `io_uring_prep_mkdirat`.
    #[inline]
    pub fn prep_mkdirat(&mut self, dir_fd: RawFd, path: &CStr, mode: u32) {
        self.prep_rw(
            Op::IORING_OP_MKDIRAT,
            dir_fd,
            path.as_ptr() as u64,
            mode as usize,
            0,
        );
    }

    /// `IORING_OP_SYMLINKAT` (Linux 5.15): `symlinkat(2)`: create `link_path` (relative
    /// to `new_dir_fd`) pointing to `target`. liburing: `io_uring_prep_symlinkat`.
    #[inline]
    pub fn prep_symlinkat(&mut self, target: &CStr, new_dir_fd: RawFd, link_path: &CStr) {
        self.prep_rw(
            Op::IORING_OP_SYMLINKAT,
            new_dir_fd,
            target.as_ptr() as u64,
            0,
            link_path.as_ptr() as u64,
        );
    }

    /// `IORING_OP_LINKAT` (Linux 5.15): `linkat(2)` of `old_path` to `new_path`, `AT_*`
    /// `flags`. liburing: `io_uring_prep_linkat`.
    #[inline]
    pub fn prep_linkat(
        &mut self,
        old_dir_fd: RawFd,
        old_path: &CStr,
        new_dir_fd: RawFd,
        new_path: &CStr,
        flags: u32,
    ) {
        self.prep_rw(
            Op::IORING_OP_LINKAT,
            old_dir_fd,
            old_path.as_ptr() as u64,
            0,
            new_path.as_ptr() as u64,
        );
        self.len = new_dir_fd as u32;
        self.rw_flags = flags;
    }
}

/// Timeouts, polling, cancellation.
impl Sqe {
    /// `IORING_OP_TIMEOUT` (Linux 5.4): completes with `-ETIME` after `ts` (relative, or
    /// absolute with `IORING_TIMEOUT_ABS`), or with 0 once `count` other requests have
    /// completed (0: time only). liburing: `io_uring_prep_timeout`.
    #[inline]
    pub fn prep_timeout(&mut self, ts: &Timespec, count: u32, flags: u32) {
        self.prep_rw(
            Op::IORING_OP_TIMEOUT,
            -1,
            ts as *const Timespec as u64,
            1,
            u64::from(count),
        );
        self.rw_flags = flags;
    }

    /// `IORING_OP_TIMEOUT_REMOVE` (Linux 5.5): cancel the timeout whose user_data is
    /// `timeout_user_data`. liburing: `io_uring_prep_timeout_remove`.
    #[inline]
    pub fn prep_timeout_remove(&mut self, timeout_user_data: u64, flags: u32) {
        self.prep_rw(Op::IORING_OP_TIMEOUT_REMOVE, -1, timeout_user_data, 0, 0);
        self.rw_flags = flags;
    }

    /// `IORING_OP_TIMEOUT_REMOVE` with `IORING_TIMEOUT_UPDATE` (Linux 5.11): give the
    /// timeout `timeout_user_data` the new expiry `ts`. liburing:
    /// `io_uring_prep_timeout_update` (whose argument order puts `ts` first; this is
    /// Zig's).
    #[inline]
    pub fn prep_timeout_update(&mut self, timeout_user_data: u64, ts: &Timespec, flags: u32) {
        self.prep_rw(
            Op::IORING_OP_TIMEOUT_REMOVE,
            -1,
            timeout_user_data,
            0,
            ts as *const Timespec as u64,
        );
        self.rw_flags = flags | sys::IORING_TIMEOUT_UPDATE;
    }

    /// `IORING_OP_LINK_TIMEOUT` (Linux 5.5): a timeout for the previous SQE, which must
    /// carry `IOSQE_IO_LINK`; whichever finishes first cancels the other. liburing:
    /// `io_uring_prep_link_timeout`.
    #[inline]
    pub fn prep_link_timeout(&mut self, ts: &Timespec, flags: u32) {
        self.prep_rw(
            Op::IORING_OP_LINK_TIMEOUT,
            -1,
            ts as *const Timespec as u64,
            1,
            0,
        );
        self.rw_flags = flags;
    }

    /// `IORING_OP_POLL_ADD` (Linux 5.1): complete once `fd` has one of the `POLL*`
    /// events of `poll_mask`; `res` is the events. liburing: `io_uring_prep_poll_add`.
    #[inline]
    pub fn prep_poll_add(&mut self, fd: RawFd, poll_mask: u32) {
        self.prep_rw(Op::IORING_OP_POLL_ADD, fd, 0, 0, 0);
        self.rw_flags = poll32_events(poll_mask);
    }

    /// `IORING_OP_POLL_ADD` with `IORING_POLL_ADD_MULTI` (Linux 5.13): one CQE per
    /// readiness event, with `IORING_CQE_F_MORE` while armed. liburing:
    /// `io_uring_prep_poll_multishot`.
    #[inline]
    pub fn prep_poll_multishot(&mut self, fd: RawFd, poll_mask: u32) {
        self.prep_poll_add(fd, poll_mask);
        self.len = sys::IORING_POLL_ADD_MULTI;
    }

    /// `IORING_OP_POLL_REMOVE` (Linux 5.1): cancel the poll whose user_data is
    /// `target_user_data`. liburing: `io_uring_prep_poll_remove`.
    #[inline]
    pub fn prep_poll_remove(&mut self, target_user_data: u64) {
        self.prep_rw(Op::IORING_OP_POLL_REMOVE, -1, target_user_data, 0, 0);
    }

    /// `IORING_OP_POLL_REMOVE` with update flags (Linux 5.13): change the poll
    /// `old_user_data` to `new_user_data` (`IORING_POLL_UPDATE_USER_DATA`) and/or to
    /// `poll_mask` (`IORING_POLL_UPDATE_EVENTS`), per `flags`; a value not selected by
    /// `flags` must be 0 (else `EINVAL`). liburing: `io_uring_prep_poll_update`.
    #[inline]
    pub fn prep_poll_update(
        &mut self,
        old_user_data: u64,
        new_user_data: u64,
        poll_mask: u32,
        flags: u32,
    ) {
        self.prep_rw(
            Op::IORING_OP_POLL_REMOVE,
            -1,
            old_user_data,
            flags as usize,
            new_user_data,
        );
        self.rw_flags = poll32_events(poll_mask);
    }

    /// `IORING_OP_ASYNC_CANCEL` (Linux 5.5): cancel the request whose user_data is
    /// `cancel_user_data` (`IORING_ASYNC_CANCEL_*` `flags` widen the match, Linux 5.19).
    /// `res`: 0, `-ENOENT` (not found) or `-EALREADY` (already running). liburing:
    /// `io_uring_prep_cancel64`.
    #[inline]
    pub fn prep_cancel(&mut self, cancel_user_data: u64, flags: u32) {
        self.prep_rw(Op::IORING_OP_ASYNC_CANCEL, -1, cancel_user_data, 0, 0);
        self.rw_flags = flags;
    }

    /// `IORING_OP_ASYNC_CANCEL` keyed on a file descriptor (`IORING_ASYNC_CANCEL_FD`,
    /// Linux 5.19): cancel requests on `fd` (one, or all with `IORING_ASYNC_CANCEL_ALL`).
    /// liburing: `io_uring_prep_cancel_fd`.
    #[inline]
    pub fn prep_cancel_fd(&mut self, fd: RawFd, flags: u32) {
        self.prep_rw(Op::IORING_OP_ASYNC_CANCEL, fd, 0, 0, 0);
        self.rw_flags = flags | sys::IORING_ASYNC_CANCEL_FD;
    }

    /// `IORING_OP_EPOLL_CTL` (Linux 5.6): `epoll_ctl(2)` on `epfd`: `op`
    /// (`EPOLL_CTL_ADD`/`MOD`/`DEL`) for `fd` with event `ev` (may be null for `DEL`).
    /// liburing: `io_uring_prep_epoll_ctl`.
    #[inline]
    pub fn prep_epoll_ctl(&mut self, epfd: RawFd, fd: RawFd, op: u32, ev: *mut EpollEvent) {
        self.prep_rw(
            Op::IORING_OP_EPOLL_CTL,
            epfd,
            ev as u64,
            op as usize,
            u64::from(fd as u32),
        );
    }

    /// `IORING_OP_EPOLL_WAIT` (Linux 6.15): `epoll_wait(2)` on `fd` into `events`; `res`
    /// is the number of events. liburing: `io_uring_prep_epoll_wait`.
    #[inline]
    pub fn prep_epoll_wait(&mut self, fd: RawFd, events: &mut [EpollEvent], flags: u32) {
        self.prep_rw(
            Op::IORING_OP_EPOLL_WAIT,
            fd,
            events.as_mut_ptr() as u64,
            events.len(),
            0,
        );
        self.rw_flags = flags;
    }
}

/// Provided buffers and processes.
impl Sqe {
    /// `IORING_OP_PROVIDE_BUFFERS` (Linux 5.7): hand `buffers_count` buffers of
    /// `buffer_size` bytes, contiguous from `buffers`, to group `group_id`, with ids
    /// `buffer_id`, `buffer_id + 1`, …; requests with `IOSQE_BUFFER_SELECT` then pick
    /// from the group. liburing: `io_uring_prep_provide_buffers`.
    #[inline]
    pub fn prep_provide_buffers(
        &mut self,
        buffers: *mut u8,
        buffer_size: u32,
        buffers_count: u32,
        group_id: u16,
        buffer_id: u16,
    ) {
        // A count above i32::MAX is clamped; the kernel refuses anything above 65536.
        let count = i32::try_from(buffers_count).unwrap_or(i32::MAX);
        self.prep_rw(
            Op::IORING_OP_PROVIDE_BUFFERS,
            count,
            buffers as u64,
            buffer_size as usize,
            u64::from(buffer_id),
        );
        self.buf_index = group_id;
    }

    /// `IORING_OP_REMOVE_BUFFERS` (Linux 5.7): take up to `buffers_count` unused buffers
    /// out of group `group_id`; `res` is how many were removed. liburing:
    /// `io_uring_prep_remove_buffers`.
    #[inline]
    pub fn prep_remove_buffers(&mut self, buffers_count: u32, group_id: u16) {
        let count = i32::try_from(buffers_count).unwrap_or(i32::MAX);
        self.prep_rw(Op::IORING_OP_REMOVE_BUFFERS, count, 0, 0, 0);
        self.buf_index = group_id;
    }

    /// `IORING_OP_WAITID` (Linux 6.7): `waitid(2)` for `id_type`/`id` with `W*`
    /// `options`, writing `infop`. `flags` must be 0. liburing: `io_uring_prep_waitid`.
    #[inline]
    pub fn prep_waitid(
        &mut self,
        id_type: IdType,
        id: i32,
        infop: &mut SigInfo,
        options: u32,
        flags: u32,
    ) {
        self.prep_rw(
            Op::IORING_OP_WAITID,
            id,
            0,
            id_type as usize,
            infop as *mut SigInfo as u64,
        );
        self.rw_flags = flags;
        // The options travel in the file_index member.
        self.splice_fd_in = options as i32;
    }
}

/// Messages between rings.
impl Sqe {
    /// `IORING_OP_MSG_RING` with `IORING_MSG_DATA` (Linux 5.18): post a completion into the
    /// ring whose fd is `fd`, with `user_data` = `data` and `res` = `len` (its flags 0);
    /// this request completes with 0 on the ring that submitted it. `flags` must be 0
    /// (`IORING_MSG_RING_CQE_SKIP` is for file hand-overs only: `-EINVAL` here).
    /// liburing: `io_uring_prep_msg_ring`.
    #[inline]
    pub fn prep_msg_ring(&mut self, fd: RawFd, len: u32, data: u64, flags: u32) {
        self.prep_rw(Op::IORING_OP_MSG_RING, fd, 0, len as usize, data);
        // addr is the command: IORING_MSG_DATA (0), set by prep_rw.
        self.rw_flags = flags;
    }

    /// [`prep_msg_ring`](Self::prep_msg_ring) with `IORING_MSG_RING_FLAGS_PASS` (Linux
    /// 6.3): the target's completion carries `cqe_flags` as its flags (in `file_index`).
    /// liburing: `io_uring_prep_msg_ring_cqe_flags`.
    #[inline]
    pub fn prep_msg_ring_cqe_flags(
        &mut self,
        fd: RawFd,
        len: u32,
        data: u64,
        flags: u32,
        cqe_flags: u32,
    ) {
        self.prep_msg_ring(fd, len, data, flags | sys::IORING_MSG_RING_FLAGS_PASS);
        self.splice_fd_in = cqe_flags as i32;
    }

    /// `IORING_OP_MSG_RING` with `IORING_MSG_SEND_FD` (Linux 6.0): install the file of slot
    /// `source_fd` of this ring's registered file table into slot `target_fd` of the table
    /// of the ring whose fd is `fd` ([`FILE_INDEX_ALLOC`]: a free slot), and post a
    /// completion there with `user_data` = `data` and `res` = 0 (or the allocated slot;
    /// none with `IORING_MSG_RING_CQE_SKIP` in `flags`, Linux 6.2). This request completes
    /// with the same `res`. liburing: `io_uring_prep_msg_ring_fd`.
    #[inline]
    pub fn prep_msg_ring_fd(
        &mut self,
        fd: RawFd,
        source_fd: u32,
        target_fd: u32,
        data: u64,
        flags: u32,
    ) {
        self.prep_rw(
            Op::IORING_OP_MSG_RING,
            fd,
            u64::from(sys::raw::io_uring_msg_ring_flags::IORING_MSG_SEND_FD as u32),
            0,
            data,
        );
        self.addr3 = u64::from(source_fd);
        self.set_target_fixed_file(target_fd);
        self.rw_flags = flags;
    }

    /// [`prep_msg_ring_fd`](Self::prep_msg_ring_fd) into a free slot of the target's table,
    /// which both completions return. liburing: `io_uring_prep_msg_ring_fd_alloc`.
    #[inline]
    pub fn prep_msg_ring_fd_alloc(&mut self, fd: RawFd, source_fd: u32, data: u64, flags: u32) {
        self.prep_msg_ring_fd(fd, source_fd, FILE_INDEX_ALLOC, data, flags);
    }
}

/// Futexes.
impl Sqe {
    /// `IORING_OP_FUTEX_WAIT` (Linux 6.7): `futex_wait(2)` on `futex`: complete (`res` 0)
    /// once woken through one of the bits of `mask`, or at once with `-EAGAIN` if the word
    /// is not `val`. `futex_flags` are `FUTEX2_*` (a size, `FUTEX2_SIZE_U32` for a `u32`
    /// word, and `FUTEX2_PRIVATE` if no other process maps it; in `fd`); `flags` must be 0.
    /// A `mask` of 0 is `-EINVAL`; `FUTEX_BITSET_MATCH_ANY` matches every wake.
    /// liburing: `io_uring_prep_futex_wait`.
    #[inline]
    pub fn prep_futex_wait(
        &mut self,
        futex: &AtomicU32,
        val: u64,
        mask: u64,
        futex_flags: u32,
        flags: u32,
    ) {
        self.prep_rw(
            Op::IORING_OP_FUTEX_WAIT,
            futex_flags as i32,
            futex.as_ptr() as u64,
            0,
            val,
        );
        self.rw_flags = flags;
        self.addr3 = mask;
    }

    /// `IORING_OP_FUTEX_WAKE` (Linux 6.7): `futex_wake(2)`: wake up to `val` waiters of
    /// `futex` whose mask shares a bit with `mask`; `res` is how many were woken.
    /// `futex_flags` and `flags` as for [`prep_futex_wait`](Self::prep_futex_wait).
    /// liburing: `io_uring_prep_futex_wake`.
    #[inline]
    pub fn prep_futex_wake(
        &mut self,
        futex: &AtomicU32,
        val: u64,
        mask: u64,
        futex_flags: u32,
        flags: u32,
    ) {
        self.prep_futex_wait(futex, val, mask, futex_flags, flags);
        self.opcode = sys::op(Op::IORING_OP_FUTEX_WAKE);
    }

    /// `IORING_OP_FUTEX_WAITV` (Linux 6.7): `futex_waitv(2)`: wait on every futex of
    /// `futexv` (1 to `FUTEX_WAITV_MAX` entries, each with its own `FUTEX2_*` flags and
    /// expected value); `res` is the index of the one woken. `flags` must be 0.
    /// liburing: `io_uring_prep_futex_waitv`.
    #[inline]
    pub fn prep_futex_waitv(&mut self, futexv: &[FutexWaitv], flags: u32) {
        self.prep_rw(
            Op::IORING_OP_FUTEX_WAITV,
            0,
            futexv.as_ptr() as u64,
            futexv.len(),
            0,
        );
        self.rw_flags = flags;
    }
}

/// Files: more of them.
impl Sqe {
    /// `IORING_OP_READV` with `RWF_*` `flags` (Linux 5.1): `preadv2(2)`. liburing:
    /// `io_uring_prep_readv2`.
    #[inline]
    pub fn prep_readv2(&mut self, fd: RawFd, iovecs: &[IoSliceMut<'_>], offset: u64, flags: u32) {
        self.prep_readv(fd, iovecs, offset);
        self.rw_flags = flags;
    }

    /// `IORING_OP_WRITEV` with `RWF_*` `flags` (Linux 5.1): `pwritev2(2)`. liburing:
    /// `io_uring_prep_writev2`.
    #[inline]
    pub fn prep_writev2(&mut self, fd: RawFd, iovecs: &[IoSlice<'_>], offset: u64, flags: u32) {
        self.prep_writev(fd, iovecs, offset);
        self.rw_flags = flags;
    }

    /// `IORING_OP_SYNC_FILE_RANGE` (Linux 5.2): `sync_file_range(2)` of `len` bytes (0: to
    /// the end) at `offset`, `SYNC_FILE_RANGE_*` `flags`. liburing:
    /// `io_uring_prep_sync_file_range`.
    #[inline]
    pub fn prep_sync_file_range(&mut self, fd: RawFd, len: u32, offset: u64, flags: u32) {
        self.prep_rw(Op::IORING_OP_SYNC_FILE_RANGE, fd, 0, len as usize, offset);
        self.rw_flags = flags;
    }

    /// `IORING_OP_FTRUNCATE` (Linux 6.9): `ftruncate(2)` of `fd` to `len` bytes. liburing:
    /// `io_uring_prep_ftruncate`.
    #[inline]
    pub fn prep_ftruncate(&mut self, fd: RawFd, len: u64) {
        self.prep_rw(Op::IORING_OP_FTRUNCATE, fd, 0, 0, len);
    }

    /// `IORING_OP_FIXED_FD_INSTALL` (Linux 6.8): install the file of slot `file_index` of
    /// the registered file table as a normal descriptor, returned in `res` (close-on-exec
    /// unless `IORING_FIXED_FD_NO_CLOEXEC` is in `flags`). The kernel requires
    /// `IOSQE_FIXED_FILE`, which this sets. liburing: `io_uring_prep_fixed_fd_install`.
    #[inline]
    pub fn prep_fixed_fd_install(&mut self, file_index: u32, flags: u32) {
        self.prep_rw(Op::IORING_OP_FIXED_FD_INSTALL, file_index as i32, 0, 0, 0);
        self.flags = sys::IOSQE_FIXED_FILE;
        self.rw_flags = flags;
    }

    /// `IORING_OP_PIPE` (Linux 6.16): `pipe2(2)` with `O_*` `pipe_flags`; the kernel writes
    /// the read and write ends' fds to `fds`. liburing: `io_uring_prep_pipe`.
    #[inline]
    pub fn prep_pipe(&mut self, fds: &mut [RawFd; 2], pipe_flags: u32) {
        self.prep_rw(Op::IORING_OP_PIPE, 0, fds.as_mut_ptr() as u64, 0, 0);
        self.rw_flags = pipe_flags;
    }

    /// `IORING_OP_PIPE` into the registered file table (Linux 6.16): the two ends go to
    /// slots `file_index` and `file_index + 1`, or with [`FILE_INDEX_ALLOC`] to two free
    /// slots; the kernel writes the slots to `fds`. liburing: `io_uring_prep_pipe_direct`.
    #[inline]
    pub fn prep_pipe_direct(&mut self, fds: &mut [RawFd; 2], pipe_flags: u32, file_index: u32) {
        self.prep_pipe(fds, pipe_flags);
        self.set_target_fixed_file(file_index);
    }

    /// `IORING_OP_FGETXATTR` (Linux 5.19): `fgetxattr(2)` of attribute `name` of `fd` into
    /// `value`; `res` is the attribute's length. liburing: `io_uring_prep_fgetxattr`.
    #[inline]
    pub fn prep_fgetxattr(&mut self, fd: RawFd, name: &CStr, value: &mut [u8]) {
        self.prep_rw(
            Op::IORING_OP_FGETXATTR,
            fd,
            name.as_ptr() as u64,
            value.len(),
            value.as_mut_ptr() as u64,
        );
    }

    /// `IORING_OP_FSETXATTR` (Linux 5.19): `fsetxattr(2)` of attribute `name` of `fd` to
    /// `value`, `XATTR_*` `flags`. liburing: `io_uring_prep_fsetxattr`.
    #[inline]
    pub fn prep_fsetxattr(&mut self, fd: RawFd, name: &CStr, value: &[u8], flags: u32) {
        self.prep_rw(
            Op::IORING_OP_FSETXATTR,
            fd,
            name.as_ptr() as u64,
            value.len(),
            value.as_ptr() as u64,
        );
        self.rw_flags = flags;
    }

    /// `IORING_OP_GETXATTR` (Linux 5.19): `getxattr(2)` of attribute `name` of the file at
    /// `path` into `value`; `res` is the attribute's length. liburing:
    /// `io_uring_prep_getxattr`.
    #[inline]
    pub fn prep_getxattr(&mut self, name: &CStr, value: &mut [u8], path: &CStr) {
        self.prep_rw(
            Op::IORING_OP_GETXATTR,
            0,
            name.as_ptr() as u64,
            value.len(),
            value.as_mut_ptr() as u64,
        );
        self.addr3 = path.as_ptr() as u64;
    }

    /// `IORING_OP_SETXATTR` (Linux 5.19): `setxattr(2)` of attribute `name` of the file at
    /// `path` to `value`, `XATTR_*` `flags`. liburing: `io_uring_prep_setxattr`.
    #[inline]
    pub fn prep_setxattr(&mut self, name: &CStr, value: &[u8], path: &CStr, flags: u32) {
        self.prep_rw(
            Op::IORING_OP_SETXATTR,
            0,
            name.as_ptr() as u64,
            value.len(),
            value.as_ptr() as u64,
        );
        self.addr3 = path.as_ptr() as u64;
        self.rw_flags = flags;
    }
}

/// Sockets: zero-copy receive.
impl Sqe {
    /// `IORING_OP_RECV_ZC` (Linux 6.15): multishot zero-copy receive on `fd` into the area
    /// of the zero-copy receive queue `zcrx_ifq_idx` registered on the ring
    /// (IORING_REGISTER_ZCRX_IFQ, which needs a NIC with header split and flow steering);
    /// up to `len` bytes in all (0: no limit). Each completion is 32 bytes (CQE32 ring)
    /// and names the area offset of its data. `IORING_RECV_MULTISHOT`, which the kernel
    /// requires, is set in `ioprio`. Without that queue registered, the kernel answers
    /// `-EINVAL`. No liburing 2.15 prep (its tests fill the SQE by hand).
    #[inline]
    pub fn prep_recv_zc(&mut self, fd: RawFd, len: u32, zcrx_ifq_idx: u32) {
        self.prep_rw(Op::IORING_OP_RECV_ZC, fd, 0, len as usize, 0);
        self.ioprio = sys::IORING_RECV_MULTISHOT as u16;
        self.splice_fd_in = zcrx_ifq_idx as i32;
    }
}

/// Paths relative to the working directory (liburing's `AT_FDCWD` shorthands).
impl Sqe {
    /// [`prep_openat`](Self::prep_openat) relative to the working directory. liburing:
    /// `io_uring_prep_open`.
    #[inline]
    pub fn prep_open(&mut self, path: &CStr, flags: u32, mode: u32) {
        self.prep_openat(linux_raw_sys::general::AT_FDCWD, path, flags, mode);
    }

    /// [`prep_openat_direct`](Self::prep_openat_direct) relative to the working directory.
    /// liburing: `io_uring_prep_open_direct`.
    #[inline]
    pub fn prep_open_direct(&mut self, path: &CStr, flags: u32, mode: u32, file_index: u32) {
        self.prep_openat_direct(
            linux_raw_sys::general::AT_FDCWD,
            path,
            flags,
            mode,
            file_index,
        );
    }

    /// [`prep_unlinkat`](Self::prep_unlinkat) relative to the working directory. liburing:
    /// `io_uring_prep_unlink`.
    #[inline]
    pub fn prep_unlink(&mut self, path: &CStr, flags: u32) {
        self.prep_unlinkat(linux_raw_sys::general::AT_FDCWD, path, flags);
    }

    /// [`prep_renameat`](Self::prep_renameat) of two paths relative to the working
    /// directory, without flags. liburing: `io_uring_prep_rename`.
    #[inline]
    pub fn prep_rename(&mut self, old_path: &CStr, new_path: &CStr) {
        let cwd = linux_raw_sys::general::AT_FDCWD;
        self.prep_renameat(cwd, old_path, cwd, new_path, 0);
    }

    /// [`prep_mkdirat`](Self::prep_mkdirat) relative to the working directory. liburing:
    /// `io_uring_prep_mkdir`.
    #[inline]
    pub fn prep_mkdir(&mut self, path: &CStr, mode: u32) {
        self.prep_mkdirat(linux_raw_sys::general::AT_FDCWD, path, mode);
    }

    /// [`prep_symlinkat`](Self::prep_symlinkat) with `link_path` relative to the working
    /// directory. liburing: `io_uring_prep_symlink`.
    #[inline]
    pub fn prep_symlink(&mut self, target: &CStr, link_path: &CStr) {
        self.prep_symlinkat(target, linux_raw_sys::general::AT_FDCWD, link_path);
    }

    /// [`prep_linkat`](Self::prep_linkat) of two paths relative to the working directory.
    /// liburing: `io_uring_prep_link`.
    #[inline]
    pub fn prep_link(&mut self, old_path: &CStr, new_path: &CStr, flags: u32) {
        let cwd = linux_raw_sys::general::AT_FDCWD;
        self.prep_linkat(cwd, old_path, cwd, new_path, flags);
    }
}

/// Sockets: names.
impl Sqe {
    /// `IORING_OP_URING_CMD` with [`SOCKET_URING_OP_GETSOCKNAME`](sys::SOCKET_URING_OP_GETSOCKNAME)
    /// (Linux 6.19): `getsockname(2)` of `fd` (`getpeername(2)` with `peer`) into
    /// `sockaddr`, whose room the `u32` at `sockaddr_len` gives and where the kernel writes
    /// the address's length. liburing: `io_uring_prep_cmd_getsockname`.
    #[inline]
    pub fn prep_cmd_getsockname(
        &mut self,
        fd: RawFd,
        sockaddr: *mut RawSockAddr,
        sockaddr_len: *mut u32,
        peer: bool,
    ) {
        self.prep_rw(Op::IORING_OP_URING_CMD, fd, 0, 0, 0);
        self.off = u32_pair(sys::SOCKET_URING_OP_GETSOCKNAME, 0);
        self.addr = sockaddr as u64;
        self.addr3 = sockaddr_len as u64;
        self.splice_fd_in = i32::from(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths above `u32::MAX` go to the 64-bit field the kernel (6.11) reads when `len`
    /// is 0, instead of being truncated; smaller ones stay in `len`, as before.
    #[test]
    fn advise_lengths_above_u32_use_the_64_bit_field() {
        let mut sqe = Sqe::default();
        let big: u64 = (5 << 30) + 7;
        sqe.prep_madvise(0x1000 as *mut c_void, big as usize, 4);
        assert_eq!(
            (sqe.addr, sqe.len, sqe.off, sqe.rw_flags),
            (0x1000, 0, big, 4)
        );
        sqe.prep_madvise(0x1000 as *mut c_void, 8192, 4);
        assert_eq!((sqe.addr, sqe.len, sqe.off), (0x1000, 8192, 0));
        sqe.prep_fadvise(3, 64, big, 2);
        assert_eq!(
            (sqe.fd, sqe.off, sqe.addr, sqe.len, sqe.rw_flags),
            (3, 64, big, 0, 2)
        );
        sqe.prep_fadvise(3, 64, 8, 2);
        assert_eq!((sqe.off, sqe.addr, sqe.len), (64, 0, 8));
        let max = u64::from(u32::MAX);
        sqe.prep_fadvise(3, 0, max, 2);
        assert_eq!((sqe.addr, sqe.len), (0, u32::MAX));
    }
    use core::mem::{align_of, offset_of, size_of};
    use linux_raw_sys::io_uring::io_uring_sqe as K;

    #[test]
    fn layout_matches_the_kernel() {
        assert_eq!(size_of::<Sqe>(), size_of::<K>());
        assert_eq!(size_of::<Sqe>(), 64);
        assert_eq!(align_of::<Sqe>(), align_of::<K>());
        assert_eq!(offset_of!(Sqe, opcode), offset_of!(K, opcode));
        assert_eq!(offset_of!(Sqe, flags), offset_of!(K, flags));
        assert_eq!(offset_of!(Sqe, ioprio), offset_of!(K, ioprio));
        assert_eq!(offset_of!(Sqe, fd), offset_of!(K, fd));
        assert_eq!(offset_of!(Sqe, off), offset_of!(K, __bindgen_anon_1));
        assert_eq!(offset_of!(Sqe, addr), offset_of!(K, __bindgen_anon_2));
        assert_eq!(offset_of!(Sqe, len), offset_of!(K, len));
        assert_eq!(offset_of!(Sqe, rw_flags), offset_of!(K, __bindgen_anon_3));
        assert_eq!(offset_of!(Sqe, user_data), offset_of!(K, user_data));
        assert_eq!(offset_of!(Sqe, buf_index), offset_of!(K, __bindgen_anon_4));
        assert_eq!(offset_of!(Sqe, personality), offset_of!(K, personality));
        assert_eq!(
            offset_of!(Sqe, splice_fd_in),
            offset_of!(K, __bindgen_anon_5)
        );
        assert_eq!(offset_of!(Sqe, addr3), offset_of!(K, __bindgen_anon_6));
        assert_eq!(offset_of!(Sqe, resv), offset_of!(K, __bindgen_anon_6) + 8);
    }

    #[test]
    fn prep_send_zc_fixed_composes_send_zc() {
        let buf = [1u8, 2, 3];
        let mut sqe = Sqe::default();
        sqe.prep_send_zc_fixed(7, &buf, 0x40, sys::IORING_SEND_ZC_REPORT_USAGE as u16, 3);
        let mut base = Sqe::default();
        base.prep_send_zc(7, &buf, 0x40, sys::IORING_SEND_ZC_REPORT_USAGE as u16);
        assert_eq!(sqe.opcode, sys::op(Op::IORING_OP_SEND_ZC));
        assert_eq!(
            sqe.ioprio,
            (sys::IORING_SEND_ZC_REPORT_USAGE | sys::IORING_RECVSEND_FIXED_BUF) as u16
        );
        assert_eq!(sqe.buf_index, 3);
        assert_eq!(
            Sqe {
                ioprio: base.ioprio,
                buf_index: 0,
                ..sqe
            },
            base
        );
        assert_eq!(sqe.len, 3);
        assert_eq!(sqe.rw_flags, 0x40);
    }

    #[test]
    fn prep_overwrites_every_field() {
        let mut sqe = Sqe {
            opcode: 0xff,
            flags: 0xff,
            ioprio: 0xffff,
            fd: -5,
            off: !0,
            addr: !0,
            len: !0,
            rw_flags: !0,
            user_data: !0,
            buf_index: !0,
            personality: !0,
            splice_fd_in: -1,
            addr3: !0,
            resv: !0,
        };
        sqe.prep_nop();
        assert_eq!(
            sqe,
            Sqe {
                fd: -1,
                ..Sqe::default()
            }
        );
    }

    /// The kernel's view of an SQE, to read the named union members the prep methods
    /// fill (cmd_op, level, optname, optlen, addr_len, file_index, optval).
    fn kernel_view(sqe: &Sqe) -> K {
        // SAFETY: Sqe and io_uring_sqe have the same size and layout (checked in
        // `layout_matches_the_kernel`); every bit pattern is valid for both.
        unsafe { core::mem::transmute::<Sqe, K>(*sqe) }
    }

    fn prepped(f: impl FnOnce(&mut Sqe)) -> Sqe {
        // Start from garbage, so that a field the prep forgets shows up.
        let mut sqe = Sqe {
            opcode: 0xff,
            flags: 0xff,
            ioprio: 0xffff,
            fd: -5,
            off: !0,
            addr: !0,
            len: !0,
            rw_flags: !0,
            user_data: !0,
            buf_index: !0,
            personality: !0,
            splice_fd_in: -7,
            addr3: !0,
            resv: !0,
        };
        f(&mut sqe);
        sqe
    }

    fn base(op: Op) -> Sqe {
        Sqe {
            opcode: sys::op(op),
            ..Sqe::default()
        }
    }

    #[test]
    fn file_ops_fill_the_liburing_fields() {
        let mut buf = [0u8; 8];
        let ptr = buf.as_mut_ptr() as u64;
        assert_eq!(
            prepped(|s| s.prep_fsync(3, sys::IORING_FSYNC_DATASYNC)),
            Sqe {
                fd: 3,
                rw_flags: sys::IORING_FSYNC_DATASYNC,
                ..base(Op::IORING_OP_FSYNC)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_read_fixed(4, &mut buf, 9, 2)),
            Sqe {
                fd: 4,
                addr: ptr,
                len: 8,
                off: 9,
                buf_index: 2,
                ..base(Op::IORING_OP_READ_FIXED)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_read_buffer_selection(4, 7, 128, 5)),
            Sqe {
                fd: 4,
                len: 128,
                off: 5,
                flags: sys::IOSQE_BUFFER_SELECT,
                buf_index: 7,
                ..base(Op::IORING_OP_READ)
            }
        );
        let iov = [IoSliceMut::new(&mut buf)];
        let iov_ptr = iov.as_ptr() as u64;
        assert_eq!(
            prepped(|s| s.prep_readv_fixed(4, &iov, 0, 1)),
            Sqe {
                fd: 4,
                addr: iov_ptr,
                len: 1,
                buf_index: 1,
                ..base(Op::IORING_OP_READV_FIXED)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_splice(10, u64::MAX, 11, 40, 300)),
            Sqe {
                fd: 11,
                addr: u64::MAX,
                off: 40,
                len: 300,
                splice_fd_in: 10,
                ..base(Op::IORING_OP_SPLICE)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_tee(10, 11, 300)),
            Sqe {
                fd: 11,
                len: 300,
                splice_fd_in: 10,
                ..base(Op::IORING_OP_TEE)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_fallocate(3, 1, 100, 65536)),
            Sqe {
                fd: 3,
                off: 100,
                addr: 65536,
                len: 1,
                ..base(Op::IORING_OP_FALLOCATE)
            }
        );
        let (old, new) = (c"old", c"new");
        assert_eq!(
            prepped(|s| s.prep_renameat(5, old, -100, new, 1)),
            Sqe {
                fd: 5,
                addr: old.as_ptr() as u64,
                off: new.as_ptr() as u64,
                len: (-100i32) as u32,
                rw_flags: 1,
                ..base(Op::IORING_OP_RENAMEAT)
            }
        );
        let mut stx: Statx = unsafe_zeroed();
        let stx_ptr = &mut stx as *mut Statx as u64;
        assert_eq!(
            prepped(|s| s.prep_statx(5, old, 0x100, 0x200, &mut stx)),
            Sqe {
                fd: 5,
                addr: old.as_ptr() as u64,
                len: 0x200,
                off: stx_ptr,
                rw_flags: 0x100,
                ..base(Op::IORING_OP_STATX)
            }
        );
    }

    fn unsafe_zeroed<T: Copy>() -> T {
        // SAFETY: only used for plain-integer kernel structs, for which zero is valid.
        unsafe { core::mem::zeroed() }
    }

    #[test]
    fn direct_descriptors_encode_index_plus_one_or_alloc() {
        let p = c"p";
        let s = prepped(|s| s.prep_openat_direct(-100, p, 2, 0o644, 0));
        assert_eq!(s.splice_fd_in, 1);
        assert_eq!(s.len, 0o644);
        assert_eq!(s.rw_flags, 2);
        let s = prepped(|s| s.prep_openat_direct(-100, p, 2, 0o644, FILE_INDEX_ALLOC));
        // SAFETY: reading a u32 member of a union of integers.
        let file_index = unsafe { kernel_view(&s).__bindgen_anon_5.file_index };
        assert_eq!(file_index, u32::MAX);
        let s = prepped(|s| {
            s.prep_accept_direct(3, core::ptr::null_mut(), core::ptr::null_mut(), 0, 4)
        });
        assert_eq!(
            s,
            Sqe {
                fd: 3,
                splice_fd_in: 5,
                ..base(Op::IORING_OP_ACCEPT)
            }
        );
        let s = prepped(|s| {
            s.prep_multishot_accept_direct(3, core::ptr::null_mut(), core::ptr::null_mut(), 0)
        });
        assert_eq!(
            s,
            Sqe {
                fd: 3,
                ioprio: sys::IORING_ACCEPT_MULTISHOT as u16,
                splice_fd_in: -1,
                ..base(Op::IORING_OP_ACCEPT)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_socket_direct(2, 1, 6, 0, 2)),
            Sqe {
                fd: 2,
                off: 1,
                len: 6,
                splice_fd_in: 3,
                ..base(Op::IORING_OP_SOCKET)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_socket_direct_alloc(2, 1, 0, 0)).splice_fd_in,
            -1
        );
        assert_eq!(
            prepped(|s| s.prep_close_direct(7)),
            Sqe {
                fd: 0,
                splice_fd_in: 8,
                ..base(Op::IORING_OP_CLOSE)
            }
        );
    }

    #[test]
    fn timeouts_polls_and_cancels() {
        let ts = crate::types::timespec(core::time::Duration::from_millis(5));
        let ts_ptr = &ts as *const Timespec as u64;
        assert_eq!(
            prepped(|s| s.prep_timeout(&ts, 3, sys::IORING_TIMEOUT_ABS)),
            Sqe {
                fd: -1,
                addr: ts_ptr,
                len: 1,
                off: 3,
                rw_flags: sys::IORING_TIMEOUT_ABS,
                ..base(Op::IORING_OP_TIMEOUT)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_timeout_update(0x88, &ts, 0)),
            Sqe {
                fd: -1,
                addr: 0x88,
                off: ts_ptr,
                rw_flags: sys::IORING_TIMEOUT_UPDATE,
                ..base(Op::IORING_OP_TIMEOUT_REMOVE)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_link_timeout(&ts, 0)),
            Sqe {
                fd: -1,
                addr: ts_ptr,
                len: 1,
                ..base(Op::IORING_OP_LINK_TIMEOUT)
            }
        );
        let pollin = linux_raw_sys::general::POLLIN;
        let s = prepped(|s| s.prep_poll_multishot(9, pollin));
        // SAFETY: reading a u32 member of a union of integers.
        let events = unsafe { kernel_view(&s).__bindgen_anon_3.poll32_events };
        assert_eq!(events, poll32_events(pollin));
        assert_eq!(s.len, sys::IORING_POLL_ADD_MULTI);
        assert_eq!(
            prepped(|s| s.prep_poll_update(1, 2, pollin, sys::IORING_POLL_UPDATE_USER_DATA)),
            Sqe {
                fd: -1,
                addr: 1,
                off: 2,
                len: sys::IORING_POLL_UPDATE_USER_DATA,
                rw_flags: poll32_events(pollin),
                ..base(Op::IORING_OP_POLL_REMOVE)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_cancel_fd(6, sys::IORING_ASYNC_CANCEL_ALL)),
            Sqe {
                fd: 6,
                rw_flags: sys::IORING_ASYNC_CANCEL_ALL | sys::IORING_ASYNC_CANCEL_FD,
                ..base(Op::IORING_OP_ASYNC_CANCEL)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_epoll_ctl(5, -1, 1, core::ptr::null_mut())),
            Sqe {
                fd: 5,
                len: 1,
                off: u64::from(u32::MAX),
                ..base(Op::IORING_OP_EPOLL_CTL)
            }
        );
    }

    #[test]
    fn socket_commands_use_the_named_union_members() {
        let mut val = 1u32;
        let val_ptr = (&mut val as *mut u32).cast::<c_void>();
        let s =
            prepped(|s| s.prep_cmd_sock(SocketOp::SOCKET_URING_OP_GETSOCKOPT, 8, 1, 2, val_ptr, 4));
        let k = kernel_view(&s);
        // SAFETY: reading integer members of unions of integers.
        unsafe {
            assert_eq!(
                k.__bindgen_anon_1.__bindgen_anon_1.cmd_op,
                SocketOp::SOCKET_URING_OP_GETSOCKOPT as u32
            );
            assert_eq!(k.__bindgen_anon_1.__bindgen_anon_1.__pad1, 0);
            assert_eq!(k.__bindgen_anon_2.__bindgen_anon_1.level, 1);
            assert_eq!(k.__bindgen_anon_2.__bindgen_anon_1.optname, 2);
            assert_eq!(k.__bindgen_anon_5.optlen, 4);
            assert_eq!(*k.__bindgen_anon_6.optval.as_ref(), val_ptr as u64);
        }
        assert_eq!(
            (s.opcode, s.fd, s.len, s.rw_flags),
            (sys::op(Op::IORING_OP_URING_CMD), 8, 0, 0)
        );

        let addr = [0u8; 16];
        let s = prepped(|s| s.prep_sendto(3, b"x", 0x40, addr.as_ptr().cast(), 16));
        let k = kernel_view(&s);
        // SAFETY: as above.
        unsafe {
            assert_eq!(k.__bindgen_anon_1.addr2, addr.as_ptr() as u64);
            assert_eq!(k.__bindgen_anon_5.__bindgen_anon_1.addr_len, 16);
            assert_eq!(k.__bindgen_anon_5.__bindgen_anon_1.__pad3, [0]);
        }
        assert_eq!(
            (s.opcode, s.rw_flags, s.len),
            (sys::op(Op::IORING_OP_SEND), 0x40, 1)
        );
    }

    #[test]
    fn receives_buffers_and_processes() {
        let mut empty: [u8; 0] = [];
        let s = prepped(|s| s.prep_recv_multishot(3, &mut empty, 0));
        assert_eq!(s.ioprio, sys::IORING_RECV_MULTISHOT as u16);
        assert_eq!(s.opcode, sys::op(Op::IORING_OP_RECV));
        assert_eq!(
            prepped(|s| s.prep_recv_buffer_selection(3, 9, 0, 0x40)),
            Sqe {
                fd: 3,
                rw_flags: 0x40,
                flags: sys::IOSQE_BUFFER_SELECT,
                buf_index: 9,
                ..base(Op::IORING_OP_RECV)
            }
        );
        let mut slab = [0u8; 512];
        let slab_ptr = slab.as_mut_ptr();
        assert_eq!(
            prepped(|s| s.prep_provide_buffers(slab_ptr, 128, 4, 1337, 2)),
            Sqe {
                fd: 4,
                addr: slab_ptr as u64,
                len: 128,
                off: 2,
                buf_index: 1337,
                ..base(Op::IORING_OP_PROVIDE_BUFFERS)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_remove_buffers(3, 1337)),
            Sqe {
                fd: 3,
                buf_index: 1337,
                ..base(Op::IORING_OP_REMOVE_BUFFERS)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_read_multishot(3, 0, u64::MAX, 5)),
            Sqe {
                fd: 3,
                off: u64::MAX,
                flags: sys::IOSQE_BUFFER_SELECT,
                buf_index: 5,
                ..base(Op::IORING_OP_READ_MULTISHOT)
            }
        );
        let mut info: SigInfo = unsafe_zeroed();
        let info_ptr = &mut info as *mut SigInfo as u64;
        assert_eq!(
            prepped(|s| s.prep_waitid(
                IdType::Pid,
                1234,
                &mut info,
                linux_raw_sys::general::WEXITED,
                0
            )),
            Sqe {
                fd: 1234,
                len: IdType::Pid as u32,
                off: info_ptr,
                splice_fd_in: linux_raw_sys::general::WEXITED as i32,
                ..base(Op::IORING_OP_WAITID)
            }
        );
    }

    #[test]
    fn messages_fill_the_liburing_fields() {
        let s = prepped(|s| s.prep_msg_ring(9, 77, 0xbeef, 0));
        assert_eq!(
            s,
            Sqe {
                fd: 9,
                len: 77,
                off: 0xbeef,
                ..base(Op::IORING_OP_MSG_RING)
            }
        );
        let s = prepped(|s| s.prep_msg_ring_cqe_flags(9, 5, 0xcafe, 0, 0x1234_0000));
        // SAFETY: reading a u32 member of a union of integers.
        let cqe_flags = unsafe { kernel_view(&s).__bindgen_anon_5.file_index };
        assert_eq!(cqe_flags, 0x1234_0000);
        // SAFETY: as above.
        let msg_flags = unsafe { kernel_view(&s).__bindgen_anon_3.msg_ring_flags };
        assert_eq!(msg_flags, sys::IORING_MSG_RING_FLAGS_PASS);
        assert_eq!((s.fd, s.len, s.off, s.addr), (9, 5, 0xcafe, 0));
        let send_fd = sys::raw::io_uring_msg_ring_flags::IORING_MSG_SEND_FD as u64;
        assert_eq!(
            prepped(|s| s.prep_msg_ring_fd(9, 3, 4, 0xf00d, sys::IORING_MSG_RING_CQE_SKIP)),
            Sqe {
                fd: 9,
                addr: send_fd,
                off: 0xf00d,
                addr3: 3,
                splice_fd_in: 5,
                rw_flags: sys::IORING_MSG_RING_CQE_SKIP,
                ..base(Op::IORING_OP_MSG_RING)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_msg_ring_fd_alloc(9, 3, 0xf00d, 0)),
            Sqe {
                fd: 9,
                addr: send_fd,
                off: 0xf00d,
                addr3: 3,
                splice_fd_in: FILE_INDEX_ALLOC as i32,
                ..base(Op::IORING_OP_MSG_RING)
            }
        );
    }

    #[test]
    fn futexes_fill_the_liburing_fields() {
        let word = AtomicU32::new(0);
        let addr = word.as_ptr() as u64;
        let flags = sys::FUTEX2_SIZE_U32 | sys::FUTEX2_PRIVATE;
        let mask = u64::from(sys::FUTEX_BITSET_MATCH_ANY);
        let wait = Sqe {
            fd: flags as i32,
            addr,
            off: 3,
            addr3: mask,
            ..base(Op::IORING_OP_FUTEX_WAIT)
        };
        assert_eq!(
            prepped(|s| s.prep_futex_wait(&word, 3, mask, flags, 0)),
            wait
        );
        assert_eq!(
            prepped(|s| s.prep_futex_wake(&word, 3, mask, flags, 0)),
            Sqe {
                opcode: sys::op(Op::IORING_OP_FUTEX_WAKE),
                ..wait
            }
        );
        let s = prepped(|s| s.prep_futex_wait(&word, 3, mask, flags, 1));
        // SAFETY: reading a u32 member of a union of integers.
        assert_eq!(unsafe { kernel_view(&s).__bindgen_anon_3.futex_flags }, 1);
        let v = [FutexWaitv {
            val: 0,
            uaddr: addr,
            flags,
            __reserved: 0,
        }; 2];
        assert_eq!(
            prepped(|s| s.prep_futex_waitv(&v, 0)),
            Sqe {
                fd: 0,
                addr: v.as_ptr() as u64,
                len: 2,
                ..base(Op::IORING_OP_FUTEX_WAITV)
            }
        );
    }

    #[test]
    fn more_file_ops_fill_the_liburing_fields() {
        let mut buf = [0u8; 8];
        let iov = [IoSliceMut::new(&mut buf)];
        let rwf = linux_raw_sys::general::RWF_NOWAIT;
        assert_eq!(
            prepped(|s| s.prep_readv2(4, &iov, 6, rwf)),
            Sqe {
                fd: 4,
                addr: iov.as_ptr() as u64,
                len: 1,
                off: 6,
                rw_flags: rwf,
                ..base(Op::IORING_OP_READV)
            }
        );
        let wiov = [IoSlice::new(b"ab")];
        assert_eq!(
            prepped(|s| s.prep_writev2(4, &wiov, 6, rwf)),
            Sqe {
                fd: 4,
                addr: wiov.as_ptr() as u64,
                len: 1,
                off: 6,
                rw_flags: rwf,
                ..base(Op::IORING_OP_WRITEV)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_sync_file_range(4, 100, 4096, 2)),
            Sqe {
                fd: 4,
                len: 100,
                off: 4096,
                rw_flags: 2,
                ..base(Op::IORING_OP_SYNC_FILE_RANGE)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_ftruncate(4, 1 << 40)),
            Sqe {
                fd: 4,
                off: 1 << 40,
                ..base(Op::IORING_OP_FTRUNCATE)
            }
        );
        let s = prepped(|s| s.prep_fixed_fd_install(7, sys::IORING_FIXED_FD_NO_CLOEXEC));
        assert_eq!(
            s,
            Sqe {
                fd: 7,
                flags: sys::IOSQE_FIXED_FILE,
                rw_flags: sys::IORING_FIXED_FD_NO_CLOEXEC,
                ..base(Op::IORING_OP_FIXED_FD_INSTALL)
            }
        );
        // SAFETY: reading a u32 member of a union of integers.
        let install = unsafe { kernel_view(&s).__bindgen_anon_3.install_fd_flags };
        assert_eq!(install, sys::IORING_FIXED_FD_NO_CLOEXEC);
        let mut fds = [0; 2];
        let fds_ptr = fds.as_mut_ptr() as u64;
        let cloexec = linux_raw_sys::general::O_CLOEXEC;
        let s = prepped(|s| s.prep_pipe(&mut fds, cloexec));
        assert_eq!(
            s,
            Sqe {
                fd: 0,
                addr: fds_ptr,
                rw_flags: cloexec,
                ..base(Op::IORING_OP_PIPE)
            }
        );
        // SAFETY: as above.
        let pipe_flags = unsafe { kernel_view(&s).__bindgen_anon_3.pipe_flags };
        assert_eq!(pipe_flags, cloexec);
        assert_eq!(
            prepped(|s| s.prep_pipe_direct(&mut fds, 0, 4)).splice_fd_in,
            5
        );
        assert_eq!(
            prepped(|s| s.prep_pipe_direct(&mut fds, 0, FILE_INDEX_ALLOC)).splice_fd_in,
            -1
        );
        let (name, path) = (c"user.a", c"/p");
        let mut value = [0u8; 16];
        let vptr = value.as_mut_ptr() as u64;
        assert_eq!(
            prepped(|s| s.prep_fgetxattr(4, name, &mut value)),
            Sqe {
                fd: 4,
                addr: name.as_ptr() as u64,
                len: 16,
                off: vptr,
                ..base(Op::IORING_OP_FGETXATTR)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_fsetxattr(4, name, &value[..3], 1)),
            Sqe {
                fd: 4,
                addr: name.as_ptr() as u64,
                len: 3,
                off: vptr,
                rw_flags: 1,
                ..base(Op::IORING_OP_FSETXATTR)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_getxattr(name, &mut value, path)),
            Sqe {
                addr: name.as_ptr() as u64,
                len: 16,
                off: vptr,
                addr3: path.as_ptr() as u64,
                ..base(Op::IORING_OP_GETXATTR)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_setxattr(name, &value[..3], path, 2)),
            Sqe {
                addr: name.as_ptr() as u64,
                len: 3,
                off: vptr,
                addr3: path.as_ptr() as u64,
                rw_flags: 2,
                ..base(Op::IORING_OP_SETXATTR)
            }
        );
        let s = prepped(|s| s.prep_recv_zc(4, 1000, 3));
        assert_eq!(
            s,
            Sqe {
                fd: 4,
                len: 1000,
                ioprio: sys::IORING_RECV_MULTISHOT as u16,
                splice_fd_in: 3,
                ..base(Op::IORING_OP_RECV_ZC)
            }
        );
        // SAFETY: as above.
        assert_eq!(unsafe { kernel_view(&s).__bindgen_anon_5.zcrx_ifq_idx }, 3);
    }

    #[test]
    fn shorthands_and_getsockname_fill_the_liburing_fields() {
        let cwd = linux_raw_sys::general::AT_FDCWD;
        let (a, b) = (c"a", c"b");
        let mut at = Sqe::default();
        at.prep_renameat(cwd, a, cwd, b, 0);
        assert_eq!(prepped(|s| s.prep_rename(a, b)), at);
        at.prep_linkat(cwd, a, cwd, b, 4);
        assert_eq!(prepped(|s| s.prep_link(a, b, 4)), at);
        at.prep_symlinkat(a, cwd, b);
        assert_eq!(prepped(|s| s.prep_symlink(a, b)), at);
        at.prep_mkdirat(cwd, a, 0o700);
        assert_eq!(prepped(|s| s.prep_mkdir(a, 0o700)), at);
        at.prep_unlinkat(cwd, a, 0x200);
        assert_eq!(prepped(|s| s.prep_unlink(a, 0x200)), at);
        at.prep_openat_direct(cwd, a, 1, 0o600, 3);
        assert_eq!(prepped(|s| s.prep_open_direct(a, 1, 0o600, 3)), at);
        at.prep_openat(cwd, a, 1, 0o600);
        assert_eq!(prepped(|s| s.prep_open(a, 1, 0o600)), at);

        let mut addr: RawSockAddr = unsafe_zeroed();
        let mut len = 16u32;
        let (ap, lp) = (&mut addr as *mut RawSockAddr, &mut len as *mut u32);
        let s = prepped(|s| s.prep_cmd_getsockname(8, ap, lp, true));
        let k = kernel_view(&s);
        // SAFETY: reading integer members of unions of integers.
        unsafe {
            assert_eq!(
                k.__bindgen_anon_1.__bindgen_anon_1.cmd_op,
                sys::SOCKET_URING_OP_GETSOCKNAME
            );
            assert_eq!(k.__bindgen_anon_1.__bindgen_anon_1.__pad1, 0);
            assert_eq!(k.__bindgen_anon_2.addr, ap as u64);
            assert_eq!(k.__bindgen_anon_5.optlen, 1);
            // addr3 is the slot the binding names optval.
            assert_eq!(*k.__bindgen_anon_6.optval.as_ref(), lp as u64);
        }
        assert_eq!(
            (s.opcode, s.fd, s.len, s.rw_flags, s.flags),
            (sys::op(Op::IORING_OP_URING_CMD), 8, 0, 0, 0)
        );
    }

    #[test]
    fn overlong_lengths_clamp() {
        assert_eq!(len32(usize::MAX), u32::MAX);
        assert_eq!(len32(5), 5);
    }
}
