//! [`IoUring`]: setup, the mapped queues, `io_uring_enter`, and completion reaping.
//!
//! The ring follows Zig's `std.os.linux.IoUring` and liburing: SQEs are handed out with
//! [`get_sqe`](IoUring::get_sqe) (or prepared by the operation methods in `ops`), published
//! to the kernel by [`flush_sq`](IoUring::flush_sq) with one release store of the tail, and
//! submitted with [`submit`](IoUring::submit) / [`submit_and_wait`](IoUring::submit_and_wait).
//! Completions are copied out in batches by [`copy_cqes`](IoUring::copy_cqes), which
//! advances the CQ head once per batch.

use core::ffi::c_void;
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use rustix::io::Errno;
use rustix::io_uring::{
    io_uring_enter, io_uring_enter_arg, io_uring_getevents_arg, io_uring_params, io_uring_ptr,
    io_uring_setup, IoringEnterFlags, IoringFeatureFlags, IoringSetupFlags, KernelSigSet,
};
use rustix::mm::{MapFlags, ProtFlags};

use crate::cqe::Cqe;
use crate::error::{EnterError, RegisterError, SetupError, SqeError, SubmissionQueueFull};
use crate::sqe::Sqe;
use crate::sys;

/// One shared mapping of the ring fd, unmapped on drop.
#[derive(Debug)]
struct Mmap {
    ptr: NonNull<c_void>,
    len: usize,
}

impl Mmap {
    fn new(fd: BorrowedFd<'_>, len: usize, offset: u64) -> Result<Mmap, Errno> {
        // SAFETY: a fresh shared mapping chosen by the kernel (null hint), of a length and
        // offset the kernel told us (io_uring_setup's params); it aliases no Rust object.
        let ptr = unsafe {
            rustix::mm::mmap(
                core::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::POPULATE,
                fd,
                offset,
            )?
        };
        // mmap never returns null on success (MAP_FIXED is not used).
        let ptr = NonNull::new(ptr).ok_or(Errno::NOMEM)?;
        Ok(Mmap { ptr, len })
    }

    /// A pointer `offset` bytes into the mapping, typed.
    fn at<T>(&self, offset: u32) -> *mut T {
        self.non_null_at(offset).as_ptr()
    }

    /// [`at`](Self::at) as a `NonNull`, for pointers the hot paths index (so that the
    /// compiler knows they are not null).
    fn non_null_at<T>(&self, offset: u32) -> NonNull<T> {
        debug_assert!(offset as usize + core::mem::size_of::<T>() <= self.len);
        // SAFETY: offsets come from the kernel's params and lie inside the mapping (the
        // length was computed from the same params); `add` stays in bounds.
        unsafe { self.ptr.cast::<u8>().add(offset as usize).cast::<T>() }
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: we own this mapping; no pointer into it outlives the ring that owns us
        // (the queue structs are dropped with the ring and never handed out by value).
        unsafe {
            let _ = rustix::mm::munmap(self.ptr.as_ptr(), self.len);
        }
    }
}

/// The submission queue as mapped from the kernel (Zig's `SubmissionQueue`).
///
/// `head` is advanced by the kernel, `tail` by us; `sqe_head` and the cursor (`next`) track
/// the SQEs handed out by [`IoUring::get_sqe`] that are not yet published.
#[derive(Debug)]
pub struct SubmissionQueue {
    head: *const AtomicU32,
    tail: *const AtomicU32,
    flags: *const AtomicU32,
    dropped: *const AtomicU32,
    sqes: NonNull<Sqe>,
    mask: u32,
    entries: u32,
    /// Start of the SQEs handed out but not yet published to the kernel.
    sqe_head: u32,
    /// The next SQE to hand out. The tail (one past the last SQE handed out) is
    /// `seg_tail + (next - seg_start)`: see [`sqe_tail`](Self::sqe_tail).
    next: *mut Sqe,
    /// Where the hot path of [`IoUring::next_sqe`] stops: `[seg_start, end)` is a run of the
    /// SQE array that does not wrap and stays below `kernel head + entries` for the last
    /// kernel head read, so handing out an SQE is one compare and one increment, without
    /// touching the shared head or masking an index. Recomputed by `refresh` when `next`
    /// reaches it.
    end: *mut Sqe,
    /// Where the hot path of the *checked* operation methods stops (those that refuse a
    /// reserved user_data, [`IoUring::next_sqe_for`]): `end` on a plain ring, and null on a
    /// ring whose safe layer reserved a user_data namespace, so that there every such
    /// request takes the out-of-line path that checks its user_data. A plain ring pays
    /// nothing for the check.
    checked_end: *mut Sqe,
    /// Whether a user_data namespace is reserved (then `checked_end` stays null).
    checked: bool,
    /// The start of the current run.
    seg_start: *mut Sqe,
    /// The tail value of `seg_start`.
    seg_tail: u32,
    _sqes_map: Mmap,
}

/// The completion queue as mapped from the kernel (Zig's `CompletionQueue`).
#[derive(Debug)]
pub struct CompletionQueue {
    head: *const AtomicU32,
    tail: *const AtomicU32,
    overflow: *const AtomicU32,
    flags: *const AtomicU32,
    cqes: NonNull<Cqe>,
    mask: u32,
    entries: u32,
}

impl SubmissionQueue {
    /// Re-reads the kernel's head (the slow path of `next_sqe`, out of line so that the
    /// hot path stays small). Acquire pairs with the kernel's release of the head, so the
    /// kernel has read the SQEs we are about to reuse.
    #[cold]
    #[inline(never)]
    fn refresh(&mut self) -> bool {
        self.refresh_inline()
    }

    /// [`refresh`](Self::refresh), inline: for callers that are out of line themselves.
    #[inline(always)]
    fn refresh_inline(&mut self) -> bool {
        let tail = self.sqe_tail();
        let limit = self.head().wrapping_add(self.entries);
        let index = tail & self.mask;
        // The free slots before the kernel's head comes round, and before the array wraps
        // (the next run starts at index 0). `min` keeps the run inside the array even if
        // the shared head held nonsense.
        let run = limit.wrapping_sub(tail).min(self.entries - index);
        // SAFETY: `index <= mask < entries` and `index + run <= entries`: both pointers are
        // inside the SQE mapping or one past its last entry.
        unsafe {
            self.seg_start = self.sqes.as_ptr().add(index as usize);
            self.end = self.seg_start.add(run as usize);
        }
        self.checked_end = if self.checked {
            core::ptr::null_mut()
        } else {
            self.end
        };
        self.seg_tail = tail;
        self.next = self.seg_start;
        run != 0
    }

    /// Hands out the SQE at the cursor and advances it: the one place that does.
    ///
    /// # Safety
    ///
    /// `next < end` (the run is not exhausted). Then the SQE is an entry of the SQE mapping
    /// and `next + 1` at most one past the run. The slot is not visible to the kernel: it
    /// lies past the published tail, and below `head + entries` for the head read with
    /// acquire in `refresh`, so the kernel has consumed its old content; `&mut self` makes
    /// the returned reference the only one.
    #[inline(always)]
    unsafe fn take(&mut self) -> &mut Sqe {
        let sqe = self.next;
        // SAFETY: the caller's `next < end`, argued above.
        unsafe {
            self.next = sqe.add(1);
            &mut *sqe
        }
    }

    /// One past the last SQE handed out.
    #[inline]
    fn sqe_tail(&self) -> u32 {
        // SAFETY: `seg_start <= next <= end`, all in (or one past) the SQE array, so the
        // distance is a small non-negative count of whole entries.
        let n = unsafe { self.next.offset_from(self.seg_start) };
        self.seg_tail.wrapping_add(n as u32)
    }

    /// Number of SQE slots (`sq_entries`).
    pub fn entries(&self) -> u32 {
        self.entries
    }
    /// `entries - 1`, to index the SQE array.
    pub fn mask(&self) -> u32 {
        self.mask
    }
    /// The kernel's head: index of the next SQE it will consume.
    pub fn head(&self) -> u32 {
        // SAFETY: points into the live SQ ring mapping; the kernel writes it, so atomic.
        unsafe { (*self.head).load(Ordering::Acquire) }
    }
    /// The tail published to the kernel.
    pub fn tail(&self) -> u32 {
        // SAFETY: as for `head`; only we write it.
        unsafe { (*self.tail).load(Ordering::Relaxed) }
    }
    /// `IORING_SQ_*` flags (NEED_WAKEUP, CQ_OVERFLOW, TASKRUN).
    pub fn flags(&self) -> u32 {
        // SAFETY: as for `head`.
        unsafe { (*self.flags).load(Ordering::Relaxed) }
    }
    /// Number of invalid SQEs the kernel dropped.
    pub fn dropped(&self) -> u32 {
        // SAFETY: as for `head`.
        unsafe { (*self.dropped).load(Ordering::Relaxed) }
    }
    /// SQEs handed out and not yet flushed (`sqe_tail - sqe_head`).
    pub fn pending(&self) -> u32 {
        self.sqe_tail().wrapping_sub(self.sqe_head)
    }
}

impl CompletionQueue {
    /// Number of CQE slots (`cq_entries`).
    pub fn entries(&self) -> u32 {
        self.entries
    }
    /// `entries - 1`, to index the CQE array.
    pub fn mask(&self) -> u32 {
        self.mask
    }
    /// Our head: index of the next CQE to consume.
    pub fn head(&self) -> u32 {
        // SAFETY: points into the live CQ ring mapping; only we write it.
        unsafe { (*self.head).load(Ordering::Relaxed) }
    }
    /// The kernel's tail.
    pub fn tail(&self) -> u32 {
        // SAFETY: as for `head`; the kernel writes it, acquire pairs with its release.
        unsafe { (*self.tail).load(Ordering::Acquire) }
    }
    /// Number of CQEs the kernel could not post (only without IORING_FEAT_NODROP).
    pub fn overflow(&self) -> u32 {
        // SAFETY: as for `head`.
        unsafe { (*self.overflow).load(Ordering::Relaxed) }
    }
    /// `IORING_CQ_*` flags (EVENTFD_DISABLED).
    pub fn flags(&self) -> u32 {
        // SAFETY: as for `head`.
        unsafe { (*self.flags).load(Ordering::Relaxed) }
    }
}

/// An io_uring instance: the ring fd, its mapped queues, and the operations on them.
///
/// Dropping it unmaps the rings and closes the fd (in that order, as Zig's `deinit`). The
/// kernel cancels what is still in flight when the last reference to the ring goes, but
/// cancellation of some requests completes asynchronously: memory given to a raw operation
/// must stay valid until its completion was reaped, or until the ring is gone *and* the
/// request could not touch it any more. The safe layer (`zc`) handles this for you. (A
/// ring registered with [`register_ring_fd`](IoUring::register_ring_fd) and dropped on
/// another thread than the registering one is gone for the kernel only when that thread
/// exits: its table keeps a reference.)
#[derive(Debug)]
pub struct IoUring {
    pub(crate) sq: SubmissionQueue,
    pub(crate) cq: CompletionQueue,
    /// A user_data `u` is reserved when `u & reserved_mask == reserved_tag`. With no
    /// reservation the mask is 0 and the tag 1, which no value matches (one compare on the
    /// hot path, no branch on an `Option`).
    reserved_mask: u64,
    reserved_tag: u64,
    /// Completions set aside once a namespace is reserved (see [`IoUring::copy_cqes`]).
    split: Option<Box<Split>>,
    /// The registered-file table belongs to the safe layer: direct-descriptor operations
    /// that install into or close its slots are refused.
    files_reserved: bool,
    id: u64,
    /// The slot of the ring in a thread's registered-ring table (IORING_REGISTER_RING_FDS),
    /// and which thread's: the kernel keeps the table per task, so the index means this
    /// ring only to that thread.
    pub(crate) registered: Option<RegisteredRing>,
    /// A resize replaced the kernel's rings but mapping the new ones failed: the queues
    /// we hold are orphaned copies, and entering is refused.
    unmapped: bool,
    /// [`set_iowait`](IoUring::set_iowait)(false): waits pass IORING_ENTER_NO_IOWAIT.
    no_iowait: bool,
    flags: IoringSetupFlags,
    features: IoringFeatureFlags,
    _ring_map: Mmap,
    fd: OwnedFd,
}

