//! Provided buffers and processes: entries of the opcode table (the [`ops!`](super)
//! macro writes each entry's `Sqe::prep_*` and `IoUring` method).

use crate::sys::io_uring_op as Op;
use crate::types::{IdType, SigInfo};

ops! {
    /// Hand `buffers_count` buffers of
    /// `buffer_size` bytes, contiguous from `buffers`, to group `group_id`, with ids
    /// `buffer_id`, `buffer_id + 1`, …; requests with `IOSQE_BUFFER_SELECT` then pick
    /// from the group.
    ///
    /// Reads and receives with buffer selection then pick from the group; each buffer is consumed
    /// by one completion (its id in the CQE) and must be provided again to be reused.
    fn provide_buffers = prep_provide_buffers(
        buffers: *mut u8,
        buffer_size: u32,
        buffers_count: u32,
        group_id: u16,
        buffer_id: u16,
    ) {
        opcode: IORING_OP_PROVIDE_BUFFERS, linux: "5.7", liburing: "io_uring_prep_provide_buffers",
        zig: "provide_buffers",
        safety: {
            /// The `buffer_size * buffers_count` bytes from `buffers` must stay valid, and not be
            /// accessed through other references, as long as the kernel may write them: until
            /// each buffer has come back in a completion, or has been taken back with
            /// [`remove_buffers`](Self::remove_buffers), or the ring is gone.
        },
        prep: |sqe| {
            // A count above i32::MAX is clamped; the kernel refuses anything above 65536.
            let count = i32::try_from(buffers_count).unwrap_or(i32::MAX);
            sqe.prep_rw(
                Op::IORING_OP_PROVIDE_BUFFERS,
                count,
                buffers as u64,
                buffer_size as usize,
                u64::from(buffer_id),
            );
            sqe.buf_index = group_id;
        },
    }

    /// Take up to `buffers_count` unused buffers
    /// out of group `group_id`; `res` is how many were removed.
    fn remove_buffers = prep_remove_buffers(buffers_count: u32, group_id: u16) {
        opcode: IORING_OP_REMOVE_BUFFERS, linux: "5.7", liburing: "io_uring_prep_remove_buffers",
        zig: "remove_buffers",
        safety: safe,
        prep: |sqe| {
            let count = i32::try_from(buffers_count).unwrap_or(i32::MAX);
            sqe.prep_rw(Op::IORING_OP_REMOVE_BUFFERS, count, 0, 0, 0);
            sqe.buf_index = group_id;
        },
    }

    /// `waitid(2)` for `id_type`/`id` with `W*`
    /// `options`, writing `infop`. `flags` must be 0.
    fn waitid = prep_waitid(
        id_type: IdType,
        id: i32,
        infop: &mut SigInfo,
        options: u32,
        flags: u32,
    ) {
        opcode: IORING_OP_WAITID, linux: "6.7", liburing: "io_uring_prep_waitid", zig: "waitid",
        safety: {
            /// `infop` must stay valid, and not be accessed through other references, until the
            /// completion has been reaped.
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_WAITID,
                id,
                0,
                id_type as usize,
                infop as *mut SigInfo as u64,
            );
            sqe.rw_flags = flags;
            // The options travel in the file_index member.
            sqe.splice_fd_in = options as i32;
        },
    }
}
