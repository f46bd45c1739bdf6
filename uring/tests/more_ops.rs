//! The liburing 2.15 operations beyond Zig (issue #11): messages between rings
//! (`msg_ring`, `msg_ring_cqe_flags`, `msg_ring_fd`, `msg_ring_fd_alloc`, and the safe
//! `msg_ring_sync`), futexes (`futex_wait`, `futex_wake`, `futex_waitv`), and file
//! operations (`fixed_fd_install`, `ftruncate`, `sync_file_range`, the xattr family,
//! `readv2`/`writev2`, `pipe`/`pipe_direct`, `recv_zc`). Each against the live kernel;
//! completions of different requests are matched by user_data, never by order.

mod common;

use std::io::{IoSlice, IoSliceMut, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::AtomicU32;

use common::{neg, reap, supported, TempDir};
use rustix::io::Errno;
use uring::sys::{
    io_uring_op as Op, IoringSetupFlags, FUTEX2_PRIVATE, FUTEX2_SIZE_U32, FUTEX_BITSET_MATCH_ANY,
    IOSQE_FIXED_FILE,
};
use uring::zc::{Driver, DriverConfig, USER_DATA_TAG};
use uring::{Cqe, Error, FutexWaitv, IoUring, ReadBuffer, SqeError, FILE_INDEX_ALLOC};

fn ring() -> IoUring {
    IoUring::init(16, IoringSetupFlags::empty()).expect("io_uring")
}

/// The one completion with `user_data` among `cqes` (exactly one).
fn by_ud(cqes: &[Cqe], user_data: u64) -> Cqe {
    let found: Vec<&Cqe> = cqes.iter().filter(|c| c.user_data == user_data).collect();
    assert_eq!(found.len(), 1, "one completion {user_data:#x} in {cqes:?}");
    *found[0]
}

/// Every completion ready now, without waiting.
fn ready(ring: &mut IoUring) -> Vec<Cqe> {
    let mut buf = [Cqe::default(); 64];
    let n = ring.copy_cqes(&mut buf, 0).unwrap() as usize;
    buf[..n].to_vec()
}

fn pipe() -> (OwnedFd, OwnedFd) {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).expect("pipe")
}

const FUTEX_FLAGS: u32 = FUTEX2_SIZE_U32 | FUTEX2_PRIVATE;
const ANY: u64 = FUTEX_BITSET_MATCH_ANY as u64;

// --- msg_ring ---------------------------------------------------------------------------

#[test]
fn msg_ring_posts_len_and_data_into_the_target() {
    let mut a = ring();
    let mut b = ring();
    if !supported(
        &a,
        Op::IORING_OP_MSG_RING,
        "msg_ring_posts_len_and_data_into_the_target",
    ) {
        return;
    }
    // SAFETY: `b` is our own ring, open until both completions are reaped; nothing
    // reserves its namespace.
    unsafe {
        a.msg_ring(
            1,
            b.fd(),
            77,
            0xbeef,
            uring::sys::IoringMsgringFlags::empty(),
        )
    }
    .unwrap();
    let src = reap(&mut a, 1);
    assert_eq!((src[0].user_data, src[0].res, src[0].flags), (1, 0, 0));
    let dst = reap(&mut b, 1);
    assert_eq!(
        (dst[0].user_data, dst[0].res, dst[0].flags),
        (0xbeef, 77, 0)
    );
}

#[test]
fn msg_ring_cqe_flags_passes_flags() {
    let mut a = ring();
    let mut b = ring();
    // Bits the kernel does not interpret: it passes them through untouched.
    let flags = 0x00ab_0000 | (1 << 30);
    // SAFETY: as above.
    unsafe {
        a.msg_ring_cqe_flags(
            1,
            b.fd(),
            5,
            0xcafe,
            uring::sys::IoringMsgringFlags::empty(),
            flags,
        )
        .unwrap();
        // CQE_SKIP is for file hand-overs only: a data message with it is EINVAL.
        a.msg_ring(
            2,
            b.fd(),
            6,
            0xdead,
            uring::sys::IoringMsgringFlags::CQE_SKIP,
        )
        .unwrap();
    }
    let src = reap(&mut a, 2);
    assert_eq!(by_ud(&src, 1).res, 0);
    assert_eq!(by_ud(&src, 2).res, neg(Errno::INVAL));
    // Both were issued (their completions are in): a data message is posted to a plain
    // target when issued, so the target holds exactly the one that succeeded.
    let dst = ready(&mut b);
    assert_eq!(dst.len(), 1, "{dst:?}");
    assert_eq!(
        (dst[0].user_data, dst[0].res, dst[0].flags),
        (0xcafe, 5, flags)
    );
}

#[test]
fn msg_ring_to_a_non_ring_is_ebadfd() {
    let mut a = ring();
    let (r, _w) = pipe();
    // SAFETY: `r` is our pipe, open until the completion is reaped; the kernel only checks
    // what it is.
    unsafe {
        a.msg_ring(
            1,
            r.as_raw_fd(),
            0,
            1,
            uring::sys::IoringMsgringFlags::empty(),
        )
    }
    .unwrap();
    assert_eq!(reap(&mut a, 1)[0].res, neg(Errno::BADFD));
}