/// Where [`IoUring::register_ring_fd`] put the ring: a slot of one thread's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RegisteredRing {
    /// The slot, `0..16` (the kernel's IO_RINGFD_REG_MAX).
    pub(crate) index: u32,
    /// [`thread_token`] of the thread whose table holds it.
    pub(crate) thread: u64,
}

/// Thread tokens: never reused within a process, unlike thread ids of exited threads or
/// addresses of their thread-locals.
static NEXT_THREAD_TOKEN: AtomicU64 = AtomicU64::new(1);

std::thread_local! {
    // A `Cell<u64>` has no destructor, so this thread-local is never torn down and
    // `with` cannot fail, even from other thread-locals' destructors.
    static THREAD_TOKEN: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// The calling thread's token, for the registered-ring check: a thread-local read (the
/// first call of a thread takes a number from a global counter).
#[inline]
pub(crate) fn thread_token() -> u64 {
    THREAD_TOKEN.with(|t| {
        let token = t.get();
        if token != 0 {
            return token;
        }
        let token = NEXT_THREAD_TOKEN.fetch_add(1, Ordering::Relaxed);
        t.set(token);
        token
    })
}

/// Completions sorted apart on a ring whose user_data namespace is partly reserved for the
/// safe layer: those of the reserved namespace that the caller's reaping came across, and
/// those of the caller's requests that the safe layer's reaping came across.
#[derive(Debug, Default)]
struct Split {
    reserved: VecDeque<Cqe>,
    user: VecDeque<Cqe>,
}

/// The setup flags this ring drives correctly: an allow-list, so that a flag that changes
/// the layout of the queues or how they are consumed (SQE128, CQE32, CQE_MIXED, SQE_MIXED,
/// SQ_REWIND, NO_MMAP, REGISTERED_FD_ONLY) or one that did not exist when this was written
/// is refused before any system call instead of being misparsed. (A
/// [`BigRing`](crate::big::BigRing) adds SQE128, CQE32 and CQE_MIXED to this list.)
///
/// - IOPOLL (5.1): `submit_and_wait` always enters with GETEVENTS to reap polled I/O;
///   HYBRID_IOPOLL (6.13) only changes how the kernel polls.
/// - SQPOLL, SQ_AFF (5.1): `sq_ring_needs_enter` wakes the thread (SQ_WAKEUP).
/// - CQSIZE (5.5), CLAMP (5.6): sizes; the queues are mapped from what the kernel reports.
/// - ATTACH_WQ (5.6), R_DISABLED (5.10), SUBMIT_ALL (5.18): no effect on the queues.
/// - COOP_TASKRUN, TASKRUN_FLAG (5.19): `cq_ring_needs_flush` watches IORING_SQ_TASKRUN.
/// - SINGLE_ISSUER (6.0): the kernel refuses other tasks with `EEXIST`, a typed error.
/// - DEFER_TASKRUN (6.1): completions are posted only by an enter with GETEVENTS from
///   the issuer task, which the waiting paths, [`IoUring::get_events`] and a `copy_cqes`
///   that finds the CQ empty do.
/// - NO_SQARRAY (6.6): the SQ array is neither mapped nor filled.
pub(crate) const SUPPORTED_SETUP_FLAGS: IoringSetupFlags = IoringSetupFlags::IOPOLL
    .union(IoringSetupFlags::SQPOLL)
    .union(IoringSetupFlags::SQ_AFF)
    .union(IoringSetupFlags::CQSIZE)
    .union(IoringSetupFlags::CLAMP)
    .union(IoringSetupFlags::ATTACH_WQ)
    .union(IoringSetupFlags::R_DISABLED)
    .union(IoringSetupFlags::SUBMIT_ALL)
    .union(IoringSetupFlags::COOP_TASKRUN)
    .union(IoringSetupFlags::TASKRUN_FLAG)
    .union(IoringSetupFlags::SINGLE_ISSUER)
    .union(IoringSetupFlags::DEFER_TASKRUN)
    .union(IoringSetupFlags::NO_SQARRAY)
    .union(IoringSetupFlags::from_bits_retain(
        linux_raw_sys::io_uring::IORING_SETUP_HYBRID_IOPOLL,
    ));

/// The longest wait [`IoUring::submit_and_wait_timeout`] passes to the kernel: 2^32 s, so
/// that the kernel's `now + timeout` in signed 64-bit nanoseconds cannot wrap.
const MAX_WAIT: Duration = Duration::from_secs(1 << 32);

/// What [`IoUring::submit_and_wait_timeout`] did: how many SQEs it submitted, and whether
/// the wait ended before `wait_nr` completions were ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitWait {
    /// SQEs submitted (with SQPOLL, as for [`IoUring::submit_and_wait`], it also counts
    /// published SQEs the kernel thread had not consumed yet).
    pub submitted: u32,
    /// Whether fewer than `wait_nr` completions were ready when the call returned: the
    /// timeout expired (or, after a submission, a signal ended the wait).
    pub timed_out: bool,
}

/// How an EXT_ARG wait ends, for [`IoUring::submit_and_wait_args`] and
/// [`IoUring::wait_cqes`]: a timeout, a minimum wait (Linux 6.12) and a signal mask in
/// force during the wait, each optional (the fields of liburing's
/// `io_uring_getevents_arg`). `WaitArgs::new()` waits without limit, with the thread's
/// own mask.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitArgs<'a> {
    timeout: Option<Duration>,
    min_wait_usec: u32,
    sigmask: Option<&'a KernelSigSet>,
}

impl<'a> WaitArgs<'a> {
    /// No timeout, no minimum wait, no signal mask.
    pub const fn new() -> WaitArgs<'a> {
        WaitArgs {
            timeout: None,
            min_wait_usec: 0,
            sigmask: None,
        }
    }

    /// Gives up after `timeout` (relative, on the ring's clock: CLOCK_MONOTONIC unless
    /// [`register_clock`](IoUring::register_clock) chose another). Above 2^32 s it is
    /// waited as 2^32 s (see [`IoUring::submit_and_wait_timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> WaitArgs<'a> {
        self.timeout = Some(timeout.min(MAX_WAIT));
        self
    }

    /// After `min_wait`, returns as soon as any completion is ready (Linux 6.12,
    /// IORING_FEAT_MIN_TIMEOUT; see [`IoUring::submit_and_wait_min_timeout`]); without a
    /// [`timeout`](Self::timeout), the wait ends at `min_wait` whatever is ready. Passed
    /// in whole microseconds, rounded up, at most `u32::MAX`; zero means none.
    pub fn min_wait(mut self, min_wait: Duration) -> WaitArgs<'a> {
        let usec = min_wait.as_nanos().div_ceil(1000);
        self.min_wait_usec = u32::try_from(usec).unwrap_or(u32::MAX);
        self
    }

    /// Replaces the thread's signal mask with `mask` for the duration of the wait, as
    /// `pselect(2)` does: a signal the mask leaves unblocked ends the wait with `EINTR`
    /// (its handler runs before the call returns), closing the race between unblocking a
    /// signal and starting to wait. liburing: the `sigmask` argument of
    /// `io_uring_wait_cqes`.
    ///
    /// # Safety
    ///
    /// `mask` must not contain a signal that the C library reserves for itself (glibc
    /// and musl use the first real-time signals for thread cancellation and `setxid`;
    /// `KernelSigSet::all()` contains them): blocking them during the wait breaks what the
    /// library relies on, as rustix's `io_uring_enter_arg` states.
    pub unsafe fn sigmask(mut self, mask: &'a KernelSigSet) -> WaitArgs<'a> {
        self.sigmask = Some(mask);
        self
    }
}

/// Maps the rings and the SQE array of the ring `fd` as `p` (the kernel's answer to
/// setup or to a resize) describes them, fills the SQ array with the identity, and builds
/// the queue views, with the SQEs handed out starting at the kernel's tail.
fn map_queues(
    fd: BorrowedFd<'_>,
    p: &io_uring_params,
) -> Result<(Mmap, SubmissionQueue, CompletionQueue), Errno> {
    let no_sqarray = p.flags.contains(IoringSetupFlags::NO_SQARRAY);
    let sq_ring_len = if no_sqarray {
        p.sq_off.dropped as usize + 4
    } else {
        p.sq_off.array as usize + p.sq_entries as usize * 4
    };
    // SQE128 doubles the SQEs and CQE32 the CQEs (a `BigRing`'s layouts; a CQE_MIXED
    // ring's slots are 16 bytes, a 32-byte CQE taking two).
    let cqe_size = size_of::<Cqe>() << u32::from(p.flags.contains(IoringSetupFlags::CQE32));
    let sqe_size = size_of::<Sqe>() << u32::from(p.flags.contains(IoringSetupFlags::SQE128));
    let cq_ring_len = p.cq_off.cqes as usize + p.cq_entries as usize * cqe_size;
    // IORING_FEAT_SINGLE_MMAP: one mapping serves both rings.
    let ring_len = sq_ring_len.max(cq_ring_len);
    let ring_map = Mmap::new(fd, ring_len, u64::from(sys::IORING_OFF_SQ_RING))?;
    let sqes_len = p.sq_entries as usize * sqe_size;
    let sqes_map = Mmap::new(fd, sqes_len, u64::from(sys::IORING_OFF_SQES))?;

    let sq_entries = ring_map.at::<u32>(p.sq_off.ring_entries);
    let sq_mask = ring_map.at::<u32>(p.sq_off.ring_mask);
    let cq_entries = ring_map.at::<u32>(p.cq_off.ring_entries);
    let cq_mask = ring_map.at::<u32>(p.cq_off.ring_mask);
    // SAFETY: these four words lie inside the fresh mapping and are constant for the
    // life of these rings (a resize makes new ones); plain reads are fine.
    let (sq_entries, sq_mask, cq_entries, cq_mask) =
        unsafe { (*sq_entries, *sq_mask, *cq_entries, *cq_mask) };
    debug_assert_eq!(sq_entries, p.sq_entries);
    debug_assert_eq!(sq_mask, sq_entries - 1);
    debug_assert_eq!(cq_mask, cq_entries - 1);

    if !no_sqarray {
        // The SQ array maps ring slots to SQE indices. We always publish SQEs in the
        // order we hand them out, so slot i always holds SQE i: fill it once here and
        // `flush_sq` only has to move the tail (liburing does the same).
        let array = ring_map.at::<u32>(p.sq_off.array);
        for i in 0..sq_entries {
            // SAFETY: `array` has `sq_entries` u32 slots inside the mapping. The kernel
            // reads a slot only when it consumes a published SQE: after setup none is
            // published; after a resize (DEFER_TASKRUN, so SINGLE_ISSUER and no SQPOLL
            // thread) it consumes them only in an enter of ours, which comes later.
            unsafe { array.add(i as usize).write(i) };
        }
    }

    let sq = SubmissionQueue {
        head: ring_map.at(p.sq_off.head),
        tail: ring_map.at(p.sq_off.tail),
        flags: ring_map.at(p.sq_off.flags),
        dropped: ring_map.at(p.sq_off.dropped),
        sqes: sqes_map.ptr.cast::<Sqe>(),
        mask: sq_mask,
        entries: sq_entries,
        sqe_head: 0,
        next: core::ptr::null_mut(),
        end: core::ptr::null_mut(),
        checked_end: core::ptr::null_mut(),
        checked: false,
        seg_start: core::ptr::null_mut(),
        seg_tail: 0,
        _sqes_map: sqes_map,
    };
    // SAFETY: tail points into the fresh mapping. At setup the kernel makes head == tail
    // (normally 0); after a resize it keeps both, and the SQEs between them (published
    // before the resize, not yet consumed) were copied into the new array: we hand out
    // SQEs from the tail on, and the first `next_sqe` computes the run up to
    // `head + entries` from the kernel's head (`refresh`).
    let tail = unsafe { (*sq.tail).load(Ordering::Relaxed) };
    // SAFETY: `tail & mask < entries`: inside the SQE mapping. An empty run: the first
    // `next_sqe` computes the real one.
    let start = unsafe { sq.sqes.as_ptr().add((tail & sq_mask) as usize) };
    let sq = SubmissionQueue {
        sqe_head: tail,
        next: start,
        end: start,
        checked_end: start,
        seg_start: start,
        seg_tail: tail,
        ..sq
    };
    let cq = CompletionQueue {
        head: ring_map.at(p.cq_off.head),
        tail: ring_map.at(p.cq_off.tail),
        overflow: ring_map.at(p.cq_off.overflow),
        flags: ring_map.at(p.cq_off.flags),
        cqes: ring_map.non_null_at(p.cq_off.cqes),
        mask: cq_mask,
        entries: cq_entries,
    };
    Ok((ring_map, sq, cq))
}

