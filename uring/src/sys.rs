//! The kernel ABI: constants and structures of `<linux/io_uring.h>`.
//!
//! Everything numeric here comes from [`linux_raw_sys`] (generated from the kernel's UAPI
//! headers) or from [`rustix::io_uring`] (typed wrappers over the same headers). Nothing is
//! hand-copied: the only values defined in this module are those the headers express as bit
//! *positions* (`IOSQE_*_BIT`), which we turn into masks here, each with a test.
//!
//! The [`Sqe`](crate::Sqe) and [`Cqe`](crate::Cqe) types of this crate are layout-identical
//! to the kernel's `io_uring_sqe` and `io_uring_cqe`; `tests::layout` checks every field
//! offset against the generated bindings.

pub use linux_raw_sys::io_uring::{
    io_uring_buf, io_uring_buf_reg, io_uring_files_update, io_uring_napi, io_uring_op,
    io_uring_probe, io_uring_probe_op, io_uring_register_op, io_uring_rsrc_register,
    io_uring_rsrc_update, io_uring_rsrc_update2, io_uring_sqe_flags_bit,
};

/// Raw opcode and constant module of the generated bindings, for anything not re-exported.
pub use linux_raw_sys::io_uring as raw;

pub use linux_raw_sys::io_uring::{
    IORING_ACCEPT_DONTWAIT, IORING_ACCEPT_MULTISHOT, IORING_ACCEPT_POLL_FIRST,
    IORING_ASYNC_CANCEL_ALL, IORING_ASYNC_CANCEL_ANY, IORING_ASYNC_CANCEL_FD,
    IORING_ASYNC_CANCEL_FD_FIXED, IORING_ASYNC_CANCEL_OP, IORING_ASYNC_CANCEL_USERDATA,
    IORING_CQE_BUFFER_SHIFT, IORING_CQE_F_BUFFER, IORING_CQE_F_BUF_MORE, IORING_CQE_F_MORE,
    IORING_CQE_F_NOTIF, IORING_CQE_F_SOCK_NONEMPTY, IORING_CQ_EVENTFD_DISABLED,
    IORING_ENTER_EXT_ARG, IORING_ENTER_GETEVENTS, IORING_ENTER_SQ_WAIT, IORING_ENTER_SQ_WAKEUP,
    IORING_FEAT_CQE_SKIP, IORING_FEAT_EXT_ARG, IORING_FEAT_FAST_POLL, IORING_FEAT_NODROP,
    IORING_FEAT_RECVSEND_BUNDLE, IORING_FEAT_SINGLE_MMAP, IORING_FEAT_SUBMIT_STABLE,
    IORING_FILE_INDEX_ALLOC, IORING_FSYNC_DATASYNC, IORING_LINK_TIMEOUT_UPDATE,
    IORING_NOTIF_USAGE_ZC_COPIED, IORING_OFF_CQ_RING, IORING_OFF_PBUF_RING, IORING_OFF_PBUF_SHIFT,
    IORING_OFF_SQES, IORING_OFF_SQ_RING, IORING_POLL_ADD_LEVEL, IORING_POLL_ADD_MULTI,
    IORING_POLL_UPDATE_EVENTS, IORING_POLL_UPDATE_USER_DATA, IORING_RECVSEND_BUNDLE,
    IORING_RECVSEND_FIXED_BUF, IORING_RECVSEND_POLL_FIRST, IORING_RECV_MULTISHOT,
    IORING_RSRC_REGISTER_SPARSE, IORING_SEND_VECTORIZED, IORING_SEND_ZC_REPORT_USAGE,
    IORING_SETUP_ATTACH_WQ, IORING_SETUP_CLAMP, IORING_SETUP_COOP_TASKRUN, IORING_SETUP_CQE32,
    IORING_SETUP_CQSIZE, IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_IOPOLL, IORING_SETUP_NO_MMAP,
    IORING_SETUP_NO_SQARRAY, IORING_SETUP_REGISTERED_FD_ONLY, IORING_SETUP_R_DISABLED,
    IORING_SETUP_SINGLE_ISSUER, IORING_SETUP_SQE128, IORING_SETUP_SQPOLL, IORING_SETUP_SQ_AFF,
    IORING_SETUP_SUBMIT_ALL, IORING_SETUP_TASKRUN_FLAG, IORING_SQ_CQ_OVERFLOW,
    IORING_SQ_NEED_WAKEUP, IORING_SQ_TASKRUN, IORING_TIMEOUT_ABS, IORING_TIMEOUT_BOOTTIME,
    IORING_TIMEOUT_ETIME_SUCCESS, IORING_TIMEOUT_MULTISHOT, IORING_TIMEOUT_REALTIME,
    IORING_TIMEOUT_UPDATE, IO_URING_OP_SUPPORTED, SPLICE_F_FD_IN_FIXED,
};

