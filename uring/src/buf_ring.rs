//! Provided-buffer rings (IORING_REGISTER_PBUF_RING, Linux 5.19) and [`BufferGroup`].
//!
//! A provided-buffer ring lets the kernel pick the buffer of a receive (or read) when data
//! arrives, instead of the application committing one buffer per request up front. The
//! ring is an array of `io_uring_buf` entries in memory shared with the kernel: the
//! application adds entries at its tail ([`BufRing::buf_ring_add`]) and publishes them with
//! a release store of the tail ([`BufRing::buf_ring_advance`]); the kernel consumes them
//! from its own head and reports the id of the buffer it used in the completion
//! (`IORING_CQE_F_BUFFER`, [`Cqe::buffer_id`]). A consumed buffer belongs to the
//! application until it is added to the ring again.
//!
//! [`BufRing`] is the raw ring (Zig's free functions `setup_buf_ring`, `free_buf_ring`,
//! `buf_ring_init`, `buf_ring_mask`, `buf_ring_add`, `buf_ring_advance`, as methods with the
//! same names). [`BufferGroup`] is Zig's `BufferGroup`: one ring plus one slab of equally
//! sized buffers that it owns, with `recv`, `recv_multishot`, `get`, `put` and `deinit`.
//!
//! # Lifetimes and ownership
//!
//! A [`BufRing`] keeps a duplicate of the ring's file descriptor, so that it can always
//! unregister its group when it is freed or dropped, whatever happened to the
//! [`IoUring`] value (the kernel ring then lives until the last of the two is gone). The
//! ring memory is pinned by the kernel at registration, so unmapping it is memory-safe
//! even if unregistration failed.
//!
//! What is not safe is letting the kernel write into memory that Rust frees or reads:
//! adding buffers to a raw ring, and queueing a receive on a [`BufferGroup`], are `unsafe`
//! with their contract spelled out.

use core::ffi::c_void;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU16, Ordering};
use std::os::fd::{AsFd, OwnedFd, RawFd};

use rustix::io::Errno;
use rustix::io_uring::{io_uring_register, IoringRegisterOp};
use rustix::mm::{MapFlags, ProtFlags};

use crate::cqe::Cqe;
use crate::error::RegisterError;
pub use crate::error::{BufRingError, SelectedBufferError};
use crate::ops::SqeResult;
use crate::ring::IoUring;
use crate::sqe::Sqe;
use crate::sys::{self, io_uring_op as Op};

/// The largest number of entries a provided-buffer ring may have (the kernel's limit,
/// `1 << 15`).
pub const BUF_RING_MAX_ENTRIES: u16 = 1 << 15;

bitflags::bitflags! {
    /// Flags of [`BufRing::setup_buf_ring`] (`io_uring_buf_reg.flags`).
    ///
    /// `IOU_PBUF_RING_MMAP` (kernel-allocated ring memory) is not offered: this crate
    /// always provides the ring memory itself.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct BufRingFlags: u16 {
        /// `IOU_PBUF_RING_INC` (Linux 6.12): buffers are consumed incrementally; a
        /// completion with `IORING_CQE_F_BUF_MORE` means the kernel keeps using the rest
        /// of that buffer. Older kernels reject the flag with `EINVAL`.
        const INC = sys::raw::io_uring_register_pbuf_ring_flags::IOU_PBUF_RING_INC as u16;
    }
}

/// A private anonymous mapping, unmapped on drop.
#[derive(Debug)]
struct AnonMap {
    ptr: NonNull<c_void>,
    len: usize,
}

impl AnonMap {
    fn new(len: usize) -> Result<AnonMap, Errno> {
        // SAFETY: a fresh private anonymous mapping at an address the kernel picks (null
        // hint, no MAP_FIXED): it aliases nothing. It is page-aligned and zero-filled.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )?
        };
        let ptr = NonNull::new(ptr).ok_or(Errno::NOMEM)?;
        Ok(AnonMap { ptr, len })
    }
}

impl Drop for AnonMap {
    fn drop(&mut self) {
        // SAFETY: we own this mapping, and every user of it (BufRing, BufferGroup) hands
        // out no reference that outlives it.
        unsafe {
            let _ = rustix::mm::munmap(self.ptr.as_ptr(), self.len);
        }
    }
}

/// A provided-buffer ring registered with a ring as buffer group `group_id`: Zig's
/// `*BufferRing` together with what `free_buf_ring` needs (liburing's
/// `struct io_uring_buf_ring *` plus its entries and group id).
///
/// Created by [`setup_buf_ring`](BufRing::setup_buf_ring), already initialized. Dropping it
/// unregisters the group and unmaps the ring; [`free_buf_ring`](BufRing::free_buf_ring)
/// does the same and reports the unregistration's result.
#[derive(Debug)]
pub struct BufRing {
    map: AnonMap,
    entries: u16,
    group_id: u16,
    /// A duplicate of the ring's fd, so that unregistration never depends on the
    /// `IoUring` value still existing.
    ring_fd: OwnedFd,
    registered: bool,
}

// SAFETY: the mapping is owned by this value and every write to it goes through `&mut
// self` (the tail is an atomic the kernel reads). Moving it to another thread moves sole
// ownership; if that thread may not unregister (IORING_SETUP_SINGLE_ISSUER), the kernel
// refuses with an error and the memory stays pinned by the kernel, so nothing dangles.
unsafe impl Send for BufRing {}
// SAFETY: `&self` methods only read constants and atomically load the tail.
unsafe impl Sync for BufRing {}