/// Ring identities: never reused within a process (a u64 does not wrap in practice).
static NEXT_RING_ID: AtomicU64 = AtomicU64::new(1);

// SAFETY: the raw pointers refer to mappings owned by this value and live as long as it;
// every write through them happens through `&mut self` (or is an atomic the kernel shares),
// so moving the ring to another thread moves sole ownership. (A SINGLE_ISSUER ring used from
// another thread gets EEXIST from the kernel, a typed error, not memory unsafety.)
unsafe impl Send for IoUring {}
// SAFETY: methods taking `&self` only perform atomic loads of kernel-shared words.
unsafe impl Sync for IoUring {}

impl IoUring {
    /// Sets up a ring with `entries` SQEs (a power of two, 1..=32768) and `flags`
    /// (`IORING_SETUP_*`), Linux 5.1+. For SQPOLL the kernel thread idles after 1 s.
    /// liburing: `io_uring_queue_init`. Zig: `IoUring.init`.
    ///
    /// ```
    /// use uring::{sys::IoringSetupFlags, IoUring};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = IoUring::init(8, IoringSetupFlags::empty())?;
    /// assert_eq!(ring.sq().entries(), 8);
    /// ring.nop(42)?; // queued, not submitted
    /// assert_eq!(ring.submit()?, 1);
    /// let cqe = ring.copy_cqe()?;
    /// assert_eq!((cqe.user_data, cqe.res), (42, 0));
    /// # Ok(()) }
    /// ```
    ///
    /// Bad arguments are typed errors, not panics:
    ///
    /// ```
    /// use uring::{sys::IoringSetupFlags, IoUring, SetupError};
    ///
    /// assert!(matches!(IoUring::init(3, IoringSetupFlags::empty()), Err(SetupError::EntriesNotPowerOfTwo)));
    /// ```
    pub fn init(entries: u32, flags: IoringSetupFlags) -> Result<IoUring, SetupError> {
        IoUring::init_params(entries, &mut IoUring::init_defaults(flags))
    }

    /// The parameters `init` sets up with: `flags`, and a 1 s idle for an SQPOLL thread.
    pub(crate) fn init_defaults(flags: IoringSetupFlags) -> io_uring_params {
        let mut params = io_uring_params::default();
        params.flags = flags;
        params.sq_thread_idle = 1000;
        params
    }

    /// Sets up a ring with full control over `io_uring_params` (`cq_entries` with
    /// IORING_SETUP_CQSIZE, `sq_thread_cpu`/`sq_thread_idle` with SQPOLL, `wq_fd` with
    /// ATTACH_WQ). On success the kernel's answer (entries, features, offsets) is in
    /// `params`. liburing: `io_uring_queue_init_params`. Zig: `IoUring.init_params`.
    pub fn init_params(entries: u32, params: &mut io_uring_params) -> Result<IoUring, SetupError> {
        IoUring::init_allowed(entries, params, SUPPORTED_SETUP_FLAGS)
    }

    /// [`init_params`](Self::init_params) with another allow-list of setup flags: a
    /// [`BigRing`](crate::big::BigRing) allows the big-entry layouts, and then drives the
    /// queues itself (this ring's SQE cursor and CQE copies assume 64- and 16-byte
    /// entries, and are never used on it).
    pub(crate) fn init_allowed(
        entries: u32,
        params: &mut io_uring_params,
        allowed: IoringSetupFlags,
    ) -> Result<IoUring, SetupError> {
        if entries == 0 {
            return Err(SetupError::EntriesZero);
        }
        if !entries.is_power_of_two() {
            return Err(SetupError::EntriesNotPowerOfTwo);
        }
        if params.sq_entries != 0
            || (params.cq_entries != 0 && !params.flags.contains(IoringSetupFlags::CQSIZE))
            || !params.features.is_empty()
            || (params.wq_fd != 0 && !params.flags.contains(IoringSetupFlags::ATTACH_WQ))
        {
            return Err(SetupError::ParamsInvalid);
        }
        let unsupported = params.flags.bits() & !allowed.bits();
        if unsupported != 0 {
            return Err(SetupError::UnsupportedFlags(unsupported));
        }

        // SAFETY: `params` is a valid, exclusively borrowed io_uring_params; the kernel
        // fills its output fields.
        let fd = unsafe { io_uring_setup(entries, params) }.map_err(SetupError::from_errno)?;

        let required = IoringFeatureFlags::SINGLE_MMAP | IoringFeatureFlags::NODROP;
        if !params.features.contains(required) {
            return Err(SetupError::MissingFeatures(
                (required - params.features).bits(),
            ));
        }

        let (ring_map, sq, cq) = map_queues(fd.as_fd(), params).map_err(SetupError::Mmap)?;
        let p = &*params;
        Ok(IoUring {
            sq,
            cq,
            reserved_mask: 0,
            reserved_tag: 1,
            split: None,
            files_reserved: false,
            id: NEXT_RING_ID.fetch_add(1, Ordering::Relaxed),
            registered: None,
            unmapped: false,
            no_iowait: false,
            flags: p.flags,
            features: p.features,
            _ring_map: ring_map,
            fd,
        })
    }

    /// The ring's file descriptor.
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The ring's identity: a number no other ring of this process has had or will have,
    /// unlike the fd, which the next ring may get again once this one is closed. The safe
    /// layer uses it to know its ring.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Whether `user_data` lies in the namespace this ring reserves for its safe layer
    /// (set when a [`Driver`](crate::zc::Driver) takes the ring; never on a plain ring).
    /// The operation methods refuse such a user_data with
    /// [`SqeError::ReservedUserData`], and [`copy_cqes`](Self::copy_cqes) sets its
    /// completions aside for the driver.
    #[inline]
    pub fn is_reserved_user_data(&self, user_data: u64) -> bool {
        user_data & self.reserved_mask == self.reserved_tag
    }

    /// Reserves the user_data values `u` with `u & mask == tag` for the crate's safe layer,
    /// for the rest of the ring's life (it cannot be undone). Call it only on a ring with
    /// no request in flight: the point is that every completion in the namespace comes
    /// from a request of the reserver.
    pub(crate) fn reserve_user_data(&mut self, mask: u64, tag: u64) {
        debug_assert!(mask != 0 && tag & !mask == 0 && self.split.is_none());
        self.reserved_mask = mask;
        self.reserved_tag = tag;
        self.split = Some(Box::default());
        // From now on every checked request takes the path that looks at its user_data.
        self.sq.checked = true;
        self.sq.checked_end = core::ptr::null_mut();
    }

    /// Reserves the registered-file table for the crate's safe layer, for the rest of the
    /// ring's life: [`close_direct`](Self::close_direct), [`socket_direct`](Self::socket_direct)
    /// and [`socket_direct_alloc`](Self::socket_direct_alloc) are refused from then on
    /// ([`SqeError::ReservedFileTable`]); the `unsafe` direct operations say so in their
    /// contract.
    pub(crate) fn reserve_file_table(&mut self) {
        self.files_reserved = true;
    }

    /// Whether a [`Driver`](crate::zc::Driver) owns the ring (it reserved a user_data
    /// namespace or the file table): then its registered tables are the driver's.
    pub(crate) fn owned_by_safe_layer(&self) -> bool {
        self.files_reserved || self.split.is_some()
    }

    /// Whether the registered-file table belongs to the ring's safe layer (a
    /// [`Driver`](crate::zc::Driver)'s ring): then no safe operation may install into or
    /// close its slots.
    pub fn is_file_table_reserved(&self) -> bool {
        self.files_reserved
    }

    /// Refuses a direct-descriptor operation on a reserved file table.
    #[inline]
    pub(crate) fn check_file_table(&self) -> Result<(), SqeError> {
        if self.files_reserved {
            return Err(SqeError::ReservedFileTable);
        }
        Ok(())
    }

    /// Whether [`copy_cqes_unsplit`](Self::copy_cqes_unsplit) without waiting would find
    /// nothing and make no system call: the CQ is empty, nothing was set aside for the
    /// reserver, and the kernel holds nothing that only an enter posts. A few loads, for
    /// the safe layer's reap when nothing completed (most calls).
    #[inline]
    pub(crate) fn nothing_to_reap(&self) -> bool {
        self.cq_ready() == 0
            && !self.cq_ring_needs_flush()
            && !self.defer_taskrun_unflagged()
            && self
                .split
                .as_deref()
                .map_or(true, |s| s.reserved.is_empty())
    }

    /// Copies ready completions of every namespace, the reserved one included, first those
    /// the caller's reaping set aside for the reserver. For the crate's safe layer.
    pub(crate) fn copy_cqes_unsplit(
        &mut self,
        cqes: &mut [Cqe],
        wait_nr: u32,
    ) -> Result<u32, EnterError> {
        if let Some(split) = self.split.as_deref_mut() {
            if !split.reserved.is_empty() {
                let n = cqes.len().min(split.reserved.len());
                for (dst, src) in cqes.iter_mut().zip(split.reserved.drain(..n)) {
                    *dst = src;
                }
                return Ok(n as u32);
            }
        }
        self.copy_cqes_all(cqes, wait_nr)
    }

    /// Keeps a completion of the caller's, reaped by the safe layer, for the caller's next
    /// [`copy_cqes`](Self::copy_cqes).
    pub(crate) fn keep_for_caller(&mut self, cqe: Cqe) {
        if let Some(split) = self.split.as_deref_mut() {
            split.user.push_back(cqe);
        }
    }

    /// Whether the last SQE handed out and not yet consumed by the kernel has
    /// `IOSQE_IO_LINK` or `IOSQE_IO_HARDLINK`: a chain the next SQE would join.
    pub(crate) fn unsubmitted_tail_links(&self) -> bool {
        if self.sq_ready() == 0 {
            return false;
        }
        let index = (self.sq.sqe_tail().wrapping_sub(1) & self.sq.mask) as usize;
        // SAFETY: `index <= mask`, inside the SQE mapping. The SQE was written by us and
        // not yet consumed (sq_ready > 0); the kernel only ever reads SQEs, so reading its
        // flags byte alongside a kernel thread (SQPOLL) is a read-read overlap.
        let flags =
            unsafe { core::ptr::addr_of!((*self.sq.sqes.as_ptr().add(index)).flags).read() };
        flags & (sys::IOSQE_IO_LINK | sys::IOSQE_IO_HARDLINK) != 0
    }

    /// The setup flags the ring was created with.
    pub fn setup_flags(&self) -> IoringSetupFlags {
        self.flags
    }

    /// The `IORING_FEAT_*` bits the kernel reported at setup.
    pub fn features(&self) -> IoringFeatureFlags {
        self.features
    }

    /// The submission queue (read-only view of the mapped ring).
    pub fn sq(&self) -> &SubmissionQueue {
        &self.sq
    }

    /// The completion queue (read-only view of the mapped ring).
    pub fn cq(&self) -> &CompletionQueue {
        &self.cq
    }

    /// Unmaps the rings and closes the fd; the same as dropping the ring, spelled as in
    /// Zig (`deinit`). The ring cannot be used afterwards: it is moved in.
    pub fn deinit(self) {
        drop(self);
    }

