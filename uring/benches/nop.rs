//! NOP round trips, batch 32 (queue 32 NOPs, `submit_and_wait(32)`, reap 32 completions),
//! through our ring and through tokio's `io-uring` crate (the peer) in the same run, so
//! that the two numbers are read as a ratio; and single NOPs through our ring with and
//! without a registered ring fd. `cargo bench -p uring-zc --bench nop`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use uring::sys::IoringSetupFlags;
use uring::{Cqe, IoUring};

const BATCH: u32 = 32;

fn ours(ring: &mut IoUring, cqes: &mut [Cqe]) -> u64 {
    let mut sum = 0u64;
    for i in 0..u64::from(BATCH) {
        ring.nop(i).expect("SQ has room for a batch");
    }
    ring.submit_and_wait(BATCH).expect("submit_and_wait");
    let mut got = 0;
    while got < BATCH {
        let n = ring.copy_cqes(cqes, BATCH - got).expect("copy_cqes");
        for cqe in &cqes[..n as usize] {
            sum = sum.wrapping_add(cqe.user_data);
        }
        got += n;
    }
    sum
}

/// One NOP per enter: where the enter's own cost (and the fd lookup that a registered
/// ring fd saves) shows.
fn one(ring: &mut IoUring, cqes: &mut [Cqe]) -> u64 {
    ring.nop(7).expect("SQ has room");
    ring.submit_and_wait(1).expect("submit_and_wait");
    let n = ring.copy_cqes(cqes, 1).expect("copy_cqes");
    cqes[..n as usize].iter().map(|c| c.user_data).sum()
}

fn peer(ring: &mut io_uring::IoUring) -> u64 {
    let mut sum = 0u64;
    {
        let mut sq = ring.submission();
        for i in 0..u64::from(BATCH) {
            let sqe = io_uring::opcode::Nop::new().build().user_data(i);
            // SAFETY: a NOP names no memory.
            unsafe { sq.push(&sqe).expect("SQ has room for a batch") };
        }
    }
    ring.submit_and_wait(BATCH as usize)
        .expect("submit_and_wait");
    let mut got = 0;
    while got < BATCH {
        for cqe in ring.completion() {
            sum = sum.wrapping_add(cqe.user_data());
            got += 1;
        }
        if got < BATCH {
            ring.submit_and_wait((BATCH - got) as usize)
                .expect("submit_and_wait");
        }
    }
    sum
}

fn nop_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("nop_batch32");
    group.throughput(Throughput::Elements(u64::from(BATCH)));
    let mut ring = IoUring::init(BATCH, IoringSetupFlags::empty()).expect("ring");
    let mut cqes = vec![Cqe::default(); BATCH as usize];
    let mut registered = IoUring::init(BATCH, IoringSetupFlags::empty()).expect("ring");
    registered.register_ring_fd().expect("register_ring_fd");
    let mut peer_ring = io_uring::IoUring::new(BATCH).expect("io-uring ring");
    // Interleaved in one run: ours, then the peer, same sample settings.
    group.bench_function("uring", |b| {
        b.iter(|| black_box(ours(&mut ring, &mut cqes)))
    });
    // The same with the ring fd registered (IORING_ENTER_REGISTERED_RING on this thread).
    group.bench_function("uring-registered-fd", |b| {
        b.iter(|| black_box(ours(&mut registered, &mut cqes)))
    });
    group.bench_function("io-uring", |b| b.iter(|| black_box(peer(&mut peer_ring))));
    group.finish();

    let mut group = c.benchmark_group("nop_single");
    group.throughput(Throughput::Elements(1));
    group.bench_function("uring", |b| b.iter(|| black_box(one(&mut ring, &mut cqes))));
    group.bench_function("uring-registered-fd", |b| {
        b.iter(|| black_box(one(&mut registered, &mut cqes)))
    });
    group.finish();
}

criterion_group!(benches, nop_round_trip);
criterion_main!(benches);
