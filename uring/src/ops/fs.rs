//! Files and paths: entries of the opcode table (the [`ops!`](super)
//! macro writes each entry's `Sqe::prep_*` and `IoUring` method).

use core::ffi::{c_void, CStr};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::RawFd;

use crate::sys::{self, io_uring_op as Op, IoringFixedFdFlags};
use crate::types::{OpenHow, Statx};
use rustix::fs::{AtFlags, FallocateFlags, Mode, OFlags, RenameFlags, StatxFlags, XattrFlags};
use rustix::io::ReadWriteFlags;
use rustix::pipe::PipeFlags;

ops! {
    /// `openat(2)` of `path` relative to `dir_fd`
    /// (`AT_FDCWD` for the working directory) with `O_*` `flags` and `mode`; the CQE's
    /// `res` is the new fd.
    fn openat = prep_openat(dir_fd: RawFd, path: &CStr, flags: OFlags, mode: Mode) {
        opcode: IORING_OP_OPENAT, linux: "5.6", liburing: "io_uring_prep_openat", zig: "openat",
        safety: {
            /// `path` must stay valid until the completion has been reaped (the kernel copies it
            /// when it consumes the SQE, which on an SQPOLL ring may be after `submit` returned:
            /// the completion is what tells the caller it happened).
            ///
            /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_OPENAT,
                dir_fd,
                path.as_ptr() as u64,
                mode.bits() as usize,
                0,
            );
            sqe.rw_flags = flags.bits();
        },
    }

    /// `openat(2)` into slot `file_index` of the registered file table (Linux 5.15; CQE `res` 0),
    /// or a free slot with [`FILE_INDEX_ALLOC`](crate::FILE_INDEX_ALLOC) (Linux 5.19; `res` is the
    /// slot).
    fn openat_direct = prep_openat_direct(
        dir_fd: RawFd,
        path: &CStr,
        flags: OFlags,
        mode: Mode,
        file_index: u32,
    ) {
        opcode: IORING_OP_OPENAT, linux: "5.15", liburing: "io_uring_prep_openat_direct",
        zig: "openat_direct",
        safety: {
            /// As for [`openat`](Self::openat).
            ///
            /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_openat(dir_fd, path, flags, mode);
            sqe.set_target_fixed_file(file_index);
        },
    }

    /// `openat2(2)` of `path` with `how`.
    fn openat2 = prep_openat2(dir_fd: RawFd, path: &CStr, how: &OpenHow) {
        opcode: IORING_OP_OPENAT2, linux: "5.6", liburing: "io_uring_prep_openat2",
        safety: {
            /// `path` and `how` must stay valid until the completion has been reaped (the kernel
            /// copies them when it consumes the SQE, which on an SQPOLL ring may be after `submit`
            /// returned: the completion is what tells the caller it happened).
            ///
            /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_OPENAT2,
                dir_fd,
                path.as_ptr() as u64,
                core::mem::size_of::<OpenHow>(),
                how as *const OpenHow as u64,
            );
        },
    }

    /// `openat2(2)` into the registered file table (Linux 5.15), like
    /// [`prep_openat_direct`](Self::prep_openat_direct).
    fn openat2_direct = prep_openat2_direct(
        dir_fd: RawFd,
        path: &CStr,
        how: &OpenHow,
        file_index: u32,
    ) {
        opcode: IORING_OP_OPENAT2, linux: "5.15", liburing: "io_uring_prep_openat2_direct",
        safety: {
            /// As for [`openat2`](Self::openat2).
            ///
            /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_openat2(dir_fd, path, how);
            sqe.set_target_fixed_file(file_index);
        },
    }

    /// `close(2)` of `fd`.
    fn close = prep_close(fd: RawFd) {
        opcode: IORING_OP_CLOSE, linux: "5.6", liburing: "io_uring_prep_close", zig: "close",
        safety: {
            /// The caller must own `fd` and give up that ownership: nothing else (an `OwnedFd`, a
            /// `File`, another request in flight) may use or close this descriptor number again,
            /// as the number may be reused by the next file opened anywhere in the process.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_CLOSE, fd, 0, 0, 0);
        },
    }

    /// `IORING_OP_CLOSE` of slot `file_index` of the registered file table (Linux 5.15).
    ///
    /// Safe: the table belongs to this ring.
    fn close_direct = prep_close_direct(file_index: u32) {
        opcode: IORING_OP_CLOSE, linux: "5.15", liburing: "io_uring_prep_close_direct",
        zig: "close_direct",
        check: check_file_table,
        safety: safe,
        prep: |sqe| {
            sqe.prep_close(0);
            sqe.set_target_fixed_file(file_index);
        },
    }

    /// Replace registered files from slot `offset`
    /// on with `fds` (`-1` clears a slot), as a request; `res` is the number updated.
    fn files_update = prep_files_update(fds: &[RawFd], offset: u32) {
        opcode: IORING_OP_FILES_UPDATE, linux: "5.6", liburing: "io_uring_prep_files_update",
        zig: "files_update",
        safety: {
            /// `fds` must stay valid until the completion has been reaped, and each descriptor in
            /// it (other than `-1`) must be open when the kernel issues the request and refer to
            /// the intended file (the table takes its own reference then): the [descriptor
            /// contract](crate::ops#descriptors). And, as for
            /// [`register_files_update`](Self::register_files_update), no request in flight or
            /// queued may rely on the slots replaced.
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_FILES_UPDATE,
                -1,
                fds.as_ptr() as u64,
                fds.len(),
                u64::from(offset),
            );
        },
    }

    /// `statx(2)` of `path` relative to `dir_fd`, `AT_*`
    /// `flags`, `STATX_*` `mask`, into `buf`.
    fn statx = prep_statx(
        dir_fd: RawFd,
        path: &CStr,
        flags: AtFlags,
        mask: StatxFlags,
        buf: &mut Statx,
    ) {
        opcode: IORING_OP_STATX, linux: "5.6", liburing: "io_uring_prep_statx", zig: "statx",
        safety: {
            /// `path` must stay valid until the completion has been reaped (copied when the kernel
            /// consumes the SQE, on an SQPOLL ring possibly after `submit` returned);
            /// `buf` must stay valid, and not be accessed through other references, until the
            /// completion has been reaped (the kernel writes it).
            ///
            /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_STATX,
                dir_fd,
                path.as_ptr() as u64,
                mask.bits() as usize,
                buf as *mut Statx as u64,
            );
            sqe.rw_flags = flags.bits();
        },
    }

    /// `fallocate(2)` of `len` bytes at `offset` with
    /// `FALLOC_FL_*` `mode`.
    fn fallocate = prep_fallocate(fd: RawFd, mode: FallocateFlags, offset: u64, len: u64) {
        opcode: IORING_OP_FALLOCATE, linux: "5.6", liburing: "io_uring_prep_fallocate",
        zig: "fallocate",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            // The length goes in addr and the mode in len.
            sqe.prep_rw(Op::IORING_OP_FALLOCATE, fd, len, 0, offset);
            sqe.len = mode.bits();
        },
    }

    /// `posix_fadvise(2)` of `len` bytes at `offset`
    /// with `POSIX_FADV_*` `advice` (`len` 0: to the end of the file). A `len` above
    /// `u32::MAX` travels in `addr`, with the 32-bit `len` field 0 (Linux 6.11 reads it
    /// there; older kernels refuse a non-zero `addr` with `EINVAL`, never truncate).
    /// liburing: `io_uring_prep_fadvise` / `io_uring_prep_fadvise64` (Zig: `fadvice`).
    ///
    /// A `len` above `u32::MAX` needs Linux 6.11 (older kernels answer `EINVAL`).
    fn fadvise = prep_fadvise(fd: RawFd, offset: u64, len: u64, advice: u32) {
        opcode: IORING_OP_FADVISE, linux: "5.6", liburing: "io_uring_prep_fadvise", zig: "fadvice",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            match u32::try_from(len) {
                Ok(len32) => sqe.prep_rw(Op::IORING_OP_FADVISE, fd, 0, len32 as usize, offset),
                Err(_) => sqe.prep_rw(Op::IORING_OP_FADVISE, fd, len, 0, offset),
            }
            sqe.rw_flags = advice;
        },
    }

    /// `madvise(2)` of `length` bytes at `addr` with
    /// `MADV_*` `advice`. A `length` above `u32::MAX` travels in `off`, with the 32-bit
    /// `len` field 0 (Linux 6.11 reads it there; older kernels refuse a non-zero `off`
    /// with `EINVAL`, never truncate). liburing: `io_uring_prep_madvise` /
    /// `io_uring_prep_madvise64` (Zig: `madvice`).
    ///
    /// A `length` of 4 GiB or more needs Linux 6.11 (older kernels answer `EINVAL`, never act on a
    /// truncated length).
    fn madvise = prep_madvise(addr: *mut c_void, length: usize, advice: u32) {
        opcode: IORING_OP_MADVISE, linux: "5.6", liburing: "io_uring_prep_madvise", zig: "madvice",
        safety: {
            /// The advice acts on the caller's memory: everything that `madvise(2)` with `advice`
            /// on this range would do must be sound (e.g. `MADV_DONTNEED` zero-fills private
            /// anonymous pages, so no live Rust value may rely on their contents), and the range
            /// must stay mapped until the completion.
        },
        prep: |sqe| {
            match u32::try_from(length) {
                Ok(_) => sqe.prep_rw(Op::IORING_OP_MADVISE, -1, addr as u64, length, 0),
                Err(_) => sqe.prep_rw(Op::IORING_OP_MADVISE, -1, addr as u64, 0, length as u64),
            }
            sqe.rw_flags = advice;
        },
    }

    /// `renameat2(2)` of `old_path` (relative to
    /// `old_dir_fd`) to `new_path` (relative to `new_dir_fd`), `RENAME_*` `flags`.
    fn renameat = prep_renameat(
        old_dir_fd: RawFd,
        old_path: &CStr,
        new_dir_fd: RawFd,
        new_path: &CStr,
        flags: RenameFlags,
    ) {
        opcode: IORING_OP_RENAMEAT, linux: "5.11", liburing: "io_uring_prep_renameat",
        zig: "renameat",
        safety: {
            /// Both paths must stay valid until the completion has been reaped (the kernel copies
            /// them when it consumes the SQE, which on an SQPOLL ring may be after `submit`
            /// returned: the completion is what tells the caller it happened).
            ///
            /// `old_dir_fd` and `new_dir_fd` follow the [descriptor
            /// contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_RENAMEAT,
                old_dir_fd,
                old_path.as_ptr() as u64,
                0,
                new_path.as_ptr() as u64,
            );
            // The second directory fd travels in len.
            sqe.len = new_dir_fd as u32;
            sqe.rw_flags = flags.bits();
        },
    }

    /// `unlinkat(2)` of `path` relative to `dir_fd`
    /// (`AT_REMOVEDIR` in `flags` for a directory).
    fn unlinkat = prep_unlinkat(dir_fd: RawFd, path: &CStr, flags: AtFlags) {
        opcode: IORING_OP_UNLINKAT, linux: "5.11", liburing: "io_uring_prep_unlinkat",
        zig: "unlinkat",
        safety: {
            /// `path` must stay valid until the completion has been reaped (the kernel copies it
            /// when it consumes the SQE, which on an SQPOLL ring may be after `submit` returned:
            /// the completion is what tells the caller it happened).
            ///
            /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_UNLINKAT, dir_fd, path.as_ptr() as u64, 0, 0);
            sqe.rw_flags = flags.bits();
        },
    }

    /// `mkdirat(2)` of `path` relative to `dir_fd` with
    /// `mode`.
    fn mkdirat = prep_mkdirat(dir_fd: RawFd, path: &CStr, mode: Mode) {
        opcode: IORING_OP_MKDIRAT, linux: "5.15", liburing: "io_uring_prep_mkdirat", zig: "mkdirat",
        safety: {
            /// `path` must stay valid until the completion has been reaped (the kernel copies it
            /// when it consumes the SQE, which on an SQPOLL ring may be after `submit` returned:
            /// the completion is what tells the caller it happened).
            ///
            /// `dir_fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_MKDIRAT,
                dir_fd,
                path.as_ptr() as u64,
                mode.bits() as usize,
                0,
            );
        },
    }

    /// `symlinkat(2)`: create `link_path` (relative
    /// to `new_dir_fd`) pointing to `target`.
    fn symlinkat = prep_symlinkat(target: &CStr, new_dir_fd: RawFd, link_path: &CStr) {
        opcode: IORING_OP_SYMLINKAT, linux: "5.15", liburing: "io_uring_prep_symlinkat",
        zig: "symlinkat",
        safety: {
            /// Both paths must stay valid until the completion has been reaped (the kernel copies
            /// them when it consumes the SQE, which on an SQPOLL ring may be after `submit`
            /// returned: the completion is what tells the caller it happened).
            ///
            /// `new_dir_fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_SYMLINKAT,
                new_dir_fd,
                target.as_ptr() as u64,
                0,
                link_path.as_ptr() as u64,
            );
        },
    }

    /// `linkat(2)` of `old_path` to `new_path`, `AT_*`
    /// `flags`.
    fn linkat = prep_linkat(
        old_dir_fd: RawFd,
        old_path: &CStr,
        new_dir_fd: RawFd,
        new_path: &CStr,
        flags: AtFlags,
    ) {
        opcode: IORING_OP_LINKAT, linux: "5.15", liburing: "io_uring_prep_linkat", zig: "linkat",
        safety: {
            /// Both paths must stay valid until the completion has been reaped (the kernel copies
            /// them when it consumes the SQE, which on an SQPOLL ring may be after `submit`
            /// returned: the completion is what tells the caller it happened).
            ///
            /// `old_dir_fd` and `new_dir_fd` follow the [descriptor
            /// contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_LINKAT,
                old_dir_fd,
                old_path.as_ptr() as u64,
                0,
                new_path.as_ptr() as u64,
            );
            sqe.len = new_dir_fd as u32;
            sqe.rw_flags = flags.bits();
        },
    }

    /// `IORING_OP_READV` with `RWF_*` `flags` (Linux 5.1): `preadv2(2)`.
    fn readv2 = prep_readv2(
        fd: RawFd,
        iovecs: &[IoSliceMut<'_>],
        offset: u64,
        flags: ReadWriteFlags,
    ) {
        opcode: IORING_OP_READV, linux: "5.1", liburing: "io_uring_prep_readv2",
        safety: {
            /// As for [`read`](Self::read) with [`ReadBuffer::Iovecs`](crate::ReadBuffer::Iovecs).
        },
        prep: |sqe| {
            sqe.prep_readv(fd, iovecs, offset);
            sqe.rw_flags = flags.bits();
        },
    }

    /// `IORING_OP_WRITEV` with `RWF_*` `flags` (Linux 5.1): `pwritev2(2)`.
    fn writev2 = prep_writev2(
        fd: RawFd,
        iovecs: &[IoSlice<'_>],
        offset: u64,
        flags: ReadWriteFlags,
    ) {
        opcode: IORING_OP_WRITEV, linux: "5.1", liburing: "io_uring_prep_writev2",
        safety: {
            /// As for [`writev`](Self::writev).
        },
        prep: |sqe| {
            sqe.prep_writev(fd, iovecs, offset);
            sqe.rw_flags = flags.bits();
        },
    }

    /// `sync_file_range(2)` of `len` bytes (0: to
    /// the end) at `offset`, `SYNC_FILE_RANGE_*` `flags`.
    fn sync_file_range = prep_sync_file_range(fd: RawFd, len: u32, offset: u64, flags: u32) {
        opcode: IORING_OP_SYNC_FILE_RANGE, linux: "5.2", liburing: "io_uring_prep_sync_file_range",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_SYNC_FILE_RANGE, fd, 0, len as usize, offset);
            sqe.rw_flags = flags;
        },
    }

    /// `ftruncate(2)` of `fd` to `len` bytes.
    fn ftruncate = prep_ftruncate(fd: RawFd, len: u64) {
        opcode: IORING_OP_FTRUNCATE, linux: "6.9", liburing: "io_uring_prep_ftruncate",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_FTRUNCATE, fd, 0, 0, len);
        },
    }

    /// Install the file of slot `file_index` of
    /// the registered file table as a normal descriptor, returned in `res` (close-on-exec
    /// unless `IORING_FIXED_FD_NO_CLOEXEC` is in `flags`). The kernel requires
    /// `IOSQE_FIXED_FILE`, which this sets.
    ///
    /// The slot keeps its file.  **The new descriptor belongs to whoever reaps the completion**:
    /// take ownership with [`Cqe::into_owned_fd`](crate::Cqe::into_owned_fd) (unsafe only because a
    /// `Cqe` can be built by anyone: do it once, for the completion of this request). Not reaping
    /// it leaks it, as with any descriptor-creating request. Safe: it only reads this ring's table
    /// and creates a descriptor nobody else has. On a ring whose table belongs to its safe layer
    /// ([`is_file_table_reserved`](crate::IoUring::is_file_table_reserved)) it is refused with
    /// [`SqeError::ReservedFileTable`](crate::SqeError::ReservedFileTable): those sockets are the
    /// driver's.
    fn fixed_fd_install = prep_fixed_fd_install(file_index: u32, flags: IoringFixedFdFlags) {
        opcode: IORING_OP_FIXED_FD_INSTALL, linux: "6.8",
        liburing: "io_uring_prep_fixed_fd_install",
        check: check_file_table,
        safety: safe,
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_FIXED_FD_INSTALL, file_index as i32, 0, 0, 0);
            sqe.flags = sys::IOSQE_FIXED_FILE;
            sqe.rw_flags = flags.bits();
        },
    }

    /// `pipe2(2)` with `O_*` `pipe_flags`; the kernel writes
    /// the read and write ends' fds to `fds`.
    fn pipe = prep_pipe(fds: &mut [RawFd; 2], pipe_flags: PipeFlags) {
        opcode: IORING_OP_PIPE, linux: "6.16", liburing: "io_uring_prep_pipe",
        safety: {
            /// `fds` must stay valid, and not be accessed through other references, until the
            /// completion has been reaped.
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_PIPE, 0, fds.as_mut_ptr() as u64, 0, 0);
            sqe.rw_flags = pipe_flags.bits();
        },
    }

    /// `IORING_OP_PIPE` into the registered file table (Linux 6.16): the two ends go to slots
    /// `file_index` and `file_index + 1`, or with [`FILE_INDEX_ALLOC`](crate::FILE_INDEX_ALLOC) to
    /// two free slots; the kernel writes the slots to `fds`.
    ///
    /// Refused with [`SqeError::ReservedFileTable`](crate::SqeError::ReservedFileTable) on a ring
    /// whose table is its safe layer's.
    fn pipe_direct = prep_pipe_direct(
        fds: &mut [RawFd; 2],
        pipe_flags: PipeFlags,
        file_index: u32,
    ) {
        opcode: IORING_OP_PIPE, linux: "6.16", liburing: "io_uring_prep_pipe_direct",
        check: check_file_table,
        safety: {
            /// As for [`pipe`](Self::pipe); and slots `file_index`, `file_index + 1` must not hold
            /// files other requests rely on.
        },
        prep: |sqe| {
            sqe.prep_pipe(fds, pipe_flags);
            sqe.set_target_fixed_file(file_index);
        },
    }

    /// `fgetxattr(2)` of attribute `name` of `fd` into
    /// `value`; `res` is the attribute's length.
    fn fgetxattr = prep_fgetxattr(fd: RawFd, name: &CStr, value: &mut [u8]) {
        opcode: IORING_OP_FGETXATTR, linux: "5.19", liburing: "io_uring_prep_fgetxattr",
        safety: {
            /// `name` and `value` must stay valid, and `value` not be accessed through other
            /// references, until the completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_FGETXATTR,
                fd,
                name.as_ptr() as u64,
                value.len(),
                value.as_mut_ptr() as u64,
            );
        },
    }

    /// `fsetxattr(2)` of attribute `name` of `fd` to
    /// `value`, `XATTR_*` `flags`.
    fn fsetxattr = prep_fsetxattr(fd: RawFd, name: &CStr, value: &[u8], flags: XattrFlags) {
        opcode: IORING_OP_FSETXATTR, linux: "5.19", liburing: "io_uring_prep_fsetxattr",
        safety: {
            /// `name` and `value` must stay valid until the completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_FSETXATTR,
                fd,
                name.as_ptr() as u64,
                value.len(),
                value.as_ptr() as u64,
            );
            sqe.rw_flags = flags.bits();
        },
    }

    /// `getxattr(2)` of attribute `name` of the file at
    /// `path` into `value`; `res` is the attribute's length.
    fn getxattr = prep_getxattr(name: &CStr, value: &mut [u8], path: &CStr) {
        opcode: IORING_OP_GETXATTR, linux: "5.19", liburing: "io_uring_prep_getxattr",
        safety: {
            /// `name`, `path` and `value` must stay valid, and `value` not be accessed through
            /// other references, until the completion has been reaped.
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_GETXATTR,
                0,
                name.as_ptr() as u64,
                value.len(),
                value.as_mut_ptr() as u64,
            );
            sqe.addr3 = path.as_ptr() as u64;
        },
    }

    /// `setxattr(2)` of attribute `name` of the file at
    /// `path` to `value`, `XATTR_*` `flags`.
    fn setxattr = prep_setxattr(name: &CStr, value: &[u8], path: &CStr, flags: XattrFlags) {
        opcode: IORING_OP_SETXATTR, linux: "5.19", liburing: "io_uring_prep_setxattr",
        safety: {
            /// `name`, `path` and `value` must stay valid until the completion has been reaped.
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_SETXATTR,
                0,
                name.as_ptr() as u64,
                value.len(),
                value.as_ptr() as u64,
            );
            sqe.addr3 = path.as_ptr() as u64;
            sqe.rw_flags = flags.bits();
        },
    }

    /// [`prep_unlinkat`](Self::prep_unlinkat) relative to the working directory.
    fn unlink = prep_unlink(path: &CStr, flags: AtFlags) {
        opcode: IORING_OP_UNLINKAT, linux: "5.11", liburing: "io_uring_prep_unlink",
        safety: {
            /// As for [`unlinkat`](Self::unlinkat).
        },
        prep: |sqe| {
            sqe.prep_unlinkat(linux_raw_sys::general::AT_FDCWD, path, flags);
        },
    }

    /// [`prep_renameat`](Self::prep_renameat) of two paths relative to the working
    /// directory, without flags.
    fn rename = prep_rename(old_path: &CStr, new_path: &CStr) {
        opcode: IORING_OP_RENAMEAT, linux: "5.11", liburing: "io_uring_prep_rename",
        safety: {
            /// As for [`renameat`](Self::renameat).
        },
        prep: |sqe| {
            let cwd = linux_raw_sys::general::AT_FDCWD;
            sqe.prep_renameat(cwd, old_path, cwd, new_path, RenameFlags::empty());
        },
    }

    /// [`prep_mkdirat`](Self::prep_mkdirat) relative to the working directory.
    fn mkdir = prep_mkdir(path: &CStr, mode: Mode) {
        opcode: IORING_OP_MKDIRAT, linux: "5.15", liburing: "io_uring_prep_mkdir",
        safety: {
            /// As for [`mkdirat`](Self::mkdirat).
        },
        prep: |sqe| {
            sqe.prep_mkdirat(linux_raw_sys::general::AT_FDCWD, path, mode);
        },
    }

    /// [`prep_symlinkat`](Self::prep_symlinkat) with `link_path` relative to the working
    /// directory.
    fn symlink = prep_symlink(target: &CStr, link_path: &CStr) {
        opcode: IORING_OP_SYMLINKAT, linux: "5.15", liburing: "io_uring_prep_symlink",
        safety: {
            /// As for [`symlinkat`](Self::symlinkat).
        },
        prep: |sqe| {
            sqe.prep_symlinkat(target, linux_raw_sys::general::AT_FDCWD, link_path);
        },
    }

    /// [`prep_linkat`](Self::prep_linkat) of two paths relative to the working directory.
    fn link = prep_link(old_path: &CStr, new_path: &CStr, flags: AtFlags) {
        opcode: IORING_OP_LINKAT, linux: "5.15", liburing: "io_uring_prep_link",
        safety: {
            /// As for [`linkat`](Self::linkat).
        },
        prep: |sqe| {
            let cwd = linux_raw_sys::general::AT_FDCWD;
            sqe.prep_linkat(cwd, old_path, cwd, new_path, flags);
        },
    }
}
