//! liburing's zero-copy send matrix, through our typed API: the combinations that
//! liburing 2.15's `test/send-zerocopy.c` (`test_inet_send`) runs, each expressed with the
//! ring's operation methods and `SqeRef` flag setters (no `as_mut_sqe`, no hand-poked
//! `ioprio`), run against the live kernel and checked as that test checks them: every
//! request completes with its byte count, a notification follows exactly the first
//! completions that carry `F_MORE`, no completion has both, and the receiver gets every
//! byte.
//!
//! The matrix, as there: 32 socket setups (IPv4 or IPv6, connected or not, `SO_ZEROCOPY`
//! set or not, TCP or UDP, the two ends of a TCP connection swapped) × 1024 request
//! setups (`sendmsg` or `send`, `POLL_FIRST`, a registered buffer, a destination address,
//! a corked chain of five linked requests with `MSG_MORE`, registered buffers mixed at
//! random within the chain, `IOSQE_ASYNC`, zero-copy or not, an iovec of 4 or 32 parts)
//! × four buffers (a page, 137 bytes, an unaligned range, and a range inside a large
//! registered buffer), on a default ring and a `SINGLE_ISSUER | DEFER_TASKRUN` one, with
//! the same exclusions (combinations the kernel does not define, such as a corked TCP
//! send or a registered buffer on a copying send). Differences: the large buffer is
//! 2 MiB instead of 32 MiB, so that a process without CAP_IPC_LOCK stays within the
//! default RLIMIT_MEMLOCK of 8 MiB (the registration pins it, and a zero-copy send from
//! unregistered memory charges its pages again while in flight;
//! `scripts/test-unprivileged.sh` runs this test so); liburing's huge-page buffer is left out (its memory
//! comes from MAP_HUGETLB, which needs huge pages reserved on the machine; the requests
//! are the same as for the large buffer); the mixed registration is drawn from a seeded
//! generator, so a failure can be replayed; and an `ENOMEM` fails the test instead of
//! ending it early.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io::IoSlice;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

mod common;

use common::Rng;
use uring::flags::{IoringSendFlags, RecvFlags, SendFlags, SEND_WAITALL};
use uring::sys::{IoringSetupFlags, IOSQE_ASYNC};
use uring::{iovec, Cqe, IoUring, MsgHdr, RecvBuffer, SockAddr, SqeResult};

const MAX_IOV: usize = 32;
const CORK_REQS: usize = 5;
const RX_TAG: u64 = 10_000;
const BUFFER_OFFSET: usize = 41;
const PAGE: usize = 4096;
const LARGE_LEN: usize = 2 << 20;
/// UDP over IPv4 takes datagrams under 64 KiB; liburing's test stops at 32 KiB.
const UDP_MAX: usize = 1 << 15;

/// Page-aligned, zeroed memory that stays where it is.
struct Aligned {
    ptr: *mut u8,
    layout: Layout,
}

