//! [`BufferPool`]: memory registered once with the ring, handed out in fixed-size slots
//! that the sender transmits with `send_zc_fixed`.

use core::ffi::c_void;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use std::sync::{Arc, Mutex};

use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};

use super::error::ZcError;
use super::memlock::MemlockExceeded;
use super::shared::DriverShared;
use crate::error::RegisterError;
use crate::register::iovec;

/// Most buffers one ring can register (`IORING_MAX_REG_BUFFERS`, 1 << 14), for all the
/// pools of a driver together.
pub const MAX_POOL_SLOTS: usize = 1 << 14;
/// Largest registered buffer the kernel accepts (1 GiB).
pub const MAX_SLOT_SIZE: usize = 1 << 30;

/// Slots start on this boundary (a page on most Linux targets), so that no two slots
/// share a cache line or, usually, a page.
const SLOT_ALIGN: usize = 4096;

/// Why a [`BufferPool`] could not be made or unregistered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError {
    /// Slot size 0 or over [`MAX_SLOT_SIZE`], slot count 0 or over [`MAX_POOL_SLOTS`], or a
    /// total size that does not fit the address space (checked before any system call).
    InvalidSize,
    /// Mapping the pool's memory failed.
    Mmap(Errno),
    /// Registering the buffers with the ring failed.
    Register(RegisterError),
    /// The pool would pin more than the locked-memory limit allows (`RLIMIT_MEMLOCK`, for
    /// a process without `CAP_IPC_LOCK`): the limit and what was asked are inside.
    Memlock(MemlockExceeded),
    /// The driver's buffer table has no free range of this many slots (all its pools
    /// together hold at most [`MAX_POOL_SLOTS`]).
    TableFull,
    /// The driver refused (its ring was replaced).
    Driver(ZcError),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::InvalidSize => f.write_str("buffer pool: invalid slot size or count"),
            PoolError::Mmap(e) => write!(f, "buffer pool: mapping memory failed: {e}"),
            PoolError::Register(e) => write!(f, "buffer pool: {e}"),
            PoolError::Memlock(e) => write!(f, "buffer pool: {e}"),
            PoolError::TableFull => f.write_str("buffer pool: the driver's buffer table is full"),
            PoolError::Driver(e) => write!(f, "buffer pool: {e}"),
        }
    }
}

impl std::error::Error for PoolError {}

impl From<PoolError> for std::io::Error {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Mmap(errno) => std::io::Error::from_raw_os_error(errno.raw_os_error()),
            PoolError::Register(r) => r.into(),
            PoolError::Memlock(_) => std::io::Error::new(std::io::ErrorKind::OutOfMemory, e),
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other),
        }
    }
}

/// The pool's memory and bookkeeping, shared by the pool handle and every slot.
struct Shared {
    base: NonNull<u8>,
    map_len: usize,
    stride: usize,
    slot_size: usize,
    count: usize,
    free: Mutex<Vec<u16>>,
    /// The identity of the ring whose table holds the pool (`base..base + entries`).
    ring_id: u64,
    table_base: u32,
    /// Table entries the pool registered: one for the whole mapping (every slot then has
    /// the pool's index, so that a vectored send may name several slots), or one per slot
    /// for a pool over the kernel's 1 GiB limit of a registered buffer.
    entries: u32,
    /// Told when the pool is gone, so that the driver clears its range.
    driver: Arc<DriverShared>,
}

// SAFETY: `base` points to a private anonymous mapping owned by this value. Slot `i` is
// the byte range `[i * stride, i * stride + slot_size)`, and the free list hands each index
// to at most one `PoolSlot` at a time (taken under the mutex, given back in its Drop), so
// no two threads ever access the same bytes through the pool; everything else is immutable
// or atomic.
unsafe impl Send for Shared {}
// SAFETY: as above: shared access only reads immutable fields, the mutex or the atomic.
unsafe impl Sync for Shared {}

