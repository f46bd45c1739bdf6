//! `io_uring_register(2)`: registered files and buffers, eventfd, NAPI, personalities,
//! ring enabling and restrictions, the opcode probe, registered ring fds, synchronous
//! cancellation, io-wq limits and affinity, the wait clock, buffer cloning. Provided-buffer
//! rings live in [`buf_ring`](crate::buf_ring); ring resizing is
//! [`IoUring::resize_rings`].
//!
//! Registering memory hands it to the kernel beyond any Rust borrow (fixed-buffer
//! operations read and write it later), so buffer registration is `unsafe` with the
//! contract in `# Safety`; the safe layer's buffer pool owns its memory instead.

use core::ffi::c_void;
use core::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

pub use linux_raw_sys::general::iovec;
use linux_raw_sys::io_uring::__kernel_timespec;
use rustix::io_uring::{
    io_uring_register, io_uring_register_with, ClockId, IoringFeatureFlags, IoringRegisterFlags,
    IoringRegisterOp,
};

use crate::error::RegisterError;
use crate::ring::{thread_token, IoUring, RegisteredRing};
use crate::sys::{self, io_uring_op};

/// Slots of a thread's registered-ring table (the kernel's `IO_RINGFD_REG_MAX`).
const RING_FD_SLOTS: u32 = 16;

impl IoUring {
    /// One `io_uring_register` call with typed errors.
    ///
    /// # Safety
    ///
    /// `arg` and `nr_args` must be what the kernel expects for `op`, and everything they
    /// point to must be valid for the kernel as long as the registration says.
    pub unsafe fn register_raw(
        &self,
        op: IoringRegisterOp,
        arg: *const c_void,
        nr_args: u32,
    ) -> Result<u32, RegisterError> {
        let reg_reg = IoringFeatureFlags::from_bits_retain(sys::IORING_FEAT_REG_REG_RING);
        if let Some(index) = self.registered_ring_index() {
            if self.features().contains(reg_reg) {
                // SAFETY: the number is never used as a descriptor: it travels only as the
                // `fd` argument of an io_uring_register with
                // IORING_REGISTER_USE_REGISTERED_RING (Linux 6.3, IORING_FEAT_REG_REG_RING),
                // where the kernel reads it as a slot of the calling thread's registered-
                // ring table; `registered_ring_index` answers only on the registering
                // thread, whose slot names this ring. It is below 16, so not -1. The
                // rest is forwarded to the caller's contract.
                return unsafe {
                    let fd = BorrowedFd::borrow_raw(index as RawFd);
                    io_uring_register_with(
                        fd,
                        op,
                        IoringRegisterFlags::USE_REGISTERED_RING,
                        arg,
                        nr_args,
                    )
                }
                .map_err(RegisterError::from_errno);
            }
        }
        // SAFETY: forwarded to the caller's contract; the fd is our ring.
        unsafe { io_uring_register(self.borrowed_fd(), op, arg, nr_args) }
            .map_err(RegisterError::from_errno)
    }

    /// Registers a table of files (Linux 5.1): SQEs with `IOSQE_FIXED_FILE` then name a
    /// file by its index, saving the fd lookup per request. `None` entries are empty slots
    /// (passed as `-1`, Linux 5.5). Zig: `register_files`; liburing:
    /// `io_uring_register_files`.
    ///
    /// Safe with borrowed descriptors: the kernel takes its own reference to each file
    /// during the call (`fget` into the table), so the descriptors may be closed as soon as
    /// it returns; the table then names the files, not the numbers. The kernel refuses a
    /// second table ([`RegisterError::AlreadyRegistered`]), so this never changes a table
    /// that requests rely on.
    pub fn register_files(&mut self, fds: &[Option<BorrowedFd<'_>>]) -> Result<(), RegisterError> {
        if fds.is_empty() {
            return Err(RegisterError::Empty);
        }
        let nr = u32::try_from(fds.len()).map_err(|_| RegisterError::TooMany)?;
        let raw = raw_fds(fds);
        // SAFETY: the kernel copies `nr` i32s out of `raw` during the call, each an open
        // descriptor (borrowed for the call) or -1.
        unsafe { self.register_raw(IoringRegisterOp::RegisterFiles, raw.as_ptr().cast(), nr) }?;
        Ok(())
    }

    /// Replaces registered files from index `offset` on with `fds` (`None` clears a slot),
    /// Linux 5.5. Returns how many slots were updated; an empty `fds` is
    /// [`RegisterError::Empty`]. As for [`register_files`](Self::register_files), the
    /// kernel takes its own reference to each new file during the call. Zig:
    /// `register_files_update`; liburing: `io_uring_register_files_update`.
    ///
    /// # Safety
    ///
    /// No request in flight or queued, the caller's or another component's, may rely on
    /// the slots `offset..offset + fds.len()` naming the files they named before: a queued
    /// `IOSQE_FIXED_FILE` request resolves its slot when the kernel issues it, and would
    /// then act on the new file (or fail on a cleared slot).
    pub unsafe fn register_files_update(
        &mut self,
        offset: u32,
        fds: &[Option<BorrowedFd<'_>>],
    ) -> Result<u32, RegisterError> {
        if fds.is_empty() {
            return Err(RegisterError::Empty);
        }
        let nr = u32::try_from(fds.len()).map_err(|_| RegisterError::TooMany)?;
        let fds = raw_fds(fds);
        let update = sys::io_uring_files_update {
            offset,
            resv: 0,
            fds: fds.as_ptr() as u64,
        };
        // SAFETY: the kernel reads the update struct and `nr` i32s during the call.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterFilesUpdate,
                (&update as *const sys::io_uring_files_update).cast(),
                nr,
            )
        }
    }

