//! Kernel structures that operations take as arguments, re-exported from `linux-raw-sys`
//! under clear names, and the few typed values built from the kernel's constants.
//!
//! Nothing here is hand-copied: every type is the generated binding of the kernel's UAPI
//! header, and every constant is derived from one.

use core::time::Duration;

/// `struct __kernel_timespec`: the 64-bit timespec of `timeout`, `link_timeout` and
/// `timeout_update` (the timeout clock is `CLOCK_MONOTONIC` unless flags say otherwise).
/// Build one from a [`Duration`] with [`timespec`].
pub type Timespec = linux_raw_sys::general::__kernel_timespec;

/// `struct statx`, filled by [`IoUring::statx`](crate::IoUring::statx).
pub type Statx = linux_raw_sys::general::statx;

/// `struct epoll_event` (packed on x86-64, as the kernel has it), for `epoll_ctl` and
/// `epoll_wait`.
pub type EpollEvent = linux_raw_sys::general::epoll_event;

/// `siginfo_t`, filled by [`IoUring::waitid`](crate::IoUring::waitid).
pub type SigInfo = linux_raw_sys::general::siginfo_t;

/// `struct open_how`, the argument of `openat2(2)`.
pub type OpenHow = linux_raw_sys::general::open_how;

/// The kernel's `struct msghdr` (user-space layout), generated in `linux_raw_sys::net`;
/// ABI-identical to `libc::msghdr`. Its `msg_iov` points to `iovec`s (a
/// [`std::io::IoSlice`] array can be cast to it: `IoSlice` is ABI-compatible with `iovec`).
pub type MsgHdr = linux_raw_sys::net::msghdr;

/// The kernel's generic `struct sockaddr` (room for any family), as operations take it by
/// pointer. [`SockAddr`](crate::SockAddr) wraps one with its length.
pub type RawSockAddr = linux_raw_sys::net::sockaddr;

/// `socklen_t`.
pub type SockLen = u32;

/// `struct io_uring_recvmsg_out` (Linux 6.0): the header the kernel writes at the start of
/// each provided buffer filled by a multishot `recvmsg`, followed by the name, the control
/// data and the payload.
pub type RecvmsgOut = linux_raw_sys::io_uring::io_uring_recvmsg_out;

/// `enum io_uring_socket_op`: the `cmd_op` of [`IoUring::cmd_sock`](crate::IoUring::cmd_sock)
/// (`SOCKET_URING_OP_SIOCINQ`, `_SIOCOUTQ` (Linux 6.7), `_GETSOCKOPT`, `_SETSOCKOPT`
/// (Linux 6.7), `_TX_TIMESTAMP` (Linux 6.16)).
pub use linux_raw_sys::io_uring::io_uring_socket_op as SocketOp;

/// `struct futex_waitv` (Linux 5.16; in io_uring Linux 6.7): one futex of a
/// [`futex_waitv`](crate::IoUring::futex_waitv): `val` (the value expected), `uaddr` (the
/// futex word's address), `flags` (`FUTEX2_*`: a size such as `FUTEX2_SIZE_U32`, optionally
/// `FUTEX2_PRIVATE`), `__reserved` (0).
pub type FutexWaitv = linux_raw_sys::general::futex_waitv;

/// `IORING_FILE_INDEX_ALLOC` as the `u32` that the `file_index` parameters take: let the
/// kernel pick a free slot of the registered file table and return it in the CQE's `res`
/// (Linux 5.19). The binding spells it as the `i32` `-1`.
pub const FILE_INDEX_ALLOC: u32 = linux_raw_sys::io_uring::IORING_FILE_INDEX_ALLOC as u32;

/// The `idtype_t` of `waitid(2)`: which processes `id` names.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IdType {
    /// `P_ALL`: any child; `id` is ignored.
    All = linux_raw_sys::general::P_ALL,
    /// `P_PID`: the child whose process id is `id`.
    Pid = linux_raw_sys::general::P_PID,
    /// `P_PGID`: any child in process group `id` (0: the caller's group).
    Pgid = linux_raw_sys::general::P_PGID,
    /// `P_PIDFD` (Linux 5.4): the child referred to by the pidfd `id`.
    PidFd = linux_raw_sys::general::P_PIDFD,
}

/// A [`Timespec`] for `duration` (seconds saturate at `i64::MAX`).
pub fn timespec(duration: Duration) -> Timespec {
    Timespec {
        tv_sec: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(duration.subsec_nanos()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    #[test]
    fn kernel_struct_sizes() {
        // The sizes the kernel's UAPI fixes for 64-bit targets.
        #[cfg(target_pointer_width = "64")]
        {
            assert_eq!(size_of::<Timespec>(), 16);
            assert_eq!(size_of::<MsgHdr>(), 56);
            assert_eq!(size_of::<SigInfo>(), 128);
        }
        assert_eq!(size_of::<Statx>(), 256);
        assert_eq!(size_of::<OpenHow>(), 24);
        assert_eq!(size_of::<RecvmsgOut>(), 16);
        assert_eq!(size_of::<FutexWaitv>(), 24);
        assert_eq!(FILE_INDEX_ALLOC, u32::MAX);
    }

    #[test]
    fn timespec_from_duration() {
        let ts = timespec(Duration::new(3, 7));
        assert_eq!((ts.tv_sec, ts.tv_nsec), (3, 7));
        assert_eq!(timespec(Duration::MAX).tv_sec, i64::MAX);
    }

    #[test]
    fn id_type_values_are_the_kernels() {
        assert_eq!(IdType::All as u32, 0);
        assert_eq!(IdType::Pid as u32, 1);
        assert_eq!(IdType::Pgid as u32, 2);
        assert_eq!(IdType::PidFd as u32, 3);
    }
}
