//! The state of one sender, kept inside its [`Driver`](super::Driver): buffers owned,
//! requests in flight, the stream's chain, the policy. The driver routes the completions
//! of the sender's requests here; nothing else can deliver one.

use core::mem::ManuallyDrop;
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use linux_raw_sys::net::{cmsghdr, msghdr};
use rustix::io::Errno;

use super::buffer::ZcBuffer;
use super::config::{Config, Policy};
use super::stats::ZcStats;
use super::types::{AdaptiveClass, BufferError, Completion, FallbackReason, PlainReason, SendPath};
use crate::addr::SockAddr;
use crate::cqe::Cqe;
use crate::register::iovec;
use crate::ring::IoUring;
use crate::sys;

/// The kernel's cap on one read/write (`MAX_RW_COUNT`, INT_MAX rounded down to a page);
/// a longer buffer is sent in several requests.
const MAX_RW: usize = 0x7FFF_F000;

/// The most bytes one gathered zero-copy request of a stream carries; past it the
/// buffers go in more requests (a chain of single requests where no two fit). Measured on
/// TCP loopback (Linux 6.18, 8 buffers queued at a time, `bench/RESULTS.md` §19): one
/// `sendmsg_zc` of 8 × 256 KiB ran at 0.55 of 8 linked `send_zc` of 256 KiB each, one of
/// 8 × 64 KiB at 0.82 of a chain and 0.64 of two requests of 4, while up to 256 KiB a
/// gathered request ran at or above the chain (16 KiB buffers: 1.7 ×). A plain request
/// has no such cap: one `sendmsg` of 8 × 256 KiB ran at 1.5 × the chain.
const STREAM_ZC_GATHER_BYTES: usize = 256 << 10;

/// Whether `bytes` fit in one gathered request of a stream, zero-copy (`zc`) or not.
#[inline]
fn stream_gather_fits(zc: bool, bytes: usize) -> bool {
    bytes <= if zc { STREAM_ZC_GATHER_BYTES } else { MAX_RW }
}

/// Consecutive requests of one buffer that may make no progress (a transient error, or a
/// zero-byte send) before the buffer fails: every retry loop is bounded.
pub(crate) const MAX_STALLS: u8 = 16;

/// The msghdr of a `sendmsg`/`sendmsg_zc` to an explicit destination, boxed so that its
/// address (given to the kernel) does not change while the entry moves.
struct MsgParts {
    /// The destination as given (handed back in the completion).
    dest: SocketAddr,
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

/// Every field but `buf` (`ManuallyDrop`) and `msg` is plain data with no drop glue:
/// `try_finalize` moves those two out and forgets the rest, so a field that needs
/// dropping must be moved out there too.
pub(crate) struct Entry {
    /// The buffer. `ManuallyDrop`: it is only ever freed by being moved out explicitly,
    /// once the kernel is done with it (`try_finalize`), or by [`SenderState`]'s `Drop`
    /// for entries the kernel does not hold. Drop glue, an unwinding panic, a forgotten
    /// sender: none of them can free memory the kernel may still read.
    buf: ManuallyDrop<ZcBuffer>,
    len: usize,
    /// The index in the driver's table of the registered buffer behind a pool slot, set
    /// when the policy gives the buffer [`SendPath::ZeroCopyFixed`] (0 otherwise): the
    /// submission path does not ask the buffer again.
    buf_index: u16,
    pub(crate) sent: usize,
    seq: u64,
    /// The msghdr and destination of a datagram sent to an address (`send_to`).
    msg: Option<Box<MsgParts>>,
    state: State,
    /// The path chosen at the first request; kept for continuations unless the sender
    /// falls back.
    pub(crate) path: Option<SendPath>,
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
    /// The buffer rode in a gathered request led by another buffer (it has no request of
    /// its own there): it is never gathered again.
    rode: bool,
    stalls: u8,
    outcome: Outcome,
}

/// How a buffer's sending ended, once decided: the bytes sent are the entry's `sent`
/// (never changed once the outcome is set), so only the kind and errno are kept (the
/// entry stays small: it is written once per buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Not decided yet.
    Pending,
    /// Every byte sent.
    Sent,
    /// [`BufferError::Failed`].
    Failed(Errno),
    /// [`BufferError::NotSent`].
    NotSent(Errno),
}

impl Outcome {
    /// The result handed back, with `sent` bytes of the buffer out.
    #[inline]
    fn result(self, sent: usize) -> Result<usize, BufferError> {
        match self {
            Outcome::Pending | Outcome::Sent => Ok(sent),
            Outcome::Failed(errno) => Err(BufferError::Failed { errno, sent }),
            Outcome::NotSent(cause) => Err(BufferError::NotSent { cause, sent }),
        }
    }
}

impl Entry {
    /// Whether this buffer may be gathered with others into one request: it has had no
    /// request yet.
    #[inline]
    fn fresh(&self) -> bool {
        self.requests == 0 && !self.rode && self.msg.is_none()
    }

    /// Whether the kernel may still read this entry's memory.
    fn kernel_holds(&self) -> bool {
        self.state == State::InFlight || self.notifs_seen < self.notifs_expected
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // The boxed msghdr, iovec and address of a request the kernel may still process
        // must outlive it: leak them with the buffer (which is ManuallyDrop anyway).
        if self.kernel_holds() {
            if let Some(parts) = self.msg.take() {
                core::mem::forget(parts);
            }
        }
    }
}

pub(crate) struct Slot {
    pub(crate) gen: u16,
    pub(crate) entry: Option<Entry>,
    /// The other buffers (in stream order) of the gathered request this slot's buffer
    /// led with generation `riders_gen`, while its first completion or its notification
    /// is still to come; empty otherwise. Kept in the slot, not the entry, so that its
    /// memory is reused from buffer to buffer.
    pub(crate) riders: Vec<u16>,
    pub(crate) riders_gen: u16,
    /// The msghdr of the gathered UDP requests this slot's buffers lead, made at the
    /// first one and reused (one at a time: the next is prepared only after this buffer
    /// is back, so after the first completion of its request).
    gso_msg: Option<Box<GatherMsg>>,
}

/// The msghdr and iovecs of a gathered request ([`Config::coalesce`]), boxed so that
/// their addresses (given to the kernel) do not move. The kernel reads them while the
/// request is prepared and issued, up to its first completion (the notification concerns
/// only the payload's pages); they are rewritten only for a request prepared after that.
/// A stream has one, its sender's: one request or chain of a stream is in flight at a
/// time. A UDP socket's gathered requests (UDP GSO) may be in flight together: each has
/// the one of the slot of its first datagram, whose next gathered request can only come
/// after that datagram is back.
struct GatherMsg {
    hdr: msghdr,
    /// Capacity fixed at creation, never exceeded: the array is never reallocated.
    iov: Vec<iovec>,
    /// The `UDP_SEGMENT` control message of a UDP request (unused on a stream).
    seg: SegmentCmsg,
}

impl GatherMsg {
    fn new(capacity: usize) -> Box<GatherMsg> {
        Box::new(GatherMsg {
            // SAFETY: msghdr is plain integers and pointers; all-zero (null pointers, zero
            // lengths) is a valid value. It is filled before each request.
            hdr: unsafe { core::mem::zeroed() },
            iov: Vec::with_capacity(capacity),
            seg: SegmentCmsg {
                hdr: cmsghdr {
                    cmsg_len: core::mem::size_of::<cmsghdr>() + core::mem::size_of::<u16>(),
                    cmsg_level: sys::SOL_UDP as _,
                    cmsg_type: sys::UDP_SEGMENT as _,
                },
                size: 0,
            },
        })
    }

    /// Points the iovecs at the data of `members` (at most the capacity), and the msghdr
    /// at the iovecs and at `control` bytes of the control message.
    fn fill(&mut self, slots: &[Slot], members: &[u16], control: bool) {
        self.iov.clear();
        for &slot in members.iter().take(self.iov.capacity()) {
            if let Some(e) = slots[usize::from(slot)].entry.as_ref() {
                let data = e.buf.as_slice();
                self.iov.push(iovec {
                    iov_base: data.as_ptr().cast_mut().cast(),
                    iov_len: data.len() as _,
                });
            }
        }
        let (msg_control, msg_controllen) = if control {
            let seg: *mut SegmentCmsg = &mut self.seg;
            (seg.cast(), core::mem::size_of::<SegmentCmsg>())
        } else {
            (core::ptr::null_mut(), 0)
        };
        self.hdr = msghdr {
            msg_name: core::ptr::null_mut(),
            msg_namelen: 0,
            // The kernel's net iovec is the same `struct iovec` (bindgen keeps it opaque
            // there).
            msg_iov: self.iov.as_mut_ptr().cast(),
            msg_iovlen: self.iov.len() as _,
            msg_control,
            msg_controllen: msg_controllen as _,
            msg_flags: 0,
        };
    }
}

/// `CMSG_SPACE(sizeof(u16))` bytes: the control message that sets the segment size of a
/// UDP GSO send (`SOL_UDP`, `UDP_SEGMENT`, Linux 4.18). `repr(C)` lays it out as the
/// kernel's `CMSG_DATA` expects: the `u16` right after the aligned header, the whole
/// padded to the header's alignment.
#[repr(C)]
struct SegmentCmsg {
    hdr: cmsghdr,
    size: u16,
}

// SAFETY: the raw pointers in `hdr` and `iov` point into this box and into buffers owned
// by entries of the same sender, which moves between threads together with it; they are
// written only through `&mut` and read by the kernel only while a request is in flight.
unsafe impl Send for GatherMsg {}
// SAFETY: shared references never read through the pointers.
unsafe impl Sync for GatherMsg {}

/// How the first completion of a request is read.
enum ResKind {
    Sent(usize),
    Canceled,
    Unsupported,
    /// The kernel would not pin the pages of a zero-copy send (ENOMEM/ENOBUFS: the
    /// locked-memory limit): send this buffer with plain send.
    PinRefused,
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
        Errno::NOMEM | Errno::NOBUFS if was_zc => ResKind::PinRefused,
        Errno::AGAIN | Errno::INTR | Errno::NOBUFS | Errno::NOMEM => ResKind::Transient(errno),
        _ => ResKind::Error(errno),
    }
}

