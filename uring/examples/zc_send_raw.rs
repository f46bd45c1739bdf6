//! A raw zero-copy TCP sender for throughput comparisons (`bench/compare.sh`), the same
//! workload as liburing's `examples/send-zerocopy.c`: a connected TCP socket (SO_SNDBUF
//! 2 MiB, registered as fixed file 0), one registered payload buffer, batches of
//! `--inflight` sends submitted together, each batch reaped before the next; zero-copy
//! sends with MSG_WAITALL, plain sends (`--mode send`) without flags, as there. It is the
//! harness's stand-in until `uring bench --to` (crate uring-cli) exists.
//!
//! ```text
//! zc_send_raw --to 127.0.0.1:PORT [--mode zc-fixed|zc|send] [--size 65000]
//!             [--inflight 8] [--duration 3]
//! ```
//!
//! Prints one line on stdout: `...: X MB/s, N bytes in S s` (MB = 10^6 bytes), the shape of
//! `uring bench --to`'s line.

use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use uring::sys::{IoringSetupFlags, IOSQE_FIXED_FILE};
use uring::{iovec, Cqe, IoUring};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Send,
    Zc,
    ZcFixed,
}

struct Args {
    to: SocketAddr,
    mode: Mode,
    size: usize,
    inflight: u32,
    duration: Duration,
}

fn parse_args() -> Result<Args, Box<dyn std::error::Error>> {
    let mut to = None;
    let mut mode = Mode::ZcFixed;
    let mut size = 65000usize;
    let mut inflight = 8u32;
    let mut duration = 3.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--to" => to = Some(value()?.parse()?),
            "--mode" => {
                mode = match value()?.as_str() {
                    "send" => Mode::Send,
                    "zc" => Mode::Zc,
                    "zc-fixed" => Mode::ZcFixed,
                    m => return Err(format!("unknown mode {m}").into()),
                }
            }
            "--size" => size = value()?.parse()?,
            "--inflight" => inflight = value()?.parse()?,
            "--duration" => duration = value()?.parse()?,
            _ => return Err(format!("unknown argument {flag}").into()),
        }
    }
    if size == 0 || size > u32::MAX as usize / 2 {
        return Err("--size must be 1..2^31".into());
    }
    if inflight == 0 || inflight > 1024 {
        return Err("--inflight must be 1..=1024".into());
    }
    Ok(Args {
        to: to.ok_or("--to HOST:PORT is required")?,
        mode,
        size,
        inflight,
        duration: Duration::from_secs_f64(duration),
    })
}

/// A page-aligned heap buffer (registered buffers are pinned page by page).
struct Payload {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl Payload {
    fn new(size: usize) -> Payload {
        let layout = std::alloc::Layout::from_size_align(size, 4096).expect("layout");
        // SAFETY: non-zero size (checked by the caller).
        let ptr = unsafe { std::alloc::alloc(layout) };
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        for i in 0..size {
            // SAFETY: i < size, inside the allocation.
            unsafe { ptr.add(i).write(b'a' + (i % 26) as u8) };
        }
        Payload { ptr, layout }
    }
    fn as_slice(&self) -> &[u8] {
        // SAFETY: initialized above, `layout.size()` bytes, alive as long as self.
        unsafe { std::slice::from_raw_parts(self.ptr, self.layout.size()) }
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let stream = TcpStream::connect(args.to)?;
    rustix::net::sockopt::set_socket_send_buffer_size(&stream, 1 << 21)?;
    let entries = (args.inflight * 4).next_power_of_two();
    let mut ring = IoUring::init(entries, IoringSetupFlags::COOP_TASKRUN)?;
    ring.register_files(&[stream.as_raw_fd()])?;
    let payload = Payload::new(args.size);
    let buf = payload.as_slice();
    let iov = [iovec {
        iov_base: buf.as_ptr() as *mut core::ffi::c_void,
        iov_len: buf.len() as _,
    }];
    // SAFETY: `payload` outlives the ring's use of it: every send is reaped, notifications
    // included, before the end of main, and the ring is dropped before the payload.
    unsafe { ring.register_buffers(&iov)? };

    // As liburing's example: MSG_WAITALL on zero-copy sends, no flags on plain sends.
    let msg_flags = linux_raw_sys::net::MSG_WAITALL;
    let mut cqes = vec![Cqe::default(); (entries * 2) as usize];
    let mut bytes = 0u64;
    let mut notifs_due = 0u64;
    let start = Instant::now();
    let stop = start + args.duration;
    let mut done = false;
    while !done {
        for _ in 0..args.inflight {
            // SAFETY: `buf` is registered buffer 0 and stays valid and unmodified until
            // every notification was reaped (the drain below, before the payload drops).
            let mut sqe = unsafe {
                match args.mode {
                    Mode::Send => ring.send(1, 0, buf, 0)?,
                    Mode::Zc => ring.send_zc(1, 0, buf, msg_flags, 0)?,
                    Mode::ZcFixed => ring.send_zc_fixed(1, 0, buf, msg_flags, 0, 0)?,
                }
            };
            sqe.add_flags(IOSQE_FIXED_FILE);
        }
        // One enter submits the batch and waits for it; notifications of the previous
        // batch may count towards the wait, so the loop below waits for the rest.
        ring.submit_and_wait(args.inflight)?;
        let mut pending = args.inflight;
        while pending > 0 {
            let n = ring.copy_cqes(&mut cqes, 1)?;
            for cqe in &cqes[..n as usize] {
                if cqe.notif() {
                    notifs_due -= 1;
                    continue;
                }
                pending -= 1;
                if cqe.more() {
                    notifs_due += 1;
                }
                match cqe.result() {
                    Ok(sent) => bytes += u64::from(sent),
                    Err(e) => return Err(format!("send failed: {e}").into()),
                }
            }
        }
        done = Instant::now() >= stop;
    }
    let secs = start.elapsed().as_secs_f64();
    // Wait for the kernel to let go of the payload before it is freed.
    while notifs_due > 0 {
        let n = ring.copy_cqes(&mut cqes, 1)?;
        notifs_due -= cqes[..n as usize].iter().filter(|c| c.notif()).count() as u64;
    }
    drop(ring);
    println!(
        "zc_send_raw {:?} size {} inflight {}: {:.1} MB/s, {bytes} bytes in {secs:.3} s",
        args.mode,
        args.size,
        args.inflight,
        bytes as f64 / secs / 1e6
    );
    Ok(())
}
