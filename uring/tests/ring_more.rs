//! The ring and registration surface of liburing 2.15 beyond the basics: EXT_ARG waits
//! (timeout, minimum wait, signal mask), registered ring fds, synchronous cancellation,
//! io-wq tuning, the wait clock and buffer cloning. Against the running kernel; no test
//! asserts wall-clock timing (a wait that should end early and does not only makes a test
//! slow, never wrong), and completions are matched by user_data.

mod common;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{neg, reap};
use rustix::io::Errno;
use rustix::io_uring::{io_uring_enter, ClockId, IoringEnterFlags};
use uring::sys::{io_uring_op, IoringSetupFlags, KernelSigSet};
use uring::{
    iovec, CancelTarget, Cqe, EnterError, IoUring, RegisterError, SubmitWait, SyncCancel, WaitArgs,
};

/// A long bound for waits that the kernel should end early: never reached when the code
/// is right, and bounded when it is not.
const LONG: Duration = Duration::from_secs(10);

fn ring(flags: IoringSetupFlags) -> IoUring {
    IoUring::init(16, flags).expect("ring setup")
}

/// The plain ring and the single-issuer deferred-task-run ring, whose completions are
/// posted only by an enter of its own task.
fn ring_kinds() -> [(&'static str, IoringSetupFlags); 2] {
    [
        ("default", IoringSetupFlags::empty()),
        (
            "single_issuer+defer_taskrun",
            IoringSetupFlags::SINGLE_ISSUER | IoringSetupFlags::DEFER_TASKRUN,
        ),
    ]
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe().expect("pipe")
}

/// Queues a one-shot POLLIN on `fd`, which stays in flight while nothing is written.
fn poll_in(ring: &mut IoUring, user_data: u64, fd: BorrowedFd<'_>) {
    // SAFETY: the descriptor outlives the request: every caller keeps it open until the
    // poll's completion was reaped (it is cancelled before the pipe is dropped).
    unsafe { ring.poll_add(user_data, fd.as_raw_fd(), linux_raw_sys::general::POLLIN) }
        .expect("poll_add");
}

// ---- waits with EXT_ARG ----

/// With nothing to complete, a minimum wait inside a timeout ends as a timeout, for
/// `submit_and_wait_min_timeout`, `wait_cqes` and `submit_and_wait_args`.
#[test]
fn min_wait_with_no_completion_times_out() {
    for (name, flags) in ring_kinds() {
        let mut ring = ring(flags);
        let timeout = Duration::from_millis(20);
        let min = Duration::from_millis(1);
        assert_eq!(
            ring.submit_and_wait_min_timeout(1, timeout, min).unwrap(),
            SubmitWait {
                submitted: 0,
                timed_out: true
            },
            "{name}"
        );
        let args = WaitArgs::new().timeout(timeout).min_wait(min);
        assert!(ring.wait_cqes(1, &args).unwrap().timed_out, "{name}");
        assert!(
            ring.submit_and_wait_args(1, &args).unwrap().timed_out,
            "{name}"
        );
        // A minimum wait longer than the timeout: the timeout ends it.
        let args = WaitArgs::new().timeout(min).min_wait(timeout);
        assert!(ring.wait_cqes(1, &args).unwrap().timed_out, "{name}");
        assert_eq!(ring.cq_ready(), 0, "{name}");
    }
}

/// With a completion ready and fewer than `wait_nr`, the wait ends at the minimum wait
/// (not at the 10 s timeout) and reports the shortfall; with `wait_nr` met it ends with
/// `timed_out: false`.
#[test]
fn min_wait_returns_the_completions_that_are_ready() {
    for (name, flags) in ring_kinds() {
        let mut ring = ring(flags);
        ring.nop(1).unwrap();
        let got = ring
            .submit_and_wait_min_timeout(2, LONG, Duration::from_millis(1))
            .unwrap();
        assert_eq!(got.submitted, 1, "{name}");
        assert!(got.timed_out, "{name}: one of two is a shortfall");
        assert_eq!(ring.cq_ready(), 1, "{name}");
        let cqe = ring.peek_cqe().expect("the NOP's completion");
        assert_eq!((cqe.user_data, cqe.res), (1, 0), "{name}");

        ring.nop(2).unwrap();
        ring.nop(3).unwrap();
        let got = ring
            .submit_and_wait_min_timeout(2, LONG, Duration::from_micros(1))
            .unwrap();
        assert_eq!(
            got,
            SubmitWait {
                submitted: 2,
                timed_out: false
            },
            "{name}"
        );
        let mut seen: Vec<u64> = reap(&mut ring, 2).iter().map(|c| c.user_data).collect();
        seen.sort_unstable();
        assert_eq!(seen, [2, 3], "{name}");
    }
}

/// `wait_cqes` submits nothing: a queued SQE stays queued through a timed-out wait, and
/// a wait for a completion that is already posted returns at once.
#[test]
fn wait_cqes_does_not_submit() {
    for (name, flags) in ring_kinds() {
        let mut ring = ring(flags);
        ring.nop(7).unwrap();
        let args = WaitArgs::new().timeout(Duration::from_millis(5));
        assert_eq!(
            ring.wait_cqes(1, &args).unwrap(),
            SubmitWait {
                submitted: 0,
                timed_out: true
            },
            "{name}"
        );
        assert_eq!(ring.sq_ready(), 1, "{name}: still queued");
        assert_eq!(ring.submit().unwrap(), 1, "{name}");
        let got = ring.wait_cqes(1, &WaitArgs::new().timeout(LONG)).unwrap();
        assert!(!got.timed_out, "{name}");
        assert_eq!(ring.copy_cqe().unwrap().user_data, 7, "{name}");
        // No timeout at all: waits for the completion.
        ring.nop(8).unwrap();
        ring.submit().unwrap();
        assert!(!ring.wait_cqes(1, &WaitArgs::new()).unwrap().timed_out);
        assert_eq!(ring.copy_cqe().unwrap().user_data, 8, "{name}");
    }
}

static HANDLED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_signal(_: libc::c_int) {
    HANDLED.store(true, Ordering::SeqCst);
}

/// A signal blocked in the thread's mask stays pending through a plain timed wait; a wait
/// whose sigmask unblocks it is ended by it (`SignalInterrupt`), after its handler ran.
#[test]
fn sigmask_replaces_the_thread_mask_during_the_wait() {
    // A thread of its own: its signal mask is changed here.
    std::thread::spawn(|| {
        // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the handler only
        // stores to an atomic, which is async-signal-safe. SIGUSR1 is used by no other
        // test of this binary.
        unsafe {
            let mut action: libc::sigaction = core::mem::zeroed();
            action.sa_sigaction = note_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &action, core::ptr::null_mut()),
                0
            );
        }
        // SAFETY: plain sigset manipulation of local values, then the calling thread's
        // mask; pthread_kill to ourselves with a signal that has a handler.
        unsafe {
            let mut block: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut block);
            libc::sigaddset(&mut block, libc::SIGUSR1);
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, &block, core::ptr::null_mut()),
                0
            );
            assert_eq!(libc::pthread_kill(libc::pthread_self(), libc::SIGUSR1), 0);
        }
        let mut ring = ring(IoringSetupFlags::empty());
        let plain = WaitArgs::new().timeout(Duration::from_millis(5));
        assert!(ring.wait_cqes(1, &plain).unwrap().timed_out);
        assert!(!HANDLED.load(Ordering::SeqCst), "blocked: still pending");
        let empty = KernelSigSet::empty();
        // SAFETY: the empty set holds no signal the C library reserves.
        let unblocking = unsafe { WaitArgs::new().timeout(LONG).sigmask(&empty) };
        assert_eq!(
            ring.wait_cqes(1, &unblocking).unwrap_err(),
            EnterError::SignalInterrupt
        );
        assert!(
            HANDLED.load(Ordering::SeqCst),
            "the handler ran in the wait"
        );
        // The mask is back: a second signal stays pending again.
        HANDLED.store(false, Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { assert_eq!(libc::pthread_kill(libc::pthread_self(), libc::SIGUSR1), 0) };
        assert!(ring.wait_cqes(1, &plain).unwrap().timed_out);
        assert!(!HANDLED.load(Ordering::SeqCst));
        // Unblock to deliver it before the thread ends.
        // SAFETY: as above.
        unsafe {
            let mut block: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut block);
            libc::sigaddset(&mut block, libc::SIGUSR1);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &block, core::ptr::null_mut());
        }
        assert!(HANDLED.load(Ordering::SeqCst));
    })
    .join()
    .unwrap();
}

