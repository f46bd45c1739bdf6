//! Registration against the live kernel: eventfd, sparse files and the file allocation
//! range, NAPI, the probe, sparse/updated buffers, enabling a disabled ring, personalities,
//! provided-buffer rings (bad arguments, ENOBUFS, and that dropping them leaves no mapping).
mod common;

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard};

use rustix::event::{eventfd, EventfdFlags};
use rustix::io::Errno;
use uring::sys::{self, io_uring_op as Op, IoringSetupFlags};
use uring::{
    iovec, BufRing, BufRingError, BufRingFlags, BufferGroup, Cqe, EnterError, IoUring,
    RegisterError, SelectedBufferError, Sqe,
};

/// Every test of this file runs alone: the mapping test reads /proc/self/maps and must not
/// see (or be confused by) mappings other tests create meanwhile.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn new_ring(entries: u32) -> IoUring {
    IoUring::init(entries, IoringSetupFlags::empty()).unwrap()
}

fn nonblocking_eventfd() -> OwnedFd {
    eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).unwrap()
}

/// The eventfd's counter (reading resets it), or `None` when it is zero.
fn eventfd_count(efd: &OwnedFd) -> Option<u64> {
    let mut buf = [0u8; 8];
    match rustix::io::read(efd, &mut buf) {
        Ok(8) => Some(u64::from_ne_bytes(buf)),
        Ok(n) => panic!("short eventfd read: {n}"),
        Err(Errno::AGAIN) => None,
        Err(e) => panic!("eventfd read: {e}"),
    }
}

#[test]
fn eventfd_is_signalled_by_a_completion() {
    let _serial = serial();
    let mut ring = new_ring(4);
    let efd = nonblocking_eventfd();
    ring.register_eventfd(efd.as_fd()).unwrap();
    assert_eq!(
        ring.register_eventfd(efd.as_fd()),
        Err(RegisterError::AlreadyRegistered)
    );
    assert_eq!(eventfd_count(&efd), None);

    ring.nop(0x1111).unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 0x1111,
            res: 0,
            flags: 0
        }
    );
    assert!(eventfd_count(&efd).unwrap() >= 1);

    ring.unregister_eventfd().unwrap();
    assert_eq!(ring.unregister_eventfd(), Err(RegisterError::NotRegistered));
    // Unregistered: completions no longer signal it.
    ring.nop(0x2222).unwrap();
    ring.submit().unwrap();
    assert_eq!(common::reap(&mut ring, 1)[0].user_data, 0x2222);
    assert_eq!(eventfd_count(&efd), None);
}

#[test]
fn eventfd_async_is_signalled_only_by_async_completions() {
    let _serial = serial();
    let mut ring = new_ring(4);
    let efd = nonblocking_eventfd();
    ring.register_eventfd_async(efd.as_fd()).unwrap();

    // A NOP completes inline, during submission: no signal.
    ring.nop(1).unwrap();
    ring.submit().unwrap();
    assert_eq!(common::reap(&mut ring, 1)[0].user_data, 1);
    assert_eq!(eventfd_count(&efd), None);

    // With IOSQE_ASYNC it completes in an io-wq worker: signalled.
    ring.nop(2).unwrap().add_flags(sys::IOSQE_ASYNC).unwrap();
    ring.submit().unwrap();
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 2,
            res: 0,
            flags: 0
        }
    );
    assert!(eventfd_count(&efd).unwrap() >= 1);
    ring.unregister_eventfd().unwrap();
}

/// Queues `socket(AF_INET, SOCK_STREAM)` into a registered-file slot the kernel picks
/// (liburing's `io_uring_prep_socket_direct_alloc`), built by hand.
fn queue_socket_direct_alloc(ring: &mut IoUring, user_data: u64) {
    let mut sqe = Sqe::default();
    // fd = domain, off = type, len = protocol.
    sqe.prep_rw(
        Op::IORING_OP_SOCKET,
        linux_raw_sys::net::AF_INET as RawFd,
        0,
        0,
        u64::from(linux_raw_sys::net::SOCK_STREAM),
    );
    sqe.splice_fd_in = sys::IORING_FILE_INDEX_ALLOC;
    sqe.user_data = user_data;
    // SAFETY: the request names no memory.
    unsafe { ring.push(&sqe) }.unwrap();
}

