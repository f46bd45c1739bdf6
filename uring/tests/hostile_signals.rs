//! Interrupted waits: a thread blocked in the ring's wait gets a signal whose handler was
//! installed without `SA_RESTART`. The wait ends with the typed
//! [`EnterError::SignalInterrupt`], nothing is lost (a request in flight during the wait
//! still completes, exactly once, and is reaped afterwards), and a storm of signals during
//! a stream of completions only costs retries. Every configuration whose waiting differs
//! is covered (default, SQPOLL, COOP_TASKRUN, SINGLE_ISSUER + DEFER_TASKRUN).
//!
//! A signal can only interrupt a wait that has begun, and the test cannot see the thread
//! enter the kernel: the signal is repeated (bounded) until the wait returns.

mod common;

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use common::RingConfig;
use uring::{timespec, Cqe, EnterError, IoUring, ReadBuffer, Timespec};

/// The configurations whose waiting differs: task work run at the wait (default), by a
/// kernel thread (SQPOLL), cooperatively, or only at the wait (DEFER_TASKRUN).
const CONFIGS: [&str; 5] = [
    "default",
    "sqpoll",
    "coop_taskrun+taskrun_flag",
    "single_issuer+defer_taskrun",
    "cqsize_tiny",
];

extern "C" fn ignore_signal(_: libc::c_int) {}

/// Installs a no-op handler for `signal`, with or without `SA_RESTART`.
fn install(signal: libc::c_int, restart: bool) {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler is an
    // async-signal-safe function that does nothing.
    unsafe {
        let mut action: libc::sigaction = core::mem::zeroed();
        action.sa_sigaction = ignore_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(signal, &action, core::ptr::null_mut()),
            0,
            "sigaction"
        );
    }
}

/// SIGUSR1 without SA_RESTART, SIGUSR2 with it; installed once for the whole binary.
fn handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        install(libc::SIGUSR1, false);
        install(libc::SIGUSR2, true);
    });
}

/// A thread's id for `pthread_kill`.
#[derive(Clone, Copy)]
struct Target(libc::pthread_t);

fn this_thread() -> Target {
    // SAFETY: pthread_self has no preconditions.
    Target(unsafe { libc::pthread_self() })
}

/// Sends `signal` to `target` every 2 ms until `returned` is set; returns how many were
/// sent. Bounded: fails after 5000 signals or 20 s.
fn signal_until(target: Target, signal: libc::c_int, returned: &AtomicBool) -> u32 {
    signal_every(target, signal, returned, Duration::from_millis(2))
}

/// Sends `signal` to `target` every `interval` until `returned` is set; returns how many
/// were sent. Bounded: fails after 100 000 signals or 20 s.
fn signal_every(
    target: Target,
    signal: libc::c_int,
    returned: &AtomicBool,
    interval: Duration,
) -> u32 {
    let start = Instant::now();
    let mut sent = 0;
    while !returned.load(Ordering::Acquire) {
        // SAFETY: the target thread has not been joined (the caller joins it only after
        // this returns), so its id is valid; it may have ended after setting `returned`.
        let r = unsafe { libc::pthread_kill(target.0, signal) };
        assert!(
            r == 0 || (r == libc::ESRCH && returned.load(Ordering::Acquire)),
            "pthread_kill: {r}"
        );
        sent += 1;
        assert!(
            sent < 100_000 && start.elapsed() < Duration::from_secs(20),
            "the wait never returned"
        );
        std::thread::sleep(interval);
    }
    sent
}

/// Sets its flag when dropped: the waiting thread says it returned (or panicked), so the
/// signalling loop stops either way.
struct Returned(Arc<AtomicBool>);

impl Drop for Returned {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Waits (bounded) until the SQPOLL thread has consumed every published SQE, so that the
/// next wait submits nothing: an enter that submits reports the submission, not EINTR.
fn wait_until_consumed(ring: &IoUring) {
    let start = Instant::now();
    while ring.sq_ready() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "SQ never consumed"
        );
        std::thread::yield_now();
    }
}