/// `enter` refuses the flags the ring must set itself, before any system call.
#[test]
fn enter_refuses_registered_ring_and_ext_arg() {
    let mut ring = ring(IoringSetupFlags::empty());
    ring.nop(1).unwrap();
    ring.flush_sq();
    assert_eq!(
        ring.enter(1, 0, IoringEnterFlags::REGISTERED_RING),
        Err(EnterError::RegisteredRingNotAllowed)
    );
    assert_eq!(
        ring.enter(1, 0, IoringEnterFlags::EXT_ARG),
        Err(EnterError::ExtArgNotAllowed)
    );
    assert_eq!(ring.sq_ready(), 1, "nothing was submitted");
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap().user_data, 1);
}

// ---- registered ring fds ----

/// `io_uring_enter` through a slot of the calling thread's table, as the test does it by
/// hand to check what a slot names.
fn enter_by_index(index: u32, to_submit: u32, min_complete: u32) -> Result<u32, Errno> {
    // SAFETY: the number is only an argument of io_uring_enter with REGISTERED_RING,
    // where the kernel reads it as a slot of this thread's table; no SQE names memory.
    unsafe {
        let fd = BorrowedFd::borrow_raw(index as i32);
        io_uring_enter(
            fd,
            to_submit,
            min_complete,
            IoringEnterFlags::GETEVENTS | IoringEnterFlags::REGISTERED_RING,
        )
    }
}

