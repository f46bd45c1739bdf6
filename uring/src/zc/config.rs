//! [`Config`] and [`Policy`] of a [`ZcSender`](super::ZcSender).

use std::time::Duration;

use rustix::io_uring::{io_uring_params, IoringSetupFlags};

use crate::error::SetupError;
use crate::ring::IoUring;

/// When the sender uses zero-copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Every buffer goes zero-copy (unless zero-copy is unavailable: see
    /// [`Config::force_fallback`] and [`FallbackReason`](super::FallbackReason)).
    Always,
    /// Every buffer goes with plain `send` (the same API, the same ownership rules).
    Never,
    /// Zero-copy only where it pays: buffers below [`Config::adaptive_min_size`] go plain;
    /// and when the kernel reports that it copied zero-copy sends anyway
    /// (`IORING_NOTIF_USAGE_ZC_COPIED`: loopback, veth, a device without scatter-gather),
    /// the sender switches to plain send and tries one zero-copy send again every
    /// [`Config::adaptive_reprobe_every`] buffers, since routes change.
    #[default]
    Adaptive,
}

/// Settings of a [`ZcSender`](super::ZcSender). Start from [`Config::default`] and change
/// what you need with the chained setters.
///
/// ```
/// use uring::zc::{Config, Policy};
/// let config = Config::default()
///     .policy(Policy::Always)
///     .depth(16)
///     .budget_bytes(8 << 20);
/// assert_eq!(config.depth, 16);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// When to use zero-copy. Default [`Policy::Adaptive`].
    pub policy: Policy,
    /// Send requests in flight at once (submitted, first completion not yet seen). On a
    /// stream socket this is the longest `IOSQE_IO_LINK` chain. Default 8. Notifications
    /// are never waited for before the next send; they are bounded by the budget.
    pub depth: u32,
    /// Bytes the sender may own at once: queued, in flight, or waiting for the kernel's
    /// notification. Over it, [`send`](super::ZcSender::send) drives the ring until there
    /// is room and [`try_send`](super::ZcSender::try_send) gives the buffer back. A single
    /// buffer larger than this is refused. Default 16 MiB.
    pub budget_bytes: usize,
    /// Buffers the sender may own at once (1..=65536). Default 4096. The completion queue
    /// should hold two completions for each (see [`Config::ring`]).
    pub max_buffers: u32,
    /// Never use zero-copy, whatever the policy, and count every buffer as a fallback: the
    /// path taken where the kernel has no SEND_ZC. Default false.
    pub force_fallback: bool,
    /// [`Policy::Adaptive`]: buffers shorter than this go with plain send. Default 10 KiB,
    /// the kernel's own guidance for MSG_ZEROCOPY ("generally only effective at writes over
    /// around 10 KB", Documentation/networking/msg_zerocopy.rst).
    pub adaptive_min_size: usize,
    /// [`Policy::Adaptive`]: while the kernel copies zero-copy sends, try zero-copy again
    /// once per this many buffers. Default 256.
    pub adaptive_reprobe_every: u32,
    /// [`Policy::Adaptive`]: consecutive copied notifications after which the sender
    /// switches to plain send. Default 4.
    pub adaptive_copied_limit: u32,
    /// Upper bound for every wait of a blocking call ([`send`](super::ZcSender::send),
    /// [`wait`](super::ZcSender::wait), …); `None` waits as long as the kernel takes, like
    /// a blocking socket. Default `None`.
    pub wait_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            policy: Policy::Adaptive,
            depth: 8,
            budget_bytes: 16 << 20,
            max_buffers: 4096,
            force_fallback: false,
            adaptive_min_size: 10 * 1024,
            adaptive_reprobe_every: 256,
            adaptive_copied_limit: 4,
            wait_timeout: None,
        }
    }
}

impl Config {
    /// Sets [`policy`](Self::policy).
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets [`depth`](Self::depth).
    #[must_use]
    pub fn depth(mut self, depth: u32) -> Self {
        self.depth = depth;
        self
    }

    /// Sets [`budget_bytes`](Self::budget_bytes).
    #[must_use]
    pub fn budget_bytes(mut self, bytes: usize) -> Self {
        self.budget_bytes = bytes;
        self
    }

    /// Sets [`max_buffers`](Self::max_buffers).
    #[must_use]
    pub fn max_buffers(mut self, buffers: u32) -> Self {
        self.max_buffers = buffers;
        self
    }

