//! NOP round trips through the ring, for measuring ring overhead (e.g. with callgrind):
//! `nop [OPS] [BATCH]` queues BATCH NOPs, submits them with one `submit_and_wait(BATCH)`,
//! copies the BATCH completions out with `copy_cqes`, and repeats until OPS NOPs have
//! completed. `bench/callgrind_nop.sh` runs it at two lengths and divides the difference
//! of the instruction counts by the difference of the op counts, so start-up cancels out.

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
    let batch32 = u32::try_from(batch)?;
    let mut ring = IoUring::init(batch32.next_power_of_two(), IoringSetupFlags::empty())?;
    let mut cqes = vec![Cqe::default(); batch as usize];
    let mut sum = 0u64;
    let start = Instant::now();
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
    let elapsed = start.elapsed();
    black_box(sum);
    println!(
        "uring: {ops} nops, batch {batch}: {:.1} ns/op",
        elapsed.as_nanos() as f64 / ops as f64
    );
    Ok(())
}