/// After `register_ring_fd` the slot names the ring on this thread, every entry point
/// works through it, and unregistering (or dropping the ring) empties the slot.
#[test]
fn registered_ring_fd_enters_by_index() {
    std::thread::spawn(|| {
        for (name, flags) in ring_kinds() {
            let mut ring = ring(flags);
            assert_eq!(ring.registered_ring_index(), None);
            let index = ring.register_ring_fd().unwrap();
            assert!(index < 16, "{name}");
            assert_eq!(ring.registered_ring_index(), Some(index), "{name}");
            assert_eq!(
                ring.register_ring_fd(),
                Err(RegisterError::AlreadyRegistered),
                "{name}"
            );
            // Register calls go through the slot too (USE_REGISTERED_RING): they work.
            assert!(ring
                .get_probe()
                .unwrap()
                .is_supported(io_uring_op::IORING_OP_NOP));
            ring.register_files_sparse(4).unwrap();
            assert_eq!(
                ring.register_files_sparse(4),
                Err(RegisterError::AlreadyRegistered),
                "{name}"
            );
            // SAFETY: no request uses the file table.
            unsafe { ring.unregister_files().unwrap() };
            // The slot names this ring: an enter by hand through it submits our NOP.
            ring.nop(1).unwrap();
            ring.flush_sq();
            assert_eq!(enter_by_index(index, 1, 1), Ok(1), "{name}");
            assert_eq!(ring.copy_cqe().unwrap().user_data, 1, "{name}");
            // And the ring's own paths (plain, timed, min-wait, wait only, get_events).
            for ud in 2..6 {
                ring.nop(ud).unwrap();
            }
            assert_eq!(ring.submit_and_wait(1).unwrap(), 4, "{name}");
            ring.nop(6).unwrap();
            assert!(!ring.submit_and_wait_timeout(5, LONG).unwrap().timed_out);
            ring.nop(7).unwrap();
            let got = ring
                .submit_and_wait_min_timeout(6, LONG, Duration::from_micros(1))
                .unwrap();
            assert!(!got.timed_out, "{name}");
            ring.get_events().unwrap();
            let mut seen: Vec<u64> = reap(&mut ring, 6).iter().map(|c| c.user_data).collect();
            seen.sort_unstable();
            assert_eq!(seen, [2, 3, 4, 5, 6, 7], "{name}");
            assert!(
                ring.wait_cqes(1, &WaitArgs::new().timeout(Duration::from_millis(1)))
                    .unwrap()
                    .timed_out
            );

            ring.unregister_ring_fd().unwrap();
            assert_eq!(ring.registered_ring_index(), None, "{name}");
            assert_eq!(
                ring.unregister_ring_fd(),
                Err(RegisterError::NotRegistered),
                "{name}"
            );
            assert_eq!(
                enter_by_index(index, 0, 0),
                Err(Errno::BADF),
                "{name}: empty slot"
            );
            ring.nop(8).unwrap();
            assert_eq!(ring.submit_and_wait(1).unwrap(), 1, "{name}");
            assert_eq!(ring.copy_cqe().unwrap().user_data, 8, "{name}");

            // Dropping a registered ring releases its slot.
            let index = ring.register_ring_fd().unwrap();
            drop(ring);
            assert_eq!(
                enter_by_index(index, 0, 0),
                Err(Errno::BADF),
                "{name}: released"
            );
        }
        // A slot beyond the table is the kernel's EINVAL.
        assert_eq!(enter_by_index(16, 0, 0), Err(Errno::INVAL));
    })
    .join()
    .unwrap();
}

/// A registered ring moved to another thread enters through its fd there, even when that
/// thread's table holds another ring in the same slot; only the registering thread may
/// unregister it, and back there the slot is used again.
#[test]
fn registered_ring_on_another_thread_uses_its_fd() {
    std::thread::spawn(|| {
        let mut a = ring(IoringSetupFlags::empty());
        let index = a.register_ring_fd().unwrap();
        let a = std::thread::spawn(move || {
            let mut a = a;
            // Fill this thread's table up to A's slot, so that the slot names another ring.
            let mut others = Vec::new();
            loop {
                let mut c = ring(IoringSetupFlags::empty());
                let got = c.register_ring_fd().unwrap();
                others.push(c);
                if got == index {
                    break;
                }
                assert!(got < index, "slots are handed out lowest first");
            }
            assert_eq!(a.registered_ring_index(), None);
            a.nop(42).unwrap();
            assert_eq!(a.submit_and_wait(1).unwrap(), 1);
            assert_eq!(a.copy_cqe().unwrap().user_data, 42);
            a.nop(43).unwrap();
            assert!(!a.submit_and_wait_timeout(1, LONG).unwrap().timed_out);
            assert_eq!(a.copy_cqe().unwrap().user_data, 43);
            let alias = others.last_mut().unwrap();
            assert_eq!(
                (alias.sq_ready(), alias.cq_ready()),
                (0, 0),
                "the other ring untouched"
            );
            assert_eq!(
                a.unregister_ring_fd(),
                Err(RegisterError::RegisteredOnOtherThread)
            );
            a
        })
        .join()
        .unwrap();
        let mut a = a;
        assert_eq!(a.registered_ring_index(), Some(index));
        a.nop(44).unwrap();
        a.flush_sq();
        assert_eq!(enter_by_index(index, 1, 1), Ok(1));
        assert_eq!(a.copy_cqe().unwrap().user_data, 44);
        a.unregister_ring_fd().unwrap();
    })
    .join()
    .unwrap();
}