/// A pipe whose read end is slot 0 of `ring`'s registered table.
fn ring_with_pipe_in_slot0() -> (IoUring, OwnedFd, OwnedFd) {
    let mut a = ring();
    let (r, w) = pipe();
    a.register_files(&[Some(r.as_fd())]).unwrap();
    (a, r, w)
}

/// Reads through slot `slot` of `ring`'s table and checks the bytes.
fn read_fixed_slot(ring: &mut IoUring, slot: u32, want: &[u8]) {
    let mut buf = vec![0u8; want.len()];
    // SAFETY: `buf` outlives the reaped completion; slot `slot` holds our pipe's read end
    // (installed by the test) until then.
    unsafe {
        ring.read(9, slot as RawFd, ReadBuffer::Buffer(&mut buf), u64::MAX)
            .unwrap()
            .add_flags_unchecked(IOSQE_FIXED_FILE);
    }
    let c = reap(ring, 1);
    assert_eq!((c[0].user_data, c[0].res), (9, want.len() as i32));
    assert_eq!(buf, want);
}

#[test]
fn msg_ring_fd_installs_a_registered_file_into_the_target() {
    let (mut a, _r, w) = ring_with_pipe_in_slot0();
    let mut b = ring();
    b.register_files_sparse(4).unwrap();
    // SAFETY: `b` is our ring with a table of our own; slot 2 holds nothing.
    unsafe {
        a.msg_ring_fd(
            1,
            b.fd(),
            0,
            2,
            0xf00d,
            uring::sys::IoringMsgringFlags::empty(),
        )
    }
    .unwrap();
    assert_eq!(reap(&mut a, 1)[0].res, 0);
    let dst = reap(&mut b, 1);
    assert_eq!((dst[0].user_data, dst[0].res), (0xf00d, 0));
    // The target's slot 2 is the pipe's read end, also after the source drops its copy.
    // SAFETY: no request of `a` uses its table any more (all reaped).
    unsafe { a.unregister_files() }.unwrap();
    rustix::io::write(&w, b"moved").unwrap();
    read_fixed_slot(&mut b, 2, b"moved");

    // Into a free slot: both completions carry it.
    let (mut a, _r, w) = ring_with_pipe_in_slot0();
    // SAFETY: as above.
    unsafe {
        a.msg_ring_fd_alloc(
            1,
            b.fd(),
            0,
            0xa110c,
            uring::sys::IoringMsgringFlags::empty(),
        )
    }
    .unwrap();
    let slot = reap(&mut a, 1)[0].res;
    assert!(
        (0..4).contains(&slot) && slot != 2,
        "a free slot, got {slot}"
    );
    let dst = reap(&mut b, 1);
    assert_eq!((dst[0].user_data, dst[0].res), (0xa110c, slot));
    rustix::io::write(&w, b"alloc").unwrap();
    read_fixed_slot(&mut b, slot as u32, b"alloc");

    // With CQE_SKIP the file arrives without a completion on the target.
    // SAFETY: as above; slot 3 of `b` is free.
    unsafe {
        a.msg_ring_fd(
            2,
            b.fd(),
            0,
            3,
            0x5419,
            uring::sys::IoringMsgringFlags::CQE_SKIP,
        )
    }
    .unwrap();
    assert_eq!(reap(&mut a, 1)[0].res, 0);
    assert!(ready(&mut b).is_empty());
    rustix::io::write(&w, b"quiet").unwrap();
    read_fixed_slot(&mut b, 3, b"quiet");
}

#[test]
fn msg_ring_fd_refusals() {
    let (mut a, _r, _w) = ring_with_pipe_in_slot0();
    let mut no_table = ring();
    let a_fd = a.fd();
    // SAFETY: both targets are our rings; the kernel refuses each before installing.
    unsafe {
        // To itself: EINVAL.
        a.msg_ring_fd(1, a_fd, 0, 0, 1, uring::sys::IoringMsgringFlags::empty())
            .unwrap();
        // A target without a table: ENXIO.
        a.msg_ring_fd(
            2,
            no_table.fd(),
            0,
            0,
            2,
            uring::sys::IoringMsgringFlags::empty(),
        )
        .unwrap();
        // An empty source slot: EBADF.
        a.msg_ring_fd(
            3,
            no_table.fd(),
            5,
            0,
            3,
            uring::sys::IoringMsgringFlags::empty(),
        )
        .unwrap();
    }
    let c = reap(&mut a, 3);
    assert_eq!(by_ud(&c, 1).res, neg(Errno::INVAL));
    assert_eq!(by_ud(&c, 2).res, neg(Errno::NXIO));
    assert_eq!(by_ud(&c, 3).res, neg(Errno::BADF));
    assert!(ready(&mut no_table).is_empty());
}

#[test]
fn msg_ring_sync_posts_without_a_source_ring() {
    let mut b = ring();
    IoUring::msg_ring_sync(&b, 3, 0x5151, None).unwrap();
    IoUring::msg_ring_sync(&b, 4, 0x5252, Some(0x0077_0000)).unwrap();
    // Synchronous: both are in the CQ when the calls return.
    let c = ready(&mut b);
    assert_eq!(c.len(), 2, "{c:?}");
    let one = by_ud(&c, 0x5151);
    assert_eq!((one.res, one.flags), (3, 0));
    let two = by_ud(&c, 0x5252);
    assert_eq!((two.res, two.flags), (4, 0x0077_0000));
}

