//! `uring`: a pure-Rust io_uring client for Linux, with zero-copy send.
//!
//! Three layers in one crate:
//! 1. [`sys`]: the kernel ABI, re-exported from `linux-raw-sys` and `rustix`.
//! 2. [`IoUring`]: the ring, a port of Zig's `std.os.linux.IoUring` with the same names
//!    (`get_sqe`, `submit`, `copy_cqes`, `send_zc`, …), raw and complete: operations that
//!    hand memory to the kernel are `unsafe fn` with their contract in `# Safety`.
//! 3. [`zc`]: the safe zero-copy layer, where the library owns send buffers until the kernel
//!    lets go of them.
//!
//! # Zero-copy send in one picture
//!
//! ```no_run
//! use uring::{IoUring, sys::IoringSetupFlags};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let fd: std::os::fd::RawFd = 0;
//! let mut ring = IoUring::init(16, IoringSetupFlags::empty())?;
//! let buffer = b"hello, zero copy".to_vec();
//! // SAFETY: `buffer` lives, untouched, until the notification below.
//! unsafe { ring.send_zc(0xeeee, fd, &buffer, 0, 0)? };
//! ring.submit()?;
//! let first = ring.copy_cqe()?; // the byte count, with IORING_CQE_F_MORE
//! if first.more() {
//!     let notif = ring.copy_cqe()?; // IORING_CQE_F_NOTIF: the kernel let go
//!     assert!(notif.notif());
//! }
//! drop(buffer); // only now
//! # Ok(()) }
//! ```
#![deny(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod addr;
pub mod buf_ring;
pub mod cqe;
pub mod error;
pub mod ops;
pub mod register;
pub mod ring;
pub mod sqe;
pub mod sys;
pub mod types;
pub mod zc;

pub use addr::SockAddr;
pub use buf_ring::{BufRing, BufRingError, BufRingFlags, BufferError, BufferGroup};
pub use cqe::{Cqe, CqeFlags};
pub use error::{
    EnterError, Error, RegisterError, SetupError, SqeError, SqeFlagsError, SubmissionQueueFull,
};
pub use ops::{ReadBuffer, RecvBuffer, SqeRef, SqeResult};
pub use register::{iovec, Probe};
pub use ring::{CompletionQueue, IoUring, SubmissionQueue, SubmitWait};
pub use sqe::Sqe;
pub use types::{
    timespec, EpollEvent, IdType, MsgHdr, OpenHow, RawSockAddr, RecvmsgOut, SigInfo, SockLen,
    SocketOp, Statx, Timespec, FILE_INDEX_ALLOC,
};

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