impl Shared {
    fn base_index(&self) -> u32 {
        self.table_base
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Every slot and the pool handle are gone (this is the last Arc), so no Rust
        // reference into the mapping remains, and no request of ours reads it: a slot in a
        // sender is only released after the kernel's notification for it.
        //
        // The ring may still hold the registration. That is sound to unmap: registration
        // pinned the pages, and the kernel reaches registered memory through its own page
        // array, never through this address range again; the pages are released when the
        // table is unregistered or the ring closes.
        // SAFETY: we own the mapping of `map_len` bytes at `base`, made in `BufferPool::new`.
        unsafe {
            let _ = rustix::mm::munmap(self.base.as_ptr().cast::<c_void>(), self.map_len);
        }
        // No request names the range (no slot is left); the driver clears it at its next
        // call, which also ends the pin on the pages.
        // What registering charged: whole pages, `stride` per slot either way.
        self.driver
            .range_dropped(self.base_index(), self.entries, self.map_len as u64);
    }
}

/// Memory registered with a [`Driver`](super::Driver)'s ring as fixed buffers, handed out in slots.
///
/// [`new`](Self::new) maps `count` slots of `slot_size` bytes (each page-aligned) and
/// registers it as one fixed buffer (one per slot for a pool over 1 GiB, the kernel's limit
/// of one) in a free entry of the driver's buffer table (IORING_REGISTER_BUFFERS2 sparse +
/// IORING_REGISTER_BUFFERS_UPDATE, Linux 5.13): all or nothing, and the slots of a pool
/// can go in one vectored zero-copy request from it. It
/// keeps a free list. [`get`](Self::get) hands out a [`PoolSlot`]; fill it, give it to a
/// [`ZcSender`](super::ZcSender) of the same driver (it goes with `send_zc_fixed`; to any
/// other, with `send_zc`), and it comes back in the [`Completion`](super::Completion);
/// dropping a slot returns it to the pool. The memory lives until the pool and all its
/// slots are gone; then the driver clears the range. The driver owns its table: no safe
/// code can unregister it under the pool.
///
/// A driver holds several pools. The kernel pins their pages, charged to `RLIMIT_MEMLOCK`
/// for a process without `CAP_IPC_LOCK`: a pool that cannot fit is refused with
/// [`PoolError::Memlock`], which names the limit.
///
/// ```
/// use std::io::Read;
/// use std::net::{TcpListener, TcpStream};
/// use std::time::Duration;
/// use uring::zc::{BufferPool, Config, Policy, SendPath, ZcSender};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let config = Config::default().policy(Policy::Always);
/// let mut driver = config.driver()?;
/// let pool = BufferPool::new(&mut driver, 64 * 1024, 8)?; // 512 KiB, registered once
/// let stream = TcpStream::connect(listener.local_addr()?)?;
/// let sender = ZcSender::new(&mut driver, stream, config)?;
/// let (mut peer, _) = listener.accept()?;
/// let reader = std::thread::spawn(move || {
///     let mut got = Vec::new();
///     peer.read_to_end(&mut got).map(|_| got)
/// });
///
/// let mut slot = pool.get().expect("a free slot");
/// slot[..5].copy_from_slice(b"hello");
/// slot.set_len(5);
/// sender.send(&mut driver, slot)?; // send_zc_fixed: no page pinning per send
/// sender.wait_all(&mut driver, Duration::from_secs(10))?;
/// let done = sender.next_completion(&mut driver)?.expect("the slot is back");
/// assert_eq!(done.result?, 5);
/// assert_eq!(done.path, Some(SendPath::ZeroCopyFixed));
/// drop(done); // the slot goes back to the pool
/// assert_eq!(pool.available(), 8);
/// drop(sender.close(&mut driver, Duration::from_secs(10)));
/// assert_eq!(reader.join().unwrap()?, b"hello");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct BufferPool {
    shared: Arc<Shared>,
}

impl fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferPool")
            .field("slot_size", &self.shared.slot_size)
            .field("count", &self.shared.count)
            .field("available", &self.available())
            .field("driver_id", &self.shared.ring_id)
            .finish()
    }
}

