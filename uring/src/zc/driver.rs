//! [`Driver`]: the owner of a ring for the safe layer, the only reaper of the completions
//! its senders act on.

use core::fmt;
use std::os::fd::BorrowedFd;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::io_uring::{io_uring_params, IoringSetupFlags};

use super::config::{Config, DriverConfig};
use super::memlock::{Memlock, MemlockExceeded};
use super::pool::{BufferPool, PoolError};
use super::shared::DriverShared;
use super::state::{Ctx, SenderState};
use super::types::ZcError;
use crate::cqe::Cqe;
use crate::error::EnterError;
use crate::register::iovec;
use crate::ring::IoUring;
use crate::sqe::Sqe;
use crate::sys;

/// The top byte of every user_data the safe layer puts on its ring. A driver's ring
/// reserves it: the ring's operation methods refuse it
/// ([`SqeError::ReservedUserData`](crate::SqeError::ReservedUserData)) and the ring's
/// reaping sets its completions aside for the driver, so no request of anyone else can
/// complete in this namespace.
pub const USER_DATA_TAG: u64 = 0xA5 << 56;
/// The mask that selects the tag byte of a user_data (see [`USER_DATA_TAG`]).
pub const USER_DATA_TAG_MASK: u64 = 0xFF << 56;

/// Whether `user_data` lies in the safe layer's namespace (on a driver's ring, only the
/// driver's requests carry it).
#[inline]
pub fn is_zc_user_data(user_data: u64) -> bool {
    user_data & USER_DATA_TAG_MASK == USER_DATA_TAG
}

/// The sender index of the driver's own requests (barriers), never a sender's.
const DRIVER_INDEX: u16 = u16::MAX;

/// The most registered buffers one ring can have (`IORING_MAX_REG_BUFFERS`, 1 << 14).
pub(crate) const BUF_TABLE: u32 = 1 << 14;

/// A registered-buffer range taken by a pool.
#[derive(Debug)]
struct BufTable {
    /// Free ranges `(base, count)`, unordered.
    free: Vec<(u32, u32)>,
}

impl BufTable {
    fn alloc(&mut self, count: u32) -> Option<u32> {
        let i = self.free.iter().position(|&(_, n)| n >= count)?;
        let (base, n) = self.free[i];
        if n == count {
            self.free.swap_remove(i);
        } else {
            self.free[i] = (base + count, n - count);
        }
        Some(base)
    }

    fn release(&mut self, base: u32, count: u32) {
        self.free.push((base, count));
    }
}

struct SenderSlot {
    /// Generation of the index: advanced each time the index is given to a new sender, so
    /// that a handle and the completions of an earlier sender never match a later one.
    gen: u8,
    state: Option<Box<SenderState>>,
    /// Stray notifications a closed sender of this index may still receive: the index is
    /// not reused while any is outstanding.
    strays: std::collections::HashSet<u64>,
}

