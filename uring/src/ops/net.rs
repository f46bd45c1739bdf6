//! Sockets: send and receive, setup, zero-copy receive, names: entries of the opcode
//! table (the [`ops!`](super) macro writes each entry's `Sqe::prep_*` and `IoUring`
//! method).

use core::ffi::c_void;
use std::os::fd::RawFd;

use crate::sqe::{u32_pair, MsgHdr};
use crate::sys::{self, io_uring_op as Op, IoringSendFlags, RecvFlags, SendFlags, SocketFlags};
use crate::types::{RawSockAddr, SocketOp, FILE_INDEX_ALLOC};

ops! {
    /// `send(2)` of `buffer` with `MSG_*` `flags`.
    fn send = prep_send(fd: RawFd, buffer: &[u8], flags: SendFlags) {
        opcode: IORING_OP_SEND, linux: "5.6", liburing: "io_uring_prep_send", zig: "send",
        safety: {
            /// `buffer` must stay valid until the completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_SEND,
                fd,
                buffer.as_ptr() as u64,
                buffer.len(),
                0,
            );
            sqe.rw_flags = flags.bits();
        },
    }

    /// `IORING_OP_SEND` with a destination (Linux 6.0): `sendto(2)` of `buffer` to `addr`,
    /// for unconnected datagram sockets.
    fn sendto = prep_sendto(
        fd: RawFd,
        buffer: &[u8],
        flags: SendFlags,
        addr: *const RawSockAddr,
        addrlen: u32,
    ) {
        opcode: IORING_OP_SEND, linux: "6.0", liburing: "io_uring_prep_sendto",
        safety: {
            /// `buffer` and the `addrlen` bytes at `addr` must stay valid until the completion has
            /// been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_send(fd, buffer, flags);
            sqe.prep_send_set_addr(addr.cast(), u16::try_from(addrlen).unwrap_or(u16::MAX));
        },
    }

    /// Zero-copy `send(2)` of `buffer`; `zc_flags`
    /// (`IORING_RECVSEND_POLL_FIRST`, `IORING_SEND_ZC_REPORT_USAGE`) go in `ioprio`.
    ///
    /// Two completions: the first carries the byte count (or `-errno`) and usually
    /// `IORING_CQE_F_MORE`; if it has `F_MORE`, a second one with the same user_data,
    /// `res` 0 (or `IORING_NOTIF_USAGE_ZC_COPIED` with REPORT_USAGE) and
    /// `IORING_CQE_F_NOTIF` follows once the kernel no longer reads the buffer. **The
    /// buffer must stay valid and unmodified until that notification**, not merely until
    /// the first completion. An errored send may notify too: decide by `F_MORE`, not `res`.
    fn send_zc = prep_send_zc(
        fd: RawFd,
        buffer: &[u8],
        send_flags: SendFlags,
        zc_flags: IoringSendFlags,
    ) {
        opcode: IORING_OP_SEND_ZC, linux: "6.0", liburing: "io_uring_prep_send_zc", zig: "send_zc",
        safety: {
            /// `buffer` must stay valid **and unmodified until the notification** (or until a
            /// first completion without `F_MORE`), not merely until the first completion.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        example: {
            /// # Example
            ///
            /// ```
            /// use std::io::Read;
            /// use std::net::{TcpListener, TcpStream};
            /// use std::os::fd::AsRawFd;
            /// use uring::sys::{IoringSendFlags, IoringSetupFlags, SendFlags};
            /// use uring::IoUring;
            ///
            /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
            /// let listener = TcpListener::bind("127.0.0.1:0")?;
            /// let stream = TcpStream::connect(listener.local_addr()?)?;
            /// let (mut peer, _) = listener.accept()?;
            /// let mut ring = IoUring::init(8, IoringSetupFlags::empty())?;
            /// let buffer = vec![0x5a_u8; 64 * 1024];
            /// let (flags, zc_flags) = (SendFlags::empty(), IoringSendFlags::empty());
            /// // SAFETY: `buffer` is neither dropped nor written until the loop below has seen the
            /// // last completion for it; `stream` stays open until then.
            /// unsafe { ring.send_zc(7, stream.as_raw_fd(), &buffer, flags, zc_flags)? };
            /// ring.submit()?;
            /// let (mut sent, mut more) = (0, true);
            /// let reading = std::thread::spawn(move || {
            ///     let mut got = vec![0u8; 64 * 1024];
            ///     peer.read_exact(&mut got).map(|()| got)
            /// });
            /// for _ in 0..2 {
            ///     if !more {
            ///         break;
            ///     }
            ///     let cqe = ring.copy_cqe()?;
            ///     assert_eq!(cqe.user_data, 7);
            ///     if cqe.notif() {
            ///         more = false; // the kernel let go of `buffer`
            ///     } else {
            ///         sent = cqe.result()?; // the byte count
            ///         more = cqe.more(); // a notification follows
            ///     }
            /// }
            /// assert!(!more);
            /// assert_eq!(sent, 64 * 1024);
            /// drop(buffer); // only now
            /// assert!(reading.join().unwrap()?.iter().all(|&b| b == 0x5a));
            /// # Ok(()) }
            /// ```
        },
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_SEND_ZC,
                fd,
                buffer.as_ptr() as u64,
                buffer.len(),
                0,
            );
            sqe.rw_flags = send_flags.bits();
            sqe.ioprio = zc_flags.bits();
        },
    }

    /// `IORING_OP_SEND_ZC` with `IORING_RECVSEND_FIXED_BUF` (Linux 6.0): zero-copy send
    /// from the registered buffer `buf_index`; `buffer` must lie inside that registered
    /// buffer. Same two-completion contract as [`prep_send_zc`](Self::prep_send_zc).
    fn send_zc_fixed = prep_send_zc_fixed(
        fd: RawFd,
        buffer: &[u8],
        send_flags: SendFlags,
        zc_flags: IoringSendFlags,
        buf_index: u16,
    ) {
        opcode: IORING_OP_SEND_ZC, linux: "6.0", liburing: "io_uring_prep_send_zc_fixed",
        zig: "send_zc_fixed",
        safety: {
            /// `buffer` must lie inside registered buffer `buf_index` (otherwise the kernel fails
            /// the request with EFAULT) and stay valid and unmodified until the notification.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_send_zc(fd, buffer, send_flags, zc_flags);
            sqe.ioprio |= sys::IORING_RECVSEND_FIXED_BUF as u16;
            sqe.buf_index = buf_index;
        },
    }

    /// `sendmsg(2)` of `msg`.
    fn sendmsg = prep_sendmsg(fd: RawFd, msg: *const MsgHdr, flags: SendFlags) {
        opcode: IORING_OP_SENDMSG, linux: "5.3", liburing: "io_uring_prep_sendmsg", zig: "sendmsg",
        safety: {
            /// `msg`, its iovec array, the buffers they name, `msg_name` and `msg_control` must
            /// stay valid until the completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_SENDMSG, fd, msg as u64, 1, 0);
            sqe.rw_flags = flags.bits();
        },
    }

    /// Zero-copy `sendmsg(2)`; every iovec of `msg`
    /// (and `msg_name`) must stay valid until the `IORING_CQE_F_NOTIF` completion, as for
    /// [`prep_send_zc`](Self::prep_send_zc).
    fn sendmsg_zc = prep_sendmsg_zc(fd: RawFd, msg: *const MsgHdr, flags: SendFlags) {
        opcode: IORING_OP_SENDMSG_ZC, linux: "6.1", liburing: "io_uring_prep_sendmsg_zc",
        zig: "sendmsg_zc",
        safety: {
            /// `msg`, its iovecs, their buffers, `msg_name` and `msg_control` must stay valid and
            /// unmodified until the notification (the msghdr itself until the first completion
            /// has been reaped: the kernel copies it when it consumes the SQE, which on an SQPOLL
            /// ring may be after `submit` returned).
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_sendmsg(fd, msg, flags);
            sqe.opcode = sys::op(Op::IORING_OP_SENDMSG_ZC);
        },
    }

    /// `IORING_OP_SENDMSG_ZC` with `IORING_RECVSEND_FIXED_BUF` (Linux 6.15): zero-copy
    /// `sendmsg(2)` whose iovecs address memory inside registered buffer `buf_index`
    /// (vectored registered-buffer send). Same two-completion contract as
    /// [`prep_send_zc`](Self::prep_send_zc).
    fn sendmsg_zc_fixed = prep_sendmsg_zc_fixed(
        fd: RawFd,
        msg: *const MsgHdr,
        flags: SendFlags,
        buf_index: u16,
    ) {
        opcode: IORING_OP_SENDMSG_ZC, linux: "6.15", liburing: "io_uring_prep_sendmsg_zc_fixed",
        safety: {
            /// As for [`sendmsg_zc`](Self::sendmsg_zc); and every iovec of `msg` must lie inside
            /// registered buffer `buf_index` (otherwise the kernel fails the request with EFAULT),
            /// which must stay registered, valid and unmodified until the notification.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_sendmsg_zc(fd, msg, flags);
            sqe.ioprio |= sys::IORING_RECVSEND_FIXED_BUF as u16;
            sqe.buf_index = buf_index;
        },
    }

    /// `recvmsg(2)` into `msg`.
    fn recvmsg = prep_recvmsg(fd: RawFd, msg: *mut MsgHdr, flags: RecvFlags) {
        opcode: IORING_OP_RECVMSG, linux: "5.3", liburing: "io_uring_prep_recvmsg", zig: "recvmsg",
        safety: {
            /// `msg`, its iovec array, the buffers they name, `msg_name` and `msg_control` must
            /// stay valid until the completion has been reaped; the kernel writes the buffers, the
            /// name, the control data and `msg`'s lengths and flags, which must not be accessed
            /// through other references until then.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_RECVMSG, fd, msg as u64, 1, 0);
            sqe.rw_flags = flags.bits();
        },
    }

    /// `accept4(2)` on `fd`; the peer address is written to
    /// `addr`/`addrlen` when they are not null.
    fn accept = prep_accept(
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: SocketFlags,
    ) {
        opcode: IORING_OP_ACCEPT, linux: "5.5", liburing: "io_uring_prep_accept", zig: "accept",
        safety: {
            /// `addr` and `addrlen`, when not null, must stay valid until the completion has been
            /// reaped, `*addrlen` must hold the size of the room at `addr`, and neither may be
            /// accessed through other references until then.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            // The peer address goes in addr, a pointer to its length in addr2 (off).
            sqe.prep_rw(Op::IORING_OP_ACCEPT, fd, addr as u64, 0, addrlen as u64);
            sqe.rw_flags = flags.bits();
        },
    }

    /// `IORING_OP_ACCEPT` with `IORING_ACCEPT_MULTISHOT` in `ioprio` (Linux 5.19): one CQE
    /// per accepted connection, with `IORING_CQE_F_MORE` while it stays armed.
    fn accept_multishot = prep_multishot_accept(
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: SocketFlags,
    ) {
        opcode: IORING_OP_ACCEPT, linux: "5.19", liburing: "io_uring_prep_multishot_accept",
        zig: "accept_multishot",
        safety: {
            /// As for [`accept`](Self::accept), until the last completion (the one without
            /// `F_MORE`) has been reaped: every accepted connection writes `addr`/`addrlen`. Pass
            /// null pointers unless each completion is handled before the next can arrive.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_accept(fd, addr, addrlen, flags);
            sqe.ioprio |= sys::IORING_ACCEPT_MULTISHOT as u16;
        },
    }

    /// Multishot accept into free slots of the registered file table (Linux 5.19); each
    /// CQE's `res` is the slot.
    fn accept_multishot_direct = prep_multishot_accept_direct(
        fd: RawFd,
        addr: *mut RawSockAddr,
        addrlen: *mut u32,
        flags: SocketFlags,
    ) {
        opcode: IORING_OP_ACCEPT, linux: "5.19", liburing: "io_uring_prep_multishot_accept_direct",
        zig: "accept_multishot_direct",
        safety: {
            /// As for [`accept_multishot`](Self::accept_multishot).
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_multishot_accept(fd, addr, addrlen, flags);
            sqe.set_target_fixed_file(FILE_INDEX_ALLOC);
        },
    }

    /// `connect(2)` of `fd` to `addr`.
    fn connect = prep_connect(fd: RawFd, addr: *const RawSockAddr, addrlen: u32) {
        opcode: IORING_OP_CONNECT, linux: "5.5", liburing: "io_uring_prep_connect", zig: "connect",
        safety: {
            /// The `addrlen` bytes at `addr` must stay valid until the completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            // The address length travels in the offset field.
            sqe.prep_rw(
                Op::IORING_OP_CONNECT,
                fd,
                addr as u64,
                0,
                u64::from(addrlen),
            );
        },
    }

    /// `bind(2)` of `fd` to `addr`. Zig's `bind` also takes a trailing `flags`, which the
    /// kernel rejects unless 0, so it is left out, as in liburing.
    fn bind = prep_bind(fd: RawFd, addr: *const RawSockAddr, addrlen: u32) {
        opcode: IORING_OP_BIND, linux: "6.11", liburing: "io_uring_prep_bind",
        zig: "bind",
        safety: {
            /// The `addrlen` bytes at `addr` must stay valid until the completion has been reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_BIND, fd, addr as u64, 0, u64::from(addrlen));
        },
    }

    /// `listen(2)` on `fd` with `backlog` (without Zig's unused `flags`).
    fn listen = prep_listen(fd: RawFd, backlog: u32) {
        opcode: IORING_OP_LISTEN, linux: "6.11", liburing: "io_uring_prep_listen",
        zig: "listen",
        safety: {
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_LISTEN, fd, 0, backlog as usize, 0);
        },
    }

    /// `socket(2)`; the CQE's `res` is the new fd.
    /// `flags` must be 0 (reserved).
    fn socket = prep_socket(domain: u32, socket_type: u32, protocol: u32, flags: u32) {
        opcode: IORING_OP_SOCKET, linux: "5.19", liburing: "io_uring_prep_socket", zig: "socket",
        safety: safe,
        prep: |sqe| {
            sqe.prep_rw(
                Op::IORING_OP_SOCKET,
                domain as i32,
                0,
                protocol as usize,
                u64::from(socket_type),
            );
            sqe.rw_flags = flags;
        },
    }

    /// `IORING_OP_SOCKET` into slot `file_index` of the registered file table (Linux
    /// 5.19; CQE `res` 0). liburing: `io_uring_prep_socket_direct` (whose argument order
    /// puts `file_index` before `flags`; this is Zig's).
    fn socket_direct = prep_socket_direct(
        domain: u32,
        socket_type: u32,
        protocol: u32,
        flags: u32,
        file_index: u32,
    ) {
        opcode: IORING_OP_SOCKET, linux: "5.19", liburing: "io_uring_prep_socket_direct",
        zig: "socket_direct",
        check: check_file_table,
        safety: safe,
        prep: |sqe| {
            sqe.prep_socket(domain, socket_type, protocol, flags);
            sqe.set_target_fixed_file(file_index);
        },
    }

    /// `IORING_OP_SOCKET` into a free slot of the registered file table, returned in the
    /// CQE's `res` (Linux 5.19).
    fn socket_direct_alloc = prep_socket_direct_alloc(
        domain: u32,
        socket_type: u32,
        protocol: u32,
        flags: u32,
    ) {
        opcode: IORING_OP_SOCKET, linux: "5.19", liburing: "io_uring_prep_socket_direct_alloc",
        zig: "socket_direct_alloc",
        check: check_file_table,
        safety: safe,
        prep: |sqe| {
            sqe.prep_socket(domain, socket_type, protocol, flags);
            sqe.set_target_fixed_file(FILE_INDEX_ALLOC);
        },
    }

    /// `shutdown(2)` of `sockfd`, `how` one of
    /// `SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`.
    fn shutdown = prep_shutdown(sockfd: RawFd, how: u32) {
        opcode: IORING_OP_SHUTDOWN, linux: "5.11", liburing: "io_uring_prep_shutdown",
        zig: "shutdown",
        safety: {
            /// `sockfd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_SHUTDOWN, sockfd, 0, how as usize, 0);
        },
    }

    /// `IORING_OP_URING_CMD` on a socket (Linux 6.7): `cmd_op` is a
    /// `SOCKET_URING_OP_*`. `SIOCINQ`/`SIOCOUTQ` complete with the byte count as `res`;
    /// `GETSOCKOPT` (level `SOL_SOCKET` only) writes up to `optlen` bytes to `optval` and
    /// completes with the option's length; `SETSOCKOPT` reads `optlen` bytes at `optval`.
    fn cmd_sock = prep_cmd_sock(
        cmd_op: SocketOp,
        fd: RawFd,
        level: u32,
        optname: u32,
        optval: *mut c_void,
        optlen: u32,
    ) {
        opcode: IORING_OP_URING_CMD, linux: "6.7", liburing: "io_uring_prep_cmd_sock",
        zig: "cmd_sock",
        safety: {
            /// For `GETSOCKOPT`/`SETSOCKOPT`, the `optlen` bytes at `optval` must stay valid until
            /// the completion has been reaped, and for `GETSOCKOPT` not be accessed through other
            /// references until then. The other commands do not use `optval`.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_URING_CMD, fd, 0, 0, 0);
            // cmd_op shares `off` with a 32-bit pad; level and optname share `addr`; optlen
            // is the 32-bit member of the splice_fd_in union; optval is addr3.
            sqe.off = u32_pair(cmd_op as u32, 0);
            sqe.addr = u32_pair(level, optname);
            sqe.splice_fd_in = optlen as i32;
            sqe.addr3 = optval as u64;
        },
    }

    /// Multishot zero-copy receive on `fd` into the area
    /// of the zero-copy receive queue `zcrx_ifq_idx` registered on the ring
    /// (IORING_REGISTER_ZCRX_IFQ, which needs a NIC with header split and flow steering);
    /// up to `len` bytes in all (0: no limit). Each completion is 32 bytes (CQE32 ring)
    /// and names the area offset of its data. `IORING_RECV_MULTISHOT`, which the kernel
    /// requires, is set in `ioprio`. Without that queue registered, the kernel answers
    /// `-EINVAL`. No liburing 2.15 prep (its tests fill the SQE by hand).
    ///
    /// The queue must have been registered (IORING_REGISTER_ZCRX_IFQ: a CQE32 + DEFER_TASKRUN ring
    /// and a NIC queue with header split and flow steering; this crate's ring copies 16-byte CQEs,
    /// so it cannot read the 32-byte completions yet); without one the kernel answers `-EINVAL`. No
    /// liburing 2.15 prep.
    fn recv_zc = prep_recv_zc(fd: RawFd, len: u32, zcrx_ifq_idx: u32) {
        opcode: IORING_OP_RECV_ZC, linux: "6.15",
        safety: {
            /// The registered area of the queue must stay valid until the final completion (the
            /// one without `IORING_CQE_F_MORE`) has been reaped; the kernel writes into it.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_RECV_ZC, fd, 0, len as usize, 0);
            sqe.ioprio = sys::IORING_RECV_MULTISHOT as u16;
            sqe.splice_fd_in = zcrx_ifq_idx as i32;
        },
    }

    /// `IORING_OP_URING_CMD` with [`SOCKET_URING_OP_GETSOCKNAME`](sys::SOCKET_URING_OP_GETSOCKNAME)
    /// (Linux 6.19): `getsockname(2)` of `fd` (`getpeername(2)` with `peer`) into
    /// `sockaddr`, whose room the `u32` at `sockaddr_len` gives and where the kernel writes
    /// the address's length.
    ///
    /// Kernels before 6.19 answer `-EOPNOTSUPP`.
    fn cmd_getsockname = prep_cmd_getsockname(
        fd: RawFd,
        sockaddr: *mut RawSockAddr,
        sockaddr_len: *mut u32,
        peer: bool,
    ) {
        opcode: IORING_OP_URING_CMD, linux: "6.19", liburing: "io_uring_prep_cmd_getsockname",
        safety: {
            /// `sockaddr` (as many bytes as `*sockaddr_len` says) and `sockaddr_len` must stay
            /// valid, and not be accessed through other references, until the completion has been
            /// reaped.
            ///
            /// `fd` follows the [descriptor contract](crate::ops#descriptors).
        },
        prep: |sqe| {
            sqe.prep_rw(Op::IORING_OP_URING_CMD, fd, 0, 0, 0);
            sqe.off = u32_pair(sys::SOCKET_URING_OP_GETSOCKNAME, 0);
            sqe.addr = sockaddr as u64;
            sqe.addr3 = sockaddr_len as u64;
            sqe.splice_fd_in = i32::from(peer);
        },
    }
}
