//! Shared harness of the kernel tests (Zig's `createSocketTestHarness` and friends).
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use rustix::net::{AddressFamily, SocketType};
use uring::{Cqe, IoUring, SockAddr};

/// Prints the one skip line the project allows, and only for a missing kernel feature.
pub fn skip(test: &str, reason: &str) {
    eprintln!("SKIP: {test}: {reason}");
}

/// A listener, and a connected pair made by accept + connect through the ring.
pub struct SocketTestHarness {
    pub listener: TcpListener,
    pub server: OwnedFd,
    pub client: OwnedFd,
}

impl SocketTestHarness {
    pub fn server(&self) -> RawFd {
        self.server.as_raw_fd()
    }
    pub fn client(&self) -> RawFd {
        self.client.as_raw_fd()
    }
}

/// Creates a TCP socket of the family of `addr` (blocking, close-on-exec).
pub fn tcp_socket(addr: &SocketAddr) -> OwnedFd {
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    rustix::net::socket(family, SocketType::STREAM, None).expect("socket")
}

/// Zig's `createSocketTestHarness`: listen on `bind` (port 0), then queue an accept and a
/// connect on `ring`, submit both, and match the two completions by user_data (either
/// order).
pub fn socket_test_harness_on(ring: &mut IoUring, bind: &str) -> SocketTestHarness {
    let listener = TcpListener::bind(bind).expect("bind");
    let addr = listener.local_addr().unwrap();
    let client = tcp_socket(&addr);
    let target = SockAddr::from(addr);
    let mut peer = SockAddr::default();
    let peer_len = peer.len_mut() as *mut u32;
    // SAFETY: `peer` and `target` outlive both completions, reaped below.
    unsafe {
        ring.accept(
            0xaaaaaaaa,
            listener.as_raw_fd(),
            peer.as_mut_ptr(),
            peer_len,
            uring::sys::SocketFlags::empty(),
        )
        .unwrap();
        ring.connect(
            0xcccccccc,
            client.as_raw_fd(),
            target.as_ptr(),
            target.len(),
        )
        .unwrap();
    }
    assert_eq!(ring.submit().unwrap(), 2);
    let mut accepted = None;
    let mut connected = false;
    for _ in 0..2 {
        let cqe = ring.copy_cqe().unwrap();
        match cqe.user_data {
            0xaaaaaaaa => {
                let fd = cqe.result().expect("accept");
                accepted = Some(fd as RawFd);
            }
            0xcccccccc => {
                assert_eq!(
                    cqe,
                    Cqe {
                        user_data: 0xcccccccc,
                        res: 0,
                        flags: 0
                    }
                );
                connected = true;
            }
            other => panic!("unexpected completion {other:#x}: {cqe:?}"),
        }
    }
    assert!(connected);
    let server = accepted.expect("accept completion");
    assert_eq!(peer.as_socket_addr().map(|a| a.ip()), Some(addr.ip()));
    SocketTestHarness {
        listener,
        // SAFETY: the accept completion handed us a fresh fd we own.
        server: unsafe { OwnedFd::from_raw_fd(server) },
        client,
    }
}

/// The IPv4 loopback harness, as in Zig.
pub fn socket_test_harness(ring: &mut IoUring) -> SocketTestHarness {
    socket_test_harness_on(ring, "127.0.0.1:0")
}

/// Reaps exactly `n` completions (bounded: each wait is for one CQE; a lost completion
/// fails the test through the timeout instead of hanging it).
pub fn reap(ring: &mut IoUring, n: usize) -> Vec<Cqe> {
    let mut out = Vec::with_capacity(n);
    let mut buf = [Cqe::default(); 64];
    while out.len() < n {
        if ring.cq_ready() == 0 {
            let waited = ring
                .submit_and_wait_timeout(1, std::time::Duration::from_secs(10))
                .expect("the wait");
            assert!(!waited.timed_out, "a completion within 10 s");
        }
        let got = ring.copy_cqes(&mut buf, 0).unwrap() as usize;
        out.extend_from_slice(&buf[..got]);
    }
    assert_eq!(out.len(), n, "more completions than expected: {out:?}");
    out
}

/// A fresh directory under the system temp dir, unique per process and test, removed (with
/// its contents) on drop; Zig's `std.testing.tmpDir`. Holds an open fd of the directory for
/// the `*at` operations.
pub struct TempDir {
    path: std::path::PathBuf,
    dir: OwnedFd,
}

