//! Rings with big entries: 128-byte SQEs (`IORING_SETUP_SQE128`, Linux 5.19), 32-byte
//! CQEs (`IORING_SETUP_CQE32`, Linux 5.19) or both sizes of CQE in one queue
//! (`IORING_SETUP_CQE_MIXED`, Linux 6.18), and the zero-copy receive queue that needs them
//! (`IORING_REGISTER_ZCRX_IFQ`, Linux 6.15).
//!
//! [`BigRing`] is a ring of its own type rather than a mode of [`IoUring`]: the ordinary
//! ring's SQE cursor and CQE copies are written for 64- and 16-byte entries with no stride
//! to look up, and stay that way. liburing has one `struct io_uring` for every layout and
//! shifts each index by `io_uring_sqe_shift`/`io_uring_cqe_shift` on every access; Zig's
//! `IoUring` refuses these layouts. A `BigRing` shares the ordinary ring's setup, mapping,
//! `enter` and error types (it holds an `IoUring` that only sets up, maps and enters), and
//! indexes the queues itself:
//!
//! - SQEs: [`Sqe128`] is liburing's 128-byte `struct io_uring_sqe` (the 64-byte
//!   [`Sqe`] and 64 bytes more; the command area `cmd` runs 80 bytes from byte 48). On an
//!   SQE128 ring, [`get_sqe128`](BigRing::get_sqe128) hands out whole entries and
//!   [`get_sqe`](BigRing::get_sqe) the first half of one (the rest zeroed), as
//!   liburing's `io_uring_get_sqe` on such a ring. On a ring with 64-byte SQEs, asking for
//!   a 128-byte one is [`BigError::NotSqe128`].
//! - CQEs: [`Cqe32`] is the 32-byte `struct io_uring_cqe` (a [`Cqe`] and `big_cqe`).
//!   [`copy_cqes32`](BigRing::copy_cqes32) copies out every CQE of a CQE32 ring whole; on
//!   a CQE_MIXED ring it copies a 16-byte CQE with `big_cqe` zero, a 32-byte one
//!   (`IORING_CQE_F_32`, two slots) whole, and consumes the padding entries the kernel
//!   posts before a wrap (`IORING_CQE_F_SKIP`) without returning them;
//!   [`cqe_size`](BigRing::cqe_size) says which size each was. A ring with 16-byte CQEs
//!   only gives `big_cqe` zero.
//!
//! Not supported: `IORING_SETUP_SQE_MIXED` (64- and 128-byte SQEs in one queue, with the
//! 128-byte opcodes `IORING_OP_NOP128` and `IORING_OP_URING_CMD128`): Linux 6.18 does not
//! have it (its `io_uring_setup` answers `EINVAL`), so it is refused before any system
//! call with [`SetupError::UnsupportedFlags`], as are the other layouts the ordinary ring
//! refuses (NO_MMAP, REGISTERED_FD_ONLY).

use core::ffi::c_void;
use core::sync::atomic::Ordering;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use rustix::io::Errno;
use rustix::mm::{MapFlags, ProtFlags};

use crate::cqe::Cqe;
use crate::error::{EnterError, RegisterError, SetupError, SubmissionQueueFull};
use crate::register::Probe;
use crate::ring::{IoUring, RawQueues, SUPPORTED_SETUP_FLAGS};
use crate::sqe::Sqe;
use crate::sys::{
    self, io_uring_op as Op, io_uring_params, IoringEnterFlags, IoringFeatureFlags,
    IoringSetupFlags,
};

/// A 128-byte submission queue entry of an `IORING_SETUP_SQE128` ring: liburing's
/// `struct io_uring_sqe` with its 80-byte `cmd` (Zig has none). The first 64 bytes are an
/// ordinary [`Sqe`] (every `prep_*` of it applies); `ext` is the second half.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sqe128 {
    /// The 64-byte entry; its `addr3` and `resv` are the first 16 bytes of `cmd`.
    pub sqe: Sqe,
    /// The second 64 bytes: the rest of the 80-byte command area.
    pub ext: [u8; 64],
}

impl Default for Sqe128 {
    fn default() -> Self {
        Sqe128 {
            sqe: Sqe::default(),
            ext: [0; 64],
        }
    }
}

/// Byte offset of the command area in an SQE (`addr3`, the kernel's `cmd[0]`).
const CMD_OFFSET: usize = 48;

impl Sqe128 {
    /// The 80-byte command area (`sqe->cmd` of a 128-byte SQE): bytes 48..128.
    #[inline]
    pub fn cmd(&self) -> &[u8; 80] {
        // SAFETY: `Sqe128` is repr(C): a 64-byte `Sqe` of integers without padding (its
        // layout test), then `ext` at byte 64; so bytes 48..128 are 80 initialised bytes
        // inside `self`, and `[u8; 80]` needs no alignment. The borrow is `self`'s.
        unsafe {
            &*(self as *const Sqe128)
                .cast::<u8>()
                .add(CMD_OFFSET)
                .cast::<[u8; 80]>()
        }
    }

    /// The 80-byte command area, writable.
    #[inline]
    pub fn cmd_mut(&mut self) -> &mut [u8; 80] {
        // SAFETY: as in `cmd`; every bit pattern is valid for the integer fields the
        // bytes overlap, and the borrow is `self`'s exclusive one.
        unsafe {
            &mut *(self as *mut Sqe128)
                .cast::<u8>()
                .add(CMD_OFFSET)
                .cast::<[u8; 80]>()
        }
    }

    /// `IORING_OP_URING_CMD` (Linux 5.19) with an 80-byte command: `cmd_op` for the file's
    /// driver (`fd`'s `uring_cmd` handler), and `cmd` in the command area. Fills all 128
    /// bytes. liburing: `io_uring_prep_uring_cmd` on an SQE128 ring's entry, then a copy
    /// into `sqe->cmd`.
    #[inline]
    pub fn prep_uring_cmd(&mut self, cmd_op: u32, fd: RawFd, cmd: &[u8; 80]) {
        let mut first = [0u8; 16];
        first.copy_from_slice(&cmd[..16]);
        self.sqe.prep_uring_cmd(cmd_op, fd, &first);
        self.ext.copy_from_slice(&cmd[16..]);
    }
}

/// `cmd_op` in its SQE word: the low-address half of `off`, the other half (`__pad1`) 0.
#[inline]
fn cmd_op_word(cmd_op: u32) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&cmd_op.to_ne_bytes());
    u64::from_ne_bytes(bytes)
}

