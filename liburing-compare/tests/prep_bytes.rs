//! Every `Sqe::prep_*` of `uring` that liburing has a helper for, checked byte for byte
//! against that helper of liburing 2.15: the `axboe-liburing` crate, whose helpers are
//! liburing.h's inline ones transliterated to Rust over bindgen's bindings of the 2.15
//! headers (its build also compiles the C library, which these tests do not call).
//!
//! Each case fills one SQE with our prep and one with liburing's helper, from the same
//! distinctive arguments (non-zero descriptors, offsets, lengths and flags, pointers to
//! real buffers), sets `user_data` identically on both, and compares all 64 bytes.
//!
//! Both entries start from the same stale bytes (as a reused ring slot would hold). Ours
//! gets the prep straight away: every prep of ours writes all 64 bytes. liburing's first
//! gets `io_uring_initialize_sqe`, which is what 2.15's `io_uring_get_sqe` does to every
//! entry it hands out (its helpers only write the fields they use, on top of that), and
//! which clears everything except the fields `io_uring_prep_rw` writes and `user_data`.
//!
//! Adding a case: one entry in the `compare!` table below. A test
//! (`every_prep_has_a_case`) reads `uring/src/sqe.rs` and `uring/src/big.rs` and fails
//! for a `pub fn prep_*` that has no case of the same name.
//!
//! Intentional differences (the cases pass the argument that makes the two comparable):
//! - `prep_splice`, `prep_tee`: ours take no `splice_flags` (as Zig's); compared with 0.
//! - `prep_readv_fixed`, `prep_writev_fixed`: ours take no `rw_flags` (liburing's `flags`,
//!   set `sqe.rw_flags` afterwards); compared with 0.
//! - `prep_fadvise`, `prep_madvise`: one prep each for liburing's two helpers. A length that
//!   fits in 32 bits goes in `len`, as `io_uring_prep_fadvise` / `io_uring_prep_madvise`;
//!   a longer one in the 64-bit field with `len` 0, as `io_uring_prep_fadvise64` /
//!   `io_uring_prep_madvise64` (which put every length there: the kernel reads that field
//!   only when `len` is 0, and older kernels reject it non-zero). Each is compared with
//!   the helper of its range.
//! - `prep_cancel` is liburing's `io_uring_prep_cancel64` (and `io_uring_prep_cancel`, its
//!   pointer-keyed twin, gives the same bytes for the pointer's address).
//! - `prep_msg_ring`: liburing.h 2.15's `io_uring_prep_msg_ring` stores `flags` in
//!   `msg_ring_flags` as given, and so do we; `axboe-liburing` 2.15.3's transliteration ORs
//!   `IORING_MSG_RING_FLAGS_PASS` in (with `file_index` 0 the kernel then posts flags 0,
//!   the same completion): compared with that bit cleared.
//! - Argument order: `prep_timeout_update` (user_data before the timespec) and
//!   `prep_socket_direct` (`flags` before `file_index`) follow Zig; the bytes agree.
//!
//! Our preps with no liburing helper of the same name, compared with the liburing calls
//! that build the same entry:
//! - `prep_read_buffer_selection`: `io_uring_prep_read` with a null buffer, then
//!   `io_uring_sqe_set_flags(IOSQE_BUFFER_SELECT)` and `io_uring_sqe_set_buf_group`.
//! - `prep_recv_buffer_selection`: the same with `io_uring_prep_recv`.
//! - `prep_sendv_zc`: `io_uring_prep_send_zc` of the iovec array with
//!   `IORING_SEND_VECTORIZED` in `zc_flags`.
//! - `prep_recv_zc`: no liburing 2.15 helper; `io_uring_prep_rw(IORING_OP_RECV_ZC)` with
//!   `IORING_RECV_MULTISHOT` in `ioprio` and the queue in `zcrx_ifq_idx`.
//!
//! - `prep_uring_cmd` (`uring/src/big.rs`, with the command bytes as an argument):
//!   `io_uring_prep_uring_cmd`, then the bytes copied into `sqe->cmd`; on a 128-byte
//!   entry (`Sqe128::prep_uring_cmd`, an 80-byte command) the same, over all 128 bytes
//!   (`prep_uring_cmd_sqe128`).
//! - `prep_nop_cqe32` (`uring/src/big.rs`): `io_uring_prep_nop`, then `nop_flags`
//!   (`IORING_NOP_CQE32`, with `IORING_NOP_INJECT_RESULT` and `len` for a result),
//!   `off` and `addr` set by hand, as liburing's `test/nop-flags.c` does.
//!
//! liburing 2.15 helpers with no prep of ours (left out on purpose):
//! - `io_uring_prep_cancel` (pointer-keyed `prep_cancel`, compared above),
//!   `io_uring_prep_fadvise64`, `io_uring_prep_madvise64` (folded into `prep_fadvise` /
//!   `prep_madvise`, above).
//! - `io_uring_prep_nop128`, `io_uring_prep_uring_cmd128` (the 128-byte opcodes of
//!   IORING_SETUP_SQE_MIXED rings, which Linux 6.18 lacks and `BigRing` refuses),
//!   `io_uring_prep_cmd_discard`, `io_uring_prep_cmd_zone_reset_all` (block-device
//!   commands; `prep_uring_cmd` is their raw form).

use core::ffi::{c_int, c_void};
use core::mem::transmute;
use core::ptr;
use std::ffi::CString;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

use liburing_rs::*;
use uring::sys::io_uring_op as Op;
use uring::{
    EpollEvent, FutexWaitv, IdType, MsgHdr, OpenHow, RawSockAddr, SigInfo, SocketOp, Sqe, Sqe128,
    Statx, Timespec, FILE_INDEX_ALLOC,
};

// Distinctive arguments: every byte of each differs from its neighbours and from the
// stale pattern, so a value in the wrong field or half of a field shows.
const FD: RawFd = 0x1b2c_3d4e;
const FD2: RawFd = 0x0a1b_2c3d;
const OFF: u64 = 0x0123_4567_89ab_cdef;
const OFF2: u64 = 0x1032_5476_98ba_dcfe;
const FLAGS: u32 = 0x4000_4141;
const LEN: u32 = 0x0003_0507;
const BIG_LEN: u64 = (5 << 30) + 0x0305;
const BUF_INDEX: u16 = 0x0a5c;
const GROUP: u16 = 0x1d2e;
const FILE_INDEX: u32 = 0x0004_0302;
const ZC_FLAGS: u16 = 0x0003;
const USER_DATA: u64 = 0xfeed_face_cafe_beef;
const USER_DATA2: u64 = 0x0bad_c0de_dead_f00d;
const MODE: u32 = 0o4755;
const CMD_OP: u32 = 0x0c0d_0e0f;
const CMD16: [u8; 16] = [
    0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40,
];
const NOP_RES: i32 = -0x0b0c;