#[derive(Debug, Default)]
pub(crate) struct Adaptive {
    /// The kernel copies zero-copy sends on this socket: send plain.
    pub(crate) copying: bool,
    copied_streak: u32,
    since_probe: u32,
    /// While copying: buffers between probes, `Config::adaptive_reprobe_every` (set when
    /// the copying is seen) doubled for each probe the kernel copied too, up to
    /// `PROBE_BACKOFF_MAX` times it.
    probe_every: u32,
    /// While copying: probes sent whose notification has not been counted yet.
    probes_out: u32,
    /// What each path costs, by size class, as measured on this socket.
    pub(crate) learner: Learner,
}

impl Adaptive {
    /// The learner measures this sender's requests: the policy is adaptive (`config`'s)
    /// and the kernel does not copy on this socket (while it does, the paths are not
    /// compared, and a buffer goes plain but for the probes).
    #[inline(always)]
    fn learning(&self, config: &Config) -> bool {
        config.policy == Policy::Adaptive && !self.copying
    }
}

/// While the kernel copies, the interval between probes grows (doubling with each probe
/// it copies too) up to this many times [`Config::adaptive_reprobe_every`]: 16384 buffers
/// by default. A route that keeps copying then pays for one probe in that many buffers
/// instead of one in 256 (at 1400 B on loopback one probe in 256 cost 4 % of the rate,
/// `bench/RESULTS.md` §13: each probe as much as ten plain sends); a route that stops
/// copying is still noticed, within that many buffers.
const PROBE_BACKOFF_MAX: u32 = 64;

/// The most datagrams in one gathered UDP request: `UDP_MAX_SEGMENTS` of every kernel
/// since UDP GSO came (Linux 4.18; 128 since Linux 6.11).
const GSO_MAX_SEGMENTS: usize = 64;

/// The most bytes in one gathered UDP request: the payload of one IP packet (65507 over
/// IPv4, 65487 over IPv6 without extension headers), less room for IP options and
/// extension headers.
const GSO_MAX_BYTES: usize = 65000;

/// The most pages the datagrams of one gathered zero-copy UDP request may lie in. The
/// kernel hangs every page of the payload in the fragment array of the request's one skb
/// (`MAX_SKB_FRAGS` entries) and fails the request with `EMSGSIZE` past it: 17 with 4 KiB
/// pages on every kernel (a build option since Linux 6.2, `CONFIG_MAX_SKB_FRAGS`, may
/// raise it to 45), 16 with 64 KiB pages before 6.2. Each page a datagram's bytes touch
/// counts as a fragment, also where the next datagram goes on in the same page (the kernel
/// may merge those: a count that keeps them apart is never below its own). A plain
/// request copies, so it has no such bound.
const GSO_ZC_MAX_PAGES: usize = 16;

/// The page size [`pages_spanned`] counts in: 4 KiB, the smallest of any architecture
/// Linux runs on, so that the count is never below the kernel's own (with larger pages it
/// is above: runs are shorter than they could be, never refused). A constant, not the
/// auxiliary vector's value: it is needed on the submission path.
const PAGE_UNIT: usize = 4096;

/// How many pages of [`PAGE_UNIT`] bytes `data` lies in (none if empty).
fn pages_spanned(data: &[u8]) -> usize {
    if data.is_empty() {
        return 0;
    }
    let start = data.as_ptr() as usize;
    (start + data.len() - 1) / PAGE_UNIT - start / PAGE_UNIT + 1
}

/// Size classes of the adaptive learner: class 0 holds empty buffers, class `k` in
/// `1..31` buffers of `2^(k-1) ..= 2^k - 1` bytes, class 31 every buffer of `2^30` bytes
/// or more.
pub(crate) const SIZE_CLASSES: usize = 32;

/// The size class of a buffer of `len` bytes.
#[inline]
pub(crate) fn size_class(len: usize) -> usize {
    ((usize::BITS - len.leading_zeros()) as usize).min(SIZE_CLASSES - 1)
}

/// The smallest and largest length of class `c`.
pub(crate) fn class_range(c: usize) -> (usize, usize) {
    match c {
        0 => (0, 0),
        c if c >= SIZE_CLASSES - 1 => (1 << (SIZE_CLASSES - 2), usize::MAX),
        c => (1 << (c - 1), (1 << c) - 1),
    }
}

/// Samples of each path a class takes before the learner compares the paths.
pub(crate) const WARMUP: u32 = 4;
/// Once warm, a sample moves the mean by this share of its distance to it.
const EWMA_WEIGHT: f64 = 0.125;
/// The weight of a probe's sample: probes are rare, so each stands for more of the
/// present than a sample of the path taken all the time.
const PROBE_WEIGHT: f64 = 0.25;
/// Once warm, a sample further than this factor from the mean is clamped to it: one
/// descheduled enter moves the mean by at most `EWMA_WEIGHT * (CLAMP - 1)` of itself.
const CLAMP: f64 = 4.0;
/// The other path takes a class over only when it is cheaper by this share (hysteresis:
/// two paths that cost about the same do not flap).
const MARGIN: f64 = 1.0 / 16.0;

/// A running cost of one path for one size class: nanoseconds of submitting
/// (`io_uring_enter` and the reap right after it) per byte submitted. The first sample is dropped (a cold start: page faults, caches); the
/// next [`WARMUP`] are averaged; later ones enter an exponentially weighted mean, clamped
/// so that a single outlier (the VM descheduled during the enter) cannot swing it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Cost {
    pub(crate) ns_per_byte: f64,
    pub(crate) samples: u32,
    cold_dropped: bool,
}

impl Cost {
    /// A sample of the usual weight.
    #[cfg(test)]
    pub(crate) fn add(&mut self, ns_per_byte: f64) {
        self.add_weighted(ns_per_byte, EWMA_WEIGHT);
    }

    /// A sample that, once warm, moves the mean by `weight` of its distance to it.
    pub(crate) fn add_weighted(&mut self, ns_per_byte: f64, weight: f64) {
        if !ns_per_byte.is_finite() || ns_per_byte < 0.0 {
            return;
        }
        if !self.cold_dropped {
            self.cold_dropped = true;
            return;
        }
        self.samples = self.samples.saturating_add(1);
        let m = self.ns_per_byte;
        if self.samples <= WARMUP || m <= 0.0 {
            self.ns_per_byte = m + (ns_per_byte - m) / f64::from(self.samples.min(WARMUP));
        } else {
            let x = ns_per_byte.clamp(m / CLAMP, m * CLAMP);
            self.ns_per_byte = m + (x - m) * weight;
        }
    }

    pub(crate) fn warm(&self) -> bool {
        self.samples >= WARMUP
    }
}

/// What [`Learner::choose`] decided for one buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Choice {
    /// Send it zero-copy.
    pub(crate) zc: bool,
    /// It goes on the path the averages do not prefer, to measure that path again.
    pub(crate) probe: bool,
    /// The preferred path of its class changed with this choice.
    pub(crate) switched: bool,
}

/// Learns, per size class, whether zero-copy or plain send costs the sender less on this
/// socket, from the time the `io_uring_enter` calls that submit each take, with the reap
/// right after them (the send runs inside the enter: the copy of a plain send, the
/// pinning and the notification of a zero-copy one; the reap routes their completions). Where the kernel does not copy, zero-copy wins for large buffers and
/// loses for small ones; the crossover depends on the device, the CPU and the kernel, so
/// it is measured rather than assumed.
///
/// The driver times each enter that submits requests of a learning sender, and its reap
/// (two clock reads per enter, none per buffer), and gives each sender its share by bytes
/// ([`submitted`](Self::submitted)). A *round* is what a sender pushed between two enters;
/// it is a sample only if all of it was one class on one path (a round of mixed sizes
/// says nothing about either). Within a round, a class keeps the path its first buffer
/// got, so a round stays a sample.
///
/// Exploration: until both paths of a class have [`WARMUP`] samples, rounds alternate
/// between them (zero-copy first). Then the cheaper path is taken, and once per
/// `reprobe_every` rounds of the class one round goes the other way (a probe, whose
/// sample weighs [`PROBE_WEIGHT`]), so that a route that changes is noticed: exploration
/// is bounded by one round in `reprobe_every + 1` of each class. The preference is weighed again only after a probe's sample, when both means
/// are fresh, and changes only if the other path is cheaper by [`MARGIN`]: a load that
/// slows both paths alike (the preferred one's mean follows it at once, the other's only
/// at probes) cannot make a class flap, and a class switches at most once per probe.
#[derive(Debug, Default)]
pub(crate) struct Learner {
    pub(crate) zc: [Cost; SIZE_CLASSES],
    pub(crate) plain: [Cost; SIZE_CLASSES],
    /// The preferred path of each class once both are warm (`Some(true)`: zero-copy).
    pub(crate) prefer: [Option<bool>; SIZE_CLASSES],
    /// A probe's sample came in since the class's preference was last weighed.
    reweigh: [bool; SIZE_CLASSES],
    since_probe: [u32; SIZE_CLASSES],
    /// Classes that had a buffer, one bit each.
    pub(crate) seen: u32,
    /// The class and path of everything pushed since the last enter, while it is one;
    /// whether this round is a probe.
    round: Option<(usize, bool)>,
    round_probe: bool,
    round_mixed: bool,
    round_bytes: u64,
    /// The driver has this sender on its list of senders to charge at the next enter.
    listed: bool,
}