impl BufferPool {
    /// Maps `count` slots of `slot_size` bytes and has `register` register them with the
    /// ring `ring_id` as fixed buffers, at the table index it returns
    /// ([`BufferPool::new`] is the driver's side of this).
    ///
    /// # Safety
    ///
    /// `register` registers exactly the buffers it is given, or nothing if it fails, on
    /// the ring of `ring_id`, whose driver `driver` belongs to; the pool then keeps their
    /// memory mapped while any slot or pool handle lives and tells `driver` when the range
    /// may be cleared.
    pub(super) unsafe fn map_and_register(
        slot_size: usize,
        count: usize,
        ring_id: u64,
        driver: Arc<DriverShared>,
        register: impl FnOnce(&[iovec]) -> Result<u32, PoolError>,
    ) -> Result<Self, PoolError> {
        if slot_size == 0 || slot_size > MAX_SLOT_SIZE || count == 0 || count > MAX_POOL_SLOTS {
            return Err(PoolError::InvalidSize);
        }
        let stride = slot_size
            .checked_next_multiple_of(SLOT_ALIGN)
            .ok_or(PoolError::InvalidSize)?;
        let map_len = stride.checked_mul(count).ok_or(PoolError::InvalidSize)?;
        if map_len > isize::MAX as usize {
            return Err(PoolError::InvalidSize);
        }
        // SAFETY: a fresh private anonymous mapping chosen by the kernel; it aliases no
        // Rust object. It is zero-filled, so every byte is initialized.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                core::ptr::null_mut(),
                map_len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .map_err(PoolError::Mmap)?;
        let base = NonNull::new(ptr.cast::<u8>()).ok_or(PoolError::Mmap(Errno::NOMEM))?;
        // One registered buffer for the whole mapping when the kernel takes one that large
        // (at most 1 GiB), else one per slot.
        let iovecs: Vec<iovec> = if map_len <= MAX_SLOT_SIZE {
            vec![iovec {
                iov_base: base.as_ptr().cast(),
                iov_len: map_len as _,
            }]
        } else {
            (0..count)
                .map(|i| iovec {
                    // SAFETY: `i * stride + slot_size <= map_len`, inside the mapping.
                    iov_base: unsafe { base.as_ptr().add(i * stride) }.cast(),
                    iov_len: slot_size as _,
                })
                .collect()
        };
        // The registered memory is the mapping owned by the `Shared` made below, which
        // stays mapped while any slot or pool handle lives, and a slot in flight is kept by
        // its sender until the kernel's last completion for it; after that it is unmapped,
        // which the kernel tolerates (see `Drop for Shared`: it holds its own pins on the
        // pages), and the range is released only then (the caller's contract).
        let index = match register(&iovecs) {
            Ok(i) => i,
            Err(e) => {
                // SAFETY: our fresh mapping, not registered, no slot handed out.
                unsafe {
                    let _ = rustix::mm::munmap(base.as_ptr().cast::<c_void>(), map_len);
                }
                return Err(e);
            }
        };
        let shared = Shared {
            base,
            map_len,
            stride,
            slot_size,
            count,
            // Hand out low indices first (popped from the end).
            free: Mutex::new((0..count as u16).rev().collect()),
            ring_id,
            table_base: index,
            entries: iovecs.len() as u32,
            driver,
        };
        Ok(BufferPool {
            shared: Arc::new(shared),
        })
    }

    /// A free slot, its length set to the whole slot, or `None` if all are in use.
    pub fn get(&self) -> Option<PoolSlot> {
        let index = self.shared.free.lock().ok()?.pop()?;
        Some(PoolSlot {
            shared: Arc::clone(&self.shared),
            index,
            len: self.shared.slot_size,
        })
    }

    /// Size of every slot, in bytes.
    pub fn slot_size(&self) -> usize {
        self.shared.slot_size
    }

    /// Number of slots.
    pub fn count(&self) -> usize {
        self.shared.count
    }

    /// Number of slots free right now.
    pub fn available(&self) -> usize {
        self.shared.free.lock().map(|f| f.len()).unwrap_or(0)
    }