impl TempDir {
    pub fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("uring-{}-{}", std::process::id(), test));
        // A leftover from a crashed run of the same pid is ours to remove.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("create temp dir");
        let dir = rustix::fs::open(
            &path,
            rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::DIRECTORY
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .expect("open temp dir");
        TempDir { path, dir }
    }

    /// The directory fd, for `dir_fd` arguments.
    pub fn fd(&self) -> RawFd {
        self.dir.as_raw_fd()
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Compares two sets of CQEs without regard to their order (completions of different
/// requests have none).
pub fn assert_same_cqes(got: &[Cqe], want: &[Cqe]) {
    let key = |c: &Cqe| (c.user_data, c.res, c.flags);
    let mut got = got.to_vec();
    let mut want = want.to_vec();
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
}

/// `-errno` as a CQE's `res`.
pub fn neg(errno: rustix::io::Errno) -> i32 {
    -errno.raw_os_error()
}

/// Whether the running kernel has `op`; prints the one skip line when it has not.
pub fn supported(ring: &IoUring, op: uring::sys::io_uring_op, test: &str) -> bool {
    let probe = ring.get_probe().expect("IORING_REGISTER_PROBE");
    if probe.is_supported(op) {
        true
    } else {
        skip(test, &format!("kernel lacks {op:?}"));
        false
    }
}

// ---------------------------------------------------------------------------------------
// Helpers of the hostile-condition tests (tests/hostile_*.rs).

use uring::sys::{io_uring_params, IoringSetupFlags};

/// One ring configuration the crate offers: a name for messages, the SQ size, the params.
pub struct RingConfig {
    pub name: &'static str,
    pub entries: u32,
    pub params: io_uring_params,
}

impl RingConfig {
    fn new(name: &'static str, entries: u32, flags: IoringSetupFlags) -> RingConfig {
        let mut params = io_uring_params::default();
        params.flags = flags;
        RingConfig {
            name,
            entries,
            params,
        }
    }

    /// Sets the ring up (panicking with the configuration's name on failure: on this
    /// kernel every configuration exists).
    pub fn ring(&self) -> IoUring {
        let mut params = self.params;
        IoUring::init_params(self.entries, &mut params)
            .unwrap_or_else(|e| panic!("{}: setup failed: {e}", self.name))
    }
}

/// Every ring configuration the crate drives (liburing's test matrix): the default,
/// SQPOLL, cooperative task running (with and without the TASKRUN flag), single issuer
/// (with and without deferred task running), a larger and a minimal completion queue,
/// no SQ index array, and SUBMIT_ALL.
pub fn ring_configurations() -> Vec<RingConfig> {
    let f = IoringSetupFlags::empty;
    let mut out = vec![RingConfig::new("default", 16, f())];
    let mut sqpoll = RingConfig::new("sqpoll", 16, IoringSetupFlags::SQPOLL);
    sqpoll.params.sq_thread_idle = 50;
    out.push(sqpoll);
    out.push(RingConfig::new(
        "coop_taskrun",
        16,
        IoringSetupFlags::COOP_TASKRUN,
    ));
    out.push(RingConfig::new(
        "coop_taskrun+taskrun_flag",
        16,
        IoringSetupFlags::COOP_TASKRUN | IoringSetupFlags::TASKRUN_FLAG,
    ));
    out.push(RingConfig::new(
        "single_issuer",
        16,
        IoringSetupFlags::SINGLE_ISSUER,
    ));
    out.push(RingConfig::new(
        "single_issuer+defer_taskrun",
        16,
        IoringSetupFlags::SINGLE_ISSUER | IoringSetupFlags::DEFER_TASKRUN,
    ));
    let mut cqsize = RingConfig::new("cqsize", 16, IoringSetupFlags::CQSIZE);
    cqsize.params.cq_entries = 256;
    out.push(cqsize);
    // A completion queue no larger than the submission queue: every scenario overflows it.
    let mut tiny = RingConfig::new("cqsize_tiny", 8, IoringSetupFlags::CQSIZE);
    tiny.params.cq_entries = 8;
    out.push(tiny);
    out.push(RingConfig::new(
        "no_sqarray",
        16,
        IoringSetupFlags::NO_SQARRAY,
    ));
    out.push(RingConfig::new(
        "submit_all",
        16,
        IoringSetupFlags::SUBMIT_ALL,
    ));
    out
}

/// The configuration called `name`.
pub fn ring_configuration(name: &str) -> RingConfig {
    ring_configurations()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no configuration {name}"))
}

/// What the zero-copy protocol check found for one request.
#[derive(Debug, Clone, Copy)]
pub struct ZcOutcome {
    pub first: Cqe,
    pub notif: Option<Cqe>,
}

/// Checks the two-completion protocol of the zero-copy request `user_data` among `cqes`
/// (everything reaped, any order): exactly one first completion (no `F_NOTIF`); with
/// `F_MORE` exactly one notification (`res` 0 or the usage bit, no `F_MORE`); without,
/// none — except after `-ECANCELED` from a broken link, which may still notify once
/// (FINDINGS.md 1).
pub fn check_zc_protocol(cqes: &[Cqe], user_data: u64) -> ZcOutcome {
    use uring::sys::IORING_NOTIF_USAGE_ZC_COPIED;
    let mine: Vec<Cqe> = cqes
        .iter()
        .filter(|c| c.user_data == user_data)
        .copied()
        .collect();
    let firsts: Vec<Cqe> = mine.iter().filter(|c| !c.notif()).copied().collect();
    let notifs: Vec<Cqe> = mine.iter().filter(|c| c.notif()).copied().collect();
    assert_eq!(
        firsts.len(),
        1,
        "one first completion for {user_data:#x}: {mine:?}"
    );
    let first = firsts[0];
    for n in &notifs {
        assert!(!n.more(), "a notification ends the request: {n:?}");
        assert_eq!(
            n.res as u32 & !IORING_NOTIF_USAGE_ZC_COPIED,
            0,
            "notification res is 0 or the usage bit: {n:?}"
        );
    }
    if first.more() {
        assert_eq!(
            notifs.len(),
            1,
            "F_MORE promises one notification: {mine:?}"
        );
    } else if first.err() == Some(rustix::io::Errno::CANCELED) {
        assert!(notifs.len() <= 1, "at most one notification: {mine:?}");
    } else {
        assert!(notifs.is_empty(), "no F_MORE, so no notification: {mine:?}");
    }
    ZcOutcome {
        first,
        notif: notifs.first().copied(),
    }
}

/// Reaps until every zero-copy request of `user_datas` has finished its protocol (first
/// completion, and the notification when that had `F_MORE`); other completions reaped
/// meanwhile are returned too. Bounded: each wait at most 10 s, at most `4 * n + extra`
/// completions.
pub fn reap_zc(ring: &mut IoUring, user_datas: &[u64], extra: usize) -> Vec<Cqe> {
    let mut all: Vec<Cqe> = Vec::new();
    let mut buf = [Cqe::default(); 64];
    let limit = user_datas.len() * 4 + extra;
    let done = |all: &Vec<Cqe>| {
        user_datas.iter().all(
            |&ud| match all.iter().find(|c| c.user_data == ud && !c.notif()) {
                None => false,
                Some(f) if f.more() => all.iter().any(|c| c.user_data == ud && c.notif()),
                Some(_) => true,
            },
        )
    };
    while !done(&all) {
        assert!(all.len() <= limit, "too many completions: {all:?}");
        if ring.cq_ready() == 0 {
            let waited = ring
                .submit_and_wait_timeout(1, std::time::Duration::from_secs(10))
                .expect("the wait");
            assert!(!waited.timed_out, "a completion within 10 s");
        }
        let n = ring.copy_cqes(&mut buf, 0).unwrap() as usize;
        all.extend_from_slice(&buf[..n]);
    }
    all
}

/// The open file descriptors of this process, each with what it points to.
pub fn open_fds() -> std::collections::BTreeMap<i32, String> {
    let mut out = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let entry = entry.expect("fd entry");
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // The directory's own fd is gone by the time readlink runs: skip what vanished.
        if let Ok(target) = std::fs::read_link(entry.path()) {
            out.insert(fd, target.to_string_lossy().into_owned());
        }
    }
    out
}

/// The lines of /proc/self/maps, without those of the C allocator and the stack, whose
/// bounds move with allocations, not with what a test leaks: `[heap]`, `[stack]`, and the
/// heaps of glibc's thread arenas (anonymous regions of a 64 MiB window that starts with
/// an anonymous mapping at its 64 MiB-aligned base: an arena may be created or grown at
/// any time by any thread's malloc). No mapping of a ring can hide there: ring mappings
/// are named `anon_inode:[io_uring]`, and a live arena window excludes other mappings.
pub fn mappings() -> std::collections::BTreeSet<String> {
    const ARENA_HEAP: usize = 64 << 20;
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    // (start, end, anonymous, line)
    let parsed: Vec<(usize, usize, bool, &str)> = maps
        .lines()
        .map(|l| {
            let mut fields = l.split_whitespace();
            let range = fields.next().unwrap();
            let (s, e) = range.split_once('-').unwrap();
            let start = usize::from_str_radix(s, 16).unwrap();
            let end = usize::from_str_radix(e, 16).unwrap();
            // perms, offset, dev, inode, then the path if any.
            let rest: Vec<&str> = fields.collect();
            let anonymous = rest.len() == 4 && rest[3] == "0";
            (start, end, anonymous, l)
        })
        .collect();
    let arena_bases: std::collections::BTreeSet<usize> = parsed
        .iter()
        .filter(|(start, _, anon, _)| *anon && start % ARENA_HEAP == 0)
        .map(|(start, ..)| *start)
        .collect();
    parsed
        .iter()
        .filter(|(start, end, anon, line)| {
            let base = start & !(ARENA_HEAP - 1);
            let in_arena = *anon && arena_bases.contains(&base) && *end <= base + ARENA_HEAP;
            !in_arena && !line.ends_with("[heap]") && !line.ends_with("[stack]")
        })
        .map(|(.., line)| (*line).to_owned())
        .collect()
}

/// The number of threads (tasks) of this process: io_uring's SQPOLL and io-wq threads
/// are tasks of the process that created the ring.
pub fn task_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .count()
}