impl Aligned {
    fn new(len: usize) -> Aligned {
        let layout = Layout::from_size_align(len, PAGE).unwrap();
        // SAFETY: `layout` has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "allocating {len} bytes");
        Aligned { ptr, layout }
    }
    fn slice(&self, start: usize, len: usize) -> &[u8] {
        assert!(start + len <= self.layout.size());
        // SAFETY: inside the allocation, which lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.add(start), len) }
    }
    #[allow(clippy::mut_from_ref)]
    fn slice_mut(&self, start: usize, len: usize) -> &mut [u8] {
        assert!(start + len <= self.layout.size());
        // SAFETY: inside the allocation; each test step holds one such view at a time.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

/// The four buffers (liburing's `buffers_iov` without the huge page): ranges of `tx`, by
/// registration index. The large one is registered whole and sent from 13 bytes in to
/// 13 bytes before its end, as there.
struct Buffers {
    tx: Aligned,
    rx: Aligned,
}

impl Buffers {
    const COUNT: usize = 4;

    fn new() -> Buffers {
        let tx = Aligned::new(LARGE_LEN);
        tx.slice_mut(0, LARGE_LEN)
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = i as u8);
        Buffers {
            tx,
            rx: Aligned::new(LARGE_LEN),
        }
    }

    /// (start, len) of buffer `index` in `tx`, as registered.
    fn registered(index: usize) -> (usize, usize) {
        match index {
            0 => (PAGE, PAGE),
            1 => (0, 137),
            2 => (BUFFER_OFFSET, 2 * PAGE - BUFFER_OFFSET - 13),
            _ => (0, LARGE_LEN),
        }
    }

    /// (start, len) of buffer `index` in `tx`, as sent.
    fn sent(index: usize) -> (usize, usize) {
        match Self::registered(index) {
            (start, len) if index == 3 => (start + 13, len - 26),
            range => range,
        }
    }

    fn iovecs(&self) -> Vec<iovec> {
        (0..Self::COUNT)
            .map(|i| {
                let (start, len) = Self::registered(i);
                iovec {
                    iov_base: self.tx.slice(start, len).as_ptr() as *mut _,
                    iov_len: len as _,
                }
            })
            .collect()
    }
}

#[derive(Clone, Copy, Debug)]
struct SendConf {
    use_sendmsg: bool,
    poll_first: bool,
    fixed_buf: bool,
    addr: bool,
    cork: bool,
    mix_register: bool,
    force_async: bool,
    zc: bool,
    iovec: bool,
    long_iovec: bool,
    buf_index: usize,
}

impl SendConf {
    fn from_bits(i: u32) -> SendConf {
        SendConf {
            use_sendmsg: i & 1 != 0,
            poll_first: i & 2 != 0,
            fixed_buf: i & 4 != 0,
            addr: i & 8 != 0,
            cork: i & 16 != 0,
            mix_register: i & 32 != 0,
            force_async: i & 64 != 0,
            zc: i & 128 != 0,
            iovec: i & 256 != 0,
            long_iovec: i & 512 != 0,
            buf_index: 0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct SockConf {
    ipv6: bool,
    client_connect: bool,
    msg_zc: bool,
    tcp: bool,
    swap: bool,
}

impl SockConf {
    fn from_bits(j: u32) -> SockConf {
        SockConf {
            ipv6: j & 1 != 0,
            client_connect: j & 2 != 0,
            msg_zc: j & 4 != 0,
            tcp: j & 8 != 0,
            swap: j & 16 != 0,
        }
    }

    /// liburing's exclusions for the socket setup.
    fn runs(&self) -> bool {
        (!self.tcp || self.client_connect) && (!self.swap || self.tcp)
    }
}

/// liburing's exclusions for a request setup on a socket setup (on a kernel with
/// `SENDMSG_ZC` and `READV_FIXED`, as 6.18 has).
fn conf_runs(s: &SockConf, c: &SendConf) -> bool {
    let regbuf = c.mix_register || c.fixed_buf;
    if !s.tcp && c.long_iovec {
        return false;
    }
    if c.iovec && (!c.use_sendmsg || c.cork) {
        return false;
    }
    if !c.zc && regbuf {
        return false;
    }
    if s.tcp && (c.cork || c.addr) {
        return false;
    }
    if c.mix_register && (!c.cork || c.fixed_buf) {
        return false;
    }
    if !s.client_connect && !c.addr {
        return false;
    }
    if s.msg_zc && !c.zc {
        return false;
    }
    true
}

/// The two sockets of a setup, and the address to send to.
struct Pair {
    client: OwnedFd,
    server: OwnedFd,
    addr: SockAddr,
}

fn socket_pair(s: &SockConf) -> Pair {
    let host = if s.ipv6 { "[::1]:0" } else { "127.0.0.1:0" };
    let (client, server, addr): (OwnedFd, OwnedFd, SocketAddr) = if s.tcp {
        let listener = TcpListener::bind(host).expect("bind");
        let addr = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(addr).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        (client.into(), server.into(), addr)
    } else {
        let server = UdpSocket::bind(host).expect("bind");
        let addr = server.local_addr().unwrap();
        let client = UdpSocket::bind(host).expect("bind");
        if s.client_connect {
            client.connect(addr).expect("connect");
        }
        (client.into(), server.into(), addr)
    };
    if s.msg_zc {
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads one int from `one` during the call; the fd is open.
        let r = unsafe {
            libc::setsockopt(
                client.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ZEROCOPY,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(r, 0, "SO_ZEROCOPY: {}", std::io::Error::last_os_error());
    }
    let (client, server) = if s.swap {
        (server, client)
    } else {
        (client, server)
    };
    Pair {
        client,
        server,
        addr: SockAddr::from(addr),
    }
}

impl Rng {
    /// One seeded coin flip, for the mixed registration.
    fn bit(&mut self) -> bool {
        self.next() >> 63 == 1
    }
}

/// The iovecs of one sendmsg request of `c`: one part per corked request, or (with
/// `iovec`) 4 or 32 parts, the first two sized as liburing's to make the kernel advance
/// and retry within the array.
fn msg_iov<'a>(c: &SendConf, buf: &'a [u8], chunk: (usize, usize)) -> Vec<IoSlice<'a>> {
    if !c.iovec {
        return vec![IoSlice::new(&buf[chunk.0..chunk.0 + chunk.1])];
    }
    let parts = if c.long_iovec { MAX_IOV } else { 4 };
    let mut lens = vec![1usize; parts];
    lens[1] = buf.len() - parts + 1;
    let mut at = 0;
    lens.iter()
        .map(|&len| {
            let part = IoSlice::new(&buf[at..at + len]);
            at += len;
            part
        })
        .collect()
}

/// One case: queue the requests of `c` on `pair.client` and a receive on `pair.server`,
/// submit them together, reap every completion (matched by user_data and flags), and
/// compare the bytes.
fn run_case(ring: &mut IoUring, pair: &Pair, bufs: &Buffers, c: &SendConf, rng: &mut Rng) {
    let nr_reqs = if c.cork { CORK_REQS } else { 1 };
    let (start, send_size) = Buffers::sent(c.buf_index);
    let buf = bufs.tx.slice(start, send_size);
    let chunk = send_size / nr_reqs;
    let chunk_last = send_size - chunk * (nr_reqs - 1);
    let rx = bufs.rx.slice_mut(0, send_size);
    rx.fill(0);

    // Everything the requests name lives until the end of this function, after the last
    // completion (and notification) has been reaped.
    let mut iovs: Vec<Vec<IoSlice<'_>>> = Vec::with_capacity(nr_reqs);
    let mut msgs: Vec<MsgHdr> = Vec::with_capacity(nr_reqs);
    let chunks: Vec<(usize, usize)> = (0..nr_reqs)
        .map(|i| (i * chunk, if i == nr_reqs - 1 { chunk_last } else { chunk }))
        .collect();
    for &range in &chunks {
        iovs.push(msg_iov(c, buf, range));
    }
    for iov in &iovs {
        // SAFETY: msghdr is a plain C struct; all-zero is a valid empty header.
        let mut msg: MsgHdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_ptr() as *mut _;
        msg.msg_iovlen = iov.len() as _;
        if c.addr {
            msg.msg_name = pair.addr.as_ptr() as *mut _;
            msg.msg_namelen = pair.addr.len() as _;
        }
        msgs.push(msg);
    }

    let fd = pair.client.as_raw_fd();
    let buf_index = c.buf_index as u16;
    for (i, &(at, len)) in chunks.iter().enumerate() {
        let last = i == nr_reqs - 1;
        let fixed = if c.mix_register {
            rng.bit()
        } else {
            c.fixed_buf
        };
        let flags = if last {
            SEND_WAITALL
        } else {
            SEND_WAITALL | SendFlags::MORE
        };
        let part = &buf[at..at + len];
        let ud = i as u64;
        let (addr, addrlen) = (pair.addr.as_ptr(), pair.addr.len());
        // SAFETY: `buf` (inside registered buffer `buf_index` when `fixed`), `msgs`,
        // `iovs` and `pair.addr` outlive every completion and notification of these
        // requests, reaped below before they are dropped; `fd` stays open as long.
        let queued: SqeResult<'_> = unsafe {
            match (c.use_sendmsg, c.zc, fixed, c.addr) {
                (false, true, true, true) => ring.send_zc_fixed_to(
                    ud,
                    fd,
                    part,
                    flags,
                    IoringSendFlags::empty(),
                    buf_index,
                    addr,
                    addrlen,
                ),
                (false, true, true, false) => {
                    ring.send_zc_fixed(ud, fd, part, flags, IoringSendFlags::empty(), buf_index)
                }
                (false, true, false, true) => {
                    ring.send_zc_to(ud, fd, part, flags, IoringSendFlags::empty(), addr, addrlen)
                }
                (false, true, false, false) => {
                    ring.send_zc(ud, fd, part, flags, IoringSendFlags::empty())
                }
                (false, false, _, true) => ring.sendto(ud, fd, part, flags, addr, addrlen),
                (false, false, _, false) => ring.send(ud, fd, part, flags),
                (true, true, true, _) => ring.sendmsg_zc_fixed(ud, fd, &msgs[i], flags, buf_index),
                (true, true, false, _) => ring.sendmsg_zc(ud, fd, &msgs[i], flags),
                (true, false, _, _) => ring.sendmsg(ud, fd, &msgs[i], flags),
            }
        };
        let mut sqe = queued.unwrap_or_else(|e| panic!("queueing {c:?}: {e}"));
        if c.force_async {
            sqe.add_flags(IOSQE_ASYNC).unwrap();
        }
        if c.poll_first {
            sqe.add_send_flags(IoringSendFlags::POLL_FIRST).unwrap();
        }
        if !last {
            sqe.link();
        }
    }
    // SAFETY: `rx` outlives the receive's completion, reaped below.
    unsafe {
        ring.recv(
            RX_TAG,
            pair.server.as_raw_fd(),
            RecvBuffer::Buffer(&mut *rx),
            RecvFlags::WAITALL,
        )
    }
    .unwrap();
    let submitted = ring.submit().unwrap() as usize;
    if submitted != nr_reqs + 1 {
        let mut got = [Cqe::default(); 8];
        let n = ring.copy_cqes(&mut got, 0).unwrap() as usize;
        panic!(
            "{submitted} of {} submitted for {c:?}: {:?}",
            nr_reqs + 1,
            &got[..n]
        );
    }

    let mut firsts = vec![None::<Cqe>; nr_reqs];
    let mut notifs = vec![0u32; nr_reqs];
    let mut received = None;
    let mut cqes = [Cqe::default(); 16];
    // Each request posts at most two completions, the receive one.
    for _ in 0..2 * nr_reqs + 1 {
        let pending = firsts.iter().any(Option::is_none)
            || received.is_none()
            || firsts
                .iter()
                .zip(&notifs)
                .any(|(f, &n)| f.is_some_and(|f| f.more()) && n == 0);
        if !pending {
            break;
        }
        if ring.cq_ready() == 0 {
            let waited = ring
                .submit_and_wait_timeout(1, Duration::from_secs(10))
                .unwrap();
            assert!(!waited.timed_out, "a completion within 10 s: {c:?}");
        }
        let n = ring.copy_cqes(&mut cqes, 0).unwrap() as usize;
        for cqe in &cqes[..n] {
            if cqe.user_data == RX_TAG {
                assert!(received.is_none(), "one receive completion");
                received = Some(cqe.res);
                continue;
            }
            assert!(!(cqe.more() && cqe.notif()), "F_MORE with F_NOTIF: {cqe:?}");
            let i = cqe.user_data as usize;
            assert!(i < nr_reqs, "unknown user_data {cqe:?}");
            if cqe.notif() {
                notifs[i] += 1;
            } else {
                assert!(firsts[i].is_none(), "two first completions: {cqe:?}");
                firsts[i] = Some(*cqe);
            }
        }
    }
    assert_eq!(received, Some(send_size as i32), "the receive of {c:?}");
    for (i, first) in firsts.iter().enumerate() {
        let first = first.unwrap_or_else(|| panic!("request {i} of {c:?} completed"));
        assert_eq!(
            first.res, chunks[i].1 as i32,
            "request {i} of {c:?}: {first:?}"
        );
        let want = u32::from(first.more());
        assert_eq!(notifs[i], want, "notifications of request {i} of {c:?}");
        assert!(c.zc || !first.more(), "a copying send posts one completion");
    }
    assert!(&rx[..] == buf, "the bytes received for {c:?}");
}

fn run_matrix(setup: IoringSetupFlags) -> (usize, usize) {
    let mut ring = IoUring::init(32, setup).unwrap();
    let bufs = Buffers::new();
    // SAFETY: the registered memory (`bufs.tx`) outlives the ring, dropped first below.
    unsafe { ring.register_buffers(&bufs.iovecs()) }
        .unwrap_or_else(|e| panic!("registering 2 MiB of buffers (RLIMIT_MEMLOCK?): {e}"));
    let (mut cases, mut zc_cases) = (0, 0);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for j in 0..32 {
        let s = SockConf::from_bits(j);
        if !s.runs() {
            continue;
        }
        let pair = socket_pair(&s);
        for i in 0..1024 {
            let mut c = SendConf::from_bits(i);
            if !conf_runs(&s, &c) {
                continue;
            }
            for b in 0..Buffers::COUNT {
                if !s.tcp && Buffers::sent(b).1 > UDP_MAX {
                    continue;
                }
                c.buf_index = b;
                run_case(&mut ring, &pair, &bufs, &c, &mut rng);
                cases += 1;
                zc_cases += usize::from(c.zc);
            }
        }
    }
    drop(ring);
    drop(bufs);
    (cases, zc_cases)
}

#[test]
fn liburing_send_zerocopy_matrix_default_ring() {
    let (cases, zc) = run_matrix(IoringSetupFlags::empty());
    eprintln!("send_zc matrix, default ring: {cases} cases ({zc} zero-copy)");
    assert!(zc > 1000, "thousands of zero-copy cases ran: {zc}");
}

#[test]
fn liburing_send_zerocopy_matrix_defer_taskrun_ring() {
    let (cases, zc) = run_matrix(IoringSetupFlags::SINGLE_ISSUER | IoringSetupFlags::DEFER_TASKRUN);
    eprintln!("send_zc matrix, DEFER_TASKRUN ring: {cases} cases ({zc} zero-copy)");
    assert!(zc > 1000, "thousands of zero-copy cases ran: {zc}");
}
