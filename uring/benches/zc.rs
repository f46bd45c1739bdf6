//! The safe zero-copy sender against the raw ring, and its policies against each other.
//!
//! * `zc_vs_raw`: payload 65000 bytes, 8 sends in flight, TCP loopback, registered
//!   buffers: [`ZcSender`] with pool slots (`send_zc_fixed`) against a hand-written raw
//!   `send_zc_fixed` loop (liburing's `send-zerocopy` shape: one registered buffer, sends
//!   kept in flight, notifications only counted). Same socket pair, same receiver.
//! * `policy/<size>`: `Adaptive` against `Always` and `Never` at 1400, 4096, 16384, 65000
//!   and 262144 bytes on TCP loopback, with recycled `Vec` buffers.
//!
//! The sending thread runs on CPU 0 and each receiver on CPU 1. Each iteration sends
//! `iters` buffers and waits until the kernel is done with all of
//! them (every notification in). Run briefly, e.g.
//! `cargo bench -p uring-zc --bench zc -- --warm-up-time 1 --measurement-time 2`.

use std::cell::RefCell;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use uring::sys::IoringSetupFlags;
use uring::zc::{BufferPool, Completion, Config, Driver, Policy, ZcBuffer, ZcSender};
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

/// A loopback TCP pair whose server side is drained by a thread until EOF.
fn drained_pair() -> (TcpStream, std::thread::JoinHandle<u64>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut s, _) = l.accept().unwrap();
    let h = std::thread::spawn(move || {
        pin(1);
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        while let Ok(k) = s.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        n
    });
    (c, h)
}

/// The raw loop: `iters` zero-copy fixed sends of PAYLOAD bytes from one registered
/// buffer, DEPTH in flight, until every first completion and notification is in.
fn raw_send_zc_fixed(ring: &mut IoUring, fd: i32, buf: &[u8], iters: u64) -> Duration {
    let start = Instant::now();
    let (mut queued, mut results, mut notifs_due) = (0u64, 0u64, 0u64);
    let mut cqes = [Cqe::default(); 64];
    while results < iters || notifs_due > 0 {
        while queued < iters && queued - results < u64::from(DEPTH) {
            // SAFETY: `buf` lies inside registered buffer 0 and outlives every
            // completion (the loop runs until all notifications are in); the socket
            // outlives the loop.
            unsafe {
                ring.send_zc_fixed(
                    queued,
                    fd,
                    buf,
                    uring::sys::SEND_WAITALL,
                    uring::sys::IoringSendFlags::ZC_REPORT_USAGE,
                    0,
                )
                .unwrap();
            }
            queued += 1;
        }
        ring.submit_and_wait(1).unwrap();
        let n = ring.copy_cqes(&mut cqes, 0).unwrap() as usize;
        for c in &cqes[..n] {
            if c.notif() {
                notifs_due -= 1;
            } else {
                assert_eq!(c.res as usize, buf.len(), "{c:?}");
                results += 1;
                if c.more() {
                    notifs_due += 1;
                }
            }
        }
    }
    start.elapsed()
}

/// Sends `iters` buffers from `make` through `sender`, recycling what comes back with
/// `recycle`, until all are back.
fn through_sender(
    sender: &ZcSender,
    driver: &mut Driver,
    iters: u64,
    mut make: impl FnMut() -> Option<ZcBuffer>,
    mut recycle: impl FnMut(Completion),
) -> Duration {
    let start = Instant::now();
    let mut sent = 0;
    while sent < iters {
        match make() {
            Some(b) => {
                sender.send(driver, b).unwrap();
                sent += 1;
            }
            None => {
                sender.wait(driver).unwrap();
            }
        }
        for c in sender.completions(driver).unwrap() {
            recycle(c);
        }
    }
    sender.wait_all(driver, Duration::from_secs(60)).unwrap();
    for c in sender.completions(driver).unwrap() {
        recycle(c);
    }
    start.elapsed()
}

