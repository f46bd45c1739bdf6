//! [`Config`] and [`Policy`] of a [`ZcSender`](super::ZcSender).

use std::time::Duration;

use rustix::io_uring::IoringSetupFlags;

use super::memlock::Memlock;

/// When the sender uses zero-copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Every buffer goes zero-copy (unless zero-copy is unavailable: see
    /// [`Config::force_fallback`] and [`FallbackReason`](super::FallbackReason)).
    Always,
    /// Every buffer goes with plain `send` (the same API, the same ownership rules).
    Never,
    /// Zero-copy only where it pays. When the kernel reports that it copied zero-copy
    /// sends anyway (`IORING_NOTIF_USAGE_ZC_COPIED`: loopback, veth, a device without
    /// scatter-gather), the sender switches to plain send and tries one zero-copy send
    /// again after [`Config::adaptive_reprobe_every`] buffers, since routes change; each
    /// probe the kernel copies too doubles that interval, up to 64 times it.
    /// Where the kernel does not copy, the sender measures what each path costs it per
    /// size class (powers of two), timing the `io_uring_enter` calls that submit its
    /// requests (with the reap after them), and sends each class the cheaper way: zero-copy for large buffers, plain
    /// for small ones, wherever the crossover lies on this path
    /// ([`ZcSender::adaptive_classes`](super::ZcSender::adaptive_classes) shows the
    /// decisions). Buffers below [`Config::adaptive_min_size`] (default 0: none) go
    /// plain without measuring.
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
    /// buffer larger than this is refused.
    ///
    /// Default 0: automatic, resolved when the sender is made from the locked-memory limit
    /// the process actually has ([`Memlock`]): 16 MiB with `CAP_IPC_LOCK` or an unlimited
    /// `RLIMIT_MEMLOCK`, otherwise half of what the limit leaves after the driver's
    /// registered pools, between 64 KiB and 16 MiB (4 MiB under the usual 8 MiB limit).
    /// The pages of a zero-copy send in flight are charged to that limit; should the kernel
    /// still refuse to pin a buffer (other senders, other processes of the user), the
    /// buffer goes with plain send instead ([`PlainReason::PinLimit`](super::PlainReason)),
    /// in order, and nothing fails.
    pub budget_bytes: usize,
    /// Buffers the sender may own at once (1..=65536). Default 4096. The completion queue
    /// should hold two completions for each (see [`Config::driver`]).
    pub max_buffers: u32,
    /// Never use zero-copy, whatever the policy, and count every buffer as a fallback: the
    /// path taken where the kernel has no SEND_ZC. Default false.
    pub force_fallback: bool,
    /// [`Policy::Adaptive`]: buffers shorter than this go with plain send, unmeasured.
    /// Default 0: the policy measures where zero-copy stops paying on each socket, so no
    /// fixed threshold is needed (the kernel's guidance for MSG_ZEROCOPY, "generally only
    /// effective at writes over around 10 KB", Documentation/networking/msg_zerocopy.rst,
    /// is one machine's crossover; set it to skip measuring sizes you know lose).
    pub adaptive_min_size: usize,
    /// Parts of a vectored send ([`ZcSender::send_vectored`](super::ZcSender::send_vectored))
    /// shorter than this go with plain send, copied
    /// ([`PlainReason::SmallPart`](super::PlainReason::SmallPart)), whatever the policy;
    /// the others go as the policy decides. Default 4096: below a page, pinning and a
    /// notification cost more than the copy (the drop path measures zero-copy ahead only
    /// from about 4 KB, `bench/RESULTS.md`). 0 leaves every part to the policy.
    pub copy_parts_below: usize,
    /// [`Policy::Adaptive`]: while the kernel copies zero-copy sends, try zero-copy again
    /// after this many buffers, then after twice as many for each probe the kernel copies
    /// too, up to 64 times this (16384 buffers by default); where it does not, send one
    /// round (what one `io_uring_enter` submits) of a size class on the path measured
    /// slower once per this many rounds of the class, to notice a change. Default 256.
    pub adaptive_reprobe_every: u32,
    /// [`Policy::Adaptive`]: consecutive copied notifications after which the sender
    /// switches to plain send. Default 4.
    pub adaptive_copied_limit: u32,
    /// Byte streams (SOCK_STREAM): buffers queued together go out in one vectored request
    /// (`sendmsg`, or `sendmsg_zc` when they go zero-copy) of up to [`depth`](Self::depth)
    /// buffers (at most `UIO_MAXIOV`; a zero-copy one at most 256 KiB, past which one
    /// request measured slower than a chain), in order, instead of a chain of one request per
    /// buffer linked with `IOSQE_IO_LINK`. Each buffer still comes back on its own with
    /// its own result; the kernel's work per buffer shrinks (one `tcp_sendmsg`, one
    /// notification, no linked request run from task work), which at small buffers is
    /// most of what sending costs. Only buffers on their first request with the same kind
    /// of path are gathered: plain, zero-copy from memory pinned per request, or zero-copy
    /// from one registered buffer (the slots of one [`BufferPool`](super::BufferPool), with
    /// `sendmsg_zc`'s FIXED_BUF, Linux 6.15). A continuation after a short send, slots of
    /// different pools, and the records of a SOCK_SEQPACKET socket go chained; a chain
    /// stops before two buffers that one request could take together (a lone buffer of
    /// the other path, such as a probe of [`Policy::Adaptive`], goes alone, and the run
    /// behind it gathers next).
    ///
    /// On a UDP socket (IPv4 or IPv6), datagrams queued together without an address of
    /// their own (`send`, `queue`, [`queue_from`](super::ZcSender::queue_from) on a
    /// connected socket) go as one UDP GSO request: up to 64 datagrams and 65000 bytes of
    /// one size, the last possibly shorter, on their first request with the same kind of
    /// path, as one `sendmsg` (`sendmsg_zc`) with a `UDP_SEGMENT` control message. The
    /// kernel cuts it into the same datagrams (the receiver sees no difference), doing
    /// the work of the stack once per request instead of once per datagram. Each datagram
    /// still comes back on its own; if the kernel refuses the request, each is sent again
    /// on its own for its own result, and a refusal of the segmentation itself
    /// (`EMSGSIZE`: larger than the path's MTU; `EINVAL`, `EIO`: a socket or route that
    /// cannot segment) stops the gathering on that socket
    /// ([`ZcStats::gso_refused`](super::ZcStats::gso_refused)). Other datagram sockets are
    /// never gathered. Default true.
    pub coalesce: bool,
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
            budget_bytes: 0,
            max_buffers: 4096,
            force_fallback: false,
            adaptive_min_size: 0,
            copy_parts_below: 4096,
            adaptive_reprobe_every: 256,
            adaptive_copied_limit: 4,
            coalesce: true,
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

    /// Sets [`copy_parts_below`](Self::copy_parts_below).
    #[must_use]
    pub fn copy_parts_below(mut self, bytes: usize) -> Self {
        self.copy_parts_below = bytes;
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

    /// Sets [`coalesce`](Self::coalesce).
    #[must_use]
    pub fn coalesce(mut self, coalesce: bool) -> Self {
        self.coalesce = coalesce;
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

    /// The budget an automatic [`budget_bytes`](Self::budget_bytes) stands for, given the
    /// locked-memory limit and the bytes the driver's pools already pin.
    pub fn auto_budget(memlock: Memlock, pinned: u64) -> usize {
        const MAX: u64 = 16 << 20;
        const MIN: u64 = 64 << 10;
        let bytes = match memlock.pinnable() {
            None => MAX,
            Some(limit) => (limit.saturating_sub(pinned) / 2).clamp(MIN, MAX),
        };
        bytes as usize
    }

    /// This config with an automatic budget made concrete.
    pub(crate) fn resolve(mut self, memlock: Memlock, pinned: u64) -> Config {
        if self.budget_bytes == 0 {
            self.budget_bytes = Config::auto_budget(memlock, pinned);
        }
        self
    }

    /// SQ entries for a driver dedicated to one sender: room for a whole chain twice over.
    pub fn sq_entries(&self) -> u32 {
        (self.depth.saturating_mul(2))
            .clamp(32, 32768)
            .next_power_of_two()
    }

    /// CQ entries for a driver dedicated to one sender: two completions (the result and
    /// the notification) for every buffer it may own, plus room for a chain, so that the
    /// CQ does not overflow (with IORING_FEAT_NODROP an overflow loses nothing, but costs);
    /// at most the kernel's 65536 (`IORING_MAX_CQ_ENTRIES`).
    pub fn cq_entries(&self) -> u32 {
        let want = u64::from(self.max_buffers) * 2 + u64::from(self.depth) * 2 + 64;
        (want.min(1 << 16) as u32).next_power_of_two()
    }

    /// A [`DriverConfig`] sized for one sender of this config: [`sq_entries`](Self::sq_entries)
    /// and [`cq_entries`](Self::cq_entries). Add your own work's completions to
    /// `cq_entries` if it shares the ring.
    pub fn driver_config(&self) -> DriverConfig {
        DriverConfig::default()
            .sq_entries(self.sq_entries())
            .cq_entries(self.cq_entries())
    }
}

/// How a [`Driver`](super::Driver) sets up its ring.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverConfig {
    /// SQ entries (a power of two). Default 64.
    pub sq_entries: u32,
    /// CQ entries (IORING_SETUP_CQSIZE): two per zero-copy buffer in flight on all senders,
    /// plus the caller's own work. Default 8192. With IORING_FEAT_NODROP (required) a CQ
    /// too small loses nothing, it is only slower.
    pub cq_entries: u32,
    /// Extra setup flags (SQPOLL, COOP_TASKRUN, SINGLE_ISSUER, DEFER_TASKRUN, …); CQSIZE
    /// and SUBMIT_ALL are always added. `R_DISABLED` is refused: the driver submits at once.
    pub setup_flags: IoringSetupFlags,
    /// SQPOLL: idle time of the kernel thread, in milliseconds. Default 1000.
    pub sq_thread_idle: u32,
    /// Sockets (senders) the driver can hold at once: the size of its registered-file
    /// table (IORING_REGISTER_FILES, sparse, Linux 5.19). Default 256 (at most
    /// RLIMIT_NOFILE, which the kernel requires of a file table).
    pub max_sockets: u32,
    /// Register the ring's fd in the creating thread's registered-ring table
    /// (IORING_REGISTER_RING_FDS, Linux 5.18), so that the driver's enters on that thread
    /// name the ring by its slot instead of its fd: the kernel then skips the file lookup
    /// (and, in a process with several threads, the reference count on the ring's file)
    /// of every enter. Default off, as in liburing.
    ///
    /// Best effort: where the kernel refuses (before 5.18, or the thread's 16 slots are
    /// taken) the driver enters by fd, as it does on any other thread; see
    /// [`Driver::ring_fd_registered`](super::Driver::ring_fd_registered). Ask for it
    /// only for a driver that stays on the thread that makes it: dropped on another
    /// thread, the ring is gone for the kernel only when the creating thread exits (that
    /// thread's table keeps a reference to it), and with it the sockets and pinned pages
    /// it still holds.
    pub register_ring_fd: bool,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            sq_entries: 64,
            cq_entries: 8192,
            setup_flags: IoringSetupFlags::empty(),
            sq_thread_idle: 1000,
            max_sockets: 256,
            register_ring_fd: false,
        }
    }
}