/// Flags of the messaging, futex and fixed-fd operations (`msg_ring*`, `futex_*`,
/// `fixed_fd_install`), from `linux-raw-sys`: `IORING_MSG_RING_CQE_SKIP` (Linux 6.2),
/// `IORING_MSG_RING_FLAGS_PASS` (Linux 6.3), `IORING_FIXED_FD_NO_CLOEXEC` (Linux 6.8),
/// and the `futex2` flags the futex operations take (`FUTEX2_SIZE_U32`, `FUTEX2_PRIVATE`,
/// a match-any mask, the most futexes one `futex_waitv` takes).
pub use linux_raw_sys::general::{
    FUTEX2_PRIVATE, FUTEX2_SIZE_U32, FUTEX_BITSET_MATCH_ANY, FUTEX_WAITV_MAX,
};
pub use linux_raw_sys::io_uring::{
    IORING_FIXED_FD_NO_CLOEXEC, IORING_MSG_RING_CQE_SKIP, IORING_MSG_RING_FLAGS_PASS,
};

/// Typed flag sets of rustix, re-exported so that callers need no second import. The
/// per-operation ones (`IoringSendFlags` for `zc_flags`/`ioprio` of the send family,
/// `IoringRecvFlags`, `IoringTimeoutFlags`, `IoringAsyncCancelFlags`, `IoringPollFlags`,
/// `IoringFsyncFlags`, `IoringAcceptFlags`, `IoringMsgringFlags`) give the same bits
/// as the `IORING_*` constants, typed: a `zc_flags` argument is an `IoringSendFlags`
/// (e.g. `IoringSendFlags::ZC_REPORT_USAGE`).
pub use rustix::io_uring::{
    io_uring_params, IoringAcceptFlags, IoringAsyncCancelFlags, IoringEnterFlags,
    IoringFeatureFlags, IoringFixedFdFlags, IoringFsyncFlags, IoringMsgringFlags, IoringPollFlags,
    IoringRecvFlags, IoringSendFlags, IoringSetupFlags, IoringSqeFlags, IoringTimeoutFlags,
};

/// Typed flag sets of rustix for the file operations: `openat`'s [`OFlags`] and
/// [`Mode`], the `AT_*` [`AtFlags`] of `statx`/`unlinkat`/`linkat`, [`StatxFlags`] (the
/// `STATX_*` mask), [`RenameFlags`], [`XattrFlags`], [`FallocateFlags`], the `RWF_*`
/// [`ReadWriteFlags`] of `readv2`/`writev2` and the [`PipeFlags`] of `pipe`.
pub use rustix::fs::{AtFlags, FallocateFlags, Mode, OFlags, RenameFlags, StatxFlags, XattrFlags};
pub use rustix::io::ReadWriteFlags;
/// Typed `MSG_*` and `SOCK_*` flag sets of rustix, the `flags` of the send family
/// ([`SendFlags`]), of the receive family ([`RecvFlags`]) and of accept ([`SocketFlags`],
/// `accept4(2)`'s), re-exported so that callers need no second import.
pub use rustix::net::{RecvFlags, SendFlags, SocketFlags};
pub use rustix::pipe::PipeFlags;
/// `IORING_SEND_VECTORIZED` (Linux 6.17) as a typed send flag: `IORING_OP_SEND_ZC` takes an
/// iovec array in `addr`/`len` instead of one buffer. rustix's [`IoringSendFlags`] has no
/// name for it yet; the bit is linux-raw-sys's. Checked in
/// `tests::typed_send_flags_are_the_constants`.
pub const SEND_VECTORIZED: IoringSendFlags =
    IoringSendFlags::from_bits_retain(IORING_SEND_VECTORIZED as u16);
/// `MSG_WAITALL` as a send flag (honoured by io_uring's `IORING_OP_SEND`/`SENDMSG`, Linux
/// 5.19 for streams: the kernel retries a short send until all is sent); rustix's
/// [`SendFlags`] names it only for receives. The bit is linux-raw-sys's. Checked in
/// `tests::typed_send_flags_are_the_constants`.
pub const SEND_WAITALL: SendFlags = SendFlags::from_bits_retain(MSG_WAITALL);
/// Ring and registration ABI of the waits and `register_*` calls added for liburing 2.15
/// parity (minimum waits, iowait control, registered ring fds, synchronous cancellation,
/// the wait clock, buffer cloning), from `linux-raw-sys`.
pub use linux_raw_sys::io_uring::{
    io_uring_clock_register, io_uring_clone_buffers, io_uring_restriction,
    io_uring_sync_cancel_reg, IORING_ENTER_NO_IOWAIT, IORING_ENTER_REGISTERED_RING,
    IORING_FEAT_MIN_TIMEOUT, IORING_FEAT_NO_IOWAIT, IORING_FEAT_REG_REG_RING,
    IORING_REGISTER_DST_REPLACE, IORING_REGISTER_SRC_REGISTERED,
};