impl BufRing {
    /// Maps and registers a ring of `entries` buffer slots as buffer group `group_id`
    /// of `ring` (IORING_REGISTER_PBUF_RING, Linux 5.19), and initializes it (tail 0).
    /// `entries` must be a power of two in `1..=32768`: otherwise
    /// [`BufRingError::EntriesNotInRange`] or [`BufRingError::EntriesNotPowerOfTwo`],
    /// before any system call. A `group_id` already registered on the ring is
    /// `Register(AlreadyExists)`. Zig: `setup_buf_ring`; liburing: `io_uring_setup_buf_ring`.
    pub fn setup_buf_ring(
        ring: &IoUring,
        entries: u16,
        group_id: u16,
        flags: BufRingFlags,
    ) -> Result<BufRing, BufRingError> {
        if entries == 0 || entries > BUF_RING_MAX_ENTRIES {
            return Err(BufRingError::EntriesNotInRange);
        }
        if !entries.is_power_of_two() {
            return Err(BufRingError::EntriesNotPowerOfTwo);
        }
        let ring_fd =
            rustix::io::fcntl_dupfd_cloexec(ring.as_fd(), 0).map_err(BufRingError::Dup)?;
        let len = usize::from(entries) * size_of::<sys::io_uring_buf>();
        let map = AnonMap::new(len).map_err(BufRingError::Mmap)?;
        let reg = sys::io_uring_buf_reg {
            ring_addr: map.ptr.as_ptr() as u64,
            ring_entries: u32::from(entries),
            bgid: group_id,
            flags: flags.bits(),
            resv: [0; 3],
        };
        // SAFETY: the kernel reads one io_uring_buf_reg (nr_args 1) and pins the
        // page-aligned mapping it names, which we own and unmap only after trying to
        // unregister (and which the kernel keeps pinned if that fails).
        unsafe {
            io_uring_register(
                &ring_fd,
                IoringRegisterOp::RegisterPbufRing,
                (&reg as *const sys::io_uring_buf_reg).cast(),
                1,
            )
        }
        .map_err(|e| BufRingError::Register(RegisterError::from_errno(e)))?;
        let mut br = BufRing {
            map,
            entries,
            group_id,
            ring_fd,
            registered: true,
        };
        // SAFETY: nothing has been published yet.
        unsafe { br.buf_ring_init() };
        Ok(br)
    }

    /// Unregisters the group (IORING_UNREGISTER_PBUF_RING) and unmaps the ring, reporting
    /// whether the kernel accepted the unregistration (dropping does the same and ignores
    /// the result). On `Err` the kernel still holds the group and may hand its buffers to
    /// requests until the ring is torn down. Zig: `free_buf_ring`; liburing:
    /// `io_uring_free_buf_ring`.
    pub fn free_buf_ring(mut self) -> Result<(), RegisterError> {
        self.unregister()
    }

    /// Unregisters the group once; later calls (and `Drop`) do nothing.
    fn unregister(&mut self) -> Result<(), RegisterError> {
        if !self.registered {
            return Ok(());
        }
        let reg = sys::io_uring_buf_reg {
            ring_addr: 0,
            ring_entries: 0,
            bgid: self.group_id,
            flags: 0,
            resv: [0; 3],
        };
        // SAFETY: the kernel reads one io_uring_buf_reg naming only the group id.
        unsafe {
            io_uring_register(
                &self.ring_fd,
                IoringRegisterOp::UnregisterPbufRing,
                (&reg as *const sys::io_uring_buf_reg).cast(),
                1,
            )
        }
        .map_err(RegisterError::from_errno)?;
        self.registered = false;
        Ok(())
    }

    /// Resets the tail to 0, making the ring empty (Zig: `buf_ring_init`; liburing:
    /// `io_uring_buf_ring_init`). [`setup_buf_ring`](Self::setup_buf_ring) already did
    /// it; this exists for parity.
    ///
    /// # Safety
    ///
    /// The kernel must not have consumed any entry of this ring yet: it keeps its own
    /// head, and a tail moved back behind that head would make it read stale entries
    /// (buffers that may belong to the application again) as fresh ones.
    pub unsafe fn buf_ring_init(&mut self) {
        // Release, as every tail store: the kernel reads the tail with acquire.
        self.tail_atomic().store(0, Ordering::Release);
    }

    /// The mask that turns a tail position into a slot index: `entries - 1`. Zig:
    /// `buf_ring_mask`; liburing: `io_uring_buf_ring_mask`.
    #[inline]
    pub const fn buf_ring_mask(entries: u16) -> u16 {
        entries.wrapping_sub(1)
    }

    /// This ring's mask ([`buf_ring_mask`](Self::buf_ring_mask) of its entries).
    #[inline]
    pub fn mask(&self) -> u16 {
        Self::buf_ring_mask(self.entries)
    }