impl Learner {
    /// Whether a buffer of class `c` (without a path yet) should go zero-copy now.
    /// `reprobe_every`: one probe round per that many rounds of the class.
    pub(crate) fn choose(&mut self, c: usize, reprobe_every: u32) -> Choice {
        let c = c.min(SIZE_CLASSES - 1);
        if let Some((zc, probe)) = self.round_choice(c) {
            return Choice {
                zc,
                probe,
                switched: false,
            };
        }
        let (zc, plain) = (self.zc[c], self.plain[c]);
        if !zc.warm() || !plain.warm() {
            // Warm-up: measure both, alternating by rounds (zero-copy first).
            self.since_probe[c] = 0;
            let zc_next = zc.samples + u32::from(zc.cold_dropped)
                <= plain.samples + u32::from(plain.cold_dropped);
            self.round_probe = false;
            return Choice {
                zc: zc_next,
                probe: false,
                switched: false,
            };
        }
        let before = self.prefer[c];
        let reweigh = core::mem::take(&mut self.reweigh[c]);
        let pref = match before {
            None => zc.ns_per_byte <= plain.ns_per_byte,
            Some(p) if !reweigh => p,
            Some(true) => plain.ns_per_byte >= zc.ns_per_byte * (1.0 - MARGIN),
            Some(false) => zc.ns_per_byte < plain.ns_per_byte * (1.0 - MARGIN),
        };
        self.prefer[c] = Some(pref);
        let switched = before.is_some_and(|b| b != pref);
        // Rounds, not buffers: a probe round costs up to `depth` buffers, so counting
        // buffers would explore `depth` times as much.
        self.since_probe[c] = self.since_probe[c].saturating_add(1);
        let probe = self.since_probe[c] > reprobe_every;
        if probe {
            self.since_probe[c] = 0;
        }
        self.round_probe = probe;
        Choice {
            zc: pref != probe,
            probe,
            switched,
        }
    }

    /// The path (zero-copy or not) and probe of the open round, if it is one of class `c`:
    /// the round keeps one path per class, so that it stays a sample, and a buffer of
    /// that class takes it without weighing anything.
    #[inline]
    pub(crate) fn round_choice(&self, c: usize) -> Option<(bool, bool)> {
        match (self.round, self.round_mixed) {
            (Some((rc, zc)), false) if rc == c.min(SIZE_CLASSES - 1) => {
                Some((zc, self.round_probe))
            }
            _ => None,
        }
    }

    /// Adds `bytes` to the open round: those of requests whose buffers were each counted
    /// into it already by a [`pushed`](Self::pushed) of no bytes, with their class and
    /// path (a gathered run, opened member by member while it was chosen).
    #[inline]
    pub(crate) fn add_bytes(&mut self, bytes: usize) {
        self.round_bytes = self.round_bytes.saturating_add(bytes as u64);
    }

    /// A buffer of class `c` went while the kernel copies: shown by `adaptive_classes`,
    /// not measured.
    #[inline]
    pub(crate) fn saw(&mut self, c: usize) {
        self.seen |= 1 << c.min(SIZE_CLASSES - 1);
    }

    /// A request of class `c` on the zero-copy path or not was pushed.
    #[inline]
    pub(crate) fn pushed(&mut self, c: usize, zc: bool, bytes: usize) {
        let c = c.min(SIZE_CLASSES - 1);
        self.seen |= 1 << c;
        match self.round {
            None if !self.round_mixed => self.round = Some((c, zc)),
            Some(r) if r != (c, zc) => {
                self.round = None;
                self.round_mixed = true;
            }
            _ => {}
        }
        self.round_bytes = self.round_bytes.saturating_add(bytes as u64);
    }

    /// Bytes pushed since the last enter.
    pub(crate) fn round_bytes(&self) -> u64 {
        self.round_bytes
    }

    /// True once per round that has something pushed: the driver then lists the sender
    /// for the next enter.
    pub(crate) fn list(&mut self) -> bool {
        let open = self.round_bytes > 0 || self.round.is_some() || self.round_mixed;
        let first = open && !self.listed;
        if first {
            self.listed = true;
        }
        first
    }

    /// The enter that submitted the round took `ns` (this sender's share), or failed or
    /// was not timed (`None`): a sample for the round's class and path if it was one of
    /// each; the next push starts a new round.
    pub(crate) fn submitted(&mut self, ns: Option<u64>) {
        if let (Some(ns), Some((c, zc)), false) = (ns, self.round, self.round_mixed) {
            if self.round_bytes > 0 {
                let cost = ns as f64 / self.round_bytes as f64;
                let weight = if self.round_probe {
                    self.reweigh[c] = true;
                    PROBE_WEIGHT
                } else {
                    EWMA_WEIGHT
                };
                if zc {
                    self.zc[c].add_weighted(cost, weight);
                } else {
                    self.plain[c].add_weighted(cost, weight);
                }
            }
        }
        self.round = None;
        self.round_probe = false;
        self.round_mixed = false;
        self.round_bytes = 0;
        self.listed = false;
    }
}

/// Facts about the ring and driver a request needs while it is prepared.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    /// The ring's identity (a pool slot goes fixed only into its own driver's table).
    pub(crate) ring_id: u64,
    /// `sendmsg_zc` takes a registered buffer (Linux 6.15): a pool slot sent to an
    /// address goes `sendmsg_zc_fixed`.
    pub(crate) msg_fixed: bool,
}

/// One sender's state. See [`ZcSender`](super::ZcSender) for the behaviour.
pub(crate) struct SenderState {
    /// `USER_DATA_TAG | index << 40 | generation << 32`: the top 32 bits of every
    /// user_data of this sender's requests.
    pub(crate) prefix: u64,
    /// The socket, kept open while the sender lives (for `socket()`); requests name it by
    /// its registered-file slot, never by this fd number.
    pub(crate) socket: Option<OwnedFd>,
    /// The fixed-file slot of the socket in the driver's table.
    pub(crate) file: u32,
    /// Ordered (SOCK_STREAM, SOCK_SEQPACKET): chains, continuations.
    pub(crate) stream: bool,
    /// A byte stream (SOCK_STREAM): a zero-length buffer is nothing to send.
    pub(crate) bytestream: bool,
    /// A UDP socket whose datagrams are gathered ([`Config::coalesce`]): runs of queued
    /// datagrams of one size go as one request with `UDP_SEGMENT` (UDP GSO). Cleared for
    /// good when the kernel refuses the segmentation.
    pub(crate) gso: bool,
    /// A buffer of at most half [`GSO_MAX_BYTES`] was accepted: only then can two
    /// datagrams gather (`gso_may_start`), so a sender of larger ones never looks.
    gso_small: bool,
    pub(crate) config: Config,
    pub(crate) fallback: Option<FallbackReason>,
    pub(crate) slots: Vec<Slot>,
    free: Vec<u16>,
    pub(crate) queue: VecDeque<u16>,
    /// Stream sockets: the members of the chain in flight, in stream order.
    pub(crate) chain: Vec<u16>,
    chain_pending: u32,
    /// A member of the chain in flight failed on its own (an error other than
    /// `ECANCELED`), as its first completion said.
    chain_failed: bool,
    /// Requests whose first completion has not been seen.
    pub(crate) inflight: u32,
    pub(crate) done: VecDeque<Completion>,
    pub(crate) error: Option<Errno>,
    pub(crate) adaptive: Adaptive,
    pub(crate) stats: ZcStats,
    next_seq: u64,
    pub(crate) owned_bytes: usize,
    pub(crate) owned_buffers: u32,
    scratch: Vec<u16>,
    /// The msghdr of gathered requests, made at the first one.
    gather: Option<Box<GatherMsg>>,
    /// user_data of zero-copy requests whose first completion had no `F_MORE` and that may
    /// still post a stray notification (Linux 6.18 does, after a link cancel): consumed and
    /// counted when it comes, and never given to a new request.
    pub(crate) strays: HashSet<u64>,
    /// The handle was dropped or closed: nothing new is accepted, queued buffers are not
    /// sent, and the state goes once the kernel is done with every request.
    pub(crate) closing: bool,
    /// An error of the ring met after a buffer was accepted, reported by the next call.
    pub(crate) deferred: Option<super::types::ZcError>,
}

impl SenderState {
    pub(crate) fn new(
        prefix: u64,
        socket: OwnedFd,
        file: u32,
        stream: bool,
        bytestream: bool,
        config: Config,
        fallback: Option<FallbackReason>,
    ) -> SenderState {
        SenderState {
            prefix,
            socket: Some(socket),
            file,
            stream,
            bytestream,
            gso: false,
            gso_small: false,
            fallback,
            slots: Vec::new(),
            free: Vec::new(),
            queue: VecDeque::new(),
            chain: Vec::with_capacity(config.depth as usize),
            chain_pending: 0,
            chain_failed: false,
            inflight: 0,
            done: VecDeque::new(),
            error: None,
            adaptive: Adaptive::default(),
            stats: ZcStats::default(),
            next_seq: 0,
            owned_bytes: 0,
            owned_buffers: 0,
            scratch: Vec::new(),
            gather: None,
            strays: HashSet::new(),
            closing: false,
            deferred: None,
            config,
        }
    }

    /// Whether a buffer of `len` bytes would be accepted now without waiting.
    pub(crate) fn has_room(&self, len: usize) -> bool {
        self.has_room_for(len, 1)
    }

    /// Whether the queue has buffers that a pump could submit now.
    pub(crate) fn wants_pump(&self) -> bool {
        !self.queue.is_empty()
            && self.error.is_none()
            && if self.stream {
                self.chain.is_empty()
            } else {
                self.inflight < self.config.depth
            }
    }

    /// Whether nothing is owned and no request can still complete, apart from strays.
    pub(crate) fn is_idle(&self) -> bool {
        self.owned_buffers == 0 && self.inflight == 0
    }

    #[inline]
    pub(crate) fn accept(&mut self, buf: ZcBuffer, dest: Option<SocketAddr>) {
        self.accept_as(buf, dest, None);
    }

    /// Whether the budget has room for `n` more buffers of `len` bytes in all.
    pub(crate) fn has_room_for(&self, len: usize, n: u32) -> bool {
        self.owned_bytes.saturating_add(len) <= self.config.budget_bytes
            && self.owned_buffers.saturating_add(n) <= self.config.max_buffers
    }

    /// The path a part of `len` bytes of a vectored send is given before the policy
    /// decides: plain for a small part, unless the policy or the fallback already sends
    /// everything plain (then it counts as theirs).
    pub(crate) fn part_path(&self, len: usize) -> Option<SendPath> {
        let plain_anyway = self.fallback.is_some() || self.config.policy == Policy::Never;
        (len < self.config.copy_parts_below && !plain_anyway)
            .then_some(SendPath::Plain(PlainReason::SmallPart))
    }