    /// Unregisters the file table (Linux 5.1). Zig: `unregister_files`.
    ///
    /// # Safety
    ///
    /// No request in flight or queued, the caller's or another component's, may rely on
    /// the table: a queued `IOSQE_FIXED_FILE` request would fail, or, once another table is
    /// registered, act on whatever file its slot names then.
    pub unsafe fn unregister_files(&mut self) -> Result<(), RegisterError> {
        // SAFETY: no argument.
        unsafe { self.register_raw(IoringRegisterOp::UnregisterFiles, core::ptr::null(), 0) }?;
        Ok(())
    }

    /// Registers buffers for `read_fixed`, `write_fixed` and `send_zc_fixed` (Linux 5.1):
    /// the kernel pins their pages once, and requests name them by index (`buf_index`).
    /// Zig: `register_buffers`; liburing: `io_uring_register_buffers`.
    ///
    /// # Safety
    ///
    /// Every buffer must stay valid (allocated, and not otherwise borrowed while the kernel
    /// writes into it through a fixed read) until
    /// [`unregister_buffers`](Self::unregister_buffers) (or a
    /// [`register_buffers_update`](Self::register_buffers_update) of its slot) has returned
    /// *and* every fixed request that used it has completed and been reaped (requests
    /// already issued keep their reference to the registration), or the ring is dropped
    /// and its in-flight fixed requests have completed.
    pub unsafe fn register_buffers(&mut self, buffers: &[iovec]) -> Result<(), RegisterError> {
        if buffers.is_empty() {
            return Err(RegisterError::Empty);
        }
        let nr = u32::try_from(buffers.len()).map_err(|_| RegisterError::TooMany)?;
        // SAFETY: the kernel reads `nr` iovecs now and pins the memory they name; keeping
        // that memory valid afterwards is the caller's contract.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterBuffers,
                buffers.as_ptr().cast(),
                nr,
            )
        }?;
        Ok(())
    }

    /// Unregisters all buffers (Linux 5.1). Requests already issued keep their reference
    /// to the old buffers inside the kernel. Zig: `unregister_buffers`.
    ///
    /// # Safety
    ///
    /// No request in flight or queued, the caller's or another component's (a
    /// [`BufferPool`](crate::zc::BufferPool), say), may rely on the table: a queued fixed
    /// request resolves its `buf_index` when the kernel issues it, and once another table
    /// is registered it would read or write that table's memory instead.
    pub unsafe fn unregister_buffers(&mut self) -> Result<(), RegisterError> {
        // SAFETY: no argument.
        unsafe { self.register_raw(IoringRegisterOp::UnregisterBuffers, core::ptr::null(), 0) }?;
        Ok(())
    }

    /// Registers an empty table of `nr_files` file slots (Linux 5.19,
    /// IORING_REGISTER_FILES2 with IORING_RSRC_REGISTER_SPARSE), to be filled later by
    /// [`register_files_update`](Self::register_files_update) or by operations that
    /// install direct descriptors (accept_direct, socket_direct, openat_direct).
    /// `nr_files == 0` is [`RegisterError::Empty`]. Safe: the kernel refuses it while a
    /// table exists ([`RegisterError::AlreadyRegistered`]), so it replaces nothing. Zig:
    /// `register_files_sparse`; liburing: `io_uring_register_files_sparse`.
    pub fn register_files_sparse(&mut self, nr_files: u32) -> Result<(), RegisterError> {
        if nr_files == 0 {
            return Err(RegisterError::Empty);
        }
        let reg = sparse_rsrc(nr_files);
        // SAFETY: the kernel reads one io_uring_rsrc_register (its size is nr_args) during
        // the call; a sparse table names no memory.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterFiles2,
                (&reg as *const sys::io_uring_rsrc_register).cast(),
                size_of::<sys::io_uring_rsrc_register>() as u32,
            )
        }?;
        Ok(())
    }

    /// Restricts the slots the kernel picks for `IORING_FILE_INDEX_ALLOC` requests
    /// (accept/socket/openat "direct alloc") to `[offset, offset + len)` of the registered
    /// file table (Linux 6.0, IORING_REGISTER_FILE_ALLOC_RANGE). The range must lie inside
    /// the table; `len == 0` is [`RegisterError::Empty`]. Zig:
    /// `register_file_alloc_range`; liburing: `io_uring_register_file_alloc_range`.
    pub fn register_file_alloc_range(
        &mut self,
        offset: u32,
        len: u32,
    ) -> Result<(), RegisterError> {
        if len == 0 {
            return Err(RegisterError::Empty);
        }
        let range = sys::raw::io_uring_file_index_range {
            off: offset,
            len,
            resv: 0,
        };
        // nr_args must be 0 for this opcode (the kernel answers EINVAL otherwise, which
        // is what Zig's version, passing the struct size, gets on Linux 6.18).
        // SAFETY: the kernel reads one io_uring_file_index_range during the call.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterFileAllocRange,
                (&range as *const sys::raw::io_uring_file_index_range).cast(),
                0,
            )
        }?;
        Ok(())
    }

    /// Registers `fd`, an eventfd (`eventfd(2)`), to be signalled whenever a completion is
    /// posted to this ring (Linux 5.2, IORING_REGISTER_EVENTFD). One eventfd per ring: a
    /// second registration is [`RegisterError::AlreadyRegistered`]. Safe with a borrowed
    /// descriptor: the kernel takes its own reference to the eventfd during the call
    /// (`eventfd_ctx_fdget`), so `fd` may be closed afterwards; a descriptor that is not an
    /// eventfd is refused. Zig: `register_eventfd`; liburing: `io_uring_register_eventfd`.
    pub fn register_eventfd(&mut self, fd: BorrowedFd<'_>) -> Result<(), RegisterError> {
        self.eventfd_op(IoringRegisterOp::RegisterEventfd, fd)
    }

    /// Like [`register_eventfd`](Self::register_eventfd), but the eventfd is signalled
    /// only for completions that did not complete inline during submission, i.e. those
    /// finished asynchronously (Linux 5.6, IORING_REGISTER_EVENTFD_ASYNC). Zig:
    /// `register_eventfd_async`; liburing: `io_uring_register_eventfd_async`.
    pub fn register_eventfd_async(&mut self, fd: BorrowedFd<'_>) -> Result<(), RegisterError> {
        self.eventfd_op(IoringRegisterOp::RegisterEventfdAsync, fd)
    }

    fn eventfd_op(
        &mut self,
        op: IoringRegisterOp,
        fd: BorrowedFd<'_>,
    ) -> Result<(), RegisterError> {
        let fd: RawFd = fd.as_raw_fd();
        // SAFETY: the kernel reads one i32 (the fd, open: borrowed for the call) during the
        // call and takes its own reference to the eventfd.
        unsafe { self.register_raw(op, (&fd as *const RawFd).cast(), 1) }?;
        Ok(())
    }

    /// Unregisters the eventfd (Linux 5.2, IORING_UNREGISTER_EVENTFD); with none
    /// registered the kernel answers [`RegisterError::NotRegistered`]. Zig:
    /// `unregister_eventfd`; liburing: `io_uring_unregister_eventfd`.
    pub fn unregister_eventfd(&mut self) -> Result<(), RegisterError> {
        // SAFETY: no argument.
        unsafe { self.register_raw(IoringRegisterOp::UnregisterEventfd, core::ptr::null(), 0) }?;
        Ok(())
    }

    /// Enables NAPI busy polling for the sockets this ring waits on (Linux 6.9,
    /// IORING_REGISTER_NAPI): `busy_poll_to` is the busy-poll timeout in microseconds,
    /// `prefer_busy_poll` sets SO_PREFER_BUSY_POLL, `opcode`/`op_param` select the
    /// tracking strategy (0/0: dynamic, the 6.9 behaviour). On success the kernel writes
    /// the *previous* settings back into `napi`. Refused on IOPOLL rings. Zig:
    /// `register_napi`; liburing: `io_uring_register_napi`.
    pub fn register_napi(&mut self, napi: &mut sys::io_uring_napi) -> Result<(), RegisterError> {
        // SAFETY: the kernel reads and writes one io_uring_napi (nr_args 1) during the
        // call; `napi` is exclusively borrowed for it.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterNapi,
                (napi as *mut sys::io_uring_napi)
                    .cast::<c_void>()
                    .cast_const(),
                1,
            )
        }?;
        Ok(())
    }

    /// Disables NAPI busy polling (Linux 6.9, IORING_UNREGISTER_NAPI) and writes the
    /// settings that were in force into `napi`. Zig: `unregister_napi`; liburing:
    /// `io_uring_unregister_napi`.
    pub fn unregister_napi(&mut self, napi: &mut sys::io_uring_napi) -> Result<(), RegisterError> {
        // SAFETY: as for `register_napi`: one io_uring_napi, written during the call.
        unsafe {
            self.register_raw(
                IoringRegisterOp::UnregisterNapi,
                (napi as *mut sys::io_uring_napi)
                    .cast::<c_void>()
                    .cast_const(),
                1,
            )
        }?;
        Ok(())
    }

    /// Registers an empty table of `nr` buffer slots (Linux 5.19, IORING_REGISTER_BUFFERS2
    /// with IORING_RSRC_REGISTER_SPARSE), to be filled by
    /// [`register_buffers_update`](Self::register_buffers_update). `nr == 0` is
    /// [`RegisterError::Empty`]. Safe: the kernel refuses it while a table exists
    /// ([`RegisterError::AlreadyRegistered`]), so it replaces nothing. liburing:
    /// `io_uring_register_buffers_sparse` (Zig has no twin).
    pub fn register_buffers_sparse(&mut self, nr: u32) -> Result<(), RegisterError> {
        if nr == 0 {
            return Err(RegisterError::Empty);
        }
        let reg = sparse_rsrc(nr);
        // SAFETY: the kernel reads one io_uring_rsrc_register during the call; a sparse
        // table names no memory.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterBuffers2,
                (&reg as *const sys::io_uring_rsrc_register).cast(),
                size_of::<sys::io_uring_rsrc_register>() as u32,
            )
        }?;
        Ok(())
    }

    /// Replaces registered buffers from slot `offset` on with `buffers` (Linux 5.13,
    /// IORING_REGISTER_BUFFERS_UPDATE); an iovec with a null base and zero length clears a
    /// slot. Returns how many slots were updated. A slot's old buffer is released once no
    /// request uses it any more. Empty `buffers` is [`RegisterError::Empty`]. liburing:
    /// `io_uring_register_buffers_update_tag` with no tags (Zig has no twin).
    ///
    /// # Safety
    ///
    /// As for [`register_buffers`](Self::register_buffers): every new buffer must stay
    /// valid (and not otherwise borrowed while a fixed read writes into it) until its slot
    /// is replaced or unregistered and no fixed request that uses it is still in flight.
    /// And no request in flight or queued, the caller's or another component's (a
    /// [`BufferPool`](crate::zc::BufferPool), say), may rely on the slots replaced: a
    /// queued fixed request resolves its `buf_index` when the kernel issues it, and would
    /// then read or write the new buffer.
    pub unsafe fn register_buffers_update(
        &mut self,
        offset: u32,
        buffers: &[iovec],
    ) -> Result<u32, RegisterError> {
        if buffers.is_empty() {
            return Err(RegisterError::Empty);
        }
        let nr = u32::try_from(buffers.len()).map_err(|_| RegisterError::TooMany)?;
        let update = sys::io_uring_rsrc_update2 {
            offset,
            resv: 0,
            data: buffers.as_ptr() as u64,
            tags: 0,
            nr,
            resv2: 0,
        };
        // SAFETY: the kernel reads the update and `nr` iovecs during the call and pins the
        // memory they name; keeping that memory valid is the caller's contract.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterBuffersUpdate,
                (&update as *const sys::io_uring_rsrc_update2).cast(),
                size_of::<sys::io_uring_rsrc_update2>() as u32,
            )
        }
    }

    /// Enables a ring created with `IORING_SETUP_R_DISABLED` (Linux 5.10,
    /// IORING_REGISTER_ENABLE_RINGS): until then submission fails with
    /// [`EnterError::FileDescriptorInBadState`](crate::EnterError::FileDescriptorInBadState),
    /// which leaves time to register restrictions. On a ring that is not disabled the
    /// kernel answers `EBADFD` ([`RegisterError::Unexpected`]). liburing:
    /// `io_uring_enable_rings` (Zig has no twin).
    pub fn enable_rings(&mut self) -> Result<(), RegisterError> {
        // SAFETY: no argument.
        unsafe { self.register_raw(IoringRegisterOp::RegisterEnableRings, core::ptr::null(), 0) }?;
        Ok(())
    }

    /// Restricts what a ring created with `IORING_SETUP_R_DISABLED` may do once
    /// [`enable_rings`](Self::enable_rings) is called (IORING_REGISTER_RESTRICTIONS, Linux
    /// 5.10): only the register opcodes and SQE opcodes listed are allowed, SQE flags only
    /// as the rules say. An SQE outside the rules then completes with `-EACCES`, a
    /// register call outside them is [`RegisterError::Restricted`]. Once per ring (a
    /// second call is [`RegisterError::AlreadyRegistered`]); on a ring that is not
    /// disabled, [`RegisterError::FileDescriptorInBadState`]. An empty `rules` is
    /// [`RegisterError::Empty`] (before any system call). liburing:
    /// `io_uring_register_restrictions`.
    pub fn register_restrictions(&mut self, rules: &[Restriction]) -> Result<(), RegisterError> {
        if rules.is_empty() {
            return Err(RegisterError::Empty);
        }
        let nr = u32::try_from(rules.len()).map_err(|_| RegisterError::TooMany)?;
        let raw: Vec<sys::io_uring_restriction> = rules.iter().map(|r| r.to_raw()).collect();
        // SAFETY: the kernel copies `nr` io_uring_restriction structs during the call.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterRestrictions,
                raw.as_ptr().cast(),
                nr,
            )
        }?;
        Ok(())
    }

    /// Registers the calling task's credentials and returns their personality id
    /// (Linux 5.6, IORING_REGISTER_PERSONALITY); an SQE whose `personality` field holds
    /// the id is issued with those credentials. liburing: `io_uring_register_personality`
    /// (Zig has no twin).
    pub fn register_personality(&mut self) -> Result<u16, RegisterError> {
        // SAFETY: no argument; the kernel returns the new id.
        let id = unsafe {
            self.register_raw(IoringRegisterOp::RegisterPersonality, core::ptr::null(), 0)
        }?;
        // Ids are allocated in 1..=u16::MAX (the SQE field is 16 bits wide).
        u16::try_from(id).map_err(|_| RegisterError::Unexpected(rustix::io::Errno::RANGE))
    }

    /// Unregisters the personality `id` (Linux 5.6, IORING_UNREGISTER_PERSONALITY); an
    /// unknown id is [`RegisterError::ArgumentsInvalid`]. liburing:
    /// `io_uring_unregister_personality`.
    pub fn unregister_personality(&mut self, id: u16) -> Result<(), RegisterError> {
        // SAFETY: the id travels in nr_args; no memory argument.
        unsafe {
            self.register_raw(
                IoringRegisterOp::UnregisterPersonality,
                core::ptr::null(),
                u32::from(id),
            )
        }?;
        Ok(())
    }

    /// Asks the kernel which opcodes it supports (IORING_REGISTER_PROBE, Linux 5.6).
    /// Zig: `get_probe`; liburing: `io_uring_get_probe_ring`.
    pub fn get_probe(&self) -> Result<Probe, RegisterError> {
        const OPS: usize = 256;
        // The probe is a header followed by `OPS` op entries; build it as one u64-aligned
        // zeroed block (the kernel insists on zeroed input).
        #[repr(C)]
        struct Block {
            header: sys::io_uring_probe,
            ops: [sys::io_uring_probe_op; OPS],
        }
        // SAFETY: both structs are plain integers; all-zero is a valid value.
        let mut block: Box<Block> = Box::new(unsafe { core::mem::zeroed() });
        // SAFETY: the kernel writes the header and up to `OPS` entries into the block.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterProbe,
                (&mut *block as *mut Block).cast::<c_void>().cast_const(),
                OPS as u32,
            )
        }?;
        let n = usize::from(block.header.ops_len).min(OPS);
        let mut supported = [false; 256];
        for op in &block.ops[..n] {
            supported[usize::from(op.op)] = u32::from(op.flags) & sys::IO_URING_OP_SUPPORTED != 0;
        }
        Ok(Probe {
            last_op: block.header.last_op,
            supported,
        })
    }

    /// Registers the ring's fd in the calling thread's registered-ring table
    /// (IORING_REGISTER_RING_FDS, Linux 5.18) and returns the slot: from then on, every
    /// `io_uring_enter` this ring makes *on this thread* passes the slot with
    /// IORING_ENTER_REGISTERED_RING, which saves the kernel's fd lookup (an `fdget` /
    /// `fdput` pair) per enter, and so does every `io_uring_register` call through
    /// [`register_raw`](Self::register_raw) (IORING_REGISTER_USE_REGISTERED_RING, when the
    /// kernel has IORING_FEAT_REG_REG_RING, 6.3). liburing: `io_uring_register_ring_fd`.
    ///
    /// The kernel keeps the table per thread (`current->io_uring`), so the slot means this
    /// ring only to the registering thread: on any other thread the same number is that
    /// thread's slot, empty or holding another ring. The ring therefore remembers which
    /// thread registered it and uses the slot only there; moved to another thread (it is
    /// `Send`), it enters through its fd as before, which is always correct.
    ///
    /// Not done by default, as in liburing: a thread has 16 slots, and a registration
    /// holds a reference to the ring. [`unregister_ring_fd`](Self::unregister_ring_fd),
    /// or dropping the ring, on the registering thread releases it; the kernel also does
    /// when that thread exits. A ring dropped on another thread cannot release it (only
    /// the owning thread can): the kernel's ring, and whatever its requests in flight
    /// still use, then lives until the registering thread exits or unregisters that slot.
    /// In a child of `fork(2)` the table is empty, and a ring the parent registered must
    /// not be used (as any ring shared across `fork`).
    ///
    /// A second registration is [`RegisterError::AlreadyRegistered`] (whichever thread
    /// made the first); a full table is the kernel's `EBUSY`, also `AlreadyRegistered`.
    ///
    /// ```
    /// use uring::{sys::IoringSetupFlags, IoUring};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ring = IoUring::init(8, IoringSetupFlags::empty())?;
    /// let slot = ring.register_ring_fd()?;
    /// assert_eq!(ring.registered_ring_index(), Some(slot));
    /// ring.nop(7)?;
    /// ring.submit_and_wait(1)?; // entered through the slot
    /// assert_eq!(ring.copy_cqe()?.user_data, 7);
    /// // On another thread the slot means nothing: the ring uses its fd there.
    /// let ring = std::thread::spawn(move || {
    ///     assert_eq!(ring.registered_ring_index(), None);
    ///     ring
    /// })
    /// .join()
    /// .unwrap();
    /// assert_eq!(ring.registered_ring_index(), Some(slot));
    /// # Ok(()) }
    /// ```
    pub fn register_ring_fd(&mut self) -> Result<u32, RegisterError> {
        if self.registered.is_some() {
            return Err(RegisterError::AlreadyRegistered);
        }
        let mut update = sys::io_uring_rsrc_update {
            // -1U: let the kernel pick a free slot; it writes the slot back here.
            offset: u32::MAX,
            resv: 0,
            data: self.fd() as u64,
        };
        // SAFETY: the kernel reads one io_uring_rsrc_update (nr_args 1) during the call and
        // writes the chosen slot into its `offset`; `update` is exclusively borrowed, so
        // the pointer is valid for writes, as rustix requires for RING_FDS. `data` is our
        // ring's fd, open for the call; the kernel takes its own reference to the file.
        let n = unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterRingFds,
                (&mut update as *mut sys::io_uring_rsrc_update)
                    .cast::<c_void>()
                    .cast_const(),
                1,
            )
        }?;
        if n != 1 || update.offset >= RING_FD_SLOTS {
            return Err(RegisterError::Unexpected(rustix::io::Errno::RANGE));
        }
        self.registered = Some(RegisteredRing {
            index: update.offset,
            thread: thread_token(),
        });
        Ok(update.offset)
    }

    /// Removes the ring from the registered-ring table of the thread that registered it
    /// (IORING_UNREGISTER_RING_FDS, Linux 5.18); enters use the fd again. liburing:
    /// `io_uring_unregister_ring_fd`. With none registered:
    /// [`RegisterError::NotRegistered`]; on another thread than the registering one:
    /// [`RegisterError::RegisteredOnOtherThread`] (the kernel would clear *this* thread's
    /// slot of that number, which may hold another ring). Both are checked before any
    /// system call.
    pub fn unregister_ring_fd(&mut self) -> Result<(), RegisterError> {
        let Some(reg) = self.registered else {
            return Err(RegisterError::NotRegistered);
        };
        if reg.thread != thread_token() {
            return Err(RegisterError::RegisteredOnOtherThread);
        }
        let update = sys::io_uring_rsrc_update {
            offset: reg.index,
            resv: 0,
            data: 0,
        };
        // Unregistered (or not) first: enters must not use the slot once the call was
        // made, whatever it answered.
        self.registered = None;
        // SAFETY: the kernel reads one io_uring_rsrc_update during the call; the slot is
        // this thread's, where it names this ring (checked above).
        unsafe {
            self.register_raw(
                IoringRegisterOp::UnregisterRingFds,
                (&update as *const sys::io_uring_rsrc_update).cast(),
                1,
            )
        }?;
        Ok(())
    }

    /// The ring's slot in the calling thread's registered-ring table, if
    /// [`register_ring_fd`](Self::register_ring_fd) was called on this thread (and not
    /// undone): what enters pass with IORING_ENTER_REGISTERED_RING. `None` on other
    /// threads, where enters use the fd.
    pub fn registered_ring_index(&self) -> Option<u32> {
        self.registered
            .filter(|reg| reg.thread == thread_token())
            .map(|reg| reg.index)
    }

    /// Cancels in-flight requests synchronously (IORING_REGISTER_SYNC_CANCEL, Linux 6.0):
    /// the call returns once every request `cancel` matches has been cancelled (its
    /// completion is posted, with `-ECANCELED` or its own result if it finished first),
    /// or the timeout expired ([`RegisterError::TimedOut`]). No SQE is used, so it works
    /// with a full SQ. Nothing matching: [`RegisterError::NotFound`] (with
    /// [`SyncCancel::all`] / [`SyncCancel::any`], the kernel answers success). liburing:
    /// `io_uring_register_sync_cancel`.
    ///
    /// Safe: cancelling only ends requests early, which every request must expect (the
    /// same as the safe [`cancel`](Self::cancel) operation); a descriptor to match is
    /// borrowed for the call, in which the kernel resolves it.
    pub fn register_sync_cancel(&mut self, cancel: &SyncCancel<'_>) -> Result<(), RegisterError> {
        let mut flags = cancel.flags;
        let (addr, fd) = match cancel.target {
            CancelTarget::UserData(u) => (u, 0),
            CancelTarget::Fd(fd) => {
                flags |= sys::IORING_ASYNC_CANCEL_FD;
                (0, fd.as_raw_fd())
            }
            CancelTarget::FixedFd(slot) => {
                flags |= sys::IORING_ASYNC_CANCEL_FD | sys::IORING_ASYNC_CANCEL_FD_FIXED;
                (0, i32::try_from(slot).map_err(|_| RegisterError::Overflow)?)
            }
            CancelTarget::Any => {
                flags |= sys::IORING_ASYNC_CANCEL_ANY;
                (0, 0)
            }
        };
        let opcode = match cancel.opcode {
            Some(op) => {
                flags |= sys::IORING_ASYNC_CANCEL_OP;
                sys::op(op)
            }
            None => 0,
        };
        let timeout = match cancel.timeout {
            // -1/-1: no timeout (the kernel's convention).
            None => __kernel_timespec {
                tv_sec: -1,
                tv_nsec: -1,
            },
            Some(t) => __kernel_timespec {
                tv_sec: i64::try_from(t.as_secs()).map_err(|_| RegisterError::Overflow)?,
                tv_nsec: i64::from(t.subsec_nanos()),
            },
        };
        let reg = sys::io_uring_sync_cancel_reg {
            addr,
            fd,
            flags,
            timeout,
            opcode,
            pad: [0; 7],
            pad2: [0; 3],
        };
        // SAFETY: the kernel reads one io_uring_sync_cancel_reg during the call; a
        // descriptor in it is borrowed for the call and resolved during it.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterSyncCancel,
                (&reg as *const sys::io_uring_sync_cancel_reg).cast(),
                1,
            )
        }?;
        Ok(())
    }

    /// Limits the io-wq worker threads that serve this ring for the calling thread
    /// (IORING_REGISTER_IOWQ_MAX_WORKERS, Linux 5.15): `bounded` for work that finishes in
    /// bounded time (regular files, block devices), `unbounded` for the rest (sockets,
    /// pipes); 0 leaves a limit as it is. Returns the previous limits
    /// `[bounded, unbounded]` (both 0 when the thread has no io-wq yet). With SQPOLL the
    /// limits apply to the SQ thread's workers. liburing:
    /// `io_uring_register_iowq_max_workers` (0/0 reads the limits).
    pub fn register_iowq_max_workers(
        &mut self,
        bounded: u32,
        unbounded: u32,
    ) -> Result<[u32; 2], RegisterError> {
        let mut counts = [bounded, unbounded];
        // SAFETY: the kernel reads two u32 and writes the previous limits back into them
        // during the call; `counts` is exclusively borrowed.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterIowqMaxWorkers,
                counts.as_mut_ptr().cast::<c_void>().cast_const(),
                2,
            )
        }?;
        Ok(counts)
    }

    /// Restricts the io-wq workers of this ring (for the calling thread; with SQPOLL, the
    /// SQ thread's) to the CPUs `cpus` (IORING_REGISTER_IOWQ_AFF, Linux 5.14). CPUs the
    /// thread may not run on are refused by the kernel
    /// ([`RegisterError::ArgumentsInvalid`]); it ignores numbers beyond its CPU count
    /// (and, on Linux 6.18, accepts a set left empty by that: name CPUs that exist). An
    /// empty `cpus` is [`RegisterError::Empty`] and
    /// a CPU number of 2^20 or more [`RegisterError::TooMany`] (checked before any system
    /// call: the bitmap would be megabytes). liburing: `io_uring_register_iowq_aff`
    /// (which takes a `cpu_set_t`).
    pub fn register_iowq_aff(&mut self, cpus: &[usize]) -> Result<(), RegisterError> {
        const MAX_CPU: usize = 1 << 20;
        const BITS: usize = usize::BITS as usize;
        if cpus.is_empty() {
            return Err(RegisterError::Empty);
        }
        let top = cpus.iter().copied().max().unwrap_or(0);
        if top >= MAX_CPU {
            return Err(RegisterError::TooMany);
        }
        // The kernel's cpumask: an array of unsigned long (usize on Linux), CPU n at bit
        // n % BITS of word n / BITS, in any byte order.
        let mut mask = vec![0usize; top / BITS + 1];
        for &cpu in cpus {
            mask[cpu / BITS] |= 1 << (cpu % BITS);
        }
        let len =
            u32::try_from(mask.len() * size_of::<usize>()).map_err(|_| RegisterError::TooMany)?;
        // SAFETY: the kernel copies `len` bytes (at most its cpumask size) of the bitmap
        // during the call.
        unsafe { self.register_raw(IoringRegisterOp::RegisterIowqAff, mask.as_ptr().cast(), len) }?;
        Ok(())
    }

    /// Lifts the restriction of [`register_iowq_aff`](Self::register_iowq_aff)
    /// (IORING_UNREGISTER_IOWQ_AFF, Linux 5.14): workers may run on every CPU the thread
    /// may. liburing: `io_uring_unregister_iowq_aff`.
    pub fn unregister_iowq_aff(&mut self) -> Result<(), RegisterError> {
        // SAFETY: no argument.
        unsafe { self.register_raw(IoringRegisterOp::UnregisterIowqAff, core::ptr::null(), 0) }?;
        Ok(())
    }

    /// Chooses the clock of the ring's wait timeouts
    /// ([`submit_and_wait_timeout`](Self::submit_and_wait_timeout),
    /// [`WaitArgs`](crate::WaitArgs)) (IORING_REGISTER_CLOCK, Linux 6.12): only
    /// `ClockId::Monotonic` (the default) and `ClockId::Boottime` (which also counts
    /// time suspended); any other is [`RegisterError::ArgumentsInvalid`]. Timeout
    /// *operations* keep choosing their clock by their own flags. liburing:
    /// `io_uring_register_clock`.
    pub fn register_clock(&mut self, clock: ClockId) -> Result<(), RegisterError> {
        let reg = sys::io_uring_clock_register {
            clockid: clock as u32,
            __resv: [0; 3],
        };
        // SAFETY: the kernel reads one io_uring_clock_register during the call.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterClock,
                (&reg as *const sys::io_uring_clock_register).cast(),
                0,
            )
        }?;
        Ok(())
    }

    /// Makes this ring's registered-buffer table (slots `dst_off..dst_off + nr`) refer
    /// to the buffers registered in `src`'s table (slots `src_off..src_off + nr`),
    /// without pinning them again (IORING_REGISTER_CLONE_BUFFERS, Linux 6.12; offsets,
    /// 6.13). `nr == 0` clones the whole source table (offsets 0). Without `replace` this
    /// ring must have no buffer table yet (else [`RegisterError::AlreadyRegistered`]);
    /// with it (IORING_REGISTER_DST_REPLACE) the slots are replaced in an existing or new
    /// table. liburing: `io_uring_clone_buffers_offset` (`io_uring_clone_buffers` is
    /// `nr == 0`, offsets 0, no replace).
    ///
    /// A ring a [`Driver`](crate::zc::Driver) owns, on either side, is refused
    /// ([`RegisterError::OwnedBySafeLayer`], before any system call): its table holds its
    /// pools' memory, which no other ring may reach and which nothing else may replace.
    ///
    /// # Safety
    ///
    /// Afterwards both rings' tables name the same memory: it must stay valid (and not
    /// otherwise borrowed while a fixed read writes into it) as long as *either* table
    /// refers to it and fixed requests through either ring may use it, as
    /// [`register_buffers`](Self::register_buffers) requires of the source's owner; the
    /// kernel keeps the pages pinned, not the memory allocated. With `replace`, as for
    /// [`register_buffers_update`](Self::register_buffers_update), no request in flight
    /// or queued on this ring may rely on the replaced slots.
    pub unsafe fn register_clone_buffers(
        &mut self,
        src: &IoUring,
        dst_off: u32,
        src_off: u32,
        nr: u32,
        replace: bool,
    ) -> Result<(), RegisterError> {
        if self.owned_by_safe_layer() || src.owned_by_safe_layer() {
            return Err(RegisterError::OwnedBySafeLayer);
        }
        let flags = if replace {
            sys::IORING_REGISTER_DST_REPLACE as u32
        } else {
            0
        };
        let reg = sys::io_uring_clone_buffers {
            src_fd: src.fd() as u32,
            flags,
            src_off,
            dst_off,
            nr,
            pad: [0; 3],
        };
        // SAFETY: the kernel reads one io_uring_clone_buffers during the call; `src_fd` is
        // a ring borrowed for the call. Keeping the shared memory valid is the caller's
        // contract.
        unsafe {
            self.register_raw(
                IoringRegisterOp::RegisterCloneBuffers,
                (&reg as *const sys::io_uring_clone_buffers).cast(),
                1,
            )
        }?;
        Ok(())
    }
}

