//! [`ZcSender`]: a handle to one sender of a [`Driver`]; owns buffers until the kernel
//! lets go of them.

use core::fmt;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::SocketType;

use super::buffer::ZcBuffer;
use super::config::Config;
use super::driver::Driver;
use super::shared::DriverShared;
use super::state::SenderState;
use super::stats::ZcStats;
use super::types::{
    AdaptiveClass, Completion, FallbackReason, SendError, SendErrorKind, VectoredSendError, ZcError,
};

/// A safe zero-copy sender over one socket, a handle into its [`Driver`].
///
/// It takes ownership of each buffer ([`send`](Self::send)), sends it with `send_zc`,
/// `send_zc_fixed` (pool slots), `sendmsg_zc` (datagrams to an address), or plain `send`
/// (see [`Policy`](super::Policy)), and gives it back in a [`Completion`] only after the
/// kernel's last completion for it: the notification of a zero-copy send, or a first
/// completion without `IORING_CQE_F_MORE`. Only the driver can deliver those (see
/// [`Driver`]), so no safe code can make the sender hand a buffer back early.
///
/// The sender's state lives in the driver; every call takes the driver. Dropping the
/// handle closes the sender: nothing queued is sent, and the driver keeps the buffers and
/// the socket the kernel still uses until it is done with them, then frees them. See the
/// [module documentation](super) for the design.
///
/// # Example
///
/// A stream to a local receiver, reusing each buffer as it comes back:
///
/// ```
/// use std::io::Read;
/// use std::net::{TcpListener, TcpStream};
/// use std::time::Duration;
/// use uring::zc::{Config, Policy, ZcSender};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let config = Config::default().policy(Policy::Always);
/// let mut driver = config.driver()?;
/// let stream = TcpStream::connect(listener.local_addr()?)?;
/// let sender = ZcSender::new(&mut driver, stream, config)?;
/// let (mut peer, _) = listener.accept()?;
/// let reader = std::thread::spawn(move || {
///     let mut got = Vec::new();
///     peer.read_to_end(&mut got).map(|_| got)
/// });
///
/// let mut free: Vec<Vec<u8>> = (0..4).map(|_| vec![0u8; 64 * 1024]).collect();
/// for round in 0..16u8 {
///     let mut buffer = match free.pop() {
///         Some(b) => b,
///         // All four are with the kernel: wait for one to come back.
///         None => loop {
///             if let Some(done) = sender.next_completion(&mut driver)? {
///                 done.result?;
///                 break done.buffer.into_vec().expect("a Vec comes back a Vec");
///             }
///             sender.wait(&mut driver)?;
///         },
///     };
///     buffer.fill(round);
///     sender.send(&mut driver, buffer)?;
/// }
/// let closed = sender.close(&mut driver, Duration::from_secs(10));
/// assert!(closed.error.is_none() && closed.pending == 0);
/// drop(closed.socket);
/// let got = reader.join().unwrap()?;
/// assert_eq!(got.len(), 16 * 64 * 1024);
/// assert!(got.chunks(64 * 1024).enumerate().all(|(i, c)| c.iter().all(|&b| b == i as u8)));
/// # Ok(()) }
/// ```
pub struct ZcSender {
    index: u16,
    gen: u8,
    ring_id: u64,
    stream: bool,
    shared: Arc<DriverShared>,
    /// Cleared by [`close`](Self::close), which tells the driver itself.
    armed: bool,
}

