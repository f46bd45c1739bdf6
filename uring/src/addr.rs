//! [`SockAddr`]: a socket address in the kernel's layout, for operations that take a
//! `sockaddr` pointer (connect, accept, bind, sendmsg's `msg_name`, send's `addr2`).

use core::mem::size_of;
use std::net::SocketAddr;

use linux_raw_sys::net::sockaddr;
use rustix::net::SocketAddrAny;

/// A socket address as the kernel reads and writes it: storage for any family and the
/// length in use. Converts from and to [`std::net::SocketAddr`] and rustix's
/// [`SocketAddrAny`] (any family, Unix addresses included), which does the encoding.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct SockAddr {
    storage: sockaddr,
    len: u32,
}

impl core::fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.as_socket_addr() {
            Some(a) => write!(f, "SockAddr({a})"),
            None => write!(f, "SockAddr(family {}, len {})", self.family(), self.len),
        }
    }
}

impl Default for SockAddr {
    /// An empty address with room for any family (to receive into, e.g. with accept).
    fn default() -> Self {
        SockAddr {
            // SAFETY: sockaddr storage is plain bytes; all-zero is a valid value.
            storage: unsafe { core::mem::zeroed() },
            len: size_of::<sockaddr>() as u32,
        }
    }
}

impl SockAddr {
    /// Pointer for the kernel to read.
    pub fn as_ptr(&self) -> *const sockaddr {
        &self.storage
    }

    /// Pointer for the kernel to write (accept, recvmsg).
    pub fn as_mut_ptr(&mut self) -> *mut sockaddr {
        &mut self.storage
    }

    /// The length in use (`socklen_t`).
    pub fn len(&self) -> u32 {
        self.len
    }

    /// Whether no address is stored (length zero).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The length field, for the kernel to update (accept's `addrlen`).
    pub fn len_mut(&mut self) -> &mut u32 {
        &mut self.len
    }

    /// The address family (`AF_*`).
    pub fn family(&self) -> u16 {
        // SAFETY: every sockaddr starts with the 16-bit family; storage is large enough.
        unsafe { *(self.as_ptr() as *const u16) }
    }

    /// The address as a std `SocketAddr`, for IPv4 and IPv6 (decoded by rustix).
    pub fn as_socket_addr(&self) -> Option<SocketAddr> {
        SocketAddr::try_from(self.to_any()?).ok()
    }

    /// The address as rustix's [`SocketAddrAny`], any family (Unix addresses included);
    /// `None` if the length is shorter than the family field or longer than the storage.
    pub fn to_any(&self) -> Option<SocketAddrAny> {
        let len = self.len as usize;
        if len < size_of::<u16>() || len > size_of::<sockaddr>() {
            return None;
        }
        // SAFETY: `len` bytes of the storage are initialized (the whole storage always
        // is), and the length is checked against rustix's bounds above, so `read` neither
        // panics nor reads past the storage.
        Some(unsafe { SocketAddrAny::read(self.as_ptr().cast(), self.len) })
    }
}

impl From<&SocketAddrAny> for SockAddr {
    fn from(addr: &SocketAddrAny) -> Self {
        let mut out = SockAddr::default();
        let len = (addr.addr_len() as usize).min(size_of::<sockaddr>());
        // SAFETY: rustix keeps the first `addr_len` bytes of its storage initialized; the
        // copy is bounded by both storages' sizes, which do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(
                addr.as_ptr().cast::<u8>(),
                out.as_mut_ptr().cast::<u8>(),
                len,
            )
        };
        out.len = len as u32;
        out
    }
}

impl From<SocketAddrAny> for SockAddr {
    fn from(addr: SocketAddrAny) -> Self {
        SockAddr::from(&addr)
    }
}

impl From<SocketAddr> for SockAddr {
    /// Encoded by rustix ([`SocketAddrAny`]'s conversion).
    fn from(addr: SocketAddr) -> Self {
        SockAddr::from(SocketAddrAny::from(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_v4_and_v6() {
        for s in ["127.0.0.1:8080", "[::1]:443", "[fe80::1%3]:9"] {
            let a: SocketAddr = s.parse().unwrap();
            let sa = SockAddr::from(a);
            assert_eq!(sa.as_socket_addr(), Some(a), "{s}");
        }
        assert_eq!(
            SockAddr::from("1.2.3.4:5".parse::<SocketAddr>().unwrap()).len(),
            16
        );
        assert_eq!(SockAddr::default().as_socket_addr(), None);
    }

    #[test]
    fn unix_addresses_go_through_rustix() {
        let unix = rustix::net::SocketAddrUnix::new("/tmp/uring-addr-test").unwrap();
        let sa = SockAddr::from(SocketAddrAny::from(unix.clone()));
        assert_eq!(sa.family(), linux_raw_sys::net::AF_UNIX as u16);
        assert_eq!(sa.as_socket_addr(), None); // not an IP address
        let back = rustix::net::SocketAddrUnix::try_from(sa.to_any().unwrap()).unwrap();
        assert_eq!(back, unix);
        let mut short = SockAddr::default();
        *short.len_mut() = 1; // shorter than the family field
        assert!(short.to_any().is_none());
        *short.len_mut() = 129; // longer than the storage
        assert!(short.to_any().is_none());
    }
}
