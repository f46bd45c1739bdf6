//! The ring itself: setup variants, bad setup input, the SQ-full error, CQ overflow, and
//! the queue bookkeeping.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use uring::sys::{io_uring_params, IoringFeatureFlags, IoringSetupFlags};
use uring::{Cqe, EnterError, IoUring, SetupError, SubmissionQueueFull, SubmitWait};

/// The ring configurations the crate offers, each with its name.
fn configurations() -> Vec<(&'static str, u32, io_uring_params)> {
    let mut out = Vec::new();
    let with = |flags: IoringSetupFlags| {
        let mut p = io_uring_params::default();
        p.flags = flags;
        p
    };
    out.push(("default", 16, with(IoringSetupFlags::empty())));
    let mut sqpoll = with(IoringSetupFlags::SQPOLL);
    sqpoll.sq_thread_idle = 50;
    out.push(("sqpoll", 16, sqpoll));
    let mut cqsize = with(IoringSetupFlags::CQSIZE);
    cqsize.cq_entries = 256;
    out.push(("cqsize", 16, cqsize));
    out.push((
        "coop_taskrun",
        16,
        with(IoringSetupFlags::COOP_TASKRUN | IoringSetupFlags::TASKRUN_FLAG),
    ));
    out.push((
        "single_issuer+defer_taskrun",
        16,
        with(IoringSetupFlags::SINGLE_ISSUER | IoringSetupFlags::DEFER_TASKRUN),
    ));
    out.push(("no_sqarray", 16, with(IoringSetupFlags::NO_SQARRAY)));
    out
}

#[test]
fn every_configuration_runs_nops_and_send_zc() {
    for (name, entries, mut params) in configurations() {
        let mut ring = IoUring::init_params(entries, &mut params)
            .unwrap_or_else(|e| panic!("{name}: setup failed: {e}"));
        if name == "cqsize" {
            assert_eq!(ring.cq().entries(), 256, "{name}");
        }
        assert!(ring.features().contains(IoringFeatureFlags::NODROP));
        // NOPs, more rounds than the SQ holds so head/tail wrap.
        for round in 0..5u64 {
            for i in 0..entries as u64 {
                ring.nop(round << 32 | i).unwrap();
            }
            assert!(ring.nop(0).is_err(), "{name}: SQ should be full");
            ring.submit().unwrap();
            let cqes = common::reap(&mut ring, entries as usize);
            let mut uds: Vec<u64> = cqes.iter().map(|c| c.user_data).collect();
            uds.sort_unstable();
            let want: Vec<u64> = (0..entries as u64).map(|i| round << 32 | i).collect();
            assert_eq!(uds, want, "{name}");
            assert!(cqes.iter().all(|c| c.res == 0 && c.flags == 0), "{name}");
        }
        // A zero-copy send with its notification.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let data = vec![0x5au8; 20_000];
        // SAFETY: `data` outlives the notification, reaped below.
        unsafe {
            ring.send_zc(
                7,
                c.as_raw_fd(),
                &data,
                uring::sys::SendFlags::empty(),
                uring::sys::IoringSendFlags::empty(),
            )
            .unwrap()
        };
        ring.submit().unwrap();
        let cqes = common::reap(&mut ring, 2);
        let first = cqes.iter().find(|c| !c.notif()).expect("first completion");
        assert_eq!(first.result(), Ok(20_000), "{name}");
        assert!(first.more());
        assert_eq!(cqes.iter().filter(|c| c.notif()).count(), 1, "{name}");
        let mut got = vec![0u8; 20_000];
        s.read_exact(&mut got).unwrap();
        assert_eq!(got, data, "{name}");
    }
}

