//! [`SockAddr`]: a socket address in the kernel's layout, for operations that take a
//! `sockaddr` pointer (connect, accept, bind, sendmsg's `msg_name`, send's `addr2`).

use core::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use linux_raw_sys::net::{
    in6_addr, in_addr, sockaddr, sockaddr_in, sockaddr_in6, AF_INET, AF_INET6,
};

/// A socket address as the kernel reads and writes it: storage for any family and the
/// length in use. Converts from and to [`std::net::SocketAddr`].
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

    /// The address as a std `SocketAddr`, for IPv4 and IPv6.
    pub fn as_socket_addr(&self) -> Option<SocketAddr> {
        match u32::from(self.family()) {
            AF_INET if self.len as usize >= size_of::<sockaddr_in>() => {
                // SAFETY: family and length say the storage holds a sockaddr_in, and the
                // storage is aligned for any sockaddr.
                let a = unsafe { &*(self.as_ptr() as *const sockaddr_in) };
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(a.sin_port),
                )))
            }
            AF_INET6 if self.len as usize >= size_of::<sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let a = unsafe { &*(self.as_ptr() as *const sockaddr_in6) };
                // SAFETY: in6_addr is a union of byte/word views of the same 16 bytes.
                let octets = unsafe { a.sin6_addr.in6_u.u6_addr8 };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(octets),
                    u16::from_be(a.sin6_port),
                    u32::from_be(a.sin6_flowinfo),
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

impl From<SocketAddr> for SockAddr {
    fn from(addr: SocketAddr) -> Self {
        let mut out = SockAddr::default();
        match addr {
            SocketAddr::V4(v4) => {
                let sin = sockaddr_in {
                    sin_family: AF_INET as u16,
                    sin_port: v4.port().to_be(),
                    sin_addr: in_addr {
                        s_addr: u32::from(*v4.ip()).to_be(),
                    },
                    __pad: [0; 8],
                };
                // SAFETY: the storage is larger than and aligned for sockaddr_in.
                unsafe { (out.as_mut_ptr() as *mut sockaddr_in).write(sin) };
                out.len = size_of::<sockaddr_in>() as u32;
            }
            SocketAddr::V6(v6) => {
                let mut sin6 = sockaddr_in6 {
                    sin6_family: AF_INET6 as u16,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo().to_be(),
                    // SAFETY: plain bytes; set below.
                    sin6_addr: unsafe { core::mem::zeroed::<in6_addr>() },
                    sin6_scope_id: v6.scope_id(),
                };
                sin6.sin6_addr.in6_u.u6_addr8 = v6.ip().octets();
                // SAFETY: the storage is larger than and aligned for sockaddr_in6.
                unsafe { (out.as_mut_ptr() as *mut sockaddr_in6).write(sin6) };
                out.len = size_of::<sockaddr_in6>() as u32;
            }
        }
        out
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
}
