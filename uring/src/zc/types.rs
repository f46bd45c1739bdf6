//! Outcomes, completions and errors of the zero-copy sender.

use core::fmt;
use std::net::SocketAddr;

use rustix::io::Errno;

use super::buffer::ZcBuffer;
pub use super::error::ZcError;

/// How a request was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendPath {
    /// Zero-copy: `send_zc`, or `sendmsg_zc` with a destination address.
    ZeroCopy,
    /// Zero-copy from a registered pool slot: `send_zc_fixed`.
    ZeroCopyFixed,
    /// Plain `send` (or `sendmsg` with a destination), for the reason given.
    Plain(PlainReason),
}

impl SendPath {
    /// Whether this is one of the zero-copy paths.
    pub fn is_zero_copy(self) -> bool {
        matches!(self, SendPath::ZeroCopy | SendPath::ZeroCopyFixed)
    }
}

/// Why a buffer went with plain send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PlainReason {
    /// [`Policy::Never`](super::Policy::Never).
    Policy,
    /// [`Policy::Adaptive`](super::Policy::Adaptive): below the size threshold.
    BelowThreshold,
    /// [`Policy::Adaptive`](super::Policy::Adaptive): the kernel copies zero-copy sends on
    /// this socket anyway.
    KernelCopies,
    /// Zero-copy is unavailable ([`ZcSender::fallback`](super::ZcSender::fallback) says why).
    Fallback,
    /// The kernel refused to pin this buffer for a zero-copy send (`ENOMEM`/`ENOBUFS`: the
    /// locked-memory limit, `RLIMIT_MEMLOCK`, of a process without `CAP_IPC_LOCK`), so it
    /// went again with plain send, in order; nothing was lost or cancelled.
    PinLimit,
    /// [`Policy::Adaptive`](super::Policy::Adaptive): the kernel does not copy on this
    /// socket, and for buffers of this size class plain send measured cheaper for the
    /// sender than zero-copy (the buffer is too small for zero-copy to pay), or the class
    /// is still being measured and this buffer measures plain send
    /// ([`AdaptiveClass`]).
    Measured,
    /// A part of a vectored send ([`ZcSender::send_vectored`](super::ZcSender::send_vectored))
    /// shorter than [`Config::copy_parts_below`](super::Config::copy_parts_below): copied,
    /// because pinning and notifying a few bytes (a header beside a large payload) costs
    /// more than copying them.
    SmallPart,
}

/// What [`Policy::Adaptive`](super::Policy::Adaptive) decided for one size class of one
/// sender ([`ZcSender::adaptive_classes`](super::ZcSender::adaptive_classes)), and the
/// costs it measured for each path: nanoseconds per byte submitted, of the
/// `io_uring_enter` calls that submitted them and the reap right after.
///
/// Classes are powers of two: `min_len ..= max_len` is `2^(k-1) ..= 2^k - 1` (the last
/// class holds everything from 1 GiB up, the first only empty buffers).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct AdaptiveClass {
    /// The shortest buffer of the class.
    pub min_len: usize,
    /// The longest buffer of the class.
    pub max_len: usize,
    /// The path a buffer of `max_len` bytes takes now, outside a probe:
    /// [`SendPath::ZeroCopy`] stands for zero-copy from either kind of buffer (a
    /// registered pool slot goes [`SendPath::ZeroCopyFixed`]); a plain path names why
    /// ([`PlainReason::KernelCopies`] while the kernel copies on this socket,
    /// [`PlainReason::Measured`] where plain measured cheaper).
    pub path: SendPath,
    /// The path is the learner's, and it is still measuring both (the class alternates
    /// between them): `path` is not a decision yet. False where something else decides
    /// (the kernel copies, a fallback, the size threshold).
    pub learning: bool,
    /// Mean cost of zero-copy sends of this class (0 until measured).
    pub zero_copy_ns_per_byte: f64,
    /// Samples (`io_uring_enter` calls) behind `zero_copy_ns_per_byte`.
    pub zero_copy_samples: u32,
    /// Mean cost of plain sends of this class (0 until measured).
    pub plain_ns_per_byte: f64,
    /// Samples behind `plain_ns_per_byte`.
    pub plain_samples: u32,
}

/// Why a sender sends everything with plain send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FallbackReason {
    /// [`Config::force_fallback`](super::Config::force_fallback).
    Forced,
    /// The kernel's probe lacks IORING_OP_SEND_ZC (older than Linux 6.0) or, for a
    /// datagram socket, IORING_OP_SENDMSG_ZC (6.1).
    NotInProbe,
    /// The socket refused zero-copy with EOPNOTSUPP (a Unix socket, say).
    Unsupported,
}

/// Why a buffer was not (completely) sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BufferError {
    /// The send failed with `errno` after `sent` bytes of this buffer went out. On a
    /// stream socket this is the stream's error, reported on this buffer only.
    Failed {
        /// The error of the send request.
        errno: Errno,
        /// Bytes of this buffer sent before the error.
        sent: usize,
    },
    /// Not sent (or not finished: `sent` bytes went out) because an earlier buffer of the
    /// stream failed with `cause`; nothing after a failure is sent, so that the peer never
    /// sees a stream with a hole in it.
    NotSent {
        /// The error of the earlier buffer.
        cause: Errno,
        /// Bytes of this buffer that went out before the stream failed.
        sent: usize,
    },
}