#[test]
fn files_sparse_and_file_alloc_range() {
    let _serial = serial();
    let mut ring = new_ring(4);
    assert_eq!(ring.register_files_sparse(0), Err(RegisterError::Empty));
    // Without a table, no range fits in it.
    assert_eq!(
        ring.register_file_alloc_range(0, 8),
        Err(RegisterError::ArgumentsInvalid)
    );
    ring.register_files_sparse(8).unwrap();
    assert_eq!(
        ring.register_file_alloc_range(0, 0),
        Err(RegisterError::Empty)
    );
    // The range must lie inside the table.
    assert_eq!(
        ring.register_file_alloc_range(6, 4),
        Err(RegisterError::ArgumentsInvalid)
    );
    ring.register_file_alloc_range(4, 2).unwrap();

    // Three allocations into a range of two: slots 4 and 5, then ENFILE, in whatever order
    // the kernel ran them.
    for user_data in 1..=3 {
        queue_socket_direct_alloc(&mut ring, user_data);
    }
    assert_eq!(ring.submit().unwrap(), 3);
    let mut results: Vec<i32> = common::reap(&mut ring, 3)
        .iter()
        .map(|c| {
            assert!((1..=3).contains(&c.user_data), "{c:?}");
            assert_eq!(c.flags, 0);
            c.res
        })
        .collect();
    results.sort();
    assert_eq!(results, vec![-Errno::NFILE.raw_os_error(), 4, 5]);

    // Free slot 4 (closes the socket); the next allocation reuses it.
    // SAFETY: no request is queued or in flight (every allocation was reaped above).
    assert_eq!(
        unsafe { ring.register_files_update(4, &[None]) }.unwrap(),
        1
    );
    queue_socket_direct_alloc(&mut ring, 4);
    ring.submit().unwrap();
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 4,
            res: 4,
            flags: 0
        }
    );
    // SAFETY: every request on the table has been reaped above.
    unsafe { ring.unregister_files() }.unwrap();
}

#[test]
fn napi_register_unregister_round_trip() {
    let _serial = serial();
    let mut ring = new_ring(4);
    let settings = sys::io_uring_napi {
        busy_poll_to: 50,
        prefer_busy_poll: 1,
        opcode: 0,
        pad: [0; 2],
        op_param: 0,
        resv: 0,
    };
    let mut napi = settings;
    ring.register_napi(&mut napi).unwrap();
    // The kernel wrote back the previous settings: none.
    assert_eq!((napi.busy_poll_to, napi.prefer_busy_poll), (0, 0));

    let mut out = sys::io_uring_napi { ..settings };
    out.busy_poll_to = 0;
    out.prefer_busy_poll = 0;
    ring.unregister_napi(&mut out).unwrap();
    // Unregistering reports what was in force.
    assert_eq!((out.busy_poll_to, out.prefer_busy_poll), (50, 1));

    // And it is gone now.
    let mut again = sys::io_uring_napi { ..settings };
    ring.unregister_napi(&mut again).unwrap();
    assert_eq!((again.busy_poll_to, again.prefer_busy_poll), (0, 0));

    // A reserved field set is refused.
    let mut bad = sys::io_uring_napi {
        resv: 1,
        ..settings
    };
    assert_eq!(
        ring.register_napi(&mut bad),
        Err(RegisterError::ArgumentsInvalid)
    );
}

#[test]
fn probe_reports_zero_copy_send() {
    let _serial = serial();
    let ring = new_ring(4);
    let probe = ring.get_probe().unwrap();
    assert!(probe.is_supported(Op::IORING_OP_NOP));
    assert!(probe.is_supported(Op::IORING_OP_SEND_ZC));
    assert!(probe.is_supported(Op::IORING_OP_SENDMSG_ZC));
    assert!(probe.last_op() >= sys::op(Op::IORING_OP_SENDMSG_ZC));
    assert!(!probe.is_supported_raw(255));
}