/// The environment variable that tells a child process of a test binary which test it
/// runs alone.
const ALONE_CHILD: &str = "URING_TEST_ALONE";

/// Runs `body` alone: in a child process of this test binary, filtered to the test named
/// `test` with one test thread, so that no other test of the binary opens fds, maps memory
/// or starts threads meanwhile (the harness starts tests on new threads at any time, and a
/// new thread's stack can take the address just unmapped here). In the child, this
/// function runs `body`; in the parent, it spawns the child, waits (bounded: the child
/// is killed after `limit`) and fails with the child's output if the child failed.
pub fn run_alone(test: &str, limit: std::time::Duration, body: fn()) {
    if std::env::var(ALONE_CHILD).as_deref() == Ok(test) {
        body();
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env(ALONE_CHILD, test)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the test binary");
    // Drain both pipes on threads so the child never blocks on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).ok();
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{test}: the child ran longer than {limit:?}:\n{}\n{}",
                out.join().unwrap(),
                err.join().unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    // Pass the child's output on (the soak prints its totals there).
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        status.success(),
        "{test}: the child failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "{test}: the child ran no test:\n{stdout}"
    );
}

// ---------------------------------------------------------------------------------------
// Helpers of the safe zero-copy layer's hostile tests (tests/hostile_zc_safe.rs,
// tests/hostile_soak_safe.rs, the safe-layer section of tests/hostile_hygiene.rs): a byte
// stream cut from a fixed table, buffers of every kind carrying it, a ledger that checks
// every buffer comes back exactly once and intact, checking peers, and the consistency of
// the sender's statistics.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpStream, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use uring::zc::{
    BufferError, BufferPool, Completion, Config, Driver, PlainReason, Policy, SendPath, ZcBuffer,
    ZcSender, ZcStats,
};

