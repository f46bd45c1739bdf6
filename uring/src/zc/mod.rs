//! The safe zero-copy layer: a sender that owns send buffers until the kernel lets go of
//! them.
//!
//! A zero-copy send (`IORING_OP_SEND_ZC`, Linux 6.0) completes twice: first with the byte
//! count, then, much later (for TCP, once the data is acknowledged), with a notification
//! (`IORING_CQE_F_NOTIF`) saying that the kernel no longer reads the buffer. Until then the
//! buffer must neither be freed nor changed. The raw ring leaves that to the caller
//! (`unsafe fn send_zc`); [`ZcSender`] makes it impossible to get wrong from safe code:
//! it takes the buffer **by value** and hands it back in a [`Completion`] only after the
//! kernel's last completion for it.
//!
//! ```no_run
//! use std::net::TcpStream;
//! use uring::zc::{Config, Policy, ZcSender};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::default().policy(Policy::Always);
//! let mut ring = config.ring()?; // CQ sized for two completions per buffer
//! let stream = TcpStream::connect("127.0.0.1:9000")?;
//! let mut sender = ZcSender::new(&ring, stream, config)?;
//! for i in 0..100u8 {
//!     sender.send(&mut ring, vec![i; 64 * 1024])?; // blocks only when the budget is full
//!     for done in sender.completions() {
//!         let bytes = done.result?; // the whole buffer, or the error
//!         let _buffer = done.buffer.into_vec(); // yours again: reuse it
//!         # let _ = bytes;
//!     }
//! }
//! sender.wait_all(&mut ring, std::time::Duration::from_secs(10))?;
//! # Ok(()) }
//! ```
//!
//! The buffer is moved into the sender, so it cannot be read or changed while the kernel
//! may still read it:
//!
//! ```compile_fail,E0382
//! # use uring::zc::ZcSender;
//! # fn f(ring: &mut uring::IoUring, sender: &mut ZcSender) {
//! let mut buf = vec![1u8; 4096];
//! sender.send(ring, buf).unwrap();
//! buf[0] = 2; // error[E0382]: borrow of moved value: `buf`
//! # }
//! ```
//!
//! The same holds for a [`PoolSlot`]: it is moved in, and comes back in the completion.
//!
//! ```compile_fail,E0382
//! # use uring::zc::{BufferPool, ZcSender};
//! # fn f(ring: &mut uring::IoUring, sender: &mut ZcSender, pool: &BufferPool) {
//! let mut slot = pool.get().unwrap();
//! sender.send(ring, slot).unwrap();
//! slot[0] = 2; // error[E0382]: borrow of moved value: `slot`
//! # }
//! ```
//!
//! # Buffers
//!
//! [`ZcBuffer`] is what the sender owns: `Vec<u8>`, `Box<[u8]>`, `&'static [u8]`,
//! `bytes::Bytes` (feature `bytes`) and [`PoolSlot`]s of a [`BufferPool`], whose memory is
//! registered with the ring once so that their sends use `send_zc_fixed` and the kernel
//! skips pinning pages per request. All of them keep their bytes at an address that does
//! not move with the value, which is what lets the kernel read them after `send` returns.
//!
//! # The ring: borrowed per call
//!
//! The sender neither owns nor holds the ring: every call that touches the kernel takes
//! `&mut IoUring`. So one ring serves many senders (one per socket) and any other work,
//! and the caller keeps full use of it between calls. The sender records the ring's fd at
//! creation and refuses another ring ([`ZcError::WrongRing`]).
//!
//! Why this is sound whatever the caller does with the ring: **the sender releases a
//! buffer only when it has seen, itself, the kernel's last completion for it**, identified
//! by a user_data no other request carries (below). If that completion never reaches the
//! sender — the ring was dropped, replaced, or reaped by someone who kept our completions —
//! the buffer is simply never released: dropping the sender then *leaks* it on purpose
//! (`mem::forget`), never frees it. Leaking is memory-safe; freeing memory the kernel may
//! still read is not acceptable, even though for a send it would "only" put wrong bytes on
//! the wire. Buffers the kernel never saw (still queued) are freed normally. To drop a
//! sender without leaking, first [`ZcSender::wait_all`] or [`ZcSender::close`] with a
//! bound: they drive the ring until everything is back. If the ring itself is dropped with
//! requests in flight, the kernel tears them down asynchronously; the sender, unable to
//! see their completions, leaks those buffers when it is dropped.
//!
//! Ring setup: the completion queue needs two entries per zero-copy send (result and
//! notification), and notifications can trail far behind (until TCP acknowledges the
//! data), so size it for [`Config::max_buffers`] buffers: [`Config::ring`] does that
//! (`IORING_SETUP_CQSIZE`). With `IORING_FEAT_NODROP` (required by this crate) a too-small
//! CQ loses nothing, it is only slower.
//!
//! # Sharing the ring
//!
//! Every user_data the sender uses has the top byte [`USER_DATA_TAG`] (`0xA5`), then a
//! 24-bit sender id that no other live sender has (nor a dropped one that leaked
//! requests), then a generation and a slot index; no two requests share one (a buffer
//! sent in several requests gets a new user_data for each). Do not use that top byte for
//! your own requests. When the sender drives the ring it reaps every completion; those
//! that are not its own are kept, untouched and in order, for [`ZcSender::foreign_cqes`].
//! If you reap the ring yourself (say for several senders), route each completion with
//! [`ZcSender::handle_cqe`] (it returns false for completions that are not its own), then
//! call [`ZcSender::poll`] so that it can submit more.
//!
//! Stray notifications: Linux 6.18 posts a notification even for some zero-copy sends
//! whose first completion had no `IORING_CQE_F_MORE` (one cancelled because an earlier
//! request of its `IOSQE_IO_LINK` chain failed), sometimes well after. The sender
//! consumes them (counted in [`ZcStats::stray_notifications`]) and never counts one for
//! any buffer. One that arrives after its sender was dropped goes to whoever reaps the
//! ring: it carries the tag ([`is_zc_user_data`]) and can be ignored.
//!
//! The sender submits with `io_uring_enter`, which also submits anything else already
//! queued in the SQ; do not leave a half-built `IOSQE_IO_LINK` chain there when calling it.
//!
//! # Streams: order and completeness
//!
//! Several sends queued at once on one TCP socket are not ordered by io_uring: when the
//! socket is full, each waits for space on its own, and they can resume in any order, or
//! a short send can be overtaken. The sender therefore sends a stream as `IOSQE_IO_LINK`
//! chains of at most [`Config::depth`] requests, each with `MSG_WAITALL` (the kernel keeps
//! retrying a partial send within the request, and a request that still ends short breaks
//! the chain, cancelling the rest of it). A new chain is submitted only when every request
//! of the previous one has completed, since links do not reach across submissions. When
//! a chain resolves, its members are examined in stream order: a short one is queued again
//! with its remainder, *in front of* every later buffer, and so are the members the link
//! cancelled. Notifications are never waited for before the next chain.
//!
//! # Datagrams
//!
//! On a datagram socket one buffer is one datagram, sent with `send_zc` on a connected
//! socket or, with [`ZcSender::send_to`], `sendmsg_zc` with `msg_name`. Up to
//! [`Config::depth`] go at once, unlinked: datagrams carry no order. A datagram's error
//! concerns that datagram only.
//!
//! # Back-pressure
//!
//! The sender owns at most [`Config::budget_bytes`] bytes and [`Config::max_buffers`]
//! buffers at once, counted from acceptance until the buffer is handed back (so the bytes
//! pinned by the kernel are always below it). Over it, [`ZcSender::send`] drives the ring
//! until a buffer comes back (bounded by [`Config::wait_timeout`]), and
//! [`ZcSender::try_send`] hands the buffer back with [`SendErrorKind::WouldBlock`]. There
//! is no unbounded queue.
//!
//! # Policy and fallback
//!
//! [`Policy::Always`] sends everything zero-copy, [`Policy::Never`] everything with plain
//! `send`, and [`Policy::Adaptive`] (the default) only what pays: buffers of at least
//! [`Config::adaptive_min_size`], and only while the kernel does not report copying them
//! anyway (every zero-copy request carries `IORING_SEND_ZC_REPORT_USAGE`; on loopback and
//! veth the kernel copies), re-probing every [`Config::adaptive_reprobe_every`] buffers.
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
//! stream with a hole. Every buffer given to the sender comes back exactly once: in a
//! [`Completion`], or at once in a [`SendError`] if it was not accepted — unless the sender
//! is dropped while the kernel still holds it (then it is leaked, as above).