/// After the signalling stopped: a system call whose return delivers any signal still
/// pending for this thread, so that none interrupts the checks that follow.
fn drain_pending_signals() {
    // SAFETY: sched_yield has no preconditions.
    unsafe { libc::sched_yield() };
}

/// The waiting thread's id, or, if it ended (panicked) before sending it, its panic.
fn recv_or_join<T>(
    rx: &mpsc::Receiver<Target>,
    waiter: &mut Option<std::thread::JoinHandle<T>>,
) -> Target {
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(target) => target,
        Err(_) => match waiter.take().unwrap().join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(_) => panic!("the waiting thread ended without a word"),
        },
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap()
}

/// How the blocked thread waits.
#[derive(Clone, Copy, Debug)]
enum Waiter {
    SubmitAndWait,
    SubmitAndWaitTimeout,
    CopyCqe,
    CopyCqes,
}

impl Waiter {
    fn run(self, ring: &mut IoUring) -> Result<(), EnterError> {
        match self {
            Waiter::SubmitAndWait => ring.submit_and_wait(1).map(drop),
            Waiter::SubmitAndWaitTimeout => ring
                .submit_and_wait_timeout(1, Duration::from_secs(60))
                .map(drop),
            Waiter::CopyCqe => ring.copy_cqe().map(drop),
            Waiter::CopyCqes => {
                let mut cqes = [Cqe::default(); 4];
                ring.copy_cqes(&mut cqes, 1).map(drop)
            }
        }
    }
}

/// The waiting thread of one run: sets up the ring (SINGLE_ISSUER wants its creator),
/// submits a read of an empty pipe, blocks in `wait` until interrupted, then lets the main
/// thread write and reaps the read.
fn interrupted_wait(config: &'static str, wait: Waiter, signal: libc::c_int) {
    handlers();
    let (rd, wr) = pipe();
    let returned = Arc::new(AtomicBool::new(false));
    let (to_main, from_waiter) = mpsc::channel::<Target>();
    let (to_waiter, from_main) = mpsc::channel::<()>();
    let flag = returned.clone();
    let mut waiter = Some(std::thread::spawn(move || {
        let cfg: RingConfig = common::ring_configuration(config);
        let mut ring = cfg.ring();
        let mut buf = [0u8; 16];
        // SAFETY: `buf` outlives the completion, reaped below before `buf` is read.
        unsafe {
            ring.read(0x1, rd.as_raw_fd(), ReadBuffer::Buffer(&mut buf), u64::MAX)
                .unwrap()
        };
        assert_eq!(ring.submit().unwrap(), 1);
        wait_until_consumed(&ring);
        to_main.send(this_thread()).unwrap();

        let guard = Returned(flag);
        let result = wait.run(&mut ring);
        drop(guard);
        from_main.recv().unwrap(); // the signalling stopped
        drain_pending_signals();
        let tag = format!("{config}, {wait:?}");
        assert_eq!(result, Err(EnterError::SignalInterrupt), "{tag}");
        // The read is still in flight: nothing completed, nothing lost.
        assert_eq!(ring.cq_ready(), 0, "{tag}");

        to_main.send(this_thread()).unwrap(); // now write
        let cqe = ring.copy_cqe().unwrap();
        assert_eq!(
            cqe,
            Cqe {
                user_data: 0x1,
                res: 5,
                flags: 0
            },
            "{tag}"
        );
        ring.submit().unwrap();
        assert_eq!(ring.peek_cqe(), None, "{tag}: exactly one completion");
        drop(ring);
        assert_eq!(&buf[..5], b"hello", "{tag}");
    }));

    let target = recv_or_join(&from_waiter, &mut waiter);
    let sent = signal_until(target, signal, &returned);
    assert!(sent >= 1);
    to_waiter.send(()).unwrap();
    // Only once the waiter has checked the interruption: the data it then waits for.
    let _ = from_waiter.recv_timeout(Duration::from_secs(20));
    rustix::io::write(&wr, b"hello").unwrap();
    waiter.unwrap().join().expect("the waiting thread");
}