    /// [`accept`](Self::accept), with the path of its first request decided already
    /// (`preset`), or left to the policy (`None`).
    #[inline(always)]
    pub(crate) fn accept_as(
        &mut self,
        buf: ZcBuffer,
        dest: Option<SocketAddr>,
        preset: Option<SendPath>,
    ) {
        let len = buf.len();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.stats.buffers_submitted += 1;
        self.stats.bytes_submitted += len as u64;
        if len == 0 && self.bytestream {
            // Nothing to put on a byte stream: done at once. (A zero-length record on a
            // SOCK_SEQPACKET socket, or a zero-length datagram, is a real message: it is
            // sent.)
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
                dest: d,
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
        // The slot first, then the entry written straight into it (it is large: built
        // elsewhere, it would be copied in).
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                // has_room() keeps owned_buffers < max_buffers <= 65536, so the slab never
                // grows past u16 indices.
                let s = self.slots.len() as u16;
                self.slots.push(Slot {
                    gen: 0,
                    entry: None,
                    riders: Vec::new(),
                    riders_gen: 0,
                    gso_msg: None,
                });
                s
            }
        };
        self.slots[usize::from(slot)].entry = Some(Entry {
            buf: ManuallyDrop::new(buf),
            len,
            buf_index: 0,
            sent: 0,
            seq,
            msg,
            state: State::Queued,
            path: preset,
            res: None,
            last_zc_res: i32::MAX,
            notifs_expected: 0,
            notifs_seen: 0,
            requests: 0,
            gen_first: 0,
            early_notif: None,
            copied: false,
            rode: false,
            stalls: 0,
            outcome: Outcome::Pending,
        });
        self.queue.push_back(slot);
        self.owned_bytes += len;
        self.owned_buffers += 1;
        self.gso_small |= len <= GSO_MAX_BYTES / 2;
        self.stats.peak_bytes_in_flight =
            self.stats.peak_bytes_in_flight.max(self.owned_bytes as u64);
        self.stats.peak_buffers_in_flight = self
            .stats
            .peak_buffers_in_flight
            .max(u64::from(self.owned_buffers));
    }

    /// Routes one completion whose top 32 bits are this sender's prefix (the driver has
    /// checked that). Returns false if it matches no request of this sender (a completion
    /// of a request that is not in flight: only the kernel's own completions reach here,
    /// so that does not happen; kept as a defence).
    #[inline(always)]
    pub(crate) fn handle_cqe(&mut self, cqe: &Cqe) -> bool {
        if cqe.user_data & !0xFFFF_FFFF != self.prefix {
            return false;
        }
        let index = cqe.user_data as u16;
        let gen = (cqe.user_data >> 16) as u16;
        if cqe.notif() {
            // Every notification with this sender's prefix is its own, so it is consumed;
            // it counts for a buffer only if it is the one a request of that buffer still
            // owes.
            if !self.strays.is_empty() && self.strays.remove(&cqe.user_data) {
                self.stats.stray_notifications += 1;
                return true;
            }
            let Some(slot) = self.slots.get_mut(usize::from(index)) else {
                self.stats.stray_notifications += 1;
                return true;
            };
            let latest = slot.gen;
            let Some(e) = slot.entry.as_mut() else {
                self.stats.stray_notifications += 1;
                return true;
            };
            let span = latest.wrapping_sub(e.gen_first);
            let ours = e.requests > 0
                && (e.requests > u32::from(u16::MAX) || gen.wrapping_sub(e.gen_first) <= span);
            if !ours {
                self.stats.stray_notifications += 1;
                return true;
            }
            if gen == latest && e.state == State::InFlight {
                // Before its own first completion: that decides whether it counts.
                let zc = e.path.is_some_and(SendPath::is_zero_copy);
                if zc && e.early_notif.is_none() {
                    e.early_notif = Some(cqe.res);
                } else {
                    self.stats.stray_notifications += 1;
                }
                return true;
            }
            if e.notifs_seen >= e.notifs_expected {
                self.stats.stray_notifications += 1;
                return true;
            }
            let gathered = slot.riders_gen == gen && !slot.riders.is_empty();
            // The one a request of this buffer owes: counted, then the buffer may go.
            let feedback = count_notif(e, &mut self.stats, cqe.res);
            if let Some(copied) = feedback {
                self.adaptive_feedback(copied);
            }
            self.try_finalize(index);
            if gathered {
                // It covers the buffers that rode in the request too: they go next, in
                // stream order.
                self.riders_notified(index, cqe.res);
            }
            return true;
        }
        // A first completion: of the request in flight of this slot (its latest
        // generation), or of nothing.
        let Some(slot) = self.slots.get_mut(usize::from(index)) else {
            return false;
        };
        if slot.gen != gen {
            return false;
        }
        let gathered = slot.riders_gen == gen && !slot.riders.is_empty();
        let Some(e) = slot.entry.as_mut() else {
            return false;
        };
        if e.state != State::InFlight {
            return false;
        }
        e.state = State::Idle;
        let more = cqe.more();
        if more {
            e.notifs_expected += 1;
        }
        let zc = e.path.is_some_and(SendPath::is_zero_copy);
        let early = e.early_notif.take();
        if zc {
            e.last_zc_res = cqe.res;
            if !more {
                // No notification is owed, yet Linux 6.18 may post one (a link-cancelled
                // send does): a stray, consumed when it comes, counted for nothing.
                if early.is_some() {
                    self.stats.stray_notifications += 1;
                } else {
                    self.strays.insert(cqe.user_data);
                }
            }
        }
        if self.stream {
            e.res = Some(cqe.res);
            if cqe.res < 0 && cqe.res != -Errno::CANCELED.raw_os_error() {
                self.chain_failed = true;
            }
        }
        self.inflight = self.inflight.saturating_sub(1);
        if gathered {
            if !self.stream {
                // Every datagram of the request is resolved below, from this list (the
                // slot keeps its riders only while their notification is owed).
                self.scratch.clear();
                self.scratch.push(index);
                let riders = &self.slots[usize::from(index)].riders;
                self.scratch.extend_from_slice(riders);
            }
            self.riders_completed(index, cqe.res, more, zc);
        }
        if let (true, Some(res)) = (more, early) {
            // The notification came first: it is the one this request owes.
            self.count_notif(index, res);
            if gathered {
                self.riders_notified(index, res);
            }
        }
        if self.stream {
            self.chain_pending = self.chain_pending.saturating_sub(1);
            if self.chain_pending == 0 {
                self.resolve_chain();
            }
        } else if gathered {
            self.resolve_gso(cqe.res);
        } else {
            self.resolve_datagram(index, cqe.res);
        }
        true
    }

    // ---------------------------------------------------------------- submission

    /// Pushes the next requests to the SQ (not submitted); returns how many.
    pub(crate) fn pump(&mut self, ring: &mut IoUring, ctx: Ctx) -> u32 {
        if self.error.is_some() || self.queue.is_empty() || self.closing {
            return 0;
        }
        let space = ring.sq_space_left();
        if self.stream {
            // One chain at a time: a new chain only when every request of the previous
            // one has completed, so that two chains never race for the socket.
            if !self.chain.is_empty() {
                return 0;
            }
            if self.bytestream && self.config.coalesce && space > 0 && self.push_gathered(ring, ctx)
            {
                return 1;
            }
            let mut n = (self.config.depth).min(space).min(self.queue.len() as u32);
            if self.bytestream && self.config.coalesce {
                // Only the buffers before a run that a gathered request can take: that
                // run goes as one request once this chain is done, rather than as links
                // of this one (a probe of the other path at the front would otherwise
                // turn a whole window into a chain of single requests).
                n = self.chain_before_gatherable(ctx, n);
            }
            for i in 0..n {
                let Some(slot) = self.queue.pop_front() else {
                    break;
                };
                let link = i + 1 < n;
                if !self.push_request(ring, ctx, slot, link) {
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
                if self.gso && self.gso_small && self.gso_may_start() && self.push_gso(ring, ctx) {
                    pushed += 1;
                    continue;
                }
                let Some(slot) = self.queue.pop_front() else {
                    break;
                };
                if !self.push_request(ring, ctx, slot, false) {
                    break;
                }
                pushed += 1;
            }
            pushed
        }
    }

    /// Prepares and pushes the next request of `slot`; false if the SQ had no room (the
    /// slot goes back to the front of the queue).
    #[inline(always)]
    fn push_request(&mut self, ring: &mut IoUring, ctx: Ctx, slot: u16, link: bool) -> bool {
        let Some(s) = self.slots.get_mut(usize::from(slot)) else {
            return false;
        };
        let gen = next_gen(&self.strays, self.prefix, slot, s);
        let user_data = user_data_of(self.prefix, slot, gen);
        let Some(e) = s.entry.as_mut() else {
            return false;
        };
        let fallback = self.fallback.is_some();
        let path = entry_path(
            e,
            fallback,
            &self.config,
            &mut self.adaptive,
            &mut self.stats,
            ctx,
        );
        let start = e.sent.min(e.len);
        let end = e.len.min(start + MAX_RW);
        let data = &e.buf.as_slice()[start..end];
        let flags = if self.stream {
            sys::SEND_WAITALL
        } else {
            sys::SendFlags::empty()
        };
        let usage = sys::IoringSendFlags::ZC_REPORT_USAGE;
        // The socket is named by its registered-file slot (IOSQE_FIXED_FILE), never by its
        // fd number: whatever happens to fd numbers meanwhile, the request acts on this
        // socket.
        let fd = self.file as i32;
        // SAFETY: the SQE, filled in full right below (before anything can submit it),
        // names `data` (and, for sendmsg, the boxed msghdr, iovec and address): memory
        // owned by this entry, at addresses that do not move (heap,
        // 'static or pool mapping, see `ZcBuffer`; the box), that nobody can write while
        // the sender owns the buffer. The entry is released only after the kernel's last
        // completion for it (first completion without F_MORE, or the notification), which
        // only the kernel can deliver (the driver reserved the user_data namespace), and
        // its buffer is `ManuallyDrop` until then, so the memory stays valid and unmodified
        // for as long as the kernel may read it. The fd is a registered-file slot of the
        // driver's table holding this sender's socket, and the driver replaces the slot
        // only after every request naming it has completed. A pool slot goes as a fixed
        // buffer only into the table of the driver it was registered with (`ctx.ring_id`),
        // whose entry stays while the slot lives. The user_data is in the reserved
        // namespace, used by no other request that may still complete.
        let Ok(sqe) = (unsafe { ring.get_sqe() }) else {
            self.queue.push_front(slot);
            return false;
        };
        match (path, e.msg.as_deref_mut()) {
            (path, Some(parts)) => {
                parts.iov = iovec {
                    iov_base: data.as_ptr().cast_mut().cast(),
                    iov_len: data.len() as _,
                };
                parts.hdr = msghdr {
                    msg_name: parts.addr.as_ptr().cast_mut().cast(),
                    msg_namelen: parts.addr.len() as _,
                    // The kernel's net iovec is the same `struct iovec` (bindgen keeps it
                    // opaque there).
                    msg_iov: (&mut parts.iov as *mut iovec).cast(),
                    msg_iovlen: 1,
                    msg_control: core::ptr::null_mut(),
                    msg_controllen: 0,
                    msg_flags: 0,
                };
                if path == SendPath::ZeroCopyFixed {
                    // The iovec points into the slot, inside the registered buffer: the
                    // kernel resolves it against the table entry instead of pinning.
                    sqe.prep_sendmsg_zc_fixed(fd, &parts.hdr, flags, e.buf_index);
                    sqe.ioprio |= usage.bits();
                } else if path.is_zero_copy() {
                    sqe.prep_sendmsg_zc(fd, &parts.hdr, flags);
                    sqe.ioprio = usage.bits();
                } else {
                    sqe.prep_sendmsg(fd, &parts.hdr, flags);
                }
            }
            (SendPath::ZeroCopyFixed, None) => {
                sqe.prep_send_zc_fixed(fd, data, flags, usage, e.buf_index);
            }
            (SendPath::ZeroCopy, None) => sqe.prep_send_zc(fd, data, flags, usage),
            (SendPath::Plain(_), None) => sqe.prep_send(fd, data, flags),
        }
        sqe.user_data = user_data;
        sqe.flags |= sys::IOSQE_FIXED_FILE;
        if link {
            sqe.flags |= sys::IOSQE_IO_LINK;
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
        if self.adaptive.learning(&self.config) {
            self.adaptive
                .learner
                .pushed(size_class(e.len), zc, end - start);
        }
        if zc {
            self.stats.zc_requests += 1;
            if path == SendPath::ZeroCopyFixed {
                self.stats.fixed_requests += 1;
            }
        }
        true
    }

    /// The kind of request the queued buffer in `slot` could be gathered into (zero-copy
    /// or not, and the registered buffer of a fixed one), deciding its path if it has
    /// none yet, with the buffer's length; `None` if it cannot be gathered (it had a
    /// request already, or goes zero-copy from a registered buffer where `sendmsg_zc`
    /// cannot name one).
    fn gather_kind(&mut self, slot: u16, ctx: Ctx) -> Option<((bool, Option<u16>), usize)> {
        let e = self.slots[usize::from(slot)].entry.as_mut()?;
        if !e.fresh() {
            return None;
        }
        let fallback = self.fallback.is_some();
        let path = entry_path(
            e,
            fallback,
            &self.config,
            &mut self.adaptive,
            &mut self.stats,
            ctx,
        );
        let fixed = match path {
            SendPath::ZeroCopyFixed if !ctx.msg_fixed => return None,
            SendPath::ZeroCopyFixed => Some(e.buf_index),
            _ => None,
        };
        Some(((path.is_zero_copy(), fixed), e.len))
    }

    /// How many of the first `n` queued buffers (at least one) go in a chain when the
    /// front of the queue cannot be gathered: those before the first two that could go in
    /// one gathered request together, or all `n` if no two can.
    fn chain_before_gatherable(&mut self, ctx: Ctx, n: u32) -> u32 {
        // In queue order: a path is decided in the order the buffers were queued.
        let mut prev: Option<((bool, Option<u16>), usize)> = None;
        for i in 1..n as usize {
            let this = self.gather_kind(self.queue[i], ctx);
            if let (true, Some((kind, len)), Some((prev_kind, prev_len))) = (i >= 2, this, prev) {
                if kind == prev_kind && stream_gather_fits(kind.0, prev_len.saturating_add(len)) {
                    return (i - 1) as u32;
                }
            }
            prev = this;
        }
        n
    }

    /// Byte streams ([`Config::coalesce`]): pushes the buffers at the front of the queue
    /// that are on their first request and take the same kind of path (plain; zero-copy
    /// from memory the kernel pins per request; or zero-copy from one registered buffer,
    /// the slots of one pool, where `sendmsg_zc` takes a registered buffer) as one vectored
    /// request, led by the first; false (nothing
    /// pushed, nothing changed but the paths chosen) when fewer than two would go. Called
    /// only with no request of this sender in flight.
    fn push_gathered(&mut self, ring: &mut IoUring, ctx: Ctx) -> bool {
        let limit = self.config.depth.min(linux_raw_sys::general::UIO_MAXIOV) as usize;
        if limit < 2 || self.queue.len() < 2 {
            return false;
        }
        let mut members = core::mem::take(&mut self.scratch);
        members.clear();
        // The kind of the request: plain, zero-copy, or zero-copy from the registered
        // buffer of that index (every iovec of a fixed sendmsg_zc lies in one buffer).
        let mut kind: Option<(bool, Option<u16>)> = None;
        let mut bytes = 0usize;
        for i in 0..self.queue.len().min(limit) {
            let slot = self.queue[i];
            let Some((this, len)) = self.gather_kind(slot, ctx) else {
                break;
            };
            if kind.is_some_and(|k| k != this)
                || !stream_gather_fits(this.0, bytes.saturating_add(len))
            {
                break;
            }
            kind = Some(this);
            bytes += len;
            members.push(slot);
            self.open_round(len, this.0);
        }
        let (zc, fixed) = kind.unwrap_or((false, None));
        if members.len() < 2 {
            self.scratch = members;
            return false;
        }
        self.learn_gathered(bytes);
        let g = self.gather.get_or_insert_with(|| GatherMsg::new(limit));
        // Within the capacity (at most `limit` members): the array does not move.
        g.fill(&self.slots, &members, false);
        let lead = members[0];
        let s = &mut self.slots[usize::from(lead)];
        let gen = next_gen(&self.strays, self.prefix, lead, s);
        let fd = self.file as i32;
        // SAFETY: the SQE, filled in full right below (before anything can submit it),
        // names the boxed msghdr and iovec array of this sender, which point at the data
        // of the members: memory owned by their entries, at addresses that do not move
        // (heap, 'static or pool mapping, see `ZcBuffer`), that nobody can write while the
        // sender owns the buffers. A fixed request names the registered buffer all its
        // iovecs lie in (the members are slots of one pool of this driver, registered as
        // that one buffer, whose table entry stays while a slot lives: the members keep it
        // alive). Every member is released only after the kernel's last
        // completion for this request (its first completion without F_MORE, or its
        // notification, which counts for every member), which only the kernel can deliver
        // (the driver reserved the user_data namespace); the buffers are `ManuallyDrop`
        // until then. The msghdr and array are rewritten only for the next gathered
        // request, which is prepared only once this one's first completion has been seen
        // (one request or chain of a stream in flight at a time), and leaked by `Drop`
        // while a request is in flight. The fd is the registered-file slot of this
        // sender's socket, which the driver replaces only after every request naming it
        // has completed. The user_data is in the reserved namespace, used by no other
        // request that may still complete.
        let Ok(sqe) = (unsafe { ring.get_sqe() }) else {
            self.scratch = members;
            return false;
        };
        prep_gathered(sqe, fd, &g.hdr, sys::SEND_WAITALL, zc, fixed);
        sqe.user_data = user_data_of(self.prefix, lead, gen);
        self.mark_gathered(&members, gen, zc, fixed.is_some());
        self.chain.extend_from_slice(&members);
        self.chain_pending = 1;
        self.scratch = members;
        true
    }

    /// Whether a gathered UDP request could start at the front of the queue: two
    /// datagrams are queued and two of the first one's size fit in one request (a run is
    /// of the first one's size). Looks at the length only, so that a datagram too large
    /// to share a request (65000 bytes, say) costs no more than this test.
    #[inline]
    fn gso_may_start(&self) -> bool {
        self.queue.len() >= 2
            && self
                .slots
                .get(usize::from(self.queue[0]))
                .and_then(|s| s.entry.as_ref())
                .is_some_and(|e| e.len.saturating_mul(2) <= GSO_MAX_BYTES)
    }

    /// UDP ([`Config::coalesce`]): pushes the datagrams at the front of the queue that are
    /// on their first request, take the same kind of path (as for a stream) and have one
    /// size, the last possibly shorter, as one `sendmsg` (`sendmsg_zc`) with a
    /// `UDP_SEGMENT` control message: the kernel cuts its bytes into datagrams of that
    /// size (UDP GSO, Linux 4.18), each the datagram it would have sent alone, and the
    /// stack's work per request (route, socket lock, one skb down to the device, one
    /// notification) is done once for all of them. At most [`GSO_MAX_SEGMENTS`] datagrams
    /// and [`GSO_MAX_BYTES`] bytes, and for zero-copy [`GSO_ZC_MAX_PAGES`] pages. False
    /// (nothing pushed, nothing changed but the paths chosen) when fewer than two would
    /// go.
    fn push_gso(&mut self, ring: &mut IoUring, ctx: Ctx) -> bool {
        debug_assert!(self.gso_may_start());
        let mut members = core::mem::take(&mut self.scratch);
        members.clear();
        let mut kind: Option<(bool, Option<u16>)> = None;
        let (mut size, mut bytes, mut pages) = (0usize, 0usize, 0usize);
        for i in 0..self.queue.len().min(GSO_MAX_SEGMENTS) {
            let slot = self.queue[i];
            let Some((this, len)) = self.gather_kind(slot, ctx) else {
                break;
            };
            if i == 0 {
                size = len;
            }
            // (Two of the first's size fit: `gso_may_start`.)
            let fits = bytes + len <= GSO_MAX_BYTES;
            if len == 0 || len > size || !fits || kind.is_some_and(|k| k != this) {
                break;
            }
            if this.0 {
                // Zero-copy: within the fragments of one skb.
                let here = self.slots[usize::from(slot)]
                    .entry
                    .as_ref()
                    .map_or(0, |e| pages_spanned(e.buf.as_slice()));
                if pages + here > GSO_ZC_MAX_PAGES {
                    break;
                }
                pages += here;
            }
            kind = Some(this);
            bytes += len;
            members.push(slot);
            if i == 0 || len != size {
                // (A member of the lead's size has its class and path: the round the
                // lead opened is already its own.)
                self.open_round(len, this.0);
            }
            if len < size {
                // Only the last segment may be shorter.
                break;
            }
        }
        let (zc, fixed) = kind.unwrap_or((false, None));
        if members.len() < 2 {
            self.scratch = members;
            return false;
        }
        self.learn_gathered(bytes);
        let lead = members[0];
        // Out of the slot while the iovecs are filled from the others (moving the box does
        // not move what it holds), and back right after.
        let mut g = self.slots[usize::from(lead)]
            .gso_msg
            .take()
            .unwrap_or_else(|| GatherMsg::new(GSO_MAX_SEGMENTS));
        // Within the capacity (at most GSO_MAX_SEGMENTS members): the array does not move.
        g.fill(&self.slots, &members, true);
        g.seg.size = size as u16;
        let s = &mut self.slots[usize::from(lead)];
        let gen = next_gen(&self.strays, self.prefix, lead, s);
        let fd = self.file as i32;
        // SAFETY: the SQE, filled in full right below (before anything can submit it),
        // names the boxed msghdr, iovec array and control message of the lead's slot,
        // which point at the data of the members: memory owned by their entries, at
        // addresses that do not move (heap, 'static or pool mapping, see `ZcBuffer`), that
        // nobody can write while the sender owns the buffers. A fixed request names the
        // registered buffer all its iovecs lie in (slots of one pool of this driver,
        // registered as that one buffer, whose table entry stays while a slot lives).
        // Every member is released only after the kernel's last completion for this
        // request (its first completion without F_MORE, or its notification, which counts
        // for every member), which only the kernel can deliver (the driver reserved the
        // user_data namespace); the buffers are `ManuallyDrop` until then. The box is
        // rewritten only for the next gathered request this slot leads, which is prepared
        // only after the lead is back (so after this request's first completion), and it
        // is leaked by `Drop` while the lead is in flight. The fd is the registered-file
        // slot of this sender's socket, which the driver replaces only after every
        // request naming it has completed. The user_data is in the reserved namespace,
        // used by no other request that may still complete.
        let Ok(sqe) = (unsafe { ring.get_sqe() }) else {
            s.gso_msg = Some(g);
            self.scratch = members;
            return false;
        };
        prep_gathered(sqe, fd, &g.hdr, sys::SendFlags::empty(), zc, fixed);
        sqe.user_data = user_data_of(self.prefix, lead, gen);
        s.gso_msg = Some(g);
        self.mark_gathered(&members, gen, zc, fixed.is_some());
        self.scratch = members;
        true
    }

    /// A buffer of `len` bytes joins a gathered run on the path `zc`: opens the learner's
    /// round (its bytes are counted by `learn_gathered` once the request goes), so that
    /// the policy keeps this path for the rest of the run, deciding once per round rather
    /// than once per buffer.
    #[inline]
    fn open_round(&mut self, len: usize, zc: bool) {
        if self.adaptive.learning(&self.config) {
            self.adaptive.learner.pushed(size_class(len), zc, 0);
        }
    }

    /// The learner's round gets the `bytes` of a gathered request: its round was opened
    /// member by member while the run was chosen (`open_round`, with each member's class
    /// and path), so that the policy kept one path for it; only the bytes are left.
    #[inline]
    fn learn_gathered(&mut self, bytes: usize) {
        if self.adaptive.learning(&self.config) {
            self.adaptive.learner.add_bytes(bytes);
        }
    }

    /// The gathered request of `members` (at the front of the queue, in order), led by the
    /// first with generation `gen`, was pushed: each member is in flight with it, the
    /// others riding, and it is counted.
    fn mark_gathered(&mut self, members: &[u16], gen: u16, zc: bool, fixed: bool) {
        let lead = &mut self.slots[usize::from(members[0])];
        lead.gen = gen;
        lead.riders.clear();
        lead.riders.extend_from_slice(&members[1..]);
        lead.riders_gen = gen;
        for (i, &slot) in members.iter().enumerate() {
            if let Some(e) = self.slots[usize::from(slot)].entry.as_mut() {
                e.state = State::InFlight;
                e.res = None;
                e.early_notif = None;
                if zc {
                    e.last_zc_res = i32::MAX;
                }
                if i == 0 {
                    e.gen_first = gen;
                    e.requests = 1;
                } else {
                    e.rode = true;
                }
            }
        }
        self.queue.drain(..members.len());
        self.inflight += 1;
        self.stats.requests += 1;
        self.stats.gathered += 1;
        self.stats.gathered_buffers += members.len() as u64;
        if zc {
            self.stats.zc_requests += 1;
            if fixed {
                self.stats.fixed_requests += 1;
            }
        }
    }

    /// The first completion (`res`, `more`) of the gathered request led by `lead`: the
    /// buffers that rode in it are done with the request too, and the bytes sent are
    /// shared out in stream order (each member's own result, as if it had been one
    /// request of a chain: after a short member, the rest sent nothing, like the members
    /// a broken link cancels).
    fn riders_completed(&mut self, lead: u16, res: i32, more: bool, zc: bool) {
        let mut riders = core::mem::take(&mut self.slots[usize::from(lead)].riders);
        let canceled = -Errno::CANCELED.raw_os_error();
        let mut left = usize::try_from(res).ok();
        let mut share = |e: &mut Entry| match left {
            Some(n) => {
                let want = e.len - e.sent.min(e.len);
                let got = n.min(want);
                left = (got == want).then_some(n - got);
                got as i32
            }
            None => canceled,
        };
        if res >= 0 {
            if let Some(e) = self.slots[usize::from(lead)].entry.as_mut() {
                let r = share(e);
                e.res = Some(r);
                if zc {
                    e.last_zc_res = r;
                }
            }
        }
        for &slot in &riders {
            if let Some(e) = self.slots[usize::from(slot)].entry.as_mut() {
                e.state = State::Idle;
                if more {
                    e.notifs_expected += 1;
                }
                let r = share(e);
                e.res = Some(r);
                if zc {
                    e.last_zc_res = r;
                }
            }
        }
        if !more {
            // No notification will come: nothing more to do for the riders.
            riders.clear();
        }
        self.slots[usize::from(lead)].riders = riders;
    }

    /// The notification (`res`: its usage bits) of the gathered request led by `lead`,
    /// already counted for the lead: counted for each buffer that rode in it, which goes
    /// back if that was all it waited for.
    fn riders_notified(&mut self, lead: u16, res: i32) {
        let mut riders = core::mem::take(&mut self.slots[usize::from(lead)].riders);
        let copied = res as u32 & sys::IORING_NOTIF_USAGE_ZC_COPIED != 0;
        for &slot in &riders {
            if let Some(e) = self.slots[usize::from(slot)].entry.as_mut() {
                e.notifs_seen += 1;
                if copied && e.last_zc_res > 0 {
                    e.copied = true;
                }
            }
            self.try_finalize(slot);
        }
        riders.clear();
        self.slots[usize::from(lead)].riders = riders;
    }

    // ---------------------------------------------------------------- completions

    /// Counts a notification owed to the entry in `slot` (`res`: its usage bits).
    fn count_notif(&mut self, slot: u16, res: i32) {
        let Some(e) = self.slots[usize::from(slot)].entry.as_mut() else {
            return;
        };
        if let Some(copied) = count_notif(e, &mut self.stats, res) {
            self.adaptive_feedback(copied);
        }
    }

    #[inline]
    fn adaptive_feedback(&mut self, copied: bool) {
        if self.config.policy != Policy::Adaptive {
            return;
        }
        let a = &mut self.adaptive;
        let base = self.config.adaptive_reprobe_every;
        if copied {
            a.copied_streak = a.copied_streak.saturating_add(1);
            if !a.copying && a.copied_streak >= self.config.adaptive_copied_limit {
                a.copying = true;
                a.since_probe = 0;
                a.probe_every = base;
                a.probes_out = 0;
                self.stats.adaptive_switches += 1;
            } else if a.copying && a.probes_out > 0 {
                // A probe found the kernel still copying: the next one waits twice as long.
                a.probes_out -= 1;
                let cap = base.saturating_mul(PROBE_BACKOFF_MAX);
                a.probe_every = a.probe_every.saturating_mul(2).min(cap);
            }
        } else {
            a.copied_streak = 0;
            if a.copying {
                a.copying = false;
                self.stats.adaptive_switches += 1;
            }
        }
    }

    /// The kernel would not pin this buffer's pages: it goes again with plain send.
    fn pin_refused(&mut self, slot: u16) {
        if let Some(e) = self.slots[usize::from(slot)].entry.as_mut() {
            e.path = Some(SendPath::Plain(PlainReason::PinLimit));
            self.stats.pin_refused += 1;
            self.stats.retries += 1;
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
        // Some member is not handed back yet: look at each again once the chain is
        // resolved.
        let mut left = false;
        // A member that failed when the kernel prepared it (a refused pin, say) fails the
        // whole chain at submission: the members before it complete with -ECANCELED too,
        // having sent nothing. A cancel is the stream's error only if no member of the
        // chain failed on its own (someone cancelled it: ASYNC_CANCEL, ring teardown).
        let own_failure = core::mem::take(&mut self.chain_failed);
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
                        e.outcome = Outcome::Sent;
                        self.stats.buffers_completed += 1;
                        // Done: nothing later in this chain changes that, so it goes back
                        // now (once the kernel is done with it), in stream order.
                        self.try_finalize(slot);
                        continue;
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
                ResKind::Canceled if broken || own_failure => requeue.push(slot),
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
                ResKind::PinRefused => {
                    broken = true;
                    self.pin_refused(slot);
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
            left = true;
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
        } else if self.closing {
            // A closing sender sends nothing more: what the chain put back comes back.
            self.begin_close();
        }
        if left {
            for &slot in &chain {
                self.try_finalize(slot);
            }
        }
        self.scratch = requeue;
        self.chain = chain;
        self.chain.clear();
    }

    /// The first completion (`res`) of a datagram's own request: sent (the common case,
    /// here), or an error ([`datagram_error`](Self::datagram_error)); then the buffer goes
    /// back if the kernel is done with it.
    #[inline]
    fn resolve_datagram(&mut self, slot: u16, res: i32) {
        let Some(e) = self.slots[usize::from(slot)].entry.as_mut() else {
            return;
        };
        if res >= 0 {
            let n = res as usize;
            e.sent = n.min(e.len);
            e.outcome = Outcome::Sent;
            self.stats.bytes_completed += n as u64;
            self.stats.buffers_completed += 1;
        } else {
            self.datagram_error(slot, res);
        }
        if self.closing {
            // A closing sender sends nothing more: a datagram put back comes back.
            self.begin_close();
        }
        self.try_finalize(slot);
    }

    /// What an error (`res` < 0) of a datagram's own request means for it: sent again
    /// (plain, or after a transient error, bounded) or failed.
    #[cold]
    #[inline(never)]
    fn datagram_error(&mut self, slot: u16, res: i32) {
        let Some(e) = self.slots[usize::from(slot)].entry.as_mut() else {
            return;
        };
        let was_zc = e.path.is_some_and(SendPath::is_zero_copy);
        match classify(res, was_zc) {
            // Only for res >= 0, which `resolve_datagram` records itself.
            ResKind::Sent(_) => {}
            ResKind::Unsupported => {
                self.fallback.get_or_insert(FallbackReason::Unsupported);
                self.stats.retries += 1;
                e.state = State::Queued;
                self.queue.push_front(slot);
            }
            ResKind::PinRefused => {
                e.state = State::Queued;
                self.pin_refused(slot);
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
    }

    /// The first completion (`res`) of a gathered UDP request, whose datagrams (lead first)
    /// are in `scratch`, with the bytes shared out by `riders_completed`. Sent in full:
    /// each datagram is sent. Otherwise each goes again on its own (never gathered again),
    /// for a result of its own: a datagram's error concerns that datagram only, and the
    /// kernel may report one for the request that no single datagram would have had
    /// (an ICMP error of an earlier datagram, or the segmentation refused, after which the
    /// sender stops gathering). Cancelled: each fails, as one would.
    fn resolve_gso(&mut self, res: i32) {
        let members = core::mem::take(&mut self.scratch);
        let zc = members
            .first()
            .and_then(|&s| self.slots[usize::from(s)].entry.as_ref())
            .is_some_and(|e| e.path.is_some_and(SendPath::is_zero_copy));
        /// What becomes of the datagrams of the request.
        #[derive(PartialEq)]
        enum Then {
            /// The request sent `res` bytes: each datagram its share; one whose share is
            /// short (UDP sends all or nothing: not expected) goes again on its own.
            Shared,
            /// Each failed here (cancelled).
            Failed,
            /// Each goes again on its own.
            Again,
            /// Each goes again on its own, plain: the kernel would not pin the pages.
            AgainPlain,
        }
        let then = if res >= 0 {
            Then::Shared
        } else {
            match classify(res, zc) {
                ResKind::Canceled => Then::Failed,
                ResKind::Unsupported => {
                    self.fallback.get_or_insert(FallbackReason::Unsupported);
                    Then::Again
                }
                ResKind::PinRefused => Then::AgainPlain,
                ResKind::Error(Errno::MSGSIZE | Errno::INVAL | Errno::IO) => {
                    self.gso = false;
                    self.stats.gso_refused += 1;
                    Then::Again
                }
                // (`Sent` is not an error: not reached.)
                ResKind::Transient(_) | ResKind::Error(_) | ResKind::Sent(_) => Then::Again,
            }
        };
        // In reverse, to the front of the queue: they go again in their order.
        for &slot in members.iter().rev() {
            let Some(e) = self.slots[usize::from(slot)].entry.as_mut() else {
                continue;
            };
            match then {
                Then::Failed => self.fail_datagram(slot, Errno::CANCELED),
                Then::Shared if e.res == Some(e.len as i32) => {
                    e.sent = e.len;
                    e.outcome = Outcome::Sent;
                    self.stats.bytes_completed += e.len as u64;
                    self.stats.buffers_completed += 1;
                }
                _ => {
                    e.state = State::Queued;
                    if then == Then::AgainPlain {
                        // Counts the retry too.
                        self.pin_refused(slot);
                    } else {
                        self.stats.retries += 1;
                    }
                    self.queue.push_front(slot);
                }
            }
        }
        if self.closing {
            // A closing sender sends nothing more: a datagram put back comes back.
            self.begin_close();
        }
        for &slot in &members {
            self.try_finalize(slot);
        }
        self.scratch = members;
    }

    /// A datagram's own error: it concerns that datagram only.
    fn fail_datagram(&mut self, slot: u16, errno: Errno) {
        if let Some(e) = self.slots[usize::from(slot)].entry.as_mut() {
            e.outcome = Outcome::Failed(errno);
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
                e.outcome = Outcome::Failed(errno);
                self.stats.errors += 1;
            }
            Some(cause) => {
                e.outcome = Outcome::NotSent(cause);
            }
        }
        self.stats.buffers_completed += 1;
    }

    /// After a stream error: nothing queued is sent; each buffer comes back `NotSent`.
    fn abandon_queue(&mut self) {
        if let Some(cause) = self.error {
            self.drain_queue(cause);
        }
    }

    /// The handle is gone: nothing queued will be sent. Queued buffers (never seen by the
    /// kernel, or between requests) come back `NotSent` into `done`, where the driver
    /// drops them with the state.
    pub(crate) fn begin_close(&mut self) {
        self.closing = true;
        self.drain_queue(self.error.unwrap_or(Errno::CANCELED));
    }

    /// Every queued buffer comes back `NotSent` because of `cause`.
    fn drain_queue(&mut self, cause: Errno) {
        while let Some(slot) = self.queue.pop_front() {
            if let Some(e) = self.slots[usize::from(slot)].entry.as_mut() {
                e.state = State::Idle;
                e.outcome = Outcome::NotSent(cause);
                self.stats.buffers_completed += 1;
            }
            self.try_finalize(slot);
        }
    }

    /// Hands the buffer back if its outcome is decided and the kernel is done with it.
    #[inline(always)]
    fn try_finalize(&mut self, slot: u16) {
        let s = &mut self.slots[usize::from(slot)];
        // Read in place: the entry is not moved out of its slot.
        let Some(e) = s.entry.as_mut() else {
            return;
        };
        let ready = e.outcome != Outcome::Pending
            && e.state == State::Idle
            && e.notifs_seen >= e.notifs_expected;
        if !ready {
            return;
        }
        // SAFETY: taken exactly once, here: the entry is removed from its slot right
        // below, and its buffer is `ManuallyDrop` (dropping the entry does not touch it).
        // The kernel's last completion for it has been seen (state Idle, every owed
        // notification counted).
        let buffer = unsafe { ManuallyDrop::take(&mut e.buf) };
        // The path of the last request sent; none if none was (a path may be decided
        // before the request it was decided for: a preset part, or a buffer a gathered
        // request stopped at, which the stream's failure then kept from going).
        let sent_any = e.requests > 0 || e.rode;
        let path = e.path.filter(|_| sent_any);
        let (len, outcome, copied, seq) = (e.len, e.outcome, e.copied, e.seq);
        let result = outcome.result(e.sent);
        // The msghdr box, if any, is freed here (the kernel no longer holds the entry).
        let dest = e.msg.take().map(|m| m.dest);
        // Nothing of the entry is left to drop (its buffer is taken, its box freed, the
        // rest is plain data), and its `Drop`, which only keeps a box the kernel may
        // still read, has nothing to do: forgotten rather than dropped in place.
        core::mem::forget(s.entry.take());
        s.gen = s.gen.wrapping_add(1);
        self.free.push(slot);
        self.owned_bytes -= len;
        self.owned_buffers -= 1;
        let st = &mut self.stats;
        st.buffers_returned += 1;
        st.bytes_returned += len as u64;
        match (outcome, path) {
            (Outcome::NotSent(_), _) => st.not_sent += 1,
            (_, Some(SendPath::ZeroCopy | SendPath::ZeroCopyFixed)) => st.zero_copy += 1,
            (_, Some(SendPath::Plain(PlainReason::Fallback))) => st.fallback += 1,
            (_, Some(SendPath::Plain(PlainReason::Policy))) => st.plain_policy += 1,
            (_, Some(SendPath::Plain(PlainReason::BelowThreshold))) => st.plain_small += 1,
            (_, Some(SendPath::Plain(PlainReason::KernelCopies))) => st.plain_kernel_copies += 1,
            (_, Some(SendPath::Plain(PlainReason::PinLimit))) => st.plain_pin_limit += 1,
            (_, Some(SendPath::Plain(PlainReason::Measured))) => st.plain_measured += 1,
            (_, Some(SendPath::Plain(PlainReason::SmallPart))) => st.plain_small_part += 1,
            (_, None) => {}
        }
        self.done.push_back(Completion {
            buffer,
            result,
            copied,
            path,
            dest,
            seq,
        });
    }

    /// The counters, with the ones kept elsewhere (what is owned now) filled in.
    pub(crate) fn stats(&self) -> ZcStats {
        let mut st = self.stats;
        st.bytes_in_flight = self.owned_bytes as u64;
        st.buffers_in_flight = u64::from(self.owned_buffers);
        st
    }

    /// What [`Policy::Adaptive`] decided for each size class that had a buffer: the path
    /// the next buffer of the class's largest size would take (outside a probe), and the
    /// learner's estimates. Empty under the other policies.
    pub(crate) fn adaptive_classes(&self) -> Vec<AdaptiveClass> {
        if self.config.policy != Policy::Adaptive {
            return Vec::new();
        }
        let l = &self.adaptive.learner;
        (0..SIZE_CLASSES)
            .filter(|&c| l.seen & (1 << c) != 0)
            .map(|c| {
                let (min_len, max_len) = class_range(c);
                let measured = self.fallback.is_none()
                    && max_len >= self.config.adaptive_min_size
                    && !self.adaptive.copying;
                let path = if self.fallback.is_some() {
                    SendPath::Plain(PlainReason::Fallback)
                } else if max_len < self.config.adaptive_min_size {
                    SendPath::Plain(PlainReason::BelowThreshold)
                } else if self.adaptive.copying {
                    SendPath::Plain(PlainReason::KernelCopies)
                } else if l.prefer[c] == Some(false) {
                    SendPath::Plain(PlainReason::Measured)
                } else {
                    SendPath::ZeroCopy
                };
                AdaptiveClass {
                    min_len,
                    max_len,
                    path,
                    learning: measured && l.prefer[c].is_none(),
                    zero_copy_ns_per_byte: l.zc[c].ns_per_byte,
                    zero_copy_samples: l.zc[c].samples,
                    plain_ns_per_byte: l.plain[c].ns_per_byte,
                    plain_samples: l.plain[c].samples,
                }
            })
            .collect()
    }

    /// Buffers the kernel may still read (a request in flight, or a notification owed).
    pub(crate) fn kernel_held(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.entry.as_ref().is_some_and(Entry::kernel_holds))
            .count()
    }
}

/// Prepares `sqe` as the gathered request of `hdr` on the registered file `fd`: `sendmsg`,
/// or `sendmsg_zc` (from the registered buffer `fixed`, if any) reporting its usage.
fn prep_gathered(
    sqe: &mut crate::sqe::Sqe,
    fd: i32,
    hdr: &msghdr,
    flags: sys::SendFlags,
    zc: bool,
    fixed: Option<u16>,
) {
    if let Some(index) = fixed {
        sqe.prep_sendmsg_zc_fixed(fd, hdr, flags, index);
        sqe.ioprio |= sys::IoringSendFlags::ZC_REPORT_USAGE.bits();
    } else if zc {
        sqe.prep_sendmsg_zc(fd, hdr, flags);
        sqe.ioprio = sys::IoringSendFlags::ZC_REPORT_USAGE.bits();
    } else {
        sqe.prep_sendmsg(fd, hdr, flags);
    }
    sqe.flags |= sys::IOSQE_FIXED_FILE;
}

/// The user_data of the request of generation `gen` of slot `slot` of the sender with
/// `prefix`.
#[inline(always)]
fn user_data_of(prefix: u64, slot: u16, gen: u16) -> u64 {
    prefix | (u64::from(gen) << 16) | u64::from(slot)
}

/// The generation of the next request of slot `slot` (`s`). Every request gets a user_data
/// of its own, so a late notification of an earlier request can never be taken for this
/// one's: those of requests that may still notify (`strays`), and that of a gathered
/// request this slot led whose notification is still owed to its riders, are skipped
/// (bounded: each step passes one of them).
#[inline(always)]
fn next_gen(strays: &HashSet<u64>, prefix: u64, slot: u16, s: &Slot) -> u16 {
    let mut gen = s.gen.wrapping_add(1);
    if !strays.is_empty() || !s.riders.is_empty() {
        while strays.contains(&user_data_of(prefix, slot, gen))
            || (!s.riders.is_empty() && gen == s.riders_gen)
        {
            gen = gen.wrapping_add(1);
        }
    }
    gen
}

/// Counts a notification owed to `e` (`res`: its usage bits); returns what it says for
/// the adaptive policy: whether the kernel copied, or nothing (it sent nothing).
#[inline(always)]
fn count_notif(e: &mut Entry, stats: &mut ZcStats, res: i32) -> Option<bool> {
    e.notifs_seen += 1;
    stats.notifications += 1;
    // ZC_COPIED is also set when nothing was sent; only count sends that sent bytes.
    let copied = res as u32 & sys::IORING_NOTIF_USAGE_ZC_COPIED != 0;
    if !copied {
        return Some(false);
    }
    if e.last_zc_res > 0 {
        e.copied = true;
        stats.copied += 1;
        Some(true)
    } else {
        None
    }
}

/// The path of the next request of `e`: plain if the sender fell back, else the path its
/// first request took, else the policy's choice, made now and kept.
#[inline(always)]
fn entry_path(
    e: &mut Entry,
    fallback: bool,
    config: &Config,
    adaptive: &mut Adaptive,
    stats: &mut ZcStats,
    ctx: Ctx,
) -> SendPath {
    if fallback {
        e.path = Some(SendPath::Plain(PlainReason::Fallback));
    } else if e.path.is_none() {
        // A slot goes fixed into its own driver's table only, and to an address only where
        // sendmsg_zc takes a registered buffer.
        let table = if e.msg.is_none() || ctx.msg_fixed {
            e.buf.slot().filter(|s| s.registered_for(ctx.ring_id))
        } else {
            None
        };
        if let Some(s) = table {
            e.buf_index = s.buf_index();
        }
        e.path = Some(choose_path(config, adaptive, stats, e.len, table.is_some()));
    }
    e.path.unwrap_or(SendPath::Plain(PlainReason::Fallback))
}

/// The path for a buffer's first request, by the policy (the sender's fallback is
/// applied by the caller). Inline: on every buffer's path, with the adaptive policy's
/// common case (a buffer of the learner's open round); its other choices are out of line.
#[inline(always)]
fn choose_path(
    config: &Config,
    adaptive: &mut Adaptive,
    stats: &mut ZcStats,
    len: usize,
    fixed: bool,
) -> SendPath {
    let zc = if fixed {
        SendPath::ZeroCopyFixed
    } else {
        SendPath::ZeroCopy
    };
    match config.policy {
        Policy::Always => zc,
        Policy::Never => SendPath::Plain(PlainReason::Policy),
        Policy::Adaptive if len < config.adaptive_min_size => {
            SendPath::Plain(PlainReason::BelowThreshold)
        }
        Policy::Adaptive if adaptive.copying => choose_while_copying(adaptive, stats, len, zc),
        Policy::Adaptive => {
            // A buffer of the class of the learner's open round (a run being gathered, a
            // window of one size) takes that round's path.
            let class = size_class(len);
            match adaptive.learner.round_choice(class) {
                Some((round_zc, probe)) => {
                    stats.adaptive_probes += u64::from(probe);
                    measured_path(round_zc, zc)
                }
                None => choose_measured(config, adaptive, stats, class, zc),
            }
        }
    }
}

/// The path the adaptive policy measured cheaper: `zc` (the zero-copy path the buffer
/// would take) or plain.
#[inline(always)]
fn measured_path(zero_copy: bool, zc: SendPath) -> SendPath {
    if zero_copy {
        zc
    } else {
        SendPath::Plain(PlainReason::Measured)
    }
}

/// [`choose_path`] under [`Policy::Adaptive`] while the kernel copies on this socket:
/// plain, but for a probe (`zc`) every `probe_every` buffers.
#[inline(never)]
fn choose_while_copying(
    adaptive: &mut Adaptive,
    stats: &mut ZcStats,
    len: usize,
    zc: SendPath,
) -> SendPath {
    adaptive.learner.saw(size_class(len));
    adaptive.since_probe += 1;
    if adaptive.since_probe >= adaptive.probe_every {
        adaptive.since_probe = 0;
        adaptive.probes_out = adaptive.probes_out.saturating_add(1);
        stats.adaptive_probes += 1;
        zc
    } else {
        SendPath::Plain(PlainReason::KernelCopies)
    }
}

/// [`choose_path`] under [`Policy::Adaptive`] where the kernel does not copy, for a
/// buffer of size class `class` outside the learner's open round: zero-copy where it
/// measured cheaper, as the learner decides.
#[inline(never)]
fn choose_measured(
    config: &Config,
    adaptive: &mut Adaptive,
    stats: &mut ZcStats,
    class: usize,
    zc: SendPath,
) -> SendPath {
    let choice = adaptive
        .learner
        .choose(class, config.adaptive_reprobe_every);
    stats.adaptive_probes += u64::from(choice.probe);
    stats.adaptive_switches += u64::from(choice.switched);
    measured_path(choice.zc, zc)
}

impl Drop for SenderState {
    fn drop(&mut self) {
        // The msghdr of a gathered request the kernel may still process must outlive it.
        if self.inflight > 0 {
            if let Some(g) = self.gather.take() {
                core::mem::forget(g);
            }
        }
        // Entries the kernel may still read are leaked (their buffers are ManuallyDrop and
        // stay so); the others are freed. A buffer's destructor may panic (a
        // `Bytes::from_owner` owner, say): the held ones are never touched by drop glue,
        // so even an unwinding panic here cannot free memory the kernel reads.
        for slot in &mut self.slots {
            // Likewise the msghdr of a gathered UDP request this slot's buffer leads.
            if slot
                .entry
                .as_ref()
                .is_some_and(|e| e.state == State::InFlight)
            {
                if let Some(g) = slot.gso_msg.take() {
                    core::mem::forget(g);
                }
            }
            if let Some(mut e) = slot.entry.take() {
                if !e.kernel_holds() {
                    // SAFETY: the kernel no longer reads this entry's memory (no request
                    // in flight, every owed notification seen); the entry is dropped right
                    // after and its buffer is not touched again.
                    unsafe { ManuallyDrop::drop(&mut e.buf) };
                }
                // A held entry leaks its buffer (ManuallyDrop) and its msghdr box
                // (`Drop for Entry`).
            }
        }
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
