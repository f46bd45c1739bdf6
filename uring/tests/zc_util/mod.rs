//! Shared helpers of the `zc_*` kernel tests: socket pairs, the byte pattern, receivers
//! that check every byte, and bounded driving of a sender.
#![allow(dead_code)]

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use uring::zc::{Completion, Driver, ZcBuffer, ZcSender};

/// Upper bound for any single wait in these tests: failing beats hanging.
pub const BOUND: Duration = Duration::from_secs(20);

/// The byte at offset `i` of a test stream (a multiplicative hash: no short period, so a
/// reordered or repeated chunk is caught).
#[inline]
pub fn pattern(i: u64) -> u8 {
    (i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// `len` pattern bytes starting at stream offset `start`.
pub fn chunk(start: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|k| pattern(start + k)).collect()
}

/// A connected TCP pair on loopback: (client, server).
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Sets SO_SNDBUF (the kernel doubles it, with a floor of a few KiB).
pub fn small_sndbuf(fd: impl AsFd, bytes: usize) {
    rustix::net::sockopt::set_socket_send_buffer_size(fd, bytes).unwrap();
}

/// Sets SO_RCVBUF.
pub fn small_rcvbuf(fd: impl AsFd, bytes: usize) {
    rustix::net::sockopt::set_socket_recv_buffer_size(fd, bytes).unwrap();
}

/// What a checking receiver saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes read until EOF or error.
    pub bytes: u64,
    /// Offset of the first byte that differed from the pattern, if any.
    pub mismatch: Option<u64>,
    /// Whether the stream ended with an error rather than EOF.
    pub error: bool,
}

/// A thread reading `stream` to EOF (bounded by a read timeout), checking every byte
/// against the pattern; `read_size` small makes it a slow reader.
pub fn checking_receiver(mut stream: TcpStream, read_size: usize) -> JoinHandle<Received> {
    stream.set_read_timeout(Some(BOUND)).unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; read_size];
        let mut at = 0u64;
        let mut mismatch = None;
        loop {
            match stream.read(&mut buf) {
                Ok(0) => {
                    return Received {
                        bytes: at,
                        mismatch,
                        error: false,
                    }
                }
                Ok(n) => {
                    if mismatch.is_none() {
                        if let Some(k) = (0..n).find(|&k| buf[k] != pattern(at + k as u64)) {
                            mismatch = Some(at + k as u64);
                        }
                    }
                    at += n as u64;
                }
                Err(_) => {
                    return Received {
                        bytes: at,
                        mismatch,
                        error: true,
                    }
                }
            }
        }
    })
}

impl Received {
    /// Bytes read and the first mismatch, the pair a test compares with what was sent.
    pub fn seen(&self) -> (u64, Option<u64>) {
        (self.bytes, self.mismatch)
    }
}

/// A [`checking_receiver`] that starts reading only when told to (bounded wait): until
/// then the peer reads nothing and sends wait in the kernel.
pub fn gated_receiver(server: TcpStream) -> (mpsc::Sender<()>, JoinHandle<Received>) {
    let (tx, rx) = mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        rx.recv_timeout(BOUND).unwrap();
        checking_receiver(server, 64 * 1024).join().unwrap()
    });
    (tx, h)
}

/// Drives `driver` (bounded) until `until` says stop: each round waits at most 20 ms for
/// a completion, then lets the driver reap and submit. `what` names what never happened.
pub fn drive_until(driver: &mut Driver, what: &str, mut until: impl FnMut(&Driver) -> bool) {
    let end = deadline();
    for round in 0.. {
        if until(driver) {
            break;
        }
        assert!(Instant::now() < end && round < 100_000, "{what}");
        let _ = driver
            .ring()
            .submit_and_wait_timeout(1, Duration::from_millis(20));
        driver.poll().unwrap();
    }
}

/// Drives `sender` until it owns nothing, bounded, collecting completions.
pub fn finish(sender: &ZcSender, driver: &mut Driver, out: &mut Vec<Completion>) {
    sender
        .wait_all(driver, BOUND)
        .expect("every buffer back in time");
    out.extend(sender.completions(driver).expect("the sender's driver"));
}

/// Sends `buffers` in order with the blocking call, collecting completions on the way.
pub fn send_all(
    sender: &ZcSender,
    driver: &mut Driver,
    buffers: impl IntoIterator<Item = ZcBuffer>,
    out: &mut Vec<Completion>,
) {
    for b in buffers {
        sender.send(driver, b).expect("accepted");
        out.extend(sender.completions(driver).expect("the sender's driver"));
    }
}

/// Checks the exactly-once contract: every seq in `0..n` came back once.
pub fn assert_each_once(completions: &[Completion], n: u64) {
    let mut seen = vec![false; n as usize];
    for c in completions {
        assert!(c.seq < n, "unknown seq {}", c.seq);
        assert!(!seen[c.seq as usize], "seq {} returned twice", c.seq);
        seen[c.seq as usize] = true;
    }
    let missing: Vec<usize> = (0..n as usize).filter(|&i| !seen[i]).collect();
    assert!(missing.is_empty(), "never returned: {missing:?}");
}

/// A deadline helper for hand-written loops.
pub fn deadline() -> Instant {
    Instant::now() + BOUND
}
