//! The same comparisons as `benches/zc.rs`, measured in alternation so that a busy machine
//! disturbs both sides alike: each round runs every contender once, in a rotating order,
//! all on one connection, and the report is the median over rounds of each throughput and
//! of each per-round ratio. Not a criterion bench: `cargo bench -p uring-zc --bench
//! zc_paired` (optional arguments: rounds, MiB per run).
//!
//! The sending thread runs on CPU 0 and each receiver on CPU 1.
//!
//! * sender (pool slots, `send_zc_fixed`) / raw `send_zc_fixed` loop: 65000 bytes, depth 8;
//! * adaptive / best of (always, never) at 1400, 4096, 16384, 65000, 262144 bytes.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use uring::sys::IoringSetupFlags;
use uring::zc::{BufferPool, Config, Driver, Policy, ZcBuffer, ZcSender};
use uring::{iovec, Cqe, IoUring};

const PAYLOAD: usize = 65000;
const DEPTH: u32 = 8;

/// Pins the calling thread to `cpu` (when the machine has it), so that the sender and the
/// receiver thread never share a core and every contender runs with the same placement.
fn pin(cpu: usize) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > cpu {
        let mut set = rustix::thread::CpuSet::new();
        set.set(cpu);
        let _ = rustix::thread::sched_setaffinity(None, &set);
    }
}

fn drained_pair() -> (OwnedFd, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut s, _) = l.accept().unwrap();
    let h = std::thread::spawn(move || {
        pin(1);
        let mut buf = vec![0u8; 1 << 20];
        while let Ok(k) = s.read(&mut buf) {
            if k == 0 {
                break;
            }
        }
    });
    (c.into(), h)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A contender: sends `bytes` worth of buffers, returns GB/s.
trait Contender {
    fn run(&mut self, bytes: usize) -> f64;
}

struct Raw {
    ring: IoUring,
    fd: i32,
    buf: Vec<u8>,
    _socket: OwnedFd,
}

impl Raw {
    fn new(socket: OwnedFd) -> Raw {
        let mut ring = IoUring::init(64, IoringSetupFlags::empty()).unwrap();
        let mut buf = vec![0x5Au8; PAYLOAD];
        let iov = [iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: PAYLOAD as _,
        }];
        // SAFETY: `buf` lives in the same struct as the ring and is dropped after it
        // (field order), and no request outlives `run`.
        unsafe { ring.register_buffers(&iov).unwrap() };
        let fd = socket.as_raw_fd();
        Raw {
            ring,
            fd,
            buf,
            _socket: socket,
        }
    }
}

impl Contender for Raw {
    fn run(&mut self, bytes: usize) -> f64 {
        let n = (bytes / PAYLOAD) as u64;
        let start = Instant::now();
        let (mut queued, mut results, mut notifs_due) = (0u64, 0u64, 0u64);
        let mut cqes = [Cqe::default(); 64];
        while results < n || notifs_due > 0 {
            while queued < n && queued - results < u64::from(DEPTH) {
                // SAFETY: the buffer is registered buffer 0 and outlives every completion
                // (this loop waits for all notifications).
                unsafe {
                    self.ring
                        .send_zc_fixed(
                            queued,
                            self.fd,
                            &self.buf,
                            uring::sys::SEND_WAITALL,
                            uring::sys::IoringSendFlags::ZC_REPORT_USAGE,
                            0,
                        )
                        .unwrap();
                }
                queued += 1;
            }
            self.ring.submit_and_wait(1).unwrap();
            let k = self.ring.copy_cqes(&mut cqes, 0).unwrap() as usize;
            for c in &cqes[..k] {
                if c.notif() {
                    notifs_due -= 1;
                } else {
                    assert_eq!(c.res as usize, PAYLOAD);
                    results += 1;
                    notifs_due += u64::from(c.more());
                }
            }
        }
        (n as usize * PAYLOAD) as f64 / start.elapsed().as_secs_f64() / 1e9
    }
}

enum Source {
    Pool(BufferPool),
    Vecs(usize, Vec<Vec<u8>>),
}

struct Sender {
    // The handle before its driver (fields drop in order): the driver, dropped last,
    // closes the sender and its socket.
    sender: ZcSender,
    source: Source,
    driver: Driver,
}

impl Sender {
    fn new(socket: OwnedFd, policy: Policy, size: Option<usize>) -> Sender {
        let config = Config::default()
            .policy(policy)
            .depth(DEPTH)
            .budget_bytes(16 << 20);
        let mut driver = config.driver().unwrap();
        let source = match size {
            None => Source::Pool(BufferPool::new(&mut driver, PAYLOAD, 128).unwrap()),
            Some(size) => Source::Vecs(size, Vec::new()),
        };
        let sender = ZcSender::new(&mut driver, socket, config).unwrap();
        Sender {
            sender,
            source,
            driver,
        }
    }
}

