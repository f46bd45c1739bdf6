//! The submission queue entry and its `prep_*` family.
//!
//! [`Sqe`] is layout-identical to the kernel's `struct io_uring_sqe` (64 bytes), with the
//! field names Zig and liburing use for the members of the kernel's unions (`off` also
//! serves as `addr2`, `rw_flags` as every per-opcode flags word, `buf_index` as `buf_group`,
//! `splice_fd_in` as `file_index` / `addr_len`).
//!
//! Every `prep_*` method overwrites all 64 bytes (through [`Sqe::prep_rw`]), so an entry
//! reused from the ring never carries stale fields. Preparing an SQE is safe: it only writes
//! numbers and addresses into a struct. What is `unsafe` is handing such an entry to the
//! kernel ([`IoUring::get_sqe`](crate::IoUring::get_sqe) and the ring operations that take
//! memory), because from then on the kernel may read or write the memory it names.

use core::ffi::c_void;
use std::os::fd::RawFd;

use crate::sys::{self, io_uring_op as Op};

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

impl Sqe {
    /// Fills the whole entry for a read/write-shaped operation; every other `prep_*`
    /// starts here, so no field keeps a stale value.
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

    /// `IORING_OP_NOP` (Linux 5.1): completes with result 0. liburing: `io_uring_prep_nop`.
    #[inline]
    pub fn prep_nop(&mut self) {
        self.prep_rw(Op::IORING_OP_NOP, -1, 0, 0, 0);
    }

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
        // addr_len is the low half of the splice_fd_in union.
        self.splice_fd_in = i32::from(addr_len);
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
}

impl Sqe {
    /// `IORING_OP_ACCEPT` (Linux 5.5): `accept4(2)` on `fd`; the peer address is written to
    /// `addr`/`addrlen` when they are not null. liburing: `io_uring_prep_accept`.
    #[inline]
    pub fn prep_accept(
        &mut self,
        fd: RawFd,
        addr: *mut linux_raw_sys::net::sockaddr,
        addrlen: *mut u32,
        flags: u32,
    ) {
        // The peer address goes in addr, a pointer to its length in addr2 (off).
        self.prep_rw(Op::IORING_OP_ACCEPT, fd, addr as u64, 0, addrlen as u64);
        self.rw_flags = flags;
    }

    /// `IORING_OP_CONNECT` (Linux 5.5): `connect(2)` of `fd` to `addr`.
    /// liburing: `io_uring_prep_connect`.
    #[inline]
    pub fn prep_connect(
        &mut self,
        fd: RawFd,
        addr: *const linux_raw_sys::net::sockaddr,
        addrlen: u32,
    ) {
        // The address length travels in the offset field.
        self.prep_rw(
            Op::IORING_OP_CONNECT,
            fd,
            addr as u64,
            0,
            u64::from(addrlen),
        );
    }
}

/// The kernel's `struct msghdr` (user-space layout), generated in `linux_raw_sys::net`;
/// ABI-identical to `libc::msghdr`.
pub type MsgHdr = linux_raw_sys::net::msghdr;

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn overlong_lengths_clamp() {
        assert_eq!(len32(usize::MAX), u32::MAX);
        assert_eq!(len32(5), 5);
    }
}
