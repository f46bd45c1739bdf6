//! The seed scenario, end to end: accept, connect, send_zc, recv.
mod common;

use uring::sys::IoringSetupFlags;
use uring::IoUring;

#[test]
fn harness_connects_through_the_ring() {
    let mut ring = IoUring::init(16, IoringSetupFlags::empty()).unwrap();
    let h = common::socket_test_harness(&mut ring);
    let msg = b"ping";
    rustix::io::write(&h.client, msg).unwrap();
    let mut got = [0u8; 4];
    rustix::io::read(&h.server, &mut got).unwrap();
    assert_eq!(&got, msg);
}