//!
//! # Kernel versions
//!
//! Zero-copy send (`IORING_OP_SEND_ZC`) needs Linux 6.0, `sendmsg_zc` (datagrams to an
//! address) 6.1, and the copy report (`IORING_SEND_ZC_REPORT_USAGE`) 6.2; on older kernels
//! the sender falls back to plain `send` (5.6) as described above. [`Config::ring`] uses
//! `IORING_SETUP_CQSIZE` (5.5) and `IORING_SETUP_SUBMIT_ALL` (5.18). liburing and Zig have
//! no counterpart of this layer: they stop at `io_uring_prep_send_zc` and leave the buffer
//! contract to the caller.

mod buffer;
mod config;
mod driver;
mod memlock;
mod pool;
mod sender;
mod state;
mod stats;
mod types;

pub use buffer::{BufferKind, ZcBuffer};
pub use config::{Config, Policy};
pub use driver::{is_zc_user_data, Driver, DriverConfig, USER_DATA_TAG, USER_DATA_TAG_MASK};
pub use memlock::{Memlock, MemlockExceeded};
pub use pool::{BufferPool, PoolError, PoolSlot, MAX_POOL_SLOTS, MAX_SLOT_SIZE};
pub use sender::{Closed, ZcSender};
pub use stats::ZcStats;
pub use types::{
    BufferError, Completion, FallbackReason, PlainReason, SendError, SendErrorKind, SendPath,
    ZcError,
};
