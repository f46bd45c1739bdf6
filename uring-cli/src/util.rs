//! Small pieces shared by the commands: page-aligned buffers, CPU accounting, argument
//! parsing, socket options, and formatting.

use std::alloc::{self, Layout};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsFd;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// Bytes in a megabyte as printed by this tool (10^6: MB/s is bytes per microsecond).
pub const MB: f64 = 1e6;
/// Bytes in a gigabyte for "CPU seconds per GB" (10^9).
pub const GB: f64 = 1e9;
/// The largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP).
pub const UDP_MAX_V4: usize = 65_507;
/// The largest UDP payload over IPv6 without jumbograms (65535 - 8 UDP).
pub const UDP_MAX_V6: usize = 65_527;

/// Fills a payload with the repeating `a..z` pattern (what liburing's example sends).
pub fn fill_pattern(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = b'a' + (i % 26) as u8;
    }
}

/// A zero-initialized, page-aligned heap buffer: what we pin or register for zero-copy
/// sends. It never moves, so its address can be handed to the kernel; the caller must keep
/// it alive (and unmodified) until every request naming it has notified.
#[derive(Debug)]
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively (like a Box<[u8]>); access goes through
// &self / &mut self.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads (see `Deref`).
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// Page size used for alignment.
    const ALIGN: usize = 4096;

    /// A zeroed buffer of `len` bytes (at least one byte is allocated).
    pub fn zeroed(len: usize) -> Result<AlignedBuf> {
        let layout = Layout::from_size_align(len.max(1), Self::ALIGN)
            .map_err(|_| anyhow!("buffer of {len} bytes is too large"))?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or_else(|| anyhow!("out of memory ({len} bytes)"))?;
        Ok(AlignedBuf { ptr, len })
    }

    /// A buffer filled with the repeating pattern `a..z` ([`fill_pattern`]).
    pub fn pattern(len: usize) -> Result<AlignedBuf> {
        let mut buf = AlignedBuf::zeroed(len)?;
        fill_pattern(&mut buf);
        Ok(buf)
    }

    /// The `iovec` naming the whole buffer, for registration or a msghdr.
    pub fn iovec(&self) -> uring::iovec {
        uring::iovec {
            iov_base: self.ptr.as_ptr().cast(),
            iov_len: self.len as _,
        }
    }
}

impl std::ops::Deref for AlignedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is a live allocation of `len` (initialized, zeroed) bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::ops::DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with exactly this layout (which was valid then).
        unsafe {
            alloc::dealloc(
                self.ptr.as_ptr(),
                Layout::from_size_align_unchecked(self.len.max(1), Self::ALIGN),
            )
        }
    }
}

/// CPU time (user + system) of the calling thread.
pub fn thread_cpu() -> Duration {
    let (user, system) = cpu_of(libc::RUSAGE_THREAD);
    user + system
}

/// CPU time (user + system) of the whole process, all threads including io_uring workers.
pub fn process_cpu() -> Duration {
    let (user, system) = cpu_of(libc::RUSAGE_SELF);
    user + system
}

/// (user, system) CPU time of `who`.
fn cpu_of(who: libc::c_int) -> (Duration, Duration) {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, exclusively borrowed rusage; RUSAGE_THREAD/SELF are valid
    // `who` values on Linux. getrusage cannot fail with these arguments.
    let rc = unsafe { libc::getrusage(who, &mut ru) };
    if rc != 0 {
        return (Duration::ZERO, Duration::ZERO);
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    (tv(ru.ru_utime), tv(ru.ru_stime))
}

/// A stopwatch of wall time and thread CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    wall: Instant,
    cpu: Duration,
    user: Duration,
}

impl Meter {
    /// Starts measuring the calling thread.
    pub fn start() -> Meter {
        let (user, system) = cpu_of(libc::RUSAGE_THREAD);
        Meter {
            wall: Instant::now(),
            cpu: user + system,
            user,
        }
    }

    /// Wall time and thread CPU time since `start` (call from the same thread).
    pub fn stop(&self) -> (Duration, Duration) {
        (self.wall.elapsed(), thread_cpu().saturating_sub(self.cpu))
    }

    /// The thread's CPU time since `start` and its user-space part, from one reading
    /// (same thread).
    pub fn cpu_and_user(&self) -> (Duration, Duration) {
        let (user, system) = cpu_of(libc::RUSAGE_THREAD);
        (
            (user + system).saturating_sub(self.cpu),
            user.saturating_sub(self.user),
        )
    }
}