    /// The next free SQE for a request of the caller's with `user_data`: refused if the
    /// user_data is reserved ([`is_reserved_user_data`](Self::is_reserved_user_data)).
    /// Used by every safe operation method.
    ///
    /// On a plain ring no user_data is reserved, so the hot path only compares the cursor
    /// with the end of its run; on a ring with a reserved namespace the run end it
    /// compares with is null, so every request goes through
    /// [`next_sqe_for_checked`](Self::next_sqe_for_checked).
    #[inline]
    pub(crate) fn next_sqe_for(&mut self, user_data: u64) -> Result<&mut Sqe, SqeError> {
        if self.sq.next >= self.sq.checked_end {
            return self.next_sqe_for_checked(user_data);
        }
        // SAFETY: `next < checked_end`, and `checked_end` is either null (never taken
        // here) or `end`: so `next < end`.
        Ok(unsafe { self.sq.take() })
    }

    /// The out-of-line path of [`next_sqe_for`](Self::next_sqe_for): the end of a run, or
    /// a ring with a reserved namespace. Checks the user_data, then takes the next SQE.
    #[cold]
    #[inline(never)]
    fn next_sqe_for_checked(&mut self, user_data: u64) -> Result<&mut Sqe, SqeError> {
        if self.is_reserved_user_data(user_data) {
            return Err(SqeError::ReservedUserData(user_data));
        }
        let sq = &mut self.sq;
        if sq.next == sq.end && !sq.refresh_inline() {
            return Err(SqeError::SubmissionQueueFull);
        }
        // SAFETY: `next < end`: it was not at the end, or a fresh run is not empty.
        Ok(unsafe { sq.take() })
    }

    /// The next free SQE, or `Err(SubmissionQueueFull)`.
    #[inline]
    pub(crate) fn next_sqe(&mut self) -> Result<&mut Sqe, SubmissionQueueFull> {
        let sq = &mut self.sq;
        // At the end of the run (it looks full with the head we knew, or the array wraps):
        // ask the kernel how far it has consumed, and start the next run.
        if sq.next == sq.end && !sq.refresh() {
            return Err(SubmissionQueueFull);
        }
        // SAFETY: `next < end`: it was not at the end, or a fresh run is not empty.
        Ok(unsafe { sq.take() })
    }

    /// The next free SQE, or `Err(SubmissionQueueFull)`, zeroed, for the caller to fill
    /// (with a `prep_*` method or by hand). Zig: `get_sqe`; liburing: `io_uring_get_sqe`.
    ///
    /// # Safety
    ///
    /// The entry is submitted to the kernel by the next `submit`/`flush_sq`. Whatever it
    /// names must then be valid for the kernel: every buffer, iovec, path, msghdr or
    /// sockaddr address must stay valid (and, for buffers the kernel writes, unaliased)
    /// until the request's completion has been reaped, and for zero-copy sends until the
    /// `IORING_CQE_F_NOTIF` completion. File descriptors must be open (or, for fixed
    /// files, registered) as the operation expects. Its user_data must not be reserved
    /// ([`is_reserved_user_data`](Self::is_reserved_user_data)).
    #[inline]
    pub unsafe fn get_sqe(&mut self) -> Result<&mut Sqe, SubmissionQueueFull> {
        let sqe = self.next_sqe()?;
        *sqe = Sqe::default();
        Ok(sqe)
    }

    /// Copies a prepared SQE into the ring. liburing has no twin; tokio's `io-uring` calls
    /// it `push`.
    ///
    /// # Safety
    ///
    /// As for [`get_sqe`](Self::get_sqe): everything `sqe` names must remain valid for the
    /// kernel until its completion (zero-copy: until its notification), and its user_data
    /// must not be reserved.
    #[inline]
    pub unsafe fn push(&mut self, sqe: &Sqe) -> Result<(), SubmissionQueueFull> {
        *self.next_sqe()? = *sqe;
        Ok(())
    }

    /// Publishes the SQEs handed out since the last flush, by one release store of the
    /// tail, and returns how many SQEs the kernel has yet to consume. Zig: `flush_sq`.
    #[inline]
    pub fn flush_sq(&mut self) -> u32 {
        let sq = &mut self.sq;
        let tail = sq.sqe_tail();
        if sq.sqe_head != tail {
            sq.sqe_head = tail;
            // Release: the kernel must see the SQE contents written before the new tail.
            // SAFETY: tail points into the live SQ ring mapping.
            unsafe { (*sq.tail).store(tail, Ordering::Release) };
        }
        // `sq_ready`, from the tail just computed.
        // SAFETY: head points into the live SQ ring mapping.
        let head = unsafe { (*sq.head).load(Ordering::Acquire) };
        tail.wrapping_sub(head)
    }

    /// Whether `io_uring_enter` is needed to submit, setting SQ_WAKEUP in `flags` when an
    /// SQPOLL thread sleeps. Zig: `sq_ring_needs_enter`.
    #[inline]
    pub fn sq_ring_needs_enter(&self, flags: &mut IoringEnterFlags) -> bool {
        if !self.flags.contains(IoringSetupFlags::SQPOLL) {
            return true;
        }
        // Full barrier between our tail store (flush_sq) and the load of NEED_WAKEUP: the
        // SQ thread sets NEED_WAKEUP and then re-reads the tail. Without this fence the
        // load could be ordered before the store, both sides would miss each other, and
        // the thread would sleep with work queued (liburing: io_uring_smp_mb()).
        fence(Ordering::SeqCst);
        if self.sq.flags() & sys::IORING_SQ_NEED_WAKEUP != 0 {
            *flags |= IoringEnterFlags::SQ_WAKEUP;
            return true;
        }
        false
    }

    /// A `DEFER_TASKRUN` ring without `TASKRUN_FLAG`: its pending task work is invisible.
    #[inline]
    pub(crate) fn defer_taskrun_unflagged(&self) -> bool {
        self.flags.contains(IoringSetupFlags::DEFER_TASKRUN)
            && !self.flags.contains(IoringSetupFlags::TASKRUN_FLAG)
    }

    /// Whether the kernel holds completions that only an enter with GETEVENTS posts:
    /// overflowed CQEs (IORING_SQ_CQ_OVERFLOW) or pending task work (IORING_SQ_TASKRUN).
    /// Zig / liburing: `cq_ring_needs_flush`.
    #[inline]
    pub fn cq_ring_needs_flush(&self) -> bool {
        self.sq.flags() & (sys::IORING_SQ_CQ_OVERFLOW | sys::IORING_SQ_TASKRUN) != 0
    }

    /// SQEs handed out (flushed or not) that the kernel has not consumed yet.
    /// Zig: `sq_ready`.
    #[inline]
    pub fn sq_ready(&self) -> u32 {
        // SAFETY: head points into the live SQ ring mapping.
        let head = unsafe { (*self.sq.head).load(Ordering::Acquire) };
        self.sq.sqe_tail().wrapping_sub(head)
    }

    /// Free SQE slots. liburing: `io_uring_sq_space_left`.
    #[inline]
    pub fn sq_space_left(&self) -> u32 {
        self.sq.entries - self.sq_ready()
    }

    /// CQEs ready to be reaped. Zig: `cq_ready`.
    #[inline]
    pub fn cq_ready(&self) -> u32 {
        self.cq.tail().wrapping_sub(self.cq.head())
    }

    /// Submits the queued SQEs; returns how many were submitted. Zig: `submit`. It does
    /// not run a `DEFER_TASKRUN` ring's task work: see [`get_events`](Self::get_events).
    #[inline]
    pub fn submit(&mut self) -> Result<u32, EnterError> {
        self.submit_and_wait(0)
    }

    /// Submits the queued SQEs and waits for at least `wait_nr` completions (without
    /// reaping them). Enters the kernel only when needed: never when there is nothing to
    /// submit or wait for, and not with an SQPOLL thread that is awake. Zig:
    /// `submit_and_wait`; liburing: `io_uring_submit_and_wait`.
    ///
    /// A signal ends the wait. If this call submitted nothing, the result is
    /// [`EnterError::SignalInterrupt`]; if it did submit, the kernel reports the
    /// submission instead, `Ok(n)`, and fewer than `wait_nr` completions may be ready (with
    /// SQPOLL, `n` also counts published SQEs the kernel thread had not consumed yet). So
    /// `Ok` counts submissions, not completions. Nothing is lost either way: the SQEs are
    /// submitted once, and [`copy_cqe`](Self::copy_cqe) waits for their completions.
    ///
    /// ```
    /// use uring::{sys::IoringSetupFlags, IoUring};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = IoUring::init(8, IoringSetupFlags::empty())?;
    /// for user_data in 1..=3 {
    ///     ring.nop(user_data)?;
    /// }
    /// // One enter submits all three and returns once all three have completed.
    /// assert_eq!(ring.submit_and_wait(3)?, 3);
    /// assert_eq!(ring.cq_ready(), 3);
    /// # Ok(()) }
    /// ```
    pub fn submit_and_wait(&mut self, wait_nr: u32) -> Result<u32, EnterError> {
        let submitted = self.flush_sq();
        let mut flags = IoringEnterFlags::empty();
        // `sq_ring_needs_enter` runs first whenever there is something to submit: with
        // SQPOLL it also sets SQ_WAKEUP, which an enter that only waits still needs.
        let needs_enter = submitted > 0 && self.sq_ring_needs_enter(&mut flags);
        if wait_nr > 0
            || self.flags.contains(IoringSetupFlags::IOPOLL)
            || self.cq_ring_needs_flush()
        {
            flags |= IoringEnterFlags::GETEVENTS;
        } else if !needs_enter {
            return Ok(submitted);
        }
        self.enter_with(submitted, wait_nr, flags)
    }

    /// Like [`submit_and_wait`](Self::submit_and_wait), but gives up waiting after
    /// `timeout` (IORING_ENTER_EXT_ARG, Linux 5.11). The SQEs are submitted either way.
    /// liburing: `io_uring_submit_and_wait_timeout`. The same as
    /// [`submit_and_wait_args`](Self::submit_and_wait_args) with
    /// `WaitArgs::new().timeout(timeout)`.
    ///
    /// The result says both what was submitted and how the wait ended
    /// ([`SubmitWait`]): a timeout is `Ok` with `timed_out: true`, never
    /// [`EnterError::Timeout`] (when the call submitted something the kernel reports the
    /// submission and drops the wait's `ETIME`, so an error could not say it anyway).
    /// `timed_out` is decided from the CQ: fewer than `wait_nr` completions ready when the
    /// call returns. A signal that ends the wait is [`EnterError::SignalInterrupt`] when
    /// nothing was submitted; after a submission the kernel does not report it, and it
    /// shows as `timed_out` too.
    ///
    /// A `timeout` above 2^32 seconds (136 years; `Duration::MAX` included) is waited as
    /// 2^32 seconds: the kernel adds a relative timeout to the current time in signed
    /// 64-bit nanoseconds, and a larger value would wrap into an immediate timeout.
    pub fn submit_and_wait_timeout(
        &mut self,
        wait_nr: u32,
        timeout: Duration,
    ) -> Result<SubmitWait, EnterError> {
        self.wait_ext(true, wait_nr, &WaitArgs::new().timeout(timeout))
    }

    /// Submits the queued SQEs and waits for `wait_nr` completions, but once `min_wait`
    /// has passed returns as soon as *any* completion is ready (IORING_ENTER_EXT_ARG with
    /// `min_wait_usec`, Linux 6.12, IORING_FEAT_MIN_TIMEOUT); `timeout` bounds the whole
    /// wait. This batches completions under load without adding latency when little
    /// happens. liburing: `io_uring_submit_and_wait_min_timeout` (no sigmask; see
    /// [`submit_and_wait_args`](Self::submit_and_wait_args)).
    ///
    /// The kernel's rule, from the start of the wait: until `min_wait`, wake only for
    /// `wait_nr` completions; at `min_wait`, return if the CQ holds any completion, or if
    /// `timeout` is not longer than `min_wait`; otherwise wait for the next completion or
    /// `timeout`. (Through [`WaitArgs`] without a timeout, the minimum wait is the whole
    /// wait: it ends at `min_wait` even with no completion.) The result is as for
    /// [`submit_and_wait_timeout`](Self::submit_and_wait_timeout): `timed_out` when fewer
    /// than `wait_nr` are ready on return, which includes the early return at `min_wait`.
    /// `min_wait` is passed in whole microseconds, rounded up, at most `u32::MAX` µs
    /// (71 minutes); on a kernel without IORING_FEAT_MIN_TIMEOUT a nonzero `min_wait`
    /// is [`EnterError::MinTimeoutNotSupported`] (checked before any system call; such a
    /// kernel would answer `EINVAL`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use uring::{sys::IoringSetupFlags, IoUring};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = IoUring::init(8, IoringSetupFlags::empty())?;
    /// ring.nop(1)?;
    /// // Asks for 8 completions within 10 s, but takes what is there after 1 ms.
    /// let waited =
    ///     ring.submit_and_wait_min_timeout(8, Duration::from_secs(10), Duration::from_millis(1))?;
    /// assert_eq!(waited.submitted, 1);
    /// assert!(waited.timed_out); // 1 of 8
    /// assert_eq!(ring.copy_cqe()?.user_data, 1);
    /// # Ok(()) }
    /// ```
    pub fn submit_and_wait_min_timeout(
        &mut self,
        wait_nr: u32,
        timeout: Duration,
        min_wait: Duration,
    ) -> Result<SubmitWait, EnterError> {
        let args = WaitArgs::new().timeout(timeout).min_wait(min_wait);
        self.wait_ext(true, wait_nr, &args)
    }

