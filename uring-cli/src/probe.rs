//! `uring probe`: what the running kernel's io_uring offers, asked (IORING_REGISTER_PROBE,
//! setup feature bits) and tried (a zero-copy send over a loopback TCP pair, REPORT_USAGE,
//! registered buffers, a provided-buffer ring).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;
use uring::sys::{self, io_uring_op, IoringSetupFlags};
use uring::{Cqe, IoUring};

use crate::util::AlignedBuf;

/// Every opcode of the bindings' `io_uring_op`, with its name (a list of identifiers, not of
/// numbers: each number comes from linux-raw-sys; a test checks the list is complete and in
/// order).
macro_rules! opcodes {
    ($($name:ident),* $(,)?) => {
        /// (opcode, name without the `IORING_OP_` prefix), in opcode order.
        pub const OPCODES: &[(io_uring_op, &str)] = &[
            $( (io_uring_op::$name, strip(stringify!($name))), )*
        ];
    };
}

/// `IORING_OP_SEND_ZC` → `SEND_ZC`, at compile time.
const fn strip(name: &'static str) -> &'static str {
    let bytes = name.as_bytes();
    let prefix = b"IORING_OP_";
    if bytes.len() <= prefix.len() {
        return name;
    }
    let (_, rest) = bytes.split_at(prefix.len());
    match core::str::from_utf8(rest) {
        Ok(s) => s,
        Err(_) => name,
    }
}

opcodes![
    IORING_OP_NOP,
    IORING_OP_READV,
    IORING_OP_WRITEV,
    IORING_OP_FSYNC,
    IORING_OP_READ_FIXED,
    IORING_OP_WRITE_FIXED,
    IORING_OP_POLL_ADD,
    IORING_OP_POLL_REMOVE,
    IORING_OP_SYNC_FILE_RANGE,
    IORING_OP_SENDMSG,
    IORING_OP_RECVMSG,
    IORING_OP_TIMEOUT,
    IORING_OP_TIMEOUT_REMOVE,
    IORING_OP_ACCEPT,
    IORING_OP_ASYNC_CANCEL,
    IORING_OP_LINK_TIMEOUT,
    IORING_OP_CONNECT,
    IORING_OP_FALLOCATE,
    IORING_OP_OPENAT,
    IORING_OP_CLOSE,
    IORING_OP_FILES_UPDATE,
    IORING_OP_STATX,
    IORING_OP_READ,
    IORING_OP_WRITE,
    IORING_OP_FADVISE,
    IORING_OP_MADVISE,
    IORING_OP_SEND,
    IORING_OP_RECV,
    IORING_OP_OPENAT2,
    IORING_OP_EPOLL_CTL,
    IORING_OP_SPLICE,
    IORING_OP_PROVIDE_BUFFERS,
    IORING_OP_REMOVE_BUFFERS,
    IORING_OP_TEE,
    IORING_OP_SHUTDOWN,
    IORING_OP_RENAMEAT,
    IORING_OP_UNLINKAT,
    IORING_OP_MKDIRAT,
    IORING_OP_SYMLINKAT,
    IORING_OP_LINKAT,
    IORING_OP_MSG_RING,
    IORING_OP_FSETXATTR,
    IORING_OP_SETXATTR,
    IORING_OP_FGETXATTR,
    IORING_OP_GETXATTR,
    IORING_OP_SOCKET,
    IORING_OP_URING_CMD,
    IORING_OP_SEND_ZC,
    IORING_OP_SENDMSG_ZC,
    IORING_OP_READ_MULTISHOT,
    IORING_OP_WAITID,
    IORING_OP_FUTEX_WAIT,
    IORING_OP_FUTEX_WAKE,
    IORING_OP_FUTEX_WAITV,
    IORING_OP_FIXED_FD_INSTALL,
    IORING_OP_FTRUNCATE,
    IORING_OP_BIND,
    IORING_OP_LISTEN,
    IORING_OP_RECV_ZC,
    IORING_OP_EPOLL_WAIT,
    IORING_OP_READV_FIXED,
    IORING_OP_WRITEV_FIXED,
    IORING_OP_PIPE,
];

/// The `IORING_FEAT_*` bits with their names; values from linux-raw-sys.
const FEATURES: &[(u32, &str)] = {
    use linux_raw_sys::io_uring as r;
    &[
        (r::IORING_FEAT_SINGLE_MMAP, "SINGLE_MMAP"),
        (r::IORING_FEAT_NODROP, "NODROP"),
        (r::IORING_FEAT_SUBMIT_STABLE, "SUBMIT_STABLE"),
        (r::IORING_FEAT_RW_CUR_POS, "RW_CUR_POS"),
        (r::IORING_FEAT_CUR_PERSONALITY, "CUR_PERSONALITY"),
        (r::IORING_FEAT_FAST_POLL, "FAST_POLL"),
        (r::IORING_FEAT_POLL_32BITS, "POLL_32BITS"),
        (r::IORING_FEAT_SQPOLL_NONFIXED, "SQPOLL_NONFIXED"),
        (r::IORING_FEAT_EXT_ARG, "EXT_ARG"),
        (r::IORING_FEAT_NATIVE_WORKERS, "NATIVE_WORKERS"),
        (r::IORING_FEAT_RSRC_TAGS, "RSRC_TAGS"),
        (r::IORING_FEAT_CQE_SKIP, "CQE_SKIP"),
        (r::IORING_FEAT_LINKED_FILE, "LINKED_FILE"),
        (r::IORING_FEAT_REG_REG_RING, "REG_REG_RING"),
        (r::IORING_FEAT_RECVSEND_BUNDLE, "RECVSEND_BUNDLE"),
        (r::IORING_FEAT_MIN_TIMEOUT, "MIN_TIMEOUT"),
        (r::IORING_FEAT_RW_ATTR, "RW_ATTR"),
        (r::IORING_FEAT_NO_IOWAIT, "NO_IOWAIT"),
    ]
};

#[derive(Debug, Serialize)]
struct Opcode {
    op: u8,
    name: String,
    supported: bool,
}

#[derive(Debug, Serialize)]
struct Feature {
    name: String,
    bit: u32,
    present: bool,
}

#[derive(Debug, Serialize)]
struct Trial {
    name: &'static str,
    works: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Limits {
    sq_entries: u32,
    cq_entries: u32,
    max_entries_accepted: Option<u32>,
    memlock_limit_bytes: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Report {
    kernel: String,
    machine: String,
    features_raw: u32,
    features: Vec<Feature>,
    last_op: u8,
    opcodes: Vec<Opcode>,
    limits: Limits,
    tried: Vec<Trial>,
}

/// Runs `uring probe`.
pub fn run(json: bool) -> Result<()> {
    let report = gather()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_text(&mut out, &report)?;
    }
    Ok(())
}

fn gather() -> Result<Report> {
    let uname = rustix::system::uname();
    let mut params = sys::io_uring_params::default();
    let ring = IoUring::init_params(8, &mut params)
        .context("cannot set up an io_uring instance (is io_uring disabled by sysctl?)")?;
    let probe = ring
        .get_probe()
        .context("IORING_REGISTER_PROBE failed (kernel older than 5.6?)")?;

    let mut opcodes: Vec<Opcode> = OPCODES
        .iter()
        .map(|&(op, name)| Opcode {
            op: sys::op(op),
            name: name.to_string(),
            supported: probe.is_supported(op),
        })
        .collect();
    // Opcodes the kernel knows that the bindings do not name yet.
    for op in (OPCODES.len() as u16)..=u16::from(probe.last_op()) {
        let op = op as u8;
        if probe.is_supported_raw(op) {
            opcodes.push(Opcode {
                op,
                name: format!("op {op} (newer than the bindings)"),
                supported: true,
            });
        }
    }

    let raw = params.features.bits();
    let mut features: Vec<Feature> = FEATURES
        .iter()
        .map(|&(bit, name)| Feature {
            name: name.to_string(),
            bit,
            present: raw & bit != 0,
        })
        .collect();
    let known = FEATURES.iter().fold(0, |a, &(b, _)| a | b);
    for i in 0..32 {
        let bit = 1u32 << i;
        if raw & bit != 0 && known & bit == 0 {
            features.push(Feature {
                name: format!("bit {i} (newer than the bindings)"),
                bit,
                present: true,
            });
        }
    }

    let limits = Limits {
        sq_entries: params.sq_entries,
        cq_entries: params.cq_entries,
        max_entries_accepted: [32768u32, 16384, 8192, 4096]
            .into_iter()
            .find(|&n| IoUring::init(n, IoringSetupFlags::empty()).is_ok()),
        memlock_limit_bytes: rustix::process::getrlimit(rustix::process::Resource::Memlock).current,
    };
    drop(ring);

    let tried = vec![
        trial(
            "send_zc",
            "zero-copy send (SEND_ZC) over loopback TCP",
            || try_send_zc(ZcVariant::Plain),
        ),
        trial("report_usage", "IORING_SEND_ZC_REPORT_USAGE", || {
            try_send_zc(ZcVariant::ReportUsage)
        }),
        trial("sendmsg_zc", "zero-copy sendmsg (SENDMSG_ZC)", || {
            try_send_zc(ZcVariant::Sendmsg)
        }),
        trial(
            "registered_buffers",
            "registered buffers (send_zc_fixed)",
            || try_send_zc(ZcVariant::Fixed),
        ),
        trial(
            "buffer_ring",
            "provided-buffer ring (PBUF_RING)",
            try_buffer_ring,
        ),
    ];

    Ok(Report {
        kernel: uname.release().to_string_lossy().into_owned(),
        machine: uname.machine().to_string_lossy().into_owned(),
        features_raw: raw,
        features,
        last_op: probe.last_op(),
        opcodes,
        limits,
        tried,
    })
}

fn trial(name: &'static str, what: &str, f: impl FnOnce() -> Result<String>) -> Trial {
    match f() {
        Ok(detail) => Trial {
            name,
            works: true,
            detail,
        },
        Err(e) => Trial {
            name,
            works: false,
            detail: format!("{what}: {e:#}"),
        },
    }
}

fn print_text(out: &mut impl Write, r: &Report) -> Result<()> {
    writeln!(out, "kernel: Linux {} ({})", r.kernel, r.machine)?;
    writeln!(
        out,
        "ring: {} SQ / {} CQ entries for 8 requested; largest ring accepted: {}; RLIMIT_MEMLOCK: {}",
        r.limits.sq_entries,
        r.limits.cq_entries,
        r.limits
            .max_entries_accepted
            .map_or("below 4096".to_string(), |n| n.to_string()),
        r.limits
            .memlock_limit_bytes
            .map_or("unlimited".to_string(), |n| format!("{n} bytes")),
    )?;
    writeln!(out, "\nsetup features (0x{:x}):", r.features_raw)?;
    for f in &r.features {
        writeln!(
            out,
            "  {:<20} {}",
            f.name,
            if f.present { "yes" } else { "no" }
        )?;
    }
    let n_supported = r.opcodes.iter().filter(|o| o.supported).count();
    writeln!(
        out,
        "\nopcodes ({} of {} supported; the kernel's last opcode is {}):",
        n_supported,
        r.opcodes.len(),
        r.last_op
    )?;
    for o in &r.opcodes {
        writeln!(
            out,
            "  {:>3} {:<20} {}",
            o.op,
            o.name,
            if o.supported { "supported" } else { "-" }
        )?;
    }
    writeln!(out, "\ntried (not guessed):")?;
    for t in &r.tried {
        writeln!(
            out,
            "  {:<20} {:<6} {}",
            t.name,
            if t.works { "works" } else { "FAILS" },
            t.detail
        )?;
    }
    Ok(())
}

/// A connected loopback TCP pair: (client, server).
fn tcp_pair() -> Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0").context("bind 127.0.0.1:0")?;
    let client = TcpStream::connect(listener.local_addr()?).context("connect")?;
    let (server, _) = listener.accept().context("accept")?;
    server.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok((client, server))
}

/// Collects exactly `n` completions, or fails after `timeout`.
fn reap(ring: &mut IoUring, n: usize, timeout: Duration) -> Result<Vec<Cqe>> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::with_capacity(n);
    let mut buf = [Cqe::default(); 8];
    // Copy no more than asked for: the rest stays in the ring for the next call.
    while got.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "timed out after {timeout:?} with {} of {n} completions",
                got.len()
            );
        }
        match ring.submit_and_wait_timeout(1, left) {
            Ok(_) => {}
            Err(e) if e.errno() == Some(rustix::io::Errno::TIME) => continue,
            Err(e) if e.errno() == Some(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let want = (n - got.len()).min(buf.len());
        let k = ring.copy_cqes(&mut buf[..want], 0)? as usize;
        got.extend_from_slice(&buf[..k]);
    }
    Ok(got)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ZcVariant {
    Plain,
    ReportUsage,
    Sendmsg,
    Fixed,
}

/// Sends 4096 bytes with a zero-copy variant over a loopback TCP pair and checks the
/// whole protocol: a first completion with the byte count and F_MORE, then a notification
/// (F_NOTIF without F_MORE), and the bytes arriving intact.
fn try_send_zc(variant: ZcVariant) -> Result<String> {
    const LEN: usize = 4096;
    const TAG: u64 = 0x5a5a;
    let (client, mut server) = tcp_pair()?;
    // Everything the kernel reads is declared before the ring, so that the ring (and with
    // it any request still in flight on an error path) goes first.
    let payload = AlignedBuf::pattern(LEN)?;
    let iov = payload.iovec();
    // SAFETY: an all-zero msghdr is valid (no name, no control); the iovec is set below.
    let mut hdr: uring::MsgHdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = (&iov as *const uring::iovec).cast_mut().cast();
    hdr.msg_iovlen = 1;
    let mut ring = IoUring::init(8, IoringSetupFlags::empty())?;
    let zc_flags = match variant {
        ZcVariant::ReportUsage => sys::IoringSendFlags::ZC_REPORT_USAGE,
        _ => sys::IoringSendFlags::empty(),
    };
    if variant == ZcVariant::Fixed {
        // SAFETY: `payload` is declared before the ring and so outlives the registration.
        unsafe { ring.register_buffers(&[iov]) }.context("register_buffers")?;
    }
    let fd = client.as_raw_fd();
    // SAFETY: `payload`, `iov` and `hdr` are declared before the ring and outlive it, so they
    // stay valid and unmodified until the notification (or the ring's teardown).
    unsafe {
        match variant {
            ZcVariant::Plain | ZcVariant::ReportUsage => {
                ring.send_zc(TAG, fd, &payload, uring::sys::SendFlags::empty(), zc_flags)?;
            }
            ZcVariant::Fixed => {
                ring.send_zc_fixed(
                    TAG,
                    fd,
                    &payload,
                    uring::sys::SendFlags::empty(),
                    uring::sys::IoringSendFlags::empty(),
                    0,
                )?;
            }
            ZcVariant::Sendmsg => {
                ring.sendmsg_zc(TAG, fd, &hdr, uring::sys::SendFlags::empty())?;
            }
        }
    }
    ring.submit()?;
    let first = reap(&mut ring, 1, Duration::from_secs(5))?[0];
    if first.user_data != TAG || first.notif() {
        bail!("unexpected first completion {first:?}");
    }
    let sent = first
        .result()
        .map_err(|e| anyhow!("the send failed: {e}"))?;
    if sent as usize != LEN {
        bail!("sent {sent} of {LEN} bytes");
    }
    if !first.more() {
        bail!("first completion without IORING_CQE_F_MORE: no notification will follow");
    }
    let notif = reap(&mut ring, 1, Duration::from_secs(5))?[0];
    if notif.user_data != TAG || !notif.notif() || notif.more() {
        bail!("expected a notification, got {notif:?}");
    }
    let mut got = vec![0u8; LEN];
    server
        .read_exact(&mut got)
        .context("reading the bytes back")?;
    if got[..] != payload[..] {
        bail!("the receiver got different bytes");
    }
    if variant == ZcVariant::Fixed {
        // SAFETY: the send that used the table has completed and notified (reaped above);
        // nothing else on this ring uses it.
        unsafe { ring.unregister_buffers() }?;
    }
    Ok(match variant {
        ZcVariant::ReportUsage => format!(
            "notification reports usage: {} (loopback copies, as expected)",
            if notif.zc_copied() {
                "copied"
            } else {
                "zero-copy"
            }
        ),
        ZcVariant::Fixed => {
            format!("{LEN} bytes sent from registered buffer 0, notified, received intact")
        }
        _ => format!("{LEN} bytes sent, F_MORE then F_NOTIF, received intact"),
    })
}

/// Registers a provided-buffer ring of 8 buffers (IORING_REGISTER_PBUF_RING, Linux 5.19,
/// through the library's `BufferGroup`), receives into it with IOSQE_BUFFER_SELECT, checks
/// the buffer id and the bytes, hands the buffer back, and unregisters the group.
fn try_buffer_ring() -> Result<String> {
    const ENTRIES: u16 = 8;
    const BUF_LEN: u32 = 256;
    const BGID: u16 = 7;
    const TAG: u64 = 0xb0f;

    let (mut client, server) = tcp_pair()?;
    let mut ring = IoUring::init(8, IoringSetupFlags::empty())?;
    let mut group = uring::BufferGroup::init(&ring, BGID, BUF_LEN, ENTRIES)
        .context("IORING_REGISTER_PBUF_RING")?;
    let msg = b"provided buffers work";
    client.write_all(msg)?;
    // SAFETY: the request's completion is reaped below (bounded) before the group is read,
    // given back or dropped; if it does not come, the group is leaked, never freed. Only
    // that completion is passed to `get`, and its buffer is put back once.
    unsafe { group.recv(&mut ring, TAG, server.as_raw_fd(), 0) }?;
    ring.submit()?;
    let cqe = match reap(&mut ring, 1, Duration::from_secs(5)) {
        Ok(c) => c[0],
        Err(e) => {
            // The recv may still be pending: never free buffers the kernel may fill.
            std::mem::forget(group);
            return Err(e);
        }
    };
    let n = cqe
        .result()
        .map_err(|e| anyhow!("recv with a selected buffer failed: {e}"))?;
    let bid = cqe
        .buffer_id()
        .ok_or_else(|| anyhow!("completion without IORING_CQE_F_BUFFER: {cqe:?}"))?;
    if group.get(&cqe)? != &msg[..] {
        bail!("buffer {bid} holds different bytes");
    }
    group.put(bid)?;
    group.deinit().context("IORING_UNREGISTER_PBUF_RING")?;
    Ok(format!(
        "registered {ENTRIES} buffers as group {BGID}; recv picked buffer {bid} ({n} bytes, intact)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_table_is_complete_and_in_order() {
        for (i, &(op, name)) in OPCODES.iter().enumerate() {
            assert_eq!(op as u32 as usize, i, "{name}");
            assert_eq!(format!("{op:?}"), format!("IORING_OP_{name}"));
        }
        assert_eq!(OPCODES.len(), io_uring_op::IORING_OP_LAST as usize);
    }

    #[test]
    fn feature_table_matches_rustix_names() {
        use sys::IoringFeatureFlags as F;
        for (name, flag) in F::all().iter_names() {
            let ours = FEATURES.iter().find(|&&(b, _)| b == flag.bits());
            assert_eq!(ours.map(|&(_, n)| n), Some(name), "{name}");
        }
    }
}