/// A thread's table has 16 slots: the 17th registration is the kernel's EBUSY, typed.
#[test]
fn registered_ring_table_full() {
    std::thread::spawn(|| {
        let mut rings: Vec<IoUring> = (0..17).map(|_| ring(IoringSetupFlags::empty())).collect();
        let mut slots = Vec::new();
        for r in &mut rings[..16] {
            slots.push(r.register_ring_fd().unwrap());
        }
        slots.sort_unstable();
        assert_eq!(slots, (0..16).collect::<Vec<u32>>());
        assert_eq!(
            rings[16].register_ring_fd(),
            Err(RegisterError::AlreadyRegistered)
        );
        assert_eq!(rings[16].registered_ring_index(), None);
        // The unregistered ring still works, and so does a registered one.
        for (ud, r) in [(1u64, 16usize), (2, 3)] {
            rings[r].nop(ud).unwrap();
            assert_eq!(rings[r].submit_and_wait(1).unwrap(), 1);
            assert_eq!(rings[r].copy_cqe().unwrap().user_data, ud);
        }
    })
    .join()
    .unwrap();
}

// ---- synchronous cancellation ----

/// Cancels by user_data (the first match), then finds nothing; by opcode with the
/// user_data; the completions carry -ECANCELED.
#[test]
fn sync_cancel_by_user_data_and_opcode() {
    for (name, flags) in ring_kinds() {
        let mut ring = ring(flags);
        let (reader, _writer) = pipe();
        poll_in(&mut ring, 10, reader.as_fd());
        poll_in(&mut ring, 11, reader.as_fd());
        assert_eq!(ring.submit().unwrap(), 2, "{name}");
        ring.register_sync_cancel(&SyncCancel::new(CancelTarget::UserData(10)))
            .unwrap();
        let cqe = reap(&mut ring, 1)[0];
        assert_eq!(
            (cqe.user_data, cqe.res),
            (10, neg(Errno::CANCELED)),
            "{name}"
        );
        assert_eq!(
            ring.register_sync_cancel(&SyncCancel::new(CancelTarget::UserData(10))),
            Err(RegisterError::NotFound),
            "{name}"
        );
        // The right user_data with the wrong opcode matches nothing.
        let wrong = SyncCancel::new(CancelTarget::UserData(11)).opcode(io_uring_op::IORING_OP_NOP);
        assert_eq!(
            ring.register_sync_cancel(&wrong),
            Err(RegisterError::NotFound)
        );
        let right = SyncCancel::new(CancelTarget::UserData(11))
            .opcode(io_uring_op::IORING_OP_POLL_ADD)
            .timeout(LONG);
        ring.register_sync_cancel(&right).unwrap();
        let cqe = reap(&mut ring, 1)[0];
        assert_eq!(
            (cqe.user_data, cqe.res),
            (11, neg(Errno::CANCELED)),
            "{name}"
        );
        assert_eq!(ring.cq_ready(), 0);
    }
}

/// By file (every request on it, not the other pipe's), then ANY: everything left.
#[test]
fn sync_cancel_by_fd_and_any() {
    let mut ring = ring(IoringSetupFlags::empty());
    let (a, _wa) = pipe();
    let (b, _wb) = pipe();
    poll_in(&mut ring, 1, a.as_fd());
    poll_in(&mut ring, 2, a.as_fd());
    poll_in(&mut ring, 3, b.as_fd());
    poll_in(&mut ring, 4, b.as_fd());
    assert_eq!(ring.submit().unwrap(), 4);
    ring.register_sync_cancel(&SyncCancel::new(CancelTarget::Fd(a.as_fd())).all())
        .unwrap();
    let mut got: Vec<(u64, i32)> = reap(&mut ring, 2)
        .iter()
        .map(|c| (c.user_data, c.res))
        .collect();
    got.sort_unstable();
    let canceled = neg(Errno::CANCELED);
    assert_eq!(got, [(1, canceled), (2, canceled)]);
    assert_eq!(ring.cq_ready(), 0, "b's polls are still armed");
    ring.register_sync_cancel(&SyncCancel::any()).unwrap();
    let mut got: Vec<(u64, i32)> = reap(&mut ring, 2)
        .iter()
        .map(|c| (c.user_data, c.res))
        .collect();
    got.sort_unstable();
    assert_eq!(got, [(3, canceled), (4, canceled)]);
    // Nothing left: ANY, or ALL of a user_data, still succeeds (the kernel counts zero),
    // while one request of a user_data is NotFound; a fixed slot of a ring
    // without a file table is EBADF, and an unrepresentable timeout is refused.
    ring.register_sync_cancel(&SyncCancel::any()).unwrap();
    ring.register_sync_cancel(&SyncCancel::new(CancelTarget::UserData(3)).all())
        .unwrap();
    assert_eq!(
        ring.register_sync_cancel(&SyncCancel::new(CancelTarget::UserData(3))),
        Err(RegisterError::NotFound)
    );
    assert_eq!(
        ring.register_sync_cancel(&SyncCancel::new(CancelTarget::FixedFd(3))),
        Err(RegisterError::FileDescriptorInvalid)
    );
    assert_eq!(
        ring.register_sync_cancel(
            &SyncCancel::new(CancelTarget::UserData(1)).timeout(Duration::MAX)
        ),
        Err(RegisterError::Overflow)
    );
    assert_eq!(ring.copy_cqes(&mut [Cqe::default(); 4], 0).unwrap(), 0);
}