    /// Writes the slot `buffer_offset` places past the current tail with `buffer` and
    /// `buffer_id` (the id the completion will report), without publishing it: after
    /// adding `n` buffers at offsets `0..n`, call
    /// [`buf_ring_advance(n)`](Self::buf_ring_advance). The slot index is masked with this
    /// ring's own mask, so it never leaves the ring (Zig passes the mask as an argument;
    /// here the ring knows it). A buffer longer than `u32::MAX` bytes is offered as its
    /// first `u32::MAX` bytes. Zig: `buf_ring_add`; liburing: `io_uring_buf_ring_add`.
    ///
    /// # Safety
    ///
    /// - Once published, the kernel may write up to `buffer.len()` bytes at `buffer` at
    ///   any time, until a completion reports `buffer_id` (the buffer is then the
    ///   application's) or the group is unregistered *and* no request that picked it is
    ///   still in flight. Until then the memory must stay valid and must not be read or
    ///   written through any Rust reference.
    /// - The slot must be free: the ring must not hold more than `entries` published,
    ///   unconsumed buffers once this one is published (the kernel reads published slots
    ///   concurrently; overwriting one would race with it).
    #[inline]
    pub unsafe fn buf_ring_add(&mut self, buffer: *mut [u8], buffer_id: u16, buffer_offset: u16) {
        let tail = self.tail_atomic().load(Ordering::Relaxed);
        let index = usize::from(tail.wrapping_add(buffer_offset) & self.mask());
        let entry = self.map.ptr.as_ptr().cast::<sys::io_uring_buf>();
        let len = u32::try_from(buffer.len()).unwrap_or(u32::MAX);
        // SAFETY: index <= mask < entries, so the entry lies inside the mapping. The
        // caller guarantees the kernel is not reading this slot. Only addr, len and bid
        // are written: `resv` of slot 0 is the shared tail and must not be touched.
        unsafe {
            let entry = entry.add(index);
            ptr::addr_of_mut!((*entry).addr).write(buffer.cast::<u8>() as u64);
            ptr::addr_of_mut!((*entry).len).write(len);
            ptr::addr_of_mut!((*entry).bid).write(buffer_id);
        }
    }

    /// Publishes `count` slots written by [`buf_ring_add`](Self::buf_ring_add) since the
    /// last advance, by one release store of the tail. Zig: `buf_ring_advance`;
    /// liburing: `io_uring_buf_ring_advance`.
    ///
    /// # Safety
    ///
    /// The `count` slots past the tail must each have been written by `buf_ring_add`
    /// since the last advance, under that function's contract: publishing a slot the
    /// application did not refill would hand the kernel a stale buffer again.
    #[inline]
    pub unsafe fn buf_ring_advance(&mut self, count: u16) {
        let tail = self
            .tail_atomic()
            .load(Ordering::Relaxed)
            .wrapping_add(count);
        // Release: the entry writes of `buf_ring_add` must be visible to the kernel before
        // it sees the new tail (it loads the tail with smp_load_acquire, then reads the
        // entries).
        self.tail_atomic().store(tail, Ordering::Release);
    }

    /// The tail as last published (only the application writes it).
    pub fn tail(&self) -> u16 {
        self.tail_atomic().load(Ordering::Relaxed)
    }

    /// Number of slots (`entries`).
    pub fn entries(&self) -> u16 {
        self.entries
    }

    /// The buffer group id this ring is registered as.
    pub fn group_id(&self) -> u16 {
        self.group_id
    }

    /// Start of the ring mapping (the first `io_uring_buf`).
    pub fn as_ptr(&self) -> *const sys::io_uring_buf {
        self.map.ptr.as_ptr().cast()
    }

    /// Length in bytes of the ring mapping (`entries * 16`, rounded up to whole pages by
    /// the kernel).
    pub fn mmap_len(&self) -> usize {
        self.map.len
    }

    /// The ring's fd as this value holds it (a duplicate of [`IoUring::fd`]).
    pub fn ring_fd(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.ring_fd.as_raw_fd()
    }