/// What the running kernel supports, from IORING_REGISTER_PROBE.
#[derive(Debug, Clone)]
pub struct Probe {
    last_op: u8,
    supported: [bool; 256],
}

impl Probe {
    /// The highest opcode the kernel knows.
    pub fn last_op(&self) -> u8 {
        self.last_op
    }

    /// Whether the kernel supports `op`. Zig / liburing: `is_supported` /
    /// `io_uring_opcode_supported`.
    pub fn is_supported(&self, op: io_uring_op) -> bool {
        self.supported[usize::from(sys::op(op))]
    }

    /// Whether the kernel supports the opcode with this number.
    pub fn is_supported_raw(&self, op: u8) -> bool {
        self.supported[usize::from(op)]
    }
}

/// The descriptor numbers of a file table: `None` is `-1`, an empty slot.
fn raw_fds(fds: &[Option<BorrowedFd<'_>>]) -> Vec<RawFd> {
    fds.iter()
        .map(|fd| fd.map_or(-1, |fd| fd.as_raw_fd()))
        .collect()
}

/// An `io_uring_rsrc_register` for a sparse table of `nr` slots.
fn sparse_rsrc(nr: u32) -> sys::io_uring_rsrc_register {
    sys::io_uring_rsrc_register {
        nr,
        flags: sys::IORING_RSRC_REGISTER_SPARSE,
        resv2: 0,
        data: 0,
        tags: 0,
    }
}

/// What [`IoUring::register_sync_cancel`] cancels: requests matching `target` (and, if
/// set, the opcode), the first or every one, waiting at most `timeout`.
#[derive(Debug, Clone, Copy)]
pub struct SyncCancel<'fd> {
    target: CancelTarget<'fd>,
    flags: u32,
    opcode: Option<io_uring_op>,
    timeout: Option<Duration>,
}