// ---- io-wq ----

/// Limits set are the limits read back; 0 leaves one as it is.
#[test]
fn iowq_max_workers_round_trip() {
    std::thread::spawn(|| {
        let mut ring = ring(IoringSetupFlags::empty());
        // A submission gives this thread its io-wq.
        ring.nop(1).unwrap();
        ring.submit_and_wait(1).unwrap();
        ring.copy_cqe().unwrap();
        let before = ring.register_iowq_max_workers(0, 0).unwrap();
        assert!(before[0] > 0 && before[1] > 0, "{before:?}");
        assert_eq!(ring.register_iowq_max_workers(2, 3).unwrap(), before);
        assert_eq!(ring.register_iowq_max_workers(0, 5).unwrap(), [2, 3]);
        assert_eq!(ring.register_iowq_max_workers(0, 0).unwrap(), [2, 5]);
        // Over INT_MAX: the kernel's EINVAL.
        assert_eq!(
            ring.register_iowq_max_workers(u32::MAX, 0),
            Err(RegisterError::ArgumentsInvalid)
        );
        assert_eq!(
            ring.register_iowq_max_workers(before[0], before[1])
                .unwrap(),
            [2, 5]
        );
    })
    .join()
    .unwrap();
}

/// The CPUs this thread may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is an empty set; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0
        );
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

/// The workers can be pinned to an allowed CPU and released; bad sets are typed errors.
#[test]
fn iowq_affinity() {
    std::thread::spawn(|| {
        let mut ring = ring(IoringSetupFlags::empty());
        let cpus = allowed_cpus();
        assert!(!cpus.is_empty());
        ring.nop(1).unwrap();
        ring.submit_and_wait(1).unwrap();
        ring.copy_cqe().unwrap();
        assert!(!cpus.is_empty());
        ring.register_iowq_aff(&cpus[..1]).unwrap();
        // Work still runs on the pinned workers (IOSQE_ASYNC forces one).
        ring.nop(3)
            .unwrap()
            .add_flags(uring::sys::IOSQE_ASYNC)
            .unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.copy_cqe().unwrap().user_data, 3);
        ring.register_iowq_aff(&cpus).unwrap();
        ring.unregister_iowq_aff().unwrap();
        assert_eq!(ring.register_iowq_aff(&[]), Err(RegisterError::Empty));
        assert_eq!(
            ring.register_iowq_aff(&[1 << 20]),
            Err(RegisterError::TooMany)
        );
        // And on the released ones.
        ring.nop(2)
            .unwrap()
            .add_flags(uring::sys::IOSQE_ASYNC)
            .unwrap();
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.copy_cqe().unwrap().user_data, 2);
    })
    .join()
    .unwrap();
}

// ---- clock ----

/// BOOTTIME and MONOTONIC are accepted (waits still time out), others refused.
#[test]
fn register_clock_choices() {
    let mut ring = ring(IoringSetupFlags::empty());
    ring.register_clock(ClockId::Boottime).unwrap();
    assert!(
        ring.submit_and_wait_timeout(1, Duration::from_millis(2))
            .unwrap()
            .timed_out
    );
    ring.register_clock(ClockId::Monotonic).unwrap();
    assert!(
        ring.submit_and_wait_timeout(1, Duration::from_millis(2))
            .unwrap()
            .timed_out
    );
    assert_eq!(
        ring.register_clock(ClockId::Realtime),
        Err(RegisterError::ArgumentsInvalid)
    );
}

// ---- buffer cloning ----

/// A fixed read through the clone lands in the source ring's buffer; a second clone needs
/// `replace`; a source without buffers is refused.
#[test]
fn clone_buffers_share_the_source_memory() {
    let mut src = ring(IoringSetupFlags::empty());
    let mut dst = ring(IoringSetupFlags::empty());
    let mut other = ring(IoringSetupFlags::empty());
    // SAFETY: no buffer table anywhere, so nothing is shared yet.
    assert_eq!(
        unsafe { other.register_clone_buffers(&dst, 0, 0, 0, false) },
        Err(RegisterError::NotRegistered)
    );
    let mut memory = vec![0u8; 4096];
    let iov = iovec {
        iov_base: memory.as_mut_ptr().cast(),
        iov_len: memory.len() as _,
    };
    // SAFETY: `memory` outlives all three rings (dropped after them, below) and is not
    // touched while a fixed read is in flight.
    unsafe { src.register_buffers(&[iov]).unwrap() };
    // SAFETY: as above: the clone names the same memory, which outlives `dst`.
    unsafe { dst.register_clone_buffers(&src, 0, 0, 0, false).unwrap() };
    // SAFETY: as above.
    assert_eq!(
        unsafe { dst.register_clone_buffers(&src, 0, 0, 0, false) },
        Err(RegisterError::AlreadyRegistered)
    );
    // SAFETY: as above; no request uses dst's table now.
    unsafe { dst.register_clone_buffers(&src, 0, 0, 1, true).unwrap() };

    let (reader, writer) = pipe();
    rustix::io::write(&writer, b"cloned").unwrap();
    // SAFETY: the slice lies in registered buffer 0 (of src, cloned into dst); the pipe
    // and the memory outlive the request, reaped below before either is touched.
    unsafe {
        dst.read_fixed(5, reader.as_raw_fd(), &mut memory[100..200], 0, 0)
            .unwrap();
    }
    let cqe = reap(&mut dst, 1)[0];
    assert_eq!((cqe.user_data, cqe.res), (5, 6));
    assert_eq!(&memory[100..106], b"cloned");
    drop((src, dst, other));
    drop(memory);
}

