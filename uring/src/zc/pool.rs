//! [`BufferPool`]: memory registered once with the ring, handed out in fixed-size slots
//! that the sender transmits with `send_zc_fixed`.

use core::ffi::c_void;
use core::fmt;
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};

use crate::error::RegisterError;
use crate::register::iovec;
use crate::ring::IoUring;

/// Most buffers one ring can register (`IORING_MAX_REG_BUFFERS`, 1 << 14).
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
    /// Registering (or unregistering) the buffers with the ring failed; `AlreadyRegistered`
    /// means the ring already has a buffer table (one pool per ring).
    Register(RegisterError),
    /// [`unregister`](BufferPool::unregister) was given a ring other than the one the pool
    /// is registered with, or the pool is not registered any more.
    NotRegisteredHere,
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::InvalidSize => f.write_str("buffer pool: invalid slot size or count"),
            PoolError::Mmap(e) => write!(f, "buffer pool: mapping memory failed: {e}"),
            PoolError::Register(e) => write!(f, "buffer pool: {e}"),
            PoolError::NotRegisteredHere => {
                f.write_str("buffer pool: not registered with this ring")
            }
        }
    }
}

impl std::error::Error for PoolError {}

impl From<PoolError> for std::io::Error {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Mmap(errno) => std::io::Error::from_raw_os_error(errno.raw_os_error()),
            PoolError::Register(r) => r.into(),
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
    ring_fd: RawFd,
    registered: AtomicBool,
}

// SAFETY: `base` points to a private anonymous mapping owned by this value. Slot `i` is
// the byte range `[i * stride, i * stride + slot_size)`, and the free list hands each index
// to at most one `PoolSlot` at a time (taken under the mutex, given back in its Drop), so
// no two threads ever access the same bytes through the pool; everything else is immutable
// or atomic.
unsafe impl Send for Shared {}
// SAFETY: as above: shared access only reads immutable fields, the mutex or the atomic.
unsafe impl Sync for Shared {}

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
    }
}

/// Memory registered with one ring as fixed buffers, handed out in slots.
///
/// [`new`](Self::new) maps `count` slots of `slot_size` bytes (each page-aligned), registers
/// one fixed buffer per slot (IORING_REGISTER_BUFFERS, liburing's
/// `io_uring_register_buffers`) and keeps a free list. [`get`](Self::get) hands out a
/// [`PoolSlot`]; fill it, give it to a [`ZcSender`](super::ZcSender), and it comes back in
/// the [`Completion`](super::Completion); dropping a slot returns it to the pool. The
/// memory lives until the pool and all its slots are gone.
///
/// A ring has one buffer table, so one pool per ring. The kernel pins the pages (counted
/// against `RLIMIT_MEMLOCK` for unprivileged users).
///
/// ```no_run
/// use uring::zc::BufferPool;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut ring = uring::IoUring::init(64, uring::sys::IoringSetupFlags::empty())?;
/// let pool = BufferPool::new(&mut ring, 64 * 1024, 32)?;
/// let mut slot = pool.get().expect("a free slot");
/// slot[..5].copy_from_slice(b"hello");
/// slot.set_len(5);
/// assert_eq!(&slot[..], b"hello");
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
            .field("registered", &self.is_registered())
            .finish()
    }
}

