//! Typed errors of ring setup, `io_uring_enter` and `io_uring_register`.
//!
//! Every errno these system calls document maps to a named variant, with the situation that
//! produces it in its doc comment (the same names as Zig's `IoUring` where Zig has one).
//! Anything else is kept, not lost, in an `Unexpected` variant. Every error converts into
//! [`std::io::Error`] with the original errno, so `?` works in functions returning
//! `io::Result`.

use core::fmt;
use rustix::io::Errno;

macro_rules! errno_error {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $errno:ident, $msg:literal; )*
        }
        extra { $( $(#[$xmeta:meta])* $xvariant:ident $( ( $xty:ty ) )? => $xmsg:literal; )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            $( $(#[$xmeta])* $xvariant $( ( $xty ) )?, )*
            /// An errno this call does not document; kept so that nothing is lost.
            Unexpected(Errno),
        }

        impl $name {
            /// Maps an errno returned by the system call to its named variant.
            pub fn from_errno(errno: Errno) -> Self {
                $( if errno == Errno::$errno { return Self::$variant; } )*
                Self::Unexpected(errno)
            }

            /// The errno behind this error, when it came from the kernel.
            pub fn errno(&self) -> Option<Errno> {
                match *self {
                    $( Self::$variant => Some(Errno::$errno), )*
                    Self::Unexpected(e) => Some(e),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Self::$variant => f.write_str($msg), )*
                    $( errno_error!(@pat $xvariant $( $xty )?) => f.write_str($xmsg), )*
                    Self::Unexpected(e) => write!(f, "unexpected errno: {e}"),
                }
            }
        }

        impl std::error::Error for $name {}

        impl From<$name> for std::io::Error {
            fn from(e: $name) -> Self {
                match e.errno() {
                    Some(errno) => std::io::Error::from_raw_os_error(errno.raw_os_error()),
                    None => std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
                }
            }
        }
    };
    (@pat $v:ident $ty:ty) => { Self::$v(_) };
    (@pat $v:ident) => { Self::$v };
}

errno_error! {
    /// Why [`IoUring::init`](crate::IoUring::init) or
    /// [`init_params`](crate::IoUring::init_params) failed.
    pub enum SetupError {
        /// `EFAULT`: the params structure is outside the accessible address space.
        ParamsOutsideAccessibleAddressSpace = FAULT, "io_uring params outside the accessible address space";
        /// `EINVAL`: the arguments are invalid: entries out of range, an unknown or
        /// incompatible flag (DEFER_TASKRUN without SINGLE_ISSUER, say), a bad `wq_fd`.
        ArgumentsInvalid = INVAL, "io_uring_setup: invalid arguments (entries, flags or params)";
        /// `EMFILE`: the per-process limit on open file descriptors has been reached.
        ProcessFdQuotaExceeded = MFILE, "process file descriptor quota exceeded";
        /// `ENFILE`: the system-wide limit on open files has been reached.
        SystemFdQuotaExceeded = NFILE, "system file descriptor quota exceeded";
        /// `ENOMEM`: not enough kernel memory, or the locked-memory limit (RLIMIT_MEMLOCK
        /// before Linux 5.12) does not allow the rings.
        SystemResources = NOMEM, "insufficient kernel resources for the ring";
        /// `EPERM`: io_uring is disabled (`kernel.io_uring_disabled`), or SQPOLL was asked
        /// for without the privilege it needs on this kernel.
        PermissionDenied = PERM, "permission denied: io_uring disabled or privileged flag";
        /// `ENOSYS`: the kernel has no io_uring (older than 5.1, or compiled out).
        SystemOutdated = NOSYS, "the kernel does not support io_uring";
        /// `ENXIO`: IORING_SETUP_ATTACH_WQ named a `wq_fd` that is not open (an open fd
        /// that is not a ring is `ArgumentsInvalid`).
        WqFdNotOpen = NXIO, "io_uring_setup: ATTACH_WQ names an fd that is not open";
    }
    extra {
        /// `entries` was zero (checked before any system call).
        EntriesZero => "io_uring entries must not be zero";
        /// `entries` was not a power of two (checked before any system call).
        EntriesNotPowerOfTwo => "io_uring entries must be a power of two";
        /// A params field that the kernel writes (sq_entries, features, offsets, resv) was
        /// not zero, or cq_entries was set without IORING_SETUP_CQSIZE.
        ParamsInvalid => "io_uring params: output fields must be zero on input";
        /// Setup flags this ring type does not drive (the value holds them), checked
        /// against an allow-list before any system call: for [`IoUring`](crate::IoUring),
        /// SQE128, CQE32 and CQE_MIXED (use [`BigRing`](crate::big::BigRing)); for both,
        /// SQE_MIXED (not in Linux 6.18), SQ_REWIND, NO_MMAP, REGISTERED_FD_ONLY (their
        /// SQE layout, queue indexing or mapping is not ours), and any bit unknown to this
        /// crate.
        UnsupportedFlags(u32) => "io_uring setup flag not supported by this crate";
        /// The kernel lacks a feature the ring relies on (IORING_FEAT_SINGLE_MMAP, 5.4, or
        /// IORING_FEAT_NODROP, 5.5).
        MissingFeatures(u32) => "the kernel lacks io_uring features this crate requires";
        /// Mapping a ring into memory failed with this errno.
        Mmap(Errno) => "mapping the io_uring rings failed";
    }
}

