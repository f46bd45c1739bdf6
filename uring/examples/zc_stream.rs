//! Streams 1 GiB through the safe zero-copy sender over TCP loopback and checks every byte.
//!
//! Buffers of 1 byte to 1 MiB (log-uniform sizes), of every kind the sender takes —
//! `Vec<u8>`, `Box<[u8]>`, `&'static [u8]`, slots of a registered `BufferPool` (sent with
//! `send_zc_fixed`) and, with `--features bytes`, `bytes::Bytes` — go out with policy
//! `Always`, so every one takes the zero-copy path. A receiver thread compares each byte
//! with the expected pattern. The result is one JSON line on stdout:
//!
//! ```text
//! {"bytes_sent":…,"bytes_received":…,"buffers_submitted":…,"buffers_returned":…,
//!  "notifications":…,"copied":…,"fallback":…,"errors":…,"data_ok":true,"mb_per_s":…}
//! ```
//!
//! and the exit status is non-zero if any invariant fails (received ≠ sent, returned ≠
//! submitted, a byte differs, an error). Run: `cargo run --release --example zc_stream`.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use uring::zc::{BufferPool, Config, Policy, ZcBuffer, ZcSender};

const TOTAL: u64 = 1 << 30;
const MAX_LEN: usize = 1 << 20;
/// The pattern repeats every PERIOD bytes: a prime, so that it lines up with no buffer
/// size or offset the program uses.
const PERIOD: usize = (1 << 20) + 7;

/// The expected stream: byte `i` is `table[i % PERIOD]`. The table is twice the period
/// long so that any window of up to one period is a single slice.
struct Pattern {
    table: &'static [u8],
}

impl Pattern {
    fn new() -> Pattern {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut table = Vec::with_capacity(2 * PERIOD);
        for _ in 0..PERIOD {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            table.push((x >> 32) as u8);
        }
        table.extend_from_within(..PERIOD);
        // Leaked on purpose: it backs `&'static [u8]` buffers for the whole run.
        Pattern {
            table: Box::leak(table.into_boxed_slice()),
        }
    }

    /// The `len` (≤ PERIOD) expected bytes at stream offset `at`.
    fn at(&self, at: u64, len: usize) -> &'static [u8] {
        let start = (at % PERIOD as u64) as usize;
        &self.table[start..start + len]
    }
}

/// xorshift64*: the sizes and kinds, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// 1..=MAX_LEN, log-uniform, so that tiny and huge buffers both appear often.
    fn len(&mut self) -> usize {
        let bits = (self.next() % 21) as u32; // 0..=20
        let lo = 1u64 << bits.saturating_sub(1);
        let hi = (1u64 << bits).min(MAX_LEN as u64);
        (lo + self.next() % (hi - lo + 1)).clamp(1, MAX_LEN as u64) as usize
    }
}

#[derive(Debug, Default)]
struct Received {
    bytes: u64,
    mismatch_at: Option<u64>,
}

fn receiver(mut stream: TcpStream, pattern: Arc<Pattern>) -> Received {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let mut buf = vec![0u8; MAX_LEN];
    let mut r = Received::default();
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return r,
            Ok(n) => n,
        };
        if r.mismatch_at.is_none() && buf[..n] != *pattern.at(r.bytes, n) {
            let k = (0..n)
                .find(|&k| buf[k] != pattern.at(r.bytes + k as u64, 1)[0])
                .unwrap_or(0);
            r.mismatch_at = Some(r.bytes + k as u64);
        }
        r.bytes += n as u64;
    }
}

/// What came back, checked against what was sent.
#[derive(Default)]
struct Tally {
    lens: std::collections::HashMap<u64, usize>,
    returned: u64,
    bad_results: u64,
}