#[test]
fn bad_setup_input_gets_typed_errors() {
    let none = IoringSetupFlags::empty();
    assert_eq!(IoUring::init(0, none).unwrap_err(), SetupError::EntriesZero);
    assert_eq!(
        IoUring::init(3, none).unwrap_err(),
        SetupError::EntriesNotPowerOfTwo
    );
    // Larger than the kernel's maximum (32768) without IORING_SETUP_CLAMP.
    assert_eq!(
        IoUring::init(1 << 16, none).unwrap_err(),
        SetupError::ArgumentsInvalid
    );
    // ... which CLAMP turns into the maximum.
    let clamped = IoUring::init(1 << 16, IoringSetupFlags::CLAMP).unwrap();
    assert_eq!(clamped.sq().entries(), 32768);
    // DEFER_TASKRUN needs SINGLE_ISSUER.
    assert_eq!(
        IoUring::init(8, IoringSetupFlags::DEFER_TASKRUN).unwrap_err(),
        SetupError::ArgumentsInvalid
    );
    // Output fields must be zero; cq_entries needs CQSIZE.
    let mut p = io_uring_params::default();
    p.cq_entries = 64;
    assert_eq!(
        IoUring::init_params(8, &mut p).unwrap_err(),
        SetupError::ParamsInvalid
    );
    let mut p = io_uring_params::default();
    p.sq_entries = 8;
    assert_eq!(
        IoUring::init_params(8, &mut p).unwrap_err(),
        SetupError::ParamsInvalid
    );
    // Layouts this crate does not drive are refused before the syscall.
    assert!(matches!(
        IoUring::init(8, IoringSetupFlags::CQE32).unwrap_err(),
        SetupError::UnsupportedFlags(_)
    ));
    // Every error converts to io::Error with its errno where there is one.
    let io: std::io::Error = SetupError::ArgumentsInvalid.into();
    assert_eq!(
        io.raw_os_error(),
        Some(rustix::io::Errno::INVAL.raw_os_error())
    );
}

#[test]
fn sq_full_is_a_typed_error_and_submit_frees_slots() {
    let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
    for i in 0..4 {
        ring.nop(i).unwrap();
    }
    assert_eq!(ring.sq_ready(), 4);
    assert_eq!(ring.nop(4).unwrap_err(), SubmissionQueueFull);
    // SAFETY: get_sqe is refused as well; nothing is handed to the kernel.
    assert!(unsafe { ring.get_sqe() }.is_err());
    assert_eq!(ring.submit().unwrap(), 4);
    assert_eq!(ring.sq_space_left(), 4);
    ring.nop(5).unwrap();
    assert_eq!(ring.submit_and_wait(5).unwrap(), 1);
    assert_eq!(common::reap(&mut ring, 5).len(), 5);
}

#[test]
fn cq_overflow_loses_nothing() {
    // A CQ of 4 entries (CQSIZE) and 200 completions: the kernel keeps the overflow
    // (IORING_FEAT_NODROP) and copy_cqes flushes it, so every completion is seen once.
    let mut p = io_uring_params::default();
    p.flags = IoringSetupFlags::CQSIZE;
    p.cq_entries = 4;
    let mut ring = IoUring::init_params(4, &mut p).unwrap();
    assert_eq!(ring.cq().entries(), 4);
    let mut next = 0u64;
    for _ in 0..50 {
        for _ in 0..4 {
            ring.nop(next).unwrap();
            next += 1;
        }
        ring.submit().unwrap();
    }
    assert_eq!(ring.cq_ready(), 4, "the CQ holds 4; the rest overflowed");
    assert!(ring.cq_ring_needs_flush());
    let mut seen = [false; 200];
    let mut buf = [Cqe::default(); 3];
    let mut rounds = 0;
    while seen.iter().any(|s| !s) {
        rounds += 1;
        assert!(rounds < 1000, "bounded");
        let n = ring.copy_cqes(&mut buf, 0).unwrap() as usize;
        assert!(n > 0, "overflowed completions must be flushed, not lost");
        for c in &buf[..n] {
            assert!(!seen[c.user_data as usize], "duplicate {c:?}");
            seen[c.user_data as usize] = true;
        }
    }
    assert_eq!(ring.copy_cqes(&mut buf, 0).unwrap(), 0);
    assert_eq!(
        ring.cq().overflow(),
        0,
        "NODROP: nothing counted as dropped"
    );
}