/// Neither side of a clone may be a driver's ring: refused before any system call.
#[test]
fn clone_buffers_refuse_a_driver_ring() {
    use uring::zc::{Driver, DriverConfig};
    let mut driver = Driver::new(DriverConfig::default()).unwrap();
    let mut plain = ring(IoringSetupFlags::empty());
    let mut memory = vec![0u8; 4096];
    let iov = iovec {
        iov_base: memory.as_mut_ptr().cast(),
        iov_len: memory.len() as _,
    };
    // SAFETY: `memory` outlives the ring (dropped after it).
    unsafe { plain.register_buffers(&[iov]).unwrap() };
    // SAFETY: refused before any system call; nothing would be shared.
    assert_eq!(
        unsafe { driver.ring().register_clone_buffers(&plain, 0, 0, 0, true) },
        Err(RegisterError::OwnedBySafeLayer)
    );
    let driver_ring = driver.ring();
    // SAFETY: as above.
    assert_eq!(
        unsafe { plain.register_clone_buffers(driver_ring, 0, 0, 0, true) },
        Err(RegisterError::OwnedBySafeLayer)
    );
    drop(plain);
    drop(memory);
}

// ---- ring resizing ----

/// A ring that can be resized: DEFER_TASKRUN (so SINGLE_ISSUER) and NO_SQARRAY.
fn resizable_ring(entries: u32, flags: IoringSetupFlags) -> IoUring {
    IoUring::init(
        entries,
        IoringSetupFlags::SINGLE_ISSUER
            | IoringSetupFlags::DEFER_TASKRUN
            | IoringSetupFlags::NO_SQARRAY
            | flags,
    )
    .expect("ring setup")
}

/// Runs `rounds` batches of `batch` NOPs through the ring (more than its entries in
/// total, so both rings wrap), checking each batch's user_data.
fn churn(ring: &mut IoUring, first: u64, rounds: u64, batch: u64) {
    for round in 0..rounds {
        let base = first + round * batch;
        for ud in base..base + batch {
            ring.nop(ud).unwrap();
        }
        ring.submit_and_wait(batch as u32).unwrap();
        let mut seen: Vec<u64> = reap(ring, batch as usize)
            .iter()
            .map(|c| c.user_data)
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (base..base + batch).collect::<Vec<_>>());
    }
}

/// Growing keeps what is pending on both sides: CQEs not reaped, SQEs submitted to no
/// one yet, published or only handed out; the new sizes are usable in full, across the
/// wrap (also with TASKRUN_FLAG, which the kernel signals in the SQ flags it copies).
#[test]
fn resize_rings_grows_and_keeps_pending_entries() {
    for (name, extra) in [
        ("plain", IoringSetupFlags::empty()),
        ("taskrun_flag", IoringSetupFlags::TASKRUN_FLAG),
    ] {
        let mut ring = resizable_ring(8, extra);
        // The head is not at 0: both rings have wrapped before the resize.
        churn(&mut ring, 1000, 5, 7);
        // Three completions left in the CQ, two SQEs published, one only handed out.
        for ud in 1..=3 {
            ring.nop(ud).unwrap();
        }
        ring.submit_and_wait(3).unwrap();
        ring.get_events().unwrap();
        assert_eq!(ring.cq_ready(), 3, "{name}");
        ring.nop(4).unwrap();
        ring.nop(5).unwrap();
        ring.flush_sq();
        ring.nop(6).unwrap();

        ring.resize_rings(64, Some(256)).unwrap();
        assert_eq!(ring.sq().entries(), 64, "{name}");
        assert_eq!(ring.cq().entries(), 256, "{name}");
        assert_eq!(ring.cq_ready(), 3, "{name}: completions kept");
        assert_eq!(ring.sq_ready(), 3, "{name}: SQEs kept");
        assert_eq!(ring.submit_and_wait(6).unwrap(), 3, "{name}");
        let mut seen: Vec<u64> = reap(&mut ring, 6).iter().map(|c| c.user_data).collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3, 4, 5, 6], "{name}");
        // The whole new SQ at once, several times over (the rings wrap again).
        churn(&mut ring, 2000, 6, 64);
        // The CQ holds more than the old 16 completions unreaped.
        for ud in 0..200 {
            if ring.sq_space_left() == 0 {
                ring.submit().unwrap();
            }
            ring.nop(3000 + ud).unwrap();
        }
        ring.submit_and_wait(200).unwrap();
        ring.get_events().unwrap();
        assert_eq!(ring.cq_ready(), 200, "{name}");
        let got = reap(&mut ring, 200);
        assert!(got.iter().all(|c| c.res == 0), "{name}");
    }
}