    /// Submits the queued SQEs and waits for `wait_nr` completions as `args` says: an
    /// optional timeout, a minimum wait (as for
    /// [`submit_and_wait_min_timeout`](Self::submit_and_wait_min_timeout)) and an
    /// optional signal mask in force during the wait (IORING_ENTER_EXT_ARG, Linux 5.11;
    /// `min_wait`, 6.12). With no timeout the wait is unbounded. The result is as for
    /// [`submit_and_wait_timeout`](Self::submit_and_wait_timeout). liburing:
    /// `io_uring_submit_and_wait_min_timeout` with its `sigmask` argument.
    pub fn submit_and_wait_args(
        &mut self,
        wait_nr: u32,
        args: &WaitArgs<'_>,
    ) -> Result<SubmitWait, EnterError> {
        self.wait_ext(true, wait_nr, args)
    }

    /// Waits for `wait_nr` completions as `args` says, without submitting anything (the
    /// SQEs handed out stay queued; `submitted` is 0), so that one thread may wait while
    /// another fills the SQ under its own lock (IORING_ENTER_EXT_ARG, Linux 5.11). A
    /// timeout or an early return at `min_wait` is `Ok` with `timed_out: true`; a signal
    /// that ends the wait is [`EnterError::SignalInterrupt`]. Completions are not reaped:
    /// copy them out with [`copy_cqes`](Self::copy_cqes). liburing: `io_uring_wait_cqes`,
    /// `io_uring_wait_cqes_min_timeout` (which also return the first CQE).
    pub fn wait_cqes(
        &mut self,
        wait_nr: u32,
        args: &WaitArgs<'_>,
    ) -> Result<SubmitWait, EnterError> {
        self.wait_ext(false, wait_nr, args)
    }

    /// The EXT_ARG wait behind the timeout entry points.
    fn wait_ext(
        &mut self,
        submit: bool,
        wait_nr: u32,
        args: &WaitArgs<'_>,
    ) -> Result<SubmitWait, EnterError> {
        if self.unmapped {
            return Err(EnterError::RingUnmapped);
        }
        let min_timeout = IoringFeatureFlags::from_bits_retain(sys::IORING_FEAT_MIN_TIMEOUT);
        if args.min_wait_usec != 0 && !self.features.contains(min_timeout) {
            return Err(EnterError::MinTimeoutNotSupported);
        }
        let mut flags = IoringEnterFlags::GETEVENTS | IoringEnterFlags::EXT_ARG;
        let submitted = if submit {
            let n = self.flush_sq();
            self.sq_ring_needs_enter(&mut flags);
            n
        } else {
            0
        };
        let ts = args.timeout.map(|timeout| rustix::time::Timespec {
            // `timeout <= MAX_WAIT`: the seconds fit an i64.
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        });
        let mut arg = io_uring_getevents_arg {
            min_wait_usec: args.min_wait_usec,
            ..Default::default()
        };
        if let Some(ts) = ts.as_ref() {
            arg.ts = io_uring_ptr::new((ts as *const rustix::time::Timespec).cast_mut().cast());
        }
        if let Some(mask) = args.sigmask {
            arg.sigmask = io_uring_ptr::new((mask as *const KernelSigSet).cast_mut().cast());
            arg.sigmask_sz = size_of::<KernelSigSet>() as u32;
        }
        let (fd, reg_flag) = self.enter_target();
        // SAFETY: EXT_ARG with a valid io_uring_getevents_arg; its `ts` and `sigmask` (when
        // set) point to a timespec and a signal set that live across the call, and the
        // kernel only reads them. A sigmask comes from `WaitArgs::sigmask`, whose caller
        // promised it holds no signal the libc reserves. `fd` is our ring, or its slot in
        // this thread's registered-ring table with REGISTERED_RING.
        let r = unsafe { io_uring_enter_arg(fd, submitted, wait_nr, flags | reg_flag, Some(&arg)) };
        match r {
            Ok(submitted) => Ok(SubmitWait {
                submitted,
                timed_out: self.cq_ready() < wait_nr,
            }),
            Err(Errno::TIME) => Ok(SubmitWait {
                submitted: 0,
                timed_out: true,
            }),
            Err(e) => Err(EnterError::from_errno(e)),
        }
    }

    /// The descriptor argument of `io_uring_enter` and the flag that goes with it: the
    /// ring's slot in the calling thread's registered-ring table with
    /// IORING_ENTER_REGISTERED_RING when [`register_ring_fd`](Self::register_ring_fd) was
    /// called on this thread, the ring's fd otherwise. The thread check is what makes the
    /// index safe to use: on any other thread the same number names that thread's slot,
    /// empty or holding another ring.
    ///
    /// The flags also carry IORING_ENTER_NO_IOWAIT after [`set_iowait`](Self::set_iowait)
    /// turned accounting off (it only matters to an enter that waits).
    #[inline]
    fn enter_target(&self) -> (BorrowedFd<'_>, IoringEnterFlags) {
        let extra = if self.no_iowait {
            IoringEnterFlags::from_bits_retain(sys::IORING_ENTER_NO_IOWAIT)
        } else {
            IoringEnterFlags::empty()
        };
        if let Some(reg) = self.registered {
            if reg.thread == thread_token() {
                // SAFETY: the number is never used as a descriptor: it travels only as the
                // `fd` argument of an io_uring_enter with IORING_ENTER_REGISTERED_RING,
                // where the kernel reads it as an index into the calling task's table
                // (this thread's, checked above, where it names this ring). It is not -1
                // (an index below 16), and the BorrowedFd does not outlive `&self`.
                let fd = unsafe { BorrowedFd::borrow_raw(reg.index as RawFd) };
                return (fd, IoringEnterFlags::REGISTERED_RING | extra);
            }
        }
        (self.fd.as_fd(), extra)
    }

    /// Submits the queued SQEs and always enters with GETEVENTS, without waiting: the
    /// kernel runs pending task work and flushes overflowed completions, so that the CQ
    /// is up to date (needed on a `DEFER_TASKRUN` ring before peeking). Returns how many
    /// SQEs were submitted. liburing: `io_uring_submit_and_get_events`.
    pub fn submit_and_get_events(&mut self) -> Result<u32, EnterError> {
        let submitted = self.flush_sq();
        let mut flags = IoringEnterFlags::GETEVENTS;
        if submitted > 0 {
            self.sq_ring_needs_enter(&mut flags);
        }
        self.enter_with(submitted, 0, flags)
    }

    /// On an SQPOLL ring whose SQ is full, waits until the kernel thread consumed at
    /// least one SQE (IORING_ENTER_SQ_WAIT, Linux 5.10), waking the thread if it sleeps;
    /// returns at once if there is room, or on a ring without SQPOLL (where only
    /// [`submit`](Self::submit) makes room). liburing: `io_uring_sqring_wait`.
    pub fn sqring_wait(&mut self) -> Result<(), EnterError> {
        if !self.flags.contains(IoringSetupFlags::SQPOLL) || self.sq_space_left() > 0 {
            return Ok(());
        }
        let mut flags = IoringEnterFlags::SQ_WAIT;
        self.flush_sq();
        self.sq_ring_needs_enter(&mut flags);
        self.enter_with(0, 0, flags)?;
        Ok(())
    }

    /// Whether the kernel accounts this ring's waits as I/O wait (`enabled`, the
    /// default) or not (IORING_ENTER_NO_IOWAIT on every enter, Linux 6.15,
    /// IORING_FEAT_NO_IOWAIT): iowait time raises CPU frequency on some governors, and
    /// shows in load averages, which a ring waiting for network traffic may not want.
    /// Without the feature, turning it off is [`EnterError::OpcodeNotSupported`] (the
    /// kernel's EOPNOTSUPP in liburing's version), before any system call. liburing:
    /// `io_uring_set_iowait`.
    pub fn set_iowait(&mut self, enabled: bool) -> Result<(), EnterError> {
        let feature = IoringFeatureFlags::from_bits_retain(sys::IORING_FEAT_NO_IOWAIT);
        if !self.features.contains(feature) {
            return if enabled {
                Ok(())
            } else {
                Err(EnterError::OpcodeNotSupported)
            };
        }
        self.no_iowait = !enabled;
        Ok(())
    }

    /// Stops (`false`) or resumes (`true`) the signalling of the registered eventfd for
    /// new completions, by IORING_CQ_EVENTFD_DISABLED in the CQ ring's flags (Linux 5.8),
    /// without unregistering it. liburing: `io_uring_cq_eventfd_toggle`.
    pub fn set_cq_eventfd_enabled(&mut self, enabled: bool) {
        // SAFETY: flags points into the live CQ ring mapping; the kernel only reads this
        // word (when posting), we are its only writer (`&mut self`).
        let flags = unsafe { &*self.cq.flags };
        if enabled {
            flags.fetch_and(!sys::IORING_CQ_EVENTFD_DISABLED, Ordering::Relaxed);
        } else {
            flags.fetch_or(sys::IORING_CQ_EVENTFD_DISABLED, Ordering::Relaxed);
        }
    }

    /// Whether the registered eventfd is signalled for new completions (no
    /// IORING_CQ_EVENTFD_DISABLED). liburing: `io_uring_cq_eventfd_enabled`.
    pub fn cq_eventfd_enabled(&self) -> bool {
        self.cq.flags() & sys::IORING_CQ_EVENTFD_DISABLED == 0
    }

    /// Runs the ring's pending task work, posting the completions it produces, without
    /// submitting or waiting (`io_uring_enter` with GETEVENTS and `min_complete` 0).
    /// Needed on a `DEFER_TASKRUN` ring, where completions that finish asynchronously are
    /// posted only by such an enter from the issuer task: without it (and without
    /// `TASKRUN_FLAG`), [`peek_cqe`](Self::peek_cqe) and [`submit`](Self::submit) never
    /// see them. [`copy_cqes`](Self::copy_cqes) does it itself when it finds the CQ empty.
    /// Harmless on other rings. liburing: `io_uring_get_events`.
    pub fn get_events(&mut self) -> Result<(), EnterError> {
        self.enter_with(0, 0, IoringEnterFlags::GETEVENTS)?;
        Ok(())
    }

    /// `io_uring_enter(2)` with explicit arguments; errors are typed. Zig: `enter`.
    /// EXT_ARG flags are refused here ([`EnterError::ExtArgNotAllowed`]): they need an
    /// argument block, which [`submit_and_wait_timeout`](Self::submit_and_wait_timeout)
    /// and [`wait_cqes`](Self::wait_cqes) provide. So is IORING_ENTER_REGISTERED_RING
    /// ([`EnterError::RegisteredRingNotAllowed`]): with it the kernel would read the fd as
    /// a slot of the thread's registered-ring table; the ring adds it itself after
    /// [`register_ring_fd`](Self::register_ring_fd), on the registering thread.
    pub fn enter(
        &mut self,
        to_submit: u32,
        min_complete: u32,
        flags: IoringEnterFlags,
    ) -> Result<u32, EnterError> {
        if flags.intersects(IoringEnterFlags::EXT_ARG | IoringEnterFlags::EXT_ARG_REG) {
            return Err(EnterError::ExtArgNotAllowed);
        }
        if flags.contains(IoringEnterFlags::REGISTERED_RING) {
            return Err(EnterError::RegisteredRingNotAllowed);
        }
        self.enter_with(to_submit, min_complete, flags)
    }

