//! NOP round trips through the ring, for measuring ring overhead (e.g. with callgrind):
//! `nop [OPS] [BATCH] [copy|in-place]` queues BATCH NOPs, submits them with one
//! `submit_and_wait(BATCH)`, takes the BATCH completions (copied out with `copy_cqes`, Zig's
//! way and the default, or read in place with `for_each_cqe`, liburing's
//! `io_uring_for_each_cqe` way), and repeats until OPS NOPs have completed. `bench/callgrind_nop.sh` runs it at two lengths and divides the difference
//! of the instruction counts by the difference of the op counts, so start-up cancels out.

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use uring::sys::IoringSetupFlags;
use uring::{Cqe, IoUring};

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
    let in_place = match std::env::args().nth(3).as_deref() {
        None | Some("copy") => false,
        Some("in-place") => true,
        Some(other) => return Err(format!("unknown mode {other}: copy or in-place").into()),
    };
    let batch32 = u32::try_from(batch)?;
    let mut ring = IoUring::init(batch32.next_power_of_two(), IoringSetupFlags::empty())?;
    let start = Instant::now();
    let sum = if in_place {
        in_place_rounds(&mut ring, ops / batch, batch32)?
    } else {
        // Zig's way: the completions copied out (`copy_cqes`).
        let mut cqes = vec![Cqe::default(); batch as usize];
        let mut sum = 0u64;
        for _ in 0..ops / batch {
            for i in 0..batch {
                ring.nop(i)?;
            }
            ring.submit_and_wait(batch32)?;
            let mut got = 0;
            while got < batch32 {
                let n = ring.copy_cqes(&mut cqes, batch32 - got)?;
                for cqe in &cqes[..n as usize] {
                    sum = sum.wrapping_add(cqe.user_data);
                }
                got += n;
            }
        }
        sum
    };
    let elapsed = start.elapsed();
    black_box(sum);
    println!(
        "uring: {ops} nops, batch {batch}: {:.1} ns/op",
        elapsed.as_nanos() as f64 / ops as f64
    );
    Ok(())
}

/// `rounds` round trips of `batch` NOPs, the completions read in place (`for_each_cqe`).
fn in_place_rounds(ring: &mut IoUring, rounds: u64, batch: u32) -> Result<u64, Box<dyn Error>> {
    let mut sum = 0u64;
    for _ in 0..rounds {
        for i in 0..u64::from(batch) {
            ring.nop(i)?;
        }
        ring.submit_and_wait(batch)?;
        // Every NOP has completed (submit_and_wait returned): all are in the CQ.
        let got = ring.for_each_cqe(|cqe| sum = sum.wrapping_add(cqe.user_data));
        if got != batch {
            return Err(format!("{got} of {batch} completions ready").into());
        }
    }
    Ok(sum)
}
