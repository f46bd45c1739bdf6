//! The safe zero-copy layer: a [`Driver`] that owns a ring, and [`ZcSender`]s that own
//! send buffers until the kernel lets go of them.
//!
//! A zero-copy send (`IORING_OP_SEND_ZC`, Linux 6.0) completes twice: first with the byte
//! count, then, much later (for TCP, once the data is acknowledged), with a notification
//! (`IORING_CQE_F_NOTIF`) saying that the kernel no longer reads the buffer. Until then the
//! buffer must neither be freed nor changed. The raw ring leaves that to the caller
//! (`unsafe fn send_zc`); this layer makes it impossible to get wrong from safe code: a
//! sender takes the buffer **by value** and hands it back in a [`Completion`] only after
//! the kernel's last completion for it.
//!
//! ```no_run
//! use std::net::TcpStream;
//! use uring::zc::{Config, Policy, ZcSender};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = Config::default().policy(Policy::Always);
//!     let mut driver = config.driver()?; // owns a ring sized for this sender
//!     let stream = TcpStream::connect("127.0.0.1:9000")?; // any listener
//!     let sender = ZcSender::new(&mut driver, stream, config)?;
//!     for i in 0..100u8 {
//!         sender.send(&mut driver, vec![i; 64 * 1024])?; // blocks only when the budget is full
//!         for done in sender.completions(&mut driver)? {
//!             done.result?; // the whole buffer, or the error
//!             let _buffer = done.buffer.into_vec(); // yours again: reuse it
//!         }
//!     }
//!     sender.wait_all(&mut driver, std::time::Duration::from_secs(10))?;
//!     Ok(())
//! }
//! ```
//!
//! # Soundness: the trust boundary
//!
//! Safe code around this layer may do anything safe: choose any user_data, queue any safe
//! operation on the ring, build `Cqe` values, reap the ring, drop values in any order,
//! panic in a destructor, close and reopen descriptors, swap rings, share one driver
//! between senders. None of it can make the kernel read memory the layer handed back, or
//! act on a descriptor the caller does not own. What makes it so, each part with a test
//! in `tests/soundness.rs` (all safe code, `forbid(unsafe_code)`) or a `compile_fail`
//! example below:
//!
//! - **The driver is the only reaper of its completions.** It makes its ring itself (so
//!   no earlier request exists) and reserves the user_data namespace [`USER_DATA_TAG`] on
//!   it: the ring's operation methods refuse that namespace
//!   ([`SqeError::ReservedUserData`](crate::SqeError::ReservedUserData)), and the ring's
//!   reaping methods ([`copy_cqes`](crate::IoUring::copy_cqes), `peek_cqe`, `cq_advance`)
//!   set its completions aside for the driver instead of returning or dropping them. No
//!   public API takes a `Cqe`. So every completion the driver acts on was posted by the
//!   kernel for a request of the driver's.
//! - **One user_data per request, never reused while a completion may still come**
//!   (including the stray notifications Linux 6.18 posts after a link cancel).
//! - **Identity by a process-unique number**, not an fd: a sender or a pool slot is bound
//!   to its driver's ring ([`IoUring::id`](crate::IoUring::id)); a sender used with
//!   another driver refuses ([`ZcError::WrongDriver`]), a replaced ring is noticed
//!   ([`ZcError::RingReplaced`]).
//! - **Sockets by registered-file slot.** A sender's socket goes into the driver's file
//!   table; every request names the slot (`IOSQE_FIXED_FILE`), never the fd number, and a
//!   slot is cleared only after every request naming it has completed. Whatever happens to
//!   fd numbers (a closed socket, a new connection with the same number, SQPOLL consuming
//!   SQEs late), no request acts on another socket.
//! - **Registered tables are the driver's.** Pools take ranges of the driver's buffer
//!   table; a range is cleared only when the pool and every slot are gone. The raw ring's
//!   table-changing calls are `unsafe`.
//! - **State lives in the driver; kernel-held buffers are `ManuallyDrop`.** A sender handle
//!   is a key: dropping it (or the driver) in any order never frees a buffer the kernel
//!   may read. A held buffer is freed only after its last completion, or leaked if the
//!   driver goes first; no drop glue, unwinding panic or user destructor can free it.
//! - **A link chain left open by the caller** at the end of the SQ is ended by a NOP of the
//!   driver's before its own requests, so the caller's requests never link into them.
//!
//! What the layer does not defend against: `unsafe` code that breaks the raw ring's
//! contracts, other processes (a shared ring fd, `ptrace`), and the kernel.
//!
//! The buffer is moved into the sender, so it cannot be read or changed while the kernel
//! may still read it:
//!
//! ```compile_fail,E0382
//! # use uring::zc::{Driver, ZcSender};
//! # fn f(driver: &mut Driver, sender: &ZcSender) {
//! let mut buf = vec![1u8; 4096];
//! sender.send(driver, buf).unwrap();
//! buf[0] = 2; // error[E0382]: borrow of moved value: `buf`
//! # }
//! ```
//!
//! The same holds for a [`PoolSlot`]: it is moved in, and comes back in the completion.
//!
//! ```compile_fail,E0382
//! # use uring::zc::{BufferPool, Driver, ZcSender};
//! # fn f(driver: &mut Driver, sender: &ZcSender, pool: &BufferPool) {
//! let mut slot = pool.get().unwrap();
//! sender.send(driver, slot).unwrap();
//! slot[0] = 2; // error[E0382]: borrow of moved value: `slot`
//! # }
//! ```
//!
//! Borrowed memory cannot be sent: only owned, address-stable buffers or `'static` bytes.
//!
//! ```compile_fail,E0597
//! # use uring::zc::{Driver, ZcSender};
//! # fn f(driver: &mut Driver, sender: &ZcSender) {
//! let local = [0u8; 64];
//! sender.send(driver, &local[..]).unwrap(); // error[E0597]: `local` does not live long enough
//! # }
//! ```
//!
//! There is no way to hand the driver a completion, made up or reaped elsewhere:
//!
//! ```compile_fail,E0599
//! # use uring::zc::{Driver, ZcSender};
//! # fn f(driver: &mut Driver, sender: &ZcSender) {
//! let forged = uring::Cqe { user_data: uring::zc::USER_DATA_TAG, res: -9, flags: 0 };
//! sender.handle_cqe(&forged); // error[E0599]: no method named `handle_cqe`
//! # }
//! ```
//!
//! # Buffers
//!
//! [`ZcBuffer`] is what a sender owns: `Vec<u8>`, `Box<[u8]>`, `&'static [u8]`,
//! `bytes::Bytes` (feature `bytes`) and [`PoolSlot`]s of a [`BufferPool`], whose memory is
//! registered with the driver's ring once so that their sends use `send_zc_fixed` and the
//! kernel skips pinning pages per request ([`PoolSlot::share`] freezes one into a
//! [`SharedSlot`] whose clones may all be in flight at once). All of them keep their bytes at an address that
//! does not move with the value, which is what lets the kernel read them after `send`
//! returns.
//!
//! A zero-copy send from memory that is not registered pins the pages the buffer spans, and
//! each becomes a fragment of the socket buffer: a 4 KiB heap buffer that starts inside a
//! page spans two. Page-aligned buffers (pool slots are) make the fewest; on loopback TCP,
//! `zc` at 4 KiB and 16 KiB ran 1.6× and 1.4× faster from a page-aligned payload than from
//! a `Vec`'s (`bench/RESULTS.md` §14).
//!
//! # The driver and the ring
//!
//! A [`Driver`] owns one ring and any number of senders (one per socket); its completion
//! queue needs two entries per zero-copy send in flight (result and notification), which
//! [`Config::driver`] sizes for one sender and [`DriverConfig`] sets for several. The ring
//! stays usable for other work through [`Driver::ring`]: queue your own requests and reap
//! them with `copy_cqes` as on any ring; completions of yours that the driver reaped while
//! driving its senders come back there, in order. Every call of a sender drives the whole
//! driver, so one sender's calls also progress the others.
//!
//! # Streams: order and completeness
//!
//! Several sends queued at once on one TCP socket are not ordered by io_uring: when the
//! socket is full, each waits for space on its own, and they can resume in any order, or
//! a short send can be overtaken. A sender therefore sends a stream as `IOSQE_IO_LINK`
//! chains of at most [`Config::depth`] requests, each with `MSG_WAITALL` (the kernel keeps
//! retrying a partial send within the request, and a request that still ends short breaks
//! the chain, cancelling the rest of it). A new chain is submitted only when every request
//! of the previous one has completed, since links do not reach across submissions. When
//! a chain resolves, its members are examined in stream order: a short one is queued again
//! with its remainder, *in front of* every later buffer, and so are the members the link
//! cancelled. Notifications are never waited for before the next chain.
//!
//! On a byte stream (SOCK_STREAM) the buffers queued together need no chain: with
//! [`Config::coalesce`] (the default) up to [`Config::depth`] of them go in *one* vectored
//! request, `sendmsg` (or `sendmsg_zc` when they go zero-copy) with an iovec per buffer, in
//! order by construction. Each still comes back on its own, with its share of the bytes
//! sent (after a short member, the rest are queued again as if a link had cancelled them);
//! a zero-copy request's one notification releases all of them. The kernel runs one send
//! instead of a chain of linked requests, each issued from task work after the one before:
//! at 1400-byte buffers on loopback that halves the cost of sending (`bench/RESULTS.md`,
//! section 12). The slots of one [`BufferPool`] are one registered buffer, so they gather
//! too (`sendmsg_zc` with FIXED_BUF, Linux 6.15). A buffer on a later request (a
//! continuation), slots of different pools, and the records of a SOCK_SEQPACKET socket go
//! chained as above.
//!
//! # Datagrams
//!
//! On a datagram socket one buffer is one datagram, sent with `send_zc` on a connected
//! socket or, with [`ZcSender::send_to`], `sendmsg_zc` with `msg_name`. Up to
//! [`Config::depth`] go at once, unlinked: datagrams carry no order. A datagram's error
//! concerns that datagram only. A zero-length buffer is a message (an empty datagram, or an
//! empty `SOCK_SEQPACKET` record) and is sent; on a byte stream it is nothing and comes
//! back at once.
//!
//! # Back-pressure and locked memory
//!
//! A sender owns at most [`Config::budget_bytes`] bytes and [`Config::max_buffers`]
//! buffers at once, counted from acceptance until the buffer is handed back (so the bytes
//! pinned by the kernel are always below it). Over it, [`ZcSender::send`] drives the ring
//! until a buffer comes back (bounded by [`Config::wait_timeout`]), and
//! [`ZcSender::try_send`] hands the buffer back with [`SendErrorKind::WouldBlock`]. There
//! is no unbounded queue.
//!
//! For a process without `CAP_IPC_LOCK`, registered pools and the pages of zero-copy sends
//! in flight are charged to `RLIMIT_MEMLOCK` (8 MiB by default). The default budget is
//! sized from the limit the process has ([`Memlock`], [`Config::budget_bytes`]); a pool
//! that cannot fit is refused with [`PoolError::Memlock`], which names the limit and what
//! was asked; and a send the kernel still refuses to pin goes with plain send instead
//! ([`PlainReason::PinLimit`]), in order, instead of failing the stream.
//!
//! # Policy and fallback
//!
//! [`Policy::Always`] sends everything zero-copy, [`Policy::Never`] everything with plain
//! `send`, and [`Policy::Adaptive`] (the default) only what pays: nothing while the kernel
//! reports copying zero-copy sends anyway (every zero-copy request carries
//! `IORING_SEND_ZC_REPORT_USAGE`; on loopback and veth the kernel copies), re-probing every
//! [`Config::adaptive_reprobe_every`] buffers; and where it does not copy, the size classes
//! for which zero-copy measured cheaper than plain send (the sender times the
//! `io_uring_enter` calls that submit its requests; [`ZcSender::adaptive_classes`] shows
//! the decisions).
//! Whatever the policy, the sender falls back to plain send, with the same API, when the
//! kernel's probe lacks SEND_ZC, when the socket answers EOPNOTSUPP (a Unix socket; the
//! refused buffer is resent, in order), or when [`Config::force_fallback`] says so.
//! [`ZcStats`] and each [`Completion::path`] show every decision.
//!
//! # Errors
//!
//! On a stream, the first error (peer reset, EPIPE, …) ends it: the buffer whose send
//! failed comes back with [`BufferError::Failed`] (the error is reported there, once, and by
//! [`ZcSender::error`]); every later buffer comes back unsent with
//! [`BufferError::NotSent`], after the kernel's completions for it; new buffers are refused
//! with [`ZcError::Broken`]. Nothing after the failure is sent, so the peer never sees a
//! stream with a hole. Every buffer given to a sender comes back exactly once: in a
//! [`Completion`], or at once in a [`SendError`] if it was not accepted — unless the sender
//! is dropped first (its buffers are then freed by the driver once the kernel lets go) or
//! the driver is dropped while the kernel holds some (those are leaked, never freed).
//!
//! # Kernel versions
//!
//! Zero-copy send (`IORING_OP_SEND_ZC`) needs Linux 6.0, `sendmsg_zc` (datagrams to an
//! address) 6.1, and the copy report (`IORING_SEND_ZC_REPORT_USAGE`) 6.2; on older kernels
//! the sender falls back to plain `send` (5.6) as described above. The driver needs a
//! sparse file table (5.19) and, for pools, a sparse buffer table with updates (5.13), and
//! uses `IORING_SETUP_CQSIZE` (5.5) and `IORING_SETUP_SUBMIT_ALL` (5.18). liburing and Zig
//! have no counterpart of this layer: they stop at `io_uring_prep_send_zc` and leave the
//! buffer contract to the caller.

mod buffer;
mod config;
mod driver;
mod error;
mod memlock;
mod pool;
mod sender;
mod shared;
mod state;
mod stats;
#[cfg(feature = "tokio")]
pub mod tokio;
mod types;

pub use buffer::{BufferKind, CustomBuffer, StableBuffer, ZcBuffer};
pub use config::{Config, DriverConfig, Policy};
pub use driver::{is_zc_user_data, Driver, USER_DATA_TAG, USER_DATA_TAG_MASK};
pub use memlock::{Memlock, MemlockExceeded};
pub use pool::{BufferPool, PoolError, PoolSlot, SharedSlot, MAX_POOL_SLOTS, MAX_SLOT_SIZE};
pub use sender::{Closed, Completions, ZcSender};
pub use stats::ZcStats;
pub use types::{
    AdaptiveClass, BufferError, Completion, FallbackReason, PlainReason, SendError, SendErrorKind,
    SendPath, VectoredSendError, ZcError,
};