/// The owner of a ring for the safe zero-copy layer.
///
/// A driver makes its own ring ([`Driver::new`]), reserves the [`USER_DATA_TAG`]
/// namespace on it, and is the only one that can reap the completions of its requests:
/// the ring's reaping methods set them aside for the driver, and no safe code can queue a
/// request in that namespace. [`ZcSender`](super::ZcSender)s are handles into it; their
/// state (buffers, requests) lives here, so dropping a sender, or the driver, in any order
/// never frees memory the kernel may read. Their sockets go into the driver's
/// registered-file table and every request names the table slot, never an fd number.
///
/// The ring stays usable for other work: [`ring`](Self::ring) lends it. Completions of
/// your requests that the driver reaps while driving its senders are handed to the ring's
/// next [`copy_cqes`](IoUring::copy_cqes), in order; the driver's never are.
///
/// # Example
///
/// Two connections served by one ring: [`queue`](super::ZcSender::queue) stages a send,
/// and one [`flush`](Self::flush) submits the requests of every sender with one
/// `io_uring_enter`.
///
/// ```
/// use std::io::Read;
/// use std::net::{TcpListener, TcpStream};
/// use std::time::Duration;
/// use uring::zc::{Config, ZcSender};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let config = Config::default();
/// let mut driver = config.driver()?;
/// let mut senders = Vec::new();
/// let mut readers = Vec::new();
/// for _ in 0..2 {
///     let stream = TcpStream::connect(listener.local_addr()?)?;
///     senders.push(ZcSender::new(&mut driver, stream, config.clone())?);
///     let (mut peer, _) = listener.accept()?;
///     readers.push(std::thread::spawn(move || {
///         let mut got = Vec::new();
///         peer.read_to_end(&mut got).map(|_| got.len())
///     }));
/// }
/// for (i, sender) in senders.iter().enumerate() {
///     sender.queue(&mut driver, vec![i as u8; 256 * 1024])?; // staged, not submitted
/// }
/// driver.flush()?; // one enter for both
/// driver.wait_all(Duration::from_secs(10))?; // every buffer back
/// for sender in senders {
///     let closed = sender.close(&mut driver, Duration::from_secs(10));
///     assert_eq!(closed.completions.len(), 1);
///     drop(closed.socket); // EOF for the reader
/// }
/// for reader in readers {
///     assert_eq!(reader.join().unwrap()?, 256 * 1024);
/// }
/// # Ok(()) }
/// ```
pub struct Driver {
    ring: IoUring,
    ring_id: u64,
    senders: Vec<SenderSlot>,
    free_senders: Vec<u16>,
    /// Free registered-file slots.
    free_files: Vec<u32>,
    buf_table: Option<BufTable>,
    pub(crate) shared: Arc<DriverShared>,
    pub(crate) memlock: Memlock,
    /// Bytes registered by this driver's pools (charged to RLIMIT_MEMLOCK).
    pub(crate) pinned: u64,
    scratch: Box<[Cqe]>,
    zc_in_probe: bool,
    sendmsg_zc_in_probe: bool,
    /// `sendmsg_zc` takes a registered buffer (`IORING_RECVSEND_FIXED_BUF`, Linux 6.15):
    /// datagrams to an address from a pool slot go without pinning.
    msg_fixed: bool,
    stray_notifications: u64,
    /// Completions of the driver's requests reaped so far (for waking async waiters).
    reaped: u64,
    /// Some sender is closing: look for senders to retire.
    retire_pending: bool,
    /// `io_uring_enter` calls the driver made (submits and waits).
    enters: u64,
    /// Senders with requests pushed since the last enter that learn what their sends cost
    /// ([`Policy::Adaptive`](super::Policy::Adaptive)): the next submit is timed and
    /// charged to them. Never longer than the sender table; no allocation in steady state.
    learning: Vec<u16>,
    /// SQPOLL: a submit does not run the sends, so it is not timed.
    sqpoll: bool,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("ring_id", &self.ring_id)
            .field("senders", &self.sender_count())
            .field("memlock", &self.memlock)
            .field("pinned", &self.pinned)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Makes a ring per `config` (IORING_SETUP_CQSIZE and SUBMIT_ALL added, so that an SQE
    /// the kernel rejects fails its whole link chain), reserves the safe layer's user_data
    /// namespace on it, and registers an empty file table of
    /// [`max_sockets`](DriverConfig::max_sockets) slots.
    pub fn new(config: DriverConfig) -> Result<Driver, ZcError> {
        if config.setup_flags.contains(IoringSetupFlags::R_DISABLED) {
            return Err(ZcError::InvalidConfig(
                "R_DISABLED: a driver's ring must be enabled",
            ));
        }
        if config.max_sockets == 0 || config.max_sockets > u32::from(DRIVER_INDEX) {
            return Err(ZcError::InvalidConfig("max_sockets must be in 1..=65535"));
        }
        let mut params = io_uring_params::default();
        params.flags = config.setup_flags | IoringSetupFlags::CQSIZE | IoringSetupFlags::SUBMIT_ALL;
        params.cq_entries = config.cq_entries.max(config.sq_entries);
        params.sq_thread_idle = config.sq_thread_idle;
        let mut ring =
            IoUring::init_params(config.sq_entries, &mut params).map_err(ZcError::Setup)?;
        // Before the namespace is reserved (its probe request is reaped here, by hand).
        let msg_fixed = probe_sendmsg_zc_fixed(&mut ring);
        // A fresh ring: no request of anyone is in flight, so every completion in the
        // namespace from now on is of a request the driver makes.
        ring.reserve_user_data(USER_DATA_TAG_MASK, USER_DATA_TAG);
        ring.register_files_sparse(config.max_sockets)
            .map_err(ZcError::Register)?;
        // The table is the driver's: no safe operation may install into or close a slot.
        ring.reserve_file_table();
        if config.register_ring_fd {
            // Best effort (documented): refused, the driver enters by fd.
            let _ = ring.register_ring_fd();
        }
        let (zc, sendmsg_zc) = match ring.get_probe() {
            Ok(p) => (
                p.is_supported(sys::io_uring_op::IORING_OP_SEND_ZC),
                p.is_supported(sys::io_uring_op::IORING_OP_SENDMSG_ZC),
            ),
            Err(_) => (false, false),
        };
        Ok(Driver {
            ring_id: ring.id(),
            ring,
            senders: Vec::new(),
            free_senders: Vec::new(),
            free_files: (0..config.max_sockets).rev().collect(),
            buf_table: None,
            shared: Arc::default(),
            memlock: Memlock::current(),
            pinned: 0,
            scratch: vec![Cqe::default(); 64].into_boxed_slice(),
            zc_in_probe: zc,
            sendmsg_zc_in_probe: sendmsg_zc,
            msg_fixed,
            stray_notifications: 0,
            reaped: 0,
            retire_pending: false,
            enters: 0,
            learning: Vec::new(),
            sqpoll: params.flags.contains(IoringSetupFlags::SQPOLL),
        })
    }

    /// The ring, for other work. Queue and reap your own requests as on any ring; the
    /// driver's user_data namespace ([`USER_DATA_TAG`]) is refused to you, and the
    /// driver's completions are never handed to you. Do not leave a half-built
    /// `IOSQE_IO_LINK` chain in the SQ across a call into the driver: the driver ends it
    /// with a NOP of its own so that it cannot reach into the driver's requests.
    ///
    /// If the ring is replaced (`mem::swap`, `mem::replace`), the driver notices and
    /// refuses all further work with [`ZcError::RingReplaced`], leaking what the kernel
    /// held rather than freeing it.
    pub fn ring(&mut self) -> &mut IoUring {
        &mut self.ring
    }

    /// Whether the driver's enters on this thread name the ring by its slot in the
    /// thread's registered-ring table ([`DriverConfig::register_ring_fd`]), not by its fd.
    pub fn ring_fd_registered(&self) -> bool {
        self.ring.registered_ring_index().is_some()
    }

    /// The ring's identity ([`IoUring::id`]): what pools and senders are bound to.
    pub fn id(&self) -> u64 {
        self.ring_id
    }

    /// The locked-memory limit read when the driver was made.
    pub fn memlock(&self) -> Memlock {
        self.memlock
    }

    /// Bytes registered by this driver's buffer pools.
    pub fn pinned_bytes(&self) -> u64 {
        self.pinned
    }

    /// Senders alive or closing (their requests not all done yet).
    pub fn sender_count(&self) -> usize {
        self.senders.iter().filter(|s| s.state.is_some()).count()
    }

    /// Completions of the driver's own requests reaped so far.
    pub fn reaped(&self) -> u64 {
        self.reaped
    }

    /// Calls the driver made to submit or wait (`io_uring_enter`, or, with SQPOLL, the
    /// submissions that could have needed one): the cost that batching
    /// ([`ZcSender::queue`](super::ZcSender::queue) + [`flush`](Self::flush)) saves.
    pub fn enters(&self) -> u64 {
        self.enters
    }

    /// Stray notifications that arrived for senders already gone (consumed, counted).
    pub fn stray_notifications(&self) -> u64 {
        self.stray_notifications
    }

    pub(crate) fn check(&self) -> Result<(), ZcError> {
        if self.ring.id() != self.ring_id {
            return Err(ZcError::RingReplaced);
        }
        Ok(())
    }

    pub(crate) fn probe(&self, stream: bool) -> bool {
        self.zc_in_probe && (stream || self.sendmsg_zc_in_probe)
    }

    // ---------------------------------------------------------------- senders

    /// Adds a sender's state: registers its socket in a file slot. Returns (index, gen).
    pub(crate) fn add_sender(
        &mut self,
        socket: std::os::fd::OwnedFd,
        make: impl FnOnce(u64, std::os::fd::OwnedFd, u32) -> SenderState,
    ) -> Result<(u16, u8), ZcError> {
        self.check()?;
        self.collect_orphans();
        let Some(file) = self.free_files.pop() else {
            return Err(ZcError::TooManySockets);
        };
        // SAFETY: the slot is free (no request names it: it was never used, or cleared only
        // after every request naming it completed); the kernel takes its own reference to
        // the socket during the call.
        if let Err(e) = unsafe {
            self.ring
                .register_files_update(file, &[Some(std::os::fd::AsFd::as_fd(&socket))])
        } {
            self.free_files.push(file);
            return Err(ZcError::Register(e));
        }
        let index = match self.free_senders.pop() {
            Some(i) => i,
            None => {
                if self.senders.len() >= usize::from(DRIVER_INDEX) {
                    self.clear_file(file);
                    return Err(ZcError::TooManySockets);
                }
                self.senders.push(SenderSlot {
                    gen: 0,
                    state: None,
                    strays: Default::default(),
                });
                (self.senders.len() - 1) as u16
            }
        };
        let slot = &mut self.senders[usize::from(index)];
        slot.gen = slot.gen.wrapping_add(1);
        let gen = slot.gen;
        let prefix = USER_DATA_TAG | (u64::from(index) << 40) | (u64::from(gen) << 32);
        slot.state = Some(Box::new(make(prefix, socket, file)));
        Ok((index, gen))
    }

    /// The state of a live handle.
    pub(crate) fn state(&self, index: u16, gen: u8) -> Option<&SenderState> {
        let slot = self.senders.get(usize::from(index))?;
        if slot.gen != gen {
            return None;
        }
        slot.state.as_deref().filter(|s| !s.closing)
    }

    pub(crate) fn state_mut(&mut self, index: u16, gen: u8) -> Option<&mut SenderState> {
        self.state_any_mut(index, gen).filter(|s| !s.closing)
    }

    /// The state of a handle, closing or not.
    pub(crate) fn state_any_mut(&mut self, index: u16, gen: u8) -> Option<&mut SenderState> {
        let slot = self.senders.get_mut(usize::from(index))?;
        if slot.gen != gen {
            return None;
        }
        slot.state.as_deref_mut()
    }

    /// Removes a registered-file slot's file (after every request naming it completed).
    fn clear_file(&mut self, file: u32) {
        // None (-1) clears the slot; the kernel drops its reference to the socket.
        // SAFETY: every request naming the slot has completed (the sender is idle), and the
        // slot is the driver's own.
        if unsafe { self.ring.register_files_update(file, &[None]) }.is_ok() {
            self.free_files.push(file);
        }
        // On failure the slot stays taken (never reused): the socket stays open in the
        // table until the ring closes, which is safe.
    }

    /// Handles dropped by safe code anywhere: close senders, clear pool ranges. One load
    /// of the shared flag when nothing was dropped.
    #[inline]
    fn collect_orphans(&mut self) {
        if self.shared.is_dirty() {
            self.collect_orphans_now();
        }
    }

    #[cold]
    fn collect_orphans_now(&mut self) {
        let Some(orphans) = self.shared.take() else {
            return;
        };
        for (index, gen) in orphans.senders {
            if let Some(slot) = self.senders.get_mut(usize::from(index)) {
                if slot.gen == gen {
                    if let Some(state) = slot.state.as_deref_mut() {
                        state.begin_close();
                        self.retire_pending = true;
                    }
                }
            }
        }
        for (base, count, bytes) in orphans.ranges {
            // SAFETY: the range belonged to a pool whose every slot and handle is gone, so
            // no request names these entries: a slot is released by a sender only after
            // the kernel's last completion for it, and an unreleased slot keeps the pool
            // alive.
            if unsafe { self.clear_buffer_entries(base, count) } {
                if let Some(t) = self.buf_table.as_mut() {
                    t.release(base, count);
                }
                self.unpin(bytes);
            }
        }
        self.retire_closed();
    }

    /// Closing senders whose requests are all done go: their file slot is cleared, their
    /// socket closed, their completions (buffers) dropped. One test of a flag when no
    /// sender is closing.
    #[inline]
    fn retire_closed(&mut self) {
        if self.retire_pending {
            self.retire_closed_now();
        }
    }

    #[cold]
    fn retire_closed_now(&mut self) {
        self.retire_pending = false;
        let mut retired = Vec::new();
        for (i, slot) in self.senders.iter_mut().enumerate() {
            let done = slot
                .state
                .as_deref()
                .is_some_and(|s| s.closing && s.is_idle());
            if done {
                if let Some(mut state) = slot.state.take() {
                    slot.strays = core::mem::take(&mut state.strays);
                    retired.push((i as u16, state));
                }
            } else if slot.state.as_deref().is_some_and(|s| s.closing) {
                // Still busy: look again at the next call.
                self.retire_pending = true;
            }
        }
        for (index, state) in retired {
            self.clear_file(state.file);
            if self.senders[usize::from(index)].strays.is_empty() {
                self.free_senders.push(index);
            }
            // Dropped last, once the driver's books are straight: a buffer's destructor
            // may panic, and nothing the kernel holds is among these (the sender is idle).
            drop(state);
        }
    }

    /// Closes a sender's state at once (from `ZcSender::close`): like a dropped handle.
    pub(crate) fn begin_close(&mut self, index: u16, gen: u8) {
        if let Some(s) = self.state_any_mut(index, gen) {
            s.begin_close();
            self.retire_pending = true;
        }
        self.retire_closed();
    }

    /// Takes the socket out of a sender (for `close`), leaving the fixed slot holding it.
    pub(crate) fn take_socket(&mut self, index: u16, gen: u8) -> Option<std::os::fd::OwnedFd> {
        self.state_any_mut(index, gen).and_then(|s| s.socket.take())
    }

    // ---------------------------------------------------------------- pools

    /// Registers `iovecs` at a free range of the driver's buffer table (made sparse on
    /// first use). Returns the base index.
    ///
    /// # Safety
    ///
    /// The memory must stay valid (and keep its pages) while any request may name it,
    /// and the range must be released (through [`DriverShared::range_dropped`]) only when
    /// no request names it.
    pub(crate) unsafe fn register_range(&mut self, iovecs: &[iovec]) -> Result<u32, PoolError> {
        self.check().map_err(PoolError::Driver)?;
        self.collect_orphans();
        // The kernel charges whole pages.
        let bytes: u64 = iovecs
            .iter()
            .map(|v| v.iov_len.next_multiple_of(4096))
            .sum();
        if let Some(limit) = self.memlock.pinnable() {
            if self.pinned.saturating_add(bytes) > limit {
                return Err(PoolError::Memlock(MemlockExceeded {
                    limit,
                    requested: bytes,
                    pinned: self.pinned,
                }));
            }
        }
        if self.buf_table.is_none() {
            self.ring
                .register_buffers_sparse(BUF_TABLE)
                .map_err(PoolError::Register)?;
            self.buf_table = Some(BufTable {
                free: vec![(0, BUF_TABLE)],
            });
        }
        let count = iovecs.len() as u32;
        let table = self.buf_table.as_mut().ok_or(PoolError::TableFull)?;
        let base = table.alloc(count).ok_or(PoolError::TableFull)?;
        // SAFETY: the caller keeps the memory valid as long as any request may name it;
        // the range is free, so no request names it now.
        match unsafe { self.ring.register_buffers_update(base, iovecs) } {
            Ok(n) if n == count => {
                self.pinned += bytes;
                Ok(base)
            }
            Ok(n) => {
                // The kernel stopped part-way (the locked-memory limit is per user, shared
                // with every process of the user): undo the entries it took, so that no
                // slot of a pool is ever left unregistered in a table it names.
                // SAFETY: no request names them yet (the pool was never handed out).
                if unsafe { self.clear_buffer_entries(base, n) } {
                    if let Some(t) = self.buf_table.as_mut() {
                        t.release(base, count);
                    }
                }
                Err(match self.memlock.pinnable() {
                    Some(limit) => PoolError::Memlock(MemlockExceeded {
                        limit,
                        requested: bytes,
                        pinned: self.pinned,
                    }),
                    None => PoolError::Register(crate::error::RegisterError::SystemResources),
                })
            }
            Err(e) => {
                if let Some(t) = self.buf_table.as_mut() {
                    t.release(base, count);
                }
                match (e, self.memlock.pinnable()) {
                    (crate::error::RegisterError::SystemResources, Some(limit)) => {
                        Err(PoolError::Memlock(MemlockExceeded {
                            limit,
                            requested: bytes,
                            pinned: self.pinned,
                        }))
                    }
                    _ => Err(PoolError::Register(e)),
                }
            }
        }
    }

    /// Clears `count` entries of the buffer table from `base` (nothing to clear: true).
    /// Returns whether the kernel took the update.
    ///
    /// # Safety
    ///
    /// No request, queued or in flight, may name these entries.
    unsafe fn clear_buffer_entries(&mut self, base: u32, count: u32) -> bool {
        if count == 0 {
            return true;
        }
        let empty = vec![
            iovec {
                iov_base: core::ptr::null_mut(),
                iov_len: 0,
            };
            count as usize
        ];
        // SAFETY: clearing entries names no memory; the caller guarantees no request
        // names them.
        unsafe { self.ring.register_buffers_update(base, &empty) }.is_ok()
    }

    pub(crate) fn unpin(&mut self, bytes: u64) {
        self.pinned = self.pinned.saturating_sub(bytes);
    }

    // ---------------------------------------------------------------- driving

    /// Reaps what is ready, submits what the senders can send (queued buffers of every
    /// sender, in one `io_uring_enter` when they fit the SQ), until nothing changes
    /// (bounded). Never blocks. [`flush`](Self::flush) is the same call, named for what
    /// it does after [`ZcSender::queue`](super::ZcSender::queue).
    pub fn poll(&mut self) -> Result<(), ZcError> {
        self.progress()
    }

    /// Submits every buffer the senders have queued ([`ZcSender::queue`](super::ZcSender::queue)):
    /// the requests of all senders go out together, with as few `io_uring_enter` calls as
    /// the SQ allows. Never blocks.
    pub fn flush(&mut self) -> Result<(), ZcError> {
        self.progress()
    }

    /// Whether [`enter_call`](Self::enter_call) has nothing to do: the ring is the
    /// driver's and no handle was dropped since the last call.
    #[inline]
    pub(crate) fn quiet(&self) -> bool {
        self.ring.id() == self.ring_id && !self.shared.is_dirty()
    }

    /// What every call of a handle does first, before it touches its sender: the ring is
    /// still the driver's, and handles dropped elsewhere are collected. Reaps nothing.
    #[inline]
    pub(crate) fn enter_call(&mut self) -> Result<(), ZcError> {
        self.check()?;
        self.collect_orphans();
        Ok(())
    }

    /// Reaps only: completions are routed, nothing new is pushed or submitted (the hot
    /// path of [`ZcSender::queue`](super::ZcSender::queue)).
    pub(crate) fn reap_only(&mut self) -> Result<(), ZcError> {
        self.check()?;
        self.collect_orphans();
        self.reap()?;
        self.retire_closed();
        Ok(())
    }

    /// Reap, then push and submit while any sender can take more.
    pub(crate) fn progress(&mut self) -> Result<(), ZcError> {
        self.check()?;
        self.collect_orphans();
        self.reap()?;
        // Keep going while requests complete during their own submission (common: the
        // socket had room), so that a queue never sits idle with nothing in flight. Each
        // round submits at least one request; the bound is never the reason to stop in
        // practice (a buffer takes at most 1 + MAX_STALLS requests without progress).
        for _ in 0..1024 {
            if self.pump_all() == 0 {
                break;
            }
            self.submit_and_reap()?;
        }
        self.retire_closed();
        Ok(())
    }

    /// Pushes the next requests of every sender that can take them; returns how many.
    fn pump_all(&mut self) -> u32 {
        let ctx = Ctx {
            ring_id: self.ring_id,
            msg_fixed: self.msg_fixed,
        };
        let mut pushed = 0;
        for i in 0..self.senders.len() {
            let wants = self.senders[i]
                .state
                .as_deref()
                .is_some_and(SenderState::wants_pump);
            if !wants {
                continue;
            }
            self.end_foreign_link();
            if self.ring.sq_space_left() == 0 {
                // Full of SQEs not yet submitted (ours or others'): submit to make room.
                let _ = self.submit();
            }
            if let Some(state) = self.senders[i].state.as_deref_mut() {
                pushed += state.pump(&mut self.ring, ctx);
                if !self.sqpoll && state.adaptive.learner.list() {
                    self.learning.push(i as u16);
                }
            }
        }
        pushed
    }

    /// If the caller left a link chain open at the end of the SQ, ends it with a NOP of
    /// the driver's, so that no request of the caller's links into the driver's.
    fn end_foreign_link(&mut self) {
        if !self.ring.unsubmitted_tail_links() {
            return;
        }
        let mut sqe = Sqe::default();
        sqe.prep_nop();
        sqe.user_data = USER_DATA_TAG | (u64::from(DRIVER_INDEX) << 40);
        // SAFETY: a NOP names no memory or descriptor; its user_data is the driver's.
        let _ = unsafe { self.ring.push(&sqe) };
    }

    pub(crate) fn submit(&mut self) -> Result<(), ZcError> {
        self.submit_then(false)
    }

    /// Submits, then reaps what is ready.
    fn submit_and_reap(&mut self) -> Result<(), ZcError> {
        self.submit_then(true)
    }

    /// Submits and, with `reap`, reaps at once. An enter that submits a learning sender's
    /// requests is timed with the reap that follows it, so that a path is charged for the
    /// completions it costs the driver too (a zero-copy send's notification): one clock
    /// read before and one after; none per buffer, none for other enters.
    fn submit_then(&mut self, reap: bool) -> Result<(), ZcError> {
        self.enters += 1;
        let start = (!self.learning.is_empty()).then(Instant::now);
        let r = match self.ring.submit() {
            Ok(_) => Ok(()),
            // The SQEs stay in the SQ and go with the next enter.
            Err(
                EnterError::SystemResources
                | EnterError::CompletionQueueOvercommitted
                | EnterError::SignalInterrupt,
            ) => Err(None),
            Err(e) => Err(Some(ZcError::Enter(e))),
        };
        let reaped = match (&r, reap) {
            (Ok(()) | Err(None), true) => self.reap(),
            _ => Ok(()),
        };
        if let Some(start) = start {
            let took = start.elapsed();
            self.charge((r.is_ok() && reaped.is_ok()).then_some(took));
        }
        if let Err(Some(e)) = r {
            return Err(e);
        }
        reaped
    }

    /// Gives each listed sender its share, by bytes pushed, of the enter that submitted
    /// its requests (`None`: the enter failed, or was not timed; no sample).
    fn charge(&mut self, took: Option<Duration>) {
        let mut list = core::mem::take(&mut self.learning);
        let senders = &mut self.senders;
        let state = |i: u16| senders.get(usize::from(i)).and_then(|s| s.state.as_deref());
        let total: u64 = list
            .iter()
            .filter_map(|&i| state(i))
            .map(|s| s.adaptive.learner.round_bytes())
            .sum();
        let ns = took.map(|t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX));
        for &i in &list {
            let Some(s) = senders
                .get_mut(usize::from(i))
                .and_then(|s| s.state.as_deref_mut())
            else {
                continue;
            };
            let l = &mut s.adaptive.learner;
            let share = ns.filter(|_| total > 0).map(|ns| {
                (u128::from(ns) * u128::from(l.round_bytes()) / u128::from(total)) as u64
            });
            l.submitted(share);
        }
        list.clear();
        self.learning = list;
    }

