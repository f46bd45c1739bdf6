//! scripts/drop_path.sh: UDP through a veth end whose peer is down, inside a namespace of
//! our own. The device drops the frames, so zero-copy pages are released uncopied: every
//! zero-copy mode must report a copied share of 0 there, and plain send must work too.
//! Runs where `ip netns` is permitted; elsewhere prints one `SKIP:` line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{netns_unavailable, run, text};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/drop_path.sh")
}

/// A namespace tag of this test process's own (`URING_DROP_TAG`), unique among the runs
/// of this process and those of other processes (the PID), so that the check that the
/// script removed its namespace looks at that one only.
fn own_tag() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("t{}x{n}", std::process::id() % 10_000_000)
}

/// `uring bench ARGS` inside the drop path; its JSON document, and the namespace's name.
fn bench_in_drop_path(args: &[&str]) -> (serde_json::Value, String) {
    let tag = own_tag();
    let out = run(
        Command::new("bash")
            .env("URING_DROP_TAG", &tag)
            .arg(script())
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_uring"))
            .arg("bench")
            .args(args)
            .arg("--json"),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", text(&out.stdout)));
    (v, format!("uring-drop-{tag}"))
}

/// Frames were sent in every cell; zero-copy cells notified and none was copied.
fn check_drop_cells(v: &serde_json::Value, modes: &[&str], sizes: &[u64]) {
    assert_eq!(v["transport"], "udp", "{v:#}");
    assert_eq!(v["path"], "drop", "{v:#}");
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), modes.len() * sizes.len(), "{v:#}");
    for m in modes {
        for s in sizes {
            let c = common::cell(v, m, *s);
            let requests = c["requests"].as_u64().unwrap();
            let sent = c["bytes_sent"].as_u64().unwrap();
            assert!(requests > 0, "{c}");
            assert!(sent >= *s && sent % s == 0, "datagrams are sent whole: {c}");
            assert!(
                c["bytes_received"].is_null(),
                "no receiver on the drop path: {c}"
            );
            assert!(c["mb_per_s"].as_f64().unwrap() > 0.0, "{c}");
            let notifs = c["zc_notifs"].as_u64().unwrap();
            let copied = c["zc_copied"].as_u64().unwrap();
            assert_eq!(copied, 0, "the drop path copied zero-copy sends: {c}");
            if *m == "send" {
                assert_eq!(notifs, 0, "{c}");
                assert!(c["copied_share"].is_null(), "{c}");
            } else {
                // `auto` measures both paths at every size where the kernel does not
                // report copying (on this path, always), zero-copy first: it notified.
                assert!(notifs > 0, "{c}");
                assert_eq!(c["copied_share"].as_f64(), Some(0.0), "{c}");
            }
        }
    }
}

#[test]
fn drop_path_zero_copy_is_not_copied() {
    if let Some(reason) = netns_unavailable() {
        eprintln!("SKIP: drop_path_zero_copy_is_not_copied: {reason}");
        return;
    }
    let modes = ["send", "zc", "zc-fixed", "sendmsg-zc", "auto"];
    let (v, first_ns) = bench_in_drop_path(&[
        "--udp",
        "--to",
        "198.18.2.2:9",
        "--mode",
        &modes.join(","),
        "--size",
        "65000,16000",
        "--duration",
        "0.2",
    ]);
    check_drop_cells(&v, &modes, &[65000, 16000]);
    // The same through the safe layer (sendmsg-zc: datagrams to the peer's address).
    let safe = ["send", "zc", "zc-fixed", "sendmsg-zc"];
    let (v, second_ns) = bench_in_drop_path(&[
        "--udp",
        "--to",
        "198.18.2.2:9",
        "--api",
        "safe",
        "--mode",
        &safe.join(","),
        "--size",
        "65000",
        "--duration",
        "0.2",
    ]);
    check_drop_cells(&v, &safe, &[65000]);
    assert!(v["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["api"] == "safe"));
    // The script removed its namespaces (those of concurrent runs may be listed).
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = text(&left.stdout);
    for ns in [first_ns, second_ns] {
        assert!(
            !left.split_whitespace().any(|word| word == ns),
            "{ns} is left: {left}"
        );
    }
}

#[test]
fn drop_path_table_names_the_path_and_the_command_status_passes_through() {
    if let Some(reason) = netns_unavailable() {
        eprintln!(
            "SKIP: drop_path_table_names_the_path_and_the_command_status_passes_through: {reason}"
        );
        return;
    }
    let out = run(
        Command::new("bash").arg(script()).arg("--").args([
            env!("CARGO_BIN_EXE_uring"),
            "bench",
            "--udp",
            "--to",
            "198.18.2.2:9",
            "--mode",
            "zc-fixed",
            "--size",
            "1400",
            "--duration",
            "0.1",
        ]),
        Duration::from_secs(60),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("to 198.18.2.2:9 udp/ipv4 zc-fixed size 1400"))
        .unwrap_or_else(|| panic!("no result line in:\n{stdout}"));
    assert!(line.contains("copied 0.0%, path drop"), "{line}");
    // The command's exit status is the script's; the environment names the destination.
    let out = run(
        Command::new("bash").arg(script()).args([
            "--",
            "sh",
            "-c",
            "echo \"$URING_DROP_DEST\"; exit 7",
        ]),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "198.18.2.2");
}
