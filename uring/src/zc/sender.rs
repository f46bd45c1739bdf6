//! [`ZcSender`]: owns buffers until the kernel lets go of them.

use core::fmt;
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use linux_raw_sys::net::{msghdr, MSG_WAITALL};
use rustix::io::Errno;
use rustix::net::SocketType;

use super::buffer::ZcBuffer;
use super::config::{Config, Policy};
use super::stats::ZcStats;
use super::types::{
    BufferError, Completion, FallbackReason, PlainReason, SendError, SendErrorKind, SendPath,
    ZcError,
};
use crate::addr::SockAddr;
use crate::cqe::Cqe;
use crate::error::EnterError;
use crate::register::iovec;
use crate::ring::IoUring;
use crate::sqe::Sqe;
use crate::sys::{self, io_uring_op};

/// The top byte of every user_data the sender puts on the ring. user_data values with this
/// top byte are reserved for zero-copy senders: do not use them for your own requests.
pub const USER_DATA_TAG: u64 = 0xA5 << 56;
/// The mask that selects the tag byte of a user_data (see [`USER_DATA_TAG`]).
pub const USER_DATA_TAG_MASK: u64 = 0xFF << 56;

/// Whether `user_data` lies in the namespace reserved for zero-copy senders.
#[inline]
pub fn is_zc_user_data(user_data: u64) -> bool {
    user_data & USER_DATA_TAG_MASK == USER_DATA_TAG
}

/// Sender ids are 24 bits (user_data bits 32..56).
const ID_MASK: u32 = 0x00FF_FFFF;

/// The kernel's cap on one read/write (`MAX_RW_COUNT`, INT_MAX rounded down to a page);
/// a longer buffer is sent in several requests.
const MAX_RW: usize = 0x7FFF_F000;

/// Consecutive requests of one buffer that may make no progress (a transient error, or a
/// zero-byte send) before the buffer fails: every retry loop is bounded.
const MAX_STALLS: u8 = 16;

/// Ids of live senders, and of dropped senders that leaked requests (whose completions may
/// still arrive): never handed out twice, so a completion can only match its own sender.
struct Ids {
    next: u32,
    taken: BTreeSet<u32>,
}

static IDS: Mutex<Ids> = Mutex::new(Ids {
    next: 1,
    taken: BTreeSet::new(),
});

fn alloc_id() -> Option<u32> {
    let mut ids = IDS.lock().unwrap_or_else(|p| p.into_inner());
    for _ in 0..=ID_MASK {
        let id = ids.next;
        ids.next = (ids.next + 1) & ID_MASK;
        if ids.taken.insert(id) {
            return Some(id);
        }
    }
    None
}

fn release_id(id: u32) {
    let mut ids = IDS.lock().unwrap_or_else(|p| p.into_inner());
    ids.taken.remove(&id);
}

/// The msghdr of a `sendmsg`/`sendmsg_zc` to an explicit destination, boxed so that its
/// address (given to the kernel) does not change while the entry moves.
struct MsgParts {
    addr: SockAddr,
    iov: iovec,
    hdr: msghdr,
}

// SAFETY: the raw pointers in `iov` and `hdr` point into this box and into the buffer of
// the same entry, which moves between threads together with it; they are written only
// through `&mut` and read by the kernel only while a request is in flight, which the
// sender tracks.
unsafe impl Send for MsgParts {}
// SAFETY: shared references never read through the pointers.
unsafe impl Sync for MsgParts {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting in `queue` for a (next) request.
    Queued,
    /// A request was pushed to the SQ and its first completion has not been seen.
    InFlight,
    /// Neither: waiting for its chain to resolve, or for notifications.
    Idle,
}

struct Entry {
    buf: ZcBuffer,
    len: usize,
    sent: usize,
    seq: u64,
    msg: Option<Box<MsgParts>>,
    dest: Option<SocketAddr>,
    state: State,
    /// The path chosen at the first request; kept for continuations unless the sender
    /// falls back.
    path: Option<SendPath>,
    /// First-completion result of the current request, until its chain resolves.
    res: Option<i32>,
    /// Result of the latest zero-copy request (i32::MAX while unknown).
    last_zc_res: i32,
    notifs_expected: u32,
    notifs_seen: u32,
    /// Requests submitted for this buffer. Each has its own user_data: the slot's
    /// generation is advanced for every request, so the requests of this buffer carry the
    /// generations `gen_first ..= slot.gen`.
    requests: u32,
    gen_first: u16,
    /// A notification (its `res`) for the request in flight, seen before that request's
    /// first completion: it counts only if that completion has `F_MORE`.
    early_notif: Option<i32>,
    copied: bool,
    stalls: u8,
    outcome: Option<Result<usize, BufferError>>,
}

impl Entry {
    /// Whether the kernel may still read this entry's memory.
    fn kernel_holds(&self) -> bool {
        self.state == State::InFlight || self.notifs_seen < self.notifs_expected
    }
}

struct Slot {
    gen: u16,
    entry: Option<Entry>,
}

/// How the first completion of a request is read.
enum ResKind {
    Sent(usize),
    Canceled,
    Unsupported,
    Transient(Errno),
    Error(Errno),
}

fn classify(res: i32, was_zc: bool) -> ResKind {
    if res >= 0 {
        return ResKind::Sent(res as usize);
    }
    let errno = Errno::from_raw_os_error(res.wrapping_neg());
    match errno {
        Errno::CANCELED => ResKind::Canceled,
        Errno::OPNOTSUPP if was_zc => ResKind::Unsupported,
        Errno::AGAIN | Errno::INTR | Errno::NOBUFS | Errno::NOMEM => ResKind::Transient(errno),
        _ => ResKind::Error(errno),
    }
}