/// The period of the test stream: the byte at offset `i` is `PATTERN[i % PERIOD]`. Odd and
/// larger than any buffer (1 MiB), so a repeated, dropped or reordered buffer shows.
pub const PERIOD: usize = (4 << 20) + 4093;

/// The pattern table, twice over so that any window of up to `PERIOD` bytes is one slice
/// (and can be sent as a `&'static` buffer). Built once, leaked.
pub fn pattern_table() -> &'static [u8] {
    use std::sync::OnceLock;
    static TABLE: OnceLock<&'static [u8]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v = vec![0u8; 2 * PERIOD];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for b in v[..PERIOD].iter_mut() {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            *b = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8;
        }
        v.copy_within(..PERIOD, PERIOD);
        Box::leak(v.into_boxed_slice())
    })
}

/// The `len` stream bytes from offset `at` (`len <= PERIOD`), borrowed from the table.
pub fn stream_slice(at: u64, len: usize) -> &'static [u8] {
    assert!(len <= PERIOD);
    let start = (at % PERIOD as u64) as usize;
    &pattern_table()[start..start + len]
}

/// The offset of the first byte of `data` that differs from the stream at `at`.
pub fn stream_mismatch(at: u64, data: &[u8]) -> Option<u64> {
    let mut done = 0usize;
    while done < data.len() {
        let n = (data.len() - done).min(PERIOD);
        let want = stream_slice(at + done as u64, n);
        let got = &data[done..done + n];
        if want != got {
            let k = (0..n).find(|&k| want[k] != got[k]).unwrap();
            return Some(at + (done + k) as u64);
        }
        done += n;
    }
    None
}

/// The kinds of buffer the sender owns, as the tests make them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Vec,
    Boxed,
    Static,
    /// `bytes::Bytes` (built as a `Vec` without the `bytes` feature).
    Bytes,
    /// A slot of a registered `BufferPool` (a `Vec` when no slot is free or large enough).
    Slot,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Vec,
        Kind::Boxed,
        Kind::Static,
        Kind::Bytes,
        Kind::Slot,
    ];
}

/// A buffer of `kind` holding `data`, and the kind it really is (a slot falls back to a
/// `Vec` when the pool has none free or `data` does not fit).
pub fn make_buffer(kind: Kind, data: &'static [u8], pool: Option<&BufferPool>) -> (ZcBuffer, Kind) {
    match kind {
        Kind::Vec => (data.to_vec().into(), Kind::Vec),
        Kind::Boxed => (data.to_vec().into_boxed_slice().into(), Kind::Boxed),
        Kind::Static => (ZcBuffer::Static(data), Kind::Static),
        Kind::Bytes => {
            #[cfg(feature = "bytes")]
            {
                (bytes::Bytes::from(data.to_vec()).into(), Kind::Bytes)
            }
            #[cfg(not(feature = "bytes"))]
            {
                (data.to_vec().into(), Kind::Vec)
            }
        }
        Kind::Slot => match pool
            .filter(|p| p.slot_size() >= data.len())
            .and_then(|p| p.get())
        {
            Some(mut slot) => {
                slot.set_len(data.len());
                slot.copy_from_slice(data);
                (slot.into(), Kind::Slot)
            }
            None => (data.to_vec().into(), Kind::Vec),
        },
    }
}

/// A buffer of `kind` holding `data` (any kind but `Static`, which becomes a `Vec`), and
/// the kind it really is (see [`make_buffer`]).
pub fn make_owned_buffer(kind: Kind, data: Vec<u8>, pool: Option<&BufferPool>) -> (ZcBuffer, Kind) {
    match kind {
        Kind::Vec | Kind::Static => (data.into(), Kind::Vec),
        Kind::Boxed => (data.into_boxed_slice().into(), Kind::Boxed),
        Kind::Bytes => {
            #[cfg(feature = "bytes")]
            {
                (bytes::Bytes::from(data).into(), Kind::Bytes)
            }
            #[cfg(not(feature = "bytes"))]
            {
                (data.into(), Kind::Vec)
            }
        }
        Kind::Slot => match pool
            .filter(|p| p.slot_size() >= data.len())
            .and_then(|p| p.get())
        {
            Some(mut slot) => {
                slot.set_len(data.len());
                slot.copy_from_slice(&data);
                (slot.into(), Kind::Slot)
            }
            None => (data.into(), Kind::Vec),
        },
    }
}