/// The memory the pointers point to: real buffers, structs and strings.
struct Fixture {
    buf: Vec<u8>,
    bufs: [[u8; 17]; 3],
    path: CString,
    path2: CString,
    addr: RawSockAddr,
    addrlen: u32,
    msg: MsgHdr,
    ts: Timespec,
    statx: Statx,
    how: OpenHow,
    info: SigInfo,
    events: [EpollEvent; 5],
    ev: EpollEvent,
    fds: [RawFd; 4],
    optval: [u8; 24],
    word: AtomicU32,
    waitv: [FutexWaitv; 3],
    pipe: [RawFd; 2],
}

impl Fixture {
    fn new() -> Box<Self> {
        Box::new(Fixture {
            buf: vec![0x5a; 3001],
            bufs: [[1; 17], [2; 17], [3; 17]],
            path: CString::new("some/dir/file").unwrap(),
            path2: CString::new("other/dir/link").unwrap(),
            // SAFETY: sockaddr, msghdr, statx and siginfo_t are plain C structs of
            // integers, arrays, pointers and unions of those: all zeroes is a valid value.
            addr: unsafe { core::mem::zeroed() },
            addrlen: 16,
            // SAFETY: as above.
            msg: unsafe { core::mem::zeroed() },
            ts: uring::timespec(Duration::new(3, 7)),
            // SAFETY: as above.
            statx: unsafe { core::mem::zeroed() },
            how: OpenHow {
                flags: 0o2_000_101,
                mode: 0o644,
                resolve: 0x08,
            },
            // SAFETY: as above.
            info: unsafe { core::mem::zeroed() },
            events: [EpollEvent { events: 1, data: 2 }; 5],
            ev: EpollEvent { events: 4, data: 9 },
            fds: [3, -1, 5, 7],
            optval: [0; 24],
            word: AtomicU32::new(0x0102_0304),
            waitv: [FutexWaitv {
                val: 5,
                uaddr: 0x1000,
                flags: 0x82,
                __reserved: 0,
            }; 3],
            pipe: [-1; 2],
        })
    }

    fn iovecs_mut(&mut self) -> Vec<IoSliceMut<'_>> {
        self.bufs.iter_mut().map(|b| IoSliceMut::new(b)).collect()
    }

    fn iovecs(&self) -> Vec<IoSlice<'_>> {
        self.bufs.iter().map(|b| IoSlice::new(b)).collect()
    }
}

/// What a reused ring slot may hold: a different, non-zero byte in every position.
fn stale() -> Sqe {
    Sqe {
        opcode: 0xe1,
        flags: 0xe2,
        ioprio: 0xe4e3,
        fd: 0x6e7e_6e5e,
        off: 0xeeed_eceb_eae9_e8e7,
        addr: 0xf6f5_f4f3_f2f1_f0ef,
        len: 0xfaf9_f8f7,
        rw_flags: 0xfefd_fcfb,
        user_data: 0xd6d5_d4d3_d2d1_d0cf,
        buf_index: 0xd8d7,
        personality: 0xdad9,
        splice_fd_in: 0x5e5d_5c5b,
        addr3: 0xc6c5_c4c3_c2c1_c0bf,
        resv: 0xcecd_cccb_cac9_c8c7,
    }
}

/// liburing's entry to fill: the stale bytes, then what `io_uring_get_sqe` does.
fn liburing_entry() -> io_uring_sqe {
    // SAFETY: both types are the kernel's 64-byte `struct io_uring_sqe` of plain integers
    // (sizes checked by transmute), so any bytes are a valid io_uring_sqe.
    let mut sqe: io_uring_sqe = unsafe { transmute::<Sqe, io_uring_sqe>(stale()) };
    // SAFETY: `sqe` is a live, exclusively borrowed entry; the call only stores zeroes.
    unsafe { io_uring_initialize_sqe(&mut sqe) };
    sqe
}

/// Field names by byte offset, for the failure message.
fn field_at(offset: usize) -> &'static str {
    match offset {
        0 => "opcode",
        1 => "flags",
        2..=3 => "ioprio",
        4..=7 => "fd",
        8..=15 => "off/addr2/cmd_op",
        16..=23 => "addr/splice_off_in/level+optname",
        24..=27 => "len",
        28..=31 => "rw_flags (op flags)",
        32..=39 => "user_data",
        40..=41 => "buf_index/buf_group",
        42..=43 => "personality",
        44..=47 => "splice_fd_in/file_index/addr_len/optlen",
        48..=55 => "addr3/optval",
        _ => "__pad2[0]",
    }
}

fn assert_same(name: &str, mut ours: Sqe, mut theirs: io_uring_sqe) {
    ours.user_data = USER_DATA;
    theirs.user_data = USER_DATA;
    let a: [u8; 64] = bytes_of(ours);
    // SAFETY: every byte of `theirs` was written (the stale pattern, then liburing's
    // stores), and [u8; 64] has the same size and no invalid values.
    let b: [u8; 64] = unsafe { transmute::<io_uring_sqe, [u8; 64]>(theirs) };
    if a != b {
        let mut diff = String::new();
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            if x != y {
                diff += &format!(
                    "  byte {i:2} ({}): ours {x:#04x}, liburing {y:#04x}\n",
                    field_at(i)
                );
            }
        }
        // SAFETY: as above; every bit pattern is a valid Sqe (integers only).
        let lib: Sqe = unsafe { transmute::<[u8; 64], Sqe>(b) };
        panic!("{name}: differs from liburing\n{diff}ours:     {ours:x?}\nliburing: {lib:x?}");
    }
}

fn bytes_of(sqe: Sqe) -> [u8; 64] {
    // SAFETY: Sqe is repr(C), 64 bytes of integers without padding (its layout test in
    // uring/src/sqe.rs), so its bytes are all initialised.
    unsafe { transmute::<Sqe, [u8; 64]>(sqe) }
}

fn len32<T>(slice: &[T]) -> u32 {
    u32::try_from(slice.len()).unwrap()
}