    /// Sets [`force_fallback`](Self::force_fallback).
    #[must_use]
    pub fn force_fallback(mut self, force: bool) -> Self {
        self.force_fallback = force;
        self
    }

    /// Sets [`adaptive_min_size`](Self::adaptive_min_size).
    #[must_use]
    pub fn adaptive_min_size(mut self, bytes: usize) -> Self {
        self.adaptive_min_size = bytes;
        self
    }

    /// Sets [`adaptive_reprobe_every`](Self::adaptive_reprobe_every).
    #[must_use]
    pub fn adaptive_reprobe_every(mut self, buffers: u32) -> Self {
        self.adaptive_reprobe_every = buffers;
        self
    }

    /// Sets [`adaptive_copied_limit`](Self::adaptive_copied_limit).
    #[must_use]
    pub fn adaptive_copied_limit(mut self, notifications: u32) -> Self {
        self.adaptive_copied_limit = notifications;
        self
    }

    /// Sets [`wait_timeout`](Self::wait_timeout).
    #[must_use]
    pub fn wait_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Checks the limits; the sender's constructor calls this.
    pub(crate) fn validate(&self) -> Result<(), &'static str> {
        if self.depth == 0 {
            return Err("depth must be at least 1");
        }
        if self.depth > 4096 {
            return Err("depth must be at most 4096");
        }
        if self.budget_bytes == 0 {
            return Err("budget_bytes must be at least 1");
        }
        if self.max_buffers == 0 || self.max_buffers > 1 << 16 {
            return Err("max_buffers must be in 1..=65536");
        }
        if self.adaptive_reprobe_every == 0 {
            return Err("adaptive_reprobe_every must be at least 1");
        }
        if self.adaptive_copied_limit == 0 {
            return Err("adaptive_copied_limit must be at least 1");
        }
        Ok(())
    }

    /// SQ entries for a ring dedicated to one sender: room for a whole chain twice over.
    pub fn sq_entries(&self) -> u32 {
        (self.depth.saturating_mul(2))
            .clamp(32, 32768)
            .next_power_of_two()
    }

    /// CQ entries for a ring dedicated to one sender: two completions (the result and the
    /// notification) for every buffer it may own, plus room for a chain, so that the CQ
    /// never overflows (with IORING_FEAT_NODROP an overflow loses nothing, but costs).
    pub fn cq_entries(&self) -> u32 {
        let want = u64::from(self.max_buffers) * 2 + u64::from(self.depth) * 2 + 64;
        // The kernel allows up to 2 * 32768 * ... (IORING_MAX_CQ_ENTRIES = 2 * 32768 * 2).
        (want.min(1 << 17) as u32).next_power_of_two()
    }

    /// Creates a ring sized for this configuration: [`sq_entries`](Self::sq_entries) SQEs
    /// and, with IORING_SETUP_CQSIZE (Linux 5.5), [`cq_entries`](Self::cq_entries) CQEs;
    /// with IORING_SETUP_SUBMIT_ALL (5.18) too, so that an SQE the kernel rejects while
    /// preparing it fails its whole link chain instead of stopping the submission between
    /// two links of a stream (the sender works on any ring, this only closes that gap). If
    /// other work shares the ring, add its completions to the CQ size: build the ring
    /// yourself with [`IoUring::init_params`] and `params.cq_entries`.
    pub fn ring(&self) -> Result<IoUring, SetupError> {
        let mut params = io_uring_params::default();
        params.flags = IoringSetupFlags::CQSIZE | IoringSetupFlags::SUBMIT_ALL;
        params.cq_entries = self.cq_entries();
        IoUring::init_params(self.sq_entries(), &mut params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_sizes_follow_the_config() {
        let c = Config::default().depth(8).max_buffers(100);
        assert_eq!(c.sq_entries(), 32);
        assert_eq!(c.cq_entries(), 512); // 2 * 100 + 16 + 64 = 280 -> 512
        let ring = c.ring().unwrap();
        assert!(ring.cq().entries() >= 280);
        assert!(ring.sq().entries() >= 16);
        assert!(Config::default().depth(0).validate().is_err());
        assert!(Config::default().max_buffers(70_000).validate().is_err());
        assert!(Config::default().validate().is_ok());
    }
}
