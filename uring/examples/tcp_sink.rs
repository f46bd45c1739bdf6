//! A plain TCP sink: accepts connections on 127.0.0.1:PORT and reads and discards
//! everything, one thread per connection, printing each connection's byte count and rate
//! and the receiving thread's CPU time to stderr when it closes. `tcp_sink PORT` (PORT 0: pick one; the port is printed on
//! stdout either way). `bench/compare.sh` points every sender it compares at one sink, so
//! that the receiving side, which bounds loopback throughput, is the same for all.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn drain(mut stream: TcpStream) {
    let mut buf = vec![0u8; 1 << 20];
    let start = Instant::now();
    let mut total = 0u64;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let cpu = cpu.tv_sec as f64 + cpu.tv_nsec as f64 / 1e9;
    eprintln!(
        "tcp_sink: {total} bytes in {secs:.3} s ({:.1} MB/s), receiver CPU {cpu:.3} s",
        total as f64 / secs / 1e6
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse()?,
        None => 0,
    };
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("{}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    for stream in listener.incoming() {
        match stream {
            Ok(s) => {
                std::thread::spawn(move || drain(s));
            }
            Err(e) => eprintln!("tcp_sink: accept: {e}"),
        }
    }
    Ok(())
}
