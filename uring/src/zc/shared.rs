//! What a [`Driver`](super::Driver) shares with its handles (senders, pools), which may be
//! dropped anywhere, in any order, on any thread: the orphans they leave for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// What dropped handles leave for the driver: senders to close, pool ranges to clear.
#[derive(Debug, Default)]
pub(crate) struct Orphans {
    pub(super) senders: Vec<(u16, u8)>,
    pub(super) ranges: Vec<(u32, u32, u64)>,
}

/// Shared between a driver and its handles (senders, pools), which may be dropped
/// anywhere, in any order, on any thread.
#[derive(Debug, Default)]
pub(crate) struct DriverShared {
    orphans: Mutex<Orphans>,
    /// Set (release) after an orphan is pushed: the driver's hot path reads this one
    /// atomic instead of taking the lock on every call.
    dirty: AtomicBool,
}

impl DriverShared {
    pub(crate) fn sender_dropped(&self, index: u16, gen: u8) {
        let mut o = self.orphans.lock().unwrap_or_else(|p| p.into_inner());
        o.senders.push((index, gen));
        self.dirty.store(true, Ordering::Release);
    }

    pub(crate) fn range_dropped(&self, base: u32, count: u32, bytes: u64) {
        let mut o = self.orphans.lock().unwrap_or_else(|p| p.into_inner());
        o.ranges.push((base, count, bytes));
        self.dirty.store(true, Ordering::Release);
    }

    /// Whether an orphan may have been pushed since the last take (a hint: `take` decides).
    #[inline]
    pub(super) fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Relaxed)
    }

    /// The orphans, if any were pushed since the last take.
    pub(super) fn take(&self) -> Option<Orphans> {
        // Acquire pairs with the release above: a flag seen set means its push is visible
        // under the lock. A push racing with this swap sets the flag again after it.
        if !self.dirty.swap(false, Ordering::Acquire) {
            return None;
        }
        let mut o = self.orphans.lock().unwrap_or_else(|p| p.into_inner());
        Some(core::mem::take(&mut *o))
    }
}
