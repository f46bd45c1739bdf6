//! Bad arguments: a clear message on stderr, a non-zero exit, never a panic.

mod common;

use std::time::Duration;

use common::{assert_clean_failure, run, scratch, uring};

fn fails(args: &[&str], needle: &str) {
    let out = run(uring().args(args), Duration::from_secs(60));
    assert_clean_failure(&out, needle);
}

#[test]
fn unknown_mode() {
    fails(&["bench", "--mode", "turbo"], "invalid value 'turbo'");
}

#[test]
fn pin_to_cpus_this_process_may_not_use() {
    fails(
        &["bench", "--pin", "100000", "--duration", "0.1"],
        "--pin: CPU 100000 is not one this process may run on",
    );
    fails(
        &["bench", "--pin", "0,0,0", "--duration", "0.1"],
        "--pin takes one or two CPUs",
    );
    fails(
        &[
            "bench",
            "--pin",
            "0,0",
            "--to",
            "127.0.0.1:9",
            "--duration",
            "0.1",
        ],
        "a run with --to has none",
    );
}

#[test]
fn size_zero() {
    fails(&["bench", "--size", "0"], "at least 1 byte");
    fails(&["bench", "--size", "lots"], "not a byte count");
}

#[test]
fn udp_size_over_the_maximum() {
    fails(
        &["bench", "--udp", "--size", "65508", "--duration", "0.1"],
        "exceeds the UDP maximum of 65507",
    );
}

#[test]
fn bad_durations_and_inflight() {
    // The message states the range actually accepted: 0 itself is refused.
    fails(
        &["bench", "--duration", "0"],
        "duration must be greater than 0 and at most 86400 seconds, got `0`",
    );
    fails(
        &["bench", "--duration", "-3"],
        "greater than 0 and at most 86400",
    );
    fails(
        &["bench", "--duration", "86401"],
        "greater than 0 and at most 86400",
    );
    fails(&["bench", "--inflight", "0"], "--inflight");
    fails(&["bench", "--repeat", "0"], "--repeat");
    fails(&["bench", "--repeat", "many"], "--repeat");
}

#[test]
fn unreachable_port() {
    // Port 1 on loopback: nothing listens there, the connection is refused.
    fails(
        &["bench", "--to", "127.0.0.1:1", "--duration", "0.1"],
        "cannot connect to 127.0.0.1:1",
    );
    let dir = scratch("unreachable_port");
    let f = dir.join("f");
    std::fs::write(&f, b"hello").unwrap();
    fails(
        &["send", f.to_str().unwrap(), "127.0.0.1:1"],
        "cannot connect to 127.0.0.1:1",
    );
    fails(
        &["bench", "--to", "nowhere", "--duration", "0.1"],
        "cannot resolve",
    );
}

#[test]
fn missing_file_and_bad_listen_address() {
    fails(&["send", "/nonexistent/file", "127.0.0.1:9"], "cannot open");
    fails(&["recv", "not-a-port"], "neither a PORT nor an ADDR:PORT");
    fails(&["bench", "--listen", "127.0.0.1:0", "--udp"], "TCP sink");
    fails(&["bench", "--plot", "out.png", "--duration", "0.1"], "SVG");
}

#[test]
fn auto_mode_names_what_it_needs() {
    // `auto` is the safe layer's adaptive policy; it has no raw form.
    fails(&["bench", "--mode", "auto", "--api", "raw"], "no raw form");
    // The safe layer sends streams with send_zc; sendmsg_zc is for datagrams.
    fails(
        &[
            "bench",
            "--mode",
            "sendmsg-zc",
            "--api",
            "safe",
            "--duration",
            "0.1",
        ],
        "no safe form on TCP",
    );
}
