//! `uring`: a pure-Rust io_uring client for Linux, built for zero-copy networking.
//!
//! Start with the safe layer, [`zc`]: a [`Driver`](zc::Driver) owns a ring and its
//! [`ZcSender`](zc::ZcSender)s take send buffers by value and hand each back only once
//! the kernel has let go of it, whatever the safe code around them does (see
//! [`zc`'s Soundness section](zc#soundness-the-trust-boundary)).
//!
//! ```no_run
//! use std::net::TcpStream;
//! use uring::zc::{Config, ZcSender};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = Config::default();
//!     let mut driver = config.driver()?;
//!     let stream = TcpStream::connect("127.0.0.1:9000")?; // any TCP listener
//!     let sender = ZcSender::new(&mut driver, stream, config)?;
//!     sender.send(&mut driver, vec![7u8; 1 << 20])?; // zero-copy where it pays
//!     sender.wait_all(&mut driver, std::time::Duration::from_secs(10))?;
//!     for done in sender.completions(&mut driver)? {
//!         println!("{} bytes sent, buffer back: {:?}", done.result?, done.buffer.kind());
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Underneath, three layers in one crate:
//! 1. [`sys`]: the kernel ABI, re-exported from `linux-raw-sys` and `rustix`.
//! 2. [`IoUring`]: the ring, a port of Zig's `std.os.linux.IoUring` with the same names
//!    (`get_sqe`, `submit`, `copy_cqes`, `send_zc`, …), raw and complete: operations whose
//!    kernel work touches memory or a descriptor after the call are `unsafe fn` with their
//!    contract in `# Safety`.
//! 3. [`zc`]: the safe zero-copy layer.
//!
//! # Zero-copy send on the raw ring
//!
//! ```no_run
//! use uring::sys::{IoringSendFlags, IoringSetupFlags, SendFlags};
//! use uring::IoUring;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let fd: std::os::fd::RawFd = 0;
//! let mut ring = IoUring::init(16, IoringSetupFlags::empty())?;
//! let buffer = b"hello, zero copy".to_vec();
//! let (flags, zc_flags) = (SendFlags::empty(), IoringSendFlags::empty());
//! // SAFETY: `buffer` lives, untouched, until the notification below; `fd` is a connected
//! // socket that stays open until then.
//! unsafe { ring.send_zc(0xeeee, fd, &buffer, flags, zc_flags)? };
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
pub mod big;
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

/// The typed per-operation flag sets the ring methods and preps take, in one place (all
/// from [`sys`], which has them from rustix), so that callers need no rustix dependency.
pub mod flags {
    pub use crate::sys::{
        AtFlags, FallocateFlags, IoringAcceptFlags, IoringAsyncCancelFlags, IoringFixedFdFlags,
        IoringFsyncFlags, IoringMsgringFlags, IoringPollFlags, IoringRecvFlags, IoringSendFlags,
        IoringTimeoutFlags, Mode, OFlags, PipeFlags, ReadWriteFlags, RecvFlags, RenameFlags,
        SendFlags, SocketFlags, StatxFlags, XattrFlags, SEND_VECTORIZED, SEND_WAITALL,
    };
}

pub use addr::SockAddr;
pub use big::{BigError, BigRing, Cqe32, Sqe128};
pub use buf_ring::{BufRing, BufRingError, BufRingFlags, BufferGroup, SelectedBufferError};
pub use cqe::{Cqe, CqeFlags};
pub use error::{
    EnterError, Error, RegisterError, SetupError, SqeError, SqeFlagsError, SubmissionQueueFull,
};
pub use ops::{ReadBuffer, RecvBuffer, SqeRef, SqeResult};
pub use register::{iovec, CancelTarget, Probe, Restriction, SyncCancel};
pub use ring::{CompletionQueue, IoUring, SubmissionQueue, SubmitWait, WaitArgs};
/// The errno type of every result and error (rustix's), so that matching an error needs no
/// extra dependency.
pub use rustix::io::Errno;
pub use sqe::Sqe;
pub use types::{
    timespec, EpollEvent, FutexWaitv, IdType, MsgHdr, OpenHow, RawSockAddr, RecvmsgOut, SigInfo,
    SockLen, SocketOp, Statx, Timespec, FILE_INDEX_ALLOC,
};

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