impl BufferPool {
    /// Maps `count` slots of `slot_size` bytes and registers them with `ring` as fixed
    /// buffers `0..count` (Linux 5.1). Fails with [`PoolError::Register`]
    /// (`AlreadyRegistered`) if the ring already has a buffer table.
    pub fn new(ring: &mut IoUring, slot_size: usize, count: usize) -> Result<Self, PoolError> {
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
        let shared = Shared {
            base,
            map_len,
            stride,
            slot_size,
            count,
            // Hand out low indices first (popped from the end).
            free: Mutex::new((0..count as u16).rev().collect()),
            ring_fd: ring.fd(),
            registered: AtomicBool::new(false),
        };
        let iovecs: Vec<iovec> = (0..count)
            .map(|i| iovec {
                // SAFETY: `i * stride + slot_size <= map_len`, inside the mapping.
                iov_base: unsafe { base.as_ptr().add(i * stride) }.cast(),
                iov_len: slot_size as _,
            })
            .collect();
        // SAFETY: the registered memory is the mapping owned by `shared`, which stays
        // mapped while any slot or pool handle lives; after that it is unmapped, which the
        // kernel tolerates (see `Drop for Shared`): it holds its own pins on the pages.
        unsafe { ring.register_buffers(&iovecs) }.map_err(PoolError::Register)?;
        shared.registered.store(true, Ordering::Release);
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

    /// Whether the buffers are still registered with the ring they were made for.
    pub fn is_registered(&self) -> bool {
        self.shared.registered.load(Ordering::Acquire)
    }

    /// Unregisters the buffers from `ring` (liburing `io_uring_unregister_buffers`), so
    /// that the ring can take another table. Slots stay usable: the sender then sends them
    /// with `send_zc` instead of `send_zc_fixed`. Requests already in flight keep their
    /// reference to the registration inside the kernel.
    pub fn unregister(&self, ring: &mut IoUring) -> Result<(), PoolError> {
        if ring.fd() != self.shared.ring_fd || !self.is_registered() {
            return Err(PoolError::NotRegisteredHere);
        }
        // SAFETY: the table is this pool's own (registered with this ring, checked above);
        // requests already issued keep their reference inside the kernel. (Minimal fix by
        // the raw-layer change; the zc owner to confirm no send_zc_fixed of this pool can
        // still be queued unsubmitted here.)
        unsafe { ring.unregister_buffers() }.map_err(PoolError::Register)?;
        self.shared.registered.store(false, Ordering::Release);
        Ok(())
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

    /// The fixed-buffer index this slot was registered as.
    pub fn buf_index(&self) -> u16 {
        self.index
    }

    /// Whether the slot is registered as a fixed buffer of the ring with fd `ring_fd`.
    pub(crate) fn registered_with(&self, ring_fd: RawFd) -> bool {
        self.shared.ring_fd == ring_fd && self.shared.registered.load(Ordering::Acquire)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::IoringSetupFlags;

    #[test]
    fn slots_are_disjoint_and_recycled() {
        let mut ring = IoUring::init(8, IoringSetupFlags::empty()).unwrap();
        let pool = BufferPool::new(&mut ring, 1000, 3).unwrap();
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
        assert_ne!(a.buf_index(), b.buf_index());
        a.set_len(10_000);
        assert_eq!(a.len(), 1000);
        a.set_len(7);
        assert_eq!(&a[..], &[1; 7]);
        drop(b);
        assert_eq!(pool.available(), 1);
        let b2 = pool.get().unwrap();
        assert_eq!(b2[0], 2, "memory is reused, not cleared");
        // A second table on the same ring is refused.
        assert_eq!(
            BufferPool::new(&mut ring, 10, 1).unwrap_err(),
            PoolError::Register(RegisterError::AlreadyRegistered)
        );
        pool.unregister(&mut ring).unwrap();
        assert!(!pool.is_registered());
        assert_eq!(
            pool.unregister(&mut ring),
            Err(PoolError::NotRegisteredHere)
        );
        // Slots outlive the pool handle.
        drop(pool);
        assert_eq!(a.len(), 7);
    }

    #[test]
    fn invalid_sizes_are_refused() {
        let mut ring = IoUring::init(8, IoringSetupFlags::empty()).unwrap();
        for (size, count) in [
            (0, 1),
            (1, 0),
            (MAX_SLOT_SIZE + 1, 1),
            (1, MAX_POOL_SLOTS + 1),
        ] {
            assert_eq!(
                BufferPool::new(&mut ring, size, count).unwrap_err(),
                PoolError::InvalidSize
            );
        }
    }
}
