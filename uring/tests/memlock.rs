//! The safe layer as a normal user: a process without `CAP_IPC_LOCK` under the usual
//! 8 MiB `RLIMIT_MEMLOCK`, where registered buffers and the pages of zero-copy sends are
//! charged to the limit.
//!
//! When the test process is privileged (root in CI), the test runs itself again as such a
//! process: `setpriv` drops CAP_IPC_LOCK from the bounding and inheritable sets (so the
//! child has it in no set) and `prlimit` sets the limit. When it already runs that way
//! (`scripts/test-unprivileged.sh`), it runs the checks directly.
#![forbid(unsafe_code)]

mod zc_util;

use std::process::Command;
use std::time::Duration;

use uring::zc::{BufferPool, Config, Memlock, Policy, PoolError, ZcSender};
use zc_util::{checking_receiver, chunk, tcp_pair};

const LIMIT: u64 = 8 << 20;
/// Longer than the helpers' bound: under the limit, refused pins are resent plain.
const BOUND: Duration = Duration::from_secs(30);

/// Sends `count` buffers of `len` bytes of the pattern through one sender and checks that
/// every one comes back whole and the peer reads them intact. Returns the stats.
fn stream_through(config: Config, len: usize, count: u64) -> uring::zc::ZcStats {
    let (client, server) = tcp_pair();
    let peer = checking_receiver(server, 1 << 16);
    let mut driver = config.driver().unwrap();
    let sender = ZcSender::new(&mut driver, client, config).unwrap();
    let mut back = 0u64;
    for i in 0..count {
        sender
            .send(&mut driver, chunk(i * len as u64, len))
            .unwrap_or_else(|e| panic!("buffer {i}: {e}"));
        for c in sender.completions(&mut driver).unwrap() {
            assert_eq!(c.result, Ok(len), "buffer {}: {:?}", c.seq, c.result);
            back += 1;
        }
    }
    sender.wait_all(&mut driver, BOUND).unwrap();
    for c in sender.completions(&mut driver).unwrap() {
        assert_eq!(c.result, Ok(len), "buffer {}: {:?}", c.seq, c.result);
        back += 1;
    }
    assert_eq!(back, count, "every buffer back");
    let stats = sender.stats(&driver).unwrap();
    drop(sender);
    driver.poll().unwrap();
    drop(driver);
    let (bytes, mismatch) = peer.join().unwrap().seen();
    assert_eq!(bytes, count * len as u64, "{stats:?}");
    assert_eq!(mismatch, None, "the peer saw wrong bytes");
    stats
}

/// The checks, in a process that has the limit.
fn unprivileged_checks() {
    let m = Memlock::current();
    assert!(!m.cap_ipc_lock, "{m:?}");
    let limit = m.pinnable().expect("a limited process");
    eprintln!("memlock: limit {limit} bytes, no CAP_IPC_LOCK");

    // The automatic budget fits the limit.
    let config = Config::default().policy(Policy::Always);
    let mut driver = config.driver().unwrap();
    let (c, _s) = tcp_pair();
    let sender = ZcSender::new(&mut driver, c, config.clone()).unwrap();
    let budget = sender.config(&driver).unwrap().budget_bytes as u64;
    assert!(budget <= limit / 2, "budget {budget} for limit {limit}");
    drop(sender);

    // A pool larger than the limit is refused, and the error says why, with numbers.
    let err = BufferPool::new(&mut driver, 1 << 20, ((2 * limit) >> 20) as usize).unwrap_err();
    let PoolError::Memlock(e) = err else {
        panic!("expected a memlock error, got {err:?}");
    };
    assert_eq!(e.limit, limit);
    assert_eq!(e.requested, 2 * limit);
    let text = err.to_string();
    assert!(
        text.contains("RLIMIT_MEMLOCK") && text.contains(&limit.to_string()),
        "{text}"
    );
    // One that fits is taken, and counted.
    let pool = BufferPool::new(&mut driver, 1 << 20, 2).unwrap();
    assert_eq!(driver.pinned_bytes(), 2 << 20);
    drop(pool);
    drop(driver);

    // The limit is per user, across drivers and processes: a second driver's pool that
    // the kernel can only partly register is refused whole (never a pool with holes in
    // its table, whose slots would fail with EFAULT).
    let mut one = config.driver().unwrap();
    let mut two = config.driver().unwrap();
    // The largest pool of 1 MiB slots that fits now (what is charged already, by rings
    // still being torn down, is not ours to know): k fit, k + 1 do not, so a second pool of
    // k cannot fit beside it.
    let (first, slots) = (1..=(limit >> 20) as usize)
        .rev()
        .find_map(|k| BufferPool::new(&mut one, 1 << 20, k).ok().map(|p| (p, k)))
        .expect("one 1 MiB slot fits an 8 MiB limit");
    let err = BufferPool::new(&mut two, 1 << 20, slots).unwrap_err();
    assert!(matches!(err, PoolError::Memlock(_)), "{err:?}");
    assert_eq!(two.pinned_bytes(), 0, "nothing counted for a refused pool");
    drop(first);
    one.poll().unwrap();
    drop(one);
    drop(two);

    // The case: 100 buffers of 256 KiB with the default budget, zero-copy.
    let stats = stream_through(config.clone(), 256 << 10, 100);
    eprintln!("default budget: {stats:?}");
    assert!(stats.zc_requests > 0, "{stats:?}");
    // A budget far over the limit: the kernel refuses to pin some sends; they go plain,
    // in order, and nothing fails.
    let stats = stream_through(config.budget_bytes(64 << 20), 1 << 20, 64);
    eprintln!("64 MiB budget: pin_refused {} {stats:?}", stats.pin_refused);
    assert_eq!(stats.errors, 0);
}

#[test]
fn the_safe_layer_works_for_a_normal_user() {
    if Memlock::current().pinnable().is_some() {
        unprivileged_checks();
        return;
    }
    if std::env::var_os("URING_MEMLOCK_CHILD").is_some() {
        panic!(
            "the child still has CAP_IPC_LOCK or no limit: {:?}",
            Memlock::current()
        );
    }
    // Privileged: run this very test again without CAP_IPC_LOCK, under the 8 MiB limit.
    let exe = std::env::current_exe().unwrap();
    let limit = format!("--memlock={LIMIT}:{LIMIT}");
    let out = Command::new("setpriv")
        .args([
            "--bounding-set=-ipc_lock",
            "--inh-caps=-ipc_lock",
            "prlimit",
            &limit,
            "--",
        ])
        .arg(&exe)
        .args([
            "--exact",
            "the_safe_layer_works_for_a_normal_user",
            "--nocapture",
        ])
        .env("URING_MEMLOCK_CHILD", "1")
        .output()
        .expect("setpriv and prlimit (util-linux) must be installed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "unprivileged run failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed") && stderr.contains("no CAP_IPC_LOCK"),
        "the unprivileged run did not run the checks:\n{stdout}\n{stderr}"
    );
}
