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
            0,
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
            ring.submit_and_wait_timeout(1, std::time::Duration::from_secs(10))
                .expect("a completion within 10 s");
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
            ring.submit_and_wait_timeout(1, std::time::Duration::from_secs(10))
                .expect("a completion within 10 s");
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