errno_error! {
    /// Why `io_uring_enter` (behind [`submit`](crate::IoUring::submit),
    /// [`copy_cqes`](crate::IoUring::copy_cqes), …) failed.
    pub enum EnterError {
        /// `EAGAIN`: the kernel could not allocate memory for the request; try again after
        /// reaping completions.
        SystemResources = AGAIN, "io_uring_enter: kernel resources temporarily exhausted";
        /// `EBADF`: the ring's fd is invalid, or an SQE named an invalid fd under
        /// IOSQE_FIXED_FILE with no registered files.
        FileDescriptorInvalid = BADF, "io_uring_enter: invalid file descriptor";
        /// `EBADFD`: the ring is in a bad state (disabled with IORING_SETUP_R_DISABLED).
        FileDescriptorInBadState = BADFD, "io_uring_enter: ring in bad state (disabled?)";
        /// `EBUSY`: the CQ ring is overcommitted (overflow without NODROP, or too many
        /// requests in flight); reap completions and retry.
        CompletionQueueOvercommitted = BUSY, "io_uring_enter: completion queue overcommitted";
        /// `EINVAL`: an SQE is invalid (bad index, reserved fields set, unknown flag),
        /// or GETEVENTS was asked of an SQPOLL ring wrongly.
        SubmissionQueueEntryInvalid = INVAL, "io_uring_enter: invalid submission queue entry";
        /// `EFAULT`: a buffer in an SQE is outside the accessible address space.
        BufferInvalid = FAULT, "io_uring_enter: buffer outside accessible address space";
        /// `ENXIO`: the ring is shutting down.
        RingShuttingDown = NXIO, "io_uring_enter: ring is shutting down";
        /// `EOPNOTSUPP`: the fd is not an io_uring, or the opcode is valid but not
        /// supported by this kernel.
        OpcodeNotSupported = OPNOTSUPP, "io_uring_enter: operation not supported";
        /// `EINTR`: a signal arrived before any completion: nothing was lost, call again.
        SignalInterrupt = INTR, "io_uring_enter: interrupted by a signal";
        /// `ETIME`: a wait with a timeout ended before enough completions arrived (from
        /// [`enter`](crate::IoUring::enter); `submit_and_wait_timeout` reports a timeout
        /// as [`SubmitWait::timed_out`](crate::SubmitWait::timed_out) instead).
        Timeout = TIME, "io_uring_enter: timed out waiting for completions";
        /// `EEXIST`: a SINGLE_ISSUER or DEFER_TASKRUN ring was entered from another task.
        NotSubmitterTask = EXIST, "io_uring_enter: ring used from a task other than its issuer";
    }
    extra {
        /// `IORING_ENTER_EXT_ARG` flags passed to [`enter`](crate::IoUring::enter): use
        /// [`submit_and_wait_timeout`](crate::IoUring::submit_and_wait_timeout) instead.
        ExtArgNotAllowed => "io_uring_enter: EXT_ARG flags need the timeout entry points";
        /// `IORING_ENTER_REGISTERED_RING` passed to [`enter`](crate::IoUring::enter): the
        /// ring adds it itself, on the thread that called
        /// [`register_ring_fd`](crate::IoUring::register_ring_fd).
        RegisteredRingNotAllowed => "io_uring_enter: REGISTERED_RING is the ring's to set";
        /// A nonzero minimum wait on a kernel without IORING_FEAT_MIN_TIMEOUT (before
        /// Linux 6.12), checked before any system call.
        MinTimeoutNotSupported => "io_uring_enter: the kernel has no minimum wait (IORING_FEAT_MIN_TIMEOUT)";
        /// The ring lost its queues: a [`resize_rings`](crate::IoUring::resize_rings)
        /// could not map the new ones ([`RegisterError::RemapFailed`]).
        RingUnmapped => "io_uring_enter: the ring's resized queues are not mapped";
    }
}