/// The attack: safe code holds a `Driver`'s ring (`Driver::ring`) and tries to post a
/// completion in the driver's namespace, which the driver would take for one of its
/// sends (and hand a buffer back while the kernel may still read it), or to reach the
/// driver's file table. Every safe path refuses with the typed error; a message outside
/// the namespace reaches the caller's reaping, not the driver's.
#[test]
fn safe_code_cannot_forge_a_driver_completion_via_msg_ring() {
    let mut driver = Driver::new(DriverConfig::default()).expect("driver");
    let forged = USER_DATA_TAG | 1;
    assert!(driver.ring().is_reserved_user_data(forged));
    assert_eq!(
        IoUring::msg_ring_sync(driver.ring(), 0, forged, None),
        Err(Error::ReservedUserData(forged))
    );
    assert_eq!(
        IoUring::msg_ring_sync(
            driver.ring(),
            0,
            forged,
            Some(uring::sys::IORING_CQE_F_NOTIF)
        ),
        Err(Error::ReservedUserData(forged))
    );
    // Its file table is refused as a source of a hand-over and for fixed_fd_install.
    let mut other = ring();
    let other_fd = other.fd();
    // SAFETY: refused before anything is queued (the target is our own ring anyway).
    let refused = unsafe {
        driver.ring().msg_ring_fd(
            1,
            other_fd,
            0,
            0,
            1,
            uring::sys::IoringMsgringFlags::empty(),
        )
    };
    assert_eq!(refused.unwrap_err(), SqeError::ReservedFileTable);
    // SAFETY: as above.
    let refused = unsafe {
        driver
            .ring()
            .msg_ring_fd_alloc(1, other_fd, 0, 1, uring::sys::IoringMsgringFlags::empty())
    };
    assert_eq!(refused.unwrap_err(), SqeError::ReservedFileTable);
    assert_eq!(
        driver
            .ring()
            .fixed_fd_install(1, 0, uring::sys::IoringFixedFdFlags::empty())
            .unwrap_err(),
        SqeError::ReservedFileTable
    );
    // The source's own user_data on a driver's ring is checked as for every operation.
    // SAFETY: refused before anything is queued.
    let refused = unsafe {
        driver.ring().msg_ring(
            forged,
            other_fd,
            0,
            1,
            uring::sys::IoringMsgringFlags::empty(),
        )
    };
    assert_eq!(refused.unwrap_err(), SqeError::ReservedUserData(forged));
    assert!(ready(&mut other).is_empty());
    // A message outside the namespace is the caller's.
    IoUring::msg_ring_sync(driver.ring(), 8, 0x77, None).unwrap();
    let c = ready(driver.ring());
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!((c[0].user_data, c[0].res), (0x77, 8));
    driver.poll().unwrap();
    assert_eq!(driver.stray_notifications(), 0);
}

// --- futexes ----------------------------------------------------------------------------

#[test]
fn futex_wait_then_wake_on_one_ring() {
    let mut ring = ring();
    if !supported(
        &ring,
        Op::IORING_OP_FUTEX_WAIT,
        "futex_wait_then_wake_on_one_ring",
    ) {
        return;
    }
    let word = AtomicU32::new(0);
    // SAFETY: `word` outlives every completion reaped below.
    unsafe { ring.futex_wait(1, &word, 0, ANY, FUTEX_FLAGS, 0) }.unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    // Armed: nothing can have woken it yet.
    assert!(ready(&mut ring).is_empty());
    // SAFETY: as above.
    unsafe { ring.futex_wake(2, &word, 1, ANY, FUTEX_FLAGS, 0) }.unwrap();
    let c = reap(&mut ring, 2);
    assert_eq!(by_ud(&c, 1).res, 0, "the waiter was woken");
    assert_eq!(by_ud(&c, 2).res, 1, "one waiter woken");
    // Nobody waits any more: a wake wakes none.
    // SAFETY: as above.
    unsafe { ring.futex_wake(3, &word, 1, ANY, FUTEX_FLAGS, 0) }.unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res, 0);
}

#[test]
fn futex_wait_refusals_and_cancel() {
    let mut ring = ring();
    let word = AtomicU32::new(5);
    // SAFETY: `word` outlives every completion reaped below.
    unsafe {
        // The word is not the value: EAGAIN at once.
        ring.futex_wait(1, &word, 4, ANY, FUTEX_FLAGS, 0).unwrap();
        // A zero mask: EINVAL.
        ring.futex_wait(2, &word, 5, 0, FUTEX_FLAGS, 0).unwrap();
        // No size in the futex2 flags: EINVAL.
        ring.futex_wait(3, &word, 5, ANY, FUTEX2_PRIVATE, 0)
            .unwrap();
        // Non-zero SQE flags: EINVAL.
        ring.futex_wait(4, &word, 5, ANY, FUTEX_FLAGS, 1).unwrap();
    }
    let c = reap(&mut ring, 4);
    assert_eq!(by_ud(&c, 1).res, neg(Errno::AGAIN));
    assert_eq!(by_ud(&c, 2).res, neg(Errno::INVAL));
    assert_eq!(by_ud(&c, 3).res, neg(Errno::INVAL));
    assert_eq!(by_ud(&c, 4).res, neg(Errno::INVAL));
    // An armed wait is cancelled by user_data.
    // SAFETY: as above.
    unsafe { ring.futex_wait(5, &word, 5, ANY, FUTEX_FLAGS, 0) }.unwrap();
    ring.submit().unwrap();
    ring.cancel(6, 5, uring::sys::IoringAsyncCancelFlags::empty())
        .unwrap();
    let c = reap(&mut ring, 2);
    assert_eq!(by_ud(&c, 5).res, neg(Errno::CANCELED));
    // A futex cancel answers how many it cancelled.
    assert_eq!(by_ud(&c, 6).res, 1);
}

