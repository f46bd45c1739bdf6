//! The awaitable sender (`uring::zc::tokio`) under tokio's multi-threaded runtime: many
//! senders on one driver from tasks on every worker, tokio's own sockets converted in,
//! the budget, datagrams, cancelled sends. Every buffer must come back exactly once, and
//! every peer must read exactly the bytes sent.
#![cfg(feature = "tokio")]
#![forbid(unsafe_code)]

use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use uring::zc::tokio::{AsyncDriver, AsyncZcSender};
use uring::zc::{Config, DriverConfig, Policy, SendPath, ZcBuffer};

/// Upper bound of every wait: failing beats hanging.
const BOUND: Duration = Duration::from_secs(30);

fn pattern(i: u64) -> u8 {
    (i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

fn fill(buf: &mut [u8], at: u64) {
    for (k, b) in buf.iter_mut().enumerate() {
        *b = pattern(at + k as u64);
    }
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
    (c.unwrap(), s.unwrap().0)
}

/// Reads to EOF, checking every byte; returns how many.
async fn check_reader(mut s: TcpStream) -> u64 {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = tokio::time::timeout(BOUND, s.read(&mut buf))
            .await
            .expect("the peer waited too long")
            .unwrap();
        if n == 0 {
            return total;
        }
        for (k, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, pattern(total + k as u64), "byte {}", total + k as u64);
        }
        total += n as u64;
    }
}

