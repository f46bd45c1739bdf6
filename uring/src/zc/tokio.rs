//! An awaitable safe zero-copy sender on tokio (feature `tokio`).
//!
//! [`AsyncDriver`] puts a [`Driver`] behind a mutex and watches its ring's fd with tokio's
//! reactor (`AsyncFd`: the ring fd is readable while completions wait in its CQ). Any task
//! that needs progress drives the driver itself, so no background task is needed, and
//! the tasks waiting on other senders are woken when it reaped something for them.
//! [`AsyncZcSender`] is the async face of [`ZcSender`], with the same guarantees (every
//! buffer back exactly once after the kernel's last completion for it, stream order and
//! completeness, the byte budget, fallback, the adaptive policy, the soundness of the
//! driver): [`send`](AsyncZcSender::send) waits for room instead of blocking the thread,
//! [`next_completion`](AsyncZcSender::next_completion) waits for a buffer to come back.
//!
//! ```no_run
//! use uring::zc::tokio::AsyncDriver;
//! use uring::zc::Config;
//!
//! # async fn serve(stream: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
//! let driver = AsyncDriver::new(Config::default().driver_config())?;
//! let sender = driver.sender(stream.into_std()?, Config::default())?;
//! sender.send(vec![1u8; 1 << 20]).await?; // waits for room, never blocks the thread
//! while let Some(done) = sender.next_completion().await? {
//!     done.result?; // the buffer is back: reuse it
//! }
//! # Ok(()) }
//! ```
//!
//! Everything is `Send + Sync`: one driver serves senders on every worker thread of a
//! multi-threaded runtime. The driver's mutex is never held across an `.await`.

use core::fmt;
use core::task::Poll;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use ::tokio::io::unix::AsyncFd;
use ::tokio::sync::Notify;

use super::buffer::ZcBuffer;
use super::config::{Config, DriverConfig};
use super::driver::Driver;
use super::sender::{Closed, ZcSender};
use super::stats::ZcStats;
use super::types::{Completion, SendError, SendErrorKind, VectoredSendError, ZcError};

/// A duplicate of the ring's fd, owned, for the reactor to watch (the ring itself stays in
/// the driver). Owned, so that it stays open, on the same ring, for as long as the reactor
/// registration lives, whatever happens to the driver's ring.
struct RingFd(OwnedFd);

impl AsRawFd for RingFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

struct Shared {
    /// Declared before `driver`: deregistered from the reactor before the ring closes.
    ready: AsyncFd<RingFd>,
    driver: Mutex<Driver>,
    /// Woken whenever a task's driving reaped completions: other tasks' buffers may be
    /// back, or their budget free.
    progress: Notify,
}

/// A [`Driver`] for tokio: cheap to clone, shared by every [`AsyncZcSender`] made from it.
#[derive(Clone)]
pub struct AsyncDriver {
    shared: Arc<Shared>,
}

impl fmt::Debug for AsyncDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDriver")
            .field("ring_fd", &self.shared.ready.get_ref().as_raw_fd())
            .finish_non_exhaustive()
    }
}

impl AsyncDriver {
    /// Makes a driver ([`Driver::new`]) and registers its ring's fd with the current tokio
    /// runtime's reactor (so: call it inside a runtime with I/O enabled).
    pub fn new(config: DriverConfig) -> std::io::Result<AsyncDriver> {
        let mut driver = Driver::new(config)?;
        let fd = std::os::fd::AsFd::as_fd(driver.ring()).try_clone_to_owned()?;
        // SAFETY: `RingFd` owns the duplicate fd and is moved into the `AsyncFd`, so the fd
        // is open, refers to the ring's file description, and is what `as_raw_fd` returns,
        // for the whole life of the registration.
        let ready =
            unsafe { AsyncFd::register_with_interest(RingFd(fd), ::tokio::io::Interest::READABLE) }
                .map_err(|e| e.into_parts().1)?;
        Ok(AsyncDriver {
            shared: Arc::new(Shared {
                ready,
                driver: Mutex::new(driver),
                progress: Notify::new(),
            }),
        })
    }

    /// The driver itself, locked, for synchronous use: the ring for other work, the
    /// statistics. Do not hold the guard across an `.await` (it is not `Send`, so a
    /// spawned task cannot).
    pub fn lock(&self) -> MutexGuard<'_, Driver> {
        // A panic while the driver was locked leaves it consistent for what matters here
        // (no buffer the kernel holds can be freed by it), so go on.
        self.shared
            .driver
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A sender over `socket` ([`ZcSender::new`]): a tokio socket converts with
    /// `into_std()` (its non-blocking mode is cleared, see [`ZcSender::new`]).
    pub fn sender(
        &self,
        socket: impl Into<OwnedFd>,
        config: Config,
    ) -> Result<AsyncZcSender, ZcError> {
        let sender = ZcSender::new(&mut self.lock(), socket, config)?;
        Ok(AsyncZcSender {
            driver: self.clone(),
            sender: Some(sender),
        })
    }