    /// The shared tail: the `resv` (last u16) of the first entry, which the kernel's
    /// `struct io_uring_buf_ring` overlays with `tail`.
    #[inline]
    fn tail_atomic(&self) -> &AtomicU16 {
        // SAFETY: the mapping is at least one 16-byte entry, page-aligned, so bytes 14..16
        // are inside it and 2-aligned. The kernel only reads this word; we write it only
        // through atomics.
        unsafe {
            &*self
                .map
                .ptr
                .as_ptr()
                .cast::<u8>()
                .add(core::mem::offset_of!(sys::io_uring_buf, resv))
                .cast::<AtomicU16>()
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // Errors are ignored here; `free_buf_ring` reports them. The mapping is unmapped
        // either way (field drop): the kernel pinned its pages at registration.
        let _ = self.unregister();
    }
}

/// Fills `sqe` for a receive that picks its buffer from group `group_id`.
fn prep_recv_buffer_select(sqe: &mut Sqe, fd: RawFd, group_id: u16, flags: u32) {
    // No address and length 0: the kernel uses the picked buffer's address and length.
    sqe.prep_rw(Op::IORING_OP_RECV, fd, 0, 0, 0);
    sqe.rw_flags = flags;
    sqe.flags |= sys::IOSQE_BUFFER_SELECT;
    sqe.buf_index = group_id;
}

/// A group of application buffers for the kernel to receive into: Zig's `BufferGroup`,
/// over a ring-mapped provided-buffer ring (Linux 5.19).
///
/// [`init`](BufferGroup::init) maps one slab of `buffers_count` buffers of `buffer_size`
/// bytes (owned by the group), registers a ring as group `group_id` and adds every
/// buffer, with ids `0..buffers_count`. A [`recv`](BufferGroup::recv) queued on the group
/// names no buffer: when data arrives the kernel picks one, and the completion carries its
/// id (`IORING_CQE_F_BUFFER`). [`get`](BufferGroup::get) returns the bytes received;
/// [`put`](BufferGroup::put) hands the buffer back to the kernel. When every buffer is
/// with the application, receives fail with `ENOBUFS` (and a multishot receive ends).
///
/// A group made by [`init`](BufferGroup::init) gives each completion a whole buffer (no
/// `IORING_CQE_F_BUF_MORE`); one made by [`init_incremental`](BufferGroup::init_incremental)
/// (`IOU_PBUF_RING_INC`, Linux 6.12) lets completions share a buffer, looked up with
/// [`get_incremental`](BufferGroup::get_incremental). A bundled receive
/// ([`recv_bundle`](BufferGroup::recv_bundle), Linux 6.10) fills several buffers in one
/// completion ([`get_bundle`](BufferGroup::get_bundle), [`put_bundle`](BufferGroup::put_bundle)).
///
/// Dropping the group (or [`deinit`](BufferGroup::deinit)) unregisters it and unmaps the
/// ring and the slab. If the kernel refuses the unregistration (the group is dropped on a
/// thread other than the issuer of an IORING_SETUP_SINGLE_ISSUER ring), the slab is
/// leaked rather than freed: the kernel could still write into it.
///
/// Unregistering stops the kernel from *selecting* a buffer of the group, not from writing
/// into one it has already selected: a request that picked a buffer keeps its address
/// until it completes (an `IOSQE_ASYNC` read of an empty pipe selects its buffer in an
/// io-wq worker, then blocks). So every request that selects from this group, whether
/// queued by [`recv`](BufferGroup::recv), [`recv_multishot`](BufferGroup::recv_multishot)
/// or a ring method with the group's id (`read`/`recv` with `BufferSelection`,
/// `read_multishot`, `recv_multishot`, `recvmsg_multishot`), must have had its completion
/// (multishot: its final one, without `IORING_CQE_F_MORE`) reaped before the group is
/// dropped: cancel it and reap first. That is part of those methods' `unsafe` contract;
/// the group cannot check it, since it does not see the requests. What the group does
/// ensure is the order: unregistered first, so no new selection can land in the unmapped
/// slab, and a group id that was dropped answers `ENOBUFS`.
#[derive(Debug)]
pub struct BufferGroup {
    br: BufRing,
    /// The slab, `buffers_count * buffer_size` bytes. Never referenced mutably from Rust:
    /// the kernel writes it, Rust only reads buffers the kernel handed back.
    buffers: Option<AnonMap>,
    buffer_size: u32,
    buffers_count: u16,
    /// The buffer id published in each ring slot (index: slot), for bundles: a bundle
    /// completion names its first buffer, the others are the next slots.
    slot_ids: Vec<u16>,
    /// The ring slot each buffer was last published in (index: buffer id).
    slot_of: Vec<u16>,
    /// With `IOU_PBUF_RING_INC`: the bytes of each buffer already reported by
    /// completions (index: buffer id); `None` for a whole-buffer group.
    consumed: Option<Vec<u32>>,
}

// SAFETY: BufferGroup owns its ring and slab; mutation of the ring goes through `&mut
// self`; the slab is only read through `&self` (buffers the kernel handed back). Dropping
// it on another thread is handled (leak on a refused unregistration).
unsafe impl Send for BufferGroup {}
// SAFETY: `&self` methods read constants, the slab's handed-back buffers, or queue SQEs on
// a ring the caller borrows mutably.
unsafe impl Sync for BufferGroup {}

impl BufferGroup {
    /// Maps a slab of `buffers_count` buffers of `buffer_size` bytes, registers it as
    /// buffer group `group_id` of `ring` and hands every buffer to the kernel (ids
    /// `0..buffers_count`). The ring has `buffers_count` rounded up to a power of two
    /// entries, so any count in `1..=32768` works. Errors: `EntriesNotInRange`,
    /// `BufferSizeInvalid` (before any system call), `Register(AlreadyExists)` for a group
    /// id in use. Zig: `BufferGroup.init` (which takes an allocator; the slab here is an
    /// anonymous mapping).
    pub fn init(
        ring: &IoUring,
        group_id: u16,
        buffer_size: u32,
        buffers_count: u16,
    ) -> Result<BufferGroup, BufRingError> {
        Self::init_with(
            ring,
            group_id,
            buffer_size,
            buffers_count,
            BufRingFlags::empty(),
        )
    }

    /// Like [`init`](Self::init), with incremental consumption (`IOU_PBUF_RING_INC`,
    /// Linux 6.12): a receive takes only the bytes it needs from the current buffer and
    /// leaves the rest to the next one, with `IORING_CQE_F_BUF_MORE` on every completion
    /// after which the kernel keeps the buffer. Look completions up with
    /// [`get_incremental`](Self::get_incremental), in the order reaped; put a buffer back
    /// only after its completion without `F_BUF_MORE`. No Zig twin (Zig 0.15 asks for the
    /// flag and falls back); liburing: `io_uring_setup_buf_ring` with `IOU_PBUF_RING_INC`.
    pub fn init_incremental(
        ring: &IoUring,
        group_id: u16,
        buffer_size: u32,
        buffers_count: u16,
    ) -> Result<BufferGroup, BufRingError> {
        Self::init_with(
            ring,
            group_id,
            buffer_size,
            buffers_count,
            BufRingFlags::INC,
        )
    }