impl Tally {
    fn check(&mut self, c: uring::zc::Completion, spare: &mut Vec<Vec<u8>>) {
        self.returned += 1;
        let want = self.lens.remove(&c.seq);
        if want.is_none() || c.result.ok() != want {
            self.bad_results += 1;
        }
        if let ZcBuffer::Vec(v) = c.buffer {
            spare.push(v);
        }
        // Slots go back to the pool when dropped here; the rest is freed.
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("zc_stream: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let pattern = Arc::new(Pattern::new());
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?)?;
    let (server, _) = listener.accept()?;
    let rx = {
        let pattern = Arc::clone(&pattern);
        std::thread::spawn(move || receiver(server, pattern))
    };

    let config = Config::default()
        .policy(Policy::Always)
        .depth(8)
        .budget_bytes(64 << 20)
        .max_buffers(4096)
        .wait_timeout(Some(Duration::from_secs(60)));
    let mut driver = config.driver()?;
    let pool = BufferPool::new(&mut driver, MAX_LEN, 32)?;
    let sender = ZcSender::new(&mut driver, client, config)?;

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut spare_vecs: Vec<Vec<u8>> = Vec::new();
    let mut kinds = [0u64; 5];
    let mut at = 0u64;
    let mut tally = Tally::default();
    let start = Instant::now();
    let mut seq = 0u64;
    let mut send_error = None;
    while at < TOTAL {
        let len = rng.len().min((TOTAL - at) as usize);
        let data = pattern.at(at, len);
        let kind = (rng.next() % 5) as usize;
        let buffer: ZcBuffer = match kind {
            0 => {
                let mut v = spare_vecs.pop().unwrap_or_default();
                v.clear();
                v.extend_from_slice(data);
                v.into()
            }
            1 => Box::<[u8]>::from(data).into(),
            2 => ZcBuffer::Static(data),
            3 => match pool.get() {
                Some(mut slot) => {
                    slot.set_len(len);
                    slot.copy_from_slice(data);
                    slot.into()
                }
                None => data.to_vec().into(),
            },
            _ => {
                #[cfg(feature = "bytes")]
                {
                    bytes::Bytes::copy_from_slice(data).into()
                }
                #[cfg(not(feature = "bytes"))]
                {
                    data.to_vec().into()
                }
            }
        };
        kinds[match &buffer {
            ZcBuffer::Vec(_) => 0,
            ZcBuffer::Boxed(_) => 1,
            ZcBuffer::Static(_) => 2,
            ZcBuffer::Slot(_) => 3,
            _ => 4,
        }] += 1;
        tally.lens.insert(seq, len);
        if let Err(e) = sender.send(&mut driver, buffer) {
            send_error = Some(e.to_string());
            break;
        }
        seq += 1;
        at += len as u64;
        while let Some(c) = sender.next_completion(&mut driver)? {
            tally.check(c, &mut spare_vecs);
        }
    }
    let drained = sender.wait_all(&mut driver, Duration::from_secs(60));
    while let Some(c) = sender.next_completion(&mut driver)? {
        tally.check(c, &mut spare_vecs);
    }
    let stats = sender.stats(&driver)?;
    // Closing hands back the socket (and any buffer still due); dropping the socket then
    // closes the connection: the receiver sees EOF.
    let closed = sender.close(&mut driver, Duration::from_secs(60));
    for c in closed.completions {
        tally.check(c, &mut spare_vecs);
    }
    let pending = closed.pending;
    drop(closed.socket);
    let got = rx.join().map_err(|_| "receiver thread panicked")?;
    let secs = start.elapsed().as_secs_f64();

    if let Some(e) = &send_error {
        eprintln!("zc_stream: send failed: {e}");
    }
    if let Err(e) = &drained {
        eprintln!("zc_stream: draining failed: {e}");
    }
    if pending > 0 {
        eprintln!("zc_stream: {pending} buffers still held by the kernel at the close");
    }
    if let Some(off) = got.mismatch_at {
        eprintln!("zc_stream: first wrong byte at offset {off}");
    }
    eprintln!(
        "zc_stream: buffers by kind: vec {} boxed {} static {} pool-slot {} bytes {}; \
         fixed requests {}, chains {}, peak in flight {} bytes",
        kinds[0],
        kinds[1],
        kinds[2],
        kinds[3],
        kinds[4],
        stats.fixed_requests,
        stats.chains,
        stats.peak_bytes_in_flight
    );
    let errors = stats.errors + tally.bad_results + u64::from(send_error.is_some());
    let data_ok = got.mismatch_at.is_none() && got.bytes == stats.bytes_completed;
    println!(
        "{{\"bytes_sent\":{},\"bytes_received\":{},\"buffers_submitted\":{},\
         \"buffers_returned\":{},\"notifications\":{},\"copied\":{},\"fallback\":{},\
         \"errors\":{},\"data_ok\":{},\"mb_per_s\":{:.1}}}",
        stats.bytes_completed,
        got.bytes,
        stats.buffers_submitted,
        tally.returned,
        stats.notifications,
        stats.copied,
        stats.fallback,
        errors,
        data_ok,
        got.bytes as f64 / secs / 1e6
    );
    Ok(data_ok
        && errors == 0
        && drained.is_ok()
        && pending == 0
        && stats.bytes_completed == TOTAL
        && got.bytes == TOTAL
        && tally.returned == stats.buffers_submitted
        && stats.buffers_returned == stats.buffers_submitted)
}