    /// [`enter`](Self::enter) with flags the ring chose itself (never EXT_ARG or
    /// REGISTERED_RING, which it adds here when the ring fd is registered): the path of
    /// `submit_and_wait` and `copy_cqes`.
    #[inline]
    fn enter_with(
        &mut self,
        to_submit: u32,
        min_complete: u32,
        flags: IoringEnterFlags,
    ) -> Result<u32, EnterError> {
        debug_assert!(!flags.intersects(
            IoringEnterFlags::EXT_ARG
                | IoringEnterFlags::EXT_ARG_REG
                | IoringEnterFlags::REGISTERED_RING
        ));
        if self.unmapped {
            return Err(EnterError::RingUnmapped);
        }
        let (fd, reg_flag) = self.enter_target();
        // SAFETY: `fd` is our ring, or its slot in this thread's registered-ring table with
        // REGISTERED_RING; without EXT_ARG the kernel reads no argument.
        let r = unsafe { io_uring_enter(fd, to_submit, min_complete, flags | reg_flag) };
        r.map_err(EnterError::from_errno)
    }

    /// Copies up to `cqes.len()` ready completions into `cqes` and consumes them; if none
    /// is ready, enters the kernel to wait for `wait_nr` (or, when the kernel holds
    /// overflowed CQEs or task work, to flush them; on a `DEFER_TASKRUN` ring without
    /// `TASKRUN_FLAG`, whose task work cannot be seen, always) and copies again. Returns
    /// how many were copied. Copying out is safer than borrowing from the ring (no `cqe_seen` to forget)
    /// and advances the head once per batch. Zig: `copy_cqes`; liburing:
    /// `io_uring_peek_batch_cqe` + `io_uring_cq_advance`.
    ///
    /// On a ring a [`Driver`](crate::zc::Driver) owns, the completions of the driver's
    /// requests (its reserved user_data namespace) are never copied out here: they are set
    /// aside for the driver, and the caller's completions that the driver reaped come
    /// first. So `wait_nr` may be met by the driver's completions, and a call may return 0
    /// after waiting.
    ///
    /// ```
    /// use uring::{sys::IoringSetupFlags, Cqe, IoUring};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = IoUring::init(16, IoringSetupFlags::empty())?;
    /// for user_data in 0..10 {
    ///     ring.nop(user_data)?;
    /// }
    /// ring.submit()?;
    /// let mut cqes = [Cqe::default(); 16];
    /// let mut seen = 0u32; // by user_data: completion order is the kernel's
    /// for _ in 0..10 {
    ///     if seen.count_ones() == 10 {
    ///         break;
    ///     }
    ///     let n = ring.copy_cqes(&mut cqes, 1)? as usize; // waits for at least one
    ///     for cqe in &cqes[..n] {
    ///         assert_eq!(cqe.res, 0);
    ///         seen |= 1 << cqe.user_data;
    ///     }
    /// }
    /// assert_eq!(seen, (1 << 10) - 1);
    /// # Ok(()) }
    /// ```
    pub fn copy_cqes(&mut self, cqes: &mut [Cqe], wait_nr: u32) -> Result<u32, EnterError> {
        if self.split.is_none() {
            return self.copy_cqes_all(cqes, wait_nr);
        }
        self.copy_cqes_split(cqes, wait_nr)
    }

    /// [`copy_cqes`](Self::copy_cqes) on a ring with a reserved namespace.
    #[cold]
    fn copy_cqes_split(&mut self, cqes: &mut [Cqe], wait_nr: u32) -> Result<u32, EnterError> {
        if let Some(split) = self.split.as_deref_mut() {
            if !split.user.is_empty() {
                let n = cqes.len().min(split.user.len());
                for (dst, src) in cqes.iter_mut().zip(split.user.drain(..n)) {
                    *dst = src;
                }
                return Ok(n as u32);
            }
        }
        let n = self.copy_cqes_all(cqes, wait_nr)? as usize;
        Ok(self.set_aside_reserved(&mut cqes[..n]))
    }

    /// Moves the reserved completions among `cqes` to the driver's side, compacting the
    /// others to the front in order; returns how many others remain.
    fn set_aside_reserved(&mut self, cqes: &mut [Cqe]) -> u32 {
        let (mask, tag) = (self.reserved_mask, self.reserved_tag);
        let Some(split) = self.split.as_deref_mut() else {
            return cqes.len() as u32;
        };
        let mut kept = 0;
        for i in 0..cqes.len() {
            let cqe = cqes[i];
            if cqe.user_data & mask == tag {
                split.reserved.push_back(cqe);
            } else {
                cqes[kept] = cqe;
                kept += 1;
            }
        }
        kept as u32
    }

    /// [`copy_cqes`](Self::copy_cqes) without the split: every namespace.
    #[inline]
    fn copy_cqes_all(&mut self, cqes: &mut [Cqe], wait_nr: u32) -> Result<u32, EnterError> {
        let count = self.copy_cqes_ready(cqes);
        if count > 0 {
            return Ok(count);
        }
        self.copy_cqes_wait(cqes, wait_nr)
    }

    /// The rest of [`copy_cqes_all`](Self::copy_cqes_all), out of line: no completion was
    /// ready.
    #[inline(never)]
    fn copy_cqes_wait(&mut self, cqes: &mut [Cqe], wait_nr: u32) -> Result<u32, EnterError> {
        // A DEFER_TASKRUN ring without TASKRUN_FLAG gives no sign of pending task work:
        // with the CQ empty, run it (the enter with GETEVENTS does), or the completions it
        // would post never come to a caller that does not wait.
        if self.cq_ring_needs_flush() || wait_nr > 0 || self.defer_taskrun_unflagged() {
            self.enter_with(0, wait_nr, IoringEnterFlags::GETEVENTS)?;
            return Ok(self.copy_cqes_ready(cqes));
        }
        Ok(0)
    }