    /// Reaps every ready completion: the driver's are routed to their senders, the
    /// caller's kept for the caller's next `copy_cqes`.
    #[inline]
    fn reap(&mut self) -> Result<(), ZcError> {
        if self.ring.nothing_to_reap() {
            return Ok(());
        }
        self.reap_ready()
    }

    fn reap_ready(&mut self) -> Result<(), ZcError> {
        let mut cqes = core::mem::take(&mut self.scratch);
        let result = loop {
            let n = match self.ring.copy_cqes_unsplit(&mut cqes, 0) {
                Ok(n) => n as usize,
                Err(EnterError::SignalInterrupt) => 0,
                Err(e) => break Err(ZcError::Enter(e)),
            };
            for cqe in &cqes[..n] {
                if self.ring.is_reserved_user_data(cqe.user_data) {
                    self.route(cqe);
                } else {
                    self.ring.keep_for_caller(*cqe);
                }
            }
            if n < cqes.len() {
                break Ok(());
            }
        };
        self.scratch = cqes;
        result
    }

    fn route(&mut self, cqe: &Cqe) {
        self.reaped += 1;
        let index = (cqe.user_data >> 40) as u16;
        let gen = (cqe.user_data >> 32) as u8;
        if index == DRIVER_INDEX {
            // A barrier NOP: nothing to do.
            return;
        }
        let Some(slot) = self.senders.get_mut(usize::from(index)) else {
            return;
        };
        if slot.gen == gen {
            if let Some(state) = slot.state.as_deref_mut() {
                state.handle_cqe(cqe);
                return;
            }
            // The sender is gone: only stray notifications can still come.
            if cqe.notif() && slot.strays.remove(&cqe.user_data) {
                self.stray_notifications += 1;
                if slot.strays.is_empty() {
                    self.free_senders.push(index);
                }
            }
        }
    }