/// Big-entry operations on the 64-byte SQE.
impl Sqe {
    /// `IORING_OP_URING_CMD` (Linux 5.19) with a 16-byte command: `cmd_op` for the file's
    /// driver (`fd`'s `uring_cmd` handler) and `cmd` in the command area (`addr3` and
    /// `resv`, bytes 48..64). The socket commands have their own preps
    /// ([`prep_cmd_sock`](Sqe::prep_cmd_sock), [`prep_cmd_getsockname`](Sqe::prep_cmd_getsockname));
    /// this is the raw form for any driver. liburing: `io_uring_prep_uring_cmd`, then a
    /// copy into `sqe->cmd`.
    #[inline]
    pub fn prep_uring_cmd(&mut self, cmd_op: u32, fd: RawFd, cmd: &[u8; 16]) {
        self.prep_rw(Op::IORING_OP_URING_CMD, fd, 0, 0, 0);
        self.off = cmd_op_word(cmd_op);
        let mut word = [0u8; 8];
        word.copy_from_slice(&cmd[..8]);
        self.addr3 = u64::from_ne_bytes(word);
        word.copy_from_slice(&cmd[8..]);
        self.resv = u64::from_ne_bytes(word);
    }

    /// A NOP (`IORING_OP_NOP`) that posts a 32-byte CQE (`IORING_NOP_CQE32`, Linux 6.18)
    /// with `extra1` and `extra2` in `big_cqe`, and `res` as its result
    /// (`IORING_NOP_INJECT_RESULT`, Linux 6.12, when `res` is not 0: a negative `res`
    /// fails the request with that errno). Only a CQE32 or CQE_MIXED ring takes it (others
    /// complete it with `-EINVAL`); it tests the big-CQE paths without hardware. liburing
    /// has no helper: its tests set `nop_flags`, `len`, `off` and `addr` after
    /// `io_uring_prep_nop`.
    #[inline]
    pub fn prep_nop_cqe32(&mut self, res: i32, extra1: u64, extra2: u64) {
        self.prep_nop();
        self.rw_flags = sys::IORING_NOP_CQE32;
        if res != 0 {
            self.rw_flags |= sys::IORING_NOP_INJECT_RESULT;
            self.len = res as u32;
        }
        self.off = extra1;
        self.addr = extra2;
    }
}

/// A 32-byte completion queue entry (CQE32 or CQE_MIXED rings): liburing's
/// `struct io_uring_cqe` with `big_cqe`. Dereferences to its 16-byte [`Cqe`]
/// (`user_data`, `res`, `flags` and their typed views).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Cqe32 {
    /// The ordinary 16 bytes.
    pub cqe: Cqe,
    /// The 16 extra bytes (`big_cqe[2]`): a NOP's `extra1`/`extra2`, a zero-copy
    /// receive's [`io_uring_zcrx_cqe`](sys::io_uring_zcrx_cqe), a driver command's
    /// second result. Zero for a 16-byte CQE of a CQE_MIXED ring.
    pub big_cqe: [u64; 2],
}

impl core::ops::Deref for Cqe32 {
    type Target = Cqe;
    fn deref(&self) -> &Cqe {
        &self.cqe
    }
}

impl Cqe32 {
    /// Whether the kernel marked this CQE as 32 bytes on a CQE_MIXED ring
    /// (`IORING_CQE_F_32`). Every CQE of a CQE32 ring is 32 bytes without the flag:
    /// [`BigRing::cqe_size`] answers for both.
    #[inline]
    pub fn f_32(&self) -> bool {
        self.cqe.flags & sys::IORING_CQE_F_32 != 0
    }

    /// The zero-copy receive part of a [`recv_zc`](BigRing::recv_zc) completion
    /// (`struct io_uring_zcrx_cqe` in `big_cqe`): `off` holds the area token
    /// (the bits from [`IORING_ZCRX_AREA_SHIFT`](sys::IORING_ZCRX_AREA_SHIFT) up) and the
    /// data's offset in the area (the bits below); `res` is its length.
    #[inline]
    pub fn zcrx(&self) -> sys::io_uring_zcrx_cqe {
        sys::io_uring_zcrx_cqe {
            off: self.big_cqe[0],
            __pad: self.big_cqe[1],
        }
    }
}

/// Why an entry could not be queued on a [`BigRing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BigError {
    /// No free SQE: submit what is queued, then try again.
    SubmissionQueueFull,
    /// A 128-byte SQE on a ring set up without `IORING_SETUP_SQE128` (checked before
    /// anything is queued).
    NotSqe128,
    /// An operation that posts a 32-byte CQE on a ring set up with neither
    /// `IORING_SETUP_CQE32` nor `IORING_SETUP_CQE_MIXED` (checked before anything is
    /// queued; the kernel would complete it with `-EINVAL`).
    NotCqe32,
}

impl fmt::Display for BigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BigError::SubmissionQueueFull => "io_uring submission queue is full",
            BigError::NotSqe128 => "a 128-byte SQE needs a ring set up with IORING_SETUP_SQE128",
            BigError::NotCqe32 => {
                "a 32-byte CQE needs a ring set up with IORING_SETUP_CQE32 or IORING_SETUP_CQE_MIXED"
            }
        })
    }
}

impl std::error::Error for BigError {}

impl From<SubmissionQueueFull> for BigError {
    fn from(_: SubmissionQueueFull) -> Self {
        BigError::SubmissionQueueFull
    }
}

impl From<BigError> for std::io::Error {
    fn from(e: BigError) -> Self {
        let kind = match e {
            BigError::SubmissionQueueFull => std::io::ErrorKind::WouldBlock,
            BigError::NotSqe128 | BigError::NotCqe32 => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, e)
    }
}

/// The setup flags a [`BigRing`] drives: the ordinary ring's, and the big-entry layouts.
const BIG_SETUP_FLAGS: IoringSetupFlags = SUPPORTED_SETUP_FLAGS
    .union(IoringSetupFlags::SQE128)
    .union(IoringSetupFlags::CQE32)
    .union(IoringSetupFlags::from_bits_retain(
        sys::IORING_SETUP_CQE_MIXED,
    ));