macro_rules! interrupted {
    ($($module:ident => $config:literal),* $(,)?) => {
        $(
            mod $module {
                use super::{interrupted_wait, Waiter};
                #[test]
                fn submit_and_wait_is_interrupted() {
                    interrupted_wait($config, Waiter::SubmitAndWait, libc::SIGUSR1);
                }
                #[test]
                fn submit_and_wait_timeout_is_interrupted() {
                    interrupted_wait($config, Waiter::SubmitAndWaitTimeout, libc::SIGUSR1);
                }
                #[test]
                fn copy_cqe_is_interrupted() {
                    interrupted_wait($config, Waiter::CopyCqe, libc::SIGUSR1);
                }
                #[test]
                fn copy_cqes_is_interrupted() {
                    interrupted_wait($config, Waiter::CopyCqes, libc::SIGUSR1);
                }
                /// io_uring_enter is not restarted even for a handler with SA_RESTART
                /// (the kernel returns EINTR, not ERESTARTSYS): the caller sees the
                /// typed interrupt and decides.
                #[test]
                fn sa_restart_still_interrupts() {
                    interrupted_wait($config, Waiter::SubmitAndWait, libc::SIGUSR2);
                }
            }
        )*

        #[test]
        fn every_waiting_configuration_is_covered() {
            let mut listed = vec![$($config),*];
            let mut want = CONFIGS.to_vec();
            listed.sort_unstable();
            want.sort_unstable();
            assert_eq!(listed, want);
        }
    };
}

interrupted! {
    default => "default",
    sqpoll => "sqpoll",
    coop_taskrun => "coop_taskrun+taskrun_flag",
    defer_taskrun => "single_issuer+defer_taskrun",
    cqsize_tiny => "cqsize_tiny",
}

/// The SQE is submitted by the same `io_uring_enter` that then waits: a signal during
/// that wait must neither lose the submission nor make the caller submit it again. The
/// kernel reports the submission (`Ok(1)`) rather than the interruption when it
/// submitted something, so `Ok` from `submit_and_wait` counts submissions, not
/// completions; the read completes later, once.
#[test]
fn interrupted_submit_and_wait_keeps_the_submission() {
    handlers();
    for config in CONFIGS {
        let (rd, wr) = pipe();
        let returned = Arc::new(AtomicBool::new(false));
        let (to_main, from_waiter) = mpsc::channel::<Target>();
        let (to_waiter, from_main) = mpsc::channel::<()>();
        let flag = returned.clone();
        let mut waiter = Some(std::thread::spawn(move || {
            let mut ring = common::ring_configuration(config).ring();
            let mut buf = [0u8; 16];
            // SAFETY: `buf` outlives the completion, reaped below.
            unsafe {
                ring.read(0x2, rd.as_raw_fd(), ReadBuffer::Buffer(&mut buf), u64::MAX)
                    .unwrap()
            };
            to_main.send(this_thread()).unwrap();
            // Submits the read, then waits for it: the signal ends the wait.
            let guard = Returned(flag);
            let result = ring.submit_and_wait(1);
            drop(guard);
            from_main.recv().unwrap();
            drain_pending_signals();
            match result {
                Ok(1) | Err(EnterError::SignalInterrupt) => {}
                other => panic!("{config}: {other:?}"),
            }
            // Either way the read was submitted: it is in the kernel's hands (the SQ is
            // empty) and has not completed.
            assert_eq!(ring.sq_ready(), 0, "{config}: submitted");
            assert_eq!(ring.cq_ready(), 0, "{config}: still in flight");
            to_main.send(this_thread()).unwrap();
            let cqe = ring.copy_cqe().unwrap();
            assert_eq!((cqe.user_data, cqe.res), (0x2, 3), "{config}");
            ring.submit().unwrap();
            assert_eq!(ring.peek_cqe(), None, "{config}: exactly one completion");
            drop(ring);
            assert_eq!(&buf[..3], b"abc");
            result
        }));
        let target = recv_or_join(&from_waiter, &mut waiter);
        signal_until(target, libc::SIGUSR1, &returned);
        to_waiter.send(()).unwrap();
        let _ = from_waiter.recv_timeout(Duration::from_secs(20));
        rustix::io::write(&wr, b"abc").unwrap();
        let result = waiter.unwrap().join().expect("the waiting thread");
        eprintln!("{config}: interrupted submit_and_wait returned {result:?}");
    }
}