    /// One bounded wait for at least one completion (any, the driver's or not).
    pub(crate) fn wait_one(&mut self, deadline: Option<Instant>) -> Result<(), ZcError> {
        self.check()?;
        self.enters += 1;
        if !self.learning.is_empty() {
            // Requests this enter submits are timed with the wait: no sample.
            self.charge(None);
        }
        let r = match deadline {
            None => self.ring.submit_and_wait(1).map(|_| ()),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    return Err(ZcError::TimedOut);
                }
                self.ring.submit_and_wait_timeout(1, d - now).map(|_| ())
            }
        };
        match r {
            Ok(())
            | Err(
                EnterError::Timeout
                | EnterError::SignalInterrupt
                | EnterError::SystemResources
                | EnterError::CompletionQueueOvercommitted,
            ) => Ok(()),
            Err(e) => Err(ZcError::Enter(e)),
        }
    }

    /// Drives the ring until `done` says so, or `timeout` passes.
    pub(crate) fn drive_until(
        &mut self,
        timeout: Option<Duration>,
        mut done: impl FnMut(&Driver) -> bool,
    ) -> Result<(), ZcError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        self.progress()?;
        while !done(self) {
            self.wait_one(deadline)?;
            self.progress()?;
        }
        Ok(())
    }

    /// Drives the ring until every sender's buffers are all back, or `timeout` passes
    /// ([`ZcError::TimedOut`]; nothing is lost, call again).
    pub fn wait_all(&mut self, timeout: Duration) -> Result<(), ZcError> {
        self.drive_until(Some(timeout), |d| {
            d.senders
                .iter()
                .filter_map(|s| s.state.as_deref())
                .all(|s| s.owned_buffers == 0)
        })
    }

    /// A live sender's socket, borrowed.
    pub(crate) fn socket_of(&self, index: u16, gen: u8) -> Option<BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        self.state(index, gen)
            .and_then(|s| s.socket.as_ref())
            .map(|s| s.as_fd())
    }
}

