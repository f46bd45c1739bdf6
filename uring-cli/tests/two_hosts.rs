//! scripts/two_hosts.sh: two network namespaces joined by veth, `bench --listen` in one and
//! `bench --to` from the other. Needs `ip netns` (root and iproute2; scripts/test.sh installs
//! iproute2): where namespaces cannot be made, the test fails and says why — it never passes
//! without having moved bytes between the two namespaces.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{netns_unavailable, run, text};

/// The byte count just before `pat` in line `l` ("..., 1234 bytes in 0.5 s").
fn bytes_before(l: &str, pat: &str) -> u64 {
    l.split(pat)
        .next()
        .and_then(|p| p.rsplit(' ').next())
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {l}"))
}

#[test]
fn two_hosts_script() {
    if let Some(reason) = netns_unavailable() {
        panic!(
            "two_hosts_script needs network namespaces (run as root, with iproute2 installed; \
             scripts/test.sh installs it): {reason}"
        );
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

    // Both sides ran, in the namespaces the script announced.
    let ns = |host: &str| -> String {
        let prefix = format!("== host {host} (");
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .and_then(|r| r.split(',').next())
            .unwrap_or_else(|| panic!("no host {host} line in:\n{stdout}"))
            .to_string()
    };
    let (ns_a, ns_b) = (ns("A"), ns("B"));
    assert!(ns_a.starts_with("uring-a-"), "{ns_a}");
    assert!(ns_b.starts_with("uring-b-"), "{ns_b}");

    // The transfer really happened: the sender sent bytes, the sink in the other namespace
    // (connection from host B's address) received exactly as many, and the script agrees.
    let sent_line = stdout
        .lines()
        .find(|l| l.starts_with("to 198.18.0.1:9123 tcp/ipv4 zc-fixed size 65000"))
        .unwrap_or_else(|| panic!("no sender line in:\n{stdout}"));
    assert!(sent_line.contains("MB/s"), "{sent_line}");
    // Another namespace behind a working veth: the remote path (which copies, as veth does).
    assert!(sent_line.contains(", path remote"), "{sent_line}");
    let conn_line = stdout
        .lines()
        .find(|l| l.starts_with("conn 1 from 198.18.0.2:"))
        .unwrap_or_else(|| panic!("no sink line in:\n{stdout}"));
    let sent = bytes_before(sent_line, " bytes in");
    let received = bytes_before(conn_line, " bytes in");
    assert!(sent > 0, "nothing was sent: {sent_line}");
    assert_eq!(sent, received, "{sent_line}\n{conn_line}");
    assert!(
        stdout
            .lines()
            .any(|l| l == format!("== transfer verified: {sent} bytes from {ns_b} to {ns_a}")),
        "the script did not verify the transfer:\n{stdout}"
    );

    // The script removed the namespaces it made.
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = text(&left.stdout);
    for ns in [&ns_a, &ns_b] {
        assert!(
            !left.split_whitespace().any(|w| w == ns.as_str()),
            "{ns} left behind:\n{left}"
        );
    }
}