    /// Copies the completions that are ready, handling the wrap of the CQE array, and
    /// consumes them with one release store of the head.
    #[inline]
    fn copy_cqes_ready(&mut self, cqes: &mut [Cqe]) -> u32 {
        let cq = &self.cq;
        // Our head: only we write it. The tail with acquire: the kernel wrote the CQEs
        // before releasing it.
        let head = cq.head();
        let ready = cq.tail().wrapping_sub(head);
        let count = ready.min(cqes.len().min(u32::MAX as usize) as u32);
        if count == 0 {
            return 0;
        }
        let first = (head & cq.mask) as usize;
        let until_wrap = (cq.entries as usize - first).min(count as usize);
        let dst = cqes.as_mut_ptr();
        // SAFETY: `first + until_wrap <= entries` and `count - until_wrap <= entries`, so
        // both source ranges lie inside the CQE array of the mapping; the CQEs between our
        // head and the tail (read with acquire) are fully written by the kernel and not
        // rewritten until we advance the head. `cqes` has room for `count`; it is our own
        // memory, not the mapping, so the ranges do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(cq.cqes.as_ptr().add(first), dst, until_wrap);
            if until_wrap < count as usize {
                core::ptr::copy_nonoverlapping(
                    cq.cqes.as_ptr(),
                    dst.add(until_wrap),
                    count as usize - until_wrap,
                );
            }
        }
        // Release: our reads of the consumed CQEs happen before the kernel may reuse their
        // slots. `count <= ready`, so the head never passes the tail.
        // SAFETY: head points into the live CQ ring mapping; only we write it.
        unsafe { (*cq.head).store(head.wrapping_add(count), Ordering::Release) };
        count
    }

    /// Visits every completion that is ready, oldest first, in place (no copy), then
    /// consumes them all with one store of the head; returns how many it visited. Does not
    /// wait or enter the kernel: submit and wait first (on a `DEFER_TASKRUN` ring,
    /// completions that need task work are posted only by an enter that asks for events).
    /// liburing: `io_uring_for_each_cqe` followed by `io_uring_cq_advance`; tokio's
    /// `io-uring`: iterating `completion()`.
    ///
    /// On a ring a driver owns, the driver's completions are set aside for it, as by
    /// [`copy_cqes`](Self::copy_cqes), and `f` sees only the others (copied out first).
    /// Should `f` panic, the completions are consumed only if the ring is a driver's (then
    /// the ones not visited yet are lost); on any other ring none is, and the next reap
    /// sees them all again.
    ///
    /// ```
    /// use uring::{IoUring, sys::IoringSetupFlags};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = IoUring::init(8, IoringSetupFlags::empty())?;
    /// for user_data in 1..=4 {
    ///     ring.nop(user_data)?;
    /// }
    /// ring.submit_and_wait(4)?;
    /// let mut sum = 0;
    /// assert_eq!(ring.for_each_cqe(|cqe| sum += cqe.user_data), 4);
    /// assert_eq!(sum, 1 + 2 + 3 + 4);
    /// assert_eq!(ring.cq_ready(), 0);
    /// # Ok(()) }
    /// ```
    #[inline(always)]
    pub fn for_each_cqe(&mut self, mut f: impl FnMut(&Cqe)) -> u32 {
        if self.split.is_some() {
            return self.for_each_cqe_split(&mut f);
        }
        let cq = &self.cq;
        let head = cq.head();
        // Never more than the array holds, whatever the shared tail says.
        let ready = cq.tail().wrapping_sub(head).min(cq.entries);
        if ready == 0 {
            return 0;
        }
        let first = (head & cq.mask) as usize;
        let until_wrap = (cq.entries as usize - first).min(ready as usize);
        // SAFETY: `first + until_wrap <= entries` and `ready - until_wrap <= first` (the
        // rest starts at index 0), so both ranges lie inside the CQE array of the mapping.
        // The CQEs between our head and the tail (read with acquire) are fully written by
        // the kernel, which does not rewrite a slot until our head has passed it: we move
        // the head only below, after the last use of these slices. `&mut self` keeps any
        // other reader of this ring out meanwhile.
        let (older, newer) = unsafe {
            let base = cq.cqes.as_ptr();
            (
                core::slice::from_raw_parts(base.add(first), until_wrap),
                core::slice::from_raw_parts(base, ready as usize - until_wrap),
            )
        };
        for cqe in older {
            f(cqe);
        }
        for cqe in newer {
            f(cqe);
        }
        // Release: our reads of the visited CQEs happen before the kernel may reuse their
        // slots. `ready` never passes the tail read above.
        // SAFETY: head points into the live CQ ring mapping; only we write it.
        unsafe { (*cq.head).store(head.wrapping_add(ready), Ordering::Release) };
        ready
    }

    /// [`for_each_cqe`](Self::for_each_cqe) on a ring with a reserved namespace: copied out
    /// (the caller's completions set aside earlier first), the driver's set aside.
    #[cold]
    fn for_each_cqe_split(&mut self, f: &mut dyn FnMut(&Cqe)) -> u32 {
        let mut visited = 0;
        while let Some(cqe) = self.split.as_deref_mut().and_then(|s| s.user.pop_front()) {
            f(&cqe);
            visited += 1;
        }
        let mut cqes = [Cqe::default(); 16];
        // At most one ring's worth from the CQ: bounded while the kernel keeps posting.
        let mut left = self.cq.entries as usize;
        loop {
            let take = left.min(cqes.len());
            let n = self.copy_cqes_ready(&mut cqes[..take]) as usize;
            if n == 0 {
                return visited;
            }
            left -= n;
            let kept = self.set_aside_reserved(&mut cqes[..n]) as usize;
            for cqe in &cqes[..kept] {
                f(cqe);
            }
            visited += kept as u32;
        }
    }

    /// Waits for one completion and returns it. Zig: `copy_cqe`; liburing:
    /// `io_uring_wait_cqe` + `io_uring_cqe_seen`.
    pub fn copy_cqe(&mut self) -> Result<Cqe, EnterError> {
        let mut cqes = [Cqe::default()];
        loop {
            // With wait_nr = 1 the kernel returns only once a CQE is posted (or with an
            // error); the loop re-copies if another consumer raced us to it.
            if self.copy_cqes(&mut cqes, 1)? > 0 {
                return Ok(cqes[0]);
            }
        }
    }

    /// The next ready completion, if any, without waiting or entering the kernel.
    /// liburing: `io_uring_peek_cqe` + `io_uring_cqe_seen`. On a `DEFER_TASKRUN` ring,
    /// completions that need task work are posted only by entering: call
    /// [`get_events`](Self::get_events) first (or use [`copy_cqes`](Self::copy_cqes)).
    /// On a ring a driver owns, the driver's completions are set aside, as by
    /// [`copy_cqes`](Self::copy_cqes).
    pub fn peek_cqe(&mut self) -> Option<Cqe> {
        let mut cqes = [Cqe::default()];
        if self.split.is_none() {
            return (self.copy_cqes_ready(&mut cqes) == 1).then_some(cqes[0]);
        }
        if let Some(cqe) = self.split.as_deref_mut().and_then(|s| s.user.pop_front()) {
            return Some(cqe);
        }
        while self.copy_cqes_ready(&mut cqes) == 1 {
            if self.set_aside_reserved(&mut cqes) == 1 {
                return Some(cqes[0]);
            }
        }
        None
    }

    /// Marks the oldest ready completion as consumed (after reading it in place).
    /// Zig: `cqe_seen`; liburing: `io_uring_cqe_seen`.
    #[inline]
    pub fn cqe_seen(&mut self) {
        self.cq_advance(1);
    }

    /// Consumes `count` completions, never more than are ready. Zig / liburing:
    /// `cq_advance`. On a ring a driver owns, the driver's completions among them are set
    /// aside for it, not dropped.
    #[inline]
    pub fn cq_advance(&mut self, count: u32) {
        if let Some(split) = self.split.as_deref_mut() {
            let from_stash = split.user.len().min(count as usize);
            split.user.drain(..from_stash);
            let mut cqes = [Cqe::default(); 16];
            let mut left = count - from_stash as u32;
            while left > 0 {
                let take = left.min(cqes.len() as u32) as usize;
                let n = self.copy_cqes_ready(&mut cqes[..take]);
                if n == 0 {
                    return;
                }
                self.set_aside_reserved(&mut cqes[..n as usize]);
                left -= n;
            }
            return;
        }
        let count = count.min(self.cq_ready());
        if count > 0 {
            let head = self.cq.head().wrapping_add(count);
            // Release: our reads of the consumed CQEs happen before the kernel may reuse
            // their slots.
            // SAFETY: head points into the live CQ ring mapping; only we write it.
            unsafe { (*self.cq.head).store(head, Ordering::Release) };
        }
    }

    /// Resizes the SQ and the CQ of a live ring (IORING_REGISTER_RESIZE_RINGS, Linux
    /// 6.13): `sq_entries` SQEs and `cq_entries` CQEs (`None`: twice the SQ, as at setup),
    /// rounded up to powers of two by the kernel. Zero, more than its limits (32768 SQEs,
    /// 65536 CQEs) or fewer CQEs than SQEs are [`RegisterError::ArgumentsInvalid`], and
    /// so is a ring not set up with IORING_SETUP_DEFER_TASKRUN, the only kind the kernel
    /// resizes. liburing: `io_uring_resize_rings`.
    ///
    /// The ring must also have been set up with IORING_SETUP_NO_SQARRAY (Linux 6.6; every
    /// kernel that resizes has it, and liburing sets it by default), else
    /// [`RegisterError::ResizeNeedsNoSqArray`] before any system call: Linux 6.13 to 6.18
    /// do not report where the new SQ array lies (their answer has `sq_off.array` 0, the
    /// offset of the ring header), and the offset depends on the architecture's cache
    /// line size, so the array could not be found, and filling it at offset 0 would
    /// overwrite the queue heads and tails.
    ///
    /// Nothing is lost: every SQE handed out is published first, and the kernel copies
    /// the SQEs it has not consumed and the CQEs not yet reaped into the new rings,
    /// keeping their indices; if either does not fit, it keeps the old rings and answers
    /// `EOVERFLOW` ([`RegisterError::Overflow`]), and the ring goes on as before. On
    /// success the ring maps the new rings and unmaps the old ones (liburing does the
    /// same); if that mapping fails the ring is unusable
    /// ([`RegisterError::RemapFailed`]). A ring a [`Driver`](crate::zc::Driver) owns is
    /// refused ([`RegisterError::OwnedBySafeLayer`]): the driver sized its requests in
    /// flight to its queues.
    pub fn resize_rings(
        &mut self,
        sq_entries: u32,
        cq_entries: Option<u32>,
    ) -> Result<(), RegisterError> {
        if self.owned_by_safe_layer() {
            return Err(RegisterError::OwnedBySafeLayer);
        }
        if self.unmapped {
            return Err(RegisterError::RemapFailed(Errno::NOMEM));
        }
        if !self.flags.contains(IoringSetupFlags::NO_SQARRAY) {
            return Err(RegisterError::ResizeNeedsNoSqArray);
        }
        // SQEs handed out but not published would not be copied: publish them (they are
        // complete, since no `&mut Sqe` outlives the `&mut self` that handed it out).
        self.flush_sq();
        let mut p = io_uring_params::default();
        p.sq_entries = sq_entries;
        if let Some(cq) = cq_entries {
            p.cq_entries = cq;
            p.flags = IoringSetupFlags::CQSIZE;
        }
        // SAFETY: the kernel reads one io_uring_params and writes its answer (entries and
        // offsets of the new rings) back into it during the call; `p` is exclusively
        // borrowed. It replaces the rings only under its locks, copying what is pending;
        // the old mappings stay valid memory for us (the kernel's pages live while
        // mapped), they are just no longer the rings it uses.
        unsafe {
            self.register_raw(
                rustix::io_uring::IoringRegisterOp::RegisterResizeRings,
                (&mut p as *mut io_uring_params)
                    .cast::<c_void>()
                    .cast_const(),
                1,
            )
        }?;
        // The layout flags are inherited (NO_SQARRAY among them): take the ring's own.
        p.flags = self.flags;
        match map_queues(self.fd.as_fd(), &p) {
            Ok((ring_map, sq, cq)) => {
                debug_assert_eq!(
                    sq.sqe_tail(),
                    self.sq.sqe_tail(),
                    "the kernel keeps the tail"
                );
                // Dropping the old views and mappings unmaps the old rings; nothing else
                // points into them (every pointer lives in these fields, replaced under
                // `&mut self`).
                let mut sq = sq;
                if self.sq.checked {
                    sq.checked = true;
                    sq.checked_end = core::ptr::null_mut();
                }
                self.sq = sq;
                self.cq = cq;
                self._ring_map = ring_map;
                Ok(())
            }
            Err(e) => {
                self.unmapped = true;
                Err(RegisterError::RemapFailed(e))
            }
        }
    }

    /// Borrowed ring fd, for `register` calls.
    pub(crate) fn borrowed_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The shared words and entry arrays of a ring's queues, for a
/// [`BigRing`](crate::big::BigRing), which indexes the entries with its own stride. The
/// pointers live as long as the `IoUring` they came from (its mappings), which the big
/// ring owns and never resizes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawQueues {
    pub(crate) sq_head: *const AtomicU32,
    pub(crate) sq_tail: *const AtomicU32,
    pub(crate) sqes: *mut u8,
    pub(crate) sq_mask: u32,
    pub(crate) sq_entries: u32,
    pub(crate) cq_head: *const AtomicU32,
    pub(crate) cq_tail: *const AtomicU32,
    pub(crate) cqes: *mut u8,
    pub(crate) cq_mask: u32,
    pub(crate) cq_entries: u32,
}

impl IoUring {
    /// The queues' raw words and arrays (see [`RawQueues`]), and the SQ tail the kernel
    /// has now (where a fresh ring's first SQE goes).
    pub(crate) fn raw_queues(&self) -> RawQueues {
        RawQueues {
            sq_head: self.sq.head,
            sq_tail: self.sq.tail,
            sqes: self.sq.sqes.as_ptr().cast(),
            sq_mask: self.sq.mask,
            sq_entries: self.sq.entries,
            cq_head: self.cq.head,
            cq_tail: self.cq.tail,
            cqes: self.cq.cqes.as_ptr().cast(),
            cq_mask: self.cq.mask,
            cq_entries: self.cq.entries,
        }
    }
}

impl Drop for IoUring {
    fn drop(&mut self) {
        // A registration in this thread's table holds a reference to the ring: release it
        // so that closing the fd (a field, dropped after this body) frees the ring. On
        // another thread this cannot be done (see `register_ring_fd`).
        if self.registered.is_some() {
            let _ = self.unregister_ring_fd();
        }
    }
}