    /// The identity of the driver's ring the pool is registered with ([`Driver::id`](super::Driver::id)).
    pub fn driver_id(&self) -> u64 {
        self.shared.ring_id
    }
}

/// One slot of a [`BufferPool`]: exclusive access to `capacity()` bytes of registered
/// memory, of which the first `len()` are sent. Dropping it returns it to the pool.
pub struct PoolSlot {
    shared: Arc<Shared>,
    index: u16,
    len: usize,
}

impl fmt::Debug for PoolSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolSlot")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.shared.slot_size)
            .finish()
    }
}

impl PoolSlot {
    /// The slot's size in bytes.
    pub fn capacity(&self) -> usize {
        self.shared.slot_size
    }

    /// Sets how many bytes of the slot are in use (and sent), at most
    /// [`capacity`](Self::capacity); a larger value is clamped. The memory is always
    /// initialized (zero when the pool was made, or what was written before).
    pub fn set_len(&mut self, len: usize) {
        self.len = len.min(self.shared.slot_size);
    }

    /// The whole slot, regardless of `len`, to fill before [`set_len`](Self::set_len).
    pub fn as_full_mut(&mut self) -> &mut [u8] {
        // SAFETY: the slot's range lies inside the live mapping (kept by our Arc), is
        // initialized, and is ours alone: the free list gave index `index` to this slot
        // only, and `&mut self` excludes other borrows of it.
        unsafe { core::slice::from_raw_parts_mut(self.ptr(), self.shared.slot_size) }
    }

    /// The fixed-buffer index this slot is sent as, in its driver's table: the pool's, for
    /// every slot of a pool registered as one buffer (up to 1 GiB in all; the slot is then
    /// named by its address inside it), or the slot's own in a larger pool.
    pub fn buf_index(&self) -> u16 {
        // base + index < BUF_TABLE = 1 << 14.
        if self.shared.entries == 1 {
            self.shared.base_index() as u16
        } else {
            (self.shared.base_index() + u32::from(self.index)) as u16
        }
    }

    /// Whether the slot is registered as a fixed buffer of the ring with identity
    /// `ring_id` (registered for as long as the slot lives).
    pub(crate) fn registered_for(&self, ring_id: u64) -> bool {
        self.shared.ring_id == ring_id
    }

    fn ptr(&self) -> *mut u8 {
        // SAFETY: `index < count`, so the offset stays inside the mapping.
        unsafe {
            self.shared
                .base
                .as_ptr()
                .add(usize::from(self.index) * self.shared.stride)
        }
    }
}

impl Deref for PoolSlot {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: as in `as_full_mut`; `len <= slot_size`, and `&self` only allows reads.
        unsafe { core::slice::from_raw_parts(self.ptr(), self.len) }
    }
}

impl DerefMut for PoolSlot {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.as_full_mut()[..len]
    }
}

impl AsRef<[u8]> for PoolSlot {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for PoolSlot {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl Drop for PoolSlot {
    fn drop(&mut self) {
        if let Ok(mut free) = self.shared.free.lock() {
            free.push(self.index);
        }
    }
}

impl PoolSlot {
    /// Freezes the slot's contents (its first `len()` bytes) into a
    /// [`SharedSlot`] that can be cloned and sent many times at once, still from the
    /// registered buffer (`send_zc_fixed`): one payload for many sockets, or the same one
    /// over and over, without a copy or a slot per send.
    pub fn share(self) -> SharedSlot {
        SharedSlot(Arc::new(self))
    }
}

/// A [`PoolSlot`] frozen for sharing ([`PoolSlot::share`]): clones read the same
/// registered bytes, and none can write them, so any number of sends may be in flight
/// with it at once. The slot goes back to its pool when the last clone is dropped; the
/// writable slot comes back with [`try_unwrap`](Self::try_unwrap) once no other clone
/// (in particular none held by a sender) is left.
///
/// No clone can write the bytes, so no send in flight can see them change:
///
/// ```compile_fail,E0596
/// # fn f(slot: uring::zc::PoolSlot) {
/// let mut shared = slot.share();
/// shared[0] = 1; // no DerefMut: the bytes are frozen
/// # }
/// ```
#[derive(Clone)]
pub struct SharedSlot(Arc<PoolSlot>);

impl SharedSlot {
    /// The slot, writable again, if this is the only clone; else this clone, unchanged.
    pub fn try_unwrap(self) -> Result<PoolSlot, SharedSlot> {
        Arc::try_unwrap(self.0).map_err(SharedSlot)
    }

