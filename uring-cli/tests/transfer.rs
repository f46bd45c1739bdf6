//! `uring send` / `uring recv`: a 64 MiB round trip with identical SHA-256, interop with
//! `socat` both ways, and short transfers failing loudly.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;

use common::{
    assert_clean_failure, port_of, random_file, run, scratch, sha256, socat, text, uring, Lines,
};

const LIMIT: Duration = Duration::from_secs(120);

/// Starts `uring recv 127.0.0.1:0 FILE [extra]`; returns the child, its stderr lines, and
/// the port it listens on.
fn start_recv(out: &std::path::Path, extra: &[&str]) -> (std::process::Child, Lines, u16) {
    let mut child = uring()
        .args(["recv", "127.0.0.1:0", out.to_str().unwrap()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recv");
    let mut lines = Lines::stderr(&mut child);
    let port = port_of(&lines.find("listening on", Duration::from_secs(20)));
    (child, lines, port)
}

#[test]
fn send_recv_round_trip_64_mib() {
    let dir = scratch("send_recv_round_trip_64_mib");
    let src = dir.join("src.bin");
    let dst = dir.join("dst.bin");
    let len = 64usize << 20;
    random_file(&src, len, 0x5eed);
    let expect = len.to_string();
    let (mut recv, mut lines, port) = start_recv(&dst, &["--expect", &expect]);

    let out = run(
        uring().args(["send", src.to_str().unwrap(), &format!("127.0.0.1:{port}")]),
        LIMIT,
    );
    assert!(out.status.success(), "send: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("sent {len} bytes")), "{err}");
    assert!(err.contains("MB/s"), "{err}");

    let status = common::wait_bounded(&mut recv, LIMIT);
    let rest = lines.rest(Duration::from_secs(5)).join("\n");
    assert!(status.success(), "recv: {rest}");
    assert!(rest.contains(&format!("received {len} bytes")), "{rest}");
    assert_eq!(sha256(&src), sha256(&dst));
}

#[test]
fn socat_sends_to_uring_recv() {
    let socat = socat();
    let dir = scratch("socat_sends_to_uring_recv");
    let src = dir.join("src.bin");
    let dst = dir.join("dst.bin");
    random_file(&src, 16 << 20, 0xface);
    let (mut recv, mut lines, port) = start_recv(&dst, &[]);
    let out = run(
        std::process::Command::new(socat).args([
            "-u".to_string(),
            format!("OPEN:{}", src.display()),
            format!("TCP:127.0.0.1:{port}"),
        ]),
        LIMIT,
    );
    assert!(out.status.success(), "socat: {}", text(&out.stderr));
    let status = common::wait_bounded(&mut recv, LIMIT);
    let rest = lines.rest(Duration::from_secs(5)).join("\n");
    assert!(status.success(), "recv: {rest}");
    assert_eq!(sha256(&src), sha256(&dst));
}

#[test]
fn uring_send_to_socat_listener() {
    let socat = socat();
    let dir = scratch("uring_send_to_socat_listener");
    let src = dir.join("src.bin");
    let dst = dir.join("dst.bin");
    random_file(&src, 16 << 20, 0xbeef);
    let mut sink = std::process::Command::new(socat)
        .args([
            "-d".to_string(),
            "-d".to_string(),
            "-u".to_string(),
            "TCP-LISTEN:0,bind=127.0.0.1".to_string(),
            format!("CREATE:{}", dst.display()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn socat");
    let mut lines = Lines::stderr(&mut sink);
    let port = port_of(&lines.find("listening on", Duration::from_secs(20)));
    let out = run(
        uring().args(["send", src.to_str().unwrap(), &format!("127.0.0.1:{port}")]),
        LIMIT,
    );
    assert!(out.status.success(), "send: {}", text(&out.stderr));
    let status = common::wait_bounded(&mut sink, LIMIT);
    assert!(
        status.success(),
        "socat: {:?}",
        lines.rest(Duration::from_secs(2))
    );
    assert_eq!(sha256(&src), sha256(&dst));
}

#[test]
fn recv_fails_on_a_short_transfer() {
    let dir = scratch("recv_fails_on_a_short_transfer");
    let src = dir.join("src.bin");
    let dst = dir.join("dst.bin");
    random_file(&src, 1 << 20, 7);
    let (mut recv, mut lines, port) = start_recv(&dst, &["--expect", "2097152"]);
    let out = run(
        uring().args(["send", src.to_str().unwrap(), &format!("127.0.0.1:{port}")]),
        LIMIT,
    );
    assert!(out.status.success(), "send: {}", text(&out.stderr));
    let status = common::wait_bounded(&mut recv, LIMIT);
    let rest = lines.rest(Duration::from_secs(5)).join("\n");
    assert!(!status.success(), "{rest}");
    assert_eq!(status.code(), Some(1), "{rest}");
    assert!(
        rest.contains("short transfer: received 1048576 of 2097152"),
        "{rest}"
    );
    assert!(!rest.contains("panicked"), "{rest}");
}

#[test]
fn send_fails_when_the_peer_resets() {
    let dir = scratch("send_fails_when_the_peer_resets");
    let src = dir.join("src.bin");
    random_file(&src, 64 << 20, 9);
    // A peer that reads a little and closes with unread data: the kernel resets the
    // connection, and the sender must report a short transfer.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        drop(conn);
    });
    let out = run(
        uring().args(["send", src.to_str().unwrap(), &format!("127.0.0.1:{port}")]),
        LIMIT,
    );
    peer.join().unwrap();
    assert_clean_failure(&out, "short transfer");
    // Every notification was reaped (none leaked): the failed send's notification comes in
    // the same batch as its error and must not be dropped.
    assert!(
        !common::text(&out.stderr).contains("leaked"),
        "{}",
        common::text(&out.stderr)
    );
}

#[test]
fn recv_writes_to_stdout_without_a_file() {
    let dir = scratch("recv_writes_to_stdout_without_a_file");
    let src = dir.join("src.bin");
    random_file(&src, 300_000, 11);
    let mut recv = uring()
        .args(["recv", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recv");
    let mut lines = Lines::stderr(&mut recv);
    let port = port_of(&lines.find("listening on", Duration::from_secs(20)));
    let mut stdout = recv.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).map(|_| v)
    });
    let out = run(
        uring().args(["send", src.to_str().unwrap(), &format!("127.0.0.1:{port}")]),
        LIMIT,
    );
    assert!(out.status.success(), "send: {}", text(&out.stderr));
    let status = common::wait_bounded(&mut recv, LIMIT);
    assert!(status.success(), "{:?}", lines.rest(Duration::from_secs(2)));
    let got = reader.join().unwrap().expect("read stdout");
    assert_eq!(got, std::fs::read(&src).unwrap());
}

#[test]
fn recv_gives_up_waiting_for_a_connection() {
    let dir = scratch("recv_gives_up_waiting_for_a_connection");
    let dst = dir.join("dst.bin");
    // Nobody connects: the wait ends by itself, with a message that names the option.
    let out = run(
        uring().args([
            "recv",
            "127.0.0.1:0",
            dst.to_str().unwrap(),
            "--accept-timeout",
            "0.3",
        ]),
        LIMIT,
    );
    assert_clean_failure(&out, "no connection on 127.0.0.1:");
    let err = text(&out.stderr);
    assert!(err.contains("within 0.3 s (see --accept-timeout)"), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    fails_fast(
        &["recv", "127.0.0.1:0", "--accept-timeout", "0"],
        "greater than 0",
    );
}

#[test]
fn recv_help_states_the_default_accept_timeout() {
    let out = run(uring().args(["recv", "--help"]), LIMIT);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let help = text(&out.stdout);
    assert!(help.contains("--accept-timeout <SECS>"), "{help}");
    assert!(help.contains("[default: 30]"), "{help}");
}

/// A run that must fail without ever listening.
fn fails_fast(args: &[&str], needle: &str) {
    let out = run(uring().args(args), LIMIT);
    assert_clean_failure(&out, needle);
    let err = text(&out.stderr);
    assert!(
        !err.contains("listening on"),
        "listened before failing: {err}"
    );
}

#[test]
fn recv_checks_its_output_file_before_listening() {
    let dir = scratch("recv_checks_its_output_file_before_listening");
    let missing = dir.join("no-such-dir").join("out.bin");
    fails_fast(
        &["recv", "127.0.0.1:0", missing.to_str().unwrap()],
        &format!("cannot create {}", missing.display()),
    );
    fails_fast(
        &["recv", "127.0.0.1:0", dir.to_str().unwrap()],
        "it is a directory",
    );
}

#[test]
fn progress_never_garbles_a_piped_stderr() {
    // stderr is a pipe here: no bar is drawn (no carriage returns, no escape sequences),
    // only the plain lines, the final summary included.
    let dir = scratch("progress_never_garbles_a_piped_stderr");
    let src = dir.join("src.bin");
    let dst = dir.join("dst.bin");
    let len = 8usize << 20;
    random_file(&src, len, 0x9e);
    let expect = len.to_string();
    let (mut recv, mut lines, port) = start_recv(&dst, &["--expect", &expect]);
    let out = run(
        uring().args(["send", src.to_str().unwrap(), &format!("127.0.0.1:{port}")]),
        LIMIT,
    );
    assert!(out.status.success(), "send: {}", text(&out.stderr));
    let status = common::wait_bounded(&mut recv, LIMIT);
    let recv_err = lines.rest(Duration::from_secs(5));
    assert!(status.success(), "{recv_err:#?}");
    let send_err = text(&out.stderr);
    let send_err: Vec<&str> = send_err.lines().collect();
    assert_eq!(send_err.len(), 1, "{send_err:#?}");
    assert!(
        send_err[0].starts_with(&format!("sent {len} bytes in ")),
        "{send_err:#?}"
    );
    assert_eq!(recv_err.len(), 2, "{recv_err:#?}");
    assert!(recv_err[0].starts_with("listening on "), "{recv_err:#?}");
    assert!(
        recv_err[1].starts_with(&format!("received {len} bytes from ")),
        "{recv_err:#?}"
    );
    for l in send_err
        .iter()
        .copied()
        .chain(recv_err.iter().map(String::as_str))
    {
        assert!(!l.contains(['\r', '\x1b']), "terminal control in {l:?}");
    }
}

/// The path of `name` on PATH, if it is there.
fn on_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|dir| std::path::Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// The effective capability set (`CapEff`) in the text of a `/proc/PID/status`.
fn effective_caps(status: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .expect("CapEff in /proc/self/status")
}

/// `uring send` the way a normal user runs it: no CAP_IPC_LOCK and the usual 8 MiB
/// RLIMIT_MEMLOCK, to which registered buffers (and pages pinned by zero-copy sends) are
/// charged. The sender must fit its registered buffers to the limit (or do without) and
/// deliver every byte; it used to register 8 MiB and fail at once.
#[test]
fn send_without_cap_ipc_lock_under_an_8_mib_memlock_limit() {
    const TEST: &str = "send_without_cap_ipc_lock_under_an_8_mib_memlock_limit";
    const CAP_IPC_LOCK: u64 = 1 << 14;
    const CAP_SETPCAP: u64 = 1 << 8;
    let (Some(setpriv), Some(prlimit)) = (on_path("setpriv"), on_path("prlimit")) else {
        eprintln!("SKIP: {TEST}: setpriv or prlimit (util-linux) is not installed");
        return;
    };
    let own = effective_caps(&std::fs::read_to_string("/proc/self/status").unwrap());
    // `cmd` without CAP_IPC_LOCK (dropped from the bounding and inheritable sets, so that
    // no exec gets it back; that takes CAP_SETPCAP, and a process without it, a normal
    // user's, has no CAP_IPC_LOCK to drop: the probe below checks) and with an 8 MiB
    // RLIMIT_MEMLOCK, soft and hard.
    let reduced = |cmd: &[&std::ffi::OsStr]| {
        let mut c = if own & CAP_SETPCAP != 0 {
            let mut c = std::process::Command::new(&setpriv);
            c.args(["--bounding-set=-ipc_lock", "--inh-caps=-ipc_lock"])
                .arg(&prlimit);
            c
        } else {
            std::process::Command::new(&prlimit)
        };
        c.args(["--memlock=8388608:8388608", "--"]).args(cmd);
        c
    };
    // What a process started that way has: no CAP_IPC_LOCK, the 8 MiB limit.
    let probe = run(
        &mut reduced(&[
            "sh".as_ref(),
            "-c".as_ref(),
            "cat /proc/self/status /proc/self/limits".as_ref(),
        ]),
        LIMIT,
    );
    assert!(probe.status.success(), "{}", text(&probe.stderr));
    let probe = text(&probe.stdout);
    assert_eq!(effective_caps(&probe) & CAP_IPC_LOCK, 0, "{probe}");
    let limit = probe
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .expect("limits");
    assert_eq!(
        limit.split_whitespace().collect::<Vec<_>>()[3..],
        ["8388608", "8388608", "bytes"],
        "{limit}"
    );

    let dir = scratch(TEST);
    let src = dir.join("src.bin");
    let dst = dir.join("dst.bin");
    let len = 24usize << 20;
    random_file(&src, len, 0x10c4);
    let expect = len.to_string();
    let (mut recv, mut lines, port) = start_recv(&dst, &["--expect", &expect]);
    let target = format!("127.0.0.1:{port}");
    let out = run(
        &mut reduced(&[
            env!("CARGO_BIN_EXE_uring").as_ref(),
            "send".as_ref(),
            src.as_os_str(),
            target.as_ref(),
        ]),
        LIMIT,
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "send: {err}");
    assert!(err.contains(&format!("sent {len} bytes")), "{err}");
    // The sender saw the limit: it registered fewer buffers, or (if other processes of
    // the user had pinned the rest) none, saying why.
    assert!(
        err.contains("uring: note: ") || err.contains("RLIMIT_MEMLOCK (8388608 bytes)"),
        "{err}"
    );
    assert!(
        !err.contains("canceled") && !err.contains("panicked"),
        "{err}"
    );
    let status = common::wait_bounded(&mut recv, LIMIT);
    let rest = lines.rest(Duration::from_secs(5)).join("\n");
    assert!(status.success(), "recv: {rest}");
    assert_eq!(sha256(&src), sha256(&dst));
}
