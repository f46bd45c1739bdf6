//! The peer of `examples/nop.rs`: the same NOP round-trip loop through tokio's `io-uring`
//! crate (a dev-dependency, used only as a benchmark peer). `nop_peer_io_uring [OPS]
//! [BATCH]` queues BATCH NOPs, calls `submit_and_wait(BATCH)`, reaps the BATCH
//! completions from `completion()`, and repeats. `bench/callgrind_nop.sh` measures it
//! side by side with ours and liburing's.

use std::hint::black_box;
use std::time::Instant;

use io_uring::{opcode, IoUring};

fn arg(n: usize, default: u64) -> Result<u64, Box<dyn std::error::Error>> {
    match std::env::args().nth(n) {
        Some(s) => Ok(s.parse()?),
        None => Ok(default),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ops = arg(1, 1_000_000)?;
    let batch = arg(2, 32)?;
    if batch == 0 || batch > 4096 || ops % batch != 0 {
        return Err("BATCH must be 1..=4096 and divide OPS".into());
    }
    let batch32 = u32::try_from(batch)?;
    let mut ring = IoUring::new(batch32.next_power_of_two())?;
    let mut sum = 0u64;
    let start = Instant::now();
    for _ in 0..ops / batch {
        {
            let mut sq = ring.submission();
            for i in 0..batch {
                let sqe = opcode::Nop::new().build().user_data(i);
                // SAFETY: a NOP names no memory.
                unsafe { sq.push(&sqe)? };
            }
        }
        ring.submit_and_wait(batch as usize)?;
        let mut got = 0;
        while got < batch {
            for cqe in ring.completion() {
                sum = sum.wrapping_add(cqe.user_data());
                got += 1;
            }
            if got < batch {
                ring.submit_and_wait((batch - got) as usize)?;
            }
        }
    }
    let elapsed = start.elapsed();
    black_box(sum);
    println!(
        "io-uring: {ops} nops, batch {batch}: {:.1} ns/op",
        elapsed.as_nanos() as f64 / ops as f64
    );
    Ok(())
}
