//! scripts/two_hosts.sh: two network namespaces joined by veth, `bench --listen` in one and
//! `bench --to` from the other. Runs where `ip netns` is permitted; elsewhere prints one
//! `SKIP:` line.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{run, text};

/// Why namespaces cannot be made here, if they cannot.
fn netns_unavailable() -> Option<String> {
    let name = format!("uring-check-{}", std::process::id());
    match Command::new("ip").args(["netns", "add", &name]).output() {
        Err(e) => Some(format!("cannot run `ip`: {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "`ip netns add` not permitted: {}",
            text(&o.stderr).trim()
        )),
        Ok(_) => {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
            None
        }
    }
}

#[test]
fn two_hosts_script() {
    if let Some(reason) = netns_unavailable() {
        eprintln!("SKIP: two_hosts_script: {reason}");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/two_hosts.sh");
    let out = run(
        Command::new("bash")
            .arg(&script)
            .env("URING_BIN", env!("CARGO_BIN_EXE_uring"))
            .env("URING_DURATION", "0.5")
            .env("URING_PORT", "9123"),
        Duration::from_secs(120),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let sent = stdout
        .lines()
        .find(|l| l.starts_with("to 198.18.0.1:9123 tcp/ipv4 zc-fixed size 65000"))
        .unwrap_or_else(|| panic!("no sender line in:\n{stdout}"));
    assert!(sent.contains("MB/s"), "{sent}");
    // Another namespace behind a working veth: the remote path (which copies, as veth does).
    assert!(sent.contains(", path remote"), "{sent}");
    let conn = stdout
        .lines()
        .find(|l| l.starts_with("conn 1 from 198.18.0.2:"))
        .unwrap_or_else(|| panic!("no sink line in:\n{stdout}"));
    let bytes = |l: &str, pat: &str| -> u64 {
        l.split(pat)
            .next()
            .and_then(|p| p.rsplit(' ').next())
            .and_then(|b| b.parse().ok())
            .unwrap_or_else(|| panic!("no byte count in {l}"))
    };
    assert_eq!(bytes(sent, " bytes in"), bytes(conn, " bytes in"));
    // The script removed its namespaces.
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(
        !text(&left.stdout).contains("uring-a-"),
        "{}",
        text(&left.stdout)
    );
}