#[test]
fn copy_cqes_wraps_and_cq_advance_is_bounded() {
    let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
    // Move the CQ head to an odd position so a batch wraps the CQE array (8 entries).
    for i in 0..3 {
        ring.nop(i).unwrap();
    }
    ring.submit_and_wait(3).unwrap();
    assert_eq!(common::reap(&mut ring, 3).len(), 3);
    for round in 0..3u64 {
        for i in 0..4 {
            ring.nop(100 * round + i).unwrap();
        }
        ring.submit_and_wait(4).unwrap();
        for i in 0..4 {
            ring.nop(100 * round + 10 + i).unwrap();
        }
        ring.submit_and_wait(8).unwrap();
        let mut cqes = [Cqe::default(); 16];
        assert_eq!(ring.copy_cqes(&mut cqes, 0).unwrap(), 8);
        let mut uds: Vec<u64> = cqes[..8].iter().map(|c| c.user_data).collect();
        uds.sort_unstable();
        let base = 100 * round;
        assert_eq!(uds, [0, 1, 2, 3, 10, 11, 12, 13].map(|x| base + x));
    }
    // Advancing past what is ready is clamped, not a corruption of the ring.
    ring.cq_advance(1000);
    assert_eq!(ring.cq_ready(), 0);
    ring.nop(9).unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.peek_cqe().map(|c| c.user_data), Some(9));
    assert_eq!(ring.peek_cqe(), None);
}

#[test]
fn waiting_with_a_timeout_reports_timeout() {
    let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
    // Nothing in flight: the wait ends by the timeout, and says so.
    assert_eq!(
        ring.submit_and_wait_timeout(1, Duration::from_millis(5))
            .unwrap(),
        SubmitWait {
            submitted: 0,
            timed_out: true
        }
    );
    // Submitted, and never completing (a poll of an empty pipe): the kernel reports the
    // submission, and the result still tells the timeout from a completion.
    let (rd, _wr) = rustix::pipe::pipe().unwrap();
    // SAFETY: the pipe outlives the poll's completion (cancelled and reaped below).
    unsafe { ring.poll_add(1, rd.as_raw_fd(), linux_raw_sys::general::POLLIN) }.unwrap();
    assert_eq!(
        ring.submit_and_wait_timeout(1, Duration::from_millis(5))
            .unwrap(),
        SubmitWait {
            submitted: 1,
            timed_out: true
        }
    );
    ring.poll_remove(2, 1).unwrap();
    let waited = ring
        .submit_and_wait_timeout(2, Duration::from_secs(10))
        .unwrap();
    assert_eq!(waited.submitted, 1);
    assert!(!waited.timed_out, "both completions are ready");
    let mut cqes = common::reap(&mut ring, 2);
    cqes.sort_by_key(|c| c.user_data);
    assert_eq!(cqes[0].err(), Some(rustix::io::Errno::CANCELED));
    assert_eq!(cqes[1].res, 0);
    // Submitted and completed: not a timeout.
    ring.nop(3).unwrap();
    assert_eq!(
        ring.submit_and_wait_timeout(1, Duration::from_secs(10))
            .unwrap(),
        SubmitWait {
            submitted: 1,
            timed_out: false
        }
    );
    assert_eq!(ring.copy_cqe().unwrap().user_data, 3);
}

