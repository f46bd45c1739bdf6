//! Buffer selection ties a request to its group's memory: the kernel may hold a selected
//! buffer's address until the request completes, even once the group is unregistered.
//! These tests follow the contract the `unsafe` methods document (cancel and reap before
//! the group goes) and check what the safe parts guarantee: after the final completion
//! nothing of the group is held, and a dropped group can no longer be selected from.
//! Completions are matched by user_data, never by order; nothing depends on timing.
mod common;

use std::os::fd::AsRawFd;

use rustix::io::Errno;
use rustix::pipe::{pipe_with, PipeFlags};
use uring::sys::{IoringSetupFlags, IOSQE_ASYNC};
use uring::{BufferGroup, Cqe, IoUring, ReadBuffer};

const GROUP: u16 = 7;

fn by_user_data(cqes: &[Cqe], user_data: u64) -> Cqe {
    let found: Vec<&Cqe> = cqes.iter().filter(|c| c.user_data == user_data).collect();
    assert_eq!(found.len(), 1, "one completion for {user_data}: {cqes:?}");
    *found[0]
}

/// An `IOSQE_ASYNC` read of an empty pipe selects its buffer in an io-wq worker and waits
/// there: the hazard the contract names. Cancelled and reaped, it holds nothing any more;
/// the buffer it reports (if any) is the application's again, the group can be dropped,
/// and a read that selects from the dropped group's id fails with `ENOBUFS` instead of
/// writing anywhere (the bytes stay in the pipe).
#[test]
fn async_pipe_read_holds_its_buffer_until_cancelled_and_reaped() {
    let mut ring = IoUring::init(8, IoringSetupFlags::empty()).unwrap();
    let mut group = BufferGroup::init(&ring, GROUP, 64, 2).unwrap();
    let (rd, wr) = pipe_with(PipeFlags::CLOEXEC).unwrap();
    let select = ReadBuffer::BufferSelection {
        group_id: GROUP,
        len: 64,
    };
    // SAFETY: the group outlives the read's completion (cancelled and reaped below, before
    // `deinit`); the pipe outlives it too.
    unsafe { ring.read(1, rd.as_raw_fd(), select, u64::MAX) }
        .unwrap()
        .add_flags(IOSQE_ASYNC)
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    ring.cancel(2, 1, uring::sys::IoringAsyncCancelFlags::empty())
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let cqes = common::reap(&mut ring, 2);
    let read = by_user_data(&cqes, 1);
    let cancel = by_user_data(&cqes, 2);
    // Cancelled before a worker took it (ECANCELED, the cancel found it: 0), or while a
    // worker waited in it (EINTR, the cancel says EALREADY).
    assert!(
        matches!(read.err(), Some(Errno::CANCELED | Errno::INTR)),
        "{read:?}"
    );
    assert!(
        cancel.res == 0 || cancel.err() == Some(Errno::ALREADY),
        "{cancel:?}"
    );
    assert!(!read.more());
    // A buffer the final completion reports is the application's: hand it back.
    if read.buffer_id().is_some() {
        group.put_cqe(&read).unwrap();
    }
    // Both buffers are usable again: a read that finds data selects one.
    rustix::io::write(&wr, b"first").unwrap();
    let select = ReadBuffer::BufferSelection {
        group_id: GROUP,
        len: 64,
    };
    // SAFETY: as above; this read is reaped just below.
    unsafe { ring.read(3, rd.as_raw_fd(), select, u64::MAX) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let got = common::reap(&mut ring, 1)[0];
    assert_eq!(got.user_data, 3);
    assert_eq!(group.get(&got).unwrap(), b"first");
    group.put_cqe(&got).unwrap();

    // Every request on the group has completed and been reaped: dropping it is sound.
    group.deinit().unwrap();

    // The dropped group's id selects nothing.
    rustix::io::write(&wr, b"after").unwrap();
    let select = ReadBuffer::BufferSelection {
        group_id: GROUP,
        len: 64,
    };
    // SAFETY: no group has this id any more, so the kernel has no buffer to pick: the
    // request names no memory. The pipe outlives the completion reaped below.
    unsafe { ring.read(4, rd.as_raw_fd(), select, u64::MAX) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    let none = common::reap(&mut ring, 1)[0];
    assert_eq!(none.user_data, 4);
    assert_eq!(none.err(), Some(Errno::NOBUFS), "{none:?}");
    let mut left = [0u8; 8];
    assert_eq!(rustix::io::read(&rd, &mut left).unwrap(), 5);
    assert_eq!(&left[..5], b"after");
}

/// A multishot receive keeps selecting from the group until its final completion (no
/// `IORING_CQE_F_MORE`); cancelled, that final completion arrives, and only then is the
/// group dropped.
#[test]
fn multishot_recv_is_ended_and_reaped_before_the_group_goes() {
    let mut ring = IoUring::init(8, IoringSetupFlags::empty()).unwrap();
    let mut group = BufferGroup::init(&ring, GROUP, 64, 4).unwrap();
    let (a, b) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .unwrap();
    // SAFETY: the group and the socket outlive the request's final completion, reaped
    // below before `deinit`; only this ring's completions for it reach get/put.
    unsafe { group.recv_multishot(&mut ring, 1, a.as_raw_fd(), 0) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    rustix::io::write(&b, b"one").unwrap();
    let first = common::reap(&mut ring, 1)[0];
    assert_eq!(first.user_data, 1);
    assert!(first.more(), "{first:?}");
    assert_eq!(group.get(&first).unwrap(), b"one");
    group.put_cqe(&first).unwrap();
    ring.cancel(2, 1, uring::sys::IoringAsyncCancelFlags::empty())
        .unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    // No data follows "one": exactly the request's final completion and the cancel's.
    let cqes = common::reap(&mut ring, 2);
    let last = by_user_data(&cqes, 1);
    let cancel = by_user_data(&cqes, 2);
    assert!(!last.more(), "{last:?}");
    assert_eq!(last.err(), Some(Errno::CANCELED), "{last:?}");
    assert_eq!(cancel.res, 0, "{cancel:?}");
    if last.buffer_id().is_some() {
        group.put_cqe(&last).unwrap();
    }
    group.deinit().unwrap();
}