/// Streams `total` bytes in buffers of `len`, recycling the buffers that come back (each
/// checked to be one of ours, whole); returns the number of completions.
async fn stream(sender: &AsyncZcSender, total: u64, len: usize, spare: usize) -> u64 {
    let mut free: Vec<Vec<u8>> = (0..spare).map(|_| vec![0u8; len]).collect();
    let (mut at, mut back, mut sent_bufs) = (0u64, 0u64, 0u64);
    while at < total {
        let mut buf = match free.pop() {
            Some(b) => b,
            None => {
                let c = sender
                    .next_completion()
                    .await
                    .unwrap()
                    .expect("buffers are in flight");
                assert_eq!(c.result, Ok(len), "seq {}", c.seq);
                back += 1;
                c.buffer.into_vec().expect("a Vec came back as a Vec")
            }
        };
        let n = len.min((total - at) as usize);
        buf.resize(n, 0);
        fill(&mut buf, at);
        at += n as u64;
        sender.send(buf).await.unwrap();
        sent_bufs += 1;
    }
    sender.flush().await.unwrap();
    for c in sender.completions().unwrap() {
        assert!(c.result.is_ok(), "seq {}: {:?}", c.seq, c.result);
        back += 1;
    }
    assert_eq!(back, sent_bufs, "every buffer back exactly once");
    back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_senders_on_one_driver_from_many_tasks() {
    let driver = AsyncDriver::new(DriverConfig::default()).unwrap();
    let mut tasks = Vec::new();
    let total = 4u64 << 20;
    for i in 0..8u32 {
        let (client, server) = tcp_pair().await;
        let policy = [Policy::Always, Policy::Never, Policy::Adaptive][i as usize % 3];
        let config = Config::default().policy(policy).depth(4);
        let sender = driver.sender(client.into_std().unwrap(), config).unwrap();
        let reader = tokio::spawn(check_reader(server));
        tasks.push(tokio::spawn(async move {
            let n = stream(&sender, total, 64 * 1024, 8).await;
            let stats = sender.stats().unwrap();
            assert_eq!(stats.buffers_returned, stats.buffers_submitted, "{stats:?}");
            assert_eq!(stats.bytes_completed, total, "{stats:?}");
            let closed = sender.close().await;
            assert_eq!(closed.pending, 0);
            drop(closed);
            (n, reader)
        }));
    }
    for t in tasks {
        let (n, reader) = tokio::time::timeout(BOUND, t).await.unwrap().unwrap();
        assert!(n >= total / (64 * 1024));
        assert_eq!(
            tokio::time::timeout(BOUND, reader).await.unwrap().unwrap(),
            total
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_holds_and_send_waits_without_blocking() {
    let driver = AsyncDriver::new(DriverConfig::default()).unwrap();
    let (client, server) = tcp_pair().await;
    small_sndbuf(&client);
    let budget = 256 * 1024;
    let config = Config::default()
        .policy(Policy::Always)
        .budget_bytes(budget);
    let sender = std::sync::Arc::new(driver.sender(client.into_std().unwrap(), config).unwrap());
    // Nobody reads yet: sends fill the budget, then the next one waits. Meanwhile this
    // task's thread stays free: a second task on the runtime makes progress.
    let watched = sender.clone();
    let ticker = tokio::spawn(async {
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        true
    });
    let writer = tokio::spawn(async move {
        let total = 8u64 << 20;
        let n = stream(&sender, total, 64 * 1024, 16).await;
        let stats = sender.stats().unwrap();
        assert!(
            stats.peak_bytes_in_flight <= budget as u64,
            "the budget holds: {stats:?}"
        );
        assert!(stats.would_block > 0, "sends had to wait: {stats:?}");
        drop(sender);
        (n, total)
    });
    assert!(ticker.await.unwrap());
    // The reader starts only once a send has waited for the budget (bounded): the wait is
    // then certain, not a race with the reader.
    for _ in 0..10_000 {
        if watched.stats().unwrap().would_block > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    drop(watched);
    let got = tokio::time::timeout(BOUND, check_reader(server))
        .await
        .unwrap();
    let (_, total) = writer.await.unwrap();
    assert_eq!(got, total);
}

fn small_sndbuf(s: &TcpStream) {
    rustix::net::sockopt::set_socket_send_buffer_size(s, 16 * 1024).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_send_gives_nothing_to_the_sender() {
    let driver = AsyncDriver::new(DriverConfig::default()).unwrap();
    let (client, server) = tcp_pair().await;
    let config = Config::default().policy(Policy::Always).max_buffers(1);
    let sender = driver.sender(client.into_std().unwrap(), config).unwrap();
    // One buffer fills the sender (max_buffers 1). The next send must wait; dropping its
    // future drops that buffer, never accepted.
    let mut first = vec![0u8; 1 << 20];
    fill(&mut first, 0);
    sender.send(first).await.unwrap();
    let second = {
        let mut b = vec![0u8; 10];
        fill(&mut b, 1 << 20);
        b
    };
    let raced = tokio::select! {
        biased;
        r = sender.send(second) => Some(r),
        () = std::future::ready(()) => None,
    };
    if raced.is_none() {
        let stats = sender.stats().unwrap();
        assert_eq!(
            stats.buffers_submitted, 1,
            "the dropped send accepted nothing"
        );
    }
    // The peer gets exactly the first buffer (and the second if it raced in).
    let reader = tokio::spawn(check_reader(server));
    sender.flush().await.unwrap();
    let back = sender.completions().unwrap();
    let expect: u64 = back.iter().map(|c| c.buffer.len() as u64).sum();
    assert!(back.iter().all(|c| c.result.is_ok()));
    drop(back);
    drop(sender);
    drop(driver);
    assert_eq!(
        tokio::time::timeout(BOUND, reader).await.unwrap().unwrap(),
        expect
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_to_an_address() {
    let driver = AsyncDriver::new(DriverConfig::default()).unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dest = peer.local_addr().unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let sender = driver
        .sender(
            sock.into_std().unwrap(),
            Config::default().policy(Policy::Always),
        )
        .unwrap();
    assert!(!sender.is_stream());
    let count = 32u64;
    let reader = tokio::spawn(async move {
        let mut seen = vec![false; count as usize];
        let mut buf = [0u8; 2048];
        for _ in 0..count {
            let (n, _) = tokio::time::timeout(BOUND, peer.recv_from(&mut buf))
                .await
                .expect("a datagram")
                .unwrap();
            assert_eq!(n, 1000);
            let seq = u64::from(buf[0]);
            assert!(
                buf[1..n].iter().all(|&b| b == buf[0]),
                "datagram {seq} intact"
            );
            seen[seq as usize] = true;
        }
        seen.iter().all(|&s| s)
    });
    for seq in 0..count {
        sender
            .send_to(ZcBuffer::from(vec![seq as u8; 1000]), dest)
            .await
            .unwrap();
    }
    sender.flush().await.unwrap();
    let back = sender.completions().unwrap();
    assert_eq!(back.len() as u64, count);
    assert!(back.iter().all(|c| c.result == Ok(1000)
        && c.path == Some(SendPath::ZeroCopy)
        && c.dest == Some(dest)));
    assert!(tokio::time::timeout(BOUND, reader).await.unwrap().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectored_messages_from_many_tasks_keep_their_order_and_paths() {
    let driver = AsyncDriver::new(DriverConfig::default()).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let (client, server) = tcp_pair().await;
        // A small budget: later messages must wait for room, without blocking the thread.
        let config = Config::default()
            .policy(Policy::Always)
            .budget_bytes(256 * 1024);
        let sender = driver.sender(client.into_std().unwrap(), config).unwrap();
        let reader = tokio::spawn(check_reader(server));
        tasks.push(tokio::spawn(async move {
            let mut at = 0u64;
            let mut paths = Vec::new();
            for k in 0..40usize {
                let mut parts = Vec::new();
                for len in [24 + k, 48 * 1024 + k * 512] {
                    let mut b = vec![0u8; len];
                    fill(&mut b, at);
                    at += len as u64;
                    parts.push(ZcBuffer::from(b));
                }
                sender.send_vectored(parts).await.unwrap();
                for c in sender.completions().unwrap() {
                    paths.push((c.buffer.len(), c.path));
                }
            }
            let closed = sender.close().await;
            assert_eq!(closed.pending, 0);
            paths.extend(closed.completions.iter().map(|c| (c.buffer.len(), c.path)));
            (at, paths, reader)
        }));
    }
    for t in tasks {
        let (at, paths, reader) = tokio::time::timeout(BOUND, t).await.unwrap().unwrap();
        assert_eq!(
            tokio::time::timeout(BOUND, reader).await.unwrap().unwrap(),
            at
        );
        assert_eq!(paths.len(), 80, "every part back once");
        for (len, path) in paths {
            if len < 4096 {
                assert_eq!(
                    path,
                    Some(SendPath::Plain(uring::zc::PlainReason::SmallPart))
                );
            } else {
                assert_eq!(path, Some(SendPath::ZeroCopy));
            }
        }
    }
}