#[test]
fn empty_registrations_are_rejected_before_the_kernel() {
    let _serial = serial();
    let mut ring = new_ring(4);
    // SAFETY: nothing is registered (the call fails before the system call).
    assert_eq!(
        unsafe { ring.register_buffers(&[]) },
        Err(RegisterError::Empty)
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { ring.register_buffers_update(0, &[]) },
        Err(RegisterError::Empty)
    );
    assert_eq!(ring.register_buffers_sparse(0), Err(RegisterError::Empty));
    assert_eq!(ring.register_files(&[]), Err(RegisterError::Empty));
    assert_eq!(
        // SAFETY: refused before any system call.
        unsafe { ring.register_files_update(0, &[]) },
        Err(RegisterError::Empty)
    );
    // Nothing was registered by any of these: the kernel agrees.
    // SAFETY: no table exists, and no request.
    assert_eq!(
        unsafe { ring.unregister_files() },
        Err(RegisterError::NotRegistered)
    );
    // SAFETY: as above.
    assert_eq!(
        unsafe { ring.unregister_buffers() },
        Err(RegisterError::NotRegistered)
    );
}

/// Queues a READ_FIXED of `/dev/zero`-like `fd` into `buffer`, registered buffer `index`.
fn queue_read_fixed(ring: &mut IoUring, user_data: u64, fd: RawFd, buffer: &mut [u8], index: u16) {
    let mut sqe = Sqe::default();
    sqe.prep_rw(
        Op::IORING_OP_READ_FIXED,
        fd,
        buffer.as_mut_ptr() as u64,
        buffer.len(),
        0,
    );
    sqe.buf_index = index;
    sqe.user_data = user_data;
    // SAFETY: `buffer` outlives the completion, reaped by the caller.
    unsafe { ring.push(&sqe) }.unwrap();
}

#[test]
fn buffers_sparse_then_update() {
    let _serial = serial();
    let mut ring = new_ring(4);
    let zero = std::fs::File::open("/dev/zero").unwrap();
    ring.register_buffers_sparse(4).unwrap();
    let mut pool = vec![7u8; 256];
    let iov = [iovec {
        iov_base: pool.as_mut_ptr().cast(),
        iov_len: pool.len() as _,
    }];
    // SAFETY: `pool` outlives the registration (unregistered below, before it is freed).
    assert_eq!(unsafe { ring.register_buffers_update(2, &iov) }.unwrap(), 1);

    // Slot 1 is still empty: a fixed read naming it fails.
    let mut other = [1u8; 16];
    queue_read_fixed(&mut ring, 1, zero.as_raw_fd(), &mut other, 1);
    ring.submit().unwrap();
    let cqe = common::reap(&mut ring, 1)[0];
    assert_eq!(cqe.user_data, 1);
    assert_eq!(cqe.err(), Some(Errno::FAULT));

    // Slot 2 holds `pool`.
    let len = pool.len();
    let base = pool.as_mut_ptr();
    // SAFETY: the slice covers `pool`, which no other reference touches until the
    // completion is reaped.
    let target = unsafe { core::slice::from_raw_parts_mut(base, len) };
    queue_read_fixed(&mut ring, 2, zero.as_raw_fd(), target, 2);
    ring.submit().unwrap();
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 2,
            res: 256,
            flags: 0
        }
    );
    assert!(pool.iter().all(|&b| b == 0));
    // SAFETY: the fixed requests have been reaped above.
    unsafe { ring.unregister_buffers() }.unwrap();
    drop(pool);
}

#[test]
fn enable_rings_starts_a_disabled_ring() {
    let _serial = serial();
    let mut ring = IoUring::init(4, IoringSetupFlags::R_DISABLED).unwrap();
    ring.nop(9).unwrap();
    assert_eq!(ring.submit(), Err(EnterError::FileDescriptorInBadState));
    ring.enable_rings().unwrap();
    assert_eq!(ring.submit().unwrap(), 1);
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 9,
            res: 0,
            flags: 0
        }
    );
    // Enabling an enabled ring is refused.
    assert_eq!(
        ring.enable_rings(),
        Err(RegisterError::FileDescriptorInBadState)
    );
}

#[test]
fn personality_round_trip() {
    let _serial = serial();
    let mut ring = new_ring(4);
    let id = ring.register_personality().unwrap();
    assert!(id >= 1);
    ring.nop(3).unwrap().set_personality(id);
    ring.submit().unwrap();
    assert_eq!(
        common::reap(&mut ring, 1)[0],
        Cqe {
            user_data: 3,
            res: 0,
            flags: 0
        }
    );
    ring.unregister_personality(id).unwrap();
    assert_eq!(
        ring.unregister_personality(id),
        Err(RegisterError::ArgumentsInvalid)
    );
}

