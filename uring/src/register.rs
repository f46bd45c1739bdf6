//! `io_uring_register(2)`: registered files and buffers, eventfd, the opcode probe.
//!
//! Registering memory hands it to the kernel beyond any Rust borrow (fixed-buffer
//! operations read and write it later), so buffer registration is `unsafe` with the
//! contract in `# Safety`; the safe layer's buffer pool owns its memory instead.

use core::ffi::c_void;
use std::os::fd::RawFd;

pub use linux_raw_sys::general::iovec;
use rustix::io_uring::{io_uring_register, IoringRegisterOp};

use crate::error::RegisterError;
use crate::ring::IoUring;
use crate::sys::{self, io_uring_op};

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
        // SAFETY: forwarded to the caller's contract; the fd is our ring.
        unsafe { io_uring_register(self.borrowed_fd(), op, arg, nr_args) }
            .map_err(RegisterError::from_errno)
    }

    /// Registers a table of files (Linux 5.1): SQEs with `IOSQE_FIXED_FILE` then name a
    /// file by its index, saving the fd lookup per request. `-1` entries are empty slots
    /// (Linux 5.5). Zig: `register_files`; liburing: `io_uring_register_files`.
    pub fn register_files(&mut self, fds: &[RawFd]) -> Result<(), RegisterError> {
        if fds.is_empty() {
            return Err(RegisterError::Empty);
        }
        let nr = u32::try_from(fds.len()).map_err(|_| RegisterError::TooMany)?;
        // SAFETY: the kernel copies `nr` i32s out of `fds` during the call.
        unsafe { self.register_raw(IoringRegisterOp::RegisterFiles, fds.as_ptr().cast(), nr) }?;
        Ok(())
    }

    /// Replaces registered files from index `offset` on with `fds` (`-1` clears a slot),
    /// Linux 5.5. Returns how many slots were updated. Zig: `register_files_update`;
    /// liburing: `io_uring_register_files_update`.
    pub fn register_files_update(
        &mut self,
        offset: u32,
        fds: &[RawFd],
    ) -> Result<u32, RegisterError> {
        let nr = u32::try_from(fds.len()).map_err(|_| RegisterError::TooMany)?;
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
    pub fn unregister_files(&mut self) -> Result<(), RegisterError> {
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
    /// [`unregister_buffers`](Self::unregister_buffers) returns or the ring is dropped and its in-flight fixed
    /// requests have completed.
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

    /// Unregisters all buffers (Linux 5.1). Zig: `unregister_buffers`.
    pub fn unregister_buffers(&mut self) -> Result<(), RegisterError> {
        // SAFETY: no argument.
        unsafe { self.register_raw(IoringRegisterOp::UnregisterBuffers, core::ptr::null(), 0) }?;
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