#[test]
fn futex_waitv_returns_the_index_woken() {
    let mut ring = ring();
    let words = [AtomicU32::new(0), AtomicU32::new(7), AtomicU32::new(9)];
    let waitv: Vec<FutexWaitv> = words
        .iter()
        .map(|w| FutexWaitv {
            val: u64::from(w.load(std::sync::atomic::Ordering::Relaxed)),
            uaddr: w.as_ptr() as u64,
            flags: FUTEX_FLAGS,
            __reserved: 0,
        })
        .collect();
    // SAFETY: `waitv` and `words` outlive every completion reaped below.
    unsafe { ring.futex_waitv(1, &waitv, 0) }.unwrap();
    ring.submit().unwrap();
    assert!(ready(&mut ring).is_empty());
    // SAFETY: as above.
    unsafe { ring.futex_wake(2, &words[2], 1, ANY, FUTEX_FLAGS, 0) }.unwrap();
    let c = reap(&mut ring, 2);
    assert_eq!(by_ud(&c, 1).res, 2, "woken through the third futex");
    assert_eq!(by_ud(&c, 2).res, 1);

    // A differing value: EAGAIN at once; no futex or too many: EINVAL.
    let mut stale = waitv.clone();
    stale[1].val = 8;
    let too_many = vec![waitv[0]; uring::sys::FUTEX_WAITV_MAX as usize + 1];
    // SAFETY: as above.
    unsafe {
        ring.futex_waitv(3, &stale, 0).unwrap();
        ring.futex_waitv(4, &[], 0).unwrap();
        ring.futex_waitv(5, &too_many, 0).unwrap();
    }
    let c = reap(&mut ring, 3);
    assert_eq!(by_ud(&c, 3).res, neg(Errno::AGAIN));
    assert_eq!(by_ud(&c, 4).res, neg(Errno::INVAL));
    assert_eq!(by_ud(&c, 5).res, neg(Errno::INVAL));
}

// --- files ------------------------------------------------------------------------------

#[test]
fn fixed_fd_install_gives_an_owned_descriptor_of_the_slot() {
    let mut ring = ring();
    if !supported(
        &ring,
        Op::IORING_OP_FIXED_FD_INSTALL,
        "fixed_fd_install_gives_an_owned_descriptor_of_the_slot",
    ) {
        return;
    }
    let (r, w) = pipe();
    ring.register_files(&[None, Some(w.as_fd())]).unwrap();
    ring.fixed_fd_install(1, 1, uring::sys::IoringFixedFdFlags::empty())
        .unwrap();
    ring.fixed_fd_install(2, 1, uring::sys::IoringFixedFdFlags::NO_CLOEXEC)
        .unwrap();
    ring.fixed_fd_install(3, 0, uring::sys::IoringFixedFdFlags::empty())
        .unwrap();
    ring.fixed_fd_install(4, 1, uring::sys::IoringFixedFdFlags::from_bits_retain(0x80))
        .unwrap();
    let c = reap(&mut ring, 4);
    assert_eq!(by_ud(&c, 3).res, neg(Errno::BADF), "an empty slot");
    assert_eq!(by_ud(&c, 4).res, neg(Errno::INVAL), "an unknown flag");
    // SAFETY: these completions are of the installs above, each taken once: each res is
    // a new descriptor that nothing else owns.
    let (fd1, fd2) = unsafe {
        (
            by_ud(&c, 1).into_owned_fd().unwrap(),
            by_ud(&c, 2).into_owned_fd().unwrap(),
        )
    };
    // SAFETY: a failed completion: no descriptor to own, the errno comes back.
    assert_eq!(
        unsafe { by_ud(&c, 3).into_owned_fd() }.unwrap_err(),
        Errno::BADF
    );
    let cloexec = |fd: &OwnedFd| {
        rustix::io::fcntl_getfd(fd)
            .unwrap()
            .contains(rustix::io::FdFlags::CLOEXEC)
    };
    assert!(cloexec(&fd1));
    assert!(!cloexec(&fd2));
    // Both are the pipe's write end.
    rustix::io::write(&fd1, b"one ").unwrap();
    rustix::io::write(&fd2, b"two").unwrap();
    drop((fd1, fd2, w));
    // SAFETY: every request on the table has been reaped.
    unsafe { ring.unregister_files() }.unwrap();
    let mut got = String::new();
    std::fs::File::from(r).read_to_string(&mut got).unwrap();
    assert_eq!(got, "one two");
}

fn temp_file(dir: &TempDir, name: &str, contents: &[u8]) -> std::fs::File {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap()
}