impl AsFd for IoUring {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for IoUring {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
impl IoUring {
    /// A copy of the SQE handed out last in the current run, if any (for the tests of the
    /// layers above, which check what they prepared without submitting it).
    pub(crate) fn last_sqe(&self) -> Option<Sqe> {
        if self.sq.next == self.sq.seg_start {
            return None;
        }
        // SAFETY: `seg_start < next <= end`: the entry before the cursor is in the SQE
        // mapping and was handed out (and filled) by this ring; `&self` rules out a
        // writer.
        Some(unsafe { *self.sq.next.sub(1) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: u64 = 0xA5 << 56;
    const MASK: u64 = 0xFF << 56;

    /// Every ring gets an identity of its own, even when it reuses a closed ring's fd.
    #[test]
    fn ring_ids_are_never_reused() {
        let a = IoUring::init(2, IoringSetupFlags::empty()).unwrap();
        let (id_a, fd_a) = (a.id(), a.fd());
        drop(a);
        // The lowest free number usually comes back (what makes fds no identity), unless a
        // test running in parallel holds it: either way, each new ring's identity is new.
        // (Asserting the reuse itself made this test fail under parallel tests.)
        for _ in 0..8 {
            let b = IoUring::init(2, IoringSetupFlags::empty()).unwrap();
            assert_ne!(b.id(), id_a);
            if b.fd() == fd_a {
                break;
            }
        }
    }

    /// With a reserved namespace, safe operations refuse its user_data, and the caller's
    /// reaping (copy_cqes, peek_cqe, cq_advance) never sees or drops the reserver's
    /// completions: they are set aside, and the reserver's reaping hands the caller's
    /// completions back to the caller.
    #[test]
    fn reservation_made_mid_run_is_checked_at_once() {
        // The checked operation methods hand out SQEs from the cursor's run without
        // looking at the user_data while the ring reserves nothing. A reservation made
        // while a run is open must close that fast path at once, and keep it closed over
        // later runs (the SQ wraps several times here).
        let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
        ring.nop(1).unwrap(); // opens a run of 4
        ring.reserve_user_data(MASK, TAG);
        for round in 0..3u64 {
            for i in 0..3u64 {
                assert_eq!(
                    ring.nop(TAG | i).unwrap_err(),
                    SqeError::ReservedUserData(TAG | i)
                );
                ring.nop(round * 10 + i + 2).unwrap();
            }
            ring.submit_and_wait(ring.sq_ready()).unwrap();
            let mut cqes = [Cqe::default(); 8];
            let mut got = 0;
            for _ in 0..8 {
                if got == 3 + u32::from(round == 0) {
                    break;
                }
                let n = ring.copy_cqes(&mut cqes, 1).unwrap();
                assert!(cqes[..n as usize]
                    .iter()
                    .all(|c| !ring.is_reserved_user_data(c.user_data)));
                got += n;
            }
            assert_eq!(got, 3 + u32::from(round == 0), "round {round}");
        }
    }

    #[test]
    fn reserved_namespace_is_refused_and_set_aside() {
        let mut ring = IoUring::init(8, IoringSetupFlags::empty()).unwrap();
        assert!(!ring.is_reserved_user_data(TAG | 1));
        ring.reserve_user_data(MASK, TAG);
        assert!(ring.is_reserved_user_data(TAG | 1));
        assert!(!ring.is_reserved_user_data(1));
        assert_eq!(
            ring.nop(TAG | 7).unwrap_err(),
            SqeError::ReservedUserData(TAG | 7)
        );
        assert_eq!(ring.sq_ready(), 0, "a refused operation queues nothing");
        // The reserver's own requests (pushed directly) and the caller's.
        let mut own = Sqe::default();
        own.prep_nop();
        for ud in [TAG | 1, TAG | 2, TAG | 3] {
            own.user_data = ud;
            // SAFETY: a NOP names no memory or descriptor; the reserved user_data is the
            // point of the test (the reserver's requests).
            unsafe { ring.push(&own).unwrap() };
        }
        ring.nop(10).unwrap();
        ring.nop(11).unwrap();
        ring.nop(12).unwrap();
        ring.submit_and_wait(6).unwrap();
        // The caller sees only its own three, whatever the order and batch size.
        let mut seen = Vec::new();
        let mut cqes = [Cqe::default(); 2];
        for _ in 0..6 {
            let n = ring.copy_cqes(&mut cqes, 0).unwrap() as usize;
            seen.extend(cqes[..n].iter().map(|c| c.user_data));
        }
        seen.sort_unstable();
        assert_eq!(seen, [10, 11, 12]);
        // peek_cqe and cq_advance skip over reserved completions without losing them.
        for ud in [TAG | 4, TAG | 5] {
            own.user_data = ud;
            // SAFETY: as above.
            unsafe { ring.push(&own).unwrap() };
        }
        ring.nop(13).unwrap();
        ring.submit_and_wait(3).unwrap();
        assert_eq!(ring.peek_cqe().map(|c| c.user_data), Some(13));
        assert_eq!(ring.peek_cqe(), None);
        own.user_data = TAG | 6;
        // SAFETY: as above.
        unsafe { ring.push(&own).unwrap() };
        ring.submit_and_wait(1).unwrap();
        ring.cq_advance(1);
        // The reserver gets all six, and a caller completion it reaps goes back to the
        // caller.
        ring.nop(14).unwrap();
        ring.submit_and_wait(1).unwrap();
        let mut all = Vec::new();
        let mut big = [Cqe::default(); 8];
        for _ in 0..4 {
            let n = ring.copy_cqes_unsplit(&mut big, 0).unwrap() as usize;
            for cqe in &big[..n] {
                if ring.is_reserved_user_data(cqe.user_data) {
                    all.push(cqe.user_data & !MASK);
                } else {
                    ring.keep_for_caller(*cqe);
                }
            }
        }
        all.sort_unstable();
        assert_eq!(all, [1, 2, 3, 4, 5, 6]);
        assert_eq!(ring.copy_cqes(&mut cqes, 0).unwrap(), 1);
        assert_eq!(cqes[0].user_data, 14);
    }

    /// Setup flags are checked against an allow-list before any system call: CQE_MIXED
    /// (which this 6.18 kernel accepts, and under which `copy_cqes` would misread 32-byte
    /// CQEs), the other layouts, and bits no kernel knows yet are refused with the bits.
    #[test]
    fn setup_flags_outside_the_allow_list_are_refused() {
        let cqe_mixed = IoringSetupFlags::from_bits_retain(sys::IORING_SETUP_CQE_MIXED);
        let unknown = IoringSetupFlags::from_bits_retain(1 << 31);
        for (flags, bits) in [
            (cqe_mixed, sys::IORING_SETUP_CQE_MIXED),
            (unknown, 1 << 31),
            (IoringSetupFlags::SQE128, sys::IORING_SETUP_SQE128),
            (IoringSetupFlags::CQE32, sys::IORING_SETUP_CQE32),
            (IoringSetupFlags::NO_MMAP, sys::IORING_SETUP_NO_MMAP),
            (
                IoringSetupFlags::REGISTERED_FD_ONLY,
                sys::IORING_SETUP_REGISTERED_FD_ONLY,
            ),
            (
                cqe_mixed | unknown | IoringSetupFlags::SQPOLL,
                sys::IORING_SETUP_CQE_MIXED | 1 << 31,
            ),
        ] {
            assert_eq!(
                IoUring::init(2, flags).unwrap_err(),
                SetupError::UnsupportedFlags(bits),
                "{flags:?}"
            );
        }
        // Every allowed flag is one the kernel knows, and a plain allowed one works.
        assert_eq!(SUPPORTED_SETUP_FLAGS.bits() & (1 << 31), 0);
        let ring = IoUring::init(2, IoringSetupFlags::SUBMIT_ALL).unwrap();
        assert!(ring.setup_flags().contains(IoringSetupFlags::SUBMIT_ALL));
    }

    /// The SQ refuses an SQE beyond its entries until the kernel consumed some, and the
    /// cached limit is refreshed then.
    #[test]
    fn sq_full_then_refreshed_after_submit() {
        let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
        for round in 0..3u64 {
            for i in 0..4 {
                ring.nop(round * 4 + i).unwrap();
            }
            assert_eq!(ring.nop(99).unwrap_err(), SubmissionQueueFull);
            assert_eq!(ring.sq_space_left(), 0);
            assert_eq!(ring.submit_and_wait(4).unwrap(), 4);
            let mut cqes = [Cqe::default(); 4];
            assert_eq!(ring.copy_cqes(&mut cqes, 0).unwrap(), 4);
            let mut seen: Vec<u64> = cqes.iter().map(|c| c.user_data).collect();
            seen.sort_unstable();
            assert_eq!(seen, (round * 4..round * 4 + 4).collect::<Vec<_>>());
        }
    }

    /// The SQE cursor across the end of the SQE array: 3 SQEs per round on a 4-entry ring
    /// make every run stop at the array's end or at the kernel's head in turn; each SQE
    /// lands in slot `tail & mask` (read back before submitting), the tail the kernel sees
    /// counts every one, and the queue refuses the fifth while four wait.
    #[test]
    fn sqe_cursor_wraps_the_array_and_counts_the_tail() {
        let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
        let mut tail = 0u32;
        for round in 0..40u64 {
            let n = if round % 5 == 4 { 4 } else { 3 };
            for i in 0..n {
                ring.nop(round * 8 + i).unwrap();
                tail = tail.wrapping_add(1);
                let index = (tail.wrapping_sub(1) & ring.sq.mask) as usize;
                // SAFETY: index <= mask, inside the SQE mapping; written by us above and
                // not yet published.
                let sqe = unsafe { &*ring.sq.sqes.as_ptr().add(index) };
                assert_eq!(sqe.user_data, round * 8 + i, "round {round}, SQE {i}");
                assert_eq!(ring.sq_ready(), (i + 1) as u32);
            }
            if n == 4 {
                assert_eq!(ring.nop(99).unwrap_err(), SubmissionQueueFull);
            }
            assert_eq!(ring.submit_and_wait(n as u32).unwrap(), n as u32);
            // SAFETY: tail points into the live SQ ring mapping.
            assert_eq!(unsafe { (*ring.sq.tail).load(Ordering::Acquire) }, tail);
            let mut cqes = [Cqe::default(); 4];
            assert_eq!(ring.copy_cqes(&mut cqes, 0).unwrap(), n as u32);
            let mut seen: Vec<u64> = cqes[..n as usize].iter().map(|c| c.user_data).collect();
            seen.sort_unstable();
            assert_eq!(seen, (round * 8..round * 8 + n).collect::<Vec<_>>());
        }
    }

    /// `for_each_cqe` visits the ready completions in CQ order across the wrap of the CQE
    /// array (two runs), consumes exactly what it visited, and consumes nothing when the
    /// visitor panics.
    #[test]
    fn for_each_cqe_reads_in_place_across_the_wrap() {
        let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
        let entries = ring.cq.entries;
        let mut next = 0u64;
        for round in 0..3 * u64::from(entries) {
            let n = 1 + round % 4;
            for i in 0..n {
                ring.nop(next + i).unwrap();
            }
            assert_eq!(ring.submit_and_wait(n as u32).unwrap(), n as u32);
            if round % 5 == 0 {
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    ring.for_each_cqe(|_| panic!("a visitor that panics"))
                }));
                assert!(caught.is_err());
                assert_eq!(ring.cq_ready(), n as u32, "nothing consumed by the panic");
            }
            // What the CQ holds, slot by slot from the head (the kernel's order, whatever
            // it is).
            let head = ring.cq.head();
            let in_cq: Vec<u64> = (0..n as u32)
                .map(|k| {
                    let index = (head.wrapping_add(k) & ring.cq.mask) as usize;
                    // SAFETY: index <= mask, inside the CQE array; the slot lies between
                    // our head and the tail, written by the kernel and not consumed yet.
                    unsafe { (*ring.cq.cqes.as_ptr().add(index)).user_data }
                })
                .collect();
            let mut seen = Vec::new();
            assert_eq!(ring.for_each_cqe(|c| seen.push(c.user_data)), n as u32);
            assert_eq!(seen, in_cq, "in CQ order");
            let mut sorted = seen.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (next..next + n).collect::<Vec<_>>(), "each once");
            assert_eq!(ring.cq_ready(), 0);
            assert_eq!(ring.for_each_cqe(|_| unreachable!()), 0);
            next += n;
        }
    }

    /// Completions are copied in order of the CQ across the wrap of the CQE array, in
    /// batches smaller than what is ready, and the head never passes the tail.
    #[test]
    fn copy_cqes_across_the_wrap() {
        let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
        let cq_entries = ring.cq().entries();
        let mut next = 0u64;
        let mut cqes = [Cqe::default(); 3];
        // 3 NOPs per round, reaped 2 then 1: the head walks across the wrap many times.
        // Completion order is not assumed: each round must yield exactly its 3 user_data
        // (a wrong wrap would copy stale entries of an earlier round).
        for _ in 0..(4 * cq_entries) {
            let first = next;
            for _ in 0..3 {
                ring.nop(next).unwrap();
                next += 1;
            }
            ring.submit_and_wait(3).unwrap();
            assert_eq!(ring.cq_ready(), 3);
            let mut seen = Vec::new();
            for take in [2usize, 1] {
                let n = ring.copy_cqes(&mut cqes[..take], 0).unwrap();
                assert_eq!(n as usize, take);
                for cqe in &cqes[..take] {
                    assert_eq!(cqe.res, 0);
                    seen.push(cqe.user_data);
                }
            }
            seen.sort_unstable();
            assert_eq!(seen, [first, first + 1, first + 2]);
            assert_eq!(ring.cq_ready(), 0);
            assert_eq!(ring.copy_cqes(&mut cqes, 0).unwrap(), 0);
            assert!(ring.peek_cqe().is_none());
        }
        assert_eq!(ring.cq().head(), ring.cq().tail());
    }

    /// A minimum wait is passed in whole microseconds, rounded up and capped.
    #[test]
    fn min_wait_rounds_up_to_microseconds() {
        let usec = |d: Duration| WaitArgs::new().min_wait(d).min_wait_usec;
        assert_eq!(usec(Duration::ZERO), 0);
        assert_eq!(usec(Duration::from_nanos(1)), 1);
        assert_eq!(usec(Duration::from_nanos(1001)), 2);
        assert_eq!(usec(Duration::from_millis(3)), 3000);
        assert_eq!(usec(Duration::from_secs(1 << 40)), u32::MAX);
        assert_eq!(usec(Duration::MAX), u32::MAX);
        let t = WaitArgs::new().timeout(Duration::MAX).timeout;
        assert_eq!(t, Some(MAX_WAIT));
    }

    /// `submit_and_wait(0)` with nothing queued does not enter and returns 0; an empty
    /// output slice copies nothing and consumes nothing.
    #[test]
    fn nothing_to_do_and_empty_slice() {
        let mut ring = IoUring::init(2, IoringSetupFlags::empty()).unwrap();
        assert_eq!(ring.submit().unwrap(), 0);
        ring.nop(7).unwrap();
        assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
        assert_eq!(ring.copy_cqes(&mut [], 1).unwrap(), 0);
        assert_eq!(ring.cq_ready(), 1);
        assert_eq!(ring.copy_cqe().unwrap().user_data, 7);
        assert_eq!(ring.cq_ready(), 0);
    }
}