errno_error! {
    /// Why an `io_uring_register` operation failed.
    pub enum RegisterError {
        /// `EBADF`: a file descriptor in the set (or the ring's) is invalid.
        FileDescriptorInvalid = BADF, "io_uring_register: invalid file descriptor";
        /// `EBUSY`: already registered (files, buffers, eventfd) or busy; unregister first.
        AlreadyRegistered = BUSY, "io_uring_register: already registered";
        /// `EINVAL`: invalid arguments: an empty set, too many entries, a bad buffer
        /// (e.g. file-backed memory), a bad flag or a reserved field.
        ArgumentsInvalid = INVAL, "io_uring_register: invalid arguments";
        /// `EMFILE`: the per-process file limit is too low for the table.
        UserFdQuotaExceeded = MFILE, "io_uring_register: process file descriptor quota exceeded";
        /// `ENFILE`: the system-wide limit on open files has been reached.
        SystemFdQuotaExceeded = NFILE, "io_uring_register: system file quota exceeded";
        /// `ENOMEM`: not enough kernel memory, or RLIMIT_MEMLOCK too small to pin buffers.
        SystemResources = NOMEM, "io_uring_register: insufficient kernel memory";
        /// `ENXIO`: nothing registered to update or unregister, or the ring is closing.
        NotRegistered = NXIO, "io_uring_register: nothing registered (or ring shutting down)";
        /// `EFAULT`: an argument points outside the accessible address space, or a buffer
        /// to register is empty or larger than 1 GiB (the kernel's limit).
        BufferInvalid = FAULT, "io_uring_register: argument outside accessible address space";
        /// `EOPNOTSUPP`: the kernel does not support this registration (or the file type).
        NotSupported = OPNOTSUPP, "io_uring_register: not supported";
        /// `EOVERFLOW`: an offset or length overflows.
        Overflow = OVERFLOW, "io_uring_register: value overflow";
        /// `EPERM`: not permitted.
        PermissionDenied = PERM, "io_uring_register: permission denied";
        /// `EEXIST`: the buffer group or id exists already.
        AlreadyExists = EXIST, "io_uring_register: already exists";
        /// `ENOENT`: no such buffer group, id, or NAPI entry.
        NotFound = NOENT, "io_uring_register: not found";
        /// `EINTR`: interrupted by a signal; nothing was registered.
        SignalInterrupt = INTR, "io_uring_register: interrupted by a signal";
        /// `EBADFD`: the ring is not in the state the call needs (e.g. `enable_rings` on a
        /// ring that is not disabled).
        FileDescriptorInBadState = BADFD, "io_uring_register: ring in the wrong state";
        /// `ETIME`: a synchronous cancellation's timeout expired before the matching
        /// requests were cancelled.
        TimedOut = TIME, "io_uring_register: timed out";
        /// `EACCES`: the ring's restrictions
        /// ([`register_restrictions`](crate::IoUring::register_restrictions)) do not allow
        /// this register opcode.
        Restricted = ACCESS, "io_uring_register: not allowed by the ring's restrictions";
    }
    extra {
        /// An empty set was given (checked before any system call): nothing to register.
        Empty => "io_uring_register: empty set";
        /// More entries than the register call can express (checked before any system
        /// call: counts are u32, buffer lengths must fit the kernel's limits).
        TooMany => "io_uring_register: too many entries";
        /// The ring's fd is registered in another thread's registered-ring table (checked
        /// before any system call): only that thread can unregister it, since the kernel
        /// keeps the table per thread.
        RegisteredOnOtherThread => "io_uring_register: ring fd registered by another thread";
        /// The ring's registered tables belong to its safe layer (a
        /// [`Driver`](crate::zc::Driver)'s ring; checked before any system call).
        OwnedBySafeLayer => "io_uring_register: the ring belongs to its safe layer";
        /// [`resize_rings`](crate::IoUring::resize_rings): the kernel resized the rings,
        /// but mapping the new ones failed with this errno. The ring cannot submit or
        /// wait any more (its enters answer [`EnterError::RingUnmapped`]); drop it.
        RemapFailed(Errno) => "io_uring_register: resized rings could not be mapped";
        /// [`resize_rings`](crate::IoUring::resize_rings) on a ring with an SQ array
        /// (set up without IORING_SETUP_NO_SQARRAY), checked before any system call: the
        /// kernel does not say where the new array lies.
        ResizeNeedsNoSqArray => "io_uring_register: resizing needs a ring set up with NO_SQARRAY";
    }
}