#[test]
fn ftruncate_and_sync_file_range() {
    let mut ring = ring();
    if !supported(
        &ring,
        Op::IORING_OP_FTRUNCATE,
        "ftruncate_and_sync_file_range",
    ) {
        return;
    }
    let dir = TempDir::new("ftruncate");
    let file = temp_file(&dir, "f", &[7u8; 100]);
    let fd = file.as_raw_fd();
    // SAFETY: `file` stays open until the completions are reaped.
    unsafe {
        ring.ftruncate(1, fd, 10).unwrap().link();
        ring.sync_file_range(
            2,
            fd,
            0,
            0,
            linux_raw_sys::general::SYNC_FILE_RANGE_WRITE
                | linux_raw_sys::general::SYNC_FILE_RANGE_WAIT_AFTER,
        )
        .unwrap();
    }
    let c = reap(&mut ring, 2);
    assert_eq!(by_ud(&c, 1).res, 0);
    assert_eq!(by_ud(&c, 2).res, 0);
    assert_eq!(file.metadata().unwrap().len(), 10);
    // Growing works too, and an unknown sync flag is EINVAL.
    // SAFETY: as above.
    unsafe {
        ring.ftruncate(3, fd, 4096).unwrap();
        ring.sync_file_range(4, fd, 0, 0, 0x100).unwrap();
    }
    let c = reap(&mut ring, 2);
    assert_eq!(by_ud(&c, 3).res, 0);
    assert_eq!(by_ud(&c, 4).res, neg(Errno::INVAL));
    assert_eq!(file.metadata().unwrap().len(), 4096);
}

#[test]
fn xattrs_by_fd_and_by_path() {
    let mut ring = ring();
    let dir = TempDir::new("xattr");
    let file = temp_file(&dir, "f", b"x");
    let fd = file.as_raw_fd();
    let path = std::ffi::CString::new(dir.join("f").into_os_string().into_encoded_bytes()).unwrap();
    let (a, b) = (c"user.uring.a", c"user.uring.b");
    // SAFETY: names, values and `file` outlive the completions, reaped before the next
    // batch.
    unsafe {
        ring.fsetxattr(
            1,
            fd,
            a,
            b"by-fd",
            uring::sys::XattrFlags::from_bits_retain(linux_raw_sys::general::XATTR_CREATE),
        )
        .unwrap()
        .link();
        ring.setxattr(2, b, b"by-path", &path, uring::sys::XattrFlags::empty())
            .unwrap();
    }
    let c = reap(&mut ring, 2);
    if by_ud(&c, 1).res == neg(Errno::OPNOTSUPP) {
        // The file system of the temp dir, not the kernel: the ops still ran.
        common::skip("xattrs_by_fd_and_by_path", "temp dir has no user xattrs");
        return;
    }
    assert_eq!(by_ud(&c, 1).res, 0);
    assert_eq!(by_ud(&c, 2).res, 0);
    let mut va = [0u8; 16];
    let mut vb = [0u8; 16];
    let mut small = [0u8; 2];
    // SAFETY: as above.
    unsafe {
        ring.fgetxattr(3, fd, b, &mut vb).unwrap();
        ring.getxattr(4, a, &mut va, &path).unwrap();
        ring.fgetxattr(5, fd, a, &mut small).unwrap();
        ring.getxattr(6, c"user.uring.none", &mut small, &path)
            .unwrap();
        // CREATE of an existing attribute: EEXIST.
        ring.fsetxattr(
            7,
            fd,
            a,
            b"again",
            uring::sys::XattrFlags::from_bits_retain(linux_raw_sys::general::XATTR_CREATE),
        )
        .unwrap();
    }
    let c = reap(&mut ring, 5);
    assert_eq!(by_ud(&c, 3).res, 7);
    assert_eq!(&vb[..7], b"by-path");
    assert_eq!(by_ud(&c, 4).res, 5);
    assert_eq!(&va[..5], b"by-fd");
    assert_eq!(by_ud(&c, 5).res, neg(Errno::RANGE));
    assert_eq!(by_ud(&c, 6).res, neg(Errno::NODATA));
    assert_eq!(by_ud(&c, 7).res, neg(Errno::EXIST));
}

#[test]
fn readv2_and_writev2_take_rwf_flags() {
    let mut ring = ring();
    let dir = TempDir::new("rwv2");
    let file = temp_file(&dir, "f", b"head:");
    let fd = file.as_raw_fd();
    let parts = [IoSlice::new(b"tail"), IoSlice::new(b"!")];
    // SAFETY: `parts` and `file` outlive the completion.
    unsafe {
        ring.writev2(
            1,
            fd,
            &parts,
            0,
            uring::sys::ReadWriteFlags::from_bits_retain(linux_raw_sys::general::RWF_APPEND),
        )
    }
    .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res, 5);
    // RWF_APPEND wrote at the end, not at offset 0.
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"head:tail!");
    let (mut x, mut y) = ([0u8; 5], [0u8; 5]);
    let iov = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
    // SAFETY: `iov`'s buffers and `file` outlive the completion.
    unsafe { ring.readv2(2, fd, &iov, 0, uring::sys::ReadWriteFlags::empty()) }.unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res, 10);
    assert_eq!((&x, &y), (b"head:", b"tail!"));

    // RWF_NOWAIT on an empty pipe: EAGAIN rather than waiting; an unknown flag: EOPNOTSUPP.
    let (r, _w) = pipe();
    let mut z = [0u8; 4];
    let iov = [IoSliceMut::new(&mut z)];
    // SAFETY: as above, with the pipe.
    unsafe {
        ring.readv2(
            3,
            r.as_raw_fd(),
            &iov,
            u64::MAX,
            uring::sys::ReadWriteFlags::from_bits_retain(linux_raw_sys::general::RWF_NOWAIT),
        )
        .unwrap();
    }
    assert_eq!(reap(&mut ring, 1)[0].res, neg(Errno::AGAIN));
    // SAFETY: as above.
    unsafe {
        ring.readv2(
            4,
            fd,
            &iov,
            0,
            uring::sys::ReadWriteFlags::from_bits_retain(1 << 30),
        )
    }
    .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res, neg(Errno::OPNOTSUPP));
}