/// Shrinking works when what is pending fits, and is the kernel's EOVERFLOW (the ring
/// going on unchanged) when it does not; bad sizes and rings that cannot be resized are
/// typed errors.
#[test]
fn resize_rings_shrinks_or_refuses() {
    let mut ring = resizable_ring(32, IoringSetupFlags::empty());
    for ud in 0..20 {
        ring.nop(ud).unwrap();
    }
    ring.submit_and_wait(20).unwrap();
    ring.get_events().unwrap();
    assert_eq!(ring.cq_ready(), 20);
    assert_eq!(ring.resize_rings(4, Some(8)), Err(RegisterError::Overflow));
    assert_eq!((ring.sq().entries(), ring.cq().entries()), (32, 64));
    assert_eq!(ring.cq_ready(), 20, "nothing lost");
    let mut seen: Vec<u64> = reap(&mut ring, 20).iter().map(|c| c.user_data).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
    ring.resize_rings(4, Some(8)).unwrap();
    assert_eq!((ring.sq().entries(), ring.cq().entries()), (4, 8));
    churn(&mut ring, 100, 10, 4);
    // Rounded up to a power of two; CQ twice the SQ by default.
    ring.resize_rings(5, None).unwrap();
    assert_eq!((ring.sq().entries(), ring.cq().entries()), (8, 16));
    churn(&mut ring, 200, 5, 8);
    for (sq, cq) in [(0, None), (8, Some(4)), (1 << 20, None)] {
        assert_eq!(
            ring.resize_rings(sq, cq),
            Err(RegisterError::ArgumentsInvalid),
            "{sq} {cq:?}"
        );
    }
    churn(&mut ring, 300, 2, 8);

    let mut plain = IoUring::init(16, IoringSetupFlags::NO_SQARRAY).unwrap();
    assert_eq!(
        plain.resize_rings(32, None),
        Err(RegisterError::ArgumentsInvalid),
        "not DEFER_TASKRUN"
    );
    churn(&mut plain, 0, 2, 16);
    let defer = IoringSetupFlags::SINGLE_ISSUER | IoringSetupFlags::DEFER_TASKRUN;
    let mut with_array = IoUring::init(16, defer).unwrap();
    assert_eq!(
        with_array.resize_rings(32, None),
        Err(RegisterError::ResizeNeedsNoSqArray)
    );
    assert_eq!(with_array.sq().entries(), 16);
    churn(&mut with_array, 0, 2, 16);

    let mut driver = uring::zc::Driver::new(uring::zc::DriverConfig::default()).unwrap();
    assert_eq!(
        driver.ring().resize_rings(64, None),
        Err(RegisterError::OwnedBySafeLayer)
    );
}

// ---- restrictions, get_events, sqring_wait, iowait, eventfd toggle ----

/// After restrictions and enabling, SQEs and register calls outside the rules are
/// refused with EACCES, those inside work.
#[test]
fn restrictions_limit_a_disabled_ring() {
    use rustix::io_uring::IoringRegisterOp;
    use uring::Restriction;
    let mut ring = ring(IoringSetupFlags::R_DISABLED);
    assert_eq!(ring.register_restrictions(&[]), Err(RegisterError::Empty));
    ring.register_restrictions(&[
        Restriction::SqeOp(io_uring_op::IORING_OP_NOP),
        Restriction::SqeFlagsAllowed(uring::sys::IOSQE_IO_LINK),
        Restriction::RegisterOp(IoringRegisterOp::RegisterProbe),
    ])
    .unwrap();
    assert_eq!(
        ring.register_restrictions(&[Restriction::SqeOp(io_uring_op::IORING_OP_NOP)]),
        Err(RegisterError::AlreadyRegistered)
    );
    ring.enable_rings().unwrap();
    ring.nop(1).unwrap();
    ring.nop(2)
        .unwrap()
        .add_flags(uring::sys::IOSQE_IO_DRAIN)
        .unwrap();
    ring.timeout_remove(3, 99, uring::sys::IoringTimeoutFlags::empty())
        .unwrap();
    ring.nop(4)
        .unwrap()
        .add_flags(uring::sys::IOSQE_IO_LINK)
        .unwrap();
    ring.nop(5).unwrap();
    ring.submit().unwrap();
    let mut got: Vec<(u64, i32)> = reap(&mut ring, 5)
        .iter()
        .map(|c| (c.user_data, c.res))
        .collect();
    got.sort_unstable();
    let denied = neg(Errno::ACCESS);
    assert_eq!(got, [(1, 0), (2, denied), (3, denied), (4, 0), (5, 0)]);
    assert!(ring.get_probe().is_ok());
    assert_eq!(ring.register_personality(), Err(RegisterError::Restricted));
    // A ring that is not disabled takes no restrictions.
    let mut live = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
    assert_eq!(
        live.register_restrictions(&[Restriction::SqeOp(io_uring_op::IORING_OP_NOP)]),
        Err(RegisterError::FileDescriptorInBadState)
    );
}