/// Parses a byte count: `65000`, `64k`/`64K` (×1024), `1m`/`1M` (×1024²), `1g`.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (digits, mult) = match t.as_bytes().last() {
        Some(b'k' | b'K') => (&t[..t.len() - 1], 1usize << 10),
        Some(b'm' | b'M') => (&t[..t.len() - 1], 1 << 20),
        Some(b'g' | b'G') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a byte count (examples: 65000, 64k, 1M)"))?;
    let n = n
        .checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))?;
    if n == 0 {
        return Err("a payload size must be at least 1 byte".into());
    }
    Ok(n)
}

/// Parses a duration in seconds, fractional allowed (`3`, `0.2`), strictly positive.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !v.is_finite() || v <= 0.0 || v > 86_400.0 {
        return Err(format!(
            "duration must be greater than 0 and at most 86400 seconds, got `{s}`"
        ));
    }
    Ok(v)
}

/// Whether `e` (anywhere in its chain) is a write to a closed pipe or socket (EPIPE): the
/// reader of our output went away. Rust ignores SIGPIPE, so such writes fail with EPIPE.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::BrokenPipe;
        }
        if let Some(j) = c.downcast_ref::<serde_json::Error>() {
            return j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe);
        }
        false
    })
}

/// Writes one line to stdout and flushes it; unlike `println!`, a closed stdout is an error
/// for the caller (see [`is_broken_pipe`]), not a panic.
pub fn out_line(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// `eprintln!` that never panics: with stderr closed (`uring bench 2>&1 | head -1`) the
/// line is lost, and nothing else happens.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use note;

/// Resolves `HOST:PORT` (a name, an IPv4 address, or `[IPv6]`) to its first address.
pub fn resolve(target: &str) -> Result<SocketAddr> {
    let mut addrs = target
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve `{target}` (expected HOST:PORT)"))?;
    addrs
        .next()
        .ok_or_else(|| anyhow!("`{target}` resolves to no address"))
}

/// A TCP connection to `target`, bounded in time; the error says where and why.
///
/// Nagle stays on (no `TCP_NODELAY`): the callers are bulk senders, whose back-to-back
/// sends coalesce better with it. Measured side by side with liburing's send-zerocopy
/// (which does not set it either), turning it on cost about 13% of zc-fixed throughput.
pub fn connect_tcp(target: &str) -> Result<TcpStream> {
    let addr = resolve(target)?;
    TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .with_context(|| format!("cannot connect to {addr}"))
}

/// Parses a listening address: `PORT` (all interfaces, IPv4 or with `v6` IPv6) or
/// `ADDR:PORT`.
pub fn listen_addr(spec: &str, v6: bool) -> Result<SocketAddr> {
    if let Ok(port) = spec.parse::<u16>() {
        let ip: std::net::IpAddr = if v6 {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        return Ok(SocketAddr::new(ip, port));
    }
    spec.parse::<SocketAddr>()
        .or_else(|_| resolve(spec))
        .with_context(|| format!("`{spec}` is neither a PORT nor an ADDR:PORT"))
}

/// Which network path datagrams or segments to `dest` take from this host (namespace):
///
/// - `loopback`: a loopback address, or one of our own (the kernel delivers locally);
/// - `drop`: the route leaves through an interface that is up but has no carrier (e.g. a
///   veth whose peer is down): the device drops every frame, so zero-copy pages are
///   released without the copy that local delivery makes (`scripts/drop_path.sh`);
/// - `remote`: any other interface (another host or namespace behind it).
///
/// Asks the kernel's routing decision through a connected UDP socket (no packet is sent)
/// and the interface flags through getifaddrs(3).
pub fn net_path(dest: SocketAddr) -> Result<&'static str> {
    if dest.ip().is_loopback() {
        return Ok("loopback");
    }
    let any: std::net::IpAddr = if dest.is_ipv6() {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    };
    let probe = std::net::UdpSocket::bind(SocketAddr::new(any, 0)).context("UDP socket")?;
    probe
        .connect(dest)
        .with_context(|| format!("no route to {dest}"))?;
    let src = probe.local_addr()?.ip();
    let ifs = interfaces()?;
    if ifs.iter().any(|i| i.addr == dest.ip()) {
        return Ok("loopback");
    }
    Ok(match ifs.iter().find(|i| i.addr == src) {
        Some(i) if i.flags & libc::IFF_LOOPBACK as u32 != 0 => "loopback",
        Some(i) if i.flags & libc::IFF_RUNNING as u32 == 0 => "drop",
        _ => "remote",
    })
}

/// An address of a local interface, with the interface's flags (IFF_*).
#[derive(Debug, Clone)]
struct IfAddr {
    addr: std::net::IpAddr,
    flags: u32,
}

/// The IPv4 and IPv6 addresses of this namespace's interfaces (getifaddrs(3)).
fn interfaces() -> Result<Vec<IfAddr>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid place for getifaddrs to store its list's address.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getifaddrs");
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: a non-null ifa_addr points to a sockaddr whose family says its type.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            let addr: Option<std::net::IpAddr> = match family {
                libc::AF_INET => {
                    // SAFETY: AF_INET: the sockaddr is a sockaddr_in.
                    let sin = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in>() };
                    Some(std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)).into())
                }
                libc::AF_INET6 => {
                    // SAFETY: AF_INET6: the sockaddr is a sockaddr_in6.
                    let sin6 = unsafe { &*ifa.ifa_addr.cast::<libc::sockaddr_in6>() };
                    Some(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr).into())
                }
                _ => None,
            };
            if let Some(addr) = addr {
                out.push(IfAddr {
                    addr,
                    flags: ifa.ifa_flags,
                });
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once; no node is used
    // after this.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// A TCP listener on `addr`; the error says where and why.
pub fn listen_tcp(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))
}