#[derive(Debug, Default)]
struct Adaptive {
    /// The kernel copies zero-copy sends on this socket: send plain.
    copying: bool,
    copied_streak: u32,
    since_probe: u32,
}

/// A safe zero-copy sender over one socket.
///
/// It takes ownership of each buffer ([`send`](Self::send)), sends it with `send_zc`,
/// `send_zc_fixed` (pool slots), `sendmsg_zc` (datagrams to an address), or plain `send`
/// (see [`Policy`]), and gives it back in a [`Completion`] only after the kernel's last
/// completion for it: the notification of a zero-copy send, or a first completion without
/// `IORING_CQE_F_MORE`. See the [module documentation](super) for the design, the ring it
/// needs and what happens on errors and on drop.
pub struct ZcSender {
    id: u32,
    ring_fd: RawFd,
    socket: Option<OwnedFd>,
    fd: RawFd,
    stream: bool,
    config: Config,
    fallback: Option<FallbackReason>,
    slots: Vec<Slot>,
    free: Vec<u16>,
    queue: VecDeque<u16>,
    /// Stream sockets: the members of the chain in flight, in stream order.
    chain: Vec<u16>,
    chain_pending: u32,
    /// Requests whose first completion has not been seen.
    inflight: u32,
    done: VecDeque<Completion>,
    foreign: Vec<Cqe>,
    error: Option<Errno>,
    deferred: Option<ZcError>,
    adaptive: Adaptive,
    stats: ZcStats,
    next_seq: u64,
    owned_bytes: usize,
    owned_buffers: u32,
    scratch: Vec<u16>,
    /// Set when the sender leaked requests: its id is then never reused.
    id_leaked: bool,
    /// user_data of zero-copy requests whose first completion had no `F_MORE` and that may
    /// still post a stray notification (FINDINGS.md 1: Linux 6.18 does, after a link
    /// cancel): consumed and counted when it comes, and never given to a new request.
    strays: HashSet<u64>,
}

impl fmt::Debug for ZcSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZcSender")
            .field("id", &self.id)
            .field("fd", &self.fd)
            .field("stream", &self.stream)
            .field("policy", &self.config.policy)
            .field("fallback", &self.fallback)
            .field("error", &self.error)
            .field("owned_bytes", &self.owned_bytes)
            .field("owned_buffers", &self.owned_buffers)
            .field("inflight", &self.inflight)
            .finish_non_exhaustive()
    }
}

impl ZcSender {
    /// A sender over `socket` (a connected TCP stream, a UDP socket connected or not, a
    /// Unix socket, …: anything that converts into an `OwnedFd`), for use with `ring`
    /// only. Probes the ring for IORING_OP_SEND_ZC (and SENDMSG_ZC for datagram sockets)
    /// and reads the socket type (SO_TYPE). The socket is closed when the sender is
    /// dropped (requests still in flight keep it open in the kernel until they finish).
    ///
    /// The ring should have room for two completions per buffer the sender may own
    /// ([`Config::max_buffers`]) besides its other work: [`Config::ring`] makes one.
    pub fn new(
        ring: &IoUring,
        socket: impl Into<OwnedFd>,
        config: Config,
    ) -> Result<ZcSender, ZcError> {
        config.validate().map_err(ZcError::InvalidConfig)?;
        let socket: OwnedFd = socket.into();
        let ty = rustix::net::sockopt::socket_type(&socket).map_err(ZcError::NotASocket)?;
        let stream = ty == SocketType::STREAM || ty == SocketType::SEQPACKET;
        let zc_in_probe = match ring.get_probe() {
            Ok(p) => {
                p.is_supported(io_uring_op::IORING_OP_SEND_ZC)
                    && (stream || p.is_supported(io_uring_op::IORING_OP_SENDMSG_ZC))
            }
            Err(_) => false,
        };
        let fallback = if config.force_fallback {
            Some(FallbackReason::Forced)
        } else if !zc_in_probe {
            Some(FallbackReason::NotInProbe)
        } else {
            None
        };
        let id = alloc_id().ok_or(ZcError::InvalidConfig("no free sender id"))?;
        let fd = socket.as_raw_fd();
        Ok(ZcSender {
            id,
            ring_fd: ring.fd(),
            socket: Some(socket),
            fd,
            stream,
            fallback,
            slots: Vec::new(),
            free: Vec::new(),
            queue: VecDeque::new(),
            chain: Vec::with_capacity(config.depth as usize),
            chain_pending: 0,
            inflight: 0,
            done: VecDeque::new(),
            foreign: Vec::new(),
            error: None,
            deferred: None,
            adaptive: Adaptive::default(),
            stats: ZcStats::default(),
            next_seq: 0,
            owned_bytes: 0,
            owned_buffers: 0,
            scratch: Vec::new(),
            id_leaked: false,
            strays: HashSet::new(),
            config,
        })
    }

    // ---------------------------------------------------------------- accessors

    /// The counters.
    pub fn stats(&self) -> &ZcStats {
        &self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The error that ended the stream, if one did. It is reported once, on the buffer
    /// whose send failed ([`BufferError::Failed`]); later buffers come back as
    /// [`BufferError::NotSent`], and new ones are refused with [`ZcError::Broken`].
    pub fn error(&self) -> Option<Errno> {
        self.error
    }

    /// Why the sender sends with plain send, if it does (forced, probe, EOPNOTSUPP).
    pub fn fallback(&self) -> Option<FallbackReason> {
        self.fallback
    }

    /// Whether the socket is a stream (SOCK_STREAM or SOCK_SEQPACKET): sends are ordered
    /// with `IOSQE_IO_LINK` chains and continued when short.
    pub fn is_stream(&self) -> bool {
        self.stream
    }

    /// The socket, borrowed (for `getsockopt`, `shutdown`, …). Do not close it.
    pub fn socket(&self) -> BorrowedFd<'_> {
        // SAFETY: `fd` is the fd of `self.socket`, which is `Some` for the whole life of
        // the sender (taken out only by `close`, which consumes the sender).
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }

    /// This sender's id: bits 32..56 of every user_data it uses.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Whether a completion with this user_data belongs to this sender.
    pub fn owns_user_data(&self, user_data: u64) -> bool {
        is_zc_user_data(user_data) && ((user_data >> 32) as u32 & ID_MASK) == self.id
    }

    /// Bytes the sender owns now (queued, in flight, or awaiting notification).
    pub fn bytes_in_flight(&self) -> usize {
        self.owned_bytes
    }

    /// Buffers the sender owns now.
    pub fn buffers_in_flight(&self) -> usize {
        self.owned_buffers as usize
    }

    /// Whether a buffer of `len` bytes would be accepted now without waiting.
    pub fn has_room(&self, len: usize) -> bool {
        self.owned_bytes.saturating_add(len) <= self.config.budget_bytes
            && self.owned_buffers < self.config.max_buffers
    }

    // ---------------------------------------------------------------- sending

    /// Hands `buffer` to the sender, blocking while the budget is full: it drives the
    /// ring (submits, waits for completions, reaps them) until there is room, at most
    /// [`Config::wait_timeout`]. On success the buffer is queued and, if the socket is
    /// idle, submitted; it comes back later through [`completions`](Self::completions).
    /// On error it comes back at once in [`SendError::buffer`].
    ///
    /// Completions of other requests reaped meanwhile are kept for
    /// [`foreign_cqes`](Self::foreign_cqes).
    pub fn send(
        &mut self,
        ring: &mut IoUring,
        buffer: impl Into<ZcBuffer>,
    ) -> Result<(), SendError> {
        self.send_inner(ring, buffer.into(), None, true)
    }

    /// Like [`send`](Self::send), but never waits: when the budget is full it reaps what
    /// is ready and, if there is still no room, hands the buffer back with
    /// [`SendErrorKind::WouldBlock`].
    pub fn try_send(
        &mut self,
        ring: &mut IoUring,
        buffer: impl Into<ZcBuffer>,
    ) -> Result<(), SendError> {
        self.send_inner(ring, buffer.into(), None, false)
    }

    /// [`send`](Self::send) of one datagram to `dest` (`sendmsg_zc` with `msg_name`), on a
    /// datagram socket, connected or not. A stream socket refuses it
    /// ([`SendErrorKind::AddressOnStream`]).
    pub fn send_to(
        &mut self,
        ring: &mut IoUring,
        buffer: impl Into<ZcBuffer>,
        dest: SocketAddr,
    ) -> Result<(), SendError> {
        self.send_inner(ring, buffer.into(), Some(dest), true)
    }

    /// The non-blocking [`send_to`](Self::send_to).
    pub fn try_send_to(
        &mut self,
        ring: &mut IoUring,
        buffer: impl Into<ZcBuffer>,
        dest: SocketAddr,
    ) -> Result<(), SendError> {
        self.send_inner(ring, buffer.into(), Some(dest), false)
    }

    fn send_inner(
        &mut self,
        ring: &mut IoUring,
        buffer: ZcBuffer,
        dest: Option<SocketAddr>,
        block: bool,
    ) -> Result<(), SendError> {
        let refuse = |buffer, kind| Err(SendError { buffer, kind });
        if ring.fd() != self.ring_fd {
            return refuse(buffer, SendErrorKind::Sender(ZcError::WrongRing));
        }
        if dest.is_some() && self.stream {
            return refuse(buffer, SendErrorKind::AddressOnStream);
        }
        let len = buffer.len();
        if len > self.config.budget_bytes {
            return refuse(buffer, SendErrorKind::TooLarge);
        }
        let deadline = self.config.wait_timeout.map(|t| Instant::now() + t);
        if let Err(e) = self.progress(ring) {
            return refuse(buffer, SendErrorKind::Sender(e));
        }
        loop {
            if let Some(e) = self.error {
                return refuse(buffer, SendErrorKind::Sender(ZcError::Broken(e)));
            }
            if self.has_room(len) {
                break;
            }
            if !block {
                self.stats.would_block += 1;
                return refuse(buffer, SendErrorKind::WouldBlock);
            }
            if let Err(e) = self
                .wait_one(ring, deadline)
                .and_then(|()| self.progress(ring))
            {
                return refuse(buffer, SendErrorKind::Sender(e));
            }
        }
        self.accept(buffer, dest);
        // The buffer is ours now: an error of the ring from here on is reported by the
        // next call rather than with this buffer.
        if let Err(e) = self.progress(ring) {
            self.deferred.get_or_insert(e);
        }
        Ok(())
    }