/// `submit_and_get_events` submits and posts deferred completions without waiting.
#[test]
fn submit_and_get_events_posts_deferred_completions() {
    for (name, flags) in ring_kinds() {
        let mut ring = ring(flags);
        assert_eq!(ring.submit_and_get_events().unwrap(), 0, "{name}");
        ring.nop(1).unwrap();
        ring.nop(2).unwrap();
        assert_eq!(ring.submit_and_get_events().unwrap(), 2, "{name}");
        // NOPs complete inline; on the DEFER_TASKRUN ring the GETEVENTS posts them.
        let mut tries = 0;
        while ring.cq_ready() < 2 {
            tries += 1;
            assert!(tries < 1000, "{name}: completions never posted");
            ring.submit_and_get_events().unwrap();
        }
        let mut seen: Vec<u64> = reap(&mut ring, 2).iter().map(|c| c.user_data).collect();
        seen.sort_unstable();
        assert_eq!(seen, [1, 2], "{name}");
    }
}

/// On a full SQPOLL ring, `sqring_wait` returns once the thread made room; elsewhere at
/// once.
#[test]
fn sqring_wait_makes_room() {
    let mut plain = ring(IoringSetupFlags::empty());
    plain.sqring_wait().unwrap();
    let mut params = uring::sys::io_uring_params::default();
    params.flags = IoringSetupFlags::SQPOLL;
    params.sq_thread_idle = 10;
    let mut ring = IoUring::init_params(8, &mut params).unwrap();
    for round in 0..4u64 {
        // Let the thread go to sleep sometimes, so that the wait must wake it.
        if round % 2 == 1 {
            std::thread::sleep(Duration::from_millis(30));
        }
        let mut queued = 0;
        while ring.sq_space_left() > 0 {
            ring.nop(round * 100 + queued).unwrap();
            queued += 1;
        }
        assert_eq!(ring.sq_space_left(), 0);
        ring.sqring_wait().unwrap();
        assert!(
            ring.sq_space_left() > 0,
            "round {round}: room after the wait"
        );
        ring.submit().unwrap();
        let cqes = reap(&mut ring, queued as usize);
        assert!(cqes.iter().all(|c| c.res == 0));
    }
}

/// With the feature, waits without iowait accounting still work; the choice can be undone.
#[test]
fn set_iowait_off_and_on() {
    let mut ring = ring(IoringSetupFlags::empty());
    let has = ring
        .features()
        .contains(uring::sys::IoringFeatureFlags::from_bits_retain(
            uring::sys::IORING_FEAT_NO_IOWAIT,
        ));
    assert!(has, "Linux 6.15+ has IORING_FEAT_NO_IOWAIT");
    ring.set_iowait(false).unwrap();
    ring.nop(1).unwrap();
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap().user_data, 1);
    assert!(
        ring.submit_and_wait_timeout(1, Duration::from_millis(2))
            .unwrap()
            .timed_out
    );
    ring.set_iowait(true).unwrap();
    ring.nop(2).unwrap();
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    assert_eq!(ring.copy_cqe().unwrap().user_data, 2);
}

/// Disabling the eventfd stops its signalling for new completions; enabling resumes it.
#[test]
fn cq_eventfd_toggle() {
    use rustix::event::{eventfd, EventfdFlags};
    let mut ring = ring(IoringSetupFlags::empty());
    let efd = eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC).unwrap();
    ring.register_eventfd(efd.as_fd()).unwrap();
    let mut count = [0u8; 8];
    assert!(ring.cq_eventfd_enabled());
    ring.set_cq_eventfd_enabled(false);
    assert!(!ring.cq_eventfd_enabled());
    ring.nop(1).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.copy_cqe().unwrap().user_data, 1);
    assert_eq!(
        rustix::io::read(&efd, &mut count),
        Err(Errno::AGAIN),
        "not signalled"
    );
    ring.set_cq_eventfd_enabled(true);
    assert!(ring.cq_eventfd_enabled());
    ring.nop(2).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.copy_cqe().unwrap().user_data, 2);
    assert_eq!(rustix::io::read(&efd, &mut count), Ok(8));
    assert!(u64::from_ne_bytes(count) >= 1);
}

/// Without a timeout, the minimum wait is the whole wait: with nothing completing, it ends
/// the wait (a 10 s timeout request in flight bounds the test if it did not, and is still
/// pending when the wait returns).
#[test]
fn min_wait_without_timeout_ends_the_wait() {
    for (name, flags) in ring_kinds() {
        let mut ring = ring(flags);
        let ts = uring::timespec(LONG);
        // SAFETY: `ts` outlives the request: it is cancelled and reaped below.
        unsafe {
            ring.timeout(1, &ts, 0, uring::sys::IoringTimeoutFlags::empty())
                .unwrap()
        };
        assert_eq!(ring.submit().unwrap(), 1, "{name}");
        let args = WaitArgs::new().min_wait(Duration::from_millis(1));
        assert!(ring.wait_cqes(1, &args).unwrap().timed_out, "{name}");
        assert_eq!(
            ring.cq_ready(),
            0,
            "{name}: the timeout request is still pending"
        );
        ring.timeout_remove(2, 1, uring::sys::IoringTimeoutFlags::empty())
            .unwrap();
        ring.submit().unwrap();
        let mut got: Vec<(u64, i32)> = reap(&mut ring, 2)
            .iter()
            .map(|c| (c.user_data, c.res))
            .collect();
        got.sort_unstable();
        assert_eq!(got, [(1, neg(Errno::CANCELED)), (2, 0)], "{name}");
    }
}