/// The signal set of [`WaitArgs::sigmask`](crate::WaitArgs::sigmask), from rustix.
pub use rustix::io_uring::KernelSigSet;

/// Socket message flags the send and receive operations take in `flags` (`MSG_WAITALL`
/// for a stream send that the kernel retries until complete, …), from `linux-raw-sys`.
pub use linux_raw_sys::net::{MSG_DONTWAIT, MSG_MORE, MSG_NOSIGNAL, MSG_TRUNC, MSG_WAITALL};

/// `IOSQE_FIXED_FILE` (Linux 5.1): `fd` is an index into the registered file table.
pub const IOSQE_FIXED_FILE: u8 = 1 << io_uring_sqe_flags_bit::IOSQE_FIXED_FILE_BIT as u8;
/// `IOSQE_IO_DRAIN` (Linux 5.2): start only after every earlier request completed.
pub const IOSQE_IO_DRAIN: u8 = 1 << io_uring_sqe_flags_bit::IOSQE_IO_DRAIN_BIT as u8;
/// `IOSQE_IO_LINK` (Linux 5.3): the next SQE starts only after this one succeeded.
pub const IOSQE_IO_LINK: u8 = 1 << io_uring_sqe_flags_bit::IOSQE_IO_LINK_BIT as u8;
/// `IOSQE_IO_HARDLINK` (Linux 5.5): like `IO_LINK`, but the chain survives a failure.
pub const IOSQE_IO_HARDLINK: u8 = 1 << io_uring_sqe_flags_bit::IOSQE_IO_HARDLINK_BIT as u8;
/// `IOSQE_ASYNC` (Linux 5.6): always go to the async worker, never try inline first.
pub const IOSQE_ASYNC: u8 = 1 << io_uring_sqe_flags_bit::IOSQE_ASYNC_BIT as u8;
/// `IOSQE_BUFFER_SELECT` (Linux 5.7): pick a buffer from the group in `buf_group`.
pub const IOSQE_BUFFER_SELECT: u8 = 1 << io_uring_sqe_flags_bit::IOSQE_BUFFER_SELECT_BIT as u8;
/// `IOSQE_CQE_SKIP_SUCCESS` (Linux 5.17): post no CQE when the request succeeds.
pub const IOSQE_CQE_SKIP_SUCCESS: u8 =
    1 << io_uring_sqe_flags_bit::IOSQE_CQE_SKIP_SUCCESS_BIT as u8;

/// `IORING_SETUP_CQE_MIXED` (Linux 6.18): 16- and 32-byte CQEs in one CQ (a 32-byte one
/// carries `IORING_CQE_F_32`). Not yet in `linux-raw-sys`; defined here, once, for
/// [`IoUring::init`](crate::IoUring::init) to name what it refuses (the ring copies 16-byte
/// CQEs only). Checked in `tests::cqe_mixed_is_the_bit_after_hybrid_iopoll`.
pub const IORING_SETUP_CQE_MIXED: u32 = 1 << 18;

/// `SOCKET_URING_OP_GETSOCKNAME` (Linux 6.19): the socket command of
/// [`IoUring::cmd_getsockname`](crate::IoUring::cmd_getsockname), the one after
/// `SOCKET_URING_OP_TX_TIMESTAMP` (Linux 6.16, the last `linux-raw-sys` knows). Not yet in
/// `linux-raw-sys`; defined here, once. Checked in
/// `tests::getsockname_is_the_socket_op_after_tx_timestamp`.
pub const SOCKET_URING_OP_GETSOCKNAME: u32 =
    linux_raw_sys::io_uring::io_uring_socket_op::SOCKET_URING_OP_TX_TIMESTAMP as u32 + 1;