    fn init_with(
        ring: &IoUring,
        group_id: u16,
        buffer_size: u32,
        buffers_count: u16,
        flags: BufRingFlags,
    ) -> Result<BufferGroup, BufRingError> {
        if buffers_count == 0 || buffers_count > BUF_RING_MAX_ENTRIES {
            return Err(BufRingError::EntriesNotInRange);
        }
        if buffer_size == 0 {
            return Err(BufRingError::BufferSizeInvalid);
        }
        let slab_len = (buffer_size as usize)
            .checked_mul(usize::from(buffers_count))
            .filter(|&n| n <= isize::MAX as usize)
            .ok_or(BufRingError::BufferSizeInvalid)?;
        let buffers = AnonMap::new(slab_len).map_err(BufRingError::Mmap)?;
        let mut br =
            BufRing::setup_buf_ring(ring, buffers_count.next_power_of_two(), group_id, flags)?;
        let base = buffers.ptr.as_ptr().cast::<u8>();
        for id in 0..buffers_count {
            let start = usize::from(id) * buffer_size as usize;
            // SAFETY: `start + buffer_size <= slab_len`: the buffer lies in the slab, which
            // the group owns, never references mutably, and frees only after the group is
            // unregistered. `buffers_count <= entries` slots are free in the fresh ring.
            unsafe {
                let buffer = ptr::slice_from_raw_parts_mut(base.add(start), buffer_size as usize);
                br.buf_ring_add(buffer, id, id);
            }
        }
        // SAFETY: exactly `buffers_count` slots were added above.
        unsafe { br.buf_ring_advance(buffers_count) };
        let entries = usize::from(br.entries());
        let mut slot_ids = vec![0u16; entries];
        for id in 0..buffers_count {
            slot_ids[usize::from(id)] = id;
        }
        Ok(BufferGroup {
            br,
            buffers: Some(buffers),
            buffer_size,
            buffers_count,
            slot_ids,
            slot_of: (0..buffers_count).collect(),
            consumed: flags
                .contains(BufRingFlags::INC)
                .then(|| vec![0u32; usize::from(buffers_count)]),
        })
    }