impl fmt::Debug for ZcSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZcSender")
            .field("index", &self.index)
            .field("gen", &self.gen)
            .field("ring_id", &self.ring_id)
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl ZcSender {
    /// A sender over `socket` (a connected TCP stream, a UDP socket connected or not, a
    /// Unix socket, …: anything that converts into an `OwnedFd`), in `driver`. Reads the
    /// socket type (SO_TYPE), registers the socket in the driver's file table (requests
    /// name the table slot, never the fd number), and resolves the config against the
    /// kernel's probe and the locked-memory limit (an automatic budget, see
    /// [`Config::budget_bytes`]). A socket in non-blocking mode (from tokio, mio, …) is
    /// set to blocking mode: io_uring would answer `EAGAIN` instead of waiting for room,
    /// and never blocks the caller anyway. The socket is closed when the sender is closed
    /// and the kernel is done with every request naming it.
    pub fn new(
        driver: &mut Driver,
        socket: impl Into<OwnedFd>,
        config: Config,
    ) -> Result<ZcSender, ZcError> {
        config.validate().map_err(ZcError::InvalidConfig)?;
        let socket: OwnedFd = socket.into();
        let ty = rustix::net::sockopt::socket_type(&socket).map_err(ZcError::NotASocket)?;
        // io_uring answers EAGAIN to the caller, instead of waiting for room, on a file
        // with O_NONBLOCK (a socket from tokio or mio has it): the sender owns the socket
        // now, and io_uring never blocks the submitter anyway, so clear it.
        let fl = rustix::fs::fcntl_getfl(&socket).map_err(ZcError::NotASocket)?;
        if fl.contains(rustix::fs::OFlags::NONBLOCK) {
            rustix::fs::fcntl_setfl(&socket, fl - rustix::fs::OFlags::NONBLOCK)
                .map_err(ZcError::NotASocket)?;
        }
        let bytestream = ty == SocketType::STREAM;
        let stream = bytestream || ty == SocketType::SEQPACKET;
        let fallback = if config.force_fallback {
            Some(FallbackReason::Forced)
        } else if !driver.probe(stream) {
            Some(FallbackReason::NotInProbe)
        } else {
            None
        };
        // UDP over IP: gathered datagrams go as one UDP GSO request. Only there: another
        // datagram socket (AF_UNIX, UDP-Lite, ...) would take the iovecs for one datagram.
        let gso = config.coalesce && ty == SocketType::DGRAM && is_udp(&socket);
        let config = config.resolve(driver.memlock(), driver.pinned_bytes());
        let (index, gen) = driver.add_sender(socket, |prefix, socket, file| {
            let mut state =
                SenderState::new(prefix, socket, file, stream, bytestream, config, fallback);
            state.gso = gso;
            state
        })?;
        Ok(ZcSender {
            index,
            gen,
            ring_id: driver.id(),
            stream,
            shared: Arc::clone(&driver.shared),
            armed: true,
        })
    }

    fn state<'d>(&self, driver: &'d Driver) -> Result<&'d SenderState, ZcError> {
        if driver.id() != self.ring_id {
            return Err(ZcError::WrongDriver);
        }
        driver
            .state(self.index, self.gen)
            .ok_or(ZcError::WrongDriver)
    }

    fn state_mut<'d>(&self, driver: &'d mut Driver) -> Result<&'d mut SenderState, ZcError> {
        if driver.id() != self.ring_id {
            return Err(ZcError::WrongDriver);
        }
        driver
            .state_mut(self.index, self.gen)
            .ok_or(ZcError::WrongDriver)
    }

    /// The state, if the sender may take buffers now: its own driver's, not closing, with
    /// no error of the ring still to report (taken here: it is reported once), and its
    /// stream not failed.
    fn open_state<'d>(&self, driver: &'d mut Driver) -> Result<&'d mut SenderState, ZcError> {
        let s = self.state_mut(driver)?;
        if let Some(e) = s.deferred.take() {
            return Err(e);
        }
        if let Some(e) = s.error {
            return Err(ZcError::Broken(e));
        }
        Ok(s)
    }

    // ---------------------------------------------------------------- accessors

    /// The counters.
    pub fn stats(&self, driver: &Driver) -> Result<ZcStats, ZcError> {
        Ok(self.state(driver)?.stats())
    }

    /// What [`Policy::Adaptive`](super::Policy::Adaptive) decided, per size class of the
    /// buffers this sender had (powers of two): the path each class takes and, where the
    /// kernel does not copy, the cost of each path it measured
    /// ([`AdaptiveClass`](super::AdaptiveClass)). Empty under the other policies.
    pub fn adaptive_classes(&self, driver: &Driver) -> Result<Vec<AdaptiveClass>, ZcError> {
        Ok(self.state(driver)?.adaptive_classes())
    }

    /// The configuration, as resolved at creation (the automatic budget made concrete).
    pub fn config<'d>(&self, driver: &'d Driver) -> Result<&'d Config, ZcError> {
        Ok(&self.state(driver)?.config)
    }

    /// The error that ended the stream, if one did. It is reported once, on the buffer
    /// whose send failed ([`BufferError::Failed`](super::BufferError::Failed)); later
    /// buffers come back as [`NotSent`](super::BufferError::NotSent), and new ones are
    /// refused with [`ZcError::Broken`].
    pub fn error(&self, driver: &Driver) -> Result<Option<Errno>, ZcError> {
        Ok(self.state(driver)?.error)
    }

    /// Why the sender sends with plain send, if it does (forced, probe, EOPNOTSUPP).
    pub fn fallback(&self, driver: &Driver) -> Result<Option<FallbackReason>, ZcError> {
        Ok(self.state(driver)?.fallback)
    }

    /// Whether the socket is ordered (SOCK_STREAM or SOCK_SEQPACKET): sends are ordered
    /// (gathered into one request, or in `IOSQE_IO_LINK` chains) and continued when short.
    pub fn is_stream(&self) -> bool {
        self.stream
    }

    /// The socket, borrowed (for `getsockopt`, `shutdown`, …). Closing it (through a
    /// duplicate) does not affect the sender's requests: they name its registered-file
    /// slot.
    pub fn socket<'d>(&self, driver: &'d Driver) -> Result<BorrowedFd<'d>, ZcError> {
        if driver.id() != self.ring_id {
            return Err(ZcError::WrongDriver);
        }
        driver
            .socket_of(self.index, self.gen)
            .ok_or(ZcError::WrongDriver)
    }

    /// Bytes the sender owns now (queued, in flight, or awaiting notification).
    pub fn bytes_in_flight(&self, driver: &Driver) -> Result<usize, ZcError> {
        Ok(self.state(driver)?.owned_bytes)
    }

    /// Buffers the sender owns now.
    pub fn buffers_in_flight(&self, driver: &Driver) -> Result<usize, ZcError> {
        Ok(self.state(driver)?.owned_buffers as usize)
    }

    /// Whether a buffer of `len` bytes would be accepted now without waiting.
    pub fn has_room(&self, driver: &Driver, len: usize) -> Result<bool, ZcError> {
        Ok(self.state(driver)?.has_room(len))
    }

    // ---------------------------------------------------------------- sending

    /// Hands `buffer` to the sender, blocking while the budget is full: it drives the
    /// ring (submits, waits for completions, reaps them) until there is room, at most
    /// [`Config::wait_timeout`]. On success the buffer is queued and, if the socket is
    /// idle, submitted; it comes back later through [`completions`](Self::completions).
    /// On error it comes back at once in [`SendError::buffer`].
    pub fn send(&self, driver: &mut Driver, buffer: impl Into<ZcBuffer>) -> Result<(), SendError> {
        self.send_inner(driver, buffer.into(), None, true, true)
    }

    /// Like [`send`](Self::send), but does not submit: the buffer is queued, and goes out
    /// with the next [`flush`](Self::flush) (or [`Driver::flush`], [`Driver::poll`], any
    /// wait, or a later `send`), together with whatever else every sender of the driver
    /// queued meanwhile — one `io_uring_enter` and, on a stream, one `IOSQE_IO_LINK` chain
    /// of up to [`Config::depth`] buffers, where `send` would make one of each per buffer
    /// when the socket keeps up. Waits, like `send`, only when the budget is full (and
    /// then submits what is queued, so that the wait can end).
    ///
    /// The rule: `send` never adds latency (a buffer goes to the kernel before it
    /// returns); `queue` trades it for fewer system calls, until you flush. Do not leave
    /// queued buffers unflushed while you wait for something they are needed for.
    pub fn queue(&self, driver: &mut Driver, buffer: impl Into<ZcBuffer>) -> Result<(), SendError> {
        self.send_inner(driver, buffer.into(), None, true, false)
    }

    /// The non-blocking [`queue`](Self::queue): [`SendErrorKind::WouldBlock`] when the
    /// budget is full (flush, reap completions, then try again).
    pub fn try_queue(
        &self,
        driver: &mut Driver,
        buffer: impl Into<ZcBuffer>,
    ) -> Result<(), SendError> {
        self.send_inner(driver, buffer.into(), None, false, false)
    }

    /// [`try_queue`](Self::try_queue) of a run of buffers: takes from the front of
    /// `buffers`, in order, as many as the budget has room for now, and queues them (not
    /// submitted: [`flush`](Self::flush)), with one look-up of the sender and one set of
    /// checks for the whole run instead of one per buffer. Returns how many it took; the
    /// rest stay in `buffers`, untouched. Never waits: when not even the first fits, it
    /// reaps what is ready once and, if there is still no room,
    /// [`SendErrorKind::WouldBlock`]. A first buffer larger than the whole budget is
    /// [`SendErrorKind::TooLarge`] (a later one ends the run before it, for the next call
    /// to report); a failed, closed or foreign sender is [`SendErrorKind::Sender`]. On
    /// every error nothing is taken. An empty `buffers` is `Ok(0)`.
    ///
    /// ```
    /// use std::net::UdpSocket;
    /// use uring::zc::{Config, ZcBuffer, ZcSender};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let rx = UdpSocket::bind("127.0.0.1:0")?;
    /// let tx = UdpSocket::bind("127.0.0.1:0")?;
    /// tx.connect(rx.local_addr()?)?;
    /// let config = Config::default().max_buffers(4);
    /// let mut driver = config.driver()?;
    /// let sender = ZcSender::new(&mut driver, tx, config)?;
    /// let mut window: Vec<ZcBuffer> = (0..6u8).map(|i| vec![i; 512].into()).collect();
    /// // Four fit the budget; two stay with the caller.
    /// assert_eq!(sender.queue_from(&mut driver, &mut window)?, 4);
    /// assert_eq!(window.len(), 2);
    /// sender.flush(&mut driver)?;
    /// sender.wait_all(&mut driver, std::time::Duration::from_secs(10))?;
    /// assert_eq!(sender.completions(&mut driver)?.filter(|c| c.is_ok()).count(), 4);
    /// # Ok(()) }
    /// ```
    pub fn queue_from(
        &self,
        driver: &mut Driver,
        buffers: &mut Vec<ZcBuffer>,
    ) -> Result<usize, SendErrorKind> {
        if buffers.is_empty() {
            return Ok(0);
        }
        driver.enter_call().map_err(SendErrorKind::Sender)?;
        let mut reaped = false;
        loop {
            let s = self.open_state(driver).map_err(SendErrorKind::Sender)?;
            // The run that fits: every buffer within the budget on its own, and all of
            // them together within the room there is.
            let (mut bytes, mut n) = (0usize, 0u32);
            for b in buffers.iter() {
                let len = b.len();
                if len > s.config.budget_bytes {
                    if n == 0 {
                        return Err(SendErrorKind::TooLarge);
                    }
                    break;
                }
                if !s.has_room_for(bytes.saturating_add(len), n + 1) {
                    break;
                }
                bytes += len;
                n += 1;
            }
            if n > 0 {
                for b in buffers.drain(..n as usize) {
                    s.accept(b, None);
                }
                return Ok(n as usize);
            }
            if reaped {
                s.stats.would_block += 1;
                return Err(SendErrorKind::WouldBlock);
            }
            reaped = true;
            driver.reap_only().map_err(SendErrorKind::Sender)?;
        }
    }

    /// Submits what this sender (and every other sender of the driver) has queued
    /// ([`Driver::flush`]). Never blocks.
    pub fn flush(&self, driver: &mut Driver) -> Result<(), ZcError> {
        self.state(driver)?;
        driver.flush()
    }

    /// Like [`send`](Self::send), but never waits: when the budget is full it reaps what
    /// is ready and, if there is still no room, hands the buffer back with
    /// [`SendErrorKind::WouldBlock`].
    pub fn try_send(
        &self,
        driver: &mut Driver,
        buffer: impl Into<ZcBuffer>,
    ) -> Result<(), SendError> {
        self.send_inner(driver, buffer.into(), None, false, true)
    }

    /// [`send`](Self::send) of one datagram to `dest` (`sendmsg_zc` with `msg_name`), on a
    /// datagram socket, connected or not. A stream socket refuses it
    /// ([`SendErrorKind::AddressOnStream`]).
    pub fn send_to(
        &self,
        driver: &mut Driver,
        buffer: impl Into<ZcBuffer>,
        dest: SocketAddr,
    ) -> Result<(), SendError> {
        self.send_inner(driver, buffer.into(), Some(dest), true, true)
    }

    /// The non-blocking [`send_to`](Self::send_to).
    pub fn try_send_to(
        &self,
        driver: &mut Driver,
        buffer: impl Into<ZcBuffer>,
        dest: SocketAddr,
    ) -> Result<(), SendError> {
        self.send_inner(driver, buffer.into(), Some(dest), false, true)
    }

    /// Sends `parts` as one message on a stream, in order, each part with the path that
    /// suits it: parts shorter than [`Config::copy_parts_below`] are copied (plain send,
    /// [`PlainReason::SmallPart`](super::PlainReason::SmallPart)), the others go as the
    /// policy decides (zero-copy for a large payload, `send_zc_fixed` for a pool slot), as
    /// Netty's io_uring transport decides per buffer. The parts are accepted together or
    /// not at all: the call waits (bounded by [`Config::wait_timeout`]) until the budget has
    /// room for all of them, queues them, and submits them with one `io_uring_enter`. Each
    /// part comes back in its own [`Completion`], with consecutive `seq`s. Refused with
    /// every part handed back: on a datagram socket
    /// ([`SendErrorKind::VectoredOnDatagram`]), when the parts exceed the whole budget
    /// ([`SendErrorKind::TooLarge`]), or when the sender failed.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    /// use uring::zc::{Config, PlainReason, Policy, SendPath, ZcBuffer, ZcSender};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let config = Config::default().policy(Policy::Always);
    /// let mut driver = config.driver()?;
    /// let sender = ZcSender::new(&mut driver, TcpStream::connect(listener.local_addr()?)?, config)?;
    /// let (mut peer, _) = listener.accept()?;
    /// let reader = std::thread::spawn(move || {
    ///     let mut got = Vec::new();
    ///     peer.read_to_end(&mut got).map(|_| got)
    /// });
    /// let header = b"LEN 65536\n".to_vec();
    /// let payload = vec![b'x'; 65536];
    /// sender.send_vectored(&mut driver, [ZcBuffer::from(header), payload.into()])?;
    /// sender.wait_all(&mut driver, Duration::from_secs(10))?;
    /// let paths: Vec<_> = sender.completions(&mut driver)?.map(|c| c.path).collect();
    /// assert_eq!(paths, [Some(SendPath::Plain(PlainReason::SmallPart)), Some(SendPath::ZeroCopy)]);
    /// drop(sender.close(&mut driver, Duration::from_secs(10)));
    /// assert_eq!(reader.join().unwrap()?.len(), 10 + 65536);
    /// # Ok(()) }
    /// ```
    pub fn send_vectored(
        &self,
        driver: &mut Driver,
        parts: impl IntoIterator<Item = ZcBuffer>,
    ) -> Result<(), VectoredSendError> {
        self.send_vectored_inner(driver, parts.into_iter().collect(), true)
    }

    /// The non-blocking [`send_vectored`](Self::send_vectored): if the budget has no room
    /// for every part, reaps what is ready and, if there is still none, hands all the parts
    /// back with [`SendErrorKind::WouldBlock`].
    pub fn try_send_vectored(
        &self,
        driver: &mut Driver,
        parts: impl IntoIterator<Item = ZcBuffer>,
    ) -> Result<(), VectoredSendError> {
        self.send_vectored_inner(driver, parts.into_iter().collect(), false)
    }

    fn send_vectored_inner(
        &self,
        driver: &mut Driver,
        parts: Vec<ZcBuffer>,
        block: bool,
    ) -> Result<(), VectoredSendError> {
        let refuse = |parts, kind| Err(VectoredSendError { parts, kind });
        if !self.stream {
            return refuse(parts, SendErrorKind::VectoredOnDatagram);
        }
        let (budget, max_buffers, timeout) = match self.state(driver) {
            Ok(s) => (
                s.config.budget_bytes,
                s.config.max_buffers,
                s.config.wait_timeout,
            ),
            Err(e) => return refuse(parts, SendErrorKind::Sender(e)),
        };
        let len = parts.iter().fold(0usize, |n, p| n.saturating_add(p.len()));
        let Ok(n) = u32::try_from(parts.len()) else {
            return refuse(parts, SendErrorKind::TooLarge);
        };
        if len > budget || n > max_buffers {
            return refuse(parts, SendErrorKind::TooLarge);
        }
        let accept = |s: &mut SenderState, parts: Vec<ZcBuffer>| {
            s.stats.vectored_sends += 1;
            for part in parts {
                let preset = s.part_path(part.len());
                s.accept_as(part, None, preset);
            }
        };
        self.offer(driver, parts, (len, n), timeout, block, true, accept)
            .map_err(|(parts, kind)| VectoredSendError { parts, kind })
    }

    fn send_inner(
        &self,
        driver: &mut Driver,
        buffer: ZcBuffer,
        dest: Option<SocketAddr>,
        block: bool,
        submit: bool,
    ) -> Result<(), SendError> {
        // The common case, decided with one lookup: the driver's ring and handles are in
        // order, the sender is live and unbroken, the buffer fits the room there is. The
        // same checks as below, in the same order; when any of them would say anything,
        // the call takes the long way, which says it.
        if driver.id() == self.ring_id && driver.quiet() && !(dest.is_some() && self.stream) {
            if let Some(s) = driver.state_mut(self.index, self.gen) {
                let len = buffer.len();
                if s.deferred.is_none()
                    && s.error.is_none()
                    && len <= s.config.budget_bytes
                    && s.has_room_for(len, 1)
                {
                    s.accept(buffer, dest);
                    if submit {
                        // The buffer is ours now: an error of the ring from here on is
                        // reported by the next call rather than with it.
                        if let Err(e) = driver.progress() {
                            if let Ok(s) = self.state_mut(driver) {
                                s.deferred.get_or_insert(e);
                            }
                        }
                    }
                    return Ok(());
                }
            }
        }
        let refuse = |buffer, kind| Err(SendError { buffer, kind });
        let (budget, timeout) = match self.state(driver) {
            Ok(s) => (s.config.budget_bytes, s.config.wait_timeout),
            Err(e) => return refuse(buffer, SendErrorKind::Sender(e)),
        };
        if dest.is_some() && self.stream {
            return refuse(buffer, SendErrorKind::AddressOnStream);
        }
        let len = buffer.len();
        if len > budget {
            return refuse(buffer, SendErrorKind::TooLarge);
        }
        let accept = |s: &mut SenderState, buffer| s.accept(buffer, dest);
        self.offer(driver, buffer, (len, 1), timeout, block, submit, accept)
            .map_err(|(buffer, kind)| SendError { buffer, kind })
    }

    /// Hands `held` (one buffer, or the parts of a vectored send: `size` is its bytes and
    /// buffers) to `accept` once the budget has room for all of it, waiting for room if
    /// `block` (at most `timeout`), and submits it at once if `submit`. Refused, `held`
    /// comes back untouched, with why.
    #[allow(clippy::too_many_arguments)]
    fn offer<T>(
        &self,
        driver: &mut Driver,
        held: T,
        size: (usize, u32),
        timeout: Option<Duration>,
        block: bool,
        submit: bool,
        accept: impl FnOnce(&mut SenderState, T),
    ) -> Result<(), (T, SendErrorKind)> {
        let refuse = |held, kind| Err((held, kind));
        // The clock is read only if the call has to wait (most calls never do).
        let mut deadline: Option<Option<Instant>> = None;
        // Nothing is reaped while the budget has room: what completes meanwhile is
        // reaped by the submit after (`send`), the flush, or the next call that must make
        // room. The driver's own checks (its ring, dropped handles) come first.
        if let Err(e) = driver.enter_call() {
            return refuse(held, SendErrorKind::Sender(e));
        }
        let mut reaped = false;
        let mut flush_before_wait = !submit;
        loop {
            let s = match self.open_state(driver) {
                Ok(s) => s,
                Err(e) => return refuse(held, SendErrorKind::Sender(e)),
            };
            if s.has_room_for(size.0, size.1) {
                accept(s, held);
                break;
            }
            if !reaped {
                // No room: first see what came back (and, for `send`, submit what waits).
                reaped = true;
                let drive = if submit {
                    driver.progress()
                } else {
                    driver.reap_only()
                };
                if let Err(e) = drive {
                    return refuse(held, SendErrorKind::Sender(e));
                }
                continue;
            }
            if !block {
                s.stats.would_block += 1;
                return refuse(held, SendErrorKind::WouldBlock);
            }
            // Waiting: first submit what is queued (ours may be all that can end the wait).
            if flush_before_wait {
                flush_before_wait = false;
                if let Err(e) = driver.progress() {
                    return refuse(held, SendErrorKind::Sender(e));
                }
                continue;
            }
            let deadline = *deadline
                .get_or_insert_with(|| timeout.and_then(|t| Instant::now().checked_add(t)));
            if let Err(e) = driver.wait_one(deadline).and_then(|()| driver.progress()) {
                return refuse(held, SendErrorKind::Sender(e));
            }
        }
        if !submit {
            return Ok(());
        }
        // What was offered is ours now: an error of the ring from here on is reported by
        // the next call rather than with it.
        if let Err(e) = driver.progress() {
            if let Ok(s) = self.state_mut(driver) {
                s.deferred.get_or_insert(e);
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- driving

    /// Reaps what is ready, submits queued buffers the socket can take, and returns how
    /// many completions are waiting in [`completions`](Self::completions). Never blocks.
    pub fn poll(&self, driver: &mut Driver) -> Result<usize, ZcError> {
        self.state(driver)?;
        driver.progress()?;
        Ok(self.state(driver)?.done.len())
    }

    /// Drives the ring until at least one buffer is back (or nothing is owned), waiting at
    /// most [`Config::wait_timeout`]; returns how many completions are waiting.
    pub fn wait(&self, driver: &mut Driver) -> Result<usize, ZcError> {
        let timeout = self.state(driver)?.config.wait_timeout;
        let (index, gen) = (self.index, self.gen);
        driver.drive_until(timeout, |d| {
            d.state(index, gen)
                .map_or(true, |s| !s.done.is_empty() || s.owned_buffers == 0)
        })?;
        Ok(self.state(driver)?.done.len())
    }

    /// Drives the ring until every buffer the sender owns is back (all sent, failed or
    /// not sent, and notified), or `timeout` passes ([`ZcError::TimedOut`]; nothing is
    /// lost, call again).
    pub fn wait_all(&self, driver: &mut Driver, timeout: Duration) -> Result<(), ZcError> {
        self.state(driver)?;
        let (index, gen) = (self.index, self.gen);
        driver.drive_until(Some(timeout), |d| {
            d.state(index, gen).map_or(true, |s| s.owned_buffers == 0)
        })
    }

    /// Takes the buffers that are back, with their outcomes, in the order they came back.
    /// Those the iterator does not yield are dropped with it, like a `drain(..)`.
    pub fn completions<'d>(&self, driver: &'d mut Driver) -> Result<Completions<'d>, ZcError> {
        Ok(Completions {
            done: &mut self.state_mut(driver)?.done,
        })
    }

    /// Takes one buffer that is back, if any.
    pub fn next_completion(&self, driver: &mut Driver) -> Result<Option<Completion>, ZcError> {
        Ok(self.state_mut(driver)?.done.pop_front())
    }

    // ---------------------------------------------------------------- closing

    /// Waits (at most `timeout`) for every buffer to come back, then closes the sender:
    /// returns the buffers that came back and the socket. Buffers the kernel still held at
    /// the end of the wait stay with the driver, which frees them (and drops the socket's
    /// table slot) once the kernel is done with them: [`Closed::pending`] counts them.
    ///
    /// With another driver than its own, nothing is touched there: the sender is closed
    /// as if dropped (at its own driver's next call), and `error` says
    /// [`ZcError::WrongDriver`].
    pub fn close(mut self, driver: &mut Driver, timeout: Duration) -> Closed {
        if driver.id() != self.ring_id {
            // Armed: the drop at the end of this call tells the sender's own driver.
            return Closed {
                completions: Vec::new(),
                socket: None,
                pending: 0,
                error: Some(ZcError::WrongDriver),
            };
        }
        self.armed = false;
        let wait = self.wait_all(driver, timeout);
        let socket = driver.take_socket(self.index, self.gen);
        // Queued buffers the kernel never saw come back (NotSent) with the rest; what the
        // kernel still holds is counted in `pending`, and stays with the driver.
        let (completions, pending) = match driver.state_any_mut(self.index, self.gen) {
            Some(s) => {
                s.begin_close();
                (s.done.drain(..).collect(), s.kernel_held())
            }
            None => (Vec::new(), 0),
        };
        driver.begin_close(self.index, self.gen);
        Closed {
            completions,
            socket,
            pending,
            error: wait.err(),
        }
    }
}

