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