/// The kind a `ZcBuffer` is, in the tests' terms.
pub fn kind_of(b: &ZcBuffer) -> Kind {
    use uring::zc::BufferKind;
    match b.kind() {
        BufferKind::Vec => Kind::Vec,
        BufferKind::Boxed => Kind::Boxed,
        BufferKind::Static => Kind::Static,
        BufferKind::Slot => Kind::Slot,
        _ => Kind::Bytes,
    }
}

/// Overwrites a buffer that came back with 0xEE (where it is writable), so that a buffer
/// handed back while the kernel still reads it puts wrong bytes on the wire, which the
/// peer sees; then drops it (a slot goes back to its pool).
pub fn scribble(buffer: ZcBuffer) {
    match buffer {
        ZcBuffer::Vec(mut v) => v.fill(0xEE),
        ZcBuffer::Boxed(mut b) => b.fill(0xEE),
        ZcBuffer::Slot(mut s) => s.as_full_mut().fill(0xEE),
        _ => {}
    }
}

/// What the ledger knows of one accepted buffer.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// Stream offset of its bytes (a stream buffer).
    pub at: u64,
    /// A datagram: its bytes are `datagram_bytes(seq, len)`.
    pub datagram: bool,
    pub len: usize,
    /// The address of its bytes: a buffer that comes back must be this very buffer.
    pub ptr: usize,
    pub kind: Kind,
    /// What came back: `None` until it does.
    pub result: Option<Result<usize, BufferError>>,
    pub path: Option<SendPath>,
    pub copied: bool,
}

/// Every buffer a sender accepted, by seq (the sender numbers accepted buffers 0, 1, …):
/// checks that each comes back exactly once, as itself, intact.
#[derive(Debug, Default)]
pub struct Ledger {
    pub bufs: Vec<Accepted>,
    /// Buffers refused at once (and handed back in the `SendError`): never counted.
    pub refused: u64,
    /// The pool's slots are registered with another driver's ring: they go by plain
    /// `send_zc`, not `send_zc_fixed`.
    pub slots_unregistered: bool,
}

impl Ledger {
    /// Records a buffer the sender just accepted (its seq is the number accepted before).
    pub fn accepted(&mut self, at: u64, len: usize, ptr: usize, kind: Kind) {
        self.bufs.push(Accepted {
            at,
            datagram: false,
            len,
            ptr,
            kind,
            result: None,
            path: None,
            copied: false,
        });
    }

    /// Records a datagram the sender just accepted (its bytes: `datagram_bytes(seq, len)`).
    pub fn accepted_datagram(&mut self, len: usize, ptr: usize, kind: Kind) {
        self.accepted(0, len, ptr, kind);
        self.bufs.last_mut().unwrap().datagram = true;
    }

    /// Checks a buffer the sender refused: it is the one offered, untouched.
    pub fn refused(&mut self, buffer: &ZcBuffer, ptr: usize, len: usize) {
        assert_eq!(
            buffer.as_slice().as_ptr() as usize,
            ptr,
            "a refused buffer is the one offered"
        );
        assert_eq!(buffer.len(), len);
        self.refused += 1;
    }

    /// Checks one completion (a known seq, not back before, the same buffer, its bytes
    /// unchanged, an outcome that fits its length), records it, and scribbles the buffer.
    pub fn back(&mut self, c: Completion) {
        let seq = c.seq as usize;
        let n = self.bufs.len();
        let a = self
            .bufs
            .get_mut(seq)
            .unwrap_or_else(|| panic!("seq {seq} was never accepted ({n} were)"));
        assert!(
            a.result.is_none(),
            "seq {seq} came back twice: {:?} then {:?}",
            a.result,
            c.result
        );
        assert_eq!(
            c.buffer.as_slice().as_ptr() as usize,
            a.ptr,
            "seq {seq}: another buffer came back"
        );
        assert_eq!(c.buffer.len(), a.len, "seq {seq}: length changed");
        assert_eq!(kind_of(&c.buffer), a.kind, "seq {seq}: kind changed");
        if a.datagram {
            assert!(
                c.buffer.as_slice() == &datagram_bytes(seq as u64, a.len)[..],
                "seq {seq}: the bytes changed while the sender owned them"
            );
        } else {
            assert_eq!(
                stream_mismatch(a.at, c.buffer.as_slice()),
                None,
                "seq {seq}: the bytes changed while the sender owned them"
            );
        }
        match c.result {
            Ok(sent) => assert_eq!(sent, a.len, "seq {seq}: Ok means whole"),
            Err(e) => assert!(e.sent() <= a.len, "seq {seq}: {e:?}"),
        }
        if c.copied {
            assert!(
                c.path.is_some_and(SendPath::is_zero_copy),
                "seq {seq}: copied without zero-copy"
            );
        }
        // (A datagram to an address goes by sendmsg_zc, which has no fixed variant.)
        if a.kind == Kind::Slot
            && !self.slots_unregistered
            && c.dest.is_none()
            && c.path.is_some_and(SendPath::is_zero_copy)
        {
            assert_eq!(
                c.path,
                Some(SendPath::ZeroCopyFixed),
                "seq {seq}: a registered slot goes fixed"
            );
        }
        if a.kind != Kind::Slot {
            assert_ne!(
                c.path,
                Some(SendPath::ZeroCopyFixed),
                "seq {seq}: only slots go fixed"
            );
        }
        a.result = Some(c.result);
        a.path = c.path;
        a.copied = c.copied;
        scribble(c.buffer);
    }