/// An io_uring instance with big entries: 128-byte SQEs (`IORING_SETUP_SQE128`), 32-byte
/// CQEs (`IORING_SETUP_CQE32`) or mixed 16/32-byte CQEs (`IORING_SETUP_CQE_MIXED`), in any
/// combination the kernel accepts, with the ordinary ring's other flags. See the
/// [module docs](self) for the design and what is not supported. liburing: a
/// `struct io_uring` set up with those flags; Zig: none.
///
/// Dropping it unmaps the rings and closes the fd, as [`IoUring`]'s drop; the same
/// lifetime rules hold for memory given to its raw operations.
#[derive(Debug)]
pub struct BigRing {
    /// Sets up, maps, enters and registers; its own SQE cursor and CQE copies are never
    /// used (they assume 64- and 16-byte entries).
    ring: IoUring,
    q: RawQueues,
    /// log2 of the SQE size over 64: 1 with SQE128.
    sqe_shift: u32,
    /// log2 of the CQE slot size over 16: 1 with CQE32 (a CQE_MIXED ring's slots are 16
    /// bytes).
    cqe_shift: u32,
    mixed: bool,
    /// One past the last SQE handed out.
    sqe_tail: u32,
    /// The tail published to the kernel.
    sqe_head: u32,
}

// SAFETY: as for `IoUring` (which is Send and Sync): the raw pointers of `q` point into
// the mappings `ring` owns, which live as long as this value; every write through them
// happens through `&mut self` or is an atomic store to a word the kernel shares.
unsafe impl Send for BigRing {}
// SAFETY: the `&self` methods only perform atomic loads of kernel-shared words.
unsafe impl Sync for BigRing {}

impl BigRing {
    /// Sets up a ring with `entries` SQEs (a power of two, 1..=32768) and `flags`
    /// (`IORING_SETUP_*`: any the ordinary ring takes, plus SQE128, CQE32, CQE_MIXED).
    /// liburing: `io_uring_queue_init`.
    ///
    /// Errors are typed as for [`IoUring::init`]: SQE_MIXED (not in Linux 6.18) and the
    /// flags no ring of this crate drives are [`SetupError::UnsupportedFlags`] before any
    /// system call; CQE32 with CQE_MIXED is the kernel's `EINVAL`,
    /// [`SetupError::ArgumentsInvalid`].
    ///
    /// ```
    /// use uring::{big::BigRing, sys::IoringSetupFlags};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = BigRing::init(8, IoringSetupFlags::SQE128 | IoringSetupFlags::CQE32)?;
    /// ring.nop_cqe32(7, 0, 0x1111, 0x2222)?;
    /// ring.submit()?;
    /// let cqe = ring.copy_cqe32()?;
    /// assert_eq!((cqe.user_data, cqe.res, cqe.big_cqe), (7, 0, [0x1111, 0x2222]));
    /// # Ok(()) }
    /// ```
    pub fn init(entries: u32, flags: IoringSetupFlags) -> Result<BigRing, SetupError> {
        BigRing::init_params(entries, &mut IoUring::init_defaults(flags))
    }

    /// Sets up a ring with full control over `io_uring_params`, as
    /// [`IoUring::init_params`]. liburing: `io_uring_queue_init_params`.
    pub fn init_params(entries: u32, params: &mut io_uring_params) -> Result<BigRing, SetupError> {
        let ring = IoUring::init_allowed(entries, params, BIG_SETUP_FLAGS)?;
        let q = ring.raw_queues();
        let flags = ring.setup_flags();
        // SAFETY: the SQ tail word lies in the live ring mapping `ring` owns.
        let tail = unsafe { (*q.sq_tail).load(Ordering::Relaxed) };
        Ok(BigRing {
            q,
            sqe_shift: u32::from(flags.contains(IoringSetupFlags::SQE128)),
            cqe_shift: u32::from(flags.contains(IoringSetupFlags::CQE32)),
            mixed: flags.bits() & sys::IORING_SETUP_CQE_MIXED != 0,
            sqe_tail: tail,
            sqe_head: tail,
            ring,
        })
    }

    /// The ring's file descriptor.
    pub fn fd(&self) -> RawFd {
        self.ring.fd()
    }

    /// The flags the ring was set up with.
    pub fn setup_flags(&self) -> IoringSetupFlags {
        self.ring.setup_flags()
    }

    /// The kernel's feature bits.
    pub fn features(&self) -> IoringFeatureFlags {
        self.ring.features()
    }

    /// Whether SQEs are 128 bytes (IORING_SETUP_SQE128).
    pub fn is_sqe128(&self) -> bool {
        self.sqe_shift == 1
    }

    /// Whether the ring posts 32-byte CQEs: all of them (IORING_SETUP_CQE32) or some
    /// (IORING_SETUP_CQE_MIXED).
    pub fn has_cqe32(&self) -> bool {
        self.cqe_shift == 1 || self.mixed
    }

    /// SQ entries.
    pub fn sq_entries(&self) -> u32 {
        self.q.sq_entries
    }

    /// CQ slots (a 32-byte CQE of a CQE_MIXED ring takes two).
    pub fn cq_entries(&self) -> u32 {
        self.q.cq_entries
    }

    /// The size in bytes the kernel posted `cqe` with: 32 on a CQE32 ring, 32 or 16 on a
    /// CQE_MIXED ring (`IORING_CQE_F_32`), 16 otherwise. liburing:
    /// `io_uring_cqe_nr` (in slots).
    pub fn cqe_size(&self, cqe: &Cqe32) -> usize {
        if self.cqe_shift == 1 || (self.mixed && cqe.f_32()) {
            32
        } else {
            16
        }
    }

    /// Which opcodes the running kernel supports (IORING_REGISTER_PROBE). liburing:
    /// `io_uring_get_probe_ring`.
    pub fn get_probe(&self) -> Result<Probe, RegisterError> {
        self.ring.get_probe()
    }

    /// The next free SQE slot's address, or `SubmissionQueueFull`.
    #[inline]
    fn next_slot(&mut self) -> Result<*mut u8, SubmissionQueueFull> {
        // Acquire pairs with the kernel's release of the head: it has read the SQEs of
        // the slots we are about to reuse.
        // SAFETY: the SQ head lies in the live ring mapping.
        let head = unsafe { (*self.q.sq_head).load(Ordering::Acquire) };
        if self.sqe_tail.wrapping_sub(head) >= self.q.sq_entries {
            return Err(SubmissionQueueFull);
        }
        let index = (self.sqe_tail & self.q.sq_mask) as usize;
        self.sqe_tail = self.sqe_tail.wrapping_add(1);
        // SAFETY: `index < sq_entries`, and the SQE mapping holds `sq_entries` entries of
        // `64 << sqe_shift` bytes (`map_queues` sized it from the same flag).
        Ok(unsafe { self.q.sqes.add(index << (6 + self.sqe_shift)) })
    }