impl BufferError {
    /// Bytes of the buffer that went out anyway.
    pub fn sent(&self) -> usize {
        match *self {
            BufferError::Failed { sent, .. } | BufferError::NotSent { sent, .. } => sent,
        }
    }

    /// The errno behind it (for `NotSent`, the earlier buffer's).
    pub fn errno(&self) -> Errno {
        match *self {
            BufferError::Failed { errno, .. } => errno,
            BufferError::NotSent { cause, .. } => cause,
        }
    }
}

impl fmt::Display for BufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufferError::Failed { errno, sent } => {
                write!(f, "send failed after {sent} bytes: {errno}")
            }
            BufferError::NotSent { cause, sent } => write!(
                f,
                "not sent because an earlier buffer failed ({cause}); {sent} bytes went out"
            ),
        }
    }
}

impl std::error::Error for BufferError {}

impl From<BufferError> for std::io::Error {
    fn from(e: BufferError) -> Self {
        std::io::Error::from_raw_os_error(e.errno().raw_os_error())
    }
}

/// A buffer handed back by the sender, once the kernel no longer reads it, with what
/// happened to it. Every buffer the sender accepted comes back exactly once, in one of
/// these.
#[derive(Debug)]
#[non_exhaustive]
pub struct Completion {
    /// The buffer, yours again.
    pub buffer: ZcBuffer,
    /// Bytes sent (the whole buffer on success), or why not.
    pub result: Result<usize, BufferError>,
    /// Whether the kernel reported copying at least part of a zero-copy send of this
    /// buffer (IORING_SEND_ZC_REPORT_USAGE, Linux 6.2).
    pub copied: bool,
    /// How the last request for this buffer was sent (`None` if none was submitted).
    pub path: Option<SendPath>,
    /// The destination given with [`send_to`](super::ZcSender::send_to), if any.
    pub dest: Option<SocketAddr>,
    /// The sender's sequence number of this buffer: 0 for the first buffer accepted, then
    /// one more for each. Completions may come back in another order.
    pub seq: u64,
}

impl Completion {
    /// Whether every byte was sent.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }
}

/// Why a buffer was not accepted; the buffer comes back in [`SendError::buffer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// [`try_send`](super::ZcSender::try_send): the budget (bytes or buffers) is full right
    /// now; reap completions and try again.
    WouldBlock,
    /// The buffer is larger than the whole budget ([`Config::budget_bytes`](super::Config::budget_bytes)).
    TooLarge,
    /// A destination address on a stream socket, where it has no meaning.
    AddressOnStream,
    /// A vectored send ([`ZcSender::send_vectored`](super::ZcSender::send_vectored)) on a
    /// datagram socket: its parts would be separate datagrams, not one message.
    VectoredOnDatagram,
    /// The sender failed (see [`ZcError`]).
    Sender(ZcError),
}

/// A buffer the sender did not accept, handed straight back, and why.
#[derive(Debug)]
pub struct SendError {
    /// The buffer, untouched.
    pub buffer: ZcBuffer,
    /// Why.
    pub kind: SendErrorKind,
}

impl SendError {
    /// Whether this is the would-block answer of a non-blocking call.
    pub fn is_would_block(&self) -> bool {
        self.kind == SendErrorKind::WouldBlock
    }
}

impl fmt::Display for SendErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SendErrorKind::WouldBlock => {
                f.write_str("zero-copy sender: budget full, buffer handed back")
            }
            SendErrorKind::TooLarge => {
                f.write_str("zero-copy sender: buffer larger than the budget")
            }
            SendErrorKind::AddressOnStream => {
                f.write_str("zero-copy sender: destination address given for a stream socket")
            }
            SendErrorKind::VectoredOnDatagram => {
                f.write_str("zero-copy sender: vectored send on a datagram socket")
            }
            SendErrorKind::Sender(e) => e.fmt(f),
        }
    }
}

/// A `Sender` kind is transparent: it displays as the sender's error, and its source is
/// that error's source.
impl std::error::Error for SendErrorKind {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SendErrorKind::Sender(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

/// The parts of a vectored send the sender did not accept, all of them, handed straight
/// back in order, and why (a vectored send is accepted whole or not at all).
#[derive(Debug)]
pub struct VectoredSendError {
    /// The parts, untouched, in the order given.
    pub parts: Vec<ZcBuffer>,
    /// Why.
    pub kind: SendErrorKind,
}

impl VectoredSendError {
    /// Whether this is the would-block answer of a non-blocking call.
    pub fn is_would_block(&self) -> bool {
        self.kind == SendErrorKind::WouldBlock
    }
}

impl fmt::Display for VectoredSendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} parts handed back)", self.kind, self.parts.len())
    }
}

impl std::error::Error for VectoredSendError {}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for SendError {}

impl From<SendError> for std::io::Error {
    fn from(e: SendError) -> Self {
        use std::io::{Error, ErrorKind};
        match e.kind {
            SendErrorKind::WouldBlock => Error::new(ErrorKind::WouldBlock, e),
            SendErrorKind::TooLarge
            | SendErrorKind::AddressOnStream
            | SendErrorKind::VectoredOnDatagram => Error::new(ErrorKind::InvalidInput, e),
            SendErrorKind::Sender(z) => z.into(),
        }
    }
}