impl Contender for Sender {
    fn run(&mut self, bytes: usize) -> f64 {
        let size = match &self.source {
            Source::Pool(_) => PAYLOAD,
            Source::Vecs(size, _) => *size,
        };
        let n = bytes / size;
        let start = Instant::now();
        let mut sent = 0;
        while sent < n {
            let buffer: Option<ZcBuffer> = match &mut self.source {
                Source::Pool(pool) => pool.get().map(Into::into),
                Source::Vecs(size, spare) => {
                    Some(spare.pop().unwrap_or_else(|| vec![0xA5; *size]).into())
                }
            };
            match buffer {
                Some(b) => {
                    self.sender.send(&mut self.driver, b).unwrap();
                    sent += 1;
                }
                None => {
                    self.sender.wait(&mut self.driver).unwrap();
                }
            }
            for c in self.sender.completions(&mut self.driver).unwrap() {
                if let Source::Vecs(_, spare) = &mut self.source {
                    spare.extend(c.buffer.into_vec());
                }
            }
        }
        self.sender
            .wait_all(&mut self.driver, Duration::from_secs(60))
            .unwrap();
        for c in self.sender.completions(&mut self.driver).unwrap() {
            if let Source::Vecs(_, spare) = &mut self.source {
                spare.extend(c.buffer.into_vec());
            }
        }
        (n * size) as f64 / start.elapsed().as_secs_f64() / 1e9
    }
}

/// Runs every contender once per round (rotating the order), `rounds` times after one
/// warm-up round; returns the throughputs per contender and round.
fn alternate(contenders: &mut [&mut dyn Contender], rounds: usize, bytes: usize) -> Vec<Vec<f64>> {
    let k = contenders.len();
    let mut out = vec![Vec::new(); k];
    for round in 0..=rounds {
        for j in 0..k {
            let i = (j + round) % k;
            let gbps = contenders[i].run(bytes);
            if round > 0 {
                out[i].push(gbps);
            }
        }
    }
    out
}

fn main() {
    pin(0);
    // `cargo bench` passes `--bench`; take only numeric arguments.
    let nums: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let rounds = nums.first().copied().unwrap_or(15);
    let bytes = nums.get(1).copied().unwrap_or(128) << 20;

    // One connection per comparison, shared by its contenders (duplicated fds): they all
    // see the same TCP state and the same receiver, and differ only in how they send.
    let (socket, rx) = drained_pair();
    let mut raw = Raw::new(socket.try_clone().unwrap());
    let mut zc = Sender::new(socket.try_clone().unwrap(), Policy::Always, None);
    drop(socket);
    let t = alternate(&mut [&mut raw, &mut zc], rounds, bytes);
    let mut ratios: Vec<f64> = t[1].iter().zip(&t[0]).map(|(s, r)| s / r).collect();
    let (mut r, mut s) = (t[0].clone(), t[1].clone());
    println!(
        "sender_vs_raw 65000 depth 8: raw {:.3} GB/s, sender {:.3} GB/s, \
         median per-round sender/raw {:.3}",
        median(&mut r),
        median(&mut s),
        median(&mut ratios)
    );
    drop((raw, zc));
    let _ = rx.join();

    for size in [1400usize, 4096, 16384, 65000, 262144] {
        let (socket, rx) = drained_pair();
        let mut a = Sender::new(socket.try_clone().unwrap(), Policy::Always, Some(size));
        let mut n = Sender::new(socket.try_clone().unwrap(), Policy::Never, Some(size));
        let mut d = Sender::new(socket.try_clone().unwrap(), Policy::Adaptive, Some(size));
        drop(socket);
        let t = alternate(&mut [&mut a, &mut n, &mut d], rounds, bytes);
        let mut ratios: Vec<f64> = (0..t[0].len())
            .map(|i| t[2][i] / t[0][i].max(t[1][i]))
            .collect();
        let (mut ta, mut tn, mut td) = (t[0].clone(), t[1].clone(), t[2].clone());
        println!(
            "policy {size:>6}: always {:.3} never {:.3} adaptive {:.3} GB/s, \
             median per-round adaptive/best {:.3}",
            median(&mut ta),
            median(&mut tn),
            median(&mut td),
            median(&mut ratios)
        );
        drop((a, n, d));
        let _ = rx.join();
    }
}