/// The submission queue has no free entry: submit what is queued, then try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubmissionQueueFull;

impl fmt::Display for SubmissionQueueFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("io_uring submission queue is full")
    }
}

impl std::error::Error for SubmissionQueueFull {}

impl From<SubmissionQueueFull> for std::io::Error {
    fn from(e: SubmissionQueueFull) -> Self {
        std::io::Error::new(std::io::ErrorKind::WouldBlock, e)
    }
}

/// Why an operation method could not queue its SQE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SqeError {
    /// The submission queue has no free entry: submit what is queued, then try again.
    SubmissionQueueFull,
    /// The user_data lies in the namespace the ring reserves for its safe layer (a
    /// [`Driver`](crate::zc::Driver) owns this ring): no request of the caller may carry
    /// it, so that no completion of the caller's can pass for one of the driver's.
    ReservedUserData(u64),
    /// The ring's registered-file table belongs to its safe layer (a
    /// [`Driver`](crate::zc::Driver) keeps its sockets there): operations that install
    /// into, or close, a slot of it are refused, so that no request of the driver's can be
    /// made to act on another file.
    ReservedFileTable,
    /// These `IORING_RECVSEND_*` / `IORING_SEND_*` flags (the `u16` of
    /// [`IoringSendFlags`](crate::sys::IoringSendFlags)) cannot be given here: they name
    /// something (`FIXED_BUF`, `BUNDLE`, `VECTORIZED`: the method that queues the request
    /// sets them), or the opcode does not take them (`ZC_REPORT_USAGE` on a copying send).
    SendFlags(u16),
}

impl fmt::Display for SqeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SqeError::SubmissionQueueFull => SubmissionQueueFull.fmt(f),
            SqeError::ReservedUserData(ud) => write!(
                f,
                "user_data {ud:#x} is reserved for the safe layer that owns this ring"
            ),
            SqeError::ReservedFileTable => f.write_str(
                "the registered-file table of this ring belongs to the safe layer that owns it",
            ),
            SqeError::SendFlags(bits) => write!(
                f,
                "send flags {bits:#x} name a resource or do not apply to this opcode: not settable here"
            ),
        }
    }
}

impl std::error::Error for SqeError {}

impl From<SubmissionQueueFull> for SqeError {
    fn from(_: SubmissionQueueFull) -> Self {
        SqeError::SubmissionQueueFull
    }
}

impl PartialEq<SubmissionQueueFull> for SqeError {
    fn eq(&self, _: &SubmissionQueueFull) -> bool {
        *self == SqeError::SubmissionQueueFull
    }
}

impl From<SqeError> for std::io::Error {
    fn from(e: SqeError) -> Self {
        match e {
            SqeError::SubmissionQueueFull => SubmissionQueueFull.into(),
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other),
        }
    }
}

/// `IOSQE_*` bits that [`SqeRef::add_flags`](crate::SqeRef::add_flags) and
/// [`set_flags`](crate::SqeRef::set_flags) refuse (the value holds them): they make the SQE
/// name something (`IOSQE_FIXED_FILE`, `IOSQE_BUFFER_SELECT`) or are unknown to this
/// crate. [`add_flags_unchecked`](crate::SqeRef::add_flags_unchecked) sets them, `unsafe`ly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqeFlagsError(pub u8);

impl fmt::Display for SqeFlagsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IOSQE flags {:#x} name a resource (fixed file, buffer group) or are unknown: not settable safely",
            self.0
        )
    }
}

impl std::error::Error for SqeFlagsError {}

