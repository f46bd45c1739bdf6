//! The seed scenario: accept and connect through the ring, a zero-copy send linked to a
//! recv, and both completions of the zero-copy send printed (the first with the byte count
//! and IORING_CQE_F_MORE, then the IORING_CQE_F_NOTIF notification). Completions are
//! matched by user_data and flags, never by position.

use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use rustix::net::{AddressFamily, SocketType};
use uring::sys::{IoringSetupFlags, IOSQE_IO_LINK};
use uring::{Cqe, IoUring, SockAddr, Sqe};

const ACCEPT: u64 = 0xaaaaaaaa;
const CONNECT: u64 = 0xcccccccc;
const SEND: u64 = 0xeeeeeeee;
const RECV: u64 = 0xffffffff;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut ring = IoUring::init(16, IoringSetupFlags::empty())?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = SockAddr::from(listener.local_addr()?);
    let client = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None)?;

    // SAFETY: `addr` outlives both completions, reaped right below.
    unsafe {
        ring.accept(
            ACCEPT,
            listener.as_raw_fd(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            uring::sys::SocketFlags::empty(),
        )?;
        ring.connect(CONNECT, client.as_raw_fd(), addr.as_ptr(), addr.len())?;
    }
    ring.submit()?;
    let mut server = None;
    for _ in 0..2 {
        let cqe = ring.copy_cqe()?;
        match cqe.user_data {
            ACCEPT => {
                let fd = cqe.result()? as i32;
                // SAFETY: a fresh fd from accept, owned from here on.
                server = Some(unsafe { OwnedFd::from_raw_fd(fd) });
            }
            CONNECT => {
                cqe.result()?;
            }
            _ => return Err(format!("unexpected completion {cqe:?}").into()),
        }
    }
    let server = server.ok_or("no accept completion")?;

    let buffer_send: Vec<u8> = (0..15).collect();
    let mut buffer_recv = [0u8; 10];
    // SAFETY: both buffers outlive every completion below (the send buffer until its
    // notification).
    unsafe {
        ring.send_zc(
            SEND,
            client.as_raw_fd(),
            &buffer_send,
            uring::sys::SendFlags::empty(),
            uring::sys::IoringSendFlags::empty(),
        )?
        .add_flags(IOSQE_IO_LINK)?;
        let mut recv = Sqe::default();
        recv.prep_recv(
            server.as_raw_fd(),
            &mut buffer_recv,
            uring::sys::RecvFlags::empty(),
        );
        recv.user_data = RECV;
        ring.push(&recv)?;
    }
    println!(
        "submitted {} SQEs: send_zc (linked) and recv",
        ring.submit()?
    );

    let (mut first, mut notif, mut recv) = (None::<Cqe>, None::<Cqe>, None::<Cqe>);
    while first.is_none() || recv.is_none() || (first.is_some_and(|c| c.more()) && notif.is_none())
    {
        let cqe = ring.copy_cqe()?;
        match (cqe.user_data, cqe.notif()) {
            (SEND, false) => first = Some(cqe),
            (SEND, true) => notif = Some(cqe),
            (RECV, _) => recv = Some(cqe),
            _ => return Err(format!("unexpected completion {cqe:?}").into()),
        }
    }
    let first = first.unwrap();
    println!(
        "send_zc first completion: user_data={:#x} res={} flags={:?} (more={})",
        first.user_data,
        first.res,
        first.flags(),
        first.more()
    );
    if let Some(n) = notif {
        println!(
            "send_zc notification:     user_data={:#x} res={} flags={:?} (notif={})",
            n.user_data,
            n.res,
            n.flags(),
            n.notif()
        );
    }
    let recv = recv.unwrap();
    println!(
        "recv: res={} data={:?}",
        recv.res,
        &buffer_recv[..recv.result()? as usize]
    );
    if buffer_recv[..] != buffer_send[..10] {
        return Err("received bytes differ from the sent ones".into());
    }
    // Only now, after the notification, may the send buffer go.
    drop(buffer_send);
    Ok(())
}