    /// Drives the driver once (reap, submit) and wakes the tasks it may concern.
    fn drive(&self, driver: &mut Driver) -> Result<(), ZcError> {
        let before = driver.reaped();
        let r = driver.poll();
        if driver.reaped() != before {
            self.shared.progress.notify_waiters();
        }
        r
    }

    /// Runs `attempt` against the driven driver until it is ready, waiting in between for
    /// completions (the ring's fd readable) or another task's progress.
    async fn until<T>(
        &self,
        mut attempt: impl FnMut(&mut Driver) -> Poll<T>,
    ) -> Result<T, ZcError> {
        loop {
            let progressed = self.shared.progress.notified();
            let mut progressed = core::pin::pin!(progressed);
            // Registered before looking, so that a wake-up after the look is not lost.
            progressed.as_mut().enable();
            {
                let mut driver = self.lock();
                self.drive(&mut driver)?;
                if let Poll::Ready(v) = attempt(&mut driver) {
                    return Ok(v);
                }
            }
            ::tokio::select! {
                biased;
                () = &mut progressed => {}
                guard = self.shared.ready.readable() => {
                    let mut guard = guard.map_err(|e| ZcError::Reactor(e.kind()))?;
                    let mut driver = self.lock();
                    self.drive(&mut driver)?;
                    // Cleared only if nothing is left; tokio keeps a readiness that came
                    // after this guard was taken.
                    if driver.ring().cq_ready() == 0 {
                        guard.clear_ready();
                    }
                }
            }
        }
    }
}

/// An awaitable [`ZcSender`]: the same sender, waiting instead of blocking.
///
/// Dropping it closes the sender at once (the driver is driven once, without waiting):
/// nothing queued is sent, and the socket closes as soon as the kernel is done with every
/// request naming it (at once if it is idle; else when a later call drives the driver).
///
/// # Example
///
/// Many connections on a multi-threaded runtime, one driver, tokio's own sockets
/// converted in:
///
/// ```
/// use tokio::io::AsyncReadExt;
/// use tokio::net::{TcpListener, TcpStream};
/// use uring::zc::tokio::AsyncDriver;
/// use uring::zc::Config;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
/// # rt.block_on(async {
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let driver = AsyncDriver::new(Config::default().driver_config())?;
/// let mut tasks = Vec::new();
/// for i in 0..4u8 {
///     let stream = TcpStream::connect(listener.local_addr()?).await?;
///     let (mut peer, _) = listener.accept().await?;
///     let sender = driver.sender(stream.into_std()?, Config::default())?;
///     let reader = tokio::spawn(async move {
///         let mut got = Vec::new();
///         peer.read_to_end(&mut got).await.map(|_| got)
///     });
///     let writer = tokio::spawn(async move {
///         sender.send(vec![i; 1 << 20]).await?; // waits for room without blocking
///         let done = sender.next_completion().await?.expect("one in flight");
///         assert_eq!(done.result?, 1 << 20); // the buffer is back
///         drop(sender.close().await); // EOF for the peer
///         Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
///     });
///     tasks.push((i, writer, reader));
/// }
/// for (i, writer, reader) in tasks {
///     writer.await?.map_err(|e| e.to_string())?;
///     let got = reader.await??;
///     assert!(got.len() == 1 << 20 && got.iter().all(|&b| b == i));
/// }
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # })
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncZcSender {
    driver: AsyncDriver,
    /// `Some` for the whole life of the value; taken only by `close` and `drop`.
    sender: Option<ZcSender>,
}

impl Drop for AsyncZcSender {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            let mut driver = self.driver.lock();
            sender.close_now(&mut driver);
            let _ = self.driver.drive(&mut driver);
        }
    }
}

/// A refusal that hands back what the call was given: one buffer ([`SendError`]) or the
/// parts of a vectored send ([`VectoredSendError`]).
trait HandBack: Sized {
    type Held;
    fn new(held: Self::Held, kind: SendErrorKind) -> Self;
    fn split(self) -> (Self::Held, SendErrorKind);
}

impl HandBack for SendError {
    type Held = ZcBuffer;
    fn new(buffer: ZcBuffer, kind: SendErrorKind) -> Self {
        SendError { buffer, kind }
    }
    fn split(self) -> (ZcBuffer, SendErrorKind) {
        (self.buffer, self.kind)
    }
}

impl HandBack for VectoredSendError {
    type Held = Vec<ZcBuffer>;
    fn new(parts: Vec<ZcBuffer>, kind: SendErrorKind) -> Self {
        VectoredSendError { parts, kind }
    }
    fn split(self) -> (Vec<ZcBuffer>, SendErrorKind) {
        (self.parts, self.kind)
    }
}

impl AsyncZcSender {
    fn sender(&self) -> Result<&ZcSender, ZcError> {
        self.sender.as_ref().ok_or(ZcError::WrongDriver)
    }

    /// Hands `buffer` to the sender, waiting (without blocking the thread) while the
    /// budget is full. On error the buffer comes back in [`SendError::buffer`]. If the
    /// future is dropped before it completes, the buffer was not accepted and is dropped
    /// with it.
    pub async fn send(&self, buffer: impl Into<ZcBuffer>) -> Result<(), SendError> {
        self.send_inner(buffer.into(), None).await
    }