#[test]
fn pipe_creates_both_ends() {
    let mut ring = ring();
    if !supported(&ring, Op::IORING_OP_PIPE, "pipe_creates_both_ends") {
        return;
    }
    let mut fds = [-1; 2];
    // SAFETY: `fds` outlives the completion.
    unsafe {
        ring.pipe(
            1,
            &mut fds,
            uring::sys::PipeFlags::from_bits_retain(linux_raw_sys::general::O_CLOEXEC),
        )
    }
    .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res, 0);
    // SAFETY: the completion says the kernel made these two descriptors for us.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    assert!(rustix::io::fcntl_getfd(&r)
        .unwrap()
        .contains(rustix::io::FdFlags::CLOEXEC));
    rustix::io::write(&w, b"ring pipe").unwrap();
    drop(w);
    let mut got = String::new();
    std::fs::File::from(r).read_to_string(&mut got).unwrap();
    assert_eq!(got, "ring pipe");
    // Unknown pipe flags: EINVAL.
    let mut fds = [-1; 2];
    // SAFETY: as above.
    unsafe {
        ring.pipe(
            2,
            &mut fds,
            uring::sys::PipeFlags::from_bits_retain(linux_raw_sys::general::O_APPEND),
        )
    }
    .unwrap();
    assert_eq!(reap(&mut ring, 1)[0].res, neg(Errno::INVAL));
    assert_eq!(fds, [-1, -1]);
}

#[test]
fn pipe_direct_fills_slots() {
    let mut ring = ring();
    if !supported(&ring, Op::IORING_OP_PIPE, "pipe_direct_fills_slots") {
        return;
    }
    ring.register_files_sparse(8).unwrap();
    let mut fds = [-1; 2];
    let mut alloc = [-1; 2];
    // SAFETY: `fds` and `alloc` outlive the completions; the table is ours, slots 4 and 5
    // empty.
    unsafe {
        ring.pipe_direct(1, &mut fds, uring::sys::PipeFlags::empty(), 4)
            .unwrap()
            .link();
        ring.pipe_direct(
            2,
            &mut alloc,
            uring::sys::PipeFlags::empty(),
            FILE_INDEX_ALLOC,
        )
        .unwrap();
    }
    let c = reap(&mut ring, 2);
    assert_eq!(by_ud(&c, 1).res, 0);
    assert_eq!(by_ud(&c, 2).res, 0);
    assert_eq!(fds, [4, 5]);
    assert!(
        alloc
            .iter()
            .all(|s| (0..8).contains(s) && *s != 4 && *s != 5),
        "{alloc:?}"
    );
    assert_ne!(alloc[0], alloc[1]);
    // Write through slot 5, read through slot 4.
    let msg = b"direct";
    // SAFETY: `msg` outlives the completion; slot 5 is the write end made above.
    unsafe {
        ring.write(3, 5, msg, u64::MAX)
            .unwrap()
            .add_flags_unchecked(IOSQE_FIXED_FILE);
    }
    assert_eq!(reap(&mut ring, 1)[0].res, msg.len() as i32);
    read_fixed_slot(&mut ring, 4, msg);
    // A driver's table is refused.
    let mut driver = Driver::new(DriverConfig::default()).expect("driver");
    let mut fds = [-1; 2];
    // SAFETY: refused before anything is queued.
    let refused = unsafe {
        driver.ring().pipe_direct(
            1,
            &mut fds,
            uring::sys::PipeFlags::empty(),
            FILE_INDEX_ALLOC,
        )
    };
    assert_eq!(refused.unwrap_err(), SqeError::ReservedFileTable);
}