    fn accept(&mut self, buf: ZcBuffer, dest: Option<SocketAddr>) {
        let len = buf.len();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.stats.buffers_submitted += 1;
        self.stats.bytes_submitted += len as u64;
        if len == 0 && self.stream {
            // Nothing to put on a stream: done at once.
            self.stats.buffers_completed += 1;
            self.stats.buffers_returned += 1;
            self.done.push_back(Completion {
                buffer: buf,
                result: Ok(0),
                copied: false,
                path: None,
                dest,
                seq,
            });
            return;
        }
        let msg = dest.map(|d| {
            Box::new(MsgParts {
                addr: SockAddr::from(d),
                iov: iovec {
                    iov_base: core::ptr::null_mut(),
                    iov_len: 0,
                },
                // SAFETY: msghdr is plain integers and pointers; all-zero (null pointers,
                // zero lengths) is a valid value. It is filled before each request.
                hdr: unsafe { core::mem::zeroed() },
            })
        });
        let entry = Entry {
            buf,
            len,
            sent: 0,
            seq,
            msg,
            dest,
            state: State::Queued,
            path: None,
            res: None,
            last_zc_res: i32::MAX,
            notifs_expected: 0,
            notifs_seen: 0,
            requests: 0,
            gen_first: 0,
            early_notif: None,
            copied: false,
            stalls: 0,
            outcome: None,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[usize::from(s)].entry = Some(entry);
                s
            }
            None => {
                // has_room() keeps owned_buffers < max_buffers <= 65536, so the slab never
                // grows past u16 indices.
                let s = self.slots.len() as u16;
                self.slots.push(Slot {
                    gen: 0,
                    entry: Some(entry),
                });
                s
            }
        };
        self.queue.push_back(slot);
        self.owned_bytes += len;
        self.owned_buffers += 1;
        self.stats.bytes_in_flight = self.owned_bytes as u64;
        self.stats.buffers_in_flight = u64::from(self.owned_buffers);
        self.stats.peak_bytes_in_flight =
            self.stats.peak_bytes_in_flight.max(self.owned_bytes as u64);
        self.stats.peak_buffers_in_flight = self
            .stats
            .peak_buffers_in_flight
            .max(u64::from(self.owned_buffers));
    }

    // ---------------------------------------------------------------- driving

    /// Reaps what is ready, submits queued buffers the socket can take, and returns how
    /// many completions are waiting in [`completions`](Self::completions). Never blocks.
    pub fn poll(&mut self, ring: &mut IoUring) -> Result<usize, ZcError> {
        self.check_ring(ring)?;
        self.progress(ring)?;
        Ok(self.done.len())
    }

    /// Drives the ring until at least one buffer is back (or nothing is owned), waiting at
    /// most [`Config::wait_timeout`]; returns how many completions are waiting.
    pub fn wait(&mut self, ring: &mut IoUring) -> Result<usize, ZcError> {
        self.check_ring(ring)?;
        let deadline = self.config.wait_timeout.map(|t| Instant::now() + t);
        self.progress(ring)?;
        while self.done.is_empty() && self.owned_buffers > 0 {
            self.wait_one(ring, deadline)?;
            self.progress(ring)?;
        }
        Ok(self.done.len())
    }

    /// Drives the ring until every buffer the sender owns is back (all sent, failed or
    /// not sent, and notified), or `timeout` passes ([`ZcError::TimedOut`]; nothing is
    /// lost, call again). Use it before dropping the sender, so that nothing leaks.
    pub fn wait_all(&mut self, ring: &mut IoUring, timeout: Duration) -> Result<(), ZcError> {
        self.check_ring(ring)?;
        let deadline = Some(Instant::now() + timeout);
        self.progress(ring)?;
        while self.owned_buffers > 0 {
            self.wait_one(ring, deadline)?;
            self.progress(ring)?;
        }
        Ok(())
    }

    /// Takes the buffers that are back, with their outcomes, in the order they came back.
    pub fn completions(&mut self) -> std::collections::vec_deque::Drain<'_, Completion> {
        self.done.drain(..)
    }

    /// Takes one buffer that is back, if any.
    pub fn next_completion(&mut self) -> Option<Completion> {
        self.done.pop_front()
    }

    /// Takes the completions of other requests that the sender reaped from the shared ring
    /// while driving it, untouched and in the order reaped.
    pub fn foreign_cqes(&mut self) -> std::vec::Drain<'_, Cqe> {
        self.foreign.drain(..)
    }

    /// Routes one completion reaped by someone else: returns true if it belonged to this
    /// sender (and consumes it), false if not (it is yours to handle). Every notification
    /// carrying this sender's id is its own and consumed, including stray ones (see the
    /// [module documentation](super)). After routing, call [`poll`](Self::poll) to submit
    /// what became possible.
    ///
    /// The sender trusts that `cqe` really came from the kernel for its ring. A made-up
    /// completion with this sender's user_data could make it hand a buffer back while the
    /// kernel still reads it: the bytes sent could then be wrong. It is not memory-unsafe
    /// (the kernel only reads send buffers, and holds its own references to the pages),
    /// but do not forge completions.
    pub fn handle_cqe(&mut self, cqe: &Cqe) -> bool {
        if !self.owns_user_data(cqe.user_data) {
            return false;
        }
        let index = cqe.user_data as u16;
        let gen = (cqe.user_data >> 16) as u16;
        if cqe.notif() {
            // Every notification with this sender's id is its own (ids are never shared),
            // so it is consumed, never handed back as foreign; it counts for a buffer only
            // if it is the one a request of that buffer still owes.
            if !self.strays.is_empty() && self.strays.remove(&cqe.user_data) {
                self.stats.stray_notifications += 1;
                return true;
            }
            let Some(slot) = self.slots.get_mut(usize::from(index)) else {
                self.stats.stray_notifications += 1;
                return true;
            };
            let latest = slot.gen;
            let target = slot.entry.as_mut().and_then(|e| {
                let span = latest.wrapping_sub(e.gen_first);
                let ours = e.requests > 0
                    && (e.requests > u32::from(u16::MAX) || gen.wrapping_sub(e.gen_first) <= span);
                if !ours {
                    None
                } else if gen == latest && e.state == State::InFlight {
                    // Before its own first completion: that decides whether it counts.
                    let zc = e.path.is_some_and(SendPath::is_zero_copy);
                    (zc && e.early_notif.is_none()).then(|| {
                        e.early_notif = Some(cqe.res);
                        false
                    })
                } else {
                    (e.notifs_seen < e.notifs_expected).then_some(true)
                }
            });
            match target {
                Some(true) => self.on_notif(index, cqe.res),
                Some(false) => {}
                None => self.stats.stray_notifications += 1,
            }
            return true;
        }
        let Some(slot) = self.slots.get(usize::from(index)) else {
            return false;
        };
        let Some(e) = slot.entry.as_ref().filter(|_| slot.gen == gen) else {
            return false;
        };
        if e.state != State::InFlight {
            return false;
        }
        self.on_result(index, cqe);
        true
    }

    fn check_ring(&self, ring: &IoUring) -> Result<(), ZcError> {
        if ring.fd() != self.ring_fd {
            return Err(ZcError::WrongRing);
        }
        Ok(())
    }

    /// Reap, then push and submit chains while the socket can take them.
    fn progress(&mut self, ring: &mut IoUring) -> Result<(), ZcError> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        self.reap(ring)?;
        // Keep going while chains complete during their own submission (common: the
        // socket had room), so that the queue never sits idle with nothing in flight, which
        // would leave a waiter with nothing to wake it. Each round submits at least one
        // request; a buffer takes at most 1 + MAX_STALLS requests without progress, plus
        // one per partial send: the bound below is never the reason to stop in practice.
        let mut rounds = self
            .queue
            .len()
            .saturating_mul(usize::from(MAX_STALLS) + 2)
            .saturating_add(2);
        while rounds > 0 && self.pump(ring) > 0 {
            rounds -= 1;
            self.submit(ring)?;
            // Sends often complete during the submit itself; reap them so that the next
            // chain can go in the same call.
            self.reap(ring)?;
        }
        Ok(())
    }

    fn submit(&mut self, ring: &mut IoUring) -> Result<(), ZcError> {
        match ring.submit() {
            Ok(_) => Ok(()),
            // The SQEs stay in the SQ and go with the next enter.
            Err(
                EnterError::SystemResources
                | EnterError::CompletionQueueOvercommitted
                | EnterError::SignalInterrupt,
            ) => Ok(()),
            Err(e) => Err(ZcError::Enter(e)),
        }
    }

    fn reap(&mut self, ring: &mut IoUring) -> Result<(), ZcError> {
        let mut cqes = [Cqe::default(); 32];
        loop {
            let n = match ring.copy_cqes(&mut cqes, 0) {
                Ok(n) => n as usize,
                Err(EnterError::SignalInterrupt) => 0,
                Err(e) => return Err(ZcError::Enter(e)),
            };
            for cqe in &cqes[..n] {
                if !self.handle_cqe(cqe) {
                    self.foreign.push(*cqe);
                }
            }
            if n < cqes.len() {
                return Ok(());
            }
        }
    }

    /// One bounded wait for at least one completion (any, ours or not).
    fn wait_one(&mut self, ring: &mut IoUring, deadline: Option<Instant>) -> Result<(), ZcError> {
        let r = match deadline {
            None => ring.submit_and_wait(1),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Err(ZcError::TimedOut);
                }
                ring.submit_and_wait_timeout(1, d - now)
                    .map(|w| w.submitted)
            }
        };
        match r {
            Ok(_)
            | Err(
                EnterError::Timeout
                | EnterError::SignalInterrupt
                | EnterError::SystemResources
                | EnterError::CompletionQueueOvercommitted,
            ) => Ok(()),
            Err(e) => Err(ZcError::Enter(e)),
        }
    }

    // ---------------------------------------------------------------- submission

    /// Pushes the next requests to the SQ (not submitted); returns how many.
    fn pump(&mut self, ring: &mut IoUring) -> u32 {
        if self.error.is_some() || self.queue.is_empty() {
            return 0;
        }
        let mut space = ring.sq_space_left();
        if space == 0 {
            // Full of SQEs not yet submitted (ours or others'): submit them to make room.
            let _ = self.submit(ring);
            space = ring.sq_space_left();
        }
        if self.stream {
            // One chain at a time: a new chain only when every request of the previous
            // one has completed, so that two chains never race for the socket.
            if !self.chain.is_empty() {
                return 0;
            }
            let n = (self.config.depth).min(space).min(self.queue.len() as u32);
            for i in 0..n {
                let Some(slot) = self.queue.pop_front() else {
                    break;
                };
                let link = i + 1 < n;
                if !self.push_request(ring, slot, link) {
                    break;
                }
                self.chain.push(slot);
            }
            let pushed = self.chain.len() as u32;
            self.chain_pending = pushed;
            if pushed > 0 {
                self.stats.chains += 1;
            }
            pushed
        } else {
            let mut pushed = 0;
            while self.inflight < self.config.depth && pushed < space {
                let Some(slot) = self.queue.pop_front() else {
                    break;
                };
                if !self.push_request(ring, slot, false) {
                    break;
                }
                pushed += 1;
            }
            pushed
        }
    }

    /// The path for a buffer's first request.
    fn choose_path(&mut self, len: usize, fixed: bool) -> SendPath {
        let zc = if fixed {
            SendPath::ZeroCopyFixed
        } else {
            SendPath::ZeroCopy
        };
        if self.fallback.is_some() {
            return SendPath::Plain(PlainReason::Fallback);
        }
        match self.config.policy {
            Policy::Always => zc,
            Policy::Never => SendPath::Plain(PlainReason::Policy),
            Policy::Adaptive => {
                if len < self.config.adaptive_min_size {
                    SendPath::Plain(PlainReason::BelowThreshold)
                } else if self.adaptive.copying {
                    self.adaptive.since_probe += 1;
                    if self.adaptive.since_probe >= self.config.adaptive_reprobe_every {
                        self.adaptive.since_probe = 0;
                        self.stats.adaptive_probes += 1;
                        zc
                    } else {
                        SendPath::Plain(PlainReason::KernelCopies)
                    }
                } else {
                    zc
                }
            }
        }
    }

    /// Prepares and pushes the next request of `slot`; false if the SQ had no room (the
    /// slot goes back to the front of the queue).
    fn push_request(&mut self, ring: &mut IoUring, slot: u16, link: bool) -> bool {
        let ring_fd = self.ring_fd;
        let (fd, stream, id) = (self.fd, self.stream, self.id);
        // Every request gets a user_data of its own: a late notification of an earlier
        // request (FINDINGS.md 1) can then never be taken for this one's. Skip those of
        // requests that may still notify (bounded: each step passes one of them).
        let ud_of = |gen: u16| {
            USER_DATA_TAG | (u64::from(id) << 32) | (u64::from(gen) << 16) | u64::from(slot)
        };
        let mut gen = self.slots[usize::from(slot)].gen.wrapping_add(1);
        while !self.strays.is_empty() && self.strays.contains(&ud_of(gen)) {
            gen = gen.wrapping_add(1);
        }
        let Some(len) = self.slots[usize::from(slot)].entry.as_ref().map(|e| e.len) else {
            return false;
        };
        let (fixed, has_path) = {
            let e = self.slots[usize::from(slot)].entry.as_ref();
            let fixed = e.is_some_and(|e| {
                e.msg.is_none() && e.buf.slot().is_some_and(|s| s.registered_with(ring_fd))
            });
            (fixed, e.is_some_and(|e| e.path.is_some()))
        };
        let chosen = if has_path {
            None
        } else {
            Some(self.choose_path(len, fixed))
        };
        let fallback = self.fallback.is_some();
        let s = &mut self.slots[usize::from(slot)];
        let Some(e) = s.entry.as_mut() else {
            return false;
        };
        if let Some(p) = chosen {
            e.path = Some(p);
        }
        if fallback {
            e.path = Some(SendPath::Plain(PlainReason::Fallback));
        }
        let path = e.path.unwrap_or(SendPath::Plain(PlainReason::Fallback));
        let start = e.sent.min(e.len);
        let end = e.len.min(start + MAX_RW);
        let data = &e.buf.as_slice()[start..end];
        let flags = if stream { MSG_WAITALL } else { 0 };
        let usage = sys::IORING_SEND_ZC_REPORT_USAGE as u16;
        let mut sqe = Sqe::default();
        match (path, e.msg.as_deref_mut()) {
            (path, Some(parts)) => {
                parts.iov = iovec {
                    iov_base: data.as_ptr().cast_mut().cast(),
                    iov_len: data.len() as _,
                };
                parts.hdr = msghdr {
                    msg_name: parts.addr.as_ptr().cast_mut().cast(),
                    msg_namelen: parts.addr.len() as _,
                    // The kernel's net iovec is the same `struct iovec` (bindgen keeps it opaque there).
                    msg_iov: (&mut parts.iov as *mut iovec).cast(),
                    msg_iovlen: 1,
                    msg_control: core::ptr::null_mut(),
                    msg_controllen: 0,
                    msg_flags: 0,
                };
                if path.is_zero_copy() {
                    sqe.prep_sendmsg_zc(fd, &parts.hdr, flags);
                    sqe.ioprio = usage;
                } else {
                    sqe.prep_sendmsg(fd, &parts.hdr, flags);
                }
            }
            (SendPath::ZeroCopyFixed, None) => {
                let index = e.buf.slot().map_or(0, |s| s.buf_index());
                sqe.prep_send_zc_fixed(fd, data, flags, usage, index);
            }
            (SendPath::ZeroCopy, None) => sqe.prep_send_zc(fd, data, flags, usage),
            (SendPath::Plain(_), None) => sqe.prep_send(fd, data, flags),
        }
        sqe.user_data = ud_of(gen);
        if link {
            sqe.flags |= sys::IOSQE_IO_LINK;
        }
        // SAFETY: the SQE names `data` (and, for sendmsg, the boxed msghdr, iovec and
        // address): memory owned by this entry, at addresses that do not move (heap,
        // 'static or pool mapping, see `ZcBuffer`; the box), that nobody can write while
        // the sender owns the buffer. The entry is released only after the kernel's last
        // completion for it (first completion without F_MORE, or the notification), and
        // leaked if the sender is dropped before (`Drop for ZcSender`), so the memory
        // stays valid and unmodified for as long as the kernel may read it. `fd` is the
        // socket owned by the sender.
        if unsafe { ring.push(&sqe) }.is_err() {
            self.queue.push_front(slot);
            return false;
        }
        e.state = State::InFlight;
        e.res = None;
        e.early_notif = None;
        if e.requests == 0 {
            e.gen_first = gen;
        }
        e.requests = e.requests.saturating_add(1);
        s.gen = gen;
        let zc = path.is_zero_copy();
        if zc {
            e.last_zc_res = i32::MAX;
        }
        self.inflight += 1;
        self.stats.requests += 1;
        if zc {
            self.stats.zc_requests += 1;
        }
        if path == SendPath::ZeroCopyFixed {
            self.stats.fixed_requests += 1;
        }
        true
    }

    // ---------------------------------------------------------------- completions

    fn on_result(&mut self, slot: u16, cqe: &Cqe) {
        let Some(e) = self.slots[usize::from(slot)].entry.as_mut() else {
            return;
        };
        e.state = State::Idle;
        if cqe.more() {
            e.notifs_expected += 1;
        }
        let zc = e.path.is_some_and(SendPath::is_zero_copy);
        if zc {
            e.last_zc_res = cqe.res;
        }
        let early = e.early_notif.take();
        if zc && !cqe.more() {
            // No notification is owed, yet Linux 6.18 may post one (a link-cancelled
            // send does): a stray, consumed when it comes, counted for nothing.
            if early.is_some() {
                self.stats.stray_notifications += 1;
            } else {
                self.strays.insert(cqe.user_data);
            }
        }
        if self.stream {
            e.res = Some(cqe.res);
        }
        self.inflight = self.inflight.saturating_sub(1);
        if let (true, Some(res)) = (cqe.more(), early) {
            // The notification came first: it is the one this request owes.
            self.count_notif(slot, res);
        }
        if self.stream {
            self.chain_pending = self.chain_pending.saturating_sub(1);
            if self.chain_pending == 0 {
                self.resolve_chain();
            }
        } else {
            self.resolve_datagram(slot, cqe.res);
        }
    }

    fn on_notif(&mut self, slot: u16, res: i32) {
        self.count_notif(slot, res);
        self.try_finalize(slot);
    }

    /// Counts a notification owed to the entry in `slot` (`res`: its usage bits).
    fn count_notif(&mut self, slot: u16, res: i32) {
        let Some(e) = self.slots[usize::from(slot)].entry.as_mut() else {
            return;
        };
        e.notifs_seen += 1;
        self.stats.notifications += 1;
        // ZC_COPIED is also set when nothing was sent; only count sends that sent bytes.
        let copied = res as u32 & sys::IORING_NOTIF_USAGE_ZC_COPIED != 0;
        let feedback = if copied {
            if e.last_zc_res > 0 {
                e.copied = true;
                self.stats.copied += 1;
                Some(true)
            } else {
                None
            }
        } else {
            Some(false)
        };
        if let Some(copied) = feedback {
            self.adaptive_feedback(copied);
        }
    }

    fn adaptive_feedback(&mut self, copied: bool) {
        if self.config.policy != Policy::Adaptive {
            return;
        }
        let a = &mut self.adaptive;
        if copied {
            a.copied_streak = a.copied_streak.saturating_add(1);
            if !a.copying && a.copied_streak >= self.config.adaptive_copied_limit {
                a.copying = true;
                a.since_probe = 0;
                self.stats.adaptive_switches += 1;
            }
        } else {
            a.copied_streak = 0;
            if a.copying {
                a.copying = false;
                self.stats.adaptive_switches += 1;
            }
        }
    }

    /// Stream: every request of the chain has its first completion; decide, in stream
    /// order, what each member needs.
    fn resolve_chain(&mut self) {
        let chain = core::mem::take(&mut self.chain);
        let mut requeue = core::mem::take(&mut self.scratch);
        requeue.clear();
        // Set once a member stopped the chain (short, failed): IOSQE_IO_LINK then cancels
        // every later member without sending anything of it.
        let mut broken = false;
        for &slot in &chain {
            let Some(e) = self.slots[usize::from(slot)].entry.as_mut() else {
                continue;
            };
            let res = e.res.take().unwrap_or(-Errno::CANCELED.raw_os_error());
            let was_zc = e.path.is_some_and(SendPath::is_zero_copy);
            match classify(res, was_zc) {
                ResKind::Sent(n) => {
                    e.sent = (e.sent + n).min(e.len);
                    self.stats.bytes_completed += n as u64;
                    if e.sent >= e.len {
                        e.outcome = Some(Ok(e.sent));
                        self.stats.buffers_completed += 1;
                    } else {
                        // Short: the remainder goes before any later buffer.
                        broken = true;
                        e.stalls = if n == 0 { e.stalls + 1 } else { 0 };
                        if e.stalls > MAX_STALLS {
                            self.fail(slot, Errno::IO);
                        } else {
                            self.stats.continuations += 1;
                            requeue.push(slot);
                        }
                    }
                }
                ResKind::Canceled if broken => requeue.push(slot),
                ResKind::Canceled => {
                    // Cancelled by someone else (ASYNC_CANCEL, ring teardown): treat as the
                    // stream's error, since the bytes cannot be put back in order.
                    broken = true;
                    self.fail(slot, Errno::CANCELED);
                }
                ResKind::Unsupported => {
                    broken = true;
                    self.fallback.get_or_insert(FallbackReason::Unsupported);
                    self.stats.retries += 1;
                    requeue.push(slot);
                }
                ResKind::Transient(errno) => {
                    broken = true;
                    e.stalls += 1;
                    if e.stalls > MAX_STALLS {
                        self.fail(slot, errno);
                    } else {
                        self.stats.retries += 1;
                        requeue.push(slot);
                    }
                }
                ResKind::Error(errno) => {
                    broken = true;
                    self.fail(slot, errno);
                }
            }
        }
        // Back to the front of the queue, in stream order: the queue holds only buffers
        // that come after every member of this chain.
        for &slot in requeue.iter().rev() {
            if let Some(e) = self.slots[usize::from(slot)].entry.as_mut() {
                e.state = State::Queued;
                self.queue.push_front(slot);
            }
        }
        if self.error.is_some() {
            self.abandon_queue();
        }
        for &slot in &chain {
            self.try_finalize(slot);
        }
        self.scratch = requeue;
        self.chain = chain;
        self.chain.clear();
    }

    fn resolve_datagram(&mut self, slot: u16, res: i32) {
        let Some(e) = self.slots[usize::from(slot)].entry.as_mut() else {
            return;
        };
        let was_zc = e.path.is_some_and(SendPath::is_zero_copy);
        match classify(res, was_zc) {
            ResKind::Sent(n) => {
                e.sent = n.min(e.len);
                e.outcome = Some(Ok(e.sent));
                self.stats.bytes_completed += n as u64;
                self.stats.buffers_completed += 1;
            }
            ResKind::Unsupported => {
                self.fallback.get_or_insert(FallbackReason::Unsupported);
                self.stats.retries += 1;
                e.state = State::Queued;
                self.queue.push_front(slot);
            }
            ResKind::Transient(errno) => {
                e.stalls += 1;
                if e.stalls > MAX_STALLS {
                    self.fail_datagram(slot, errno);
                } else {
                    self.stats.retries += 1;
                    e.state = State::Queued;
                    self.queue.push_front(slot);
                }
            }
            ResKind::Canceled => self.fail_datagram(slot, Errno::CANCELED),
            ResKind::Error(errno) => self.fail_datagram(slot, errno),
        }
        self.try_finalize(slot);
    }

    /// A datagram's own error: it concerns that datagram only.
    fn fail_datagram(&mut self, slot: u16, errno: Errno) {
        if let Some(e) = self.slots[usize::from(slot)].entry.as_mut() {
            e.outcome = Some(Err(BufferError::Failed {
                errno,
                sent: e.sent,
            }));
            self.stats.errors += 1;
            self.stats.buffers_completed += 1;
        }
    }

    /// The stream's error, on the buffer whose request failed: the first one is reported
    /// as `Failed`, anything after as `NotSent`.
    fn fail(&mut self, slot: u16, errno: Errno) {
        let Some(e) = self.slots[usize::from(slot)].entry.as_mut() else {
            return;
        };
        match self.error {
            None => {
                self.error = Some(errno);
                e.outcome = Some(Err(BufferError::Failed {
                    errno,
                    sent: e.sent,
                }));
                self.stats.errors += 1;
            }
            Some(cause) => {
                e.outcome = Some(Err(BufferError::NotSent {
                    cause,
                    sent: e.sent,
                }));
            }
        }
        self.stats.buffers_completed += 1;
    }

    /// After a stream error: nothing queued is sent; each buffer comes back `NotSent`.
    fn abandon_queue(&mut self) {
        let Some(cause) = self.error else {
            return;
        };
        while let Some(slot) = self.queue.pop_front() {
            if let Some(e) = self.slots[usize::from(slot)].entry.as_mut() {
                e.state = State::Idle;
                e.outcome = Some(Err(BufferError::NotSent {
                    cause,
                    sent: e.sent,
                }));
                self.stats.buffers_completed += 1;
            }
            self.try_finalize(slot);
        }
    }

    /// Hands the buffer back if its outcome is decided and the kernel is done with it.
    fn try_finalize(&mut self, slot: u16) {
        let s = &mut self.slots[usize::from(slot)];
        let ready = s.entry.as_ref().is_some_and(|e| {
            e.outcome.is_some() && e.state == State::Idle && e.notifs_seen >= e.notifs_expected
        });
        if !ready {
            return;
        }
        let Some(e) = s.entry.take() else {
            return;
        };
        s.gen = s.gen.wrapping_add(1);
        self.free.push(slot);
        self.owned_bytes -= e.len;
        self.owned_buffers -= 1;
        let st = &mut self.stats;
        st.bytes_in_flight = self.owned_bytes as u64;
        st.buffers_in_flight = u64::from(self.owned_buffers);
        st.buffers_returned += 1;
        st.bytes_returned += e.len as u64;
        let result = e.outcome.unwrap_or(Ok(e.sent));
        match (&result, e.path) {
            (Err(BufferError::NotSent { .. }), _) => st.not_sent += 1,
            (_, Some(SendPath::ZeroCopy | SendPath::ZeroCopyFixed)) => st.zero_copy += 1,
            (_, Some(SendPath::Plain(PlainReason::Fallback))) => st.fallback += 1,
            (_, Some(SendPath::Plain(PlainReason::Policy))) => st.plain_policy += 1,
            (_, Some(SendPath::Plain(PlainReason::BelowThreshold))) => st.plain_small += 1,
            (_, Some(SendPath::Plain(PlainReason::KernelCopies))) => st.plain_kernel_copies += 1,
            (_, None) => {}
        }
        self.done.push_back(Completion {
            buffer: e.buf,
            result,
            copied: e.copied,
            path: e.path,
            dest: e.dest,
            seq: e.seq,
        });
    }

    // ---------------------------------------------------------------- closing

    /// Waits (at most `timeout`) for every buffer to come back, then closes the sender:
    /// returns the buffers that came back, the socket, and how many buffers were leaked
    /// because the kernel still held them when the time was up (see the module docs).
    pub fn close(mut self, ring: &mut IoUring, timeout: Duration) -> Closed {
        let wait = self.wait_all(ring, timeout);
        let completions: Vec<Completion> = self.done.drain(..).collect();
        let leaked = self.release_all();
        Closed {
            completions,
            socket: self.socket.take(),
            leaked,
            error: wait.err(),
        }
    }

    /// Drops every entry the kernel no longer holds and leaks the others; returns how many
    /// were leaked.
    fn release_all(&mut self) -> usize {
        let mut leaked = 0;
        for slot in &mut self.slots {
            if let Some(e) = slot.entry.take() {
                if e.kernel_holds() {
                    // The kernel may still read this memory (a request in flight or a
                    // notification outstanding): it must never be freed or reused.
                    core::mem::forget(e);
                    leaked += 1;
                }
            }
        }
        self.queue.clear();
        self.chain.clear();
        self.owned_bytes = 0;
        self.owned_buffers = 0;
        if leaked > 0 {
            // Its completions may still arrive: keep the id so that no later sender can
            // mistake them for its own.
            self.id_leaked = true;
        }
        leaked
    }
}

/// What [`ZcSender::close`] hands back.
#[derive(Debug)]
#[non_exhaustive]
pub struct Closed {
    /// Buffers that came back, including those reaped during the close.
    pub completions: Vec<Completion>,
    /// The socket, open (drop it to close it).
    pub socket: Option<OwnedFd>,
    /// Buffers the kernel still held at the end of the wait: leaked on purpose, never
    /// freed, because the kernel may still read them.
    pub leaked: usize,
    /// Why the wait ended early (timeout, ring error), if it did.
    pub error: Option<ZcError>,
}

impl Drop for ZcSender {
    fn drop(&mut self) {
        self.release_all();
        if !self.id_leaked {
            release_id(self.id);
        }
    }
}

impl AsFd for ZcSender {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket()
    }
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod tests;