/// Big entries and zero-copy receive, from `linux-raw-sys`: the NOP flags
/// ([`IORING_NOP_INJECT_RESULT`], Linux 6.12: the NOP completes with the SQE's `len` as
/// its result), the zero-copy receive registration (IORING_REGISTER_ZCRX_IFQ, Linux 6.15)
/// and its structs, and the mapping offset of a region the kernel allocates.
pub use linux_raw_sys::io_uring::{
    io_uring_region_desc, io_uring_zcrx_area_reg, io_uring_zcrx_cqe, io_uring_zcrx_ifq_reg,
    io_uring_zcrx_offsets, io_uring_zcrx_rqe, IORING_NOP_INJECT_RESULT, IORING_NOP_TW,
    IORING_ZCRX_AREA_SHIFT,
};

/// `IORING_SETUP_SQE_MIXED` (Linux 6.19): 64- and 128-byte SQEs in one SQ (a 128-byte one
/// has a 128-byte opcode such as `IORING_OP_NOP128`). Not yet in `linux-raw-sys`; defined
/// here, once, so that [`BigRing`](crate::big::BigRing) can name what it refuses (Linux
/// 6.18 answers it with `EINVAL`). Checked in `tests::big_entry_constants`.
pub const IORING_SETUP_SQE_MIXED: u32 = IORING_SETUP_CQE_MIXED << 1;

/// `IORING_NOP_CQE32` (Linux 6.18): the NOP posts a 32-byte CQE whose `big_cqe` holds the
/// SQE's `off` and `addr` (on a CQE32 or CQE_MIXED ring; elsewhere `-EINVAL`). The flag
/// after `IORING_NOP_TW` (Linux 6.15, the last `linux-raw-sys` knows), defined here once;
/// checked in `tests::big_entry_constants` and against the kernel in `tests/big_ring.rs`.
pub const IORING_NOP_CQE32: u32 = IORING_NOP_TW << 1;

/// `IORING_CQE_F_SKIP` (Linux 6.18): a padding entry of a CQE_MIXED ring, one slot long,
/// that the kernel posts at the end of the array when a 32-byte CQE would not fit before
/// the wrap; it completes nothing. The flag after `IORING_CQE_F_BUF_MORE` (Linux 6.12,
/// the last `linux-raw-sys` knows), defined here once; checked in
/// `tests::big_entry_constants` and by the wrap test of `tests/big_ring.rs`.
pub const IORING_CQE_F_SKIP: u32 = IORING_CQE_F_BUF_MORE << 1;

/// `IORING_CQE_F_32` (Linux 6.18): on a CQE_MIXED ring, a 32-byte CQE (two slots). The
/// highest bit below the buffer id (`IORING_CQE_BUFFER_SHIFT`), defined here once;
/// checked in `tests::big_entry_constants` and against the kernel in `tests/big_ring.rs`.
pub const IORING_CQE_F_32: u32 = 1 << (IORING_CQE_BUFFER_SHIFT - 1);

/// `SOL_UDP`, the level of the UDP socket options and control messages, from
/// `linux-raw-sys`.
pub use linux_raw_sys::net::SOL_UDP;

/// `UDP_SEGMENT` (Linux 4.18, `linux/udp.h`): the UDP option, and control message, that
/// sets the segment size of a UDP GSO send: one `sendmsg` of several datagrams' bytes goes
/// out as datagrams of that size (the last may be shorter). `linux-raw-sys` does not have
/// `linux/udp.h`; defined here, once. Checked against the kernel in `tests/zc_datagram.rs`
/// (the datagrams of a gathered UDP request arrive one by one, each at its own size).
pub const UDP_SEGMENT: u32 = 103;