/// One `#[test]` per case, and the list of case names:
///
/// ```text
/// name(f) { setup using the fixture f }   // the block is optional
///     ours |s| <prep on s: &mut Sqe>,
///     liburing |q| <helper(s) on q: *mut io_uring_sqe>;
/// ```
///
/// A case named after one of our preps checks that prep (`every_prep_has_a_case`); other
/// names are variants (other argument ranges).
macro_rules! compare {
    ($(
        $name:ident($f:ident) $({ $($setup:tt)* })?
            ours |$s:ident| $ours:expr,
            liburing |$q:ident| $theirs:expr;
    )*) => {
        const CASES: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                #[allow(unused_mut, unused_variables)]
                let mut $f = Fixture::new();
                $($($setup)*)?
                let mut ours = stale();
                {
                    let $s: &mut Sqe = &mut ours;
                    $ours;
                }
                let mut theirs = liburing_entry();
                {
                    let $q: *mut io_uring_sqe = &mut theirs;
                    // SAFETY: `q` points to a live entry borrowed for this block alone.
                    // liburing's prep helpers only store into the entry; the pointers they
                    // are given are stored as numbers, never dereferenced, and the entry
                    // is never submitted.
                    unsafe {
                        $theirs;
                    }
                }
                assert_same(stringify!($name), ours, theirs);
            }
        )*
    };
}

