//! `uring bench nop`: NOP round trips through our ring, the measure of ring overhead.
//!
//! Each batch queues B NOPs, submits them and waits for all B with one `io_uring_enter`
//! (`submit_and_wait(B)`), then copies the completions out with `copy_cqes` (Zig's way), or
//! with `--in-place` visits them where they lie with `for_each_cqe` (liburing's
//! `io_uring_for_each_cqe` + `io_uring_cq_advance`). The printed figure is wall time per
//! NOP; run it under callgrind (two run lengths, subtract) for instructions per NOP.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use uring::sys::IoringSetupFlags;
use uring::{Cqe, IoUring};

/// Runs `ops` NOPs in batches of `batch` and prints ns per op; `in_place`: reaps with
/// `for_each_cqe` instead of `copy_cqes`.
pub fn run(ops: u64, batch: u32, in_place: bool) -> Result<()> {
    let entries = batch.next_power_of_two();
    let mut ring =
        IoUring::init(entries, IoringSetupFlags::empty()).context("cannot set up the ring")?;
    let mut cqes = vec![Cqe::default(); batch as usize];
    let start = Instant::now();
    let mut done = 0u64;
    let mut bad = 0u64;
    while done < ops {
        let b = u64::from(batch).min(ops - done) as u32;
        for i in 0..b {
            ring.nop(u64::from(i)).context("submission queue full")?;
        }
        ring.submit_and_wait(b).context("io_uring_enter")?;
        let mut got = 0;
        if in_place {
            // submit_and_wait(b) returned: all b are posted (a NOP completes inline), so
            // one visit sees them; the bound only guards against a kernel that posts late.
            for _ in 0..1000 {
                got += ring.for_each_cqe(|c| bad += u64::from(c.res != 0));
                if got >= b {
                    break;
                }
                ring.submit_and_wait(b - got).context("io_uring_enter")?;
            }
            if got < b {
                bail!("{} of {b} NOPs never completed", b - got);
            }
        }
        while got < b {
            let n = ring
                .copy_cqes(&mut cqes, b - got)
                .context("io_uring_enter")?;
            bad += cqes[..n as usize].iter().filter(|c| c.res != 0).count() as u64;
            got += n;
        }
        done += u64::from(b);
    }
    let elapsed = start.elapsed();
    if bad > 0 {
        bail!("{bad} NOPs completed with an error");
    }
    let ns = elapsed.as_nanos() as f64 / ops as f64;
    crate::util::out_line(format_args!(
        "nop: {ops} ops in batches of {batch}{}: {:.3} s, {ns:.1} ns/op, {:.2} M ops/s",
        if in_place { " (in place)" } else { "" },
        elapsed.as_secs_f64(),
        1e3 / ns
    ))?;
    Ok(())
}