    /// The next free SQE, zeroed (on an SQE128 ring the whole 128-byte slot), for the
    /// caller to fill with a 64-byte prep. liburing: `io_uring_get_sqe`.
    ///
    /// # Safety
    ///
    /// As for [`IoUring::get_sqe`]: whatever the entry names must stay valid for the
    /// kernel until its completion (zero-copy: until its notification).
    #[inline]
    pub unsafe fn get_sqe(&mut self) -> Result<&mut Sqe, SubmissionQueueFull> {
        let slot = self.next_slot()?;
        if self.sqe_shift == 1 {
            // SAFETY: a whole 128-byte slot of the SQE mapping, past the published tail
            // and consumed by the kernel (`next_slot`); `&mut self` makes it ours alone.
            unsafe { slot.cast::<Sqe128>().write(Sqe128::default()) };
        } else {
            // SAFETY: as above, a 64-byte slot.
            unsafe { slot.cast::<Sqe>().write(Sqe::default()) };
        }
        // SAFETY: the slot is initialised, aligned (the mapping is page-aligned and slots
        // are multiples of 64 bytes) and exclusively ours for the borrow of `self`.
        Ok(unsafe { &mut *slot.cast::<Sqe>() })
    }

    /// The next free 128-byte SQE, zeroed, on an SQE128 ring ([`BigError::NotSqe128`]
    /// elsewhere). liburing: `io_uring_get_sqe128`, which on an SQE128 ring is
    /// `io_uring_get_sqe` (on an SQE_MIXED ring, which this type refuses, it takes two
    /// slots), and gives NULL on other rings.
    ///
    /// # Safety
    ///
    /// As for [`get_sqe`](Self::get_sqe).
    #[inline]
    pub unsafe fn get_sqe128(&mut self) -> Result<&mut Sqe128, BigError> {
        if self.sqe_shift != 1 {
            return Err(BigError::NotSqe128);
        }
        let slot = self.next_slot()?.cast::<Sqe128>();
        // SAFETY: a whole 128-byte slot (SQE128), free and ours as in `get_sqe`; aligned.
        unsafe {
            slot.write(Sqe128::default());
            Ok(&mut *slot)
        }
    }

    /// Copies a prepared 64-byte SQE into the ring (on an SQE128 ring, with the second
    /// half zeroed).
    ///
    /// # Safety
    ///
    /// As for [`get_sqe`](Self::get_sqe), for everything `sqe` names.
    #[inline]
    pub unsafe fn push(&mut self, sqe: &Sqe) -> Result<(), SubmissionQueueFull> {
        // SAFETY: the caller's contract is ours.
        *unsafe { self.get_sqe() }? = *sqe;
        Ok(())
    }

    /// Copies a prepared 128-byte SQE into an SQE128 ring.
    ///
    /// # Safety
    ///
    /// As for [`get_sqe`](Self::get_sqe), for everything `sqe` names.
    #[inline]
    pub unsafe fn push128(&mut self, sqe: &Sqe128) -> Result<(), BigError> {
        // SAFETY: the caller's contract is ours.
        *unsafe { self.get_sqe128() }? = *sqe;
        Ok(())
    }

    /// Queues (but does not submit) a NOP: it completes with result 0 (a 16-byte CQE on a
    /// CQE_MIXED ring). liburing: `io_uring_prep_nop`.
    pub fn nop(&mut self, user_data: u64) -> Result<(), BigError> {
        // SAFETY: a NOP names no memory and no descriptor.
        let sqe = unsafe { self.get_sqe() }?;
        sqe.prep_nop();
        sqe.user_data = user_data;
        Ok(())
    }

    /// Queues (but does not submit) a NOP that posts a 32-byte CQE with `res` as its
    /// result and `[extra1, extra2]` as its `big_cqe`
    /// ([`Sqe::prep_nop_cqe32`], Linux 6.18); on a ring without 32-byte CQEs,
    /// [`BigError::NotCqe32`].
    pub fn nop_cqe32(
        &mut self,
        user_data: u64,
        res: i32,
        extra1: u64,
        extra2: u64,
    ) -> Result<(), BigError> {
        if !self.has_cqe32() {
            return Err(BigError::NotCqe32);
        }
        // SAFETY: a NOP names no memory and no descriptor.
        let sqe = unsafe { self.get_sqe() }?;
        sqe.prep_nop_cqe32(res, extra1, extra2);
        sqe.user_data = user_data;
        Ok(())
    }

    /// Queues (but does not submit) a driver command with a 16-byte command area
    /// ([`Sqe::prep_uring_cmd`]): `IORING_OP_URING_CMD` (Linux 5.19) on `fd`. liburing:
    /// `io_uring_prep_uring_cmd`.
    ///
    /// # Safety
    ///
    /// `fd` must stay open until the completion, and whatever the command makes the
    /// driver read or write (addresses inside `cmd`, per the driver's ABI) must stay
    /// valid until then.
    pub unsafe fn uring_cmd(
        &mut self,
        user_data: u64,
        fd: RawFd,
        cmd_op: u32,
        cmd: &[u8; 16],
    ) -> Result<(), BigError> {
        // SAFETY: the caller's contract.
        let sqe = unsafe { self.get_sqe() }?;
        sqe.prep_uring_cmd(cmd_op, fd, cmd);
        sqe.user_data = user_data;
        Ok(())
    }

    /// Queues (but does not submit) a driver command with an 80-byte command area
    /// ([`Sqe128::prep_uring_cmd`]) on an SQE128 ring ([`BigError::NotSqe128`]
    /// elsewhere). liburing: `io_uring_prep_uring_cmd` on an SQE128 ring.
    ///
    /// # Safety
    ///
    /// As for [`uring_cmd`](Self::uring_cmd).
    pub unsafe fn uring_cmd80(
        &mut self,
        user_data: u64,
        fd: RawFd,
        cmd_op: u32,
        cmd: &[u8; 80],
    ) -> Result<(), BigError> {
        // SAFETY: the caller's contract.
        let sqe = unsafe { self.get_sqe128() }?;
        sqe.prep_uring_cmd(cmd_op, fd, cmd);
        sqe.sqe.user_data = user_data;
        Ok(())
    }