    /// Takes every completion the sender has ready.
    pub fn collect(&mut self, sender: &ZcSender, driver: &mut Driver) {
        while let Some(c) = sender.next_completion(driver).unwrap() {
            self.back(c);
        }
    }

    pub fn accepted_count(&self) -> u64 {
        self.bufs.len() as u64
    }

    pub fn missing(&self) -> Vec<usize> {
        (0..self.bufs.len())
            .filter(|&i| self.bufs[i].result.is_none())
            .collect()
    }

    pub fn all_back(&self) -> bool {
        self.bufs.iter().all(|a| a.result.is_some())
    }

    /// Bytes the completions report sent.
    pub fn bytes_sent(&self) -> u64 {
        self.bufs
            .iter()
            .map(|a| match a.result {
                Some(Ok(n)) => n as u64,
                Some(Err(e)) => e.sent() as u64,
                None => 0,
            })
            .sum()
    }

    pub fn failed(&self) -> Vec<(usize, BufferError)> {
        self.bufs
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a.result {
                Some(Err(e @ BufferError::Failed { .. })) => Some((i, e)),
                _ => None,
            })
            .collect()
    }

    pub fn not_sent(&self) -> usize {
        self.bufs
            .iter()
            .filter(|a| matches!(a.result, Some(Err(BufferError::NotSent { .. }))))
            .count()
    }

    /// Stream invariants: the bytes sent form a prefix of the stream (every buffer before
    /// the first incomplete one went whole; none after it sent anything), at most one
    /// buffer carries the error (`Failed`), every later one is `NotSent` with the same
    /// cause, and `error` is that error. Returns the length of the prefix.
    pub fn check_stream(&self, error: Option<rustix::io::Errno>) -> u64 {
        assert!(self.all_back(), "never came back: {:?}", self.missing());
        let mut prefix = 0u64;
        let mut cut = None;
        for (i, a) in self.bufs.iter().enumerate() {
            let sent = match a.result.unwrap() {
                Ok(n) => n,
                Err(e) => e.sent(),
            };
            match cut {
                None => {
                    prefix += sent as u64;
                    if sent < a.len {
                        cut = Some(i);
                    }
                }
                Some(c) => assert_eq!(sent, 0, "seq {i} sent bytes after seq {c} stopped: a hole"),
            }
        }
        let failed = self.failed();
        assert!(failed.len() <= 1, "the error is reported once: {failed:?}");
        match error {
            None => {
                assert!(
                    failed.is_empty() && self.not_sent() == 0 && cut.is_none(),
                    "no error, yet {:?}",
                    self.bufs
                );
            }
            Some(errno) => {
                assert_eq!(
                    failed.len(),
                    1,
                    "the stream's error {errno:?} is reported on one buffer"
                );
                let (f, e) = failed[0];
                assert_eq!(e.errno(), errno);
                for (i, a) in self.bufs.iter().enumerate() {
                    let r = a.result.unwrap();
                    if i < f {
                        assert!(r.is_ok(), "seq {i} before the failed {f}: {r:?}");
                    } else if i > f {
                        assert!(
                            matches!(r, Err(BufferError::NotSent { cause, .. }) if cause == errno),
                            "seq {i} after the failed {f}: {r:?}"
                        );
                    }
                }
            }
        }
        prefix
    }
}