impl From<SqeFlagsError> for std::io::Error {
    fn from(e: SqeFlagsError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// Any error of this crate's ring layer, for callers that want one type with `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Ring setup failed.
    Setup(SetupError),
    /// `io_uring_enter` failed.
    Enter(EnterError),
    /// `io_uring_register` failed.
    Register(RegisterError),
    /// No free submission queue entry.
    SubmissionQueueFull,
    /// A user_data reserved for the ring's safe layer ([`SqeError::ReservedUserData`]).
    ReservedUserData(u64),
    /// The ring's file table is its safe layer's ([`SqeError::ReservedFileTable`]).
    ReservedFileTable,
    /// Send flags not settable there ([`SqeError::SendFlags`]).
    SendFlags(u16),
    /// Setting up a provided-buffer ring or group failed.
    BufRing(BufRingError),
    /// A provided buffer could not be looked up or returned.
    Buffer(SelectedBufferError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Setup(e) => e.fmt(f),
            Error::Enter(e) => e.fmt(f),
            Error::Register(e) => e.fmt(f),
            Error::SubmissionQueueFull => SubmissionQueueFull.fmt(f),
            Error::ReservedUserData(ud) => SqeError::ReservedUserData(*ud).fmt(f),
            Error::ReservedFileTable => SqeError::ReservedFileTable.fmt(f),
            Error::SendFlags(bits) => SqeError::SendFlags(*bits).fmt(f),
            Error::BufRing(e) => e.fmt(f),
            Error::Buffer(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Setup(e) => Some(e),
            Error::Enter(e) => Some(e),
            Error::Register(e) => Some(e),
            Error::SubmissionQueueFull
            | Error::ReservedUserData(_)
            | Error::ReservedFileTable
            | Error::SendFlags(_) => None,
            Error::BufRing(e) => Some(e),
            Error::Buffer(e) => Some(e),
        }
    }
}

impl From<SetupError> for Error {
    fn from(e: SetupError) -> Self {
        Error::Setup(e)
    }
}
impl From<EnterError> for Error {
    fn from(e: EnterError) -> Self {
        Error::Enter(e)
    }
}
impl From<RegisterError> for Error {
    fn from(e: RegisterError) -> Self {
        Error::Register(e)
    }
}
impl From<SubmissionQueueFull> for Error {
    fn from(_: SubmissionQueueFull) -> Self {
        Error::SubmissionQueueFull
    }
}
impl From<SqeError> for Error {
    fn from(e: SqeError) -> Self {
        match e {
            SqeError::SubmissionQueueFull => Error::SubmissionQueueFull,
            SqeError::ReservedUserData(ud) => Error::ReservedUserData(ud),
            SqeError::ReservedFileTable => Error::ReservedFileTable,
            SqeError::SendFlags(bits) => Error::SendFlags(bits),
        }
    }
}
impl From<BufRingError> for Error {
    fn from(e: BufRingError) -> Self {
        Error::BufRing(e)
    }
}
impl From<SelectedBufferError> for Error {
    fn from(e: SelectedBufferError) -> Self {
        Error::Buffer(e)
    }
}
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Setup(e) => e.into(),
            Error::Enter(e) => e.into(),
            Error::Register(e) => e.into(),
            Error::SubmissionQueueFull => SubmissionQueueFull.into(),
            Error::ReservedUserData(ud) => SqeError::ReservedUserData(ud).into(),
            Error::ReservedFileTable => SqeError::ReservedFileTable.into(),
            Error::SendFlags(bits) => SqeError::SendFlags(bits).into(),
            Error::BufRing(e) => std::io::Error::other(e),
            Error::Buffer(e) => std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_errno_has_a_name() {
        assert_eq!(
            SetupError::from_errno(Errno::NOSYS),
            SetupError::SystemOutdated
        );
        assert_eq!(
            SetupError::from_errno(Errno::PERM),
            SetupError::PermissionDenied
        );
        assert_eq!(
            EnterError::from_errno(Errno::INTR),
            EnterError::SignalInterrupt
        );
        assert_eq!(
            EnterError::from_errno(Errno::BUSY),
            EnterError::CompletionQueueOvercommitted
        );
        assert_eq!(
            RegisterError::from_errno(Errno::INVAL),
            RegisterError::ArgumentsInvalid
        );
        assert_eq!(
            RegisterError::from_errno(Errno::NXIO),
            RegisterError::NotRegistered
        );
        // Unknown errnos are kept.
        let e = EnterError::from_errno(Errno::ROFS);
        assert_eq!(e, EnterError::Unexpected(Errno::ROFS));
        assert_eq!(e.errno(), Some(Errno::ROFS));
    }

    #[test]
    fn converts_to_io_error_with_the_errno() {
        let io: std::io::Error = EnterError::SignalInterrupt.into();
        assert_eq!(io.raw_os_error(), Some(Errno::INTR.raw_os_error()));
        assert_eq!(io.kind(), std::io::ErrorKind::Interrupted);
        let io: std::io::Error = SetupError::EntriesZero.into();
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        assert!(io.to_string().contains("zero"));
        let io: std::io::Error = Error::from(SubmissionQueueFull).into();
        assert_eq!(io.kind(), std::io::ErrorKind::WouldBlock);
    }
}

