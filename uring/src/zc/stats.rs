//! [`ZcStats`]: what a sender did, counted.

/// Counters of a [`ZcSender`](super::ZcSender), from its creation on
/// ([`stats`](super::ZcSender::stats)).
///
/// Buffer counts classify each returned buffer once, by how its last send request went:
/// `zero_copy` + `plain_policy` + `plain_small` + `plain_kernel_copies` +
/// `plain_measured` + `plain_small_part` + `plain_pin_limit` + `fallback` + `not_sent` + (empty buffers on a
/// stream, which need no request) = `buffers_returned`.
/// A buffer that failed is also counted in `errors`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ZcStats {
    /// Buffers handed to the sender (accepted by `send`/`try_send`/`send_to`).
    pub buffers_submitted: u64,
    /// Bytes of those buffers.
    pub bytes_submitted: u64,
    /// Buffers whose sending is decided: all bytes sent, or failed, or not sent.
    pub buffers_completed: u64,
    /// Bytes the kernel reported sent.
    pub bytes_completed: u64,
    /// Buffers handed back (after their notifications).
    pub buffers_returned: u64,
    /// Bytes of the buffers handed back.
    pub bytes_returned: u64,
    /// Send requests submitted (a buffer whose send was short takes more than one).
    pub requests: u64,
    /// Of those, zero-copy requests (`send_zc`, `send_zc_fixed`, `sendmsg_zc`).
    pub zc_requests: u64,
    /// Of those, zero-copy requests from a registered pool slot (`send_zc_fixed`).
    pub fixed_requests: u64,
    /// Notification completions (`IORING_CQE_F_NOTIF`) received.
    pub notifications: u64,
    /// Stray notifications consumed: a notification for a zero-copy request whose first
    /// completion had no `IORING_CQE_F_MORE` (one cancelled by its broken `IOSQE_IO_LINK`
    /// chain, say), which Linux 6.18 posts anyway, sometimes well after. They never count
    /// for any buffer (the request's buffer may be back already) and are never handed
    /// back as foreign completions. Not in `notifications`.
    pub stray_notifications: u64,
    /// Notifications reporting that the kernel copied the data anyway
    /// (`IORING_NOTIF_USAGE_ZC_COPIED`).
    pub copied: u64,
    /// Buffers returned whose last request went zero-copy.
    pub zero_copy: u64,
    /// Buffers returned that went with plain send because zero-copy is unavailable: forced
    /// by the config, missing from the kernel's probe, or refused by the socket
    /// (EOPNOTSUPP).
    pub fallback: u64,
    /// Buffers returned that went plain because the policy is [`Policy::Never`](super::Policy).
    pub plain_policy: u64,
    /// Buffers returned that went plain because they were below the adaptive threshold.
    pub plain_small: u64,
    /// Buffers returned that went plain because the kernel was copying zero-copy sends.
    pub plain_kernel_copies: u64,
    /// Buffers returned that went plain because the kernel refused to pin them for
    /// zero-copy (the locked-memory limit; see [`PlainReason::PinLimit`](super::PlainReason)).
    pub plain_pin_limit: u64,
    /// Buffers returned that went plain because, for their size class on this socket,
    /// plain send measured cheaper, or was being measured
    /// ([`PlainReason::Measured`](super::PlainReason)).
    pub plain_measured: u64,
    /// Buffers returned that went plain as the small parts of a vectored send
    /// ([`PlainReason::SmallPart`](super::PlainReason)).
    pub plain_small_part: u64,
    /// Vectored sends accepted ([`ZcSender::send_vectored`](super::ZcSender::send_vectored)),
    /// each counted once whatever its number of parts (which are counted as buffers).
    pub vectored_sends: u64,
    /// Zero-copy requests the kernel refused to pin (`ENOMEM`/`ENOBUFS`), each resent
    /// plain (also counted in `retries`).
    pub pin_refused: u64,
    /// Adaptive: buffers sent on the path not preferred, to measure it again: zero-copy
    /// sends while the kernel copies (does it still?), and the rounds of a size class
    /// sent on the path that measured slower.
    pub adaptive_probes: u64,
    /// Adaptive: switches between zero-copy and plain send (of the whole sender when the
    /// kernel starts or stops copying; of one size class when the other path measures
    /// cheaper).
    pub adaptive_switches: u64,
    /// Short sends continued with the remainder before any later buffer.
    pub continuations: u64,
    /// Requests retried after a transient error (EAGAIN, EINTR, ENOBUFS) or after
    /// EOPNOTSUPP switched the sender to plain send.
    pub retries: u64,
    /// Buffers that came back with an error of their own.
    pub errors: u64,
    /// Buffers that came back unsent because an earlier buffer of the stream failed.
    pub not_sent: u64,
    /// Non-blocking calls that gave the buffer back because the budget was full.
    pub would_block: u64,
    /// `IOSQE_IO_LINK` chains submitted on a stream socket.
    pub chains: u64,
    /// Requests that carried several buffers at once
    /// ([`Config::coalesce`](super::Config::coalesce)): of a byte stream, or datagrams of
    /// a UDP socket (UDP GSO); also counted in `requests`.
    pub gathered: u64,
    /// Buffers sent in those requests.
    pub gathered_buffers: u64,
    /// Gathered UDP requests the kernel refused for the segmentation itself (`EMSGSIZE`: a
    /// datagram larger than the path's MTU; `EINVAL`, `EIO`: the socket or route cannot
    /// segment). Their datagrams went again one by one, and the sender stopped gathering
    /// (at most 1).
    pub gso_refused: u64,
    /// Bytes the sender owns right now (queued, in flight or awaiting notification).
    pub bytes_in_flight: u64,
    /// The most bytes it ever owned at once; never more than the budget.
    pub peak_bytes_in_flight: u64,
    /// Buffers it owns right now.
    pub buffers_in_flight: u64,
    /// The most buffers it ever owned at once.
    pub peak_buffers_in_flight: u64,
}