/// Which requests a [`SyncCancel`] matches.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum CancelTarget<'fd> {
    /// The request with this user_data (IORING_ASYNC_CANCEL_USERDATA, the default).
    UserData(u64),
    /// Requests on this file (IORING_ASYNC_CANCEL_FD), resolved during the call.
    Fd(BorrowedFd<'fd>),
    /// Requests on the file in this slot of the registered-file table
    /// (IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_FD_FIXED).
    FixedFd(u32),
    /// Any request (IORING_ASYNC_CANCEL_ANY): with [`SyncCancel::all`], every one.
    Any,
}

impl<'fd> SyncCancel<'fd> {
    /// Cancels the first request matching `target`, waiting without limit.
    pub fn new(target: CancelTarget<'fd>) -> SyncCancel<'fd> {
        SyncCancel {
            target,
            flags: 0,
            opcode: None,
            timeout: None,
        }
    }

    /// Every request (IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL).
    pub fn any() -> SyncCancel<'fd> {
        SyncCancel::new(CancelTarget::Any).all()
    }

    /// Every matching request, not only the first (IORING_ASYNC_CANCEL_ALL).
    pub fn all(mut self) -> SyncCancel<'fd> {
        self.flags |= sys::IORING_ASYNC_CANCEL_ALL;
        self
    }

    /// Only requests of this opcode (IORING_ASYNC_CANCEL_OP, Linux 6.6); with
    /// [`CancelTarget::UserData`] the user_data must match too.
    pub fn opcode(mut self, op: io_uring_op) -> SyncCancel<'fd> {
        self.opcode = Some(op);
        if matches!(self.target, CancelTarget::UserData(_)) {
            self.flags |= sys::IORING_ASYNC_CANCEL_USERDATA;
        }
        self
    }

    /// Gives up after `timeout` ([`RegisterError::TimedOut`]) if matching requests are
    /// still running (already started work that cannot be interrupted at once). A
    /// timeout whose seconds do not fit an `i64` is [`RegisterError::Overflow`].
    pub fn timeout(mut self, timeout: Duration) -> SyncCancel<'fd> {
        self.timeout = Some(timeout);
        self
    }
}