impl DriverConfig {
    /// Sets [`sq_entries`](Self::sq_entries).
    #[must_use]
    pub fn sq_entries(mut self, n: u32) -> Self {
        self.sq_entries = n;
        self
    }
    /// Sets [`cq_entries`](Self::cq_entries).
    #[must_use]
    pub fn cq_entries(mut self, n: u32) -> Self {
        self.cq_entries = n;
        self
    }
    /// Sets [`setup_flags`](Self::setup_flags).
    #[must_use]
    pub fn setup_flags(mut self, flags: IoringSetupFlags) -> Self {
        self.setup_flags = flags;
        self
    }
    /// Sets [`max_sockets`](Self::max_sockets).
    #[must_use]
    pub fn max_sockets(mut self, n: u32) -> Self {
        self.max_sockets = n;
        self
    }
    /// Sets [`register_ring_fd`](Self::register_ring_fd).
    #[must_use]
    pub fn register_ring_fd(mut self, on: bool) -> Self {
        self.register_ring_fd = on;
        self
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
        let mut driver = c.driver().unwrap();
        assert!(driver.ring().cq().entries() >= 280);
        assert!(driver.ring().sq().entries() >= 16);
        assert!(Config::default().depth(0).validate().is_err());
        assert!(Config::default().max_buffers(70_000).validate().is_err());
        assert!(Config::default().validate().is_ok());
        // The most buffers validate allows still gets a CQ the kernel accepts.
        let most = Config::default().max_buffers(1 << 16);
        assert_eq!(most.cq_entries(), 1 << 16);
        assert!(most.driver().is_ok());
    }

    #[test]
    fn the_automatic_budget_fits_the_memlock_limit() {
        let free = Memlock {
            limit: None,
            cap_ipc_lock: false,
        };
        assert_eq!(Config::auto_budget(free, 0), 16 << 20);
        let user = Memlock {
            limit: Some(8 << 20),
            cap_ipc_lock: false,
        };
        assert_eq!(Config::auto_budget(user, 0), 4 << 20);
        assert_eq!(Config::auto_budget(user, 4 << 20), 2 << 20);
        assert_eq!(Config::auto_budget(user, 9 << 20), 64 << 10);
        let root = Memlock {
            cap_ipc_lock: true,
            ..user
        };
        assert_eq!(Config::auto_budget(root, 0), 16 << 20);
        let c = Config::default().resolve(user, 0);
        assert_eq!(c.budget_bytes, 4 << 20);
        let explicit = Config::default().budget_bytes(100).resolve(user, 0);
        assert_eq!(explicit.budget_bytes, 100);
    }
}