    /// Queues (but does not submit) a multishot zero-copy receive on `fd` from the queue
    /// `zcrx_id` ([`register_zcrx_ifq`](Self::register_zcrx_ifq)), up to `len` bytes in
    /// all (0: no limit) ([`Sqe::prep_recv_zc`], Linux 6.15). Each completion is a
    /// [`Cqe32`] whose [`zcrx`](Cqe32::zcrx) part says where in the area the data lies;
    /// on a ring without 32-byte CQEs, [`BigError::NotCqe32`].
    ///
    /// # Safety
    ///
    /// `fd` must stay open until the last completion (without `IORING_CQE_F_MORE`).
    pub unsafe fn recv_zc(
        &mut self,
        user_data: u64,
        fd: RawFd,
        len: u32,
        zcrx_id: u32,
    ) -> Result<(), BigError> {
        if !self.has_cqe32() {
            return Err(BigError::NotCqe32);
        }
        // SAFETY: the caller's contract; the data lands in the registered area, whose
        // registration's contract covers it.
        let sqe = unsafe { self.get_sqe() }?;
        sqe.prep_recv_zc(fd, len, zcrx_id);
        sqe.user_data = user_data;
        Ok(())
    }

    /// Publishes the SQEs handed out since the last flush (one release store of the
    /// tail); returns how many the kernel has yet to consume. Zig: `flush_sq`.
    pub fn flush_sq(&mut self) -> u32 {
        if self.sqe_head != self.sqe_tail {
            self.sqe_head = self.sqe_tail;
            // Release: the kernel must see the SQE contents before the new tail.
            // SAFETY: the SQ tail lies in the live ring mapping; only we write it.
            unsafe { (*self.q.sq_tail).store(self.sqe_tail, Ordering::Release) };
        }
        self.sq_ready()
    }

    /// SQEs handed out (flushed or not) that the kernel has not consumed yet.
    pub fn sq_ready(&self) -> u32 {
        // SAFETY: the SQ head lies in the live ring mapping.
        let head = unsafe { (*self.q.sq_head).load(Ordering::Acquire) };
        self.sqe_tail.wrapping_sub(head)
    }

    /// Free SQEs. liburing: `io_uring_sq_space_left`.
    pub fn sq_space_left(&self) -> u32 {
        self.q.sq_entries - self.sq_ready()
    }

    /// CQ slots filled and not consumed (on a CQE_MIXED ring a 32-byte CQE counts two,
    /// a padding entry one). liburing: `io_uring_cq_ready`.
    pub fn cq_ready(&self) -> u32 {
        // SAFETY: both words lie in the live ring mapping.
        unsafe {
            (*self.q.cq_tail)
                .load(Ordering::Acquire)
                .wrapping_sub((*self.q.cq_head).load(Ordering::Relaxed))
        }
    }

    /// Submits the queued SQEs; returns how many were submitted.
    pub fn submit(&mut self) -> Result<u32, EnterError> {
        self.submit_and_wait(0)
    }

    /// Submits the queued SQEs and waits until at least `wait_nr` CQ slots are filled
    /// (the kernel counts slots: on a CQE_MIXED ring a 32-byte CQE is two, a padding
    /// entry one). As [`IoUring::submit_and_wait`] otherwise. liburing:
    /// `io_uring_submit_and_wait`.
    pub fn submit_and_wait(&mut self, wait_nr: u32) -> Result<u32, EnterError> {
        let submitted = self.flush_sq();
        let mut flags = IoringEnterFlags::empty();
        let needs_enter = submitted > 0 && self.ring.sq_ring_needs_enter(&mut flags);
        if wait_nr > 0
            || self.setup_flags().contains(IoringSetupFlags::IOPOLL)
            || self.ring.cq_ring_needs_flush()
        {
            flags |= IoringEnterFlags::GETEVENTS;
        } else if !needs_enter {
            return Ok(submitted);
        }
        self.ring.enter(submitted, wait_nr, flags)
    }

    /// Enters with GETEVENTS without waiting: runs task work (needed on a DEFER_TASKRUN
    /// ring) and flushes overflowed CQEs. liburing: `io_uring_get_events`.
    pub fn get_events(&mut self) -> Result<(), EnterError> {
        self.ring.enter(0, 0, IoringEnterFlags::GETEVENTS)?;
        Ok(())
    }

    /// `io_uring_enter(2)` with explicit arguments, as [`IoUring::enter`].
    pub fn enter(
        &mut self,
        to_submit: u32,
        min_complete: u32,
        flags: IoringEnterFlags,
    ) -> Result<u32, EnterError> {
        self.ring.enter(to_submit, min_complete, flags)
    }

    /// Copies up to `cqes.len()` ready completions into `cqes` and consumes them (a
    /// CQE_MIXED ring's padding entries are consumed and not returned); if none is
    /// ready, enters to wait for `wait_nr` filled slots (or, when the kernel holds
    /// overflowed CQEs or task work, or on a DEFER_TASKRUN ring without TASKRUN_FLAG, to
    /// flush them) and copies again. Returns how many were copied; it may be 0 after
    /// waiting, when only padding was posted. liburing: `io_uring_peek_batch_cqe` +
    /// `io_uring_cq_advance`; Zig: `copy_cqes`.
    pub fn copy_cqes32(&mut self, cqes: &mut [Cqe32], wait_nr: u32) -> Result<u32, EnterError> {
        let count = self.copy_ready(cqes);
        if count > 0 {
            return Ok(count);
        }
        // As `IoUring::copy_cqes` decides when to enter.
        if self.ring.cq_ring_needs_flush() || wait_nr > 0 || self.ring.defer_taskrun_unflagged() {
            self.ring.enter(0, wait_nr, IoringEnterFlags::GETEVENTS)?;
            return Ok(self.copy_ready(cqes));
        }
        Ok(0)
    }

    /// Waits for one completion and returns it. liburing: `io_uring_wait_cqe` +
    /// `io_uring_cqe_seen`; Zig: `copy_cqe`.
    pub fn copy_cqe32(&mut self) -> Result<Cqe32, EnterError> {
        let mut cqes = [Cqe32::default()];
        loop {
            // With wait_nr = 1 the kernel returns once a slot is filled; a padding entry
            // fills one without a completion, and the next round waits for the CQE after it.
            if self.copy_cqes32(&mut cqes, 1)? > 0 {
                return Ok(cqes[0]);
            }
        }
    }