/// There is no NIC with a zero-copy receive queue here (none is registered: that needs
/// header split and flow steering in hardware): the kernel refuses the request with
/// `EINVAL`, the answer for an unknown `zcrx_ifq_idx`.
#[test]
fn recv_zc_without_a_registered_queue_is_einval() {
    let mut ring = ring();
    if !supported(
        &ring,
        Op::IORING_OP_RECV_ZC,
        "recv_zc_without_a_registered_queue_is_einval",
    ) {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    // SAFETY: `s` stays open until the completion is reaped; no area exists to write.
    unsafe { ring.recv_zc(1, s.as_raw_fd(), 0, 0) }.unwrap();
    let c = reap(&mut ring, 1);
    assert_eq!(c[0].res, neg(Errno::INVAL));
    assert_eq!(c[0].flags & uring::sys::IORING_CQE_F_MORE, 0, "not armed");
}

fn cpath(p: std::path::PathBuf) -> std::ffi::CString {
    std::ffi::CString::new(p.into_os_string().into_encoded_bytes()).unwrap()
}

/// The `AT_FDCWD` shorthands, with absolute paths (which ignore the directory, so the
/// test never depends on or changes the process's working directory).
#[test]
fn working_directory_shorthands() {
    let mut ring = ring();
    let dir = TempDir::new("cwd_shorthands");
    let (d, f, g, s, h) = (
        cpath(dir.join("d")),
        cpath(dir.join("d/f")),
        cpath(dir.join("d/g")),
        cpath(dir.join("s")),
        cpath(dir.join("h")),
    );
    let o_creat = linux_raw_sys::general::O_CREAT | linux_raw_sys::general::O_WRONLY;
    let mut open_sqe = uring::Sqe::default();
    open_sqe.prep_open(
        &f,
        uring::sys::OFlags::from_bits_retain(o_creat | linux_raw_sys::general::O_CLOEXEC),
        uring::sys::Mode::from_bits_retain(0o600),
    );
    // SAFETY: every path outlives its completion; each batch is reaped before the next.
    unsafe {
        ring.mkdir(1, &d, uring::sys::Mode::from_bits_retain(0o700))
            .unwrap()
            .link();
        ring.open(
            2,
            &f,
            uring::sys::OFlags::from_bits_retain(o_creat | linux_raw_sys::general::O_CLOEXEC),
            uring::sys::Mode::from_bits_retain(0o600),
        )
        .unwrap();
    }
    let c = reap(&mut ring, 2);
    assert_eq!(by_ud(&c, 1).res, 0);
    // SAFETY: the completion of the open above: a descriptor that is ours.
    drop(unsafe { OwnedFd::from_raw_fd(by_ud(&c, 2).result().unwrap() as RawFd) });
    // SAFETY: as above.
    unsafe {
        ring.rename(3, &f, &g).unwrap().link();
        ring.symlink(4, &g, &s).unwrap().link();
        ring.link(5, &g, &h, uring::sys::AtFlags::empty()).unwrap();
    }
    let c = reap(&mut ring, 3);
    for ud in 3..=5 {
        assert_eq!(by_ud(&c, ud).res, 0, "request {ud}");
    }
    assert!(!dir.join("d/f").exists());
    assert_eq!(std::fs::read_link(dir.join("s")).unwrap(), dir.join("d/g"));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(dir.join("h")).unwrap().nlink(), 2);
    // SAFETY: as above.
    unsafe {
        ring.unlink(6, &h, uring::sys::AtFlags::empty())
            .unwrap()
            .link();
        ring.unlink(7, &g, uring::sys::AtFlags::empty())
            .unwrap()
            .link();
        ring.unlink(
            8,
            &d,
            uring::sys::AtFlags::from_bits_retain(linux_raw_sys::general::AT_REMOVEDIR),
        )
        .unwrap();
    }
    let c = reap(&mut ring, 3);
    for ud in 6..=8 {
        assert_eq!(by_ud(&c, ud).res, 0, "request {ud}");
    }
    assert!(!dir.join("d").exists());
    // The SQE the shorthand builds is the `*at` one with AT_FDCWD.
    let mut at = uring::Sqe::default();
    at.prep_openat(
        linux_raw_sys::general::AT_FDCWD,
        &f,
        uring::sys::OFlags::from_bits_retain(o_creat | linux_raw_sys::general::O_CLOEXEC),
        uring::sys::Mode::from_bits_retain(0o600),
    );
    assert_eq!(open_sqe, at);
}

/// getsockname/getpeername as a socket command: Linux 6.19 answers with the address;
/// older kernels (6.18 here) refuse the unknown command with EOPNOTSUPP, which is what
/// this checks then (the opcode itself, URING_CMD, is there).
#[test]
fn cmd_getsockname_or_eopnotsupp_before_6_19() {
    let mut ring = ring();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (_s, _) = l.accept().unwrap();
    let mut local: uring::RawSockAddr = unsafe_zeroed();
    let mut peer: uring::RawSockAddr = unsafe_zeroed();
    let room = core::mem::size_of::<uring::RawSockAddr>() as u32;
    let (mut local_len, mut peer_len) = (room, room);
    // SAFETY: the addresses and lengths outlive the completions; `c` stays open.
    unsafe {
        ring.cmd_getsockname(1, c.as_raw_fd(), &mut local, &mut local_len, false)
            .unwrap();
        ring.cmd_getsockname(2, c.as_raw_fd(), &mut peer, &mut peer_len, true)
            .unwrap();
    }
    let cqes = reap(&mut ring, 2);
    let (one, two) = (by_ud(&cqes, 1), by_ud(&cqes, 2));
    if one.res == neg(Errno::OPNOTSUPP) {
        assert_eq!(two.res, neg(Errno::OPNOTSUPP));
        assert_eq!((local_len, peer_len), (room, room), "nothing written");
        return;
    }
    assert_eq!((one.res, two.res), (0, 0));
    let port = |a: &uring::RawSockAddr| {
        // SAFETY: an AF_INET address fits in `sockaddr`'s 16 bytes.
        let v4: linux_raw_sys::net::sockaddr_in = unsafe { core::mem::transmute_copy(a) };
        u16::from_be(v4.sin_port)
    };
    assert_eq!(local_len, 16);
    assert_eq!(port(&local), c.local_addr().unwrap().port());
    assert_eq!(port(&peer), l.local_addr().unwrap().port());
}