/// Sets SO_RCVTIMEO (also bounds `accept` on Linux) so that no wait is unbounded.
pub fn set_recv_timeout(fd: impl AsFd, timeout: Duration) -> Result<()> {
    rustix::net::sockopt::set_socket_timeout(fd, rustix::net::sockopt::Timeout::Recv, Some(timeout))
        .context("setsockopt(SO_RCVTIMEO)")
}

/// `bytes` over `secs` in MB/s (10^6 bytes per second); 0 for an empty interval.
pub fn mb_per_s(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 / MB / secs
    } else {
        0.0
    }
}

/// CPU seconds per GB moved; `None` when nothing moved.
pub fn cpu_per_gb(cpu: Duration, bytes: u64) -> Option<f64> {
    (bytes > 0).then(|| cpu.as_secs_f64() / (bytes as f64 / GB))
}

/// Fails with a clear message if `size` exceeds the UDP payload maximum of the family.
pub fn check_udp_size(size: usize, v6: bool) -> Result<()> {
    let max = if v6 { UDP_MAX_V6 } else { UDP_MAX_V4 };
    if size > max {
        bail!(
            "payload size {size} exceeds the UDP maximum of {max} bytes over {}",
            if v6 { "IPv6" } else { "IPv4" }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes_and_refuse_zero() {
        assert_eq!(parse_size("65000"), Ok(65000));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("0").unwrap_err().contains("at least 1 byte"));
        assert!(parse_size("abc").is_err());
        assert!(parse_size("-5").is_err());
    }

    #[test]
    fn seconds_must_be_positive_and_finite() {
        assert_eq!(parse_seconds("0.2"), Ok(0.2));
        assert!(parse_seconds("86400").is_ok());
        let zero = parse_seconds("0").unwrap_err();
        assert!(zero.contains("greater than 0 and at most 86400"), "{zero}");
        assert!(parse_seconds("86400.5").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("nan").is_err());
        assert!(parse_seconds("inf").is_err());
    }

    #[test]
    fn broken_pipe_is_recognized_through_context_and_json() {
        let io = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = anyhow::Error::new(io).context("writing the output");
        assert!(is_broken_pipe(&e));
        struct Closed;
        impl std::io::Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let j = serde_json::to_writer(Closed, &[1, 2, 3]).unwrap_err();
        assert!(is_broken_pipe(&anyhow::Error::new(j)));
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(!is_broken_pipe(&anyhow::Error::new(other)));
        assert!(!is_broken_pipe(&anyhow!("broken pipe, said as text only")));
    }

    #[test]
    fn loopback_and_own_addresses_are_the_loopback_path() {
        let lo: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(net_path(lo).unwrap(), "loopback");
        let lo6: SocketAddr = "[::1]:9".parse().unwrap();
        assert_eq!(net_path(lo6).unwrap(), "loopback");
        let ifs = interfaces().unwrap();
        assert!(ifs.iter().any(|i| i.addr.is_loopback()), "{ifs:?}");
    }

    #[test]
    fn pattern_buffer_is_aligned_and_filled() {
        let b = AlignedBuf::pattern(100).unwrap();
        assert_eq!(b.as_ptr() as usize % 4096, 0);
        assert_eq!(&b[..3], b"abc");
        assert_eq!(b[26], b'a');
    }

    #[test]
    fn udp_limits_per_family() {
        assert!(check_udp_size(65_507, false).is_ok());
        assert!(check_udp_size(65_508, false).is_err());
        assert!(check_udp_size(65_527, true).is_ok());
    }

    #[test]
    fn thread_cpu_advances() {
        let m = Meter::start();
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let (wall, cpu) = m.stop();
        assert!(wall >= Duration::from_millis(30));
        assert!(cpu > Duration::ZERO, "{x}");
        // A loop in user space: user time, part of the CPU time of the same reading.
        let (cpu, user) = m.cpu_and_user();
        assert!(user > Duration::ZERO && user <= cpu, "{user:?} of {cpu:?}");
    }
}