/// The statistics agree with the ledger and with each other, once every buffer is back.
pub fn check_stats(s: &ZcStats, ledger: &Ledger, config: &Config) {
    let n = ledger.accepted_count();
    let bytes: u64 = ledger.bufs.iter().map(|a| a.len as u64).sum();
    assert_eq!(s.buffers_submitted, n, "{s:?}");
    assert_eq!(
        s.buffers_returned, n,
        "buffers_returned == buffers_submitted: {s:?}"
    );
    assert_eq!(s.buffers_completed, n, "{s:?}");
    assert_eq!(s.bytes_submitted, bytes, "{s:?}");
    assert_eq!(s.bytes_returned, bytes, "{s:?}");
    assert_eq!(
        s.bytes_completed,
        ledger.bytes_sent(),
        "bytes_completed is what the completions report: {s:?}"
    );
    assert_eq!((s.bytes_in_flight, s.buffers_in_flight), (0, 0), "{s:?}");
    assert!(
        s.peak_bytes_in_flight <= config.budget_bytes as u64,
        "the budget holds: {s:?}"
    );
    assert!(
        s.peak_buffers_in_flight <= u64::from(config.max_buffers),
        "{s:?}"
    );
    assert_eq!(s.errors, ledger.failed().len() as u64, "{s:?}");
    assert_eq!(s.not_sent, ledger.not_sent() as u64, "{s:?}");
    // Each returned buffer is classified once, by its last request.
    let unsent = ledger
        .bufs
        .iter()
        .filter(|a| a.path.is_none() && !matches!(a.result, Some(Err(BufferError::NotSent { .. }))))
        .count() as u64;
    assert_eq!(
        s.zero_copy
            + s.fallback
            + s.plain_policy
            + s.plain_small
            + s.plain_kernel_copies
            + s.plain_measured
            + s.plain_small_part
            + s.plain_pin_limit
            + s.not_sent
            + unsent,
        s.buffers_returned,
        "{s:?}"
    );
    let count = |f: &dyn Fn(&Accepted) -> bool| ledger.bufs.iter().filter(|a| f(a)).count() as u64;
    let sent_ok = |a: &Accepted| !matches!(a.result, Some(Err(BufferError::NotSent { .. })));
    assert_eq!(
        s.zero_copy,
        count(&|a| sent_ok(a) && a.path.is_some_and(SendPath::is_zero_copy)),
        "{s:?}"
    );
    assert_eq!(
        s.plain_policy,
        count(&|a| sent_ok(a) && a.path == Some(SendPath::Plain(PlainReason::Policy))),
        "{s:?}"
    );
    assert_eq!(
        s.plain_small,
        count(&|a| sent_ok(a) && a.path == Some(SendPath::Plain(PlainReason::BelowThreshold))),
        "{s:?}"
    );
    assert_eq!(
        s.plain_kernel_copies,
        count(&|a| sent_ok(a) && a.path == Some(SendPath::Plain(PlainReason::KernelCopies))),
        "{s:?}"
    );
    assert_eq!(
        s.plain_measured,
        count(&|a| sent_ok(a) && a.path == Some(SendPath::Plain(PlainReason::Measured))),
        "{s:?}"
    );
    assert_eq!(
        s.fallback,
        count(&|a| sent_ok(a) && a.path == Some(SendPath::Plain(PlainReason::Fallback))),
        "{s:?}"
    );
    assert_eq!(
        s.plain_small_part,
        count(&|a| sent_ok(a) && a.path == Some(SendPath::Plain(PlainReason::SmallPart))),
        "{s:?}"
    );
    assert_eq!(
        s.plain_pin_limit,
        count(&|a| sent_ok(a) && a.path == Some(SendPath::Plain(PlainReason::PinLimit))),
        "{s:?}"
    );
    assert!(
        s.fixed_requests <= s.zc_requests && s.zc_requests <= s.requests,
        "{s:?}"
    );
    // A gathered request carries several buffers (`gathered_buffers` in `gathered`
    // requests); every other buffer sent had a request of its own, at least.
    assert!(s.gathered_buffers >= 2 * s.gathered, "{s:?}");
    assert!(
        s.requests + (s.gathered_buffers - s.gathered) >= n - count(&|a| a.path.is_none()),
        "a request for every buffer sent: {s:?}"
    );
    assert!(
        s.notifications <= s.zc_requests,
        "at most one notification per zero-copy request: {s:?}"
    );
    assert!(s.copied <= s.notifications, "{s:?}");
    // One notification of a gathered request covers all its buffers.
    assert!(
        s.copied + (s.gathered_buffers - s.gathered) >= count(&|a| a.copied),
        "{s:?}"
    );
    match config.policy {
        Policy::Never => {
            assert_eq!(
                (s.zc_requests, s.notifications, s.zero_copy),
                (0, 0, 0),
                "{s:?}"
            );
        }
        Policy::Always => {
            // (A buffer the kernel would not pin goes plain under any policy: PinLimit.)
            assert_eq!(
                s.plain_policy + s.plain_small + s.plain_kernel_copies + s.plain_measured,
                0,
                "{s:?}"
            );
        }
        Policy::Adaptive => assert_eq!(s.plain_policy, 0, "{s:?}"),
    }
    if config.policy != Policy::Adaptive {
        assert_eq!(
            s.plain_measured, 0,
            "only the adaptive policy measures: {s:?}"
        );
    }
    for (i, a) in ledger.bufs.iter().enumerate() {
        if config.policy == Policy::Adaptive && a.len < config.adaptive_min_size && a.path.is_some()
        {
            assert_eq!(
                a.path,
                Some(SendPath::Plain(PlainReason::BelowThreshold)),
                "seq {i}"
            );
        }
    }
}

/// How a stream peer misbehaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerFault {
    /// Reads everything to EOF.
    None,
    /// Resets (SO_LINGER 0 close) after this many bytes.
    Reset(u64),
    /// Stops reading after this many bytes until released; then reads on to EOF.
    StallThenRead(u64),
    /// Stops reading after this many bytes until released; then resets.
    StallThenReset(u64),
}

/// What a stream peer saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerReport {
    /// Bytes read (each checked against the stream).
    pub bytes: u64,
    /// The first offset that differed from the stream, if any.
    pub mismatch: Option<u64>,
    /// The stream ended with EOF (not a reset, an error or the fault).
    pub eof: bool,
    /// The peer stopped (reached its fault point) at some time.
    pub stalled: bool,
}

/// Closes `s` with SO_LINGER 0: the kernel sends a reset and drops both queues.
pub fn reset_close(s: TcpStream) {
    rustix::net::sockopt::set_socket_linger(&s, Some(Duration::ZERO)).unwrap();
    drop(s);
}

