//! Futexes: entries of the opcode table (the [`ops!`](super)
//! macro writes each entry's `Sqe::prep_*` and `IoUring` method).

use core::sync::atomic::AtomicU32;

use crate::sys::{self, io_uring_op as Op};
use crate::types::FutexWaitv;

ops! {
    /// `futex_wait(2)` on `futex`: complete (`res` 0)
    /// once woken through one of the bits of `mask`, or at once with `-EAGAIN` if the word
    /// is not `val`. `futex_flags` are `FUTEX2_*` (a size, `FUTEX2_SIZE_U32` for a `u32`
    /// word, and `FUTEX2_PRIVATE` if no other process maps it; in `fd`); `flags` must be 0.
    /// A `mask` of 0 is `-EINVAL`; `FUTEX_BITSET_MATCH_ANY` matches every wake.
    ///
    /// `futex_flags` are `FUTEX2_*` ([`FUTEX2_SIZE_U32`](crate::sys::FUTEX2_SIZE_U32), and
    /// [`FUTEX2_PRIVATE`](crate::sys::FUTEX2_PRIVATE) if no other process maps the word); `flags`
    /// must be 0; a `mask` of 0 is `-EINVAL`
    /// ([`FUTEX_BITSET_MATCH_ANY`](crate::sys::FUTEX_BITSET_MATCH_ANY) matches any wake). The word
    /// is an `AtomicU32` (liburing's `uint32_t *`), so the size is `FUTEX2_SIZE_U32`; other sizes
    /// go through [`futex_waitv`](crate::IoUring::futex_waitv) entries. Wakes of `futex(2)` reach
    /// it, and its wakes reach `futex(2)` waiters.
    fn futex_wait = prep_futex_wait(
        futex: &AtomicU32,
        val: u64,
        mask: u64,
        futex_flags: u32,
        flags: u32,
    ) {
        opcode: IORING_OP_FUTEX_WAIT, linux: "6.7", liburing: "io_uring_prep_futex_wait",
        safety: {
            /// `futex` must stay valid (not freed, unmapped or reused) until the completion has
            /// been reaped: the kernel reads it when it issues the request, possibly after this
            /// call, and keeps a waiter keyed on its address until woken or cancelled.
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_FUTEX_WAIT,
                futex_flags as i32,
                futex.as_ptr() as u64,
                0,
                val,
            );
            sqe.rw_flags = flags;
            sqe.addr3 = mask;
        },
    }

    /// `futex_wake(2)`: wake up to `val` waiters of
    /// `futex` whose mask shares a bit with `mask`; `res` is how many were woken.
    /// `futex_flags` and `flags` as for [`prep_futex_wait`](Self::prep_futex_wait).
    ///
    /// `futex_flags` and `flags` as for [`futex_wait`](crate::IoUring::futex_wait).
    fn futex_wake = prep_futex_wake(
        futex: &AtomicU32,
        val: u64,
        mask: u64,
        futex_flags: u32,
        flags: u32,
    ) {
        opcode: IORING_OP_FUTEX_WAKE, linux: "6.7", liburing: "io_uring_prep_futex_wake",
        safety: {
            /// As for [`futex_wait`](Self::futex_wait), until this request's completion.
        },
        prep: |sqe| {
            sqe.prep_futex_wait(futex, val, mask, futex_flags, flags);
            sqe.opcode = sys::op(Op::IORING_OP_FUTEX_WAKE);
        },
    }

    /// `futex_waitv(2)`: wait on every futex of
    /// `futexv` (1 to `FUTEX_WAITV_MAX` entries, each with its own `FUTEX2_*` flags and
    /// expected value); `res` is the index of the one woken. `flags` must be 0.
    ///
    /// It completes with the index of the futex woken, at once with `-EAGAIN` if a word differs
    /// from its value. `flags` must be 0.
    fn futex_waitv = prep_futex_waitv(futexv: &[FutexWaitv], flags: u32) {
        opcode: IORING_OP_FUTEX_WAITV, linux: "6.7", liburing: "io_uring_prep_futex_waitv",
        safety: {
            /// `futexv` must stay valid until the completion has been reaped (the kernel copies it
            /// when it consumes the SQE, which on an SQPOLL ring may be after `submit` returned),
            /// and so must every futex word it names, as for [`futex_wait`](Self::futex_wait).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_FUTEX_WAITV,
                0,
                futexv.as_ptr() as u64,
                futexv.len(),
                0,
            );
            sqe.rw_flags = flags;
        },
    }
}