    /// Queues (but does not submit) a `recv(2)` on `fd` whose buffer the kernel picks from
    /// this group when data arrives (IORING_OP_RECV with IOSQE_BUFFER_SELECT and
    /// `buf_group` = this group's id, Linux 5.19 for ring-mapped groups). The completion
    /// carries the byte count and the buffer id, or `-ENOBUFS` when the group had no
    /// buffer. Zig: `BufferGroup.recv`; liburing: `io_uring_prep_recv` with
    /// `IOSQE_BUFFER_SELECT`.
    ///
    /// # Safety
    ///
    /// The kernel writes into one of this group's buffers at a time of its choosing until
    /// the request's final completion. The caller must ensure that:
    /// - the group is not dropped (nor [`deinit`](Self::deinit)ed) before that completion
    ///   has been reaped (cancel the request first if needed): the slab must stay valid,
    ///   and not be freed or reused, until then, since a request that selected a buffer
    ///   keeps its address even once the group is unregistered;
    /// - while any request on this group is in flight, [`get`](Self::get) /
    ///   [`get_cqe`](Self::get_cqe) / [`put_cqe`](Self::put_cqe) are given only
    ///   completions reaped from this ring for requests on this group, and
    ///   [`put`](Self::put) only ids such a completion reported; and every such buffer is
    ///   put back at most once per completion. (A buffer put back twice would sit in the
    ///   ring twice, and the kernel could fill it for one request while it is being read
    ///   for another; a forged completion would make `get` read a buffer the kernel may be
    ///   writing.)
    ///
    /// `fd` follows the [descriptor contract](crate::ops#descriptors).
    pub unsafe fn recv<'r>(
        &self,
        ring: &'r mut IoUring,
        user_data: u64,
        fd: RawFd,
        flags: u32,
    ) -> SqeResult<'r> {
        let group_id = self.group_id();
        ring.queue(user_data, |sqe| {
            prep_recv_buffer_select(sqe, fd, group_id, flags)
        })
    }

    /// Queues (but does not submit) a multishot receive on `fd` (IORING_RECV_MULTISHOT,
    /// Linux 6.0): one request, one completion per chunk of data, each in a buffer picked
    /// from this group and flagged `IORING_CQE_F_MORE` while the request goes on. It ends
    /// with a completion without `F_MORE`: an error (`ENOBUFS` when the group ran out of
    /// buffers, `ECANCELED` when cancelled) or end of stream. Zig:
    /// `BufferGroup.recv_multishot`; liburing: `io_uring_prep_recv_multishot`.
    ///
    /// # Safety
    ///
    /// As for [`recv`](Self::recv); "final completion" is the one without
    /// `IORING_CQE_F_MORE`.
    pub unsafe fn recv_multishot<'r>(
        &self,
        ring: &'r mut IoUring,
        user_data: u64,
        fd: RawFd,
        flags: u32,
    ) -> SqeResult<'r> {
        let group_id = self.group_id();
        ring.queue(user_data, |sqe| {
            prep_recv_buffer_select(sqe, fd, group_id, flags);
            sqe.ioprio |= sys::IORING_RECV_MULTISHOT as u16;
        })
    }

    /// The bytes received into the buffer a completion reports: the first `cqe.res` bytes
    /// of buffer `cqe.buffer_id()`. The slice borrows the group, so it cannot outlive a
    /// later [`put`](Self::put). Errors: [`SelectedBufferError::NoBufferSelected`] without
    /// `IORING_CQE_F_BUFFER` (e.g. an `ENOBUFS` completion),
    /// [`SelectedBufferError::BufferIdOutOfRange`], [`SelectedBufferError::ResultOutOfRange`]. Zig:
    /// `BufferGroup.get` (0.15; `get_cqe` in 0.13/0.14).
    pub fn get(&self, cqe: &Cqe) -> Result<&[u8], SelectedBufferError> {
        if self.consumed.is_some() {
            return Err(SelectedBufferError::Incremental);
        }
        let id = self.check_cqe(cqe)?;
        let len = cqe.res as usize;
        let start = usize::from(id) * self.buffer_size as usize;
        let base = self.slab_ptr();
        // SAFETY: `id < buffers_count` and `len <= buffer_size`, so the range lies inside
        // the slab, which lives as long as `self`. The completion says the kernel is done
        // with this buffer (and its acquire-loaded CQ tail orders the kernel's writes
        // before this read); the caller of `recv` promised that only such completions are
        // passed here while requests are in flight, and the buffer can only go back to the
        // kernel through `put`, which needs `&mut self`, ending this borrow first.
        Ok(unsafe { core::slice::from_raw_parts(base.add(start), len) })
    }

    /// The same as [`get`](Self::get), under Zig 0.13/0.14's name (`get_cqe`).
    #[inline]
    pub fn get_cqe(&self, cqe: &Cqe) -> Result<&[u8], SelectedBufferError> {
        self.get(cqe)
    }

    /// Hands buffer `buffer_id` back to the kernel, so that it can be picked again
    /// (one `buf_ring_add` and one `buf_ring_advance`). Only an id a completion reported,
    /// once per completion (see [`recv`](Self::recv)'s contract). Errors:
    /// [`SelectedBufferError::BufferIdOutOfRange`]. Zig: `BufferGroup.put` (0.13/0.14, by id);
    /// liburing: `io_uring_buf_ring_add` + `io_uring_buf_ring_advance`.
    pub fn put(&mut self, buffer_id: u16) -> Result<(), SelectedBufferError> {
        if buffer_id >= self.buffers_count {
            return Err(SelectedBufferError::BufferIdOutOfRange {
                id: buffer_id,
                buffers_count: self.buffers_count,
            });
        }
        let start = usize::from(buffer_id) * self.buffer_size as usize;
        let base = self.slab_ptr();
        let slot = self.br.tail() & self.br.mask();
        // SAFETY: the buffer lies inside the slab (id checked), which outlives the ring's
        // registration (see Drop). Its id came from a completion, so the kernel no longer
        // holds it and it is in the ring at most once: with at most `buffers_count <=
        // entries` buffers in the ring the slot at the tail is free. `&mut self` ends every
        // slice `get` handed out for it. (These last points are the `recv` contract.)
        unsafe {
            let buffer = ptr::slice_from_raw_parts_mut(base.add(start), self.buffer_size as usize);
            self.br.buf_ring_add(buffer, buffer_id, 0);
            self.br.buf_ring_advance(1);
        }
        self.slot_ids[usize::from(slot)] = buffer_id;
        self.slot_of[usize::from(buffer_id)] = slot;
        if let Some(consumed) = &mut self.consumed {
            consumed[usize::from(buffer_id)] = 0;
        }
        Ok(())
    }

    /// Hands the buffer a completion reports back to the kernel: [`put`](Self::put) of
    /// its id. Errors: [`SelectedBufferError::NoBufferSelected`] without `IORING_CQE_F_BUFFER`,
    /// [`SelectedBufferError::BufferIdOutOfRange`]. Zig: `BufferGroup.put_cqe` (0.13/0.14; `put` in
    /// 0.15).
    pub fn put_cqe(&mut self, cqe: &Cqe) -> Result<(), SelectedBufferError> {
        let id = cqe
            .buffer_id()
            .ok_or(SelectedBufferError::NoBufferSelected)?;
        self.put(id)
    }

    /// Queues (but does not submit) a bundled receive on `fd` (`IORING_RECVSEND_BUNDLE`,
    /// Linux 6.10; with `multishot`, `IORING_RECV_MULTISHOT` too): one completion may fill
    /// several consecutive buffers of this group; [`get_bundle`](Self::get_bundle) gives
    /// them, [`put_bundle`](Self::put_bundle) hands them back. No Zig twin; liburing:
    /// `io_uring_prep_recv` with `IORING_RECVSEND_BUNDLE`.
    ///
    /// # Safety
    ///
    /// As for [`recv`](Self::recv), and: this is the only request on the group while it
    /// is in flight, and its completions are handed to [`put_bundle`](Self::put_bundle)
    /// (after any [`get_bundle`](Self::get_bundle)) in the order reaped, each before any
    /// other buffer of the group is put back. The buffers of a bundle are found from the
    /// ring slots they were published in; that order keeps those slots from being
    /// republished before the bundle is looked up.
    pub unsafe fn recv_bundle<'r>(
        &self,
        ring: &'r mut IoUring,
        user_data: u64,
        fd: RawFd,
        flags: u32,
        multishot: bool,
    ) -> SqeResult<'r> {
        let group_id = self.group_id();
        ring.queue(user_data, |sqe| {
            prep_recv_buffer_select(sqe, fd, group_id, flags);
            sqe.ioprio |= sys::IORING_RECVSEND_BUNDLE as u16;
            if multishot {
                sqe.ioprio |= sys::IORING_RECV_MULTISHOT as u16;
            }
        })
    }

    /// The buffer ids a bundle completion filled, in order: the first is the completion's
    /// buffer id, the others the buffers published after it in the ring, as many as
    /// `cqe.res` bytes span (one for a plain, non-bundle completion). Errors as
    /// [`get`](Self::get); [`SelectedBufferError::ResultOutOfRange`] for more bytes than
    /// the group holds.
    pub fn bundle_ids(&self, cqe: &Cqe) -> Result<Vec<u16>, SelectedBufferError> {
        if self.consumed.is_some() {
            return Err(SelectedBufferError::Incremental);
        }
        let first = cqe
            .buffer_id()
            .ok_or(SelectedBufferError::NoBufferSelected)?;
        if first >= self.buffers_count {
            return Err(SelectedBufferError::BufferIdOutOfRange {
                id: first,
                buffers_count: self.buffers_count,
            });
        }
        let out_of_range = SelectedBufferError::ResultOutOfRange {
            res: cqe.res,
            buffer_size: self.buffer_size,
        };
        let res = u64::try_from(cqe.res).map_err(|_| out_of_range)?;
        let count = res.div_ceil(u64::from(self.buffer_size)).max(1);
        if count > u64::from(self.buffers_count) {
            return Err(out_of_range);
        }
        let mask = self.br.mask();
        let start = self.slot_of[usize::from(first)];
        Ok((0..count as u16)
            .map(|i| self.slot_ids[usize::from(start.wrapping_add(i) & mask)])
            .collect())
    }

    /// The bytes a bundle completion received, one slice per buffer in order (every one
    /// full but the last), from [`bundle_ids`](Self::bundle_ids). The slices borrow the
    /// group, so they end before [`put_bundle`](Self::put_bundle).
    pub fn get_bundle(&self, cqe: &Cqe) -> Result<Vec<&[u8]>, SelectedBufferError> {
        let ids = self.bundle_ids(cqe)?;
        let mut left = cqe.res as usize;
        let size = self.buffer_size as usize;
        let base = self.slab_ptr();
        Ok(ids
            .into_iter()
            .map(|id| {
                let len = left.min(size);
                left -= len;
                // SAFETY: `id < buffers_count` (a slot only ever holds ids put through
                // `put`/`init`), `len <= buffer_size`: inside the slab, which lives as long
                // as `self`. The kernel handed these buffers back with this completion
                // (`recv_bundle`'s contract keeps their slots from being republished
                // before this lookup), and they go back only through `&mut self`.
                unsafe { core::slice::from_raw_parts(base.add(usize::from(id) * size), len) }
            })
            .collect())
    }

    /// Hands every buffer of a bundle completion back to the kernel, in order
    /// ([`put`](Self::put) of each of [`bundle_ids`](Self::bundle_ids)).
    pub fn put_bundle(&mut self, cqe: &Cqe) -> Result<(), SelectedBufferError> {
        for id in self.bundle_ids(cqe)? {
            self.put(id)?;
        }
        Ok(())
    }

    /// The bytes a completion received into a group made by
    /// [`init_incremental`](Self::init_incremental): `cqe.res` bytes of buffer
    /// `cqe.buffer_id()`, starting where the previous completion on that buffer ended.
    /// With `IORING_CQE_F_BUF_MORE` the kernel keeps the rest of the buffer (do not
    /// [`put`](Self::put) it); without, the buffer is the application's until put. Each
    /// completion must be given here exactly once, in the order reaped (the offsets add
    /// up). Errors as [`get`](Self::get); [`SelectedBufferError::Incremental`] on a
    /// whole-buffer group.
    pub fn get_incremental(&mut self, cqe: &Cqe) -> Result<&[u8], SelectedBufferError> {
        let size = self.buffer_size;
        let count = self.buffers_count;
        let base = self.slab_ptr();
        let consumed = self
            .consumed
            .as_mut()
            .ok_or(SelectedBufferError::Incremental)?;
        let id = cqe
            .buffer_id()
            .ok_or(SelectedBufferError::NoBufferSelected)?;
        if id >= count {
            return Err(SelectedBufferError::BufferIdOutOfRange {
                id,
                buffers_count: count,
            });
        }
        let at = consumed[usize::from(id)];
        let len = u32::try_from(cqe.res)
            .ok()
            .filter(|&n| n <= size - at)
            .ok_or(SelectedBufferError::ResultOutOfRange {
                res: cqe.res,
                buffer_size: size,
            })?;
        consumed[usize::from(id)] = at + len;
        let start = usize::from(id) * size as usize + at as usize;
        // SAFETY: `at + len <= buffer_size` and `id < buffers_count`: inside the slab,
        // which lives as long as `self`. The kernel wrote these bytes before posting the
        // completion and moves past them (its next write into this buffer starts at `at +
        // len`); the caller passes each completion once, in order (the `recv` contract),
        // so the range is one the kernel is done with.
        Ok(unsafe { core::slice::from_raw_parts(base.add(start), len as usize) })
    }

    /// Unregisters the group and unmaps its ring and slab, reporting the unregistration's
    /// result (dropping does the same silently). On `Err` the slab is leaked, not freed,
    /// because the kernel may still write into it. Zig: `BufferGroup.deinit`.
    pub fn deinit(mut self) -> Result<(), RegisterError> {
        self.release()
    }

    fn release(&mut self) -> Result<(), RegisterError> {
        match self.br.unregister() {
            Ok(()) => {
                // Unregistered: the kernel can no longer pick a buffer of the slab.
                drop(self.buffers.take());
                Ok(())
            }
            Err(e) => {
                // The kernel still holds the group: leak the slab instead of freeing
                // memory it may write into.
                if let Some(map) = self.buffers.take() {
                    core::mem::forget(map);
                }
                Err(e)
            }
        }
    }

    /// Checks a completion against this group and returns its buffer id.
    fn check_cqe(&self, cqe: &Cqe) -> Result<u16, SelectedBufferError> {
        let id = cqe
            .buffer_id()
            .ok_or(SelectedBufferError::NoBufferSelected)?;
        if id >= self.buffers_count {
            return Err(SelectedBufferError::BufferIdOutOfRange {
                id,
                buffers_count: self.buffers_count,
            });
        }
        if cqe.res < 0 || cqe.res as u32 > self.buffer_size {
            return Err(SelectedBufferError::ResultOutOfRange {
                res: cqe.res,
                buffer_size: self.buffer_size,
            });
        }
        Ok(id)
    }

    fn slab_ptr(&self) -> *mut u8 {
        // The slab is present until `release`, which runs only in `deinit`/`Drop`.
        match &self.buffers {
            Some(map) => map.ptr.as_ptr().cast(),
            None => ptr::null_mut(),
        }
    }

    /// The buffer group id.
    pub fn group_id(&self) -> u16 {
        self.br.group_id()
    }

    /// Size of each buffer in bytes.
    pub fn buffer_size(&self) -> u32 {
        self.buffer_size
    }

    /// Number of buffers (ids `0..buffers_count`).
    pub fn buffers_count(&self) -> u16 {
        self.buffers_count
    }

    /// The underlying provided-buffer ring.
    pub fn buf_ring(&self) -> &BufRing {
        &self.br
    }

    /// Start of the slab (buffer `id` starts at `id * buffer_size`), for diagnostics.
    /// Reading through it is subject to [`recv`](Self::recv)'s contract.
    pub fn buffers_ptr(&self) -> *const u8 {
        self.slab_ptr()
    }

    /// Length in bytes of the slab mapping (`buffers_count * buffer_size`).
    pub fn buffers_len(&self) -> usize {
        self.buffers.as_ref().map_or(0, |m| m.len)
    }
}