#[test]
fn buf_ring_bad_arguments() {
    let _serial = serial();
    let ring = new_ring(4);
    let none = BufRingFlags::empty();
    assert_eq!(
        BufRing::setup_buf_ring(&ring, 0, 1, none).unwrap_err(),
        BufRingError::EntriesNotInRange
    );
    assert_eq!(
        BufRing::setup_buf_ring(&ring, 6, 1, none).unwrap_err(),
        BufRingError::EntriesNotPowerOfTwo
    );
    assert_eq!(
        BufRing::setup_buf_ring(&ring, 1 << 15 | 1, 1, none).unwrap_err(),
        BufRingError::EntriesNotInRange
    );
    assert_eq!(
        BufferGroup::init(&ring, 1, 0, 2).unwrap_err(),
        BufRingError::BufferSizeInvalid
    );
    assert_eq!(
        BufferGroup::init(&ring, 1, 64, 0).unwrap_err(),
        BufRingError::EntriesNotInRange
    );
    // A group id can be registered once.
    let br = BufRing::setup_buf_ring(&ring, 8, 1, none).unwrap();
    assert_eq!(
        BufRing::setup_buf_ring(&ring, 8, 1, none).unwrap_err(),
        BufRingError::Register(RegisterError::AlreadyExists)
    );
    assert_eq!(
        BufferGroup::init(&ring, 1, 64, 2).unwrap_err(),
        BufRingError::Register(RegisterError::AlreadyExists)
    );
    br.free_buf_ring().unwrap();
    // Freed: the id is available again, also with incremental consumption (6.12).
    let inc = BufRing::setup_buf_ring(&ring, 8, 1, BufRingFlags::INC).unwrap();
    drop(inc);
    let again = BufferGroup::init(&ring, 1, 64, 3).unwrap();
    assert_eq!(again.buf_ring().entries(), 4);
    again.deinit().unwrap();
}

#[test]
fn buffer_group_recv_without_buffers_is_enobufs() {
    let _serial = serial();
    let mut ring = new_ring(8);
    let mut group = BufferGroup::init(&ring, 5, 8, 1).unwrap();
    let h = common::socket_test_harness(&mut ring);
    let data = *b"0123456789abcdef";
    rustix::io::write(&h.client, &data).unwrap();

    // The only buffer goes to the first recv.
    // SAFETY: each completion is reaped below, before the group is dropped; only this
    // ring's completions go to get/put, and each buffer is put back once.
    unsafe { group.recv(&mut ring, 1, h.server(), 0) }.unwrap();
    ring.submit().unwrap();
    let first = common::reap(&mut ring, 1)[0];
    assert_eq!(first.user_data, 1);
    assert_eq!(first.buffer_id(), Some(0));
    assert_eq!(group.get(&first).unwrap(), &data[..8]);

    // None left: ENOBUFS as the result, no buffer flag, and typed errors from the group.
    // SAFETY: as above.
    unsafe { group.recv(&mut ring, 2, h.server(), 0) }.unwrap();
    ring.submit().unwrap();
    let starved = common::reap(&mut ring, 1)[0];
    assert_eq!(
        starved,
        Cqe {
            user_data: 2,
            res: -Errno::NOBUFS.raw_os_error(),
            flags: starved.flags & !sys::IORING_CQE_F_BUFFER,
        }
    );
    assert_eq!(starved.flags & sys::IORING_CQE_F_BUFFER, 0);
    assert_eq!(
        group.get(&starved),
        Err(SelectedBufferError::NoBufferSelected)
    );
    assert_eq!(
        group.put_cqe(&starved),
        Err(SelectedBufferError::NoBufferSelected)
    );
    assert_eq!(
        group.put(1),
        Err(SelectedBufferError::BufferIdOutOfRange {
            id: 1,
            buffers_count: 1
        })
    );

    // Put back, the rest arrives.
    group.put_cqe(&first).unwrap();
    // SAFETY: as above.
    unsafe { group.recv(&mut ring, 3, h.server(), 0) }.unwrap();
    ring.submit().unwrap();
    let second = common::reap(&mut ring, 1)[0];
    assert_eq!(second.user_data, 3);
    assert_eq!(group.get(&second).unwrap(), &data[8..]);
    group.put(second.buffer_id().unwrap()).unwrap();
}