    /// The next ready completion, if any, without entering the kernel. liburing:
    /// `io_uring_peek_cqe` + `io_uring_cqe_seen`.
    pub fn peek_cqe32(&mut self) -> Option<Cqe32> {
        let mut cqes = [Cqe32::default()];
        (self.copy_ready(&mut cqes) == 1).then_some(cqes[0])
    }

    /// Copies the ready completions at the stride of the ring and consumes them (and any
    /// padding entries among them) with one release store of the head.
    fn copy_ready(&mut self, cqes: &mut [Cqe32]) -> u32 {
        let q = self.q;
        // Our head: only we write it. The tail with acquire: the kernel wrote the CQEs
        // before releasing it.
        // SAFETY: both words lie in the live ring mapping.
        let (start, tail) = unsafe {
            (
                (*q.cq_head).load(Ordering::Relaxed),
                (*q.cq_tail).load(Ordering::Acquire),
            )
        };
        let slot = |pos: u32| -> *const u8 {
            let index = (pos & q.cq_mask) as usize;
            // SAFETY: `index < cq_entries`, and the CQE array holds `cq_entries` slots of
            // `16 << cqe_shift` bytes (`map_queues` sized it from the same flag).
            unsafe { q.cqes.add(index << (4 + self.cqe_shift)) }
        };
        let mut head = start;
        let mut n = 0;
        while head != tail && n < cqes.len() {
            let at = slot(head);
            // SAFETY: the slots between our head and the tail (read with acquire) are
            // fully written by the kernel and not rewritten before we advance the head;
            // a slot is 16-byte aligned and holds at least a 16-byte CQE.
            let cqe = unsafe { at.cast::<Cqe>().read() };
            let big_cqe = if self.cqe_shift == 1 {
                head = head.wrapping_add(1);
                // SAFETY: a CQE32 ring's slot is 32 bytes: the second 16 follow.
                unsafe { at.add(16).cast::<[u64; 2]>().read() }
            } else if self.mixed && cqe.flags & sys::IORING_CQE_F_SKIP != 0 {
                // Padding before the wrap: one slot, no completion.
                head = head.wrapping_add(1);
                continue;
            } else if self.mixed && cqe.flags & sys::IORING_CQE_F_32 != 0 {
                if tail.wrapping_sub(head) < 2 {
                    // Never posted half (the kernel publishes both slots at once); leave
                    // it for the next call rather than read past the tail.
                    break;
                }
                // The kernel keeps a 32-byte CQE in two consecutive slots, padding the end
                // of the array instead of wrapping one; `head + 1` is that second slot.
                // SAFETY: the slot after it, below the tail, written by the kernel.
                let big = unsafe { slot(head.wrapping_add(1)).cast::<[u64; 2]>().read() };
                head = head.wrapping_add(2);
                big
            } else {
                head = head.wrapping_add(1);
                [0; 2]
            };
            cqes[n] = Cqe32 { cqe, big_cqe };
            n += 1;
        }
        if head != start {
            // Release: our reads of the consumed slots happen before the kernel may reuse
            // them. `head` never passes the tail.
            // SAFETY: the CQ head lies in the live ring mapping; only we write it.
            unsafe { (*q.cq_head).store(head, Ordering::Release) };
        }
        n as u32
    }
}

impl AsFd for BigRing {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }
}

impl AsRawFd for BigRing {
    fn as_raw_fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }
}

/// The kernel's largest refill queue (`IO_RQ_MAX_ENTRIES`), for the check before the call.
pub const ZCRX_MAX_RQ_ENTRIES: u32 = 32768;

/// Why [`BigRing::register_zcrx_ifq`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ZcrxError {
    /// The ring was set up without `IORING_SETUP_DEFER_TASKRUN`, or with neither
    /// `IORING_SETUP_CQE32` nor `IORING_SETUP_CQE_MIXED`: zero-copy receive needs both
    /// (checked before any system call; the kernel would answer `EINVAL`).
    RingFlags,
    /// `rq_entries` is 0, above [`ZCRX_MAX_RQ_ENTRIES`] or not a power of two (checked
    /// before any system call).
    RqEntries(u32),
    /// The area is empty, or its address or length is not a multiple of the page size
    /// (checked before any system call).
    AreaInvalid,
    /// `if_idx` is 0, which names no interface (checked before any system call).
    NoInterface,
    /// `EPERM`: registering a receive queue needs `CAP_NET_ADMIN` (the queue can see
    /// other tasks' traffic).
    PermissionDenied,
    /// `ENODEV`: no interface has index `if_idx` in the caller's network namespace.
    NoSuchDevice,
    /// `EOPNOTSUPP`: the interface cannot hand a receive queue to io_uring. The kernel
    /// needs a device with a parent device (a real NIC: loopback and veth have none,
    /// and answer this) whose driver supports queue management, with header split and
    /// flow steering configured so that the queue gets only the wanted flow's payloads.
    DeviceUnsupported,
    /// `EINVAL` from the kernel: an argument it refused (a queue index the device does
    /// not have, or a queue that cannot take a memory provider, e.g. without header
    /// split).
    ArgumentsInvalid,
    /// Mapping the refill queue's memory failed with this errno.
    Mmap(Errno),
    /// Another errno of `io_uring_register`.
    Register(RegisterError),
}