impl Drop for BufferGroup {
    fn drop(&mut self) {
        if self.buffers.is_some() {
            let _ = self.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layout_of_the_shared_ring() {
        // The tail overlays the last u16 of the first entry (struct io_uring_buf_ring).
        assert_eq!(size_of::<sys::io_uring_buf>(), 16);
        assert_eq!(offset_of!(sys::io_uring_buf, resv), 14);
        assert_eq!(BufRing::buf_ring_mask(8), 7);
        assert_eq!(BufRing::buf_ring_mask(1), 0);
        assert_eq!(BUF_RING_MAX_ENTRIES, 32768);
        assert_eq!(BufRingFlags::INC.bits(), 2);
    }

    #[test]
    fn bad_entries_are_rejected_before_the_kernel() {
        let ring = IoUring::init(2, sys::IoringSetupFlags::empty()).unwrap();
        let f = BufRingFlags::empty();
        assert_eq!(
            BufRing::setup_buf_ring(&ring, 0, 1, f).unwrap_err(),
            BufRingError::EntriesNotInRange
        );
        assert_eq!(
            BufRing::setup_buf_ring(&ring, 3, 1, f).unwrap_err(),
            BufRingError::EntriesNotPowerOfTwo
        );
        assert_eq!(
            BufRing::setup_buf_ring(&ring, 65535, 1, f).unwrap_err(),
            BufRingError::EntriesNotInRange
        );
        assert_eq!(
            BufferGroup::init(&ring, 1, 0, 4).unwrap_err(),
            BufRingError::BufferSizeInvalid
        );
        assert_eq!(
            BufferGroup::init(&ring, 1, 16, 0).unwrap_err(),
            BufRingError::EntriesNotInRange
        );
    }

    #[test]
    fn add_and_advance_write_entries_and_tail() {
        let ring = IoUring::init(2, sys::IoringSetupFlags::empty()).unwrap();
        let mut br = BufRing::setup_buf_ring(&ring, 4, 7, BufRingFlags::empty()).unwrap();
        assert_eq!(
            (br.entries(), br.group_id(), br.mask(), br.tail()),
            (4, 7, 3, 0)
        );
        // Buffers are never published to a request here, so any memory would do; use a
        // live allocation anyway.
        let mut mem = vec![0u8; 64];
        let base = mem.as_mut_ptr();
        // SAFETY: `mem` outlives `br` (dropped first below) and no request uses group 7.
        unsafe {
            for i in 0..4u16 {
                let b = ptr::slice_from_raw_parts_mut(base.add(16 * usize::from(i)), 16);
                br.buf_ring_add(b, 10 + i, i);
            }
            br.buf_ring_advance(4);
        }
        assert_eq!(br.tail(), 4);
        // SAFETY: reading our own mapping; the entries are plain integers.
        let entries = unsafe { core::slice::from_raw_parts(br.as_ptr(), 4) };
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.addr, base as u64 + 16 * i as u64);
            assert_eq!(e.len, 16);
            assert_eq!(e.bid, 10 + i as u16);
        }
        // The tail lives in entry 0's `resv`; adding never clobbered it.
        assert_eq!(entries[0].resv, 4);
        br.free_buf_ring().unwrap();
        drop(mem);
    }

