//! The awaitable zero-copy sender against tokio's own `write_all`, on the same socket type
//! (loopback TCP), in the same run: alternating rounds, the median of per-round ratios.
//!
//! ```text
//! cargo bench -p uring-zc --features tokio --bench tokio_zc [-- ROUNDS MIB SIZE...]
//! ```
//!
//! Each round streams MIB MiB (default 256) in buffers of SIZE bytes (default 65536 and
//! 1048576) from one task to a tokio reader task that discards them, once with
//! `write_all` (one buffer, reused) and once with `AsyncZcSender` under each policy
//! (buffers recycled as they come back), in alternating order. The peer is tokio's
//! `write_all`; the ratio is ours / peer, higher is faster. On loopback the kernel copies
//! zero-copy data anyway, so this measures what the sender costs, not what zero-copy
//! saves on a NIC.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uring::zc::tokio::AsyncDriver;
use uring::zc::{Config, DriverConfig, Policy};

async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
    (c.unwrap(), s.unwrap().0)
}

fn sink(mut s: TcpStream) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        while let Ok(k) = s.read(&mut buf).await {
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        n
    })
}

async fn write_all(total: u64, size: usize) -> Duration {
    let (mut c, s) = pair().await;
    let reader = sink(s);
    let buf = vec![0x5Au8; size];
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        c.write_all(&buf).await.unwrap();
        sent += size as u64;
    }
    c.shutdown().await.unwrap();
    drop(c);
    assert_eq!(reader.await.unwrap(), sent);
    start.elapsed()
}

async fn zc(driver: &AsyncDriver, policy: Policy, total: u64, size: usize) -> Duration {
    let (c, s) = pair().await;
    let reader = sink(s);
    let sender = driver
        .sender(c.into_std().unwrap(), Config::default().policy(policy))
        .unwrap();
    let mut spare: Vec<Vec<u8>> = (0..16).map(|_| vec![0x5Au8; size]).collect();
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total {
        let buf = match spare.pop() {
            Some(b) => b,
            None => sender
                .next_completion()
                .await
                .unwrap()
                .expect("in flight")
                .buffer
                .into_vec()
                .unwrap(),
        };
        sender.send(buf).await.unwrap();
        sent += size as u64;
        for c in sender.completions().unwrap() {
            spare.push(c.buffer.into_vec().unwrap());
        }
    }
    sender.flush().await.unwrap();
    let elapsed = start.elapsed();
    drop(sender.close().await);
    assert_eq!(reader.await.unwrap(), sent);
    elapsed
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5);
    let mib: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let sizes: Vec<usize> = if args.len() > 2 {
        args[2..].iter().filter_map(|a| a.parse().ok()).collect()
    } else {
        vec![65536, 1 << 20]
    };
    let total = mib << 20;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let driver = AsyncDriver::new(DriverConfig::default()).unwrap();
        let policies = [
            ("never", Policy::Never),
            ("adaptive", Policy::Adaptive),
            ("always", Policy::Always),
        ];
        println!(
            "tokio_zc: {mib} MiB per run, {rounds} alternating rounds; ratio = AsyncZcSender / tokio write_all (MB/s), median of per-round ratios [min, max]"
        );
        for &size in &sizes {
            let mut peer = Vec::new();
            let mut ratios = vec![Vec::new(); policies.len()];
            let mut ours = vec![Vec::new(); policies.len()];
            for round in 0..rounds {
                // Alternate who goes first, so drift in the machine's load cancels out.
                let first_peer = round % 2 == 0;
                let mut p = Duration::ZERO;
                if first_peer {
                    p = write_all(total, size).await;
                }
                let mut mine = Vec::new();
                for &(_, policy) in &policies {
                    mine.push(zc(&driver, policy, total, size).await);
                }
                if !first_peer {
                    p = write_all(total, size).await;
                }
                let peer_mbs = total as f64 / p.as_secs_f64() / 1e6;
                peer.push(peer_mbs);
                for (i, d) in mine.iter().enumerate() {
                    let mbs = total as f64 / d.as_secs_f64() / 1e6;
                    ours[i].push(mbs);
                    ratios[i].push(mbs / peer_mbs);
                }
            }
            println!("size {size}: write_all {:.0} MB/s (median)", median(peer.clone()));
            for (i, (name, _)) in policies.iter().enumerate() {
                let r = &ratios[i];
                let (lo, hi) = r
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
                println!(
                    "  {name:>8}: {:.0} MB/s, ratio {:.3} [{lo:.3}, {hi:.3}]",
                    median(ours[i].clone()),
                    median(r.clone())
                );
            }
        }
    });
}
