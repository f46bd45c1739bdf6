//! Output into a closed pipe (`uring probe --json | head -1`): every subcommand that prints
//! ends quietly with status 0, no error message, no panic.
//!
//! The pipe's read end is closed before the child starts, so its very first write fails
//! with EPIPE, whatever the size of the output and however fast the child is.

mod common;

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{finish, port_of, random_file, run, scratch, text, uring, Lines};

/// The write end of a pipe whose read end is already closed.
fn closed_pipe() -> Stdio {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe(2) to fill.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe: {}", std::io::Error::last_os_error());
    // SAFETY: pipe(2) succeeded: both fds are open and owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

fn into_closed_pipe(cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    finish(child, Duration::from_secs(120))
}

fn assert_quiet_success(args: &[&str], out: &Output) {
    let err = text(&out.stderr);
    assert!(
        out.status.success(),
        "uring {args:?} into a closed pipe: {:?}, stderr: {err}",
        out.status
    );
    assert!(!err.contains("error"), "uring {args:?}: {err}");
    assert!(!err.contains("panicked"), "uring {args:?}: {err}");
}

#[test]
fn every_printing_subcommand_ends_quietly_on_a_closed_stdout() {
    let cases: [&[&str]; 7] = [
        &["probe"],
        &["probe", "--json"],
        &["bench", "nop", "--ops", "1000", "--batch", "8"],
        &[
            "bench",
            "--mode",
            "send",
            "--size",
            "1400",
            "--duration",
            "0.1",
        ],
        &[
            "bench",
            "--mode",
            "send",
            "--size",
            "1400",
            "--duration",
            "0.1",
            "--json",
        ],
        &["bench", "--listen", "127.0.0.1:0", "--once"],
        &[
            "bench",
            "--udp",
            "--to",
            "127.0.0.1:9",
            "--mode",
            "send",
            "--size",
            "1400",
            "--duration",
            "0.1",
        ],
    ];
    for args in cases {
        let out = into_closed_pipe(uring().args(args));
        assert_quiet_success(args, &out);
    }
}

#[test]
fn recv_to_a_closed_stdout_ends_quietly() {
    let dir = scratch("recv_to_a_closed_stdout_ends_quietly");
    let src = dir.join("src.bin");
    random_file(&src, 300_000, 3);
    let mut recv = uring()
        .args(["recv", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recv");
    let mut lines = Lines::stderr(&mut recv);
    let port = port_of(&lines.find("listening on", Duration::from_secs(20)));
    // The sender may see its peer go away mid-transfer; only the receiver is checked here.
    let _ = run(
        uring().args(["send", src.to_str().unwrap(), &format!("127.0.0.1:{port}")]),
        Duration::from_secs(60),
    );
    let status = common::wait_bounded(&mut recv, Duration::from_secs(60));
    let rest = lines.rest(Duration::from_secs(5)).join("\n");
    assert!(status.success(), "recv: {status:?}: {rest}");
    assert!(!rest.contains("error"), "{rest}");
    assert!(!rest.contains("panicked"), "{rest}");
}

#[test]
fn closed_stdout_and_stderr_end_quietly_too() {
    // `uring bench 2>&1 | head -1`: the progress lines and notes go into a closed pipe as
    // well; they are lost, and the run still ends with status 0, never a panic (101).
    let cases: [&[&str]; 3] = [
        &["probe", "--json"],
        &[
            "bench",
            "--mode",
            "send",
            "--size",
            "1400",
            "--duration",
            "0.1",
        ],
        &[
            "bench",
            "--api",
            "safe",
            "--mode",
            "send,zc",
            "--size",
            "4096",
            "--duration",
            "0.1",
        ],
    ];
    for args in cases {
        let mut child = uring()
            .args(args)
            .stdin(Stdio::null())
            .stdout(closed_pipe())
            .stderr(closed_pipe())
            .spawn()
            .expect("spawn");
        let status = common::wait_bounded(&mut child, Duration::from_secs(120));
        assert_eq!(status.code(), Some(0), "uring {args:?}: {status:?}");
    }
}