    #[test]
    fn get_and_put_reject_foreign_completions() {
        let ring = IoUring::init(2, sys::IoringSetupFlags::empty()).unwrap();
        let mut g = BufferGroup::init(&ring, 3, 8, 3).unwrap();
        // Three buffers need a ring of four entries.
        assert_eq!(g.buf_ring().entries(), 4);
        let no_buffer = Cqe {
            user_data: 1,
            res: -(Errno::NOBUFS.raw_os_error()),
            flags: 0,
        };
        assert_eq!(
            g.get(&no_buffer),
            Err(SelectedBufferError::NoBufferSelected)
        );
        assert_eq!(
            g.put_cqe(&no_buffer),
            Err(SelectedBufferError::NoBufferSelected)
        );
        let bad_id = Cqe {
            user_data: 1,
            res: 4,
            flags: sys::IORING_CQE_F_BUFFER | (3 << sys::IORING_CQE_BUFFER_SHIFT),
        };
        let out_of_range = SelectedBufferError::BufferIdOutOfRange {
            id: 3,
            buffers_count: 3,
        };
        assert_eq!(g.get(&bad_id), Err(out_of_range));
        assert_eq!(g.put(3), Err(out_of_range));
        let too_long = Cqe {
            user_data: 1,
            res: 9,
            flags: sys::IORING_CQE_F_BUFFER | (1 << sys::IORING_CQE_BUFFER_SHIFT),
        };
        assert_eq!(
            g.get_cqe(&too_long),
            Err(SelectedBufferError::ResultOutOfRange {
                res: 9,
                buffer_size: 8
            })
        );
        g.deinit().unwrap();
    }
}