/// Whether the kernel takes `IORING_RECVSEND_FIXED_BUF` on `sendmsg_zc` (Linux 6.15). The
/// op code is in every probe since 6.1, the flag is not: kernels before 6.15 refuse it
/// with `EINVAL` while preparing the request, before reading anything; later ones go on
/// to read the msghdr, which is null here (`EFAULT`, with a notification after it). Runs on
/// a fresh ring, before its namespace is reserved, and reaps its own completions.
fn probe_sendmsg_zc_fixed(ring: &mut IoUring) -> bool {
    const PROBE: u64 = 1;
    let mut sqe = Sqe::default();
    sqe.prep_sendmsg_zc_fixed(-1, core::ptr::null(), crate::sys::SendFlags::empty(), 0);
    sqe.user_data = PROBE;
    // SAFETY: the request names no memory (a null msghdr, which the kernel fails to
    // read, `EFAULT`) and no descriptor (fd -1, not a fixed file: `EBADF` were it ever
    // looked up); it completes before this function returns, or the ring is dropped.
    if unsafe { ring.push(&sqe) }.is_err() || ring.submit_and_wait(1).is_err() {
        return false;
    }
    let Ok(first) = ring.copy_cqe() else {
        return false;
    };
    // A request that got as far as issuing (6.15+) may also post its notification
    // (`F_MORE` on the first completion): reap it too, or the caller would see it.
    if first.more() && ring.copy_cqe().is_err() {
        return false;
    }
    first.user_data == PROBE && first.err() != Some(rustix::io::Errno::INVAL)
}