compare! {
    // Base and misc.
    prep_rw(f)
        ours |s| s.prep_rw(Op::IORING_OP_READ, FD, f.buf.as_ptr() as u64, f.buf.len(), OFF),
        liburing |q| io_uring_prep_rw(
            IORING_OP_READ, q, FD, f.buf.as_ptr().cast(), len32(&f.buf), OFF);
    prep_nop(f)
        ours |s| s.prep_nop(),
        liburing |q| io_uring_prep_nop(q);
    prep_fsync(f)
        ours |s| s.prep_fsync(FD, uring::sys::IoringFsyncFlags::DATASYNC),
        liburing |q| io_uring_prep_fsync(q, FD, IORING_FSYNC_DATASYNC);

    // Reads and writes.
    prep_read(f)
        ours |s| s.prep_read(FD, &mut f.buf, OFF),
        liburing |q| io_uring_prep_read(q, FD, f.buf.as_mut_ptr().cast(), len32(&f.buf), OFF);
    prep_read_buffer_selection(f)
        ours |s| s.prep_read_buffer_selection(FD, GROUP, LEN as usize, OFF),
        liburing |q| {
            io_uring_prep_read(q, FD, ptr::null_mut(), LEN, OFF);
            io_uring_sqe_set_flags(q, IOSQE_BUFFER_SELECT);
            io_uring_sqe_set_buf_group(q, c_int::from(GROUP));
        };
    prep_readv(f) { let iov = f.iovecs_mut(); }
        ours |s| s.prep_readv(FD, &iov, OFF),
        liburing |q| io_uring_prep_readv(q, FD, iov.as_ptr().cast(), len32(&iov), OFF);
    prep_read_fixed(f)
        ours |s| s.prep_read_fixed(FD, &mut f.buf, OFF, BUF_INDEX),
        liburing |q| io_uring_prep_read_fixed(
            q, FD, f.buf.as_mut_ptr().cast(), len32(&f.buf), OFF, c_int::from(BUF_INDEX));
    prep_readv_fixed(f) { let iov = f.iovecs_mut(); }
        ours |s| s.prep_readv_fixed(FD, &iov, OFF, BUF_INDEX),
        liburing |q| io_uring_prep_readv_fixed(
            q, FD, iov.as_ptr().cast(), len32(&iov), OFF, 0, c_int::from(BUF_INDEX));
    prep_read_multishot(f)
        ours |s| s.prep_read_multishot(FD, LEN, OFF, GROUP),
        liburing |q| io_uring_prep_read_multishot(q, FD, LEN, OFF, c_int::from(GROUP));
    prep_write(f)
        ours |s| s.prep_write(FD, &f.buf, OFF),
        liburing |q| io_uring_prep_write(q, FD, f.buf.as_ptr().cast(), len32(&f.buf), OFF);
    prep_writev(f) { let iov = f.iovecs(); }
        ours |s| s.prep_writev(FD, &iov, OFF),
        liburing |q| io_uring_prep_writev(q, FD, iov.as_ptr().cast(), len32(&iov), OFF);
    prep_write_fixed(f)
        ours |s| s.prep_write_fixed(FD, &f.buf, OFF, BUF_INDEX),
        liburing |q| io_uring_prep_write_fixed(
            q, FD, f.buf.as_ptr().cast(), len32(&f.buf), OFF, c_int::from(BUF_INDEX));
    prep_writev_fixed(f) { let iov = f.iovecs(); }
        ours |s| s.prep_writev_fixed(FD, &iov, OFF, BUF_INDEX),
        liburing |q| io_uring_prep_writev_fixed(
            q, FD, iov.as_ptr().cast(), len32(&iov), OFF, 0, c_int::from(BUF_INDEX));
    prep_splice(f)
        ours |s| s.prep_splice(FD, OFF, FD2, OFF2, LEN as usize),
        liburing |q| io_uring_prep_splice(q, FD, OFF as i64, FD2, OFF2 as i64, LEN, 0);
    prep_splice_from_a_pipe(f)
        ours |s| s.prep_splice(FD, u64::MAX, FD2, OFF2, LEN as usize),
        liburing |q| io_uring_prep_splice(q, FD, -1, FD2, OFF2 as i64, LEN, 0);
    prep_tee(f)
        ours |s| s.prep_tee(FD, FD2, LEN as usize),
        liburing |q| io_uring_prep_tee(q, FD, FD2, LEN, 0);

    // Send and receive.
    prep_send(f)
        ours |s| s.prep_send(FD, &f.buf, uring::sys::SendFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_send(q, FD, f.buf.as_ptr().cast(), f.buf.len(), FLAGS as c_int);
    prep_sendto(f)
        ours |s| s.prep_sendto(FD, &f.buf, uring::sys::SendFlags::from_bits_retain(FLAGS), &f.addr, f.addrlen),
        liburing |q| io_uring_prep_sendto(
            q, FD, f.buf.as_ptr().cast(), f.buf.len(), FLAGS as c_int,
            ptr::addr_of!(f.addr).cast(), f.addrlen);
    prep_recv(f)
        ours |s| s.prep_recv(FD, &mut f.buf, uring::sys::RecvFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_recv(
            q, FD, f.buf.as_mut_ptr().cast(), f.buf.len(), FLAGS as c_int);
    prep_recv_buffer_selection(f)
        ours |s| s.prep_recv_buffer_selection(FD, GROUP, LEN as usize, uring::sys::RecvFlags::from_bits_retain(FLAGS)),
        liburing |q| {
            io_uring_prep_recv(q, FD, ptr::null_mut(), LEN as usize, FLAGS as c_int);
            io_uring_sqe_set_flags(q, IOSQE_BUFFER_SELECT);
            io_uring_sqe_set_buf_group(q, c_int::from(GROUP));
        };
    prep_recv_multishot(f)
        ours |s| s.prep_recv_multishot(FD, &mut f.buf, uring::sys::RecvFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_recv_multishot(
            q, FD, f.buf.as_mut_ptr().cast(), f.buf.len(), FLAGS as c_int);
    prep_send_zc(f)
        ours |s| s.prep_send_zc(FD, &f.buf, uring::sys::SendFlags::from_bits_retain(FLAGS), uring::sys::IoringSendFlags::from_bits_retain(ZC_FLAGS)),
        liburing |q| io_uring_prep_send_zc(
            q, FD, f.buf.as_ptr().cast(), f.buf.len(), FLAGS as c_int, u32::from(ZC_FLAGS));
    prep_send_zc_fixed(f)
        ours |s| s.prep_send_zc_fixed(FD, &f.buf, uring::sys::SendFlags::from_bits_retain(FLAGS), uring::sys::IoringSendFlags::from_bits_retain(ZC_FLAGS), BUF_INDEX),
        liburing |q| io_uring_prep_send_zc_fixed(
            q, FD, f.buf.as_ptr().cast(), f.buf.len(), FLAGS as c_int, u32::from(ZC_FLAGS),
            u32::from(BUF_INDEX));
    prep_send_set_addr(f)
        ours |s| {
            s.prep_send_zc(FD, &f.buf, uring::sys::SendFlags::from_bits_retain(FLAGS), uring::sys::IoringSendFlags::from_bits_retain(ZC_FLAGS));
            s.prep_send_set_addr(ptr::addr_of!(f.addr).cast(), 0x1e);
        },
        liburing |q| {
            io_uring_prep_send_zc(
                q, FD, f.buf.as_ptr().cast(), f.buf.len(), FLAGS as c_int, u32::from(ZC_FLAGS));
            io_uring_prep_send_set_addr(q, ptr::addr_of!(f.addr).cast(), 0x1e);
        };
    prep_sendmsg(f)
        ours |s| s.prep_sendmsg(FD, &f.msg, uring::sys::SendFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_sendmsg(q, FD, ptr::addr_of!(f.msg).cast(), FLAGS);
    prep_sendmsg_zc(f)
        ours |s| s.prep_sendmsg_zc(FD, &f.msg, uring::sys::SendFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_sendmsg_zc(q, FD, ptr::addr_of!(f.msg).cast(), FLAGS);
    prep_sendmsg_zc_fixed(f)
        ours |s| s.prep_sendmsg_zc_fixed(FD, &f.msg, uring::sys::SendFlags::from_bits_retain(FLAGS), BUF_INDEX),
        liburing |q| io_uring_prep_sendmsg_zc_fixed(
            q, FD, ptr::addr_of!(f.msg).cast(), FLAGS, u32::from(BUF_INDEX));
    prep_recvmsg(f)
        ours |s| s.prep_recvmsg(FD, &mut f.msg, uring::sys::RecvFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_recvmsg(q, FD, ptr::addr_of_mut!(f.msg).cast(), FLAGS);
    prep_recvmsg_multishot(f)
        ours |s| s.prep_recvmsg_multishot(FD, &mut f.msg, uring::sys::RecvFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_recvmsg_multishot(
            q, FD, ptr::addr_of_mut!(f.msg).cast(), FLAGS);
    prep_sendv_zc(f) { let iov = f.iovecs(); }
        ours |s| s.prep_sendv_zc(
            FD, &iov, uring::sys::SendFlags::from_bits_retain(FLAGS), uring::sys::IoringSendFlags::from_bits_retain(ZC_FLAGS)),
        liburing |q| io_uring_prep_send_zc(
            q, FD, iov.as_ptr().cast(), iov.len(), FLAGS as c_int,
            u32::from(ZC_FLAGS) | IORING_SEND_VECTORIZED);
    prep_send_bundle(f)
        ours |s| s.prep_send_bundle(FD, LEN as usize, uring::sys::SendFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_send_bundle(q, FD, LEN as usize, FLAGS as c_int);

    // Socket setup.
    prep_accept(f)
        ours |s| s.prep_accept(FD, &mut f.addr, &mut f.addrlen, uring::sys::SocketFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_accept(
            q, FD, ptr::addr_of_mut!(f.addr).cast(), &mut f.addrlen, FLAGS as c_int);
    prep_accept_direct(f)
        ours |s| s.prep_accept_direct(FD, &mut f.addr, &mut f.addrlen, uring::sys::SocketFlags::from_bits_retain(FLAGS), FILE_INDEX),
        liburing |q| io_uring_prep_accept_direct(
            q, FD, ptr::addr_of_mut!(f.addr).cast(), &mut f.addrlen, FLAGS as c_int, FILE_INDEX);
    prep_accept_direct_any_slot(f)
        ours |s| s.prep_accept_direct(FD, &mut f.addr, &mut f.addrlen, uring::sys::SocketFlags::from_bits_retain(FLAGS), FILE_INDEX_ALLOC),
        liburing |q| io_uring_prep_accept_direct(
            q, FD, ptr::addr_of_mut!(f.addr).cast(), &mut f.addrlen, FLAGS as c_int,
            IORING_FILE_INDEX_ALLOC as u32);
    prep_multishot_accept(f)
        ours |s| s.prep_multishot_accept(FD, &mut f.addr, &mut f.addrlen, uring::sys::SocketFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_multishot_accept(
            q, FD, ptr::addr_of_mut!(f.addr).cast(), &mut f.addrlen, FLAGS as c_int);
    prep_multishot_accept_direct(f)
        ours |s| s.prep_multishot_accept_direct(FD, &mut f.addr, &mut f.addrlen, uring::sys::SocketFlags::from_bits_retain(FLAGS)),
        liburing |q| io_uring_prep_multishot_accept_direct(
            q, FD, ptr::addr_of_mut!(f.addr).cast(), &mut f.addrlen, FLAGS as c_int);
    prep_connect(f)
        ours |s| s.prep_connect(FD, &f.addr, f.addrlen),
        liburing |q| io_uring_prep_connect(q, FD, ptr::addr_of!(f.addr).cast(), f.addrlen);
    prep_bind(f)
        ours |s| s.prep_bind(FD, &f.addr, f.addrlen),
        liburing |q| io_uring_prep_bind(q, FD, ptr::addr_of!(f.addr).cast(), f.addrlen);
    prep_listen(f)
        ours |s| s.prep_listen(FD, 0x0102),
        liburing |q| io_uring_prep_listen(q, FD, 0x0102);
    prep_socket(f)
        ours |s| s.prep_socket(10, 0x0008_0802, 0x0106, 0x0a0b),
        liburing |q| io_uring_prep_socket(q, 10, 0x0008_0802, 0x0106, 0x0a0b);
    prep_socket_direct(f)
        ours |s| s.prep_socket_direct(10, 0x0008_0802, 0x0106, 0x0a0b, FILE_INDEX),
        liburing |q| io_uring_prep_socket_direct(q, 10, 0x0008_0802, 0x0106, FILE_INDEX, 0x0a0b);
    prep_socket_direct_any_slot(f)
        ours |s| s.prep_socket_direct(10, 0x0008_0802, 0x0106, 0x0a0b, FILE_INDEX_ALLOC),
        liburing |q| io_uring_prep_socket_direct(
            q, 10, 0x0008_0802, 0x0106, IORING_FILE_INDEX_ALLOC as u32, 0x0a0b);
    prep_socket_direct_alloc(f)
        ours |s| s.prep_socket_direct_alloc(10, 0x0008_0802, 0x0106, 0x0a0b),
        liburing |q| io_uring_prep_socket_direct_alloc(q, 10, 0x0008_0802, 0x0106, 0x0a0b);
    prep_shutdown(f)
        ours |s| s.prep_shutdown(FD, 2),
        liburing |q| io_uring_prep_shutdown(q, FD, 2);
    prep_cmd_sock(f)
        ours |s| s.prep_cmd_sock(
            SocketOp::SOCKET_URING_OP_GETSOCKOPT, FD, 0x0102, 0x0304,
            f.optval.as_mut_ptr().cast(), len32(&f.optval)),
        liburing |q| io_uring_prep_cmd_sock(
            q, SOCKET_URING_OP_GETSOCKOPT as c_int, FD, 0x0102, 0x0304,
            f.optval.as_mut_ptr().cast(), len32(&f.optval) as c_int);
    prep_cmd_sock_setsockopt(f)
        ours |s| s.prep_cmd_sock(
            SocketOp::SOCKET_URING_OP_SETSOCKOPT, FD, 0x0506, 0x0708,
            f.optval.as_mut_ptr().cast(), 4),
        liburing |q| io_uring_prep_cmd_sock(
            q, SOCKET_URING_OP_SETSOCKOPT as c_int, FD, 0x0506, 0x0708,
            f.optval.as_mut_ptr().cast(), 4);

    // Files and paths.
    prep_openat(f)
        ours |s| s.prep_openat(FD, &f.path, uring::sys::OFlags::from_bits_retain(FLAGS), uring::sys::Mode::from_bits_retain(MODE)),
        liburing |q| io_uring_prep_openat(q, FD, f.path.as_ptr(), FLAGS as c_int, MODE);
    prep_openat_direct(f)
        ours |s| s.prep_openat_direct(FD, &f.path, uring::sys::OFlags::from_bits_retain(FLAGS), uring::sys::Mode::from_bits_retain(MODE), FILE_INDEX),
        liburing |q| io_uring_prep_openat_direct(
            q, FD, f.path.as_ptr(), FLAGS as c_int, MODE, FILE_INDEX);
    prep_openat_direct_any_slot(f)
        ours |s| s.prep_openat_direct(FD, &f.path, uring::sys::OFlags::from_bits_retain(FLAGS), uring::sys::Mode::from_bits_retain(MODE), FILE_INDEX_ALLOC),
        liburing |q| io_uring_prep_openat_direct(
            q, FD, f.path.as_ptr(), FLAGS as c_int, MODE, IORING_FILE_INDEX_ALLOC as u32);
    prep_openat2(f)
        ours |s| s.prep_openat2(FD, &f.path, &f.how),
        liburing |q| io_uring_prep_openat2(q, FD, f.path.as_ptr(), ptr::addr_of!(f.how).cast());
    prep_openat2_direct(f)
        ours |s| s.prep_openat2_direct(FD, &f.path, &f.how, FILE_INDEX),
        liburing |q| io_uring_prep_openat2_direct(
            q, FD, f.path.as_ptr(), ptr::addr_of!(f.how).cast(), FILE_INDEX);
    prep_openat2_direct_any_slot(f)
        ours |s| s.prep_openat2_direct(FD, &f.path, &f.how, FILE_INDEX_ALLOC),
        liburing |q| io_uring_prep_openat2_direct(
            q, FD, f.path.as_ptr(), ptr::addr_of!(f.how).cast(), IORING_FILE_INDEX_ALLOC as u32);
    prep_close(f)
        ours |s| s.prep_close(FD),
        liburing |q| io_uring_prep_close(q, FD);
    prep_close_direct(f)
        ours |s| s.prep_close_direct(FILE_INDEX),
        liburing |q| io_uring_prep_close_direct(q, FILE_INDEX);
    prep_files_update(f)
        ours |s| s.prep_files_update(&f.fds, FILE_INDEX),
        liburing |q| io_uring_prep_files_update(
            q, f.fds.as_mut_ptr(), len32(&f.fds), FILE_INDEX as c_int);
    prep_statx(f)
        ours |s| s.prep_statx(FD, &f.path, uring::sys::AtFlags::from_bits_retain(FLAGS), uring::sys::StatxFlags::from_bits_retain(0x0fff), &mut f.statx),
        liburing |q| io_uring_prep_statx(
            q, FD, f.path.as_ptr(), FLAGS as c_int, 0x0fff, ptr::addr_of_mut!(f.statx).cast());
    prep_fallocate(f)
        ours |s| s.prep_fallocate(FD, uring::sys::FallocateFlags::from_bits_retain(0x13), OFF, OFF2),
        liburing |q| io_uring_prep_fallocate(q, FD, 0x13, OFF, OFF2);
    prep_fadvise(f)
        ours |s| s.prep_fadvise(FD, OFF, u64::from(LEN), 4),
        liburing |q| io_uring_prep_fadvise(q, FD, OFF, LEN, 4);
    prep_fadvise_above_u32(f)
        ours |s| s.prep_fadvise(FD, OFF, BIG_LEN, 4),
        liburing |q| io_uring_prep_fadvise64(q, FD, OFF, BIG_LEN as i64, 4);
    prep_madvise(f)
        ours |s| s.prep_madvise(f.buf.as_mut_ptr().cast(), LEN as usize, 14),
        liburing |q| io_uring_prep_madvise(q, f.buf.as_mut_ptr().cast(), LEN, 14);
    prep_madvise_above_u32(f)
        ours |s| s.prep_madvise(f.buf.as_mut_ptr().cast(), BIG_LEN as usize, 14),
        liburing |q| io_uring_prep_madvise64(q, f.buf.as_mut_ptr().cast(), BIG_LEN as i64, 14);
    prep_renameat(f)
        ours |s| s.prep_renameat(FD, &f.path, FD2, &f.path2, uring::sys::RenameFlags::from_bits_retain(0x05)),
        liburing |q| io_uring_prep_renameat(q, FD, f.path.as_ptr(), FD2, f.path2.as_ptr(), 0x05);
    prep_unlinkat(f)
        ours |s| s.prep_unlinkat(FD, &f.path, uring::sys::AtFlags::from_bits_retain(0x200)),
        liburing |q| io_uring_prep_unlinkat(q, FD, f.path.as_ptr(), 0x200);
    prep_mkdirat(f)
        ours |s| s.prep_mkdirat(FD, &f.path, uring::sys::Mode::from_bits_retain(MODE)),
        liburing |q| io_uring_prep_mkdirat(q, FD, f.path.as_ptr(), MODE);
    prep_symlinkat(f)
        ours |s| s.prep_symlinkat(&f.path, FD2, &f.path2),
        liburing |q| io_uring_prep_symlinkat(q, f.path.as_ptr(), FD2, f.path2.as_ptr());
    prep_linkat(f)
        ours |s| s.prep_linkat(FD, &f.path, FD2, &f.path2, uring::sys::AtFlags::from_bits_retain(0x400)),
        liburing |q| io_uring_prep_linkat(q, FD, f.path.as_ptr(), FD2, f.path2.as_ptr(), 0x400);

    // Timeouts, polling, cancellation.
    prep_timeout(f)
        ours |s| s.prep_timeout(&f.ts, 0x0506, uring::sys::IoringTimeoutFlags::from_bits_retain(0x31)),
        liburing |q| io_uring_prep_timeout(q, ptr::addr_of!(f.ts).cast(), 0x0506, 0x31);
    prep_timeout_remove(f)
        ours |s| s.prep_timeout_remove(USER_DATA2, uring::sys::IoringTimeoutFlags::from_bits_retain(0x30)),
        liburing |q| io_uring_prep_timeout_remove(q, USER_DATA2, 0x30);
    prep_timeout_update(f)
        ours |s| s.prep_timeout_update(USER_DATA2, &f.ts, uring::sys::IoringTimeoutFlags::from_bits_retain(0x31)),
        liburing |q| io_uring_prep_timeout_update(q, ptr::addr_of!(f.ts).cast(), USER_DATA2, 0x31);
    prep_link_timeout(f)
        ours |s| s.prep_link_timeout(&f.ts, uring::sys::IoringTimeoutFlags::from_bits_retain(0x31)),
        liburing |q| io_uring_prep_link_timeout(q, ptr::addr_of!(f.ts).cast(), 0x31);
    prep_poll_add(f)
        ours |s| s.prep_poll_add(FD, 0x4000_20c3),
        liburing |q| io_uring_prep_poll_add(q, FD, 0x4000_20c3);
    prep_poll_multishot(f)
        ours |s| s.prep_poll_multishot(FD, 0x4000_20c3),
        liburing |q| io_uring_prep_poll_multishot(q, FD, 0x4000_20c3);
    prep_poll_remove(f)
        ours |s| s.prep_poll_remove(USER_DATA2),
        liburing |q| io_uring_prep_poll_remove(q, USER_DATA2);
    prep_poll_update(f)
        ours |s| s.prep_poll_update(USER_DATA2, OFF, 0x4000_20c3, uring::sys::IoringPollFlags::from_bits_retain(0x07)),
        liburing |q| io_uring_prep_poll_update(q, USER_DATA2, OFF, 0x4000_20c3, 0x07);
    prep_cancel(f)
        ours |s| s.prep_cancel(USER_DATA2, uring::sys::IoringAsyncCancelFlags::from_bits_retain(0x13)),
        liburing |q| io_uring_prep_cancel64(q, USER_DATA2, 0x13);
    prep_cancel_as_pointer(f)
        ours |s| s.prep_cancel(f.buf.as_ptr() as u64, uring::sys::IoringAsyncCancelFlags::from_bits_retain(0x13)),
        liburing |q| io_uring_prep_cancel(q, f.buf.as_ptr().cast::<c_void>(), 0x13);
    prep_cancel_fd(f)
        ours |s| s.prep_cancel_fd(FD, uring::sys::IoringAsyncCancelFlags::from_bits_retain(0x11)),
        liburing |q| io_uring_prep_cancel_fd(q, FD, 0x11);
    prep_epoll_ctl(f)
        ours |s| s.prep_epoll_ctl(FD, FD2, 3, &mut f.ev),
        liburing |q| io_uring_prep_epoll_ctl(q, FD, FD2, 3, ptr::addr_of!(f.ev).cast());
    prep_epoll_wait(f)
        ours |s| s.prep_epoll_wait(FD, &mut f.events, 0x09),
        liburing |q| io_uring_prep_epoll_wait(
            q, FD, f.events.as_mut_ptr().cast(), len32(&f.events) as c_int, 0x09);

    // Provided buffers and processes.
    prep_provide_buffers(f)
        ours |s| s.prep_provide_buffers(f.buf.as_mut_ptr(), 0x0102, 0x0304, GROUP, 0x0506),
        liburing |q| io_uring_prep_provide_buffers(
            q, f.buf.as_mut_ptr().cast(), 0x0102, 0x0304, c_int::from(GROUP), 0x0506);
    prep_remove_buffers(f)
        ours |s| s.prep_remove_buffers(0x0304, GROUP),
        liburing |q| io_uring_prep_remove_buffers(q, 0x0304, c_int::from(GROUP));
    prep_waitid(f)
        ours |s| s.prep_waitid(IdType::PidFd, FD, &mut f.info, 0x0100_0004, 0),
        liburing |q| io_uring_prep_waitid(
            q, P_PIDFD, FD as id_t, ptr::addr_of_mut!(f.info).cast(), 0x0100_0004, 0);

    // Messages between rings.
    prep_msg_ring(f)
        ours |s| s.prep_msg_ring(FD, LEN, USER_DATA2, uring::sys::IoringMsgringFlags::empty()),
        liburing |q| {
            io_uring_prep_msg_ring(q, FD, LEN, USER_DATA2, 0);
            // The C helper stores `flags` alone; axboe-liburing 2.15.3 adds FLAGS_PASS.
            (*q).__liburing_anon_3.msg_ring_flags &= !IORING_MSG_RING_FLAGS_PASS;
        };
    prep_msg_ring_cqe_flags(f)
        ours |s| s.prep_msg_ring_cqe_flags(FD, LEN, USER_DATA2, uring::sys::IoringMsgringFlags::empty(), FLAGS),
        liburing |q| io_uring_prep_msg_ring_cqe_flags(q, FD, LEN, USER_DATA2, 0, FLAGS);
    prep_msg_ring_fd(f)
        ours |s| s.prep_msg_ring_fd(FD, 0x0102, FILE_INDEX, USER_DATA2, uring::sys::IoringMsgringFlags::CQE_SKIP),
        liburing |q| io_uring_prep_msg_ring_fd(
            q, FD, 0x0102, FILE_INDEX as c_int, USER_DATA2, IORING_MSG_RING_CQE_SKIP);
    prep_msg_ring_fd_any_slot(f)
        ours |s| s.prep_msg_ring_fd(FD, 0x0102, FILE_INDEX_ALLOC, USER_DATA2, uring::sys::IoringMsgringFlags::empty()),
        liburing |q| io_uring_prep_msg_ring_fd(
            q, FD, 0x0102, IORING_FILE_INDEX_ALLOC as c_int, USER_DATA2, 0);
    prep_msg_ring_fd_alloc(f)
        ours |s| s.prep_msg_ring_fd_alloc(FD, 0x0102, USER_DATA2, uring::sys::IoringMsgringFlags::CQE_SKIP),
        liburing |q| io_uring_prep_msg_ring_fd_alloc(
            q, FD, 0x0102, USER_DATA2, IORING_MSG_RING_CQE_SKIP);

    // Futexes.
    prep_futex_wait(f)
        ours |s| s.prep_futex_wait(&f.word, OFF, OFF2, 0x82, 0),
        liburing |q| io_uring_prep_futex_wait(q, f.word.as_ptr(), OFF, OFF2, 0x82, 0);
    prep_futex_wake(f)
        ours |s| s.prep_futex_wake(&f.word, OFF, OFF2, 0x82, 0),
        liburing |q| io_uring_prep_futex_wake(q, f.word.as_ptr(), OFF, OFF2, 0x82, 0);
    prep_futex_waitv(f)
        ours |s| s.prep_futex_waitv(&f.waitv, 0),
        liburing |q| io_uring_prep_futex_waitv(
            q, f.waitv.as_ptr().cast(), len32(&f.waitv), 0);

    // More files.
    prep_readv2(f) { let iov = f.iovecs_mut(); }
        ours |s| s.prep_readv2(FD, &iov, OFF, uring::sys::ReadWriteFlags::from_bits_retain(0x1f)),
        liburing |q| io_uring_prep_readv2(q, FD, iov.as_ptr().cast(), len32(&iov), OFF, 0x1f);
    prep_writev2(f) { let iov = f.iovecs(); }
        ours |s| s.prep_writev2(FD, &iov, OFF, uring::sys::ReadWriteFlags::from_bits_retain(0x1f)),
        liburing |q| io_uring_prep_writev2(q, FD, iov.as_ptr().cast(), len32(&iov), OFF, 0x1f);
    prep_sync_file_range(f)
        ours |s| s.prep_sync_file_range(FD, LEN, OFF, 0x07),
        liburing |q| io_uring_prep_sync_file_range(q, FD, LEN, OFF, 0x07);
    prep_ftruncate(f)
        ours |s| s.prep_ftruncate(FD, OFF),
        liburing |q| io_uring_prep_ftruncate(q, FD, OFF as i64);
    prep_fixed_fd_install(f)
        ours |s| s.prep_fixed_fd_install(FILE_INDEX, uring::sys::IoringFixedFdFlags::NO_CLOEXEC),
        liburing |q| io_uring_prep_fixed_fd_install(
            q, FILE_INDEX as c_int, IORING_FIXED_FD_NO_CLOEXEC);
    prep_pipe(f)
        ours |s| s.prep_pipe(&mut f.pipe, uring::sys::PipeFlags::from_bits_retain(0o4_000_000)),
        liburing |q| io_uring_prep_pipe(q, f.pipe.as_mut_ptr(), 0o4_000_000);
    prep_pipe_direct(f)
        ours |s| s.prep_pipe_direct(&mut f.pipe, uring::sys::PipeFlags::from_bits_retain(0o4_000_000), FILE_INDEX),
        liburing |q| io_uring_prep_pipe_direct(q, f.pipe.as_mut_ptr(), 0o4_000_000, FILE_INDEX);
    prep_pipe_direct_any_slot(f)
        ours |s| s.prep_pipe_direct(&mut f.pipe, uring::sys::PipeFlags::empty(), FILE_INDEX_ALLOC),
        liburing |q| io_uring_prep_pipe_direct(
            q, f.pipe.as_mut_ptr(), 0, IORING_FILE_INDEX_ALLOC as u32);
    prep_fgetxattr(f)
        ours |s| s.prep_fgetxattr(FD, &f.path, &mut f.buf),
        liburing |q| io_uring_prep_fgetxattr(
            q, FD, f.path.as_ptr(), f.buf.as_mut_ptr().cast(), len32(&f.buf));
    prep_fsetxattr(f)
        ours |s| s.prep_fsetxattr(FD, &f.path, &f.buf, uring::sys::XattrFlags::from_bits_retain(0x02)),
        liburing |q| io_uring_prep_fsetxattr(
            q, FD, f.path.as_ptr(), f.buf.as_mut_ptr().cast(), 0x02, len32(&f.buf));
    prep_getxattr(f)
        ours |s| s.prep_getxattr(&f.path, &mut f.buf, &f.path2),
        liburing |q| io_uring_prep_getxattr(
            q, f.path.as_ptr(), f.buf.as_mut_ptr().cast(), f.path2.as_ptr(), len32(&f.buf));
    prep_setxattr(f)
        ours |s| s.prep_setxattr(&f.path, &f.buf, &f.path2, uring::sys::XattrFlags::from_bits_retain(0x01)),
        liburing |q| io_uring_prep_setxattr(
            q, f.path.as_ptr(), f.buf.as_ptr().cast(), f.path2.as_ptr(), 0x01, len32(&f.buf));
    prep_open(f)
        ours |s| s.prep_open(&f.path, uring::sys::OFlags::from_bits_retain(FLAGS), uring::sys::Mode::from_bits_retain(MODE)),
        liburing |q| io_uring_prep_open(q, f.path.as_ptr(), FLAGS as c_int, MODE);
    prep_open_direct(f)
        ours |s| s.prep_open_direct(&f.path, uring::sys::OFlags::from_bits_retain(FLAGS), uring::sys::Mode::from_bits_retain(MODE), FILE_INDEX),
        liburing |q| io_uring_prep_open_direct(
            q, f.path.as_ptr(), FLAGS as c_int, MODE, FILE_INDEX);
    prep_unlink(f)
        ours |s| s.prep_unlink(&f.path, uring::sys::AtFlags::from_bits_retain(0x200)),
        liburing |q| io_uring_prep_unlink(q, f.path.as_ptr(), 0x200);
    prep_rename(f)
        ours |s| s.prep_rename(&f.path, &f.path2),
        liburing |q| io_uring_prep_rename(q, f.path.as_ptr(), f.path2.as_ptr());
    prep_mkdir(f)
        ours |s| s.prep_mkdir(&f.path, uring::sys::Mode::from_bits_retain(MODE)),
        liburing |q| io_uring_prep_mkdir(q, f.path.as_ptr(), MODE);
    prep_symlink(f)
        ours |s| s.prep_symlink(&f.path, &f.path2),
        liburing |q| io_uring_prep_symlink(q, f.path.as_ptr(), f.path2.as_ptr());
    prep_link(f)
        ours |s| s.prep_link(&f.path, &f.path2, uring::sys::AtFlags::from_bits_retain(0x400)),
        liburing |q| io_uring_prep_link(q, f.path.as_ptr(), f.path2.as_ptr(), 0x400);

    // Socket names and zero-copy receive.
    prep_cmd_getsockname(f)
        ours |s| s.prep_cmd_getsockname(FD, &mut f.addr, &mut f.addrlen, true),
        liburing |q| io_uring_prep_cmd_getsockname(
            q, FD, ptr::addr_of_mut!(f.addr).cast(), &mut f.addrlen, 1);
    prep_recv_zc(f)
        ours |s| s.prep_recv_zc(FD, LEN, 0x0201),
        liburing |q| {
            io_uring_prep_rw(IORING_OP_RECV_ZC, q, FD, ptr::null(), LEN, 0);
            (*q).ioprio = IORING_RECV_MULTISHOT as u16;
            (*q).__liburing_anon_5.zcrx_ifq_idx = 0x0201;
        };

    // Big entries (uring/src/big.rs).
    prep_uring_cmd(f)
        ours |s| s.prep_uring_cmd(CMD_OP, FD, &CMD16),
        liburing |q| {
            io_uring_prep_uring_cmd(q, CMD_OP as c_int, FD);
            ptr::copy_nonoverlapping(CMD16.as_ptr(), q.cast::<u8>().add(48), 16);
        };
    prep_nop_cqe32(f)
        ours |s| s.prep_nop_cqe32(NOP_RES, OFF, OFF2),
        liburing |q| {
            io_uring_prep_nop(q);
            (*q).__liburing_anon_3.nop_flags = IORING_NOP_CQE32 | IORING_NOP_INJECT_RESULT;
            (*q).len = NOP_RES as u32;
            (*q).__liburing_anon_1.off = OFF;
            (*q).__liburing_anon_2.addr = OFF2;
        };
    prep_nop_cqe32_without_result(f)
        ours |s| s.prep_nop_cqe32(0, OFF, OFF2),
        liburing |q| {
            io_uring_prep_nop(q);
            (*q).__liburing_anon_3.nop_flags = IORING_NOP_CQE32;
            (*q).__liburing_anon_1.off = OFF;
            (*q).__liburing_anon_2.addr = OFF2;
        };
}

/// `Sqe128::prep_uring_cmd` over all 128 bytes: liburing's entry is a 128-byte slot of
/// stale bytes whose first half `io_uring_get_sqe` initialised, then
/// `io_uring_prep_uring_cmd` and the 80-byte command copied into `sqe->cmd`.
#[test]
fn prep_uring_cmd_sqe128() {
    let cmd: [u8; 80] = core::array::from_fn(|i| 0x20 + i as u8);
    let mut ours = Sqe128 {
        sqe: stale(),
        ext: [0xe5; 64],
    };
    ours.prep_uring_cmd(CMD_OP, FD, &cmd);
    // SAFETY: both are the kernel's 64-byte `struct io_uring_sqe` of plain integers.
    let second: io_uring_sqe = unsafe { transmute::<Sqe, io_uring_sqe>(stale()) };
    let mut theirs = [liburing_entry(), second];
    // SAFETY: `theirs` is two live, adjacent entries (one 128-byte slot, as an SQE128
    // ring lays them out); the helper stores into the first, the copy writes bytes
    // 48..128 of the pair.
    unsafe {
        io_uring_prep_uring_cmd(theirs.as_mut_ptr(), CMD_OP as c_int, FD);
        ptr::copy_nonoverlapping(cmd.as_ptr(), theirs.as_mut_ptr().cast::<u8>().add(48), 80);
    }
    let [first, second] = theirs;
    // SAFETY: every byte of `second` was written (stale bytes, then the command).
    let ext: [u8; 64] = unsafe { transmute::<io_uring_sqe, [u8; 64]>(second) };
    assert_eq!(ours.ext, ext, "prep_uring_cmd (128-byte): bytes 64..128");
    assert_same("prep_uring_cmd (128-byte)", ours.sqe, first);
}

/// The files that declare `Sqe`'s preps: the hand-written ones in sqe.rs and the opcode
/// table's entries (`fn ring_name = prep_name(...)`) under ops/.
const PREP_SOURCES: &[&str] = &[
    include_str!("../../uring/src/sqe.rs"),
    include_str!("../../uring/src/big.rs"),
    include_str!("../../uring/src/ops/buffers.rs"),
    include_str!("../../uring/src/ops/fs.rs"),
    include_str!("../../uring/src/ops/futex.rs"),
    include_str!("../../uring/src/ops/msg_ring.rs"),
    include_str!("../../uring/src/ops/net.rs"),
    include_str!("../../uring/src/ops/poll.rs"),
    include_str!("../../uring/src/ops/rw.rs"),
];

/// Every `pub fn prep_*` of `Sqe` (hand-written or a table entry) has a case of the same
/// name above, so a new prep cannot go unchecked.
#[test]
fn every_prep_has_a_case() {
    let preps: Vec<&str> = PREP_SOURCES
        .iter()
        .flat_map(|source| source.lines())
        .filter_map(|line| {
            let line = line.trim_start();
            line.strip_prefix("pub fn ").or_else(|| {
                // A table entry: `fn ring_name = prep_name(...) {`.
                let entry = line.strip_prefix("fn ")?;
                Some(entry.split_once(" = ")?.1)
            })
        })
        .filter(|rest| rest.starts_with("prep_"))
        .map(|rest| rest.split(['(', '<']).next().unwrap_or(rest))
        .collect();
    assert!(
        preps.len() > 50,
        "found only {} preps in sqe.rs",
        preps.len()
    );
    let missing: Vec<&str> = preps
        .iter()
        .copied()
        .filter(|p| !CASES.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "preps with no case in liburing-compare/tests/prep_bytes.rs: {missing:?}"
    );
}

/// The harness catches a difference: a field changed after the prep fails the comparison.
#[test]
#[should_panic(expected = "differs from liburing")]
fn a_difference_is_caught() {
    let mut ours = stale();
    ours.prep_close(FD);
    ours.personality = 1;
    let mut theirs = liburing_entry();
    // SAFETY: `theirs` is a live entry; the helper only stores into it.
    unsafe { io_uring_prep_close(&mut theirs, FD) };
    assert_same("close with a personality", ours, theirs);
}