    /// [`send`](Self::send) of one datagram to `dest` ([`ZcSender::send_to`]).
    pub async fn send_to(
        &self,
        buffer: impl Into<ZcBuffer>,
        dest: SocketAddr,
    ) -> Result<(), SendError> {
        self.send_inner(buffer.into(), Some(dest)).await
    }

    async fn send_inner(
        &self,
        buffer: ZcBuffer,
        dest: Option<SocketAddr>,
    ) -> Result<(), SendError> {
        self.offer(buffer, |sender, driver, buffer| match dest {
            None => sender.try_send(driver, buffer),
            Some(d) => sender.try_send_to(driver, buffer, d),
        })
        .await
    }

    /// The parts of one message, each with its own path ([`ZcSender::send_vectored`]),
    /// waiting (without blocking the thread) until the budget has room for all of them.
    /// On error every part comes back in [`VectoredSendError::parts`]. If the future is
    /// dropped before it completes, no part was accepted and they are dropped with it.
    pub async fn send_vectored(
        &self,
        parts: impl IntoIterator<Item = ZcBuffer>,
    ) -> Result<(), VectoredSendError> {
        let parts: Vec<ZcBuffer> = parts.into_iter().collect();
        self.offer(parts, |sender, driver, parts| {
            sender.try_send_vectored(driver, parts)
        })
        .await
    }

    /// Offers `held` with `attempt` (a non-blocking send) until it is accepted or refused
    /// for another reason than a full budget, waiting for the driver's progress between
    /// attempts. Refused, `held` comes back in the error.
    async fn offer<E: HandBack>(
        &self,
        held: E::Held,
        mut attempt: impl FnMut(&ZcSender, &mut Driver, E::Held) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut held = Some(held);
        let r = self
            .driver
            .until(|driver| {
                let Some(h) = held.take() else {
                    return Poll::Ready(Ok(()));
                };
                let sender = match self.sender() {
                    Ok(s) => s,
                    Err(e) => return Poll::Ready(Err(E::new(h, SendErrorKind::Sender(e)))),
                };
                match attempt(sender, driver, h) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(e) => match e.split() {
                        (h, SendErrorKind::WouldBlock) => {
                            held = Some(h);
                            Poll::Pending
                        }
                        (h, kind) => Poll::Ready(Err(E::new(h, kind))),
                    },
                }
            })
            .await;
        match r {
            Ok(r) => r,
            Err(e) => match held {
                Some(h) => Err(E::new(h, SendErrorKind::Sender(e))),
                // Accepted before the error: it is the sender's now; the error is
                // reported with the next call.
                None => Ok(()),
            },
        }
    }

    /// The next buffer that is back, waiting for one; `None` when the sender owns none.
    pub async fn next_completion(&self) -> Result<Option<Completion>, ZcError> {
        let sender = self.sender()?;
        self.driver
            .until(|driver| match sender.next_completion(driver) {
                Ok(Some(c)) => Poll::Ready(Ok(Some(c))),
                Ok(None) => match sender.buffers_in_flight(driver) {
                    Ok(0) => Poll::Ready(Ok(None)),
                    Ok(_) => Poll::Pending,
                    Err(e) => Poll::Ready(Err(e)),
                },
                Err(e) => Poll::Ready(Err(e)),
            })
            .await?
    }

    /// The buffers that are back now, without waiting.
    pub fn completions(&self) -> Result<Vec<Completion>, ZcError> {
        let mut driver = self.driver.lock();
        self.driver.drive(&mut driver)?;
        let done: Vec<Completion> = self.sender()?.completions(&mut driver)?.collect();
        Ok(done)
    }

    /// Waits until every buffer the sender owns is back (take them with
    /// [`completions`](Self::completions)).
    pub async fn flush(&self) -> Result<(), ZcError> {
        let sender = self.sender()?;
        self.driver
            .until(|driver| match sender.buffers_in_flight(driver) {
                Ok(0) => Poll::Ready(Ok(())),
                Ok(_) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            })
            .await?
    }

    /// The counters.
    pub fn stats(&self) -> Result<ZcStats, ZcError> {
        self.sender()?.stats(&self.driver.lock())
    }

    /// The error that ended the stream, if one did ([`ZcSender::error`]).
    pub fn error(&self) -> Result<Option<rustix::io::Errno>, ZcError> {
        self.sender()?.error(&self.driver.lock())
    }

    /// Whether the socket is ordered (SOCK_STREAM, SOCK_SEQPACKET).
    pub fn is_stream(&self) -> bool {
        self.sender.as_ref().is_some_and(ZcSender::is_stream)
    }

    /// Waits until every buffer is back, then closes the sender ([`ZcSender::close`]).
    pub async fn close(mut self) -> Closed {
        let flushed = self.flush().await;
        let Some(sender) = self.sender.take() else {
            return Closed {
                completions: Vec::new(),
                socket: None,
                pending: 0,
                error: Some(ZcError::WrongDriver),
            };
        };
        let mut closed = sender.close(&mut self.driver.lock(), std::time::Duration::ZERO);
        if let Err(e) = flushed {
            closed.error.get_or_insert(e);
        }
        closed
    }
}
