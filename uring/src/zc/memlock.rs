//! [`Memlock`]: how much memory this process may pin, read once when a driver is made.
//!
//! Registered buffers and the pages a zero-copy send pins are charged to the user's locked
//! memory (`RLIMIT_MEMLOCK`, 8 MiB by default on most distributions) unless the process has
//! `CAP_IPC_LOCK`: io_uring accounts registered buffers (`io_account_mem`) and non-fixed
//! `SEND_ZC` requests (`io_notif_account_mem`) against it and fails with `ENOMEM` past it.
//! The safe layer sizes its defaults from this, refuses a pool that cannot fit with an
//! error that names the limit, and sends a buffer with plain `send` when the kernel refuses
//! to pin it, rather than failing the stream.

use core::fmt;

use rustix::process::{getrlimit, Resource};
use rustix::thread::{capabilities, CapabilitySet};

/// The locked-memory limit in force for this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memlock {
    /// The soft `RLIMIT_MEMLOCK` in bytes (`None`: unlimited).
    pub limit: Option<u64>,
    /// Whether the process has `CAP_IPC_LOCK` in its effective set: then nothing it pins
    /// is charged against the limit.
    pub cap_ipc_lock: bool,
}

impl Memlock {
    /// Reads the limit (`getrlimit`) and the capability (`capget`) now.
    pub fn current() -> Memlock {
        let limit = getrlimit(Resource::Memlock).current;
        // If the capabilities cannot be read, assume the limit applies (the safe side).
        let cap_ipc_lock = capabilities(None)
            .map(|c| c.effective.contains(CapabilitySet::IPC_LOCK))
            .unwrap_or(false);
        Memlock {
            limit,
            cap_ipc_lock,
        }
    }

    /// The bytes this process may pin, if limited: `None` with `CAP_IPC_LOCK` or an
    /// unlimited `RLIMIT_MEMLOCK`.
    pub fn pinnable(&self) -> Option<u64> {
        if self.cap_ipc_lock {
            None
        } else {
            self.limit
        }
    }
}

/// A request to pin memory that the locked-memory limit cannot take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemlockExceeded {
    /// The limit (`RLIMIT_MEMLOCK`, bytes).
    pub limit: u64,
    /// Bytes asked for by this request.
    pub requested: u64,
    /// Bytes this driver had pinned already (registered pools).
    pub pinned: u64,
}

impl fmt::Display for MemlockExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "locked-memory limit: pinning {} bytes on top of the {} this ring has pinned \
             exceeds RLIMIT_MEMLOCK ({} bytes) for a process without CAP_IPC_LOCK; \
             raise the limit (ulimit -l, LimitMEMLOCK=) or pin less",
            self.requested, self.pinned, self.limit
        )
    }
}

impl std::error::Error for MemlockExceeded {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinnable_follows_the_capability_and_the_limit() {
        let m = Memlock::current();
        assert_eq!(m.pinnable().is_none(), m.cap_ipc_lock || m.limit.is_none());
        let limited = Memlock {
            limit: Some(8 << 20),
            cap_ipc_lock: false,
        };
        assert_eq!(limited.pinnable(), Some(8 << 20));
        let capable = Memlock {
            cap_ipc_lock: true,
            ..limited
        };
        assert_eq!(capable.pinnable(), None);
        let text = MemlockExceeded {
            limit: 8 << 20,
            requested: 9 << 20,
            pinned: 0,
        }
        .to_string();
        assert!(text.contains("RLIMIT_MEMLOCK (8388608 bytes)"), "{text}");
        assert!(text.contains("9437184"), "{text}");
    }
}