/// An opcode as the SQE's `opcode` byte.
#[inline]
pub const fn op(op: io_uring_op) -> u8 {
    op as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed send flags are the same bits as the constants (a `zc_flags` argument is
    /// the `u16` of `IoringSendFlags`).
    #[test]
    fn typed_send_flags_are_the_constants() {
        assert_eq!(
            u32::from(IoringSendFlags::ZC_REPORT_USAGE.bits()),
            IORING_SEND_ZC_REPORT_USAGE
        );
        assert_eq!(
            u32::from(IoringSendFlags::POLL_FIRST.bits()),
            IORING_RECVSEND_POLL_FIRST
        );
        assert_eq!(
            u32::from(IoringSendFlags::FIXED_BUF.bits()),
            IORING_RECVSEND_FIXED_BUF
        );
        assert_eq!(u32::from(SEND_VECTORIZED.bits()), IORING_SEND_VECTORIZED);
        assert_eq!(SEND_WAITALL.bits(), MSG_WAITALL);
        assert_eq!(RecvFlags::WAITALL.bits(), MSG_WAITALL);
        assert_eq!(SendFlags::NOSIGNAL.bits(), MSG_NOSIGNAL);
    }

    #[test]
    fn sqe_flag_masks_match_the_kernel_bits() {
        // The bit positions are the kernel's; these are the values liburing and Zig spell
        // out by hand, checked here rather than copied.
        assert_eq!(IOSQE_FIXED_FILE, 1);
        assert_eq!(IOSQE_IO_DRAIN, 2);
        assert_eq!(IOSQE_IO_LINK, 4);
        assert_eq!(IOSQE_IO_HARDLINK, 8);
        assert_eq!(IOSQE_ASYNC, 16);
        assert_eq!(IOSQE_BUFFER_SELECT, 32);
        assert_eq!(IOSQE_CQE_SKIP_SUCCESS, 64);
        // And they agree with rustix's typed flags built from the same headers.
        use rustix::io_uring::IoringSqeFlags as F;
        assert_eq!(F::FIXED_FILE.bits(), IOSQE_FIXED_FILE);
        assert_eq!(F::IO_DRAIN.bits(), IOSQE_IO_DRAIN);
        assert_eq!(F::IO_LINK.bits(), IOSQE_IO_LINK);
        assert_eq!(F::IO_HARDLINK.bits(), IOSQE_IO_HARDLINK);
        assert_eq!(F::ASYNC.bits(), IOSQE_ASYNC);
        assert_eq!(F::BUFFER_SELECT.bits(), IOSQE_BUFFER_SELECT);
        assert_eq!(F::CQE_SKIP_SUCCESS.bits(), IOSQE_CQE_SKIP_SUCCESS);
    }

    /// The kernel's `(1U << 18)`, the bit after HYBRID_IOPOLL (Linux 6.13, the highest
    /// flag `linux-raw-sys` knows). On a kernel that has it, `io_uring_setup` accepts it
    /// (an unknown bit is `EINVAL`), which shows the number is the kernel's.
    #[test]
    fn cqe_mixed_is_the_bit_after_hybrid_iopoll() {
        assert_eq!(
            IORING_SETUP_CQE_MIXED,
            linux_raw_sys::io_uring::IORING_SETUP_HYBRID_IOPOLL << 1
        );
        let mut params = io_uring_params::default();
        params.flags = IoringSetupFlags::from_bits_retain(IORING_SETUP_CQE_MIXED);
        // SAFETY: a valid, exclusively borrowed io_uring_params; the fd is dropped at once.
        match unsafe { rustix::io_uring::io_uring_setup(2, &mut params) } {
            Ok(fd) => drop(fd),
            // Older than 6.18: unknown there.
            Err(e) => assert_eq!(e, rustix::io::Errno::INVAL),
        }
    }

    /// liburing 2.15's `enum io_uring_socket_op` lists it right after TX_TIMESTAMP; the
    /// kernel test (`tests/more_ops.rs`) checks that 6.19 answers it with the socket's
    /// address and older kernels with `EOPNOTSUPP`.
    #[test]
    fn getsockname_is_the_socket_op_after_tx_timestamp() {
        assert_eq!(SOCKET_URING_OP_GETSOCKNAME, 5);
    }

    /// The big-entry constants liburing 2.15's header spells `(1U << 19)`, `(1U << 5)`,
    /// `(1U << 5)` and `(1U << 15)`, derived here from their neighbours; the live kernel
    /// tests (`tests/big_ring.rs`) check that 6.18 posts and honours them.
    #[test]
    fn big_entry_constants() {
        assert_eq!(IORING_SETUP_SQE_MIXED, 1 << 19);
        assert_eq!(IORING_NOP_CQE32, 1 << 5);
        assert_eq!(IORING_CQE_F_SKIP, 1 << 5);
        assert_eq!(IORING_CQE_F_32, 1 << 15);
        // None collides with a flag the binding knows.
        for known in [
            IORING_CQE_F_BUFFER,
            IORING_CQE_F_MORE,
            IORING_CQE_F_SOCK_NONEMPTY,
            IORING_CQE_F_NOTIF,
            IORING_CQE_F_BUF_MORE,
        ] {
            assert_eq!(known & (IORING_CQE_F_SKIP | IORING_CQE_F_32), 0);
        }
    }

    #[test]
    fn opcode_byte_is_the_kernel_value() {
        assert_eq!(op(io_uring_op::IORING_OP_NOP), 0);
        assert_eq!(
            op(io_uring_op::IORING_OP_SEND_ZC),
            rustix::io_uring::IoringOp::SendZc as u8
        );
        assert_eq!(
            op(io_uring_op::IORING_OP_SENDMSG_ZC),
            rustix::io_uring::IoringOp::SendmsgZc as u8
        );
    }
}