/// A storm of signals while completions keep arriving: 200 timeouts expiring one after
/// the other, reaped by a loop that waits for one completion at a time and retries when
/// interrupted. Every completion arrives exactly once, with its result; interruptions only
/// cost retries.
#[test]
fn a_signal_storm_loses_no_completion() {
    handlers();
    for config in CONFIGS {
        let done = Arc::new(AtomicBool::new(false));
        let (to_main, from_waiter) = mpsc::channel::<Target>();
        let flag = done.clone();
        let mut waiter = Some(std::thread::spawn(move || {
            let _guard = Returned(flag);
            let mut ring = common::ring_configuration(config).ring();
            const N: u64 = 200;
            // Relative timeouts of 0.5 ms .. 100 ms, each completing with -ETIME.
            let stamps: Vec<Timespec> = (1..=N)
                .map(|i| timespec(Duration::from_micros(500 * i)))
                .collect();
            to_main.send(this_thread()).unwrap();
            let etime = common::neg(rustix::io::Errno::TIME);
            let mut seen = vec![false; N as usize];
            let mut interrupts = 0u32;
            let mut queued = 0usize;
            let mut buf = [Cqe::default(); 16];
            let start = Instant::now();
            let mut reaped = 0;
            while reaped < N as usize {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "{config}: bounded"
                );
                // Queue what fits (the SQ is smaller than N).
                while queued < N as usize {
                    let ts = &stamps[queued];
                    // SAFETY: `stamps` outlives every completion.
                    let r = unsafe {
                        ring.timeout(
                            queued as u64,
                            ts,
                            0,
                            uring::sys::IoringTimeoutFlags::empty(),
                        )
                    };
                    if r.is_err() {
                        break;
                    }
                    queued += 1;
                }
                match ring.submit_and_wait(1) {
                    Ok(_) => {}
                    Err(EnterError::SignalInterrupt) => {
                        interrupts += 1;
                        continue;
                    }
                    Err(e) => panic!("{config}: {e}"),
                }
                let n = match ring.copy_cqes(&mut buf, 0) {
                    Ok(n) => n as usize,
                    Err(EnterError::SignalInterrupt) => {
                        interrupts += 1;
                        continue;
                    }
                    Err(e) => panic!("{config}: {e}"),
                };
                for c in &buf[..n] {
                    let i = c.user_data as usize;
                    assert!(i < N as usize, "{config}: {c:?}");
                    assert!(!seen[i], "{config}: twice: {c:?}");
                    assert_eq!((c.res, c.flags), (etime, 0), "{config}: {c:?}");
                    seen[i] = true;
                }
                reaped += n;
            }
            assert!(seen.iter().all(|&s| s), "{config}");
            interrupts
        }));
        let target = recv_or_join(&from_waiter, &mut waiter);
        let sent = signal_every(target, libc::SIGUSR1, &done, Duration::from_micros(100));
        let interrupts = waiter.unwrap().join().expect("the waiting thread");
        eprintln!(
            "{config}: {sent} signals, {interrupts} interrupted waits, 200 of 200 completions"
        );
    }
}