impl fmt::Display for ZcrxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZcrxError::RingFlags => f.write_str(
                "zero-copy receive needs a ring set up with DEFER_TASKRUN and CQE32 (or CQE_MIXED)",
            ),
            ZcrxError::RqEntries(n) => write!(
                f,
                "zero-copy receive: refill queue entries {n} not a power of two in 1..={ZCRX_MAX_RQ_ENTRIES}"
            ),
            ZcrxError::AreaInvalid => f.write_str(
                "zero-copy receive: the area must be non-empty, page-aligned, a whole number of pages",
            ),
            ZcrxError::NoInterface => f.write_str("zero-copy receive: interface index 0"),
            ZcrxError::PermissionDenied => {
                f.write_str("zero-copy receive registration needs CAP_NET_ADMIN")
            }
            ZcrxError::NoSuchDevice => {
                f.write_str("zero-copy receive: no interface with that index in this namespace")
            }
            ZcrxError::DeviceUnsupported => f.write_str(
                "zero-copy receive: the interface cannot give a receive queue to io_uring \
                 (needs a NIC whose driver has queue management, with header split and flow \
                 steering; loopback and veth cannot)",
            ),
            ZcrxError::ArgumentsInvalid => f.write_str(
                "zero-copy receive: the kernel refused the queue (no such rx queue, or no header split)",
            ),
            ZcrxError::Mmap(e) => write!(f, "zero-copy receive: mapping the refill queue failed: {e}"),
            ZcrxError::Register(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ZcrxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ZcrxError::Register(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ZcrxError> for std::io::Error {
    fn from(e: ZcrxError) -> Self {
        let kind = match e {
            ZcrxError::PermissionDenied => std::io::ErrorKind::PermissionDenied,
            ZcrxError::NoSuchDevice => std::io::ErrorKind::NotFound,
            ZcrxError::DeviceUnsupported => std::io::ErrorKind::Unsupported,
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, e)
    }
}

impl ZcrxError {
    fn from_errno(errno: Errno) -> ZcrxError {
        match errno {
            Errno::PERM => ZcrxError::PermissionDenied,
            Errno::NODEV => ZcrxError::NoSuchDevice,
            Errno::OPNOTSUPP => ZcrxError::DeviceUnsupported,
            Errno::INVAL => ZcrxError::ArgumentsInvalid,
            e => ZcrxError::Register(RegisterError::from_errno(e)),
        }
    }
}

/// What to register as a zero-copy receive queue ([`BigRing::register_zcrx_ifq`]).
#[derive(Debug, Clone, Copy)]
pub struct ZcrxIfqArgs {
    /// The interface index (`if_nametoindex`).
    pub if_idx: u32,
    /// Its receive queue to take over.
    pub if_rxq: u32,
    /// Refill queue entries: a power of two, 1..=[`ZCRX_MAX_RQ_ENTRIES`].
    pub rq_entries: u32,
    /// The area the NIC writes payloads into: page-aligned.
    pub area: *mut u8,
    /// Its length: a non-zero multiple of the page size.
    pub area_len: usize,
}

/// An anonymous shared mapping, unmapped on drop: the refill queue's memory.
#[derive(Debug)]
struct AnonMap {
    ptr: *mut c_void,
    len: usize,
}

impl Drop for AnonMap {
    fn drop(&mut self) {
        // SAFETY: we own this mapping. The kernel pinned its pages at registration and
        // keeps them until the ring is gone, so unmapping our view frees nothing it uses.
        unsafe {
            let _ = rustix::mm::munmap(self.ptr, self.len);
        }
    }
}

/// A registered zero-copy receive queue: its id for [`BigRing::recv_zc`], the area's token,
/// and the refill queue through which buffers are handed back to the kernel. liburing: the
/// fields of its zcrx example after `io_uring_register_ifq`.
#[derive(Debug)]
pub struct ZcrxIfq {
    id: u32,
    area_token: u64,
    rq_mask: u32,
    rq_head: *const core::sync::atomic::AtomicU32,
    rq_tail: *const core::sync::atomic::AtomicU32,
    rqes: *mut sys::io_uring_zcrx_rqe,
    rq_cached_tail: u32,
    _map: AnonMap,
}

// SAFETY: the pointers refer to the mapping this value owns; writes go through `&mut self`.
unsafe impl Send for ZcrxIfq {}

impl ZcrxIfq {
    /// The queue's id (`zcrx_id`), for [`BigRing::recv_zc`].
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The area's token (`rq_area_token`): the high bits of a completion's offset.
    pub fn area_token(&self) -> u64 {
        self.area_token
    }

    /// Hands `len` bytes at `off` (a completion's [`zcrx`](Cqe32::zcrx) `off`, area token
    /// included) back to the kernel through the refill queue; `false` if the queue is
    /// full (the kernel has not consumed earlier entries yet).
    pub fn refill(&mut self, off: u64, len: u32) -> bool {
        // SAFETY: the head lies in the live refill mapping; acquire pairs with the
        // kernel's release once it has read the entries.
        let head = unsafe { (*self.rq_head).load(Ordering::Acquire) };
        if self.rq_cached_tail.wrapping_sub(head) > self.rq_mask {
            return false;
        }
        let index = (self.rq_cached_tail & self.rq_mask) as usize;
        // SAFETY: `index <= rq_mask < rq_entries`: inside the entry array of the mapping,
        // a slot the kernel has consumed (checked against the head above).
        unsafe {
            self.rqes
                .add(index)
                .write(sys::io_uring_zcrx_rqe { off, len, __pad: 0 });
        }
        self.rq_cached_tail = self.rq_cached_tail.wrapping_add(1);
        // Release: the entry before the tail that publishes it.
        // SAFETY: the tail lies in the live refill mapping; only we write it.
        unsafe { (*self.rq_tail).store(self.rq_cached_tail, Ordering::Release) };
        true
    }
}

impl BigRing {
    /// Registers a NIC receive queue for zero-copy receive (`IORING_REGISTER_ZCRX_IFQ`,
    /// Linux 6.15): the NIC writes the payloads of that queue into `args.area`, and
    /// [`recv_zc`](Self::recv_zc) completions say where. The refill queue is mapped here
    /// (`rq_entries` entries, user memory the kernel pins). liburing:
    /// `io_uring_register_ifq`.
    ///
    /// The ring must have DEFER_TASKRUN and CQE32 or CQE_MIXED; the arguments are checked
    /// before any system call ([`ZcrxError::RingFlags`], [`ZcrxError::RqEntries`],
    /// [`ZcrxError::AreaInvalid`], [`ZcrxError::NoInterface`]). The kernel's refusals are
    /// typed: without CAP_NET_ADMIN [`ZcrxError::PermissionDenied`]; on loopback or a
    /// veth (no parent device) [`ZcrxError::DeviceUnsupported`].
    ///
    /// # Safety
    ///
    /// `args.area .. args.area + args.area_len` must be memory of the caller's (anonymous
    /// or huge-page backed) that nothing else reads or writes while the ring lives, except
    /// through the completions' offsets: the kernel pins it and the NIC writes into it
    /// until the ring is gone.
    pub unsafe fn register_zcrx_ifq(&mut self, args: &ZcrxIfqArgs) -> Result<ZcrxIfq, ZcrxError> {
        let flags = self.setup_flags();
        if !flags.contains(IoringSetupFlags::DEFER_TASKRUN) || !self.has_cqe32() {
            return Err(ZcrxError::RingFlags);
        }
        let n = args.rq_entries;
        if n == 0 || n > ZCRX_MAX_RQ_ENTRIES || !n.is_power_of_two() {
            return Err(ZcrxError::RqEntries(n));
        }
        let page = rustix::param::page_size();
        if args.area.is_null()
            || args.area_len == 0
            || args.area as usize % page != 0
            || args.area_len % page != 0
        {
            return Err(ZcrxError::AreaInvalid);
        }
        if args.if_idx == 0 {
            return Err(ZcrxError::NoInterface);
        }
        // The kernel puts the head and tail in the first cache line(s) and the entries
        // after them: a page for the header (as liburing's example sizes it), then the
        // entries, rounded up to whole pages.
        let rq_len =
            (page + n as usize * size_of::<sys::io_uring_zcrx_rqe>()).div_ceil(page) * page;
        // SAFETY: a fresh anonymous mapping chosen by the kernel; it aliases nothing.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                core::ptr::null_mut(),
                rq_len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED | MapFlags::POPULATE,
            )
        }
        .map_err(ZcrxError::Mmap)?;
        let map = AnonMap { ptr, len: rq_len };

        let mut region = sys::io_uring_region_desc {
            user_addr: ptr as u64,
            size: rq_len as u64,
            flags: sys::raw::IORING_MEM_REGION_TYPE_USER as u32,
            id: 0,
            mmap_offset: 0,
            __resv: [0; 4],
        };
        let mut area = sys::io_uring_zcrx_area_reg {
            addr: args.area as u64,
            len: args.area_len as u64,
            rq_area_token: 0,
            flags: 0,
            dmabuf_fd: 0,
            __resv2: [0; 2],
        };
        let mut reg = sys::io_uring_zcrx_ifq_reg {
            if_idx: args.if_idx,
            if_rxq: args.if_rxq,
            rq_entries: n,
            flags: 0,
            area_ptr: &mut area as *mut sys::io_uring_zcrx_area_reg as u64,
            region_ptr: &mut region as *mut sys::io_uring_region_desc as u64,
            offsets: sys::io_uring_zcrx_offsets {
                head: 0,
                tail: 0,
                rqes: 0,
                __resv2: 0,
                __resv: [0; 2],
            },
            zcrx_id: 0,
            __resv2: 0,
            __resv: [0; 3],
        };
        // rustix's IoringRegisterOp has no ZCRX_IFQ: the system call through libc, as
        // `register_sync_msg` does for the op rustix cannot express.
        // SAFETY: ZCRX_IFQ reads `reg` and the area and region descriptors it points to
        // (all live across the call) and writes their output fields back; it pins the
        // region (our mapping, kept by the returned value, and pinned by the kernel for
        // the ring's life) and the area (the caller's contract).
        let ret = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.fd() as libc::c_int,
                sys::raw::io_uring_register_op::IORING_REGISTER_ZCRX_IFQ as libc::c_uint,
                &mut reg as *mut sys::io_uring_zcrx_ifq_reg,
                1 as libc::c_uint,
            )
        };
        if ret < 0 {
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .map_or(Errno::IO, Errno::from_raw_os_error);
            return Err(ZcrxError::from_errno(errno));
        }
        let base = ptr.cast::<u8>();
        let off = reg.offsets;
        // SAFETY: the kernel's offsets lie inside the region it accepted (it checked that
        // the header and `rq_entries` entries fit in `size`).
        unsafe {
            Ok(ZcrxIfq {
                id: reg.zcrx_id,
                area_token: area.rq_area_token,
                rq_mask: reg.rq_entries - 1,
                rq_head: base.add(off.head as usize).cast(),
                rq_tail: base.add(off.tail as usize).cast(),
                rqes: base.add(off.rqes as usize).cast(),
                rq_cached_tail: 0,
                _map: map,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 128-byte SQE and 32-byte CQE have the kernel's layout: the command area at byte
    /// 48, `big_cqe` at byte 16.
    #[test]
    fn layouts() {
        assert_eq!(size_of::<Sqe128>(), 128);
        assert_eq!(align_of::<Sqe128>(), 8);
        assert_eq!(size_of::<Cqe32>(), 32);
        assert_eq!(core::mem::offset_of!(Cqe32, big_cqe), 16);
        assert_eq!(core::mem::offset_of!(Sqe128, ext), 64);
        let mut s = Sqe128::default();
        s.cmd_mut()[0] = 1;
        s.cmd_mut()[15] = 2;
        s.cmd_mut()[16] = 3;
        s.cmd_mut()[79] = 4;
        assert_eq!(s.sqe.addr3.to_ne_bytes()[0], 1);
        assert_eq!(s.sqe.resv.to_ne_bytes()[7], 2);
        assert_eq!((s.ext[0], s.ext[63]), (3, 4));
        assert_eq!(s.cmd()[79], 4);
        // The kernel's zcrx CQE fits `big_cqe`.
        assert_eq!(size_of::<sys::io_uring_zcrx_cqe>(), 16);
    }

    /// The refill queue refuses an entry once the kernel has not consumed `entries` of
    /// them, and publishes each with the tail (on a local stand-in for the mapping).
    #[test]
    fn refill_queue_fills_and_publishes() {
        let page = rustix::param::page_size();
        // SAFETY: a fresh anonymous mapping.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                core::ptr::null_mut(),
                page * 2,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
            )
        }
        .unwrap();
        let base = ptr.cast::<u8>();
        // SAFETY: offsets inside the two pages: head at 0, tail at 64, entries at 128.
        let mut q = unsafe {
            ZcrxIfq {
                id: 0,
                area_token: 0,
                rq_mask: 3,
                rq_head: base.cast(),
                rq_tail: base.add(64).cast(),
                rqes: base.add(128).cast(),
                rq_cached_tail: 0,
                _map: AnonMap { ptr, len: page * 2 },
            }
        };
        for i in 0..4u64 {
            assert!(q.refill(i << 12, 4096));
        }
        assert!(!q.refill(99, 1));
        // SAFETY: the words and entries of the local mapping.
        unsafe {
            assert_eq!((*q.rq_tail).load(Ordering::Relaxed), 4);
            assert_eq!((*q.rqes.add(3)).off, 3 << 12);
            (*q.rq_head.cast_mut()).store(1, Ordering::Relaxed);
        }
        assert!(q.refill(5 << 12, 8));
        // SAFETY: as above.
        unsafe { assert_eq!((*q.rqes).off, 5 << 12) };
    }
}
