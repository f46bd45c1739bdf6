//! Helpers for the CLI tests: run the `uring` binary with bounded waits, read a line from a
//! child with a deadline, make pseudo-random files and hash them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The binary under test.
pub fn uring() -> Command {
    Command::new(env!("CARGO_BIN_EXE_uring"))
}

/// A fresh scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// Runs `cmd` to completion, killing it after `limit`.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    finish(child, limit)
}

/// Waits for `child` (killing it after `limit`) and collects its output.
pub fn finish(mut child: Child, limit: Duration) -> Output {
    let out = child.stdout.take();
    let err = child.stderr.take();
    let t_out = std::thread::spawn(move || slurp(out));
    let t_err = std::thread::spawn(move || slurp(err));
    let status = wait_bounded(&mut child, limit);
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

fn slurp(r: Option<impl Read>) -> Vec<u8> {
    let mut v = Vec::new();
    if let Some(mut r) = r {
        let _ = r.read_to_end(&mut v);
    }
    v
}

/// Waits for the child, killing it (and failing the test) after `limit`.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Lines of a child's stream, delivered through a channel (so reads can have deadlines).
pub struct Lines {
    rx: mpsc::Receiver<String>,
    /// Every line seen so far.
    pub seen: Vec<String>,
}

impl Lines {
    /// Starts reading `r` on a thread.
    pub fn new(r: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// From a child's stdout.
    pub fn stdout(child: &mut Child) -> Lines {
        let s: ChildStdout = child.stdout.take().expect("piped stdout");
        Lines::new(s)
    }

    /// From a child's stderr.
    pub fn stderr(child: &mut Child) -> Lines {
        let s: ChildStderr = child.stderr.take().expect("piped stderr");
        Lines::new(s)
    }

    /// The first line containing `needle`, within `limit`.
    pub fn find(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no line containing {needle:?} within {limit:?}; saw: {:#?}",
                    self.seen
                ),
            }
        }
    }

    /// Every remaining line, until the stream closes (bounded by `limit`).
    pub fn rest(&mut self, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        while let Ok(l) = self
            .rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(l);
        }
        self.seen.clone()
    }
}

/// The port at the end of a `... on ADDR:PORT` line.
pub fn port_of(line: &str) -> u16 {
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

/// Writes `len` pseudo-random bytes (xorshift64*, seeded) to `path`.
pub fn random_file(path: &Path, len: usize, seed: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut x = seed | 1;
    let mut chunk = vec![0u8; 1 << 16];
    let mut left = len;
    while left > 0 {
        for b in chunk.chunks_mut(8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let v = x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
            b.copy_from_slice(&v[..b.len()]);
        }
        let n = left.min(chunk.len());
        f.write_all(&chunk[..n]).expect("write");
        left -= n;
    }
    f.flush().expect("flush");
}

/// SHA-256 of a file, hex.
pub fn sha256(path: &Path) -> String {
    let mut f = std::fs::File::open(path).expect("open");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Text of a byte vector, for assertions.
pub fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Asserts a failed run: a non-zero exit code (not a signal), a message containing
/// `needle` on stderr, and no panic.
pub fn assert_clean_failure(out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure; stdout: {}; stderr: {err}",
        text(&out.stdout)
    );
    assert!(out.status.code().is_some(), "killed by a signal: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(
        err.contains(needle),
        "stderr should mention {needle:?}; got: {err}"
    );
}

/// The path of `socat`, or a failure that says how to install it (never a skip: the CI
/// installs it).
pub fn socat() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("socat");
        if p.is_file() {
            return p;
        }
    }
    panic!("socat is required for the interop tests: install it (apt-get install -y socat; .ci/run does)");
}

/// Why network namespaces cannot be made here, if they cannot (tried with a namespace of
/// its own, removed at once; one name per call, since tests run concurrently).
pub fn netns_unavailable() -> Option<String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    let name = format!("uring-check-{}-{n}", std::process::id());
    match Command::new("ip").args(["netns", "add", &name]).output() {
        Err(e) => Some(format!("cannot run `ip`: {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "`ip netns add` not permitted: {}",
            text(&o.stderr).trim()
        )),
        Ok(_) => {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
            None
        }
    }
}

/// The cell of `mode` and `size` in a `uring bench --json` report (it must be there).
pub fn cell<'a>(v: &'a serde_json::Value, mode: &str, size: u64) -> &'a serde_json::Value {
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|c| c["mode"] == mode && c["size"] == size)
        .unwrap_or_else(|| panic!("cell {mode} {size} missing: {v:#}"))
}