/// Why setting up a [`BufRing`](crate::buf_ring::BufRing) or a [`BufferGroup`](crate::buf_ring::BufferGroup) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BufRingError {
    /// `entries` (or a group's `buffers_count`) was 0 or above
    /// [`BUF_RING_MAX_ENTRIES`](crate::buf_ring::BUF_RING_MAX_ENTRIES) (checked before any system call). Zig:
    /// `EntriesNotInRange`.
    EntriesNotInRange,
    /// `entries` was not a power of two (checked before any system call). Zig:
    /// `EntriesNotPowerOfTwo`.
    EntriesNotPowerOfTwo,
    /// A group's `buffer_size` was 0, or `buffer_size * buffers_count` does not fit the
    /// address space (checked before any system call).
    BufferSizeInvalid,
    /// Duplicating the ring's file descriptor failed (`EMFILE`, `ENFILE`).
    Dup(Errno),
    /// Mapping the ring or buffer memory failed.
    Mmap(Errno),
    /// The kernel refused the registration: `AlreadyExists` for a group id already in
    /// use, `ArgumentsInvalid` on kernels before 5.19 or for unsupported flags.
    Register(RegisterError),
}

impl fmt::Display for BufRingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EntriesNotInRange => f.write_str("buffer ring entries must be in 1..=32768"),
            Self::EntriesNotPowerOfTwo => f.write_str("buffer ring entries must be a power of two"),
            Self::BufferSizeInvalid => f.write_str("buffer group: invalid buffer size"),
            Self::Dup(e) => write!(f, "duplicating the ring fd failed: {e}"),
            Self::Mmap(e) => write!(f, "mapping buffer ring memory failed: {e}"),
            Self::Register(e) => write!(f, "registering the buffer ring failed: {e}"),
        }
    }
}

impl std::error::Error for BufRingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Register(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RegisterError> for BufRingError {
    fn from(e: RegisterError) -> Self {
        Self::Register(e)
    }
}

impl From<BufRingError> for std::io::Error {
    fn from(e: BufRingError) -> Self {
        match e {
            BufRingError::Dup(errno) | BufRingError::Mmap(errno) => {
                std::io::Error::from_raw_os_error(errno.raw_os_error())
            }
            BufRingError::Register(r) => r.into(),
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other),
        }
    }
}

/// Why a completion or buffer id could not be used with a [`BufferGroup`](crate::buf_ring::BufferGroup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectedBufferError {
    /// The completion carries no `IORING_CQE_F_BUFFER`: no buffer was picked (a failed
    /// request, e.g. `ENOBUFS`, or a request that did not select a buffer). Zig:
    /// `NoBufferSelected`.
    NoBufferSelected,
    /// The buffer id is not one of this group's (`id >= buffers_count`).
    BufferIdOutOfRange {
        /// The id found.
        id: u16,
        /// The group's number of buffers.
        buffers_count: u16,
    },
    /// The completion's result is negative or larger than one buffer, so it does not
    /// describe bytes received into one buffer of this group.
    ResultOutOfRange {
        /// The completion's `res`.
        res: i32,
        /// The group's buffer size.
        buffer_size: u32,
    },
    /// The group consumes buffers incrementally ([`BufferGroup::init_incremental`](crate::buf_ring::BufferGroup::init_incremental)): a
    /// completion's bytes start where the previous one on that buffer ended, so only
    /// [`BufferGroup::get_incremental`](crate::buf_ring::BufferGroup::get_incremental) can say where; [`get`](crate::buf_ring::BufferGroup::get) and
    /// [`get_bundle`](crate::buf_ring::BufferGroup::get_bundle) refuse. Or the reverse: `get_incremental` on
    /// a group that is not incremental.
    Incremental,
}

impl fmt::Display for SelectedBufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoBufferSelected => f.write_str("completion has no IORING_CQE_F_BUFFER"),
            Self::BufferIdOutOfRange { id, buffers_count } => {
                write!(f, "buffer id {id} out of range (group has {buffers_count})")
            }
            Self::ResultOutOfRange { res, buffer_size } => {
                write!(
                    f,
                    "completion result {res} does not fit a {buffer_size}-byte buffer"
                )
            }
            Self::Incremental => f.write_str(
                "incremental and whole-buffer consumption need different lookups (get_incremental / get)",
            ),
        }
    }
}

impl std::error::Error for SelectedBufferError {}

impl From<SelectedBufferError> for std::io::Error {
    fn from(e: SelectedBufferError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}
