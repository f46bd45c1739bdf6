//! [`ZcError`]: the errors of the safe layer itself (not of one buffer).

use core::fmt;

use rustix::io::Errno;

use crate::error::{EnterError, RegisterError, SetupError};

/// Errors of the sender itself (not of one buffer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZcError {
    /// The configuration is out of range (the message says which field).
    InvalidConfig(&'static str),
    /// The fd is not a socket, or its type could not be read (SO_TYPE).
    NotASocket(Errno),
    /// The sender was called with a driver other than its own, or it is closed.
    WrongDriver,
    /// The driver's ring was replaced through [`Driver::ring`](super::Driver::ring)
    /// (`mem::swap`): the driver does no more work, and leaks what the kernel held.
    RingReplaced,
    /// The driver's file table is full ([`DriverConfig::max_sockets`](super::DriverConfig::max_sockets)).
    TooManySockets,
    /// Setting up the driver's ring failed.
    Setup(SetupError),
    /// Registering with the driver's ring failed (the file table, a socket in it).
    Register(RegisterError),
    /// The async runtime's reactor failed while waiting for the ring (feature `tokio`).
    Reactor(std::io::ErrorKind),
    /// `io_uring_enter` failed.
    Enter(EnterError),
    /// A bounded wait ([`Config::wait_timeout`](super::Config::wait_timeout) or a timeout
    /// argument) ended first. Nothing is lost: call again.
    TimedOut,
    /// The stream failed earlier with this error (see [`ZcSender::error`](super::ZcSender::error));
    /// the sender sends nothing more.
    Broken(Errno),
}

impl fmt::Display for ZcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZcError::InvalidConfig(what) => write!(f, "zero-copy sender: invalid config: {what}"),
            ZcError::NotASocket(e) => write!(f, "zero-copy sender: not a socket: {e}"),
            ZcError::WrongDriver => {
                f.write_str("zero-copy sender: closed, or called with a driver other than its own")
            }
            ZcError::RingReplaced => {
                f.write_str("zero-copy driver: its ring was replaced; it does no more work")
            }
            ZcError::TooManySockets => {
                f.write_str("zero-copy driver: its file table is full (max_sockets)")
            }
            ZcError::Setup(e) => write!(f, "zero-copy driver: {e}"),
            ZcError::Register(e) => write!(f, "zero-copy driver: {e}"),
            ZcError::Reactor(k) => write!(f, "zero-copy driver: the reactor failed: {k}"),
            ZcError::Enter(e) => write!(f, "zero-copy sender: {e}"),
            ZcError::TimedOut => f.write_str("zero-copy sender: timed out waiting for the kernel"),
            ZcError::Broken(e) => write!(f, "zero-copy sender: the stream failed earlier: {e}"),
        }
    }
}

impl std::error::Error for ZcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ZcError::Enter(e) => Some(e),
            ZcError::Setup(e) => Some(e),
            ZcError::Register(e) => Some(e),
            _ => None,
        }
    }
}

impl From<EnterError> for ZcError {
    fn from(e: EnterError) -> Self {
        ZcError::Enter(e)
    }
}

impl From<ZcError> for std::io::Error {
    fn from(e: ZcError) -> Self {
        use std::io::{Error, ErrorKind};
        match e {
            ZcError::NotASocket(errno) | ZcError::Broken(errno) => {
                Error::from_raw_os_error(errno.raw_os_error())
            }
            ZcError::Enter(e) => e.into(),
            ZcError::Setup(e) => e.into(),
            ZcError::Register(e) => e.into(),
            ZcError::TimedOut => Error::new(ErrorKind::TimedOut, e),
            ZcError::InvalidConfig(_) | ZcError::WrongDriver => {
                Error::new(ErrorKind::InvalidInput, e)
            }
            ZcError::RingReplaced | ZcError::TooManySockets => Error::other(e),
            ZcError::Reactor(kind) => Error::new(kind, e),
        }
    }
}