/// `Duration::MAX` neither panics nor overflows into an immediate timeout: the wait ends
/// with the completion, whenever the other thread makes it happen.
#[test]
fn waiting_duration_max_waits_for_the_completion() {
    let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
    ring.nop(1).unwrap();
    assert_eq!(
        ring.submit_and_wait_timeout(1, Duration::MAX).unwrap(),
        SubmitWait {
            submitted: 1,
            timed_out: false
        }
    );
    assert_eq!(ring.copy_cqe().unwrap().user_data, 1);
    let (rd, wr) = rustix::pipe::pipe().unwrap();
    // SAFETY: the pipe outlives the poll's completion, reaped below.
    unsafe { ring.poll_add(2, rd.as_raw_fd(), linux_raw_sys::general::POLLIN) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let writer = std::thread::spawn(move || rustix::io::write(&wr, b"x").unwrap());
    // Without the clamp the kernel's `now + timeout` wraps and this returns at once,
    // timed out (unless the writer was faster); with it, only the completion ends it.
    let waited = ring.submit_and_wait_timeout(1, Duration::MAX).unwrap();
    assert_eq!(
        waited,
        SubmitWait {
            submitted: 0,
            timed_out: false
        }
    );
    writer.join().unwrap();
    let c = ring.copy_cqe().unwrap();
    assert_eq!(
        (c.user_data, c.res),
        (2, linux_raw_sys::general::POLLIN as i32)
    );
}

/// On a DEFER_TASKRUN ring (without TASKRUN_FLAG), a completion that needs task work is
/// posted only by an enter with GETEVENTS: `copy_cqes(.., 0)` runs it when the CQ is
/// empty, and `get_events` does it explicitly for `peek_cqe`.
#[test]
fn defer_taskrun_completions_reach_the_non_waiting_paths() {
    let flags = IoringSetupFlags::SINGLE_ISSUER | IoringSetupFlags::DEFER_TASKRUN;
    let mut ring = IoUring::init(4, flags).unwrap();
    let (rd, wr) = rustix::pipe::pipe().unwrap();
    let mut buf = [0u8; 8];
    // SAFETY: `buf` and the pipe outlive the completion, reaped below.
    unsafe {
        ring.read(
            1,
            rd.as_raw_fd(),
            uring::ReadBuffer::Buffer(&mut buf),
            u64::MAX,
        )
    }
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    // The pipe becomes readable now: the read's retry is task work, deferred to us.
    rustix::io::write(&wr, b"defer").unwrap();
    let mut cqes = [Cqe::default(); 4];
    let mut n = 0;
    // A few calls at most: the write above queued the work before the first one.
    for _ in 0..3 {
        n = ring.copy_cqes(&mut cqes, 0).unwrap();
        if n > 0 {
            break;
        }
    }
    assert_eq!(n, 1, "copy_cqes(.., 0) ran the deferred task work");
    assert_eq!((cqes[0].user_data, cqes[0].res), (1, 5));
    assert_eq!(&buf[..5], b"defer");

    // The same through get_events + peek_cqe.
    // SAFETY: as above.
    unsafe {
        ring.read(
            2,
            rd.as_raw_fd(),
            uring::ReadBuffer::Buffer(&mut buf),
            u64::MAX,
        )
    }
    .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    rustix::io::write(&wr, b"again").unwrap();
    ring.get_events().unwrap();
    let c = ring.peek_cqe().expect("posted by get_events");
    assert_eq!((c.user_data, c.res), (2, 5));
}

#[test]
fn enter_refuses_ext_arg_flags() {
    let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
    assert_eq!(
        ring.enter(0, 0, uring::sys::IoringEnterFlags::EXT_ARG)
            .unwrap_err(),
        EnterError::ExtArgNotAllowed
    );
}

#[test]
fn rings_move_between_threads() {
    let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
    ring.nop(1).unwrap();
    let mut ring = std::thread::spawn(move || {
        ring.submit_and_wait(1).unwrap();
        ring
    })
    .join()
    .unwrap();
    assert_eq!(ring.copy_cqe().unwrap().user_data, 1);
    assert!(ring.fd() >= 0);
    ring.deinit();
}