fn unsafe_zeroed<T: Copy>() -> T {
    // SAFETY: only used for plain-integer kernel structs, for which zero is valid.
    unsafe { core::mem::zeroed() }
}

/// A disabled target (IORING_SETUP_R_DISABLED, not yet enabled) refuses messages with
/// EBADFD, queued or synchronous, and the synchronous error is typed.
#[test]
fn messages_to_a_disabled_ring_are_ebadfd() {
    let mut a = ring();
    let disabled = IoUring::init(4, IoringSetupFlags::R_DISABLED).expect("io_uring");
    match IoUring::msg_ring_sync(&disabled, 1, 2, None) {
        Err(Error::Register(e)) => assert_eq!(e.errno(), Some(Errno::BADFD)),
        other => panic!("expected EBADFD, got {other:?}"),
    }
    // SAFETY: `disabled` is our ring, open until the completion is reaped.
    unsafe {
        a.msg_ring(
            1,
            disabled.fd(),
            1,
            2,
            uring::sys::IoringMsgringFlags::empty(),
        )
    }
    .unwrap();
    assert_eq!(reap(&mut a, 1)[0].res, neg(Errno::BADFD));
}

/// The ring's futexes are the kernel's: `futex(2)` wakes a ring waiter, and a ring wake
/// wakes a thread blocked in `futex(2)`.
#[test]
fn ring_futexes_meet_futex_syscalls() {
    use rustix::thread::futex;
    let mut ring = ring();
    let word = std::sync::Arc::new(AtomicU32::new(0));
    // SAFETY: `word` outlives every completion reaped below.
    unsafe { ring.futex_wait(1, &word, 0, ANY, FUTEX_FLAGS, 0) }.unwrap();
    ring.submit().unwrap();
    // Issued at submit: the waiter is queued, so the system call finds it.
    assert_eq!(futex::wake(&word, futex::Flags::PRIVATE, 1).unwrap(), 1);
    assert_eq!(reap(&mut ring, 1)[0].res, 0);

    let w = std::sync::Arc::clone(&word);
    let waiter = std::thread::spawn(move || {
        // Returns once woken (or at once if the word changed, which nothing does).
        futex::wait(&w, futex::Flags::PRIVATE, 0, None)
    });
    // The thread may not be waiting yet: retry the wake, bounded in count (and so in time).
    let mut woken = 0;
    for ud in 10..5010u64 {
        // SAFETY: as above.
        unsafe { ring.futex_wake(ud, &word, 1, ANY, FUTEX_FLAGS, 0) }.unwrap();
        woken = reap(&mut ring, 1)[0].res;
        if woken == 1 {
            break;
        }
        assert_eq!(woken, 0);
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(woken, 1, "the blocked thread was woken by the ring");
    waiter.join().unwrap().expect("woken, not an error");
}

/// The raw synchronous message: the same SQE a queued message uses; a file hand-over is
/// refused (the kernel has no synchronous one).
#[test]
fn register_sync_msg_takes_data_messages_only() {
    let mut b = ring();
    let mut sqe = uring::Sqe::default();
    sqe.prep_msg_ring(b.fd(), 12, 0x1212, uring::sys::IoringMsgringFlags::empty());
    // SAFETY: `b` is our ring, open during the call; nothing reserves its namespace.
    unsafe { IoUring::register_sync_msg(&sqe) }.unwrap();
    sqe.prep_msg_ring_fd(
        b.fd(),
        0,
        0,
        0x1313,
        uring::sys::IoringMsgringFlags::empty(),
    );
    // SAFETY: as above (and refused).
    let e = unsafe { IoUring::register_sync_msg(&sqe) }.unwrap_err();
    assert_eq!(e.errno(), Some(Errno::INVAL));
    let c = ready(&mut b);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!((c[0].user_data, c[0].res), (0x1212, 12));
}

/// A DEFER_TASKRUN target gets the message as task work: it is in the CQ once the target
/// enters to wait (here through `reap`), for the queued and the synchronous form alike.
#[test]
fn messages_reach_a_defer_taskrun_target() {
    let mut a = ring();
    let mut b = IoUring::init(
        8,
        IoringSetupFlags::SINGLE_ISSUER | IoringSetupFlags::DEFER_TASKRUN,
    )
    .expect("io_uring");
    IoUring::msg_ring_sync(&b, 1, 0x51, None).unwrap();
    // SAFETY: `b` is our ring, open until every completion is reaped.
    unsafe { a.msg_ring(1, b.fd(), 2, 0x52, uring::sys::IoringMsgringFlags::empty()) }.unwrap();
    assert_eq!(reap(&mut a, 1)[0].res, 0);
    let c = reap(&mut b, 2);
    assert_eq!(by_ud(&c, 0x51).res, 1);
    assert_eq!(by_ud(&c, 0x52).res, 2);
}
