//! The completion queue entry.

use rustix::io::Errno;

use crate::sys;

/// A completion queue entry: `struct io_uring_cqe` (16 bytes).
///
/// The raw fields are public, so that a whole CQE can be compared in a test; the typed
/// views are [`result`](Cqe::result), [`flags`](Cqe::flags) and the helpers below.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cqe {
    /// The `user_data` of the request this completes.
    pub user_data: u64,
    /// The result: a non-negative value on success, `-errno` on failure.
    pub res: i32,
    /// `IORING_CQE_F_*` flags, and the buffer id in the upper 16 bits with `F_BUFFER`.
    pub flags: u32,
}

bitflags::bitflags! {
    /// The `IORING_CQE_F_*` flags of a completion. Unknown bits are kept.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct CqeFlags: u32 {
        /// `IORING_CQE_F_BUFFER` (5.7): the upper 16 bits hold the selected buffer id.
        const BUFFER = sys::IORING_CQE_F_BUFFER;
        /// `IORING_CQE_F_MORE` (5.13): more completions will follow for this request
        /// (multishot, or the notification of a zero-copy send).
        const MORE = sys::IORING_CQE_F_MORE;
        /// `IORING_CQE_F_SOCK_NONEMPTY` (5.19): the socket had more data after this receive.
        const SOCK_NONEMPTY = sys::IORING_CQE_F_SOCK_NONEMPTY;
        /// `IORING_CQE_F_NOTIF` (6.0): a zero-copy notification: the kernel let go of
        /// the buffer.
        const NOTIF = sys::IORING_CQE_F_NOTIF;
        /// `IORING_CQE_F_BUF_MORE` (6.12): an incrementally consumed buffer is not done.
        const BUF_MORE = sys::IORING_CQE_F_BUF_MORE;
        const _ = !0;
    }
}

impl Cqe {
    /// The result as `Ok(value)` or `Err(errno)`.
    #[inline]
    pub fn result(&self) -> Result<u32, Errno> {
        if self.res >= 0 {
            Ok(self.res as u32)
        } else {
            Err(Errno::from_raw_os_error(self.res.wrapping_neg()))
        }
    }

    /// The errno of a failed request, `None` on success (Zig's `cqe.err()`).
    #[inline]
    pub fn err(&self) -> Option<Errno> {
        self.result().err()
    }

    /// Takes ownership of the descriptor a descriptor-creating request returned in `res`
    /// (`fixed_fd_install`, `openat`, `open`, `socket`, `accept`, …): `Ok(fd)`, or the
    /// request's errno. Closing the `OwnedFd` closes it.
    ///
    /// # Safety
    ///
    /// This must be the completion of such a request (not direct: a direct variant returns
    /// a slot, not a descriptor), and ownership of its descriptor must not have been taken
    /// before (call this once per completion): a `Cqe` is plain data that anyone can
    /// build, so its `res` proves nothing by itself.
    #[inline]
    pub unsafe fn into_owned_fd(self) -> Result<std::os::fd::OwnedFd, Errno> {
        let fd = self.result()? as std::os::fd::RawFd;
        // SAFETY: by the caller's contract, `fd` is a descriptor the kernel opened for this
        // request and nobody else owns; `result` made it non-negative.
        Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
    }

    /// The typed flags.
    #[inline]
    pub fn flags(&self) -> CqeFlags {
        CqeFlags::from_bits_retain(self.flags)
    }

    /// `IORING_CQE_F_MORE`: another completion with this user_data will follow.
    #[inline]
    pub fn more(&self) -> bool {
        self.flags & sys::IORING_CQE_F_MORE != 0
    }

    /// `IORING_CQE_F_NOTIF`: the notification of a zero-copy send.
    #[inline]
    pub fn notif(&self) -> bool {
        self.flags & sys::IORING_CQE_F_NOTIF != 0
    }

    /// `IORING_CQE_F_SOCK_NONEMPTY`: the socket still had data after this receive.
    #[inline]
    pub fn sock_nonempty(&self) -> bool {
        self.flags & sys::IORING_CQE_F_SOCK_NONEMPTY != 0
    }

    /// The id of the provided buffer the kernel picked, when `IORING_CQE_F_BUFFER` is set
    /// (Zig's `buffer_id`, liburing's `cqe->flags >> IORING_CQE_BUFFER_SHIFT`).
    #[inline]
    pub fn buffer_id(&self) -> Option<u16> {
        if self.flags & sys::IORING_CQE_F_BUFFER != 0 {
            Some((self.flags >> sys::IORING_CQE_BUFFER_SHIFT) as u16)
        } else {
            None
        }
    }

    /// For a zero-copy notification sent with `IORING_SEND_ZC_REPORT_USAGE`: true when the
    /// kernel copied the data instead of pinning the pages (`IORING_NOTIF_USAGE_ZC_COPIED`
    /// in `res`, Linux 6.2). False for any other completion.
    #[inline]
    pub fn zc_copied(&self) -> bool {
        self.notif() && (self.res as u32) & sys::IORING_NOTIF_USAGE_ZC_COPIED != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_splits_errno() {
        let ok = Cqe {
            user_data: 1,
            res: 42,
            flags: 0,
        };
        assert_eq!(ok.result(), Ok(42));
        assert_eq!(ok.err(), None);
        let bad = Cqe {
            user_data: 1,
            res: -(Errno::PIPE.raw_os_error()),
            flags: 0,
        };
        assert_eq!(bad.result(), Err(Errno::PIPE));
        assert_eq!(bad.err(), Some(Errno::PIPE));
    }

    #[test]
    fn flags_are_typed() {
        let c = Cqe {
            user_data: 0,
            res: 0,
            flags: sys::IORING_CQE_F_NOTIF,
        };
        assert!(c.notif() && !c.more());
        assert_eq!(c.flags(), CqeFlags::NOTIF);
        let b = Cqe {
            user_data: 0,
            res: 10,
            flags: sys::IORING_CQE_F_BUFFER | (7 << sys::IORING_CQE_BUFFER_SHIFT),
        };
        assert_eq!(b.buffer_id(), Some(7));
        assert!(b.flags().contains(CqeFlags::BUFFER));
        assert_eq!(Cqe::default().buffer_id(), None);
        let copied = Cqe {
            user_data: 0,
            res: sys::IORING_NOTIF_USAGE_ZC_COPIED as i32,
            flags: sys::IORING_CQE_F_NOTIF,
        };
        assert!(copied.zc_copied());
        // Unknown bits are kept, not dropped.
        assert_eq!(CqeFlags::from_bits_retain(1 << 30).bits(), 1 << 30);
    }
}

#[cfg(test)]
mod layout {
    use super::Cqe;
    use core::mem::{offset_of, size_of};
    use linux_raw_sys::io_uring::io_uring_cqe as K;

    #[test]
    fn layout_matches_the_kernel() {
        assert_eq!(size_of::<Cqe>(), 16);
        assert_eq!(offset_of!(Cqe, user_data), offset_of!(K, user_data));
        assert_eq!(offset_of!(Cqe, res), offset_of!(K, res));
        assert_eq!(offset_of!(Cqe, flags), offset_of!(K, flags));
        assert_eq!(size_of::<K>(), 16);
    }
}
