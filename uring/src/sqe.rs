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
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use crate::sys::{self, io_uring_op as Op, RecvFlags};
pub use crate::types::MsgHdr;
use crate::types::{RawSockAddr, FILE_INDEX_ALLOC};

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
pub(crate) fn u32_pair(first: u32, second: u32) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&first.to_ne_bytes());
    bytes[4..].copy_from_slice(&second.to_ne_bytes());
    u64::from_ne_bytes(bytes)
}

/// A poll mask as the kernel reads `poll32_events`: on big-endian machines it expects the
/// two 16-bit halves swapped (liburing's `__io_uring_prep_poll_mask`).
#[inline]
pub(crate) fn poll32_events(mask: u32) -> u32 {
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
    pub(crate) fn set_target_fixed_file(&mut self, file_index: u32) {
        let encoded = if file_index == FILE_INDEX_ALLOC {
            FILE_INDEX_ALLOC
        } else {
            file_index.wrapping_add(1)
        };
        self.splice_fd_in = encoded as i32;
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
}

/// Sockets: send and receive.
impl Sqe {
    /// `IORING_OP_RECV` (Linux 5.6): `recv(2)` into `buffer` with `MSG_*` `flags`.
    /// liburing: `io_uring_prep_recv`.
    #[inline]
    pub fn prep_recv(&mut self, fd: RawFd, buffer: &mut [u8], flags: RecvFlags) {
        self.prep_rw(
            Op::IORING_OP_RECV,
            fd,
            buffer.as_mut_ptr() as u64,
            buffer.len(),
            0,
        );
        self.rw_flags = flags.bits();
    }

    /// `IORING_OP_RECV` with `IOSQE_BUFFER_SELECT` (Linux 5.7): receive up to `len` bytes
    /// (0: the whole buffer) into a buffer the kernel picks from group `group_id`. No
    /// liburing twin; Zig does this inline in `recv` with `.buffer_selection`.
    #[inline]
    pub fn prep_recv_buffer_selection(
        &mut self,
        fd: RawFd,
        group_id: u16,
        len: usize,
        flags: RecvFlags,
    ) {
        self.prep_rw(Op::IORING_OP_RECV, fd, 0, len, 0);
        self.rw_flags = flags.bits();
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
    pub fn prep_recv_multishot(&mut self, fd: RawFd, buffer: &mut [u8], flags: RecvFlags) {
        self.prep_recv(fd, buffer, flags);
        self.ioprio |= sys::IORING_RECV_MULTISHOT as u16;
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

    /// `IORING_OP_RECVMSG` with `IORING_RECV_MULTISHOT` (Linux 6.0): keep receiving; each
    /// completion's provided buffer starts with a [`RecvmsgOut`](crate::types::RecvmsgOut)
    /// header, then the name (`msg_namelen` bytes), the control data (`msg_controllen`) and
    /// the payload. Requires buffer selection, like
    /// [`prep_recv_multishot`](Self::prep_recv_multishot). liburing:
    /// `io_uring_prep_recvmsg_multishot`.
    #[inline]
    pub fn prep_recvmsg_multishot(&mut self, fd: RawFd, msg: *mut MsgHdr, flags: RecvFlags) {
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
        flags: sys::SendFlags,
        zc_flags: sys::IoringSendFlags,
    ) {
        self.prep_rw(
            Op::IORING_OP_SEND_ZC,
            fd,
            iovecs.as_ptr() as u64,
            iovecs.len(),
            0,
        );
        self.rw_flags = flags.bits();
        self.ioprio = zc_flags.union(sys::SEND_VECTORIZED).bits();
    }

    /// `IORING_OP_SEND` with `IORING_RECVSEND_BUNDLE` (Linux 6.10): send up to `len` bytes
    /// (0: as many as the buffers hold) from consecutive buffers of a provided-buffer group,
    /// in one request. The group is set apart, as in liburing: the caller adds
    /// `IOSQE_BUFFER_SELECT` and puts the group in `buf_index`
    /// ([`IoUring::send_bundle`](crate::IoUring::send_bundle) does both). liburing:
    /// `io_uring_prep_send_bundle`.
    #[inline]
    pub fn prep_send_bundle(&mut self, fd: RawFd, len: usize, flags: sys::SendFlags) {
        self.prep_rw(Op::IORING_OP_SEND, fd, 0, len, 0);
        self.rw_flags = flags.bits();
        self.ioprio |= sys::IORING_RECVSEND_BUNDLE as u16;
    }
}

/// Sockets: setup.
impl Sqe {
    /// `IORING_OP_ACCEPT` into the registered file table (Linux 5.19): the new socket goes
    /// to slot `file_index` (CQE `res` 0), or with [`FILE_INDEX_ALLOC`] to a free slot the
    /// CQE returns. liburing: `io_uring_prep_accept_direct`.
    #[inline]
    pub fn prep_accept_direct(
        &mut self,
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: sys::SocketFlags,
        file_index: u32,
    ) {
        self.prep_accept(fd, addr, addrlen, flags);
        self.set_target_fixed_file(file_index);
    }
}

/// Timeouts, polling, cancellation.
impl Sqe {
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
        flags: sys::IoringPollFlags,
    ) {
        self.prep_rw(
            Op::IORING_OP_POLL_REMOVE,
            -1,
            old_user_data,
            flags.bits() as usize,
            new_user_data,
        );
        self.rw_flags = poll32_events(poll_mask);
    }
}

/// Paths relative to the working directory (liburing's `AT_FDCWD` shorthands).
impl Sqe {
    /// [`prep_openat`](Self::prep_openat) relative to the working directory. liburing:
    /// `io_uring_prep_open`.
    #[inline]
    pub fn prep_open(&mut self, path: &CStr, flags: rustix::fs::OFlags, mode: rustix::fs::Mode) {
        self.prep_openat(linux_raw_sys::general::AT_FDCWD, path, flags, mode);
    }

    /// [`prep_openat_direct`](Self::prep_openat_direct) relative to the working directory.
    /// liburing: `io_uring_prep_open_direct`.
    #[inline]
    pub fn prep_open_direct(
        &mut self,
        path: &CStr,
        flags: rustix::fs::OFlags,
        mode: rustix::fs::Mode,
        file_index: u32,
    ) {
        self.prep_openat_direct(
            linux_raw_sys::general::AT_FDCWD,
            path,
            flags,
            mode,
            file_index,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{FutexWaitv, IdType, SigInfo, SocketOp, Statx, Timespec};
    use core::sync::atomic::AtomicU32;

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
        sqe.prep_send_zc_fixed(
            7,
            &buf,
            crate::sys::SendFlags::from_bits_retain(0x40),
            crate::sys::IoringSendFlags::ZC_REPORT_USAGE,
            3,
        );
        let mut base = Sqe::default();
        base.prep_send_zc(
            7,
            &buf,
            crate::sys::SendFlags::from_bits_retain(0x40),
            crate::sys::IoringSendFlags::ZC_REPORT_USAGE,
        );
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
            prepped(|s| s.prep_fsync(3, crate::sys::IoringFsyncFlags::DATASYNC)),
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
            prepped(|s| s.prep_fallocate(
                3,
                crate::sys::FallocateFlags::from_bits_retain(1),
                100,
                65536
            )),
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
            prepped(|s| s.prep_renameat(
                5,
                old,
                -100,
                new,
                crate::sys::RenameFlags::from_bits_retain(1)
            )),
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
            prepped(|s| s.prep_statx(
                5,
                old,
                crate::sys::AtFlags::from_bits_retain(0x100),
                crate::sys::StatxFlags::from_bits_retain(0x200),
                &mut stx
            )),
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
        let s = prepped(|s| {
            s.prep_openat_direct(
                -100,
                p,
                crate::sys::OFlags::from_bits_retain(2),
                crate::sys::Mode::from_bits_retain(0o644),
                0,
            )
        });
        assert_eq!(s.splice_fd_in, 1);
        assert_eq!(s.len, 0o644);
        assert_eq!(s.rw_flags, 2);
        let s = prepped(|s| {
            s.prep_openat_direct(
                -100,
                p,
                crate::sys::OFlags::from_bits_retain(2),
                crate::sys::Mode::from_bits_retain(0o644),
                FILE_INDEX_ALLOC,
            )
        });
        // SAFETY: reading a u32 member of a union of integers.
        let file_index = unsafe { kernel_view(&s).__bindgen_anon_5.file_index };
        assert_eq!(file_index, u32::MAX);
        let s = prepped(|s| {
            s.prep_accept_direct(
                3,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                crate::sys::SocketFlags::empty(),
                4,
            )
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
            s.prep_multishot_accept_direct(
                3,
                core::ptr::null_mut(),
                core::ptr::null_mut(),
                crate::sys::SocketFlags::empty(),
            )
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
            prepped(|s| s.prep_timeout(&ts, 3, crate::sys::IoringTimeoutFlags::ABS)),
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
            prepped(|s| s.prep_timeout_update(0x88, &ts, crate::sys::IoringTimeoutFlags::empty())),
            Sqe {
                fd: -1,
                addr: 0x88,
                off: ts_ptr,
                rw_flags: sys::IORING_TIMEOUT_UPDATE,
                ..base(Op::IORING_OP_TIMEOUT_REMOVE)
            }
        );
        assert_eq!(
            prepped(|s| s.prep_link_timeout(&ts, crate::sys::IoringTimeoutFlags::empty())),
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
            prepped(|s| s.prep_poll_update(
                1,
                2,
                pollin,
                crate::sys::IoringPollFlags::UPDATE_USER_DATA
            )),
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
            prepped(|s| s.prep_cancel_fd(6, crate::sys::IoringAsyncCancelFlags::ALL)),
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
        let s = prepped(|s| {
            s.prep_sendto(
                3,
                b"x",
                crate::sys::SendFlags::from_bits_retain(0x40),
                addr.as_ptr().cast(),
                16,
            )
        });
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
        let s = prepped(|s| s.prep_recv_multishot(3, &mut empty, crate::sys::RecvFlags::empty()));
        assert_eq!(s.ioprio, sys::IORING_RECV_MULTISHOT as u16);
        assert_eq!(s.opcode, sys::op(Op::IORING_OP_RECV));
        assert_eq!(
            prepped(|s| s.prep_recv_buffer_selection(
                3,
                9,
                0,
                crate::sys::RecvFlags::from_bits_retain(0x40)
            )),
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
        let s =
            prepped(|s| s.prep_msg_ring(9, 77, 0xbeef, crate::sys::IoringMsgringFlags::empty()));
        assert_eq!(
            s,
            Sqe {
                fd: 9,
                len: 77,
                off: 0xbeef,
                ..base(Op::IORING_OP_MSG_RING)
            }
        );
        let s = prepped(|s| {
            s.prep_msg_ring_cqe_flags(
                9,
                5,
                0xcafe,
                crate::sys::IoringMsgringFlags::empty(),
                0x1234_0000,
            )
        });
        // SAFETY: reading a u32 member of a union of integers.
        let cqe_flags = unsafe { kernel_view(&s).__bindgen_anon_5.file_index };
        assert_eq!(cqe_flags, 0x1234_0000);
        // SAFETY: as above.
        let msg_flags = unsafe { kernel_view(&s).__bindgen_anon_3.msg_ring_flags };
        assert_eq!(msg_flags, sys::IORING_MSG_RING_FLAGS_PASS);
        assert_eq!((s.fd, s.len, s.off, s.addr), (9, 5, 0xcafe, 0));
        let send_fd = sys::raw::io_uring_msg_ring_flags::IORING_MSG_SEND_FD as u64;
        assert_eq!(
            prepped(|s| s.prep_msg_ring_fd(
                9,
                3,
                4,
                0xf00d,
                crate::sys::IoringMsgringFlags::CQE_SKIP
            )),
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
            prepped(|s| s.prep_msg_ring_fd_alloc(
                9,
                3,
                0xf00d,
                crate::sys::IoringMsgringFlags::empty()
            )),
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
            prepped(|s| s.prep_readv2(
                4,
                &iov,
                6,
                crate::sys::ReadWriteFlags::from_bits_retain(rwf)
            )),
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
            prepped(|s| s.prep_writev2(
                4,
                &wiov,
                6,
                crate::sys::ReadWriteFlags::from_bits_retain(rwf)
            )),
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
        let s = prepped(|s| s.prep_fixed_fd_install(7, crate::sys::IoringFixedFdFlags::NO_CLOEXEC));
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
        let s =
            prepped(|s| s.prep_pipe(&mut fds, crate::sys::PipeFlags::from_bits_retain(cloexec)));
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
            prepped(|s| s.prep_pipe_direct(&mut fds, crate::sys::PipeFlags::empty(), 4))
                .splice_fd_in,
            5
        );
        assert_eq!(
            prepped(|s| s.prep_pipe_direct(
                &mut fds,
                crate::sys::PipeFlags::empty(),
                FILE_INDEX_ALLOC
            ))
            .splice_fd_in,
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
            prepped(|s| s.prep_fsetxattr(
                4,
                name,
                &value[..3],
                crate::sys::XattrFlags::from_bits_retain(1)
            )),
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
            prepped(|s| s.prep_setxattr(
                name,
                &value[..3],
                path,
                crate::sys::XattrFlags::from_bits_retain(2)
            )),
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
        at.prep_renameat(cwd, a, cwd, b, crate::sys::RenameFlags::empty());
        assert_eq!(prepped(|s| s.prep_rename(a, b)), at);
        at.prep_linkat(cwd, a, cwd, b, crate::sys::AtFlags::from_bits_retain(4));
        assert_eq!(
            prepped(|s| s.prep_link(a, b, crate::sys::AtFlags::from_bits_retain(4))),
            at
        );
        at.prep_symlinkat(a, cwd, b);
        assert_eq!(prepped(|s| s.prep_symlink(a, b)), at);
        at.prep_mkdirat(cwd, a, crate::sys::Mode::from_bits_retain(0o700));
        assert_eq!(
            prepped(|s| s.prep_mkdir(a, crate::sys::Mode::from_bits_retain(0o700))),
            at
        );
        at.prep_unlinkat(cwd, a, crate::sys::AtFlags::from_bits_retain(0x200));
        assert_eq!(
            prepped(|s| s.prep_unlink(a, crate::sys::AtFlags::from_bits_retain(0x200))),
            at
        );
        at.prep_openat_direct(
            cwd,
            a,
            crate::sys::OFlags::from_bits_retain(1),
            crate::sys::Mode::from_bits_retain(0o600),
            3,
        );
        assert_eq!(
            prepped(|s| s.prep_open_direct(
                a,
                crate::sys::OFlags::from_bits_retain(1),
                crate::sys::Mode::from_bits_retain(0o600),
                3
            )),
            at
        );
        at.prep_openat(
            cwd,
            a,
            crate::sys::OFlags::from_bits_retain(1),
            crate::sys::Mode::from_bits_retain(0o600),
        );
        assert_eq!(
            prepped(|s| s.prep_open(
                a,
                crate::sys::OFlags::from_bits_retain(1),
                crate::sys::Mode::from_bits_retain(0o600)
            )),
            at
        );

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