fn zc_vs_raw(c: &mut Criterion) {
    pin(0);
    let (stream, rx) = drained_pair();
    let socket: OwnedFd = stream.into();
    let fd = socket.as_raw_fd();

    // The raw loop's ring and its one registered buffer.
    let mut raw_ring = IoUring::init(64, IoringSetupFlags::empty()).unwrap();
    let mut raw_buf = vec![0x5Au8; PAYLOAD];
    let iov = [iovec {
        iov_base: raw_buf.as_mut_ptr().cast(),
        iov_len: PAYLOAD as _,
    }];
    // SAFETY: `raw_buf` outlives the ring's use of it (it is dropped after the ring).
    unsafe { raw_ring.register_buffers(&iov).unwrap() };

    // The sender's driver, pool and sender, on a duplicate of the same socket.
    let config = Config::default()
        .policy(Policy::Always)
        .depth(DEPTH)
        .budget_bytes(16 << 20);
    let mut driver = config.driver().unwrap();
    let pool = BufferPool::new(&mut driver, PAYLOAD, 128).unwrap();
    let dup = socket.try_clone().unwrap();
    let sender = ZcSender::new(&mut driver, dup, config).unwrap();

    let mut g = c.benchmark_group("zc_vs_raw");
    g.throughput(Throughput::Bytes(PAYLOAD as u64));
    g.sample_size(10);
    g.bench_function("raw_send_zc_fixed", |b| {
        b.iter_custom(|iters| raw_send_zc_fixed(&mut raw_ring, fd, &raw_buf, iters))
    });
    g.bench_function("zc_sender_pool_slots", |b| {
        b.iter_custom(|iters| {
            through_sender(
                &sender,
                &mut driver,
                iters,
                || pool.get().map(ZcBuffer::from),
                drop, // the slot goes back to the pool
            )
        })
    });
    g.finish();
    // Every buffer is back (each iteration waits for all): the close hands back the dup,
    // and the driver lets go of its file slot.
    drop(sender.close(&mut driver, Duration::from_secs(60)));
    drop(raw_ring);
    drop(raw_buf);
    drop(socket);
    drop(pool);
    drop(driver);
    let _ = rx.join();
}

fn policies(c: &mut Criterion) {
    pin(0);
    let mut g = c.benchmark_group("policy");
    g.sample_size(10);
    for size in [1400usize, 4096, 16384, 65000, 262144] {
        g.throughput(Throughput::Bytes(size as u64));
        // One connection per size, shared by the three policies (duplicated fds): two
        // loopback connections can differ by far more than the policies do.
        let (stream, rx) = drained_pair();
        let socket: OwnedFd = stream.into();
        for (name, policy) in [
            ("always", Policy::Always),
            ("never", Policy::Never),
            ("adaptive", Policy::Adaptive),
        ] {
            let config = Config::default()
                .policy(policy)
                .depth(DEPTH)
                .budget_bytes(16 << 20);
            let mut driver = config.driver().unwrap();
            let sender = ZcSender::new(&mut driver, socket.try_clone().unwrap(), config).unwrap();
            // Buffers are recycled as they come back: no allocation in the measured loop
            // (a fresh 256 KiB Vec per send would measure malloc and page faults).
            let spare: RefCell<Vec<Vec<u8>>> = RefCell::new(Vec::new());
            g.bench_with_input(BenchmarkId::new(name, size), &size, |b, &size| {
                b.iter_custom(|iters| {
                    through_sender(
                        &sender,
                        &mut driver,
                        iters,
                        || {
                            let v = spare.borrow_mut().pop();
                            Some(v.unwrap_or_else(|| vec![0xA5; size]).into())
                        },
                        |c| spare.borrow_mut().extend(c.buffer.into_vec()),
                    )
                })
            });
            let stats = sender.stats(&driver).unwrap();
            eprintln!(
                "policy/{name}/{size}: zero_copy {} plain_small {} plain_kernel_copies {} \
                 probes {} switches {}",
                stats.zero_copy,
                stats.plain_small,
                stats.plain_kernel_copies,
                stats.adaptive_probes,
                stats.adaptive_switches
            );
            drop(sender.close(&mut driver, Duration::from_secs(60)));
        }
        drop(socket); // with the senders closed, this closes the connection
        let _ = rx.join();
    }
    g.finish();
}

criterion_group!(benches, zc_vs_raw, policies);
criterion_main!(benches);