impl ZcSender {
    /// Closes the sender now (as dropping it would at the driver's next call).
    #[cfg(feature = "tokio")]
    pub(crate) fn close_now(mut self, driver: &mut Driver) {
        self.armed = false;
        if driver.id() == self.ring_id {
            driver.begin_close(self.index, self.gen);
        }
    }
}

impl Drop for ZcSender {
    fn drop(&mut self) {
        if self.armed {
            // The driver closes the sender at its next call: it may be on another thread,
            // or dropped already; nothing here touches the kernel or a buffer.
            self.shared.sender_dropped(self.index, self.gen);
        }
    }
}

/// Whether `socket` is a UDP socket over IPv4 or IPv6 (`SO_DOMAIN`, `SO_PROTOCOL`): the
/// sockets whose datagrams UDP GSO can gather.
fn is_udp(socket: &OwnedFd) -> bool {
    use rustix::net::{ipproto, sockopt, AddressFamily};
    let inet = matches!(
        sockopt::socket_domain(socket),
        Ok(AddressFamily::INET | AddressFamily::INET6)
    );
    inet && matches!(sockopt::socket_protocol(socket), Ok(Some(p)) if p == ipproto::UDP)
}

/// The buffers that are back, in the order they came back: [`ZcSender::completions`].
/// Each `next` takes one; dropping the iterator drops the ones it did not yield (as a
/// `VecDeque::drain(..)` would, without its bookkeeping: this is the per-buffer hot path).
#[derive(Debug)]
pub struct Completions<'d> {
    done: &'d mut VecDeque<Completion>,
}

impl Iterator for Completions<'_> {
    type Item = Completion;

    #[inline]
    fn next(&mut self) -> Option<Completion> {
        self.done.pop_front()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.done.len(), Some(self.done.len()))
    }
}

impl DoubleEndedIterator for Completions<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Completion> {
        self.done.pop_back()
    }
}

impl ExactSizeIterator for Completions<'_> {}

impl core::iter::FusedIterator for Completions<'_> {}

impl Drop for Completions<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.done.is_empty() {
            self.done.clear();
        }
    }
}

/// What [`ZcSender::close`] hands back.
#[derive(Debug)]
#[non_exhaustive]
pub struct Closed {
    /// Buffers that came back, including those reaped during the close.
    pub completions: Vec<Completion>,
    /// The socket, open (drop it to close it; the sender's requests still in the kernel
    /// name its table slot, which keeps the socket alive for them).
    pub socket: Option<OwnedFd>,
    /// Buffers the kernel still held when the wait ended: the driver keeps them and frees
    /// them once the kernel lets go (never before).
    pub pending: usize,
    /// Why the wait ended early (timeout, ring error), if it did.
    pub error: Option<ZcError>,
}
