use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use uring::sys::IoringSetupFlags;
use uring::IoUring;

#[test]
fn nop_round_trip() {
    let mut ring = IoUring::init(4, IoringSetupFlags::empty()).unwrap();
    for round in 0..10u64 {
        for i in 0..4 {
            ring.nop(round * 10 + i).unwrap();
        }
        assert!(ring.nop(99).is_err());
        assert_eq!(ring.submit().unwrap(), 4);
        let mut cqes = [uring::Cqe::default(); 8];
        let n = ring.copy_cqes(&mut cqes, 4).unwrap();
        assert_eq!(n, 4);
    }
}

#[test]
fn send_zc_two_completions() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut s, _) = l.accept().unwrap();
    let mut ring = IoUring::init(8, IoringSetupFlags::empty()).unwrap();
    let buf = vec![7u8; 1000];
    unsafe {
        ring.send_zc(
            1,
            c.as_raw_fd(),
            &buf,
            uring::sys::SendFlags::empty(),
            uring::sys::IoringSendFlags::empty(),
        )
        .unwrap()
    };
    ring.submit().unwrap();
    let a = ring.copy_cqe().unwrap();
    assert_eq!(a.result(), Ok(1000));
    assert!(a.more());
    let b = ring.copy_cqe().unwrap();
    assert!(b.notif());
    let mut got = vec![0u8; 1000];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, buf);
    s.write_all(b"x").unwrap();
}

#[test]
fn probe_and_fixed_send_zc() {
    let mut ring = IoUring::init(8, IoringSetupFlags::empty()).unwrap();
    let probe = ring.get_probe().unwrap();
    assert!(probe.is_supported(uring::sys::io_uring_op::IORING_OP_SEND_ZC));
    assert!(probe.is_supported(uring::sys::io_uring_op::IORING_OP_NOP));
    let mut pool = vec![3u8; 4096];
    let iov = [uring::iovec {
        iov_base: pool.as_mut_ptr().cast(),
        iov_len: pool.len() as _,
    }];
    unsafe { ring.register_buffers(&iov).unwrap() };
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut s, _) = l.accept().unwrap();
    unsafe {
        ring.send_zc_fixed(
            5,
            c.as_raw_fd(),
            &pool[100..600],
            uring::sys::SendFlags::empty(),
            uring::sys::IoringSendFlags::empty(),
            0,
        )
        .unwrap()
    };
    ring.submit().unwrap();
    let a = ring.copy_cqe().unwrap();
    assert_eq!(a.result(), Ok(500));
    if a.more() {
        assert!(ring.copy_cqe().unwrap().notif());
    }
    let mut got = vec![0u8; 500];
    s.read_exact(&mut got).unwrap();
    assert!(got.iter().all(|&b| b == 3));
    // SAFETY: the fixed send has completed and notified (reaped above).
    unsafe { ring.unregister_buffers() }.unwrap();
    drop(pool);
}