/// One rule of [`IoUring::register_restrictions`] (the kernel's `io_uring_restriction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Restriction {
    /// Allows this `io_uring_register` opcode (IORING_RESTRICTION_REGISTER_OP).
    RegisterOp(IoringRegisterOp),
    /// Allows this SQE opcode (IORING_RESTRICTION_SQE_OP).
    SqeOp(io_uring_op),
    /// The SQE flags (`IOSQE_*`) an SQE may carry (IORING_RESTRICTION_SQE_FLAGS_ALLOWED);
    /// without this rule, none.
    SqeFlagsAllowed(u8),
    /// The SQE flags every SQE must carry (IORING_RESTRICTION_SQE_FLAGS_REQUIRED).
    SqeFlagsRequired(u8),
}

impl Restriction {
    fn to_raw(self) -> sys::io_uring_restriction {
        use sys::raw::io_uring_register_restriction_op as op;
        use sys::raw::io_uring_restriction__bindgen_ty_1 as Arg;
        let (opcode, arg) = match self {
            Restriction::RegisterOp(o) => (
                op::IORING_RESTRICTION_REGISTER_OP,
                Arg {
                    register_op: o as u8,
                },
            ),
            Restriction::SqeOp(o) => (op::IORING_RESTRICTION_SQE_OP, Arg { sqe_op: sys::op(o) }),
            Restriction::SqeFlagsAllowed(f) => (
                op::IORING_RESTRICTION_SQE_FLAGS_ALLOWED,
                Arg { sqe_flags: f },
            ),
            Restriction::SqeFlagsRequired(f) => (
                op::IORING_RESTRICTION_SQE_FLAGS_REQUIRED,
                Arg { sqe_flags: f },
            ),
        };
        sys::io_uring_restriction {
            opcode: opcode as u16,
            __bindgen_anon_1: arg,
            resv: 0,
            resv2: [0; 3],
        }
    }
}