impl Config {
    /// A [`Driver`] sized for one sender of this config ([`driver_config`](Self::driver_config)).
    pub fn driver(&self) -> Result<Driver, ZcError> {
        Driver::new(self.driver_config())
    }
}

impl BufferPool {
    /// Maps `count` slots of `slot_size` bytes and registers them with `driver`'s ring as
    /// fixed buffers.
    pub fn new(driver: &mut Driver, slot_size: usize, count: usize) -> Result<Self, PoolError> {
        let ring_id = driver.id();
        let shared = Arc::clone(&driver.shared);
        let register = |iovecs: &[iovec]| {
            // SAFETY: the pool keeps `iovecs`' memory mapped while any slot or the pool
            // lives, and tells this driver (`shared`) when the range may be cleared; a slot
            // in flight is kept by its sender until the kernel's last completion for it.
            unsafe { driver.register_range(iovecs) }
        };
        // SAFETY: `register` registers exactly the pool's buffers on this driver's ring
        // (`ring_id`), or nothing when it fails (`register_range` undoes a partial
        // registration), and `shared` is this driver's.
        unsafe { BufferPool::map_and_register(slot_size, count, ring_id, shared, register) }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Senders first: their states leak what the kernel holds and free the rest
        // (`Drop for SenderState`); then the ring (a field, dropped after this body):
        // unmap, close. The kernel cancels what is in flight; the leaked buffers stay
        // valid for it forever. A destructor panic while freeing the rest cannot free a
        // held buffer (they are ManuallyDrop).
        for slot in &mut self.senders {
            if let Some(state) = slot.state.take() {
                drop(state);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe answers for this kernel (6.18 takes the flag) and leaves nothing behind:
    /// the next completion on the ring is the caller's.
    #[test]
    fn the_sendmsg_zc_fixed_probe_reaps_all_it_caused() {
        let mut ring = IoUring::init(8, IoringSetupFlags::empty()).unwrap();
        assert!(
            probe_sendmsg_zc_fixed(&mut ring),
            "Linux 6.15+ takes FIXED_BUF on sendmsg_zc"
        );
        ring.nop(7).unwrap();
        ring.submit_and_wait(1).unwrap();
        let mut cqes = [Cqe::default(); 4];
        assert_eq!(ring.copy_cqes(&mut cqes, 0).unwrap(), 1);
        assert_eq!(cqes[0].user_data, 7);
    }
}