    /// The slot behind the clones (read-only).
    pub fn slot(&self) -> &PoolSlot {
        &self.0
    }
}

impl fmt::Debug for SharedSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedSlot")
            .field("slot", &*self.0)
            .field("clones", &Arc::strong_count(&self.0))
            .finish()
    }
}

impl Deref for SharedSlot {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for SharedSlot {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zc::Config;

    #[test]
    fn slots_are_disjoint_and_recycled() {
        let mut driver = Config::default().driver().unwrap();
        let pool = BufferPool::new(&mut driver, 1000, 3).unwrap();
        assert_eq!(pool.available(), 3);
        let mut a = pool.get().unwrap();
        let mut b = pool.get().unwrap();
        let c = pool.get().unwrap();
        assert!(pool.get().is_none());
        assert_eq!(a.len(), 1000);
        a.fill(1);
        b.fill(2);
        assert!(a.iter().all(|&x| x == 1) && b.iter().all(|&x| x == 2));
        assert!(c.iter().all(|&x| x == 0));
        // One registered buffer for the pool: every slot is sent as its index.
        assert_eq!(a.buf_index(), b.buf_index());
        a.set_len(10_000);
        assert_eq!(a.len(), 1000);
        a.set_len(7);
        assert_eq!(&a[..], &[1; 7]);
        drop(b);
        assert_eq!(pool.available(), 1);
        let b2 = pool.get().unwrap();
        assert_eq!(b2[0], 2, "memory is reused, not cleared");
        // A second pool on the same driver takes another range of its table.
        let other = BufferPool::new(&mut driver, 10, 2).unwrap();
        let o = other.get().unwrap();
        assert_ne!(o.buf_index(), a.buf_index(), "another table entry");
        assert_eq!(pool.driver_id(), driver.id());
        // Slots outlive the pool handle.
        drop(pool);
        assert_eq!(a.len(), 7);
    }

    #[test]
    fn invalid_sizes_are_refused() {
        let mut driver = Config::default().driver().unwrap();
        for (size, count) in [
            (0, 1),
            (1, 0),
            (MAX_SLOT_SIZE + 1, 1),
            (1, MAX_POOL_SLOTS + 1),
        ] {
            assert_eq!(
                BufferPool::new(&mut driver, size, count).unwrap_err(),
                PoolError::InvalidSize
            );
        }
    }

    #[test]
    fn a_dropped_pool_gives_its_range_back() {
        let mut driver = Config::default().driver().unwrap();
        // A pool takes one entry of the table whatever its slot count: fill the table with
        // pools of one page.
        let mut pools: Vec<BufferPool> = (0..MAX_POOL_SLOTS)
            .map(|_| BufferPool::new(&mut driver, 1, 1).unwrap())
            .collect();
        assert_eq!(
            BufferPool::new(&mut driver, 4096, 1).unwrap_err(),
            PoolError::TableFull
        );
        let pinned = driver.pinned_bytes();
        let freed = pools[7].get().unwrap().buf_index();
        drop(pools.swap_remove(7));
        // The next call collects the dropped pool (its page unpinned) and reuses its entry.
        let c = BufferPool::new(&mut driver, 4096, 16).unwrap();
        let slots: Vec<PoolSlot> = (0..16).filter_map(|_| c.get()).collect();
        assert!(
            slots.iter().all(|s| s.buf_index() == freed),
            "the freed entry"
        );
        assert_eq!(
            driver.pinned_bytes(),
            pinned - 4096 + 16 * 4096,
            "the dropped pool is unpinned, the new one pinned whole"
        );
        drop((pools, slots, c));
    }
}