/// A stream peer: reads and checks the stream from offset 0, misbehaving as `fault` says.
/// `stalled` is signalled when it reaches its fault point; `release` lets a stalled peer
/// go on. Every wait is bounded (reads 20 s, the release 60 s).
pub fn stream_peer(
    mut s: TcpStream,
    fault: PeerFault,
    stalled: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
) -> std::thread::JoinHandle<PeerReport> {
    std::thread::spawn(move || {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let limit = match fault {
            PeerFault::None => u64::MAX,
            PeerFault::Reset(n) | PeerFault::StallThenRead(n) | PeerFault::StallThenReset(n) => n,
        };
        let mut r = PeerReport {
            bytes: 0,
            mismatch: None,
            eof: false,
            stalled: false,
        };
        let mut buf = vec![0u8; 256 * 1024];
        let mut read_some = |s: &mut TcpStream, r: &mut PeerReport, limit: u64| -> bool {
            while r.bytes < limit {
                let want = buf
                    .len()
                    .min((limit - r.bytes).min(usize::MAX as u64) as usize);
                match s.read(&mut buf[..want]) {
                    Ok(0) => {
                        r.eof = true;
                        return false;
                    }
                    Ok(n) => {
                        if r.mismatch.is_none() {
                            r.mismatch = stream_mismatch(r.bytes, &buf[..n]);
                        }
                        r.bytes += n as u64;
                    }
                    Err(_) => return false,
                }
            }
            true
        };
        if !read_some(&mut s, &mut r, limit) {
            let _ = stalled.send(());
            return r;
        }
        r.stalled = true;
        let _ = stalled.send(());
        match fault {
            PeerFault::None => {}
            PeerFault::Reset(_) => reset_close(s),
            PeerFault::StallThenRead(_) | PeerFault::StallThenReset(_) => {
                let released = release.recv_timeout(Duration::from_secs(60)).is_ok();
                if fault == PeerFault::StallThenReset(limit) || !released {
                    reset_close(s);
                } else {
                    read_some(&mut s, &mut r, u64::MAX);
                }
            }
        }
        r
    })
}

/// A connected TCP pair on loopback: (client, server).
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// A datagram's bytes: its seq (8 bytes, little endian), its length (4 bytes), then the
/// stream from `seq * 7919`; at least 12 bytes.
pub fn datagram_bytes(seq: u64, len: usize) -> Vec<u8> {
    assert!(len >= 12);
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.extend_from_slice(stream_slice(seq * 7919, len - 12));
    v
}

/// What a datagram peer saw: datagrams by seq (each checked whole), and anything wrong.
#[derive(Debug, Default)]
pub struct DatagramReport {
    pub received: BTreeMap<u64, usize>,
    pub duplicates: u64,
    pub corrupt: u64,
}

/// A datagram peer: receives until `stop` is signalled and the socket has been quiet for
/// 100 ms (bounded: 60 s in all), checking every datagram; closes its socket after
/// `close_after` datagrams if given (later datagrams then bounce: ECONNREFUSED).
pub fn datagram_peer(
    s: UdpSocket,
    close_after: Option<u64>,
    stop: mpsc::Receiver<()>,
) -> std::thread::JoinHandle<DatagramReport> {
    std::thread::spawn(move || {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut r = DatagramReport::default();
        let mut buf = vec![0u8; 65536];
        let start = Instant::now();
        let mut stopping = false;
        let mut count = 0u64;
        while start.elapsed() < Duration::from_secs(60) {
            if close_after.is_some_and(|n| count >= n) {
                drop(s);
                if !stopping {
                    let _ = stop.recv_timeout(Duration::from_secs(60));
                }
                return r;
            }
            match s.recv(&mut buf) {
                Ok(n) => {
                    count += 1;
                    let ok = n >= 12 && {
                        let seq = u64::from_le_bytes(buf[..8].try_into().unwrap());
                        let len = u32::from_le_bytes(buf[8..12].try_into().unwrap()) as usize;
                        len == n && buf[..n] == datagram_bytes(seq, n)[..] && {
                            if r.received.insert(seq, n).is_some() {
                                r.duplicates += 1;
                            }
                            true
                        }
                    };
                    if !ok {
                        r.corrupt += 1;
                    }
                }
                Err(_) => {
                    if stopping {
                        return r;
                    }
                }
            }
            if !stopping && stop.try_recv().is_ok() {
                stopping = true;
            }
        }
        r
    })
}

/// A `u64` from the environment variable `name`, if set and a number (soak lengths).
pub fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// The seed of a randomized soak: from `name` to replay a run, else from the clock (odd, so
/// never zero). The soaks print it.
pub fn soak_seed(name: &str) -> u64 {
    env_u64(name).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1
    })
}

/// How many slots of `slot_size` bytes a test pool may have, at most `want`: all of them
/// for a process that may pin freely, else as many as fit in a quarter of its
/// locked-memory limit (at least one), leaving room for the zero-copy sends' own pins and
/// for the other tests of the run (the limit is per user).
pub fn slots_that_fit(slot_size: usize, want: usize) -> usize {
    match uring::zc::Memlock::current().pinnable() {
        None => want,
        Some(limit) => ((limit / 4) as usize / slot_size.next_multiple_of(4096)).clamp(1, want),
    }
}

/// xorshift64*: a small deterministic generator, so that a seed replays a run. Test files
/// add the draws they need (`impl common::Rng { ... }`) on top of `next` and `below`.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform enough in `0..n` for tests (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