/// The mappings of /proc/self/maps that overlap `[addr, addr + len)`.
fn mappings_overlapping(addr: usize, len: usize) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|line| {
            let range = line.split_whitespace().next().unwrap();
            let (start, end) = range.split_once('-').unwrap();
            let start = usize::from_str_radix(start, 16).unwrap();
            let end = usize::from_str_radix(end, 16).unwrap();
            start < addr + len && addr < end
        })
        .map(str::to_owned)
        .collect()
}

/// Set in the child process that runs the mapping test alone.
const MAPS_CHILD: &str = "URING_TEST_MAPS_CHILD";

/// Runs in a child process of its own (this test binary, filtered to this one test, one
/// test thread): in the parent, the test harness spawns threads for other tests at any
/// time, and a new thread's signal stack can be mapped at an address just unmapped here,
/// which /proc/self/maps cannot tell from a leak.
#[test]
fn dropping_buffer_rings_and_groups_unmaps_them() {
    if std::env::var_os(MAPS_CHILD).is_some() {
        return unmaps_alone();
    }
    let _serial = serial();
    let name = "dropping_buffer_rings_and_groups_unmaps_them";
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--test-threads=1", "--nocapture"])
        .env(MAPS_CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    // The child really ran the test (and nothing else).
    assert!(stdout.contains("1 passed"), "{stdout}");
}

fn unmaps_alone() {
    let ring = new_ring(4);
    let fds_before = std::fs::read_dir("/proc/self/fd").unwrap().count();

    // A raw ring, dropped.
    let br = BufRing::setup_buf_ring(&ring, 256, 1, BufRingFlags::empty()).unwrap();
    let (addr, len) = (br.as_ptr() as usize, br.mmap_len());
    assert_eq!(len, 256 * 16);
    assert_eq!(mappings_overlapping(addr, len).len(), 1);
    drop(br);
    assert_eq!(mappings_overlapping(addr, len), Vec::<String>::new());

    // A raw ring, freed explicitly.
    let br = BufRing::setup_buf_ring(&ring, 1, 1, BufRingFlags::empty()).unwrap();
    let (addr, len) = (br.as_ptr() as usize, br.mmap_len());
    assert!(!mappings_overlapping(addr, len).is_empty());
    br.free_buf_ring().unwrap();
    assert!(mappings_overlapping(addr, len).is_empty());

    // A group: its ring and its slab.
    let group = BufferGroup::init(&ring, 2, 4096, 4).unwrap();
    let ring_map = (
        group.buf_ring().as_ptr() as usize,
        group.buf_ring().mmap_len(),
    );
    let slab = (group.buffers_ptr() as usize, group.buffers_len());
    assert_eq!(slab.1, 4 * 4096);
    assert!(!mappings_overlapping(ring_map.0, ring_map.1).is_empty());
    assert!(!mappings_overlapping(slab.0, slab.1).is_empty());
    drop(group);
    assert!(mappings_overlapping(ring_map.0, ring_map.1).is_empty());
    assert!(mappings_overlapping(slab.0, slab.1).is_empty());

    // A group that outlives its IoUring value: it unregisters through its own duplicate
    // of the ring fd, then unmaps, then closes that duplicate.
    let group = BufferGroup::init(&ring, 3, 64, 2).unwrap();
    let slab = (group.buffers_ptr() as usize, group.buffers_len());
    drop(ring);
    assert!(!mappings_overlapping(slab.0, slab.1).is_empty());
    group.deinit().unwrap();
    let left = mappings_overlapping(slab.0, slab.1);
    assert!(left.is_empty(), "{:x}+{:x}: {left:?}", slab.0, slab.1);

    // No file descriptor is left behind either (the ring and every duplicate are closed).
    let fds_after = std::fs::read_dir("/proc/self/fd").unwrap().count();
    assert_eq!(fds_after, fds_before - 1);
}
